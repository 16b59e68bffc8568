"""The workspace in a Streamlit session: who is signed in, the dataset a link opens, the viewer
restriction, saved-view links, exports in the audit trail.

Local mode (no ``[auth]`` in secrets.toml): one user, ``local``, who is also the administrator.
Team mode: ``st.login`` (OpenID Connect) before anything else is drawn; the user is their e-mail.
A stored dataset is named in links as ``dataset=ws-<opaque id>``; every run checks the user's
access again (a revoked grant or a deleted dataset closes the view at once). Its tables are then
held once per process in dashboard.compute's dataset store (within its byte budget), and its results
in the process's result store, keyed by dataset id and settings: only sessions that passed the check
in the same run read them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from analysis.contract import OutcomeData
from dashboard import security
from dashboard.security import md
from dashboard.workspace.config import LOCAL_USER, WorkspaceConfig, load_config
from dashboard.workspace.store import (
    DatasetInfo,
    NotFoundOrNotShared,
    Principal,
    Workspace,
    WorkspaceError,
    WorkspaceUnavailable,
)

logger = logging.getLogger("dashboard.workspace")

PREFIX = "ws-"
PAGES = Path(__file__).resolve().parents[1] / "app_pages"
RETENTION_INTERVAL_S = 3600.0

_LOCK = threading.Lock()
_workspace: Workspace | None = None
_config: WorkspaceConfig | None = None
_last_retention = 0.0


def _secrets() -> dict[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except Exception:  # no secrets.toml: local mode
        return {}


def config() -> WorkspaceConfig:
    """This server's workspace configuration (read once per process)."""
    global _config
    if _config is None:
        _config = load_config(_secrets())
    return _config


def _cache_secret(cfg: WorkspaceConfig) -> bytes | None:
    """The key that signs shared cached results: from secrets.toml (every replica needs the same),
    else a random key in a file beside the SQLite database (mode 0600, made by the first process
    that needs it). None (no shared result cache) for a server database without a configured key."""
    secrets = _secrets()
    for section, key in (("workspace", "cache_secret"), ("auth", "cookie_secret")):
        value = (secrets.get(section) or {}).get(key)
        if value:
            return str(value).encode()
    database = cfg.database_file
    if database is None:
        logger.warning("no [workspace] cache_secret in secrets.toml: results are not shared between processes")
        return None
    path = database.with_name(database.name + ".cache-key")
    with contextlib.suppress(FileExistsError):
        import secrets as random

        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(random.token_hex(32))
    for _ in range(50):  # another process may be writing it this very moment
        key = path.read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)
    raise RuntimeError(f"The result cache key {path} is empty; delete it and restart the server.")


def workspace() -> Workspace:
    """The process's workspace, created (and migrated) on first use. Raises WorkspaceUnavailable
    while the database cannot be reached; the next call tries again."""
    global _workspace
    if _workspace is not None:
        return _workspace
    with _LOCK:
        if _workspace is None:
            cfg = config()
            _workspace = Workspace(cfg.url, cache_secret=_cache_secret(cfg), retention_days=cfg.retention_days,
                                   audit_retention_days=cfg.audit_retention_days,
                                   report_retention_days=cfg.report_retention_days,
                                   report_store_bytes=cfg.report_store_mb << 20)
        return _workspace


def principal() -> Principal | None:
    """Who this session is: the local user, the signed-in user, or None (team mode, not signed in)."""
    cfg = config()
    if not cfg.team:
        return Principal(LOCAL_USER, "You", admin=True)
    try:
        user = st.user
        if not user.is_logged_in:
            return None
        email = str(user.get("email") or "").strip().lower()
    except Exception:
        return None
    if not email:
        return None
    claimed = user.get("groups") or ()
    groups = frozenset(str(g) for g in (claimed if isinstance(claimed, (list, tuple)) else [claimed]))
    return Principal(email, str(user.get("name") or email), groups=groups | cfg.groups_of(email),
                     admin=email in cfg.admins)


def unavailable_page(error: WorkspaceUnavailable) -> None:
    """The page shown while the database is away: what happened, what to do; then stop."""
    st.title("Infusion Outcomes")
    st.error(str(error), icon=":material/cloud_off:")
    st.button("Try again", icon=":material/refresh:", type="primary")
    st.stop()


def _retention() -> None:
    """Apply the retention periods at most once an hour per process, in a background thread: no
    run waits for the sweep, and a database that is away costs no run its connect timeout. Nothing
    to do (and no connection made) when both periods are 0."""
    global _last_retention
    cfg = config()
    if not (cfg.retention_days or cfg.audit_retention_days):
        return
    with _LOCK:
        now = time.monotonic()
        if _last_retention and now - _last_retention < RETENTION_INTERVAL_S:
            return
        _last_retention = now  # a failed sweep is tried again an hour later
    threading.Thread(target=_apply_retention, name="workspace-retention", daemon=True).start()


def _apply_retention() -> None:
    try:
        removed = workspace().apply_retention()
        if any(removed):
            logger.info("retention: %d dataset(s) and %d audit entries removed", *removed)
    except Exception as error:
        logger.warning("retention not applied (%s)", type(error).__name__)


def _sign_in_detail() -> str:
    """The sign-in as the audit trail names it: when the identity provider issued the token and a
    digest of the token's nonce. Every new browser tab of a signed-in user is a new session; the
    same words let the trail record each sign-in once, not each tab."""
    claims = {key: st.user.get(key) for key in ("iat", "nonce", "iss")}
    issued = claims["iat"]
    when = (datetime.fromtimestamp(int(issued), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if isinstance(issued, (int, float)) else "unknown time")
    digest = hashlib.sha256(repr(sorted(claims.items())).encode()).hexdigest()[:12]
    return f"openid connect, token issued {when} ({digest})"


def gate() -> Principal:
    """Call from app.py before the page: in team mode, the sign-in page until the user is signed
    in (the sign-in audited once per session); the database-unavailable page when it is away."""
    cfg = config()
    st.session_state.pop("_ws_access", None)  # access to a stored dataset is checked afresh in each run
    who = principal()
    if who is None:
        st.title("Infusion Outcomes")
        st.write("Sign in with your institution's account to open the datasets shared with you.")
        st.button("Sign in", on_click=st.login, type="primary", icon=":material/login:", key="sign_in")
        st.stop()
    assert who is not None
    if cfg.team:
        try:
            if st.session_state.get("_ws_signed_in") != who.email:
                workspace().record_once(who, "sign-in", detail=_sign_in_detail())
                st.session_state["_ws_signed_in"] = who.email
        except WorkspaceUnavailable as error:
            unavailable_page(error)
        with st.sidebar:
            st.caption(f"Signed in as {md(who.email, 320)}")
            st.button("Sign out", on_click=st.logout, icon=":material/logout:", key="sign_out")
    _retention()
    return who


def extra_pages(folder: str) -> list[Any]:
    """The Share page for everyone, the Admin page for administrators (st.Page objects)."""
    pages = [st.Page(folder + "share.py", title="Share", icon=":material/share:",
                     help="Your stored datasets, who may open them, and saved views with short links.")]
    who = principal()
    if who is not None and who.admin:
        pages.append(st.Page(folder + "admin.py", title="Admin", icon=":material/admin_panel_settings:",
                             help="The audit trail: sign-ins, uploads, opens, exports, shares, deletions."))
    return pages


# --------------------------------------------------------------------------------------------
# Datasets in the session


def is_workspace(dataset: str) -> bool:
    return dataset.startswith(PREFIX)


def valid_name(dataset: str) -> bool:
    """``ws-`` and 22 URL-safe characters (the form of every id the workspace makes)."""
    ident = dataset.removeprefix(PREFIX)
    return len(ident) == 22 and all(c.isalnum() or c in "-_" for c in ident)


def check_access(dataset: str) -> DatasetInfo:
    """Check (once per run: :func:`gate` forgets the previous run's answer) that this user may open
    the stored dataset a link names; the session's first open of it is audited. Raises
    NotFoundOrNotShared or WorkspaceUnavailable (messages in words)."""
    who = principal()
    if who is None:
        raise NotFoundOrNotShared()
    dataset_id = dataset.removeprefix(PREFIX)
    held = st.session_state.get("_ws_access")
    if held is not None and held.id == dataset_id:
        return held
    opened: set[str] = st.session_state.setdefault("_ws_opened", set())
    info = workspace().info(who, dataset_id, record_open=dataset_id not in opened)
    opened.add(dataset_id)
    st.session_state["_ws_access"] = info
    return info


def load_dataset(dataset: str) -> OutcomeData:
    """The stored dataset's tables (call after :func:`check_access` in the same run; the caller
    keeps it in the process's dataset store, whoever opens it next)."""
    who = principal()
    if who is None:
        raise NotFoundOrNotShared()
    return workspace().open_dataset(who, dataset.removeprefix(PREFIX), audit=False)[0]


def _access(dataset: str) -> DatasetInfo | None:
    held = st.session_state.get("_ws_access")
    if not is_workspace(dataset) or held is None or held.id != dataset.removeprefix(PREFIX):
        return None
    return held


def role(dataset: str) -> str | None:
    """This user's role on the stored dataset opened in this run (None for other datasets)."""
    info = _access(dataset)
    return None if info is None else info.role


def dataset_label(dataset: str) -> str | None:
    """What the sidebar calls the stored dataset opened in this run: its name, whose it is and its
    size (None for other datasets)."""
    info = _access(dataset)
    if info is None:
        return None
    whose = "yours" if info.role == "owner" else f"shared by {info.owner} ({info.role})"
    return f"{info.name} · {info.n_patients:,} patients · {whose}"


def row_level(dataset: str) -> bool:
    """False for a viewer: aggregates only (no individual lines, timelines or row-level CSV)."""
    return role(dataset) != "viewer"


def store_upload(data: OutcomeData, name: str) -> str | None:
    """Keep validated data in the workspace (identifier screen first); returns its link name, or
    None when it could not be stored (the reason shown as a toast)."""
    who = principal()
    if who is None:
        return None
    try:
        info = workspace().save_dataset(who, data, name)
    except (WorkspaceError, WorkspaceUnavailable) as error:
        st.toast(f"Kept for this session only: {error}", icon=":material/warning:")
        return None
    return PREFIX + info.id


def shared_result(dataset: str, key: Hashable, make: Callable[[], Any]) -> Callable[[], Any]:
    """``make`` backed by the database's result cache for a stored dataset (figures excluded:
    cheap to draw, large to keep). The caller has already opened the dataset, so its access was
    checked in this run."""
    if not is_workspace(dataset) or (isinstance(key, tuple) and str(key[0]).startswith("figure:")):
        return make
    dataset_id = dataset.removeprefix(PREFIX)

    def cached() -> Any:
        try:
            ws = workspace()
            hit = ws.cache_get(dataset_id, key)
        except WorkspaceUnavailable:
            return make()
        if hit is not None:
            return hit
        value = make()
        with contextlib.suppress(WorkspaceUnavailable):
            ws.cache_put(dataset_id, key, value)
        return value

    return cached


def report_owner() -> str | None:
    """Whose report cards a session holds (the key they are stored under): the signed-in user in
    team mode; locally this browser, by a digest of its secrets (dashboard.security.browser_secret),
    never the session id. None when the connection carries no secret: the cards then stay in the
    session."""
    if config().team:
        who = principal()
        return None if who is None else f"user:{who.email}"
    secret = security.browser_secret()
    if secret is None:
        return None
    return "browser:" + hashlib.sha256(b"report-cards|" + secret.encode()).hexdigest()


def stored_dataset_id(dataset: str) -> str | None:
    """The workspace id of a stored dataset's link name (None for the sample, simulated data and
    session uploads)."""
    return dataset.removeprefix(PREFIX) if is_workspace(dataset) else None


def audit_export(dataset: str, what: str, *, who: Principal | None, refused: str | None = None) -> None:
    """Record an export (CSV, image, report) of a stored dataset in the audit trail, under ``who``:
    who asked, captured when the button was drawn (the builder runs on click, outside the session,
    where :func:`principal` knows nobody in team mode). With ``refused`` (why, in a few words), an
    attempt that exported nothing: action "export-refused", detail "<what>: <why>"."""
    if not is_workspace(dataset):
        return
    action, detail = ("export", str(what)) if refused is None else ("export-refused", f"{what}: {refused}")
    try:
        if who is not None:
            workspace().record(who, action, dataset.removeprefix(PREFIX), detail=detail[:200])
    except Exception as error:
        logger.warning("export not audited (%s)", type(error).__name__)


# --------------------------------------------------------------------------------------------
# Saved views


def page_script(url_path: str) -> str | None:
    """The page file of a saved view's page (``""`` is the default page, Data)."""
    name = url_path.strip("/") or "data"
    if not name.replace("_", "").isalnum() or not (PAGES / f"{name}.py").exists():
        return None
    return f"dashboard/app_pages/{name}.py"


def apply_view_link() -> None:
    """A link ``?view=<id>``: replace the URL by the saved view's state and go to its page, or
    say in words that it is not there. Call before the sidebar on every run."""
    view_id = st.query_params.get("view")
    if not view_id:
        return
    who = principal()
    try:
        if who is None:
            raise NotFoundOrNotShared()
        view = workspace().view(who, str(view_id))
    except (NotFoundOrNotShared, WorkspaceUnavailable) as error:
        del st.query_params["view"]
        st.session_state["_ws_view_problem"] = str(error)
        return
    state = {k: v for k, v in view.state.items() if not k.startswith("_")}
    page_value = state.pop("page", None) or [""]
    page = page_script(page_value[0])
    st.session_state.pop("_link_checked", None)
    st.switch_page(page or "dashboard/app_pages/data.py", query_params=state)


def view_problem() -> str | None:
    return st.session_state.pop("_ws_view_problem", None)


def link_base() -> str:
    """The app's address as this browser reached it (scheme and host), for copyable links."""
    try:
        parts = urlsplit(str(st.context.url))
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}/"
    except Exception:
        pass
    return "/"


def current_state(url_path: str) -> dict[str, list[str]]:
    """The view as saved: the query parameters of this run and the page."""
    state = {key: st.query_params.get_all(key) for key in st.query_params}
    state.pop("view", None)
    state["page"] = [url_path]
    return state
