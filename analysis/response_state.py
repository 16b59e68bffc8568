"""Probability of being in response, day by day, among all treated patients.

The single curve clinicians ask for: at day t since the first infusion, the share of all
treated patients who have responded and not yet relapsed. Because relapse follows response,

    P(in response at t) = P(T_response <= t) - P(T_relapse <= t) = S_relapse(t) - S_response(t),

where T_response is the time of response onset (infinite for a patient who never responds) and
T_relapse the time of relapse (infinite without relapse), both in days since the first infusion
and both interval-censored (known only between two ratings). Days equal up to rounding error
are one day (R's ``timefix``, tied over all patients for each curve). Each survival curve is the
Turnbull NPMLE of its intervals (drawn linearly across its support intervals); the difference
is clipped to [0, 1]. The confidence band is the percentile bootstrap of the difference,
resampling patients (so the dependence of the two curves is kept). The estimator is checked by
simulation against the true probability (``SimulationTruth.value("in_response", ...)``).

Relapse and its intervals follow ``derive_endpoints`` (rule, confirmation, origin and the
intercurrent strategies: a composite event ends the response, a hypothetical or competing event
censors it)::

    import analysis
    state = analysis.fit_response_state(analysis.load_sample(), by="course")
    state.at([1, 7, 14, 28])       # group, time_days, in_response, lower, upper
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import OutcomeData
from analysis.endpoints import Endpoints, EndpointSettings, fit_grouping, resolve_endpoints
from analysis.errors import AnalysisError

__all__ = ["ResponseStateResult", "fit_response_state", "state_intervals"]

N_BOOTSTRAP = 200
# Estimates end where fewer than this share of the group's patients are still followed: beyond
# it the two NPMLE tails are set by a handful of patients and their difference is not reliable
# (the relapse curve can even overtake the response curve).
MIN_FOLLOWED_SHARE = 0.1
SUMMARY_DAYS = (1, 7, 14, 28)
# The NPMLE's iterations start from the NPMLE of the intervals widened to whole days (see _npmle).
COARSE_DAYS = 1.0
AT_COLUMNS = ["group", "time_days", "in_response", "lower", "upper"]


def state_intervals(patients: pd.DataFrame) -> dict[str, np.ndarray]:
    """Response and relapse intervals in days since the first infusion, per row of
    ``Endpoints.patients``: ``response_lower``, ``response_upper``, ``relapse_lower``,
    ``relapse_upper`` (upper = inf when the event was not seen; a non-responder is censored
    for both at the last rating)."""
    responded = patients["responded"].to_numpy(dtype=bool)
    last = patients["last_rating_hours"].to_numpy(float) / 24.0
    onset_upper = patients["onset_time_hours"].to_numpy(float) / 24.0
    width = (patients["onset_upper_hours"].to_numpy(float) - patients["onset_lower_hours"].to_numpy(float)) / 24.0
    origin = patients["durability_origin_hours"].to_numpy(float) / 24.0
    r_lower = np.where(responded, np.maximum(onset_upper - np.where(responded, width, 0.0), 0.0), last)
    r_upper = np.where(responded, onset_upper, np.inf)
    rel_lower = np.where(responded, origin + patients["relapse_lower_days"].to_numpy(float), last)
    rel_upper = np.where(responded, origin + patients["relapse_upper_days"].to_numpy(float), np.inf)
    return {"response_lower": np.maximum(r_lower, 0.0), "response_upper": r_upper,
            "relapse_lower": np.maximum(rel_lower, 0.0), "relapse_upper": rel_upper}


def _tied_intervals(patients: pd.DataFrame) -> dict[str, np.ndarray]:
    """``state_intervals`` checked (``as_bounds``) and with days equal up to rounding error made
    equal (``tied_bounds``), once over all patients and separately for each curve, as R's
    ``survfit(Surv(lower, upper, type = "interval2") ~ group)`` ties each whole response
    (``timefix``, aeqSurv) before splitting it into groups. Without it a response interval's lower
    end computed as ``upper - width`` lies ulps off another patient's upper end (40 min as
    0.0277...7 or 0.0277...8 days) and the NPMLE piles mass on the sliver between them."""
    from analysis.survival._common import as_bounds
    from analysis.survival.turnbull import tied_bounds

    intervals = state_intervals(patients)
    rows = patients["patient_id"].to_numpy()
    for what in ("response", "relapse"):
        bounds = as_bounds(intervals[f"{what}_lower"], intervals[f"{what}_upper"], allow_zero_exact=True)
        intervals[f"{what}_lower"], intervals[f"{what}_upper"] = tied_bounds(*bounds, rows=rows)
    return intervals


def _npmle(lower: np.ndarray, upper: np.ndarray, weight: np.ndarray) -> Any:
    """Turnbull NPMLE of pooled intervals (days), its iterations started from the NPMLE of the same
    intervals widened outwards to multiples of COARSE_DAYS (a few hundred distinct pairs, fitted in
    milliseconds). The optimum is the same (convergence is the Kuhn-Tucker condition on the exact
    intervals); at 20,000 patients the relapse NPMLE needs about half the Newton steps."""
    from analysis.survival.turnbull import pool_index, turnbull_pooled

    coarse_lower = np.floor(lower / COARSE_DAYS) * COARSE_DAYS
    coarse_upper = np.where(np.isfinite(upper), np.ceil(upper / COARSE_DAYS) * COARSE_DAYS, np.inf)
    pooled_lower, pooled_upper, inverse = pool_index(coarse_lower, coarse_upper)
    coarse = turnbull_pooled(pooled_lower, pooled_upper, np.bincount(inverse, weight, minlength=len(pooled_lower)))
    return turnbull_pooled(lower, upper, weight, start=coarse)


def _difference(response_fit: Any, relapse_fit: Any, days: np.ndarray) -> np.ndarray:
    s_response = response_fit.survival_at(days)["survival"].to_numpy(float)
    s_relapse = relapse_fit.survival_at(days)["survival"].to_numpy(float)
    return np.clip(s_relapse - s_response, 0.0, 1.0)


@dataclass(frozen=True)
class ResponseStateResult:
    """P(in response) by day since the first infusion (see ``fit_response_state``).

    Attributes
    ----------
    curve : group, time_days, in_response, lower, upper, responded (P(responded by t)),
        relapsed (P(responded and relapsed by t)), on a grid to ``estimable_until_days``.
    table : indexed by group: n, responders, last_followup_days, estimable_until_days (the day
        after which fewer than 10% of the group is still followed), and in_response_<d>d with
        lower/upper at days 1, 7, 14, 28 (NaN after estimable_until_days).
    settings : EndpointSettings ; by, alpha, n_bootstrap ; notes : the method and caveats.
    levels : groups in order ; last_followup : group -> estimable_until_days.
    """

    curve: pd.DataFrame = field(repr=False)
    table: pd.DataFrame
    settings: EndpointSettings
    by: str | None
    alpha: float
    n_bootstrap: int
    notes: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    last_followup: dict = field(default_factory=dict, repr=False)
    _fits: dict = field(default_factory=dict, repr=False)

    def at(self, days: Any) -> pd.DataFrame:
        """Probability of being in response at ``days`` since the first infusion, per group:
        columns group, time_days, in_response, lower, upper (NaN after the day when fewer than
        10% of the group is still followed)."""
        query = np.atleast_1d(np.asarray(days, dtype=float))
        frames = [self._at_level(level, query) for level in self.levels if level in self._fits]
        return pd.concat(frames, ignore_index=True)[AT_COLUMNS] if frames else pd.DataFrame(columns=AT_COLUMNS)

    def _at_level(self, level: str, query: np.ndarray) -> pd.DataFrame:
        estimate, replicates = self._fits[level]
        value = _difference(*estimate, query)
        lower = upper = np.full(len(query), np.nan)
        if replicates:
            boot = np.stack([_difference(r, s, query) for r, s in replicates])
            lower, upper = np.quantile(boot, [self.alpha / 2, 1 - self.alpha / 2], axis=0)
        beyond = query > self.last_followup[level]
        return pd.DataFrame({"group": level, "time_days": query,
                             "in_response": np.where(beyond, np.nan, value),
                             "lower": np.where(beyond, np.nan, lower), "upper": np.where(beyond, np.nan, upper)})

    def summary(self) -> pd.DataFrame:
        """One row per group: n, responders, last follow-up and P(in response) at 1/7/14/28 days."""
        return self.table.copy()


def fit_response_state(
    data: OutcomeData | Endpoints,
    instrument: str = "MADRS",
    by: str | None = None,
    alpha: float = 0.05,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    bins: Any = None,
    reference: str | None = None,
    group_bins: Any = None,
    progress: Callable[[int, int], None] | None = None,
    **endpoint_options: Any,
) -> ResponseStateResult:
    """Probability of being in response (responded and not yet relapsed) at each day since the
    first infusion, among all treated patients, with a bootstrap band (module docstring).

    Parameters
    ----------
    data : OutcomeData or Endpoints
    instrument : str
    by : str, optional
        Grouping (``analysis.grouping.group_patients``), e.g. ``"course"``.
    alpha : float
        1 - confidence level of the percentile bootstrap band.
    n_bootstrap : int
        Bootstrap resamples of the patients (0: no band).
    seed : int
        Seed of the resampling (the same seed gives the same band).
    group_bins, reference : passed to ``group_patients`` (``group_bins``: cut points or number
        of groups, as in the other ``by=`` functions; ``bins`` is the older name of it).
    progress : callable, optional
        Called as ``progress(done, total)`` after each bootstrap refit (``total`` = n_bootstrap
        x the number of groups), e.g. to show how far the band is; an exception it raises stops
        the fit. It does not change the result.
    **endpoint_options
        Passed to ``derive_endpoints`` (response, relapse rule, origin, intercurrent ...).

    Returns
    -------
    ResponseStateResult ; ``.at(days)`` gives time_days, in_response, lower, upper, group.

    References
    ----------
    Turnbull BW (1976). JRSS B 38:290-295. Temkin NR (1978). An analysis for transient states
    with application to tumor shrinkage. Biometrics 34:571-580 (probability of being in
    response as a difference of two distribution functions).
    """
    from analysis.longitudinal._design import single_thread_blas
    from analysis.survival.turnbull import pool_index, turnbull_pooled

    if isinstance(data, OutcomeData) and not getattr(data, "has_clock_time", True):
        raise AnalysisError("fit_response_state needs clock times (hours since the first infusion), but this "
                            "dataset gives only visit labels or numbers.")
    if int(n_bootstrap) < 0:
        raise AnalysisError(f"n_bootstrap={n_bootstrap}: give 0 (no band) or a number of resamples, e.g. 200.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    patients = endpoints.patients
    if patients.empty:
        raise AnalysisError(f"fit_response_state: no patient has a {endpoints.settings.instrument} baseline, so "
                            "nobody can be followed for response.")
    grouping = fit_grouping(data, endpoints, by, bins, group_bins, reference)
    labels = grouping.of(patients["patient_id"]).astype(object).to_numpy()
    intervals = _tied_intervals(patients)
    last_all = patients["last_rating_hours"].to_numpy(float) / 24.0
    band_text = (f"band: percentile bootstrap, {int(n_bootstrap)} resamples of the patients" if int(n_bootstrap)
                 else "no confidence band (n_bootstrap=0)")
    notes = [f"P(in response) at day t since the first infusion = S_relapse(t) - S_response(t), Turnbull "
             f"NPMLE of each (interpolated across support intervals); {band_text}"]
    if grouping.note():
        notes.append(grouping.note())
    rng = np.random.default_rng(seed)
    total = int(n_bootstrap) * int(sum((labels == level).any() for level in grouping.levels))
    rows, curves, fits, last_followup = [], [], {}, {}
    for level in grouping.levels:
        mask = labels == level
        n = int(mask.sum())
        if n == 0:
            continue
        parts = {k: v[mask] for k, v in intervals.items()}
        last = float(np.nanmax(last_all[mask]))
        last_followup[level] = float(np.nanquantile(last_all[mask], 1.0 - MIN_FOLLOWED_SHARE))
        # each curve's intervals pooled once: a resample is the same pairs with new counts
        pooled = [pool_index(parts[f"{what}_lower"], parts[f"{what}_upper"]) for what in ("response", "relapse")]
        replicates = []
        with single_thread_blas():  # the NPMLE's k x k solves: one BLAS thread is faster on 2 shared cores
            estimate = tuple(_npmle(lo, up, np.bincount(inverse).astype(float)) for lo, up, inverse in pooled)
            for _ in range(int(n_bootstrap)):  # loops over resamples; each is vectorised
                drawn = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
                replicates.append(tuple(
                    turnbull_pooled(lo, up, np.bincount(inverse, drawn, minlength=len(lo)), start=fit)
                    for (lo, up, inverse), fit in zip(pooled, estimate, strict=True)))
                if progress is not None:
                    progress(sum(len(r) for _, r in fits.values()) + len(replicates), total)
        fits[level] = (estimate, replicates)
        grid = np.linspace(0.0, last_followup[level], 201)
        curve_part = {"group": level, "time_days": grid,
                      "responded": 1.0 - estimate[0].survival_at(grid)["survival"].to_numpy(float),
                      "relapsed": 1.0 - estimate[1].survival_at(grid)["survival"].to_numpy(float)}
        curves.append(pd.DataFrame(curve_part))
        rows.append({"group": level, "n": n, "responders": int(patients["responded"].to_numpy(bool)[mask].sum()),
                     "last_followup_days": last, "estimable_until_days": last_followup[level]})
    result = ResponseStateResult(pd.DataFrame(), pd.DataFrame(), endpoints.settings, by, float(alpha),
                                 int(n_bootstrap), tuple(notes), tuple(fits), last_followup, fits)
    table = pd.DataFrame(rows).set_index("group") if rows else pd.DataFrame()
    if rows:
        at = result.at(list(SUMMARY_DAYS))
        for d in SUMMARY_DAYS:
            part = at[at["time_days"] == d].set_index("group")
            for column, name in (("in_response", f"in_response_{d}d"), ("lower", f"in_response_{d}d_lower"),
                                 ("upper", f"in_response_{d}d_upper")):
                table[name] = part[column].reindex(table.index)
        beyond = [d for d in SUMMARY_DAYS if any(d > v for v in last_followup.values())]
        if beyond:
            notes.append(f"P(in response) after the day when fewer than {MIN_FOLLOWED_SHARE:.0%} of a group's "
                         "patients are still followed (estimable_until_days) is not estimated (NaN): days "
                         + ", ".join(map(str, beyond)))
    curve = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    if len(curve):
        band = pd.concat([result._at_level(level, part["time_days"].to_numpy())
                          for level, part in curve.groupby("group", sort=False)], ignore_index=True)
        curve = curve.assign(in_response=band["in_response"].to_numpy(), lower=band["lower"].to_numpy(),
                             upper=band["upper"].to_numpy())
        curve = curve[["group", "time_days", "in_response", "lower", "upper", "responded", "relapsed"]]
    return ResponseStateResult(curve, table, endpoints.settings, by, float(alpha), int(n_bootstrap),
                               tuple(notes), tuple(fits), last_followup, fits)
