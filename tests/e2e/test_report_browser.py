"""The report that spans pages in a real browser: Add to report on two pages with a reload between
them (the cards belong to the browser, not the session), the Report page, its HTML download
(opened in the browser: every figure drawn, nothing wider than the window) and its PDF download;
another browser sees none of the cards. The HTML report also draws in a browser without
DecompressionStream (the embedded inflate), which unpacks exactly what DecompressionStream does."""

from __future__ import annotations

import base64
import gzip
import random
import re
import time
from pathlib import Path

import plotly.graph_objects as go
import pytest

from analysis.export import ReportSection, html_report
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
        # the cards belong to the browser: a reload (a new session) keeps them
        page.goto(f"{app_server.url}/symptoms?group=route")
        wait_idle(page)
        _add_first(page)
        page.reload()
        wait_idle(page)
        page.get_by_role("link", name="Report").first.click()
        page.wait_for_url(re.compile(r".*/report(?:\?|$)"))  # the click's run has begun, not the last one idle
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
    stranger = browser.new_context(viewport={"width": 800, "height": 1000})  # another browser's cookies
    try:
        other = stranger.new_page()
        other.goto(f"{app_server.url}/report")
        wait_idle(other)
        assert other.locator('[data-testid="stMain"]').get_by_text("No results yet").count() == 1
    finally:
        stranger.close()


def _figure(seed: int) -> go.Figure:
    return go.Figure(go.Scatter(x=list(range(30)), y=[(seed * i) % 11 for i in range(30)], name=f"curve {seed}"))


def test_the_html_report_draws_without_decompression_stream(browser, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(html_report("Old browser", [ReportSection(f"Figure {i}", figures=(_figure(i),))
                                                for i in range(2)]), encoding="utf-8")
    drawn = {}
    for mode, init in (("fallback", "delete window.DecompressionStream;"), ("stream", "")):
        context = browser.new_context(viewport={"width": 800, "height": 900})
        try:
            if init:
                context.add_init_script(init)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            page.goto(path.as_uri())
            page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
            assert not errors, errors
            assert page.evaluate("typeof DecompressionStream") == ("undefined" if init else "function")
            assert page.evaluate("document.body.dataset.inflate") == mode
            drawn[mode] = page.evaluate("document.querySelectorAll('.figure .main-svg').length")
            # the figures' points as plotly drew them
            assert page.evaluate("document.getElementById('figure-1').data[0].y.length") == 30
        finally:
            context.close()
    assert drawn["fallback"] == drawn["stream"] >= 2


def test_the_embedded_inflate_unpacks_what_decompression_stream_and_python_do(browser, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(html_report("Inflate", [ReportSection("Figure", figures=(_figure(1),))]), encoding="utf-8")
    rng = random.Random(7)
    # stored blocks (level 0), fixed Huffman codes (a short text), dynamic codes and long matches
    cases = {"stored": (bytes(rng.randrange(256) for _ in range(70_000)), 0),
             "fixed": (b"abcabcabd", 9),
             "dynamic": (" ".join(rng.choice(["dose", "MADRS", "relapse", "0.5 mg/kg"]) for _ in range(40_000))
                         .encode(), 9)}
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
        for name, (data, level) in cases.items():
            packed = base64.b64encode(gzip.compress(data, level)).decode()
            unpacked = page.evaluate("p => { const out = gunzip(Uint8Array.from(atob(p), c => c.charCodeAt(0)));"
                                     " let s = ''; for (const b of out) s += String.fromCharCode(b); return btoa(s); }",
                                     packed)
            assert base64.b64decode(unpacked) == data, name
        # the embedded plotly.js: the fallback's text equals DecompressionStream's, byte for byte
        same = page.evaluate("""async () => {
          const bytes = Uint8Array.from(atob(document.getElementById('plotly-js-gzip').textContent.trim()),
                                        c => c.charCodeAt(0));
          const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
          const native = await new Response(stream).text();
          const fallback = new TextDecoder('utf-8').decode(gunzip(bytes));
          return [native.length, fallback === native];
        }""")
        assert same[0] > 3_000_000 and same[1]
    finally:
        context.close()
