"""The workspace in the app (AppTest): a loaded upload is stored and reopens in a new session and a
new process, links by opaque id, viewers see aggregates only, saved-view links, the admin page,
the database away."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

import analysis
from dashboard import compute, security
from dashboard.workspace import (
    NOT_SHARED,
    Principal,
    Workspace,
    WorkspaceConfig,
    WorkspaceUnavailable,
    load_config,
    session,
)
from dashboard.workspace.models import Dataset
from tests.dashboard.apptest import (
    ROOT,
    charts,
    clean,
    load_button,
    new_server_process,
    open_page,
    start,
    upload_page,
)

OWNER = Principal("owner@clinic.org")
VIEWER = Principal("viewer@clinic.org")
STRANGER = Principal("stranger@elsewhere.org")


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkspaceConfig]:
    """Local mode on a workspace in tmp_path (AppTest gives every run the same browser)."""
    monkeypatch.setattr(security, "browser_secret", lambda: "one-browser")
    new_server_process()
    session._config = load_config({}, {"INFUSION_OUTCOMES_DB": str(tmp_path / "workspace.db")})
    yield session._config
    new_server_process()


@pytest.fixture
def team(local: WorkspaceConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Principal | None]]:
    """Team mode; ``who["user"]`` is the signed-in user (st.user is not settable in AppTest: the
    sign-in itself is tested end to end in test_sign_in.py)."""
    session._config = WorkspaceConfig(url=local.url, team=True, admins=frozenset({"it@clinic.org"}))
    who: dict[str, Principal | None] = {"user": None}
    monkeypatch.setattr(session, "principal", lambda: who["user"])
    yield who


def _stored_sample(owner: Principal = OWNER) -> tuple[Workspace, str]:
    """The sample stored by ``owner``: the workspace and the dataset's id."""
    ws = session.workspace()
    return ws, ws.save_dataset(owner, analysis.load_sample(), "sample").id


def _shared_sample() -> tuple[Workspace, str]:
    """The sample stored by OWNER and shared with VIEWER as viewer: the workspace and its id."""
    ws, dataset_id = _stored_sample()
    ws.share(OWNER, dataset_id, VIEWER.email, "viewer")
    return ws, dataset_id


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("info", "warning", "error", "caption", "markdown")
                    for e in getattr(at, kind))


def test_an_upload_is_stored_and_reopens_in_a_new_session_and_process(local: WorkspaceConfig) -> None:
    content = (ROOT / "tests/data/good/single_utf8.csv").read_bytes()
    expected = analysis.load(ROOT / "tests/data/good/single_utf8.csv").fingerprint
    at = upload_page()
    at.file_uploader(key="upload_files").upload("single_utf8.csv", content).run()
    clean(at)
    load_button(at).click().run()
    clean(at)
    dataset = at.session_state["dataset"]
    assert dataset.startswith("ws-") and expected not in dataset  # an opaque id, not the fingerprint
    assert at.session_state["context"].full.fingerprint == expected
    # a refresh (new session) and a restart (new process: nothing held in memory) open it again
    for restart in (False, True):
        if restart:
            config = session._config
            new_server_process()
            session._config = config
        again = open_page("overview", dataset=dataset)
        clean(again)
        assert again.session_state["context"].full.fingerprint == expected
    trail = session.workspace().audit_trail(Principal("local", admin=True))
    assert trail["action"].tolist()[::-1] == ["upload", "open", "open", "open"]


def test_a_link_to_a_dataset_not_shared_says_so_and_nothing_more(team: dict) -> None:
    _, dataset_id = _stored_sample()
    team["user"] = STRANGER
    for dataset in (f"ws-{dataset_id}", "ws-" + "B" * 22):
        at = open_page("overview", dataset=dataset)
        assert not at.exception
        assert at.session_state["context"].full is None
        assert NOT_SHARED in _texts(at)


def test_a_viewer_sees_aggregates_only(team: dict) -> None:
    ws, dataset_id = _shared_sample()
    dataset = f"ws-{dataset_id}"

    team["user"] = OWNER
    owner = open_page("trajectories", dataset=dataset)
    clean(owner)
    assert owner.session_state["context"].row_level
    assert not owner.toggle(key="traj_individual").disabled and owner.toggle(key="traj_individual").value

    team["user"] = VIEWER
    viewer = open_page("trajectories", dataset=dataset)
    clean(viewer)
    assert "sample · 300 patients · shared by owner" in _texts(viewer)  # the name, not the id
    ctx = viewer.session_state["context"]
    assert not ctx.row_level and ctx.settings.min_cell_size >= 5
    assert viewer.toggle(key="traj_individual").disabled
    assert not [m for m in viewer.multiselect if m.key == "traj_highlight"]  # no patient ids offered
    figure = charts(viewer)[0].spec
    owner_figure = charts(owner)[0].spec
    assert owner_figure.count('"name":"patient') > 0 or len(owner_figure) > len(figure)
    symptoms = open_page("symptoms", dataset=dataset)
    clean(symptoms)
    assert "not shown to viewers" in _texts(symptoms)
    # the viewer cannot share, and the Share page says so
    share = open_page("share", dataset=dataset)
    clean(share)
    assert "shared with you as viewer" in _texts(share)
    trail = ws.audit_trail(Principal("it@clinic.org", admin=True))
    assert ((trail["user"] == VIEWER.email) & (trail["action"] == "open") & (trail["detail"] == "viewer")).any()


def test_a_revoked_grant_closes_the_open_view_at_the_next_run(team: dict) -> None:
    """Access is checked once per run, not once per session: the same session loses the dataset."""
    ws, dataset_id = _shared_sample()
    team["user"] = VIEWER
    at = open_page("overview", dataset=f"ws-{dataset_id}")
    clean(at)
    assert at.session_state["context"].full is not None
    ws.unshare(OWNER, dataset_id, VIEWER.email)
    at.run()
    assert not at.exception
    assert at.session_state["context"].full is None and NOT_SHARED in _texts(at)


def test_retention_runs_in_the_background_and_only_when_configured(local: WorkspaceConfig,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "_last_retention", 0.0)
    clean(start())  # the sample in local mode, no retention period: no run connects to the database
    assert session._workspace is None
    ws = Workspace(local.url)
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "old").id
    with ws.engine.begin() as connection:
        connection.execute(update(Dataset).values(created_at=datetime(2000, 1, 1)))
    session._config = dataclasses.replace(local, retention_days=365)
    clean(start())
    deadline = time.monotonic() + 30
    while ws.list_datasets(OWNER) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ws.list_datasets(OWNER) == []
    trail = ws.audit_trail(Principal("it", admin=True))
    assert ((trail["action"] == "retention") & (trail["dataset_id"] == dataset_id)).any()
    ws.close()


def test_deleting_on_the_share_page_lets_go_of_the_data_held_in_memory(team: dict) -> None:
    ws, dataset_id = _stored_sample()
    team["user"] = OWNER
    at = open_page("share", dataset=f"ws-{dataset_id}")
    clean(at)
    name = f"ws-{dataset_id}"
    assert list(compute._DATASETS._items) == [name]  # held once for the process, in the shared budget
    assert any(isinstance(k, tuple) and k[1] == name for k in compute._RESULTS._items)  # e.g. sidebar options
    at.checkbox(key=f"confirm_delete_{dataset_id}").check().run()
    at.button(key=f"delete_{dataset_id}").click().run()
    clean(at)
    assert list(compute._DATASETS._items) == ["sample"]  # the page switched to the sample
    assert not any(isinstance(k, tuple) and k[1] == name for k in compute._RESULTS._items)
    assert at.session_state["dataset"] == "sample" and ws.list_datasets(OWNER) == []


def test_a_saved_view_link_opens_the_page_and_settings(team: dict) -> None:
    ws, dataset_id = _shared_sample()
    team["user"] = OWNER
    at = open_page("durability", dataset=f"ws-{dataset_id}", group="sex", response="40")
    clean(at)
    at.text_input(key="save_view_name").input("By sex, 40%")
    next(b for b in at.button if "Save view" in str(b.label)).click().run()
    clean(at)
    views = ws.views(OWNER, dataset_id)
    assert [v.name for v in views] == ["By sex, 40%"]
    assert views[0].state["page"] == ["durability"] and views[0].state["group"] == ["sex"]
    assert any(f"?view={views[0].id}" in c.value for c in at.code)  # the short link to copy

    team["user"] = VIEWER  # a colleague opens the short link
    opened = start(view=views[0].id)
    clean(opened)
    assert [t.value for t in opened.title] == ["Durability"]
    assert opened.session_state["group"] == "sex" and opened.session_state["response"] == 40
    assert opened.session_state["dataset"] == f"ws-{dataset_id}"

    team["user"] = STRANGER
    refused = start(view=views[0].id)
    assert not refused.exception and NOT_SHARED in _texts(refused)


def test_share_panel_and_admin_page(team: dict) -> None:
    ws, dataset_id = _stored_sample()
    team["user"] = OWNER
    at = open_page("share", dataset=f"ws-{dataset_id}")
    clean(at)
    at.text_input(key="share_grantee").input("Viewer@Clinic.org")
    at.selectbox(key="share_role").select("viewer")
    next(b for b in at.button if b.label == "Share").click().run()
    clean(at)
    assert [(g.grantee, g.role) for g in ws.grants(OWNER, dataset_id)] == [("viewer@clinic.org", "viewer")]
    with pytest.raises(ValueError, match="navigation page"):  # not routed for someone not an admin
        open_page("admin")

    team["user"] = Principal("it@clinic.org", admin=True)
    admin = open_page("admin")
    clean(admin)
    trail = next(d.value for d in admin.dataframe if "action" in d.value.columns)
    assert {"upload", "share"} <= set(trail["action"])
    assert isinstance(trail, pd.DataFrame) and "user" in trail.columns


def test_database_away_gives_a_page_in_words_and_recovers(team: dict, postgres: object) -> None:
    url = postgres.create_database("ws_app_away")  # type: ignore[attr-defined]
    session._config = WorkspaceConfig(url=url, team=True)
    team["user"] = OWNER
    _, dataset_id = _stored_sample()
    link = f"ws-{dataset_id}"
    clean(open_page("overview", dataset=link))
    postgres.stop("immediate")  # type: ignore[attr-defined]
    try:
        at = open_page("overview", dataset=link)
        assert not at.exception
        assert any("cannot be reached" in e.value for e in at.error)  # the sign-in audit needs it
        assert [b.label for b in at.button] == ["Try again"]
        # unreachable at start (a new process)
        new_server_process()
        session._config = WorkspaceConfig(url=url, team=True)
        at = open_page("overview", dataset=link)
        assert not at.exception and any("cannot be reached" in e.value for e in at.error)
    finally:
        postgres.start()  # type: ignore[attr-defined]
    back = open_page("overview", dataset=link)
    clean(back)
    assert back.session_state["context"].full.fingerprint == analysis.load_sample().fingerprint


def test_results_of_a_stored_dataset_are_kept_once_per_process(team: dict) -> None:
    """Keyed by dataset id and settings, shared by the sessions allowed to open the dataset: the
    viewer's run computes nothing the owner's run computed; a stranger gets none of it."""
    ws, dataset_id = _shared_sample()
    name = f"ws-{dataset_id}"

    def results() -> set:
        return {k for k in compute._RESULTS._items if isinstance(k, tuple) and k[1] == name}

    team["user"] = OWNER
    clean(open_page("durability", dataset=name, group="sex"))
    computed = results()
    assert {k[0] for k in computed} - {"sidebar_options", "group_levels", "filter_cohort"}  # fits
    team["user"] = VIEWER
    viewer = open_page("durability", dataset=name, group="sex")
    clean(viewer)
    assert results() == computed and "_results" not in viewer.session_state
    team["user"] = STRANGER
    stranger = open_page("durability", dataset=name, group="sex")
    assert NOT_SHARED in _texts(stranger) and stranger.session_state["context"].data is None


def test_local_mode_share_page_gives_the_link_and_the_cache_key_lives_beside_the_database(
        local: WorkspaceConfig, tmp_path: Path) -> None:
    _, dataset_id = _stored_sample(Principal("local"))
    at = open_page("share", dataset=f"ws-{dataset_id}")
    clean(at)
    assert "local mode" in _texts(at)
    assert not [t for t in at.text_input if t.key == "share_grantee"]  # nobody to share with by e-mail
    assert any(f"?dataset=ws-{dataset_id}" in c.value for c in at.code)
    key = tmp_path / "workspace.db.cache-key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64


def test_stop_sharing_while_the_database_is_away_says_so(team: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, dataset_id = _shared_sample()
    team["user"] = OWNER
    at = open_page("share", dataset=f"ws-{dataset_id}")
    clean(at)

    def away(*_args: object, **_kwargs: object) -> None:
        raise WorkspaceUnavailable("postgresql")

    with monkeypatch.context() as patched:
        patched.setattr(Workspace, "unshare", away)
        at.button(key="revoke").click().run()
    assert not at.exception
    assert any("cannot be reached" in e.value for e in at.error)
    at.button(key="revoke").click().run()
    clean(at)
    assert ws.grants(OWNER, dataset_id) == []
