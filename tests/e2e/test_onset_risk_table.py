"""The Onset page's number-at-risk table in a real browser, read back from the page (plotly's
``el.data`` / ``el.layout`` and the drawn SVG): the table's columns are the x ticks' hours in the
data and on screen (every number centred under a tick label), on a linear and a log axis; its
numbers are ``fit_onset(...).at_risk(ticks)``; each row label starts with a square in its group's
colour, and the numbers and names reach 4.5:1 contrast on the page (WCAG AA for small text) in the
light and the dark theme; nothing is drawn outside the figure. Screenshots at 1440 and 800 px, light and dark, into the
folder the tests print."""

from __future__ import annotations

import pytest

import analysis
from tests.e2e.plotted import MIN_SMALL_TEXT_CONTRAST, contrast, css_rgb, wait_idle

pytestmark = pytest.mark.e2e

ONSET_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(el =>
        el.layout.xaxis && el.layout.xaxis.title && /Hours since/.test(el.layout.xaxis.title.text || ''))
    .map(el => {
    const kinds = {f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
                   u2: Uint16Array, i1: Int8Array, u1: Uint8Array};
    const arr = v => !v ? [] : v.bdata ? Array.from(new kinds[v.dtype](
        Uint8Array.from(atob(v.bdata), c => c.charCodeAt(0)).buffer)) : Array.from(v);
    const box = el.getBoundingClientRect();
    const rect = node => { const r = node.getBoundingClientRect();
                           return {x: r.left + r.width / 2, left: r.left, right: r.right, top: r.top,
                                   bottom: r.bottom}; };
    const risk = el.data.filter(t => t.mode === 'text' && (t.name || '').endsWith(' at risk'));
    return {
        width: box.width, left: box.left, right: box.right,
        xtype: el._fullLayout.xaxis.type, risk_xtype: el._fullLayout.xaxis2 ? el._fullLayout.xaxis2.type : null,
        ticks: arr(el.layout.xaxis.tickvals),
        rows: risk.map(t => ({name: t.name, x: arr(t.x), text: Array.from(t.text || []),
                              colour: t.textfont && t.textfont.color})),
        // on screen: the x tick labels of the plot, the risk numbers and the table's row labels
        tick_px: Array.from(el.querySelectorAll('.subplot.xy .xaxislayer-above .xtick text')).map(rect),
        risk_px: Array.from(el.querySelectorAll('.subplot.x2y2 .textpoint text')).map(n => ({
            ...rect(n), text: n.textContent, fill: getComputedStyle(n).fill})),
        // a row label: its text's fill and the fills of its coloured parts (the group's square)
        label_px: Array.from(el.querySelectorAll('.yaxislayer-above .y2tick text')).map(n => ({
            ...rect(n), text: n.textContent, fill: getComputedStyle(n).fill,
            keys: Array.from(n.querySelectorAll('tspan')).filter(s => s.style.fill).map(
                s => ({text: s.textContent, fill: getComputedStyle(s).fill}))})),
        lines: el.data.filter(t => t.mode === 'lines' && t.showlegend !== false && t.name && t.line)
            .map(t => [t.name, t.line.color]),
        background: getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor,
    };
})"""


def _read(browser, url: str, width: int, theme: str, screenshot) -> dict:
    context = browser.new_context(viewport={"width": width, "height": 1600}, color_scheme=theme)
    page = context.new_page()
    try:
        page.goto(url)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        plots = page.evaluate(ONSET_JS)
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    assert len(plots) == 1, f"{len(plots)} onset figures on {url}"
    return plots[0]


@pytest.fixture(scope="module")
def fit_by_course():
    return analysis.fit_onset(analysis.load_sample(), by="course")


def _check(plot: dict, fit, log: bool) -> None:
    ticks = plot["ticks"]
    assert plot["xtype"] == plot["risk_xtype"] == ("log" if log else "linear")
    expected = fit.at_risk(ticks)
    groups = [str(g) for g in fit.summary().index]
    assert [r["name"] for r in plot["rows"]] == [f"{g} at risk" for g in groups]
    for group, row in zip(groups, plot["rows"], strict=True):
        assert row["x"] == ticks, group
        assert row["text"] == expected.loc[expected["group"] == group, "at_risk"].astype(int).astype(str).tolist()
    # on screen: one number per tick and group, each centred under a tick label (within 2 px)
    tick_x = [t["x"] for t in plot["tick_px"]]
    assert len(tick_x) == len(ticks)
    assert len(plot["risk_px"]) == len(ticks) * len(groups)
    for number in plot["risk_px"]:
        assert min(abs(number["x"] - x) for x in tick_x) < 2.0, number
    # everything inside the figure
    for cell in plot["risk_px"] + plot["label_px"]:
        assert plot["left"] - 1 <= cell["left"] and cell["right"] <= plot["right"] + 1, cell
    assert [label["text"] for label in plot["label_px"]] == [f"\u25a0 {g}" for g in groups]
    colours = dict(plot["lines"])
    background = plot["background"]
    for k, label in enumerate(plot["label_px"]):
        # the row's name after a square in its group's curve colour; the name and the numbers in a
        # text colour that reads at 4.5:1 (WCAG AA, small text) on the page in this theme
        group = groups[k]
        assert label["keys"] == [{"text": "\u25a0", "fill": css_rgb(colours[group])}], label
        assert contrast(label["fill"], background) >= MIN_SMALL_TEXT_CONTRAST, (label, background)
        # a row's numbers (drawn trace by trace) read as the table says, apart from each other, one row
        # one height, all in one colour
        cells = plot["risk_px"][k * len(ticks):(k + 1) * len(ticks)]
        assert [c["text"] for c in cells] == plot["rows"][k]["text"]
        cells = sorted(cells, key=lambda c: c["x"])
        assert all(a["right"] <= b["left"] for a, b in zip(cells, cells[1:], strict=False)), cells
        assert max(c["top"] for c in cells) - min(c["top"] for c in cells) < 1
        assert abs(cells[0]["top"] - label["top"]) < 3
        assert {c["fill"] for c in cells} == {cells[0]["fill"]}, cells
        assert contrast(cells[0]["fill"], background) >= MIN_SMALL_TEXT_CONTRAST, (cells[0], background)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 800])
def test_onset_risk_table_sits_under_the_hour_ticks(app_server, browser, screenshots, fit_by_course, width, theme):
    plot = _read(browser, f"{app_server.url}/onset?group=course", width, theme,
                 screenshots / f"onset_risk_table_{width}_{theme}.png")
    assert plot["ticks"] == [0, 24, 48, 72, 96, 120, 144, 168]
    _check(plot, fit_by_course, log=False)


@pytest.mark.parametrize("width", [1440, 800])
def test_onset_risk_table_on_a_log_axis(app_server, browser, screenshots, fit_by_course, width):
    plot = _read(browser, f"{app_server.url}/onset?group=course&onset_log=true", width, "light",
                 screenshots / f"onset_risk_table_log_{width}.png")
    assert plot["ticks"][:4] == [0.25, 0.5, 1, 2]
    _check(plot, fit_by_course, log=True)
