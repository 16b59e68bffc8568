"""table_one: hand-computed statistics and display strings on a small cohort, the documented
choice between mean (SD) and median [IQR], and recovery of known cohort proportions from
analysis.simulate (truth: route probabilities, latent baseline scores)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
from analysis.contract import OutcomeData
from analysis.tables import table_one
from tests.analysis.outcome_builders import outcome_data


def make_data(baselines, patients, routes=None, doses=None) -> OutcomeData:
    """One MADRS baseline (-1 h) and a 24 h rating (half the baseline) per patient; a patient
    with baseline None has only the 24 h rating (no baseline: excluded)."""
    rows = []
    for pid, base in baselines.items():
        if base is not None:
            rows.append((pid, -1.0, float(base)))
        rows.append((pid, 24.0, float(base or 20) / 2))
    ids = list(baselines)
    infusions = pd.DataFrame({"patient_id": ids, "infusion_number": 1, "time_hours": 0.0,
                              "dose_mg_per_kg": doses or [0.5] * len(ids), "route": routes or ["IV"] * len(ids)})
    return outcome_data(pd.DataFrame(rows, columns=["patient_id", "time_hours", "score"]), infusions, patients)


BASELINES = {"a": 30, "b": 34, "c": 26, "d": 40, "e": 22, "f": 31, "g": None}
PATIENTS = pd.DataFrame({
    "patient_id": list(BASELINES),
    "age": [30.0, 42, np.nan, 55, 61, 38, 50],
    "sex": ["F", "M", "F", "M", "F", "F", "M"],
    "diagnosis": ["TRD", "MDD", None, "TRD", "TRD", "bipolar", "TRD"],
    "prior_ect": [0.0, 1, 1, 1, 5, 20, 0],  # a skewed user covariate
})
DATA = make_data(BASELINES, PATIENTS, routes=["IV", "IV", "IM", "IV", "IM", "IV", "IV"],
                 doses=[0.5, 0.5, 1.0, 0.5, 0.75, 0.5, 0.5])


def test_continuous_rows_by_hand():
    table = table_one(DATA).table
    age = table[(table["variable"] == "age") & (table["group"] == "overall")].iloc[0]
    known = np.array([30.0, 42, 55, 61, 38])  # patient g has no baseline, c has no age
    assert (age["n"], age["missing"]) == (5, 1)
    assert age["mean"] == pytest.approx(known.mean())
    assert age["sd"] == pytest.approx(known.std(ddof=1))
    # R: quantile(c(30, 42, 55, 61, 38), c(.25, .5, .75)) -> 38 42 55
    assert (age["q1"], age["median"], age["q3"]) == (38, 42, 55)
    assert age["statistic"] == "mean_sd"
    baseline = table[(table["variable"] == "baseline_score") & (table["group"] == "overall")].iloc[0]
    assert baseline["mean"] == pytest.approx(np.mean([30, 34, 26, 40, 22, 31]))
    assert baseline["label"] == "Baseline MADRS score"


def overall(table: pd.DataFrame, variable: str) -> pd.Series:
    return table[(table["variable"] == variable) & (table["group"] == "overall")].iloc[0]


def test_skewness_rule_and_overrides():
    values = np.array([0.0, 1, 1, 1, 5, 20])
    assert abs(stats.skew(values, bias=False)) > 1
    row = overall(table_one(DATA).table, "prior_ect")
    assert row["statistic"] == "median_iqr"
    assert (row["q1"], row["median"], row["q3"]) == (1, 1, 4)  # R type 7
    forced = table_one(DATA, continuous={"prior_ect": "mean"}).table
    assert overall(forced, "prior_ect")["statistic"] == "mean_sd"
    assert table_one(DATA, continuous="median").table.query("kind == 'continuous'")["statistic"].eq(
        "median_iqr").all()
    as_levels = table_one(DATA, categorical=["prior_ect"]).table
    levels = as_levels[(as_levels["variable"] == "prior_ect") & (as_levels["group"] == "overall")]
    assert list(levels["level"]) == ["0.0", "1.0", "5.0", "20.0"]
    assert list(levels["count"]) == [1, 3, 1, 1]


def test_categorical_rows_percent_of_known_and_missing():
    table = table_one(DATA).table
    diag = table[(table["variable"] == "diagnosis") & (table["group"] == "overall")].set_index("level")
    assert list(diag.index) == ["MDD", "TRD", "bipolar"]
    assert diag.loc["TRD", "count"] == 3 and diag.loc["TRD", "n"] == 5 and diag.loc["TRD", "missing"] == 1
    assert diag.loc["TRD", "percent"] == pytest.approx(60.0)


def test_by_group_display_and_sizes():
    result = table_one(DATA, by="sex")
    assert dict(result.group_sizes) == {"overall": 6, "F": 4, "M": 2}
    display = result.display
    assert list(display.columns) == ["Overall (n=6)", "F (n=4)", "M (n=2)"]
    assert "Sex, n (%)" not in display.index  # the grouping variable is not a row
    # F ages: 30, (missing), 61, 38 -> mean 43.0, SD sqrt(518 / 2) = 16.09 ; M: 42, 55 -> 48.5 (9.19)
    assert display.loc["Age, years, mean (SD)", "F (n=4)"] == "43.0 (16.1)"
    assert display.loc["Age, years, mean (SD)", "M (n=2)"] == "48.5 (9.2)"
    assert display.loc["Diagnosis, n (%)", "Overall (n=6)"] == ""
    assert display.loc["    TRD", "F (n=4)"] == "2 (66.7)"
    assert display.loc["Route of first infusion, n (%)", "M (n=2)"] == ""
    assert display.loc["Dose of first infusion, mg/kg, median [IQR]", "Overall (n=6)"] == "0.50 [0.50, 0.69]"  # q3 = 0.5 + 0.75 * 0.25
    assert display.loc["n", "M (n=2)"] == "2"
    assert "missing" in "".join(display.index)
    assert len(result.excluded) == 1 and result.excluded["patient_id"].iloc[0] == "g"
    assert result.summary() is display


def test_unknown_variable_and_bad_option():
    with pytest.raises(ValueError, match="Unknown variable"):
        table_one(DATA, variables=["age", "height"])
    with pytest.raises(ValueError, match="continuous must be"):
        table_one(DATA, continuous="mode")


def test_recovers_simulated_cohort_composition():
    data = analysis.simulate(400, seed=9)
    result = table_one(data)
    table = result.table[result.table["group"] == "overall"]
    routes = table[table["variable"] == "route"].set_index("level")
    n = result.group_sizes["overall"]
    for route, probability in data.truth.route_probabilities.items():
        observed = routes.loc[route, "percent"] / 100 if route in routes.index else 0.0
        se = np.sqrt(probability * (1 - probability) / n)
        assert abs(observed - probability) < 4 * se + 1e-9, route
    baseline = table[table["variable"] == "baseline_score"].iloc[0]
    latent = data.truth.latent["baseline_true"].mean()
    # observed baseline = latent + rating noise (SD noise_sd), rounded: mean differs by ~noise_sd / sqrt(n)
    assert abs(baseline["mean"] - latent) < 4 * data.truth.noise_sd / np.sqrt(n) + 0.5 / np.sqrt(n) + 0.05


def test_public_api_name():
    assert analysis.table_one is table_one


def test_baseline_zero_patients_are_described_and_counted():
    # 5 patients with a baseline, 2 of them 0 (Table 1 divides by nothing), 1 without a baseline
    baselines = {"a": 30, "b": 0, "c": 20, "d": 0, "e": 10, "f": None}
    patients = pd.DataFrame({"patient_id": list(baselines), "age": [30.0, 40, 50, 60, 70, 80],
                             "sex": ["F", "M", "F", "M", "F", "M"], "diagnosis": "TRD"})
    data = make_data(baselines, patients, routes=["IV", "IM", "IV", "IM", "IV", "IV"])
    t1 = table_one(data, by="route")
    assert t1.group_sizes.to_dict() == {"overall": 5, "IV": 3, "IM": 2}
    table = t1.table

    def cell(variable: str, group: str, statistic: str) -> float:
        return float(table.loc[(table["variable"] == variable) & (table["group"] == group), statistic].item())

    assert cell("baseline_score", "overall", "mean") == pytest.approx(12.0)
    assert cell("baseline_score", "overall", "sd") == pytest.approx(np.std([30, 0, 20, 0, 10], ddof=1))
    assert cell("age", "IM", "mean") == pytest.approx(50.0)  # b (40) and d (60)
    assert t1.excluded["patient_id"].tolist() == ["f"]
    assert "Note: 2 patient(s) with a baseline MADRS score of 0 included." in t1.describe()
    assert t1.display.loc["n"].tolist() == ["5", "3", "2"]


def test_baseline_zero_from_endpoints_is_said():
    from analysis.endpoints import derive_endpoints

    baselines = {"a": 30, "b": 0, "c": 20}
    patients = pd.DataFrame({"patient_id": list(baselines), "age": 40.0, "sex": "F", "diagnosis": "TRD"})
    t1 = table_one(derive_endpoints(make_data(baselines, patients)))
    assert t1.group_sizes["overall"] == 2
    assert any("1 patient(s) with a baseline MADRS score of 0 are not in these Endpoints" in line
               for line in t1.describe())


def test_table_one_groups_follow_group_patients_and_drop_the_grouping_variable():
    data = analysis.load_sample()
    t1 = table_one(data, by="age")
    assert list(t1.group_sizes.index) == ["overall", "age 18-34", "age 35-42", "age 43-50", "age 51-77"]
    assert "age" not in t1.settings["variables"]
    assert t1.settings["grouping"] == "grouped by age quartiles (years)"
    t1 = table_one(data, by="course")
    assert list(t1.group_sizes.index) == ["overall", "single", "series"]
    assert "course" not in t1.settings["variables"]
    with pytest.raises(ValueError, match="Table 1 needs a depression scale and the data has no PHQ-9"):
        table_one(data, instrument="PHQ-9")
