"""Timeline: a swimmer plot of one patient's course, or a sample's, on one axis in days."""

import streamlit as st

from analysis import figures
from dashboard import calls, compute
from dashboard.calls import Call
from dashboard.components import Report, page_guard, report_download, require_data, show_figure, show_table
from dashboard.context import current

ctx = current()
st.title("Timeline")
st.caption("Each patient's infusions (dose, route), ratings, response and relapse, boosters and other "
           "events on one axis: days since the first infusion.")
require_data(ctx)
if not ctx.row_level:
    # a timeline is one row per patient: viewers of a shared dataset see aggregates only
    st.info("Patient timelines show individual patients, so they are not shown to viewers of a shared "
            "dataset (aggregates only). Ask the dataset's owner for analyst access.", icon=":material/lock:")
    st.stop()
report = Report("Timeline", ctx)
settings = ctx.settings
options = settings.endpoint_options()
with page_guard("the patient timelines"):
    with st.container(horizontal=True, vertical_alignment="bottom"):
        mode = st.segmented_control("Show", ["a sample", "one patient"], default="a sample", key="timeline_mode",
                                    bind="query-params", required=True) or "a sample"
        arguments: dict = {}
        if mode == "a sample":
            size = st.number_input("Patients", min_value=1, max_value=60, value=20, step=5, key="timeline_n",
                                   bind="query-params", help="How many patients to draw at random.")
            seed = st.number_input("Draw", min_value=0, max_value=10_000, value=0, step=1, key="timeline_seed",
                                   bind="query-params", help="Seed of the random draw: change it for another sample.")
            arguments = {"n_patients": int(size), "seed": int(seed)}
        else:
            ids = list(ctx.data.patients["patient_id"].astype(str))
            # patient ids are kept out of the URL on purpose (no patient data in links)
            patient = st.selectbox("Patient", ids, key="timeline_patient")
            arguments = {"patient_ids": [patient]}
    timeline_call = Call("patient_timeline", {**arguments, **options}, prints=("summary()", "timeline_rows({})"),
                         imports=("from analysis.figures import timeline_rows",))
    timeline = calls.run(ctx, timeline_call, "Building the timelines...", report)
    definitions = timeline.describe()
    report.definitions = definitions
    figure = compute.cached_figure(ctx, "timeline", figures.timeline_figure, timeline,
                                   key=repr(sorted(arguments.items())), definitions=definitions,
                                   title="Patient timeline" if mode == "one patient" else "Patient timelines")
    show_figure(report, figure, "Patient timelines", notes=[
        "Grey bar: follow-up from the baseline rating to the last record. Triangles: infusions (colour = route, "
        "size = dose, open = booster); dots: ratings (colour = score, slate blue low to vermillion high); star: first responding rating; "
        "cross: relapse; open symbols: other recorded events (hover for details)."])
    show_table(report, timeline.summary().reset_index(), "Patients shown")
    show_table(report, figures.timeline_rows(timeline), "Timeline records")
    calls.code_expander(ctx, timeline_call)
report_download(report)
