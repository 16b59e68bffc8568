"""The suicidality item by visit follows the visit view's schedules (issue 10: "Visit-label views
align schedules ... never interleaved"): single-infusion and series patients are rated at visits
of their own, so ``suicidality_course(data)`` (time="visit", its default) summarises each schedule
separately (column ``schedule``), each in its own time order, and no (schedule, time point) holds
patients of both courses. Reference: the bundled sample's raw item-10 ratings and the simulator's
visit naming (independent of the schedule code)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis

DAY = 24.0


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


@pytest.fixture(scope="module")
def result(sample) -> analysis.SuicidalityResult:
    return analysis.suicidality_course(sample)


def _schedule_of(label: str) -> str:
    """The simulator's schedule of a visit label (its naming): 'inf<k> ...' and 'follow-up day ..'
    for a series, 'booster<k> ...' for a booster, plain times for a single infusion."""
    if label.startswith("booster"):
        return "series boosters"
    return "series" if label.startswith(("inf", "follow-up")) else "single"


def _item_ratings(data: analysis.OutcomeData) -> pd.DataFrame:
    a = data.assessments
    rows = a[(a["instrument"] == "MADRS") & (a["item"] == 10)]
    return pd.DataFrame({"patient_id": rows["patient_id"].astype(str).to_numpy(),
                         "visit": rows["visit"].astype(str).to_numpy(),
                         "time_hours": rows["time_hours"].to_numpy(float)})


def _runs(values: list[str]) -> list[str]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def _expected_baseline(data: analysis.OutcomeData) -> dict[str, set[str]]:
    """Patients per schedule at baseline: those rated after baseline on that schedule's visits
    (by the visit naming); a patient with only a baseline item rating by the infusions: a second
    infusion within 7 days of the first makes a series."""
    items = _item_ratings(data)
    post = items[items["visit"] != "baseline"]
    schedules = post.assign(schedule=post["visit"].map(_schedule_of).str.removesuffix(" boosters"))
    per_patient = schedules.groupby("patient_id")["schedule"].unique()
    assert per_patient.map(len).max() == 1  # every patient's visits are of one course (a precondition)
    expected = {"single": set(), "series": set()}
    for pid, names in per_patient.items():
        expected[names[0]].add(pid)
    inf = data.infusions.sort_values(["patient_id", "time_hours"])
    gaps = inf.groupby(inf["patient_id"].astype(str))["time_hours"].apply(lambda t: np.diff(t.to_numpy()[:2]))
    for pid in set(items["patient_id"]) - set(per_patient.index):
        gap = gaps.get(pid, np.array([]))
        expected["series" if gap.size and gap[0] <= 7 * DAY else "single"].add(pid)
    return expected


def test_visits_are_summarised_per_schedule_and_no_time_point_mixes_courses(sample, result):
    course = result.course
    assert _runs(list(course["schedule"])) == ["single", "series"]  # single infusion first, never interleaved
    items = _item_ratings(sample)
    rated_at = items.groupby("visit")["patient_id"].nunique()
    post = course[course["time_point"] != "baseline"]
    assert post["time_point"].is_unique  # a visit label is one category of one schedule
    for row in post.itertuples():
        assert row.schedule == _schedule_of(row.time_point), row
        assert row.n == rated_at[row.time_point], row  # every patient rated there, of that schedule only
    expected = _expected_baseline(sample)
    baseline = course[course["time_point"] == "baseline"].set_index("schedule")["n"]
    assert baseline.to_dict() == {s: len(ids) for s, ids in expected.items()}  # 177 + 123, not one 300
    # the binned views keep one clock for everyone (no schedule)
    days = analysis.suicidality_course(sample, time="days")
    assert "schedule" not in days.course.columns and "schedule" not in days.resolution.columns
    assert days.course.set_index("time_point").loc["baseline", "n"] == sample.n_patients


def test_each_schedule_is_in_its_own_time_order(sample, result):
    items = _item_ratings(sample)
    median_hours = items.groupby("visit")["time_hours"].median()
    for schedule, rows in result.course.groupby("schedule", sort=False):
        assert list(rows["time_order"]) == list(range(len(rows))), schedule  # counted within the schedule
        assert rows["time_point"].iloc[0] == "baseline"
        labels = list(rows["time_point"].iloc[1:])
        assert list(median_hours.reindex(labels)) == sorted(median_hours.reindex(labels)), (schedule, labels)
    # e.g. single day 14 (~day 14) and series follow-up day 7 (~day 18) are in different schedules
    order = result.course.set_index("time_point")
    assert order.loc["day 14", "schedule"] != order.loc["follow-up day 7", "schedule"]


def test_distribution_and_resolution_follow_the_same_schedules(result):
    cells = result.course[["schedule", "time_point", "time_order"]]
    keys = list(map(tuple, cells.to_numpy()))
    distribution = result.distribution[["schedule", "time_point", "time_order"]].drop_duplicates()
    assert list(map(tuple, distribution.to_numpy())) == keys
    counts = result.distribution.groupby(["schedule", "time_point"])["count"].sum()
    assert counts.to_dict() == result.course.set_index(["schedule", "time_point"])["n"].to_dict()
    at_point = result.resolution[result.resolution["measure"] == "at_time_point"]
    assert list(map(tuple, at_point[["schedule", "time_point", "time_order"]].to_numpy())) == \
        [k for k in keys if k[1] != "baseline"]
    headline = result.resolution[result.resolution["measure"] != "at_time_point"]
    assert (headline["schedule"] == "").all() and len(headline) == 2

