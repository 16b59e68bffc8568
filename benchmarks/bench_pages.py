"""Every page's render time in a real browser (Playwright + Debian's Chromium against
dashboard/serve.py), cold and warm, on a simulated dataset.

For each page, seconds from the navigation to the page's last element finished (script run over,
nothing stale, no loading placeholders, every plotly chart drawn, the sidebar's "N of M patients
kept" shown):

- cold: the first visit of the page in a new browser session (the dataset is already loaded by a
  visit to the Data page first, and timed as "dataset"); the page's results are computed;
- warm: the same URL opened again in a new session (results come from the server's caches);
- rerun: back to the page from another page within the same session (the in-app navigation).

Then filter changes (the diagnosis filter toggled on one page, Overview by default, each state visited once to
warm it). Targets (issue 10): cold < 3 s and warm < 1 s at 20,000 patients; filter changes < 1 s
at 10,000. The machine's load average is printed with the figures (other work shares the cores).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_pages.py [--dataset simulated-20000-1]
     [--pages overview,trajectories,...] [--group course]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_dashboard import _toggle_trd as toggle_trd
from dashboard.serve import (
    APP_IDLE_JS,
    CHARTS_DRAWN_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    SKELETONS_GONE_JS,
    start_server,
)

PAGES = ("overview", "trajectories", "onset", "durability", "compare", "series", "symptoms")
# the page is finished: the sidebar's kept count shown (optionally a given one), and the checks of
# dashboard.serve pass; polled every animation frame (timing precision)
DONE_JS = f"""([expected]) => {{
  const bar = document.querySelector('[data-testid="stSidebar"]');
  if (!bar) return false;
  const m = bar.innerText.match(/([\\d,]+) of ([\\d,]+) patients kept/);
  if (!m || (expected !== null && m[1] !== expected)) return false;
  return ({APP_IDLE_JS})() && ({SKELETONS_GONE_JS})() && ({CHARTS_DRAWN_JS})();
}}"""
KEPT_JS = """() => (document.querySelector('[data-testid="stSidebar"]').innerText
  .match(/([\\d,]+) of ([\\d,]+) patients kept/) || [null, ''])[1]"""
TIMEOUT_S = 600.0


def _wait(page, expected: str | None = None) -> None:
    # the previous run's elements stay until the new run marks them stale: let the run start first
    page.wait_for_timeout(50)
    page.wait_for_function(DONE_JS, arg=[expected], timeout=TIMEOUT_S * 1000, polling="raf")


def _timed_goto(page, url: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    _wait(page)
    return time.perf_counter() - start


def _errors(page) -> str:
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return " | ".join(boxes.nth(i).inner_text()[:160] for i in range(boxes.count()))


def _switch(page, title: str) -> float:
    """Click the sidebar's navigation link to the page titled ``title``; seconds until finished."""
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title).first
    start = time.perf_counter()
    link.click()
    page.wait_for_function(f"() => document.querySelector('h1') && "
                           f"document.querySelector('h1').innerText.trim() === {title!r}",
                           timeout=TIMEOUT_S * 1000, polling="raf")
    _wait(page)
    return time.perf_counter() - start


def _filter_change(page, on: bool) -> float:
    """Seconds from committing the TRD diagnosis filter (on or off) to the page finished again."""
    before = page.evaluate(KEPT_JS)
    committed = toggle_trd(page, on)
    page.wait_for_function(f"() => ({KEPT_JS})() !== {before!r}", timeout=TIMEOUT_S * 1000, polling="raf")
    _wait(page)
    return time.perf_counter() - committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="simulated-20000-1")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--group", default="", help="a 'Compare groups by' option word (e.g. course)")
    parser.add_argument("--filters", type=int, default=3, help="timed filter toggles (0: none)")
    parser.add_argument("--filter-page", default="overview", help="the page the filter toggles re-render")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    query = f"?dataset={args.dataset}" + (f"&group={args.group.replace(' ', '+')}" if args.group else "")
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    server = start_server(log)
    print(f"server log: {log}; load average at start: {os.getloadavg()}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            loaded = _timed_goto(page, f"{server.url}/{query}")
            print(f"dataset {args.dataset} (Data page, first visit): {loaded:6.2f} s")
            context.close()
            print(f"{'page':14s} {'cold s':>7s} {'warm s':>7s} {'rerun s':>8s}  load avg")
            for name in [p for p in args.pages.split(",") if p]:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                cold = _timed_goto(page, f"{server.url}/{name}{query}")
                problems = _errors(page)
                context.close()
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                warm = _timed_goto(page, f"{server.url}/{name}{query}")
                _switch(page, "Data")
                rerun = _switch(page, name.capitalize())
                context.close()
                load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
                print(f"{name:14s} {cold:7.2f} {warm:7.2f} {rerun:8.2f}  {load}"
                      + (f"  errors: {problems}" if problems else ""), flush=True)
            if args.filters:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                _timed_goto(page, f"{server.url}/{args.filter_page}{query}")
                _filter_change(page, True)  # warm both states once
                _filter_change(page, False)
                times = []
                for _ in range(args.filters):
                    times += [_filter_change(page, True), _filter_change(page, False)]
                print(f"filter change (diagnosis TRD on/off, {args.filter_page}, warm): "
                      + ", ".join(f"{t:.2f}" for t in times) + f" s; max {max(times):.2f} s; "
                      f"load average {os.getloadavg()[0]:.1f}")
                context.close()
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
