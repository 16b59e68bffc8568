"""Trajectories: scores over time by group, individual patients, mixed model and MMRM."""

import streamlit as st

from analysis import figures
from dashboard import calls, compute
from dashboard.calls import Call
from dashboard.components import (
    Report,
    page_guard,
    report_download,
    require_data,
    show_figure,
    show_table,
    small_groups,
)
from dashboard.context import current
from dashboard.security import md

TIMES = ("visit", "hours", "days")
VALUES = {"score": "score", "change": "change", "% change": "pct_change"}  # option -> analysis value
ORIGINS = {"first infusion": "first_infusion", "most recent infusion": "last_infusion"}  # -> fit_trajectory
COVARIANCES = {"unstructured": "unstructured", "compound symmetry": "compound_symmetry",
               "AR(1)": "ar1", "Toeplitz": "toeplitz"}  # option (URL value) -> analysis.fit_mmrm
X_TITLES = {"visit": "Visit (schedule order)", "hours": "Hours since the first infusion",
            "days": "Days since the first infusion"}

ctx = current()
st.title("Trajectories")
st.caption("How scores move over time: mean with 95% CI per group, individual patients in grey.")
require_data(ctx)
report = Report("Trajectories", ctx)
settings = ctx.settings
options = settings.endpoint_options()
with page_guard("the trajectories"):
    with st.container(horizontal=True, vertical_alignment="bottom"):
        time = st.segmented_control("Time axis", TIMES, default="visit", key="traj_time",
                                    bind="query-params", required=True) or "visit"
        value = VALUES[st.segmented_control("Value", list(VALUES), default="score", key="traj_value",
                                            bind="query-params", required=True) or "score"]
        spaghetti = st.toggle("Individual patients", value=True, key="traj_individual",
                              bind="query-params", disabled=not ctx.row_level,
                              help=None if ctx.row_level else "Viewers of a shared dataset see aggregates only.")
        spaghetti = spaghetti and ctx.row_level
    trajectory = Call("trajectory", {"by": settings.by, "time": time, "value": value, **options},
                      prints=("table",))
    result = calls.run(ctx, trajectory, "Summarising trajectories...", report)
    table = result.table
    definitions = list(result.settings.describe())
    report.definitions = definitions
    sizes = table.groupby("group")["n"].max()
    hidden = small_groups(ctx, sizes)
    unit = {"score": f"{settings.instrument} total score (points)",
            "change": "Change from baseline (points; negative = better)",
            "pct_change": "Change from baseline (%; -50 = halved)"}[value]
    x = "time_point" if time == "visit" else f"time_{time}"
    highlight: list[str] = []
    if spaghetti:
        ids = compute.call(ctx, "spaghetti_patients", "Drawing...", figures.spaghetti_patients,
                           result.individual, key=(repr(settings), time, value))
        # patient ids are kept out of the URL on purpose (no patient data in links)
        highlight = st.multiselect("Highlight patients", ids, max_selections=5, key="traj_highlight")
    # a mean of fewer patients than the minimum cell size is neither shareable nor readable
    # (its t interval spans far beyond the scale): such points are left out of the figure
    drawn = table[table["n"] >= settings.min_cell_size]
    individual = None
    if spaghetti and not hidden:
        individual = result.individual[result.individual["time_point"].isin(drawn["time_point"])]
    figure = compute.cached_figure(
        ctx, "trajectory", figures.trajectory_figure, drawn,
        key=(time, value, spaghetti, tuple(highlight)), x=x, order="time_order", x_title=X_TITLES[time], y_title=unit,
        individual=individual, individual_x=x if time != "visit" else "time_point",
        individual_y="value", highlight=highlight, definitions=definitions, exclude_groups=hidden,
        title=f"{settings.instrument} over time",
    )
    notes = ["Points: mean with 95% CI; grey lines: up to 200 patients (a fixed random subset)."]
    if hidden:
        notes.append(f"Groups with fewer than {settings.min_cell_size} patients are not drawn "
                     "(and individual lines are hidden): " + ", ".join(hidden) + ".")
    if len(drawn) < len(table):
        notes.append(f"Time points with fewer than {settings.min_cell_size} patients in a group are not "
                     "drawn for that group.")
    show_figure(report, figure, "Scores over time", notes=notes)
    show_table(report, table, "Trajectory summary", count_column="n",
               keep_columns=["group", "time_point"])
    calls.code_expander(ctx, trajectory)

st.subheader("Mixed model")
with page_guard("the mixed model"):
    choice = st.segmented_control("Random effects per patient", ["intercept and slope", "intercept"],
                                  default="intercept and slope", key="lmm_random",
                                  bind="query-params", required=True)
    random = "~1" if choice == "intercept" else "~time"
    since = st.segmented_control("Time since", list(ORIGINS), default="first infusion", key="lmm_origin",
                                 bind="query-params", required=True,
                                 help="first infusion: the course over the whole series; most recent "
                                      "infusion: the response to each infusion, pooled over the series.")
    time_origin = ORIGINS[since or "first infusion"]
    mixed = Call("fit_trajectory", {"by": settings.by, "random": random, "time_origin": time_origin,
                                    **options}, prints=("fixed", "model.random"))
    model = calls.run(ctx, mixed, "Fitting the mixed model...", report)
    st.caption(f"Linear mixed model {model.formula} with random {random} per patient "
               f"(REML), {model.n_patients} patients, {model.n_ratings} post-baseline ratings. "
               f"Time in days since the {since or 'first infusion'}; estimates in score points.")
    show_table(report, model.fixed, "Mixed model fixed effects")
    # variance components as fitted: no statistics here, only relabelling for the reader
    random_cov = model.model.random.copy()
    random_cov.index = random_cov.index.rename("random effect")
    show_table(report, random_cov.reset_index(), "Mixed model random-effect covariance",
               note="Between-patient covariance of the random effects (points squared"
                    + ("; slope in points per day" if len(random_cov) > 1 else "")
                    + f"). Residual variance {model.model.residual_variance:.2f} points "
                    f"squared; {'REML' if model.settings['reml'] else 'ML'} log-likelihood "
                    f"{model.model.loglik:.2f}.")
    calls.code_expander(ctx, mixed)

st.subheader("MMRM")
with page_guard("the MMRM"):
    structure = st.segmented_control(
        "Within-patient covariance", list(COVARIANCES), default="unstructured", key="mmrm_cov",
        bind="query-params", required=True,
        help="unstructured: any variance and correlation per visit pair (the regulatory "
             "default); compound symmetry: one correlation; AR(1): correlation decaying "
             "with visit distance; Toeplitz: one correlation per visit distance.") or "unstructured"
    covariance = COVARIANCES[structure]
    try:
        mmrm = Call("fit_mmrm", {"by": settings.by, "covariance": covariance, **options},
                    prints=("lsmeans()",) + (("lsmean_differences()",) if settings.by else ()) + ("fixed",))
        fit = calls.run(ctx, mmrm, "Fitting the MMRM...", report)
    except ValueError as error:  # too few visits or patients: say why in words
        st.info(f"No MMRM for these settings: {md(error, 1000)}", icon=":material/info:")
        fit = None
    if fit is not None and fit.n_patients < settings.min_cell_size:
        st.info(f"Fewer than {settings.min_cell_size} patients with repeated visits: the MMRM "
                "is not shown.", icon=":material/info:")
    elif fit is not None:
        definitions = fit.describe()
        report.definitions += definitions[:1]
        st.caption(f"{md(definitions[0], 1000)} {fit.n_patients} patients, {fit.n_ratings} ratings.")
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
        show_table(report, fit.fixed, "MMRM fixed effects")
        calls.code_expander(ctx, mmrm)
report_download(report)
