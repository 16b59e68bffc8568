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


# ----------------------------------------------------------------------------------------------
# the headline median: Turnbull against R, truth recovery, what cannot be estimated

# R 4.2, survival 3.4: the Turnbull estimate of survfit on interval2 data and its median.
R_TURNBULL_SCRIPT = r"""
library(survival)
L0 <- c(21, 3, 21, 28, 35, 10, 10, 10, 7, 21, 10, 10, 14, 10, 21, 14, 21, 10, 14, 10, 14, 14, 14, 28, 3, 21, 28, 10, 21, 7, 21, 21, 21, 21, 0, 10, 7, 7, 14, 10)
R0 <- c(28, 7, 28, NA, NA, 14, NA, NA, 10, NA, 14, 14, 21, 14, 28, NA, NA, 14, NA, 14, NA, NA, NA, 35, 7, 28, NA, NA, 28, 10, 28, 28, NA, NA, 3, NA, 10, 10, 21, NA)
L1 <- c(10, 21, 35, 7, 21, 10, 7, 10, 14, 28, 10, 3, 10, 10, 14, 21, 14, 3, 3, 7, 3, 14, 10, 3, 14)
R1 <- c(NA, NA, NA, 10, NA, NA, 10, NA, NA, NA, 14, 7, NA, 14, 21, NA, NA, 7, 7, 10, 7, NA, 14, 7, 21)
L2 <- c(7, 21, 21, 21, 28, 21, 0, 10, 14, 21, 28, 3, 14, 28, 14, 10, 28, 35, 10, 3, 21, 10, 3, 14, 21, 14, 14, 10, 14, 10, 14, 14, 10, 14, 10, 28, 21, 14, 14, 14, 35, 21, 28, 14, 14, 28, 28, 10, 7, 28, 3, 21, 14, 10, 28, 3, 28, 28, 7, 7)
R2 <- c(10, NA, NA, NA, NA, NA, 3, 14, NA, NA, NA, 7, 21, NA, NA, NA, 35, NA, NA, 7, NA, 14, 7, NA, NA, NA, 21, NA, NA, NA, 21, NA, NA, NA, NA, 35, 28, NA, NA, 21, NA, NA, NA, 21, 21, NA, NA, NA, 10, 35, 7, 28, 21, NA, NA, 7, NA, NA, 10, 10)
for (k in 0:2) {
  l <- get(paste0("L", k)); r <- get(paste0("R", k))
  f <- survfit(Surv(l, r, type = "interval2") ~ 1)
  cat(sprintf("case %d: median %s\n", k, format(summary(f)$table["median"], digits = 10)))
  s <- summary(f)
  cat(sprintf("case %d times: %s\n", k, paste(format(s$time, digits = 10), collapse = ", ")))
  cat(sprintf("case %d surv: %s\n", k, paste(format(s$surv, digits = 10), collapse = ", ")))
}
"""
R_TURNBULL_OUTPUT = """
case 0: median 24.5
case 0 times:  1.5,  5.0,  8.5, 12.0, 17.5, 24.5, 31.5
case 0 surv: 0.9750000000, 0.9250000000, 0.8250000000, 0.6482142857, 0.5719537815, 0.2079831933, 0.1039915966
case 1: median 17.5
case 1 times:  5.0,  8.5, 12.0, 17.5
case 1 surv: 0.8000000000, 0.6800000000, 0.5230769231, 0.3736263736
case 2: median 31.5
case 2 times:  1.5,  5.0,  8.5, 12.0, 17.5, 24.5, 31.5
case 2 surv: 0.9833333333, 0.9000000000, 0.8333333333, 0.7936507937, 0.6144393241, 0.5376344086, 0.2150537634
"""


def _r_cases():
    import re

    values = dict(re.findall(r"^([LR]\d) <- c\((.*)\)$", R_TURNBULL_SCRIPT, flags=re.M))
    cases = {}
    for k in range(3):
        lower = np.array([float(v) for v in values[f"L{k}"].split(",")])
        upper = np.array([np.inf if v.strip() == "NA" else float(v) for v in values[f"R{k}"].split(",")])
        median = float(re.search(rf"case {k}: median (\S+)", R_TURNBULL_OUTPUT).group(1))
        times = [float(v) for v in re.search(rf"case {k} times: (.*)", R_TURNBULL_OUTPUT).group(1).split(",")]
        surv = [float(v) for v in re.search(rf"case {k} surv: (.*)", R_TURNBULL_OUTPUT).group(1).split(",")]
        cases[k] = (lower, upper, median, times, surv)
    return cases


@pytest.mark.parametrize("case", [0, 1, 2])
def test_turnbull_median_matches_r(case):
    from analysis.durability import turnbull_median
    from analysis.survival.turnbull import turnbull

    lower, upper, median, times, surv = _r_cases()[case]
    fit = turnbull(lower, upper)
    table = fit.table[np.isfinite(fit.table["upper"])]
    # R places each support interval's mass at its midpoint
    assert_allclose(0.5 * (table["lower"] + table["upper"]), times)
    assert_allclose(table["survival"], surv, atol=5e-9)
    assert turnbull_median(fit) == pytest.approx(median)


def _planned_course(data):
    """The planned course of the simulator as a patient column (the derived course of patients who
    stopped after the first infusion of a planned series is "single")."""
    import dataclasses

    return dataclasses.replace(data, patients=data.patients.assign(planned=data.patients["course"]),
                               _fingerprint=[])


def test_headline_median_recovers_the_truth_where_kaplan_meier_is_late():
    simulation = pytest.importorskip("analysis.simulation")
    data = _planned_course(simulation.simulate(n_patients=2000, seed=1))
    s = fit_durability(data, by="planned").summary()
    for course in ("single", "series"):
        truth = data.truth.value("durability_median_days", course)  # auto clock, default strategies
        row = s.loc[course]
        assert row["median_days_lower"] <= truth <= row["median_days_upper"], (course, row["median_days"], truth)
        assert row["estimator"] in ("weibull", "turnbull") and row["origin"] == "auto"
        for day in (7, 14, 28):
            p = data.truth.value("sustained_response", course, day)
            assert row[f"sustained_{day}d_lower"] - 0.01 <= p <= row[f"sustained_{day}d_upper"] + 0.01
    single = s.loc["single"]
    truth = data.truth.value("durability_median_days", "single")
    # the visit-dated Kaplan-Meier median is late (biased upward); the interval-based one is not
    assert single["km_median_days"] - truth > 1.0
    assert abs(single["median_days"] - truth) < single["km_median_days"] - truth


def test_turnbull_headline_and_bootstrap_interval_cover_the_truth():
    simulation = pytest.importorskip("analysis.simulation")
    data = _planned_course(simulation.simulate(n_patients=1500, seed=4, series_fraction=0.0))
    s = fit_durability(data, estimator="turnbull", n_bootstrap=100).summary().loc["all"]
    truth = data.truth.value("durability_median_days", "single")
    assert s["estimator"] == "turnbull"
    assert s["median_days_lower"] <= truth <= s["median_days_upper"]
    assert s["median_days_lower"] < s["median_days"] < s["median_days_upper"]


def test_reverse_kaplan_meier_follow_up_against_lifelines(fit):
    lifelines = pytest.importorskip("lifelines")
    responders = fit.endpoints.patients[fit.endpoints.patients["responded"]]
    for group, rows in responders.groupby("diagnosis"):
        reverse = lifelines.KaplanMeierFitter().fit(rows["relapse_time_days"], ~rows["relapse_event"].astype(bool))
        assert fit.summary().loc[group, "median_followup_days"] == pytest.approx(reverse.median_survival_time_)


def test_median_beyond_follow_up_is_nan_with_a_reason():
    simulation = pytest.importorskip("analysis.simulation")
    # long durability, short follow-up: fewer than half relapse while followed
    data = simulation.simulate(n_patients=400, seed=2, series_fraction=0.0, durability_median_days=200.0)
    fit = fit_durability(data)
    row = fit.summary().loc["all"]
    assert np.isnan(row["median_days"]) and np.isnan(row["median_days_lower"]) and np.isnan(row["median_days_upper"])
    assert any("not reached" in n or "beyond the last follow-up" in n for n in fit.notes)
    assert np.isfinite(row["median_followup_days"])
    if np.isfinite(row["model_median_days"]) and row["model_median_days"] > row["last_followup_days"]:
        assert any("an extrapolation of the model" in n for n in fit.notes)
    # never 0 or infinity in the headline
    headline = row[["median_days", "median_days_lower", "median_days_upper"]].to_numpy(float)
    assert not np.any(np.isinf(headline)) and not np.any(headline == 0)


def test_competing_rescue_gives_the_cumulative_incidence_headline():
    simulation = pytest.importorskip("analysis.simulation")
    from analysis.survival.competing import cumulative_incidence

    data = _planned_course(simulation.simulate(n_patients=2000, seed=3, series_fraction=0.0))
    fit = fit_durability(data, competing="rescue")
    row = fit.summary().loc["all"]
    assert row["estimator"] == "aalen_johansen" and row["competing_events"] > 0
    assert any("Aalen-Johansen" in n for n in fit.notes) and any("rescue a competing risk" in n for n in fit.notes)
    p = fit.endpoints.patients[fit.endpoints.patients["responded"]]
    status = p["relapse_status"].to_numpy()
    times = np.where(status == 1, 0.5 * (p["relapse_lower_days"] + np.where(
        np.isfinite(p["relapse_upper_days"]), p["relapse_upper_days"], p["relapse_lower_days"])),
        p["relapse_time_days"])
    reference = cumulative_incidence(times, status).at([14.0])
    cif14 = reference[reference["event"] == 1]["cif"].iloc[0]
    assert row["sustained_14d"] == pytest.approx(1 - cif14)
    # against the truth: cumulative incidence of relapse (relapse before rescue) by day 14
    truth = data.truth.value("cif_relapse", "single", 14)
    assert row["sustained_14d_lower"] - 0.02 <= 1 - truth <= row["sustained_14d_upper"] + 0.02
    # by day 28 a rescue after relapse is common; it is started at an assessment, where the relapse
    # is seen, so it does not hide the relapse: the 95% interval holds the truth without slack
    truth = data.truth.value("cif_relapse", "single", 28)
    assert row["sustained_28d_lower"] <= 1 - truth <= row["sustained_28d_upper"], (row["sustained_28d"], truth)
    assert set(fit.cumulative_incidence["event"]) == {1, 2}


def test_landmark_and_milestones(data):
    import analysis

    full = fit_durability(data, by="diagnosis", origin="response")
    late = analysis.landmark(data, day=7, by="diagnosis", origin="response")
    responders = full.endpoints.patients[full.endpoints.patients["responded"]]
    still = responders[responders["relapse_time_days"] > 7]
    assert late.summary()["n_responders"].sum() == len(still)
    assert late.landmark_days == 7 and any("landmark analysis from day 7" in n for n in late.notes)
    km = late.km["MDD"].table["time"]
    assert km.min() > 0 and km.max() <= full.km["MDD"].table["time"].max() - 7 + 1e-9

    table = analysis.milestones(data, days=[7, 14], by="diagnosis", origin="response")
    assert list(table.columns[:7]) == ["group", "time_days", "n_responders", "estimator", "sustained", "lower",
                                       "upper"]
    ref = table[table["group"] == table["reference"]]
    other = table[table["group"] != table["reference"]].set_index("time_days")
    assert ref["difference"].isna().all()
    expected = other["sustained"] - ref.set_index("time_days")["sustained"]
    assert_allclose(other["difference"], expected)
    assert (other["difference_lower"] < other["difference"]).all() and (other["difference"] < other["difference_upper"]).all()
    summary = full.summary()
    for _, r in table.iterrows():
        assert r["sustained"] == pytest.approx(summary.loc[r["group"], f"sustained_{int(r['time_days'])}d"])


def test_milestone_difference_recovers_a_true_hazard_ratio():
    simulation = pytest.importorskip("analysis.simulation")
    import analysis

    data = simulation.simulate(n_patients=3000, seed=11, series_fraction=0.0,
                               diagnosis_probabilities={"TRD": 0.5, "MDD": 0.5},
                               relapse_hazard_ratios={"diagnosis": {"MDD": 2.0}}, rescue_hazard_per_day=0.0,
                               rescue_hazard_after_response_per_day=0.0)
    truth = data.truth
    shape = truth.durability_shape
    # a 99% interval: one seed in a hundred would fail by chance
    table = analysis.milestones(data, days=[14], by="diagnosis", reference="TRD", alpha=0.01).set_index("group")
    medians = truth.durability_median_days_by_group["single"]

    def sustained(median):  # Weibull: S(t) = 2 ** -((t / median) ** shape)
        return 2.0 ** -((14.0 / median) ** shape)

    true_difference = sustained(medians["diagnosis=MDD"]) - sustained(medians["all"])
    row = table.loc["MDD"]
    assert row["difference_lower"] <= true_difference <= row["difference_upper"]
    assert row["p_value"] < 0.01


def test_group_bins_is_the_name_of_bins(data):
    # group_bins= (the name the other by= functions use) and the older bins= cut the same way
    new = fit_durability(data, by="age", group_bins=3, n_bootstrap=20).summary()
    old = fit_durability(data, by="age", bins=3, n_bootstrap=20).summary()
    assert len(new) == 3  # tertiles, not the default quartiles
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(ValueError, match="same setting"):
        fit_durability(data, by="age", bins=3, group_bins=2, n_bootstrap=20)


def test_stored_bootstrap_fits_are_the_resamples_refitted(data):
    # milestones reads other days off fit.bootstrap_fits: they must be the replicates a fresh
    # bootstrap with the same seed would fit
    from analysis.durability import _bootstrap_npmle

    fit = fit_durability(data, by="diagnosis", estimator="turnbull", n_bootstrap=30)
    assert set(fit.bootstrap_fits) == set(fit.npmle) and len(fit.bootstrap_fits)
    query = np.array([3.0, 10.0, 17.5])
    for level, fits in fit.bootstrap_fits.items():
        lower, upper = fit.intervals[level]
        assert len(fits) == 30
        stored = _bootstrap_npmle(lower, upper, 30, 0, query, fits)
        fresh = _bootstrap_npmle(lower, upper, 30, 0, query)
        assert_allclose(stored[0], fresh[0], equal_nan=True)
        assert_allclose(stored[1], fresh[1], equal_nan=True)


# R 4.2.2, survival 3.5.3: survfit(Surv(t, e) ~ g) ties the pooled response once (aeqSurv), so
# a near pair is one time or two by the spread of ALL times, not of its own group. Script:
#   t <- c(1, 2, 2 + 2e-7, 3, 3.5, 4, 4.5, 5, 6, 7, 60, 80, 100, 100 + 1e-6, 120, 130, 140, 150, 160, 170)
#   e <- c(1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1); g <- rep(c("A", "B"), each = 10)
#   fit <- survfit(Surv(t, e) ~ g)   # then $time, $n.risk, $n.event, $surv, $std.err of fit["g=A"], fit["g=B"]
#   survdiff(Surv(t, e) ~ g)$chisq
#   survfit(Surv(t, e) ~ 1, subset = g == lv)$surv   # each group tied on its own
# Tied over all 20 (1.5e-8 x mean 62 = 9.3e-7) the A pair (gap 2e-7) is one time and the B pair
# (gap 1e-6) two; within each group (means 3.8 and 121) the other way round. Output (verbatim):
R_POOLED_TIE = {
    "KM_A_TIME": [1, 2, 3, 3.5, 4, 4.5, 5, 6, 7],
    "KM_A_NRISK": [10, 9, 7, 6, 5, 4, 3, 2, 1],
    "KM_A_NEVENT": [1, 1, 1, 0, 1, 1, 0, 1, 0],
    "KM_A_SURV": [0.9, 0.8, 0.685714285714, 0.685714285714, 0.548571428571, 0.411428571429, 0.411428571429,
                  0.205714285714, 0.205714285714],
    "KM_A_SE": [0.105409255339, 0.158113883008, 0.220928775422, 0.220928775422, 0.314339822182, 0.426781978465,
                0.426781978465, 0.825919401118, 0.825919401118],
    "KM_B_TIME": [60, 80, 100, 100.000001, 120, 130, 140, 150, 160, 170],
    "KM_B_NRISK": [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
    "KM_B_NEVENT": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    "KM_B_SURV": [0.9, 0.8, 0.8, 0.685714285714, 0.571428571429, 0.571428571429, 0.428571428571, 0.285714285714,
                  0.285714285714, 0],
    "KM_B_SE": [0.105409255339, 0.158113883008, 0.158113883008, 0.220928775422, 0.286605752111, 0.286605752111,
                0.40678764789, 0.576318364398, 0.576318364398, np.inf],
    "LOGRANK_CHISQ": [11.2189681482],
    "ALONE_A_SURV": [0.9, 0.9, 0.7875, 0.675, 0.675, 0.54, 0.405, 0.405, 0.2025, 0.2025],
    "ALONE_B_SURV": [0.9, 0.8, 0.7, 0.583333333333, 0.583333333333, 0.4375, 0.291666666667, 0.291666666667, 0],
}


def test_near_ties_are_found_among_all_responders_as_r_survfit_by_group():
    import dataclasses

    from analysis.endpoints import derive_endpoints
    from analysis.survival.kaplan_meier import kaplan_meier
    from analysis.survival.turnbull import tied_bounds

    time = np.array([1, 2, 2 + 2e-7, 3, 3.5, 4, 4.5, 5, 6, 7, 60, 80, 100, 100 + 1e-6, 120, 130, 140, 150, 160, 170])
    event = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1], dtype=bool)
    group = np.repeat(["A", "B"], 10)
    endpoints = derive_endpoints(numpy_dataset(60, seed=3), instrument="MADRS")
    responders = endpoints.patients[endpoints.patients["responded"]].head(20).assign(
        relapse_time_days=time, relapse_event=event, relapse_status=event.astype(int), diagnosis=group,
        relapse_lower_days=np.where(event, time - 0.5, time), relapse_upper_days=np.where(event, time, np.inf))
    fit = fit_durability(dataclasses.replace(endpoints, patients=responders), by="diagnosis", n_bootstrap=20)
    r = {name: np.asarray(value, dtype=float) for name, value in R_POOLED_TIE.items()}
    for level in ("A", "B"):
        table = fit.km[level].table
        assert_allclose(table["time"], r[f"KM_{level}_TIME"], rtol=1e-12)
        assert_allclose(table["at_risk"], r[f"KM_{level}_NRISK"])
        assert_allclose(table["events"], r[f"KM_{level}_NEVENT"])
        assert_allclose(table["survival"], r[f"KM_{level}_SURV"], rtol=1e-10)
        alive = table["survival"].to_numpy() > 0  # R's SE of log S at S = 0 is Inf
        assert_allclose((table["se"] / table["survival"])[alive], r[f"KM_{level}_SE"][alive], rtol=1e-10)
        # each group tied on its own (kaplan_meier's timefix on the group alone) is R's other answer
        rows = group == level
        alone = kaplan_meier(time[rows], event[rows]).table["survival"]
        assert_allclose(alone, r[f"ALONE_{level}_SURV"], rtol=1e-10)
        assert len(alone) != len(table)
    assert fit.logrank.statistic == pytest.approx(r["LOGRANK_CHISQ"][0], rel=1e-10)
    # the relapse intervals are tied once over all responders too, as fitted
    lower, upper = tied_bounds(responders["relapse_lower_days"].to_numpy(), responders["relapse_upper_days"].to_numpy())
    for level in ("A", "B"):
        np.testing.assert_array_equal(fit.intervals[level][0], lower[group == level])
        np.testing.assert_array_equal(fit.intervals[level][1], upper[group == level])
