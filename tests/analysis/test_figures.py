"""Figure builders: units on every axis, the Okabe-Ito palette, definitions under the chart,
small groups left out, risk table under the time axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import figures


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
    colors = {t.line.color for t in figure.data if t.name and "observed" in t.name}
    assert colors == set(figures.OKABE_ITO[:3])
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
    assert "Days since response" in titles and "Still responding (%)" in titles and "At risk" in titles
    text_traces = [t for t in figure.data if t.mode == "text"]
    assert len(text_traces) == 2 and list(text_traces[0].text) == ["30", "22", "15", "8", "3"]
    # the risk table shares the time axis with the curve
    assert figure.layout.xaxis.matches == "x2" or figure.layout.xaxis2.matches == "x"
    censor = [t for t in figure.data if t.name and t.name.endswith("censored")]
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
    for group in ["IM", "IV", "intranasal", "oral", "sublingual"]:
        for source in ("turnbull", "model"):
            parts.append(pd.DataFrame({"group": group, "time_hours": hours, "cumulative_response":
                                       [0.0, 0.3, 0.5, 0.6], "lower": 0.0, "upper": 1.0, "source": source}))
    curve = pd.concat(parts, ignore_index=True)
    few = figures.onset_figure(curve[curve["group"] == "IV"])
    many = figures.onset_figure(curve)
    shown = [t for t in many.data if t.name and t.showlegend is not False]
    assert len(shown) == 10

    def top(figure):
        return figure.layout.margin.t or figure.layout.template.layout.margin.t

    def height(figure):
        return figure.layout.height or 450  # plotly's default

    assert top(many) > top(few)
    assert top(many) >= 42 + 21 * 3  # at least three legend rows and the title
    assert height(many) - top(many) == height(few) - top(few)
    full = {t.name: t.line.color for t in many.data if t.name and t.showlegend is not False}
    without_oral = figures.onset_figure(curve, exclude_groups=["oral"])
    kept = {t.name: t.line.color for t in without_oral.data if t.name and t.showlegend is not False}
    assert kept and all(full[name] == color for name, color in kept.items())
    assert not any(name.startswith("oral") for name in kept)


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
