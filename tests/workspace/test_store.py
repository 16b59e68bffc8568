"""The workspace rules, the same tests on SQLite and on a real PostgreSQL server (conftest.py)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import func, inspect, select, text, update

import analysis
from dashboard.workspace import (
    NOT_SHARED,
    NotFoundOrNotShared,
    Principal,
    Workspace,
    WorkspaceError,
    WorkspaceUnavailable,
)
from dashboard.workspace.models import AuditEvent, Dataset, DatasetTable, Grant, ResultCache, SavedView

ROOT = Path(__file__).resolve().parents[2]
OWNER = Principal("Owner@Clinic.org")
COLLEAGUE = Principal("colleague@clinic.org")
STRANGER = Principal("stranger@elsewhere.org")
ADMIN = Principal("it@clinic.org", admin=True)


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


@pytest.fixture(scope="module")
def mapped() -> analysis.OutcomeData:
    """Data read from a file through a mapping, with validation warnings."""
    data = analysis.load(ROOT / "tests/data/good/single_excel_semicolon.csv")
    assert data.mapping is not None and data.warnings
    return data


@pytest.fixture
def ws(workspace_url: str) -> Workspace:
    workspace = Workspace(workspace_url, cache_secret=b"test-secret")
    yield workspace
    workspace.close()


def _count(ws: Workspace, model: type) -> int:
    with ws.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def test_migrations_create_the_schema_once(ws: Workspace, workspace_url: str) -> None:
    tables = set(inspect(ws.engine).get_table_names())
    assert {"datasets", "dataset_tables", "grants", "saved_views", "audit_events", "result_cache",
            "alembic_version", "report_cards"} <= tables
    with ws.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
    again = Workspace(workspace_url)  # a second process starting: nothing to do, nothing lost
    again.close()
    with ws.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_dataset_round_trip_without_the_file(ws: Workspace, mapped: analysis.OutcomeData) -> None:
    info = ws.save_dataset(OWNER, mapped, "clinic export.csv")
    assert info.owner == "owner@clinic.org" and info.role == "owner" and info.n_patients == mapped.n_patients
    assert info.fingerprint == mapped.fingerprint and len(info.id) == 22
    reopened, role = ws.open_dataset(OWNER, info.id)
    assert role == "owner"
    assert reopened.fingerprint == mapped.fingerprint
    for table in ("assessments", "infusions", "patients", "events"):
        assert_frame_equal(getattr(reopened, table), getattr(mapped, table).reset_index(drop=True))
    assert reopened.warnings == mapped.warnings
    assert reopened.mapping == mapped.mapping
    assert reopened.has_clock_time == mapped.has_clock_time
    # the same data stored twice by its owner is one dataset
    assert ws.save_dataset(OWNER, mapped, "again").id == info.id
    assert _count(ws, Dataset) == 1


def test_ids_are_random_and_unguessable(ws: Workspace, sample: analysis.OutcomeData,
                                        mapped: analysis.OutcomeData) -> None:
    first = ws.save_dataset(OWNER, sample, "a").id
    second = ws.save_dataset(COLLEAGUE, sample, "a").id  # same data, another owner: another dataset
    third = ws.save_dataset(OWNER, mapped, "b").id
    assert len({first, second, third}) == 3
    assert sample.fingerprint not in (first, second)


def test_access_roles_and_no_existence_leak(ws: Workspace, sample: analysis.OutcomeData) -> None:
    dataset_id = ws.save_dataset(OWNER, sample, "sample").id
    with pytest.raises(NotFoundOrNotShared) as not_shared:
        ws.open_dataset(STRANGER, dataset_id)
    with pytest.raises(NotFoundOrNotShared) as missing:
        ws.open_dataset(STRANGER, "A" * 22)
    assert str(not_shared.value) == str(missing.value) == NOT_SHARED

    ws.share(OWNER, dataset_id, "Colleague@Clinic.org", "viewer")
    assert ws.info(COLLEAGUE, dataset_id).role == "viewer"
    ws.share(OWNER, dataset_id, "depression-unit", "analyst", kind="group")
    in_group = Principal("colleague@clinic.org", groups=frozenset({"depression-unit"}))
    assert ws.info(in_group, dataset_id).role == "analyst"  # the best of the person's grants
    assert [(d.id, d.role) for d in ws.list_datasets(COLLEAGUE)] == [(dataset_id, "viewer")]
    assert [(d.id, d.role) for d in ws.list_datasets(in_group)] == [(dataset_id, "analyst")]
    assert [(d.id, d.role) for d in ws.list_datasets(OWNER)] == [(dataset_id, "owner")]
    assert ws.list_datasets(STRANGER) == []
    # only the owner shares, deletes or lists grants
    for action in (lambda: ws.share(COLLEAGUE, dataset_id, "x@y.org", "analyst"),
                   lambda: ws.delete_dataset(COLLEAGUE, dataset_id),
                   lambda: ws.grants(in_group, dataset_id)):
        with pytest.raises(NotFoundOrNotShared):
            action()
    with pytest.raises(WorkspaceError, match="role"):
        ws.share(OWNER, dataset_id, "x@y.org", "owner")
    with pytest.raises(WorkspaceError, match="e-mail"):
        ws.share(OWNER, dataset_id, "not an address", "viewer")
    assert {(g.kind, g.grantee, g.role) for g in ws.grants(OWNER, dataset_id)} == {
        ("user", "colleague@clinic.org", "viewer"), ("group", "depression-unit", "analyst")}
    ws.unshare(OWNER, dataset_id, "colleague@clinic.org")
    with pytest.raises(NotFoundOrNotShared):
        ws.info(COLLEAGUE, dataset_id)


def test_saved_views(ws: Workspace, sample: analysis.OutcomeData) -> None:
    dataset_id = ws.save_dataset(OWNER, sample, "sample").id
    state = {"dataset": [f"ws-{dataset_id}"], "diagnosis": ["MDD", "bipolar"], "response": "40", "view": "x"}
    view_id = ws.save_view(OWNER, dataset_id, "  MDD and   bipolar ", state)
    view = ws.view(OWNER, view_id)
    assert view.name == "MDD and bipolar" and view.dataset_id == dataset_id
    assert view.state == {"dataset": [f"ws-{dataset_id}"], "diagnosis": ["MDD", "bipolar"], "response": ["40"]}
    assert [v.id for v in ws.views(OWNER, dataset_id)] == [view_id]
    with pytest.raises(NotFoundOrNotShared):
        ws.view(STRANGER, view_id)
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "viewer")
    assert ws.view(COLLEAGUE, view_id).state == view.state
    with pytest.raises(WorkspaceError, match="too many"):
        ws.save_view(OWNER, dataset_id, "huge", {"diagnosis": ["x" * 100] * 200})
    with pytest.raises(WorkspaceError, match="name"):
        ws.save_view(OWNER, dataset_id, "   ", {})


def test_delete_removes_everything_derived_and_is_audited(ws: Workspace, sample: analysis.OutcomeData) -> None:
    keep = ws.save_dataset(COLLEAGUE, sample, "kept").id
    dataset_id = ws.save_dataset(OWNER, sample, "sample").id
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "analyst")
    view_id = ws.save_view(COLLEAGUE, dataset_id, "v", {"group": ["sex"]})
    assert ws.cache_put(dataset_id, ("km", 1), pd.DataFrame({"x": [1.0]}))
    ws.delete_dataset(OWNER, dataset_id)
    for model in (DatasetTable, Grant, SavedView, ResultCache):
        with ws.engine.connect() as connection:
            left = connection.execute(select(func.count()).select_from(model)
                                      .where(model.dataset_id == dataset_id)).scalar_one()
        assert left == 0, model.__tablename__
    with pytest.raises(NotFoundOrNotShared):
        ws.view(COLLEAGUE, view_id)
    with pytest.raises(NotFoundOrNotShared):
        ws.open_dataset(OWNER, dataset_id)
    assert ws.open_dataset(COLLEAGUE, keep)[1] == "owner"
    trail = ws.audit_trail(ADMIN)
    deleted = trail[(trail["action"] == "delete") & (trail["dataset_id"] == dataset_id)]
    assert deleted["user"].tolist() == ["owner@clinic.org"]


def test_retention_removes_old_datasets_and_audit_entries(workspace_url: str, sample: analysis.OutcomeData) -> None:
    ws = Workspace(workspace_url, cache_secret=b"k", retention_days=30, audit_retention_days=90)
    old = ws.save_dataset(OWNER, sample, "old").id
    new = ws.save_dataset(COLLEAGUE, sample, "new").id
    ws.save_view(OWNER, old, "v", {})
    now = datetime.now().replace(microsecond=0)
    with ws.engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.id == old).values(created_at=now - timedelta(days=31)))
        connection.execute(update(AuditEvent).where(AuditEvent.dataset_id == new)
                           .values(at=now - timedelta(days=91)))
    assert ws.apply_retention() == (1, 1)
    assert [d.id for d in ws.list_datasets(COLLEAGUE)] == [new]
    with pytest.raises(NotFoundOrNotShared):
        ws.open_dataset(OWNER, old)
    assert _count(ws, SavedView) == 0
    trail = ws.audit_trail(ADMIN)
    assert set(trail.loc[trail["action"] == "retention", "user"]) == {"retention"}
    assert (trail["dataset_id"] == old).any() and not (trail["dataset_id"] == new).any()
    assert ws.apply_retention() == (0, 0)
    ws.close()


def test_audit_trail_records_who_did_what(ws: Workspace, sample: analysis.OutcomeData) -> None:
    ws.record(OWNER, "sign-in")
    dataset_id = ws.save_dataset(OWNER, sample, "sample").id
    ws.share(OWNER, dataset_id, COLLEAGUE.email, "viewer")
    ws.open_dataset(COLLEAGUE, dataset_id)
    view_id = ws.save_view(COLLEAGUE, dataset_id, "v", {})
    ws.record(COLLEAGUE, "export", dataset_id, view_id, detail="overview.csv")
    with pytest.raises(WorkspaceError, match="administrator"):
        ws.audit_trail(OWNER)
    with pytest.raises(WorkspaceError, match="Unknown"):
        ws.record(OWNER, "anything")
    trail = ws.audit_trail(ADMIN)
    assert list(trail.columns) == ["at_utc", "user", "action", "dataset_id", "view_id", "detail"]
    seen = list(zip(trail["user"], trail["action"], strict=True))[::-1]  # oldest first
    assert seen == [("owner@clinic.org", "sign-in"), ("owner@clinic.org", "upload"), ("owner@clinic.org", "share"),
                    ("colleague@clinic.org", "open"), ("colleague@clinic.org", "save-view"),
                    ("colleague@clinic.org", "export")]
    assert trail.loc[trail["action"] == "export", "view_id"].item() == view_id
    assert trail.loc[trail["action"] == "share", "detail"].item() == "user colleague@clinic.org as viewer"


def test_result_cache_is_signed_and_per_dataset(ws: Workspace, workspace_url: str,
                                                sample: analysis.OutcomeData) -> None:
    dataset_id = ws.save_dataset(OWNER, sample, "sample").id
    value = {"curve": pd.DataFrame({"time_days": [0.0, 7.0], "survival": [1.0, 0.8]}), "n": 240}
    key = ("durability", "filters", ("MADRS", 0.5))
    assert ws.cache_get(dataset_id, key) is None
    assert ws.cache_put(dataset_id, key, value)
    other_process = Workspace(workspace_url, cache_secret=b"test-secret")
    hit = other_process.cache_get(dataset_id, key)
    assert_frame_equal(hit["curve"], value["curve"])
    assert other_process.cache_get("another-dataset", key) is None
    # a row changed behind the server's back is ignored, not unpickled
    with ws.engine.begin() as connection:
        connection.execute(update(ResultCache).values(payload=b"\x80\x05junk"))
    assert ws.cache_get(dataset_id, key) is None
    # another key (another server's secret) does not accept this server's results
    assert Workspace(workspace_url, cache_secret=b"other").cache_get(dataset_id, key) is None
    assert not Workspace(workspace_url).cache_put(dataset_id, key, value)  # no secret: no shared cache
    other_process.close()


def test_identifier_screen_runs_before_anything_is_stored(ws: Workspace, sample: analysis.OutcomeData) -> None:
    patients = sample.patients.copy()
    patients["diagnosis"] = patients["diagnosis"].astype("string")
    patients.loc[patients.index[:20], "diagnosis"] = [f"jane.doe{i}@example.org" for i in range(20)]
    leaky = analysis.OutcomeData(assessments=sample.assessments, infusions=sample.infusions, patients=patients,
                                 events=sample.events)
    with pytest.raises(WorkspaceError, match="e-mail"):
        ws.save_dataset(OWNER, leaky, "leaky")
    assert _count(ws, Dataset) == 0 and _count(ws, AuditEvent) == 0


def test_two_processes_share_one_database(workspace_url: str, sample: analysis.OutcomeData) -> None:
    """Replicas behind the proxy: any process opens what another stored; concurrent starts
    migrate once."""
    errors: list[BaseException] = []
    started: list[Workspace] = []

    def start() -> None:
        try:
            started.append(Workspace(workspace_url, cache_secret=b"k"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(started) == 3
    dataset_id = started[0].save_dataset(OWNER, sample, "sample").id
    started[0].share(OWNER, dataset_id, COLLEAGUE.email, "viewer")
    data, role = started[2].open_dataset(COLLEAGUE, dataset_id)
    assert role == "viewer" and data.fingerprint == sample.fingerprint
    for workspace in started:
        workspace.close()


def test_database_away_and_back(postgres: object, sample: analysis.OutcomeData) -> None:
    """PostgreSQL stopped mid-session: a WorkspaceUnavailable in words within seconds; when it
    returns, the same Workspace object works again with nothing lost."""
    url = postgres.create_database("ws_away_and_back")
    ws = Workspace(url, cache_secret=b"k")
    dataset_id = ws.save_dataset(OWNER, sample, "sample").id
    view_id = ws.save_view(OWNER, dataset_id, "v", {"group": ["sex"]})
    postgres.stop("immediate")  # as if the server were killed
    try:
        with pytest.raises(WorkspaceUnavailable, match="cannot be reached"):
            ws.open_dataset(OWNER, dataset_id)
        with pytest.raises(WorkspaceUnavailable):
            Workspace(url)  # unreachable at start
    finally:
        postgres.start()
    assert ws.open_dataset(OWNER, dataset_id)[0].fingerprint == sample.fingerprint
    assert ws.view(OWNER, view_id).state == {"group": ["sex"]}
    ws.close()
