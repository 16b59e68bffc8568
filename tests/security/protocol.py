"""A minimal Streamlit protocol client (what a browser does, without the browser).

A browser first GETs ``/_stcore/health`` (which sets the ``_streamlit_xsrf`` cookie), then opens
the websocket ``/_stcore/stream`` with the subprotocols ``streamlit, <xsrf token>, <session id
to resume>``, sends ``BackMsg.rerun_script`` and reads ``ForwardMsg``s until ``script_finished``.
Uploads: ``BackMsg.file_urls_request`` -> ``ForwardMsg.file_urls_response``, a multipart PUT to
the upload URL with the ``X-Xsrftoken`` header, then a rerun whose widget state lists the file.
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

XSRF_COOKIE = "_streamlit_xsrf"


@dataclass
class Run:
    """What one script run sent: the messages and their serialized bytes (for searching)."""

    messages: list[ForwardMsg] = field(default_factory=list)

    @property
    def raw(self) -> bytes:
        return b"".join(m.SerializeToString() for m in self.messages)

    def contains(self, text: str) -> bool:
        return text.encode() in self.raw

    def elements(self, kind: str) -> list[object]:
        found = []
        for message in self.messages:
            if message.WhichOneof("type") == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                if element.WhichOneof("type") == kind:
                    found.append(getattr(element, kind))
        return found

    def texts(self) -> list[str]:
        """Markdown, alert and caption bodies, in order."""
        out = []
        for kind in ("markdown", "alert"):
            out += [e.body for e in self.elements(kind)]
        return out


@functools.cache
def _unverified_tls() -> ssl.SSLContext:
    """One TLS context for a proxy's self-signed test certificate, shared by every client: made
    without loading the system's CA bundle (0.2 s of CPU each time, which a load test would
    otherwise spend twice per session)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _UnverifiedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["ssl_context"] = _unverified_tls()
        super().init_poolmanager(*args, **kwargs)


class Client:
    """One browser (its own cookie jar) talking to one server."""

    def __init__(self, base_url: str, *, with_cookie: bool = True, with_origin: bool = True,
                 verify_tls: bool = True):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.verify = verify_tls  # False: a proxy's self-signed test certificate (https:// only)
        if not verify_tls:
            self.http.trust_env = False  # else REQUESTS_CA_BUNDLE in the environment turns verifying back on
            self.http.mount("https://", _UnverifiedAdapter())
        self.verify_tls = verify_tls
        self.with_cookie = with_cookie
        self.with_origin = with_origin
        self.session_id: str | None = None
        self.socket = None
        if with_cookie:
            self.http.get(f"{self.base_url}/_stcore/health", timeout=10).raise_for_status()

    @property
    def xsrf(self) -> str | None:
        return self.http.cookies.get(XSRF_COOKIE) if self.with_cookie else None

    def open(self, resume_session_id: str | None = None) -> None:
        """Open the websocket, presenting ``resume_session_id`` as a browser does on reconnect."""
        headers = {}
        if self.with_cookie:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        protocols = ["streamlit", self.xsrf or "none"]
        if resume_session_id:
            protocols.append(resume_session_id)
        url = self.base_url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
        tls = _unverified_tls() if url.startswith("wss://") and not self.verify_tls else None
        self.socket = connect(url, subprotocols=protocols, additional_headers=headers,
                              origin=self.base_url if self.with_origin else None, open_timeout=10,
                              max_size=2**28, ssl=tls)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def _send(self, message: BackMsg) -> None:
        assert self.socket is not None
        self.socket.send(message.SerializeToString())

    def _receive(self, timeout_s: float) -> ForwardMsg:
        assert self.socket is not None
        message = ForwardMsg()
        message.ParseFromString(self.socket.recv(timeout=timeout_s))
        return message

    def run(self, query_string: str = "", widget_states: list | None = None, page_name: str = "",
            timeout_s: float = 120) -> Run:
        """Rerun the script with this URL query (and widget states); messages until it finishes."""
        message = BackMsg()
        state = message.rerun_script
        state.query_string = query_string
        state.page_name = page_name
        for widget in widget_states or []:
            state.widget_states.widgets.append(widget)
        self._send(message)
        run = Run()
        deadline = time.monotonic() + timeout_s
        started = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the script run did not finish within {timeout_s:.0f} s")
            forward = self._receive(remaining)
            kind = forward.WhichOneof("type")
            run.messages.append(forward)
            if kind == "new_session":
                started = True
                self.session_id = forward.new_session.initialize.session_id
            if kind == "script_finished" and started:
                # 0 = finished successfully; a rerun requested by the script starts another run
                if forward.script_finished == forward.FINISHED_EARLY_FOR_RERUN:
                    started = False
                    continue
                return run

    def upload(self, name: str, content: bytes, uploader_id: str, query_string: str,
               timeout_s: float = 120) -> Run:
        """Upload one file into ``uploader_id`` and rerun with it selected."""
        from streamlit.proto.Common_pb2 import UploadedFileInfo
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        request = BackMsg()
        request.file_urls_request.request_id = "upload-1"
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id or ""
        self._send(request)
        deadline = time.monotonic() + 30
        while True:
            forward = self._receive(max(0.1, deadline - time.monotonic()))
            if forward.WhichOneof("type") == "file_urls_response":
                urls = forward.file_urls_response.file_urls[0]
                break
        response = self.http.put(f"{self.base_url}{urls.upload_url}", files={"file": (name, content)},
                                 headers={"X-Xsrftoken": self.xsrf or ""}, timeout=60)
        response.raise_for_status()
        widget = WidgetState(id=uploader_id)
        widget.file_uploader_state_value.uploaded_file_info.append(
            UploadedFileInfo(name=name, size=len(content), file_id=urls.file_id, file_urls=urls))
        return self.run(query_string, widget_states=[widget], timeout_s=timeout_s)
