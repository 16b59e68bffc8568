"""Reports: what a page shows (``Report``, the page's HTML report) and the session's report that
spans pages (cards added with "Add to report", ordered and annotated on the Report page,
exported as one HTML file or a PDF).

A card holds plain values only (figure JSON, small tables, texts): never the dataset. The cards
of a session are bounded (MAX_CARDS, MAX_CARD_BYTES) and belong to their owner, not to the
session: the signed-in user in team mode, the browser (a digest of its secrets) locally. They are
kept in the workspace database under that owner (``report_cards``), so that a reload or a server
restart finds them again, and removed when the owner has not used the report for the workspace's
``report_retention_days`` or when the stored dataset they came from is deleted. Cards of a file
kept for this session only (``upload-...``) are never written to disk: they stay in the session,
like the file itself.

A card of a stored dataset is shown and exported only while its owner may open that dataset with
the rights the card was made with (``Card.access``; one rule, :func:`_may_see`, checked on every
read of the report and again when an export is built). A card that fails it (sharing withdrawn,
dataset deleted, an analyst now a viewer) is deleted from the report and the store, and the
Report page says how many and why; while the database is away, such cards are hidden, not deleted.
Cards of a deleted dataset are also deleted with it, in the store.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
import uuid
import weakref
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

import analysis
from analysis.cohort import describe_filters
from analysis.export import ReportSection, figure_to_image, html_report, image_export_problem, pdf_report
from dashboard import chart
from dashboard.security import md
from dashboard.workspace import session as workspace
from dashboard.workspace.store import Principal, ReportCardRow, WorkspaceError, WorkspaceUnavailable, allows

if TYPE_CHECKING:
    from dashboard.calls import Call
    from dashboard.state import Context

logger = logging.getLogger("dashboard")

CARDS_KEY = "report_cards"
MAX_CARDS = 40
MAX_CARD_BYTES = 40 << 20  # figure JSON and tables of all cards of a session
# session keys: whose cards CARDS_KEY holds (a report_owner key, or None), whether they were read
# from the store in this run, why the last change could not be stored (a sentence), and the ids of
# cards this tab holds that the store does not have yet
_OWNER_KEY, _LOADED_KEY, _UNSAVED_KEY = "_report_owner", "_report_loaded", "_report_unsaved"
_PENDING_KEY = "_report_pending"
# card id -> why it was taken out of the report in this session ("unshared", "viewer"); ids of
# cards hidden in this run because access could not be checked (the database is away)
_REMOVED_KEY, _HIDDEN_KEY = "_report_removed", "_report_hidden"
SESSION_ONLY_PREFIX = "upload-"  # a file kept for this session only: its cards never go to disk


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
    # the least role on its stored dataset that may see the card: "viewer" when made by a viewer
    # (aggregates only), "analyst" when made with row-level access (an analyst or the owner)
    access: str = "analyst"

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


def _table_record(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as JSON: pandas' table schema (column types, the index) and, for object columns
    (e.g. counts with suppressed cells), their values as they are (10 stays 10, not 10.0)."""
    try:
        schema = frame.to_json(orient="table", index=True)
    except ValueError:  # names the schema cannot hold (duplicates, an index named as a column): as text
        frame = pd.DataFrame(frame.astype(str).to_numpy(), index=frame.index.astype(str),
                             columns=[f"{c} ({i + 1})" for i, c in enumerate(frame.columns)])
        schema = frame.to_json(orient="table", index=True)
    objects = {str(i): frame.iloc[:, i].tolist() for i in range(frame.shape[1])
               if pd.api.types.is_object_dtype(frame.dtypes.iloc[i])}
    index = frame.index
    span = [index.start, index.stop, index.step] if isinstance(index, pd.RangeIndex) else None
    return {"schema": schema, "objects": objects, "range_index": span}


def _table(record: dict[str, Any]) -> pd.DataFrame:
    frame = pd.read_json(io.StringIO(record["schema"]), orient="table")
    for position, values in record["objects"].items():
        frame.isetitem(int(position), pd.Series(values, index=frame.index, dtype=object))
    if record.get("range_index"):  # the report shows an index only when it is not a RangeIndex
        frame.index = pd.RangeIndex(*record["range_index"], name=frame.index.name)
    return frame


def card_payload(card: Card) -> bytes:
    """The card as the store keeps it: compressed JSON, without the annotation (stored beside it,
    so a note rewrites no figure)."""
    record = {"id": card.id, "page": card.page, "title": card.title, "figures": list(card.figures),
              "tables": [[name, _table_record(frame)] for name, frame in card.tables],
              "notes": list(card.notes), "definitions": list(card.definitions), "filters": list(card.filters),
              "dataset": card.dataset, "dataset_label": card.dataset_label, "fingerprint": card.fingerprint,
              "code": card.code, "added": card.added.isoformat(), "access": card.access}
    return zlib.compress(json.dumps(record, separators=(",", ":"), default=str).encode("utf-8"), 6)


def card_from_payload(payload: bytes, annotation: str = "") -> Card:
    """The card :func:`card_payload` stored (at most MAX_CARD_BYTES unpacked; ValueError otherwise)."""
    unpacker = zlib.decompressobj()
    text = unpacker.decompress(payload, MAX_CARD_BYTES + 1)
    if len(text) > MAX_CARD_BYTES or unpacker.unconsumed_tail:
        raise ValueError("a stored report card is larger than a report may hold")
    record = json.loads(text)
    tables = tuple((str(name), _table(table)) for name, table in record["tables"])
    return Card(id=str(record["id"]), page=record["page"], title=record["title"], figures=tuple(record["figures"]),
                tables=tables, notes=tuple(record["notes"]), definitions=tuple(record["definitions"]),
                filters=tuple(record["filters"]), dataset=record["dataset"], dataset_label=record["dataset_label"],
                fingerprint=record["fingerprint"], code=record["code"], added=datetime.fromisoformat(record["added"]),
                annotation=str(annotation), access=str(record.get("access", "analyst")))


def _session_only(card: Card) -> bool:
    return card.dataset.startswith(SESSION_ONLY_PREFIX)


def _stored(owner: str, held: Sequence[Card]) -> list[Card]:
    """``owner``'s stored cards in their stored order and with their stored notes; payloads are
    read only for cards ``held`` lacks (a card that no longer reads is skipped and logged)."""
    known = {c.id: c for c in held}
    out = []
    for row in workspace.workspace().report_cards(owner, known=known):
        card = known.get(row.id)
        if card is not None:
            out.append(card if card.annotation == row.annotation else replace(card, annotation=row.annotation))
            continue
        try:
            out.append(card_from_payload(row.payload, row.annotation))
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("a stored report card could not be read (%s)", type(error).__name__)
    return out


def _merged(held: Sequence[Card], stored: Sequence[Card], unsaved: set[str]) -> list[Card]:
    """The stored report (the owner's other tabs may have changed it) with this tab's cards that
    are not stored (session-only files, cards added while the store was away) at their places."""
    out = list(stored)
    previous: str | None = None
    for card in held:
        if _session_only(card) or card.id in unsaved:
            if card.id not in {c.id for c in out}:
                at = 0 if previous is None else next((i + 1 for i, c in enumerate(out) if c.id == previous), len(out))
                out.insert(at, card)
            previous = card.id
        elif any(c.id == card.id for c in out):
            previous = card.id
    return out


def _may_see(held: Sequence[Card], who: Principal | None) -> tuple[list[Card], dict[str, str]]:
    """The cards of ``held`` that ``who`` may see now, and why each other one is not (card id ->
    a reason of :func:`_refusals`). The one rule for showing and exporting."""
    reasons = _refusals([(c.dataset, c.access) for c in held], who)
    return ([c for c, r in zip(held, reasons, strict=True) if r is None],
            {c.id: r for c, r in zip(held, reasons, strict=True) if r is not None})


def _refusals(wanted: Sequence[tuple[str, str]], who: Principal | None) -> list[str | None]:
    """For each (dataset, access) of ``wanted``, None when ``who`` may see now what was made from
    the dataset with that access, else why not: "unshared" (its stored dataset is not open to them,
    deleted or no longer shared), "viewer" (made with row-level access they no longer have) or
    "unchecked" (the database is away). A stored dataset must be open to ``who`` with at least
    ``access`` (viewer or analyst, as ``Card.access``); the sample, simulated data and session
    files need nothing."""
    ids = {i for dataset, _ in wanted if (i := workspace.stored_dataset_id(dataset)) is not None}
    roles: dict[str, str] | None = {}
    if ids and who is not None:
        try:
            roles = workspace.workspace().dataset_roles(who, ids)
        except WorkspaceUnavailable:
            roles = None
    reasons: list[str | None] = []
    for dataset, access in wanted:
        dataset_id = workspace.stored_dataset_id(dataset)
        if dataset_id is None or (roles is not None and allows(roles.get(dataset_id), access)):
            reasons.append(None)
        else:
            reasons.append("unchecked" if roles is None else "viewer" if dataset_id in roles else "unshared")
    return reasons


def view_access(dataset: str) -> str:
    """The least role on ``dataset`` that may see what this run shows of it (``Card.access``):
    "viewer" when the user may see aggregates only, else "analyst" (row-level)."""
    return "analyst" if workspace.row_level(dataset) else "viewer"


# why an export of a view is not built (the reasons of _refusals), ending a sentence
_NOT_EXPORTED = {
    "unshared": "you can no longer open the stored dataset it comes from (its owner stopped sharing it with "
                "you, or deleted it)",
    "viewer": "it was made with an analyst's access to a dataset you may now only view (aggregates only)",
    "unchecked": "whether you may still open its dataset cannot be checked while the workspace database is "
                 "away; try again in a minute",
}

# the same reasons in the audit trail (an export refused: action "export-refused")
_REFUSED_DETAIL = {"unshared": "dataset not open to them", "viewer": "analyst's view, now a viewer",
                   "unchecked": "access not checked (database away)"}


@dataclass(frozen=True)
class ExportRequest:
    """Who may export what a page drew from ``dataset``, captured when the download button is
    drawn: plain values only, for the builder runs on click, in a thread of its own, without the
    session (``st.user`` is empty there). Use :meth:`here` in the run that draws the button."""

    dataset: str
    access: str
    who: Principal | None

    @classmethod
    def here(cls, dataset: str) -> ExportRequest:
        return cls(dataset, view_access(dataset), workspace.principal())

    def export(self, file_name: str, build: Callable[[], bytes], refused: Callable[[str], bytes]) -> bytes:
        """``build()``, audited as an export of ``file_name`` under ``who``, while they may still
        see the view (checked now by the rule of :func:`_may_see`: a grant may have been revoked
        or lowered since the button was drawn); else ``refused(sentence)``: a file of the same
        kind saying in words why nothing was exported, not audited."""
        reason = _refusals([(self.dataset, self.access)], self.who)[0]
        if reason is not None:
            workspace.audit_export(self.dataset, file_name, who=self.who, refused=_REFUSED_DETAIL[reason])
            return refused(f"Not exported: {_NOT_EXPORTED[reason]}.")
        content = build()
        workspace.audit_export(self.dataset, file_name, who=self.who)
        return content


def cards() -> list[Card]:
    """The report's cards the user may see, in their order: the owner's stored report, read
    afresh on every call (another tab of the same owner may have changed it), with this tab's
    cards that are not stored (when the store cannot be read, the tab's cards as they were). Cards
    that fail :func:`_may_see` are deleted (noted for :func:`withheld_note`), or held back unseen
    while access cannot be checked."""
    state, owner = st.session_state, workspace.report_owner()
    if state.get(_OWNER_KEY, owner) != owner:  # another user signed in within this session
        state[CARDS_KEY], state[_PENDING_KEY] = [], set()
        state.pop(_REMOVED_KEY, None)
    state[_OWNER_KEY] = owner
    before: list[Card] = list(state.get(CARDS_KEY, []))
    held = before
    state[_LOADED_KEY] = False
    if owner is not None:
        try:
            stored = _stored(owner, held)
        except WorkspaceUnavailable as error:
            state[_UNSAVED_KEY] = str(error)
        else:
            held = _merged(held, stored, state.get(_PENDING_KEY, set()))
            state[_LOADED_KEY] = True
            if not state.get(_PENDING_KEY):
                state.pop(_UNSAVED_KEY, None)
    # the tab's former cards too: one another tab took out is still counted here
    ids = {c.id for c in held}
    _, why = _may_see([*held, *(c for c in before if c.id not in ids)], workspace.principal())
    state[_HIDDEN_KEY] = {i for i, w in why.items() if w == "unchecked"}
    removed = {i: w for i, w in why.items() if w != "unchecked"}
    state[CARDS_KEY] = held
    if removed:
        state.setdefault(_REMOVED_KEY, {}).update(removed)
        if any(c.id in removed for c in held):
            _save([c for c in held if c.id not in removed])  # from the store too
    return [c for c in state[CARDS_KEY] if c.id not in why]


def withheld_note() -> str | None:
    """How many results the report does not show or export, and why, in words (None: none)."""
    state = st.session_state
    reasons = list(state.get(_REMOVED_KEY, {}).values())
    unshared, viewer, hidden = reasons.count("unshared"), reasons.count("viewer"), len(state.get(_HIDDEN_KEY, ()))
    said = []
    if unshared:
        said.append(f"{_results(unshared)} taken out of this report: they came from a stored dataset you "
                    "can no longer open (its owner stopped sharing it with you, or deleted it).")
    if viewer:
        said.append(f"{_results(viewer)} taken out of this report: made with an analyst's access to a "
                    "dataset you may now only view (aggregates only).")
    if hidden:
        said.append(f"{_results(hidden)} of stored datasets not shown for now: whether you may still open "
                    "their datasets cannot be checked while the workspace database is away.")
    return " ".join(said) or None


def _results(count: int) -> str:
    return f"{count} result" + ("s" if count != 1 else "")


def kept_where() -> str:
    """Where the report's cards are kept and for how long, in a sentence (markdown-safe)."""
    state = st.session_state
    owner = state.get(_OWNER_KEY)
    if owner is None:
        return ("These results are kept in this browser tab only: the connection carries no browser "
                "cookie to keep them by, so a reload starts an empty report.")
    unsaved = state.get(_UNSAVED_KEY)
    if unsaved:
        return ("These results are kept in this browser tab for now: the copy on the server could not be "
                f"read or updated ({md(unsaved, 400)}). The next change tries again.")
    days = workspace.config().report_retention_days
    whom = "your account" if owner.startswith("user:") else "this browser"
    text = (f"Kept on the server for {whom}: a reload or a server restart finds them again; "
            + (f"removed after {days} days unused" if days else "kept until you remove them")
            + ", and once the stored dataset they came from is deleted or no longer shared with you.")
    session_only = sum(c.dataset.startswith(SESSION_ONLY_PREFIX) for c in state.get(CARDS_KEY, []))
    if session_only:
        text += (f" {session_only} result(s) of a file kept for this session only stay in this tab (never "
                 "written to disk, like the file).")
    return text


def _save(held: Sequence[Card]) -> None:
    """Keep ``held`` in the session and, for its owner, in the store (cards of session-only
    files excepted); a failure is noted for the Report page, the session keeps the cards. Cards
    :func:`cards` held back unseen (access unchecked) stay, after ``held``."""
    state = st.session_state
    ids = {c.id for c in held}
    hidden = state.get(_HIDDEN_KEY, set())
    held = [*held, *(c for c in state.get(CARDS_KEY, []) if c.id in hidden and c.id not in ids)]
    state[CARDS_KEY] = list(held)
    owner = state.get(_OWNER_KEY)
    persistent = [c for c in held if not _session_only(c)]
    if owner is None:
        return
    if not state.get(_LOADED_KEY):  # the stored report could not be read: never overwrite it unseen
        state[_PENDING_KEY] = {c.id for c in persistent}
        return
    rows = [ReportCardRow(c.id, c.annotation, lambda c=c: card_payload(c), workspace.stored_dataset_id(c.dataset))
            for c in persistent]
    try:
        workspace.workspace().save_report_cards(owner, rows)
    except (WorkspaceUnavailable, WorkspaceError) as error:
        state[_UNSAVED_KEY] = str(error)
        state[_PENDING_KEY] = {c.id for c in persistent}
    else:
        state.pop(_UNSAVED_KEY, None)
        state[_PENDING_KEY] = set()


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
        access = view_access(dataset)
        minimum = (f"Minimum cell size: groups with fewer than {ctx.settings.min_cell_size} patients are "
                   "suppressed.",)

        def add_to_report() -> None:
            import plotly.io as pio

            card = Card(id=uuid.uuid4().hex[:10], page=page, title=section.title,
                        figures=tuple(pio.to_json(f, validate=False) for f in section.figures),
                        tables=section.tables, notes=section.notes, definitions=tuple(dict.fromkeys([*definitions, *minimum])),
                        filters=filters, dataset=dataset, dataset_label=label, fingerprint=fingerprint,
                        code=section.code, added=datetime.now(UTC), access=access)
            problem = add_card(card)
            if problem:
                st.toast(problem, icon=":material/error:")
            else:
                unsaved = " (kept in this tab for now: the server's copy could not be updated)" \
                    if st.session_state.get(_UNSAVED_KEY) else ""
                st.toast(f"Added to the report ({len(cards())} results){unsaved}: see the Report page.",
                         icon=":material/playlist_add:")

        st.button("Add to report", key=f"add_{kind}_{slug(page)}_{slug(section.title)}",
                  on_click=add_to_report, icon=":material/playlist_add:", type="tertiary",
                  help="Collect this result, with its definitions, filters, dataset fingerprint and Python "
                       "code, in the report you can order, annotate and export on the Report page.")


def show_figure(report: Report, figure: Any, name: str, *, notes: Sequence[str] = ()) -> None:
    """A figure with PNG and SVG downloads (rendered on click by kaleido) and "Add to report"."""
    if figure.layout.datarevision is None:  # as cached figures (compute.cached_figure): drawn once
        figure.update_layout(datarevision=1)
    dataset = report.ctx.settings.dataset
    # the toolbar's camera makes a PNG in the browser, which the server cannot audit: an audited
    # dataset's images come from the PNG and SVG buttons only
    toolbar = {"modeBarButtonsToRemove": ["toImage"]} if workspace.is_workspace(dataset) else {}
    chart.plotly_chart(shown_in_app(figure), key=f"chart_{slug(name)}", alt=name,
                       config={"displaylogo": False, "toImageButtonOptions": {"filename": slug(name)}, **toolbar})
    for note in notes:
        st.caption(md(note, 2000))
    # without a working Chromium the buttons would fail on click with no reason: say it here
    problem = image_export_problem()
    asked = ExportRequest.here(dataset)
    with st.container(horizontal=True):
        for file_format, mime, icon in (("png", "image/png", ":material/image:"),
                                        ("svg", "image/svg+xml", ":material/draw:")):
            file_name = f"{slug(name)}.{file_format}"
            st.download_button(file_format.upper(), data=lambda file_name=file_name, file_format=file_format:
                               asked.export(file_name, lambda: figure_to_image(figure, file_format),
                                            lambda why: figure_to_image(_words_figure(why), file_format)),
                               file_name=file_name, mime=mime, on_click="ignore", icon=icon,
                               key=f"{file_format}_{slug(name)}", disabled=problem is not None)
    if problem is not None:
        st.caption(md(problem, 1000))
    report.add(ReportSection(name, figures=(figure,), notes=tuple(notes)))


# id(figure) -> (a weak reference to it, its copy as the app draws it): a cached figure (the same
# object on every warm run, compute.cached_figure) is copied once, the copy let go with it
_SHOWN_IN_APP: dict[int, tuple[weakref.ref, Any]] = {}


def shown_in_app(figure: Any) -> Any:
    """``figure`` as the dashboard draws it: a copy whose hover labels' text is ``THEME_TEXT``,
    which Streamlit's plotly theme replaces with its strongest text grey (GRAY_90, light and dark
    theme) on the labels' theme background, where its theme would otherwise merge in its GRAY_70
    (#808495, 3.7:1 on white). A copy, so the figure itself (its PNG, SVG and the reports, where
    plotly's hover labels stay as they were) is left as it is; made once per figure object (a
    figure is not changed once shown: cached figures are shared by sessions); a figure with a
    hover label colour of its own is drawn as it is."""
    if figure.layout.hoverlabel.font.color is not None:
        return figure
    key = id(figure)
    held = _SHOWN_IN_APP.get(key)
    if held is not None and held[0]() is figure:
        return held[1]
    import plotly.graph_objects as go

    from analysis.figures import THEME_TEXT

    shown = go.Figure(figure)
    shown.layout.hoverlabel.font.color = THEME_TEXT
    # the entry goes when the figure does (before its id can be another object's)
    _SHOWN_IN_APP[key] = (weakref.ref(figure, lambda _: _SHOWN_IN_APP.pop(key, None)), shown)
    return shown


def _words_figure(sentence: str) -> Any:
    """A figure that says ``sentence`` (an image export refused), in lines of at most 60 characters."""
    import textwrap

    import plotly.graph_objects as go

    figure = go.Figure(layout={"xaxis": {"visible": False}, "yaxis": {"visible": False},
                               "plot_bgcolor": "white"})
    figure.add_annotation(text="<br>".join(textwrap.wrap(sentence, 60)), showarrow=False, font={"size": 18},
                          x=0.5, y=0.5, xref="paper", yref="paper")
    return figure


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
    title, label, file_name = f"Infusion Outcomes: {report.title}", dataset_label(ctx), f"report_{slug(report.title)}.html"
    asked = ExportRequest.here(ctx.settings.dataset)

    def build() -> bytes:
        return html_report(title, sections, definitions=definitions, filters=filters, dataset=label,
                           fingerprint=fingerprint, software=software_versions()).encode("utf-8")

    def refused(why: str) -> bytes:
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
                f"</title></head><body><h1>{html.escape(title)}</h1><p>This report was not built. "
                f"{html.escape(why)}</p></body></html>").encode()

    st.divider()
    st.download_button("Download this view as an HTML report",
                       data=lambda: asked.export(file_name, build, refused), file_name=file_name, mime="text/html",
                       on_click="ignore", icon=":material/description:", key="report_html")


@dataclass
class _Export:
    """The Report page's export buttons' builders (plain values only: they run on click, in a
    thread of their own, without the session). ``who`` asked for the export: the cards are checked
    again with :func:`_may_see` when it is built (sharing may have been withdrawn since the page
    was drawn), and the export is audited under them."""

    held: list[Card] = field(default_factory=list)
    title: str = "Infusion Outcomes report"
    who: Principal | None = None

    def _cards(self, file_name: str) -> list[Card]:
        shown, reasons = _may_see(self.held, self.who)
        for dataset in dict.fromkeys(c.dataset for c in shown):
            workspace.audit_export(dataset, file_name, who=self.who)
        left_out = dict.fromkeys((c.dataset, reasons[c.id]) for c in self.held if c.id in reasons)
        for dataset, reason in left_out:  # cards left out of the file: recorded as refused
            workspace.audit_export(dataset, file_name, who=self.who, refused=_REFUSED_DETAIL[reason])
        return shown

    def html(self) -> bytes:
        return report_html(self._cards("report.html"), self.title).encode("utf-8")

    def pdf(self) -> bytes:
        return pdf_report(report_html(self._cards("report.pdf"), self.title, for_print=True))


def export_buttons(held: list[Card], title: str) -> None:
    """HTML and PDF downloads of ``held`` (built when clicked); PDF disabled, with the reason,
    when this server has no working Chromium."""
    export = _Export(list(held), title, workspace.principal())
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
