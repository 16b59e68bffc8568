"""The simulator: Scenario, contract, ranges, items, reproducibility, and its own truth.

References: simulation with known truth and closed forms. Every statistical check recomputes
its estimate in this file from the observed ratings, infusions and events or from the latent
course (never from the simulator's own summaries) and compares it with the true parameter
within a tolerance that follows from the sample size (4 standard errors unless stated). The
truth table (a large simulation inside the package) is checked against closed forms written
here independently: Weibull and log-logistic integrals by scipy quadrature, the renewal formula
for boosters, and dropout probabilities from the stopping rule. lifelines (test-only) is the
second implementation for the interval-censored fits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import integrate, optimize
from scipy.special import expit

from analysis.contract import (
    ASSESSMENT_COLUMNS,
    EVENT_COLUMNS,
    INFUSION_COLUMNS,
    PATIENT_COLUMNS,
    OutcomeData,
)
from analysis.instruments import get_instrument
from analysis.simulation import Scenario, SimulationTruth, simulate, single_file_frame

N_BIG = 20_000
LOG2 = math.log(2.0)


@pytest.fixture(scope="module")
def small() -> OutcomeData:
    return simulate(400, seed=11)


@pytest.fixture(scope="module")
def big() -> OutcomeData:
    return simulate(N_BIG, seed=7, items=False)


@pytest.fixture(scope="module")
def default_truth() -> pd.DataFrame:
    return simulate(10, seed=0).truth.table()


def madrs_totals(data: OutcomeData) -> pd.DataFrame:
    """MADRS total ratings with the observed baseline and the observed >= 50% response flag."""
    a = data.assessments
    totals = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    baseline = totals[totals["time_hours"] < 0].set_index("patient_id")["score"]
    post = totals[totals["time_hours"] >= 0].copy()
    post["baseline"] = post["patient_id"].map(baseline).to_numpy()
    post["responding"] = post["score"] <= 0.5 * post["baseline"]
    post["remitting"] = post["score"] <= 10
    return post


def latent_responding(data: OutcomeData, ratings: pd.DataFrame) -> np.ndarray:
    latent = data.truth.latent.set_index("patient_id")
    onset = ratings["patient_id"].map(latent["onset_time_hours"]).to_numpy(dtype=float)
    relapse = ratings["patient_id"].map(latent["relapse_time_hours"]).to_numpy(dtype=float)
    t = ratings["time_hours"].to_numpy()
    return (t >= onset) & (t < relapse)


def weibull_survival(days, median: float, shape: float):
    return np.exp(-LOG2 * (np.asarray(days, dtype=float) / median) ** shape)


def weibull_density(days, median: float, shape: float):
    d = np.asarray(days, dtype=float)
    return LOG2 * shape / median * (d / median) ** (shape - 1) * weibull_survival(d, median, shape)


def true_row(table: pd.DataFrame, estimand: str, course: str, time_days: float | None = None,
             booster: str | None = None, rescue: str | None = None) -> pd.Series:
    rows = table[(table["estimand"] == estimand) & (table["course"] == course)]
    if time_days is not None:
        rows = rows[np.isclose(rows["time_days"], time_days)]
    if booster is not None:
        rows = rows[rows["booster_strategy"] == booster]
    if rescue is not None:
        rows = rows[rows["rescue_strategy"] == rescue]
    assert len(rows) == 1, (estimand, course, time_days, booster, rescue)
    return rows.iloc[0]


def assert_close_to_truth(row: pd.Series, expected: float, extra: float = 0.0) -> None:
    assert abs(row["value"] - expected) <= 4 * row["mc_se"] + extra, (row.to_dict(), expected)


# ---- Scenario ---------------------------------------------------------------------------------

def test_scenario_round_trips_through_json_and_documents_every_parameter():
    scenario = Scenario(series_fraction=0.7, dose_probabilities={0.5: 0.5, 1.0: 0.5},
                        relapse_hazard_ratios={"route": {"IM": 2.0}}, items=False)
    restored = Scenario.from_dict(json.loads(json.dumps(scenario.to_dict())))
    assert restored == scenario
    assert restored.dose_probabilities == {0.5: 0.5, 1.0: 0.5} and restored.items == "none"
    assert scenario.replace(noise_sd=2.0).noise_sd == 2.0 and scenario.noise_sd == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.noise_sd = 3.0  # type: ignore[misc]
    described = Scenario.describe()
    assert list(described.index) == [f.name for f in dataclasses.fields(Scenario)]
    assert described["meaning"].str.len().gt(10).all()
    # the time parameters name their unit
    for name in described.index:
        if name.endswith(("_days", "_hours", "_min", "_points", "_per_day")):
            assert any(unit in described.loc[name, "meaning"] for unit in
                       ("day", "hour", "minute", "points", "per day")), name
    with pytest.raises(ValueError, match="no parameter"):
        scenario.replace(not_a_parameter=1)


def test_simulate_takes_a_scenario_or_the_keyword_arguments_of_earlier_versions():
    scenario = Scenario(series_fraction=1.0, booster_fraction=1.0)
    one = simulate(scenario, n_patients=80, seed=3)
    two = simulate(n_patients=80, seed=3, series_fraction=1.0, booster_fraction=1.0)
    three = simulate(80, seed=3, series_fraction=1.0, booster_fraction=1.0)
    assert one.fingerprint == two.fingerprint == three.fingerprint
    assert one.truth.scenario == scenario and one.truth.series_fraction == 1.0
    old = simulate(50, seed=1, n_boosters=3, booster_interval_days=7.0)
    assert old.truth.booster_intervals_days == (7.0, 7.0, 7.0)
    assert old.truth.scenario.booster_days == (18.0, 25.0, 32.0)
    with pytest.raises(ValueError, match="remitter_score_points"):
        simulate(10, response_level=(0.05, 0.3))


@pytest.mark.parametrize("options", [
    {"series_fraction": 1.5}, {"items": "some"}, {"remitter_score_points": (1.0, 9.0)},
    {"onset_median_hours": 0}, {"route_probabilities": {"IV": 0.5, "IV drip": 0.5}},
    {"series_days": (0, 2, 2)}, {"baseline_hours": (1.0,)}, {"n_patients": 0},
    {"relapse_hazard_ratios": {"age": {"40": 2.0}}}, {"diagnosis_probabilities": {"GAD": 1.0}},
    {"followup_days": (2, 7)}, {"series_days": (0, 1, 2)}, {"dose_probabilities": {0.5: 0.5}},
    {"booster_intervals_days": (1.0,)}, {"early_dropout_probability": -0.1},
    {"rescue_probabilities": {"ECT": 2.0}}, {"nonresponse_improvement": (0.0, 0.45)},
    {"series_first_response_probabilities": (1.0,)},
])
def test_invalid_settings_are_refused(options):
    with pytest.raises(ValueError):
        simulate(**{"n_patients": 10, **options})


# ---- contract, ranges, items ----------------------------------------------------------------

def test_tables_follow_the_contract(small):
    a, i, p, e = small.assessments, small.infusions, small.patients, small.events
    for frame, columns in ((a, ASSESSMENT_COLUMNS), (i, INFUSION_COLUMNS), (p, PATIENT_COLUMNS),
                           (e, EVENT_COLUMNS)):
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
    assert set(e["patient_id"]) <= set(p["patient_id"])
    first = i[i["infusion_number"] == 1]
    assert len(first) == 400 and (first["time_hours"] == 0).all()
    assert (i.groupby("patient_id")["time_hours"].diff().dropna() > 0).all()
    totals = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    assert (totals[totals["time_hours"] < 0].groupby("patient_id").size() == 1).all()
    assert totals.loc[totals["time_hours"] < 0, "patient_id"].nunique() == 400
    assert set(e["event"]) == {"booster", "rescue", "discontinued"}
    assert e[["patient_id", "time_hours"]].equals(e[["patient_id", "time_hours"]].sort_values(
        ["patient_id", "time_hours"]))


def test_events_agree_with_the_infusions_the_ratings_and_the_latent_course(big):
    e, i, latent = big.events, big.infusions, big.truth.latent.set_index("patient_id")
    # boosters are infusions after the series gap, listed as booster events at the same time
    gap = i.groupby("patient_id")["time_hours"].diff()
    after_gap = i[gap > 3 * 24 + 1e-9]
    boosters = e[e["event"] == "booster"]
    assert len(boosters) > 100
    np.testing.assert_array_equal(after_gap[["patient_id", "time_hours"]].to_numpy(),
                                  boosters[["patient_id", "time_hours"]].to_numpy())
    assert (after_gap["infusion_number"] > 6).all()
    assert set(boosters["patient_id"]) <= set(latent.index[latent["course"] == "series"])
    # boosters are given in response only, and each renews it (the relapse comes after the booster)
    when = boosters["time_hours"].to_numpy()
    who = boosters["patient_id"]
    assert (when >= who.map(latent["onset_time_hours"]).to_numpy()).all()
    assert (when < who.map(latent["relapse_time_hours"]).to_numpy()).all()
    # one rescue at most, at the latent time; discontinuation at the latent dropout time
    rescue = e[e["event"] == "rescue"].set_index("patient_id")
    assert rescue.index.is_unique
    np.testing.assert_allclose(rescue["time_hours"], latent.loc[rescue.index, "rescue_time_hours"])
    assert set(rescue["detail"]) == {"ECT", "esketamine", "new antidepressant"}
    # rescue is started at an assessment: one MADRS rating (visit "rescue") at its time, in whole
    # minutes, which shows the relapse when the rescue came after it (never masked until a later visit)
    madrs = big.assessments[(big.assessments["instrument"] == "MADRS") & big.assessments["item"].isna()]
    at_rescue = madrs.merge(rescue["time_hours"].reset_index(), on=["patient_id", "time_hours"]).set_index(
        "patient_id")  # the visit "rescue", or a scheduled visit that fell on the same minute
    assert at_rescue.index.is_unique and set(at_rescue.index) == set(rescue.index)
    assert (at_rescue["visit"] == "rescue").mean() > 0.95
    assert set(madrs.loc[madrs["visit"] == "rescue", "patient_id"]) <= set(rescue.index)
    np.testing.assert_allclose(rescue["time_hours"] * 60, np.round(rescue["time_hours"] * 60), atol=1e-6)
    baseline = madrs[madrs["visit"] == "baseline"].set_index("patient_id")["score"]
    after_relapse = rescue.index[(rescue["time_hours"] >= latent.loc[rescue.index, "relapse_time_hours"])
                                 & latent.loc[rescue.index, "responder"]]
    assert len(after_relapse) > 50
    score = at_rescue.loc[after_relapse, "score"]
    assert (score > 0.5 * baseline.loc[after_relapse]).mean() > 0.99  # not responding: the relapse is seen
    gone = e[e["event"] == "discontinued"].set_index("patient_id")
    np.testing.assert_allclose(gone["time_hours"], latent.loc[gone.index, "dropout_time_hours"])
    # nothing is seen after leaving care
    last_seen = pd.concat([big.assessments[["patient_id", "time_hours"]], e[["patient_id", "time_hours"]]])
    last_seen = last_seen.groupby("patient_id")["time_hours"].max()
    assert (last_seen <= latent.loc[last_seen.index, "dropout_time_hours"] + 1e-9).all()
    stop = gone.loc[gone["detail"].str.startswith("did not return"), "detail"].str.extract(r"(\d+)$")[0]
    given = i.groupby("patient_id").size().loc[stop.index]
    np.testing.assert_array_equal(given.to_numpy(), stop.astype(int).to_numpy() - 1)


# ---- the truth table against closed forms ------------------------------------------------------

def test_single_infusion_truths_match_the_closed_forms(default_truth):
    """Single infusion (no boosters): durability is the Weibull from response onset; rescue
    while in response is a constant hazard from onset (competing risk in closed form); being in
    response at day t = P(respond) * integral of the log-logistic onset density times the Weibull
    survival of the remaining time."""
    s = Scenario()
    median, shape = s.durability_median_days, s.durability_shape
    hazard = s.rescue_hazard_per_day
    for booster in ("treatment_policy", "hypothetical", "composite"):
        row = true_row(default_truth, "durability_median_days", "single", booster=booster, rescue="hypothetical")
        assert_close_to_truth(row, median)
        for t in (7, 14, 21, 28):
            row = true_row(default_truth, "sustained_response", "single", t, booster, "hypothetical")
            assert_close_to_truth(row, float(weibull_survival(t, median, shape)))
    # rescue composite: the first of relapse and rescue, S(t) = S_W(t) exp(-hazard t)
    composite_median = optimize.brentq(lambda t: weibull_survival(t, median, shape) * math.exp(-hazard * t) - 0.5,
                                       1, 60)
    assert_close_to_truth(true_row(default_truth, "durability_median_days", "single", booster="treatment_policy",
                                   rescue="composite"), composite_median)
    for t in (7, 14, 28):
        relapse = integrate.quad(lambda u: weibull_density(u, median, shape) * math.exp(-hazard * u), 0, t)[0]
        rescue = integrate.quad(lambda u: hazard * math.exp(-hazard * u) * weibull_survival(u, median, shape),
                                0, t)[0]
        assert_close_to_truth(true_row(default_truth, "cif_relapse", "single", t), relapse)
        assert_close_to_truth(true_row(default_truth, "cif_rescue", "single", t), rescue)
    p_single = true_row(default_truth, "response_proportion", "single")["value"]
    m_h, k = s.onset_median_hours, s.onset_shape

    def onset_density(h):
        return (k / m_h) * (h / m_h) ** (k - 1) / (1 + (h / m_h) ** k) ** 2

    for t in (1, 7, 14, 28):
        inside = integrate.quad(lambda h, t=t: onset_density(h) * weibull_survival(t - h / 24, median, shape), 0,
                                24 * t,
                                limit=200)[0]
        assert_close_to_truth(true_row(default_truth, "in_response", "single", t, rescue="hypothetical"),
                              p_single * inside, 1e-4)
        # rescue composite: also not rescued, rescue hazard in response from onset
        inside = integrate.quad(lambda h, t=t: onset_density(h) * weibull_survival(t - h / 24, median, shape)
                                * math.exp(-hazard * (t - h / 24)), 0, 24 * t, limit=200)[0]
        assert_close_to_truth(true_row(default_truth, "in_response", "single", t, rescue="composite"),
                              p_single * inside, 1e-4)


def test_series_truths_with_boosters_match_the_renewal_formula():
    """Every series responder responds after the first infusion (so the durability clock starts
    exactly at the last series infusion): boosters offered with probability phi at days b1 < b2
    after it, each given while in response; relapse then comes no earlier than b_j + a fresh
    Weibull W_j. With S_0 = S_W, for t >= b_j: S_j(t) = S_{j-1}(t) + (S_{j-1}(b_j) - S_{j-1}(t))
    S_W(t - b_j); S(t) = (1 - phi) S_W(t) + phi S_2(t), and P(in response at day 11 + t) =
    P(respond) S(t)."""
    scenario = Scenario(series_first_response_probabilities=(1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                        booster_intervals_days=(10.0, 14.0), booster_fraction=0.6)
    table = simulate(scenario, n_patients=10).truth.table()
    median, shape, phi = scenario.series_durability_median_days, scenario.durability_shape, 0.6
    b1, b2 = 10.0, 24.0

    def boosted(t, j):
        if j == 0:
            return float(weibull_survival(t, median, shape))
        b = (b1, b2)[j - 1]
        before = boosted(t, j - 1)
        if t < b:
            return before
        return before + (boosted(b, j - 1) - before) * float(weibull_survival(t - b, median, shape))

    def survival_with_boosters(t):
        return (1 - phi) * boosted(t, 0) + phi * boosted(t, 2)

    for t in (7, 14, 21, 28):
        assert_close_to_truth(true_row(table, "sustained_response", "series", t, "treatment_policy",
                                       "hypothetical"), survival_with_boosters(t), 2e-4)
        assert_close_to_truth(true_row(table, "sustained_response", "series", t, "hypothetical", "hypothetical"),
                              float(weibull_survival(t, median, shape)), 2e-4)
        composite = (1 - phi * (t >= b1)) * weibull_survival(t, median, shape)
        assert_close_to_truth(true_row(table, "sustained_response", "series", t, "composite", "hypothetical"),
                              float(composite), 2e-4)
    tp_median = optimize.brentq(lambda t: survival_with_boosters(t) - 0.5, 1, 200)
    assert_close_to_truth(true_row(table, "durability_median_days", "series", booster="treatment_policy",
                                   rescue="hypothetical"), tp_median, 0.01)
    p_series = true_row(table, "response_proportion", "series")["value"]
    for day in (14, 28):
        assert_close_to_truth(true_row(table, "in_response", "series", day, rescue="hypothetical"),
                              p_series * survival_with_boosters(day - 11), 2e-4)


def test_response_and_remission_proportions_by_course(big, default_truth):
    """Closed-form proportions against the latent course of 20,000 patients, and remission well
    below response (ORKA-1: 54% vs 29%)."""
    latent = big.truth.latent
    for course in ("single", "series"):
        rows = latent[latent["course"] == course]
        n = len(rows)
        for estimand, column in (("response_proportion", "responder"), ("remission_proportion", "remitter")):
            p = true_row(default_truth, estimand, course)["value"]
            assert abs(rows[column].mean() - p) < 4 * math.sqrt(p * (1 - p) / n), (course, estimand)
        response = true_row(default_truth, "response_proportion", course)["value"]
        remission = true_row(default_truth, "remission_proportion", course)["value"]
        assert 0.5 <= response <= 0.7 and 0.2 <= remission <= 0.36 and remission < 0.6 * response
    # P(remit | respond): a baseline below 2 (10 + 2.5 + 4) = 33 points always remits, the rest with 0.1
    s = Scenario()
    threshold = 2 * (s.remission_max_points + s.remission_separation_points + s.response_separation_points)
    assert threshold == 33
    responders = latent[latent["responder"]]
    p_no_room = (responders["baseline_true"] < threshold).mean()
    expected = p_no_room + (1 - p_no_room) * s.remission_given_response
    assert abs(responders["remitter"].mean() - expected) < 4 * math.sqrt(expected * (1 - expected)
                                                                          / len(responders))
    assert big.truth.remission_probability_given_response == pytest.approx(expected, abs=0.02)


def test_observed_remission_matches_the_latent_state(big):
    ratings = madrs_totals(big)
    latent = big.truth.latent.set_index("patient_id")
    remitting = latent_responding(big, ratings) & ratings["patient_id"].map(latent["remitter"]).to_numpy(bool)
    wrong = np.mean(ratings["remitting"].to_numpy() != remitting)
    assert wrong < 2e-3
    assert wrong == pytest.approx(big.truth.remission_misclassification_rate, abs=1e-12)
    seen = ratings.groupby("patient_id")[["responding", "remitting"]].any()
    assert seen["remitting"].mean() < 0.7 * seen["responding"].mean()


def test_dropout_and_stopping_follow_the_documented_rule(big, default_truth):
    """Series: only the first infusion when the patient leaves after it (0.2) or is lost before the
    second ends; all six only when no stop (0.89^4 after the second..fifth) and not lost by day 11."""
    s, latent = Scenario(), big.truth.latent
    hazard = s.dropout_hazard_per_day
    series = latent[latent["course"] == "series"]
    given = big.infusions.groupby("patient_id")["infusion_number"].max().loc[series["patient_id"]]
    induction = given.clip(upper=6)
    only_first = s.early_dropout_probability + (1 - s.early_dropout_probability) * (1 - math.exp(-2 * hazard))
    all_six = ((1 - s.early_dropout_probability) * (1 - s.series_stop_probability) ** 4 * math.exp(-11 * hazard))
    n = len(series)
    for observed, expected, estimand in ((np.mean(induction == 1), only_first, "dropout_after_first_infusion"),
                                         (np.mean(induction < 6), 1 - all_six,
                                          "stopped_before_last_series_infusion")):
        assert abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / n), estimand
        assert_close_to_truth(true_row(default_truth, estimand, "series"), expected)
    assert 0.15 < only_first < 0.25 and 0.45 < 1 - all_six < 0.6
    # single: early dropout between 26 h and 6 days, or lost before day 7
    single = latent[latent["course"] == "single"]
    gone = np.mean(single["dropout_time_hours"] < 7 * 24)
    expected = 1 - (1 - s.early_dropout_probability) * math.exp(-hazard * (7 - 40 / 1440))
    assert abs(gone - expected) < 4 * math.sqrt(expected * (1 - expected) / len(single))
    assert_close_to_truth(true_row(default_truth, "dropout_after_first_infusion", "single"), expected)
    # boosters seen in the events: the truth's proportion of series patients
    boosted = big.events.loc[big.events["event"] == "booster", "patient_id"].nunique() / n
    p = true_row(default_truth, "booster_given", "series")["value"]
    assert abs(boosted - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_observed_cumulative_incidence_of_rescue_among_single_responders(big, default_truth):
    """Rescue times are exact in the events table: an Aalen-Johansen estimate written here
    (relapse dated at the latent time, censoring at leaving care) recovers the true CIFs."""
    latent = big.truth.latent.set_index("patient_id")
    rows = latent[(latent["course"] == "single") & latent["responder"]]
    clock = rows["clock_origin_hours"]
    relapse = (rows["relapse_time_hours"] - clock) / 24
    rescue = (rows["rescue_time_hours"] - clock) / 24
    censor = (rows["dropout_time_hours"] - clock) / 24
    relapse, rescue, censor = relapse.to_numpy(), rescue.to_numpy(), censor.to_numpy()
    time = np.minimum.reduce([relapse, rescue, censor])
    cause = np.select([relapse <= np.minimum(rescue, censor), rescue <= censor], [1, 2], 0)
    order = np.argsort(time)
    time, cause = time[order], cause[order]
    at_risk = len(time) - np.arange(len(time))
    survival_before = np.concatenate([[1.0], np.cumprod(1 - (cause > 0) / at_risk)[:-1]])
    for t in (7, 14, 28):
        upto = time <= t
        for code, estimand in ((1, "cif_relapse"), (2, "cif_rescue")):
            estimate = np.sum(survival_before[upto] * (cause[upto] == code) / at_risk[upto])
            p = true_row(default_truth, estimand, "single", t)["value"]
            se = math.sqrt(p * (1 - p) / (len(time) * 0.7))  # 30% lost by then at most
            assert abs(estimate - p) < 4 * se + 4 * true_row(default_truth, estimand, "single", t)["mc_se"], \
                (estimand, t)


def test_same_seed_same_data_other_seed_other_data():
    one, two, other = simulate(150, seed=5), simulate(150, seed=5), simulate(150, seed=6)
    for name in ("assessments", "infusions", "patients", "events"):
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
        truth.seed = 1  # type: ignore[misc]
    custom = simulate(50, seed=1, onset_median_hours=6.0, durability_median_days=10.0, noise_sd=0.5,
                      relapse_hazard_ratios={"route": {"IM": 2.0}}, response_dose_logit=0.0,
                      series_fraction=0.0)
    t = custom.truth
    assert (t.onset_median_hours, t.durability_median_days, t.noise_sd) == (6.0, 10.0, 0.5)
    assert t.relapse_hazard_ratios == {"route": {"IM": 2.0}}
    assert t.durability_median_days_by_group["single"]["route=IM"] == pytest.approx(10.0 * 2 ** (-1 / 1.5))
    assert set(custom.patients["course"]) == {"single"}
    summary = truth.summary()
    assert {"onset_median_hours", "durability_median_days", "response_intercept", "early_dropout_probability",
            "n_patients"} <= set(summary.index)
    assert summary["description"].str.len().gt(0).all()
    assert len(truth.latent) == 400 and truth.latent["patient_id"].tolist() == small.patients["patient_id"].tolist()
    with pytest.raises(AttributeError):
        _ = truth.not_a_parameter
    table = truth.table()
    assert {"course", "estimand", "time_days", "booster_strategy", "rescue_strategy", "value", "mc_se",
            "method"} <= set(table.columns)
    assert truth.value("durability_median_days", "series") == table.loc[
        (table["estimand"] == "durability_median_days") & (table["course"] == "series")
        & (table["booster_strategy"] == "treatment_policy") & (table["rescue_strategy"] == "composite"),
        "value"].item()
    with pytest.raises(ValueError, match="No true value"):
        truth.value("in_response", "single", time_days=3)
    restored = pickle.loads(pickle.dumps(small))  # the dashboard caches datasets
    assert restored.truth == truth and restored.truth.noise_sd == truth.noise_sd


# ---- the latent model, checked against the truth ---------------------------------------------

def test_latent_onset_and_durability_medians_match_the_truth(big):
    truth, latent = big.truth, big.truth.latent
    single = latent[latent["responder"] & (latent["course"] == "single")]
    n = len(single)
    # SE of a sample median: 1 / (2 f(m) sqrt(n)); log-logistic f(m) = shape / (4 m)
    se_onset = 2 * truth.onset_median_hours / (truth.onset_shape * math.sqrt(n))
    assert abs(single["onset_hours"].median() - truth.onset_median_hours) < 4 * se_onset
    # Weibull f(m) = shape * log(2) / (2 m)
    se_durability = truth.durability_median_days / (truth.durability_shape * LOG2 * math.sqrt(n))
    assert abs(single["durability_days"].median() - truth.durability_median_days) < 4 * se_durability
    series = latent[latent["responder"] & (latent["course"] == "series")]
    se_series = truth.series_durability_median_days / (truth.durability_shape * LOG2 * math.sqrt(len(series)))
    assert abs(series["durability_days"].median() - truth.series_durability_median_days) < 4 * se_series
    # the series is on days 0..11; boosters only at the planned booster days
    infusions = big.infusions
    assert infusions.loc[infusions["infusion_number"] <= 6, "time_hours"].max() <= 11 * 24
    boosters = infusions.loc[infusions["infusion_number"] > 6]
    expected = {(k + 7, d * 24) for k, d in enumerate(truth.scenario.booster_days)}
    assert set(zip(boosters["infusion_number"], boosters["time_hours"], strict=True)) == expected
    # onset is counted from the infusion that precedes response
    days = np.asarray(truth.series_days) * 24
    k = series["onset_infusion"].to_numpy(dtype=int)
    np.testing.assert_allclose(series["onset_time_hours"] - days[k - 1], series["onset_hours"], atol=1e-9)
    assert (series["onset_hours"] >= 0).all()
    nxt = np.append(days, np.inf)[k]
    assert (series["onset_time_hours"] < nxt).all()
    later = (series["first_response_infusion"] > 1).mean()
    p_later = 1 - truth.series_first_response_probabilities[0]
    assert abs(later - p_later) < 4 * math.sqrt(p_later * (1 - p_later) / len(series))
    # relapse after a series never comes before the last series infusion; boosters only postpone it
    assert (series["relapse_time_hours"] > days[-1]).all()
    assert (series["relapse_time_hours"] >= series["relapse_without_boosters_hours"]).all()
    assert (series.loc[series["boosters_given"] == 0, "relapse_time_hours"]
            == series.loc[series["boosters_given"] == 0, "relapse_without_boosters_hours"]).all()


def test_missed_visits_happen_at_the_documented_rate(big):
    truth, latent = big.truth, big.truth.latent
    single = latent[latent["course"] == "single"]
    a = big.assessments
    madrs = a[(a["instrument"] == "MADRS") & a["item"].isna()]
    present = madrs[madrs["visit"] == "80 min"]["patient_id"].nunique()
    rate = 1 - present / len(single)
    p = truth.missed_visit_probability
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / len(single)) + 0.002
    given = big.infusions.groupby("patient_id").size()
    np.testing.assert_array_equal(given.loc[latent["patient_id"]].to_numpy(), latent["n_infusions_given"])


def test_visit_schedules():
    quiet = dict(missed_visit_probability=0.0, dropout_hazard_per_day=0.0, qids_fraction=0.0,
                 early_dropout_probability=0.0, series_stop_probability=0.0)
    data = simulate(300, seed=4, booster_fraction=0.0, **quiet)
    a = data.assessments
    madrs = a[(a["instrument"] == "MADRS") & a["item"].isna() & (a["visit"] != "rescue")]
    per_patient = madrs.groupby("patient_id").size()
    course = data.patients.set_index("patient_id")["course"]
    assert (per_patient[course == "single"] == 1 + 4 + 3 + 6).all()  # baseline, minutes, days 1-3, follow-up
    assert (per_patient[course == "series"] == 1 + 3 + 5 * 4 + 6).all()
    single = madrs[madrs["patient_id"].map(course) == "single"]
    minutes = single[single["visit"].isin(["40 min", "80 min", "110 min", "230 min"])]["time_hours"] * 60
    assert set(np.round(minutes).astype(int)) == {40, 80, 110, 230}
    baseline = madrs[madrs["visit"] == "baseline"]["time_hours"]
    assert set(baseline.round(6)) <= {-24.0, -1.0}
    day28 = single[single["visit"] == "day 28"]["time_hours"] / 24
    assert day28.between(27, 29).all()
    assert data.events.empty or set(data.events["event"]) == {"rescue"}
    boosters = simulate(300, seed=4, booster_fraction=1.0, series_fraction=1.0, **quiet)
    latent = boosters.truth.latent.set_index("patient_id")
    counts = boosters.infusions.groupby("patient_id").size()
    np.testing.assert_array_equal(counts.loc[latent.index], 6 + latent["boosters_given"])
    assert latent["boosters_given"].max() == 3 and (latent.loc[~latent["responder"], "boosters_given"] == 0).all()
    visits = boosters.assessments.groupby("visit").size()
    assert visits["booster1 40 min"] > 0 and visits["booster3 24 h"] > 0


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


def test_relapse_hazard_ratios_change_the_group_median():
    data = simulate(12_000, seed=2, items=False, series_fraction=0.0,
                    route_probabilities={"IV": 0.5, "IM": 0.5}, relapse_hazard_ratios={"route": {"IM": 2.0}})
    latent = data.truth.latent[data.truth.latent["responder"]]
    for route, expected in (("IV", 21.0), ("IM", 21.0 * 2 ** (-1 / 1.5))):
        days = latent.loc[latent["route"] == route, "durability_days"]
        se = expected / (1.5 * math.log(2) * math.sqrt(len(days)))
        assert abs(days.median() - expected) < 4 * se, route


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


def test_observed_response_matches_the_latent_state(big):
    ratings = madrs_totals(big)
    wrong = np.mean(ratings["responding"].to_numpy() != latent_responding(big, ratings))
    assert wrong < 1e-3
    assert wrong == pytest.approx(big.truth.misclassification_rate, abs=1e-12)
    # patients seen responding are latent responders; latent responders still in care at onset are
    # nearly all seen (the others left before their response)
    seen = ratings.groupby("patient_id")["responding"].any()
    latent = big.truth.latent.set_index("patient_id").loc[seen.index]
    responder = latent["responder"]
    assert (seen & ~responder).mean() < 1e-3
    in_care = responder & (latent["onset_time_hours"] < latent["dropout_time_hours"])
    assert (in_care & ~seen).sum() / in_care.sum() < 0.03
    assert (responder & ~seen).sum() / responder.sum() > 0.05  # dropout hides responders
