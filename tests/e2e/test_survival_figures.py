"""Survival figures in a real browser, read back from the page (plotly's ``el.data`` and
``el.layout`` of every ``.js-plotly-plot``, and the drawn SVG): the number-at-risk columns sit on
the days of the x ticks, in data and on screen, their numbers and row labels at 4.5:1 contrast
in the light and the dark theme; medians and the log-rank p are written under the
plot, clear of every plot area; the forest plot prints HR (95% CI) and p per row. Screenshots at 1440 and 800 px into the
folder the tests print."""

from __future__ import annotations

import pytest

from tests.e2e.plotted import MIN_SMALL_TEXT_CONTRAST, contrast, plots_js, plotted

pytestmark = pytest.mark.e2e

PLOTS_JS = plots_js("""el => {
    const box = el.getBoundingClientRect();
    const centre = node => { const r = node.getBoundingClientRect(); return r.left + r.width / 2; };
    return {
        title: (el.layout.title && el.layout.title.text) || '',
        width: box.width,
        ticks: el.layout.xaxis ? arr(el.layout.xaxis.tickvals) : [],
        annotations: (el.layout.annotations || []).map(a => a.text || ''),
        traces: el.data.map(t => ({name: t.name || '', mode: t.mode || '', xaxis: t.xaxis || 'x',
                                   x: arr(t.x), text: Array.isArray(t.text) ? t.text : []})),
        // on screen: centres of the first x axis' tick labels and of every risk-table number
        tick_px: Array.from(el.querySelectorAll('.subplot.xy .xaxislayer-above .xtick text')).map(centre),
        risk_px: Array.from(el.querySelectorAll('.subplot.x2y2 .textpoint text')).map(centre),
        // every risk-table number (any panel) and row label with the fill it is drawn in
        risk_fill: Array.from(el.querySelectorAll('.textpoint text')).filter(n =>
            n.closest('.trace') && /at risk/.test(n.closest('.trace').__data__[0].trace.name || ''))
            .map(n => [n.textContent, getComputedStyle(n).fill]),
        label_fill: Array.from(el.querySelectorAll('.yaxislayer-above [class*="tick"] text')).filter(n =>
            n.querySelector('tspan[style*="fill"]')).map(n => [n.textContent, getComputedStyle(n).fill]),
        background: getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor,
        overflow: Array.from(el.querySelectorAll('.annotation')).some(a => {
            const r = a.getBoundingClientRect(); return r.right > box.right + 1 || r.left < box.left - 1; }),
        // the medians and tests written with the figure that overlap a plot area (any panel's, the risk
        // table's too) on screen, with the overlap in px: there they cover a curve or numbers
        covering: Array.from(el.querySelectorAll('.annotation')).filter(a => /95% CI|Log-rank|LR test/.test(a.textContent))
            .flatMap(a => { const r = a.getBoundingClientRect();
                return Array.from(el.querySelectorAll('.draglayer .nsewdrag')).map(d => d.getBoundingClientRect())
                    .map(p => [Math.min(r.right, p.right) - Math.max(r.left, p.left),
                               Math.min(r.bottom, p.bottom) - Math.max(r.top, p.top)])
                    .filter(([w, h]) => w > 0 && h > 0).map(([w, h]) => [a.textContent.slice(0, 40), w, h]); }),
    };
}""")


def _plots(browser, url: str, width: int, screenshot, theme: str = "light") -> list[dict]:
    return plotted(browser, url, width, screenshot, PLOTS_JS, height=1600, theme=theme)


def _readable_risk_text(plot: dict, rows: int) -> None:
    """Every risk-table number and row label reaches 4.5:1 (WCAG AA, small text) on the page."""
    numbers, labels = plot["risk_fill"], plot["label_fill"]
    assert len(labels) == rows and len(numbers) >= 2 * rows, (numbers, labels)
    faint = [(text, fill) for text, fill in numbers + labels
             if contrast(fill, plot["background"]) < MIN_SMALL_TEXT_CONTRAST]
    assert not faint, f"risk-table text under 4.5:1 on {plot['background']}: {faint}"


def _risk(plot: dict) -> list[dict]:
    return [t for t in plot["traces"] if t["mode"] == "text" and t["name"].endswith(" at risk")]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 800])
def test_durability_risk_table_days_are_the_tick_days(app_server, browser, screenshots, width, theme):
    plots = _plots(browser, f"{app_server.url}/durability?group=course", width,
                   screenshots / f"durability_course_{width}_{theme}.png", theme)
    plot = next(p for p in plots if _risk(p))
    ticks = plot["ticks"]
    assert ticks[0] == 0 and all(b - a == 7 for a, b in zip(ticks, ticks[1:], strict=False))
    for row in _risk(plot):
        assert row["x"] == ticks, row["name"]
    # on screen: every number-at-risk column is centred under a tick label (within 2 px)
    assert len(plot["tick_px"]) == len(ticks) and plot["risk_px"]
    for x in plot["risk_px"]:
        assert min(abs(x - t) for t in plot["tick_px"]) < 2.0
    text = " ".join(plot["annotations"])
    assert "single: " in text and "series: " in text and "95% CI" in text and "Log-rank" in text
    assert not plot["overflow"], "an annotation runs off the figure"
    assert not plot["covering"], f"medians / log-rank written over the plot: {plot['covering']}"
    _readable_risk_text(plot, rows=2)


@pytest.mark.parametrize("width", [1440, 800])
def test_durability_facets_and_forest_text(app_server, browser, screenshots, width):
    plots = _plots(browser, f"{app_server.url}/durability?group=diagnosis", width,
                   screenshots / f"durability_diagnosis_{width}.png")
    plot = next(p for p in plots if _risk(p))
    rows = _risk(plot)
    assert len(rows) == 5 and len({r["xaxis"] for r in rows}) == 5  # one panel, one risk row per group
    for row in rows:
        assert row["x"] == plot["ticks"]
    _readable_risk_text(plot, rows=5)
    compare = _plots(browser, f"{app_server.url}/compare?group=course", width, screenshots / f"compare_{width}.png")
    forest = next(p for p in compare if any(t["name"] == "hazard ratio" for t in p["traces"]))
    printed = next(t for t in forest["traces"] if t["mode"] == "text")
    assert printed["text"] and all("<br>p " in t and "(" in t for t in printed["text"])
    assert not forest["overflow"]


@pytest.mark.parametrize("width", [1440, 800])
def test_overview_and_onset_figures_render(app_server, browser, screenshots, width):
    overview = _plots(browser, f"{app_server.url}/overview", width, screenshots / f"overview_{width}.png")
    state = next(p for p in overview if any(t["name"] == "All patients at days" for t in p["traces"]))
    points = next(t for t in state["traces"] if t["name"] == "All patients at days")
    assert points["x"] == [1, 7, 14, 28] and all(t.endswith("%") for t in points["text"])
    assert not state["overflow"]
    onset = _plots(browser, f"{app_server.url}/onset?group=course", width, screenshots / f"onset_course_{width}.png")
    plot = onset[0]
    assert plot["ticks"] == [0, 24, 48, 72, 96, 120, 144, 168]
    assert "Median onset" in " ".join(plot["annotations"])
    assert not plot["overflow"]
    assert not plot["covering"], f"medians / tests written over the plot: {plot['covering']}"
