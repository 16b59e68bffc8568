"""Clinical endpoints from rating-scale scores: baseline, change, response, remission, onset, relapse.

One implementation shared by the time-to-event fits (``fit_onset``, ``fit_durability``) and the
longitudinal analyses (trajectories, responder rates), so every output uses the same baseline
and the same response definition::

    import analysis
    ep = analysis.derive_endpoints(analysis.simulate(300, seed=1), instrument="MADRS")
    ep.settings.describe()
    ep.patients[["patient_id", "responded", "onset_lower_hours", "onset_upper_hours"]]

Everything is computed on whole columns (sorting, cumulative counts and ``reduceat``), never
with a Python loop over patients: 100,000 patients x 20 ratings take about a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import OutcomeData
from analysis.instruments import get_instrument

__all__ = ["EndpointSettings", "Endpoints", "derive_endpoints"]

ORIGINS = ("response", "last_infusion")
# Dissociation is summarised as the peak CADSS total within this window after any infusion.
PEAK_CADSS_WINDOW_HOURS = (0.0, 4.0)
# Tolerance for "reduction >= response" so that e.g. 30 -> 15 counts as exactly 50%.
_EPS = 1e-9


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
    origin : ``"response"`` (durability counted from the first responding rating) or
        ``"last_infusion"`` (from the start of the patient's last infusion).
    """

    instrument: str
    response: float
    remission_max: float | None
    relapse: Any
    confirm_visits: int
    origin: str

    @property
    def relapse_rule(self) -> str:
        """Short name of the relapse rule: loss_of_response, absolute or fraction_of_baseline."""
        if isinstance(self.relapse, str):
            return self.relapse
        if isinstance(self.relapse, tuple):
            return "fraction_of_baseline"
        return "absolute"

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
        origin = ("counted in days from the first responding rating (response onset)"
                  if self.origin == "response" else
                  "counted in days from the start of the patient's last infusion")
        remission = ("remission is not defined for this instrument" if self.remission_max is None
                     else f"Remission: {self.instrument} score of {self.remission_max:g} or less.")
        return [
            f"Instrument: {self.instrument} total score.",
            f"Baseline: the last {self.instrument} rating at or before the start of the first "
            "infusion; patients without one are excluded.",
            f"Response: a reduction of at least {pct} from baseline.",
            remission if remission.startswith("Remission") else f"Remission: {remission}.",
            "Response onset: the interval (in hours since the infusion that preceded the first "
            "responding rating) between the previous non-responding rating (or that infusion's "
            "start) and the first responding rating; right-censored at the last rating for "
            "patients who never respond.",
            f"Relapse (responders only): {relapse}; {confirm}; time to relapse is {origin}. "
            "Patients without relapse are censored at their last rating.",
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
    """

    settings: EndpointSettings
    ratings: pd.DataFrame
    patients: pd.DataFrame
    by_infusion: pd.DataFrame
    excluded: pd.DataFrame

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
                f"{len(self.excluded)} excluded)")


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
            raise ValueError(f"relapse={relapse!r}: use 'loss_of_response', a score threshold "
                             "(e.g. 22) or ('fraction_of_baseline', 0.75).")
        return relapse
    if isinstance(relapse, (tuple, list)):
        if len(relapse) != 2 or relapse[0] != "fraction_of_baseline" or not float(relapse[1]) > 0:
            raise ValueError(f"relapse={relapse!r}: expected ('fraction_of_baseline', f) with f > 0.")
        return ("fraction_of_baseline", float(relapse[1]))
    if isinstance(relapse, (int, float, np.number)) and not isinstance(relapse, bool):
        return float(relapse)
    raise ValueError(f"relapse={relapse!r} is not a relapse rule.")


def _patient_codes(data: OutcomeData, assessment_rows: list[np.ndarray]) -> tuple[pd.Index, list[np.ndarray]]:
    """Integer codes for patient ids shared by the patients and infusions tables and the chosen
    assessment rows (only those are factorised: item rows can be ten times as many)."""
    ids = data.assessments["patient_id"]
    parts = [data.patients["patient_id"], data.infusions["patient_id"],
             *(ids.iloc[rows] for rows in assessment_rows)]
    sizes = [len(p) for p in parts]
    codes, uniques = pd.factorize(pd.concat(parts, ignore_index=True).astype("string"), sort=False)
    return pd.Index(uniques, dtype="string"), np.split(codes, np.cumsum(sizes)[:-1])


# --------------------------------------------------------------------------------------------

def derive_endpoints(
    data: OutcomeData,
    instrument: str = "MADRS",
    response: float = 0.5,
    remission: float | None = None,
    relapse: Any = "loss_of_response",
    confirm_visits: int = 1,
    origin: str = "response",
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
    origin : {"response", "last_infusion"}
        Zero of the durability clock: the first responding rating, or the start of the patient's
        last infusion (relapse is then looked for in ratings after both the response and that
        infusion).

    Returns
    -------
    Endpoints
        ``ratings`` (patient_id, time_hours, time_days, visit, score, baseline_score, change,
        pct_change = 100 * change / baseline, improvement_pct = -pct_change, responder,
        remitter, is_baseline, infusion_number = most recent infusion at or before the rating
        (0 for the baseline rating), hours_since_infusion (NaN for the baseline)).

        ``patients`` (one row per patient with a baseline): baseline_score, n_ratings
        (post-baseline), n_infusions, first_dose_mg_per_kg, route (first infusion), the patient
        covariates, peak_cadss (max CADSS total 0-4 h after any infusion), responded,
        onset_infusion, onset_lower_hours / onset_upper_hours (interval in hours since the
        infusion preceding the first responding rating: lower = the previous rating if it lies
        after that infusion, else 0; non-responders: lower = hours since the most recent
        infusion at the last rating, upper = inf), onset_time_hours (first responding rating,
        hours since the first infusion), remitted, relapsed (NA for non-responders),
        relapse_lower_days / relapse_upper_days (interval in days since the origin; lower = the
        rating before the relapse-dated one, clipped at 0; censored: upper = inf and lower = the
        last rating not part of an unconfirmed qualifying run), relapse_time_days (the
        relapse-dated rating, or the last rating if censored; the right-censored convention),
        relapse_event.

        ``by_infusion``: patient_id, infusion_number, n_ratings, responder, remitter (any
        rating after that infusion and before the next; NA when no rating), best_pct_change,
        first_response.

        ``excluded``: patient_id, reason.

    Notes
    -----
    A baseline of 0 leaves percent change undefined; such patients are excluded. Ratings taken
    at the same time keep the order of the input (the last one at or before time 0 is the
    baseline; earlier ones at that time are dropped).
    """
    inst = get_instrument(instrument)
    if not 0 < response <= 1:
        raise ValueError(f"response={response}: must be a fraction in (0, 1], e.g. 0.5 for 50%.")
    if origin not in ORIGINS:
        raise ValueError(f"origin={origin!r}: use one of {ORIGINS}.")
    confirm_visits = int(confirm_visits)
    if confirm_visits < 1:
        raise ValueError("confirm_visits must be at least 1.")
    rule = _relapse_rule(relapse)
    remission_max = inst.remission_max if remission is None else float(remission)
    settings = EndpointSettings(inst.name, float(response), remission_max, rule, confirm_visits, origin)

    a = data.assessments
    is_total = a["item"].isna().to_numpy()
    instrument_values = np.asarray(a["instrument"].array)
    sel = np.flatnonzero(is_total & (instrument_values == inst.name))
    sel_cadss = np.flatnonzero(is_total & (instrument_values == "CADSS"))
    uniques, code_parts = _patient_codes(data, [sel, sel_cadss])
    codes = dict(zip(("patients", "infusions", "assessments", "cadss"), code_parts, strict=True))
    n_codes = len(uniques)

    # infusions sorted by (patient, time)
    inf = data.infusions
    inf_code_raw = codes["infusions"]
    inf_time_raw = inf["time_hours"].to_numpy(dtype=float)
    inf_order = _sort_order(inf_code_raw, inf_time_raw)
    inf_code = inf_code_raw[inf_order]
    inf_time = inf_time_raw[inf_order]
    inf_number = inf["infusion_number"].to_numpy(dtype=np.int64)[inf_order]
    n_inf = np.bincount(inf_code, minlength=n_codes)
    inf_start = np.r_[0, np.cumsum(n_inf)[:-1]]
    has_inf = n_inf > 0
    # contract: with no infusion recorded, one infusion at time 0 is assumed
    first_inf_time = np.where(has_inf, inf_time[np.minimum(inf_start, max(len(inf_time) - 1, 0))]
                              if len(inf_time) else 0.0, 0.0)
    last_inf_time = np.where(has_inf, inf_time[np.maximum(inf_start + n_inf - 1, 0)]
                             if len(inf_time) else 0.0, 0.0)

    # total-score ratings of this instrument, sorted by (patient, time), ties in input order
    a_code = codes["assessments"]
    a_time = a["time_hours"].to_numpy(dtype=float)[sel]
    order = _sort_order(a_code, a_time)
    rows_src = sel[order]
    code = a_code[order]
    time = a_time[order]
    score = a["score"].to_numpy(dtype=float)[rows_src]

    counts = np.bincount(code, minlength=n_codes)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    pre = time <= first_inf_time[code]
    n_pre = np.bincount(code[pre], minlength=n_codes)  # pre rows form a prefix of each block
    base_idx = start + n_pre - 1
    baseline_all = np.full(n_codes, np.nan)
    has_base = n_pre > 0
    baseline_all[has_base] = score[base_idx[has_base]]
    valid = has_base & (baseline_all > 0)

    # exclusions
    reasons = np.full(n_codes, "", dtype=object)
    reasons[counts == 0] = f"no {inst.name} total-score rating"
    reasons[(counts > 0) & ~has_base] = f"no {inst.name} rating at or before the first infusion (no baseline)"
    reasons[has_base & ~(baseline_all > 0)] = "baseline score is 0, so percent change is undefined"
    known = np.zeros(n_codes, dtype=bool)
    known[codes["patients"]] = True
    known[code] = True
    excl = np.flatnonzero(known & ~valid)
    excluded = pd.DataFrame({"patient_id": pd.array(uniques.take(excl), dtype="string"),
                             "reason": pd.array(reasons[excl], dtype="string")})

    # keep the baseline and everything after it, for valid patients
    pos = np.arange(len(code)) - start[code]
    keep = valid[code] & (pos >= n_pre[code] - 1)
    kidx = np.flatnonzero(keep)
    rows_src, code, time, score = rows_src[kidx], code[kidx], time[kidx], score[kidx]
    counts = np.bincount(code, minlength=n_codes)
    start = np.r_[0, np.cumsum(counts)[:-1]]
    is_base = np.zeros(len(code), dtype=bool)
    is_base[start[valid]] = True
    baseline = baseline_all[code]

    inf_pos = _assign_infusions(code, time, inf_code, inf_time, inf_start)
    inf_pos[is_base] = 0
    after = inf_pos > 0
    inf_row = inf_start[code] + inf_pos - 1
    hours_since = np.full(len(code), np.nan)
    hours_since[after] = time[after] - inf_time[inf_row[after]]
    infusion_number = np.zeros(len(code), dtype=np.int64)
    infusion_number[after] = inf_number[inf_row[after]]
    # patients without an infusion record: the assumed infusion at time 0
    assumed = ~has_inf[code] & ~is_base
    hours_since[assumed] = time[assumed]
    infusion_number[assumed] = 1
    inf_pos[assumed] = 1

    change = score - baseline
    pct_change = 100.0 * change / baseline
    responder = (baseline - score) >= response * baseline - _EPS
    remitter = (score <= remission_max) if remission_max is not None else np.zeros(len(code), bool)
    post = ~is_base

    visit_col = a["visit"] if "visit" in a.columns else pd.Series(pd.NA, index=a.index, dtype="string")
    ratings = pd.DataFrame({
        "patient_id": pd.array(uniques.take(code), dtype="string"),
        "time_hours": time,
        "time_days": time / 24.0,
        "visit": visit_col.array.take(rows_src),
        "score": score,
        "baseline_score": baseline,
        "change": change,
        "pct_change": pct_change,
        "improvement_pct": 0.0 - pct_change,
        "responder": responder,
        "remitter": remitter,
        "is_baseline": is_base,
        "infusion_number": infusion_number,
        "hours_since_infusion": hours_since,
    }, copy=False)

    # ---- per patient
    pcodes = np.flatnonzero(valid)
    last_idx = start + counts - 1
    n_post = counts - 1
    resp_rows = np.flatnonzero(post & responder)
    first_resp = _first_per_group(resp_rows, code[resp_rows], n_codes)
    responded = first_resp >= 0
    onset_lower = np.full(n_codes, np.nan)
    onset_upper = np.full(n_codes, np.nan)
    onset_inf = np.full(n_codes, -1, dtype=np.int64)
    onset_time = np.full(n_codes, np.nan)
    fr = first_resp[responded]
    fr_inf_time = time[fr] - hours_since[fr]
    onset_upper[responded] = hours_since[fr]
    onset_lower[responded] = np.maximum(time[fr - 1] - fr_inf_time, 0.0)
    onset_inf[responded] = infusion_number[fr]
    onset_time[responded] = time[fr] - first_inf_time[responded]
    nr = valid & ~responded
    onset_lower[nr] = np.nan_to_num(hours_since[last_idx[nr]], nan=0.0)
    onset_upper[nr] = np.inf

    remitted = np.bincount(code[post & remitter], minlength=n_codes) > 0

    # ---- relapse among responders
    t0 = np.full(n_codes, np.nan)
    if origin == "response":
        t0[responded] = time[fr]
    else:
        t0[responded] = last_inf_time[responded]
    row_idx = np.arange(len(code))
    cand = post & responded[code] & (row_idx > first_resp[code]) & (time > t0[code])
    if rule == "loss_of_response":
        qualifies = ~responder
    elif isinstance(rule, float):
        qualifies = score >= rule - _EPS
    else:
        qualifies = score >= rule[1] * baseline - _EPS
    qualifies = qualifies & cand
    confirmed = qualifies.copy()
    for k in range(1, confirm_visits):
        nxt = np.zeros(len(code), dtype=bool)
        nxt[:-k] = qualifies[k:] & (code[k:] == code[:-k])
        confirmed &= nxt
    conf_rows = np.flatnonzero(confirmed)
    first_conf = _first_per_group(conf_rows, code[conf_rows], n_codes)
    relapsed = first_conf >= 0
    rel_lower = np.full(n_codes, np.nan)
    rel_upper = np.full(n_codes, np.nan)
    rel_time = np.full(n_codes, np.nan)
    fc = first_conf[relapsed]
    rel_upper[relapsed] = (time[fc] - t0[relapsed]) / 24.0
    rel_lower[relapsed] = np.maximum(time[fc - 1] - t0[relapsed], 0.0) / 24.0
    rel_time[relapsed] = rel_upper[relapsed]
    cens = responded & ~relapsed
    rel_time[cens] = np.maximum(time[last_idx[cens]] - t0[cens], 0.0) / 24.0
    rel_upper[cens] = np.inf
    # the last candidate rating that does not qualify ends the known relapse-free time
    nq_rows = np.flatnonzero(cand & ~qualifies)
    last_nq = _last_per_group(nq_rows, code[nq_rows], n_codes)
    cand_rows = np.flatnonzero(cand)
    first_cand = _first_per_group(cand_rows, code[cand_rows], n_codes)
    run_start = np.where(last_nq >= 0, last_nq + 1, np.where(first_cand >= 0, first_cand, last_idx + 1))
    rel_lower[cens] = np.maximum(time[run_start[cens] - 1] - t0[cens], 0.0) / 24.0

    # ---- covariates
    first_rows = inf_start[pcodes]
    with_inf = has_inf[pcodes]
    safe = np.minimum(first_rows, max(len(inf_code) - 1, 0))
    dose_all = inf["dose_mg_per_kg"].to_numpy(dtype=float)[inf_order] if len(inf) else np.array([np.nan])
    route_all = inf["route"].array.take(inf_order) if len(inf) else pd.array([pd.NA], dtype="string")
    first_dose = np.where(with_inf, dose_all[safe], np.nan)
    route = pd.array(route_all.take(safe), dtype="string")
    route[~with_inf] = "IV"

    rel_flag = pd.array(relapsed[pcodes], dtype="boolean")
    rel_flag[~responded[pcodes]] = pd.NA
    patients = pd.DataFrame({
        "patient_id": pd.array(uniques.take(pcodes), dtype="string"),
        "baseline_score": baseline_all[pcodes],
        "n_ratings": n_post[pcodes].astype(np.int64),
        "n_infusions": np.maximum(n_inf[pcodes], 1).astype(np.int64),
        "first_dose_mg_per_kg": first_dose,
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
    patients["peak_cadss"] = _peak_cadss(data, sel_cadss, codes["cadss"], n_codes, inf_code, inf_time,
                                         inf_start)[pcodes]
    patients["responded"] = responded[pcodes]
    patients["onset_infusion"] = pd.array(np.where(responded[pcodes], onset_inf[pcodes], 0),
                                          dtype="Int64")
    patients.loc[~responded[pcodes], "onset_infusion"] = pd.NA
    patients["onset_lower_hours"] = onset_lower[pcodes]
    patients["onset_upper_hours"] = onset_upper[pcodes]
    patients["onset_time_hours"] = onset_time[pcodes]
    patients["remitted"] = remitted[pcodes]
    patients["relapsed"] = rel_flag
    patients["relapse_lower_days"] = rel_lower[pcodes]
    patients["relapse_upper_days"] = rel_upper[pcodes]
    patients["relapse_time_days"] = rel_time[pcodes]
    patients["relapse_event"] = relapsed[pcodes]

    by_infusion = _by_infusion(code, inf_pos, post, responder, remitter, pct_change, valid,
                               n_inf, inf_start, inf_number, first_resp, uniques)
    return Endpoints(settings, ratings, patients, by_infusion, excluded)


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
# grouping patients for the fits (shared by fit_onset and fit_durability)



def resolve_endpoints(data: OutcomeData | Endpoints, instrument: str, options: dict[str, Any],
                      origin: str | None = None) -> Endpoints:
    """``derive_endpoints(data, ...)``, or ``data`` itself when it already is an Endpoints.

    Passing Endpoints lets one derivation serve several fits (onset, durability, a dashboard
    page). Endpoint options cannot be combined with it, and ``origin`` must agree with it.
    """
    if isinstance(data, Endpoints):
        if options:
            raise ValueError("Endpoint options (" + ", ".join(options) + ") cannot be applied to "
                             "already derived Endpoints; pass the OutcomeData instead.")
        if origin is not None and origin != data.settings.origin:
            raise ValueError(f"origin={origin!r} but these Endpoints were derived with "
                             f"origin={data.settings.origin!r}.")
        return data
    if origin is not None:
        options = {**options, "origin": origin}
    return derive_endpoints(data, instrument=instrument, **options)


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


def group_order(labels: Any) -> list[str]:
    """Distinct group labels in the package's one group order (``analysis.grouping``)."""
    from analysis.grouping import order_levels

    if isinstance(getattr(labels, "dtype", None), pd.CategoricalDtype):
        present = set(pd.Series(labels).dropna().astype(str))
        return [str(c) for c in labels.cat.categories if str(c) in present]
    return order_levels(labels)


def patient_column(patients: pd.DataFrame, name: str,
                   infusions: pd.DataFrame | None = None) -> tuple[str, pd.Series | None, bool]:
    """``name`` as a patient-level column: ``(column, values, at_first_infusion)``, values None
    when unknown (delegates to ``analysis.grouping.patient_values``)."""
    from analysis.errors import AnalysisError
    from analysis.grouping import patient_values

    try:
        return patient_values(patients, name, infusions)
    except AnalysisError:
        return name, None, False


def patient_groups(patients: pd.DataFrame, by: str | None,
                   infusions: pd.DataFrame | None = None) -> tuple[pd.Series, str | None]:
    """Group of each row of ``patients`` (an ordered Categorical, NA = left out) and a note on
    how the groups were formed: ``analysis.grouping.group_patients`` (one meaning of ``by=``)."""
    from analysis.grouping import group_patients

    grouping = group_patients(patients, by, infusions=infusions)
    return grouping.of(patients["patient_id"]), grouping.note()
