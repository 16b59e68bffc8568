"""Compare: log-rank test, Cox hazard ratios for relapse, responder differences between groups."""

import streamlit as st

from analysis import figures
from dashboard import calls
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
)
from dashboard.context import current

COVARIATES = {
    "first_dose_mg_per_kg": "Dose (mg/kg)",
    "route": "Route",
    "diagnosis": "Diagnosis",
    "baseline_score": "Baseline severity",
    "peak_cadss": "Peak dissociation (CADSS)",
    "n_infusions": "Number of infusions",
    "age": "Age (years)",
    "sex": "Sex",
}

ctx = current()
st.title("Compare")
st.caption("Differences between groups: who relapses sooner, and who responds more often.")
require_data(ctx)
report = Report("Compare", ctx)
settings = ctx.settings
options = settings.endpoint_options()

st.subheader("Relapse by group (log-rank)")
if settings.by is None:
    st.info("Choose a grouping in the sidebar (Compare groups by) to test differences between groups.",
            icon=":material/info:")
else:
    with page_guard("the log-rank test"):
        logrank_call = Call("fit_durability", {"by": settings.by, **options},
                            prints=("logrank.summary()", "logrank.table"))
        durability = calls.run(ctx, logrank_call, "Fitting durability...", report)
        logrank = durability.logrank
        if logrank is None:
            st.info("Only one group has responders: nothing to compare.")
        else:
            show_text(report, "Log-rank test", f"Log-rank test of time to relapse across **{settings.group_label}**: "
                        f"chi-square {logrank.statistic:.2f} on {logrank.dof} df, p = {logrank.p_value:.3g}.")
            show_table(report, logrank.table, "Observed and expected relapses", count_column="n",
                       keep_columns=["group"],
                       note="expected: relapses expected if all groups shared one curve.")
        calls.code_expander(ctx, logrank_call)

st.subheader("What changes the risk of relapse (Cox model)")
with page_guard("the Cox model"):
    covariates = st.multiselect("Covariates", list(COVARIATES), help=", ".join(
                                    f"{k}: {v}" for k, v in COVARIATES.items()),
                                default=["first_dose_mg_per_kg", "baseline_score"],
                                key="cox_covariates", bind="query-params")
    if not covariates:
        st.info("Choose at least one covariate.")
    else:
        cox_call = Call("relapse_hazards", {"covariates": covariates, **options}, prints=("table",))
        cox = calls.run(ctx, cox_call, "Fitting the Cox model...", report)
        definitions = settings_definitions(ctx) + [
            f"Cox proportional hazards model (Efron ties) of time to relapse among responders, "
            f"{cox.n} responders, {cox.n_events} relapses. Categorical covariates against their "
            "first level in sorted order."]
        report.definitions = definitions
        if cox.n < settings.min_cell_size:
            st.warning(f"Fewer than {settings.min_cell_size} responders: the model is not shown.")
        else:
            show_figure(report, figures.forest_figure(cox.table, definitions=definitions),
                        "Hazard ratios for relapse")
            show_table(report, cox.table, "Cox model",
                       note="hr: hazard ratio per unit (or against the reference level); "
                            "hr < 1 means longer-lasting response.")
        calls.code_expander(ctx, cox_call)

st.subheader("Responders by group")
if settings.by is None:
    st.info("Choose a grouping in the sidebar to compare response and remission rates.",
            icon=":material/info:")
else:
    with page_guard("the responder differences"):
        responders_call = Call("compare_responders", {"by": settings.by, "time": "visit", **options},
                               prints=("table",))
        comparison = calls.run(ctx, responders_call, "Comparing responders...", report)
        table = comparison.table
        report.definitions += list(comparison.describe())
        points = list(dict.fromkeys(table.sort_values("time_order")["time_point"].astype(str)))
        if not points:
            st.info("No time point with ratings in more than one group.")
        else:
            default = next((p for p in points if "24" in p or "day 1" in p.lower()), points[-1])
            point = st.selectbox("Time point", points, index=points.index(default), key="compare_time",
                                 bind="query-params")
            # both arms of a comparison must reach the minimum cell size
            shown = table[table["time_point"].astype(str) == point].reset_index(drop=True)
            shown = shown.drop(columns=[c for c in ("time_order", "infusion_number") if c in shown
                                        and (c == "time_order" or shown[c].isna().all())])
            show_table(report, shown.assign(n_smallest=shown[["n", "n_reference"]].min(axis=1)),
                       f"Responder differences at {point}", count_column="n_smallest",
                       keep_columns=["time_point", "outcome", "group", "reference"],
                       note="risk_difference: group minus reference (proportion scale) with 95% Newcombe "
                            "interval; odds_ratio with Woolf interval; p_fisher: Fisher exact test.")
        calls.code_expander(ctx, responders_call)
report_download(report)
