"""Hover labels read at 4.5:1 in the light and the dark theme: the mouse over a chart's plot area
until plotly draws a label, then the label's text colour against its background, as the browser
computed them (Streamlit's theme would give the text its GRAY_70, #808495: 3.7:1 on white)."""

from __future__ import annotations

import pytest

from tests.e2e.plotted import MIN_SMALL_TEXT_CONTRAST, contrast, wait_idle

# the first drawn hover label's text fills and its box's fill (a path; x unified: a legend rect)
HOVER_JS = """() => {
  const layer = document.querySelector('.hoverlayer');
  if (!layer) return null;
  const texts = Array.from(layer.querySelectorAll('text')).filter(t => t.textContent.trim());
  const box = layer.querySelector('g.hovertext path, g.legend rect.bg');
  if (!texts.length || !box) return null;
  return {texts: texts.map(t => getComputedStyle(t).fill), box: getComputedStyle(box).fill};
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_hover_label_text_reads_in_either_theme(app_server, browser, theme):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=theme)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/symptoms")
        wait_idle(page)
        area = page.locator(".js-plotly-plot .nsewdrag").first
        area.scroll_into_view_if_needed()
        box = area.bounding_box()
        label = None
        for row in range(1, 10):  # a grid over the plot area: the first place plotly labels a point
            for column in range(1, 20):
                page.mouse.move(box["x"] + box["width"] * column / 20, box["y"] + box["height"] * row / 10)
                label = page.evaluate(HOVER_JS)
                if label:
                    break
            if label:
                break
        assert label, "no hover label drawn over the first chart"
        for fill in label["texts"]:
            assert contrast(fill, label["box"]) >= MIN_SMALL_TEXT_CONTRAST, (theme, fill, label["box"])
    finally:
        context.close()
