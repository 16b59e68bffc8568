"""Symptoms: suicidality item over time, dissociation against improvement, response phenotypes."""

import streamlit as st

from analysis import figures
from dashboard import background, calls, compute
from dashboard.calls import Call
from dashboard.components import (
    Report,
    page_guard,
    report_download,
    require_data,
    show_figure,
    show_table,
    small_groups,
    suppressed,
)
from dashboard.context import current
from dashboard.security import md

# scatter points per panel: every marker is an SVG element the browser styles one by one (3 panels
# of 2,000 took 1-2 s to draw at 20,000 patients); 500 show the cloud's shape as well
MAX_POINTS = 500

ctx = current()
st.title("Symptoms")
st.caption("Beyond the total score: suicidal ideation, dissociation during the infusion, and "
           "patterns of response.")
require_data(ctx)
report = Report("Symptoms", ctx)
settings = ctx.settings
options = settings.endpoint_options()
k = settings.min_cell_size

st.subheader("Suicidal ideation")
with page_guard("the suicidality analysis"):
    # days since the first infusion (binned, as Trajectories): one numeric clock, so the
    # single-infusion and series schedules are not interleaved on a visit axis; on a large dataset it is
    # computed in the background (most of a second at 20,000 patients): the section says so until ready
    suicidality = Call("suicidality_course", {"instrument": settings.instrument, "by": settings.by,
                                              "time": "days"}, prints=("summary()", "course"))
    result = background.fetch_or_note(ctx, suicidality, "Following the suicidality item...", report, "Suicidality course")
    if result is not None:
        definitions = result.describe()
        report.definitions += definitions
        course = result.course
        hidden = small_groups(ctx, course.groupby("group")["n"].max())
        shown = course[course["n"] >= k].assign(time_days=lambda c: c["time_hours"] / 24.0)
        item = result.settings.get("item", "")
        figure = compute.cached_figure(
            ctx, "suicidality", figures.trajectory_figure, shown, key=("suicidality",), x="time_days",
            x_title="Days since the first infusion", y_title=f"{settings.instrument} item {item} score (points)",
            definitions=definitions, exclude_groups=hidden, y_from_zero=True, title="Suicidality item over time")
        show_figure(report, figure, "Suicidality item over time",
                    notes=["Mean item score (95% CI) per day bin, drawn at the mean time of the ratings in the bin; "
                           "the axis starts at 0, the item's lowest score.",
                           f"Time points with fewer than {k} patients are not drawn."])
        gap = result.summary_gap()
        if gap is None:
            show_table(report, result.summary().reset_index(), "Resolution of suicidal ideation", count_column="n",
                       keep_columns=["group", "measure"])
        else:
            st.info(md(gap), icon=":material/info:")
    calls.code_expander(ctx, suicidality)

st.subheader("Dissociation and improvement")
with page_guard("the dissociation analysis"):
    # on a large dataset this and the phenotypes are computed in the background too (0.6-0.9 s each at
    # 20,000 patients, which the first render waited for): each section says so until it is ready
    dissociation = Call("dissociation_response", {"by": settings.by, **options}, prints=("correlations",))
    result = background.fetch_or_note(ctx, dissociation, "Relating dissociation to improvement...", report, "Dissociation and improvement")
    if result is not None:
        definitions = result.describe()
        report.definitions += definitions
        pairs = result.pairs
        sizes = pairs.groupby("group")["patient_id"].nunique()
        hidden = small_groups(ctx, sizes)
        pairs = pairs[~pairs["group"].astype(str).isin(hidden)]
        if not ctx.row_level:
            st.caption("One point per patient: not shown to viewers of a shared dataset (aggregates only).")
        elif pairs.empty:
            st.info("No patient has both a CADSS rating and a depression rating in the windows used.")
        else:
            figure = compute.cached_figure(
                ctx, "dissociation", figures.scatter_figure, pairs, key=("dissociation",),
                x="peak_cadss", y="improvement_pct", facet="time_point",
                group="group" if settings.by else None, max_points=MAX_POINTS,
                x_title="Peak CADSS (points)", y_title="Improvement from baseline (%)",
                definitions=definitions, title="Peak dissociation against improvement")
            per_panel = pairs.groupby("time_point").size()
            show_figure(report, figure, "Dissociation against improvement",
                        notes=[f"At most {MAX_POINTS:,} patients per panel are drawn (a fixed random subset of "
                               f"{int(per_panel.max()):,}); the correlations below use all of them."]
                        if per_panel.max() > MAX_POINTS else [])
        show_table(report, result.correlations, "Correlations", count_column="n",
                   keep_columns=["group", "time_point", "method"])
    calls.code_expander(ctx, dissociation)

st.subheader("Response phenotypes")
with page_guard("the response phenotypes"):
    phenotypes = Call("response_phenotypes", {"by": settings.by, **options}, prints=("counts",))
    result = background.fetch_or_note(ctx, phenotypes, "Classifying patients...", report, "Response phenotypes")
    if result is not None:
        definitions = result.describe()
        report.definitions += definitions
        counts = result.counts
        # each phenotype x group cell is a count of patients: small cells are suppressed, with a
        # complementary cell where one hidden count could be recovered from the group's total
        masked, _ = suppressed(ctx, counts, "n", keep_columns=["group", "phenotype"], complement_within="group")
        shown = counts[~masked["suppressed"].to_numpy(bool)] if "suppressed" in masked else counts
        figure = compute.cached_figure(
            ctx, "phenotypes", figures.bar_figure, shown, key=("phenotypes",), x="phenotype", y="percent",
            group="group", x_title="Response phenotype", y_title="Patients in the group (%)",
            definitions=definitions, title="Response phenotypes",
            x_order=list(dict.fromkeys(counts["phenotype"].astype(str))))
        show_figure(report, figure, "Response phenotypes",
                    notes=[f"Cells with fewer than {k} patients (and, where needed, one more cell of the same "
                           "group, so the hidden count cannot be recovered from the total) are not drawn."]
                    if len(shown) < len(counts) else [])
        show_table(report, counts, "Phenotype counts", count_column="n",
                   keep_columns=["group", "phenotype"], complement_within="group")
    calls.code_expander(ctx, phenotypes)
report_download(report)
