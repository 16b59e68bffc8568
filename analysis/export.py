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

from analysis._tiny_inflate import TINY_INFLATE_JS

__all__ = [
    "FORMULA_PREFIXES",
    "ReportSection",
    "SnippetStep",
    "figure_to_image",
    "html_report",
    "neutralise_formulas",
    "pdf_report",
    "python_code",
    "python_script",
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
    for column in blank:  # each column keeps its kind, able to hold a missing value: numbers stay numbers
        dtype = out[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object)
        elif pd.api.types.is_integer_dtype(dtype):
            out[column] = out[column].astype("Int64")
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
_chromium_lock = threading.Lock()  # callers at the same time share one check
_NO_CHROMIUM = ("Figure export (PNG, SVG) needs the Chromium browser on the server, and {what}. Install it "
                "(Debian: apt-get install chromium, or make system-deps) or set BROWSER_PATH to it; the "
                "figures on screen and the CSV and HTML exports work without it.")


def _check_chromium() -> None:
    """Raise AnalysisError unless a Chromium that kaleido would use exists and starts (a success
    is remembered; a failure is checked again after a minute)."""
    if _chromium_checked is not None:
        return
    with _chromium_lock:
        _check_chromium_once()


def _check_chromium_once() -> None:
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
    """One block of a report: a heading, optional figures, tables and notes; a card of a report
    that spans pages also says where it came from (page, dataset, fingerprint, filters,
    definitions), carries the Python code that reproduces it and the reader's annotation."""

    title: str
    figures: tuple[Any, ...] = ()
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()
    notes: tuple[str, ...] = ()
    code: str = ""
    page: str = ""
    dataset: str = ""
    fingerprint: str = ""
    filters: tuple[str, ...] | None = None
    definitions: tuple[str, ...] = ()
    annotation: str = ""


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
color:#1a1a1a;line-height:1.45;padding:0 1em;overflow-wrap:anywhere}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em}h4{font-size:.95em;margin:1em 0 .3em}
.table-wrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right;vertical-align:top}th{background:#f2f2f2}
td:first-child,th:first-child{text-align:left}
.meta td{text-align:left}.note{color:#555;font-size:.9em}
.annotation{border-left:3px solid #4a7bd0;padding:.2em .8em;white-space:pre-wrap}
.figure{width:100%;max-width:100%;overflow:hidden}.figure .plot{width:100%}
pre{background:#f6f6f6;padding:.6em;font-size:.8em;white-space:pre-wrap;overflow-wrap:anywhere}
.card{break-inside:auto}
@media print{body{max-width:none;margin:0;padding:0}h2{break-after:avoid}
.table-wrap{overflow:visible}table{font-size:7pt;width:100%}th{overflow-wrap:anywhere}
.figure{break-inside:avoid}}
"""

# plotly.js (4.8 MB) travels gzip-compressed and base64-encoded (2.0 MB) and is unpacked by the
# browser: with DecompressionStream where there is one (Chrome 80, Firefox 113, Safari 16.4), else
# with the embedded tiny-inflate (10 kB, MIT; analysis/_tiny_inflate.py), so the report opens in
# older and locked-down browsers too. `document.body.dataset.inflate` says which ("stream" or
# "fallback"); the figures are drawn once plotly.js is loaded and `document.body.dataset.ready` is
# then "1". A report made for printing (``for_print``) embeds it plainly and draws synchronously, at
# a fixed width that fits A4.
_LOADER = """
function gunzip(bytes) {
  // RFC 1952: a 10-byte header, optional fields by its flags, the DEFLATE data, CRC-32 and size
  const flags = bytes[3], n = bytes.length;
  let start = 10;
  if (flags & 4) start += 2 + (bytes[10] | bytes[11] << 8);
  if (flags & 8) while (bytes[start++]);
  if (flags & 16) while (bytes[start++]);
  if (flags & 2) start += 2;
  const size = (bytes[n - 4] | bytes[n - 3] << 8 | bytes[n - 2] << 16 | bytes[n - 1] << 24) >>> 0;
  return tinyInflate(bytes.subarray(start, n - 8), new Uint8Array(size));
}
async function unpack(bytes) {
  if (typeof DecompressionStream === 'function') {
    try {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
      const text = await new Response(stream).text();
      document.body.dataset.inflate = 'stream';
      return text;
    } catch (error) { /* a partial implementation: the fallback below */ }
  }
  document.body.dataset.inflate = 'fallback';
  return new TextDecoder('utf-8').decode(gunzip(bytes));
}
(async () => {
  const packed = document.getElementById('plotly-js-gzip').textContent.trim();
  const bytes = Uint8Array.from(atob(packed), c => c.charCodeAt(0));
  (0, eval)(await unpack(bytes));
  drawFigures();
})().catch(error => {
  for (const el of document.querySelectorAll('.figure .plot')) {
    el.textContent = 'This browser could not unpack the embedded plotting library (' + error + '); '
      + 'open the report in a current Chrome, Edge, Firefox or Safari.';
  }
});
"""
_DRAW = """
function drawFigures() {
  for (const el of document.querySelectorAll('.figure')) {
    const spec = JSON.parse(el.querySelector('script[type="application/json"]').textContent);
    Plotly.newPlot(el.querySelector('.plot'), spec.data, spec.layout, spec.config);
  }
  document.body.dataset.ready = '1';
}
"""
PRINT_FIGURE_WIDTH_PX = 680  # A4 portrait minus Chromium's default margins, at 96 px per inch


def _table_html(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    table = shown.to_html(index=not isinstance(shown.index, pd.RangeIndex), na_rep="", border=0, escape=True)
    return f"<div class='table-wrap'>{table}</div>"


def _figure_json(figure: Any, *, for_print: bool) -> str:
    """The figure as JSON safe inside a <script> element (every ``<`` escaped)."""
    import json

    import plotly.io as pio

    spec = json.loads(pio.to_json(_on_white(figure), validate=False))
    layout = spec.setdefault("layout", {})
    if for_print:
        layout["width"] = PRINT_FIGURE_WIDTH_PX
    else:
        layout.pop("width", None)
        layout["autosize"] = True
    config = {"displaylogo": False, "responsive": not for_print, "staticPlot": for_print}
    text = json.dumps({"data": spec.get("data", []), "layout": layout, "config": config},
                      separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _plotly_js(*, packed: bool) -> str:
    from plotly.offline import get_plotlyjs

    if not packed:
        return f"<script>{get_plotlyjs()}</script>"
    global _PACKED_PLOTLY
    if _PACKED_PLOTLY is None:
        import base64
        import gzip

        _PACKED_PLOTLY = base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), 9)).decode("ascii")
    return f"<script id='plotly-js-gzip' type='application/octet-stream'>{_PACKED_PLOTLY}</script>"


_PACKED_PLOTLY: str | None = None


def _meta_table(rows: Sequence[tuple[str, str]]) -> list[str]:
    return ["<div class='table-wrap'><table class='meta'>",
            *[f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows],
            "</table></div>"]


def html_report(
    title: str,
    sections: Sequence[ReportSection],
    *,
    definitions: Sequence[str] = (),
    filters: Sequence[str] | None = (),
    dataset: str = "",
    fingerprint: str = "",
    software: Mapping[str, str] | None = None,
    created: datetime | None = None,
    for_print: bool = False,
) -> str:
    """A self-contained HTML report (plotly.js embedded once, compressed; opens offline, also in
    browsers without DecompressionStream) with the definitions, filters, dataset fingerprint and
    software versions used. Sections that carry their own dataset, filters, definitions or code (cards of a report
    that spans pages) show them under their heading. ``filters=None`` and an empty ``dataset``
    leave those rows out of the header (each card names its own). ``for_print`` embeds plotly.js
    plainly and draws at a fixed width, for printing to PDF (see :func:`pdf_report`)."""
    import plotly

    created = created or datetime.now(UTC)
    software = dict(software or {})
    software.setdefault("plotly", plotly.__version__)
    meta_rows = [("Dataset", dataset)] if dataset else []
    if fingerprint:
        meta_rows.append(("Dataset fingerprint (SHA-256, first 16 hex digits)", fingerprint))
    if filters is not None:
        meta_rows.append(("Filters", "; ".join(filters) or "all patients"))
    meta_rows += [("Created (UTC)", created.strftime("%Y-%m-%d %H:%M")),
                  ("Software", ", ".join(f"{k} {v}" for k, v in software.items()))]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *_meta_table(meta_rows),
    ]
    if definitions:
        parts.append("<h2>Definitions</h2><ul>")
        parts += [f"<li>{html.escape(d)}</li>" for d in definitions]
        parts.append("</ul>")
    n_figures = 0
    for section in sections:
        parts.append(f"<section class='card'><h2>{html.escape(section.title)}</h2>")
        if section.annotation:
            parts.append(f"<p class='annotation'>{html.escape(section.annotation)}</p>")
        for note in section.notes:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        for figure in section.figures:
            parts.append(f"<div class='figure'><div class='plot' id='figure-{n_figures}'></div>"
                         f"<script type='application/json'>{_figure_json(figure, for_print=for_print)}"
                         "</script></div>")
            n_figures += 1
        for name, frame in section.tables:
            parts.append(f"<h3>{html.escape(name)}</h3>")
            parts.append(_table_html(frame))
        card_rows = [(label, value) for label, value in (
            ("Page", section.page), ("Dataset", section.dataset),
            ("Dataset fingerprint", section.fingerprint),
            ("Filters", None if section.filters is None else "; ".join(section.filters) or "all patients"),
        ) if value]
        if card_rows:
            parts.append("<h4>Data</h4>")
            parts += _meta_table(card_rows)
        if section.definitions:
            parts.append("<h4>Definitions</h4><ul>")
            parts += [f"<li>{html.escape(d)}</li>" for d in section.definitions]
            parts.append("</ul>")
        if section.code:
            parts.append(f"<h4>Python code</h4><pre><code>{html.escape(section.code)}</code></pre>")
        parts.append("</section>")
    if n_figures:
        parts.append(_plotly_js(packed=not for_print))
        parts.append(f"<script>{_DRAW}{'drawFigures();' if for_print else TINY_INFLATE_JS + _LOADER}</script>")
    else:
        parts.append("<script>document.body.dataset.ready = '1';</script>")
    parts.append("</body></html>")
    return "\n".join(parts)


PDF_TIMEOUT_S = 90.0


def pdf_report(report_html: str, *, timeout_s: float = PDF_TIMEOUT_S) -> bytes:
    """PDF bytes of an HTML report made with ``html_report(..., for_print=True)``, printed by
    headless Chromium (A4; the one kaleido uses, e.g. Debian's /usr/bin/chromium). The figures of
    such a report are drawn by a script at the end of the page, before the load event Chromium
    prints at.

    Raises AnalysisError in a sentence, within seconds, when Chromium is missing or does not
    start, and when printing does not finish within ``timeout_s`` seconds."""
    import subprocess
    import tempfile
    from pathlib import Path

    from analysis.errors import AnalysisError

    _check_chromium()
    assert _chromium_checked is not None
    with tempfile.TemporaryDirectory(prefix="report-pdf-") as folder:
        page, out = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(report_html, encoding="utf-8")
        command = [_chromium_checked, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--disable-extensions", "--no-first-run",
                   f"--user-data-dir={folder}/profile", "--no-pdf-header-footer",
                   "--run-all-compositor-stages-before-draw",
                   f"--print-to-pdf={out}", page.as_uri()]
        try:
            subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise AnalysisError(_NO_CHROMIUM.format(
                what=f"the browser did not print the report within {timeout_s:g} s")) from None
        if not out.exists() or out.stat().st_size == 0:
            raise AnalysisError(_NO_CHROMIUM.format(what="the browser did not print the report"))
        return out.read_bytes()


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnippetStep:
    """One call of a snippet: ``variable = analysis.<function>(data, **arguments)``, then
    ``print(variable.<expression>)`` for each of ``prints`` (e.g. ``"summary()"``); an expression
    holding ``{}`` is printed with the variable in its place (e.g.
    ``"per_unit_hazard_ratios({})"``, with ``imports=("from analysis.figures import
    per_unit_hazard_ratios",)``)."""

    variable: str
    function: str
    arguments: Mapping[str, Any]
    prints: tuple[str, ...] = ("summary()",)
    imports: tuple[str, ...] = ()


_SNIPPET_HEAD = [
    "import pandas as pd",
    "",
    "import analysis",
    "",
    "# every row and column printed in full",
    'pd.set_option("display.max_rows", None, "display.max_columns", None, "display.width", 250)',
    "",
]


def python_script(
    dataset: str,
    steps: Sequence[SnippetStep],
    *,
    filters: Mapping[str, Any] | None = None,
    fingerprint: str = "",
) -> str:
    """A script that reproduces dashboard results with the ``analysis`` API: loads the dataset,
    checks its fingerprint, applies the filters, makes each call and prints what was shown.

    Parameters
    ----------
    dataset : str
        ``"sample"``, ``"simulated-<n>-<seed>"``, ``"file"`` (an uploaded or stored dataset: the
        analyst writes the path of their file into the script) or a file path.
    steps : sequence of SnippetStep
        The calls, in order, on the filtered data.
    filters : mapping
        Keyword arguments of :func:`analysis.filter_cohort` (empty ones are left out).
    """
    lines = list(_SNIPPET_HEAD)
    imports = list(dict.fromkeys(line for step in steps for line in step.imports))
    lines[3:3] = imports
    if dataset == "sample":
        lines.append("data = analysis.load_sample()")
    elif dataset.startswith("simulated-"):
        _, n, seed = dataset.split("-")
        lines.append(f"data = analysis.simulate(n_patients={int(n)}, seed={int(seed)})")
    elif dataset == "file":
        lines += ["# The file you uploaded: write its path here. If you mapped its columns on the Data page,",
                  "# pass the same mapping: analysis.load(DATA_FILE, mapping=...).",
                  'DATA_FILE = "path/to/your_file.csv"',
                  "data = analysis.load(DATA_FILE)"]
    else:
        lines.append(f"data = analysis.load({dataset!r})  # the file you uploaded")
    if fingerprint:
        lines.append(f"assert data.fingerprint == {fingerprint!r}, 'not the data the dashboard used'")
    used = {k: v for k, v in (filters or {}).items() if v not in (None, [], (), "")}
    if used:
        args = ", ".join(f"{k}={v!r}" for k, v in used.items())
        lines.append(f"data = analysis.filter_cohort(data, {args})")
    for step in steps:
        call_args = "".join(f", {k}={v!r}" for k, v in step.arguments.items())
        lines += ["", f"{step.variable} = analysis.{step.function}(data{call_args})"]
        lines += [f"print({expression.format(step.variable)})" if "{}" in expression
                  else f"print({step.variable}.{expression})" for expression in step.prints]
    return "\n".join(lines) + "\n"


def python_code(
    dataset: str,
    function: str,
    *,
    filters: Mapping[str, Any] | None = None,
    arguments: Mapping[str, Any] | None = None,
    result_lines: Sequence[str] = ("print(result.summary())",),
    fingerprint: str = "",
) -> str:
    """A short script that reproduces one result as ``result`` (see :func:`python_script`), then
    runs ``result_lines``."""
    script = python_script(dataset, [SnippetStep("result", function, dict(arguments or {}), prints=())],
                           filters=filters, fingerprint=fingerprint)
    return script + "".join(line + "\n" for line in result_lines)
