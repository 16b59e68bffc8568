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

from analysis.figures._style import (
    MAX_OVERLAID_GROUPS,
    OKABE_ITO,
    TEMPLATE_NAME,
    THEME_TEXT,
    group_colors,
    with_definitions,
)
from analysis.figures.forest import forest_figure, per_unit_hazard_ratios
from analysis.figures.longitudinal import (
    bar_figure,
    rate_figure,
    residual_figure,
    scatter_figure,
    spaghetti_patients,
    trajectory_figure,
)
from analysis.figures.survival import (
    durability_figure,
    durability_result_figure,
    onset_figure,
    onset_result_figure,
    onset_ticks,
    response_state_figure,
)
from analysis.figures.timeline import timeline_figure, timeline_rows

__all__ = [
    "MAX_OVERLAID_GROUPS",
    "OKABE_ITO",
    "TEMPLATE_NAME",
    "THEME_TEXT",
    "bar_figure",
    "durability_figure",
    "durability_result_figure",
    "forest_figure",
    "group_colors",
    "onset_figure",
    "onset_result_figure",
    "onset_ticks",
    "per_unit_hazard_ratios",
    "rate_figure",
    "response_state_figure",
    "residual_figure",
    "scatter_figure",
    "spaghetti_patients",
    "trajectory_figure",
    "timeline_figure",
    "timeline_rows",
    "with_definitions",
]
