"""The visit view gives booster visits a schedule of their own: boosters (infusions after the
induction series) are given to some patients only, at times of their own, so their visits
interleaved with every patient's follow-up visits would make the mean jump between two sets of
patients (issue 10: "never interleaved"). Known truth: hand-made schedules, and the simulator,
which names the visits of its booster infusions "booster<k> ..."; the booster patients are
counted here from the raw infusions table (a start more than 7 days after the previous one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from tests.analysis.outcome_builders import make_data

DAY = 24.0


def _series_with_boosters(booster_day: float = 21.0) -> analysis.OutcomeData:
    """Six series patients (infusions at 0, 2 and 4 days); b1 and b2 get a booster at
    ``booster_day``, rated just before it ("booster pre") and a day after ("booster 24 h"); every
    patient is rated at follow-up day 14 and day 28 (b1's day 28 is a day after a second booster,
    at day 27: one patient of six does not make "day 28" a booster visit)."""
    ratings, infusions = [], []
    for i, pid in enumerate(["a1", "a2", "a3", "a4", "b1", "b2"]):
        ratings += [(pid, -1.0, 30.0, "screening"), (pid, 4 * DAY + 4, 15.0, "inf3 4 h"),
                    (pid, 14 * DAY, 20.0 + i, "day 14"), (pid, 28 * DAY, 24.0 + i, "day 28")]
        infusions += [(pid, 1, 0.0), (pid, 2, 2 * DAY), (pid, 3, 4 * DAY)]
    for pid in ("b1", "b2"):
        ratings += [(pid, booster_day * DAY - 0.5, 10.0, "booster pre"), (pid, booster_day * DAY + 24, 8.0, "booster 24 h")]
        infusions += [(pid, 4, booster_day * DAY)]
    infusions += [("b1", 5, 27 * DAY)]
    return make_data(ratings, infusions)


def test_booster_visits_have_their_own_schedule_and_follow_ups_stay_together():
    result = analysis.trajectory(_series_with_boosters(), time="visit")
    table = result.table.set_index("time_point")
    order = {s: list(rows.sort_values("time_order")["time_point"]) for s, rows in result.table.groupby("schedule")}
    assert order == {"series": ["baseline", "inf3 4 h", "day 14", "day 28"],
                     "series boosters": ["booster pre", "booster 24 h"]}
    assert set(table["course"]) == {"series"}
    # every follow-up visit summarises all six patients, the booster visits the two boosted ones
    assert table.loc["day 28", "n"] == 6 and table.loc["day 28", "mean"] == pytest.approx(np.mean(24.0 + np.arange(6)))
    assert table.loc["booster pre", "n"] == 2 and table.loc["booster pre", "mean"] == 10.0
    individual = result.individual.set_index(["patient_id", "time_point"])["schedule"]
    assert individual.loc[("b1", "booster 24 h")] == "series boosters"
    assert individual.loc[("b1", "day 28")] == "series"  # the label's schedule, whatever b1's booster


def test_a_longer_series_gap_makes_the_late_infusion_part_of_the_series():
    # with a series gap of 30 days the day-21 infusion continues the series: no booster schedule
    result = analysis.trajectory(_series_with_boosters(), time="visit", series_gap_days=30)
    assert set(result.table["schedule"]) == {"series"}
    assert list(result.table.sort_values("time_order")["time_point"]) == [
        "baseline", "inf3 4 h", "day 14", "booster pre", "booster 24 h", "day 28"]


def test_endpoints_without_infusions_keep_one_schedule_per_course():
    data = _series_with_boosters()
    endpoints = analysis.derive_endpoints(data)
    bare = type(endpoints)(endpoints.settings, endpoints.ratings, endpoints.patients, endpoints.by_infusion,
                           endpoints.excluded, infusions=None)
    result = analysis.trajectory(bare, time="visit")
    assert set(result.table["schedule"]) == set(result.table["course"]) == {"series"}
    # with the infusions, the Endpoints give the same split as the OutcomeData
    split = analysis.trajectory(endpoints, time="visit")
    assert set(split.table["schedule"]) == {"series", "series boosters"}


@pytest.fixture(scope="module")
def simulated() -> analysis.OutcomeData:
    return analysis.simulate(n_patients=2000, seed=1)


def _boosted_patients(infusions: pd.DataFrame) -> set[str]:
    """Patients with an infusion starting more than 7 days after their previous one."""
    ordered = infusions.sort_values(["patient_id", "time_hours"])
    gap = ordered.groupby("patient_id")["time_hours"].diff()
    return set(ordered.loc[gap > 7 * DAY, "patient_id"].astype(str))


def test_simulated_booster_visits_are_one_schedule_of_the_boosted_patients(simulated):
    result = analysis.trajectory(simulated, time="visit")
    table = result.table
    named = table["time_point"].str.startswith("booster")
    assert named.any()
    assert (table.loc[named, "schedule"] == "series boosters").all()
    assert (table.loc[~named, "schedule"].isin(["series", "single"])).all()
    at_boosters = result.individual[result.individual["schedule"] == "series boosters"]
    assert set(at_boosters["patient_id"]) <= _boosted_patients(simulated.infusions)
    # the series' follow-up means now describe one set of patients: the waning the simulator builds
    # in (scores drift up after the series) is monotone, with no drop to the boosted patients' ~8
    series = table[(table["schedule"] == "series") & table["time_point"].str.startswith("follow-up")]
    means = series.sort_values("time_order")["mean"].to_numpy()
    assert len(means) >= 5 and np.all(np.diff(means) > 0), means
