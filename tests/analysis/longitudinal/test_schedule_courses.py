"""The visit view's panels follow the schedule patients were rated on: a patient who started an
induction series and stopped after the first infusion (single by the course rule, rated at the
series visits "inf1 ...") is summarised with the series visits, so the single-infusion panel holds
no series label. Known truth: the simulator names its series visits "inf<k> ...", "follow-up day
<d>" and "booster<k> ..."; the moved patients are counted here from the raw tables."""

from __future__ import annotations

import numpy as np
import pytest

import analysis
from analysis.grouping import course_of_patients
from analysis.longitudinal.trajectories import schedule_courses
from tests.analysis.outcome_builders import make_data

SERIES_LABEL = r"^(?:inf\d|follow-up|booster\d)"


@pytest.fixture(scope="module")
def data() -> analysis.OutcomeData:
    return analysis.simulate(n_patients=1000, seed=1)


def _one_infusion_on_the_series_schedule(data: analysis.OutcomeData) -> set[str]:
    """Patients with one infusion whose every post-baseline MADRS total is at a series visit."""
    infusions = data.infusions.groupby("patient_id").size()
    single = set(infusions.index[infusions == 1].astype(str))
    a = data.assessments
    totals = a[(a["instrument"] == "MADRS") & a["item"].isna() & (a["time_hours"] > 0)]
    on_series = totals["visit"].astype(str).str.contains(SERIES_LABEL).groupby(totals["patient_id"].astype(str)).all()
    return single & set(on_series.index[on_series.to_numpy(bool)])


def test_the_single_panel_holds_no_series_visit(data):
    result = analysis.trajectory(data, time="visit")
    single = result.table[result.table["course"] == "single"]["time_point"]
    assert not single.str.contains(SERIES_LABEL).any(), sorted(set(single))
    expected = _one_infusion_on_the_series_schedule(data)
    assert len(expected) > 0
    assert result.rescheduled == len(expected)
    moved = result.individual[result.individual["patient_id"].isin(expected)]
    assert set(moved["course"]) == {"series"}
    assert any(f"{len(expected)} patient(s) rated only at the visits of the other course" in n for n in result.notes)


def test_time_in_days_keeps_the_course_rule(data):
    result = analysis.trajectory(data, time="days")
    course = course_of_patients(data.infusions).set_index("patient_id")["course"]
    individual = result.individual
    np.testing.assert_array_equal(individual["course"].to_numpy(),
                                  course.reindex(individual["patient_id"]).fillna("single").to_numpy())
    assert result.rescheduled == 0


def test_only_a_patient_rated_on_the_other_schedule_alone_is_moved():
    import pandas as pd

    single = {p: ["day 1"] for p in "aijklmn"} | {"e": ["inf1 24 h"], "f": ["day 1", "inf1 24 h"]}
    visits = {p: ("single", labels) for p, labels in single.items()} | {
        "b": ("series", ["inf1 24 h", "inf2 24 h"]), "c": ("series", ["inf1 24 h"]), "g": ("series", ["inf1 24 h"])}
    rows = [(p, label, course) for p, (course, labels) in visits.items() for label in ["baseline", *labels]]
    rated = pd.DataFrame(rows, columns=["patient_id", "time_point", "course"])
    # "inf1 24 h": 3 of 3 series patients, 2 of 9 single ones (e, f: 0.22 < a quarter) -> a series visit
    course, moved = schedule_courses(rated)
    assert moved == 1
    by_patient = pd.Series(course).groupby(rated["patient_id"].to_numpy()).agg(set)
    assert by_patient["e"] == {"series"}  # every visit of e belongs to the series schedule
    assert by_patient["f"] == {"single"}  # f has a single-schedule visit too: stays
    assert all(by_patient[p] == {visits[p][0]} for p in visits if p not in "e")


def test_labels_both_courses_use_keep_each_course_apart():
    """Many clinics label every patient's visits "day 1", "day 7": 6 single-infusion and 4 series
    patients rated at the same labels stay on their own schedules (the larger course does not
    take the labels), so each course's mean is its own patients' (hand values below)."""
    day = 24.0
    ratings, infusions = [], []
    for i in range(6):  # single: 30 -> 15 (day 1) -> 20 (day 7)
        ratings += [(f"s{i}", -1.0, 30.0, "baseline"), (f"s{i}", day, 15.0, "day 1"), (f"s{i}", 7 * day, 20.0, "day 7")]
        infusions.append((f"s{i}", 1, 0.0))
    for i in range(4):  # series of three infusions: 30 -> 25 (day 1) -> 10 (day 7)
        ratings += [(f"r{i}", -1.0, 30.0, "baseline"), (f"r{i}", day, 25.0, "day 1"), (f"r{i}", 7 * day, 10.0, "day 7")]
        infusions += [(f"r{i}", 1, 0.0), (f"r{i}", 2, 2 * day), (f"r{i}", 3, 4 * day)]
    result = analysis.trajectory(make_data(ratings, infusions), time="visit", by="course")
    assert result.rescheduled == 0
    table = result.table.set_index(["group", "time_point"])
    assert table.loc[("series", "day 7"), "n"] == 4 and table.loc[("series", "day 7"), "mean"] == 10.0
    assert table.loc[("single", "day 7"), "n"] == 6 and table.loc[("single", "day 7"), "mean"] == 20.0
    assert set(table.loc["series"]["course"]) == {"series"}
