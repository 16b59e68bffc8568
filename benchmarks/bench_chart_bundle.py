"""What plotly.js costs a page in a new browser context, and what the dashboard's chart renderer
with plotly.js's basic bundle (dashboard.chart) saves: the figures a dashboard page sends, drawn by a bare app
(a title, a paragraph, the figures) in three ways, visited in turn in new contexts of one Chromium:

- streamlit: ``st.plotly_chart`` (what the dashboard does): Streamlit's chart chunk, 4.7 MB with
  the whole of plotly.js, and each figure drawn twice (its theme effect hands plotly.js a copy with
  a new ``layout.template``, which plotly.js compares by identity);
- basic: dashboard.chart's renderer (an ``st.components.v2`` element) with plotly.js-basic-dist-min
  (scatter, bar and pie, 1.2 MB: every trace type the dashboard draws is a scatter or a bar), each
  figure drawn once: what the dashboard does;
- full: the same renderer with the plotly Python package's whole plotly.min.js (4.8 MB), which
  separates the bundle's size from the second draw.

Per way, the median of seconds from the navigation to every chart drawn, of the main thread's long
tasks (over 50 ms) and the draws per page (plotly_afterplot events).

The basic bundle is the app's (static/, fetched by make: dashboard.chart.fetch_bundle).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_chart_bundle.py [--pages trajectories,series]
     [--repeats 5] [--dataset simulated-20000-1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_pages import PLOTLY_JS, VIEWPORT, Probe, timed_goto, wait_server_idle
from dashboard import chart
from dashboard.serve import CHROMIUM, CHROMIUM_ARGS, ROOT, start_server

WAYS = ("streamlit", "basic", "full")

APP = '''"""Figures of a dashboard page (figures_<page>.json beside this file, ?page=) drawn one of three
ways (?way=)."""
import json
from pathlib import Path

import streamlit as st

from dashboard import chart

way = st.query_params.get("way", "streamlit")
st.title(f"Figures drawn by {way}")
st.write("A paragraph of text, as a page has. " * 20)
page = st.query_params.get("page", "trajectories")
for index, spec in enumerate(json.loads((Path(__file__).parent / f"figures_{page}.json").read_text())):
    if way == "streamlit":
        st.plotly_chart(json.loads(spec), key=f"chart_{index}")
    else:
        chart.renderer()(data={"spec": spec, "config": {}, "src": f"/app/static/{way}.min.js", "alt": None},
                         key=f"chart_{index}")
'''

# every chart of the page drawn: as many plotly plots as figures, each with its SVG and layout
DRAWN_JS = """n => { const plots = document.querySelectorAll('.js-plotly-plot');
  return plots.length === n && Array.from(plots).every(p => p._fullLayout && p.querySelector('.main-svg')); }"""
BROWSER_JS = """window.__longTasks = []; window.__draws = 0;
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
  .observe({type: 'longtask', buffered: true});
new MutationObserver(() => { for (const plot of document.querySelectorAll('.js-plotly-plot'))
  if (plot.on && !plot.__watched) { plot.__watched = true; plot.on('plotly_afterplot', () => window.__draws++); } })
  .observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});"""


def page_figures(browser, dataset: str, pages: list[str]) -> dict[str, list[str]]:
    """The figures each dashboard page sends on a warm visit (read from the websocket), one server."""
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "dashboard.log")
        try:
            for page in pages:
                for _ in range(2):  # the first visit computes (and may show "computing" notes)
                    wait_server_idle(server.process.pid)
                    context = browser.new_context(viewport=VIEWPORT)
                    tab = context.new_page()
                    probe = Probe.attach(context, tab)
                    timed_goto(tab, f"{server.url}/{page}?dataset={dataset}", probe)
                    figures[page] = list(probe.figures)
                    context.close()
        finally:
            server.stop()
    return figures


def visit(browser, url: str, charts: int) -> tuple[float, float, int]:
    """Seconds to every chart drawn, main-thread long-task seconds and draws, in a new context."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(BROWSER_JS)
    tab = context.new_page()
    start = time.perf_counter()
    tab.goto(url)
    tab.wait_for_function(DRAWN_JS, arg=charts, timeout=120_000, polling="raf")
    seconds = time.perf_counter() - start
    tab.wait_for_timeout(1000)  # a second draw comes after the first
    busy = sum(tab.evaluate("window.__longTasks")) / 1000
    draws = tab.evaluate("window.__draws")
    context.close()
    return seconds, busy, draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="simulated-20000-1")
    parser.add_argument("--pages", default="trajectories,series,symptoms")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        app = Path(folder)
        (app / "static").mkdir()
        shutil.copy(chart.fetch_bundle(), app / "static" / "basic.min.js")
        (app / "static" / "full.min.js").write_bytes(PLOTLY_JS.read_bytes())
        (app / "app.py").write_text(APP)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        print(f"median of {args.repeats} visits in a new context: seconds to every chart drawn "
              f"[main thread long tasks, s] (draws per page)")
        pages = args.pages.split(",")
        for page, figures in page_figures(browser, args.dataset, pages).items():
            (app / f"figures_{page}.json").write_text(json.dumps(figures))
        server = start_server(app / "bench.log", app=str(app / "app.py"),
                              env={"STREAMLIT_SERVER_ENABLE_STATIC_SERVING": "true", "PYTHONPATH": str(ROOT)})
        try:
            for page in pages:
                charts = len(json.loads((app / f"figures_{page}.json").read_text()))
                runs: dict[str, list[tuple[float, float, int]]] = {way: [] for way in WAYS}
                for repeat in range(args.repeats + 1):  # the first round warms the server
                    for way in WAYS:
                        result = visit(browser, f"{server.url}/?way={way}&page={page}", charts)
                        if repeat:
                            runs[way].append(result)
                cells = [f"{way} {statistics.median(r[0] for r in runs[way]):5.2f} "
                         f"[{statistics.median(r[1] for r in runs[way]):4.2f}] ({runs[way][-1][2]})" for way in WAYS]
                print(f"{page:13s} {charts} figures   " + "   ".join(cells), flush=True)
        finally:
            server.stop()
        browser.close()


if __name__ == "__main__":
    main()
