"""trajectory and fit_trajectory: hand-computed small cases (expected values worked out in each
test or with scipy/numpy on the listed raw values), and recovery of known parameters from data
simulated here (mean at each visit; slope and group effect of the mixed model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
from analysis.contract import OutcomeData
from analysis.endpoints import derive_endpoints
from analysis.longitudinal.trajectories import (
    DEFAULT_BIN_EDGES_DAYS,
    DEFAULT_BIN_EDGES_HOURS,
    fit_trajectory,
    trajectory,
    trajectory_frame,
)
from tests.analysis.outcome_builders import make_data

# Visit labels whose alphabetical order ("d1" < "d7" < "h4" < "screen") differs from the schedule.
RATINGS = [
    ("p1", -1, 30, "screen"), ("p1", 4, 15, "h4"), ("p1", 24, 12, "d1"), ("p1", 168, 24, "d7"),
    ("p2", -2, 40, "screen"), ("p2", 4.5, 30, "h4"), ("p2", 25, 20, "d1"), ("p2", 170, 30, "d7"),
    ("p3", -1, 20, "screen"), ("p3", 3.5, 10, "h4"), ("p3", 23, 9, "d1"),
    ("p4", -1, 36, "screen"), ("p4", 4, 27, "h4"), ("p4", 24, 18, "d1"), ("p4", 168, 9, "d7"),
]
PATIENTS = pd.DataFrame({"patient_id": ["p1", "p2", "p3", "p4"], "age": [30.0, 40, 50, 60],
                         "sex": ["F", "M", "F", "M"], "diagnosis": ["TRD", "MDD", "TRD", "MDD"]})


def test_visits_in_schedule_order_with_hand_computed_statistics():
    result = trajectory(make_data(RATINGS, patients=PATIENTS))
    table = result.table
    assert list(table["time_point"]) == ["baseline", "h4", "d1", "d7"]
    assert list(table["time_order"]) == [0, 1, 2, 3]
    assert list(table["n"]) == [4, 4, 4, 3]
    assert set(table["group"]) == {"all"}
    d1 = np.array([12.0, 20, 9, 18])
    row = table.set_index("time_point").loc["d1"]
    assert row["mean"] == pytest.approx(14.75)
    assert row["sd"] == pytest.approx(np.std(d1, ddof=1))
    lower, upper = stats.t.interval(0.95, df=3, loc=d1.mean(), scale=stats.sem(d1))
    assert row["lower"] == pytest.approx(lower)
    assert row["upper"] == pytest.approx(upper)
    # R: quantile(c(12, 20, 9, 18), c(.25, .5, .75)) -> 11.25 15.00 18.50 (type 7)
    assert (row["q1"], row["median"], row["q3"]) == pytest.approx((11.25, 15.0, 18.5))
    assert row["time_hours"] == pytest.approx(np.mean([24, 25, 23, 24]))
    assert np.isnan(row["bin_start_hours"])


def test_value_change_and_percent_change_and_baseline_zero():
    data = make_data(RATINGS, patients=PATIENTS)
    change = trajectory(data, value="change").table.set_index("time_point")
    pct = trajectory(data, value="pct_change").table.set_index("time_point")
    improvement = trajectory(data, value="improvement_pct").table.set_index("time_point")
    assert change.loc["baseline", "mean"] == 0 and change.loc["baseline", "sd"] == 0
    # h4 changes: -15, -10, -10, -9 ; percent: -50, -25, -50, -25
    assert change.loc["h4", "mean"] == pytest.approx(-11.0)
    assert pct.loc["h4", "mean"] == pytest.approx(-37.5)
    assert improvement.loc["h4", "mean"] == pytest.approx(37.5)


def test_groups_and_individual_table():
    result = trajectory(make_data(RATINGS, patients=PATIENTS), by="sex")
    table = result.table
    assert list(dict.fromkeys(table["group"])) == ["F", "M"]
    f_d7 = table[(table["group"] == "F") & (table["time_point"] == "d7")]
    assert f_d7["n"].item() == 1 and f_d7["mean"].item() == 24
    assert np.isnan(f_d7["lower"].item())  # a t interval needs two patients
    ind = result.individual
    assert {"patient_id", "group", "time_point", "time_hours", "time_days", "value"} <= set(ind.columns)
    assert len(ind) == len(RATINGS)
    assert ind.loc[ind["patient_id"] == "p2", "group"].unique().tolist() == ["M"]
    np.testing.assert_allclose(ind["time_days"], ind["time_hours"] / 24)
    assert result.summary().index.names == ["group", "time_point"]


def test_binned_hours_average_within_bin_and_right_closed_edges():
    ratings = [
        ("a", -1, 30, None), ("a", 1, 24, None), ("a", 2, 18, None), ("a", 4, 15, None),
        ("b", -1, 40, None), ("b", 2, 30, None), ("b", 4, 20, None),
    ]
    result = trajectory(make_data(ratings), time="hours", bins=[0, 2, 4])
    table = result.table.set_index("time_point")
    assert list(table.index) == ["baseline", "(0, 2] h", "(2, 4] h"]
    # patient a has 1 h and 2 h in (0, 2]: mean 21; b has 2 h (edge belongs to the lower bin): 30
    assert table.loc["(0, 2] h", "n"] == 2
    assert table.loc["(0, 2] h", "mean"] == pytest.approx((21 + 30) / 2)
    assert table.loc["(2, 4] h", "bin_start_hours"] == 2 and table.loc["(2, 4] h", "bin_end_hours"] == 4
    assert result.settings.bin_edges == (0.0, 2.0, 4.0)
    assert result.n_dropped == 0


def test_days_default_bins_and_outside_bins_dropped():
    data = make_data(RATINGS, patients=PATIENTS)
    days = trajectory(data, time="days")
    assert "time_days" in days.table.columns and "bin_start_days" in days.table.columns
    assert days.settings.bin_edges == DEFAULT_BIN_EDGES_DAYS
    hours = trajectory(data, time="hours")
    assert hours.settings.bin_edges == DEFAULT_BIN_EDGES_HOURS
    assert list(hours.table["time_point"]) == ["baseline", "(2.5, 6] h", "(12, 36] h", "(132, 204] h"]
    assert days.table.set_index("time_point").loc["(5.5, 8.5] d", "n"] == 3
    narrow = trajectory(data, time="hours", bins=[0, 30])
    assert narrow.n_dropped == 3  # the day-7 ratings fall outside (0, 30]
    quantile = trajectory(data, time="hours", bins=2)
    assert quantile.table["n"].iloc[0] == 4 and len(quantile.table) == 3


def test_endpoints_input_equals_data_input_and_options_are_checked():
    data = make_data(RATINGS, patients=PATIENTS)
    ep = derive_endpoints(data, response=0.4)
    pd.testing.assert_frame_equal(trajectory(ep).table, trajectory(data, response=0.4).table)
    with pytest.raises(ValueError, match="already derived"):
        trajectory(ep, response=0.5)
    with pytest.raises(ValueError, match="time='hours'"):
        trajectory(make_data([(p, t, s, None) for p, t, s, _ in RATINGS]), time="visit")
    with pytest.raises(ValueError, match="Cannot group by 'nope'"):
        trajectory(data, by="nope")
    with pytest.raises(ValueError, match="value must be"):
        trajectory(data, value="points")


def test_public_api_resolves():
    assert analysis.trajectory is trajectory
    assert analysis.fit_trajectory is fit_trajectory


# ---------------------------------------------------------------------------------------------
# recovery on data simulated here with known truth

def simulate_course(n_patients: int, seed: int, group_effect_per_day: float = -0.5) -> tuple[OutcomeData, dict]:
    """Scores = 10 + 0.6 * baseline + slope * day (+ group effect on the slope) + random
    intercept (SD 3) and slope (SD 0.5 / day) + noise (SD 2); visits at day 1, 3, 7, 14."""
    rng = np.random.default_rng(seed)
    truth = {"Intercept": 10.0, "baseline_score": 0.6, "time_days": -0.5,
             "C(arm)[T.b]": 0.0, "C(arm)[T.b]:time_days": group_effect_per_day}
    ids = [f"s{i:04d}" for i in range(n_patients)]
    group = np.where(np.arange(n_patients) % 2 == 0, "a", "b")
    baseline = rng.integers(25, 45, n_patients).astype(float)
    u0 = rng.normal(0, 3, n_patients)
    u1 = rng.normal(0, 0.5, n_patients)
    rows = [(pid, -1.0, b, "baseline") for pid, b in zip(ids, baseline, strict=True)]
    for day in (1, 3, 7, 14):
        slope = truth["time_days"] + (group == "b") * group_effect_per_day + u1
        mean = truth["Intercept"] + truth["baseline_score"] * baseline + slope * day + u0
        score = np.clip(np.round(mean + rng.normal(0, 2, n_patients)), 1, 60)
        rows += [(pid, 24.0 * day, s, f"day {day}") for pid, s in zip(ids, score, strict=True)]
    patients = pd.DataFrame({"patient_id": ids, "age": rng.normal(45, 10, n_patients), "sex": "F",
                             "diagnosis": "TRD", "arm": group})
    return make_data(rows, patients=patients), truth


def test_trajectory_means_recover_known_visit_means():
    data, truth = simulate_course(1500, seed=3, group_effect_per_day=0.0)
    table = trajectory(data, value="score").table.set_index("time_point")
    baseline_mean = 34.5  # integers 25..44 uniformly
    for day in (1, 7):
        expected = truth["Intercept"] + truth["baseline_score"] * baseline_mean + truth["time_days"] * day
        row = table.loc[f"day {day}"]
        # standard error of a mean of 1500 patients is about 0.2 points; allow 4 SE
        assert abs(row["mean"] - expected) < 4 * row["se"] + 0.05
        assert row["lower"] < row["mean"] < row["upper"]


def test_fit_trajectory_builds_the_documented_model_and_recovers_truth():
    data, truth = simulate_course(400, seed=11)
    fit = fit_trajectory(data, by="arm")
    assert fit.formula == "score ~ time_days + baseline_score + C(arm) + C(arm):time_days"
    assert fit.random == "~time_days"
    assert fit.n_patients == 400 and fit.n_ratings == 1600
    fixed = fit.fixed
    for term in ("baseline_score", "time_days", "C(arm)[T.b]:time_days"):
        assert fixed.loc[term, "lower"] < truth[term] < fixed.loc[term, "upper"], term
    assert abs(fixed.loc["C(arm)[T.b]:time_days", "estimate"] - truth["C(arm)[T.b]:time_days"]) < 0.2
    # same numbers as calling mixed_model on the documented frame and formula
    from analysis.longitudinal.mixed_models import mixed_model

    frame = trajectory_frame(derive_endpoints(data), by="arm")
    direct = mixed_model(frame, fit.formula, groups="patient_id", random="~time_days")
    pd.testing.assert_frame_equal(fixed, direct.fixed)


def test_fit_trajectory_covariates_hours_and_random_intercept():
    data, _ = simulate_course(60, seed=5)
    fit = fit_trajectory(data, covariates=["age"], time_unit="hours", random="~1")
    assert fit.formula == "score ~ time_hours + baseline_score + age"
    assert fit.random == "~1"
    assert list(fit.fixed.index) == ["Intercept", "time_hours", "baseline_score", "age"]
    assert {"patient_id", "score", "time_hours", "baseline_score", "age"} <= set(fit.frame.columns)
    with pytest.raises(ValueError, match="Unknown covariate"):
        fit_trajectory(data, covariates=["weight"])
    with pytest.raises(ValueError, match="random must be"):
        fit_trajectory(data, random="~age")


# R 4.2, lme4, on trajectory_frame(derive_endpoints(simulate_course(60, seed=21)[0]), by="arm")
# written to CSV:
#   fit <- lmer(score ~ time_days + baseline_score + arm + arm:time_days + (time_days | patient_id),
#               data = d, REML = TRUE)
#   print(summary(fit)$coefficients, digits = 10); print(REMLcrit(fit), digits = 12)
R_LME4 = {  # term: (estimate, se)
    "Intercept": (10.6108393444, 2.29446702761),
    "time_days": (-0.6367088608, 0.09117629930),
    "baseline_score": (0.5838426768, 0.06140805495),
    "C(arm)[T.b]": (-0.7928559366, 0.70079764149),
    "C(arm)[T.b]:time_days": (-0.3343459916, 0.12894275903),
}
R_REML_CRITERION = 1226.78518398


def test_fit_trajectory_matches_lme4():
    data, _ = simulate_course(60, seed=21)
    fit = fit_trajectory(data, by="arm")
    for term, (estimate, se) in R_LME4.items():
        assert fit.fixed.loc[term, "estimate"] == pytest.approx(estimate, rel=1e-4), term
        assert fit.fixed.loc[term, "se"] == pytest.approx(se, rel=1e-4), term
    assert fit.model.minus2_loglik == pytest.approx(R_REML_CRITERION, rel=1e-6)


def test_trajectory_baseline_recovers_simulated_latent_baseline():
    data = analysis.simulate(300, seed=6)
    baseline = trajectory(data, time="days").table.set_index("time_point").loc["baseline"]  # courses pooled
    latent = data.truth.latent["baseline_true"].to_numpy()
    # observed = latent + N(0, noise_sd) rounded: the means differ by about noise_sd / sqrt(n)
    assert baseline["n"] == 300
    assert abs(baseline["mean"] - latent.mean()) < 4 * data.truth.noise_sd / np.sqrt(300) + 0.05
    assert baseline["lower"] < latent.mean() + 0.5 and baseline["upper"] > latent.mean() - 0.5


def test_quantile_bins_with_a_single_post_baseline_time():
    ratings = [("a", -1, 30, None), ("a", 24, 15, None), ("b", -1, 20, None), ("b", 24, 12, None)]
    result = trajectory(make_data(ratings), time="hours", bins=3)
    assert result.settings.bin_edges == (0.0, 24.0)
    assert list(result.table["n"]) == [2, 2] and result.n_dropped == 0


def test_fit_trajectory_time_since_the_most_recent_infusion():
    """Two infusions (0 h and 168 h), ratings 4 h and 24 h after each: time since the most
    recent infusion is 4, 24, 4, 24 h (worked out by hand), and the fit equals mixed_model on
    that frame built here."""
    rng = np.random.default_rng(8)
    ratings, infusions, rows = [], [], []
    for i in range(30):
        pid = f"p{i:02d}"
        baseline = float(rng.integers(26, 40))
        ratings.append((pid, -1.0, baseline, "base"))
        infusions += [(pid, 1, 0.0), (pid, 2, 168.0)]
        for hours, since in ((4.0, 4.0), (24.0, 24.0), (172.0, 4.0), (192.0, 24.0)):
            score = float(np.clip(np.round(baseline - 6 - 0.2 * since + rng.normal(0, 3)), 0, 60))
            ratings.append((pid, hours, score, f"h{hours:g}"))
            rows.append({"patient_id": pid, "score": score, "time_hours": since, "baseline_score": baseline})
    data = make_data(ratings, infusions=infusions)
    fit = fit_trajectory(data, time_unit="hours", time_origin="last_infusion", random="~1")
    expected = pd.DataFrame(rows)
    fitted = fit.frame.sort_values(["patient_id", "time_hours", "score"]).reset_index(drop=True)
    by_hand = expected.sort_values(["patient_id", "time_hours", "score"]).reset_index(drop=True)
    np.testing.assert_allclose(fitted["time_hours"], by_hand["time_hours"])
    np.testing.assert_allclose(fitted["score"], by_hand["score"])
    from analysis.longitudinal.mixed_models import mixed_model

    direct = mixed_model(expected, "score ~ time_hours + baseline_score", groups="patient_id", random="~1")
    pd.testing.assert_frame_equal(fit.fixed, direct.fixed)
    assert "since the most recent infusion" in fit.describe()[0]
    since_first = fit_trajectory(data, time_unit="hours", random="~1")
    assert since_first.frame["time_hours"].max() == 192.0
    with pytest.raises(ValueError, match="time_origin"):
        fit_trajectory(data, time_origin="response")


# Five patients, two with a baseline of 0 (normal for a scale such as CADSS): hand counts.
ZERO_BASELINE = [row for pid, base, day1, day7 in [("z1", 30, 15, 20), ("z2", 0, 4, 6), ("z3", 20, 10, 12),
                                                   ("z4", 0, 2, 1), ("z5", 10, 5, 8)]
                 for row in [(pid, -1.0, base, "baseline"), (pid, 24.0, day1, "day 1"), (pid, 168.0, day7, "day 7")]]


def test_baseline_zero_patients_stay_in_raw_score_and_change_trajectories():
    data = make_data(ZERO_BASELINE)
    score = trajectory(data, value="score").table.set_index("time_point")
    assert score["n"].tolist() == [5, 5, 5]
    assert score["mean"].tolist() == pytest.approx([12.0, 36 / 5, 47 / 5])  # (15+4+10+2+5)/5, ...
    change = trajectory(data, value="change").table.set_index("time_point")
    assert change["n"].tolist() == [5, 5, 5]
    assert change.loc["day 1", "mean"] == pytest.approx((-15 + 4 - 10 + 2 - 5) / 5)
    result = trajectory(data, value="score")
    assert result.n_patients == 5
    assert result.notes == ("2 patient(s) with a baseline MADRS score of 0 included (raw scores and change "
                            "need no division by the baseline)",)


def test_percent_views_leave_baseline_zero_out_and_say_how_many():
    result = trajectory(make_data(ZERO_BASELINE), value="pct_change")
    assert result.table["n"].tolist() == [3, 3, 3]
    assert result.table.set_index("time_point").loc["day 1", "mean"] == pytest.approx(-50.0)
    assert result.notes == ("2 patient(s) with a baseline MADRS score of 0 left out: percent change from a "
                            "baseline of 0 is undefined",)
    assert "Note: 2 patient(s) with a baseline MADRS score of 0 left out" in " ".join(result.describe())


def test_endpoints_input_says_that_baseline_zero_patients_are_missing():
    result = trajectory(derive_endpoints(make_data(ZERO_BASELINE)), value="score")
    assert result.table["n"].tolist() == [3, 3, 3]
    assert result.notes[0].startswith("2 patient(s) with a baseline MADRS score of 0 are not in these Endpoints; "
                                      "pass the OutcomeData")


def test_missing_baseline_and_missing_scale_messages():
    no_baseline = make_data([(p, t, 20, v) for p in ("a", "b") for t, v in ((24.0, "day 1"), (168.0, "day 7"))])
    for function in (trajectory, fit_trajectory):
        with pytest.raises(ValueError, match=r"^No patient has a MADRS baseline \(no baseline: no MADRS "
                                             r"total-score rating at or before the start of the first infusion\)"):
            function(no_baseline)
    sample = analysis.load_sample()
    with pytest.raises(ValueError, match=r"^A trajectory needs a depression scale and the data has no PHQ-9 "
                                         r"total-score ratings; it has MADRS, QIDS-SR16: choose one with "
                                         r'instrument="MADRS"\.$'):
        trajectory(sample, instrument="PHQ-9")


def test_random_effects_recover_the_simulated_standard_deviations():
    """simulate_course draws a random intercept with SD 3 and a slope with SD 0.5 per day,
    independent: the table reads them back as lme4's VarCorr would print them."""
    data, _ = simulate_course(1500, seed=5, group_effect_per_day=0.0)
    table = fit_trajectory(data).random_effects().set_index("random_effect")
    assert table.loc["Intercept (points)", "sd"] == pytest.approx(3.0, abs=0.35)
    assert table.loc["Slope on time (points per day)", "sd"] == pytest.approx(0.5, abs=0.05)
    assert abs(table.loc["Slope on time (points per day)", "correlation"]) < 0.15
    assert np.isnan(table.loc["Intercept (points)", "correlation"])
