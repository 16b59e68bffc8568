"""Tables for people: headers in words with units, values rounded as a reader expects (proportions
as %, p-values as 0.023 or <0.001, days and hours to 1 decimal, "not reached" for a median the
curve never reached), the key columns first and pinned, long text wrapped.

Only the display changes: the frame itself (what a CSV download, the report and tests read) keeps
its raw columns and values. Formatting is a pandas Styler (Streamlit shows its display values)
for tables a person reads; a long row-level table gets Streamlit's column formats instead, which
cost nothing per row.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

# Columns that say what a row is: shown first (in this order) and pinned while scrolling sideways.
KEY_COLUMNS = ("measure", "instrument", "group", "course", "phenotype", "outcome", "time_point", "visit", "method",
               "infusion_number", "reference", "covariate", "label", "term", "random_effect", "table", "row", "column")
# Raw column -> header in words, with its unit.
COLUMN_LABELS: dict[str, str] = {
    "n": "Patients", "count": "Count", "patients": "Patients", "ratings": "Ratings",
    "responders": "Responders", "n_responders": "Responders", "relapses": "Relapses",
    "n_reference": "Patients (reference)", "count_reference": "Count (reference)",
    "proportion": "Proportion", "proportion_reference": "Proportion (reference)",
    "lower": "Lower 95% CI", "upper": "Upper 95% CI", "estimate": "Estimate", "unit": "Unit",
    "p": "p", "p_value": "p", "p_fisher": "p (Fisher exact)", "hr": "Hazard ratio",
    "coef": "Coefficient (log hazard ratio)", "se": "Standard error", "z": "z",
    "odds_ratio": "Odds ratio", "risk_difference": "Risk difference",
    "median_days": "Median (days)", "km_median_days": "Median, Kaplan-Meier (days)",
    "model_median_days": "Median, parametric model (days)", "median_onset_hours": "Median onset (hours)",
    "median_followup_days": "Median follow-up (days)", "last_followup_days": "Last follow-up (days)",
    "median_infusions_to_response": "Median infusions to response",
    "mean_infusions_among_responders": "Mean infusions among responders",
    "sustained_7d": "Still responding at 7 days", "sustained_14d": "Still responding at 14 days",
    "sustained_21d": "Still responding at 21 days", "sustained_28d": "Still responding at 28 days",
    "response_probability": "Ever respond (mixture-cure)", "observed_response": "Responded (observed)",
    "responding_by_4h": "Responding by 4 h", "responding_by_24h": "Responding by 24 h",
    "first_time_hours": "First rating (hours)", "last_time_hours": "Last rating (hours)",
    "time_hours": "Time (hours since first infusion)", "time_days": "Time (days)",
    "bin_start_hours": "Bin start (hours)", "bin_end_hours": "Bin end (hours)",
    "estimator": "Estimator", "dist": "Distribution", "model_fit_distance": "Model fit distance",
    "competing_events": "Competing events", "origin": "Clock starts", "note": "Note",
    "suppressed": "Suppressed (small cell)", "zero_cell_corrected": "Zero-cell corrected",
    "time_point": "Time point", "infusion_number": "Infusion", "sd": "SD", "q1": "Lower quartile",
    "q3": "Upper quartile", "aic": "AIC", "message": "What is wrong", "value": "Value",
    "table": "Table", "row": "Row in your file", "column": "Column", "patient_id": "Patient",
    "first_dose_mg_per_kg": "First dose (mg/kg)", "dose_mg_per_kg": "Dose (mg/kg)",
    "baseline_score": "Baseline score", "peak_cadss": "Peak CADSS", "n_infusions": "Infusions",
    "age": "Age (years)", "duration_min": "Duration (min)", "n_smallest": "Patients (smaller group)",
    "term": "Model term", "label": "Effect", "random_effect": "Random effect",
    "correlation": "Correlation with the intercept",
}
_UNITS = {"days": "days", "d": "days", "hours": "hours", "h": "hours", "min": "min", "pct": "%",
          "years": "years"}
_TIME_UNITS = ("_days", "_hours", "_min")
_PROPORTION = re.compile(r"(proportion|probability|^(km_)?sustained_|^observed_response|^responding_by|"
                         r"^risk_difference|_rate$|^rate$)")
# Above this many rows, formats per column (free) instead of a Styler (a cost per cell).
STYLED_ROWS = 2000
# Text longer than this many characters makes the rows taller, so it wraps instead of being cut.
WRAP_CHARACTERS = 40
_LINE_PX, _ROW_PADDING_PX, _MIN_WRAP_ROW_PX, _MAX_ROW_PX = 21, 10, 66, 260  # Streamlit wraps above 4rem
# A header's pixels a character (the grid's 14 px semibold header font, wide letters included) and
# its padding with the sort arrow: headers are never cut (checked in a browser, tests/e2e).
HEADER_PX, HEADER_PADDING_PX = 7.6, 34
MISSING = "–"


def column_label(name: Any) -> str:
    """The header of a raw column in words, with its unit ('median_days_lower' -> 'Median (days),
    lower 95% CI'); unknown names are humanised ('n_series_infusions' -> 'N series infusions')."""
    text = str(name)
    if text in COLUMN_LABELS:
        return COLUMN_LABELS[text]
    for bound, words in (("_lower", "lower 95% CI"), ("_upper", "upper 95% CI")):
        if text.endswith(bound) and len(text) > len(bound):
            return f"{column_label(text.removesuffix(bound))}, {words}"
    parts = text.split("_")
    unit = ""
    if len(parts) > 1 and parts[-1] in _UNITS:
        unit = _UNITS[parts.pop()]
    elif text.endswith("_mg_per_kg"):
        parts, unit = text.removesuffix("_mg_per_kg").split("_"), "mg/kg"
    words = " ".join(p for p in parts if p)
    words = words[:1].upper() + words[1:] if words else text
    return f"{words} ({unit})" if unit else words


def key_first(columns: Sequence[Any]) -> list[str]:
    """Column names with the key columns (KEY_COLUMNS) first, the others in their order."""
    names = [str(c) for c in columns]
    # a row's label in words makes its code name ('term') a detail shown after the estimates
    keys = [c for c in KEY_COLUMNS if c in names and not (c == "term" and "label" in names)]
    return keys + [c for c in names if c not in keys]


def _is_p_value(name: str) -> bool:
    return name in ("p", "p_value") or name.startswith("p_") or name.endswith("_p")


def _base(name: str) -> str:
    return re.sub(r"_(lower|upper)$", "", name)


def _kind(name: str, column: pd.Series, frame: pd.DataFrame) -> str:
    """How a column's values read: p, proportion, median, time, count, ratio, number, bool or text."""
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if not pd.api.types.is_numeric_dtype(column):
        return "text"
    base = _base(name)
    if _is_p_value(name):
        return "p"
    if _PROPORTION.search(base) or (base in ("lower", "upper") and "proportion" in frame.columns):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size == 0 or (finite.min() >= -1 and finite.max() <= 1):
            return "proportion"
    if "median" in base:
        return "median"
    if base.endswith(_TIME_UNITS) or base in ("time_hours", "time_days"):
        return "time"
    if base in ("hr", "odds_ratio") or base.endswith(("_ratio", "_hr")):
        return "ratio"
    if pd.api.types.is_integer_dtype(column) or base in ("n", "count", "patients", "responders", "relapses") \
            or base.startswith("n_") or base.endswith(("_count", "_total")):
        return "count"
    return "number"


def p_value_text(value: Any) -> str:
    """0.023, 0.41 or <0.001 (a p-value as papers print it)."""
    if value is None or pd.isna(value):
        return MISSING
    p = float(value)
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def _number(decimals: int, missing: str = MISSING) -> Callable[[Any], str]:
    def text(value: Any) -> str:
        if value is None or pd.isna(value):
            return missing
        number = float(value)
        if math.isinf(number):
            return "not estimable"
        shown = f"{number:,.{decimals}f}"
        return shown.removeprefix("-") if shown.startswith("-") and not shown.strip("-0.,") else shown  # not -0.0
    return text


def _percent(value: Any) -> str:
    if value is None or pd.isna(value):
        return MISSING
    return f"{100 * float(value):.1f}%"


def _count(value: Any) -> str:
    if value is None or pd.isna(value):
        return MISSING
    return f"{float(value):,.0f}"


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(value)):
        return MISSING
    return str(value)


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "p": p_value_text, "proportion": _percent, "median": _number(1, "not reached"), "time": _number(1),
    "ratio": _number(2), "count": _count, "number": _number(2), "bool": lambda v: "yes" if v is True or v == 1
    else ("no" if v is False or v == 0 else MISSING), "text": _text,
}
# The same rules as Streamlit formats, for long tables (no "not reached": missing shows the placeholder).
_COLUMN_FORMATS = {"p": "%.3f", "proportion": "percent", "median": "%.1f", "time": "%.1f", "ratio": "%.2f",
                   "count": "%,d", "number": "%.2f"}


def _row_units(frame: pd.DataFrame) -> pd.Series | None:
    """A table whose rows carry their own unit (the headline figures: one row a proportion, the next
    hours): True for the rows in proportion."""
    if "unit" not in frame.columns:
        return None
    return frame["unit"].astype(str).str.startswith("proportion")


def _row_height(frame: pd.DataFrame, text_columns: Sequence[str]) -> int | None:
    """Rows tall enough for the longest text to wrap (at ~WRAP_CHARACTERS a line), or None."""
    longest = 0
    for name in text_columns:
        lengths = frame[name].astype(str).str.len()
        if len(lengths):
            longest = max(longest, int(lengths.max()))
    if longest <= WRAP_CHARACTERS:
        return None
    lines = math.ceil(longest / WRAP_CHARACTERS)
    return int(min(_MAX_ROW_PX, max(_MIN_WRAP_ROW_PX, lines * _LINE_PX + _ROW_PADDING_PX)))


# standard deviations and errors: never the estimate an interval belongs to
SPREAD_COLUMNS = frozenset({"sd", "se", "mc_se"})


def _ci_columns(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Estimate column -> its (lower, upper) 95% CI columns: 'hr' -> ('hr_lower', 'hr_upper'); bounds
    without a namesake ('lower', 'proportion_lower') belong to the estimate just before them, never
    to a spread ('mean', 'sd', 'se', 'lower', 'upper': the interval is the mean's) nor to a p-value
    (a fixed-effects table's estimate, se, df, statistic, p, lower, upper: the estimate's)."""
    numeric = {n for n in names if pd.api.types.is_numeric_dtype(frame[n]) and not pd.api.types.is_bool_dtype(frame[n])}
    bounds = {n for n in names if n.endswith(("lower", "upper"))} | {n for n in names if n in SPREAD_COLUMNS}
    pairs: dict[str, tuple[str, str]] = {}
    for lower in names:
        stem = lower.removesuffix("lower")
        upper = stem + "upper"
        if not lower.endswith("lower") or upper not in names or not {lower, upper} <= numeric:
            continue
        base = stem.rstrip("_")
        before = [n for n in names[:names.index(lower)]
                  if n not in bounds and n not in pairs and not _is_p_value(n)]  # a p-value has no CI
        if base in names and base not in bounds:
            estimate = base
        elif not base and "estimate" in before:  # bare bounds of a table with an estimate column
            estimate = "estimate"
        else:
            estimate = before[-1] if before else None
        if estimate in numeric and estimate not in pairs:
            pairs[estimate] = (lower, upper)
    return pairs


def ci_label(label: str) -> str:
    """'Hazard ratio' -> 'Hazard ratio (95% CI)'; 'Median (days)' -> 'Median (days, 95% CI)'."""
    return f"{label[:-1]}, 95% CI)" if label.endswith(")") else f"{label} (95% CI)"


def _with_ci(values: pd.DataFrame, estimate: str, lower: str, upper: str) -> pd.Series:
    """'0.62 (0.41–0.93)' per row from the display texts of an estimate and its bounds; 'to' where
    a bound is negative ('-7.94 (-8.63 to -7.25)', not '-8.63--7.25')."""
    # (as text: the columns of a table without rows hold no strings)
    low, high, middle = (values[c].astype(str) for c in (lower, upper, estimate))
    negative = low.str.startswith("-") | high.str.startswith("-")
    bounds = low + np.where(negative, " to ", "–") + high
    missing = (low == MISSING) & (high == MISSING)
    return middle.where(missing, middle + " (" + bounds + ")")


def _width(label: str, longest_value: int, widest: int = 180) -> int:
    """Pixels for a column: its whole header (never cut: HEADER_PX a character and the header's
    padding) and its longest value up to ``widest`` px (a longer value is cut, its text in the cell's
    tooltip), at least 56 px."""
    header = math.ceil(HEADER_PX * len(label) + HEADER_PADDING_PX)
    value = min(widest, 7 * longest_value + 20)
    return int(max(56, header, value))


def same_on_every_row(frame: pd.DataFrame) -> dict[str, str]:
    """Raw column -> its display text, for the columns a table of two rows or more holds the same
    value in on every row (dataset totals beside per-instrument counts, one distribution for every
    group): said once under the table instead of a column each (``display_options`` leaves them
    out of the columns shown; the data and the CSV keep them). Key columns, estimates with their
    bounds and p-values always stay."""
    if len(frame) < 2 or len(frame) > STYLED_ROWS or frame.columns.has_duplicates:
        return {}
    names = [str(c) for c in frame.columns]
    frame = frame.set_axis(names, axis=1)
    paired = {n for pair in _ci_columns(frame, names).items() for n in (pair[0], *pair[1])}
    shared = {}
    for name in names:
        if name in KEY_COLUMNS or name in paired or _is_p_value(name):
            continue
        column = frame[name]
        try:
            same = column.nunique(dropna=False) == 1
        except TypeError:  # unhashable values (lists): never the same
            same = False
        if same:  # an empty text column is left out without a word
            shared[name] = _FORMATTERS[_kind(name, column, frame)](column.iloc[0])
    return shared


def shared_values_note(frame: pd.DataFrame, *, shared: Mapping[str, str] | None = None) -> str | None:
    """'Same on every row: Patients total 300; Clock time yes.' for ``same_on_every_row(frame)``
    (``shared``, when the caller has it already), or None."""
    if shared is None:
        shared = same_on_every_row(frame)
    if not shared:
        return None
    # an empty or missing value on every row is left out without a word (not "Patients –")
    said = [f"{column_label(n)} {v}" for n, v in shared.items() if v.strip() not in {"", MISSING}]
    return "Same on every row: " + "; ".join(said) + "." if said else None


@dataclass(frozen=True)
class _Layout:
    """What ``display_options`` works out for a table, from its content: whether the index becomes
    columns (``reset_index``, the index then hidden), the texts of the estimate (95% CI) columns
    (in row order), whether it is styled, the formats per column, the rows in proportion and their
    columns (a table whose rows carry their unit), column_config, column_order and row_height.
    Never the data: the Styler is made anew over the caller's frame (Streamlit's drawing changes a
    Styler), so what is shown and sorted is always the caller's values."""

    reset_index: bool
    texts: Mapping[str, np.ndarray]
    styled: bool
    formats: Mapping[str, Callable[[Any], str]]
    proportion_rows: tuple[np.ndarray, list[str]] | None
    config: Mapping[str, Any]
    order: Sequence[str]
    row_height: int | None


# display_options' layouts of styled tables by content (a warm run shows the same results: each
# table is laid out once, not on every run); least recently used first, at most LAYOUTS_KEPT
LAYOUTS_KEPT = 256
_LAYOUTS: OrderedDict[tuple, _Layout] = OrderedDict()
_LAYOUTS_LOCK = threading.Lock()


def _content_key(frame: pd.DataFrame, help_text: Mapping[str, str] | None,
                 shared: Mapping[str, str] | None) -> tuple | None:
    """What display_options' result depends on: the columns, dtypes, index and every value (a hash
    per row, index included), ``help_text`` and ``shared``; None for a long table (not styled: laid
    out at no cost per row), repeated column names or values that cannot be hashed (lists)."""
    if len(frame) > STYLED_ROWS or frame.columns.has_duplicates:
        return None
    try:
        rows = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    except TypeError:
        return None
    # hashes of objects are hashes of their text (1 and '1' alike): their kinds tell mixed columns apart
    kinds = tuple(pd.api.types.infer_dtype(frame[c], skipna=False) if frame[c].dtype == object else ""
                  for c in frame.columns)
    return (tuple(map(repr, frame.columns)), tuple(map(str, frame.dtypes)), kinds, type(frame.index).__name__,
            tuple(map(repr, frame.index.names)), rows, tuple(sorted((help_text or {}).items())),
            None if shared is None else tuple(shared.items()))


def display_options(frame: pd.DataFrame, *, help_text: dict[str, str] | None = None,
                    shared: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments of st.dataframe that show ``frame`` for people at 800 px as at 1440 px (``data``
    a Styler, or the frame itself when long; ``column_config`` with headers in words and narrow widths
    fitted to the values; ``column_order``: key columns first, then each estimate with its 95% CI in
    one column ('HR (95% CI)', medians first) and the p-values, the other columns, long text last,
    wrapped, headers never cut, and no column for a value the same on every row (``shared_values_note`` says it once);
    ``row_height`` when text must wrap; ``placeholder`` for missing values; ``hide_index`` when
    the index became a column). The raw columns stay in the data (a CSV download uses the frame itself).
    ``shared``: ``same_on_every_row(frame)`` when the caller has it already (for ``shared_values_note``)."""
    key = _content_key(frame, help_text, shared)
    with _LAYOUTS_LOCK:
        layout = _LAYOUTS.get(key) if key is not None else None
        if layout is not None:
            _LAYOUTS.move_to_end(key)
    if layout is None:
        layout = _layout(frame, help_text, shared)
        if key is not None:
            with _LAYOUTS_LOCK:
                _LAYOUTS[key] = layout
                while len(_LAYOUTS) > LAYOUTS_KEPT:
                    _LAYOUTS.popitem(last=False)
    data: Any = frame.reset_index() if layout.reset_index else frame
    names = [str(c) for c in data.columns]
    data = data.set_axis(names, axis=1) if list(data.columns) != names else data
    if layout.texts:
        data = data.assign(**layout.texts)
    if layout.styled:
        data = data.style.format(layout.formats)
        if layout.proportion_rows is not None:
            rows, subset = layout.proportion_rows
            data = data.format(_percent, subset=pd.IndexSlice[rows, subset])
            data = data.format(_number(1, "not reached"), subset=pd.IndexSlice[~rows, subset])
    # copies: callers change the options (show_problems_table), never the layout kept
    options: dict[str, Any] = {"data": data, "column_config": dict(layout.config),
                               "column_order": list(layout.order), "placeholder": MISSING}
    if layout.row_height is not None:
        options["row_height"] = layout.row_height
    if layout.reset_index:
        options["hide_index"] = True
    return options


def _layout(frame: pd.DataFrame, help_text: Mapping[str, str] | None,
            shared: Mapping[str, str] | None) -> _Layout:
    """display_options' work (see there), done once per table content."""
    hide_index, index_keys = None, []
    if not isinstance(frame.index, pd.RangeIndex) and all(frame.index.names):
        index_keys = [] if "label" in frame.columns else [str(n) for n in frame.index.names]
        # a named index (a model's 'term') becomes a column with its header in words; a row's label
        # in words makes that code name a detail, shown after the estimates instead of pinned first
        frame, hide_index, shared = frame.reset_index(), True, None  # new columns: ``shared`` looked for again
    names = [str(c) for c in frame.columns]
    frame = frame.set_axis(names, axis=1) if list(frame.columns) != names else frame
    kinds = {name: _kind(name, frame[name], frame) for name in names}
    styled = len(frame) <= STYLED_ROWS
    # said under the table (show_table), not a column each
    said_below = set(same_on_every_row(frame) if shared is None else shared)
    text_lengths = {n: int(frame[n].astype(str).str.len().max()) if len(frame) else 0
                    for n, k in kinds.items() if k == "text" and n not in said_below}
    long_text = [n for n, length in text_lengths.items() if length > WRAP_CHARACTERS and n not in KEY_COLUMNS]
    row_height = _row_height(frame, list(text_lengths))
    formats = {name: _FORMATTERS[kind] for name, kind in kinds.items()}
    in_proportion = _row_units(frame)
    values: pd.DataFrame | None = None  # the display texts (styled tables only)
    if styled:
        values = pd.DataFrame({n: frame[n].map(formats[n]) for n in names}, index=frame.index)
        if in_proportion is not None and in_proportion.any():
            for name in (c for c in ("estimate", "lower", "upper") if c in names):
                values[name] = frame[name].map(_percent).where(in_proportion, frame[name].map(_number(1, "not reached")))
    pairs = _ci_columns(frame, names) if styled else {}
    # a row's label in words makes its code name ('term') a detail shown after the estimates
    keys = index_keys + [c for c in KEY_COLUMNS if c in names and c not in index_keys
                         and not (c == "term" and "label" in names)]
    estimates = sorted(pairs, key=lambda n: "median" not in n)  # medians first (stable)
    p_values = [n for n in names if kinds[n] == "p" and n not in keys]
    shown_elsewhere = set(keys) | set(pairs) | {b for bounds in pairs.values() for b in bounds} | set(p_values)
    rest = [n for n in names if n not in shown_elsewhere and n not in long_text and n not in said_below]
    combined = {estimate: f"{estimate} (95% CI)" for estimate in estimates}
    order = keys + [combined[e] for e in estimates] + p_values + rest \
        + [n for n in long_text if n not in keys and n not in said_below]
    config: dict[str, Any] = {}
    for name, kind in kinds.items():
        label = column_label(name)
        pinned = (name in keys and name in names[:6] and len(names) > 4) or None
        tip = (help_text or {}).get(name, name if label != name else None)
        longest = (int(values[name].str.len().max()) if values is not None and len(frame) else 0)
        width: Any = "large" if name in long_text and row_height else _width(label, longest, 220 if name in keys else 180)
        if styled or kind in ("text", "bool"):
            config[name] = st.column_config.Column(label, help=tip, pinned=pinned, width=width)
        else:
            config[name] = st.column_config.NumberColumn(label, help=tip, pinned=pinned, width=width,
                                                         format=_COLUMN_FORMATS.get(kind))
    texts: dict[str, np.ndarray] = {}
    if styled and values is not None and pairs:  # one text column per estimate and its CI (shown instead of the three)
        texts = {combined[e]: _with_ci(values, e, *pairs[e]).to_numpy() for e in estimates}
        for estimate in estimates:
            label = ci_label(column_label(estimate))
            tip = (help_text or {}).get(estimate, f"{estimate} ({', '.join(pairs[estimate])})")
            config[combined[estimate]] = st.column_config.Column(
                label, help=tip, width=_width(label, max((len(t) for t in texts[combined[estimate]]), default=0)))
    proportion_rows = None
    if styled and in_proportion is not None and in_proportion.any():
        proportion_rows = (in_proportion.to_numpy(), [c for c in ("estimate", "lower", "upper") if c in names])
    return _Layout(bool(hide_index), texts, styled, formats if styled else {}, proportion_rows, config, order,
                   row_height)


def show_problems_table(problems: pd.DataFrame, key: str | None = None) -> None:
    """DataError.problems as a table that a person reads at 800 px: the message first, wrapped (never
    cut), rows as numbered in the user's file, nothing shown as None."""
    frame = problems.reset_index(drop=True)
    # The location in words ("row 2 of sheet 'CADSS' of clinic.xlsx (spreadsheet row 3; patient
    # K1)") beside the message, wide enough to read without scrolling.
    order = [c for c in ("message", "location", "table", "row", "column", "value") if c in frame.columns]
    frame = frame[order + [c for c in frame.columns if c not in order]]
    options = display_options(frame)
    options["column_order"] = list(frame.columns)
    options["column_config"]["message"] = st.column_config.Column(COLUMN_LABELS["message"], width="large")
    if "location" in frame.columns:
        options["column_config"]["location"] = st.column_config.Column("Where in the file", width="medium")
        for column in ("table", "row", "column"):  # said by the location: not pinned before the message
            if column in options["column_config"]:
                options["column_config"][column] = {**options["column_config"][column], "pinned": False}
    longest = int(frame["message"].astype(str).str.len().max()) if "message" in frame and len(frame) else 0
    if longest:  # the message column is ~half the table at 800 px: wrap at fewer characters
        lines = math.ceil(longest / (WRAP_CHARACTERS - 5))
        options["row_height"] = int(min(_MAX_ROW_PX, max(_MIN_WRAP_ROW_PX, lines * _LINE_PX + _ROW_PADDING_PX)))
    st.dataframe(hide_index=True, key=key, alt="Problems found in the data", **options)
