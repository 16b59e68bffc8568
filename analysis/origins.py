"""Where each rating of a converted source (CDISC datasets, a REDCap export) was read from.

A CDISC or REDCap source is converted to one row per rating before validation; its ratings come
from several files (QS and RS, ADaM BDS datasets, a records export), whose row numbers overlap:
"row 12" alone does not say which file. :class:`RowOrigins` keeps, per rating, the file and its
row there, and writes them in words for every message that names a row:

- a SAS dataset: ``"rs.xpt row 12 (USUBJID 01-701-1015, RSTESTCD HAMD117)"`` (row 12 = the 12th
  observation);
- a CSV file (a REDCap export): ``"line 14 of data.csv (record 3)"``, the line as a spreadsheet
  shows it, the header being line 1 (blank lines count, as they show as empty rows). When a
  quoted text field above spans several lines, a text editor shows the record further down, and
  both are given.

The readers (:func:`analysis.cdisc.to_long` and :func:`analysis.redcap.to_long` with
``origins=True``) return the columns :data:`ORIGIN_COLUMNS`; the loader keeps them here, out of
validation, and puts ``source_file`` (categorical) beside ``source_row`` in the validated tables.
A patient-level value (age, sex, a covariate) is repeated on every rating but was read from one
record (a REDCap demographics form at the enrolment event, a DM observation): the reader says
which in the long frame's ``attrs["value_origins"]`` (:data:`VALUE_ORIGIN_COLUMNS`), and problems and
warnings about the patients table name that record, not the patient's first rating. Infusions
(CDISC EX doses, a REDCap infusion form) are a table of their own
(:mod:`analysis.loading.attached`) with the same origin columns, one :class:`RowOrigins` for them:
problems about the infusions table name the dose's record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.identifiers import looks_identifying, mask_value

__all__ = ["ORIGIN_COLUMNS", "VALUE_ORIGIN_COLUMNS", "RowOrigins", "describe_row"]

# Columns a converted source's long frame carries about each rating's origin (the last two optional):
# the file, its data row (1 = the first row under the header; a CSV's line is row + 1, blank lines
# counted), the line of the file where the record starts (CSV only, when a quoted field spans lines),
# and text naming the record besides the patient (e.g. "RSTESTCD HAMD117").
ORIGIN_COLUMNS = ("source_file", "source_file_row", "source_file_line", "source_record")
# Where each patient's value of a patient-level column was read (one row per patient and column; the
# line may be missing): the frame a reader leaves in its long frame's ``attrs["value_origins"]``.
VALUE_ORIGIN_COLUMNS = ("patient_id", "column", "file", "row", "line")


def _file_kind(name: str) -> str:
    if name.startswith("sheet '"):  # a workbook's sheet, as analysis.readers.sheet_table names it
        return "sheet"
    suffix = Path(name).suffix.lower()
    return {".xpt": "sas", ".xport": "sas", ".sas7bdat": "sas", ".csv": "csv"}.get(suffix, "dataset")


def describe_row(file: str, row: int, about: str = "", text_line: int | None = None) -> str:
    """Data row ``row`` (1 = the first under the header) of ``file`` in words: "rs.xpt row 12 (about)",
    or for a CSV file its line as a spreadsheet shows it, "line 13 of data.csv (about)", with the line
    a text editor shows (``text_line``) when a quoted field above spans several lines."""
    suffix = f" ({about})" if about else ""
    if _file_kind(file) == "sheet":
        return f"row {row} of {file} (spreadsheet row {row + 1}{'; ' + about if about else ''})"
    if _file_kind(file) != "csv":
        return f"{file} row {row}{suffix}"
    line = row + 1
    if text_line is None or text_line == line:
        return f"line {line} of {file}{suffix}"
    return (f"line {line} of {file} as a spreadsheet shows it (line {text_line} in a text editor: a quoted field "
            f"above spans several lines){suffix}")


@dataclass(frozen=True)
class RowOrigins:
    """Per rating (position = validation's ``source_row`` - 1): its file, its row there and words
    naming the record. ``patient_label`` names the patient id in messages ("USUBJID", "record")."""

    files: pd.Categorical
    rows: np.ndarray
    patients: pd.Series = field(repr=False)
    patient_label: str = "patient"
    lines: np.ndarray | None = field(default=None, repr=False)
    records: pd.Categorical | None = field(default=None, repr=False)
    # Where patient-level values were read (:data:`VALUE_ORIGIN_COLUMNS`; see the module), or None
    values: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def pop(cls, long_frame: pd.DataFrame, patient_label: str,
            column_name: Any = lambda column: column) -> RowOrigins:
        """Take the :data:`ORIGIN_COLUMNS` and ``attrs["value_origins"]`` out of a reader's long
        frame (in place); ``column_name`` gives a column's name in validation (aliases resolved)."""
        files = pd.Categorical(long_frame.pop("source_file"))
        rows = long_frame.pop("source_file_row").to_numpy(dtype=np.int64)
        lines = long_frame.pop("source_file_line").to_numpy(dtype=np.int64) \
            if "source_file_line" in long_frame else None
        records = pd.Categorical(long_frame.pop("source_record")) if "source_record" in long_frame else None
        values = long_frame.attrs.pop("value_origins", None)
        if values is not None:
            values = values.assign(patient_id=values["patient_id"].astype(str).str.strip(),
                                   column=values["column"].map(column_name))
        return cls(files, rows, long_frame["patient_id"], patient_label, lines, records, values)

    # ----------------------------------------------------------------------------------------
    # In words

    def file_row(self, position: int, table: str = "", column: str = "") -> int:
        """The row in its file of the rating at ``position`` (0-based); for the patients table,
        of the record its patient's ``column`` (else its first patient-level value) was read from."""
        value = self._value_origin(position, table, column)
        return int(self.rows[position]) if value is None else value[1]

    def file_of(self, position: int) -> str:
        return str(self.files[position])

    def describe(self, position: int, table: str = "", column: str = "") -> str:
        """Where the rating at ``position`` (0-based) is, e.g. "rs.xpt row 12 (USUBJID 01, RSTESTCD HAMD117)";
        for the patients table, where its patient's ``column`` was read (see :meth:`file_row`)."""
        value = self._value_origin(position, table, column)
        if value is not None:
            return describe_row(value[0], value[1], self._record(position, rating=False), value[2])
        return describe_row(self.file_of(position), self.file_row(position), self._record(position),
                            None if self.lines is None else int(self.lines[position]))

    def _keyed(self, table: str) -> bool:
        """Whether ``table``'s values were read from records of their own (not the ratings')."""
        return table == "patients" and self.values is not None

    def _value_origin(self, position: int, table: str, column: str) -> tuple[str, int, int | None] | None:
        """(file, row, line) where the patient of the rating at ``position`` had its ``column`` read
        (else its first patient-level value), for the patients table; None otherwise."""
        if table != "patients" or self.values is None:
            return None
        patient = str(self.patients.iloc[position]).strip()
        by_column, first = self._value_lookup
        found = by_column.get((patient, column)) or first.get(patient)
        if found is None:
            return None
        file, row, line = found
        return str(file), int(row), None if pd.isna(line) else int(line)

    @cached_property
    def _value_lookup(self) -> tuple[dict, dict]:
        """(patient, column) -> (file, row, line), and patient -> its first record with a value (by
        file, then row); built on the first message about the patients table."""
        values = self.values.sort_values(["patient_id", "file", "row"], kind="stable")
        origin = list(zip(values["file"], values["row"], values["line"], strict=True))
        by_column = dict(zip(zip(values["patient_id"], values["column"], strict=True), origin, strict=True))
        first = {}
        for patient, found in zip(values["patient_id"], origin, strict=True):
            first.setdefault(patient, found)
        return by_column, first

    def _record(self, position: int, rating: bool = True) -> str:
        patient = self.patients.iloc[position]
        text = "" if pd.isna(patient) else str(patient).strip()
        if looks_identifying(text):  # an id column the screen refuses (e-mail addresses) is not echoed
            text = mask_value(text) + " (masked: it looks identifying)"
        parts = [f"{self.patient_label} {text}"] if text else []
        if rating and self.records is not None and not pd.isna(self.records[position]):
            parts.append(str(self.records[position]))
        return ", ".join(parts)

    def rows_text(self, positions: np.ndarray, limit: int = 5) -> str:
        """Several ratings' rows by file: "rs.xpt rows 3, 5; qs.xpt row 12" (at most ``limit`` shown)."""
        positions = np.asarray(positions, dtype=np.int64)
        shown = positions[:limit]
        by_file: dict[str, list[int]] = {}
        for position in shown:
            by_file.setdefault(self.file_of(int(position)), []).append(self.file_row(int(position)))
        parts = []
        for file, rows in by_file.items():
            if _file_kind(file) == "csv":
                numbers = ", ".join(str(r + 1) for r in rows)
                parts.append(f"{file} line{'s' if len(rows) > 1 else ''} {numbers}")
            else:
                parts.append(f"{file} row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))}")
        more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
        return "; ".join(parts) + more

    def note(self) -> str:
        """The numbering convention, said once per message."""
        kinds = {_file_kind(str(f)) for f in self.files.categories}
        said = []
        if "sheet" in kinds:
            said.append("a sheet's row N is spreadsheet row N + 1, as for any Excel file")
        if kinds - {"csv", "sheet"}:
            said.append("a dataset's row N is its N-th observation, 1 = the first")
        if "csv" in kinds:
            said.append("lines of a CSV file as a spreadsheet shows them: the header is line 1, blank lines count")
        return "; ".join(said) + "; each rating names the file it was read from"

    # ----------------------------------------------------------------------------------------
    # On the validated tables

    def rows_of(self, positions: np.ndarray, table: str = "") -> np.ndarray:
        """The row in its file of each rating at ``positions`` (0-based), as :meth:`file_row`."""
        positions = np.asarray(positions, dtype=np.int64)
        if self._keyed(table):
            return np.array([self.file_row(int(p), table) for p in positions], dtype=np.int64)
        return self.rows[positions]

    def files_of(self, positions: np.ndarray, table: str = "") -> list[str]:
        """The file of each rating at ``positions`` (0-based); for the patients table, of the record
        its patient's values were read from (see :meth:`file_row`)."""
        positions = np.asarray(positions, dtype=np.int64)
        if self._keyed(table):
            return [(self._value_origin(int(p), table, "") or (self.file_of(int(p)),))[0] for p in positions]
        return self.files.categories.take(self.files.codes[positions]).tolist()

    def apply(self, data: Any, infusions: RowOrigins | None = None) -> Any:
        """``data`` (OutcomeData validated with positions as ``source_row``) with every table's
        ``source_row`` the row in its file, ``source_file`` (categorical) beside it, and the
        warnings' rows translated likewise (a patient's: the record its values were read from).
        ``infusions``: the origins of an infusions table the reader gave of its own (its rows are
        positions in that table, not ratings)."""
        def origin(table: str) -> RowOrigins:
            return infusions if table == "infusions" and infusions is not None else self

        changes: dict[str, Any] = {}
        for name in ("assessments", "infusions", "patients", "events"):
            table = getattr(data, name, None)
            if table is None or "source_row" not in table.columns:
                continue
            positions = table["source_row"].to_numpy(dtype=np.int64) - 1
            files = origin(name).files
            table = table.copy(deep=False)  # new columns only; the others stay shared
            table["source_row"] = origin(name).rows[positions]
            at = table.columns.get_loc("source_row") + 1
            table.insert(at, "source_file", pd.Categorical.from_codes(files.codes[positions],
                                                                      categories=files.categories))
            changes[name] = table
        changes["warnings"] = tuple(
            replace(w, rows=tuple(origin(w.table).rows_of(np.asarray(w.rows, dtype=np.int64) - 1, w.table).tolist()))
            if w.rows else w for w in data.warnings)
        return replace(data, **changes, _fingerprint=[])
