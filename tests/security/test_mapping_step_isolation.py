"""The mapping step never parses an upload in the server process: column names, visit labels and
the identifier screen come from the limited worker (dashboard.source_outline), and its verdicts
equal the identifier screen run on the whole table."""

from __future__ import annotations

import io
import itertools

import pandas as pd

import analysis.loading.reading as reading
from analysis.identifiers import find_identifier_columns
from dashboard.source_outline import identifier_findings, outline_table
from tests.dashboard.apptest import no_exception, upload_page


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "Subject": ["P1", "P2", "P3"],
        "email": ["a@b.org", "c@d.org", "e@f.org"],  # identifying by name and by content
        "contact": ["x@y.org", "q@r.org", "z@w.org"],  # identifying by content only
        "visit": ["day 1", "day 7", "day 7"],
        "first_name": ["Ann", "Bob", "Cy"],
        "score": [20.0, 12.0, 9.0],
        "seen": ["2024-01-02", "2024-01-09", "2024-01-16"],
        "source_row": [2, 3, 4],
    })


def test_the_outline_judges_every_column_as_the_full_screen_does():
    frame = _table()
    outline = outline_table(frame)
    columns = [c for c in frame.columns if c != "source_row"]
    assert outline.columns == tuple(columns)
    assert outline.labels["visit"] == ("day 1", "day 7")
    # every way a mapping can read the columns: the outline's verdicts equal the screen itself
    for known_n, label_n in itertools.product(range(len(columns) + 1), range(3)):
        known = set(columns[:known_n])
        labels = set(sorted(known)[:label_n])
        dates = {"seen"} & known
        expected = find_identifier_columns(frame[columns], known_columns=frozenset(known),
                                           date_columns=frozenset(dates), label_columns=frozenset(labels))
        assert identifier_findings(outline, known, dates, labels) == expected, (known, labels)
    assert {f.column for f in identifier_findings(outline, set(), set(), set())} >= {"email", "contact",
                                                                                       "first_name"}


def test_the_mapping_step_reads_nothing_in_the_server_process(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("the server process parsed the upload")

    monkeypatch.setattr(reading, "read_source_frames", refuse)  # the worker is another process
    monkeypatch.setattr(reading, "read_table", refuse)
    frame = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"], "visit": ["baseline", "day 7"] * 2,
                          "instrument": ["MADRS"] * 4, "score": [30, 12, 28, 20]})
    at = upload_page()
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    at.file_uploader(key="upload_files").upload("clinic.csv", buffer.getvalue().encode()).run()
    no_exception(at)
    texts = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader])
    assert "How the file will be read" in texts
    labels = [str(v) for frame_ in at.dataframe for v in frame_.value.astype(str).to_numpy().ravel()]
    assert "day 7" in labels  # the visit-time table, from the worker's outline


def test_the_outline_keeps_masked_examples_only():
    outline = outline_table(_table())
    assert outline.findings["email"]["free"] is not None
    assert "a@b.org" not in repr(outline.findings)  # masked, never the value
