"""fit_onset ties onset hours equal up to rounding error once over all patients (R's
``survfit(Surv(...) ~ g)`` applies aeqSurv to the whole response, then splits it into groups),
for the Turnbull curves and for the Kaplan-Meier at the visit and its log-rank test.

Reference: R 4.2.2, survival 3.5.3. ``R_SCRIPT`` was run with ``Rscript``; its printed output is
pasted verbatim below it. The data: 20 patients in two groups, onset bounds computed from
minutes as ``m / 60`` or ``(m - s) / 60 + s / 60`` (1 ulp apart for 40, 230 and 1386 min), so
one patient's lower bound lies 1 ulp below (230 min, 23.1 h) or above (40 min) another's upper
bound: untied, the overlap is a sliver the NPMLE piles mass on. Two more near pairs of upper
ends, 2e-7 h in group A (hours ~0.7-7) and 1e-6 h in group B (hours ~23-170), are one time or
two by the spread of ALL times (1.5e-8 x the mean of the distinct times), not of their own
group: tied over all 20, the A pair is one time and the B pair two; each group alone, the other
way round (``ALONE_*``). The B pair's larger end is the upper bound of (48, 100 + 1e-6] and 100 h
the lower bound of (100, 140], so R's Turnbull curve keeps the sliver (100, 100 + 1e-6] (its time
100.0000005) that tying group B alone would remove (0.077 off R at 100-140 h).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis.endpoints import derive_endpoints
from analysis.errors import AnalysisError
from analysis.onset import fit_onset
from benchmarks.bench_endpoints import numpy_dataset

R_SCRIPT = r"""
library(survival)
cat("#", R.version.string, "survival", format(packageVersion("survival")), "\n")
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.12g", x)), collapse = ", "), "]\n", sep = "")
# hours from minutes two ways: m / 60, or (m - s) / 60 + s / 60 (1 ulp apart for 40, 230 and 1386 min)
hours <- function(m, s) ifelse(s == 0, m / 60, (m - s) / 60 + s / 60)
lo_m <- c(0, 40, 40, 110, 230, 110, 80, 230, 240, 420, 1386, 0, 1440, 1440, 2880, 4320, 6000, 2880, 7200, 10200)
lo_s <- c(0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)
hi_m <- c(40, 110, 230, 230, 240, 120, 120, 420, Inf, Inf, 1440, 1386, 2880, 6000, 6000, 7200, 8400, 6000, Inf, Inf)
hi_s <- c(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
hi_add <- c(0, 0, 0, 0, 0, 0, 2e-7, 0, 0, 0, 0, 0, 0, 0, 1e-6, 0, 0, 0, 0, 0)  # hours
g <- rep(c("A", "B"), each = 10)
lower <- hours(lo_m, lo_s); upper <- ifelse(is.finite(hi_m), hours(hi_m, hi_s) + hi_add, NA)
d <- data.frame(lower, upper, g)
tb <- survfit(Surv(lower, upper, type = "interval2") ~ g, data = d)
for (lv in c("A", "B")) {
  f <- tb[paste0("g=", lv)]
  py(paste0("TB_", lv, "_TIME"), f$time); py(paste0("TB_", lv, "_SURV"), f$surv)
}
d$t <- ifelse(is.na(upper), lower, upper); d$e <- as.numeric(!is.na(upper))
km <- survfit(Surv(t, e) ~ g, data = d)
for (lv in c("A", "B")) {
  f <- km[paste0("g=", lv)]
  py(paste0("KM_", lv, "_TIME"), f$time); py(paste0("KM_", lv, "_NRISK"), f$n.risk)
  py(paste0("KM_", lv, "_NEVENT"), f$n.event); py(paste0("KM_", lv, "_SURV"), f$surv)
  py(paste0("KM_", lv, "_LOWER"), f$lower); py(paste0("KM_", lv, "_UPPER"), f$upper)
}
km_ll <- survfit(Surv(t, e) ~ g, data = d, conf.type = "log-log")
for (lv in c("A", "B")) {
  f <- km_ll[paste0("g=", lv)]
  py(paste0("KMLL_", lv, "_LOWER"), f$lower); py(paste0("KMLL_", lv, "_UPPER"), f$upper)
  alone <- survfit(Surv(t, e) ~ 1, data = d, subset = g == lv)
  py(paste0("ALONE_", lv, "_TIME"), alone$time)
}
py("LOGRANK_CHISQ", survdiff(Surv(t, e) ~ g, data = d)$chisq)
"""

# ---- R output, pasted verbatim (the log (plain) band lines left out: fit_onset uses log-log) ----
# R version 4.2.2 Patched (2022-11-10 r83330) survival 3.5.3
TB_A_TIME = [0.333333333333, 1.58333333333, 1.91666666667, 3.91666666667, 4, 5.5, 7]
TB_A_SURV = [0.9, 0.733333333333, 0.4, 0.201403636226, 0.201403636226, 0.198615793005, 0.198615793005]
TB_B_TIME = [11.55, 23.55, 36, 86, 100.0000005, 120, 130, 170]
TB_B_SURV = [0.9, 0.8, 0.670412373722, 0.361984740346, 0.223479638696, 0.223479638696, 0.180985011825, 0.180985011825]
KM_A_TIME = [0.666666666667, 1.83333333333, 2, 3.83333333333, 4, 7]
KM_A_NRISK = [10, 9, 8, 6, 4, 2]
KM_A_NEVENT = [1, 1, 2, 2, 1, 1]
KM_A_SURV = [0.9, 0.8, 0.6, 0.4, 0.3, 0.15]
KM_B_TIME = [23.1, 24, 48, 100, 100.000001, 120, 140, 170]
KM_B_NRISK = [10, 9, 8, 7, 5, 4, 2, 1]
KM_B_NEVENT = [1, 1, 1, 2, 1, 1, 1, 0]
KM_B_SURV = [0.9, 0.8, 0.7, 0.5, 0.4, 0.3, 0.15, 0.15]
KMLL_A_LOWER = [0.473009271362, 0.408690781633, 0.252668897004, 0.122693165782, 0.071134492323, 0.01009830195]
KMLL_A_UPPER = [0.985281393367, 0.945872645839, 0.827220967029, 0.670204637423, 0.577867330625, 0.456945795871]
ALONE_A_TIME = [0.666666666667, 1.83333333333, 2, 2.0000002, 3.83333333333, 4, 7]
KMLL_B_LOWER = [0.473009271362, 0.408690781633, 0.32871659328, 0.183605590619, 0.122693165782, 0.071134492323, 0.01009830195, 0.01009830195]
KMLL_B_UPPER = [0.985281393367, 0.945872645839, 0.891949041225, 0.753174076998, 0.670204637423, 0.577867330625, 0.456945795871, 0.456945795871]
ALONE_B_TIME = [23.1, 24, 48, 100, 120, 140, 170]
LOGRANK_CHISQ = [13.9603838823]
# ---- end of R output ----

LO_M = np.array([0, 40, 40, 110, 230, 110, 80, 230, 240, 420, 1386, 0, 1440, 1440, 2880, 4320, 6000, 2880, 7200, 10200],
                dtype=float)
LO_S = np.array([0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
HI_M = np.array([40, 110, 230, 230, 240, 120, 120, 420, np.inf, np.inf, 1440, 1386, 2880, 6000, 6000, 7200, 8400, 6000,
                 np.inf, np.inf])
HI_S = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
HI_ADD = np.array([0, 0, 0, 0, 0, 0, 2e-7, 0, 0, 0, 0, 0, 0, 0, 1e-6, 0, 0, 0, 0, 0])
GROUP = np.repeat(["A", "B"], 10)


def hours(minutes: np.ndarray, split: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - 0
        return np.where(split == 0, minutes / 60, (minutes - split) / 60 + split / 60)


LOWER, UPPER = hours(LO_M, LO_S), hours(HI_M, HI_S) + HI_ADD


def onset_endpoints(lower: np.ndarray, upper: np.ndarray):
    """Endpoints of 20 patients whose onset intervals (hours) and diagnosis (A, B) are replaced."""
    endpoints = derive_endpoints(numpy_dataset(40, seed=5), instrument="MADRS")
    patients = endpoints.patients.head(len(lower)).assign(
        onset_lower_hours=lower, onset_upper_hours=upper, diagnosis=GROUP)
    return dataclasses.replace(endpoints, patients=patients)


def curve_after(curve, times: np.ndarray) -> np.ndarray:
    """Cumulative response of a Turnbull curve (points at both ends of each support interval)
    once the support interval holding each time (else the flat part it lies on) is passed: what
    R's ``survfit`` reports (1 - surv) at a support interval's midpoint and at censoring times."""
    t, c = curve["time_hours"].to_numpy(), curve["cumulative_response"].to_numpy()
    return c[np.minimum(np.searchsorted(t, times, side="left"), len(t) - 1)]


def test_the_data_have_slivers_and_group_dependent_ties():
    finite = np.isfinite(UPPER)
    # a lower bound 1 ulp below (230 min, 23.1 h) or an upper bound 1 ulp above (40 min) another's
    assert hours(np.array([230.0]), np.array([2.0]))[0] == np.nextafter(230 / 60, 0)
    assert (LOWER[:, None] < UPPER[None, :]).sum() > (np.round(LOWER, 9)[:, None] < np.round(UPPER, 9)[None, :]).sum()
    assert finite.sum() == 16


def test_turnbull_curves_match_r_survfit_interval2_by_group():
    from analysis.survival.turnbull import turnbull_quiet

    fit = fit_onset(onset_endpoints(LOWER, UPPER), by="diagnosis")
    curve = fit.curve[fit.curve["source"] == "turnbull"]
    for level in ("A", "B"):
        times = np.asarray(globals()[f"TB_{level}_TIME"])
        r_cumulative = 1 - np.asarray(globals()[f"TB_{level}_SURV"])
        ours = curve_after(curve[curve["group"] == level], times)
        # R's EM stops early: it leaves 0.0014 on A's (4, 7 h], where our NPMLE puts none
        assert_allclose(ours, r_cumulative, atol=2e-3)
        # every float as given, the slivers take mass: the untied NPMLE is far from R's
        rows = level == GROUP
        untied = turnbull_quiet(LOWER[rows], UPPER[rows], timefix=False)
        assert np.max(np.abs(untied.survival_at(times)["survival"].to_numpy() - (1 - r_cumulative))) > 0.05


def test_kaplan_meier_ties_over_all_patients_as_r_survfit_by_group():
    fit = fit_onset(onset_endpoints(LOWER, UPPER), by="diagnosis")
    for level in ("A", "B"):
        table = fit.km[level].table
        assert_allclose(table["time"], globals()[f"KM_{level}_TIME"], rtol=1e-11)
        assert_allclose(table["at_risk"], globals()[f"KM_{level}_NRISK"])
        assert_allclose(table["events"], globals()[f"KM_{level}_NEVENT"])
        assert_allclose(table["survival"], globals()[f"KM_{level}_SURV"], rtol=1e-10)
        assert_allclose(table["lower"], globals()[f"KMLL_{level}_LOWER"], rtol=1e-9)
        assert_allclose(table["upper"], globals()[f"KMLL_{level}_UPPER"], rtol=1e-9)
        # each group tied on its own is R's other answer (one time more or less)
        assert len(globals()[f"ALONE_{level}_TIME"]) != len(table)
        points = fit.curve[(fit.curve["source"] == "kaplan_meier") & (fit.curve["group"] == level)]
        assert_allclose(points["cumulative_response"].to_numpy()[1:], 1 - table["survival"].to_numpy())
    logrank = fit.test.set_index("test").loc["logrank_upper"]
    assert logrank["statistic"] == pytest.approx(LOGRANK_CHISQ[0], rel=1e-10)


def test_interval_collapsing_to_length_zero_is_refused_naming_the_patient():
    lower, upper = LOWER.copy(), UPPER.copy()
    lower[0], upper[0] = hours(np.array([230.0]), np.array([2.0]))[0], 230 / 60  # 1 ulp long
    endpoints = onset_endpoints(lower, upper)
    with pytest.raises(AnalysisError, match="length 0") as error:
        fit_onset(endpoints, by="diagnosis")
    assert str(endpoints.patients["patient_id"].iloc[0]) in str(error.value)


def test_without_near_ties_the_fits_are_those_of_the_floats_as_given():
    import pandas as pd

    from analysis.survival.kaplan_meier import kaplan_meier
    from analysis.survival.turnbull import turnbull_quiet

    lower, upper = np.round(LOWER, 4), np.round(UPPER, 4)  # distinct bounds at least 1e-4 h apart
    fit = fit_onset(onset_endpoints(lower, upper), by="diagnosis")
    time, event = np.where(np.isfinite(upper), upper, lower), np.isfinite(upper)
    for level in ("A", "B"):
        rows = level == GROUP
        pd.testing.assert_frame_equal(fit.km[level].table, kaplan_meier(
            time[rows], event[rows], ci="log-log", timefix=False).table, check_exact=True)
        table = turnbull_quiet(lower[rows], upper[rows], timefix=False).table
        finite = np.isfinite(table["upper"].to_numpy())  # the curve is drawn over finite support
        points = fit.curve[(fit.curve["source"] == "turnbull") & (fit.curve["group"] == level)]
        assert set(points["time_hours"]) == {0.0, *table["lower"][finite], *table["upper"][finite]}
