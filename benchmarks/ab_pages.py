"""Two (or more) copies of the app side by side in one browser (A/B under the same load): for each
page, visits in a new browser context with the server's caches warm, taking the trees in turn, and the
median of seconds to finished (as benchmarks/bench_pages.py defines it) and of the page's main
thread CPU seconds (Chromium's ThreadTime from the DevTools Performance domain: what the browser
spent, whatever else shares the cores).

``--without plotly_chart,dataframe,...`` adds, per name, a copy of the first tree whose app.py turns
``st.<name>`` into a no-op for every page (``markdown`` takes st.caption with it; the sidebar, drawn
with its own calls, stays): the browser's cost of that kind of element, as the difference from the
tree itself. (The page's own results are unchanged: only the drawing is left out.)

Run: .venv/bin/python benchmarks/ab_pages.py A_TREE [B_TREE ...] [--without dataframe,plotly_chart]
     [--pages onset,compare] [--repeats 5] [--dataset simulated-1000-1]
     (A_TREE, B_TREE, ...: folders holding the app, e.g. ``git archive HEAD | tar -x -C /tmp/a``; each
     labelled by its folder's name)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dashboard.serve as serve
from benchmarks.bench_pages import PAGES, VIEWPORT, Probe, timed_goto
from dashboard.serve import CHROMIUM, CHROMIUM_ARGS, start_server


def visit(browser, url: str, floor: bool = False) -> tuple[float, float]:
    """Seconds to finished and the main thread's CPU seconds, in a new context."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    probe = Probe.attach(context, page)
    session = context.new_cdp_session(page)
    session.send("Performance.enable")
    total = timed_goto(page, url, probe, floor).total_s
    metrics = {m["name"]: m["value"] for m in session.send("Performance.getMetrics")["metrics"]}
    context.close()
    return total, metrics.get("ThreadTime", float("nan"))


# element -> the st functions a "--without" copy turns into no-ops
WITHOUT = {"markdown": ("markdown", "caption")}


def without_copy(tree: Path, element: str, folder: Path) -> Path:
    """A copy of ``tree`` (its app, not its virtualenv or history) whose app.py makes ``st.<element>``
    (and WITHOUT's companions) draw nothing, named ``without_<element>``."""
    copy = folder / f"without_{element}"
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info"))
    app = copy / "app.py"
    source = app.read_text()
    names = WITHOUT.get(element, (element,))
    line = " = ".join(f"st.{name}" for name in names) + " = lambda *args, **kwargs: None  # ab_pages --without\n"
    if element == "plotly_chart":  # the dashboard's charts are drawn by dashboard.chart
        line += "import dashboard.chart\ndashboard.chart.plotly_chart = lambda *args, **kwargs: None\n"
    app.write_text(source.replace("import streamlit as st\n", "import streamlit as st\n" + line, 1))
    return copy


def with_bundle(tree: Path) -> Path:
    """``tree`` with this checkout's plotly.js bundle (static/, not in git: a ``git archive`` lacks
    it), so that every tree draws its charts as the app does."""
    static = serve.ROOT / "static"
    if static.is_dir() and not (tree / "static").exists():
        shutil.copytree(static, tree / "static")
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", type=Path, nargs="+", help="folders holding the app")
    parser.add_argument("--without", default="", help="st element functions to leave out, each in a copy "
                                                       "of the first tree (e.g. dataframe,plotly_chart)")
    parser.add_argument("--dataset", default="simulated-20000-1")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="ab_pages_"))
    servers = {}
    root = serve.ROOT
    trees = [with_bundle(tree) for tree in args.trees] + [without_copy(args.trees[0].resolve(), element, folder)
                                for element in args.without.split(",") if element]
    try:
        for tree in trees:
            label = tree.resolve().name
            serve.ROOT = tree.resolve()  # start_server runs the app from ROOT
            servers[label] = start_server(folder / f"{label}.log")
        serve.ROOT = root
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            query = f"?dataset={args.dataset}"
            names = [p for p in args.pages.split(",") if p]
            for server in servers.values():  # the servers' caches warm
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                probe = Probe.attach(context, page)
                for name in names:
                    timed_goto(page, f"{server.url}/{name}{query}", probe)
                context.close()
            print(f"median of {args.repeats} visits in a new context, warm server caches: seconds to finished "
                  "[main thread CPU s]")
            for name in names:
                figures: dict[str, list[tuple[float, float]]] = {label: [] for label in servers}
                for _ in range(args.repeats):
                    for label, server in servers.items():
                        figures[label].append(visit(browser, f"{server.url}/{name}{query}"))
                cells = [f"{label} {statistics.median(t for t, _ in v):5.2f} [{statistics.median(c for _, c in v):4.2f}]"
                         for label, v in figures.items()]
                print(f"{name:13s} " + "   ".join(cells), flush=True)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
