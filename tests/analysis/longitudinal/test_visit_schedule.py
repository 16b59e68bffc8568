"""Visit-label views hold protocol visits only: the simulator's rating at rescue treatment (visit
``rescue``, at the time of an event, not of a schedule) and unscheduled or early-termination
visits are no visit category of any course; they are counted and said, and the hours/days views
keep them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.longitudinal.trajectories import UNSCHEDULED_VISIT_PATTERN, unscheduled_visit_labels
from tests.analysis.outcome_builders import make_data


@pytest.fixture(scope="module")
def data() -> analysis.OutcomeData:
    return analysis.simulate(240, seed=11)


def _rescue_ratings(data: analysis.OutcomeData) -> pd.DataFrame:
    """The MADRS total-score ratings at the simulator's rescue assessment, counted from the data
    (the simulator's own label; a second count independent of the trajectory code)."""
    a = data.assessments
    return a[(a["instrument"] == "MADRS") & (a["visit"] == "rescue") & a["item"].isna()]


def test_the_sample_has_rescue_ratings_to_leave_out(data):
    assert len(_rescue_ratings(data)) >= 20  # otherwise the tests below prove nothing


def test_rescue_is_no_visit_of_either_course(data):
    course = analysis.trajectory(data, time="visit")
    for name, part in course.table.groupby("course"):
        assert "rescue" not in set(part["time_point"]), f"'rescue' drawn as a {name} visit"
    assert "rescue" not in set(course.individual["time_point"])
    rescue = _rescue_ratings(data)
    counted = course.unscheduled.set_index("visit")
    assert list(counted.index) == ["rescue"]
    assert counted.loc["rescue", "ratings"] == len(rescue)
    assert counted.loc["rescue", "patients"] == rescue["patient_id"].nunique()
    note = " ".join(course.notes)
    assert "not protocol visits" in note and f"'rescue' ({len(rescue)} ratings" in note
    assert any("not protocol visits" in line for line in course.describe())


def test_hours_and_days_views_keep_the_rescue_ratings(data):
    visits = analysis.trajectory(data, time="visit")
    days = analysis.trajectory(data, time="days")
    # the visit view drops exactly the rescue ratings (every simulated rating has a label)
    assert days.n_ratings - visits.n_ratings == len(_rescue_ratings(data))
    assert days.unscheduled.empty and not any("protocol visits" in n for n in days.notes)


def test_responders_by_visit_and_the_mmrm_schedule_leave_it_out(data):
    rates = analysis.responder_rates(data, by="course", time="visit")
    assert "rescue" not in set(rates.table["time_point"])
    assert any("'rescue'" in n for n in rates.notes)
    schedule = analysis.visit_schedule(data)
    assert "rescue" not in set(schedule["visit"])
    assert "day 1" in set(schedule["visit"])  # protocol visits are still there


def test_an_unscheduled_rating_inside_the_schedule_is_left_out_too():
    """Hand-built: two patients rated at day 1 and day 7; one also at 'Unscheduled 2.1' between
    them. The visit view has baseline, day 1, day 7 only, and day 1's mean is unchanged."""
    ratings = [("a", -1.0, 30, "baseline"), ("a", 24.0, 12, "day 1"), ("a", 80.0, 28, "Unscheduled 2.1"),
               ("a", 168.0, 20, "day 7"), ("b", -1.0, 34, "baseline"), ("b", 24.0, 20, "day 1"),
               ("b", 168.0, 30, "day 7")]
    data = make_data(ratings)
    course = analysis.trajectory(data, time="visit")
    assert list(course.table["time_point"]) == ["baseline", "day 1", "day 7"]
    assert course.table.set_index("time_point").loc["day 1", "mean"] == pytest.approx(16.0)
    assert course.unscheduled.to_dict("records") == [{"visit": "Unscheduled 2.1", "ratings": 1, "patients": 1}]


@pytest.mark.parametrize("label", ["rescue", "Rescue", "UNSCHEDULED 3.1", "Unscheduled", "unsched visit",
                                   "Early Termination", "early_discontinuation", "Withdrawal", "rescue MADRS"])
def test_labels_of_assessments_that_are_not_protocol_visits(label):
    assert UNSCHEDULED_VISIT_PATTERN.search(label)
    assert unscheduled_visit_labels([label, "day 1"]) == [label]


@pytest.mark.parametrize("label", ["day 14", "follow-up day 7", "WEEK 2", "inf2 pre", "Screening", "baseline",
                                   "booster1 24 h", "End of treatment", "scheduled", "Visit 3"])
def test_protocol_visit_labels_are_kept(label):
    assert not UNSCHEDULED_VISIT_PATTERN.search(label)
    assert unscheduled_visit_labels(np.array([label])) == []
