"""The workspace in a real browser, local mode (no sign-in, one SQLite file): upload a file, get its
link on the Share page, open it in a second browser context as the colleague would, save a view,
refresh, restart the server on the same database, and open the saved view again: same page, same
settings, the data present."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.serve import APP_IDLE_JS, Server, free_port, start_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "data" / "sample" / "single_file.csv"  # the bundled sample as one long CSV (300 patients)
TIMEOUT_MS = 120_000
KEPT = re.compile(r"([\d,]+) of ([\d,]+) patients kept")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/\?(?:dataset=ws-|view=)[A-Za-z0-9_-]{22}")


class LocalServer:
    """The app on one port and one workspace file, restartable."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.env = {"INFUSION_OUTCOMES_DB": str(folder / "workspace.db")}
        self.starts = 0
        self.server: Server | None = None

    def start(self) -> Server:
        self.starts += 1
        self.server = start_server(self.folder / f"server-{self.starts}.log", port=self.port, env=self.env)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[LocalServer]:
    app = LocalServer(tmp_path)
    app.start()
    try:
        yield app
    finally:
        app.stop()
        print(f"\nstreamlit logs: {tmp_path}")


def _idle(page) -> None:
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT_MS)
    page.wait_for_function(APP_IDLE_JS, timeout=TIMEOUT_MS, polling=100)


def _text(page, where: str = "stMain") -> str:
    return page.locator(f'[data-testid="{where}"]').inner_text()


def _clean_with_data(page) -> tuple[int, int]:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in _text(page)
    match = KEPT.search(_text(page, "stSidebar"))
    assert match, f"no data in the sidebar: {_text(page, 'stSidebar')[:400]}"
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def _links(page) -> list[str]:
    return LINK.findall(" ".join(page.locator('[data-testid="stCode"]').all_inner_texts()))


def test_upload_share_open_save_refresh_restart_reopen(local_server: LocalServer, browser, screenshots) -> None:
    url = local_server.server.url  # type: ignore[union-attr]
    me = browser.new_context(viewport={"width": 1400, "height": 1200})
    colleague = browser.new_context(viewport={"width": 1400, "height": 1200})
    for context in (me, colleague):
        context.set_default_timeout(TIMEOUT_MS)  # a loaded machine draws a page in tens of seconds
    try:
        # upload and load the file
        page = me.new_page()
        page.goto(url)
        _idle(page)
        page.get_by_text("Upload", exact=True).click()
        _idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(EXPORT))
        page.wait_for_selector(".st-key-load_upload button", timeout=TIMEOUT_MS)  # the file is read
        _idle(page)
        page.get_by_role("button", name="Load", exact=True).click()
        page.wait_for_url(re.compile(r".*dataset=ws-"), timeout=TIMEOUT_MS)
        _idle(page)
        assert _clean_with_data(page) == (300, 300)
        assert "single_file.csv · 300 patients · yours" in _text(page, "stSidebar")

        # the Share page gives the link (local mode: no e-mail sharing offered)
        page.get_by_role("link", name="Share").click()
        page.wait_for_url(re.compile(r".*/share\?"))  # the click's run has begun, not the last one idle
        _idle(page)
        assert "local mode" in _text(page) and page.get_by_label("E-mail address or group name").count() == 0
        [link] = _links(page)
        assert "dataset=ws-" in link

        # the colleague opens it in another browser context and saves a view on Durability
        other = colleague.new_page()
        other.goto(link)
        _idle(other)
        assert _clean_with_data(other) == (300, 300)
        dataset = parse_qs(urlparse(other.url).query)["dataset"][0]
        other.goto(f"{url}/durability?dataset={dataset}&group=sex&response=40")
        _idle(other)
        kept = _clean_with_data(other)
        other.locator('[data-testid="stSidebarUserContent"]').get_by_text("Saved views", exact=True).click()
        other.get_by_label("Name of this view").fill("By sex, 40% response")
        other.get_by_role("button", name="Save view").click()
        _idle(other)
        other.wait_for_selector("text=By sex, 40% response", timeout=TIMEOUT_MS)
        # the view's name and its link are two elements of one run: the link can arrive a moment later
        other.locator('[data-testid="stCode"]', has_text="view=").first.wait_for(timeout=TIMEOUT_MS)
        [view_link] = [v for v in _links(other) if "view=" in v]

        # a refresh keeps the page, its settings and the data
        other.reload()
        _idle(other)
        assert _clean_with_data(other) == kept
        assert urlparse(other.url).path == "/durability"
        assert parse_qs(urlparse(other.url).query)["group"] == ["sex"]

        # a restart of the server on the same database: the saved view reopens as it was saved
        local_server.stop()
        local_server.start()
        fresh = browser.new_context(viewport={"width": 1400, "height": 1200})
        fresh.set_default_timeout(TIMEOUT_MS)
        try:
            again = fresh.new_page()
            again.goto(view_link)
            again.wait_for_url(re.compile(r".*/durability\?"), timeout=TIMEOUT_MS)
            _idle(again)
            query = parse_qs(urlparse(again.url).query)
            assert query["dataset"] == [dataset] and query["group"] == ["sex"] and query["response"] == ["40"]
            assert again.get_by_role("heading", name="Durability", exact=True).count() == 1
            assert _clean_with_data(again) == kept
            again.screenshot(path=str(screenshots / "workspace_saved_view_after_restart.png"), full_page=True)
        finally:
            fresh.close()
    finally:
        me.close()
        colleague.close()
