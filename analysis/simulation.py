"""Simulated ketamine-infusion outcome data with a known truth for every estimand.

``simulate(scenario, n_patients=, seed=)`` draws a cohort (diagnosis, age, sex, dose, route, a
single infusion or an induction series), a latent course per patient (does the patient ever
respond and remit, when, when does the response end, boosters, rescue treatment, when the
patient leaves care) and the ratings a clinic would record on a realistic visit schedule (MADRS
totals and items, CADSS, a few QIDS-SR16), with measurement noise and missed visits. Every
parameter lives in one place, the frozen :class:`Scenario`. The result is an
:class:`~analysis.contract.OutcomeData` with a fourth table ``events`` (boosters, rescue,
discontinuation) whose ``truth`` is a frozen :class:`SimulationTruth`: the scenario, the latent
course of every patient, and ``truth.table()``, the true value of every estimand by course.

The latent model (all times relative to the start of the first infusion)
-------------------------------------------------------------------------
Ever responding
    ``logit P(responder) = response_intercept + response_diagnosis_logit[diagnosis]
    + response_dose_logit * (dose_mg_per_kg - 0.5) + response_route_logit[route]
    + response_series_logit * (course == "series") + response_dissociation_logit * z``,
    with ``z ~ N(0, 1)`` the patient's dissociation propensity (it also scales the CADSS peak,
    which gives the weak CADSS-improvement correlation of Luckenbaugh 2014).
Remission
    A responder remits with probability ``remission_given_response``, and always when the true
    baseline leaves no room for a response that is not a remission (baseline below
    ``2 * (remission_max_points + remission_separation_points + response_separation_points)``, 33
    MADRS points by default):
    remission is a state of responders, so P(remission) < P(response) (ORKA-1: 54% vs 29%).
Onset
    ``onset_hours`` is the time from the start of the infusion that precedes response to the
    moment the patient responds: log-logistic with median ``onset_median_hours`` (times
    ``onset_time_ratio_by_route[route]``) and shape ``onset_shape``. In a series the infusion
    after which the patient first responds is drawn from ``series_first_response_probabilities``
    and the delay is counted from it; if the delay outlasts the gap to the next infusion, the
    truth records the infusion that actually precedes the response and the hours since it.
Durability
    Weibull (shape ``durability_shape``) with median ``durability_median_days`` for a single
    infusion, counted from response onset, and ``series_durability_median_days`` for a series,
    counted from the later of response onset and the last infusion of the induction series (a
    response is kept while the series continues). ``relapse_hazard_ratios`` multiply the Weibull
    hazard by group, so a group's median is ``median * hr ** (-1 / shape)``.
Boosters
    A ``booster_fraction`` of series patients is offered boosters at stretching intervals after
    the induction series (``booster_intervals_days``: first booster that many days after the last
    series infusion, then between boosters). A booster is given only while the patient is in
    response (a relapsed patient gets no booster), and with ``booster_renews_response`` it renews
    the response: relapse comes no earlier than a fresh Weibull durability (series median) counted
    from the booster (a booster never shortens a response).
    Boosters are infusions (numbered after the series in ``infusions``; they follow a gap longer
    than any gap within the series) and ``booster`` rows of ``events``.
Rescue treatment (ECT, esketamine, a new antidepressant; ``rescue_probabilities``)
    A constant hazard per day: ``rescue_hazard_per_day`` while in response (from the durability
    origin), ``rescue_hazard_after_response_per_day`` out of response (after relapse, and for
    non-responders from the end of the course), in whole minutes. Only the first rescue is
    recorded. A clinician starts rescue at an assessment: the patient's MADRS is rated first (an
    unscheduled rating, visit ``rescue``, never missed, at the time of the rescue), so a relapse
    that led to rescue is seen no later than the rescue itself. Rescue does not change the scores
    or boosters, and while in response it is independent of the relapse time: it is a competing
    event for "relapse while on ketamine alone", and censoring at it is non-informative (the
    hypothetical strategy recovers the latent relapse distribution).
Leaving care (dropout)
    Non-informative (independent of the latent course): with ``early_dropout_probability`` a
    patient leaves after the first infusion (series: never returns for the second; single: leaves
    between 26 hours and 6 days), a series patient stops before each later series infusion with
    ``series_stop_probability`` (defaults: about half of series patients stop before the sixth),
    and anyone is lost at ``40 min + Exponential(dropout_hazard_per_day)``. Visits, infusions and
    events after leaving do not take place; a ``discontinued`` event marks the time. Latent times
    are potential times under the planned schedule with full follow-up: dropout hides, never
    moves, them.
Scores
    True MADRS baseline ``B ~ N(baseline_mean, baseline_sd)`` clipped to [baseline_min,
    baseline_max]. A rating has mean ``B`` before the first infusion; while responding a
    per-patient level: ``U(remitter_score_points)`` points for remitters, ``U(remission_max_points
    + remission_separation_points, B / 2 - response_separation_points)`` points for other
    responders; otherwise ``B * (1 - u)``,
    ``u ~ U(nonresponse_improvement)`` (partial improvement of non-responders and after relapse);
    plus ``N(0, noise_sd)`` noise, rounded and clipped to 0-60. The separation keeps the observed
    >= 50% and remission rules in agreement with the latent state for nearly every rating
    (``truth.misclassification_rate``, ``truth.remission_misclassification_rate``). MADRS items
    1-10 (0-6 each) are a capped proportional split of the total over a patient-specific item
    profile (they sum exactly to the total; the suicidality item 10 falls with response). CADSS:
    ``floor + peak * f(minutes since the infusion started)``, ``peak = cadss_peak_per_mg_per_kg *
    dose * cadss_route_factor[route] * exp(cadss_propensity_sd * z)``, ``f = 1`` at 40 minutes and
    ``exp(-(minutes - 40) / cadss_decay_min)`` after; floor exponential per patient (mean
    ``cadss_floor_mean``), noise ``N(0, cadss_noise_sd)``. QIDS-SR16 (a ``qids_fraction`` of
    patients, totals only) follows the same state: baseline ``B * 17 / 32 + N(0, 1.5)`` clipped to
    8-27, noise ``noise_sd / 2``. Dose and route are per patient.

Visits
------
Single infusion: baseline (-24 h or -1 h), 40, 80, 110, 230 min, day 1, 2, 3, then the
follow-up days. Series (default 6 infusions on days 0, 2, 4, 7, 9, 11): baseline, around each
series infusion "pre" (1 h before, from infusion 2), 40 min, 4 h and 24 h, around each booster
"pre", 40 min and 24 h, and follow-up days counted from the last series infusion; for every course
a ``rescue`` visit (MADRS) at the time of a rescue seen in care. Follow-up visits
are jittered by up to ``followup_jitter_hours``. CADSS at baseline and at 40 min (also 80, 110,
230 min for single infusions, "pre" and 4 h in a series); the 40-minute CADSS of every infusion
given is always recorded and the baseline is never missed; every other visit is missed with
``missed_visit_probability``. Visit times are whole minutes (jitter in steps of 6 minutes).

The truth
---------
``truth.table()`` (see :class:`SimulationTruth`): per course (single, series; all patients of
that planned course = all treated), the response and remission proportions (exact: closed form
with Gauss-Hermite quadrature), the median durability and sustained response on the clock of
``origin="auto"`` (single: from response onset; series: from the last infusion of the induction
series), under each booster and rescue strategy, the probability of being in response at days 1/7/14/28
since the first infusion, the cumulative incidences of relapse and of rescue (competing) on the
durability clock, and the dropout and booster proportions. The time-to-event values come from a
very large simulation of the latent course (``TRUTH_PATIENTS`` patients per course, fixed seed,
Monte Carlo standard error in the table); the tests check them against closed forms.

References
----------
Murrough JW et al. (2013) Biol Psychiatry 74:250-256 (series, relapse). Luckenbaugh DA et al.
(2014) J Affect Disord 159:56-61 (CADSS and improvement). ICH E9(R1) (2019) addendum on estimands
and intercurrent events. See ``shared/DOMAIN.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from analysis.contract import (
    ASSESSMENT_COLUMNS,
    DIAGNOSES,
    EVENT_COLUMNS,
    INFUSION_COLUMNS,
    ROUTES,
    OutcomeData,
)
from analysis.errors import AnalysisError

__all__ = [
    "SAMPLE_ARGUMENTS",
    "Scenario",
    "SimulationTruth",
    "sample_files",
    "simulate",
    "single_file_frame",
    "write_sample",
]

# Documented defaults (see shared/DOMAIN.md for the sources of the clinical values).
DEFAULT_DIAGNOSIS_PROBABILITIES = {"TRD": 0.45, "MDD": 0.25, "bipolar": 0.12, "PTSD": 0.10, "other": 0.08}
DEFAULT_ROUTE_PROBABILITIES = {"IV": 0.78, "IM": 0.07, "intranasal": 0.07, "sublingual": 0.04, "oral": 0.04}
DEFAULT_DOSE_PROBABILITIES = {0.2: 0.04, 0.3: 0.04, 0.4: 0.06, 0.5: 0.64, 0.6: 0.06, 0.75: 0.06,
                              0.8: 0.04, 1.0: 0.06}
DEFAULT_DURATION_MIN_BY_ROUTE = {"IV": 40.0, "IM": 1.0, "intranasal": 5.0, "sublingual": 15.0,
                                 "oral": 1.0, "rectal": 1.0}
DEFAULT_RESPONSE_DIAGNOSIS_LOGIT = {"TRD": 0.0, "MDD": 0.4, "bipolar": -0.1, "PTSD": -0.2, "other": -0.3}
DEFAULT_RESPONSE_ROUTE_LOGIT = {"IV": 0.0, "IM": 0.0, "intranasal": -0.3, "sublingual": -0.5,
                                "oral": -0.7, "rectal": -0.7}
DEFAULT_CADSS_ROUTE_FACTOR = {"IV": 1.0, "IM": 1.2, "intranasal": 0.7, "sublingual": 0.4, "oral": 0.3,
                              "rectal": 0.4}
DEFAULT_RESCUE_PROBABILITIES = {"ECT": 0.2, "esketamine": 0.3, "new antidepressant": 0.5}
DEFAULT_SERIES_DAYS = (0.0, 2.0, 4.0, 7.0, 9.0, 11.0)

# The bundled sample: data/sample was written by `simulate(**SAMPLE_ARGUMENTS)`.
SAMPLE_ARGUMENTS: dict[str, Any] = {"n_patients": 300, "seed": 47}
SAMPLE_COMMAND = "python -m analysis.simulation --sample data/sample"

TRUTH_PATIENTS = 400_000  # latent patients per course simulated for the time-to-event truths
TRUTH_SEED = 20_240_601
IN_RESPONSE_DAYS = (1.0, 7.0, 14.0, 28.0)
SUSTAINED_DAYS = (7.0, 14.0, 21.0, 28.0)
CIF_DAYS = (7.0, 14.0, 28.0)
BOOSTER_STRATEGIES = ("treatment_policy", "hypothetical", "composite")
RESCUE_STRATEGIES = ("composite", "hypothetical")  # composite first: the default of fit_durability

_INSTRUMENTS = ("CADSS", "MADRS", "QIDS-SR16")  # alphabetical: the sort order of the tables
_CADSS, _MADRS, _QIDS = 0, 1, 2
_MADRS_ITEMS = 10
_MADRS_ITEM_MAX = 6
_SUICIDALITY_ITEM_WEIGHT = 0.6  # item 10 is rated lower than the average item at baseline
_JITTER_STEP_MIN = 6  # visit-time jitter in steps of 0.1 h keeps the times short in CSV
_LOG2 = math.log(2.0)
_MIN_PER_DAY = 1440.0
_STOP_BEFORE_NEXT_MIN = 120.0  # a series patient who stops is gone 2 h before the missed infusion
_EARLY_SINGLE_DROPOUT_DAYS = (26.0 / 24.0, 6.0)  # single-infusion early dropout: leaves in this window


def _param(default: Any, doc: str) -> Any:
    """A Scenario field with its documentation (unit and meaning) in ``metadata["doc"]``."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Scenario:
    """Every parameter of the simulator, with its unit and meaning (``Scenario.describe()``).

    Frozen: derive a variant with ``scenario.replace(series_fraction=1.0)``. Mappings are
    normalised on creation (float values, defaults merged); invalid values raise
    :class:`analysis.AnalysisError` saying which parameter and why. ``to_dict()`` /
    ``Scenario.from_dict()`` round-trip through JSON.
    """

    # ---- cohort --------------------------------------------------------------------------
    diagnosis_probabilities: dict[str, float] = _param(
        DEFAULT_DIAGNOSIS_PROBABILITIES, "probability of each diagnosis")
    age_mean_years: float = _param(43.0, "age mean, years (normal, rounded to whole years)")
    age_sd_years: float = _param(13.0, "age standard deviation, years")
    age_range_years: tuple[float, float] = _param((18.0, 80.0), "ages clipped to this range, years")
    female_fraction: float = _param(0.55, "probability that sex is F (else M)")
    route_probabilities: dict[str, float] = _param(
        DEFAULT_ROUTE_PROBABILITIES, "probability of each route (one route per patient)")
    dose_probabilities: dict[float, float] = _param(
        DEFAULT_DOSE_PROBABILITIES, "probability of each dose, mg/kg (one dose per patient)")
    duration_min_by_route: dict[str, float] = _param(
        DEFAULT_DURATION_MIN_BY_ROUTE, "administration time by route, minutes")
    series_fraction: float = _param(0.4, "probability that a patient is planned for an induction series "
                                         "rather than one infusion")
    series_days: tuple[float, ...] = _param(DEFAULT_SERIES_DAYS, "days (since the first infusion) of the "
                                                                 "infusions of the induction series")
    # ---- boosters ------------------------------------------------------------------------
    booster_fraction: float = _param(0.5, "probability that a series patient is offered boosters")
    booster_intervals_days: tuple[float, ...] = _param(
        (10.0, 14.0, 21.0), "days from the last series infusion to the first booster, then between "
                            "boosters (stretching intervals)")
    booster_renews_response: bool = _param(True, "a booster given in response renews it: relapse no earlier "
                                                 "than a fresh Weibull durability (series median, days) after it")
    # ---- response ------------------------------------------------------------------------
    response_intercept: float = _param(0.2, "logit of ever responding for TRD, 0.5 mg/kg, IV, single "
                                            "infusion, z = 0")
    response_diagnosis_logit: dict[str, float] = _param(
        DEFAULT_RESPONSE_DIAGNOSIS_LOGIT, "logit shift of ever responding by diagnosis")
    response_dose_logit: float = _param(1.5, "logit shift per mg/kg above 0.5 mg/kg")
    response_route_logit: dict[str, float] = _param(
        DEFAULT_RESPONSE_ROUTE_LOGIT, "logit shift of ever responding by route")
    response_series_logit: float = _param(0.5, "logit shift for a series (vs a single infusion)")
    response_dissociation_logit: float = _param(0.35, "logit shift per SD of the dissociation propensity z")
    series_first_response_probabilities: tuple[float, ...] | None = _param(
        None, "P(first response follows series infusion k) for series responders (None: halving from "
              "0.5, the last takes the rest)")
    # ---- remission -----------------------------------------------------------------------
    remission_max_points: float = _param(10.0, "MADRS remission cut-off of the latent remission state, "
                                               "points (remission = score at or below it)")
    remission_given_response: float = _param(0.1, "probability that a responder remits when the baseline "
                                                   "allows a response that is not a remission")
    remitter_score_points: tuple[float, float] = _param(
        (1.0, 6.0), "range of the true MADRS while in remission, points (uniform per patient)")
    remission_separation_points: float = _param(2.5, "least distance of a true responding MADRS from the "
                                                     "remission cut-off, points")
    response_separation_points: float = _param(4.0, "least distance of a true responding MADRS below half the "
                                                    "true baseline, points (the observed baseline is noisy too)")
    # ---- onset and durability ------------------------------------------------------------
    onset_median_hours: float = _param(4.0, "median onset, hours since the infusion that precedes response "
                                            "(log-logistic)")
    onset_shape: float = _param(2.0, "log-logistic shape of onset")
    onset_time_ratio_by_route: dict[str, float] = _param({}, "onset time multiplied by this ratio by route "
                                                             "(others 1)")
    durability_median_days: float = _param(21.0, "median durability after a single infusion, days from "
                                                 "response onset (Weibull, no boosters)")
    series_durability_median_days: float = _param(24.0, "median durability after a series, days from the "
                                                        "later of onset and the last series infusion")
    durability_shape: float = _param(1.5, "Weibull shape of durability")
    relapse_hazard_ratios: dict[str, dict[str, float]] = _param(
        {}, "relapse hazard ratio by column (route, diagnosis, course, sex) and group (others 1)")
    # ---- scores --------------------------------------------------------------------------
    baseline_mean: float = _param(34.0, "true MADRS baseline mean, points")
    baseline_sd: float = _param(6.0, "true MADRS baseline SD, points")
    baseline_min: float = _param(20.0, "true MADRS baseline clipped below at, points")
    baseline_max: float = _param(56.0, "true MADRS baseline clipped above at, points")
    noise_sd: float = _param(1.0, "MADRS rating noise SD, points (QIDS-SR16: half of it)")
    nonresponse_improvement: tuple[float, float] = _param(
        (0.0, 0.2), "range of 1 - score / baseline when not responding (uniform per patient)")
    cadss_peak_per_mg_per_kg: float = _param(30.0, "median CADSS rise at 40 min per mg/kg (IV), points")
    cadss_propensity_sd: float = _param(0.5, "SD of the log CADSS peak across patients (= scale of z)")
    cadss_decay_min: float = _param(30.0, "CADSS decay time constant after 40 min, minutes")
    cadss_floor_mean: float = _param(1.0, "mean CADSS outside infusions (exponential per patient), points")
    cadss_noise_sd: float = _param(1.0, "CADSS rating noise SD, points")
    cadss_route_factor: dict[str, float] = _param(DEFAULT_CADSS_ROUTE_FACTOR, "CADSS peak multiplier by route")
    qids_fraction: float = _param(0.1, "probability that a patient also has QIDS-SR16 ratings")
    items: str = _param("main", "which MADRS ratings have item rows: main visits, all or none")
    # ---- visits --------------------------------------------------------------------------
    baseline_hours: tuple[float, ...] = _param((-24.0, -1.0), "baseline visit time, hours (one chosen per "
                                                              "patient)")
    followup_days: tuple[float, ...] = _param(
        (7.0, 14.0, 21.0, 28.0, 42.0, 56.0), "follow-up visits, days after the last series infusion (single: "
                                             "after the infusion)")
    followup_jitter_hours: float = _param(24.0, "follow-up visits fall up to this many hours either side of "
                                                "their day")
    missed_visit_probability: float = _param(0.08, "probability that a visit is missed")
    # ---- leaving care --------------------------------------------------------------------
    early_dropout_probability: float = _param(0.2, "probability of leaving care after the first infusion")
    series_stop_probability: float = _param(0.11, "probability that a series patient stops before each "
                                                  "later series infusion (after the second, ...)")
    dropout_hazard_per_day: float = _param(0.005, "hazard per day of loss to follow-up from 40 min after "
                                                  "the first infusion")
    # ---- rescue --------------------------------------------------------------------------
    rescue_hazard_per_day: float = _param(0.004, "hazard per day of rescue treatment while in response "
                                                 "(from the durability origin)")
    rescue_hazard_after_response_per_day: float = _param(
        0.02, "hazard per day of rescue treatment out of response (after relapse; non-responders from the "
              "end of the course)")
    rescue_probabilities: dict[str, float] = _param(DEFAULT_RESCUE_PROBABILITIES,
                                                    "probability of each kind of rescue treatment")

    def __post_init__(self) -> None:
        _normalise(self)

    # ---- derived settings ----------------------------------------------------------------
    @property
    def first_response_probabilities(self) -> tuple[float, ...]:
        """P(first response follows series infusion k | series responder), resolved."""
        if self.series_first_response_probabilities is not None:
            return self.series_first_response_probabilities
        p = 0.5 ** np.arange(1, len(self.series_days) + 1)
        p[-1] += 1.0 - p.sum()
        return tuple(float(v) for v in p)

    @property
    def booster_days(self) -> tuple[float, ...]:
        """Planned booster times, days since the first infusion."""
        return tuple(float(v) for v in self.series_days[-1] + np.cumsum(self.booster_intervals_days))

    @property
    def remission_baseline_points(self) -> float:
        """Below this true baseline a response is necessarily a remission, MADRS points."""
        return 2.0 * (self.remission_max_points + self.remission_separation_points
                      + self.response_separation_points)

    # ---- conversions ---------------------------------------------------------------------
    def replace(self, **changes: Any) -> Scenario:
        """A copy with some parameters changed (validated like a new Scenario)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise AnalysisError(f"Scenario has no parameter {', '.join(unknown)}; see Scenario.describe().")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (dicts, lists, numbers, strings) that ``json.dumps`` accepts."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                value = {str(k): (dict(v) if isinstance(v, dict) else v) for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Scenario:
        """Inverse of :meth:`to_dict` (dose keys may be text, sequences may be lists)."""
        return cls(**dict(values))

    @classmethod
    def describe(cls) -> pd.DataFrame:
        """One row per parameter: parameter, default (as text), meaning (with its unit)."""
        default = cls()
        return pd.DataFrame([{"parameter": f.name, "default": _format_value(getattr(default, f.name)),
                              "meaning": f.metadata["doc"]} for f in fields(cls)]).set_index("parameter")


_TUPLE_FIELDS = ("age_range_years", "series_days", "booster_intervals_days", "remitter_score_points",
                 "nonresponse_improvement", "baseline_hours", "followup_days")
_PROBABILITY_FIELDS = ("female_fraction", "series_fraction", "booster_fraction", "remission_given_response",
                       "qids_fraction", "missed_visit_probability", "early_dropout_probability",
                       "series_stop_probability")
_POSITIVE_FIELDS = ("onset_median_hours", "onset_shape", "durability_median_days",
                    "series_durability_median_days", "durability_shape", "cadss_decay_min")
_NON_NEGATIVE_FIELDS = ("noise_sd", "cadss_noise_sd", "cadss_floor_mean", "cadss_peak_per_mg_per_kg",
                        "cadss_propensity_sd", "dropout_hazard_per_day", "rescue_hazard_per_day",
                        "rescue_hazard_after_response_per_day", "followup_jitter_hours", "baseline_sd",
                        "remission_separation_points", "response_separation_points", "age_sd_years")


def _set(scenario: Scenario, name: str, value: Any) -> None:
    object.__setattr__(scenario, name, value)


def _probabilities(mapping: Mapping[Any, float], name: str) -> dict[Any, float]:
    try:
        p = {k: float(v) for k, v in dict(mapping).items()}
    except (TypeError, ValueError) as error:
        raise AnalysisError(f"{name} must map each group to a probability (got {mapping!r}).") from error
    if not p or any(v < 0 or math.isnan(v) for v in p.values()) or not math.isclose(sum(p.values()), 1.0,
                                                                                   abs_tol=1e-9):
        raise AnalysisError(f"{name} must be non-negative and sum to 1 (got {dict(mapping)}).")
    return p


def _normalise(s: Scenario) -> None:
    """Validate a Scenario and store its values in canonical form (floats, tuples, merged dicts)."""
    for name in _TUPLE_FIELDS:
        try:
            _set(s, name, tuple(float(v) for v in getattr(s, name)))
        except (TypeError, ValueError) as error:
            raise AnalysisError(f"{name} must be a sequence of numbers (got {getattr(s, name)!r}).") from error
    scalar_names = [f.name for f in fields(s) if f.type in ("float", "int")]
    for name in scalar_names:
        _set(s, name, float(getattr(s, name)))
    for name in _PROBABILITY_FIELDS:
        _check_range(name, getattr(s, name), 0.0, 1.0)
    for name in _POSITIVE_FIELDS:
        if not getattr(s, name) > 0:
            raise AnalysisError(f"{name} must be positive (got {getattr(s, name)}).")
    for name in _NON_NEGATIVE_FIELDS:
        _check_range(name, getattr(s, name), 0.0, math.inf)
    items = {True: "all", False: "none"}.get(s.items, s.items) if isinstance(s.items, bool) else s.items
    if items not in ("main", "all", "none"):
        raise AnalysisError(f"items must be 'main', 'all', 'none', True or False (got {s.items!r}).")
    _set(s, "items", items)
    _set(s, "booster_renews_response", bool(s.booster_renews_response))

    diagnoses = _probabilities(s.diagnosis_probabilities, "diagnosis_probabilities")
    unknown = sorted(set(diagnoses) - set(DIAGNOSES))
    if unknown:
        raise AnalysisError(f"Unknown diagnosis(es) {unknown}; known: {', '.join(DIAGNOSES)}.")
    routes = _probabilities(s.route_probabilities, "route_probabilities")
    unknown = sorted(set(routes) - set(ROUTES))
    if unknown:
        raise AnalysisError(f"Unknown route(s) {unknown}; known: {', '.join(ROUTES)}.")
    doses = {float(k): v for k, v in _probabilities(s.dose_probabilities, "dose_probabilities").items()}
    _set(s, "diagnosis_probabilities", diagnoses)
    _set(s, "route_probabilities", routes)
    _set(s, "dose_probabilities", doses)
    _set(s, "rescue_probabilities", _probabilities(s.rescue_probabilities, "rescue_probabilities"))
    for name, defaults, keys in (("response_diagnosis_logit", DEFAULT_RESPONSE_DIAGNOSIS_LOGIT, diagnoses),
                                 ("response_route_logit", DEFAULT_RESPONSE_ROUTE_LOGIT, routes),
                                 ("cadss_route_factor", DEFAULT_CADSS_ROUTE_FACTOR, routes),
                                 ("duration_min_by_route", DEFAULT_DURATION_MIN_BY_ROUTE, routes)):
        merged = {k: float(v) for k, v in {**defaults, **dict(getattr(s, name))}.items()}
        missing = [k for k in keys if k not in merged]
        if missing:
            raise AnalysisError(f"{name} has no value for {missing}.")
        _set(s, name, merged)
    _set(s, "onset_time_ratio_by_route", {k: float(v) for k, v in dict(s.onset_time_ratio_by_route).items()})
    if any(not v > 0 for v in s.onset_time_ratio_by_route.values()):
        raise AnalysisError("onset_time_ratio_by_route values must be positive.")
    ratios = {str(c): {str(g): float(v) for g, v in dict(groups).items()}
              for c, groups in dict(s.relapse_hazard_ratios).items()}
    bad = sorted(set(ratios) - {"route", "diagnosis", "course", "sex"})
    if bad:
        raise AnalysisError(f"relapse_hazard_ratios accepts route, diagnosis, course, sex (got {bad}).")
    if any(not v > 0 for groups in ratios.values() for v in groups.values()):
        raise AnalysisError("relapse_hazard_ratios must be positive.")
    _set(s, "relapse_hazard_ratios", ratios)

    low, high = s.age_range_years
    if len(s.age_range_years) != 2 or not low <= high:
        raise AnalysisError(f"age_range_years must be (low, high) (got {s.age_range_years}).")
    days = s.series_days
    # the visits around an infusion reach 25 h after it: infusions at least 2 days apart
    if len(days) < 2 or days[0] != 0 or np.any(np.diff(days) < 2):
        raise AnalysisError("series_days must start at 0 and increase by at least 2 days, with at least "
                            "2 infusions.")
    if s.booster_intervals_days and min(s.booster_intervals_days) < 2:
        raise AnalysisError("booster_intervals_days must be at least 2 days each.")
    if s.series_first_response_probabilities is not None:
        first = tuple(float(v) for v in s.series_first_response_probabilities)
        if len(first) != len(days) or min(first) < 0 or not math.isclose(sum(first), 1.0, abs_tol=1e-9):
            raise AnalysisError("series_first_response_probabilities needs one probability per series "
                                "infusion, summing to 1.")
        _set(s, "series_first_response_probabilities", first)
    follow = s.followup_days
    if not follow or follow[0] < 4 or np.any(np.diff(follow) <= 0):
        raise AnalysisError("followup_days must increase and start at day 4 or later (days 1-3 are visits "
                            "of their own).")
    if not s.baseline_hours or max(s.baseline_hours) >= 0:
        raise AnalysisError("baseline_hours must be negative (before the first infusion).")
    if not s.baseline_min <= s.baseline_mean <= s.baseline_max:
        raise AnalysisError("baseline_mean must lie between baseline_min and baseline_max.")
    lo_u, hi_u = s.nonresponse_improvement
    if not 0 <= lo_u <= hi_u < 0.5 - s.response_separation_points / s.baseline_min:
        raise AnalysisError("nonresponse_improvement must lie in [0, 0.5 - response_separation_points / "
                            "baseline_min): "
                            "otherwise a non-responder's rating can meet the >= 50% rule.")
    lo_r, hi_r = s.remitter_score_points
    room = min(s.remission_max_points - s.remission_separation_points,
               0.5 * s.baseline_min - s.response_separation_points)
    if not 0 <= lo_r <= hi_r <= room:
        raise AnalysisError(f"remitter_score_points must lie in [0, {room:g}] (below the remission cut-off "
                            "and half the lowest baseline by the separation points).")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if math.isnan(value) or not (low <= value <= high):
        raise AnalysisError(f"{name} must lie in [{low}, {high}] (got {value}).")


def _format_value(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, dict) and not value:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_format_value(v)}" for k, v in value.items())
    if isinstance(value, tuple):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# ---- the latent course ------------------------------------------------------------------

def _normal_expectation(logit: np.ndarray, slope: float) -> np.ndarray:
    """E[expit(logit + slope * Z)], Z ~ N(0, 1), by 40-point Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    return expit(np.asarray(logit)[..., None] + slope * nodes) @ weights


def _lookup(mapping: Mapping[Any, float], keys: Sequence[Any], default: float | None = None) -> np.ndarray:
    return np.asarray([mapping.get(k, default) if default is not None else mapping[k] for k in keys],
                      dtype=float)


def _latent(s: Scenario, n: int, rng_cohort: np.random.Generator, rng_latent: np.random.Generator,
            series_override: bool | None = None) -> dict[str, np.ndarray]:
    """Cohort and latent course of ``n`` patients (times in minutes since the first infusion).

    One implementation for the simulated datasets and for the large simulation behind the
    truth table (``series_override`` fixes the course). Vectorised over patients; the only loop
    is over the (few) boosters.
    """
    diag_names, route_names = list(s.diagnosis_probabilities), list(s.route_probabilities)
    dose_levels = np.asarray(list(s.dose_probabilities), dtype=float)
    diag_idx = rng_cohort.choice(len(diag_names), size=n, p=_lookup(s.diagnosis_probabilities, diag_names))
    route_idx = rng_cohort.choice(len(route_names), size=n, p=_lookup(s.route_probabilities, route_names))
    dose = dose_levels[rng_cohort.choice(dose_levels.size, size=n, p=list(s.dose_probabilities.values()))]
    age = np.clip(np.rint(rng_cohort.normal(s.age_mean_years, s.age_sd_years, n)), *s.age_range_years)
    female = rng_cohort.random(n) < s.female_fraction
    series = rng_cohort.random(n) < s.series_fraction
    if series_override is not None:
        series = np.full(n, bool(series_override))
    booster_offered = series & (rng_cohort.random(n) < s.booster_fraction)
    has_qids = rng_cohort.random(n) < s.qids_fraction
    baseline_choice = np.asarray(s.baseline_hours)[rng_cohort.integers(0, len(s.baseline_hours), n)]
    diag = np.asarray(diag_names, dtype=object)[diag_idx]
    route = np.asarray(route_names, dtype=object)[route_idx]
    sex = np.where(female, "F", "M").astype(object)
    course = np.where(series, "series", "single").astype(object)

    # planned infusion times, minutes since the first (NaN where not planned / not given)
    n_induction, n_boost = len(s.series_days), len(s.booster_intervals_days)
    induction_min = np.asarray(s.series_days) * _MIN_PER_DAY
    booster_plan_min = np.asarray(s.booster_days) * _MIN_PER_DAY
    width = n_induction + n_boost if series.any() else 1
    inf_min = np.full((n, width), np.nan)
    inf_min[:, 0] = 0.0
    if width > 1:
        inf_min[series, :n_induction] = induction_min
    course_end = np.where(series, induction_min[-1], 0.0)  # the last infusion of the induction series
    rows = np.arange(n)

    # response and onset
    z = rng_latent.standard_normal(n)
    linear = (s.response_intercept + _lookup(s.response_diagnosis_logit, diag_names)[diag_idx]
              + s.response_dose_logit * (dose - 0.5) + _lookup(s.response_route_logit, route_names)[route_idx]
              + s.response_series_logit * series)
    p_respond = expit(linear + s.response_dissociation_logit * z)
    responder = rng_latent.random(n) < p_respond
    first_inf = np.where(series, rng_latent.choice(n_induction, size=n, p=s.first_response_probabilities), 0)
    u_onset = rng_latent.random(n)
    ratio = _lookup(s.onset_time_ratio_by_route, route_names, 1.0)[route_idx]
    delay_h = s.onset_median_hours * ratio * (u_onset / (1.0 - u_onset)) ** (1.0 / s.onset_shape)
    onset = np.where(responder, inf_min[rows, first_inf] + delay_h * 60.0, np.nan)
    induction = inf_min[:, :n_induction] if width > 1 else inf_min
    onset_inf = np.sum(induction <= onset[:, None], axis=1)  # NaN compares False
    onset_hours = (onset - induction[rows, np.maximum(onset_inf, 1) - 1]) / 60.0

    # remission and score levels
    baseline_true = np.clip(rng_latent.normal(s.baseline_mean, s.baseline_sd, n), s.baseline_min,
                            s.baseline_max)
    room = baseline_true >= s.remission_baseline_points
    remitter = responder & (~room | (rng_latent.random(n) < s.remission_given_response))
    u_level = rng_latent.random(n)
    low_r, high_r = s.remitter_score_points
    partial_low = s.remission_max_points + s.remission_separation_points
    partial_high = 0.5 * baseline_true - s.response_separation_points
    responding_score = np.where(remitter, low_r + u_level * (high_r - low_r),
                                partial_low + u_level * (partial_high - partial_low))
    responding_score = np.where(responder, responding_score, np.nan)
    level_improve = rng_latent.uniform(*s.nonresponse_improvement, n)

    # durability, boosters
    hr = np.ones(n)
    group_values = {"route": route, "diagnosis": diag, "course": course, "sex": sex}
    for column, groups in s.relapse_hazard_ratios.items():
        for group, value in groups.items():
            hr *= np.where(group_values[column] == group, value, 1.0)
    median_days = np.where(series, s.series_durability_median_days, s.durability_median_days)
    scale_days = median_days / _LOG2 ** (1.0 / s.durability_shape)
    exp_draws = rng_latent.exponential(size=(n, 1 + n_boost))
    weibull_min = (scale_days[:, None] * (exp_draws / hr[:, None]) ** (1.0 / s.durability_shape)
                   * _MIN_PER_DAY)
    origin = np.where(responder, np.where(series, np.fmax(onset, course_end), onset), np.nan)
    relapse_first = origin + weibull_min[:, 0]  # without boosters
    relapse = relapse_first.copy()
    booster_given = np.zeros((n, n_boost), dtype=bool)
    for j, planned in enumerate(booster_plan_min):
        # given while in response (NaN for non-responders compares False)
        booster_given[:, j] = booster_offered & (onset <= planned) & (planned < relapse)
        if s.booster_renews_response:
            relapse = np.where(booster_given[:, j], np.fmax(relapse, planned + weibull_min[:, 1 + j]), relapse)
    if width > 1:
        inf_min[:, n_induction:] = np.where(booster_given, booster_plan_min, np.nan)

    # rescue: piecewise-constant hazard, in response from the origin to relapse, out of it after
    hazard_in = s.rescue_hazard_per_day / _MIN_PER_DAY
    hazard_out = s.rescue_hazard_after_response_per_day / _MIN_PER_DAY
    e_rescue = rng_latent.exponential(size=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        in_response_hazard = hazard_in * (relapse - origin)
        responder_rescue = np.where(e_rescue < in_response_hazard, origin + e_rescue / hazard_in,
                                    relapse + (e_rescue - in_response_hazard) / hazard_out)
        # recorded to the minute, like the visits (the rating at the rescue shares its time)
        rescue = np.ceil(np.where(responder, responder_rescue, course_end + e_rescue / hazard_out))
    rescue_kinds = list(s.rescue_probabilities)
    rescue_kind = rng_latent.choice(len(rescue_kinds), size=n, p=list(s.rescue_probabilities.values()))

    # leaving care: early dropout, stopping the series, loss to follow-up
    stop_u = rng_latent.random((n, n_induction - 1))
    stop_p = np.full(n_induction - 1, s.series_stop_probability)
    stop_p[0] = s.early_dropout_probability
    stops = stop_u < stop_p
    stopped = series & stops.any(axis=1)
    stop_after = np.where(stopped, np.argmax(stops, axis=1) + 1, np.where(series, n_induction, 1))
    series_stop = induction_min[np.minimum(stop_after, n_induction - 1)] - _STOP_BEFORE_NEXT_MIN
    early_single = ~series & (rng_latent.random(n) < s.early_dropout_probability)
    single_stop = rng_latent.uniform(*_EARLY_SINGLE_DROPOUT_DAYS, n) * _MIN_PER_DAY
    stop_time = np.where(stopped, series_stop, np.where(early_single, single_stop, np.inf))
    lost_time = 40.0 + (rng_latent.exponential(size=n) / s.dropout_hazard_per_day * _MIN_PER_DAY
                        if s.dropout_hazard_per_day > 0 else np.full(n, np.inf))
    dropout = np.fmin(stop_time, lost_time)

    qids_baseline = np.clip(baseline_true * 17.0 / 32.0 + rng_latent.normal(0.0, 1.5, n), 8.0, 27.0)
    cadss_factor = _lookup(s.cadss_route_factor, route_names)[route_idx]
    cadss_peak = s.cadss_peak_per_mg_per_kg * dose * cadss_factor * np.exp(s.cadss_propensity_sd * z)
    cadss_floor = rng_latent.exponential(s.cadss_floor_mean, n) if s.cadss_floor_mean > 0 else np.zeros(n)
    return {
        "diag_idx": diag_idx, "route_idx": route_idx, "diagnosis": diag, "route": route, "sex": sex,
        "course": course, "dose": dose, "age": age, "series": series, "booster_offered": booster_offered,
        "has_qids": has_qids, "baseline_choice": baseline_choice, "inf_min": inf_min,
        "course_end": course_end, "z": z, "p_respond": p_respond, "responder": responder,
        "first_inf": first_inf, "onset": onset, "onset_inf": onset_inf, "onset_hours": onset_hours,
        "baseline_true": baseline_true, "remitter": remitter, "responding_score": responding_score,
        "level_improve": level_improve, "origin": origin, "relapse_first": relapse_first,
        "relapse": relapse, "booster_given": booster_given, "rescue": rescue,
        "rescue_kind": np.asarray(rescue_kinds, dtype=object)[rescue_kind], "stopped": stopped | early_single,
        "stop_after": stop_after, "stop_time": stop_time, "dropout": dropout,
        "qids_baseline": qids_baseline, "cadss_peak": cadss_peak, "cadss_floor": cadss_floor,
    }


# ---- the truth ---------------------------------------------------------------------------

def _response_probability(s: Scenario, series: float) -> float:
    """P(ever respond) over the cohort mix for one course (series = 0 or 1), exact (quadrature)."""
    diag_names, route_names = list(s.diagnosis_probabilities), list(s.route_probabilities)
    doses = np.asarray(list(s.dose_probabilities), dtype=float)
    grid = (s.response_intercept
            + _lookup(s.response_diagnosis_logit, diag_names)[:, None, None]
            + _lookup(s.response_route_logit, route_names)[None, :, None]
            + s.response_dose_logit * (doses - 0.5)[None, None, :] + s.response_series_logit * series)
    weights = (_lookup(s.diagnosis_probabilities, diag_names)[:, None, None]
               * _lookup(s.route_probabilities, route_names)[None, :, None]
               * np.asarray(list(s.dose_probabilities.values()))[None, None, :])
    return float(np.sum(_normal_expectation(grid, s.response_dissociation_logit) * weights))


def _remission_given_response(s: Scenario) -> float:
    """P(remitter | responder), exact: the baseline is independent of response."""
    threshold = s.remission_baseline_points
    if threshold <= s.baseline_min:
        no_room = 0.0
    elif threshold > s.baseline_max:
        no_room = 1.0
    else:
        no_room = float(norm.cdf((threshold - s.baseline_mean) / s.baseline_sd)) if s.baseline_sd > 0 else \
            float(s.baseline_mean < threshold)
    return no_room + (1.0 - no_room) * s.remission_given_response


def _median_se(values: np.ndarray) -> float:
    """Monte Carlo SE of a sample median: sqrt(1/4n) / f(median), f from the 49-51% quantiles."""
    q = np.quantile(values, [0.49, 0.51])
    return float((q[1] - q[0]) / 0.02 * 0.5 / math.sqrt(values.size))


def _truth_rows(s: Scenario, patients: int = TRUTH_PATIENTS, seed: int = TRUTH_SEED) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    simulated = f"simulation of {patients:,} latent patients"
    remit_given_response = _remission_given_response(s)

    def add(course: str, estimand: str, value: float, se: float, method: str, time_days: float = math.nan,
            strategy: tuple[str, str] = ("", ""), meaning: str = "") -> None:
        rows.append({"course": course, "estimand": estimand, "time_days": time_days,
                     "booster_strategy": strategy[0], "rescue_strategy": strategy[1],
                     "value": float(value), "mc_se": float(se), "method": method, "meaning": meaning})

    streams = np.random.SeedSequence(seed).spawn(4)
    for k, course in enumerate(("single", "series")):
        is_series = course == "series"
        latent = _latent(s, patients, np.random.default_rng(streams[2 * k]),
                         np.random.default_rng(streams[2 * k + 1]), series_override=is_series)
        p_response = _response_probability(s, float(is_series))
        add(course, "response_proportion", p_response, 0.0, "closed form",
            meaning="P(ever respond), all treated")
        add(course, "remission_proportion", p_response * remit_given_response, 0.0, "closed form",
            meaning="P(ever remit), all treated")
        responder = latent["responder"]
        clock = np.where(is_series, latent["course_end"], latent["onset"])[responder]
        boosters = latent["inf_min"][:, len(s.series_days):] if is_series else np.empty((patients, 0))
        first_booster = np.min(np.where(np.isnan(boosters), np.inf, boosters), axis=1, initial=np.inf)[responder]
        relapse_tp = latent["relapse"][responder]
        relapse_none = latent["relapse_first"][responder]
        rescue = latent["rescue"][responder]
        by_booster = {"treatment_policy": relapse_tp, "hypothetical": relapse_none,
                      "composite": np.fmin(relapse_none, first_booster)}
        for rescue_strategy in RESCUE_STRATEGIES:
            for booster_strategy, relapse_time in by_booster.items():
                # rescue while in response happens at the same time whatever the booster strategy
                end = np.fmin(relapse_time, rescue) if rescue_strategy == "composite" else relapse_time
                days = (end - clock) / _MIN_PER_DAY
                strategy = (booster_strategy, rescue_strategy)
                add(course, "durability_median_days", np.median(days), _median_se(days), simulated,
                    strategy=strategy, meaning="median days from the auto origin to relapse, responders")
                for t in SUSTAINED_DAYS:
                    p = float(np.mean(days > t))
                    add(course, "sustained_response", p, math.sqrt(p * (1 - p) / days.size), simulated, t,
                        strategy, "P(no relapse by day t of the auto clock), responders")
        for rescue_strategy in RESCUE_STRATEGIES:
            for t in IN_RESPONSE_DAYS:
                minute = t * _MIN_PER_DAY
                inside = responder & (latent["onset"] <= minute) & (latent["relapse"] > minute)
                if rescue_strategy == "composite":
                    inside &= latent["rescue"] > minute
                p = float(inside.mean())
                add(course, "in_response", p, math.sqrt(p * (1 - p) / patients), simulated, t,
                    ("treatment_policy", rescue_strategy),
                    "P(responded and not relapsed at day t since the first infusion), all treated")
        first = (np.fmin(relapse_tp, rescue) - clock) / _MIN_PER_DAY
        relapse_first = relapse_tp <= rescue
        for t in CIF_DAYS:
            for estimand, kind in (("cif_relapse", relapse_first), ("cif_rescue", ~relapse_first)):
                p = float(np.mean(kind & (first <= t)))
                add(course, estimand, p, math.sqrt(p * (1 - p) / first.size), simulated, t,
                    ("treatment_policy", "competing"),
                    "cumulative incidence by day t of the auto clock (relapse vs rescue first), responders")
        given = np.sum(latent["inf_min"] + 40.0 <= latent["dropout"][:, None], axis=1)
        p = float(np.mean(given == 1)) if is_series else float(np.mean(latent["dropout"] < 7 * _MIN_PER_DAY))
        add(course, "dropout_after_first_infusion", p, math.sqrt(p * (1 - p) / patients), simulated,
            meaning="series: only the first infusion given; single: gone before day 7")
        if is_series:
            p = float(np.mean(given < len(s.series_days)))
            add(course, "stopped_before_last_series_infusion", p, math.sqrt(p * (1 - p) / patients),
                simulated, meaning="series patients given fewer than the planned series infusions")
            booster = latent["booster_given"].any(axis=1) & (
                latent["inf_min"][:, len(s.series_days)] + 40.0 <= latent["dropout"])
            p = float(np.mean(booster))
            add(course, "booster_given", p, math.sqrt(p * (1 - p) / patients), simulated,
                meaning="series patients given at least one booster (before leaving care)")
    table = pd.DataFrame(rows)
    table["time_days"] = table["time_days"].astype(float)
    return table


_TRUTH_CACHE: dict[str, pd.DataFrame] = {}


def _truth_table(s: Scenario) -> pd.DataFrame:
    key = repr(s)
    if key not in _TRUTH_CACHE:
        _TRUTH_CACHE[key] = _truth_rows(s)
    return _TRUTH_CACHE[key].copy()


@dataclass(frozen=True)
class SimulationTruth:
    """The scenario a dataset was simulated from, its true estimands, and the latent course.

    Every :class:`Scenario` parameter is also an attribute (``truth.noise_sd``). ``table()``
    holds the true value of every estimand by course (see :meth:`table`); ``latent`` has one row
    per patient (see :func:`simulate`) and is excluded from equality. Times: onset in hours,
    durability in days, latent times in hours since the start of the first infusion.
    """

    scenario: Scenario
    n_patients: int
    seed: int
    # exact derived quantities (closed form)
    response_probability_by_diagnosis: dict[str, float]
    response_probability_by_route: dict[str, float]
    response_probability_series: float
    response_probability_population: float
    remission_probability_given_response: float
    durability_median_days_by_group: dict[str, dict[str, float]]
    # measured on this dataset
    response_fraction: float
    remission_fraction: float
    misclassification_rate: float
    remission_misclassification_rate: float
    latent: pd.DataFrame = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: scenario parameters read through the truth
        if name.startswith("_") or name == "scenario":
            raise AttributeError(name)
        scenario = self.__dict__.get("scenario")
        if scenario is not None and name in {f.name for f in fields(scenario)}:
            return getattr(scenario, name)
        raise AttributeError(f"SimulationTruth has no attribute {name!r}")

    @property
    def series_first_response_probabilities(self) -> tuple[float, ...]:
        return self.scenario.first_response_probabilities

    @cached_property
    def _table(self) -> pd.DataFrame:
        return _truth_table(self.scenario)

    def table(self) -> pd.DataFrame:
        """True value of every estimand, one row per course x estimand x day x strategy: course,
        estimand, time_days, booster_strategy, rescue_strategy, value, mc_se, method, meaning.

        course: "single" | "series" (the planned course; all patients of it = all treated).
        Estimands: ``response_proportion``, ``remission_proportion`` (ever, closed form);
        ``durability_median_days`` and ``sustained_response`` at 7/14/21/28 days among
        responders on the clock ``origin="auto"`` uses (single: days from response onset;
        series: days from the last infusion of the induction series), for each booster strategy
        (``treatment_policy``: boosters as given; ``hypothetical``: had no booster been given,
        what censoring at the booster estimates; ``composite``: a booster counts as relapse) and
        rescue strategy (``composite``: rescue counts as relapse, the default of
        ``fit_durability``; ``hypothetical``: the relapse clock runs on through rescue, what
        censoring at rescue estimates); ``in_response`` at days 1/7/14/28 since the first
        infusion (responded and not yet relapsed, among all treated; rescue composite: not
        rescued either, the default of ``fit_response_state``; hypothetical: rescue ignored);
        ``cif_relapse`` / ``cif_rescue`` at days 7/14/28 of the durability clock (the first of
        relapse and rescue, responders, boosters as given: the Aalen-Johansen target);
        ``dropout_after_first_infusion``, ``stopped_before_last_series_infusion``,
        ``booster_given``. ``mc_se`` is the Monte Carlo standard error (0 for closed forms).
        """
        return self._table.copy()

    def value(self, estimand: str, course: str, time_days: float | None = None,
              booster: str | None = None, rescue: str | None = None) -> float:
        """One true value from :meth:`table`; without strategies the first row listed (boosters
        treatment_policy, rescue composite: the defaults of ``fit_durability``)."""
        t = self._table
        rows = t[(t["estimand"] == estimand) & (t["course"] == course)]
        if time_days is not None:
            rows = rows[np.isclose(rows["time_days"], float(time_days))]
        if booster is not None:
            rows = rows[rows["booster_strategy"] == booster]
        if rescue is not None:
            rows = rows[rows["rescue_strategy"] == rescue]
        if rows.empty:
            raise AnalysisError(f"No true value for estimand={estimand!r}, course={course!r}, "
                                f"time_days={time_days}, booster={booster}, rescue={rescue}; see truth.table().")
        return float(rows["value"].iloc[0])

    def parameters(self) -> dict[str, Any]:
        """n_patients, seed, every scenario parameter and the derived quantities, as a plain dict."""
        out: dict[str, Any] = {"n_patients": self.n_patients, "seed": self.seed}
        for f in fields(self.scenario):
            out[f.name] = getattr(self, f.name)
        for f in fields(self):
            if f.name not in ("scenario", "n_patients", "seed", "latent"):
                out[f.name] = getattr(self, f.name)
        return out

    def summary(self) -> pd.DataFrame:
        """One row per parameter: parameter, value (as text), description (with units)."""
        docs = {f.name: f.metadata["doc"] for f in fields(Scenario)} | _DERIVED_DOCS
        rows = [{"parameter": name, "value": _format_value(value), "description": docs.get(name, "")}
                for name, value in self.parameters().items()]
        return pd.DataFrame(rows).set_index("parameter")


_DERIVED_DOCS: dict[str, str] = {
    "n_patients": "patients simulated",
    "seed": "seed of numpy's default_rng (SeedSequence spawned per component)",
    "series_first_response_probabilities": "P(first response follows series infusion k) for series responders",
    "response_probability_by_diagnosis": "true P(ever respond) by diagnosis (0.5 mg/kg IV single, averaged "
                                         "over z)",
    "response_probability_by_route": "true P(ever respond) by route (TRD 0.5 mg/kg single, over z)",
    "response_probability_series": "true P(ever respond) for TRD 0.5 mg/kg IV series (over z)",
    "response_probability_population": "true P(ever respond) over the cohort distributions",
    "remission_probability_given_response": "true P(remit | respond) (closed form over the baseline)",
    "durability_median_days_by_group": "true Weibull median durability without boosters, days from the "
                                       "durability origin, by course and hazard group",
    "response_fraction": "fraction of simulated patients who are latent responders",
    "remission_fraction": "fraction of simulated patients who are latent remitters",
    "misclassification_rate": "post-baseline MADRS ratings whose >= 50% rule disagrees with the latent state",
    "remission_misclassification_rate": "post-baseline MADRS ratings whose remission rule disagrees with the "
                                        "latent state",
}


# ---- visits ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Slots:
    """A visit template: one entry per visit slot of a course type."""

    label: list[str]
    anchor: np.ndarray  # -1 baseline, k >= 0 infusion index, -2 last infusion of the induction series
    offset_min: np.ndarray
    jitter_steps: np.ndarray
    madrs: np.ndarray
    cadss: np.ndarray
    qids: np.ndarray
    main: np.ndarray
    protected_cadss: np.ndarray


def _slot_template(s: Scenario, series: bool, n_boosters: int) -> _Slots:
    rows: list[tuple[str, int, float, int, bool, bool, bool, bool, bool]] = []
    # (label, anchor, offset_min, jitter_steps, madrs, cadss, qids, main, protected_cadss)
    rows.append(("baseline", -1, 0.0, 0, True, True, True, True, False))
    jitter = int(round(s.followup_jitter_hours * 60.0 / _JITTER_STEP_MIN))
    n_induction = len(s.series_days)
    if not series:
        rows += [("40 min", 0, 40.0, 0, True, True, False, False, True),
                 ("80 min", 0, 80.0, 0, True, True, False, False, False),
                 ("110 min", 0, 110.0, 0, True, True, False, False, False),
                 ("230 min", 0, 230.0, 0, True, True, False, True, False),
                 ("day 1", 0, 1440.0, 10, True, False, True, True, False),
                 ("day 2", 0, 2880.0, 20, True, False, False, False, False),
                 ("day 3", 0, 4320.0, 30, True, False, False, False, False)]
        label = "day {:g}"
    else:
        for k in range(n_induction):
            name = f"inf{k + 1}"
            if k > 0:
                rows.append((f"{name} pre", k, -60.0, 2, True, True, False, False, False))
            rows += [(f"{name} 40 min", k, 40.0, 0, True, True, False, False, True),
                     (f"{name} 4 h", k, 240.0, 2, True, True, False, k == 0, False),
                     (f"{name} 24 h", k, 1440.0, 10, True, False, k == 0, k in (0, n_induction - 1), False)]
        for j in range(n_boosters):
            name, k = f"booster{j + 1}", n_induction + j
            rows += [(f"{name} pre", k, -60.0, 2, True, True, False, False, False),
                     (f"{name} 40 min", k, 40.0, 0, True, True, False, False, True),
                     (f"{name} 24 h", k, 1440.0, 10, True, False, False, False, False)]
        label = "follow-up day {:g}"
    rows += [(label.format(d), -2, d * 1440.0, jitter, True, False, True, d in (7, 14, 28), False)
             for d in s.followup_days]
    columns = list(zip(*rows, strict=True))
    return _Slots(label=list(columns[0]), anchor=np.array(columns[1]), offset_min=np.array(columns[2]),
                  jitter_steps=np.array(columns[3]),
                  **{name: np.array(col, dtype=bool) for name, col in
                     zip(("madrs", "cadss", "qids", "main", "protected_cadss"), columns[4:], strict=True)})


def _allocate_items(totals: np.ndarray, weights: np.ndarray, cap: float) -> np.ndarray:
    """Split integer totals over items in proportion to ``weights`` (rows), each item in
    [0, cap], summing exactly to the total (capped water-filling, then largest remainders)."""
    w = weights / weights.sum(axis=1, keepdims=True)
    total = totals.astype(float)
    capped = np.zeros(w.shape, dtype=bool)
    x = w * total[:, None]
    for _ in range(w.shape[1] + 1):
        free = np.where(capped, 0.0, w).sum(axis=1)
        remaining = total - cap * capped.sum(axis=1)
        scale = np.divide(remaining, free, out=np.zeros_like(free), where=free > 0)
        x = np.where(capped, cap, w * scale[:, None])
        over = (x > cap) & ~capped
        if not over.any():
            break
        capped |= over
    x = np.minimum(x, cap)
    whole = np.floor(x + 1e-9)
    short = np.rint(total - whole.sum(axis=1)).astype(int)
    frac = np.where(whole >= cap, -1.0, x - whole)
    order = np.argsort(-frac, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(w.shape[1]), w.shape), axis=1)
    return whole + (rank < short[:, None])


# ---- simulate ----------------------------------------------------------------------------

def _scenario_from_arguments(scenario: Scenario | None, changes: dict[str, Any]) -> Scenario:
    """The Scenario of a call, with the keyword arguments of earlier versions mapped onto it."""
    base = Scenario() if scenario is None else scenario
    if not isinstance(base, Scenario):
        raise AnalysisError(f"scenario must be an analysis.Scenario (got {type(scenario).__name__}).")
    if "response_level" in changes:
        raise AnalysisError("response_level was replaced by remitter_score_points (true MADRS of remitters) "
                            "and remission_given_response; see Scenario.describe().")
    if "n_boosters" in changes or "booster_interval_days" in changes:
        count = int(changes.pop("n_boosters", 2))
        interval = float(changes.pop("booster_interval_days", 14.0))
        changes["booster_intervals_days"] = (interval,) * count
    return base.replace(**changes) if changes else base


def simulate(scenario: Scenario | int | None = None, seed: int | None = None, *, n_patients: int | None = None,
             **changes: Any) -> OutcomeData:
    """Simulate a de-identified ketamine-infusion cohort with a known truth.

    Parameters
    ----------
    scenario : the model (:class:`Scenario`, default ``Scenario()``). For the calls of earlier
        versions an integer here is ``n_patients``.
    seed : seed of numpy's random generator (same scenario, size and seed: same data, bit for bit).
    n_patients : cohort size (default 300).
    **changes : any :class:`Scenario` parameter, applied to ``scenario`` (e.g.
        ``simulate(n_patients=500, seed=1, series_fraction=1.0)``). ``n_boosters`` with
        ``booster_interval_days`` (earlier versions) become ``booster_intervals_days``.

    Returns
    -------
    OutcomeData with assessments, infusions (given infusions; boosters numbered after the
    series), patients (patient_id, age, sex, diagnosis, course = the planned "single" |
    "series") and events (patient_id, time_hours, event = booster | rescue | discontinued,
    detail: booster number, kind of rescue, or why the patient left), in the contract's dtypes,
    sorted by patient; ``source_row`` = 1..n. ``truth`` is a :class:`SimulationTruth`;
    ``truth.latent`` has one row per patient: patient_id, course, diagnosis, route,
    dose_mg_per_kg, n_infusions_planned (series and boosters offered), n_infusions_given,
    dissociation_z, baseline_true (MADRS), response_probability, responder, remitter,
    responding_score (true MADRS while responding), first_response_infusion, onset_infusion,
    onset_hours (since the infusion that precedes response), onset_time_hours,
    durability_origin_hours, clock_origin_hours (the ``origin="auto"`` clock), durability_days
    (Weibull draw without boosters), relapse_without_boosters_hours, relapse_time_hours (with
    boosters), relapse_days_since_onset, boosters_given, rescue_time_hours, rescue_kind,
    dropout_time_hours, stopped_after_infusion, nonresponse_improvement, cadss_peak_mean,
    cadss_floor (NaN/NA where not applicable). Latent times are potential times under the
    planned schedule with full follow-up: dropout hides, never moves, them.
    """
    if isinstance(scenario, int | np.integer) and not isinstance(scenario, bool):
        if n_patients is not None:
            raise AnalysisError("Give the number of patients once (n_patients=...).")
        scenario, n_patients = None, int(scenario)
    s = _scenario_from_arguments(scenario, dict(changes))
    n = 300 if n_patients is None else int(n_patients)
    if n < 1:
        raise AnalysisError(f"n_patients must be at least 1 (got {n_patients}).")
    seed = 0 if seed is None else int(seed)
    rng_cohort, rng_latent, rng_visits, rng_scores, rng_items = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(5))
    lat = _latent(s, n, rng_cohort, rng_latent)
    series, inf_min, dropout = lat["series"], lat["inf_min"], lat["dropout"]
    n_induction, n_boost = len(s.series_days), len(s.booster_intervals_days)
    given = inf_min + 40.0 <= dropout[:, None]  # an infusion takes place if its session ends in care
    given_min = np.where(given, inf_min, np.nan)

    # ---- visits ---------------------------------------------------------------------------
    parts: list[dict[str, np.ndarray]] = []
    label_codes: dict[str, int] = {}
    for is_series in (False, True):
        members = np.flatnonzero(series == is_series)
        if members.size == 0:
            continue
        slots = _slot_template(s, is_series, n_boost if inf_min.shape[1] > n_induction else 0)
        slot_code = np.asarray([label_codes.setdefault(label, len(label_codes)) for label in slots.label])
        anchor_min = np.empty((members.size, len(slots.label)))
        for k, a in enumerate(slots.anchor):
            anchor_min[:, k] = (lat["baseline_choice"][members] * 60.0 if a == -1 else
                                lat["course_end"][members] if a == -2 else inf_min[members, a])
        jitter = rng_visits.integers(-slots.jitter_steps, slots.jitter_steps + 1,
                                     size=anchor_min.shape) * _JITTER_STEP_MIN
        time_min = anchor_min + slots.offset_min + jitter
        missed = rng_visits.random(anchor_min.shape) < s.missed_visit_probability
        missed[:, slots.anchor == -1] = False
        happens = ~np.isnan(time_min) & (time_min <= dropout[members, None])
        attended = happens & ~missed
        for code, wanted in ((_MADRS, attended & slots.madrs),
                             (_CADSS, (attended | (happens & slots.protected_cadss)) & slots.cadss),
                             (_QIDS, attended & slots.qids & lat["has_qids"][members, None])):
            row, slot = np.nonzero(wanted)
            parts.append({"patient": members[row], "instrument": np.full(row.size, code),
                          "time_min": time_min[row, slot], "label": slot_code[slot], "main": slots.main[slot]})
    # rescue is started at an assessment: the MADRS rating of that visit comes first (a scheduled
    # MADRS rating at the same minute is that assessment)
    rescued = np.flatnonzero(_rescue_in_care(s, lat))
    madrs = [p for p in parts if p["instrument"][:1].tolist() == [_MADRS]]
    scheduled = np.concatenate([p["patient"] * 10**9 + np.rint(p["time_min"]).astype(np.int64) for p in madrs])
    rescued = rescued[~np.isin(rescued * 10**9 + np.rint(lat["rescue"][rescued]).astype(np.int64), scheduled)]
    parts.append({"patient": rescued, "instrument": np.full(rescued.size, _MADRS),
                  "time_min": lat["rescue"][rescued],
                  "label": np.full(rescued.size, label_codes.setdefault("rescue", len(label_codes))),
                  "main": np.zeros(rescued.size, dtype=bool)})
    ratings = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    pat, t_min, instrument = ratings["patient"], ratings["time_min"], ratings["instrument"]
    follows = np.sum(given_min[pat] <= t_min[:, None], axis=1)
    since_min = t_min - given_min[pat, np.maximum(follows, 1) - 1]

    # ---- scores ---------------------------------------------------------------------------
    baseline_true = lat["baseline_true"]
    responding = (t_min >= lat["onset"][pat]) & (t_min < lat["relapse"][pat])
    with np.errstate(invalid="ignore"):
        level = np.where(t_min < 0, 1.0, np.where(responding, lat["responding_score"][pat] / baseline_true[pat],
                                                  1.0 - lat["level_improve"][pat]))
    noise = rng_scores.standard_normal(t_min.size)
    score = np.empty(t_min.size)
    is_madrs, is_cadss, is_qids = (instrument == code for code in (_MADRS, _CADSS, _QIDS))
    # "+ 0.0" turns the -0.0 that rint gives for small negative values into 0.0
    score[is_madrs] = np.clip(np.rint(baseline_true[pat[is_madrs]] * level[is_madrs]
                                      + s.noise_sd * noise[is_madrs]), 0, 60) + 0.0
    score[is_qids] = np.clip(np.rint(lat["qids_baseline"][pat[is_qids]] * level[is_qids]
                                     + 0.5 * s.noise_sd * noise[is_qids]), 0, 27) + 0.0
    tau = since_min[is_cadss]
    with np.errstate(invalid="ignore"):
        shape_factor = np.where(np.isnan(tau), 0.0, np.where(tau <= 40.0, np.clip(tau, 0, None) / 40.0,
                                                             np.exp(-(tau - 40.0) / s.cadss_decay_min)))
    score[is_cadss] = np.clip(np.rint(lat["cadss_floor"][pat[is_cadss]] + lat["cadss_peak"][pat[is_cadss]]
                                      * shape_factor + s.cadss_noise_sd * noise[is_cadss]), 0, 92) + 0.0

    # agreement of the observed rules with the latent state (MADRS, after baseline)
    baseline_row = is_madrs & (t_min < 0)
    observed_baseline = np.full(n, np.nan)
    observed_baseline[pat[baseline_row]] = score[baseline_row]
    post = is_madrs & (t_min >= 0)
    misclassification = (float(np.mean((score[post] <= 0.5 * observed_baseline[pat[post]]) != responding[post]))
                         if post.any() else 0.0)
    remitting = responding & lat["remitter"][pat]
    remission_misclassification = (float(np.mean((score[post] <= s.remission_max_points) != remitting[post]))
                                   if post.any() else 0.0)

    # ---- MADRS items ----------------------------------------------------------------------
    item_rows = is_madrs & (ratings["main"] if s.items == "main" else s.items == "all")
    item_idx = np.flatnonzero(item_rows)
    if item_idx.size:
        profile = rng_items.gamma(4.0, 0.25, (n, _MADRS_ITEMS))
        profile[:, -1] *= _SUICIDALITY_ITEM_WEIGHT
        weights = profile[pat[item_idx]] * np.exp(0.25 * rng_items.standard_normal((item_idx.size, _MADRS_ITEMS)))
        item_scores = _allocate_items(score[item_idx], weights, _MADRS_ITEM_MAX)
    else:
        item_scores = np.empty((0, _MADRS_ITEMS))

    # ---- tables ---------------------------------------------------------------------------
    ids = _patient_ids(n)
    assessments = _assessment_table(ids, pat, instrument, t_min, score, ratings["label"], label_codes, follows,
                                    item_idx, item_scores)
    inf_pat, inf_k = np.nonzero(given)
    route_names = list(s.route_probabilities)
    infusions = pd.DataFrame({
        "patient_id": pd.array(ids[inf_pat], dtype="string"),
        "infusion_number": (inf_k + 1).astype(np.int64),
        "time_hours": inf_min[inf_pat, inf_k] / 60.0,
        "dose_mg_per_kg": lat["dose"][inf_pat],
        "route": pd.array(lat["route"][inf_pat], dtype="string"),
        "duration_min": _lookup(s.duration_min_by_route, route_names)[lat["route_idx"]][inf_pat],
    }).astype(INFUSION_COLUMNS)
    patients = pd.DataFrame({
        "patient_id": pd.array(ids, dtype="string"),
        "age": lat["age"],
        "sex": pd.array(lat["sex"], dtype="string"),
        "diagnosis": pd.array(lat["diagnosis"], dtype="string"),
        "course": pd.array(lat["course"], dtype="string"),
    })
    events = _event_table(s, ids, lat, given)
    latent = _latent_table(s, ids, lat, given)

    # ---- truth ----------------------------------------------------------------------------
    diag_names = list(s.diagnosis_probabilities)
    slope = s.response_dissociation_logit
    by_diag = _normal_expectation(s.response_intercept + _lookup(s.response_diagnosis_logit, diag_names), slope)
    by_route = _normal_expectation(s.response_intercept + _lookup(s.response_route_logit, route_names), slope)
    series_p = float(_normal_expectation(np.asarray(s.response_intercept + s.response_series_logit), slope))
    population_p = ((1.0 - s.series_fraction) * _response_probability(s, 0.0)
                    + s.series_fraction * _response_probability(s, 1.0))
    medians: dict[str, dict[str, float]] = {"single": {"all": s.durability_median_days},
                                            "series": {"all": s.series_durability_median_days}}
    for column, groups in s.relapse_hazard_ratios.items():
        for group, value in groups.items():
            factor = value ** (-1.0 / s.durability_shape)
            medians["single"][f"{column}={group}"] = s.durability_median_days * factor
            medians["series"][f"{column}={group}"] = s.series_durability_median_days * factor
    truth = SimulationTruth(
        scenario=s, n_patients=n, seed=seed,
        response_probability_by_diagnosis=dict(zip(diag_names, by_diag.tolist(), strict=True)),
        response_probability_by_route=dict(zip(route_names, by_route.tolist(), strict=True)),
        response_probability_series=series_p, response_probability_population=population_p,
        remission_probability_given_response=_remission_given_response(s),
        durability_median_days_by_group=medians,
        response_fraction=float(lat["responder"].mean()), remission_fraction=float(lat["remitter"].mean()),
        misclassification_rate=misclassification, remission_misclassification_rate=remission_misclassification,
        latent=latent,
    )
    return OutcomeData(assessments=assessments, infusions=infusions, patients=patients, events=events,
                       source=f"simulate(n_patients={n}, seed={seed})", truth=truth)


def _assessment_table(ids: np.ndarray, pat: np.ndarray, instrument: np.ndarray, t_min: np.ndarray,
                      score: np.ndarray, label: np.ndarray, label_codes: dict[str, int], follows: np.ndarray,
                      item_idx: np.ndarray, item_scores: np.ndarray) -> pd.DataFrame:
    """Totals and item rows in the contract's dtypes, sorted by patient, instrument, time, item."""
    all_pat = np.concatenate([pat, np.repeat(pat[item_idx], _MADRS_ITEMS)])
    all_instr = np.concatenate([instrument, np.repeat(instrument[item_idx], _MADRS_ITEMS)])
    all_time = np.concatenate([t_min, np.repeat(t_min[item_idx], _MADRS_ITEMS)])
    all_item = np.concatenate([np.zeros(t_min.size, dtype=np.int64),
                               np.tile(np.arange(1, _MADRS_ITEMS + 1), item_idx.size)])
    all_score = np.concatenate([score, item_scores.reshape(-1)])
    all_label = np.concatenate([label, np.repeat(label[item_idx], _MADRS_ITEMS)])
    all_follows = np.concatenate([follows, np.repeat(follows[item_idx], _MADRS_ITEMS)])
    order = _row_order(all_pat, all_instr, all_time, all_item)
    item_col, follows_col = all_item[order], all_follows[order]
    return pd.DataFrame({
        "patient_id": pd.array(ids[all_pat[order]], dtype="string"),
        "instrument": pd.Categorical.from_codes(all_instr[order], categories=list(_INSTRUMENTS)).astype("string"),
        "item": pd.arrays.IntegerArray(item_col, item_col == 0),
        "score": all_score[order].astype("float64"),
        "time_hours": all_time[order] / 60.0,
        "visit": pd.Categorical.from_codes(all_label[order], categories=list(label_codes)).astype("string"),
        "infusion_number": pd.arrays.IntegerArray(follows_col.astype(np.int64), follows_col == 0),
        "source_row": np.arange(1, order.size + 1, dtype=np.int64),
    }).astype(ASSESSMENT_COLUMNS)


def _followup_end(s: Scenario, course_end: np.ndarray) -> np.ndarray:
    """The latest time a scheduled visit can take place, minutes since the first infusion."""
    return course_end + max(s.followup_days) * _MIN_PER_DAY + s.followup_jitter_hours * 60.0


def _rescue_in_care(s: Scenario, lat: dict[str, np.ndarray]) -> np.ndarray:
    """Patients whose rescue happens while they are in care and followed (recorded)."""
    return lat["rescue"] <= np.fmin(lat["dropout"], _followup_end(s, lat["course_end"]))


def _event_table(s: Scenario, ids: np.ndarray, lat: dict[str, np.ndarray], given: np.ndarray) -> pd.DataFrame:
    """Boosters given, the first rescue and leaving care, as seen while the patient is in care."""
    n_induction = len(s.series_days)
    dropout, end = lat["dropout"], _followup_end(s, lat["course_end"])
    patient: list[np.ndarray] = []
    time_min: list[np.ndarray] = []
    kind: list[np.ndarray] = []
    detail: list[np.ndarray] = []

    def add(mask: np.ndarray, times: np.ndarray, event: str, details: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        patient.append(idx)
        time_min.append(times[idx])
        kind.append(np.full(idx.size, event, dtype=object))
        detail.append(np.asarray(details, dtype=object)[idx] if np.ndim(details) else
                      np.full(idx.size, details, dtype=object))

    for j in range(given.shape[1] - n_induction):
        add(given[:, n_induction + j], lat["inf_min"][:, n_induction + j], "booster", f"booster {j + 1}")
    add(_rescue_in_care(s, lat), lat["rescue"], "rescue", lat["rescue_kind"])
    left = dropout < end
    planned_stop = lat["stop_time"] <= dropout
    why = np.where(planned_stop & lat["series"],
                   np.char.add("did not return for infusion ", (lat["stop_after"] + 1).astype(str)).astype(object),
                   np.where(planned_stop, "left after the first infusion", "lost to follow-up"))
    add(left, dropout, "discontinued", why)
    p, t = np.concatenate(patient), np.concatenate(time_min)
    order = np.lexsort((t, p))
    return pd.DataFrame({
        "patient_id": pd.array(ids[p[order]], dtype="string"),
        "time_hours": t[order] / 60.0,
        "event": pd.array(np.concatenate(kind)[order], dtype="string"),
        "detail": pd.array(np.concatenate(detail)[order], dtype="string"),
    }).astype(EVENT_COLUMNS).reset_index(drop=True)


def _latent_table(s: Scenario, ids: np.ndarray, lat: dict[str, np.ndarray], given: np.ndarray) -> pd.DataFrame:
    responder = lat["responder"]
    n_induction = len(s.series_days)
    planned = np.where(lat["series"], n_induction + np.where(lat["booster_offered"],
                                                             len(s.booster_intervals_days), 0), 1)
    clock = np.where(lat["series"], lat["course_end"], lat["onset"])
    latent = pd.DataFrame({
        "patient_id": pd.array(ids, dtype="string"),
        "course": pd.array(lat["course"], dtype="string"),
        "diagnosis": pd.array(lat["diagnosis"], dtype="string"),
        "route": pd.array(lat["route"], dtype="string"),
        "dose_mg_per_kg": lat["dose"],
        "n_infusions_planned": planned.astype(np.int64),
        "n_infusions_given": given.sum(axis=1).astype(np.int64),
        "dissociation_z": lat["z"],
        "baseline_true": lat["baseline_true"],
        "response_probability": lat["p_respond"],
        "responder": responder,
        "remitter": lat["remitter"],
        "responding_score": lat["responding_score"],
        "first_response_infusion": pd.array(np.where(responder, lat["first_inf"] + 1, 0), dtype="Int64"),
        "onset_infusion": pd.array(lat["onset_inf"], dtype="Int64"),
        "onset_hours": lat["onset_hours"],
        "onset_time_hours": lat["onset"] / 60.0,
        "durability_origin_hours": lat["origin"] / 60.0,
        "clock_origin_hours": np.where(responder, clock, np.nan) / 60.0,
        "durability_days": (lat["relapse_first"] - lat["origin"]) / _MIN_PER_DAY,
        "relapse_without_boosters_hours": lat["relapse_first"] / 60.0,
        "relapse_time_hours": lat["relapse"] / 60.0,
        "relapse_days_since_onset": (lat["relapse"] - lat["onset"]) / _MIN_PER_DAY,
        "boosters_given": lat["booster_given"].sum(axis=1).astype(np.int64),
        "rescue_time_hours": lat["rescue"] / 60.0,
        "rescue_kind": pd.array(lat["rescue_kind"], dtype="string"),
        "dropout_time_hours": lat["dropout"] / 60.0,
        "stopped_after_infusion": pd.array(np.where(lat["stop_time"] <= lat["dropout"], lat["stop_after"], 0),
                                           dtype="Int64"),
        "nonresponse_improvement": lat["level_improve"],
        "cadss_peak_mean": lat["cadss_peak"],
        "cadss_floor": lat["cadss_floor"],
    })
    latent.loc[~responder, ["first_response_infusion", "onset_infusion"]] = pd.NA
    latent.loc[latent["stopped_after_infusion"] == 0, "stopped_after_infusion"] = pd.NA
    return latent


def _row_order(patient: np.ndarray, instrument: np.ndarray, time_min: np.ndarray,
               item: np.ndarray) -> np.ndarray:
    """Order by patient, instrument, time, item (one int64 key: faster than lexsort)."""
    t = np.rint(time_min).astype(np.int64)
    t -= t.min(initial=0)
    n_time, n_item = int(t.max(initial=0)) + 1, int(item.max(initial=0)) + 1
    if (int(patient.max(initial=0)) + 1) * len(_INSTRUMENTS) * n_time * n_item < 2**62:
        key = ((patient.astype(np.int64) * len(_INSTRUMENTS) + instrument) * n_time + t) * n_item + item
        return np.argsort(key, kind="stable")
    return np.lexsort((item, time_min, instrument, patient))


def _patient_ids(n: int) -> np.ndarray:
    """P001, P002, ... zero-padded so that string order is numeric order."""
    width = max(3, len(str(n)))
    return np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


# ---- sample files -------------------------------------------------------------------------

def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def _whole_numbers(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Integer-valued float columns written without a trailing '.0' (read back as the same float)."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column].round().astype("Int64")
    return out


def single_file_frame(data: OutcomeData) -> pd.DataFrame:
    """The single-file form: one row per rating with the patient-level columns and the columns
    of the infusion the rating follows (``infusion_time_hours``, ``dose_mg_per_kg``, ``route``,
    ``duration_min``; empty for ratings before the first infusion) repeated on every row."""
    infusions = data.infusions.rename(columns={"time_hours": "infusion_time_hours"})
    frame = data.assessments.drop(columns="source_row").merge(
        infusions, on=["patient_id", "infusion_number"], how="left", validate="many_to_one")
    frame = frame.merge(data.patients, on="patient_id", how="left", validate="many_to_one")
    return frame.reset_index(drop=True)


def sample_files(data: OutcomeData, arguments: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The text of every file of ``data/sample`` for a simulated dataset: assessments.csv,
    infusions.csv, patients.csv, events.csv, single_file.csv and README.md (``arguments`` are the
    ``simulate`` arguments named in the README; default: the dataset's n_patients and seed)."""
    if not isinstance(data.truth, SimulationTruth):
        raise AnalysisError("sample_files needs a dataset made by simulate() (it documents the truth).")
    arguments = dict(arguments or {"n_patients": data.truth.n_patients, "seed": data.truth.seed})
    return {
        "assessments.csv": _csv(_whole_numbers(data.assessments.drop(columns="source_row"), ["score"])),
        "infusions.csv": _csv(data.infusions),
        "patients.csv": _csv(_whole_numbers(data.patients, ["age"])),
        "events.csv": _csv(data.events),
        "single_file.csv": _csv(_whole_numbers(single_file_frame(data), ["score", "age"])),
        "README.md": _readme(data, arguments),
    }


def write_sample(directory: str | Path, **arguments: Any) -> dict[str, Path]:
    """Simulate with ``arguments`` (default :data:`SAMPLE_ARGUMENTS`) and write the sample files
    into ``directory``; returns the paths written."""
    arguments = {**SAMPLE_ARGUMENTS, **arguments}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in sample_files(simulate(**arguments), arguments).items():
        path = directory / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written[name] = path
    return written


_DICTIONARY = """\
## Files

The same dataset twice: four tables (`assessments.csv`, `infusions.csv`, `patients.csv`,
`events.csv`) and the single-file form (`single_file.csv`, the ratings with their infusion and
patient columns; the events table has no place in it). Times are relative to the start of the patient's first
infusion (negative = before it); there are no dates and no identifiers.

### assessments.csv: one row per rating (totals and MADRS items)
| column | type | unit / values | meaning |
|---|---|---|---|
| patient_id | text | P001, P002, ... | pseudonymous patient id |
| instrument | text | CADSS, MADRS, QIDS-SR16 | rating scale (registry name) |
| item | integer or empty | 1-10 | MADRS item number for item rows; empty for the total score |
| score | integer | points (MADRS 0-60, items 0-6, CADSS 0-92, QIDS-SR16 0-27) | total score, or the item score on item rows (items sum to the total) |
| time_hours | number | hours since the start of the first infusion | when the rating was made |
| visit | text | e.g. baseline, 40 min, day 7, inf3 4 h, follow-up day 14 | scheduled visit |
| infusion_number | integer or empty | 1, 2, ... | the infusion the rating follows (most recent infusion started at or before it); empty before the first |

Visit labels. Single infusion: `baseline` (24 h or 1 h before), `40 min`, `80 min`, `110 min`,
`230 min`, `day 1`, `day 2`, `day 3`, then `day D` for each follow-up day (7, 14, 21, 28, 42, 56). Series:
`baseline`, `infK pre` (1 h before infusion K), `infK 40 min`, `infK 4 h`, `infK 24 h` (after
the start of infusion K), `boosterJ pre`, `boosterJ 40 min`, `boosterJ 24 h` (around booster J),
`follow-up day D` (D days after the last infusion of the induction series). Any course: `rescue`
(the assessment at which rescue treatment was started, at the time of the rescue event). MADRS item rows
exist at the main visits (baseline, 230 min / inf1 4 h, day 1 / inf1 24 h, the last series
infusion's 24 h visit, days 7, 14 and 28).

### infusions.csv: one row per infusion given
| column | type | unit / values | meaning |
|---|---|---|---|
| patient_id | text | | pseudonymous patient id |
| infusion_number | integer | 1, 2, ... | order of the infusion (boosters follow the series: 7, 8, 9 after a 6-infusion series) |
| time_hours | number | hours since the start of the first infusion | start of the infusion (the first is 0) |
| dose_mg_per_kg | number | mg/kg | ketamine dose |
| route | text | IV, IM, intranasal, sublingual, oral | route of administration |
| duration_min | number | minutes | administration time |

Boosters are ordinary rows here; they are told apart from the induction series by the gap before
them (10 days or more, against at most 3 days within the series) and are also listed in
`events.csv` with the same time.

### patients.csv: one row per patient
| column | type | unit / values | meaning |
|---|---|---|---|
| patient_id | text | | pseudonymous patient id |
| age | integer | years | age at the first infusion |
| sex | text | F, M | sex |
| diagnosis | text | TRD, MDD, bipolar, PTSD, other | primary diagnosis |
| course | text | single, series | the planned course: one infusion or an induction series (a user covariate; a series patient who left after the first infusion has one infusion) |

### events.csv: one row per intercurrent event seen while the patient was in care
| column | type | unit / values | meaning |
|---|---|---|---|
| patient_id | text | | pseudonymous patient id |
| time_hours | number | hours since the start of the first infusion | when the event happened |
| event | text | booster, rescue, discontinued | booster infusion after the series; rescue treatment (first only); leaving care |
| detail | text | e.g. booster 2; ECT, esketamine, new antidepressant; did not return for infusion 3, left after the first infusion, lost to follow-up | what exactly |

### single_file.csv: one row per rating, everything repeated
The columns of `assessments.csv`, then `infusion_time_hours` (hours since the first infusion:
start of the infusion the rating follows), `dose_mg_per_kg`, `route`, `duration_min` (those of
the same infusion; empty before the first infusion), then the patient columns `age`, `sex`,
`diagnosis`, `course` repeated on every row of the patient.
"""


_ESTIMAND_LABELS = {
    "response_proportion": "ever respond (proportion of all treated)",
    "remission_proportion": "ever remit (proportion of all treated)",
    "durability_median_days": "median durability, days on the auto clock (responders)",
    "sustained_response": "still in response at day t of the auto clock (responders)",
    "in_response": "in response at day t since the first infusion (all treated)",
    "cif_relapse": "cumulative incidence of relapse by day t of the auto clock (rescue competing)",
    "cif_rescue": "cumulative incidence of rescue by day t of the auto clock (relapse competing)",
    "dropout_after_first_infusion": "left after the first infusion (series: 1 infusion given; single: "
                                    "gone before day 7)",
    "stopped_before_last_series_infusion": "given fewer than the planned series infusions",
    "booster_given": "given at least one booster",
}


def _truth_markdown(truth: SimulationTruth) -> str:
    table = truth.table()
    lines = ["| course | estimand | day | boosters | rescue | true value | MC SE | how |",
             "|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples(index=False):
        day = "" if math.isnan(row.time_days) else f"{row.time_days:g}"
        digits = 2 if row.estimand == "durability_median_days" else 3
        se = "exact" if row.mc_se == 0 else f"{row.mc_se:.{digits + 1}f}"
        lines.append(f"| {row.course} | {_ESTIMAND_LABELS.get(row.estimand, row.estimand)} | {day} | "
                     f"{row.booster_strategy} | {row.rescue_strategy} | {row.value:.{digits}f} | {se} | "
                     f"{row.method} |")
    return "\n".join(lines)


def _readme(data: OutcomeData, arguments: Mapping[str, Any]) -> str:
    truth: SimulationTruth = data.truth
    call = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    extra = "" if dict(arguments) == SAMPLE_ARGUMENTS else " " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in arguments.items())
    a = data.assessments
    counts = a[a["item"].isna()].groupby("instrument")["score"].size()
    courses = data.patients["course"].value_counts()
    events = data.events["event"].value_counts()
    latent = truth.latent
    single = latent[latent["responder"] & (latent["course"] == "single")]
    series = latent[latent["course"] == "series"]
    parameter_rows = "\n".join(f"| {name} | {row.value} | {row.description} |"
                               for name, row in truth.summary().iterrows())
    return f"""\
# Sample data (simulated)

Simulated, not real patients, made by the project's simulator with a known truth so that
analyses can be checked against it: {truth.n_patients} patients ({courses.get('single', 0)} single infusions,
{courses.get('series', 0)} series), {len(data.infusions)} infusions, {len(a)} assessment rows
({', '.join(f'{counts[k]} {k}' for k in counts.index)} totals; {int(a['item'].notna().sum())} MADRS item rows),
{len(data.events)} events ({', '.join(f'{events[k]} {k}' for k in sorted(events.index))}).

## How it was made
```
{SAMPLE_COMMAND}{extra}
```
(or `make sample`), which writes the files of
`analysis.simulation.sample_files(analysis.simulate({call}))` with the default
`analysis.Scenario()`. `tests/analysis/test_sample_roundtrip.py` checks that the files equal that
output. The seed (47) is the one the sample has always used; every seed draws from the same model.

{_DICTIONARY}
## The truth of every estimand

Generated from `simulate(...).truth.table()` (`SimulationTruth`); the model is described in the
docstring of `analysis/simulation.py`. "course" is the planned course; proportions are among all
patients of that course (all treated) unless the row says responders. The auto clock is the one
`origin="auto"` uses: days from response onset after a single infusion, days from the last
infusion of the induction series after a series. Booster strategies: treatment_policy (boosters
as given), hypothetical (had no booster been given; what censoring at the booster estimates),
composite (a booster counts as relapse). Rescue strategies: composite (rescue counts as relapse,
the default of `fit_durability`), hypothetical (the relapse clock runs on through rescue); in the
cumulative incidences rescue competes with relapse. "exact" values are closed forms; the others come
from a simulation of {TRUTH_PATIENTS:,} latent patients per course (MC SE: its standard error).

{_truth_markdown(truth)}

## The parameters

| parameter | value | meaning |
|---|---|---|
{parameter_rows}

Realised in this sample (latent values, from `truth.latent`):

| quantity | value |
|---|---|
| latent responders | {int(latent['responder'].sum())} of {len(latent)} ({latent['responder'].mean():.1%}) |
| latent remitters | {int(latent['remitter'].sum())} of {len(latent)} ({latent['remitter'].mean():.1%}) |
| median onset, single-infusion responders (hours) | {single['onset_hours'].median():.2f} (n = {len(single)}) |
| median durability without boosters, single-infusion responders (days) | {single['durability_days'].median():.1f} |
| series patients given only the first infusion | {int((series['n_infusions_given'] == 1).sum())} of {len(series)} |
| series patients who stopped before the last series infusion | {int((series['n_infusions_given'] < len(truth.series_days)).sum())} of {len(series)} |
| series patients given at least one booster | {data.events.loc[data.events['event'] == 'booster', 'patient_id'].nunique()} of {len(series)} |
| post-baseline MADRS ratings misclassified by the >= 50% rule | {truth.misclassification_rate:.4%} |
| post-baseline MADRS ratings misclassified by the remission rule | {truth.remission_misclassification_rate:.4%} |
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m analysis.simulation --sample data/sample``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.simulation",
                                     description="Write the simulated sample data files.")
    parser.add_argument("--sample", required=True, type=Path, help="directory to write the files to")
    parser.add_argument("--n-patients", type=int, default=SAMPLE_ARGUMENTS["n_patients"])
    parser.add_argument("--seed", type=int, default=SAMPLE_ARGUMENTS["seed"])
    args = parser.parse_args(argv)
    written = write_sample(args.sample, n_patients=args.n_patients, seed=args.seed)
    for path in written.values():
        print(f"{path}  ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
