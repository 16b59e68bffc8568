"""Cohort selection: keep the patients that match a set of filters.

The dashboard's sidebar filters and an analyst's script use the same function, so a filtered
view can be reproduced exactly::

    import analysis
    data = analysis.load_sample()
    trd_iv = analysis.filter_cohort(data, diagnosis=["TRD"], route=["IV"], dose_range=(0.4, 0.6))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.contract import OutcomeData

__all__ = ["describe_filters", "filter_cohort", "first_infusions"]


def first_infusions(data: OutcomeData) -> pd.DataFrame:
    """One row per patient: the route and dose (mg/kg) of the patient's first infusion
    (:func:`analysis.baseline.first_infusions`, the package's one first-infusion rule)."""
    from analysis.baseline import first_infusions as first_rows

    first = first_rows(data)
    if first.empty:
        return pd.DataFrame({"patient_id": pd.Series(dtype="string"),
                             "route": pd.Series(dtype="string"),
                             "dose_mg_per_kg": pd.Series(dtype="float64")})
    columns = [c for c in ("patient_id", "route", "dose_mg_per_kg") if c in first.columns]
    return first[columns].reset_index(drop=True)


def _as_list(values: str | Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return [str(v) for v in values]


def filter_cohort(
    data: OutcomeData,
    *,
    diagnosis: str | Sequence[str] | None = None,
    route: str | Sequence[str] | None = None,
    dose_range: tuple[float, float] | None = None,
    sex: str | Sequence[str] | None = None,
    age_range: tuple[float, float] | None = None,
) -> OutcomeData:
    """Keep the patients who match every given filter; tables of other patients are dropped.

    Parameters
    ----------
    data : OutcomeData
        A validated dataset.
    diagnosis, sex : str or list of str, optional
        Keep patients whose value is one of these (matched exactly; ``None`` or an empty list
        means no filter on that column).
    route : str or list of str, optional
        Keep patients whose *first* infusion used one of these routes.
    dose_range : (low, high), optional
        Keep patients whose first infusion's dose lies in ``[low, high]`` mg/kg (inclusive).
    age_range : (low, high), optional
        Keep patients aged ``low`` to ``high`` years inclusive. Patients with unknown age are
        dropped when this filter is given.

    Returns
    -------
    OutcomeData
        The same dataset restricted to the kept patients (warnings, source and truth are kept;
        ``source`` says that a filter was applied). With no filter given, ``data`` itself.
    """
    patients = data.patients
    keep = pd.Series(True, index=patients.index)
    for column, values in (("diagnosis", diagnosis), ("sex", sex)):
        wanted = _as_list(values)
        if wanted and column in patients.columns:
            keep &= patients[column].astype("string").isin(wanted).fillna(False).astype(bool)
        elif wanted:
            keep &= False
    if age_range is not None:
        low, high = age_range
        age = patients["age"] if "age" in patients.columns else pd.Series(np.nan, index=patients.index)
        keep &= age.between(low, high).fillna(False).astype(bool)

    wanted_routes = _as_list(route)
    if wanted_routes or dose_range is not None:
        first = first_infusions(data).set_index("patient_id")
        first = first.reindex(patients["patient_id"].to_numpy())
        by_patient = pd.Series(True, index=first.index)
        if wanted_routes:
            by_patient &= first["route"].astype("string").isin(wanted_routes).fillna(False).astype(bool)
        if dose_range is not None:
            low, high = dose_range
            by_patient &= first["dose_mg_per_kg"].between(low, high).fillna(False).astype(bool)
        keep &= by_patient.to_numpy()

    if bool(keep.all()):
        return data
    kept_ids = patients.loc[keep, "patient_id"]
    kept_index = pd.Index(kept_ids.astype("string"))

    def restrict(table: pd.DataFrame) -> pd.DataFrame:
        return table[table["patient_id"].isin(kept_index)].reset_index(drop=True)

    note = describe_filters(diagnosis=diagnosis, route=route, dose_range=dose_range, sex=sex,
                            age_range=age_range)
    source = f"{data.source} (filtered: {'; '.join(note)})" if data.source else f"filtered: {'; '.join(note)}"
    return replace(
        data,
        assessments=restrict(data.assessments),
        infusions=restrict(data.infusions),
        patients=restrict(patients),
        source=source,
        _fingerprint=[],
    )


def describe_filters(
    *,
    diagnosis: str | Sequence[str] | None = None,
    route: str | Sequence[str] | None = None,
    dose_range: tuple[float, float] | None = None,
    sex: str | Sequence[str] | None = None,
    age_range: tuple[float, float] | None = None,
) -> list[str]:
    """Plain-language lines describing the filters (``["all patients"]`` when none)."""
    lines = []
    if _as_list(diagnosis):
        lines.append("diagnosis: " + ", ".join(_as_list(diagnosis)))
    if _as_list(route):
        lines.append("route of first infusion: " + ", ".join(_as_list(route)))
    if dose_range is not None:
        lines.append(f"dose of first infusion {dose_range[0]:g} to {dose_range[1]:g} mg/kg")
    if _as_list(sex):
        lines.append("sex: " + ", ".join(_as_list(sex)))
    if age_range is not None:
        lines.append(f"age {age_range[0]:g} to {age_range[1]:g} years")
    return lines or ["all patients"]
