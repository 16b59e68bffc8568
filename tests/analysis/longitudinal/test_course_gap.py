"""The visit view's course is the endpoints' course: the trajectory reads the induction series
with the same ``series_gap_days`` as :func:`analysis.derive_endpoints` (one course rule), so a
patient is never "series" in the endpoints and "single" on the trajectory's axis. Known truth:
hand-made infusions 10 days apart, a series with a 14-day gap and a single infusion followed by
a booster with the default 7-day gap."""

from __future__ import annotations

import pytest

import analysis
from tests.analysis.outcome_builders import make_data

DAY = 24.0


def _ten_days_apart() -> analysis.OutcomeData:
    """x1-x4: infusions at day 0 and day 10, rated 4 h after the first and a day after the second;
    y1-y4: one infusion, rated at 4 h and day 1; everyone at day 21."""
    ratings, infusions = [], []
    for i in range(1, 5):
        x, y = f"x{i}", f"y{i}"
        ratings += [(x, -1.0, 30.0, "screening"), (x, 4.0, 14.0 + i, "inf1 4 h"),
                    (x, 11 * DAY, 12.0 + i, "inf2 24 h"), (x, 21 * DAY, 20.0 + i, "day 21")]
        ratings += [(y, -1.0, 30.0, "screening"), (y, 4.0, 18.0 + i, "4 h"), (y, DAY, 16.0 + i, "day 1"),
                    (y, 21 * DAY, 22.0 + i, "day 21")]
        infusions += [(x, 1, 0.0), (x, 2, 10 * DAY), (y, 1, 0.0)]
    return make_data(ratings, infusions)


@pytest.mark.parametrize(("gap_days", "x_course", "x_boosters"), [(14.0, "series", False), (7.0, "single", True)])
def test_trajectory_course_and_schedule_follow_the_endpoints_series_gap(gap_days, x_course, x_boosters):
    data = _ten_days_apart()
    endpoints = analysis.derive_endpoints(data, series_gap_days=gap_days)
    course = endpoints.patients.set_index("patient_id")["course"].astype(str)
    assert course.to_dict() == {**{f"x{i}": x_course for i in range(1, 5)}, **{f"y{i}": "single" for i in range(1, 5)}}
    for source in (data, endpoints):
        options = {"series_gap_days": gap_days} if source is data else {}
        result = analysis.trajectory(source, time="visit", **options)
        individual = result.individual
        assert (individual["course"] == course.reindex(individual["patient_id"]).to_numpy()).all()
        # a rating's schedule is its patient's course, or that course's boosters
        assert ((individual["schedule"] == individual["course"])
                | (individual["schedule"] == individual["course"] + " boosters")).all()
        booster = individual.loc[individual["schedule"].str.endswith(" boosters"), ["patient_id", "time_point"]]
        expected = {(f"x{i}", "inf2 24 h") for i in range(1, 5)} if x_boosters else set()
        assert set(map(tuple, booster.to_numpy())) == expected
        table = result.table.set_index(["schedule", "time_point"])
        assert table.loc[(x_course + (" boosters" if x_boosters else ""), "inf2 24 h"), "n"] == 4
