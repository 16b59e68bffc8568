"""Durability: Kaplan-Meier curve of sustained response in days among responders."""

import streamlit as st

from analysis import figures
from dashboard import calls, compute
from dashboard.calls import Call
from dashboard.components import (
    Report,
    page_guard,
    report_download,
    require_data,
    settings_definitions,
    show_figure,
    show_table,
    show_text,
    small_groups,
)
from dashboard.context import current

# option (also the URL value) -> analysis origin and axis title
ORIGINS = {"response": ("response", "Days since response"),
           "last infusion": ("last_infusion", "Days since the last infusion")}

ctx = current()
st.title("Durability")
st.caption("How long does response last? Time to relapse among responders, in days.")
require_data(ctx)
report = Report("Durability", ctx)
with page_guard("the durability curves"):
    settings = ctx.settings
    options = settings.endpoint_options()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        choice = st.segmented_control("Count days from", list(ORIGINS), default="response",
                                      key="origin", bind="query-params", required=True)
        origin, origin_label = ORIGINS[choice or "response"]
        show_model = st.toggle("Parametric fit", value=True, key="durability_model",
                               bind="query-params")
    durability = Call("fit_durability", {"by": settings.by, "origin": origin, **options},
                      prints=("summary()", "risk_table") + (("logrank.summary()",) if settings.by else ()))
    result = calls.run(ctx, durability, "Fitting the durability curves...", report)
    summary = result.summary().reset_index()
    summary = summary.rename(columns={summary.columns[0]: "group"})
    definitions = settings_definitions(ctx, result.endpoints)
    report.definitions = definitions
    hidden = small_groups(ctx, summary.set_index("group")["n_responders"])
    figure = compute.cached_figure(
        ctx, "durability", figures.durability_figure, result.curve, key=(origin, show_model),
        risk_table=result.risk_table, model_curve=result.model_curve if show_model else None,
        definitions=definitions, exclude_groups=hidden, origin_label=origin_label,
    )
    notes = ["Shaded: 95% confidence band; ticks: censored patients; dotted line: median; "
             "dashed: parametric (interval-censored) fit; numbers below: patients at risk."]
    if hidden:
        notes.append(f"Groups with fewer than {settings.min_cell_size} responders are not drawn: "
                     + ", ".join(hidden) + ".")
    show_figure(report, figure, "Sustained response", notes=notes)
    show_table(report, summary, "Durability summary", count_column="n_responders", keep_columns=["group"],
               note="median_days: median time to relapse; sustained_7d ... sustained_28d: probability of "
                    "still responding at 7, 14, 21 and 28 days; both from the relapse interval (estimator "
                    "column). km_median_days and km_sustained_*d: Kaplan-Meier at the visit at which relapse "
                    "was seen (the papers' convention, late by up to one visit interval).")
    logrank = result.logrank
    if settings.by and logrank is not None:
        show_text(report, "Log-rank test", f"**Log-rank test across {settings.by}:** chi-square "
                  f"{logrank.statistic:.2f} on {logrank.dof} df, p = {logrank.p_value:.3g}")
    calls.code_expander(ctx, durability)
report_download(report)
