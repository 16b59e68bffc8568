"""Exports of a stored dataset in team mode, built when their button is clicked: Streamlit calls
the builder in a thread of its own, outside the script run, where ``st.user`` is empty. The
builders here are the ones the pages registered, called the same way (in the test's thread, no
script run), with the real sign-in (``AppTest.user``): each export is audited under who clicked,
and access is checked again first, by the rule that shows report cards (``report._may_see``), so a
grant revoked or lowered after the page was drawn exports nothing and says why."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

import analysis
from dashboard.workspace import Principal, Workspace, WorkspaceConfig, WorkspaceUnavailable, session
from tests.dashboard.apptest import APP, TIMEOUT, charts, new_server_process, no_exception, open_page

OWNER = Principal("owner@clinic.org")
COLLEAGUE = Principal("colleague@clinic.org")
ADMIN = Principal("it@clinic.org", admin=True)


@pytest.fixture
def team(workspace_url: str) -> Iterator[Workspace]:
    """Team mode on a new workspace (SQLite, PostgreSQL): the sample stored by OWNER and shared
    with COLLEAGUE as analyst."""
    new_server_process()
    session._config = WorkspaceConfig(url=workspace_url, team=True, admins=frozenset({ADMIN.email}))
    yield session.workspace()
    new_server_process()


@pytest.fixture
def clicks(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], Any]]:
    """The builders of the download buttons the last runs drew, by file name."""
    builders: dict[str, Callable[[], Any]] = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self: MediaFileManager, data_callable: Callable[[], Any], mimetype: str | None,
                     coordinates: str, file_name: str | None = None, **kwargs: Any) -> str:
        builders[str(file_name)] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return builders


def _signed_in(who: Principal, page: str, dataset: str) -> AppTest:
    """``page`` on ``dataset`` in a new session of ``who``, signed in with OpenID Connect."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.user = {"email": who.email, "name": who.email, "is_logged_in": True, "iat": 1764650000, "nonce": "n"}
    at.query_params["dataset"] = dataset
    at.run()
    at = open_page(page, at)
    no_exception(at)
    return at


def _exports(ws: Workspace, dataset_id: str, action: str = "export") -> list[tuple[str, str]]:
    trail = ws.audit_trail(ADMIN)
    trail = trail[(trail["action"] == action) & (trail["dataset_id"] == dataset_id)]
    return sorted(zip(trail["user"], trail["detail"], strict=True))


def _shared(ws: Workspace, role: str = "analyst") -> str:
    dataset_id = ws.save_dataset(OWNER, analysis.load_sample(), "sample").id
    ws.share(OWNER, dataset_id, COLLEAGUE.email, role)
    return dataset_id


def _csv_name(clicks: dict[str, Callable[[], Any]]) -> str:
    return next(name for name in clicks if name.endswith(".csv"))


def test_a_table_and_the_page_report_are_audited_under_who_clicked(team: Workspace, clicks: dict) -> None:
    dataset_id = _shared(team)
    _signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}")
    csv, html = _csv_name(clicks), "report_overview.html"
    table = clicks[csv]()
    assert len(pd.read_csv(io.BytesIO(table))) > 0
    report = clicks[html]().decode()
    assert "Infusion Outcomes: Overview" in report
    assert _exports(team, dataset_id) == sorted([(COLLEAGUE.email, csv), (COLLEAGUE.email, html)])
    clicks.clear()
    _signed_in(COLLEAGUE, "overview", "sample")  # not stored: exported, not audited
    assert len(clicks[_csv_name(clicks)]()) > 0 and "Infusion Outcomes: Overview" in clicks[html]().decode()
    assert len(team.audit_trail(ADMIN).query("action == 'export'")) == 2


def test_a_grant_revoked_after_the_page_was_drawn_exports_nothing_and_says_why(team: Workspace, clicks: dict) -> None:
    dataset_id = _shared(team)
    _signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}")
    csv, html = _csv_name(clicks), "report_overview.html"
    shown = clicks[csv]()
    team.unshare(OWNER, dataset_id, COLLEAGUE.email)
    before = _exports(team, dataset_id)
    refused = clicks[csv]().decode()
    assert refused != shown.decode() and "you can no longer open the stored dataset" in refused
    assert "owner stopped sharing it with you, or deleted it" in refused
    page = clicks[html]().decode()
    assert page.startswith("<!doctype html>") and "not built" in page
    assert "you can no longer open the stored dataset" in page and "Overview" in page
    assert "<table" not in page and "plotly" not in page.lower()  # none of the results
    assert _exports(team, dataset_id) == before  # nothing exported
    # the attempts are in the audit trail, as refused, with the reason
    assert _exports(team, dataset_id, "export-refused") == sorted(
        [(COLLEAGUE.email, f"{csv}: dataset not open to them"), (COLLEAGUE.email, f"{html}: dataset not open to them")])


def test_an_analyst_made_viewer_gets_no_export_of_an_analysts_page(team: Workspace, clicks: dict) -> None:
    dataset_id = _shared(team)
    _signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}")
    team.share(OWNER, dataset_id, COLLEAGUE.email, "viewer")
    page = html.unescape(clicks["report_overview.html"]().decode())
    assert "made with an analyst's access to a dataset you may now only view" in page
    assert _exports(team, dataset_id) == []
    assert _exports(team, dataset_id, "export-refused") == [
        (COLLEAGUE.email, "report_overview.html: analyst's view, now a viewer")]
    clicks.clear()
    _signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}")  # drawn for a viewer: theirs to export
    assert "Infusion Outcomes: Overview" in clicks["report_overview.html"]().decode()
    assert _exports(team, dataset_id) == [(COLLEAGUE.email, "report_overview.html")]


def test_with_the_database_away_at_the_click_nothing_is_exported(
        team: Workspace, clicks: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset_id = _shared(team)
    _signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}")

    def away(*args: object, **kwargs: object) -> None:
        raise WorkspaceUnavailable()

    monkeypatch.setattr(Workspace, "dataset_roles", away)
    page = clicks["report_overview.html"]().decode()
    assert "cannot be checked while the workspace database is away" in page
    assert "cannot be checked" in clicks[_csv_name(clicks)]().decode()
    monkeypatch.undo()
    assert _exports(team, dataset_id) == []


def test_a_figure_export_is_audited_and_checked_again(team: Workspace, clicks: dict) -> None:
    dataset_id = _shared(team)
    _signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}")
    svg = next(name for name in clicks if name.endswith(".svg"))
    assert clicks[svg]().startswith(b"<svg")
    assert _exports(team, dataset_id) == [(COLLEAGUE.email, svg)]
    team.unshare(OWNER, dataset_id, COLLEAGUE.email)
    refused = clicks[svg]().decode()
    assert refused.startswith("<svg") and "no longer open" in refused
    assert _exports(team, dataset_id) == [(COLLEAGUE.email, svg)]


def _toolbars(at: AppTest) -> list[dict[str, Any]]:
    """The plotly config of every chart the run drew."""
    return [chart.config for chart in charts(at)]


def test_the_browsers_camera_is_off_for_an_audited_dataset_only(team: Workspace) -> None:
    """The toolbar's camera makes a PNG in the browser, where the server cannot audit it: a stored
    dataset's images come from the audited PNG and SVG buttons; the sample keeps the camera."""
    dataset_id = _shared(team)
    stored = _toolbars(_signed_in(COLLEAGUE, "overview", f"ws-{dataset_id}"))
    assert stored and all("toImage" in config.get("modeBarButtonsToRemove", []) for config in stored)
    sample = _toolbars(_signed_in(COLLEAGUE, "overview", "sample"))
    assert sample and not any("toImage" in config.get("modeBarButtonsToRemove", []) for config in sample)
