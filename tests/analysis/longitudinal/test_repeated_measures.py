"""fit_mmrm: the usual MMRM of change from baseline built from OutcomeData.

References: the visit-selection rule and analysis rows are checked on hand-made ratings; the fit
must equal :func:`analysis.mmrm` (itself validated against SAS PROC MIXED and nlme) on a frame
built independently here from the raw ratings; and least-squares mean differences must recover
group effects simulated here with known truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import analysis
from analysis.contract import OutcomeData
from analysis.endpoints import derive_endpoints
from analysis.longitudinal.repeated_measures import fit_mmrm, mmrm_frame, select_visits
from tests.analysis.outcome_builders import make_data

# Six patients. Alphabetical order of the labels (d1 < d14 < d7 < h4) differs from the schedule.
# Attendance: h4 6/6, d1 5/6, d7 3/6 (exactly half), d14 2/6. p1 is rated twice at "d1".
RATINGS = [
    ("p1", -1, 30, "screen"), ("p1", 4, 20, "h4"), ("p1", 24, 18, "d1"), ("p1", 30, 16, "d1"),
    ("p1", 168, 14, "d7"), ("p1", 336, 12, "d14"),
    ("p2", -1, 32, "screen"), ("p2", 4, 25, "h4"), ("p2", 24, 20, "d1"), ("p2", 168, 22, "d7"),
    ("p2", 336, 24, "d14"),
    ("p3", -1, 28, "screen"), ("p3", 4, 20, "h4"), ("p3", 24, 15, "d1"), ("p3", 168, 10, "d7"),
    ("p4", -1, 35, "screen"), ("p4", 4, 30, "h4"), ("p4", 24, 25, "d1"),
    ("p5", -1, 26, "screen"), ("p5", 4, 20, "h4"), ("p5", 24, 14, "d1"),
    ("p6", -1, 30, "screen"), ("p6", 4, 29, "h4"),
]


def test_visit_selection_rule_attendance_cap_and_schedule_order():
    endpoints = derive_endpoints(make_data(RATINGS))
    # the attendance rule (target_days=None)
    by_attendance = {"target_days": None}
    assert select_visits(endpoints, **by_attendance) == ["h4", "d1", "d7"]  # d7 by exactly half is kept, d14 not
    assert select_visits(endpoints, max_visits=2, **by_attendance) == ["h4", "d1"]  # the two most attended
    assert select_visits(endpoints, min_attendance=0.6, **by_attendance) == ["h4", "d1"]
    assert select_visits(endpoints, min_attendance=0.0, **by_attendance) == ["h4", "d1", "d7", "d14"]
    with pytest.raises(ValueError, match="max_visits"):
        select_visits(endpoints, max_visits=0)
    # the default: the visits nearest day 1, 7, 14 and 28 (h4 is an onset visit, not a follow-up one;
    # d14 was attended by 2 of 6 patients, under half; nothing is near day 28)
    assert select_visits(endpoints) == ["d1", "d7"]
    assert select_visits(endpoints, min_attendance=0.0) == ["d1", "d7", "d14"]


def test_default_visits_follow_the_largest_course_and_say_who_attended():
    data = analysis.load_sample()
    fit = fit_mmrm(data)
    # the sample's single-infusion schedule (198 of 300 patients): day 1, 7, 14, 28 -- not the
    # 40-230 min onset visits, and no series label interleaved
    assert fit.visits == ("day 1", "day 7", "day 14", "day 28")
    attendance = fit.attendance.set_index("visit")
    assert (attendance["series"] == 0).all()
    expected = (fit.frame.groupby("visit", observed=True)["patient_id"].nunique())
    assert attendance["patients"].to_dict() == {str(k): int(v) for k, v in expected.items()}
    assert "Patients rated at each visit: day 1: 165 (single 165, series 0)" in fit.describe()[1]
    residuals = fit.residuals()
    assert len(residuals) == fit.n_ratings
    np.testing.assert_allclose(residuals["change"] - residuals["fitted"], residuals["residual"])


def test_analysis_rows_keep_the_last_rating_of_a_repeated_visit():
    endpoints = derive_endpoints(make_data(RATINGS))
    frame = mmrm_frame(endpoints, ["h4", "d1", "d7"])
    assert len(frame) == 6 + 5 + 3
    assert list(frame["visit"].cat.categories) == ["h4", "d1", "d7"]
    p1 = frame[frame["patient_id"] == "p1"].set_index("visit")["change"]
    assert p1.loc["d1"] == 16 - 30  # the later of the two "d1" ratings
    assert p1.loc["h4"] == 20 - 30
    assert set(frame["baseline_score"][frame["patient_id"] == "p4"]) == {35.0}
    with pytest.raises(ValueError, match="visit label"):
        mmrm_frame(endpoints, ["h4", "week 2"])
    with pytest.raises(ValueError, match="Cannot group by"):
        mmrm_frame(endpoints, ["h4", "d1"], by="change")


def _simulated(n_per_group: int = 200, seed: int = 3) -> tuple[OutcomeData, dict[str, np.ndarray]]:
    """Two arms (sex F/M as the grouping), visits h4, d1, d7; true mean change per visit and
    arm, no dependence on baseline; a random intercept makes visits correlated; some dropout."""
    rng = np.random.default_rng(seed)
    truth = {"F": np.array([-6.0, -10.0, -12.0]), "M": np.array([-9.0, -14.0, -12.0])}
    rows, patients = [], []
    for arm in ("F", "M"):
        for i in range(n_per_group):
            pid = f"{arm}{i:03d}"
            baseline = float(np.clip(np.round(rng.normal(32, 4)), 22, 45))
            rows.append((pid, -1.0, baseline, "screen"))
            level = rng.normal(0, 3)
            for j, (hours, label) in enumerate(((4.0, "h4"), (24.0, "d1"), (168.0, "d7"))):
                if j == 2 and rng.random() < 0.2:
                    continue  # dropout at day 7, completely at random
                score = np.clip(np.round(baseline + truth[arm][j] + level + rng.normal(0, 2)), 0, 60)
                rows.append((pid, hours, float(score), label))
            patients.append({"patient_id": pid, "age": 40.0, "sex": arm, "diagnosis": "TRD"})
    return make_data(rows, patients=pd.DataFrame(patients)), truth


@pytest.fixture(scope="module")
def simulated():
    return _simulated()


def test_fit_equals_mmrm_on_a_frame_built_by_hand(simulated):
    data, _ = simulated
    fit = fit_mmrm(data, by="sex", target_days=None)  # all three visits
    # the same analysis rows built here directly from the raw ratings
    a = data.assessments
    baseline = a[a["time_hours"] < 0].set_index("patient_id")["score"]
    post = a[a["time_hours"] > 0]
    frame = pd.DataFrame({
        "patient_id": post["patient_id"].astype(str).to_numpy(),
        "visit": pd.Categorical(post["visit"].astype(str), categories=["h4", "d1", "d7"], ordered=True),
        "change": (post["score"] - post["patient_id"].map(baseline)).to_numpy(float),
        "baseline_score": post["patient_id"].map(baseline).to_numpy(float),
        "sex": post["patient_id"].str[0].astype(str).to_numpy(),
    })
    formula = ("change ~ C(visit) + baseline_score + baseline_score:C(visit) + C(sex) + "
               "C(sex):C(visit)")
    assert fit.formula == formula
    assert fit.visits == ("h4", "d1", "d7")
    direct = analysis.mmrm(frame, formula, subject="patient_id", visit="visit")
    assert_allclose(fit.fixed[["estimate", "se", "df"]].to_numpy(),
                    direct.fixed[["estimate", "se", "df"]].to_numpy(), rtol=1e-8)
    assert fit.model.loglik == pytest.approx(direct.loglik, rel=1e-10)
    ours = fit.lsmeans()
    assert_allclose(ours["estimate"], direct.lsmeans("sex")["estimate"], rtol=1e-8)
    assert set(ours["patients"]) == {200}
    assert fit.n_patients == 400 and fit.n_ratings == len(frame)


def test_lsmean_differences_recover_simulated_group_effects(simulated):
    data, truth = simulated
    fit = fit_mmrm(data, by="sex", target_days=None)
    diff = fit.lsmean_differences().set_index("visit")
    expected = truth["M"] - truth["F"]  # M minus the reference F
    assert list(diff["sex"]) == ["M"] * 3
    z = (diff.loc[["h4", "d1", "d7"], "estimate"].to_numpy() - expected) / diff["se"].to_numpy()
    assert np.all(np.abs(z) < 4)
    # the ~0.36-point SE at n = 200 per arm makes the 3- and 4-point differences unmistakable
    assert np.all(diff.loc[["h4", "d1"], "p"] < 1e-6)
    means = fit.lsmeans().set_index(["visit", "sex"])
    assert means.loc[("d1", "F"), "estimate"] == pytest.approx(-10.0, abs=4 * means.loc[("d1", "F"), "se"])
    # baseline has no effect in the truth: its coefficient is near 0
    assert abs(fit.fixed.loc["baseline_score", "estimate"]) < 4 * fit.fixed.loc["baseline_score", "se"]


def test_options_visits_structures_and_errors(simulated):
    data, _ = simulated
    plain = fit_mmrm(data, visits=["d1", "d7"], covariance="compound_symmetry", baseline_by_visit=False)
    assert plain.formula == "change ~ C(visit) + baseline_score"
    assert plain.visits == ("d1", "d7")
    assert list(plain.model.covariance.index) == ["d1", "d7"]
    assert plain.by is None
    assert "visit" in plain.lsmeans().columns and "patients" not in plain.lsmeans().columns
    with pytest.raises(ValueError, match="No groups"):
        plain.lsmean_differences()
    assert "compound symmetry" in plain.describe()[0]
    with pytest.raises(ValueError, match="at least two"):
        fit_mmrm(data, visits=["d1"])
    with pytest.raises(ValueError, match="repeat"):
        fit_mmrm(data, visits=["d1", "d1"])
    # endpoints in, same fit as data in
    endpoints = derive_endpoints(data)
    assert_allclose(fit_mmrm(endpoints).fixed["estimate"], fit_mmrm(data).fixed["estimate"], rtol=1e-10)


def test_public_api():
    assert analysis.fit_mmrm is fit_mmrm


def test_visits_without_a_baseline_say_no_baseline_not_no_visit_labels():
    # visit labels exist, but every rating is after the first infusion: the problem is the baseline
    data = make_data([(p, t, s, v) for p, s in (("a", 20), ("b", 25), ("c", 30))
                      for t, v in ((24.0, "day 1"), (168.0, "day 7"), (336.0, "day 14"))])
    with pytest.raises(ValueError) as error:
        fit_mmrm(data)
    message = str(error.value)
    assert message.startswith("No patient has a MADRS baseline (no baseline:")
    assert "an MMRM of change from baseline cannot be computed" in message
    assert "visit labels" not in message


def test_group_column_that_is_also_a_model_variable_gets_its_own_name():
    fit = fit_mmrm(analysis.load_sample(), by="baseline_score")
    assert "baseline_score_group" in fit.frame.columns and fit.by == "baseline_score_group"
    assert fit.settings["reference"] == fit.frame["baseline_score_group"].cat.categories[0]


def _with_zero_baselines():
    """12 patients, the first 3 with a MADRS baseline of 0; visits day 1, 7 and 14."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(12):
        base = 0 if i < 3 else 20 + i
        rows += [(f"z{i}", -1.0, base, "baseline")]
        rows += [(f"z{i}", hours, round(base * f) + int(rng.integers(0, 4)), visit)
                 for hours, f, visit in ((24.0, 0.5, "day 1"), (168.0, 0.7, "day 7"), (336.0, 0.8, "day 14"))]
    patients = pd.DataFrame({"patient_id": [f"z{i}" for i in range(12)], "age": np.arange(12) * 3 + 20.0,
                             "sex": "F", "diagnosis": "TRD"})
    return make_data(rows, patients=patients)


def test_change_models_keep_patients_whose_baseline_is_zero():
    data = _with_zero_baselines()
    fit = fit_mmrm(data)
    assert fit.n_patients == 12 and fit.n_ratings == 36
    assert fit.settings["notes"][0].startswith("3 patient(s) with a baseline MADRS score of 0 included")
    assert fit_mmrm(derive_endpoints(data)).n_patients == 9
    model = analysis.fit_trajectory(data, covariates=["age"])
    assert model.n_patients == 12
    # a baseline of 0 divides nothing: the model on the clock of the most recent infusion keeps all 12
    model = analysis.fit_trajectory(data, time_origin="last_infusion")
    assert model.n_patients == 12 and model.n_ratings == 36
    assert model.settings["notes"][0].startswith("3 patient(s) with a baseline MADRS score of 0 included")
    # their clock follows derive_endpoints' rule: no infusion record = the assumed infusion at 0 h,
    # so the time since the most recent infusion equals the time since the first (1, 7, 14 days)
    zero = model.frame[model.frame["patient_id"].isin(["z0", "z1", "z2"])]
    assert sorted(zero["time_days"].unique()) == [1.0, 7.0, 14.0]
    # and, for patients with a positive baseline, the same numbers derive_endpoints gives
    derived = derive_endpoints(data).ratings
    post = derived[~derived["is_baseline"]]
    from analysis.longitudinal.trajectories import hours_since_last_infusion
    np.testing.assert_allclose(hours_since_last_infusion(post, data.infusions),
                               post["hours_since_infusion"].to_numpy(float))
    # percent views still leave them out and say how many
    assert analysis.trajectory(data, value="pct_change").n_patients == 9


def test_percent_based_rates_say_how_many_baseline_zero_patients_they_leave_out():
    rates = analysis.responder_rates(_with_zero_baselines(), time="any")
    assert rates.table["n"].tolist() == [9, 9]
    assert rates.notes == ("3 patient(s) with a baseline MADRS score of 0 left out: response is a percent change "
                           "from baseline, undefined for a baseline of 0",)


def test_schedule_and_mmrm_share_rows_per_dataset_not_across_datasets():
    """visit_schedule and fit_mmrm reuse one pass over the ratings per (dataset, endpoints): the
    second call equals a fresh computation, and another dataset (fewer patients) is not served
    the first one's rows."""
    from analysis.longitudinal import repeated_measures

    full = make_data(RATINGS)
    schedule = analysis.visit_schedule(full, target_days=None)
    repeated_measures._VISIT_ROWS.clear()
    fresh = analysis.visit_schedule(full, target_days=None)
    pd.testing.assert_frame_equal(schedule, fresh)
    assert analysis.visit_schedule(full, target_days=None)["patients"].tolist() == [6, 5, 3, 2]
    smaller = make_data([r for r in RATINGS if r[0] not in ("p1", "p2")])
    assert analysis.visit_schedule(smaller, target_days=None)["patients"].tolist() == [4, 3, 1]
    first = analysis.fit_mmrm(full, visits=["h4", "d1"], covariance="compound_symmetry")
    repeated_measures._VISIT_ROWS.clear()
    again = analysis.fit_mmrm(full, visits=["h4", "d1"], covariance="compound_symmetry")
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert_allclose(first.model.fixed["estimate"], again.model.fixed["estimate"], rtol=1e-12)
