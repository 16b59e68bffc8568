"""Clinical endpoints from rating-scale scores: baseline, change, response, remission, onset, relapse.

One implementation shared by the time-to-event fits (``fit_onset``, ``fit_durability``) and the
longitudinal analyses (trajectories, responder rates), so every output uses the same baseline
and the same response definition::

    import analysis
    ep = analysis.derive_endpoints(analysis.simulate(300, seed=1), instrument="MADRS")
    ep.settings.describe()
    ep.patients[["patient_id", "responded", "onset_lower_hours", "onset_upper_hours"]]

``derive_endpoints`` is a pipeline of named stages, each a function of its own:
``_index_infusions`` (patients and infusions on integer codes; the course of each patient),
``_baseline`` (the baseline rule), ``_ratings`` (change, response and remission per rating),
``_onset`` (response onset intervals), ``_relapse`` (durability origin, relapse intervals and
intercurrent events) and ``_covariates`` (the patient table). Everything is computed on whole
columns (sorting, cumulative counts), never with a Python loop over patients.

Results are cached: the same dataset (by ``OutcomeData.fingerprint``) with the same settings
returns the same Endpoints without deriving them again (the last ``CACHE_SIZE`` derivations
are kept; ``clear_cache()`` empties it), so a script calling several fits on one dataset pays
for the derivation once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.baseline import baseline_blocks
from analysis.contract import OutcomeData
from analysis.errors import AnalysisError
from analysis.grouping import SERIES_GAP_DAYS, series_blocks
from analysis.instruments import get_instrument
from analysis.intercurrent import (
    apply_strategies,
    describe_strategies,
    first_intercurrent,
    intercurrent_strategies,
)

__all__ = ["CACHE_SIZE", "EndpointSettings", "Endpoints", "clear_cache", "derive_endpoints"]

ORIGINS = ("auto", "response", "last_infusion")
# Dissociation is summarised as the peak CADSS total within this window after any infusion.
PEAK_CADSS_WINDOW_HOURS = (0.0, 4.0)
# Tolerance for "reduction >= response" so that e.g. 30 -> 15 counts as exactly 50%.
_EPS = 1e-9
CACHE_SIZE = 4


@dataclass(frozen=True)
class EndpointSettings:
    """The definitions used to derive endpoints (travel with every result).

    Attributes
    ----------
    instrument : canonical instrument name.
    response : minimum fractional reduction from baseline that counts as response (0.5 = 50%).
    remission_max : remission is ``score <= remission_max``.
    relapse : ``"loss_of_response"``, an absolute score threshold (relapse when
        ``score >= threshold``), or ``("fraction_of_baseline", f)`` (relapse when
        ``score >= f * baseline``).
    confirm_visits : number of consecutive qualifying ratings required for relapse; the relapse
        is dated at the first of them.
    origin : day 0 of durability: ``"auto"`` (response onset after a single infusion; the later
        of response onset and the start of the last infusion of the induction series for a
        series), ``"response"`` (the first responding rating) or ``"last_infusion"`` (the start
        of the patient's last infusion, boosters included).
    series_gap_days : longest gap (days) between consecutive infusions of an induction series.
    intercurrent : ``(event, strategy)`` pairs (see ``analysis.intercurrent``).
    """

    instrument: str
    response: float
    remission_max: float | None
    relapse: Any
    confirm_visits: int
    origin: str
    series_gap_days: float = SERIES_GAP_DAYS
    intercurrent: tuple[tuple[str, str], ...] = intercurrent_strategies()

    @property
    def relapse_rule(self) -> str:
        """Short name of the relapse rule: loss_of_response, absolute or fraction_of_baseline."""
        if isinstance(self.relapse, str):
            return self.relapse
        if isinstance(self.relapse, tuple):
            return "fraction_of_baseline"
        return "absolute"

    @property
    def origin_text(self) -> str:
        """The durability clock in words (printed on every durability output)."""
        if self.origin == "response":
            return "days from the first responding rating (response onset)"
        if self.origin == "last_infusion":
            return "days from the start of the patient's last infusion (boosters included)"
        return ("days from response onset after a single infusion, and from the later of response "
                "onset and the start of the last infusion of the induction series for a series "
                f"(infusions at most {self.series_gap_days:g} days apart; later infusions are boosters)")

    def describe(self) -> list[str]:
        """Plain-language definitions, one sentence each (for tables, figures and exports)."""
        pct = f"{100 * self.response:g}%"
        rule = self.relapse_rule
        if rule == "loss_of_response":
            relapse = f"relapse = a rating no longer at least {pct} below baseline"
        elif rule == "absolute":
            relapse = f"relapse = a {self.instrument} score of {self.relapse:g} or more"
        else:
            relapse = (f"relapse = a score of at least {100 * self.relapse[1]:g}% of the "
                       "patient's baseline score")
        confirm = ("a single qualifying rating suffices" if self.confirm_visits == 1 else
                   f"{self.confirm_visits} consecutive qualifying ratings are required and the "
                   "relapse is dated at the first of them")
        remission = ("Remission: not defined for this instrument." if self.remission_max is None
                     else f"Remission: {self.instrument} score of {self.remission_max:g} or less.")
        return [
            f"Instrument: {self.instrument} total score.",
            f"Baseline: the last {self.instrument} rating at or before the start of the first "
            "infusion; patients without one are excluded.",
            f"Response: a reduction of at least {pct} from baseline.",
            remission,
            "Response onset: the interval (in hours since the infusion that preceded the first "
            "responding rating) between the previous non-responding rating (or that infusion's "
            "start) and the first responding rating; right-censored at the last rating for "
            "patients who never respond.",
            f"Relapse (responders only): {relapse}; {confirm}; time to relapse is counted in "
            f"{self.origin_text} (origin={self.origin!r}). Patients without relapse are censored "
            "at their last rating.",
            describe_strategies(self.intercurrent),
        ]


@dataclass(frozen=True)
class Endpoints:
    """Derived endpoints (see ``derive_endpoints`` for the definitions of every column).

    Attributes
    ----------
    settings : EndpointSettings used.
    ratings : one row per baseline and post-baseline total-score rating.
    patients : one row per patient with a baseline.
    by_infusion : one row per patient and infusion.
    excluded : patients without a usable baseline, with the reason.
    infusions : the infusions table of the data (for infusion-level ``by=`` columns).
    """

    settings: EndpointSettings
    ratings: pd.DataFrame
    patients: pd.DataFrame
    by_infusion: pd.DataFrame
    excluded: pd.DataFrame
    infusions: pd.DataFrame | None = None

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    def summary(self) -> pd.DataFrame:
        """One row: patients, excluded, responders, remitters, relapses, censored responders."""
        p = self.patients
        responders = int(p["responded"].sum())
        relapses = int(p["relapse_event"].sum())
        return pd.DataFrame({
            "instrument": [self.settings.instrument],
            "origin": [self.settings.origin],
            "patients": [len(p)],
            "excluded": [len(self.excluded)],
            "ratings": [len(self.ratings)],
            "responders": [responders],
            "remitters": [int(p["remitted"].sum())],
            "relapses": [relapses],
            "responders_censored": [responders - relapses],
        })

    def __repr__(self) -> str:
        p = self.patients
        return (f"Endpoints({self.settings.instrument}: {len(p)} patients, "
                f"{int(p['responded'].sum())} responders, {int(p['relapse_event'].sum())} relapses, "
                f"{len(self.excluded)} excluded; origin={self.settings.origin!r})")


# --------------------------------------------------------------------------------------------
# cache of derivations

class _Cache:
    """The last ``CACHE_SIZE`` derivations, keyed by dataset fingerprint and settings."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[tuple, Endpoints] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Endpoints | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple, value: Endpoints) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _Cache(CACHE_SIZE)


def clear_cache() -> None:
    """Forget every cached derivation (e.g. after changing a dataset's tables in place)."""
    _CACHE.clear()


# --------------------------------------------------------------------------------------------
# helpers on sorted integer codes

def _first_per_group(rows: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """For sorted ``rows`` (indices) with their ``group`` codes: the first row per group (-1 if none)."""
    out = np.full(n_groups, -1, dtype=np.int64)
    if len(rows):
        keep = np.r_[True, group[1:] != group[:-1]]
        out[group[keep]] = rows[keep]
    return out


def _last_per_group(rows: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """As ``_first_per_group``, the last row per group (-1 if none)."""
    return _first_per_group(rows[::-1], group[::-1], n_groups)


def _assign_infusions(code: np.ndarray, time: np.ndarray, inf_code: np.ndarray, inf_time: np.ndarray,
                      inf_start: np.ndarray) -> np.ndarray:
    """Position (1-based, within patient) of the most recent infusion at or before each time; 0 if none.

    Infusions must be sorted by (code, time); ``inf_start[c]`` is the first infusion row of
    patient c. One binary search on the key ``code * span + time``; the result is verified
    and, if rounding of that float key ever misplaced a time, redone on exact integer ranks.
    """
    if len(inf_code) == 0 or len(code) == 0:
        return np.zeros(len(code), dtype=np.int64)
    t_min = min(float(inf_time.min()), float(time.min()))
    span = max(float(inf_time.max()), float(time.max())) - t_min + 1.0
    inf_key = inf_code * span + (inf_time - t_min)
    key = code * span + (time - t_min)
    pos = np.searchsorted(inf_key, key, side="right") - inf_start[code]
    n_inf = np.bincount(inf_code, minlength=len(inf_start))[code]
    row = inf_start[code] + pos
    ok_before = (pos == 0) | (inf_time[np.maximum(row - 1, 0)] <= time)
    ok_after = (pos >= n_inf) | (inf_time[np.minimum(row, len(inf_time) - 1)] > time)
    bad = (pos < 0) | (pos > n_inf) | ~ok_before | ~ok_after
    if not bad.any():
        return pos
    grid = np.unique(np.concatenate([inf_time, time]))
    width = len(grid) + 1
    inf_rank = inf_code.astype(np.int64) * width + np.searchsorted(grid, inf_time)
    rank = code.astype(np.int64) * width + np.searchsorted(grid, time)
    return np.searchsorted(inf_rank, rank, side="right") - inf_start[code]


def _sort_order(code: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Stable order by (code, time); skips the sort when the input is already in that order."""
    if len(code) < 2:
        return np.arange(len(code))
    same = code[1:] == code[:-1]
    if np.all((code[1:] > code[:-1]) | (same & (time[1:] >= time[:-1]))):
        return np.arange(len(code))
    return np.lexsort((time, code))


def _relapse_rule(relapse: Any) -> Any:
    if isinstance(relapse, str):
        if relapse != "loss_of_response":
            raise AnalysisError(f"relapse={relapse!r}: use 'loss_of_response', a score threshold "
                                "(e.g. 22) or ('fraction_of_baseline', 0.75).")
        return relapse
    if isinstance(relapse, (tuple, list)):
        if len(relapse) != 2 or relapse[0] != "fraction_of_baseline" or not float(relapse[1]) > 0:
            raise AnalysisError(f"relapse={relapse!r}: expected ('fraction_of_baseline', f) with f > 0.")
        return ("fraction_of_baseline", float(relapse[1]))
    if isinstance(relapse, (int, float, np.number)) and not isinstance(relapse, bool):
        return float(relapse)
    raise AnalysisError(f"relapse={relapse!r} is not a relapse rule: use 'loss_of_response', a score "
                        "threshold (e.g. 22) or ('fraction_of_baseline', 0.75).")


def _patient_codes(data: OutcomeData, assessment_rows: list[np.ndarray]) -> tuple[pd.Index, list[np.ndarray]]:
    """Integer codes for patient ids shared by the patients and infusions tables and the chosen
    assessment rows (only those are factorised: item rows can be ten times as many)."""
    ids = data.assessments["patient_id"]
    parts = [data.patients["patient_id"], data.infusions["patient_id"],
             *(ids.iloc[rows] for rows in assessment_rows)]
    sizes = [len(p) for p in parts]
    codes, uniques = pd.factorize(pd.concat(parts, ignore_index=True).astype("string"), sort=False)
    return pd.Index(uniques, dtype="string"), np.split(codes, np.cumsum(sizes)[:-1])


def endpoint_settings(instrument: str = "MADRS", response: float = 0.5, remission: float | None = None,
                      relapse: Any = "loss_of_response", confirm_visits: int = 1, origin: str = "auto",
                      series_gap_days: float = SERIES_GAP_DAYS,
                      intercurrent: Mapping[str, str] | None = None, competing: Any = None) -> EndpointSettings:
    """Validated EndpointSettings from the arguments of ``derive_endpoints``."""
    inst = get_instrument(instrument)
    if not 0 < response <= 1:
        raise AnalysisError(f"response={response}: must be a fraction in (0, 1], e.g. 0.5 for 50%.")
    if origin not in ORIGINS:
        raise AnalysisError(f"origin={origin!r}: use one of {', '.join(ORIGINS)}.")
    confirm_visits = int(confirm_visits)
    if confirm_visits < 1:
        raise AnalysisError("confirm_visits must be at least 1.")
    if not float(series_gap_days) > 0:
        raise AnalysisError(f"series_gap_days={series_gap_days}: the longest gap within a series must be "
                            "a positive number of days (default 7).")
    remission_max = inst.remission_max if remission is None else float(remission)
    return EndpointSettings(inst.name, float(response), remission_max, _relapse_rule(relapse), confirm_visits,
                            origin, float(series_gap_days), intercurrent_strategies(intercurrent, competing))


# --------------------------------------------------------------------------------------------

def derive_endpoints(
    data: OutcomeData,
    instrument: str = "MADRS",
    response: float = 0.5,
    remission: float | None = None,
    relapse: Any = "loss_of_response",
    confirm_visits: int = 1,
    origin: str = "auto",
    series_gap_days: float = SERIES_GAP_DAYS,
    intercurrent: Mapping[str, str] | None = None,
    competing: Any = None,
) -> Endpoints:
    """Baseline, change, response, remission, response onset and relapse for one instrument.

    Parameters
    ----------
    data : OutcomeData
        A validated dataset. Times are hours since the start of the first infusion.
    instrument : str
        Instrument name or alias; only total scores (``item`` NA) are used.
    response : float
        Fractional reduction from baseline that counts as response (default 0.5 = 50%).
    remission : float, optional
        Remission is ``score <= remission``; default the instrument's ``remission_max``.
    relapse : str, float or tuple
        ``"loss_of_response"`` (a rating no longer ``response`` below baseline), a number
        (relapse when ``score >= number``, e.g. MADRS 22), or ``("fraction_of_baseline", f)``
        (relapse when ``score >= f * baseline``).
    confirm_visits : int
        Consecutive qualifying ratings needed for a relapse (dated at the first of them). If the
        follow-up ends before a run can be confirmed the patient is censored.
    origin : {"auto", "response", "last_infusion"}
        Zero of the durability clock. ``"auto"`` (default): the first responding rating after a
        single infusion; for an induction series (2+ infusions each within ``series_gap_days``
        of the previous, ``analysis.grouping.course_of_patients``) the later of that rating and
        the start of the series' last infusion, as papers count a series. ``"response"``: the
        first responding rating for everyone; ``"last_infusion"``: the start of the patient's
        last infusion, boosters included. Relapse is looked for in ratings after both the
        response and the origin.
    series_gap_days : float
        Longest gap in days between consecutive infusions of an induction series (default 7).
    intercurrent : dict, optional
        Strategy per event kind (``analysis.intercurrent``), e.g. ``{"booster": "hypothetical",
        "rescue": "competing"}``; defaults in ``analysis.intercurrent.DEFAULT_STRATEGIES``.
    competing : str or list, optional
        Event label(s) treated as competing risks (shorthand for ``intercurrent``).

    Returns
    -------
    Endpoints
        ``ratings`` (patient_id, time_hours, time_days, visit, score, baseline_score, change,
        pct_change = 100 * change / baseline, improvement_pct = -pct_change, responder,
        remitter, is_baseline, infusion_number = most recent infusion at or before the rating
        (0 for the baseline rating), hours_since_infusion (NaN for the baseline)).

        ``patients`` (one row per patient with a baseline): baseline_score, n_ratings
        (post-baseline), n_infusions, course (single / series), n_series_infusions,
        n_boosters (infusions after the induction series), first_dose_mg_per_kg, route (first
        infusion), the patient covariates (a ``course`` column of the patients table is replaced
        by the derived one), peak_cadss (max CADSS total 0-4 h after any infusion), responded,
        onset_infusion, onset_lower_hours / onset_upper_hours (interval in hours since the
        infusion preceding the first responding rating: lower = the previous rating if it lies
        after that infusion, else 0; non-responders: lower = hours since the most recent
        infusion at the last rating, upper = inf), onset_time_hours (first responding rating,
        hours since the first infusion), last_rating_hours (hours since the first infusion),
        remitted, durability_origin_hours (day 0 of the durability clock, hours since the
        first infusion; NaN for non-responders), relapsed (NA for non-responders),
        relapse_lower_days / relapse_upper_days (interval in days since the origin; lower = the
        rating before the relapse-dated one, clipped at 0; censored: upper = inf and lower = the
        last rating not part of an unconfirmed qualifying run), relapse_time_days (the
        relapse-dated rating, or the last rating if censored; the right-censored convention),
        relapse_event, relapse_status (0 censored, 1 relapse or composite event, 2 competing
        event), intercurrent_event and intercurrent_days (the first acting event after the
        origin, days since the origin; "" and NaN when none).

        ``by_infusion``: patient_id, infusion_number, n_ratings, responder, remitter (any
        rating after that infusion and before the next; NA when no rating), best_pct_change,
        first_response.

        ``excluded``: patient_id, reason.

    Notes
    -----
    A baseline of 0 leaves percent change undefined; such patients are excluded. Ratings taken
    at the same time keep the order of the input (the last one at or before time 0 is the
    baseline; earlier ones at that time are dropped). Derivations are cached by dataset
    fingerprint and settings (``clear_cache``).
    """
    settings = endpoint_settings(instrument, response, remission, relapse, confirm_visits, origin,
                                 series_gap_days, intercurrent, competing)
    fingerprint = getattr(data, "fingerprint", None)
    key = (fingerprint, settings)
    if fingerprint is not None:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
    endpoints = _derive(data, settings)
    if fingerprint is not None:
        _CACHE.put(key, endpoints)
    return endpoints


@dataclass
class _Infusions:
    """Infusions sorted by (patient code, start), with per-patient positions and the course."""

    order: np.ndarray
    code: np.ndarray
    time: np.ndarray
    number: np.ndarray
    n: np.ndarray            # infusions per patient code
    start: np.ndarray        # first row of each patient
    has: np.ndarray
    first_time: np.ndarray   # start of the first infusion (0 when none: the assumed infusion)
    last_time: np.ndarray
    series_end: np.ndarray   # start of the last infusion of the induction series
    n_series: np.ndarray
    is_series: np.ndarray
    booster: np.ndarray      # rows (of the sorted arrays) after the induction series


@dataclass
class _Rated:
    """Baseline and post-baseline ratings of valid patients, sorted by (code, time)."""

    rows_src: np.ndarray
    code: np.ndarray
    time: np.ndarray
    score: np.ndarray
    start: np.ndarray
    counts: np.ndarray
    is_base: np.ndarray
    baseline: np.ndarray       # per rating
    baseline_all: np.ndarray   # per code
    valid: np.ndarray          # per code
    excluded: pd.DataFrame


def _derive(data: OutcomeData, settings: EndpointSettings) -> Endpoints:
    a = data.assessments
    is_total = a["item"].isna().to_numpy()
    instrument_values = np.asarray(a["instrument"].array)
    sel = np.flatnonzero(is_total & (instrument_values == settings.instrument))
    sel_cadss = np.flatnonzero(is_total & (instrument_values == "CADSS"))
    uniques, code_parts = _patient_codes(data, [sel, sel_cadss])
    codes = dict(zip(("patients", "infusions", "assessments", "cadss"), code_parts, strict=True))
    n_codes = len(uniques)

    inf = _index_infusions(data, codes["infusions"], uniques, settings.series_gap_days)
    rated = _baseline(data, sel, codes["assessments"], codes["patients"], inf, uniques, settings.instrument)
    ratings, per_rating = _ratings(data, rated, inf, settings, uniques)
    onset = _onset(rated, per_rating, inf, n_codes)
    relapse = _relapse(data, rated, per_rating, onset, inf, settings, uniques)
    patients = _covariates(data, rated, onset, relapse, inf, codes, sel_cadss, uniques)
    by_infusion = _by_infusion(rated.code, per_rating["inf_pos"], per_rating["post"], per_rating["responder"],
                               per_rating["remitter"], per_rating["pct_change"], rated.valid, inf.n, inf.start,
                               inf.number, onset["first_resp"], uniques)
    return Endpoints(settings, ratings, patients, by_infusion, rated.excluded, data.infusions)


def _index_infusions(data: OutcomeData, inf_code_raw: np.ndarray, uniques: pd.Index,
                     gap_days: float) -> _Infusions:
    """Stage "infusions": sorted infusions, first and last start, and the induction series
    (``analysis.grouping.series_blocks``: the package's one course rule)."""
    n_codes = len(uniques)
    infusions = data.infusions
    inf_time_raw = infusions["time_hours"].to_numpy(dtype=float)
    order = _sort_order(inf_code_raw, inf_time_raw)
    code = inf_code_raw[order]
    time = inf_time_raw[order]
    number = infusions["infusion_number"].to_numpy(dtype=np.int64)[order]
    n = np.bincount(code, minlength=n_codes)
    start = np.r_[0, np.cumsum(n)[:-1]]
    has = n > 0
    # contract: with no infusion recorded, one infusion at time 0 is assumed
    first_time = np.where(has, time[np.minimum(start, max(len(time) - 1, 0))] if len(time) else 0.0, 0.0)
    last_time = np.where(has, time[np.maximum(start + n - 1, 0)] if len(time) else 0.0, 0.0)
    n_series, series_end = series_blocks(code, time, n_codes, gap_days)
    # contract: with no infusion recorded, one infusion at time 0 is assumed (a single infusion)
    n_series = np.where(has, n_series, 1).astype(np.int64)
    series_end = np.where(has, series_end, 0.0)
    is_series = n_series >= 2
    booster = np.flatnonzero(time > series_end[code]) if len(code) else np.zeros(0, dtype=np.int64)
    return _Infusions(order, code, time, number, n, start, has, first_time, last_time, series_end, n_series,
                      is_series, booster)


def _baseline(data: OutcomeData, sel: np.ndarray, a_code: np.ndarray, patient_codes: np.ndarray,
              inf: _Infusions, uniques: pd.Index, instrument: str) -> _Rated:
    """Stage "baseline": the last rating at or before the first infusion; exclusions; the
    ratings kept (the baseline and everything after it, for patients with a usable baseline)."""
    a = data.assessments
    n_codes = len(uniques)
    a_time = a["time_hours"].to_numpy(dtype=float)[sel]
    order = _sort_order(a_code, a_time)
    rows_src = sel[order]
    code = a_code[order]
    time = a_time[order]
    score = a["score"].to_numpy(dtype=float)[rows_src]
    counts = np.bincount(code, minlength=n_codes)
    n_pre, start = baseline_blocks(code, time, inf.first_time, n_codes)  # analysis.baseline's rule
    base_idx = start + n_pre - 1
    baseline_all = np.full(n_codes, np.nan)
    has_base = n_pre > 0
    baseline_all[has_base] = score[base_idx[has_base]]
    valid = has_base & (baseline_all > 0)

    reasons = np.full(n_codes, "", dtype=object)
    reasons[counts == 0] = f"no {instrument} total-score rating"
    reasons[(counts > 0) & ~has_base] = f"no {instrument} rating at or before the first infusion (no baseline)"
    reasons[has_base & ~(baseline_all > 0)] = "baseline score is 0, so percent change is undefined"
    known = np.zeros(n_codes, dtype=bool)
    known[patient_codes] = True
    known[code] = True
    excl = np.flatnonzero(known & ~valid)
    excluded = pd.DataFrame({"patient_id": pd.array(uniques.take(excl), dtype="string"),
                             "reason": pd.array(reasons[excl], dtype="string")})

    pos = np.arange(len(code)) - start[code]
    kidx = np.flatnonzero(valid[code] & (pos >= n_pre[code] - 1))
    rows_src, code, time, score = rows_src[kidx], code[kidx], time[kidx], score[kidx]
    counts = np.bincount(code, minlength=n_codes)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    is_base = np.zeros(len(code), dtype=bool)
    is_base[start[valid]] = True
    return _Rated(rows_src, code, time, score, start, counts, is_base, baseline_all[code], baseline_all, valid,
                  excluded)


def _ratings(data: OutcomeData, r: _Rated, inf: _Infusions, settings: EndpointSettings,
             uniques: pd.Index) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Stage "ratings": the infusion before each rating, change, response and remission."""
    code, time = r.code, r.time
    inf_pos = _assign_infusions(code, time, inf.code, inf.time, inf.start)
    inf_pos[r.is_base] = 0
    after = inf_pos > 0
    inf_row = inf.start[code] + inf_pos - 1
    hours_since = np.full(len(code), np.nan)
    hours_since[after] = time[after] - inf.time[inf_row[after]]
    infusion_number = np.zeros(len(code), dtype=np.int64)
    infusion_number[after] = inf.number[inf_row[after]]
    # patients without an infusion record: the assumed infusion at time 0
    assumed = ~inf.has[code] & ~r.is_base
    hours_since[assumed] = time[assumed]
    infusion_number[assumed] = 1
    inf_pos[assumed] = 1

    change = r.score - r.baseline
    pct_change = 100.0 * change / r.baseline
    responder = (r.baseline - r.score) >= settings.response * r.baseline - _EPS
    remitter = (r.score <= settings.remission_max) if settings.remission_max is not None \
        else np.zeros(len(code), bool)
    a = data.assessments
    visit_col = a["visit"] if "visit" in a.columns else pd.Series(pd.NA, index=a.index, dtype="string")
    ratings = pd.DataFrame({
        "patient_id": pd.array(uniques.take(code), dtype="string"),
        "time_hours": time,
        "time_days": time / 24.0,
        "visit": visit_col.array.take(r.rows_src),
        "score": r.score,
        "baseline_score": r.baseline,
        "change": change,
        "pct_change": pct_change,
        "improvement_pct": 0.0 - pct_change,
        "responder": responder,
        "remitter": remitter,
        "is_baseline": r.is_base,
        "infusion_number": infusion_number,
        "hours_since_infusion": hours_since,
    }, copy=False)
    return ratings, {"inf_pos": inf_pos, "hours_since": hours_since, "infusion_number": infusion_number,
                     "responder": responder, "remitter": remitter, "pct_change": pct_change, "post": ~r.is_base}


def _onset(r: _Rated, per: dict[str, np.ndarray], inf: _Infusions, n_codes: int) -> dict[str, np.ndarray]:
    """Stage "onset": the interval of response onset, in hours since the preceding infusion."""
    code, time, hours_since = r.code, r.time, per["hours_since"]
    post = per["post"]
    last_idx = r.start + r.counts - 1
    resp_rows = np.flatnonzero(post & per["responder"])
    first_resp = _first_per_group(resp_rows, code[resp_rows], n_codes)
    responded = first_resp >= 0
    lower = np.full(n_codes, np.nan)
    upper = np.full(n_codes, np.nan)
    onset_inf = np.full(n_codes, -1, dtype=np.int64)
    onset_time = np.full(n_codes, np.nan)
    fr = first_resp[responded]
    fr_inf_time = time[fr] - hours_since[fr]
    upper[responded] = hours_since[fr]
    lower[responded] = np.maximum(time[fr - 1] - fr_inf_time, 0.0)
    onset_inf[responded] = per["infusion_number"][fr]
    onset_time[responded] = time[fr] - inf.first_time[responded]
    never = r.valid & ~responded
    lower[never] = np.nan_to_num(hours_since[last_idx[never]], nan=0.0)
    upper[never] = np.inf
    remitted = np.bincount(code[post & per["remitter"]], minlength=n_codes) > 0
    return {"first_resp": first_resp, "responded": responded, "lower": lower, "upper": upper,
            "infusion": onset_inf, "time": onset_time, "remitted": remitted, "last_idx": last_idx}


def _durability_origin(settings: EndpointSettings, first_response_time: np.ndarray, inf: _Infusions) -> np.ndarray:
    """Day 0 of the durability clock (raw hours) per patient code, by ``settings.origin``."""
    if settings.origin == "response":
        return first_response_time
    if settings.origin == "last_infusion":
        return np.where(np.isfinite(first_response_time), inf.last_time, np.nan)
    return np.where(inf.is_series, np.fmax(first_response_time, inf.series_end), first_response_time)


def _relapse(data: OutcomeData, r: _Rated, per: dict[str, np.ndarray], onset: dict[str, np.ndarray],
             inf: _Infusions, settings: EndpointSettings, uniques: pd.Index) -> dict[str, np.ndarray]:
    """Stage "relapse": durability origin, the relapse interval of each responder (days since the
    origin), then the intercurrent-event strategies."""
    code, time, score = r.code, r.time, r.score
    n_codes = len(uniques)
    responded, first_resp, last_idx = onset["responded"], onset["first_resp"], onset["last_idx"]
    first_response_time = np.full(n_codes, np.nan)
    first_response_time[responded] = time[first_resp[responded]]
    t0 = _durability_origin(settings, first_response_time, inf)
    row_idx = np.arange(len(code))
    cand = per["post"] & responded[code] & (row_idx > first_resp[code]) & (time > t0[code])
    rule = settings.relapse
    if rule == "loss_of_response":
        qualifies = ~per["responder"]
    elif isinstance(rule, float):
        qualifies = score >= rule - _EPS
    else:
        qualifies = score >= rule[1] * r.baseline - _EPS
    qualifies = qualifies & cand
    confirmed = qualifies.copy()
    for k in range(1, settings.confirm_visits):
        nxt = np.zeros(len(code), dtype=bool)
        nxt[:-k] = qualifies[k:] & (code[k:] == code[:-k])
        confirmed &= nxt
    conf_rows = np.flatnonzero(confirmed)
    first_conf = _first_per_group(conf_rows, code[conf_rows], n_codes)
    relapsed = first_conf >= 0
    lower = np.full(n_codes, np.nan)
    upper = np.full(n_codes, np.nan)
    rel_time = np.full(n_codes, np.nan)
    fc = first_conf[relapsed]
    upper[relapsed] = (time[fc] - t0[relapsed]) / 24.0
    lower[relapsed] = np.maximum(time[fc - 1] - t0[relapsed], 0.0) / 24.0
    rel_time[relapsed] = upper[relapsed]
    cens = responded & ~relapsed
    rel_time[cens] = np.maximum(time[last_idx[cens]] - t0[cens], 0.0) / 24.0
    upper[cens] = np.inf
    # the last candidate rating that does not qualify ends the known relapse-free time
    nq_rows = np.flatnonzero(cand & ~qualifies)
    last_nq = _last_per_group(nq_rows, code[nq_rows], n_codes)
    cand_rows = np.flatnonzero(cand)
    first_cand = _first_per_group(cand_rows, code[cand_rows], n_codes)
    run_start = np.where(last_nq >= 0, last_nq + 1, np.where(first_cand >= 0, first_cand, last_idx + 1))
    lower[cens] = np.maximum(time[run_start[cens] - 1] - t0[cens], 0.0) / 24.0

    event_hours, event_label, strategy = first_intercurrent(
        getattr(data, "events", None), pd.Index(uniques.astype(str)), t0, settings.intercurrent,
        inf.code[inf.booster], inf.time[inf.booster])
    event_days = (event_hours - t0) / 24.0
    status = np.where(relapsed, 1, 0)
    if np.isfinite(event_days[responded]).any():
        m = responded
        lower[m], upper[m], rel_time[m], relapsed[m], status[m] = apply_strategies(
            lower[m], upper[m], rel_time[m], relapsed[m], event_days[m], strategy[m])
    return {"lower": lower, "upper": upper, "time": rel_time, "event": relapsed, "status": status, "origin": t0,
            "event_days": event_days, "event_label": event_label}


def _covariates(data: OutcomeData, r: _Rated, onset: dict[str, np.ndarray], rel: dict[str, np.ndarray],
                inf: _Infusions, codes: dict[str, np.ndarray], sel_cadss: np.ndarray,
                uniques: pd.Index) -> pd.DataFrame:
    """Stage "covariates": one row per patient with a baseline: course, first infusion, the
    patient covariates, peak CADSS, and the onset and relapse columns."""
    pcodes = np.flatnonzero(r.valid)
    n_codes = len(uniques)
    infusions = data.infusions
    with_inf = inf.has[pcodes]
    safe = np.minimum(inf.start[pcodes], max(len(inf.code) - 1, 0))
    dose_all = (infusions["dose_mg_per_kg"].to_numpy(dtype=float)[inf.order] if len(infusions)
                else np.array([np.nan]))
    route_all = (infusions["route"].array.take(inf.order) if len(infusions)
                 else pd.array([pd.NA], dtype="string"))
    route = pd.array(route_all.take(safe), dtype="string")
    route[~with_inf] = "IV"
    responded = onset["responded"][pcodes]
    n_inf = np.maximum(inf.n[pcodes], 1)
    patients = pd.DataFrame({
        "patient_id": pd.array(uniques.take(pcodes), dtype="string"),
        "baseline_score": r.baseline_all[pcodes],
        "n_ratings": (r.counts[pcodes] - 1).astype(np.int64),
        "n_infusions": n_inf.astype(np.int64),
        "course": pd.array(np.where(inf.is_series[pcodes], "series", "single"), dtype="string"),
        "n_series_infusions": inf.n_series[pcodes].astype(np.int64),
        "n_boosters": (n_inf - inf.n_series[pcodes]).astype(np.int64),
        "first_dose_mg_per_kg": np.where(with_inf, dose_all[safe], np.nan),
        "route": route,
    })
    first_mask = ~data.patients["patient_id"].duplicated().to_numpy()
    cov = data.patients[first_mask].reset_index(drop=True)
    lookup = np.full(n_codes, -1, dtype=np.int64)
    lookup[codes["patients"][first_mask]] = np.arange(len(cov))
    at = lookup[pcodes]
    for column in cov.columns:
        if column == "patient_id" or column in patients.columns:
            continue
        taken = cov[column].take(np.maximum(at, 0)).reset_index(drop=True)
        if (at < 0).any():
            taken = taken.where(pd.Series(at >= 0))
        patients[column] = taken
    patients["peak_cadss"] = _peak_cadss(data, sel_cadss, codes["cadss"], n_codes, inf.code, inf.time,
                                         inf.start)[pcodes]
    patients["responded"] = responded
    onset_infusion = pd.array(np.where(responded, onset["infusion"][pcodes], 0), dtype="Int64")
    onset_infusion[~responded] = pd.NA
    patients["onset_infusion"] = onset_infusion
    patients["onset_lower_hours"] = onset["lower"][pcodes]
    patients["onset_upper_hours"] = onset["upper"][pcodes]
    patients["onset_time_hours"] = onset["time"][pcodes]
    patients["last_rating_hours"] = r.time[onset["last_idx"][pcodes]] - inf.first_time[pcodes]
    patients["remitted"] = onset["remitted"][pcodes]
    patients["durability_origin_hours"] = rel["origin"][pcodes] - inf.first_time[pcodes]
    relapsed = pd.array(rel["event"][pcodes], dtype="boolean")
    relapsed[~responded] = pd.NA
    patients["relapsed"] = relapsed
    patients["relapse_lower_days"] = rel["lower"][pcodes]
    patients["relapse_upper_days"] = rel["upper"][pcodes]
    patients["relapse_time_days"] = rel["time"][pcodes]
    patients["relapse_event"] = rel["event"][pcodes]
    patients["relapse_status"] = np.where(responded, rel["status"][pcodes], 0).astype(np.int64)
    patients["intercurrent_event"] = pd.array(np.where(responded, rel["event_label"][pcodes], ""), dtype="string")
    patients["intercurrent_days"] = np.where(responded, rel["event_days"][pcodes], np.nan)
    return patients


def _peak_cadss(data: OutcomeData, sel: np.ndarray, code: np.ndarray, n_codes: int, inf_code: np.ndarray,
                inf_time: np.ndarray, inf_start: np.ndarray) -> np.ndarray:
    """Max CADSS total within 0-4 h after any infusion, per patient code (NaN if none)."""
    out = np.full(n_codes, np.nan)
    if len(sel) == 0:
        return out
    a = data.assessments
    time = a["time_hours"].to_numpy(dtype=float)[sel]
    score = a["score"].to_numpy(dtype=float)[sel]
    order = _sort_order(code, time)
    code, time, score = code[order], time[order], score[order]
    has_inf = np.bincount(inf_code, minlength=n_codes) > 0
    pos = _assign_infusions(code, time, inf_code, inf_time, inf_start)
    since = np.full(len(code), np.nan)
    ok = pos > 0
    since[ok] = time[ok] - inf_time[inf_start[code[ok]] + pos[ok] - 1]
    assumed = ~has_inf[code] & (time >= 0)  # no infusion record: one at time 0
    since[assumed] = time[assumed]
    lo, hi = PEAK_CADSS_WINDOW_HOURS
    win = np.flatnonzero((since >= lo) & (since <= hi))
    if len(win):
        np.fmax.at(out, code[win], score[win])
    return out


def _by_infusion(code, inf_pos, post, responder, remitter, pct_change, valid, n_inf, inf_start,
                 inf_number, first_resp, uniques) -> pd.DataFrame:
    """Per patient and infusion: ratings after that infusion and before the next."""
    n_slots = np.maximum(n_inf, 1)
    n_slots[~valid] = 0
    slot_start = np.r_[0, np.cumsum(n_slots)[:-1]]
    total = int(n_slots.sum())
    slot_code = np.repeat(np.arange(len(n_slots)), n_slots)
    slot_pos = np.arange(total) - slot_start[slot_code] + 1
    number = np.where(n_inf[slot_code] > 0,
                      inf_number[np.minimum(inf_start[slot_code] + slot_pos - 1, max(len(inf_number) - 1, 0))]
                      if len(inf_number) else 1, 1)
    use = post & (inf_pos > 0)
    slot = slot_start[code[use]] + inf_pos[use] - 1
    n_ratings = np.bincount(slot, minlength=total)
    any_resp = np.bincount(slot, weights=responder[use], minlength=total) > 0
    any_rem = np.bincount(slot, weights=remitter[use], minlength=total) > 0
    best = np.full(total, np.inf)
    np.minimum.at(best, slot, pct_change[use])
    best[n_ratings == 0] = np.nan
    resp = pd.array(any_resp, dtype="boolean")
    rem = pd.array(any_rem, dtype="boolean")
    resp[n_ratings == 0] = pd.NA
    rem[n_ratings == 0] = pd.NA
    fr = first_resp[slot_code]
    first_slot = np.where(fr >= 0, slot_start[slot_code] + inf_pos[np.maximum(fr, 0)] - 1, -1)
    return pd.DataFrame({
        "patient_id": pd.array(uniques.take(slot_code), dtype="string"),
        "infusion_number": number.astype(np.int64),
        "n_ratings": n_ratings.astype(np.int64),
        "responder": resp,
        "remitter": rem,
        "best_pct_change": best,
        "first_response": first_slot == np.arange(total),
    })


# --------------------------------------------------------------------------------------------
# shared by the fits (onset, durability, response state)

def resolve_endpoints(data: OutcomeData | Endpoints, instrument: str, options: dict[str, Any],
                      origin: str | None = None) -> Endpoints:
    """``derive_endpoints(data, ...)``, or ``data`` itself when it already is an Endpoints.

    Passing Endpoints lets one derivation serve several fits (onset, durability, a dashboard
    page). Endpoint options cannot be combined with it, and ``origin`` must agree with it.
    """
    if isinstance(data, Endpoints):
        if options:
            raise AnalysisError("Endpoint options (" + ", ".join(options) + ") cannot be applied to "
                                "already derived Endpoints; pass the OutcomeData instead.")
        if origin is not None and origin != data.settings.origin:
            raise AnalysisError(f"origin={origin!r} but these Endpoints were derived with "
                                f"origin={data.settings.origin!r}; derive them again with that origin "
                                "or leave origin out.")
        return data
    if origin is not None:
        options = {**options, "origin": origin}
    return derive_endpoints(data, instrument=instrument, **options)


def fit_grouping(data: OutcomeData | Endpoints, endpoints: Endpoints, by: str | None, bins: Any,
                 group_bins: Any, reference: str | None) -> Any:
    """The groups of ``by`` for a fit (``analysis.grouping.group_patients``), formed over all
    patients of ``data`` when it is an OutcomeData, else over the Endpoints' patients; ``course``
    uses the endpoints' ``series_gap_days`` (the series rule of the clock).

    ``group_bins`` is the name the other ``by=`` functions use; ``bins`` is kept for the fits
    that had it. Giving both (different values) is an AnalysisError.
    """
    from analysis.grouping import group_patients

    if bins is not None and group_bins is not None and not np.array_equal(np.asarray(bins), np.asarray(group_bins)):
        raise AnalysisError(f"bins={bins!r} and group_bins={group_bins!r} are the same setting (cut points or "
                            "number of groups); give only group_bins=.")
    outcome = isinstance(data, OutcomeData)
    return group_patients(data if outcome else endpoints, by, bins=group_bins if group_bins is not None else bins,
                          reference=reference, instrument=endpoints.settings.instrument,
                          gap_days=endpoints.settings.series_gap_days,
                          infusions=None if outcome else endpoints.infusions)


def plain_fit_note(note: str, events: str) -> str:
    """A parametric fit's technical note (``ParametricResult.notes``) in plain words, for the
    notes of ``fit_onset`` (``events="responses"``) and ``fit_durability`` (``"relapses"``)."""
    if "not positive definite" in note:
        return (f"it cannot be estimated precisely from these data (too few {events}, or they all "
                "fall in the same interval between ratings): its estimates have no confidence interval")
    if "cure fraction is estimated at the boundary" in note:
        return ("it puts the fraction who never have the event at 0% or 100%: follow-up after the last "
                f"{events} may be too short, so treat its estimates with caution")
    if "did not converge" in note:
        return "its fit did not converge: treat its estimates with caution"
    return note


def group_table(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Per-group result rows (dicts with a ``group`` key) as a table indexed by group with ``columns``."""
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["group", *columns])
    return table.set_index("group").reindex(columns=columns)


def stack_frames(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Per-group frames stacked into ``columns`` (an empty frame with those columns when none)."""
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
