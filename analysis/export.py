"""Exports that leave the application: CSV tables, PNG/SVG figures, a self-contained HTML
report, small-cell suppression, and the Python snippet that reproduces a result.

Everything here is pure (no Streamlit), so an analyst's script produces the same files as the
dashboard.
"""

from __future__ import annotations

import csv
import html
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FORMULA_PREFIXES",
    "ReportSection",
    "figure_to_image",
    "html_report",
    "neutralise_formulas",
    "python_code",
    "suppress_small_groups",
    "to_csv_bytes",
]

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which text cells (and column names) that a spreadsheet would run
    as a formula -- a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return -- are prefixed
    with a single quote. Numeric columns are left as numbers (a negative number is not text).

    Reference: OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection).
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
                or isinstance(series.dtype, pd.CategoricalDtype)):
            out[column] = series.astype(object).map(_neutralise)
    out.columns = [_neutralise(str(c)) for c in out.columns]
    if out.index.name is not None or not isinstance(out.index, pd.RangeIndex):
        out.index = out.index.map(_neutralise)
    return out


def to_csv_bytes(frame: pd.DataFrame, *, index: bool | None = None) -> bytes:
    """UTF-8 CSV (with a byte-order mark so Excel reads accents) of ``frame`` with formula-like
    cells neutralised. The index is written when it carries information (not a RangeIndex)."""
    if index is None:
        index = not isinstance(frame.index, pd.RangeIndex)
    # every text field quoted: a bare carriage return inside a cell cannot split a row
    return neutralise_formulas(frame).to_csv(index=index, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8-sig")


def suppress_small_groups(
    frame: pd.DataFrame,
    count_column: str,
    min_cell_size: int = 5,
    *,
    keep_columns: Sequence[str] = (),
    label: str = "group",
    complement_within: str | None = None,
) -> tuple[pd.DataFrame, str | None]:
    """Blank out the rows of a summary table whose group has fewer than ``min_cell_size``
    patients, as shared summaries do to protect privacy.

    Parameters
    ----------
    frame : DataFrame
        One row per group (the index or ``keep_columns`` name the group).
    count_column : str
        Column with the number of patients in each group.
    min_cell_size : int
        Groups with ``0 < n < min_cell_size`` are suppressed (default 5; some registries use 11).
    keep_columns : sequence of str
        Columns left visible on suppressed rows (group labels).
    complement_within : str, optional
        Column whose values partition rows that add up to a known total (e.g. the phenotypes
        of one group, which add up to the group's size). Where exactly one row of a partition
        would be suppressed, the smallest other non-empty row of it is suppressed too
        (complementary suppression), so the hidden count cannot be recovered by subtraction.

    Returns
    -------
    (DataFrame, note)
        The table with every other value of a suppressed row set to missing and a
        ``suppressed`` column, and a sentence saying what was suppressed (None if nothing).
    """
    out = frame.copy()
    counts = pd.to_numeric(out[count_column], errors="coerce")
    small = ((counts > 0) & (counts < min_cell_size)).fillna(False).to_numpy(dtype=bool)
    primary = small.copy()
    if complement_within is not None and small.any():
        partition = out[complement_within].astype(str).to_numpy()
        positive = (counts > 0).fillna(False).to_numpy(dtype=bool)
        for part in np.unique(partition[small]):
            rows = partition == part
            if (small & rows).sum() == 1:
                others = np.flatnonzero(rows & positive & ~small)
                if others.size:
                    small[others[np.argmin(counts.to_numpy(float)[others])]] = True
    out["suppressed"] = small
    if not small.any():
        return out, None
    blank = [c for c in out.columns if c not in set(keep_columns) | {"suppressed"}]
    out[blank] = out[blank].astype(object)
    out.loc[small, blank] = np.nan
    if keep_columns:
        names = out[list(keep_columns)].astype(str).agg(" / ".join, axis=1).to_numpy()
    else:
        names = np.array([str(i) for i in out.index])
    note = (f"{int(primary.sum())} {label}(s) with fewer than {min_cell_size} patients suppressed "
            f"({', '.join(names[primary])}): their values are not shown.")
    secondary = small & ~primary
    if secondary.any():
        note += (f" Also hidden so that they cannot be recovered by subtraction from the total: "
                 f"{', '.join(names[secondary])}.")
    return out, note


def _on_white(figure: Any) -> Any:
    """A copy on a white background with dark text: exported files are read outside the app's
    light or dark theme (the in-app figures are transparent and follow the theme)."""
    import plotly.graph_objects as go

    copy = go.Figure(figure)
    copy.update_layout(paper_bgcolor="white", plot_bgcolor="white", font_color="#1a1a1a")
    return copy


# ---------------------------------------------------------------------------------------------
# Figures as images: one Chromium kept open by kaleido's sync server (Debian's /usr/bin/chromium
# is found automatically), started on first use. A missing or broken Chromium is said in a
# sentence within seconds (its --version is checked first, 5 s at most); a render that hangs is
# given up after EXPORT_TIMEOUT_S (the first one starts the browser: slow on a loaded machine).
EXPORT_TIMEOUT_S = 60.0
_kaleido_lock = threading.Lock()
_kaleido_started = False
_chromium_checked: str | None = None
_chromium_failed: tuple[float, str] | None = None  # (when, why)
_NO_CHROMIUM = ("Figure export (PNG, SVG) needs the Chromium browser on the server, and {what}. Install it "
                "(Debian: apt-get install chromium, or make system-deps) or set BROWSER_PATH to it; the "
                "figures on screen and the CSV and HTML exports work without it.")


def _check_chromium() -> None:
    """Raise AnalysisError unless a Chromium that kaleido would use exists and starts (a success
    is remembered; a failure is checked again after a minute)."""
    global _chromium_checked, _chromium_failed
    if _chromium_checked is not None:
        return
    import subprocess

    from analysis.errors import AnalysisError

    if _chromium_failed is not None and time.monotonic() - _chromium_failed[0] < 60:
        raise AnalysisError(_chromium_failed[1])
    try:
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
    except Exception:
        path = None
    problem = None
    if not path:
        problem = _NO_CHROMIUM.format(what="none was found")
    else:
        try:
            subprocess.run([str(path), "--headless", "--version"], capture_output=True, timeout=5, check=True)
        except (OSError, subprocess.SubprocessError):
            problem = _NO_CHROMIUM.format(what=f"{path} does not start")
    if problem is not None:
        _chromium_failed = (time.monotonic(), problem)
        raise AnalysisError(problem)
    _chromium_checked = str(path)


def image_export_problem() -> str | None:
    """Why PNG/SVG export cannot work on this machine, in a sentence (None when it can)."""
    from analysis.errors import AnalysisError

    try:
        _check_chromium()
    except AnalysisError as error:
        return str(error)
    return None


def _render(figure: Any, format: str, width: int, height: int, scale: float) -> bytes:
    global _kaleido_started
    import kaleido

    if not _kaleido_started:
        kaleido.start_sync_server(silence_warnings=True)
        _kaleido_started = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return figure.to_image(format=format, width=width, height=height, scale=scale if format == "png" else 1)


def figure_to_image(figure: Any, format: str = "png", *, width: int = 1000, height: int = 600,
                    scale: float = 2.0, timeout_s: float = EXPORT_TIMEOUT_S) -> bytes:
    """PNG or SVG bytes of a plotly figure, rendered by kaleido with one kept browser.

    Raises AnalysisError, in a sentence and within ``timeout_s`` seconds, when Chromium is
    missing, does not start, or the render does not finish (the render is then left to end on
    its own; later exports wait for it at most ``timeout_s``)."""
    import concurrent.futures

    from analysis.errors import AnalysisError

    if format not in {"png", "svg"}:
        raise ValueError(f"format must be 'png' or 'svg', not {format!r}")
    started = time.monotonic()
    _check_chromium()
    figure = _on_white(figure)
    if not _kaleido_lock.acquire(timeout=max(0.1, timeout_s - (time.monotonic() - started))):
        raise AnalysisError(f"Figure export is busy with an earlier figure that has not finished within "
                            f"{timeout_s:g} s; try again in a minute.")
    released = False
    try:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaleido")
        future = pool.submit(_render, figure, format, width, height, scale)
        # the lock is released when the render ends, even after this call has given up
        future.add_done_callback(lambda _: _kaleido_lock.release())
        released = True
        pool.shutdown(wait=False)
        try:
            return future.result(timeout=max(0.1, timeout_s - (time.monotonic() - started)))
        except concurrent.futures.TimeoutError:
            raise AnalysisError(_NO_CHROMIUM.format(
                what=f"the browser did not render the figure within {timeout_s:g} s")) from None
        except Exception as error:
            raise AnalysisError(_NO_CHROMIUM.format(
                what=f"the browser failed while rendering ({type(error).__name__})")) from None
    finally:
        if not released:
            _kaleido_lock.release()


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportSection:
    """One block of a report: a heading, optional figures, tables and notes."""

    title: str
    figures: tuple[Any, ...] = ()
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()
    notes: tuple[str, ...] = ()


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
color:#1a1a1a;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f2f2f2}
td:first-child,th:first-child{text-align:left}
.meta td{text-align:left}.note{color:#555;font-size:.9em}
"""


def _table_html(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown.to_html(index=not isinstance(shown.index, pd.RangeIndex), na_rep="", border=0,
                         escape=True)


def html_report(
    title: str,
    sections: Sequence[ReportSection],
    *,
    definitions: Sequence[str] = (),
    filters: Sequence[str] = (),
    dataset: str = "",
    fingerprint: str = "",
    software: Mapping[str, str] | None = None,
    created: datetime | None = None,
) -> str:
    """A self-contained HTML report (plotly.js embedded once; opens offline in any browser)
    with the definitions, filters, dataset fingerprint and software versions used."""
    import plotly

    created = created or datetime.now(UTC)
    software = dict(software or {})
    software.setdefault("plotly", plotly.__version__)
    meta_rows = [
        ("Dataset", dataset),
        ("Dataset fingerprint (SHA-256, first 16 hex digits)", fingerprint),
        ("Filters", "; ".join(filters) or "all patients"),
        ("Created (UTC)", created.strftime("%Y-%m-%d %H:%M")),
        ("Software", ", ".join(f"{k} {v}" for k, v in software.items())),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<table class='meta'>",
        *[f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in meta_rows],
        "</table>",
    ]
    if definitions:
        parts.append("<h2>Definitions</h2><ul>")
        parts += [f"<li>{html.escape(d)}</li>" for d in definitions]
        parts.append("</ul>")
    plotly_included = False
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for note in section.notes:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        for figure in section.figures:
            parts.append(_on_white(figure).to_html(full_html=False,
                                        include_plotlyjs=not plotly_included and "inline",
                                        config={"displaylogo": False}))
            plotly_included = True
        for name, frame in section.tables:
            parts.append(f"<h3>{html.escape(name)}</h3>")
            parts.append(_table_html(frame))
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
def python_code(
    dataset: str,
    function: str,
    *,
    filters: Mapping[str, Any] | None = None,
    arguments: Mapping[str, Any] | None = None,
    result_lines: Sequence[str] = ("print(result.summary())",),
    fingerprint: str = "",
) -> str:
    """A short script that reproduces a dashboard result with the ``analysis`` API.

    Parameters
    ----------
    dataset : str
        ``"sample"``, ``"simulated-<n>-<seed>"`` or the uploaded file's name.
    function : str
        Public ``analysis`` function, e.g. ``"fit_onset"``.
    filters : mapping
        Keyword arguments of :func:`analysis.filter_cohort` (empty ones are left out).
    arguments : mapping
        Keyword arguments of ``function`` after the data.
    """
    lines = ["import analysis", ""]
    if dataset == "sample":
        lines.append("data = analysis.load_sample()")
    elif dataset.startswith("simulated-"):
        _, n, seed = dataset.split("-")
        lines.append(f"data = analysis.simulate(n_patients={int(n)}, seed={int(seed)})")
    else:
        lines.append(f"data = analysis.load({dataset!r})  # the file you uploaded")
    if fingerprint:
        lines.append(f"assert data.fingerprint == {fingerprint!r}  # the same data as the dashboard")
    used = {k: v for k, v in (filters or {}).items() if v not in (None, [], (), "")}
    if used:
        args = ", ".join(f"{k}={v!r}" for k, v in used.items())
        lines.append(f"data = analysis.filter_cohort(data, {args})")
    call_args = "".join(f", {k}={v!r}" for k, v in (arguments or {}).items())
    lines.append(f"result = analysis.{function}(data{call_args})")
    lines += list(result_lines)
    return "\n".join(lines) + "\n"
