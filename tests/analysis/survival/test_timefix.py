"""Times equal up to rounding error are ties in Kaplan-Meier, Cox and the competing-risks
estimators (``timefix=True``, the default), as in R's survival (``aeqSurv``; ``survfit``,
``coxph`` and ``finegray`` default to ``timefix = TRUE``); ``timefix=False`` keeps the old
behaviour, every distinct float its own time.

Reference: R 4.2.2, survival 3.5.3, cmprsk 2.2.11. ``R_SCRIPT`` was run with ``Rscript`` and its
printed output is pasted verbatim below it (Python assignments and comments). The data: 36
subjects, times in days computed from hours two ways, ``hours / 24`` or ``(hours - split) / 24 +
split / 24``, which differ in the last bit (4e-16 to 2e-15 days) for 52, 76, 92, 100, 230 and
260 h: 23 distinct floats, 17 times. The near ties are event-event (within and across groups)
and event-censoring (the censored copy sometimes the smaller float, so without timefix it
leaves the risk set before the event). ``status``: 0 censored, 1 relapse, 2 rescue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.survival._common import tied_times
from analysis.survival.competing import cumulative_incidence, fine_gray
from analysis.survival.cox import cox
from analysis.survival.kaplan_meier import kaplan_meier

R_SCRIPT = r"""
library(survival); library(cmprsk)
cat("#", R.version.string, "survival", format(packageVersion("survival")), "cmprsk", format(packageVersion("cmprsk")), "\n")
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.12g", x)), collapse = ", "), "]\n", sep = "")
# times in days computed two ways: hours / 24, or (hours - split) / 24 + split / 24 (1 ulp apart)
hours <- c(4, 6, 24, 30, 48, 52, 52, 52, 72, 76, 76, 92, 92, 92, 100, 100, 100, 120, 144, 168,
           192, 230, 230, 230, 260, 260, 336, 336, 24, 48, 100, 144, 168, 6, 30, 76)
split <- c(0, 0, 0, 0, 0, 0, 2, 2, 0, 2, 0, 0, 1, 0, 0, 2, 2, 0, 0, 0,
           0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2)
status <- c(1, 1, 1, 0, 1, 1, 2, 0, 1, 1, 0, 2, 1, 1, 1, 2, 0, 1, 0, 1,
            2, 1, 1, 0, 1, 2, 0, 1, 1, 0, 1, 1, 0, 2, 1, 1)   # 0 censored, 1 relapse, 2 rescue
group <- c("A", "B", "A", "B", "A", "A", "B", "A", "B", "B", "A", "A", "A", "B", "B", "B", "A", "A", "B", "A",
           "B", "A", "B", "B", "A", "A", "B", "A", "B", "A", "B", "A", "B", "A", "B", "A")
dose <- c(0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1,
          0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1, 0.5, 0.75, 1)
time <- ifelse(split == 0, hours / 24, (hours - split) / 24 + split / 24)
event <- as.integer(status > 0)
d <- data.frame(time, event, status, group, dose)
cat("# distinct times:", length(unique(time)), "exact,", length(unique(aeqSurv(Surv(time, event))[, 1])), "after aeqSurv\n")
at <- c(1, 2.2, 3.5, 4, 6, 9, 12)
for (fix in c(TRUE, FALSE)) {
  tag <- if (fix) "FIX" else "NOFIX"
  km <- survfit(Surv(time, event) ~ 1, data = d, timefix = fix)
  py(paste0("KM_", tag, "_TIME"), km$time); py(paste0("KM_", tag, "_NRISK"), km$n.risk)
  py(paste0("KM_", tag, "_NEVENT"), km$n.event); py(paste0("KM_", tag, "_SURV"), km$surv)
  py(paste0("KM_", tag, "_SE"), km$std.err)   # of log S, R's default
  py(paste0("KM_", tag, "_MEDIAN"), summary(km)$table[c("median", "0.95LCL", "0.95UCL")])
  s <- summary(km, times = at)
  py(paste0("KM_", tag, "_AT_SURV"), s$surv); py(paste0("KM_", tag, "_AT_NRISK"), s$n.risk)
  py(paste0("KM_", tag, "_AT_LOWER"), s$lower); py(paste0("KM_", tag, "_AT_UPPER"), s$upper)
  byg <- survfit(Surv(time, event) ~ group, data = d, timefix = fix)
  py(paste0("KM_", tag, "_GROUP_MEDIAN"), summary(byg)$table[, "median"])
  for (ties in c("efron", "breslow")) {
    cx <- coxph(Surv(time, event) ~ group + dose, data = d, ties = ties, control = coxph.control(timefix = fix))
    u <- toupper(ties)
    py(paste0("COX_", u, "_", tag, "_COEF"), coef(cx)); py(paste0("COX_", u, "_", tag, "_SE"), sqrt(diag(vcov(cx))))
    py(paste0("COX_", u, "_", tag, "_LOGLIK"), cx$loglik); py(paste0("COX_", u, "_", tag, "_SCORE"), cx$score)
    py(paste0("COX_", u, "_", tag, "_CONCORDANCE"), cx$concordance[c("concordant", "discordant", "tied.x")])
    py(paste0("COX_", u, "_", tag, "_ZPH"), cox.zph(cx)$table[, "chisq"])
  }
  st <- survfit(Surv(time, factor(status, 0:2)) ~ 1, data = d, timefix = fix)
  ss <- summary(st, times = at)
  py(paste0("AJ_", tag, "_CIF1"), ss$pstate[, 2]); py(paste0("AJ_", tag, "_CIF2"), ss$pstate[, 3])
  py(paste0("AJ_", tag, "_SE1"), ss$std.err[, 2]); py(paste0("AJ_", tag, "_NRISK"), ss$n.risk[, 1])
  fg <- finegray(Surv(time, factor(status, 0:2)) ~ ., data = d[, c("time", "status", "dose", "group")], etype = "1", timefix = fix)
  fgfit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ dose + group, weights = fgwt, data = fg, ties = "breslow",
                 control = coxph.control(timefix = fix))
  py(paste0("FINEGRAY_", tag, "_COEF"), coef(fgfit))
}
# cmprsk compares times exactly: as timefix = FALSE
ci <- cuminc(d$time, d$status, d$group)
py("CUMINC_GRAY_STAT", ci$Tests[, "stat"])
tp <- timepoints(ci, at[at <= 9])
cat("# cuminc rows:", rownames(tp$est), "\n")
py("CUMINC_EST_A1", tp$est["A 1", ]); py("CUMINC_EST_B1", tp$est["B 1", ])
cov <- model.matrix(~ dose + group, data = d)[, -1]
f <- crr(d$time, d$status, cov, failcode = 1)
py("CRR_COEF", f$coef); py("CRR_SE", sqrt(diag(f$var)))
# cmprsk on the times tied by aeqSurv: as timefix = TRUE
tfix <- aeqSurv(Surv(d$time, d$event))[, 1]
ci <- cuminc(tfix, d$status, d$group)
py("CUMINC_FIX_GRAY_STAT", ci$Tests[, "stat"])
f <- crr(tfix, d$status, cov, failcode = 1)
py("CRR_FIX_COEF", f$coef); py("CRR_FIX_SE", sqrt(diag(f$var)))
"""

# ---- R output, pasted verbatim ----
# R version 4.2.2 Patched (2022-11-10 r83330) survival 3.5.3 cmprsk 2.2.11
# distinct times: 23 exact, 17 after aeqSurv
KM_FIX_TIME = [0.166666666667, 0.25, 1, 1.25, 2, 2.16666666667, 3, 3.16666666667, 3.83333333333, 4.16666666667, 5, 6, 7, 8, 9.58333333333, 10.8333333333, 14]
KM_FIX_NRISK = [36, 35, 33, 31, 29, 27, 24, 23, 20, 17, 13, 12, 10, 8, 7, 4, 2]
KM_FIX_NEVENT = [1, 2, 2, 1, 1, 2, 1, 2, 3, 3, 1, 1, 1, 1, 2, 2, 1]
KM_FIX_SURV = [0.972222222222, 0.916666666667, 0.861111111111, 0.833333333333, 0.804597701149, 0.744997871435, 0.713956293458, 0.651873137505, 0.55409216688, 0.456311196254, 0.421210335003, 0.386109473753, 0.347498526378, 0.304061210581, 0.217186578986, 0.108593289493, 0.0542966447465]
KM_FIX_SE = [0.028171808491, 0.050251890763, 0.0669349440752, 0.07453559925, 0.0823837523372, 0.0987423192563, 0.107525065985, 0.125309323534, 0.156607649801, 0.192694052822, 0.208665412571, 0.22609071626, 0.249455653554, 0.282993402657, 0.370443144207, 0.622276564793, 0.941927875737]
KM_FIX_MEDIAN = [4.16666666667, 3.83333333333, 9.58333333333]
KM_FIX_AT_SURV = [0.861111111111, 0.744997871435, 0.651873137505, 0.55409216688, 0.386109473753, 0.304061210581, 0.108593289493]
KM_FIX_AT_NRISK = [33, 24, 20, 17, 12, 7, 2]
KM_FIX_AT_LOWER = [0.755238403263, 0.613911003222, 0.509917122475, 0.407640511117, 0.247891531847, 0.17461301015, 0.0320715697183]
KM_FIX_AT_UPPER = [0.981825530158, 0.904075388011, 0.833348339703, 0.753159023758, 0.601394184832, 0.529474978412, 0.367693337947]
KM_FIX_GROUP_MEDIAN = [5, 4.16666666667]
COX_EFRON_FIX_COEF = [-0.0465095131544, -0.38391195692]
COX_EFRON_FIX_SE = [0.414456533633, 0.978538820898]
COX_EFRON_FIX_LOGLIK = [-73.8792792955, -73.7680237371]
COX_EFRON_FIX_SCORE = [0.221417483472]
COX_EFRON_FIX_CONCORDANCE = [221, 197, 65]
COX_EFRON_FIX_ZPH = [0.301169987198, 0.0261185734247, 0.346178165096]
COX_BRESLOW_FIX_COEF = [-0.0557268450313, -0.336063563478]
COX_BRESLOW_FIX_SE = [0.412964793513, 0.975561162124]
COX_BRESLOW_FIX_LOGLIK = [-74.8055049087, -74.712032368]
COX_BRESLOW_FIX_SCORE = [0.185936094468]
COX_BRESLOW_FIX_CONCORDANCE = [221, 197, 65]
COX_BRESLOW_FIX_ZPH = [0.289324914126, 0.0124857292098, 0.353179044194]
AJ_FIX_CIF1 = [0.111111111111, 0.19742443593, 0.29054916986, 0.35573648361, 0.491125519861, 0.529736467236, 0.670907743577]
AJ_FIX_CIF2 = [0.0277777777778, 0.0575776926352, 0.0575776926352, 0.0901713495104, 0.122765006386, 0.166202322183, 0.220498966929]
AJ_FIX_SE1 = [0.0523782800879, 0.0669627144358, 0.0778247313118, 0.0831820180414, 0.0890408316855, 0.0901328799766, 0.0918991506216]
AJ_FIX_NRISK = [33, 24, 20, 17, 12, 7, 2]
FINEGRAY_FIX_COEF = [0.0794638347789, -0.221973354419]
KM_NOFIX_TIME = [0.166666666667, 0.25, 1, 1.25, 2, 2.16666666667, 2.16666666667, 3, 3.16666666667, 3.16666666667, 3.83333333333, 3.83333333333, 4.16666666667, 4.16666666667, 5, 6, 7, 8, 9.58333333333, 9.58333333333, 10.8333333333, 10.8333333333, 14]
KM_NOFIX_NRISK = [36, 35, 33, 31, 29, 27, 26, 24, 23, 22, 20, 19, 17, 15, 13, 12, 10, 8, 7, 6, 4, 3, 2]
KM_NOFIX_NEVENT = [1, 2, 2, 1, 1, 1, 1, 1, 0, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
KM_NOFIX_SURV = [0.972222222222, 0.916666666667, 0.861111111111, 0.833333333333, 0.804597701149, 0.774797786292, 0.744997871435, 0.713956293458, 0.713956293458, 0.649051175871, 0.616598617078, 0.55169349949, 0.519240940697, 0.450008815271, 0.415392752558, 0.380776689844, 0.34269902086, 0.299861643252, 0.257024265645, 0.214186888037, 0.160640166028, 0.107093444019, 0.0535467220094]
KM_NOFIX_SE = [0.028171808491, 0.050251890763, 0.0669349440752, 0.07453559925, 0.0823837523372, 0.0906177911541, 0.0987423192563, 0.107525065985, 0.107525065985, 0.126913728022, 0.136889273896, 0.157894343699, 0.169136318869, 0.197138288054, 0.212776316885, 0.229890231639, 0.252904388483, 0.286038061403, 0.325003532874, 0.372774234241, 0.471480607287, 0.623667082436, 0.942847087132]
KM_NOFIX_MEDIAN = [4.16666666667, 3.83333333333, 9.58333333333]
KM_NOFIX_AT_SURV = [0.861111111111, 0.744997871435, 0.649051175871, 0.55169349949, 0.380776689844, 0.299861643252, 0.107093444019]
KM_NOFIX_AT_NRISK = [33, 24, 20, 17, 12, 7, 2]
KM_NOFIX_AT_LOWER = [0.755238403263, 0.613911003222, 0.506115665419, 0.40485355556, 0.242653988505, 0.171176789739, 0.031542528363]
KM_NOFIX_AT_UPPER = [0.981825530158, 0.904075388011, 0.832354059917, 0.751792131254, 0.597521138731, 0.525287366537, 0.363604515776]
KM_NOFIX_GROUP_MEDIAN = [5, 4.16666666667]
COX_EFRON_NOFIX_COEF = [-0.0531698930784, -0.419661307289]
COX_EFRON_NOFIX_SE = [0.414925082598, 0.976431521736]
COX_EFRON_NOFIX_LOGLIK = [-73.6547761247, -73.520091282]
COX_EFRON_NOFIX_SCORE = [0.267978924483]
COX_EFRON_NOFIX_CONCORDANCE = [223, 197, 66]
COX_EFRON_NOFIX_ZPH = [0.199168253713, 0.045120385961, 0.202954321195]
COX_BRESLOW_NOFIX_COEF = [-0.0591402171772, -0.419299266805]
COX_BRESLOW_NOFIX_SE = [0.41421594134, 0.974531695335]
COX_BRESLOW_NOFIX_LOGLIK = [-73.8841154286, -73.7454028782]
COX_BRESLOW_NOFIX_SCORE = [0.2759050023]
COX_BRESLOW_NOFIX_CONCORDANCE = [223, 197, 66]
COX_BRESLOW_NOFIX_ZPH = [0.203641525837, 0.0429424428806, 0.208633801073]
AJ_NOFIX_CIF1 = [0.111111111111, 0.19742443593, 0.293371131494, 0.358276249081, 0.496740499933, 0.534818168918, 0.674039646142]
AJ_NOFIX_CIF2 = [0.0277777777778, 0.0575776926352, 0.0575776926352, 0.0900302514287, 0.122482810222, 0.16532018783, 0.218866909839]
AJ_NOFIX_SE1 = [0.0523782800879, 0.0669627144358, 0.0786063524179, 0.0836816366435, 0.0895825450855, 0.0903823968863, 0.0914054734247]
AJ_NOFIX_NRISK = [33, 24, 20, 17, 12, 7, 2]
FINEGRAY_NOFIX_COEF = [0.0776179797437, -0.235212153889]
CUMINC_GRAY_STAT = [0.203651266915, 0.0604193820879]
# cuminc rows: A 1 B 1 A 2 B 2
CUMINC_EST_A1 = [0.105263157895, 0.214285714286, 0.280929596719, 0.347573479152, 0.499902353286, 0.576066790353]
CUMINC_EST_B1 = [0.117647058824, 0.176470588235, 0.303167420814, 0.366515837104, 0.493212669683, 0.493212669683]
CRR_COEF = [0.085465613033, -0.237913520574]
CRR_SE = [0.979850041443, 0.437578772736]
CUMINC_FIX_GRAY_STAT = [0.177104564371, 0.0582243081013]
CRR_FIX_COEF = [0.0860964865046, -0.224721092614]
CRR_FIX_SE = [0.983339477796, 0.437045322095]
# ---- end of R output ----

HOURS = np.array([4, 6, 24, 30, 48, 52, 52, 52, 72, 76, 76, 92, 92, 92, 100, 100, 100, 120, 144, 168,
                  192, 230, 230, 230, 260, 260, 336, 336, 24, 48, 100, 144, 168, 6, 30, 76], dtype=float)
SPLIT = np.array([0, 0, 0, 0, 0, 0, 2, 2, 0, 2, 0, 0, 1, 0, 0, 2, 2, 0, 0, 0,
                  0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], dtype=float)
STATUS = np.array([1, 1, 1, 0, 1, 1, 2, 0, 1, 1, 0, 2, 1, 1, 1, 2, 0, 1, 0, 1,
                   2, 1, 1, 0, 1, 2, 0, 1, 1, 0, 1, 1, 0, 2, 1, 1])
GROUP = np.array(["A", "B", "A", "B", "A", "A", "B", "A", "B", "B", "A", "A", "A", "B", "B", "B", "A", "A",
                  "B", "A", "B", "A", "B", "B", "A", "A", "B", "A", "B", "A", "B", "A", "B", "A", "B", "A"])
DOSE = np.tile([0.5, 0.75, 1.0], 12)
TIME = np.where(SPLIT == 0, HOURS / 24, (HOURS - SPLIT) / 24 + SPLIT / 24)
EVENT = (STATUS > 0).astype(int)
DATA = pd.DataFrame({"time": TIME, "event": EVENT, "status": STATUS, "group": GROUP, "dose": DOSE})
AT = [1, 2.2, 3.5, 4, 6, 9, 12]
R = {name: np.asarray(value, dtype=float) for name, value in globals().items()
     if name.split("_")[0] in ("KM", "COX", "AJ", "FINEGRAY", "CUMINC", "CRR")}
RTOL = 1e-10  # R printed 12 significant digits
TAGS = [pytest.param(True, "FIX", id="timefix"), pytest.param(False, "NOFIX", id="no-timefix")]


def close(ours, name: str, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), R[name], rtol=rtol, err_msg=name)


def test_the_data_has_near_ties_that_r_joins():
    assert len(np.unique(TIME)) == 23 and len(np.unique(tied_times(TIME))) == 17  # R's count above
    assert np.max(np.abs(TIME - tied_times(TIME))) < 2e-15


@pytest.mark.parametrize(("timefix", "tag"), TAGS)
def test_kaplan_meier_matches_survfit(timefix, tag):
    fit = kaplan_meier(TIME, EVENT, ci="log", alpha=0.05, timefix=timefix)
    table = fit.table
    assert len(table) == (17 if timefix else 23)
    close(table["time"], f"KM_{tag}_TIME")
    close(table["at_risk"], f"KM_{tag}_NRISK")
    close(table["events"], f"KM_{tag}_NEVENT")
    close(table["survival"], f"KM_{tag}_SURV")
    close(table["se"] / table["survival"], f"KM_{tag}_SE")
    close([fit.median, *fit.median_ci], f"KM_{tag}_MEDIAN")
    at = fit.at(AT)
    close(at["survival"], f"KM_{tag}_AT_SURV")
    close(at["lower"], f"KM_{tag}_AT_LOWER")
    close(at["upper"], f"KM_{tag}_AT_UPPER")
    close(fit.risk_table(AT)["at_risk"], f"KM_{tag}_AT_NRISK")
    medians = [kaplan_meier(TIME[rows], EVENT[rows], timefix=timefix).median for rows in (GROUP == "A", GROUP == "B")]
    close(medians, f"KM_{tag}_GROUP_MEDIAN")


def test_kaplan_meier_without_timefix_splits_one_time_in_two():
    fixed = kaplan_meier(TIME, EVENT).table
    split = kaplan_meier(TIME, EVENT, timefix=False).table
    # 76 h: the censored copy is 4e-16 days earlier, so it leaves before the two relapses
    near = np.isclose(split["time"], 76 / 24, rtol=1e-12, atol=0)
    assert split.loc[near, "events"].tolist() == [0, 2] and split.loc[near, "at_risk"].tolist() == [23, 22]
    joined = fixed.loc[np.isclose(fixed["time"], 76 / 24, rtol=1e-12, atol=0)]
    assert joined["events"].tolist() == [2] and joined["at_risk"].tolist() == [23]
    assert joined["censored"].tolist() == [1] and joined["time"].iloc[0] == min(TIME[HOURS == 76])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize(("timefix", "tag"), TAGS)
def test_cox_matches_coxph(ties, timefix, tag):
    fit = cox(DATA, duration="time", event="event", covariates=["group", "dose"], ties=ties, timefix=timefix)
    name = f"COX_{ties.upper()}_{tag}"
    assert list(fit.table.index) == ["group[B]", "dose"]
    close(fit.table["coef"], f"{name}_COEF", rtol=1e-8)
    close(fit.table["se"], f"{name}_SE", rtol=1e-8)
    close([fit.null_loglik, fit.loglik], f"{name}_LOGLIK")
    close([fit.score_statistic], f"{name}_SCORE", rtol=1e-8)
    close([fit.concordant, fit.discordant, fit.tied_risk], f"{name}_CONCORDANCE")
    close(fit.ph_test().table["chisq"], f"{name}_ZPH", rtol=1e-8)


@pytest.mark.parametrize(("timefix", "tag"), TAGS)
def test_cumulative_incidence_matches_survfit_multistate(timefix, tag):
    fit = cumulative_incidence(TIME, STATUS, timefix=timefix)
    at = fit.at(AT)
    close(at.loc[at["event"] == 1, "cif"], f"AJ_{tag}_CIF1")
    close(at.loc[at["event"] == 2, "cif"], f"AJ_{tag}_CIF2")
    close(at.loc[at["event"] == 1, "se"], f"AJ_{tag}_SE1")
    close(fit.risk_table(AT)["n_risk"], f"AJ_{tag}_NRISK")


def test_grays_test_matches_cuminc_on_exact_and_on_tied_times():
    # cuminc compares times exactly: it is timefix=False, and timefix=True on aeqSurv's times
    exact = cumulative_incidence(TIME, STATUS, group=GROUP, timefix=False)
    close(exact.test["statistic"], "CUMINC_GRAY_STAT")
    at = exact.at(AT[:-1])
    close(at.loc[(at["event"] == 1) & (at["group"] == "A"), "cif"], "CUMINC_EST_A1")
    close(at.loc[(at["event"] == 1) & (at["group"] == "B"), "cif"], "CUMINC_EST_B1")
    tied = cumulative_incidence(TIME, STATUS, group=GROUP)
    close(tied.test["statistic"], "CUMINC_FIX_GRAY_STAT")


def test_fine_gray_ties_times_as_crr_on_aeqsurv_times():
    fit = fine_gray(DATA, duration="time", event="status", covariates=["dose", "group"])
    close(fit.table["coef"], "CRR_FIX_COEF", rtol=1e-4)  # crr stops at gtol = 1e-6
    close(fit.table["se"], "CRR_FIX_SE", rtol=1e-6)
    split = fine_gray(DATA, duration="time", event="status", covariates=["dose", "group"], timefix=False)
    assert np.max(np.abs(split.table["coef"].to_numpy() - fit.table["coef"].to_numpy())) > 1e-3
    # survival::finegray + coxph moves the same way when its timefix is turned off
    assert np.sign(R["FINEGRAY_NOFIX_COEF"] - R["FINEGRAY_FIX_COEF"]).tolist() == np.sign(
        split.table["coef"].to_numpy() - fit.table["coef"].to_numpy()).tolist()


def test_without_near_ties_timefix_changes_nothing():
    time = np.round(TIME, 9)
    frame = DATA.assign(time=time)
    assert tied_times(time) is time
    pd.testing.assert_frame_equal(kaplan_meier(time, EVENT).table, kaplan_meier(time, EVENT, timefix=False).table)
    for ties in ("efron", "breslow"):
        fixed = cox(frame, "time", "event", ["group", "dose"], ties=ties)
        unfixed = cox(frame, "time", "event", ["group", "dose"], ties=ties, timefix=False)
        pd.testing.assert_frame_equal(fixed.table, unfixed.table, check_exact=True)
        assert fixed.loglik == unfixed.loglik
    pd.testing.assert_frame_equal(cumulative_incidence(time, STATUS, group=GROUP).table,
                                  cumulative_incidence(time, STATUS, group=GROUP, timefix=False).table)
    pd.testing.assert_frame_equal(fine_gray(frame, "time", "status", ["dose"]).table,
                                  fine_gray(frame, "time", "status", ["dose"], timefix=False).table)


def _tied_times_by_search(time: np.ndarray, tolerance: float) -> np.ndarray:
    """Second implementation (tests only): every finite time moved to the chain start at or below it."""
    values = np.unique(time[np.isfinite(time)])
    gaps = np.diff(values)
    tied = (gaps <= tolerance) | (gaps / np.mean(np.abs(values)) <= tolerance)
    cuts = values[np.r_[True, ~tied]]
    position = np.clip(np.searchsorted(cuts, time, side="right") - 1, 0, cuts.size - 1)
    return np.where(np.isfinite(time), cuts[position], time)


def test_tied_times_agrees_with_a_plain_search_over_all_cuts():
    from analysis.survival._common import TIE_TOLERANCE

    rng = np.random.default_rng(2)
    for trial in range(200):
        n = int(rng.integers(2, 300))
        time = rng.choice(rng.exponential(5, 20), n) + rng.choice([0, 1e-15, -3e-15, 5e-9, 1e-8, 2e-8], n)
        if trial % 3 == 0:
            time[rng.integers(0, n, 3)] = rng.choice([np.nan, np.inf, -np.inf], 3)
        if trial % 5 == 0:
            time = -time
        np.testing.assert_array_equal(tied_times(time), _tied_times_by_search(time, TIE_TOLERANCE))
