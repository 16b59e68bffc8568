"""Responder rates and their comparison by visit follow the visit view's schedules (as
:func:`analysis.trajectory`): single-infusion and series patients are rated at visits of their
own, and a booster's visits form a schedule of their own, so no schedule's labels interleave
with another's (issue 10: "never interleaved"). Known truth: hand-made schedules whose labels,
times and responders are written out below."""

from __future__ import annotations

import pandas as pd
import pytest

import analysis
from tests.analysis.outcome_builders import make_data

DAY = 24.0
# visit labels of each schedule in time order (hours after the first infusion); baseline 30
SINGLE = [("4 h", 4.0), ("day 1", DAY), ("day 7", 7 * DAY), ("day 14", 14 * DAY)]
SERIES = [("inf1 4 h", 4.0), ("inf2 pre", 2 * DAY - 0.5), ("inf3 24 h", 5 * DAY), ("follow-up day 7", 11 * DAY),
          ("follow-up day 21", 25 * DAY)]
BOOSTER = [("booster pre", 18 * DAY - 0.5), ("booster 24 h", 19 * DAY)]


def _schedules() -> tuple[analysis.OutcomeData, dict[str, dict[str, set[str]]]]:
    """Eight single-infusion patients (s*) and eight series patients (r*, infusions at days 0, 2
    and 4); r1-r3 get a booster at day 18. Half of each course is male. A patient responds (score
    12 of a baseline 30) at a visit when listed in ``responders[schedule][label]``."""
    responders = {
        "single": {"4 h": {"s1"}, "day 1": {"s1", "s2", "s3"}, "day 7": {"s1", "s2"}, "day 14": {"s1"}},
        "series": {"inf1 4 h": {"r1"}, "inf2 pre": {"r1", "r2"}, "inf3 24 h": {"r1", "r2", "r5", "r6"},
                   "follow-up day 7": {"r2", "r5"}, "follow-up day 21": {"r5"}},
        "series boosters": {"booster pre": set(), "booster 24 h": {"r1", "r3"}},
    }
    ratings, infusions, patients = [], [], []
    for i in range(1, 9):
        for prefix, visits in (("s", SINGLE), ("r", SERIES)):
            pid = f"{prefix}{i}"
            schedule = "single" if prefix == "s" else "series"
            ratings.append((pid, -1.0, 30.0, "screening"))
            ratings += [(pid, t, 12.0 if pid in responders[schedule][label] else 28.0, label) for label, t in visits]
            infusions += [(pid, 1, 0.0)] + ([(pid, 2, 2 * DAY), (pid, 3, 4 * DAY)] if prefix == "r" else [])
            patients.append({"patient_id": pid, "age": 40.0, "sex": "M" if i % 2 else "F", "diagnosis": "TRD"})
    for pid in ("r1", "r2", "r3"):
        infusions.append((pid, 4, 18 * DAY))
        ratings += [(pid, t, 12.0 if pid in responders["series boosters"][label] else 28.0, label)
                    for label, t in BOOSTER]
    return make_data(ratings, infusions, pd.DataFrame(patients)), responders


EXPECTED_ORDER = {"single": [label for label, _ in SINGLE], "series": [label for label, _ in SERIES],
                  "series boosters": [label for label, _ in BOOSTER]}


def _runs(labels: list[str]) -> list[str]:
    """The schedules in the order their rows come, one entry per run of equal values."""
    return [s for i, s in enumerate(labels) if i == 0 or labels[i - 1] != s]


def test_responder_rates_by_visit_keep_each_schedule_in_its_own_order():
    data, responders = _schedules()
    rates = analysis.responder_rates(data, time="visit")
    table = rates.table[rates.table["outcome"] == "response"]
    # the rows' labels, whatever the columns say: each schedule's visits together and in order
    schedule_of = {label: s for s, labels in EXPECTED_ORDER.items() for label in labels}
    assert list(table["time_point"]) == [label for labels in EXPECTED_ORDER.values() for label in labels]
    assert _runs([schedule_of[label] for label in table["time_point"]]) == list(EXPECTED_ORDER)
    order = {s: list(rows["time_point"]) for s, rows in table.groupby("schedule", sort=False)}
    assert order == EXPECTED_ORDER
    # single infusion, then series, then the boosters: no schedule's labels between another's
    assert _runs(list(table["schedule"])) == ["single", "series", "series boosters"]
    for _, rows in table.groupby("schedule"):
        assert list(rows["time_order"]) == sorted(rows["time_order"]) and rows["time_order"].is_unique
    # counts against the hand-made truth: everyone of the course rated there, the boosted three at boosters
    for row in table.itertuples():
        rated = 3 if row.schedule == "series boosters" else 8
        assert (row.n, row.count) == (rated, len(responders[row.schedule][row.time_point])), row
    summary = rates.summary()
    assert list(summary["schedule"]) == list(table["schedule"])
    assert list(summary.index.get_level_values("time_point")) == list(table["time_point"])


def test_compare_responders_by_visit_compares_within_each_schedule_in_order():
    data, responders = _schedules()
    comparison = analysis.compare_responders(data, by="sex", time="visit", reference="F")
    table = comparison.table[comparison.table["outcome"] == "response"]
    assert _runs(list(table["schedule"])) == ["single", "series", "series boosters"]
    order = {s: list(rows["time_point"]) for s, rows in table.groupby("schedule", sort=False)}
    assert order == EXPECTED_ORDER
    males = {f"{p}{i}" for p in "sr" for i in (1, 3, 5, 7)}
    for row in table.itertuples():
        responding = responders[row.schedule][row.time_point]
        assert row.count == len(responding & males) and row.count_reference == len(responding - males), row
    day7 = comparison.summary().loc[("day 7", "response", "M")]
    assert day7["schedule"] == "single"
    assert day7["proportion"] == pytest.approx(1 / 4) and day7["proportion_reference"] == pytest.approx(1 / 4)
