"""Shared helpers of the browser tests (not a test module): wait until a page has drawn, and read
back what plotly drew (``el.data`` / ``el.layout`` of every ``.js-plotly-plot``) with a script.

Import as ``from tests.e2e.plotted import plotted, plots_js``."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.serve import APP_IDLE_JS, CHARTS_DRAWN_JS, SKELETONS_GONE_JS

# plotly keeps numeric arrays sent as base64 typed arrays ({dtype, bdata}) as they came in el.data:
# ``arr(v)`` reads either form as a plain array (``Array.from`` of such an object is empty)
TYPED_ARRAYS_JS = """
    const kinds = {f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
                   u2: Uint16Array, i1: Int8Array, u1: Uint8Array};
    const arr = v => !v ? [] : v.bdata ? Array.from(new kinds[v.dtype](
        Uint8Array.from(atob(v.bdata), c => c.charCodeAt(0)).buffer)) : Array.from(v);
"""

# the page's background (plots are transparent: their text sits on it)
BACKGROUND_JS = "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"
MIN_SMALL_TEXT_CONTRAST = 4.5  # WCAG 2 AA for text under 18 pt (risk-table numbers are 11 px)


def luminance(css_colour: str) -> float:
    """Relative luminance (WCAG 2) of a CSS ``rgb(...)`` / ``rgba(...)`` colour, 0 (black) to 1."""
    red, green, blue = (float(v) / 255 for v in re.findall(r"[\d.]+", css_colour)[:3])
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(colour: str, background: str) -> float:
    """WCAG 2 contrast ratio of two opaque CSS colours (1 to 21)."""
    light, dark = sorted((luminance(colour), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def css_rgb(hex_colour: str) -> str:
    """'#0072B2' as the browser computes it: 'rgb(0, 114, 178)'."""
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def plots_js(read_plot: str) -> str:
    """A page script returning ``read_plot`` (a JS function of one ``.js-plotly-plot`` element,
    which may call ``arr``) for every plot of the page."""
    return ("() => {" + TYPED_ARRAYS_JS + f"    const read = {read_plot};\n"
            "    return Array.from(document.querySelectorAll('.js-plotly-plot')).map(read);\n}")


def wait_idle(page, timeout_ms: int = 240_000) -> None:
    """Until the app has finished its run, every chart is drawn and no skeleton is left."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(APP_IDLE_JS, timeout=timeout_ms, polling=100)
    page.wait_for_function(CHARTS_DRAWN_JS, timeout=timeout_ms, polling=100)
    page.wait_for_function(SKELETONS_GONE_JS, timeout=timeout_ms, polling=100)


def plotted(browser, url: str, width: int, screenshot: Path, script: str, height: int = 1400,
            theme: str = "light") -> list[dict]:
    """Open ``url`` at ``width`` px in the ``theme`` the system asks for (light or dark), check no
    exception box, save a full-page screenshot and return what ``script`` (a JS function of the
    page) reads from the plots."""
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=theme)
    page = context.new_page()
    try:
        page.goto(url)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(screenshot), full_page=True)
        return page.evaluate(script)
    finally:
        context.close()
