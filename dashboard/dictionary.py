"""The data dictionary shown on the Data page (columns of the data contract, in words)."""

from __future__ import annotations

import pandas as pd

from analysis.contract import ASSESSMENT_COLUMNS, INFUSION_COLUMNS, PATIENT_COLUMNS

_DESCRIPTIONS = {
    ("assessments", "patient_id"): ("yes", "Pseudonymous patient identifier (never a name or record number)."),
    ("assessments", "instrument"): ("yes", "Rating scale, e.g. MADRS, HAM-D17, QIDS-SR16, PHQ-9, BDI-II, CADSS, GAD-7 (aliases accepted)."),
    ("assessments", "item"): ("no", "Item number for item-level rows; empty for the total score."),
    ("assessments", "score"): ("yes", "Total (or item) score, an integer within the instrument's range."),
    ("assessments", "time_hours"): ("yes", "Hours since the start of the first infusion (negative = before). time_min or time_days are accepted and converted."),
    ("assessments", "visit"): ("no", "Visit label, e.g. 'baseline', '40 min', 'day 7'."),
    ("assessments", "infusion_number"): ("no", "Infusion the rating belongs to (1, 2, ...)."),
    ("assessments", "source_row"): ("added", "Row number in your file (1 = first data row), used in messages."),
    ("infusions", "patient_id"): ("yes", "Pseudonymous patient identifier."),
    ("infusions", "infusion_number"): ("yes", "1, 2, ... in time order."),
    ("infusions", "time_hours"): ("yes", "Start of the infusion in hours since the first infusion (the first is 0)."),
    ("infusions", "dose_mg_per_kg"): ("yes", "Ketamine dose in mg per kg of body weight (0.5 is standard)."),
    ("infusions", "route"): ("yes", "IV, IM, intranasal, sublingual, oral or rectal."),
    ("infusions", "duration_min"): ("no", "Infusion duration in minutes (40 is standard)."),
    ("patients", "patient_id"): ("yes", "Pseudonymous patient identifier."),
    ("patients", "age"): ("no", "Age in years."),
    ("patients", "sex"): ("no", "Sex as recorded."),
    ("patients", "diagnosis"): ("no", "MDD, TRD, bipolar, PTSD or other. Other columns are kept as covariates."),
}


def data_dictionary() -> pd.DataFrame:
    """One row per column of the three tables: table, column, type, required, meaning."""
    rows = []
    for table, columns in (("assessments", ASSESSMENT_COLUMNS), ("infusions", INFUSION_COLUMNS),
                           ("patients", PATIENT_COLUMNS)):
        for column, dtype in columns.items():
            required, meaning = _DESCRIPTIONS.get((table, column), ("no", ""))
            rows.append({"table": table, "column": column, "type": dtype, "required": required,
                         "meaning": meaning})
    return pd.DataFrame(rows)
