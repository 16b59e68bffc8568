"""The mapping step: a table as read + a :class:`~analysis.mapping.Mapping` -> the long
single-file form with contract column names, ready for :mod:`analysis.loading.validation`.

In order: record filters; value labels of SPSS/Stata/SAS files for label columns; the wide layout
melted to one row per rating (ids by row when there is no id column); role columns renamed to
their contract names; times from study days (CDISC rule), ISO 8601 durations, a time column of
the mapping's ``time_unit``, or visit labels (``visit_times`` first, then the label's own words),
else the visit order (``has_clock_time=False``); the default instrument; a baseline held as a
column turned into a baseline rating; event rows split off into the events table. Columns the
mapping drops are screened for identifiers first, so no layout bypasses the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.identifiers import find_identifier_columns, looks_identifying
from analysis.loading import calendar
from analysis.loading import validation as v
from analysis.loading.suggest import role_aliases
from analysis.loading.times import (
    BASELINE_HOURS,
    iso_durations,
    parse_infusion_label,
    parse_visit_label,
    placement_hours,
    study_day_hours,
)
from analysis.loading.vocabularies import key
from analysis.loading.wide import (
    infusion_columns,
    melt_wide,
    parse_wide_header,
    session_numbers,
    visit_date_columns,
)
from analysis.mapping import Mapping
from analysis.readers import RawTable

__all__ = ["Mapped", "apply_mapping", "recognised_columns"]

_LABEL_ROLES = {"sex", "diagnosis", "route", "instrument", "event", "visit"}
_ROLE_TIME_COLUMN = {"time": None, "time_min": "time_min", "time_minutes": "time_min", "time_hours": "time_hours",
                     "time_days": "time_days", "time_weeks": "time_weeks", "time_months": "time_months"}
_UNIT_COLUMN = {"minutes": "time_min", "hours": "time_hours", "days": "time_days", "weeks": "time_weeks",
                "months": "time_months"}


@dataclass
class Mapped:
    """The result of the mapping step: the long table, the events rows, whether times are clock times."""

    raw: RawTable
    events: RawTable | None
    has_clock_time: bool
    infusions: RawTable | None = None  # a wide sheet's per-infusion columns (infusion1_date, inf2_dose ...)


def recognised_columns(columns: Any) -> int:
    """How many column names a mapping would recognise (to find the data sheet of a workbook)."""
    aliases = role_aliases()
    return sum(1 for c in columns if key(c) in aliases or parse_wide_header(str(c)) is not None)


def _passes(series: pd.Series, op: str, value: Any) -> np.ndarray:
    text = series.astype("string").str.strip()
    empty = text.isna() | (text == "")
    if op == "empty":
        return empty.to_numpy()
    if op == "not empty":
        return (~empty).to_numpy()
    if op in {"in", "not in"}:
        inside = text.isin(list(value)).fillna(False).to_numpy(dtype=bool)
        return inside if op == "in" else ~inside
    equal = (text == str(value)).fillna(False).to_numpy(dtype=bool)
    return equal if op == "==" else ~equal


def _filter_rows(report: v._Report, raw: RawTable, frame: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for column, op, value in mapping.record_filters:
        if column not in frame.columns:
            report.add(raw, raw.table, f"the mapping filters on column {column!r}, which {raw.name} does not have. "
                       "Remove the filter or name an existing column.", column=column)
            continue
        passed = _passes(frame[column], op, value)
        if (~passed & keep).any():
            shown = "" if op in {"empty", "not empty"} else f" {value!r}"
            report.warn("records_filtered", f"{int((~passed & keep).sum())} row(s) of {raw.name} left out: only "
                        f"rows where {column!r} {op}{shown} are read (record_filters).", int((~passed & keep).sum()),
                        table=raw.table)
        keep &= passed
    if len(frame) and mapping.record_filters and not keep.any():
        said = "; ".join(f"{c!r} {op}{'' if op in {'empty', 'not empty'} else f' {v!r}'}"
                         for c, op, v in mapping.record_filters)
        report.add(raw, raw.table, f"the mapping's record filters ({said}) leave none of the {len(frame)} row(s) of "
                   f"{raw.name}: there is nothing to read. Check the filters against the file's values.",
                   column=mapping.record_filters[0][0])
    return frame.loc[keep].reset_index(drop=True) if not keep.all() else frame


# What a spreadsheet's summary rows say in the patient column (compared lower-cased, without a
# final ':' or '.'): 'Mean', 'SD', 'Total', 'n' rows below (or between) the patients.
SUMMARY_ROW_WORDS = frozenset({"mean", "means", "average", "avg", "sd", "s.d", "std", "stdev", "std dev",
                               "standard deviation", "se", "sem", "median", "iqr", "range", "min", "max",
                               "minimum", "maximum", "total", "totals", "sum", "n", "count", "mean (sd)",
                               "mean +/- sd", "mean ± sd"})


def _summary_rows(report: v._Report, raw: RawTable, frame: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """``frame`` without the rows whose patient id is a summary label ('Mean', 'SD', 'Total':
    :data:`SUMMARY_ROW_WORDS`), which a spreadsheet adds under its patients; said with their rows.
    Read as patients they would add a patient called 'Mean' to every count and estimate."""
    column = _role_column(frame.columns, mapping, "patient_id")
    if column is None or pd.api.types.is_numeric_dtype(frame[column].dtype):
        return frame
    ids = frame[column]
    labels = ids.cat.categories if isinstance(ids.dtype, pd.CategoricalDtype) else pd.unique(ids.dropna())
    summary = [label for label in labels if str(label).strip().rstrip(":.").strip().lower() in SUMMARY_ROW_WORDS]
    if not summary:
        return frame
    rows = ids.isin(summary).to_numpy()
    said = ", ".join(repr(str(label).strip()) for label in summary[:6])
    report.warn("summary_rows", f"{int(rows.sum())} summary row(s) of {raw.name} ({said} in {column!r}) were not read "
                f"as patients: {raw.rows_text(frame['source_row'].to_numpy()[rows], 10)}.", int(rows.sum()),
                table=raw.table, rows=frame["source_row"].to_numpy()[rows])
    return frame.loc[~rows].reset_index(drop=True)


def _screen_dropped(report: v._Report, raw: RawTable, frame: pd.DataFrame, dropped: list[str]) -> None:
    """Columns the mapping does not carry on are screened here, with the same words as the rest."""
    if not dropped:
        return
    for finding in find_identifier_columns(frame[dropped]):
        if report.allow_identifiers:
            report.warn("identifiers_allowed", f"{raw.name}: column {finding.column!r} looks identifying "
                        f"({finding.reason}); it is not read (allow_identifiers=True).", 1, table=raw.table)
            continue
        report.add(raw, raw.table, f"Column {finding.column!r} {finding.describe()}. Identifying information is "
                   "not accepted, even in a column the mapping does not read: remove the column (or, in your own "
                   "script only, pass allow_identifiers=True).", column=finding.column, value=finding.example)


def _time_of_label(label: Any, visit_times: dict[str, float]) -> float:
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return np.nan
    if isinstance(label, (int, float)):
        return float(label)
    text = str(label).strip()
    if text in visit_times:
        return visit_times[text]
    parsed = parse_visit_label(text)
    return np.nan if parsed is None else parsed[0]


def _wide_infusions(raw: RawTable, frame: pd.DataFrame, mapping: Mapping,
                    wide: dict[str, tuple[str, Any, int | None]]) -> tuple[pd.DataFrame, RawTable | None]:
    """A wide sheet's columns describing each infusion of a series (``infusion1_date``, ``Date of
    infusion 2``, ``inf2_dose``, ``inf2_route``: :func:`~analysis.loading.wide.infusion_columns`)
    as an infusions table of their own: one row per infusion with a date, numbered as the patient's
    row; the patient's ``weight_kg`` beside doses in mg. The columns are removed from ``frame``."""
    candidates = [c for c in frame.columns if c not in wide and c not in mapping.columns.values() and c != "source_row"]
    described = infusion_columns(candidates)
    if not any(role == "infusion_date" for _, role in described.values()):
        return frame, None
    patient = _patient_labels(frame, mapping)
    weight = _role_column(frame.columns, mapping, "weight_kg")
    pieces = []
    for number in sorted({n for n, _ in described.values()}):
        columns = {role: c for c, (n, role) in described.items() if n == number}
        if "infusion_date" not in columns:
            continue
        given = (frame[columns["infusion_date"]].astype("string").str.strip().fillna("") != "").to_numpy()
        piece = pd.DataFrame({"patient_id": patient[given], "infusion_number": number,
                              "source_row": frame["source_row"].to_numpy()[given]})
        for role, column in columns.items():
            piece[role] = frame[column].to_numpy()[given]
        if "dose_mg" in columns:  # one dose column for every infusion: mg written out, read with the weight
            mg = frame[columns["dose_mg"]].astype("string").str.strip()
            piece = piece.drop(columns="dose_mg").assign(dose_mg_per_kg=(mg + " mg").to_numpy(dtype=object)[given])
            if weight is not None:
                piece["weight_kg"] = frame[weight].to_numpy()[given]
        pieces.append(piece)
    table = pd.concat(pieces, ignore_index=True).sort_values(["source_row", "infusion_number"], kind="stable")
    table = table.drop_duplicates(["patient_id", "infusion_number"]).reset_index(drop=True)
    return frame.drop(columns=list(described)), RawTable(table, raw.name, raw.kind, decimal_comma=raw.decimal_comma)


def _melt(report: v._Report, raw: RawTable, frame: pd.DataFrame, mapping: Mapping,
          infusions: RawTable | None) -> pd.DataFrame:
    wide = {c: s for c, s in mapping.wide_columns.items() if c in frame.columns}
    missing = [c for c in mapping.wide_columns if c not in frame.columns]
    if missing:
        report.add(raw, raw.table, f"the mapping reads wide column(s) {', '.join(map(repr, missing[:5]))}, which "
                   f"{raw.name} does not have.", column=missing[0])
    keep = [c for c in frame.columns if c not in wide]
    long = melt_wide(frame, wide, keep)
    if wide and len(frame) and not len(long):
        names = list(wide)
        report.add(raw, raw.table, f"the wide column(s) {', '.join(map(repr, names[:8]))}"
                   f"{' ...' if len(names) > 8 else ''} are empty in all {len(frame)} row(s): {raw.name} holds no "
                   "rating to read. Check that the export includes the scores.", column=names[0])
    times = long.pop("wide_time")
    column = long.pop("wide_column")
    distinct = pd.unique(times.astype(object))
    hours = {t if isinstance(t, str) else ("" if t is None else float(t)): _time_of_label(t, mapping.visit_times)
             for t in distinct if t is not None}
    time_values = np.array([np.nan if t is None else hours.get(t if isinstance(t, str) else float(t), np.nan)
                            for t in distinct], dtype=float)
    long["wide_hours"] = time_values[pd.Index(distinct).get_indexer(times.astype(object))] if len(long) else \
        np.array([], dtype=float)
    # A column's visit label is its header's time label; none when its time comes from the row (a
    # survey's 'GAD-7 [Trouble relaxing]' names an item, not a visit).
    labels = {c: (h.time_label if spec[1] is not None and (h := parse_wide_header(c)) is not None else None)
              for c, spec in wide.items()}
    # visit_times win over a header's own time ('CADSS Post' is 40 min unless visit_times={'Post': 1}).
    given = {c: mapping.visit_times[label] for c in wide if (label := labels[c] or c) in mapping.visit_times}
    if given and len(long):
        override = column.map(given).to_numpy(dtype=float)
        long["wide_hours"] = np.where(np.isnan(override), long["wide_hours"].to_numpy(dtype=float), override)
    long, dated = _visit_dates(report, raw, long, column, wide, labels, mapping, infusions)
    untimed = {str(t) for t in pd.unique(times[~dated & np.isnan(long["wide_hours"].to_numpy())].astype(object))
               if isinstance(t, str)}
    by_session = _time_from_row_infusions(long, mapping, column.map(labels), dated)
    untimed -= by_session
    unknown = [] if _mark_relative(long, times.astype(object), untimed) else sorted(untimed)
    if unknown:
        fix = ", ".join(f"{t!r}: ..." for t in unknown[:4])
        how = "name dates, which identify people: name them by their time since the first infusion ('MADRS Day " \
              "7', 'MADRS Week 2')" if any(looks_identifying(t) for t in unknown) else \
              f"say no time. Give each its hours since the first infusion: analysis.load(path, visit_times={{{fix}}})"
        report.add(raw, raw.table, f"the wide column(s) with time label(s) {v._quoted(unknown[:8])} {how}.",
                   column=v._show(next(c for c, s in wide.items() if s[1] in unknown)))
        report.times_explained = True  # (not again for each rating without a time)
    long["wide_visit"] = column.map(labels) if len(long) else pd.Series([], dtype=object)
    long[v.CELL_COLUMN] = column.astype("category")  # named in messages about the rating
    return long


def _time_from_row_infusions(frame: pd.DataFrame, mapping: Mapping, labels: pd.Series, dated: np.ndarray) -> set[str]:
    """A session log (a row per infusion: 'Session #', its date, 'MADRS pre', 'MADRS post'): the
    times in the headers count from the infusion of the rating's row ('pre' one minute before its
    start, 'post' 40 min after it, 'day 1' a day after it), through :data:`validation.RELATIVE_COLUMNS`.
    Recognised by :func:`analysis.loading.wide.session_numbers`; a rating timed by its own date
    keeps that time. Returns the labels so timed."""
    number_column = _role_column(frame.columns, mapping, "infusion_number")
    patient_column = _role_column(frame.columns, mapping, "patient_id")
    if number_column is None or patient_column is None or not len(frame):
        return set()
    numbers = session_numbers(frame[patient_column], frame[number_column])
    if numbers is None:
        return set()
    # Hours after the row's infusion: visit_times first, then what the label says.
    offsets = {label: placement_hours(label, mapping.visit_times) for label in pd.unique(labels.dropna())}
    offset = labels.map(offsets).to_numpy(dtype=float, na_value=np.nan)
    rows = ~np.isnan(numbers) & ~np.isnan(offset) & ~dated
    if not rows.any():
        return set()
    number, hours_after = v.RELATIVE_COLUMNS
    frame[number] = np.where(rows, numbers, np.nan)
    frame[hours_after] = np.where(rows, offset, np.nan)
    return {str(label) for label in pd.unique(labels[rows])}


def _mark_relative(frame: pd.DataFrame, labels: pd.Series, unknown: Any) -> bool:
    """When every label in ``unknown`` (those that say no time) names one infusion of a series
    ("Infusion 2 post"), the rows get :data:`validation.RELATIVE_COLUMNS` (timed once the
    infusions are read) and True is returned."""
    relative = {label: parse_infusion_label(label) for label in unknown}
    if not relative or any(r is None for r in relative.values()):
        return False
    for column, values in zip(v.RELATIVE_COLUMNS, ({k: float(r[0]) for k, r in relative.items()},
                                                    {k: r[1] for k, r in relative.items()}), strict=True):
        given = labels.map(values).astype(float).to_numpy()
        frame[column] = np.where(np.isnan(given), frame[column], given) if column in frame else given
    return True


def _patient_labels(frame: pd.DataFrame, mapping: Mapping) -> np.ndarray:
    """Each row's patient id as text (object array), or "R<row>" in a sheet without an id column
    (as apply_mapping numbers such patients)."""
    column = _role_column(frame.columns, mapping, "patient_id")
    ids = frame[column].astype("string") if column is not None else "R" + frame["source_row"].astype("string")
    return ids.to_numpy(dtype=object)


def _role_column(columns: Any, mapping: Mapping, role: str) -> str | None:
    """The source column of ``role``: the mapping's, else one named like it."""
    if mapping.columns.get(role) in columns:
        return mapping.columns[role]
    return next((c for c in columns if c not in mapping.columns.values() and v._SINGLE_MAP.get(v._key(c)) == role),
                None)


def _visit_dates(report: v._Report, raw: RawTable, long: pd.DataFrame, column: pd.Series,
                 wide: dict[str, tuple[str, Any, int | None]], labels: dict[str, str | None], mapping: Mapping,
                 infusion_table: RawTable | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Date columns that date wide columns (``date_day7`` for ``MADRS_day7``, see
    :func:`analysis.loading.wide.visit_date_columns`): with an infusion date, each rating is timed
    by its date (:mod:`analysis.loading.calendar`, the header's time placing it within the day);
    without one, the dates are not used. The date columns are removed either way (dates identify
    people) and a warning says what was done. ``labels``: each wide column's time label. Returns
    ``long`` and which of its rows a date timed."""
    candidates = [c for c in long.columns if c not in mapping.columns.values() and c != "source_row"]
    pairs = visit_date_columns(candidates, wide)
    if not pairs:
        return long, np.zeros(len(long), dtype=bool)
    names = ", ".join(map(repr, list(pairs)[:4])) + (" ..." if len(pairs) > 4 else "")
    patient = _patient_labels(long, mapping)
    infusion = _role_column(long.columns, mapping, "infusion_date")
    if infusion is not None:
        infusions = calendar.infusion_calendar(calendar.parse_dates(long[infusion], dayfirst=raw.decimal_comma),
                                               patient)
        source = repr(infusion)
    elif infusion_table is not None:
        table = infusion_table.frame
        infusions = calendar.infusion_calendar(calendar.parse_dates(table["infusion_date"], dayfirst=raw.decimal_comma),
                                               table["patient_id"].to_numpy(dtype=object))
        source = "the infusion date columns"
    else:
        report.warn("dates_dropped", f"{raw.name}: the visit dates in {names} were removed (dates identify people) "
                    "and not used: there is no infusion date to measure them from (add an infusion_date column to "
                    "time the ratings by their dates); times come from the column headers.", len(pairs), table=raw.table)
        return long.drop(columns=list(pairs)), np.zeros(len(long), dtype=bool)
    visit_date = pd.Series(pd.NA, index=long.index, dtype=object)
    for date_column, dated_columns in pairs.items():
        rows = column.isin(dated_columns).to_numpy() & visit_date.isna().to_numpy()
        visit_date[rows] = long[date_column][rows].astype(object)
    dates = calendar.parse_dates(visit_date, dayfirst=raw.decimal_comma)
    where = np.flatnonzero(dates.unreadable)
    report.add_rows(raw, raw.table, ", ".join(pairs), long["source_row"].to_numpy()[where],
                    ["(a date, not shown)"] * len(where), lambda _: "a visit date is not a readable date.",
                    "unreadable visit dates")
    placed = column.map({c: np.nan if label is None else placement_hours(label, mapping.visit_times)
                         for c, label in labels.items()}).to_numpy(dtype=float)
    hours = calendar.hours_since_first(dates, patient, infusions, placed)
    timed = ~np.isnan(hours)
    long["wide_hours"] = np.where(timed, hours, long["wide_hours"].to_numpy(dtype=float))
    long = long.drop(columns=list(pairs))
    day_only = int((~dates.has_time & timed).sum())
    report.warn("dates_converted", f"{raw.name}: {int(timed.sum())} rating(s) timed by their visit dates ({names}), "
                f"in hours since each patient's first infusion date ({source}); the dates were removed"
                + (f"; {day_only} of them dated without a time of day: {calendar.DAY_ONLY_RULE}" if day_only else "")
                + (f"; {int((~timed).sum())} rating(s) without a date (or without an infusion date) keep the time of "
                   "their column's header" if (~timed).any() else "") + ".", int(timed.sum()), table=raw.table)
    return long, timed


def apply_mapping(report: v._Report, raw: RawTable, mapping: Mapping) -> Mapped:
    """Rewrite ``raw`` into the long single-file form described by ``mapping`` (see the module)."""
    frame = _filter_rows(report, raw, raw.frame, mapping)
    # Columns dropped unread (a survey tool's bookkeeping) are never screened or shown; a record
    # filter may use one (Qualtrics' Status).
    dropped_unread = [c for c in mapping.dropped if c in frame.columns]
    frame = _summary_rows(report, raw, frame.drop(columns=dropped_unread) if dropped_unread else frame, mapping)
    # A date and its time of day in two columns (EMR exports) become one date-time column.
    frame, joined = calendar.join_times_of_day(frame, {c for r, c in mapping.columns.items()
                                                       if r not in {"assessment_date", "infusion_date"}}
                                               | set(mapping.wide_columns))
    if dropped_unread:
        joined.append(f"column(s) {', '.join(map(repr, dropped_unread))} dropped unread, as the mapping says")
    roles = {role: column for role, column in mapping.columns.items() if column in frame.columns}
    absent = {role: column for role, column in mapping.columns.items() if column not in frame.columns}
    for role, column in absent.items():
        near = [c for c in frame.columns if key(c) == key(column)]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        report.add(raw, raw.table, f"the mapping reads {role} from column {column!r}, which {raw.name} does not "
                   f"have{hint}.", column=column)
    # Value labels of statistical files, for columns holding labels (sex 1 -> "Male").
    for role, column in roles.items():
        labels = raw.value_labels.get(column)
        if role in _LABEL_ROLES and labels and role not in mapping.value_maps:
            frame = frame.copy(deep=False) if frame is raw.frame else frame
            frame[column] = frame[column].map(lambda x, lab=labels: lab.get(x, x))
    dropped = [c for r, c in roles.items() if r == "ignore"]
    wide_layout = mapping.layout == "wide" and bool(mapping.wide_columns)
    wide_infusions = None
    if wide_layout:
        frame, wide_infusions = _wide_infusions(raw, frame, mapping, mapping.wide_columns)
        if wide_infusions is not None:
            joined.append(f"{len(wide_infusions.frame)} infusion(s) read from the infusion date columns")
        frame = _melt(report, raw, frame, mapping, wide_infusions)
    rename = {column: role for role, column in roles.items()
              if role not in {"ignore", "covariate"} and column != role}
    # A source column named like a contract column but mapped elsewhere keeps its data, renamed.
    clashes = {c: f"{c}_unmapped" for c in frame.columns
               if c in set(rename.values()) and c not in rename and c not in roles.values()}
    # Columns are relabelled on a shallow copy: millions of rows are never copied here.
    out = frame.drop(columns=dropped) if dropped else frame.copy(deep=False)
    if clashes or rename:
        out.columns = [rename.get(c, clashes.get(c, c)) for c in out.columns]
    if out.columns.duplicated().any():
        out = out.loc[:, ~out.columns.duplicated()]
    _screen_dropped(report, raw, raw.frame, dropped)

    n = len(out)
    has_clock_time = True
    time_column = _time_column(roles, mapping)
    if "time" in out.columns and time_column is not None:
        out = out.rename(columns={"time": time_column})
    if "study_day" in out.columns:
        days, bad_text = v._number(out["study_day"], raw.decimal_comma)
        hours, day_zero = study_day_hours(days)
        rows = out["source_row"].to_numpy()
        where = np.flatnonzero(day_zero)
        report.add_rows(raw, "assessments", roles["study_day"], rows[where], days[where],
                        lambda x: f"study day {v._show(x)} does not exist: CDISC study days are whole numbers and "
                                  "skip 0 (day 1 is the day of the first dose, day -1 the day before).",
                        "study days that do not exist")
        if "elapsed_iso" in out.columns:
            elapsed, _ = iso_durations(out["elapsed_iso"])
            hours = hours + np.nan_to_num(elapsed)
            out = out.drop(columns="elapsed_iso")
        out["time_hours"] = hours
        out = out.drop(columns="study_day")
    elif "elapsed_iso" in out.columns:
        elapsed, bad = iso_durations(out["elapsed_iso"])
        rows = out["source_row"].to_numpy()
        where = np.flatnonzero(bad)
        report.add_rows(raw, "assessments", roles["elapsed_iso"], rows[where], list(out["elapsed_iso"].iloc[where]),
                        lambda x: f"elapsed time {v._show(x)!r} is not an ISO 8601 duration (e.g. PT40M, PT4H, "
                                  "P7D, -PT1H).", "unreadable elapsed times")
        out["time_hours"] = elapsed
        out = out.drop(columns="elapsed_iso")
    time_given = any(c in out.columns for c in v.TIME_COLUMNS) or "assessment_date" in out.columns
    if wide_layout:
        row_hours = out.pop("wide_hours").to_numpy(dtype=float)
        wide_visit = out.pop("wide_visit")
        if time_given:
            first = next(c for c in v.TIME_COLUMNS if c in out.columns) if any(c in out.columns for c in v.TIME_COLUMNS) \
                else None
            if first is not None:
                values, _ = v._number(out[first], raw.decimal_comma)
                out[first] = np.where(np.isnan(row_hours), values, row_hours / v.TIME_COLUMNS[first])
        elif not np.isnan(row_hours).any() or not ({"visit", "visit_number"} & set(out.columns)):
            out["time_hours"] = row_hours
            time_given = True
        if "visit" not in out.columns:
            out["visit"] = wide_visit
        if "patient_id" not in out.columns:
            out.insert(0, "patient_id", "R" + out["source_row"].astype(str))
            report.warn("ids_by_row", f"{raw.name} has no patient id column: each row is one patient, numbered by "
                        "its row (row 1 = patient R1). Name the id column with columns={'patient_id': ...} if "
                        "there is one.", n, table=raw.table)
    if not time_given:
        out, has_clock_time = _times_from_visits(report, raw, out, mapping, roles)
        if wide_layout and "time_hours" in out.columns:
            # Headers that say their time win over the row's visit (cadss_post on a baseline row).
            out["time_hours"] = np.where(np.isnan(row_hours), out["time_hours"].to_numpy(dtype=float), row_hours)
    elif "visit_number" in out.columns:
        out = out.drop(columns="visit_number")
    if "instrument" not in out.columns and mapping.instrument:
        out["instrument"] = mapping.instrument
    if "baseline_score" in out.columns:
        out = _baseline_rows(report, raw, out)
    events = None
    if "event" in out.columns:
        out, events = _split_events(raw, out)
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)  # only after rows were added or removed: a copy
    mapped = RawTable(out, raw.name, raw.kind, decimal_comma=raw.decimal_comma,
                      notes=list(raw.notes) + joined, labels=raw.labels, origins=raw.origins, table=raw.table,
                      sources={role: column for column, role in rename.items()})
    return Mapped(mapped, events, has_clock_time, wide_infusions)


def _time_column(roles: dict[str, str], mapping: Mapping) -> str | None:
    if "time" in roles:
        return _UNIT_COLUMN.get(mapping.time_unit or "")
    return None


def _times_from_visits(report: v._Report, raw: RawTable, out: pd.DataFrame, mapping: Mapping,
                       roles: dict[str, str]) -> tuple[pd.DataFrame, bool]:
    """Times from visit labels (visit_times first, then their words); else the visit order."""
    if "visit" in out.columns:
        labels = out["visit"].astype("string").str.strip()
        distinct = pd.unique(labels.dropna())
        hours = {lab: _time_of_label(lab, mapping.visit_times) for lab in distinct}
        unknown = [lab for lab, h in hours.items() if np.isnan(h)]
        if _mark_relative(out, labels, unknown):  # "Infusion 2 post": timed once the infusions are read
            out["time_hours"] = labels.map(hours).astype(float).to_numpy()
            return out.drop(columns=["visit_number"], errors="ignore"), True
        if not unknown:
            out["time_hours"] = labels.map(hours).astype(float).to_numpy()
            report.warn("times_from_visits", f"{raw.name} has no time column: times were read from the visit labels "
                        f"({', '.join(f'{k!r} = {h:g} h' for k, h in list(hours.items())[:6])}"
                        f"{' ...' if len(hours) > 6 else ''}).", len(out), table=raw.table)
            return out.drop(columns=["visit_number"], errors="ignore"), True
        if "visit_number" not in out.columns:
            fix = ", ".join(f"{v._quoted([lab])}: ..." for lab in unknown[:4])
            report.add(raw, raw.table, f"{raw.name} has no time column and the visit label(s) "
                       f"{v._quoted(unknown[:10])}{' ...' if len(unknown) > 10 else ''} say no time. Give "
                       f"their hours since the first infusion: analysis.load(path, visit_times={{{fix}}}), or name a "
                       "visit-number column with columns={'visit_number': ...} to load by visit only.",
                       column=roles.get("visit", "visit"))
            out["time_hours"] = np.nan
            report.times_explained = True
            return out, True
    if "visit_number" in out.columns:
        number, _ = v._number(out["visit_number"], raw.decimal_comma)
        order = pd.Series(number).rank(method="dense").to_numpy() - 1
        baseline = order[np.nanargmin(number)] if np.isfinite(number).any() else 0
        if "visit" in out.columns:
            is_base = out["visit"].astype("string").map(
                lambda lab: parse_visit_label(lab) is not None and parse_visit_label(lab)[0] == BASELINE_HOURS,
                na_action="ignore").fillna(False).to_numpy(dtype=bool)
            if is_base.any():
                baseline = float(np.nanmax(order[is_base]))
        out["time_hours"] = order - baseline
        if "visit" not in out.columns:
            out["visit"] = out["visit_number"].astype("string")
        out = out.drop(columns="visit_number")
        report.warn("visit_order_only", f"{raw.name} gives visits but no clock time: ratings are ordered by visit "
                    "(time_hours holds the visit's position, 0 = baseline visit, not hours; "
                    "OutcomeData.has_clock_time is False). Analyses by visit work; onset in hours and durability "
                    "in days need times (visit_times={label: hours}).", len(out), table=raw.table)
        return out, False
    return out, True


def _baseline_rows(report: v._Report, raw: RawTable, out: pd.DataFrame) -> pd.DataFrame:
    """A baseline held as a column (ADaM BASE, baseline_madrs) -> one baseline rating per patient
    and instrument that has no rating at or before time 0."""
    base, _ = v._number(out["baseline_score"], raw.decimal_comma)
    out = out.drop(columns="baseline_score")
    if "patient_id" not in out.columns or "instrument" not in out.columns:
        return out
    time = next((c for c in v.TIME_COLUMNS if c in out.columns), None)
    hours = v._number(out[time], raw.decimal_comma)[0] * v.TIME_COLUMNS[time] if time else np.full(len(out), np.nan)
    item = v._number(out["item"], raw.decimal_comma)[0] if "item" in out.columns else np.full(len(out), np.nan)
    key_frame = pd.DataFrame({"p": out["patient_id"].astype("string").to_numpy(),
                              "i": out["instrument"].astype("string").to_numpy()})
    has_baseline = pd.Series((hours <= 0) & np.isnan(item)).groupby([key_frame["p"], key_frame["i"]]).transform("any")
    candidates = np.flatnonzero(~np.isnan(base) & ~has_baseline.to_numpy(dtype=bool))
    firsts = key_frame.iloc[candidates].drop_duplicates().index.to_numpy()
    if not len(firsts):
        return out
    rows = out.iloc[firsts].copy()
    rows["score"] = base[firsts]
    if time:
        rows[time] = BASELINE_HOURS / v.TIME_COLUMNS[time]
    if "item" in rows.columns:
        rows["item"] = np.nan
    for column in ("infusion_number",):
        if column in rows.columns:
            rows[column] = np.nan
    rows["visit"] = "baseline"
    report.warn("baseline_from_column", f"{len(firsts)} baseline rating(s) were made from the baseline column (one "
                "per patient and instrument without a rating at or before time 0), at time 0 with visit "
                "'baseline'.", len(firsts), table=raw.table)
    return pd.concat([out, rows], ignore_index=True)


def _split_events(raw: RawTable, out: pd.DataFrame) -> tuple[pd.DataFrame, RawTable | None]:
    """Rows naming an event become the events table; those without a score leave the ratings."""
    event = out["event"].astype("string").str.strip()
    is_event = (event.fillna("") != "").to_numpy()
    columns = [c for c in ("patient_id", *v.TIME_COLUMNS, "assessment_date", "event", "detail", "source_row")
               if c in out.columns]
    events = RawTable(out.loc[is_event, columns].reset_index(drop=True), raw.name, raw.kind,
                      decimal_comma=raw.decimal_comma, origins=raw.origins) if is_event.any() else None
    no_score = is_event & out["score"].isna().to_numpy() if "score" in out.columns else is_event
    ratings = out.loc[~no_score].drop(columns=[c for c in ("event", "detail") if c in out.columns])
    return ratings, events

