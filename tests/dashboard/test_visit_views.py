"""The Trajectories visit view on the bundled sample: the simulator's rating at rescue treatment
(visit ``rescue``) is no visit category of either course panel; the note under the figure says
how many ratings were left out, as the analysis counted them; Compare offers no 'rescue' time
point."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import analysis
from tests.dashboard.apptest import charts

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def _page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"dashboard/app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def test_trajectories_visit_panels_hold_no_rescue_visit(sample):
    at = _page("trajectories", group="course")
    chart = charts(at)[0].figure
    categories = {str(x) for trace in chart["data"] for x in (trace.get("x") or []) if isinstance(x, str)}
    assert "day 1" in categories and "follow-up day 7" in categories  # the two schedules are drawn
    assert "rescue" not in categories
    counted = analysis.trajectory(sample, by="course", time="visit").unscheduled.set_index("visit")
    ratings = sample.assessments
    rescue = ratings[(ratings["visit"] == "rescue") & (ratings["instrument"] == "MADRS") & ratings["item"].isna()]
    assert counted.loc["rescue", "ratings"] == len(rescue) > 0
    note = next(c.value for c in at.caption if "not protocol visits" in c.value)
    assert f"'rescue' ({len(rescue)} ratings of {rescue['patient_id'].nunique()} patients)" in note


def test_compare_offers_no_rescue_time_point():
    at = _page("compare", group="course")
    assert "rescue" not in at.selectbox(key="compare_time").options


def _schedule_of(label: str) -> str:
    """The simulator's schedule of a visit label (its naming): induction infusions 'inf<k> ...' and
    'follow-up day ..' for a series, 'booster<k> ...' for a booster, plain times for a single infusion."""
    if label.startswith("booster"):
        return "series boosters"
    return "series" if label.startswith(("inf", "follow-up")) else "single"


def test_compare_time_points_are_grouped_by_schedule_each_in_time_order(sample):
    at = _page("compare", group="diagnosis")
    box = at.selectbox(key="compare_time")
    options = list(box.options)
    schedules = [_schedule_of(label) for label in options]
    runs = [s for i, s in enumerate(schedules) if i == 0 or schedules[i - 1] != s]
    assert runs == ["single", "series", "series boosters"], options  # never interleaved
    # within a schedule, in the order of the median time at which the label was rated (raw data)
    totals = sample.assessments[(sample.assessments["instrument"] == "MADRS") & sample.assessments["item"].isna()]
    median_hours = totals.groupby(totals["visit"].astype(str))["time_hours"].median()
    for schedule in ("single", "series", "series boosters"):
        labels = [label for label, s in zip(options, schedules, strict=True) if s == schedule]
        assert list(median_hours.reindex(labels)) == sorted(median_hours.reindex(labels)), labels
    assert box.value == "day 1"  # the default stays the day-1 point
    # a shared link names its visit by the plain label
    linked = _page("compare", group="diagnosis", compare_time="follow-up day 7")
    assert linked.selectbox(key="compare_time").value == "follow-up day 7"
    assert any("had a 'follow-up day 7' rating" in m.value for m in linked.markdown)
