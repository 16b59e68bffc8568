"""The mixed model's fixed-effect terms in words (the Trajectories table's rows): the Python names
(``time_days_after_7``, ``C(course)[T.series]``) said as what they estimate, with units."""

from __future__ import annotations

import pytest

import analysis


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def test_piecewise_terms_with_a_group_read_as_slopes_and_differences(sample):
    model = analysis.fit_trajectory(sample, by="course", time_effect="piecewise")
    words = model.fixed_in_words()["label"].to_dict()
    assert words == {
        "Intercept": "Intercept (points)",
        "C(course)[T.series]": "Course: series vs single (points)",
        "time_days": "Slope to 4 h (points per day)",
        "C(course)[T.series]:time_days": "Course: series vs single, slope to 4 h (points per day)",
        "time_days_after_4h": "Change in slope after 4 h (points per day)",
        "C(course)[T.series]:time_days_after_4h":
            "Course: series vs single, change in slope after 4 h (points per day)",
        "time_days_after_1": "Change in slope after day 1 (points per day)",
        "C(course)[T.series]:time_days_after_1":
            "Course: series vs single, change in slope after day 1 (points per day)",
        "time_days_after_7": "Change in slope after day 7 (points per day)",
        "C(course)[T.series]:time_days_after_7":
            "Course: series vs single, change in slope after day 7 (points per day)",
        "baseline_score": "Baseline score (points per point of baseline)"}
    assert model.fixed_in_words().drop(columns="label").equals(model.fixed)  # the estimates untouched


def test_hours_linear_and_spline_terms(sample):
    hours = analysis.fit_trajectory(sample, time_unit="hours", time_effect="piecewise", knots=[24])
    assert hours.fixed_in_words()["label"].tolist()[:3] == [
        "Intercept (points)", "Slope to 24 hours (points per hour)",
        "Change in slope after 24 hours (points per hour)"]
    assert analysis.fit_trajectory(sample).fixed_in_words()["label"].tolist() == [
        "Intercept (points)", "Slope (points per day)", "Baseline score (points per point of baseline)"]
    spline = analysis.fit_trajectory(sample, time_effect="spline").fixed_in_words()["label"]
    assert spline.tolist()[1:3] == ["Time spline basis 1 (points)", "Time spline basis 2 (points)"]


def test_mmrm_terms_read_as_visit_differences(sample):
    model = analysis.fit_mmrm(sample)
    words = model.fixed_in_words()["label"].to_dict()
    assert words["C(visit)[T.day 7]"] == "Visit: day 7 vs day 1 (points of change)"
    assert words["baseline_score:C(visit)[T.day 28]"] == "Baseline score, visit: day 28 vs day 1 (per point of baseline)"
    assert model.fixed_in_words().drop(columns="label").equals(model.fixed)
