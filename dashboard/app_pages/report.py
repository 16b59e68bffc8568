"""Report: the results collected with "Add to report" on any page, to order, annotate, remove
and export as one self-contained HTML file or a PDF."""

import streamlit as st

from analysis.export import ReportSection
from dashboard import chart, report
from dashboard.security import md
from dashboard.tables import MISSING

st.title("Report")
st.caption("Results collected with **Add to report** under any figure or table, from any page and "
           "dataset. Each keeps its definitions, filters, dataset fingerprint and Python code. Order "
           "them, add your notes, and download them as one HTML file (opens offline) or a PDF.")

held = report.cards()
withheld = report.withheld_note()
if withheld:
    st.warning(withheld, icon=":material/visibility_off:")
if not held:
    st.info("No results yet: use **Add to report** under a figure or table on any page.",
            icon=":material/info:")
    st.caption(report.kept_where())
    st.stop()

title = st.text_input("Report title", value="Infusion Outcomes report", key="report_title", max_chars=200)
report.export_buttons(held, title or "Infusion Outcomes report")
st.caption(f"{len(held)} of at most {report.MAX_CARDS} results. {report.kept_where()}")


def _preview(section: ReportSection, card_id: str) -> None:
    for index, figure in enumerate(section.figures):
        chart.plotly_chart(report.shown_in_app(figure), key=f"report_chart_{card_id}_{index}",
                           config={"displaylogo": False})
    for name, frame in section.tables:
        st.markdown(f"**{md(name)}**")
        st.dataframe(frame, hide_index=True, key=f"report_table_{card_id}_{report.slug(name)}", placeholder=MISSING)
    for note in section.notes:
        st.caption(md(note, 2000))


for position, card in enumerate(held):
    with st.container(border=True, key=f"card_{card.id}"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{position + 1}. {md(card.title)}** · {md(card.page)} · {md(card.dataset_label)}")
            st.button("Up", key=f"up_{card.id}", icon=":material/arrow_upward:", disabled=position == 0,
                      on_click=report.move_card, args=(card.id, -1), type="tertiary")
            st.button("Down", key=f"down_{card.id}", icon=":material/arrow_downward:",
                      disabled=position == len(held) - 1, on_click=report.move_card, args=(card.id, 1),
                      type="tertiary")
            st.button("Remove", key=f"remove_{card.id}", icon=":material/delete:",
                      on_click=report.remove_card, args=(card.id,), type="tertiary")
        st.text_area("Your notes on this result", value=card.annotation, key=f"note_{card.id}",
                     max_chars=5000, placeholder="Shown above the result in the exported report.",
                     on_change=lambda card_id=card.id: report.annotate_card(
                         card_id, st.session_state.get(f"note_{card_id}", "")))
        with st.expander("Preview", key=f"preview_{card.id}"):
            _preview(card.section(), card.id)
        if card.filters:
            st.caption("Filters: " + md("; ".join(card.filters), 1000))

if st.button("Remove all results", icon=":material/delete_sweep:", key="report_clear"):
    report.clear_cards()
    st.rerun()
