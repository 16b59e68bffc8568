"""Every page's render time in a real browser (Playwright + Debian's Chromium against
dashboard/serve.py), cold, warm and rerun, on a simulated dataset, with the server's share.

For each page, seconds from the navigation to the page finished. Finished: the page's own script
run (the first full run after the navigation; a fragment's run, such as the Overview's band asking
every second how its background job is doing, does not count) has ended, and the page is drawn:
nothing stale, no loading placeholders, every plotly chart drawn, the sidebar's "N of M patients
kept" shown. A background job's "computing" note is a drawn state: the page does not wait for it.

- cold: the first visit of the page, in a new browser context (the dataset is already loaded by a
  visit to the Data page first, and timed as "dataset"); the page's results are computed;
- warm tab: the same URL in a new tab of that context, the first tab closed (a returning user: the
  browser's caches hold the app's scripts; the results come from the server's caches);
- warm context: the same URL in a new browser context (a new user: nothing cached in the browser);
- rerun: back to the page from the Data page within that session (the in-app navigation).

Before the cold visit, the warm tab and the warm context, the benchmark waits for the server to be
idle (under a tenth of a core for a second): the background jobs started by the previous visit (a
page's slow fits, the Data page's prefetch) have ended, so a cold visit competes only with the jobs
it starts itself, and a warm visit finds the page's results computed.

Beside each, in brackets, the server's script time of the page's run: from the websocket message
asking for it (BackMsg rerun_script without a fragment id) to the server's script_finished message
for a full run (not FINISHED_FRAGMENT_RUN_SUCCESSFULLY), both timestamped by Chromium's network
layer (DevTools protocol), so the browser's own drawing does not delay them; "xN" when N full runs
were needed (a run ended early for a rerun). The rest is the browser: loading the frontend and
plotly.js, and drawing.

The machine's floor is measured in the same run: a one-chart Streamlit app (benchmarks/floor_app.py)
in a new context and a new tab; subtract it to see what a page adds. Then, per chart of each page
(the figures the server sent, read from the websocket), traces, points and JSON size, and the
milliseconds plotly.js (the plotly Python package's bundle) takes to draw it on its own, the least
of 3, and the browser's main thread in the warm context visit: its long tasks (over 50 ms: the
frontend's and plotly.js's script evaluation, drawing) and how many times each chart was drawn
(dashboard.chart draws each figure once; st.plotly_chart, without the bundle, draws it again in full
once its theme effect hands plotly.js a copy with a new layout.template object). Then filter changes (the
diagnosis filter toggled on one page, Overview by default, each state visited once to warm it).
Last, a summary per page against the targets of issue 10 at 20,000 patients: first render (cold,
warm tab and warm context) < 3 s, warm re-render (rerun) < 1 s; filter changes < 1 s at 10,000.
The machine's load average is printed with the figures (other work shares the cores).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_pages.py [--dataset simulated-20000-1]
     [--pages overview,trajectories,...] [--group course] [--filters 3] [--no-charts] [--no-floor]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_dashboard import _toggle_trd as toggle_trd
from dashboard import chart
from dashboard.serve import (
    CHART_SELECTOR,
    CHARTS_DRAWN_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    SKELETONS_GONE_JS,
    start_server,
)

PAGES = ("overview", "trajectories", "onset", "durability", "compare", "series", "symptoms")
# the page is drawn: the sidebar's kept count shown, nothing stale, no placeholders, charts drawn (the
# script state is not checked: a fragment may be running; Probe says when the page's own run ended);
# polled every animation frame (timing precision)
DRAWN_JS = f"""() => {{
  const bar = document.querySelector('[data-testid="stSidebar"]');
  if (!bar || !/[\\d,]+ of [\\d,]+ patients kept/.test(bar.innerText)) return false;
  return !document.querySelector('[data-stale="true"]') && ({SKELETONS_GONE_JS})() && ({CHARTS_DRAWN_JS})();
}}"""
# the floor app has no sidebar: drawn when its one chart is
FLOOR_DRAWN_JS = f"""() => document.querySelector({CHART_SELECTOR!r}) !== null
  && !document.querySelector('[data-stale="true"]') && ({SKELETONS_GONE_JS})() && ({CHARTS_DRAWN_JS})()"""
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
# the browser's main thread from the first byte of the document: its long tasks (over 50 ms: script
# evaluation, drawing) and each plotly chart's draws (plotly_afterplot per chart div)
BROWSER_JS = """
window.__longTasks = [];
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
  .observe({type: 'longtask', buffered: true});
window.__draws = [];
const drawnCharts = new WeakSet();
new MutationObserver(() => {
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    if (drawnCharts.has(chart) || !chart.on) continue;
    drawnCharts.add(chart);
    // seen when plotly.js makes it a plot, before that first draw ends (its plotly_afterplot)
    const index = window.__draws.push(0) - 1;
    chart.on('plotly_afterplot', () => { window.__draws[index] += 1; });
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
"""
PLOTLY_JS = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"
TIMEOUT_S = 600.0
VIEWPORT = {"width": 1400, "height": 1000}
FIRST_RENDER_S, RE_RENDER_S = 3.0, 1.0  # issue 10's targets at 20,000 patients


@dataclass
class Probe:
    """The websocket messages of one tab, timestamped by Chromium (DevTools protocol, seconds):
    full runs requested and ended (a fragment's runs left out), and the plotly figures received."""

    session: object
    requested: list[float] = field(default_factory=list)
    finished: list[tuple[float, bool]] = field(default_factory=list)  # (when, ended early for a rerun)
    figures: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, context, page) -> Probe:
        session = context.new_cdp_session(page)
        probe = cls(session)
        session.on("Network.webSocketFrameSent", probe._sent)
        session.on("Network.webSocketFrameReceived", probe._received)
        session.send("Network.enable")
        return probe

    def _sent(self, event: dict) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        response = event["response"]
        if response.get("opcode") != 2:
            return
        message = BackMsg.FromString(base64.b64decode(response["payloadData"]))
        if message.WhichOneof("type") == "rerun_script" and not message.rerun_script.fragment_id:
            self.requested.append(event["timestamp"])

    def _received(self, event: dict) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        response = event["response"]
        if response.get("opcode") != 2:
            return
        message = ForwardMsg.FromString(base64.b64decode(response["payloadData"]))
        kind = message.WhichOneof("type")
        if kind == "script_finished":
            if message.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.finished.append((event["timestamp"], message.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN))
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            if element.WhichOneof("type") == "plotly_chart":
                self.figures.append(element.plotly_chart.spec)
            elif element.WhichOneof("type") == "bidi_component" \
                    and element.bidi_component.component_name == chart.COMPONENT_NAME:
                self.figures.append(json.loads(element.bidi_component.json)["spec"])

    def mark(self) -> tuple[int, int]:
        return len(self.requested), len(self.finished)

    def _page_run(self, since: tuple[int, int]) -> tuple[float, float, int] | None:
        """(requested, ended, full runs) of the page's run after ``since``: from the first full run
        requested to the first full run that ended normally; None until it has."""
        requested = self.requested[since[0]:]
        if not requested:
            return None
        for runs, (when, early) in enumerate(self.finished[since[1]:], start=1):
            if not early:
                return requested[0], when, runs
        return None

    def wait_page_run(self, page, since: tuple[int, int]) -> tuple[float, int]:
        """Until the page's run after ``since`` has ended; its script seconds and full runs."""
        deadline = time.monotonic() + TIMEOUT_S
        while (run := self._page_run(since)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the page's script run did not end")
            page.wait_for_timeout(5)
        return run[1] - run[0], run[2]


@dataclass(frozen=True)
class Timing:
    total_s: float
    script_s: float
    runs: int

    def __str__(self) -> str:
        runs = f" x{self.runs}" if self.runs > 1 else ""
        return f"{self.total_s:6.2f} ({self.script_s:5.2f}{runs})"


def page_done(page, probe: Probe, since: tuple[int, int], floor: bool = False) -> tuple[float, int]:
    """Until the page is finished (its run ended, then drawn: see the module docstring); the run's
    script seconds and full runs. ``since``: ``probe.mark()`` before the navigation or the click."""
    script = probe.wait_page_run(page, since)
    page.wait_for_function(FLOOR_DRAWN_JS if floor else DRAWN_JS, timeout=TIMEOUT_S * 1000, polling="raf")
    return script


def timed_goto(page, url: str, probe: Probe, floor: bool = False) -> Timing:
    since = probe.mark()
    start = time.perf_counter()
    page.goto(url)
    script, runs = page_done(page, probe, since, floor)
    return Timing(time.perf_counter() - start, script, runs)


def _open(context, url: str, floor: bool = False) -> tuple[object, Probe, Timing]:
    """A new tab of ``context`` opened at ``url`` and timed until finished."""
    page = context.new_page()
    probe = Probe.attach(context, page)
    return page, probe, timed_goto(page, url, probe, floor)


def browser_line(page) -> str:
    """The main thread's long tasks and the charts' draws of ``page`` (a context with BROWSER_JS)."""
    tasks = page.evaluate("window.__longTasks")
    draws = page.evaluate("window.__draws")
    return (f"    browser (warm context): main thread busy {sum(tasks) / 1000:.2f} s in {len(tasks)} long tasks "
            f"(longest {max(tasks, default=0) / 1000:.2f} s); {len(draws)} charts drawn "
            f"{', '.join(map(str, draws)) or '0'} times")


def _errors(page) -> str:
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return " | ".join(boxes.nth(i).inner_text()[:160] for i in range(boxes.count()))


def _switch(page, title: str, probe: Probe) -> Timing:
    """Click the sidebar's navigation link to the page titled ``title``; seconds until finished."""
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title).first
    since = probe.mark()
    start = time.perf_counter()
    link.click()
    page.wait_for_function(f"() => document.querySelector('h1') && "
                           f"document.querySelector('h1').innerText.trim() === {title!r}",
                           timeout=TIMEOUT_S * 1000, polling="raf")
    script, runs = page_done(page, probe, since)
    return Timing(time.perf_counter() - start, script, runs)


def _filter_change(page, probe: Probe, on: bool) -> float:
    """Seconds from committing the TRD diagnosis filter (on or off) to the page finished again."""
    before = page.evaluate(KEPT_JS)
    since = probe.mark()
    committed = toggle_trd(page, on)
    page.wait_for_function(f"() => ({KEPT_JS})() !== {before!r}", timeout=TIMEOUT_S * 1000, polling="raf")
    page_done(page, probe, since)
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
    # beside its copy, the bundle (static serving reads the folder beside the app's script); PYTHONPATH:
    # the floor app imports the project's figure template and chart renderer
    app = log_path.parent / "floor" / "floor_app.py"
    app.parent.mkdir(exist_ok=True)
    shutil.copy(ROOT / "benchmarks" / "floor_app.py", app)
    if (ROOT / "static").is_dir():
        shutil.copytree(ROOT / "static", app.parent / "static", dirs_exist_ok=True)
    floor = start_server(log_path, app=str(app), env={"PYTHONPATH": str(ROOT)})
    try:
        context = browser.new_context(viewport=VIEWPORT)
        page, _, first = _open(context, floor.url, floor=True)
        page.close()
        _, _, tab = _open(context, floor.url, floor=True)
        context.close()
        context = browser.new_context(viewport=VIEWPORT)
        _, _, new_context = _open(context, floor.url, floor=True)
        context.close()
    finally:
        floor.stop()
    return (f"floor (one-chart app, s (server script s)): first visit {first}, new tab {tab}, "
            f"new context {new_context}")


def summary_lines(rows: dict[str, tuple[Timing, Timing, Timing, Timing]]) -> list[str]:
    """Per page, seconds to finished against issue 10's targets: first render (cold, warm tab, warm
    context) < FIRST_RENDER_S and warm re-render (rerun) < RE_RENDER_S."""
    def mark(seconds: float, target: float) -> str:
        return f"{seconds:5.2f}{' ' if seconds < target else '!'}"
    lines = [f"summary ('!': over the target): first render < {FIRST_RENDER_S:g} s (cold, warm tab, warm context), "
             f"warm re-render < {RE_RENDER_S:g} s (rerun)",
             f"{'page':13s} {'cold':>7s} {'warm tab':>9s} {'warm ctx':>9s} {'re-render':>10s}"]
    for name, (cold, tab, context, rerun) in rows.items():
        lines.append(f"{name:13s} {mark(cold.total_s, FIRST_RENDER_S):>7s} {mark(tab.total_s, FIRST_RENDER_S):>9s} "
                     f"{mark(context.total_s, FIRST_RENDER_S):>9s} {mark(rerun.total_s, RE_RENDER_S):>10s}")
    return lines


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _cpu_s(pid: int) -> float:
    """The process's CPU seconds so far (user + system, /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_server_idle(pid: int, quiet_s: float = 1.0, timeout_s: float = 120.0) -> float:
    """Until the server has used under a tenth of a core for ``quiet_s`` seconds: the background
    jobs of the previous measurement (a page's slow fits, a prefetch) have ended, so each page's
    cold visit competes only with its own jobs and a warm visit finds every result cached. Seconds
    waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        before = _cpu_s(pid)
        time.sleep(quiet_s)
        if _cpu_s(pid) - before < 0.1 * quiet_s:
            break
    return time.monotonic() - start


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
            _, _, loaded = _open(context, f"{server.url}/{query}")
            print(f"dataset {args.dataset} (Data page, first visit): {loaded.total_s:6.2f} s")
            context.close()
            print("seconds to finished (server script seconds of the page's run in brackets; xN: N full runs)")
            print(f"{'page':13s} {'cold':>15s} {'warm tab':>15s} {'warm context':>15s} {'rerun':>15s}  load avg")
            rows: dict[str, tuple[Timing, Timing, Timing, Timing]] = {}
            for name in [p for p in args.pages.split(",") if p]:
                url = f"{server.url}/{name}{query}"
                wait_server_idle(server.process.pid)
                context = browser.new_context(viewport=VIEWPORT)
                page, _, cold = _open(context, url)
                problems = _errors(page)
                page.close()  # as a returning user's (a tab left open shares the renderer process)
                wait_server_idle(server.process.pid)
                _, _, warm_tab = _open(context, url)
                context.close()
                wait_server_idle(server.process.pid)
                context = browser.new_context(viewport=VIEWPORT)
                context.add_init_script(BROWSER_JS)
                page, probe, warm_context = _open(context, url)
                figures = list(probe.figures)
                busy = browser_line(page)
                _switch(page, "Data", probe)
                rerun = _switch(page, name.capitalize(), probe)
                context.close()
                rows[name] = (cold, warm_tab, warm_context, rerun)
                print(f"{name:13s} {cold!s:>15s} {warm_tab!s:>15s} {warm_context!s:>15s} {rerun!s:>15s}  {_load()}"
                      + (f"  errors: {problems}" if problems else ""), flush=True)
                print(busy, flush=True)
                if draw_page is not None:
                    print("\n".join(chart_lines(draw_page, figures)), flush=True)
            if args.filters:
                context = browser.new_context(viewport=VIEWPORT)
                page, probe, _ = _open(context, f"{server.url}/{args.filter_page}{query}")
                _filter_change(page, probe, True)  # warm both states once
                _filter_change(page, probe, False)
                times = []
                for _ in range(args.filters):
                    times += [_filter_change(page, probe, True), _filter_change(page, probe, False)]
                print(f"filter change (diagnosis TRD on/off, {args.filter_page}, warm): "
                      + ", ".join(f"{t:.2f}" for t in times) + f" s; max {max(times):.2f} s; "
                      f"load average {os.getloadavg()[0]:.1f}")
                context.close()
            print("\n".join(summary_lines(rows)) + f"\nload average at the end: {_load()}")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
