"""Hover labels of the dashboard's charts (dashboard.report.show_figure) in the theme's text colour,
in the app only: the exports (PNG, SVG, reports) keep plotly's own."""

from __future__ import annotations

import gc
import json

import plotly.graph_objects as go
import pytest

from analysis.figures import THEME_TEXT
from dashboard import report
from tests.dashboard.apptest import charts, clean, clean_page, open_page, plotted


@pytest.fixture(scope="module")
def symptoms():
    return clean_page("symptoms")


def test_hover_labels_in_the_theme_text_colour_in_the_app_only(symptoms):
    """Streamlit's theme merges its GRAY_70 (#808495, 3.7:1 on white) into the hover labels unless
    the layout names a colour; THEME_TEXT is the placeholder it replaces with its GRAY_90. The
    figure "Add to report" keeps (as the PNG, SVG and HTML exports) is the page's own, without it:
    in an exported HTML report plotly picks the label's text colour."""
    figures = plotted(symptoms)
    assert figures
    for figure in figures:
        assert figure["layout"]["hoverlabel"]["font"]["color"] == THEME_TEXT
    add = [b for b in symptoms.button if b.key == "add_figure_symptoms_response_phenotypes"]
    assert add
    add[0].click().run()
    cards = symptoms.session_state[report.CARDS_KEY]
    assert cards and cards[-1].figures
    for spec in cards[-1].figures:
        assert "color" not in json.loads(spec)["layout"].get("hoverlabel", {}).get("font", {})
    # the Report page previews the card as the app draws it
    at = open_page("report", symptoms)
    clean(at)
    previews = [c.figure for c in charts(at) if c.key and c.key.startswith("report_chart_")]
    assert previews
    for figure in previews:
        assert figure["layout"]["hoverlabel"]["font"]["color"] == THEME_TEXT


def test_the_exported_figure_keeps_plotlys_hover_labels():
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    shown = report.shown_in_app(figure)
    assert shown.layout.hoverlabel.font.color == THEME_TEXT
    assert figure.layout.hoverlabel.font.color is None  # PNG, SVG and report cards are built from it
    assert "hoverlabel" not in json.loads(figure.to_json())["layout"]
    own = go.Figure(layout={"hoverlabel": {"font": {"color": "#123456"}}})
    assert report.shown_in_app(own).layout.hoverlabel.font.color == "#123456"


def test_a_figure_is_copied_once_and_its_copy_let_go_with_it():
    """A cached figure is the same object on every warm run: copied on the first only."""
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    assert report.shown_in_app(figure) is report.shown_in_app(figure)
    key = id(figure)
    del figure
    gc.collect()
    assert key not in report._SHOWN_IN_APP
