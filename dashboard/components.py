"""Small UI pieces shared by the pages: the error boundary, figure and table blocks with their
downloads. The figure block, the page's report and "Add to report" live in dashboard.report (and
are importable from here); the "Python code" expander in dashboard.calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from analysis.contract import DataError
from analysis.errors import AnalysisError
from analysis.export import ReportSection, suppress_small_groups, to_csv_bytes
from dashboard import compute
from dashboard.report import ExportRequest, Report, dataset_label, report_download, show_figure, show_text  # noqa: F401
from dashboard.report import slug as _slug
from dashboard.security import md
from dashboard.state import Context
from dashboard.tables import display_options, same_on_every_row, shared_values_note, show_problems_table

DATA_PAGE = "dashboard/app_pages/data.py"


@contextmanager
def page_guard(what: str) -> Iterator[None]:
    """Say in words what stopped a part of a page: a data problem (DataError: its headline and the
    table of problems) or an analysis that cannot run on these patients (AnalysisError: the
    library's sentence, its notes and what to do next) as what they are; anything unexpected as a
    generic box with an error id the user can quote, the traceback in the server log under that id
    only. (st.stop and st.rerun pass through: they are not Exceptions.)"""
    try:
        yield
    except DataError as error:
        st.error(md(error.headline, 1000), icon=":material/error:")  # headlines quote file names
        show_problems_table(error.problems)
    except AnalysisError as error:
        show_analysis_problem(error, what)
    except compute.ServerBusy as error:
        st.warning(md(str(error), 1000), icon=":material/hourglass_top:")
    except Exception as error:
        error_id = compute.log_exception(error)
        st.error(
            f"Something went wrong while computing {what}. The other pages still work; try "
            "different settings or filters. The details were written to the server log for the "
            f"maintainers: quote error id **{error_id}** when you report it.",
            icon=":material/error:",
            title="This view could not be computed",
        )


NEXT_STEP = ("Change the settings or filters in the sidebar (or the options above), or choose another "
             "dataset on the Data page.")


def show_analysis_problem(error: AnalysisError, what: str) -> None:
    """An AnalysisError in words: the library's message (it says what is missing and what to do),
    any notes the library attached (``error.notes`` or ``add_note``), then the next step."""
    notes = [str(n) for n in (list(getattr(error, "notes", None) or ()) + list(getattr(error, "__notes__", ())))]
    st.warning(md(str(error), 2000), icon=":material/info:", title=f"No result for {md(what, 200)}")
    for note in dict.fromkeys(notes):
        st.caption(md(note, 1000))
    st.caption(NEXT_STEP)


def require_data(ctx: Context) -> None:
    """Stop the page with an explanation when there is no usable dataset."""
    if ctx.data is None or ctx.problem:
        st.info(ctx.problem or "Choose a dataset on the Data page.", icon=":material/info:")
        st.page_link(DATA_PAGE, label="Go to the Data page", icon=":material/table:")
        st.stop()


def suppressed(ctx: Context, frame: pd.DataFrame, count_column: str | None,
               keep_columns: Sequence[str] = (), label: str = "group",
               complement_within: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """Apply the minimum cell size to a per-group table (see suppress_small_groups)."""
    if count_column is None or count_column not in frame.columns:
        return frame, None
    return suppress_small_groups(frame, count_column, ctx.settings.min_cell_size,
                                 keep_columns=keep_columns, label=label,
                                 complement_within=complement_within)


def small_groups(ctx: Context, counts: pd.Series) -> list[str]:
    """Group labels whose count is below the minimum cell size (to hide from figures)."""
    numeric = pd.to_numeric(counts, errors="coerce")
    return [str(g) for g, n in numeric.items() if pd.notna(n) and n < ctx.settings.min_cell_size]


def hidden_groups_note(ctx: Context, hidden: Sequence[str], counted: str = "patients", extra: str = "") -> list[str]:
    """The figure note naming the groups ``small_groups`` hid (none when nothing was hidden)."""
    if not hidden:
        return []
    return [f"Groups with fewer than {ctx.settings.min_cell_size} {counted} are not drawn{extra}: "
            + ", ".join(hidden) + "."]


def groups_tested_words(ctx: Context, tested: Sequence[Any], hidden: Sequence[str], counted: str = "responders",
                     left_out: str = "not drawn") -> str:
    """The words beside a test's p-value when the figure or table beside it hides groups that
    ``small_groups`` found: the test is over every group, the hidden ones too (the library's test,
    the one the Python code prints and R's ``survdiff`` gives), and says so; "" when it hides none."""
    tested = [str(g) for g in tested]
    hidden_tested = [g for g in hidden if g in set(tested)]
    if not hidden_tested:
        return ""
    return (f"over all {len(tested)} groups, {len(hidden_tested)} of them {left_out} (fewer than "
            f"{ctx.settings.min_cell_size} {counted}: {', '.join(hidden_tested)})")


def show_table(report: Report, frame: pd.DataFrame, name: str, *, count_column: str | None = None,
               keep_columns: Sequence[str] = (), note: str | None = None,
               complement_within: str | None = None) -> pd.DataFrame:
    """A table (small groups suppressed) with a CSV download; returns what was shown. A workspace
    viewer (``ctx.row_level`` False) is not shown tables with a row per patient."""
    if not report.ctx.row_level and "patient_id" in frame.columns:
        st.caption(f"{md(name)}: one row per patient, not shown to viewers of a shared dataset.")
        return frame.iloc[0:0]
    shown, suppression = suppressed(ctx=report.ctx, frame=frame, count_column=count_column,
                                    keep_columns=keep_columns, complement_within=complement_within)
    if suppression is None and "suppressed" in shown.columns:
        shown = shown.drop(columns="suppressed")
    st.markdown(f"**{md(name)}**")  # several tables may follow one another: say which is which
    same = same_on_every_row(shown)  # once: the columns left out and the note that says them
    st.dataframe(alt=name, key=f"table_{_slug(name)}",
                 **{"hide_index": isinstance(shown.index, pd.RangeIndex),
                    **display_options(shown, shared=same)})  # headers in words, rounded; the CSV keeps raw columns
    shared = shared_values_note(shown, shared=same)
    if shared:
        st.caption(md(shared, 2000))
    notes = tuple(n for n in (note, suppression) if n)
    for text in notes:
        st.caption(md(text, 2000))  # suppression notes name group labels from the data
    asked, file_name = ExportRequest.here(report.ctx.settings.dataset), f"{_slug(name)}.csv"
    st.download_button("CSV", data=lambda: asked.export(file_name, lambda: to_csv_bytes(shown), _words_csv),
                       file_name=file_name, mime="text/csv", on_click="ignore", icon=":material/download:",
                       key=f"csv_{_slug(name)}")
    report.add(ReportSection(name, tables=((name, shown),), notes=notes))
    return shown


def _words_csv(sentence: str) -> bytes:
    """A CSV that says ``sentence`` (a table export refused), in its one cell."""
    return to_csv_bytes(pd.DataFrame({"message": [sentence]}))


def definitions_caption(lines: Sequence[str]) -> None:
    if lines:
        st.caption(md("Definitions: " + " ".join(s if s.endswith(".") else s + "." for s in lines), 4000))


def settings_definitions(ctx: Context, endpoints: Any = None) -> list[str]:
    """The plain-language definitions in use (from the result when it records them)."""
    settings = getattr(endpoints, "settings", None)
    describe = getattr(settings, "describe", None)
    if callable(describe):
        try:
            return [str(line) for line in describe()]
        except Exception as error:
            compute.log_exception(error)
    s = ctx.settings
    lines = [f"Instrument: {s.instrument}.",
             f"Response: score reduced by at least {s.response:.0%} from baseline "
             "(the last rating at or before the first infusion)."]
    lines.append("Remission: score at or below "
                 + (f"{s.remission:g}." if s.remission is not None else
                    f"the instrument's cut-off ({compute.remission_default(s.instrument)})."))
    rule = {"loss_of_response": "no longer meeting the response criterion",
            "absolute": f"score at or above {s.relapse_score:g}",
            "fraction_of_baseline": f"score back to {s.relapse_fraction:g} x baseline"}[s.relapse_rule]
    lines.append(f"Relapse: {rule}, confirmed at {s.confirm_visits} consecutive visit(s).")
    return lines
