"""One meaning of ``by=``: how every analysis puts patients into groups.

Every function that takes ``by=`` (onset, durability, trajectories, mixed models, MMRM,
responder rates, Table 1, symptom analyses) calls :func:`group_patients`, so the same ``by``
gives the same groups, in the same order, with the same reference group everywhere::

    import analysis
    data = analysis.load_sample()
    g = analysis.group_patients(data, "age")
    g.levels        # ('age 18-34', 'age 35-42', 'age 43-50', 'age 51-77'): quartiles, numeric order
    g.reference     # 'age 18-34'
    g.description   # 'grouped by age quartiles (years)'
    g.labels        # patient_id -> ordered Categorical (NA = left out, e.g. unknown age)

What ``by`` can name
--------------------
- a patient-level column: ``age``, ``sex``, ``diagnosis``, any user covariate, and (from
  derived endpoints) ``baseline_score``, ``n_infusions``, ``peak_cadss``;
- an infusion-level column (``dose_mg_per_kg``, ``route``, ``duration_min`` or a user's
  infusion column): its value at the patient's first infusion (:func:`analysis.baseline.first_infusions`);
- ``"course"``: ``single`` or ``series`` (:func:`course_of_patients`: a series is 2 or more
  infusions each starting within ``SERIES_GAP_DAYS`` days of the previous one);
- ``"dose_band"``: the first infusion's dose against the standard 0.5 mg/kg (:func:`dose_bands`);
- ``"baseline"``: the baseline score of the instrument (``instrument=``);
- aliases: ``dose`` = ``dose_mg_per_kg`` = the first dose, ``cadss`` = ``peak_cadss``.

Groups
------
Numeric columns with more than :data:`MAX_NUMERIC_LEVELS` distinct values are cut at their
quartiles (``pd.qcut``, ties merged) unless ``bins=`` gives edges or a number of equal-count
groups; groups are labelled by the name and the observed range, e.g. ``"age 18-34"`` or
``"dose 0.2-0.4 mg/kg"``. Quartiles are computed over the patients of the data given (all
patients of an OutcomeData; the analysed patients of an Endpoints), so every analysis of one
dataset cuts at the same values. Other columns are used as they are; a column with more than
:data:`MAX_GROUPS` groups is refused. Patients with a missing value are left out (label NA)
and counted in ``notes``.

Order: numeric groups in numeric order, ``course`` single then series, dose bands low to high,
routes and diagnoses in the data contract's order, other labels alphabetically (numbers by
value). Reference (``reference=`` overrides): ``single`` for course, ``0.5 mg/kg`` for dose
bands and ``IV`` for route when present, the lowest group for numeric columns, ``False`` for
yes/no columns, otherwise the largest group (ties: the first in order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.baseline import ASSUMED_ROUTE, baseline_scores, first_infusions
from analysis.contract import DIAGNOSES, ROUTES
from analysis.errors import AnalysisError

__all__ = [
    "DOSE_BAND_TOLERANCE_MG_PER_KG",
    "MAX_GROUPS",
    "MAX_NUMERIC_LEVELS",
    "SERIES_GAP_DAYS",
    "STANDARD_DOSE_MG_PER_KG",
    "Grouping",
    "course_of_patients",
    "series_blocks",
    "dose_bands",
    "group_patients",
    "order_levels",
    "patient_values",
]

# Numeric columns with more distinct values than this are cut into quartiles.
MAX_NUMERIC_LEVELS = 6
# A by= column with more groups than this is refused (an id-like or free-text column).
MAX_GROUPS = 12
# A series: 2+ infusions, each starting at most this many days after the previous one; the
# first longer gap ends the induction series (later infusions are boosters). Community
# practice gives 4-8 infusions over 7-28 days (two or three a week), so a week-long gap
# still belongs to the series.
SERIES_GAP_DAYS = 7.0
# Dose bands around the standard 0.5 mg/kg (Fava 2018); doses within the tolerance of it
# (weight rounding: 0.48-0.52) count as the standard dose.
STANDARD_DOSE_MG_PER_KG = 0.5
DOSE_BAND_TOLERANCE_MG_PER_KG = 0.025
COURSES = ("single", "series")
ALL = "all"

_ALIASES = {"dose": "first_dose_mg_per_kg", "dose_mg_per_kg": "first_dose_mg_per_kg",
            "first_dose": "first_dose_mg_per_kg", "baseline": "baseline_score", "cadss": "peak_cadss"}
# Keys and times of the infusions table: not a grouping column.
_INFUSION_KEYS = ("patient_id", "infusion_number", "time_hours", "source_row")
# Columns of Endpoints.patients that are outcomes, never a grouping.
_OUTCOMES = ("n_ratings", "responded", "onset_infusion", "onset_lower_hours", "onset_upper_hours",
             "onset_time_hours", "remitted", "relapsed", "relapse_lower_days", "relapse_upper_days",
             "relapse_time_days", "relapse_event", "last_rating_hours", "durability_origin_hours",
             "relapse_status", "intercurrent_event", "intercurrent_days")
# Marker (dropped before notes are shown) of a value taken at the first infusion.
_FROM_INFUSIONS = "\0first-infusion"
# Name in labels, unit in descriptions (and in labels where short), per known column.
_NAMES = {"age": ("age", "years", False), "first_dose_mg_per_kg": ("dose", "mg/kg", True),
          "baseline_score": ("baseline", "points", False), "peak_cadss": ("peak CADSS", "points", False),
          "n_infusions": ("infusions", "infusions", False), "duration_min": ("duration", "min", True)}
_KNOWN_ORDERS = {"route": ROUTES, "diagnosis": DIAGNOSES, "course": COURSES}


@dataclass(frozen=True)
class Grouping:
    """Patients in groups, as every ``by=`` analysis uses them.

    Attributes
    ----------
    by : the ``by`` asked for (None = one group ``"all"``).
    column : the column it resolved to (``"first_dose_mg_per_kg"`` for ``"dose"``, ...).
    labels : group of each patient, indexed by patient_id (str), an ordered Categorical whose
        categories are ``levels``; NA for patients left out (missing value).
    levels : the groups in their one order (for every table and figure).
    reference : the comparison group.
    description : e.g. ``"grouped by age quartiles (years)"``.
    notes : how the groups were formed, and who was left out, in sentences.
    """

    by: str | None
    column: str | None
    labels: pd.Series = field(repr=False)
    levels: tuple[str, ...]
    reference: str | None
    description: str
    notes: tuple[str, ...] = ()

    @property
    def counts(self) -> pd.Series:
        """Patients per group, in group order."""
        return self.labels.value_counts(sort=False).reindex(list(self.levels)).fillna(0).astype(int)

    def of(self, patient_ids: Any) -> pd.Series:
        """The groups of these patient ids (an ordered Categorical, NA for unknown ids), in
        their order and with their index."""
        ids = pd.Series(patient_ids)
        values = self.labels.reindex(ids.astype(str).to_numpy())
        return pd.Series(pd.Categorical(values.to_numpy(), categories=list(self.levels), ordered=True),
                         index=ids.index, name="group")

    def note(self) -> str | None:
        """The notes as one sentence (None when there are none)."""
        return "; ".join(self.notes) if self.notes else None

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        return f"Grouping({self.description}: {counts}; reference {self.reference!r})"


# --------------------------------------------------------------------------------------------
# course and dose bands

def series_blocks(code: np.ndarray, time_hours: np.ndarray, n_codes: int,
                  gap_days: float = SERIES_GAP_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """The course rule on arrays: infusions sorted by (patient code, start time) ->
    ``(n_series_infusions, series_end_hours)`` per code (0 and NaN for a code without
    infusions). The induction series runs from the first infusion while each next one starts at
    most ``gap_days`` days after the previous one (see :func:`course_of_patients`)."""
    n = len(code)
    new_patient = np.r_[True, code[1:] != code[:-1]] if n else np.zeros(0, dtype=bool)
    gap = np.diff(time_hours, prepend=np.nan)
    breaks = ~new_patient & (gap > 24.0 * gap_days)
    # the number of breaks so far, counted afresh for every patient: 0 = still in the series
    seen = np.cumsum(breaks)
    start = np.flatnonzero(new_patient)
    in_series = seen == np.repeat(seen[start] if n else seen, np.diff(np.r_[start, n]))
    n_series = np.bincount(code[in_series], minlength=n_codes)
    series_end = np.full(n_codes, np.nan)
    last = np.flatnonzero(in_series & np.r_[~in_series[1:] | new_patient[1:], True]) if n else start
    series_end[code[last]] = time_hours[last]
    return n_series, series_end


def course_of_patients(infusions: pd.DataFrame, patient_ids: Any = None, *,
                       gap_days: float = SERIES_GAP_DAYS) -> pd.DataFrame:
    """Single infusion or induction series, per patient (the package's one course rule).

    The induction series starts at the first infusion and continues while each next infusion
    starts at most ``gap_days`` days after the previous one; the first longer gap ends it and
    later infusions are boosters. ``course`` is ``"series"`` when the induction series has 2 or
    more infusions, else ``"single"``. Patients in ``patient_ids`` without an infusion record
    have the contract's one assumed infusion at time 0 (single).

    Returns one row per patient: patient_id (str), course, n_series_infusions,
    series_end_hours (start of the last infusion of the induction series, hours since the
    first infusion), n_infusions (all infusions, boosters included).
    """
    if gap_days <= 0:
        raise AnalysisError(f"gap_days={gap_days}: the longest gap within a series must be a positive "
                            "number of days (default 7).")
    if infusions.empty:
        frame = pd.DataFrame({"patient_id": pd.Series(dtype=str), "time_hours": pd.Series(dtype=float)})
    else:
        frame = pd.DataFrame({"patient_id": infusions["patient_id"].astype(str).to_numpy(),
                              "time_hours": infusions["time_hours"].to_numpy(float)})
    code, uniques = pd.factorize(frame["patient_id"], sort=True)
    time = frame["time_hours"].to_numpy(float)
    order = np.lexsort((time, code))
    n_series, series_end = series_blocks(code[order], time[order], len(uniques), gap_days)
    per = pd.DataFrame({"n_series_infusions": n_series, "series_end_hours": series_end,
                        "n_infusions": np.bincount(code, minlength=len(uniques))},
                       index=pd.Index(np.asarray(uniques, dtype=object), name="patient_id"))
    if patient_ids is not None:
        wanted = pd.Index(pd.Series(patient_ids).astype(str).unique())
        per = per.reindex(wanted)
        per["n_series_infusions"] = per["n_series_infusions"].fillna(1)
        per["series_end_hours"] = per["series_end_hours"].fillna(0.0)
        per["n_infusions"] = per["n_infusions"].fillna(1)
    per.index.name = "patient_id"
    per = per.reset_index()
    per["n_series_infusions"] = per["n_series_infusions"].astype(np.int64)
    per["n_infusions"] = per["n_infusions"].astype(np.int64)
    per.insert(1, "course", np.where(per["n_series_infusions"] >= 2, "series", "single"))
    return per


def dose_bands(dose_mg_per_kg: Any) -> pd.Series:
    """First-infusion dose (mg/kg) as a band: ``"<0.5 mg/kg"``, ``"0.5 mg/kg"`` (within
    ``DOSE_BAND_TOLERANCE_MG_PER_KG`` of the standard 0.5) or ``">0.5 mg/kg"``; NA stays NA."""
    dose = pd.Series(dose_mg_per_kg, dtype=float)
    standard, tol = STANDARD_DOSE_MG_PER_KG, DOSE_BAND_TOLERANCE_MG_PER_KG
    names = _dose_band_names()
    band = np.select([dose < standard - tol, dose <= standard + tol, dose > standard + tol],
                     list(names), default="")
    return pd.Series(band, index=dose.index, dtype="string").replace("", pd.NA)


def _dose_band_names() -> tuple[str, str, str]:
    s = f"{STANDARD_DOSE_MG_PER_KG:g}"
    return (f"<{s} mg/kg", f"{s} mg/kg", f">{s} mg/kg")


# --------------------------------------------------------------------------------------------
# ordering

def _natural_key(label: str) -> tuple[int, float, str]:
    match = re.match(r"[<>]?-?\d+(?:\.\d+)?(?:e-?\d+)?", label)
    if match:
        text = match.group()
        shift = {"<": -1e-9, ">": 1e-9}.get(text[0], 0.0)
        return (0, float(text.lstrip("<>")) + shift, label)
    return (1, 0.0, label.casefold())


def order_levels(labels: Any, column: str | None = None) -> list[str]:
    """Distinct labels in the package's one group order: a known vocabulary's order (course,
    route, diagnosis), else numbers by value, then other labels alphabetically."""
    distinct = [str(v) for v in pd.unique(pd.Series(labels).dropna())]
    known = _KNOWN_ORDERS.get(column or "")
    if known:
        rank = {v: i for i, v in enumerate(known)}
        return sorted(distinct, key=lambda v: (rank.get(v, len(rank)), _natural_key(v)))
    return sorted(distinct, key=_natural_key)


# --------------------------------------------------------------------------------------------
# resolving by=

def _is_endpoints(data: Any) -> bool:
    return all(hasattr(data, name) for name in ("ratings", "patients", "by_infusion", "settings"))


def _is_outcome_data(data: Any) -> bool:
    return all(hasattr(data, name) for name in ("assessments", "infusions", "patients"))


def _usable_columns(patients: pd.DataFrame, infusions: pd.DataFrame | None) -> list[str]:
    names = [c for c in patients.columns if c != "patient_id" and c not in _OUTCOMES]
    if infusions is not None:
        names += [c for c in infusions.columns if c not in _INFUSION_KEYS and c not in names
                  and _ALIASES.get(c, c) not in names]
    names = [("dose" if c in ("first_dose_mg_per_kg", "dose_mg_per_kg") else
              "baseline" if c == "baseline_score" else c) for c in names]
    extra = ["course", "dose_band", "baseline", "dose", "n_infusions"]
    return list(dict.fromkeys(names + extra))


def _cohort(data: Any, infusions: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(patient table, infusions table) for the data given."""
    if _is_endpoints(data):
        return data.patients, infusions
    if _is_outcome_data(data):
        patients = data.patients
        ids = pd.concat([patients["patient_id"], data.infusions["patient_id"]], ignore_index=True)
        ids = pd.Index(ids.astype(str).unique(), name="patient_id")
        table = patients.assign(patient_id=patients["patient_id"].astype(str))
        table = table.drop_duplicates("patient_id").set_index("patient_id").reindex(ids).reset_index()
        return table, data.infusions if infusions is None else infusions
    if isinstance(data, pd.DataFrame):
        if "patient_id" not in data.columns:
            raise AnalysisError("group_patients needs an OutcomeData, derived Endpoints, or a patient table "
                                "with a patient_id column.")
        return data, infusions
    raise AnalysisError(f"group_patients needs an OutcomeData, derived Endpoints or a patient table, "
                        f"not {type(data).__name__}.")


def _first_infusion_column(infusions: pd.DataFrame, ids: pd.Series, column: str,
                           patients: pd.DataFrame) -> pd.Series:
    """An infusions-table column at each patient's first infusion, aligned with ``patients``
    (route of a patient without an infusion record: the assumed IV)."""
    source = {"first_dose_mg_per_kg": "dose_mg_per_kg"}.get(column, column)
    first = first_infusions(infusions)
    values = pd.Series(first[source].to_numpy(), index=first["patient_id"].astype(str).to_numpy())
    values = values.reindex(ids.to_numpy())
    if source == "route":
        assumed = ~ids.isin(set(first["patient_id"].astype(str))).to_numpy()
        values = values.astype(object)
        values[assumed] = ASSUMED_ROUTE
    return pd.Series(values.to_numpy(), index=patients.index, name=column)


def _values(data: Any, patients: pd.DataFrame, infusions: pd.DataFrame | None, by: str,
            instrument: str | None, gap_days: float) -> tuple[str, pd.Series, list[str]]:
    """(column, values aligned with ``patients``, notes)."""
    ids = patients["patient_id"].astype(str)
    notes: list[str] = []
    if by == "course":
        if infusions is None:
            if "n_series_infusions" in patients.columns or "course" in patients.columns:
                return "course", patients["course"].astype("string"), notes
            raise AnalysisError("by='course' needs the infusion dates: pass the OutcomeData (not derived "
                                "Endpoints), or give infusions=.")
        course = course_of_patients(infusions, ids, gap_days=gap_days).set_index("patient_id")["course"]
        notes.append(f"course: a series is 2 or more infusions each starting within {gap_days:g} days of "
                     "the previous one; otherwise a single infusion")
        return "course", pd.Series(course.reindex(ids.to_numpy()).to_numpy(), index=patients.index,
                                   dtype="string"), notes
    if by == "dose_band":
        _, dose, dose_notes = _values(data, patients, infusions, "first_dose_mg_per_kg", instrument, gap_days)
        lo, std, hi = _dose_band_names()
        notes.append(f"dose band of the first infusion: {std} = {STANDARD_DOSE_MG_PER_KG - DOSE_BAND_TOLERANCE_MG_PER_KG:g}"
                     f"-{STANDARD_DOSE_MG_PER_KG + DOSE_BAND_TOLERANCE_MG_PER_KG:g} mg/kg, {lo} below, {hi} above")
        return "dose_band", dose_bands(dose.to_numpy()).set_axis(patients.index), notes + dose_notes
    column = by if by in patients.columns else _ALIASES.get(by, by)
    if column in patients.columns:
        if column in _OUTCOMES:
            raise AnalysisError(f"by={by!r} is an outcome, not a characteristic patients can be grouped by.")
        return column, patients[column], notes
    if column == "baseline_score" and _is_outcome_data(data):
        if instrument is None:
            raise AnalysisError("by='baseline' groups by the baseline score of one instrument: give "
                                "instrument= (e.g. instrument='MADRS').")
        base = baseline_scores(data, instrument).set_index("patient_id")["baseline_score"]
        values = pd.Series(base.reindex(ids.to_numpy()).to_numpy(float), index=patients.index, name=column)
        if values.isna().all():
            raise AnalysisError(f"by='baseline': no patient has a {instrument} baseline (no baseline: no "
                                f"{instrument} total-score rating at or before the first infusion).")
        return column, values, notes
    if column in ("n_infusions",) and infusions is not None:
        per = course_of_patients(infusions, ids, gap_days=gap_days).set_index("patient_id")["n_infusions"]
        return column, pd.Series(per.reindex(ids.to_numpy()).to_numpy(), index=patients.index), notes
    infusion_column = {"first_dose_mg_per_kg": "dose_mg_per_kg"}.get(column, column)
    if infusions is not None and infusion_column in infusions.columns and infusion_column not in _INFUSION_KEYS:
        notes.append(f"{_NAMES.get(column, (by,))[0]} is that of each patient's first infusion")
        return column, _first_infusion_column(infusions, ids, column, patients), notes + [_FROM_INFUSIONS]
    if column == "peak_cadss" and _is_outcome_data(data):
        from analysis.endpoints import derive_endpoints

        peak = derive_endpoints(data, instrument=instrument or "MADRS").patients
        lookup = pd.Series(peak["peak_cadss"].to_numpy(float), index=peak["patient_id"].astype(str).to_numpy())
        return column, pd.Series(lookup.reindex(ids.to_numpy()).to_numpy(float), index=patients.index), notes
    usable = _usable_columns(patients, infusions)
    raise AnalysisError(f"Cannot group by {by!r}: it is not a patient-level or first-infusion column. "
                        f"Columns that can be used: {', '.join(usable)}.")


def patient_values(patients: pd.DataFrame, name: str,
                   infusions: pd.DataFrame | None = None) -> tuple[str, pd.Series, bool]:
    """One patient-level value per row of ``patients`` for ``name`` (a column, an alias, an
    infusion-level column at the first infusion, ``course`` or ``dose_band``), as ``by=`` reads
    it: ``(column, values, at_first_infusion)``. Raises AnalysisError for an unknown name."""
    column, values, notes = _values(patients, patients, infusions, name, None, SERIES_GAP_DAYS)
    return column, values, _FROM_INFUSIONS in notes


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _binned(values: pd.Series, column: str, bins: Any) -> tuple[pd.Series, list[str], str, list[str]]:
    """Numeric values cut into groups labelled by name and observed range: (labels, levels in
    numeric order, description, notes)."""
    name, unit, unit_in_label = _NAMES.get(column, (column, "", False))
    numbers = values.astype(float)
    if bins is None or isinstance(bins, int | np.integer):
        k = 4 if bins is None else int(bins)
        if k < 2:
            raise AnalysisError(f"bins={bins}: give at least 2 groups, or a list of cut points.")
        cut = pd.qcut(numbers, k, duplicates="drop")
        kind = {4: "quartiles", 3: "tertiles", 5: "quintiles", 2: "halves (median split)"}.get(k, f"{k} equal-count groups")
        edges = [iv.right for iv in cut.cat.categories][:-1]
    else:
        edges_in = np.asarray(list(bins), dtype=float)
        if edges_in.size < 2 or np.any(np.diff(edges_in) <= 0):
            raise AnalysisError(f"bins={list(bins)}: give at least two strictly increasing cut points.")
        cut = pd.cut(numbers, edges_in, include_lowest=True)
        kind = "bins"
        edges = list(edges_in)
        outside = int((numbers.notna() & cut.isna()).sum())
        if outside:
            kind = f"bins ({outside} patient(s) outside {_fmt(edges_in[0])}-{_fmt(edges_in[-1])} left out)"
    codes = cut.cat.codes.to_numpy()
    present = sorted(set(codes[codes >= 0].tolist()))
    lows = numbers.groupby(codes).min()
    highs = numbers.groupby(codes).max()
    suffix = f" {unit}" if unit_in_label and unit else ""
    names = {}
    for c in present:
        lo, hi = lows[c], highs[c]
        names[c] = f"{name} {_fmt(lo)}{suffix}" if lo == hi else f"{name} {_fmt(lo)}-{_fmt(hi)}{suffix}"
    labels = pd.Series([names.get(c, pd.NA) if c >= 0 else pd.NA for c in codes], index=values.index,
                       dtype="string")
    unit_text = f" ({unit})" if unit else ""
    description = f"grouped by {name} {kind}{unit_text}"
    cuts = ", ".join(_fmt(e) for e in edges) + (f" {unit}" if unit else "")
    how = f"at {cuts}" if kind.startswith("bins") else f"at its {kind} ({cuts})"
    note = f"{name} cut {how} into {len(present)} groups: {', '.join(names[c] for c in present)}"
    return labels, [names[c] for c in present], description, [note]


def _default_reference(column: str, levels: list[str], labels: pd.Series, numeric: bool) -> str:
    preferred = {"course": "single", "dose_band": _dose_band_names()[1], "route": ASSUMED_ROUTE}.get(column)
    if preferred in levels:
        return preferred
    if numeric:
        return levels[0]
    if "False" in levels:
        return "False"
    counts = labels.value_counts()
    return max(levels, key=lambda v: (int(counts.get(v, 0)), -levels.index(v)))


def group_patients(
    data: Any,
    by: str | None,
    *,
    bins: Any = None,
    reference: str | None = None,
    instrument: str | None = None,
    infusions: pd.DataFrame | None = None,
    gap_days: float = SERIES_GAP_DAYS,
) -> Grouping:
    """Put patients into groups by ``by`` (see the module docstring for every rule).

    Parameters
    ----------
    data : OutcomeData, Endpoints or DataFrame
        The patients to group: all patients of an OutcomeData, the analysed patients of
        derived Endpoints, or a patient table with ``patient_id`` (e.g. ``Endpoints.patients``).
    by : str or None
        Column (or ``"course"``, ``"dose_band"``, ``"baseline"``); None = one group ``"all"``.
    bins : list of float or int, optional
        For a numeric column: cut points (in the column's unit, both ends included: e.g. ``[18,
        35, 50, 80]`` years) or a number of equal-count groups. Default: quartiles when the
        column has more than ``MAX_NUMERIC_LEVELS`` values.
    reference : str, optional
        The comparison group (one of ``levels``); default as in the module docstring.
    instrument : str, optional
        Instrument of the baseline score for ``by="baseline"`` with an OutcomeData.
    infusions : DataFrame, optional
        The infusions table, for infusion-level columns and ``course`` when ``data`` is a
        patient table or Endpoints.
    gap_days : float
        Longest gap (days) between consecutive infusions of a series (``by="course"``).

    Raises
    ------
    AnalysisError
        Unknown column, too many groups, a reference that is not a group, bad bins.
    """
    patients, infusions = _cohort(data, infusions)
    ids = pd.Index(patients["patient_id"].astype(str).to_numpy(), name="patient_id")
    if by is None:
        labels = pd.Series(pd.Categorical([ALL] * len(ids), categories=[ALL], ordered=True), index=ids,
                           name="group")
        return Grouping(by=None, column=None, labels=labels, levels=(ALL,), reference=ALL,
                        description="all patients together")
    if not isinstance(by, str):
        raise AnalysisError(f"by must be the name of one column (a string), not {by!r}.")
    column, values, notes = _values(data, patients, infusions, by, instrument, gap_days)
    notes = [n for n in notes if n != _FROM_INFUSIONS]
    values = pd.Series(values.to_numpy(), index=patients.index)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    name, unit, _ = _NAMES.get(column, (column, "", False))
    if numeric and (bins is not None or values.nunique() > MAX_NUMERIC_LEVELS):
        labels, levels, description, cut_notes = _binned(values, column, bins)
        notes += cut_notes
    else:
        if bins is not None:
            raise AnalysisError(f"bins= applies to numeric columns; {by!r} has values such as "
                                f"{', '.join(map(str, pd.unique(values.dropna())[:3]))}.")
        if numeric:
            labels = values.map(lambda v: f"{v:g}", na_action="ignore").astype("string")
        else:
            labels = values.astype("string")
        description = f"grouped by {name}" + (f" ({unit})" if numeric and unit else "")
        levels = order_levels(labels, column)
    if len(levels) > MAX_GROUPS:
        usable = _usable_columns(patients, infusions)
        raise AnalysisError(f"Cannot group by {by!r}: it has {len(levels)} different values (at most "
                            f"{MAX_GROUPS} groups). Give bins= for a numeric column, or use one of: "
                            f"{', '.join(usable)}.")
    if not levels:
        raise AnalysisError(f"Cannot group by {by!r}: no patient has a value for it.")
    missing = int(labels.isna().sum())
    if missing:
        notes.append(f"{missing} patient(s) with unknown {name} left out")
    if reference is None:
        reference = _default_reference(column, levels, labels, numeric)
    elif str(reference) not in levels:
        raise AnalysisError(f"reference={reference!r} is not one of the groups of {by!r}: "
                            f"{', '.join(levels)}.")
    result = pd.Series(pd.Categorical(labels.to_numpy(dtype=object, na_value=None), categories=levels,
                                      ordered=True), index=ids, name="group")
    return Grouping(by=by, column=column, labels=result, levels=tuple(levels), reference=str(reference),
                    description=description, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# the groups of one analysis (used by the longitudinal, symptom and table modules)

def grouping_for(data: Any, endpoints: Any, by: str | None, *, bins: Any = None,
                 reference: Any = None) -> Grouping:
    """The patients' groups for ``by`` in an analysis of ``data`` summarised by ``endpoints``:
    formed over all patients of ``data`` when it is an OutcomeData, so every analysis of one
    dataset cuts at the same values, else over the patients of the Endpoints (instrument: the
    endpoints'). ``.labels`` is indexed by patient_id (an ordered Categorical, NA = left out)."""
    source = endpoints if _is_endpoints(data) else data
    return group_patients(source, by, bins=bins, reference=reference,
                          instrument=str(getattr(endpoints.settings, "instrument", "MADRS")))


def model_groups(grouping: Grouping, patient_ids: pd.Series) -> pd.Categorical:
    """Group labels of ``patient_ids`` for a model frame: a Categorical whose first category is
    the reference (patsy's treatment contrast), the others in the one group order."""
    levels = [grouping.reference] + [g for g in grouping.levels if g != grouping.reference]
    return pd.Categorical(grouping.labels.reindex(patient_ids.astype(str).to_numpy()).astype(object).to_numpy(),
                          categories=levels)
