"""Code shown = code run: every page's "Python code" snippets, saved to a temporary folder and run
there with the project's interpreter (a separate process, outside the repository, no PYTHONPATH:
the package is installed editable), print every number of the page's tables."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.apptest import no_exception, open_page
from tests.dashboard.snippets import open_snippets, shown_snippets

# a filter and a grouping, so that the snippets must reproduce both
QUERY = {"diagnosis": ["TRD", "MDD"], "group": "route"}
# every page with a "Python code" snippet (Data's Table 1 is checked cell by cell below: its cells are text)
PAGES = ["overview", "trajectories", "onset", "durability", "compare", "series", "symptoms", "timeline"]
# columns a page computes from the results for display (counts for the minimum cell size), not
# numbers of an analysis result
DERIVED = {"n_smallest", "patients", "patients_reference", "suppressed"}
NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?(?![\w.])", re.IGNORECASE)


def _numbers(text: str) -> list[float]:
    return sorted(float(token) for token in NUMBER.findall(text))


def _tolerance(value: float) -> float:
    """Half a unit of the last decimal the page's value carries, at least what pandas' six
    printed decimals (or significant digits) lose."""
    text = repr(float(value))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 12
    return max(0.5 * 10.0 ** -decimals, 1e-6 + 1e-6 * abs(value))


def _found(value: float, printed: list[float]) -> bool:
    import bisect

    tol = _tolerance(value)
    i = bisect.bisect_left(printed, value - tol)
    return i < len(printed) and printed[i] <= value + tol


def _page(page: str) -> AppTest:
    at = open_page(page, **QUERY)
    no_exception(at)
    return at


def _run_snippet(code: str, folder: Path, name: str) -> str:
    path = folder / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, path.name], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{name} failed outside the repository:\n{code}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.parametrize("page", PAGES)
def test_every_snippet_runs_outside_the_repository_and_prints_the_pages_numbers(page, tmp_path):
    at = _page(page)
    assert not at.code, f"{page}: a closed 'Python code' expander writes its code (it is lazy)"
    snippets = shown_snippets(at)
    assert snippets, f"{page}: no Python code shown"
    no_exception(at)
    for code in snippets:
        assert "analysis.load_sample()" in code and "assert data.fingerprint ==" in code
        assert "analysis.filter_cohort(data, diagnosis=['TRD', 'MDD'])" in code
    printed = _numbers("\n".join(_run_snippet(code, tmp_path, f"{page}_{i}") for i, code in enumerate(snippets)))
    tables = [d.value for d in at.dataframe]
    assert tables, f"{page}: no table shown"
    checked = 0
    for table in tables:
        frame = table.reset_index() if not isinstance(table.index, pd.RangeIndex) else table
        for column in frame.columns:
            if str(column) in DERIVED or not pd.api.types.is_numeric_dtype(frame[column]) \
                    or pd.api.types.is_bool_dtype(frame[column]):
                continue
            for value in frame[column]:
                if value is None or pd.isna(value) or math.isinf(float(value)):
                    continue
                assert _found(float(value), printed), (
                    f"{page}: {column}={value!r} of a table on the page is not printed by its snippet")
                checked += 1
    assert checked >= 10, f"{page}: only {checked} numbers compared"


def test_table_one_snippet_prints_every_cell_of_the_data_pages_table_1(tmp_path):
    at = open_page("data", table1="true", **QUERY)
    no_exception(at)
    code = next(c for c in shown_snippets(at) if "table_one" in c)
    assert "analysis.filter_cohort(data, diagnosis=['TRD', 'MDD'])" in code and "by='route'" in code
    printed = _run_snippet(code, tmp_path, "data_0")
    table = next(d.value for d in at.dataframe if any(str(c).startswith("Overall (n=") for c in d.value.columns))
    assert len(table.columns) > 2, "Table 1 by route has a column per route"
    cells = [str(v) for v in table.reset_index().to_numpy().ravel() if pd.notna(v) and str(v).strip()]
    assert len(cells) >= 10
    assert [str(c) for c in table.columns if str(c) not in printed] == []
    assert [c for c in cells if c not in printed] == []


def test_the_comparison_can_fail(tmp_path):
    """The same check finds a page value the snippet does not print (a changed setting)."""
    at = _page("durability")
    code = next(c.value for c in open_snippets(at).code if "fit_durability" in c.value)
    printed = _numbers(_run_snippet(code.replace("response=0.5", "response=0.6"), tmp_path, "changed"))
    summary = at.dataframe[0].value
    medians = [v for v in summary["median_days"] if pd.notna(v)] if "median_days" in summary else []
    assert medians, "the durability summary shows median_days"
    assert not all(_found(float(v), printed) for v in medians)


def test_an_uploaded_dataset_gets_a_path_placeholder_with_a_comment():
    from analysis.export import SnippetStep, python_script

    code = python_script("file", [SnippetStep("result", "fit_onset", {"by": "route"})],
                         fingerprint="0123456789abcdef")
    assert 'DATA_FILE = "path/to/your_file.csv"' in code
    assert "# The file you uploaded: write its path here." in code
    assert "assert data.fingerprint == '0123456789abcdef'" in code
    assert code.rstrip().endswith("print(result.summary())")
    compile(code, "<snippet>", "exec")
