"""REDCap exports (records + data dictionary, optionally events) read into the long single-file form
(ratings), with the infusions of an infusion form as a table of their own.

::

    from analysis import redcap
    project = redcap.read("export/")        # data.csv, dictionary.csv, event.csv (optional)
    mapping = redcap.suggest(project.records, project.dictionary, project.events)
    long_frame, notes = redcap.to_long(project.records, project.dictionary, project.events, mapping)
    infusions = long_frame.attrs["infusions"].frame  # when the project has an infusion form
    data = analysis.load("export/")                  # all of it: ratings, infusions, covariates

**Reading rules**, in this order (each one that applies is said in the notes):

1. Fields flagged ``identifier = y`` in the dictionary are dropped before anything else reads
   the records (checkbox columns ``field___code`` included), with a note naming them.
2. Every column that remains, text fields included, goes through the project's identifier
   screen (:func:`analysis.identifiers.find_identifier_columns`; the date fields that time ratings
   and infusions are read aside first and removed, rule 9): a finding refuses the export
   (DataError naming the columns, values masked); ``allow_identifiers=True`` drops them instead.
3. The record id is the first column, whatever its name. ``redcap_event_name`` is the visit,
   labelled with the events export's ``event_name`` when given; its time comes from
   ``visit_times`` (event name or label -> hours since the first infusion) or from a label that
   says it ("Day 7", "week 2", "baseline"); the arm (``_arm_N``) becomes the covariate ``arm``.
   Repeating instruments: each ``redcap_repeat_instance`` is its own rating, its visit labelled
   "<event> #<instance>".
4. Ratings: a form or field whose name is a registered instrument (form ``madrs`` or field
   ``madrs_total``; items ``madrs_1`` ... ``madrs_10``), or ``columns={"score": field}`` with
   ``instrument=``. Other fields with one value per record become patient covariates; radio,
   dropdown, yes/no and true/false codes are decoded with the dictionary's choices, checkboxes
   (``field___code``) become one text covariate listing the checked labels. Free-text paragraph
   fields (type ``notes``) and file uploads are not read.
5. ``<form>_complete`` is the form status (0 incomplete, 1 unverified, 2 complete); a blank
   status (a form never opened, "gray", in exports that write blank instead of 0) is read as
   not started, and the form's fields on that row as not collected.
6. Decimal commas: fields validated ``number_comma_decimal`` (and ``number_Ndp_comma_decimal``)
   are read with the comma as decimal mark.
7. A label-style export (column headers are field labels, values are choice labels) is
   detected and read back to field names and codes.
8. Rows: a problem names the line of the records export as a spreadsheet shows it (the header is
   line 1; blank lines count, and are not records), and the line a text editor shows when a quoted
   field above spans several lines (:mod:`analysis.origins`); a patient-level value (an age entered
   once at an enrolment event) names the record it was read from. A line with more cells than the
   header, a score that is not a number, a code that is not among a field's choices and a
   dictionary choice without its comma are named with their lines.
9. Dates and infusions: a date field (text validated ``date_*``/``datetime_*``, or named as a
   date) on a rating form times that form's ratings; a visit date of another form on the same
   record row (``visit_date``) times forms without one. The infusion form (named ``infusion``,
   ``dosing``, ``ketamine`` ... with a dose or a date, else one holding a dose field; never a form
   about other medicines such as ``medication_history``) gives an infusion per
   record row where it holds a value: date, dose (``dose_mg_per_kg``, or ``dose_mg`` divided by
   the form's or the record's weight), route (decoded), duration. Dates become hours since the
   record's first infusion by :mod:`analysis.loading.calendar` (two datetimes give exact hours; a
   date alone gives its day, placed within it by the event's time: "4h" on an infusion day is 4 h
   after that day's infusion); without infusion dates, the events' times are
   used and the dates dropped, said. Unreadable dates are refused by line, never shown. Other
   date fields (birth, enrolment) are left to the screen (rule 2), which refuses them.
   ``columns={"assessment_date" | "infusion_date" | "dose_mg_per_kg" | "dose_mg" | "route" |
   "weight_kg" | "duration_min": field}`` overrides the guesses.

Reference: REDCap data dictionary and export formats (Vanderbilt, REDCap Help & FAQ "Data
Dictionary", "Data Export"); test projects from OuhscBbmc/REDCapR ``inst/test-data/projects``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import DataError, column_specs, problems_frame
from analysis.identifiers import find_identifier_columns
from analysis.instruments import get_instrument, resolve_instrument_names
from analysis.loading import calendar
from analysis.loading.attached import attach_infusions
from analysis.loading.times import PRE_INFUSION_HOURS, parse_visit_label, placement_hours
from analysis.loading.vocabularies import key
from analysis.origins import VALUE_ORIGIN_COLUMNS, describe_row

__all__ = ["FIELD_ROLES", "RECORDS_FILES", "RedcapProject", "dictionary_frame", "event_label", "read", "suggest",
           "to_long"]

# Data dictionary headers, web ("Variable / Field Name") and API ("field_name") style.
_DICTIONARY_HEADERS = {
    "field_name": ("field_name", "variable / field name", "variable_field_name"),
    "form_name": ("form_name", "form name"),
    "field_type": ("field_type", "field type"),
    "field_label": ("field_label", "field label"),
    "choices": ("select_choices_or_calculations", "choices, calculations, or slider labels"),
    "validation": ("text_validation_type_or_show_slider_number", "text validation type or show slider number"),
    "identifier": ("identifier", "identifier?"),
}
_SYSTEM = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group",
           "redcap_survey_identifier"}
_LABEL_SYSTEM = {"event name": "redcap_event_name", "repeat instrument": "redcap_repeat_instrument",
                 "repeat instance": "redcap_repeat_instance", "data access group": "redcap_data_access_group",
                 "survey identifier": "redcap_survey_identifier"}
_CODED = {"radio", "dropdown", "yesno", "truefalse"}
_YESNO = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}
_STATUS = {"0": "incomplete", "1": "unverified", "2": "complete"}
_TOTAL = re.compile(r"(?:^|_)(?:total|tot|score|sum)(?:_|$)", re.IGNORECASE)
# An item number follows a separator, then perhaps "q"/"item" ("madrs_10", "phq9_q1", "bdi.item3"); digits
# right after the name ("phq9", "madrs10") are part of the instrument's name.
_ITEM = re.compile(r"^(?P<stem>.+?)[_.](?:q|item|i)?[_.]?(?P<n>\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class RedcapProject:
    """A REDCap export: records, data dictionary (normalised headers) and events (or None)."""

    records: pd.DataFrame
    dictionary: pd.DataFrame
    events: pd.DataFrame | None = None
    source: str = ""


def _error(message: str, headline: str, column: str = "") -> DataError:
    return DataError(problems_frame([{"table": "file", "row": pd.NA, "column": column, "value": "",
                                      "message": message}]), headline=headline)


def _read_csv(source: Any) -> pd.DataFrame:
    """A REDCap CSV export (path or buffer), every cell as text ("" when empty), with ``attrs``:
    ``source`` (the file name), ``rows`` (each record's data row: its line as a spreadsheet shows
    it, minus the header line; blank lines count, as they show as empty rows) and ``lines`` (the
    line where the record starts in a text editor, further down than the spreadsheet's when a
    quoted field above spans several lines). Blank lines and rows of empty cells are not records.

    One parser (the csv module) gives both the cells and the line numbers, so they cannot disagree;
    REDCap exports are small enough (thousands of records) for its row-by-row reading.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    name = getattr(source, "name", source)
    file = Path(str(name)).name if isinstance(name, (str, Path)) else "the uploaded export"
    content = Path(source).read_bytes() if isinstance(source, (str, Path)) else \
        source.getvalue() if hasattr(source, "getvalue") else source.read()
    if isinstance(content, str):
        content = content.encode("utf-8")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:  # an export re-saved by Excel on Windows
        text = content.decode("cp1252", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise _error(f"{file} is empty: export the records (or the data dictionary) again.", f"{file} is empty.")
    width = len(header)
    cells: list[list[str]] = []
    rows: list[int] = []
    lines: list[int] = []
    previous, spreadsheet_row = reader.line_num, 1
    for record in reader:
        spreadsheet_row += 1
        start, previous = previous + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            where = describe_row(file, spreadsheet_row - 1, "", start)
            raise _error(f"{where} has {len(record)} cells but the header (line 1) has {width}: a text value "
                         "holding a comma or a quote was probably not enclosed in double quotes. Export the file "
                         "from REDCap again, or correct that line.", f"{file} cannot be read as a REDCap export.")
        cells.append(record[:width] + [""] * (width - len(record)))
        rows.append(spreadsheet_row - 1)
        lines.append(start)
    frame = pd.DataFrame(cells, columns=_distinct(header), dtype=object)
    frame.attrs.update(source=file, rows=np.asarray(rows, dtype=np.int64), lines=np.asarray(lines, dtype=np.int64))
    return frame


def _distinct(header: list[str]) -> list[str]:
    """Column names made distinct as pandas does ("Complete?", "Complete?.1", ...)."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out


def read(source: Any) -> RedcapProject:
    """Read a REDCap export from a folder (``data.csv`` or ``records.csv``, ``dictionary.csv`` or
    ``metadata.csv``, optional ``event.csv``/``events.csv``) or a dict of names -> files/frames.

    Every cell is read as text (codes keep leading zeros; decimal commas are handled later).
    """
    if isinstance(source, MappingABC):
        named = {Path(str(k)).stem.lower(): v for k, v in source.items()}
    elif isinstance(source, (str, Path)) and Path(source).is_dir():
        named = {p.stem.lower(): p for p in sorted(Path(source).iterdir()) if p.suffix.lower() == ".csv"}
    else:
        raise _error(f"{source} is not a REDCap export folder: give the folder holding the records export "
                     "(data.csv) and the data dictionary (dictionary.csv).", "No REDCap export found.")
    pick = lambda *names: next((named[n] for n in names if n in named), None)  # noqa: E731
    records = pick(*RECORDS_FILES)
    dictionary = pick("dictionary", "data_dictionary", "datadictionary", "metadata")
    events = pick("event", "events")
    if records is None or dictionary is None:
        raise _error(f"the REDCap export needs the records (data.csv) and the data dictionary "
                     f"(dictionary.csv); found: {', '.join(named) or 'nothing'}.", "The REDCap export is incomplete.")
    return RedcapProject(_read_csv(records), _read_csv(dictionary),
                         _read_csv(events) if events is not None else None, str(source))


def dictionary_frame(dictionary: pd.DataFrame) -> pd.DataFrame:
    """The dictionary with standard columns (field_name, form_name, field_type, field_label,
    choices, validation, identifier), whichever header style (web or API) it was exported in, and
    ``row``: the field's row in the dictionary file (its line as a spreadsheet shows it, minus 1)."""
    lowered = {str(c).strip().lower(): c for c in dictionary.columns}
    out = {}
    for name, spellings in _DICTIONARY_HEADERS.items():
        column = next((lowered[s] for s in spellings if s in lowered), None)
        if column is None and name in {"field_name", "field_type"}:
            raise _error(f"the data dictionary has no {spellings[0]!r} (or {spellings[1]!r}) column: export "
                         "the data dictionary from REDCap (Project Setup > Data Dictionary).",
                         "The REDCap data dictionary cannot be read.", name)
        out[name] = dictionary[column].astype("string").fillna("").str.strip() if column is not None \
            else pd.Series("", index=dictionary.index, dtype="string")
    frame = pd.DataFrame(out)
    frame["row"] = np.asarray(dictionary.attrs.get("rows", np.arange(1, len(dictionary) + 1)), dtype=np.int64)
    frame["field_type"] = frame["field_type"].str.lower()
    frame["identifier"] = frame["identifier"].str.lower().isin(["y", "yes", "1"])
    return frame[frame["field_name"] != ""].reset_index(drop=True)


def _number_fields(fields: pd.DataFrame, present: set[str], limit: int = 6) -> list[str]:
    """Fields in the records that the dictionary says hold numbers (calc, or text validated as
    integer/number): the candidates for a score field, named in messages."""
    numeric = (fields["field_type"] == "calc") | fields["validation"].str.lower().str.startswith(("integer", "number"))
    return [f for f in fields.loc[numeric, "field_name"] if f in present][:limit]


def _score_hint(fields: pd.DataFrame, present: set[str]) -> str:
    """"; number fields: a, b" (or "") for the no-rating-field messages."""
    candidates = _number_fields(fields, present)
    return f"; number fields in the export: {', '.join(candidates)}" if candidates else ""


def _check_choices(fields: pd.DataFrame, file: str, notes: list[str]) -> None:
    """A coded field whose choices are not 'code, label | ...' cannot be decoded: said with its line."""
    coded = fields[fields["field_type"].isin(["radio", "dropdown", "checkbox"]) & (fields["choices"] != "")]
    for field in coded.itertuples(index=False):
        broken = [part.strip() for part in field.choices.split("|") if part.strip() and "," not in part]
        if broken:
            notes.append(f"Field {field.field_name!r} ({describe_row(file, int(field.row))}): the choice "
                         f"{broken[0]!r} has no comma between its code and its label (write '0, Female | 1, Male'); "
                         "values with that code are kept as written, not decoded.")


def _choices(text: str) -> dict[str, str]:
    """'0, Female | 1, Male' -> {'0': 'Female', '1': 'Male'}."""
    out = {}
    for part in str(text).split("|"):
        code, _, label = part.partition(",")
        if code.strip():
            out[code.strip()] = label.strip()
    return out


def _split(records: Any, dictionary: Any, events: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Accept (records, dictionary, events), a RedcapProject, or a dict of frames as the loader gives."""
    if isinstance(records, RedcapProject):
        return records.records, records.dictionary, records.events
    if isinstance(records, MappingABC):
        project = read(records)
        return project.records, project.dictionary, project.events
    if dictionary is None:
        raise _error("a REDCap records export needs its data dictionary to be read (codes, forms and "
                     "identifier flags are in it): pass dictionary= (Project Setup > Data Dictionary).",
                     "The REDCap data dictionary is missing.")
    return _read_csv(records), _read_csv(dictionary), None if events is None else _read_csv(events)


# --------------------------------------------------------------------------------------------
# Steps


def _drop_flagged(records: pd.DataFrame, fields: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Step 1: remove every column of a field flagged identifier = y (before anything reads them)."""
    flagged = fields.loc[fields["identifier"], "field_name"].tolist()
    id_column = records.columns[0]
    if id_column in flagged:
        raise _error(f"the record id field {id_column!r} is flagged as an identifier in the data dictionary: "
                     "export with pseudonymous record ids (REDCap's de-identified export) and load that.",
                     "The REDCap record id is identifying.", str(id_column))
    columns = [c for c in records.columns if c in flagged or str(c).split("___")[0] in flagged]
    if columns:
        notes.append(f"Fields flagged identifier = y in the data dictionary were dropped before reading: "
                     f"{', '.join(flagged)}.")
    return records.drop(columns=columns)


def _label_style(records: pd.DataFrame, fields: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Step 7: headers written as field labels -> field names (checkbox 'Label (choice=X)' too)."""
    names = set(fields["field_name"])
    plain = [str(c) for c in records.columns]
    known = sum(c in names or c.split("___")[0] in names or c in _SYSTEM or c.endswith("_complete")
                for c in plain[1:])
    if known >= max(1, (len(plain) - 1) / 2):
        return records
    by_label = {}
    for row in fields.itertuples(index=False):
        by_label.setdefault(row.field_label.strip().lower(), row.field_name)
        if row.field_type == "checkbox":
            for code, label in _choices(row.choices).items():
                by_label[f"{row.field_label.strip().lower()} (choice={label.lower()})"] = f"{row.field_name}___{code}"
    forms = list(dict.fromkeys(fields["form_name"]))
    # By position: several forms' status columns are all headed "Complete?", in form order.
    renamed, statuses, found = [plain[0]], iter(forms), 0
    for column in plain[1:]:
        low = column.strip().lower()
        name = _LABEL_SYSTEM.get(low) or (f"{next(statuses, 'form')}_complete" if re.fullmatch(r"complete\?(?:\.\d+)?", low)
                                                   else None) \
            or by_label.get(low)
        found += name is not None
        renamed.append(name or column)
    if found < (len(plain) - 1) / 2:
        return records
    notes.append(f"Label-style export detected (headers are field labels): {found} column(s) read back to "
                 "field names; choice labels are decoded as labels.")
    records = records.copy()
    records.columns = renamed
    return records


def _screen(records: pd.DataFrame, allow_identifiers: bool, notes: list[str]) -> pd.DataFrame:
    """Step 2: the identifier screen on every column left, text fields included."""
    judged = records.drop(columns=[c for c in records.columns if c in _SYSTEM or str(c).endswith("_complete")])
    findings = find_identifier_columns(judged, known_columns=frozenset({judged.columns[0]}))
    findings = [f for f in findings if f.column != judged.columns[0]]
    if not findings:
        return records
    described = "; ".join(f"{f.column!r} {f.describe()}" for f in findings)
    if not allow_identifiers:
        problems = [{"table": "records", "row": pd.NA, "column": f.column, "value": f.example,
                     "message": f"Field {f.column!r} {f.describe()}. Identifying information is not accepted: "
                                "remove the field from the export, flag it identifier = y in the data dictionary "
                                "(it is then dropped), or in your own script pass allow_identifiers=True."}
                    for f in findings]
        raise DataError(problems_frame(problems), headline=f"The REDCap export has {len(findings)} field(s) "
                        "that look identifying.")
    notes.append(f"Fields looking like identifiers dropped (allow_identifiers=True): {described}.")
    return records.drop(columns=[f.column for f in findings])


def _numbers(series: pd.Series, comma: bool) -> pd.Series:
    text = series.astype("string").str.strip().replace("", pd.NA)
    if comma:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _status_blank(records: pd.DataFrame, fields: pd.DataFrame, notes: list[str]) -> dict[str, np.ndarray]:
    """Step 5: per form, rows where the form was not started (status 0 with no data, or blank)."""
    not_started = {}
    blank_forms = []
    for form in dict.fromkeys(fields["form_name"]):
        column = f"{form}_complete"
        if column not in records.columns:
            continue
        status = records[column].astype("string").str.strip().fillna("")
        blank = (status == "").to_numpy()
        if blank.any():
            blank_forms.append(form)
        not_started[form] = blank
    if blank_forms:
        notes.append(f"Blank form status (a form never opened, exported blank instead of 0) read as not started "
                     f"for {', '.join(blank_forms)}.")
    return not_started


# --------------------------------------------------------------------------------------------
# Converting


def _settings(mapping: Any) -> dict[str, Any]:
    get = (lambda k, d: mapping.get(k, d)) if isinstance(mapping, dict) else \
        (lambda k, d: getattr(mapping, k, d) if mapping is not None else d)
    return {"columns": dict(get("columns", {}) or {}), "instrument": get("instrument", None),
            "visit_times": dict(get("visit_times", {}) or {}), "value_maps": dict(get("value_maps", {}) or {})}


def _rating_fields(fields: pd.DataFrame, present: set[str], settings: dict[str, Any]) -> pd.DataFrame:
    """Fields holding ratings: field_name, instrument, item (NA = total)."""
    score = settings["columns"].get("score")
    rows = []
    if score:
        if score not in present:
            raise _error(f"columns={{'score': {score!r}}}: there is no field {score!r} in the records.",
                         "The mapping names a field that is not in the export.", score)
        named = _rating_fields(fields, present, {**settings, "columns": {}})
        named = named.loc[named["field_name"] == score, "instrument"]
        instrument = settings["instrument"] or (named.iloc[0] if len(named) else None)
        if not instrument:
            raise _error(f"the field {score!r} is read as a score but no instrument is named: pass instrument=, e.g. "
                         f"analysis.load(path, instrument=\"MADRS\", columns={{'score': {score!r}}}).",
                         "The instrument of the REDCap scores is not known.", score)
        rows.append((score, get_instrument(instrument).name, pd.NA))
    else:
        numeric = fields[fields["field_type"].isin(["text", "calc", "radio", "dropdown", "slider"])
                         & fields["field_name"].isin(present)]
        form_instrument = resolve_instrument_names(list(dict.fromkeys(fields["form_name"])))
        for field in numeric.itertuples(index=False):
            name = field.field_name
            stem = _TOTAL.sub("", name) if _TOTAL.search(name) else None
            match = _ITEM.match(name)
            by_form = form_instrument.get(field.form_name)
            if match:
                stem_instrument = resolve_instrument_names([match.group("stem")])[match.group("stem")]
                if stem_instrument or by_form:
                    rows.append((name, stem_instrument or by_form, int(match.group("n"))))
                    continue
            whole = resolve_instrument_names([name])[name]
            if whole:  # a field named as the instrument ("phq9") holds its total
                rows.append((name, whole, pd.NA))
                continue
            if stem is not None:
                instrument = resolve_instrument_names([stem])[stem] or by_form
                if instrument:
                    rows.append((name, instrument, pd.NA))
    out = pd.DataFrame(rows, columns=["field_name", "instrument", "item"])
    out["item"] = out["item"].astype("Int64")
    return out.drop_duplicates("field_name")


def event_label(unique_name: str) -> str:
    """A unique event name as a label when there is no events export: 'day_7_arm_1' -> 'day 7'."""
    return re.sub(r"_arm_\d+$", "", unique_name).replace("_", " ")


def _events(records: pd.DataFrame, events: pd.DataFrame | None, settings: dict[str, Any],
            notes: list[str], dated: bool = False) -> tuple[pd.Series, pd.Series, pd.Series | None]:
    """(visit label, time in hours, arm) per record row from redcap_event_name; ``dated``: the
    ratings have date fields, which time the events whose labels say no time."""
    if "redcap_event_name" not in records.columns:
        return pd.Series(pd.NA, index=records.index, dtype="string"), pd.Series(np.nan, index=records.index), None
    unique = records["redcap_event_name"].astype("string").str.strip()
    labels: dict[str, str] = {}
    if events is not None and {"unique_event_name", "event_name"} <= set(events.columns):
        labels = dict(zip(events["unique_event_name"].astype(str).str.strip(),
                          events["event_name"].astype(str).str.strip(), strict=False))
        notes.append("Visit labels from the events export (event_name of each unique_event_name).")
    distinct = [u for u in pd.unique(unique.dropna())]
    label_of = {u: labels.get(u) or event_label(u) for u in distinct}
    times = {}
    said, missing = [], []
    for event in distinct:
        label = label_of[event]
        given = settings["visit_times"].get(event, settings["visit_times"].get(label))
        if given is not None:
            times[event] = float(given)
            said.append(f"{label!r} = {float(given):g} h (visit_times)")
            continue
        parsed = parse_visit_label(label)
        if parsed is not None:
            times[event] = parsed[0]
            said.append(f"{label!r} = {parsed[0]:g} h ({parsed[1]})")
        else:
            missing.append(label)
    if said:
        notes.append("Event times: " + "; ".join(said) + ".")
    if missing and dated:
        notes.append(f"Events without a time in their labels ({', '.join(map(repr, missing))}): their ratings are "
                     "timed by their dates.")
    elif missing:
        notes.append(f"Events without a time (their labels do not say it): {', '.join(map(repr, missing))}; give "
                     "visit_times={event: hours since the first infusion} to time them, or they are read as visits "
                     "only.")
    arm = unique.str.extract(r"_arm_(\d+)$", expand=False)
    visit = unique.map(label_of).astype("string")
    time = unique.map(times).astype("float64")
    notes.append(f"redcap_event_name read as the visit ({len(distinct)} event(s)); the record id "
                 f"{records.columns[0]!r} (first column) is the patient.")
    return visit, time, arm if arm.notna().any() else None


# --------------------------------------------------------------------------------------------
# Dates and infusions

_DATE_VALIDATION = re.compile(r"^(?:date|datetime|datetime_seconds)_(?:ymd|mdy|dmy)$", re.IGNORECASE)
_DATE_NAME = re.compile(r"(?:^|_)(?:date|datetime|dt|dttm)(?:_|$)", re.IGNORECASE)
# A date field outside the rating forms that dates the whole record row (a visit form's date).
_ROW_DATE_NAME = re.compile(r"visit|assess|rating|session|evaluation", re.IGNORECASE)
_INFUSION_FORM = re.compile(r"infusion|dosing|dose|ketamine|spravato|administration|session", re.IGNORECASE)
# Forms about other medicines (a medication history, concomitant medications): their doses and
# dates are not ketamine infusions.
_OTHER_MEDICINES = re.compile(r"histor|prior|previous|concomitant|conmed|medication|antidepressant", re.IGNORECASE)
_INFUSION_ROLES = ("dose_mg_per_kg", "dose_mg", "weight_kg", "route", "duration_min")
# The mapping's roles this reader honours (``columns={role: field}``), and the records export's file names.
FIELD_ROLES = ("score", "assessment_date", "infusion_date", *_INFUSION_ROLES)
RECORDS_FILES = ("data", "records", "record", "export")
_INFUSION_ALIASES = {key(name): spec.name for spec in column_specs("infusions") if spec.name in _INFUSION_ROLES
                     for name in (spec.name, *spec.aliases)}
_FIELD_PREFIXES = ("infusion_", "inf_", "ketamine_", "ket_", "treatment_")


@dataclass(frozen=True)
class _Timing:
    """Fields that time the ratings and describe the infusions: read here, then removed (dates
    identify people; the loaded data keeps hours since each record's first infusion)."""

    rating_dates: dict[str, str]            # rating form -> the date field timing its ratings
    infusion_form: str | None = None
    infusion_fields: dict[str, str] = dataclass_field(default_factory=dict)  # role -> field (infusion_date, dose ...)

    @property
    def date_fields(self) -> list[str]:
        infusion_date = self.infusion_fields.get("infusion_date")
        return list(dict.fromkeys([*self.rating_dates.values(), *([infusion_date] if infusion_date else [])]))

    @property
    def fields_read(self) -> set[str]:
        """Every field read here (not a covariate)."""
        return set(self.date_fields) | set(self.infusion_fields.values())


def _date_fields(fields: pd.DataFrame, present: set[str]) -> pd.DataFrame:
    """Text fields validated as dates or datetimes (or named as dates, unvalidated) that are in the records."""
    text = fields[(fields["field_type"] == "text") & fields["field_name"].isin(present)]
    validated = text["validation"].str.match(_DATE_VALIDATION.pattern, case=False)
    named = (text["validation"] == "") & text["field_name"].str.contains(_DATE_NAME.pattern, case=False, regex=True)
    return text[validated | named]


def _infusion_role(name: str, form: str, label: str) -> str | None:
    """The infusion column a field of the infusion form holds (``inf_dose_mgkg`` -> dose_mg_per_kg), or None.
    A dose's unit comes from its label when the label says it ("Dose (mg)" is in mg)."""
    whole = key(name)
    stems = [whole] + [whole[len(p):] for p in (f"{key(form)}_", *_FIELD_PREFIXES) if whole.startswith(p)]
    role = next((_INFUSION_ALIASES[s] for s in stems if s in _INFUSION_ALIASES), None)
    if role is None:
        role = next((r for word, r in (("dose", "dose_mg_per_kg"), ("route", "route"), ("weight", "weight_kg"),
                                       ("duration", "duration_min")) if word in whole), None)
    if role in {"dose_mg_per_kg", "dose_mg"}:
        said = label.lower().replace(" ", "")
        if re.search(r"mg/kg|mgperkg|mg\.kg|mgkg", said):
            role = "dose_mg_per_kg"
        elif re.search(r"\bmg\b", label.lower()):
            role = "dose_mg"
    return role


def _timing(fields: pd.DataFrame, present: set[str], rating_fields: pd.DataFrame, settings: dict[str, Any],
            notes: list[str]) -> _Timing:
    """Which date field times each rating form's ratings, and which form (and fields) describe infusions.

    ``columns={"assessment_date": field, "infusion_date": field, "dose_mg_per_kg": field, ...}``
    overrides the guesses. Date fields given no role here (a date of birth, of enrolment) are left
    to the identifier screen, which refuses them.
    """
    columns = settings["columns"]
    for role in ("assessment_date", "infusion_date", *_INFUSION_ROLES):
        if columns.get(role) and columns[role] not in present:
            raise _error(f"columns={{{role!r}: {columns[role]!r}}}: there is no field {columns[role]!r} in the records.",
                         "The mapping names a field that is not in the export.", columns[role])
    dates = _date_fields(fields, present)
    infusion_form, infusion_fields = _infusion_form(fields, present, dates, set(rating_fields["field_name"]), columns)
    rating_dates = _rating_dates(fields, dates, rating_fields, infusion_form, infusion_fields, columns)
    if rating_dates:
        notes.append("Rating dates: " + "; ".join(f"{d!r} dates the {f} ratings" for f, d in rating_dates.items())
                     + " (converted to hours since the record's first infusion when its infusions are dated; "
                     "removed in every case).")
    if infusion_form is not None:
        notes.append(f"Infusions from the form {infusion_form!r}: " + ", ".join(
            f"{role} = {name!r}" for role, name in infusion_fields.items()) + " (one infusion per record row "
            "where the form holds a value).")
    return _Timing(rating_dates, infusion_form, infusion_fields)


def _infusion_form(fields: pd.DataFrame, present: set[str], dates: pd.DataFrame, ratings: set[str],
                   columns: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """The form describing infusions and its fields by role: the mapping's, else the first form
    named like one ("infusion", "dosing", "ketamine" ...) with a dose or a date field, else the
    first form holding a dose field; never a form about other medicines ("medication_history",
    "concomitant_medications")."""
    label_of = dict(zip(fields["field_name"], fields["field_label"], strict=False))
    date_names = set(dates["field_name"])
    by_form = {form: [f for f in group if f in present] for form, group in
               fields.groupby("form_name", sort=False)["field_name"]}
    explicit = [columns[r] for r in ("infusion_date", *_INFUSION_ROLES) if columns.get(r)]
    def holds_dose(form: str) -> bool:
        return any(_infusion_role(f, form, label_of[f]) in {"dose_mg_per_kg", "dose_mg"}
                   for f in by_form[form] if f not in date_names)

    candidates = [form for form in by_form if not _OTHER_MEDICINES.search(form)]
    named = [form for form in candidates if _INFUSION_FORM.search(form)
             and (holds_dose(form) or any(f in date_names for f in by_form[form]))]
    form = fields.set_index("field_name")["form_name"].get(explicit[0]) if explicit else \
        next(iter(named), None) or next((form for form in candidates if holds_dose(form)), None)
    if form is None:
        return None, {}
    roles: dict[str, str] = {}
    for name in by_form[form]:
        role = None if name in date_names or name in ratings else _infusion_role(name, form, label_of[name])
        if role is not None:
            roles.setdefault(role, name)
    form_dates = [f for f in by_form[form] if f in date_names]
    named = [d for d in form_dates if re.search(r"infusion|start|dose|date", d, re.IGNORECASE)]
    if form_dates:
        roles["infusion_date"] = (named or form_dates)[0]
    roles.update({r: columns[r] for r in ("infusion_date", *_INFUSION_ROLES) if columns.get(r)})
    return (form, roles) if roles else (None, {})


def _rating_dates(fields: pd.DataFrame, dates: pd.DataFrame, rating_fields: pd.DataFrame, infusion_form: str | None,
                  infusion_fields: dict[str, str], columns: dict[str, str]) -> dict[str, str]:
    """Rating form -> the date field timing its ratings: the mapping's ``assessment_date``, else the
    form's own date field, else a visit date of another form on the same record row."""
    form_of = dict(zip(fields["field_name"], fields["form_name"], strict=False))
    rating_forms = list(dict.fromkeys(form_of.get(f, "") for f in rating_fields["field_name"]))
    infusion_date = infusion_fields.get("infusion_date")
    visit_dates = [d for d in dates["field_name"] if _ROW_DATE_NAME.search(d) and form_of.get(d) not in rating_forms]
    out = {}
    for form in rating_forms:
        own = [d for d in dates.loc[dates["form_name"] == form, "field_name"] if d != infusion_date]
        chosen = columns.get("assessment_date") or next(iter(own), None) or \
            (infusion_date if form == infusion_form else None) or next(iter(visit_dates), None)
        if chosen:
            out[form] = chosen
    return out


def _date_columns(records: pd.DataFrame, timing: _Timing, fields: pd.DataFrame,
                  lines_of: Any) -> dict[str, calendar.Dates]:
    """Each timing date field parsed (:func:`calendar.parse_dates`); unreadable dates are a DataError
    naming their lines, never showing them (dates identify people)."""
    validation = dict(zip(fields["field_name"], fields["validation"], strict=False))
    out = {}
    for name in timing.date_fields:
        # REDCap exports ISO dates; a spreadsheet may re-save them in the field's validated order (date_dmy).
        parsed = calendar.parse_dates(records[name], dayfirst=validation.get(name, "").lower().endswith("dmy"))
        unreadable = np.flatnonzero(parsed.unreadable)
        if len(unreadable):
            raise _error(f"the field {name!r} times the ratings or infusions, but {len(unreadable)} of its values are "
                         f"not readable dates (not shown: dates identify people), on {lines_of(unreadable)}. Write "
                         "them as REDCap exports dates (YYYY-MM-DD, or YYYY-MM-DD HH:MM) and load again.",
                         "Some dates in the REDCap export cannot be read.", name)
        out[name] = parsed
    return out


def _infusion_table(records: pd.DataFrame, patient: pd.Series, timing: _Timing, dates: dict[str, calendar.Dates],
                    fields: pd.DataFrame, event_time: pd.Series, not_started: dict[str, np.ndarray],
                    comma: set[str], lines_of: Any,
                    notes: list[str]) -> tuple[pd.DataFrame, calendar.InfusionCalendar | None]:
    """One row per infusion (a record row of the infusion form holding a value): patient_id,
    infusion_number, time_hours, the infusion columns found and ``_position`` (its record row,
    0-based); and per record its first infusion's date and whether that date holds a time."""
    form, roles = timing.infusion_form, timing.infusion_fields
    filled = np.zeros(len(records), dtype=bool)
    for role, name in roles.items():
        filled |= ~np.isnat(dates[name].when) if role == "infusion_date" else \
            (records[name].astype("string").str.strip().fillna("") != "").to_numpy()
    filled &= ~not_started.get(form, np.zeros(len(records), dtype=bool))
    positions = np.flatnonzero(filled)
    table = pd.DataFrame({"patient_id": patient.iloc[positions].to_numpy(), "_position": positions})
    field_rows = fields.set_index("field_name")
    for role, name in roles.items():
        if role == "infusion_date":
            continue
        values = records[name].astype("string").str.strip().replace("", pd.NA).iloc[positions]
        spec = field_rows.loc[name]
        choices = _YESNO.get(spec["field_type"]) or (_choices(spec["choices"]) if spec["field_type"] in _CODED else {})
        if choices:
            values = values.map(lambda v, c=choices: c.get(v, v) if pd.notna(v) else v)
        elif name in comma:
            values = _numbers(values, True)
        table[role] = values.to_numpy()
    events = event_time.iloc[positions].reset_index(drop=True)
    if "infusion_date" in roles:
        when = dates[roles["infusion_date"]].take(positions)
        first = calendar.infusion_calendar(when, table["patient_id"], events.to_numpy(dtype="float64"))
        table["time_hours"] = np.where(np.isnat(when.when), events, first.hours)
    else:
        table["time_hours"] = events
        first = None
    count = table.groupby("patient_id")["patient_id"].transform("size")
    untimed = table["time_hours"].isna()
    if (untimed & (count > 1)).any():
        where = lines_of(table.loc[untimed & (count > 1), "_position"].to_numpy())
        date_hint = f"fill {roles['infusion_date']!r}" if "infusion_date" in roles else \
            "add the infusion's date to the form (a field validated as a date)"
        raise _error(f"the infusion form {form!r} describes several infusions for some records, but {where} has no "
                     f"infusion date and its event has no time, so the order of the infusions is not known: "
                     f"{date_hint}, or give visit_times={{event: hours since the first infusion}}.",
                     "The infusions in the REDCap export have no times.", roles.get("infusion_date", ""))
    table["time_hours"] = table["time_hours"].fillna(0.0)  # a record's only infusion starts at 0
    table = table.sort_values(["patient_id", "time_hours", "_position"], kind="stable")
    table["infusion_number"] = table.groupby("patient_id").cumcount() + 1
    notes.append(f"{len(table)} infusion(s) of {table['patient_id'].nunique()} record(s) read from the form {form!r}"
                 + (f"; their dates ({roles['infusion_date']!r}) were converted to hours since each record's first "
                    "infusion and removed" if "infusion_date" in roles else "; their times from their events")
                 + ".")
    return table.reset_index(drop=True), first


def _time_ratings(long_frame: pd.DataFrame, timing: _Timing, dates: dict[str, calendar.Dates],
                  first: calendar.InfusionCalendar | None, notes: list[str]) -> pd.DataFrame:
    """Ratings of dated forms timed by their dates (hours since the record's first infusion); a
    rating without a date, or of a record without an infusion date, keeps its event's time."""
    if not timing.rating_dates:
        return long_frame
    if first is None or not len(first):
        notes.append("Rating dates were not used: the export has no infusion dates to measure them from (an infusion "
                     "form with a date field, or columns={'infusion_date': field}); times come from the events.")
        return long_frame
    event_hours = long_frame["time_hours"].to_numpy(dtype="float64")
    time = event_hours.copy()
    patient = pd.Categorical(long_frame["patient_id"].to_numpy(dtype=object))
    origin, origin_timed, _ = first.first_of(patient)
    dated = np.zeros(len(long_frame), dtype=bool)
    day_only = np.zeros(len(long_frame), dtype=bool)
    for form, name in timing.rating_dates.items():
        rows = np.flatnonzero((long_frame["_form"] == form).to_numpy())
        when = dates[name].take(long_frame["_position"].to_numpy()[rows])
        hours = calendar.hours_since_first(when, patient[rows], first, event_hours[rows])
        usable = ~np.isnan(hours)
        time[rows[usable]] = hours[usable]
        dated[rows[usable]] = True
        day_only[rows[usable]] = ~(when.has_time & origin_timed[rows])[usable]
    without_origin = long_frame.loc[~dated & np.isnat(origin), "patient_id"].nunique()
    notes.append(f"{int(dated.sum())} rating(s) timed by their dates"
                 + (f"; {int(day_only.sum())} of them by the day only (a date without a time of day): "
                    f"{calendar.DAY_ONLY_RULE}" if day_only.any() else "")
                 + (f"; the ratings of {without_origin} record(s) without an infusion date keep their events' times"
                    if without_origin else "") + ".")
    long_frame["time_hours"] = time
    return long_frame


def _offset_in_event(label: object) -> float:
    """Hours after its infusion's start of a rating in an infusion's event: as the event says
    ("Infusion 2 post": 40 min after), else one minute before the start (a rating at an infusion
    visit is taken before the infusion): the label's place within an infusion day
    (:func:`~analysis.loading.times.placement_hours`), when it names one."""
    hours = placement_hours(label)
    return hours if hours < 24 else PRE_INFUSION_HOURS  # (NaN: the label names no time)


def _time_at_infusions(long_frame: pd.DataFrame, infusions: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Ratings with no time of their own (no date, an event that says none) on a record row that
    holds an infusion (a MADRS in the event "Infusion 2") are timed from that infusion's start
    (:func:`_offset_in_event`)."""
    time = long_frame["time_hours"].to_numpy(dtype="float64", copy=True)
    starts = pd.Series(infusions["time_hours"].to_numpy(dtype="float64"), index=infusions["_position"].to_numpy())
    start = starts[~starts.index.duplicated()].reindex(long_frame["_position"].to_numpy()).to_numpy(dtype="float64")
    rows = np.isnan(time) & ~np.isnan(start)
    if not rows.any():
        return long_frame
    labels = long_frame["visit"].astype("string")[rows]
    offsets = {label: _offset_in_event(label) for label in pd.unique(labels.dropna())}
    time[rows] = start[rows] + labels.map(offsets).astype("float64").fillna(PRE_INFUSION_HOURS).to_numpy()
    notes.append(f"{int(rows.sum())} rating(s) without a time of their own timed from the infusion of their record row "
                 "(its event): one minute before its start, unless the event says otherwise ('post': 40 min after).")
    long_frame["time_hours"] = time
    return long_frame


def to_long(records: Any, dictionary: Any = None, events: Any = None, mapping: Any = None, *,
            allow_identifiers: bool = False, origins: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Convert a REDCap export into the project's long single-file form (see the module docstring).

    Parameters
    ----------
    records : the records export (path, buffer or DataFrame; raw or label style), a
        :class:`RedcapProject`, or a dict ``{"data": ..., "dictionary": ..., "event": ...}``.
    dictionary : the data dictionary (web or API header style).
    events : the events export (optional): its event names label the visits.
    mapping : an :class:`analysis.Mapping` (layout ``"redcap"``) or None. Used: ``instrument`` and
        ``columns={"score": field}`` (a score field not named like an instrument),
        ``visit_times`` (unique event name or event label -> hours since the first infusion),
        ``value_maps`` (field -> {code or label: value}).
    allow_identifiers : drop fields the identifier screen flags instead of refusing the export.
    origins : also return, per rating, the records file (``source_file``), its row there
        (``source_file_row``: the line as a spreadsheet shows it minus the header line, blank lines
        counted) and the line where the record starts in a text editor (``source_file_line``), so
        problems can name them (see :mod:`analysis.origins`).

    Returns
    -------
    (frame, notes) : one row per rating (patient_id, instrument, item, score, visit, time_hours,
        and patient covariates); ``notes`` says every reading decision in sentences. With an
        infusion form, ``frame.attrs["infusions"].frame`` holds one row per infusion
        (patient_id, infusion_number, time_hours, dose, route ...), which ``analysis.load`` reads
        as the infusions table.

    Raises
    ------
    DataError: no data dictionary, a record id flagged identifying, fields that look identifying,
    no rating-scale field, unreadable dates, or several infusions of a record with no times.
    """
    if hasattr(dictionary, "layout") and isinstance(records, (RedcapProject, MappingABC)):
        mapping, dictionary = dictionary, None  # to_long(project, mapping), as analysis.load calls it
    records, dictionary, events = _split(records, dictionary, events)
    settings = _settings(mapping)
    notes: list[str] = []
    fields = dictionary_frame(dictionary)
    _check_choices(fields, str(dictionary.attrs.get("source") or "dictionary"), notes)
    records_file = str(records.attrs.get("source") or "records")
    # Each record's row and first line in its file (a DataFrame: its position + 1, no lines).
    file_rows = np.asarray(records.attrs.get("rows", np.arange(1, len(records) + 1)), dtype=np.int64)
    file_lines = np.asarray(records.attrs.get("lines", file_rows + 1), dtype=np.int64)
    records = records.reset_index(drop=True)
    records.columns = [str(c).strip() for c in records.columns]

    def lines_of(positions: np.ndarray, limit: int = 5) -> str:
        """Records at ``positions`` (0-based) in words: "line 14 of data.csv, line 20 of data.csv"."""
        said = ", ".join(describe_row(records_file, int(file_rows[p]), "", int(file_lines[p])) for p in positions[:limit])
        return said + (f" and {len(positions) - limit} more" if len(positions) > limit else "")

    records = _drop_flagged(records, fields, notes)                      # 1: before anything else
    records = _label_style(records, fields, notes)
    records = _drop_flagged(records, fields, [])                         # label headers read back
    # The dates that time ratings and infusions are read aside, then removed; any other date is screened.
    timing_notes: list[str] = []
    rating_fields = _rating_fields(fields, set(records.columns), settings)
    timing = _timing(fields, set(records.columns), rating_fields, settings, timing_notes)
    dates = _date_columns(records, timing, fields, lines_of)
    records = _screen(records.drop(columns=timing.date_fields), allow_identifiers, notes)  # 2
    notes.extend(timing_notes)
    if records.empty or len(records.columns) < 2:
        raise _error("the records export has no rows or no fields besides the record id.", "No REDCap records.")
    patient = records[records.columns[0]].astype("string").str.strip()
    present = set(records.columns)
    rating_fields = rating_fields[rating_fields["field_name"].isin(present)]  # less any the screen dropped
    if rating_fields.empty:
        forms = ", ".join(dict.fromkeys(fields["form_name"]))
        raise _error(f"no rating-scale field found: no form or field is named like a registered instrument (forms: "
                     f"{forms}{_score_hint(fields, present)}). Name the field holding the total score and its "
                     "instrument, e.g. analysis.load(path, instrument=\"MADRS\", columns={'score': 'madrs_total'}).",
                     "The REDCap export holds no ratings the toolkit knows.")
    visit, time, arm = _events(records, events, settings, notes, dated=bool(timing.rating_dates))
    if "redcap_repeat_instance" in records.columns:
        instance = records["redcap_repeat_instance"].astype("string").str.strip().replace("", pd.NA)
        if instance.notna().any():
            base = visit.fillna("")
            visit = (base.str.cat(("#" + instance).fillna(""), sep=" ").str.strip()).replace("", pd.NA)
            notes.append(f"Repeating instruments: {int(instance.notna().sum())} repeat instance row(s), each its own "
                         "rating, visit labelled '<event> #<instance>'.")
    not_started = _status_blank(records, fields, notes)
    form_of = dict(zip(fields["field_name"], fields["form_name"], strict=False))
    comma_fields = set(fields.loc[fields["validation"].str.contains("comma_decimal", na=False), "field_name"])
    pieces = []
    for row in rating_fields.itertuples(index=False):
        written = records[row.field_name].astype("string").str.strip().replace("", pd.NA)
        score = _numbers(records[row.field_name], row.field_name in comma_fields)
        blank = not_started.get(form_of.get(row.field_name, ""), np.zeros(len(records), dtype=bool))
        rated = (written.notna() & ~blank).to_numpy()
        # A value that is not a number is passed on as written, so validation names it and its line.
        unparsed = (written.notna() & score.isna()).to_numpy()
        values = score.astype(object).where(~unparsed, written) if unparsed[rated].any() else score.astype("float64")
        pieces.append(pd.DataFrame({
            "patient_id": patient[rated], "instrument": row.instrument,
            "item": pd.array([row.item] * int(rated.sum()), dtype="Int64"), "score": values[rated],
            "visit": visit[rated].astype("string"), "time_hours": time[rated].astype("float64"),
            "source_file_row": file_rows[rated], "source_file_line": file_lines[rated],
            "_position": np.flatnonzero(rated), "_form": form_of.get(row.field_name, "")}))
    long_frame = pd.concat(pieces, ignore_index=True)
    infusions = None
    first = None
    if timing.infusion_form is not None:
        infusions, first = _infusion_table(records, patient, timing, dates, fields, time, not_started, comma_fields,
                                           lines_of, notes)
    long_frame = _time_ratings(long_frame, timing, dates, first, notes)
    if infusions is not None:
        long_frame = _time_at_infusions(long_frame, infusions, notes)
    long_frame = long_frame.drop(columns=["_position", "_form"])
    totals = rating_fields["item"].isna().sum()
    notes.append(f"Ratings from {len(rating_fields)} field(s) ({totals} total(s), {len(rating_fields) - totals} item(s)): "
                 + ", ".join(f"{r.field_name} -> {r.instrument}{'' if pd.isna(r.item) else f' item {r.item}'}"
                             for r in rating_fields.head(12).itertuples(index=False))
                 + (" ..." if len(rating_fields) > 12 else "") + f"; {len(long_frame)} rating(s).")
    if comma_fields & set(rating_fields["field_name"]):
        notes.append(f"Decimal comma read in {', '.join(sorted(comma_fields & set(rating_fields['field_name'])))}.")
    covariates, read_at = _covariates(records, fields, patient, set(rating_fields["field_name"]) | timing.fields_read,
                                      comma_fields, not_started, settings, notes, lines_of)
    if infusions is not None:
        infusions = _with_weight(infusions, covariates, notes)
    if arm is not None:
        covariates["arm"] = arm.groupby(patient).first().reindex(covariates.index)
        read_at["arm"] = _first_positions(arm, patient)
    long_frame = long_frame.merge(covariates, left_on="patient_id", right_index=True, how="left")
    if infusions is not None:
        at = infusions.pop("_position").to_numpy()
        if origins:
            infusions = infusions.assign(source_file=records_file, source_file_row=file_rows[at],
                                         source_file_line=file_lines[at])
        long_frame = attach_infusions(long_frame, infusions)
    if long_frame["time_hours"].isna().all():
        long_frame = long_frame.drop(columns="time_hours")
    if long_frame["visit"].isna().all():
        long_frame = long_frame.drop(columns="visit")
    if origins:
        long_frame["source_file"] = records_file
        long_frame.attrs["value_origins"] = pd.DataFrame(
            [(patient_id, column, records_file, int(file_rows[at]), int(file_lines[at]))
             for column, positions in read_at.items() for patient_id, at in positions.items()],
            columns=list(VALUE_ORIGIN_COLUMNS))
    else:
        long_frame = long_frame.drop(columns=["source_file_row", "source_file_line"])
    return long_frame.reset_index(drop=True), notes


def _with_weight(infusions: pd.DataFrame, covariates: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Doses in mg without a weight on the infusion form take the record's weight covariate (a
    demographics form's ``weight_kg``), so that validation gives them in mg/kg."""
    if "dose_mg" not in infusions or "weight_kg" in infusions:
        return infusions
    weight = next((c for c in covariates.columns if _INFUSION_ALIASES.get(key(c)) == "weight_kg"), None)
    if weight is None:
        return infusions
    notes.append(f"Doses in mg divided by the record's {weight!r} (kg) to give mg/kg.")
    return infusions.assign(weight_kg=infusions["patient_id"].map(covariates[weight]).to_numpy())


def _first_positions(values: pd.Series, patient: pd.Series) -> pd.Series:
    """Per record id, the position (0-based) of its first record where ``values`` is not missing."""
    present = values.notna().to_numpy()
    return pd.Series(np.flatnonzero(present)).groupby(patient.to_numpy()[present]).first()


def _covariates(records: pd.DataFrame, fields: pd.DataFrame, patient: pd.Series, rating: set[str], comma: set[str],
                not_started: dict[str, np.ndarray], settings: dict[str, Any], notes: list[str],
                lines_of: Any = None) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Fields with at most one value per record -> patient covariates, codes decoded; a code that is
    not among the field's choices is kept as written and named with its lines (``lines_of``).
    Also, per covariate, each record id's position of the record its value was read from."""
    value_maps = settings["value_maps"]
    out: dict[str, pd.Series] = {}
    read_at: dict[str, pd.Series] = {}
    varying = []
    # Free-text paragraphs ("notes") are not read: ratings do not need them and names hide in them
    # where no screen can find them ("call up Trudy on the telephone").
    skipped_types = {"file", "descriptive", "signature", "notes"}
    paragraphs = [f for f in fields.loc[fields["field_type"] == "notes", "field_name"] if f in records.columns]
    if paragraphs:
        notes.append(f"Free-text (notes) fields not read, as they may hold identifying text: {', '.join(paragraphs)}.")
    decoded = []
    for field in fields.itertuples(index=False):
        name = field.field_name
        if name in rating or name == records.columns[0] or field.field_type in skipped_types:
            continue
        if field.field_type == "checkbox":
            options = [(f"{name}___{code}", label) for code, label in _choices(field.choices).items()
                       if f"{name}___{code}" in records.columns]
            if not options:
                continue
            joined = np.full(len(records), "", dtype=object)
            for column, label in options:
                joined = joined + np.where((records[column].astype("string").str.strip() == "1").to_numpy(),
                                           label + "; ", "")
            values = pd.Series(joined, index=records.index, dtype="string").str.removesuffix("; ")
            blank = not_started.get(field.form_name)
            if blank is not None:
                values = values.mask(blank)
            decoded.append(name)
        elif name in records.columns:
            values = records[name].astype("string").str.strip().replace("", pd.NA)
            blank = not_started.get(field.form_name)
            if blank is not None:
                values = values.mask(blank)
            choices = _YESNO.get(field.field_type) or (_choices(field.choices) if field.field_type in _CODED else {})
            if choices:
                labels_given = set(values.dropna()) <= set(choices.values()) and not set(values.dropna()) <= set(choices)
                if not labels_given:
                    unknown = np.flatnonzero((values.notna() & ~values.isin(list(choices))).to_numpy())
                    if len(unknown) and lines_of is not None:
                        shown = ", ".join(map(repr, pd.unique(values.iloc[unknown])[:5]))
                        notes.append(f"Field {name!r}: {shown} is not one of its choices in the data dictionary "
                                     f"({', '.join(f'{c} = {lab}' for c, lab in list(choices.items())[:8])}), on "
                                     f"{lines_of(unknown)}; kept as written. Correct the value or the field's choices.")
                    values = values.map(lambda v, c=choices: c.get(v, v) if pd.notna(v) else v).astype("string")
                decoded.append(name)
            elif name in comma or "number" in field.validation or field.validation == "integer" or \
                    field.field_type == "calc":
                values = _numbers(values, name in comma)
        else:
            continue
        if name in value_maps:
            values = values.map(lambda v, m=value_maps[name]: m.get(str(v), v) if pd.notna(v) else v)
        per_patient = values.groupby(patient).nunique(dropna=True)
        if (per_patient > 1).any():
            varying.append(name)
            continue
        out[name] = values.groupby(patient).first()
        read_at[name] = _first_positions(values, patient)
    # Indexed by record id (string) even with no covariate, so the ratings merge onto it.
    frame = pd.DataFrame(out) if out else pd.DataFrame(index=patient.groupby(patient).first().index)
    if decoded:
        notes.append(f"Coded fields decoded with the dictionary's choices: {', '.join(decoded)}.")
    if varying:
        notes.append(f"Fields with more than one value per record that are not ratings were not read: "
                     f"{', '.join(varying[:12])}{' ...' if len(varying) > 12 else ''}.")
    if len(frame.columns):
        notes.append(f"Patient covariates: {', '.join(frame.columns)}.")
    return frame, read_at


def suggest(records: Any, dictionary: Any = None, events: Any = None, **hints: Any) -> Any:
    """The :class:`analysis.Mapping` (layout ``"redcap"``) the export would be read with, with reasons.

    ``records`` may also be a dict of frames ``{"data": ..., "dictionary": ..., "event": ...}``.
    Identifier-flagged fields are dropped before anything is suggested.
    """
    from analysis.mapping import Mapping

    records, dictionary, events = _split(records, dictionary, events)
    settings = _settings(hints)
    fields = dictionary_frame(dictionary)
    notes: list[str] = []
    records = _drop_flagged(records.reset_index(drop=True), fields, notes)
    records = _label_style(records, fields, notes)
    columns = {"patient_id": str(records.columns[0])}
    reasons = {"layout": "layout redcap: a records export with its data dictionary",
               "patient_id": f"column {records.columns[0]!r} read as patient id (the first column of a REDCap export)"}
    if "redcap_event_name" in records.columns:
        columns["visit"] = "redcap_event_name"
        reasons["visit"] = "column 'redcap_event_name' read as visit (times from the event labels or visit_times)"
    rating_fields = _rating_fields(fields, set(records.columns), settings)
    totals = rating_fields[rating_fields["item"].isna()]
    ambiguities = []
    if len(totals) == 1:
        columns["score"] = str(totals["field_name"].iloc[0])
        reasons["score"] = f"field {columns['score']!r} read as the {totals['instrument'].iloc[0]} total score (name)"
    elif len(totals) > 1:
        reasons["ratings"] = "fields read as total scores: " + ", ".join(
            f"{r.field_name} ({r.instrument})" for r in totals.itertuples(index=False))
    elif rating_fields.empty:
        ambiguities.append("no field is named like a registered instrument: name the score field and its "
                           "instrument (columns={'score': field}, instrument=...)"
                           + _score_hint(fields, set(records.columns)))
    timing_notes: list[str] = []
    timing = _timing(fields, set(records.columns), rating_fields, settings, timing_notes)
    columns.update(timing.infusion_fields)
    for role, name in timing.infusion_fields.items():
        reasons[role] = f"field {name!r} read as {role} of each infusion (form {timing.infusion_form!r}" + \
            (", converted to hours since the record's first infusion, then removed)" if role == "infusion_date" else ")")
    if len(set(timing.rating_dates.values())) == 1:
        columns["assessment_date"] = next(iter(timing.rating_dates.values()))
    if timing.rating_dates:
        reasons["assessment_date"] = timing_notes[0]
    if notes:
        reasons["identifiers"] = notes[0]
    columns.update(settings["columns"])
    return Mapping(layout="redcap", columns=columns, instrument=settings["instrument"],
                   visit_times=settings["visit_times"], value_maps=settings["value_maps"], reasons=reasons,
                   ambiguities=tuple(ambiguities))
