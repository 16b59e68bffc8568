"""Every page's render time in a real browser (Playwright + Debian's Chromium against
dashboard/serve.py), cold, warm and rerun, on a simulated dataset, with the server's share.

For each page, seconds from the navigation to the page's last element finished (script run over,
nothing stale, no loading placeholders, every plotly chart drawn, the sidebar's "N of M patients
kept" shown):

- cold: the first visit of the page, in a new browser context (the dataset is already loaded by a
  visit to the Data page first, and timed as "dataset"); the page's results are computed;
- warm tab: the same URL in a new tab of that context, the first tab closed (a returning user: the
  browser's caches hold the app's scripts; the results come from the server's caches);
- warm context: the same URL in a new browser context (a new user: nothing cached in the browser);
- rerun: back to the page from the Data page within that session (the in-app navigation).

Beside each, in brackets, the server's script time: from the websocket message asking for the run
(BackMsg rerun_script) to the server's script_finished message, both timestamped by Chromium's
network layer (DevTools protocol), so the browser's own drawing does not delay them. The rest is
the browser: loading the frontend and plotly.js, and drawing.

The machine's floor is measured in the same run: a one-chart Streamlit app (benchmarks/floor_app.py)
in a new context and a new tab; subtract it to see what a page adds. Then, per chart of each page
(the figures the server sent, read from the websocket), traces, points and JSON size, and the
milliseconds plotly.js (the plotly Python package's bundle) takes to draw it on its own, the least
of 3. Then filter changes (the diagnosis filter toggled on one page, Overview by default, each
state visited once to warm it). Targets (issue 10): cold < 3 s and warm < 1 s at 20,000 patients;
filter changes < 1 s at 10,000. The machine's load average is printed with the figures (other
work shares the cores).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_pages.py [--dataset simulated-20000-1]
     [--pages overview,trajectories,...] [--group course] [--filters 3] [--no-charts] [--no-floor]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_dashboard import _toggle_trd as toggle_trd
from dashboard.serve import (
    APP_IDLE_JS,
    CHARTS_DRAWN_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
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
# the floor app has no sidebar: finished when its one chart is drawn and the run is over
FLOOR_DONE_JS = f"""() => document.querySelector('[data-testid="stPlotlyChart"]') !== null
  && ({APP_IDLE_JS})() && ({SKELETONS_GONE_JS})() && ({CHARTS_DRAWN_JS})()"""
KEPT_JS = """() => (document.querySelector('[data-testid="stSidebar"]').innerText
  .match(/([\\d,]+) of ([\\d,]+) patients kept/) || [null, ''])[1]"""
# one chart drawn on its own by plotly.js in a blank page: ms to the promise and the next frame
DRAW_JS = """async ([spec, repeats]) => {
  const figure = JSON.parse(spec);
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const div = document.createElement('div');
    div.style.width = '900px';
    document.body.appendChild(div);
    const start = performance.now();
    await Plotly.newPlot(div, figure.data, figure.layout || {}, {displaylogo: false});
    await new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
    best = Math.min(best, performance.now() - start);
    Plotly.purge(div);
    div.remove();
  }
  return best;
}"""
PLOTLY_JS = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"
TIMEOUT_S = 600.0
VIEWPORT = {"width": 1400, "height": 1000}


@dataclass
class Probe:
    """The websocket messages of one tab, timestamped by Chromium (DevTools protocol, seconds):
    run requests sent, runs finished, and the plotly figures received."""

    session: object
    document_at: float | None = None
    requested: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, context, page) -> Probe:
        session = context.new_cdp_session(page)
        probe = cls(session)
        session.on("Network.requestWillBeSent", probe._request)
        session.on("Network.webSocketFrameSent", probe._sent)
        session.on("Network.webSocketFrameReceived", probe._received)
        session.send("Network.enable")
        return probe

    def _request(self, event: dict) -> None:
        if event.get("type") == "Document":
            self.document_at = event["timestamp"]

    def _sent(self, event: dict) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        response = event["response"]
        if response.get("opcode") == 2 and BackMsg.FromString(
                base64.b64decode(response["payloadData"])).WhichOneof("type") == "rerun_script":
            self.requested.append(event["timestamp"])

    def _received(self, event: dict) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        response = event["response"]
        if response.get("opcode") != 2:
            return
        message = ForwardMsg.FromString(base64.b64decode(response["payloadData"]))
        kind = message.WhichOneof("type")
        if kind == "script_finished":
            self.finished.append(event["timestamp"])
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element" \
                and message.delta.new_element.WhichOneof("type") == "plotly_chart":
            self.figures.append(message.delta.new_element.plotly_chart.spec)

    def mark(self) -> tuple[int, int]:
        return len(self.requested), len(self.finished)

    def script_seconds(self, page, since: tuple[int, int]) -> tuple[float, int]:
        """Seconds from the first run requested after ``since`` to the last run finished, and the
        number of runs; waits briefly for the DevTools events still in flight."""
        deadline = time.monotonic() + 5
        while len(self.finished) <= since[1] and time.monotonic() < deadline:
            page.wait_for_timeout(20)
        requested, finished = self.requested[since[0]:], self.finished[since[1]:]
        if not requested or not finished:
            return float("nan"), 0
        return finished[-1] - requested[0], len(finished)


@dataclass(frozen=True)
class Timing:
    total_s: float
    script_s: float
    runs: int

    def __str__(self) -> str:
        runs = f" x{self.runs}" if self.runs > 1 else ""
        return f"{self.total_s:6.2f} ({self.script_s:5.2f}{runs})"


def _wait(page, expected: str | None = None, done_js: str = DONE_JS) -> None:
    # the previous run's elements stay until the new run marks them stale: let the run start first
    page.wait_for_timeout(50)
    if done_js == DONE_JS:
        page.wait_for_function(done_js, arg=[expected], timeout=TIMEOUT_S * 1000, polling="raf")
    else:
        page.wait_for_function(done_js, timeout=TIMEOUT_S * 1000, polling="raf")


def _timed_goto(page, url: str, probe: Probe | None = None, done_js: str = DONE_JS) -> Timing:
    since = probe.mark() if probe else (0, 0)
    start = time.perf_counter()
    page.goto(url)
    _wait(page, done_js=done_js)
    total = time.perf_counter() - start
    script, runs = probe.script_seconds(page, since) if probe else (float("nan"), 0)
    return Timing(total, script, runs)


def _open(context, url: str, done_js: str = DONE_JS) -> tuple[object, Probe, Timing]:
    """A new tab of ``context`` opened at ``url`` and timed until finished."""
    page = context.new_page()
    probe = Probe.attach(context, page)
    return page, probe, _timed_goto(page, url, probe, done_js)


def _errors(page) -> str:
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return " | ".join(boxes.nth(i).inner_text()[:160] for i in range(boxes.count()))


def _switch(page, title: str, probe: Probe | None = None) -> Timing:
    """Click the sidebar's navigation link to the page titled ``title``; seconds until finished."""
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title).first
    since = probe.mark() if probe else (0, 0)
    start = time.perf_counter()
    link.click()
    page.wait_for_function(f"() => document.querySelector('h1') && "
                           f"document.querySelector('h1').innerText.trim() === {title!r}",
                           timeout=TIMEOUT_S * 1000, polling="raf")
    _wait(page)
    total = time.perf_counter() - start
    script, runs = probe.script_seconds(page, since) if probe else (float("nan"), 0)
    return Timing(total, script, runs)


def _filter_change(page, on: bool) -> float:
    """Seconds from committing the TRD diagnosis filter (on or off) to the page finished again."""
    before = page.evaluate(KEPT_JS)
    committed = toggle_trd(page, on)
    page.wait_for_function(f"() => ({KEPT_JS})() !== {before!r}", timeout=TIMEOUT_S * 1000, polling="raf")
    _wait(page)
    return time.perf_counter() - committed


def _points(values: object) -> int:
    if isinstance(values, list):
        return len(values)
    if isinstance(values, dict) and "bdata" in values:  # plotly's typed-array encoding
        return len(base64.b64decode(values["bdata"])) // np.dtype(values.get("dtype", "f8")).itemsize
    return 0


def chart_lines(draw_page, figures: list[str]) -> list[str]:
    """One line per figure: title, traces, points (x values, gaps included), markers drawn as
    separate SVG elements, JSON size, and plotly.js's drawing time on its own (least of 3)."""
    lines = []
    for spec in figures:
        figure = json.loads(spec)
        data = figure.get("data", [])
        points = sum(_points(trace.get("x")) for trace in data)
        markers = sum(_points(trace.get("x")) for trace in data if "markers" in str(trace.get("mode", "")))
        title = figure.get("layout", {}).get("title", {})
        title = (title.get("text", "") if isinstance(title, dict) else str(title)).replace("<b>", "")
        title = title.replace("</b>", "")[:44]
        draw_ms = draw_page.evaluate(DRAW_JS, [spec, 3])
        lines.append(f"    {title:44s} {len(data):3d} traces {points:7,d} points {markers:6,d} markers "
                     f"{len(spec) / 1e3:7.1f} KB  draws in {draw_ms:6.0f} ms")
    return lines


def measure_floor(browser, log_path: Path) -> str:
    """The one-chart app: a new context (first visit; its cold run, then a warm one) and a new tab."""
    # PYTHONPATH: the floor app imports the project's figure template from a script in benchmarks/
    floor = start_server(log_path, app="benchmarks/floor_app.py", env={"PYTHONPATH": str(ROOT)})
    try:
        context = browser.new_context(viewport=VIEWPORT)
        page, _, first = _open(context, floor.url, FLOOR_DONE_JS)
        page.close()
        _, _, tab = _open(context, floor.url, FLOOR_DONE_JS)
        context.close()
        context = browser.new_context(viewport=VIEWPORT)
        _, _, new_context = _open(context, floor.url, FLOOR_DONE_JS)
        context.close()
    finally:
        floor.stop()
    return (f"floor (one-chart app, s (server script s)): first visit {first}, new tab {tab}, "
            f"new context {new_context}")


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="simulated-20000-1")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--group", default="", help="a 'Compare groups by' option word (e.g. course)")
    parser.add_argument("--filters", type=int, default=3, help="timed filter toggles (0: none)")
    parser.add_argument("--filter-page", default="overview", help="the page the filter toggles re-render")
    parser.add_argument("--no-charts", action="store_true", help="skip the per-chart drawing times")
    parser.add_argument("--no-floor", action="store_true", help="skip the one-chart floor app")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    query = f"?dataset={args.dataset}" + (f"&group={args.group.replace(' ', '+')}" if args.group else "")
    folder = Path(tempfile.mkdtemp())
    server = start_server(folder / "streamlit.log")
    print(f"server log: {folder / 'streamlit.log'}; load average at start: {_load()}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            if not args.no_floor:
                print(measure_floor(browser, folder / "floor.log") + f"; load {_load()}", flush=True)
            draw_page = None
            if not args.no_charts:
                draw_page = browser.new_page()
                draw_page.set_content("<html><body></body></html>")
                draw_page.add_script_tag(path=str(PLOTLY_JS))
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            loaded = _timed_goto(page, f"{server.url}/{query}")
            print(f"dataset {args.dataset} (Data page, first visit): {loaded.total_s:6.2f} s")
            context.close()
            print("seconds to finished (server script seconds in brackets; xN: N runs)")
            print(f"{'page':13s} {'cold':>15s} {'warm tab':>15s} {'warm context':>15s} {'rerun':>15s}  load avg")
            for name in [p for p in args.pages.split(",") if p]:
                url = f"{server.url}/{name}{query}"
                context = browser.new_context(viewport=VIEWPORT)
                page, _, cold = _open(context, url)
                problems = _errors(page)
                page.close()  # as a returning user's (a tab left open shares the renderer process)
                _, _, warm_tab = _open(context, url)
                context.close()
                context = browser.new_context(viewport=VIEWPORT)
                page, probe, warm_context = _open(context, url)
                figures = list(probe.figures)
                _switch(page, "Data", probe)
                rerun = _switch(page, name.capitalize(), probe)
                context.close()
                print(f"{name:13s} {cold!s:>15s} {warm_tab!s:>15s} {warm_context!s:>15s} {rerun!s:>15s}  {_load()}"
                      + (f"  errors: {problems}" if problems else ""), flush=True)
                if draw_page is not None:
                    print("\n".join(chart_lines(draw_page, figures)), flush=True)
            if args.filters:
                context = browser.new_context(viewport=VIEWPORT)
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
