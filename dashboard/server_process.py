"""The app's server process: how it shares the Python interpreter between its event loop and the
threads that compute (page runs, background jobs), and what it readies when it starts.

The event loop (uvicorn) serves the frontend's files and the websocket; a page's script run and
background jobs (dashboard.background) are Python threads that hold the interpreter lock for long
stretches. Each time the loop needs the lock it waits up to the holder's switch interval, and
Starlette reads a static file in 64 KB pieces, one worker-thread hop each. Beside one busy thread
(benchmarks/bench_static.py), CPython's defaults served plotly's chunk (4.7 MB) in 0.60 s (0.01 s
idle) and the frontend's 317 JavaScript files in 8.6 s (0.57 s idle); with these settings 0.01 s
and 2.2 s.

At start-up a thread imports the figure code (analysis.figures, plotly's subplots and pandas
support: 0.15 s that the first page with a figure paid, the Data page has none) and finds out
whether figures can be exported as images (Chromium found and starting: 0.2 s of a subprocess
that show_figure waited for).
"""

from __future__ import annotations

import sys
import threading

SWITCH_INTERVAL_S = 0.001  # CPython's default is 0.005: the loop gets its turn five times sooner
STATIC_READ_BYTES = 8 * 1024 * 1024  # the frontend's largest file (plotly, 4.7 MB) in one read


def share_interpreter() -> None:
    """Give the event loop its turns sooner and serve each static file in one read. Idempotent."""
    from starlette.responses import FileResponse

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    FileResponse.chunk_size = max(FileResponse.chunk_size, STATIC_READ_BYTES)


_warm_up: threading.Thread | None = None
_WARM_UP_LOCK = threading.Lock()


def start_warm_up() -> None:
    """Start the start-up thread once per server process (idempotent)."""
    global _warm_up
    with _WARM_UP_LOCK:
        if _warm_up is None:
            _warm_up = threading.Thread(target=_ready_figures, name="warm-up", daemon=True)
            _warm_up.start()


def _ready_figures() -> None:
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    import analysis.figures  # noqa: F401 - imported for the pages
    from analysis.export import image_export_problem

    figure = make_subplots(rows=1, cols=2, shared_yaxes=True)
    figure.add_trace(go.Scatter(x=pd.Series([0.0, 1.0]), y=pd.Series([1.0, 2.0])), row=1, col=2)
    figure.to_json()
    image_export_problem()
