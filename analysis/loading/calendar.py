"""Calendar dates -> hours since each patient's first infusion: the one rule every reader uses
(long files' ``infusion_date`` and ``assessment_date``, CDISC ``EXSTDTC``, REDCap date fields).
Dates identify people: readers convert them with this module and drop them; no message shows one.

The rule, for a date and the patient's first infusion date (the earliest of its infusions):

- both hold a time of day: the exact hours between them;
- otherwise the day gives the time: day 0 is the first infusion's day, so a date d days later is
  ``24 d`` hours; an event time that falls on that day refines it (a rating dated on the infusion
  day at the event "4h" is at 4 h, not 0). A date at midnight counts as a date without a time.

Dates are read as ISO 8601 first (``2024-01-03``, ``2024-01-03 09:30``, ``2024-01-03T09:30``),
then in any common form (``03/01/2024``), day first when ``dayfirst``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Dates", "FirstInfusion", "first_infusion", "hours_since_first", "parse_dates"]

_HOUR_NS = 3.6e12


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
    """Dates as written (text, or a spreadsheet's datetimes; time zones converted to UTC and
    dropped). Each distinct text is parsed once."""
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


def _parse_text(text: pd.Series, dayfirst: bool) -> np.ndarray:
    """Distinct date texts -> datetime64[ns] (NaT where unreadable)."""
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
class FirstInfusion:
    """Each patient's first infusion date (``when``, indexed by patient) and whether it holds a
    time of day (``has_time``)."""

    when: pd.Series
    has_time: pd.Series

    def __len__(self) -> int:
        return len(self.when)

    def of(self, patient: object) -> tuple[np.ndarray, np.ndarray]:
        """(first infusion date, whether it holds a time) of each row's patient; NaT and False for
        patients without one."""
        categorical = _categorical(patient)
        when = self.when.reindex(categorical.categories).to_numpy(dtype="datetime64[ns]")
        has_time = self.has_time.reindex(categorical.categories, fill_value=False).to_numpy(dtype=bool)
        codes = categorical.codes
        return (np.append(when, np.datetime64("NaT", "ns"))[codes], np.append(has_time, False)[codes])


def _categorical(patient: object) -> pd.Categorical:
    if isinstance(patient, pd.Categorical):
        return patient
    if isinstance(patient, pd.Series) and isinstance(patient.dtype, pd.CategoricalDtype):
        return patient.array
    return pd.Categorical(np.asarray(patient, dtype=object))


def first_infusion(dates: Dates, patient: object) -> FirstInfusion:
    """The earliest infusion date of each patient (``patient``: a label per row of ``dates``), and
    whether it holds a time of day (a date alone counts as midnight, so it is the earliest of its day)."""
    categorical = _categorical(patient)
    labels = pd.Index(categorical.categories)
    known = (categorical.codes >= 0) & ~np.isnat(dates.when)
    codes = categorical.codes[known]
    when = pd.Series(dates.when[known]).groupby(codes).min()
    at_first = dates.when[known] == when.reindex(codes).to_numpy()
    has_time = pd.Series(dates.has_time[known] & at_first).groupby(codes).any()
    return FirstInfusion(pd.Series(when.to_numpy(), index=labels[when.index]),
                         pd.Series(has_time.to_numpy(dtype=bool), index=labels[has_time.index]))


def hours_since_first(dates: Dates, patient: object, first: FirstInfusion,
                      event_hours: np.ndarray | None = None) -> np.ndarray:
    """Hours since the patient's first infusion of each date, by the module's rule; NaN where the
    date is missing or the patient has no first infusion date. ``event_hours``: each row's
    nominal time in hours (e.g. its REDCap event's), which refines a date without a time of day."""
    origin, origin_has_time = first.of(patient)
    exact = (dates.when - origin).astype("timedelta64[ns]").astype("float64") / _HOUR_NS
    day = (dates.when.astype("datetime64[D]") - origin.astype("datetime64[D]")).astype("float64") * 24.0
    missing = np.isnat(dates.when) | np.isnat(origin)
    exact[missing] = np.nan
    day[missing] = np.nan
    by_day = day
    if event_hours is not None:
        event_hours = np.asarray(event_hours, dtype="float64")
        with np.errstate(invalid="ignore"):
            on_day = (event_hours >= day) & (event_hours < day + 24.0)
        by_day = np.where(on_day, event_hours, day)
    return np.where(dates.has_time & origin_has_time, exact, by_day)
