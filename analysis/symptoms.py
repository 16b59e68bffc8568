"""Symptom-level analyses: dissociation against improvement, the course of suicidal ideation,
and response phenotypes.

::

    import analysis
    data = analysis.load_sample()
    analysis.dissociation_response(data).correlations   # peak CADSS vs % improvement
    analysis.suicidality_course(data).resolution         # MADRS item 10 resolving
    analysis.response_phenotypes(data, by="route").counts

Baseline, percent improvement, response and relapse come from :func:`analysis.derive_endpoints`
(one implementation for the package); every definition used here is a parameter and is
listed by the result's ``describe()``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.baseline import rated_against_baseline, require_baseline
from analysis.contract import OutcomeData
from analysis.errors import AnalysisError
from analysis.grouping import _is_endpoints, group_patients, grouping_for
from analysis.instruments import get_instrument
from analysis.intervals import wilson_interval
from analysis.longitudinal.trajectories import (
    BASELINE_LABEL,
    assign_schedules,
    assign_time_points,
    describe_endpoints,
    describe_statistics,
    endpoint_instrument,
    last_ratings,
    ordered_schedules,
    percent_notes,
    rescheduled_note,
    resolve_endpoints,
)

__all__ = [
    "DEFAULT_IMPROVEMENT_WINDOWS_HOURS",
    "DissociationResult",
    "PhenotypeResult",
    "SuicidalityResult",
    "correlation_interval",
    "dissociation_response",
    "response_phenotypes",
    "suicidality_course",
    "suicidality_thresholds",
]

# Target time (hours since the first infusion) -> window (start, end) in which the rating
# nearest to the target is used: 4 h (Luckenbaugh 2014 used 230 min), 24 h (peak effect),
# day 7 (Luckenbaugh 2014).
DEFAULT_IMPROVEMENT_WINDOWS_HOURS: dict[float, tuple[float, float]] = {
    4.0: (2.0, 8.0),
    24.0: (12.0, 48.0),
    168.0: (120.0, 240.0),
}


def _time_label(hours: float) -> str:
    if hours >= 48 and float(hours / 24).is_integer():
        return f"day {hours / 24:g}"
    return f"{hours:g} h"


# ----------------------------------------------------------------------------------------
# correlations
# ----------------------------------------------------------------------------------------
def correlation_interval(r: Any, n: Any, alpha: float = 0.05, method: str = "pearson") -> tuple[np.ndarray,
                                                                                               np.ndarray]:
    """Fisher z interval for a correlation: tanh(atanh(r) +/- z * se).

    se = 1 / sqrt(n - 3) for Pearson's r (Fisher 1921; what ``scipy.stats.pearsonr(...)
    .confidence_interval()`` returns); for Spearman's rho se = sqrt((1 + rho^2 / 2) / (n - 3))
    (Bonett & Wright 2000), which keeps coverage near nominal for rank correlations. NaN when
    n < 4.

    References
    ----------
    Fisher RA. On the probable error of a coefficient of correlation deduced from a small
    sample. Metron 1921;1:3-32. Bonett DG, Wright TA. Sample size requirements for estimating
    Pearson, Kendall and Spearman correlations. Psychometrika 2000;65:23-8.
    """
    r = np.asarray(r, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "pearson":
            se = 1.0 / np.sqrt(n - 3)
        elif method == "spearman":
            se = np.sqrt((1.0 + r**2 / 2.0) / (n - 3))
        else:
            raise AnalysisError("method must be 'pearson' or 'spearman'.")
        z = np.arctanh(np.clip(r, -1.0, 1.0))
        half = stats.norm.ppf(1 - alpha / 2) * se
        lower, upper = np.tanh(z - half), np.tanh(z + half)
    bad = n < 4
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def _correlate(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float]:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.pearsonr(x, y) if method == "pearson" else stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


@dataclass(frozen=True)
class DissociationResult:
    """Peak dissociation (CADSS total) against percent improvement of the depression score.

    correlations : group, time_point, target_hours, window_start_hours, window_end_hours,
        method ("pearson" | "spearman"), n, estimate, lower, upper (Fisher z), p.
    pairs : patient_id, group, time_point, target_hours, rating_time_hours, peak_cadss,
        improvement_pct (100 * (baseline - score) / baseline; 50 = halved): the scatter plot.
    """

    correlations: pd.DataFrame
    pairs: pd.DataFrame
    settings: dict[str, Any]
    endpoints: Any = field(repr=False, compare=False, default=None)

    def summary(self) -> pd.DataFrame:
        """n, estimate, CI and p per group, time point and method."""
        return self.correlations.set_index(["group", "time_point", "method"])[
            ["n", "estimate", "lower", "upper", "p"]]

    def describe(self) -> list[str]:
        s = self.settings
        windows = "; ".join(f"{_time_label(t)}: nearest rating in [{a:g}, {b:g}] h"
                            for t, (a, b) in s["windows_hours"].items())
        if s["cadss_window_hours"] is None:
            cadss = "Peak dissociation: the highest CADSS total within 0-4 h after any infusion."
        else:
            a, b = s["cadss_window_hours"]
            cadss = f"Peak dissociation: the highest CADSS total {a:g}-{b:g} h after the start of the first infusion."
        return [cadss,
                f"Improvement: percent improvement of the {s['instrument']} score from baseline, hours since "
                f"the first infusion ({windows}; ties go to the earlier rating).",
                f"Pearson r and Spearman rho with {100 * (1 - s['alpha']):g}% Fisher z intervals "
                "(Spearman: Bonett-Wright standard error)."] + list(s["endpoint_definitions"]) \
            + [f"Note: {n}." for n in s.get("notes", ())]

    def __repr__(self) -> str:
        return f"DissociationResult({self.pairs['patient_id'].nunique()} patients with pairs)"


def _peak_cadss_first_infusion(data: OutcomeData, window: tuple[float, float]) -> pd.Series:
    a = data.assessments
    keep = (a["instrument"] == "CADSS").fillna(False).to_numpy(bool) & a["item"].isna().to_numpy()
    t = a["time_hours"].to_numpy(float)
    keep &= (t >= window[0]) & (t <= window[1])
    rows = a[keep]
    return rows.groupby(rows["patient_id"].astype(str))["score"].max()


def nearest_ratings(ratings: pd.DataFrame, windows_hours: Mapping[float, tuple[float, float]]) -> pd.DataFrame:
    """For each target time (hours since the first infusion), each patient's post-baseline
    rating nearest to it within its window (ties: the earlier rating). Columns: patient_id,
    target_hours, rating_time_hours plus the rating's columns."""
    post = ratings[~ratings["is_baseline"].astype(bool)]
    t = post["time_hours"].to_numpy(float)
    codes = pd.factorize(post["patient_id"], sort=True)[0]  # patient order as a sort by patient_id
    parts = []
    for target, (start, end) in windows_hours.items():
        inside = np.flatnonzero((t >= start) & (t <= end))
        # per patient: nearest first, then the earlier (stable, as the input order for full ties)
        order = inside[np.lexsort((t[inside], np.abs(t[inside] - target), codes[inside]))]
        first = np.r_[True, codes[order][1:] != codes[order][:-1]] if order.size else np.zeros(0, bool)
        nearest = post.iloc[order[first]].copy()
        nearest.insert(1, "target_hours", float(target))
        parts.append(nearest)
    out = pd.concat(parts, ignore_index=True) if parts else ratings.iloc[:0].assign(target_hours=[])
    return out.rename(columns={"time_hours": "rating_time_hours"})


def dissociation_response(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    windows_hours: Mapping[float, tuple[float, float]] | None = None,
    cadss_window_hours: tuple[float, float] | None = None,
    alpha: float = 0.05,
    group_bins: Sequence[float] | int | None = None,
    **endpoint_options: Any,
) -> DissociationResult:
    """Correlation of peak dissociation with percent improvement at 4 h, 24 h and day 7.

    Parameters
    ----------
    data : OutcomeData or Endpoints
    instrument : str
        Depression instrument whose percent improvement is used.
    by : str, optional
        Grouping (:func:`analysis.group_patients`; correlations per group). ``group_bins``:
        cut points or number of groups for a numeric ``by``.
    windows_hours : mapping target_hours -> (start, end), optional
        Target times in hours since the start of the first infusion and the window in which
        the nearest rating counts (default :data:`DEFAULT_IMPROVEMENT_WINDOWS_HOURS`).
    cadss_window_hours : (start, end), optional
        Default None: the endpoints' ``peak_cadss`` (highest CADSS total 0-4 h after any
        infusion). Give e.g. ``(0, 2)`` to use only the first infusion's window (hours since its
        start; needs an OutcomeData), as in the NIMH trials where CADSS peaks at 40 min.
    alpha : float
        1 - confidence level.

    References
    ----------
    Luckenbaugh DA et al. Do the dissociative side effects of ketamine mediate its
    antidepressant effects? J Affect Disord 2014;159:56-61. See :func:`correlation_interval`.
    """
    windows = dict(DEFAULT_IMPROVEMENT_WINDOWS_HOURS if windows_hours is None else windows_hours)
    for target, (start, end) in windows.items():
        if not start <= target <= end:
            raise AnalysisError(f"Window {start, end} does not contain its target {target} h.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    require_baseline(endpoints, "dissociation against improvement", data=data)
    patients = endpoints.patients
    ids = patients["patient_id"].astype(str)
    if cadss_window_hours is None:
        peak = pd.Series(patients["peak_cadss"].to_numpy(float), index=ids.to_numpy())
    else:
        if not isinstance(data, OutcomeData):
            raise AnalysisError("cadss_window_hours needs the OutcomeData (CADSS ratings), not Endpoints.")
        peak = _peak_cadss_first_infusion(data, tuple(cadss_window_hours)).reindex(ids.to_numpy())
    if not np.isfinite(peak.to_numpy(float)).any():
        raise AnalysisError("No CADSS total scores in the dissociation window: the data has no peak "
                         "dissociation to correlate (add CADSS ratings, instrument 'CADSS').")
    groups = grouping_for(data, endpoints, by, bins=group_bins).labels
    nearest = nearest_ratings(endpoints.ratings, windows)
    pairs = pd.DataFrame({
        "patient_id": nearest["patient_id"].astype(str).to_numpy(),
        "group": groups.reindex(nearest["patient_id"].astype(str)).astype(object).to_numpy(),
        "time_point": nearest["target_hours"].map({float(t): _time_label(float(t)) for t in windows}).to_numpy(object),
        "target_hours": nearest["target_hours"].to_numpy(float),
        "rating_time_hours": nearest["rating_time_hours"].to_numpy(float),
        "peak_cadss": peak.reindex(nearest["patient_id"].astype(str)).to_numpy(float),
        "improvement_pct": nearest["improvement_pct"].to_numpy(float),
    })
    pairs = pairs[np.isfinite(pairs["peak_cadss"]) & np.isfinite(pairs["improvement_pct"]) & pairs["group"].notna()]
    pairs = pairs.sort_values(["target_hours", "group", "patient_id"], kind="stable").reset_index(drop=True)
    rows = []
    group_names = [g for g in groups.cat.categories if g in set(pairs["group"])]
    for target, (start, end) in windows.items():
        for group in group_names:
            part = pairs[(pairs["target_hours"] == float(target)) & (pairs["group"] == group)]
            x, y = part["peak_cadss"].to_numpy(float), part["improvement_pct"].to_numpy(float)
            for method in ("pearson", "spearman"):
                estimate, p = _correlate(x, y, method)
                lower, upper = correlation_interval(estimate, len(x), alpha, method)
                rows.append({"group": group, "time_point": _time_label(target), "target_hours": float(target),
                             "window_start_hours": float(start), "window_end_hours": float(end),
                             "method": method, "n": len(x), "estimate": estimate, "lower": float(lower),
                             "upper": float(upper), "p": p})
    correlations = pd.DataFrame(rows, columns=["group", "time_point", "target_hours", "window_start_hours",
                                               "window_end_hours", "method", "n", "estimate", "lower",
                                               "upper", "p"])
    settings = {"instrument": instrument, "by": by, "windows_hours": windows, "alpha": alpha,
                "cadss_window_hours": cadss_window_hours, "endpoint_definitions": describe_endpoints(endpoints),
                "notes": tuple(percent_notes(data, endpoints, instrument, "percent improvement"))}
    return DissociationResult(correlations=correlations, pairs=pairs, settings=settings, endpoints=endpoints)


# ----------------------------------------------------------------------------------------
# suicidality
# ----------------------------------------------------------------------------------------
def suicidality_thresholds(instrument: str) -> tuple[int, int]:
    """Default (present_min, resolved_max) for an instrument's suicidality item.

    Items scored 0-6 (MADRS item 10): ideation present at baseline when >= 2 ("weary of life,
    only fleeting suicidal thoughts" is 2), resolved when <= 1. Items scored 0-3 or 0-4 (HAM-D
    item 3, QIDS-SR item 12, PHQ-9 item 9, BDI-II item 9): present when >= 1, resolved at 0.
    """
    inst = get_instrument(instrument)
    return (2, 1) if inst.item_max >= 6 else (1, 0)


@dataclass(frozen=True)
class SuicidalityResult:
    """The course of the suicidality item.

    course : group, [schedule], time_point, time_order, time_hours (mean), n, mean, sd, se,
        lower, upper (t-based), median, q1, q3, min, max of the item score. For visits
        (``time="visit"``) the schedule (single, series or ``"<course> boosters"``, as in
        :func:`analysis.trajectory`) and time_order counted within it (baseline 0); rows single
        infusion, then series, then boosters (``schedule_rank``), each in time order.
    distribution : group, [schedule], time_point, time_order, item_score, count, n, proportion.
    resolution : group, measure ("at_time_point" | "by_<h>h" | "sustained_to_<h>h"),
        [schedule] (visits; "" on the by/sustained rows), time_point, n (eligible patients
        assessable), count (resolved), proportion, lower, upper (Wilson).
    patients : patient_id, group, baseline_item, eligible, resolved_by (boolean, NA when not
        assessable), sustained (boolean, NA when not assessable).
    """

    course: pd.DataFrame
    distribution: pd.DataFrame
    resolution: pd.DataFrame
    patients: pd.DataFrame
    settings: dict[str, Any]

    def summary(self) -> pd.DataFrame:
        """Resolved by the horizon and sustained: n, count, proportion (Wilson CI) per group."""
        return self.resolution[self.resolution["measure"] != "at_time_point"].set_index(["group", "measure"])[
            ["n", "count", "proportion", "lower", "upper"]]

    def summary_gap(self) -> str | None:
        """Why :meth:`summary` has no rows, in words (None when it has some)."""
        if len(self.summary()):
            return None
        s, p = self.settings, self.patients
        eligible = int(p["eligible"].sum())
        if not eligible:
            return (f"No patient had suicidal ideation at baseline ({s['instrument']} item {s['item']} >= "
                    f"{s['present_min']:g}), so its resolution is not assessed.")
        return (f"None of the {eligible} patient(s) with ideation at baseline was rated within {s['by_hours']:g} h "
                f"after the first infusion, so resolution by {s['by_hours']:g} h is not assessed (the course over "
                "time is shown above).")

    def describe(self) -> list[str]:
        s = self.settings
        return [
            f"Suicidality item: {s['instrument']} item {s['item']} (0-{s['item_max']:g}); baseline = the last "
            "item rating at or before the start of the first infusion.",
            f"Ideation present at baseline: item >= {s['present_min']:g}; resolved: item <= {s['resolved_max']:g}.",
            "At each time point: status of the patient's last rating in it, among patients with ideation "
            "at baseline.",
            f"Resolved by {s['by_hours']:g} h: any rating in (0, {s['by_hours']:g}] h resolved, among patients "
            "with ideation at baseline and a rating in that window.",
            f"Sustained: resolved by {s['by_hours']:g} h and no later rating up to {s['sustained_hours']:g} h "
            "above the resolved level, among those assessable (a rating after the first resolved one and "
            f"no later than {s['sustained_hours']:g} h, or after {s['by_hours']:g} h for non-resolvers).",
            f"Means with {100 * (1 - s['alpha']):g}% t-based intervals; proportions with Wilson intervals.",
        ] + (["Visits: single-infusion and series patients follow different schedules, so each schedule's "
              "visits (and the visits of boosters, given to some patients only) are summarised separately, "
              "in that schedule's order."] if s["time"] == "visit" else []) \
            + [f"Note: {n}." for n in s.get("notes", ())]

    def __repr__(self) -> str:
        p = self.patients
        return (f"SuicidalityResult({self.settings['instrument']} item {self.settings['item']}: {len(p)} "
                f"patients, {int(p['eligible'].sum())} with ideation at baseline)")


def suicidality_course(
    data: OutcomeData,
    instrument: str = "MADRS",
    by: str | None = None,
    time: str = "visit",
    bins: Sequence[float] | int | None = None,
    present_min: float | None = None,
    resolved_max: float | None = None,
    by_hours: float = 24.0,
    sustained_hours: float = 168.0,
    alpha: float = 0.05,
    group_bins: Sequence[float] | int | None = None,
) -> SuicidalityResult:
    """The suicidality item over time and the proportion whose suicidal ideation resolves.

    Parameters
    ----------
    data : OutcomeData
        Must hold item-level rows (``item`` = the instrument's suicidality item: MADRS 10,
        HAM-D17 3, QIDS-SR16 12, PHQ-9 9, BDI-II 9).
    by : str, optional
        Grouping (:func:`analysis.group_patients`: a patient or first-infusion column,
        ``course``, ``dose_band``); ``group_bins``: cut points or number of groups.
    time, bins : time points as in :func:`analysis.trajectory`: ``"visit"`` (default) the visit
        labels per schedule (single infusion, series, ``"<course> boosters"``; column
        ``schedule``, the trajectory's rule, so the two courses' visits are never interleaved),
        ``"hours"``/``"days"`` binned time since the first infusion. Each patient contributes
        the last item rating in a time point. Ratings at assessments that are not protocol
        visits (rescue, unscheduled) are left out of the visit view and said in ``describe()``.
    present_min, resolved_max : float, optional
        Ideation present at baseline when item >= present_min; resolved when item <=
        resolved_max. Defaults from :func:`suicidality_thresholds` (MADRS: 2 and 1; 0-3/0-4
        items: 1 and 0).
    by_hours : float
        "Resolved by" horizon, hours since the start of the first infusion (default 24 h,
        where the anti-suicidal effect is seen: Wilkinson et al. 2018).
    sustained_hours : float
        Horizon for "sustained" resolution (default 168 h = day 7).

    References
    ----------
    Wilkinson ST et al. The effect of a single dose of intravenous ketamine on suicidal ideation:
    a systematic review and individual participant data meta-analysis. Am J Psychiatry
    2018;175:150-8.
    """
    if not isinstance(data, OutcomeData):
        raise AnalysisError("suicidality_course needs the OutcomeData (item-level ratings), not derived endpoints.")
    inst = get_instrument(instrument)
    if inst.suicidality_item is None:
        raise AnalysisError(f"{inst.name} has no suicidality item in the instrument registry.")
    item = int(inst.suicidality_item)
    default_present, default_resolved = suicidality_thresholds(inst.name)
    present_min = default_present if present_min is None else present_min
    resolved_max = default_resolved if resolved_max is None else resolved_max
    a = data.assessments
    # the item number first (integers), the instrument's name only on those rows
    at_item = np.flatnonzero((a["item"] == item).fillna(False).to_numpy(bool))
    rows = a.iloc[at_item[(a["instrument"].iloc[at_item] == inst.name).fillna(False).to_numpy(bool)]]
    if rows.empty:
        has_items = ((a["instrument"] == inst.name) & a["item"].notna()).fillna(False).any()
        detail = ("it has other item-level rows but none for that item" if has_items
                  else f"it has only total scores for {inst.name}" if (a["instrument"] == inst.name).any()
                  else f"it has no {inst.name} ratings at all")
        raise AnalysisError(f"No {inst.name} item {item} (suicidality item) ratings in the data: {detail}. "
                         f"Load item-level rows (instrument {inst.name!r}, item = {item}) to analyse suicidality.")
    # the package's baseline rule, on the item (patients without a baseline keep their later ratings)
    rated_item = rated_against_baseline(data, inst.name, item=item, keep_without_baseline=True)
    frame = pd.DataFrame({"patient_id": rated_item["patient_id"].to_numpy(),
                          "time_hours": rated_item["time_hours"].to_numpy(float),
                          "visit": rated_item["visit"].to_numpy(),
                          "value": rated_item["score"].to_numpy(float)})
    is_baseline = pd.Series(rated_item["is_baseline"].to_numpy(bool), index=frame.index)

    groups = group_patients(data, by, bins=group_bins, instrument=inst.name).labels
    frame["group"] = pd.Categorical(groups.reindex(frame["patient_id"]).to_numpy(),
                                    categories=groups.cat.categories, ordered=True)
    frame = frame[frame["group"].notna()]
    is_baseline = is_baseline[frame.index]
    points = assign_time_points(frame, time, bins, baseline=is_baseline)
    rated = points.frame
    # visits: the trajectory's schedules (single, series, "<course> boosters"), each in its own
    # order, so that one course's visits are never interleaved with the other's
    split = ["schedule"] if time == "visit" else []
    rescheduled = 0
    if time == "visit":
        rated, rescheduled = assign_schedules(data, None, rated)
        rated["schedule"] = ordered_schedules(rated["schedule"])
    per_point = (last_ratings(rated, [*split, "time_order"])
                 [["group", *split, "time_order", "time_point", "patient_id", "value", "time_hours"]]
                 .sort_values(["group", *split, "time_order", "patient_id"], kind="stable").reset_index(drop=True))
    cell = ["group", *split, "time_order"]

    course = describe_statistics(per_point, [*cell, "time_point"], "value", alpha)
    mean_time = per_point.groupby(cell, observed=True)["time_hours"].mean()
    course["time_hours"] = mean_time.reindex(pd.MultiIndex.from_frame(course[cell])).to_numpy()
    course = course[["group", *split, "time_point", "time_order", "time_hours", "n", "mean", "sd", "se", "lower",
                     "upper", "median", "q1", "q3", "min", "max"]]

    distribution = (per_point.groupby([*cell, "time_point", "value"], observed=True, sort=True)
                    .size().rename("count").reset_index().rename(columns={"value": "item_score"}))
    totals = distribution.groupby(cell, observed=True)["count"].transform("sum")
    distribution["n"] = totals.to_numpy()
    distribution["proportion"] = distribution["count"] / distribution["n"]
    distribution = distribution[["group", *split, "time_point", "time_order", "item_score", "count", "n",
                                 "proportion"]]

    # resolution among patients with ideation at baseline
    base = per_point[per_point["time_point"] == BASELINE_LABEL].set_index("patient_id")["value"]
    all_ids = pd.Index(pd.unique(frame["patient_id"]), name="patient_id")
    baseline_item = base.reindex(all_ids)
    eligible = (baseline_item >= present_min).fillna(False)
    post = rated[(rated["time_point"] != BASELINE_LABEL) & rated["patient_id"].isin(eligible[eligible].index)]
    resolved_row = post["value"] <= resolved_max
    early = post["time_hours"] <= by_hours
    any_early = post[early].groupby("patient_id").size().reindex(all_ids).fillna(0) > 0
    first_resolved_time = post[early & resolved_row].groupby("patient_id")["time_hours"].min().reindex(all_ids)
    resolved_by = first_resolved_time.notna()
    later = post.join(first_resolved_time.rename("t_res"), on="patient_id")
    window = (later["time_hours"] > later["t_res"]) & (later["time_hours"] <= sustained_hours)
    relapse_any = (later[window]["value"] > resolved_max).groupby(later[window]["patient_id"]).any()
    followed = later[window].groupby("patient_id").size().reindex(all_ids).fillna(0) > 0
    # non-resolvers are assessable for "sustained" when followed after by_hours up to the horizon
    late = (post["time_hours"] > by_hours) & (post["time_hours"] <= sustained_hours)
    followed_late = post[late].groupby("patient_id").size().reindex(all_ids).fillna(0) > 0
    sustained = resolved_by & ~relapse_any.reindex(all_ids).astype("boolean").fillna(False).astype(bool)
    assess_by = eligible & any_early
    assess_sustained = assess_by & np.where(resolved_by, followed, followed_late)
    patient_group = groups.reindex(all_ids).astype(str)
    patients = pd.DataFrame({
        "patient_id": all_ids.to_numpy(),
        "group": patient_group.to_numpy(),
        "baseline_item": baseline_item.to_numpy(float),
        "eligible": eligible.to_numpy(bool),
        "resolved_by": pd.array(np.where(assess_by, resolved_by, False), dtype="boolean"),
        "sustained": pd.array(np.where(assess_sustained, sustained, False), dtype="boolean"),
    })
    patients.loc[~assess_by.to_numpy(), "resolved_by"] = pd.NA
    patients.loc[~assess_sustained.to_numpy(), "sustained"] = pd.NA

    eligible_points = per_point[per_point["patient_id"].isin(eligible[eligible].index)
                                & (per_point["time_point"] != BASELINE_LABEL)]
    at_point = (eligible_points.assign(resolved=eligible_points["value"] <= resolved_max)
                .groupby([*cell, "time_point"], observed=True, sort=True)
                .agg(n=("resolved", "size"), count=("resolved", "sum")).reset_index())
    at_point["measure"] = "at_time_point"
    summary_rows = []
    for measure, column in ((f"by_{by_hours:g}h", "resolved_by"), (f"sustained_to_{sustained_hours:g}h", "sustained")):
        known = patients[patients[column].notna()]
        counts = known.groupby("group", sort=False)[column].agg(["size", "sum"])
        for group in [g for g in groups.cat.categories if g in counts.index]:
            summary_rows.append({"group": group, **dict.fromkeys(split, ""), "time_order": -1, "time_point": "",
                                 "measure": measure, "n": int(counts.loc[group, "size"]),
                                 "count": int(counts.loc[group, "sum"])})
    resolution = pd.concat([pd.DataFrame(summary_rows, columns=["group", *split, "time_order", "time_point",
                                                                "measure", "n", "count"]),
                            at_point], ignore_index=True)
    resolution["count"] = resolution["count"].astype(np.int64)
    resolution["n"] = resolution["n"].astype(np.int64)
    resolution["proportion"] = resolution["count"] / resolution["n"]
    resolution["lower"], resolution["upper"] = wilson_interval(resolution["count"].to_numpy(),
                                                               resolution["n"].to_numpy(), alpha=alpha)
    resolution = resolution[["group", "measure", *split, "time_point", "time_order", "n", "count", "proportion",
                             "lower", "upper"]].reset_index(drop=True)
    for table in (course, distribution, resolution):
        table["group"] = table["group"].astype(str)
        for column in split:
            table[column] = table[column].astype(str)
    settings = {"instrument": inst.name, "item": item, "item_max": inst.item_max, "by": by, "time": time,
                "bin_edges": points.edges, "present_min": present_min, "resolved_max": resolved_max,
                "by_hours": by_hours, "sustained_hours": sustained_hours, "alpha": alpha,
                "notes": tuple(points.unscheduled_note() + rescheduled_note(rescheduled))}
    return SuicidalityResult(course=course.reset_index(drop=True), distribution=distribution.reset_index(drop=True),
                             resolution=resolution, patients=patients, settings=settings)


# ----------------------------------------------------------------------------------------
# response phenotypes
# ----------------------------------------------------------------------------------------
PHENOTYPES = ("non-responder", "rapid sustained", "rapid transient", "delayed", "unclassifiable")


@dataclass(frozen=True)
class PhenotypeResult:
    """Each patient's response phenotype, and counts per group.

    patients : patient_id, group, phenotype, reason (why unclassifiable), responded,
        onset_infusion, onset_time_hours, relapse_event, relapse_time_days, followed_days.
    counts : group, phenotype, n (patients in the phenotype), group_n, percent (of the group),
        percent_lower, percent_upper (Wilson), percent_classifiable (of the group's classifiable
        patients).
    """

    patients: pd.DataFrame
    counts: pd.DataFrame
    settings: dict[str, Any]
    endpoints: Any = field(repr=False, compare=False, default=None)

    def summary(self) -> pd.DataFrame:
        """Patients per phenotype (rows) and group (columns, in group order)."""
        wide = self.counts.pivot(index="phenotype", columns="group", values="n")
        groups = list(dict.fromkeys(self.counts["group"]))
        return wide.reindex(index=[p for p in PHENOTYPES if p in wide.index], columns=groups)

    def describe(self) -> list[str]:
        s = self.settings
        return [
            f"Rapid: first response within {s['rapid_hours']:g} h of the start of the first infusion "
            f"(a rating up to {s['visit_window_hours']:g} h late still counts) and after the first infusion; "
            "delayed: first response later or after a later infusion.",
            f"Sustained: no relapse within {s['sustain_days']:g} days of response onset (relapse-free follow-up "
            f"of at least {s['sustain_days']:g} days); transient: relapse within {s['sustain_days']:g} days.",
            f"Non-responder: never responded with follow-up of at least {s['min_followup_days']:g} days "
            "after the first infusion.",
            "Unclassifiable: no post-baseline rating, a non-responder followed for less than that, or a "
            "rapid responder censored before the sustain horizon.",
        ] + list(s["endpoint_definitions"]) + [f"Note: {n}." for n in s.get("notes", ())]

    def __repr__(self) -> str:
        counts = self.patients["phenotype"].value_counts()
        text = ", ".join(f"{p}: {int(counts.get(p, 0))}" for p in PHENOTYPES)
        return f"PhenotypeResult({len(self.patients)} patients; {text})"


def response_phenotypes(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    rapid_hours: float = 24.0,
    visit_window_hours: float = 6.0,
    sustain_days: float = 14.0,
    min_followup_days: float = 7.0,
    alpha: float = 0.05,
    group_bins: Sequence[float] | int | None = None,
    **endpoint_options: Any,
) -> PhenotypeResult:
    """Classify each patient: non-responder, rapid and sustained, rapid and transient, delayed
    (or unclassifiable when follow-up is insufficient).

    Rule (on :func:`analysis.derive_endpoints`, relapse counted from response onset):

    - rapid: ``responded`` with ``onset_infusion == 1`` and ``onset_time_hours <= rapid_hours +
      visit_window_hours`` (the first responding rating, hours since the first infusion; the
      window lets a day-1 visit taken a few hours late count as "within 24 h");
    - rapid sustained: rapid and relapse-free for at least ``sustain_days`` after onset
      (``relapse_time_days > sustain_days`` if relapsed, ``>= sustain_days`` if censored);
    - rapid transient: rapid and relapsed with ``relapse_time_days <= sustain_days``;
    - rapid, censored before ``sustain_days`` without relapse: unclassifiable;
    - delayed: responded later than that or after a later infusion;
    - non-responder: never responded and last rating at least ``min_followup_days`` after the
      first infusion; otherwise unclassifiable.

    Parameters
    ----------
    rapid_hours : float
        Hours since the start of the first infusion (default 24).
    visit_window_hours : float
        Lateness allowed for the visit at ``rapid_hours`` (default 6 h).
    sustain_days : float
        Days since response onset (default 14; half of 0.5 mg/kg responders relapsed by day
        14 in Salloum et al. 2020).
    min_followup_days : float
        Days since the first infusion a non-responder must be followed (default 7).
    endpoint_options : passed to ``derive_endpoints`` (response, relapse, confirm_visits, ...).
        ``origin`` must stay "response".
    """
    if endpoint_options.get("origin", "response") != "response":
        raise AnalysisError("Response phenotypes measure durability from response onset; use origin='response'.")
    if not _is_endpoints(data):
        endpoint_options = {**endpoint_options, "origin": "response"}
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    if getattr(endpoints.settings, "origin", "response") != "response":
        raise AnalysisError("These endpoints count relapse from the last infusion; phenotypes need origin='response'.")
    instrument = endpoint_instrument(endpoints, instrument)
    require_baseline(endpoints, "response phenotypes", data=data)
    p = endpoints.patients
    groups = grouping_for(data, endpoints, by, bins=group_bins).labels
    p = p[groups.reindex(p["patient_id"].astype(str)).notna().to_numpy()]
    ids = p["patient_id"].astype(str)
    ratings = endpoints.ratings
    post = ratings[~ratings["is_baseline"].astype(bool)]
    last_hours = post.groupby(post["patient_id"].astype(str))["time_hours"].max().reindex(ids)
    followed_days = last_hours.to_numpy(float) / 24.0
    responded = p["responded"].astype(bool).to_numpy()
    onset_infusion = pd.array(p["onset_infusion"], dtype="Int64")
    onset_hours = p["onset_time_hours"].to_numpy(float)
    relapse_event = p["relapse_event"].astype(bool).to_numpy()
    relapse_days = p["relapse_time_days"].to_numpy(float)

    rapid = (responded & (onset_infusion.fillna(0).to_numpy(int) == 1)
             & (onset_hours <= rapid_hours + visit_window_hours))
    transient = rapid & relapse_event & (relapse_days <= sustain_days)
    sustained = rapid & ((relapse_event & (relapse_days > sustain_days))
                         | (~relapse_event & (relapse_days >= sustain_days)))
    no_rating = ~np.isfinite(followed_days)
    non_responder = ~responded & ~no_rating & (followed_days >= min_followup_days)
    phenotype = np.select(
        [no_rating, responded & ~rapid, transient, sustained, non_responder],
        ["unclassifiable", "delayed", "rapid transient", "rapid sustained", "non-responder"],
        default="unclassifiable")
    reason = np.select(
        [no_rating, ~responded & ~non_responder & ~no_rating, rapid & ~transient & ~sustained],
        ["no post-baseline rating",
         f"non-responder followed < {min_followup_days:g} days",
         f"rapid responder censored < {sustain_days:g} days after onset"], default="")
    patients = pd.DataFrame({
        "patient_id": ids.to_numpy(),
        "group": groups.reindex(ids).astype(str).to_numpy(),
        "phenotype": pd.Categorical(phenotype, categories=list(PHENOTYPES)),
        "reason": reason,
        "responded": responded,
        "onset_infusion": onset_infusion,
        "onset_time_hours": onset_hours,
        "relapse_event": relapse_event,
        "relapse_time_days": relapse_days,
        "followed_days": followed_days,
    })
    counts = (patients.groupby(["group", "phenotype"], observed=False, sort=False).size().rename("n")
              .reset_index())
    present = [g for g in groups.cat.categories if g in set(patients["group"])]
    counts = counts[counts["group"].isin(present)]
    counts["group"] = pd.Categorical(counts["group"], categories=present, ordered=True)
    counts = counts.sort_values(["group", "phenotype"], kind="stable")
    counts["group_n"] = counts.groupby("group", observed=True)["n"].transform("sum")
    classifiable = counts["n"].where(counts["phenotype"] != "unclassifiable", 0)
    counts["classifiable_n"] = classifiable.groupby(counts["group"], observed=True).transform("sum")
    counts["percent"] = 100 * counts["n"] / counts["group_n"]
    lower, upper = wilson_interval(counts["n"].to_numpy(), counts["group_n"].to_numpy(), alpha=alpha)
    counts["percent_lower"], counts["percent_upper"] = 100 * lower, 100 * upper
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["percent_classifiable"] = np.where(counts["phenotype"] == "unclassifiable", np.nan,
                                                  100 * counts["n"] / counts["classifiable_n"])
    counts["group"] = counts["group"].astype(str)
    counts["phenotype"] = counts["phenotype"].astype(str)
    counts = counts[["group", "phenotype", "n", "group_n", "percent", "percent_lower", "percent_upper",
                     "percent_classifiable"]].reset_index(drop=True)
    settings = {"instrument": instrument, "by": by, "rapid_hours": rapid_hours,
                "visit_window_hours": visit_window_hours, "sustain_days": sustain_days,
                "min_followup_days": min_followup_days, "alpha": alpha,
                "endpoint_definitions": describe_endpoints(endpoints),
                "notes": tuple(percent_notes(data, endpoints, instrument, "response"))}
    return PhenotypeResult(patients=patients, counts=counts, settings=settings, endpoints=endpoints)
