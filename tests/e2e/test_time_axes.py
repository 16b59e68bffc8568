"""Time axes in a real browser: the plotted data read back from the page (plotly's ``el.data`` and
``el.layout`` of every ``.js-plotly-plot``): trajectory x values are numbers in increasing order,
no visit-axis category mixes the single-infusion and series schedules, the Series axis is in
whole infusions; screenshots at 1440 and 800 px into the folder the tests print."""

from __future__ import annotations

import pytest

import analysis
from tests.e2e.plotted import plots_js, plotted

pytestmark = pytest.mark.e2e

PLOTS_JS = plots_js("""el => ({
    title: (el.layout.title && el.layout.title.text) || '',
    axes: Object.fromEntries(Object.entries(el.layout).filter(([k]) => k.startsWith('xaxis')).map(
        ([k, a]) => [k, {type: a.type, categoryarray: a.categoryarray ? Array.from(a.categoryarray) : null,
                         dtick: a.dtick === undefined ? null : a.dtick, tickmode: a.tickmode || null}])),
    panels: (el.layout.annotations || []).map(a => a.text).filter(t => t && t.startsWith('schedule: ')),
    traces: el.data.map(t => ({name: t.name || '', mode: t.mode || '', xaxis: t.xaxis || 'x', x: arr(t.x)})),
})""")


def _plots(browser, url: str, width: int, screenshot) -> list[dict]:
    return plotted(browser, url, width, screenshot, PLOTS_JS)


@pytest.mark.parametrize("width", [1440, 800])
@pytest.mark.parametrize("time", ["days", "hours"])
def test_trajectory_x_values_are_increasing_numbers(app_server, browser, screenshots, time, width):
    plots = _plots(browser, f"{app_server.url}/trajectories?traj_time={time}&group=course", width,
                   screenshots / f"trajectories_{time}_{width}.png")
    trajectory = plots[0]  # the first chart of the page (its title may be drawn by the page, not plotly)
    assert trajectory["axes"]["xaxis"]["type"] == "linear"
    means = [t for t in trajectory["traces"] if t["mode"] == "lines+markers"]
    assert {t["name"] for t in means} == {"single", "series"}
    for trace in means:
        assert len(trace["x"]) >= 3, trace  # read back (a typed array read as a list would be empty)
        assert all(isinstance(v, int | float) for v in trace["x"]), trace["x"][:5]
        assert all(b > a for a, b in zip(trace["x"], trace["x"][1:], strict=False)), trace["x"]
    spaghetti = next(t for t in trajectory["traces"] if t["name"] == "Individual patients")
    assert any(isinstance(v, int | float) for v in spaghetti["x"])
    assert all(v is None or isinstance(v, int | float) for v in spaghetti["x"])


@pytest.mark.parametrize("width", [1440, 800])
def test_no_visit_axis_category_mixes_schedules(app_server, browser, screenshots, width):
    plots = _plots(browser, f"{app_server.url}/trajectories?group=route", width,
                   screenshots / f"trajectories_visits_{width}.png")
    trajectory = plots[0]  # the first chart of the page (its title may be drawn by the page, not plotly)
    table = analysis.trajectory(analysis.load_sample(), time="visit").table
    rated = {schedule: set(rows["time_point"]) for schedule, rows in table.groupby("schedule")}
    axes = trajectory["axes"]
    panels = [p.removeprefix("schedule: ") for p in trajectory["panels"]]
    # each course, and the boosters of the series (infusions after it, given to some patients only)
    assert len(axes) == 3 and sorted(panels) == ["series", "series boosters", "single"]
    for name, schedule in zip(sorted(axes), panels, strict=True):
        others = set().union(*(v for k, v in rated.items() if k != schedule))
        categories = set(axes[name]["categoryarray"])
        assert categories <= rated[schedule]
        assert not categories & (others - rated[schedule]), f"{schedule} panel holds another schedule's visits"
        assert all(c.startswith("booster") for c in categories - {"baseline"}) == schedule.endswith(" boosters")
        drawn = {v for t in trajectory["traces"] if ("xaxis" + t["xaxis"][1:]) == name for v in t["x"] if v}
        assert drawn and drawn <= categories


def test_series_axis_in_whole_infusions(app_server, browser, screenshots):
    plots = _plots(browser, f"{app_server.url}/series?group=course", 1440, screenshots / "series_course_1440.png")
    for plot in plots:
        axis = plot["axes"]["xaxis"]
        assert axis["tickmode"] == "linear" and axis["dtick"] == 1


def test_timeline_swimmer_plot(app_server, browser, screenshots):
    plots = _plots(browser, f"{app_server.url}/timeline", 1440, screenshots / "timeline_1440.png")
    timeline = plots[0]
    assert timeline["axes"]["xaxis"]["type"] == "linear"
    infusions = [t for t in timeline["traces"] if "infusion" in t["name"]]
    assert infusions and all(t["x"] for t in infusions)
    assert all(isinstance(v, int | float) for t in infusions for v in t["x"])
