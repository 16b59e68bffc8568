"""Private helpers shared by the survival estimators (input checks, normal and chi-square tails)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError


def as_float_array(values: Any, what: str) -> np.ndarray:
    """One-dimensional float array (missing values as NaN)."""
    array = np.asarray(pd.Series(values, copy=False).to_numpy(dtype=float, na_value=np.nan), dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    return array


def query_times(times: Any) -> np.ndarray:
    """Times at which a fitted curve is evaluated, as a float array (NaN refused)."""
    query = np.atleast_1d(np.asarray(times, dtype=float))
    if np.isnan(query).any():
        raise ValueError("times must not contain NaN")
    return query


def as_bounds(lower: Any, upper: Any, *, allow_zero_exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Check lower/upper bounds of event times; return float arrays.

    An exact event at time 0 is refused unless ``allow_zero_exact`` (log-time models cannot
    take it; the Turnbull NPMLE can).
    """
    lower_values = as_float_array(lower, "lower")
    upper_values = as_float_array(upper, "upper")
    if len(lower_values) != len(upper_values):
        raise ValueError(f"lower and upper must have the same length ({len(lower_values)} vs {len(upper_values)})")
    if len(lower_values) == 0:
        raise ValueError("no observations: lower and upper are empty")
    problems = []
    for name, bad in (
        ("lower is missing (NaN)", np.isnan(lower_values)),
        ("upper is missing (NaN; use inf for right-censored)", np.isnan(upper_values)),
        ("lower is negative or infinite", (lower_values < 0) | np.isinf(lower_values)),
        ("upper is negative", upper_values < 0),
        ("lower > upper", lower_values > upper_values),
        (
            "exact event at time 0 (log-time models need positive times)",
            (lower_values == 0) & (upper_values == 0) & (not allow_zero_exact),
        ),
    ):
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            problems.append(f"{int(bad.sum())} row(s) where {name} (positions {rows}...)")
    if problems:
        raise ValueError("invalid event-time bounds: " + "; ".join(problems))
    return lower_values, upper_values


def censoring_kinds(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Masks of exact, right-, left- and interval-censored rows of checked bounds (see ``as_bounds``).

    A row with ``lower = 0`` and ``upper = inf`` counts as right-censored.
    """
    exact = lower == upper
    right = ~exact & np.isinf(upper)
    left = ~exact & (lower == 0) & ~right
    interval = ~exact & ~right & ~left
    return exact, right, left, interval


def as_times(time: Any, *, what: str = "time", non_negative: bool = False) -> np.ndarray:
    """Validate follow-up times (one per subject, finite; ``non_negative``: counted from the
    time origin); return them as floats. Raises ``AnalysisError`` naming the first offending
    rows, so an analyst sees which input is wrong rather than a NaN curve."""
    try:
        values = as_float_array(time, what)
    except (TypeError, ValueError) as error:
        raise AnalysisError(f"{what} must be numbers (one follow-up time per subject): {error}") from error
    if len(values) == 0:
        raise AnalysisError(f"{what} is empty: at least one subject is needed")
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise AnalysisError(
            f"{what} has {int(bad.sum())} missing or infinite value(s) (positions {rows}...); "
            "drop those subjects or give their last follow-up time"
        )
    if non_negative:
        negative = values < 0
        if negative.any():
            rows = np.flatnonzero(negative)[:5].tolist()
            raise AnalysisError(
                f"{what} has {int(negative.sum())} negative value(s) (positions {rows}...); times are "
                "counted from the time origin and cannot be negative"
            )
    return values


def as_time_event(time: Any, event: Any, *, what: str = "time") -> tuple[np.ndarray, np.ndarray]:
    """Validate follow-up times (``as_times``) and event indicators; return float times and
    boolean events. Raises ``AnalysisError`` (a ValueError) naming the first offending rows."""
    time_values = as_times(time, what=what)
    event_series = pd.Series(event, copy=False)
    if len(event_series) != len(time_values):
        raise AnalysisError(
            f"{what} and event must have the same length ({len(time_values)} vs {len(event_series)})"
        )
    if event_series.dtype == bool:
        event_values = event_series.to_numpy(dtype=bool)
    else:
        numeric = pd.to_numeric(event_series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad_event = ~np.isin(numeric, (0.0, 1.0))
        if bad_event.any():
            rows = np.flatnonzero(bad_event)[:5].tolist()
            raise AnalysisError(
                f"event must be 0/1 or boolean (1 = event observed, 0 = censored); "
                f"{int(bad_event.sum())} value(s) are missing or not 0/1 (positions {rows}...)"
            )
        event_values = numeric == 1.0
    return time_values, event_values


# R's survival: times closer than this (absolutely or relative to their mean) are one time
TIE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def tied_times(time: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """``time`` with values equal up to rounding error made equal, as R's ``survival::aeqSurv``
    (``timefix = TRUE`` in survdiff, survfit, coxph and finegray): among the sorted distinct finite
    times, neighbours whose gap is at most ``tolerance``, absolutely or relative to the mean
    absolute time, are one time, the smallest of their chain. Without it 3.8 h computed two ways
    (differing by 3e-15) are two event times. The one rule behind ``timefix`` in ``logrank``,
    ``kaplan_meier``, ``cox``, ``cumulative_incidence`` and ``fine_gray``; apply it to all rows
    at once (R ties the whole response, not each group). R's survreg has no timefix: the
    parametric fits take times as given."""
    finite = np.isfinite(time)
    values = np.unique(time[finite])
    if values.size < 2:
        return time
    gaps = np.diff(values)
    tied = (gaps <= tolerance) | (gaps / np.mean(np.abs(values)) <= tolerance)
    if not tied.any():
        return time
    cuts = values[np.r_[True, ~tied]]
    # only the few values that move are looked up (a search of every time among all the cuts
    # costs ten times the sort above); NaN and inf are never among them
    moved = values[1:][tied]
    target = cuts[np.searchsorted(cuts, moved, side="right") - 1]
    index = np.minimum(np.searchsorted(moved, time), moved.size - 1)
    hit = moved[index] == time
    out = time.copy()
    out[hit] = target[index[hit]]
    return out


def z_value(alpha: float) -> float:
    """Two-sided standard normal quantile for a ``1 - alpha`` interval."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail probability of a chi-square statistic (nan when it has no degrees of freedom)."""
    if dof <= 0 or not np.isfinite(statistic):
        return float("nan")
    return float(stats.chi2.sf(statistic, dof))


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Start positions of runs of equal values in an already sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.intp)
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate(([0], change)).astype(np.intp)
