"""Private helpers shared by the Kaplan-Meier, log-rank and Cox estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def as_time_event(time: Any, event: Any, *, what: str = "time") -> tuple[np.ndarray, np.ndarray]:
    """Validate follow-up times and event indicators; return float times and boolean events.

    Raises ``ValueError`` naming the first offending rows, so an analyst sees which input is
    wrong rather than a NaN curve.
    """
    time_values = np.asarray(pd.Series(time, copy=False).to_numpy(dtype=float, na_value=np.nan), dtype=float)
    event_series = pd.Series(event, copy=False)
    if time_values.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    if len(event_series) != len(time_values):
        raise ValueError(
            f"{what} and event must have the same length ({len(time_values)} vs {len(event_series)})"
        )
    if len(time_values) == 0:
        raise ValueError(f"{what} is empty: at least one observation is needed")
    bad_time = ~np.isfinite(time_values)
    if bad_time.any():
        rows = np.flatnonzero(bad_time)[:5].tolist()
        raise ValueError(
            f"{what} has {int(bad_time.sum())} missing or infinite value(s) (positions {rows}...); "
            "drop or impute them before estimating"
        )
    if event_series.dtype == bool:
        event_values = event_series.to_numpy(dtype=bool)
    else:
        numeric = pd.to_numeric(event_series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad_event = ~np.isin(numeric, (0.0, 1.0))
        if bad_event.any():
            rows = np.flatnonzero(bad_event)[:5].tolist()
            raise ValueError(
                f"event must be 0/1 or boolean (1 = event observed, 0 = censored); "
                f"{int(bad_event.sum())} value(s) are missing or not 0/1 (positions {rows}...)"
            )
        event_values = numeric == 1.0
    return time_values, event_values


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
