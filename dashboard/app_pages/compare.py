"""Compare: log-rank test, Cox hazard ratios for relapse, responder differences between groups."""

from collections import Counter

import pandas as pd
import streamlit as st

from analysis import figures
from dashboard import calls
from dashboard.calls import Call
from dashboard.components import (
    Report,
    groups_tested_words,
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
from dashboard.security import md

# covariate -> words, with the unit its hazard ratio is given per (figures.COVARIATE_UNITS)
COVARIATES = {
    "first_dose_mg_per_kg": "Dose (per 0.1 mg/kg)",
    "route": "Route",
    "diagnosis": "Diagnosis",
    "baseline_score": "Baseline severity (per 5 points)",
    "peak_cadss": "Peak dissociation, CADSS (per 5 points)",
    "n_infusions": "Number of infusions (per infusion)",
    "age": "Age (per 10 years)",
    "sex": "Sex",
}
# patient columns that are keys or outcomes, never a covariate
_NOT_COVARIATES = {"patient_id", "site", "course"}


def _references(covariates: list[str]) -> dict[str, str]:
    """Each text covariate's reference level: the sidebar's reference group when the covariate is
    the sidebar grouping, else its most common level (ties alphabetical), never the alphabet's first."""
    references = {}
    for column in covariates:
        table = ctx.data.infusions if column == "route" else ctx.data.patients
        if column not in table.columns or not (table[column].dtype == object or table[column].dtype == "string"):
            continue
        counts = table[column].dropna().astype(str).value_counts()
        if len(counts) < 2:
            continue
        if column == ctx.settings.by and ctx.group_reference in counts.index:
            references[column] = ctx.group_reference
        else:
            references[column] = sorted(counts.index, key=lambda level: (-counts[level], level))[0]
    return references


COURSE_WORDS = {"single": "single-infusion", "series": "series"}


def _time_points(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Option text -> (schedule, visit label), grouped by schedule in the table's order (single
    infusion, series, boosters; each in its own visit order). The text is the plain label, so
    that a shared link keeps naming its visit, unless the label is a visit of two schedules."""
    pairs = list(dict.fromkeys(zip(table["schedule"].astype(str), table["time_point"].astype(str), strict=True)))
    schedules_of = Counter(label for _, label in pairs)
    return {label if schedules_of[label] == 1 else f"{label} ({schedule})": (schedule, label)
            for schedule, label in pairs}


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
            # the table below hides small groups; the test is over all of them, and says so
            scope = groups_tested_words(ctx, logrank.table["group"],
                                     small_groups(ctx, logrank.table.set_index("group")["n"]), left_out="not shown")
            show_text(report, "Log-rank test", f"Log-rank test of time to relapse across **{settings.group_label}**: "
                        f"chi-square {logrank.statistic:.2f} on {logrank.dof} df, p = {logrank.p_value:.3g}"
                        + (f", {md(scope)}" if scope else "") + ".")
            st.caption(f"Time to relapse in {durability.settings.origin_text}. The Durability page counts "
                       "from response by default, so its log-rank p can differ.")
            show_table(report, logrank.table, "Observed and expected relapses", count_column="n",
                       keep_columns=["group"],
                       note="expected: relapses expected if all groups shared one curve.")
        calls.code_expander(ctx, logrank_call)

st.subheader("What changes the risk of relapse (Cox model)")
with page_guard("the Cox model"):
    extra = [str(c) for c in ctx.data.patients.columns if c not in COVARIATES and c not in _NOT_COVARIATES]
    covariates = st.multiselect("Covariates", list(COVARIATES) + extra,
                                format_func=lambda c: COVARIATES.get(c, f"{c} (your column)"),
                                help="Continuous covariates are given per the unit in brackets; categorical "
                                     "ones against their most common level (named on each row).",
                                default=["first_dose_mg_per_kg", "baseline_score"],
                                key="cox_covariates", bind="query-params")
    if not covariates:
        st.info("Choose at least one covariate.")
    else:
        references = _references(covariates)
        cox_call = Call("relapse_hazards", {"covariates": covariates, "reference": references, **options},
                        prints=("table", "per_unit_hazard_ratios({})"),
                        imports=("from analysis.figures import per_unit_hazard_ratios",))
        cox = calls.run(ctx, cox_call, "Fitting the Cox model...", report)
        definitions = settings_definitions(ctx) + [
            f"Cox proportional hazards model (Efron ties) of time to relapse among responders, "
            f"{cox.n} responders, {cox.n_events} relapses. Categorical covariates against their "
            "most common level (the sidebar's reference group for the grouping covariate), named on each row."]
        report.definitions = definitions
        if cox.n < settings.min_cell_size:
            st.warning(f"Fewer than {settings.min_cell_size} responders: the model is not shown.")
        else:
            per_unit = figures.per_unit_hazard_ratios(cox)  # each row names its reference level
            # a level (or its reference) with fewer responders than the minimum cell size is not shown
            k = settings.min_cell_size
            small = (per_unit["n"] < k) | (per_unit["n_reference"] < k)
            notes = []
            if small.any():
                notes.append(f"Not shown, fewer than {k} responders at the level or its reference (the model "
                             "still includes them): " + "; ".join(per_unit.loc[small, "label"]) + ".")
            per_unit = per_unit[~small]
            unsupported = per_unit[per_unit["note"].astype(bool)]
            notes += [f"{label}: {note}." for label, note in zip(unsupported["label"], unsupported["note"],
                                                                   strict=True)]
            if per_unit.empty:
                st.info(" ".join(notes) or "No hazard ratio to show.", icon=":material/info:")
            else:
                show_figure(report, figures.forest_figure(per_unit, definitions=definitions),
                            "Hazard ratios for relapse", notes=notes)
            show_table(report, per_unit.drop(columns=["coef", "se"]), "Cox model",
                       note="hr: hazard ratio per the unit on each row (dose per 0.1 mg/kg, age per 10 years, "
                            "scores per 5 points), or against the reference level; hr < 1 means longer-lasting "
                            "response. The Python code prints them per 1 unit and per these units.")
        calls.code_expander(ctx, cox_call)

st.subheader("Responders by group")
if settings.by is None:
    st.info("Choose a grouping in the sidebar to compare response and remission rates.",
            icon=":material/info:")
else:
    with page_guard("the responder differences"):
        responders_call = Call("compare_responders", {"by": settings.by, "time": "visit", **options},
                               prints=("table",))
        coverage_call = Call("responder_rates", {"by": "course", "time": "visit", **options}, prints=("table",),
                             name="rated_by_course")
        totals_call = Call("responder_rates", {"by": "course", "time": "any", **options}, prints=("table",),
                           name="patients_by_course")
        comparison = calls.run(ctx, responders_call, "Comparing responders...", report)
        table = comparison.table
        report.definitions += list(comparison.describe())
        points = _time_points(table)
        if not points:
            st.info("No time point with ratings in more than one group.")
        else:
            choices = list(points)
            default = next((p for p in choices if "24" in p or "day 1" in p.lower()), choices[-1])
            point = st.selectbox("Time point", choices, index=choices.index(default), key="compare_time",
                                 bind="query-params",
                                 help="Visits grouped by schedule: single infusion, then series, then the visits "
                                      "of boosters, each in its own order.")
            schedule, label = points[point]
            # which patients a visit label covers: schedules differ (single infusion vs series)
            coverage = calls.run(ctx, coverage_call, "Counting who was rated at each visit...", report).table
            totals = calls.run(ctx, totals_call, "Counting patients...", report).table
            rated = coverage[(coverage["outcome"] == "response") & (coverage["schedule"].astype(str) == schedule)
                             & (coverage["time_point"].astype(str) == label)]
            rated_n = rated.set_index(rated["group"].astype(str))["n"]
            total_n = totals[totals["outcome"] == "response"].set_index("group")["n"]
            total_n.index = total_n.index.astype(str)
            def count(n: float) -> str:  # small cells are not printed
                return f"fewer than {settings.min_cell_size}" if 0 < n < settings.min_cell_size else f"{int(n)}"

            schedules = [f"{count(rated_n.get(course, 0))} of {count(n)} {COURSE_WORDS.get(course, course)} patients"
                         for course, n in total_n.items()]
            only = [c for c in total_n.index if rated_n.get(c, 0) > 0]
            show_text(report, "Who had this visit",
                      f"**{int(rated_n.sum())} of {int(total_n.sum())} patients had a '{md(point)}' rating** "
                      f"({'; '.join(schedules)})"
                      + (f": this time point belongs to the {COURSE_WORDS.get(only[0], only[0])} schedule only"
                         if len(only) == 1 and len(total_n) > 1 else "")
                      + ". The differences below compare only these patients.")
            # both arms of a comparison must reach the minimum cell size
            shown = table[(table["schedule"].astype(str) == schedule)
                          & (table["time_point"].astype(str) == label)].reset_index(drop=True)
            shown = shown.drop(columns=[c for c in ("time_order", "infusion_number") if c in shown
                                        and (c == "time_order" or shown[c].isna().all())])
            show_table(report, shown.assign(n_smallest=shown[["n", "n_reference"]].min(axis=1)),
                       f"Responder differences at {point}", count_column="n_smallest",
                       keep_columns=["time_point", "outcome", "group", "reference"],
                       note="risk_difference: group minus reference (proportion scale) with 95% Newcombe "
                            "interval; odds_ratio with Woolf interval; p_fisher: Fisher exact test.")
        calls.code_expander(ctx, responders_call, coverage_call, totals_call)
report_download(report)
