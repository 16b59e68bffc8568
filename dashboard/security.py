"""Server-side protections that do not belong to one page.

- :func:`bind_session_to_browser`: a session's private data (uploads, their results) belongs to
  the browser that created it, identified by a per-browser secret, not by the session id. A
  client presenting another session's id gets that session emptied, never its data.
- :func:`install_log_redaction`: session ids (UUIDs) never reach the server log.
- :func:`start_retention_sweeper`: sessions whose tab closed are shut down as soon as
  ``server.disconnectedSessionTTL`` has passed (Streamlit itself only evicts them on its next
  session event), and exported files are deleted within two sweep intervals.
- :func:`md`: user-controlled text made inert before it goes into a markdown element.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from typing import Any

import streamlit as st

logger = logging.getLogger("dashboard")

# Set by the reverse proxy (deploy/nginx.conf): HttpOnly, Secure, SameSite=Strict, random.
BROWSER_COOKIE = "infusion_browser"
XSRF_COOKIE = "_streamlit_xsrf"
OWNER_KEY = "_owner"
SESSION_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
SWEEP_INTERVAL_S = float(os.environ.get("INFUSION_OUTCOMES_SWEEP_INTERVAL_S", "30"))
# Characters that open markdown constructs anywhere in a line: links and images ([ ]), HTML and
# autolinks (< >), emphasis and strike (* _ ~), code (`), LaTeX ($), e-mail autolinks (@),
# tables (|), entities (&) and the escape itself.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~$@|&])")
_LINE_START = re.compile(r"^(\s*\d*)([#>+=-]|(?<=\d)[.)])")  # headings, quotes, lists, setext rules
_AUTOLINK = re.compile(r"(?i)\b(www)\.|\b([a-z][a-z0-9+.-]{1,20}):(?=//)|\b(mailto|javascript|data):")


def md(text: Any, limit: int = 200) -> str:
    """``text`` (a URL value, file name, label, id or message from a user) as markdown that
    renders as exactly those characters: no link, image, autolink, emphasis, code, LaTeX, HTML,
    heading or list can come out of it. Line breaks become spaces; cut to ``limit`` characters.
    Only the characters that could open such a construct are backslash-escaped, so ordinary
    sentences keep their text (``95% CI (Wilson).``)."""
    plain = re.sub(r"[\r\n\t\x00-\x1f\x7f]+", " ", str(text))
    if len(plain) > limit:
        plain = plain[:limit] + "..."
    plain = _MARKDOWN_SPECIAL.sub(r"\\\1", plain)
    plain = _AUTOLINK.sub(lambda m: f"{m.group(1)}\\." if m.group(1) else f"{m.group(2) or m.group(3)}\\:", plain)
    return _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", plain)


# --------------------------------------------------------------------------------------------
# Owner binding


def _xsrf_token(cookie: str | None) -> bytes | None:
    """The stable token inside Streamlit's XSRF cookie (its mask changes on every page load)."""
    if not isinstance(cookie, str) or not cookie:
        return None
    try:
        from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string

        token, _ = decode_xsrf_token_string(cookie)
        return token
    except Exception:  # another Streamlit version: the cookie as a whole
        return cookie.encode()


def browser_secret() -> str | None:
    """A digest of this connection's per-browser secrets: the proxy's HttpOnly cookie when
    deployed behind deploy/nginx.conf, and the token of Streamlit's XSRF cookie (set on the
    first page load, sent with the websocket). None when the connection carries neither."""
    try:
        cookies = st.context.cookies
    except Exception:
        return None
    parts = []
    proxy = cookies.get(BROWSER_COOKIE)
    if isinstance(proxy, str) and proxy:  # AppTest hands a MagicMock: no browser, no secret
        parts.append(b"proxy:" + str(proxy).encode())
    xsrf = _xsrf_token(cookies.get(XSRF_COOKIE))
    if xsrf:
        parts.append(b"xsrf:" + xsrf)
    if not parts:
        return None
    return hashlib.sha256(b"|".join(parts)).hexdigest()


def _drop_session_files() -> None:
    """Files this session uploaded, held by Streamlit under the session id."""
    try:
        from streamlit.runtime import get_instance
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is not None:
            get_instance().uploaded_file_mgr.remove_session_files(ctx.session_id)
    except Exception as error:  # no runtime (AppTest): nothing held
        logger.debug("no uploaded files to drop (%s)", type(error).__name__)


def bind_session_to_browser() -> bool:
    """Call first on every run. The first run records the browser's secret; a later run from a
    connection with another secret (a client that presented this session's id) empties the
    session state and the session's uploaded files before anything is drawn. Returns True when
    it emptied the session."""
    current = browser_secret()
    state = st.session_state
    if OWNER_KEY not in state:
        state[OWNER_KEY] = current
        return False
    if state[OWNER_KEY] == current:
        return False
    for key in list(state.keys()):
        del state[key]
    _drop_session_files()
    state[OWNER_KEY] = current
    logger.warning("a session was resumed from another browser: its data was cleared")
    return True


# --------------------------------------------------------------------------------------------
# Logs


_REDACTION_LOCK = threading.Lock()
_redaction_installed = False


def install_log_redaction() -> None:
    """Replace anything shaped like a session id in every log record by ``<session>`` (Streamlit
    logs session ids on reconnects). Idempotent; applies to loggers created later too."""
    global _redaction_installed
    with _REDACTION_LOCK:
        if _redaction_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:
                return record
            if SESSION_ID.search(message):
                record.msg = SESSION_ID.sub("<session>", message)
                record.args = None
            return record

        logging.setLogRecordFactory(factory)
        _redaction_installed = True


def install_app_logger(level: int = logging.INFO) -> None:
    """Send the app's own log records (logger ``dashboard``: slow computations, error ids,
    retention sweeps) to stderr beside Streamlit's, in its format. Without a handler Python
    drops records below WARNING. Idempotent."""
    if any(getattr(h, "_infusion_outcomes", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._infusion_outcomes = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


# --------------------------------------------------------------------------------------------
# Retention


_SWEEPER_LOCK = threading.Lock()
_sweeper: threading.Thread | None = None


def sweep_once() -> int:
    """Shut down stored sessions whose disconnectedSessionTTL has passed and delete orphaned
    media (exports: marked on one sweep, deleted on the next). Returns the sessions shut down.
    Runs on Streamlit's event loop thread, where the session manager expects to be used."""
    from streamlit import runtime

    if not runtime.exists():
        return 0
    rt = runtime.get_instance()
    manager = rt._session_mgr
    storage = getattr(manager, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    expired: list[Any] = []
    if cache is not None and hasattr(cache, "expire"):
        lock = getattr(manager, "_storage_lock", None) or threading.Lock()
        with lock:
            expired = [info for _, info in cache.expire()]
    for info in expired:
        info.session.shutdown()
    rt.media_file_mgr.remove_orphaned_files()
    return len(expired)


def _sweep_forever() -> None:
    from streamlit import runtime

    while True:
        time.sleep(SWEEP_INTERVAL_S)
        try:
            if not runtime.exists():
                continue
            loop = runtime.get_instance()._get_async_objs().eventloop
            if loop.is_closed():
                return
            loop.call_soon_threadsafe(_sweep_logged)
        except Exception as error:
            logger.warning("retention sweep not scheduled (%s)", type(error).__name__)


def _sweep_logged() -> None:
    try:
        closed = sweep_once()
        if closed:
            logger.info("retention: %d expired session(s) shut down", closed)
    except Exception as error:
        logger.warning("retention sweep failed (%s)", type(error).__name__)


def start_retention_sweeper() -> None:
    """Start the sweeper thread once per server process (idempotent)."""
    global _sweeper
    with _SWEEPER_LOCK:
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(target=_sweep_forever, name="retention-sweeper", daemon=True)
            _sweeper.start()
