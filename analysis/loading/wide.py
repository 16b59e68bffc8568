"""The wide layout: one column per time point, instrument and/or item.

Headers are read as an instrument (any registry name or alias) followed or preceded by a time
label and/or an item number, in the forms clinics write: ``MADRS 4h``, ``madrs_day7``,
``MADRS D14``, ``bdi.2m``, ``BDI_wk2``, ``HAMD_w3``, ``madrs_1`` ... ``madrs_10`` (items),
``cadss_pre`` / ``cadss_post``, ``MADRS_baseline``, ``baseline_madrs``, ``madrs_3_day7``.
A header with an instrument and neither a time nor an item is a total score whose time comes from
the row (a long-over-time, wide-over-instruments file). A header naming a date and one of those
times (``date_day7``, ``day7_date``, ``visit date baseline``, ``MADRS_day7_date``) is the date of
those ratings (:func:`visit_date_columns`); one naming an infusion of a series and its date, dose
or route (``infusion1_date``, ``Date of infusion 2``, ``inf2_dose``) describes that infusion
(:func:`infusion_columns`).

:func:`melt_wide` turns such a table into the long form (one row per rating), vectorised: each
wide column is one block of the output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.instruments import get_instrument, resolve_instrument_names
from analysis.loading.times import PRE_INFUSION_HOURS, parse_infusion_label, parse_visit_label
from analysis.loading.vocabularies import key, split_remark

__all__ = ["WideHeader", "derived_from_ratings", "infusion_columns", "is_name_digits", "melt_wide",
           "parse_wide_header", "session_numbers", "unknown_scale", "visit_date_columns"]


@dataclass(frozen=True)
class WideHeader:
    """What a wide header says: instrument, time label (None: from the row), item (None: total)."""

    instrument: str
    time_label: str | None
    hours: float | None
    item: int | None


_TOTAL_WORDS = {"total", "tot", "score", "sum", "totalscore"}
_ITEM = re.compile(r"(?:item|itm|i|q|question)?(\d{1,2})", re.I)


def _tokens(header: object) -> list[str]:
    """A header's words, split at spaces, underscores and dots ("MADRS_day7" -> MADRS, day7)."""
    return [t for t in re.split(r"[\s_.]+", str(header).strip()) if t]


def _instrument(token: str) -> str | None:
    return resolve_instrument_names([token]).get(token)


# Words of a column the clinic derived from its ratings ('MADRS % change day 7', 'madrs_chg_wk2',
# 'MADRS responder'): not a rating (the toolkit derives changes and responses itself).
_DERIVED_WORDS = frozenset({"change", "changes", "chg", "cfb", "pct", "percent", "percentage", "improvement",
                            "improved", "reduction", "delta", "diff", "difference", "response", "responder",
                            "remission", "remitter", "remitted", "ratio"})


def _says_derived(tokens: list[str]) -> bool:
    return any("%" in t or t.lower() in _DERIVED_WORDS for t in tokens)


def derived_from_ratings(header: str) -> bool:
    """Whether a header names an instrument and a quantity derived from its ratings (a change, a
    percentage, a response), so that the column is not read as ratings."""
    tokens = _tokens(header)
    return _says_derived(tokens) and _named_instrument(tokens) is not None


def unknown_scale(header: str) -> str | None:
    """The scale a header names with a time point when the registry does not know it ('GAF day 7',
    'YMRS_wk2', 'CGI-S 4h': an abbreviation in capitals, then a time), else None: such columns
    are kept as patient columns unless the scale is registered (analysis.register_instrument)."""
    tokens = _tokens(header)
    if len(tokens) < 2 or not re.fullmatch(r"[A-Z][A-Z0-9+\-]{1,9}", tokens[0]) or _named_instrument(tokens):
        return None
    return tokens[0] if parse_visit_label(" ".join(tokens[1:])) is not None else None


def _named_instrument(tokens: list[str]) -> tuple[str, list[str]] | None:
    """(instrument, the other tokens) when the first or last words of a header name an instrument."""
    for size in (1, 2):  # "HAM D17" split by a space needs two tokens
        head, tail = "".join(tokens[:size]), tokens[size:]
        if len(tokens) >= size and (found := _instrument(head)) is not None:
            return found, tail
        back, front = "".join(tokens[-size:]), tokens[:-size]
        if len(tokens) > size and (found := _instrument(back)) is not None:
            return found, front
    if tokens:  # glued: "madrs4h", "bdi2m"
        glued = re.fullmatch(r"([A-Za-z][A-Za-z\-]*?)-?(\d.*)", tokens[0])
        if glued and (found := _instrument(glued.group(1))) is not None and _instrument(tokens[0]) is None:
            return found, [glued.group(2), *tokens[1:]]
    return None


def parse_wide_header(header: str) -> WideHeader | None:
    """The instrument, time and item a header names; None when it names no instrument, or names
    a quantity derived from the ratings (:func:`derived_from_ratings`).

    >>> parse_wide_header("madrs_day7")
    WideHeader(instrument='MADRS', time_label='day7', hours=168.0, item=None)
    """
    tokens = _tokens(header)
    named = _named_instrument(tokens)
    if named is None or _says_derived(tokens):
        return None
    instrument, rest = named
    rest = [t for t in rest if t.lower() not in _TOTAL_WORDS]
    if not rest:
        return WideHeader(instrument, None, None, None)
    n_items = get_instrument(instrument).n_items
    whole = parse_visit_label(" ".join(rest))
    if whole is not None:  # (the label kept without a remark, which can hold a date: 'Day 7 (3/11)' is 'Day 7')
        return WideHeader(instrument, split_remark(" ".join(rest))[0], whole[0], None)
    for position, token in enumerate(rest):
        match = _ITEM.fullmatch(token)
        if not match or not 1 <= int(match.group(1)) <= n_items:
            continue
        item = int(match.group(1))
        remaining = rest[:position] + rest[position + 1:]
        if not remaining:
            return WideHeader(instrument, None, None, item)
        parsed = parse_visit_label(" ".join(remaining))
        if parsed is not None:
            return WideHeader(instrument, " ".join(remaining), parsed[0], item)
    return WideHeader(instrument, " ".join(rest), None, None)


def is_name_digits(header: str, parsed: WideHeader) -> bool:
    """True when a header such as ``PHQ_9`` or ``GAD 7`` could be the instrument's own name
    (a total score) rather than its item: the caller decides from the sibling columns."""
    if parsed.item is None or parsed.time_label is not None:
        return False
    squashed = re.sub(r"[\s_.\-]+", "", str(header)).upper()
    return squashed == re.sub(r"[\s_.\-]+", "", parsed.instrument).upper()


def session_numbers(patients: pd.Series, numbers: pd.Series) -> np.ndarray | None:
    """The infusion number of each row (float, NaN where empty) when the sheet is a session log:
    a row per infusion ('Session #' 1, 2, 3 for one patient), so that its headers' times ('MADRS
    pre', 'MADRS post') count from the row's infusion; None for any other sheet."""
    values = pd.to_numeric(numbers.astype("string").str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    sessions = pd.DataFrame({"patient": patients.to_numpy(), "number": values}).dropna()
    return values if (sessions.groupby("patient", sort=False)["number"].nunique() > 1).any() else None


def melt_wide(frame: pd.DataFrame, columns: dict[str, tuple[str, object, int | None]],
              keep: list[str]) -> pd.DataFrame:
    """Wide -> long: one row per (source row, wide column) with a value.

    columns : source column -> (instrument, time (hours, a label, or None = from the row), item).
    keep : columns repeated on every output row (patient id, covariates, a row time or visit).
    Returns the long frame with ``instrument``, ``item``, ``score``, ``wide_time`` (object: hours
    or label or None), ``wide_column`` and ``source_row`` plus ``keep``; rows with an empty cell
    are left out.
    """
    wide = list(columns)
    blocks = []
    for column in wide:
        values = frame[column]
        present = values.notna().to_numpy().copy()
        if values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == "string":
            text = values.astype("string").str.strip()
            present &= (text.fillna("") != "").to_numpy()
        blocks.append(np.flatnonzero(present))
    counts = np.array([len(b) for b in blocks], dtype=np.int64)
    rows = np.concatenate(blocks) if blocks else np.array([], dtype=np.int64)
    which = np.repeat(np.arange(len(wide)), counts)
    out = {c: frame[c].iloc[rows].reset_index(drop=True) for c in keep}
    scores = pd.concat([frame[c].iloc[b].astype(object) for c, b in zip(wide, blocks, strict=True)],
                       ignore_index=True) if len(rows) else pd.Series([], dtype=object)
    spec = [columns[c] for c in wide]
    out["instrument"] = pd.Series(np.asarray([s[0] for s in spec] + [None], dtype=object)[which])
    out["item"] = pd.Series(np.asarray([np.nan if s[2] is None else float(s[2]) for s in spec] + [np.nan])[which])
    out["score"] = scores
    out["wide_time"] = pd.Series(np.asarray([s[1] for s in spec] + [None], dtype=object)[which])
    out["wide_column"] = pd.Series(np.asarray(wide + [None], dtype=object)[which])
    out["source_row"] = frame["source_row"].to_numpy()[rows] if "source_row" in frame else rows + 1
    return pd.DataFrame(out, copy=False)


_DATE_WORDS = {"date", "dt", "datum", "fecha", "datetime", "visit", "of", "on", "rating", "assessment", "start"}
_DATE_WORD = {"date", "dt", "datum", "fecha", "datetime"}


def _dated(header: object) -> str | None:
    """What a header names besides a date ("day7" of "date_day7", "infusion 2" of "Date of
    infusion 2"); None when it names no date, or nothing else."""
    tokens = _tokens(header)
    rest = [t for t in tokens if t.lower() not in _DATE_WORDS]
    if not rest or len(rest) == len(tokens) or not any(t.lower() in _DATE_WORD for t in tokens):
        return None
    return " ".join(rest)


def visit_date_columns(headers: list[str], columns: dict[str, tuple[str, object, int | None]]) -> dict[str, list[str]]:
    """Date columns among ``headers`` that date wide columns: header -> the wide columns (of
    ``columns``, see :func:`melt_wide`) it dates. A date header names a date word ("date", "dt")
    and a time the wide headers use, said the same way or meaning the same hours ("date_day7" dates
    "MADRS_day7" and "QIDS day 7"); naming an instrument too ("MADRS_day7_date") restricts it to
    that instrument's columns."""
    out = {}
    for header in headers:
        rest = _dated(header)
        if rest is None:
            continue
        named = parse_wide_header(rest)
        instrument = named.instrument if named is not None else None
        label = named.time_label if named is not None else rest
        if label is None:
            continue
        parsed = parse_visit_label(label)
        hours = parsed[0] if parsed is not None else None
        dated = [c for c, (inst, time, _) in columns.items() if instrument in (None, inst)
                 and ((hours is not None and isinstance(time, (int, float)) and abs(float(time) - hours) < 1e-9)
                      or (isinstance(time, str) and key(time) == key(label)))]
        if dated:
            out[str(header)] = dated
    return out


_DOSE_WORDS = {"dose", "dosage", "ketamine_dose"}
_PER_KG = {"mg/kg", "mgkg", "(mg/kg)", "mg_kg", "perkg", "mg/kg)"}
_MG = {"mg", "(mg)", "mg)"}
_DURATION_WORDS = {"duration", "length"}
_MINUTES = {"min", "mins", "minutes", "(min)", "min)", "(minutes)", "minutes)"}


def infusion_columns(headers: list[str]) -> dict[str, tuple[int, str]]:
    """Columns among ``headers`` describing one infusion of a series: header -> (the infusion's
    number, the infusions column it holds: ``infusion_date``, ``dose_mg_per_kg``, ``dose_mg``,
    ``route`` or ``duration_min``). "infusion1_date", "Date of infusion 2", "inf2_dose" (mg/kg
    unless the header says mg), "Infusion 3 dose (mg)", "inf1_route", "Infusion 2 duration (min)"."""
    out = {}
    for header in headers:
        tokens = _tokens(header)
        lowered = [t.lower() for t in tokens]
        if any(t in _DATE_WORD for t in lowered):
            role, rest = "infusion_date", _dated(header)
        elif any(t in _DOSE_WORDS for t in lowered):
            per_kg = any(t in _PER_KG or t.strip("()") == "kg" for t in lowered)
            role = "dose_mg" if any(t in _MG for t in lowered) and not per_kg else "dose_mg_per_kg"
            rest = " ".join(t for t, low in zip(tokens, lowered, strict=True)
                            if low not in _DOSE_WORDS | _PER_KG | _MG | {"of", "per", "kg"})
        elif "route" in lowered:
            role, rest = "route", " ".join(t for t, low in zip(tokens, lowered, strict=True) if low not in {"route", "of"})
        elif any(t in _DURATION_WORDS for t in lowered):
            role, rest = "duration_min", " ".join(t for t, low in zip(tokens, lowered, strict=True)
                                                  if low not in _DURATION_WORDS | _MINUTES | {"of", "in"})
        else:
            continue
        relative = parse_infusion_label(rest) if rest else None
        if relative is not None and relative[1] == PRE_INFUSION_HOURS:  # names the infusion alone
            out[str(header)] = (relative[0], role)
    return out
