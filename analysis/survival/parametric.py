"""Parametric accelerated-failure-time models for exact, right-, left- and interval-censored times.

One likelihood covers every kind of observation (``lower == upper``: exact, ``upper = inf``:
right-censored, ``lower = 0``: left-censored, otherwise interval-censored), with the
parameterisation of R's ``survreg``: ``log T = X beta + sigma * W``. A mixture-cure option adds
a fraction that never has the event.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.survival._common import as_bounds, censoring_kinds, query_times, z_value

DISTRIBUTIONS = ("weibull", "loglogistic", "lognormal", "exponential")
Distribution = Literal["weibull", "loglogistic", "lognormal", "exponential"]
_LOG_HALF = float(np.log(0.5))
_LOG_SQRT_2PI = float(0.5 * np.log(2.0 * np.pi))
# Median of the standardised error W: extreme value (Weibull, exponential), logistic, normal.
_W_MEDIAN = {
    "weibull": float(np.log(np.log(2.0))),
    "exponential": float(np.log(np.log(2.0))),
    "loglogistic": 0.0,
    "lognormal": 0.0,
}
_W_MEAN = {"weibull": -float(np.euler_gamma), "exponential": -float(np.euler_gamma), "loglogistic": 0.0, "lognormal": 0.0}
_W_SD = {
    "weibull": float(np.pi / np.sqrt(6.0)),
    "exponential": float(np.pi / np.sqrt(6.0)),
    "loglogistic": float(np.pi / np.sqrt(3.0)),
    "lognormal": 1.0,
}


# --------------------------------------------------------------------------------------------
# Standardised error distributions: log S, log F, log f, g = d log f / dz, g' = dg / dz
# --------------------------------------------------------------------------------------------
def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurate at both ends (Maechler 2012)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    near = x > -np.log(2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[near] = np.log(-np.expm1(x[near]))
        out[~near] = np.log1p(-np.exp(x[~near]))
    return out


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _log_surv(dist: str, z: np.ndarray) -> np.ndarray:
    if dist in ("weibull", "exponential"):
        return -np.exp(z)
    if dist == "loglogistic":
        return -_softplus(z)
    return special.log_ndtr(-z)


def _log_cdf(dist: str, z: np.ndarray) -> np.ndarray:
    if dist in ("weibull", "exponential"):
        return _log1mexp(-np.exp(z))
    if dist == "loglogistic":
        return -_softplus(-z)
    return special.log_ndtr(z)


def _log_density(dist: str, z: np.ndarray) -> np.ndarray:
    if dist in ("weibull", "exponential"):
        return z - np.exp(z)
    if dist == "loglogistic":
        return z - 2.0 * _softplus(z)
    return -0.5 * z * z - _LOG_SQRT_2PI


def _score(dist: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g(z) = d log f / dz and its derivative g'(z), for finite z."""
    if dist in ("weibull", "exponential"):
        ez = np.exp(z)
        return 1.0 - ez, -ez
    if dist == "loglogistic":
        return -np.tanh(0.5 * z), -2.0 * np.exp(_log_density(dist, z))
    return -z, -np.ones_like(z)


def _log_interval_prob(dist: str, z_lower: np.ndarray, z_upper: np.ndarray) -> np.ndarray:
    """log(S(z_lower) - S(z_upper)) for z_lower < z_upper (either may be infinite), tail-stable."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_s_lower = _log_surv(dist, z_lower)
        log_s_upper = _log_surv(dist, z_upper)
        log_f_lower = _log_cdf(dist, z_lower)
        log_f_upper = _log_cdf(dist, z_upper)
        # Upper tail: difference of survival probabilities; lower tail: difference of CDFs.
        upper_tail = log_s_lower + _log1mexp(np.minimum(log_s_upper - log_s_lower, 0.0))
        lower_tail = log_f_upper + _log1mexp(np.minimum(log_f_lower - log_f_upper, 0.0))
    return np.where(log_s_lower < _LOG_HALF, upper_tail, lower_tail)


# --------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Design:
    """How covariates were coded, so a new covariate row can be coded the same way."""

    terms: tuple[str, ...]
    # (column, None) for numeric columns; (column, sorted levels) for categorical (first = reference)
    columns: tuple[tuple[str, tuple[Any, ...] | None], ...]

    def row(self, values: Any) -> np.ndarray:
        """Design row (with intercept) for one covariate row (dict, Series or one-row DataFrame)."""
        if values is None:
            return np.concatenate(([1.0], np.zeros(len(self.terms) - 1)))
        if isinstance(values, pd.DataFrame):
            if len(values) != 1:
                raise ValueError("give one covariate row")
            values = values.iloc[0]
        values = dict(values)
        x = [1.0]
        for column, levels in self.columns:
            if column not in values:
                raise ValueError(f"covariate row lacks column {column!r}")
            value = values[column]
            if levels is None:
                x.append(float(value))
                continue
            if value not in levels:
                raise ValueError(f"{column}={value!r} is not a level seen in the fit ({list(levels)})")
            x.extend(float(value == level) for level in levels[1:])
        return np.asarray(x, dtype=float)


def _design_matrix(covariates: Any, n: int) -> tuple[np.ndarray, _Design]:
    if covariates is None:
        return np.ones((n, 1)), _Design(terms=("(Intercept)",), columns=())
    frame = pd.DataFrame(covariates).reset_index(drop=True)
    if len(frame) != n:
        raise ValueError(f"covariates has {len(frame)} rows but there are {n} observations")
    columns = [np.ones(n)]
    terms = ["(Intercept)"]
    coding: list[tuple[str, tuple[Any, ...] | None]] = []
    for column in frame.columns:
        series = frame[column]
        if series.isna().any():
            rows = np.flatnonzero(series.isna().to_numpy())[:5].tolist()
            raise ValueError(f"covariate {column!r} has {int(series.isna().sum())} missing value(s) (positions {rows}...)")
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            columns.append(series.to_numpy(dtype=float))
            terms.append(str(column))
            coding.append((column, None))
        else:
            values = series.astype(object).to_numpy()
            levels = tuple(sorted(pd.unique(values)))
            if len(levels) < 2:
                raise ValueError(f"covariate {column!r} has a single level ({levels[0]!r}): it cannot be estimated")
            for level in levels[1:]:
                columns.append((values == level).astype(float))
                terms.append(f"{column}[{level}]")
            coding.append((column, levels))
    x = np.column_stack(columns)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"covariates are collinear (design of terms {terms} is rank deficient)")
    return x, _Design(terms=tuple(terms), columns=tuple(coding))


# --------------------------------------------------------------------------------------------
# Likelihood with analytic gradient and Hessian
# --------------------------------------------------------------------------------------------
@dataclass
class _Likelihood:
    dist: str
    x: np.ndarray
    log_lower: np.ndarray  # -inf where lower == 0
    log_upper: np.ndarray  # +inf where upper == inf
    exact: np.ndarray
    cure: bool
    fit_scale: bool
    weight: np.ndarray | None = None  # number of identical observations each row stands for

    def __post_init__(self) -> None:
        self.p = self.x.shape[1]
        if self.weight is None:
            self.weight = np.ones(len(self.log_lower))
        self.x_exact = self.x[self.exact]
        self.y_exact = self.log_lower[self.exact]
        self.w_exact = self.weight[self.exact]
        censored = ~self.exact
        self.right = censored & np.isinf(self.log_upper)
        # Right-censored rows go through the cure term when cure=True; otherwise they are intervals.
        interval = censored & ~self.right if self.cure else censored
        self.x_interval = self.x[interval]
        self.lo_interval = self.log_lower[interval]
        self.hi_interval = self.log_upper[interval]
        self.w_interval = self.weight[interval]
        self.x_right = self.x[self.right] if self.cure else self.x[:0]
        self.lo_right = self.log_lower[self.right] if self.cure else self.log_lower[:0]
        self.w_right = self.weight[self.right] if self.cure else self.weight[:0]
        self.n_not_right = float(self.weight[~self.right].sum()) if self.cure else 0.0
        self.n_params = self.p + int(self.fit_scale) + int(self.cure)

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float, float | None]:
        beta = theta[: self.p]
        log_scale = float(theta[self.p]) if self.fit_scale else 0.0
        gamma = float(theta[-1]) if self.cure else None
        return beta, log_scale, gamma

    def evaluate(self, theta: np.ndarray, hessian: bool = True) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Log-likelihood, gradient and Hessian in theta = (beta, log sigma [, logit pi])."""
        dist = self.dist
        beta, s, gamma = self.unpack(theta)
        sigma = np.exp(s)
        p = self.p
        loglik = 0.0
        grad = np.zeros(self.n_params)
        hess = np.zeros((self.n_params, self.n_params))
        s_index = p  # only used when fit_scale

        def add(xm: np.ndarray, w: np.ndarray, l_eta: np.ndarray, l_s: np.ndarray, l_ee, l_es, l_ss) -> None:
            grad[:p] += xm.T @ (w * l_eta)
            if self.fit_scale:
                grad[s_index] += w @ l_s
            if hessian:
                hess[:p, :p] += xm.T @ (xm * (w * l_ee)[:, None])
                if self.fit_scale:
                    cross = xm.T @ (w * l_es)
                    hess[:p, s_index] += cross
                    hess[s_index, :p] += cross
                    hess[s_index, s_index] += w @ l_ss

        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            # exact observations: log f_T(t) = log f_W(z) - log sigma - log t
            if len(self.y_exact):
                z = (self.y_exact - self.x_exact @ beta) / sigma
                w = self.w_exact
                loglik += float(w @ (_log_density(dist, z) - s - self.y_exact))
                g, dg = _score(dist, z)
                add(
                    self.x_exact,
                    w,
                    -g / sigma,
                    -g * z - 1.0,
                    dg / sigma**2,
                    (dg * z + g) / sigma,
                    dg * z * z + g * z,
                )
            # censored observations: log(S(zL) - S(zR))
            if len(self.lo_interval):
                eta = self.x_interval @ beta
                z_lo = (self.lo_interval - eta) / sigma
                z_hi = (self.hi_interval - eta) / sigma
                log_d = _log_interval_prob(dist, z_lo, z_hi)
                loglik += float(self.w_interval @ log_d)
                fin_lo = np.isfinite(z_lo)
                fin_hi = np.isfinite(z_hi)
                zl = np.where(fin_lo, z_lo, 0.0)
                zh = np.where(fin_hi, z_hi, 0.0)
                r_lo = np.where(fin_lo, np.exp(_log_density(dist, zl) - log_d), 0.0)
                r_hi = np.where(fin_hi, np.exp(_log_density(dist, zh) - log_d), 0.0)
                l_eta = (r_lo - r_hi) / sigma
                l_s = r_lo * zl - r_hi * zh
                if hessian:
                    q_lo = r_lo * _score(dist, zl)[0]
                    q_hi = r_hi * _score(dist, zh)[0]
                    d_ee = -(q_lo - q_hi) / sigma**2
                    d_es = (-(r_lo - r_hi) - (q_lo * zl - q_hi * zh)) / sigma
                    d_ss = -(q_lo * zl * zl + r_lo * zl) + (q_hi * zh * zh + r_hi * zh)
                    add(self.x_interval, self.w_interval, l_eta, l_s, d_ee - l_eta**2, d_es - l_eta * l_s, d_ss - l_s**2)
                else:
                    add(self.x_interval, self.w_interval, l_eta, l_s, None, None, None)
            if self.cure:
                assert gamma is not None
                pi = special.expit(gamma)
                log_pi = -_softplus(-gamma)
                log_1m_pi = -_softplus(gamma)
                # every subject who had the event contributes log(1 - pi)
                loglik += self.n_not_right * log_1m_pi
                grad[-1] += -self.n_not_right * pi
                hess[-1, -1] += -self.n_not_right * pi * (1.0 - pi)
                if len(self.lo_right):
                    eta = self.x_right @ beta
                    z = (self.lo_right - eta) / sigma
                    log_s = _log_surv(dist, z)
                    log_pop = np.logaddexp(log_pi, log_1m_pi + log_s)
                    w = self.w_right
                    loglik += float(w @ log_pop)
                    rr = np.exp(log_1m_pi + _log_density(dist, z) - log_pop)
                    cdf_over_pop = np.exp(_log_cdf(dist, z) - log_pop)
                    l_eta = rr / sigma
                    l_s = rr * z
                    l_g = pi * (1.0 - pi) * cdf_over_pop
                    grad[-1] += w @ l_g
                    if hessian:
                        qq = rr * _score(dist, z)[0]
                        add(
                            self.x_right,
                            w,
                            l_eta,
                            l_s,
                            -qq / sigma**2 - l_eta**2,
                            -(rr + qq * z) / sigma - l_eta * l_s,
                            -(qq * z + rr) * z - l_s**2,
                        )
                        hess[-1, -1] += float(w @ (pi * (1.0 - pi) * (1.0 - 2.0 * pi) * cdf_over_pop - l_g**2))
                        c_eta = w * (-pi * l_eta - l_g * l_eta)
                        c_s = w * (-pi * l_s - l_g * l_s)
                        cross = self.x_right.T @ c_eta
                        hess[:p, -1] += cross
                        hess[-1, :p] += cross
                        if self.fit_scale:
                            hess[s_index, -1] += c_s.sum()
                            hess[-1, s_index] += c_s.sum()
                    else:
                        add(self.x_right, w, l_eta, l_s, None, None, None)
        return loglik, grad, (hess if hessian else None)


def _maximise(likelihood: _Likelihood, start: np.ndarray, scale: float) -> tuple[np.ndarray, bool, int, str]:
    """Maximise the log-likelihood with scipy's exact trust-region Newton method."""
    cache: dict[bytes, tuple[float, np.ndarray, np.ndarray | None]] = {}

    def evaluate(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray | None]:
        key = theta.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = likelihood.evaluate(theta, hessian=True)
        return cache[key]

    def fun(theta: np.ndarray) -> float:
        value = evaluate(theta)[0]
        return -value / scale if np.isfinite(value) else np.inf

    def jac(theta: np.ndarray) -> np.ndarray:
        return -evaluate(theta)[1] / scale

    def hess(theta: np.ndarray) -> np.ndarray:
        return -evaluate(theta)[2] / scale

    try:
        result = optimize.minimize(
            fun, start, jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-9, "maxiter": 500}
        )
    except ValueError as error:  # scipy: "array must not contain infs or NaNs" in the Hessian
        raise ValueError(
            "the likelihood maximisation failed: the parameters ran off towards a boundary where the "
            "curvature is not finite (the data do not identify the model, e.g. every event before the "
            "first observation time)"
        ) from error
    theta = result.x
    converged = bool(result.success)
    if not converged:
        # Polish with BFGS from where the trust region stopped (it can stall on flat ridges).
        polished = optimize.minimize(fun, theta, jac=jac, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
        if polished.fun <= result.fun:
            theta = polished.x
        gradient = jac(theta)
        converged = bool(np.max(np.abs(gradient)) < 1e-6)
    return theta, converged, int(result.nit), str(result.message)


def _pool_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows and their counts (rows unchanged when pooling would not pay)."""
    row_hash = pd.util.hash_pandas_object(pd.DataFrame(rows), index=False).to_numpy()
    _, first, inverse, counts = np.unique(row_hash, return_index=True, return_inverse=True, return_counts=True)
    pooled = rows[first]
    # a 64-bit hash collision would merge different rows: check, and give up pooling if so
    if len(first) > 0.5 * len(rows) or not np.array_equal(pooled[inverse], rows):
        return rows, np.ones(len(rows))
    return pooled, counts.astype(float)


def _start_values(
    dist: str, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, fit_scale: bool
) -> np.ndarray:
    """Least-squares start on a representative log time for each observation."""
    representative = np.where(
        np.isinf(upper), lower * 1.5, np.where(lower == 0, upper / 2.0, np.sqrt(lower * np.maximum(upper, lower)))
    )
    representative = np.where(representative > 0, representative, np.nanmax(upper[np.isfinite(upper)], initial=1.0))
    y = np.log(representative)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual_sd = float(np.std(y - x @ coef))
    sigma = max(residual_sd / _W_SD[dist], 0.05) if fit_scale else 1.0
    coef[0] -= sigma * _W_MEAN[dist]
    return np.concatenate((coef, [np.log(sigma)] if fit_scale else []))


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParametricResult:
    """A fitted parametric accelerated-failure-time model (never changes after fitting).

    Attributes
    ----------
    table : DataFrame
        Indexed by term (``"(Intercept)"``, numeric covariate names, ``"column[level]"`` for
        dummies against the first sorted level): ``coef`` (on the log-time scale, as R's
        ``survreg``), ``se``, ``lower``, ``upper`` (Wald interval), ``p`` (Wald z test of 0).
    log_scale : Series
        ``coef, se, lower, upper, p`` of log(sigma) (R's ``Log(scale)``); coef 0 and se 0 for
        the exponential model, whose scale is fixed at 1.
    scale : float
        sigma. For the Weibull, shape = 1 / sigma.
    loglik, aic : float
        Log-likelihood on the time scale (as R's ``survreg``) and ``-2 loglik + 2 k``.
    median, median_ci : float, tuple
        Median event time (input time units) at the baseline (numeric covariates 0, categorical
        at their reference level); for cure models the median among those who have the event.
        Interval: delta method on log(median). ``median_for(row)`` gives it for a covariate row.
    cure_fraction, cure_fraction_ci : float, tuple
        ``cure=True``: estimated fraction that never has the event (interval on the logit
        scale); nan otherwise.
    vcov : DataFrame
        Inverse observed information of (coefficients, ``Log(scale)``, ``logit(cure)``).
    dist, cure, alpha : settings. n, n_exact, n_right, n_left, n_interval : counts used;
    n_dropped : observations with lower 0 and upper inf (no information), dropped.
    notes : tuple of str
        Problems of the fit in plain words (not converged, information not positive definite,
        cure fraction at the boundary); ``fit_parametric`` also issues each as a
        ``RuntimeWarning``.
    """

    table: pd.DataFrame = field(repr=False)
    log_scale: pd.Series = field(repr=False)
    scale: float
    loglik: float
    aic: float
    median: float
    median_ci: tuple[float, float]
    cure_fraction: float
    cure_fraction_ci: tuple[float, float]
    vcov: pd.DataFrame = field(repr=False)
    dist: str
    cure: bool
    alpha: float
    n: int
    n_exact: int
    n_right: int
    n_left: int
    n_interval: int
    n_dropped: int
    converged: bool
    iterations: int
    _design: _Design = field(repr=False)
    _theta: np.ndarray = field(repr=False)
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        cure = f", cure fraction {self.cure_fraction:.3g}" if self.cure else ""
        return (
            f"<ParametricResult: {self.dist}{' mixture-cure' if self.cure else ''} fitted with {self.n} observations "
            f"({self.n_exact} exact, {self.n_right} right-, {self.n_left} left-, {self.n_interval} interval-censored; "
            f"{self.n_dropped} uninformative dropped); loglik {self.loglik:.6g}, median {self.median:.4g}{cure}>"
        )

    @property
    def terms(self) -> tuple[str, ...]:
        return self._design.terms

    @property
    def median_lower(self) -> float:
        return self.median_ci[0]

    @property
    def median_upper(self) -> float:
        return self.median_ci[1]

    def summary(self) -> pd.DataFrame:
        """Coefficient table with the ``Log(scale)`` and (cure models) ``logit(cure)`` rows."""
        rows = [self.table]
        if self.dist != "exponential":
            rows.append(self.log_scale.to_frame().T)
        if self.cure:
            beta_len = len(self._design.terms) + int(self.dist != "exponential")
            coef = float(self._theta[-1])
            se = float(np.sqrt(self.vcov.to_numpy()[beta_len, beta_len]))
            rows.append(_wald_rows(np.array([coef]), np.array([se]), self.alpha, ["logit(cure)"]))
        return pd.concat(rows)

    # ----- derived quantities -------------------------------------------------------------
    def _split(self) -> tuple[np.ndarray, float, float | None]:
        p = len(self._design.terms)
        beta = self._theta[:p]
        log_scale = float(self._theta[p]) if self.dist != "exponential" else 0.0
        gamma = float(self._theta[-1]) if self.cure else None
        return beta, log_scale, gamma

    def median_for(self, row: Any = None) -> tuple[float, float, float]:
        """Median event time (and interval) for a covariate row (dict/Series; None = baseline).

        For cure models the median among those who have the event. Interval: delta method on
        the log scale, ``exp(log m +/- z se)``.
        """
        x = self._design.row(row)
        beta, log_scale, _ = self._split()
        w = _W_MEDIAN[self.dist]
        log_median = float(x @ beta + np.exp(log_scale) * w)
        gradient = np.zeros(len(self._theta))
        gradient[: len(x)] = x
        if self.dist != "exponential":
            gradient[len(x)] = np.exp(log_scale) * w
        se = float(np.sqrt(gradient @ self.vcov.to_numpy() @ gradient))
        z = z_value(self.alpha)
        with np.errstate(over="ignore", invalid="ignore"):  # a median beyond float range is inf
            return float(np.exp(log_median)), float(np.exp(log_median - z * se)), float(np.exp(log_median + z * se))

    def survival(self, times: Any, row: Any = None) -> pd.DataFrame:
        """Population survival S(t) (cured included) at ``times`` with a pointwise band.

        Columns ``time, survival, lower, upper``. The band is the delta method on the
        complementary log-log scale, ``log(-log S)``, so it stays inside [0, 1]. ``row``:
        covariate values (None = baseline).
        """
        query = query_times(times)
        x = self._design.row(row)
        beta, log_scale, gamma = self._split()
        sigma = np.exp(log_scale)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = (np.log(np.where(query > 0, query, 1.0)) - x @ beta) / sigma
            s_u = np.exp(_log_surv(self.dist, z))
            f_u = np.exp(_log_density(self.dist, z))
            pi = special.expit(gamma) if gamma is not None else 0.0
            survival = pi + (1.0 - pi) * s_u
            k = len(self._theta)
            gradient = np.zeros((len(query), k))
            gradient[:, : len(x)] = ((1.0 - pi) * f_u / sigma)[:, None] * x[None, :]
            if self.dist != "exponential":
                gradient[:, len(x)] = (1.0 - pi) * f_u * z
            if gamma is not None:
                gradient[:, -1] = pi * (1.0 - pi) * (1.0 - s_u)
            transformed_gradient = gradient / (survival * np.log(survival))[:, None]
            se = np.sqrt(np.einsum("ij,jk,ik->i", transformed_gradient, self.vcov.to_numpy(), transformed_gradient))
            u = np.log(-np.log(survival))
            zq = z_value(self.alpha)
            lower = np.exp(-np.exp(u + zq * se))
            upper = np.exp(-np.exp(u - zq * se))
        degenerate = ~np.isfinite(se)
        lower = np.where(degenerate, survival, lower)
        upper = np.where(degenerate, survival, upper)
        at_start = query <= 0
        survival = np.where(at_start, 1.0, survival)
        lower = np.where(at_start, 1.0, lower)
        upper = np.where(at_start, 1.0, upper)
        return pd.DataFrame({"time": query, "survival": survival, "lower": lower, "upper": upper})

    def cumulative(self, times: Any, row: Any = None) -> pd.DataFrame:
        """Cumulative probability of the event, 1 - S(t), with band (columns time, cumulative, lower, upper)."""
        surv = self.survival(times, row=row)
        return pd.DataFrame(
            {
                "time": surv["time"],
                "cumulative": 1.0 - surv["survival"],
                "lower": 1.0 - surv["upper"],
                "upper": 1.0 - surv["lower"],
            }
        )


def _wald_rows(coef: np.ndarray, se: np.ndarray, alpha: float, index: list[str]) -> pd.DataFrame:
    z = z_value(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = 2.0 * stats.norm.sf(np.abs(coef / se))
    return pd.DataFrame(
        {"coef": coef, "se": se, "lower": coef - z * se, "upper": coef + z * se, "p": p_value},
        index=pd.Index(index, name="term"),
    )


# --------------------------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------------------------
def fit_parametric(
    lower: Any,
    upper: Any,
    dist: Distribution = "weibull",
    covariates: pd.DataFrame | None = None,
    cure: bool = False,
    alpha: float = 0.05,
) -> ParametricResult:
    """Fit a parametric accelerated-failure-time model to censored event times.

    Parameters
    ----------
    lower, upper : array-like
        Bounds of each subject's event time, in any time unit (hours, days); results are in the
        same unit. ``lower == upper``: event seen exactly; ``upper = inf``: right-censored at
        ``lower``; ``lower = 0``: left-censored (event before ``upper``); otherwise the event
        happened in ``(lower, upper]``. Rows with ``lower = 0`` and ``upper = inf`` carry no
        information and are dropped (counted in ``n_dropped``).
    dist : {"weibull", "loglogistic", "lognormal", "exponential"}
        Distribution of T; ``log T = X beta + sigma W`` with W extreme value, logistic or normal
        (sigma = 1 for the exponential), exactly as R's ``survreg``.
    covariates : DataFrame, optional
        One row per observation. Numeric (and boolean) columns enter as they are; other columns
        are dummy-coded against their first level in sorted order (terms ``"column[level]"``).
    cure : bool
        Mixture-cure model ``S(t) = pi + (1 - pi) S_u(t)`` with a constant cure fraction ``pi``
        (logit-parameterised); covariates act on the time of those who have the event.
    alpha : float
        1 - confidence level of every interval.

    Returns
    -------
    ParametricResult
        Problems of the fit are in ``.notes`` and are also issued as ``RuntimeWarning``.

    References
    ----------
    Kalbfleisch JD, Prentice RL (2002). The Statistical Analysis of Failure Time Data, 2nd ed.,
    chapter 2 and 3 (AFT models; censored likelihood). Therneau T. survival: survreg.
    Farewell VT (1982). The use of mixture models for the analysis of survival data with
    long-term survivors. Biometrics 38:1041-1046.
    """
    result = fit_parametric_quiet(lower, upper, dist=dist, covariates=covariates, cure=cure, alpha=alpha)
    for note in result.notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    return result


def fit_parametric_quiet(
    lower: Any,
    upper: Any,
    dist: Distribution = "weibull",
    covariates: pd.DataFrame | None = None,
    cure: bool = False,
    alpha: float = 0.05,
) -> ParametricResult:
    """``fit_parametric`` without warnings: problems of the fit are only recorded in ``.notes``.

    For callers that report them in their own results (``fit_onset``, ``fit_durability``);
    avoids the process-wide ``warnings.catch_warnings``, which is not thread-safe.
    """
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {DISTRIBUTIONS}, got {dist!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    lower_values, upper_values = as_bounds(lower, upper)
    x_all, design = _design_matrix(covariates, len(lower_values))
    uninformative = (lower_values == 0) & np.isinf(upper_values)
    keep = ~uninformative
    lower_values, upper_values, x = lower_values[keep], upper_values[keep], x_all[keep]
    n = len(lower_values)
    exact, right, left, interval = censoring_kinds(lower_values, upper_values)
    n_events = int(n - right.sum())
    if n == 0:
        raise ValueError("no informative observations (every row has lower 0 and upper inf)")
    if n_events == 0:
        raise ValueError("no events: every observation is right-censored, so the distribution cannot be estimated")
    fit_scale = dist != "exponential"
    if cure and not right.any():
        raise ValueError(
            "cure=True needs right-censored observations: with every subject having the event the cure "
            "fraction is 0 (boundary of the parameter space); fit with cure=False"
        )
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError("the design is rank deficient once uninformative rows are dropped")
    # Identical (lower, upper, covariates) rows are pooled with a count: visit schedules make
    # interval-censored data highly repetitive, so the likelihood is evaluated once per pattern.
    pooled, counts = _pool_rows(np.column_stack((lower_values, upper_values, x)))
    pooled_lower, pooled_upper, pooled_x = pooled[:, 0], pooled[:, 1], pooled[:, 2:]
    with np.errstate(divide="ignore"):
        likelihood_data = dict(
            dist=dist,
            x=pooled_x,
            log_lower=np.log(pooled_lower),
            log_upper=np.log(pooled_upper),
            exact=pooled_lower == pooled_upper,
            fit_scale=fit_scale,
            weight=counts.astype(float),
        )
    likelihood = _Likelihood(cure=cure, **likelihood_data)
    start = _start_values(dist, x, lower_values, upper_values, fit_scale)
    scale = float(n)
    if cure:
        start, *_ = _maximise(_Likelihood(cure=False, **likelihood_data), start, scale)
        censored_share = float(right.mean())
        start = np.concatenate((start, [special.logit(np.clip(0.5 * censored_share, 0.02, 0.9))]))
    theta, converged, iterations, message = _maximise(likelihood, start, scale)
    loglik, gradient, hessian = likelihood.evaluate(theta, hessian=True)
    assert hessian is not None
    information = -hessian
    with np.errstate(invalid="ignore"):
        try:
            eigenvalues = np.linalg.eigvalsh(information)
            positive = bool(eigenvalues.min() > 1e-10 * max(1.0, eigenvalues.max()))
        except np.linalg.LinAlgError:
            positive = False
    notes: list[str] = []
    if positive:
        vcov = np.linalg.inv(information)
    else:
        vcov = np.full_like(information, np.nan)
        notes.append(
            "the observed information is not positive definite: the model is not identifiable from these "
            "data (standard errors set to NaN)"
        )
    if not converged:
        notes.append(f"the likelihood maximisation did not converge ({message})")
    if cure:
        pi_hat = float(special.expit(theta[-1]))
        if pi_hat < 1e-6 or pi_hat > 1 - 1e-6:
            notes.append(
                f"the cure fraction is estimated at the boundary ({pi_hat:.3g}): the cure model is not "
                "identifiable from these data (too little follow-up after the last events?)"
            )
    se = np.sqrt(np.diag(vcov))
    p = x.shape[1]
    table = _wald_rows(theta[:p], se[:p], alpha, list(design.terms))
    if fit_scale:
        log_scale = _wald_rows(theta[p : p + 1], se[p : p + 1], alpha, ["Log(scale)"]).iloc[0]
    else:
        log_scale = pd.Series({"coef": 0.0, "se": 0.0, "lower": 0.0, "upper": 0.0, "p": np.nan}, name="Log(scale)")
    names = list(design.terms) + (["Log(scale)"] if fit_scale else []) + (["logit(cure)"] if cure else [])
    z = z_value(alpha)
    if cure:
        gamma_se = se[-1]
        cure_fraction = float(special.expit(theta[-1]))
        cure_ci = (float(special.expit(theta[-1] - z * gamma_se)), float(special.expit(theta[-1] + z * gamma_se)))
    else:
        cure_fraction, cure_ci = float("nan"), (float("nan"), float("nan"))
    result = ParametricResult(
        table=table,
        log_scale=log_scale,
        scale=float(np.exp(theta[p])) if fit_scale else 1.0,
        loglik=float(loglik),
        aic=float(-2.0 * loglik + 2.0 * len(theta)),
        median=float("nan"),
        median_ci=(float("nan"), float("nan")),
        cure_fraction=cure_fraction,
        cure_fraction_ci=cure_ci,
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        dist=dist,
        cure=cure,
        alpha=alpha,
        n=n,
        n_exact=int(exact.sum()),
        n_right=int(right.sum()),
        n_left=int(left.sum()),
        n_interval=int(interval.sum()),
        n_dropped=int(uninformative.sum()),
        converged=converged,
        iterations=iterations,
        _design=design,
        _theta=theta,
        notes=tuple(notes),
    )
    median, median_lower, median_upper = result.median_for(None)
    object.__setattr__(result, "median", median)
    object.__setattr__(result, "median_ci", (median_lower, median_upper))
    return result
