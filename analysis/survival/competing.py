"""Competing risks: Aalen-Johansen cumulative incidence, Gray's test and Fine-Gray regression.

Event codes are integers: 0 = censored, 1..k = the cause of the first event (relapse, rescue
treatment, dropout, ...). Times are in the caller's unit (hours, days, months) and results are
in the same unit::

    import analysis
    cif = analysis.cumulative_incidence(frame["time_days"], frame["event"], group=frame["course"])
    cif.at([7, 14, 28])          # group, event, time, cif, se, lower, upper
    cif.test                     # Gray's test per event: statistic, dof, p_value
    analysis.fine_gray(frame, duration="time_days", event="event", covariates=["age", "sex"]).table

R equivalents: ``survival::survfit(Surv(time, factor(event)) ~ group)`` (multi-state
Aalen-Johansen, the same standard errors and "log" intervals), ``cmprsk::cuminc`` (the same
estimates and Gray's test) and ``cmprsk::crr`` (the same Fine-Gray coefficients and robust
standard errors). The tests embed the R scripts and their output.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.survival._common import as_times, chi2_sf, group_starts, query_times, tied_times, z_value
from analysis.survival.cox import _design

__all__ = [
    "CumulativeIncidenceResult",
    "FineGrayResult",
    "cumulative_incidence",
    "fine_gray",
]

ALL_GROUP = "all"
TABLE_COLUMNS = ["group", "event", "time", "n_risk", "n_event", "n_censor", "cif", "se", "lower", "upper"]
AT_COLUMNS = ["group", "event", "time", "cif", "se", "lower", "upper"]
TEST_COLUMNS = ["event", "statistic", "dof", "p_value"]
_MAX_ITERATIONS = 50
_MAX_HALVINGS = 30
_GRAY_BLOCK_ELEMENTS = 2_000_000  # (time, group, group) values held at once in Gray's test


# ----------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------
def _check_codes(event: Any, n: int, what: str = "event") -> np.ndarray:
    series = pd.Series(event, copy=False)
    if len(series) != n:
        raise AnalysisError(f"time and {what} must have the same length ({n} vs {len(series)})")
    if series.dtype == bool:
        return series.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    not_number = np.isnan(numeric)
    if not_number.any():
        rows = np.flatnonzero(not_number)[:5].tolist()
        examples = sorted({str(v) for v in series.iloc[rows]})
        raise AnalysisError(
            f"{what} codes must be integers (0 = censored, 1, 2, ... = the cause of the event); "
            f"{int(not_number.sum())} value(s) are missing or not numbers (positions {rows}..., e.g. {examples}); "
            "recode labels such as 'relapse' or 'rescue' to 1, 2, ..."
        )
    fractional = numeric != np.round(numeric)
    if fractional.any():
        rows = np.flatnonzero(fractional)[:5].tolist()
        raise AnalysisError(
            f"{what} codes must be whole numbers (0 = censored, 1, 2, ... = causes); "
            f"{int(fractional.sum())} value(s) have a fractional part (positions {rows}...)"
        )
    negative = numeric < 0
    if negative.any():
        rows = np.flatnonzero(negative)[:5].tolist()
        raise AnalysisError(
            f"{what} codes must be 0 (censored) or a positive cause number; "
            f"{int(negative.sum())} value(s) are negative (positions {rows}...)"
        )
    codes = numeric.astype(np.int64)
    if not (codes > 0).any():
        raise AnalysisError(
            f"every subject is censored ({what} is 0 for all {n}): there is no event whose cumulative "
            "incidence could be estimated"
        )
    return codes


def _check_groups(group: Any, n: int) -> tuple[np.ndarray, list[Any], str | None]:
    """Integer group codes (0..g-1), the group labels in order, and the grouping's name."""
    if group is None:
        return np.zeros(n, dtype=np.intp), [ALL_GROUP], None
    series = pd.Series(group, copy=False)
    if len(series) != n:
        raise AnalysisError(f"time and group must have the same length ({n} vs {len(series)})")
    missing = series.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:5].tolist()
        raise AnalysisError(
            f"group is missing for {int(missing.sum())} subject(s) (positions {rows}...); drop them or "
            "give them a group label such as 'unknown'"
        )
    # categories keep a categorical's own order, else numbers by value and labels alphabetically
    categorical = series.astype("category") if not isinstance(series.dtype, pd.CategoricalDtype) else series
    categorical = categorical.cat.remove_unused_categories()
    labels = list(categorical.cat.categories)
    name = None if series.name is None else str(series.name)
    return categorical.cat.codes.to_numpy(dtype=np.intp), labels, name


def _log_interval(cif: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """R's ``survfit`` "log" interval for a probability: p exp(+/- z se / p), upper capped at 1.

    Where the estimate and its SE are 0 (no event yet) the interval is (0, 0); R prints NA there.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        spread = np.exp(z * se / cif)
        lower = np.where(cif > 0, cif / spread, 0.0)
        upper = np.where(cif > 0, np.minimum(cif * spread, 1.0), 0.0)
    return lower, upper


# ----------------------------------------------------------------------------------------
# Aalen-Johansen estimate per group
# ----------------------------------------------------------------------------------------
def _aalen_johansen(time: np.ndarray, codes: np.ndarray, causes: np.ndarray) -> dict[str, np.ndarray]:
    """Aalen-Johansen cumulative incidence of each cause in one group, with R's variance.

    The variance is the infinitesimal-jackknife (IJ) variance ``survfit`` reports for
    multi-state curves: the sum over subjects of the squared influence of each subject on
    F_k(t). With the all-cause hazard h_m = d_m / n_m, the cause-k hazard h_km, S the
    all-cause Kaplan-Meier and F_km the cumulative incidence at the m-th distinct time, a
    subject at risk at time m influences F_k(t_j) (t_m <= t_j) by
    ``[-(F_kj - F_km) (dN_m - Y h_m) / (1 - h_m) + S_(m-1) (dN_km - Y h_km)] / n_m``; the
    influences at different times are uncorrelated across subjects, so the variance is a sum over
    times of three kinds of subjects (cause-k event, other event, no event) and, as a quadratic
    in F_kj, three running sums.
    """
    n = len(time)
    order = np.argsort(time, kind="stable")
    sorted_time = time[order]
    sorted_codes = codes[order]
    starts = group_starts(sorted_time)
    distinct = sorted_time[starts]
    n_times = len(distinct)
    block = np.repeat(np.arange(n_times), np.diff(np.append(starts, n)))
    counts = np.diff(np.append(starts, n))
    n_risk = n - np.concatenate(([0], np.cumsum(counts)[:-1]))
    cause_index = np.searchsorted(causes, sorted_codes)  # codes of censored rows are never used
    events = np.zeros((len(causes), n_times))
    is_event = sorted_codes > 0
    np.add.at(events, (cause_index[is_event], block[is_event]), 1.0)
    all_events = events.sum(axis=0)
    censored = counts - all_events

    risk = n_risk.astype(float)
    hazard = all_events / risk
    survival = np.cumprod(1.0 - hazard)
    survival_before = np.concatenate(([1.0], survival[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(hazard < 1.0, hazard / (1.0 - hazard), 0.0)
    cif = np.cumsum(survival_before * events / risk, axis=1)
    variance = np.empty_like(cif)
    for k in range(len(causes)):
        cause_hazard = events[k] / risk
        f_k = cif[k]
        ones = np.ones(n_times)
        s0 = np.zeros(n_times)
        s1 = np.zeros(n_times)
        s2 = np.zeros(n_times)
        # (count, c0, c1): each kind of subject's influence is (c0 + c1 F_kj) / n_m
        for count, c0, c1 in (
            (events[k], f_k + survival_before * (1.0 - cause_hazard), -ones),
            (all_events - events[k], f_k - survival_before * cause_hazard, -ones),
            (risk - all_events, -(f_k * odds + survival_before * cause_hazard), odds),
        ):
            weight = count / risk**2
            s0 += weight * c0 * c0
            s1 += weight * c0 * c1
            s2 += weight * c1 * c1
        variance[k] = np.cumsum(s0) + 2.0 * f_k * np.cumsum(s1) + f_k**2 * np.cumsum(s2)
    return {
        "time": distinct,
        "n_risk": n_risk,
        "events": events,
        "censored": censored,
        "cif": cif,
        "se": np.sqrt(np.maximum(variance, 0.0)),
    }


# ----------------------------------------------------------------------------------------
# Gray's test
# ----------------------------------------------------------------------------------------
def _gray_test(time: np.ndarray, codes: np.ndarray, groups: np.ndarray, n_groups: int, cause: int) -> float:
    """Gray's (1988) K-sample test statistic for the cumulative incidence of ``cause``, rho = 0.

    The score and its variance follow ``cmprsk::cuminc`` (Gray's ``crstm`` routine, one
    stratum): at each distinct event time, group risk sets R_g, left-continuous group
    Kaplan-Meier S_g and cumulative incidences F_g give weights R_g / S_g; the score compares
    each group's cause events with its expected share, and the variance accumulates the
    influence terms of cause and other events, including the tie corrections of ``crstm``.
    All sums over time are array operations over (time, group).
    """
    order = np.argsort(time, kind="stable")
    sorted_time = time[order]
    kind = np.where(codes[order] == cause, 1, np.where(codes[order] > 0, 2, 0))
    sorted_group = groups[order]
    n = len(time)
    starts = group_starts(sorted_time)
    n_times = len(starts)
    block = np.repeat(np.arange(n_times), np.diff(np.append(starts, n)))
    counts = np.zeros((3, n_times, n_groups))
    np.add.at(counts, (kind, block, sorted_group), 1.0)
    leaving = counts.sum(axis=0)  # (time, group)
    at_risk = leaving[::-1].cumsum(axis=0)[::-1]  # number with time >= t, per group
    d1, d2 = counts[1], counts[2]
    with_events = (d1.sum(axis=1) + d2.sum(axis=1)) > 0
    # censoring-only times change nothing but the risk sets, which are counted above
    d1, d2, rs = d1[with_events], d2[with_events], at_risk[with_events]
    present = rs > 0
    safe_rs = np.where(present, rs, 1.0)
    factor = np.where(present, 1.0 - (d1 + d2) / safe_rs, 1.0)
    km = np.cumprod(factor, axis=0)  # right-continuous group KM
    km_before = np.vstack([np.ones((1, n_groups)), km[:-1]])
    f1 = np.cumsum(np.where(present, km_before * d1 / safe_rs, 0.0), axis=0)
    f1_before = np.vstack([np.zeros((1, n_groups)), f1[:-1]])
    nd1 = d1.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(present, rs / km_before, 0.0)  # t1 in crstm
        tq = np.where(present, rs * (1.0 - f1_before) / km_before, 0.0).sum(axis=1)
    tr = weight.sum(axis=1)
    pooled = np.cumsum(nd1 / tr)
    pooled_before = np.concatenate(([0.0], pooled[:-1]))

    with np.errstate(divide="ignore", invalid="ignore"):
        c_step = np.where(nd1 > 0, nd1 / (tr * (1.0 - pooled_before)), 0.0)
        score_terms = np.where(present, d1 - nd1[:, None] * rs * (1.0 - f1_before) / (km_before * tq[:, None]), 0.0)
        # cause events: every group with subjects at risk
        cause_time = (nd1 > 0)[:, None] & present
        t4_cause = np.where(km > 0, 1.0 - (1.0 - pooled[:, None]) / km, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1.0 - (nd1[:, None] - 1.0) / (tr[:, None] * km_before - 1.0), 1.0)
        t3_cause = np.where(cause_time, t5 * km_before * nd1[:, None] / (tr[:, None] * safe_rs), 0.0)
        # other-cause events: groups with such events and a positive KM
        other = (km > 0) & (d2 > 0)
        t4_other = np.where(other, (1.0 - pooled[:, None]) / np.where(km > 0, km, 1.0), 0.0)
        t5 = np.where(d2 > 1, 1.0 - (d2 - 1.0) / (safe_rs - 1.0), 1.0)
        t3_other = np.where(other, t5 * km_before**2 * d2 / safe_rs**2, 0.0)
    score = score_terms.sum(axis=0)[:-1]

    g1 = n_groups - 1
    variance = np.zeros((g1, g1))
    v2 = np.zeros((g1, n_groups))
    v3 = (t4_cause**2 * t3_cause).sum(axis=0) + (t4_other**2 * t3_other).sum(axis=0)
    # a_t = diag(t1) - t1 t1' / tr and its running sum c_t (weights nd1 / (tr (1 - F-))) are
    # (time, group, group) arrays: built in blocks of event times to bound memory with many groups
    identity = np.eye(n_groups)
    c_before = np.zeros((n_groups, n_groups))
    block_size = max(1, _GRAY_BLOCK_ELEMENTS // int(n_groups) ** 2)
    for begin in range(0, len(tr), block_size):
        rows = slice(begin, begin + block_size)
        w = weight[rows]
        a = w[:, :, None] * (identity[None] - w[:, None, :] / tr[rows, None, None])
        c = c_before + np.cumsum(a * c_step[rows, None, None], axis=0)
        c_before = c[-1]
        u = a[:, :g1, :] - t4_cause[rows, None, :] * c[:, :g1, :]  # (time, g1, group)
        v2 += np.einsum("tik,tk->ik", u, t4_cause[rows] * t3_cause[rows])
        variance += np.einsum("tik,tjk,tk->ij", u, u, t3_cause[rows])
        u = t4_other[rows, None, :] * c[:, :g1, :]
        v2 -= np.einsum("tik,tk->ik", u, t4_other[rows] * t3_other[rows])
        variance += np.einsum("tik,tjk,tk->ij", u, u, t3_other[rows])
    c_end = c_before[:g1]
    variance += (c_end * v3) @ c_end.T + c_end @ v2.T + v2 @ c_end.T
    # cuminc reports -1 when its QR of the variance is rank deficient (tolerance 1e-7); we say NaN
    singular_values = np.linalg.svd(variance, compute_uv=False)
    if not np.all(np.isfinite(singular_values)) or singular_values.min() <= 1e-7 * singular_values.max():
        return float("nan")
    return float(score @ np.linalg.solve(variance, score))


# ----------------------------------------------------------------------------------------
# result and public function
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CumulativeIncidenceResult:
    """Fitted cumulative incidence curves of competing events (never changes after fitting).

    Attributes
    ----------
    table : DataFrame
        The steps: one row per group, event code and distinct observed time in the group:
        ``group``, ``event``, ``time``, ``n_risk`` (follow-up >= time), ``n_event`` (events of
        this code at the time), ``n_censor``, ``cif`` (Aalen-Johansen estimate, right-continuous),
        ``se`` (R ``survfit``'s infinitesimal-jackknife standard error), ``lower``, ``upper``
        (pointwise ``1 - alpha`` interval on the log scale, as ``survfit``'s default).
    test : DataFrame
        Gray's test across groups per event code: ``event``, ``statistic``, ``dof``,
        ``p_value`` (as ``cmprsk::cuminc``); empty without a group or with one group.
    counts : DataFrame
        Per group: ``n``, ``n_censored`` and ``n_event_<code>`` for each event code.
    events : tuple of int (the event codes seen), groups : tuple (labels in order),
    group_name : name of the grouping (the Series name) or None, alpha, n, n_censored.
    notes : tuple of str, choices and problems in words.
    """

    table: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    counts: pd.DataFrame = field(repr=False)
    events: tuple[int, ...]
    groups: tuple[Any, ...]
    group_name: str | None
    alpha: float
    n: int
    n_censored: int
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        grouping = (
            "no groups" if self.group_name is None and self.groups == (ALL_GROUP,)
            else f"{len(self.groups)} group(s) ({self.group_name or 'group'}: "
            + ", ".join(str(g) for g in self.groups) + ")"
        )
        tests = ""
        if not self.test.empty:
            tests = "; Gray's test p " + ", ".join(
                f"{p:.3g} (event {e})" for e, p in zip(self.test["event"], self.test["p_value"], strict=True)
            )
        return (
            f"<CumulativeIncidenceResult: Aalen-Johansen cumulative incidence of events {list(self.events)}, "
            f"{grouping}; fitted with {self.n} observations, {self.n_censored} censored{tests}>"
        )

    def at(self, times: Any) -> pd.DataFrame:
        """Cumulative incidence, SE and interval at chosen times (same unit as the input).

        One row per group, event and time. Before a group's first observed time the incidence
        is 0 (SE 0, interval (0, 0)); after its last follow-up time it is unknown (NaN), as R's
        ``summary(fit, times)`` drops such times.
        """
        query = query_times(times)
        frames = []
        for (group, event), steps in self.table.groupby(["group", "event"], sort=False, observed=True):
            step_times = steps["time"].to_numpy()
            index = np.searchsorted(step_times, query, side="right") - 1
            before = index < 0
            after = query > step_times[-1]
            safe = np.clip(index, 0, None)
            out: dict[str, Any] = {"group": group, "event": event, "time": query}
            for column in ("cif", "se", "lower", "upper"):
                values = steps[column].to_numpy()[safe].astype(float)
                values[before] = 0.0
                values[after] = np.nan
                out[column] = values
            frames.append(pd.DataFrame(out))
        result = pd.concat(frames, ignore_index=True)[AT_COLUMNS]
        return result.astype({"event": np.int64})

    def risk_table(self, times: Any) -> pd.DataFrame:
        """Per group and time: ``n_risk`` (follow-up >= time), and the cumulative counts up to the
        time of censorings (``n_censor``) and of each event code (``n_event_<code>``): the table
        printed under cumulative incidence plots."""
        query = query_times(times)
        frames = []
        first_event = self.events[0]
        for group, steps in self.table.groupby("group", sort=False, observed=True):
            steps = steps[steps["event"] == first_event]
            step_times = steps["time"].to_numpy()
            first_at_or_after = np.searchsorted(step_times, query, side="left")
            through = np.searchsorted(step_times, query, side="right")
            out: dict[str, Any] = {
                "group": group,
                "time": query,
                "n_risk": np.append(steps["n_risk"].to_numpy(), 0)[first_at_or_after],
                "n_censor": np.concatenate(([0], np.cumsum(steps["n_censor"].to_numpy())))[through],
            }
            group_steps = self.table[self.table["group"] == group]
            for code in self.events:
                counts = group_steps.loc[group_steps["event"] == code, "n_event"].to_numpy()
                out[f"n_event_{code}"] = np.concatenate(([0], np.cumsum(counts)))[through]
            frames.append(pd.DataFrame(out))
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per group and event: counts, the last follow-up time and the cumulative
        incidence there with its interval, and Gray's p-value for the event (NaN without groups)."""
        last = self.table.groupby(["group", "event"], sort=False, observed=True).tail(1)
        events = self.table.groupby(["group", "event"], sort=False, observed=True)["n_event"].sum()
        out = last[["group", "event", "time", "cif", "se", "lower", "upper"]].rename(columns={"time": "last_time"})
        out = out.set_index(["group", "event"])
        out.insert(0, "n_event", events)
        n_by_group = self.counts.set_index("group")["n"]
        out.insert(0, "n", n_by_group.reindex(out.index.get_level_values("group")).to_numpy())
        p_values = self.test.set_index("event")["p_value"] if not self.test.empty else pd.Series(dtype=float)
        out["gray_p_value"] = p_values.reindex(out.index.get_level_values("event")).to_numpy()
        out.attrs.update({"alpha": self.alpha, "variance": "infinitesimal jackknife (survfit)", "ci": "log"})
        return out.reset_index()


def cumulative_incidence(
    time: Any, event: Any, group: Any = None, alpha: float = 0.05, timefix: bool = True
) -> CumulativeIncidenceResult:
    """Aalen-Johansen cumulative incidence of competing events, with Gray's test across groups.

    Parameters
    ----------
    time : array-like of float
        Time to the first event or to censoring, for each subject (any unit, >= 0; results are in
        the same unit).
    event : array-like of int
        0 = censored at ``time``; 1, 2, ... = the cause of the event at ``time`` (e.g. 1 =
        relapse, 2 = rescue treatment). Booleans count as 0/1.
    group : array-like, optional
        Group label of each subject (a categorical keeps its category order, else labels are
        sorted). Curves are estimated per group and compared with Gray's test.
    alpha : float
        1 - confidence level of the pointwise intervals.
    timefix : bool
        Treat times equal up to rounding error as tied, over all groups at once (R's
        ``survfit(timefix = TRUE)``, the default there too; ``_common.tied_times``), for the
        curves and Gray's test alike. ``cmprsk::cuminc`` has no such option and compares times
        exactly: ``timefix=False`` reproduces it on data with near-tied times.

    Returns
    -------
    CumulativeIncidenceResult

    Notes
    -----
    F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j with S the all-cause Kaplan-Meier estimate
    (events of all causes at a time precede censorings there). Standard errors are those of R's
    ``survfit`` for multi-state data (infinitesimal jackknife); ``cmprsk::cuminc`` prints Gray's
    delta-method variance instead, which agrees closely while many subjects are at risk and
    differs in the tail. The interval is R ``survfit``'s default "log" interval,
    F exp(+/- z se / F), capped at 1. Gray's test uses rho = 0 (``cuminc``'s default).

    References
    ----------
    Aalen OO, Johansen S (1978). An empirical transition matrix for non-homogeneous Markov
    chains based on censored observations. Scand J Stat 5, 141-150.
    Gray RJ (1988). A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. Ann Stat 16, 1141-1154.
    Therneau T, Crowson C, Atkinson E. Multi-state models and competing risks (survival vignette).
    """
    z = z_value(alpha)
    time_values = as_times(time, non_negative=True)
    if timefix:
        time_values = tied_times(time_values)
    n = len(time_values)
    codes = _check_codes(event, n)
    group_codes, labels, group_name = _check_groups(group, n)
    causes = np.unique(codes[codes > 0])

    frames = []
    count_rows = []
    for g, label in enumerate(labels):
        rows = group_codes == g
        fit = _aalen_johansen(time_values[rows], codes[rows], causes)
        n_times = len(fit["time"])
        lower, upper = _log_interval(fit["cif"], fit["se"], z)
        frames.append(
            pd.DataFrame(
                {
                    "group": np.repeat(np.array([label], dtype=object), len(causes) * n_times),
                    "event": np.repeat(causes, n_times),
                    "time": np.tile(fit["time"], len(causes)),
                    "n_risk": np.tile(fit["n_risk"], len(causes)),
                    "n_event": fit["events"].ravel().astype(np.int64),
                    "n_censor": np.tile(fit["censored"], len(causes)).astype(np.int64),
                    "cif": fit["cif"].ravel(),
                    "se": fit["se"].ravel(),
                    "lower": lower.ravel(),
                    "upper": upper.ravel(),
                }
            )
        )
        row: dict[str, Any] = {"group": label, "n": int(rows.sum()), "n_censored": int((codes[rows] == 0).sum())}
        for cause, total in zip(causes, fit["events"].sum(axis=1), strict=True):
            row[f"n_event_{cause}"] = int(total)
        count_rows.append(row)
    table = pd.concat(frames, ignore_index=True)[TABLE_COLUMNS]
    if group is not None:
        table["group"] = pd.Categorical(table["group"], categories=labels, ordered=True)

    notes: list[str] = []
    test_rows = []
    if len(labels) >= 2:
        for cause in causes:
            statistic = _gray_test(time_values, codes, group_codes, len(labels), int(cause))
            dof = len(labels) - 1
            if not np.isfinite(statistic):
                notes.append(
                    f"Gray's test for event {cause} could not be computed: its variance matrix is singular "
                    "(too few events of this cause, or subjects at risk, in some groups); R's cuminc prints -1"
                )
            test_rows.append(
                {"event": int(cause), "statistic": statistic, "dof": dof, "p_value": chi2_sf(statistic, dof)}
            )
    elif group is not None:
        notes.append("Gray's test needs at least two groups; only one group is present")
    test = pd.DataFrame(test_rows, columns=TEST_COLUMNS).astype({"event": np.int64, "dof": np.int64})
    return CumulativeIncidenceResult(
        table=table,
        test=test,
        counts=pd.DataFrame(count_rows),
        events=tuple(int(c) for c in causes),
        groups=tuple(labels),
        group_name=group_name if group is not None else None,
        alpha=float(alpha),
        n=n,
        n_censored=int((codes == 0).sum()),
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------------------
# Fine-Gray subdistribution hazards regression
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _SubdistributionData:
    """Rows sorted by time with the censoring Kaplan-Meier weights ``cmprsk::crr`` uses."""

    x: np.ndarray  # (n, p) centred covariates
    kind: np.ndarray  # (n,) 1 = event of interest, 2 = competing event, 0 = censored
    block: np.ndarray  # (n,) distinct-time number of each row
    starts: np.ndarray  # (n_times,) first row at each distinct time
    n_at_risk: np.ndarray  # (n_times,) rows with time >= the distinct time
    censored: np.ndarray  # (n_times,) censorings at the time
    events: np.ndarray  # (n_times,) events of interest at the time (tie group size)
    g_left: np.ndarray  # (n_times,) censoring Kaplan-Meier G(t-) just before the time
    competing_scale: np.ndarray  # (n,) 1 / G(T_i-) for competing rows, 0 otherwise


def _subdistribution_data(x: np.ndarray, time: np.ndarray, kind: np.ndarray) -> _SubdistributionData:
    order = np.argsort(time, kind="stable")
    time, kind, x = time[order], kind[order], x[order]
    n = len(time)
    starts = group_starts(time)
    n_times = len(starts)
    block = np.repeat(np.arange(n_times), np.diff(np.append(starts, n)))
    n_at_risk = (n - starts).astype(float)
    censored = np.bincount(block, weights=(kind == 0), minlength=n_times)
    events = np.bincount(block, weights=(kind == 1), minlength=n_times)
    # censoring distribution: censorings are its "events", failures of any cause stay at risk
    g = np.cumprod(1.0 - censored / n_at_risk)
    g_left = np.concatenate(([1.0], g[:-1]))
    with np.errstate(divide="ignore"):
        competing_scale = np.where(kind == 2, 1.0 / g_left[block], 0.0)
    return _SubdistributionData(
        x=x, kind=kind, block=block, starts=starts, n_at_risk=n_at_risk, censored=censored,
        events=events, g_left=g_left, competing_scale=competing_scale,
    )


def _risk_set_sums(values: np.ndarray, data: _SubdistributionData) -> np.ndarray:
    """Per distinct time u, sums over the subdistribution risk set of ``values`` (shape (k, n)):
    rows still followed at u (weight 1) plus competing-event rows before u, weighted
    G(u-) / G(T_i-) (Fine and Gray's IPCW risk set)."""
    n = values.shape[1]
    tail = np.zeros((values.shape[0], n + 1))
    np.cumsum(values[:, ::-1], axis=1, out=tail[:, 1:])
    followed = tail[:, n - data.starts]
    head = np.zeros((values.shape[0], n + 1))
    np.cumsum(values * data.competing_scale, axis=1, out=head[:, 1:])
    return followed + data.g_left * head[:, data.starts]


def _fine_gray_derivatives(
    beta: np.ndarray, data: _SubdistributionData, *, with_information: bool = True
) -> tuple[float, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Log pseudo-partial likelihood (Breslow ties, as ``crr``), score and information."""
    x = data.x
    eta = x @ beta
    risk = np.exp(eta - eta.max())
    sums = _risk_set_sums(np.vstack([risk, (x * risk[:, None]).T]), data)
    s0, s1 = sums[0], sums[1:]
    is_event_time = data.events > 0
    d = data.events[is_event_time]
    s0_e = s0[is_event_time]
    mean_x = (s1[:, is_event_time] / s0_e).T  # (n_event_times, p)
    cause = data.kind == 1
    loglik = float((eta - eta.max())[cause].sum() - (d * np.log(s0_e)).sum())
    score = x[cause].sum(axis=0) - (d[:, None] * mean_x).sum(axis=0)
    # per distinct time: a_u = d_u / S0_u (0 where no event of interest)
    a = np.zeros(len(s0))
    a[is_event_time] = d / s0_e
    cum_a = np.cumsum(a)  # sum over event times <= u
    after_g = (a * data.g_left)[::-1].cumsum()[::-1] - a * data.g_left  # sum over event times > u
    parts = {"risk": risk, "a": a, "mean_x": mean_x, "is_event_time": is_event_time, "s0": s0,
             "cum_a": cum_a, "after_g": after_g}
    if not with_information:
        return loglik, score, np.empty((0, 0)), parts
    weight = risk * (cum_a[data.block] + data.competing_scale * after_g[data.block])
    information = (x * weight[:, None]).T @ x - (mean_x * d[:, None]).T @ mean_x
    return loglik, score, information, parts


def _fine_gray_sandwich(beta: np.ndarray, data: _SubdistributionData, information: np.ndarray) -> np.ndarray:
    """``cmprsk::crr``'s robust covariance: H^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') H^-1.

    eta_i is subject i's score residual (its event minus its share of every risk set it belongs
    to); psi_i accounts for the censoring Kaplan-Meier weights being estimated (Fine and Gray
    1999, section 4): ``psi_i = I(censored) q(T_i) / Y(T_i) - sum_{censorings u <= T_i} q(u) /
    Y(u)^2`` with ``q(u)`` the weighted score contribution of competing-event rows before u to
    event times at or after u, and Y the number still followed.
    """
    _, _, _, parts = _fine_gray_derivatives(beta, data, with_information=False)
    x, block, risk, a = data.x, data.block, parts["risk"], parts["a"]
    n_times, p = len(a), x.shape[1]
    mean_x_all = np.zeros((n_times, p))
    mean_x_all[parts["is_event_time"]] = parts["mean_x"]
    ag = a * data.g_left
    cum_a = parts["cum_a"]
    cum_a_mean = np.cumsum(a[:, None] * mean_x_all, axis=0)  # B1: event times <= u
    after_g = parts["after_g"]  # D0: event times > u
    after_g_mean = (ag[:, None] * mean_x_all)[::-1].cumsum(axis=0)[::-1] - ag[:, None] * mean_x_all  # D1

    cause = data.kind == 1
    residual = np.where(cause[:, None], x - mean_x_all[block], 0.0)
    residual -= risk[:, None] * (x * cum_a[block][:, None] - cum_a_mean[block])
    scale = (data.competing_scale * risk)[:, None]
    residual -= scale * (x * after_g[block][:, None] - after_g_mean[block])

    # q(u) = A1(u) R0(u) - A0(u) R1(u): A over competing rows before u, R over event times >= u
    competing_weight = data.competing_scale * risk
    a0_rows = np.concatenate(([0.0], np.cumsum(competing_weight)))[data.starts]
    a1_rows = np.vstack([np.zeros(p), np.cumsum(x * competing_weight[:, None], axis=0)])[data.starts]
    r0 = after_g + ag
    r1 = after_g_mean + ag[:, None] * mean_x_all
    q = a1_rows * r0[:, None] - a0_rows[:, None] * r1
    y = data.n_at_risk
    compensator = np.cumsum((data.censored / y**2)[:, None] * q, axis=0)
    psi = -compensator[block]
    censored_rows = data.kind == 0
    psi[censored_rows] += q[block[censored_rows]] / y[block[censored_rows]][:, None]
    influence = residual + psi
    meat = influence.T @ influence
    bread = np.linalg.inv(information)
    return bread @ meat @ bread


@dataclass(frozen=True)
class FineGrayResult:
    """A fitted Fine-Gray subdistribution hazards model (never changes after fitting).

    Attributes
    ----------
    table : DataFrame indexed by ``term``: ``coef`` (log subdistribution hazard ratio), ``se``
        (robust sandwich SE, as ``cmprsk::crr``), ``hr``, ``hr_lower``, ``hr_upper``
        (``1 - alpha`` Wald interval), ``z``, ``p``.
    covariance : DataFrame, the robust variance-covariance matrix of the coefficients.
    loglik : log pseudo-partial likelihood at the estimate (``crr``'s ``loglik``);
        null_loglik : at 0.
    terms : dict mapping each covariate to its term names (several for a categorical one).
    event_of_interest : the event code modelled; other positive codes are competing events.
    n, n_events (events of interest), n_competing, n_censored, n_dropped (rows with a missing
    value, dropped), alpha, n_iterations, converged : counts and settings.
    notes : tuple of str, problems in words (no convergence); each is also issued as a warning.
    """

    table: pd.DataFrame = field(repr=False)
    covariance: pd.DataFrame = field(repr=False)
    loglik: float
    null_loglik: float
    terms: dict[str, list[str]] = field(repr=False)
    event_of_interest: int
    n: int
    n_events: int
    n_competing: int
    n_censored: int
    n_dropped: int
    alpha: float
    n_iterations: int
    converged: bool
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"<FineGrayResult: subdistribution hazards for event {self.event_of_interest}, fitted with "
            f"{self.n} observations ({self.n_events} events of interest, {self.n_competing} competing, "
            f"{self.n_censored} censored); {len(self.table)} terms, robust SE, Breslow ties>"
        )

    @property
    def coef(self) -> pd.Series:
        return self.table["coef"]

    def summary(self) -> pd.DataFrame:
        """The coefficient table (a copy), with counts and the likelihood in ``.attrs``."""
        table = self.table.copy()
        table.attrs.update(
            {
                "event_of_interest": self.event_of_interest,
                "n": self.n,
                "n_events": self.n_events,
                "n_competing": self.n_competing,
                "n_censored": self.n_censored,
                "loglik": self.loglik,
                "null_loglik": self.null_loglik,
                "se": "robust (Fine-Gray sandwich, as cmprsk::crr)",
            }
        )
        return table


def fine_gray(
    frame: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str] | str,
    event_of_interest: int = 1,
    alpha: float = 0.05,
    timefix: bool = True,
) -> FineGrayResult:
    """Fine-Gray regression of the subdistribution hazard of one event among competing events.

    Parameters
    ----------
    frame : DataFrame
        One row per subject. Rows with a missing value in a used column are dropped (counted in
        ``n_dropped``).
    duration : str
        Column of times to the first event or censoring (any unit; ratios do not depend on it).
    event : str
        Column of event codes: 0 = censored, ``event_of_interest`` = the modelled event, any
        other positive integer = a competing event.
    covariates : list of str
        Numeric or boolean columns enter as they are; object, string and categorical columns are
        dummy-coded against their first level in sorted order, terms named ``"column[level]"``
        (as ``analysis.cox``; R's ``model.matrix`` with sorted factor levels gives the same).
    event_of_interest : int
        The event code whose cumulative incidence is modelled.
    alpha : float
        1 - confidence level of the hazard-ratio intervals.
    timefix : bool
        Treat times equal up to rounding error as tied (``_common.tied_times``), as R's
        ``survival::finegray(timefix = TRUE)`` route to this model does. ``cmprsk::crr`` has no
        such option: it compares times exactly in the likelihood but takes its censoring
        weights from ``survfit`` (which ties them), so on near-tied times it matches neither
        setting; on times tied beforehand (``aeqSurv``) it matches the default.

    Returns
    -------
    FineGrayResult

    Notes
    -----
    As ``cmprsk::crr``: subjects with a competing event stay in the risk set after it with
    weight G(t-) / G(T_i-), G the Kaplan-Meier estimate of the censoring distribution (one
    censoring group); tied event times use Breslow's likelihood; Newton-Raphson with step
    halving; the standard errors are the robust sandwich including the term for the estimated
    censoring weights. Running sums over the time-sorted rows replace ``crr``'s double loops,
    so the cost grows as n log n.

    References
    ----------
    Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a
    competing risk. JASA 94, 496-509.
    """
    z = z_value(alpha)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise AnalysisError("fine_gray needs at least one covariate (e.g. covariates=['age'])")
    used = [duration, event, *covariates]
    missing_columns = [column for column in used if column not in frame.columns]
    if missing_columns:
        raise AnalysisError(f"columns not in frame: {missing_columns}; available: {list(frame.columns)}")
    complete = frame[used].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    data = frame.loc[complete, used]
    if len(data) == 0:
        raise AnalysisError("no complete rows: every row has a missing value in a used column")
    time = as_times(data[duration], what=duration, non_negative=True)
    if timefix:
        time = tied_times(time)
    codes = _check_codes(data[event], len(time), what=event)
    if not (codes == event_of_interest).any():
        seen = sorted(int(c) for c in np.unique(codes[codes > 0]))
        raise AnalysisError(
            f"no events of interest: {event!r} never equals event_of_interest={event_of_interest} "
            f"(event codes present: {seen}); choose one of them"
        )
    try:
        x, names, terms, _ = _design(data, covariates)
    except ValueError as error:
        raise AnalysisError(str(error)) from error
    constant = [name for name, column in zip(names, x.T, strict=True) if np.ptp(column) == 0]
    if constant:
        raise AnalysisError(f"covariate term(s) {constant} do not vary in the data used; drop them")
    kind = np.where(codes == event_of_interest, 1, np.where(codes > 0, 2, 0))
    subdata = _subdistribution_data(x - x.mean(axis=0), time, kind)

    p = x.shape[1]
    beta = np.zeros(p)
    null_loglik, score, information, _ = _fine_gray_derivatives(beta, subdata)
    loglik = null_loglik
    converged = False
    iterations = 0
    last_step = np.full(p, np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while iterations < _MAX_ITERATIONS:
            iterations += 1
            try:
                step = np.linalg.solve(information, score)
            except np.linalg.LinAlgError:
                break
            candidate = beta + step
            new = _fine_gray_derivatives(candidate, subdata)
            halvings = 0
            while not (np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik)):
                halvings += 1
                if halvings > _MAX_HALVINGS:
                    break
                candidate = (candidate + beta) / 2.0
                new = _fine_gray_derivatives(candidate, subdata)
            change = abs(new[0] - loglik)
            last_step = candidate - beta
            beta, (loglik, score, information, _) = candidate, new
            largest_step = float(np.max(np.abs(step)))
            if change <= 1e-10 * max(abs(loglik), 1.0) and largest_step <= 1e-6 * (1 + np.max(np.abs(beta))):
                converged = True
                break
            if halvings > _MAX_HALVINGS or (change <= 1e-13 * max(abs(loglik), 1.0) and largest_step > 1e-2):
                break

    notes: list[str] = []
    try:
        covariance = _fine_gray_sandwich(beta, subdata, information)
    except np.linalg.LinAlgError:
        covariance = np.full((p, p), np.nan)
        notes.append("the information matrix is singular: covariates are collinear; no standard errors")
    if not converged:
        # a coefficient still moving when the iterations stop is running off to infinity: its
        # estimate, SE and p-value would be printed as results, so they are blanked instead
        diverging = np.abs(last_step) > 1e-4 * (1.0 + np.abs(beta))
        diverging_names = [name for name, moving in zip(names, diverging, strict=True) if moving]
        notes.append(
            f"Fine-Gray fit did not converge in {iterations} Newton-Raphson iterations; the coefficient(s) of "
            f"{diverging_names or names} seem infinite (a covariate level with no events of interest, or one "
            "that separates who has them) and are reported as NaN; merge sparse levels or drop the covariate"
        )
        warnings.warn(notes[-1], RuntimeWarning, stacklevel=2)
        blank = diverging if diverging.any() else np.ones(p, dtype=bool)
        covariance[blank, :] = np.nan
        covariance[:, blank] = np.nan
        beta = np.where(blank, np.nan, beta)
    with np.errstate(invalid="ignore", over="ignore"):
        se = np.sqrt(np.diag(covariance))
        z_statistic = beta / se
        table = pd.DataFrame(
            {
                "coef": beta,
                "se": se,
                "hr": np.exp(beta),
                "hr_lower": np.exp(beta - z * se),
                "hr_upper": np.exp(beta + z * se),
                "z": z_statistic,
                "p": 2.0 * stats.norm.sf(np.abs(z_statistic)),
            },
            index=pd.Index(names, name="term"),
        )
    return FineGrayResult(
        table=table,
        covariance=pd.DataFrame(covariance, index=names, columns=names),
        loglik=loglik,
        null_loglik=null_loglik,
        terms=terms,
        event_of_interest=int(event_of_interest),
        n=len(time),
        n_events=int((kind == 1).sum()),
        n_competing=int((kind == 2).sum()),
        n_censored=int((kind == 0).sum()),
        n_dropped=n_dropped,
        alpha=float(alpha),
        n_iterations=iterations,
        converged=converged,
        notes=tuple(notes),
    )
