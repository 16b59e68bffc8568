"""The workspace schema (SQLAlchemy 2 declarative models). Created and changed only through the
Alembic migrations in ``migrations/versions``; a change here needs a new migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 32
EMAIL_LENGTH = 320
OWNER_LENGTH = 400  # "user:" and an e-mail address, or "browser:" and a SHA-256 digest


class Base(DeclarativeBase):
    pass


class Dataset(Base):
    """A validated dataset: who owns it, what it is, how it was read. Times are UTC."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(EMAIL_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    mapping_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings_json: Mapped[str] = mapped_column(Text, default="[]")
    has_clock_time: Mapped[bool] = mapped_column(Boolean, default=True)
    n_patients: Mapped[int] = mapped_column(Integer, default=0)


class DatasetTable(Base):
    """One validated table of a dataset as Parquet bytes."""

    __tablename__ = "dataset_tables"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    table: Mapped[str] = mapped_column(String(32), primary_key=True)
    parquet: Mapped[bytes] = mapped_column(LargeBinary)


class Grant(Base):
    """Access to a dataset for a person (``kind='user'``, an e-mail) or a group, as ``analyst``
    or ``viewer``."""

    __tablename__ = "grants"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    grantee: Mapped[str] = mapped_column(String(EMAIL_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    granted_at: Mapped[datetime] = mapped_column(DateTime)


class SavedView(Base):
    """A named view of a dataset: the link's query parameters, kept server-side."""

    __tablename__ = "saved_views"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    state_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEvent(Base):
    """Who did what and when. Not linked to the dataset row: the record of a deletion outlives it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    dataset_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True, index=True)
    view_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


class ResultCache(Base):
    """A computed result of a dataset (pickled, HMAC-signed), shared by every process."""

    __tablename__ = "result_cache"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ReportCard(Base):
    """A result collected with "Add to report" (dashboard.report.Card as compressed JSON), kept for
    its owner: ``user:<e-mail>`` in team mode, ``browser:<digest>`` of a browser's secrets locally.
    ``dataset_id`` names the stored dataset it came from (deleted with it); ``used_at`` is the last
    time the owner's report was opened or changed (the retention clock). Times are UTC."""

    __tablename__ = "report_cards"

    owner: Mapped[str] = mapped_column(String(OWNER_LENGTH), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True, index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    annotation: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime] = mapped_column(DateTime, index=True)
