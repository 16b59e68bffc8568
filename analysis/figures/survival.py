"""Survival-type figures: onset (hours), durability (days) and the Cox forest plot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._style import OKABE_ITO, band, group_colors, groups_in, rows_of, thin, with_definitions

_ONSET_SOURCES = {
    # source -> (legend suffix, line shape, dash, width)
    "turnbull": ("observed, interval-censored (Turnbull)", "linear", "solid", 2.5),
    "kaplan_meier": ("observed at the visit (Kaplan-Meier)", "hv", "dot", 1.8),
    "model": ("mixture-cure model", "linear", "dash", 2.0),
}


def onset_figure(
    curve: pd.DataFrame,
    *,
    log_time: bool = False,
    sources: Sequence[str] = ("turnbull", "model"),
    max_hours: float | None = 168.0,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    markers_hours: Sequence[float] = (4.0, 24.0),
    title: str = "Cumulative response after the infusion",
) -> go.Figure:
    """Cumulative proportion responding against hours since the infusion.

    ``curve`` has columns group (optional), time_hours, cumulative_response (0-1), lower, upper,
    source: "turnbull" (non-parametric, interval-censored; drawn as given), "kaplan_meier"
    (right-censored at the visit; steps) and "model" (fitted mixture-cure curve). Bands are
    drawn where lower/upper are given. Vertical markers at 4 h and 24 h; the time axis is cut
    at ``max_hours`` (None: whole follow-up).
    """
    figure = go.Figure()
    groups = groups_in(curve, exclude_groups)
    colors = group_colors(groups_in(curve))  # before exclusion: a group keeps its colour
    source = curve["source"] if "source" in curve.columns else pd.Series("turnbull", index=curve.index)
    for group in groups:
        color = colors[group]
        part = rows_of(curve, group)
        label = group if group != "all" else "All patients"
        for name in sources:
            suffix, shape, dash, width = _ONSET_SOURCES.get(name, (name, "linear", "solid", 2.0))
            line = thin(part[source.loc[part.index] == name].sort_values("time_hours", kind="stable"), 800)
            if log_time:
                line = line[line["time_hours"] > 0]
            if line.empty:
                continue
            if {"lower", "upper"} <= set(line.columns) and line["lower"].notna().any():
                band(figure, line["time_hours"], 100 * line["lower"], 100 * line["upper"], color, label,
                      shape=shape, legendgroup=label)
            figure.add_trace(go.Scatter(
                x=line["time_hours"], y=100 * line["cumulative_response"], mode="lines",
                line=dict(color=color, width=width, dash=dash, shape=shape), name=f"{label}: {suffix}",
                legendgroup=label,
                hovertemplate="%{x:.1f} h: %{y:.1f}% responding<extra>" + suffix + "</extra>"))
    for hours in markers_hours:
        # a trace, not a shape: trace coordinates stay in hours on a log axis too
        figure.add_trace(go.Scatter(x=[hours, hours], y=[0, 100], mode="lines+text",
                                    line=dict(color="gray", dash="dot", width=1),
                                    text=["", f" {hours:g} h"], textposition="bottom right",
                                    showlegend=False, hoverinfo="skip"))
    figure.update_layout(title=title, height=500)
    figure.update_xaxes(title="Hours since the infusion" + (" (log scale)" if log_time else ""),
                        type="log" if log_time else "linear")
    if max_hours is not None:
        upper = min(float(max_hours), float(curve["time_hours"].max()) if len(curve) else float(max_hours))
        figure.update_xaxes(range=[np.log10(0.25), np.log10(upper)] if log_time else [0, upper])
    figure.update_yaxes(title="Patients responding (%)", range=[0, 100])
    return with_definitions(figure, definitions)


def durability_figure(
    curve: pd.DataFrame,
    *,
    risk_table: pd.DataFrame | None = None,
    model_curve: pd.DataFrame | None = None,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    marks_days: Sequence[float] = (7, 14, 21, 28),
    origin_label: str = "Days since response",
    max_points: int = 600,
    title: str = "Sustained response (Kaplan-Meier)",
) -> go.Figure:
    """Kaplan-Meier curve of sustained response with 95% CI band, censor marks, a median line,
    an optional parametric overlay and a number-at-risk table aligned under the time axis.
    Curves with more than ``max_points`` distinct times are thinned evenly for drawing.

    ``curve``: group (optional), time_days, survival, lower, upper, censored;
    ``risk_table``: group, time_days, at_risk; ``model_curve``: group, time_days, survival.
    """
    groups = groups_in(curve, exclude_groups)
    colors = group_colors(groups_in(curve))  # before exclusion: a group keeps its colour
    with_risk = risk_table is not None and not risk_table.empty
    if with_risk:
        figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22],
                               vertical_spacing=0.08)
        rows = dict(row=1, col=1)
    else:
        figure = go.Figure()
        rows = {}
    for group in groups:
        color = colors[group]
        label = group if group != "all" else "All responders"
        part = rows_of(curve, group).sort_values("time_days")
        # start every curve at (0, 1) so the first step is drawn
        if part.empty or part["time_days"].iloc[0] > 0:
            start = pd.DataFrame({"time_days": [0.0], "survival": [1.0], "lower": [1.0], "upper": [1.0],
                                  "censored": [0]})
            part = pd.concat([start, part], ignore_index=True)
        censored_rows = pd.DataFrame()
        if "censored" in part.columns:
            censored_rows = thin(part[pd.to_numeric(part["censored"], errors="coerce").fillna(0) > 0], max_points // 2)
        part = thin(part, max_points)
        if {"lower", "upper"} <= set(part.columns):
            band(figure, part["time_days"], 100 * part["lower"], 100 * part["upper"], color, label,
                  shape="hv", legendgroup=label, **rows)
        figure.add_trace(go.Scatter(
            x=part["time_days"], y=100 * part["survival"], mode="lines", name=label, legendgroup=label,
            line=dict(color=color, width=2.5, shape="hv"),
            hovertemplate="day %{x:.1f}: %{y:.1f}% still responding<extra></extra>"), **rows)
        if not censored_rows.empty:
            figure.add_trace(go.Scatter(
                x=censored_rows["time_days"], y=100 * censored_rows["survival"], mode="markers",
                marker=dict(symbol="line-ns-open", size=9, color=color), name=f"{label} censored",
                legendgroup=label, showlegend=False,
                hovertemplate="censored at day %{x:.1f}<extra></extra>"), **rows)
        if model_curve is not None and not model_curve.empty:
            model = thin(rows_of(model_curve, group).sort_values("time_days"), max_points)
            if not model.empty:
                figure.add_trace(go.Scatter(
                    x=model["time_days"], y=100 * model["survival"], mode="lines",
                    line=dict(color=color, width=1.8, dash="dash"), name=f"{label} (parametric fit)",
                    legendgroup=label,
                    hovertemplate="day %{x:.1f}: %{y:.1f}% (parametric)<extra></extra>"), **rows)
    figure.add_hline(y=50, line=dict(color="gray", dash="dot"), annotation_text="median",
                     annotation_position="bottom right", **rows)
    for day in marks_days:
        figure.add_vline(x=day, line=dict(color="rgba(128,128,128,0.35)", width=1), **rows)
    if with_risk:
        table = risk_table[risk_table["group"].astype(str).isin(groups)] if "group" in risk_table else risk_table
        for i, group in enumerate(groups):
            part = rows_of(table, group)
            figure.add_trace(go.Scatter(
                x=part["time_days"], y=[i] * len(part), mode="text",
                text=part["at_risk"].astype("Int64").astype(str), textfont=dict(color=colors[group], size=11),
                showlegend=False, hoverinfo="skip"), row=2, col=1)
        figure.update_yaxes(tickvals=list(range(len(groups))),
                            ticktext=[g if g != "all" else "All" for g in groups], autorange="reversed",
                            showgrid=False, showline=False, ticks="", title="At risk", row=2, col=1)
        figure.update_xaxes(title=origin_label, row=2, col=1, showgrid=False)
        figure.update_yaxes(title="Still responding (%)", range=[0, 102], row=1, col=1)
        figure.update_layout(height=560)
    else:
        figure.update_xaxes(title=origin_label)
        figure.update_yaxes(title="Still responding (%)", range=[0, 102])
        figure.update_layout(height=480)
    figure.update_layout(title=title)
    return with_definitions(figure, definitions)


def forest_figure(
    table: pd.DataFrame,
    *,
    definitions: Sequence[str] = (),
    title: str = "Hazard ratios for relapse (Cox model)",
    x_title: str = "Hazard ratio of relapse (log scale; < 1 = longer response)",
) -> go.Figure:
    """Forest plot of hazard ratios with 95% CI; ``table`` indexed by term with hr, hr_lower,
    hr_upper (and optionally p)."""
    frame = table.reset_index().rename(columns={table.index.name or "index": "term"})
    frame = frame.iloc[::-1]
    text = [f"{hr:.2f} ({lo:.2f}-{hi:.2f})" for hr, lo, hi in
            zip(frame["hr"], frame["hr_lower"], frame["hr_upper"], strict=True)]
    figure = go.Figure(go.Scatter(
        x=frame["hr"], y=frame["term"].astype(str), mode="markers",
        marker=dict(symbol="square", size=10, color=OKABE_ITO[0]),
        error_x=dict(type="data", symmetric=False, array=frame["hr_upper"] - frame["hr"],
                     arrayminus=frame["hr"] - frame["hr_lower"], color=OKABE_ITO[0]),
        text=text, hovertemplate="%{y}: HR %{text}<extra></extra>", showlegend=False))
    figure.add_vline(x=1, line=dict(color="gray", dash="dot"))
    # explicit 1-2-5 ticks written in full: plotly's default log ticks label 0.3 as "3"
    values = pd.concat([frame["hr_lower"], frame["hr_upper"], frame["hr"]]).to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    low, high = (min(values.min(), 1.0), max(values.max(), 1.0)) if values.size else (0.5, 2.0)
    ticks = [m * 10.0 ** e for e in range(-3, 4) for m in (1, 2, 5)]
    below = [t for t in ticks if t <= low]
    above = [t for t in ticks if t >= high]
    shown = [t for t in ticks if (below[-1] if below else ticks[0]) <= t <= (above[0] if above else ticks[-1])]
    figure.update_xaxes(type="log", title=x_title, tickvals=shown, ticktext=[f"{t:g}" for t in shown])
    figure.update_yaxes(title="Covariate (vs reference level)", automargin=True)
    figure.update_layout(title=title, height=max(320, 60 + 34 * len(frame)))
    return with_definitions(figure, definitions)
