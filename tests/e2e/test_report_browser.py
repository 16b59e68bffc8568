"""The report that spans pages in a real browser: Add to report on two pages, the Report page,
its HTML download (opened in the browser: every figure drawn, nothing wider than the window) and
its PDF download."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.plotted import wait_idle

pytestmark = pytest.mark.e2e


def _add_first(page) -> None:
    page.locator('[data-testid="stMain"]').get_by_role("button", name="Add to report").first.click()
    page.get_by_text("Added to the report").first.wait_for(timeout=60_000)
    wait_idle(page)


def test_cards_from_two_pages_download_as_one_html_and_a_pdf(app_server, browser, screenshots, tmp_path):
    context = browser.new_context(viewport={"width": 800, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}/durability?group=route")
        wait_idle(page)
        _add_first(page)
        # the cards live in the session: move within the app (a reload starts a new session)
        page.get_by_role("link", name="Symptoms").first.click()
        wait_idle(page)
        _add_first(page)
        page.get_by_role("link", name="Report").first.click()
        wait_idle(page)
        main = page.locator('[data-testid="stMain"]')
        assert main.get_by_text("1. Sustained response").count() == 1
        assert main.get_by_text("2. Suicidality item over time").count() == 1
        page.screenshot(path=str(screenshots / "report_page_800.png"), full_page=True)
        with page.expect_download(timeout=120_000) as info:
            main.get_by_role("button", name="Download the report (HTML)").click()
        report_path = tmp_path / "report.html"  # the download's own file has no extension
        info.value.save_as(report_path)
        started = time.perf_counter()
        with page.expect_download(timeout=180_000) as info:
            main.get_by_role("button", name="Download the report (PDF)").click()
        pdf = Path(info.value.path()).read_bytes()
        print(f"PDF download: {len(pdf) / 1e3:.0f} kB after {time.perf_counter() - started:.1f} s")
        assert pdf.startswith(b"%PDF-")

        html = report_path.read_text(encoding="utf-8")
        print(f"HTML report of 2 cards: {len(html) / 1e6:.2f} MB")
        assert html.count("id='plotly-js-gzip'") == 1
        viewer = context.new_page()
        viewer.goto(report_path.as_uri())
        viewer.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
        assert viewer.evaluate("document.querySelectorAll('.figure .main-svg').length") >= 2
        scroll, client = viewer.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert scroll <= client, f"the report overflows an 800 px window ({scroll} > {client} px)"
        viewer.screenshot(path=str(screenshots / "report_html_800.png"), full_page=True)
    finally:
        context.close()
