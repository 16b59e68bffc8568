"""Sign-in end to end: the real app in team mode (a secrets.toml ``[auth]`` block pointing at a local
OpenID Connect provider, oidc-provider-mock on 127.0.0.1), its workspace in the suite's throwaway
PostgreSQL, three users in system Chromium.

A signs in, uploads the sample export and shares it with B as viewer; B sees aggregates only
(small cells suppressed, no individual lines or one-row-per-patient tables); C is told "not found
or not shared with you"; the audit trail records the sign-ins, the upload, the share and the opens.
(AppTest cannot do this: its secrets never reach ``st.login``.)
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.serve import APP_IDLE_JS, Server, free_port, start_server
from dashboard.workspace import NOT_SHARED, Principal, Workspace

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "data" / "sample" / "single_file.csv"  # the bundled sample as one long CSV (300 patients)
OWNER, COLLEAGUE, STRANGER, ADMIN = "a@clinic.org", "b@clinic.org", "c@elsewhere.org", "it@clinic.org"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A local OpenID Connect provider; its discovery URL. Any client id and secret are accepted,
    and its authorisation form signs in whoever is typed (the e-mail claim is that name)."""
    import werkzeug.serving
    from oidc_provider_mock import app as provider_app

    server = werkzeug.serving.make_server("127.0.0.1", 0, provider_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/openid-configuration"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def team_url(postgres: object) -> str:
    return postgres.create_database("ws_sign_in")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def team_server(provider: str, team_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app in team mode: sign-in configured in a temporary secrets.toml (never the repository's)."""
    folder = tmp_path_factory.mktemp("team")
    port = free_port()
    (folder / "secrets.toml").write_text(f'''
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "infusion-outcomes"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{provider}"

[workspace]
admins = ["{ADMIN}"]
''')
    server = start_server(folder / "server.log", port=port, env={
        "STREAMLIT_SECRETS_FILES": str(folder / "secrets.toml"), "INFUSION_OUTCOMES_DB": team_url})
    try:
        yield server
    finally:
        server.stop()
        print(f"\nstreamlit log: {folder / 'server.log'}")


def _idle(page: object) -> None:
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    page.wait_for_function(APP_IDLE_JS, timeout=TIMEOUT_MS, polling=100)  # type: ignore[attr-defined]


def _main(page: object) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()  # type: ignore[attr-defined]


def _sidebar(page: object) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()  # type: ignore[attr-defined]


def _clean(page: object) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
    assert "Traceback" not in _main(page)


def _sign_in(browser: object, server: Server, email: str) -> object:
    """A new browser (context) signed in as ``email`` through the provider's form; its page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200})  # type: ignore[attr-defined]
    context.set_default_timeout(TIMEOUT_MS)  # a loaded machine draws a page in tens of seconds
    page = context.new_page()
    page.goto(server.url)
    _idle(page)
    assert "Sign in with your institution's account" in _main(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('input[name="sub"]', timeout=TIMEOUT_MS)  # the provider's page
    page.fill('input[name="sub"]', email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{server.url}/**", timeout=TIMEOUT_MS)
    page.wait_for_selector(f'[data-testid="stSidebar"] >> text=Signed in as {email}', timeout=TIMEOUT_MS)
    _idle(page)
    return page


def _open(page: object, server: Server, path: str, dataset: str) -> None:
    page.goto(f"{server.url}/{path}?dataset={dataset}")  # type: ignore[attr-defined]
    _idle(page)
    _clean(page)


def test_two_users_share_as_viewer_and_a_third_is_refused(team_server: Server, browser: object,
                                                         team_url: str) -> None:
    # A signs in and uploads the clinic's export
    owner = _sign_in(browser, team_server, OWNER)
    owner.get_by_text("Upload", exact=True).click()
    _idle(owner)
    owner.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(EXPORT))
    owner.wait_for_selector(".st-key-load_upload button", timeout=TIMEOUT_MS)  # once the file is read
    _idle(owner)
    owner.get_by_role("button", name="Load", exact=True).click()
    owner.wait_for_url(re.compile(r".*dataset=ws-"), timeout=TIMEOUT_MS)
    _idle(owner)
    dataset = parse_qs(urlparse(owner.url).query)["dataset"][0]
    assert re.fullmatch(r"ws-[A-Za-z0-9_-]{22}", dataset)
    assert "single_file.csv · 300 patients · yours" in _sidebar(owner)  # the name, not the id

    # A shares it with B as viewer on the Share page
    _open(owner, team_server, "share", dataset)
    owner.get_by_label("E-mail address or group name").fill(COLLEAGUE)
    owner.get_by_role("button", name="Share", exact=True).click()
    owner.wait_for_selector(f"text=Shared with {COLLEAGUE} as viewer", timeout=TIMEOUT_MS)
    _open(owner, team_server, "trajectories", dataset)
    assert owner.get_by_role("switch", name="Individual patients").is_enabled()  # the owner: row level

    # B opens the link: aggregates only
    colleague = _sign_in(browser, team_server, COLLEAGUE)
    _open(colleague, team_server, "trajectories", dataset)
    assert f"single_file.csv · 300 patients · shared by {OWNER} (viewer)" in _sidebar(colleague)
    assert colleague.get_by_role("switch", name="Individual patients").is_disabled()
    _open(colleague, team_server, "symptoms", dataset)
    assert "not shown to viewers of a shared dataset" in _main(colleague)
    _open(colleague, team_server, "timeline", dataset)
    assert "Patient timelines show individual patients, so they are not shown to viewers" in _main(colleague)
    _open(colleague, team_server, "share", dataset)
    assert "shared with you as viewer; only its owner can share it" in _main(colleague)

    # C, signed in but not shared with, learns nothing about the dataset
    stranger = _sign_in(browser, team_server, STRANGER)
    _open(stranger, team_server, "overview", dataset)
    assert NOT_SHARED in _main(stranger)
    assert "single_file.csv" not in _main(stranger) + _sidebar(stranger)

    # the audit trail, as the administrator reads it
    ws = Workspace(team_url, run_migrations=False)
    try:
        trail = ws.audit_trail(Principal(ADMIN, admin=True))
    finally:
        ws.close()
    dataset_id = dataset.removeprefix("ws-")
    seen = set(zip(trail["user"], trail["action"], trail["dataset_id"].fillna(""), strict=True))
    assert {(OWNER, "sign-in", ""), (COLLEAGUE, "sign-in", ""), (STRANGER, "sign-in", "")} <= seen
    assert {(OWNER, "upload", dataset_id), (OWNER, "share", dataset_id), (OWNER, "open", dataset_id),
            (COLLEAGUE, "open", dataset_id)} <= seen
    assert not (trail["user"] == STRANGER).to_numpy()[trail["action"] != "sign-in"].any()
    share = trail[trail["action"] == "share"]
    assert share["detail"].tolist() == [f"user {COLLEAGUE} as viewer"]
    opens = trail[(trail["action"] == "open") & (trail["user"] == COLLEAGUE)]
    assert opens["detail"].tolist() == ["viewer"] * 4  # once per page load (session), not once per run
    # one sign-in per sign-in, however many pages (sessions) each user opened
    assert (trail["action"] == "sign-in").sum() == 3
