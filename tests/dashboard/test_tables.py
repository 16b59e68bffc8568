"""Display of analysis tables: which columns an interval belongs to."""

from __future__ import annotations

import pandas as pd

from dashboard.tables import display_options


def test_a_fixed_effects_tables_bounds_belong_to_its_estimate_not_its_p_value():
    """estimate, se, df, statistic, p, lower, upper (the mixed model's and MMRM's fixed effects):
    the interval is the estimate's; it was shown as 'p (95% CI)' with the p-value in front."""
    fixed = pd.DataFrame({"term": ["Intercept"], "estimate": [1.33], "se": [2.42], "df": [313.19],
                          "statistic": [0.55], "p": [0.58], "lower": [-3.43], "upper": [6.09]})
    options = display_options(fixed)
    assert "estimate (95% CI)" in options["column_order"]
    assert not any(str(c).startswith(("p (", "statistic (")) for c in options["column_order"])
    shown = options["data"].data if hasattr(options["data"], "data") else options["data"]
    assert shown["estimate (95% CI)"].iloc[0].startswith("1.33 (-3.43")


def test_a_negative_interval_reads_with_to_and_a_named_index_gets_a_header_in_words():
    """The mixed model's fixed effects at 1440 px showed '-7.94 (-8.63--7.25)' and a header 'term'
    (the index name, raw)."""
    fixed = pd.DataFrame({"estimate": [-7.94, 1.33], "se": [0.35, 2.42], "p": [1e-9, 0.58],
                          "lower": [-8.63, -3.43], "upper": [-7.25, 6.09]},
                         index=pd.Index(["time_days", "Intercept"], name="term"))
    options = display_options(fixed)
    shown = options["data"].data if hasattr(options["data"], "data") else options["data"]
    assert shown["estimate (95% CI)"].tolist() == ["-7.94 (-8.63 to -7.25)", "1.33 (-3.43 to 6.09)"]
    assert options["hide_index"] is True and options["column_order"][0] == "term"
    assert options["column_config"]["term"]["label"] == "Model term"
    positive = display_options(pd.DataFrame({"hr": [0.62], "hr_lower": [0.41], "hr_upper": [0.93]}))
    data = positive["data"].data if hasattr(positive["data"], "data") else positive["data"]
    assert data["hr (95% CI)"].iloc[0] == "0.62 (0.41–0.93)"


def test_a_table_without_rows_is_laid_out_like_one_with_rows():
    # the Symptoms page's resolution table of a survey rated from day 2 on: no row; it crashed the page
    empty = pd.DataFrame({"measure": pd.Series([], dtype=object), "n": pd.Series([], dtype="int64"),
                          "proportion": pd.Series([], dtype=float), "lower": pd.Series([], dtype=float),
                          "upper": pd.Series([], dtype=float)})
    options = display_options(empty)
    assert "proportion (95% CI)" in options["column_order"]


def test_a_table_with_a_suppressed_group_is_still_rounded_and_reads_mean_with_its_ci():
    """The Trajectories summary of the sample suppresses two booster cells (fewer than 5 patients):
    every other column had turned to text, so the page showed '49.004651162790694' hours and the
    mean without its interval."""
    from analysis.export import suppress_small_groups

    table = pd.DataFrame({"group": ["all", "all"], "time_point": ["day 2", "booster3 pre"],
                          "time_hours": [49.004651162790694, 700.25], "n": [86, 3], "mean": [19.0930232, 30.0],
                          "lower": [17.5, 20.0], "upper": [20.7, 40.0]})
    shown, note = suppress_small_groups(table, "n", 5, keep_columns=["group", "time_point"])
    assert note and shown["time_hours"].dtype == float and pd.api.types.is_integer_dtype(shown["n"])
    options = display_options(shown.drop(columns="suppressed"))
    assert "mean (95% CI)" in options["column_order"]
    assert options["data"].data["mean (95% CI)"].iloc[0] == "19.09 (17.50–20.70)"
    html = options["data"].to_html()  # the Styler's texts, as the page shows them
    assert ">49.0<" in html and "49.00465" not in html and ">86<" in html
