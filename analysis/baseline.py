"""The two anchors of every analysis: each patient's first infusion and baseline rating.

One implementation of each rule for the package:

- **first infusion**: the patient's infusion with the earliest start (``time_hours``); ties
  are broken by ``infusion_number``, then by input order. A patient without an infusion
  record has, by the data contract, one IV infusion assumed at time 0.
- **baseline**: per instrument, the last total-score rating (``item`` NA) at or before the
  start of the patient's first infusion; of several ratings at the same time, the last in
  input order. A baseline of 0 is a baseline: only percent-based rules (percent change,
  response, relapse as a fraction of baseline) cannot use it.

::

    import analysis
    from analysis.baseline import baseline_scores, first_infusions
    data = analysis.load_sample()
    first_infusions(data)                   # patient_id, time_hours, dose_mg_per_kg, route, ...
    baseline_scores(data, "MADRS")          # patient_id, baseline_score, baseline_time_hours
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.instruments import UnknownInstrumentError, get_instrument

__all__ = [
    "ASSUMED_ROUTE",
    "baseline_rule",
    "baseline_scores",
    "first_infusions",
    "no_baseline_message",
    "no_scale_message",
    "rated_against_baseline",
    "require_baseline",
]

# Route of the one infusion assumed (data contract) for a patient without an infusion record.
ASSUMED_ROUTE = "IV"


def _infusions_of(data: Any) -> pd.DataFrame:
    infusions = getattr(data, "infusions", data)
    if not isinstance(infusions, pd.DataFrame):
        raise AnalysisError("first_infusions needs an OutcomeData or its infusions table (a DataFrame).")
    return infusions


def first_infusions(data: Any) -> pd.DataFrame:
    """One row per patient with an infusion record: every column of the infusions table at the
    patient's first infusion (earliest start; ties by ``infusion_number``, then input order).

    ``data`` is an OutcomeData or its infusions table. Patients without an infusion record
    have no row (the contract assumes one IV infusion at time 0 for them).
    """
    infusions = _infusions_of(data)
    if infusions.empty:
        return infusions.iloc[:0].reset_index(drop=True)
    keys = [c for c in ("patient_id", "time_hours", "infusion_number") if c in infusions.columns]
    ordered = infusions.sort_values(keys, kind="stable")
    return ordered.drop_duplicates("patient_id", keep="first").reset_index(drop=True)


def baseline_rule(instrument: str) -> str:
    """The baseline rule in one sentence (for ``describe()`` lines)."""
    return (f"Baseline: the last {instrument} total-score rating at or before the start of the "
            "first infusion.")


def no_baseline_message(instrument: str, what: str) -> str:
    """The message when no patient has a baseline rating of ``instrument`` (what = the analysis)."""
    return (f"No patient has a {instrument} baseline (no baseline: no {instrument} total-score rating "
            f"at or before the start of the first infusion), so {what} cannot be computed. Add the "
            "pre-infusion ratings (time_hours <= 0) or a baseline column, or choose another instrument.")


def no_scale_message(instrument: str, what: str, present: list[str]) -> str:
    """The message when the data has no total-score rating of the depression scale asked for
    (``present``: instruments in the data; the depression scales among them are offered)."""
    scales = [name for name in present if _domain(name) == "depression" and name != instrument]
    head = (f"{what[0].upper()}{what[1:]} needs a depression scale and the data has no {instrument} "
            "total-score ratings")
    if scales:
        return f"{head}; it has {', '.join(scales)}: choose one with instrument=\"{scales[0]}\"."
    return f"{head} and no other depression scale: load {instrument} ratings (or those of another depression scale)."


def _domain(name: str) -> str:
    try:
        return str(get_instrument(name).domain)
    except UnknownInstrumentError:  # an unregistered name in the data: not offered as a scale
        return ""


def require_baseline(endpoints: Any, what: str, present: list[str] | None = None, *, data: Any = None) -> None:
    """Raise AnalysisError, in words, when derived endpoints hold no patient: no ratings of the
    scale (``no_scale_message``), no baseline (``no_baseline_message``) or only baselines of 0.
    ``present``: the instruments in the data (default: ``data.instruments`` when ``data``, the
    OutcomeData or Endpoints analysed, has them)."""
    if len(endpoints.patients):
        return
    instrument = str(getattr(endpoints.settings, "instrument", "the instrument"))
    reasons = endpoints.excluded["reason"].astype(str) if len(endpoints.excluded) else pd.Series(dtype=str)
    if reasons.str.contains("baseline score is 0").any() and not reasons.str.contains("no baseline").any():
        raise AnalysisError(f"Every {instrument} baseline is 0, so {what} (which divides by the baseline) "
                            "cannot be computed; raw scores and absolute change can (value='score' or 'change').")
    if reasons.str.contains("no baseline").any():
        raise AnalysisError(no_baseline_message(instrument, what))
    if present is None:
        present = list(getattr(data, "instruments", []) or [])
    raise AnalysisError(no_scale_message(instrument, what, [p for p in present if p != instrument]))


def _ratings_of(data: Any, instrument: str, item: int | None, patient_ids: Any) -> pd.DataFrame:
    a = data.assessments
    which = a["item"].isna().to_numpy(bool) if item is None else (a["item"] == item).fillna(False).to_numpy(bool)
    selected = which & (np.asarray(a["instrument"].array) == instrument)
    if patient_ids is not None:
        selected &= a["patient_id"].isin(pd.Index(pd.Series(patient_ids).astype(str))).to_numpy(bool)
    return a.loc[selected]


def baseline_blocks(codes: np.ndarray, time: np.ndarray, first_start: np.ndarray,
                    n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """The baseline rule on arrays: ratings sorted by (patient code, time, input order),
    ``first_start`` the start (hours) of each code's first infusion. Returns ``(n_pre,
    block_start)`` per code: how many ratings lie at or before the first infusion (they open
    the code's block; the baseline is the last of them, row ``block_start + n_pre - 1``, when
    ``n_pre > 0``) and the code's first row."""
    pre = time <= first_start[codes]
    n_pre = np.bincount(codes[pre], minlength=n_codes)
    block_start = np.r_[0, np.cumsum(np.bincount(codes, minlength=n_codes))[:-1]].astype(np.int64)
    return n_pre, block_start


def rated_against_baseline(data: Any, instrument: str, *, item: int | None = None,
                           keep_without_baseline: bool = False, patient_ids: Any = None) -> pd.DataFrame:
    """Every rating of ``instrument`` from the baseline on, with the baseline.

    One row per total-score rating (or, with ``item``, per rating of that item) of the
    patients who have a baseline (including a baseline of 0): patient_id (str), time_hours,
    visit, score, baseline_score, change (points, score - baseline), is_baseline; ratings
    before the baseline are dropped. With ``keep_without_baseline`` the post-infusion ratings of
    patients without a baseline are kept too (baseline_score and change NaN). ``patient_ids``
    restricts the rows to those patients. Sorted by patient and time, ties in input order.
    Vectorised on integer patient codes (no Python loop over patients).
    """
    name = get_instrument(instrument).name
    rows = _ratings_of(data, name, item, patient_ids)
    codes, uniques = pd.factorize(rows["patient_id"].astype("string"), sort=True)
    time = rows["time_hours"].to_numpy(float)
    order = np.lexsort((np.arange(len(rows)), time, codes))  # patient, time, input order
    codes, time = codes[order], time[order]
    score = rows["score"].to_numpy(float)[order]
    first = first_infusions(data)
    start_by_id = pd.Series(first["time_hours"].to_numpy(float), index=first["patient_id"].astype(str).to_numpy())
    first_start = start_by_id.reindex(np.asarray(uniques, dtype=object)).fillna(0.0).to_numpy(float)
    n_codes = len(uniques)
    n_pre, block_start = baseline_blocks(codes, time, first_start, n_codes)
    position = np.arange(len(codes)) - block_start[codes]
    has_baseline = n_pre[codes] > 0
    keep = (has_baseline & (position >= n_pre[codes] - 1)) | (keep_without_baseline & ~has_baseline)
    is_baseline = has_baseline & (position == n_pre[codes] - 1)
    baseline_by_code = np.full(n_codes, np.nan)
    baseline_by_code[codes[is_baseline]] = score[is_baseline]
    visit = (rows["visit"].array.take(order) if "visit" in rows.columns
             else pd.array([pd.NA] * len(rows), dtype="string"))
    baseline = baseline_by_code[codes]
    frame = pd.DataFrame({
        "patient_id": np.asarray(uniques, dtype=object)[codes],
        "time_hours": time,
        "visit": visit,
        "score": score,
        "baseline_score": baseline,
        "change": score - baseline,
        "is_baseline": is_baseline,
    })
    return frame.loc[keep].reset_index(drop=True)


def baseline_scores(data: Any, instrument: str, patient_ids: Any = None) -> pd.DataFrame:
    """One row per patient with a baseline of ``instrument``: patient_id (str), baseline_score,
    baseline_time_hours (hours since the start of the first infusion; 0 or negative).
    ``patient_ids`` restricts the search to those patients."""
    rated = rated_against_baseline(data, instrument, patient_ids=patient_ids)
    base = rated.loc[rated["is_baseline"].to_numpy(bool)]
    return pd.DataFrame({"patient_id": base["patient_id"].to_numpy(),
                         "baseline_score": base["score"].to_numpy(float),
                         "baseline_time_hours": base["time_hours"].to_numpy(float)})
