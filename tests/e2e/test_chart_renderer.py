"""dashboard.chart's renderer (plotly.js's basic bundle) themes a figure as st.plotly_chart does:
the same figure drawn both ways in the real app, light and dark, gives the same fonts, colours,
backgrounds, grid, legend, hover labels and margins in plotly.js's resolved layout and traces.
A chart whose figure changes in place (a filter) is drawn with the new data."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import chart
from dashboard.serve import APP_IDLE_JS, ROOT, Server, serving
from tests.e2e.plotted import TYPED_ARRAYS_JS, wait_idle

pytestmark = pytest.mark.e2e

# plotly.js's resolved values (el._fullLayout, el._fullData) of the settings Streamlit's theme sets
RESOLVED_JS = """el => {
  const L = el._fullLayout, pick = a => ({tick: a.tickfont.color, size: a.tickfont.size, grid: a.gridcolor,
    zero: a.zerolinecolor, title: a.title.font.color, titleSize: a.title.font.size, showgrid: a.showgrid});
  return {font: [L.font.color, L.font.family, L.font.size], background: [L.paper_bgcolor, L.plot_bgcolor],
          title: [L.title.font.color, L.title.font.size, L.title.font.family, L.title.x, L.title.xanchor],
          legend: [L.legend.font.color, L.legend.font.size, L.legend.bordercolor],
          hover: [L.hoverlabel.bgcolor, L.hoverlabel.bordercolor, L.hoverlabel.font.color, L.hoverlabel.font.size],
          margin: [L.margin.l, L.margin.r, L.margin.t, L.margin.b, L.margin.pad],
          xaxis: pick(L.xaxis), yaxis: pick(L.yaxis), lines: el._fullData.map(t => t.line.color)};
}"""


@pytest.fixture(scope="module", params=["light", "dark"])
def themed_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not chart.BUNDLE_PATH.exists():
        pytest.skip("plotly.js's basic bundle is not installed (make fetches it: python -m dashboard.chart)")
    folder = tmp_path_factory.mktemp("chart-theme")
    shutil.copy(Path(__file__).with_name("chart_theme_app.py"), folder / "app.py")
    (folder / "static").mkdir()  # static serving reads the folder beside the app's script
    shutil.copy(chart.BUNDLE_PATH, folder / "static" / chart.BUNDLE_NAME)
    with serving(folder / "server.log", app=str(folder / "app.py"),
                 env={"STREAMLIT_THEME_BASE": request.param, "PYTHONPATH": str(ROOT)}) as server:
        yield server


def test_the_renderer_themes_a_figure_as_streamlit_does(browser, themed_server: Server) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1800})
    try:
        page.goto(themed_server.url)
        page.wait_for_function(APP_IDLE_JS, timeout=120_000)
        page.wait_for_function("() => document.querySelector('[data-testid=\"stPlotlyChart\"] .main-svg') && "
                               "document.querySelector('.io-chart .main-svg')", timeout=120_000)
        page.wait_for_timeout(500)  # Streamlit's chart draws its figure a second time
        native = page.evaluate(f"() => ({RESOLVED_JS})(Array.from(document.querySelectorAll('.js-plotly-plot'))"
                               ".find(el => !el.closest('.io-chart')))")
        ours = page.evaluate(f"() => ({RESOLVED_JS})(document.querySelector('.io-chart .js-plotly-plot'))")
        label = page.evaluate("() => document.querySelector('.io-chart').getAttribute('aria-label')")
    finally:
        page.close()
    assert ours == native
    assert label == "A figure"
    assert not [c for c in native["lines"] if re.fullmatch(r"#0000[0-4]\d", c)]  # every placeholder a colour


# each chart's drawn y values and the y values of the figure the renderer last received
DRAWN_AND_RECEIVED_JS = """() => Array.from(document.querySelectorAll('.io-chart .js-plotly-plot')).map(el => {""" \
    + TYPED_ARRAYS_JS + """
  const received = JSON.parse(el.__spec).data.map(t => arr(t.y));
  return {drawn: el.data.map(t => arr(t.y)), received};
})"""


def test_a_figure_that_changes_in_place_is_drawn_with_its_new_data(browser, app_server: Server) -> None:
    """A filter change sends the same chart (same key) a new figure: drawn with the new arrays,
    not taken as unchanged (the figures carry a fixed layout.datarevision)."""
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    try:
        page.goto(f"{app_server.url}/series?dataset=sample")
        wait_idle(page)
        before = page.evaluate(DRAWN_AND_RECEIVED_JS)
        box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
        box.click()
        page.get_by_role("option", name="TRD", exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_function(f"() => ({DRAWN_AND_RECEIVED_JS})().some((c, i) => JSON.stringify(c.received) "
                               f"!== JSON.stringify({before!r}[i] && {before!r}[i].received))", timeout=120_000)
        wait_idle(page)
        after = page.evaluate(DRAWN_AND_RECEIVED_JS)
    finally:
        page.close()
    assert before and len(after) == len(before)
    assert [c["drawn"] for c in after] == [c["received"] for c in after]
    assert [c["received"] for c in after] != [c["received"] for c in before]
