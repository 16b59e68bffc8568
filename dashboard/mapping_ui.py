"""The reading step of the Data page: how an upload will be read, edited in place, previewed.

``reading_step(upload, saved_mapping)`` draws, in order: the files read; the suggested (or saved)
:class:`analysis.Mapping` in sentences; its settings (layout, instrument, time unit, sheet) and
each column's role in a select box; for a wide file, what every wide column holds; the visit
times; the identifier screen; the first rows **as they will be read** (the contract's columns,
after the mapping) or the problems in words; value maps for labels the loader did not know; the
mapping as a JSON download. It returns the validated dataset when the reading succeeds.

Everything a user controls (file names, column names, labels) reaches the page only through
widgets that show text as text (``st.dataframe``, ``st.text``, select boxes with escaped labels,
or :func:`dashboard.security.md`).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pandas as pd
import streamlit as st

from analysis.contract import DIAGNOSES, ROUTES, DataError, OutcomeData, problems_frame
from analysis.instruments import instrument_names
from analysis.loading.reading import ratings_file
from analysis.loading.sheets import instrument_sheets
from analysis.loading.suggest import role_aliases
from analysis.loading.times import parse_infusion_label, parse_visit_label
from analysis.loading.validation import UNSCORED_ANSWER
from analysis.loading.vocabularies import key as comparison_key
from analysis.loading.wide import infusion_columns, visit_date_columns
from analysis.mapping import LAYOUTS, ROLES, TIME_UNITS, Mapping
from analysis.redcap import FIELD_ROLES, RECORDS_FILES, event_label
from dashboard.security import md
from dashboard.source_outline import MAX_LABELS, TableOutline, identifier_findings
from dashboard.tables import MISSING, show_problems_table
from dashboard.upload_worker import (
    UploadLimits,
    collect_within_limits,
    outline_upload,
    read_upload,
    suggest_upload_mapping,
)
from dashboard.uploads import TABLE_ROLES, Upload

__all__ = ["collect_checked", "read_upload_once", "reading_step", "show_problems", "show_warnings"]

BY_NAME = "(by its name)"  # a column the mapping does not name: read by its own name or kept
WIDE = "(wide measure)"
DROPPED = "(dropped unread)"  # removed before anything is read or shown (Mapping.dropped)
NOT_SET = "(not set)"
# (a survey's answers: an item's score, 0 up to the highest item of any scale, MADRS' 6)
VALUE_CHOICES: dict[str, tuple[str, ...]] = {"diagnosis": DIAGNOSES, "route": ROUTES, "sex": ("F", "M"),
                                             "score": tuple(str(k) for k in range(7))}
_DATE_ROLES = {"assessment_date", "infusion_date"}
_LABEL_ROLES = {"instrument", "route", "diagnosis", "sex", "visit", "event"}
_STANDARD_LAYOUTS = {"cdisc", "redcap"}  # read by the standard's reader, which applies its own identifier rules

PREVIEW_ROWS = 12
_CACHE_SIZE = 4
_BOX_PX = 200  # select boxes of the editor grids (four to a row at 1440 px, two at 800 px)


# --------------------------------------------------------------------------------------------
# Reading: every parse of the data goes through the limited worker


def _pairs(upload: Upload) -> list[tuple[str, bytes]]:
    return [(file.name, file.content) for file in upload.files]


def _chosen_tables(upload: Upload) -> dict[str, str]:
    """File name -> the table the user chose to read it as (the worker's ``tables``)."""
    return {file.name: file.table for file in upload.files if file.table}


def _load(upload: Upload, mapping: Mapping | None) -> OutcomeData:
    """analysis.load in the limited worker process (dashboard.upload_worker)."""
    return read_upload(_pairs(upload), mapping.to_json() if mapping is not None else None,
                       tables=_chosen_tables(upload))


def collect_checked(uploaded: list[Any]) -> Upload:
    """The uploaded files (zip archives unpacked), each checked against the upload limits on its
    container's metadata before anything of it is read in this process
    (:func:`dashboard.upload_worker.collect_within_limits`); once per content in this session, as
    the page reruns on every widget change."""
    pairs = [(getattr(u, "name", "") or "the uploaded file", bytes(u.getvalue())) for u in uploaded]
    key = hashlib.sha256()
    for name, content in pairs:
        key.update(f"{name}\x1f{len(content)}\x1f".encode("utf-8", errors="replace"))
        key.update(content)
    checked = _remember("_checked_uploads", key.hexdigest(),
                        lambda: collect_within_limits(pairs, UploadLimits.from_env()), size=1)
    if isinstance(checked, DataError):
        raise checked
    return checked


def _remember(name: str, key: Any, compute: Any, size: int = _CACHE_SIZE) -> Any:
    """``compute()`` once per key in this session (the last ``size`` entries kept); DataError is
    a result."""
    cache = st.session_state.setdefault(name, {})
    if key not in cache:
        try:
            cache[key] = compute()
        except DataError as error:
            cache[key] = error
        while len(cache) > size:
            cache.pop(next(iter(cache)))
    return cache[key]


def read_upload_once(upload: Upload, mapping: Mapping | None) -> OutcomeData | DataError:
    """The upload read with ``mapping``, once per content and mapping in this session."""
    with st.spinner("Reading the file(s)...", show_time=True):
        return _remember("_read_uploads", (upload.digest, mapping.to_json() if mapping else ""),
                         lambda: _load(upload, mapping))


def _suggested(upload: Upload, sheet: str | int | None) -> Mapping | DataError:
    def suggest() -> Mapping:
        hints = {"sheet": sheet} if sheet is not None else None
        return Mapping.from_json(suggest_upload_mapping(_pairs(upload), hints, tables=_chosen_tables(upload)))

    return _remember("_suggested_mappings", (upload.digest, sheet), suggest)


def _outlines(upload: Upload, sheet: str | int | None) -> dict[str, TableOutline] | DataError:
    """The tables' columns, first labels and identifier verdicts, read in the limited worker."""
    def outline() -> dict[str, TableOutline]:
        return outline_upload(_pairs(upload), sheet, tables=_chosen_tables(upload))

    return _remember("_source_outlines", (upload.digest, sheet), outline)


def _sheet_names(upload: Upload) -> list[str]:
    """Names of the visible worksheets of a single uploaded workbook (empty for anything else;
    hidden sheets are not read, as in the library)."""
    if len(upload.files) != 1 or not upload.files[0].content.startswith(b"PK"):
        return []
    import io

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(upload.files[0].content), read_only=True)
        return [sheet.title for sheet in book.worksheets if sheet.sheet_state == "visible"]
    except Exception:  # not a workbook: the reader says what it is
        return []


# --------------------------------------------------------------------------------------------
# Showing problems


def show_problems(error: DataError, key: str, title: str = "The file was not loaded") -> None:
    """A DataError as a headline and a table (which rows and why), never a traceback."""
    st.error(md(error.headline, limit=400), icon=":material/error:", title=title)
    show_problems_table(error.problems, key=key)
    st.caption("Each row is one problem: the table, the row as numbered in your file (1 = first data "
               "row), the column, the value and what is wrong. Change the reading above, or fix the file "
               "and upload it again; the app keeps working with the current dataset.")


_WARNING_TABLES = {"assessments": "Ratings", "infusions": "Infusions", "patients": "Patients", "events": "Events",
                   "file": "Reading"}


def show_warnings(data: OutcomeData, heading: str) -> None:
    """The loader's warnings under ``heading``, one wrapped line each led by the table it concerns
    (a table cell would cut the sentences short; each sentence says its own count); nothing when
    there are none."""
    if not data.warnings:
        return
    st.markdown(heading)
    st.markdown("\n".join(f"- **{_WARNING_TABLES.get(w.table, md(w.table.capitalize(), limit=40))}:** "
                           f"{md(str(w), limit=600)}" for w in data.warnings))


def _identifier_problems(outlines: dict[str, TableOutline], mapping: Mapping) -> pd.DataFrame:
    """The identifier screen (analysis.identifiers) on the tables as read, before anything of
    their content is shown: columns the mapping reads as contract columns are judged by content
    only, as the loader judges them. CDISC datasets and REDCap exports are screened by their
    readers, by their standard's rules (CDISC calendar dates and free text are not passed on;
    REDCap fields flagged identifier = y are dropped, then every field left is screened): judged
    raw here, the CDISC pilot's dates and the flagged REDCap fields refused files the library
    reads. Of those, only the visit column's labels are shown before reading, so only it is judged.
    The dates of a wide layout's infusions and visits (``infusion2_date``, ``date_day7``) are read by
    the loader like any date role."""
    standard = mapping.layout in _STANDARD_LAYOUTS
    aliases = role_aliases()
    roles = {column: role for role, column in mapping.columns.items()}
    # The tables the mapping reads (in the table form, assessments; the others by their column names).
    mapped = {"assessments"} if "assessments" in outlines else set(outlines)
    records = []
    for name, table in outlines.items():
        by_alias = {c: aliases[comparison_key(c)] for c in table.columns if comparison_key(c) in aliases}
        role_of = {**by_alias, **roles} if name in mapped else by_alias
        known = {c for c in table.columns if c in role_of and role_of[c] not in {"ignore", "covariate"}}
        known |= set(mapping.wide_columns) if name in mapped else set()
        dates = {c for c in known if role_of.get(c) in _DATE_ROLES}
        if mapping.layout == "wide" and name in mapped:  # the dates of infusions and visits: converted or dropped by the loader
            others = [c for c in table.columns if c not in mapping.columns.values() and c not in mapping.wide_columns]
            dates |= {c for c, (_, role) in infusion_columns(others).items() if role == "infusion_date"}
            dates |= set(visit_date_columns(others, mapping.wide_columns))
        labels = {c for c in known if role_of.get(c) in _LABEL_ROLES}
        for finding in identifier_findings(table, known, dates, labels):
            if standard and finding.column != mapping.columns.get("visit") \
                    or name in mapped and finding.column in mapping.dropped:  # never read: never judged
                continue
            records.append({"table": name, "row": pd.NA, "column": finding.column, "value": finding.example,
                            "message": f"Column {finding.column!r} {finding.describe()}. Identifying "
                                       "information is not accepted: remove the column from the export "
                                       "and upload it again."})
    return problems_frame(records)


# --------------------------------------------------------------------------------------------
# The editor


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:10]


def _index(options: list[Any], value: Any) -> int:
    return options.index(value) if value in options else 0


def _settings(base: Mapping, prefix: str) -> dict[str, Any]:
    """Layout, instrument and time unit; returns the fields that differ from ``base``."""
    left, middle, right = st.columns(3)
    layouts = list(LAYOUTS)
    layout = left.selectbox("Layout", layouts, index=_index(layouts, base.layout), key=f"{prefix}_layout",
                            help="long: one row per rating; wide: one row per patient and a column per "
                                 "time point, instrument or item; cdisc: SDTM/ADaM datasets; redcap: a "
                                 "REDCap records export with its data dictionary.")
    instruments = [NOT_SET, *instrument_names()]
    instrument = middle.selectbox("Instrument (when the file names none)", instruments,
                                  index=_index(instruments, base.instrument), key=f"{prefix}_instrument",
                                  help="Every rating is read as this instrument when no column names it.")
    units = [NOT_SET, *TIME_UNITS]
    unit = right.selectbox("Time unit of the 'time' column", units, index=_index(units, base.time_unit),
                           key=f"{prefix}_time_unit",
                           help="The unit of the column whose role is 'time' (a month is 30.4375 days).")
    changes: dict[str, Any] = {}
    if layout != base.layout:
        changes["layout"] = layout
    if (None if instrument == NOT_SET else instrument) != base.instrument:
        changes["instrument"] = None if instrument == NOT_SET else instrument
    if (None if unit == NOT_SET else unit) != base.time_unit:
        changes["time_unit"] = None if unit == NOT_SET else unit
    return changes


def _column_label(column: str, size: int = 80) -> str:
    """A column's name as a box's label: long names (a survey's question after its stem) keep
    their start and their end, where questions differ."""
    if len(column) <= size:
        return column
    return f"{column[:24].rstrip()} … {column[-(size - 27):].lstrip()}"


def _roles(base: Mapping, columns: list[str], layout: str, prefix: str, variable_labels: dict[str, str]
           ) -> tuple[dict[str, str | None], list[str], list[str], tuple[str, ...]]:
    """One select box per source column, labelled with its name and, from a statistical file, its
    variable label ('Q1_1: ... Little interest or pleasure'). Returns (role changes for
    Mapping.replace, columns chosen as wide measures, problems in words, columns dropped unread)."""
    current = {column: role for role, column in base.columns.items()}
    options = [BY_NAME, *ROLES, DROPPED] + ([WIDE] if layout == "wide" else [])
    chosen: dict[str, str] = {}
    grid = st.container(horizontal=True)  # boxes of a fixed width wrap to the screen's width
    for position, column in enumerate(columns):
        value = current.get(column) or (WIDE if column in base.wide_columns and layout == "wide" else
                                        DROPPED if column in base.dropped else BY_NAME)
        chosen[column] = grid.selectbox(
            md(_column_label(f"{column}: {variable_labels[column]}" if variable_labels.get(column) else column),
               limit=90), options, index=_index(options, value),
            key=f"{prefix}_role_{position}", width=_BOX_PX,
            help="The contract column this source column holds (see the data dictionary below). "
                 f"'{BY_NAME}': read by its own name when it is a contract name, else kept as a covariate "
                 f"or an extra column; 'ignore': not read; '{DROPPED}': removed before anything is read, "
                 "checked or shown (e.g. a survey tool's IP address or e-mail columns).")
    problems = []
    by_role: dict[str, list[str]] = {}
    for column, role in chosen.items():
        if role not in (BY_NAME, WIDE, DROPPED):
            by_role.setdefault(role, []).append(column)
    for role, given in by_role.items():
        if len(given) > 1:
            # A Mapping holds one source column per role (columns: role -> column).
            problems.append(f"The role {role!r} is given to {len(given)} columns ({', '.join(map(repr, given))}); "
                            f"a mapping reads one column per role. Keep it on one of them and set the others "
                            f"to '{BY_NAME}' or another role.")
    wanted = {role: given[0] for role, given in by_role.items()}
    changes: dict[str, str | None] = {role: column for role, column in wanted.items()
                                      if base.columns.get(role) != column}
    # Roles whose column this file does not have stay: the reading then says so in words.
    changes.update({role: None for role, column in base.columns.items() if role not in wanted and column in chosen})
    wide = [column for column, role in chosen.items() if role == WIDE]
    dropped = tuple(column for column, role in chosen.items() if role == DROPPED)
    return changes, wide, problems, dropped


_REDCAP_ROLE_LABELS = {"score": "Total score", "assessment_date": "Date of the ratings",
                       "infusion_date": "Date of each infusion", "dose_mg_per_kg": "Dose (mg/kg)",
                       "dose_mg": "Dose (mg)", "weight_kg": "Weight (kg)", "route": "Route",
                       "duration_min": "Infusion duration (min)"}


def _redcap_records(outlines: dict[str, TableOutline]) -> TableOutline | None:
    """The records export among a REDCap upload's tables (data.csv, records.csv ...)."""
    return next((outlines[name] for name in RECORDS_FILES if name in outlines), None)


def _redcap_fields(base: Mapping, fields: list[str], prefix: str) -> dict[str, str]:
    """One select box per role the REDCap reader takes from the mapping (score, the dates that time
    ratings and infusions, dose, route ...), its guess preselected; returns the roles changed."""
    st.caption("The reader's guess for each role; choose another field to correct it. Dates chosen here are "
               "converted to hours since each record's first infusion, then removed.")
    grid = st.container(horizontal=True)
    changes = {}
    for role in FIELD_ROLES:
        options = [NOT_SET, *fields]
        guessed = base.columns.get(role)
        chosen = grid.selectbox(_REDCAP_ROLE_LABELS[role], options, index=_index(options, guessed), width=_BOX_PX,
                                key=f"{prefix}_redcap_{role}")
        if chosen != NOT_SET and chosen != guessed:
            changes[role] = chosen
    return changes


def _wide_table(base: Mapping, wide: list[str], prefix: str) -> dict[str, tuple[str, Any, int | None]]:
    """What every wide column holds (instrument, time, item), editable in place."""
    from analysis.loading.wide import parse_wide_header

    rows, original = [], {}
    labels = [_column_label(c) for c in wide]
    shown_as = {c: (label if labels.count(label) == 1 else c) for c, label in zip(wide, labels, strict=True)}
    for column in wide:
        spec = base.wide_columns.get(column)
        if spec is None:
            parsed = parse_wide_header(column)
            spec = (parsed.instrument, parsed.hours if parsed.hours is not None else parsed.time_label,
                    parsed.item) if parsed is not None else (base.instrument or "", None, None)
        instrument, time, item = spec
        rows.append({"column": shown_as[column], "instrument": instrument,
                     "time": "" if time is None else (f"{time:.4g}" if isinstance(time, float) else str(time)),
                     "item": item})
        original[shown_as[column]] = (spec, rows[-1], column)
    table = pd.DataFrame(rows, columns=["column", "instrument", "time", "item"]).astype({"item": "Int64"})
    st.markdown("**Wide columns**")
    edited = st.data_editor(
        table, hide_index=True, disabled=["column"], key=f"{prefix}_wide_{_digest(*wide)}", placeholder="",
        column_config={
            "column": st.column_config.TextColumn("column in the file"),
            "instrument": st.column_config.SelectboxColumn("instrument", options=list(instrument_names()),
                                                           required=True),
            "time": st.column_config.TextColumn("time", help="Hours since the start of the first infusion (a "
                                                "number), a visit label (timed by the visit table below), "
                                                "or empty when the row has a time column."),
            "item": st.column_config.NumberColumn("item", min_value=1, step=1,
                                                  help="Item number; empty for a total score."),
        })
    specs = {}
    for row in edited.itertuples(index=False):
        spec, shown, column = original[str(row.column)]
        item = None if pd.isna(row.item) else int(row.item)
        if (row.instrument, row.time, item) == (shown["instrument"], shown["time"], shown["item"]):
            specs[column] = spec  # unchanged: the exact value, not its rounded display
            continue
        text = str(row.time).strip() if isinstance(row.time, str) else ""
        try:
            time: Any = float(text) if text else None
        except ValueError:
            time = text
        specs[column] = (str(row.instrument or ""), time, item)
    return specs


def _visit_labels(table: TableOutline | None, mapping: Mapping) -> list[str]:
    """Visit labels the reading has to time: the visit column's labels, wide time labels and the
    labels the mapping already times."""
    labels: list[str] = list(mapping.visit_times)
    visit = mapping.columns.get("visit")
    if table is not None and visit in table.labels:
        labels.extend(table.labels[visit])
    labels.extend(t for _, t, _ in mapping.wide_columns.values() if isinstance(t, str) and t)
    return list(dict.fromkeys(labels))[:MAX_LABELS]


def _after_start(hours: float) -> str:
    """Hours relative to an infusion's start in words: "1 min before", "40 min after", "4 h after"."""
    minutes = round(hours * 60)
    if minutes < 0:
        return f"{-minutes:g} min before"
    return f"{minutes:g} min after" if minutes < 120 else f"{hours:g} h after"


def _visit_table(mapping: Mapping, labels: list[str], prefix: str) -> dict[str, float]:
    """Hours since the first infusion for each visit label, editable in place. REDCap events are
    read as the reader reads them (the label without its arm); with rating dates, those time the
    events whose labels say no time."""
    redcap = mapping.layout == "redcap"
    dated = mapping.columns.get("assessment_date") or "assessment_date" in mapping.reasons  # one date field, or one per form
    untimed = "timed by the rating dates" if redcap and dated else "needs a time"
    rows = []
    for label in labels:
        text = event_label(label) if redcap else label
        parsed, relative = parse_visit_label(text), parse_infusion_label(text)
        read = f"{parsed[0]:g} h: {parsed[1]}" if parsed is not None else \
            f"{_after_start(relative[1])} infusion {relative[0]}'s start" if relative is not None else untimed
        rows.append({"visit": label, "hours": mapping.visit_times.get(label, math.nan), "read from the label": read})
    st.markdown("**Visit times**")
    st.caption("Hours since the start of the first infusion for each visit label. Leave a time empty to "
               "use what the label says; a time given here wins over the label.")
    edited = st.data_editor(
        pd.DataFrame(rows, columns=["visit", "hours", "read from the label"]), hide_index=True,
        disabled=["visit", "read from the label"], key=f"{prefix}_visits_{_digest(*labels)}", placeholder="",
        column_config={"hours": st.column_config.NumberColumn("hours", format="%g",
                                                              help="e.g. -1 for a baseline an hour before, "
                                                                   "168 for day 7")})
    return {str(r.visit): float(r.hours) for r in edited.itertuples(index=False) if pd.notna(r.hours)}


def _unknown_labels(error: DataError) -> list[tuple[str, str]]:
    """(role, label) of the labels the loader did not understand in vocabulary columns."""
    problems = error.problems
    if problems.empty:
        return []
    messages = problems["message"].astype(str)
    answers = messages.str.contains(UNSCORED_ANSWER, regex=False)  # in the question's column: role score
    wanted = (problems["column"].isin(list(VALUE_CHOICES)) & messages.str.startswith("Unknown")) | answers
    wanted &= problems["value"].astype(str).str.strip() != ""
    roles = problems["column"].astype(str).where(~answers, "score")
    return list(dict.fromkeys(zip(roles[wanted], problems.loc[wanted, "value"].astype(str), strict=True)))


def _value_key(prefix: str, role: str, label: str) -> str:
    return f"{prefix}_value_{role}_{_digest(label)}"


def _value_maps(base: Mapping, prefix: str) -> dict[str, dict[str, str]]:
    """The value maps: the mapping's own, and the choices made for unknown labels (their select
    boxes, drawn under the preview, keep their state in the session)."""
    maps = {role: dict(values) for role, values in base.value_maps.items()}
    for role, label in st.session_state.get(f"{prefix}_unknown", []):
        choice = st.session_state.get(_value_key(prefix, role, label))
        if choice and choice != NOT_SET:
            maps.setdefault(role, {})[label] = choice
    return {role: values for role, values in maps.items() if values}


def _value_boxes(prefix: str, error: DataError | None) -> None:
    """A select box for each label the loader did not know (remembered across reruns)."""
    known = list(st.session_state.get(f"{prefix}_unknown", []))
    if error is not None:
        known.extend(pair for pair in _unknown_labels(error) if pair not in known)
    st.session_state[f"{prefix}_unknown"] = known
    if not known:
        return
    st.markdown("**Labels to read as**")
    st.caption("The loader did not recognise these labels. Choose what each one means; the choice is saved "
               "in the mapping.")
    grid = st.container(horizontal=True)
    for role, label in known:
        options = [NOT_SET, *VALUE_CHOICES[role]]
        grid.selectbox(md(f"{role}: {label}", limit=80), options, key=_value_key(prefix, role, label),
                       width=_BOX_PX)


# --------------------------------------------------------------------------------------------
# The step


def _describe(mapping: Mapping) -> None:
    st.markdown("\n".join(f"- {md(sentence, limit=300)}" for sentence in mapping.describe()))


def _preview(data: OutcomeData) -> None:
    st.markdown(f"**The first rows as they will be read** ({data.n_patients:,} patients, "
                f"{len(data.assessments):,} ratings, {len(data.infusions):,} infusions)")
    tabs = st.tabs(["assessments", "patients", "infusions"])
    for tab, (name, table) in zip(tabs, (("assessments", data.assessments), ("patients", data.patients),
                                         ("infusions", data.infusions)), strict=True):
        with tab:
            st.dataframe(table.drop(columns="source_row", errors="ignore").head(PREVIEW_ROWS), hide_index=True,
                         alt=f"Preview of the {name} table", key=f"preview_{name}", placeholder=MISSING)
    if not data.has_clock_time:
        st.info("The file gives visits but no clock time: analyses by visit work (MMRM, responder rates "
                "and trajectories by visit, Table 1); onset in hours and durability in days need times "
                "(add a time column or visit times).", icon=":material/schedule:")
    show_warnings(data, "**Warnings** (nothing was dropped silently)")


def _base(upload: Upload, saved: bytes | None, sheet: str | int | None) -> Mapping | DataError:
    """The saved mapping when one was uploaded (its sheet kept), else the suggestion."""
    if saved is None:
        return _suggested(upload, sheet)
    try:
        text = saved.decode("utf-8-sig")
    except UnicodeDecodeError:
        return DataError(problems_frame([{"table": "mapping", "row": pd.NA, "column": "", "value": "",
                                          "message": "the saved mapping is not UTF-8 text: upload the .json "
                                                     "file downloaded from this page."}]),
                         headline="The saved mapping cannot be read.")
    try:
        return Mapping.from_json(text)
    except DataError as error:
        return error


def _table_names(upload: Upload) -> Upload:
    """Several files: which table each one is (by its name unless chosen here)."""
    choices = [BY_NAME, *TABLE_ROLES]
    ratings = ratings_file(upload.names)  # e.g. a survey export beside infusions.csv
    with st.expander("Which table is each file?", expanded=not any(f.stem in TABLE_ROLES for f in upload.files),
                     icon=":material/folder_open:"):
        st.caption("For the table form (assessments required; infusions, patients and events optional). Files "
                   "named assessments, infusions, patients or events are read as those tables, and the one other "
                   "file beside them as the assessments; CDISC datasets and REDCap exports are read by their own "
                   "names.")
        grid = st.container(horizontal=True)
        tables = {file.name: grid.selectbox(md(file.name, limit=80), choices, width=_BOX_PX,
                                            index=choices.index("assessments") if file.name == ratings else 0,
                                            key=f"tables_{upload.digest[:10]}_{i}")
                  for i, file in enumerate(upload.files)}
    chosen = {name: table for name, table in tables.items() if table != BY_NAME}
    renamed = upload.with_table_names(chosen) if chosen else upload
    roles = [f.role for f in renamed.files if f.role is not None]
    twice = sorted({r for r in roles if roles.count(r) > 1})
    if twice:
        raise DataError(problems_frame([{"table": t, "row": pd.NA, "column": "", "value": "",
                                         "message": f"More than one file would be read as the {t} table; choose "
                                                    "one of them."} for t in twice]),
                        headline="Each table can come from one file only.")
    return renamed


def reading_step(upload: Upload, saved: bytes | None = None) -> OutcomeData | None:
    """Draw the reading step for ``upload`` (and a saved mapping's JSON bytes, if given);
    returns the validated dataset when the reading succeeds, else None."""
    if upload.notes or len(upload.files) > 1:  # one file: the uploader already names it
        st.dataframe(pd.DataFrame({"File": upload.names, "Size (kB)": [round(len(f.content) / 1024, 1)
                                                                    for f in upload.files]}),
                     hide_index=True, alt="Files read", key="upload_file_list")
    for note in upload.notes:
        st.caption(md(note))
    if len(upload.files) > 1:
        try:
            upload = _table_names(upload)
        except DataError as error:
            show_problems(error, "table_problems", "The files cannot be read together")
            return None
    table_form = bool(upload.table_form)
    if table_form:
        st.info("Read as the table form: assessments, with infusions, patients and events when given. The "
                "assessments table's columns are read as set below; the other tables by the column names of "
                "the data dictionary.", icon=":material/table:")

    sheets = _sheet_names(upload)
    upload_prefix = f"map_{upload.digest[:10]}_{_digest(saved or b'')}"
    sheet: str | int | None = None
    if len(sheets) > 1:
        # a sheet per instrument is read together (analysis.loading.sheets); one sheet can still be chosen
        together = len(instrument_sheets(sheets)) > 1
        automatic = "(the instrument sheets together)" if together else "(found automatically)"
        choice = st.selectbox("Sheet", [automatic, *sheets], key=f"{upload_prefix}_sheet",
                              help="The sheets per instrument ('MADRS', 'CADSS ratings') read as one table, with a "
                                   "'Patients' and an 'Infusions' sheet; or one sheet alone." if together else
                                   "The worksheet holding the data.")
        sheet = None if choice == automatic else choice
    base = _base(upload, saved, sheet)
    if isinstance(base, DataError):
        show_problems(base, "mapping_problems", "The file could not be read")
        return None
    if saved is not None and sheet is not None and sheet != base.sheet:
        base = base.replace(sheet=sheet)
    elif sheet is None and saved is None and base.sheet is not None:
        sheet = base.sheet
    prefix = f"{upload_prefix}_{_digest(sheet)}"
    outlines = _outlines(upload, base.sheet if saved is not None else sheet)
    if isinstance(outlines, DataError):
        show_problems(outlines, "reading_problems", "The file could not be read")
        return None
    # The table whose columns the mapping reads: the only one, or the table form's assessments.
    table = outlines.get("assessments") if table_form else next(iter(outlines.values())) if len(outlines) == 1 \
        else None

    st.subheader("How the file will be read")
    changes = _settings(base, prefix)
    layout = changes.get("layout", base.layout)
    wide: list[str] = []
    role_problems: list[str] = []
    if table is not None and layout in ("long", "wide"):
        columns = list(table.columns)
        with st.expander(f"Column roles ({len(columns)} columns)", expanded=True, icon=":material/view_column:"):
            roles, wide, role_problems, dropped = _roles(base, columns, layout, prefix, table.variable_labels)
            if set(dropped) != set(base.dropped):
                changes["dropped"] = dropped
            if wide:
                changes["wide_columns"] = _wide_table(base, wide, prefix)
            elif base.wide_columns and layout == "wide":
                changes["wide_columns"] = {}
        if roles:
            changes["columns"] = roles
    elif table is None:
        st.caption(md(f"{len(outlines)} tables read together ({', '.join(outlines)}); their columns are read by "
                      "the standard's rules.", limit=400))
        records = _redcap_records(outlines) if layout == "redcap" else None
        if records is not None:
            with st.expander("REDCap fields", expanded=False, icon=":material/view_column:"):
                fields = _redcap_fields(base, list(records.columns), prefix)
            if fields:
                changes["columns"] = fields
    if role_problems:
        show_problems(DataError(problems_frame([{"table": "mapping", "row": pd.NA, "column": "", "value": "",
                                                 "message": p} for p in role_problems]),
                                headline="The column roles are not consistent."), "role_problems",
                      "The mapping needs a change")
        return None
    try:
        mapping = base.replace(**changes) if changes else base
    except DataError as error:
        show_problems(error, "mapping_problems", "The mapping needs a change")
        return None

    identifying = _identifier_problems(outlines, mapping)
    if len(identifying):
        st.error(f"The file was not loaded: {len(identifying)} column(s) look like identifying information. "
                 "Nothing of its content is shown.", icon=":material/gpp_bad:", title="Identifiers found")
        show_problems_table(identifying, key="identifier_problems")
        st.caption("Values are never shown: the examples keep only their shape (letters as x, digits as 9). "
                   "Remove these columns from the export and upload it again.")
        return None

    labels = _visit_labels(table if table is not None else _redcap_records(outlines), mapping)
    visit_times = _visit_table(mapping, labels, prefix) if labels else {}
    value_maps = _value_maps(mapping, prefix)
    final: dict[str, Any] = {}
    if visit_times != mapping.visit_times:
        final["visit_times"] = visit_times
    if value_maps != mapping.value_maps:
        final["value_maps"] = value_maps
    mapping = mapping.replace(**final) if final else mapping

    with st.expander("In words", expanded=True, icon=":material/notes:"):
        _describe(mapping)
    result = read_upload_once(upload, mapping)
    return _outcome(result, mapping, prefix)


def _outcome(result: OutcomeData | DataError, mapping: Mapping | None, prefix: str) -> OutcomeData | None:
    if isinstance(result, DataError):
        show_problems(result, "upload_problems")
    else:
        _preview(result)
    if mapping is not None:
        _value_boxes(prefix, result if isinstance(result, DataError) else None)
    if mapping is not None:
        with st.expander("The mapping as JSON", icon=":material/data_object:"):
            st.code(mapping.to_json(), language="json")
        st.download_button("Download this mapping (JSON)", data=mapping.to_json(), file_name="mapping.json",
                           mime="application/json", on_click="ignore", icon=":material/download:",
                           key="mapping_json",
                           help="Upload it with next month's export: the same reading is applied.")
    return result if isinstance(result, OutcomeData) else None
