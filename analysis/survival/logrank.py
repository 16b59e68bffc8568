"""Weighted log-rank tests (log-rank, Wilcoxon, Tarone-Ware, Fleming-Harrington), stratified."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.survival._common import as_time_event, chi2_sf, tied_times

WEIGHTS = ("logrank", "wilcoxon", "tarone-ware", "fleming-harrington")
Weights = Literal["logrank", "wilcoxon", "tarone-ware", "fleming-harrington"]


@dataclass(frozen=True)
class LogRankResult:
    """Result of a (weighted, optionally stratified) K-sample log-rank test.

    Attributes
    ----------
    statistic, dof, p_value : the chi-square statistic, its degrees of freedom (groups with a
        positive expected count minus one, as R's ``survdiff``) and upper-tail p-value.
    table : DataFrame, one row per group: ``group``, ``n`` (subjects), ``events`` (observed
        events, unweighted), ``observed`` and ``expected`` (weighted sums, as R's ``survdiff``
        reports them; equal to the event counts for the unweighted log-rank test) and
        ``variance`` (diagonal of the variance of observed - expected).
    covariance : DataFrame, the full K x K variance matrix of observed - expected.
    weights, rho, gamma : the weighting used. n, n_events, n_strata : counts.
    """

    statistic: float
    dof: int
    p_value: float
    table: pd.DataFrame = field(repr=False)
    covariance: pd.DataFrame = field(repr=False)
    weights: str
    rho: float
    gamma: float
    n: int
    n_events: int
    n_strata: int

    def __repr__(self) -> str:
        return (
            f"<LogRankResult: {self.weights} test, fitted with {self.n} observations "
            f"({self.n_events} events, {len(self.table)} groups, {self.n_strata} strata); "
            f"chi-square {self.statistic:.4g} on {self.dof} df, p = {self.p_value:.4g}>"
        )

    def summary(self) -> pd.DataFrame:
        """One-row table: test, statistic, dof, p_value, n, events, groups, strata."""
        return pd.DataFrame(
            {
                "test": [self.weights],
                "statistic": [self.statistic],
                "dof": [self.dof],
                "p_value": [self.p_value],
                "n": [self.n],
                "events": [self.n_events],
                "groups": [len(self.table)],
                "strata": [self.n_strata],
            }
        )


def _codes(values: Any, what: str, n: int) -> tuple[np.ndarray, pd.Index]:
    series = pd.Series(values, copy=False)
    if len(series) != n:
        raise ValueError(f"{what} must have the same length as time ({len(series)} vs {n})")
    if series.isna().any():
        raise ValueError(f"{what} has {int(series.isna().sum())} missing value(s); drop them first")
    codes, levels = pd.factorize(series, sort=True)
    return codes.astype(np.intp), pd.Index(levels)


def logrank(
    time: Any,
    event: Any,
    groups: Any,
    strata: Any = None,
    weights: Weights = "logrank",
    rho: float = 0.0,
    gamma: float = 0.0,
    timefix: bool = True,
) -> LogRankResult:
    """Compare survival curves of K groups with a weighted log-rank test.

    Parameters
    ----------
    time : array-like of float
        Follow-up time (any unit).
    event : array-like of bool or 0/1
        1 if the event was observed at ``time``, 0 if censored.
    groups : array-like
        Group label of each subject (sorted order defines the table's row order).
    strata : array-like, optional
        Stratum of each subject: risk sets and weights are formed within strata and the
        observed - expected sums are added over strata (R's ``strata()`` in ``survdiff``).
    weights : {"logrank", "wilcoxon", "tarone-ware", "fleming-harrington"}
        Weight at each event time: 1; the number at risk n (Gehan-Breslow); sqrt(n);
        S(t-)^rho * (1 - S(t-))^gamma with S the pooled Kaplan-Meier estimate within the stratum
        (R's ``survdiff(rho=)`` is Fleming-Harrington with ``gamma = 0``).
    rho, gamma : float
        Fleming-Harrington exponents (lifelines calls them ``p`` and ``q``); used only with
        ``weights="fleming-harrington"``.
    timefix : bool
        Treat times equal up to rounding error as tied (R's ``survdiff(timefix = TRUE)``, the
        default there too; ``_common.tied_times``): hours computed from minutes differ in the
        last bits, and would otherwise be separate event times.

    Returns
    -------
    LogRankResult

    References
    ----------
    Harrington DP, Fleming TR (1982). A class of rank test procedures for censored survival
    data. Biometrika 69, 553-566. Klein JP, Moeschberger ML (2003), section 7.3.
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if weights != "fleming-harrington" and (rho != 0.0 or gamma != 0.0):
        raise ValueError('rho and gamma apply only to weights="fleming-harrington"')
    time_values, event_values = as_time_event(time, event)
    if timefix:
        time_values = tied_times(time_values)
    n = len(time_values)
    group_codes, group_levels = _codes(groups, "groups", n)
    if strata is None:
        stratum_codes = np.zeros(n, dtype=np.intp)
        n_strata = 1
    else:
        stratum_codes, stratum_levels = _codes(strata, "strata", n)
        n_strata = len(stratum_levels)
    n_groups = len(group_levels)

    order = np.lexsort((time_values, stratum_codes))
    sorted_times = time_values[order]
    sorted_strata = stratum_codes[order]
    new_key = np.ones(n, dtype=bool)
    new_key[1:] = (sorted_times[1:] != sorted_times[:-1]) | (sorted_strata[1:] != sorted_strata[:-1])
    key_index = np.cumsum(new_key) - 1
    n_keys = int(key_index[-1]) + 1
    key_stratum = sorted_strata[new_key]

    flat = key_index * n_groups + group_codes[order]
    counts = np.bincount(flat, minlength=n_keys * n_groups).reshape(n_keys, n_groups)
    deaths = np.bincount(flat, weights=event_values[order], minlength=n_keys * n_groups).reshape(
        n_keys, n_groups
    )
    # Number at risk: reverse cumulative counts within each stratum (exact integer arithmetic).
    reverse_cumulative = np.cumsum(counts[::-1], axis=0)[::-1]
    stratum_last_key = np.append(np.flatnonzero(key_stratum[1:] != key_stratum[:-1]), n_keys - 1)
    padded = np.vstack([reverse_cumulative, np.zeros((1, n_groups), dtype=reverse_cumulative.dtype)])
    after_stratum = padded[stratum_last_key + 1]
    at_risk = (reverse_cumulative - after_stratum[key_stratum]).astype(float)

    at_risk_total = at_risk.sum(axis=1)
    deaths_total = deaths.sum(axis=1)
    if weights == "logrank":
        weight = np.ones(n_keys)
    elif weights == "wilcoxon":
        weight = at_risk_total
    elif weights == "tarone-ware":
        weight = np.sqrt(at_risk_total)
    else:
        step = 1.0 - deaths_total / at_risk_total
        survival_before = np.empty(n_keys)
        starts = np.concatenate(([0], stratum_last_key[:-1] + 1))
        for start, stop in zip(starts, stratum_last_key + 1, strict=True):
            survival_within = np.cumprod(step[start:stop])
            survival_before[start:stop] = np.concatenate(([1.0], survival_within[:-1]))
        weight = survival_before**rho * (1.0 - survival_before) ** gamma

    share = at_risk / at_risk_total[:, None]
    observed = (weight[:, None] * deaths).sum(axis=0)
    expected = ((weight * deaths_total)[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hypergeometric = np.where(
            at_risk_total > 1,
            deaths_total * (at_risk_total - deaths_total) / (at_risk_total - 1.0),
            0.0,
        )
    scale = weight**2 * hypergeometric
    covariance = np.diag((scale[:, None] * share).sum(axis=0)) - (share * scale[:, None]).T @ share

    # As survdiff: drop groups with no expected events, then one more (the sum is zero).
    usable = np.flatnonzero(expected > 0)
    dof = len(usable) - 1
    if dof < 1:
        statistic = 0.0
    else:
        keep = usable[1:]
        difference = (observed - expected)[keep]
        statistic = float(difference @ np.linalg.solve(covariance[np.ix_(keep, keep)], difference))

    table = pd.DataFrame(
        {
            "group": group_levels,
            "n": np.bincount(group_codes, minlength=n_groups),
            "events": np.bincount(group_codes, weights=event_values, minlength=n_groups).astype(np.int64),
            "observed": observed,
            "expected": expected,
            "variance": np.diag(covariance).copy(),
        }
    )
    return LogRankResult(
        statistic=statistic,
        dof=max(dof, 0),
        p_value=chi2_sf(statistic, dof),
        table=table,
        covariance=pd.DataFrame(covariance, index=group_levels, columns=group_levels),
        weights=weights,
        rho=float(rho),
        gamma=float(gamma),
        n=n,
        n_events=int(event_values.sum()),
        n_strata=n_strata,
    )
