"""Builders of small OutcomeData sets for the analysis tests (shared, not a test module).

Import as ``from tests.analysis.outcome_builders import ...`` (pytest runs with
``--import-mode=importlib`` and ``pythonpath = ["."]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import ASSESSMENT_COLUMNS, INFUSION_COLUMNS, PATIENT_COLUMNS, OutcomeData


def outcome_data(assessments: pd.DataFrame, infusions: Any = None, patients: Any = None) -> OutcomeData:
    """OutcomeData from a frame of ratings with at least patient_id, time_hours and score.

    Missing columns are filled: instrument "MADRS", item / visit / infusion_number NA, and
    source_row 1..n. ``infusions``: None (one IV 0.5 mg/kg infusion at 0 h per patient), rows of
    (patient, infusion_number, time_hours), or a frame; dose 0.5 mg/kg and route IV are added when
    absent. ``patients``: None (age 40, sex F, diagnosis TRD for every patient) or a frame.
    """
    a = assessments.copy()
    if "instrument" not in a:
        a.insert(1, "instrument", "MADRS")
    a["item"] = pd.array(a["item"].where(a["item"].notna(), None), dtype="Int64") if "item" in a else (
        pd.array([pd.NA] * len(a), dtype="Int64"))
    if "visit" not in a:
        a["visit"] = pd.NA
    a["infusion_number"] = pd.array([pd.NA] * len(a), dtype="Int64")
    a["source_row"] = np.arange(1, len(a) + 1, dtype=np.int64)
    a = a.astype(ASSESSMENT_COLUMNS)
    ids = list(dict.fromkeys(a["patient_id"]))
    if infusions is None:
        infusions = [(pid, 1, 0.0) for pid in ids]
    i = (infusions.copy() if isinstance(infusions, pd.DataFrame)
         else pd.DataFrame(infusions, columns=["patient_id", "infusion_number", "time_hours"]))
    if "dose_mg_per_kg" not in i:
        i["dose_mg_per_kg"] = 0.5
    if "route" not in i:
        i["route"] = "IV"
    i = i.astype({c: t for c, t in INFUSION_COLUMNS.items() if c in i})
    if patients is None:
        patients = pd.DataFrame({"patient_id": ids, "age": 40.0, "sex": "F", "diagnosis": "TRD"})
    patients = patients.astype({c: t for c, t in PATIENT_COLUMNS.items() if c in patients})
    return OutcomeData(a, i, patients)


def make_data(ratings: Any, infusions: Any = None, patients: Any = None) -> OutcomeData:
    """MADRS totals from rows of (patient, time_hours, score, visit); see :func:`outcome_data`."""
    return outcome_data(pd.DataFrame(ratings, columns=["patient_id", "time_hours", "score", "visit"]),
                        infusions, patients)
