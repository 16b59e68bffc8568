"""The public names, parameters and columns that issues 2 and 3 spell out, asserted one by one.

Analysts script against these ("Keep these names stable"): renaming a column or a parameter
must fail here first. Reference: the text of the issues and docs/INTERFACES (the agreed
contract), never our own output. The statistics behind the values are tested elsewhere.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pandas as pd
import pytest

import analysis
from benchmarks.bench_endpoints import numpy_dataset


def _defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def _has_columns(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    assert not missing, f"missing columns {missing}; has {list(frame.columns)}"


@pytest.fixture(scope="module")
def data():
    return numpy_dataset(240, seed=11)


@pytest.fixture(scope="module")
def grouped_data(data):
    patients = data.patients.copy()
    patients["sex"] = pd.array(np.where(np.arange(len(patients)) % 2 == 0, "F", "M"), dtype="string")
    return type(data)(data.assessments, data.infusions, patients)


# --------------------------------------------------------------------------------------------
# issue 2: foundation


def test_package_exports_the_names_of_both_issues():
    for name in ("load", "load_sample", "simulate", "OutcomeData", "DataError", "DataWarning",
                 "get_instrument", "register_instrument", "derive_endpoints", "kaplan_meier", "logrank",
                 "cox", "fit_parametric", "turnbull", "fit_onset", "fit_durability", "relapse_hazards"):
        assert name in analysis.__all__ and callable(getattr(analysis, name)), name


def test_load_signature_and_outcome_data_container(data):
    params = inspect.signature(analysis.load).parameters
    assert list(params)[0] == "path_or_buffer"
    for keyword in ("assessments", "infusions", "patients", "allow_identifiers"):
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["allow_identifiers"].default is False
    assert _defaults(analysis.load_sample)["form"] == "tables"
    assert {"n_patients", "seed"} <= set(inspect.signature(analysis.simulate).parameters)

    assert dataclasses.is_dataclass(analysis.OutcomeData)
    for attribute in ("assessments", "infusions", "patients", "warnings", "source", "truth"):
        assert hasattr(data, attribute), attribute
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.assessments = data.assessments  # the container is immutable
    assert isinstance(data.summary(), pd.DataFrame) and isinstance(data.fingerprint, str)
    _has_columns(data.assessments, ["patient_id", "instrument", "score", "time_hours", "item", "visit",
                                    "infusion_number"])
    _has_columns(data.infusions, ["patient_id", "infusion_number", "time_hours", "dose_mg_per_kg", "route",
                                  "duration_min"])
    _has_columns(data.patients, ["patient_id", "age", "sex", "diagnosis"])


def test_contract_vocabulary_and_problem_table():
    from analysis.contract import DIAGNOSES, ROUTES, problems_frame

    assert set(ROUTES) == {"IV", "IM", "intranasal", "sublingual", "oral", "rectal"}
    assert set(DIAGNOSES) == {"MDD", "TRD", "bipolar", "PTSD", "other"}
    error = analysis.DataError(problems_frame([{"table": "assessments", "row": 3, "column": "score",
                                                "value": "x", "message": "not a number"}]))
    assert isinstance(error, ValueError)
    assert list(error.problems.columns) == ["table", "row", "column", "value", "message"]
    assert "row 3" in str(error) and "not a number" in str(error)
    warning = analysis.DataWarning("code", "message", 2, rows=(1, 2))
    assert (warning.count, warning.rows) == (2, (1, 2))


@pytest.mark.parametrize(("alias", "name"), [
    ("madrs", "MADRS"), ("HAMD", "HAM-D17"), ("HDRS17", "HAM-D17"), ("HAMD17", "HAM-D17"),
    ("QIDS_SR", "QIDS-SR16"), ("PHQ9", "PHQ-9"), ("BDI2", "BDI-II"), ("cadss", "CADSS"), ("gad7", "GAD-7"),
])
def test_instrument_registry_names_and_aliases(alias, name):
    instrument = analysis.get_instrument(alias)
    assert instrument.name == name
    for field in ("min_score", "max_score", "n_items", "item_min", "item_max", "higher_is_worse",
                  "remission_max", "suicidality_item"):
        assert hasattr(instrument, field), field


# --------------------------------------------------------------------------------------------
# issue 3: endpoints


def test_derive_endpoints_parameters_and_tables(data):
    assert _defaults(analysis.derive_endpoints) | {"data": None} == {
        "data": None, "instrument": "MADRS", "response": 0.5, "remission": None,
        "relapse": "loss_of_response", "confirm_visits": 1, "origin": "auto", "series_gap_days": 7.0,
        "intercurrent": None, "competing": None}
    endpoints = analysis.derive_endpoints(data)
    settings = endpoints.settings
    for field in ("instrument", "response", "remission_max", "relapse", "confirm_visits", "origin"):
        assert hasattr(settings, field), field
    assert all(isinstance(line, str) for line in settings.describe()) and len(settings.describe()) >= 5
    _has_columns(endpoints.ratings, [
        "patient_id", "time_hours", "time_days", "visit", "score", "baseline_score", "change", "pct_change",
        "improvement_pct", "responder", "remitter", "is_baseline", "infusion_number", "hours_since_infusion"])
    _has_columns(endpoints.patients, [
        "patient_id", "baseline_score", "n_ratings", "n_infusions", "first_dose_mg_per_kg", "route", "age",
        "sex", "diagnosis", "peak_cadss", "responded", "onset_infusion", "onset_lower_hours",
        "onset_upper_hours", "onset_time_hours", "remitted", "relapsed", "relapse_lower_days",
        "relapse_upper_days", "relapse_time_days", "relapse_event"])
    _has_columns(endpoints.by_infusion, ["patient_id", "infusion_number", "n_ratings", "responder", "remitter",
                                         "best_pct_change", "first_response"])
    _has_columns(endpoints.excluded, ["patient_id", "reason"])
    # the three relapse rules and the other options are accepted under their documented spelling
    for relapse in ("loss_of_response", 22, ("fraction_of_baseline", 0.75)):
        analysis.derive_endpoints(data, relapse=relapse, confirm_visits=2, origin="last_infusion")


# --------------------------------------------------------------------------------------------
# issue 3: estimators


@pytest.fixture(scope="module")
def survival_data():
    rng = np.random.default_rng(4)
    n = 120
    frame = pd.DataFrame({"time": np.round(rng.exponential(10.0, n), 1) + 0.1,
                          "event": rng.random(n) < 0.7,
                          "route": np.where(rng.random(n) < 0.5, "IV", "IM"),
                          "dose": rng.uniform(0.3, 1.0, n)})
    return frame


def test_kaplan_meier_contract(survival_data):
    assert _defaults(analysis.kaplan_meier) == {"time": inspect.Parameter.empty,
                                                 "event": inspect.Parameter.empty,
                                                 "ci": "log-log", "alpha": 0.05, "timefix": True}
    km = analysis.kaplan_meier(survival_data["time"], survival_data["event"])
    assert list(km.table.columns) == ["time", "survival", "se", "lower", "upper", "at_risk", "events",
                                      "censored"]
    assert km.table["time"].is_unique
    assert isinstance(km.median, float) and len(km.median_ci) == 2
    assert list(km.at([1.0, 5.0]).columns) == ["time", "survival", "se", "lower", "upper"]
    assert list(km.risk_table([0.0, 5.0]).columns) == ["time", "at_risk", "events", "censored"]
    rmst = km.rmst(10.0)
    for field in ("estimate", "se", "lower", "upper"):
        assert np.isfinite(getattr(rmst, field)), field
    assert (km.n, km.n_events) == (len(survival_data), int(survival_data["event"].sum()))
    for ci in ("log", "plain"):
        assert analysis.kaplan_meier(survival_data["time"], survival_data["event"], ci=ci).ci == ci


def test_logrank_contract(survival_data):
    defaults = _defaults(analysis.logrank)
    assert defaults["strata"] is None and defaults["weights"] == "logrank"
    args = (survival_data["time"], survival_data["event"], survival_data["route"])
    for weights in ("logrank", "wilcoxon", "tarone-ware", "fleming-harrington"):
        result = analysis.logrank(*args, weights=weights)
        assert np.isfinite(result.statistic) and result.dof == 1 and 0 <= result.p_value <= 1
    _has_columns(result.table, ["group", "n", "observed", "expected"])


def test_cox_contract(survival_data):
    defaults = _defaults(analysis.cox)
    assert defaults["ties"] == "efron" and defaults["strata"] is None
    fit = analysis.cox(survival_data, duration="time", event="event", covariates=["route", "dose"])
    assert list(fit.table.columns) == ["coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"]
    assert list(fit.table.index) == ["route[IV]", "dose"]  # dummy against the first sorted level
    for attribute in ("loglik", "null_loglik", "lr_statistic", "wald_statistic", "wald_p", "score_statistic",
                      "score_p", "concordance"):
        assert np.isfinite(getattr(fit, attribute)), attribute
    assert (fit.n, fit.notes) == (len(survival_data), ())
    ph = fit.ph_test()
    assert list(ph.table.columns) == ["chisq", "df", "p"] and "GLOBAL" in ph.table.index
    assert analysis.cox(survival_data, duration="time", event="event", covariates=["dose"],
                        ties="breslow").ties == "breslow"


@pytest.mark.parametrize("dist", ["weibull", "loglogistic", "lognormal", "exponential"])
def test_fit_parametric_contract(survival_data, dist):
    defaults = _defaults(analysis.fit_parametric)
    assert (defaults["dist"], defaults["covariates"], defaults["cure"]) == ("weibull", None, False)
    time = survival_data["time"].to_numpy()
    lower = np.where(survival_data["event"], np.floor(time), time)
    upper = np.where(survival_data["event"], np.ceil(time), np.inf)
    fit = analysis.fit_parametric(lower, upper, dist=dist, covariates=survival_data[["route", "dose"]])
    assert list(fit.table.columns) == ["coef", "se", "lower", "upper", "p"]
    assert list(fit.table.index) == ["(Intercept)", "route[IV]", "dose"]
    assert list(fit.log_scale.index) == ["coef", "se", "lower", "upper", "p"]
    assert np.isfinite(fit.loglik) and np.isfinite(fit.aic)
    assert fit.median > 0 and fit.median_ci[0] < fit.median < fit.median_ci[1]
    assert list(fit.survival([1.0, 5.0]).columns) == ["time", "survival", "lower", "upper"]
    assert list(fit.cumulative([1.0, 5.0]).columns) == ["time", "cumulative", "lower", "upper"]
    # 40 more subjects followed far beyond every event without one: a cure fraction of about 1/4
    cure = analysis.fit_parametric(np.r_[lower, np.full(40, 500.0)], np.r_[upper, np.full(40, np.inf)],
                                   dist=dist, cure=True)
    assert cure.notes == ()
    assert cure.cure_fraction_ci[0] < cure.cure_fraction < cure.cure_fraction_ci[1]
    assert 0.1 < cure.cure_fraction < 0.5


def test_turnbull_contract():
    fit = analysis.turnbull([0.0, 1.0, 2.0, 3.0], [2.0, 3.0, np.inf, 3.0])
    assert list(fit.table.columns) == ["lower", "upper", "probability", "survival"]
    assert list(fit.survival_at([0.5, 4.0]).columns) == ["time", "survival"]


# --------------------------------------------------------------------------------------------
# issue 3: the mission's curves

ONSET_SUMMARY = ["n", "responders", "response_probability", "response_probability_lower",
                 "response_probability_upper", "median_onset_hours", "median_onset_hours_lower",
                 "median_onset_hours_upper", "responding_by_4h", "responding_by_24h"]
DURABILITY_SUMMARY = ["n_responders", "relapses", "median_days", "median_days_lower", "median_days_upper",
                      "sustained_7d", "sustained_14d", "sustained_21d", "sustained_28d"]


def test_fit_onset_contract(data, grouped_data):
    defaults = _defaults(analysis.fit_onset)
    assert defaults["instrument"] == "MADRS" and defaults["by"] is None
    fit = analysis.fit_onset(data)
    summary = fit.summary()
    _has_columns(summary, ONSET_SUMMARY)
    assert list(summary.index) == ["all"]
    assert list(fit.curve.columns) == ["group", "time_hours", "cumulative_response", "lower", "upper", "source"]
    assert {"turnbull", "model"} <= set(fit.curve["source"])
    assert fit.test is None and isinstance(fit.notes, tuple)
    assert fit.settings is fit.endpoints.settings
    by_sex = analysis.fit_onset(grouped_data, by="sex")
    assert list(by_sex.summary().index) == ["F", "M"]
    _has_columns(by_sex.test, ["test", "statistic", "dof", "p_value"])


def test_fit_durability_and_relapse_hazards_contract(data, grouped_data):
    defaults = _defaults(analysis.fit_durability)
    assert (defaults["instrument"], defaults["by"], defaults["origin"]) == ("MADRS", None, None)  # None = auto
    fit = analysis.fit_durability(data)
    _has_columns(fit.summary(), DURABILITY_SUMMARY)
    assert list(fit.summary().index) == ["all"]
    assert list(fit.curve.columns) == ["group", "time_days", "survival", "lower", "upper", "at_risk", "events",
                                       "censored"]
    assert list(fit.risk_table.columns) == ["group", "time_days", "at_risk", "events", "censored"]
    assert list(fit.model_curve.columns) == ["group", "time_days", "survival", "lower", "upper"]
    assert fit.logrank is None and fit.settings.origin == "auto"
    by_sex = analysis.fit_durability(grouped_data, by="sex", origin="last_infusion")
    assert by_sex.settings.origin == "last_infusion"
    assert by_sex.logrank is not None and 0 <= by_sex.logrank.p_value <= 1

    from analysis.durability import DEFAULT_RELAPSE_COVARIATES

    # the covariates issue 3 lists: dose, route, diagnosis, baseline severity, peak dissociation,
    # number of infusions, age, sex
    assert set(DEFAULT_RELAPSE_COVARIATES) == {"first_dose_mg_per_kg", "route", "diagnosis", "baseline_score",
                                               "peak_cadss", "n_infusions", "age", "sex"}
    hazards = analysis.relapse_hazards(grouped_data, covariates=["dose_mg_per_kg", "sex", "baseline_score"])
    assert list(hazards.table.columns) == ["coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"]
    assert {"first_dose_mg_per_kg", "sex[M]", "baseline_score"} == set(hazards.table.index)
    assert isinstance(hazards.notes, tuple)


def test_analyses_never_change_the_data(grouped_data):
    # OutcomeData is frozen, but its tables are ordinary DataFrames: no analysis may write to them
    before = {name: getattr(grouped_data, name).copy(deep=True) for name in ("assessments", "infusions",
                                                                             "patients")}
    analysis.derive_endpoints(grouped_data, relapse=22, confirm_visits=2)
    analysis.fit_onset(grouped_data, by="sex")
    analysis.fit_durability(grouped_data, by="duration_min", origin="last_infusion")
    analysis.relapse_hazards(grouped_data, covariates=["sex", "baseline_score", "dose_mg_per_kg"])
    for name, table in before.items():
        pd.testing.assert_frame_equal(getattr(grouped_data, name), table, obj=name)


def test_readme_data_dictionary_is_generated_from_the_contract():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dictionary = analysis.data_dictionary()
    assert {"table", "column", "type", "required", "unit", "also accepted as", "checks", "meaning"} <= set(dictionary)
    # Dose and route are optional in the loader, so they must be optional in the dictionary too.
    infusions = dictionary[dictionary["table"] == "infusions"].set_index("column")
    assert infusions.loc[["dose_mg_per_kg", "route"], "required"].tolist() == ["no", "no"]
    check = subprocess.run([sys.executable, str(root / "docs" / "make_data_dictionary.py"), "--check"], cwd=root)
    assert check.returncode == 0, "README.md's data dictionary is out of date: run docs/make_data_dictionary.py"


def test_api_reference_is_generated_from_the_public_names():
    import subprocess
    import sys
    from pathlib import Path

    # docs/api.md lagged the signatures twice before this test: a changed signature or docstring
    # summary now fails until the page is regenerated
    root = Path(__file__).resolve().parents[2]
    check = subprocess.run([sys.executable, str(root / "docs" / "make_api_reference.py"), "--check"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_loaded_data_carries_mapping_events_and_clock_time():
    data = analysis.load_sample("single")
    assert isinstance(data.mapping, analysis.Mapping) and data.mapping.describe()
    assert list(data.events.columns) == ["patient_id", "time_hours", "event", "detail"] and data.has_clock_time
