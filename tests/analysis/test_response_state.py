"""fit_response_state: the probability of being in response among all treated, checked against
the simulator's known truth (``SimulationTruth.value("in_response", ...)``), a hand-computed
case, and invariants."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis.response_state import fit_response_state
from tests.analysis.outcome_builders import make_data


@pytest.fixture(scope="module")
def simulated():
    simulation = pytest.importorskip("analysis.simulation")
    # no rescue and no boosters: the truth ("responded and not relapsed, events ignored") is
    # then what the ratings can show
    data = simulation.simulate(n_patients=3000, seed=2, rescue_hazard_per_day=0.0,
                               rescue_hazard_after_response_per_day=0.0, booster_fraction=0.0)
    # the planned course, as the truth is tabulated
    return dataclasses.replace(data, patients=data.patients.assign(planned=data.patients["course"]),
                               _fingerprint=[])


def test_recovers_the_true_probability_in_response(simulated):
    state = fit_response_state(simulated, by="planned", n_bootstrap=100)
    at = state.at([1, 7, 14, 28]).set_index(["group", "time_days"])
    assert list(at.columns) == ["in_response", "lower", "upper"]
    for course in ("single", "series"):
        for day in (1, 7, 14, 28):
            truth = simulated.truth.value("in_response", course, day)
            row = at.loc[(course, float(day))]
            # 95% band, widened by the truth's Monte Carlo error and the small misclassification
            # of ratings by the >= 50% rule
            assert row["lower"] - 0.015 <= truth <= row["upper"] + 0.015, (course, day, row.to_dict(), truth)
            assert row["lower"] <= row["in_response"] <= row["upper"]


def test_curve_invariants_and_summary(simulated):
    state = fit_response_state(simulated, n_bootstrap=20)
    curve = state.curve
    assert list(curve.columns) == ["group", "time_days", "in_response", "lower", "upper", "responded", "relapsed"]
    assert curve["in_response"].dropna().between(0, 1).all()  # NaN where the NPMLE is not unique to infinity
    # responded and relapsed are cumulative: they never fall, and relapse never exceeds response
    known = curve.dropna(subset=["responded", "relapsed"])
    assert len(known) > 100
    assert np.all(np.diff(known["responded"].to_numpy()) >= -1e-12)
    assert np.all(np.diff(known["relapsed"].to_numpy()) >= -1e-12)
    assert np.all(known["relapsed"] <= known["responded"] + 1e-12)
    s = state.summary()
    assert s.loc["all", "n"] == simulated.n_patients
    assert {"in_response_14d", "in_response_14d_lower", "in_response_14d_upper"} <= set(s.columns)
    assert s.loc["all", "estimable_until_days"] < s.loc["all", "last_followup_days"]
    beyond = state.at([s.loc["all", "estimable_until_days"] + 1])
    assert beyond["in_response"].isna().all()


def test_hand_computed_probability():
    # four patients rated at the same days; response and relapse seen exactly at ratings
    days = [0.0, 1.0, 2.0, 3.0, 4.0]
    scores = {"A": [30, 10, 10, 25, 25],   # responds by day 1, relapses by day 3
              "B": [30, 25, 10, 10, 10],   # responds by day 2, never relapses
              "C": [30, 25, 25, 25, 25],   # never responds
              "D": [30, 10, 10, 10, 25]}   # responds by day 1, relapses by day 4
    rows = [(p, 24 * d - (1 if d == 0 else 0), float(s), None) for p, ss in scores.items()
            for d, s in zip(days, ss, strict=True)]
    state = fit_response_state(make_data(rows), n_bootstrap=0, origin="response")
    got = state.at([1, 2, 3, 4])["in_response"].to_numpy()
    # at the rating days the intervals are resolved: day 1 {A, D}, day 2 {A, B, D}, day 3 {B, D},
    # day 4 {B}
    np.testing.assert_allclose(got, [0.5, 0.75, 0.5, 0.25])
    assert state.at([2]).loc[0, "lower"] != state.at([2]).loc[0, "lower"]  # no band without resamples


def test_needs_patients_with_a_baseline():
    rows = [("A", 5.0, 20.0, None)]  # no rating at or before the infusion
    with pytest.raises(ValueError, match="baseline"):
        fit_response_state(make_data(rows), n_bootstrap=0)
    with pytest.raises(ValueError, match="n_bootstrap"):
        fit_response_state(make_data([("A", -1.0, 30.0, None), ("A", 24.0, 10.0, None)]), n_bootstrap=-1)


def test_course_groups_follow_the_series_gap_given():
    """by="course" uses the endpoints' series_gap_days, as the clock does (fit_onset too)."""
    import analysis

    data = analysis.simulate(n_patients=120, seed=4, series_fraction=0.5)
    default = fit_response_state(data, by="course", n_bootstrap=0)
    assert list(default.table.index) == ["single", "series"]
    # infusions of the simulated series are 2-3 days apart: with a 1-day gap nobody has a series
    narrow = fit_response_state(data, by="course", n_bootstrap=0, series_gap_days=1)
    assert list(narrow.table.index) == ["single"]
    onset = analysis.fit_onset(data, by="course", series_gap_days=1)
    assert list(onset.summary().index) == ["single"]


def test_progress_reports_every_refit_and_changes_nothing():
    import analysis

    data = analysis.simulate(n_patients=200, seed=6, series_fraction=0.5)
    calls: list[tuple[int, int]] = []
    watched = fit_response_state(data, by="course", n_bootstrap=7, seed=1,
                                 progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 14) for i in range(1, 15)]  # 7 resamples x 2 groups
    plain = fit_response_state(data, by="course", n_bootstrap=7, seed=1)
    assert watched.curve.equals(plain.curve) and watched.table.equals(plain.table)

    class Stop(Exception):
        pass

    def stop(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):  # the caller stops the fit (a background job nobody waits for)
        fit_response_state(data, n_bootstrap=3, progress=stop)


def test_the_coarse_start_reaches_the_same_npmle(simulated):
    """_npmle starts from the whole-day NPMLE; the optimum equals a fit from the default start."""
    from analysis.endpoints import derive_endpoints
    from analysis.response_state import _npmle, state_intervals
    from analysis.survival._common import as_bounds
    from analysis.survival.turnbull import pool_index, turnbull_pooled

    intervals = state_intervals(derive_endpoints(simulated).patients)
    days = np.linspace(0.0, 40.0, 401)
    for what in ("response", "relapse"):
        lower, upper, inverse = pool_index(*as_bounds(intervals[f"{what}_lower"], intervals[f"{what}_upper"],
                                                      allow_zero_exact=True))
        weight = np.bincount(inverse).astype(float)
        started, default = _npmle(lower, upper, weight), turnbull_pooled(lower, upper, weight)
        assert started.converged and started.loglik == pytest.approx(default.loglik, abs=1e-8)
        np.testing.assert_allclose(started.survival_at(days)["survival"], default.survival_at(days)["survival"],
                                   atol=1e-8)
