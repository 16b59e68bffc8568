"""dashboard.chart: the figures a page shows reach the browser whole through the renderer (its
figure JSON and plotly config), and through st.plotly_chart when the bundle is not installed; the
bundle is installed only when its bytes match the pinned sha512."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from dashboard import chart
from tests.dashboard.apptest import charts, clean_page


def test_a_page_sends_its_figures_and_toolbar_to_the_renderer_or_to_st_plotly_chart(monkeypatch, tmp_path) -> None:
    if not chart.BUNDLE_PATH.exists():
        pytest.skip("plotly.js's basic bundle is not installed (python -m dashboard.chart)")
    drawn = clean_page("series")
    assert drawn.get("bidi_component") and not drawn.get("plotly_chart")
    monkeypatch.setattr(chart, "BUNDLE_PATH", tmp_path / "missing.min.js")
    fallback = clean_page("series")
    assert fallback.get("plotly_chart") and not fallback.get("bidi_component")
    for at in (drawn, fallback):
        shown = charts(at)
        assert [c.key for c in shown] == ["chart_rates_by_infusion_number", "chart_cumulative_response_across_the_series"]
        assert [c.figure["layout"]["xaxis"]["title"]["text"] for c in shown] == ["Infusion number"] * 2
        assert all(c.config["displaylogo"] is False and c.config["toImageButtonOptions"]["filename"] for c in shown)
    assert [c.spec for c in charts(drawn)] == [c.spec for c in charts(fallback)]


def _tarball(script: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("package/plotly-basic.min.js")
        member.size = len(script)
        archive.addfile(member, io.BytesIO(script))
    return buffer.getvalue()


class _Answer(io.BytesIO):
    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_a_bundle_that_does_not_match_its_sha512_is_not_installed(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(chart.urllib.request, "urlopen", lambda url, timeout: _Answer(_tarball(b"alert(1)")))
    target = tmp_path / "static" / chart.BUNDLE_NAME
    with pytest.raises(RuntimeError, match="does not match its pinned sha512"):
        chart.fetch_bundle(target)
    assert not target.exists() and not target.parent.exists()


def test_the_pinned_bundle_holds_every_trace_type_the_figures_use() -> None:
    """plotly.js's basic bundle draws scatter, bar and pie traces only: every trace the analysis
    package and the dashboard build must be one of them (a new trace type needs another bundle)."""
    if not chart.BUNDLE_PATH.exists():
        pytest.skip("plotly.js's basic bundle is not installed (python -m dashboard.chart)")
    root = Path(chart.__file__).resolve().parent.parent
    source = "\n".join(path.read_text() for folder in ("analysis", "dashboard") for path in (root / folder).rglob("*.py"))
    traces = set(re.findall(r"\bgo\.([A-Z][a-z]+)\(", source)) - {"Figure", "Layout"}
    assert "Scatter" in traces and traces <= {"Scatter", "Bar", "Pie"}, traces
    assert "plotly.express" not in source
    head = chart.BUNDLE_PATH.read_bytes()[:200].decode()
    assert f"plotly.js (basic - minified) v{chart.BUNDLE_VERSION}" in head
