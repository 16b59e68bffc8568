"""Durability of response: time to relapse among responders, in days.

Kaplan-Meier on the relapse time as papers report it (the visit at which relapse was seen;
right-censored at the last rating), with its risk table and log-rank comparison, plus an
interval-censored parametric fit on the intervals (previous rating, relapse-dated rating] that
``derive_endpoints`` records, and a Cox model of relapse on covariates::

    import analysis
    fit = analysis.fit_durability(analysis.load_sample(), by="diagnosis")
    fit.summary()
    analysis.relapse_hazards(analysis.load_sample()).table
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import OutcomeData
from analysis.endpoints import (
    Endpoints,
    EndpointSettings,
    group_order,
    group_table,
    patient_column,
    patient_groups,
    plain_fit_note,
    resolve_endpoints,
    stack_frames,
)

__all__ = ["DEFAULT_RELAPSE_COVARIATES", "DurabilityResult", "fit_durability", "relapse_hazards"]

SUSTAINED_DAYS = (7, 14, 21, 28)
RISK_TABLE_STEP_DAYS = 7
MIN_RESPONDERS = 5
MIN_RELAPSES_MODEL = 3
DEFAULT_RELAPSE_COVARIATES = ("first_dose_mg_per_kg", "route", "diagnosis", "baseline_score",
                              "peak_cadss", "n_infusions", "age", "sex")
SUMMARY_COLUMNS = [
    "n_responders", "relapses", "median_days", "median_days_lower", "median_days_upper",
    "sustained_7d", "sustained_14d", "sustained_21d", "sustained_28d",
    "model_median_days", "model_median_days_lower", "model_median_days_upper", "dist", "note",
]


@dataclass(frozen=True)
class DurabilityResult:
    """Fitted time-to-relapse curves among responders (see ``fit_durability``).

    Attributes
    ----------
    table : DataFrame indexed by group, the columns of ``summary()``.
    curve : Kaplan-Meier steps: group, time_days, survival, lower, upper (log-log band),
        at_risk, events, censored (starts with a row at day 0).
    risk_table : group, time_days (0, 7, 14, ...), at_risk, events and censored (cumulative).
    model_curve : interval-censored parametric fit: group, time_days, survival, lower, upper.
    logrank : LogRankResult across groups (None without ``by`` or with one group).
    settings : EndpointSettings (relapse rule, confirmation, origin); endpoints : Endpoints.
    by, dist, alpha ; notes : things the reader should know in plain words, including each
        group's fitting problems (reported here and in the group's ``note`` column instead of as
        Python warnings) ; models : group -> ParametricResult ; km : group -> KaplanMeierResult.
    """

    table: pd.DataFrame
    curve: pd.DataFrame = field(repr=False)
    risk_table: pd.DataFrame = field(repr=False)
    model_curve: pd.DataFrame = field(repr=False)
    logrank: Any
    settings: EndpointSettings
    endpoints: Endpoints = field(repr=False)
    by: str | None
    dist: str
    alpha: float
    notes: tuple[str, ...] = ()
    models: dict = field(default_factory=dict, repr=False)
    km: dict = field(default_factory=dict, repr=False)

    def summary(self) -> pd.DataFrame:
        """One row per group: n_responders, relapses, Kaplan-Meier median days to relapse with
        CI, proportion still in response at 7/14/21/28 days (Kaplan-Meier), and the
        interval-censored model's median with CI."""
        return self.table.copy()


def fit_durability(
    data: OutcomeData | Endpoints,
    instrument: str = "MADRS",
    by: str | None = None,
    origin: str = "response",
    dist: str = "weibull",
    alpha: float = 0.05,
    **endpoint_options: Any,
) -> DurabilityResult:
    """Time to relapse (days) among responders, per group.

    Parameters
    ----------
    data : OutcomeData or Endpoints
        The dataset, or endpoints already derived by ``derive_endpoints`` (their relapse rule
        and origin are used; ``origin`` must then match).
    instrument : str
    by : str, optional
        A column of ``Endpoints.patients`` or, when ``data`` is an OutcomeData, any other column
        of its infusions table (value at the first infusion); see
        ``analysis.endpoints.patient_groups``. Numeric columns with many values are cut at
        quartiles.
    origin : {"response", "last_infusion"}
        Day 0 of the clock: response onset, or the start of the last infusion.
    dist : {"weibull", "loglogistic", "lognormal", "exponential"}
        Distribution of the interval-censored model (``model_curve`` and ``model_median_days``).
    alpha : float
        1 - confidence level.
    **endpoint_options
        Passed to ``derive_endpoints``: relapse rule, confirm_visits, response, ...

    Returns
    -------
    DurabilityResult
        ``summary()``: n_responders, relapses, median_days (+ lower/upper; Kaplan-Meier with
        log-log CI, R's rule), sustained_7d ... sustained_28d (Kaplan-Meier survival at those
        days), model_median_days (+ CI; interval-censored fit).

    Notes
    -----
    The Kaplan-Meier curve uses ``relapse_time_days`` (the rating at which relapse was seen,
    or the last rating): the right-censored convention of the literature, which dates each
    relapse at the visit, i.e. late by up to one visit interval. The parametric model uses the
    interval ``(relapse_lower_days, relapse_upper_days]`` and does not have that delay.

    References
    ----------
    Kaplan EL, Meier P (1958). JASA 53:457-481. Lindsey JC, Ryan LM (1998). Methods for
    interval-censored data. Statistics in Medicine 17:219-238.
    """
    from analysis.survival.kaplan_meier import kaplan_meier

    endpoints = resolve_endpoints(data, instrument, endpoint_options, origin=origin)
    responders = endpoints.patients[endpoints.patients["responded"].to_numpy(dtype=bool)]
    infusions = data.infusions if isinstance(data, OutcomeData) else None
    groups, group_note = patient_groups(responders, by, infusions)
    notes = [group_note] if group_note else []
    usable = groups.notna().to_numpy()
    g_values = groups.to_numpy(dtype=object)
    levels = group_order(groups[usable])
    time = responders["relapse_time_days"].to_numpy(dtype=float)
    event = responders["relapse_event"].to_numpy(dtype=bool)
    lower_all = responders["relapse_lower_days"].to_numpy(dtype=float)
    upper_all = responders["relapse_upper_days"].to_numpy(dtype=float)

    max_time = float(np.nanmax(time)) if len(time) else 0.0
    risk_times = np.arange(0.0, max(max_time, 0.0) + RISK_TABLE_STEP_DAYS, RISK_TABLE_STEP_DAYS)
    grid = np.linspace(0.0, max(max_time, 1.0), 201)

    rows, curves, risks, model_curves, models, kms = [], [], [], [], {}, {}
    for level in levels:
        mask = usable & (g_values == level)
        n = int(mask.sum())
        relapses = int(event[mask].sum())
        row: dict[str, Any] = {"group": level, "n_responders": n, "relapses": relapses, "dist": dist,
                               "note": ""}
        notes_row = []
        where = f"group {level!r}: " if by is not None else ""
        if n == 0:
            rows.append(row)
            continue
        km = kaplan_meier(time[mask], event[mask], ci="log-log", alpha=alpha)
        kms[level] = km
        tab = km.table
        curves.append(pd.DataFrame({
            "group": level,
            "time_days": np.r_[0.0, tab["time"].to_numpy(dtype=float)],
            "survival": np.r_[1.0, tab["survival"].to_numpy(dtype=float)],
            "lower": np.r_[1.0, tab["lower"].to_numpy(dtype=float)],
            "upper": np.r_[1.0, tab["upper"].to_numpy(dtype=float)],
            "at_risk": np.r_[n, tab["at_risk"].to_numpy()],
            "events": np.r_[0, tab["events"].to_numpy()],
            "censored": np.r_[0, tab["censored"].to_numpy()],
        }))
        risks.append(km.risk_table(risk_times).rename(columns={"time": "time_days"}).assign(group=level))
        sustained = km.at(list(SUSTAINED_DAYS))["survival"].to_numpy(dtype=float)
        # beyond the last follow-up the curve is unknown
        sustained = np.where(np.asarray(SUSTAINED_DAYS) <= max(time[mask]), sustained, np.nan)
        row.update({"median_days": km.median, "median_days_lower": km.median_ci[0],
                    "median_days_upper": km.median_ci[1]})
        row.update({f"sustained_{d}d": s for d, s in zip(SUSTAINED_DAYS, sustained, strict=True)})
        if n < MIN_RESPONDERS or relapses < MIN_RELAPSES_MODEL:
            notes_row.append(f"too few responders or relapses for the parametric model (n={n}, "
                             f"relapses={relapses})")
        else:
            try:
                # quiet: problems of the fit go to the notes, not to Python warnings
                from analysis.survival.parametric import fit_parametric_quiet

                model = fit_parametric_quiet(lower_all[mask], upper_all[mask], dist=dist, alpha=alpha)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                notes_row.append(f"parametric model not fitted: {exc}")
                notes.append(f"{where}parametric model not fitted: {exc}")
            else:
                models[level] = model
                plain = [f"parametric model: {plain_fit_note(text, 'relapses')}" for text in model.notes]
                notes_row += plain
                notes.extend(f"{where}{text}" for text in plain)
                row.update({"model_median_days": model.median,
                            "model_median_days_lower": model.median_ci[0],
                            "model_median_days_upper": model.median_ci[1]})
                band = model.survival(grid)
                model_curves.append(pd.DataFrame({
                    "group": level, "time_days": grid,
                    "survival": band["survival"].to_numpy(dtype=float),
                    "lower": band["lower"].to_numpy(dtype=float),
                    "upper": band["upper"].to_numpy(dtype=float)}))
        row["note"] = "; ".join(notes_row)
        rows.append(row)

    table = group_table(rows, SUMMARY_COLUMNS)
    curve = stack_frames(curves, ["group", "time_days", "survival", "lower", "upper", "at_risk", "events", "censored"])
    risk_table = stack_frames(risks, ["group", "time_days", "at_risk", "events", "censored"])
    model_curve = stack_frames(model_curves, ["group", "time_days", "survival", "lower", "upper"])
    test = None
    if by is not None and len(levels) >= 2:
        from analysis.survival.logrank import logrank

        test = logrank(time[usable], event[usable], g_values[usable])
    elif by is not None:
        notes.append("log-rank test needs at least two groups")
    notes.append("median_days and sustained_*d are Kaplan-Meier on the visit at which relapse was "
                 "seen (right-censored convention); model_median_days is the interval-censored fit")
    return DurabilityResult(table, curve, risk_table, model_curve, test, endpoints.settings, endpoints,
                            by, dist, alpha, tuple(notes), models, kms)


def relapse_hazards(
    data: OutcomeData | Endpoints,
    covariates: Sequence[str] | None = None,
    instrument: str = "MADRS",
    ties: str = "efron",
    alpha: float = 0.05,
    **endpoint_options: Any,
):
    """Cox proportional-hazards model of time to relapse (days) among responders.

    Parameters
    ----------
    data : OutcomeData or Endpoints
    covariates : list of str, optional
        Columns of ``Endpoints.patients``. Default: first_dose_mg_per_kg, route, diagnosis,
        baseline_score, peak_cadss, n_infusions, age, sex (``"dose_mg_per_kg"`` is accepted for
        the first infusion's dose; any other column of the infusions table, e.g. ``duration_min``,
        means its value at the first infusion). Text columns are dummy-coded against their first
        level.
        Columns that are constant (or entirely missing) among responders are dropped with a
        ``UserWarning``; rows with any missing covariate are dropped by ``cox`` (``n_dropped``).
        Both are also recorded in plain words in the result's ``notes``.
    instrument, ties, alpha : as in ``analysis.cox``.
    **endpoint_options
        Passed to ``derive_endpoints`` (relapse rule, confirm_visits, origin, ...).

    Returns
    -------
    CoxResult
        From ``analysis.cox`` on duration ``relapse_time_days`` and event ``relapse_event``.

    References
    ----------
    Cox DR (1972). Regression models and life-tables. JRSS B 34:187-220.
    """
    from analysis.survival.cox import cox

    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    frame = endpoints.patients[endpoints.patients["responded"].to_numpy(dtype=bool)].reset_index(drop=True)
    wanted = list(DEFAULT_RELAPSE_COVARIATES if covariates is None else covariates)
    infusions = data.infusions if isinstance(data, OutcomeData) else None
    used, dropped = [], []
    for name in wanted:
        column, values, at_first_infusion = patient_column(frame, name, infusions)
        if values is None:
            raise ValueError(f"covariate {name!r} is not a column of Endpoints.patients"
                             + (" or of the infusions table." if infusions is not None else "."))
        if at_first_infusion:
            frame[column] = values  # e.g. duration_min
        if values.nunique(dropna=True) < 2:
            dropped.append(column)
            continue
        if values.dtype == "string" or values.dtype == object:
            frame[column] = values.astype(object).where(values.notna(), None)
        elif values.dtype == "boolean":
            frame[column] = values.astype(float)
        used.append(column)
    notes = []
    if dropped:
        notes.append(f"relapse_hazards: dropped constant or empty covariate(s) {', '.join(dropped)}")
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    if not used:
        raise ValueError("relapse_hazards: no covariate varies among responders.")
    frame["relapse_event"] = frame["relapse_event"].astype(bool)
    result = cox(frame, duration="relapse_time_days", event="relapse_event", covariates=used, ties=ties,
                 alpha=alpha)
    if result.n_dropped:
        notes.append(f"relapse_hazards: {result.n_dropped} responder(s) with a missing covariate left out")
    return dataclasses.replace(result, notes=(*notes, *result.notes)) if notes else result
