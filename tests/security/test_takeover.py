"""A client that presents another session's id gets none of that session's data.

The victim (cookie from /_stcore/health, XSRF token, Origin) uploads a file on the Data page
through the protocol, as a browser does, and sees its dataset. The attacker sends no cookie,
no Origin and no XSRF token, only the victim's session id in the websocket subprotocols (the
reconnect path). Streamlit resumes the session for it (both are "anonymous", so its identity
check passes); dashboard.security.bind_session_to_browser must empty the session before
anything is drawn. Without that check this test fails: the attacker's run shows the upload.
"""

from __future__ import annotations

import re
from pathlib import Path

import analysis
from tests.security.protocol import Client

ROOT = Path(__file__).resolve().parents[2]
MARKER = "ZZVICTIM"


def _victim_file(tmp_path: Path) -> tuple[str, bytes, str]:
    text = (ROOT / "data/sample/single_file.csv").read_text()
    # a patient id no one else has: if it reaches the attacker, the data did
    lines = text.splitlines()
    header = lines[0].split(",")
    column = header.index("patient_id")
    first_id = lines[1].split(",")[column]
    content = "\n".join(lines).replace(first_id + ",", MARKER + "01,").encode() + b"\n"
    path = tmp_path / "victim_visits.csv"
    path.write_bytes(content)
    return path.name, content, analysis.load(path).fingerprint


def test_a_stolen_session_id_shows_nothing_of_the_upload(server, tmp_path):
    name, content, fingerprint = _victim_file(tmp_path)
    query = f"dataset=upload-{fingerprint}"
    victim = Client(server.url)
    victim.open()
    first = victim.run(query)
    uploaders = first.elements("file_uploader")
    assert uploaders, "the Data page shows no file uploader for a link to an upload"
    shown = victim.upload(name, content, uploaders[0].id, query)
    # precondition: the victim's session holds and shows its upload
    assert shown.contains(fingerprint) and shown.contains("patients kept"), shown.texts()
    session_id = victim.session_id
    assert session_id

    attacker = Client(server.url, with_cookie=False, with_origin=False)
    attacker.open(resume_session_id=session_id)
    stolen = attacker.run(query)
    assert attacker.session_id == session_id, "Streamlit did not resume the session (test premise changed)"
    assert not stolen.contains(MARKER)
    assert not stolen.contains(name)
    assert not stolen.contains("patients kept")
    assert any("opened from another browser" in t for t in stolen.texts()), stolen.texts()
    # the Data page asks for the file again instead of showing it
    assert stolen.elements("file_uploader")
    attacker.close()
    victim.close()

    log = server.log()
    assert session_id not in log
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", log), \
        "a session id reached the server log"
