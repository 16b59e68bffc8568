"""Figure builders: units on every axis, the Okabe-Ito palette, definitions under the chart,
small groups left out, risk table under the time axis."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.elements.lib import streamlit_plotly_theme

import analysis
from analysis import figures
from analysis.figures import forest as forest_module
from analysis.figures import survival as survival_module
from analysis.figures._style import THEME_TEXT


def _onset_curve() -> pd.DataFrame:
    times = np.array([0.5, 1, 2, 4, 8, 24, 48])
    rows = []
    for group, scale in (("IV", 1.0), ("IM", 0.7), ("oral", 0.5)):
        cum = scale * (1 - np.exp(-times / 4)) * 0.6
        for source in ("turnbull", "model"):
            rows.append(pd.DataFrame({"group": group, "time_hours": times, "cumulative_response": cum,
                                      "lower": cum * 0.8, "upper": np.minimum(cum * 1.2, 1), "source": source}))
    return pd.concat(rows, ignore_index=True)


def _durability() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    days = np.array([2.0, 5, 9, 14, 21, 30])
    curve = pd.concat([pd.DataFrame({"group": g, "time_days": days, "survival": np.linspace(0.95, s, 6),
                                     "lower": np.linspace(0.85, s - 0.1, 6), "upper": np.linspace(1, s + 0.1, 6),
                                     "at_risk": np.arange(30, 0, -5), "events": 1, "censored": [0, 1, 0, 2, 0, 1]})
                       for g, s in (("TRD", 0.3), ("MDD", 0.5))], ignore_index=True)
    risk = pd.concat([pd.DataFrame({"group": g, "time_days": [0, 7, 14, 21, 28], "at_risk": [30, 22, 15, 8, 3],
                                    "events": 0, "censored": 0}) for g in ("TRD", "MDD")], ignore_index=True)
    model = curve[["group", "time_days", "survival"]].assign(survival=lambda f: f["survival"] * 0.98)
    return curve, risk, model


def _axis_titles(figure: go.Figure) -> list[str]:
    layout = figure.layout
    return [axis.title.text for name in dir(layout) if name.startswith(("xaxis", "yaxis"))
            for axis in [getattr(layout, name)] if axis is not None and axis.title.text]


def _annotation_text(figure: go.Figure) -> str:
    return " ".join(a.text or "" for a in figure.layout.annotations)


def test_onset_figure_units_markers_definitions_and_palette():
    figure = figures.onset_figure(_onset_curve(), definitions=["Response: a reduction of at least 50%."])
    titles = _axis_titles(figure)
    assert any("Hours" in t for t in titles) and any("%" in t for t in titles)
    assert "Response: a reduction of at least 50%." in _annotation_text(figure)
    colors = {t.line.color for t in figure.data if t.name in {"IV", "IM", "oral"}}
    assert colors == set(figures.OKABE_ITO[:3])
    # the line styles are named once each, in grey, not once per group
    keys = [t.name for t in figure.data if len(t.x) == 1 and t.x[0] is None]
    assert keys == ["observed, interval-censored (Turnbull)", "mixture-cure model"]
    markers = [t for t in figure.data if t.text is not None and any("h" in str(x) for x in t.text)]
    assert sorted(t.x[0] for t in markers) == [4.0, 24.0]
    assert figure.layout.template.layout.colorway == figures.OKABE_ITO


def test_onset_figure_log_time_and_excluded_groups():
    figure = figures.onset_figure(_onset_curve(), log_time=True, exclude_groups=["oral"])
    assert figure.layout.xaxis.type == "log"
    names = " ".join(t.name or "" for t in figure.data)
    assert "oral" not in names and "IV" in names and "IM" in names


def test_durability_figure_has_risk_table_censor_marks_and_overlay():
    curve, risk, model = _durability()
    figure = figures.durability_figure(curve, risk_table=risk, model_curve=model, definitions=["Relapse: x."])
    titles = _axis_titles(figure)
    assert "Days since response" in titles and "Still responding (%)" in titles
    assert "Number at risk" in _annotation_text(figure)
    text_traces = [t for t in figure.data if t.mode == "text"]
    assert len(text_traces) == 2 and list(text_traces[0].text) == ["30", "22", "15", "8", "3"]
    # the risk table shares the time axis with the curve, its numbers on the 7-day ticks
    assert figure.layout.xaxis.matches == "x2" or figure.layout.xaxis2.matches == "x"
    assert list(text_traces[0].x) == list(figure.layout.xaxis.tickvals)[:5] == [0, 7, 14, 21, 28]
    censor = [t for t in figure.data if t.name and t.name.endswith(" censored")]
    assert sum(len(t.x) for t in censor) == 2 * 3
    assert any("parametric" in (t.name or "") for t in figure.data)
    # every curve starts at 100% on day 0
    first = next(t for t in figure.data if t.name == "TRD")
    assert first.x[0] == 0 and first.y[0] == 100


def test_forest_figure_log_axis_and_reference_line():
    table = pd.DataFrame({"hr": [0.5, 1.8], "hr_lower": [0.3, 1.1], "hr_upper": [0.8, 2.9]},
                         index=pd.Index(["first_dose_mg_per_kg", "route[IM]"], name="term"))
    figure = figures.forest_figure(table)
    assert figure.layout.xaxis.type == "log"
    assert "Hazard ratio" in figure.layout.xaxis.title.text
    assert list(figure.data[0].y) == ["route[IM]", "first_dose_mg_per_kg"]
    assert any(s.x0 == 1 for s in figure.layout.shapes)


def test_trajectory_figure_orders_visits_and_draws_patients_in_one_trace():
    summary = pd.DataFrame({"group": "all", "time_point": ["baseline", "40 min", "day 1"],
                            "time_order": [0, 1, 2], "mean": [30.0, 20, 18], "lower": [28.0, 18, 16],
                            "upper": [32.0, 22, 20], "n": 10})
    individual = pd.DataFrame({"patient_id": np.repeat(["a", "b"], 3), "time_point": ["day 1", "baseline", "40 min"] * 2,
                               "time_order": [2, 0, 1] * 2, "mean": [15.0, 31, 22, 21, 29, 19]})
    figure = figures.trajectory_figure(summary, x="time_point", order="time_order", x_title="Visit",
                                       y_title="MADRS total score (points)", individual=individual,
                                       highlight=["b"])
    assert list(figure.layout.xaxis.categoryarray) == ["baseline", "40 min", "day 1"]
    lines = figure.data[0]
    assert list(lines.x) == ["baseline", "40 min", "day 1", None, "baseline", "40 min", "day 1"]
    assert list(lines.y[:3]) == [31, 22, 15]
    assert any(t.name == "Patient b" for t in figure.data)


def test_rate_bar_and_scatter_figures_have_units():
    rates = pd.DataFrame({"infusion_number": [1, 2, 1, 2], "measure": ["response", "response", "remission", "remission"],
                          "rate": [0.3, 0.5, 0.1, 0.2], "lower": [0.2, 0.4, 0.05, 0.1], "upper": [0.4, 0.6, 0.2, 0.3]})
    figure = figures.rate_figure(rates, x="infusion_number", rate="rate", lower="lower", upper="upper",
                                 series="measure", x_title="Infusion number", y_title="Patients (%)")
    assert list(figure.data[0].y) == [30.0, 50.0]
    assert figure.layout.yaxis.title.text == "Patients (%)"
    # an excluded series is not drawn and the others keep their colours
    without = figures.rate_figure(rates, x="infusion_number", rate="rate", series="measure",
                                  exclude_groups=["response"], x_title="Infusion number", y_title="Patients (%)")
    assert [t.name for t in without.data] == ["remission"]
    assert without.data[0].line.color == figure.data[1].line.color != figure.data[0].line.color
    bar = figures.bar_figure(pd.DataFrame({"k": [1, 2], "n": [5, 3]}), x="k", y="n", x_title="Infusion",
                             y_title="Responders (patients)")
    assert bar.layout.yaxis.title.text == "Responders (patients)"
    scatter = figures.scatter_figure(pd.DataFrame({"c": [1, 2], "i": [10, 50]}), x="c", y="i",
                                     x_title="Peak CADSS (points)", y_title="Improvement (%)")
    assert scatter.layout.xaxis.title.text == "Peak CADSS (points)"


def test_long_definitions_are_wrapped_and_enlarge_the_figure():
    base = figures.onset_figure(_onset_curve())
    long = figures.onset_figure(_onset_curve(), definitions=["word " * 80])
    assert "<br>" in _annotation_text(long)
    assert long.layout.height > base.layout.height


def test_group_colors_are_stable_and_colour_blind_safe():
    colors = figures.group_colors(["b", "a", "b", "c"])
    assert list(colors) == ["b", "a", "c"]
    assert set(colors.values()) <= set(figures.OKABE_ITO)
    # the reference group takes the first colour; the others keep the order of the levels
    with_reference = figures.group_colors(["MDD", "TRD", "PTSD"], reference="TRD")
    assert with_reference == {"TRD": figures.OKABE_ITO[0], "MDD": figures.OKABE_ITO[1], "PTSD": figures.OKABE_ITO[2]}
    assert figures.group_colors(["MDD", "TRD"], reference="absent") == figures.group_colors(["MDD", "TRD"])


def test_long_curves_are_thinned_but_keep_their_ends():
    days = np.linspace(0.1, 60, 5000)
    survival = np.linspace(1, 0.2, 5000)
    curve = pd.DataFrame({"time_days": days, "survival": survival, "lower": survival - 0.05,
                          "upper": survival + 0.05, "censored": np.arange(5000) % 3 == 0})
    figure = figures.durability_figure(curve, max_points=500)
    line = next(t for t in figure.data if t.name == "All responders")
    assert len(line.x) <= 501
    assert line.x[0] == 0 and line.x[-1] == days[-1] and line.y[-1] == 100 * survival[-1]
    marks = next(t for t in figure.data if t.name == "All responders censored")
    assert 0 < len(marks.x) <= 250


def test_a_long_legend_gets_room_above_the_plot_and_groups_keep_their_colours():
    """Ten legend entries wrap into several rows: the top margin grows so the legend (which
    plotly grows upwards from the plot) cannot reach the title, and the plot keeps its height.
    A group excluded for its size does not shift the colours of the others."""
    hours = np.array([0.0, 4.0, 24.0, 168.0])
    parts = []
    names = [f"dose band {i} (0.{i}0-0.{i + 1}0 mg/kg)" for i in range(1, 9)]
    for group in names:
        for source in ("turnbull", "model"):
            parts.append(pd.DataFrame({"group": group, "time_hours": hours, "cumulative_response":
                                       [0.0, 0.3, 0.5, 0.6], "lower": 0.0, "upper": 1.0, "source": source}))
    curve = pd.concat(parts, ignore_index=True)
    few = figures.onset_figure(curve[curve["group"] == names[0]])
    many = figures.onset_figure(curve)
    shown = [t for t in many.data if t.name and t.showlegend is not False]
    assert len(shown) == 10  # 8 groups and the 2 line styles

    def top(figure):
        return figure.layout.margin.t or figure.layout.template.layout.margin.t

    def height(figure):
        return figure.layout.height or 450  # plotly's default

    assert top(many) > top(few)
    assert top(many) >= 42 + 21 * 3  # at least three legend rows and the title
    assert height(many) - top(many) == height(few) - top(few)
    full = {t.name: t.line.color for t in many.data if t.name and t.showlegend is not False}
    without_oral = figures.onset_figure(curve, exclude_groups=[names[3]])
    kept = {t.name: t.line.color for t in without_oral.data if t.name and t.showlegend is not False}
    assert kept and all(full[name] == color for name, color in kept.items())
    assert not any(name.startswith(names[3]) for name in kept)


def test_forest_figure_ticks_are_written_in_full():
    """Plotly's default log ticks label 0.3 as "3"; a reader must see 0.2, 0.5, 1, 2."""
    table = pd.DataFrame({"hr": [0.88, 0.99], "hr_lower": [0.26, 0.97], "hr_upper": [2.96, 1.03]},
                         index=pd.Index(["dose", "baseline_score"], name="term"))
    figure = figures.forest_figure(table)
    ticks = list(figure.layout.xaxis.tickvals)
    assert list(figure.layout.xaxis.ticktext) == ["0.2", "0.5", "1", "2", "5"]
    assert ticks[0] <= 0.26 and ticks[-1] >= 2.96 and 1 in ticks


def test_bar_figure_keeps_the_category_order_when_cells_are_left_out():
    frame = pd.DataFrame({"phenotype": ["rapid", "delayed"], "percent": [40.0, 10.0], "group": "all"})
    figure = figures.bar_figure(frame, x="phenotype", y="percent", x_title="Phenotype", y_title="%",
                                x_order=["non-responder", "rapid", "delayed"])
    assert list(figure.layout.xaxis.categoryarray) == ["non-responder", "rapid", "delayed"]
    assert figure.layout.xaxis.categoryorder == "array"


# --------------------------------------------------------------------------------------------
# survival figures read back against the fits they draw (bundled sample)



@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


@pytest.fixture(scope="module")
def by_course(sample):
    return analysis.fit_durability(sample, by="course")


def _risk_traces(figure: go.Figure) -> list:
    return [t for t in figure.data if t.mode == "text" and (t.name or "").endswith("at risk")]


def _legend_names(figure: go.Figure) -> list[str]:
    return [t.name for t in figure.data if t.name and t.showlegend is not False]


def test_durability_result_figure_risk_table_falls_on_the_7_day_ticks(by_course):
    figure = figures.durability_result_figure(by_course)
    ticks = list(figure.layout.xaxis.tickvals)
    assert ticks[0] == 0 and all(b - a == 7 for a, b in zip(ticks, ticks[1:], strict=False))
    assert ticks[-1] >= by_course.curve["time_days"].max()
    risk = _risk_traces(figure)
    assert [t.name for t in risk] == ["single at risk", "series at risk"]
    for trace in risk:
        group = trace.name.removesuffix(" at risk")
        assert list(trace.x) == ticks  # one number under every tick, exactly on it
        table = by_course.risk_table
        expected = table[table["group"] == group].set_index("time_days")["at_risk"]
        assert [int(v) for v in trace.text] == [int(expected[t]) for t in ticks]
    # the risk table's axis is the curve's axis
    assert figure.layout.xaxis.matches == "x2" or figure.layout.xaxis2.matches == "x"


def test_durability_result_figure_writes_medians_estimator_and_log_rank(by_course):
    figure = figures.durability_result_figure(by_course)
    text = _annotation_text(figure)
    table = by_course.summary()
    for group, row in table.iterrows():
        median = survival_module.median_text(row["median_days"], row["median_days_lower"], row["median_days_upper"], "d")
        assert f"{group}: {median}" in text
        assert re.match(r"\d+\.\d d \(95% CI \d+\.\d\u2013\d+\.\d\)", median)
    assert survival_module.format_p(by_course.logrank.p_value) in text and "Log-rank" in text
    names = _legend_names(figure)
    assert survival_module.ESTIMATOR_NAMES["weibull"] in names and survival_module.KM_LABEL in names
    # the headline line is the interval-censored model; the median diamond sits on it at 50%
    single = next(t for t in figure.data if t.name == "single" and t.mode == "lines")
    model = by_course.model_curve.query("group == 'single'")
    np.testing.assert_allclose(np.interp(model["time_days"], single.x, single.y), 100 * model["survival"], atol=1e-9)
    diamond = next(t for t in figure.data if t.name == "single median")
    assert diamond.x[0] == pytest.approx(table.loc["single", "median_days"]) and diamond.y[0] == 50
    assert diamond.error_x.array[0] == pytest.approx(table.loc["single", "median_days_upper"]
                                                     - table.loc["single", "median_days"])
    # censor marks: one per censored responder (curve rows weighted by their count)
    marks = [t for t in figure.data if (t.name or "").endswith(" censored")]
    drawn = sum(len(t.x) for t in marks)
    rows_with_censoring = int((by_course.curve["censored"] > 0).sum())
    assert drawn == rows_with_censoring


def test_durability_without_kaplan_meier_keeps_only_the_headline(by_course):
    figure = figures.durability_result_figure(by_course, show_km=False)
    assert survival_module.KM_LABEL not in _legend_names(figure)
    assert not any((t.name or "").endswith(" censored") for t in figure.data)


def test_a_competing_strategy_draws_the_aalen_johansen_incidence(sample):
    fit = analysis.fit_durability(sample, by="course", competing="rescue")
    assert set(fit.summary()["estimator"]) == {"aalen_johansen"}
    figure = figures.durability_result_figure(fit)
    assert "cumulative incidence" in figure.layout.yaxis.title.text
    assert "Cumulative incidence of relapse" in figure.layout.title.text
    names = _legend_names(figure)
    assert survival_module.ESTIMATOR_NAMES["aalen_johansen"] in names
    assert survival_module.KM_LABEL not in names  # 1 - KM is what the incidence replaces
    line = next(t for t in figure.data if t.name == "series" and t.mode == "lines")
    cif = fit.cumulative_incidence.query("group == 'series' and event == 1")
    np.testing.assert_allclose(line.y, 100 * cif["cif"].to_numpy(), atol=1e-9)
    median = fit.summary().loc["series"]
    assert "series: " + survival_module.median_text(median["median_days"], median["median_days_lower"],
                                                    median["median_days_upper"], "d") in _annotation_text(figure)


def test_more_than_three_groups_get_one_panel_each_with_the_reference_in_grey(sample, by_course):
    fit = analysis.fit_durability(sample, by="diagnosis")
    levels = [str(g) for g in fit.summary().index]
    assert len(levels) > figures.MAX_OVERLAID_GROUPS
    figure = figures.durability_result_figure(fit)
    risk = _risk_traces(figure)
    assert len(risk) == len(levels)  # a risk row under every panel
    # every panel's curve on its own axes, the reference group's curve repeated in grey for comparison
    axes = {t.xaxis for t in figure.data if t.name in levels and t.mode == "lines"}
    assert len(axes) == len(levels)
    greys = [t for t in figure.data if (t.name or "") == f"reference: {fit.reference}"]
    assert len(greys) == len(levels) - 1
    text = _annotation_text(figure)
    assert all(f"<b>{g}</b>" in text for g in levels)
    assert "Log-rank" in figure.layout.title.subtitle.text
    # one panel on request: bands left out by default with so many groups
    one = figures.durability_result_figure(fit, facets=False)
    assert not any(t.fill == "tonexty" for t in one.data)
    assert any(t.fill == "tonexty" for t in figures.durability_result_figure(by_course).data)


def test_group_colours_follow_the_reference_on_every_figure(sample):
    durability = analysis.fit_durability(sample, by="diagnosis")
    onset = analysis.fit_onset(sample, by="diagnosis")
    levels = [str(g) for g in durability.summary().index]
    colors = figures.group_colors(levels, durability.reference)
    assert colors[durability.reference] == figures.OKABE_ITO[0]
    d_fig = figures.durability_result_figure(durability, facets=False)
    o_fig = figures.onset_result_figure(onset, reference=durability.reference)
    for figure in (d_fig, o_fig):
        drawn = {t.name: t.line.color for t in figure.data if t.name in levels and t.showlegend is not False}
        assert drawn == colors


def test_onset_result_figure_writes_medians_and_test_p_values(sample):
    fit = analysis.fit_onset(sample, by="course")
    figure = figures.onset_result_figure(fit)
    text = _annotation_text(figure)
    for group, row in fit.summary().iterrows():
        assert f"{group}: " + survival_module.median_text(row["median_onset_hours"], row["median_onset_hours_lower"],
                                                          row["median_onset_hours_upper"], "h") in text
    logrank = fit.test.set_index("test").loc["logrank_upper", "p_value"]
    assert survival_module.format_p(logrank) in text
    assert list(figure.layout.xaxis.tickvals) == [0, 24, 48, 72, 96, 120, 144, 168]


def test_hour_and_day_ticks():
    assert figures._style.time_ticks(56.8, 7) == [0, 7, 14, 21, 28, 35, 42, 49, 56, 63]
    assert figures._style.time_ticks(200, 7)[1] == 21  # at most 12 ticks: whole weeks widened
    assert figures._style.hour_ticks(20) == [0, 4, 8, 12, 16, 20]
    assert figures._style.hour_ticks(168) == [0, 24, 48, 72, 96, 120, 144, 168]
    assert figures._style.hour_ticks(168, log=True) == [0.25, 0.5, 1, 2, 4, 8, 24, 48, 168]


def test_response_state_figure_marks_the_days_it_writes(sample):
    state = analysis.fit_response_state(sample, n_bootstrap=50)
    figure = figures.response_state_figure(state)
    at = state.at([1, 7, 14, 28])
    points = next(t for t in figure.data if t.name == "All patients at days")
    np.testing.assert_allclose(points.y, 100 * at["in_response"].to_numpy())
    assert list(points.x) == [1, 7, 14, 28]
    assert list(points.text) == [f"{100 * v:.0f}%" for v in at["in_response"]]
    np.testing.assert_allclose(points.error_y.array, 100 * (at["upper"] - at["in_response"]).to_numpy())


# --------------------------------------------------------------------------------------------
# forest plot: per-unit hazard ratios equal Cox refitted on the rescaled covariates


def _cox_frame(n: int = 400, seed: int = 7) -> pd.DataFrame:
    """Simulated responders with a known dose and age effect (exponential times, 30% censored)."""
    rng = np.random.default_rng(seed)
    dose = rng.uniform(0.2, 1.0, n)
    age = rng.uniform(18, 75, n)
    diagnosis = rng.choice(["MDD", "TRD", "PTSD"], n)
    hazard = 0.05 * np.exp(-1.5 * dose + 0.02 * age + 0.4 * (diagnosis == "PTSD"))
    time = rng.exponential(1 / hazard)
    censor = rng.uniform(0, np.quantile(time, 0.9), n)
    return pd.DataFrame({"first_dose_mg_per_kg": dose, "age": age, "diagnosis": diagnosis,
                         "days": np.minimum(time, censor), "relapse": time <= censor})


def test_per_unit_hazard_ratios_equal_cox_on_rescaled_data():
    frame = _cox_frame()
    covariates = ["first_dose_mg_per_kg", "age", "diagnosis"]
    fit = analysis.cox(frame, duration="days", event="relapse", covariates=covariates)
    per_unit = figures.per_unit_hazard_ratios(fit, levels={"diagnosis": frame["diagnosis"]})
    rescaled = frame.assign(first_dose_mg_per_kg=frame["first_dose_mg_per_kg"] / 0.1, age=frame["age"] / 10)
    refit = analysis.cox(rescaled, duration="days", event="relapse", covariates=covariates).table
    for column in ("hr", "hr_lower", "hr_upper", "p", "coef", "se"):
        np.testing.assert_allclose(per_unit[column].to_numpy(), refit.loc[per_unit.index, column].to_numpy(),
                                   rtol=1e-6)
    assert per_unit.loc["first_dose_mg_per_kg", "label"] == "Dose (first infusion), per 0.1 mg/kg"
    assert per_unit.loc["age", "label"] == "Age, per 10 years"
    assert per_unit.loc["diagnosis[PTSD]", "label"] == "Diagnosis: PTSD vs MDD"
    # per 1 mg/kg the same model gives HR ** 10 (the 0.26-2.96 style interval of the issue)
    assert per_unit.loc["first_dose_mg_per_kg", "hr"] ** 10 == pytest.approx(fit.table.loc["first_dose_mg_per_kg", "hr"])


def test_forest_figure_prints_hr_ci_and_p_per_row_as_in_the_cox_table():
    frame = _cox_frame()
    fit = analysis.cox(frame, duration="days", event="relapse", covariates=["first_dose_mg_per_kg", "age", "diagnosis"])
    table = figures.per_unit_hazard_ratios(fit, levels={"diagnosis": frame["diagnosis"]})
    figure = figures.forest_figure(table)
    points = figure.data[0]
    rows = next(t for t in figure.data if t.mode == "text")
    assert list(rows.y) == list(points.y)
    assert [y.replace("<br>", " ") for y in rows.y] == list(table["label"][::-1])  # labels wrapped, not changed
    for label, text in zip(rows.y, rows.text, strict=True):
        row = table[table["label"] == label.replace("<br>", " ")].iloc[0]
        hr, lower, upper, p = (float(x) for x in re.match(
            r"([\d.]+) \(([\d.]+)\u2013([\d.]+)\)<br>p (?:< )?([\d.]+)", text).groups())
        assert hr == pytest.approx(row["hr"], abs=0.006 if row["hr"] >= 0.1 else 0.0006)
        assert lower == pytest.approx(row["hr_lower"], abs=0.006 if row["hr_lower"] >= 0.1 else 0.0006)
        assert upper == pytest.approx(row["hr_upper"], abs=0.006)
        assert p == pytest.approx(row["p"], abs=0.006) or (row["p"] < 0.001 and p == 0.001)
    np.testing.assert_allclose(points.x, table["hr"][::-1])


def test_forest_names_the_reference_level_the_fit_coded_against():
    frame = _cox_frame()
    fit = analysis.cox(frame, duration="days", event="relapse", covariates=["diagnosis"])
    reference = sorted(frame["diagnosis"].dropna().unique())[0]
    assert fit.references == {"diagnosis": reference}
    # a level of the data absent from the fitted rows ("ADHD" sorts first) does not mislead it
    table = forest_module.per_unit_hazard_ratios(fit, levels={"diagnosis": [*frame["diagnosis"], "ADHD"]})
    assert table["unit"].eq(f"vs {reference}").all()
    # a categorical column's first category is the reference, as in R
    frame["diagnosis"] = pd.Categorical(frame["diagnosis"], categories=sorted(frame["diagnosis"].unique())[::-1])
    refit = analysis.cox(frame, duration="days", event="relapse", covariates=["diagnosis"])
    assert forest_module.per_unit_hazard_ratios(refit)["unit"].eq(f"vs {frame['diagnosis'].cat.categories[0]}").all()


# --------------------------------------------------------------------------------------------
# the survminer / KMunicate checklist of issue 10, item by item, read from the figure JSON


def _step_value(x: list[float], y: list[float], at: float) -> float:
    """The value of a step curve drawn with shape "hv" (each y holds until the next x) at ``at``."""
    index = int(np.searchsorted(np.asarray(x, float), at, side="right")) - 1
    return float(y[max(index, 0)])


def test_risk_table_numbers_in_the_text_colour_and_rows_keyed_by_the_group_colour(sample, by_course):
    """No palette colour reads at 4.5:1 as small text on both a white and a dark background (WCAG
    AA): the numbers and row names are in the placeholder Streamlit's plotly theme turns into its
    strongest text grey per theme (checked in the browser, tests/e2e), a square carries the group's."""
    assert THEME_TEXT == streamlit_plotly_theme.GRAY_90  # a Streamlit upgrade that renames it fails here
    onset = analysis.fit_onset(sample, by="course")
    for figure, names in ((figures.durability_result_figure(by_course), ["single", "series"]),
                          (figures.onset_result_figure(onset), ["single", "series"])):
        colours = {t.name: t.line.color for t in figure.data if t.name in names and t.mode == "lines"}
        risk = _risk_traces(figure)
        assert len(risk) == 2 and all(t.textfont.color == THEME_TEXT for t in risk)
        assert figure.layout.yaxis2.tickfont.color == THEME_TEXT
        labels = list(figure.layout.yaxis2.ticktext)
        assert labels == [f"<span style='color:{colours[g]}'>\u25a0</span> {g}" for g in names]
        # the medians box: the same key before each group's line, the text itself uncoloured
        box = next(a.text for a in figure.layout.annotations if "95% CI" in (a.text or "") and "Median" in a.text)
        for group in names:
            assert f"<span style='color:{colours[group]}'>\u25a0</span> {group}: " in box
        assert box.count("color:") == len(names)
    # why: the palette's own contrast (WCAG 2) on white and on Streamlit's dark background
    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def ratio(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)
    assert all(min(ratio(c, "#ffffff"), ratio(c, "#0e1117")) < 4.5 for c in figures.OKABE_ITO)


def _text_colours_left_to_the_theme(figure: go.Figure) -> list[str]:
    """Where a text of ``figure`` takes its colour from the template, which Streamlit's plotly theme
    overwrites in the browser with its GRAY_70 (#808495, 3.7:1 on white): the layout's font (the
    default of annotations and of text beside points), each axis' tick labels and title, the
    legend's entries and title, the subtitle; and any text given another colour than THEME_TEXT."""
    layout = figure.layout
    left = [] if layout.font.color == THEME_TEXT else [f"layout.font {layout.font.color}"]
    for axis in [*figure.select_xaxes(), *figure.select_yaxes()]:
        left += [f"{axis.plotly_name} {part}" for part, font in (("tickfont", axis.tickfont), ("title", axis.title.font))
                 if font.color != THEME_TEXT]
    left += [f"legend {part}" for part, font in (("font", layout.legend.font), ("title", layout.legend.title.font))
             if font.color != THEME_TEXT]
    left += [] if layout.title.subtitle.font.color == THEME_TEXT else ["subtitle"]
    left += [f"annotation {a.text[:30]!r} {a.font.color}" for a in layout.annotations
             if a.font.color not in (None, THEME_TEXT)]
    left += [f"trace {t.name!r} {t.textfont.color}" for t in figure.data
             if getattr(t, "textfont", None) is not None and t.textfont.color not in (None, THEME_TEXT)]
    return left


def test_every_text_of_every_figure_is_in_the_text_colour_on_its_own_layout(sample, by_course):
    """Streamlit's plotly theme merges its greys into a figure's template in the browser, so every
    text's colour is set on the figure's own layout (the browser test measures what this gives:
    tests/e2e/test_browser.py); in exports THEME_TEXT is near-black, far above 4.5:1 on white."""
    diagnosis = analysis.fit_durability(sample, by="diagnosis")
    onset = analysis.fit_onset(sample, by="course")
    curve, risk, model = _durability()
    built = {
        "onset": figures.onset_result_figure(onset, definitions=["Response: a 50% reduction."]),
        "onset, log time": figures.onset_result_figure(onset, log_time=True),
        "durability": figures.durability_result_figure(by_course, definitions=["Relapse: ..."]),
        "durability, panels": figures.durability_result_figure(diagnosis),
        "durability, tidy tables": figures.durability_figure(curve, risk_table=risk, model_curve=model),
        "response state": figures.response_state_figure(analysis.fit_response_state(sample, n_bootstrap=0)),
        "forest": figures.forest_figure(pd.DataFrame({"hr": [0.5, 1.8], "hr_lower": [0.3, 1.1],
                                                      "hr_upper": [0.8, 2.9]}, index=["a", "b"])),
        "bars": figures.bar_figure(pd.DataFrame({"k": [1, 2], "n": [5, 3]}), x="k", y="n", x_title="Infusion",
                                   y_title="Responders (patients)"),
    }
    left = {name: found for name, figure in built.items() if (found := _text_colours_left_to_the_theme(figure))}
    assert not left, left
    near_black = int(THEME_TEXT[1:3], 16) + int(THEME_TEXT[3:5], 16) + int(THEME_TEXT[5:7], 16)
    assert near_black < 64  # 19:1 on white


def test_medians_and_tests_are_written_under_the_plot_and_the_definitions_under_them(sample, by_course):
    """The medians and the tests' p-values sit under the chart (paper coordinates, below its bottom),
    where they cannot cover a curve however narrow the chart; the definitions follow them and the
    figure grows by their lines, its plot area keeping its height."""
    onset = analysis.fit_onset(sample, by="course")
    for build, marker in ((lambda **k: figures.durability_result_figure(by_course, **k), "Log-rank"),
                          (lambda **k: figures.onset_result_figure(onset, **k), "cure-model LR test"),
                          (lambda **k: figures.onset_result_figure(onset, log_time=True, **k), "Log-rank")):
        figure = build(definitions=["Response: a reduction of at least 50%."])
        results = next(a for a in figure.layout.annotations if marker in (a.text or ""))
        assert (results.xref, results.yref, results.y, results.yanchor) == ("paper", "paper", 0, "top")
        assert "95% CI" in results.text and results.yshift < 0
        definitions = next(a for a in figure.layout.annotations if "Response: a reduction" in (a.text or ""))
        lines = results.text.count("<br>") + 1
        assert definitions.yshift <= results.yshift - 15 * lines
        bare = build()
        assert figure.layout.height - bare.layout.height == figure.layout.margin.b - bare.layout.margin.b
        assert not [a.text for a in figure.layout.annotations if "95% CI" in (a.text or "") and "domain" in a.yref]


def test_response_state_values_are_written_in_the_text_colour(sample):
    state = analysis.fit_response_state(sample, n_bootstrap=0)
    figure = figures.response_state_figure(state)
    points = next(t for t in figure.data if t.name == "All patients at days")
    assert points.textfont.color == THEME_TEXT and points.marker.color == figures.OKABE_ITO[0]


def test_onset_kaplan_meier_has_censor_marks_on_its_steps(sample):
    fit = analysis.fit_onset(sample, by="course")
    figure = figures.onset_result_figure(fit, sources=("turnbull", "model", "kaplan_meier"))
    assert "censored" in _legend_names(figure)
    for group in ("single", "series"):
        marks = next(t for t in figure.data if t.name == f"{group} censored")
        table = fit.km[group].table
        censored = table[table["censored"] > 0]
        np.testing.assert_allclose(marks.x, censored["time"])  # one mark per hour with a censoring
        steps = next(t for t in figure.data if t.name == f"{group}: observed at the visit (Kaplan-Meier)")
        assert steps.line.shape == "hv"
        on_curve = [_step_value(steps.x, steps.y, x) for x in marks.x if x <= max(steps.x)]
        np.testing.assert_allclose(marks.y[:len(on_curve)], on_curve, atol=1e-9)
        np.testing.assert_allclose(marks.y, 100 * (1 - censored["survival"]), atol=1e-9)
    # without the Kaplan-Meier curve there is nothing to mark
    plain = figures.onset_result_figure(fit)
    assert not any((t.name or "").endswith("censored") for t in plain.data)


def test_onset_median_marked_on_the_model_with_its_ci_and_both_tests_written(sample):
    fit = analysis.fit_onset(sample, by="course")
    figure = figures.onset_result_figure(fit)
    table = fit.summary()
    for group in ("single", "series"):
        row = table.loc[group]
        diamond = next(t for t in figure.data if t.name == f"{group} median onset")
        assert diamond.x[0] == pytest.approx(row["median_onset_hours"])
        assert diamond.error_x.array[0] == pytest.approx(row["median_onset_hours_upper"] - row["median_onset_hours"])
        assert diamond.error_x.arrayminus[0] == pytest.approx(row["median_onset_hours"]
                                                              - row["median_onset_hours_lower"])
        model = fit.curve.query("group == @group and source == 'model'").sort_values("time_hours")
        assert diamond.y[0] == pytest.approx(100 * np.interp(diamond.x[0], model["time_hours"],
                                                             model["cumulative_response"]))
    text = _annotation_text(figure)
    tests = fit.test.set_index("test")["p_value"]
    assert f"Log-rank: {survival_module.format_p(tests['logrank_upper'])}" in text
    assert f"cure-model LR test: {survival_module.format_p(tests['likelihood_ratio_cure'])}" in text
    # the estimators are named in the legend
    assert {"observed, interval-censored (Turnbull)", "mixture-cure model",
            "median onset, 95% CI"} <= set(_legend_names(figure))


def test_every_panel_risk_row_sits_on_its_panels_week_ticks(sample):
    fit = analysis.fit_durability(sample, by="diagnosis")
    figure = figures.durability_result_figure(fit)
    layout = figure.layout
    for trace in _risk_traces(figure):
        axis = layout["xaxis" + trace.xaxis.removeprefix("x")]
        ticks = list(axis.tickvals) if axis.tickvals is not None else list(layout.xaxis.tickvals)
        assert set(trace.x) <= set(ticks) and len(trace.x) >= 2, trace.name
        assert all(t % 7 == 0 for t in ticks)  # whole weeks (widened to 14 days in narrow panels)
        group = trace.name.removesuffix(" at risk")
        expected = fit.risk_table.query("group == @group").set_index("time_days")["at_risk"]
        assert [int(v) for v in trace.text] == [int(expected[t]) for t in trace.x]
    # every panel writes its group's median and CI
    text = _annotation_text(figure)
    for group, row in fit.summary().iterrows():
        assert f"<b>{group}</b><br>median " + survival_module.median_text(
            row["median_days"], row["median_days_lower"], row["median_days_upper"], "d") in text


def test_the_cumulative_incidence_keeps_its_risk_table_and_log_rank(sample):
    fit = analysis.fit_durability(sample, by="course", competing="rescue")
    figure = figures.durability_result_figure(fit)
    risk = _risk_traces(figure)
    ticks = list(figure.layout.xaxis.tickvals)
    assert [t.name for t in risk] == ["single at risk", "series at risk"]
    assert all(list(t.x) == ticks[:len(t.x)] for t in risk)
    # with competing events the curves are cumulative incidences: Gray's test of them is printed
    gray = fit.gray_test.set_index("event").loc[1]
    assert sorted(fit.gray_test["event"]) == [1, 2] and 0 < gray["p_value"] <= 1
    assert survival_module.p_value_line("Gray's test", gray["p_value"], gray["statistic"], gray["dof"]) \
        in _annotation_text(figure)
    assert "Log-rank" not in _annotation_text(figure)


class _WithGrayTest:
    """A DurabilityResult with a given ``gray_test`` (everything else the fit's)."""

    def __init__(self, fit, gray_test: pd.DataFrame) -> None:
        self._fit, self.gray_test = fit, gray_test

    def __getattr__(self, name):
        return getattr(self._fit, name)


def test_the_cumulative_incidence_prints_grays_test_for_relapse(sample):
    fit = analysis.fit_durability(sample, by="course", competing="rescue")
    gray = pd.DataFrame({"event": [1, 2], "statistic": [4.6412, 0.4], "dof": [1, 1], "p_value": [0.03120, 0.527]})
    text = _annotation_text(figures.durability_result_figure(_WithGrayTest(fit, gray)))
    # the test of the curves drawn (relapse, event 1), in the words and format of the log-rank line
    assert "Gray's test p = 0.031 (\u03c7\u00b2 4.64, 1 df)" in text
    assert "Log-rank" not in text and "0.53" not in text
    # without groups there is no test to print
    alone = analysis.fit_durability(sample, competing="rescue")
    assert "Gray's test" not in _annotation_text(figures.durability_result_figure(_WithGrayTest(alone, gray.iloc[:0])))


def test_the_log_rank_and_grays_test_share_one_line_format():
    assert survival_module.p_value_line("Log-rank", 0.0004, 12.345, 2) == "Log-rank p < 0.001 (\u03c7\u00b2 12.35, 2 df)"
    assert survival_module.p_value_line("Gray's test", 0.27, 1.2, 1) == "Gray's test p = 0.27 (\u03c7\u00b2 1.20, 1 df)"


def test_one_curve_in_response_has_no_legend_nor_its_empty_row(sample):
    alone = figures.response_state_figure(analysis.fit_response_state(sample, n_bootstrap=0))
    grouped = figures.response_state_figure(analysis.fit_response_state(sample, by="course", n_bootstrap=0))
    assert alone.layout.showlegend is False and grouped.layout.showlegend is not False
    assert [t.name for t in grouped.data if t.showlegend is not False and t.name in ("single", "series")] \
        == ["single", "series"]
    # the room of the legend's row is taken away, the plot keeps its height (figure height - margins)
    assert grouped.layout.margin.t - alone.layout.margin.t == survival_module._LEGEND_PX
    assert grouped.layout.height - alone.layout.height == survival_module._LEGEND_PX
    assert alone.layout.margin.b == grouped.layout.margin.b
