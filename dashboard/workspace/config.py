"""Where the workspace lives and who may do what: read from the environment and secrets.toml.

Local mode (the default): no sign-in, one user, SQLite in ``INFUSION_OUTCOMES_DB`` (a path or a
database URL), by default ``$XDG_DATA_HOME/infusion-outcomes/workspace.db``
(``~/.local/share/infusion-outcomes/workspace.db``).

Team mode: ``.streamlit/secrets.toml`` has an ``[auth]`` section (OpenID Connect, read by
``st.login``) and a ``[workspace]`` section::

    [workspace]
    database_url = "postgresql+psycopg://outcomes:...@db:5432/outcomes"   # or env INFUSION_OUTCOMES_DB
    admins = ["it-lead@hospital.org"]          # may read and export the audit trail
    retention_days = 365                       # datasets older than this are removed (0: keep)
    audit_retention_days = 730                 # audit entries older than this are removed (0: keep)
    report_retention_days = 30                 # report cards unused this long are removed (0: keep)
    report_store_mb = 512                      # report cards of all users together
    cache_secret = "..."                       # signs results shared by replicas (default: [auth] cookie_secret)
    [workspace.groups]                         # groups besides those in the identity token
    depression-unit = ["a@hospital.org", "b@hospital.org"]

The connection string is never taken from a link. In local mode the key that signs cached results
is kept beside the SQLite file (``workspace.db.cache-key``, mode 0600).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DB_ENV = "INFUSION_OUTCOMES_DB"
RETENTION_ENV = "INFUSION_OUTCOMES_RETENTION_DAYS"
AUDIT_RETENTION_ENV = "INFUSION_OUTCOMES_AUDIT_RETENTION_DAYS"
REPORT_RETENTION_ENV = "INFUSION_OUTCOMES_REPORT_RETENTION_DAYS"
REPORT_STORE_ENV = "INFUSION_OUTCOMES_REPORT_STORE_MB"
ADMINS_ENV = "INFUSION_OUTCOMES_ADMINS"
LOCAL_USER = "local"


def default_database_path() -> Path:
    """``$XDG_DATA_HOME/infusion-outcomes/workspace.db`` (XDG base directories; on a system
    without XDG_DATA_HOME, ``~/.local/share``)."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "infusion-outcomes" / "workspace.db"


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL from a path or a URL (empty: the default SQLite file). A ``postgresql://``
    or ``postgres://`` URL is read with psycopg 3."""
    text = (value or "").strip()
    if not text:
        path = default_database_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" not in text:
        path = Path(text).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix):]
    return text


def _non_negative(value: Any, default: int) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return default
    return max(0, days)


@dataclass(frozen=True)
class WorkspaceConfig:
    """The workspace settings of one server. ``team`` is True when sign-in is configured."""

    url: str
    team: bool = False
    admins: frozenset[str] = frozenset()
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    retention_days: int = 0  # datasets older than this are removed; 0 keeps them
    audit_retention_days: int = 0  # audit entries older than this are removed; 0 keeps them
    report_retention_days: int = 30  # report cards whose owner has not used them this long; 0 keeps them
    report_store_mb: int = 512  # report cards of all owners together (MB)

    @property
    def backend(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def database_file(self) -> Path | None:
        """The SQLite database file (None for a server database or an in-memory one)."""
        prefix = "sqlite:///"
        if not self.url.startswith(prefix) or self.url == prefix or ":memory:" in self.url:
            return None
        return Path(self.url[len(prefix):].split("?", 1)[0])

    def groups_of(self, email: str) -> frozenset[str]:
        """The configured groups an e-mail address belongs to (case-insensitive)."""
        who = email.strip().lower()
        return frozenset(name for name, members in self.groups.items() if who in members)


def load_config(secrets: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> WorkspaceConfig:
    """The configuration from secrets.toml (a mapping such as ``st.secrets``) and the environment
    (which wins for the database URL and retention periods)."""
    secrets = secrets or {}
    environ = os.environ if environ is None else environ
    section = dict(secrets.get("workspace", {}) or {})
    team = "auth" in secrets
    url = database_url(environ.get(DB_ENV) or section.get("database_url"))
    admins = {str(a).strip().lower() for a in section.get("admins", []) or [] if str(a).strip()}
    admins |= {a.strip().lower() for a in environ.get(ADMINS_ENV, "").split(",") if a.strip()}
    groups = {str(name): frozenset(str(m).strip().lower() for m in members)
              for name, members in dict(section.get("groups", {}) or {}).items()}
    return WorkspaceConfig(
        url=url, team=team, admins=frozenset(admins), groups=groups,
        retention_days=_non_negative(environ.get(RETENTION_ENV, section.get("retention_days")), 0),
        audit_retention_days=_non_negative(environ.get(AUDIT_RETENTION_ENV, section.get("audit_retention_days")), 0),
        report_retention_days=_non_negative(environ.get(REPORT_RETENTION_ENV, section.get("report_retention_days")), 30),
        report_store_mb=_non_negative(environ.get(REPORT_STORE_ENV, section.get("report_store_mb")), 512) or 512,
    )
