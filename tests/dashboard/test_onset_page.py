"""The Onset page through AppTest: the number-at-risk table under the figure, read back from the
chart (plotly JSON): its columns are the x ticks' hours (linear and log axis), its numbers are
``fit_onset(...).at_risk(ticks)``, its rows are keyed by the group colours (numbers in the text
colour), small groups are left out with the figure's note, the snippet prints the same table and
"Add to report" keeps it."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

import analysis
from analysis.figures._style import THEME_TEXT
from dashboard import report
from tests.dashboard.apptest import clean, clean_page, decoded, plotted
from tests.dashboard.snippets import shown_snippets


def _page(**query: str) -> AppTest:
    return clean_page("onset", **query)


def _chart(spec: str) -> dict:
    return decoded(json.loads(spec))


def _onset_chart(at: AppTest) -> dict:
    return next(c for c in plotted(at) if "Hours since the infusion" in c["layout"]["xaxis"]["title"]["text"])


def _risk_rows(chart: dict) -> dict[str, dict]:
    return {t["name"].removesuffix(" at risk"): t for t in chart["data"]
            if t.get("mode") == "text" and t.get("name", "").endswith(" at risk")}


def _line_colours(chart: dict) -> dict[str, str]:
    return {t["name"]: t["line"]["color"] for t in chart["data"]
            if t.get("mode") == "lines" and t.get("showlegend", True) and t.get("name") and "line" in t}


def _check_risk_table(chart: dict, fit, groups: list[str]) -> list[float]:
    """The risk rows are ``groups`` in order, each number at a tick hour equal to fit.at_risk;
    the row labels start with a square coloured as the group's curve. Returns the ticks."""
    ticks = chart["layout"]["xaxis"]["tickvals"]
    rows = _risk_rows(chart)
    assert list(rows) == groups
    expected = fit.at_risk(ticks)
    for group, row in rows.items():
        assert row["x"] == ticks, group
        counts = expected.loc[expected["group"].astype(str) == group, "at_risk"].astype(int).astype(str).tolist()
        assert row["text"] == counts, group
        assert row["xaxis"] == "x2" and row["yaxis"] == "y2"  # the table's own axes, under the plot
        # the numbers in the theme's strongest text colour (4.5:1 in light and dark), not a group's
        assert row["textfont"]["color"] == THEME_TEXT, group
    labels = chart["layout"]["yaxis2"]["ticktext"]
    colours = _line_colours(chart)
    for group, label in zip(groups, labels, strict=True):
        # the row's name in the text colour after a square in the group's curve colour
        assert label == f"<span style='color:{colours[group]}'>\u25a0</span> {group}"
    # the table's x axis is the plot's: same type and range, so columns fall under the ticks
    for key in ("type", "range"):
        assert chart["layout"]["xaxis2"].get(key) == chart["layout"]["xaxis"].get(key)
    return ticks


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


@pytest.fixture(scope="module")
def by_course() -> AppTest:
    return _page(group="course")


def test_risk_table_columns_are_the_tick_hours_and_counts_are_fit_onsets(sample, by_course):
    chart = _onset_chart(by_course)
    fit = analysis.fit_onset(sample, by="course")
    ticks = _check_risk_table(chart, fit, [str(g) for g in fit.summary().index])
    assert ticks == [0, 24, 48, 72, 96, 120, 144, 168]
    text = " ".join(a.get("text", "") for a in chart["layout"]["annotations"])
    assert "Number at risk" in text
    assert any("numbers below" in c.value for c in by_course.caption)


def test_snippet_prints_the_risk_table_and_the_report_card_keeps_it(by_course):
    code = next(c for c in shown_snippets(by_course) if "fit_onset" in c)
    assert "print(result.at_risk([0, 24, 48, 72, 96, 120, 144, 168]))" in code
    key = "add_figure_onset_cumulative_response_by_hours_since_the_infusion"
    by_course.button(key=key).click().run()
    clean(by_course)
    card = next(c for c in by_course.session_state[report.CARDS_KEY] if c.page == "Onset")
    figure = _chart(card.figures[0])
    shown = _onset_chart(by_course)
    assert {g: r["text"] for g, r in _risk_rows(figure).items()} == {g: r["text"] for g, r in _risk_rows(shown).items()}
    assert "at_risk([0, 24" in card.code


def test_log_axis_and_whole_follow_up_keep_columns_on_the_ticks(sample, by_course):
    fit = analysis.fit_onset(sample, by="course")
    groups = [str(g) for g in fit.summary().index]
    by_course.toggle(key="onset_log").set_value(True).run()
    clean(by_course)
    chart = _onset_chart(by_course)
    assert chart["layout"]["xaxis"]["type"] == chart["layout"]["xaxis2"]["type"] == "log"
    ticks = _check_risk_table(chart, fit, groups)
    assert ticks[:3] == [0.25, 0.5, 1]
    code = next(c for c in shown_snippets(by_course) if "fit_onset" in c)
    assert "at_risk([" + ", ".join(f"{t:g}" for t in ticks) + "])" in code
    by_course.toggle(key="onset_log").set_value(False).run()
    by_course.toggle(key="onset_all").set_value(True).run()
    clean(by_course)
    ticks = _check_risk_table(_onset_chart(by_course), fit, groups)
    assert ticks[1] == 168 and ticks[-1] >= fit.curve["time_hours"].max()


def test_dose_bands_each_get_a_row(sample):
    chart = _onset_chart(_page(group="dose band"))
    fit = analysis.fit_onset(sample, by="dose_band")
    _check_risk_table(chart, fit, [str(g) for g in fit.summary().index])


def test_groups_below_the_minimum_cell_size_have_no_row(sample):
    at = _page(group="diagnosis", min_cell="30")
    fit = analysis.fit_onset(sample, by="diagnosis")
    n = fit.summary()["n"]
    small = [str(g) for g, size in n.items() if size < 30]
    assert small == ["other"]  # 25 patients in the sample
    chart = _onset_chart(at)
    _check_risk_table(chart, fit, [str(g) for g in n.index if str(g) not in small])
    assert any(re.search(r"fewer than 30 patients are not drawn.*other", c.value) for c in at.caption)
