"""Response onset: how many patients respond, and how many hours after an infusion.

Onset is interval-censored: response is only seen at a rating, so it happened between the
previous non-responding rating and the first responding one (``derive_endpoints``). Two
estimates are given for each group:

- the non-parametric Turnbull curve of the cumulative proportion responding (and, as most
  papers draw it, the right-censored Kaplan-Meier curve on the upper ends of the intervals);
- an interval-censored parametric mixture-cure model (log-logistic by default): a fraction ``1 - p``
  never responds, the others respond after a log-logistic (Weibull, log-normal...) time. ``p`` is
  the response probability, and the model's median is the median onset among responders.

::

    import analysis
    fit = analysis.fit_onset(analysis.load_sample(), instrument="MADRS", by="route")
    fit.summary()
    fit.test
    fit.at_risk([0, 4, 24, 48])   # number at risk, responses and censored by then, per group
"""

from __future__ import annotations

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
from analysis.intervals import wilson_interval

__all__ = ["OnsetResult", "fit_onset"]

# Below these counts a group's cure model is not fitted (its row holds NaN and a note).
MIN_PATIENTS = 10
MIN_RESPONDERS = 3
# Onset in hours needs ratings inside the first day after an infusion: at least this share of a
# group's patients must have a rating within FIRST_DAY_HOURS of an infusion.
FIRST_DAY_HOURS = 24.0
MIN_FIRST_DAY_SHARE = 0.5
# A median onset interval whose upper limit is more than this many times its lower limit (or
# not finite) is reported as "cannot be computed" rather than printed.
MAX_CI_RATIO = 100.0
# An onset whose upper end is 0 h (a rating at the very start of an infusion) is treated as
# "responded within the first minute", since the parametric models live on t > 0.
_ZERO_ONSET_HOURS = 1.0 / 60.0
AUTO_DISTS = ("loglogistic", "weibull", "lognormal")
# hours of ``OnsetResult.risk_table``: 4-hourly within the first day, then daily for a week
RISK_TABLE_HOURS = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 48.0, 72.0, 96.0, 120.0, 144.0, 168.0)
SUMMARY_COLUMNS = [
    "n", "responders", "observed_response", "observed_response_lower", "observed_response_upper",
    "response_probability", "response_probability_lower", "response_probability_upper",
    "median_onset_hours", "median_onset_hours_lower", "median_onset_hours_upper",
    "responding_by_4h", "responding_by_24h", "dist", "aic", "note",
]


@dataclass(frozen=True)
class OnsetResult:
    """Fitted response-onset curves (see ``fit_onset``).

    Attributes
    ----------
    table : DataFrame indexed by group (``"all"`` without ``by``), the columns of ``summary()``.
    curve : DataFrame with group, time_hours, cumulative_response, lower, upper, source
        (``"turnbull"``: non-parametric, no band; ``"model"``: the cure model with delta-method
        band; ``"kaplan_meier"``: right-censored KM on the interval upper ends, log-log band).
    test : DataFrame (test, statistic, dof, p_value, note) comparing groups, None without ``by``.
    risk_table : the number at risk at ``RISK_TABLE_HOURS`` (see ``at_risk``, for other hours).
    settings : EndpointSettings; endpoints : the Endpoints the fit used.
    by, dist, alpha : settings of the fit. notes : things the reader should know, in plain
        words, including each group's fitting problems (cure fraction at the boundary, model not
        identifiable, Turnbull not converged), which are reported here (and in the group's
        ``note`` column) instead of as Python warnings.
    models : group -> fitted ParametricResult (cure model), where fitted.
    km : group -> KaplanMeierResult on the intervals' upper ends (the ``"kaplan_meier"`` curve);
        the number at risk is counted from it.
    """

    table: pd.DataFrame
    curve: pd.DataFrame = field(repr=False)
    test: pd.DataFrame | None
    settings: EndpointSettings
    endpoints: Endpoints = field(repr=False)
    by: str | None
    dist: str
    alpha: float
    notes: tuple[str, ...] = ()
    models: dict = field(default_factory=dict, repr=False)
    km: dict = field(default_factory=dict, repr=False)

    def at_risk(self, times_hours: Any) -> pd.DataFrame:
        """Number at risk and cumulative responses and censorings at ``times_hours`` (hours
        since the infusion), per group: the table printed under an onset plot.

        Columns group, time_hours, at_risk, responses, censored. Response is only seen at a
        rating, so a patient's onset is known to lie in (onset_lower_hours, onset_upper_hours].
        The counts follow the response as seen at the ratings (the Kaplan-Meier convention,
        survminer's and KMunicate's table, R's ``summary(survfit(...), times=)``):

        - ``at_risk`` at t: patients whose response was not seen before t and who are still
          followed at t, i.e. responders whose responding rating is at or after t and
          non-responders whose last rating is at or after t (hours since the most recent
          infusion). A patient whose response happened somewhere between a rating before t and
          one after t is counted at risk: it has not been seen yet (the Turnbull curve already
          gives part of that response to times before t). A response seen exactly at t is
          counted at risk at t and among the responses by t, as R's ``n.risk`` does.
        - ``responses``: patients whose responding rating is at or before t (cumulative).
        - ``censored``: non-responders whose last rating is at or before t (cumulative).

        Groups without patients have no rows.
        """
        hours = np.atleast_1d(np.asarray(times_hours, dtype=float))
        if hours.ndim != 1 or np.isnan(hours).any() or (hours < 0).any():
            raise AnalysisError(f"at_risk needs hours since the infusion, 0 or more and none missing; got "
                                f"{np.asarray(times_hours).tolist()!r}. Pass e.g. [0, 4, 24, 48].")
        frames = [km.risk_table(hours).assign(group=group) for group, km in self.km.items()]
        table = stack_frames(frames, ["group", "time", "at_risk", "events", "censored"])
        return table.rename(columns={"time": "time_hours", "events": "responses"})

    @property
    def risk_table(self) -> pd.DataFrame:
        """``at_risk(RISK_TABLE_HOURS)``: 4-hourly within the first day, then daily for a week."""
        return self.at_risk(RISK_TABLE_HOURS)

    def summary(self) -> pd.DataFrame:
        """One row per group: n, responders, response probability (model, with CI; and observed
        with Wilson CI), median onset hours among responders (with CI), and the modelled
        proportion of all patients responding by 4 h and by 24 h after the infusion."""
        return self.table.copy()


def _onset_intervals(patients: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lower = patients["onset_lower_hours"].to_numpy(dtype=float)
    upper = patients["onset_upper_hours"].to_numpy(dtype=float)
    upper = np.where(upper <= 0, _ZERO_ONSET_HOURS, upper)
    lower = np.minimum(lower, upper)
    return lower, upper


def _n_params(dist: str) -> int:
    # intercept + log scale (none for the exponential) + cure fraction
    return 2 if dist == "exponential" else 3


def _fit_cure(lower: np.ndarray, upper: np.ndarray, dist: str, alpha: float):
    # quiet: problems of the fit are reported in the result's notes, not as warnings
    from analysis.survival.parametric import fit_parametric_quiet

    return fit_parametric_quiet(lower, upper, dist=dist, cure=True, alpha=alpha)


def _model_row(model) -> dict[str, Any]:
    cure_lo, cure_hi = model.cure_fraction_ci
    by = model.cumulative([4.0, 24.0])["cumulative"].to_numpy(dtype=float)
    return {
        "response_probability": 1.0 - model.cure_fraction,
        "response_probability_lower": 1.0 - cure_hi,
        "response_probability_upper": 1.0 - cure_lo,
        "median_onset_hours": model.median,
        "median_onset_hours_lower": model.median_ci[0],
        "median_onset_hours_upper": model.median_ci[1],
        "responding_by_4h": by[0],
        "responding_by_24h": by[1],
        "aic": model.aic,
    }


def _turnbull_curve(lower: np.ndarray, upper: np.ndarray) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Turnbull NPMLE of the cumulative response on intervals already tied (in ``fit_onset``)."""
    from analysis.survival.turnbull import turnbull_quiet

    fit = turnbull_quiet(lower, upper, timefix=False)
    table = fit.table
    finite = np.isfinite(table["upper"].to_numpy(dtype=float))
    cum_after = 1.0 - table["survival"].to_numpy(dtype=float)
    cum_before = np.r_[0.0, cum_after[:-1]]
    # step drawn across each support interval: flat until its left end, risen by its right end
    t = np.c_[table["lower"].to_numpy(dtype=float), table["upper"].to_numpy(dtype=float)][finite].ravel()
    c = np.c_[cum_before, cum_after][finite].ravel()
    points = pd.DataFrame({"time_hours": np.r_[0.0, t], "cumulative_response": np.r_[0.0, c]})
    points = points.drop_duplicates(ignore_index=True)
    return points.assign(lower=np.nan, upper=np.nan, source="turnbull"), fit.notes


def _km_curve(time: np.ndarray, event: np.ndarray, alpha: float) -> tuple[Any, pd.DataFrame]:
    """Kaplan-Meier at the visit (``time``, tied in ``fit_onset``: responses at the upper ends,
    non-responders censored at their last rating) as the KaplanMeierResult (the number at risk
    comes from it) and its curve points."""
    from analysis.survival.kaplan_meier import kaplan_meier

    km = kaplan_meier(time, event, ci="log-log", alpha=alpha, timefix=False)
    tab = km.table
    return km, pd.DataFrame({
        "time_hours": np.r_[0.0, tab["time"].to_numpy(dtype=float)],
        "cumulative_response": np.r_[0.0, 1.0 - tab["survival"].to_numpy(dtype=float)],
        "lower": np.r_[0.0, 1.0 - tab["upper"].to_numpy(dtype=float)],
        "upper": np.r_[0.0, 1.0 - tab["lower"].to_numpy(dtype=float)],
        "source": "kaplan_meier",
    })


def fit_onset(
    data: OutcomeData | Endpoints,
    instrument: str = "MADRS",
    by: str | None = None,
    dist: str = "loglogistic",
    alpha: float = 0.05,
    max_hours: float | None = None,
    bins: Any = None,
    reference: str | None = None,
    group_bins: Any = None,
    **endpoint_options: Any,
) -> OnsetResult:
    """Cumulative proportion responding against hours after the infusion, per group.

    Parameters
    ----------
    data : OutcomeData or Endpoints
        The dataset, or endpoints already derived by ``derive_endpoints`` (then ``instrument``
        and endpoint options are those of the Endpoints).
    instrument : str
        Rating scale whose total score defines response.
    by : str, optional
        Grouping (``analysis.grouping.group_patients``): a patient-level column (diagnosis,
        sex, age...), an infusion-level column (its value at the first infusion), ``"course"``,
        ``"dose_band"``; numeric columns are cut at quartiles unless ``bins`` is given.
    dist : {"loglogistic", "weibull", "lognormal", "exponential", "auto"}
        Onset-time distribution among responders in the cure model. Default log-logistic: its
        hazard can rise and then fall (responses cluster in the first hours after an infusion,
        then become rare), which a Weibull cannot do; when the true shape is log-logistic a
        Weibull fit misplaces the median noticeably (about +30% in our simulations). ``"auto"`` fits
        log-logistic, Weibull and log-normal to all patients and keeps the lowest AIC for every
        group (the choice is in ``notes``).
    alpha : float
        1 - confidence level of every interval.
    max_hours : float, optional
        Right end of the model curve (default: the largest finite onset upper end).
    group_bins, reference : passed to ``group_patients`` (``group_bins``: cut points or number
        of groups, as in the other ``by=`` functions; ``bins`` is the older name of it).
    **endpoint_options
        Passed to ``derive_endpoints`` (response, remission, ...).

    Returns
    -------
    OnsetResult
        ``summary()`` per group: n, responders (observed), observed_response (Wilson CI),
        response_probability = 1 - cure fraction of the model (CI from the model),
        median_onset_hours among responders (model, delta-method CI), responding_by_4h and
        responding_by_24h (model: proportion of *all* patients responding by then).
        ``at_risk(hours)`` / ``risk_table``: number at risk, cumulative responses and
        censorings per group at chosen hours (what "at risk" means for interval-censored onset
        is in ``OnsetResult.at_risk``).

    Notes
    -----
    Onset hours are counted from the infusion that preceded the first responding rating (for a
    series, often not the first infusion). Values the data cannot support are NaN with the
    reason in ``note`` and ``notes``: onset in hours needs ratings inside the first day after an
    infusion (at least half the group's patients with one); a median beyond the last onset
    interval is an extrapolation; a confidence interval that cannot be computed (no finite
    limit, or limits more than 100-fold apart) is left out. With ``by``, ``test`` holds a
    likelihood-ratio test of group-specific against one pooled cure model (``dof = (groups - 1)
    x parameters``: the whole curve, cure fraction and timing together) and a log-rank test on
    the intervals' upper ends (the right-censored convention).

    References
    ----------
    Turnbull BW (1976). The empirical distribution function with arbitrarily grouped, censored
    and truncated data. JRSS B 38:290-295. Farewell VT (1982). The use of mixture models for the
    analysis of survival data with long-term survivors. Biometrics 38:1041-1046.
    """
    if isinstance(data, OutcomeData) and not getattr(data, "has_clock_time", True):
        raise AnalysisError("fit_onset needs clock times (hours since the infusion), but this dataset gives "
                            "only visit labels or numbers. Add time_hours (or dates) to the assessments.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    patients = endpoints.patients
    grouping = fit_grouping(data, endpoints, by, bins, group_bins, reference)
    notes = [grouping.note()] if grouping.note() else []
    labels = grouping.of(patients["patient_id"])
    lower_all, upper_all = _onset_intervals(patients)
    usable = labels.notna().to_numpy()
    # Kaplan-Meier at the visit: the hour response was seen, else the last rating (censored)
    km_time_all = np.where(np.isfinite(upper_all), upper_all, lower_all)
    if usable.any():
        # hours equal up to rounding error made one time once over all fitted patients, as R's
        # survfit(Surv(...) ~ group) ties the whole response (aeqSurv): the intervals together
        # (tied_bounds), the Kaplan-Meier times as their own response; the per-group fits and
        # the log-rank then take them as given (timefix=False). In place: _onset_intervals made
        # new arrays.
        from analysis.survival._common import tied_times
        from analysis.survival.turnbull import tied_bounds

        patient_id = patients["patient_id"].to_numpy(dtype=object)[usable]
        lower_all[usable], upper_all[usable] = tied_bounds(lower_all[usable], upper_all[usable], rows=patient_id)
        km_time_all[usable] = tied_times(km_time_all[usable])
    levels = list(grouping.levels)
    first_day = _rated_in_first_day(endpoints)

    if dist == "auto":
        dist = _pick_dist(lower_all[usable], upper_all[usable], alpha, notes)
    finite_upper = upper_all[np.isfinite(upper_all)]
    grid_max = max_hours or (float(finite_upper.max()) if len(finite_upper) else 24.0)
    grid = np.unique(np.r_[np.linspace(0.0, grid_max, 201), 4.0, 24.0])
    grid = grid[grid <= grid_max]

    rows, curves, models, kms = [], [], {}, {}
    g_values = labels.astype(object).to_numpy()
    for level in levels:
        mask = usable & (g_values == level)
        lower, upper = lower_all[mask], upper_all[mask]
        n = int(mask.sum())
        responders = int(np.isfinite(upper).sum())
        obs_lo, obs_hi = wilson_interval(responders, n, alpha)
        row: dict[str, Any] = {"group": level, "n": n, "responders": responders,
                               "observed_response": responders / n if n else np.nan,
                               "observed_response_lower": obs_lo, "observed_response_upper": obs_hi,
                               "dist": dist, "note": ""}
        where = f"group {level!r}: " if by is not None else ""
        row_notes: list[str] = []
        if n:
            turnbull_points, turnbull_notes = _turnbull_curve(lower, upper)
            curves.append(turnbull_points.assign(group=level))
            kms[level], km_points = _km_curve(km_time_all[mask], np.isfinite(upper), alpha)
            curves.append(km_points.assign(group=level))
            row_notes += [f"Turnbull curve: {text}" for text in turnbull_notes]
        if n < MIN_PATIENTS or responders < MIN_RESPONDERS:
            row_notes.append(f"too few patients to fit the cure model (n={n}, responders={responders}; "
                             f"needs {MIN_PATIENTS} and {MIN_RESPONDERS})")
        else:
            try:
                model = _fit_cure(lower, upper, dist, alpha)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                row_notes.append(f"cure model not fitted: {exc}")
            else:
                models[level] = model
                # e.g. the cure fraction at the boundary: the estimates are shown, with the caveat
                row_notes += [f"cure model: {plain_fit_note(text, 'responses')}" for text in model.notes]
                row.update(_model_row(model))
                longest = float(upper[np.isfinite(upper)].max()) if responders else 0.0
                row_notes += _supported(row, int(first_day[mask].sum()), n, longest)
                band = model.cumulative(grid)
                curves.append(pd.DataFrame({
                    "group": level, "time_hours": grid,
                    "cumulative_response": band["cumulative"].to_numpy(dtype=float),
                    "lower": band["lower"].to_numpy(dtype=float),
                    "upper": band["upper"].to_numpy(dtype=float), "source": "model"}))
        notes.extend(f"{where}{text}" for text in row_notes)
        row["note"] = "; ".join(row_notes)
        rows.append(row)

    table = group_table(rows, SUMMARY_COLUMNS)
    curve = stack_frames(curves, ["group", "time_hours", "cumulative_response", "lower", "upper", "source"])
    test = None
    if by is not None:
        test = _group_test(lower_all[usable], upper_all[usable], km_time_all[usable], g_values[usable],
                           [lv for lv in levels if (g_values[usable] == lv).any()], models, dist, alpha)
    notes.append("responding_by_4h/24h are from the cure model: the proportion of all patients "
                 "responding within that many hours of the infusion")
    return OnsetResult(table, curve, test, endpoints.settings, endpoints, by, dist, alpha,
                       tuple(notes), models, kms)


def _rated_in_first_day(endpoints: Endpoints) -> np.ndarray:
    """Per row of ``endpoints.patients``: has a rating within the first day after an infusion."""
    r = endpoints.ratings
    since = r["hours_since_infusion"].to_numpy(dtype=float)
    early = (since > 0) & (since <= FIRST_DAY_HOURS)
    ids = pd.Index(endpoints.patients["patient_id"].astype(str))
    code = ids.get_indexer(r["patient_id"].astype(str).to_numpy()[early])
    return np.bincount(code[code >= 0], minlength=len(ids)) > 0


def _supported(row: dict[str, Any], n_first_day: int, n: int, longest_hours: float) -> list[str]:
    """Blank (NaN) the model values the data cannot support, returning the reasons."""
    notes = []
    hours = ("median_onset_hours", "median_onset_hours_lower", "median_onset_hours_upper",
             "responding_by_4h", "responding_by_24h")
    if n_first_day < MIN_FIRST_DAY_SHARE * n:
        row.update(dict.fromkeys(hours, np.nan))
        notes.append(f"onset in hours needs ratings inside the first day after an infusion; only {n_first_day} "
                     f"of {n} patients have one, so the median onset (hours) and the proportions responding "
                     "by 4 h and 24 h are not estimated")
    else:
        median = row["median_onset_hours"]
        lo, hi = row["median_onset_hours_lower"], row["median_onset_hours_upper"]
        if not np.isfinite(median) or median > longest_hours:
            notes.append(f"the model's median onset ({median:.1f} h) lies beyond the last observed onset "
                         f"({longest_hours:.1f} h): an extrapolation, not estimated")
            row.update(dict.fromkeys(hours[:3], np.nan))
        elif not (np.isfinite(lo) and np.isfinite(hi) and lo > 0 and hi / lo <= MAX_CI_RATIO):
            notes.append("the confidence interval of the median onset cannot be computed from these data "
                         "(the model's estimate is too imprecise)")
            row["median_onset_hours_lower"] = row["median_onset_hours_upper"] = np.nan
    p_lo, p_hi = row["response_probability_lower"], row["response_probability_upper"]
    if not (np.isfinite(p_lo) and np.isfinite(p_hi)) or p_hi - p_lo >= 1.0 - 1e-9:
        row["response_probability_lower"] = row["response_probability_upper"] = np.nan
        notes.append("the confidence interval of the response probability cannot be computed: the cure "
                     "model cannot separate who never responds from who responds late (follow-up too short "
                     "or too few responses)")
    return notes


def _pick_dist(lower: np.ndarray, upper: np.ndarray, alpha: float, notes: list[str]) -> str:
    aics = {}
    for name in AUTO_DISTS:
        try:
            aics[name] = _fit_cure(lower, upper, name, alpha).aic
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            continue
    if not aics:
        notes.append("dist='auto': no distribution could be fitted; using loglogistic")
        return "loglogistic"
    best = min(aics, key=aics.get)
    notes.append("dist='auto' chose " + best + " by AIC (" +
                 ", ".join(f"{k} {v:.1f}" for k, v in aics.items()) + ")")
    return best


def _group_test(lower, upper, km_time, groups, levels, models, dist, alpha) -> pd.DataFrame:
    from scipy import stats

    rows = []
    k = len(levels)
    if k < 2:
        note = "fewer than two groups"
        rows.append({"test": "likelihood_ratio_cure", "statistic": np.nan, "dof": np.nan,
                     "p_value": np.nan, "note": note})
        rows.append({"test": "logrank_upper", "statistic": np.nan, "dof": np.nan,
                     "p_value": np.nan, "note": note})
        return pd.DataFrame(rows)
    if len(models) == k:
        fitted = [g in models for g in groups]
        try:
            pooled = _fit_cure(lower[fitted], upper[fitted], dist, alpha)
            statistic = max(2.0 * (sum(m.loglik for m in models.values()) - pooled.loglik), 0.0)
            dof = (k - 1) * _n_params(dist)
            caveats = [f"group {g!r}: {plain_fit_note(text, 'responses')}" for g, m in models.items()
                       for text in m.notes]
            caveats += [f"pooled model: {plain_fit_note(text, 'responses')}" for text in pooled.notes]
            note = "group-specific vs pooled cure model (response probability and onset)"
            if caveats:
                note += "; interpret with care: " + "; ".join(caveats)
            rows.append({"test": "likelihood_ratio_cure", "statistic": statistic, "dof": dof,
                         "p_value": float(stats.chi2.sf(statistic, dof)), "note": note})
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            rows.append({"test": "likelihood_ratio_cure", "statistic": np.nan, "dof": np.nan,
                         "p_value": np.nan, "note": f"pooled model not fitted: {exc}"})
    else:
        rows.append({"test": "likelihood_ratio_cure", "statistic": np.nan, "dof": np.nan,
                     "p_value": np.nan, "note": "a group's cure model was not fitted"})
    from analysis.survival.logrank import logrank

    lr = logrank(km_time, np.isfinite(upper), groups, timefix=False)  # tied in fit_onset
    rows.append({"test": "logrank_upper", "statistic": lr.statistic, "dof": lr.dof, "p_value": lr.p_value,
                 "note": "log-rank on the intervals' upper ends (right-censored convention)"})
    return pd.DataFrame(rows)
