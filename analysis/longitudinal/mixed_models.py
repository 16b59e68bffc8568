"""Linear mixed models with a random intercept (and slope) per group, fitted as lme4 does.

The likelihood is profiled over the relative covariance parameters ``theta`` (the lower
Cholesky factor of the random-effects covariance divided by the residual SD), with the fixed
effects and the residual variance in closed form (Bates et al. 2015). Because the random
effects are grouped by one factor and have dimension ``q`` (1 or 2 in practice), everything the
profiled deviance needs reduces to per-group sufficient statistics (``Z'Z``, ``Z'X``, ``Z'y``)
computed once; each deviance evaluation (and its analytic gradient, from Woodbury's identity)
is then a handful of vectorised operations over groups, independent of the number of rows.
Satterthwaite degrees of freedom follow lmerTest: the Hessian of the unprofiled deviance in
(theta, sigma), by central differences of its analytic gradient.

Reference
---------
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using lme4.
Journal of Statistical Software 67(1), section 3 (penalised least squares and the profiled
deviance). Kuznetsova A, Brockhoff PB, Christensen RHB (2017). lmerTest package: tests in linear
mixed effects models. Journal of Statistical Software 82(13) (Satterthwaite degrees of freedom).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import optimize

from analysis.errors import AnalysisError
from analysis.longitudinal._design import (
    build_design,
    complete_rows,
    formula_variables,
    single_thread_blas,
    t_table,
)

__all__ = ["MixedModelResult", "mixed_model"]


@dataclass(frozen=True)
class MixedModelResult:
    """A fitted linear mixed model (see :func:`mixed_model`).

    Attributes
    ----------
    fixed : DataFrame indexed by term (patsy names) with ``estimate, se, df, statistic, p,
        lower, upper``; ``df`` is Satterthwaite's (as lmerTest), ``statistic`` is the t value.
    random : random-effects covariance matrix (q x q DataFrame, rows/columns named like the
        random-effects design columns, e.g. ``Intercept``, ``week``), in the response's units
        squared.
    random_effects : conditional modes (BLUPs) of the random effects, one row per group.
    residual_variance : within-group residual variance (response units squared).
    loglik, minus2_loglik : maximised (REML or ML) log-likelihood and -2 times it, as lme4's
        ``logLik`` and ``REMLcrit``/``deviance``.
    vcov : covariance matrix of the fixed-effect estimates (DataFrame).
    n_obs, n_groups : analysis rows and groups.
    settings : the arguments used.
    """

    fixed: pd.DataFrame
    random: pd.DataFrame
    random_effects: pd.DataFrame
    residual_variance: float
    loglik: float
    minus2_loglik: float
    vcov: pd.DataFrame
    n_obs: int
    n_groups: int
    theta: np.ndarray
    converged: bool
    settings: dict[str, Any]
    _design_info: Any = field(repr=False, default=None)
    _random_info: Any = field(repr=False, default=None)

    def summary(self) -> pd.DataFrame:
        """Fixed effects, then variance components, in one readable table."""
        fixed = self.fixed.reset_index().rename(columns={"index": "term"})
        fixed.insert(0, "part", "fixed")
        names = list(self.random.index)
        rows = []
        for i, a in enumerate(names):
            for b in names[: i + 1]:
                label = f"var({a})" if a == b else f"cov({b}, {a})"
                rows.append({"part": "random", "term": label, "estimate": self.random.loc[a, b]})
        rows.append({"part": "residual", "term": "var(residual)", "estimate": self.residual_variance})
        table = pd.concat([fixed, pd.DataFrame(rows)], ignore_index=True)
        table.attrs["note"] = (
            f"{'REML' if self.settings['reml'] else 'ML'} fit on {self.n_obs} observations in "
            f"{self.n_groups} groups; -2 log-likelihood {self.minus2_loglik:.4f}"
        )
        return table

    def predict(self, frame: pd.DataFrame, include_random: bool = True) -> pd.Series:
        """Predicted response for ``frame``: ``X beta`` plus, for known groups, ``Z b``."""
        (X,) = patsy.build_design_matrices([self._design_info], frame, NA_action="raise")
        prediction = np.asarray(X) @ self.fixed["estimate"].to_numpy()
        if include_random:
            (Z,) = patsy.build_design_matrices([self._random_info], frame, NA_action="raise")
            effects = self.random_effects.reindex(frame[self.settings["groups"]].to_numpy())
            prediction = prediction + np.nansum(np.asarray(Z) * effects.to_numpy(), axis=1)
        return pd.Series(prediction, index=frame.index, name="predicted")


class _GroupedStats:
    """Per-group sufficient statistics for the profiled deviance (computed once).

    Arrays are laid out random-effect first (``ZtX`` is q x G x p) so that multiplying by the
    small ``Lambda'`` is one matrix product over all groups.
    """

    def __init__(self, X: np.ndarray, Z: np.ndarray, y: np.ndarray, codes: np.ndarray) -> None:
        order = np.argsort(codes, kind="stable")
        X, Z, y, codes = X[order], Z[order], y[order], codes[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        n, p = X.shape
        q = Z.shape[1]
        self.n, self.p, self.q, self.n_groups = n, p, q, len(starts)
        G = len(starts)
        self.ZtZ = np.add.reduceat((Z[:, :, None] * Z[:, None, :]).reshape(n, q * q), starts).reshape(G, q, q)
        ZtX = np.add.reduceat((Z[:, :, None] * X[:, None, :]).reshape(n, q * p), starts).reshape(G, q, p)
        self.ZtX = np.ascontiguousarray(ZtX.transpose(1, 0, 2))  # q x G x p
        self.Zty = np.ascontiguousarray(np.add.reduceat(Z * y[:, None], starts).T)  # q x G
        self.XtX = X.T @ X
        self.Xty = X.T @ y
        self.yty = float(y @ y)
        self.group_codes = codes[starts]


def _lambda(theta: np.ndarray, q: int) -> np.ndarray:
    lam = np.zeros((q, q))
    lam[np.tril_indices(q)] = theta
    return lam


def _batched_solve(A: np.ndarray, B: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve A_g x = B_g and A_g x = c_g for every group g (A SPD, G x q x q).

    ``B`` is q x G x p and ``c`` is q x G (random effect first). Returns (A^-1 B, A^-1 c,
    log det A_g). Closed form for q <= 2, LAPACK otherwise.
    """
    q = A.shape[1]
    if q == 1:
        a = A[:, 0, 0]
        return B / a[None, :, None], c / a[None, :], np.log(a)
    if q == 2:
        a, b, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 1]
        det = a * d - b * b
        ia, ib, id_ = d / det, -b / det, a / det
        AinvB = np.stack([ia[:, None] * B[0] + ib[:, None] * B[1], ib[:, None] * B[0] + id_[:, None] * B[1]])
        Ainvc = np.stack([ia * c[0] + ib * c[1], ib * c[0] + id_ * c[1]])
        return AinvB, Ainvc, np.log(det)
    rhs = np.concatenate([B.transpose(1, 0, 2), c.T[:, :, None]], axis=2)
    solved = np.linalg.solve(A, rhs)
    logdet = 2.0 * np.log(np.diagonal(np.linalg.cholesky(A), axis1=1, axis2=2)).sum(axis=1)
    return (np.ascontiguousarray(solved[:, :, :-1].transpose(1, 0, 2)),
            np.ascontiguousarray(solved[:, :, -1].T), logdet)


class _Profile:
    """Penalised least squares at a given theta (Bates et al. 2015, eqs. 15-34)."""

    def __init__(self, stats_: _GroupedStats, reml: bool) -> None:
        self.s = stats_
        self.reml = reml

    def solve(self, theta: np.ndarray) -> dict[str, Any]:
        s = self.s
        q, p, G = s.q, s.p, s.n_groups
        lam = _lambda(theta, q)
        # vec(Lambda' M Lambda) = vec(M) (Lambda kron Lambda) for row-major vec
        A = (s.ZtZ.reshape(G, q * q) @ np.kron(lam, lam)).reshape(G, q, q)
        A[:, np.arange(q), np.arange(q)] += 1.0
        B = (lam.T @ s.ZtX.reshape(q, G * p)).reshape(q, G, p)
        c = lam.T @ s.Zty
        AinvB, Ainvc, logdet_a = _batched_solve(A, B, c)
        B_flat = B.reshape(q * G, p)
        schur = s.XtX - B_flat.T @ AinvB.reshape(q * G, p)
        rhs = s.Xty - B_flat.T @ Ainvc.reshape(q * G)
        chol_x = np.linalg.cholesky(schur)
        beta = np.linalg.solve(schur, rhs)
        u = Ainvc - AinvB @ beta  # q x G
        pwrss = s.yty - float(np.sum(c * u)) - float(s.Xty @ beta)
        return {
            "lambda": lam,
            "A": A,
            "c": c,
            "AinvB": AinvB,
            "beta": beta,
            "u": u,
            "pwrss": pwrss,
            "logdet_a": float(logdet_a.sum()),
            "logdet_x": 2.0 * float(np.log(np.diag(chol_x)).sum()),
            "schur": schur,
        }

    def deviance_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Profiled deviance and its analytic gradient in theta.

        With Psi = Lambda Lambda' and V_g = I + Z_g Psi Z_g' (residual-variance units), the
        deviance is sum log|V_g| + [log|X'V^-1 X|] + nu log r'V^-1 r, so for a symmetric
        change dPsi it changes by tr(Gamma dPsi) with
        Gamma = sum_g Z'V^-1 Z - [Z'V^-1 X S^-1 X'V^-1 Z] - (nu / r^2) Z'V^-1 r r'V^-1 Z,
        and d/dLambda = 2 Gamma Lambda. The Z'V^-1 products come from Woodbury's identity.
        """
        theta = np.asarray(theta, dtype=float)
        try:
            fit = self.solve(theta)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(theta)
        value = self._profiled(fit)
        if not np.isfinite(value):
            return value, np.zeros_like(theta)
        n, p = self.s.n, self.s.p
        dof = n - p if self.reml else n
        return value, self._gradient(fit, dof / fit["pwrss"])

    def _gradient(self, fit: dict[str, Any], residual_weight: float) -> np.ndarray:
        """d/dtheta of log|A| + [log|S|] + residual_weight * r^2 at a solved theta.

        Every sum over groups is one matrix product over (group x column) rows, so the cost is
        a few passes over the G x q x p statistics whatever q."""
        s, lam, q, G, p = self.s, fit["lambda"], self.s.q, self.s.n_groups, self.s.p
        K = (s.ZtZ.reshape(G * q, q) @ lam).reshape(G, q, q)  # Z'Z Lambda, (G, q, q)
        AinvKt, _, _ = _batched_solve(fit["A"], np.ascontiguousarray(K.transpose(2, 0, 1)), fit["c"])
        Kt = np.ascontiguousarray(K.transpose(1, 2, 0))  # (q, q, G): Kt[i, j] = K[:, i, j]
        residual_z = s.Zty - s.ZtX @ fit["beta"]  # Z'r, (q, G)
        ZVX = s.ZtX.copy()  # Z'V^-1 X, (q, G, p)
        ZVr = residual_z  # Z'V^-1 r, (q, G)
        for i in range(q):  # q <= a few random effects
            for j in range(q):
                ZVX[i] -= Kt[i, j][:, None] * fit["AinvB"][j]
                ZVr[i] -= Kt[i, j] * fit["u"][j]
        # sum_g Z'V^-1 Z = sum_g (Z'Z - K A^-1 K')
        zvz = s.ZtZ.sum(axis=0) - (Kt.transpose(0, 2, 1).reshape(q, G * q)
                                   @ AinvKt.transpose(1, 0, 2).reshape(G * q, q))
        gamma = zvz - residual_weight * (ZVr @ ZVr.T)
        if self.reml:
            S_inv = np.linalg.inv(fit["schur"])
            flat = ZVX.reshape(q, G * p)
            gamma -= (ZVX.reshape(q * G, p) @ S_inv).reshape(q, G * p) @ flat.T
        gamma = (gamma + gamma.T) / 2.0
        return (2.0 * gamma @ lam)[np.tril_indices(q)]

    def gradient_varpar(self, varpar: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`deviance_varpar` in (theta, sigma)."""
        theta, sigma = varpar[:-1], varpar[-1]
        fit = self.solve(theta)
        n, p = self.s.n, self.s.p
        dof = n - p if self.reml else n
        d_sigma = 2 * dof / sigma - 2 * fit["pwrss"] / sigma**3
        return np.r_[self._gradient(fit, 1.0 / sigma**2), d_sigma]

    def deviance(self, theta: np.ndarray) -> float:
        try:
            fit = self.solve(np.asarray(theta, dtype=float))
        except np.linalg.LinAlgError:
            return np.inf
        return self._profiled(fit)

    def _profiled(self, fit: dict[str, Any]) -> float:
        n, p = self.s.n, self.s.p
        if fit["pwrss"] <= 0:
            return np.inf
        if self.reml:
            dof = n - p
            return fit["logdet_a"] + fit["logdet_x"] + dof * (1 + np.log(2 * np.pi * fit["pwrss"] / dof))
        return fit["logdet_a"] + n * (1 + np.log(2 * np.pi * fit["pwrss"] / n))

    def deviance_varpar(self, varpar: np.ndarray) -> float:
        """-2 log-likelihood at (theta, sigma), not profiled (lmerTest's ``devfun_vp``)."""
        theta, sigma = varpar[:-1], varpar[-1]
        fit = self.solve(theta)
        n, p = self.s.n, self.s.p
        dof = n - p if self.reml else n
        value = fit["logdet_a"] + dof * np.log(2 * np.pi * sigma**2) + fit["pwrss"] / sigma**2
        return value + (fit["logdet_x"] if self.reml else 0.0)

    def vcov_varpar(self, varpar: np.ndarray) -> np.ndarray:
        fit = self.solve(varpar[:-1])
        return varpar[-1] ** 2 * np.linalg.inv(fit["schur"])


def _hessian_from_gradient(gradient, x: np.ndarray, relative_step: float = 1e-5) -> np.ndarray:
    """Central differences of an analytic gradient, symmetrised."""
    k = len(x)
    hess = np.empty((k, k))
    step = relative_step * np.maximum(np.abs(x), 0.1)
    for j in range(k):
        e = np.zeros(k)
        e[j] = step[j]
        hess[:, j] = (gradient(x + e) - gradient(x - e)) / (2 * step[j])
    return (hess + hess.T) / 2


def _jacobian(function, x: np.ndarray, relative_step: float = 1e-5) -> np.ndarray:
    """Central-difference Jacobian of a matrix-valued function; shape (k, *out)."""
    step = relative_step * np.maximum(np.abs(x), 0.1)
    parts = []
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = step[i]
        parts.append((function(x + e) - function(x - e)) / (2 * step[i]))
    return np.stack(parts)


def mixed_model(
    frame: pd.DataFrame,
    formula: str,
    groups: str,
    random: str = "~1",
    reml: bool = True,
    alpha: float = 0.05,
) -> MixedModelResult:
    """Fit a linear mixed model with a random intercept, or intercept and slope, per group.

    Model: ``y = X beta + Z b + e`` with ``b_g ~ N(0, G)`` independent across groups and
    ``e ~ N(0, sigma^2 I)``. Estimates agree with R ``lme4::lmer(y ~ ... + (random | groups))``.

    Parameters
    ----------
    frame : long data, one row per observation.
    formula : patsy formula for the response and fixed effects, e.g. ``"score ~ week * C(group)"``.
        Term names in the result are patsy's (``Intercept``, ``week``, ``C(group)[T.b]``, ...).
    groups : column identifying the grouping unit (patient).
    random : one-sided patsy formula for the random effects within group: ``"~1"`` (random
        intercept) or ``"~week"`` (random intercept and slope on ``week``, correlated, as lme4's
        ``(week | patient)``); ``"0 + week"`` gives a slope alone.
    reml : restricted maximum likelihood (default, as lme4) or maximum likelihood.
    alpha : 1 - confidence level of the intervals.

    Returns
    -------
    MixedModelResult
        Fixed effects with standard errors from ``sigma^2 (X' V^-1 X)^-1`` at the estimated
        variance parameters (as lme4's ``vcov``), Satterthwaite degrees of freedom, t-based
        p-values and confidence intervals (as lmerTest). Rows with a missing value in any
        variable used are dropped.

    References
    ----------
    Bates et al. (2015), J Stat Softw 67(1); Kuznetsova et al. (2017), J Stat Softw 82(13).
    """
    with single_thread_blas():
        return _mixed_model(frame, formula, groups, random, reml, alpha)


def _mixed_model(frame: pd.DataFrame, formula: str, groups: str, random: str, reml: bool,
                 alpha: float) -> MixedModelResult:
    random_formula = random if random.strip().startswith("~") else f"~{random}"
    used = formula_variables(formula, frame.columns) + formula_variables(random_formula, frame.columns)
    if groups not in frame.columns:
        raise AnalysisError(f"groups column {groups!r} not in frame")
    data = complete_rows(frame, list(dict.fromkeys([*used, groups])))
    design = build_design(data, formula)
    data = data.loc[design.rows]
    Z_frame = patsy.dmatrix(random_formula, data, NA_action="raise", return_type="dataframe")
    Z = np.asarray(Z_frame, dtype=float)
    codes, group_labels = pd.factorize(data[groups], sort=True)

    grouped = _GroupedStats(design.X, Z, design.y, codes)
    profile = _Profile(grouped, reml)
    q = Z.shape[1]
    theta0 = np.eye(q)[np.tril_indices(q)]
    # The deviance depends on Lambda only through Lambda Lambda', so theta is optimised
    # unconstrained (columns' signs fixed afterwards) with the analytic gradient; a variance on
    # its boundary is a stationary point, so Powell's derivative-free search checks the end point
    # when the quasi-Newton run does not report convergence.
    lbfgs = {"ftol": 1e-13, "gtol": 1e-9, "maxiter": 2000}
    result = optimize.minimize(profile.deviance_and_gradient, theta0, jac=True, method="L-BFGS-B", options=lbfgs)
    # L-BFGS-B can also report success far from the optimum, after a step that barely lowered
    # the deviance (its ftol test; seen at 268,000 rows: gradient 1.6e5, REML log-likelihood 6,600
    # below the optimum): restarted from there (fresh curvature memory) until the gradient is small
    for _ in range(3):
        if not result.success or _gradient_small(result.fun, result.jac, 1e-2):
            break
        result = optimize.minimize(profile.deviance_and_gradient, result.x, jac=True, method="L-BFGS-B",
                                   options=lbfgs)
    # L-BFGS-B stops "abnormally" when line searches hit machine precision at the optimum
    converged = bool(result.success) or _gradient_small(result.fun, result.jac)
    if not converged:
        polished = optimize.minimize(profile.deviance, result.x, method="Powell",
                                     options={"xtol": 1e-10, "ftol": 1e-15, "maxfev": 20000})
        if polished.fun <= result.fun:
            result = polished
        converged = _gradient_small(*profile.deviance_and_gradient(result.x))
    lam = _lambda(result.x, q)
    theta = (lam * np.where(np.diag(lam) < 0, -1.0, 1.0)[None, :])[np.tril_indices(q)]
    fit = profile.solve(theta)
    n, p = grouped.n, grouped.p
    sigma2 = fit["pwrss"] / (n - p if reml else n)
    vcov = sigma2 * np.linalg.inv(fit["schur"])
    minus2 = profile.deviance(theta)
    beta = fit["beta"]
    se = np.sqrt(np.diag(vcov))

    df = _satterthwaite_df(profile, theta, np.sqrt(sigma2), vcov, n - p)
    fixed = t_table(beta, se, df, alpha).set_axis(pd.Index(design.term_names, name="term"))
    names = list(Z_frame.columns)
    lam = fit["lambda"]
    random_cov = pd.DataFrame(sigma2 * lam @ lam.T, index=names, columns=names)
    blups = pd.DataFrame(fit["u"].T @ lam.T, columns=names,
                         index=pd.Index(group_labels[grouped.group_codes], name=groups))
    return MixedModelResult(
        fixed=fixed,
        random=random_cov,
        random_effects=blups,
        residual_variance=float(sigma2),
        loglik=-0.5 * minus2,
        minus2_loglik=float(minus2),
        vcov=pd.DataFrame(vcov, index=design.term_names, columns=design.term_names),
        n_obs=n,
        n_groups=grouped.n_groups,
        theta=theta,
        converged=converged,
        settings={"formula": formula, "groups": groups, "random": random_formula, "reml": reml,
                  "alpha": alpha, "df_method": "satterthwaite"},
        _design_info=design.design_info,
        _random_info=Z_frame.design_info,
    )


def _satterthwaite_df(profile: _Profile, theta: np.ndarray, sigma: float, vcov: np.ndarray,
                      residual_df: int) -> np.ndarray:
    """Satterthwaite df for each coefficient, as lmerTest (Hessian in (theta, sigma)).

    Falls back to the residual df ``n - p`` when the Hessian is singular (variance on the
    boundary).
    """
    varpar = np.r_[theta, sigma]
    try:
        hess = _hessian_from_gradient(profile.gradient_varpar, varpar)
        cov_varpar = 2.0 * np.linalg.inv(hess)
        grads = _jacobian(profile.vcov_varpar, varpar)  # (k, p, p)
        g = np.diagonal(grads, axis1=1, axis2=2)  # (k, p): d var(beta_j) / d varpar
        denom = np.einsum("kj,kl,lj->j", g, cov_varpar, g)
        df = 2.0 * np.diag(vcov) ** 2 / denom
    except np.linalg.LinAlgError:
        df = np.full(vcov.shape[0], np.nan)
    return np.where(np.isfinite(df) & (df > 0), df, float(residual_df))


def _gradient_small(deviance: float, gradient: np.ndarray, tolerance: float = 1e-4) -> bool:
    """Stationary point of the profiled deviance, up to the precision of sums over n rows
    (``tolerance`` times the square root of the deviance)."""
    return bool(np.isfinite(deviance)
                and np.max(np.abs(gradient)) < tolerance * max(1.0, np.sqrt(abs(deviance))))
