"""Browser tests: the real app in a subprocess, driven by Playwright with Debian's Chromium
(never `playwright install`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.serve import Server, serving

SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    try:
        with serving(log) as server:
            yield server
    finally:
        print(f"\nstreamlit log: {log}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOTS}")
    return SCREENSHOTS
