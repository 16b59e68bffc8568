"""Milestone comparisons of durability and landmark analysis.

- ``milestones``: the proportion still in response (sustained response) at chosen days of the
  durability clock, per group, with the difference from the reference group and its CI. The
  proportions use the headline estimator of ``fit_durability`` (interval-censored Weibull
  model when it fits the NPMLE, else Turnbull with bootstrap; or 1 - cumulative incidence with
  a competing strategy). The difference's interval is Wald, with each group's standard error
  taken from its interval (``(upper - lower) / (2 z)``; groups are independent).
- ``landmark``: durability from a landmark day among the responders still in response (no
  relapse seen) and followed at that day, times counted from the landmark
  (``fit_durability(..., landmark_days=day)``): it answers "for a patient still well at day
  14, how long does it last?" and removes the guarantee-time bias of comparing groups by
  something that happens during follow-up.

::

    import analysis
    analysis.milestones(analysis.load_sample(), days=[14, 28], by="course")
    analysis.landmark(analysis.load_sample(), day=14, by="course").summary()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError

__all__ = ["MILESTONE_COLUMNS", "landmark", "milestones"]

MILESTONE_COLUMNS = ["group", "time_days", "n_responders", "estimator", "sustained", "lower", "upper",
                     "reference", "difference", "difference_lower", "difference_upper", "p_value", "origin"]


def milestones(data: Any, days: Sequence[float] = (7, 14, 21, 28), by: str | None = None,
               reference: str | None = None, instrument: str = "MADRS", alpha: float = 0.05,
               **durability_options: Any) -> pd.DataFrame:
    """Sustained response at ``days`` (days of the durability clock) per group, with the
    difference from the reference group.

    Parameters
    ----------
    data : OutcomeData or Endpoints
    days : days of the durability clock (``origin``; default auto).
    by, reference : grouping and comparison group (``analysis.grouping.group_patients``).
    instrument, alpha : as in ``fit_durability``.
    **durability_options : passed to ``fit_durability`` (origin, estimator, dist, competing,
        intercurrent, relapse rule...).

    Returns
    -------
    DataFrame with columns group, time_days, n_responders, estimator, sustained, lower, upper,
    reference, difference (group minus reference), difference_lower, difference_upper,
    p_value (Wald), origin; ``attrs["notes"]`` holds the durability fit's notes. Days after a
    group's last follow-up are NaN.
    """
    from analysis.durability import fit_durability

    query = np.unique(np.asarray(list(days), dtype=float))
    if not len(query) or np.any(query <= 0):
        raise AnalysisError(f"days={list(days)}: give one or more days after the origin (> 0).")
    fit = fit_durability(data, instrument=instrument, by=by, reference=reference, alpha=alpha,
                         **durability_options)
    z = float(stats.norm.ppf(1 - alpha / 2))
    frames = []
    for level, row in fit.table.iterrows():
        frames.append(pd.DataFrame({"group": level, "time_days": query, "n_responders": row["n_responders"],
                                    "estimator": row["estimator"], **_proportions(fit, level, query)}))
    table = pd.concat(frames, ignore_index=True)
    ref = fit.reference if fit.reference in set(table["group"]) else None
    table["reference"] = ref
    if ref is not None:
        base = table[table["group"] == ref].set_index("time_days")
        se = (table["upper"] - table["lower"]) / (2 * z)
        se_ref = ((base["upper"] - base["lower"]) / (2 * z)).reindex(table["time_days"]).to_numpy()
        difference = table["sustained"].to_numpy() - base["sustained"].reindex(table["time_days"]).to_numpy()
        se_diff = np.sqrt(se.to_numpy() ** 2 + se_ref ** 2)
        is_ref = (table["group"] == ref).to_numpy()
        table["difference"] = np.where(is_ref, np.nan, difference)
        table["difference_lower"] = np.where(is_ref, np.nan, difference - z * se_diff)
        table["difference_upper"] = np.where(is_ref, np.nan, difference + z * se_diff)
        with np.errstate(invalid="ignore", divide="ignore"):
            table["p_value"] = np.where(is_ref, np.nan, 2 * stats.norm.sf(np.abs(difference / se_diff)))
    else:
        for column in ("difference", "difference_lower", "difference_upper", "p_value"):
            table[column] = np.nan
    table["origin"] = fit.settings.origin
    table = table[MILESTONE_COLUMNS]
    table.attrs["notes"] = (*fit.notes, "difference interval: Wald, each group's standard error from its "
                            "interval width / (2 z), groups independent")
    return table


def _proportions(fit: Any, level: str, query: np.ndarray) -> dict[str, np.ndarray]:
    """Sustained response with interval at ``query`` days for one group, by its estimator."""
    row = fit.table.loc[level]
    last = row["last_followup_days"]
    estimator = row["estimator"]
    if estimator == fit.dist and level in fit.models:
        band = fit.models[level].survival(query)
        values = band[["survival", "lower", "upper"]].to_numpy(float)
    elif estimator == "turnbull" and level in fit.npmle:
        from analysis.durability import _bootstrap_npmle

        lower, upper = fit.intervals[level]
        # the resamples of fit_durability (same seed), read at these days: no refitting
        _, boot = _bootstrap_npmle(lower, upper, fit.n_bootstrap, 0, query, fit.bootstrap_fits.get(level))
        s = fit.npmle[level].survival_at(query)["survival"].to_numpy(float)
        lo, hi = (np.quantile(boot, [fit.alpha / 2, 1 - fit.alpha / 2], axis=0) if fit.n_bootstrap
                  else (np.full(len(query), np.nan), np.full(len(query), np.nan)))
        values = np.c_[s, lo, hi]
    elif estimator == "aalen_johansen" and len(fit.cumulative_incidence):
        steps = fit.cumulative_incidence
        steps = steps[(steps["group"] == level) & (steps["event"] == 1)]
        index = np.searchsorted(steps["time_days"].to_numpy(float), query, side="right") - 1
        pick = lambda c: np.where(index >= 0, steps[c].to_numpy(float)[np.maximum(index, 0)], 0.0)  # noqa: E731
        values = np.c_[1 - pick("cif"), 1 - pick("upper"), 1 - pick("lower")]
    else:
        values = np.full((len(query), 3), np.nan)
    values = np.where((query <= last)[:, None], values, np.nan)
    return {"sustained": values[:, 0], "lower": values[:, 1], "upper": values[:, 2]}


def landmark(data: Any, day: float, by: str | None = None, instrument: str = "MADRS",
             **durability_options: Any):
    """Durability from landmark ``day`` (days of the durability clock) among responders still in
    response and followed then; times in the result are days after the landmark.

    Returns the ``DurabilityResult`` of ``fit_durability(data, landmark_days=day, ...)``; its
    ``notes`` say how many responders were still in response at the landmark.
    """
    from analysis.durability import fit_durability

    return fit_durability(data, instrument=instrument, by=by, landmark_days=day, **durability_options)
