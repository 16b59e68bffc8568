"""Where a page's browser time goes: a Chromium performance trace (DevTools tracing, with the V8
sampling profiler) of pages opened in a new browser context with the server's caches warm, summed
up per phase.

For each page: seconds from the navigation to the first websocket message, to the server's
script_finished and to the page finished (as benchmarks/bench_pages.py defines it), then the
renderer main thread's busy milliseconds by kind (script compile, script run, style, layout,
paint, garbage collection) and the JavaScript run time per frontend chunk (Streamlit lazily
loads one chunk per element type: PlotlyChart, DataFrame, StreamlitSyntaxHighlighter for st.code,
StreamlitMarkdown, ...), from the profiler's samples (self time, 1 ms sampling). A trace file per
page is kept in the folder printed (open it in Chromium's DevTools, Performance panel).

Run: .venv/bin/python benchmarks/profile_pages.py [--dataset simulated-20000-1] [--pages onset,compare]
     [--repeats 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_pages import VIEWPORT, Probe, timed_goto
from dashboard.serve import CHROMIUM, CHROMIUM_ARGS, start_server

CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "v8",
              "disabled-by-default-v8.cpu_profiler", "blink.user_timing", "loading", "toplevel"]
# renderer main thread event names -> phase (self time: nested events are subtracted)
PHASES = {
    "v8.compile": "compile", "v8.compileModule": "compile", "V8.CompileCode": "compile",
    "v8.produceModuleCache": "compile", "v8.parseOnBackground": "compile", "V8.CompileLazy": "compile",
    "EvaluateScript": "script", "v8.evaluateModule": "script", "FunctionCall": "script",
    "EventDispatch": "script", "TimerFire": "script", "FireAnimationFrame": "script",
    "RunMicrotasks": "script", "v8.run": "script", "V8.Execute": "script",
    "UpdateLayoutTree": "style", "ParseAuthorStyleSheet": "style", "RecalculateStyles": "style",
    "Layout": "layout", "UpdateLayerTree": "layout", "IntersectionObserverController::computeIntersections": "layout",
    "Paint": "paint", "PrePaint": "paint", "Layerize": "paint", "CompositeLayers": "paint", "Commit": "paint",
    "MinorGC": "gc", "MajorGC": "gc", "V8.GC_SCAVENGER": "gc", "BlinkGC.AtomicPhase": "gc",
    "ParseHTML": "html", "ResourceReceivedData": "network", "ResourceFinish": "network",
}
CHUNK = re.compile(r"/static/js/([^/.]+)[^/]*\.js")


def _main_thread(events: list[dict]) -> tuple[int, int]:
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    mains = [key for key, name in names.items() if name == "CrRendererMain"]
    # the page's renderer: the main thread with the most busy time
    busy: Counter = Counter()
    for e in events:
        if e.get("ph") == "X" and (e["pid"], e["tid"]) in mains:
            busy[(e["pid"], e["tid"])] += e.get("dur", 0)
    return busy.most_common(1)[0][0]


def phases(events: list[dict], thread: tuple[int, int], start_us: float, end_us: float) -> dict[str, float]:
    """Self milliseconds per phase on ``thread`` between the two trace timestamps."""
    spans = sorted((e for e in events if e.get("ph") == "X" and (e["pid"], e["tid"]) == thread
                    and start_us <= e["ts"] <= end_us), key=lambda e: (e["ts"], -e.get("dur", 0)))
    totals: Counter = Counter()
    stack: list[list] = []  # [end_us, phase, child_us]
    def close(until: float) -> None:
        while stack and stack[-1][0] <= until:
            end, phase, child, dur = stack.pop()
            totals[phase] += dur - child
            if stack:
                stack[-1][2] += dur
    for e in spans:
        close(e["ts"])
        phase = PHASES.get(e["name"], "other" if e["name"] not in ("RunTask", "ThreadControllerImpl::RunTask")
                           else "idle-task")
        dur = e.get("dur", 0)
        stack.append([e["ts"] + dur, phase, 0, dur])
    close(float("inf"))
    totals.pop("idle-task", None)  # a task's own time outside any named event: counted as other below
    return {k: v / 1000 for k, v in totals.items()}


def js_by_chunk(events: list[dict], thread: tuple[int, int], start_us: float, end_us: float) -> dict[str, float]:
    """Self milliseconds of JavaScript per frontend chunk (and per function for the top ones), from
    the V8 sampling profiler's ProfileChunk events of the thread."""
    nodes: dict[int, dict] = {}
    per_chunk: Counter = Counter()
    per_function: Counter = Counter()
    profile_pid_tid = None
    for e in events:
        if e.get("name") == "Profile" and e["pid"] == thread[0]:
            profile_pid_tid = e.get("id")
    for e in events:
        if e.get("name") != "ProfileChunk" or e["pid"] != thread[0] or e.get("id") != profile_pid_tid:
            continue
        data = e["args"]["data"]
        for node in data.get("cpuProfile", {}).get("nodes", []):
            nodes[node["id"]] = node
        samples = data.get("cpuProfile", {}).get("samples", [])
        deltas = data.get("timeDeltas", [])
        for node_id, delta in zip(samples, deltas, strict=False):
            node = nodes.get(node_id)
            if node is None:
                continue
            frame = node["callFrame"]
            url = frame.get("url", "")
            match = CHUNK.search(url)
            chunk = match.group(1) if match else (url.rsplit("/", 1)[-1] or frame.get("functionName") or "(native)")
            per_chunk[chunk] += delta
            per_function[f"{chunk}:{frame.get('functionName') or '(anonymous)'}"] += delta
    return ({k: v / 1000 for k, v in per_chunk.items()}, {k: v / 1000 for k, v in per_function.items()})


def profile_page(browser, url: str, folder: Path, name: str, floor: bool = False) -> str:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    probe = Probe.attach(context, page)
    session = context.new_cdp_session(page)
    marks: dict[str, float] = {}

    def received(event: dict) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        response = event["response"]
        if response.get("opcode") != 2:
            return
        kind = ForwardMsg.FromString(base64.b64decode(response["payloadData"])).WhichOneof("type")
        marks.setdefault("first message", event["timestamp"])
        if kind == "script_finished":
            marks["script finished"] = event["timestamp"]
    session.on("Network.webSocketFrameReceived", received)
    session.send("Network.enable")
    browser.start_tracing(page=page, categories=CATEGORIES)
    total = timed_goto(page, url, probe, floor).total_s
    trace = json.loads(browser.stop_tracing())
    path = folder / f"{name}.json"
    path.write_text(json.dumps(trace))
    context.close()
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    thread = _main_thread(events)
    navigation = min(e["ts"] for e in events if e.get("name") in ("navigationStart", "NavigationTiming")
                     or (e.get("name") == "ResourceSendRequest")) if events else 0
    end = max(e["ts"] + e.get("dur", 0) for e in events if (e.get("pid"), e.get("tid")) == thread)
    totals = phases(events, thread, navigation, end)
    chunks, functions = js_by_chunk(events, thread, navigation, end)
    busy = sum(totals.values())
    lines = [f"{name}: finished {total:.2f} s; main thread busy {busy / 1000:.2f} s: "
             + ", ".join(f"{k} {v:.0f}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if v >= 5) + " ms"]
    if marks:
        # the network timestamps are seconds on the trace clock (us / 1e6)
        lines.append("  " + ", ".join(f"{k} at {(v * 1e6 - navigation) / 1e6:.2f} s" for k, v in marks.items()))
    lines.append("  JS self time per chunk (ms): " + ", ".join(
        f"{k} {v:.0f}" for k, v in sorted(chunks.items(), key=lambda kv: -kv[1])[:14] if v >= 5))
    lines.append("  top functions (ms): " + ", ".join(
        f"{k} {v:.0f}" for k, v in sorted(functions.items(), key=lambda kv: -kv[1])[:12]))
    lines.append(f"  trace: {path}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="simulated-20000-1")
    parser.add_argument("--pages", default="onset,compare,symptoms")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--app", default="app.py", help="the script served (benchmarks/floor_app.py for the floor)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="profile_pages_"))
    server = start_server(folder / "streamlit.log", app=args.app, env={"PYTHONPATH": str(Path(__file__).parent.parent)})
    print(f"traces and server log in {folder}")
    query = f"?dataset={args.dataset}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            warm = browser.new_context(viewport=VIEWPORT)
            page = warm.new_page()
            probe = Probe.attach(warm, page)
            names = [p for p in args.pages.split(",") if p] if args.app == "app.py" else [""]
            for name in names:  # the server's caches warm
                timed_goto(page, f"{server.url}/{name}{query}", probe, floor=args.app != "app.py")
            warm.close()
            for name in names:
                for repeat in range(args.repeats):
                    print(profile_page(browser, f"{server.url}/{name}{query}", folder,
                                       f"{name or 'floor'}_{repeat}", floor=not name), flush=True)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
