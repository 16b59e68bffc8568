"""Figures of ratings over time: trajectories, rates by visit, bars and scatter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._style import (
    OKABE_ITO,
    category_axis,
    category_space,
    group_colors,
    groups_in,
    rows_of,
    with_definitions,
)
from analysis.longitudinal.trajectories import ordered_schedules

# Individual lines drawn at most (a fixed random subset beyond): plotly's cost grows with the points
# drawn (about 25 ratings per patient at 20,000 patients: 100 lines are 2,500 points, drawn in
# about 0.1 s), and 100 grey lines show the spread as well as 200 do at screen resolution.
MAX_INDIVIDUAL_LINES = 100


def spaghetti_patients(individual: pd.DataFrame, max_patients: int = MAX_INDIVIDUAL_LINES) -> list[str]:
    """The patients drawn as individual lines: all, or a fixed random subset (seed 0) of
    ``max_patients``."""
    ids = pd.unique(individual["patient_id"].astype(str))
    if len(ids) > max_patients:
        ids = np.random.default_rng(0).choice(ids, size=max_patients, replace=False)
    return sorted(str(i) for i in ids)


def _spaghetti(individual: pd.DataFrame, x: str, y: str,
               sort_by: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays of all patients' lines separated by gaps (x None, y NaN): one trace, one SVG
    path, however many patients."""
    ordered = individual.sort_values(["patient_id", sort_by or x], kind="stable")
    codes = pd.factorize(ordered["patient_id"])[0]
    new_patient = np.r_[False, codes[1:] != codes[:-1]]
    positions = np.arange(len(ordered)) + np.cumsum(new_patient)
    total = len(ordered) + int(new_patient.sum())
    xs = np.full(total, None, dtype=object)
    ys = np.full(total, np.nan)
    xs[positions] = ordered[x].to_numpy()
    ys[positions] = ordered[y].to_numpy(float)
    return xs, ys


def trajectory_figure(
    summary: pd.DataFrame,
    *,
    x: str,
    y: str = "mean",
    lower: str | None = "lower",
    upper: str | None = "upper",
    x_title: str,
    y_title: str,
    order: str | None = None,
    individual: pd.DataFrame | None = None,
    individual_x: str | None = None,
    individual_y: str | None = None,
    highlight: Sequence[Any] = (),
    max_individuals: int = MAX_INDIVIDUAL_LINES,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    title: str = "Scores over time",
    facet: str | None = None,
    log_x: bool = False,
    y_from_zero: bool = False,
    curves: pd.DataFrame | None = None,
    curve_x: str | None = None,
    curve_name: str = "model",
) -> go.Figure:
    """Mean (with 95% CI) over time per group, optionally over thin grey individual
    trajectories (``individual`` with patient_id; at most ``max_individuals`` patients drawn
    over all panels, a fixed random subset, ``spaghetti_patients``) with some patients
    highlighted.

    A numeric ``x`` (e.g. ``time_mid_days``, the bins' mid-points) gives a numeric axis, with
    the individual lines at their ratings' actual times (``individual_x``, e.g. ``time_days``)
    on the same axis; ``log_x`` makes it logarithmic (points at or before 0, e.g. the baseline,
    cannot be drawn there and are left out). A text ``x`` (visit labels) gives a categorical
    axis sorted by ``order``; ``facet`` (e.g. ``schedule``) draws one panel per value, each with
    its own axis, in the order the values first appear (``facet="schedule"``: single infusion,
    series, boosters, ``schedule_rank``, whatever the rows' order). ``y_from_zero`` starts the y
    axis at 0 (scores that cannot be negative). ``curves`` (group, ``curve_x``, fitted) adds a
    fitted model's mean per group as a dashed line of the group's colour (numeric x only)."""
    numeric = pd.api.types.is_numeric_dtype(summary[x]) if x in summary.columns else False
    panels = list(dict.fromkeys(summary[facet].astype(str))) if facet and facet in summary.columns else [None]
    if facet == "schedule" and panels != [None]:
        panels = list(ordered_schedules(pd.Series(panels)).categories)
    widths = None
    if panels != [None] and not numeric:
        # a panel's width follows its number of visits (a booster panel of 3 visits beside a series
        # of 30), at least a fifth of the room so that its title and labels fit
        counts = np.array([summary.loc[summary[facet].astype(str) == p, x].nunique() for p in panels], dtype=float)
        share = np.maximum(counts / counts.sum(), 0.2)
        widths = list(share / share.sum())
    figure = (make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.04,
                            subplot_titles=[f"{facet}: {p}" for p in panels], column_widths=widths)
              if panels != [None] else go.Figure())
    if len(panels) > 1:
        # panel titles from their panel's left edge and the last (often narrow: a booster panel) up
        # to its right edge: centred, the last ran past the figure's edge and was cut ("schedule:
        # series booste") and at 800 px overlapped the title beside it
        for i, panel_title in enumerate(figure.layout.annotations[:len(panels)], start=1):
            domain = figure.layout[f"xaxis{i if i > 1 else ''}"].domain
            last = i == len(panels)
            panel_title.update(x=domain[1] if last else domain[0], xanchor="right" if last else "left")
    groups = groups_in(summary, exclude_groups)
    colors = group_colors(groups_in(summary))  # before exclusion: a group keeps its colour
    ix, iy = individual_x or x, individual_y or y
    lines = shown = individual
    panels_with_ratings: set[str | None] = set()
    if individual is not None:
        # only the rows drawn are split by panel below (100 patients' of 280,000 ratings at 20,000
        # patients): the sampled lines and the highlighted patients, chosen once here
        patient = individual["patient_id"].astype(str)
        keep = (spaghetti_patients(individual, max_individuals)
                if individual["patient_id"].nunique() > max_individuals else None)
        in_lines = patient.isin(keep).to_numpy() if keep is not None else np.ones(len(individual), dtype=bool)
        lines = individual[in_lines]
        shown = individual[in_lines | patient.isin([str(p) for p in highlight]).to_numpy()]
        # a panel with ratings draws its lines and highlighted patients (empty where they have none)
        rated = individual[individual[ix] > 0] if log_x else individual
        split = facet is not None and facet in individual.columns and panels != [None]
        panels_with_ratings = (set(pd.unique(rated[facet]).astype(str)) if split
                               else set(panels) if not rated.empty else set())
    longest = 55
    in_legend: set[str] = set()  # each name once, the first time it is drawn

    def first(name: str) -> bool:
        seen = name in in_legend
        in_legend.add(name)
        return not seen

    for j, panel in enumerate(panels, start=1):
        where = dict(row=1, col=j) if panel is not None else {}
        part_summary = summary if panel is None else summary[summary[facet].astype(str) == panel]
        part_individual, part_lines = shown, lines
        if shown is not None and panel is not None and facet in shown.columns:
            part_individual = shown[shown[facet].astype(str) == panel]
            part_lines = lines[lines[facet].astype(str) == panel]
        if log_x:
            part_summary = part_summary[part_summary[x] > 0]
            if part_individual is not None:
                part_individual = part_individual[part_individual[ix] > 0]
                part_lines = part_lines[part_lines[ix] > 0]
        if part_individual is not None and panel in panels_with_ratings:
            sort_by = order if (not numeric and order and order in part_individual.columns) else ix
            if not part_lines.empty:
                xs, ys = _spaghetti(part_lines, ix, iy, sort_by)
                figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", connectgaps=False,
                                            line=dict(color="rgba(128,128,128,0.22)", width=1),
                                            name="Individual patients", legendgroup="individual",
                                            showlegend=first("Individual patients"), hoverinfo="skip"), **where)
            for i, patient in enumerate(highlight):
                one = part_individual[part_individual["patient_id"].astype(str) == str(patient)]
                one = one.sort_values(sort_by)
                figure.add_trace(go.Scatter(x=one[ix], y=one[iy], mode="lines+markers",
                                            line=dict(color=OKABE_ITO[(i + 5) % len(OKABE_ITO)], width=2.5),
                                            name=f"Patient {patient}", legendgroup=f"patient {patient}",
                                            showlegend=first(f"Patient {patient}")), **where)
        for group in groups:
            part = rows_of(part_summary, group).sort_values(x if numeric else (order or x))
            if part.empty:
                continue
            label = group if group != "all" else "All patients"
            error = None
            if lower and upper and {lower, upper} <= set(part.columns):
                error = dict(type="data", symmetric=False, array=part[upper] - part[y],
                             arrayminus=part[y] - part[lower], color=colors[group], thickness=1.2)
            figure.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers", name=label,
                                        legendgroup=label, showlegend=first(label),
                                        line=dict(color=colors[group], width=2.5), error_y=error), **where)
        if curves is not None and numeric and panel is None:
            for group in groups:
                line = rows_of(curves, group).sort_values(curve_x or x)
                if log_x:
                    line = line[line[curve_x or x] > 0]
                if line.empty:
                    continue
                name = f"{group if group != 'all' else 'All patients'}: {curve_name}"
                figure.add_trace(go.Scatter(x=line[curve_x or x], y=line["fitted"], mode="lines", name=name,
                                            legendgroup=name, showlegend=first(name),
                                            line=dict(color=colors.get(group, OKABE_ITO[0]), width=2, dash="dash")))
        axis = dict(title=x_title if j == 1 else None)  # once, under the first panel (the panels say which)
        if numeric:
            axis["type"] = "log" if log_x else "linear"
        elif order and order in part_summary.columns:
            categories = part_summary.sort_values(order)[x].astype(str).drop_duplicates().tolist()
            axis.update(type="category", categoryorder="array", categoryarray=categories)
            longest = max(longest, category_space(categories))
        figure.update_xaxes(**axis, **where)
    if panels != [None]:
        # panel titles sit where the legend would: lift the legend above them
        figure.update_layout(legend=dict(y=1.1), margin=dict(t=120))
    figure.update_yaxes(title=y_title, row=1, col=1) if panels != [None] else figure.update_yaxes(title=y_title)
    if y_from_zero:
        top = np.nanmax(np.r_[summary[upper] if upper in summary.columns else summary[y], summary[y]])
        if individual is not None and not individual.empty:
            top = max(top, float(np.nanmax(individual[iy].to_numpy(float))))
        figure.update_yaxes(range=[0, float(top) * 1.05 + 1e-9], rangemode="tozero")
    figure.update_layout(title=title, height=480 + longest - 55)
    return with_definitions(figure, definitions, axis_space=longest)


def rate_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    rate: str,
    lower: str | None = None,
    upper: str | None = None,
    x_title: str,
    y_title: str,
    series: str | None = None,
    order: str | None = None,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    title: str = "",
    percent: bool = True,
) -> go.Figure:
    """Proportions (0-1) with 95% CI by a discrete x (infusion number, time point), one line
    per ``series`` value (e.g. group, or response vs remission); ``order`` sorts categorical x
    values. With ``percent`` the y axis runs 0-105 % with ticks 0-100 and the markers are not
    clipped, so a 100 % point is drawn whole instead of half cut by the top of the plot."""
    scale = 100 if percent else 1
    figure = go.Figure()
    key = series or "group"
    names = groups_in(frame, exclude_groups, key)
    colors = group_colors(groups_in(frame, column=key))  # before exclusion: a group keeps its colour
    for name in names:
        part = rows_of(frame, name, key).sort_values(order or x)
        error = None
        if lower and upper:
            error = dict(type="data", symmetric=False, array=scale * (part[upper] - part[rate]),
                         arrayminus=scale * (part[rate] - part[lower]), color=colors[name])
        figure.add_trace(go.Scatter(x=part[x], y=scale * part[rate], mode="lines+markers",
                                    name=name if name != "all" else "All patients", cliponaxis=not percent,
                                    line=dict(color=colors[name], width=2.5), error_y=error))
    axis_space = category_axis(figure, frame, x, order)
    figure.update_xaxes(title=x_title)
    values = pd.to_numeric(frame[x], errors="coerce") if x in frame.columns else pd.Series(dtype=float)
    if len(values) and values.notna().all() and (values % 1 == 0).all():
        # counts (infusion number): ticks on whole numbers only, never 1.5 or 2.5
        span = float(values.max() - values.min())
        figure.update_xaxes(tickmode="linear", tick0=float(values.min()), dtick=max(1, int(np.ceil(span / 15))),
                            tickformat="d")
    if percent:
        figure.update_yaxes(range=[0, 105], tickvals=[0, 25, 50, 75, 100])
    figure.update_yaxes(title=y_title)
    figure.update_layout(title=title, height=460 + axis_space - 55)
    return with_definitions(figure, definitions, axis_space=axis_space)


def bar_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    group: str | None = None,
    definitions: Sequence[str] = (),
    title: str = "",
    x_order: Sequence[Any] = (),
) -> go.Figure:
    """Bars of ``y`` by ``x`` (one colour per ``group``). ``x_order`` fixes the order of the
    categories (e.g. the full list when some cells were left out), else order of appearance."""
    figure = go.Figure()
    names = list(dict.fromkeys(frame[group].astype(str))) if group else ["all"]
    colors = group_colors(names)
    for name in names:
        part = frame[frame[group].astype(str) == name] if group else frame
        figure.add_trace(go.Bar(x=part[x], y=part[y], name=name if name != "all" else "All patients",
                                marker_color=colors[name]))
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(title=y_title)
    if len(x_order):
        figure.update_xaxes(categoryorder="array", categoryarray=[str(v) for v in x_order])
    figure.update_layout(title=title, barmode="group", height=440)
    return with_definitions(figure, definitions)


def scatter_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    group: str | None = None,
    facet: str | None = None,
    definitions: Sequence[str] = (),
    title: str = "",
    max_points: int | None = None,
) -> go.Figure:
    """Scatter of paired values (e.g. peak CADSS against % improvement), one panel per
    ``facet`` value, one colour per ``group``. ``max_points``: at most this many points per
    panel, a fixed random subset (seed 0), so 20,000 patients draw as fast as 2,000."""
    if max_points is not None and facet:
        rng = np.random.default_rng(0)
        order = pd.Series(rng.random(len(frame)), index=frame.index)
        rank = order.groupby(frame[facet].astype(str).to_numpy()).rank(method="first")
        frame = frame[rank.to_numpy() <= max_points]
    elif max_points is not None and len(frame) > max_points:
        frame = frame.iloc[np.sort(np.random.default_rng(0).choice(len(frame), max_points, replace=False))]
    facets = list(dict.fromkeys(frame[facet].astype(str))) if facet else [None]
    figure = make_subplots(rows=1, cols=len(facets), shared_yaxes=True,
                           subplot_titles=[str(f) for f in facets] if facet else None)
    names = list(dict.fromkeys(frame[group].astype(str))) if group else ["all"]
    colors = group_colors(names)
    for j, panel in enumerate(facets, start=1):
        part = frame[frame[facet].astype(str) == panel] if facet else frame
        for name in names:
            sub = part[part[group].astype(str) == name] if group else part
            figure.add_trace(go.Scatter(x=sub[x], y=sub[y], mode="markers",
                                        marker=dict(color=colors[name], size=6, opacity=0.7),
                                        name=name if name != "all" else "Patients",
                                        legendgroup=name, showlegend=j == 1), row=1, col=j)
        figure.update_xaxes(title=x_title, row=1, col=j)
    figure.update_yaxes(title=y_title, row=1, col=1)
    figure.update_layout(title=title, height=460)
    if facet:  # panel titles sit where the legend would: lift the legend above them
        figure.update_layout(legend=dict(y=1.1), margin=dict(t=120))
    # x titles of subplots sit a little lower than a single plot's: keep the notes clear of them
    return with_definitions(figure, definitions, axis_space=70)


def residual_figure(
    bins: pd.DataFrame,
    *,
    residuals: pd.DataFrame | None = None,
    x: str = "fitted",
    log_x: bool = False,
    x_title: str = "Fitted value (points)",
    max_points: int = 500,
    definitions: Sequence[str] = (),
    title: str = "Residuals against fitted values",
) -> go.Figure:
    """Residual check: the mean residual (95% CI) per bin (``bins`` from ``residual_check()``:
    low, high, mean_residual, lower, upper, in the unit of what the residuals are checked against)
    at each bin's mid-point, a zero line, and optionally the residuals themselves (``residuals``
    with the ``x`` column, ``fitted`` or a time, and ``residual``; at most ``max_points``, a fixed
    random subset, seed 0, its size in the legend) in grey. ``log_x``: a logarithmic axis (time
    in hours or days: minutes and weeks both readable), the bins at their geometric mid-points and
    values not above 0 left out. A model that fits has the binned means on the zero line, without
    a trend. Every marker is an SVG element the browser styles one by one (2,000 take about 0.5 s
    to draw, 500 about 0.1 s): the binned means carry the check, the points only show the spread."""
    figure = go.Figure()
    if residuals is not None and log_x:
        residuals = residuals[residuals[x] > 0]
    if residuals is not None and not residuals.empty:
        shown, name = residuals, "Ratings"
        if len(shown) > max_points:
            shown = shown.iloc[np.sort(np.random.default_rng(0).choice(len(shown), max_points, replace=False))]
            name = f"Ratings ({max_points:,} of {len(residuals):,}, a random subset)"
        figure.add_trace(go.Scatter(x=shown[x], y=shown["residual"], mode="markers", name=name,
                                    marker=dict(color="rgba(128,128,128,0.35)", size=4), hoverinfo="skip"))
    if log_x:
        bins = bins[bins["high"] > 0]
        middle = np.sqrt(np.maximum(bins["low"], bins["high"] / 10) * bins["high"])  # a bin from 0: a decade wide
    else:
        middle = (bins["low"] + bins["high"]) / 2
    figure.add_trace(go.Scatter(
        x=middle, y=bins["mean_residual"], mode="lines+markers", name="Mean residual per bin (95% CI)",
        line=dict(color=OKABE_ITO[0], width=2.5),
        error_y=dict(type="data", symmetric=False, array=bins["upper"] - bins["mean_residual"],
                     arrayminus=bins["mean_residual"] - bins["lower"], color=OKABE_ITO[0], thickness=1.2)))
    figure.add_hline(y=0, line=dict(color="rgba(128,128,128,0.9)", width=1, dash="dot"))
    figure.update_xaxes(title=x_title, type="log" if log_x else None)
    figure.update_yaxes(title="Residual: observed - fitted (points)")
    figure.update_layout(title=title, height=420)
    return with_definitions(figure, definitions)
