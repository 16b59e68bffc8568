"""Infusion Outcomes dashboard: configures the page, draws the global sidebar, routes."""

from pathlib import Path

import streamlit as st

from dashboard import calls, compute, security, server_process
from dashboard.state import render_sidebar
from dashboard.workspace import session as workspace
from dashboard.workspace.panels import saved_views_panel

ICON = Path(__file__).parent / "dashboard" / "icon.svg"  # served by the app: no request to a font CDN

server_process.share_interpreter()
security.install_log_redaction()
security.install_app_logger()
security.start_retention_sweeper()
server_process.start_warm_up()
cleared = security.bind_session_to_browser()  # before anything of the session is read

st.set_page_config(page_title="Infusion Outcomes", page_icon=str(ICON), layout="wide")
workspace.gate()  # team mode: the sign-in page until signed in

PAGES = "dashboard/app_pages/"
page = st.navigation([
    st.Page(PAGES + "data.py", title="Data", icon=":material/table:", default=True,
            help="Choose the sample, a simulated dataset or upload your own; validation report, "
                 "data dictionary, cohort summary and Table 1."),
    st.Page(PAGES + "overview.py", title="Overview", icon=":material/dashboard:",
            help="Headline figures with confidence intervals: response and remission rates, "
                 "median onset in hours, median durability in days."),
    st.Page(PAGES + "trajectories.py", title="Trajectories", icon=":material/show_chart:",
            help="Scores over time by group, individual patients, mixed-model and MMRM results."),
    st.Page(PAGES + "onset.py", title="Onset", icon=":material/bolt:",
            help="Cumulative response against hours after the infusion, with the fitted "
                 "mixture-cure curve."),
    st.Page(PAGES + "durability.py", title="Durability", icon=":material/timelapse:",
            help="Kaplan-Meier curve of sustained response in days, number at risk, parametric "
                 "fit and sustained response at 7-28 days."),
    st.Page(PAGES + "compare.py", title="Compare", icon=":material/compare_arrows:",
            help="Log-rank test, Cox hazard ratios for relapse and responder differences "
                 "between groups."),
    st.Page(PAGES + "series.py", title="Series", icon=":material/format_list_numbered:",
            help="Response and remission by infusion number, infusions to first response."),
    st.Page(PAGES + "symptoms.py", title="Symptoms", icon=":material/psychology:",
            help="Suicidality item over time, dissociation against improvement, response "
                 "phenotypes."),
    st.Page(PAGES + "timeline.py", title="Timeline", icon=":material/view_timeline:",
            help="A swimmer plot of one patient or a sample: infusions, ratings, response, relapse, "
                 "boosters and other events in days."),
    st.Page(PAGES + "report.py", title="Report", icon=":material/article:",
            help="The results collected with Add to report on any page: order, annotate, export as "
                 "one HTML file or a PDF."),
] + workspace.extra_pages(PAGES))
workspace.apply_view_link()  # ?view=<id>: the saved view's settings and page
context = st.session_state["context"] = render_sidebar(page)
saved_views_panel(context.settings.dataset, page.url_path)
if cleared:
    st.info("This session was opened from another browser, so its data was cleared. Choose a dataset "
            "on the Data page.", icon=":material/lock:")
for note in context.url_notes:  # markdown-safe: the values are escaped by dashboard.state
    st.warning(note, icon=":material/link_off:")
try:
    with compute.page_slot(context.full):
        page.run()
    calls.prefetch_next(context, page.url_path)  # the next page's slow default, in the background
finally:  # between runs the session refers to shared datasets only weakly (memory stays bounded)
    st.session_state["context"] = context.detached()
