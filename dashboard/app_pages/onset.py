"""Onset: cumulative response against hours after the infusion, with the mixture-cure fit."""

from dataclasses import replace

import streamlit as st

from analysis import figures
from dashboard import calls, compute
from dashboard.calls import Call
from dashboard.components import (
    Report,
    groups_tested_words,
    hidden_groups_note,
    page_guard,
    report_download,
    require_data,
    settings_definitions,
    show_figure,
    show_table,
    small_groups,
)
from dashboard.context import current

ctx = current()
st.title("Onset")
st.caption("How fast does response come, and how many respond? Hours since the infusion that "
           "preceded the first responding rating; response is interval-censored between visits.")
require_data(ctx)
report = Report("Onset", ctx)
with page_guard("the onset curves"):
    settings = ctx.settings
    options = settings.endpoint_options()
    with st.container(horizontal=True):
        log_time = st.toggle("Log time axis", key="onset_log", bind="query-params")
        with_km = st.toggle("Kaplan-Meier at the visit (the papers' convention)", key="onset_km",
                            bind="query-params")
        whole = st.toggle("Whole follow-up (not only the first week)", key="onset_all",
                          bind="query-params")
        show_bands = st.toggle("95% bands", value=True, key="onset_bands", bind="query-params",
                               help="Left out when more than three groups are drawn.")
    max_hours = None if whole else 168.0
    fit = Call("fit_onset", {"by": settings.by, **options})
    result = calls.run(ctx, fit, "Fitting the onset curves...")
    # the snippet prints the number at risk at the figure's tick hours, as the figure writes it
    risk_hours = figures.onset_ticks(result.curve, max_hours=max_hours, log_time=log_time)[0]
    onset = replace(fit, prints=("summary()", f"at_risk([{', '.join(f'{h:g}' for h in risk_hours)}])")
                    + (("test",) if settings.by else ()))
    report.note_call(onset)
    summary = result.summary().reset_index()
    summary = summary.rename(columns={summary.columns[0]: "group"})
    definitions = settings_definitions(ctx, result.endpoints)
    report.definitions = definitions
    hidden = small_groups(ctx, summary.set_index("group")["n"])
    sources = ("turnbull", "model") + (("kaplan_meier",) if with_km else ())
    bands = show_bands and len(summary) - len(hidden) <= figures.MAX_OVERLAID_GROUPS
    colors = figures.group_colors(ctx.group_levels or summary["group"].astype(str), ctx.group_reference)
    figure = compute.cached_figure(ctx, "onset", figures.onset_result_figure, result,
                                   key=(log_time, sources, whole, bands, tuple(colors.items())),
                                   log_time=log_time, sources=sources, bands=bands,
                                   max_hours=max_hours, definitions=definitions,
                                   exclude_groups=hidden, colors=colors)
    notes = ["Solid: observed cumulative response (Turnbull, interval-censored); dashed: the mixture-cure "
             "model with its 95% band; "
             + ("dotted steps: Kaplan-Meier at the visit, ticks on it: patients censored without a response; "
                if with_km else "")
             + "diamond and bar: the median onset among responders and its 95% CI; "
             "numbers below: patients still followed whose response had not been seen before each tick's hour "
             "(a response seen at that hour still counts)."]
    if show_bands and not bands:
        notes.append("Bands are left out: more than three groups are drawn.")
    notes += hidden_groups_note(ctx, hidden)
    show_figure(report, figure, "Cumulative response by hours since the infusion", notes=notes)
    show_table(report, summary, "Onset summary", count_column="n", keep_columns=["group"],
               note="response_probability: fraction who ever respond (mixture-cure model); "
                    "median_onset_hours: among those who respond; responding_by_4h/24h: "
                    "cumulative fraction responding by 4 and 24 hours.")
    if settings.by and result.test is not None:
        scope = groups_tested_words(ctx, summary["group"], hidden, "patients")
        show_table(report, result.test, f"Difference in onset between groups ({settings.by})",
                   note=f"Both tests are {scope}; the figure shows the others." if scope else None)
    for note in result.notes:
        st.caption(note)
    calls.code_expander(ctx, onset)
report_download(report)
