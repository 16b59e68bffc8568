"""Responder rates, cumulative response across a series and group comparisons.

References: hand-counted small cases; statsmodels (proportion_confint Wilson,
confint_proportions_2indep Newcombe/Wald, Table2x2 odds ratio with Woolf's interval); the
worked example of Newcombe (Stat Med 1998;17:873-90: 56/70 vs 48/80, method 10 gives
0.0524 to 0.3339); lifelines' Kaplan-Meier (test-only) for the cumulative response; and
recovery of known response probabilities from data simulated here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

import analysis
from analysis.longitudinal.responders import (
    compare_responders,
    newcombe_difference_interval,
    odds_ratio_interval,
    responder_rates,
    series_response,
    wald_difference_interval,
)
from tests.analysis.outcome_builders import make_data

# Baseline 30 for everyone: response = score <= 15, remission (MADRS) = score <= 10.
VISITS = [
    ("p1", -1, 30, "base"), ("p1", 4, 14, "h4"), ("p1", 24, 10, "d1"), ("p1", 168, 20, "d7"),
    ("p2", -1, 30, "base"), ("p2", 4, 20, "h4"), ("p2", 24, 15, "d1"), ("p2", 168, 9, "d7"),
    ("p3", -1, 30, "base"), ("p3", 4, 16, "h4"), ("p3", 24, 25, "d1"),
    ("p4", -1, 30, "base"), ("p4", 4, 12, "h4"), ("p4", 24, 8, "d1"), ("p4", 168, 14, "d7"),
]
SEXES = pd.DataFrame({"patient_id": ["p1", "p2", "p3", "p4"], "age": 40.0, "sex": ["F", "M", "F", "M"],
                      "diagnosis": "TRD"})


def test_rates_by_visit_hand_counted_with_wilson_intervals():
    rates = responder_rates(make_data(VISITS, patients=SEXES))
    table = rates.table.set_index(["time_point", "outcome"])
    expected = {("h4", "response"): (2, 4), ("h4", "remission"): (0, 4),
                ("d1", "response"): (3, 4), ("d1", "remission"): (2, 4),
                ("d7", "response"): (2, 3), ("d7", "remission"): (1, 3)}
    for key, (count, n) in expected.items():
        row = table.loc[key]
        assert (row["count"], row["n"]) == (count, n), key
        lower, upper = proportion_confint(count, n, method="wilson")
        assert row["lower"] == pytest.approx(lower, abs=1e-12)
        assert row["upper"] == pytest.approx(upper, abs=1e-12)
    assert list(dict.fromkeys(rates.table["time_point"])) == ["h4", "d1", "d7"]  # schedule order
    summary = rates.summary()
    assert summary.loc[("all", "d1"), "n"] == 4
    assert summary.loc[("all", "d1"), "response"] == pytest.approx(0.75)


def test_rates_by_group_and_clopper_pearson_option():
    rates = responder_rates(make_data(VISITS, patients=SEXES), by="sex", interval="clopper-pearson")
    row = rates.table.set_index(["group", "time_point", "outcome"]).loc[("M", "d1", "response")]
    assert (row["count"], row["n"]) == (2, 2)
    assert (row["lower"], row["upper"]) == pytest.approx(proportion_confint(2, 2, method="beta"))


def test_binned_time_uses_last_rating_in_bin():
    ratings = VISITS + [("p3", 30, 12, "extra")]  # p3 responds at 30 h, after its 24 h rating
    rates = responder_rates(make_data(ratings), time="hours", bins=[0, 48, 200])
    row = rates.table.set_index(["time_point", "outcome"]).loc[("(0, 48] h", "response")]
    # last rating in (0, 48]: p1 24 h (10), p2 24 h (15), p3 30 h (12), p4 24 h (8) -> 4 of 4
    assert (row["count"], row["n"]) == (4, 4)


# A series: infusions at 0, 48 and 96 h; ratings 24 h after each. Baseline 30.
SERIES_RATINGS = [
    ("s1", -1, 30, None), ("s1", 24, 20, None), ("s1", 72, 14, None), ("s1", 120, 12, None),
    ("s2", -1, 30, None), ("s2", 24, 12, None), ("s2", 72, 18, None), ("s2", 120, 10, None),
    ("s3", -1, 30, None), ("s3", 24, 25, None), ("s3", 72, 22, None),
    ("s4", -1, 30, None), ("s4", 24, 28, None), ("s4", 72, 26, None), ("s4", 120, 20, None),
    ("s5", -1, 30, None), ("s5", 24, 26, None), ("s5", 72, 24, None), ("s5", 120, 15, None),
]
SERIES_INFUSIONS = [(p, k, 48.0 * (k - 1)) for p in ("s1", "s2", "s4", "s5") for k in (1, 2, 3)] + [
    ("s3", 1, 0.0), ("s3", 2, 48.0)]


def test_rates_by_infusion_number():
    rates = responder_rates(make_data(SERIES_RATINGS, SERIES_INFUSIONS), time="infusion")
    table = rates.table[rates.table["outcome"] == "response"].set_index("infusion_number")
    assert list(table["count"]) == [1, 1, 3]
    assert list(table["n"]) == [5, 5, 4]
    assert list(table["time_point"]) == ["infusion 1", "infusion 2", "infusion 3"]
    remission = rates.table[rates.table["outcome"] == "remission"]
    assert list(remission["count"]) == [0, 0, 1]  # s2 scores 10 after infusion 3


def test_series_response_kaplan_meier_against_lifelines_and_by_hand():
    from lifelines import KaplanMeierFitter

    series = series_response(make_data(SERIES_RATINGS, SERIES_INFUSIONS))
    patients = series.patients.set_index("patient_id")
    assert list(patients["infusions_to_response"].fillna(0)) == [2, 1, 0, 0, 3]
    assert list(patients["responded"]) == [True, True, False, False, True]
    assert list(patients["last_rated_infusion"]) == [3, 3, 2, 3, 3]
    dist = series.distribution
    assert list(dist["first_responses"]) == [1, 1, 1] and list(dist["censored"]) == [0, 1, 1]
    cum = series.cumulative
    # S(1) = 4/5, S(2) = 4/5 * 3/4, S(3) = 0.6 * 1/2  -> cumulative 0.2, 0.4, 0.7
    np.testing.assert_allclose(cum["cumulative_response"], [0.2, 0.4, 0.7])
    np.testing.assert_allclose(cum["cumulative_naive"], [0.2, 0.4, 0.6])
    assert list(cum["at_risk"]) == [5, 4, 2]
    kmf = KaplanMeierFitter().fit([2, 1, 2, 3, 3], [1, 1, 0, 0, 1])  # lifelines: log(-log) Greenwood band
    band = kmf.confidence_interval_survival_function_.loc[[1.0, 2.0, 3.0]]
    np.testing.assert_allclose(cum["lower"], 1 - band.iloc[:, 1].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(cum["upper"], 1 - band.iloc[:, 0].to_numpy(), rtol=1e-6)
    summary = series.summary().loc["all"]
    assert summary["median_infusions_to_response"] == kmf.median_survival_time_ == 3
    assert summary["responders"] == 3 and summary["n"] == 5
    assert summary["mean_infusions_among_responders"] == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# interval formulas

def test_newcombe_interval_matches_published_example_and_statsmodels():
    lower, upper = newcombe_difference_interval(56, 70, 48, 80)
    assert (float(lower), float(upper)) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    rng = np.random.default_rng(0)
    n1, n0 = rng.integers(1, 60, 25), rng.integers(1, 60, 25)
    c1, c0 = rng.integers(0, n1 + 1), rng.integers(0, n0 + 1)
    lower, upper = newcombe_difference_interval(c1, n1, c0, n0, alpha=0.1)
    for i in range(len(n1)):
        ref = confint_proportions_2indep(c1[i], n1[i], c0[i], n0[i], method="newcomb", compare="diff", alpha=0.1)
        assert (lower[i], upper[i]) == pytest.approx(ref, abs=1e-10)


def test_wald_interval_matches_statsmodels():
    lower, upper = wald_difference_interval(56, 70, 48, 80)
    ref = confint_proportions_2indep(56, 70, 48, 80, method="wald", compare="diff")
    assert (float(lower), float(upper)) == pytest.approx(ref, abs=1e-12)


def test_odds_ratio_woolf_interval_and_haldane_correction():
    ratio, lower, upper, corrected = odds_ratio_interval(20, 50, 10, 40)
    table = Table2x2(np.array([[20, 30], [10, 30]]))
    assert float(ratio) == pytest.approx(table.oddsratio)
    assert (float(lower), float(upper)) == pytest.approx(table.oddsratio_confint(), rel=1e-10)
    assert not corrected
    # a zero cell: 0.5 added to all four cells -> (0.5 * 2.5) / (5.5 * 3.5)
    ratio, lower, upper, corrected = odds_ratio_interval(0, 5, 3, 5)
    assert corrected
    assert float(ratio) == pytest.approx(0.5 * 2.5 / (5.5 * 3.5))
    se = np.sqrt(1 / 0.5 + 1 / 5.5 + 1 / 3.5 + 1 / 2.5)
    assert float(lower) == pytest.approx(float(ratio) * np.exp(-stats.norm.ppf(0.975) * se))
    shifted = Table2x2(np.array([[0.5, 5.5], [3.5, 2.5]]))
    assert (float(lower), float(upper)) == pytest.approx(shifted.oddsratio_confint(), rel=1e-10)


def test_compare_responders_rows_match_reference_formulas():
    data = make_data(VISITS, patients=SEXES)
    comparison = compare_responders(data, by="sex")
    assert comparison.settings["reference"] == "F"
    row = comparison.table.set_index(["time_point", "outcome"]).loc[("d1", "response")]
    # M: p2, p4 respond (2/2); F: p1 responds, p3 not (1/2)
    assert (row["count"], row["n"], row["count_reference"], row["n_reference"]) == (2, 2, 1, 2)
    assert row["risk_difference"] == pytest.approx(0.5)
    ref = confint_proportions_2indep(2, 2, 1, 2, method="newcomb", compare="diff")
    assert (row["risk_difference_lower"], row["risk_difference_upper"]) == pytest.approx(ref, abs=1e-10)
    assert row["zero_cell_corrected"]
    assert row["p_fisher"] == pytest.approx(stats.fisher_exact([[2, 0], [1, 1]]).pvalue)
    same = compare_responders(responder_rates(data, by="sex"), reference="M", difference_ci="wald")
    r2 = same.table.set_index(["time_point", "outcome"]).loc[("d1", "response")]
    assert r2["group"] == "F" and r2["risk_difference"] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="needs `by`"):
        compare_responders(data)
    with pytest.raises(ValueError, match="reference"):
        compare_responders(data, by="sex", reference="X")


def test_recovery_of_known_response_probabilities():
    """Simulated: group a responds at 24 h with probability 0.6, group b with 0.3 (n = 600 each)."""
    rng = np.random.default_rng(7)
    n = 1200
    group = np.repeat(["a", "b"], n // 2)
    respond = rng.random(n) < np.where(group == "a", 0.6, 0.3)
    ids = [f"r{i:04d}" for i in range(n)]
    ratings = [(pid, -1.0, 30.0, "base") for pid in ids]
    ratings += [(pid, 24.0, 12.0 if r else 24.0, "d1") for pid, r in zip(ids, respond, strict=True)]
    patients = pd.DataFrame({"patient_id": ids, "age": 40.0, "sex": "F", "diagnosis": "TRD", "arm": group})
    comparison = compare_responders(make_data(ratings, patients=patients), by="arm", reference="b")
    row = comparison.table[comparison.table["outcome"] == "response"].iloc[0]
    assert row["risk_difference_lower"] < 0.3 < row["risk_difference_upper"]
    true_or = (0.6 / 0.4) / (0.3 / 0.7)
    assert row["odds_ratio_lower"] < true_or < row["odds_ratio_upper"]
    rates = responder_rates(make_data(ratings, patients=patients), by="arm").table
    a = rates[(rates["group"] == "a") & (rates["outcome"] == "response")].iloc[0]
    assert a["lower"] < 0.6 < a["upper"]


def test_public_api_names():
    assert analysis.responder_rates is responder_rates
    assert analysis.series_response is series_response
    assert analysis.compare_responders is compare_responders


def test_series_response_recovers_simulated_truth():
    """analysis.simulate with every patient on a 6-infusion series: the infusion after which each
    patient first responds is known (truth.latent.onset_infusion), and so is P(ever respond)."""
    data = analysis.simulate(400, seed=2, series_fraction=1.0, route_probabilities={"IV": 1.0},
                             dose_probabilities={0.5: 1.0}, diagnosis_probabilities={"TRD": 1.0},
                             early_dropout_probability=0.0, series_stop_probability=0.0)
    series = series_response(data)
    latent = data.truth.latent.assign(patient_id=data.truth.latent["patient_id"].astype(str))
    latent = latent.set_index("patient_id").loc[series.patients["patient_id"]]
    observed = series.patients["infusions_to_response"].fillna(0).to_numpy(int)
    true = latent["onset_infusion"].fillna(0).to_numpy(int)
    assert np.mean(observed == true) > 0.97  # visits misclassify a few; dropout hides a few responders
    last = series.cumulative.iloc[-1]
    assert last["infusion_number"] == 6
    assert abs(last["cumulative_response"] - data.truth.response_probability_series) < 0.08
    assert last["cumulative_response"] >= last["cumulative_naive"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=4), min_size=1, max_size=8),
       st.integers(20, 40))
def test_rate_invariants(courses, baseline):
    """Any small dataset: count <= n, the proportion lies within its interval, n counts patients."""
    ratings = []
    for k, course in enumerate(courses):
        ratings.append((f"q{k}", -1.0, float(baseline), "base"))
        ratings += [(f"q{k}", 24.0 * (j + 1), float(s), f"day {j + 1}") for j, s in enumerate(course)]
    rates = responder_rates(make_data(ratings))
    table = rates.table
    assert (table["count"] <= table["n"]).all()
    assert (table["lower"] <= table["proportion"] + 1e-12).all()
    assert (table["proportion"] <= table["upper"] + 1e-12).all()
    day1 = table[(table["time_point"] == "day 1") & (table["outcome"] == "response")]
    assert day1["n"].item() == len(courses)
    assert day1["count"].item() == sum(c[0] <= baseline / 2 for c in courses)


def test_rates_at_any_time_match_r_prop_test_wilson():
    """Ever responded / remitted, n = every patient with a baseline (p6 has no post-baseline
    rating and counts as a non-responder). R 4.2, Wilson = score interval without continuity
    correction::

        prop.test(4, 6, correct = FALSE)$conf.int   # 0.2999933151 0.9032285889
        prop.test(3, 6, correct = FALSE)$conf.int   # 0.1876163065 0.8123836935
    """
    # p1 responds (14) and remits (10); p2 responds (15) and remits (9); p3 never (16, 25);
    # p4 responds and remits; p5 responds (15) without remitting; p6 only has a baseline
    ratings = VISITS + [("p5", -1, 30, "base"), ("p5", 4, 15, "h4"), ("p6", -1, 30, "base")]
    rates = responder_rates(make_data(ratings), time="any")
    table = rates.table.set_index("outcome")
    assert list(table["time_point"]) == ["any time", "any time"]
    assert list(table["n"]) == [6, 6]
    assert (table.loc["response", "count"], table.loc["remission", "count"]) == (4, 3)
    assert table.loc["response", ["lower", "upper"]].to_numpy(float) == pytest.approx(
        [0.2999933151, 0.9032285889], rel=1e-8)
    assert table.loc["remission", ["lower", "upper"]].to_numpy(float) == pytest.approx(
        [0.1876163065, 0.8123836935], rel=1e-8)
    assert "at any time" in rates.describe()[0]
    # by group, and the group comparison works on the same definition
    sexes = pd.concat([SEXES, pd.DataFrame({"patient_id": ["p5", "p6"], "age": 40.0, "sex": ["F", "M"],
                                            "diagnosis": "TRD"})])
    by_sex = responder_rates(make_data(ratings, patients=sexes), time="any", by="sex").table
    response = by_sex[by_sex["outcome"] == "response"].set_index("group")
    assert (response.loc["F", "count"], response.loc["F", "n"]) == (2, 3)  # p1, p5 of p1, p3, p5
    assert (response.loc["M", "count"], response.loc["M", "n"]) == (2, 3)  # p2, p4 of p2, p4, p6
