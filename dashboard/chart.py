"""Plotly figures drawn in the browser by plotly.js's basic bundle (scatter, bar and pie: every
trace type the dashboard draws) instead of ``st.plotly_chart``, whose chunk carries the whole of
plotly.js: 4.7 MB of script that a new browser context evaluates before the first chart, against
1.2 MB (benchmarks/bench_chart_bundle.py: the same figures drawn in 1.35 s instead of 2.14 s).
Themed as Streamlit's chart is, light or dark (dashboard/chart.js).

The bundle is fetched from the npm registry by ``make run`` / ``make test``
(``python -m dashboard.chart``), checked against its pinned sha512, into ``static/`` (served by
Streamlit's static file serving at ``app/static/``); without it, figures are drawn by
``st.plotly_chart``."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import streamlit as st

BUNDLE_PACKAGE, BUNDLE_VERSION = "plotly.js-basic-dist-min", "4.1.2"
BUNDLE_SHA512 = "LvfKTeVYIKzEyMj9TuH+8ot0I7IMG1fET2YxgUtbpZVHd2fBrOlBFsk26wKgnAckHyNhKG7vDk4tEyqGCYs2Aw=="
BUNDLE_URL = f"https://registry.npmjs.org/{BUNDLE_PACKAGE}/-/{BUNDLE_PACKAGE}-{BUNDLE_VERSION}.tgz"
BUNDLE_NAME = f"plotly-basic-{BUNDLE_VERSION}.min.js"
# Streamlit serves the folder "static" beside the app's main script (app.py) at app/static/
BUNDLE_PATH = Path(__file__).resolve().parent.parent / "static" / BUNDLE_NAME

# the components-v2 element's name (tests and benchmarks find the charts of a run by it)
COMPONENT_NAME = "infusion_outcomes_chart"


def fetch_bundle(path: Path = BUNDLE_PATH) -> Path:
    """The basic bundle at ``path``, downloaded and checked against BUNDLE_SHA512 unless there."""
    if path.exists():
        return path
    with urllib.request.urlopen(BUNDLE_URL, timeout=120) as answer:
        tarball = answer.read()
    if base64.b64encode(hashlib.sha512(tarball).digest()).decode() != BUNDLE_SHA512:
        raise RuntimeError(f"{BUNDLE_URL} does not match its pinned sha512: not installed")
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile("package/plotly-basic.min.js")
        assert member is not None
        script = member.read()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(script)
    partial.replace(path)
    return path


def _bundle_src() -> str:
    """The bundle's URL path on this server (under server.baseUrlPath, when one is set)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/app/static/{BUNDLE_NAME}" if base else f"/app/static/{BUNDLE_NAME}"


@functools.cache
def renderer() -> Any:
    """The components-v2 element that draws a figure (registered once per process)."""
    return st.components.v2.component(
        COMPONENT_NAME, html="<div class='io-chart' role='figure'><div class='io-chart-plot'></div></div>",
        css=".io-chart { width: 100%; } .io-chart:fullscreen { background: var(--st-background-color); "
            "padding: 1rem; } .io-chart-plot { width: 100%; }",
        js=Path(__file__).with_name("chart.js").read_text(), isolate_styles=False)


def uses_bundle() -> bool:
    """Whether figures are drawn by the basic bundle (it is installed and static serving is on)."""
    return BUNDLE_PATH.exists() and bool(st.get_option("server.enableStaticServing"))


def plotly_chart(figure: Any, *, key: str, alt: str | None = None, config: dict[str, Any] | None = None) -> None:
    """Draw ``figure`` (a plotly Figure) full width, as ``st.plotly_chart(figure, key=key, alt=alt,
    config=config)`` draws it, with plotly.js's basic bundle when it is installed."""
    if not uses_bundle():
        st.plotly_chart(figure, key=key, alt=alt, config=config or {})
        return
    import plotly.io as pio

    renderer()(data={"spec": pio.to_json(figure, validate=False), "config": config or {},
                       "src": _bundle_src(), "alt": alt}, key=key)


if __name__ == "__main__":
    try:
        print(f"plotly.js basic bundle: {fetch_bundle()}")
    except (OSError, RuntimeError) as problem:  # the app still runs: figures by st.plotly_chart
        print(f"plotly.js basic bundle not installed ({problem}); charts are drawn by st.plotly_chart",
              file=sys.stderr)
