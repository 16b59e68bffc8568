"""The data contract: which tables and columns exist, their types, and the validated container.

Three tidy tables, times always relative to the start of the patient's first infusion:

assessments (required), one row per rating
    patient_id (str), instrument (str, canonical registry name), item (Int64, NA for a
    total score), score (float64, integer-valued, within the instrument's range),
    time_hours (float64, negative = before the first infusion), visit (str, optional label),
    infusion_number (Int64, optional), source_row (int64, the row number in the user's file,
    1 = first data row, for messages).
infusions (one row per infusion; when absent one IV infusion at time 0 is assumed)
    patient_id, infusion_number (int64, 1, 2, ...), time_hours (float64, start; the first is 0),
    dose_mg_per_kg (float64), route (IV, IM, intranasal, sublingual, oral, rectal),
    duration_min (float64, optional).
patients (one row per patient)
    patient_id, age (float64, years), sex (str), diagnosis (MDD, TRD, bipolar, PTSD, other),
    plus any other column kept as a user covariate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "ASSESSMENT_COLUMNS",
    "DIAGNOSES",
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
    """A non-fatal finding: what, how many, and which rows (as numbered in the user's file)."""

    code: str
    message: str
    count: int
    table: str = "assessments"
    rows: tuple[int, ...] = ()
    patient_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class OutcomeData:
    """A validated infusion-outcome dataset (see the module docstring for the columns).

    Treat the tables as read-only: every analysis function takes an OutcomeData and returns
    a new result, it never changes the data. ``truth`` holds the simulator's parameters for
    simulated data (None otherwise).
    """

    assessments: pd.DataFrame
    infusions: pd.DataFrame
    patients: pd.DataFrame
    warnings: tuple[DataWarning, ...] = ()
    source: str = ""
    truth: Any = None
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
            for table in (self.assessments.drop(columns="source_row", errors="ignore"),
                          self.infusions, self.patients):
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
        return per_instrument

    def __repr__(self) -> str:
        return (f"OutcomeData({self.n_patients} patients, {len(self.assessments)} ratings, "
                f"{len(self.infusions)} infusions, instruments={self.instruments}, "
                f"{len(self.warnings)} warning(s))")
