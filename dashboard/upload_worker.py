"""Read uploaded files in a separate, limited worker process (never in the server process).

A file a browser sends is untrusted: a 1 MB workbook can hold a 1 GiB cell, a 10 MB CSV a
million columns. Each upload is read by a fresh interpreter (``python -m dashboard.upload_worker``,
about 1 s to start), which

1. checks the container's own metadata *before* reading any data: the zip central directory of
   an ``.xlsx`` (declared sizes and compression ratio of every member, the size of the shared
   strings and of each sheet, rows and cells counted in the sheet XML, no text run longer than
   the cell limit), the Parquet footer (its size, row groups, columns and uncompressed bytes),
   and for text files the header's column count, the line count and the longest text between
   delimiters;
2. runs :func:`analysis.load` under an address-space limit (``RLIMIT_AS``, set after the readers
   are imported) and a CPU-time limit, while the server waits at most the wall-time limit and
   then kills it;
3. sends back the validated ``OutcomeData`` or the problems in words.

Every limit is configurable with an environment variable (see :class:`UploadLimits` and the
README's Security section); at most ``INFUSION_OUTCOMES_UPLOAD_WORKERS`` uploads are read at the
same time, so other sessions keep their share of the machine.

Use from a page::

    from dashboard.upload_worker import read_upload
    data = read_upload([(file.name, file.getvalue())], mapping_json=None, hints={})

Exceeding a limit, a broken file or a crash of the worker all raise ``analysis.DataError``
with a headline that says what happened and what to do.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import resource
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from analysis.contract import DataError, OutcomeData, problems_frame

__all__ = ["UploadLimits", "check_file", "collect_within_limits", "read_upload", "suggest_upload_mapping"]

_DELIMITERS = (b",", b";", b"\t", b"|")


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number; unset it or give a number such as {default:g}.") \
            from None
    if value <= 0:
        raise ValueError(f"{name}={text!r} must be positive.")
    return value


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may cost. Each field is read from the environment variable in its
    metadata comment (``INFUSION_OUTCOMES_<NAME>``); the defaults suit a 2-core, 4 GB server."""

    max_upload_mb: float = 50.0          # INFUSION_OUTCOMES_MAX_UPLOAD_MB: bytes of all files of one upload
    max_decompressed_mb: float = 200.0   # INFUSION_OUTCOMES_MAX_DECOMPRESSED_MB: xlsx members / Parquet data
    max_compression_ratio: float = 100.0  # INFUSION_OUTCOMES_MAX_COMPRESSION_RATIO: per zip member
    max_rows: int = 500_000              # INFUSION_OUTCOMES_MAX_ROWS: data rows of one table
    max_columns: int = 500               # INFUSION_OUTCOMES_MAX_COLUMNS: columns of one table
    max_cells: int = 10_000_000          # INFUSION_OUTCOMES_MAX_CELLS: rows x columns of one table
    max_cell_chars: int = 10_000         # INFUSION_OUTCOMES_MAX_CELL_CHARS: characters of one cell
    timeout_s: float = 60.0              # INFUSION_OUTCOMES_UPLOAD_TIMEOUT_S: wall time of the worker
    memory_mb: float = 1024.0            # INFUSION_OUTCOMES_UPLOAD_MEMORY_MB: address space beyond start-up
    workers: int = 2                     # INFUSION_OUTCOMES_UPLOAD_WORKERS: uploads read at the same time
    queue_wait_s: float = 20.0           # INFUSION_OUTCOMES_UPLOAD_QUEUE_S: wait for a free worker

    @classmethod
    def from_env(cls) -> UploadLimits:
        """The limits with every ``INFUSION_OUTCOMES_*`` variable that is set applied."""
        names = {"timeout_s": "UPLOAD_TIMEOUT_S", "memory_mb": "UPLOAD_MEMORY_MB",
                 "workers": "UPLOAD_WORKERS", "queue_wait_s": "UPLOAD_QUEUE_S"}
        values: dict[str, Any] = {}
        for spec in fields(cls):
            variable = "INFUSION_OUTCOMES_" + names.get(spec.name, spec.name.upper())
            value = _env_number(variable, float(spec.default))
            values[spec.name] = int(value) if isinstance(spec.default, int) else value
        return cls(**values)

    def describe(self) -> list[str]:
        """The limits in words (for the upload page and the README)."""
        return [f"files up to {self.max_upload_mb:g} MB in total",
                f"at most {self.max_decompressed_mb:g} MB once decompressed (Excel, Parquet), "
                f"compression ratio at most {self.max_compression_ratio:g}",
                f"at most {self.max_rows:,} rows, {self.max_columns:,} columns and {self.max_cells:,} "
                "cells per table",
                f"cells up to {self.max_cell_chars:,} characters",
                f"read within {self.timeout_s:g} s using at most {self.memory_mb:g} MB of memory"]


def _refusal(message: str, headline: str, name: str = "", table: str = "file") -> DataError:
    return DataError(problems_frame([{"table": table, "row": pd.NA, "column": "", "value": name,
                                      "message": message}]), headline=headline)


def _too_big(name: str, what: str, limit_text: str, variable: str) -> DataError:
    return _refusal(f"{name} {what}; this server reads at most {limit_text}. Split the file or keep only "
                    f"the columns the analysis needs (an administrator can raise {variable}).",
                    f"{name} is too large for this server.", name)


# --------------------------------------------------------------------------------------------
# Checks on the container's metadata, before any data is read (run inside the worker)


def _check_zip(name: str, content: bytes, limits: UploadLimits) -> None:
    """Declared sizes of an xlsx's members, then a streaming scan of its sheets and strings."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        return  # the reader says "damaged zip" in its own words
    with archive:
        infos = archive.infolist()
        if len(infos) > 10_000:
            raise _too_big(name, f"is a zip archive of {len(infos):,} members", "10,000 members",
                           "nothing: no workbook has that many parts")
        total = sum(info.file_size for info in infos)
        limit = limits.max_decompressed_mb * 2**20
        if total > limit:
            raise _too_big(name, f"decompresses to {total / 2**20:,.0f} MB",
                           f"{limits.max_decompressed_mb:g} MB decompressed", "INFUSION_OUTCOMES_MAX_DECOMPRESSED_MB")
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 2**20 and ratio > limits.max_compression_ratio:
                raise _too_big(name, f"holds a part ({info.filename[:60]!r}) compressed {ratio:,.0f} to 1 "
                               "(a zip bomb, or a workbook of one repeated value)",
                               f"a ratio of {limits.max_compression_ratio:g} to 1",
                               "INFUSION_OUTCOMES_MAX_COMPRESSION_RATIO")
        for info in infos:
            member = info.filename
            is_sheet = member.startswith("xl/worksheets/") and member.endswith(".xml")
            if not (is_sheet or member == "xl/sharedStrings.xml"):
                continue
            rows = cells = 0
            text_run = _LongestRun(_TAG_START)
            # zipfile stops at the declared size, so the scan reads at most the limit checked above
            with archive.open(info) as stream:
                while chunk := stream.read(4 * 2**20):
                    if text_run.feed(chunk) > limits.max_cell_chars + 64:
                        raise _too_big(name, f"has a cell longer than {limits.max_cell_chars:,} characters",
                                       f"{limits.max_cell_chars:,} characters per cell",
                                       "INFUSION_OUTCOMES_MAX_CELL_CHARS")
                    if is_sheet:
                        rows += chunk.count(b"<row")
                        cells += chunk.count(b"<c ") + chunk.count(b"<c>")
            if rows - 1 > limits.max_rows:
                raise _too_big(name, f"has a sheet of {rows:,} rows", f"{limits.max_rows:,} rows",
                               "INFUSION_OUTCOMES_MAX_ROWS")
            if cells > limits.max_cells:
                raise _too_big(name, f"has a sheet of {cells:,} cells", f"{limits.max_cells:,} cells",
                               "INFUSION_OUTCOMES_MAX_CELLS")
            if is_sheet:
                with archive.open(info) as stream:
                    head = stream.read(4096)
                match = re.search(rb'<dimension ref="[A-Z]+\d+:([A-Z]+)\d+"', head)
                if match:
                    columns = 0
                    for letter in match.group(1).decode():
                        columns = columns * 26 + ord(letter) - 64
                    if columns > limits.max_columns:
                        raise _too_big(name, f"has a sheet {columns:,} columns wide",
                                       f"{limits.max_columns:,} columns", "INFUSION_OUTCOMES_MAX_COLUMNS")


def _check_parquet(name: str, content: bytes, limits: UploadLimits) -> None:
    """The footer's length (last 8 bytes), then row groups, columns and uncompressed sizes."""
    if len(content) < 12 or content[-4:] != b"PAR1":
        return  # the reader says it cannot be read
    footer = int.from_bytes(content[-8:-4], "little")
    if footer > min(len(content), 16 * 2**20):
        raise _refusal(f"{name} has a Parquet footer of {footer:,} bytes, larger than the file or than 16 MB.",
                       f"{name} is not a Parquet file this server reads.", name)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(pa.BufferReader(content)).metadata
    except Exception:
        return  # damaged: the reader says so in words
    if meta.num_columns > limits.max_columns:
        raise _too_big(name, f"has {meta.num_columns:,} columns", f"{limits.max_columns:,} columns",
                       "INFUSION_OUTCOMES_MAX_COLUMNS")
    if meta.num_rows > limits.max_rows:
        raise _too_big(name, f"has {meta.num_rows:,} rows", f"{limits.max_rows:,} rows", "INFUSION_OUTCOMES_MAX_ROWS")
    if meta.num_rows * meta.num_columns > limits.max_cells:
        raise _too_big(name, f"has {meta.num_rows * meta.num_columns:,} cells", f"{limits.max_cells:,} cells",
                       "INFUSION_OUTCOMES_MAX_CELLS")
    uncompressed = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        uncompressed += max(int(group.total_byte_size),
                            sum(int(group.column(c).total_uncompressed_size) for c in range(group.num_columns)))
    if uncompressed > limits.max_decompressed_mb * 2**20:
        raise _too_big(name, f"decompresses to {uncompressed / 2**20:,.0f} MB",
                       f"{limits.max_decompressed_mb:g} MB decompressed", "INFUSION_OUTCOMES_MAX_DECOMPRESSED_MB")
    # the longest value bounds the cell length when the writer recorded statistics
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            if column.physical_type == "BYTE_ARRAY" and column.num_values:
                average = column.total_uncompressed_size / column.num_values
                if average > limits.max_cell_chars:
                    raise _too_big(name, f"has cells of {average:,.0f} bytes on average in column "
                                   f"{column.path_in_schema[:60]!r}",
                                   f"{limits.max_cell_chars:,} characters per cell",
                                   "INFUSION_OUTCOMES_MAX_CELL_CHARS")


_FIELD_ENDS = np.zeros(256, dtype=bool)
_FIELD_ENDS[[ord(c) for c in ",;\t|\r\n"]] = True
_TAG_START = np.zeros(256, dtype=bool)
_TAG_START[ord("<")] = True


class _LongestRun:
    """Longest run of bytes between separators over a stream of chunks (vectorised; the
    server's other threads run between chunks)."""

    def __init__(self, separators: np.ndarray):
        self.separators = separators
        self.longest = 0
        self._open = 0  # bytes since the last separator, carried into the next chunk

    def feed(self, chunk: bytes) -> int:
        codes = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(self.separators[codes])
        if len(ends) == 0:
            self._open += len(codes)
        else:
            gaps = np.diff(ends) - 1
            self.longest = max(self.longest, self._open + int(ends[0]),
                               int(gaps.max()) if len(gaps) else 0)
            self._open = len(codes) - int(ends[-1]) - 1
        time.sleep(0)
        return max(self.longest, self._open)


def _longest_field(content: bytes, chunk_size: int = 4 * 2**20) -> int:
    """Length of the longest run of bytes between delimiters or line ends."""
    run = _LongestRun(_FIELD_ENDS)
    longest = 0
    for start in range(0, len(content), chunk_size):
        longest = run.feed(content[start:start + chunk_size])
    return longest


def _check_text(name: str, content: bytes, limits: UploadLimits) -> None:
    """Columns from the header line, rows from the line count, cells from the longest run of
    text between delimiters (quoted delimiters make this an upper bound on the cell count and a
    lower bound on the cell length; the file size bounds both)."""
    end = content.find(b"\n")
    header = content if end < 0 else content[:end]
    columns = max(header.count(d) for d in _DELIMITERS) + 1
    if columns > limits.max_columns:
        raise _too_big(name, f"has {columns:,} columns in its header line", f"{limits.max_columns:,} columns",
                       "INFUSION_OUTCOMES_MAX_COLUMNS")
    rows = content.count(b"\n") + (0 if content.endswith(b"\n") else 1) - 1
    if rows > limits.max_rows:
        raise _too_big(name, f"has {rows:,} lines", f"{limits.max_rows:,} rows", "INFUSION_OUTCOMES_MAX_ROWS")
    if rows * columns > limits.max_cells:
        raise _too_big(name, f"has {rows * columns:,} cells", f"{limits.max_cells:,} cells",
                       "INFUSION_OUTCOMES_MAX_CELLS")
    if _longest_field(content) > limits.max_cell_chars:
        raise _too_big(name, f"has a cell longer than {limits.max_cell_chars:,} characters",
                       f"{limits.max_cell_chars:,} characters per cell", "INFUSION_OUTCOMES_MAX_CELL_CHARS")


def check_file(name: str, content: bytes, limits: UploadLimits) -> None:
    """Refuse a file whose container metadata exceeds a limit (raises DataError); reads no data.
    The format is taken from the first bytes, as analysis.readers does."""
    if content.startswith(b"PAR1"):
        _check_parquet(name, content, limits)
    elif content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _check_zip(name, content, limits)
    elif b"\x00" not in content[:4096]:
        _check_text(name, content, limits)


# --------------------------------------------------------------------------------------------
# The worker process


class _Uploaded:
    """An upload as ``dashboard.uploads.collect`` expects it: a name and ``getvalue()``."""

    def __init__(self, name: str, content: bytes):
        self.name = name
        self._content = content

    def getvalue(self) -> bytes:
        return self._content


def _label(files: Sequence[tuple[str, bytes]]) -> str:
    return files[0][0] if len(files) == 1 else "This upload"


def _check_total(files: Sequence[tuple[str, bytes]], limits: UploadLimits) -> None:
    total = sum(len(content) for _, content in files)
    if total > limits.max_upload_mb * 2**20:
        raise _too_big(_label(files), f"is {total / 2**20:,.1f} MB", f"{limits.max_upload_mb:g} MB per upload",
                       "INFUSION_OUTCOMES_MAX_UPLOAD_MB")


def collect_within_limits(files: Sequence[tuple[str, bytes]], limits: UploadLimits) -> Any:
    """``dashboard.uploads.collect`` of ``(name, content)`` pairs with the limits applied: the
    total size, every file's container metadata (:func:`check_file`), then each member unpacked
    from an archive; reads no table data. Returns the ``Upload``; raises DataError in words."""
    from dashboard.uploads import collect

    _check_total(files, limits)
    for name, content in files:
        check_file(name, content, limits)
    upload = collect([_Uploaded(name, content) for name, content in files])
    unpacked = {(f.name, len(f.content)) for f in upload.files} - {(n, len(c)) for n, c in files}
    for file in upload.files:
        if (file.name, len(file.content)) in unpacked:
            check_file(file.name, file.content, limits)
    return upload


def _collect(files: Sequence[tuple[str, bytes]], tables: Mapping[str, str] | None, limits: UploadLimits) -> Any:
    upload = collect_within_limits(files, limits)
    return upload.with_table_names(dict(tables)) if tables else upload


def _load(files: Sequence[tuple[str, bytes]], tables: Mapping[str, str] | None, mapping_json: str | None,
          hints: Mapping[str, Any], limits: UploadLimits) -> Any:
    import analysis
    from dashboard.uploads import as_source

    options = dict(hints)
    if mapping_json:
        options["mapping"] = analysis.Mapping.from_json(mapping_json)
    with as_source(_collect(files, tables, limits)) as source:
        return analysis.load(**source, **options) if isinstance(source, dict) else analysis.load(source, **options)


def _suggest(files: Sequence[tuple[str, bytes]], tables: Mapping[str, str] | None, mapping_json: str | None,
             hints: Mapping[str, Any], limits: UploadLimits) -> Any:
    import analysis
    from dashboard.uploads import as_source

    with as_source(_collect(files, tables, limits)) as source:
        ratings = source["assessments"] if isinstance(source, dict) else source  # the table form's mapping reads them
        return analysis.suggest_mapping(ratings, **dict(hints)).to_json()


def _outline(files: Sequence[tuple[str, bytes]], tables: Mapping[str, str] | None, mapping_json: str | None,
             hints: Mapping[str, Any], limits: UploadLimits) -> Any:
    from analysis.loading.reading import read_source_frames
    from dashboard.source_outline import outline_table
    from dashboard.uploads import as_source

    with as_source(_collect(files, tables, limits)) as source:
        if isinstance(source, dict):  # the table form: each table's file
            frames = {table: read_source_frames(file, sheet=hints.get("sheet"))["file"]
                      for table, file in source.items()}
        else:
            frames = read_source_frames(source, sheet=hints.get("sheet"))
    return {name: outline_table(frame) for name, frame in frames.items()}


_TASKS = {"load": _load, "suggest": _suggest, "outline": _outline}


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _worker_main() -> None:
    """``python -m dashboard.upload_worker``: a request pickled on stdin, the outcome on stdout.
    The readers are imported first, then the limits set, then the request read."""
    import openpyxl  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import analysis.loading  # noqa: F401 - imported before the memory limit: not the upload's cost

    request = pickle.loads(sys.stdin.buffer.read())
    task, files, tables, mapping_json, hints, limits = request
    budget = int(limits.memory_mb * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + budget,) * 2)
    cpu = int(limits.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        outcome: tuple[str, Any] = ("ok", _TASKS[task](files, tables, mapping_json, hints, limits))
    except DataError as error:
        outcome = ("data_error", (error.headline, error.problems))
    except MemoryError:
        outcome = ("memory", None)
    except Exception as error:
        outcome = ("failed", type(error).__name__)
    try:
        payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        payload = pickle.dumps(("memory", None))
    sys.stdout.buffer.write(payload)
    sys.stdout.buffer.flush()


_SLOTS_LOCK = threading.Lock()
_SLOTS: dict[int, threading.BoundedSemaphore] = {}
ROOT = Path(__file__).resolve().parent.parent


def _slots(workers: int) -> threading.BoundedSemaphore:
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(workers, threading.BoundedSemaphore(max(1, workers)))


def _run(task: str, files: Sequence[tuple[str, bytes]], tables: Mapping[str, str] | None, mapping_json: str | None,
         hints: Mapping[str, Any] | None, limits: UploadLimits | None) -> Any:
    limits = limits or UploadLimits.from_env()
    files = [(PurePath(str(name)).name[:200] or "the uploaded file", bytes(content)) for name, content in files]
    if not files:
        raise _refusal("No file was given.", "Nothing to read.")
    label = _label(files)
    _check_total(files, limits)
    request = pickle.dumps((task, files, dict(tables) if tables else None, mapping_json, dict(hints or {}), limits),
                           protocol=pickle.HIGHEST_PROTOCOL)
    slots = _slots(limits.workers)
    if not slots.acquire(timeout=limits.queue_wait_s):
        raise _refusal("Other files are being read on this server right now.",
                       "The server is busy reading other uploads: try again in a minute.", label)
    timed_out = False
    try:
        # a fresh interpreter per upload: nothing of one upload survives into the next, and a
        # crash or a kill takes nothing else with it
        worker = subprocess.Popen([sys.executable, "-m", "dashboard.upload_worker"], cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            payload, _ = worker.communicate(request, timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            payload = b""
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(10)
    finally:
        slots.release()
    if timed_out:
        raise _refusal(f"Reading {label} took longer than {limits.timeout_s:g} s and was stopped.",
                       f"{label} takes too long to read on this server: split it or keep fewer rows "
                       "(an administrator can raise INFUSION_OUTCOMES_UPLOAD_TIMEOUT_S).", label)
    if not payload:
        raise _refusal(f"The reader stopped (exit code {worker.returncode}) while reading {label}, most likely "
                       f"because it needed more than {limits.memory_mb:g} MB of memory or "
                       f"{limits.timeout_s:g} s of processor time.",
                       f"{label} needs more memory or time than this server allows for one upload.", label)
    kind, value = pickle.loads(payload)
    if kind == "ok":
        return value
    if kind == "data_error":
        headline, problems = value
        raise DataError(problems, headline=headline)
    if kind == "memory":
        raise _refusal(f"Reading {label} needed more than {limits.memory_mb:g} MB of memory and was stopped.",
                       f"{label} needs more memory than this server allows for one upload: split it or keep "
                       "fewer columns (an administrator can raise INFUSION_OUTCOMES_UPLOAD_MEMORY_MB).", label)
    raise _refusal(f"The reader failed on {label} ({value}).",
                   f"{label} could not be read. Check that it is a CSV, Excel or Parquet table.", label)


def read_upload(files: Sequence[tuple[str, bytes]], mapping_json: str | None = None,
                hints: Mapping[str, Any] | None = None, *, tables: Mapping[str, str] | None = None,
                limits: UploadLimits | None = None) -> OutcomeData:
    """Load and validate uploaded files in a limited worker process.

    Parameters
    ----------
    files : ``(file name, content)`` pairs as uploaded (``(f.name, f.getvalue())`` of each
        ``st.file_uploader`` result), zip archives included: the worker unpacks them with
        ``dashboard.uploads.collect`` and reads the result as ``dashboard.uploads.as_source``
        gives it to the loader (one file, the table form's files by table, or a folder of files).
    mapping_json : a saved ``analysis.Mapping`` as JSON (``Mapping.to_json()``), or None to let
        ``analysis.load`` suggest one.
    hints : keyword hints of ``analysis.load`` (``instrument="MADRS"``, ``time_unit="weeks"``,
        ``sheet=...``); plain picklable values only.
    tables : file name -> ``assessments``/``infusions``/``patients``, as
        ``dashboard.uploads.Upload.with_table_names`` takes it.
    limits : the limits to apply (default ``UploadLimits.from_env()``).

    Returns
    -------
    The validated OutcomeData, as ``analysis.load`` returns it.

    Raises
    ------
    DataError : problems of the data (as ``analysis.load`` reports them), a limit exceeded
        (headline "... is too large for this server."), a read that took too long or needed
        too much memory, a reader crash, or a busy server; every headline says what to do.
        Typically answers within 1-2 s (a fresh interpreter starts in about 1 s).
    """
    return _run("load", files, tables, mapping_json, hints, limits)


def suggest_upload_mapping(files: Sequence[tuple[str, bytes]], hints: Mapping[str, Any] | None = None, *,
                           tables: Mapping[str, str] | None = None, limits: UploadLimits | None = None) -> str:
    """``analysis.suggest_mapping`` of the uploaded files, run in the limited worker; returns the
    mapping as JSON (``analysis.Mapping.from_json`` turns it back into a Mapping). Raises
    DataError as :func:`read_upload` does."""
    return _run("suggest", files, tables, None, hints, limits)


def outline_upload(files: Sequence[tuple[str, bytes]], sheet: str | int | None = None, *,
                   tables: Mapping[str, str] | None = None, limits: UploadLimits | None = None) -> dict[str, Any]:
    """What the mapping step shows of the uploaded tables (name ->
    :class:`dashboard.source_outline.TableOutline`: columns, first labels, identifier verdicts),
    read in the limited worker; raises DataError as :func:`read_upload` does."""
    return _run("outline", files, tables, None, {"sheet": sheet} if sheet is not None else None, limits)


if __name__ == "__main__":
    _worker_main()
