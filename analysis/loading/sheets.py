"""A workbook kept as a sheet per instrument, read as one table.

Clinics that keep their ratings by hand often give each scale its own sheet: 'MADRS' (Patient,
Baseline, 4h, Day 1, Day 7), 'CADSS' (ID, Pre, Post), perhaps with a 'Patients' sheet (age, sex,
diagnosis) and an 'Infusions' sheet (a row per infusion). :func:`combine_sheets` reads them together:

- each sheet named by an instrument ('MADRS', 'CADSS ratings':
  :func:`analysis.instruments.instrument_named_by`) is read as a table of that instrument: its
  columns named by a time alone are renamed after the sheet ('Baseline' -> 'MADRS Baseline'), or,
  kept as a row per rating (Patient, Visit, Score), it gets its instrument in a column; each
  role's column (id, visit, score ...) takes the first sheet's name for it; the sheets are
  stacked, a row per sheet row, so every rating keeps the sheet and row it was read from
  (:class:`analysis.origins.RowOrigins`: "row 2 of sheet 'CADSS' of clinic.xlsx (spreadsheet
  row 3)"). Sheets without ids, or of the other form than the first, are left out, and said;
- a sheet named like a patients table ('Patients', 'Demographics') adds its columns to its
  patients' rows (one row per patient; a value an instrument sheet gives too must agree);
- a sheet named like an infusions table ('Infusions', 'Sessions', 'Dosing') is the infusions table;
- any other sheet is not read, and said.

A workbook with sheets named assessments, infusions, patients is the table form instead
(:mod:`analysis.loading.reading`), and ``sheet=`` reads one sheet alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.contract import CONTRACT
from analysis.instruments import instrument_named_by
from analysis.loading import validation as v
from analysis.loading.suggest import suggest_for_frame
from analysis.loading.wide import parse_wide_header
from analysis.mapping import Mapping
from analysis.origins import RowOrigins, describe_row
from analysis.readers import RawTable, converted_table, sheet_table

__all__ = ["INFUSION_SHEETS", "PATIENT_SHEETS", "Combined", "combine_sheets", "instrument_sheets"]

PATIENT_SHEETS = frozenset({"patients", "patient", "demographics", "participants", "subjects", "patient info",
                            "patient list"})
INFUSION_SHEETS = frozenset({"infusions", "infusion", "sessions", "session log", "treatments", "dosing", "doses",
                             "infusion log"})


@dataclass(frozen=True)
class Combined:
    """The instrument sheets stacked (``ratings``: a row per sheet row, named by its ``origins``)
    and the infusions sheet when there is one (its own origins), with the problems found combining
    them (reported with validation's)."""

    ratings: RawTable
    infusions: RawTable | None
    problems: tuple[dict, ...] = ()  # found while combining (a patient's value differing between sheets)


def instrument_sheets(names: list[str]) -> dict[str, str]:
    """Sheet name -> the instrument it names ('MADRS', 'phq9' -> 'PHQ-9', 'CADSS ratings' ->
    'CADSS': :func:`analysis.instruments.instrument_named_by`), for the sheets that name one."""
    return {name: scale for name in names if (scale := instrument_named_by(str(name))) is not None}


def _suggestion(table: RawTable, sheet: str) -> Mapping:
    """How one sheet reads on its own (a sheet named by an instrument names that of its columns)."""
    table.frame.attrs["sheet"] = sheet
    return suggest_for_frame(table.frame.drop(columns="source_row"))


def _instrument_frame(table: RawTable, sheet: str, scale: str, mapping: Mapping,
                      names: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """One instrument sheet as its rows will be stacked: a column per role named as on the first
    sheet (``names``: role -> column, the id, visit, score ...), its time-only columns named after
    the sheet ('Baseline' -> 'MADRS Baseline'), and in a sheet of a row per rating, its instrument
    in a column. Returns the frame and the time-only columns renamed."""
    frame = table.frame
    renames = {column: f"{scale} {column}" for column, spec in mapping.wide_columns.items()
               if spec[0] == scale and parse_wide_header(column) is None and f"{scale} {column}" not in frame}
    roles = {column: names[role] for role, column in mapping.columns.items() if role in names}
    frame = _renamed(frame.rename(columns=renames), roles, sheet)
    if "score" in mapping.columns and "instrument" not in mapping.columns:
        frame[names["instrument"]] = scale
    return frame, renames


def _renamed(frame: pd.DataFrame, renames: dict[str, str], sheet: str) -> pd.DataFrame:
    """``frame`` with ``renames``; a column already called as one of the new names keeps its data
    under ``'<name> (<sheet>)'``."""
    renames = {old: new for old, new in renames.items() if old != new}
    clashes = {new: f"{new} ({sheet})" for new in renames.values() if new in frame and new not in renames}
    return frame.rename(columns={**clashes, **renames})


@dataclass(frozen=True)
class _PatientSheet:
    """What a patients sheet adds: the stacked frame with its columns, where each value was read
    (:data:`analysis.origins.VALUE_ORIGIN_COLUMNS`), notes, and problems (validation's form)."""

    frame: pd.DataFrame
    origins: pd.DataFrame | None
    notes: list[str]
    problems: list[dict]


def _problem(message: str, row: int, column: str, location: str, value: object = "") -> dict:
    return {"table": "patients", "row": row, "column": column, "value": v._show(value), "message": message,
            "location": location}


def _patient_values(frame: pd.DataFrame, patients: RawTable, sheet: str, id_name: str,
                    origin: RowOrigins) -> _PatientSheet:
    """The stacked ``frame`` with the patients sheet's columns on its patients' rows. A patient
    listed twice, or a value an instrument sheet gives differently, is a problem (``origin`` names
    the stacked rows); a sheet without an id column is not read, and said."""
    id_column = _suggestion(patients, sheet).columns.get("patient_id")
    if id_column is None:
        return _PatientSheet(frame, None, [f"{patients.name} has no patient id column to match its rows to the "
                                           "ratings: not read (add one, e.g. 'Patient')"], [])
    table = _renamed(patients.frame, {id_column: id_name}, patients.name)
    ids = table[id_name].astype("string").str.strip().replace("", pd.NA)
    notes = [f"{int(ids.isna().sum())} row(s) of {patients.name} without a patient id were not read (rows "
             f"{', '.join(map(str, table.loc[ids.isna(), 'source_row'][:10]))})"] if ids.isna().any() else []
    table, ids = table[ids.notna().to_numpy()], ids.dropna()
    again = ids.duplicated().to_numpy()
    first_rows = table.groupby(ids.to_numpy())["source_row"].transform("first").to_numpy()
    problems = [_problem(f"patient {pid} is listed again on {patients.name} (first on row {first}): a patients "
                         "sheet has one row per patient.", row, id_name, describe_row(patients.name, row, f"patient {pid}"))
                for pid, row, first in zip(ids[again], table["source_row"].to_numpy()[again].tolist(),
                                           first_rows[again].tolist(), strict=True)][:v.MAX_ROWS_PER_CHECK]
    table, ids = table[~again], ids[~again]
    columns = [c for c in table.columns if c not in {id_name, "source_row"}]
    by_id = table.assign(**{id_name: ids.to_numpy()}).set_index(id_name)
    keys = frame[id_name].astype("string").str.strip()
    for column in columns:
        values = pd.Series(by_id[column].reindex(keys).to_numpy(), index=frame.index)
        if column in frame:
            both = np.flatnonzero(frame[column].notna().to_numpy() & values.notna().to_numpy())
            own, given = frame[column].iloc[both].map(v._show), values.iloc[both].map(v._show)
            differ = both[(own != given).to_numpy()]
            for position in differ[np.unique(keys.iloc[differ], return_index=True)[1]][:v.MAX_ROWS_PER_CHECK]:
                row = int(by_id.loc[keys.iloc[position], "source_row"])
                problems.append(_problem(
                    f"patient {keys.iloc[position]}'s {column!r} is {own[position]} here but {given[position]} on "
                    f"{patients.name} (row {row}): give each patient one value, or leave one of them empty.",
                    int(origin.rows[position]), column, origin.describe(int(position)), own[position]))
            # (patients whose sheets disagree keep their instrument sheets' value: reported once, above)
            values = frame[column].where(frame[column].notna() | keys.isin(keys.iloc[differ]), values)
        frame[column] = values.to_numpy()
    unrated = by_id.index.difference(pd.Index(keys.dropna().unique()))
    if len(unrated):
        notes.append(f"{len(unrated)} patient(s) of {patients.name} have no ratings on the instrument sheets: "
                     f"{', '.join(map(str, unrated[:10]))}{' ...' if len(unrated) > 10 else ''}")
    given = np.argwhere(by_id[columns].notna().to_numpy())
    origins = pd.DataFrame({
        "patient_id": by_id.index.to_numpy(dtype=object)[given[:, 0]],
        "column": [v._SINGLE_MAP.get(v._key(c), c) for c in np.asarray(columns, dtype=object)[given[:, 1]]],
        "file": patients.name, "row": by_id["source_row"].to_numpy()[given[:, 0]], "line": pd.NA})
    return _PatientSheet(frame, origins, notes, problems)


def _sheet_of(raw: RawTable, names: frozenset[str]) -> str | None:
    return next((s for s in raw.sheets if str(s).strip().lower() in names), None)


def combine_sheets(raw: RawTable) -> Combined | None:
    """The workbook ``raw`` (all its sheets read) as one table when two or more sheets are named
    by an instrument (see the module); None otherwise."""
    named = instrument_sheets(list(raw.sheets))
    scales = dict(named)
    if len(scales) < 2:
        return None
    tables = {sheet: sheet_table(raw, sheet, "file") for sheet in scales}
    mappings = {sheet: _suggestion(table, sheet) for sheet, table in tables.items()}
    # A sheet without patient ids (a scoring key, a chart) cannot be matched to patients; one of a
    # row per rating beside sheets of a column per visit (or the reverse) is read alone: not read.
    usable = [sheet for sheet in scales if "patient_id" in mappings[sheet].columns]
    long = {sheet: "score" in mappings[sheet].columns for sheet in usable}
    scales = {sheet: scales[sheet] for sheet in usable if long[sheet] == long[usable[0]]} if usable else {}
    if len(scales) < 2:
        return None
    # Each role's column named as on the first sheet that has it ('Patient' for 'ID', 'Score' for 'Total').
    names: dict[str, str] = {"instrument": "Instrument"}
    for sheet in scales:
        for role, column in mappings[sheet].columns.items():
            names.setdefault(role, column)
    id_name = names["patient_id"]
    tables = {sheet: tables[sheet] for sheet in scales}
    read = [_instrument_frame(tables[sheet], sheet, scale, mappings[sheet], names) for sheet, scale in scales.items()]
    frames = [frame for frame, _ in read]
    stacked = pd.concat([f.drop(columns="source_row") for f in frames], ignore_index=True, sort=False)
    stacked.attrs = {}  # (a sheet's name there would name the instrument of every column)
    labels = [tables[s].name for s in scales]  # "sheet 'MADRS' of clinic.xlsx"
    files = pd.Categorical(np.repeat(labels, [len(f) for f in frames]), categories=labels)
    rows = np.concatenate([f["source_row"].to_numpy(dtype=np.int64) for f in frames])
    patients_sheet, infusions_sheet = _sheet_of(raw, PATIENT_SHEETS), _sheet_of(raw, INFUSION_SHEETS)
    added = _PatientSheet(stacked, None, [], []) if patients_sheet is None else _patient_values(
        stacked, sheet_table(raw, patients_sheet, "patients"), patients_sheet, id_name,
        RowOrigins(files, rows, stacked[id_name]))
    stacked, notes = added.frame, added.notes
    ratings = converted_table(stacked, "file", raw.name, RowOrigins(files, rows, stacked[id_name],
                                                                    values=added.origins))
    infusions, infusion_renames = _infusion_table(sheet_table(raw, infusions_sheet, "infusions")) \
        if infusions_sheet is not None else (None, {})
    first_long = long[next(iter(scales))]
    left_out = [f"{s!r} ({'no patient id column' if s not in long else 'a column per visit' if first_long else 'a row per rating'})"
                for s in named if s not in scales]
    unread = [str(s) for s in raw.sheets if s not in {*named, patients_sheet, infusions_sheet}]
    example = next(((sheet, old, new) for sheet, (_, renames) in zip(scales, read, strict=True)
                    for old, new in renames.items()), None)
    how = (f" (the columns named by a time alone are ratings of their sheet's instrument: {example[1]!r} of sheet "
           f"{example[0]!r} read as {example[2]!r})" if example else
           " (a row per rating on each: the instrument is the sheet's)" if first_long else "")
    infusions_how = f" ({', '.join(f'{a!r} as {b}' for a, b in infusion_renames.items())})" if infusion_renames else ""
    ratings.notes[:0] = [
        f"{raw.name} has a sheet per instrument: {', '.join(map(repr, scales))} read together{how}"
        + (f"; not read with them: {', '.join(left_out)} (read each alone with sheet=...)" if left_out else "")
        + (f"; sheet {patients_sheet!r} read as the patients' columns" if patients_sheet else "")
        + (f"; sheet {infusions_sheet!r} as the infusions{infusions_how}" if infusions_sheet else "")
        + (f"; not read: {', '.join(map(repr, unread))} (read a sheet alone with sheet=...)" if unread else ""),
        *raw.hidden_note(), *(note for table in tables.values() for note in table.notes), *notes]
    ratings.frame.attrs["sheets"] = ratings.notes[0]  # said by the mapping too (Mapping.describe)
    return Combined(ratings, infusions, tuple(added.problems))


_INFUSION_NAMES = frozenset(s.name for s in CONTRACT if s.table == "infusions")


def _infusion_table(table: RawTable) -> tuple[RawTable, dict[str, str]]:
    """The infusions sheet as the infusions table: its columns named as the contract's, read as a
    rating sheet's would be ('Patient', 'Session #', 'Date', 'Dose (mg/kg)'; a date is the
    infusion's, times in other units become hours), its rows numbered by position and named by
    origins like the ratings'. Returns the table and the columns renamed."""
    frame = table.frame.copy()
    suggestion = suggest_for_frame(frame.drop(columns="source_row"))
    renames = {}
    for role, column in suggestion.columns.items():
        name = "infusion_date" if role == "assessment_date" else role
        if name in v.TIME_COLUMNS and name != "time_hours":  # days, weeks ... since the first infusion
            frame[column] = v._number(frame[column], table.decimal_comma)[0] * v.TIME_COLUMNS[name]
            name = "time_hours"
        if name in _INFUSION_NAMES and column != name:
            renames[column] = name
    frame = frame.rename(columns=renames)
    patients = frame["patient_id"] if "patient_id" in frame else pd.Series([pd.NA] * len(frame))
    origins = RowOrigins(pd.Categorical([table.name] * len(frame)), frame["source_row"].to_numpy(dtype=np.int64),
                         patients.reset_index(drop=True))
    positioned = converted_table(frame.drop(columns="source_row"), table.table, table.name, origins)
    positioned.notes = table.notes
    return positioned, renames
