"""Time as people write it -> hours since the start of the first infusion.

Units: minutes, hours, days, weeks and months (a month is 30.4375 days, the mean Gregorian
month; a year 365.25 days). Three written forms are read:

- a number in a column whose unit is known (``time_weeks``, ``week``, ``ADY``, ...);
- the CDISC study day (``--DY``, ``ADY``): day 1 is the day of the first dose, the day before
  it is day -1, and there is no day 0 (CDISC SDTM Implementation Guide 3.4, section 4.4.4), so
  day d >= 1 is ``(d - 1) * 24`` hours and day d <= -1 is ``d * 24`` hours;
- ISO 8601 durations (``PT40M``, ``PT4H``, ``P7D``, ``P2W``, ``-PT1H``; ISO 8601-1:2019, 5.5.2);
- visit labels that say their time: ``baseline``, ``pre``, ``40 min``, ``4h``, ``day 7``,
  ``D14``, ``week 2``, ``wk2``, ``w3``, ``2 months``, ``2m`` (m = months; minutes are written
  ``min``), ``day 3 40 min`` (sums). A "day N" label counts days elapsed since the first infusion
  (``day 1`` = 24 h), as in single-infusion trials; the CDISC study-day rule applies only to
  study-day columns;
- visit labels relative to one infusion of a series (:func:`parse_infusion_label`):
  ``Infusion 2 post``, ``Inf 3 - pre``, ``infusion #4 4h``, ``post infusion 2``, ``Session 5``
  (a label naming only the infusion is its pre-infusion rating): its number and the hours after
  its start, which the loader adds to that patient's infusion start; "pre" is one minute before
  the start (:data:`PRE_INFUSION_HOURS`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.loading.vocabularies import split_remark

__all__ = ["HOURS_PER", "BASELINE_HOURS", "POST_INFUSION_HOURS", "PRE_INFUSION_HOURS", "TIME_ROLES", "iso_duration_hours",
           "parse_infusion_label", "parse_visit_label", "placement_hours", "study_day_hours", "unit_of_role",
           "within_infusion_hours"]

HOURS_PER = {"minutes": 1 / 60, "hours": 1.0, "days": 24.0, "weeks": 168.0, "months": 30.4375 * 24}
# A rating labelled baseline/pre-infusion is taken at the start of the first infusion: at or before
# time 0 is the loader's definition of a baseline rating.
BASELINE_HOURS = 0.0
# "post" (end of infusion): the standard 40-minute infusion (DOMAIN.md); visit_times overrides it.
POST_INFUSION_HOURS = 40 / 60
# "pre" relative to one infusion of a series ("Infusion 3 pre", or "pre" dated on an infusion day):
# one minute before that infusion's start, so it is the rating the infusion follows (the last of
# the previous infusion's follow-up; for the first infusion, the baseline), not one after it.
PRE_INFUSION_HOURS = -1 / 60

# Mapping roles that carry a time, with their unit ("study_day" and "elapsed_iso" have rules).
TIME_ROLES = {"time_minutes": "minutes", "time_min": "minutes", "time_hours": "hours", "time_days": "days",
              "time_weeks": "weeks", "time_months": "months", "study_day": "study days",
              "elapsed_iso": "ISO 8601 durations", "time": "unit"}


def unit_of_role(role: str, time_unit: str | None) -> str | None:
    """The unit of a time role ("time" takes ``time_unit``); None when unknown."""
    unit = TIME_ROLES.get(role)
    return time_unit if unit == "unit" else unit


_UNIT_WORDS = {
    "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes", "mn": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days", "dy": "days", "j": "days", "jour": "days",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "m": "months", "mo": "months", "mon": "months", "mth": "months", "month": "months", "months": "months",
}
_BASELINE_WORDS = {"baseline", "bl", "base", "pre", "preinfusion", "pretreatment", "predose", "prior",
                   "day0pre", "visit0", "week0", "wk0", "before"}
_POST_WORDS = {"post", "postinfusion", "postdose", "eoi", "endofinfusion", "after"}
_UNIT = "|".join(sorted(_UNIT_WORDS, key=len, reverse=True))
_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
# "4h", "40 min", "2 months" (number first) or "day 7", "D14", "wk2" (unit first).
_PART = re.compile(rf"(?:(?P<n1>{_NUMBER})\s*(?P<u1>{_UNIT})\b|(?P<u2>{_UNIT})\s*(?P<n2>{_NUMBER}))", re.I)


def _squash(label: str) -> str:
    return re.sub(r"[\s_.\-/()]+", "", label.lower())


def parse_visit_label(label: object) -> tuple[float, str] | None:
    """(hours since the first infusion, how it was read) for a label that says its time, else None.

    >>> parse_visit_label("day 7")
    (168.0, '7 days')
    >>> parse_visit_label("MADRS baseline") is None   # instrument names are not stripped here
    True
    """
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    text = str(label).strip()
    if not text:
        return None
    plain, remark = split_remark(text)
    if remark is not None:  # 'Day 7 (3/11)', 'Week 2 [phone]': the time is the label's before its remark
        return parse_visit_label(plain)
    squashed = _squash(text)
    if squashed in _BASELINE_WORDS:
        return BASELINE_HOURS, "baseline (before the first infusion)"
    if squashed in _POST_WORDS:
        return POST_INFUSION_HOURS, "end of a 40-minute infusion (assumed)"
    iso = iso_duration_hours(text)
    if iso is not None:
        return iso, f"ISO 8601 duration {text}"
    spaced = re.sub(r"[_.]+", " ", text).strip()
    total, parts, end = 0.0, [], 0
    for match in _PART.finditer(spaced):
        between = spaced[end:match.start()]
        if between.strip(" ,+-&") or (end == 0 and match.start() != 0):
            return None
        number = match.group("n1") or match.group("n2")
        unit = _UNIT_WORDS[(match.group("u1") or match.group("u2")).lower()]
        value = float(number.replace(",", "."))
        total += value * HOURS_PER[unit]
        parts.append(f"{value:g} {unit[:-1] if value == 1 else unit}")  # "1 day", "2 days"
        end = match.end()
    if not parts or spaced[end:].strip():
        return None
    return total, " + ".join(parts)


_ISO = re.compile(r"(?P<sign>[-+])?P(?!$)(?:(?P<Y>\d+(?:[.,]\d+)?)Y)?(?:(?P<MO>\d+(?:[.,]\d+)?)M)?"
                  r"(?:(?P<W>\d+(?:[.,]\d+)?)W)?(?:(?P<D>\d+(?:[.,]\d+)?)D)?"
                  r"(?:T(?=\d)(?:(?P<H>\d+(?:[.,]\d+)?)H)?(?:(?P<MI>\d+(?:[.,]\d+)?)M)?"
                  r"(?:(?P<S>\d+(?:[.,]\d+)?)S)?)?", re.I)
_ISO_HOURS = {"Y": 365.25 * 24, "MO": HOURS_PER["months"], "W": 168.0, "D": 24.0, "H": 1.0, "MI": 1 / 60,
              "S": 1 / 3600}


def iso_duration_hours(text: object) -> float | None:
    """An ISO 8601 duration (``PT40M``, ``-PT1H``, ``P1DT2H``) in hours; None if it is not one."""
    if not isinstance(text, str):
        return None
    match = _ISO.fullmatch(text.strip())
    if match is None or not any(match.group(k) for k in _ISO_HOURS):
        return None
    hours = sum(float(match.group(k).replace(",", ".")) * f for k, f in _ISO_HOURS.items() if match.group(k))
    return -hours if match.group("sign") == "-" else hours


def iso_durations(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(hours, mask of present values that are not ISO 8601 durations) for a column, parsed once
    per distinct value."""
    labels = values.astype("string").str.strip()
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    parsed = np.array([np.nan if (h := iso_duration_hours(u)) is None else h for u in uniques], dtype=float)
    hours = np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan)
    bad = (codes >= 0) & np.isnan(hours) & (labels.fillna("").to_numpy() != "")
    return hours, bad


def study_day_hours(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CDISC study days -> hours since the start of day 1 (the first dose); (hours, mask of day 0
    or fractional days, which the rule does not allow)."""
    days = np.asarray(days, dtype="float64")
    bad = (days == 0) | (~np.isnan(days) & (days != np.round(days)))
    hours = np.where(days >= 1, (days - 1) * 24.0, days * 24.0)
    return np.where(bad, np.nan, hours), bad


_SESSION = r"(?:infusion|infusions|inf|session|treatment|tx|dose|ket(?:amine)?)"
_INFUSION_FIRST = re.compile(rf"{_SESSION}\s*(?:no\.?|number|nr\.?|#)?\s*(\d{{1,3}})(?:st|nd|rd|th)?(?!\d)[\s:,;-]*(.*)", re.I)
_INFUSION_LAST = re.compile(rf"(.*?)[\s:,;-]*\b{_SESSION}\s*(?:no\.?|number|nr\.?|#)?\s*(\d{{1,3}})(?:st|nd|rd|th)?", re.I)
_ORDINAL_FIRST = re.compile(rf"(\d{{1,3}})(?:st|nd|rd|th)\s+{_SESSION}\b[\s:,;-]*(.*)", re.I)


def parse_infusion_label(label: object) -> tuple[int, float] | None:
    """(infusion number, hours after that infusion's start) for a visit label relative to one
    infusion of a series, else None.

    >>> parse_infusion_label("Infusion 2 post")
    (2, 0.6666666666666666)
    >>> parse_infusion_label("pre-infusion 3")
    (3, -0.016666666666666666)
    """
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    text = str(label).strip()
    for pattern, number_group, rest_group in ((_INFUSION_FIRST, 1, 2), (_ORDINAL_FIRST, 1, 2),
                                              (_INFUSION_LAST, 2, 1)):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        number, rest = int(match.group(number_group)), match.group(rest_group).strip(" -_:,;()")
        rest = re.sub(r"[\s-]*(?:infusion|inf|dose|session)$", "", rest, flags=re.I)  # "pre-infusion"
        if number < 1:
            return None
        offset = within_infusion_hours(rest) if rest else PRE_INFUSION_HOURS
        return None if offset is None else (number, offset)
    return None


def within_infusion_hours(label: object) -> float | None:
    """Hours after an infusion's start that a label names within an infusion day: "pre" (and the
    other baseline words) is :data:`PRE_INFUSION_HOURS`, "post" 40 min, "4h" 4 h; None when the
    label says no such time."""
    parsed = parse_visit_label(label)
    if parsed is None or parsed[0] < 0:
        return None
    return PRE_INFUSION_HOURS if parsed[1].startswith("baseline") else parsed[0]


def placement_hours(label: object, visit_times: dict[str, float] | None = None) -> float:
    """The time a visit label names, to place a rating dated without a time of day within its day
    (:mod:`analysis.loading.calendar`): ``visit_times`` first, else a time within an infusion day
    ("Infusion 2 post" and "post" = 40 min, "pre" = one minute before the infusion, "4h"), else the
    label's hours ("day 7" = 168 h); NaN when the label names none."""
    text = str(label)
    if visit_times and text in visit_times:
        return float(visit_times[text])
    relative = parse_infusion_label(text)
    if relative is not None:
        return relative[1]
    within = within_infusion_hours(text)
    return np.nan if within is None else within
