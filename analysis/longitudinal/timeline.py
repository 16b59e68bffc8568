"""Patient timelines (swimmer plots): one patient's course, or a sample's, on one axis in days.

::

    import analysis
    data = analysis.load_sample()
    timeline = analysis.patient_timeline(data, n_patients=20)
    timeline.infusions   # patient_id, time_days, infusion_number, dose_mg_per_kg, route, kind
    timeline.ratings     # patient_id, time_days, visit, score, responder
    timeline.marks       # patient_id, time_days, mark ("response" | "relapse")
    timeline.events      # patient_id, time_days, event, detail (OutcomeData.events)
    timeline.spans       # patient_id, start_days, end_days, course, responded, relapsed

Time is days since the start of the patient's first infusion (the contract's clock; negative =
before it, e.g. the baseline rating). Infusions are ``series`` (the induction series of
:func:`analysis.course_of_patients`), ``booster`` (later infusions) or ``single``. The response
mark sits at the first responding rating (``onset_time_hours`` of :func:`analysis.derive_endpoints`,
the detection visit), the relapse mark at the relapse-dated rating (durability origin plus
``relapse_time_days``; relapse and composite events, status 1). A timeline shows individual
patients: it is row-level data, not an aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.grouping import course_of_patients
from analysis.longitudinal.trajectories import endpoint_instrument, resolve_endpoints

__all__ = ["TimelineResult", "patient_timeline"]


@dataclass(frozen=True)
class TimelineResult:
    """The tidy tables of a swimmer plot (see the module docstring); ``patients`` lists the
    patients shown, in display order (first = top)."""

    patients: tuple[str, ...]
    spans: pd.DataFrame
    infusions: pd.DataFrame
    ratings: pd.DataFrame
    marks: pd.DataFrame
    events: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> list[str]:
        s = self.settings
        chosen = ("the patients asked for" if s.get("chosen") == "given"
                  else f"a random sample of {len(self.patients)} of {s.get('n_available')} patients (seed {s.get('seed')})")
        return [f"Timeline of {chosen}: days since the start of each patient's first infusion. Infusions by route "
                "(series, booster); ratings of " + str(s.get("instrument")) + "; response = first rating at least "
                f"{s.get('response_pct', 50):g}% below baseline; relapse as defined for durability; other events "
                "as recorded."]

    def summary(self) -> pd.DataFrame:
        """One row per patient: course, infusions, boosters, first response and relapse (days)."""
        infusions = self.infusions.groupby("patient_id").agg(
            infusions=("infusion_number", "size"), boosters=("kind", lambda k: int((k == "booster").sum())))
        marks = self.marks.pivot_table(index="patient_id", columns="mark", values="time_days", aggfunc="first")
        table = self.spans.set_index("patient_id").join(infusions).join(
            marks.rename(columns={"response": "response_day", "relapse": "relapse_day"}))
        for column in ("response_day", "relapse_day"):
            if column not in table.columns:
                table[column] = np.nan
        return table.reindex(list(self.patients))

    def __repr__(self) -> str:
        return (f"TimelineResult({len(self.patients)} patients, {len(self.infusions)} infusions, "
                f"{len(self.ratings)} ratings, {len(self.events)} events)")


def patient_timeline(
    data: Any,
    patient_ids: Sequence[str] | None = None,
    n_patients: int = 20,
    seed: int = 0,
    instrument: str = "MADRS",
    **endpoint_options: Any,
) -> TimelineResult:
    """Infusions (dose, route, series or booster), ratings, response and relapse marks and
    other events of some patients, on one axis in days since the first infusion.

    Parameters
    ----------
    data : OutcomeData
        The dataset (infusions and events are read from it).
    patient_ids : list of str, optional
        The patients to show, in this order. Default: a random sample of ``n_patients``.
    n_patients, seed : int
        Size of the sample and the seed of its draw (numpy default_rng), so a view is reproducible.
    instrument : str
        Rating scale of the ratings and of the response/relapse marks.
    **endpoint_options
        Definitions passed to :func:`analysis.derive_endpoints` (response, relapse, ...).
    """
    if not hasattr(data, "infusions") or not hasattr(data, "events"):
        raise AnalysisError("patient_timeline needs the OutcomeData (infusions and events), not derived Endpoints.")
    endpoints = resolve_endpoints(data, instrument, endpoint_options)
    instrument = endpoint_instrument(endpoints, instrument)
    available = pd.Index(endpoints.patients["patient_id"].astype(str))
    if patient_ids is not None:
        wanted = [str(p) for p in patient_ids]
        unknown = [p for p in wanted if p not in set(available)]
        if unknown:
            raise AnalysisError("No analysed patient with id " + ", ".join(map(repr, unknown[:5]))
                                + " (patients need a baseline rating of " + instrument + "). Choose ids from "
                                "the dataset's patient list.")
        chosen, how = wanted, "given"
    else:
        if n_patients < 1:
            raise AnalysisError("n_patients must be at least 1.")
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(available), size=min(n_patients, len(available)), replace=False)
        chosen, how = [str(p) for p in available[np.sort(picked)]], "sample"
    ids = set(chosen)

    patients = endpoints.patients.assign(patient_id=endpoints.patients["patient_id"].astype(str))
    patients = patients[patients["patient_id"].isin(ids)].set_index("patient_id").reindex(chosen)
    ratings = endpoints.ratings[endpoints.ratings["patient_id"].astype(str).isin(ids)]
    rating_rows = pd.DataFrame({
        "patient_id": ratings["patient_id"].astype(str).to_numpy(),
        "time_days": ratings["time_hours"].to_numpy(float) / 24.0,
        "visit": ratings["visit"].astype(object).to_numpy(),
        "score": ratings["score"].to_numpy(float),
        "responder": ratings["responder"].to_numpy(bool),
    })

    inf = data.infusions[data.infusions["patient_id"].astype(str).isin(ids)]
    course = course_of_patients(data.infusions[data.infusions["patient_id"].astype(str).isin(ids)], chosen)
    course = course.set_index("patient_id")
    first = inf.groupby(inf["patient_id"].astype(str))["time_hours"].min()
    pid = inf["patient_id"].astype(str).to_numpy()
    hours = inf["time_hours"].to_numpy(float)
    series_end = course["series_end_hours"].reindex(pid).to_numpy(float)
    kind = np.where(hours - first.reindex(pid).to_numpy(float) > series_end + 1e-9, "booster",
                    np.where(course["course"].reindex(pid).to_numpy() == "series", "series", "single"))
    infusion_rows = pd.DataFrame({
        "patient_id": pid,
        "time_days": hours / 24.0,
        "infusion_number": inf["infusion_number"].to_numpy(),
        "dose_mg_per_kg": inf["dose_mg_per_kg"].to_numpy(float) if "dose_mg_per_kg" in inf else np.nan,
        "route": inf["route"].astype(object).to_numpy() if "route" in inf else None,
        "kind": kind,
    }).sort_values(["patient_id", "time_days"], kind="stable").reset_index(drop=True)

    onset = patients["onset_time_hours"].where(patients["responded"].astype("boolean").fillna(False).to_numpy(bool))
    relapse_event = (patients["relapse_status"] == 1).fillna(False).to_numpy(bool) if "relapse_status" in patients \
        else patients["relapse_event"].fillna(False).to_numpy(bool)
    relapse_day = (patients["durability_origin_hours"] / 24.0 + patients["relapse_time_days"]).where(relapse_event)
    marks = pd.concat([
        pd.DataFrame({"patient_id": chosen, "time_days": onset.to_numpy(float) / 24.0, "mark": "response"}),
        pd.DataFrame({"patient_id": chosen, "time_days": relapse_day.to_numpy(float), "mark": "relapse"}),
    ], ignore_index=True).dropna(subset=["time_days"]).reset_index(drop=True)

    events = data.events[data.events["patient_id"].astype(str).isin(ids)]
    event_rows = pd.DataFrame({"patient_id": events["patient_id"].astype(str).to_numpy(),
                               "time_days": events["time_hours"].to_numpy(float) / 24.0,
                               "event": events["event"].astype(object).to_numpy(),
                               "detail": events["detail"].astype(object).to_numpy()
                               if "detail" in events else None}).reset_index(drop=True)

    start = rating_rows.groupby("patient_id")["time_days"].min().reindex(chosen)
    end = pd.concat([rating_rows[["patient_id", "time_days"]], infusion_rows[["patient_id", "time_days"]],
                     event_rows[["patient_id", "time_days"]]]).groupby("patient_id")["time_days"].max().reindex(chosen)
    spans = pd.DataFrame({
        "patient_id": chosen,
        "start_days": np.minimum(start.fillna(0.0).to_numpy(float), 0.0),
        "end_days": end.fillna(0.0).to_numpy(float),
        "course": course["course"].reindex(chosen).to_numpy(),
        "responded": patients["responded"].astype("boolean").fillna(False).to_numpy(bool),
        "relapsed": relapse_event,
    })
    settings = {"instrument": instrument, "chosen": how, "seed": seed, "n_available": len(available),
                "response_pct": 100 * float(getattr(endpoints.settings, "response", 0.5))}
    return TimelineResult(patients=tuple(chosen), spans=spans, infusions=infusion_rows, ratings=rating_rows,
                          marks=marks, events=event_rows, settings=settings)
