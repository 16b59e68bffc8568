"""Dissociation against improvement, suicidality item course and response phenotypes.

References: scipy.stats.pearsonr / spearmanr (estimates, p-values, and pearsonr's Fisher z
confidence_interval); the Bonett-Wright standard error computed by hand; hand-worked small
cases; recovery of a known correlation from bivariate-normal data simulated here; and the
latent course of analysis.simulate (true onset and relapse times) for the phenotypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
from analysis.contract import OutcomeData
from analysis.endpoints import derive_endpoints
from analysis.symptoms import (
    correlation_interval,
    dissociation_response,
    response_phenotypes,
    suicidality_course,
    suicidality_thresholds,
)
from tests.analysis.outcome_builders import outcome_data


def make_data(rows, infusions=None, patients=None) -> OutcomeData:
    """rows: (patient, instrument, item or None, time_hours, score, visit)."""
    columns = ["patient_id", "instrument", "item", "time_hours", "score", "visit"]
    return outcome_data(pd.DataFrame(rows, columns=columns), infusions, patients)


def madrs(pid, course, items=None, cadss=None, times=(-1, 4, 24, 168)):
    """MADRS totals (and item-10 values) at the given times, plus one CADSS total at 40 min."""
    rows = [(pid, "MADRS", None, t, s, None) for t, s in zip(times, course, strict=True)]
    if items is not None:
        rows += [(pid, "MADRS", 10, t, s, None) for t, s in zip(times, items, strict=True)]
    if cadss is not None:
        rows.append((pid, "CADSS", None, 40 / 60, cadss, "40 min"))
    return rows


# ---------------------------------------------------------------------------------------------
# correlation intervals

def test_pearson_interval_matches_scipy():
    rng = np.random.default_rng(1)
    for n in (5, 12, 80):
        x = rng.normal(size=n)
        y = 0.5 * x + rng.normal(size=n)
        result = stats.pearsonr(x, y)
        for level in (0.9, 0.95):
            ref = result.confidence_interval(confidence_level=level)
            lower, upper = correlation_interval(result.statistic, n, alpha=1 - level)
            assert (float(lower), float(upper)) == pytest.approx((ref.low, ref.high), rel=1e-10)


def test_spearman_interval_uses_bonett_wright_standard_error():
    rho, n = -0.41, 40
    se = np.sqrt((1 + rho**2 / 2) / (n - 3))
    z = np.arctanh(rho)
    lower, upper = correlation_interval(rho, n, method="spearman")
    assert float(lower) == pytest.approx(np.tanh(z - 1.959963984540054 * se))
    assert float(upper) == pytest.approx(np.tanh(z + 1.959963984540054 * se))
    assert np.isnan(correlation_interval(0.5, 3)[0])


# ---------------------------------------------------------------------------------------------
# dissociation

DISSOCIATION = (
    madrs("p1", (30, 14, 20, 28), cadss=20) + madrs("p2", (40, 30, 18, 16), cadss=5)
    + madrs("p3", (20, 9, 8, 7), cadss=40) + madrs("p4", (25, 20, 10, 10), cadss=10)
    + madrs("p5", (33, 30, 28, 31), cadss=2)
    # p6: ratings at 3 h and 5 h are equally near 4 h (the earlier counts); 9 h is outside (2, 8]
    + madrs("p6", (40, 30, 10, 20, 20, 30), cadss=30, times=(-1, 3, 5, 9, 24, 168))
)


def test_dissociation_pairs_and_correlations_by_hand():
    result = dissociation_response(make_data(DISSOCIATION))
    pairs = result.pairs
    four = pairs[pairs["time_point"] == "4 h"].set_index("patient_id")
    assert four.loc["p1", "improvement_pct"] == pytest.approx(100 * (30 - 14) / 30)
    assert four.loc["p6", "rating_time_hours"] == 3 and four.loc["p6", "improvement_pct"] == pytest.approx(25)
    assert four.loc["p3", "peak_cadss"] == 40
    assert sorted(pairs["time_point"].unique()) == ["24 h", "4 h", "day 7"]
    corr = result.correlations.set_index(["time_point", "method"])
    x, y = four["peak_cadss"].to_numpy(), four["improvement_pct"].to_numpy()
    pearson = stats.pearsonr(x, y)
    row = corr.loc[("4 h", "pearson")]
    assert row["n"] == 6
    assert row["estimate"] == pytest.approx(pearson.statistic)
    assert row["p"] == pytest.approx(pearson.pvalue)
    ci = pearson.confidence_interval()
    assert (row["lower"], row["upper"]) == pytest.approx((ci.low, ci.high))
    spearman = stats.spearmanr(x, y)
    assert corr.loc[("4 h", "spearman"), "estimate"] == pytest.approx(spearman.statistic)
    assert corr.loc[("4 h", "spearman"), "p"] == pytest.approx(spearman.pvalue)


def test_dissociation_windows_and_errors():
    data = make_data(DISSOCIATION)
    only_24 = dissociation_response(data, windows_hours={24.0: (20.0, 30.0)})
    assert list(only_24.correlations["time_point"].unique()) == ["24 h"]
    first = dissociation_response(data, cadss_window_hours=(0, 1))
    assert first.pairs.set_index(["time_point", "patient_id"]).loc[("24 h", "p3"), "peak_cadss"] == 40
    with pytest.raises(ValueError, match="OutcomeData"):
        dissociation_response(derive_endpoints(data), cadss_window_hours=(0, 1))
    with pytest.raises(ValueError, match="does not contain"):
        dissociation_response(data, windows_hours={4.0: (5.0, 8.0)})
    no_cadss = make_data([r for r in DISSOCIATION if r[1] == "MADRS"])
    with pytest.raises(ValueError, match="No CADSS"):
        dissociation_response(no_cadss)


def test_dissociation_recovers_known_correlation():
    """Peak CADSS and 24 h improvement from a bivariate normal with correlation -0.4 (n = 800)."""
    rng = np.random.default_rng(42)
    n = 800
    xy = rng.multivariate_normal([0, 0], [[1, -0.4], [-0.4, 1]], size=n)
    cadss = np.clip(np.round(30 + 8 * xy[:, 0]), 0, 92)
    score = np.clip(np.round(25 - 6 * xy[:, 1]), 0, 60)  # baseline 50: improvement = 100 - 2 * score
    rows = []
    for k in range(n):
        rows += madrs(f"x{k:03d}", (50, score[k]), cadss=cadss[k], times=(-1, 24))
    result = dissociation_response(make_data(rows), windows_hours={24.0: (12.0, 48.0)})
    row = result.correlations.set_index("method").loc["pearson"]
    assert row["n"] == n
    # improvement_pct = 100 - 2 * score, so corr(cadss, improvement) = -corr(x, -y) ... = -0.4
    assert row["lower"] < -0.4 < row["upper"]
    assert abs(row["estimate"] + 0.4) < 0.1


# ---------------------------------------------------------------------------------------------
# suicidality

SUICIDALITY = (
    madrs("p1", (30, 14, 20, 28), items=(3, 1, 1, 3)) + madrs("p2", (40, 30, 18, 16), items=(2, 2, 1, 1))
    + madrs("p3", (20, 9, 8, 7), items=(1, 0, 0, 0)) + madrs("p4", (25, 20, 10, 10), items=(4, 0, 2, 0))
    + madrs("p5", (33, 30, 28, 31), items=(2, 2, 2, 2))
)


def test_suicidality_course_and_resolution_by_hand():
    result = suicidality_course(make_data(SUICIDALITY), time="hours", bins=[0, 12, 48, 200])
    course = result.course.set_index("time_point")
    assert list(course.index) == ["baseline", "(0, 12] h", "(12, 48] h", "(48, 200] h"]
    assert course.loc["baseline", "mean"] == pytest.approx(np.mean([3, 2, 1, 4, 2]))
    values = np.array([1, 1, 0, 2, 2.0])
    assert course.loc["(12, 48] h", "lower"] == pytest.approx(
        stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))[0])
    dist = result.distribution
    base = dist[dist["time_point"] == "baseline"].set_index("item_score")
    assert base.loc[2.0, "count"] == 2 and base.loc[2.0, "proportion"] == pytest.approx(0.4)
    # eligible (item >= 2 at baseline): p1, p2, p4, p5. Resolved (<= 1) by 24 h: p1, p2, p4.
    # sustained to day 7: p1 back to 3 at 168 h, p4 back to 2 at 24 h, p5 never -> only p2.
    patients = result.patients.set_index("patient_id")
    assert list(patients["eligible"]) == [True, True, False, True, True]
    assert patients.loc["p3", "resolved_by"] is pd.NA
    summary = result.summary()
    assert tuple(summary.loc[("all", "by_24h"), ["count", "n"]]) == (3, 4)
    assert tuple(summary.loc[("all", "sustained_to_168h"), ["count", "n"]]) == (1, 4)
    assert summary.loc[("all", "by_24h"), "lower"] == pytest.approx(analysis_wilson(3, 4)[0])
    at = result.resolution[result.resolution["measure"] == "at_time_point"].set_index("time_point")
    assert tuple(at.loc["(0, 12] h", ["count", "n"]]) == (2, 4)  # p1 (1), p4 (0) resolved at 4 h
    assert result.summary_gap() is None
    # rated from 48 h on (a survey two days after the infusion): no resolution by 24 h, said why
    later = make_data([r for r in SUICIDALITY if not 0 < r[3] <= 24])
    gap = suicidality_course(later, time="hours", bins=[0, 48, 200]).summary_gap()
    assert gap.startswith("None of the 4 patient(s) with ideation at baseline was rated within 24 h")


def analysis_wilson(count, n):
    from statsmodels.stats.proportion import proportion_confint

    return proportion_confint(count, n, method="wilson")


def test_suicidality_thresholds_parameters_and_messages():
    assert suicidality_thresholds("MADRS") == (2, 1)
    assert suicidality_thresholds("PHQ-9") == (1, 0)
    assert suicidality_thresholds("HAM-D17") == (1, 0)
    strict = suicidality_course(make_data(SUICIDALITY), present_min=3, resolved_max=0, time="hours",
                                bins=[0, 12, 48, 200])
    assert list(strict.patients["eligible"]) == [True, False, False, True, False]
    assert tuple(strict.summary().loc[("all", "by_24h"), ["count", "n"]]) == (1, 2)  # p4 reaches 0
    totals_only = make_data([r for r in SUICIDALITY if r[2] is None])
    with pytest.raises(ValueError, match="No MADRS item 10 .*only total scores"):
        suicidality_course(totals_only)
    with pytest.raises(ValueError, match="no suicidality item"):
        suicidality_course(totals_only, instrument="CADSS")
    with pytest.raises(ValueError, match="OutcomeData"):
        suicidality_course(derive_endpoints(totals_only))


@pytest.fixture(scope="module")
def simulated():
    return analysis.simulate(300, seed=4)


def test_suicidality_on_simulated_items_falls_after_infusion(simulated):
    result = suicidality_course(simulated, time="days")
    course = result.course.set_index("time_point")
    assert course.loc["baseline", "n"] == simulated.n_patients
    # in the simulator item 10 is a share of the total, which falls with response
    assert course.loc["(0.5, 1.5] d", "mean"] < course.loc["baseline", "mean"]
    assert (result.resolution["lower"] <= result.resolution["proportion"]).all()


# ---------------------------------------------------------------------------------------------
# phenotypes

PHENOTYPE_ROWS = (
    madrs("sus", (30, 12, 10, 12, 10, 12), times=(-1, 4, 24, 168, 336, 504))  # rapid sustained
    + madrs("tra", (30, 12, 10, 25, 25), times=(-1, 4, 24, 168, 336))  # rapid transient (day 7)
    + madrs("del", (30, 25, 22, 12, 12), times=(-1, 4, 24, 72, 336))  # delayed (72 h)
    + madrs("late", (30, 25, 12, 12, 12), times=(-1, 4, 29, 200, 400))  # day-1 visit 5 h late: rapid
    + madrs("ser", (30, 25, 12, 12), times=(-1, 24, 52, 336))  # delayed: after infusion 2
    + madrs("non", (30, 25, 22, 24, 26), times=(-1, 4, 24, 168, 336))  # non-responder
    + madrs("short", (30, 25, 22), times=(-1, 4, 24))  # non-responder followed 1 day
    + madrs("cens", (30, 12, 10, 12), times=(-1, 4, 24, 72))  # rapid, censored at day 3
)
PHENOTYPE_INFUSIONS = [(p, 1, 0.0) for p in ("sus", "tra", "del", "late", "non", "short", "cens")] + [
    ("ser", 1, 0.0), ("ser", 2, 48.0)]


def test_phenotypes_by_hand():
    data = make_data(PHENOTYPE_ROWS, PHENOTYPE_INFUSIONS)
    result = response_phenotypes(data)
    phenotype = result.patients.set_index("patient_id")["phenotype"].astype(str).to_dict()
    assert phenotype == {"sus": "rapid sustained", "tra": "rapid transient", "del": "delayed",
                         "late": "rapid sustained",
                         "ser": "delayed", "non": "non-responder", "short": "unclassifiable",
                         "cens": "unclassifiable"}
    reasons = result.patients.set_index("patient_id")["reason"]
    assert "followed < 7" in reasons["short"] and "censored" in reasons["cens"]
    counts = result.counts.set_index("phenotype")
    assert counts.loc["delayed", "n"] == 2 and counts.loc["delayed", "group_n"] == 8
    assert counts.loc["delayed", "percent"] == pytest.approx(25.0)
    assert counts.loc["delayed", "percent_classifiable"] == pytest.approx(100 / 3)
    strict = response_phenotypes(data, visit_window_hours=0)
    assert strict.patients.set_index("patient_id").loc["late", "phenotype"] == "delayed"
    # thresholds are parameters: with a 3-day horizon the censored rapid responder is sustained
    loose = response_phenotypes(data, sustain_days=2.5, rapid_hours=74)
    changed = loose.patients.set_index("patient_id")["phenotype"].astype(str)
    assert changed["cens"] == "rapid sustained" and changed["del"] == "rapid sustained"
    with pytest.raises(ValueError, match="origin='response'"):
        response_phenotypes(data, origin="last_infusion")


def test_phenotypes_agree_with_simulated_latent_course(simulated):
    result = response_phenotypes(simulated)
    latent = simulated.truth.latent.set_index("patient_id")
    observed = result.patients.set_index("patient_id")
    classified = observed[observed["phenotype"] != "unclassifiable"]
    truth = latent.loc[classified.index.astype(str)]
    rapid = (truth["responder"] & (truth["onset_infusion"].fillna(0) == 1)
             & (truth["onset_time_hours"] <= 24)).to_numpy(bool)
    is_rapid = classified["phenotype"].astype(str).str.startswith("rapid").to_numpy()
    is_non = (classified["phenotype"] == "non-responder").to_numpy()
    # the visit grid blurs onsets near 24 h, so agreement is high but not perfect
    assert np.mean(is_rapid == rapid) > 0.85
    assert np.mean(is_non == ~truth["responder"].to_numpy(bool)) > 0.9
    assert result.counts["n"].sum() == simulated.n_patients


def test_public_api_names():
    assert analysis.dissociation_response is dissociation_response
    assert analysis.suicidality_course is suicidality_course
    assert analysis.response_phenotypes is response_phenotypes
