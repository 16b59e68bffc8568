"""Report cards in the workspace: kept per owner (a signed-in user in team mode), on SQLite and
PostgreSQL; deleted with the stored dataset they came from and after the retention period; the
store bounded in bytes; an existing 0001 database upgraded in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from streamlit.testing.v1 import AppTest

import analysis
from dashboard import security
from dashboard.workspace import Principal, Workspace, WorkspaceConfig, WorkspaceError, load_config, session
from dashboard.workspace.store import MIGRATIONS, ReportCardRow

OWNER = Principal("owner@clinic.org")


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


def _reset() -> None:
    if session._workspace is not None:
        session._workspace.close()
    session._workspace = None
    session._config = None


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Principal | None]]:
    """Team mode on a workspace in tmp_path; ``who["user"]`` is the signed-in user (st.user is not
    settable in AppTest). Every run comes from one browser: the user, not the browser, owns cards."""
    monkeypatch.setattr(security, "browser_secret", lambda: "one-browser")
    _reset()
    local = load_config({}, {"INFUSION_OUTCOMES_DB": str(tmp_path / "workspace.db")})
    session._config = WorkspaceConfig(url=local.url, team=True)
    who: dict[str, Principal | None] = {"user": OWNER}
    monkeypatch.setattr(session, "principal", lambda: who["user"])
    yield who
    _reset()


def _card_script() -> None:
    """Adds a card for each dataset name in session_state["add"] and lists the report."""
    from datetime import UTC, datetime

    import streamlit as st

    from dashboard import report

    for index, dataset in enumerate(st.session_state.pop("add", [])):
        report.add_card(report.Card(
            id=f"card{index}", page="Test", title=f"Result on {dataset[:12]}", figures=(), tables=(), notes=(),
            definitions=(), filters=(), dataset=dataset, dataset_label=dataset, fingerprint="", code="",
            added=datetime.now(UTC)))
    st.write(" | ".join(c.title for c in report.cards()) or "none")
    st.caption(report.kept_where())


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
