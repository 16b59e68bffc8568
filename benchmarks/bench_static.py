"""The frontend's files served beside computing threads, as CPython's defaults leave it and as
dashboard.server_process.share_interpreter sets it (the switch interval, one read per file).

A page's script run and background jobs are Python threads of the server process; the event loop
that answers the browser's requests for the frontend's code waits for the interpreter lock behind
them. Streamlit's own static file handler (Starlette, uvicorn) is served in this process beside
``--busy`` pure-Python threads, and timed: plotly's chunk (4.7 MB, the largest file) alone, and
every JavaScript file of the frontend fetched over 6 connections at once (as Chromium does). Each
setting runs in its own process (the settings are process-wide); seconds are the median of
``--repeat`` fetches.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_static.py [--busy 1 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONNECTIONS = 6  # Chromium's connections per host over HTTP/1.1


def _serve(port: int) -> tuple[str, list[str]]:
    """Streamlit's static handler on ``port`` in a daemon thread; (its URL, the JS file names,
    largest first)."""
    import streamlit
    import uvicorn
    from streamlit.web.server.starlette.starlette_static_routes import create_streamlit_static_handler

    static = Path(streamlit.__file__).parent / "static"
    app = create_streamlit_static_handler(str(static), base_url=None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    files = sorted((static / "static" / "js").glob("*.js"), key=lambda p: -p.stat().st_size)
    return f"http://127.0.0.1:{port}/static/js/", [p.name for p in files]


def _busy() -> None:
    total = 0
    while True:
        for i in range(10_000):
            total += i


def _fetch(url: str) -> int:
    with urllib.request.urlopen(url) as response:
        return len(response.read())


def child(tuned: bool, busy: int, repeat: int) -> dict[str, float]:
    """In this process: the settings, the server, ``busy`` threads; median seconds per fetch."""
    from dashboard.serve import free_port

    if tuned:
        from dashboard import server_process

        server_process.share_interpreter()
    base, names = _serve(free_port())
    largest = names[0]
    for _ in range(busy):
        threading.Thread(target=_busy, daemon=True).start()
    chunk, every = [], []
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        for _ in range(repeat):
            start = time.perf_counter()
            _fetch(base + largest)
            chunk.append(time.perf_counter() - start)
            start = time.perf_counter()
            list(pool.map(_fetch, [base + name for name in names]))
            every.append(time.perf_counter() - start)
    return {"chunk_s": statistics.median(chunk), "every_s": statistics.median(every), "files": len(names),
            "switch_ms": sys.getswitchinterval() * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=["default", "tuned"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child == "tuned", args.busy[0], args.repeat)))
        return
    print(f"{'busy threads':>12} {'setting':>8} {'switch ms':>9} {'plotly chunk s':>14} {'every JS file s':>16}")
    for busy in args.busy:
        for setting in ("default", "tuned"):
            out = subprocess.run([sys.executable, __file__, "--child", setting, "--busy", str(busy),
                                  "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{busy:>12} {setting:>8} {row['switch_ms']:>9.1f} {row['chunk_s']:>14.3f} "
                  f"{row['every_s']:>12.3f} ({row['files']} files)", flush=True)


if __name__ == "__main__":
    main()
