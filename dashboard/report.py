"""Reports: what a page shows (``Report``, the page's HTML report) and the session's report that
spans pages (cards added with "Add to report", ordered and annotated on the Report page,
exported as one HTML file or a PDF).

A card holds plain values only (figure JSON, small tables, texts): never the dataset. The cards
of a session are bounded (MAX_CARDS, MAX_CARD_BYTES).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

import analysis
from analysis.cohort import describe_filters
from analysis.export import ReportSection, figure_to_image, html_report, image_export_problem, pdf_report
from dashboard.security import md
from dashboard.workspace import session as workspace

if TYPE_CHECKING:
    from dashboard.calls import Call
    from dashboard.state import Context

CARDS_KEY = "report_cards"
MAX_CARDS = 40
MAX_CARD_BYTES = 40 << 20  # figure JSON and tables of all cards of a session


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "item"


def dataset_label(ctx: Context) -> str:
    name = ctx.settings.dataset
    if name == "sample":
        return "bundled sample (data/sample)"
    if name.startswith("simulated-"):
        _, n, seed = name.split("-")
        return f"simulated, {n} patients, seed {seed}"
    return workspace.dataset_label(name) or "uploaded file"


def software_versions() -> dict[str, str]:
    import plotly

    return {"analysis": analysis.__version__, "plotly": plotly.__version__,
            "streamlit": st.__version__, "pandas": pd.__version__}


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    """One result in the session's report, with where it came from."""

    id: str
    page: str
    title: str
    figures: tuple[str, ...]  # plotly figure JSON
    tables: tuple[tuple[str, pd.DataFrame], ...]
    notes: tuple[str, ...]
    definitions: tuple[str, ...]
    filters: tuple[str, ...]
    dataset: str  # the dataset's name in the URL (audit trail)
    dataset_label: str
    fingerprint: str
    code: str
    added: datetime
    annotation: str = ""

    @property
    def nbytes(self) -> int:
        return (sum(len(f) for f in self.figures)
                + sum(int(t.memory_usage(deep=True).sum()) for _, t in self.tables)
                + len(self.code) + sum(len(s) for s in self.notes + self.definitions))

    def section(self) -> ReportSection:
        import plotly.io as pio

        return ReportSection(self.title, figures=tuple(pio.from_json(f, skip_invalid=True) for f in self.figures),
                             tables=self.tables, notes=self.notes, code=self.code, page=self.page,
                             dataset=self.dataset_label, fingerprint=self.fingerprint, filters=self.filters,
                             definitions=self.definitions, annotation=self.annotation)


def cards() -> list[Card]:
    """This session's report cards, in the user's order."""
    return list(st.session_state.get(CARDS_KEY, []))


def _save(held: Sequence[Card]) -> None:
    st.session_state[CARDS_KEY] = list(held)


def add_card(card: Card) -> str | None:
    """Append ``card``; a sentence saying why not when the report is full (None when added)."""
    held = cards()
    if len(held) >= MAX_CARDS:
        return (f"The report holds {MAX_CARDS} results, the most it keeps: remove some on the Report page "
                "first.")
    if sum(c.nbytes for c in held) + card.nbytes > MAX_CARD_BYTES:
        return (f"The report's results take {MAX_CARD_BYTES >> 20} MB, the most it keeps: remove some "
                "(large figures first) on the Report page.")
    _save([*held, card])
    return None


def move_card(card_id: str, step: int) -> None:
    """Move a card ``step`` places (-1 up, +1 down), within the list."""
    held = cards()
    index = next((i for i, c in enumerate(held) if c.id == card_id), None)
    if index is None:
        return
    target = min(max(index + step, 0), len(held) - 1)
    held.insert(target, held.pop(index))
    _save(held)


def remove_card(card_id: str) -> None:
    _save([c for c in cards() if c.id != card_id])


def annotate_card(card_id: str, text: str) -> None:
    _save([replace(c, annotation=text) if c.id == card_id else c for c in cards()])


def report_html(held: Sequence[Card], title: str = "Infusion Outcomes report", *, for_print: bool = False,
                created: datetime | None = None) -> str:
    """The cards as one self-contained HTML report (plotly.js once)."""
    return html_report(title, [c.section() for c in held], filters=None,
                       software=software_versions(), created=created, for_print=for_print)


def _audited(held: Sequence[Card], file_name: str, content: bytes) -> bytes:
    for dataset in dict.fromkeys(c.dataset for c in held):
        workspace.audit_export(dataset, file_name)
    return content


# ---------------------------------------------------------------------------------------------
class Report:
    """Collects what a page shows: for the page's HTML report, and the "Add to report" button of
    each result (figure or table), whose card carries the Python code of the calls that produced
    it (those noted since the previous result)."""

    def __init__(self, title: str, ctx: Context):
        self.title = title
        self.ctx = ctx
        self.sections: list[ReportSection] = []
        self._definitions: list[str] = []  # one list object: the buttons' callbacks read it on click
        self._calls: list[Call] = []
        self._added_since_call = False

    @property
    def definitions(self) -> list[str]:
        return self._definitions

    @definitions.setter
    def definitions(self, value: Sequence[str]) -> None:
        self._definitions[:] = list(value)

    def note_call(self, call: Call) -> None:
        """A call the results added next come from (calls in a row before a result all count)."""
        if self._added_since_call:
            self._calls, self._added_since_call = [], False
        self._calls.append(call)

    def add(self, section: ReportSection) -> None:
        """Keep ``section`` for the page's report and show its "Add to report" button."""
        from dashboard.calls import snippet

        ctx = self.ctx
        code = snippet(ctx, self._calls) if self._calls else ""
        self._added_since_call = True
        section = replace(section, code=section.code or code)
        self.sections.append(section)
        kind = "figure" if section.figures else "table"
        # the callback lives until the next run: it holds plain values, never the context
        page, definitions = self.title, self._definitions
        filters = tuple(describe_filters(**ctx.settings.filters()))
        dataset, label = ctx.settings.dataset, dataset_label(ctx)
        fingerprint = ctx.full.fingerprint if ctx.full is not None else ""
        minimum = (f"Minimum cell size: groups with fewer than {ctx.settings.min_cell_size} patients are "
                   "suppressed.",)

        def add_to_report() -> None:
            import plotly.io as pio

            card = Card(id=uuid.uuid4().hex[:10], page=page, title=section.title,
                        figures=tuple(pio.to_json(f, validate=False) for f in section.figures),
                        tables=section.tables, notes=section.notes, definitions=tuple(dict.fromkeys([*definitions, *minimum])),
                        filters=filters, dataset=dataset, dataset_label=label, fingerprint=fingerprint,
                        code=section.code, added=datetime.now(UTC))
            problem = add_card(card)
            if problem:
                st.toast(problem, icon=":material/error:")
            else:
                st.toast(f"Added to the report ({len(cards())} results): see the Report page.",
                         icon=":material/playlist_add:")

        st.button("Add to report", key=f"add_{kind}_{slug(page)}_{slug(section.title)}",
                  on_click=add_to_report, icon=":material/playlist_add:", type="tertiary",
                  help="Collect this result, with its definitions, filters, dataset fingerprint and Python "
                       "code, in the report you can order, annotate and export on the Report page.")


def show_figure(report: Report, figure: Any, name: str, *, notes: Sequence[str] = ()) -> None:
    """A figure with PNG and SVG downloads (rendered on click by kaleido) and "Add to report"."""
    st.plotly_chart(figure, key=f"chart_{slug(name)}", alt=name,
                    config={"displaylogo": False, "toImageButtonOptions": {"filename": slug(name)}})
    for note in notes:
        st.caption(md(note, 2000))
    # without a working Chromium the buttons would fail on click with no reason: say it here
    problem = image_export_problem()
    with st.container(horizontal=True):
        st.download_button("PNG", data=lambda: figure_to_image(figure, "png"),
                           file_name=f"{slug(name)}.png", mime="image/png", on_click="ignore",
                           icon=":material/image:", key=f"png_{slug(name)}", disabled=problem is not None)
        st.download_button("SVG", data=lambda: figure_to_image(figure, "svg"),
                           file_name=f"{slug(name)}.svg", mime="image/svg+xml", on_click="ignore",
                           icon=":material/draw:", key=f"svg_{slug(name)}", disabled=problem is not None)
    if problem is not None:
        st.caption(md(problem, 1000))
    report.add(ReportSection(name, figures=(figure,), notes=tuple(notes)))


def show_text(report: Report, name: str, text: str) -> None:
    """A result stated in a sentence (e.g. a test's statistic and p-value): shown as markdown
    (``text`` must be markdown-safe) and kept in the page's report as a note."""
    st.markdown(text)
    plain = re.sub(r"\*\*(.*?)\*\*", r"\1", text).replace("\\", "")
    report.add(ReportSection(name, notes=(plain,)))


def report_download(report: Report) -> None:
    """The current view as a self-contained HTML report (built when clicked): every result the
    page showed, with its Python code."""
    ctx = report.ctx
    filters = describe_filters(**ctx.settings.filters())
    definitions = list(dict.fromkeys(report.definitions + [
        f"Minimum cell size: groups with fewer than {ctx.settings.min_cell_size} patients are suppressed.",
    ]))
    sections = list(report.sections)
    fingerprint = ctx.full.fingerprint if ctx.full is not None else ""
    # the click handler lives as long as the session: it captures plain values, never the context
    # (which holds the whole dataset)
    title, label, dataset = report.title, dataset_label(ctx), ctx.settings.dataset

    def build() -> bytes:
        text = html_report(f"Infusion Outcomes: {title}", sections, definitions=definitions, filters=filters,
                           dataset=label, fingerprint=fingerprint, software=software_versions())
        workspace.audit_export(dataset, f"report_{slug(title)}.html")
        return text.encode("utf-8")

    st.divider()
    st.download_button("Download this view as an HTML report", data=build,
                       file_name=f"report_{slug(report.title)}.html", mime="text/html",
                       on_click="ignore", icon=":material/description:", key="report_html")


@dataclass
class _Export:
    """The Report page's export buttons' builders (plain values only)."""

    held: list[Card] = field(default_factory=list)
    title: str = "Infusion Outcomes report"

    def html(self) -> bytes:
        return _audited(self.held, "report.html", report_html(self.held, self.title).encode("utf-8"))

    def pdf(self) -> bytes:
        return _audited(self.held, "report.pdf", pdf_report(report_html(self.held, self.title, for_print=True)))


def export_buttons(held: list[Card], title: str) -> None:
    """HTML and PDF downloads of ``held`` (built when clicked); PDF disabled, with the reason,
    when this server has no working Chromium."""
    export = _Export(list(held), title)
    problem = image_export_problem()
    with st.container(horizontal=True):
        st.download_button("Download the report (HTML)", data=export.html, file_name="report.html",
                           mime="text/html", on_click="ignore", icon=":material/description:",
                           key="report_cards_html")
        st.download_button("Download the report (PDF)", data=export.pdf, file_name="report.pdf",
                           mime="application/pdf", on_click="ignore", icon=":material/picture_as_pdf:",
                           key="report_cards_pdf", disabled=problem is not None,
                           help="Printed by Chromium on the server (A4): takes some seconds, more with many "
                                "figures.")
    if problem is not None:
        st.caption(md(problem.replace("Figure export (PNG, SVG)", "The PDF report"), 1000))


def clear_cards() -> None:
    _save([])
