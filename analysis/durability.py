"""Durability of response: time to relapse among responders, in days.

Relapse is only known to have happened between two visits (interval-censored), so the
headline estimate (``median_days`` and the sustained-response proportions) comes from a method
that uses the interval, chosen per group by a documented rule (``estimator`` column):

1. the Turnbull NPMLE of the relapse intervals is always computed;
2. the interval-censored parametric model (Weibull by default) is used when it fits the NPMLE:
   the mean absolute difference of the two survival curves at the observed interval ends (each
   responder's last relapse-free day and relapse-seen day, up to the last follow-up) is at most
   ``max(0.02, 0.6 / sqrt(n))`` (``model_fit_distance``; calibrated by simulation). Its median
   and sustained proportions carry delta-method intervals;
3. otherwise the Turnbull NPMLE is reported, its median by R's rule (``survfit`` on
   ``Surv(l, r, type="interval2")``: the mass of each support interval at its midpoint) and
   its sustained proportions on the curve interpolated across support intervals, with
   percentile bootstrap intervals (resampling responders).

With a competing-risk strategy for an intercurrent event (``competing=`` or
``intercurrent={"rescue": "competing"}``) the headline is the Aalen-Johansen cumulative
incidence of relapse instead (``estimator = "aalen_johansen"``; relapses dated at the middle
of their interval): the median is the day by which half the responders have relapsed, and
sustained_*d = 1 - cumulative incidence.

The Kaplan-Meier median on the visit at which relapse was seen, the convention of papers, is
kept as ``km_median_days`` (it is late by up to one visit interval, i.e. biased upward). Values
that the data cannot support are NaN with the reason in ``notes``: a median beyond the last
follow-up is an extrapolation, never printed as a number::

    import analysis
    fit = analysis.fit_durability(analysis.load_sample(), by="course")
    fit.summary()
    analysis.relapse_hazards(analysis.load_sample()).table
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import OutcomeData
from analysis.endpoints import (
    Endpoints,
    EndpointSettings,
    fit_grouping,
    group_table,
    plain_fit_note,
    resolve_endpoints,
    stack_frames,
)
from analysis.errors import AnalysisError
from analysis.grouping import patient_values

__all__ = ["DEFAULT_RELAPSE_COVARIATES", "DurabilityResult", "fit_durability", "relapse_hazards",
           "turnbull_median"]

SUSTAINED_DAYS = (7, 14, 21, 28)
RISK_TABLE_STEP_DAYS = 7
MIN_RESPONDERS = 5
MIN_RELAPSES_MODEL = 3
# The parametric model is the headline when its mean distance from the NPMLE at the observed
# interval ends is at most max(FIT_TOLERANCE, FIT_TOLERANCE_SCALE / sqrt(n)). Calibrated by
# simulation (analysis.simulate, Weibull truth, n = 75-700 responders): a correct Weibull model
# lies at 0.012-0.044 (below 0.6 / sqrt(n)), a wrong exponential one at 0.040-0.077.
FIT_TOLERANCE = 0.02
FIT_TOLERANCE_SCALE = 0.6
N_BOOTSTRAP = 200
ESTIMATORS = ("auto", "parametric", "turnbull")
DEFAULT_RELAPSE_COVARIATES = ("first_dose_mg_per_kg", "route", "diagnosis", "baseline_score",
                              "peak_cadss", "n_infusions", "age", "sex")
_SUSTAINED = [c for d in SUSTAINED_DAYS for c in (f"sustained_{d}d", f"sustained_{d}d_lower", f"sustained_{d}d_upper")]
SUMMARY_COLUMNS = [
    "n_responders", "relapses", "estimator", "median_days", "median_days_lower", "median_days_upper",
    *_SUSTAINED,
    "km_median_days", "km_median_days_lower", "km_median_days_upper",
    *(f"km_sustained_{d}d" for d in SUSTAINED_DAYS),
    "median_followup_days", "last_followup_days",
    "model_median_days", "model_median_days_lower", "model_median_days_upper", "dist", "model_fit_distance",
    "competing_events", "origin", "note",
]


@dataclass(frozen=True)
class DurabilityResult:
    """Fitted time-to-relapse curves among responders (see ``fit_durability``).

    Attributes
    ----------
    table : DataFrame indexed by group, the columns of ``summary()``.
    curve : Kaplan-Meier steps (relapse dated at the visit where it was seen): group,
        time_days, survival, lower, upper (log-log band), at_risk, events, censored (starts
        with a row at day 0).
    risk_table : group, time_days (0, 7, 14, ...), at_risk, events and censored (cumulative).
    model_curve : interval-censored parametric fit: group, time_days, survival, lower, upper.
    logrank : LogRankResult across groups (None without ``by`` or with one group).
    settings : EndpointSettings (relapse rule, confirmation, origin, intercurrent strategies);
        endpoints : Endpoints.
    by, dist, alpha ; notes : things the reader should know in plain words: the origin and
        intercurrent strategies used, the estimator of each group and why, values left out and
        why, fitting problems ; models : group -> ParametricResult ; km : group ->
        KaplanMeierResult ; npmle : group -> TurnbullResult.
    npmle_curve : Turnbull NPMLE: group, time_days, survival (support interval ends).
    cumulative_incidence : with a competing strategy, Aalen-Johansen cumulative incidence of
        relapse (event 1) and of the competing events (event 2): group, event, time_days, cif,
        lower, upper; else empty.
    gray_test : with a competing strategy and at least two groups, Gray's test of the cumulative
        incidences across groups (as ``cmprsk::cuminc``): event, statistic, dof, p_value; else empty.
    reference : the comparison group; landmark_days : the landmark (None: all responders).
    intervals : group -> (relapse_lower_days, relapse_upper_days) of its responders (as fitted);
    n_bootstrap : resamples used for Turnbull intervals; bootstrap_fits : group -> the
        ``n_bootstrap`` replicates' TurnbullResults (groups whose headline is the NPMLE), so
        other days can be read off the same resamples without refitting.
    """

    table: pd.DataFrame
    curve: pd.DataFrame = field(repr=False)
    risk_table: pd.DataFrame = field(repr=False)
    model_curve: pd.DataFrame = field(repr=False)
    logrank: Any
    settings: EndpointSettings
    endpoints: Endpoints = field(repr=False)
    by: str | None
    dist: str
    alpha: float
    notes: tuple[str, ...] = ()
    models: dict = field(default_factory=dict, repr=False)
    km: dict = field(default_factory=dict, repr=False)
    npmle: dict = field(default_factory=dict, repr=False)
    npmle_curve: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    cumulative_incidence: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    reference: str | None = None
    landmark_days: float | None = None
    intervals: dict = field(default_factory=dict, repr=False)
    n_bootstrap: int = N_BOOTSTRAP
    bootstrap_fits: dict = field(default_factory=dict, repr=False, compare=False)
    gray_test: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def summary(self) -> pd.DataFrame:
        """One row per group: n_responders, relapses, the headline median days to relapse with
        CI and its ``estimator``, proportion still in response at 7/14/21/28 days (with CI),
        the Kaplan-Meier (papers') median and proportions, reverse Kaplan-Meier median
        follow-up, the parametric model's median, and the ``origin`` of the clock."""
        return self.table.copy()


# --------------------------------------------------------------------------------------------
# estimators of one group

MEDIAN_TOLERANCE = float(np.sqrt(np.finfo(float).eps))  # R: sqrt(.Machine$double.eps)


def turnbull_median(fit: Any) -> float:
    """Median of a TurnbullResult by R's rule (``print.survfit`` for ``type="interval2"``): each
    support interval's mass sits at its midpoint; the first midpoint where survival falls below
    0.5 (the mean of two midpoints where it equals 0.5); NaN when not reached. "Equals" is up to
    R's ``quantile.survfit`` tolerance, sqrt(machine epsilon): the NPMLE's iterations stop about
    1e-10 from their limit, so a tighter test would let the start of the iterations decide."""
    table = fit.table
    mid = 0.5 * (table["lower"].to_numpy(float) + table["upper"].to_numpy(float))
    survival = table["survival"].to_numpy(float)
    below = np.flatnonzero(survival < 0.5 - MEDIAN_TOLERANCE)
    equal = np.flatnonzero(np.abs(survival - 0.5) <= MEDIAN_TOLERANCE)
    if len(equal) and (not len(below) or equal[0] < below[0]):
        j = equal[0]
        return float(0.5 * (mid[j] + mid[j + 1])) if j + 1 < len(mid) and np.isfinite(mid[j + 1]) else np.nan
    if not len(below) or not np.isfinite(mid[below[0]]):
        return np.nan
    return float(mid[below[0]])


def _fit_distance(model: Any, npmle: Any, lower: np.ndarray, upper: np.ndarray, last_followup: float) -> float:
    """Mean |S_model - S_NPMLE| over the observed interval ends (every responder's last
    relapse-free day and relapse-seen day) up to the last follow-up: the NPMLE is pinned down
    where observations end, and is arbitrary inside wide intervals, so a maximum distance
    would measure the NPMLE's ambiguity rather than the model's misfit."""
    ends = np.r_[lower, upper[np.isfinite(upper)]]
    ends = ends[(ends > 0) & (ends <= last_followup)]
    if not len(ends):
        return np.nan
    s_np = npmle.survival_at(ends)["survival"].to_numpy(float)
    s_model = model.survival(ends)["survival"].to_numpy(float)
    return float(np.nanmean(np.abs(s_np - s_model)))


def _bootstrap_fits(lower: np.ndarray, upper: np.ndarray, n_bootstrap: int, seed: int,
                    start: Any = None) -> list[Any]:
    """Turnbull NPMLEs of ``n_bootstrap`` resamples of the responders (one TurnbullResult per
    replicate; a resample drawn again reuses its fit); ``start``: the full data's NPMLE, where
    each replicate's iterations start."""
    from analysis.longitudinal._design import single_thread_blas
    from analysis.survival.turnbull import pool_bounds, turnbull_pooled

    # checked and pooled once: a replicate is the same distinct pairs with new counts
    p_lower, p_upper, weight = pool_bounds(np.asarray(lower, float), np.asarray(upper, float))
    rng = np.random.default_rng(seed)
    fits: list[Any] = []
    seen: dict[bytes, Any] = {}  # small groups draw the same resample often
    with single_thread_blas():  # the NPMLE's k x k solves: one BLAS thread is faster on 2 shared cores
        for _ in range(n_bootstrap):  # loops over replicates; each replicate is vectorised
            counts = rng.multinomial(len(lower), weight / weight.sum())
            key = counts.tobytes()
            if key not in seen:
                seen[key] = turnbull_pooled(p_lower, p_upper, counts.astype(float), start=start)
            fits.append(seen[key])
    return fits


def _bootstrap_npmle(lower: np.ndarray, upper: np.ndarray, n_bootstrap: int, seed: int,
                     days: np.ndarray, fits: list[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates (resampling responders) of the Turnbull median and S(days);
    ``fits``: the replicates' fits already made by ``_bootstrap_fits`` with these inputs."""
    if fits is None:
        fits = _bootstrap_fits(lower, upper, n_bootstrap, seed)
    medians = np.full(n_bootstrap, np.nan)
    survival = np.full((n_bootstrap, len(days)), np.nan)
    done: dict[int, tuple[float, np.ndarray]] = {}
    for b, fit in enumerate(fits):
        if id(fit) not in done:
            done[id(fit)] = (turnbull_median(fit), fit.survival_at(days)["survival"].to_numpy(float))
        medians[b], survival[b] = done[id(fit)]
    return medians, survival


def _percentile_interval(values: np.ndarray, alpha: float, not_reached_high: bool) -> tuple[float, float]:
    """Percentile interval; NaN replicates count as +inf when ``not_reached_high`` (a median
    not reached lies beyond follow-up)."""
    v = np.where(np.isnan(values), np.inf, values) if not_reached_high else values[np.isfinite(values)]
    if not len(v):
        return np.nan, np.nan
    # no interpolation between order statistics: a replicate "not reached" (inf) stays inf
    lo, hi = np.quantile(v, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return float(lo), float(hi) if np.isfinite(hi) else np.nan


def _midpoint_times(lower: np.ndarray, upper: np.ndarray, time: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Times for the cumulative incidence: relapses at the middle of their interval, competing
    events and censoring at their time."""
    return np.where(status == 1, 0.5 * (lower + np.where(np.isfinite(upper), upper, lower)), time)


@dataclass
class _Group:
    """Inputs of one group's fit (responders of the group), times already tied (``_tied``)."""

    level: str
    lower: np.ndarray
    upper: np.ndarray
    time: np.ndarray
    event: np.ndarray
    status: np.ndarray
    midpoint_time: np.ndarray  # _midpoint_times, for the cumulative incidence


def _tied(lower: np.ndarray, upper: np.ndarray, time: np.ndarray, status: np.ndarray,
          patient_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Days equal up to rounding error made equal once over all responders that are fitted, as
    R's ``survfit(Surv(...) ~ group)`` (``timefix``, aeqSurv) ties the whole response before
    splitting it into groups: the relapse intervals (``tied_bounds``), the visit at which relapse
    was seen (Kaplan-Meier, log-rank) and the cumulative incidence's times, each as its own
    response. The per-group fits then take these days as given (``timefix=False``)."""
    from analysis.survival._common import tied_times
    from analysis.survival.turnbull import tied_bounds

    lower, upper = tied_bounds(lower, upper, rows=patient_id)
    midpoint = tied_times(_midpoint_times(lower, upper, time, status))
    return lower, upper, tied_times(time), midpoint


def _fit_group(g: _Group, dist: str, alpha: float, estimator: str, n_bootstrap: int, competing: bool,
               grid: np.ndarray) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """One group's summary row, its notes, and its fitted objects and curves."""
    from analysis.survival.kaplan_meier import kaplan_meier
    from analysis.survival.turnbull import turnbull_quiet

    n = len(g.time)
    relapses = int(g.event.sum())
    row: dict[str, Any] = {"group": g.level, "n_responders": n, "relapses": relapses, "dist": dist,
                           "competing_events": int((g.status == 2).sum())}
    notes: list[str] = []
    fitted: dict[str, Any] = {}
    if n == 0:
        row["estimator"] = "none"
        notes.append("no responders")
        return row, notes, fitted
    days = np.asarray(SUSTAINED_DAYS, dtype=float)
    last = float(np.max(g.time))
    row["last_followup_days"] = last
    km = kaplan_meier(g.time, g.event, ci="log-log", alpha=alpha, timefix=False)
    fitted["km"] = km
    km_s = np.where(days <= last, km.at(list(SUSTAINED_DAYS))["survival"].to_numpy(float), np.nan)
    row.update({"km_median_days": km.median, "km_median_days_lower": km.median_ci[0],
                "km_median_days_upper": km.median_ci[1]})
    row.update({f"km_sustained_{d}d": s for d, s in zip(SUSTAINED_DAYS, km_s, strict=True)})
    # reverse Kaplan-Meier: follow-up ends at censoring; relapse (or competing event) censors it
    followup = kaplan_meier(g.time, g.status == 0, ci="log-log", alpha=alpha, timefix=False)
    row["median_followup_days"] = followup.median

    npmle = turnbull_quiet(g.lower, g.upper, timefix=False)
    fitted["npmle"] = npmle
    notes += [f"Turnbull NPMLE: {text}" for text in npmle.notes]
    model = None
    if n < MIN_RESPONDERS or relapses < MIN_RELAPSES_MODEL:
        notes.append(f"too few responders or relapses for the parametric model (n={n}, relapses={relapses})")
    else:
        from analysis.survival.parametric import fit_parametric_quiet

        try:
            # quiet: problems of the fit go to the notes, not to Python warnings
            model = fit_parametric_quiet(g.lower, g.upper, dist=dist, alpha=alpha)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            notes.append(f"parametric model not fitted: {exc}")
        else:
            fitted["model"] = model
            notes += [f"parametric model: {plain_fit_note(text, 'relapses')}" for text in model.notes]
            row.update({"model_median_days": model.median, "model_median_days_lower": model.median_ci[0],
                        "model_median_days_upper": model.median_ci[1]})
            if model.median > last:
                notes.append(f"the parametric model's median ({model.median:.1f} days) lies beyond the last "
                             f"follow-up ({last:.1f} days): an extrapolation of the model")
            row["model_fit_distance"] = _fit_distance(model, npmle, g.lower, g.upper, last)
            band = model.survival(grid)
            fitted["model_curve"] = pd.DataFrame({
                "time_days": grid, "survival": band["survival"].to_numpy(float),
                "lower": band["lower"].to_numpy(float), "upper": band["upper"].to_numpy(float)})

    if competing and row["competing_events"]:
        row.update(_competing_headline(g, alpha, days, last, notes, fitted))
        return row, notes, fitted
    tolerance = max(FIT_TOLERANCE, FIT_TOLERANCE_SCALE / np.sqrt(n))
    use_model = model is not None and not model.notes and (
        estimator == "parametric" or (estimator == "auto" and row.get("model_fit_distance", np.inf) <= tolerance))
    if estimator == "parametric" and model is None:
        notes.append("estimator='parametric' asked for but no model could be fitted: Turnbull NPMLE used")
    if use_model:
        row["estimator"] = dist
        median, lo, hi = model.median, model.median_ci[0], model.median_ci[1]
        band = model.survival(days)
        sustained = band[["survival", "lower", "upper"]].to_numpy(float)
        if estimator == "auto":
            notes.append(f"headline from the {dist} interval-censored model: it lies within "
                         f"{row['model_fit_distance']:.3f} of the Turnbull NPMLE (tolerance {tolerance:.3f})")
    else:
        row["estimator"] = "turnbull"
        median = turnbull_median(npmle)
        fitted["bootstrap"] = _bootstrap_fits(g.lower, g.upper, n_bootstrap, 0, start=npmle)
        boot_median, boot_survival = _bootstrap_npmle(g.lower, g.upper, n_bootstrap, 0, days, fitted["bootstrap"])
        lo, hi = _percentile_interval(boot_median, alpha, not_reached_high=True)
        s_hat = npmle.survival_at(days)["survival"].to_numpy(float)
        s_lo, s_hi = np.full(len(days), np.nan), np.full(len(days), np.nan)
        finite = np.isfinite(boot_survival).all(axis=0) if n_bootstrap else np.zeros(len(days), dtype=bool)
        if finite.any():
            s_lo[finite], s_hi[finite] = np.quantile(boot_survival[:, finite], [alpha / 2, 1 - alpha / 2], axis=0)
        sustained = np.c_[s_hat, s_lo, s_hi]
        why = ("asked for" if estimator == "turnbull" else
               "no parametric model was fitted" if model is None else
               "the parametric model had fitting problems" if model.notes else
               f"the {dist} model departs from it by {row['model_fit_distance']:.3f} (tolerance {tolerance:.3f})")
        notes.append(f"headline from the Turnbull NPMLE ({why}); intervals: percentile bootstrap, "
                     f"{n_bootstrap} resamples of the responders")
    row.update(_checked_median(median, lo, hi, last, notes))
    sustained = np.where((days <= last)[:, None], sustained, np.nan)
    if (days > last).any():
        notes.append(f"sustained response after day {last:.1f} (the last follow-up) is not estimated")
    for d, (s, s_lo_, s_hi_) in zip(SUSTAINED_DAYS, sustained, strict=True):
        row.update({f"sustained_{d}d": s, f"sustained_{d}d_lower": s_lo_, f"sustained_{d}d_upper": s_hi_})
    return row, notes, fitted


def _checked_median(median: float, lower: float, upper: float, last: float, notes: list[str]) -> dict[str, float]:
    """The headline median and CI, NaN (with a note) where they are not estimable from the data."""
    out = {"median_days": median, "median_days_lower": lower, "median_days_upper": upper}
    if not np.isfinite(median) or median <= 0:
        out = dict.fromkeys(out, np.nan)
        notes.append(f"median not reached: more than half the responders are still in response at the last "
                     f"follow-up ({last:.1f} days)")
        return out
    if median > last:
        out = dict.fromkeys(out, np.nan)
        notes.append(f"median not estimated: its value ({median:.1f} days) lies beyond the last follow-up "
                     f"({last:.1f} days), an extrapolation")
        return out
    if not np.isfinite(lower) or lower <= 0:
        out["median_days_lower"] = np.nan
        notes.append("the lower confidence limit of the median cannot be computed from these data")
    if not np.isfinite(upper) or upper > last:
        out["median_days_upper"] = np.nan
        notes.append(f"the upper confidence limit of the median lies beyond the last follow-up ({last:.1f} days): "
                     "not estimated")
    return out


def _competing_headline(g: _Group, alpha: float, days: np.ndarray, last: float, notes: list[str],
                        fitted: dict[str, Any]) -> dict[str, Any]:
    """Aalen-Johansen cumulative incidence of relapse with competing events as the headline."""
    from analysis.survival.competing import cumulative_incidence

    cif = cumulative_incidence(g.midpoint_time, g.status, alpha=alpha, timefix=False)
    steps = cif.table[cif.table["event"] == 1]
    fitted["cif"] = cif.table.rename(columns={"time": "time_days"})[
        ["event", "time_days", "cif", "lower", "upper"]]
    out: dict[str, Any] = {"estimator": "aalen_johansen"}
    t = steps["time"].to_numpy(float)

    def first_reaching(curve: np.ndarray) -> float:
        hit = np.flatnonzero(curve >= 0.5)
        return float(t[hit[0]]) if len(hit) else np.nan

    median = first_reaching(steps["cif"].to_numpy(float))
    # the day the upper (lower) band reaches 0.5 bounds the median from below (above)
    lo = first_reaching(steps["upper"].to_numpy(float))
    hi = first_reaching(steps["lower"].to_numpy(float))
    notes.append("headline from the Aalen-Johansen cumulative incidence of relapse, with the competing "
                 "intercurrent events as competing risks (relapses dated at the middle of their interval): "
                 "median = the day half the responders have relapsed; sustained = 1 - cumulative incidence "
                 "of relapse")
    out.update(_checked_median(median, lo, hi, last, notes))
    at = cif.at(days)
    at = at[at["event"] == 1]
    for d, (_, r) in zip(SUSTAINED_DAYS, at.iterrows(), strict=True):
        ok = d <= last
        out.update({f"sustained_{d}d": 1 - r["cif"] if ok else np.nan,
                    f"sustained_{d}d_lower": 1 - r["upper"] if ok else np.nan,
                    f"sustained_{d}d_upper": 1 - r["lower"] if ok else np.nan})
    return out


# --------------------------------------------------------------------------------------------

def _check_clock(data: Any, what: str) -> None:
    if isinstance(data, OutcomeData) and not getattr(data, "has_clock_time", True):
        raise AnalysisError(f"{what} needs clock times (hours since the first infusion), but this dataset "
                            "gives only visit labels or numbers. Add time_hours (or dates) to the "
                            "assessments.")


def _responders(endpoints: Endpoints, landmark_days: float | None, notes: list[str]) -> pd.DataFrame:
    responders = endpoints.patients[endpoints.patients["responded"].to_numpy(dtype=bool)]
    if landmark_days is None:
        return responders
    day = float(landmark_days)
    if day < 0:
        raise AnalysisError(f"landmark_days={landmark_days}: a landmark is a day on the durability clock (>= 0).")
    still = responders["relapse_time_days"].to_numpy(float) > day
    kept = responders.loc[still].copy()
    kept["relapse_lower_days"] = np.maximum(kept["relapse_lower_days"] - day, 0.0)
    kept["relapse_upper_days"] = kept["relapse_upper_days"] - day
    kept["relapse_time_days"] = kept["relapse_time_days"] - day
    kept["intercurrent_days"] = kept["intercurrent_days"] - day
    notes.append(f"landmark analysis from day {day:g}: {len(kept)} of {len(responders)} responders still in "
                 f"response and followed at day {day:g}; times are days after the landmark")
    return kept


def fit_durability(
    data: OutcomeData | Endpoints,
    instrument: str = "MADRS",
    by: str | None = None,
    origin: str | None = None,
    dist: str = "weibull",
    alpha: float = 0.05,
    estimator: str = "auto",
    competing: Any = None,
    intercurrent: Mapping[str, str] | None = None,
    bins: Any = None,
    reference: str | None = None,
    landmark_days: float | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    group_bins: Any = None,
    **endpoint_options: Any,
) -> DurabilityResult:
    """Time to relapse (days) among responders, per group.

    Parameters
    ----------
    data : OutcomeData or Endpoints
        The dataset, or endpoints already derived by ``derive_endpoints`` (their relapse rule,
        origin and intercurrent strategies are used; ``origin`` must then match).
    instrument : str
    by : str, optional
        Grouping (``analysis.grouping.group_patients``): any patient- or first-infusion column,
        ``"course"``, ``"dose_band"``...; numeric columns are cut at quartiles unless ``bins``.
    origin : {"auto", "response", "last_infusion"}, optional
        Day 0 of the clock (default ``"auto"``: response onset after a single infusion, the last
        infusion of the induction series for a series; see ``derive_endpoints``).
    dist : {"weibull", "loglogistic", "lognormal", "exponential"}
        Distribution of the interval-censored model.
    alpha : float
        1 - confidence level.
    estimator : {"auto", "parametric", "turnbull"}
        The headline estimator (module docstring): ``"auto"`` = the model when it fits the
        NPMLE, else the NPMLE.
    competing, intercurrent :
        Intercurrent-event strategies (``analysis.intercurrent``), e.g. ``competing="rescue"``.
    group_bins, reference : passed to ``group_patients`` (``group_bins``: cut points or number
        of groups, as in the other ``by=`` functions; ``bins`` is the older name of it).
    landmark_days : float, optional
        Landmark analysis: only responders still in response (no relapse seen) and followed at
        this day of the clock, with times counted from it.
    n_bootstrap : int
        Bootstrap resamples for the Turnbull intervals.
    **endpoint_options
        Passed to ``derive_endpoints``: relapse rule, confirm_visits, response, series_gap_days...

    Returns
    -------
    DurabilityResult
        ``summary()`` per group: n_responders, relapses, estimator, median_days (+ lower/upper),
        sustained_7d ... sustained_28d (+ lower/upper), km_median_days (+ CI; Kaplan-Meier on
        the visit at which relapse was seen, the papers' convention), km_sustained_*d,
        median_followup_days (reverse Kaplan-Meier), last_followup_days, model_median_days (+
        CI), dist, model_fit_distance, competing_events, origin, note.

    References
    ----------
    Turnbull BW (1976). JRSS B 38:290-295. Lindsey JC, Ryan LM (1998). Methods for
    interval-censored data. Statistics in Medicine 17:219-238. Schemper M, Smith TL (1996). A
    note on quantifying follow-up in studies of failure time. Control Clin Trials 17:343-346.
    Aalen OO, Johansen S (1978). Scand J Stat 5:141-150. ICH E9(R1) (2019) on estimands.
    """
    _check_clock(data, "fit_durability")
    if estimator not in ESTIMATORS:
        raise AnalysisError(f"estimator={estimator!r}: use one of {', '.join(ESTIMATORS)}.")
    options = dict(endpoint_options)
    if competing is not None:
        options["competing"] = competing
    if intercurrent is not None:
        options["intercurrent"] = intercurrent
    endpoints = resolve_endpoints(data, instrument, options, origin=origin)
    settings = endpoints.settings
    notes = [f"origin: {settings.origin_text} (origin={settings.origin!r})"]
    responders = _responders(endpoints, landmark_days, notes)
    grouping = fit_grouping(data, endpoints, by, bins, group_bins, reference)
    if grouping.note():
        notes.append(grouping.note())
    labels = grouping.of(responders["patient_id"])
    usable = labels.notna().to_numpy()
    g_values = labels.astype(object).to_numpy()
    # copies: the usable rows' days are tied in place below
    lower_all = responders["relapse_lower_days"].to_numpy(float, copy=True)
    upper_all = responders["relapse_upper_days"].to_numpy(float, copy=True)
    time = responders["relapse_time_days"].to_numpy(float, copy=True)
    event = responders["relapse_event"].to_numpy(dtype=bool)
    status = responders["relapse_status"].to_numpy(dtype=np.int64)
    competing_on = any(s == "competing" for _, s in settings.intercurrent)
    midpoint_all = np.full(len(time), np.nan)
    if usable.any():
        patient_id = responders["patient_id"].to_numpy(dtype=object)[usable]
        lower_all[usable], upper_all[usable], time[usable], midpoint_all[usable] = _tied(
            lower_all[usable], upper_all[usable], time[usable], status[usable], patient_id)

    max_time = float(np.nanmax(time)) if len(time) else 0.0
    risk_times = np.arange(0.0, max(max_time, 0.0) + RISK_TABLE_STEP_DAYS, RISK_TABLE_STEP_DAYS)
    grid = np.linspace(0.0, max(max_time, 1.0), 201)

    rows, curves, risks, model_curves, npmle_curves, cifs = [], [], [], [], [], []
    models, kms, npmles, intervals, bootstrap_fits = {}, {}, {}, {}, {}
    for level in grouping.levels:
        mask = usable & (g_values == level)
        group = _Group(level, lower_all[mask], upper_all[mask], time[mask], event[mask], status[mask],
                       midpoint_all[mask])
        intervals[level] = (group.lower, group.upper)
        row, row_notes, fitted = _fit_group(group, dist, alpha, estimator, n_bootstrap, competing_on, grid)
        row["origin"] = settings.origin
        row["note"] = "; ".join(row_notes)
        where = f"group {level!r}: " if by is not None else ""
        notes.extend(f"{where}{text}" for text in row_notes)
        rows.append(row)
        if "km" in fitted:
            km = kms[level] = fitted["km"]
            tab = km.table
            n = int(mask.sum())
            curves.append(pd.DataFrame({
                "group": level,
                "time_days": np.r_[0.0, tab["time"].to_numpy(dtype=float)],
                "survival": np.r_[1.0, tab["survival"].to_numpy(dtype=float)],
                "lower": np.r_[1.0, tab["lower"].to_numpy(dtype=float)],
                "upper": np.r_[1.0, tab["upper"].to_numpy(dtype=float)],
                "at_risk": np.r_[n, tab["at_risk"].to_numpy()],
                "events": np.r_[0, tab["events"].to_numpy()],
                "censored": np.r_[0, tab["censored"].to_numpy()],
            }))
            risks.append(km.risk_table(risk_times).rename(columns={"time": "time_days"}).assign(group=level))
        if "npmle" in fitted:
            npmles[level] = fitted["npmle"]
            tab = fitted["npmle"].table
            finite = np.isfinite(tab["upper"].to_numpy(float))
            s_after = tab["survival"].to_numpy(float)
            s_before = np.r_[1.0, s_after[:-1]]
            t = np.c_[tab["lower"].to_numpy(float), tab["upper"].to_numpy(float)][finite].ravel()
            s = np.c_[s_before, s_after][finite].ravel()
            npmle_curves.append(pd.DataFrame({"group": level, "time_days": np.r_[0.0, t],
                                              "survival": np.r_[1.0, s]}).drop_duplicates(ignore_index=True))
        if "model" in fitted:
            models[level] = fitted["model"]
            model_curves.append(fitted["model_curve"].assign(group=level))
        if "cif" in fitted:
            cifs.append(fitted["cif"].assign(group=level))
        if "bootstrap" in fitted:
            bootstrap_fits[level] = fitted["bootstrap"]

    table = group_table(rows, SUMMARY_COLUMNS)
    curve = stack_frames(curves, ["group", "time_days", "survival", "lower", "upper", "at_risk", "events", "censored"])
    risk_table = stack_frames(risks, ["group", "time_days", "at_risk", "events", "censored"])
    model_curve = stack_frames(model_curves, ["group", "time_days", "survival", "lower", "upper"])
    npmle_curve = stack_frames(npmle_curves, ["group", "time_days", "survival"])
    cif_frame = stack_frames(cifs, ["group", "event", "time_days", "cif", "lower", "upper"])
    test, gray_test = None, pd.DataFrame(columns=["event", "statistic", "dof", "p_value"])
    levels_seen = [lv for lv in grouping.levels if (usable & (g_values == lv)).any()]
    if by is not None and len(levels_seen) >= 2:
        from analysis.survival.logrank import logrank

        test = logrank(time[usable], event[usable], g_values[usable], timefix=False)  # tied above
        if competing_on:  # the curves drawn: the same midpoint times, tied above
            from analysis.survival.competing import cumulative_incidence

            gray_test = cumulative_incidence(midpoint_all[usable], status[usable], g_values[usable],
                                             alpha=alpha, timefix=False).test
    elif by is not None:
        notes.append("log-rank test needs at least two groups")
    notes.append(next(line for line in settings.describe() if line.startswith("Intercurrent")))
    notes.append("km_median_days and km_sustained_*d are Kaplan-Meier on the visit at which relapse was seen "
                 "(the papers' right-censored convention, late by up to one visit interval); median_days and "
                 "sustained_*d use the relapse interval (estimator column); median_followup_days is the "
                 "reverse Kaplan-Meier median follow-up")
    return DurabilityResult(table, curve, risk_table, model_curve, test, settings, endpoints, by, dist, alpha,
                            tuple(notes), models, kms, npmles, npmle_curve, cif_frame, grouping.reference,
                            None if landmark_days is None else float(landmark_days), intervals, int(n_bootstrap),
                            bootstrap_fits, gray_test)


def _with_reference(values: pd.Series, level: Any, name: str) -> pd.Series:
    """``values`` as a categorical whose first category is ``level`` (the others sorted)."""
    present = sorted(str(v) for v in pd.unique(values.dropna()))
    if str(level) not in present:
        raise AnalysisError(f"reference level {level!r} of covariate {name!r} is not among its values "
                            f"({', '.join(present)}).")
    others = [v for v in present if v != str(level)]
    return pd.Series(pd.Categorical(values.astype("string").astype(object), categories=[str(level), *others]),
                     index=values.index)


def relapse_hazards(
    data: OutcomeData | Endpoints,
    covariates: Sequence[str] | None = None,
    instrument: str = "MADRS",
    ties: str = "efron",
    alpha: float = 0.05,
    reference: Mapping[str, Any] | None = None,
    **endpoint_options: Any,
):
    """Cox proportional-hazards model of time to relapse (days) among responders.

    Parameters
    ----------
    data : OutcomeData or Endpoints
    covariates : list of str, optional
        Columns of ``Endpoints.patients``. Default: first_dose_mg_per_kg, route, diagnosis,
        baseline_score, peak_cadss, n_infusions, age, sex (``"dose_mg_per_kg"`` is accepted for
        the first infusion's dose; any other column of the infusions table, e.g. ``duration_min``,
        means its value at the first infusion). Text columns are dummy-coded against their first
        level in sorted order unless ``reference`` names their reference level.
    reference : dict, optional
        Covariate -> the level its hazard ratios compare against (e.g. ``{"route": "IV"}``),
        so the reference is a choice, not the alphabet's.
        Columns that are constant (or entirely missing) among responders are dropped with a
        ``UserWarning``; rows with any missing covariate are dropped by ``cox`` (``n_dropped``).
        Both are also recorded in plain words in the result's ``notes``.
    instrument, ties, alpha : as in ``analysis.cox``.
    **endpoint_options
        Passed to ``derive_endpoints`` (relapse rule, confirm_visits, origin, ...).

    Returns
    -------
    CoxResult
        From ``analysis.cox`` on duration ``relapse_time_days`` (the visit at which relapse was
        seen, on the clock of ``origin``) and event ``relapse_event``; the origin is in ``notes``.

    References
    ----------
    Cox DR (1972). Regression models and life-tables. JRSS B 34:187-220.
    """
    from analysis.survival.cox import cox

    _check_clock(data, "relapse_hazards")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    frame = endpoints.patients[endpoints.patients["responded"].to_numpy(dtype=bool)].reset_index(drop=True)
    wanted = list(DEFAULT_RELAPSE_COVARIATES if covariates is None else covariates)
    infusions = data.infusions if isinstance(data, OutcomeData) else endpoints.infusions
    used, dropped = [], []
    for name in wanted:
        try:  # a column of the patient table as it is; else an alias or first-infusion value, as by= reads it
            column, values, at_first_infusion = ((name, frame[name], False) if name in frame.columns
                                                 else patient_values(frame, name, infusions))
        except AnalysisError as error:
            raise AnalysisError(f"covariate {name!r} is not a column of Endpoints.patients"
                                + (" or of the infusions table." if infusions is not None else ".")) from error
        if at_first_infusion:
            frame[column] = values  # e.g. duration_min
        if values.nunique(dropna=True) < 2:
            dropped.append(column)
            continue
        if values.dtype == "string" or values.dtype == object:
            frame[column] = values.astype(object).where(values.notna(), None)
            if reference and name in reference:
                frame[column] = _with_reference(frame[column], reference[name], name)
        elif values.dtype == "boolean":
            frame[column] = values.astype(float)
        used.append(column)
    notes = [f"relapse_hazards: time to relapse in {endpoints.settings.origin_text}"]
    if dropped:
        notes.append(f"relapse_hazards: dropped constant or empty covariate(s) {', '.join(dropped)}")
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    if not used:
        raise AnalysisError("relapse_hazards: no covariate varies among responders; choose covariates= "
                            "that differ between patients.")
    frame["relapse_event"] = frame["relapse_event"].astype(bool)
    result = cox(frame, duration="relapse_time_days", event="relapse_event", covariates=used, ties=ties,
                 alpha=alpha)
    if result.n_dropped:
        notes.append(f"relapse_hazards: {result.n_dropped} responder(s) with a missing covariate left out")
    return dataclasses.replace(result, notes=(*notes, *result.notes))
