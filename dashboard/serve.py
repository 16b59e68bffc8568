"""Start and stop the dashboard in a subprocess (browser tests and the dashboard benchmark).

Does not import Streamlit: it runs ``python -m streamlit run app.py`` headless on a free port and
waits for the health endpoint.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def memory_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """A process's memory in MB from /proc/<pid>/status: ``VmRSS`` (resident now) or ``VmHWM``
    (its peak); 0 when the field is absent."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log_path: Path
    healthy_at: float  # time.perf_counter() when /_stcore/health first answered "ok"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# One app process serves many sessions at once: BLAS threads per computation only fight over
# the cores (measured 4-40x slower fits with OpenBLAS' 2 threads on 2 busy cores).
SERVER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def start_server(log_path: Path, port: int | None = None, timeout_s: float = 90.0,
                 env: dict[str, str] | None = None, app: str = "app.py") -> Server:
    """Run the app (``app``: a script path relative to the repository) headless and return once its
    health check answers. ``env``: variables added to this process's environment (e.g.
    STREAMLIT_SERVER_TRUSTED_USER_HEADERS, INFUSION_OUTCOMES_*)."""
    port = port or free_port()
    log = open(log_path, "w")  # noqa: SIM115 - closed when the process ends
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**SERVER_ENV, **os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return Server(process, url, log_path, time.perf_counter())
        except OSError:
            pass
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"streamlit did not answer its health check within {timeout_s:.0f} s")


@contextmanager
def serving(log_path: Path, **options: object) -> Iterator[Server]:
    """``start_server(log_path, **options)`` for the length of a ``with`` block (test fixtures,
    scripts), stopped afterwards."""
    server = start_server(log_path, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


# JavaScript predicate: the script run has finished and nothing on the page is stale.
APP_IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  return !document.querySelector('[data-stale="true"]');
}"""

# A chart of the page: the element of a chart's key ("chart_<name>", "report_chart_<card>_<n>"), there
# as soon as the page's run sent it, whether dashboard/chart.py's renderer has mounted (a skeleton
# until its script is loaded) and drawn it or not (st.plotly_chart without the bundle: the same keys).
CHART_SELECTOR = '[class*="st-key-chart_"], [class*="st-key-report_chart_"]'
# JavaScript predicate: every plotly chart on the page has been drawn.
CHARTS_DRAWN_JS = """() => Array.from(document.querySelectorAll(CHARTS))
  .every(chart => chart.querySelector('.main-svg'))""".replace("CHARTS", repr(CHART_SELECTOR))

# JavaScript predicate: no lazily loaded element is still shown as a loading placeholder.
SKELETONS_GONE_JS = """() => !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]')"""
