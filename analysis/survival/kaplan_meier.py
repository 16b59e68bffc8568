"""Kaplan-Meier estimator with Greenwood standard errors, R-compatible medians and RMST."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.survival._common import as_time_event, group_starts, query_times, tied_times, z_value

CI_TYPES = ("log-log", "log", "plain")
CIType = Literal["log-log", "log", "plain"]
_MEDIAN_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time up to ``tau`` (same time unit as the input).

    ``se`` is R's standard error (``print(survfit, rmean=tau)``); ``lower``/``upper`` are a
    normal (Wald) interval ``estimate +/- z * se``, truncated to ``[0, tau]``.
    """

    tau: float
    estimate: float
    se: float
    lower: float
    upper: float
    alpha: float

    def summary(self) -> pd.DataFrame:
        """One-row table: tau, rmst, se, lower, upper."""
        return pd.DataFrame(
            {
                "tau": [self.tau],
                "rmst": [self.estimate],
                "se": [self.se],
                "lower": [self.lower],
                "upper": [self.upper],
            }
        )


@dataclass(frozen=True)
class KaplanMeierResult:
    """A fitted Kaplan-Meier curve (never changes after fitting).

    Attributes
    ----------
    table : DataFrame
        One row per distinct observed time (events or censorings): ``time``, ``survival``
        (S(t), right-continuous), ``se`` (Greenwood standard error of S(t)), ``lower``,
        ``upper`` (pointwise interval of S(t) on the ``ci`` scale), ``at_risk`` (number with
        follow-up >= time), ``events`` and ``censored`` at that time.
    median : float
        Median survival time by R's rule (nan if the curve never reaches 0.5).
    median_ci : tuple of float
        Interval for the median, as R's ``print.survfit`` computes it from the pointwise bands.
    ci, alpha : the settings used. n, n_events, n_censored : counts.
    """

    table: pd.DataFrame = field(repr=False)
    median: float
    median_ci: tuple[float, float]
    ci: str
    alpha: float
    n: int
    n_events: int
    n_censored: int
    _start_time: float = field(repr=False, default=0.0)

    def __repr__(self) -> str:
        median = "not reached" if np.isnan(self.median) else f"{self.median:.4g}"
        return (
            f"<KaplanMeierResult: fitted with {self.n} observations, {self.n_censored} censored; "
            f"median {median}, ci={self.ci!r}, alpha={self.alpha}>"
        )

    @property
    def median_lower(self) -> float:
        return self.median_ci[0]

    @property
    def median_upper(self) -> float:
        return self.median_ci[1]

    def summary(self) -> pd.DataFrame:
        """One-row table of counts and the median with its interval."""
        return pd.DataFrame(
            {
                "n": [self.n],
                "events": [self.n_events],
                "censored": [self.n_censored],
                "median": [self.median],
                "median_lower": [self.median_ci[0]],
                "median_upper": [self.median_ci[1]],
                "ci": [self.ci],
                "conf_level": [1.0 - self.alpha],
            }
        )

    def at(self, times: Any) -> pd.DataFrame:
        """Survival at chosen times (step function, right-continuous).

        Before the first observed time S = 1 with se 0; after the last observed time the
        estimate is undefined and the row holds NaN (R's ``summary(fit, times)`` drops it).
        """
        query = query_times(times)
        table_times = self.table["time"].to_numpy()
        index = np.searchsorted(table_times, query, side="right") - 1
        out = {"time": query}
        before = index < 0
        after = query > table_times[-1]
        safe_index = np.clip(index, 0, None)
        for column, start_value in (("survival", 1.0), ("se", 0.0), ("lower", 1.0), ("upper", 1.0)):
            values = self.table[column].to_numpy()[safe_index].astype(float)
            values[before] = start_value
            values[after] = np.nan
            out[column] = values
        return pd.DataFrame(out)

    def risk_table(self, times: Any) -> pd.DataFrame:
        """Number at risk (follow-up >= t) and cumulative events and censorings up to t.

        This is the table printed under survival plots.
        """
        query = query_times(times)
        table_times = self.table["time"].to_numpy()
        at_risk = self.table["at_risk"].to_numpy()
        first_at_or_after = np.searchsorted(table_times, query, side="left")
        at_risk_padded = np.append(at_risk, 0)
        cumulative_events = np.concatenate(([0], np.cumsum(self.table["events"].to_numpy())))
        cumulative_censored = np.concatenate(([0], np.cumsum(self.table["censored"].to_numpy())))
        through = np.searchsorted(table_times, query, side="right")
        return pd.DataFrame(
            {
                "time": query,
                "at_risk": at_risk_padded[first_at_or_after].astype(np.int64),
                "events": cumulative_events[through].astype(np.int64),
                "censored": cumulative_censored[through].astype(np.int64),
            }
        )

    def rmst(self, tau: float) -> RMSTResult:
        """Restricted mean survival time: the area under S(t) from 0 to ``tau``.

        The standard error is R's (``survival:::survmean`` with ``rmean = tau``):
        ``sqrt(sum_k A_k^2 d_k / (n_k (n_k - d_k)))`` with ``A_k`` the area under the curve
        from the k-th distinct time to ``tau``.

        References
        ----------
        Klein JP, Moeschberger ML (2003). Survival Analysis, section 4.5.
        """
        tau = float(tau)
        if not np.isfinite(tau):
            raise ValueError("tau must be a finite time")
        table_times = self.table["time"].to_numpy()
        survival = self.table["survival"].to_numpy()
        at_risk = self.table["at_risk"].to_numpy().astype(float)
        events = self.table["events"].to_numpy().astype(float)
        keep = table_times <= tau
        start = self._start_time
        if not keep.any():
            estimate = tau - start
            se = 0.0
        else:
            kept_times = np.append(table_times[keep], tau)
            kept_survival = survival[keep]
            width = np.diff(np.concatenate(([start], kept_times)))
            rectangles = width * np.concatenate(([1.0], kept_survival))
            estimate = float(rectangles.sum() + start)
            with np.errstate(divide="ignore", invalid="ignore"):
                hazard_var = np.where(
                    at_risk[keep] - events[keep] == 0,
                    0.0,
                    events[keep] / (at_risk[keep] * (at_risk[keep] - events[keep])),
                )
            area_after = np.cumsum(rectangles[1:][::-1])[::-1]
            se = float(np.sqrt(np.sum(area_after**2 * hazard_var)))
        z = z_value(self.alpha)
        return RMSTResult(
            tau=tau,
            estimate=estimate,
            se=se,
            lower=max(estimate - z * se, 0.0),
            upper=min(estimate + z * se, tau - min(start, 0.0)),
            alpha=self.alpha,
        )


def _r_median(curve: np.ndarray, times: np.ndarray) -> float:
    """R's rule for the time a curve reaches 0.5 (``survival:::survmean``'s ``minmin``).

    The first time the curve is <= 0.5; if it is exactly 0.5 there and falls lower later,
    the midpoint between that time and the time it falls below 0.5.
    """
    keep = ~np.isnan(curve) & (curve < 0.5 + _MEDIAN_TOLERANCE)
    if not keep.any():
        return float("nan")
    kept_curve = curve[keep]
    kept_times = times[keep]
    if abs(kept_curve[0] - 0.5) < _MEDIAN_TOLERANCE:
        lower = np.flatnonzero(kept_curve < kept_curve[0])
        if len(lower):
            return float((kept_times[0] + kept_times[lower[0]]) / 2.0)
    return float(kept_times[0])


def pointwise_interval(
    survival: np.ndarray, log_se: np.ndarray, ci: str, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval for S(t) as R's ``survfit`` (``survfit_confint``) builds it.

    ``log_se`` is the Greenwood standard error of log S(t). Where S(t) = 1 the interval is
    (1, 1); where S(t) = 0 the "log" and "log-log" intervals are undefined (NaN), as in R.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci == "plain":
            half = z * log_se * survival
            half = np.where(survival == 0, np.nan, half)
            lower = np.maximum(survival - half, 0.0)
            upper = np.minimum(survival + half, 1.0)
        elif ci == "log":
            positive = np.where(survival > 0, survival, np.nan)
            lower = np.exp(np.log(positive) - z * log_se)
            upper = np.minimum(np.exp(np.log(positive) + z * log_se), 1.0)
        elif ci == "log-log":
            inner = np.where((survival > 0) & (survival < 1), survival, np.nan)
            log_s = np.log(inner)
            shift = z * log_se / log_s
            lower = np.exp(-np.exp(np.log(-log_s) - shift))
            upper = np.exp(-np.exp(np.log(-log_s) + shift))
        else:
            raise ValueError(f"ci must be one of {CI_TYPES}, got {ci!r}")
        at_one = survival >= 1.0
        lower = np.where(at_one, 1.0, lower)
        upper = np.where(at_one, 1.0, upper)
    return lower, upper


def kaplan_meier(
    time: Any, event: Any, ci: CIType = "log-log", alpha: float = 0.05, timefix: bool = True
) -> KaplanMeierResult:
    """Kaplan-Meier estimate of the survival function for right-censored data.

    Parameters
    ----------
    time : array-like of float
        Follow-up time for each subject (any unit; results are in the same unit, e.g. hours for
        response onset, days for durability). Must be finite.
    event : array-like of bool or 0/1
        1/True if the event was observed at ``time``, 0/False if censored there.
    ci : {"log-log", "log", "plain"}
        Scale of the pointwise interval: log(-log S) (default), log S (R's default), or S.
    alpha : float
        1 - confidence level of the intervals (0.05 gives 95% intervals).
    timefix : bool
        Treat times equal up to rounding error as tied (R's ``survfit(timefix = TRUE)``, the
        default there too; ``_common.tied_times``): 3.8 h computed as 0.1 + 3.7 and as 3.8 is
        then one time in ``table``, listed at the smaller of the two values. False keeps every
        distinct float as its own time.

    Returns
    -------
    KaplanMeierResult

    Notes
    -----
    Ties: events precede censorings at the same time (censored subjects count as at risk).
    Greenwood variance: Var(log S(t)) = sum_{t_k <= t} d_k / (n_k (n_k - d_k)).

    References
    ----------
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. JASA 53.
    Therneau T. A Package for Survival Analysis in R (``survfit``, ``print.survfit``).
    """
    if ci not in CI_TYPES:
        raise ValueError(f"ci must be one of {CI_TYPES}, got {ci!r}")
    z = z_value(alpha)
    time_values, event_values = as_time_event(time, event)
    if timefix:
        time_values = tied_times(time_values)
    n = len(time_values)

    # Two plain sorts (all times, event times) are several times faster than an argsort.
    sorted_times = np.sort(time_values)
    starts = group_starts(sorted_times)
    distinct_times = sorted_times[starts]
    counts = np.diff(np.append(starts, n))
    sorted_event_times = np.sort(time_values[event_values])
    event_starts = group_starts(sorted_event_times)
    events = np.zeros(len(distinct_times), dtype=np.int64)
    events[np.searchsorted(distinct_times, sorted_event_times[event_starts])] = np.diff(
        np.append(event_starts, len(sorted_event_times))
    )
    censored = counts - events
    at_risk = n - np.concatenate(([0], np.cumsum(counts)[:-1]))

    events_f = events.astype(float)
    at_risk_f = at_risk.astype(float)
    survival = np.cumprod(1.0 - events_f / at_risk_f)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_var = np.cumsum(events_f / (at_risk_f * (at_risk_f - events_f)))
    log_se = np.sqrt(log_var)
    with np.errstate(invalid="ignore"):
        se = survival * log_se
    lower, upper = pointwise_interval(survival, log_se, ci, z)

    table = pd.DataFrame(
        {
            "time": distinct_times,
            "survival": survival,
            "se": se,
            "lower": lower,
            "upper": upper,
            "at_risk": at_risk,
            "events": events,
            "censored": censored,
        }
    )
    median = _r_median(survival, distinct_times)
    median_ci = (_r_median(lower, distinct_times), _r_median(upper, distinct_times))
    n_events = int(events.sum())
    return KaplanMeierResult(
        table=table,
        median=median,
        median_ci=median_ci,
        ci=ci,
        alpha=float(alpha),
        n=n,
        n_events=n_events,
        n_censored=n - n_events,
        _start_time=min(0.0, float(distinct_times[0])),
    )
