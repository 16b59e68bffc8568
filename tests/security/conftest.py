"""A real server in a subprocess for the security tests (dashboard.serve), one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.serve import Server, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("streamlit") / "server.log") as running:
        yield running
