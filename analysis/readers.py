"""Reading one user table from a path, a buffer, an upload or a DataFrame.

The format is decided from the file's first bytes, not its extension (a PNG renamed ``.csv`` is
refused as an image, a zip renamed ``.xlsx`` as a zip archive). Supported: CSV and TSV (delimiter
among ``,`` ``;`` tab ``|`` and encoding among UTF-8, UTF-8 with BOM, Windows-1252/Latin-1
detected; ``;``-separated files are read with decimal commas, as European Excel writes them),
Excel ``.xlsx`` and Parquet, SAS transport v5 ``.xpt`` through :mod:`analysis.xport` (the reader
analysis.cdisc uses, equal to pyreadstat), and through pyreadstat (never pandas' SAS reader, which
reads some zeros as 5.4e-79) SAS transport v8, SAS ``.sas7bdat``, SPSS ``.sav``/``.zsav`` and Stata
``.dta``, keeping their variable labels (``RawTable.labels``) and value labels
(``RawTable.value_labels``); R ``.rds`` and ``.RData`` data frames through pyreadr (no R needed).

Row numbering: every table gets a ``source_row`` column, 1 = the first data row. In a CSV file
or a spreadsheet with one header line, row N is line (spreadsheet row) N + 1; :func:`locate`
writes both, e.g. "row 5 (line 6 of visits.csv)".
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import DataError, problems_frame
from analysis.origins import RowOrigins

__all__ = ["RawTable", "converted_table", "locate", "read_table", "sheet_table"]

# Leading bytes of common non-table files, with what to call them in a message.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel (.xls) or Office file (save it as .xlsx or CSV)"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x7fELF", "a program"),
    (b"{\\rtf", "an RTF document"),
)
# Text formats that are not tables (checked on the start of the text, ignoring case and spaces).
_TEXT_MAGIC = (("<!doctype html", "a web page (HTML)"), ("<html", "a web page (HTML)"),
               ("<?xml", "an XML document"), ("{", "a JSON document"), ("[", "a JSON document"))
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class RawTable:
    """A table as read, before validation.

    frame : the columns as in the file plus ``source_row`` (int64, 1 = first data row).
    name : what to call the file in messages (its file name, or "the DataFrame").
    kind : "csv", "xlsx", "parquet" or "dataframe".
    decimal_comma : numbers in text columns use a decimal comma (``;`` files).
    notes : facts worth a warning (blank lines skipped, sheet chosen, ...).
    labels : column -> variable label (SAS, SPSS, Stata files).
    value_labels : column -> {code: label} (SPSS and Stata value labels, SAS formats).
    table : the table it is read as, in messages ("file" for a single file; "assessments",
        "infusions", ... in the table form).
    sources : contract column -> the file's column it was read from, when renamed.
    """

    frame: pd.DataFrame
    name: str
    kind: str
    decimal_comma: bool = False
    notes: list[str] = field(default_factory=list)
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    labels: dict[str, str] = field(default_factory=dict, repr=False)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict, repr=False)
    # A converted (CDISC, REDCap) source: each rating's file and row there (``source_row`` is then
    # the rating's position + 1, unique across the files; see analysis.origins).
    origins: RowOrigins | None = field(default=None, repr=False)
    table: str = "file"
    # contract column -> the file's column it was read from, when named otherwise ('score' <- 'Total'):
    # messages about a rating's value name the file's column
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    hidden_sheets: tuple[str, ...] = ()  # a workbook's hidden sheets, not read (hidden_note)

    def hidden_note(self) -> list[str]:
        """The sentence saying which hidden sheets were not read (none: an empty list)."""
        return [f"{self.name}: hidden sheet(s) {', '.join(map(repr, self.hidden_sheets))} not read (choose one "
                "with sheet=...)"] if self.hidden_sheets else []

    def locate(self, row: int, table: str = "", column: str = "") -> str:
        """Where data row ``row`` is, in words; for a converted source, the file and row it was read
        from (for the patients table, where the patient's ``column`` was read)."""
        if self.origins is None:
            return locate(self.kind, self.name, row)
        return self.origins.describe(row - 1, table, column)

    def file_row(self, row: int, table: str = "", column: str = "") -> int:
        """``row`` as numbered in the user's file (for a converted source, the row in its file)."""
        return row if self.origins is None else self.origins.file_row(row - 1, table, column)

    def rows_text(self, rows: np.ndarray, limit: int = 5) -> str:
        """Rows for a message: "rows 3, 5, 7" (the numbering is said once elsewhere), by file for a
        converted source ("rs.xpt rows 3, 5; qs.xpt row 12"); at most ``limit`` listed."""
        if self.origins is not None:
            return self.origins.rows_text(np.asarray(rows, dtype=np.int64) - 1, limit)
        shown = ", ".join(str(int(r)) for r in rows[:limit])
        return f"row{'s' if len(rows) > 1 else ''} {shown}" + (f" and {len(rows) - limit} more" if len(rows) > limit
                                                               else "")


def locate(kind: str, name: str, row: int) -> str:
    """Where a data row is, in the numbering a person sees (row 1 = first data row)."""
    if kind == "csv":
        return f"row {row} (line {row + 1} of {name})"
    if kind == "xlsx":
        return f"row {row} (spreadsheet row {row + 1} of {name})"
    if kind == "dataframe":
        return f"row {row} (position {row - 1} in the DataFrame, counting from 0)"
    if kind in {"xpt", "sas7bdat", "sav", "dta", "rds"}:
        return f"row {row} (observation {row} of {name})"
    return f"row {row} (data row {row} of {name}, counting from 1)"


def _fail(message: str, table: str, name: str, headline: str | None = None) -> DataError:
    """A DataError with one whole-file problem."""
    return DataError(problems_frame([{"table": table, "row": pd.NA, "column": "", "value": "",
                                      "message": message}]),
                     headline=headline or f"{name[:1].upper()}{name[1:]} cannot be read as a table.")


def _source_bytes(source: Any) -> tuple[bytes, str, str]:
    """(content, display name, lower-case extension) of a path or buffer."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return path.read_bytes(), path.name, path.suffix.lower()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the uploaded data", ""
    name = str(getattr(source, "name", "") or "the uploaded file")
    name = Path(name).name or name
    if hasattr(source, "getvalue"):
        content = source.getvalue()
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            with contextlib.suppress(OSError, ValueError):
                source.seek(0)
        content = source.read()
    else:
        raise TypeError(f"Cannot read a table from {type(source).__name__}: pass a path, a file-like "
                        "object, bytes or a pandas DataFrame.")
    if isinstance(content, str):
        content = content.encode("utf-8")
    return bytes(content), name, Path(name).suffix.lower()


def read_table(source: Any, table: str, *, sheet: str | int | None = None,
               number_columns: frozenset[str] = frozenset()) -> RawTable:
    """Read one table; raises DataError when it is empty, not a table, or unreadable.

    In a text file, only ``number_columns`` (names compared after lower-casing and stripping) are
    left to the reader's type inference; every other column is read as text, so that identifiers
    and codes such as ``007`` or ZIP ``02139`` keep their leading zeros.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True).copy()
        frame.columns = [str(c) for c in frame.columns]
        object_columns = [] if frame.columns.duplicated().any() else \
            [c for c in frame.columns if frame[c].dtype == "object"]
        for column in object_columns:
            try:
                pd.unique(frame[column])
            except TypeError:  # unhashable cells (lists, dicts): keep their text
                frame[column] = [None if v is None else str(v) for v in frame[column]]
        return _finish(RawTable(frame, "the DataFrame", "dataframe"), table)
    content, name, extension = _source_bytes(source)
    if not content.strip():
        raise _fail(f"{name} is empty.", table, name)
    if _is_r_data(content, extension):
        return _finish(_read_r(content, name, table, sheet), table)
    head = content[:16]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise _fail(f"{name} is {what}, not a table. Export the data as CSV, Excel (.xlsx) or "
                        "Parquet.", table, name)
    stat_kind = _statistical_format(content, extension)
    if stat_kind is not None:
        raw = _read_statistical(content, name, table, stat_kind)
    elif head.startswith(b"PAR1"):
        raw = _read_parquet(content, name, table)
        _note_misnamed(raw, extension, "a Parquet file", {".parquet", ".pq"})
    elif head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        raw = _read_xlsx(content, name, table, sheet)
        _note_misnamed(raw, extension, "an Excel workbook", {".xlsx", ".xlsm"})
    else:
        if extension in {".xlsx", ".xlsm", ".xls", ".parquet", ".pq"}:
            kind = "an Excel workbook" if extension.startswith(".xl") else "a Parquet file"
            looks = "text" if b"\x00" not in content[:4096] else "an unknown binary format"
            raise _fail(f"{name} is named like {kind} ({extension}) but its content is {looks}. "
                        "Save it again in that format, or rename it to .csv if it is a CSV file.",
                        table, name)
        raw = _read_text(content, name, table, number_columns)
    return _finish(raw, table)


# First bytes of the statistical formats pyreadstat reads (SAS XPORT v5/v8 library header, the
# sas7bdat magic number at offset 12, SPSS "$FL2"/"$FL3", Stata 13+ "<stata_dta>").
_SAS_XPORT = (b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!", b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!")
_SAS7BDAT_MAGIC = bytes([0xc2, 0xea, 0x81, 0x60, 0xb3, 0x14, 0x11, 0xcf, 0xbd, 0x92, 0x08, 0x00, 0x09, 0xc7,
                         0x31, 0x8c, 0x18, 0x1f, 0x10, 0x11])
_STAT_NAMES = {"xpt": "a SAS transport file", "sas7bdat": "a SAS dataset", "sav": "an SPSS file",
               "dta": "a Stata file"}


_R_SUFFIXES = {".rds": ".rds", ".rdata": ".RData", ".rda": ".RData"}


def _is_r_data(content: bytes, extension: str) -> bool:
    """An R data file: ``saveRDS`` (.rds) or ``save`` (.RData/.rda), usually gzip-compressed."""
    head = content[:8]
    if head.startswith(b"\x1f\x8b"):
        with contextlib.suppress(zlib.error):
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(content[:4096], 8)
    binary = head.startswith((b"X\n\x00\x00", b"RDX2\n", b"RDX3\n", b"RDB2\n", b"RDB3\n"))
    return binary or (extension in _R_SUFFIXES and (head.startswith((b"A\n", b"B\n", b"RDA")) or
                                                     content.startswith((b"BZh", b"\xfd7zXZ"))))


def _read_r(content: bytes, name: str, table: str, sheet: str | int | None) -> RawTable:
    """An R data frame through pyreadr (no R needed): the .rds object, or in an .RData file the
    data frame named ``sheet`` (name or position), else the first; factors arrive as categoricals."""
    import tempfile

    import pyreadr

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.rds"  # pyreadr tells .rds from .RData by content, not by name
        path.write_bytes(content)
        try:
            objects = pyreadr.read_r(str(path))
        except Exception as error:  # pyreadr raises its own error types for damaged or unsupported files
            raise _fail(f"{name} looks like an R data file but cannot be read ({type(error).__name__}: "
                        f"{str(error)[:120]}). Save the data frame with saveRDS() or write.csv().",
                        table, name) from None
    frames = {str(k) if k is not None else "": v for k, v in objects.items() if isinstance(v, pd.DataFrame)}
    if not frames:
        raise _fail(f"{name} holds no data frame (only other R objects).", table, name)
    names = list(frames)
    if sheet is not None:
        chosen = names[sheet] if isinstance(sheet, int) and 0 <= sheet < len(names) else str(sheet)
        if chosen not in frames:
            raise _fail(f"{name} has no data frame {sheet!r}; it holds {', '.join(map(repr, names))}.", table, name)
    else:
        chosen = names[0]
    notes = [f"{name} holds {len(names)} data frames; read {chosen!r} (choose another with sheet=...)"] \
        if len(names) > 1 else []
    return RawTable(frames[chosen].reset_index(drop=True), name, "rds", notes=notes)


def _statistical_format(content: bytes, extension: str) -> str | None:
    if content.startswith(_SAS_XPORT):
        return "xpt"
    if content[12:32] == _SAS7BDAT_MAGIC:
        return "sas7bdat"
    if content.startswith((b"$FL2", b"$FL3")):
        return "sav"
    if content.startswith(b"<stata_dta>") or (extension == ".dta" and content[:1] in b"\x71\x72\x73\x6e\x6f"
                                               and content[1:2] in b"\x01\x02"):
        return "dta"
    return None


def _read_statistical(content: bytes, name: str, table: str, kind: str) -> RawTable:
    """SAS, SPSS or Stata file -> RawTable: SAS XPORT v5 by the vectorised :mod:`analysis.xport`
    (equal to pyreadstat, the reader analysis.cdisc uses), everything else via pyreadstat."""
    import tempfile

    from analysis.xport import is_xport_v5, read_xport_v5

    if kind == "xpt" and is_xport_v5(content[:80]):
        try:
            frame = read_xport_v5(content, name)
        except (ValueError, struct.error) as error:
            raise _fail(f"{name} looks like {_STAT_NAMES[kind]} but cannot be read ({type(error).__name__}: "
                        f"{str(error)[:120]}).", table, name) from None
        labels = {c: lab for c, lab in frame.attrs["labels"].items() if lab}
        # Text as pyreadstat gives it (object, blank = ""), so the table reads as any other file.
        for column in frame.columns[[isinstance(t, pd.CategoricalDtype) for t in frame.dtypes]]:
            frame[column] = frame[column].astype(object)
        frame.attrs = {"labels": labels}
        return RawTable(frame, name, kind, labels=labels)

    import pyreadstat

    reader = {"xpt": pyreadstat.read_xport, "sas7bdat": pyreadstat.read_sas7bdat,
              "sav": pyreadstat.read_sav, "dta": pyreadstat.read_dta}[kind]
    with tempfile.NamedTemporaryFile(suffix=f".{kind}") as handle:
        handle.write(content)
        handle.flush()
        try:
            frame, meta = reader(handle.name)
        except Exception as error:  # pyreadstat raises ReadstatError/PyreadstatError with a short text
            raise _fail(f"{name} looks like {_STAT_NAMES[kind]} but cannot be read ({type(error).__name__}: "
                        f"{str(error)[:120]}).", table, name) from None
    labels = {c: lab for c, lab in zip(meta.column_names, meta.column_labels or [], strict=False) if lab}
    value_labels: dict[str, dict[Any, str]] = {}
    for column, label_set in (meta.variable_to_label or {}).items():
        if label_set in (meta.value_labels or {}):
            value_labels[column] = dict(meta.value_labels[label_set])
    frame.attrs["labels"] = labels
    frame.attrs["value_labels"] = value_labels  # a survey's coded answers (1 = 'Not at all') for the suggestion
    return RawTable(frame, name, kind, labels=labels, value_labels=value_labels)


def _note_misnamed(raw: RawTable, extension: str, kind: str, expected: set[str]) -> None:
    """A binary table whose name says otherwise (an .xlsx saved as .csv) is read by its content,
    and the mismatch is reported as a warning rather than silently accepted."""
    if extension and extension not in expected:
        raw.notes.append(f"{raw.name} is named like a {extension} file but is {kind}; it was read as {kind}")


def _is_number(value: object) -> bool:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return not pd.isna(value)
    return isinstance(value, str) and not _is_text(value) and bool(value.strip())


def _joined_header(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names written over two rows, as spreadsheets group them: an instrument in a merged
    cell over its visits ('MADRS' over 'Baseline', 'Day 1', 'Day 7'), read as one name each
    ('MADRS Baseline', 'MADRS Day 1', ...; a name with nothing below it stays as it is). Found when
    a column without a name follows a named one, the first row holds text under every column
    without a name (and nothing but text), and numbers follow under them; ``attrs["header_rows"]``
    is then 2. Any other frame is returned as it is."""
    names = [str(c).strip() for c in frame.columns]
    blank = [not n or n.startswith("Unnamed:") for n in names]
    grouped = [i for i in range(1, len(names)) if blank[i] and not blank[i - 1]]
    if not grouped or len(frame) < 2:
        return frame
    subs = [None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in frame.iloc[0]]
    if any(b and sub is None for b, sub in zip(blank, subs, strict=True)) \
            or not all(_is_text(sub) for sub in subs if sub is not None):
        return frame
    below = frame.iloc[1:11, [i for i, b in enumerate(blank) if b]].to_numpy(dtype=object).ravel()
    if not any(_is_number(v) for v in below):
        return frame
    columns, group = [], None
    for name, unnamed, sub in zip(names, blank, subs, strict=True):
        group = group if unnamed else name
        columns.append(sub if group is None else group if sub is None else f"{group} {sub}")
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = columns
    body.attrs = {**frame.attrs, "header_rows": 2}
    return body


_IMPORT_ID = re.compile(r'^\s*\{\s*"ImportId"\s*:\s*"([^"]*)"')


def _qualtrics_header(frame: pd.DataFrame) -> pd.DataFrame:
    """A Qualtrics export's three header rows (question ids, question text, ``{"ImportId": ...}``)
    read as one: a question's column is named by its text (``Q1_1`` -> "Over the last 2 weeks ...
    - Little interest or pleasure in doing things"), so its wording says what it asks; the other
    columns keep their names (``StartDate``, ``ResponseId``). ``attrs["header_rows"]`` is then 3.
    Any other frame is returned as it is."""
    if len(frame) < 2:
        return frame
    ids = [_IMPORT_ID.match(str(v)) if not pd.isna(v) else None for v in frame.iloc[1]]
    if sum(m is not None for m in ids) < max(2, len(ids) // 2):
        return frame
    texts = [None if pd.isna(v) else str(v).strip() for v in frame.iloc[0]]
    columns = [text if m is not None and m.group(1).startswith("QID") and text else str(name)
               for name, m, text in zip(frame.columns, ids, texts, strict=True)]
    if len(set(columns)) < len(columns):  # two questions worded alike keep their ids
        columns = [c if columns.count(c) == 1 else str(n) for c, n in zip(columns, frame.columns, strict=True)]
    body = frame.iloc[2:].reset_index(drop=True)
    body.columns = columns
    body.attrs = {**frame.attrs, "header_rows": 3}
    return body


def _finish(raw: RawTable, table: str) -> RawTable:
    raw.table = table
    frame = raw.frame = _joined_header(_qualtrics_header(raw.frame))
    names = [str(c).strip() for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise _fail(f"{raw.name} has more than one column called {', '.join(map(repr, duplicated))}. "
                    "Give every column a distinct name.", table, raw.name)
    frame.columns = names
    if len(frame.columns) == 0:
        raise _fail(f"{raw.name} has no columns.", table, raw.name)
    merged = [names[i] for i in frame.attrs.pop("merged_columns", []) if i < len(names)]
    if merged:
        raw.notes.append(f"cells merged down the column(s) {', '.join(map(repr, merged))} (a value written once over "
                         "several rows) read on every row they span, as the spreadsheet shows them")
    errors = frame.attrs.pop("excel_errors", [])
    if errors:
        shown = ", ".join(f"{error} in {ref}" for ref, error in errors[:6]) + (" ..." if len(errors) > 6 else "")
        raw.notes.append(f"{raw.name}: {len(errors)} cell(s) hold Excel errors ({shown}: a formula that could not "
                         "be computed) and were read as empty")
    # A column with neither a name nor a value (an empty column A beside the table) holds no data.
    empty = [c for c in frame.columns if (not c or c.startswith("Unnamed:")) and frame[c].isna().all()]
    if empty and len(empty) < len(frame.columns):
        frame = raw.frame = frame.drop(columns=empty)
    # Title lines above the column names (an export's report title) shift the rows, so that the
    # line and spreadsheet row numbers in messages stay those of the file.
    titles = int(frame.attrs.pop("title_rows", 0))
    if titles:
        raw.notes.append(f"{titles} line(s) above the column names skipped (a title, not read)")
    header_rows = frame.attrs.pop("header_rows", 1)
    if header_rows == 2:
        raw.notes.append(f"column names read from two header rows (e.g. {names[-1]!r})")
    elif header_rows == 3:
        raw.notes.append("a Qualtrics export: its questions' columns named by their text (the second header row); "
                         "the other two header rows (question ids, import ids) are not data")
    titles += header_rows - 1
    frame["source_row"] = np.arange(1 + titles, len(frame) + 1 + titles, dtype="int64")
    # Rows with nothing in them (blank lines, empty spreadsheet rows) are not data.
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns[:-1]:
        blank &= frame[column].isna().to_numpy()
        if not blank.any():
            break
    if blank.any():
        raw.notes.append(f"{int(blank.sum())} blank row(s) skipped")
        frame = frame.loc[~blank].reset_index(drop=True)
    if len(frame) == 0:
        raise _fail(f"{raw.name} has column names but no data rows.", table, raw.name)
    raw.frame = frame
    return raw


def _read_parquet(content: bytes, name: str, table: str) -> RawTable:
    try:
        arrow = _read_arrow(content)
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise _fail(f"{name} looks like a Parquet file but cannot be read ({type(error).__name__}).",
                    table, name) from None
    return RawTable(_arrow_to_pandas(arrow), name, "parquet")


# Dictionary pages are capped by the writers (Arrow's and parquet-mr's dictionary_pagesize_limit,
# 1 MiB by default); past the cap the rest of a column chunk is written as plain strings.
_DICTIONARY_PAGE_LIMIT = 1 << 20


def _plain_text(metadata: Any, text: list[str]) -> set[str]:
    """The ``text`` columns stored mostly as plain strings rather than dictionary indices (the
    ids of 100,000 patients in random row order overflow the dictionary page of every row group).

    Dictionary indices take at most 4 bytes a value, a plain string at least 4 (its length) plus
    its bytes: a column whose chunks hold more than 4 bytes a value besides a full dictionary
    page is mostly plain.
    """
    index = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    plain = set()
    for name in (n for n in text if n in index):
        chunks = [metadata.row_group(g).column(index[name]) for g in range(metadata.num_row_groups)]
        values = sum(c.num_values for c in chunks)
        data_bytes = sum(c.total_uncompressed_size - (_DICTIONARY_PAGE_LIMIT if c.has_dictionary_page else 0)
                         for c in chunks)
        if values and data_bytes > 4 * values:
            plain.add(name)
    return plain


def _read_arrow(content: bytes) -> Any:
    """The Parquet file as one Arrow table, text columns dictionary-encoded (one chunk per row
    group, ``ParquetFile.read``).

    Text stored as dictionary indices is read as such (no hashing). Text stored mostly as plain
    strings (:func:`_plain_text`) is read as strings and encoded once over the whole file: Arrow's
    reader would build a dictionary per row group from the plain pages, and pandas would unify
    them, hashing every id twice (0.2-0.3 s CPU more for 8 million rows of 100,000 ids).

    Why not ``pq.read_table``: it cuts each row group into batches of 64k rows, each carrying a
    copy of the row group's dictionary. In a file in random row order every row group holds
    nearly every patient id, and unifying 62 dictionaries of 100,000 ids (8.3 million rows) took
    longer than reading them. (Reading a row group per thread as well was tried: on the shared
    2-core machine it cost more CPU and no wall time.)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(pa.BufferReader(content))
    text = [f.name for f in file.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    plain = _plain_text(file.metadata, text)
    arrow = pq.ParquetFile(pa.BufferReader(content), read_dictionary=[n for n in text if n not in plain]).read()
    for name in plain:
        i = arrow.schema.get_field_index(name)
        # (The table of plain strings is let go here, before the frame is built: kept until then,
        # its freed pages stayed with Arrow's allocator, 400 MB more at the peak.)
        arrow = arrow.set_column(i, name, arrow.column(i).dictionary_encode())
    return arrow


def _arrow_to_pandas(arrow: Any) -> pd.DataFrame:
    """Arrow table -> pandas, text columns as categoricals (fast and small at millions of rows)."""
    import pyarrow as pa

    for i, column in enumerate(arrow.columns):
        kind = column.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind) \
                or pa.types.is_dictionary(kind) and not pa.types.is_string(kind.value_type):
            # Lists, structs and raw bytes are not table cells: keep them as their text.
            column = pa.chunked_array([pa.array([None if v is None else str(v) for v in column.to_pylist()],
                                                pa.string())])
            kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            arrow = arrow.set_column(i, arrow.field(i).name, column.dictionary_encode())
    # split_blocks: one block per column, no copy into consolidated 2-D blocks.
    # ignore_metadata: nullable integers arrive as float64 (validation converts them anyway).
    frame = arrow.to_pandas(split_blocks=True, self_destruct=True, ignore_metadata=True)
    del arrow
    pa.default_memory_pool().release_unused()  # hand the Arrow buffers freed above back (peak memory)
    return frame


_TITLE_SEARCH_ROWS = 20  # title lines looked for above the column names


def _names_row(filled: list[set[int]], names: list[bool], widths: list[int] | None = None) -> int | None:
    """The row holding the column names, counted from the top (0: the first row, no title above);
    None when no row looks like them. ``filled``: the positions holding a value, per row from the
    top; ``names``: whether a row's values are all text; ``widths``: fields per row of a text file
    (the names' row and the rows below share it).

    The names' row has at least two values, all text, and as many as any of the 10 filled rows
    below (with the row under it when that row is text too: names over two rows, an instrument
    merged over its visits, :func:`_joined_header`); every row above it (the title: "Ketamine
    clinic export", "Site, Boston", a blank line) has at most half as many values."""
    counts = [len(f) for f in filled]
    for row in range(min(_TITLE_SEARCH_ROWS + 1, len(counts) - 1)):
        if counts[row] < 2 or not names[row]:
            continue
        below = [r for r in range(row + 1, len(counts)) if counts[r]][:10]
        if widths is not None and any(widths[r] != widths[row] for r in below):
            continue
        full = bool(below) and max(counts[r] for r in below) <= counts[row]
        two_rows = below[:1] == [row + 1] and names[row + 1] and len(below) > 1 \
            and max(counts[r] for r in below[1:]) <= len(filled[row] | filled[row + 1])
        if not (full or two_rows):
            continue
        return row if all(c <= counts[row] // 2 for c in counts[:row]) else None
    return None


def _is_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value.replace(",", "."))
    except ValueError:
        return True
    return False


def _below_titles(frame: pd.DataFrame) -> pd.DataFrame:
    """A sheet whose first rows are a title ("Ketamine clinic export", a blank row) above the
    column names: the frame from the column names on, ``attrs["title_rows"]`` saying how many rows
    were above them (:func:`_names_row`). A sheet whose first row holds column names is returned
    as it is."""
    names = [str(c) for c in frame.columns]
    named = [n for n in names if not n.startswith("Unnamed:")]
    if len(names) < 2 or len(named) > len(names) // 2:
        return frame
    head = frame.head(_TITLE_SEARCH_ROWS + 11)
    filled = head.notna().to_numpy()
    positions = [{i for i, n in enumerate(names) if not n.startswith("Unnamed:")},
                 *({int(i) for i in np.flatnonzero(ok)} for ok in filled)]
    texts = [all(_is_text(n) for n in named), *(all(_is_text(v) for v in row[ok])
                                                for row, ok in zip(head.to_numpy(dtype=object), filled, strict=True))]
    row = _names_row(positions, texts)
    if not row:
        return frame
    header = frame.iloc[row - 1]
    columns = [str(v).strip() if pd.notna(v) else f"Unnamed: {i}" for i, v in enumerate(header)]
    body = frame.iloc[row:].reset_index(drop=True)
    body.columns = columns
    body.attrs["title_rows"] = row
    return body


def _title_lines(text: str) -> int:
    """How many lines at the top of a text table are a title above the column names
    (:func:`_names_row`)."""
    lines = re.split(r"\r\n|\r|\n", text)[:_TITLE_SEARCH_ROWS + 11]
    if len(lines) < 2:
        return 0
    for delimiter in _DELIMITERS:
        try:
            fields = [next(csv.reader([line], delimiter=delimiter), []) for line in lines]
        except csv.Error:
            continue
        positions = [{i for i, f in enumerate(line) if f.strip()} for line in fields]
        row = _names_row(positions, [all(_is_text(line[i]) for i in filled) for line, filled in zip(fields, positions,
                                                                                                  strict=True)],
                         [len(line) for line in fields])
        if row is not None:
            return row
    return 0


def _excel_engine() -> str:
    """calamine (Rust; about 10x faster than openpyxl on a 20,000 x 24 sheet, same cell types) when
    installed, else openpyxl."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return "openpyxl"
    return "calamine"


_EXCEL_ENGINE = _excel_engine()


def _read_xlsx(content: bytes, name: str, table: str, sheet: str | int | None) -> RawTable:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = set(archive.namelist())
    except zipfile.BadZipFile:
        raise _fail(f"{name} looks like a zip archive but is damaged.", table, name) from None
    if "xl/workbook.xml" not in members:
        raise _fail(f"{name} is a zip archive, not an Excel workbook. Unzip it and load the table "
                    "inside.", table, name)
    try:
        sheets = pd.read_excel(io.BytesIO(content), sheet_name=None if sheet is None else sheet,
                               dtype=object, engine=_EXCEL_ENGINE)
    except (ValueError, KeyError) as error:
        raise _fail(f"{name}: {error}", table, name) from None
    except Exception as error:  # openpyxl raises many types for damaged workbooks
        raise _fail(f"{name} is an Excel workbook that cannot be read ({type(error).__name__}).",
                    table, name) from None
    cells = _sheet_cells(content)
    if not isinstance(sheets, dict):
        names = list(cells)
        key = sheet if isinstance(sheet, str) else names[sheet] if isinstance(sheet, int) and sheet < len(names) \
            else None
        return RawTable(_below_titles(_marked(sheets, cells.get(key))), name, "xlsx")
    hidden = tuple(key for key in sheets if key in cells and cells[key].hidden)
    if hidden and len(hidden) < len(sheets):  # what the clinic does not see is not its data
        sheets = {key: frame for key, frame in sheets.items() if key not in hidden}
    else:
        hidden = ()
    sheets = {key: _below_titles(_marked(frame, cells.get(key))) for key, frame in sheets.items()}
    if not sheets:
        raise _fail(f"{name} has no worksheets.", table, name)
    first = next(iter(sheets))
    notes = []
    if len(sheets) > 1:
        notes.append(f"{name} has {len(sheets)} sheets; read the first, {first!r} (choose another with "
                     "sheet=..., or name the sheets assessments, infusions and patients)")
    raw = RawTable(sheets[first], name, "xlsx", notes=notes, sheets=dict(sheets), hidden_sheets=hidden)
    raw.notes[:0] = raw.hidden_note()
    return raw


_MERGE_REF = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
# A cell holding an Excel error (a formula's #DIV/0!, #N/A): its reference and the error.
_ERROR_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?\bt="e"[^>]*>(?:(?!</c>).)*?<v>([^<]*)</v>', re.S)


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


@dataclass(frozen=True)
class _SheetCells:
    """What a sheet's XML says beyond its values: cells merged down a column (first row, last row,
    column; 0-based as the sheet's grid) and cells holding Excel errors (reference, error)."""

    merged: tuple[tuple[int, int, int], ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    hidden: bool = False  # hidden in the workbook (a dropdown's list of choices, an old copy)


def _sheet_cells(content: bytes) -> dict[str, _SheetCells]:
    """Per sheet name, its merged cells and error cells, read from the sheets' XML: the merges
    follow the cells (a 17 MB sheet is scanned in 0.04 s; calamine's own list parses the whole sheet
    again), and errors, which the reader gives as empty cells, are looked for only in a sheet that
    has one."""
    from xml.etree import ElementTree

    relation = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        try:
            book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            links = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        except (KeyError, ElementTree.ParseError):
            return {}
        targets = {link.get("Id"): link.get("Target", "").lstrip("/") for link in links}
        members = set(archive.namelist())
        found = {}
        for sheet in book.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"):
            target = targets.get(sheet.get(relation), "")
            member = target if target.startswith("xl/") else f"xl/{target}"
            if member not in members:
                continue
            xml = archive.read(member)
            refs = _MERGE_REF.findall(xml, max(xml.rfind(b"</sheetData>"), 0))
            errors = _ERROR_CELL.findall(xml) if b't="e"' in xml else []
            found[sheet.get("name")] = _SheetCells(
                tuple((int(r0) - 1, int(r1) - 1, _column_index(c0)) for c0, r0, c1, r1 in refs
                      if c0 == c1 and int(r1) > int(r0)),
                tuple((ref.decode(), error.decode(errors="replace")) for ref, error in errors),
                hidden=sheet.get("state") in {"hidden", "veryHidden"})
    return found


def _marked(frame: pd.DataFrame, cells: _SheetCells | None) -> pd.DataFrame:
    """``frame`` with its merged cells filled (:func:`_fill_merged`) and its error cells in
    ``attrs["excel_errors"]`` (said when the table is read)."""
    if cells is None:
        return frame
    frame = _fill_merged(frame, cells.merged)
    if cells.errors:
        frame.attrs["excel_errors"] = list(cells.errors)
    return frame


def _fill_merged(frame: pd.DataFrame, merged: list[tuple[int, int, int]]) -> pd.DataFrame:
    """``frame`` (read with the sheet's first row as its header) with each cell merged down a
    column holding its value on every row it spans, as the spreadsheet shows it. Only merges that
    start on a row holding a number (a data row: a merged cell in the column names' rows, 'Patient'
    over two header rows, is a name, joined by :func:`_joined_header`)."""
    if not merged:
        return frame
    frame, filled = frame.copy(), []
    for first, last, column in merged:
        top = first - 1  # the sheet's row 0 holds the column names
        if top < 0 or column >= frame.shape[1] or not any(_is_number(x) for x in frame.iloc[top]):
            continue
        frame.iloc[top + 1:last, column] = frame.iat[top, column]
        filled.append(column)
    if filled:
        frame.attrs["merged_columns"] = sorted(set(filled))  # positions: the names may be below a title
    return frame


def converted_table(frame: pd.DataFrame, table: str, name: str, origins: RowOrigins) -> RawTable:
    """A converted table (a reader's ratings or infusions, a workbook's sheets stacked) as
    validation reads it: rows numbered by position, named by ``origins``."""
    raw = read_table(frame, table)
    raw.name, raw.kind, raw.origins = name, "converted", origins
    return raw


def sheet_table(raw: RawTable, sheet: str, table: str) -> RawTable:
    """One named sheet of a workbook already read, as its own table."""
    return _finish(RawTable(raw.sheets[sheet].copy(), f"sheet {sheet!r} of {raw.name}", "xlsx"), table)


def _decode(content: bytes) -> tuple[str, bytes]:
    """(encoding name, UTF-8 bytes): UTF-8 (BOM stripped) when valid, else Windows-1252/Latin-1."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", content.decode("utf-16").encode("utf-8")
    if content.isascii():
        return "ascii", content
    try:
        content.decode("utf-8")
        return "utf-8", content
    except UnicodeDecodeError:
        pass
    try:
        return "cp1252", content.decode("cp1252").encode("utf-8")
    except UnicodeDecodeError:
        return "latin-1", content.decode("latin-1").encode("utf-8")


def _header_fields(text: str) -> tuple[str, list[str]]:
    """The delimiter (the most frequent candidate in the first line) and the header fields."""
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    try:
        fields = next(csv.reader([first_line], delimiter=delimiter), [])
    except csv.Error:
        fields = first_line.split(delimiter)
    return delimiter, fields


def _irregular_lines(text: str, delimiter: str, expected: int, limit: int = 10) -> list[int]:
    """Line numbers (1 = the header line) of records whose number of values differs from
    ``expected``; used only to word an error, when Arrow does not give the line."""
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            if record and len(record) != expected:
                lines.append(start)
                if len(lines) >= limit:
                    break
            start = reader.line_num + 1
    except csv.Error:
        lines.append(start)
    return lines


def _read_text(content: bytes, name: str, table: str, number_columns: frozenset[str]) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sample = content[:65536]
    if b"\x00" in sample:
        raise _fail(f"{name} is a binary file, not a text table. Export the data as CSV, Excel "
                    "(.xlsx) or Parquet.", table, name)
    encoding, utf8 = _decode(content)
    head_text = utf8[:65536].decode("utf-8", errors="replace")
    start = head_text.lstrip().lower()
    for magic, what in _TEXT_MAGIC:
        if start.startswith(magic):
            raise _fail(f"{name} is {what}, not a table. Export the data as CSV, Excel (.xlsx) or Parquet.",
                        table, name)
    titles = _title_lines(head_text)
    if titles:
        ends = [m.end() for m in re.finditer(rb"\r\n|\r|\n", utf8[:65536])]
        utf8 = utf8[ends[titles - 1]:]
        head_text = utf8[:65536].decode("utf-8", errors="replace")
    delimiter, fields = _header_fields(head_text)
    if not any(f.strip() for f in fields):
        raise _fail(f"{name}: the first line should hold the column names, but it is empty.",
                    table, name)
    decimal_comma = delimiter == ";"
    text_type = pa.dictionary(pa.int32(), pa.string())
    column_types = {f: text_type for f in fields if f.strip().lower() not in number_columns}
    invalid: list[tuple[int | None, int, int]] = []

    def on_invalid_row(row: Any) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        arrow = pacsv.read_csv(
            pa.py_buffer(utf8),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid as error:
        # Arrow's message may quote the offending line: never echo data, only its shape.
        detail = str(error).split(":", 1)[0].replace("CSV parse error", "the text could not be split "
                                                     "into columns")
        raise _fail(f"{name} cannot be read as a {_DELIMITER_NAMES[delimiter]}-separated table: "
                    f"{detail}.", table, name) from None
    if invalid:
        numbers = sorted(n for n, _, _ in invalid if n is not None) or \
            _irregular_lines(utf8.decode("utf-8", errors="replace"), delimiter, invalid[0][1])
        where = f" (lines {', '.join(map(str, numbers[:10]))})" if numbers else ""
        expected = invalid[0][1]
        raise _fail(f"{len(invalid)} line(s){where} of {name} have a different number of values than the "
                    f"{expected} column names in the first line (file read as "
                    f"{_DELIMITER_NAMES[delimiter]}-separated, {encoding}).", table, name,
                    headline=f"{name} is not a regular table.")
    frame = _arrow_to_pandas(arrow)
    if titles:
        frame.attrs["title_rows"] = titles
    raw = RawTable(frame, name, "csv", decimal_comma=decimal_comma)
    if encoding in {"cp1252", "latin-1"}:
        raw.notes.append(f"{name} was read as {encoding} text (not UTF-8)")
    if decimal_comma:
        raw.notes.append(f"{name} was read as semicolon-separated with decimal commas (European Excel)")
    return raw
