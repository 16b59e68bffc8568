"""The server process shares the interpreter with its event loop: the frontend's files are sent in
one read (not 64 KB pieces, one worker-thread hop each) and the loop gets its turn sooner. The
effect on serving beside a busy thread is measured in benchmarks/bench_static.py."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import streamlit
from starlette.responses import FileResponse

from dashboard import server_process
from tests.dashboard.apptest import new_server_process, start

STATIC_JS = Path(streamlit.__file__).parent / "static" / "static" / "js"


def _bodies(path: Path) -> list[bytes]:
    """The body messages of a FileResponse of ``path`` as the ASGI server receives them."""
    messages: list[dict] = []

    async def receive() -> dict:  # the client never disconnects
        await anyio.sleep_forever()
        return {}

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    # in a thread of its own: an earlier test of this process may have left an event loop running
    # in this one (Playwright's sync API)
    with ThreadPoolExecutor(1) as thread:
        thread.submit(anyio.run, FileResponse(path), scope, receive, send).result()
    return [m["body"] for m in messages if m["type"] == "http.response.body" and m["body"]]


def test_the_frontends_largest_file_is_sent_in_one_read():
    largest = max(STATIC_JS.glob("*.js"), key=lambda p: p.stat().st_size)  # plotly's chunk, 4.7 MB
    assert largest.stat().st_size > 1 << 20
    server_process.share_interpreter()
    bodies = _bodies(largest)
    assert len(bodies) == 1
    assert bodies[0] == largest.read_bytes()


def test_the_app_shares_the_interpreter_when_it_starts():
    new_server_process()
    sys.setswitchinterval(0.005)  # CPython's default
    start()
    assert sys.getswitchinterval() == server_process.SWITCH_INTERVAL_S
    assert FileResponse.chunk_size >= server_process.STATIC_READ_BYTES


def test_the_start_up_thread_finds_out_whether_figures_can_be_exported(monkeypatch):
    """The Chromium check (0.2 s) runs in the start-up thread, not in the first page showing a figure."""
    from analysis import export

    with export._chromium_lock:
        monkeypatch.setattr(export, "_chromium_checked", None)
        monkeypatch.setattr(export, "_chromium_failed", None)
    monkeypatch.setattr(server_process, "_warm_up", None)
    start()  # the Data page: no figure shown
    assert server_process._warm_up is not None
    server_process._warm_up.join(60)
    assert export._chromium_checked is not None or export._chromium_failed is not None
