"""fit_trajectory's curved time effects: the piecewise-linear mixed model against R (lme4, the
script and its printed output embedded below), recovery of a known drop-then-relapse curve
simulated here, the natural-spline option, and the residual check.

R reference (R 4.2.2, lme4 1.1), run on ``fit_trajectory(relapse_course(80, seed=5)[0],
time_effect="piecewise").frame`` written to /tmp/rval/piecewise.csv::

    library(lme4)
    d <- read.csv("/tmp/rval/piecewise.csv")
    fit <- lmer(score ~ time_days + time_days_after_1 + time_days_after_7 + baseline_score
                + (time_days | patient_id), data = d, REML = TRUE)
    print(summary(fit)$coefficients, digits = 10)
    print(REMLcrit(fit), digits = 12)
    print(as.data.frame(VarCorr(fit))[, c("grp", "var1", "var2", "vcov")], digits = 10)

Printed (lme4 warned max|grad| = 0.0035 > tol 0.002; our REML criterion is lower by 3e-7)::

                            Estimate    Std. Error        t value
        (Intercept)         1.5895774855 2.16326051858   0.7348063129
        time_days         -11.6788115764 0.32492553798 -35.9430399010
        time_days_after_1  12.2968996306 0.34529442497  35.6127951722
        time_days_after_7  -0.3990279733 0.05345741289  -7.4644086144
        baseline_score      0.7548723947 0.06587678978  11.4588521573
        [1] 2974.46835959
                 grp        var1      var2            vcov
        1 patient_id (Intercept)      <NA>  8.648534206939
        2 patient_id   time_days      <NA>  0.002824927392
        3 patient_id (Intercept) time_days -0.005943412970
        4   Residual        <NA>      <NA>  3.944560914742
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.longitudinal.trajectories import fit_trajectory
from tests.analysis.outcome_builders import make_data

# a single infusion at 0 h: -12 points over the first day, +0.6 points a day back to day 7,
# then +0.25 a day (relapse); visits at 4 h and days 1, 2, 3, 7, 14, 21, 28
TRUE_SLOPES = (-12.0, 0.6, 0.25)  # points per day before day 1, day 1-7, after day 7
VISIT_HOURS = (4.0, 24.0, 48.0, 72.0, 168.0, 336.0, 504.0, 672.0)


def relapse_course(n: int, seed: int) -> tuple[object, pd.DataFrame]:
    """OutcomeData of ``n`` patients following the drop-then-relapse curve above, with a random
    intercept (SD 3) and a random slope after day 7 (SD 0.05 per day), residual SD 2."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        base = float(rng.integers(24, 42))
        shift = rng.normal(0, 3.0)
        late = rng.normal(0, 0.05)
        rows.append((f"p{i:03d}", -2.0, base, "baseline"))
        for hours in VISIT_HOURS:
            days = hours / 24.0
            mean = (0.8 * base + shift + TRUE_SLOPES[0] * min(days, 1.0)
                    + TRUE_SLOPES[1] * min(max(days - 1.0, 0.0), 6.0)
                    + (TRUE_SLOPES[2] + late) * max(days - 7.0, 0.0))
            score = float(np.clip(np.round(mean + rng.normal(0, 2.0)), 0, 60))
            rows.append((f"p{i:03d}", hours, score, f"h{hours:g}"))
    truth = pd.DataFrame({"slope": TRUE_SLOPES}, index=["before day 1", "day 1-7", "after day 7"])
    return make_data(rows), truth


R_PIECEWISE = {  # term: (estimate, se) from summary(fit)$coefficients
    "Intercept": (1.5895774855, 2.16326051858),
    "time_days": (-11.6788115764, 0.32492553798),
    "time_days_after_1": (12.2968996306, 0.34529442497),
    "time_days_after_7": (-0.3990279733, 0.05345741289),
    "baseline_score": (0.7548723947, 0.06587678978),
}
R_REML_CRITERION = 2974.46835959
R_VARIANCES = {"Intercept": 8.648534206939, "time_days": 0.002824927392, "residual": 3.944560914742}


@pytest.fixture(scope="module")
def course():
    return relapse_course(80, seed=5)[0]


def test_piecewise_mixed_model_matches_lme4(course):
    fit = fit_trajectory(course, time_effect="piecewise")
    assert fit.formula == "score ~ time_days + time_days_after_1 + time_days_after_7 + baseline_score"
    for term, (estimate, se) in R_PIECEWISE.items():
        assert fit.fixed.loc[term, "estimate"] == pytest.approx(estimate, rel=2e-4, abs=1e-4), term
        assert fit.fixed.loc[term, "se"] == pytest.approx(se, rel=2e-3), term
    # lme4 stopped short of the optimum (its convergence warning): ours may only be as good or better
    assert fit.model.minus2_loglik == pytest.approx(R_REML_CRITERION, abs=1e-3)
    assert fit.model.minus2_loglik <= R_REML_CRITERION + 1e-6
    assert fit.model.random.loc["Intercept", "Intercept"] == pytest.approx(R_VARIANCES["Intercept"], rel=1e-3)
    assert fit.model.residual_variance == pytest.approx(R_VARIANCES["residual"], rel=1e-3)
    # the knots and their terms are stated; the default knot at 4 h has no rating before it here
    # (the first rating is at 4 h): left out, said
    assert "knots at day 1 and day 7" in fit.describe()[0]
    assert "Note: the default knot at 4 h (no rating before it) left out" in fit.describe()[-1]


def test_piecewise_recovers_the_simulated_slopes(course):
    fit = fit_trajectory(course, time_effect="piecewise").fixed
    slope_1 = fit.loc["time_days", "estimate"]
    slope_2 = slope_1 + fit.loc["time_days_after_1", "estimate"]
    slope_3 = slope_2 + fit.loc["time_days_after_7", "estimate"]
    # each within 4 standard errors of the truth (n = 80 patients, 8 visits)
    se = fit["se"]
    assert abs(slope_1 - TRUE_SLOPES[0]) < 4 * se["time_days"]
    assert abs(slope_2 - TRUE_SLOPES[1]) < 4 * np.hypot(se["time_days"], se["time_days_after_1"])
    assert abs(slope_3 - TRUE_SLOPES[2]) < 0.1


def test_residual_check_flags_a_straight_line_and_passes_the_piecewise_curve(course):
    linear = fit_trajectory(course).residual_check(8, against="time")
    piecewise = fit_trajectory(course, time_effect="piecewise").residual_check(8, against="time")
    assert len(linear) == len(piecewise) == 8 and (piecewise["n"] == 80).all()
    # a straight line misses the drop: 4 h far above 0, days 1-3 below
    assert linear["lower"].iloc[0] > 5 and (linear["upper"].iloc[1:4] < -1).all()
    assert (piecewise["mean_residual"].abs() < 0.5).all()
    by_fitted = fit_trajectory(course, time_effect="piecewise").residual_check(5)
    assert by_fitted["n"].sum() == 640 and (by_fitted["low"] <= by_fitted["high"]).all()


def test_spline_and_knots_in_hours_and_errors(course):
    spline = fit_trajectory(course, time_effect="spline", reml=False)
    linear = fit_trajectory(course, reml=False)
    # the default interior knots (4 h has no rating before it here): day 1 and day 7
    assert spline.formula.startswith("score ~ cr(time_days, knots=(1, 7,)")
    assert spline.model.loglik > linear.model.loglik + 50  # ML: nested in nothing, but far better
    hours = fit_trajectory(course, time_effect="piecewise", time_unit="hours")
    assert "time_hours_after_24" in hours.frame.columns and "time_hours_after_168" in hours.frame.columns
    days = fit_trajectory(course, time_effect="piecewise")
    # the same model in hours: slopes per hour are the slopes per day / 24
    assert hours.fixed.loc["time_hours", "estimate"] * 24 == pytest.approx(days.fixed.loc["time_days", "estimate"],
                                                                          rel=1e-4)
    with pytest.raises(ValueError, match="No rating after the knot"):
        fit_trajectory(course, time_effect="piecewise", knots=[100.0])
    # no rating before a knot (ratings from day 2 on, knot at day 1): said, not "rank deficient"
    kept = (course.assessments["time_hours"] <= 0) | (course.assessments["time_hours"] >= 48)
    later = dataclasses.replace(course, assessments=course.assessments[kept], _fingerprint=[])
    with pytest.raises(ValueError, match=r"No rating between the start and the knot at day 1 \(the ratings after "
                                         r"baseline are at 2, "):
        fit_trajectory(later, time_effect="piecewise", knots=[1, 7])
    with pytest.raises(ValueError, match="time_effect"):
        fit_trajectory(course, time_effect="quadratic")


def test_default_knots_follow_the_rating_times_and_say_which_were_left_out(course):
    # a clinic rating from day 2 on: the default knot at day 1 has no rating before it
    kept = (course.assessments["time_hours"] <= 0) | (course.assessments["time_hours"] >= 48)
    later = dataclasses.replace(course, assessments=course.assessments[kept], _fingerprint=[])
    fit = fit_trajectory(later, time_effect="piecewise")
    assert fit.settings["knots"] == (7.0,) and "time_days_after_7" in fit.formula
    assert "time_days_after_1" not in fit.formula
    note = next(line for line in fit.describe() if "default knot" in line)
    assert "knots at 4 h (no rating before it), day 1 (no rating before it) left out" in note
    assert note.endswith(": knots at day 7.")
    # the same model as the knot at 7 given by hand
    given = fit_trajectory(later, time_effect="piecewise", knots=[7])
    pd.testing.assert_frame_equal(fit.fixed, given.fixed)
    # follow-up ending before day 7 (ratings to day 3): the knot at 7 has no rating after it
    early = course.assessments["time_hours"] <= 72
    short = dataclasses.replace(course, assessments=course.assessments[early], _fingerprint=[])
    fit = fit_trajectory(short, time_effect="piecewise")
    assert fit.settings["knots"] == (1.0,)
    assert any("day 7 (no rating after it)" in line for line in fit.describe())
    # ratings only after day 7: no default knot fits, a straight line, said
    late = (course.assessments["time_hours"] <= 0) | (course.assessments["time_hours"] > 7 * 24)
    straight = fit_trajectory(dataclasses.replace(course, assessments=course.assessments[late], _fingerprint=[]),
                              time_effect="piecewise")
    assert straight.settings["time_effect"] == "linear" and straight.settings["knots"] == ()
    assert ("Note: the default knots at 4 h (no rating before it), day 1 (no rating before it), day 7 (no rating "
            "before it) left out (the ratings after baseline are at 14, 21, 28 days): a straight line.") \
        in straight.describe()


def test_fitted_curve_follows_the_observed_means(course):
    fit = fit_trajectory(course, time_effect="piecewise")
    curve = fit.curve(n_points=400)
    observed = analysis.trajectory(course, time="days").table
    observed = observed[observed["time_point"] != "baseline"]
    at = np.interp(observed["time_days"], curve["time_days"], curve["fitted"])
    # the population curve at the mean baseline passes within 1 point of every visit's mean
    np.testing.assert_array_less(np.abs(at - observed["mean"].to_numpy()), 1.0)


# an infusion at 0 h with the response visible by 4 h: -30 points a day (-5 in the first 4 h), then
# -6 a day to the peak at day 1 (-5 more), +0.6 a day to day 7, +0.25 a day after (relapse);
# ratings at 40 min, 4 h, days 1, 2, 3, 7, 14, 21, 28 (the schedule of DOMAIN.md, "Others")
FAST_SLOPES = (-30.0, -6.0, 0.6, 0.25)  # points per day before 4 h, 4 h-day 1, day 1-7, after day 7
FAST_VISIT_HOURS = (40 / 60, 4.0, 24.0, 48.0, 72.0, 168.0, 336.0, 504.0, 672.0)


def fast_onset_mean(base: float, days: float) -> float:
    """The true mean score at ``days`` after the infusion (before the patient's random intercept)."""
    knots = (0.0, 4 / 24, 1.0, 7.0, np.inf)
    return 0.8 * base + sum(slope * max(min(days, high) - low, 0.0)
                            for slope, low, high in zip(FAST_SLOPES, knots[:-1], knots[1:], strict=True))


def fast_onset_course(n: int, seed: int, hours: tuple[float, ...] = FAST_VISIT_HOURS) -> object:
    """OutcomeData of ``n`` patients on the fast-onset curve, random intercept SD 3, residual SD 2,
    rated at ``hours``; half of them (odd numbers) in the 'series' course, the others 'single'."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        base = float(rng.integers(24, 42))
        shift = rng.normal(0, 3.0)
        rows.append((f"p{i:03d}", -2.0, base, "baseline"))
        rows += [(f"p{i:03d}", h, float(np.clip(np.round(fast_onset_mean(base, h / 24) + shift + rng.normal(0, 2.0)),
                                                0, 60)), f"h{h:g}") for h in hours]
    return make_data(rows)


@pytest.fixture(scope="module")
def fast_course():
    return fast_onset_course(120, seed=11)


def test_default_knots_recover_a_response_visible_by_four_hours(fast_course):
    fit = fit_trajectory(fast_course, time_effect="piecewise")
    assert fit.settings["knots"] == pytest.approx((4 / 24, 1.0, 7.0))
    assert "knots at 4 h, day 1 and day 7" in fit.describe()[0]
    assert not any("default knot" in line for line in fit.describe())  # every default knot fits
    fixed, se = fit.fixed["estimate"], fit.fixed["se"]
    terms = ["time_days", "time_days_after_4h", "time_days_after_1", "time_days_after_7"]
    slopes = np.cumsum([fixed[t] for t in terms])
    slope_se = np.sqrt(np.cumsum([se[t] ** 2 for t in terms]))  # a bound: the terms' covariances left out
    assert (np.abs(slopes - FAST_SLOPES) < 4 * slope_se).all(), slopes
    # the residual check passes the default and flags the former default knots (day 1 and day 7),
    # whose straight line over the first day misses the 4-hour response
    default = fit.residual_check(9, against="time")
    former = fit_trajectory(fast_course, time_effect="piecewise", knots=[1, 7]).residual_check(9, against="time")
    assert (default["mean_residual"].abs() < 0.5).all()
    assert former["mean_residual"].abs().max() > 1.5


def test_default_spline_knots_follow_the_fast_onset_curve(fast_course):
    spline = fit_trajectory(fast_course, time_effect="spline", reml=False)
    assert spline.formula.startswith("score ~ cr(time_days, knots=(0.166667, 1, 7,)")
    assert "interior knots at 4 h, day 1 and day 7" in spline.describe()[0]
    quantiles = fit_trajectory(fast_course, time_effect="spline", knots=None, reml=False)
    assert quantiles.formula == spline.formula  # None is the default
    # the mean curve at the mean baseline against the truth, at the rating times up to day 28
    curve = spline.curve(400)
    base = float(spline.frame["baseline_score"].mean())
    for days in (4 / 24, 1.0, 3.0, 7.0, 14.0, 28.0):
        fitted = np.interp(days, curve["time_days"], curve["fitted"])
        assert fitted == pytest.approx(fast_onset_mean(base, days), abs=1.0), days


def test_default_knots_without_ratings_before_them_are_left_out_not_a_rank_error():
    # a clinic rating on day 1 exactly (24 h), then days 2-28: no rating before 4 h or day 1
    data = fast_onset_course(60, seed=3, hours=FAST_VISIT_HOURS[2:])
    fit = fit_trajectory(data, time_effect="piecewise")
    assert fit.settings["knots"] == (7.0,)
    assert ("the default knots at 4 h (no rating before it), day 1 (no rating before it) left out (the ratings "
            "after baseline are at 1, 2, 3, 7, 14, 21 ...") in fit.describe()[-1]
    # given by hand, the knot at day 1 is refused in words (it was "rank deficient (4 < 5 columns)")
    with pytest.raises(ValueError, match=r"^No rating between the start and the knot at day 1 \(the ratings after "
                                         r"baseline are at 1, 2, 3, 7, 14, 21 \.\.\. days\)"):
        fit_trajectory(data, time_effect="piecewise", knots=[1, 7])
    # three rating times (4 h, day 3, day 14) for four terms: ratings on both sides of day 7, too few
    sparse = fast_onset_course(60, seed=4, hours=(4.0, 72.0, 336.0))
    with pytest.raises(ValueError, match=r"^Too few rating times between day 1 and the knot at day 7"):
        fit_trajectory(sparse, time_effect="piecewise", knots=[1, 7])
