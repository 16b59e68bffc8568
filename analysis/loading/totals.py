"""Total scores derived from items: a rating kept as its items alone (a survey's PHQ-9 answers, a
sheet of ``madrs_1`` ... ``madrs_10``) gets its total, by the instrument's rule
(:meth:`~analysis.instruments.Instrument.total_of`), when every item was rated.

A rating is the ratings of one patient and instrument at one time (and, without a time, one
visit). A rating whose file gives a total keeps that total. One with some items missing gets no
total: prorating is not standard for these scales, and a total from 8 of 9 PHQ-9 items would be
read as a PHQ-9 score; the ratings left without a total are named.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.instruments import get_instrument

__all__ = ["derive_totals"]

_LISTED = 10  # ratings named one by one in a warning


def _rating_starts(patient: np.ndarray, instrument: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Whether each row (in rating order) starts a new (patient, instrument, time) group; rows
    without a time are one group per patient and instrument here (split by visit later)."""
    same_time = (time[1:] == time[:-1]) | (np.isnan(time[1:]) & np.isnan(time[:-1]))
    return np.r_[True, (patient[1:] != patient[:-1]) | (instrument[1:] != instrument[:-1]) | ~same_time]


def _place(patient: str, hours: float, visit: Any) -> str:
    if not np.isnan(hours):
        return f"patient {patient} at {hours:g} h"
    return f"patient {patient} at visit {visit!r}" if not pd.isna(visit) else f"patient {patient}"


def _items_text(numbers: np.ndarray) -> str:
    shown = ", ".join(str(n) for n in numbers[:5]) + (" ..." if len(numbers) > 5 else "")
    return f"item {shown}" if len(numbers) == 1 else f"items {shown}"


def _warn_incomplete(report: Any, assessments: pd.DataFrame, incomplete: list, first: np.ndarray,
                     time: np.ndarray) -> None:
    """Warn about the ratings with some items missing (``incomplete``: (scale, ratings, item
    matrix) per instrument; ``first``: each rating's first item row), naming the first ones."""
    patient_ids = assessments["patient_id"]
    lacking = sum(len(r) for _, r, _ in incomplete)
    if not lacking:
        return
    listed = []
    for scale, ratings, matrix in incomplete:
        for r, values in zip(ratings[:_LISTED - len(listed)], matrix[:_LISTED], strict=False):
            missing = np.flatnonzero(np.isnan(values)) + 1
            row = first[r]
            listed.append(f"{_place(patient_ids.iat[row], time[row], assessments['visit'].iat[row])} "
                          f"({scale.name} {_items_text(missing)} missing)")
    rows = [first[r] for _, ratings, _ in incomplete for r in ratings]
    report.warn("items_without_total", f"{lacking} rating(s) have some items but not all and no total score, so "
                f"they have no total (a total is derived only from every item): {'; '.join(listed)}"
                f"{' ...' if lacking > len(listed) else ''}. Their items are kept.", lacking,
                rows=assessments["source_row"].to_numpy()[rows], patient_ids=pd.unique(patient_ids.iloc[rows]))


def derive_totals(report: Any, assessments: pd.DataFrame, patient: np.ndarray, instrument: np.ndarray,
                  instrument_names: pd.Index, time: np.ndarray, item: np.ndarray) -> tuple[pd.DataFrame, tuple | None]:
    """``assessments`` (in rating order: patient, instrument, time, item, the total first) with a
    total row added before the items of each rating that has every item and no total, and the
    order arrays ``(patient, instrument, time, item)`` of the result (None: nothing added).
    ``patient`` and ``instrument`` are the rows' codes, ``time`` in hours, ``item`` NaN for a
    total. Warnings go to ``report`` (codes ``totals_derived`` and ``items_without_total``)."""
    is_item = ~np.isnan(item)
    if not is_item.any():
        return assessments, None
    start = _rating_starts(patient, instrument, time)
    # The total sorts first within its rating: a rating without one starts with an item.
    untimed = np.isnan(time)
    if not (start & is_item).any() and not (untimed & is_item).any():
        return assessments, None
    starts = np.flatnonzero(start)
    sizes = np.diff(np.r_[starts, len(item)])
    has_total = np.isnan(item[starts])
    no_time = untimed[starts]
    candidate = (sizes > has_total) & (~has_total | no_time)

    group = np.repeat(np.arange(len(starts)), sizes)
    rows = np.flatnonzero(candidate[group])
    # Ratings without a time are told apart by their visit.
    visit = assessments["visit"].to_numpy(dtype=object, na_value=None)[rows]
    visit_code = pd.factorize(pd.Series(visit, dtype=object), use_na_sentinel=False)[0]
    key = group[rows].astype(np.int64) * (int(visit_code.max()) + 1) + np.where(no_time[group[rows]], visit_code, 0)
    rating = pd.factorize(key)[0]
    n_ratings = int(rating.max()) + 1
    rated_total = np.zeros(n_ratings, dtype=bool)
    np.logical_or.at(rated_total, rating, ~is_item[rows])
    item_rows = rows[is_item[rows]]
    item_rating = rating[is_item[rows]]
    # First item row of each rating: its position, visit, infusion and source row go to the total.
    first = np.full(n_ratings, len(item), dtype=np.int64)
    np.minimum.at(first, item_rating, item_rows)
    wanted = ~rated_total & (first < len(item))
    codes = instrument[np.minimum(first, len(item) - 1)]

    scores = assessments["score"].to_numpy(dtype=float)
    added, incomplete = [], []
    for code in np.unique(codes[wanted]):
        scale = get_instrument(str(instrument_names[code]))
        ratings = np.flatnonzero(wanted & (codes == code))
        matrix = np.full((n_ratings, scale.n_items), np.nan)
        mine = np.isin(item_rating, ratings) & (item[item_rows] <= scale.n_items)
        matrix[item_rating[mine], item[item_rows[mine]].astype(int) - 1] = scores[item_rows[mine]]
        matrix = matrix[ratings]
        complete = ~np.isnan(matrix).any(axis=1)
        added.append((scale, ratings[complete], scale.total_of(matrix[complete])))
        incomplete.append((scale, ratings[~complete], matrix[~complete]))

    _warn_incomplete(report, assessments, incomplete, first, time)
    ratings = np.concatenate([r for _, r, _ in added]) if added else np.empty(0, dtype=np.int64)
    if not len(ratings):
        return assessments, None
    totals = np.concatenate([t for _, _, t in added])
    at = first[ratings]
    new = assessments.iloc[at].copy()
    new["item"] = pd.array([pd.NA] * len(at), dtype="Int64")
    new["score"] = totals
    how = "; ".join(f"{scale.name} {len(r)} ({'the highest item of each domain, then the sum' if scale.domains else 'the sum of its items'})"
                    for scale, r, _ in added if len(r))
    report.warn("totals_derived", f"{len(at)} total score(s) were derived from ratings given as items only, by each "
                f"scale's rule: {how}.", len(at), rows=new["source_row"].to_numpy(),
                patient_ids=pd.unique(new["patient_id"]))
    # Each total goes first in its (patient, instrument, time) group, as totals sort.
    order = np.argsort(np.r_[np.arange(len(item), dtype=float), starts[group[at]] - 0.5], kind="stable")
    out = pd.concat([assessments, new], ignore_index=True).iloc[order].reset_index(drop=True)
    arrays = tuple(np.r_[values, values[at] if k < 3 else np.full(len(at), np.nan)][order]
                   for k, values in enumerate((patient, instrument, time, item)))
    return out, arrays
