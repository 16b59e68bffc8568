"""Tests of fit_parametric against R's survreg (survival 3.5-3), simulation and invariants.

The R script, its printed output and the data builders are in r_reference_interval.py (shared
with test_turnbull.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analysis.survival.parametric import _Likelihood, fit_parametric
from tests.analysis.survival.r_reference_interval import diabetes, lung_intervals, mice, r_numbers, r_values

DISTRIBUTIONS = ("weibull", "loglogistic", "lognormal", "exponential")
R_TERM = {
    "(Intercept)": "(Intercept)",
    "age": "age",
    "sexfmale": "sexf[male]",
    "ecog1": "ecog[1]",
    "ecog2": "ecog[2]",
    "grpge": "grp[ge]",
    "gendermale": "gender[male]",
    "Log(scale)": "Log(scale)",
}
Z975 = stats.norm.ppf(0.975)


def assert_matches_r(fit, tag: str) -> None:
    names = [R_TERM[name] for name in r_values(tag, "names")]
    coef = r_numbers(tag, "coef")
    se = r_numbers(tag, "se")
    summary = fit.summary()
    assert list(summary.index) == names
    assert_allclose(summary["coef"].to_numpy(), coef, rtol=1e-4, atol=1e-7)
    assert_allclose(summary["se"].to_numpy(), se, rtol=1e-4)
    assert_allclose(fit.loglik, r_numbers(tag, "loglik")[0], rtol=1e-6)


# ----- against R --------------------------------------------------------------------------------
def test_lung_counts_match_r_script():
    lower, upper, _ = lung_intervals()
    n, n_exact, n_left, n_right = (int(v) for v in r_values("counts", "lung2")[:4])
    fit = fit_parametric(lower, upper, dist="weibull")
    assert (fit.n, fit.n_exact, fit.n_left, fit.n_right) == (n, n_exact, n_left, n_right)
    assert fit.n_interval == n - n_exact - n_left - n_right


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_intercept_only_matches_survreg(dist):
    lower, upper, _ = lung_intervals()
    fit = fit_parametric(lower, upper, dist=dist)
    assert_matches_r(fit, f"lung_null_{dist}")
    assert fit.converged
    k = 1 + (dist != "exponential")
    assert_allclose(fit.aic, -2 * fit.loglik + 2 * k)
    if dist != "exponential":
        assert_allclose(fit.log_scale["coef"], r_numbers(f"lung_null_{dist}", "coef")[-1], rtol=1e-4)
        assert_allclose(fit.scale, np.exp(fit.log_scale["coef"]))


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_numeric_and_factor_covariates_match_survreg(dist):
    lower, upper, covariates = lung_intervals()
    fit = fit_parametric(lower, upper, dist=dist, covariates=covariates)
    tag = f"lung_cov_{dist}"
    assert_matches_r(fit, tag)
    # Wald p-values and intervals follow from coef and se
    table = fit.table
    assert_allclose(table["p"], 2 * stats.norm.sf(np.abs(table["coef"] / table["se"])))
    assert_allclose(table["upper"] - table["coef"], Z975 * table["se"])


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_median_and_its_interval_match_survreg_quantile(dist):
    """R: predict(fit, type="uquantile", p=0.5, se.fit=TRUE) gives log(median) and its se."""
    lower, upper, covariates = lung_intervals()
    fit = fit_parametric(lower, upper, dist=dist, covariates=covariates)
    tag = f"lung_cov_{dist}"
    log_median = r_numbers(tag, "logmedian")
    log_median_se = r_numbers(tag, "logmedian_se")
    baseline = fit.median, *fit.median_ci
    row = fit.median_for({"age": 60, "sexf": "male", "ecog": "1"})
    for (median, lo, hi), expected, expected_se in zip((baseline, row), log_median, log_median_se, strict=True):
        assert_allclose(np.log(median), expected, rtol=1e-5)
        assert_allclose((np.log(hi) - np.log(median)) / Z975, expected_se, rtol=1e-4)
        assert_allclose((np.log(median) - np.log(lo)) / Z975, expected_se, rtol=1e-4)


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_survival_band_matches_delta_method_from_r_vcov(dist):
    lower, upper, _ = lung_intervals()
    fit = fit_parametric(lower, upper, dist=dist)
    tag = f"lung_null_{dist}"
    curve = fit.survival([50, 200, 500])
    assert_allclose(curve["survival"], r_numbers(tag, "surv"), rtol=1e-5)
    u = np.log(-np.log(curve["survival"]))
    assert_allclose((np.log(-np.log(curve["lower"])) - u) / Z975, r_numbers(tag, "cloglog_se"), rtol=1e-4)
    cumulative = fit.cumulative([50, 200, 500])
    assert_allclose(cumulative["cumulative"], 1 - curve["survival"])
    assert_allclose(cumulative["lower"], 1 - curve["upper"])


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_current_status_data_match_survreg(dist):
    lower, upper, covariates = mice()
    fit = fit_parametric(lower, upper, dist=dist, covariates=covariates)
    assert_matches_r(fit, f"mice_grp_{dist}")
    assert fit.n_exact == 0 and fit.n_interval == 0 and fit.n_left + fit.n_right == fit.n


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_exact_and_interval_data_match_survreg(dist):
    lower, upper, covariates = diabetes()
    fit = fit_parametric(lower, upper, dist=dist, covariates=covariates)
    assert_matches_r(fit, f"diab_gender_{dist}")
    assert fit.n_exact == 595 and fit.n_left == 1


# ----- analytic derivatives -------------------------------------------------------------------
@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("cure", [False, True])
def test_analytic_gradient_and_hessian_match_finite_differences(dist, cure):
    rng = np.random.default_rng(3)
    n = 60
    x = np.column_stack((np.ones(n), rng.normal(size=n)))
    t = np.exp(1.0 + 0.5 * x[:, 1] + 0.7 * rng.gumbel(size=n))
    kind = rng.integers(0, 4, n)
    lower = np.where(kind == 0, t, np.where(kind == 1, 0.0, np.where(kind == 2, t, t * 0.7)))
    upper = np.where(kind == 0, t, np.where(kind == 1, t * 1.3, np.where(kind == 2, np.inf, t * 1.4)))
    with np.errstate(divide="ignore"):
        likelihood = _Likelihood(
            dist=dist, x=x, log_lower=np.log(lower), log_upper=np.log(upper), exact=lower == upper,
            cure=cure, fit_scale=dist != "exponential",
        )
    theta = np.array([1.1, 0.4] + ([-0.3] if dist != "exponential" else []) + ([-0.5] if cure else []))
    _, gradient, hessian = likelihood.evaluate(theta)
    h = 1e-6
    numeric_gradient = np.empty_like(theta)
    numeric_hessian = np.empty((len(theta), len(theta)))
    for k in range(len(theta)):
        step = np.zeros_like(theta)
        step[k] = h
        numeric_gradient[k] = (likelihood.evaluate(theta + step)[0] - likelihood.evaluate(theta - step)[0]) / (2 * h)
        numeric_hessian[:, k] = (likelihood.evaluate(theta + step)[1] - likelihood.evaluate(theta - step)[1]) / (2 * h)
    assert_allclose(gradient, numeric_gradient, rtol=1e-6, atol=1e-6)
    assert_allclose(hessian, numeric_hessian, rtol=1e-5, atol=1e-5)


def test_extreme_tails_stay_finite():
    """Intervals far in either tail must not underflow to log(0)."""
    lower = np.array([1e-8, 1e4, 2e4, 1.0, 2.0, 3.0, 5.0])
    upper = np.array([2e-8, 1.1e4, np.inf, 1.0, 2.5, 4.0, 5.0])
    for dist in DISTRIBUTIONS:
        fit = fit_parametric(lower, upper, dist=dist)
        assert np.isfinite(fit.loglik)
        assert np.isfinite(fit.table["se"]).all()


# ----- mixture cure model: simulation with known truth ------------------------------------------
def simulate_cure(n: int, cure_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Weibull AFT (intercept 1.5, dose 0.4 per unit, route[IV] -0.3, sigma 0.6) with a cured
    fraction; visits every 2 time units up to 30 (interval censoring), right-censored after."""
    rng = np.random.default_rng(seed)
    dose = rng.uniform(0, 2, n)
    route = rng.choice(["IM", "IV"], n)
    eta = 1.5 + 0.4 * dose - 0.3 * (route == "IV")
    time = np.exp(eta + 0.6 * np.log(rng.exponential(size=n)))  # log T = eta + sigma * extreme value
    cured = rng.random(n) < cure_fraction
    time[cured] = np.inf
    visits = np.arange(2.0, 32.0, 2.0)
    upper_index = np.searchsorted(visits, time, side="left")
    observed = upper_index < len(visits)
    lower = np.where(observed, np.where(upper_index > 0, visits[np.maximum(upper_index - 1, 0)], 0.0), visits[-1])
    upper = np.where(observed, visits[np.minimum(upper_index, len(visits) - 1)], np.inf)
    return lower, upper, pd.DataFrame({"dose": dose, "route": route})


def test_cure_model_recovers_known_truth():
    lower, upper, covariates = simulate_cure(20_000, cure_fraction=0.3, seed=11)
    fit = fit_parametric(lower, upper, dist="weibull", covariates=covariates, cure=True)
    truth = {"(Intercept)": 1.5, "dose": 0.4, "route[IV]": -0.3}
    for term, value in truth.items():
        assert abs(fit.table.loc[term, "coef"] - value) < 4 * fit.table.loc[term, "se"], term
    assert abs(fit.log_scale["coef"] - np.log(0.6)) < 4 * fit.log_scale["se"]
    # cure fraction: 4 standard errors on the logit scale
    logit_se = fit.summary().loc["logit(cure)", "se"]
    assert abs(np.log(fit.cure_fraction / (1 - fit.cure_fraction)) - np.log(0.3 / 0.7)) < 4 * logit_se
    assert fit.cure_fraction_ci[0] < fit.cure_fraction < fit.cure_fraction_ci[1]
    # median among those with the event at baseline: exp(1.5 + 0.6 log log 2)
    true_median = np.exp(1.5 + 0.6 * np.log(np.log(2)))
    assert fit.median_ci[0] < true_median < fit.median_ci[1]
    # population survival tends to the cure fraction
    far = fit.survival([1e6])
    assert_allclose(far["survival"], fit.cure_fraction, rtol=1e-6)


def test_cure_likelihood_reduces_to_plain_model_when_cure_fraction_is_pinned_near_zero():
    lower, upper, covariates = simulate_cure(500, cure_fraction=0.3, seed=2)
    x = np.column_stack((np.ones(500), covariates["dose"]))
    with np.errstate(divide="ignore"):
        args = dict(dist="weibull", x=x, log_lower=np.log(lower), log_upper=np.log(upper), exact=lower == upper, fit_scale=True)
        cure = _Likelihood(cure=True, **args)
        plain = _Likelihood(cure=False, **args)
    theta = np.array([1.4, 0.3, -0.4])
    loglik_cure, gradient_cure, hessian_cure = cure.evaluate(np.append(theta, -40.0))
    loglik_plain, gradient_plain, hessian_plain = plain.evaluate(theta)
    assert_allclose(loglik_cure, loglik_plain, rtol=1e-9)
    assert_allclose(gradient_cure[:-1], gradient_plain, rtol=1e-8)
    assert_allclose(hessian_cure[:-1, :-1], hessian_plain, rtol=1e-8)


def test_cure_fit_without_cured_subjects_matches_plain_fit():
    """With no cure in truth and long follow-up the cure fraction goes to ~0 and the fits agree."""
    rng = np.random.default_rng(5)
    time = np.exp(1.0 + 0.5 * np.log(rng.exponential(size=3000)))
    lower = np.floor(time)
    upper = lower + 1.0
    upper[time > 6] = np.inf
    lower[time > 6] = 6.0
    upper[(lower == 0)] = 1.0
    plain = fit_parametric(lower, upper, dist="weibull")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # boundary warning expected when pi -> 0
        cure = fit_parametric(lower, upper, dist="weibull", cure=True)
    assert cure.cure_fraction < 1e-3
    assert cure.loglik >= plain.loglik - 1e-6
    assert_allclose(cure.loglik, plain.loglik, atol=1e-3)
    assert_allclose(cure.table["coef"], plain.table["coef"], atol=2e-3)
    assert_allclose(cure.median, plain.median, rtol=2e-3)


# ----- guards and bookkeeping -----------------------------------------------------------------
def test_uninformative_rows_are_dropped_and_counted():
    lower, upper, _ = mice()
    base = fit_parametric(lower, upper)
    fit = fit_parametric(np.append(lower, [0.0, 0.0]), np.append(upper, [np.inf, np.inf]))
    assert fit.n_dropped == 2 and fit.n == base.n
    assert_allclose(fit.loglik, base.loglik)


def test_all_events_with_cure_is_refused():
    lower = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    upper = np.array([2.0, 2.0, 5.0, 4.0, 3.0])
    with pytest.raises(ValueError, match="cure fraction"):
        fit_parametric(lower, upper, cure=True)


def test_no_events_is_refused():
    with pytest.raises(ValueError, match="no events"):
        fit_parametric([1.0, 2.0, 3.0], [np.inf, np.inf, np.inf])


@pytest.mark.parametrize(
    ("lower", "upper", "message"),
    [
        ([1.0, 3.0], [2.0, 2.0], "lower > upper"),
        ([1.0, np.nan], [2.0, 3.0], "missing"),
        ([-1.0, 1.0], [2.0, 3.0], "negative"),
        ([0.0, 1.0], [0.0, 3.0], "time 0"),
    ],
)
def test_invalid_bounds_are_reported(lower, upper, message):
    with pytest.raises(ValueError, match=message):
        fit_parametric(lower, upper)


def test_single_level_factor_and_unknown_distribution_are_refused():
    lower, upper, _ = mice()
    with pytest.raises(ValueError, match="single level"):
        fit_parametric(lower, upper, covariates=pd.DataFrame({"site": ["A"] * len(lower)}))
    with pytest.raises(ValueError, match="dist"):
        fit_parametric(lower, upper, dist="gompertz")


def test_curves_are_monotone_bounded_and_start_at_one():
    lower, upper, covariates = simulate_cure(2000, cure_fraction=0.2, seed=9)
    fit = fit_parametric(lower, upper, dist="loglogistic", covariates=covariates, cure=True)
    times = np.r_[0.0, np.geomspace(0.1, 200, 50)]
    curve = fit.survival(times, row={"dose": 1.0, "route": "IV"})
    assert curve.loc[0, ["survival", "lower", "upper"]].tolist() == [1.0, 1.0, 1.0]
    assert (np.diff(curve["survival"]) <= 1e-12).all()
    assert ((curve["lower"] <= curve["survival"] + 1e-12) & (curve["survival"] <= curve["upper"] + 1e-12)).all()
    assert ((curve["lower"] >= 0) & (curve["upper"] <= 1)).all()
    assert curve["survival"].iloc[-1] > fit.cure_fraction
    with pytest.raises(ValueError, match="level"):
        fit.survival([1.0], row={"dose": 1.0, "route": "oral"})


def test_duplicated_data_doubles_loglik_and_shrinks_se_by_root_two():
    """Pooling of identical rows must weigh them exactly like separate rows."""
    lower, upper, covariates = lung_intervals()
    single = fit_parametric(lower, upper, dist="loglogistic", covariates=covariates)
    double = fit_parametric(
        np.r_[lower, lower], np.r_[upper, upper], dist="loglogistic", covariates=pd.concat([covariates, covariates])
    )
    assert double.n == 2 * single.n
    assert_allclose(double.loglik, 2 * single.loglik, rtol=1e-9)
    assert_allclose(double.table["coef"], single.table["coef"], rtol=1e-6, atol=1e-9)
    assert_allclose(double.table["se"], single.table["se"] / np.sqrt(2), rtol=1e-6)


def test_fit_problems_are_notes_as_well_as_warnings():
    from analysis.survival.parametric import fit_parametric_quiet

    # every event in (0, 1] and the rest censored at 5: nothing says how fast the events come
    lower = np.r_[np.zeros(10), np.full(10, 5.0)]
    upper = np.r_[np.ones(10), np.full(10, np.inf)]
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        loud = fit_parametric(lower, upper, dist="weibull", cure=True)
    assert any("not positive definite" in note for note in loud.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = fit_parametric_quiet(lower, upper, dist="weibull", cure=True)
    assert quiet.notes == loud.notes
    assert np.isnan(quiet.table["se"]).all()
    # a well-posed fit has no notes
    rng = np.random.default_rng(2)
    t = rng.weibull(1.5, 200) * 3.0
    assert fit_parametric_quiet(np.floor(t), np.ceil(t), dist="weibull").notes == ()
