"""A real server in a subprocess for the security tests (dashboard.serve), one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.serve import Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    running = start_server(log)
    try:
        yield running
    finally:
        running.stop()
