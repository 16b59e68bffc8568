"""fit_onset: the cure model, curves, group tests and small groups; parameter recovery on data
with known onset (a numpy generator here, analysis.simulate in test_recovery below)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.onset import fit_onset
from benchmarks.bench_endpoints import numpy_dataset


def known_onset_data(n: int, seed: int, p_response: float, median_hours: float, shape: float,
                     diagnosis: np.ndarray | None = None):
    """One infusion at 0, ratings at 1, 2, 3, 4, 6, 8, 12, 24, 48, 72 h; a fraction
    ``p_response`` respond at a Weibull time with the given median and shape and stay in
    response; others never respond."""
    rng = np.random.default_rng(seed)
    visits = np.array([1, 2, 3, 4, 6, 8, 12, 24, 48, 72], dtype=float)
    scale = median_hours / np.log(2) ** (1 / shape)
    onset = np.where(rng.random(n) < p_response, scale * rng.weibull(shape, n), np.inf)
    base = rng.integers(25, 40, n).astype(float)
    pid = np.repeat(np.arange(n), len(visits) + 1)
    t = np.tile(np.r_[-1.0, visits], n)
    score = np.where(t >= onset[pid], np.floor(base[pid] * 0.4), np.ceil(base[pid] * 0.8))
    score[t < 0] = base[pid][t < 0]
    ids = np.char.add("Q", np.arange(n).astype(str)).astype(object)
    from analysis.contract import OutcomeData

    a = pd.DataFrame({"patient_id": pd.array(ids[pid], dtype="string"),
                      "instrument": pd.array(["MADRS"] * len(t), dtype="string"),
                      "item": pd.array([pd.NA] * len(t), dtype="Int64"), "score": score, "time_hours": t,
                      "visit": pd.array([pd.NA] * len(t), dtype="string"),
                      "infusion_number": pd.array([pd.NA] * len(t), dtype="Int64"),
                      "source_row": np.arange(1, len(t) + 1)})
    i = pd.DataFrame({"patient_id": pd.array(ids, dtype="string"), "infusion_number": 1,
                      "time_hours": 0.0, "dose_mg_per_kg": 0.5, "route": pd.array(["IV"] * n, dtype="string"),
                      "duration_min": 40.0})
    diag = diagnosis if diagnosis is not None else np.array(["TRD"] * n, dtype=object)
    p = pd.DataFrame({"patient_id": pd.array(ids, dtype="string"), "age": 40.0,
                      "sex": pd.array(["F"] * n, dtype="string"), "diagnosis": pd.array(diag, dtype="string")})
    return OutcomeData(a, i, p)


def test_recovers_known_cure_model():
    n, p, median = 800, 0.6, 4.0
    fit = fit_onset(known_onset_data(n, seed=11, p_response=p, median_hours=median, shape=1.5))
    row = fit.summary().loc["all"]
    se_p = np.sqrt(p * (1 - p) / n)
    assert row["response_probability"] == pytest.approx(p, abs=4 * se_p)
    assert row["response_probability_lower"] < p < row["response_probability_upper"]
    # the median among ~480 responders has a relative SE of roughly 1/sqrt(480) * 1.2
    assert row["median_onset_hours"] == pytest.approx(median, rel=4 * 1.2 / np.sqrt(n * p))
    assert row["median_onset_hours_lower"] < row["median_onset_hours"] < row["median_onset_hours_upper"]
    # by 4 h, half of the responders: p / 2 of all patients
    assert row["responding_by_4h"] == pytest.approx(p / 2, abs=4 * se_p)
    assert row["responders"] <= row["n"] == n
    assert fit.test is None and fit.settings.response == 0.5


def test_curves_are_cumulative_and_banded():
    fit = fit_onset(numpy_dataset(600, seed=5))
    curve = fit.curve
    assert set(curve["source"]) == {"turnbull", "model", "kaplan_meier"}
    for _, g in curve.groupby("source"):
        c = g["cumulative_response"].to_numpy()
        assert np.all(np.diff(c) >= -1e-12) and np.all((c >= 0) & (c <= 1))
    model = curve[curve["source"] == "model"]
    assert (model["lower"] <= model["cumulative_response"] + 1e-12).all()
    assert (model["cumulative_response"] <= model["upper"] + 1e-12).all()
    # the model's plateau and the Turnbull end point both estimate the responders' share
    row = fit.summary().loc["all"]
    turnbull_end = curve[curve["source"] == "turnbull"]["cumulative_response"].max()
    assert row["response_probability"] == pytest.approx(turnbull_end, abs=0.05)


def test_group_difference_detected_and_not_invented():
    n = 600
    diag = np.where(np.arange(n) % 2 == 0, "MDD", "TRD").astype(object)
    # same onset, very different response probability -> LR test rejects
    a = known_onset_data(n, seed=2, p_response=0.7, median_hours=4.0, shape=1.5, diagnosis=diag)
    b = known_onset_data(n, seed=3, p_response=0.3, median_hours=4.0, shape=1.5, diagnosis=diag)
    assessments = pd.concat([a.assessments[a.assessments["patient_id"].isin(a.patients["patient_id"][diag == "MDD"])],
                             b.assessments[b.assessments["patient_id"].isin(b.patients["patient_id"][diag == "TRD"])]])
    mixed = type(a)(assessments.reset_index(drop=True), a.infusions, a.patients)
    fit = fit_onset(mixed, by="diagnosis")
    s = fit.summary()
    assert s.loc["MDD", "response_probability"] > s.loc["TRD", "response_probability"]
    test = fit.test.set_index("test")
    assert test.loc["likelihood_ratio_cure", "p_value"] < 1e-6
    assert test.loc["likelihood_ratio_cure", "dof"] == 3
    same = fit_onset(a, by="diagnosis").test.set_index("test")
    assert same.loc["likelihood_ratio_cure", "p_value"] > 1e-4


def test_small_group_gives_nan_row_with_note():
    data = known_onset_data(120, seed=4, p_response=0.6, median_hours=4.0, shape=1.5)
    patients = data.patients.copy()
    patients["site"] = np.where(np.arange(len(patients)) < 4, "tiny", "main")
    fit = fit_onset(type(data)(data.assessments, data.infusions, patients), by="site")
    s = fit.summary()
    assert s.loc["tiny", "n"] == 4 and np.isnan(s.loc["tiny", "response_probability"])
    assert "too few" in s.loc["tiny", "note"]
    assert not np.isnan(s.loc["main", "response_probability"])
    assert np.isnan(fit.test.set_index("test").loc["likelihood_ratio_cure", "p_value"])


def test_auto_distribution_and_units():
    data = known_onset_data(300, seed=8, p_response=0.6, median_hours=4.0, shape=1.5)
    fit = fit_onset(data, dist="auto")
    assert fit.dist in ("weibull", "loglogistic", "lognormal")
    assert any("AIC" in note for note in fit.notes)
    assert "time_hours" in fit.curve.columns


# ----------------------------------------------------------------------------------------------
# recovery on analysis.simulate (known truth)

HOMOGENEOUS = {"series_fraction": 0.0, "route_probabilities": {"IV": 1.0},
               "dose_probabilities": {0.5: 1.0}, "items": False}


def _within(estimate, lower, upper, truth, k=4.0):
    """|estimate - truth| <= k standard errors, the SE read off the 95% interval (on the log
    scale for positive quantities)."""
    se = (np.log(upper) - np.log(lower)) / (2 * 1.96)
    return abs(np.log(estimate) - np.log(truth)) <= k * se


def test_recovers_simulated_truth():
    simulation = pytest.importorskip("analysis.simulation")
    data = simulation.simulate(1500, seed=21, diagnosis_probabilities={"TRD": 1.0}, **HOMOGENEOUS)
    truth = data.truth
    row = fit_onset(data).summary().loc["all"]
    p_true = truth.response_probability_by_diagnosis["TRD"]
    # sample size 1500: SE of p about 0.013, of the log median about 0.05
    assert row["response_probability_upper"] - row["response_probability_lower"] < 0.08
    assert abs(row["response_probability"] - p_true) <= 4 * np.sqrt(p_true * (1 - p_true) / 1500)
    assert truth.onset_median_hours == 4.0
    assert _within(row["median_onset_hours"], row["median_onset_hours_lower"],
                   row["median_onset_hours_upper"], truth.onset_median_hours)
    assert row["median_onset_hours_upper"] / row["median_onset_hours_lower"] < 1.5
    # log-logistic onset with median 4 h: half of the responders respond by 4 h
    assert row["responding_by_4h"] == pytest.approx(p_true / 2, abs=0.05)


def test_detects_simulated_group_difference():
    simulation = pytest.importorskip("analysis.simulation")
    data = simulation.simulate(800, seed=5, diagnosis_probabilities={"TRD": 0.5, "MDD": 0.5},
                               response_diagnosis_logit={"TRD": -0.5, "MDD": 1.0}, **HOMOGENEOUS)
    truth = data.truth.response_probability_by_diagnosis
    fit = fit_onset(data, by="diagnosis")
    s = fit.summary()
    for group in ("MDD", "TRD"):
        n = s.loc[group, "n"]
        assert abs(s.loc[group, "response_probability"] - truth[group]) <= 4 * np.sqrt(
            truth[group] * (1 - truth[group]) / n)
    assert fit.test.set_index("test").loc["likelihood_ratio_cure", "p_value"] < 1e-4


def test_accepts_derived_endpoints():
    from analysis.endpoints import derive_endpoints

    data = known_onset_data(200, seed=9, p_response=0.6, median_hours=4.0, shape=1.5)
    ep = derive_endpoints(data, response=0.4)
    pd.testing.assert_frame_equal(fit_onset(ep).summary(), fit_onset(data, response=0.4).summary())
    assert fit_onset(ep).endpoints is ep
    with pytest.raises(ValueError):
        fit_onset(ep, response=0.5)


def _two_sites(fast, usual):
    """Two known_onset_data sets as sites "fast" and "usual" of one dataset (ids kept apart)."""
    from analysis.contract import OutcomeData

    parts = []
    for site, data in (("fast", fast), ("usual", usual)):
        tables = {}
        for name in ("assessments", "infusions", "patients"):
            table = getattr(data, name).copy()
            table["patient_id"] = (site + "-" + table["patient_id"].astype(str)).astype("string")
            tables[name] = table
        tables["patients"]["site"] = pd.array([site] * len(tables["patients"]), dtype="string")
        parts.append(tables)
    return OutcomeData(*(pd.concat([p[name] for p in parts], ignore_index=True)
                         for name in ("assessments", "infusions", "patients")))


def test_fit_problems_become_notes_not_warnings():
    import warnings

    # site "fast": every responder responds before the first rating (1 h), so the onset
    # distribution cannot be estimated; site "usual": a well-posed cure model
    fast = known_onset_data(40, seed=0, p_response=0.5, median_hours=0.1, shape=3.0)
    usual = known_onset_data(200, seed=1, p_response=0.6, median_hours=4.0, shape=1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak as a Python warning
        alone = fit_onset(fast)
        fit = fit_onset(_two_sites(fast, usual), by="site")
    assert "cure model" in alone.summary().loc["all", "note"]
    assert "positive definite" not in " ".join(alone.notes)  # plain words, not the optimiser's
    assert any(note.startswith("cure model") for note in alone.notes)
    s = fit.summary()
    assert "cure model" in s.loc["fast", "note"] and s.loc["usual", "note"] == ""
    assert any(note.startswith("group 'fast': cure model") for note in fit.notes)
    assert not any(note.startswith("group 'usual'") for note in fit.notes)
    assert abs(s.loc["usual", "median_onset_hours"] - 4.0) < 1.5
    assert fit.test is not None and set(fit.test["test"]) == {"likelihood_ratio_cure", "logrank_upper"}


def test_by_accepts_an_infusion_level_column_and_orders_numeric_groups():
    data = known_onset_data(240, seed=6, p_response=0.6, median_hours=4.0, shape=1.5)
    infusions = data.infusions.copy()
    minutes = np.tile([5.0, 15.0, 40.0], len(infusions) // 3 + 1)[: len(infusions)]
    infusions["duration_min"] = minutes
    infusions["setting"] = pd.array(np.where(minutes == 40.0, "hospital", "clinic"), dtype="string")
    data = type(data)(data.assessments, infusions, data.patients)
    fit = fit_onset(data, by="duration_min")
    s = fit.summary()
    assert list(s.index) == ["5", "15", "40"]  # numeric order, not "15" < "40" < "5"
    assert list(s["n"]) == [80, 80, 80]
    assert any("first infusion" in note for note in fit.notes)
    by_setting = fit_onset(data, by="setting").summary()
    assert by_setting.loc["hospital", "n"] == 80 and by_setting.loc["clinic", "n"] == 160
    with pytest.raises(ValueError, match="setting"):  # the message lists the usable columns
        fit_onset(data, by="no_such_column")


def test_weekly_visits_give_no_onset_in_hours_but_say_why():
    # ratings only at days 7, 14, 21 after one infusion: onset in hours cannot be estimated
    from tests.analysis.outcome_builders import make_data

    rng = np.random.default_rng(5)
    rows = []
    for k in range(60):
        responder = rng.random() < 0.65
        for hours in (-1.0, 168.0, 336.0, 504.0):
            score = 30.0 if hours < 0 or not responder else 10.0
            rows.append((f"W{k}", hours, score, None))
    fit = fit_onset(make_data(rows))
    row = fit.summary().loc["all"]
    for column in ("median_onset_hours", "median_onset_hours_lower", "median_onset_hours_upper",
                   "responding_by_4h", "responding_by_24h"):
        assert np.isnan(row[column]), column
    assert "onset in hours needs ratings inside the first day" in row["note"]
    assert "0 of 60 patients" in row["note"]
    assert any("onset in hours needs ratings inside the first day" in n for n in fit.notes)
    # the observed proportion is still reported, with its Wilson interval
    assert 0 < row["observed_response_lower"] < row["observed_response"] < row["observed_response_upper"] < 1
    # every value printed is a finite number or NaN with a reason: never 0 h to inf h
    numbers = row[[c for c in fit.summary().columns if c.endswith(("_lower", "_upper"))]].astype(float)
    assert not np.isinf(numbers).any()
    for column in ("response_probability_lower", "response_probability_upper"):
        if np.isnan(row[column]):
            assert "confidence interval of the response probability cannot be computed" in row["note"]


def test_ratings_in_the_first_day_keep_the_hours_estimate():
    data = known_onset_data(400, seed=8, p_response=0.6, median_hours=4.0, shape=1.5)
    row = fit_onset(data).summary().loc["all"]
    assert 2.5 < row["median_onset_hours"] < 6.0
    assert row["median_onset_hours_lower"] < row["median_onset_hours"] < row["median_onset_hours_upper"]
    assert "first day" not in row["note"]


def test_group_bins_is_the_name_of_bins():
    data = known_onset_data(240, seed=6, p_response=0.6, median_hours=4.0, shape=1.5)
    infusions = data.infusions.copy()
    infusions["duration_min"] = np.tile([5.0, 15.0, 40.0], len(infusions) // 3 + 1)[: len(infusions)]
    data = type(data)(data.assessments, infusions, data.patients)
    new = fit_onset(data, by="duration_min", group_bins=[0, 10, 60]).summary()
    assert list(new["n"]) == [80, 160]  # two groups: below and above 10 min
    pd.testing.assert_frame_equal(new, fit_onset(data, by="duration_min", bins=[0, 10, 60]).summary())
    with pytest.raises(ValueError, match="same setting"):
        fit_onset(data, by="duration_min", bins=[0, 10, 60], group_bins=[0, 20, 60])
