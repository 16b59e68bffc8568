"""Turnbull NPMLE with ``timefix=True`` (the default): bound values equal up to rounding error are
one time, as R's ``survfit`` ties ``Surv(type = "interval2")`` responses (``aeqSurv``) before its
Turnbull fit; an interval that collapses to length 0 is refused, as R stops.

Reference: R 4.2.2, survival 3.5.3. ``R_SCRIPT`` was run with ``Rscript``; its printed output is
pasted verbatim below it. The data: 17 visit intervals in days, each bound computed from hours
as ``h / 24`` or ``(h - s) / 24 + s / 24`` (1-4 ulp apart for 52, 92, 100, 230 and 260 h): 17
distinct floats, 12 times. Where one patient's lower bound (92 h computed the second way) lies
an ulp below another's upper bound (92 h), ``(76, 92]`` and ``(92', 100]`` overlap on
``(92', 92]``, a sliver both cover, so without timefix the NPMLE piles mass on it; R's own
Turnbull EM fails on those slivers (``timefix = FALSE`` below), so ``timefix=False`` is checked
against a second implementation here (self-consistency EM on every elementary cell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.errors import AnalysisError
from analysis.survival._common import tied_times
from analysis.survival.turnbull import tied_bounds, turnbull

R_SCRIPT = r"""
library(survival)
cat("#", R.version.string, "survival", format(packageVersion("survival")), "\n")
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.12g", x)), collapse = ", "), "]\n", sep = "")
# days from hours two ways: h / 24, or (h - s) / 24 + s / 24 (for these h with s > 0, 1-4 ulp apart)
days <- function(h, s) ifelse(s == 0, h / 24, (h - s) / 24 + s / 24)
lo_h <- c(0, 0, 30, 52, 76, 92, 100, 144, 230, 168, 52, 92, 100, 0, 168, 336, 76)
lo_s <- c(0, 0, 0, 0, 0, 1, 2, 0, 1, 0, 2, 0, 2, 0, 0, 0, 0)
hi_h <- c(24, 52, 52, 76, 92, 100, 144, 230, 260, 260, 52, 92, 100, 30, Inf, Inf, 100)
hi_s <- c(0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 2, 0, 0, 0, 2)
lower <- days(lo_h, lo_s); upper <- ifelse(is.finite(hi_h), days(hi_h, hi_s), NA)
vals <- c(lower, upper[!is.na(upper)])
cat("# distinct bound values:", length(unique(vals)), "exact,", length(unique(c(aeqSurv(Surv(vals, rep(1, length(vals))))[, 1]))), "after aeqSurv\n")
d <- data.frame(lower, upper)
for (fix in c(TRUE, FALSE)) {
  tag <- if (fix) "FIX" else "NOFIX"
  fit <- tryCatch(survfit(Surv(lower, upper, type = "interval2") ~ 1, data = d, timefix = fix),
                  error = function(e) { cat("# timefix =", fix, "error:", conditionMessage(e), "\n"); NULL })
  if (!is.null(fit)) { py(paste0("TB_", tag, "_TIME"), fit$time); py(paste0("TB_", tag, "_SURV"), fit$surv) }
}
bad <- rbind(d, data.frame(lower = days(92, 1), upper = days(92, 0)))
r <- tryCatch(survfit(Surv(lower, upper, type = "interval2") ~ 1, data = bad), error = function(e) conditionMessage(e))
cat("# an 18th row (92 h two ways, 92 h]:", r, "\n")
"""

# ---- R output, pasted verbatim ----
# R version 4.2.2 Patched (2022-11-10 r83330) survival 3.5.3
# distinct bound values: 17 exact, 12 after aeqSurv
TB_FIX_TIME = [0.5, 2.16666666667, 2.66666666667, 3.83333333333, 4.16666666667, 5.08333333333, 7, 8.29166666667, 10.2083333333, 14]
TB_FIX_SURV = [0.8529408, 0.705882352941, 0.647058823529, 0.5, 0.352941176471, 0.294117647059, 0.294117647059, 0.183823529412, 0.0735294117647, 0.0735294117647]
# timefix = FALSE error: missing value where TRUE/FALSE needed
# an 18th row (92 h two ways, 92 h]: aeqSurv exception, an interval has effective length 0
# ---- end of R output ----

LO_H = np.array([0, 0, 30, 52, 76, 92, 100, 144, 230, 168, 52, 92, 100, 0, 168, 336, 76], dtype=float)
LO_S = np.array([0, 0, 0, 0, 0, 1, 2, 0, 1, 0, 2, 0, 2, 0, 0, 0, 0], dtype=float)
HI_H = np.array([24, 52, 52, 76, 92, 100, 144, 230, 260, 260, 52, 92, 100, 30, np.inf, np.inf, 100])
HI_S = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 2, 0, 0, 0, 2], dtype=float)


def days(hours: np.ndarray, split: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - 0
        return np.where(split == 0, hours / 24, (hours - split) / 24 + split / 24)


LOWER, UPPER = days(LO_H, LO_S), days(HI_H, HI_S)


def test_the_bounds_have_near_ties_that_r_joins():
    values = np.concatenate((LOWER, UPPER[np.isfinite(UPPER)]))
    assert len(np.unique(values)) == 17 and len(np.unique(tied_times(values))) == 12  # R's counts
    lower, upper = tied_bounds(LOWER, UPPER)
    assert np.max(np.abs(lower - LOWER)) < 1e-14 and np.array_equal(np.isinf(upper), np.isinf(UPPER))
    assert ((lower == upper) == (LOWER == UPPER)).all()  # exact rows stay exact, no interval collapses


def test_timefix_matches_r_survfit_interval2():
    fit = turnbull(LOWER, UPPER)
    assert fit.converged
    table = fit.table
    finite = np.isfinite(table["upper"].to_numpy())
    # R's curve steps at the midpoint of each support interval; its other times are censoring times
    mid = 0.5 * (table["lower"].to_numpy() + table["upper"].to_numpy())[finite]
    r_time, r_surv = np.asarray(TB_FIX_TIME), np.asarray(TB_FIX_SURV)
    assert_allclose(mid, r_time[np.isin(np.round(r_time, 9), np.round(mid, 9))], rtol=1e-10)
    at = np.searchsorted(r_time, mid + 1e-9) - 1
    # R's EM stops when survival changes by < 5e-5 between iterations (0.8529408 vs 29/34 here)
    assert_allclose(table["survival"].to_numpy()[finite], r_surv[at], atol=1e-6)
    assert table["survival"].iloc[-1] == pytest.approx(0.0) and r_surv[-1] == pytest.approx(table["probability"].iloc[-1])


def _npmle_by_em(lower: np.ndarray, upper: np.ndarray, iterations: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """Second implementation (tests only): self-consistency EM over every elementary cell (each
    distinct bound value as a point, each gap between neighbours, and the tail), exact floats
    compared; returns the distinct values and S at each of them."""
    values = np.unique(np.concatenate((lower, upper[np.isfinite(upper)])))
    cell_lo = np.r_[values, values]  # points [v, v], then gaps (v_k, v_k+1)
    cell_hi = np.r_[values, values[1:], np.inf]
    is_point = np.r_[np.ones(len(values), bool), np.zeros(len(values), bool)]
    exact = lower == upper
    inside_open = (cell_lo[None, :] >= lower[:, None]) & (cell_hi[None, :] <= upper[:, None])
    covers = np.where(exact[:, None], is_point[None, :] & (cell_lo[None, :] == lower[:, None]),
                      inside_open & ~(is_point[None, :] & (cell_lo[None, :] == lower[:, None])))
    mass = np.full(covers.shape[1], 1.0 / covers.shape[1])
    for _ in range(iterations):
        share = covers * mass
        mass = (share / share.sum(axis=1, keepdims=True)).mean(axis=0)
    # S(v) = 1 - mass of cells at or below v (points <= v, gaps ending at or below v)
    below = (cell_hi[None, :] <= values[:, None])
    return values, 1.0 - (below * mass).sum(axis=1)


@pytest.mark.parametrize("timefix", [True, False])
def test_npmle_matches_a_second_implementation(timefix):
    lower, upper = tied_bounds(LOWER, UPPER) if timefix else (LOWER, UPPER)
    values, survival = _npmle_by_em(lower, upper)
    ours = turnbull(LOWER, UPPER, timefix=timefix).survival_at(values)["survival"].to_numpy()
    assert_allclose(ours, survival, atol=1e-8)  # EM reaches 5e-10 of the NPMLE here


def test_without_timefix_the_slivers_take_the_mass():
    fixed = turnbull(LOWER, UPPER).table
    split = turnbull(LOWER, UPPER, timefix=False).table
    sliver = (split["lower"] < split["upper"]) & (split["upper"] - split["lower"] < 1e-12)
    assert sliver.sum() >= 1 and split.loc[sliver, "probability"].sum() > 0.1
    assert ((fixed["upper"] - fixed["lower"] >= 0.5) | (fixed["upper"] == fixed["lower"])).all()
    s_fixed = turnbull(LOWER, UPPER).survival_at([5.0, 8.0])["survival"].to_numpy()
    s_split = turnbull(LOWER, UPPER, timefix=False).survival_at([5.0, 8.0])["survival"].to_numpy()
    assert np.max(np.abs(s_fixed - s_split)) > 0.02


def test_an_interval_that_collapses_is_refused_naming_its_rows():
    lower = np.r_[LOWER, days(np.array([92.0]), np.array([1.0]))]
    upper = np.r_[UPPER, 92 / 24]
    assert lower[-1] < upper[-1]
    with pytest.raises(AnalysisError, match=r"1 interval\(s\) with lower < upper .* length 0 \(positions \[17\]"):
        turnbull(lower, upper)
    assert turnbull(lower, upper, timefix=False).converged  # as given: a sliver of 1 ulp
    with pytest.raises(AnalysisError, match=r"rows \['P18'\]"):
        tied_bounds(lower, upper, rows=[f"P{i + 1}" for i in range(len(lower))])
    # a genuinely exact time stays an exact time
    exact = turnbull(np.r_[LOWER, 92 / 24], np.r_[UPPER, 92 / 24])
    assert exact.n_exact == turnbull(LOWER, UPPER).n_exact + 1


def test_without_near_ties_timefix_changes_nothing():
    lower, upper = days(LO_H, 0 * LO_S), days(HI_H, 0 * HI_S)
    assert all(np.array_equal(a, b) for a, b in zip(tied_bounds(lower, upper), (lower, upper), strict=True))
    fixed, unfixed = turnbull(lower, upper), turnbull(lower, upper, timefix=False)
    pd.testing.assert_frame_equal(fixed.table, unfixed.table, check_exact=True)
    assert fixed.loglik == unfixed.loglik and fixed.iterations == unfixed.iterations


# The project's sample data (analysis.load_sample()): onset intervals in hours since the infusion,
# where 40 min arrives as 0.6666666666666643, ...666, ...714 and ...856 h and 3.8 h as 3.8 and
# 3.8000000000000114 (158 distinct bound values, 133 after the tie; without it the NPMLE of these
# data moves by 0.13 at 4.2 h, which fit_onset draws as its Turnbull curve). Written for R with
#   p = analysis.derive_endpoints(analysis.load_sample(), instrument="MADRS").patients
#   pd.DataFrame({"lower": p["onset_lower_hours"], "upper": p["onset_upper_hours"]}).to_csv(
#       "onset_sample.csv", index=False, float_format="%.17g")
ONSET_R_SCRIPT = r"""
library(survival)
cat("#", R.version.string, "survival", format(packageVersion("survival")), "\n")
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.12g", x)), collapse = ", "), "]\n", sep = "")
d <- read.csv("onset_sample.csv")   # 17 significant digits: read exactly
d$upper[is.infinite(d$upper)] <- NA
fit <- survfit(Surv(lower, upper, type = "interval2") ~ 1, data = d)
i <- seq(1, length(fit$time), by = 4)
cat("#", nrow(d), "patients,", length(fit$time), "times; every 4th:\n")
py("ONSET_FIX_TIME", fit$time[i]); py("ONSET_FIX_SURV", fit$surv[i])
r <- tryCatch(survfit(Surv(lower, upper, type = "interval2") ~ 1, data = d, timefix = FALSE), error = function(e) conditionMessage(e))
cat("# timefix = FALSE:", if (is.character(r)) r else "fitted", "\n")
"""

# ---- R output, pasted verbatim ----
# R version 4.2.2 Patched (2022-11-10 r83330) survival 3.5.3
# 300 patients, 144 times; every 4th:
ONSET_FIX_TIME = [0.333333333333, 1.83333333333, 3.9, 4.15, 23.1, 23.4, 23.6, 24, 24.2, 24.5, 24.8, 25, 49.2, 70.05, 71.9, 73.8, 312.8, 490.7, 693.6, 988, 1131.11666667, 1325.9, 1331.8, 1333.1, 1334.9, 1336.9, 1338.5, 1343.6, 1348.2, 1353.3, 1356.7, 1360.6, 1361.9, 1363.7, 1364.4, 1366.3]
ONSET_FIX_SURV = [0.993199025312, 0.909684080293, 0.723130508387, 0.57493770741, 0.535496069557, 0.461958356769, 0.461958356727, 0.461958356727, 0.461958356727, 0.461958356727, 0.461958356727, 0.461958356727, 0.4423903776, 0.4423903776, 0.441758721633, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402, 0.436178866402]
# timefix = FALSE: fitted
# ---- end of R output ----


def test_sample_onset_intervals_match_r_with_timefix_and_not_without():
    from analysis import load_sample
    from analysis.endpoints import derive_endpoints

    patients = derive_endpoints(load_sample(), instrument="MADRS").patients
    lower = patients["onset_lower_hours"].to_numpy(float)
    upper = patients["onset_upper_hours"].to_numpy(float)
    assert len(lower) == 300
    times, r_survival = np.asarray(ONSET_FIX_TIME), np.asarray(ONSET_FIX_SURV)
    distance = {}
    for timefix in (True, False):
        fit = turnbull(lower, upper, timefix=timefix)
        table = fit.table
        inside = ((times[:, None] > table["lower"].to_numpy() - 1e-9)
                  & (times[:, None] < table["upper"].to_numpy() + 1e-9)).any(axis=1)
        assert (~inside).sum() >= 0.8 * len(times)
        ours = fit.survival_at(times[~inside])["survival"].to_numpy()
        distance[timefix] = np.max(np.abs(ours - r_survival[~inside]))
    # R's EM stops early (5e-5 per iteration); ours equals a 10,000-step cell EM to 5e-13 here
    assert distance[True] < 5e-3
    assert distance[False] > 0.1  # 1-ulp slivers at 40 min, 4.1, 4.2 and 23.1 h take 27% of the mass
