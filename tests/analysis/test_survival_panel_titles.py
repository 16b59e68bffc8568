"""Durability small multiples (more than three groups): each panel's title (the group and its
median) sits above its panel's plotting area, in paper coordinates, not inside it where it
covered a curve; the legend sits above the first row's titles. Reference: the figure's own
layout (axis domains, margins), independent of the code that places the titles."""

from __future__ import annotations

import pytest

import analysis
from analysis import figures

TITLE_LINES_PX = 2 * 14  # two lines of 11 px text


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def _plot_px(figure) -> float:
    """Height of the plotting area (paper 0..1) in px."""
    margin, default = figure.layout.margin, figure.layout.template.layout.margin
    top = margin.t if margin.t is not None else (default.t if default.t is not None else 100)
    bottom = margin.b if margin.b is not None else (default.b if default.b is not None else 80)
    return figure.layout.height - top - bottom


@pytest.mark.parametrize("competing", [None, "rescue"])
def test_every_panel_title_is_above_its_plotting_area(sample, competing):
    fit = analysis.fit_durability(sample, by="diagnosis", competing=competing)
    figure = figures.durability_result_figure(fit)
    groups = [str(g) for g in fit.summary().index]
    assert len(groups) > figures.MAX_OVERLAID_GROUPS  # small multiples by default
    px = _plot_px(figure)
    domains = sorted({tuple(figure.layout[k].domain) for k in figure.layout if k.startswith("yaxis")})
    for group in groups:
        curve = next(t for t in figure.data if t.name == group and t.mode == "lines")
        y_axis = "yaxis" + (curve.yaxis or "y")[1:]
        low, high = figure.layout[y_axis].domain
        title = [a for a in figure.layout.annotations if a.text.startswith(f"<b>{group}</b>")]
        assert len(title) == 1, group
        title = title[0]
        # above the panel: its bottom edge at or over the top of the panel's y domain (paper)
        assert title.yref == "paper" and title.yanchor == "bottom", (group, title.yref, title.yanchor)
        assert title.y >= high and (title.yshift or 0) >= 0, (group, title.y, high)
        # ... and below whatever is above it (the risk table of the row above, or the legend)
        above = [d[0] for d in domains if d[0] >= high]
        ceiling = min(above) if above else figure.layout.legend.y
        assert (ceiling - high) * px >= TITLE_LINES_PX + (title.yshift or 0), (group, ceiling, high)
        # over its own panel horizontally, from its left edge
        assert title.xref == "x" + (curve.xaxis or "x")[1:] + " domain" and title.x == 0
        assert "median" in title.text
