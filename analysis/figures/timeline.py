"""Swimmer plot of patient timelines (from :func:`analysis.patient_timeline`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures._style import (
    _ASSUMED_PLOT_WIDTH,
    _LEGEND_ROW,
    _TITLE_SPACE,
    OKABE_ITO,
    with_definitions,
)

_MARKS = {"response": ("star", OKABE_ITO[2], "Response"),
          "relapse": ("x-thin-open", OKABE_ITO[5], "Relapse")}
# Rating dots: slate blue (low score) to vermillion (high), mid-luminance colours that stand out on the
# grey follow-up bar in the light and the dark theme alike (a grey scale vanishes on the dark bar).
RATING_SCALE = [[0.0, "#6A5ACD"], [0.5, "#CC79A7"], [1.0, "#D55E00"]]
_EVENT_SYMBOLS = ("diamond-open", "square-open", "hexagon-open", "cross-thin-open", "pentagon-open")


def timeline_figure(timeline, *, definitions: Sequence[str] = (), title: str = "Patient timelines") -> go.Figure:
    """One row per patient (first at the top) on one axis in days since the first infusion: the
    follow-up as a grey bar, infusions as triangles coloured by route (size by dose, open for
    boosters), ratings as dots coloured by the score (RATING_SCALE: slate blue low, vermillion high), the response and
    relapse marks, and other events (rescue, discontinuation, ...) as open symbols."""
    order = list(timeline.patients)
    figure = go.Figure()
    spans = timeline.spans
    for row in spans.itertuples():
        figure.add_trace(go.Scatter(x=[row.start_days, row.end_days], y=[row.patient_id, row.patient_id],
                                    mode="lines", line=dict(color="rgba(128,128,128,0.35)", width=10),
                                    hoverinfo="skip", showlegend=False))
    ratings = timeline.ratings
    if not ratings.empty:
        figure.add_trace(go.Scatter(
            x=ratings["time_days"], y=ratings["patient_id"], mode="markers", name="Rating (colour = score)",
            marker=dict(size=6, color=ratings["score"], colorscale=RATING_SCALE, cmin=0,
                        cmax=float(np.nanmax(ratings["score"])) if ratings["score"].notna().any() else 1,
                        line=dict(width=0.5, color="rgba(128,128,128,0.9)")),
            customdata=np.c_[ratings["visit"].astype(str).to_numpy(), ratings["score"].to_numpy()],
            hovertemplate="%{y}<br>day %{x:.2f}<br>%{customdata[0]}: score %{customdata[1]}<extra></extra>"))
    infusions = timeline.infusions
    routes = list(dict.fromkeys(infusions["route"].astype(str))) if not infusions.empty else []
    for i, route in enumerate(routes):
        color = OKABE_ITO[i % len(OKABE_ITO)]
        for kind, symbol in (("induction", "triangle-up"), ("booster", "triangle-up-open")):
            part = infusions[(infusions["route"].astype(str) == route)
                             & ((infusions["kind"] == "booster") == (kind == "booster"))]
            if part.empty:
                continue
            dose = part["dose_mg_per_kg"].to_numpy(float)
            size = np.where(np.isfinite(dose), 8 + 12 * np.clip(dose, 0, 1.0), 10)
            figure.add_trace(go.Scatter(
                x=part["time_days"], y=part["patient_id"], mode="markers",
                name=f"{route} infusion" + (" (booster)" if kind == "booster" else ""),
                marker=dict(symbol=symbol, size=size, color=color, line=dict(width=1.5, color=color)),
                customdata=np.c_[part["infusion_number"].to_numpy(), _dose_text(part["dose_mg_per_kg"])],
                hovertemplate="%{y}<br>day %{x:.2f}<br>infusion %{customdata[0]}, %{customdata[1]}"
                              f" {route}<extra></extra>"))
    for mark, (symbol, color, name) in _MARKS.items():
        part = timeline.marks[timeline.marks["mark"] == mark]
        if part.empty:
            continue
        figure.add_trace(go.Scatter(x=part["time_days"], y=part["patient_id"], mode="markers", name=name,
                                    marker=dict(symbol=symbol, size=15, color=color, line=dict(width=2.5, color=color)),
                                    hovertemplate=f"%{{y}}<br>{mark} at day %{{x:.2f}}<extra></extra>"))
    events = timeline.events
    for i, event in enumerate(dict.fromkeys(events["event"].astype(str)) if not events.empty else []):
        part = events[events["event"].astype(str) == event]
        figure.add_trace(go.Scatter(
            x=part["time_days"], y=part["patient_id"], mode="markers", name=event.capitalize(),
            marker=dict(symbol=_EVENT_SYMBOLS[i % len(_EVENT_SYMBOLS)], size=12,
                        color=OKABE_ITO[(i + 3) % len(OKABE_ITO)], line=dict(width=2)),
            customdata=part["detail"].astype(str).to_numpy(),
            hovertemplate=f"%{{y}}<br>{event} at day %{{x:.2f}}: %{{customdata}}<extra></extra>"))
    figure.add_vline(x=0, line=dict(color="rgba(128,128,128,0.7)", width=1, dash="dot"))
    figure.update_yaxes(type="category", categoryorder="array", categoryarray=order[::-1], title="Patient",
                        showgrid=False)
    figure.update_xaxes(title="Days since the first infusion", type="linear")
    figure.update_layout(title=title, height=max(360, 140 + 26 * len(order)))
    figure = with_definitions(figure, definitions)
    _legend_rows_room(figure)
    return figure


def _legend_rows_room(figure: go.Figure) -> None:
    """Top margin for the legend as plotly lays it out when it wraps: every entry as wide as the
    widest one, so at 800 px the long names make one column (legend_room packs names by their own
    widths and would let the legend overlap the title)."""
    names = [str(t.name) for t in figure.data if t.name and t.showlegend is not False]
    if not names:
        return
    columns = max(1, _ASSUMED_PLOT_WIDTH // (40 + 6 * max(len(n) for n in names)))
    needed = _TITLE_SPACE + _LEGEND_ROW * math.ceil(len(names) / columns)
    current = figure.layout.margin.t or 80
    if needed > current:
        figure.update_layout(margin=dict(t=needed), height=(figure.layout.height or 450) + needed - current)


def _dose_text(dose: pd.Series) -> np.ndarray:
    """Doses in words: "0.5 mg/kg", or "dose unknown" where the data give none."""
    return np.where(dose.notna(), dose.map(lambda d: f"{d:g} mg/kg", na_action="ignore"), "dose unknown")


def timeline_rows(timeline) -> pd.DataFrame:
    """The swimmer plot's data in one long table (patient_id, time_days, what, detail) for export."""
    parts = [timeline.infusions.assign(what=timeline.infusions["kind"] + " infusion",
                                       detail=timeline.infusions["route"].astype(str) + " "
                                       + _dose_text(timeline.infusions["dose_mg_per_kg"])),
             timeline.ratings.assign(what="rating", detail=timeline.ratings["score"].map("{:g}".format)),
             timeline.marks.assign(what=timeline.marks["mark"], detail=""),
             timeline.events.assign(what=timeline.events["event"], detail=timeline.events["detail"])]
    rows = pd.concat([p[["patient_id", "time_days", "what", "detail"]] for p in parts], ignore_index=True)
    return rows.sort_values(["patient_id", "time_days"], kind="stable").reset_index(drop=True)
