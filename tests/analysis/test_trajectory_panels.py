"""The visit view's panels and rows come in schedule order (single infusion, then series, then the
boosters: ``schedule_rank``), not the alphabet's "series", "series boosters", "single". Reference:
the bundled sample's visit naming (the simulator's), left to right on the figure's x domains."""

from __future__ import annotations

import pytest

import analysis
from analysis import figures

EXPECTED = ["single", "series", "series boosters"]


@pytest.fixture(scope="module")
def result() -> analysis.TrajectoryResult:
    return analysis.trajectory(analysis.load_sample(), time="visit", by="sex")


def _panels_left_to_right(figure) -> list[str]:
    """Each panel's title with its x axis, ordered by the axis' domain on the page."""
    titles = [a for a in figure.layout.annotations if a.text.startswith("schedule: ")]
    domains = sorted((figure.layout[name].domain[0], name) for name in figure.layout
                     if name.startswith("xaxis"))
    assert len(domains) == len(titles)
    # a panel title is centred over its axis' domain
    by_x = sorted(titles, key=lambda a: a.x)
    for (_start, name), title in zip(domains, by_x, strict=True):
        low, high = figure.layout[name].domain
        assert low <= title.x <= high, (name, title.text)
    return [a.text.removeprefix("schedule: ") for a in by_x]


def _runs(values) -> list[str]:
    values = list(values)
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def test_trajectory_rows_in_schedule_order(result):
    for _, rows in result.table.groupby("group", sort=False):
        assert _runs(rows["schedule"]) == EXPECTED


@pytest.mark.parametrize("shuffled", [False, True])
def test_visit_panels_left_to_right_single_series_boosters(result, shuffled):
    table = result.table.sample(frac=1.0, random_state=3) if shuffled else result.table
    figure = figures.trajectory_figure(table, x="time_point", order="time_order", facet="schedule",
                                       x_title="visit", y_title="score")
    assert _panels_left_to_right(figure) == EXPECTED
    # each panel holds its schedule's visits (the simulator's naming), left to right
    domains = sorted((figure.layout[name].domain[0], name) for name in figure.layout if name.startswith("xaxis"))
    for (_, name), schedule in zip(domains, EXPECTED, strict=True):
        labels = set(figure.layout[name].categoryarray) - {"baseline"}
        boosters = all(v.startswith("booster") for v in labels)
        series = all(v.startswith(("inf", "follow-up")) for v in labels)
        assert (boosters, series) == {"single": (False, False), "series": (False, True),
                                      "series boosters": (True, False)}[schedule], (schedule, labels)
