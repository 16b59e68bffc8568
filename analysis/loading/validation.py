"""Load and validate outcome data: one file (single-file form) or separate tables.

::

    import analysis
    data = analysis.load("export.csv")                       # single-file form
    data = analysis.load(assessments="ratings.csv", infusions="infusions.xlsx",
                         patients=patients_frame)             # separate tables
    data = analysis.load_sample()                            # bundled simulated sample

Every problem found is reported at once in a :class:`~analysis.contract.DataError`, whose
``.problems`` table has the columns table, row, column, value, message and location (the row in
words, e.g. "row 5 (line 6 of export.csv)"; empty for problems with a whole column or file). Up
to 50 rows are listed one by one per kind of problem; one more line counts the rest.

**Row numbers.** ``row`` (and ``source_row`` in the validated assessments) counts data rows from
1 = the first row under the header. In a CSV file or a spreadsheet with one header line, row N is
therefore line (spreadsheet row) N + 1; every message says both, e.g. "row 5 (line 6 of
export.csv)". For a DataFrame, row N is position N - 1 (``frame.iloc[N - 1]``).

**Single-file form.** One row per rating with the assessment columns (patient_id, instrument,
score, a time, optional item, visit, infusion_number) plus columns repeated on every row:

- patient-level: ``age``, ``sex``, ``diagnosis``. They must be constant within a patient, or the
  file is refused, naming the patients and columns;
- infusion-level: ``dose_mg_per_kg``, ``route``, ``duration_min`` and the start of the infusion
  the row follows, ``infusion_time_hours`` (or ``infusion_time_min``/``infusion_time_days``/
  ``infusion_date``). They describe infusion ``infusion_number`` and must be constant within it.
  Without infusion_number, infusions are numbered by their start time; without a start time,
  each patient is taken to have had one infusion;
- any other column: if it is constant within every patient it becomes a patient covariate (on
  ``.patients``); otherwise it is kept, unchanged, as an extra column of ``.assessments``. Both
  classifications are listed in ``.warnings`` (code "extra_columns").

**Identifiers.** Columns that look like HIPAA Safe Harbor identifiers by name or content (see
:mod:`analysis.identifiers`) are refused. Calendar dates of assessments (``assessment_date``,
``date``, ``datetime``, ...) together with infusion dates (``infusion_date``) are converted to
hours since each patient's first infusion and dropped, with a warning. ``allow_identifiers=True``
(for an analyst's own script; the dashboard never passes it) loads anyway: the identifying columns
are dropped (``patient_id`` is kept) and a warning names them.

**Warnings** (``OutcomeData.warnings``, :class:`~analysis.contract.DataWarning` with code, count,
rows, patient_ids and, for data read from several files, each row's file): ``empty_score`` (rows dropped), ``identical_duplicates`` (dropped),
``no_baseline`` (per instrument), ``assumed_infusion`` (no infusion data: one IV infusion at 0),
``assumed_route``, ``dose_missing``, ``dates_converted``, ``dates_dropped``, ``extra_columns``,
``infusion_numbers_derived``, ``one_infusion_per_patient``, ``infusion_times_assumed``, ``patients_without_infusions``,
``patients_without_assessments``, ``time_columns_ignored``, ``identifiers_allowed``, ``score_remarks``
(scores written with a remark, '32 (moderate)', read as the number), ``totals_derived`` (a
rating given as items only gets its total by the scale's rule, :mod:`analysis.loading.totals`),
``items_without_total`` (some items missing: no total), ``reading``
(encoding, sheet chosen, blank rows skipped).

**Why the checks are written out rather than a pandera schema.** Messages must name rows as the
user numbers them (and lines of the file), suggest corrections, mask identifying values, apply
per-instrument ranges to totals and items, and stay fast at millions of rows. Pandera reports
positional indexes with generic check names ("in_range(0, 60)") and took about 6 s for four simple
column checks on 2 million rows here; the checks below work on integer codes of distinct values and
whole columns, so the whole load of 2 million rows takes a few seconds.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import (
    ASSESSMENT_COLUMNS,
    DIAGNOSES,
    EVENT_COLUMNS,
    INFUSION_COLUMNS,
    PATIENT_COLUMNS,
    ROUTES,
    DataError,
    DataWarning,
    OutcomeData,
    column_specs,
    empty_events,
    problems_frame,
)
from analysis.identifiers import find_identifier_columns, free_text_columns, looks_identifying, mask_value
from analysis.instruments import closest_instrument, get_instrument, resolve_instrument_names
from analysis.loading import calendar, totals
from analysis.loading.times import HOURS_PER, placement_hours
from analysis.loading.vocabularies import (
    SEX_CODES,
    closest_word,
    diagnosis_of,
    dose_of,
    key,
    route_of,
    sex_of,
    split_remark,
)
from analysis.readers import RawTable

__all__: list[str] = []  # the checks behind analysis.loading.load (see analysis.loading.reading)

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
MAX_ROWS_PER_CHECK = 50  # rows listed one by one per kind of problem; the rest are counted
# Largest item or infusion number accepted: far above any real series, far below int64 overflow.
MAX_COUNT = 100_000

# Time columns the validation reads directly, with their factor to hours (a month: 30.4375 days).
TIME_COLUMNS = {"time_hours": 1.0, "time_min": 1 / 60, "time_days": 24.0, "time_weeks": HOURS_PER["weeks"],
                "time_months": HOURS_PER["months"]}
INFUSION_TIME_COLUMNS = {"infusion_time_hours": 1.0, "infusion_time_min": 1 / 60, "infusion_time_days": 24.0}
_key = key
# Columns read by the mapping step (analysis.loading.layouts) rather than by these checks.
_MAPPED_ONLY = {"study_day", "elapsed_iso", "visit_number", "baseline_score"}


def _alias_map(*tables: str, skip: frozenset[tuple[str, str]] = frozenset()) -> dict[str, str]:
    """Accepted spelling (comparison key) -> contract column, from the contract's specs; the
    first table listed wins a spelling claimed twice ("date" is an assessment date in the
    single-file form, an infusion date in the infusions table)."""
    mapping: dict[str, str] = {}
    for table in tables:
        for spec in column_specs(table):
            if spec.name in _MAPPED_ONLY or spec.name == "source_row" or (table, spec.name) in skip:
                continue
            mapping.setdefault(spec.name, spec.name)
            for alias in spec.aliases:
                mapping.setdefault(_key(alias), spec.name)
    return mapping


_ASSESSMENT_MAP = _alias_map("assessments")
_INFUSION_MAP = _alias_map("infusions") | {k: v for k, v in _alias_map("assessments").items()
                                           if v in {"patient_id", "infusion_number"} | set(TIME_COLUMNS)}
_PATIENT_MAP = _alias_map("patients") | {k: v for k, v in _ASSESSMENT_MAP.items() if v == "patient_id"}
_EVENT_MAP = _alias_map("events") | {k: v for k, v in _ASSESSMENT_MAP.items()
                                     if v in {"patient_id", "assessment_date"} | set(TIME_COLUMNS)}
_SINGLE_MAP = _alias_map("assessments", "file", "infusions", "patients", "events",
                         skip=frozenset({("infusions", "infusion_date"), ("events", "time_hours"),
                                         ("events", "patient_id"), ("infusions", "patient_id"),
                                         ("infusions", "infusion_number"), ("infusions", "time_hours")}))
_NUMBER_COLUMNS = frozenset({"score", "item", "infusion_number", "dose_mg_per_kg", "duration_min", "age", "dose_mg",
                             "weight_kg"}) | frozenset(TIME_COLUMNS) | frozenset(INFUSION_TIME_COLUMNS)
# Spellings of numeric contract columns: the only CSV columns whose type the reader may infer.
_NUMBER_READ = frozenset(a.replace("_", sep) for m in (_ASSESSMENT_MAP, _INFUSION_MAP, _PATIENT_MAP, _SINGLE_MAP)
                         for a, c in m.items() if c in _NUMBER_COLUMNS for sep in ("_", " ", "-", "."))


# --------------------------------------------------------------------------------------------
# Collecting problems and warnings


@dataclass
class _Report:
    """Problems (fatal) and warnings (not) found so far."""

    allow_identifiers: bool = False
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    times_explained: bool = False  # a missing time already reported for the whole file
    identifying_contract_column: bool = False  # then other messages could echo identifying values
    problems: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[DataWarning] = field(default_factory=list)

    def add(self, raw: RawTable | None, table: str, message: str, *, column: str = "",
            row: int | None = None, value: Any = "") -> None:
        location = raw.locate(row, table, column) if (raw is not None and row is not None) else ""
        if raw is not None and row is not None:
            row = raw.file_row(row, table, column)
        self.problems.append({"table": table, "row": pd.NA if row is None else int(row), "column": column,
                              "value": "" if value is None else str(value), "message": message,
                              "location": location})

    def add_rows(self, raw: RawTable, table: str, column: str, rows: np.ndarray, values: Iterable[Any],
                 message: Callable[[Any], str], summary: str, cells: Sequence[str] | None = None) -> None:
        """One problem per row (at most MAX_ROWS_PER_CHECK), then one counting the rest. ``cells``:
        the source column of each row's value when it is not ``column`` (a wide sheet's 'MADRS Day 7')."""
        rows = np.asarray(rows)
        named = cells if cells is not None else [column] * min(len(rows), MAX_ROWS_PER_CHECK)
        for row, value, cell in zip(rows[:MAX_ROWS_PER_CHECK], values, named, strict=False):
            self.add(raw, table, message(value), column=cell, row=int(row), value=_show(value))
        if len(rows) > MAX_ROWS_PER_CHECK:
            self.add(raw, table, f"... and {len(rows) - MAX_ROWS_PER_CHECK} more row(s): {summary}",
                     column=column)

    def warn(self, code: str, message: str, count: int, table: str = "assessments",
             rows: Iterable[int] = (), patient_ids: Iterable[str] = ()) -> None:
        self.warnings.append(DataWarning(code=code, message=message, count=int(count), table=table,
                                         rows=tuple(np.asarray(rows, dtype=np.int64).tolist()),
                                         patient_ids=tuple(str(p) for p in patient_ids)))


def _cells(cells: np.ndarray | None, where: np.ndarray, column: str | None = None) -> list[str] | None:
    """The file's columns of the ratings at positions ``where`` that a message lists: a wide
    sheet's (:data:`CELL_COLUMN`), else ``column`` (the file's name of the value's column, when
    renamed: :attr:`RawTable.sources`); None when neither is known."""
    if cells is not None:
        return [str(c) for c in cells[where[:MAX_ROWS_PER_CHECK]]]
    return None if column is None else [column] * min(len(where), MAX_ROWS_PER_CHECK)


def _quoted(values: Iterable[Any]) -> str:
    """Values for a message, quoted and separated by commas, each as :func:`_show` shows it (a
    date or an e-mail address masked)."""
    return ", ".join(repr(_show(value)) for value in values)


def _show(value: Any) -> str:
    if isinstance(value, tuple):  # (value shown, details for the message)
        value = value[0]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if looks_identifying(text):
        return mask_value(text) + " (masked: it looks identifying)"
    return text if len(text) <= 40 else text[:40] + "..."


def _numbering_note(raw: RawTable) -> str:
    if raw.kind == "csv":
        return "row 1 = the first data row = line 2 of the file"
    if raw.kind == "xlsx":
        return "row 1 = the first data row = spreadsheet row 2"
    if raw.origins is not None:
        return raw.origins.note()
    return "row 1 = the first data row"


# --------------------------------------------------------------------------------------------
# Column conversion (on distinct values: cheap at millions of rows)


def _codes_and_labels(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), pd.Index(series.cat.categories, dtype=object)
    values = series.to_numpy(dtype=object, na_value=None)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts) in a DataFrame: compare their text
        codes, uniques = pd.factorize(np.array([None if v is None else str(v) for v in values], dtype=object),
                                      use_na_sentinel=True)
    return codes, pd.Index(uniques, dtype=object)


def _label(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


# Categories already cleaned by _text during the current load (id -> the object, kept alive so
# that an id cannot be reused); lets a column be cleaned once and then shared by several tables.
_CLEAN: dict[int, pd.Index] = {}


def _text_order(labels: Iterable[str]) -> np.ndarray:
    """Positions of distinct text labels in sorted order (Python's order: by code point).

    Many labels (the ids of a file in random row order arrive in the order first seen) are sorted
    by Arrow: UTF-8 bytes compare in code-point order, and 100,000 ids sort in 10 ms rather than
    the 0.1 s of comparing Python strings one pair at a time."""
    labels = np.asarray(labels, dtype=object)
    if len(labels) > 1000:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            return pc.array_sort_indices(pa.array(labels, pa.string())).to_numpy().astype(np.intp)
        except (pa.ArrowException, UnicodeEncodeError):  # lone surrogates are not UTF-8
            pass
    return np.argsort(labels, kind="stable")


def _text(series: pd.Series) -> pd.Categorical:
    """Text values as a categorical with sorted, stripped categories (empty -> missing)."""
    if isinstance(series.dtype, pd.CategoricalDtype) and _CLEAN.get(id(series.cat.categories)) \
            is series.cat.categories:
        return series.array
    codes, labels = _codes_and_labels(series)
    if labels.inferred_type in {"string", "empty"}:
        stripped = labels.str.strip()
        cleaned = pd.Index(stripped.where(stripped != "", None), dtype=object)
    else:
        cleaned = pd.Index([_label(v) for v in labels], dtype=object)
    new_codes, uniques = pd.factorize(cleaned.to_numpy(dtype=object), use_na_sentinel=True)
    order = _text_order(uniques)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    # Old code -> new code; its last entry, -1, is also where the old code -1 (missing) points.
    remap = np.append(np.where(new_codes >= 0, rank[new_codes] if len(rank) else -1, -1), -1).astype(np.int32)
    if np.array_equal(remap[:-1], np.arange(len(remap) - 1)):  # labels clean and sorted already
        final = codes.astype(np.int32, copy=False)
    else:
        final = remap[codes]
    categories = pd.Index(np.asarray(uniques, dtype=object)[order], dtype=object)
    result = pd.Categorical.from_codes(final, categories=categories, validate=False)
    _CLEAN[id(result.categories)] = result.categories
    return result


def _parse_number(value: Any, decimal_comma: bool) -> float:
    if isinstance(value, (bool, np.bool_)):
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip().replace("\u2212", "-")
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".") if re.fullmatch(r"-?\d{1,3}(\.\d{3})+,\d+", text) \
            else text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return np.nan


# What people write in a number cell for "no value" (compared lower-cased): read as empty. Arrow's
# CSV reader already reads NA, N/A, NULL and NaN as empty; Excel and SAS exports keep these.
MISSING_MARKERS = frozenset({"-", "--", "---", ".", "na", "n/a", "n.a.", "nan", "null", "none", "nd", "n.d.",
                             "not done", "missing", "unknown", "unk", "nr", "not rated", "not assessed", "ne",
                             "not evaluable"})


def _missing_markers(series: pd.Series) -> list[str]:
    """The missing-value markers (:data:`MISSING_MARKERS`) written in a text column, as written."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype):
        return []
    _, labels = _codes_and_labels(series)
    return sorted({text for v in labels if (text := _label(v)) is not None and text.lower() in MISSING_MARKERS})


def _number(series: pd.Series, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, mask of entries that are present but not numbers); a missing-value marker
    (``-``, ``.``, ``ND``, ``missing``: :data:`MISSING_MARKERS`) is empty."""
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
            and not isinstance(dtype, pd.CategoricalDtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():  # "inf" is not a usable score, time or dose
            values = np.where(infinite, np.nan, values)
        return values, infinite
    codes, labels = _codes_and_labels(series)
    present = np.array([(text := _label(v)) is not None and text.lower() not in MISSING_MARKERS for v in labels],
                       dtype=bool)
    parsed = np.array([_parse_number(v, decimal_comma) if p else np.nan for v, p in zip(labels, present,
                                                                                            strict=True)],
                      dtype="float64")
    bad_label = present & ~np.isfinite(parsed)
    parsed[bad_label] = np.nan
    valid = codes >= 0
    values = np.full(len(codes), np.nan)
    values[valid] = parsed[codes[valid]]
    bad = np.zeros(len(codes), dtype=bool)
    bad[valid] = bad_label[codes[valid]]
    return values, bad


# How a problem says that an answer in words has no score (the Data page offers a box for it).
UNSCORED_ANSWER = "is neither a number nor one of the answers scored"


def _scored_answers(series: pd.Series, answers: dict[str, str]) -> pd.Series:
    """``series`` with answers written in words replaced by their scores (``value_maps["score"]``:
    a survey's "Several days" -> "1"), matched as written, else ignoring case and punctuation."""
    numbers = {number: score for a, score in answers.items()
               if np.isfinite(number := _parse_number(a, decimal_comma=False))}  # codes 1-4 -> 0-3
    if pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(series.dtype, pd.CategoricalDtype):
        return series.map(numbers).fillna(series.astype(object)) if numbers and series.isin(numbers).any() else series
    by_key = {_key(a): score for a, score in answers.items()}
    # codes held as numbers among text (a statistical file's coded answers melted with other columns)
    found = {u: numbers.get(float(u)) if isinstance(u, int | float | np.number) and not isinstance(u, bool)
             else answers.get(str(u).strip(), by_key.get(_key(str(u)))) for u in pd.unique(series.dropna())}
    found = {u: score for u, score in found.items() if score is not None}
    if not found:
        return series
    plain = series.astype(object)
    return plain.map(found).fillna(plain)


_MARKS = "*\u2020\u2021"  # footnote marks after a number: '18*', '24†'


def _remarked_scores(series: pd.Series, score: np.ndarray, bad: np.ndarray, decimal_comma: bool) -> np.ndarray:
    """Scores written with a remark or a mark after the number ('32 (moderate)', '24 [by phone]',
    '18*') read as the number, in place in ``score`` and ``bad``; returns their positions. A remark
    holding a number ('12 (16 corrected)') stays unreadable: which number is the score is not for
    us to say."""
    where = np.flatnonzero(bad)
    read, values = [], []
    for i, text in zip(where, series.iloc[where].astype(str).to_numpy(dtype=object), strict=True):
        plain, remark = split_remark(text)
        if remark is None:
            plain = text.strip().rstrip(_MARKS)
        elif any(ch.isdigit() for ch in remark):
            continue
        if plain != text.strip() and np.isfinite(number := _parse_number(plain, decimal_comma)):
            read.append(i)
            values.append(number)
    read = np.array(read, dtype=np.int64)
    score[read] = values
    bad[read] = False
    return read


def _raw_values(series: pd.Series, positions: np.ndarray) -> list[Any]:
    return series.iloc[positions[:MAX_ROWS_PER_CHECK]].tolist()


_EMPTY_STRINGS = pd.arrays.StringArray(np.array([], dtype=object))


def _string_series(values: pd.Categorical | pd.Series, index: pd.Index | None = None) -> pd.Series:
    """Text as the contract's "string" dtype; categoricals via their (few) categories, which is
    much faster than converting millions of values one by one."""
    if isinstance(values, pd.Categorical) and values.categories.inferred_type in {"string", "empty"}:
        lookup = np.append(np.asarray(values.categories, dtype=object), pd.NA)
        codes = values.codes
        strings = lookup[codes if not len(codes) or codes.min() >= 0 else np.where(codes >= 0, codes, len(lookup) - 1)]
        if len(strings) < 100_000:
            return pd.Series(pd.arrays.StringArray(strings), index=index, copy=False)
        # Every element is one of the (checked) categories or NA, so the per-element validation of
        # StringArray (0.4 s per 4 million rows) is skipped; pandas is pinned (requirements.txt).
        # copy=False: under copy-on-write (on while loading) the constructor would copy the array.
        return pd.Series(_EMPTY_STRINGS._from_backing_data(strings), index=index, copy=False)
    return pd.Series(values, index=index).astype("string")


# --------------------------------------------------------------------------------------------
# Columns: aliases, missing columns, identifiers


def _rename(frame: pd.DataFrame, mapping: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename aliases to canonical names (the canonical spelling wins when both exist).
    Returns the frame and {canonical: name in the file} for messages."""
    renames, original = {}, {}
    present = {_key(c) for c in frame.columns}
    for column in frame.columns:
        canonical = mapping.get(_key(column))
        if canonical is None or canonical in original:
            continue
        if canonical != _key(column) and canonical in present:
            continue
        renames[column] = canonical
        original[canonical] = column
    frame = frame.copy(deep=False)
    frame.columns = [renames.get(c, c) for c in frame.columns]
    return frame, original


def _unrecognised(raw: RawTable, frame: pd.DataFrame, known: set[str]) -> list[str]:
    """Columns of the file that no contract column claimed (candidates for "did you mean")."""
    return [c for c in raw.frame.columns if c != "source_row" and c not in known
            and _SINGLE_MAP.get(_key(c)) not in frame.columns]


def _require(report: _Report, raw: RawTable, table: str, frame: pd.DataFrame, required: Iterable[str],
             known: set[str]) -> set[str]:
    """Report required columns that are missing (suggesting the closest unrecognised column)."""
    missing = {c for c in required if c not in frame.columns}
    unknown = _unrecognised(raw, frame, known)
    for column in sorted(missing):
        # Only a close spelling of this very column ('scor' for 'score'), never an unrelated column
        # ('treatment' is not an instrument column).
        near = difflib.get_close_matches(column, unknown, n=1, cutoff=0.75) or \
            [c for c in unknown if len(_key(c)) >= 4 and (_key(c) in column or column in _key(c))][:1]
        hint = f" Did you mean {near[0]!r}? Rename it to {column!r}." if near else ""
        if column == "instrument" and not near:
            hint = " If every rating is of one instrument, say which: analysis.load(path, instrument=\"MADRS\")."
        report.add(raw, table, f"Required column {column!r} is missing from {raw.name}.{hint}", column=column)
    return missing


def _require_time(report: _Report, raw: RawTable, table: str, frame: pd.DataFrame, options: dict[str, float],
                  date_column: str, known: set[str]) -> str | None:
    """The time column to use (first of options present, else the date column), or None."""
    for column in options:
        if column in frame.columns:
            return column
    if date_column in frame.columns:
        return date_column
    unknown = _unrecognised(raw, frame, known)
    near = [m for c in options for m in difflib.get_close_matches(c, unknown, n=1, cutoff=0.75)]
    hint = f" Did you mean {near[0]!r}?" if near else ""
    report.add(raw, table, f"{raw.name} has no time column: give one of {', '.join(options)} (time since "
               f"the start of the patient's first infusion), or calendar dates in {date_column!r} with the "
               f"infusion dates.{hint}", column="time_hours")
    return None


def _screen_identifiers(report: _Report, raw: RawTable, table: str, frame: pd.DataFrame,
                        known: set[str], date_columns: set[str], label_columns: set[str]) -> pd.DataFrame:
    findings = find_identifier_columns(frame, known_columns=frozenset(known),
                                       date_columns=frozenset(date_columns),
                                       label_columns=frozenset(label_columns))
    notes = [c for c in free_text_columns(frame, frozenset(known)) if c not in {f.column for f in findings}]
    if notes:
        report.warn("free_text_dropped", f"{raw.name}: column(s) {', '.join(map(repr, notes))} hold free text "
                    "(notes can name people, and are not analysed): not read.", len(notes), table=table)
        frame = frame.drop(columns=notes)
    if not findings:
        return frame
    if not report.allow_identifiers:
        report.identifying_contract_column |= any(f.column in known for f in findings)
        for finding in findings:
            report.add(raw, table, f"Column {finding.column!r} {finding.describe()}. Identifying information "
                       "is not accepted: remove the column (or, in your own script only, pass "
                       "allow_identifiers=True to drop it with a warning).",
                       column=finding.column, value=finding.example)
        return frame
    dropped = [f.column for f in findings if f.column != "patient_id"]
    kept = [f.column for f in findings if f.column == "patient_id"]
    reasons = "; ".join(f"{f.column!r}: {f.reason}" for f in findings)
    what = f"dropped {', '.join(map(repr, dropped))}" if dropped else ""
    if kept:
        what += ("; " if what else "") + "kept 'patient_id' (needed to link rows): replace it with " \
            "pseudonymous study ids before sharing"
    report.warn("identifiers_allowed", f"{raw.name}: columns looking like identifiers ({reasons}) were "
                f"accepted because allow_identifiers=True: {what}.", len(findings), table=table)
    return frame.drop(columns=dropped)


# --------------------------------------------------------------------------------------------
# Tables


@dataclass
class _Table:
    """A table being validated: its canonical columns, the file it came from, its name."""

    frame: pd.DataFrame
    raw: RawTable
    name: str


def _source_rows(frame: pd.DataFrame) -> np.ndarray:
    return frame["source_row"].to_numpy()


def _patient_ids(report: _Report, t: _Table) -> pd.Categorical:
    """The table's patient_id column as text; empty ids reported (every table needs them)."""
    patient = _text(t.frame["patient_id"])
    empty = np.flatnonzero(patient.codes < 0)
    # Ids written once over each patient's rows (merged cells, read as such from Excel; a CSV keeps
    # only the first): said, since filling them down is the fix.
    blocks = bool(len(empty)) and patient.codes[0] >= 0 and t.raw.kind == "csv"
    hint = " (if each id is written once over its patient's rows, as merged cells are, fill the ids down, or " \
           "load the Excel file: merged cells are read there)" if blocks else ""
    report.add_rows(t.raw, t.name, "patient_id", _source_rows(t.frame)[empty], [""] * len(empty),
                    lambda _: f"patient_id is empty{hint}.", "patient_id is empty")
    return patient


def _assessments(report: _Report, t: _Table) -> dict[str, Any] | None:
    """Validate the assessment columns; returns converted columns (None when unusable)."""
    frame, raw, name = t.frame, t.raw, t.name
    known = _ASSESSMENT_LEVEL
    missing = _require(report, raw, name, frame, ("patient_id", "instrument", "score"), known)
    time_column = _require_time(report, raw, name, frame, TIME_COLUMNS, "assessment_date", known)
    rows = _source_rows(frame)
    out: dict[str, Any] = {"source_row": rows}
    n = len(frame)
    cells = frame[CELL_COLUMN].to_numpy(dtype=object) if CELL_COLUMN in frame.columns else None
    out["cells"] = cells

    if "patient_id" not in missing:
        out["patient_id"] = _patient_ids(report, t)

    if "instrument" not in missing:
        instrument = _text(frame["instrument"])
        resolved = resolve_instrument_names(list(instrument.categories))
        canonical = pd.Index([resolved[c] for c in instrument.categories], dtype=object)
        for label, mapped in resolved.items():
            if mapped is None:
                where = np.flatnonzero(instrument.codes == instrument.categories.get_loc(label))
                if not len(where):  # a category no row uses
                    continue
                hint = closest_instrument(label)
                hint_text = f" Did you mean {hint!r}?" if hint else ""
                report.add(raw, name, f"Unknown instrument {label!r} in {len(where)} row(s) ("
                           f"{raw.rows_text(rows[where])}).{hint_text} Known instruments: "
                           f"{', '.join(_known_instruments())}; register others with "
                           "analysis.register_instrument.", column="instrument", row=int(rows[where[0]]),
                           value=_show(label))
        empty = np.flatnonzero(instrument.codes < 0)
        report.add_rows(raw, name, "instrument", rows[empty], [""] * len(empty),
                        lambda _: "instrument is empty.", "instrument is empty")
        names = sorted({c for c in canonical if c is not None})
        lookup = np.array([names.index(c) if c is not None else -2 for c in canonical] + [-1], dtype=np.int32)
        codes = lookup[np.where(instrument.codes >= 0, instrument.codes, len(canonical))]
        out["instrument"] = (codes, pd.Index(names, dtype=object))

    if "score" not in missing:
        answers = report.value_maps.get("score", {})
        scores = _scored_answers(frame["score"], answers) if answers else frame["score"]
        score, bad = _number(scores, raw.decimal_comma)
        remarked = _remarked_scores(frame["score"], score, bad, raw.decimal_comma) if bad.any() else []
        if len(remarked):
            columns = _cells(cells, remarked, raw.sources.get("score")) or [None] * MAX_ROWS_PER_CHECK
            shown = [raw.rows_text(rows[[p]]) + (f" ({c!r})" if c else "")
                     for p, c in zip(remarked[:MAX_ROWS_PER_CHECK], columns, strict=False)]
            report.warn("score_remarks", f"{raw.name}: {len(remarked)} score(s) written with a remark or a mark after "
                        f"the number ('32 (moderate)', '18*') were read as the number; the remarks were left out "
                        f"(free text is not read): {'; '.join(shown)}{' ...' if len(remarked) > len(shown) else ''}.",
                        len(remarked), table=name, rows=rows[remarked])
        where = np.flatnonzero(bad)
        scored = ", ".join(f"{a!r} = {s}" for a, s in list(answers.items())[:6]) + (" ..." if len(answers) > 6 else "")
        report.add_rows(raw, name, "score", rows[where], _raw_values(frame["score"], where),
                        (lambda v: f"answer {_show(v)!r} {UNSCORED_ANSWER} ({scored}); "
                                   "give its score in value_maps={'score': {answer: score}}.") if answers
                        else (lambda v: f"score {_show(v)!r} is not a number."), "scores that are not numbers",
                        _cells(cells, where, raw.sources.get("score")))
        out["score"] = score
        out["score_bad"] = bad
        out["score_markers"] = _missing_markers(frame["score"]) if np.isnan(score).any() else []

    if time_column is not None and time_column != "assessment_date":
        values, bad = _number(frame[time_column], raw.decimal_comma)
        where = np.flatnonzero(bad)
        unit = {"time_hours": "hours", "time_min": "minutes", "time_days": "days", "time_weeks": "weeks",
                "time_months": "months"}[time_column]
        report.add_rows(raw, name, time_column, rows[where], _raw_values(frame[time_column], where),
                        lambda v: f"time {_show(v)!r} cannot be read as a number of {unit}.",
                        "times that cannot be read")
        relative = "hours_after_infusion" in frame.columns
        if relative:  # timed from an infusion's start once the infusions are read
            out["relative"] = (frame["relative_infusion"].to_numpy(dtype="float64"),
                               frame["hours_after_infusion"].to_numpy(dtype="float64"))
        empty = np.flatnonzero(np.isnan(values) & ~bad & (np.isnan(out["relative"][1]) if relative else True)) \
            if not report.times_explained else np.array([], dtype=int)
        visits = frame["visit"].astype("string").to_numpy(dtype=object, na_value=None)[empty[:MAX_ROWS_PER_CHECK]] \
            if "visit" in frame.columns else [None] * min(len(empty), MAX_ROWS_PER_CHECK)
        report.add_rows(raw, name, time_column, rows[empty], [("", v) for v in visits],
                        lambda v: f"{time_column} is empty: every rating needs its time" + (
                            f" (its visit {v[1]!r} says none: give visit_times={{{v[1]!r}: hours since the first "
                            "infusion})." if v[1] else "."), "empty times")
        out["time_hours"] = values * TIME_COLUMNS[time_column]
        out["time_bad"] = bad | np.isnan(values)
        ignored = [c for c in TIME_COLUMNS if c in frame.columns and c != time_column]
        if ignored:
            report.warn("time_columns_ignored", f"{raw.name}: times were taken from {time_column!r}; "
                        f"{', '.join(map(repr, ignored))} not used.", len(ignored), table=name)
        if "assessment_date" in frame.columns:
            report.warn("dates_dropped", f"{raw.name}: calendar dates in 'assessment_date' were removed "
                        f"(dates identify people); times come from {time_column!r}.", n, table=name)
    elif time_column == "assessment_date":
        out["dates"] = _dates(report, raw, name, frame["assessment_date"], "assessment_date", rows)

    out["item"] = _optional_whole(report, t, "item", 1, "an item number (1, 2, ... up to 100,000; empty for a total "
                                  "score)",
                                  "invalid item numbers")
    out["infusion_number"] = _optional_whole(report, t, "infusion_number", 0, "a whole number from 0 to 100,000",
                                             "invalid infusion numbers")

    out["visit"] = _text(frame["visit"]) if "visit" in frame.columns else None
    extras = [c for c in frame.columns if c not in known and c != "source_row"]
    out["extras"] = frame[extras]
    if any(k not in out for k in ("patient_id", "instrument", "score")):
        return None
    return out


def _optional_whole(report: _Report, t: _Table, column: str, minimum: int, what: str, summary: str) -> np.ndarray:
    """An optional whole-number column as floats: NaN when the column is absent, a value empty, or
    a value not a whole number >= ``minimum`` (reported: "<column> <value> is not <what>.")."""
    if column not in t.frame.columns:
        return np.full(len(t.frame), np.nan)
    values, bad = _number(t.frame[column], t.raw.decimal_comma)
    bad |= ~np.isnan(values) & ((values != np.round(values)) | (values < minimum) | (values > MAX_COUNT))
    where = np.flatnonzero(bad)
    report.add_rows(t.raw, t.name, column, _source_rows(t.frame)[where], _raw_values(t.frame[column], where),
                    lambda v: f"{column} {_show(v)!r} is not {what}.", summary)
    return np.where(bad, np.nan, values)


def _known_instruments() -> list[str]:
    from analysis.instruments import instrument_names
    return instrument_names()


def _dates(report: _Report, raw: RawTable, table: str, series: pd.Series, column: str, rows: np.ndarray,
           required: bool = True) -> calendar.Dates:
    """Calendar dates parsed (:func:`calendar.parse_dates`); unreadable ones (and, when
    ``required``, empty ones) reported. ``rows``: the source rows of ``series``. Dates are never
    echoed in messages."""
    dates = calendar.parse_dates(series, dayfirst=raw.decimal_comma)
    where = np.flatnonzero(dates.unreadable | (np.isnat(dates.when) if required else False))
    report.add_rows(raw, table, column, rows[where], ["(a date, not shown)"] * len(where),
                    lambda _: f"{column} is empty or not a readable date.", "unreadable dates")
    return dates


def _label_hours(visit: pd.Categorical | None, mapping: Any) -> np.ndarray | None:
    """Each rating's visit label as :func:`~analysis.loading.times.placement_hours` reads it
    (NaN where it names no time); None without visit labels."""
    if visit is None:
        return None
    visit_times = getattr(mapping, "visit_times", None) or {}
    values = [placement_hours(label, visit_times) for label in visit.categories]
    return np.append(np.asarray(values, dtype="float64"), np.nan)[visit.codes]


def _infusion_relative_times(report: _Report, t: _Table, cols: dict[str, Any], inf: dict[str, Any] | None) -> None:
    """Times of ratings whose visit label is relative to one infusion ("Infusion 2 post"): that
    patient's infusion start plus the label's hours; a rating whose infusion is not in the
    infusions is reported by row."""
    number, offset = cols["relative"]
    rows = np.flatnonzero(~np.isnan(offset))
    patient = cols["patient_id"]
    given = inf is not None and all(k in inf for k in ("time_hours", "patient_id", "infusion_number"))
    if not given:  # one infusion at time 0 is assumed for each patient (warned later)
        start = np.where(number[rows] == 1, 0.0, np.nan)
    else:
        starts = pd.Series(inf["time_hours"], index=pd.MultiIndex.from_arrays(
            [np.asarray(inf["patient_id"]).astype(object), inf["infusion_number"]]))
        starts = starts[~starts.index.duplicated()]
        start = starts.reindex(pd.MultiIndex.from_arrays([np.asarray(patient)[rows].astype(object),
                                                          number[rows]])).to_numpy(dtype="float64")
    time = cols["time_hours"]
    time[rows] = start + offset[rows]
    cols["time_bad"][rows] = np.isnan(start)
    missing = rows[np.isnan(start)]
    labels = cols["visit"]
    if not given and len(missing):
        named = sorted({str(labels[i]) for i in missing})
        report.add(t.raw, t.name, f"the visit label(s) {', '.join(map(repr, named[:6]))}{' ...' if len(named) > 6 else ''}"
                   " are timed from later infusions of a series, but no infusions were given (without them one "
                   "infusion per patient, at time 0, is assumed): give the infusions' starts, in an infusions "
                   "table (patient_id, infusion_number and time_hours or infusion_date) or on the rating rows (an "
                   "infusion_date or infusion_time_hours column beside infusion_number).", column="visit",
                   row=int(cols["source_row"][missing[0]]))
        return
    shown = [(str(patient[i]), int(number[i]), "" if labels is None else str(labels[i])) for i in missing[:MAX_ROWS_PER_CHECK]]
    report.add_rows(t.raw, t.name, "visit", cols["source_row"][missing], shown,
                    lambda v: (f"the visit {v[2]!r} is timed from infusion {v[1]}, but patient {v[0]} has no infusion "
                               f"{v[1]} in the infusions (give each infusion's start: infusion_number with time_hours or "
                               "infusion_date), or give the label's hours with visit_times."),
                    "ratings timed from an infusion the patient does not have")
    if len(rows) > len(missing):
        report.warn("times_from_infusion_labels", f"{t.raw.name}: {len(rows) - len(missing)} rating(s) timed from the "
                    "infusion their visit label or row names ('Infusion 2 post', or 'post' on the row of infusion 2 = 40 "
                    "min after the start of that patient's infusion 2; 'pre' = one minute before it).",
                    len(rows) - len(missing))


def _check_scores(report: _Report, t: _Table, cols: dict[str, Any]) -> None:
    """Scores within the instrument's total or item range, whole numbers, items within n_items;
    ``cols["scores_whole"]`` says whether every score is a whole number (none missing)."""
    codes, canonical = cols["instrument"]
    if not len(canonical):
        return
    k = len(canonical)
    # Ranges by slot = 2 * instrument + (1 for an item, 0 for a total); the last two slots, for
    # rows without a known instrument, are NaN (every comparison with NaN is False: no check).
    lo, hi = np.full(2 * (k + 1), np.nan), np.full(2 * (k + 1), np.nan)
    n_items = np.full(k + 1, np.nan)
    for i, label in enumerate(canonical):
        spec = get_instrument(label)
        lo[2 * i], hi[2 * i] = spec.min_score, spec.max_score
        lo[2 * i + 1], hi[2 * i + 1], n_items[i] = spec.item_min, spec.item_max, spec.n_items
    index = np.where(codes >= 0, codes, k).astype(np.intp, copy=False)
    score, item = cols["score"], cols["item"]
    is_item = ~np.isnan(item)
    slot = 2 * index + is_item
    rows = cols["source_row"]
    labels = np.asarray(list(canonical) + [None], dtype=object)  # index into it only for rows shown
    # (NaN scores and rows without a range compare False.)
    where = np.flatnonzero((score < lo[slot]) | (score > hi[slot]))
    shown = [(score[i], labels[index[i]], lo[slot[i]], hi[slot[i]], item[i]) for i in where[:MAX_ROWS_PER_CHECK]]
    report.add_rows(t.raw, t.name, "score", rows[where], shown,
                    lambda v: (f"score {_show(v[0])} is outside the {v[1]} "
                               + (f"item range {_show(v[2])}-{_show(v[3])} (item {_show(v[4])})."
                                  if not np.isnan(v[4]) else f"total score range {_show(v[2])}-{_show(v[3])}.")),
                    "scores outside the instrument's range", _cells(cols["cells"], where, t.raw.sources.get("score")))
    del slot
    fractional = np.flatnonzero(score != np.round(score))  # NaN included, removed next (few rows)
    cols["scores_whole"] = not len(fractional)
    fractional = fractional[~np.isnan(score[fractional])]
    where = np.setdiff1d(fractional, where, assume_unique=True)
    report.add_rows(t.raw, t.name, "score", rows[where], score[where],
                    lambda v: f"score {v} is not a whole number (scores are sums of item ratings).",
                    "scores that are not whole numbers", _cells(cols["cells"], where, t.raw.sources.get("score")))
    where = np.flatnonzero(item > n_items[index])  # NaN items (totals) and unknown counts compare False
    report.add_rows(t.raw, t.name, "item", rows[where],
                    [(item[i], labels[index[i]], n_items[index[i]]) for i in where[:MAX_ROWS_PER_CHECK]],
                    lambda v: f"item {_show(v[0])} does not exist: {v[1]} has {_show(v[2])} items.",
                    "item numbers beyond the instrument's items", _cells(cols["cells"], where, t.raw.sources.get("item")))


def _infusions(report: _Report, t: _Table) -> dict[str, Any]:
    frame, raw, name = t.frame, t.raw, t.name
    time_options, date_column = TIME_COLUMNS, "infusion_date"
    rows = _source_rows(frame)
    out: dict[str, Any] = {"source_row": rows}
    known = set(INFUSION_COLUMNS) | set(time_options) | {date_column, "dose_mg", "weight_kg"}
    missing = _require(report, raw, name, frame, ("patient_id", "infusion_number"), known)
    if "patient_id" not in missing:
        out["patient_id"] = _patient_ids(report, t)
    if "infusion_number" not in missing:
        number, bad = _number(frame["infusion_number"], raw.decimal_comma)
        bad |= np.isnan(number) | (number != np.round(number)) | (number < 1) | (number > MAX_COUNT)
        where = np.flatnonzero(bad)
        report.add_rows(raw, name, "infusion_number", rows[where], _raw_values(frame["infusion_number"], where),
                        lambda v: f"infusion_number {_show(v)!r} is not a whole number 1, 2, ... (up to 100,000)",
                        "invalid infusion numbers")
        out["infusion_number"] = number
        out["number_bad"] = bad
    no_time = not any(c in frame.columns for c in time_options) and date_column not in frame.columns
    if no_time and "infusion_number" in out and bool(np.all(out["infusion_number"][~out["number_bad"]] == 1)):
        # One infusion per patient: its start is time 0 by definition.
        out["time_hours"] = np.zeros(len(frame))
        report.warn("infusion_times_assumed", f"{raw.name} has no infusion start times; every patient has one "
                    "infusion, so it starts at time 0.", len(frame), table=name)
        time_column = None
    else:
        time_column = _require_time(report, raw, name, frame, time_options, date_column, known)
    if time_column is not None and time_column != date_column:
        values, bad = _number(frame[time_column], raw.decimal_comma)
        where = np.flatnonzero(bad | np.isnan(values))
        report.add_rows(raw, name, time_column, rows[where], _raw_values(frame[time_column], where),
                        lambda v: f"infusion start {_show(v)!r} is empty or not a number.",
                        "unreadable infusion times")
        out["time_hours"] = values * time_options[time_column]
        if date_column in frame.columns:
            report.warn("dates_dropped", f"{raw.name}: calendar dates in {date_column!r} were removed (dates "
                        f"identify people); infusion times come from {time_column!r}.", len(frame), table=name)
    elif time_column == date_column:
        out["dates"] = _dates(report, raw, name, frame[date_column], date_column, rows)
    if "dose_mg_per_kg" in frame.columns or "dose_mg" in frame.columns:
        out["dose_mg_per_kg"] = _dose(report, t)
    if "duration_min" in frame.columns:
        duration, bad = _number(frame["duration_min"], raw.decimal_comma)
        bad |= duration < 0
        where = np.flatnonzero(bad)
        report.add_rows(raw, name, "duration_min", rows[where], _raw_values(frame["duration_min"], where),
                        lambda v: f"duration {_show(v)!r} is not a number of minutes >= 0.",
                        "invalid durations")
        out["duration_min"] = duration
    if "route" in frame.columns:
        out["route"] = _vocabulary(report, t, "route", ROUTES, "route")
    extras = [c for c in frame.columns if c not in known and c != "source_row"]
    out["extras"] = frame[extras]
    return out


# Above this a dose is not a sub-anaesthetic ketamine dose per kg (1-4.5 mg/kg IV induces anaesthesia)
MAX_PLAUSIBLE_DOSE_MG_PER_KG = 3.0


def _dose(report: _Report, t: _Table) -> np.ndarray:
    """Doses in mg/kg from numbers or text ('0.5 mg/kg'; 'placebo' = 0, warned), or from a dose in
    mg (text '35 mg' or a dose_mg column) divided by weight_kg."""
    frame, raw, name = t.frame, t.raw, t.name
    rows = _source_rows(frame)
    column = "dose_mg_per_kg" if "dose_mg_per_kg" in frame.columns else "dose_mg"
    dose, bad = _number(frame[column], raw.decimal_comma)
    in_mg = np.full(len(frame), column == "dose_mg")
    if bad.any():
        codes, labels = _codes_and_labels(frame[column])
        parsed = [dose_of(str(label)) for label in labels]
        values = np.array([np.nan if p is None else p[0] for p in parsed] + [np.nan])
        units = np.array([None if p is None else p[1] for p in parsed] + [None], dtype=object)
        index = np.where(codes >= 0, codes, len(parsed))
        dose = np.where(bad, values[index], dose)
        unit = np.where(bad, units[index], None)
        placebo = np.flatnonzero(unit == "placebo")
        if len(placebo):
            report.warn("placebo_dose", f"{len(placebo)} infusion(s) given as placebo (or saline) were read as dose 0 "
                        "mg/kg.", len(placebo), table=name, rows=rows[placebo])
        in_mg |= unit == "mg"
        bad = bad & np.isnan(dose)
    where = np.flatnonzero(bad)
    report.add_rows(raw, name, column, rows[where], _raw_values(frame[column], where),
                    lambda x: f"dose {_show(x)!r} is not a number (mg/kg), a dose such as '0.5 mg/kg' or '35 mg', "
                              "or 'placebo'.", "doses that cannot be read")
    if in_mg.any():
        if "weight_kg" in frame.columns:
            weight, bad_weight = _number(frame["weight_kg"], raw.decimal_comma)
            bad_weight |= ~(weight > 0)
            where = np.flatnonzero(in_mg & bad_weight)
            report.add_rows(raw, name, "weight_kg", rows[where], _raw_values(frame["weight_kg"], where),
                            lambda x: f"weight {_show(x)!r} is not a number of kg above 0, so the dose in mg cannot "
                                      "be read as mg/kg.", "unusable weights")
            dose = np.where(in_mg, dose / np.where(bad_weight, np.nan, weight), dose)
            report.warn("dose_from_mg", f"{int(in_mg.sum())} dose(s) in mg were divided by the weight in kg.",
                        int(in_mg.sum()), table=name)
        else:
            where = np.flatnonzero(in_mg & ~np.isnan(dose))
            report.add_rows(raw, name, column, rows[where], dose[where],
                            lambda x: f"dose {_show(x)} mg is not per kg and there is no weight column to convert "
                                      "it: add weight_kg, or give the dose in mg/kg.", "doses in mg without weight")
            dose = np.where(in_mg, np.nan, dose)
    where = np.flatnonzero(dose < 0)
    report.add_rows(raw, name, column, rows[where], dose[where], lambda x: f"dose {_show(x)} mg/kg is negative.",
                    "negative doses")
    high = np.flatnonzero(dose > MAX_PLAUSIBLE_DOSE_MG_PER_KG)
    if len(high):  # most likely doses in mg under a per-kg name: kept, and said
        report.warn("implausible_dose", f"{len(high)} dose(s) above {MAX_PLAUSIBLE_DOSE_MG_PER_KG:g} mg/kg (up to "
                    f"{_show(float(np.nanmax(dose[high])))} mg/kg), far above the sub-anaesthetic doses used for "
                    "depression (0.1-1 mg/kg IV). If these are doses in mg, give them as dose_mg with weight_kg "
                    "(e.g. analysis.load(path, columns={'dose_mg': '<your dose column>'})) or as text such as "
                    "'35 mg'; they are kept as mg/kg.", len(high), table=name, rows=rows[high])
    return dose


_NORMALISE: dict[str, Callable[[str], str | None]] = {"route": route_of, "diagnosis": diagnosis_of}


def _vocabulary(report: _Report, t: _Table, column: str, allowed: tuple[str, ...], what: str,
                empty_is_problem: bool = True) -> np.ndarray:
    """Normalise a fixed-vocabulary column (the mapping's value_maps first, then the synonyms of
    :mod:`analysis.loading.vocabularies`), once per distinct label; report the rest."""
    values = _text(t.frame[column])
    rows = _source_rows(t.frame)
    normalise = _NORMALISE[column]
    given = report.value_maps.get(column, {})
    mapped = []
    for label in values.categories:
        canonical = given.get(str(label)) or normalise(label)
        if canonical is not None and canonical not in allowed:
            canonical = normalise(canonical)
        if canonical is None:
            where = np.flatnonzero(values.codes == values.categories.get_loc(label))
            if not len(where):  # a category no row uses
                mapped.append(None)
                continue
            hint = closest_word(column, str(label))
            hint_text = f" Did you mean {hint!r}?" if hint else ""
            report.add(t.raw, t.name, f"Unknown {what} {_show(label)!r} in {len(where)} row(s) ("
                       f"{t.raw.rows_text(rows[where])}).{hint_text} Allowed: {', '.join(allowed)}; to read it as one of them, "
                       f"pass value_maps={{{column!r}: {{{_show(label)!r}: {hint or '...'!r}}}}} to analysis.load.",
                       column=column, row=int(rows[where[0]]), value=_show(label))
        mapped.append(canonical)
    lookup = np.asarray(mapped + [None], dtype=object)
    result = lookup[np.where(values.codes >= 0, values.codes, len(mapped))]
    if empty_is_problem:
        where = np.flatnonzero(values.codes < 0)
        report.add_rows(t.raw, t.name, column, rows[where], [""] * len(where), lambda _: f"{what} is empty.",
                        f"empty {what}")
    return result


# --------------------------------------------------------------------------------------------
# Entry points used by analysis.loading.reading


def _load_single(report: _Report, raw: RawTable, source: str, *, mapping: Any = None, events: RawTable | None = None,
                 infusions: RawTable | None = None, has_clock_time: bool = True) -> OutcomeData:
    """Validate a long single-file table whose columns already carry contract names; ``infusions``:
    an infusions table of its own (a converted source's), instead of infusion columns on the ratings."""
    a_table, i_table, p_table = _split_single(report, raw, rename=mapping is None,
                                              infusion_columns=infusions is None)
    if infusions is not None:
        i_table = _prepare(report, infusions, "infusions", _INFUSION_MAP,
                           set(INFUSION_COLUMNS) | set(TIME_COLUMNS) | {"dose_mg", "weight_kg"}, {"infusion_date"})
    e_table = None
    if events is not None:
        e_table = _Table(_screen_identifiers(report, events, "events", events.frame, set(EVENT_COLUMNS) | set(TIME_COLUMNS),
                                             {"assessment_date"}, {"event"}), events, "events")
    if report.identifying_contract_column:
        # Stop here: later messages quote patient ids, instruments and values of contract columns.
        raise _error(report, a_table.raw)
    for note in raw.notes:
        report.warn("reading", note + ".", 1, table="file")
    return _validate(report, a_table, i_table, p_table, source, e_table=e_table, mapping=mapping,
                     has_clock_time=has_clock_time)


def _three_tables(report: _Report, raws: dict[str, RawTable]) -> tuple[_Table, _Table | None, _Table | None]:
    """Column names and identifier checks of the three-table form (infusions, patients optional)."""
    a_table = _prepare(report, raws["assessments"], "assessments", _ASSESSMENT_MAP,
                       set(ASSESSMENT_COLUMNS) | set(TIME_COLUMNS), {"assessment_date"})
    i_table = _prepare(report, raws["infusions"], "infusions", _INFUSION_MAP,
                       set(INFUSION_COLUMNS) | set(TIME_COLUMNS), {"infusion_date"}) if "infusions" in raws else None
    p_table = _prepare(report, raws["patients"], "patients", _PATIENT_MAP, set(PATIENT_COLUMNS), set()) \
        if "patients" in raws else None
    return a_table, i_table, p_table


def _prepare(report: _Report, raw: RawTable, name: str, mapping: dict[str, str], known: set[str],
             date_columns: set[str]) -> _Table:
    frame, renamed = _rename(raw.frame, mapping)
    raw.sources = {**renamed, **raw.sources}
    frame = _screen_identifiers(report, raw, name, frame, known | set(PATIENT_COLUMNS), date_columns,
                                {"instrument", "route", "diagnosis", "sex"})
    return _Table(frame, raw, name)


# --------------------------------------------------------------------------------------------
# Single-file form


# Set by the mapping step for visit labels relative to one infusion of a series ("Infusion 2 post",
# analysis.loading.times.parse_infusion_label): the infusion's number and the hours after its start.
# The rating's time is that patient's infusion start plus those hours (_infusion_relative_times).
RELATIVE_COLUMNS = ("relative_infusion", "hours_after_infusion")
# Set by the mapping step for a wide source: the column each rating was read from ('MADRS Day 7'),
# named in the messages about that rating instead of 'score' (several ratings share a row).
CELL_COLUMN = "wide_column"
_ASSESSMENT_LEVEL = set(ASSESSMENT_COLUMNS) | set(TIME_COLUMNS) | {"assessment_date", CELL_COLUMN,
                                                                    *RELATIVE_COLUMNS}
_INFUSION_LEVEL = {"dose_mg_per_kg", "dose_mg", "weight_kg", "route", "duration_min", "infusion_date"} \
    | set(INFUSION_TIME_COLUMNS)
_PATIENT_LEVEL = {"age", "sex", "diagnosis"}


def _value_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (-1 = missing), for equality tests within groups;
    routes and diagnoses are compared after normalisation ('iv' = 'IV' = 'intravenous')."""
    normalise = _NORMALISE.get(str(values.name))
    if normalise is not None:
        labels = _text(values)
        normal = [normalise(c) or c for c in labels.categories]
        remap = np.append(pd.factorize(np.asarray(normal, dtype=object))[0], -1).astype(labels.codes.dtype)
        return remap[labels.codes]  # code -1 (missing) picks the last entry, -1
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy()  # int8/int16/int32: reduced as they are
    array = values.to_numpy()
    if array.dtype.kind == "O":
        array = np.array([_label(v) for v in array], dtype=object) if len(array) < 10_000 else \
            pd.Series(array).map(_label).to_numpy(dtype=object)
    return pd.factorize(array, use_na_sentinel=True)[0].astype(np.int64)


def _is_plain_number(values: pd.Series) -> bool:
    """A numeric column compared by value (no normalisation, no codes needed)."""
    dtype = values.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
        and not isinstance(dtype, pd.CategoricalDtype) and str(values.name) not in _NORMALISE


_BLOCK_ROWS = 1 << 20  # rows per block of the group comparisons


class _Groups:
    """Rows grouped by an integer code (-1 = no group), for per-group questions in O(n) whatever
    the order of the rows: each group's first row is found by scattering the rows into one slot
    per group (``ufunc.at``, once), and each row is compared with its group's first value, so
    neither a sort nor a copy of the table in group order is needed (a file in random order is as
    fast as a sorted one).
    """

    def __init__(self, codes: np.ndarray, n_groups: int):
        codes = np.asarray(codes)
        self.n_groups = n_groups
        self.length = len(codes)
        # Each row's slot: its group, or one extra slot (dropped) for rows without a group.
        self.slot = np.where(codes >= 0, codes, n_groups).astype(np.intp, copy=False)
        self._first: np.ndarray | None = None

    def _reduce(self, ufunc: np.ufunc, values: np.ndarray, initial: Any) -> np.ndarray:
        out = np.full(self.n_groups + 1, initial, dtype=values.dtype)
        ufunc.at(out, self.slot, values)  # values of the slot's own dtype: the fast path of ufunc.at
        return out[:-1]

    def varying(self, values: pd.Series) -> np.ndarray:
        """Groups in which ``values`` takes more than one non-missing value (ascending): those
        with a row whose value differs from the group's first value (one gather from a table of
        a value per group, no per-group reduction over the rows)."""
        if _is_plain_number(values):  # numbers: compared as they are (NaN = missing), no codes
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
            present = ~np.isnan(numbers)
        else:
            numbers = _value_codes(values)
            present = numbers >= 0
        first = self.first(present)
        # Each group's first value, and one more slot for the rows without a group (left out).
        reference = np.append(numbers[np.maximum(first, 0)], numbers[:0].dtype.type(0))
        hit = np.zeros(self.n_groups + 1, dtype=bool)
        for start in range(0, self.length, _BLOCK_ROWS):  # blocks: small temporaries (peak memory)
            block = slice(start, start + _BLOCK_ROWS)
            slot = self.slot[block]
            differs = numbers[block] != reference[slot]
            differs &= present[block]
            hit[slot[differs]] = True
        return np.flatnonzero(hit[:-1])

    def _first_of(self, positions: np.ndarray) -> np.ndarray:
        never = np.iinfo(np.int64).max
        first = self._reduce(np.minimum, positions, never)
        return np.where(first == never, -1, first)

    def first(self, valid: np.ndarray | None = None) -> np.ndarray:
        """Row position of the first (``valid``) row of each group; -1 when there is none."""
        if self._first is None:
            self._first = self._first_of(np.arange(self.length, dtype=np.int64))
        first = self._first
        if valid is None or bool(valid[first[first >= 0]].all()):  # each group's first row valid: usual
            return first
        return self._first_of(np.where(valid, np.arange(self.length, dtype=np.int64), np.iinfo(np.int64).max))


def _take_first(frame: pd.DataFrame, columns: list[str], groups: _Groups) -> pd.DataFrame:
    """One row per group: each column's first non-missing value in the group."""
    out = {}
    for column in columns:
        series = frame[column]
        first = groups.first(series.notna().to_numpy())
        taken = series.iloc[np.maximum(first, 0)].reset_index(drop=True)
        out[column] = taken.where(pd.Series(first >= 0), None if taken.dtype == object else np.nan) \
            if (first < 0).any() else taken
    return pd.DataFrame(out, copy=False)


def _split_single(report: _Report, raw: RawTable, rename: bool = True,
                  infusion_columns: bool = True) -> tuple[_Table, _Table | None, _Table | None]:
    """Split the single-file form into its tables; ``rename`` accepts the contract's other
    spellings (off when a mapping has already named every column); ``infusion_columns`` off: the
    infusions come as a table of their own, so a column such as ``weight_kg`` is a covariate."""
    frame, renamed = _rename(raw.frame, _SINGLE_MAP) if rename else (raw.frame, {})
    raw.sources = {**renamed, **raw.sources}
    known = _ASSESSMENT_LEVEL | _PATIENT_LEVEL | (_INFUSION_LEVEL if infusion_columns else set())
    frame = _screen_identifiers(report, raw, "file", frame, known, {"assessment_date", "infusion_date"},
                                {"instrument", "route", "diagnosis", "sex"})
    extras = [c for c in frame.columns if c not in known and c != "source_row"]
    # (A contract column refused as identifying: the checks below would quote its values.)
    if "patient_id" not in frame.columns or report.identifying_contract_column:
        return _Table(frame, raw, "file"), None, None
    patient = _text(frame["patient_id"])
    codes = patient.codes
    frame["patient_id"] = pd.Series(patient, index=frame.index, copy=False)
    n_patients = len(patient.categories)
    rows = _source_rows(frame)

    patient_columns = [c for c in ("age", "sex", "diagnosis") if c in frame.columns]
    covariates, kept = [], []
    by_patient = _Groups(codes, n_patients)
    for column in extras:
        (covariates if len(by_patient.varying(frame[column])) == 0 else kept).append(column)
    first_row = by_patient.first()
    for column in patient_columns:
        varying = by_patient.varying(frame[column])
        if len(varying):
            ids = [str(patient.categories[c]) for c in varying]
            first_rows = [int(rows[first_row[c]]) for c in varying[:5]]
            report.add(raw, "patients", f"{column!r} is a patient-level column but varies within "
                       f"{len(ids)} patient(s): {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''} "
                       f"(first rows of these patients: {', '.join(map(str, first_rows))}). Give each patient "
                       "one value.", column=column, row=first_rows[0])
    if extras:
        parts = []
        if covariates:
            parts.append(f"{', '.join(map(repr, covariates))} (constant within each patient) became patient "
                         "covariates")
        if kept:
            parts.append(f"{', '.join(map(repr, kept))} (varying within patients) were kept on the "
                         "assessments table")
        report.warn("extra_columns", f"Columns not in the data contract: {'; '.join(parts)}.", len(extras),
                    table="file")

    patients_frame = None
    if patient_columns or covariates:
        patients_frame = _take_first(frame, [*patient_columns, *covariates], by_patient)
        # The cleaned ids as a categorical of the same dtype: validating the patients table then
        # reuses them (see _CLEAN) instead of stripping and sorting 100,000s of ids again.
        patients_frame.insert(0, "patient_id", pd.Series(pd.Categorical.from_codes(
            np.arange(n_patients, dtype=np.int32), dtype=patient.dtype, validate=False)))
        patients_frame["source_row"] = rows[first_row]

    on_ratings = [c for c in frame.columns if c in _INFUSION_LEVEL] if infusion_columns else []
    infusions_frame = None
    if on_ratings:
        infusions_frame = _single_infusions(report, raw, frame, patient, on_ratings)
    assessment_columns = [c for c in frame.columns if c in _ASSESSMENT_LEVEL or c in kept or c == "source_row"]
    a_table = _Table(frame[assessment_columns], raw, "assessments")
    p_table = _Table(patients_frame, raw, "patients") if patients_frame is not None else None
    i_table = _Table(infusions_frame, raw, "infusions") if infusions_frame is not None else None
    return a_table, i_table, p_table


def _single_infusions(report: _Report, raw: RawTable, frame: pd.DataFrame, patient: pd.Categorical,
                      infusion_columns: list[str]) -> pd.DataFrame:
    """One row per (patient, infusion) from the infusion-level columns of the single-file form."""
    codes = patient.codes.astype(np.int64)
    rows = _source_rows(frame)
    time_columns = [c for c in INFUSION_TIME_COLUMNS if c in frame.columns]
    if "infusion_number" in frame.columns:
        number, _ = _number(frame["infusion_number"], raw.decimal_comma)
    elif time_columns or "infusion_date" in frame.columns:
        start_column = time_columns[0] if time_columns else "infusion_date"
        if start_column == "infusion_date":
            when = _dates(report, raw, "infusions", frame["infusion_date"], "infusion_date", rows,
                          required=False).when
            start = np.where(np.isnat(when), np.nan, when.astype("int64").astype("float64"))
        else:
            start, _ = _number(frame[start_column], raw.decimal_comma)
        number = pd.DataFrame({"p": codes, "t": start}).groupby("p")["t"].rank(method="dense").to_numpy()
        report.warn("infusion_numbers_derived", f"{raw.name} has no infusion_number column: infusions were "
                    f"numbered by their start ({start_column}) within each patient.", len(frame), table="infusions")
    else:
        number = np.ones(len(frame))
        report.warn("one_infusion_per_patient", f"{raw.name} has infusion columns "
                    f"({', '.join(infusion_columns)}) but no infusion_number or infusion start: each patient is "
                    "taken to have had one infusion, at time 0.", len(frame), table="infusions")
    keep = (codes >= 0) & (number >= 1) & (number == np.round(number)) & (number <= MAX_COUNT)  # NaN: False
    width = int(np.max(number, where=keep, initial=0)) + 1
    with np.errstate(invalid="ignore"):  # rows not kept (NaN numbers) get a placeholder key below
        key = codes * width + number.astype(np.int64)
    span = int(np.max(key, where=keep, initial=-1)) + 1
    if span <= 4 * len(frame) + 1_000_000:
        # Infusions numbered in (patient, infusion_number) order by a count of the keys: O(n), no
        # hashing; rows not kept get key ``span``, whose group is -1.
        key[~keep] = span
        present = np.bincount(key, minlength=span + 1)[:span] > 0
        groups = np.append(np.cumsum(present) - 1, -1)[key]
        n_groups = int(present.sum())
    else:
        kept = np.flatnonzero(keep)
        kept_groups, uniques = pd.factorize(key[kept])
        groups = np.full(len(frame), -1, dtype=np.int64)
        groups[kept] = kept_groups
        n_groups = len(uniques)
    by_infusion = _Groups(groups, n_groups)
    first = by_infusion.first()
    for column in infusion_columns:
        varying = by_infusion.varying(frame[column])
        if len(varying):
            where = ", ".join(f"patient {patient.categories[codes[first[g]]]} infusion {_show(number[first[g]])}"
                              for g in varying[:5])
            report.add(raw, "infusions", f"{column!r} describes an infusion but takes different values within "
                       f"{len(varying)} infusion(s): {where}{' ...' if len(varying) > 5 else ''}. Give one value "
                       "per patient and infusion_number.", column=column, row=int(rows[first[varying[0]]]))
    sub = _take_first(frame, infusion_columns, by_infusion)
    sub.insert(0, "patient_id", frame["patient_id"].iloc[first].reset_index(drop=True))
    sub["infusion_number"] = number[first]
    sub["source_row"] = rows[first]
    sub = sub.rename(columns={c: c.replace("infusion_", "", 1) for c in time_columns})
    if not time_columns and "infusion_date" not in sub.columns:
        later = sub["infusion_number"] > 1
        if later.any():
            report.add(raw, "infusions", f"{raw.name} describes {int(sub['infusion_number'].max())} infusions for some "
                       "patients but gives no infusion start times: add infusion_time_hours (the start of the "
                       "infusion each row follows, in hours since the patient's first infusion) or "
                       "infusion_date.", column="infusion_time_hours", row=int(sub["source_row"][later].iloc[0]))
            sub = sub.loc[~later].reset_index(drop=True)
        sub["time_hours"] = 0.0
    return sub


# --------------------------------------------------------------------------------------------
# Validation of the assembled tables


def _validate(report: _Report, a_table: _Table, i_table: _Table | None, p_table: _Table | None,
              source: str, *, e_table: _Table | None = None, mapping: Any = None,
              has_clock_time: bool = True) -> OutcomeData:
    cols = _assessments(report, a_table)
    inf = None
    if i_table is not None:
        inf = _infusions(report, i_table)
    pat = _patients(report, p_table) if p_table is not None else None
    if cols is None:
        raise _error(report, a_table.raw)

    patient_codes = cols["patient_id"].codes
    patient_ids = cols["patient_id"].categories
    instrument_codes, instrument_names = cols["instrument"]
    rows = cols["source_row"]

    # Calendar dates -> hours since each patient's first infusion.
    infusion_dates = None
    if inf is not None and "dates" in inf and "patient_id" in inf:
        infusion_dates = calendar.infusion_calendar(inf["dates"], inf["patient_id"])
        inf["time_hours"] = infusion_dates.hours
        report.warn("dates_converted", f"Calendar dates of infusions ({i_table.raw.name}) were converted to "
                    "hours since each patient's first infusion and removed.", len(inf["dates"].when), table="infusions")
    if "dates" in cols:
        if infusion_dates is None:
            report.add(a_table.raw, a_table.name, "Assessment times are given as calendar dates, but there are "
                       "no infusion dates to measure them from: add infusion dates (infusion_date) or give "
                       "times relative to the first infusion (time_hours, time_min or time_days).",
                       column="assessment_date")
            cols["time_hours"] = np.full(len(rows), np.nan)
            cols["time_bad"] = np.ones(len(rows), dtype=bool)
        else:
            # A visit label that says its time ("pre", "post", "4h") places a rating dated without a time.
            hours = calendar.hours_since_first(cols["dates"], cols["patient_id"], infusion_dates,
                                               _label_hours(cols["visit"], mapping))
            no_origin = np.flatnonzero(np.isnan(hours) & ~np.isnat(cols["dates"].when))
            report.add_rows(a_table.raw, a_table.name, "assessment_date", rows[no_origin],
                            [""] * len(no_origin), lambda _: "the patient has no infusion date to measure "
                            "this date from.", "ratings without an infusion date")
            cols["time_hours"] = hours
            cols["time_bad"] = np.isnan(hours)
            day_only = int((~cols["dates"].has_time & ~np.isnan(hours)).sum())
            report.warn("dates_converted", f"Calendar dates of assessments ({a_table.raw.name}) were converted "
                        "to hours since each patient's first infusion and removed"
                        + (f"; {day_only} rating(s) dated without a time of day: {calendar.DAY_ONLY_RULE}"
                           if day_only else "") + ".", len(rows))

    if "relative" in cols:
        _infusion_relative_times(report, a_table, cols, inf)

    _check_scores(report, a_table, cols)
    score = cols["score"]
    time_hours = cols.get("time_hours", np.full(len(rows), np.nan))
    item = cols["item"]

    # Rows with an empty score are dropped (listed).
    empty_score = np.isnan(score) & ~cols["score_bad"]
    keep = ~empty_score
    if empty_score.any():
        where = np.flatnonzero(empty_score)
        markers = cols.get("score_markers", [])
        marked = f" (or marked as missing: {', '.join(map(repr, markers[:8]))})" if markers else ""
        report.warn("empty_score", f"{len(where)} row(s) with an empty score{marked} were dropped "
                    f"({_numbering_note(a_table.raw)}): {a_table.raw.rows_text(rows[where], 10)}.", len(where),
                    rows=rows[where],
                    patient_ids=_unique_labels(cols["patient_id"], where))

    # Duplicates: same patient, instrument, item and time.
    item_key = np.where(np.isnan(item), -1.0, item)
    ranked = _rating_order(patient_codes, instrument_codes, time_hours, item_key)
    # (Masks that keep every row are not gathered: in a file in random row order each gather of
    # 8 million rows costs 0.03-0.15 s.)
    if not keep.all():
        if ranked.order is not None:
            ranked.select(keep[ranked.order])
        else:
            ranked.order = np.flatnonzero(keep)

    def in_order(values: np.ndarray) -> np.ndarray:
        return values if ranked.order is None else values[ranked.order]

    order = ranked.order
    if ranked.key is not None:  # equal keys: the same patient, instrument, time and item
        rated = (patient_codes >= 0) & (instrument_codes >= 0) & ~np.isnan(time_hours)
        same = ranked.key[1:] == ranked.key[:-1]
        if not rated.all():
            same &= rated[order[1:]]
        del rated
    else:
        s_p, s_i = in_order(patient_codes), in_order(instrument_codes)
        s_t, s_item = in_order(time_hours), in_order(item_key)
        same = (s_p[1:] == s_p[:-1]) & (s_i[1:] == s_i[:-1]) & (s_t[1:] == s_t[:-1]) \
            & (s_item[1:] == s_item[:-1]) & ~np.isnan(s_t[1:]) & (s_p[1:] >= 0) & (s_i[1:] >= 0)
        del s_p, s_i, s_t, s_item
    # In a file in random row order the scores are gathered as int16 when they allow it.
    s_score = in_order(score if order is None else _small_whole(score, cols.get("scores_whole", False)))
    identical = same & (s_score[1:] == s_score[:-1])
    conflict = same & (s_score[1:] != s_score[:-1])
    del same
    drop_positions = np.flatnonzero(identical) + 1 if order is None else order[1:][identical]
    if len(drop_positions):
        keep[drop_positions] = False
        report.warn("identical_duplicates", f"{len(drop_positions)} row(s) repeat another row exactly (same "
                    f"patient, instrument, item, time and score) and were dropped: "
                    f"{a_table.raw.rows_text(np.sort(rows[drop_positions]), 10)} ({_numbering_note(a_table.raw)}).",
                    len(drop_positions), rows=np.sort(rows[drop_positions]),
                    patient_ids=_unique_labels(cols["patient_id"], drop_positions))
    cells = cols["cells"]
    for k in np.flatnonzero(conflict)[:MAX_ROWS_PER_CHECK]:
        first_pos, second_pos = (k, k + 1) if order is None else (order[k], order[k + 1])
        what = "item " + _show(item[second_pos]) + " of " if not np.isnan(item[second_pos]) else ""
        scores = [_show(score[p]) for p in (first_pos, second_pos)]
        places = [a_table.raw.rows_text(rows[[p]]) for p in (first_pos, second_pos)]
        if cells is None:
            where = f"{scores[0]} in {places[0]}, {scores[1]} in {places[1]}"
        elif places[0] == places[1]:  # two wide columns of one row read as the same time
            where = f"{scores[0]} in column {str(cells[first_pos])!r} and {scores[1]} in column " \
                    f"{str(cells[second_pos])!r}, both in {places[0]}"
        else:
            where = f"{scores[0]} in {places[0]} ({str(cells[first_pos])!r}), {scores[1]} in {places[1]} " \
                    f"({str(cells[second_pos])!r})"
        report.add(a_table.raw, a_table.name, f"patient {patient_ids[patient_codes[second_pos]]} has {what}"
                   f"{instrument_names[instrument_codes[second_pos]]} rated twice at {_show(time_hours[second_pos])} "
                   f"h with different scores ({where}).",
                   column="score" if cells is None else str(cells[second_pos]),
                   row=int(rows[second_pos]), value=_show(score[second_pos]))
    if conflict.sum() > MAX_ROWS_PER_CHECK:
        report.add(a_table.raw, a_table.name, f"... and {int(conflict.sum()) - MAX_ROWS_PER_CHECK} more ratings "
                   "repeated with different scores.", column="score")

    # Infusions: build, check numbering and times, or assume one IV infusion at 0.
    infusions_out = _build_infusions(report, i_table, inf) if inf is not None else None
    patients_out = _build_patients(report, p_table, pat) if pat is not None else None

    # Cross-table references.
    used = np.bincount(patient_codes[patient_codes >= 0], minlength=len(patient_ids)) > 0
    assessed = pd.Index(np.asarray(patient_ids, dtype=object)[used].astype(str))
    if patients_out is not None and p_table is not None and p_table.raw is not a_table.raw:
        missing = assessed.difference(pd.Index(patients_out["patient_id"].astype(str)))
        _report_missing(report, a_table, cols, missing, "is not in the patients table")
        if infusions_out is not None:
            missing_inf = pd.Index(infusions_out["patient_id"].astype(str).unique()).difference(
                pd.Index(patients_out["patient_id"].astype(str)))
            for pid in missing_inf[:MAX_ROWS_PER_CHECK]:
                report.add(i_table.raw, "infusions", f"patient {pid} has infusions but is not in the patients "
                           "table.", column="patient_id", value=pid)
        unassessed = pd.Index(patients_out["patient_id"].astype(str)).difference(assessed)
        if len(unassessed):
            report.warn("patients_without_assessments", f"{len(unassessed)} patient(s) in the patients table have "
                        f"no ratings: {', '.join(unassessed[:10])}{' ...' if len(unassessed) > 10 else ''}.",
                        len(unassessed), table="patients", patient_ids=unassessed)
    if infusions_out is not None and i_table is not None and i_table.raw is not a_table.raw:
        missing = assessed.difference(pd.Index(infusions_out["patient_id"].astype(str).unique()))
        _report_missing(report, a_table, cols, missing, "has ratings but no infusions in the infusions table")
    elif infusions_out is not None:
        missing = assessed.difference(pd.Index(infusions_out["patient_id"].astype(str).unique()))
        if len(missing):
            report.warn("patients_without_infusions", f"{len(missing)} patient(s) have ratings but no row with an "
                        f"infusion_number, so no infusion: {', '.join(missing[:10])}"
                        f"{' ...' if len(missing) > 10 else ''}.", len(missing), table="infusions",
                        patient_ids=missing[:1000])

    events_out = _events(report, e_table, assessed) if e_table is not None else empty_events()
    if report.problems:
        raise _error(report, a_table.raw)

    # Assemble assessments, sorted by patient, instrument, time and item (the order used above).
    if not keep.all():
        if ranked.order is None:  # identical duplicates dropped from rows already in order
            ranked.order = np.flatnonzero(keep)
            s_score = score[ranked.order]
        else:
            kept = keep[ranked.order]
            ranked.select(kept)
            s_score = s_score[kept] if not kept.all() else s_score
    order = ranked.order
    n_out = len(rows) if order is None else len(order)  # order None: every row, in order (no copies)
    del keep
    del item_key
    if ranked.key is not None:
        s_patient_codes, s_instrument, s_time, s_item = ranked.decoded()  # codes as int32
        s_patient = pd.Categorical.from_codes(s_patient_codes, categories=patient_ids, validate=False)
    else:
        s_patient, s_instrument = in_order(cols["patient_id"]), in_order(instrument_codes)
        s_patient_codes = s_patient.codes
        s_time, s_item = in_order(time_hours), in_order(item)
    ranked.key = None
    # Column by column, so that at most one column's temporaries exist at a time (peak memory).
    columns: dict[str, Any] = {"patient_id": _string_series(s_patient)}
    del s_patient
    columns["instrument"] = _string_series(pd.Categorical.from_codes(s_instrument, categories=instrument_names,
                                                                     validate=False))
    columns["item"] = _integers(s_item)
    columns["score"] = s_score.astype("float64", copy=False)
    del s_score  # the int16 scores of a file in random order, no longer needed (16 MB at 8 million rows)
    columns["time_hours"] = s_time.astype("float64", copy=False)
    columns["visit"] = _string_series(in_order(cols["visit"])) if cols["visit"] is not None \
        else pd.Series(pd.NA, index=range(n_out), dtype="string")
    columns["infusion_number"] = _counts_in_order(cols.pop("infusion_number"), order)
    columns["source_row"] = _rows_in_order(rows, order)
    assessments = pd.DataFrame(columns, copy=False)  # copy=False: one block per column, no stacking
    del columns
    for column in cols["extras"].columns:
        extra = cols["extras"][column]
        assessments[column] = _plain(extra.reset_index(drop=True) if order is None else
                                     extra.iloc[order].reset_index(drop=True), a_table.raw.decimal_comma)

    if infusions_out is None:
        infusions_out = pd.DataFrame({
            "patient_id": pd.Series(assessed, dtype="string"),
            "infusion_number": np.ones(len(assessed), dtype="int64"),
            "time_hours": np.zeros(len(assessed)),
            "dose_mg_per_kg": np.full(len(assessed), np.nan),
            "route": pd.Series(["IV"] * len(assessed), dtype="string"),
            "duration_min": np.full(len(assessed), np.nan),
        })
        report.warn("assumed_infusion", f"No infusion data given: one IV infusion at time 0 was assumed for each "
                    f"of the {len(assessed)} patients (dose unknown).", len(assessed), table="infusions",
                    patient_ids=assessed[:1000])
    if patients_out is None:
        patients_out = pd.DataFrame({"patient_id": pd.Series(assessed, dtype="string")})
    for column, dtype in PATIENT_COLUMNS.items():
        if column not in patients_out.columns:
            patients_out[column] = pd.Series(pd.NA if dtype == "string" else np.nan,
                                             index=patients_out.index, dtype=dtype)
    patients_out = patients_out[list(PATIENT_COLUMNS) + [c for c in patients_out.columns
                                                         if c not in PATIENT_COLUMNS]]

    assessments, reordered = totals.derive_totals(report, assessments, s_patient_codes, s_instrument,
                                                  instrument_names, s_time, s_item)
    if reordered is not None:
        s_patient_codes, s_instrument, s_time, s_item = reordered
    _baseline_warnings(report, s_patient_codes, patient_ids, s_instrument, instrument_names, s_time, s_item)
    return OutcomeData(assessments=assessments, infusions=infusions_out.reset_index(drop=True),
                       patients=patients_out.sort_values("patient_id", kind="stable").reset_index(drop=True),
                       warnings=tuple(report.warnings), source=source, events=events_out, mapping=mapping,
                       has_clock_time=has_clock_time)


_EVENT_WORDS = {"booster": "booster", "booster_infusion": "booster", "maintenance_infusion": "booster",
                "rescue": "rescue", "rescue_medication": "rescue", "rescue_treatment": "rescue",
                "hospitalisation": "hospitalisation", "hospitalization": "hospitalisation",
                "hospitalised": "hospitalisation", "hospitalized": "hospitalisation", "admission": "hospitalisation",
                "discontinued": "discontinued", "discontinuation": "discontinued", "dropout": "discontinued",
                "drop_out": "discontinued", "withdrawn": "discontinued", "withdrawal": "discontinued",
                "adverse_event": "adverse_event", "ae": "adverse_event", "sae": "adverse_event",
                "serious_adverse_event": "adverse_event", "side_effect": "adverse_event"}


def _events(report: _Report, t: _Table, assessed: pd.Index) -> pd.DataFrame:
    """The events table: patient, time (hours since the first infusion), event kind, detail."""
    frame, raw, name = t.frame, t.raw, t.name
    rows = _source_rows(frame)
    known = set(EVENT_COLUMNS) | set(TIME_COLUMNS)
    missing = _require(report, raw, name, frame, ("patient_id", "event"), known)
    time_column = _require_time(report, raw, name, frame, TIME_COLUMNS, "assessment_date", known)
    if missing or time_column is None:
        return empty_events()
    if time_column == "assessment_date":
        report.add(raw, name, "event times are calendar dates: give them as time since the first infusion "
                   "(time_hours, time_days, ...).", column="assessment_date")
        return empty_events()
    patient = _patient_ids(report, t)
    values, bad = _number(frame[time_column], raw.decimal_comma)
    where = np.flatnonzero(bad | np.isnan(values))
    report.add_rows(raw, name, time_column, rows[where], _raw_values(frame[time_column], where),
                    lambda x: f"event time {_show(x)!r} is empty or not a number.", "unreadable event times")
    event = _text(frame["event"])
    kinds = [_EVENT_WORDS.get(_key(c), str(c)) for c in event.categories]
    lookup = np.asarray(kinds + [None], dtype=object)
    labels = lookup[np.where(event.codes >= 0, event.codes, len(kinds))]
    where = np.flatnonzero(event.codes < 0)
    report.add_rows(raw, name, "event", rows[where], [""] * len(where), lambda _: "event is empty.", "empty events")
    out = pd.DataFrame({"patient_id": _string_series(patient), "time_hours": values * TIME_COLUMNS[time_column],
                        "event": pd.Series(labels, dtype="string"),
                        "detail": _string_series(_text(frame["detail"])) if "detail" in frame.columns
                        else pd.Series(pd.NA, index=range(len(frame)), dtype="string")})
    unknown = pd.Index(out["patient_id"].dropna().unique()).difference(assessed)
    if len(unknown):
        report.warn("events_without_ratings", f"{len(unknown)} patient(s) have events but no ratings: "
                    f"{', '.join(map(str, unknown[:10]))}{' ...' if len(unknown) > 10 else ''}.", len(unknown),
                    table="events", patient_ids=unknown[:1000])
    return out.sort_values(["patient_id", "time_hours"], kind="stable").reset_index(drop=True)


def _in_order(keys: tuple[np.ndarray, ...]) -> bool:
    """Rows in ascending order of ``keys`` (the first the most significant), checked in O(n)."""
    if len(keys[0]) < 2:
        return True
    greater = np.zeros(len(keys[0]) - 1, dtype=bool)
    equal = np.ones(len(keys[0]) - 1, dtype=bool)
    for values in keys:
        before, after = values[:-1], values[1:]
        greater |= equal & (after > before)
        equal &= after == before
    return bool(np.all(greater | equal))


@dataclass
class _RatingOrder:
    """Rows in rating order (patient, instrument, time, item).

    order : row positions in that order; None when the rows are in order already.
    key : when rows were sorted by it, the one int64 of each row in ``order`` holding the four
        keys' codes in bit fields: equal keys = the same rating; the keys are decoded back into
        the four columns by shifts, much faster than gathering them from rows all over the table.
    """

    order: np.ndarray | None
    key: np.ndarray | None = None
    bits: tuple[int, ...] = ()  # bits of the patient, instrument, time and item fields of ``key``
    times: np.ndarray | None = None  # time (hours) of each time code
    items: np.ndarray | None = None  # item number (NaN = total) of each item code

    def select(self, mask: np.ndarray) -> None:
        """Keep only the rows of ``order`` where ``mask`` (aligned with ``order``) is True."""
        if self.order is not None and not mask.all():
            self.order = self.order[mask]
            if self.key is not None:
                self.key = self.key[mask]

    def decoded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(patient codes, instrument codes, times, items) of the rows in order, from ``key``."""
        _, instrument_bits, time_bits, item_bits = self.bits
        # One scratch array for the fields, shifted and masked in place (fewer 8-byte temporaries).
        field = self.key & ((1 << item_bits) - 1)
        items = self.items[field]
        np.right_shift(self.key, item_bits, out=field)
        field &= (1 << time_bits) - 1
        times = self.times[field]
        np.right_shift(self.key, item_bits + time_bits, out=field)
        field &= (1 << instrument_bits) - 1
        field -= 2
        instrument = field.astype(np.int32)
        np.right_shift(self.key, item_bits + time_bits + instrument_bits, out=field)
        field -= 2
        return field.astype(np.int32), instrument, times, items


def _rating_order(patient: np.ndarray, instrument: np.ndarray, time_hours: np.ndarray,
                  item: np.ndarray) -> _RatingOrder:
    """Rows sorted by patient, instrument, time (missing last) and item (-1 = total); the rows of
    a file in that order already (the usual case) are recognised in O(n) and not sorted.

    The four keys become one int64 (bit fields) so the sort is one pass over one array (a
    four-key lexsort was the slowest step at millions of rows)."""
    if _in_order((patient, instrument, np.where(np.isnan(time_hours), np.inf, time_hours), item)):
        return _RatingOrder(None)
    # Patient and instrument codes are already dense (-1/-2 = missing or unknown); items are small
    # whole numbers (-1 = total); only the times need codes.
    time_codes, time_values = pd.factorize(time_hours, sort=True, use_na_sentinel=True)
    times = np.append(np.asarray(time_values, dtype="float64"), np.nan)
    time_codes = np.where(time_codes < 0, len(times) - 1, time_codes)
    if len(item) and (item.min() < -1 or item.max() > MAX_COUNT):
        item_codes, item_values = pd.factorize(item, sort=True)
        items = np.asarray(item_values, dtype="float64")
    else:
        item_codes = (item + 1).astype(np.int64)
        items = np.arange(-1.0, item.max(initial=-1) + 1)
    items = np.where(items == -1, np.nan, items)
    keys = [(patient, int(patient.max(initial=0)) + 3, 2), (instrument, int(instrument.max(initial=0)) + 3, 2),
            (time_codes, len(times), 0), (item_codes, len(items), 0)]
    bits = tuple(int(size - 1).bit_length() for _, size, _ in keys)
    if sum(bits) > 62:
        return _RatingOrder(np.lexsort((item, time_hours, instrument, patient)))
    combined = np.zeros(len(patient), dtype=np.int64)
    for (codes, _, offset), width in zip(keys, bits, strict=True):
        combined <<= width
        combined += codes  # (not |=: the codes of missing patients and instruments are negative until offset)
        if offset:
            combined += offset
    if bool(np.all(patient[1:] >= patient[:-1])):
        # Rows grouped by patient (the usual export): timsort merges the sorted runs in ~O(n).
        order = np.argsort(combined, kind="stable")
        return _RatingOrder(order, combined[order], bits, times, items)
    position_bits = max(int(len(combined) - 1).bit_length(), 1)
    if sum(bits) + position_bits > 62:
        order = np.argsort(combined, kind="stable")
        return _RatingOrder(order, combined[order], bits, times, items)
    # Rows in any other order: each key made unique by the row's position in its low bits, so a
    # plain sort of the keys (numpy's SIMD quicksort: 0.2 s for 8 million, against 1.4 s for a
    # stable radix argsort plus a random gather of the keys) yields both the stable order and the
    # keys in that order.
    combined <<= position_bits
    combined |= np.arange(len(combined), dtype=np.int64)
    combined.sort()
    order = combined & ((1 << position_bits) - 1)
    combined >>= position_bits
    return _RatingOrder(order, combined, bits, times, items)


def _rows_in_order(rows: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """``rows[order]`` as int64; rows numbered consecutively (no blank rows skipped: the usual
    case) are their positions plus the first number, so the rows are not gathered."""
    rows = rows.astype("int64", copy=False)
    if order is None:
        return rows
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and bool(np.all(rows[1:] > rows[:-1])):
        return order.astype(np.int64, copy=False) + rows[0]
    return rows[order]


def _small_whole(values: np.ndarray, whole: bool) -> np.ndarray:
    """``values`` (``whole``: all whole numbers, none missing) as int16 when they lie in 0-32767
    and none is -0.0, else unchanged: equal as values, with a quarter of the bytes to move
    through a random gather."""
    if not whole or not len(values) or np.min(values) < 0 or np.max(values) > 32767 or np.signbit(values).any():
        return values
    return values.astype(np.int16)


def _counts_in_order(values: np.ndarray, order: np.ndarray | None) -> pd.arrays.IntegerArray:
    """Validated counts (whole numbers 0 to MAX_COUNT held as floats, NaN = missing) as nullable
    Int64 in ``order`` (None: as they are), gathered as the narrowest integers that hold them
    with -1 for missing (infusion numbers below 127: int8, an eighth of the bytes of the floats
    through a random gather; 0.05 s instead of 0.1-0.26 s CPU at 8 million rows)."""
    if order is None:
        return _integers(values)
    top = np.fmax.reduce(values) if len(values) else 0.0  # NaN when every value is missing
    dtype = np.int8 if not top >= 127 else np.int16 if top < 32767 else np.int32
    with np.errstate(invalid="ignore"):
        codes = values.astype(dtype)
    codes[np.isnan(values)] = -1
    codes = codes[order]
    missing = codes < 0
    data = codes.astype(np.int64)
    data[missing] = 0
    return pd.arrays.IntegerArray(data, missing, copy=False)


def _integers(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole numbers held as floats (NaN = missing) -> nullable Int64."""
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):  # NaN cast to some integer, then set to 0 (one array, not two)
        data = values.astype(np.int64)
    data[missing] = 0
    return pd.arrays.IntegerArray(data, missing, copy=False)


_TOP_CODED_AGE = re.compile(r"\s*(?:90\s*\+|>\s*89|>=\s*90|≥\s*90|90\s*(?:or|and)\s*(?:older|over|above))\s*",
                            re.IGNORECASE)
_AGE_IN_YEARS = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*(?:y|yr|yrs|year|years|yo|y/o|y\.o\.|years old)\s*", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:[.,]\d+)?(?:[eE][-+]?\d+)?")


def _plain(series: pd.Series, decimal_comma: bool = False) -> pd.Series:
    """An extra (user) column as output: numbers when every value is a plain number (no leading
    zeros, so codes like 007 stay text), else text."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in {"string", "empty"}:
            return series.astype("string")
        return series
    categories = pd.Index(series.cat.categories)
    if len(categories) and categories.inferred_type == "string" and \
            categories.str.strip().str.fullmatch(_PLAIN_NUMBER).all() and \
            (decimal_comma or not categories.str.contains(",", regex=False).any()):
        return pd.Series(_number(series, decimal_comma)[0], index=series.index, copy=False)
    return series.astype(object).where(series.notna(), None).astype("string")


def _unique_labels(values: pd.Categorical, positions: np.ndarray) -> list[str]:
    codes = np.unique(values.codes[positions])
    return [str(values.categories[c]) for c in codes if c >= 0][:1000]


def _report_missing(report: _Report, t: _Table, cols: dict[str, Any], missing: pd.Index, what: str) -> None:
    if not len(missing):
        return
    codes = cols["patient_id"].codes
    categories = cols["patient_id"].categories
    for pid in missing[:MAX_ROWS_PER_CHECK]:
        first = int(cols["source_row"][np.flatnonzero(codes == categories.get_loc(pid))[0]])
        report.add(t.raw, t.name, f"patient {pid} {what}.", column="patient_id", row=first, value=pid)
    if len(missing) > MAX_ROWS_PER_CHECK:
        report.add(t.raw, t.name, f"... and {len(missing) - MAX_ROWS_PER_CHECK} more patients that {what}.",
                   column="patient_id")


def _build_infusions(report: _Report, t: _Table, inf: dict[str, Any]) -> pd.DataFrame | None:
    if "patient_id" not in inf or "infusion_number" not in inf or "time_hours" not in inf:
        return None
    patient = inf["patient_id"]
    codes = patient.codes
    number = inf["infusion_number"]
    time_hours = inf["time_hours"]
    rows = inf["source_row"]
    usable = (codes >= 0) & ~inf["number_bad"]
    order = np.lexsort((number, codes))
    order = order[usable[order]]
    s_codes, s_number, s_time = codes[order], number[order], time_hours[order]
    new_patient = np.r_[True, s_codes[1:] != s_codes[:-1]] if len(order) else np.array([], dtype=bool)
    start = np.maximum.accumulate(np.where(new_patient, np.arange(len(order)), 0)) if len(order) else new_patient
    expected = np.arange(len(order)) - start + 1
    wrong_patients = np.unique(s_codes[s_number != expected])
    for code in wrong_patients[:MAX_ROWS_PER_CHECK]:
        numbers = s_number[s_codes == code]
        first_row = int(rows[order][s_codes == code][0])
        report.add(t.raw, t.name, f"infusion numbers of patient {patient.categories[code]} are "
                   f"{', '.join(_show(x) for x in numbers[:12])}; expected 1, 2, ... {len(numbers)} (each once, "
                   "no gaps).", column="infusion_number", row=first_row)
    if len(wrong_patients) > MAX_ROWS_PER_CHECK:
        report.add(t.raw, t.name, f"... and {len(wrong_patients) - MAX_ROWS_PER_CHECK} more patients with wrongly "
                   "numbered infusions.", column="infusion_number")
    first_not_zero = np.flatnonzero((s_number == 1) & ~np.isnan(s_time) & (np.abs(s_time) > 1e-9))
    report.add_rows(t.raw, t.name, "time_hours", rows[order][first_not_zero],
                    [(patient.categories[s_codes[i]], s_time[i]) for i in first_not_zero[:MAX_ROWS_PER_CHECK]],
                    lambda v: f"the first infusion of patient {v[0]} starts at {_show(v[1])} h; the first infusion "
                              "must start at 0 (all times are measured from it).", "first infusions not at 0")
    not_increasing = np.flatnonzero(~new_patient & (np.r_[np.inf, np.diff(s_time)] <= 0)) if len(order) else []
    report.add_rows(t.raw, t.name, "time_hours", rows[order][not_increasing],
                    [(patient.categories[s_codes[i]], s_number[i]) for i in not_increasing[:MAX_ROWS_PER_CHECK]],
                    lambda v: f"infusion {_show(v[1])} of patient {v[0]} does not start after the previous one.",
                    "infusions out of order")
    n = len(order)
    frame = pd.DataFrame({
        "patient_id": _string_series(patient[order]),
        "infusion_number": s_number.astype("int64") if n and not np.isnan(s_number).any() else
        np.nan_to_num(s_number).astype("int64"),
        "time_hours": s_time.astype("float64"),
        "dose_mg_per_kg": inf["dose_mg_per_kg"][order] if "dose_mg_per_kg" in inf else np.full(n, np.nan),
        "route": pd.Series(inf["route"][order], dtype="string") if "route" in inf
        else pd.Series(["IV"] * n, dtype="string"),
        "duration_min": inf["duration_min"][order] if "duration_min" in inf else np.full(n, np.nan),
    })
    if "route" not in inf:
        report.warn("assumed_route", f"{t.raw.name} has no route column: every infusion is taken to be IV.", n,
                    table="infusions")
    if "dose_mg_per_kg" not in inf:
        report.warn("dose_missing", f"{t.raw.name} has no dose_mg_per_kg column: doses are unknown.", n,
                    table="infusions")
    for column in inf["extras"].columns:
        if column != "patient_id":
            frame[column] = _plain(inf["extras"][column].iloc[order].reset_index(drop=True), t.raw.decimal_comma)
    return frame


def _patients(report: _Report, t: _Table) -> dict[str, Any]:
    frame, raw, name = t.frame, t.raw, t.name
    rows = _source_rows(frame)
    out: dict[str, Any] = {"source_row": rows}
    known = set(PATIENT_COLUMNS)
    missing = _require(report, raw, name, frame, ("patient_id",), known)
    if "patient_id" not in missing:
        out["patient_id"] = _patient_ids(report, t)
    if "age" in frame.columns:
        ages = frame["age"]
        if not pd.api.types.is_numeric_dtype(ages.dtype) or isinstance(ages.dtype, pd.CategoricalDtype):
            # Safe Harbor exports write the top-coded age as "90+" or ">89".
            text = ages.astype(object)
            top_coded = text.map(lambda v: isinstance(v, str) and bool(_TOP_CODED_AGE.fullmatch(v)))
            # "34 y", "51 years", "34yo": the number of years.
            text = text.map(lambda v: m.group(1) if isinstance(v, str) and (m := _AGE_IN_YEARS.fullmatch(v)) else v)
            ages = text.where(~top_coded.astype(bool), 90)
        age, bad = _number(ages, raw.decimal_comma)
        bad |= (age < 0) | (age > 120)
        where = np.flatnonzero(bad)
        report.add_rows(raw, name, "age", rows[where], _raw_values(frame["age"], where),
                        lambda v: f"age {_show(v)!r} is not a number of years between 0 and 120.", "invalid ages")
        old = np.flatnonzero(~bad & (age > 90))  # 90 itself is Safe Harbor's "90 or older" category
        if len(old):
            if report.allow_identifiers:
                report.warn("identifiers_allowed", f"{len(old)} patient(s) older than 89: ages above 89 are "
                            "identifiers under HIPAA Safe Harbor (accepted because allow_identifiers=True).",
                            len(old), table=name, rows=rows[old])
            else:
                report.add_rows(raw, name, "age", rows[old], ["9x"] * len(old),
                                lambda _: "ages above 89 identify people (HIPAA Safe Harbor): record every age of 90 "
                                          "or more as 90 (meaning 90 or older).",
                                "ages above 89")
        out["age"] = age
    if "sex" in frame.columns:
        out["sex"] = _sex(report, t)
    if "diagnosis" in frame.columns:
        out["diagnosis"] = _vocabulary(report, t, "diagnosis", DIAGNOSES, "diagnosis",
                                       empty_is_problem=False)
        labels = _text(frame["diagnosis"])
        if any(str(c) not in DIAGNOSES for c in labels.categories):
            # The label as written ("Bipolar II") is kept next to the group it was read as.
            out["diagnosis_label"] = labels
    extras = [c for c in frame.columns if c not in known and c != "source_row"]
    out["extras"] = frame[extras]
    return out


def _sex(report: _Report, t: _Table) -> pd.Categorical:
    """Sex as F/M where the label says it (female, Woman, f; 1/2 as ISO 5218 with a warning);
    other labels kept as written. The mapping's value_maps win."""
    values = _text(t.frame["sex"])
    given = report.value_maps.get("sex", {})
    mapped = [given.get(str(c)) or sex_of(str(c)) or str(c) for c in values.categories]
    numeric = [str(c) for c in values.categories if str(c) not in given and str(c).split(".")[0] in SEX_CODES]
    if numeric:
        report.warn("sex_codes", f"sex codes {', '.join(sorted(numeric))} were read as 1 = M, 2 = F (ISO 5218, CDISC); "
                    "if your file uses another coding, pass value_maps={'sex': {'1': 'F', '2': 'M'}}.",
                    int(np.isin(values.codes, [values.categories.get_loc(c) for c in values.categories
                                               if str(c) in numeric]).sum()), table="patients")
    return pd.Categorical(np.asarray(mapped + [None], dtype=object)[np.where(values.codes >= 0, values.codes,
                                                                            len(mapped))])


def _build_patients(report: _Report, t: _Table, pat: dict[str, Any]) -> pd.DataFrame | None:
    if "patient_id" not in pat:
        return None
    patient = pat["patient_id"]
    rows = pat["source_row"]
    frame = pd.DataFrame({"patient_id": _string_series(patient)})
    if "age" in pat:
        frame["age"] = pat["age"]
    if "sex" in pat:
        frame["sex"] = _string_series(pat["sex"])
    if "diagnosis" in pat:
        frame["diagnosis"] = pd.Series(pat["diagnosis"], dtype="string")
    if "diagnosis_label" in pat:
        frame["diagnosis_label"] = _string_series(pat["diagnosis_label"])
    for column in pat["extras"].columns:
        frame[column] = _plain(pat["extras"][column].reset_index(drop=True), t.raw.decimal_comma)
    duplicated = frame.duplicated("patient_id", keep=False).to_numpy() & (patient.codes >= 0)
    if duplicated.any():
        identical = frame.duplicated(keep="first").to_numpy() & duplicated
        dropped = np.flatnonzero(identical)
        frame_unique = frame.loc[~identical]
        conflicts = frame_unique.duplicated("patient_id", keep=False).to_numpy()
        for pid, group in frame_unique.loc[conflicts].groupby("patient_id", sort=True):
            positions = group.index.to_numpy()[:MAX_ROWS_PER_CHECK]
            report.add(t.raw, t.name, f"patient {pid} appears in {len(group)} rows with different values ("
                       f"{t.raw.rows_text(rows[positions])}); give one row per patient.", column="patient_id",
                       row=int(rows[positions[0]]), value=pid)
        if len(dropped):
            report.warn("identical_duplicates", f"{len(dropped)} row(s) of the patients table repeat another row "
                        f"exactly and were dropped: {t.raw.rows_text(rows[dropped], 10)}.", len(dropped),
                        table="patients", rows=rows[dropped])
        frame = frame_unique
    return frame.reset_index(drop=True)


def _baseline_warnings(report: _Report, patient_codes: np.ndarray, patient_ids: pd.Index,
                       instrument_codes: np.ndarray, instrument_names: pd.Index, time_hours: np.ndarray,
                       item: np.ndarray) -> None:
    """Warn about patients with no total-score rating at or before time 0, per instrument; the
    arrays are the kept ratings sorted by patient, instrument and time."""
    totals = np.isnan(item)
    p, i, t = patient_codes[totals], instrument_codes[totals], time_hours[totals]
    if not len(p):
        return
    starts = np.flatnonzero(np.r_[True, (p[1:] != p[:-1]) | (i[1:] != i[:-1])])
    lacking = starts[t[starts] > 0]
    for code in np.unique(i[lacking]):
        ids = [str(patient_ids[c]) for c in p[lacking][i[lacking] == code]]
        report.warn("no_baseline", f"{len(ids)} patient(s) have no {instrument_names[code]} rating at or before "
                    f"the first infusion (time 0), so no baseline: {', '.join(ids[:10])}"
                    f"{' ...' if len(ids) > 10 else ''}. They are excluded from change-from-baseline analyses.",
                    len(ids), patient_ids=ids)


def _error(report: _Report, raw: RawTable) -> DataError:
    # Whole-column and whole-file problems first, then by row; the order of checks otherwise.
    tables = {"file": 0, "assessments": 1, "infusions": 2, "patients": 3}
    ordered = sorted(report.problems, key=lambda p: (p["row"] is not pd.NA, tables.get(p["table"], 4),
                                                     0 if p["row"] is pd.NA else p["row"]))
    problems = problems_frame([{k: v for k, v in p.items() if k != "location"} for p in ordered])
    problems["location"] = [p["location"] for p in ordered]
    n = len(problems)
    headline = (f"The data cannot be loaded: {n} problem(s) found. Rows are numbered "
                f"{'' if raw.kind == 'converted' else 'as in your file '}({_numbering_note(raw)}). Nothing was loaded; fix these and load again.")
    return DataError(problems, headline=headline)
