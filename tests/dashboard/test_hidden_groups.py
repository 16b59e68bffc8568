"""Groups hidden by the minimum cell size, and estimates the model cannot support, are said in
words beside the numbers (issue 10).

The dataset: the bundled sample's single file with a user covariate ``clinic`` whose rare levels
are chosen from the sample's own endpoints: ``east`` (3 responders, none relapsed, and one
non-responder: below the minimum cell size of 5, so hidden from the figures) and ``west`` (6
responders, none relapsed: drawn, but its Cox hazard ratio runs off to 0). The log-rank test
stays over all groups (the library's test, the one the page's Python code prints): hiding a
group is disclosure control of the display, not a change of the analysis. The page says so next
to the p-value, and the p-value equals R's ``survdiff`` on the same four groups (script and
output below).
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import analysis
from analysis.figures.survival import groups_tested_text
from tests.dashboard.apptest import charts

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "data" / "sample" / "single_file.csv"
TIMEOUT = 300  # shared machine: the first run imports statsmodels and fits

# R 4.2.2, survival 3.5.3: responders' relapse_time_days, relapse_event and clinic written from
# analysis.fit_durability(data, by="clinic", origin=...).endpoints.patients of _clinic_file();
# lr_onset.csv: every patient's onset interval upper end (lower end when never seen responding,
# censored) and clinic, from derive_endpoints(data).patients as fit_onset reads them
R_SCRIPT = """
library(survival)
for (f in c("lr_response.csv", "lr_auto.csv", "lr_onset.csv")) {
  d <- read.csv(f)
  fit <- survdiff(Surv(time, event) ~ clinic, data = d)
  print(fit)
  cat(sprintf("chisq %.10f df %d p %.10g\\n", fit$chisq, length(fit$n) - 1,
              pchisq(fit$chisq, length(fit$n) - 1, lower.tail = FALSE)))
}
"""
R_OUTPUT = """
              N Observed Expected (O-E)^2/E (O-E)^2/V
clinic=east   3        0     2.15     2.153     2.238
clinic=north 78       37    33.71     0.322     0.527
clinic=south 77       51    41.78     2.035     3.892
clinic=west   6        0    10.36    10.360    12.194
chisq 15.1606714963 df 3 p 0.001684366621

              N Observed Expected (O-E)^2/E (O-E)^2/V
clinic=east   3        0     1.61     1.611     1.661
clinic=north 78       37    33.13     0.453     0.744
clinic=south 77       51    43.46     1.310     2.656
clinic=west   6        0     9.80     9.805    11.411
chisq 13.4519603401 df 3 p 0.003754505116

               N Observed Expected (O-E)^2/E (O-E)^2/V
clinic=east    4        3     1.85    0.7226    0.7662
clinic=north 144       78    80.95    0.1074    0.2208
clinic=south 146       77    78.36    0.0238    0.0474
clinic=west    6        6     2.84    3.5121    3.7409
chisq 4.5721060268 df 3 p 0.2059480674
"""
# origin -> (chi-square, df, p, expected relapses east, north, south, west)
R_SURVDIFF = {"response": (15.1606714963, 3, 0.001684366621, (2.15, 33.71, 41.78, 10.36)),
              "auto": (13.4519603401, 3, 0.003754505116, (1.61, 33.13, 43.46, 9.80))}
# onset: log-rank on the intervals' upper ends (near-equal hours are ties, as survdiff's timefix)
R_ONSET_LOGRANK = (4.5721060268, 3, 0.2059480674)
WORDS_NOT_NUMBERS = re.compile(r"\binf\b|\bn/a\b|\bnan\b|\bNone\b", re.IGNORECASE)


def _clinic_file() -> bytes:
    frame = pd.read_csv(SAMPLE)
    patients = analysis.derive_endpoints(analysis.load(SAMPLE)).patients.sort_values("patient_id")
    responded = patients["responded"].astype(bool)
    lasting = patients[responded & ~patients["relapse_event"].astype(bool) & (patients["relapse_time_days"] > 7)]
    east = [*lasting["patient_id"][:3], *patients.loc[~responded, "patient_id"][:1]]
    west = list(lasting["patient_id"][3:9])
    ids = list(dict.fromkeys(frame["patient_id"]))
    clinic = {p: "east" if p in east else "west" if p in west else "north" if i % 2 else "south"
              for i, p in enumerate(ids)}
    return frame.assign(clinic=frame["patient_id"].map(clinic)).to_csv(index=False).encode()


@pytest.fixture(scope="module")
def content() -> bytes:
    return _clinic_file()


@pytest.fixture(scope="module")
def data(content) -> analysis.OutcomeData:
    return analysis.load(io.BytesIO(content))


def _clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def app(content) -> AppTest:
    """A session with the clinic file uploaded, grouped by clinic against north."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("dashboard/app_pages/data.py")
    at.run()
    at.segmented_control(key="data_source").set_value("Upload").run()
    at.file_uploader(key="upload_files").upload("clinic.csv", content).run()
    next(b for b in at.button if b.key == "load_upload").click().run()
    _clean(at)
    at.selectbox(key="group").select("clinic").run()
    at.selectbox(key="reference").select("north").run()
    return _clean(at)


def _page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"dashboard/app_pages/{page}.py")
    return _clean(at.run())


def _charts(at: AppTest) -> list[dict]:
    return [chart.figure for chart in charts(at)]


def _annotations(chart: dict) -> str:
    return " ".join(a.get("text", "") for a in chart["layout"].get("annotations", []))


def _texts(at: AppTest) -> list[str]:
    return [str(e.value) for kind in ("markdown", "caption", "info", "warning") for e in getattr(at, kind)]


def test_the_dataset_has_one_group_below_the_minimum_cell_size(data):
    fit = analysis.fit_durability(data, by="clinic", origin="response")
    assert fit.summary()["n_responders"].to_dict() == {"east": 3, "north": 78, "south": 77, "west": 6}
    assert fit.summary()["relapses"].to_dict() == {"east": 0, "north": 37, "south": 51, "west": 0}


@pytest.mark.parametrize("origin", ["response", "auto"])
def test_the_library_log_rank_equals_r_survdiff_over_all_groups(data, origin):
    fit = analysis.fit_durability(data, by="clinic", origin=None if origin == "auto" else origin)
    chisq, dof, p, expected = R_SURVDIFF[origin]
    assert fit.logrank.dof == dof
    np.testing.assert_allclose(fit.logrank.statistic, chisq, rtol=1e-8)
    np.testing.assert_allclose(fit.logrank.p_value, p, rtol=1e-7)
    np.testing.assert_allclose(fit.logrank.table.set_index("group").loc[["east", "north", "south", "west"],
                                                                         "expected"], expected, atol=0.006)


def test_durability_says_the_test_includes_the_hidden_group(app, data):
    at = _page(app, "durability")
    chart = _charts(at)[0]
    drawn = {t.get("name") for t in chart["data"]}
    assert "west" in drawn and not any(str(name).startswith("east") for name in drawn)
    chisq, dof, p, _ = R_SURVDIFF["response"]  # the page counts from response by default
    text = _annotations(chart)
    assert f"Log-rank p = {p:.3f} (\u03c7\u00b2 {chisq:.2f}, {dof} df)<br>over all 4 groups, 1 not drawn" in text
    statement = next(t for t in _texts(at) if "Log-rank test across clinic" in t)
    shown_p = float(re.search(r"p = ([0-9.e-]+)", statement).group(1))
    assert shown_p == pytest.approx(p, rel=5e-3)  # printed to 3 significant digits
    assert "over all 4 groups, 1 of them not drawn (fewer than 5 responders: east)" in statement
    assert any("not drawn: east" in t for t in _texts(at))


def test_compare_log_rank_says_it_includes_the_group_its_table_hides(app):
    at = _page(app, "compare")
    chisq, dof, p, _ = R_SURVDIFF["auto"]  # Compare uses the library's default origin
    statement = next(t for t in _texts(at) if "Log-rank test of time to relapse" in t)
    assert f"chi-square {chisq:.2f} on {dof} df, p = {p:.3g}" in statement
    assert "over all 4 groups, 1 of them not shown (fewer than 5 responders: east)" in statement
    observed = next(d.value for d in at.dataframe if "expected" in d.value.columns)
    assert observed.set_index("group").loc["east", "suppressed"]


def test_compare_cox_rows_say_what_is_hidden_and_what_cannot_be_estimated(app):
    at = _page(app, "compare")
    at.multiselect(key="cox_covariates").set_value(["baseline_score", "clinic"]).run()
    _clean(at)
    forest = next(c for c in _charts(at) if "Hazard ratio" in c["layout"]["xaxis"]["title"]["text"])
    rows = next(t for t in forest["data"] if t.get("mode") == "text")
    labels = [y.replace("<br>", " ") for y in rows["y"]]
    assert "clinic: east vs north" not in labels  # 3 responders: below the minimum cell size
    by_label = dict(zip(labels, [t.replace("<br>", " ") for t in rows["text"]], strict=True))
    assert by_label["clinic: west vs north"] == "not estimable: no relapse among the 6 responders at west"
    assert re.match(r"[\d.]+ \([\d.]+\u2013[\d.]+\) p [\d.]+", by_label["clinic: south vs north"])
    texts = _texts(at)
    assert any("Not shown, fewer than 5 responders" in t and "clinic: east vs north" in t for t in texts)
    assert any(t.startswith("clinic: west vs north: not estimable: no relapse") for t in texts)
    table = next(d.value for d in at.dataframe if "hr_lower" in d.value.columns)
    assert "clinic[east]" not in table.index
    numbers = table.select_dtypes("number").to_numpy(float)
    assert not np.isinf(numbers).any()
    for text in [*rows["text"], _annotations(forest), *texts]:
        assert not WORDS_NOT_NUMBERS.search(text.replace("Nonetheless", "")), text


def test_compare_responder_differences_say_what_is_suppressed(app, data):
    at = _page(app, "compare")
    table = next(d.value for d in at.dataframe if "risk_difference" in d.value.columns)
    assert not np.isinf(table.select_dtypes("number").to_numpy(float)).any()
    point = at.selectbox(key="compare_time").value
    expected = analysis.compare_responders(data, by="clinic", reference="north", time="visit").table
    expected = expected[expected["time_point"].astype(str) == point]
    small = expected[expected[["n", "n_reference"]].min(axis=1) < 5]
    assert len(small)  # the rare clinics are rated too rarely at this visit
    hidden = table[table["suppressed"].astype(bool)]
    pairs = sorted(zip(hidden["outcome"], hidden["group"], strict=True))
    assert pairs == sorted(zip(small["outcome"], small["group"], strict=True))
    note = next(t for t in _texts(at) if "suppressed (" in t and point in t)
    for outcome, group in zip(small["outcome"], small["group"], strict=True):
        assert f"{point} / {outcome} / {group} / north" in note


def test_onset_says_its_tests_include_the_hidden_group(app, data):
    at = _page(app, "onset")
    chart = _charts(at)[0]
    assert "(tests over all 4 groups, 1 not drawn)" in _annotations(chart)
    assert any(t.startswith("Both tests are over all 4 groups, 1 of them not drawn (fewer than 5 patients: east)")
               for t in _texts(at))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onset = analysis.fit_onset(data, by="clinic")
    logrank = onset.test.set_index("test").loc["logrank_upper"]
    chisq, dof, p = R_ONSET_LOGRANK
    assert logrank["dof"] == dof
    np.testing.assert_allclose([logrank["statistic"], logrank["p_value"]], [chisq, p], rtol=1e-7)
    assert f"Log-rank: p = {p:.2f}" in _annotations(chart)


def test_groups_tested_text():
    assert groups_tested_text(["a", "b", "c"], ["c", "x"]) == "over all 3 groups, 1 not drawn"
    assert groups_tested_text(["a", "b"], []) == ""
    assert groups_tested_text(["a", "b"], ["x"]) == ""  # a group not in the test is not counted
