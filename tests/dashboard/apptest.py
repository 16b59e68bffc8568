"""The AppTest helpers of the dashboard tests (shared, not a test module): open a page with
settings in the URL, check that a run showed no exception or error box, read back the plotted
data of its charts, the sidebar's patient count and a problems table, and upload a file.

Import as ``from tests.dashboard.apptest import open_page, plotted`` (pytest runs with
``--import-mode=importlib`` and ``pythonpath = ["."]``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from dashboard import chart

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 300  # the machine is shared: a first run imports statsmodels and fits on the sample
PAGES = ["data", "overview", "trajectories", "onset", "durability", "compare", "series", "symptoms", "timeline",
         "report"]
KEPT = re.compile(r"([\d,]+) of ([\d,]+) patients kept")


def new_server_process() -> None:
    """As a new server process: no background job running, no workspace connection or
    configuration, no dataset or result held in memory. A job left running (e.g. the Overview's
    bootstrap band of a stored dataset) would otherwise connect the next test's workspace."""
    from dashboard import background, compute
    from dashboard.workspace import session

    with background._LOCK:
        jobs = list(background._JOBS.values())
        for job in jobs:
            job.wanted = float("-inf")  # abandoned: it stops at its next step
    for job in jobs:
        if job.thread is not None:
            job.thread.join(120)
    background._JOBS.clear()
    if session._workspace is not None:
        session._workspace.close()
    session._workspace = None
    session._config = None
    compute._DATASETS.clear()
    compute._RESULTS.clear()


def start(**query: str | list[str]) -> AppTest:
    """A new session (a new browser tab) on the app's default page, with ``query`` in its URL."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def open_page(page: str, at: AppTest | None = None, **query: str | list[str]) -> AppTest:
    """Move to ``dashboard/app_pages/<page>.py`` in the session ``at`` (a new one with ``query``
    in its URL when None) and run it."""
    if at is None:
        at = start(**query)
    elif query:
        raise TypeError("query parameters are set on a new session only (at=None)")
    at.switch_page(f"dashboard/app_pages/{page}.py")
    return at.run()


def clean_page(page: str, **query: str | list[str]) -> AppTest:
    """``open_page`` in a new session, checked ``clean``."""
    at = open_page(page, **query)
    clean(at)
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def clean(at: AppTest) -> None:
    """No exception and no error box (a generic "could not be computed" or a data problem)."""
    no_exception(at)
    assert not at.error, [e.value for e in at.error]


def decoded(value: Any) -> Any:
    """Plotly's JSON with numeric arrays as plain lists (plotly writes them as base64 typed arrays
    ``{dtype, bdata, shape}``)."""
    if isinstance(value, dict):
        if set(value) >= {"dtype", "bdata"}:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            shape = [int(n) for n in str(value.get("shape", len(array))).split(",")]  # e.g. "4, 2"
            return array.reshape(shape).tolist()
        return {k: decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


@dataclass(frozen=True)
class Chart:
    """A chart of the run as the browser receives it: its key, the figure's JSON and plotly config."""

    key: str | None
    spec: str
    config: dict[str, Any]

    @property
    def figure(self) -> dict:
        return json.loads(self.spec)


def charts(at: AppTest) -> list[Chart]:
    """Every chart of the run: drawn by dashboard.chart's renderer (a components-v2 element whose
    id ends in its key), or by st.plotly_chart when the renderer's bundle is not installed."""
    drawn = []
    for element in at.get("bidi_component"):
        if element.proto.component_name == chart.COMPONENT_NAME:
            data = json.loads(element.proto.json)
            drawn.append(Chart(element.proto.id.split("-", 2)[2] or None, data["spec"], data["config"]))
    drawn += [Chart(chart.key, chart.proto.spec, json.loads(chart.proto.config)) for chart in at.get("plotly_chart")]
    return drawn


def plotted(at: AppTest) -> list[dict]:
    """Every plotly chart of the run, as the figure's JSON with plain lists for arrays."""
    return [decoded(chart.figure) for chart in charts(at)]


def kept(at: AppTest) -> tuple[int, int]:
    """The sidebar's "N of M patients kept"."""
    for block in at.sidebar.markdown:
        match = KEPT.search(block.value)
        if match:
            return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))
    raise AssertionError("no 'N of M patients kept' in the sidebar")


def problems(at: AppTest) -> pd.DataFrame:
    """The problems tables shown (a data problem's rows: table, row, column, value, message)."""
    frames = [d.value for d in at.dataframe if "message" in d.value.columns]
    assert frames, "no problems table shown"
    return pd.concat(frames, ignore_index=True)


def upload_page(**query: str | list[str]) -> AppTest:
    """The Data page of a new session with "Upload" chosen as the data source."""
    at = open_page("data", **query)
    at.segmented_control(key="data_source").set_value("Upload").run()
    return at


def load_button(at: AppTest):
    """The reading step's Load button."""
    buttons = [b for b in at.button if b.key == "load_upload"]
    assert buttons, "no Load button"
    return buttons[0]


def uploaded(name: str, content: bytes) -> AppTest:
    """A new session with the file ``name`` uploaded and loaded as its dataset (on the Data page)."""
    at = upload_page()
    at.file_uploader(key="upload_files").upload(name, content).run()
    load_button(at).click().run()
    clean(at)
    return at
