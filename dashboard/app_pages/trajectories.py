"""Trajectories: scores over time by group, individual patients, mixed model and MMRM."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis import figures
from analysis.figures.longitudinal import MAX_INDIVIDUAL_LINES
from analysis.longitudinal.trajectories import ordered_schedules, rescheduled_note, unscheduled_note
from dashboard import background, calls, compute
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
)
from dashboard.context import current
from dashboard.security import md
from dashboard.state import Settings

TIMES = ("visit", "hours", "days")
VALUES = {"score": "score", "change": "change", "% change": "pct_change"}  # option -> analysis value
ORIGINS = {"first infusion": "first_infusion", "most recent infusion": "last_infusion"}  # -> time_origin
SHAPES = {"piecewise (knots 4 h, day 1, day 7)": "piecewise", "natural spline": "spline",
          "straight line": "linear"}  # option -> fit_trajectory(time_effect=)
COVARIANCES = {"unstructured": "unstructured", "compound symmetry": "compound_symmetry",
               "AR(1)": "ar1", "Toeplitz": "toeplitz"}  # option (URL value) -> analysis.fit_mmrm
# the residual checks are computed and drawn only while open (remembered in the link): two charts
# fewer for the browser to draw on every render of the page
RESIDUALS_CLOSED = ("Open to compute and draw the residuals against the fitted values (mean per tenth of the "
                    "fitted values): a check of the model's fit.")


def drawn_ratings(individual: pd.DataFrame, left_out: pd.DataFrame, cell: list[str]) -> pd.DataFrame:
    """The individual ratings in the cells (``cell`` columns) whose mean is drawn: all but those of
    the table's rows ``left_out`` (every rating's cell is a row of the trajectory's table), so
    nothing is scanned when no cell is left out (at 20,000 patients, none by default)."""
    if left_out.empty:
        return individual
    hidden_cells = pd.MultiIndex.from_frame(left_out[cell].astype(str))
    return individual[~pd.MultiIndex.from_frame(individual[cell].astype(str)).isin(hidden_cells)]


def trajectory_figure(drawn: pd.DataFrame, *, left_out: pd.DataFrame, cell: list[str],
                      individual: pd.DataFrame | None, **options: object) -> go.Figure:
    """figures.trajectory_figure of the drawn means over the ratings of those cells (built only when
    the figure is not cached)."""
    if individual is not None:
        individual = drawn_ratings(individual, left_out, cell)
    return figures.trajectory_figure(drawn, individual=individual, **options)


def patient_counts(individual: pd.DataFrame, left_out: pd.DataFrame, cell: list[str], lines: bool,
                   visits: bool) -> tuple[int, pd.Series | None]:
    """(patients drawn as grey lines (0 without lines), patients per schedule (visit view only)) for
    the notes under the figure: counts over every rating, cached with the trajectory."""
    patients = int(drawn_ratings(individual, left_out, cell)["patient_id"].nunique()) if lines else 0
    per_schedule = (individual.groupby(ordered_schedules(individual["schedule"]), observed=True)["patient_id"]
                    .nunique() if visits else None)  # single, series, boosters: the panels' order
    return patients, per_schedule


def x_title(time: str, since: str, log_x: bool = False) -> str:
    if time == "visit":
        return "Visit (each schedule in its own order)"
    return f"{time.capitalize()} since the {since}" + (" (log scale)" if log_x else "")


def mmrm_call(settings: Settings, covariance: str, visits: list[str] | None = None) -> Call:
    """The MMRM section's fit_mmrm call by the sidebar's grouping and endpoint options, at ``visits``
    (None: the library's default visits, which are the visit schedule's defaults)."""
    arguments = {"by": settings.by, "covariance": covariance} | ({} if visits is None else {"visits": visits})
    return Call("fit_mmrm", {**arguments, **settings.endpoint_options()},
                prints=("lsmeans()",) + (("lsmean_differences()",) if settings.by else ()) + ("fixed_in_words()",))


ctx = current()
st.title("Trajectories")
st.caption("How scores move over time: mean with 95% CI per group, individual patients in grey.")
require_data(ctx)
report = Report("Trajectories", ctx)
settings = ctx.settings
options = settings.endpoint_options()
k = settings.min_cell_size
with page_guard("the trajectories"):
    with st.container(horizontal=True, vertical_alignment="bottom"):
        # data without visit labels (a survey's dated responses) is drawn on days, the visit axis not offered
        default_time = calls.trajectory_time(ctx)
        times = TIMES if default_time == "visit" else tuple(t for t in TIMES if t != "visit")
        time = st.segmented_control("Time axis", times, default=default_time, key="traj_time",
                                    bind="query-params", required=True) or default_time
        value = VALUES[st.segmented_control("Value", list(VALUES), default="score", key="traj_value",
                                            bind="query-params", required=True) or "score"]
        since = "first infusion"
        log_x = False
        if time != "visit":
            since = st.segmented_control("Time since", list(ORIGINS), default="first infusion", key="traj_origin",
                                         bind="query-params", required=True,
                                         help="first infusion: the course over the whole series; most recent "
                                              "infusion: every infusion's response on one clock.") or "first infusion"
        if time == "hours":
            log_x = st.toggle("Log scale", value=False, key="traj_log", bind="query-params",
                              help="Hours on a logarithmic axis: minutes after an infusion and weeks of "
                                   "follow-up both readable. The baseline (before the infusion) is not drawn.")
        spaghetti = st.toggle("Individual patients", value=True, key="traj_individual",
                              bind="query-params", disabled=not ctx.row_level,
                              help=None if ctx.row_level else "Viewers of a shared dataset see aggregates only.")
        spaghetti = spaghetti and ctx.row_level
    trajectory = calls.trajectory_call(ctx, time, value, ORIGINS[since])
    result = calls.run(ctx, trajectory, "Summarising trajectories...", report)
    table = result.table
    definitions = list(result.settings.describe())
    report.definitions = definitions
    sizes = table.groupby("group")["n"].max()
    hidden = small_groups(ctx, sizes)
    unit = {"score": f"{settings.instrument} total score (points)",
            "change": "Change from baseline (points; negative = better)",
            "pct_change": "Change from baseline (%; -50 = halved)"}[value]
    visits = time == "visit"
    # visits: one panel per schedule (course, and its boosters); bins: numeric, means at mid-points
    x = "time_point" if visits else f"time_mid_{time}"
    individual_x = "time_point" if visits else f"time_{time}"
    cell = ["group", "schedule", "time_point"] if visits else ["group", "time_point"]
    highlight: list[str] = []
    if spaghetti:
        ids = compute.call(ctx, "spaghetti_patients", "Drawing...", figures.spaghetti_patients,
                           result.individual, key=(repr(settings), time, value))
        # patient ids are kept out of the URL on purpose (no patient data in links)
        highlight = st.multiselect("Highlight patients", ids, max_selections=5, key="traj_highlight")
    # a mean of fewer patients than the minimum cell size is neither shareable nor readable
    # (its t interval spans far beyond the scale): such points are left out of the figure
    drawn, left_out = table[table["n"] >= k], table[table["n"] < k]
    lines = spaghetti and not hidden
    # the counts scan every rating (a tenth of a second at 20,000 patients): once per settings
    patients, per_schedule = compute.call(ctx, "trajectory_counts", "Counting patients...", patient_counts,
                                          result.individual, left_out, cell, lines, visits,
                                          key=(repr(settings), time, value, since, lines))
    figure = compute.cached_figure(
        ctx, "trajectory", trajectory_figure, drawn, left_out=left_out, cell=cell,
        key=(time, value, since, log_x, spaghetti, tuple(highlight)), x=x, order="time_order" if visits else None,
        facet="schedule" if visits else None, log_x=log_x, x_title=x_title(time, since, log_x), y_title=unit,
        individual=result.individual if lines else None, individual_x=individual_x, individual_y="value",
        highlight=highlight,
        definitions=definitions, exclude_groups=hidden, y_from_zero=value == "score",
        title=f"{settings.instrument} over time",
    )
    notes = ["Points: mean with 95% CI."]
    if lines:
        notes[0] += (f" Grey lines: {MAX_INDIVIDUAL_LINES:,} patients of {patients:,} (a fixed random subset: "
                     "more lines draw slower and read the same)." if patients > MAX_INDIVIDUAL_LINES
                     else f" Grey lines: all {patients:,} patients.")
    if per_schedule is not None:
        boosters = [name for name in per_schedule.index if name.endswith(" boosters")]
        notes.append("Single-infusion and series patients are rated on different schedules, so each course "
                     "has its own panel, in its own visit order"
                     + (", and so have the booster visits (boosters are given to some patients only, at times "
                        "of their own: among the follow-up visits of every patient they would make the mean jump "
                        "between two sets of patients)" if boosters else "")
                     + ": " + ", ".join(f"{name} {n:,} patients" for name, n in per_schedule.items())
                     + ". For one clock across courses, choose hours or days since the most recent infusion.")
    else:
        notes.append(f"Means are drawn at the mid-points of the time bins (edges under the chart); grey lines "
                     f"at each rating's own time, on the same {time} axis.")
    if log_x:
        notes.append("The baseline (rated before the first infusion) cannot be placed on a log axis and is not "
                     "drawn; it is in the table.")
    notes += hidden_groups_note(ctx, hidden, extra=" (and individual lines are hidden)")
    notes += [n[:1].upper() + n[1:] + "." for n in unscheduled_note(result.unscheduled)
              + rescheduled_note(result.rescheduled)]
    if len(drawn) < len(table):
        notes.append(f"Time points with fewer than {k} patients in a group are not drawn for that group.")
    show_figure(report, figure, "Scores over time", notes=notes)
    show_table(report, table, "Trajectory summary", count_column="n", keep_columns=cell)
    calls.code_expander(ctx, trajectory)

st.subheader("Mixed model")
with page_guard("the mixed model"):
    with st.container(horizontal=True, vertical_alignment="bottom"):
        shape_label = st.segmented_control(
            "Time effect", list(SHAPES), default=list(SHAPES)[0], key="lmm_shape", bind="query-params",
            required=True,
            help="piecewise: straight lines between knots at 4 h, day 1 and day 7 (the response visible by 4 h, "
                 "the peak around day 1, the first week, then the drift or relapse); natural spline: a smooth "
                 "curve (patsy cr) with its interior knots at the same times; a knot the rating times cannot "
                 "carry is left out, and the caption says so; straight line: one slope over the whole "
                 "follow-up.") or list(SHAPES)[0]
        choice = st.segmented_control("Random effects per patient", ["intercept and slope", "intercept"],
                                      default="intercept and slope", key="lmm_random",
                                      bind="query-params", required=True)
        lmm_since = st.segmented_control("Time since", list(ORIGINS), default="first infusion", key="lmm_origin",
                                         bind="query-params", required=True,
                                         help="first infusion: the course over the whole series; most recent "
                                              "infusion: the response to each infusion, pooled over the series."
                                         ) or "first infusion"
    random = "~1" if choice == "intercept" else "~time"
    time_origin = ORIGINS[lmm_since]
    time_effect = SHAPES[shape_label]
    mixed = Call("fit_trajectory", {"by": settings.by, "random": random, "time_origin": time_origin,
                                    "time_effect": time_effect, **options},
                 prints=("fixed_in_words()", "random_effects()"))
    # on a large dataset the model and the observed means it is drawn over are computed in the
    # background (seconds at 20,000 patients): the section says so and is drawn when they are ready
    observed_call = calls.trajectory_call(ctx, "days", "score", time_origin)
    model = background.fetch(ctx, mixed, "Fitting the mixed model...", report)
    observed = background.fetch(ctx, observed_call, "Summarising trajectories...", report)
    pending = [r for r in (model, observed) if isinstance(r, background.Progress)]
    if pending:  # one note (asking every second) for the section: the page draws again once it has its result
        background.progress_note(pending[0].key, "Mixed model" if pending[0] is model else "Observed means by day")
    if not pending:
        words = model.describe()
        st.caption(f"{md(words[0], 1500)} {model.n_patients} patients, {model.n_ratings} post-baseline ratings; "
                   "estimates in score points (slopes per day).")
        for note in (line for line in words if line.startswith("Note: ")):  # e.g. a default knot left out
            st.caption(md(note, 1000))
        # the fitted mean over the observed means on the same clock: does the model follow the curve?
        observed = observed.table
        observed = observed[(observed["n"] >= k) & (observed["time_point"] != "baseline")]
        hidden_model = small_groups(ctx, observed.groupby("group")["n"].max()) if not observed.empty else []
        curve = compute.call(ctx, "trajectory_curve", "Drawing...", model.curve,
                             key=(repr(settings), random, time_origin, time_effect))
        fit_figure = compute.cached_figure(
            ctx, "trajectory_model", figures.trajectory_figure, observed,
            key=(random, time_origin, time_effect), x="time_mid_days", x_title=x_title("days", lmm_since),
            y_title=f"{settings.instrument} total score (points)", curves=curve, curve_x="time_days",
            curve_name="mixed model", exclude_groups=hidden_model, definitions=words[:1],
            title="Mixed model against the observed means")
        show_figure(report, fit_figure, "Mixed model fit", notes=[
            "Dashed: the model's mean at the mean baseline score; points: observed means (95% CI) of the "
            "post-baseline ratings in the same day bins. A model that fits the curve passes through the points."])
        show_table(report, model.fixed_in_words(), "Mixed model fixed effects")
        # variance components as fitted: no statistics here, only relabelling for the reader
        show_table(report, model.random_effects(), "Mixed model random effects",
                   note="Between-patient standard deviations of the random effects and their correlation, as "
                        f"lme4 prints them. Residual SD {model.residual_sd:.2f} points "
                        f"(variance {model.model.residual_variance:.2f}); {'REML' if model.settings['reml'] else 'ML'} "
                        f"log-likelihood {model.model.loglik:.2f}.")
        residual_check = st.expander("Mixed model residual check", key="lmm_residuals", on_change="rerun",
                                     bind="query-params", icon=":material/scatter_plot:")
        with residual_check, page_guard("the mixed model's residual check"):
            if not residual_check.open:
                st.caption(RESIDUALS_CLOSED)
            else:
                residual_bins = compute.call(ctx, "trajectory_residuals", "Checking residuals...",
                                             model.residual_check, key=(repr(settings), random, time_origin, time_effect))
                residuals = None
                if ctx.row_level:
                    residuals = compute.call(ctx, "trajectory_residual_rows", "Checking residuals...", model.residuals,
                                             key=(repr(settings), random, time_origin, time_effect))
                residual_fig = compute.cached_figure(
                    ctx, "trajectory_residuals", figures.residual_figure, residual_bins,
                    key=(random, time_origin, time_effect, ctx.row_level), residuals=residuals,
                    title="Mixed model: residuals against fitted values")
                show_figure(report, residual_fig, "Mixed model residual check", notes=[
                    "Residual = observed score - fitted (fixed effects plus the patient's random effects), mean per "
                    "tenth of the fitted values with 95% CI. Means on the dotted zero line without a trend: the time "
                    "effect fits; a U or a slope: try another time effect."
                    + ("" if ctx.row_level else " Individual residuals are not shown to viewers of a shared dataset.")])
                # the same residuals in time order: where in the course the time effect misses the curve
                time_bins = compute.call(ctx, "trajectory_residuals_time", "Checking residuals...",
                                         model.residual_check, against="time",
                                         key=(repr(settings), random, time_origin, time_effect))
                time_fig = compute.cached_figure(
                    ctx, "trajectory_residuals_time", figures.residual_figure, time_bins,
                    key=(random, time_origin, time_effect, ctx.row_level), residuals=residuals, x="time_days",
                    log_x=True, x_title=x_title("days", lmm_since, log_x=True),
                    title="Mixed model: residuals against time")
                show_figure(report, time_fig, "Mixed model residual check by time", notes=[
                    "The same residuals, mean per tenth of the ratings in time order (95% CI), on a log axis: "
                    "minutes after an infusion and weeks of follow-up both readable. Means off the zero line "
                    "at some times: the time effect misses the curve there (e.g. the first hours: a knot at 4 h)."])
    calls.code_expander(ctx, mixed)

st.subheader("MMRM")
with page_guard("the MMRM"):
    schedule_call = Call("visit_schedule", dict(options), prints=("to_string()",))
    # on a large dataset the visit schedule and the fit are computed in the background (seconds at
    # 20,000 patients): the section says so and is drawn when they are ready
    schedule = background.fetch(ctx, schedule_call, "Listing the visits...")
    if isinstance(schedule, background.Progress):
        background.progress_note(schedule.key, "Visit schedule")
        # the fit at the default visits needs no schedule: started now, behind it, so that it is
        # ready (or under way) when the schedule is, not only once a later run of the page asks
        if "mmrm_visits" not in st.session_state:
            label = st.session_state.get("mmrm_cov") or st.query_params.get("mmrm_cov") or "unstructured"
            background.prefetch(ctx, mmrm_call(settings, COVARIANCES.get(label, "unstructured")))
    else:
        labels = schedule["visit"].tolist()
        defaults = schedule.loc[schedule["default"], "visit"].tolist()
        with st.container(horizontal=True, vertical_alignment="bottom"):
            chosen = st.multiselect(
                "Visits", labels, default=defaults, key="mmrm_visits",
                help="Post-baseline visit labels to model (schedule order). Default: the visits nearest day 1, 7, "
                     "14 and 28 after the most recent infusion in the schedule of the larger course, each attended "
                     "by at least half of its patients. The two courses are rated at different labels: mixing "
                     "them leaves visit pairs no patient shares.")
            structure = st.segmented_control(
                "Within-patient covariance", list(COVARIANCES), default="unstructured", key="mmrm_cov",
                bind="query-params", required=True,
                help="unstructured: any variance and correlation per visit pair (the regulatory "
                     "default); compound symmetry: one correlation; AR(1): correlation decaying "
                     "with visit distance; Toeplitz: one correlation per visit distance.") or "unstructured"
        covariance = COVARIANCES[structure]
        chosen = [v for v in labels if v in set(chosen)]  # schedule order
        mmrm = mmrm_call(settings, covariance, None if chosen == defaults else chosen)
        fit = background.fetch(ctx, mmrm, "Fitting the MMRM...", report)
        if isinstance(fit, background.Progress):
            background.progress_note(fit.key, "MMRM")
            calls.code_expander(ctx, schedule_call, mmrm)
        elif fit.n_patients < k:
            st.info(f"Fewer than {k} patients with repeated visits: the MMRM is not shown.", icon=":material/info:")
        else:
            definitions = fit.describe()
            report.definitions += definitions[:2]
            st.caption(f"{md(definitions[0], 1000)} {fit.n_patients} patients, {fit.n_ratings} ratings.")
            st.caption(md(definitions[1], 1500))
            grouped = fit.by is not None
            show_table(report, fit.lsmeans(), "MMRM least-squares means (change from baseline, points)",
                       count_column="patients" if grouped else None,
                       keep_columns=["visit", fit.by] if grouped else ())
            if grouped:
                differences = fit.lsmean_differences()
                sizes = fit.group_sizes
                reference = str(sizes.index[0])
                differences = differences.assign(
                    patients=differences[fit.by].map(sizes).to_numpy(),
                    patients_reference=int(sizes.iloc[0]))
                differences = differences.assign(
                    n_smallest=differences[["patients", "patients_reference"]].min(axis=1))
                show_table(report, differences,
                           f"MMRM differences from {reference} (change from baseline, points)",
                           count_column="n_smallest", keep_columns=["visit", fit.by],
                           note=f"estimate: least-squares mean of the group minus that of {reference} "
                                "(negative = more improvement than the reference).")
            show_table(report, fit.fixed_in_words(), "MMRM fixed effects")
            mmrm_check = st.expander("MMRM residual check", key="mmrm_residuals", on_change="rerun",
                                     bind="query-params", icon=":material/scatter_plot:")
            with mmrm_check, page_guard("the MMRM's residual check"):
                if not mmrm_check.open:
                    st.caption(RESIDUALS_CLOSED)
                else:
                    mmrm_bins = compute.call(ctx, "mmrm_residuals", "Checking residuals...", fit.residual_check,
                                             key=(repr(settings), covariance, tuple(chosen)))
                    mmrm_rows = (compute.call(ctx, "mmrm_residual_rows", "Checking residuals...", fit.residuals,
                                              key=(repr(settings), covariance, tuple(chosen)))
                                 if ctx.row_level else None)
                    show_figure(report, compute.cached_figure(
                        ctx, "mmrm_residuals", figures.residual_figure, mmrm_bins,
                        key=(covariance, tuple(chosen), ctx.row_level), residuals=mmrm_rows,
                        x_title="Fitted change from baseline (points)", title="MMRM: residuals against fitted values"),
                        "MMRM residual check", notes=[
                            "Residual = observed change - the model's mean for the visit, group and baseline; mean "
                            "per tenth of the fitted values with 95% CI. Means near the zero line, without a trend: "
                            "the mean model fits."])
            calls.code_expander(ctx, schedule_call, mmrm)
report_download(report)
