"""The app in a real browser: it starts, every page renders without an exception box in the light
and the dark theme, whole-page screenshots at 1440 and 800 px into the folder the tests print,
changing a filter changes the URL, and that URL reopens the same view in a fresh browser context."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.plotted import BACKGROUND_JS, MIN_SMALL_TEXT_CONTRAST, contrast, luminance, wait_idle

pytestmark = pytest.mark.e2e

PAGES = ["", "overview", "trajectories", "onset", "durability", "compare", "series", "symptoms", "timeline", "report"]
KEPT = re.compile(r"([\d,]+) of ([\d,]+) patients kept")
WIDTHS = [1440, 800]
THEMES = ["light", "dark"]
MAX_SCREENSHOT_PX = 12_000
CONTENT_HEIGHT_JS = """() => Math.max(...['stMain', 'stSidebarContent', 'stAppViewContainer'].map(id => {
    const el = document.querySelector(`[data-testid="${id}"]`); return el ? el.scrollHeight : 0; }))"""
# every text of every plot (ticks, titles, legends, annotations, risk tables, text beside points) as
# it is seen: its fill with its fill-opacity and every ancestor's opacity, over what is under it (an
# annotation's box, itself composited, over the page). Coloured tspans are colour keys (a square in
# the group's colour), a graphic, not text; empty and undrawn texts are left out.
PLOT_TEXT_JS = """(background) => {
  const rgba = css => { const v = (css.match(/[\\d.]+/g) || []).map(Number);
    return v.length < 3 ? null : [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const over = (top, alpha, bottom) => top.slice(0, 3).map((c, i) => c * alpha + bottom[i] * (1 - alpha));
  const seen = (node, fill, opacity, under) => { let alpha = fill[3] * opacity;
    for (let el = node; el && !el.classList.contains('js-plotly-plot'); el = el.parentElement)
      alpha *= Number(getComputedStyle(el).opacity);
    return over(fill, alpha, under); };
  const page = rgba(background);
  const rgb = v => `rgb(${v.slice(0, 3).map(Math.round).join(', ')})`;
  return Array.from(document.querySelectorAll('.js-plotly-plot text')).filter(t => {
    const r = t.getBoundingClientRect(); return t.textContent.trim() && r.width > 0 && r.height > 0;
  }).flatMap(t => {
    const style = getComputedStyle(t), fill = rgba(style.fill);
    if (!fill) return [];
    let under = page;
    const box = t.closest('.annotation') && t.closest('.annotation').querySelector('rect.bg');
    if (box && rgba(getComputedStyle(box).fill))
      under = seen(box, rgba(getComputedStyle(box).fill), Number(getComputedStyle(box).fillOpacity), page);
    const own = Array.from(t.childNodes).filter(n => !(n.style && n.style.fill)).map(n => n.textContent).join('');
    if (!own.trim()) return [];
    return [[own.trim().slice(0, 40), rgb(seen(t, fill, Number(style.fillOpacity), page)), rgb(under)]];
  });
}"""
MIN_TEXT_CONTRAST = MIN_SMALL_TEXT_CONTRAST  # WCAG 2 AA: plot text is small (11 to 13 px)
# every plotly chart laid out at its container's width (after a resize it relayouts a little later)
PLOTS_FIT_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(el =>
    el._fullLayout && Math.abs(el._fullLayout.width - el.getBoundingClientRect().width) < 2)"""


def _whole_page(page, width: int) -> None:
    """Resize to ``width`` px and to the height of the page's content (Streamlit scrolls inside its
    main block, so a full-page screenshot holds only what the window shows), then wait until every
    chart has been laid out again at its new width."""
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_function(PLOTS_FIT_JS, timeout=60_000, polling=200)
    height = min(page.evaluate(CONTENT_HEIGHT_JS) + 40, MAX_SCREENSHOT_PX)
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_function(PLOTS_FIT_JS, timeout=60_000, polling=200)
    wait_idle(page)


def _kept(page) -> tuple[int, int]:
    text = page.locator('[data-testid="stSidebar"]').inner_text()
    match = KEPT.search(text)
    assert match, f"no 'N of M patients kept' in the sidebar: {text[:500]}"
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def _assert_clean(page, name: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception box on {name}"
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Traceback" not in body
    assert "could not be computed" not in body, f"friendly error on {name}: {body[:800]}"


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_at_both_widths_in_both_themes(app_server, browser, screenshots, path, theme):
    """Every page without an exception box, in the theme the system asks for (Streamlit follows
    prefers-color-scheme until the user picks one in its menu), screenshot whole at 1440 and 800 px
    as ``<page>_<width>_<theme>.png``, and at each width every text of every chart at 4.5:1 or more
    on what is under it (``PLOT_TEXT_JS``)."""
    name = path or "data"
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 1000}, color_scheme=theme)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/{path}")
        wait_idle(page)
        _assert_clean(page, name)
        kept, total = _kept(page)
        assert 0 < kept <= total
        background = page.evaluate(BACKGROUND_JS)
        assert (luminance(background) < 0.1) == (theme == "dark"), f"{name}: background {background} in {theme}"
        for width in WIDTHS:
            _whole_page(page, width)
            _assert_clean(page, name)
            page.screenshot(path=str(screenshots / f"{name}_{width}_{theme}.png"), full_page=True)
            faint = [(text, fill, under, round(contrast(fill, under), 2))
                     for text, fill, under in page.evaluate(PLOT_TEXT_JS, background)
                     if contrast(fill, under) < MIN_TEXT_CONTRAST]
            assert not faint, f"{name} at {width} px in {theme}: {len(faint)} plot texts under 4.5:1: {faint[:12]}"
    finally:
        context.close()


def test_filter_changes_url_and_link_reopens_same_view(app_server, browser, screenshots):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/durability")
        wait_idle(page)
        before = _kept(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stMultiSelect"]').first.click()
        page.get_by_role("option", name="TRD", exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_function("() => window.location.search.includes('diagnosis=')", timeout=30_000)
        wait_idle(page)
        after = _kept(page)
        assert after[1] == before[1] and after[0] < before[0]
        url = page.url
        query = parse_qs(urlparse(url).query)
        assert query["diagnosis"] == ["TRD"]
        assert urlparse(url).path.endswith("/durability")
        # nothing about patients in the link: only settings and the dataset name
        assert set(query) <= {"dataset", "instrument", "diagnosis", "route", "dose", "sex", "age", "group",
                              "response", "remission", "relapse", "relapse_score", "relapse_fraction",
                              "confirm", "min_cell", "origin", "durability_model"}
        page.screenshot(path=str(screenshots / "durability_trd.png"), full_page=True)
        heading = page.locator("h1").first.inner_text()
    finally:
        context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = fresh.new_page()
    try:
        page.goto(url)
        wait_idle(page)
        _assert_clean(page, "shared link")
        assert _kept(page) == after
        assert page.locator("h1").first.inner_text() == heading
        chips = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.inner_text()
        assert "TRD" in chips
        page.screenshot(path=str(screenshots / "durability_trd_reopened.png"), full_page=True)
    finally:
        fresh.close()


def test_downloads_png_svg_csv_and_report(app_server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/onset")
        wait_idle(page)
        main = page.locator('[data-testid="stMain"]')
        contents = {}
        for label in ("PNG", "SVG", "CSV", "Download this view as an HTML report"):
            with page.expect_download(timeout=120_000) as info:
                main.get_by_role("button", name=label, exact=True).first.click()
            contents[label] = Path(info.value.path()).read_bytes()
        assert contents["PNG"].startswith(b"\x89PNG")
        assert b"<svg" in contents["SVG"][:1000]
        assert contents["CSV"].decode("utf-8-sig").startswith('"group"')
        report = contents["Download this view as an HTML report"].decode()
        assert "Dataset fingerprint" in report and "Definitions" in report and "plotly" in report.lower()
    finally:
        context.close()


# each shown column's header text width in the grid's header font (Streamlit: the theme's font,
# normal weight, 14 px), measured by the browser
HEADER_TEXT_PX_JS = """(labels) => {
  const family = getComputedStyle(document.querySelector('[data-testid="stApp"]')).fontFamily;
  const context = document.createElement('canvas').getContext('2d');
  context.font = `400 14px ${family}`;
  return labels.map(label => context.measureText(label).width);
}"""
# tables wider than their place on the page (scrolled sideways), by their labels; SLACK: the grid's
# border and rounding (a table of one more column is 60 px or more wider)
SCROLLED_TABLES_JS = """() => { const SLACK = 10; return Array.from(document.querySelectorAll('[data-testid="stDataFrame"]')).filter(grid => {
  const scroller = grid.querySelector('.dvn-scroller');
  return scroller && scroller.scrollWidth > scroller.clientWidth + SLACK;
}).map(grid => (grid.querySelector('[aria-label]') || grid).getAttribute('aria-label') || grid.innerText.slice(0, 40)); }"""
GRID_PADDING_PX = 16  # glide-data-grid's cell padding, left and right


def _tables_sent(context, page) -> list[dict]:
    """The st.dataframe elements the server sends to ``page`` (column configs and order)."""
    import base64
    import json

    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    tables: list[dict] = []

    def received(event: dict) -> None:
        response = event["response"]
        if response.get("opcode") != 2:
            return
        message = ForwardMsg.FromString(base64.b64decode(response["payloadData"]))
        if message.WhichOneof("type") == "delta" and message.delta.WhichOneof("type") == "new_element" \
                and message.delta.new_element.WhichOneof("type") == "dataframe":
            table = message.delta.new_element.dataframe
            tables.append({"alt": table.alt, "columns": json.loads(table.columns or "{}"),
                           "order": list(table.column_order)})

    session = context.new_cdp_session(page)
    session.on("Network.webSocketFrameReceived", received)
    session.send("Network.enable")
    return tables


@pytest.mark.parametrize("path", ["", "onset"])
def test_tables_at_800_px_show_whole_headers_and_the_ratings_table_fits(app_server, browser, path):
    """At 800 px no column header is cut (every shown column at least as wide as its header's text in
    the page's font, measured here) and the Data page's 'Ratings by instrument' is not scrolled
    sideways (a value the same on every row is said under the table)."""
    context = browser.new_context(viewport={"width": 800, "height": 1000})
    page = context.new_page()
    try:
        tables = _tables_sent(context, page)
        page.goto(f"{app_server.url}/{path}")
        wait_idle(page)
        assert tables, f"{path or 'data'}: no table sent"
        cut = []
        for table in tables:
            shown = [c for c in table["order"] if c in table["columns"]] or list(table["columns"])
            labels = [table["columns"][c].get("label") or c for c in shown]
            text_px = page.evaluate(HEADER_TEXT_PX_JS, labels)
            for name, label, px in zip(shown, labels, text_px, strict=True):
                width = table["columns"][name].get("width")
                if isinstance(width, int) and width < px + GRID_PADDING_PX:
                    cut.append(f"{table['alt']}: '{label}' needs {px + GRID_PADDING_PX:.0f} px, has {width}")
        assert not cut, cut
        if not path:
            assert "Same on every row" in page.locator('[data-testid="stMain"]').inner_text()
            assert not [t for t in page.evaluate(SCROLLED_TABLES_JS) if "Ratings by instrument" in t], \
                "Ratings by instrument is scrolled sideways at 800 px"
    finally:
        context.close()
