"""Shared helpers of the browser tests (not a test module): wait until a page has drawn, and read
back what plotly drew (``el.data`` / ``el.layout`` of every ``.js-plotly-plot``) with a script."""

from __future__ import annotations

from pathlib import Path

from dashboard.serve import APP_IDLE_JS, CHARTS_DRAWN_JS, SKELETONS_GONE_JS


def wait_idle(page, timeout_ms: int = 240_000) -> None:
    """Until the app has finished its run, every chart is drawn and no skeleton is left."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(APP_IDLE_JS, timeout=timeout_ms, polling=100)
    page.wait_for_function(CHARTS_DRAWN_JS, timeout=timeout_ms, polling=100)
    page.wait_for_function(SKELETONS_GONE_JS, timeout=timeout_ms, polling=100)


def plotted(browser, url: str, width: int, screenshot: Path, script: str, height: int = 1400) -> list[dict]:
    """Open ``url`` at ``width`` px, check no exception box, save a full-page screenshot and
    return what ``script`` (a JS function of the page) reads from the plots."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(url)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(screenshot), full_page=True)
        return page.evaluate(script)
    finally:
        context.close()
