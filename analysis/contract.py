"""The data contract: which tables and columns exist, their types, and the validated container.

Three tidy tables, times always relative to the start of the patient's first infusion:

assessments (required), one row per rating
    patient_id (str), instrument (str, canonical registry name), item (Int64, NA for a
    total score), score (float64, integer-valued, within the instrument's range),
    time_hours (float64, negative = before the first infusion), visit (str, optional label),
    infusion_number (Int64, optional), source_row (int64, the row number in the user's file,
    1 = first data row, for messages); for a CDISC or REDCap source, whose ratings come from
    several files, source_file (categorical) beside it names the file of that row.
infusions (one row per infusion; when absent one IV infusion at time 0 is assumed)
    patient_id, infusion_number (int64, 1, 2, ...), time_hours (float64, start; the first is 0),
    dose_mg_per_kg (float64), route (IV, IM, intranasal, sublingual, oral, rectal),
    duration_min (float64, optional).
patients (one row per patient)
    patient_id, age (float64, years), sex (str), diagnosis (MDD, TRD, bipolar, PTSD, other),
    plus any other column kept as a user covariate.
events (optional, one row per clinical event; empty when none were given)
    patient_id, time_hours (float64, since the first infusion), event (booster, rescue,
    hospitalisation, discontinued, adverse_event, or the user's own label), detail (str, optional).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "ASSESSMENT_COLUMNS",
    "DIAGNOSES",
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "INFUSION_COLUMNS",
    "PATIENT_COLUMNS",
    "ROUTES",
    "DataError",
    "DataWarning",
    "OutcomeData",
    "problems_frame",
]

ROUTES = ("IV", "IM", "intranasal", "sublingual", "oral", "rectal")
DIAGNOSES = ("MDD", "TRD", "bipolar", "PTSD", "other")

# Column -> dtype of the validated tables (pandas dtype strings).
ASSESSMENT_COLUMNS: dict[str, str] = {
    "patient_id": "string",
    "instrument": "string",
    "item": "Int64",
    "score": "float64",
    "time_hours": "float64",
    "visit": "string",
    "infusion_number": "Int64",
    "source_row": "int64",
}
INFUSION_COLUMNS: dict[str, str] = {
    "patient_id": "string",
    "infusion_number": "int64",
    "time_hours": "float64",
    "dose_mg_per_kg": "float64",
    "route": "string",
    "duration_min": "float64",
}
PATIENT_COLUMNS: dict[str, str] = {
    "patient_id": "string",
    "age": "float64",
    "sex": "string",
    "diagnosis": "string",
}
EVENT_COLUMNS: dict[str, str] = {
    "patient_id": "string",
    "time_hours": "float64",
    "event": "string",
    "detail": "string",
}
# Event kinds with a meaning the analyses know; any other label is kept as the user wrote it.
EVENT_TYPES = ("booster", "rescue", "hospitalisation", "discontinued", "adverse_event")


def empty_events() -> pd.DataFrame:
    """An events table with no rows and the contract's columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in EVENT_COLUMNS.items()})

PROBLEM_COLUMNS = ("table", "row", "column", "value", "message")


def problems_frame(records: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """A problems table with the standard columns: table, row (as numbered in the user's
    file, 1 = first data row; NA when the problem concerns a whole column or file),
    column, value, message."""
    frame = pd.DataFrame.from_records(records or [], columns=list(PROBLEM_COLUMNS))
    frame["row"] = frame["row"].astype("Int64")
    return frame


class DataError(ValueError):
    """Everything wrong with a dataset, reported at once.

    ``problems`` is a DataFrame with columns table, row, column, value, message.
    ``str(error)`` is a readable summary that a person can act on.
    """

    def __init__(self, problems: pd.DataFrame, headline: str | None = None):
        self.problems = problems.reset_index(drop=True)
        self.headline = headline or f"The data has {len(self.problems)} problem(s)."
        super().__init__(self._text())

    def _text(self, limit: int = 20) -> str:
        lines = [self.headline]
        for rec in self.problems.head(limit).itertuples(index=False):
            where = [str(rec.table)] if isinstance(rec.table, str) and rec.table else []
            location = getattr(rec, "location", None)  # optional: "row 5 (line 6 of x.csv)"
            if isinstance(location, str) and location:
                where.append(location)
            elif not pd.isna(rec.row):
                where.append(f"row {rec.row}")
            if isinstance(rec.column, str) and rec.column:
                where.append(f"column {rec.column!r}")
            prefix = ", ".join(where)
            lines.append(f"- {prefix}: {rec.message}" if prefix else f"- {rec.message}")
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more (see .problems).")
        return "\n".join(lines)


@dataclass(frozen=True)
class DataWarning:
    """A non-fatal finding: what, how many, and which rows (as numbered in the user's file).

    ``files`` is set when the data was read from several files (a folder of tables, CDISC
    datasets, a REDCap export): the file of each of ``rows``, in the same order, as
    ``source_file`` names the file of each row of the validated tables. ``str()`` is the
    message, naming the files when the message does not.
    """

    code: str
    message: str
    count: int
    table: str = "assessments"
    rows: tuple[int, ...] = ()
    patient_ids: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.files) not in (0, len(self.rows)):
            raise ValueError(f"DataWarning: {len(self.files)} file name(s) for {len(self.rows)} row(s).")
        for name in ("rows", "patient_ids", "files"):  # lists when read back from JSON
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def __str__(self) -> str:
        unnamed = [f for f in dict.fromkeys(self.files) if f not in self.message]
        if not unnamed:
            return self.message
        return f"{self.message} (rows of {', '.join(unnamed)})"


@dataclass(frozen=True)
class OutcomeData:
    """A validated infusion-outcome dataset (see the module docstring for the columns).

    Treat the tables as read-only: every analysis function takes an OutcomeData and returns
    a new result, it never changes the data. ``truth`` holds the simulator's parameters for
    simulated data (None otherwise).

    ``events`` holds clinical events (boosters, rescue medication, hospitalisations,
    discontinuations, adverse events; empty when none were given). ``mapping`` is the
    :class:`analysis.Mapping` used to read the source (None for data built in code).
    ``has_clock_time`` is False when the source gave only visit labels or numbers without a
    time: ``assessments.time_hours`` then holds the visit order (not hours), and analyses that
    need clock time (onset in hours, durability in days) must refuse such data.
    """

    assessments: pd.DataFrame
    infusions: pd.DataFrame
    patients: pd.DataFrame
    warnings: tuple[DataWarning, ...] = ()
    source: str = ""
    truth: Any = None
    events: pd.DataFrame = field(default_factory=empty_events)
    mapping: Any = None
    has_clock_time: bool = True
    _fingerprint: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def n_patients(self) -> int:
        return int(self.patients["patient_id"].nunique())

    @property
    def instruments(self) -> list[str]:
        """Instruments present, in registry order of first appearance."""
        return list(pd.unique(self.assessments["instrument"].dropna()))

    @property
    def fingerprint(self) -> str:
        """A SHA-256 of the validated content (first 16 hex digits): identifies the dataset
        without revealing anything about it."""
        if not self._fingerprint:
            digest = hashlib.sha256()
            for table in (self.assessments.drop(columns=["source_row", "source_file"], errors="ignore"),
                          self.infusions, self.patients, self.events):
                digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
                digest.update("|".join(map(str, table.columns)).encode())
            self._fingerprint.append(digest.hexdigest()[:16])
        return self._fingerprint[0]

    def summary(self) -> pd.DataFrame:
        """One row per instrument: patients, ratings, time span (hours), plus cohort counts."""
        a = self.assessments[self.assessments["item"].isna()]
        per_instrument = a.groupby("instrument", sort=False).agg(
            patients=("patient_id", "nunique"),
            ratings=("score", "size"),
            first_time_hours=("time_hours", "min"),
            last_time_hours=("time_hours", "max"),
        )
        per_instrument["patients_total"] = self.n_patients
        per_instrument["infusions_total"] = len(self.infusions)
        per_instrument["events_total"] = len(self.events)
        per_instrument["clock_time"] = self.has_clock_time
        if self.mapping is not None:
            per_instrument.attrs["mapping"] = list(self.mapping.describe())
        return per_instrument

    def describe_mapping(self) -> list[str]:
        """How the source was read (sentences from :meth:`analysis.Mapping.describe`)."""
        return [] if self.mapping is None else list(self.mapping.describe())

    def __repr__(self) -> str:
        return (f"OutcomeData({self.n_patients} patients, {len(self.assessments)} ratings, "
                f"{len(self.infusions)} infusions, instruments={self.instruments}, "
                f"{len(self.warnings)} warning(s))")


# --------------------------------------------------------------------------------------------
# The declarative contract: one spec per column the loader reads or writes.


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract.

    table : "assessments", "infusions", "patients", "events", or "file" for a column read only
        in the single-file form (an infusion's start repeated on each rating row).
    name : the column's name in the contract (also its role in an :class:`analysis.Mapping`).
    dtype : pandas dtype of the validated column; "input" for a column that is read and
        converted into another (``stored_as``), e.g. ``time_weeks`` -> ``time_hours``.
    required : the table cannot be loaded without it ("one of time" columns say so in ``checks``).
    aliases : other names accepted in files (compared lower-case, spaces/dots/hyphens as "_").
    unit : unit of the values ("hours", "mg/kg", "years", ...), "" when not a quantity.
    checks : what is checked, in words (shown in the data dictionary).
    meaning : what the column holds.
    stored_as : the validated column an input column becomes ("" when it is stored as itself).
    """

    table: str
    name: str
    dtype: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    unit: str = ""
    checks: str = ""
    meaning: str = ""
    stored_as: str = ""


_ONE_TIME = "one time column (or dates) is required"
CONTRACT: tuple[ColumnSpec, ...] = (
    # assessments
    ColumnSpec("assessments", "patient_id", "string", True,
               ("subject_id", "subjectid", "subject", "usubjid", "subjid", "record_id", "participant_id",
                "participant", "study_id", "patientid", "pt_id", "pid", "patient_number", "patient_no", "id_patient"),
               checks="not empty; pseudonymous (identifier screen)", meaning="the patient's study id"),
    ColumnSpec("assessments", "instrument", "string", True,
               ("scale", "questionnaire", "instrument_name", "measure", "rating_scale"),
               checks="a registered instrument or alias (or Mapping.instrument for a file naming none)",
               meaning="rating scale, canonical registry name"),
    ColumnSpec("assessments", "item", "Int64", False,
               ("item_number", "item_no", "item_num", "question", "question_number"),
               checks="whole number 1..n_items of the instrument; empty for a total score",
               meaning="item number (empty = total score)"),
    ColumnSpec("assessments", "score", "float64", True,
               ("total_score", "total", "score_total", "value", "aval", "qsstresn"),
               checks="whole number within the instrument's total (or item) range",
               meaning="the rating"),
    ColumnSpec("assessments", "time_hours", "float64", False,
               ("time_h", "time_hr", "time_hrs", "hours", "hours_since_first_infusion"), "hours",
               _ONE_TIME, "time since the start of the first infusion (negative = before)"),
    ColumnSpec("assessments", "time_min", "input", False,
               ("time_minutes", "time_mins", "minutes", "minutes_since_first_infusion", "mins"), "minutes",
               _ONE_TIME, "time since the first infusion", "time_hours"),
    ColumnSpec("assessments", "time_days", "input", False,
               ("time_d", "time_day", "days", "day", "days_since_first_infusion"), "days",
               _ONE_TIME + "; day 0 = the day of the first infusion", "time since the first infusion",
               "time_hours"),
    ColumnSpec("assessments", "time_weeks", "input", False,
               ("week", "weeks", "wk", "wks", "time_week", "time_wk", "weeks_since_first_infusion"), "weeks",
               _ONE_TIME, "time since the first infusion", "time_hours"),
    ColumnSpec("assessments", "time_months", "input", False,
               ("month", "months", "time_month", "months_since_first_infusion"), "months (30.4375 days)",
               _ONE_TIME, "time since the first infusion", "time_hours"),
    ColumnSpec("assessments", "study_day", "input", False,
               ("ady", "qsdy", "rsdy", "dy", "studyday", "study_day_number"), "days",
               "CDISC rule: day 1 = the day of the first dose, day -1 the day before, no day 0",
               "study day of the rating", "time_hours"),
    ColumnSpec("assessments", "elapsed_iso", "input", False,
               ("qseltm", "rseltm", "eltm", "elapsed_time", "iso_duration"), "ISO 8601 duration",
               "e.g. PT40M, PT4H, P7D, -PT1H: time since the first infusion (added to study_day if both)",
               "elapsed time", "time_hours"),
    ColumnSpec("assessments", "visit", "string", False,
               ("visit_name", "visit_label", "timepoint", "time_point", "avisit", "redcap_event_name"),
               checks="labels such as 'day 7', '4h', 'week 2', 'baseline' are read as times when no time "
                      "column exists; other labels need Mapping.visit_times",
               meaning="visit label"),
    ColumnSpec("assessments", "visit_number", "input", False,
               ("avisitn", "visitnum", "visit_no", "visit_num", "visit_nr", "measurement", "measurement_number",
                "assessment_number"),
               checks="used for the visit order when nothing gives a clock time (has_clock_time=False)",
               meaning="visit or measurement number", stored_as="visit"),
    ColumnSpec("assessments", "baseline_score", "input", False, ("base", "basval", "baseline_score"),
               checks="constant within patient and instrument",
               meaning="the baseline rating held as a column (ADaM BASE): becomes a rating at baseline",
               stored_as="score"),
    ColumnSpec("assessments", "infusion_number", "Int64", False,
               ("infusion_no", "infusion_num", "infusion_nr", "infusion_index", "infusion_n",
                "infusion_#", "session", "session_#", "session_no", "session_num", "session_number", "treatment_#",
                "treatment_number"),
               checks="whole number >= 0", meaning="the infusion the rating follows"),
    ColumnSpec("assessments", "assessment_date", "input", False,
               ("date", "datetime", "assessment_datetime", "visit_date", "visit_datetime", "rating_date",
                "rating_datetime", "date_time", "timestamp", "assessment_time"), "calendar date",
               _ONE_TIME + "; converted to hours since the first infusion date, then removed",
               "date of the rating", "time_hours"),
    ColumnSpec("assessments", "source_row", "int64", False, (),
               meaning="row in the user's file (1 = first data row), for messages"),
    # infusions
    ColumnSpec("infusions", "patient_id", "string", True, meaning="the patient's study id"),
    ColumnSpec("infusions", "infusion_number", "int64", True,
               checks="1, 2, ... within each patient, each once, no gaps", meaning="infusion number"),
    ColumnSpec("infusions", "time_hours", "float64", False, (), "hours",
               "the first infusion starts at 0; later ones start after the previous",
               "start of the infusion since the start of the first"),
    ColumnSpec("infusions", "infusion_date", "input", False,
               ("date", "datetime", "infusion_datetime", "start_date", "start_datetime", "infusion_start",
                "date_time"), "calendar date", "converted to hours, then removed", "date of the infusion",
               "time_hours"),
    ColumnSpec("infusions", "dose_mg_per_kg", "float64", False,
               ("dose", "dose_mg_kg", "dose_mgkg", "dose_mg/kg", "mg_per_kg", "mg_kg"), "mg/kg",
               ">= 0; text such as '0.5 mg/kg' is read; 'placebo' = 0 (with a warning)", "ketamine dose"),
    ColumnSpec("infusions", "dose_mg", "input", False, ("dose_in_mg", "total_dose_mg", "exdose_mg"), "mg",
               "divided by weight_kg", "dose in milligrams", "dose_mg_per_kg"),
    ColumnSpec("infusions", "weight_kg", "input", False, ("weight", "body_weight", "weight_in_kg", "wt_kg"),
               "kg", "> 0", "body weight, to convert a dose in mg to mg/kg", "dose_mg_per_kg"),
    ColumnSpec("infusions", "route", "string", False,
               ("administration_route", "route_of_administration", "admin_route", "exroute"),
               checks="IV, IM, intranasal, sublingual, oral or rectal (synonyms such as 'INTRAVENOUS', "
                      "'iv drip' read); IV assumed when absent (and said)",
               meaning="route of administration"),
    ColumnSpec("infusions", "duration_min", "float64", False,
               ("duration", "duration_minutes", "infusion_duration", "infusion_duration_min"), "minutes",
               ">= 0", "duration of the infusion"),
    # single-file form: the start of the infusion each rating follows
    ColumnSpec("file", "infusion_time_hours", "input", False,
               ("infusion_hours", "infusion_start_hours", "infusion_time_h"), "hours",
               "constant within patient and infusion_number", "start of the infusion the row follows",
               "infusions.time_hours"),
    ColumnSpec("file", "infusion_time_min", "input", False, ("infusion_minutes", "infusion_start_min"),
               "minutes", "as infusion_time_hours", "start of the infusion the row follows",
               "infusions.time_hours"),
    ColumnSpec("file", "infusion_time_days", "input", False,
               ("infusion_days", "infusion_start_days", "infusion_day"), "days", "as infusion_time_hours",
               "start of the infusion the row follows", "infusions.time_hours"),
    ColumnSpec("file", "infusion_date", "input", False,
               ("infusion_datetime", "infusion_start_date", "infusion_start", "session_date", "session_datetime",
                "treatment_date", "date_of_infusion", "date_of_session"), "calendar date",
               "converted to hours, then removed", "date of the infusion the row follows",
               "infusions.time_hours"),
    # patients
    ColumnSpec("patients", "patient_id", "string", True, meaning="the patient's study id"),
    ColumnSpec("patients", "age", "float64", False, ("age_years", "age_at_baseline", "age_yrs"), "years",
               "0-120; ages above 89 refused (HIPAA Safe Harbor: write 90 for 90 or older)", "age"),
    ColumnSpec("patients", "sex", "string", False, ("gender",),
               checks="read as F or M (female/male, woman/man, f/m); numeric codes 1 = M, 2 = F (the "
                      "CDISC/ISO 5218 order) with a warning, or as given in Mapping.value_maps",
               meaning="sex"),
    ColumnSpec("patients", "diagnosis", "string", False, ("dx", "primary_diagnosis", "diagnosis_group"),
               checks="MDD, TRD, bipolar, PTSD or other (labels such as 'Major depressive disorder', "
                      "'Bipolar II' read; the label as written kept in diagnosis_label)",
               meaning="diagnosis group"),
    # events
    ColumnSpec("events", "patient_id", "string", True, meaning="the patient's study id"),
    ColumnSpec("events", "time_hours", "float64", True, (), "hours", "a number (other time units and dates "
               "accepted as for assessments)", "time of the event since the first infusion"),
    ColumnSpec("events", "event", "string", True, ("event_type", "event_name", "kind"),
               checks="booster, rescue, hospitalisation, discontinued, adverse_event, or any other label",
               meaning="what happened"),
    ColumnSpec("events", "detail", "string", False, ("description", "comment", "details", "note"),
               meaning="free-text detail (screened for identifiers)"),
)

TABLES = ("assessments", "infusions", "patients", "events")


def column_specs(table: str) -> tuple[ColumnSpec, ...]:
    """The specs of one table ("file" = columns of the single-file form only)."""
    return tuple(spec for spec in CONTRACT if spec.table == table)


def data_dictionary() -> pd.DataFrame:
    """The data contract as a table (one row per column): table, column, type, required, unit,
    accepted names, checks, meaning. The README's tables and the dashboard's dictionary are
    generated from it (``docs/make_data_dictionary.py``)."""
    rows = [{"table": s.table, "column": s.name,
             "type": f"read into {s.stored_as}" if s.dtype == "input" else s.dtype,
             "required": "yes" if s.required else ("one time" if s.checks.startswith(_ONE_TIME) else "no"),
             "unit": s.unit, "also accepted as": ", ".join(s.aliases), "checks": s.checks, "meaning": s.meaning}
            for s in CONTRACT if s.name != "source_row"]
    return pd.DataFrame(rows)
