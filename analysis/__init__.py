"""Infusion Outcomes: analysis of de-identified ketamine infusion outcome data.

Import the package and call its functions; each returns a frozen result object::

    import analysis
    data = analysis.load_sample()
    onset = analysis.fit_onset(data, instrument="MADRS")
    onset.summary()

Names are imported on first use, so ``import analysis`` stays fast and never imports a UI
library.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_API: dict[str, str] = {
    # data contract, instruments, loading, simulation
    "OutcomeData": "analysis.contract",
    "DataError": "analysis.contract",
    "DataWarning": "analysis.contract",
    "AnalysisError": "analysis.errors",
    "Instrument": "analysis.instruments",
    "get_instrument": "analysis.instruments",
    "instrument_names": "analysis.instruments",
    "register_instrument": "analysis.instruments",
    "load": "analysis.loading",
    "load_sample": "analysis.loading",
    "Mapping": "analysis.mapping",
    "suggest_mapping": "analysis.mapping",
    "data_dictionary": "analysis.contract",
    "read_adtte": "analysis.cdisc",
    "simulate": "analysis.simulation",
    "SimulationTruth": "analysis.simulation",
    "Scenario": "analysis.simulation",
    # endpoints and time to event
    "derive_endpoints": "analysis.endpoints",
    "group_patients": "analysis.grouping",
    "Grouping": "analysis.grouping",
    "kaplan_meier": "analysis.survival.kaplan_meier",
    "logrank": "analysis.survival.logrank",
    "cox": "analysis.survival.cox",
    "fit_parametric": "analysis.survival.parametric",
    "turnbull": "analysis.survival.turnbull",
    "cumulative_incidence": "analysis.survival.competing",
    "fine_gray": "analysis.survival.competing",
    "fit_onset": "analysis.onset",
    "fit_durability": "analysis.durability",
    "relapse_hazards": "analysis.durability",
    "fit_response_state": "analysis.response_state",
    "milestones": "analysis.sustained",
    "landmark": "analysis.sustained",
    # longitudinal
    "trajectory": "analysis.longitudinal.trajectories",
    "fit_trajectory": "analysis.longitudinal.trajectories",
    "mixed_model": "analysis.longitudinal.mixed_models",
    "mmrm": "analysis.longitudinal.mmrm",
    "fit_mmrm": "analysis.longitudinal.repeated_measures",
    "visit_schedule": "analysis.longitudinal.repeated_measures",
    "patient_timeline": "analysis.longitudinal.timeline",
    "table_one": "analysis.tables",
    "responder_rates": "analysis.longitudinal.responders",
    "series_response": "analysis.longitudinal.responders",
    "compare_responders": "analysis.longitudinal.responders",
    "dissociation_response": "analysis.symptoms",
    "suicidality_course": "analysis.symptoms",
    "response_phenotypes": "analysis.symptoms",
    # cohort selection (dashboard filters)
    "filter_cohort": "analysis.cohort",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
