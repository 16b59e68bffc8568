"""Survival-type figures: onset (hours) and durability (days); the Cox forest plot is in ``forest``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._style import (
    MAX_OVERLAID_GROUPS,
    THEME_TEXT,
    band,
    colour_key,
    group_colors,
    groups_in,
    hour_ticks,
    rows_of,
    thin,
    time_ticks,
    with_definitions,
)

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
    medians: pd.DataFrame | None = None,
    test_text: str | None = None,
    bands: bool | None = None,
    reference: Any = None,
    colors: dict[str, str] | None = None,
    risk_table: pd.DataFrame | None = None,
    censor_marks: pd.DataFrame | None = None,
) -> go.Figure:
    """Cumulative proportion responding against hours since the infusion.

    ``curve`` has columns group (optional), time_hours, cumulative_response (0-1), lower, upper,
    source: "turnbull" (non-parametric, interval-censored; drawn as given), "kaplan_meier"
    (right-censored at the visit; steps) and "model" (fitted mixture-cure curve). Bands are
    drawn where lower/upper are given (``bands``, default: at most three groups). Vertical
    markers at 4 h and 24 h; hour ticks 0, 24, 48 ... (4-hourly within a day); the time axis is
    cut at ``max_hours`` (None: whole follow-up). ``medians``: group, median_onset_hours,
    median_onset_hours_lower, median_onset_hours_upper: the median onset among responders, marked
    on the model curve with its CI and written under the plot with ``test_text`` (e.g. the test's
    p-value). ``colors``: the group -> colour mapping (default ``group_colors(groups, reference)``).
    ``risk_table`` (group, time_hours, at_risk; ``OnsetResult.at_risk``): the number at risk
    written under the plot, one row per drawn group in its colour, each number at its tick's
    hour (``onset_ticks``; rows at other hours are not drawn), on a log axis too.
    ``censor_marks`` (group, time_hours, cumulative_response 0-1): the hours at which patients
    without a response left follow-up, drawn as ticks on the Kaplan-Meier curve (when
    ``sources`` has "kaplan_meier"), as survminer does.
    """
    groups = groups_in(curve, exclude_groups)
    colors = colors or group_colors(groups_in(curve), reference)  # before exclusion: a group keeps its colour
    ticks, x_range = onset_ticks(curve, max_hours=max_hours, log_time=log_time)
    with_risk = risk_table is not None and not risk_table.empty and bool(groups)
    figure, where = _onset_canvas(len(groups) if with_risk else 0)
    bands = len(groups) <= MAX_OVERLAID_GROUPS if bands is None else bands
    source = curve["source"] if "source" in curve.columns else pd.Series("turnbull", index=curve.index)
    drawn: dict[str, None] = {}
    for group in groups:
        color = colors[group]
        part = rows_of(curve, group)
        label = group if group != "all" else "All patients"
        named = False  # one legend entry per group (its colour); the line styles are keyed once below
        for name in sources:
            suffix, shape, dash, width = _ONSET_SOURCES.get(name, (name, "linear", "solid", 2.0))
            line = thin(part[source.loc[part.index] == name].sort_values("time_hours", kind="stable"), 800)
            if log_time:
                line = line[line["time_hours"] > 0]
            if line.empty:
                continue
            if bands and {"lower", "upper"} <= set(line.columns) and line["lower"].notna().any():
                band(figure, line["time_hours"], 100 * line["lower"], 100 * line["upper"], color, label,
                     shape=shape, legendgroup=label, **where)
            drawn[name] = None
            figure.add_trace(go.Scatter(
                x=line["time_hours"], y=100 * line["cumulative_response"], mode="lines",
                line=dict(color=color, width=width, dash=dash, shape=shape),
                name=label if not named else f"{label}: {suffix}", legendgroup=label, showlegend=not named,
                hovertemplate="%{x:.1f} h: %{y:.1f}% responding<extra>" + f"{label}, {suffix}" + "</extra>"),
                **where)
            named = True
        marks = None if censor_marks is None or "kaplan_meier" not in drawn else rows_of(censor_marks, group)
        if marks is not None and log_time:
            marks = marks[marks["time_hours"] > 0]
        if marks is not None and not marks.empty:
            marks = thin(marks.sort_values("time_hours", kind="stable"), 400)
            figure.add_trace(go.Scatter(
                x=marks["time_hours"], y=100 * marks["cumulative_response"], mode="markers",
                marker=dict(symbol="line-ns-open", size=9, color=color), name=f"{label} censored",
                legendgroup=label, showlegend=False,
                hovertemplate="censored at %{x:.1f} h<extra>" + label + "</extra>"), **where)
            drawn["censored"] = None
        if medians is not None and group in set(medians["group"].astype(str)):
            m = medians[medians["group"].astype(str) == group].iloc[0]
            median, lo, hi = (float(m[c]) for c in ("median_onset_hours", "median_onset_hours_lower",
                                                      "median_onset_hours_upper"))
            model = part[source.loc[part.index] == "model"].sort_values("time_hours")
            if np.isfinite(median) and not model.empty:
                y = 100 * float(np.interp(median, model["time_hours"], model["cumulative_response"]))
                figure.add_trace(go.Scatter(
                    x=[median], y=[y], mode="markers", name=f"{label} median onset", legendgroup=label,
                    showlegend=False, marker=dict(symbol="diamond", size=9, color=color,
                                                  line=dict(color="white", width=1)),
                    error_x=dict(type="data", symmetric=False,
                                 array=[hi - median if np.isfinite(hi) else 0],
                                 arrayminus=[median - lo if np.isfinite(lo) else 0], color=color, thickness=2,
                                 width=5),
                    hovertemplate=f"median onset {median_text(median, lo, hi, 'h')}<extra>{label}</extra>"),
                    **where)
    for name in drawn:
        if name == "censored":
            continue
        suffix, _, dash, width = _ONSET_SOURCES.get(name, (name, "linear", "solid", 2.0))
        _legend_key(figure, suffix, dash=dash, width=width)
    if "censored" in drawn:
        _legend_key(figure, "censored", symbol="line-ns-open")
    if medians is not None:
        _legend_key(figure, "median onset, 95% CI", symbol="diamond")
    for hours in markers_hours:
        # a trace, not a shape: trace coordinates stay in hours on a log axis too
        figure.add_trace(go.Scatter(x=[hours, hours], y=[0, 100], mode="lines+text",
                                    line=dict(color="gray", dash="dot", width=1),
                                    text=["", f" {hours:g} h"], textposition="bottom right",
                                    showlegend=False, hoverinfo="skip"), **where)
    lines = []
    if medians is not None:
        lines.append("Median onset of responders (95% CI):")
        lines += _median_lines(medians, groups, colors, lambda g: g if g != "all" else "All patients",
                               ("median_onset_hours", "median_onset_hours_lower", "median_onset_hours_upper"), "h")
    if test_text:
        lines.append(test_text)
    # every x axis (the risk table's too) shares the type and range, so its numbers sit under the ticks
    figure.update_xaxes(type="log" if log_time else "linear", range=x_range)
    figure.update_xaxes(title="Hours since the infusion" + (" (log scale)" if log_time else ""),
                        tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], showticklabels=True, **where)
    figure.update_yaxes(title="Patients responding (%)", range=[0, 100], **where)
    if with_risk:
        table = risk_table[risk_table["group"].astype(str).isin(groups)] if "group" in risk_table else risk_table
        _risk_rows(figure, table, groups, colors, ticks, row=2, col=1,
                   label_of=lambda g: g if g != "all" else "All patients", time_column="time_hours",
                   hover_x="%{x:g} h")
        figure.update_xaxes(zeroline=False, row=2, col=1)
        # the row labels clear of the numbers centred on the first tick (half a number past the axis start)
        figure.update_yaxes(ticklabelstandoff=14, row=2, col=1)
        figure.add_annotation(text="Number at risk", xref="x2 domain", yref="y2 domain", x=0, y=1,
                              xanchor="left", yanchor="bottom", showarrow=False,
                              font=dict(size=11, color=THEME_TEXT), yshift=-2)
        figure.update_layout(height=_ONSET_PLOT_PX + _RISK_GAP_PX + _risk_px(len(groups)) + 95 + 30,
                             margin=dict(t=95, b=30))
    else:
        figure.update_layout(height=500)
    # room right of the plot for the half of the last tick label (and risk number) past its end: a
    # label running past the figure is hidden by plotly, and Streamlit's theme sets no right margin
    figure.update_layout(title=title, margin=dict(r=_RIGHT_MARGIN_PX))
    # the medians and the tests under the chart (with_definitions' results): on the plot they cover a curve
    return with_definitions(figure, definitions, axis_space=20 if with_risk else 72, results=lines)


# px: the onset plot area, the gap under it for tick labels and the axis title, one risk-table row
_ONSET_PLOT_PX = 325
_RISK_GAP_PX = 78
_RISK_ROW_PX = 22
_RIGHT_MARGIN_PX = 24
# px: the top margin with the title and one row of legend (the template's), and that row
_TOP_MARGIN_PX = 95
_LEGEND_PX = 45


def _risk_px(n_rows: int) -> int:
    return _RISK_ROW_PX * n_rows + 12


def onset_ticks(curve: pd.DataFrame, *, max_hours: float | None = 168.0,
                log_time: bool = False) -> tuple[list[float], list[float]]:
    """The hour ticks of the onset figure and its x range (log10 units on a log axis): the
    axis runs to ``max_hours`` or the last hour of ``curve`` if earlier (None: the whole
    follow-up), ticks as ``hour_ticks``; the range covers every tick, with a little room at
    the ends for the numbers at risk written on the first and last ticks. Pass these hours to
    ``OnsetResult.at_risk`` for the table under the figure."""
    upper = float(curve["time_hours"].max()) if len(curve) else 168.0
    if not np.isfinite(upper) or upper <= 0:
        upper = 168.0
    if max_hours is not None:
        upper = min(float(max_hours), upper)
    ticks = [float(t) for t in hour_ticks(upper, log=log_time)]
    if log_time:
        low, high = np.log10(0.25), np.log10(max(upper, ticks[-1]))
        pad = 0.02 * (high - low)
        return ticks, [low - pad, high + pad]
    high = max(upper, ticks[-1])
    return ticks, [-0.02 * high, 1.02 * high]


def _onset_canvas(risk_rows: int) -> tuple[go.Figure, dict[str, int]]:
    """A plain figure, or (with ``risk_rows`` > 0) the plot over a risk table of that many
    rows on a shared x axis, laid out in pixels; returns the figure and where the plot's
    traces go."""
    if not risk_rows:
        return go.Figure(), {}
    risk_px = _risk_px(risk_rows)
    area = _ONSET_PLOT_PX + _RISK_GAP_PX + risk_px
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.0,
                           row_heights=[_ONSET_PLOT_PX, risk_px])
    figure.layout.yaxis.domain = [(risk_px + _RISK_GAP_PX) / area, 1.0]
    figure.layout.yaxis2.domain = [0.0, risk_px / area]
    return figure, dict(row=1, col=1)


def onset_result_figure(
    result: Any,
    *,
    log_time: bool = False,
    sources: Sequence[str] = ("turnbull", "model"),
    max_hours: float | None = 168.0,
    bands: bool | None = None,
    exclude_groups: Sequence[Any] = (),
    definitions: Sequence[str] = (),
    reference: Any = None,
    colors: dict[str, str] | None = None,
    risk_table: bool = True,
) -> go.Figure:
    """The onset figure of an ``OnsetResult`` (``analysis.fit_onset``): curves as in
    ``onset_figure``, the median onset among responders marked with its CI and written under the
    plot, with groups the tests' p-values (log-rank on the intervals' upper ends and the
    likelihood-ratio test of group-specific cure models), and (``risk_table``) the number at
    risk under the hour ticks (``result.at_risk(onset_ticks(...)[0])``). ``reference``: the
    grouping's reference group (first colour).

    Example::

        fit = analysis.fit_onset(analysis.load_sample(), by="course")
        figures.onset_result_figure(fit, log_time=True).show()
    """
    table = result.summary()
    medians = table[["median_onset_hours", "median_onset_hours_lower", "median_onset_hours_upper"]]
    medians = medians.rename_axis("group").reset_index().assign(group=lambda f: f["group"].astype(str))
    test_text = None
    if result.by is not None and result.test is not None and len(result.test):
        words = {"logrank_upper": "Log-rank", "likelihood_ratio_cure": "cure-model LR test"}
        test_text = "<br>".join(f"{words.get(str(r['test']), str(r['test']))}: {format_p(float(r['p_value']))}"
                              for _, r in result.test.iterrows())
        scope = groups_tested_text(table.index, exclude_groups)
        test_text += f"<br>(tests {scope})" if scope else ""
    levels = [str(g) for g in table.index]
    at_risk = None
    if risk_table:
        at_risk = result.at_risk(onset_ticks(result.curve, max_hours=max_hours, log_time=log_time)[0])
    return onset_figure(result.curve, log_time=log_time, sources=sources, max_hours=max_hours, bands=bands,
                        exclude_groups=exclude_groups, definitions=definitions, medians=medians,
                        test_text=test_text, colors=colors or group_colors(levels, reference), risk_table=at_risk,
                        censor_marks=onset_censor_marks(result))


def onset_censor_marks(result: Any) -> pd.DataFrame:
    """Where the onset Kaplan-Meier curve of an ``OnsetResult`` loses patients without a response
    (their last rating): group, time_hours, cumulative_response (1 - survival, 0-1) at each
    hour with at least one censoring."""
    frames = []
    for group, km in (getattr(result, "km", None) or {}).items():
        table = km.table[km.table["censored"] > 0]
        frames.append(pd.DataFrame({"group": str(group), "time_hours": table["time"].to_numpy(float),
                                    "cumulative_response": 1 - table["survival"].to_numpy(float)}))
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=["group", "time_hours", "cumulative_response"]))


# fit_durability's ``estimator`` column -> the legend's words
ESTIMATOR_NAMES = {
    "weibull": "Weibull model (interval-censored)",
    "loglogistic": "log-logistic model (interval-censored)",
    "lognormal": "log-normal model (interval-censored)",
    "exponential": "exponential model (interval-censored)",
    "turnbull": "Turnbull NPMLE (interval-censored)",
    "aalen_johansen": "Aalen-Johansen cumulative incidence (competing risks)",
}
KM_LABEL = "Kaplan-Meier at the detection visit"
_LEGEND_GREY = "rgba(128,128,128,0.9)"


def groups_tested_text(tested: Sequence[Any], exclude_groups: Sequence[Any]) -> str:
    """'over all 5 groups, 2 not drawn' when a test beside the figure includes groups the figure
    leaves out (``exclude_groups``, e.g. fewer patients than the minimum cell size); '' otherwise."""
    tested = [str(g) for g in tested]
    hidden = [g for g in tested if g in {str(x) for x in exclude_groups}]
    return f"over all {len(tested)} groups, {len(hidden)} not drawn" if hidden else ""


def format_p(p: float) -> str:
    """A p-value as printed on a figure: 'p = 0.034', 'p < 0.001'; 'p not computed' for NaN."""
    if p is None or not np.isfinite(p):
        return "p not computed"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def p_value_line(name: str, p_value: float, statistic: float, dof: int) -> str:
    """A test as written on a figure: 'Log-rank p = 0.034 (\u03c7\u00b2 4.51, 1 df)'."""
    return f"{name} {format_p(float(p_value))} (\u03c7\u00b2 {float(statistic):.2f}, {int(dof)} df)"


def median_text(median: float, lower: float, upper: float, unit: str) -> str:
    """'15.3 d (95% CI 12.2-19.3)'; 'not reached' for a NaN median; a NaN limit 'not estimated'."""
    def value(v: float) -> str:
        return f"{v:.1f}" if v is not None and np.isfinite(v) else "not estimated"
    if median is None or not np.isfinite(median):
        return "not reached"
    return f"{median:.1f} {unit} (95% CI {value(lower)}–{value(upper)})"


def _median_lines(medians: pd.DataFrame, groups: Sequence[str], colors: dict[str, str], label_of,
                  columns: Sequence[str], unit: str) -> list[str]:
    """One line per group for the text under the plot: its colour key, label and median (95% CI);
    ``columns``: the median, lower and upper columns of ``medians``."""
    lines = []
    for group in groups:
        part = medians[medians["group"].astype(str) == group]
        if not part.empty:
            m = part.iloc[0]
            lines.append(f"{colour_key(colors[group])} {label_of(group)}: "
                         + median_text(*(m[c] for c in columns), unit))
    return lines


def _legend_key(figure: go.Figure, name: str, *, dash: str = "solid", symbol: str | None = None,
                width: float = 2.5) -> None:
    """A grey legend entry naming a line style (the estimator), shared by all groups."""
    if symbol:
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=name,
                                    marker=dict(symbol=symbol, size=10, color=_LEGEND_GREY)))
    else:
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, legendgroup=name,
                                    line=dict(color=_LEGEND_GREY, dash=dash, width=width)))


def _axis_name(kind: str, index: int) -> str:
    return kind if index == 1 else f"{kind}{index}"


def _risk_rows(figure: go.Figure, table: pd.DataFrame, groups: Sequence[str], colors: dict[str, str],
               ticks: Sequence[float], row: int, col: int, label_of, names: Sequence[str] | None = None,
               time_column: str = "time_days", hover_x: str = "day %{x:g}") -> None:
    """Number at risk, one text row per group, each number exactly at its tick's time
    (``time_column``: days, or hours for onset). Numbers and row labels are in ``THEME_TEXT``
    (small text, WCAG AA 4.5:1 in either theme), each label after its group's ``colour_key``."""
    for i, group in enumerate(groups):
        part = rows_of(table, group)
        part = part[np.isin(part[time_column].to_numpy(float).round(9), np.round(ticks, 9))]
        figure.add_trace(go.Scatter(
            x=part[time_column].to_numpy(float), y=[i] * len(part), mode="text", name=f"{label_of(group)} at risk",
            text=part["at_risk"].astype("Int64").astype(str), textfont=dict(color=THEME_TEXT, size=11),
            showlegend=False, hovertemplate=hover_x + ": %{text} at risk<extra>" + label_of(group) + "</extra>",
            cliponaxis=False), row=row, col=col)
    figure.update_yaxes(tickvals=list(range(len(groups))), range=[len(groups) - 0.5, -0.5],
                        ticktext=[f"{colour_key(colors[g])} {name}" for g, name in
                                  zip(groups, names or [label_of(g) for g in groups], strict=True)],
                        showgrid=False, showline=False, zeroline=False, ticks="", automargin=True,
                        fixedrange=True, tickfont=dict(color=THEME_TEXT), row=row, col=col)
    figure.update_xaxes(showticklabels=False, showgrid=False, showline=False, ticks="", row=row, col=col)


# px: a small multiple's title (the group in bold, its median under it) above its panel, and the
# gap between the title and the plotting area
PANEL_TITLE_PX = 34
PANEL_TITLE_GAP_PX = 4


def durability_figure(
    curve: pd.DataFrame,
    *,
    risk_table: pd.DataFrame | None = None,
    model_curve: pd.DataFrame | None = None,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    marks_days: Sequence[float] = (),
    origin_label: str = "Days since response",
    max_points: int = 600,
    title: str | None = None,
    headline: pd.DataFrame | None = None,
    medians: pd.DataFrame | None = None,
    test_text: str | None = None,
    show_km: bool = True,
    bands: bool | None = None,
    facets: bool | None = None,
    reference: Any = None,
    colors: dict[str, str] | None = None,
    incidence: bool = False,
    tick_step_days: float = 7.0,
) -> go.Figure:
    """Survival of response (or cumulative incidence of relapse) against days, survminer-style.

    ``curve``: Kaplan-Meier steps at the detection visit: group (optional), time_days, survival,
    lower, upper, censored (censor marks are drawn on it). ``headline`` (optional): the headline
    estimate per group: group, time_days, survival (or, with ``incidence``, the cumulative
    incidence of relapse, 0-1), lower, upper (may be NaN), estimator (legend words); drawn solid,
    the Kaplan-Meier curve then thin and dotted (``show_km``). Without ``headline`` the
    Kaplan-Meier curve is the solid one and ``model_curve`` (group, time_days, survival) a dashed
    parametric overlay. ``medians``: group, median_days, median_days_lower, median_days_upper
    (NaN = not reached / not estimated): marked at 50% with its CI and written under the plot with
    ``test_text`` (e.g. the log-rank p-value). ``risk_table``: group, time_days, at_risk: drawn
    under the plot, its numbers exactly on the x ticks (every ``tick_step_days`` days, widened to
    whole multiples when follow-up is long). ``bands`` (default: at most three groups) draws the
    95% bands; ``facets`` (default: more than three groups) draws one panel per group with the
    ``reference`` group in grey for comparison, each panel titled above its plotting area (the
    group and its median). ``colors``: the group -> colour mapping
    (default ``group_colors(groups, reference)``). Curves with more than ``max_points`` distinct
    times are thinned evenly for drawing; ``marks_days`` adds faint vertical lines.
    """
    all_groups = groups_in(curve)
    groups = groups_in(curve, exclude_groups)
    colors = colors or group_colors(all_groups, reference)  # before exclusion: a group keeps its colour
    bands = len(groups) <= MAX_OVERLAID_GROUPS if bands is None else bands
    with_risk = risk_table is not None and not risk_table.empty

    def label_of(group: str) -> str:
        return "All responders" if group == "all" else group

    if title is None:
        title = ("Cumulative incidence of relapse among responders" if incidence
                 else "Sustained response among responders")
    y_title = "Relapsed (cumulative incidence, %)" if incidence else "Still responding (%)"
    times = [curve["time_days"].max()] + ([headline["time_days"].max()] if headline is not None and len(headline) else [])
    facets = (len(groups) > MAX_OVERLAID_GROUPS if facets is None else facets) and len(groups) > 1
    ticks = time_ticks(float(np.nanmax(times)) if len(curve) else tick_step_days, tick_step_days,
                       max_ticks=7 if facets else 12)  # narrow panels: fewer ticks
    span = ticks[-1] - ticks[0]
    x_range = [-0.03 * span, ticks[-1] + 0.03 * span]

    # layout: one panel, or a grid of panels; each panel has its risk table under it
    n_panels = len(groups) if facets else 1
    n_cols = 1 if n_panels == 1 else 2  # two columns stay readable at 800 px
    n_rows = int(np.ceil(n_panels / n_cols))
    plot_px = 360 if n_panels == 1 else 230
    risk_px = (22 * (1 if facets else len(groups)) + 12) if with_risk else 0
    gap_px = 40 if facets else 62  # tick labels (and the axis title) between a panel and its risk table
    between_px = 60 if facets else 0  # panel titles (two lines) above every row of panels
    rows_px = []
    for _ in range(n_rows):
        rows_px += [plot_px] + ([risk_px] if with_risk else [])
    per_row = 2 if with_risk else 1
    spacing_px = [gap_px if (with_risk and k % 2 == 0) else between_px for k in range(len(rows_px) - 1)]
    area = sum(rows_px) + sum(spacing_px)
    # make_subplots takes one vertical spacing: use the largest gap, heights set exactly below
    figure = make_subplots(rows=len(rows_px), cols=n_cols, shared_xaxes="all", horizontal_spacing=0.08,
                           vertical_spacing=0.0, row_heights=rows_px,
                           subplot_titles=None)
    # domains in pixels, top to bottom
    top = area
    domains = []
    for k, px in enumerate(rows_px):
        domains.append(((top - px) / area, top / area))
        top -= px + (spacing_px[k] if k < len(spacing_px) else 0)
    for k, (low, high) in enumerate(domains):
        for c in range(n_cols):
            index = k * n_cols + c + 1
            figure.layout[_axis_name("yaxis", index)].domain = [max(low, 0.0), min(high, 1.0)]

    def cell(panel: int, risk: bool = False) -> dict[str, int]:
        r, c = divmod(panel, n_cols)
        return dict(row=r * per_row + 1 + (1 if risk else 0), col=c + 1)

    def axis_index(panel: int, risk: bool = False) -> int:
        where = cell(panel, risk)
        return (where["row"] - 1) * n_cols + where["col"]

    headline_names: dict[str, None] = {}
    for i, group in enumerate(groups):
        panel = i if facets else 0
        where = cell(panel)
        color = colors[group]
        label = label_of(group)
        part = rows_of(curve, group).sort_values("time_days", kind="stable")
        if part.empty or part["time_days"].iloc[0] > 0:  # start every curve at (0, 1)
            start = pd.DataFrame({"time_days": [0.0], "survival": [1.0], "lower": [1.0], "upper": [1.0],
                                  "censored": [0]})
            part = pd.concat([start, part], ignore_index=True)
        censored_rows = pd.DataFrame()
        if "censored" in part.columns:
            censored_rows = thin(part[pd.to_numeric(part["censored"], errors="coerce").fillna(0) > 0], max_points // 2)
        part = thin(part, max_points)
        km_y = (lambda s: 100 * (1 - s)) if incidence else (lambda s: 100 * s)
        lead = None if headline is None else rows_of(headline, group).sort_values("time_days", kind="stable")
        if facets and reference is not None and str(reference) != group and headline is not None:
            ref = thin(rows_of(headline, str(reference)).sort_values("time_days", kind="stable"), max_points)
            figure.add_trace(go.Scatter(
                x=ref["time_days"], y=100 * ref["survival"], mode="lines", name=f"reference: {reference}",
                legendgroup="reference", showlegend=i == next(j for j, g in enumerate(groups) if g != str(reference)),
                line=dict(color="rgba(128,128,128,0.7)", width=1.5),
                hovertemplate="day %{x:.1f}: %{y:.1f}%<extra>reference " + str(reference) + "</extra>"), **where)
        if lead is not None and not lead.empty:
            estimator = str(lead["estimator"].iloc[0]) if "estimator" in lead.columns else "headline"
            headline_names[estimator] = None
            lead = thin(lead, max_points)
            shape = "hv" if incidence else "linear"
            if bands and {"lower", "upper"} <= set(lead.columns) and lead["lower"].notna().any():
                band(figure, lead["time_days"], 100 * lead["lower"], 100 * lead["upper"], color, label,
                     shape=shape, legendgroup=label, **where)
            figure.add_trace(go.Scatter(
                x=lead["time_days"], y=100 * lead["survival"], mode="lines", name=label, legendgroup=label,
                showlegend=not facets, line=dict(color=color, width=2.5, shape=shape),
                hovertemplate="day %{x:.1f}: %{y:.1f}%<extra>" + f"{label}, {estimator}" + "</extra>"), **where)
        if show_km or lead is None or lead.empty:
            solid = lead is None or lead.empty
            if solid and bands and {"lower", "upper"} <= set(part.columns):
                band(figure, part["time_days"], km_y(part["lower"]), km_y(part["upper"]), color, label,
                     shape="hv", legendgroup=label, **where)
            figure.add_trace(go.Scatter(
                x=part["time_days"], y=km_y(part["survival"]), mode="lines",
                name=label if solid else f"{label}: {KM_LABEL}", legendgroup=label,
                showlegend=solid and not facets,
                line=dict(color=color, width=2.5 if solid else 1.4, shape="hv", dash="solid" if solid else "dot"),
                hovertemplate="day %{x:.1f}: %{y:.1f}%<extra>" + f"{label}, {KM_LABEL}" + "</extra>"), **where)
            if not censored_rows.empty:
                figure.add_trace(go.Scatter(
                    x=censored_rows["time_days"], y=km_y(censored_rows["survival"]), mode="markers",
                    marker=dict(symbol="line-ns-open", size=9, color=color), name=f"{label} censored",
                    legendgroup=label, showlegend=False,
                    hovertemplate="censored at day %{x:.1f}<extra>" + label + "</extra>"), **where)
        if model_curve is not None and not model_curve.empty and (lead is None or lead.empty):
            model = thin(rows_of(model_curve, group).sort_values("time_days"), max_points)
            if not model.empty:
                figure.add_trace(go.Scatter(
                    x=model["time_days"], y=km_y(model["survival"]), mode="lines",
                    line=dict(color=color, width=1.8, dash="dash"), name=f"{label} (parametric fit)",
                    legendgroup=label, showlegend=not facets,
                    hovertemplate="day %{x:.1f}: %{y:.1f}% (parametric)<extra></extra>"), **where)
        if medians is not None and group in set(medians["group"].astype(str)):
            m = medians[medians["group"].astype(str) == group].iloc[0]
            median, lo, hi = (float(m[c]) for c in ("median_days", "median_days_lower", "median_days_upper"))
            if np.isfinite(median):
                err_plus = (hi - median) if np.isfinite(hi) else None
                err_minus = (median - lo) if np.isfinite(lo) else None
                figure.add_trace(go.Scatter(
                    x=[median], y=[50], mode="markers", name=f"{label} median", legendgroup=label,
                    showlegend=False, marker=dict(symbol="diamond", size=9, color=color,
                                                  line=dict(color="white", width=1)),
                    error_x=dict(type="data", symmetric=False, array=[err_plus or 0], arrayminus=[err_minus or 0],
                                 color=color, thickness=2, width=5, visible=bool(err_plus or err_minus)),
                    hovertemplate=f"median {median_text(median, lo, hi, 'days')}<extra>{label}</extra>"), **where)
                figure.add_trace(go.Scatter(
                    x=[median, median], y=[0, 50], mode="lines", showlegend=False, hoverinfo="skip",
                    line=dict(color=color, width=1, dash="dot"), legendgroup=label), **where)
        if facets:
            text = [f"<b>{label}</b>"]
            if medians is not None and group in set(medians["group"].astype(str)):
                m = medians[medians["group"].astype(str) == group].iloc[0]
                text.append("median " + median_text(m["median_days"], m["median_days_lower"],
                                                    m["median_days_upper"], "d"))
            # the panel's title, above its plotting area (inside it, it covered a curve)
            index = axis_index(panel)
            figure.add_annotation(text="<br>".join(text), xref=f"{_axis_name('x', index)} domain", x=0,
                                  xanchor="left", yref="paper", y=domains[cell(panel)["row"] - 1][1],
                                  yanchor="bottom", yshift=PANEL_TITLE_GAP_PX, showarrow=False, align="left",
                                  font=dict(size=11))
        if with_risk and facets:
            _risk_rows(figure, rows_of(risk_table, group), [group], colors, ticks, label_of=label_of,
                       names=["at risk"], **cell(panel, risk=True))
    if with_risk and not facets:
        table = risk_table[risk_table["group"].astype(str).isin(groups)] if "group" in risk_table else risk_table
        _risk_rows(figure, table, groups, colors, ticks, label_of=label_of, **cell(0, risk=True))

    # the text under the plot: medians with CIs (one panel) and the test
    lines = []
    if medians is not None and not facets:
        lines.append("Median (95% CI):")
        lines += _median_lines(medians, groups, colors, label_of,
                               ("median_days", "median_days_lower", "median_days_upper"), "d")
    if test_text and not facets:
        lines.append(test_text)
    subtitle = test_text if test_text and facets else None  # inside a panel it would cover a curve
    # style keys: the estimator of each line, named once
    if headline_names:
        for name in headline_names:
            _legend_key(figure, name)
        if show_km:
            _legend_key(figure, KM_LABEL, dash="dot", width=1.6)
    if show_km or not headline_names:
        _legend_key(figure, "censored", symbol="line-ns-open")
    if medians is not None:
        _legend_key(figure, "median, 95% CI", symbol="diamond")
    for panel in range(n_panels):
        index = axis_index(panel)
        figure.add_hline(y=50, line=dict(color="gray", dash="dot", width=1), **cell(panel))
        for day in marks_days:
            figure.add_vline(x=day, line=dict(color="rgba(128,128,128,0.35)", width=1), **cell(panel))
        figure.update_xaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], range=x_range,
                            showticklabels=True, title=origin_label if not (facets and with_risk) else None,
                            **cell(panel))
        figure.update_yaxes(range=[0, 102], title=y_title if panel % n_cols == 0 else None,
                            tickvals=[0, 25, 50, 75, 100], **cell(panel))
        if with_risk and facets and panel >= n_panels - n_cols:  # the bottom panel of each column
            figure.update_xaxes(title=dict(text=origin_label, standoff=2), **cell(panel, risk=True))
        if with_risk and not facets:
            figure.add_annotation(text="Number at risk", xref=f"{_axis_name('x', axis_index(panel, True))} domain",
                                  yref=f"{_axis_name('y', axis_index(panel, True))} domain", x=0, y=1,
                                  xanchor="left", yanchor="bottom", showarrow=False,
                                  font=dict(size=11, color=THEME_TEXT), yshift=-2)
        del index
    # unused cells of the grid (e.g. 5 groups in 3 columns) stay empty
    for panel in range(n_panels, n_rows * n_cols):
        for risk in (False, True) if with_risk else (False,):
            index = axis_index(panel, risk)
            figure.layout[_axis_name("xaxis", index)].visible = False
            figure.layout[_axis_name("yaxis", index)].visible = False
    # facets: the first row's panel titles sit above the plotting area, the legend above them
    titles_px = PANEL_TITLE_PX if facets else 0
    margin_t = 95 + (40 if subtitle else 0) + titles_px
    figure.update_layout(title=dict(text=title, subtitle=dict(text=subtitle, font=dict(size=12))),
                         height=int(area + margin_t + 40), margin=dict(t=margin_t),
                         showlegend=True)
    if facets:
        figure.update_layout(legend=dict(y=1 + titles_px / area))
    # the medians and the test under the chart (with_definitions' results): on the plot they cover a curve
    return with_definitions(figure, definitions, axis_space=20 if with_risk else 55, results=lines)


def durability_curves(result: Any, *, incidence: bool | None = None) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """The headline curve per group of a ``DurabilityResult`` (as its ``estimator`` column
    says) and the medians to mark: the interval-censored model's curve with its band, the
    Turnbull NPMLE (no band), or, with a competing strategy, the Aalen-Johansen cumulative
    incidence of relapse (groups without a competing event: 1 - their headline survival).
    Returns (headline, medians, incidence)."""
    table = result.summary()
    estimators = table["estimator"].astype(str)
    incidence = bool((estimators == "aalen_johansen").any()) if incidence is None else incidence
    frames = []
    for group, estimator in estimators.items():
        group = str(group)
        if estimator == "aalen_johansen":
            cif = rows_of(result.cumulative_incidence, group)
            part = cif[cif["event"] == 1].rename(columns={"cif": "survival"})[["time_days", "survival", "lower", "upper"]]
            if not incidence:
                part = part.assign(survival=1 - part["survival"], lower=1 - part["upper"], upper=1 - part["lower"])
        elif estimator == "turnbull":
            part = rows_of(result.npmle_curve, group)[["time_days", "survival"]].assign(lower=np.nan, upper=np.nan)
        elif estimator in ESTIMATOR_NAMES:
            part = rows_of(result.model_curve, group)[["time_days", "survival", "lower", "upper"]]
        else:
            continue
        if incidence and estimator != "aalen_johansen":
            part = part.assign(survival=1 - part["survival"], lower=1 - part["upper"], upper=1 - part["lower"])
        frames.append(part.assign(group=group, estimator=ESTIMATOR_NAMES.get(estimator, estimator)))
    headline = (pd.concat(frames, ignore_index=True) if frames else
                pd.DataFrame(columns=["time_days", "survival", "lower", "upper", "group", "estimator"]))
    medians = table[["median_days", "median_days_lower", "median_days_upper"]].rename_axis("group").reset_index()
    medians["group"] = medians["group"].astype(str)
    return headline, medians, incidence


def durability_result_figure(
    result: Any,
    *,
    show_km: bool = True,
    bands: bool | None = None,
    facets: bool | None = None,
    exclude_groups: Sequence[Any] = (),
    definitions: Sequence[str] = (),
    origin_label: str = "Days since response",
    colors: dict[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """The durability figure of a ``DurabilityResult`` (``analysis.fit_durability``): its
    headline estimate per group, named in the legend (interval-censored model or Turnbull NPMLE;
    with a competing strategy the Aalen-Johansen cumulative incidence of relapse replaces
    1 - survival), the Kaplan-Meier curve at the detection visit with censor marks
    (``show_km``), the median and its 95% CI marked and written under the plot, the log-rank p-value
    when grouped (with a competing strategy, Gray's test of the cumulative incidences of relapse,
    ``result.gray_test``), and the number at risk under the 7-day ticks. ``bands``/``facets`` as
    in ``durability_figure``; group colours from ``group_colors(levels, result.reference)``.

    Example::

        fit = analysis.fit_durability(analysis.load_sample(), by="course")
        figures.durability_result_figure(fit).show()
    """
    headline, medians, incidence = durability_curves(result)
    levels = [str(g) for g in result.summary().index]
    test_text = None
    gray = result.gray_test  # filled with a competing strategy and groups
    relapse = gray[gray["event"] == 1] if len(gray) else gray
    if result.by is not None and incidence and len(relapse):
        # the cumulative incidences drawn are compared by Gray's test
        row = relapse.iloc[0]
        test_text = p_value_line("Gray's test", row["p_value"], row["statistic"], row["dof"])
        scope = groups_tested_text(levels, exclude_groups)
        test_text += f"<br>{scope}" if scope else ""
    elif result.by is not None and result.logrank is not None:
        test = result.logrank
        # with a competing strategy the competing events censor relapse in the log-rank test: it
        # compares the cause-specific hazards of relapse, not the cumulative incidences drawn
        name = "Log-rank, cause-specific hazard of relapse:" if incidence else "Log-rank"
        test_text = p_value_line(name, test.p_value, test.statistic, test.dof)
        scope = groups_tested_text(test.table["group"], exclude_groups)
        test_text += f"<br>{scope}" if scope else ""
    return durability_figure(
        result.curve, risk_table=result.risk_table, headline=headline, medians=medians, test_text=test_text,
        show_km=show_km and not incidence, bands=bands, facets=facets, reference=result.reference,
        colors=colors or group_colors(levels, result.reference), incidence=incidence,
        exclude_groups=exclude_groups, definitions=definitions, origin_label=origin_label, title=title)


def response_state_figure(
    result: Any,
    *,
    definitions: Sequence[str] = (),
    exclude_groups: Sequence[Any] = (),
    marks_days: Sequence[float] = (1, 7, 14, 28),
    bands: bool | None = None,
    reference: Any = None,
    colors: dict[str, str] | None = None,
    max_points: int = 600,
    title: str = "Patients in response, day by day",
) -> go.Figure:
    """Probability of being in response (responded and not yet relapsed) against days since the
    first infusion, among all treated patients, with its 95% bootstrap band, from a
    ``ResponseStateResult`` (``analysis.fit_response_state``). The values at ``marks_days`` are
    marked with their 95% CI and written beside the points; the curve ends where fewer than 10% of a group is still
    followed (``estimable_until_days``). Ticks every 7 days."""
    curve = result.curve
    levels = [str(g) for g in result.levels] or groups_in(curve)
    colors = colors or group_colors(levels, reference)
    groups = [g for g in levels if g not in {str(x) for x in exclude_groups}]
    bands = len(groups) <= MAX_OVERLAID_GROUPS if bands is None else bands
    figure = go.Figure()
    marks = result.at(list(marks_days))
    lines = []
    for group in groups:
        color = colors[group]
        label = "All patients" if group == "all" else group
        part = thin(rows_of(curve, group).sort_values("time_days", kind="stable"), max_points)
        if part.empty:
            continue
        if bands and part["lower"].notna().any():
            band(figure, part["time_days"], 100 * part["lower"], 100 * part["upper"], color, label,
                 legendgroup=label)
        figure.add_trace(go.Scatter(
            x=part["time_days"], y=100 * part["in_response"], mode="lines", name=label, legendgroup=label,
            line=dict(color=color, width=2.5),
            hovertemplate="day %{x:.1f}: %{y:.1f}% in response<extra>" + label + "</extra>"))
        at = rows_of(marks, group).dropna(subset=["in_response"])
        if not at.empty:
            # the values written beside the points: a box of numbers would cover a curve on a narrow chart;
            # in THEME_TEXT (small text at 4.5:1 in either theme), the point beside it in the group's
            figure.add_trace(go.Scatter(
                x=at["time_days"], y=100 * at["in_response"], mode="markers+text", name=f"{label} at days",
                text=[f"{100 * v:.0f}%" for v in at["in_response"]], cliponaxis=False,
                textposition="top right" if len(lines) % 2 == 0 else "bottom right",
                textfont=dict(color=THEME_TEXT, size=12), customdata=100 * at[["lower", "upper"]].to_numpy(),
                legendgroup=label, showlegend=False, marker=dict(size=8, color=color, line=dict(color="white", width=1)),
                error_y=dict(type="data", symmetric=False, array=100 * (at["upper"] - at["in_response"]),
                             arrayminus=100 * (at["in_response"] - at["lower"]), color=color, thickness=1.5, width=4),
                hovertemplate="day %{x:g}: %{y:.0f}% in response" + (  # no CI without a band (n_bootstrap=0)
                    " (95% CI %{customdata[0]:.0f}\u2013%{customdata[1]:.0f}%)" if at["lower"].notna().all() else "")
                + "<extra>" + label + "</extra>"))
        lines.append(group)
    upper = float(curve["time_days"].max()) if len(curve) else 28.0
    ticks = time_ticks(upper, 7.0)
    figure.update_xaxes(title="Days since the first infusion", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks],
                        range=[0, ticks[-1]])
    figure.update_yaxes(title="Patients in response (%)", range=[0, 100])
    # one curve needs no key: without the legend's row, the title sits just above the plot
    legend = len(lines) > 1
    figure.update_layout(title=title, showlegend=legend, height=460 if legend else 460 - _LEGEND_PX,
                         margin=dict(t=_TOP_MARGIN_PX if legend else _TOP_MARGIN_PX - _LEGEND_PX))
    return with_definitions(figure, definitions, axis_space=72)
