"""The first-infusion and baseline rules (analysis.baseline): hand-built tables with known
answers, and agreement with derive_endpoints (which applies the same rule on its own arrays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import AnalysisError
from analysis.baseline import baseline_scores, first_infusions, rated_against_baseline
from tests.analysis.outcome_builders import make_data


def test_first_infusion_is_the_earliest_start_whatever_the_row_order():
    infusions = pd.DataFrame({"patient_id": ["A", "A", "B", "B", "C"],
                              "infusion_number": [2, 1, 1, 2, 1],
                              "time_hours": [48.0, 0.0, 0.0, 0.0, 0.0],
                              "dose_mg_per_kg": [0.75, 0.5, 0.4, 0.6, 1.0],
                              "route": ["IM", "IV", "IV", "oral", "IV"]})
    first = first_infusions(infusions).set_index("patient_id")
    assert first.loc["A", "dose_mg_per_kg"] == 0.5 and first.loc["A", "route"] == "IV"
    assert first.loc["B", "dose_mg_per_kg"] == 0.4  # same start: the lower infusion number
    assert list(first.index) == ["A", "B", "C"]
    assert first_infusions(infusions.iloc[:0]).empty


def test_baseline_is_the_last_rating_at_or_before_the_first_infusion_and_zero_is_kept():
    ratings = [("p1", -48.0, 35, "screen"), ("p1", -1.0, 30, "pre"), ("p1", 4.0, 15, "4h"),
               ("p2", 0.0, 0, "pre"), ("p2", 24.0, 3, "d1"),        # baseline 0 is a baseline
               ("p3", 4.0, 20, "4h")]                                  # no baseline
    data = make_data(ratings)
    base = baseline_scores(data, "MADRS").set_index("patient_id")
    assert base["baseline_score"].to_dict() == {"p1": 30.0, "p2": 0.0}
    assert base["baseline_time_hours"].to_dict() == {"p1": -1.0, "p2": 0.0}
    rated = rated_against_baseline(data, "MADRS")
    assert rated["patient_id"].tolist() == ["p1", "p1", "p2", "p2"]  # the screen rating is dropped
    assert rated["change"].tolist() == [0.0, -15.0, 0.0, 3.0]
    assert rated["is_baseline"].tolist() == [True, False, True, False]


def test_baseline_rule_agrees_with_derive_endpoints_on_the_sample():
    data = analysis.load_sample()
    endpoints = analysis.derive_endpoints(data)
    ours = rated_against_baseline(data, "MADRS")
    ours = ours[ours["patient_id"].isin(set(endpoints.patients["patient_id"].astype(str)))]
    theirs = endpoints.ratings.assign(patient_id=endpoints.ratings["patient_id"].astype(str))
    key = ["patient_id", "time_hours", "score"]
    ours = ours.sort_values(key, kind="stable").reset_index(drop=True)
    theirs = theirs.sort_values(key, kind="stable").reset_index(drop=True)
    assert len(ours) == len(theirs)
    for column in ("patient_id", "time_hours", "score", "baseline_score", "change", "is_baseline"):
        np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy())


def test_an_unknown_input_is_refused_in_words():
    with pytest.raises(AnalysisError, match="first_infusions needs an OutcomeData or its infusions table"):
        first_infusions("infusions.csv")
