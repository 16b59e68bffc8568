"""Call descriptions: each analysis on a page is one ``Call`` that the page executes (through
dashboard.compute, with its caches) *and* renders as the "Python code" snippet, so the code shown
is the code run.

    durability = Call("fit_durability", {"by": "route", "origin": "response", **options},
                      prints=("summary()", "risk_table"))
    result = calls.run(ctx, durability, "Fitting the durability curves...", report)
    calls.code_expander(ctx, durability)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import streamlit as st

from analysis.export import SnippetStep, python_script
from dashboard import background, compute

if TYPE_CHECKING:
    from dashboard.report import Report
    from dashboard.state import Context


@dataclass(frozen=True)
class Call:
    """``analysis.<function>(data, **arguments)`` on the filtered dataset.

    function : public name in ``analysis`` (e.g. ``"fit_durability"``).
    arguments : keyword arguments after the data, exactly as passed.
    prints : what the snippet prints of the result, as attribute or method expressions
        (``"summary()"``, ``"logrank.table"``), or expressions with ``{}`` for the result
        (``"per_unit_hazard_ratios({})"``, a table the page derives from it): the columns the
        page shows.
    imports : import lines those expressions need.
    name : the result's variable name in the snippet.
    """

    function: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    prints: tuple[str, ...] = ("summary()",)
    name: str = "result"
    imports: tuple[str, ...] = ()

    def step(self, ctx: Context) -> SnippetStep:
        """The snippet's line for this call, with the arguments compute.run passes (the sidebar's
        group cut points and reference group added by compute.call_arguments)."""
        arguments = compute.call_arguments(ctx, self.function, dict(self.arguments))
        return SnippetStep(variable=self.name, function=self.function, arguments=arguments,
                           prints=tuple(self.prints), imports=tuple(self.imports))


def run(ctx: Context, call: Call, label: str, report: Report | None = None) -> Any:
    """Execute ``call`` on ``ctx.data`` through compute.run (same cache keys as before), and note
    it on ``report`` so that the results added next carry its snippet. A background job computing
    the same result (``prefetch_next``) is waited for instead of computing it twice."""
    background.join(ctx, call)
    result = compute.run(ctx, call.function, label, **dict(call.arguments))
    if report is not None:
        report.note_call(call)
    return result


def dataset_source(ctx: Context) -> str:
    """How a snippet loads the dataset: ``sample``, ``simulated-<n>-<seed>``, or ``file`` for an
    upload or a stored dataset (the analyst puts the path of their file in the snippet)."""
    name = ctx.settings.dataset
    return name if name == "sample" or name.startswith("simulated-") else "file"


def snippet(ctx: Context, calls: Sequence[Call]) -> str:
    """The script that reproduces ``calls`` from the same dataset and filters."""
    fingerprint = ctx.full.fingerprint if ctx.full is not None else ""
    return python_script(dataset_source(ctx), [c.step(ctx) for c in calls], filters=ctx.settings.filters(),
                         fingerprint=fingerprint)


def code_key(*calls: Call, key: str | None = None) -> str:
    """The session-state key of the "Python code" expander of ``calls`` (True when it is open)."""
    from dashboard.report import slug

    return f"code_{slug(key or '_'.join(c.name + c.function for c in calls))}"


def code_expander(ctx: Context, *calls: Call, key: str | None = None) -> None:
    """The "Python code" expander showing the snippet of ``calls``, written only while it is open:
    the browser's syntax highlighter (a 1.5 MB script, ~0.4-0.8 s of a page's first render) loads
    only when someone reads the code. Opening it reruns this expander alone (a fragment), not the
    page. The report's cards get the snippet from ``Report.note_call``, not from here."""
    _code_fragment(ctx, calls, code_key(*calls, key=key))


@st.fragment
def _code_fragment(ctx: Context, calls: Sequence[Call], key: str) -> None:
    expander = st.expander("Python code", icon=":material/code:", key=key, on_change="rerun")
    if expander.open:
        with expander:
            st.caption("Reproduces this result from the same data and settings with the analysis API "
                       "(runs from any folder with the project's Python: `make run` installs the package).")
            st.code(snippet(ctx, calls), language="python")


def trajectory_time(ctx: Context) -> str:
    """The Trajectories page's default time axis: visits when the ratings have visit labels, else days
    (a survey's dated responses)."""
    visits = ctx.data.assessments["visit"]
    # the first ratings answer for nearly every dataset (a scan of every rating: 50 ms at 20,000
    # patients, on every page run of a large dataset through prefetch_next)
    return "visit" if bool(visits.head(1000).notna().any() or visits.notna().any()) else "days"


def trajectory_call(ctx: Context, time: str, value: str = "score", time_origin: str = "first_infusion") -> Call:
    """The Trajectories page's summary (analysis.trajectory) by the sidebar's grouping and endpoint
    options; ``time_origin`` applies to hours and days only."""
    arguments = {"by": ctx.settings.by, "time": time, "value": value}
    if time != "visit" and time_origin != "first_infusion":
        arguments["time_origin"] = time_origin
    return Call("trajectory", {**arguments, **ctx.settings.endpoint_options()}, prints=("table",))


def prefetch_next(ctx: Context, page: str) -> None:
    """After a page of a large dataset as loaded (no filters) is drawn, the Trajectories page's
    default summary is started in the background, behind everything a page asked for (about half a
    second at 20,000 patients, the most of that page's first render), so that its first visit finds
    it. Not on the Trajectories page (it computes its own) nor on filtered data (a filter change
    would start one job per state)."""
    if ctx.data is None or page == "trajectories" or not compute.is_large(ctx.data) or ctx.settings.filters():
        return
    background.prefetch(ctx, trajectory_call(ctx, trajectory_time(ctx)))
