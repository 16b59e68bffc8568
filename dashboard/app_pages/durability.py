"""Durability: sustained response in days among responders (headline estimator, Kaplan-Meier at the
detection visit, number at risk; cumulative incidence of relapse with a competing strategy)."""

import streamlit as st

from analysis import figures
from dashboard import background, calls, compute
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
    show_text,
    small_groups,
)
from dashboard.context import current

# option (also the URL value) -> analysis origin and axis title
ORIGINS = {"response": ("response", "Days since response"),
           "last infusion": ("last_infusion", "Days since the last infusion")}
# option (URL value) -> the rescue strategy (analysis.intercurrent); "relapse" is the library default
RESCUE = {"relapse": "composite", "competing risk": "competing", "censoring": "hypothetical"}
PANELS = ("auto", "one", "per group")

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
        events = getattr(ctx.data, "events", None)
        has_rescue = events is not None and "event" in events and bool((events["event"] == "rescue").any())
        rescue = "relapse"
        if has_rescue:
            rescue = st.segmented_control(
                "Rescue treatment counts as", list(RESCUE), default="relapse", key="rescue",
                bind="query-params", required=True,
                help="relapse: a composite event (the default); competing risk: relapse can no longer "
                     "be seen after it, and the figure shows the cumulative incidence of relapse "
                     "(Aalen-Johansen) instead of 1 - survival; censoring: follow-up ends at rescue "
                     "(hypothetical strategy).") or "relapse"
        panels = st.segmented_control("Panels", PANELS, default="auto", key="durability_panels",
                                      bind="query-params", required=True,
                                      help="auto: one panel per group with more than three groups") or "auto"
        show_km = st.toggle("Kaplan-Meier at the detection visit", value=True, key="durability_km",
                            bind="query-params", help="The papers' convention: relapse dated at the visit "
                            "where it was seen (late by up to one visit interval); censor marks on it.")
        show_bands = st.toggle("95% bands", value=True, key="durability_bands", bind="query-params",
                               help="Left out when more than three groups share one panel.")
    strategy = {} if RESCUE[rescue] == "composite" else {"intercurrent": {"rescue": RESCUE[rescue]}}
    durability = Call("fit_durability", {"by": settings.by, "origin": origin, **strategy, **options},
                      prints=("summary()", "risk_table") + (("logrank.summary()",) if settings.by else ()))
    # on a large dataset the fit (interval-censored, a second at 20,000 patients) is computed in the
    # background: the page says so and is drawn again when it is ready
    result = background.fetch_or_note(ctx, durability, "Fitting the durability curves...", report, "Durability curves")
    if result is not None:
        summary = result.summary().reset_index()
        summary = summary.rename(columns={summary.columns[0]: "group"})
        definitions = settings_definitions(ctx, result.endpoints)
        report.definitions = definitions
        hidden = small_groups(ctx, summary.set_index("group")["n_responders"])
        n_shown = len(summary) - len(hidden)
        facets = {"auto": None, "one": False, "per group": True}[panels]
        one_panel = facets is False or (facets is None and n_shown <= figures.MAX_OVERLAID_GROUPS)
        bands = show_bands and (not one_panel or n_shown <= figures.MAX_OVERLAID_GROUPS)
        figure = compute.cached_figure(
            ctx, "durability", figures.durability_result_figure, result,
            key=(origin, rescue, panels, show_km, bands), show_km=show_km, bands=bands, facets=facets,
            definitions=definitions, exclude_groups=hidden, origin_label=origin_label,
            colors=figures.group_colors(ctx.group_levels or summary["group"].astype(str), ctx.group_reference),
        )
        incidence = bool((summary["estimator"] == "aalen_johansen").any())
        notes = [("Solid: cumulative incidence of relapse (Aalen-Johansen, rescue as a competing risk)"
                  if incidence else "Solid: the headline estimate named in the legend (it uses the interval in "
                  "which relapse happened)")
                 + "; shaded: its 95% confidence band"
                 + ("; dotted steps: Kaplan-Meier at the detection visit, ticks on it: censored patients"
                    if show_km and not incidence else "")
                 + "; diamond and bar: the median and its 95% CI; numbers below: patients still in response "
                 "and followed, at each tick's day."]
        if show_bands and not bands:
            notes.append("Bands are left out: more than three groups share one panel (choose Panels: per group).")
        notes += hidden_groups_note(ctx, hidden, "responders")
        show_figure(report, figure, "Sustained response", notes=notes)
        show_table(report, summary, "Durability summary", count_column="n_responders", keep_columns=["group"],
                   note="median_days: median time to relapse; sustained_7d ... sustained_28d: probability of "
                        "still responding at 7, 14, 21 and 28 days; both from the relapse interval (estimator "
                        "column). km_median_days and km_sustained_*d: Kaplan-Meier at the visit at which relapse "
                        "was seen (the papers' convention, late by up to one visit interval).")
        logrank = result.logrank
        if settings.by and logrank is not None:
            scope = groups_tested_words(ctx, logrank.table["group"], hidden)
            show_text(report, "Log-rank test", f"**Log-rank test across {settings.by}"
                      + (" (cause-specific hazard of relapse)" if incidence else "") + ":** chi-square "
                      f"{logrank.statistic:.2f} on {logrank.dof} df, p = {logrank.p_value:.3g}"
                      + (f", {scope}; the figure shows the others" if scope else ""))
        gray = result.gray_test  # filled with a competing strategy and groups
        if settings.by and incidence and (gray["event"] == 1).any():
            test = gray[gray["event"] == 1].iloc[0]
            scope = groups_tested_words(ctx, summary["group"], hidden)
            show_text(report, "Gray's test", f"**Gray's test across {settings.by} (cumulative incidence of "
                      f"relapse):** chi-square {test['statistic']:.2f} on {int(test['dof'])} df, "
                      f"p = {test['p_value']:.3g}" + (f", {scope}; the figure shows the others" if scope else ""))
    calls.code_expander(ctx, durability)
report_download(report)
