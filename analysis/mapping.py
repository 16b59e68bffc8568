"""How a source is read: the :class:`Mapping`, and :func:`suggest_mapping` that guesses one.

A mapping says everything the reading needs beyond the file itself: the layout, which source
column plays which contract role, the instrument when the file names none, the unit of the time
column, the time of each visit label, the sheet, value maps and record filters, and for a wide
file what every wide column holds. It is a frozen value saved as JSON, so a clinic maps its
export once and reuses the file::

    mapping = analysis.suggest_mapping("export.xlsx")
    print("\\n".join(mapping.describe()))
    mapping = mapping.replace(instrument="BDI-II")
    Path("export.mapping.json").write_text(mapping.to_json())
    data = analysis.load("next_month.xlsx", mapping=analysis.Mapping.from_json("export.mapping.json"))
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.contract import CONTRACT, DataError, problems_frame

__all__ = ["FILTER_OPERATORS", "LAYOUTS", "ROLES", "TIME_UNITS", "Mapping", "suggest_mapping"]

LAYOUTS = ("long", "wide", "cdisc", "redcap")
TIME_UNITS = ("minutes", "hours", "days", "weeks", "months")
# Record filters: (column, operator, value). "empty" / "not empty" take no value (use "").
FILTER_OPERATORS = ("==", "!=", "in", "not in", "empty", "not empty")
# Roles a source column can play: every contract column name, "time" (unit in time_unit),
# "covariate" (kept on the patients table), "ignore" (not read).
ROLES = tuple(dict.fromkeys([s.name for s in CONTRACT if s.name != "source_row"]
                            + ["time", "time_min", "diagnosis_label", "covariate", "ignore"]))
_FORMAT_VERSION = 1


def _mapping_error(message: str) -> DataError:
    return DataError(problems_frame([{"table": "mapping", "row": pd.NA, "column": "", "value": "",
                                      "message": message}]), headline="The mapping is not valid.")


@dataclass(frozen=True)
class Mapping:
    """Everything needed to read one source into the data contract.

    layout : "long" (one row per rating), "wide" (columns per time point, instrument or item),
        "cdisc" (SDTM/ADaM), "redcap" (records export with its data dictionary).
    columns : role -> source column, roles being contract column names (``patient_id``,
        ``instrument``, ``score``, ``item``, ``visit``, ``visit_number``, ``infusion_number``,
        ``time_hours``/``time_minutes``/``time_days``/``time_weeks``/``time_months``,
        ``study_day`` (CDISC: day 1 = first dose, no day 0), ``elapsed_iso`` (ISO 8601 durations),
        ``baseline_score`` (a baseline held as a column), ``dose_mg_per_kg``, ``dose_mg``,
        ``weight_kg``, ``route``, ``age``, ``sex``, ``diagnosis``, ``event``, ``detail``, or
        ``time`` with its unit in ``time_unit``).
    instrument : the instrument of every rating when the file names none (e.g. "BDI-II").
    time_unit : unit of the ``time`` role: minutes, hours, days, weeks or months (a month is
        30.4375 days).
    visit_times : visit label (or REDCap event name) -> hours since the start of the first
        infusion; wins over labels parsed from their text ("day 7" = 168 h).
    sheet : worksheet of an Excel file (name or 0-based position); None = found automatically.
    value_maps : column role -> {label as written: contract value}, applied before the
        vocabularies (e.g. ``{"diagnosis": {"Schizoaffective": "other"}, "sex": {"1": "F"}}``).
    record_filters : rows kept, as (column, operator, value) with operators ``==``, ``!=``,
        ``in``, ``not in`` (value a list), ``empty``, ``not empty``; e.g. ADaM
        ``(("DTYPE", "empty", ""), ("ANL01FL", "==", "Y"))``. All must hold.
    wide_columns : for the wide layout, source column -> (instrument, time, item): time in hours
        (a number), a visit label (text, timed by ``visit_times`` or its own words) or None
        (the row's time column); item None for a total score.
    dropped : source columns removed, after the record filters, before anything else is read or
        screened: a survey tool's own
        bookkeeping (who answered and from where: ``IPAddress``, ``RecipientEmail``, ``Email
        Address``; the timestamps other than the one read). They are never shown or kept.
    reasons : role (or "layout", "wide", "time_unit", ...) -> the sentence saying why, shown by
        :meth:`describe`.
    ambiguities : what could be read more than one way, in words (never resolved silently).
    """

    layout: str = "long"
    columns: dict[str, str] = field(default_factory=dict)
    instrument: str | None = None
    time_unit: str | None = None
    visit_times: dict[str, float] = field(default_factory=dict)
    sheet: str | int | None = None
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    record_filters: tuple[tuple[str, str, Any], ...] = ()
    wide_columns: dict[str, tuple[str, Any, int | None]] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)
    ambiguities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Own copies, normalised: a mapping never changes after it is made.
        set_ = object.__setattr__
        set_(self, "columns", {str(k): str(v) for k, v in dict(self.columns).items()})
        set_(self, "visit_times", {str(k): float(v) for k, v in dict(self.visit_times).items()})
        set_(self, "value_maps", {str(k): {str(a): str(b) for a, b in dict(v).items()}
                                  for k, v in dict(self.value_maps).items()})
        set_(self, "record_filters", _filters(self.record_filters))
        set_(self, "wide_columns", {str(k): _wide_spec(v) for k, v in dict(self.wide_columns).items()})
        set_(self, "dropped", tuple(str(c) for c in self.dropped))
        set_(self, "reasons", {str(k): str(v) for k, v in dict(self.reasons).items()})
        set_(self, "ambiguities", tuple(str(a) for a in self.ambiguities))
        problems = []
        if self.layout not in LAYOUTS:
            problems.append(f"layout {self.layout!r} is not one of {', '.join(LAYOUTS)}.")
        unknown = [r for r in self.columns if r not in ROLES]
        if unknown:
            problems.append(f"unknown role(s) {', '.join(map(repr, unknown))}; roles are "
                            f"{', '.join(ROLES)}.")
        if self.time_unit is not None and self.time_unit not in TIME_UNITS:
            problems.append(f"time_unit {self.time_unit!r} is not one of {', '.join(TIME_UNITS)}.")
        if "time" in self.columns and self.time_unit is None:
            problems.append("the role 'time' needs time_unit (minutes, hours, days, weeks or months).")
        if self.sheet is not None and not isinstance(self.sheet, (str, int)):
            problems.append("sheet must be a sheet name or a 0-based position.")
        if problems:
            raise DataError(problems_frame([{"table": "mapping", "row": pd.NA, "column": "", "value": "",
                                             "message": p} for p in problems]),
                            headline="The mapping is not valid.")

    def __hash__(self) -> int:
        return hash(self.to_json())

    # -- reading and writing -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict (lists instead of tuples)."""
        return {"format": "infusion-outcomes-mapping", "version": _FORMAT_VERSION,
                "layout": self.layout, "columns": dict(self.columns), "instrument": self.instrument,
                "time_unit": self.time_unit, "visit_times": dict(self.visit_times), "sheet": self.sheet,
                "value_maps": copy.deepcopy(self.value_maps),
                "record_filters": [list(f) if not isinstance(f[2], tuple) else [f[0], f[1], list(f[2])]
                                   for f in self.record_filters],
                "wide_columns": {k: list(v) for k, v in self.wide_columns.items()},
                "dropped": list(self.dropped), "reasons": dict(self.reasons), "ambiguities": list(self.ambiguities)}

    def to_json(self, indent: int | None = 2) -> str:
        """The mapping as JSON text; :meth:`from_json` reads it back to an equal Mapping."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str]) -> Mapping:
        """A mapping from JSON text or from a path to a JSON file written by :meth:`to_json`."""
        text = str(text_or_path) if not isinstance(text_or_path, os.PathLike) else ""
        if not text.lstrip().startswith("{"):
            path = Path(text_or_path)
            if not path.is_file():
                raise _mapping_error(f"{path} is neither mapping JSON text nor a mapping file.")
            text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise _mapping_error(f"the mapping is not valid JSON (line {error.lineno}, column "
                                 f"{error.colno}).") from None
        if not isinstance(data, dict):
            raise _mapping_error("the mapping JSON must be an object.")
        data = {k: v for k, v in data.items() if k not in {"format", "version"}}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise _mapping_error(f"unknown mapping field(s) {', '.join(map(repr, unknown))}; fields are "
                                 f"{', '.join(sorted(names))}.")
        try:
            return cls(**data)
        except (TypeError, ValueError, AttributeError) as error:
            if isinstance(error, DataError):
                raise
            raise _mapping_error(f"the mapping's fields have the wrong shape ({error}).") from None

    def replace(self, **changes: Any) -> Mapping:
        """A copy with some fields changed (as the dashboard's editor does). Roles given in
        ``columns`` get the reason "set by hand"; a role mapped to None or "" is removed."""
        columns = changes.get("columns")
        if columns is not None:
            merged = {**self.columns, **{k: v for k, v in columns.items() if v}}
            for role, value in columns.items():
                if not value:
                    merged.pop(role, None)
            reasons = {**self.reasons, **changes.get("reasons", {})}
            for role, value in columns.items():
                if value and self.columns.get(role) != value:
                    reasons[role] = f"column {value!r} read as {_role_words(role, changes.get('time_unit', self.time_unit))} (set by hand)"
                elif not value:
                    reasons.pop(role, None)
            changes = {**changes, "columns": merged, "reasons": reasons}
        for name in ("instrument", "time_unit", "sheet", "layout"):
            if name in changes and changes[name] != getattr(self, name) and name not in changes.get("reasons", {}):
                reasons = dict(changes.get("reasons", self.reasons))
                reasons[name] = f"{name.replace('_', ' ')} set by hand to {changes[name]!r}"
                changes["reasons"] = reasons
        return dataclasses.replace(self, **changes)

    # -- explaining ----------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """How the source will be read, one sentence per decision, ambiguities last."""
        sentences = []
        if "layout" in self.reasons:
            sentences.append(self.reasons["layout"])
        else:
            sentences.append(f"layout: {self.layout}")
        if "sheet" in self.reasons:
            sentences.append(self.reasons["sheet"])
        elif self.sheet is not None:
            sentences.append(f"sheet {self.sheet!r} read")
        for role, column in self.columns.items():
            sentences.append(self.reasons.get(role) or f"column {column!r} read as "
                                                     f"{_role_words(role, self.time_unit)}")
        if self.instrument and "instrument" not in self.columns:
            sentences.append(self.reasons.get("instrument_default") or self.reasons.get("instrument")
                             or f"every rating is {self.instrument} (the file names no instrument)")
        if self.wide_columns and "wide" not in self.reasons:
            sentences.append(_describe_wide(self.wide_columns))
        sentences.extend(v for k, v in self.reasons.items()
                         if k not in self.columns and k not in {"layout", "sheet", "instrument_default", "instrument"}
                         and not (k == "instrument" and "instrument" in self.columns))
        if self.visit_times:
            shown = ", ".join(f"{k!r} = {v:g} h" for k, v in list(self.visit_times.items())[:8])
            more = f" and {len(self.visit_times) - 8} more" if len(self.visit_times) > 8 else ""
            sentences.append(f"visit times given: {shown}{more}")
        for column, values in self.value_maps.items():
            shown = ", ".join(f"{a!r} -> {b!r}" for a, b in list(values.items())[:6])
            sentences.append(f"values of {column!r} mapped: {shown}")
        if self.dropped and "dropped" not in self.reasons:
            sentences.append(f"column(s) {', '.join(map(repr, self.dropped[:6]))}{' ...' if len(self.dropped) > 6 else ''}"
                             " dropped unread")
        for column, op, value in self.record_filters:
            sentences.append(f"only rows where {column!r} {op}{'' if op in {'empty', 'not empty'} else ' ' + repr(value)}")
        sentences.extend(f"ambiguous: {a}" for a in self.ambiguities)
        return list(dict.fromkeys(sentences))


def _filters(value: Any) -> tuple[tuple[str, str, Any], ...]:
    """Record filters from a dict {column: value} (== value; "" = empty) or (column, op, value)s."""
    if isinstance(value, dict):
        items = [(c, "empty", "") if v in ("", None) else (c, "==", v) for c, v in value.items()]
    else:
        items = [tuple(f) for f in value]
    out = []
    for item in items:
        if len(item) == 2:
            item = (item[0], "empty", "") if item[1] in ("", None) else (item[0], "==", item[1])
        if len(item) != 3 or item[1] not in FILTER_OPERATORS:
            raise _mapping_error(f"record filter {item!r} is not (column, operator, value) with an operator "
                                 f"among {', '.join(FILTER_OPERATORS)}.")
        column, op, v = item
        if op in {"in", "not in"}:
            v = tuple(str(x) for x in (v if isinstance(v, (list, tuple)) else [v]))
        elif op in {"empty", "not empty"}:
            v = ""
        else:
            v = str(v)
        out.append((str(column), op, v))
    return tuple(out)


def _wide_spec(value: Any) -> tuple[str, Any, int | None]:
    parts = list(value)
    if len(parts) != 3:
        raise _mapping_error(f"wide column spec {value!r} must be (instrument, time, item).")
    instrument, time, item = parts
    if isinstance(time, bool) or (time is not None and not isinstance(time, (str, int, float))):
        raise _mapping_error(f"wide column time {time!r} must be hours (a number), a visit label or None.")
    if isinstance(time, int):
        time = float(time)
    if item is not None:
        item = int(item)
    return str(instrument), time, item


def _role_words(role: str, time_unit: str | None) -> str:
    words = {"time_minutes": "time in minutes", "time_min": "time in minutes", "time_hours": "time in hours",
             "time_days": "time in days", "time_weeks": "time in weeks", "time_months": "time in months",
             "study_day": "CDISC study day (day 1 = first dose, no day 0)",
             "elapsed_iso": "elapsed time (ISO 8601 durations)", "time": f"time in {time_unit}",
             "baseline_score": "the baseline score", "covariate": "a patient covariate",
             "ignore": "nothing (ignored)", "visit_number": "visit number"}
    return words.get(role, role.replace("_", " "))


def _describe_wide(wide: dict[str, tuple[str, Any, int | None]]) -> str:
    names = list(wide)
    by_instrument: dict[str, set] = {}
    for instrument, time, item in wide.values():
        by_instrument.setdefault(instrument, set()).add((time, item))
    parts = []
    for instrument, keys in by_instrument.items():
        times = {t for t, _ in keys if t is not None}
        items = {i for _, i in keys if i is not None}
        what = f"{instrument} at {len(times)} time point(s)" if times else f"{instrument}"
        if items:
            what += f", {len(items)} item(s)"
        parts.append(what)
    span = f"{names[0]!r}" if len(names) == 1 else f"{names[0]!r} ... {names[-1]!r}"
    return f"columns {span} read as {'; '.join(parts)} (wide layout)"


# --------------------------------------------------------------------------------------------
# Suggesting a mapping


def suggest_mapping(source: Any, **hints: Any) -> Mapping:
    """Guess how to read ``source`` (a path to a file or folder, an upload, or a DataFrame).

    Every guess comes with its reason (:meth:`Mapping.describe`); what could be read more than
    one way is listed in ``ambiguities``. ``hints`` are Mapping fields given as keywords
    (``instrument="BDI-II"``, ``columns={"score": "depression"}``, ``time_unit="weeks"``,
    ``visit_times={...}``, ``sheet=...``); they win over guesses. CDISC and REDCap sources get
    their column roles from :mod:`analysis.cdisc` / :mod:`analysis.redcap` when those exist.
    """
    from analysis.loading.suggest import suggest

    return suggest(source, **hints)


def standard_suggester(layout: str) -> Any:
    """``analysis.cdisc.suggest`` / ``analysis.redcap.suggest`` when that module exists, else None."""
    try:
        module = importlib.import_module(f"analysis.{layout}")
    except ImportError:
        return None
    return getattr(module, "suggest", None)
