"""Calendar dates -> hours since each patient's first infusion: the one rule every reader uses
(long files' ``infusion_date`` and ``assessment_date``, CDISC ``EXSTDTC``, REDCap date fields).
Dates identify people: readers convert them with this module and drop them; no message shows one.

The rule, for a date and the patient's first infusion date (the earliest of its infusions):

- both hold a time of day: the exact hours between them;
- otherwise the day gives the time: day 0 is the first infusion's day, and a date d days later
  is at ``24 d`` hours, or, when the patient had an infusion that day, one minute before that
  infusion's start (:data:`~analysis.loading.times.PRE_INFUSION_HOURS`: clinics rate at check-in,
  so such a rating is the one that infusion follows, as a bare "Infusion 2" label is).
  A nominal time (a REDCap event's, a visit label's) places it within the day: "day 7" dated on
  day 7 is at 168 h; "post" (40 min) and "4h" dated on an infusion day are that long after the
  start of that day's infusion and "pre" one minute before it, so a pre- and a post-infusion
  rating on the same date are two ratings, not one rated twice. A date at midnight counts as a date without a time.

A date and its time of day in two columns (``date`` and ``time``, ``infusion_date`` and
``infusion_time``: EMR exports) are joined first (:func:`join_times_of_day`).

Dates are read as ISO 8601 first (``2024-01-03``, ``2024-01-03 09:30``, ``2024-01-03T09:30``),
then in any common form (``03/01/2024``), day first when ``dayfirst``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.loading.times import PRE_INFUSION_HOURS
from analysis.loading.vocabularies import key

__all__ = ["DAY_ONLY_RULE", "Dates", "InfusionCalendar", "hours_since_first", "infusion_calendar", "join_times_of_day", "parse_dates"]

_HOUR_NS = 3.6e12
# How a rating dated without a time of day is placed, in the words of the readers' notes.
DAY_ONLY_RULE = ("on an infusion's day such a rating is taken one minute before that infusion's start (rated at "
                 "check-in) unless its visit label or event says the hour ('post', '4h'); on other days at the "
                 "day's start; give a time of day to time it exactly")


_TIME_OF_DAY = re.compile(r"\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp]\.?\s?[Mm]\.?)?\s*")


def join_times_of_day(frame: pd.DataFrame, keep: set[str] = frozenset()) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with each date column's time of day joined to it from its own column: ``time``
    beside ``date``, ``infusion_time`` beside ``infusion_date``, ``visit time`` beside ``visit
    date`` (every value written like 09:30, 9:30 PM or 13:05:00). The time columns are removed
    (their values are part of the dates now), and a sentence says so. Columns in ``keep`` (read
    by the mapping as something else) are left alone."""
    by_key = {key(c): c for c in frame.columns}
    notes, joined = [], {}
    for name in frame.columns:
        tokens = key(name).split("_")
        if "date" not in tokens or name in keep:
            continue
        companion = by_key.get("_".join("time" if t == "date" else t for t in tokens))
        if companion is None or companion in keep or companion in joined.values():
            continue
        times = frame[companion].astype("string").str.strip().replace("", pd.NA)
        written = times.dropna()
        if not len(written) or not written.str.fullmatch(_TIME_OF_DAY).all():
            continue
        dates = frame[name]
        day = dates.dt.strftime("%Y-%m-%d") if pd.api.types.is_datetime64_any_dtype(dates.dtype) else \
            dates.astype("string").str.strip()
        joined[name] = companion
        frame = frame.assign(**{name: day.where(times.isna() | day.isna(), day + " " + times)})
        notes.append(f"times of day in {companion!r} joined to the dates in {name!r}")
    if joined:
        frame = frame.drop(columns=list(joined.values()))
    return frame, notes


@dataclass(frozen=True, eq=False)
class Dates:
    """Parsed dates, one per row: ``when`` (datetime64[ns], NaT where blank or unreadable),
    ``has_time`` (the value holds a time of day) and ``unreadable`` (written but not a date)."""

    when: np.ndarray
    has_time: np.ndarray
    unreadable: np.ndarray

    def take(self, positions: np.ndarray) -> Dates:
        """The dates of the rows at ``positions``."""
        return Dates(self.when[positions], self.has_time[positions], self.unreadable[positions])


def parse_dates(values: pd.Series, dayfirst: bool = False) -> Dates:
    """Dates as written (text, or a spreadsheet's datetimes; ISO offsets converted to UTC and
    dropped, a zone in words after the time dropped: :data:`_ZONE_WORDS`). Each distinct text is
    parsed once."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values)
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert(None)
        when = parsed.to_numpy(dtype="datetime64[ns]")
        return Dates(when, _off_midnight(when), np.zeros(len(when), dtype=bool))
    codes, labels = pd.factorize(values.astype("string").str.strip().replace("", pd.NA), use_na_sentinel=True)
    text = pd.Series(np.asarray(labels, dtype=object), dtype="string")
    parsed = _parse_text(text, dayfirst)
    when = np.append(parsed, np.datetime64("NaT", "ns"))[codes]  # codes -1 (blank): the NaT appended
    has_time = np.append(text.str.contains(":", regex=False).to_numpy(dtype=bool) & _off_midnight(parsed), False)
    unreadable = np.append(np.isnat(parsed), False)
    return Dates(when, has_time[codes], unreadable[codes])


# A zone written in words after the time, as survey tools write their timestamps ("2026/03/02
# 9:10:00 AM GMT-5", "... EST"): the local time is kept. Those tools write the local time of the
# clinic's account, the time its infusion log is kept in (and the parser reads "GMT-5" as UTC+5).
_ZONE_WORDS = re.compile(r"\s+(?:(?:GMT|UTC)\s*(?:[+-]\s*\d{1,2}(?::?\d{2})?)?|[ECMP][SD]T|BST|CES?T)\s*$", re.I)


def _parse_text(text: pd.Series, dayfirst: bool) -> np.ndarray:
    """Distinct date texts -> datetime64[ns] (NaT where unreadable)."""
    text = text.str.replace(_ZONE_WORDS, "", regex=True)
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # e.g. mixed time zones
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    rest = parsed.isna().to_numpy()
    if rest.any():
        try:
            other = pd.to_datetime(text[rest], format="mixed", dayfirst=dayfirst, errors="coerce")
        except (ValueError, TypeError):
            other = pd.to_datetime(text[rest], format="mixed", dayfirst=dayfirst, errors="coerce", utc=True)
        if getattr(other.dt, "tz", None) is not None:
            other = other.dt.tz_convert(None)
        parsed = parsed.astype("datetime64[ns]")
        parsed[rest] = other.astype("datetime64[ns]")
    return parsed.to_numpy(dtype="datetime64[ns]")


def _off_midnight(when: np.ndarray) -> np.ndarray:
    """Whether each datetime holds a time of day other than 00:00 (NaT: False)."""
    return ~np.isnat(when) & (when != when.astype("datetime64[D]"))


@dataclass(frozen=True, eq=False)
class InfusionCalendar:
    """Each patient's infusions in calendar terms: the first infusion's date (``first``, indexed
    by patient) and whether it holds a time of day (``first_has_time``); each infusion's start in
    hours since the first (``hours``, in the order of the dates given); and the start of the first
    infusion of each patient's infusion days (``day_starts``, hours, indexed by patient code and
    day since the first infusion's day)."""

    patients: pd.Index
    first: pd.Series
    first_has_time: pd.Series
    hours: np.ndarray
    day_starts: pd.Series

    def __len__(self) -> int:
        return len(self.first)

    def first_of(self, patient: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first infusion date, whether it holds a time, the patient's code here, -1 = none) of
        each row's patient; NaT and False for patients without infusion dates."""
        codes = pd.Categorical(_categorical(patient), categories=self.patients).codes.astype(np.int64)
        return (*_first_by_code(self.first, self.first_has_time, self.patients, codes), codes)


def _first_by_code(first: pd.Series, first_has_time: pd.Series, patients: pd.Index,
                   codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first infusion date, whether it holds a time) at each patient code (-1: NaT and False)."""
    when = np.append(first.reindex(patients).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    timed = np.append(first_has_time.reindex(patients, fill_value=False).to_numpy(dtype=bool), False)
    return when[codes], timed[codes]


def _categorical(patient: object) -> pd.Categorical:
    if isinstance(patient, pd.Categorical):
        return patient
    if isinstance(patient, pd.Series) and isinstance(patient.dtype, pd.CategoricalDtype):
        return patient.array
    return pd.Categorical(np.asarray(patient, dtype=object))


def infusion_calendar(dates: Dates, patient: object, event_hours: np.ndarray | None = None) -> InfusionCalendar:
    """The infusions dated ``dates`` (``patient``: a label per row) in calendar terms. The first
    infusion is each patient's earliest date (a date alone counts as midnight, the earliest of its
    day); each infusion's hours follow the module's rule, ``event_hours`` refining dates alone."""
    categorical = _categorical(patient)
    patients = pd.Index(categorical.categories)
    codes = categorical.codes.astype(np.int64)
    known = (codes >= 0) & ~np.isnat(dates.when)
    first = pd.Series(dates.when[known]).groupby(codes[known]).min()
    at_first = dates.when[known] == first.reindex(codes[known]).to_numpy()
    timed = pd.Series(dates.has_time[known] & at_first).groupby(codes[known]).any()
    first = pd.Series(first.to_numpy(), index=patients[first.index])
    timed = pd.Series(timed.to_numpy(dtype=bool), index=patients[timed.index])
    # The infusions' own hours: no infusion day is known yet, so each day starts at 24 h per day.
    hours, day = _hours(dates, pd.Series(dtype="float64"), codes, *_first_by_code(first, timed, patients, codes),
                        event_hours)
    dated = ~np.isnan(hours)
    starts = pd.Series(hours[dated]).groupby(_day_key(codes[dated], day[dated])).min()
    return InfusionCalendar(patients, first, timed, hours, starts)


def _day_key(codes: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One int64 per (patient code, whole day since the first infusion's day)."""
    return codes * (1 << 32) + (day.astype(np.int64) + (1 << 31))


def hours_since_first(dates: Dates, patient: object, infusions: InfusionCalendar,
                      event_hours: np.ndarray | None = None) -> np.ndarray:
    """Hours since the patient's first infusion of each date, by the module's rule; NaN where the
    date is missing or the patient has no infusion date. ``event_hours``: each row's nominal time
    in hours (its REDCap event's, its visit label's), which places a date without a time of day
    within its day."""
    origin, origin_has_time, codes = infusions.first_of(patient)
    return _hours(dates, infusions.day_starts, codes, origin, origin_has_time, event_hours)[0]


def _hours(dates: Dates, day_starts: pd.Series, codes: np.ndarray, origin: np.ndarray,
           origin_has_time: np.ndarray, event_hours: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(hours since the first infusion, whole days since its day) of each date; ``day_starts``:
    the start of each (patient code, day) infusion day (:attr:`InfusionCalendar.day_starts`).

    A date without a time of day is placed within its day from ``event_hours`` h: for -1 < h < 24
    (a time within an infusion day: "pre" one minute before, "post", "4h"), h after the start of
    that day's first infusion (or the day's start on a day without one); else at h when h falls on
    that day (an event "day 7" dated day 7); else one minute before that day's infusion (or at the
    day's start)."""
    missing = np.isnat(dates.when) | np.isnat(origin)
    exact = (dates.when - origin).astype("timedelta64[ns]").astype("float64") / _HOUR_NS
    day = (dates.when.astype("datetime64[D]") - origin.astype("datetime64[D]")).astype("float64")
    exact[missing] = np.nan
    day[missing] = np.nan
    start = day * 24.0
    unlabelled = start.copy()  # where a date alone is, when nothing places it within its day
    if len(day_starts):
        by_day = np.flatnonzero(~missing & ~(dates.has_time & origin_has_time))
        found = day_starts.reindex(_day_key(codes[by_day], day[by_day])).to_numpy(dtype="float64")
        start[by_day] = np.where(np.isnan(found), start[by_day], found)
        unlabelled[by_day] = np.where(np.isnan(found), start[by_day], found + PRE_INFUSION_HOURS)
    placed = unlabelled
    if event_hours is not None:
        event_hours = np.asarray(event_hours, dtype="float64")
        with np.errstate(invalid="ignore"):
            within = (event_hours > -1.0) & (event_hours < 24.0)
            on_day = ~within & (event_hours >= day * 24.0) & (event_hours < day * 24.0 + 24.0)
        placed = np.where(within, start + event_hours, np.where(on_day, event_hours, unlabelled))
    return np.where(dates.has_time & origin_has_time, exact, placed), day
