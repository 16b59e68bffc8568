"""The figure template and helpers shared by every figure builder (palette, bands, legend room)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

# Okabe-Ito, black moved last so it is not the first group's colour on a dark background.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
TEMPLATE_NAME = "infusion_outcomes"
# characters per line of the definitions under a chart: 11 px text in a 460 px wide chart
DEFINITIONS_WIDTH = 78
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
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0, tracegroupgap=0),
        hovermode="closest",
        margin=dict(l=70, r=20, t=95, b=80),
    )
)


def group_colors(groups: Iterable[Any], reference: Any = None) -> dict[str, str]:
    """The one mapping from group label to colour used by every figure: the ``reference`` group
    (when given and present) takes the first Okabe-Ito colour, the others follow in order of
    appearance (then repeating). Pass all the grouping's levels in their order
    (``Grouping.levels``) and its reference, before leaving any group out, so a group keeps its
    colour on every page and in every figure."""
    names = list(dict.fromkeys(str(g) for g in groups))
    if reference is not None and str(reference) in names:
        names.remove(str(reference))
        names.insert(0, str(reference))
    return {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(names)}


# With more groups than this in one panel, curves and bands overlap beyond reading: figures draw
# one panel per group (small multiples) or leave the bands out by default.
MAX_OVERLAID_GROUPS = 3


def time_ticks(upper: float, step: float, max_ticks: int = 12) -> list[float]:
    """Ticks 0, step, 2 step, ... up to the first at or after ``upper``; the step is widened to a
    multiple of ``step`` so there are at most ``max_ticks`` ticks (7-day ticks stay on weeks)."""
    upper = max(float(upper), float(step)) if np.isfinite(upper) else float(step)
    multiple = max(1, int(np.ceil(np.ceil(upper / step) / (max_ticks - 1))))
    spacing = step * multiple
    return [spacing * i for i in range(int(np.ceil(upper / spacing - 1e-9)) + 1)]


def hour_ticks(upper: float, log: bool = False) -> list[float]:
    """Hour ticks a clinician reads at a glance: 0, 4, 8, 12, 24 ... within a day, 12- or 24-hour
    steps over days, whole weeks beyond; on a log axis 0.25, 0.5, 1, 2, 4, 8, 24, 48, 168 ..."""
    if log:
        base = [0.25, 0.5, 1, 2, 4, 8, 24, 48, 168, 336, 672, 1344]
        return [t for t in base if t <= upper * 1.0001] or base[:2]
    for limit, step in ((12, 2), (24, 4), (72, 12), (168, 24), (672, 168)):
        if upper <= limit:
            return time_ticks(upper, step)
    return time_ticks(upper, 168)


# Small text that must read at 4.5:1 (WCAG AA) in the app's light and dark theme: Streamlit's plotly
# theme replaces this placeholder colour in a chart's spec with its strongest text grey (its
# GRAY_90, streamlit.elements.lib.streamlit_plotly_theme: #262730 on the light theme, #fafafa on
# the dark one), where plain plot text gets its GRAY_70 (#808495, 3.7:1 on white); outside
# Streamlit (exports, notebooks, the HTML report) it is what it says, near-black on white.
THEME_TEXT = "#000037"


def colour_key(color: str) -> str:
    """A square in the group's colour, written before a group's name in text on a figure (the
    risk table's row labels, the medians box): the name and the numbers are in ``THEME_TEXT``,
    which reads at 4.5:1 or more in light and dark themes and in exports on white, where no
    single palette colour can (Okabe-Ito orange is 2.3:1 on white, blue 3.6:1 on Streamlit's dark
    background); the square carries the colour that identifies the group."""
    return f"<span style='color:{color}'>\u25a0</span>"


def rgba(hex_color: str, alpha: float) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def with_definitions(figure: go.Figure, definitions: Sequence[str] = (), *, width: int = DEFINITIONS_WIDTH,
                     axis_space: int = 55, results: Sequence[str] = ()) -> go.Figure:
    """Finish a figure: the template, room for the legend, every text in ``THEME_TEXT``
    (``theme_text``), and under the chart (in the figure, so exports carry them) the ``results``
    (e.g. medians and a test's p-value; lines may hold markup such as a ``colour_key``, plain
    ones are wrapped) and then the definitions used, wrapped at ``width`` characters (the default
    fits a 460 px chart: an 800 px window with the sidebar). Written under the plot area they
    cannot cover data however narrow the chart. ``axis_space``: pixels below the plot taken by the
    x tick labels and title."""
    figure.update_layout(template=TEMPLATE_NAME)
    legend_room(figure)
    theme_text(figure)
    grown = 0
    for lines, size, line_px in ((_caption_lines(results, width * 11 // 12), 12, _RESULT_LINE_PX),
                                 (_caption_lines(definitions, width), 11, _DEFINITION_LINE_PX)):
        if lines:
            grown += _CAPTION_GAP_PX if grown else 0
            figure.add_annotation(
                text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0, xanchor="left", yanchor="top",
                yshift=-(axis_space + grown), showarrow=False, align="left", font=dict(size=size),
            )
            grown += line_px * len(lines)
    if grown:
        figure.update_layout(margin=dict(b=axis_space + 25 + grown),
                             height=(figure.layout.height or 480) + grown)
    return figure


# px per line of the text under a chart (12 px results, 11 px definitions) and between the two blocks
_RESULT_LINE_PX = 17
_DEFINITION_LINE_PX = 15
_CAPTION_GAP_PX = 6


def _caption_lines(texts: Sequence[str], width: int) -> list[str]:
    """The lines of ``texts`` (each may hold ``<br>`` breaks): plain lines wrapped at ``width``
    characters, lines with markup (a colour key, bold) kept whole."""
    lines: list[str] = []
    for text in texts:
        for line in str(text).split("<br>"):
            lines += [line] if "<" in line else textwrap.wrap(line, width) or [""]
    return lines


def theme_text(figure: go.Figure) -> None:
    """Every text of ``figure`` not given a colour of its own in ``THEME_TEXT``: the layout's
    font (inherited by annotations and text beside points), every axis' tick labels and title, the
    legend and the subtitle. Set on the figure's own layout, since Streamlit's plotly theme merges
    its text greys (GRAY_70, 3.7:1 on white) into the figure's template in the browser (the
    frontend's applyStreamlitTheme), over whatever the template says, but leaves the layout alone;
    the placeholder in the layout is then replaced with its GRAY_90."""
    if figure.layout.font.color is None:
        figure.layout.font.color = THEME_TEXT
    for axis in [*figure.select_xaxes(), *figure.select_yaxes()]:
        if axis.tickfont.color is None:
            axis.tickfont.color = THEME_TEXT
        if axis.title.font.color is None:
            axis.title.font.color = THEME_TEXT
    legend = figure.layout.legend
    if legend.font.color is None:
        legend.font.color = THEME_TEXT
    if legend.title.font.color is None:
        legend.title.font.color = THEME_TEXT
    if figure.layout.title.subtitle.font.color is None:
        figure.layout.title.subtitle.font.color = THEME_TEXT


# px: the plot area of a chart in an 800 px window beside the sidebar (about 460 px wide less its
# margins); wider plots need fewer legend rows, so the legend may sit a little higher than needed
_ASSUMED_PLOT_WIDTH = 380
_LEGEND_ROW = 21  # px per row of the horizontal legend
_TITLE_SPACE = 42  # px above the legend for the title


def legend_room(figure: go.Figure) -> None:
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
    if figure.layout.title.subtitle.text:
        extra_above += 22
    needed = _TITLE_SPACE + extra_above + _LEGEND_ROW * rows
    current = figure.layout.margin.t
    if current is None:
        current = figure.layout.template.layout.margin.t or 80
    if needed > current:
        figure.update_layout(margin=dict(t=needed), height=(figure.layout.height or 450) + needed - current)


def thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows, evenly spaced, first and last kept: a curve with thousands
    of distinct times draws the same at screen resolution and renders far faster."""
    if len(frame) <= max_points:
        return frame
    index = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[index]


def category_space(categories: Sequence[str]) -> int:
    """Pixels below the plot for category tick labels: plotly turns long or many labels by
    up to 90 degrees, so reserve room for the longest one (about 6.5 px per character)."""
    longest = max((len(c) for c in categories), default=0)
    if len(categories) <= 8 and longest <= 10:
        return 55
    return 55 + int(6.5 * longest)


def category_axis(figure: go.Figure, frame: pd.DataFrame, x: str, order: str | None) -> int:
    """Make ``x`` a categorical axis sorted by the ``order`` column (when ``frame`` has it) and
    return the pixels below the plot that its tick labels need."""
    if not (order and order in frame.columns):
        return 55
    categories = frame.sort_values(order)[x].astype(str).drop_duplicates().tolist()
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=categories)
    return category_space(categories)


def groups_in(frame: pd.DataFrame, exclude_groups: Sequence[Any] = (), column: str = "group") -> list[str]:
    if column not in frame.columns:
        return ["all"]
    excluded = {str(g) for g in exclude_groups}
    return [g for g in dict.fromkeys(frame[column].astype(str)) if g not in excluded]


def rows_of(frame: pd.DataFrame, group: str, column: str = "group") -> pd.DataFrame:
    if column not in frame.columns:
        return frame
    return frame[frame[column].astype(str) == group]


def band(figure: go.Figure, x, lower, upper, color: str, name: str, *, shape: str = "linear",
          row: int | None = None, col: int | None = None, legendgroup: str | None = None) -> None:
    kwargs = dict(row=row, col=col) if row else {}
    figure.add_trace(go.Scatter(x=x, y=upper, mode="lines", line=dict(width=0, shape=shape),
                                hoverinfo="skip", showlegend=False, legendgroup=legendgroup), **kwargs)
    figure.add_trace(go.Scatter(x=x, y=lower, mode="lines", line=dict(width=0, shape=shape),
                                fill="tonexty", fillcolor=rgba(color, 0.18), hoverinfo="skip",
                                name=f"{name} 95% CI", showlegend=False, legendgroup=legendgroup),
                     **kwargs)

