"""The "Python code" snippets a page shows, for AppTest (shared helper, not a test module): a
snippet is written only while its expander is open (dashboard.calls.code_expander), so this opens
every "Python code" expander of the run, as a reader clicking it would, and returns their code.

    from tests.dashboard.snippets import shown_snippets
    code = next(c for c in shown_snippets(at) if "fit_durability" in c)
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def open_snippets(at: AppTest) -> AppTest:
    """Open every closed "Python code" expander of ``at`` (its key starts with ``code_``) and run
    again; unchanged when none is closed."""
    closed = [e.key for e in at.expander if e.key and e.key.startswith("code_") and not at.session_state[e.key]]
    for key in closed:
        at.session_state[key] = True
    return at.run() if closed else at


def shown_snippets(at: AppTest) -> list[str]:
    """The code of every "Python code" expander of the page ``at`` shows (opened by open_snippets)."""
    return [c.value for c in open_snippets(at).code if "import analysis" in c.value]
