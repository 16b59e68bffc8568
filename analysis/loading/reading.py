"""Sources -> tables: files, folders, workbooks and standards, then the mapping, then validation.

This module holds :func:`load`, the one entry point; the checks live in
:mod:`analysis.loading.validation`, the mapping step in :mod:`analysis.loading.layouts`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import DataError, OutcomeData, problems_frame
from analysis.loading import calendar
from analysis.loading import validation as v
from analysis.loading.layouts import apply_mapping, recognised_columns
from analysis.loading.sheets import combine_sheets, instrument_sheets
from analysis.loading.suggest import apply_hints, detect_layout, suggest_for_frame
from analysis.mapping import Mapping, standard_suggester
from analysis.origins import RowOrigins
from analysis.readers import RawTable, converted_table, read_table, sheet_table

__all__ = ["load", "load_sample", "read_source_frames"]

_TABLE_NAMES = ("assessments", "infusions", "patients", "events")
_TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".parquet", ".pq", ".sav", ".dta", ".xpt", ".sas7bdat",
                   ".rds", ".rdata", ".rda"}
_STANDARD_SUFFIXES = {".xpt", ".xport", ".sas7bdat"}


def _headline_error(message: str, headline: str, table: str = "file") -> DataError:
    return DataError(problems_frame([{"table": table, "row": pd.NA, "column": "", "value": "", "message": message}]),
                     headline=headline)


def _pick_sheet(raw: RawTable, sheet: Any) -> RawTable:
    """The data sheet of a workbook: the one given, else the one with most recognised columns;
    its name in ``frame.attrs["sheet"]`` (a sheet named 'MADRS' names the scale of its columns)."""
    if sheet is not None or len(raw.sheets) < 2:
        name = sheet if sheet is not None else next(iter(raw.sheets), None)
        if name is not None:
            raw.frame.attrs["sheet"] = str(name)
        return raw
    scores = {name: recognised_columns(frame.columns) for name, frame in raw.sheets.items()}
    best = max(scores, key=lambda n: (scores[n], -list(raw.sheets).index(n)))
    scales = list(instrument_sheets([str(n) for n in raw.sheets]))
    # A sheet per instrument whose sheets cannot be combined (analysis.loading.sheets): one is read.
    per_scale = [f"{raw.name} has a sheet per instrument ({', '.join(map(repr, scales[:6]))}), but not two with a "
                 f"patient id column to match their ratings by: only {best!r} was read; load each with sheet=..."
                 ] if len(scales) > 1 else []
    if best == next(iter(raw.sheets)):
        raw.notes.extend(per_scale)
        raw.frame.attrs["sheet"] = str(best)
        return raw
    chosen = sheet_table(raw, best, "file")
    chosen.name = raw.name
    chosen.notes = [*raw.hidden_note(), f"{raw.name} has {len(raw.sheets)} sheets; read {best!r}, the one holding "
                    f"the data ({scores[best]} recognised columns; choose another with sheet=...)", *per_scale]
    chosen.sheets = raw.sheets
    chosen.frame.attrs["sheet"] = str(best)
    return chosen


def read_source_frames(source: Any, sheet: Any = None) -> dict[str, pd.DataFrame]:
    """The tables of a source as read (name -> frame with ``source_row``), for suggesting a mapping.

    A folder in the table form gives its tables by role, the assessments first (the file a
    mapping reads: 'survey.csv' beside 'infusions.csv'); any other folder, its files by stem."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        tables = _find_tables(Path(source))
        if "assessments" in tables:
            return {t: read_table(tables[t], t, number_columns=v._NUMBER_READ).frame
                    for t in _TABLE_NAMES if t in tables}
        files = [p for p in sorted(Path(source).iterdir()) if p.suffix.lower() in _TABLE_SUFFIXES]
        if not files:
            raise _headline_error(f"{source} holds no table files (CSV, Excel, Parquet, SAS, SPSS, Stata).",
                                  f"{source} cannot be read.")
        return {p.stem: read_table(p, p.stem, number_columns=v._NUMBER_READ).frame for p in files}
    raw = read_table(source, "file", sheet=sheet, number_columns=v._NUMBER_READ)
    combined = combine_sheets(raw) if sheet is None else None
    return {"file": combined.ratings.frame if combined is not None else _pick_sheet(raw, sheet).frame}


def load(path_or_buffer: Any = None, *, mapping: Mapping | str | Path | None = None, assessments: Any = None,
         infusions: Any = None, patients: Any = None, events: Any = None, allow_identifiers: bool = False,
         **hints: Any) -> OutcomeData:
    """Load and validate outcome data.

    Parameters
    ----------
    path_or_buffer : a file (path, bytes, upload object or DataFrame) in any layout - long (one
        row per rating, patient- and infusion-level columns repeated), wide (columns per time
        point, instrument or item), CDISC (SDTM/ADaM ``.xpt``) or REDCap - or a folder: the
        three-table form (``assessments.*``, optional ``infusions.*``, ``patients.*``,
        ``events.*``) or a folder of CDISC datasets. An Excel workbook with sheets named
        assessments, infusions (and patients, events) is the three-table form; one with a sheet
        per instrument ('MADRS', 'CADSS ratings', with 'Patients' and 'Infusions' sheets) is read
        as one table (:mod:`analysis.loading.sheets`). A survey export (Google Forms, Qualtrics,
        Microsoft Forms, REDCap labels: questions as column names, answers in words) is read by
        the items' wording (:mod:`analysis.loading.surveys`); in a folder, the one file beside
        tables named infusions, patients or events is the assessments. Ratings given as items
        only get their total (:mod:`analysis.loading.totals`).
    mapping : how to read the source (:class:`analysis.Mapping`, its JSON text or a path to its
        JSON file); default :func:`analysis.suggest_mapping` of the source with ``hints``.
    assessments, infusions, patients, events : the table form, each a path, buffer or DataFrame;
        only ``assessments`` is required (without infusions, one IV infusion at time 0 is
        assumed per patient and said so in ``.warnings``).
    allow_identifiers : load even when columns look identifying; they are dropped (``patient_id``
        is kept) and a warning names them. For an analyst's own script; the dashboard never
        sets it.
    **hints : Mapping fields as keywords, winning over the suggestion: ``instrument="HAM-D17"``,
        ``columns={"score": "depression"}``, ``time_unit="weeks"``, ``visit_times={...}``,
        ``sheet=...`` (name or 0-based position), ``value_maps=...``, ``record_filters=...``,
        ``layout=...``.

    Returns
    -------
    OutcomeData with times in hours since the start of each patient's first infusion
    (``has_clock_time`` False when only visit numbers were given), the mapping used on
    ``.mapping``.

    Raises
    ------
    FileNotFoundError for a path that does not exist; TypeError for a call without data or with
    an unknown keyword. DataError listing every problem found (``.problems``: table, row,
    column, value, message, location; row 1 = the first data row = line 2 of a CSV file).
    """
    unknown = set(hints) - {f for f in Mapping.__dataclass_fields__}
    if unknown:
        raise TypeError(f"load() got unknown keyword(s) {', '.join(sorted(unknown))}; the keywords are "
                        "mapping=, assessments=, infusions=, patients=, events=, allow_identifiers= and the "
                        f"Mapping fields {', '.join(Mapping.__dataclass_fields__)}.")
    tables_given = any(x is not None for x in (assessments, infusions, patients, events))
    if path_or_buffer is not None and tables_given:
        raise TypeError("Pass either one file (single-file form) or assessments=/infusions=/patients=/events=, "
                        "not both.")
    if path_or_buffer is None and assessments is None:
        raise TypeError("Nothing to load: pass a file, or assessments= (with optional infusions=, patients= "
                        "and events=).")
    if isinstance(mapping, (str, Path)):
        mapping = Mapping.from_json(mapping)
    try:
        # Copy-on-write while loading: selecting, relabelling and re-indexing columns of a table of
        # millions of rows then shares their data instead of copying it.
        with pd.option_context("mode.copy_on_write", True):
            return _load_any(path_or_buffer, mapping, assessments, infusions, patients, events, allow_identifiers,
                             hints, tables_given)
    finally:
        v._CLEAN.clear()


def _load_any(path_or_buffer: Any, mapping: Mapping | None, assessments: Any, infusions: Any, patients: Any,
              events: Any, allow_identifiers: bool, hints: dict[str, Any], tables_given: bool) -> OutcomeData:
    if tables_given:
        return _load_tables({"assessments": assessments, "infusions": infusions, "patients": patients,
                             "events": events}, allow_identifiers, mapping, hints)
    return _load_source(path_or_buffer, mapping, allow_identifiers, hints)


def _load_tables(given: dict[str, Any], allow_identifiers: bool, mapping: Mapping | None,
                 hints: dict[str, Any]) -> OutcomeData:
    sheet = hints.get("sheet", mapping.sheet if mapping is not None else None)
    raws = {name: read_table(source, name, sheet=sheet, number_columns=v._NUMBER_READ)
            for name, source in given.items() if source is not None}
    source = ", ".join(raw.name for raw in raws.values())
    return _validate_tables(allow_identifiers, raws, source, mapping, hints)


def _validate_tables(allow_identifiers: bool, raws: dict[str, RawTable], source: str, mapping: Mapping | None,
                     hints: dict[str, Any]) -> OutcomeData:
    """The three-table form: the assessments table read through the mapping step like a single
    file (times from visit labels or in weeks, wide columns, the hints), then every table validated."""
    assessments = raws["assessments"]
    if mapping is None:
        mapping = suggest_for_frame(assessments.frame, layout=hints.get("layout"),
                                    hints=dict(hints))
    mapping = apply_hints(mapping, hints)
    report = v._Report(allow_identifiers=allow_identifiers, value_maps=mapping.value_maps)
    mapped = apply_mapping(report, assessments, mapping)
    raws = {**raws, "assessments": mapped.raw}
    if "infusions" in raws:  # an infusion log's start date and time of day in two columns
        frame, joined = calendar.join_times_of_day(raws["infusions"].frame)
        if joined:
            raws["infusions"] = replace(raws["infusions"], frame=frame, notes=raws["infusions"].notes + joined)
    if mapped.events is not None and "events" not in raws:
        raws["events"] = mapped.events
    if mapped.infusions is not None and "infusions" not in raws:
        raws["infusions"] = mapped.infusions
    a_table, i_table, p_table = v._three_tables(report, raws)
    e_table = v._prepare(report, raws["events"], "events", v._EVENT_MAP, set(v.EVENT_COLUMNS) | set(v.TIME_COLUMNS),
                         {"assessment_date"}) if "events" in raws else None
    if report.identifying_contract_column:
        raise v._error(report, a_table.raw)
    for raw_table in {id(t.raw): t.raw for t in (a_table, i_table, p_table, e_table) if t is not None}.values():
        for note in raw_table.notes:
            report.warn("reading", note + ".", 1, table=raw_table.table)
    data = v._validate(report, a_table, i_table, p_table, source, e_table=e_table, mapping=mapping,
                       has_clock_time=mapped.has_clock_time)
    if len(raws) < 2:
        return data
    return _name_files(data, lambda w: [raws[w.table].name] * len(w.rows) if w.table in raws else [])


def _name_files(data: OutcomeData, files_of: Callable[[Any], list[str]]) -> OutcomeData:
    """``data`` with each warning's rows' files (``DataWarning.files``), for data read from several
    files; ``files_of(warning)`` gives them, in the order of its rows."""
    return replace(data, warnings=tuple(replace(w, files=tuple(files_of(w))) if w.rows else w
                                        for w in data.warnings), _fingerprint=[])


def ratings_file(names: list[str]) -> str | None:
    """The file read as the assessments table when no file is named so: the one table file not
    named by a table, beside files that are ('PHQ-9 (Responses).csv' with 'infusions.csv'); None
    otherwise (no other file named by a table, or several candidates)."""
    tables = [n for n in names if PurePosixPath(n).suffix.lower() in _TABLE_SUFFIXES]
    stems = {PurePosixPath(n).stem.lower() for n in tables}
    if "assessments" in stems or not stems & set(_TABLE_NAMES):
        return None
    others = [n for n in tables if PurePosixPath(n).stem.lower() not in _TABLE_NAMES]
    return others[0] if len(others) == 1 else None


def _find_tables(directory: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    paths = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in paths:
        stem = path.stem.lower()
        if stem in _TABLE_NAMES and path.suffix.lower() in _TABLE_SUFFIXES:
            found.setdefault(stem, path)
    ratings = ratings_file([p.name for p in paths])
    if ratings is not None:
        found["assessments"] = directory / ratings
    return found


def _standard(layout: str) -> Any:
    try:
        return importlib.import_module(f"analysis.{layout}")
    except ImportError:
        return None


def _folder_layout(folder: Path) -> str | None:
    """"cdisc" for a folder holding SAS datasets, "redcap" when the header rows of its CSV files
    (records export, data dictionary) name REDCap columns, else None. Reads header rows only."""
    files = sorted(folder.iterdir())
    if any(p.suffix.lower() in _STANDARD_SUFFIXES for p in files):
        return "cdisc"
    names = [str(c) for p in files if p.suffix.lower() == ".csv"
             for c in pd.read_csv(p, nrows=0, encoding="utf-8-sig").columns]
    return "redcap" if detect_layout(names) == "redcap" else None


def _load_source(source: Any, mapping: Mapping | None, allow_identifiers: bool, hints: dict[str, Any]) -> OutcomeData:
    sheet = hints.get("sheet", mapping.sheet if mapping is not None else None)
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        folder = Path(source)
        tables = _find_tables(folder)
        if "assessments" in tables:
            return _load_tables(tables, allow_identifiers, mapping, hints)
        layout = (mapping.layout if mapping is not None else None) or hints.get("layout") or _folder_layout(folder)
        if layout is not None:
            return _load_standard(layout, folder, mapping, allow_identifiers, hints)
        raise _headline_error(f"{folder} has no assessments file (assessments.csv, .xlsx or .parquet), no "
                              "CDISC datasets (.xpt, .sas7bdat) and no REDCap export (data.csv with its "
                              "dictionary.csv).", f"{folder} cannot be loaded.", "assessments")
    if isinstance(source, (str, Path)) and not Path(source).exists():
        raise FileNotFoundError(f"{source} does not exist.")
    raw = read_table(source, "file", sheet=sheet, number_columns=v._NUMBER_READ)
    by_sheet = {str(k).strip().lower(): k for k in raw.sheets}
    if "assessments" in by_sheet and sheet is None:
        # A workbook with sheets named assessments (infusions, patients, events): the table form.
        raws = {t: sheet_table(raw, by_sheet[t], t) for t in _TABLE_NAMES if t in by_sheet}
        return _validate_tables(allow_identifiers, raws, raw.name, mapping, hints)
    combined = combine_sheets(raw) if sheet is None else None
    if combined is not None:  # a sheet per instrument ('MADRS', 'CADSS'), read as one table
        if mapping is None:
            mapping = suggest_for_frame(combined.ratings.frame, hints=dict(hints))
        infusions = combined.infusions
        data = _load_mapped(combined.ratings, apply_hints(mapping, hints), allow_identifiers, infusions,
                            combined.problems)
        return _by_origins(data, combined.ratings.origins, None if infusions is None else infusions.origins)
    raw = _pick_sheet(raw, sheet)
    layout = (mapping.layout if mapping is not None else None) or hints.get("layout") or \
        detect_layout(list(raw.frame.columns))
    if layout in {"cdisc", "redcap"} and _standard(layout) is not None and \
            getattr(_standard(layout), "to_long", None) is not None:
        frame = raw.frame.drop(columns="source_row")
        frame.attrs.update(labels=raw.labels, source=raw.name, rows=raw.frame["source_row"].to_numpy())
        return _load_standard(layout, {Path(raw.name).stem.upper(): frame}, mapping, allow_identifiers, hints,
                              name=raw.name)
    if layout == "redcap":
        raise _headline_error(f"{raw.name} is a REDCap export, but the REDCap reader (analysis.redcap) is not "
                              "available in this installation.", f"{raw.name} cannot be loaded.")
    if mapping is None:
        mapping = suggest_for_frame(raw.frame, layout=layout, hints=dict(hints))
    mapping = apply_hints(mapping, hints)
    # A reader's long frame (analysis.cdisc.to_long, analysis.redcap.to_long) carries its infusions.
    attached = source.attrs.get("infusions") if isinstance(source, pd.DataFrame) else None
    infusions = None if attached is None else read_table(attached.frame, "infusions")
    return _load_mapped(raw, mapping, allow_identifiers, infusions)


def _load_mapped(raw: RawTable, mapping: Mapping, allow_identifiers: bool, infusions: RawTable | None = None,
                 problems: tuple[dict, ...] = ()) -> OutcomeData:
    """``raw`` read through ``mapping`` and validated; ``problems`` found before (validation's form)
    are reported with validation's."""
    report = v._Report(allow_identifiers=allow_identifiers, value_maps=mapping.value_maps, problems=list(problems))
    mapped = apply_mapping(report, raw, mapping)
    if report.problems and not len(mapped.raw.frame):  # the mapping left no row (said why): nothing to check
        raise v._error(report, raw)
    return v._load_single(report, mapped.raw, raw.name, mapping=mapping, events=mapped.events,
                          infusions=infusions if mapped.infusions is None else mapped.infusions,
                          has_clock_time=mapped.has_clock_time)


def _load_standard(layout: str, source: Any, mapping: Mapping | None, allow_identifiers: bool,
                   hints: dict[str, Any], name: str | None = None) -> OutcomeData:
    module = _standard(layout)
    if module is None or not hasattr(module, "to_long"):
        raise _headline_error(f"{name or source} looks like {layout.upper()} data, but the {layout} reader "
                              f"(analysis.{layout}) is not available.", f"{name or source} cannot be loaded.")
    frames = module.read(source) if not isinstance(source, dict) else source
    if mapping is None:
        suggester = standard_suggester(layout)
        mapping = suggester(frames, **hints) if suggester is not None else Mapping(layout=layout)
    # Only the REDCap reader screens identifiers itself (the CDISC reader leaves that to validation).
    long_frame, notes = (module.to_long(frames, mapping, allow_identifiers=allow_identifiers, origins=True)
                         if layout == "redcap" else module.to_long(frames, mapping, origins=True))
    # Problems name the file and row each rating was read from; validation numbers the ratings.
    patient_label = "USUBJID" if layout == "cdisc" else "record"
    origins = RowOrigins.pop(long_frame, patient_label, lambda column: v._SINGLE_MAP.get(v._key(column), column))
    source_name = name or str(source if not isinstance(source, dict) else ", ".join(source))
    # The infusions a reader found (CDISC EX, a REDCap infusion form) are a table of their own.
    attached = long_frame.attrs.pop("infusions", None)
    infusions = None if attached is None else attached.frame.copy()
    infusion_raw = None if infusions is None else \
        converted_table(infusions, "infusions", source_name, RowOrigins.pop(infusions, patient_label))
    raw = converted_table(long_frame, "file", source_name, origins)
    raw.notes.extend(n.rstrip(".") for n in notes)
    report = v._Report(allow_identifiers=allow_identifiers, value_maps=mapping.value_maps)
    long_mapping = Mapping(layout="long", instrument=mapping.instrument, visit_times=mapping.visit_times,
                           value_maps=mapping.value_maps)
    mapped = apply_mapping(report, raw, long_mapping)
    data = v._load_single(report, mapped.raw, raw.name, mapping=mapping, events=mapped.events,
                          infusions=infusion_raw, has_clock_time=mapped.has_clock_time)
    return _by_origins(data, origins, None if infusion_raw is None else infusion_raw.origins)


def _by_origins(data: OutcomeData, origins: RowOrigins, infusion_origins: RowOrigins | None) -> OutcomeData:
    """Data validated from a converted source (rows numbered by position) with every table's and
    warning's rows those of the files (sheets) they were read from, and those files named."""
    def origins_of(table: str) -> RowOrigins:
        return infusion_origins if table == "infusions" and infusion_origins is not None else origins

    # Warnings' rows are positions + 1 (of the ratings, or of the infusions table) until apply numbers them.
    data = _name_files(data, lambda w: origins_of(w.table).files_of(np.asarray(w.rows, dtype=np.int64) - 1, w.table))
    return origins.apply(data, infusions=infusion_origins)


def load_sample(form: str = "tables") -> OutcomeData:
    """The bundled simulated sample (``data/sample/``, see its README), validated like user data.

    form : "tables" (assessments.csv, infusions.csv, patients.csv) or "single" (single_file.csv).
    """
    if form == "tables":
        return load(assessments=v.SAMPLE_DIR / "assessments.csv", infusions=v.SAMPLE_DIR / "infusions.csv",
                    patients=v.SAMPLE_DIR / "patients.csv", events=v.SAMPLE_DIR / "events.csv")
    if form == "single":
        return load(v.SAMPLE_DIR / "single_file.csv")
    raise ValueError(f"form must be 'tables' or 'single', not {form!r}.")


