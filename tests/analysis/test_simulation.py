"""The simulator: contract, ranges, items, reproducibility, and recovery of its own truth.

Reference: simulation with known truth. Every statistical check recomputes its estimate in
this file from the observed ratings or the latent course (never from the simulator's own
summaries) and compares it with the true parameter within a tolerance that follows from the
sample size (4 standard errors unless stated). lifelines (test-only) is the second
implementation for the interval-censored fits.
"""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy.special import expit

from analysis.contract import ASSESSMENT_COLUMNS, INFUSION_COLUMNS, PATIENT_COLUMNS, OutcomeData
from analysis.instruments import get_instrument
from analysis.simulation import SimulationTruth, simulate, single_file_frame

N_BIG = 20_000


@pytest.fixture(scope="module")
def small() -> OutcomeData:
    return simulate(400, seed=11)


@pytest.fixture(scope="module")
def big() -> OutcomeData:
    return simulate(N_BIG, seed=7, items=False)


def madrs_totals(data: OutcomeData) -> pd.DataFrame:
    """MADRS total ratings with the observed baseline and the observed >= 50% response flag."""
    a = data.assessments
    totals = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    baseline = totals[totals["time_hours"] < 0].set_index("patient_id")["score"]
    post = totals[totals["time_hours"] >= 0].copy()
    post["baseline"] = post["patient_id"].map(baseline).to_numpy()
    post["responding"] = post["score"] <= 0.5 * post["baseline"]
    return post


def latent_responding(data: OutcomeData, ratings: pd.DataFrame) -> np.ndarray:
    latent = data.truth.latent.set_index("patient_id")
    onset = ratings["patient_id"].map(latent["onset_time_hours"]).to_numpy(dtype=float)
    relapse = ratings["patient_id"].map(latent["relapse_time_hours"]).to_numpy(dtype=float)
    t = ratings["time_hours"].to_numpy()
    return (t >= onset) & (t < relapse)


# ---- contract, ranges, items ----------------------------------------------------------------

def test_tables_follow_the_contract(small):
    a, i, p = small.assessments, small.infusions, small.patients
    for frame, columns in ((a, ASSESSMENT_COLUMNS), (i, INFUSION_COLUMNS), (p, PATIENT_COLUMNS)):
        for column, dtype in columns.items():
            assert str(frame[column].dtype) == str(pd.Series([], dtype=dtype).dtype), column
    np.testing.assert_array_equal(a["source_row"], np.arange(1, len(a) + 1))
    keys = a.assign(item0=a["item"].fillna(0))[["patient_id", "instrument", "time_hours", "item0"]]
    assert keys.equals(keys.sort_values(["patient_id", "instrument", "time_hours", "item0"]))
    assert not keys.duplicated().any()
    assert p["patient_id"].is_unique and len(p) == 400
    assert set(p["diagnosis"]) <= {"MDD", "TRD", "bipolar", "PTSD", "other"}
    assert set(i["route"]) <= {"IV", "IM", "intranasal", "sublingual", "oral", "rectal"}
    assert set(a["patient_id"]) == set(p["patient_id"]) == set(i["patient_id"])
    first = i[i["infusion_number"] == 1]
    assert len(first) == 400 and (first["time_hours"] == 0).all()
    assert (i.groupby("patient_id")["time_hours"].diff().dropna() > 0).all()
    # every patient has a MADRS baseline before the first infusion
    totals = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    assert (totals[totals["time_hours"] < 0].groupby("patient_id").size() == 1).all()
    assert totals.loc[totals["time_hours"] < 0, "patient_id"].nunique() == 400


def test_scores_are_integers_within_each_instruments_range(small):
    a = small.assessments
    assert np.array_equal(a["score"], np.round(a["score"]))
    assert not np.signbit(a["score"]).any()  # no -0.0
    for name, rows in a.groupby("instrument"):
        instrument = get_instrument(name)
        totals = rows[rows["item"].isna()]["score"]
        assert totals.between(instrument.min_score, instrument.max_score).all(), name
        item_rows = rows[rows["item"].notna()]
        assert item_rows["score"].between(instrument.item_min, instrument.item_max).all(), name
    assert set(a["instrument"]) == {"MADRS", "CADSS", "QIDS-SR16"}


def test_madrs_items_sum_exactly_to_the_total(small):
    a = small.assessments
    items = a[a["item"].notna()]
    assert set(items["instrument"]) == {"MADRS"}
    key = ["patient_id", "time_hours"]
    grouped = items.groupby(key)
    assert (grouped["item"].apply(lambda s: sorted(s.tolist()) == list(range(1, 11)))).all()
    totals = a[(a["instrument"] == "MADRS") & a["item"].isna()].set_index(key)["score"]
    sums = grouped["score"].sum()
    np.testing.assert_array_equal(sums.to_numpy(), totals.loc[sums.index].to_numpy())
    # items exist at every main visit that took place (baseline always)
    baseline = items[items["visit"] == "baseline"]
    assert baseline["patient_id"].nunique() == 400


def test_items_option():
    none = simulate(200, seed=3, items=False)
    main = simulate(200, seed=3)
    every = simulate(200, seed=3, items="all")
    assert none.assessments["item"].isna().all()
    totals = [d.assessments[d.assessments["item"].isna()].drop(columns="source_row").reset_index(drop=True)
              for d in (none, main, every)]
    assert_frame_equal(totals[0], totals[1])  # the item rows never change the totals
    assert_frame_equal(totals[0], totals[2])
    madrs = (every.assessments["instrument"] == "MADRS") & every.assessments["item"].isna()
    assert every.assessments["item"].notna().sum() == 10 * madrs.sum()
    assert 0 < main.assessments["item"].notna().sum() < every.assessments["item"].notna().sum()


def test_extreme_totals_split_into_valid_items():
    from analysis.simulation import _allocate_items

    rng = np.random.default_rng(0)
    totals = np.arange(61).repeat(20).astype(float)
    weights = rng.gamma(0.5, 1.0, (totals.size, 10)) + 1e-12
    items = _allocate_items(totals, weights, 6)
    np.testing.assert_array_equal(items.sum(axis=1), totals)
    assert items.min() >= 0 and items.max() <= 6
    assert np.array_equal(items, np.round(items))


# ---- reproducibility and truth ---------------------------------------------------------------

def test_same_seed_same_data_other_seed_other_data():
    one, two, other = simulate(150, seed=5), simulate(150, seed=5), simulate(150, seed=6)
    for name in ("assessments", "infusions", "patients"):
        assert_frame_equal(getattr(one, name), getattr(two, name))
    assert one.truth == two.truth
    assert_frame_equal(one.truth.latent, two.truth.latent)
    assert one.fingerprint == two.fingerprint != other.fingerprint
    assert not one.assessments["score"].equals(other.assessments["score"])


def test_truth_records_the_parameters_used(small):
    truth = small.truth
    assert isinstance(truth, SimulationTruth)
    assert (truth.n_patients, truth.seed) == (400, 11)
    with pytest.raises(dataclasses.FrozenInstanceError):
        truth.onset_median_hours = 1.0  # type: ignore[misc]
    custom = simulate(50, seed=1, onset_median_hours=6.0, durability_median_days=10.0, noise_sd=0.5,
                      relapse_hazard_ratios={"route": {"IM": 2.0}}, response_dose_logit=0.0,
                      series_fraction=0.0)
    t = custom.truth
    assert (t.onset_median_hours, t.durability_median_days, t.noise_sd) == (6.0, 10.0, 0.5)
    assert t.relapse_hazard_ratios == {"route": {"IM": 2.0}}
    assert t.durability_median_days_by_group["single"]["route=IM"] == pytest.approx(10.0 * 2 ** (-1 / 1.5))
    assert set(custom.patients["course"]) == {"single"}
    summary = truth.summary()
    assert {"onset_median_hours", "durability_median_days", "response_intercept"} <= set(summary.index)
    assert summary["description"].str.len().gt(0).all()
    assert len(truth.latent) == 400 and truth.latent["patient_id"].tolist() == small.patients["patient_id"].tolist()
    restored = pickle.loads(pickle.dumps(small))  # the dashboard caches datasets
    assert restored.truth == truth


@pytest.mark.parametrize("options", [
    {"series_fraction": 1.5}, {"response_level": (0.1, 0.6)}, {"items": "some"},
    {"onset_median_hours": 0}, {"route_probabilities": {"IV": 0.5, "IV drip": 0.5}},
    {"series_days": (0, 2, 2)}, {"baseline_hours": (1.0,)}, {"n_patients": 0},
    {"relapse_hazard_ratios": {"age": {"40": 2.0}}}, {"diagnosis_probabilities": {"GAD": 1.0}},
    {"followup_days": (2, 7)}, {"series_days": (0, 1, 2)}, {"dose_probabilities": {0.5: 0.5}},
])
def test_invalid_settings_are_refused(options):
    with pytest.raises(ValueError):
        simulate(**{"n_patients": 10, **options})


# ---- the latent model, checked against the truth ---------------------------------------------

def test_response_probability_follows_the_documented_logistic_model(big):
    truth, latent = big.truth, big.truth.latent
    logit = (truth.response_intercept
             + latent["diagnosis"].map(truth.response_diagnosis_logit).to_numpy(dtype=float)
             + truth.response_dose_logit * (latent["dose_mg_per_kg"].to_numpy() - 0.5)
             + latent["route"].map(truth.response_route_logit).to_numpy(dtype=float)
             + truth.response_series_logit * (latent["course"] == "series").to_numpy()
             + truth.response_dissociation_logit * latent["dissociation_z"].to_numpy())
    np.testing.assert_allclose(latent["response_probability"], expit(logit), rtol=1e-12)
    p = latent["response_probability"].to_numpy()
    se = math.sqrt(np.sum(p * (1 - p))) / N_BIG
    assert abs(latent["responder"].mean() - p.mean()) < 4 * se
    assert abs(truth.response_fraction - latent["responder"].mean()) < 1e-12
    assert 0.55 <= truth.response_probability_population <= 0.65
    # population marginal by Monte Carlo over the cohort mix (independent of the quadrature)
    rng = np.random.default_rng(1)
    m = 400_000
    diag = rng.choice(list(truth.diagnosis_probabilities), m, p=list(truth.diagnosis_probabilities.values()))
    route = rng.choice(list(truth.route_probabilities), m, p=list(truth.route_probabilities.values()))
    dose = rng.choice(list(truth.dose_probabilities), m, p=list(truth.dose_probabilities.values()))
    series = rng.random(m) < truth.series_fraction
    lin = (truth.response_intercept + pd.Series(diag).map(truth.response_diagnosis_logit).to_numpy()
           + truth.response_dose_logit * (dose - 0.5) + pd.Series(route).map(truth.response_route_logit).to_numpy()
           + truth.response_series_logit * series + truth.response_dissociation_logit * rng.standard_normal(m))
    assert truth.response_probability_population == pytest.approx(expit(lin).mean(), abs=4 * 0.5 / math.sqrt(m))
    z = rng.standard_normal(m)
    for diagnosis, value in truth.response_probability_by_diagnosis.items():
        mc = expit(truth.response_intercept + truth.response_diagnosis_logit[diagnosis]
                   + truth.response_dissociation_logit * z).mean()
        assert value == pytest.approx(mc, abs=0.003), diagnosis


def test_latent_onset_and_durability_medians_match_the_truth(big):
    truth, latent = big.truth, big.truth.latent
    single = latent[latent["responder"] & (latent["course"] == "single")]
    n = len(single)
    # SE of a sample median: 1 / (2 f(m) sqrt(n)); log-logistic f(m) = shape / (4 m)
    se_onset = 2 * truth.onset_median_hours / (truth.onset_shape * math.sqrt(n))
    assert abs(single["onset_hours"].median() - truth.onset_median_hours) < 4 * se_onset
    # Weibull f(m) = shape * log(2) / (2 m)
    se_durability = truth.durability_median_days / (truth.durability_shape * math.log(2) * math.sqrt(n))
    assert abs(single["durability_days"].median() - truth.durability_median_days) < 4 * se_durability
    series = latent[latent["responder"] & (latent["course"] == "series")]
    se_series = truth.series_durability_median_days / (truth.durability_shape * math.log(2)
                                                       * math.sqrt(len(series)))
    assert abs(series["durability_days"].median() - truth.series_durability_median_days) < 4 * se_series
    # onset is counted from the infusion that precedes response
    infusions = big.infusions  # only given infusions; use the planned schedule instead
    assert infusions["time_hours"].max() <= 11 * 24
    days = np.asarray(truth.series_days) * 24
    k = series["onset_infusion"].to_numpy(dtype=int)
    np.testing.assert_allclose(series["onset_time_hours"] - days[k - 1], series["onset_hours"], atol=1e-9)
    assert (series["onset_hours"] >= 0).all()
    nxt = np.append(days, np.inf)[k]
    assert (series["onset_time_hours"] < nxt).all()
    # delayed responders: the first response follows a later infusion for about half of them
    later = (series["first_response_infusion"] > 1).mean()
    p_later = 1 - truth.series_first_response_probabilities[0]
    assert abs(later - p_later) < 4 * math.sqrt(p_later * (1 - p_later) / len(series))
    # relapse after a series never comes before the last infusion
    assert (series["relapse_time_hours"] > days[-1]).all()


def test_relapse_hazard_ratios_change_the_group_median():
    data = simulate(12_000, seed=2, items=False, series_fraction=0.0,
                    route_probabilities={"IV": 0.5, "IM": 0.5}, relapse_hazard_ratios={"route": {"IM": 2.0}})
    latent = data.truth.latent[data.truth.latent["responder"]]
    for route, expected in (("IV", 21.0), ("IM", 21.0 * 2 ** (-1 / 1.5))):
        days = latent.loc[latent["route"] == route, "durability_days"]
        se = expected / (1.5 * math.log(2) * math.sqrt(len(days)))
        assert abs(days.median() - expected) < 4 * se, route


# ---- the observed ratings reflect the latent course ------------------------------------------

def test_observed_response_matches_the_latent_state(big):
    ratings = madrs_totals(big)
    wrong = np.mean(ratings["responding"].to_numpy() != latent_responding(big, ratings))
    assert wrong < 1e-3
    assert wrong == pytest.approx(big.truth.misclassification_rate, abs=1e-12)
    # patients seen responding are latent responders; latent responders are nearly all seen
    seen = ratings.groupby("patient_id")["responding"].any()
    latent = big.truth.latent.set_index("patient_id")["responder"].loc[seen.index]
    assert (seen & ~latent).mean() < 1e-3
    assert (latent & ~seen).sum() / latent.sum() < 0.03


def test_onset_and_relapse_intervals_from_visits_bracket_the_true_times(big):
    ratings = madrs_totals(big).sort_values(["patient_id", "time_hours"])
    latent = big.truth.latent.set_index("patient_id")
    ratings["previous"] = ratings.groupby("patient_id")["time_hours"].shift(fill_value=0.0)
    first = ratings[ratings["responding"]].groupby("patient_id").first()
    onset = latent.loc[first.index, "onset_time_hours"]
    inside = (first["previous"] < onset) & (onset <= first["time_hours"])
    assert inside.mean() > 0.999
    # relapse: first non-responding rating after the first responding one
    after = ratings.merge(first["time_hours"].rename("first_response"), left_on="patient_id", right_index=True)
    after = after[after["time_hours"] > after["first_response"]]
    lost = after[~after["responding"]].groupby("patient_id").first()
    relapse = latent.loc[lost.index, "relapse_time_hours"]
    assert ((lost["previous"] < relapse) & (relapse <= lost["time_hours"])).mean() > 0.999
    kept = first.index.difference(lost.index)
    last = ratings.groupby("patient_id")["time_hours"].max().loc[kept]
    assert (latent.loc[kept, "relapse_time_hours"] > last).mean() > 0.999


def test_response_by_visit_follows_the_true_onset_distribution(big):
    """Non-parametric check: at each early visit of single-infusion patients, the fraction
    responding equals sum_i p_i F(t_i) / n, with F the true log-logistic onset distribution
    (relapse within 4 h has probability < 1e-3)."""
    truth = big.truth
    ratings = madrs_totals(big)
    p = ratings["patient_id"].map(truth.latent.set_index("patient_id")["response_probability"])
    for visit in ("40 min", "80 min", "110 min", "230 min"):
        rows = ratings["visit"] == visit
        t = ratings.loc[rows, "time_hours"].to_numpy()
        cdf = 1 / (1 + (truth.onset_median_hours / t) ** truth.onset_shape)
        expected = p[rows].to_numpy() * cdf
        se = math.sqrt(np.sum(expected * (1 - expected))) / rows.sum()
        assert abs(ratings.loc[rows, "responding"].mean() - expected.mean()) < 4 * se, visit


def test_interval_censored_fits_of_the_observed_data_recover_the_truth(big):
    """lifelines' interval-censored log-logistic (onset) and Weibull (durability) fits on the
    intervals a clinic would derive from the visits of single-infusion responders."""
    from lifelines import LogLogisticFitter, WeibullFitter

    truth = big.truth
    single = set(big.patients.loc[big.patients["course"] == "single", "patient_id"])
    ratings = madrs_totals(big)
    ratings = ratings[ratings["patient_id"].isin(single)].sort_values(["patient_id", "time_hours"])
    ratings["previous"] = ratings.groupby("patient_id")["time_hours"].shift(fill_value=0.0)
    first = ratings[ratings["responding"]].groupby("patient_id").first()
    lower = first["previous"].clip(lower=1e-3)  # left-censored: onset in (0, first rating]
    onset = LogLogisticFitter().fit_interval_censoring(lower, first["time_hours"])
    se = onset.summary.loc["alpha_", "se(coef)"]  # alpha_ is the log-logistic median
    assert abs(onset.median_survival_time_ - truth.onset_median_hours) < 4 * se, onset.summary
    assert abs(onset.summary.loc["beta_", "coef"] - truth.onset_shape) < 4 * onset.summary.loc["beta_", "se(coef)"]

    # durability in days from the first responding rating (hours after the true onset)
    origin = ratings["patient_id"].map(first["time_hours"])
    after = ratings[ratings["time_hours"] > origin]
    after = after.assign(days=(after["time_hours"] - origin.loc[after.index]) / 24,
                         previous_days=(after["previous"] - origin.loc[after.index]) / 24)
    lost = after[~after["responding"]].groupby("patient_id").first()
    kept = first.index.difference(lost.index)
    last = after.groupby("patient_id")["days"].max().reindex(kept).fillna(1e-3)
    lower = np.concatenate([lost["previous_days"].clip(lower=1e-3).to_numpy(), last.to_numpy()])
    upper = np.concatenate([lost["days"].to_numpy(), np.full(len(kept), np.inf)])
    durability = WeibullFitter().fit_interval_censoring(lower, upper)
    se_lambda = durability.summary.loc["lambda_", "se(coef)"]
    # median = lambda * log(2)^(1/rho); allow 4 SE of lambda plus the hours between true onset
    # and the first responding rating (origin shift, at most ~0.2 day on average)
    assert abs(durability.median_survival_time_ - truth.durability_median_days) < 4 * se_lambda + 0.3
    assert abs(durability.summary.loc["rho_", "coef"] - truth.durability_shape) < 0.15


def test_missed_visits_and_dropout_happen_at_the_documented_rates(big):
    truth, latent = big.truth, big.truth.latent
    single = latent[latent["course"] == "single"]
    # dropout by day 28 (+40 min): 1 - exp(-hazard * 28)
    gone = (single["dropout_time_hours"] < 28 * 24).mean()
    expected = 1 - math.exp(-truth.dropout_hazard_per_day * 28)
    assert abs(gone - expected) < 4 * math.sqrt(expected * (1 - expected) / len(single))
    # missed visits: the 80-min MADRS of single-infusion patients (no dropout before it in practice)
    a = big.assessments
    madrs = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    present = madrs[madrs["visit"] == "80 min"]["patient_id"].nunique()
    rate = 1 - present / len(single)
    p = truth.missed_visit_probability
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / len(single)) + 0.002
    # no rating after dropout, no infusion after dropout
    last = a.groupby("patient_id")["time_hours"].max()
    assert (last <= latent.set_index("patient_id")["dropout_time_hours"].loc[last.index] + 1e-9).all()
    given = big.infusions.groupby("patient_id").size()
    np.testing.assert_array_equal(given.loc[latent["patient_id"]].to_numpy(), latent["n_infusions_given"])
    stopped = latent[latent["course"] == "series"]
    assert (stopped["n_infusions_given"] < stopped["n_infusions_planned"]).any()


def test_infusion_number_is_the_infusion_each_rating_follows(small):
    a = small.assessments.sort_values("time_hours")
    inf = small.infusions.sort_values("time_hours")
    merged = pd.merge_asof(a, inf[["patient_id", "time_hours", "infusion_number"]], on="time_hours",
                           by="patient_id", direction="backward", suffixes=("", "_expected"))
    expected = merged["infusion_number_expected"].astype("Int64")
    assert merged["infusion_number"].equals(expected)
    # every infusion given has its 40-minute CADSS rating
    cadss = a[(a["instrument"] == "CADSS")].groupby(["patient_id", "infusion_number"]).size()
    assert len(cadss) == len(inf)


def test_visit_schedules():
    data = simulate(300, seed=4, missed_visit_probability=0.0, dropout_hazard_per_day=0.0, qids_fraction=0.0)
    a = data.assessments
    madrs = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    per_patient = madrs.groupby("patient_id").size()
    course = data.patients.set_index("patient_id")["course"]
    assert (per_patient[course == "single"] == 12).all()  # baseline + 4 minute visits + 7 days
    assert (per_patient[course == "series"] == 1 + 3 + 5 * 4 + 4).all()
    single = madrs[madrs["patient_id"].map(course) == "single"]
    minutes = single[single["visit"].isin(["40 min", "80 min", "110 min", "230 min"])]["time_hours"] * 60
    assert set(np.round(minutes).astype(int)) == {40, 80, 110, 230}
    baseline = madrs[madrs["visit"] == "baseline"]["time_hours"]
    assert set(baseline.round(6)) <= {-24.0, -1.0}
    day28 = single[single["visit"] == "day 28"]["time_hours"] / 24
    assert day28.between(27, 29).all()
    boosters = simulate(200, seed=4, booster_fraction=1.0, series_fraction=1.0, dropout_hazard_per_day=0.0)
    counts = boosters.infusions.groupby("patient_id").size()
    assert (counts == 8).all()
    assert boosters.infusions.groupby("patient_id")["time_hours"].max().eq((11 + 28) * 24).all()


# ---- dissociation and items ------------------------------------------------------------------

def test_cadss_peaks_at_40_minutes_rises_with_dose_and_fades_by_2_hours(big):
    truth = big.truth
    a = big.assessments
    cadss = a[a["instrument"] == "CADSS"].merge(big.patients[["patient_id", "course"]], on="patient_id")
    first = big.infusions[big.infusions["infusion_number"] == 1].set_index("patient_id")
    cadss = cadss[(cadss["course"] == "single") & cadss["patient_id"].map(first["route"]).eq("IV")]
    cadss = cadss.assign(dose=cadss["patient_id"].map(first["dose_mg_per_kg"]).to_numpy())
    by_visit = cadss.groupby("visit")["score"].mean()
    assert by_visit["40 min"] > by_visit["80 min"] > by_visit["110 min"] > by_visit["230 min"]
    assert by_visit["230 min"] < 2 and by_visit["110 min"] < 0.2 * by_visit["40 min"]
    assert by_visit["baseline"] < 2
    # mean at 40 min = floor + c * dose * E[exp(sd * z)]: the dose slope
    peak = cadss[cadss["visit"] == "40 min"]
    slope, intercept = np.polyfit(peak["dose"], peak["score"], 1)
    expected = truth.cadss_peak_per_mg_per_kg * math.exp(truth.cadss_propensity_sd ** 2 / 2)
    assert slope == pytest.approx(expected, rel=0.1)
    means = peak.groupby("dose")["score"].mean()
    assert means.is_monotonic_increasing


def test_dissociation_weakly_predicts_improvement():
    """Luckenbaugh 2014: the CADSS rise at 40 min correlates with % improvement at 230 min.
    The correlation appears with response_dissociation_logit > 0 and vanishes at 0."""
    common = dict(items=False, series_fraction=0.0, route_probabilities={"IV": 1.0},
                  dose_probabilities={0.5: 1.0}, missed_visit_probability=0.0)
    for coefficient, low, high in ((0.8, 0.05, 0.5), (0.0, -0.05, 0.05)):
        data = simulate(6000, seed=9, response_dissociation_logit=coefficient, **common)
        a = data.assessments
        cadss = a[(a["instrument"] == "CADSS") & (a["visit"] == "40 min")].set_index("patient_id")["score"]
        ratings = madrs_totals(data)
        at_230 = ratings[ratings["visit"] == "230 min"].set_index("patient_id")
        improvement = 100 * (at_230["baseline"] - at_230["score"]) / at_230["baseline"]
        r = np.corrcoef(cadss.loc[improvement.index], improvement)[0, 1]
        assert low < r < high, (coefficient, r)


def test_suicidality_item_falls_with_response(small):
    a = small.assessments
    item10 = a[(a["item"] == 10)].copy()
    ratings = item10.assign(responding=latent_responding(small, item10))
    baseline = ratings[ratings["time_hours"] < 0]["score"].mean()
    responding = ratings[ratings["responding"]]["score"].mean()
    not_responding = ratings[(ratings["time_hours"] >= 0) & ~ratings["responding"]]["score"].mean()
    assert responding < 0.5 * baseline
    assert not_responding > 0.7 * baseline
    assert 1.0 < baseline < 4.0


def test_qids_for_a_few_patients(small):
    a = small.assessments
    qids = a[a["instrument"] == "QIDS-SR16"]
    patients = qids["patient_id"].nunique()
    p = small.truth.qids_fraction
    assert abs(patients / 400 - p) < 4 * math.sqrt(p * (1 - p) / 400)
    assert (qids.groupby("patient_id")["time_hours"].min() < 0).all()


def test_single_file_form_repeats_patient_and_infusion_columns(small):
    single = single_file_frame(small)
    assert len(single) == len(small.assessments)
    assert {"infusion_time_hours", "dose_mg_per_kg", "route", "duration_min", "age", "sex", "diagnosis",
            "course"} <= set(single.columns)
    before = single["infusion_number"].isna()
    assert single.loc[before, ["infusion_time_hours", "dose_mg_per_kg", "route"]].isna().all().all()
    rebuilt = (single.loc[~before, ["patient_id", "infusion_number", "infusion_time_hours", "dose_mg_per_kg",
                                    "route", "duration_min"]]
               .drop_duplicates().rename(columns={"infusion_time_hours": "time_hours"})
               .sort_values(["patient_id", "infusion_number"]).reset_index(drop=True))
    expected = small.infusions.reset_index(drop=True)
    assert_frame_equal(rebuilt.astype(expected.dtypes.to_dict()), expected)
    assert (single.groupby("patient_id")[["age", "sex", "diagnosis", "course"]].nunique() == 1).all().all()
