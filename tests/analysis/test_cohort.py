"""filter_cohort: each filter keeps exactly the patients a direct pandas selection keeps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import describe_filters, filter_cohort, first_infusions
from analysis.contract import OutcomeData


def _data() -> OutcomeData:
    rng = np.random.default_rng(1)
    n = 40
    ids = [f"P{i:03d}" for i in range(n)]
    patients = pd.DataFrame({
        "patient_id": pd.array(ids, dtype="string"),
        "age": np.where(np.arange(n) % 10 == 0, np.nan, rng.integers(18, 80, n)).astype(float),
        "sex": pd.array(rng.choice(["F", "M"], n), dtype="string"),
        "diagnosis": pd.array(rng.choice(["MDD", "TRD", "PTSD"], n), dtype="string"),
    })
    # two infusions each; the second one has a different route and dose, which must be ignored
    infusions = pd.DataFrame({
        "patient_id": pd.array(np.repeat(ids, 2), dtype="string"),
        "infusion_number": np.tile([1, 2], n),
        "time_hours": np.tile([0.0, 72.0], n),
        "dose_mg_per_kg": np.ravel(np.column_stack([rng.choice([0.2, 0.5, 1.0], n), np.full(n, 0.75)])),
        "route": pd.array(np.ravel(np.column_stack([rng.choice(["IV", "IM"], n), np.full(n, "oral")])),
                          dtype="string"),
        "duration_min": 40.0,
    })
    assessments = pd.DataFrame({
        "patient_id": pd.array(np.repeat(ids, 3), dtype="string"),
        "instrument": pd.array(["MADRS"] * (3 * n), dtype="string"),
        "item": pd.array([pd.NA] * (3 * n), dtype="Int64"),
        "score": rng.integers(5, 45, 3 * n).astype(float),
        "time_hours": np.tile([-1.0, 4.0, 24.0], n),
        "visit": pd.array(np.tile(["baseline", "4 h", "day 1"], n), dtype="string"),
        "infusion_number": pd.array(np.tile([pd.NA, 1, 1], n), dtype="Int64"),
        "source_row": np.arange(1, 3 * n + 1),
    })
    return OutcomeData(assessments=assessments, infusions=infusions, patients=patients, source="test")


def _ids(data: OutcomeData) -> set[str]:
    return set(data.patients["patient_id"])


def test_no_filter_returns_the_same_object():
    data = _data()
    assert filter_cohort(data) is data
    assert filter_cohort(data, diagnosis=[], sex=None) is data


def test_patient_level_filters():
    data = _data()
    p = data.patients
    out = filter_cohort(data, diagnosis=["TRD", "PTSD"], sex="F")
    expected = set(p.loc[p["diagnosis"].isin(["TRD", "PTSD"]) & (p["sex"] == "F"), "patient_id"])
    assert _ids(out) == expected and expected
    # every table is restricted to the same patients
    assert set(out.assessments["patient_id"]) == expected
    assert set(out.infusions["patient_id"]) == expected
    assert len(out.assessments) == 3 * len(expected)


def test_age_range_drops_unknown_age_and_is_inclusive():
    data = _data()
    p = data.patients
    low, high = float(p["age"].min()), 50.0
    out = filter_cohort(data, age_range=(low, high))
    expected = set(p.loc[(p["age"] >= low) & (p["age"] <= high), "patient_id"])
    assert _ids(out) == expected
    assert not out.patients["age"].isna().any()


def test_route_and_dose_use_the_first_infusion():
    data = _data()
    first = data.infusions[data.infusions["infusion_number"] == 1]
    out = filter_cohort(data, route=["IM"], dose_range=(0.4, 0.6))
    expected = set(first.loc[(first["route"] == "IM") & first["dose_mg_per_kg"].between(0.4, 0.6),
                             "patient_id"])
    assert _ids(out) == expected
    # the second infusion is oral at 0.75 mg/kg for everyone: filtering on it keeps no one
    assert filter_cohort(data, route="oral").n_patients == 0
    assert filter_cohort(data, dose_range=(0.7, 0.8)).n_patients == 0


def test_filtered_data_has_its_own_fingerprint_and_source():
    data = _data()
    out = filter_cohort(data, diagnosis="MDD")
    assert out.fingerprint != data.fingerprint
    assert "diagnosis: MDD" in out.source


def test_first_infusions_one_row_per_patient():
    data = _data()
    first = first_infusions(data)
    assert len(first) == data.n_patients
    assert not first["route"].eq("oral").any()


@pytest.mark.parametrize(("kwargs", "text"), [
    ({}, "all patients"),
    ({"dose_range": (0.4, 0.6)}, "dose of first infusion 0.4 to 0.6 mg/kg"),
    ({"age_range": (18, 65)}, "age 18 to 65 years"),
])
def test_describe_filters(kwargs, text):
    assert text in describe_filters(**kwargs)


def test_first_infusion_is_the_one_rule_of_analysis_baseline():
    # rows out of order: the first infusion is the earliest start, as everywhere in the package
    data = _data()
    shuffled = data.infusions.sample(frac=1.0, random_state=3).reset_index(drop=True)
    mixed = OutcomeData(data.assessments, shuffled, data.patients)
    from analysis.baseline import first_infusions as the_rule

    ours = first_infusions(mixed).set_index("patient_id").sort_index()
    rule = the_rule(mixed).set_index("patient_id").sort_index()
    assert ours["route"].tolist() == rule["route"].tolist()
    assert ours["dose_mg_per_kg"].tolist() == rule["dose_mg_per_kg"].tolist()
    assert (rule["time_hours"] == 0.0).all() and "oral" not in set(ours["route"])
