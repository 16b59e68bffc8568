"""The workspace: validated datasets, who may open them, saved views, the audit trail and a result
cache shared by every server process, in one SQL database (SQLite locally, PostgreSQL for a team).

No Streamlit here: :class:`Workspace` takes a :class:`Principal` (who is asking) on every call and
checks access itself, so the rules hold wherever it is used. Nothing of the uploaded file is
stored: only the validated tables (Parquet), after the identifier screen.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import pickle
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, delete, event, func, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from analysis.contract import DataWarning, OutcomeData
from analysis.identifiers import find_identifier_columns
from dashboard.workspace.models import (
    ID_LENGTH,
    OWNER_LENGTH,
    AuditEvent,
    Dataset,
    DatasetTable,
    Grant,
    ReportCard,
    ResultCache,
    SavedView,
)

logger = logging.getLogger("dashboard.workspace")

ROLES = ("viewer", "analyst")  # what a grant may give; the owner has every right
_RANK = {"viewer": 1, "analyst": 2, "owner": 3}
TABLES = ("assessments", "infusions", "patients", "events")
ACTIONS = ("sign-in", "upload", "open", "export", "export-refused", "share", "unshare", "save-view", "delete", "retention")
MAX_VIEW_STATE_BYTES = 16_384
MAX_CACHED_RESULT_BYTES = 32 << 20
MAX_STORED_REPORT_CARDS = 100  # per owner (the dashboard keeps at most 40)
REPORT_EXPIRY_INTERVAL_S = 3600.0  # expired report cards are deleted at most this often per process
REPORT_USE_RESOLUTION = timedelta(hours=1)  # a report's last use is written at most this often
NOT_SHARED = "Dataset not found or not shared with you."
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = threading.Lock()


class WorkspaceError(ValueError):
    """A request the workspace refuses (the message says why and what to do)."""


class NotFoundOrNotShared(LookupError):
    """The dataset or view does not exist, or the asker has no access: the same answer for both,
    so that an id reveals nothing."""

    def __init__(self) -> None:
        super().__init__(NOT_SHARED)


class WorkspaceUnavailable(RuntimeError):
    """The workspace database cannot be reached."""

    def __init__(self, backend: str = "database") -> None:
        super().__init__(f"The workspace {backend} database cannot be reached right now, so stored datasets "
                         "and saved views cannot be opened. Nothing stored is lost: reload this page in a "
                         "minute, or ask whoever runs this server to check the database.")


@dataclass(frozen=True)
class Principal:
    """Who is asking: an e-mail address (``local`` in local mode), group names, admin or not."""

    email: str
    name: str = ""
    groups: frozenset[str] = frozenset()
    admin: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", self.email.strip().lower())


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset as listed to someone who may open it (``role``: owner, analyst, viewer)."""

    id: str
    name: str
    owner: str
    created_at: datetime  # UTC
    fingerprint: str
    n_patients: int
    role: str


@dataclass(frozen=True)
class SavedViewInfo:
    id: str
    dataset_id: str
    name: str
    state: dict[str, list[str]]
    created_by: str
    created_at: datetime  # UTC


@dataclass(frozen=True)
class StoredReportCard:
    """One card of an owner's stored report: the caller's payload (opaque bytes) and annotation."""

    id: str
    payload: bytes
    annotation: str


@dataclass(frozen=True)
class ReportCardRow:
    """One card of a report to store: ``payload`` is called only for a card not stored yet (an
    annotation or a new order rewrites no payload). ``dataset_id``: the stored dataset the card
    came from (its cards are deleted with it), None for others."""

    id: str
    annotation: str
    payload: Callable[[], bytes]
    dataset_id: str | None = None


@dataclass(frozen=True)
class Grantee:
    kind: str  # "user" (an e-mail address) or "group"
    grantee: str
    role: str


def allows(role: str | None, minimum: str) -> bool:
    """Whether ``role`` (owner, analyst, viewer; None: no access) has the rights of ``minimum``."""
    return role is not None and _RANK[role] >= _RANK[minimum]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _new_id() -> str:
    """128 random bits, URL-safe (22 characters): a link cannot be guessed or enumerated."""
    return secrets.token_urlsafe(16)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow", compression="zstd")
    return buffer.getvalue()


def screen_identifiers(data: OutcomeData) -> None:
    """Refuse to store data that carries identifying content: a warning that identifiers were
    allowed through, or a column of any table whose content looks like e-mails, phone numbers,
    social security or record numbers. Raises WorkspaceError."""
    if any(w.code == "identifiers_allowed" for w in data.warnings):
        raise WorkspaceError("This dataset was read with identifiers allowed; only de-identified data can be "
                             "stored in the workspace. Remove the identifying columns and load it again.")
    for table in TABLES:
        frame: pd.DataFrame = getattr(data, table)
        findings = find_identifier_columns(frame, known_columns=frozenset(frame.columns),
                                           label_columns=frozenset(c for c in frame.columns if c != "patient_id"))
        if findings:
            where = "; ".join(f"{table}.{f.column}: {f.reason}" for f in findings)
            raise WorkspaceError(f"This dataset cannot be stored: {where}. Only de-identified data is kept; "
                                 "replace these values with pseudonymous ids and load it again.")


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (Alembic). Safe to call from several
    processes at once on PostgreSQL (an advisory lock serialises them)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's environment is module-global: one migration at a time in a process. Across
    # processes, PostgreSQL serialises them with an advisory lock; SQLite's file lock makes a
    # concurrent starter fail and retry, finding the schema made.
    for attempt in range(5):
        try:
            with _MIGRATION_LOCK, engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(1100110011)"))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except OperationalError:
            if engine.dialect.name != "sqlite" or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def make_engine(url: str) -> Engine:
    """An engine that fails fast when the server is away (3 s) and checks pooled connections
    before use, so a database that comes back is used again without a restart."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15},
                               pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": 3} if url.startswith("postgresql") else {}
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True, pool_size=5, max_overflow=5,
                         pool_recycle=1800)


class Workspace:
    """Datasets, access, saved views, audit trail and shared result cache in one database.

    Parameters
    ----------
    url : a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
    cache_secret : key that signs cached results (HMAC-SHA256); None disables the shared cache.
    retention_days, audit_retention_days : periods after which :meth:`apply_retention` removes
        datasets and audit entries (days; 0 keeps them).
    report_retention_days : report cards whose owner has not opened or changed their report for
        this long are neither returned nor kept (days; 0 keeps them).
    report_store_bytes : the stored report cards of all owners together (payload bytes); over it,
        the reports used longest ago are removed whole.
    """

    def __init__(self, url: str, *, cache_secret: bytes | None = None, retention_days: int = 0,
                 audit_retention_days: int = 0, report_retention_days: int = 30,
                 report_store_bytes: int = 512 << 20, run_migrations: bool = True):
        self.url = url
        self.engine = make_engine(url)
        self.backend = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._cache_secret = cache_secret
        self.retention_days = retention_days
        self.audit_retention_days = audit_retention_days
        self.report_retention_days = report_retention_days
        self.report_store_bytes = report_store_bytes
        self._reports_expired_at = 0.0
        if run_migrations:
            with self._guard():
                migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError) as error:
            if isinstance(error, OperationalError) or error.connection_invalidated:
                logger.warning("workspace database unreachable (%s)", type(error.orig).__name__)
                raise WorkspaceUnavailable(self.backend) from None
            raise

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        with self._guard(), self._sessions.begin() as session:
            yield session

    # ----------------------------------------------------------------------------------------
    # Access

    @staticmethod
    def _grants_to(who: Principal) -> Any:
        """The SQL condition: a grant to ``who`` or to one of their groups."""
        clauses = [(Grant.kind == "user") & (Grant.grantee == who.email)]
        if who.groups:
            clauses.append((Grant.kind == "group") & Grant.grantee.in_(sorted(who.groups)))
        return or_(*clauses)

    @classmethod
    def _roles_of(cls, session: Session, who: Principal, dataset_ids: Collection[str]) -> dict[str, str]:
        """``who``'s role on each of ``dataset_ids`` open to them: owner, else their highest grant
        (to them or to one of their groups); absent: deleted or not shared with them. Two queries,
        however many datasets. The one rule that opens a dataset."""
        ids = sorted({str(i)[:64] for i in dataset_ids})
        if not ids:
            return {}
        roles = {d: "owner" for d in session.scalars(select(Dataset.id).where(Dataset.id.in_(ids),
                                                                              Dataset.owner == who.email))}
        for dataset_id, role in session.execute(select(Grant.dataset_id, Grant.role).where(
                Grant.dataset_id.in_(ids), cls._grants_to(who))).tuples():
            if not allows(roles.get(dataset_id), role):
                roles[dataset_id] = role
        return roles

    def _dataset_for(self, session: Session, who: Principal, dataset_id: str, minimum: str = "viewer"
                     ) -> tuple[Dataset, str]:
        dataset = session.get(Dataset, str(dataset_id)[:64])
        role = None if dataset is None else self._roles_of(session, who, [dataset.id]).get(dataset.id)
        if dataset is None or role is None or not allows(role, minimum):
            raise NotFoundOrNotShared()
        return dataset, role

    def dataset_roles(self, who: Principal, dataset_ids: Collection[str]) -> dict[str, str]:
        """``who``'s role (owner, analyst, viewer) on each of ``dataset_ids`` that is open to them,
        by the rule that opens a dataset (absent: deleted or not shared with them)."""
        with self._session() as session:
            return self._roles_of(session, who, dataset_ids)

    # ----------------------------------------------------------------------------------------
    # Datasets

    def save_dataset(self, who: Principal, data: OutcomeData, name: str) -> DatasetInfo:
        """Store validated data owned by ``who`` after the identifier screen; audited as upload.
        The same data stored again by the same owner returns the existing dataset."""
        screen_identifiers(data)
        mapping = getattr(data, "mapping", None)
        mapping_json = mapping.to_json() if mapping is not None and hasattr(mapping, "to_json") else None
        tables = {table: _parquet(getattr(data, table)) for table in TABLES}
        with self._session() as session:
            existing = session.scalars(select(Dataset).where(Dataset.owner == who.email,
                                                             Dataset.fingerprint == data.fingerprint)).first()
            if existing is not None:
                return self._info(existing, "owner")
            dataset = Dataset(id=_new_id(), fingerprint=data.fingerprint, name=str(name)[:200] or "dataset",
                              owner=who.email, created_at=_now(), source=str(data.source)[:200],
                              mapping_json=mapping_json,
                              warnings_json=json.dumps([asdict(w) for w in data.warnings], default=str),
                              has_clock_time=bool(data.has_clock_time), n_patients=int(data.n_patients))
            session.add(dataset)
            session.flush()
            session.add_all(DatasetTable(dataset_id=dataset.id, table=t, parquet=b) for t, b in tables.items())
            self._audit(session, who, "upload", dataset.id, detail=f"{dataset.n_patients} patients")
            return self._info(dataset, "owner")

    @staticmethod
    def _info(dataset: Dataset, role: str) -> DatasetInfo:
        return DatasetInfo(dataset.id, dataset.name, dataset.owner, dataset.created_at, dataset.fingerprint,
                           dataset.n_patients, role)

    def open_dataset(self, who: Principal, dataset_id: str, *, audit: bool = True) -> tuple[OutcomeData, str]:
        """The validated data and ``who``'s role; audited as open. NotFoundOrNotShared otherwise."""
        with self._session() as session:
            dataset, role = self._dataset_for(session, who, dataset_id)
            blobs = dict(session.execute(select(DatasetTable.table, DatasetTable.parquet)
                                         .where(DatasetTable.dataset_id == dataset.id)).tuples().all())
            if audit:
                self._audit(session, who, "open", dataset.id, detail=role)
        frames = {t: pd.read_parquet(io.BytesIO(blobs[t]), engine="pyarrow") for t in TABLES}
        mapping = None
        if dataset.mapping_json:
            from analysis.mapping import Mapping as SourceMapping

            try:
                mapping = SourceMapping.from_json(dataset.mapping_json)
            except Exception as error:  # a mapping from an older version: the data still opens
                logger.warning("stored mapping not read (%s)", type(error).__name__)
        warnings = tuple(DataWarning(**{**w, "rows": tuple(w.get("rows", ())),
                                        "patient_ids": tuple(w.get("patient_ids", ()))})
                         for w in json.loads(dataset.warnings_json or "[]"))
        data = OutcomeData(assessments=frames["assessments"], infusions=frames["infusions"],
                           patients=frames["patients"], events=frames["events"], warnings=warnings,
                           source=dataset.source, mapping=mapping, has_clock_time=dataset.has_clock_time)
        return data, role

    def info(self, who: Principal, dataset_id: str, *, record_open: bool = False) -> DatasetInfo:
        """The dataset as ``who`` may see it (its ``role``: owner, analyst or viewer);
        NotFoundOrNotShared when it is not open to them. ``record_open`` audits an open in the same
        transaction (the app does so on a session's first view of the dataset, then holds the
        tables once per process)."""
        with self._session() as session:
            dataset, role = self._dataset_for(session, who, dataset_id)
            if record_open:
                self._audit(session, who, "open", dataset.id, detail=role)
            return self._info(dataset, role)

    def list_datasets(self, who: Principal) -> list[DatasetInfo]:
        """Datasets ``who`` owns or that are shared with them or their groups, newest first."""
        with self._session() as session:  # two queries, however many datasets
            granted: dict[str, str] = {}
            for dataset_id, role in session.execute(select(Grant.dataset_id, Grant.role)
                                                    .where(self._grants_to(who))).tuples():
                if _RANK[role] > _RANK.get(granted.get(dataset_id, ""), 0):
                    granted[dataset_id] = role
            rows = session.scalars(select(Dataset).where(or_(Dataset.owner == who.email, Dataset.id.in_(list(granted))))
                                   .order_by(Dataset.created_at.desc())).all()
            return [self._info(d, "owner" if d.owner == who.email else granted[d.id]) for d in rows]

    def delete_dataset(self, who: Principal, dataset_id: str) -> None:
        """The owner removes a dataset with everything derived from it (tables, grants, views,
        cached results); audited as delete."""
        with self._session() as session:
            dataset, _ = self._dataset_for(session, who, dataset_id, minimum="owner")
            self._purge(session, dataset.id)
            self._audit(session, who, "delete", dataset.id, detail="by the owner")

    @staticmethod
    def _purge(session: Session, dataset_id: str) -> None:
        for model in (ResultCache, SavedView, Grant, ReportCard, DatasetTable):
            session.execute(delete(model).where(model.dataset_id == dataset_id))
        session.execute(delete(Dataset).where(Dataset.id == dataset_id))

    def apply_retention(self, now: datetime | None = None) -> tuple[int, int]:
        """Remove datasets older than ``retention_days`` (with everything derived) and audit
        entries older than ``audit_retention_days``; each removal audited. Returns the counts."""
        now = now or _now()
        removed_datasets = removed_audit = 0
        system = Principal("retention")
        with self._session() as session:
            if self.retention_days > 0:
                cutoff = now - timedelta(days=self.retention_days)
                old = session.scalars(select(Dataset.id).where(Dataset.created_at < cutoff)).all()
                for dataset_id in old:
                    self._purge(session, dataset_id)
                    self._audit(session, system, "retention", dataset_id,
                                detail=f"older than {self.retention_days} days")
                removed_datasets = len(old)
            if self.audit_retention_days > 0:
                cutoff = now - timedelta(days=self.audit_retention_days)
                removed_audit = session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff)).rowcount or 0
                if removed_audit:
                    self._audit(session, system, "retention", None,
                                detail=f"{removed_audit} audit entries older than {self.audit_retention_days} days")
            self._expire_reports(session, now)
        return removed_datasets, removed_audit

    # ----------------------------------------------------------------------------------------
    # Report cards (dashboard.report): the owner is an opaque key the caller derives from who is
    # asking (a signed-in user, or a digest of a browser's secrets); nobody else's key reads them.

    def _report_cutoff(self, now: datetime) -> datetime | None:
        return now - timedelta(days=self.report_retention_days) if self.report_retention_days > 0 else None

    def _expire_reports(self, session: Session, now: datetime) -> int:
        cutoff = self._report_cutoff(now)
        self._reports_expired_at = time.monotonic()
        if cutoff is None:
            return 0
        return session.execute(delete(ReportCard).where(ReportCard.used_at < cutoff)).rowcount or 0

    @staticmethod
    def _owner_key(owner: str) -> str:
        if not owner or len(owner) > OWNER_LENGTH:
            raise WorkspaceError("A report's owner must be a non-empty key of at most "
                                 f"{OWNER_LENGTH} characters.")
        return owner

    def report_cards(self, owner: str, known: Collection[str] = (), now: datetime | None = None
                     ) -> list[StoredReportCard]:
        """``owner``'s stored report in order (none once it is older than report_retention_days),
        marked as used now (written at most hourly). The payload of a card in ``known`` (ids the
        caller holds already) is not read: it comes back empty."""
        owner, now = self._owner_key(owner), now or _now()
        cutoff = self._report_cutoff(now)
        with self._session() as session:
            query = select(ReportCard.id, ReportCard.annotation).where(ReportCard.owner == owner)
            if cutoff is not None:
                query = query.where(ReportCard.used_at >= cutoff)
            rows = session.execute(query.order_by(ReportCard.position)).tuples().all()
            wanted = [card_id for card_id, _ in rows if card_id not in known]
            payloads = dict(session.execute(select(ReportCard.id, ReportCard.payload).where(
                ReportCard.owner == owner, ReportCard.id.in_(wanted))).tuples().all()) if wanted else {}
            if rows:
                session.execute(update(ReportCard).where(ReportCard.owner == owner,
                                                         ReportCard.used_at < now - REPORT_USE_RESOLUTION)
                                .values(used_at=now))
            return [StoredReportCard(card_id, payloads.get(card_id, b""), annotation) for card_id, annotation in rows]

    def save_report_cards(self, owner: str, cards: Sequence[ReportCardRow], now: datetime | None = None) -> None:
        """Make ``owner``'s stored report exactly ``cards``, in this order (payloads of cards
        already stored are kept, not rebuilt). Then, over ``report_store_bytes`` for all owners,
        the reports of other owners used longest ago are removed whole. Raises WorkspaceError for
        more than MAX_STORED_REPORT_CARDS cards or a report that alone exceeds the store."""
        owner, now = self._owner_key(owner), now or _now()
        if len(cards) > MAX_STORED_REPORT_CARDS:
            raise WorkspaceError(f"A stored report holds at most {MAX_STORED_REPORT_CARDS} results.")
        if any(not c.id or len(c.id) > ID_LENGTH for c in cards) or len({c.id for c in cards}) < len(cards):
            raise WorkspaceError(f"Report cards need distinct ids of 1 to {ID_LENGTH} characters.")
        with self._session() as session:
            held = {r.id: r for r in session.scalars(select(ReportCard).where(ReportCard.owner == owner))}
            wanted = {c.id for c in cards}
            for card_id in set(held) - wanted:
                session.delete(held.pop(card_id))
            for position, card in enumerate(cards):
                row = held.get(card.id)
                if row is None:
                    session.add(ReportCard(owner=owner, id=card.id, position=position,
                                           dataset_id=card.dataset_id, payload=bytes(card.payload()),
                                           annotation=card.annotation, created_at=now, used_at=now))
                else:
                    row.position, row.annotation, row.used_at = position, card.annotation, now
            session.flush()
            totals = session.execute(select(ReportCard.owner, func.sum(func.length(ReportCard.payload)),
                                            func.max(ReportCard.used_at))
                                     .group_by(ReportCard.owner)).tuples().all()
            total = sum(int(size or 0) for _, size, _ in totals)
            own = next((int(size or 0) for who, size, _ in totals if who == owner), 0)
            if own > self.report_store_bytes:
                raise WorkspaceError(f"This report takes {own >> 20} MB; the server keeps at most "
                                     f"{self.report_store_bytes >> 20} MB of reports.")
            for who, size, _ in sorted(totals, key=lambda t: t[2]):
                if total <= self.report_store_bytes:
                    break
                if who != owner:
                    session.execute(delete(ReportCard).where(ReportCard.owner == who))
                    total -= int(size or 0)
            if time.monotonic() - self._reports_expired_at > REPORT_EXPIRY_INTERVAL_S:
                self._expire_reports(session, now)

    # ----------------------------------------------------------------------------------------
    # Sharing

    def share(self, who: Principal, dataset_id: str, grantee: str, role: str, kind: str = "user") -> None:
        """The owner gives a person (e-mail) or a group ``role`` (analyst or viewer); audited."""
        grantee = str(grantee).strip().lower()
        if role not in ROLES:
            raise WorkspaceError(f"The role must be one of {', '.join(ROLES)}.")
        if kind not in ("user", "group"):
            raise WorkspaceError("Share with a person (an e-mail address) or a group.")
        if not grantee or len(grantee) > 320 or (kind == "user" and "@" not in grantee and grantee != "local"):
            raise WorkspaceError("Give the colleague's e-mail address (as they sign in) or a group name.")
        with self._session() as session:
            dataset, _ = self._dataset_for(session, who, dataset_id, minimum="owner")
            if kind == "user" and grantee == dataset.owner:
                raise WorkspaceError("The owner already has every right on this dataset.")
            existing = session.get(Grant, (dataset.id, kind, grantee))
            if existing is None:
                session.add(Grant(dataset_id=dataset.id, kind=kind, grantee=grantee, role=role,
                                  granted_by=who.email, granted_at=_now()))
            else:
                existing.role = role
            self._audit(session, who, "share", dataset.id, detail=f"{kind} {grantee} as {role}")

    def unshare(self, who: Principal, dataset_id: str, grantee: str, kind: str = "user") -> None:
        grantee = str(grantee).strip().lower()
        with self._session() as session:
            dataset, _ = self._dataset_for(session, who, dataset_id, minimum="owner")
            session.execute(delete(Grant).where(Grant.dataset_id == dataset.id, Grant.kind == kind,
                                                Grant.grantee == grantee))
            self._audit(session, who, "unshare", dataset.id, detail=f"{kind} {grantee}")

    def grants(self, who: Principal, dataset_id: str) -> list[Grantee]:
        """Who else may open the dataset (the owner asks)."""
        with self._session() as session:
            dataset, _ = self._dataset_for(session, who, dataset_id, minimum="owner")
            rows = session.scalars(select(Grant).where(Grant.dataset_id == dataset.id)
                                   .order_by(Grant.kind, Grant.grantee)).all()
            return [Grantee(g.kind, g.grantee, g.role) for g in rows]

    # ----------------------------------------------------------------------------------------
    # Saved views

    def save_view(self, who: Principal, dataset_id: str, name: str, state: Mapping[str, Sequence[str]]) -> str:
        """Keep a view (the link's query parameters) under ``name``; returns its opaque id."""
        clean = {str(k)[:64]: [str(v) for v in (vals if isinstance(vals, (list, tuple)) else [vals])]
                 for k, vals in state.items() if str(k) not in ("view",)}
        state_json = json.dumps(clean, sort_keys=True)
        if len(state_json.encode()) > MAX_VIEW_STATE_BYTES:
            raise WorkspaceError("This view has too many settings to save; remove some filters and try again.")
        name = " ".join(str(name).split())[:200]
        if not name:
            raise WorkspaceError("Give the view a name.")
        with self._session() as session:
            dataset, _ = self._dataset_for(session, who, dataset_id)
            view = SavedView(id=_new_id(), dataset_id=dataset.id, name=name, state_json=state_json,
                             created_by=who.email, created_at=_now())
            session.add(view)
            self._audit(session, who, "save-view", dataset.id, view_id=view.id)
            return view.id

    def views(self, who: Principal, dataset_id: str) -> list[SavedViewInfo]:
        """Saved views of a dataset, newest first."""
        with self._session() as session:
            dataset, _ = self._dataset_for(session, who, dataset_id)
            rows = session.scalars(select(SavedView).where(SavedView.dataset_id == dataset.id)
                                   .order_by(SavedView.created_at.desc(), SavedView.name)).all()
            return [self._view_info(v) for v in rows]

    @staticmethod
    def _view_info(view: SavedView) -> SavedViewInfo:
        return SavedViewInfo(view.id, view.dataset_id, view.name, json.loads(view.state_json), view.created_by,
                             view.created_at)

    def view(self, who: Principal, view_id: str) -> SavedViewInfo:
        """One saved view; NotFoundOrNotShared unless its dataset is open to ``who``."""
        with self._session() as session:
            view = session.get(SavedView, str(view_id)[:64])
            if view is None:
                raise NotFoundOrNotShared()
            self._dataset_for(session, who, view.dataset_id)
            return self._view_info(view)

    # ----------------------------------------------------------------------------------------
    # Audit trail

    @staticmethod
    def _audit(session: Session, who: Principal, action: str, dataset_id: str | None, view_id: str | None = None,
               detail: str = "") -> None:
        session.add(AuditEvent(at=_now(), user=who.email, action=action, dataset_id=dataset_id,
                               view_id=view_id, detail=str(detail)[:500]))

    def record(self, who: Principal, action: str, dataset_id: str | None = None, view_id: str | None = None,
               detail: str = "") -> None:
        """Add an audit entry (sign-in, export, ...)."""
        if action not in ACTIONS:
            raise WorkspaceError(f"Unknown audit action {action!r}.")
        with self._session() as session:
            self._audit(session, who, action, dataset_id, view_id, detail)

    def record_once(self, who: Principal, action: str, detail: str) -> bool:
        """Add an audit entry unless ``who`` already has one with this action and detail (a
        sign-in seen again from another browser tab). Returns True when added."""
        if action not in ACTIONS:
            raise WorkspaceError(f"Unknown audit action {action!r}.")
        detail = str(detail)[:500]
        with self._session() as session:
            seen = session.scalars(select(AuditEvent.id).where(AuditEvent.user == who.email,
                                                              AuditEvent.action == action,
                                                              AuditEvent.detail == detail).limit(1)).first()
            if seen is None:
                self._audit(session, who, action, None, detail=detail)
            return seen is None

    def audit_trail(self, who: Principal, *, since: datetime | None = None, limit: int = 10_000) -> pd.DataFrame:
        """The audit trail, newest first (admins only): at (UTC), user, action, dataset_id, view_id,
        detail."""
        if not who.admin:
            raise WorkspaceError("Only an administrator of this server can read the audit trail.")
        with self._session() as session:
            query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
            if since is not None:
                query = query.where(AuditEvent.at >= since)
            rows = session.scalars(query).all()
        return pd.DataFrame([{"at_utc": r.at, "user": r.user, "action": r.action, "dataset_id": r.dataset_id,
                              "view_id": r.view_id, "detail": r.detail} for r in rows],
                            columns=["at_utc", "user", "action", "dataset_id", "view_id", "detail"])

    # ----------------------------------------------------------------------------------------
    # Shared result cache

    def _sign(self, payload: bytes) -> str:
        assert self._cache_secret is not None
        return hmac.new(self._cache_secret, payload, hashlib.sha256).hexdigest()

    @staticmethod
    def cache_key(key: Any) -> str:
        return hashlib.sha256(repr(key).encode()).hexdigest()

    def cache_get(self, dataset_id: str, key: Any) -> Any:
        """A cached result of the dataset (None when absent, unsigned or tampered with). The caller
        must already have checked access to the dataset."""
        if self._cache_secret is None:
            return None
        with self._session() as session:
            row = session.get(ResultCache, (dataset_id, self.cache_key(key)))
            if row is None:
                return None
            payload, signature = row.payload, row.signature
        if not hmac.compare_digest(signature, self._sign(payload)):
            logger.warning("a cached result failed its signature check and was ignored")
            return None
        return pickle.loads(payload)

    def cache_put(self, dataset_id: str, key: Any, value: Any) -> bool:
        """Keep a result for every process (skipped when over MAX_CACHED_RESULT_BYTES or not
        picklable). Returns True when stored."""
        if self._cache_secret is None:
            return False
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return False
        if len(payload) > MAX_CACHED_RESULT_BYTES:
            return False
        digest = self.cache_key(key)
        try:
            with self._session() as session:
                if session.get(Dataset, dataset_id) is None:
                    return False
                row = session.get(ResultCache, (dataset_id, digest))
                if row is None:
                    session.add(ResultCache(dataset_id=dataset_id, key=digest, payload=payload,
                                            signature=self._sign(payload), created_at=_now()))
                else:
                    row.payload, row.signature, row.created_at = payload, self._sign(payload), _now()
        except DBAPIError:  # another process stored the same result first
            return False
        return True
