"""Exports: CSV formula neutralising, small-cell suppression, HTML report, images, snippets."""

from __future__ import annotations

import csv
import io
import shutil

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis.export import (
    ReportSection,
    figure_to_image,
    html_report,
    neutralise_formulas,
    python_code,
    suppress_small_groups,
    to_csv_bytes,
)


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\r=1",
                                  "=HYPERLINK(\"http://x\")"])
def test_formula_like_text_is_neutralised(cell):
    frame = pd.DataFrame({"label": [cell], "n": [3]})
    text = to_csv_bytes(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][0] == "'" + cell
    assert rows[1][1] == "3"


def test_numbers_and_plain_text_are_unchanged():
    frame = pd.DataFrame({"change": [-3.5, 2.0], "group": ["TRD", "a-b"], "p": [0.01, np.nan]})
    out = neutralise_formulas(frame)
    assert out["change"].tolist() == [-3.5, 2.0]
    assert out["group"].tolist() == ["TRD", "a-b"]
    back = pd.read_csv(io.BytesIO(to_csv_bytes(frame)), encoding="utf-8-sig")
    assert back["change"].tolist() == [-3.5, 2.0]


def test_column_names_and_index_are_neutralised():
    frame = pd.DataFrame({"=cmd()": [1]}, index=pd.Index(["@x"], name="term"))
    text = to_csv_bytes(frame).decode("utf-8-sig")
    assert "'=cmd()" in text and "'@x" in text


def test_suppression_blanks_small_groups_and_says_so():
    frame = pd.DataFrame({"group": ["IV", "IM", "oral", "rectal"], "n": [40, 4, 5, 0],
                          "rate": [0.5, 0.25, 0.4, np.nan]})
    out, note = suppress_small_groups(frame, "n", 5, keep_columns=["group"])
    assert out["suppressed"].tolist() == [False, True, False, False]  # an empty cell reveals no one
    assert pd.isna(out.loc[1, "rate"]) and pd.isna(out.loc[1, "n"])
    assert out.loc[1, "group"] == "IM"
    assert out.loc[2, "rate"] == 0.4  # exactly k patients is not suppressed
    assert "fewer than 5" in note and "IM" in note
    _, none = suppress_small_groups(frame, "n", 4, keep_columns=["group"])
    assert none is None


def test_html_report_is_self_contained_and_complete():
    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 0.5]))
    table = pd.DataFrame({"group": ["<script>"], "median_days": [19.25]})
    text = html_report("Durability", [ReportSection("Curve", figures=(figure,), tables=(("Summary", table),),
                                                    notes=("note here",))],
                       definitions=["Response: >= 50% reduction"], filters=["diagnosis: TRD"],
                       dataset="sample", fingerprint="0123456789abcdef", software={"analysis": "0.1.0"})
    assert text.startswith("<!DOCTYPE html>")
    assert "<script src=" not in text  # plotly.js inline, no network needed
    assert "plotly" in text.lower() and "0123456789abcdef" in text
    assert "diagnosis: TRD" in text and "Response: &gt;= 50% reduction" in text
    assert "analysis 0.1.0" in text and "note here" in text and "19.25" in text
    assert "<td>&lt;script&gt;</td>" in text  # table content escaped


def test_python_code_runs_and_names_filters():
    code = python_code("sample", "fit_onset", filters={"diagnosis": ["TRD"], "route": None},
                       arguments={"instrument": "MADRS", "response": 0.5, "relapse": ("fraction_of_baseline", 0.75)},
                       fingerprint="abc")
    assert "data = analysis.load_sample()" in code
    assert "analysis.filter_cohort(data, diagnosis=['TRD'])" in code
    assert "route" not in code
    assert "relapse=('fraction_of_baseline', 0.75)" in code
    compile(code, "<snippet>", "exec")
    sim = python_code("simulated-500-3", "derive_endpoints")
    assert "analysis.simulate(n_patients=500, seed=3)" in sim


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_png_and_svg_export():
    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 0.5]))
    png = figure_to_image(figure, "png", width=300, height=200, scale=1)
    assert png.startswith(b"\x89PNG")
    svg = figure_to_image(figure, "svg", width=300, height=200)
    assert b"<svg" in svg[:500]
    with pytest.raises(ValueError):
        figure_to_image(figure, "jpg")


def test_complementary_suppression_stops_recovery_by_subtraction():
    """Phenotype counts add up to the group size: one hidden cell could be recovered as the size
    minus the others, so the smallest other non-empty cell of that group is hidden too."""
    frame = pd.DataFrame({
        "group": ["F", "F", "F", "M", "M", "M", "M"],
        "phenotype": ["non", "rapid", "delayed", "non", "rapid", "transient", "delayed"],
        "n": [57, 60, 24, 63, 41, 4, 18],
        "group_n": [141, 141, 141, 126, 126, 126, 126],
    })
    plain, _ = suppress_small_groups(frame, "n", 5, keep_columns=["group", "phenotype"])
    assert plain["suppressed"].tolist() == [False, False, False, False, False, True, False]
    out, note = suppress_small_groups(frame, "n", 5, keep_columns=["group", "phenotype"],
                                      complement_within="group")
    # M / delayed (18) is the smallest other cell of M; F has nothing to hide
    assert out["suppressed"].tolist() == [False, False, False, False, False, True, True]
    visible = out[~out["suppressed"] & (out["group"] == "M")]
    assert 126 - visible["n"].sum() == 4 + 18  # only the sum of two hidden cells is implied
    assert "1 group(s) with fewer than 5" in note and "M / transient" in note
    assert "recovered by subtraction" in note and "M / delayed" in note
    # two small cells in one partition already protect each other
    two = frame.assign(n=[57, 60, 24, 63, 41, 4, 3])
    out2, _ = suppress_small_groups(two, "n", 5, keep_columns=["group"], complement_within="group")
    assert out2["suppressed"].tolist() == [False, False, False, False, False, True, True]


def test_missing_chromium_is_said_in_a_sentence_within_seconds(monkeypatch):
    import time

    import analysis.export as export
    from analysis.errors import AnalysisError

    with export._chromium_lock:  # a check in flight (the app's start-up thread) has ended
        monkeypatch.setattr(export, "_chromium_checked", None)
        monkeypatch.setattr(export, "_chromium_failed", None)
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    monkeypatch.setattr("choreographer.browsers.chromium.Chromium.find_browser",
                        classmethod(lambda cls, **kw: None))
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    start = time.perf_counter()
    with pytest.raises(AnalysisError, match="needs the Chromium browser"):
        figure_to_image(figure, "png")
    assert time.perf_counter() - start < 10
    # a binary that exists but does not start
    monkeypatch.setattr("choreographer.browsers.chromium.Chromium.find_browser",
                        classmethod(lambda cls, **kw: "/bin/false"))
    monkeypatch.setattr(export, "_chromium_failed", None)
    with pytest.raises(AnalysisError, match="does not start"):
        figure_to_image(figure, "svg")
    assert "does not start" in export.image_export_problem()


def test_python_script_runs_each_step_on_the_filtered_data_and_prints_what_is_asked():
    from analysis.export import SnippetStep, python_script

    code = python_script("sample", [SnippetStep("rates", "responder_rates", {"time": "any"}),
                                    SnippetStep("onset", "fit_onset", {"by": "route"}, prints=("summary()", "test"))],
                         filters={"sex": ["F"]}, fingerprint="")
    lines = code.splitlines()
    assert lines.index("data = analysis.filter_cohort(data, sex=['F'])") < lines.index(
        "rates = analysis.responder_rates(data, time='any')")
    assert lines[-2:] == ["print(onset.summary())", "print(onset.test)"]
    assert "display.max_rows" in code  # whole tables printed, not elided with ...
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "<snippet>", "exec"), namespace)
    import analysis

    women = analysis.filter_cohort(analysis.load_sample(), sex=["F"])
    pd.testing.assert_frame_equal(namespace["rates"].table, analysis.responder_rates(women, time="any").table)
    assert namespace["data"].n_patients == women.n_patients < analysis.load_sample().n_patients


def test_report_cards_name_their_page_data_and_code_and_plotly_js_is_packed_once():
    import base64
    import gzip

    from plotly.offline import get_plotlyjs

    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 0.5]))
    cards = [ReportSection(f"Card {i}", figures=(figure,), page="Onset", dataset="bundled sample",
                           fingerprint="feedfacefeedface", filters=("sex: F",), definitions=("Response: 50%",),
                           code="import analysis\n", annotation="checked") for i in range(3)]
    text = html_report("Cards", cards, filters=None)
    assert text.count("id='plotly-js-gzip'") == 1 and text.count("class='figure'") == 3
    packed = text.split("id='plotly-js-gzip' type='application/octet-stream'>")[1].split("</script>")[0]
    assert gzip.decompress(base64.b64decode(packed)).decode("utf-8") == get_plotlyjs()
    assert text.count("feedfacefeedface") == 3 and text.count("sex: F") == 3
    assert text.count("<pre><code>import analysis\n</code></pre>") == 3
    assert "<th>Filters</th><td>all patients</td>" not in text  # filters=None: each card names its own
    printable = html_report("Cards", cards, for_print=True)
    assert "plotly-js-gzip" not in printable and '"width":680' in printable
