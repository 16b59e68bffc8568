"""The dashboard through Streamlit's AppTest on the bundled sample: every page, every sidebar
control, settings restored from the URL, bad uploads, links to uploaded data."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import analysis
import analysis.export
from analysis.cohort import filter_cohort
from dashboard import report
from tests.dashboard.apptest import (
    APP,
    PAGES,
    ROOT,
    TIMEOUT,
    charts,
    clean,
    kept,
    load_button,
    open_page,
    plotted,
    problems,
    start,
    upload_page,
    uploaded,
)
from tests.dashboard.snippets import shown_snippets


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_sample(page, sample):
    at = open_page(page)
    clean(at)
    assert at.title[0].value.lower() == page
    assert kept(at) == (sample.n_patients, sample.n_patients)
    if page == "report":  # no card added yet: it says how to add one
        assert "Add to report" in " ".join(m.value for m in [*at.markdown, *at.info, *at.caption])
    elif page != "data":
        # the pages draw real results on the sample, not only notices
        assert charts(at) or at.dataframe or at.metric, f"{page} shows nothing"


@pytest.mark.parametrize("page", ["overview", "onset", "durability", "compare", "series", "symptoms",
                                  "trajectories"])
def test_pages_with_grouping_and_definitions(page):
    at = open_page(page, group="route", response="60", relapse="score threshold", relapse_score="20", confirm="2",
                   remission="8")
    clean(at)


def test_every_sidebar_control_changes_the_view(sample):
    at = open_page("data")  # filters: on the quick page
    clean(at)
    n = sample.n_patients
    diagnosis = str(sample.patients["diagnosis"].dropna().iloc[0])
    route = str(sample.infusions["route"].iloc[0])
    sex = str(sample.patients["sex"].dropna().iloc[0])
    for widget, key, change, undo, filters in (  # each filter alone, against the API's filter
        ("multiselect", "diagnosis", lambda w: w.select(diagnosis), lambda w: w.unselect(diagnosis),
         {"diagnosis": [diagnosis]}),
        ("multiselect", "route", lambda w: w.select(route), lambda w: w.unselect(route), {"route": [route]}),
        ("slider", "dose", lambda w: w.set_range(0.4, 0.6), lambda w: w.set_range(0.0, 2.0),
         {"dose_range": (0.4, 0.6)}),
        ("multiselect", "sex", lambda w: w.select(sex), lambda w: w.unselect(sex), {"sex": [sex]}),
        ("slider", "age", lambda w: w.set_range(30, 50), lambda w: w.set_range(0, 100),
         {"age_range": (30, 50)}),
    ):
        change(getattr(at, widget)(key=key)).run()
        clean(at)
        assert kept(at) == (filter_cohort(sample, **filters).n_patients, n), key
        undo(getattr(at, widget)(key=key)).run()
    assert kept(at) == (n, n)

    at = open_page("overview", at)  # definitions: where they change the headline figures

    responded_at_50 = [m.value for m in at.metric]
    at.slider(key="response").set_value(75).run()
    clean(at)
    assert [m.value for m in at.metric] != responded_at_50  # a stricter definition changes the rates
    for key, value in (("group", "diagnosis"), ("relapse", "score threshold"), ("relapse", "fraction of baseline"),
                       ("instrument", at.selectbox(key="instrument").options[-1])):
        at.selectbox(key=key).select(value).run()
        clean(at)
        if key == "relapse" and value == "score threshold":
            at.number_input(key="relapse_score").set_value(25.0).run()
            clean(at)
    assert at.selectbox(key="instrument").value == at.selectbox(key="instrument").options[-1]
    at.number_input(key="relapse_fraction").set_value(0.9).run()
    clean(at)
    at.number_input(key="remission").set_value(6.0).run()
    clean(at)
    assert any("6" in line.value for line in at.markdown if "emission" in line.value)
    at.segmented_control(key="confirm").set_value(2).run()
    clean(at)
    at.number_input(key="min_cell").set_value(10).run()
    clean(at)


def test_the_url_reopens_the_same_view(sample):
    diagnosis = str(sample.patients["diagnosis"].dropna().iloc[0])
    at = open_page("onset", diagnosis=[diagnosis], dose=["0.2", "1.5"], group="route", response="60")
    clean(at)
    assert at.multiselect(key="diagnosis").value == [diagnosis]
    assert at.slider(key="dose").value == (0.2, 1.5)
    assert at.selectbox(key="group").value == "route"
    assert at.slider(key="response").value == 60
    expected = filter_cohort(sample, diagnosis=[diagnosis], dose_range=(0.2, 1.5)).n_patients
    assert kept(at) == (expected, sample.n_patients)


def test_small_groups_are_suppressed_with_a_note():
    at = open_page("onset", group="diagnosis", min_cell="50")
    clean(at)
    notes = " ".join(c.value for c in at.caption)
    assert "fewer than 50" in notes
    table = at.dataframe[0].value
    small = table["suppressed"].astype(bool)
    assert small.any()
    assert table.loc[small, "response_probability"].isna().all()
    assert (table.loc[~small, "n"].astype(float) >= 50).all()


def test_a_bad_upload_is_explained_in_words_and_the_app_keeps_working():
    at = upload_page()
    at.file_uploader(key="upload_files").upload("export.csv", b"patient,when,madrs\nA,yesterday,abc\n").run()
    assert not at.exception
    assert at.error, "no error message for a bad file"
    shown = problems(at)
    assert {"table", "row", "column", "value", "message"} <= set(shown.columns)
    assert len(shown) >= 1
    clean(open_page("durability", at))  # still on the sample, still working


def test_an_upload_with_identifiers_is_refused():
    frame = pd.DataFrame({"patient_id": ["A", "A"], "name": ["Jane Smith", "Jane Smith"],
                          "instrument": ["MADRS", "MADRS"], "score": [30, 12], "time_hours": [-1, 24]})
    at = upload_page()
    at.file_uploader(key="upload_files").upload("export.csv", frame.to_csv(index=False).encode()).run()
    assert not at.exception
    assert at.error
    assert "name" in " ".join(problems(at)["column"].astype(str))


def _sample_single_file() -> bytes:
    return (ROOT / "data" / "sample" / "single_file.csv").read_bytes()


def test_a_good_upload_becomes_the_dataset_by_fingerprint_only():
    at = upload_page()
    at.file_uploader(key="upload_files").upload("single_file.csv", _sample_single_file()).run()
    clean(at)
    load_button(at).click().run()
    clean(at)
    expected = analysis.load(io.BytesIO(_sample_single_file())).fingerprint
    assert at.session_state["context"].full.fingerprint == expected  # stored: dataset=ws-<id>
    clean(open_page("overview", at))


def test_a_link_to_an_uploaded_dataset_asks_for_the_file_and_checks_it():
    fingerprint = analysis.load(io.BytesIO(_sample_single_file())).fingerprint
    at = open_page("durability", dataset=f"upload-{fingerprint}")
    assert not at.exception
    assert any(fingerprint in i.value for i in at.info)
    at = open_page("data", at)
    assert any(fingerprint in w.value for w in at.warning)
    # a different file is refused as not matching
    other = pd.read_csv(io.BytesIO(_sample_single_file()))
    other = other[other["patient_id"] != other["patient_id"].iloc[0]]
    at.file_uploader(key="upload_files").upload("other.csv", other.to_csv(index=False).encode()).run()
    assert any("does not match" in e.value for e in at.error)
    # the right file opens the shared view
    at = open_page("data", dataset=f"upload-{fingerprint}")
    at.file_uploader(key="upload_files").upload("single_file.csv", _sample_single_file()).run()
    clean(at)
    assert kept(at)[1] > 0
    clean(open_page("durability", at))


def test_an_unknown_dataset_in_the_url_is_harmless():
    at = open_page("overview", dataset="../../etc/passwd")
    assert not at.exception
    assert any("does not make" in w.value and "passwd" in w.value for w in at.warning)  # named
    assert any("No dataset" in i.value for i in at.info)


def test_table_one_opens_on_demand_by_group(sample):
    at = open_page("data", table1="true", group="diagnosis")
    clean(at)
    tables = [d.value for d in at.dataframe if any(str(c).startswith("Overall") for c in d.value.columns)]
    assert tables, "Table 1 not shown"
    columns = [str(c) for c in tables[0].columns]
    assert columns[0] == "characteristic"  # the row labels: a column headed in words, pinned first
    columns = columns[1:]
    assert columns[0].startswith("Overall (n=")
    assert len(columns) > 1  # one column per diagnosis


def test_the_python_code_reproduces_the_result_shown():
    at = open_page("durability", diagnosis=["TRD", "MDD"], group="route", response="60")
    clean(at)
    shown = at.dataframe[0].value
    code = next(c for c in shown_snippets(at) if "fit_durability" in c)
    assert "filter_cohort(data, diagnosis=['TRD', 'MDD'])" in code
    assert "response=0.6" in code and "by='route'" in code
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "<snippet>", "exec"), namespace)
    summary = namespace["result"].summary()
    visible = shown[~shown.get("suppressed", pd.Series(False, index=shown.index)).astype(bool)]
    assert len(visible) > 0
    for row in visible.itertuples():
        assert summary.loc[row.group, "n_responders"] == row.n_responders
        assert summary.loc[row.group, "median_days"] == pytest.approx(row.median_days, nan_ok=True)


def test_a_failing_analysis_shows_words_not_a_traceback():
    from unittest.mock import patch

    with patch.object(analysis, "fit_onset", side_effect=RuntimeError("internal detail xyz")):
        at = open_page("onset", response="35")  # settings not cached by other tests
    assert not at.exception
    assert at.error and "could not be computed" in at.error[0].value + str(at.error[0].proto)
    page_text = " ".join(e.value for e in at.error) + " ".join(m.value for m in at.markdown)
    assert "internal detail xyz" not in page_text and "Traceback" not in page_text


def test_a_simulated_dataset_is_named_in_the_url():
    at = open_page("data")
    at.segmented_control(key="data_source").set_value("Simulated").run()
    at.selectbox(key="sim_n").set_value(100).run()
    at.number_input(key="sim_seed").set_value(3).run()
    next(b for b in at.button if b.label == "Simulate").click().run()
    clean(at)
    assert at.session_state["dataset"] == "simulated-100-3"
    assert kept(at) == (100, 100)
    code = analysis.export.python_code("simulated-100-3", "fit_onset")
    assert "analysis.simulate(n_patients=100, seed=3)" in code


def test_overview_rates_are_the_ever_responded_proportions_with_wilson_intervals(sample):
    from statsmodels.stats.proportion import proportion_confint

    at = open_page("overview")
    clean(at)
    patients = analysis.derive_endpoints(sample).patients
    n = len(patients)
    metrics = {m.label: m.value for m in at.metric}
    captions = " ".join(c.value for c in at.caption)
    for label, column in (("Responded", "responded"), ("Remitted", "remitted")):
        k = int(patients[column].sum())
        assert metrics[label] == f"{100 * k / n:.0f}%"
        low, high = proportion_confint(k, n, method="wilson")
        assert f"{k} of {n}; 95% CI {100 * low:.0f}% to {100 * high:.0f}% (Wilson)" in captions
    code = next(c for c in shown_snippets(at) if "responder_rates" in c)
    assert "time='any'" in code


def test_overview_durability_is_the_interval_censored_headline_on_the_course_aware_clock(sample):
    at = open_page("overview")
    clean(at)
    expected = analysis.fit_durability(sample).summary().iloc[0]  # origin="auto" by default
    assert expected["origin"] == "auto"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Median durability"] == f"{expected['median_days']:.1f} days"
    captions = " ".join(c.value for c in at.caption)
    assert "last induction infusion after a series" in captions
    assert "interval-censored" in captions or "Turnbull" in captions
    headline = next(d.value for d in at.dataframe if "measure" in d.value.columns)
    km = headline[headline["measure"].str.contains("Kaplan-Meier at the detection visit")]
    assert km.iloc[0]["estimate"] == pytest.approx(expected["km_median_days"])
    code = next(c for c in shown_snippets(at) if "fit_durability" in c)
    assert "origin=" not in code


def test_trajectories_mmrm_by_group_comes_from_fit_mmrm_and_its_code_reproduces_it(sample):
    at = open_page("trajectories", group="sex", mmrm_cov="compound symmetry")
    clean(at)
    expected = analysis.fit_mmrm(sample, by="sex", covariance="compound_symmetry")
    lsmeans = next(d.value for d in at.dataframe
                   if {"visit", "sex", "estimate", "patients"} <= set(map(str, d.value.columns)))
    assert list(lsmeans["estimate"]) == pytest.approx(list(expected.lsmeans()["estimate"]))
    differences = next(d.value for d in at.dataframe
                       if "n_smallest" in d.value.columns and "sex" in d.value.columns)
    assert list(differences["estimate"]) == pytest.approx(list(expected.lsmean_differences()["estimate"]))
    assert any("compound symmetry within-patient covariance" in c.value for c in at.caption)
    code = next(c for c in shown_snippets(at) if "fit_mmrm" in c)
    assert "covariance='compound_symmetry'" in code and "by='sex'" in code
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "<snippet>", "exec"), namespace)
    assert list(namespace["result"].lsmeans()["estimate"]) == pytest.approx(list(lsmeans["estimate"]))


def test_no_hidden_phenotype_count_can_be_recovered_from_the_group_total():
    at = open_page("symptoms", group="diagnosis")
    clean(at)
    table = next(d.value for d in at.dataframe if {"phenotype", "n"} <= set(d.value.columns))
    hidden = table["n"].isna().groupby(table["group"]).sum()
    assert hidden.max() >= 1, "the sample by diagnosis has a phenotype cell below 5 patients"
    assert not (hidden == 1).any(), hidden  # a lone hidden cell = group size minus the others


def test_trajectories_mixed_model_shows_variance_components_and_its_code(sample):
    at = open_page("trajectories", lmm_random="intercept", lmm_origin="most recent infusion")
    clean(at)
    expected = analysis.fit_trajectory(sample, random="~1", time_origin="last_infusion",
                                       time_effect="piecewise").model  # the page's default time effect
    random = next(d.value for d in at.dataframe if "random_effect" in d.value.columns)
    assert list(random["random_effect"]) == ["Intercept (points)"]
    assert random["sd"].iloc[0] == pytest.approx(expected.random.iloc[0, 0] ** 0.5)  # lme4's Std.Dev.
    assert any(f"Residual SD {expected.residual_variance ** 0.5:.2f} points (variance "
               f"{expected.residual_variance:.2f})" in c.value for c in at.caption)
    code = next(c for c in shown_snippets(at) if "fit_trajectory" in c)
    assert "random='~1'" in code and "time_origin='last_infusion'" in code and "time_effect='piecewise'" in code


def test_the_series_curve_does_not_reveal_suppressed_first_response_counts():
    import json

    at = open_page("series", group="route")
    clean(at)
    table = next(d.value for d in at.dataframe if {"first_responses", "suppressed"} <= set(d.value.columns))
    hidden = {(str(g), int(i)) for g, i, s in table[["group", "infusion_number", "suppressed"]].itertuples(index=False)
              if s}
    assert hidden, "the sample by route has small first-response cells"
    curve = next(s for s in plotted(at) if "Cumulative response" in json.dumps(s["layout"].get("title", "")))
    drawn = {(str(trace["name"]), int(x)) for trace in curve["data"] if trace.get("name")
             for x in trace.get("x") or [] if x is not None}
    assert drawn, "no points drawn"
    assert not (hidden & drawn), sorted(hidden & drawn)


# --------------------------------------------------------------------------------------------
# Grouping by anything meaningful, the reference group, messages in words, tables for people,
# links to uploads (issue 10)

GROUPED_PAGES = ["overview", "trajectories", "onset", "durability", "compare", "series", "symptoms", "data",
                 "timeline", "report"]
# pages whose results are not split by "Compare groups by": headline figures of all the patients
# kept, one row per patient, and report cards that keep the grouping of the page they came from
UNGROUPED_PAGES = {"overview", "timeline", "report"}


def _levels_shown(at: AppTest) -> set[str]:
    """The group labels a page shows: its tables' group (and reference) column, Table 1's column
    headers ("single (n=198)") and the names of its charts' traces."""
    shown: set[str] = set()
    for frame in (d.value for d in at.dataframe):
        for column in ("group", "reference"):
            if column in frame.columns:
                shown |= set(frame[column].dropna().astype(str))
        shown |= {str(c).split(" (n=")[0] for c in frame.columns if " (n=" in str(c)}
    for chart in plotted(at):
        shown |= {str(t["name"]) for t in chart["data"] if t.get("name")}
    return shown


def _with_covariates() -> bytes:
    """The sample's single file with two user covariates: smoker (yes/no) and bmi (numeric)."""
    frame = pd.read_csv(io.BytesIO(_sample_single_file()))
    ids = list(dict.fromkeys(frame["patient_id"]))
    frame["smoker"] = frame["patient_id"].map({p: "yes" if i % 3 == 0 else "no" for i, p in enumerate(ids)})
    frame["bmi"] = frame["patient_id"].map({p: 20.0 + (i * 7) % 15 for i, p in enumerate(ids)})
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def covariate_app() -> AppTest:
    """The app with the covariate file uploaded and loaded."""
    return uploaded("with_covariates.csv", _with_covariates())


@pytest.mark.parametrize("group", ["course", "dose band"])
@pytest.mark.parametrize("page", GROUPED_PAGES)
def test_every_page_groups_by_course_and_dose_band(page, group, sample):
    at = open_page(page, group=group, table1="true")
    clean(at)
    assert not at.warning, [w.value for w in at.warning]  # nothing refused, no analysis problem
    levels = analysis.group_patients(sample, group.replace(" ", "_")).levels
    reference = at.selectbox(key="reference")
    assert list(reference.options) == list(levels)
    assert at.session_state["context"].group_levels == tuple(levels)
    if page not in UNGROUPED_PAGES:  # the page's own results are split by the groups
        assert set(map(str, levels)) <= _levels_shown(at), (levels, _levels_shown(at))


@pytest.mark.parametrize("page", GROUPED_PAGES)
def test_every_page_groups_by_a_user_covariate(covariate_app, page):
    at = covariate_app
    options = at.selectbox(key="group").options
    assert "smoker" in options and "bmi" in options  # the dataset's own columns are offered
    at.selectbox(key="group").select("smoker").run()
    if page == "data":
        at.session_state["table1"] = True  # Table 1 open, as ?table1=true opens it
    at = open_page(page, at)
    clean(at)
    assert at.session_state["context"].group_levels == ("no", "yes")
    assert at.session_state["context"].settings.by == "smoker"
    if page not in UNGROUPED_PAGES:
        assert {"no", "yes"} <= _levels_shown(at), _levels_shown(at)


@pytest.mark.parametrize("group", ["course", "dose band", "smoker"])
def test_report_cards_keep_the_grouping_of_their_page(covariate_app, group):
    """A figure added to the report from Durability grouped by course, dose band or the upload's
    own covariate is shown on the Report page with one curve per group."""
    at = covariate_app
    at.selectbox(key="group").select(group).run()
    at = open_page("durability", at)
    clean(at)
    levels = {str(level) for level in at.session_state["context"].group_levels}
    at.session_state[report.CARDS_KEY] = []
    next(b for b in at.button if b.key == "add_figure_durability_sustained_response").click().run()
    at = open_page("report", at)
    clean(at)
    (card,) = at.session_state[report.CARDS_KEY]
    assert card.page == "Durability" and f"by='{group.replace(' ', '_')}'" in card.code
    assert levels and levels <= _levels_shown(at), (levels, _levels_shown(at))


def test_a_numeric_covariate_is_cut_at_its_quartiles(covariate_app):
    at = covariate_app
    at.selectbox(key="group").select("bmi").run()
    at = open_page("overview", at)
    clean(at)
    data = at.session_state["context"].data
    assert at.session_state["context"].group_levels == analysis.group_patients(data, "bmi").levels
    assert len(at.session_state["context"].group_levels) == 4


def test_the_reference_group_reaches_the_analysis_and_the_link(sample):
    at = open_page("compare", group="course", reference="series")
    clean(at)
    assert at.selectbox(key="reference").value == "series"
    settings = at.session_state["context"].settings
    assert settings.reference == "series" and settings.by == "course"
    table = next(d.value for d in at.dataframe if {"group", "reference", "risk_difference"} <= set(d.value.columns))
    assert set(table["reference"].astype(str)) == {"series"}
    expected = analysis.compare_responders(sample, by="course", reference="series", time="visit").table
    assert set(expected["group"].astype(str)) == set(table["group"].astype(str)) == {"single"}
    # the default reference (single) is not written into the call, so cache and snippet stay the same
    at.selectbox(key="reference").select("single").run()
    assert at.session_state["context"].settings.reference is None


def test_age_bands_are_fixed_cut_points():
    from dashboard.state import AGE_BANDS_YEARS

    at = open_page("onset", group="age band")
    clean(at)
    data = at.session_state["context"].data
    expected = analysis.group_patients(data, "age", bins=list(AGE_BANDS_YEARS)).levels
    assert at.session_state["context"].group_levels == expected
    assert at.session_state["context"].settings.call_arguments({"group_bins", "reference"}, {"by": "age"}) == \
        {"by": "age", "group_bins": list(AGE_BANDS_YEARS)}


def test_a_link_with_an_unknown_group_or_reference_names_it():
    at = start(group="shoe size", reference="nobody")  # notes: on the link's first run
    assert not at.exception
    notes = " ".join(w.value for w in at.warning)
    assert "shoe size" in notes and "Compare groups by" in notes
    at = start(group="course", reference="nobody")
    notes = " ".join(w.value for w in at.warning)
    assert "nobody" in notes and "Reference group" in notes
    assert at.selectbox(key="reference").value == "single"
    clean(open_page("overview", at))


def test_an_analysis_problem_is_shown_in_its_own_words_with_the_next_step():
    from unittest.mock import patch

    problem = analysis.AnalysisError("No patient responded, so there is no onset to fit: lower the response "
                                     "threshold.")
    problem.add_note("3 patients had no rating after the infusion.")
    with patch.object(analysis, "fit_onset", side_effect=problem):
        at = open_page("onset", response="40")
    assert not at.exception
    assert not at.error, [e.value for e in at.error]  # not the generic box
    shown = " ".join(w.value for w in at.warning)
    assert "No patient responded" in shown and "lower the response threshold" in shown
    captions = " ".join(c.value for c in at.caption)
    assert "3 patients had no rating" in captions and "sidebar" in captions


def test_an_unexpected_error_gets_an_id_in_the_box_and_in_the_log(caplog):
    from unittest.mock import patch

    with caplog.at_level("ERROR", logger="dashboard"), \
            patch.object(analysis, "fit_onset", side_effect=KeyError("internal detail")):
        at = open_page("onset", response="45")
    assert not at.exception
    box = at.error[0].value
    match = re.search(r"error id \*\*([0-9a-f]{8})\*\*", box)
    assert match, box
    assert any(match.group(1) in record.getMessage() and record.exc_info for record in caplog.records)
    assert "internal detail" not in box and "Traceback" not in box


def test_a_data_problem_inside_a_page_shows_every_message_whole():
    def script():
        import pandas as pd

        from analysis.contract import DataError, problems_frame
        from dashboard.components import page_guard

        long = "The score 75 is above the MADRS maximum of 60: " + "check the export's scale column. " * 6
        with page_guard("the check"):
            raise DataError(problems_frame([{"table": "assessments", "row": 12, "column": "score", "value": 75,
                                             "message": long},
                                            {"table": "patients", "row": pd.NA, "column": None, "value": None,
                                             "message": "No patients table: one IV infusion at time 0 assumed."}]))

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error
    table = at.dataframe[0]
    assert list(table.value["message"].str.len()) == [len(m) for m in table.value["message"]]  # raw, whole
    # the rows are tall enough for the longest message to wrap at 800 px (Streamlit wraps above 64 px)
    longest = int(table.value["message"].str.len().max())
    assert table.proto.row_height >= 21 * (longest // 40) > 64
    shown = table.proto.arrow_data.styler.display_values
    assert b"None" not in shown


def test_tables_show_words_units_and_rounding_but_export_raw_columns():
    from dashboard.tables import column_label, display_options, key_first, p_value_text

    frame = pd.DataFrame({"n_responders": [40, 12], "median_days": [12.345, float("nan")],
                          "sustained_28d": [0.4567, 0.1], "p_value": [0.0004, 0.0312], "group": ["a", "b"]})
    options = display_options(frame)
    assert options["column_order"][0] == "group"  # the key column first
    assert key_first(frame.columns)[0] == "group"
    labels = {name: config["label"] for name, config in options["column_config"].items()}
    assert labels["median_days"] == "Median (days)" and labels["n_responders"] == "Responders"
    assert column_label("median_days_lower") == "Median (days), lower 95% CI"
    assert column_label("n_series_infusions") == "N series infusions"
    text = options["data"].to_string()
    for shown in ("12.3", "not reached", "45.7%", "10.0%", "<0.001", "0.031"):
        assert shown in text, shown
    assert p_value_text(0.41) == "0.41"
    assert options["data"].data is frame  # the data (and the CSV) keep the raw values


def test_a_link_to_an_upload_lands_on_its_page_with_its_settings_once_the_file_is_supplied():
    fingerprint = analysis.load(io.BytesIO(_sample_single_file())).fingerprint
    # the link names the Durability page: open it as the link does (a first run on that page)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in {"dataset": f"upload-{fingerprint}", "group": "route", "response": "60"}.items():
        at.query_params[key] = value
    at.switch_page("dashboard/app_pages/durability.py")
    at.run()
    assert any(fingerprint in i.value for i in at.info)  # asks for the file
    at = open_page("data", at)
    at.file_uploader(key="upload_files").upload("single_file.csv", _sample_single_file()).run()
    clean(at)
    assert at.title[0].value == "Durability"  # back on the page the link named
    settings = at.session_state["context"].settings
    assert settings.group == "route" and settings.response == 0.6
    assert at.session_state["context"].full.fingerprint == fingerprint
    assert at.dataframe, "the durability results are shown"
