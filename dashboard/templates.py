"""Downloadable templates for the Data page, generated from the simulator when clicked.

Two layouts, each as CSV or Excel:

- **long**: one row per rating, the single-file form of the data contract (patient, instrument,
  score, time in hours since the first infusion, visit label, infusion and patient columns
  repeated on every row);
- **wide**: one row per patient, one column per instrument and time point (``MADRS_baseline``,
  ``MADRS_40min``, ``MADRS_day1``, ...), patient- and infusion-level columns once.

The values are simulated (``analysis.simulate``, a few single-infusion patients): they look like
real data and load as they are, so a user can replace them with their own rows. No Streamlit here.
"""

from __future__ import annotations

import io

import pandas as pd

import analysis

__all__ = ["TEMPLATE_FORMATS", "TEMPLATE_LAYOUTS", "template_bytes", "template_frame"]

TEMPLATE_LAYOUTS = ("long", "wide")
TEMPLATE_FORMATS = ("csv", "xlsx")
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

# Visit label in the simulator -> suffix of a wide column header (the forms clinics write).
_WIDE_VISITS = {"baseline": "baseline", "40 min": "40min", "230 min": "4h", "day 1": "day1",
                "day 7": "day7", "day 14": "day14"}
_PATIENTS = 4  # shown in the template: the first simulated patients rated at every visit above
_SIMULATED = 40
_SEED = 7
_PATIENT_COLUMNS = ["age", "sex", "diagnosis"]
_INFUSION_COLUMNS = ["dose_mg_per_kg", "route", "duration_min"]


def _simulated() -> pd.DataFrame:
    """MADRS totals of a few simulated single-infusion patients at the template's visits."""
    data = analysis.simulate(_SIMULATED, seed=_SEED, series_fraction=0.0)
    ratings = data.assessments
    ratings = ratings[ratings["item"].isna() & (ratings["instrument"] == "MADRS")
                      & ratings["visit"].isin(list(_WIDE_VISITS))]
    visits = ratings.groupby("patient_id", sort=True)["visit"].nunique()
    complete = visits.index[visits == len(_WIDE_VISITS)][:_PATIENTS]
    ratings = ratings[ratings["patient_id"].isin(complete)]
    first = data.infusions[data.infusions["infusion_number"] == 1]
    frame = (ratings[["patient_id", "instrument", "score", "time_hours", "visit", "infusion_number"]]
             .merge(first[["patient_id", *_INFUSION_COLUMNS]], on="patient_id", how="left")
             .merge(data.patients[["patient_id", *_PATIENT_COLUMNS]], on="patient_id", how="left"))
    frame["score"] = frame["score"].astype("int64")
    frame["age"] = frame["age"].round().astype("int64")
    frame["time_hours"] = frame["time_hours"].round(2)
    return frame.reset_index(drop=True)


def template_frame(layout: str) -> pd.DataFrame:
    """The template table of a layout ("long" or "wide")."""
    frame = _simulated()
    if layout == "long":
        return frame
    if layout == "wide":
        header = "MADRS_" + frame["visit"].map(_WIDE_VISITS)
        scores = frame.assign(header=header).pivot(index="patient_id", columns="header", values="score")
        order = [f"MADRS_{suffix}" for suffix in _WIDE_VISITS.values() if f"MADRS_{suffix}" in scores.columns]
        per_patient = frame.groupby("patient_id", sort=True)[_PATIENT_COLUMNS + _INFUSION_COLUMNS].first()
        wide = per_patient.join(scores[order]).reset_index()
        return wide.astype({c: "Int64" for c in order})
    raise ValueError(f"layout must be one of {TEMPLATE_LAYOUTS}, not {layout!r}.")


def template_bytes(layout: str, file_format: str) -> bytes:
    """The template as a file: "csv" (UTF-8, comma-separated) or "xlsx" (one sheet, "data")."""
    frame = template_frame(layout)
    if file_format == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if file_format == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            frame.to_excel(writer, sheet_name="data", index=False)
        return buffer.getvalue()
    raise ValueError(f"file_format must be one of {TEMPLATE_FORMATS}, not {file_format!r}.")
