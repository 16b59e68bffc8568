"""Responder analysis: response and remission rates over time and across an infusion series,
cumulative response by infusion number, and group differences.

Response and remission come from :func:`analysis.derive_endpoints` (one implementation for the
package): a rating is a response when the score is at least ``response`` (default 50%) below
baseline, a remission when the score is at or below the instrument's cut-off::

    import analysis
    data = analysis.load_sample()
    rates = analysis.responder_rates(data, by="route", time="infusion")
    rates.table       # group, time_point, outcome, n, count, proportion, lower, upper
    analysis.compare_responders(rates).table    # risk difference and odds ratio vs reference
    series = analysis.series_response(data)     # infusions until first response

Definitions
-----------
By time point (``time="visit" | "hours" | "days"``, time points as in :func:`analysis.trajectory`):
a patient's status at a time point is that of their LAST rating in it (the state at the end of
the window); n counts patients rated in it. Baseline is not a time point here. Visits are
summarised per schedule (column ``schedule``: the single-infusion and series schedules and the
booster visits, the trajectory's rule), listed single infusion, then series, then boosters.

By infusion (``time="infusion"``): a patient is a responder after infusion k when any rating
after infusion k and before infusion k+1 is a response (``Endpoints.by_infusion``); n counts
patients with at least one rating in that interval.

At any time (``time="any"``): a patient is a responder (remitter) when any post-baseline rating
met the criterion (``Endpoints.patients.responded`` / ``remitted``); n counts every patient with
a baseline, so a patient never rated after baseline counts as a non-responder. This is the
headline rate of a case series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.baseline import require_baseline
from analysis.errors import AnalysisError
from analysis.grouping import grouping_for
from analysis.intervals import proportion_interval, wilson_interval
from analysis.longitudinal.trajectories import (
    BASELINE_LABEL,
    assign_schedules,
    assign_time_points,
    describe_endpoints,
    endpoint_instrument,
    last_ratings,
    percent_notes,
    rescheduled_note,
    resolve_endpoints,
    schedule_rank,
)

__all__ = [
    "ResponderComparison",
    "ResponderRates",
    "ResponderSettings",
    "SeriesResponse",
    "compare_responders",
    "newcombe_difference_interval",
    "odds_ratio_interval",
    "responder_rates",
    "series_response",
    "wald_difference_interval",
]

_TIMES = ("visit", "hours", "days", "infusion", "any")
ANY_TIME_LABEL = "any time"


@dataclass(frozen=True)
class ResponderSettings:
    """How responder rates were computed."""

    instrument: str
    by: str | None
    time: str
    alpha: float
    bin_edges: tuple[float, ...] | None
    outcomes: tuple[str, ...]
    interval: str = "wilson"
    endpoint_definitions: tuple[str, ...] = ()
    grouping: str | None = None

    def describe(self) -> list[str]:
        level = f"{100 * (1 - self.alpha):g}%"
        if self.time == "infusion":
            where = ("by infusion number: responder after infusion k = any responding rating after "
                     "infusion k and before the next; n = patients rated in that interval")
        elif self.time == "any":
            where = ("at any time: a patient counts when any post-baseline rating met the criterion; "
                     "n = patients with a baseline rating")
        else:
            unit = {"visit": "visit (each schedule in its own order: single infusion, series, boosters)", "hours": "hours since the first infusion",
                    "days": "days since the first infusion"}[self.time]
            where = (f"by {unit}: status of each patient's last rating in the time point; "
                     "n = patients rated in it")
        lines = [f"{self.instrument} {' and '.join(self.outcomes)} rates {where}"
                 + (f", {self.grouping or 'grouped by ' + self.by}" if self.by else "") + ".",
                 f"{level} " + ("Wilson score intervals (Wilson 1927)." if self.interval == "wilson"
                                else "Clopper-Pearson exact intervals (Clopper & Pearson 1934).")]
        return lines + list(self.endpoint_definitions)


@dataclass(frozen=True)
class ResponderRates:
    """Response and remission proportions by time point (or infusion number) and group.

    table : group, [schedule] (visits: the course's schedule or ``"<course> boosters"``, as in
        :func:`analysis.trajectory`), time_point, time_order (visits: the place within the
        schedule, numbered as in the trajectory), infusion_number (Int64; NA unless by infusion),
        time_hours (mean time of the ratings used, hours since the first infusion; NaN by
        infusion), outcome ("response" | "remission"), n (patients), count, proportion (0-1),
        lower, upper (Wilson). Groups in the one order of :func:`analysis.group_patients`, then
        schedules (single infusion, series, boosters), then time.
    grouping : the :class:`analysis.Grouping` used (levels, reference, description).
    notes : who was left out, in sentences (e.g. patients with a baseline of 0).
    """

    table: pd.DataFrame
    settings: ResponderSettings
    n_patients: int
    endpoints: Any = field(repr=False, compare=False, default=None)
    grouping: Any = field(repr=False, compare=False, default=None)
    notes: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """Plain-language definitions used (for tables, figures and exports), then the notes."""
        return self.settings.describe() + [f"Note: {n}." for n in self.notes]

    def summary(self) -> pd.DataFrame:
        """One row per group and time point, indexed by (group, time_point): n and, per outcome,
        count, proportion, lower, upper; for visits the schedule first. Rows in the table's order
        (groups, schedules, then time)."""
        split = [c for c in ("schedule",) if c in self.table.columns]
        index = ["group", *split, "time_order", "time_point"]
        wide = self.table.pivot_table(index=index, columns="outcome", values=["count", "proportion", "lower", "upper"],
                                      observed=True, sort=True)
        wide.columns = [f"{outcome}_{stat}" if stat != "proportion" else outcome
                        for stat, outcome in wide.columns]
        n = self.table.groupby(index, sort=True)["n"].first()
        wide.insert(0, "n", n)
        for outcome in self.settings.outcomes:
            if f"{outcome}_count" in wide.columns:
                wide[f"{outcome}_count"] = wide[f"{outcome}_count"].astype("Int64")
        order = ["n"] + [c for o in self.settings.outcomes
                         for c in (f"{o}_count", o, f"{o}_lower", f"{o}_upper") if c in wide.columns]
        wide = wide[order]
        rank = {level: i for i, level in enumerate(self.grouping.levels)} if self.grouping is not None else {}
        groups = np.array([rank.get(g, len(rank)) for g in wide.index.get_level_values("group")])
        schedules = (schedule_rank(pd.Series(wide.index.get_level_values("schedule"))) if split
                     else np.zeros(len(wide), dtype=int))
        wide = wide.iloc[np.lexsort((wide.index.get_level_values("time_order"), schedules, groups))]
        return wide.reset_index([*split, "time_order"]).drop(columns="time_order")

    def __repr__(self) -> str:
        return (f"ResponderRates({self.settings.instrument} by {self.settings.time}; {self.n_patients} "
                f"patients, {self.table['time_point'].nunique()} time points, "
                f"{self.table['group'].nunique()} group(s))")


def _sort_key(column: pd.Series, outcomes: Sequence[str]) -> Any:
    """Rows in the outcomes' order and schedules in :func:`schedule_rank` order."""
    if column.name == "outcome":
        return column.map({o: i for i, o in enumerate(outcomes)})
    if column.name == "schedule":
        return pd.Series(schedule_rank(column), index=column.index)
    return column


def _outcomes(endpoints: Any) -> tuple[str, ...]:
    if getattr(endpoints.settings, "remission_max", None) is None:
        return ("response",)
    return ("response", "remission")


def responder_rates(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    time: str = "visit",
    bins: Sequence[float] | int | None = None,
    alpha: float = 0.05,
    interval: str = "wilson",
    group_bins: Sequence[float] | int | None = None,
    **endpoint_options: Any,
) -> ResponderRates:
    """Response and remission rates with Wilson intervals by time point or infusion number.

    Parameters
    ----------
    data : OutcomeData or Endpoints
        A dataset (endpoints derived with ``**endpoint_options``, e.g. ``response=0.5``,
        ``remission=12``) or the result of ``derive_endpoints``.
    by : str, optional
        Grouping (:func:`analysis.group_patients`: a patient or first-infusion column,
        ``course``, ``dose_band``, ``baseline``; numeric columns cut at quartiles).
    group_bins : list of float or int, optional
        Cut points or number of groups for a numeric ``by``.
    time : {"visit", "hours", "days", "infusion", "any"}
        Time points (see the module docstring); ``"any"`` gives one row per group: the
        proportion who ever responded (remitted). ``bins`` as in :func:`analysis.trajectory`.
    alpha : float
        1 - confidence level.
    interval : {"wilson", "clopper-pearson"}
        Interval for each proportion (Wilson score by default).

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference. J Am Stat
    Assoc 1927;22:209-12.
    """
    if time not in _TIMES:
        raise AnalysisError(f"time must be one of {_TIMES}, not {time!r}.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    require_baseline(endpoints, "responder rates", data=data)
    grouping = grouping_for(data, endpoints, by, bins=group_bins)
    groups = grouping.labels
    outcomes = _outcomes(endpoints)
    edges = None
    visit_notes: list[str] = []
    # visits: one schedule per course and its boosters (as :func:`analysis.trajectory`)
    split = ["schedule"] if time == "visit" else []
    if time == "infusion":
        per = endpoints.by_infusion
        per = per[per["n_ratings"].to_numpy() > 0]
        status = pd.DataFrame({
            "patient_id": per["patient_id"].astype(str).to_numpy(),
            "time_order": per["infusion_number"].to_numpy(np.int64),
            "response": per["responder"].astype(bool).to_numpy(),
            "remission": per["remitter"].astype(bool).to_numpy(),
            "time_hours": np.nan,
        })
        status["time_point"] = "infusion " + status["time_order"].astype(str)
        status["infusion_number"] = status["time_order"]
    elif time == "any":
        pts = endpoints.patients
        status = pd.DataFrame({
            "patient_id": pts["patient_id"].astype(str).to_numpy(),
            "time_order": np.ones(len(pts), dtype=np.int64),
            "response": pts["responded"].fillna(False).astype(bool).to_numpy(),
            "remission": (pts["remitted"].fillna(False).astype(bool).to_numpy() if "remitted" in pts.columns
                          else np.zeros(len(pts), dtype=bool)),
            "time_hours": np.nan,
            "time_point": ANY_TIME_LABEL,
            "infusion_number": pd.NA,
        })
    else:
        ratings = endpoints.ratings
        frame = pd.DataFrame({
            "patient_id": ratings["patient_id"].astype(str).to_numpy(),
            "time_hours": ratings["time_hours"].to_numpy(float),
            "visit": ratings["visit"].to_numpy() if "visit" in ratings.columns else None,
            "response": ratings["responder"].astype(bool).to_numpy(),
            "remission": ratings["remitter"].astype(bool).to_numpy(),
        }, index=ratings.index)
        # the patients summarised, before the visit view's schedules count who was rated where
        frame = frame[groups.reindex(frame["patient_id"]).notna().to_numpy()]
        points = assign_time_points(frame, time, bins, baseline=ratings.loc[frame.index, "is_baseline"].astype(bool))
        edges = points.edges
        visit_notes = points.unscheduled_note()
        rated = points.frame
        if time == "visit":
            rated, rescheduled = assign_schedules(data, endpoints, rated)
            visit_notes += rescheduled_note(rescheduled)
        rated = rated[rated["time_point"] != BASELINE_LABEL]
        status = last_ratings(rated, [*split, "time_order"]).reset_index(drop=True)
        status["infusion_number"] = pd.NA
    status["group"] = pd.Categorical(groups.reindex(status["patient_id"]).to_numpy(),
                                     categories=groups.cat.categories, ordered=True)
    status = status[status["group"].notna()]
    keys = ["group", *split, "time_order"]
    grouped = status.groupby(keys, observed=True, sort=True)
    base = grouped.agg(time_point=("time_point", "first"), n=("patient_id", "size"),
                       time_hours=("time_hours", "mean")).reset_index()
    parts = []
    for outcome in outcomes:
        part = base.copy()
        part["outcome"] = outcome
        part["count"] = grouped[outcome].sum().to_numpy().astype(np.int64)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table["proportion"] = table["count"] / table["n"]
    table["lower"], table["upper"] = proportion_interval(table["count"].to_numpy(), table["n"].to_numpy(),
                                                         method=interval, alpha=alpha)
    table["infusion_number"] = pd.array(table["time_order"] if time == "infusion" else [pd.NA] * len(table),
                                        dtype="Int64")
    table = table.sort_values(["group", *split, "time_order", "outcome"], kind="stable",
                              key=lambda s: _sort_key(s, outcomes))
    table["group"] = table["group"].astype(str)
    table = table[["group", *split, "time_point", "time_order", "infusion_number", "time_hours", "outcome", "n",
                   "count", "proportion", "lower", "upper"]].reset_index(drop=True)
    settings = ResponderSettings(instrument=instrument, by=by, time=time, alpha=alpha, bin_edges=edges,
                                 outcomes=outcomes, interval=interval, endpoint_definitions=describe_endpoints(endpoints),
                                 grouping=grouping.description if by else None)
    notes = (percent_notes(data, endpoints, instrument, "response") + visit_notes
             + list(grouping.notes if by else ()))
    return ResponderRates(table=table, settings=settings, n_patients=int(status["patient_id"].nunique()),
                          endpoints=endpoints, grouping=grouping, notes=tuple(notes))


# ----------------------------------------------------------------------------------------
# two-group comparisons
# ----------------------------------------------------------------------------------------
def newcombe_difference_interval(
    count1: Any, n1: Any, count0: Any, n0: Any, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for p1 - p0 (method 10 of Newcombe 1998), from the
    Wilson intervals (l, u) of each proportion::

        lower = d - sqrt((p1 - l1)^2 + (u0 - p0)^2),  upper = d + sqrt((u1 - p1)^2 + (p0 - l0)^2)

    Reference: Newcombe RG. Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 1998;17:873-90.
    """
    count1, n1, count0, n0 = (np.asarray(v, dtype=float) for v in (count1, n1, count0, n0))
    p1, p0 = count1 / n1, count0 / n0
    l1, u1 = wilson_interval(count1, n1, alpha)
    l0, u0 = wilson_interval(count0, n0, alpha)
    d = p1 - p0
    return d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def wald_difference_interval(
    count1: Any, n1: Any, count0: Any, n0: Any, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval for p1 - p0: d +/- z * sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0)
    (Agresti, Categorical Data Analysis, 3rd ed. 2013, section 3.1.2). Too narrow for small n or
    proportions near 0 or 1; Newcombe's interval is the default for that reason."""
    count1, n1, count0, n0 = (np.asarray(v, dtype=float) for v in (count1, n1, count0, n0))
    p1, p0 = count1 / n1, count0 / n0
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return p1 - p0 - half, p1 - p0 + half


def odds_ratio_interval(
    count1: Any, n1: Any, count0: Any, n0: Any, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Odds ratio of group 1 vs group 0 with Woolf's logit interval.

    With cells a = count1, b = n1 - count1, c = count0, d = n0 - count0:
    OR = a d / (b c), CI = exp(log OR +/- z sqrt(1/a + 1/b + 1/c + 1/d)). When any cell of a
    table is 0, 0.5 is added to all four cells of that table (Haldane 1956; Anscombe 1956).
    (statsmodels' ``Table2x2(shift_zeros=True)`` adds 0.5 to the zero cells only.)

    Returns (odds_ratio, lower, upper, corrected) arrays; ``corrected`` is True where the 0.5
    correction was applied.

    References
    ----------
    Woolf B. On estimating the relation between blood group and disease. Ann Hum Genet
    1955;19:251-3. Haldane JBS. The estimation and significance of the logarithm of a ratio of
    frequencies. Ann Hum Genet 1956;20:309-11.
    """
    a = np.asarray(count1, dtype=float)
    b = np.asarray(n1, dtype=float) - a
    c = np.asarray(count0, dtype=float)
    d = np.asarray(n0, dtype=float) - c
    corrected = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    shift = np.where(corrected, 0.5, 0.0)
    a, b, c, d = a + shift, b + shift, c + shift, d + shift
    log_or = np.log(a) + np.log(d) - np.log(b) - np.log(c)
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return np.exp(log_or), np.exp(log_or - half), np.exp(log_or + half), corrected


@dataclass(frozen=True)
class ResponderComparison:
    """Each group against a reference group, per time point and outcome.

    table : [schedule] (visits), time_point, time_order, infusion_number, outcome, group, reference, n, count,
        proportion, n_reference, count_reference, proportion_reference, risk_difference,
        risk_difference_lower, risk_difference_upper (proportion scale, group minus reference),
        odds_ratio, odds_ratio_lower, odds_ratio_upper, zero_cell_corrected, p_fisher
        (two-sided Fisher exact test).
    """

    table: pd.DataFrame
    settings: dict[str, Any]
    rates: ResponderRates = field(repr=False, compare=False)

    def summary(self) -> pd.DataFrame:
        """Proportions, risk difference and odds ratio (with CIs) and Fisher p per comparison,
        indexed by (time_point, outcome, group); for visits the schedule first."""
        columns = ["proportion", "proportion_reference", "risk_difference", "risk_difference_lower",
                   "risk_difference_upper", "odds_ratio", "odds_ratio_lower", "odds_ratio_upper", "p_fisher"]
        split = [c for c in ("schedule",) if c in self.table.columns]  # visits: the schedule first
        return self.table.set_index(["time_point", "outcome", "group"])[[*split, *columns]]

    def describe(self) -> list[str]:
        s = self.settings
        ci = ("Newcombe hybrid score (Newcombe 1998, method 10)" if s["difference_ci"] == "newcombe"
              else "Wald")
        return [f"Each level of {s['by']} compared with {s['reference']!r}.",
                f"Risk difference (group minus reference) with {100 * (1 - s['alpha']):g}% {ci} interval.",
                "Odds ratio with Woolf's logit interval; 0.5 added to every cell of a table with a zero "
                "cell (Haldane-Anscombe).",
                "p: two-sided Fisher exact test."] + self.rates.settings.describe()

    def __repr__(self) -> str:
        return (f"ResponderComparison({self.settings['by']} vs {self.settings['reference']!r}; "
                f"{len(self.table)} comparisons)")


def compare_responders(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    time: str = "visit",
    reference: Any = None,
    difference_ci: str = "newcombe",
    alpha: float = 0.05,
    bins: Sequence[float] | int | None = None,
    group_bins: Sequence[float] | int | None = None,
    **endpoint_options: Any,
) -> ResponderComparison:
    """Group differences in response and remission rates: risk difference and odds ratio.

    Parameters
    ----------
    data : ResponderRates, OutcomeData or Endpoints
        Rates from :func:`responder_rates` (computed with ``by``), or data from which they are
        computed with ``by``, ``time``, ``bins`` and ``**endpoint_options``.
    reference : group level, optional
        The comparator; default the grouping's reference (:func:`analysis.group_patients`:
        e.g. IV, single, 0.5 mg/kg, the lowest quartile, else the largest group).
    group_bins : list of float or int, optional
        Cut points or number of groups for a numeric ``by``.
    difference_ci : {"newcombe", "wald"}
        Interval for the risk difference (see :func:`newcombe_difference_interval`).

    Each non-reference group is compared with the reference at every time point where both
    have rated patients. See :func:`odds_ratio_interval` for the odds ratio.
    """
    if difference_ci not in ("newcombe", "wald"):
        raise AnalysisError("difference_ci must be 'newcombe' or 'wald'.")
    if isinstance(data, ResponderRates):
        rates = data
        if endpoint_options:
            raise AnalysisError("Endpoint options cannot be applied to already computed rates.")
    else:
        if by is None:
            raise AnalysisError("compare_responders needs `by` (a patient-level column) to form groups.")
        rates = responder_rates(data, instrument=instrument, by=by, time=time, bins=bins, alpha=alpha,
                                group_bins=group_bins, **endpoint_options)
    if rates.settings.by is None:
        raise AnalysisError("These rates were computed without `by`; there are no groups to compare.")
    table = rates.table
    levels = list(dict.fromkeys(table["group"]))
    if len(levels) < 2:
        raise AnalysisError(f"Only one group ({levels}) in the data; nothing to compare.")
    if reference is None:
        preferred = getattr(rates.grouping, "reference", None)
        reference = preferred if preferred in levels else levels[0]
    reference = str(reference) if str(reference) in levels else reference
    if reference not in levels:
        raise AnalysisError(f"reference {reference!r} is not a group; groups: {levels}.")
    split = [c for c in ("schedule",) if c in table.columns]
    keys = [*split, "time_order", "outcome"]
    ref = table[table["group"] == reference][keys + ["n", "count", "proportion"]].rename(
        columns={"n": "n_reference", "count": "count_reference", "proportion": "proportion_reference"})
    other = table[table["group"] != reference]
    out = other.merge(ref, on=keys, how="inner")
    out.insert(out.columns.get_loc("group") + 1, "reference", reference)
    args = (out["count"].to_numpy(), out["n"].to_numpy(), out["count_reference"].to_numpy(),
            out["n_reference"].to_numpy())
    out["risk_difference"] = out["proportion"] - out["proportion_reference"]
    difference_interval = newcombe_difference_interval if difference_ci == "newcombe" else wald_difference_interval
    out["risk_difference_lower"], out["risk_difference_upper"] = difference_interval(*args, alpha=alpha)
    ratio, lower, upper, corrected = odds_ratio_interval(*args, alpha=alpha)
    out["odds_ratio"], out["odds_ratio_lower"], out["odds_ratio_upper"] = ratio, lower, upper
    out["zero_cell_corrected"] = corrected
    # a loop over comparisons (a few dozen at most), not over patients
    out["p_fisher"] = [stats.fisher_exact([[a, n1 - a], [c, n0 - c]]).pvalue
                       for a, n1, c, n0 in zip(*args, strict=True)]
    columns = [*split, "time_point", "time_order", "infusion_number", "outcome", "group", "reference", "n", "count",
               "proportion", "n_reference", "count_reference", "proportion_reference", "risk_difference",
               "risk_difference_lower", "risk_difference_upper", "odds_ratio", "odds_ratio_lower",
               "odds_ratio_upper", "zero_cell_corrected", "p_fisher"]
    outcome_rank = out["outcome"].map({o: i for i, o in enumerate(rates.settings.outcomes)})
    group_rank = out["group"].map({g: i for i, g in enumerate(levels)})  # rates' group order
    schedules = schedule_rank(out["schedule"]) if split else 0
    out = (out.assign(_schedule=schedules, _rank=outcome_rank, _group=group_rank)
           .sort_values(["_schedule", "time_order", "_rank", "_group"], kind="stable")[columns]
           .reset_index(drop=True))
    settings = {"by": rates.settings.by, "reference": reference, "difference_ci": difference_ci, "alpha": alpha,
                "time": rates.settings.time}
    return ResponderComparison(table=out, settings=settings, rates=rates)


# ----------------------------------------------------------------------------------------
# cumulative response across a series
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesResponse:
    """How many infusions until the first response.

    patients : patient_id, group, responded, infusions_to_response (Int64, the infusion after
        which the first responding rating came; NA for non-responders), last_rated_infusion
        (the last infusion followed by a rating: where a non-responder is censored).
    distribution : group, infusion_number, first_responses (patients whose first response
        followed this infusion), censored (non-responders whose last rated infusion this was),
        percent_of_responders, percent_of_patients.
    cumulative : group, infusion_number, n (patients), at_risk, first_responses, censored,
        cumulative_response (Kaplan-Meier 1 - S(k), 0-1), lower, upper (log-log interval on
        S, reflected), cumulative_naive (first responses up to k / all patients).
    """

    patients: pd.DataFrame
    distribution: pd.DataFrame
    cumulative: pd.DataFrame
    medians: pd.DataFrame
    settings: dict[str, Any]
    endpoints: Any = field(repr=False, compare=False, default=None)

    def summary(self) -> pd.DataFrame:
        """Per group: n, responders, proportion responding (Wilson CI), median infusions to
        first response (Kaplan-Meier, with CI), mean infusions among responders."""
        return self.medians.set_index("group")

    def describe(self) -> list[str]:
        return [
            "Infusions to first response: the number of the infusion after which the first "
            "responding rating came.",
            "Cumulative response by infusion number: Kaplan-Meier in discrete time (infusion "
            "number), so patients who stop or are lost early are censored at their last infusion "
            "followed by a rating instead of being counted as non-responders; "
            f"{100 * (1 - self.settings['alpha']):g}% log-log intervals (Greenwood). "
            "cumulative_naive divides by all patients (a lower bound when patients stop early).",
        ] + list(self.settings.get("endpoint_definitions", ())) + [f"Note: {n}." for n in self.settings.get("notes", ())]

    def __repr__(self) -> str:
        p = self.patients
        return (f"SeriesResponse({len(p)} patients, {int(p['responded'].sum())} responders, "
                f"{p['group'].nunique()} group(s))")


_MEDIAN_COLUMNS = ["group", "n", "responders", "proportion_responded", "proportion_lower", "proportion_upper",
                   "median_infusions_to_response", "median_lower", "median_upper",
                   "mean_infusions_among_responders"]


def series_response(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    alpha: float = 0.05,
    group_bins: Sequence[float] | int | None = None,
    **endpoint_options: Any,
) -> SeriesResponse:
    """Infusions until first response: distribution and cumulative proportion by infusion number.

    The cumulative proportion is 1 - S(k) of a Kaplan-Meier estimate on the infusion number
    (event = first response after infusion k; non-responders censored at their last infusion
    followed by a rating; patients with no post-infusion rating are left out). A patient who
    stops after 3 infusions without response thus lowers the denominator from infusion 4 on
    rather than counting as a failure, which the naive proportion (also reported) does.

    References
    ----------
    Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat Assoc
    1958;53:457-81. Confidence limits: log-log transform with Greenwood's variance (Kalbfleisch &
    Prentice 2002), as R's ``survfit(conf.type = "log-log")``.
    """
    from analysis.survival.kaplan_meier import kaplan_meier

    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    require_baseline(endpoints, "infusions to response", data=data)
    grouping = grouping_for(data, endpoints, by, bins=group_bins)
    groups = grouping.labels
    per = endpoints.by_infusion
    rated = per[per["n_ratings"].to_numpy() > 0]
    last = rated.groupby(rated["patient_id"].astype(str))["infusion_number"].max()
    pts = endpoints.patients
    ids = pts["patient_id"].astype(str)
    patients = pd.DataFrame({
        "patient_id": ids.to_numpy(),
        "group": groups.reindex(ids).astype(object).to_numpy(),
        "responded": pts["responded"].astype(bool).to_numpy(),
        "infusions_to_response": pd.array(pts["onset_infusion"], dtype="Int64"),
        "last_rated_infusion": pd.array(last.reindex(ids).to_numpy(), dtype="Int64"),
    })
    patients = patients[patients["last_rated_infusion"].notna() & patients["group"].notna()].reset_index(drop=True)
    time = np.where(patients["responded"], patients["infusions_to_response"].fillna(0).to_numpy(float),
                    patients["last_rated_infusion"].to_numpy(float))
    patients["_time"] = time
    group_names = [g for g in groups.cat.categories if g in set(patients["group"])]

    dist_rows, cum_rows, med_rows = [], [], []
    for group in group_names:
        part = patients[patients["group"] == group]
        event = part["responded"].to_numpy(bool)
        t = part["_time"].to_numpy(float)
        numbers = np.arange(1, int(t.max()) + 1) if len(t) else np.array([], dtype=int)
        first = np.bincount(t[event].astype(int), minlength=len(numbers) + 1)[1:]
        censored = np.bincount(t[~event].astype(int), minlength=len(numbers) + 1)[1:]
        at_risk = len(t) - np.r_[0, np.cumsum(first + censored)[:-1]]
        km = kaplan_meier(t, event, ci="log-log", alpha=alpha)
        at = km.at(numbers.astype(float))
        n_resp = int(event.sum())
        dist_rows.append(pd.DataFrame({
            "group": group, "infusion_number": numbers, "first_responses": first, "censored": censored,
            "percent_of_responders": 100 * first / n_resp if n_resp else np.nan,
            "percent_of_patients": 100 * first / len(t)}))
        cum_rows.append(pd.DataFrame({
            "group": group, "infusion_number": numbers, "n": len(t), "at_risk": at_risk,
            "first_responses": first, "censored": censored,
            "cumulative_response": 1 - at["survival"].to_numpy(),
            "lower": 1 - at["upper"].to_numpy(), "upper": 1 - at["lower"].to_numpy(),
            "cumulative_naive": np.cumsum(first) / len(t)}))
        lower, upper = wilson_interval(n_resp, len(t), alpha)
        median_ci = km.median_ci
        med_rows.append({
            "group": group, "n": len(t), "responders": n_resp, "proportion_responded": n_resp / len(t),
            "proportion_lower": float(lower), "proportion_upper": float(upper),
            "median_infusions_to_response": km.median,
            "median_lower": median_ci[0], "median_upper": median_ci[1],
            "mean_infusions_among_responders": float(t[event].mean()) if n_resp else np.nan,
        })
    patients = patients.drop(columns="_time")
    settings = {"instrument": instrument, "by": by, "alpha": alpha,
                "endpoint_definitions": describe_endpoints(endpoints),
                "notes": tuple(percent_notes(data, endpoints, instrument, "response")
                               + list(grouping.notes if by else ()))}
    return SeriesResponse(
        patients=patients,
        distribution=pd.concat(dist_rows, ignore_index=True) if dist_rows else pd.DataFrame(),
        cumulative=pd.concat(cum_rows, ignore_index=True) if cum_rows else pd.DataFrame(),
        medians=pd.DataFrame(med_rows, columns=_MEDIAN_COLUMNS),
        settings=settings, endpoints=endpoints)
