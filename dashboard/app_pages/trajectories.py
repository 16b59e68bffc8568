"""Trajectories: scores over time by group, individual patients, mixed model and MMRM."""

import pandas as pd
import streamlit as st

from analysis import figures
from dashboard import compute
from dashboard.components import (
    Report,
    code_expander,
    not_available,
    page_guard,
    python_snippet,
    report_download,
    require_data,
    show_figure,
    show_table,
    small_groups,
)
from dashboard.context import current

TIMES = ("visit", "hours", "days")
VALUES = {"score": "score", "change": "change", "% change": "pct_change"}  # option -> analysis value
X_TITLES = {"visit": "Visit (schedule order)", "hours": "Hours since the first infusion",
            "days": "Days since the first infusion"}

ctx = current()
st.title("Trajectories")
st.caption("How scores move over time: mean with 95% CI per group, individual patients in grey.")
require_data(ctx)
report = Report("Trajectories", ctx)
settings = ctx.settings
options = settings.endpoint_options()
needed = compute.missing(["trajectory"])
if needed:
    not_available("The trajectory plot", needed)
else:
    with page_guard("the trajectories"):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            time = st.segmented_control("Time axis", TIMES, default="visit", key="traj_time",
                                        bind="query-params", required=True) or "visit"
            value = VALUES[st.segmented_control("Value", list(VALUES), default="score", key="traj_value",
                                                bind="query-params", required=True) or "score"]
            spaghetti = st.toggle("Individual patients", value=True, key="traj_individual",
                                  bind="query-params")
        result = compute.run(ctx, "trajectory", "Summarising trajectories...", by=settings.by, time=time,
                             value=value, **options)
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
        individual = result.individual if spaghetti and not hidden else None
        figure = compute.cached_figure(
            ctx, "trajectory", figures.trajectory_figure, table,
            key=(time, value, spaghetti, tuple(highlight)), x=x, order="time_order", x_title=X_TITLES[time], y_title=unit,
            individual=individual, individual_x=x if time != "visit" else "time_point",
            individual_y="value", highlight=highlight, definitions=definitions, exclude_groups=hidden,
            title=f"{settings.instrument} over time",
        )
        notes = ["Points: mean with 95% CI; grey lines: up to 200 patients (a fixed random subset)."]
        if hidden:
            notes.append(f"Groups with fewer than {settings.min_cell_size} patients are not drawn "
                         "(and individual lines are hidden): " + ", ".join(hidden) + ".")
        show_figure(report, figure, "Scores over time", notes=notes)
        show_table(report, table, "Trajectory summary", count_column="n",
                   keep_columns=["group", "time_point"])
        code_expander(python_snippet(ctx, "trajectory", {"by": settings.by, "time": time, "value": value,
                                                         **options}, ("print(result.summary())",)),
                      "trajectory")

    st.subheader("Mixed model")
    if compute.missing(["fit_trajectory"]):
        not_available("The mixed model", ["fit_trajectory"])
    else:
        with page_guard("the mixed model"):
            choice = st.segmented_control("Random effects per patient", ["intercept and slope", "intercept"],
                                          default="intercept and slope", key="lmm_random",
                                          bind="query-params", required=True)
            random = "~1" if choice == "intercept" else "~time"
            model = compute.run(ctx, "fit_trajectory", "Fitting the mixed model...", by=settings.by,
                                random=random, **options)
            st.caption(f"Linear mixed model {model.formula} with random {random} per patient "
                       f"(REML), {model.n_patients} patients, {model.n_ratings} post-baseline ratings. "
                       "Time in days since the first infusion; estimates in score points.")
            show_table(report, model.fixed, "Mixed model fixed effects")
            code_expander(python_snippet(ctx, "fit_trajectory", {"by": settings.by, "random": random,
                                                                 **options}, ("print(result.summary())",)),
                          "lmm")

    st.subheader("MMRM")
    if compute.missing(["mmrm", "derive_endpoints"]):
        not_available("The MMRM", compute.missing(["mmrm", "derive_endpoints"]))
    else:
        with page_guard("the MMRM"):
            import analysis

            endpoints = compute.run(ctx, "derive_endpoints", "Deriving endpoints...", **options)
            frame, visits = compute.call(ctx, "mmrm_frame", "Preparing the MMRM...", compute.mmrm_frame,
                                         endpoints, settings.by, key=repr(settings))
            grouped = settings.by is not None and frame.get("group", pd.Series()).nunique() > 1
            formula = "change ~ C(visit) + baseline_score" + (" + C(group) + C(group):C(visit)" if grouped else "")
            if len(visits) < 2 or frame["patient_id"].nunique() < settings.min_cell_size:
                st.info("Too few patients with repeated visits for an MMRM.")
            else:
                fit = compute.call(ctx, "mmrm", "Fitting the MMRM...", analysis.mmrm, frame, formula,
                                   subject="patient_id", visit="visit", covariance="unstructured",
                                   key=(repr(sorted(options.items())), settings.by, formula))
                st.caption(f"MMRM of change from baseline (points): {formula}, unstructured covariance over "
                           f"the visits attended by the most patients ({', '.join(visits)}), REML, "
                           f"Satterthwaite df; {fit.n_subjects} patients, {fit.n_obs} ratings.")
                lsmeans = compute.call(ctx, "mmrm_lsmeans", "Computing least-squares means...", fit.lsmeans,
                                       "group" if grouped else None,
                                       key=(repr(sorted(options.items())), settings.by, formula))
                if grouped:
                    sizes = frame.groupby("group")["patient_id"].nunique()
                    lsmeans = lsmeans.merge(sizes.rename("patients").reset_index(), on="group", how="left")
                show_table(report, lsmeans, "MMRM least-squares means (change from baseline, points)",
                           count_column="patients" if grouped else None,
                           keep_columns=["visit", "group"] if grouped else ())
                show_table(report, fit.fixed, "MMRM fixed effects")
                steps = [
                    "import pandas as pd",
                    f"visits = {visits!r}",
                    "ratings = result.ratings",
                    "post = ratings[~ratings['is_baseline'] & ratings['visit'].isin(visits)]",
                    "post = post.sort_values(['patient_id', 'time_hours'])"
                    ".drop_duplicates(['patient_id', 'visit'], keep='last')",
                    "frame = post[['patient_id', 'visit', 'change', 'baseline_score']].copy()",
                    "frame['visit'] = pd.Categorical(frame['visit'], categories=visits, ordered=True)",
                ]
                if grouped:
                    steps.append(f"frame['group'] = frame['patient_id'].map("
                                 f"result.patients.set_index('patient_id')[{settings.by!r}]).astype(str)")
                steps += ["frame = frame.dropna()",
                          f"fit = analysis.mmrm(frame, {formula!r}, subject='patient_id', visit='visit',"
                          " covariance='unstructured')",
                          "print(fit.fixed)",
                          f"print(fit.lsmeans({'group' if grouped else None!r}))"]
                code_expander(python_snippet(ctx, "derive_endpoints", options, steps), "mmrm")
report_download(report)
