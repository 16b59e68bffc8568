"""What the mapping step needs to know about an upload's tables, computed in the limited worker
(dashboard.upload_worker) so the server process never parses the upload itself: each table's
column names, the first distinct labels of each column (visit labels to time) and the
identifier screen's verdict on each column under each way a mapping can read it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.identifiers import IdentifierFinding, find_identifier_columns

MAX_LABELS = 60  # distinct labels kept per column (the visit-time table shows at most this many)
# How a mapping can read a column, as analysis.identifiers judges it: not a contract column
# (judged by name and content), a contract column, a contract column holding fixed labels.
READINGS = ("free", "known", "label")


@dataclass(frozen=True)
class TableOutline:
    """One table as read: ``columns`` (without ``source_row``), ``labels`` (column -> its first
    distinct non-empty values as text), ``findings`` (column -> reading -> the identifier
    finding, or None) and a statistical file's ``variable_labels`` (a survey's question texts)."""

    columns: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]
    findings: dict[str, dict[str, IdentifierFinding | None]]
    variable_labels: dict[str, str] = field(default_factory=dict)  # SPSS/Stata/SAS: column -> its label


def _first_labels(column: pd.Series) -> tuple[str, ...]:
    distinct = pd.Series(column.dropna().astype(str).str.strip().unique())
    return tuple(distinct[distinct != ""].head(MAX_LABELS))


def outline_table(frame: pd.DataFrame) -> TableOutline:
    """The outline of one table as ``analysis.loading.reading.read_source_frames`` gives it."""
    columns = tuple(str(c) for c in frame.columns if c != "source_row")
    variable_labels = {str(c): str(label) for c, label in (frame.attrs.get("labels") or {}).items()
                       if str(c) in columns and label}
    frame = frame[list(columns)]
    everything = frozenset(columns)
    found = {
        "free": find_identifier_columns(frame),
        "known": find_identifier_columns(frame, known_columns=everything),
        "label": find_identifier_columns(frame, known_columns=everything, label_columns=everything),
    }
    by_reading = {reading: {f.column: f for f in findings} for reading, findings in found.items()}
    return TableOutline(
        columns=columns,
        labels={c: _first_labels(frame[c]) for c in columns},
        findings={c: {reading: by_reading[reading].get(c) for reading in READINGS} for c in columns},
        variable_labels=variable_labels,
    )


def identifier_findings(table: TableOutline, known: set[str], dates: set[str],
                        labels: set[str]) -> list[IdentifierFinding]:
    """The identifier screen's findings for one table read with these contract columns
    (``known``), calendar-date columns (``dates``, skipped) and fixed-label columns (``labels``):
    the same as ``find_identifier_columns`` on the full table with those sets."""
    findings = []
    for column in table.columns:
        if column in dates:
            continue
        reading = "label" if column in labels and column in known else "known" if column in known else "free"
        finding = table.findings[column][reading]
        if finding is not None:
            findings.append(finding)
    return findings
