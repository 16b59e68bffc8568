"""Report cards in the workspace: kept per owner (a signed-in user in team mode), on SQLite and
PostgreSQL; deleted with the stored dataset they came from and after the retention period; the
store bounded in bytes; an existing 0001 database upgraded in place. Cards of a stored dataset the
user can no longer open (grant revoked, dataset deleted, analyst made viewer) are neither shown
nor exported, the Report page says how many and why, and a re-grant does not bring them back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from streamlit.testing.v1 import AppTest

import analysis
from dashboard import report, security
from dashboard.workspace import (
    Principal,
    Workspace,
    WorkspaceConfig,
    WorkspaceError,
    WorkspaceUnavailable,
    session,
)
from dashboard.workspace.store import MIGRATIONS, ReportCardRow
from tests.dashboard.apptest import new_server_process, no_exception, open_page

OWNER = Principal("owner@clinic.org")
COLLEAGUE = Principal("colleague@clinic.org", groups=frozenset({"trial"}))


def _row(card_id: str, payload: bytes = b"x", annotation: str = "", dataset_id: str | None = None) -> ReportCardRow:
    return ReportCardRow(card_id, annotation, lambda: payload, dataset_id)


@pytest.fixture
def ws(workspace_url: str) -> Iterator[Workspace]:
    workspace = Workspace(workspace_url, report_retention_days=30, report_store_bytes=1000)
    yield workspace
    workspace.close()


def test_cards_are_kept_per_owner_in_order_with_notes(ws: Workspace) -> None:
    ws.save_report_cards("user:a@clinic.org", [_row("one", b"1"), _row("two", b"2", "my note")])
    assert [(c.id, c.payload, c.annotation) for c in ws.report_cards("user:a@clinic.org")] == [
        ("one", b"1", ""), ("two", b"2", "my note")]
    assert ws.report_cards("user:b@clinic.org") == []

    def rebuilt() -> bytes:
        raise AssertionError("a stored card's payload is not rebuilt")

    # reordered, annotated, one removed and one added: only the new card's payload is made
    ws.save_report_cards("user:a@clinic.org", [ReportCardRow("two", "changed", rebuilt), _row("three", b"3")])
    assert [(c.id, c.payload, c.annotation) for c in ws.report_cards("user:a@clinic.org")] == [
        ("two", b"2", "changed"), ("three", b"3", "")]
    with pytest.raises(WorkspaceError, match="at most 100"):
        ws.save_report_cards("user:a@clinic.org", [_row(f"c{i}") for i in range(101)])
    for bad in ([_row("same"), _row("same")], [_row("x" * 33)]):
        with pytest.raises(WorkspaceError, match="distinct ids"):
            ws.save_report_cards("user:a@clinic.org", bad)
    with pytest.raises(WorkspaceError, match="owner"):
        ws.report_cards("")


def test_cards_go_with_their_stored_dataset_and_after_the_retention_period(ws: Workspace) -> None:
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    ws.save_report_cards("user:owner@clinic.org", [_row("stored", dataset_id=dataset_id), _row("sample")])
    ws.delete_dataset(OWNER, dataset_id)
    assert [c.id for c in ws.report_cards("user:owner@clinic.org")] == ["sample"]

    now = datetime(2030, 1, 1)
    ws.save_report_cards("browser:old", [_row("old")], now=now - timedelta(days=31))
    ws.save_report_cards("browser:recent", [_row("recent")], now=now - timedelta(days=29))
    assert ws.report_cards("browser:old", now=now) == []  # past the period: never shown again
    ws.apply_retention(now=now)
    with ws.engine.connect() as connection:
        owners = set(connection.execute(text("SELECT owner FROM report_cards")).scalars())
    assert "browser:old" not in owners and "browser:recent" in owners
    assert [c.id for c in ws.report_cards("browser:recent", now=now)] == ["recent"]


def test_dataset_roles_are_the_rule_that_opens_a_dataset(ws: Workspace) -> None:
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    assert ws.dataset_roles(OWNER, [dataset_id, "missing"]) == {dataset_id: "owner"}
    assert ws.dataset_roles(COLLEAGUE, [dataset_id]) == {} and ws.dataset_roles(OWNER, []) == {}
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "viewer")
    ws.share(OWNER, dataset_id, "trial", "analyst", kind="group")
    assert ws.dataset_roles(COLLEAGUE, [dataset_id]) == {dataset_id: "analyst"}  # the higher grant
    assert ws.info(COLLEAGUE, dataset_id).role == "analyst"
    ws.unshare(OWNER, dataset_id, "trial", kind="group")
    assert ws.dataset_roles(COLLEAGUE, [dataset_id]) == {dataset_id: "viewer"}
    assert ws.dataset_roles(Principal(COLLEAGUE.email), [dataset_id]) == {dataset_id: "viewer"}
    ws.unshare(OWNER, dataset_id, COLLEAGUE.email)
    assert ws.dataset_roles(COLLEAGUE, [dataset_id]) == {}
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "viewer")  # granted again
    assert ws.dataset_roles(COLLEAGUE, [dataset_id]) == {dataset_id: "viewer"}
    ws.delete_dataset(OWNER, dataset_id)
    assert ws.dataset_roles(COLLEAGUE, [dataset_id]) == {} and ws.dataset_roles(OWNER, [dataset_id]) == {}


def test_the_store_is_bounded_in_bytes_least_recently_used_out(ws: Workspace) -> None:
    start = datetime(2030, 1, 1)
    ws.save_report_cards("browser:first", [_row("a", b"a" * 400)], now=start)
    ws.save_report_cards("browser:second", [_row("b", b"b" * 400)], now=start + timedelta(hours=1))
    ws.report_cards("browser:first", now=start + timedelta(hours=2))  # opened: used more recently
    ws.save_report_cards("browser:third", [_row("c", b"c" * 400)], now=start + timedelta(hours=3))
    assert ws.report_cards("browser:second") == []  # used longest ago: removed whole
    assert [c.id for c in ws.report_cards("browser:first")] == ["a"]
    assert [c.id for c in ws.report_cards("browser:third")] == ["c"]
    with pytest.raises(WorkspaceError, match="at most 0 MB"):
        ws.save_report_cards("browser:fourth", [_row("d", b"d" * 1001)])
    assert ws.report_cards("browser:fourth") == []  # refused whole, nothing kept


def test_a_0001_database_is_upgraded_with_its_data(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    old = Workspace(url, run_migrations=False)
    assert "report_cards" not in inspect(old.engine).get_table_names()
    dataset_id = old.save_dataset(OWNER, analysis.load_sample(), "kept").id
    old.close()
    upgraded = Workspace(url)
    assert [d.id for d in upgraded.list_datasets(OWNER)] == [dataset_id]
    upgraded.save_report_cards("user:owner@clinic.org", [_row("one")])
    assert [c.id for c in upgraded.report_cards("user:owner@clinic.org")] == ["one"]
    upgraded.close()


# ---------------------------------------------------------------------------------------------
# In the app, team mode: the signed-in user's cards


@pytest.fixture
def team(workspace_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Principal | None]]:
    """Team mode on a new workspace (SQLite, PostgreSQL); ``who["user"]`` is the signed-in user
    (st.user is not settable in AppTest). Every run comes from one browser: the user, not the
    browser, owns cards."""
    monkeypatch.setattr(security, "browser_secret", lambda: "one-browser")
    new_server_process()
    session._config = WorkspaceConfig(url=workspace_url, team=True)
    who: dict[str, Principal | None] = {"user": OWNER}
    monkeypatch.setattr(session, "principal", lambda: who["user"])
    yield who
    new_server_process()


def _card_script() -> None:
    """Adds a card for each dataset name in session_state["add"] (``name|viewer``: made by a
    viewer) and lists the report."""
    from datetime import UTC, datetime

    import streamlit as st

    from dashboard import report

    for index, item in enumerate(st.session_state.pop("add", [])):
        dataset, _, access = item.partition("|")
        report.add_card(report.Card(
            id=f"card{index}", page="Test", title=f"Result on {dataset[:12]}", figures=(), tables=(), notes=(),
            definitions=(), filters=(), dataset=dataset, dataset_label=dataset, fingerprint="", code="",
            added=datetime.now(UTC), access=access or "analyst"))
    st.write(" | ".join(c.title for c in report.cards()) or "none")
    st.caption(report.kept_where())
    st.caption(report.withheld_note() or "nothing withheld")


def _report(**state: object) -> AppTest:
    at = AppTest.from_function(_card_script, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_team_cards_follow_the_signed_in_user_and_go_with_a_deleted_dataset(team: dict) -> None:
    ws = session.workspace()
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    at = _report(add=["sample", f"ws-{dataset_id}"])
    assert at.markdown[0].value == "Result on sample | Result on ws-" + dataset_id[:9]
    assert "Kept on the server for your account" in at.caption[0].value
    assert _report().markdown[0].value == at.markdown[0].value  # a new session of the same user
    team["user"] = Principal("colleague@clinic.org")  # another user, same browser: none of them
    assert _report().markdown[0].value == "none"
    at.run()  # the first session, now signed in as the colleague: the owner's cards are let go
    assert at.markdown[0].value == "none"
    team["user"] = OWNER
    ws.delete_dataset(OWNER, dataset_id)
    assert _report().markdown[0].value == "Result on sample"


# ---------------------------------------------------------------------------------------------
# Cards of a dataset the user can no longer open


def _report_page() -> AppTest:
    at = open_page("report")
    no_exception(at)
    return at


def _titles(at: AppTest) -> list[str]:
    """The cards the Report page shows, by title."""
    return [m.value.split("**")[1].split(". ", 1)[1].replace("\\", "")  # markdown escapes undone
            for m in at.markdown if m.value.startswith("**") and " · " in m.value]


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_cards_of_a_revoked_grant_are_neither_shown_nor_exported_and_a_regrant_brings_none_back(team: dict) -> None:
    ws = session.workspace()
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "analyst")
    team["user"] = COLLEAGUE
    _report(add=["sample", f"ws-{dataset_id}"])
    page = _report_page()
    stored_title = f"Result on ws-{dataset_id[:9]}"
    assert _titles(page) == ["Result on sample", stored_title] and not page.warning
    export = report._Export(list(page.session_state[report.CARDS_KEY]), "R", COLLEAGUE)  # as the page drew it
    assert stored_title in export.html().decode()
    trail = ws.audit_trail(Principal("it@clinic.org", admin=True))
    assert ((trail["user"] == COLLEAGUE.email) & (trail["action"] == "export")
            & (trail["dataset_id"] == dataset_id)).any()

    ws.unshare(OWNER, dataset_id, COLLEAGUE.email)
    html = export.html().decode()  # the button drawn before the revoke, clicked after it
    assert "Result on sample" in html and stored_title not in html and f"ws-{dataset_id}" not in html
    trail = ws.audit_trail(Principal("it@clinic.org", admin=True))
    refused = trail[(trail["action"] == "export-refused") & (trail["dataset_id"] == dataset_id)]
    assert list(zip(refused["user"], refused["detail"], strict=True)) == [
        (COLLEAGUE.email, "report.html: dataset not open to them")]  # the card left out, recorded
    page.run()
    no_exception(page)
    assert _titles(page) == ["Result on sample"]
    assert _warnings(page) == ("1 result taken out of this report: they came from a stored dataset you can no "
                               "longer open (its owner stopped sharing it with you, or deleted it).")
    assert [c.id for c in ws.report_cards(f"user:{COLLEAGUE.email}")] == ["card0"]  # deleted, not only hidden

    ws.share(OWNER, dataset_id, COLLEAGUE.email, "analyst")  # granted again: the card does not come back
    page.run()
    assert _titles(page) == ["Result on sample"] and "1 result taken out" in _warnings(page)  # said all session
    fresh = _report_page()
    assert _titles(fresh) == ["Result on sample"] and not fresh.warning


def test_an_analyst_made_viewer_keeps_the_viewer_cards_and_a_deleted_dataset_takes_the_rest(team: dict) -> None:
    ws = session.workspace()
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    ws.share(OWNER, dataset_id, "trial", "analyst", kind="group")
    team["user"] = COLLEAGUE
    _report(add=[f"ws-{dataset_id}|viewer", f"ws-{dataset_id}", "sample"])
    assert len(_titles(_report_page())) == 3
    ws.share(OWNER, dataset_id, "trial", "viewer", kind="group")  # the group's role lowered
    page = _report_page()
    assert [c.id for c in page.session_state[report.CARDS_KEY]] == ["card0", "card2"]
    assert _warnings(page) == ("1 result taken out of this report: made with an analyst's access to a dataset "
                               "you may now only view (aggregates only).")
    ws.delete_dataset(OWNER, dataset_id)
    page.run()
    assert _titles(page) == ["Result on sample"]
    assert "1 result taken out of this report: they came from a stored dataset you can no longer open" \
        in _warnings(page) and "analyst's access" in _warnings(page)


def test_while_the_database_is_away_cards_of_stored_datasets_are_hidden_not_lost(
        team: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = session.workspace()
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    team["user"] = OWNER
    at = _report(add=["sample", f"ws-{dataset_id}"])

    def away(*args: object, **kwargs: object) -> None:
        raise WorkspaceUnavailable()

    monkeypatch.setattr(Workspace, "report_cards", away)
    monkeypatch.setattr(Workspace, "dataset_roles", away)
    at.run()
    assert at.markdown[0].value == "Result on sample"
    assert [c.id for c in at.session_state[report.CARDS_KEY]] == ["card0", "card1"]  # held, not shown
    assert at.caption[1].value == ("1 result of stored datasets not shown for now: whether you may still open their "
                                   "datasets cannot be checked while the workspace database is away.")
    monkeypatch.undo()
    monkeypatch.setattr(security, "browser_secret", lambda: "one-browser")
    monkeypatch.setattr(session, "principal", lambda: team["user"])
    at.run()
    assert at.markdown[0].value == f"Result on sample | Result on ws-{dataset_id[:9]}"
    assert at.caption[1].value == "nothing withheld"


def test_a_card_remembers_whether_a_viewer_made_it(team: dict) -> None:
    ws = session.workspace()
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "viewer")
    for who, access in ((COLLEAGUE, "viewer"), (OWNER, "analyst")):
        team["user"] = who
        at = open_page("overview", dataset=f"ws-{dataset_id}")
        no_exception(at)
        next(b for b in at.button if b.label == "Add to report").click().run()
        no_exception(at)
        assert [c.access for c in at.session_state[report.CARDS_KEY]] == [access]
