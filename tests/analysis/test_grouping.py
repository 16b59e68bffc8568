"""One meaning of ``by=``: analysis.group_patients and every function that takes ``by=``.

References are hand counts on small built tables, and the grouping itself: every ``by=``
function must report exactly the groups (and order) of ``group_patients`` on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import AnalysisError
from analysis.grouping import course_of_patients, dose_bands, group_patients, order_levels


@pytest.fixture(scope="module")
def sample():
    return analysis.load_sample()


# --------------------------------------------------------------------------------------------
# the groups each by= function reports, in its order

def _fixed_index(result) -> list[str]:
    return [str(g) for g in result.summary().index]


def _unique(column: pd.Series) -> list[str]:
    return [str(g) for g in dict.fromkeys(column)]


REPORTED = {
    "fit_onset": lambda d, by: _fixed_index(analysis.fit_onset(d, by=by)),
    "fit_durability": lambda d, by: _fixed_index(analysis.fit_durability(d, by=by)),
    "trajectory": lambda d, by: _unique(analysis.trajectory(d, by=by).table["group"]),
    "responder_rates": lambda d, by: _unique(analysis.responder_rates(d, by=by, time="any").table["group"]),
    "responder_rates_summary": lambda d, by: _unique(
        analysis.responder_rates(d, by=by, time="any").summary().index.get_level_values("group")),
    "series_response": lambda d, by: _unique(analysis.series_response(d, by=by).medians["group"]),
    "table_one": lambda d, by: [str(g) for g in analysis.table_one(d, by=by).group_sizes.index[1:]],
    "fit_mmrm": lambda d, by: _unique(analysis.fit_mmrm(d, by=by).lsmeans()[by]),
    "dissociation_response": lambda d, by: _unique(analysis.dissociation_response(d, by=by).correlations["group"]),
    "suicidality_course": lambda d, by: _unique(analysis.suicidality_course(d, by=by).course["group"]),
    "response_phenotypes": lambda d, by: _unique(analysis.response_phenotypes(d, by=by).counts["group"]),
}


@pytest.mark.parametrize("by", ["age", "diagnosis", "route"])
def test_compare_responders_compares_every_other_group_in_order_with_the_reference(sample, by):
    grouping = group_patients(sample, by)
    comparison = analysis.compare_responders(sample, by=by, time="any")
    assert set(comparison.table["reference"]) == {grouping.reference}
    for _, part in comparison.table.groupby("outcome"):
        assert part["group"].tolist() == [g for g in grouping.levels if g != grouping.reference]
# models put the reference first (patsy's treatment contrast), then the others in group order
MODELS = {
    "fit_trajectory": lambda d, by: list(analysis.fit_trajectory(d, by=by).frame[by].cat.categories),
}


@pytest.mark.parametrize("function", sorted(REPORTED))
@pytest.mark.parametrize("by", ["age", "diagnosis"])
def test_every_by_function_reports_the_same_groups_in_the_same_order(sample, function, by):
    expected = list(group_patients(sample, by, instrument="MADRS").levels)
    assert REPORTED[function](sample, by) == expected


@pytest.mark.parametrize("by", ["age", "diagnosis", "route"])
def test_models_use_the_same_groups_with_the_reference_first(sample, by):
    grouping = group_patients(sample, by)
    expected = [grouping.reference] + [g for g in grouping.levels if g != grouping.reference]
    assert MODELS["fit_trajectory"](sample, by) == expected


def test_age_gives_the_same_four_quartile_groups_on_the_sample(sample):
    grouping = group_patients(sample, "age")
    assert grouping.levels == ("age 18-34", "age 35-42", "age 43-50", "age 51-77")
    assert grouping.description == "grouped by age quartiles (years)"
    assert grouping.reference == "age 18-34"
    ages = sample.patients.set_index(sample.patients["patient_id"].astype(str))["age"]
    # a second implementation of the cut: R type-7 quartiles, right-closed bins
    q1, q2, q3 = np.quantile(ages, [0.25, 0.5, 0.75])
    expected_counts = [int((ages <= q1).sum()), int(((ages > q1) & (ages <= q2)).sum()),
                       int(((ages > q2) & (ages <= q3)).sum()), int((ages > q3).sum())]
    assert grouping.counts.tolist() == expected_counts
    assert grouping.counts.sum() == len(ages)


@pytest.mark.parametrize("by", ["course", "dose_band", "baseline"])
@pytest.mark.parametrize("function", ["trajectory", "responder_rates", "table_one", "series_response",
                                      "response_phenotypes", "fit_durability"])
def test_derived_groupings_work_wherever_by_exists(sample, function, by):
    expected = list(group_patients(sample, by, instrument="MADRS").levels)
    assert REPORTED[function](sample, by) == expected


def test_same_groups_from_endpoints_and_from_data(sample):
    endpoints = analysis.derive_endpoints(sample)
    for by in ("age", "course", "baseline", "dose_band", "route"):
        from_data = group_patients(sample, by, instrument="MADRS")
        from_endpoints = group_patients(endpoints, by)
        assert from_data.levels == from_endpoints.levels, by
        ids = endpoints.patients["patient_id"].astype(str)
        assert (from_data.of(ids).astype(str) == from_endpoints.of(ids).astype(str)).all(), by


# --------------------------------------------------------------------------------------------
# rules on hand-built tables

def test_numeric_groups_in_numeric_order_not_alphabetical():
    patients = pd.DataFrame({"patient_id": [f"P{i}" for i in range(8)], "age": [5, 6, 7, 8, 9, 10, 11, 12.0]})
    grouping = group_patients(patients, "age")
    assert grouping.levels == ("age 5-6", "age 7-8", "age 9-10", "age 11-12")
    assert sorted(grouping.levels) != list(grouping.levels)  # alphabetical would differ
    assert grouping.of(["P7", "P0", "nobody"]).astype(object).tolist()[:2] == ["age 11-12", "age 5-6"]
    assert pd.isna(grouping.of(["nobody"]).iloc[0])


def test_bins_as_cut_points_and_as_a_number_of_groups():
    patients = pd.DataFrame({"patient_id": [f"P{i}" for i in range(10)],
                             "age": [18, 25, 34, 35, 40, 49, 50, 64, 65, 90.0]})
    cut = group_patients(patients, "age", bins=[18, 35, 50, 65, 100])
    # both ends included in the first bin, right-closed after: 18-35 | 40-50 | 64-65 | 90
    assert cut.levels == ("age 18-35", "age 40-50", "age 64-65", "age 90")
    assert cut.counts.tolist() == [4, 3, 2, 1]
    halves = group_patients(patients, "age", bins=2)
    assert halves.counts.tolist() == [5, 5] and "halves" in halves.description
    with pytest.raises(AnalysisError, match=r"bins=\[50, 40\]: give at least two strictly increasing cut points"):
        group_patients(patients, "age", bins=[50, 40])
    with pytest.raises(AnalysisError, match="bins= applies to numeric columns"):
        group_patients(patients.assign(sex="F"), "sex", bins=2)


def test_few_numeric_values_are_groups_of_their_own_and_missing_values_are_left_out():
    patients = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "dose": [1.0, 0.5, np.nan, 0.5]})
    grouping = group_patients(patients, "dose")
    assert grouping.levels == ("0.5", "1")
    assert grouping.counts.tolist() == [2, 1]
    assert grouping.notes == ("1 patient(s) with unknown dose left out",)


def test_course_rule_single_series_and_boosters():
    hours = 24.0
    infusions = pd.DataFrame({
        "patient_id": ["A", "A", "A", "B", "C", "C", "D", "D", "E", "E", "E"],
        "time_hours": [0, 2 * hours, 4 * hours,   # A: three infusions two days apart -> series
                       0,                         # B: one infusion -> single
                       0, 10 * hours,             # C: a 10-day gap -> single plus a booster
                       0, 7 * hours,              # D: exactly 7 days -> still a series
                       0, 3 * hours, 20 * hours],  # E: a series of 2, then a booster on day 20
    })
    course = course_of_patients(infusions, ["A", "B", "C", "D", "E", "F"]).set_index("patient_id")
    assert course["course"].tolist() == ["series", "single", "single", "series", "series", "single"]
    assert course["n_series_infusions"].tolist() == [3, 1, 1, 2, 2, 1]
    assert course["series_end_hours"].tolist() == [96.0, 0.0, 0.0, 168.0, 72.0, 0.0]
    assert course["n_infusions"].tolist() == [3, 1, 2, 2, 3, 1]  # F: the contract's assumed infusion
    # the gap is a parameter
    assert course_of_patients(infusions, gap_days=1.0).set_index("patient_id").loc["A", "course"] == "single"
    with pytest.raises(AnalysisError, match="gap_days=0"):
        course_of_patients(infusions, gap_days=0)


def _course_by_loop(times_hours: list[float], gap_days: float = 7.0) -> str:
    """Second implementation (a plain loop, for the test only) of the course rule."""
    times = sorted(times_hours)
    n = 1
    for previous, current in zip(times, times[1:], strict=False):
        if current - previous > 24 * gap_days:
            break
        n += 1
    return "series" if n >= 2 else "single"


def test_course_groups_single_then_series_with_single_as_reference(sample):
    grouping = group_patients(sample, "course")
    assert grouping.levels == ("single", "series") and grouping.reference == "single"
    infusions = sample.infusions.assign(patient_id=sample.infusions["patient_id"].astype(str))
    expected = infusions.groupby("patient_id")["time_hours"].agg(lambda t: _course_by_loop(list(t)))
    expected = expected.reindex(grouping.labels.index).fillna("single")  # no record: one assumed infusion
    assert (grouping.labels.astype(str) == expected).all()
    assert grouping.counts["series"] > 50  # the sample has both courses


def test_dose_bands_around_the_standard_dose():
    bands = dose_bands([0.2, 0.47, 0.48, 0.5, 0.52, 0.53, 1.0, np.nan])
    assert bands.tolist()[:7] == ["<0.5 mg/kg", "<0.5 mg/kg", "0.5 mg/kg", "0.5 mg/kg", "0.5 mg/kg",
                                  ">0.5 mg/kg", ">0.5 mg/kg"]
    assert pd.isna(bands.iloc[7])


def test_default_references_follow_documented_rules_not_the_alphabet(sample):
    assert group_patients(sample, "dose_band").reference == "0.5 mg/kg"
    assert group_patients(sample, "route").reference == "IV"           # alphabetically "IM" comes first
    diagnosis = group_patients(sample, "diagnosis")
    assert diagnosis.reference == diagnosis.counts.idxmax() == "TRD"   # the largest group
    assert diagnosis.levels == ("MDD", "TRD", "bipolar", "PTSD", "other")  # the contract's order
    comparison = analysis.compare_responders(sample, by="route", time="any")
    assert set(comparison.table["reference"]) == {"IV"}


def test_reference_override_reaches_the_models(sample):
    fit = analysis.fit_mmrm(sample, by="diagnosis", reference="MDD")
    assert fit.settings["reference"] == "MDD"
    assert "C(diagnosis)[T.TRD]" in fit.fixed.index and "C(diagnosis)[T.MDD]" not in fit.fixed.index
    assert set(fit.lsmean_differences()["diagnosis"]) == {"TRD", "bipolar", "PTSD", "other"}
    model = analysis.fit_trajectory(sample, by="route", reference="oral")
    assert "C(route)[T.IV]" in model.fixed.index and model.settings["reference"] == "oral"


def test_order_levels():
    assert order_levels(["other", "TRD", "MDD"], "diagnosis") == ["MDD", "TRD", "other"]
    assert order_levels(["series", "single"], "course") == ["single", "series"]
    assert order_levels([">0.5 mg/kg", "<0.5 mg/kg", "0.5 mg/kg"]) == ["<0.5 mg/kg", "0.5 mg/kg", ">0.5 mg/kg"]
    assert order_levels(["10", "9", "b", "A"]) == ["9", "10", "A", "b"]


# --------------------------------------------------------------------------------------------
# misuse: one error type, messages in words, the same in every function

UNKNOWN = ("Cannot group by 'nope': it is not a patient-level or first-infusion column. "
           "Columns that can be used: age, sex, diagnosis, course, dose, route, duration_min, dose_band, "
           "baseline, n_infusions.")


def test_misuse_messages(sample):
    with pytest.raises(AnalysisError) as error:
        group_patients(sample, "nope")
    assert str(error.value) == UNKNOWN
    assert isinstance(error.value, ValueError)
    with pytest.raises(AnalysisError, match=r"Cannot group by 'patient_id': it has 300 different values "
                                            r"\(at most 12 groups\)\. Give bins= for a numeric column"):
        group_patients(sample, "patient_id")
    with pytest.raises(AnalysisError, match=r"reference='x' is not one of the groups of 'course': single, series\."):
        group_patients(sample, "course", reference="x")
    with pytest.raises(AnalysisError, match=r"by='baseline' groups by the baseline score of one instrument: "
                                            r"give instrument="):
        group_patients(sample, "baseline")
    with pytest.raises(AnalysisError, match="by='responded' is an outcome"):
        group_patients(analysis.derive_endpoints(sample), "responded")
    with pytest.raises(AnalysisError, match="by must be the name of one column"):
        group_patients(sample, ["age"])


MISUSE = {**REPORTED, "compare_responders": lambda d, by: analysis.compare_responders(d, by=by),
          "fit_trajectory": MODELS["fit_trajectory"]}


@pytest.mark.parametrize("function", sorted(set(MISUSE) - {"responder_rates_summary"}))
def test_the_same_misuse_gives_the_same_error_in_every_function(sample, function):
    with pytest.raises(AnalysisError) as error:
        MISUSE[function](sample, "nope")
    assert str(error.value) == UNKNOWN
