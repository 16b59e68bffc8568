"""Guessing a :class:`~analysis.mapping.Mapping`: the layout and the role of every column.

Roles come from the contract's names and aliases (:data:`analysis.contract.CONTRACT`), a few
common clinic spellings (``id``, ``ID``), wide headers (:mod:`analysis.loading.wide`) and, for
CDISC and REDCap, the standards readers. Each guess records its reason; a guess that could be
wrong (a ``day`` column without day 0, ``2m`` read as months) is listed as an ambiguity.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from analysis.contract import CONTRACT
from analysis.instruments import instrument_named_by, resolve_instrument_names
from analysis.loading.surveys import (
    NOT_ANSWERS,
    RESPONSE_NUMBERS,
    bookkeeping,
    describe_survey,
    survey_columns,
)
from analysis.loading.times import parse_infusion_label, parse_visit_label
from analysis.loading.validation import _quoted
from analysis.loading.vocabularies import key
from analysis.loading.wide import (
    derived_from_ratings,
    infusion_columns,
    is_name_digits,
    parse_wide_header,
    session_numbers,
    unknown_scale,
    visit_date_columns,
)
from analysis.mapping import Mapping, _role_words, standard_suggester

__all__ = ["apply_hints", "detect_layout", "role_aliases", "suggest", "suggest_for_frame"]

# Column names tried, in this order, when no contract name or alias matches patient_id.
_ID_FALLBACK = ("id", "patient", "case", "case_id", "case_no", "subject_no", "record")
_TIME_ROLE_ORDER = ("time_hours", "time_minutes", "time_days", "time_weeks", "time_months", "study_day",
                    "elapsed_iso")
_CDISC_KEYS = {"usubjid", "studyid", "domain", "paramcd", "aval", "avisit", "avisitn", "ady", "qstestcd",
               "qsorres", "qsstresn", "rstestcd", "dtype", "ablfl", "exdose", "exroute",
               # ADSL (subject level): read as CDISC, so a lone ADSL says it holds no ratings.
               "subjid", "siteid", "trt01p", "saffl", "ittfl", "rfstdtc"}
_REDCAP_KEYS = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                "redcap_data_access_group", "variable_field_name", "field_type", "choices_calculations_or_slider_labels"}


def role_aliases() -> dict[str, str]:
    """Comparison key of every accepted column name -> its role (first spec wins)."""
    out: dict[str, str] = {}
    for spec in CONTRACT:
        if spec.name == "source_row":
            continue
        for name in (spec.name, *spec.aliases):
            out.setdefault(key(name), spec.name)
    return out


def detect_layout(columns: list[str]) -> str | None:
    """"cdisc" or "redcap" when the column names say so, else None."""
    keys = {key(c) for c in columns}
    if keys & _REDCAP_KEYS:
        return "redcap"
    if "usubjid" in keys and len(keys & _CDISC_KEYS) >= 3:
        return "cdisc"
    return None


def suggest(source: Any, **hints: Any) -> Mapping:
    """See :func:`analysis.suggest_mapping`."""
    from analysis.loading.reading import read_source_frames

    unknown = set(hints) - set(Mapping.__dataclass_fields__)
    if unknown:
        raise TypeError(f"suggest_mapping() got unknown keyword(s) {', '.join(sorted(unknown))}; the keywords are "
                        f"the Mapping fields {', '.join(Mapping.__dataclass_fields__)}"
                        + (" (allow_identifiers is for load(): a suggestion reads no identifying values)"
                           if "allow_identifiers" in unknown else "") + ".")
    frames = read_source_frames(source, sheet=hints.get("sheet"))
    names = [c for frame in frames.values() for c in frame.columns]
    layout = hints.get("layout") or detect_layout(names)
    if layout in {"cdisc", "redcap"}:
        standard = standard_suggester(layout)
        if standard is not None:
            mapping = standard(frames)
            return apply_hints(mapping, hints)
        if layout == "redcap" or len(frames) > 1:
            reasons = {"layout": f"layout {layout} recognised from the column names "
                                 f"({', '.join(sorted({key(c) for c in names} & (_CDISC_KEYS | _REDCAP_KEYS))[:4])})"}
            return apply_hints(Mapping(layout=layout, reasons=reasons), hints)
    frame = next(iter(frames.values()))
    mapping = suggest_for_frame(frame, layout=layout, hints=hints)
    return apply_hints(mapping, hints)


def apply_hints(mapping: Mapping, hints: dict[str, Any]) -> Mapping:
    """``mapping`` with the fields given as keywords (``analysis.load(path, instrument=...)``)."""
    if not hints:
        return mapping
    changes = {k: v for k, v in hints.items() if k != "columns"}
    if hints.get("value_maps"):  # maps given by hand add to (and win over) the suggested ones
        given = hints["value_maps"]
        changes["value_maps"] = {**mapping.value_maps, **{role: {**mapping.value_maps.get(role, {}), **labels}
                                                          for role, labels in given.items()}}
    columns = hints.get("columns") or {}
    if "time_unit" in hints and hints["time_unit"]:
        # A time unit given by hand re-labels the time column the suggestion found.
        time_roles = [r for r in mapping.columns if r in _TIME_ROLE_ORDER or r == "time"]
        if time_roles and not any(r.startswith("time") for r in columns):
            source = mapping.columns[time_roles[0]]
            columns = {**columns, time_roles[0]: "", "time": source}
    if columns:
        # A column given for a role is taken from whatever other role the suggestion gave it.
        taken = {v: r for r, v in mapping.columns.items()}
        cleared = {taken[v]: "" for r, v in columns.items() if v and v in taken and taken[v] != r}
        changes["columns"] = {**cleared, **columns}
    return mapping.replace(**changes)


_INFUSION_DETAIL = {"dose_mg_per_kg": "dose in mg/kg", "dose_mg": "dose in mg (divided by weight_kg)",
                    "route": "route", "duration_min": "duration in minutes"}


def _scale_of_table(frame: pd.DataFrame, hints: dict[str, Any]) -> str | None:
    """The instrument of the ratings when the table names none: the ``instrument`` given, else
    the sheet's name when it is an instrument's ('MADRS', 'PHQ9')."""
    if hints.get("instrument"):
        return resolve_instrument_names([hints["instrument"]]).get(hints["instrument"]) or hints["instrument"]
    sheet = frame.attrs.get("sheet")
    return instrument_named_by(sheet) if sheet else None


def suggest_for_frame(frame: pd.DataFrame, *, layout: str | None = None,
                      hints: dict[str, Any] | None = None) -> Mapping:
    """A mapping for one table (long or wide; a single-file CDISC BDS dataset as long)."""
    hints = hints or {}
    aliases = role_aliases()
    columns: dict[str, str] = {}
    reasons: dict[str, str] = {}
    ambiguities: list[str] = []
    source_columns = [c for c in frame.columns if c != "source_row"]
    taken: set[str] = set()

    def claim(role: str, column: str, why: str) -> None:
        columns[role] = column
        taken.add(column)
        reasons[role] = f"column {column!r} read as {_role_words(role, hints.get('time_unit'))} ({why})"

    for column in source_columns:  # exact contract names first, then aliases
        if key(column) in {s.name for s in CONTRACT} and key(column) not in columns:
            claim(key(column), column, "name")
    for column in source_columns:
        role = aliases.get(key(column))
        if column in taken or role is None or role in columns:
            continue
        claim(role, column, "name" if key(column) == role else f"name: {column!r} is a known name for {role}")
    if "patient_id" not in columns:
        for fallback in _ID_FALLBACK:
            found = [c for c in source_columns if key(c) == fallback and c not in taken]
            if found:
                claim("patient_id", found[0], "name")
                break

    wide = {}
    for column in source_columns:
        if column in taken:
            continue
        header = parse_wide_header(column)
        if header is not None:
            time = header.hours if header.hours is not None else header.time_label
            wide[column] = (header.instrument, time, header.item)
    # An item's wording wins over a wide header's reading ('GAD-7 [Trouble relaxing]' is item 4,
    # not GAD-7 at a time '[Trouble relaxing]').
    survey, difficulty = survey_columns([c for c in source_columns if c not in taken], frame.attrs.get("labels"))
    wide.update({column: (instrument, None, item) for column, (instrument, item) in survey.items()})
    score_map: dict[str, str] = {}
    dropped: list[str] = []
    if survey:
        answered, dropped = bookkeeping(c for c in source_columns if c not in wide)
        if answered is not None and answered not in taken and not any(
                r in columns for r in (*_TIME_ROLE_ORDER, "assessment_date")):
            claim("assessment_date", answered, "when the survey was answered")
        dropped = [c for c in dropped if c not in taken]
        if key(columns.get("event", "")) == "event_name" and "visit" not in columns:
            # a REDCap export with labels ('Record ID', 'Event Name'): its events are the visits
            event = columns.pop("event")
            reasons.pop("event", None)
            claim("visit", event, "the REDCap event of a survey export ('Baseline (Arm 1: Arm A)' is 'Baseline')")
        if key(columns.get("patient_id", "")) in RESPONSE_NUMBERS:
            response = columns.pop("patient_id")
            reasons.pop("patient_id", None)
            taken.discard(response)
            ambiguities.append(f"{response!r} numbers the survey's responses, not patients: no column names the "
                               "patient (ask for the study id in the form, or name its column: "
                               "columns={'patient_id': ...})")
        survey_reason, survey_doubts, score_map = describe_survey(frame, survey, difficulty,
                                                                  frame.attrs.get("value_labels"))
        ambiguities.extend(survey_doubts)
        if dropped:
            reasons["dropped"] = (f"the survey tool's column(s) {', '.join(map(repr, dropped[:6]))}"
                                  f"{' ...' if len(dropped) > 6 else ''} (who answered, from where, when else, the "
                                  "response's status) dropped unread: identifying, or not outcome data")
    scale = _scale_of_table(frame, hints)
    if scale is not None and "score" not in columns and "instrument" not in columns:
        # Columns named by their time alone ('Baseline', 'Day 1', 'Week 2') hold ratings of the
        # instrument given, or named by the sheet ('MADRS').
        for column in source_columns:
            if column not in taken and column not in wide and (parsed := parse_visit_label(column)) is not None:
                wide[column] = (scale, parsed[0], None)
    for column, (instrument, time, item) in list(wide.items()):
        # "PHQ_9" alone is the PHQ-9 total; among phq_1 ... phq_8 it is item 9.
        if item is not None and column not in survey and is_name_digits(column, parse_wide_header(column)) and not any(
                v[0] == instrument and v[2] is not None and c != column for c, v in wide.items()):
            wide[column] = (instrument, time, None)
    is_wide = bool(wide) and "score" not in columns and layout != "cdisc"
    if layout == "cdisc":
        layout_reason = "layout cdisc (a BDS/SDTM dataset) read as one row per rating: " \
                        "USUBJID identifies the patient"
        columns.pop("time_days", None) if "study_day" in columns else None
        if "DTYPE" in frame.columns or "dtype" in {key(c) for c in frame.columns}:
            dtype_column = next(c for c in frame.columns if key(c) == "dtype")
            hints.setdefault("record_filters", ((dtype_column, "empty", ""),))
            reasons["dtype"] = (f"rows with {dtype_column!r} set (derived records such as LOCF) are left out; "
                                f"keep them with record_filters=()")
        flags = [c for c in frame.columns if key(c).startswith("anl") and key(c).endswith("fl")]
        if flags:
            ambiguities.append(f"analysis flag(s) {', '.join(map(repr, flags))} present but not used: pass "
                               f"record_filters=[({flags[0]!r}, '==', 'Y')] to keep only flagged records")
        if "instrument" not in columns:
            for candidate in ("PARAMCD", "QSCAT", "RSCAT", "PARAM"):
                found = [c for c in frame.columns if key(c) == key(candidate)]
                if found:
                    claim("instrument", found[0], "CDISC parameter code, read through the instrument aliases")
                    break
    elif is_wide:
        layout = "wide"
        timed = {c for c, v in wide.items() if v[1] is not None}
        untimed_labels = sorted({str(v[1]) for v in wide.values() if isinstance(v[1], str)})
        layout_reason = "layout wide: a survey export, one row per response and a column per question" \
            if survey else None
        if len(timed) < len(wide) and not any(r in columns for r in (*_TIME_ROLE_ORDER, "visit", "visit_number",
                                                                     "assessment_date")):
            ambiguities.append(f"{len(wide) - len(timed)} wide column(s) name no time and the rows have no time "
                               "column: add one, or give the columns' times in wide_columns")
        others = {c: v for c, v in wide.items() if c not in survey}
        reasons["wide"] = survey_reason if survey and not others else _wide_reason(others or wide)
        if survey and others:
            reasons["survey"] = survey_reason
        if survey and "Status" in frame.columns:  # Qualtrics: previews, tests and spam are not answers
            flagged = [s for s in pd.unique(frame["Status"].dropna().astype(str)) if s in NOT_ANSWERS]
            if flagged:
                hints.setdefault("record_filters", (("Status", "not in", tuple(flagged)),))
                reasons["status"] = (f"responses with 'Status' {_quoted(flagged)} left out (a preview or test of the "
                                     "survey, or flagged as spam, not a patient's answers)")
        if "infusion_number" in columns and "patient_id" in columns and session_numbers(
                frame[columns["patient_id"]], frame[columns["infusion_number"]]) is not None:
            reasons["sessions"] = (f"a row per infusion ({columns['infusion_number']!r}): the times in the headers "
                                   "count from the row's infusion ('pre' one minute before its start, 'post' 40 min "
                                   "after it)")
        unknown = {c: named for c in source_columns if c not in taken and c not in wide
                   and (named := unknown_scale(c)) is not None}
        if unknown:
            scales = sorted(set(unknown.values()))
            ambiguities.append(f"column(s) {', '.join(map(repr, list(unknown)[:4]))}{' ...' if len(unknown) > 4 else ''}"
                               f" look like ratings of {', '.join(map(repr, scales[:4]))}, a scale the toolkit does "
                               "not know: they are kept as patient columns; register it with "
                               "analysis.register_instrument(analysis.Instrument(...)) to read them as ratings")
        derived = [c for c in source_columns if c not in taken and derived_from_ratings(c)]
        if derived:
            reasons["derived"] = (f"column(s) {', '.join(map(repr, derived[:4]))}{' ...' if len(derived) > 4 else ''}"
                                  " look derived from the ratings (a change, a percentage, a response): not read as "
                                  "ratings (the analyses derive them from the ratings), kept as patient columns")
        per_infusion = infusion_columns([c for c in source_columns if c not in taken and c not in wide])
        infusion_dates = {c: n for c, (n, role) in per_infusion.items() if role == "infusion_date"}
        if infusion_dates:
            reasons["infusion_dates"] = (f"column(s) {', '.join(map(repr, list(infusion_dates)[:4]))}"
                                         f"{' ...' if len(infusion_dates) > 4 else ''} read as the dates of infusions "
                                         f"{', '.join(map(str, sorted(set(infusion_dates.values()))))} (converted to "
                                         "hours since each patient's first infusion, then removed)")
            details = {c: v for c, v in per_infusion.items() if c not in infusion_dates}
            if details:
                reasons["infusion_details"] = "; ".join(
                    f"column {c!r} read as the {_INFUSION_DETAIL[role]} of infusion {n}"
                    for c, (n, role) in list(details.items())[:4]) + (" ..." if len(details) > 4 else "")
        relative = sorted({str(v[1]) for v in wide.values() if isinstance(v[1], str) and parse_infusion_label(v[1])})
        if relative:
            reasons["relative_times"] = (f"time label(s) {', '.join(map(repr, relative[:6]))}"
                                         f"{' ...' if len(relative) > 6 else ''} timed from the patient's infusion "
                                         "they name (post = 40 min after its start, pre = one minute before it)")
            untimed_labels = [t for t in untimed_labels if t not in relative]
        dated = visit_date_columns([c for c in source_columns if c not in taken and c not in wide
                                    and c not in per_infusion], wide)
        if dated:
            use = ("converted to hours since the infusion date, the header placing each within its day, then removed"
                   if "infusion_date" in columns or infusion_dates else "not used without an infusion date, and removed")
            reasons["visit_dates"] = (f"column(s) {', '.join(map(repr, list(dated)[:4]))}"
                                      f"{' ...' if len(dated) > 4 else ''} read as the dates of the ratings their "
                                      f"headers name ({use})")
        if untimed_labels:
            ambiguities.append(f"time label(s) {_quoted(untimed_labels[:8])} in the headers say no "
                               "time: give them with visit_times={label: hours}")
        months = sorted(c for c in wide if _says_m_months(c))
        if months:
            ambiguities.append(f"'m' in {', '.join(map(repr, months[:3]))} read as months (minutes would be "
                               "written 'min')")
        posts = [c for c, v in wide.items() if isinstance(v[1], float) and abs(v[1] - 40 / 60) < 1e-9
                 and "post" in c.lower()]
        if posts:
            label = next((h.time_label for h in [parse_wide_header(posts[0])] if h is not None), posts[0])
            ambiguities.append(f"{', '.join(map(repr, posts[:3]))}: 'post' taken as the end of a 40-minute "
                               f"infusion (0.67 h); set visit_times={{{label!r}: hours}} otherwise")
        if "patient_id" not in columns and not survey:
            ambiguities.append("no patient id column: patients are numbered by row (row 1 = patient R1)")
    else:
        layout = layout or "long"
        layout_reason = None
        wide = {}
    time_roles = [r for r in _TIME_ROLE_ORDER if r in columns]
    if len(time_roles) > 1:
        ambiguities.append(f"several time columns ({', '.join(repr(columns[r]) for r in time_roles)}); "
                           f"{columns[time_roles[0]]!r} is used")
    if "time_days" in columns and columns["time_days"] in frame.columns:
        days = pd.to_numeric(frame[columns["time_days"]].astype("string"), errors="coerce")
        if days.notna().any() and not (days == 0).any() and days.min() >= 1 and "study" not in \
                columns["time_days"].lower():
            ambiguities.append(f"column {columns['time_days']!r} has no day 0: read as days since the first "
                               "infusion; if day 1 is the day of the first infusion (CDISC study day), pass "
                               f"columns={{'study_day': {columns['time_days']!r}}}")
    if not time_roles and "visit" in columns and "assessment_date" not in columns and columns["visit"] in frame:
        labels = pd.unique(frame[columns["visit"]].dropna().astype(str))
        # (a label naming an infusion of a series, 'Infusion 2 post', is timed from that infusion)
        unparsed = [lab for lab in labels if parse_visit_label(lab) is None and parse_infusion_label(lab) is None
                    and lab not in hints.get("visit_times", {})]
        if len(unparsed) and len(unparsed) < len(labels):
            ambiguities.append(f"visit labels {_quoted(unparsed[:8])} say no time: give them with "
                               "visit_times={label: hours}")
        reasons["visit_times"] = (f"times read from the visit labels in {columns['visit']!r}" if not len(unparsed)
                                  else f"visit labels in {columns['visit']!r} give the times where they say it")
    if layout == "long" and "instrument" not in columns and not hints.get("instrument"):
        ambiguities.append("no instrument column: name the instrument, e.g. analysis.load(path, "
                           "instrument=\"MADRS\")")
    if layout_reason is None:
        layout_reason = {"wide": "layout wide: one row per patient (or visit), columns per instrument, time "
                                 "or item",
                         "long": "layout long: one row per rating"}.get(layout, f"layout {layout}")
    reasons = {"layout": layout_reason, **reasons}
    if frame.attrs.get("sheets"):  # a workbook's sheets read as one table (analysis.loading.sheets)
        reasons["sheet"] = frame.attrs["sheets"]
    return Mapping(layout=layout, columns=columns, reasons=reasons, wide_columns=wide if layout == "wide" else {},
                   ambiguities=tuple(ambiguities), value_maps={"score": score_map} if score_map else {},
                   dropped=tuple(dropped),
                   record_filters=hints.get("record_filters", ()) if layout == "cdisc" or survey else ())


def _says_m_months(column: str) -> bool:
    return bool(re.search(r"\d\s*m\b|\bm\s*\d", column.lower().replace("_", " ").replace(".", " ")))


def _wide_reason(wide: dict[str, tuple[str, Any, int | None]]) -> str:
    from analysis.mapping import _describe_wide
    return _describe_wide(wide)

