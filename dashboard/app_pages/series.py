"""Series: response and remission by infusion number, infusions to first response."""

import pandas as pd
import streamlit as st

from analysis import figures
from dashboard import calls
from dashboard.calls import Call
from dashboard.components import (
    Report,
    hidden_groups_note,
    page_guard,
    report_download,
    require_data,
    show_figure,
    show_table,
    small_groups,
    suppressed,
)
from dashboard.context import current

ctx = current()
st.title("Series")
st.caption("Infusion series: how response and remission build up infusion by infusion.")
require_data(ctx)
report = Report("Series", ctx)
settings = ctx.settings
options = settings.endpoint_options()
k = settings.min_cell_size


st.subheader("Response and remission by infusion number")
with page_guard("the rates by infusion number"):
    rates_call = Call("responder_rates", {"by": settings.by, "time": "infusion", **options}, prints=("table",))
    rates = calls.run(ctx, rates_call, "Computing rates by infusion...", report)
    definitions = list(rates.settings.describe())
    report.definitions += definitions
    table = rates.table
    outcome = "all"
    if settings.by:
        outcome = st.segmented_control("Outcome", ["response", "remission"], default="response",
                                       key="series_outcome", bind="query-params", required=True) or "response"
        table = table[table["outcome"] == outcome]
    shown = table[table["n"] >= k]
    figure = figures.rate_figure(
        shown, x="infusion_number", rate="proportion", lower="lower", upper="upper",
        series="group" if settings.by else "outcome", x_title="Infusion number",
        y_title="Patients meeting the criterion after it (%)", definitions=definitions,
        title="Response and remission by infusion number" if outcome == "all"
        else f"{outcome.capitalize()} by infusion number")
    notes = ["95% Wilson intervals."]
    if len(shown) < len(table):
        notes.append(f"Points with fewer than {k} patients are not drawn.")
    show_figure(report, figure, "Rates by infusion number", notes=notes)
    show_table(report, rates.table, "Rates by infusion number", count_column="n",
               keep_columns=["group", "infusion_number", "outcome"])
    calls.code_expander(ctx, rates_call)

st.subheader("Infusions to first response")
with page_guard("the infusions to first response"):
    series_call = Call("series_response", {"by": settings.by, **options},
                       prints=("summary()", "cumulative", "distribution"))
    series = calls.run(ctx, series_call, "Counting infusions to response...", report)
    definitions = list(series.describe())
    report.definitions += definitions
    summary = series.summary().reset_index()
    hidden = small_groups(ctx, summary.set_index("group")["n"]) if "n" in summary.columns else []
    cumulative = series.cumulative[series.cumulative["n"] >= k] if "n" in series.cumulative else series.cumulative
    # a step of the curve at infusion j reveals the first responses at j: leave out the points
    # whose count is suppressed in the table below (small cells and their complements)
    masked, _ = suppressed(ctx, series.distribution, "first_responses",
                           keep_columns=["group", "infusion_number"], complement_within="group")
    if "suppressed" in masked:
        hidden_cells = pd.MultiIndex.from_frame(
            masked.loc[masked["suppressed"].astype(bool), ["group", "infusion_number"]].astype(str))
        cells = pd.MultiIndex.from_frame(cumulative[["group", "infusion_number"]].astype(str))
        cumulative = cumulative[~cells.isin(hidden_cells)]
    figure = figures.rate_figure(
        cumulative, x="infusion_number", rate="cumulative_response", lower="lower", upper="upper",
        series="group", exclude_groups=hidden, x_title="Infusion number",
        y_title="Responded by this infusion (%, Kaplan-Meier)", definitions=definitions,
        title="Cumulative response across the series")
    notes = hidden_groups_note(ctx, hidden)
    if "suppressed" in masked and masked["suppressed"].any():
        notes.append("Points whose number of first responses is suppressed in the table below are not drawn.")
    show_figure(report, figure, "Cumulative response across the series", notes=notes)
    show_table(report, summary, "Infusions to first response", count_column="n" if "n" in summary else None,
               keep_columns=["group"])
    distribution = series.distribution
    show_table(report, distribution, "First responses by infusion number", count_column="first_responses",
               keep_columns=["group", "infusion_number"], complement_within="group")
    calls.code_expander(ctx, series_call)
report_download(report)
