"""Suite-wide: the workspace (dashboard.workspace) of every test and test server lives in a
temporary folder, never in the user's data folder; Debian's Chromium for every test that drives the
real app in a browser (tests/e2e, tests/workspace)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_DATA_HOME = tempfile.mkdtemp(prefix="infusion-outcomes-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
os.environ.pop("INFUSION_OUTCOMES_DB", None)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from dashboard.serve import CHROMIUM, CHROMIUM_ARGS

    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian's chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
