"""The app in a real browser: it starts, every page renders without an exception box, changing
a filter changes the URL, and that URL reopens the same view in a fresh browser context."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.serve import APP_IDLE_JS, CHARTS_DRAWN_JS, SKELETONS_GONE_JS

pytestmark = pytest.mark.e2e

PAGES = ["", "overview", "trajectories", "onset", "durability", "compare", "series", "symptoms", "timeline", "report"]
KEPT = re.compile(r"([\d,]+) of ([\d,]+) patients kept")


def _wait_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(APP_IDLE_JS, timeout=timeout_ms, polling=100)
    page.wait_for_function(CHARTS_DRAWN_JS, timeout=timeout_ms, polling=100)
    page.wait_for_function(SKELETONS_GONE_JS, timeout=timeout_ms, polling=100)


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


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(app_server, browser, screenshots, path):
    # tall viewport: Streamlit scrolls inside the page, so the screenshot shows what fits
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/{path}")
        _wait_idle(page)
        _assert_clean(page, path or "data")
        kept, total = _kept(page)
        assert 0 < kept <= total
        page.screenshot(path=str(screenshots / f"{path or 'data'}.png"), full_page=True)
    finally:
        context.close()


def test_filter_changes_url_and_link_reopens_same_view(app_server, browser, screenshots):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/durability")
        _wait_idle(page)
        before = _kept(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stMultiSelect"]').first.click()
        page.get_by_role("option", name="TRD", exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_function("() => window.location.search.includes('diagnosis=')", timeout=30_000)
        _wait_idle(page)
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
        _wait_idle(page)
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
        _wait_idle(page)
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
