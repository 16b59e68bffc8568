"""Small UI pieces shared by the pages: the error boundary, figure and table blocks with their
downloads, the "Python code" expander and the HTML report export."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

import analysis
from analysis.cohort import describe_filters
from analysis.contract import DataError
from analysis.export import (
    ReportSection,
    figure_to_image,
    html_report,
    image_export_problem,
    python_code,
    suppress_small_groups,
    to_csv_bytes,
)
from dashboard import compute
from dashboard.security import md
from dashboard.state import Context
from dashboard.workspace import session as workspace

DATA_PAGE = "dashboard/app_pages/data.py"


@contextmanager
def page_guard(what: str) -> Iterator[None]:
    """Catch any error of a page body and say in words what failed; the traceback goes to the
    server log only. (st.stop and st.rerun pass through: they are not Exceptions.)"""
    try:
        yield
    except DataError as error:
        st.error(md(error.headline, 1000), icon=":material/error:")  # headlines quote file names
        st.dataframe(error.problems, hide_index=True, alt="Problems found in the data")
    except Exception as error:
        compute.log_exception(error)
        st.error(
            f"Something went wrong while computing {what}. The other pages still work; try "
            "different settings or filters. The details were written to the server log for the "
            "maintainers.",
            icon=":material/error:",
            title="This view could not be computed",
        )


def require_data(ctx: Context) -> None:
    """Stop the page with an explanation when there is no usable dataset."""
    if ctx.data is None or ctx.problem:
        st.info(ctx.problem or "Choose a dataset on the Data page.", icon=":material/info:")
        st.page_link(DATA_PAGE, label="Go to the Data page", icon=":material/table:")
        st.stop()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "item"


@dataclass
class Report:
    """Collects what a page shows, for the HTML report export."""

    title: str
    ctx: Context
    definitions: list[str] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)

    def add(self, section: ReportSection) -> None:
        self.sections.append(section)


def show_figure(report: Report, figure: Any, name: str, *, notes: Sequence[str] = ()) -> None:
    """A figure with PNG and SVG downloads (rendered on click by kaleido)."""
    st.plotly_chart(figure, key=f"chart_{_slug(name)}", alt=name,
                    config={"displaylogo": False, "toImageButtonOptions": {"filename": _slug(name)}})
    for note in notes:
        st.caption(md(note, 2000))
    # without a working Chromium the buttons would fail on click with no reason: say it here
    problem = image_export_problem()
    with st.container(horizontal=True):
        st.download_button("PNG", data=lambda: figure_to_image(figure, "png"),
                           file_name=f"{_slug(name)}.png", mime="image/png", on_click="ignore",
                           icon=":material/image:", key=f"png_{_slug(name)}", disabled=problem is not None)
        st.download_button("SVG", data=lambda: figure_to_image(figure, "svg"),
                           file_name=f"{_slug(name)}.svg", mime="image/svg+xml", on_click="ignore",
                           icon=":material/draw:", key=f"svg_{_slug(name)}", disabled=problem is not None)
    if problem is not None:
        st.caption(md(problem, 1000))
    report.add(ReportSection(name, figures=(figure,), notes=tuple(notes)))


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
    st.dataframe(shown, alt=name, key=f"table_{_slug(name)}",
                 hide_index=isinstance(shown.index, pd.RangeIndex), column_config=_p_value_format(shown))
    notes = tuple(n for n in (note, suppression) if n)
    for text in notes:
        st.caption(md(text, 2000))  # suppression notes name group labels from the data
    dataset = report.ctx.settings.dataset
    st.download_button("CSV", data=lambda: audited_export(dataset, f"{_slug(name)}.csv", to_csv_bytes(shown)),
                       file_name=f"{_slug(name)}.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:",
                       key=f"csv_{_slug(name)}")
    report.add(ReportSection(name, tables=((name, shown),), notes=notes))
    return shown


def audited_export(dataset: str, file_name: str, content: bytes) -> bytes:
    """``content``, with the export recorded in the audit trail when the dataset is stored."""
    workspace.audit_export(dataset, file_name)
    return content


def _p_value_format(frame: pd.DataFrame) -> dict[str, Any]:
    """p-values in 3 significant digits: the default display writes 6e-31 as 0.0000...0006."""
    names = [str(c) for c in frame.columns
             if str(c) in ("p", "p_value") or str(c).startswith("p_") or str(c).endswith("_p")]
    return {name: st.column_config.NumberColumn(format="%.3g") for name in names
            if pd.api.types.is_numeric_dtype(frame[name])}


def code_expander(code: str, key: str) -> None:
    with st.expander("Python code", icon=":material/code:", key=f"code_{_slug(key)}"):
        st.caption("Reproduces this result from the same data and settings with the analysis API.")
        st.code(code, language="python")


def dataset_label(ctx: Context) -> str:
    name = ctx.settings.dataset
    if name == "sample":
        return "bundled sample (data/sample)"
    if name.startswith("simulated-"):
        _, n, seed = name.split("-")
        return f"simulated, {n} patients, seed {seed}"
    return "uploaded file"


def report_download(report: Report) -> None:
    """The current view as a self-contained HTML report (built when clicked)."""
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
        import plotly
        import streamlit

        text = html_report(
            f"Infusion Outcomes: {title}", sections, definitions=definitions, filters=filters,
            dataset=label, fingerprint=fingerprint,
            software={"analysis": analysis.__version__, "plotly": plotly.__version__,
                      "streamlit": streamlit.__version__, "pandas": pd.__version__},
        )
        return audited_export(dataset, f"report_{_slug(title)}.html", text.encode("utf-8"))

    st.divider()
    st.download_button("Download this view as an HTML report", data=build,
                       file_name=f"report_{_slug(report.title)}.html", mime="text/html",
                       on_click="ignore", icon=":material/description:", key="report_html")


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


def python_snippet(ctx: Context, function: str, arguments: dict[str, Any],
                   result_lines: Sequence[str] = ("print(result.summary())",)) -> str:
    dataset = ctx.settings.dataset
    if dataset.startswith("upload-"):
        dataset = "your_file.csv"
    fingerprint = ctx.full.fingerprint if ctx.full is not None else ""
    return python_code(dataset, function, filters=ctx.settings.filters(), arguments=arguments,
                       result_lines=result_lines, fingerprint=fingerprint)
