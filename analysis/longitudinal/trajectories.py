"""Score trajectories: summaries by time point and group, and the usual mixed model.

Both functions build on :func:`analysis.derive_endpoints` (one implementation of baseline,
change and response for the whole package): pass an ``OutcomeData`` (endpoints are derived
with ``**endpoint_options``) or an already derived ``Endpoints``::

    import analysis
    data = analysis.load_sample()
    course = analysis.trajectory(data, instrument="MADRS", by="route", time="visit")
    course.table          # group, time_point, n, mean, lower, upper, median, q1, q3, ...
    course.individual     # one row per rating, for spaghetti plots

Time points
-----------
``time="visit"`` uses the visit labels of the data, ordered by the median time (hours since
the first infusion) at which each label was rated, i.e. in schedule order. Single-infusion and
series patients (:func:`analysis.course_of_patients`) follow different schedules, so visits are
summarised per course (column ``course``): a "day 14" of the single schedule and a "follow-up
day 7" of the series are never put on one axis. Boosters (infusions after the induction series)
are given to some patients only, at times of their own, so the visits at which most patients
rated were rated for a booster (:func:`booster_ratings`: from 12 hours before a booster's start
to the next infusion) form a schedule of their own, ``"<course> boosters"`` (column ``schedule``;
``time_order`` counts within the schedule): interleaved with the follow-up visits of every
patient, they would make the mean jump between two sets of patients. The baseline rating is
always its own time point, labelled ``"baseline"`` whatever its visit label.
``time="hours"`` or ``"days"`` bins the time since the start of the first infusion (or, with
``time_origin="last_infusion"``, of the most recent infusion); the bins are right-closed
intervals ``(start, end]`` reported with the result, and each bin's mean is meant to be drawn at
the bin's mid-point ``time_mid_<unit>`` (the open last bin, and the baseline, at the mean time
of their ratings), on a numeric axis. Default bins
(:data:`DEFAULT_BIN_EDGES_HOURS`, :data:`DEFAULT_BIN_EDGES_DAYS`) follow the usual ketamine
schedules (40-230 min; 1, 2, 3, 7, 14, 21, 28 days); ``bins`` may be a list of edges or an
integer number of equal-count (quantile) bins.

Assessments that are not protocol visits (a rating at rescue treatment, an unscheduled or an
early-termination visit: labels matching :data:`UNSCHEDULED_VISIT_PATTERN`) have no place in a
visit schedule: with ``time="visit"`` they are left out and counted (``unscheduled``, and a
sentence in ``notes``); the hours and days views keep them, at their own time.

When a patient has several ratings in one time point (e.g. 40, 80 and 110 minutes in the
``(0, 2] h`` bin) the patient contributes ONE value there: the mean of those ratings. So ``n``
always counts patients, never ratings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.baseline import ASSUMED_ROUTE, require_baseline
from analysis.errors import AnalysisError
from analysis.grouping import (
    SERIES_GAP_DAYS,
    _is_endpoints,
    course_of_patients,
    grouping_for,
    model_groups,
    patient_values,
)
from analysis.longitudinal._design import reference_levels, term_in_words

__all__ = [
    "DEFAULT_BIN_EDGES_DAYS",
    "DEFAULT_BIN_EDGES_HOURS",
    "TrajectoryModel",
    "TrajectoryResult",
    "TrajectorySettings",
    "TIME_EFFECTS",
    "UNSCHEDULED_VISIT_PATTERN",
    "fit_trajectory",
    "unscheduled_visit_labels",
    "trajectory",
]

# Right-closed bins (start, end] of time since the first infusion. Each bin holds one nominal
# visit of the common schedules: 40/80 min, 110 min, 2-3 h, 230 min / 4 h, 6-12 h, day 1, 2, 3,
# 5, 7, 10, 14, 21, 28, then 6, 8 and 12 weeks.
DEFAULT_BIN_EDGES_HOURS: tuple[float, ...] = (
    0.0, 1.5, 2.5, 6.0, 12.0, 36.0, 60.0, 84.0, 132.0, 204.0, 276.0, 420.0, 588.0, 756.0,
    1176.0, 1512.0, 2184.0, np.inf,
)
# Days: the first 6 hours, 6-12 h, then the same daily visits (day 1 = (0.5, 1.5], day 7 =
# (5.5, 8.5], day 14 = (11.5, 17.5], ...).
DEFAULT_BIN_EDGES_DAYS: tuple[float, ...] = (
    0.0, 0.25, 0.5, 1.5, 2.5, 3.5, 5.5, 8.5, 11.5, 17.5, 24.5, 31.5, 49.0, 63.0, 91.0, np.inf,
)

_VALUES = ("score", "change", "pct_change", "improvement_pct")
_TIMES = ("visit", "hours", "days")
BASELINE_LABEL = "baseline"
# Visit labels of assessments that are not protocol visits (case-insensitive, anywhere in the
# label): unscheduled visits (CDISC "UNSCHEDULED 3.1"), ratings at rescue treatment (the
# simulator's "rescue"), early termination or discontinuation and withdrawal visits. Their
# times follow events, not the schedule, so they are no visit category of any course.
UNSCHEDULED_VISIT_PATTERN = re.compile(
    r"\b(?:unscheduled|unsched|rescue|early[ _-]*(?:termination|discontinuation|withdrawal)|withdrawal)\b",
    re.IGNORECASE)
TIME_ORIGINS = ("first_infusion", "last_infusion")
# hours: a rating at most this long before an infusion's start is that infusion's pre-infusion
# rating (it belongs to the infusion it precedes, e.g. "booster1 pre")
PRE_INFUSION_HOURS = 12.0


# ----------------------------------------------------------------------------------------
# helpers shared by the longitudinal and symptom modules (private)
# ----------------------------------------------------------------------------------------
def resolve_endpoints(data: Any, instrument: str, endpoint_options: Mapping[str, Any]) -> Any:
    """The Endpoints for ``data``: derived with ``derive_endpoints`` from an OutcomeData, or
    ``data`` itself when it already is an Endpoints (then ``endpoint_options`` must be empty,
    because the definitions were fixed when it was derived)."""
    if _is_endpoints(data):
        if endpoint_options:
            raise AnalysisError(
                "Endpoint options (" + ", ".join(sorted(endpoint_options)) + ") apply only when "
                "`data` is an OutcomeData; these Endpoints were already derived with their own settings.")
        return data
    from analysis.endpoints import derive_endpoints

    return derive_endpoints(data, instrument=instrument, **dict(endpoint_options))


def endpoint_instrument(endpoints: Any, default: str) -> str:
    return str(getattr(endpoints.settings, "instrument", default))


def describe_endpoints(endpoints: Any) -> tuple[str, ...]:
    describe = getattr(endpoints.settings, "describe", None)
    return tuple(describe()) if callable(describe) else ()


def t_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided t-based interval for a mean: mean +/- t(1 - alpha/2, n - 1) * sd / sqrt(n)
    (NaN when n < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(1 - alpha / 2, np.where(n > 1, n - 1, np.nan)) * np.asarray(sd) / np.sqrt(n)
    return np.asarray(mean) - half, np.asarray(mean) + half


@dataclass(frozen=True)
class TimePoints:
    """Ratings with their time point, and one row per time point (in order)."""

    frame: pd.DataFrame  # input rows kept, with time_point (str) and time_order (int)
    points: pd.DataFrame  # time_point, time_order, bin_start_<unit>, bin_end_<unit>
    n_dropped: int  # ratings without a visit label, outside the bins or at an unscheduled assessment
    edges: tuple[float, ...] | None
    # time="visit": ratings left out as not at a protocol visit: visit, ratings, patients
    unscheduled: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["visit", "ratings", "patients"]))

    def unscheduled_note(self) -> list[str]:
        return unscheduled_note(self.unscheduled)


def unscheduled_note(unscheduled: pd.DataFrame) -> list[str]:
    """The sentence saying which ratings a visit view left out as not at a protocol visit
    (``unscheduled``: visit, ratings, patients; no sentence when empty)."""
    if unscheduled.empty:
        return []
    labels = ", ".join(f"'{v}' ({r} ratings of {p} patients)" for v, r, p in
                       unscheduled[["visit", "ratings", "patients"]].itertuples(index=False))
    return [f"assessments that are not protocol visits are left out of the visit view: {labels}; their times "
            "follow events (rescue, unscheduled or early-termination visits), not a schedule. Time in hours "
            "or days includes them"]


@dataclass(frozen=True)
class RatingCodes:
    """The visit view's ratings as integer codes (patient and label of each row), made once per
    :func:`assign_schedules` so that the schedule rules count with numpy on integers instead of
    grouping strings (at 20,000 patients each string groupby factorized 280,000 ids again)."""

    patient: np.ndarray  # per row: index into patient_ids
    patient_ids: np.ndarray  # distinct ids (str): in order of appearance, or a categorical id's categories
    label: np.ndarray  # per row: index into labels
    labels: np.ndarray  # distinct time_point labels (str)

    @property
    def post(self) -> np.ndarray:
        """Per row: not the baseline."""
        return self.label != self.baseline_code

    @property
    def baseline_code(self) -> int:
        where = np.flatnonzero(self.labels == BASELINE_LABEL)
        return int(where[0]) if where.size else -1


def as_text(column: pd.Series) -> pd.Series:
    """``column.astype(str)``; a categorical's categories made text once and taken by code (a
    tenth of the time at 300,000 rows)."""
    if not isinstance(column.dtype, pd.CategoricalDtype) or (column.cat.codes < 0).any():
        return column.astype(str)
    names = np.asarray(column.cat.categories.astype(str), dtype=object)
    return pd.Series(names[column.cat.codes.to_numpy()], index=column.index, name=column.name, dtype=object)


def rating_codes(rated: pd.DataFrame) -> RatingCodes:
    """:class:`RatingCodes` of ``rated`` (patient_id, time_point). A categorical patient_id gives
    its codes and categories (distinct ids, some perhaps without a row)."""
    ids = rated["patient_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype) and not (ids.cat.codes < 0).any():
        patient, ids = ids.cat.codes.to_numpy(), ids.cat.categories.astype(str)
    else:
        patient, ids = pd.factorize(ids.astype(str).to_numpy(), use_na_sentinel=False)
    label, labels = pd.factorize(rated["time_point"].astype(str).to_numpy(), use_na_sentinel=False)
    return RatingCodes(patient=patient.astype(np.int64), patient_ids=np.asarray(ids, dtype=object),
                       label=label.astype(np.int64), labels=np.asarray(labels, dtype=object))


def _course_codes(course: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, course names sorted): sorted, so that a tie goes to the first name."""
    code, names = pd.factorize(course, sort=True, use_na_sentinel=False)
    return code.astype(np.int64), np.asarray(names, dtype=object)


# A visit label is foreign to a course (schedule_courses) when the share of that course's patients
# rated at it is below a quarter of the share of the course using it the most: a series label
# rated by the few planned-series patients who stopped after one infusion (single by the course
# rule) is foreign to the single course; "day 7" rated by most patients of both is foreign to none.
FOREIGN_LABEL_SHARE = 0.25


def schedule_courses(rated: pd.DataFrame, codes: RatingCodes | None = None) -> tuple[np.ndarray, int]:
    """The course whose visit schedule each rating's patient was rated on, for the visit view.

    ``rated``: one row per rating with patient_id, time_point (visit label, ``"baseline"`` for the
    baseline) and course (:func:`analysis.course_of_patients`). A post-baseline label is foreign to a
    course when the share of that course's patients rated at it is below
    :data:`FOREIGN_LABEL_SHARE` of the largest share of any course, so a label both schedules use
    ("day 1", "day 7" in many clinics' exports) is foreign to neither. A patient whose every
    post-baseline label is foreign to their course is summarised with another course's visits (e.g.
    a patient who started an induction series and stopped after the first infusion: single by the
    course rule, rated on the series schedule), namely the course with the largest share at their
    first post-baseline rating's label (a tie: the first course name alphabetically). ``codes``:
    :func:`rating_codes` of ``rated`` (made when None). Returns (course per row, number of patients moved).
    """
    course = rated["course"].to_numpy(dtype=object)
    codes = rating_codes(rated) if codes is None else codes
    post = codes.post
    course_code, names = _course_codes(course)
    if not post.any() or len(np.unique(course_code[post])) < 2:
        return course, 0
    n_labels, n_courses, n_patients = len(codes.labels), len(names), len(codes.patient_ids)
    patient, label, own = codes.patient[post], codes.label[post], course_code[post]
    # patients per (label, course): each (patient, label) once (pandas' hash: numpy's unique sorts)
    pairs = pd.unique(patient * n_labels + label)
    pair_patient, pair_label = pairs // n_labels, pairs % n_labels
    own_of_patient = np.zeros(n_patients, dtype=np.int64)
    own_of_patient[patient] = own
    counts = np.bincount(pair_label * n_courses + own_of_patient[pair_patient],
                         minlength=n_labels * n_courses).reshape(n_labels, n_courses)
    # shares, not counts: a schedule with fewer patients is not outvoted on the labels both use
    rated_patients = np.zeros(n_patients, dtype=bool)
    rated_patients[patient] = True
    sizes = np.bincount(own_of_patient[rated_patients], minlength=n_courses)
    share = counts / np.maximum(sizes, 1)
    foreign = share < FOREIGN_LABEL_SHARE * share.max(axis=1, keepdims=True)
    home = share.argmax(axis=1)[label]  # per post row: the course using its label the most
    at_home = np.bincount(patient, weights=~foreign[label, own], minlength=n_patients)
    rated_after = np.bincount(patient, minlength=n_patients)
    moved = (rated_after > 0) & (at_home == 0)
    if not moved.any():
        return course, 0
    first_row = np.flatnonzero(~pd.Series(patient).duplicated().to_numpy())  # each patient's first post row
    target = np.zeros(n_patients, dtype=np.int64)
    target[patient[first_row]] = home[first_row]
    row_moved = moved[codes.patient]
    out = course.copy()
    out[row_moved] = names[target[codes.patient[row_moved]]]
    return out, int(moved.sum())


def last_ratings(rated: pd.DataFrame, keys: Sequence[str] = ("time_order",)) -> pd.DataFrame:
    """Each patient's last rating per ``keys`` (e.g. schedule and time_order: the state at the end of
    a time point), i.e. the latest time_hours (of equal times the later row), in the order of a
    stable sort by patient_id, ``keys`` and time_hours. On integer codes (a string sort of every
    rating was most of the cost at 20,000 patients)."""
    codes = [pd.factorize(rated[k], sort=True)[0] for k in ("patient_id", *keys)]
    order = np.lexsort((rated["time_hours"].to_numpy(float), *reversed(codes)))
    if not order.size:
        return rated.iloc[order]
    changes = np.zeros(order.size, dtype=bool)
    for code in codes:
        sorted_code = code[order]
        changes[:-1] |= sorted_code[1:] != sorted_code[:-1]
    changes[-1] = True  # the last row of each key
    return rated.iloc[order[changes]]


def booster_ratings(rated: pd.DataFrame, infusions: pd.DataFrame | None, series_end_hours: pd.Series,
                    codes: RatingCodes | None = None) -> np.ndarray:
    """Whether each rating (rows with patient_id, time_hours) belongs to a booster: the infusion
    it follows (the latest starting at most :data:`PRE_INFUSION_HOURS` after it, so that a
    pre-infusion rating belongs to the infusion it precedes) is a booster, i.e. starts after the
    patient's induction series ends (``series_end_hours`` per patient_id: the start of the
    series' last infusion, from :func:`course_table`). ``codes``: :func:`rating_codes` of
    ``rated`` (made when None)."""
    booster = np.zeros(len(rated), dtype=bool)
    if infusions is None or infusions.empty or rated.empty:
        return booster
    ids = infusions["patient_id"].astype(str).to_numpy()
    start = infusions["time_hours"].to_numpy(float)
    is_booster = start > series_end_hours.reindex(ids).to_numpy(float)
    if not is_booster.any():
        return booster
    codes = rating_codes(rated) if codes is None else codes
    # the infusions' patients as the ratings' codes (-1: no rating), so the as-of join is by integer
    infusion_patient = pd.Index(codes.patient_ids).get_indexer(ids)
    # only the ratings of patients with a booster can follow one (a few of every patient's ratings)
    boosted = np.zeros(len(codes.patient_ids), dtype=bool)
    boosted[infusion_patient[(infusion_patient >= 0) & is_booster]] = True
    known = (infusion_patient >= 0) & boosted[np.maximum(infusion_patient, 0)]
    starts = pd.DataFrame({"patient": infusion_patient[known], "start": start[known],
                           "booster": is_booster[known].astype(float)}).sort_values("start", kind="stable")
    at = rated["time_hours"].to_numpy(float) + PRE_INFUSION_HOURS
    candidates = np.flatnonzero(np.isfinite(at) & boosted[codes.patient])
    order = candidates[np.argsort(at[candidates], kind="stable")]
    rows = pd.DataFrame({"patient": codes.patient[order], "at": at[order]})
    follows = pd.merge_asof(rows, starts, left_on="at", right_on="start", by="patient", direction="backward")
    booster[order] = follows["booster"].to_numpy(float) > 0.5  # NaN: before any infusion
    return booster


def visit_schedules(rated: pd.DataFrame, booster: np.ndarray, codes: RatingCodes | None = None) -> np.ndarray:
    """The schedule of each rating in the visit view: its course, or ``"<course> boosters"`` for
    the ratings at a booster visit, i.e. a label at which most of the course's patients rated
    there were rated for a booster (:func:`booster_ratings`). Boosters are given to some patients
    only (those who relapsed, or kept responding, by the clinic's policy) at times of their own, so
    their visits interleaved with the follow-up visits of every patient would make the mean jump
    between two different sets of patients. ``codes``: :func:`rating_codes` of ``rated`` (made
    when None)."""
    course = rated["course"].astype(str).to_numpy(dtype=object)
    if not booster.any():
        return course
    codes = rating_codes(rated) if codes is None else codes
    course_code, names = _course_codes(course)
    n_labels, n_courses, n_patients = len(codes.labels), len(names), len(codes.patient_ids)
    post = codes.post
    # per (course, label): the share of its patients rated there for a booster
    cell = course_code * n_labels + codes.label
    first, triple = pd.factorize(cell[post] * n_patients + codes.patient[post])
    any_booster = np.bincount(first, weights=booster[post], minlength=len(triple)) > 0
    triple_cell = triple // n_patients
    patients = np.bincount(triple_cell, minlength=n_courses * n_labels)
    boosted = np.bincount(triple_cell, weights=any_booster, minlength=n_courses * n_labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        at_boosters = boosted / patients > 0.5
    if not at_boosters.any():
        return course
    schedule_names = np.concatenate([names, names + " boosters"]).astype(object)
    row_booster = at_boosters[cell] & post
    return schedule_names[course_code + n_courses * row_booster]


def assign_schedules(data: Any, endpoints: Any, rated: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The visit view's schedules (the module docstring): ``rated`` (one row per rating with
    patient_id, time_point, time_order and time_hours since the first infusion, the baseline
    included) with its course (:func:`course_table`, then :func:`schedule_courses`), schedule
    (:func:`visit_schedules`) and time_order counted within the schedule (baseline 0), and the
    number of patients summarised with the other course's visits. ``endpoints`` may be None for
    an analysis of the OutcomeData itself (:func:`analysis.suicidality_course`): the course
    rule's default series gap."""
    codes = rating_codes(rated)
    courses = course_table(data, endpoints, pd.Series(codes.patient_ids))
    course_of_patient = courses["course"].reindex(codes.patient_ids).to_numpy(dtype=object)
    rated = rated.assign(course=course_of_patient[codes.patient])
    course, rescheduled = schedule_courses(rated, codes)
    rated["course"] = course
    booster = booster_ratings(rated, course_infusions(data, endpoints), courses["series_end_hours"], codes)
    schedule = visit_schedules(rated, booster, codes)
    rated["schedule"] = schedule
    # a label's place is its rank among its schedule's labels, so schedules are never interleaved
    if len(rated):
        schedule_code = pd.factorize(schedule)[0].astype(np.int64)
        time_order = rated["time_order"].to_numpy(np.int64)
        span = int(time_order.max()) + 1
        present = np.bincount(schedule_code * span + time_order, minlength=(schedule_code.max() + 1) * span) > 0
        place = present.reshape(-1, span).cumsum(axis=1) - 1  # dense rank of each order within its schedule
        rated["time_order"] = place[schedule_code, time_order]
    return rated, rescheduled


def schedule_rank(schedules: pd.Series) -> np.ndarray:
    """Sort key of visit schedules: the single-infusion schedule, then the series, then the
    boosters' schedules (in the same course order), then any other."""
    names = schedules.astype(str)
    boosters = names.str.endswith(" boosters").to_numpy()
    course = names.str.removesuffix(" boosters").map({"single": 0, "series": 1}).fillna(2).to_numpy(int)
    return 3 * boosters + course


def ordered_schedules(schedules: pd.Series) -> pd.Categorical:
    """``schedules`` as an ordered categorical whose categories are in :func:`schedule_rank`
    order (then by name), so that a sort or a groupby lists single infusion, series, boosters,
    not the alphabet's series, series boosters, single."""
    names = pd.Series(pd.unique(schedules.astype(str).to_numpy()), dtype=object)
    ranked = names.iloc[np.lexsort((names.to_numpy(), schedule_rank(names)))].tolist()
    return pd.Categorical(schedules.astype(str), categories=ranked, ordered=True)


def rescheduled_note(patients: int) -> list[str]:
    """The sentence saying how many patients the visit view summarises with the other course's
    visits (:func:`schedule_courses`; no sentence when none)."""
    if not patients:
        return []
    return [f"{patients} patient(s) rated only at the visits of the other course's schedule (e.g. an induction "
            "series stopped after the first infusion) are summarised with that course's visits"]


def unscheduled_visit_labels(labels: Sequence[Any]) -> list[str]:
    """The labels (as str) of ``labels`` that name an assessment which is not a protocol visit
    (:data:`UNSCHEDULED_VISIT_PATTERN`), e.g. ``["rescue"]`` of the simulator's labels."""
    return [str(v) for v in dict.fromkeys(str(v) for v in labels) if UNSCHEDULED_VISIT_PATTERN.search(v)]


def assign_time_points(
    frame: pd.DataFrame,
    time: str,
    bins: Sequence[float] | int | None,
    *,
    baseline: pd.Series | None = None,
) -> TimePoints:
    """Give each rating (rows with time_hours and optionally visit) a time point.

    ``baseline`` (bool per row) marks baseline ratings, which form the time point "baseline"
    (order 0). See the module docstring for the rules.
    """
    if time not in _TIMES:
        raise AnalysisError(f"time must be one of {_TIMES}, not {time!r}.")
    is_baseline = (baseline if baseline is not None else pd.Series(False, index=frame.index)).to_numpy(bool)
    hours = frame["time_hours"].to_numpy(float)
    unit = "days" if time == "days" else "hours"
    t = hours / 24.0 if unit == "days" else hours
    # each rating's time point as an integer code into ``names`` (-1: none), so that the
    # labels are strings once per time point, not once per rating
    start = np.full(len(frame), np.nan)
    end = np.full(len(frame), np.nan)
    edges_used: tuple[float, ...] | None = None
    unscheduled = pd.DataFrame(columns=["visit", "ratings", "patients"])
    if time == "visit":
        if "visit" not in frame.columns or frame["visit"].isna().all():
            raise AnalysisError("The ratings have no visit labels; use time='hours' or time='days' "
                             "(binned time since the first infusion) instead.")
        code, visits = pd.factorize(frame["visit"].astype(object).where(frame["visit"].notna(), None).to_numpy())
        names = np.asarray([str(v) for v in visits], dtype=object)
        off_schedule = np.isin(names, unscheduled_visit_labels(names))
        if off_schedule.any():
            left_out = (code >= 0) & ~is_baseline & off_schedule[np.maximum(code, 0)]
            if left_out.any():
                counted = pd.DataFrame({"visit": names[code[left_out]],
                                        "patient_id": frame["patient_id"].to_numpy()[left_out]
                                        if "patient_id" in frame.columns else np.arange(int(left_out.sum()))})
                unscheduled = (counted.groupby("visit", sort=True)
                               .agg(ratings=("patient_id", "size"), patients=("patient_id", "nunique"))
                               .reset_index())
            code = np.where(left_out, -1, code)
    else:
        if bins is None:
            edges = np.asarray(DEFAULT_BIN_EDGES_DAYS if unit == "days" else DEFAULT_BIN_EDGES_HOURS)
        elif isinstance(bins, int | np.integer):
            if bins < 1:
                raise AnalysisError("bins must be a positive number of bins or a list of edges.")
            post = t[~is_baseline & np.isfinite(t)]
            if post.size == 0:
                edges = np.array([0.0, np.inf])
            else:
                # equal-count bins; the first starts at 0 (or just below the earliest time)
                quantiles = np.unique(np.quantile(post, np.linspace(0, 1, int(bins) + 1)))
                start_edge = 0.0 if quantiles[0] > 0 else np.nextafter(quantiles[0], -np.inf)
                edges = np.concatenate([[start_edge], quantiles[1:] if quantiles.size > 1 else quantiles])
        else:
            edges = np.asarray(list(bins), dtype=float)
            if edges.size < 2 or np.any(np.diff(edges) <= 0):
                raise AnalysisError("bins must be at least two strictly increasing edges.")
        edges_used = tuple(float(e) for e in edges)
        index = np.searchsorted(edges, t, side="left") - 1  # (start, end]: t == end -> that bin
        inside = (index >= 0) & (index < edges.size - 1) & np.isfinite(t)
        start[inside] = edges[index[inside]]
        end[inside] = edges[index[inside] + 1]
        symbol = "d" if unit == "days" else "h"
        names = np.array([f"({_fmt(a)}, {_fmt(b)}] {symbol}" for a, b in zip(edges[:-1], edges[1:], strict=True)],
                         dtype=object)
        code = np.where(inside, index, -1)
    code = np.where(is_baseline, len(names), code)
    # one time point per label (a visit named like the baseline joins it)
    names, remap = pd.factorize(np.append(names, BASELINE_LABEL).astype(object))[::-1]
    names = np.asarray(names, dtype=object)
    code = np.where(code >= 0, remap[np.maximum(code, 0)], -1)
    baseline_code = remap[-1]
    start[is_baseline] = np.nan
    end[is_baseline] = np.nan
    keep = code >= 0
    out = frame.loc[keep].copy()
    code = code[keep]
    out["time_point"] = names[code]
    start_col, end_col = f"bin_start_{unit}", f"bin_end_{unit}"
    out[start_col] = start[keep]
    out[end_col] = end[keep]
    # schedule order: baseline first, then by median time (visits) or bin start (bins)
    key = np.where(code == baseline_code, -np.inf,
                   out[start_col].to_numpy() if time != "visit" else out["time_hours"].to_numpy(float))
    by_code = pd.DataFrame({"key": key, start_col: out[start_col].to_numpy(), end_col: out[end_col].to_numpy()}
                           ).groupby(code, sort=True)
    present = by_code.size().index.to_numpy()
    points = pd.DataFrame({"time_point": names[present], "sort_key": by_code["key"].median().to_numpy(),
                           start_col: by_code[start_col].first().to_numpy(),
                           end_col: by_code[end_col].first().to_numpy(), "_code": present})
    points = points.sort_values(["sort_key", "time_point"], kind="stable").reset_index(drop=True)
    points["time_order"] = np.arange(len(points), dtype=int)
    order_of_code = np.zeros(len(names), dtype=int)
    order_of_code[points["_code"].to_numpy()] = points["time_order"].to_numpy()
    points = points[["time_point", "time_order", start_col, end_col]]
    out["time_order"] = order_of_code[code]
    return TimePoints(frame=out, points=points, n_dropped=int((~keep).sum()), edges=edges_used,
                      unscheduled=unscheduled)


def _fmt(x: float) -> str:
    if np.isinf(x):
        return "inf"
    return f"{x:g}" if abs(x) >= 0.01 or x == 0 else f"{x:.3g}"


def describe_statistics(values: pd.DataFrame, keys: list[str], column: str, alpha: float) -> pd.DataFrame:
    """n, mean, sd, se, t-based CI, median, quartiles (R type 7), min and max of ``column``
    per ``keys`` combination (observed combinations only)."""
    grouped = values.groupby(keys, observed=True, sort=True)[column]
    table = grouped.agg(n="count", mean="mean", sd="std", median="median", min="min", max="max")
    quartiles = grouped.quantile([0.25, 0.75]).unstack(-1)
    table["q1"] = quartiles[0.25]
    table["q3"] = quartiles[0.75]
    table["se"] = table["sd"] / np.sqrt(table["n"])
    table["lower"], table["upper"] = t_interval(table["mean"].to_numpy(), table["sd"].to_numpy(),
                                                table["n"].to_numpy(), alpha)
    table["n"] = table["n"].astype("int64")
    return table.reset_index()


# ----------------------------------------------------------------------------------------
# trajectory
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrajectorySettings:
    """How a trajectory was summarised."""

    instrument: str
    by: str | None
    time: str
    value: str
    alpha: float
    bin_edges: tuple[float, ...] | None
    endpoint_definitions: tuple[str, ...] = ()
    grouping: str | None = None
    time_origin: str = "first_infusion"

    def describe(self) -> list[str]:
        what = {"score": "total score", "change": "change from baseline (points; negative = better)",
                "pct_change": "percent change from baseline (-50 = halved)",
                "improvement_pct": "percent improvement from baseline (50 = halved)"}[self.value]
        since = "the most recent infusion" if self.time_origin == "last_infusion" else "the first infusion"
        unit = {"visit": "visit (each schedule in its own order)", "hours": f"hours since {since}",
                "days": f"days since {since}"}[self.time]
        lines = [f"{self.instrument} {what} by {unit}"
                 + (f", {self.grouping or 'grouped by ' + self.by}" if self.by else "") + ".",
                 f"Mean with {100 * (1 - self.alpha):g}% t-based CI; median and IQR (quartiles, R type 7).",
                 "Each patient contributes one value per time point (the mean of their ratings in it)."]
        if self.bin_edges is not None:
            symbol = "d" if self.time == "days" else "h"
            lines.append("Time bins (start, end] " + symbol + ": "
                         + ", ".join(_fmt(e) for e in self.bin_edges) + "; each mean is drawn at its bin's "
                         "mid-point (the open last bin and the baseline at their ratings' mean time).")
        else:
            lines.append("Visits: single-infusion and series patients follow different schedules, so each "
                         "course's visits are summarised separately, in that course's schedule order; the "
                         "visits of boosters (infusions after the induction series, given to some patients "
                         "only) form a schedule of their own.")
        return lines + list(self.endpoint_definitions)


@dataclass(frozen=True)
class TrajectoryResult:
    """Summary of scores over time.

    table : one row per group and time point (and schedule, for visits): group, [course,
        schedule] (for visits: the course, and the course or ``"<course> boosters"`` for a booster
        visit; rows single infusion, then series, then boosters, :func:`schedule_rank`),
        time_point (label), time_order (0 = baseline; within the schedule for visits),
        time_hours or time_days (mean actual time of the ratings summarised), for bins
        time_mid_<unit> (the bin's mid-point, where the mean is drawn),
        bin_start_<unit>, bin_end_<unit> (NaN for visits and baseline), n (patients), mean, sd,
        se, lower, upper (t-based CI), median, q1, q3, min, max. Values are in the units of
        ``settings.value`` (score points, or percent).
    individual : one row per rating: patient_id, group, course, [schedule], time_point, time_order,
        time_hours, time_days (on the clock of ``settings.time_origin``), value (for spaghetti
        plots on the same numeric axis).
    notes : who was left out or added, in sentences (e.g. patients with a baseline of 0, ratings
        at assessments that are not protocol visits).
    grouping : the :class:`analysis.Grouping` used (levels, reference, description).
    unscheduled : time="visit": the ratings left out as not at a protocol visit (module
        docstring): visit, ratings, patients (empty when none).
    rescheduled : time="visit": patients summarised with the other course's visits, because
        they were rated on its schedule only (:func:`schedule_courses`; 0 for bins).
    """

    table: pd.DataFrame
    individual: pd.DataFrame
    settings: TrajectorySettings
    n_patients: int
    n_ratings: int
    n_dropped: int
    endpoints: Any = field(repr=False, compare=False, default=None)
    notes: tuple[str, ...] = ()
    grouping: Any = field(repr=False, compare=False, default=None)
    unscheduled: pd.DataFrame = field(repr=False, compare=False,
                                      default_factory=lambda: pd.DataFrame(columns=["visit", "ratings", "patients"]))
    rescheduled: int = 0

    def describe(self) -> list[str]:
        """Plain-language definitions used (for tables, figures and exports), then the notes."""
        return self.settings.describe() + [f"Note: {n}." for n in self.notes]

    def summary(self) -> pd.DataFrame:
        """n, mean (CI), median (IQR) per group and time point, indexed by (group, time_point)."""
        columns = ["n", "mean", "lower", "upper", "median", "q1", "q3"]
        return self.table.set_index(["group", "time_point"])[columns]

    def __repr__(self) -> str:
        return (f"TrajectoryResult({self.settings.instrument} {self.settings.value} by {self.settings.time}; "
                f"{self.n_patients} patients, {self.n_ratings} ratings, "
                f"{self.table['time_point'].nunique()} time points, "
                f"{self.table['group'].nunique()} group(s))")


def zero_baseline_ids(data: Any, endpoints: Any, instrument: str) -> pd.Index:
    """Patients whose baseline is 0 and who are therefore not in the Endpoints (which divide by
    the baseline): found with the baseline rule on an OutcomeData, from the exclusion reasons of
    derived Endpoints."""
    if _is_endpoints(data):
        excluded = getattr(endpoints, "excluded", None)
        if excluded is None or excluded.empty:
            return pd.Index([], dtype=object)
        zero = excluded["reason"].astype(str).str.contains("baseline score is 0").to_numpy()
        return pd.Index(excluded.loc[zero, "patient_id"].astype(str).to_numpy())
    from analysis.baseline import baseline_scores

    excluded = getattr(endpoints, "excluded", None)
    if excluded is None or excluded.empty:
        return pd.Index([], dtype=object)
    # only excluded patients can be missing; the baseline rule says whose baseline is 0
    base = baseline_scores(data, instrument, patient_ids=excluded["patient_id"])
    zero = base.loc[base["baseline_score"].to_numpy(float) == 0, "patient_id"]
    analysed = endpoints.patients["patient_id"].astype(str)
    return pd.Index(zero[~zero.isin(analysed)].to_numpy())


def patients_with_zero_baseline(data: Any, endpoints: Any, instrument: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(patients, excluded, notes): the endpoints' patients plus those whose baseline is 0,
    which derived endpoints leave out (percent change is undefined for them) but analyses that
    divide by nothing (Table 1, raw-score models) keep: their covariates, first-infusion dose
    and route, course and number of infusions, with the columns and dtypes of
    ``Endpoints.patients`` (outcome columns missing)."""
    import contextlib

    from analysis.baseline import first_infusions, rated_against_baseline

    patients = endpoints.patients.reset_index(drop=True)
    excluded = getattr(endpoints, "excluded", pd.DataFrame(columns=["patient_id", "reason"]))
    zero_ids = zero_baseline_ids(data, endpoints, instrument)
    n_zero = len(zero_ids)
    if not n_zero:
        return patients, excluded, []
    if _is_endpoints(data):
        return patients, excluded, [f"{n_zero} patient(s) with a baseline {instrument} score of 0 are not in these "
                                    "Endpoints; pass the OutcomeData to include them"]
    base = rated_against_baseline(data, instrument, patient_ids=zero_ids)
    base = base[base["is_baseline"].to_numpy(bool) & base["patient_id"].isin(set(zero_ids))]
    extra = pd.DataFrame({"patient_id": base["patient_id"].to_numpy(),
                          "baseline_score": base["score"].to_numpy(float)})
    covariates = data.patients.assign(patient_id=data.patients["patient_id"].astype(str)).drop_duplicates("patient_id")
    extra = extra.merge(covariates.drop(columns=[c for c in covariates.columns if c in ("baseline_score",)]),
                        on="patient_id", how="left")
    first = first_infusions(data)
    first = first.assign(patient_id=first["patient_id"].astype(str)).set_index("patient_id")
    ids = extra["patient_id"].to_numpy()
    if "dose_mg_per_kg" in first.columns:
        extra["first_dose_mg_per_kg"] = first["dose_mg_per_kg"].reindex(ids).to_numpy(float)
    if "route" in first.columns:
        route = first["route"].reindex(ids)
        extra["route"] = route.where(route.notna(), ASSUMED_ROUTE).to_numpy()  # no record: the assumed infusion
    course = course_of_patients(data.infusions, extra["patient_id"]).set_index("patient_id")
    for column in ("course", "n_infusions", "n_series_infusions"):
        extra[column] = course[column].reindex(ids).to_numpy()
    extra = extra.reindex(columns=patients.columns)
    for column in patients.columns:  # the endpoints' dtypes (the extra rows are few)
        with contextlib.suppress(TypeError, ValueError):
            extra[column] = extra[column].astype(patients[column].dtype)
    combined = pd.concat([patients.assign(patient_id=patients["patient_id"].astype(str)), extra],
                         ignore_index=True)
    notes = [f"{n_zero} patient(s) with a baseline {instrument} score of 0 included"]
    if "peak_cadss" in patients.columns and patients["peak_cadss"].notna().any():
        notes.append(f"peak CADSS is not derived for the {n_zero} patient(s) with a baseline of 0 (shown as missing)")
    kept = ~excluded["patient_id"].astype(str).isin(set(zero_ids)).to_numpy()
    return combined, excluded[kept].reset_index(drop=True), notes


def course_infusions(data: Any, endpoints: Any) -> pd.DataFrame | None:
    """The infusions the course rule reads: the OutcomeData's, else the Endpoints' (None when
    the Endpoints were built without them)."""
    return getattr(endpoints, "infusions", None) if _is_endpoints(data) else data.infusions


def course_table(data: Any, endpoints: Any, patient_ids: pd.Series) -> pd.DataFrame:
    """``single`` or ``series`` (column course) and the start of the induction series' last
    infusion (series_end_hours) of each distinct id, indexed by patient_id:
    :func:`analysis.course_of_patients` (the package's one course rule) on the infusions
    (:func:`course_infusions`) with the endpoints' ``series_gap_days``, so that the visit view
    and :func:`analysis.derive_endpoints` agree on every patient's course (``endpoints`` None: an
    analysis of the OutcomeData without derived endpoints, the default gap). Without infusions,
    the Endpoints' patient table (series_end_hours NaN; an unknown id is single)."""
    ids = pd.unique(patient_ids.astype(str).to_numpy())
    infusions = course_infusions(data, endpoints)
    if infusions is not None:
        gap = float(getattr(getattr(endpoints, "settings", None), "series_gap_days", SERIES_GAP_DAYS))
        course = course_of_patients(infusions, ids, gap_days=gap).set_index("patient_id")
        return course[["course", "series_end_hours"]]
    patients = endpoints.patients
    lookup = pd.Series(patients["course"].astype(str).to_numpy(), index=patients["patient_id"].astype(str))
    return pd.DataFrame({"course": lookup.reindex(ids).fillna("single").to_numpy(dtype=object),
                         "series_end_hours": np.nan}, index=pd.Index(ids, name="patient_id"))


def patient_courses(data: Any, endpoints: Any, patient_ids: pd.Series) -> np.ndarray:
    """The course of each id in ``patient_ids`` (row by row; :func:`course_table`)."""
    course = course_table(data, endpoints, patient_ids)["course"]
    return course.reindex(patient_ids.astype(str).to_numpy()).to_numpy(dtype=object)


def hours_since_last_infusion(ratings: pd.DataFrame, infusions: pd.DataFrame) -> np.ndarray:
    """Hours from the start of the most recent infusion at or before each rating (the rule of
    ``derive_endpoints``): NaN for baseline ratings and for ratings before any infusion; a
    patient without an infusion record has the contract's assumed infusion at time 0."""
    rows = pd.DataFrame({"patient_id": ratings["patient_id"].astype(str).to_numpy(),
                         "time_hours": ratings["time_hours"].to_numpy(float), "_row": np.arange(len(ratings))})
    starts = pd.DataFrame({"patient_id": infusions["patient_id"].astype(str).to_numpy(),
                           "infusion_hours": infusions["time_hours"].to_numpy(float)})
    merged = pd.merge_asof(rows.sort_values("time_hours"), starts.sort_values("infusion_hours"),
                           left_on="time_hours", right_on="infusion_hours", by="patient_id",
                           direction="backward").sort_values("_row")
    since = (merged["time_hours"] - merged["infusion_hours"]).to_numpy(float)
    no_record = ~rows["patient_id"].isin(set(starts["patient_id"])).to_numpy()
    since[no_record] = rows["time_hours"].to_numpy(float)[no_record]
    if "is_baseline" in ratings.columns:
        since[ratings["is_baseline"].to_numpy(bool)] = np.nan
    since[since < 0] = np.nan
    return since


def percent_notes(data: Any, endpoints: Any, instrument: str, what: str) -> list[str]:
    """The note of a percent-based analysis (response, percent improvement) on who it leaves out
    because their baseline is 0 (empty when nobody)."""
    n_zero = len(zero_baseline_ids(data, endpoints, instrument))
    if not n_zero:
        return []
    return [f"{n_zero} patient(s) with a baseline {instrument} score of 0 left out: {what} is a percent "
            "change from baseline, undefined for a baseline of 0"]


def ratings_for(data: Any, endpoints: Any, value: str, instrument: str,
                time_origin: str = "first_infusion") -> tuple[pd.DataFrame, list[str]]:
    """The ratings a trajectory of ``value`` summarises, and notes on who is left out.

    Raw scores and absolute change do not divide by the baseline, so patients whose baseline
    is 0 are kept (their ratings are added from :func:`analysis.baseline.rated_against_baseline`,
    the same baseline rule, with the hours since their most recent infusion from
    :func:`hours_since_last_infusion`); percent views leave them out and say how many.
    ``time_origin`` is accepted for the callers' symmetry; every row carries both clocks.
    """
    ratings = endpoints.ratings
    zero_ids = zero_baseline_ids(data, endpoints, instrument)
    n_zero = len(zero_ids)
    if not n_zero:
        return ratings, []
    if value in ("pct_change", "improvement_pct"):
        return ratings, [f"{n_zero} patient(s) with a baseline {instrument} score of 0 left out: percent "
                         "change from a baseline of 0 is undefined"]
    if _is_endpoints(data):
        return ratings, [f"{n_zero} patient(s) with a baseline {instrument} score of 0 are not in these "
                         "Endpoints; pass the OutcomeData to include them in raw-score and change views"]
    from analysis.baseline import rated_against_baseline

    rated = rated_against_baseline(data, instrument, patient_ids=zero_ids)
    extra = rated[rated["patient_id"].isin(set(zero_ids))]
    extra = pd.DataFrame({"patient_id": extra["patient_id"].astype(str).to_numpy(),
                          "time_hours": extra["time_hours"].to_numpy(float),
                          "visit": extra["visit"].array, "score": extra["score"].to_numpy(),
                          "change": extra["change"].to_numpy(), "baseline_score": extra["baseline_score"].to_numpy(),
                          "is_baseline": extra["is_baseline"].to_numpy(bool)})
    extra["hours_since_infusion"] = hours_since_last_infusion(extra, data.infusions)
    columns = [c for c in extra.columns if c in ratings.columns]
    combined = pd.concat([ratings[columns].assign(patient_id=ratings["patient_id"].astype(str)), extra[columns]],
                         ignore_index=True)
    return combined, [f"{n_zero} patient(s) with a baseline {instrument} score of 0 included (raw scores and "
                      "change need no division by the baseline)"]


def trajectory(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    time: str = "visit",
    value: str = "score",
    bins: Sequence[float] | int | None = None,
    alpha: float = 0.05,
    group_bins: Sequence[float] | int | None = None,
    time_origin: str = "first_infusion",
    **endpoint_options: Any,
) -> TrajectoryResult:
    """Mean (t-based CI), median and IQR, and n of a score at each time point, per group.

    Parameters
    ----------
    data : OutcomeData or Endpoints
        A dataset (endpoints are derived with ``instrument`` and ``**endpoint_options``) or
        the result of ``derive_endpoints`` (its instrument is used).
    instrument : str
        Rating scale (registry name or alias).
    by : str, optional
        Grouping (:func:`analysis.group_patients`: a patient or first-infusion column,
        ``course``, ``dose_band``, ``baseline``; numeric columns cut at quartiles).
    time : {"visit", "hours", "days"}
        Visit labels in schedule order, or binned time since the start of the first infusion
        (hours or days). See the module docstring.
    value : {"score", "change", "pct_change", "improvement_pct"}
        Total score (points), change from baseline (points), percent change from baseline
        (-50 = halved) or percent improvement (= -pct_change).
    bins : list of float or int, optional
        Bin edges in the unit of ``time`` (right-closed), or a number of equal-count bins.
        Default :data:`DEFAULT_BIN_EDGES_HOURS` / :data:`DEFAULT_BIN_EDGES_DAYS`.
    alpha : float
        1 - confidence level of the mean's interval.
    group_bins : list of float or int, optional
        Cut points or number of groups for a numeric ``by`` (``bins=`` of ``group_patients``).
    time_origin : {"first_infusion", "last_infusion"}
        For ``time="hours"``/``"days"``: time since the start of the first infusion (default)
        or since the start of the most recent infusion before each rating (every infusion's
        response on one clock). Ignored for visits, which are split by schedule instead.

    Returns
    -------
    TrajectoryResult
        Patients with a baseline of 0 are kept for ``value="score"`` and ``"change"`` and left
        out (counted in ``notes``) for the percent views.

    References
    ----------
    Student's t interval for a mean; quartiles as R's ``quantile(type = 7)`` (Hyndman &
    Fan, Am Stat 1996;50:361-5).
    """
    if value not in _VALUES:
        raise AnalysisError(f"value must be one of {_VALUES}, not {value!r}.")
    if time_origin not in TIME_ORIGINS:
        raise AnalysisError(f"time_origin must be one of {TIME_ORIGINS}, not {time_origin!r}.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    ratings, notes = ratings_for(data, endpoints, value, instrument)
    if ratings.empty:
        require_baseline(endpoints, "a trajectory", data=data)
    grouping = grouping_for(data, endpoints, by, bins=group_bins)
    groups = grouping.labels
    hours = ratings["time_hours"].to_numpy(float)
    if time_origin == "last_infusion" and time != "visit":
        since = ratings["hours_since_infusion"].to_numpy(float)
        hours = np.where(ratings["is_baseline"].to_numpy(bool), hours, since)
    # patient ids as a categorical of the sorted distinct ids: every groupby, sort and code below
    # works on its integer codes (the ids, strings, are hashed once)
    patient_code, patient_ids = pd.factorize(ratings["patient_id"].astype(str).to_numpy(), sort=True)
    frame = pd.DataFrame({
        "patient_id": pd.Categorical.from_codes(patient_code, categories=patient_ids),
        "time_hours": hours,
        "visit": ratings["visit"].to_numpy() if "visit" in ratings.columns else None,
        "value": ratings[value].to_numpy(float),
    }, index=ratings.index)
    frame["group"] = pd.Categorical(groups.reindex(patient_ids).to_numpy()[patient_code],
                                    categories=groups.cat.categories, ordered=True)
    frame = frame[frame["group"].notna() & np.isfinite(frame["value"].to_numpy())]
    is_baseline = ratings.loc[frame.index, "is_baseline"].astype(bool)
    points = assign_time_points(frame, time, bins, baseline=is_baseline)
    rated = points.frame
    unit = "days" if time == "days" else "hours"
    rated["time_days"] = rated["time_hours"] / 24.0
    rescheduled = 0
    split = ["course", "schedule"] if time == "visit" else []
    if time == "visit":
        rated, rescheduled = assign_schedules(data, endpoints, rated)
        rated["schedule"] = ordered_schedules(rated["schedule"])  # rows (and panels) single, series, boosters
    else:
        rated["course"] = patient_courses(data, endpoints, rated["patient_id"])

    keys = ["group", *split, "time_order", "time_point", "patient_id"]
    per_patient = (rated.groupby(keys, observed=True, sort=True)
                   .agg(value=("value", "mean"), time_hours=("time_hours", "mean")).reset_index())
    cell = ["group", *split, "time_order"]
    table = describe_statistics(per_patient, [*cell, "time_point"], "value", alpha)
    mean_time = per_patient.groupby(cell, observed=True)["time_hours"].mean()
    table[f"time_{unit}"] = mean_time.reindex(pd.MultiIndex.from_frame(table[cell])).to_numpy()
    if unit == "days":
        table["time_days"] = table["time_days"] / 24.0
    bounds = points.points.drop(columns="time_order")
    table = table.merge(bounds, on="time_point", how="left")
    columns = ["group", *split, "time_point", "time_order", f"time_{unit}"]
    if time != "visit":
        start, end = table[f"bin_start_{unit}"], table[f"bin_end_{unit}"]
        # the bin's mid-point; the open last bin and the baseline sit at their ratings' mean time
        table[f"time_mid_{unit}"] = np.where(np.isfinite(end), (start + end) / 2, table[f"time_{unit}"])
        columns.append(f"time_mid_{unit}")
    columns += [f"bin_start_{unit}", f"bin_end_{unit}",
                "n", "mean", "sd", "se", "lower", "upper", "median", "q1", "q3", "min", "max"]
    order = ["group", "schedule", "time_order"] if time == "visit" else cell
    table = table[columns].sort_values(order, kind="stable").reset_index(drop=True)
    for column in ("group", *split):
        table[column] = table[column].astype(str)

    individual = rated[["patient_id", "group", "course", *split[1:], "time_point", "time_order", "time_hours",
                        "time_days", "value"]]
    individual = individual.sort_values(["patient_id", "time_hours"], kind="stable").reset_index(drop=True)
    for column in ("patient_id", "group", *split):
        individual[column] = as_text(individual[column])
    settings = TrajectorySettings(instrument=instrument, by=by, time=time, value=value, alpha=alpha,
                                  bin_edges=points.edges, endpoint_definitions=describe_endpoints(endpoints),
                                  grouping=grouping.description if by else None, time_origin=time_origin)
    return TrajectoryResult(table=table, individual=individual, settings=settings,
                            n_patients=int(rated["patient_id"].nunique()), n_ratings=len(rated),
                            n_dropped=points.n_dropped, endpoints=endpoints,
                            notes=(tuple(notes) + tuple(points.unscheduled_note()) + tuple(rescheduled_note(rescheduled))
                                   + grouping.notes),
                            grouping=grouping, unscheduled=points.unscheduled, rescheduled=rescheduled)


# ----------------------------------------------------------------------------------------
# fit_trajectory
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrajectoryModel:
    """A linear mixed model of post-baseline scores, with the formula and rows it used.

    model : the :func:`analysis.mixed_model` result (``.fixed``, ``.random``, ...).
    formula, random : the fixed-effects formula and random-effects specification passed on.
    frame : the analysis rows (one per post-baseline rating): patient_id, score, time_<unit>,
        baseline_score, the ``by`` column (group labels as strings), covariates.
    """

    model: Any
    formula: str
    random: str
    frame: pd.DataFrame
    settings: dict[str, Any]
    n_patients: int
    n_ratings: int

    @property
    def fixed(self) -> pd.DataFrame:
        return self.model.fixed

    def describe(self) -> list[str]:
        """The model in words, then the endpoint definitions used."""
        unit = self.settings["time_unit"]
        random = ("a random intercept and slope on time" if self.random != "~1" else "a random intercept")
        return [f"Linear mixed model {self.formula} with {random} per patient "
                f"({time_effect_words(self.settings['time_effect'], self.settings['knots'], unit)}; "
                f"{'REML' if self.settings['reml'] else 'ML'}); time in {unit} since the "
                + ("most recent infusion" if self.settings.get("time_origin") == "last_infusion" else "first infusion")
                + "; "
                "post-baseline ratings, adjusted for the baseline score."] + list(self.settings["endpoint_definitions"]) \
            + [f"Note: {n}." for n in self.settings.get("notes", ())]

    def summary(self) -> pd.DataFrame:
        """The fixed effects (estimate, se, lower, upper, p) indexed by term."""
        return self.model.fixed

    def fixed_in_words(self) -> pd.DataFrame:
        """The fixed effects with ``label``, each term in words with its unit: 'Slope to day 1
        (points per day)', 'course: series vs single, change in slope after day 7 (points per day)'."""
        return self.model.fixed.assign(label=[self.term_words(str(term)) for term in self.model.fixed.index])

    @property
    def residual_sd(self) -> float:
        """The within-patient residual standard deviation (points), lme4's ``sigma``."""
        return float(np.sqrt(self.model.residual_variance))

    def random_effects(self) -> pd.DataFrame:
        """The between-patient random effects as lme4's ``VarCorr`` prints them: per effect
        (``random_effect`` in words: 'Intercept (points)', 'Slope (points per day)') its standard
        deviation ``sd`` and its ``correlation`` with the intercept (NaN for the intercept)."""
        covariance = self.model.random
        sd = np.sqrt(np.diag(covariance.to_numpy(dtype=float)))
        correlation = covariance.iloc[:, 0].to_numpy(dtype=float) / (sd * sd[0])
        correlation[0] = np.nan
        unit = self.settings["time_unit"]
        words = {f"time_{unit}": f"Slope on time (points per {unit.removesuffix('s')})"}
        return pd.DataFrame({"random_effect": [words.get(str(t)) or self.term_words(str(t)) for t in covariance.index],
                             "sd": sd, "correlation": correlation})

    def term_words(self, term: str) -> str:
        """A fixed-effect term of the model in words, with its unit (see :meth:`fixed_in_words`)."""
        unit = self.settings["time_unit"]
        per = unit.removesuffix("s")
        t = f"time_{unit}"
        knots = tuple(self.settings.get("knots") or ()) if self.settings.get("time_effect") == "piecewise" else ()
        named = {t: f"slope to {knot_words(knots[0], unit)}" if knots else "slope"}
        named.update({knot_column(t, k): f"change in slope after {knot_words(k, unit)}" for k in knots})
        spline = re.fullmatch(rf"cr\({t},.*\)\[(\d+)\]", term)
        if term == "baseline_score":
            return "Baseline score (points per point of baseline)"
        if spline:
            return f"Time spline basis {int(spline.group(1)) + 1} (points)"
        words, slope = term_in_words(term, named, reference_levels(self.frame))
        return f"{words} (points per {per})" if slope else f"{words} (points)"

    def residuals(self) -> pd.DataFrame:
        """One row per analysed rating: patient_id, time_<unit>, score, fitted (fixed plus the
        patient's random effects), residual (score - fitted, points): for a residual-versus-fitted
        check (no trend, even spread)."""
        t = f"time_{self.settings['time_unit']}"
        fitted = self.model.predict(self.frame, include_random=True).to_numpy(float)
        score = self.frame["score"].to_numpy(float)
        return pd.DataFrame({"patient_id": self.frame["patient_id"].to_numpy(), t: self.frame[t].to_numpy(float),
                             "score": score, "fitted": fitted, "residual": score - fitted})

    def residual_check(self, n_bins: int = 10, against: str = "fitted") -> pd.DataFrame:
        """Mean residual (points) with its 95% t interval per equal-count bin of the fitted values
        (``against="fitted"``) or of time (``against="time"``): a model that fits the curve has
        mean residuals near 0 in every bin, with no trend (columns low, high, n, mean_residual,
        lower, upper; low/high bound the bin in the unit of what it is against)."""
        if against not in ("fitted", "time"):
            raise AnalysisError("against must be 'fitted' or 'time'.")
        residuals = self.residuals()
        key = "fitted" if against == "fitted" else f"time_{self.settings['time_unit']}"
        return residual_bins(residuals.assign(_key=residuals[key]), n_bins)

    def curve(self, n_points: int = 120) -> pd.DataFrame:
        """The fitted population mean (fixed effects only) over the observed time range, at the
        mean baseline score and, for covariates, their mean (numeric) or reference level: columns
        [group], time_<unit>, fitted (points)."""
        unit = self.settings["time_unit"]
        t = f"time_{unit}"
        grid_t = np.linspace(float(self.frame[t].min()), float(self.frame[t].max()), n_points)
        base = {"baseline_score": float(self.frame["baseline_score"].mean())}
        for name in self.settings["covariates"]:
            values = self.frame[name]
            base[name] = values.mean() if pd.api.types.is_numeric_dtype(values) else values.mode().iloc[0]
        by = self.settings["by"]
        column = group_column(by) if by is not None else None
        levels = list(self.frame[column].cat.categories) if column else [None]
        parts = []
        for level in levels:
            grid = pd.DataFrame({t: grid_t, **base})
            grid = add_time_terms(grid, t, self.settings["time_effect"], self.settings["knots"])
            if column:
                grid[column] = pd.Categorical([level] * len(grid), categories=levels)
            fitted = self.model.predict(grid, include_random=False).to_numpy(float)
            parts.append(pd.DataFrame({"group": level if column else "all", t: grid_t, "fitted": fitted}))
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        return (f"TrajectoryModel({self.formula!r}, random={self.random!r}; "
                f"{self.n_patients} patients, {self.n_ratings} ratings)")


def trajectory_frame(
    endpoints: Any,
    by: str | None = None,
    covariates: Sequence[str] = (),
    time_unit: str = "days",
    time_origin: str = "first_infusion",
    grouping: Any = None,
    ratings: pd.DataFrame | None = None,
    patients: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The analysis rows of :func:`fit_trajectory`: post-baseline ratings with score,
    time (``time_days`` or ``time_hours``) since the first infusion or, with
    ``time_origin="last_infusion"``, since the most recent infusion before the rating, baseline
    score, the ``by`` column (group labels, reference first; from ``grouping`` when given, else
    :func:`analysis.group_patients` on the endpoints) and patient covariates; rows with a
    missing value in any of them are dropped. ``ratings`` (default ``endpoints.ratings``) may
    add the ratings of patients with a baseline of 0 (:func:`ratings_for`), and ``patients``
    (default ``endpoints.patients``) their covariates (:func:`patients_with_zero_baseline`)."""
    if time_unit not in ("days", "hours"):
        raise AnalysisError("time_unit must be 'days' or 'hours'.")
    if time_origin not in TIME_ORIGINS:
        raise AnalysisError(f"time_origin must be one of {TIME_ORIGINS}, not {time_origin!r}.")
    ratings = endpoints.ratings if ratings is None else ratings
    post = ratings[~ratings["is_baseline"].astype(bool)]
    hours = post["time_hours" if time_origin == "first_infusion" else "hours_since_infusion"].to_numpy(float)
    frame = pd.DataFrame({
        "patient_id": post["patient_id"].astype(str).to_numpy(),
        "score": post["score"].to_numpy(float),
        f"time_{time_unit}": hours / (24.0 if time_unit == "days" else 1.0),
        "baseline_score": post["baseline_score"].to_numpy(float),
    })
    patients = endpoints.patients if patients is None else patients
    if by is not None:
        grouping = grouping if grouping is not None else grouping_for(endpoints, endpoints, by)
        frame[group_column(by)] = model_groups(grouping, frame["patient_id"])
    for name in covariates:
        try:
            _, values, _ = patient_values(patients, name)
        except AnalysisError:
            available = ", ".join(str(c) for c in patients.columns if c != "patient_id")
            raise AnalysisError(f"Unknown covariate {name!r}. Patient-level columns: {available}.") from None
        lookup = pd.Series(values.to_numpy(), index=patients["patient_id"].astype(str).to_numpy())
        frame[name] = lookup.reindex(frame["patient_id"]).to_numpy()
        if frame[name].dtype == object or isinstance(frame[name].dtype, pd.StringDtype):
            frame[name] = frame[name].astype(object)
    frame = frame.dropna().reset_index(drop=True)
    if by is not None:
        frame[group_column(by)] = frame[group_column(by)].cat.remove_unused_categories()
    return frame


_MODEL_COLUMNS = ("patient_id", "score", "change", "visit", "baseline_score", "time_days", "time_hours")
TIME_EFFECTS = ("linear", "piecewise", "spline")
# Default knots of the piecewise-linear and spline time effects, in days since the time origin:
# response visible by 4 hours after an infusion, the peak effect around 24 hours (Murrough et al.
# 2013; DOMAIN.md "Onset"), the first week, then the drift or relapse after it.
DEFAULT_KNOTS_DAYS: tuple[float, ...] = (4 / 24, 1.0, 7.0)
DEFAULT_SPLINE_DF = 4


def _times_text(times: np.ndarray, shown: int = 6) -> str:
    """The distinct times of ratings, rounded, in words ('1.97, 3.97, 6.97 ...')."""
    distinct = np.unique(np.round(times, 2))
    return ", ".join(f"{x:g}" for x in distinct[:shown]) + (" ..." if len(distinct) > shown else "")


def knot_words(knot: float, unit: str) -> str:
    """A knot in words: '4 h', 'day 1' (time in days), '4 hours' (time in hours)."""
    if unit == "hours":
        return f"{knot:g} hours"
    return f"{round(knot * 24, 2):g} h" if knot < 1 else f"day {knot:g}"


def _knots_list(knots: Sequence[float], unit: str) -> str:
    """'4 h, day 1 and day 7'."""
    words = [knot_words(k, unit) for k in knots]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def time_terms_estimable(times: np.ndarray, time_effect: str, knots: Sequence[float]) -> bool:
    """Whether a time effect with ``knots`` can be estimated from ratings at ``times`` (distinct,
    post baseline, in the knots' unit): its terms with an intercept have full column rank over
    those times (a piecewise knot needs ratings before and after it, beyond what the other
    knots use; a spline knot, ratings on both sides)."""
    from patsy import PatsyError, dmatrix

    frame = add_time_terms(pd.DataFrame({"t": times}), "t", time_effect, knots)
    try:
        design = np.asarray(dmatrix(" + ".join(time_terms("t", time_effect, knots)), frame))
    except (PatsyError, ValueError):  # a spline knot outside the ratings' range
        return False
    return len(times) >= design.shape[1] and np.linalg.matrix_rank(design) == design.shape[1]


def knot_gap(times: Sequence[np.ndarray], kept: Sequence[float], knot: float, time_effect: str) -> str | None:
    """Why ``knot`` cannot be added to the ``kept`` knots (those before it) of the time effect,
    from the distinct rating ``times`` of each set of ratings that needs its own curve (all, or
    each group's): "after" (no rating after it in one of them), "before" (the terms cannot be
    estimated and no rating lies between it and the knot before), "few" (they cannot, with ratings
    on both sides: too few distinct times), or None when they can."""
    if any(not (t > knot).any() for t in times):
        return "after"
    low = kept[-1] if kept else -np.inf
    none_before = any(not ((t > low) & (t < knot)).any() for t in times)
    if time_effect == "spline" and any(not (t < knot).any() for t in times):  # inside the ratings' range
        return "before"
    if all(time_terms_estimable(t, time_effect, (*kept, knot)) for t in times):
        return None
    return "before" if none_before else "few"


def fitting_default_knots(times: Sequence[np.ndarray], unit: str,
                          time_effect: str = "piecewise") -> tuple[tuple[float, ...], tuple[str, ...]]:
    """The default knots (:data:`DEFAULT_KNOTS_DAYS`, in ``unit``) that the rating ``times`` (post
    baseline, in ``unit``: one array, or one per group when each group has its own curve) can
    carry, each kept only if the time effect with it can be estimated (:func:`knot_gap`), and the
    sentences saying which were left out and why (none when all fit). No knot left: a straight
    line (piecewise) or a spline with knots at quantiles (spline), said."""
    times = [np.unique(t) for t in ([times] if isinstance(times, np.ndarray) else times)]
    scale = 24.0 if unit == "hours" else 1.0
    kept: list[float] = []
    left_out: list[str] = []
    for knot in (k * scale for k in DEFAULT_KNOTS_DAYS):
        gap = knot_gap(times, kept, knot, time_effect)
        if gap == "after":
            left_out.append(f"{knot_words(knot, unit)} (no rating after it)")
        elif gap is not None:
            since = f" since {knot_words(kept[-1], unit)}" if kept else ""
            why = "no rating before it" if gap == "before" else "too few rating times around it"
            left_out.append(f"{knot_words(knot, unit)} ({why}{since})")
        else:
            kept.append(knot)
    if not left_out:
        return tuple(kept), ()
    fallback = "a straight line" if time_effect == "piecewise" else \
        f"a spline with {DEFAULT_SPLINE_DF} degrees of freedom at quantiles of the rating times"
    shape = "knots at " + _knots_list(kept, unit) if kept else fallback
    return tuple(kept), (f"the default knot{'s' if len(left_out) > 1 else ''} at {', '.join(left_out)} left out "
                         f"(the ratings after baseline are at {_times_text(np.concatenate(times))} {unit}): {shape}",)


def knot_column(t: str, knot: float) -> str:
    """Name of the piecewise term ``max(t - knot, 0)``, e.g. ``time_days_after_7``,
    ``time_days_after_4h`` (a knot within the first day, time in days)."""
    label = f"{round(knot * 24, 2):g}h" if t == "time_days" and 0 < knot < 1 else f"{knot:g}"
    return f"{t}_after_{label}".replace(".", "_").replace("-", "m")


def add_time_terms(frame: pd.DataFrame, t: str, time_effect: str, knots: Sequence[float]) -> pd.DataFrame:
    """The piecewise terms ``max(t - k, 0)`` per knot as columns (for ``time_effect="piecewise"``)."""
    if time_effect != "piecewise":
        return frame
    values = frame[t].to_numpy(float)
    return frame.assign(**{knot_column(t, k): np.maximum(values - k, 0.0) for k in knots})


def time_terms(t: str, time_effect: str, knots: Sequence[float]) -> list[str]:
    """The formula terms of the time effect."""
    if time_effect == "linear":
        return [t]
    if time_effect == "piecewise":
        return [t] + [knot_column(t, k) for k in knots]
    inner = ", ".join(f"{k:g}" for k in knots)
    return [f"cr({t}, knots=({inner},), constraints='center')" if knots
            else f"cr({t}, df={DEFAULT_SPLINE_DF}, constraints='center')"]


def time_effect_words(time_effect: str, knots: Sequence[float], unit: str) -> str:
    if time_effect == "linear":
        return "time as a straight line"
    if time_effect == "piecewise":
        return (f"piecewise-linear time with knots at {_knots_list(knots, unit)}: "
                "a separate slope before the first knot, between knots and after the last")
    return (f"time as a natural cubic regression spline (patsy cr, {DEFAULT_SPLINE_DF} degrees of freedom, "
            "knots at quantiles of the rating times; linear beyond the boundary knots)" if not knots else
            f"time as a natural cubic regression spline (patsy cr) with interior knots at {_knots_list(knots, unit)} "
            "(boundary knots at the first and last rating; linear beyond them)")


def residual_bins(residuals: pd.DataFrame, n_bins: int = 10, alpha: float = 0.05) -> pd.DataFrame:
    """Mean residual with its t interval per equal-count bin of ``_key`` (default ``fitted``):
    low, high (the bin's range), n, mean_residual, lower, upper (points)."""
    key = residuals["_key" if "_key" in residuals.columns else "fitted"].to_numpy(float)
    edges = np.unique(np.quantile(key, np.linspace(0, 1, n_bins + 1)))
    index = np.clip(np.searchsorted(edges, key, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": index, "key": key, "residual": residuals["residual"].to_numpy(float)})
    table = frame.groupby("bin").agg(low=("key", "min"), high=("key", "max"),
                                     n=("residual", "size"), mean_residual=("residual", "mean"),
                                     sd=("residual", "std")).reset_index(drop=True)
    table["lower"], table["upper"] = t_interval(table["mean_residual"].to_numpy(), table["sd"].to_numpy(),
                                                table["n"].to_numpy(), alpha)
    return table.drop(columns="sd")


def group_column(by: str) -> str:
    """Name of the group column in a model frame: ``by`` itself, or ``<by>_group`` when ``by``
    is one of the frame's own variables (e.g. ``baseline_score``)."""
    return f"{by}_group" if by in _MODEL_COLUMNS else by


def fit_trajectory(
    data: Any,
    instrument: str = "MADRS",
    covariates: Sequence[str] = (),
    by: str | None = None,
    time_unit: str = "days",
    random: str = "~time",
    reml: bool = True,
    alpha: float = 0.05,
    time_origin: str = "first_infusion",
    group_bins: Sequence[float] | int | None = None,
    reference: str | None = None,
    time_effect: str = "linear",
    knots: Sequence[float] | None = None,
    **endpoint_options: Any,
) -> TrajectoryModel:
    """Linear mixed model of the score over time since the first infusion, adjusted for
    baseline, with a group-by-time interaction when ``by`` is given.

    The model (patsy formula, ``t`` = ``time_days`` or ``time_hours``)::

        score ~ t + baseline_score [+ C(by) + C(by):t] [+ covariates]

    with a random intercept (``random="~1"``) or random intercept and slope on ``t``
    (``random="~time"``, the default) per patient, fitted by :func:`analysis.mixed_model`.
    Post-baseline ratings only (the baseline enters as a covariate, the usual ANCOVA-style
    adjustment). ``time_effect`` gives the shape of ``t``: a straight line (``"linear"``), a
    piecewise-linear curve ``t + max(t - k1, 0) + max(t - k2, 0) ...`` (``"piecewise"``, knots
    ``k`` in the time unit; each knot term's coefficient is the CHANGE of slope at the knot) or a
    natural cubic regression spline (``"spline"``, patsy ``cr``, ``knots`` = interior knots,
    boundary knots at the first and last rating, linear beyond them). Both default to knots at
    4 hours, day 1 and day 7 (:data:`DEFAULT_KNOTS_DAYS`: response visible by 4 h, the peak effect
    around 24 h, the first week, then the drift or relapse). A group's interaction applies to every
    time term. The random slope (``random="~time"``) is on ``t`` itself. Check the fit with
    ``.residual_check()`` or ``.residuals()`` (residual against fitted).

    Parameters
    ----------
    covariates : list of str
        Patient-level columns of the endpoints' patient table (age, sex, diagnosis, route,
        first_dose_mg_per_kg, peak_cadss, user covariates). Strings enter as categorical terms.
    by : str, optional
        Grouping (:func:`analysis.group_patients`). Its terms are named after it, e.g.
        ``C(route)[T.IM]`` and ``C(route)[T.IM]:time_days`` (difference in slope, points per
        day, against the reference group).
    group_bins : list of float or int, optional
        Cut points or number of groups for a numeric ``by``.
    reference : str, optional
        The reference group (default: ``analysis.group_patients``' rule, e.g. IV, single, the
        lowest quartile).
    time_unit : {"days", "hours"}
        Unit of the time term (and of its coefficient: points per day or per hour).
    random : {"~time", "~1"}
        Random slope on time (plus intercept), or random intercept only.
    time_origin : {"first_infusion", "last_infusion"}
        Time since the start of the first infusion (the course over a whole series, default)
        or since the start of the most recent infusion before each rating (the response to
        each infusion, pooled across the series; the time column keeps its name).
    reml : bool
        REML (default) or maximum likelihood.
    alpha : float
        1 - confidence level of the fixed effects' intervals.
    time_effect : {"linear", "piecewise", "spline"}
        Shape of the time effect (see above).
    knots : list of float, optional
        Knots in ``time_unit``, used as given. Default: 4 hours, day 1 and day 7 (4, 24 and 168
        hours), those the ratings' times can carry (overall and in each group): a default knot with
        no rating after it, or too few rating times before it for its slope or curve, is left out
        and said in the notes (ratings from day 1 on: the knot at day 7 only; none left: a straight
        line, or for the spline 4 degrees of freedom at quantiles of the rating times).

    Returns
    -------
    TrajectoryModel
        ``.model`` (the mixed-model result), ``.formula``, ``.random``, ``.frame``, ``.fixed``,
        ``.curve()`` (fitted mean over time), ``.residuals()``, ``.residual_check()``.

    References
    ----------
    Laird NM, Ware JH. Random-effects models for longitudinal data. Biometrics 1982;38:963-74.
    """
    if random not in ("~time", "~1") and random.replace(" ", "") != f"~time_{time_unit}":
        raise AnalysisError("random must be '~time' (random intercept and slope) or '~1' (intercept only).")
    if time_effect not in TIME_EFFECTS:
        raise AnalysisError(f"time_effect must be one of {TIME_EFFECTS}, not {time_effect!r}.")
    default_knots = knots is None
    knots = tuple(float(k) for k in knots) if knots is not None else ()
    if len(set(knots)) != len(knots) or any(np.diff(knots) <= 0) if knots else False:
        raise AnalysisError("knots must be distinct and increasing.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    require_baseline(endpoints, "a trajectory model", data=data)
    grouping = grouping_for(data, endpoints, by, bins=group_bins, reference=reference) if by is not None else None
    # the model does not divide by the baseline: patients with a baseline of 0 are kept
    ratings, notes = ratings_for(data, endpoints, "score", instrument, time_origin)
    patients = patients_with_zero_baseline(data, endpoints, instrument)[0] if covariates else None
    frame = trajectory_frame(endpoints, by=by, covariates=covariates, time_unit=time_unit,
                             time_origin=time_origin, grouping=grouping, ratings=ratings, patients=patients)
    if frame.empty:
        raise AnalysisError("No post-baseline ratings with complete covariates to model.")
    t = f"time_{time_unit}"
    # each group has its own curve (the group-by-time interaction): its ratings must carry the knots
    times = [np.unique(frame[t].to_numpy(dtype=float))] if by is None else \
        [np.unique(g[t].to_numpy(dtype=float)) for _, g in frame.groupby(group_column(by), observed=True)]
    if default_knots and time_effect != "linear":
        knots, knot_notes = fitting_default_knots(times, time_unit, time_effect)
        notes = tuple(notes) + knot_notes
        if not knots and time_effect == "piecewise":
            time_effect = "linear"
    kept: list[float] = []
    for knot in knots if time_effect != "linear" else ():
        gap = knot_gap(times, kept, knot, time_effect)
        where = f" {knot_words(knot, time_unit)}" + ("" if by is None else f" in every group of {by!r}")
        if gap == "after":
            raise AnalysisError(f"No rating after the knot at{where}: choose knots inside the follow-up.")
        if gap is not None:
            since = "the start" if not kept else knot_words(kept[-1], time_unit)
            raise AnalysisError(
                ("No rating" if gap == "before" else "Too few rating times")
                + f" between {since} and the knot at{where} (the ratings after baseline are at "
                f"{_times_text(np.concatenate(times))} {time_unit}): the "
                + ("slope before that knot" if time_effect == "piecewise" else "spline there")
                + " cannot be estimated. Choose knots between the rating times, or another time effect.")
        kept.append(knot)
    frame = add_time_terms(frame, t, time_effect, knots)
    shape = time_terms(t, time_effect, knots)
    terms = [*shape, "baseline_score"]
    if by is not None:
        if by in covariates:
            raise AnalysisError(f"{by!r} is the grouping variable; do not list it among the covariates too.")
        column = group_column(by)
        if frame[column].nunique() < 2:
            raise AnalysisError(f"Only one group of {by!r} among the analysed patients; cannot compare groups.")
        terms += [f"C({column})"] + [f"C({column}):{term}" for term in shape]
    for name in covariates:
        terms.append(f"C({name})" if frame[name].dtype == object else name)
    formula = "score ~ " + " + ".join(terms)
    random_term = "~1" if random == "~1" else f"~{t}"
    from analysis.longitudinal.mixed_models import mixed_model

    model = mixed_model(frame, formula, groups="patient_id", random=random_term, reml=reml, alpha=alpha)
    settings = {"instrument": instrument, "by": by, "covariates": tuple(covariates), "time_unit": time_unit,
                "time_origin": time_origin, "reference": grouping.reference if grouping is not None else None,
                "grouping": grouping.description if grouping is not None else None,
                "notes": tuple(notes) + (grouping.notes if grouping is not None else ()),
                "random": random_term, "reml": reml, "alpha": alpha, "endpoint_definitions": describe_endpoints(endpoints),
                "time_effect": time_effect, "knots": knots}
    return TrajectoryModel(model=model, formula=formula, random=random_term, frame=frame, settings=settings,
                           n_patients=int(frame["patient_id"].nunique()), n_ratings=len(frame))
