"""fit_durability and relapse_hazards: Kaplan-Meier and log-rank against lifelines on the same
endpoint data, Cox against lifelines, small-group handling, and recovery of a known durability
from simulated data (``analysis.simulate``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.durability import fit_durability, relapse_hazards
from benchmarks.bench_endpoints import numpy_dataset


@pytest.fixture(scope="module")
def data():
    return numpy_dataset(1200, seed=3)


@pytest.fixture(scope="module")
def fit(data):
    return fit_durability(data, by="diagnosis")


def test_kaplan_meier_matches_lifelines(fit):
    lifelines = pytest.importorskip("lifelines")
    responders = fit.endpoints.patients[fit.endpoints.patients["responded"]]
    for group, rows in responders.groupby("diagnosis"):
        kmf = lifelines.KaplanMeierFitter(alpha=0.05).fit(
            rows["relapse_time_days"], rows["relapse_event"].astype(bool))
        ours = fit.curve[fit.curve["group"] == group].set_index("time_days")
        theirs = kmf.survival_function_.iloc[:, 0]
        assert_allclose(ours["survival"].to_numpy(), theirs.reindex(ours.index).to_numpy(), rtol=1e-10)
        ci = kmf.confidence_interval_survival_function_.reindex(ours.index)
        # lifelines' default band is the log(-log) (exponential Greenwood) one, as ours
        assert_allclose(ours["lower"].iloc[1:], ci.iloc[1:, 0], rtol=1e-6)
        assert_allclose(ours["upper"].iloc[1:], ci.iloc[1:, 1], rtol=1e-6)
        events = kmf.event_table.reindex(ours.index)
        assert_allclose(ours["at_risk"].iloc[1:], events["at_risk"].iloc[1:])
        assert_allclose(ours["events"].iloc[1:], events["observed"].iloc[1:])
        row = fit.summary().loc[group]
        assert row["n_responders"] == len(rows)
        assert row["relapses"] == int(rows["relapse_event"].sum())
        assert row["km_median_days"] == pytest.approx(kmf.median_survival_time_)
        for day in (7, 14, 21, 28):
            if day <= rows["relapse_time_days"].max():
                assert row[f"km_sustained_{day}d"] == pytest.approx(float(kmf.predict(day)), rel=1e-10)
            else:  # beyond the last follow-up: not estimated
                assert np.isnan(row[f"km_sustained_{day}d"]) and np.isnan(row[f"sustained_{day}d"])


def test_risk_table_and_logrank(fit):
    pytest.importorskip("lifelines")
    from lifelines.statistics import multivariate_logrank_test

    rt = fit.risk_table
    assert list(rt.columns) == ["group", "time_days", "at_risk", "events", "censored"]
    first = rt[rt["group"] == "MDD"]
    assert first["time_days"].iloc[:5].tolist() == [0, 7, 14, 21, 28]
    responders = fit.endpoints.patients[fit.endpoints.patients["responded"]]
    mdd = responders[responders["diagnosis"] == "MDD"]
    assert first["at_risk"].iloc[0] == len(mdd)
    at_14 = int((mdd["relapse_time_days"] >= 14).sum())
    assert first.set_index("time_days").loc[14.0, "at_risk"] == at_14
    assert np.all(np.diff(first["events"].to_numpy()) >= 0)
    ref = multivariate_logrank_test(responders["relapse_time_days"], responders["diagnosis"],
                                    responders["relapse_event"].astype(bool))
    assert fit.logrank.statistic == pytest.approx(ref.test_statistic, rel=1e-6)
    assert fit.logrank.p_value == pytest.approx(ref.p_value, rel=1e-6)


def test_model_curve_and_invariants(fit):
    mc = fit.model_curve
    assert set(mc["group"]) == {"MDD", "TRD"}
    for _, g in mc.groupby("group"):
        s = g["survival"].to_numpy()
        assert np.all(np.diff(s) <= 1e-12) and s[0] == pytest.approx(1.0)
        assert np.all((g["lower"] <= g["survival"] + 1e-12) & (g["survival"] <= g["upper"] + 1e-12))
    for _, g in fit.curve.groupby("group"):
        assert np.all(np.diff(g["survival"].to_numpy()) <= 0)
        assert g["survival"].between(0, 1).all()
    s = fit.summary()
    assert (s["median_days_lower"] <= s["median_days"]).all()
    assert (s["model_median_days_lower"] < s["model_median_days"]).all()
    assert (s["model_median_days"] < s["model_median_days_upper"]).all()
    assert fit.settings.origin == "auto" and fit.settings.relapse == "loss_of_response"
    assert (s["origin"] == "auto").all() and any(n.startswith("origin: ") for n in fit.notes)


def test_options_reach_endpoints(data):
    strict = fit_durability(data, relapse=22, confirm_visits=2, origin="last_infusion")
    assert (strict.settings.relapse, strict.settings.confirm_visits, strict.settings.origin) == (
        22.0, 2, "last_infusion")
    base = fit_durability(data)
    # a confirmed absolute threshold relapses no more often than loss of response
    assert strict.summary().loc["all", "relapses"] <= base.summary().loc["all", "relapses"]


def test_small_groups_do_not_crash(data):
    # by a column with many numeric values -> quartile bins; then a group with 1 responder
    fit = fit_durability(data, by="age")
    assert len(fit.summary()) == 4 and any("quartiles" in n for n in fit.notes)
    responders = fit.endpoints.patients.loc[fit.endpoints.patients["responded"], "patient_id"]
    tiny = data.patients.copy()
    tiny["site"] = np.where(tiny["patient_id"].isin(responders.iloc[:2]), "small", "big")
    small = fit_durability(type(data)(data.assessments, data.infusions, tiny), by="site").summary()
    assert small.loc["small", "n_responders"] == 2
    assert np.isnan(small.loc["small", "model_median_days"]) and "too few" in small.loc["small", "note"]
    assert not np.isnan(small.loc["big", "model_median_days"])


def test_relapse_hazards_against_lifelines(data):
    lifelines = pytest.importorskip("lifelines")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = relapse_hazards(data)
    assert any("route" in str(w.message) for w in caught)  # every patient IV: dropped
    assert "diagnosis[TRD]" in result.table.index and "sex[M]" in result.table.index
    ep_frame = fit_durability(data).endpoints.patients
    frame = ep_frame[ep_frame["responded"]].copy()
    x = pd.DataFrame({
        "first_dose_mg_per_kg": frame["first_dose_mg_per_kg"],
        "diagnosis_TRD": (frame["diagnosis"] == "TRD").astype(float),
        "baseline_score": frame["baseline_score"], "age": frame["age"],
        "sex_M": (frame["sex"] == "M").astype(float),
        "T": frame["relapse_time_days"], "E": frame["relapse_event"].astype(float)})
    cph = lifelines.CoxPHFitter().fit(x, "T", "E")
    assert_allclose(result.table["coef"].to_numpy(), cph.params_.to_numpy(), rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError):
        relapse_hazards(data, covariates=["no_such_column"])


# ----------------------------------------------------------------------------------------------
# recovery on analysis.simulate (known truth)

HOMOGENEOUS = {"series_fraction": 0.0, "route_probabilities": {"IV": 1.0},
               "dose_probabilities": {0.5: 1.0}, "items": False}


def test_recovers_simulated_durability_and_hazard_ratio():
    simulation = pytest.importorskip("analysis.simulation")
    data = simulation.simulate(1500, seed=7, diagnosis_probabilities={"TRD": 0.5, "MDD": 0.5},
                               relapse_hazard_ratios={"diagnosis": {"MDD": 2.0}},
                               response_diagnosis_logit={"TRD": 0.5, "MDD": 0.5}, **HOMOGENEOUS)
    medians = data.truth.durability_median_days_by_group["single"]
    assert medians["all"] == 21.0  # "about 3 weeks"
    fit = fit_durability(data, by="diagnosis")
    s = fit.summary()
    for group, truth in (("TRD", medians["all"]), ("MDD", medians["diagnosis=MDD"])):
        est, lo, hi = s.loc[group, ["model_median_days", "model_median_days_lower", "model_median_days_upper"]]
        se = (np.log(hi) - np.log(lo)) / (2 * 1.96)
        assert se < 0.1  # ~500 responders per group
        assert abs(np.log(est) - np.log(truth)) <= 4 * se
    assert fit.logrank.p_value < 1e-4
    # Cox on the visit-dated times: hazard ratio near the true 2 (visit dating blurs it a little)
    hr = relapse_hazards(data, covariates=["diagnosis"]).table.loc["diagnosis[TRD]", "hr"]
    assert 1 / hr == pytest.approx(2.0, rel=0.35)


def test_accepts_derived_endpoints(data):
    from analysis.endpoints import derive_endpoints

    ep = derive_endpoints(data, relapse=22)
    shared = fit_durability(ep)
    direct = fit_durability(data, relapse=22)
    pd.testing.assert_frame_equal(shared.summary(), direct.summary())
    with pytest.raises(ValueError):
        fit_durability(ep, relapse=20)
    with pytest.raises(ValueError):
        fit_durability(ep, origin="last_infusion")


def test_model_problems_become_notes_not_warnings(data, monkeypatch):
    import dataclasses

    import analysis.survival.parametric as parametric

    real = parametric.fit_parametric_quiet

    def troubled(lower, upper, **options):
        # the real fit, flagged as problematic: what a small or odd group would produce
        return dataclasses.replace(real(lower, upper, **options), notes=("the likelihood maximisation "
                                                                          "did not converge (test)",))

    monkeypatch.setattr(parametric, "fit_parametric_quiet", troubled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit_durability(data, by="diagnosis")
    s = result.summary()
    for group in s.index:  # in plain words, per group
        assert "parametric model: its fit did not converge" in s.loc[group, "note"]
        assert f"group {group!r}: parametric model: its fit did not converge: treat its estimates with caution" \
            in result.notes


def test_real_fits_on_small_groups_do_not_warn():
    simulation = pytest.importorskip("analysis.simulation")
    small = simulation.simulate(40, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for by in (None, "route", "diagnosis", "sex"):
            fit_durability(small, by=by)
            fit_durability(small, by=by, origin="last_infusion", relapse=22, confirm_visits=2)


def test_relapse_hazards_notes_dropped_covariates(data):
    with pytest.warns(UserWarning, match="route"):
        result = relapse_hazards(data)  # every patient IV: route cannot be estimated
    assert any("dropped" in note and "route" in note for note in result.notes)
    assert "route[IM]" not in result.table.index
    quiet = relapse_hazards(data, covariates=["baseline_score", "age"]).notes
    assert len(quiet) == 1 and quiet[0].startswith("relapse_hazards: time to relapse in days from response onset")


def test_by_infusion_level_column(data):
    infusions = data.infusions.copy()
    first = ~infusions["patient_id"].duplicated()
    patient_number = pd.factorize(infusions["patient_id"])[0]
    # the pump of the first infusion alternates by patient; later infusions use the other pump
    pump_a = (patient_number % 2 == 0) == first.to_numpy()
    infusions["pump"] = pd.array(np.where(pump_a, "A", "B"), dtype="string")
    data2 = type(data)(data.assessments, infusions, data.patients)
    result = fit_durability(data2, by="pump")
    pump_of = dict(zip(infusions.loc[first, "patient_id"], infusions.loc[first, "pump"], strict=True))
    responders = result.endpoints.patients.loc[result.endpoints.patients["responded"], "patient_id"]
    expected = pd.Series([pump_of[p] for p in responders]).value_counts()
    assert result.summary()["n_responders"].to_dict() == expected.to_dict()
    assert result.logrank is not None and result.logrank.dof == 1


def test_relapse_hazards_accepts_an_infusion_level_covariate(data):
    infusions = data.infusions.copy()
    first = ~infusions["patient_id"].duplicated()
    patient_number = pd.factorize(infusions["patient_id"])[0]
    minutes = np.where((patient_number % 3 == 0) == first.to_numpy(), 40.0, 15.0)
    infusions["duration_min"] = minutes
    with_infusions = type(data)(data.assessments, infusions, data.patients)
    # the same value given as a patient covariate: the first infusion's duration
    first_minutes = dict(zip(infusions.loc[first, "patient_id"], minutes[first.to_numpy()], strict=True))
    patients = data.patients.assign(first_minutes=[first_minutes[p] for p in data.patients["patient_id"]])
    as_patient = type(data)(data.assessments, data.infusions, patients)
    a = relapse_hazards(with_infusions, covariates=["baseline_score", "duration_min"])
    b = relapse_hazards(as_patient, covariates=["baseline_score", "first_minutes"])
    assert list(a.table.index) == ["baseline_score", "duration_min"]
    assert_allclose(a.table["coef"].to_numpy(), b.table["coef"].to_numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="infusions table"):
        relapse_hazards(with_infusions, covariates=["no_such_column"])
