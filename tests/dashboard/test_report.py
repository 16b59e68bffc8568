"""The report that spans pages: "Add to report" on three pages, the Report page (order, annotate,
remove), its HTML (plotly.js once, every card with its snippet, fits the page) and PDF exports."""

from __future__ import annotations

import io
import re
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from analysis.export import ReportSection, html_report, image_export_problem, pdf_report
from dashboard import report
from tests.dashboard.apptest import no_exception, open_page, start

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (/usr/bin/chromium)")


def _add(at: AppTest, key: str) -> None:
    buttons = [b for b in at.button if b.key == key]
    assert buttons, f"no Add to report button {key}; have {[b.key for b in at.button if b.label == 'Add to report']}"
    buttons[0].click().run()
    no_exception(at)


@pytest.fixture(scope="module")
def collected() -> AppTest:
    """Cards added from Durability (figure and the log-rank result), Compare (a table) and
    Symptoms (a figure), grouped by route."""
    at = start(group="route")
    no_exception(open_page("durability", at))
    _add(at, "add_figure_durability_sustained_response")
    _add(at, "add_table_durability_log_rank_test")  # the page's report keeps the log-rank result
    no_exception(open_page("compare", at))
    _add(at, "add_table_compare_observed_and_expected_relapses")
    no_exception(open_page("symptoms", at))
    _add(at, "add_figure_symptoms_response_phenotypes")
    return at


def _cards(at: AppTest) -> list[report.Card]:
    return list(at.session_state[report.CARDS_KEY])


def test_cards_from_three_pages_keep_their_origin_and_code(collected):
    cards = _cards(collected)
    assert [(c.page, c.title) for c in cards] == [
        ("Durability", "Sustained response"), ("Durability", "Log-rank test"),
        ("Compare", "Observed and expected relapses"), ("Symptoms", "Response phenotypes")]
    durability = cards[0]
    assert durability.figures and "analysis.fit_durability(data, by='route'" in durability.code
    assert durability.fingerprint and durability.dataset == "sample"
    assert any("Response" in d for d in durability.definitions)
    assert "chi-square" in cards[1].notes[0] and "logrank.summary()" in cards[1].code
    assert cards[2].tables and "print(result.logrank.table)" in cards[2].code
    assert "analysis.response_phenotypes(data, by='route'" in cards[3].code
    # each card holds the code of its own calls only
    assert "fit_durability" not in cards[3].code


def test_report_page_orders_annotates_and_removes(collected):
    at = open_page("report", collected)
    no_exception(at)
    titles = [m.value for m in at.markdown if re.match(r"\*\*\d+\. ", m.value)]
    assert len(titles) == 4 and "Sustained response" in titles[0]
    first, second = (c.id for c in _cards(at)[:2])
    at.button(key=f"down_{first}").click().run()
    assert [c.id for c in _cards(at)[:2]] == [second, first]
    at.button(key=f"up_{first}").click().run()
    assert [c.id for c in _cards(at)[:2]] == [first, second]
    at.text_area(key=f"note_{first}").input("Median <b>not</b> reached in IM.").run()
    assert _cards(at)[0].annotation == "Median <b>not</b> reached in IM."
    at.button(key=f"remove_{second}").click().run()
    assert second not in [c.id for c in _cards(at)] and len(_cards(at)) == 3
    assert not at.exception


def test_exported_html_holds_every_card_once_with_plotly_js_once(collected):
    # (annotated here, not by the page test above: with pytest -n the two may run in different workers)
    first, *others = _cards(collected)
    cards = [replace(first, annotation="Median <b>not</b> reached in IM."), *others]
    text = report.report_html(cards, "Three pages")
    for card in cards:
        assert f"<h2>{card.title}</h2>" in text
        assert card.fingerprint in text
    assert text.count("id='plotly-js-gzip'") == 1
    assert text.count("class='figure'") == sum(len(c.figures) for c in cards)
    assert "Median &lt;b&gt;not&lt;/b&gt; reached in IM." in text  # annotations escaped
    assert "analysis.fit_durability(data, by=&#x27;route&#x27;" in text
    assert len(text) < 2_600_000, len(text)


@needs_chromium
def test_exported_pdf_is_a_pdf_with_the_card_titles(collected):
    from pypdf import PdfReader

    cards = _cards(collected)
    started = time.perf_counter()
    pdf = pdf_report(report.report_html(cards, "Three pages", for_print=True))
    print(f"PDF of {len(cards)} cards: {len(pdf) / 1e3:.0f} kB in {time.perf_counter() - started:.1f} s")
    assert pdf.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for card in cards:
        assert card.title in text
    assert "Python code" in text


def _figure(seed: int) -> go.Figure:
    return go.Figure(go.Scatter(x=list(range(50)), y=[(seed * i) % 17 for i in range(50)], name=f"curve {seed}"))


def test_report_size_grows_by_the_figures_data_not_by_plotly_js():
    sizes = {}
    for n in (1, 2, 8):
        sections = [ReportSection(f"Figure {i}", figures=(_figure(i),)) for i in range(n)]
        sizes[n] = len(html_report("Size", sections).encode())
    per_figure = (sizes[8] - sizes[2]) / 6
    print(f"report size: 1 figure {sizes[1] / 1e6:.2f} MB, 8 figures {sizes[8] / 1e6:.2f} MB, "
          f"{per_figure / 1e3:.1f} kB per further figure")
    assert sizes[1] < 2_100_000  # plotly.js itself is 4.8 MB uncompressed
    assert per_figure < 20_000  # a figure's own JSON, not another copy of plotly.js
    assert sizes[2] - sizes[1] < 20_000


def test_figure_data_cannot_close_the_script_element():
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name="</script><img src=x onerror=alert(1)>"))
    table = pd.DataFrame({"group": ["<script>alert(1)</script>"], "n": [3]})
    text = html_report("<Title>", [ReportSection("<b>card</b>", figures=(figure,), tables=(("t", table),),
                                                 code="print('<x>')", annotation="<i>note</i>")])
    assert "<img src=x" not in text and "<script>alert" not in text
    assert "&lt;b&gt;card&lt;/b&gt;" in text and "&lt;i&gt;note&lt;/i&gt;" in text


def test_html_report_draws_every_figure_and_fits_an_800_px_window(tmp_path, browser):
    # the suite's one browser (tests/conftest.py): a second sync_playwright() while it runs fails
    wide = pd.DataFrame({f"a_rather_long_column_name_{i}": [0.123456 * i, 12.5] for i in range(24)})
    sections = [ReportSection(f"Figure {i}", figures=(_figure(i),), tables=(("Wide table", wide),),
                              code="x = 1  # " + "a long comment " * 30) for i in range(3)]
    path = tmp_path / "report.html"
    path.write_text(html_report("Fit", sections), encoding="utf-8")
    page = browser.new_page(viewport={"width": 800, "height": 900})
    try:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=30_000)
        drawn = page.evaluate("document.querySelectorAll('.figure .main-svg').length")
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    finally:
        page.close()
    assert not errors, errors
    assert drawn >= 3  # plotly draws two or three svg layers per figure
    assert scroll <= client, f"the report overflows an 800 px window ({scroll} > {client} px)"


def test_pdf_without_chromium_is_said_in_a_sentence_within_seconds(monkeypatch):
    import analysis.export as export
    from analysis.errors import AnalysisError

    with export._chromium_lock:  # a check in flight (the app's start-up thread) has ended
        monkeypatch.setattr(export, "_chromium_checked", None)
        monkeypatch.setattr(export, "_chromium_failed", None)
    monkeypatch.setattr("choreographer.browsers.chromium.Chromium.find_browser",
                        classmethod(lambda cls, **kw: None))
    started = time.perf_counter()
    with pytest.raises(AnalysisError, match="needs the Chromium browser"):
        pdf_report("<html></html>")
    assert time.perf_counter() - started < 10
    assert "needs the Chromium browser" in image_export_problem()


# ---------------------------------------------------------------------------------------------
# Cards belong to their owner (here: a browser), not to the session


def _reset_workspace() -> None:
    """As a new server process: no workspace connection held."""
    from dashboard.workspace import session

    if session._workspace is not None:
        session._workspace.close()
    session._workspace = None


@pytest.fixture
def browsers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Local mode on a workspace in tmp_path; ``browsers["now"]`` is the browser the next run
    comes from (the digest of its secrets: AppTest itself carries no cookie)."""
    from dashboard import security
    from dashboard.workspace import load_config, session

    current = {"now": "browser-a"}
    monkeypatch.setattr(security, "browser_secret", lambda: current["now"])
    _reset_workspace()
    monkeypatch.setattr(session, "_config", load_config({}, {"INFUSION_OUTCOMES_DB": str(tmp_path / "ws.db")}))
    yield current
    _reset_workspace()


def _same_cards(got: list[report.Card], expected: list[report.Card]) -> None:
    assert [(c.id, c.page, c.title, c.annotation, c.dataset, c.fingerprint, c.code, c.added) for c in got] == \
        [(c.id, c.page, c.title, c.annotation, c.dataset, c.fingerprint, c.code, c.added) for c in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.figures == theirs.figures
        assert (mine.notes, mine.definitions, mine.filters) == (theirs.notes, theirs.definitions, theirs.filters)
        assert [name for name, _ in mine.tables] == [name for name, _ in theirs.tables]
        for (_, frame), (_, original) in zip(mine.tables, theirs.tables, strict=True):
            pd.testing.assert_frame_equal(frame, original, check_index_type=True)
            assert type(frame.index) is type(original.index)  # a RangeIndex is not shown in the report


def test_cards_come_back_after_a_reload_and_a_restart_for_their_browser_only(browsers):
    at = start(group="route")
    no_exception(open_page("durability", at))
    _add(at, "add_figure_durability_sustained_response")
    no_exception(open_page("compare", at))
    _add(at, "add_table_compare_observed_and_expected_relapses")
    at = open_page("report", at)
    first = _cards(at)[0].id
    at.text_area(key=f"note_{first}").input("Seen in clinic.").run()
    at.button(key=f"down_{first}").click().run()
    added = _cards(at)
    assert [c.title for c in added] == ["Observed and expected relapses", "Sustained response"]
    assert added[1].annotation == "Seen in clinic." and added[0].tables and added[1].figures

    reloaded = open_page("report")  # a reload: a new session from the same browser
    no_exception(reloaded)
    _same_cards(_cards(reloaded), added)
    created = datetime(2026, 1, 1, tzinfo=UTC)  # the exported report reads the same, byte for byte
    assert report.report_html(_cards(reloaded), "R", created=created) == report.report_html(added, "R", created=created)
    assert any("Kept on the server for this browser" in c.value for c in reloaded.caption)
    assert len([m for m in reloaded.markdown if re.match(r"\*\*\d+\. ", m.value)]) == 2

    _reset_workspace()  # a server restart: a new process on the same database
    _same_cards(_cards(open_page("report")), added)

    browsers["now"] = "browser-b"  # another browser: none of them
    other = open_page("report")
    no_exception(other)
    assert _cards(other) == [] and "No results yet" in other.info[0].value

    # a client presenting the first browser's session: the session is emptied, its cards not shown
    reloaded.run()
    resumed = open_page("report", reloaded)
    assert _cards(resumed) == [] and "No results yet" in resumed.info[0].value
    browsers["now"] = "browser-a"  # the owner's next session still has them
    _same_cards(_cards(open_page("report")), added)


def _card_script() -> None:
    """Adds the cards named in session_state["add"] (dataset names) and lists the report."""
    from datetime import UTC, datetime

    import pandas as pd
    import streamlit as st

    from dashboard import report

    for card_id in st.session_state.pop("remove", []):
        report.remove_card(card_id)
    for index, dataset in enumerate(st.session_state.pop("add", [])):
        table = pd.DataFrame({"group": pd.Categorical(["IV", "IM"]), "n": pd.array([12, None], dtype="Int64"),
                              "median_days": [18.5, float("nan")]}).set_index("group")
        problem = report.add_card(report.Card(
            id=f"card{index}{dataset[:12]}{st.session_state.get('tab', '')}", page="Test", title=f"Result on {dataset}", figures=("{}",),
            tables=(("Medians", table),), notes=(), definitions=(), filters=(), dataset=dataset,
            dataset_label=dataset, fingerprint="", code="", added=datetime.now(UTC)))
        if problem:
            st.error(problem)
    st.write(" | ".join(c.title for c in report.cards()))
    st.caption(report.kept_where())


def _report_of(**state: object) -> AppTest:
    at = AppTest.from_function(_card_script, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_cards_of_a_session_only_file_stay_in_the_session(browsers):
    at = _report_of(add=["sample", "upload-0123456789abcdef"])
    assert not at.exception and not at.error
    assert at.markdown[0].value == "Result on sample | Result on upload-0123456789abcdef"
    assert "1 result(s) of a file kept for this session only stay in this tab" in at.caption[0].value
    card = _cards(at)[0]
    pd.testing.assert_frame_equal(card.tables[0][1], _cards(at)[0].tables[0][1])
    again = _report_of()  # a new session from the same browser: the sample's card only
    assert again.markdown[0].value == "Result on sample"
    _same_cards(_cards(again), [card])  # its table's types (categorical index, Int64, NaN) kept


def test_cards_stay_in_the_tab_with_a_note_when_there_is_no_owner_or_no_database(browsers, monkeypatch):
    from dashboard.workspace import WorkspaceUnavailable, session

    browsers["now"] = None
    at = _report_of(add=["sample"])
    assert at.markdown[0].value == "Result on sample"
    assert "kept in this browser tab only" in at.caption[0].value
    assert _report_of().markdown[0].value == ""  # nothing to find again: no owner

    browsers["now"] = "browser-c"

    def away():
        raise WorkspaceUnavailable("sqlite")

    reachable = session.workspace
    monkeypatch.setattr(session, "workspace", away)
    at = _report_of(add=["sample"])
    assert not at.exception and at.markdown[0].value == "Result on sample"
    assert "could not be read or updated" in at.caption[0].value
    monkeypatch.setattr(session, "workspace", reachable)  # back: the tab's card is stored with the next change
    at.session_state["add"] = ["simulated-300-1"]
    at.run()
    assert at.markdown[0].value == "Result on sample | Result on simulated-300-1"
    assert _report_of().markdown[0].value == "Result on sample | Result on simulated-300-1"


def test_a_full_report_says_so_and_keeps_what_it_holds(browsers, monkeypatch):
    monkeypatch.setattr(report, "MAX_CARDS", 2)
    at = _report_of(add=["sample", "simulated-100-1", "simulated-100-2"])
    assert "holds 2 results, the most it keeps" in at.error[0].value
    assert _report_of().markdown[0].value == "Result on sample | Result on simulated-100-1"


def test_two_tabs_of_one_browser_share_one_report(browsers):
    first = _report_of(tab="A")
    second = _report_of(tab="B")  # both tabs open, the report empty
    first.session_state["add"] = ["sample"]
    first.run()
    second.session_state["add"] = ["simulated-300-1"]
    second.run()  # adds to the report as the first tab left it, not to its own old copy
    assert second.markdown[0].value == "Result on sample | Result on simulated-300-1"
    first.run()
    assert first.markdown[0].value == "Result on sample | Result on simulated-300-1"
    first.session_state["remove"] = [_cards(first)[1].id]
    first.run()
    second.run()
    assert second.markdown[0].value == "Result on sample"
    assert _report_of().markdown[0].value == "Result on sample"
