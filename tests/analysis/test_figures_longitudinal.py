"""Figures of ratings over time, read back from their traces: numeric time axes with x in
increasing order, visit axes that never mix the single-infusion and series schedules, whole
infusion numbers, the suicidality axis from 0, the residual check, the swimmer plot."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import figures


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def _numbers(values) -> np.ndarray:
    """x values of a trace without the None gaps between spaghetti lines."""
    return np.array([v for v in values if v is not None], dtype=float)


def _mean_traces(figure) -> list:
    return [t for t in figure.data if t.mode == "lines+markers"]


@pytest.mark.parametrize("time", ["hours", "days"])
def test_numeric_time_axis_means_at_bin_mid_points_increasing(sample, time):
    result = analysis.trajectory(sample, time=time, by="course")
    table = result.table
    figure = figures.trajectory_figure(table, x=f"time_mid_{time}", x_title=time, y_title="score",
                                       individual=result.individual, individual_x=f"time_{time}",
                                       individual_y="value")
    assert figure.layout.xaxis.type == "linear"
    means = _mean_traces(figure)
    assert [t.name for t in means] == ["single", "series"]
    for trace in means:
        x = np.asarray(trace.x, dtype=float)
        assert np.all(np.diff(x) > 0), "mean x not increasing"
        # every point sits at its bin's mid-point (the open last bin and baseline at the mean time)
        rows = table[table["group"] == trace.name]
        assert set(np.round(x, 9)) == set(np.round(rows[f"time_mid_{time}"].to_numpy(float), 9))
    bounded = table[np.isfinite(table[f"bin_end_{time}"])]
    np.testing.assert_allclose(bounded[f"time_mid_{time}"],
                               (bounded[f"bin_start_{time}"] + bounded[f"bin_end_{time}"]) / 2)
    # the individual lines are numbers on the same axis, each patient's in time order
    spaghetti = next(t for t in figure.data if t.name == "Individual patients")
    xs = list(spaghetti.x)
    assert all(v is None or isinstance(v, int | float) for v in xs)
    segments = [np.array(s, float) for s in _split(xs)]
    assert all(np.all(np.diff(s) >= 0) for s in segments)
    upper = table[f"bin_end_{time}"].replace(np.inf, np.nan).max()
    assert max(s.max() for s in segments) > upper / 4  # not squeezed at the left (0.09 d vs 36 d)


def _split(xs: list) -> list[list[float]]:
    out, current = [], []
    for v in xs:
        if v is None:
            if current:
                out.append(current)
            current = []
        else:
            current.append(v)
    return out + ([current] if current else [])


def test_log_hours_axis_leaves_out_the_baseline(sample):
    result = analysis.trajectory(sample, time="hours")
    figure = figures.trajectory_figure(result.table, x="time_mid_hours", x_title="h", y_title="s", log_x=True)
    assert figure.layout.xaxis.type == "log"
    x = np.asarray(_mean_traces(figure)[0].x, dtype=float)
    assert np.all(x > 0) and np.all(np.diff(x) > 0)
    assert len(x) == (result.table["time_mid_hours"] > 0).sum() == len(result.table) - 1  # baseline only


def test_visit_axis_one_panel_per_schedule_and_no_category_mixes_schedules(sample):
    result = analysis.trajectory(sample, time="visit", by="route")
    table = result.table
    figure = figures.trajectory_figure(table, x="time_point", order="time_order", facet="schedule",
                                       x_title="visit", y_title="score", individual=result.individual,
                                       individual_x="time_point", individual_y="value")
    titles = [a.text.removeprefix("schedule: ") for a in figure.layout.annotations if a.text.startswith("schedule: ")]
    # the simulator gives boosters to series patients only: three schedules
    assert sorted(titles) == ["series", "series boosters", "single"]
    names = ["xaxis"] + [f"xaxis{i}" for i in range(2, len(titles) + 1)]
    axes = {name: figure.layout[name] for name in names}
    assert all(a.type == "category" for a in axes.values())
    categories = {name: list(a.categoryarray) for name, a in axes.items()}
    # which schedule's patients are rated at each label (the data, not the figure)
    labels_of = {schedule: set(rows["time_point"]) for schedule, rows in table.groupby("schedule")}
    median = result.individual.groupby(["schedule", "time_point"])["time_hours"].median()
    for name, schedule in zip(names, titles, strict=True):
        assert set(categories[name]) == labels_of[schedule]
        # schedule order: the labels' median rating time (the module's rule) increases along the axis
        ordered = median.loc[schedule].reindex(categories[name]).to_numpy()
        boosters = schedule.endswith(" boosters")
        assert np.all(np.diff(ordered[0 if boosters else 1:]) >= 0)
        assert (categories[name][0] == "baseline") != boosters  # a booster schedule has no baseline
        # the simulator's booster visits are named "booster<k> ...": those and only those
        assert all(label.startswith("booster") for label in categories[name]) == boosters
    # every trace of a panel draws only that panel's labels
    for trace in figure.data:
        axis = "xaxis" if trace.xaxis in (None, "x") else "xaxis" + trace.xaxis[1:]
        drawn = {v for v in trace.x if v is not None}
        assert drawn <= set(categories[axis]), trace.name
    # no label on two axes: single's "day 14" and the series' "follow-up day 7" never share one
    every = [label for name in names for label in categories[name] if label != "baseline"]
    assert len(every) == len(set(every))


def test_time_since_most_recent_infusion_puts_every_infusion_on_one_clock(sample):
    result = analysis.trajectory(sample, time="hours", time_origin="last_infusion")
    post = result.individual[result.individual["time_point"] != "baseline"]
    endpoints = analysis.derive_endpoints(sample).ratings
    since = endpoints.loc[~endpoints["is_baseline"], "hours_since_infusion"]
    assert post["time_hours"].max() == pytest.approx(since.max())
    assert "hours since the most recent infusion" in result.describe()[0]


def test_series_axis_in_whole_infusions(sample):
    rates = analysis.responder_rates(sample, time="infusion", by="course").table
    figure = figures.rate_figure(rates[rates["outcome"] == "response"], x="infusion_number", rate="proportion",
                                 lower="lower", upper="upper", series="group", x_title="Infusion number",
                                 y_title="%")
    axis = figure.layout.xaxis
    assert axis.tickmode == "linear" and axis.dtick == 1 and axis.tick0 == 1
    ticks = np.arange(axis.tick0, rates["infusion_number"].max() + 1, axis.dtick)
    assert np.all(ticks % 1 == 0)


def test_percent_axes_run_to_105_with_ticks_to_100_and_whole_markers(sample):
    """Every page drawing rates gets the same percent axis from rate_figure (not a page's copy): a
    100% point (e.g. all patients at infusion 7) drawn whole, above it no tick past 100."""
    rates = analysis.responder_rates(sample, time="infusion", by="course").table
    figure = figures.rate_figure(rates[rates["outcome"] == "response"], x="infusion_number", rate="proportion",
                                 lower="lower", upper="upper", series="group", x_title="Infusion number",
                                 y_title="%")
    assert list(figure.layout.yaxis.range) == [0, 105]
    assert list(figure.layout.yaxis.tickvals) == [0, 25, 50, 75, 100]
    lines = [t for t in figure.data if t.mode == "lines+markers"]
    assert lines and all(t.cliponaxis is False for t in lines)
    assert max(max(t.y) for t in lines) <= 100
    # proportions on their own scale (percent=False) keep plotly's automatic axis and clipping
    plain = figures.rate_figure(rates, x="infusion_number", rate="proportion", series="group",
                                x_title="Infusion number", y_title="proportion", percent=False)
    assert plain.layout.yaxis.range is None and plain.layout.yaxis.tickvals is None
    assert all(t.cliponaxis is not False for t in plain.data)


def test_suicidality_axis_from_zero(sample):
    course = analysis.suicidality_course(sample, time="days").course
    figure = figures.trajectory_figure(course.assign(time_days=course["time_hours"] / 24), x="time_days",
                                       x_title="d", y_title="item", y_from_zero=True)
    low, high = figure.layout.yaxis.range
    assert low == 0 and high >= course["upper"].max()


def test_model_curve_overlay_and_residual_figure(sample):
    model = analysis.fit_trajectory(sample, time_effect="piecewise")
    observed = analysis.trajectory(sample, time="days").table
    curve = model.curve()
    figure = figures.trajectory_figure(observed, x="time_mid_days", x_title="d", y_title="s", curves=curve,
                                       curve_x="time_days", curve_name="mixed model")
    dashed = [t for t in figure.data if t.line.dash == "dash"]
    assert len(dashed) == 1 and dashed[0].name == "All patients: mixed model"
    np.testing.assert_allclose(dashed[0].y, curve["fitted"])
    bins = model.residual_check()
    residual = figures.residual_figure(bins, residuals=model.residuals(), max_points=500)
    cloud, means = residual.data
    assert len(cloud.x) == 500
    np.testing.assert_allclose(means.y, bins["mean_residual"])
    np.testing.assert_allclose(means.x, (bins["low"] + bins["high"]) / 2)
    assert residual.layout.shapes[0].y0 == 0  # the zero line
    # against time on a log axis: each bin at its geometric mid-point, inside its own range
    by_time = model.residual_check(against="time")
    timed = figures.residual_figure(by_time, residuals=model.residuals(), x="time_days", log_x=True)
    cloud, means = timed.data
    assert timed.layout.xaxis.type == "log" and (np.asarray(cloud.x) > 0).all()
    shown = by_time[by_time["high"] > 0]
    np.testing.assert_allclose(means.y, shown["mean_residual"])
    x = np.asarray(means.x)
    assert (np.diff(x) > 0).all() and (x <= shown["high"].to_numpy()).all()
    assert (x >= np.minimum(shown["low"], shown["high"] / 10).to_numpy()).all()


def test_scatter_thinned_per_panel():
    frame = pd.DataFrame({"x": np.arange(9000.0), "y": np.arange(9000.0), "panel": np.repeat(["a", "b", "c"], 3000)})
    figure = figures.scatter_figure(frame, x="x", y="y", facet="panel", x_title="x", y_title="y", max_points=400)
    assert [len(t.x) for t in figure.data] == [400, 400, 400]
    again = figures.scatter_figure(frame, x="x", y="y", facet="panel", x_title="x", y_title="y", max_points=400)
    assert list(again.data[0].x) == list(figure.data[0].x)  # a fixed subset


def test_timeline_figure_draws_what_the_timeline_holds(sample):
    timeline = analysis.patient_timeline(sample, n_patients=12, seed=3)
    figure = figures.timeline_figure(timeline)
    assert list(figure.layout.yaxis.categoryarray) == list(timeline.patients)[::-1]  # first on top
    infusion_traces = [t for t in figure.data if t.name and "infusion" in t.name]
    assert sum(len(t.x) for t in infusion_traces) == len(timeline.infusions)
    relapse = [t for t in figure.data if t.name == "Relapse"]
    assert sum(len(t.x) for t in relapse) == (timeline.marks["mark"] == "relapse").sum()
    assert figure.layout.xaxis.title.text == "Days since the first infusion"
    rows = figures.timeline_rows(timeline)
    assert len(rows) == (len(timeline.infusions) + len(timeline.ratings) + len(timeline.marks)
                         + len(timeline.events))


def test_timeline_says_dose_unknown_rather_than_nan():
    data = analysis.load(io.BytesIO(b"patient_id,instrument,score,time_hours,infusion_number,infusion_time_hours\n"
                                    b"K1,MADRS,30,-1,,\nK1,MADRS,12,4,1,0\nK1,MADRS,10,52,2,48\n"))
    timeline = analysis.patient_timeline(data, patient_ids=["K1"])
    rows = figures.timeline_rows(timeline)
    details = rows.loc[rows["what"].str.endswith("infusion"), "detail"].tolist()
    assert details == ["IV dose unknown", "IV dose unknown"]
    hover = [t.customdata for t in figures.timeline_figure(timeline).data if t.name and "infusion" in t.name][0]
    assert "nan" not in " ".join(map(str, np.ravel(hover)))
