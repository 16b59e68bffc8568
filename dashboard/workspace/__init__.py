"""The workspace: stored datasets, sharing, saved views, audit trail (issue 11).

``store`` holds the rules and the database (no Streamlit); ``config`` reads where the database is
and who the administrators are; ``session`` connects them to a Streamlit session (who is signed in,
which dataset the link opens, the viewer restriction).
"""

from __future__ import annotations

from dashboard.workspace.config import WorkspaceConfig, default_database_path, load_config
from dashboard.workspace.store import (
    NOT_SHARED,
    ROLES,
    DatasetInfo,
    Grantee,
    NotFoundOrNotShared,
    Principal,
    SavedViewInfo,
    Workspace,
    WorkspaceError,
    WorkspaceUnavailable,
    screen_identifiers,
)

__all__ = [
    "NOT_SHARED",
    "ROLES",
    "DatasetInfo",
    "Grantee",
    "NotFoundOrNotShared",
    "Principal",
    "SavedViewInfo",
    "Workspace",
    "WorkspaceConfig",
    "WorkspaceError",
    "WorkspaceUnavailable",
    "default_database_path",
    "load_config",
    "screen_identifiers",
]
