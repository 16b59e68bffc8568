"""The usual MMRM of change from baseline, built from ``OutcomeData`` in one call.

:func:`analysis.mmrm` fits any formula on a long frame; :func:`fit_mmrm` builds that frame and
formula the way a ketamine-trial report does::

    import analysis
    data = analysis.load_sample()
    fit = analysis.fit_mmrm(data, instrument="MADRS", by="route")
    fit.lsmeans()                 # change from baseline per visit and route, SAS LSMEANS style
    fit.lsmean_differences()      # each route minus the reference route, per visit
    fit.frame                     # the analysis rows (patient_id, visit, change, baseline_score, route)

Analysis rows
-------------
One row per patient and post-baseline visit label: the change from baseline (points) of the
patient's LAST rating with that label (a repeated rating at the same nominal visit replaces the
earlier one). Only the analysed visits are kept, ordered by the median time (hours since the
first infusion) at which each was rated, i.e. in schedule order, which is also the order of the
covariance matrix. Assessments that are not protocol visits (rescue, unscheduled, early
termination: ``analysis.longitudinal.trajectories.UNSCHEDULED_VISIT_PATTERN``) are no visit.

Default visits (``visits=None``): the protocol's follow-up visits most patients attended. The
schedule is that of the course (single infusion or series, :func:`analysis.course_of_patients`)
with the most patients, because the two courses are rated at different labels and an MMRM
needs patients who share visits. For each target day in ``target_days`` (default day 1, 7, 14
and 28, :data:`DEFAULT_TARGET_DAYS`) the label of that schedule rated at a median of between
half and one and a half times the target days after the most recent infusion and attended by
at least ``min_attendance`` (default half) of the schedule's patients is taken, the nearest
one when several qualify (then the most attended). With ``target_days=None`` (or when fewer than two targets are found)
the rule is attendance alone: labels attended by at least ``min_attendance`` of the patients
with a post-baseline rating, at most ``max_visits`` of the most attended. The result says which
patients had each chosen visit (:attr:`ChangeModel.attendance`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.baseline import require_baseline
from analysis.errors import AnalysisError
from analysis.grouping import grouping_for, model_groups
from analysis.longitudinal._design import reference_levels, term_in_words
from analysis.longitudinal.trajectories import (
    describe_endpoints,
    endpoint_instrument,
    group_column,
    patient_courses,
    ratings_for,
    resolve_endpoints,
    unscheduled_visit_labels,
)

__all__ = ["DEFAULT_TARGET_DAYS", "ChangeModel", "fit_mmrm", "mmrm_frame", "select_visits", "visit_schedule"]

DEFAULT_TARGET_DAYS: tuple[float, ...] = (1.0, 7.0, 14.0, 28.0)

_DF_NAMES = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger", "residual": "residual"}


def _post_baseline_visits(endpoints: Any, ratings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Post-baseline ratings with a visit label, the last per patient and label (of
    ``ratings``, default ``endpoints.ratings``)."""
    ratings = endpoints.ratings if ratings is None else ratings
    if ratings.empty:
        require_baseline(endpoints, "an MMRM of change from baseline")
    if "visit" not in ratings.columns or ratings["visit"].isna().all():
        raise AnalysisError("The ratings have no visit labels: an MMRM needs nominal visits. Use "
                         "analysis.fit_trajectory (time as a continuous variable) instead.")
    post = ratings[~ratings["is_baseline"].astype(bool) & ratings["visit"].notna()]
    # an assessment at rescue or an unscheduled visit is no nominal visit (trajectories' rule)
    post = post[~post["visit"].astype(str).isin(unscheduled_visit_labels(post["visit"].astype(str).unique()))]
    post = post.assign(visit=post["visit"].astype(str), patient_id=post["patient_id"].astype(str))
    return (post.sort_values(["patient_id", "time_hours"], kind="stable")
            .drop_duplicates(["patient_id", "visit"], keep="last"))


class _VisitRows:
    """The rows :func:`visit_schedule` and :func:`fit_mmrm` start from, made once per
    (dataset, endpoints): post-baseline visits with ``course``, the notes of
    ``ratings_for``, and the default visits per (max_visits, min_attendance, target_days).
    Read-only: callers take ``assign`` copies."""

    def __init__(self, post: pd.DataFrame, notes: list[str]) -> None:
        self.post = post
        self.notes = notes
        self.chosen: dict[tuple[Any, ...], list[str]] = {}

    def select(self, max_visits: int, min_attendance: float, target_days: Sequence[float] | None) -> list[str]:
        key = (max_visits, min_attendance, None if target_days is None else tuple(target_days))
        if key not in self.chosen:
            self.chosen[key] = _select_visits(self.post, max_visits, min_attendance, target_days)
        return list(self.chosen[key])


# (id(data), id(endpoints)) -> (weak references to both, rows): the page's schedule and its MMRM
# share one pass over the ratings (2 x 0.6 s at 20,000 patients); entries go with their objects
_VISIT_ROWS: dict[tuple[int, int], tuple[Any, Any, _VisitRows]] = {}
_VISIT_ROWS_LOCK = threading.Lock()


def _visit_rows(data: Any, endpoints: Any, instrument: str) -> _VisitRows:
    key = (id(data), id(endpoints))
    with _VISIT_ROWS_LOCK:
        hit = _VISIT_ROWS.get(key)
    if hit is not None and hit[0]() is data and hit[1]() is endpoints:
        return hit[2]
    # change from baseline divides by nothing: patients with a baseline of 0 are kept
    ratings, notes = ratings_for(data, endpoints, "change", instrument)
    if ratings.empty:
        require_baseline(endpoints, "an MMRM of change from baseline", data=data)
    post = _post_baseline_visits(endpoints, ratings)
    rows = _VisitRows(post.assign(course=patient_courses(data, endpoints, post["patient_id"])), notes)
    try:
        refs = (weakref.ref(data), weakref.ref(endpoints))
    except TypeError:  # not weak-referenceable: not cached
        return rows
    with _VISIT_ROWS_LOCK:
        _VISIT_ROWS[key] = (*refs, rows)
    for obj in (data, endpoints):
        weakref.finalize(obj, _VISIT_ROWS.pop, key, None)
    return rows


def select_visits(endpoints: Any, max_visits: int = 6, min_attendance: float = 0.5,
                  target_days: Sequence[float] | None = DEFAULT_TARGET_DAYS) -> list[str]:
    """Post-baseline visit labels for an MMRM, in schedule order (median hours since the first
    infusion): the labels nearest the ``target_days`` of the largest course's schedule, or with
    ``target_days=None`` those attended by at least ``min_attendance`` of the patients with a
    post-baseline visit, at most ``max_visits`` of the most attended (see the module docstring)."""
    post = _post_baseline_visits(endpoints)
    post = post.assign(course=patient_courses(endpoints, endpoints, post["patient_id"]))
    return _select_visits(post, max_visits, min_attendance, target_days)


def _select_visits(post: pd.DataFrame, max_visits: int, min_attendance: float,
                   target_days: Sequence[float] | None = DEFAULT_TARGET_DAYS) -> list[str]:
    """:func:`select_visits` on the rows of :func:`_post_baseline_visits` (with ``course``)."""
    if max_visits < 1:
        raise AnalysisError("max_visits must be at least 1.")
    if not 0 <= min_attendance <= 1:
        raise AnalysisError("min_attendance is a fraction of patients, between 0 and 1.")
    if target_days:
        chosen = _target_visits(post, target_days, min_attendance)
        if len(chosen) >= 2:
            return chosen[:max_visits] if len(chosen) > max_visits else chosen
    n_patients = post["patient_id"].nunique()
    timing = post.groupby("visit")["time_hours"].median()
    attendance = post.groupby("visit")["patient_id"].nunique()
    table = pd.DataFrame({"attendance": attendance, "median_hours": timing})
    table = table[table["attendance"] >= min_attendance * n_patients]
    table = table.sort_values(["attendance", "median_hours"], ascending=[False, True], kind="stable")
    chosen = table.head(max_visits).sort_values("median_hours", kind="stable")
    return [str(v) for v in chosen.index]


def _target_visits(post: pd.DataFrame, target_days: Sequence[float], min_attendance: float) -> list[str]:
    """The labels of the largest course's schedule nearest each target day (module docstring)."""
    if "course" not in post.columns or post.empty:
        return []
    courses = post.drop_duplicates("patient_id")["course"].value_counts()
    schedule = courses.index[0]
    own = post[post["course"] == schedule]
    n_patients = own["patient_id"].nunique()
    since = own["hours_since_infusion"] if "hours_since_infusion" in own.columns else own["time_hours"]
    table = pd.DataFrame({
        "attendance": own.groupby("visit")["patient_id"].nunique(),
        "median_days": since.groupby(own["visit"]).median() / 24.0,
        "median_hours": own.groupby("visit")["time_hours"].median(),
        # a label belongs to the schedule whose patients hold most of its ratings
        "share": own.groupby("visit")["patient_id"].nunique() / post.groupby("visit")["patient_id"].nunique(),
    }).dropna(subset=["attendance"])
    table = table[(table["attendance"] >= min_attendance * n_patients) & (table["share"] > 0.5)]
    chosen: list[str] = []
    for target in target_days:
        near = table[(table["median_days"] >= 0.5 * target) & (table["median_days"] <= 1.5 * target)
                     & ~table.index.isin(chosen)]
        if near.empty:
            continue
        distance = (near["median_days"] - target).abs()
        best = near.assign(distance=distance).sort_values(["distance", "attendance"], ascending=[True, False],
                                                           kind="stable")
        chosen.append(str(best.index[0]))
    return [str(v) for v in table.loc[chosen].sort_values("median_hours", kind="stable").index]


def visit_attendance(post: pd.DataFrame, visits: Sequence[str]) -> pd.DataFrame:
    """Patients rated at each visit label, in total and per course: visit, patients, single,
    series (the patients a summary "at visit X" is about)."""
    rows = post[post["visit"].isin(list(visits))].drop_duplicates(["patient_id", "visit"])
    counts = rows.groupby(["visit", "course"]).size().unstack("course", fill_value=0)
    counts = counts.reindex(index=list(visits), columns=["single", "series"], fill_value=0).astype(int)
    counts.insert(0, "patients", counts.sum(axis=1))
    return counts.rename_axis(index="visit", columns=None).reset_index()


def mmrm_frame(endpoints: Any, visits: Sequence[str], by: str | None = None, grouping: Any = None) -> pd.DataFrame:
    """The analysis rows of :func:`fit_mmrm` for the given visit labels (see module docstring):
    patient_id, visit (ordered Categorical in the order of ``visits``), change (points),
    baseline_score (points) and, with ``by``, a column named ``by`` (``<by>_group`` when ``by``
    is one of those columns) holding the groups (:func:`analysis.group_patients`; a
    Categorical with the reference group first)."""
    return _mmrm_frame(_post_baseline_visits(endpoints), endpoints, visits, by, grouping)


def _mmrm_frame(post: pd.DataFrame, endpoints: Any, visits: Sequence[str], by: str | None,
                grouping: Any = None) -> pd.DataFrame:
    """:func:`mmrm_frame` on the rows of :func:`_post_baseline_visits`."""
    visits = [str(v) for v in visits]
    unknown = sorted(set(visits) - set(post["visit"]))
    if unknown:
        raise AnalysisError("No post-baseline rating has the visit label(s) " + ", ".join(map(repr, unknown))
                         + ". Labels present: " + ", ".join(map(repr, sorted(set(post["visit"])))) + ".")
    rows = post[post["visit"].isin(visits)]
    frame = pd.DataFrame({
        "patient_id": rows["patient_id"].to_numpy(),
        "visit": pd.Categorical(rows["visit"].to_numpy(), categories=visits, ordered=True),
        "change": rows["change"].to_numpy(float),
        "baseline_score": rows["baseline_score"].to_numpy(float),
    })
    if by is not None:
        grouping = grouping if grouping is not None else grouping_for(endpoints, endpoints, by)
        frame[group_column(by)] = model_groups(grouping, frame["patient_id"])
    frame = frame.dropna().reset_index(drop=True)
    if by is not None:
        frame[group_column(by)] = frame[group_column(by)].cat.remove_unused_categories()
    return frame


@dataclass(frozen=True)
class ChangeModel:
    """An MMRM of change from baseline with the rows, formula and visits it used.

    model : the :func:`analysis.mmrm` result (``.fixed``, ``.covariance``, ``.loglik``, ...).
    formula : the patsy formula passed to ``mmrm``.
    visits : the analysed visit labels in schedule order (rows/columns of the covariance).
    frame : the analysis rows (see :func:`mmrm_frame`).
    by : the grouping column (None without groups, or when only one group was present).
    """

    model: Any
    formula: str
    visits: tuple[str, ...]
    frame: pd.DataFrame
    by: str | None
    settings: dict[str, Any]
    n_patients: int
    n_ratings: int
    group_sizes: pd.Series = field(repr=False, compare=False, default=None)
    attendance: pd.DataFrame = field(repr=False, compare=False, default=None)

    @property
    def fixed(self) -> pd.DataFrame:
        return self.model.fixed

    def fixed_in_words(self) -> pd.DataFrame:
        """The fixed effects with ``label``, each term in words with its unit: 'Visit: day 7 vs
        day 1 (points of change)', 'Baseline score, visit: day 7 vs day 1 (per point of baseline)'."""
        references = reference_levels(self.frame)
        labels = []
        for term in self.model.fixed.index:
            words, _ = term_in_words(str(term), {}, references)
            labels.append(f"{words} (per point of baseline)" if "baseline_score" in str(term).split(":")
                          else f"{words} (points of change)")
        return self.model.fixed.assign(label=labels)

    def lsmeans(self) -> pd.DataFrame:
        """Least-squares mean change from baseline (points) per visit (and group), baseline held
        at its mean over the analysis rows; columns visit, [by], estimate, se, df, statistic, p,
        lower, upper and, with groups, ``patients`` (patients analysed in the group)."""
        table = self.model.lsmeans(self.by)
        levels = self.settings.get("levels")
        if self.by is not None and levels:
            # the one group order of analysis.group_patients (the model puts the reference first)
            rank = {level: i for i, level in enumerate(levels)}
            table = (table.assign(_visit=pd.Categorical(table["visit"], categories=list(self.visits)),
                                  _rank=table[self.by].astype(str).map(rank))
                     .sort_values(["_visit", "_rank"], kind="stable").drop(columns=["_visit", "_rank"])
                     .reset_index(drop=True))
        if self.by is not None and self.group_sizes is not None:
            table = table.merge(self.group_sizes.rename("patients").rename_axis(self.by).reset_index(),
                                on=self.by, how="left")
        return table

    def lsmean_differences(self, reference: Any = None) -> pd.DataFrame:
        """Each group minus ``reference`` (default: the reference group of the fit, see
        :func:`analysis.group_patients`) at every visit: visit, [by], estimate, se, df,
        statistic, p, lower, upper (points)."""
        if self.by is None:
            raise AnalysisError("No groups to compare: fit with by=... and at least two groups.")
        return self.model.lsmean_differences(self.by, reference if reference is not None
                                             else self.settings.get("reference"))

    def describe(self) -> list[str]:
        """The model in words, then the endpoint definitions used."""
        s = self.settings
        adjust = "baseline score" + (" and its interaction with visit" if s["baseline_by_visit"] else "")
        group = f"; {self.by}, and {self.by} by visit" if self.by else ""
        return [f"MMRM of change from baseline in {s['instrument']} (points) at the visits "
                f"{', '.join(self.visits)}: visit, {adjust}{group} as fixed effects; "
                f"{s['covariance'].replace('_', ' ')} within-patient covariance, "
                f"{'REML' if s['reml'] else 'ML'}, {_DF_NAMES.get(s['df'], s['df'])} degrees of freedom. "
                "Each patient's last rating at each visit label; least-squares means at the mean "
                "baseline score."] + self._attendance_words() + list(s["endpoint_definitions"]) \
            + [f"Note: {n}." for n in s.get("notes", ())]

    def _attendance_words(self) -> list[str]:
        if self.attendance is None or self.attendance.empty:
            return []
        parts = [f"{row.visit}: {row.patients} (single {row.single}, series {row.series})"
                 for row in self.attendance.itertuples()]
        return [f"Visits chosen {self.settings['visits_chosen']}. Patients rated at each visit: "
                + "; ".join(parts) + "."]

    def residual_check(self, n_bins: int = 10) -> pd.DataFrame:
        """Mean residual (points, 95% t interval) per equal-count bin of the fitted values: low,
        high, n, mean_residual, lower, upper; near 0 without a trend when the mean model fits."""
        from analysis.longitudinal.trajectories import residual_bins

        return residual_bins(self.residuals(), n_bins)

    def residuals(self) -> pd.DataFrame:
        """One row per analysed rating: patient_id, visit, change, fitted (the model mean, fixed
        effects), residual (points): for a residual-versus-fitted check."""
        design = self.model._inference.design
        fitted = design.X @ self.model.fixed["estimate"].to_numpy(float)
        rows = self.frame.loc[design.rows]
        return pd.DataFrame({"patient_id": rows["patient_id"].to_numpy(), "visit": rows["visit"].astype(str).to_numpy(),
                             "change": design.y, "fitted": fitted, "residual": design.y - fitted})

    def summary(self) -> pd.DataFrame:
        """The fixed effects (estimate, se, df, statistic, p, lower, upper) indexed by term."""
        return self.model.fixed

    def __repr__(self) -> str:
        return (f"ChangeModel({self.formula!r}, {self.settings['covariance']}; {self.n_patients} patients, "
                f"{self.n_ratings} ratings, {len(self.visits)} visits)")


def visit_schedule(
    data: Any,
    instrument: str = "MADRS",
    min_attendance: float = 0.5,
    max_visits: int = 6,
    target_days: Sequence[float] | None = DEFAULT_TARGET_DAYS,
    **endpoint_options: Any,
) -> pd.DataFrame:
    """The post-baseline protocol visit labels an MMRM can use (not rescue, unscheduled or
    early-termination assessments: ``UNSCHEDULED_VISIT_PATTERN``), in schedule order: visit, median_hours
    (since the first infusion), median_days_since_infusion (since the most recent one),
    patients (rated at the label), single, series (of them, per course) and default (True for
    the visits :func:`fit_mmrm` analyses when ``visits`` is not given, same rule and arguments)."""
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    rows = _visit_rows(data, endpoints, instrument)
    post = rows.post
    timing = post.groupby("visit").agg(median_hours=("time_hours", "median"),
                                       median_since=("hours_since_infusion", "median"))
    order = [str(v) for v in timing.sort_values("median_hours", kind="stable").index]
    table = visit_attendance(post, order)
    table.insert(1, "median_hours", timing["median_hours"].reindex(order).to_numpy())
    table.insert(2, "median_days_since_infusion", timing["median_since"].reindex(order).to_numpy() / 24.0)
    chosen = set(rows.select(max_visits, min_attendance, target_days))
    table["default"] = table["visit"].isin(chosen)
    return table


def fit_mmrm(
    data: Any,
    instrument: str = "MADRS",
    by: str | None = None,
    visits: Sequence[str] | None = None,
    covariance: str = "unstructured",
    reml: bool = True,
    df: str = "satterthwaite",
    baseline_by_visit: bool = True,
    max_visits: int = 6,
    min_attendance: float = 0.5,
    alpha: float = 0.05,
    group_bins: Sequence[float] | int | None = None,
    reference: str | None = None,
    target_days: Sequence[float] | None = DEFAULT_TARGET_DAYS,
    **endpoint_options: Any,
) -> ChangeModel:
    """MMRM of change from baseline over the nominal visits, adjusted for baseline, by group.

    The model (patsy formula)::

        change ~ C(visit) + baseline_score [+ baseline_score:C(visit)] [+ C(by) + C(by):C(visit)]

    with the chosen covariance over visits within patient, fitted by :func:`analysis.mmrm`.
    The baseline-by-visit interaction (on by default) is the usual primary analysis of
    repeated depression scores (Mallinckrodt et al. 2008).

    Parameters
    ----------
    data : OutcomeData or Endpoints
        A dataset (endpoints derived with ``instrument`` and ``**endpoint_options``) or the
        result of ``derive_endpoints``.
    by : str, optional
        Grouping to compare (:func:`analysis.group_patients`: a patient or first-infusion
        column, ``course``, ``dose_band``, ``baseline``). With a single group present the group
        terms are left out.
    group_bins : list of float or int, optional
        Cut points or number of groups for a numeric ``by``.
    reference : str, optional
        Reference group of the fixed effects and of ``lsmean_differences`` (default:
        ``group_patients``' rule).
    visits : list of str, optional
        Post-baseline visit labels to analyse. Default: chosen by :func:`select_visits` with
        ``target_days``, ``max_visits`` and ``min_attendance`` (see the module docstring).
    target_days : list of float, optional
        Days after the most recent infusion whose nearest protocol visits are analysed by
        default (1, 7, 14, 28); None = the most attended visits.
    covariance : {"unstructured", "compound_symmetry", "ar1", "toeplitz"}
    reml : bool
        REML (default, as SAS) or ML.
    df : {"satterthwaite", "kenward-roger", "residual"}
        Denominator degrees of freedom.
    baseline_by_visit : bool
        Let the baseline adjustment differ between visits.
    alpha : float
        1 - confidence level.

    Returns
    -------
    ChangeModel
        ``.model`` (the MMRMResult), ``.lsmeans()``, ``.lsmean_differences()``, ``.frame``,
        ``.formula``, ``.visits``.

    References
    ----------
    Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP (2008). Recommendations for the
    primary analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J
    42:303-319.
    """
    from analysis.longitudinal.mmrm import mmrm

    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    rows = _visit_rows(data, endpoints, instrument)  # shared with visit_schedule
    post, notes = rows.post, rows.notes
    chosen = ([str(v) for v in visits] if visits is not None
              else rows.select(max_visits, min_attendance, target_days))
    if len(dict.fromkeys(chosen)) != len(chosen):
        raise AnalysisError("visits must not repeat a label.")
    if len(chosen) < 2:
        raise AnalysisError("An MMRM needs at least two post-baseline visits"
                         + ("" if visits is not None else
                            f" each attended by at least {min_attendance:.0%} of the patients") + ".")
    grouping = grouping_for(data, endpoints, by, bins=group_bins, reference=reference) if by is not None else None
    frame = _mmrm_frame(post, endpoints, chosen, by, grouping)
    if frame.empty:
        raise AnalysisError("No post-baseline rating at the chosen visits.")
    column = group_column(by) if by is not None else None
    grouped = column is not None and frame[column].nunique() > 1
    terms = ["C(visit)", "baseline_score"]
    if baseline_by_visit:
        terms.append("baseline_score:C(visit)")
    if grouped:
        terms += [f"C({column})", f"C({column}):C(visit)"]
    formula = "change ~ " + " + ".join(terms)
    model = mmrm(frame, formula, subject="patient_id", visit="visit", covariance=covariance, reml=reml,
                 alpha=alpha, df=df)
    sizes = frame.groupby(column, observed=True)["patient_id"].nunique() if grouped else None
    used_reference = str(frame[column].cat.categories[0]) if grouped else None
    settings = {"instrument": instrument, "by": by, "reference": used_reference,
                "levels": tuple(grouping.levels) if grouping is not None else (),
                "notes": tuple(notes) + (grouping.notes if grouping is not None else ()),
                "grouping": grouping.description if grouping is not None else None, "covariance": covariance, "reml": reml, "df": df,
                "baseline_by_visit": baseline_by_visit, "alpha": alpha,
                "visits_chosen": "as given" if visits is not None else
                (f"nearest days {', '.join(f'{d:g}' for d in target_days)} after the most recent infusion in "
                 f"the largest course's schedule, each attended by at least {min_attendance:.0%} of its patients"
                 if target_days else
                 f"by attendance (at most {max_visits}, each by at least {min_attendance:.0%} of patients)"),
                "endpoint_definitions": describe_endpoints(endpoints)}
    return ChangeModel(model=model, formula=formula, visits=tuple(chosen), frame=frame,
                       by=column if grouped else None, settings=settings,
                       n_patients=int(frame["patient_id"].nunique()), n_ratings=len(frame),
                       group_sizes=sizes, attendance=visit_attendance(post, chosen))

