"""Figure builders: pure functions from results (or their tidy tables) to plotly figures.

One template for every figure: the Okabe-Ito colour-blind-safe palette, units on every axis
(onset in hours, durability in days), the definitions used written under the chart, and a
transparent background with mid-grey grid lines so a figure reads in light and dark themes.
The same functions work in a notebook and in exported reports::

    import analysis
    from analysis import figures
    onset = analysis.fit_onset(analysis.load_sample())
    figures.onset_figure(onset.curve, definitions=onset.settings.describe()).show()

Reference: Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations
that are friendly to colorblind people (2008), https://jfly.uni-koeln.de/color/.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

__all__ = [
    "OKABE_ITO",
    "TEMPLATE_NAME",
    "bar_figure",
    "durability_figure",
    "forest_figure",
    "group_colors",
    "onset_figure",
    "rate_figure",
    "scatter_figure",
    "spaghetti_patients",
    "trajectory_figure",
    "with_definitions",
]

# Okabe-Ito, black moved last so it is not the first group's colour on a dark background.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
TEMPLATE_NAME = "infusion_outcomes"
_GRID = "rgba(128,128,128,0.25)"

pio.templates[TEMPLATE_NAME] = go.layout.Template(
    layout=go.Layout(
        colorway=list(OKABE_ITO),
        font=dict(family="Inter, 'Source Sans Pro', Arial, sans-serif", size=13),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(gridcolor=_GRID, zerolinecolor=_GRID, linecolor="rgba(128,128,128,0.6)",
                   showline=True, ticks="outside"),
        yaxis=dict(gridcolor=_GRID, zerolinecolor=_GRID, linecolor="rgba(128,128,128,0.6)",
                   showline=True, ticks="outside"),
        title=dict(x=0, xanchor="left", y=1, yanchor="top", pad=dict(t=8), font=dict(size=16)),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0),
        hovermode="closest",
        margin=dict(l=70, r=20, t=95, b=80),
    )
)


def group_colors(groups: Iterable[Any]) -> dict[str, str]:
    """A fixed colour per group, in order of appearance (Okabe-Ito, then repeating)."""
    names = list(dict.fromkeys(str(g) for g in groups))
    return {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(names)}


def _rgba(hex_color: str, alpha: float) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def with_definitions(figure: go.Figure, definitions: Sequence[str] = (), *, width: int = 130,
                     axis_space: int = 55) -> go.Figure:
    """Write the definitions used under the chart (in the figure, so exports carry them).
    ``axis_space``: pixels below the plot taken by the x tick labels and title."""
    figure.update_layout(template=TEMPLATE_NAME)
    _legend_room(figure)
    if not definitions:
        return figure
    lines: list[str] = []
    for text in definitions:
        lines += textwrap.wrap(str(text), width) or [""]
    figure.add_annotation(
        text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0, xanchor="left",
        yanchor="top", yshift=-axis_space, showarrow=False, align="left", font=dict(size=11),
    )
    bottom = axis_space + 25 + 15 * len(lines)
    figure.update_layout(margin=dict(b=bottom), height=(figure.layout.height or 480) + 15 * len(lines))
    return figure


_ASSUMED_PLOT_WIDTH = 760  # px: a narrow column or a notebook; wider plots need fewer legend rows
_LEGEND_ROW = 21  # px per row of the horizontal legend
_TITLE_SPACE = 42  # px above the legend for the title


def _legend_room(figure: go.Figure) -> None:
    """Make room above the plot for the horizontal legend so it never overlaps the title.

    Plotly wraps a horizontal legend into rows and grows it upwards from just above the plot;
    with many entries (e.g. a model and an observed curve per group) the default top margin is
    too small. The rows are estimated from the entries' text (about 7 px per character plus the
    symbol) packed into a conservative plot width; the plot area keeps its height."""
    names = [str(t.name) for t in figure.data if t.name and t.showlegend is not False]
    if not names or figure.layout.showlegend is False:
        return
    rows, used = 1, 0
    for name in names:
        width = 50 + 7 * len(name)
        if used and used + width > _ASSUMED_PLOT_WIDTH:
            rows, used = rows + 1, 0
        used += width
    legend_y = figure.layout.legend.y if figure.layout.legend.y is not None else 1.01
    extra_above = 30 if legend_y > 1.05 else 0  # e.g. panel titles between plot and legend
    needed = _TITLE_SPACE + extra_above + _LEGEND_ROW * rows
    current = figure.layout.margin.t
    if current is None:
        current = figure.layout.template.layout.margin.t or 80
    if needed > current:
        figure.update_layout(margin=dict(t=needed), height=(figure.layout.height or 450) + needed - current)


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows, evenly spaced, first and last kept: a curve with thousands
    of distinct times draws the same at screen resolution and renders far faster."""
    if len(frame) <= max_points:
        return frame
    index = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[index]


def _category_space(categories: Sequence[str]) -> int:
    """Pixels below the plot for category tick labels: plotly turns long or many labels by
    up to 90 degrees, so reserve room for the longest one (about 6.5 px per character)."""
    longest = max((len(c) for c in categories), default=0)
    if len(categories) <= 8 and longest <= 10:
        return 55
    return 55 + int(6.5 * longest)


def _category_axis(figure: go.Figure, frame: pd.DataFrame, x: str, order: str | None) -> int:
    """Make ``x`` a categorical axis sorted by the ``order`` column (when ``frame`` has it) and
    return the pixels below the plot that its tick labels need."""
    if not (order and order in frame.columns):
        return 55
    categories = frame.sort_values(order)[x].astype(str).drop_duplicates().tolist()
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=categories)
    return _category_space(categories)


def _groups(frame: pd.DataFrame, exclude_groups: Sequence[Any] = (), column: str = "group") -> list[str]:
    if column not in frame.columns:
        return ["all"]
    excluded = {str(g) for g in exclude_groups}
    return [g for g in dict.fromkeys(frame[column].astype(str)) if g not in excluded]


def _select(frame: pd.DataFrame, group: str, column: str = "group") -> pd.DataFrame:
    if column not in frame.columns:
        return frame
    return frame[frame[column].astype(str) == group]


def _band(figure: go.Figure, x, lower, upper, color: str, name: str, *, shape: str = "linear",
          row: int | None = None, col: int | None = None, legendgroup: str | None = None) -> None:
    kwargs = dict(row=row, col=col) if row else {}
    figure.add_trace(go.Scatter(x=x, y=upper, mode="lines", line=dict(width=0, shape=shape),
                                hoverinfo="skip", showlegend=False, legendgroup=legendgroup), **kwargs)
    figure.add_trace(go.Scatter(x=x, y=lower, mode="lines", line=dict(width=0, shape=shape),
                                fill="tonexty", fillcolor=_rgba(color, 0.18), hoverinfo="skip",
                                name=f"{name} 95% CI", showlegend=False, legendgroup=legendgroup),
                     **kwargs)


# ---------------------------------------------------------------------------------------------
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
    groups = _groups(curve, exclude_groups)
    colors = group_colors(_groups(curve))  # before exclusion: a group keeps its colour
    source = curve["source"] if "source" in curve.columns else pd.Series("turnbull", index=curve.index)
    for group in groups:
        color = colors[group]
        part = _select(curve, group)
        label = group if group != "all" else "All patients"
        for name in sources:
            suffix, shape, dash, width = _ONSET_SOURCES.get(name, (name, "linear", "solid", 2.0))
            line = _thin(part[source.loc[part.index] == name].sort_values("time_hours", kind="stable"), 800)
            if log_time:
                line = line[line["time_hours"] > 0]
            if line.empty:
                continue
            if {"lower", "upper"} <= set(line.columns) and line["lower"].notna().any():
                _band(figure, line["time_hours"], 100 * line["lower"], 100 * line["upper"], color, label,
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
    groups = _groups(curve, exclude_groups)
    colors = group_colors(_groups(curve))  # before exclusion: a group keeps its colour
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
        part = _select(curve, group).sort_values("time_days")
        # start every curve at (0, 1) so the first step is drawn
        if part.empty or part["time_days"].iloc[0] > 0:
            start = pd.DataFrame({"time_days": [0.0], "survival": [1.0], "lower": [1.0], "upper": [1.0],
                                  "censored": [0]})
            part = pd.concat([start, part], ignore_index=True)
        censored_rows = pd.DataFrame()
        if "censored" in part.columns:
            censored_rows = _thin(part[pd.to_numeric(part["censored"], errors="coerce").fillna(0) > 0], max_points // 2)
        part = _thin(part, max_points)
        if {"lower", "upper"} <= set(part.columns):
            _band(figure, part["time_days"], 100 * part["lower"], 100 * part["upper"], color, label,
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
            model = _thin(_select(model_curve, group).sort_values("time_days"), max_points)
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
            part = _select(table, group)
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


def spaghetti_patients(individual: pd.DataFrame, max_patients: int = 200) -> list[str]:
    """The patients drawn as individual lines: all, or a fixed random subset (seed 0) of
    ``max_patients``."""
    ids = pd.unique(individual["patient_id"].astype(str))
    if len(ids) > max_patients:
        ids = np.random.default_rng(0).choice(ids, size=max_patients, replace=False)
    return sorted(str(i) for i in ids)


def _spaghetti(individual: pd.DataFrame, x: str, y: str, max_patients: int,
               sort_by: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays of all patients' lines separated by NaN gaps (one fast trace)."""
    if individual["patient_id"].nunique() > max_patients:
        keep = spaghetti_patients(individual, max_patients)
        individual = individual[individual["patient_id"].astype(str).isin(keep)]
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
    max_individuals: int = 200,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    title: str = "Scores over time",
) -> go.Figure:
    """Mean (with 95% CI) over time per group, optionally over thin grey individual
    trajectories (``individual`` with patient_id; at most ``max_individuals`` patients drawn,
    a fixed random subset) with some patients highlighted. ``order`` sorts categorical x
    values (e.g. visit labels by schedule order)."""
    figure = go.Figure()
    sort_key = order or x
    if individual is not None and not individual.empty:
        ix, iy = individual_x or x, individual_y or y
        sort_by = order if order and order in individual.columns else ix
        xs, ys = _spaghetti(individual, ix, iy, max_individuals, sort_by)
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", connectgaps=False,
                                    line=dict(color="rgba(128,128,128,0.22)", width=1),
                                    name="Individual patients", hoverinfo="skip"))
        for i, patient in enumerate(highlight):
            part = individual[individual["patient_id"].astype(str) == str(patient)]
            if order and order in part.columns:
                part = part.sort_values(order)
            figure.add_trace(go.Scatter(x=part[ix], y=part[iy], mode="lines+markers",
                                        line=dict(color=OKABE_ITO[(i + 5) % len(OKABE_ITO)], width=2.5),
                                        name=f"Patient {patient}"))
    groups = _groups(summary, exclude_groups)
    colors = group_colors(_groups(summary))  # before exclusion: a group keeps its colour
    for group in groups:
        part = _select(summary, group).sort_values(sort_key)
        label = group if group != "all" else "All patients"
        error = None
        if lower and upper and {lower, upper} <= set(part.columns):
            error = dict(type="data", symmetric=False, array=part[upper] - part[y],
                         arrayminus=part[y] - part[lower], color=colors[group], thickness=1.2)
        figure.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers", name=label,
                                    line=dict(color=colors[group], width=2.5), error_y=error))
    axis_space = _category_axis(figure, summary, x, order)
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(title=y_title)
    figure.update_layout(title=title, height=480 + axis_space - 55)
    return with_definitions(figure, definitions, axis_space=axis_space)


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
    values."""
    scale = 100 if percent else 1
    figure = go.Figure()
    key = series or "group"
    names = _groups(frame, exclude_groups, key)
    colors = group_colors(_groups(frame, column=key))  # before exclusion: a group keeps its colour
    for name in names:
        part = _select(frame, name, key).sort_values(order or x)
        error = None
        if lower and upper:
            error = dict(type="data", symmetric=False, array=scale * (part[upper] - part[rate]),
                         arrayminus=scale * (part[rate] - part[lower]), color=colors[name])
        figure.add_trace(go.Scatter(x=part[x], y=scale * part[rate], mode="lines+markers",
                                    name=name if name != "all" else "All patients",
                                    line=dict(color=colors[name], width=2.5), error_y=error))
    axis_space = _category_axis(figure, frame, x, order)
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(title=y_title, range=[0, 100] if percent else None)
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
) -> go.Figure:
    """Scatter of paired values (e.g. peak CADSS against % improvement), one panel per
    ``facet`` value, one colour per ``group``."""
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
