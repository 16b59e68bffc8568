"""Uploaded files as the loader reads them: one file, several files or a zipped folder.

No Streamlit here: the Data page hands over what ``st.file_uploader`` returned (objects with
``.name`` and ``.getvalue()``), gets back an :class:`Upload` (names and bytes, zip archives
unpacked) and reads it through :func:`as_source`, which gives the loader one file-like object,
the table form's files by table, or a temporary folder holding the files.

Zip archives are unpacked in memory with bounds (number of members, total unpacked size, no
nested archives), so that a small archive cannot expand into gigabytes. File names are shown
to users only through escaping widgets: they are user-controlled text.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from analysis.contract import DataError, problems_frame

__all__ = ["MAX_ARCHIVE_MEMBERS", "MAX_UNPACKED_BYTES", "Upload", "UploadedTable", "as_source", "collect"]

MAX_ARCHIVE_MEMBERS = 200
MAX_UNPACKED_BYTES = 512 * 1024 * 1024  # all members of all archives together, unpacked
TABLE_ROLES = ("assessments", "infusions", "patients", "events")
_SKIPPED_PARTS = ("__MACOSX",)


@dataclass(frozen=True)
class UploadedTable:
    """One uploaded file (or one member of an uploaded zip archive)."""

    name: str
    content: bytes
    table: str | None = None  # the table form's table the user chose to read it as

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem.lower()

    @property
    def role(self) -> str | None:
        """The table form's table it is read as: the one chosen, else the one its name says."""
        return self.table or (self.stem if self.stem in TABLE_ROLES else None)


@dataclass(frozen=True)
class Upload:
    """What the user uploaded, zip archives unpacked; ``notes`` say what was skipped."""

    files: tuple[UploadedTable, ...]
    notes: tuple[str, ...] = ()

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the names and contents (the cache key of everything read from it)."""
        digest = hashlib.sha256()
        for file in self.files:
            digest.update(file.name.encode("utf-8", errors="replace"))
            digest.update(f"\0{file.table or ''}\0".encode())
            digest.update(len(file.content).to_bytes(8, "little"))
            digest.update(file.content)
        return digest.hexdigest()

    @property
    def names(self) -> list[str]:
        return [file.name for file in self.files]

    def with_table_names(self, tables: dict[str, str]) -> Upload:
        """The same files, some to be read as the table form's ``assessments``/``infusions``/
        ``patients``/``events`` (file name -> table), so that differently named files read as the
        table form; they keep their names, which the loader's messages give."""
        return Upload(tuple(UploadedTable(f.name, f.content, tables[f.name]) if tables.get(f.name) in TABLE_ROLES
                            else f for f in self.files), self.notes)

    @property
    def table_form(self) -> dict[str, UploadedTable]:
        """Table -> file, when several files are read as the table form (one of them is the
        assessments table, by its name or by choice); else empty."""
        tables = {f.role: f for f in self.files if f.role is not None}
        return tables if len(self.files) > 1 and "assessments" in tables else {}


def _problem(message: str, headline: str) -> DataError:
    return DataError(problems_frame([{"table": "file", "row": pd.NA, "column": "", "value": "",
                                      "message": message}]), headline=headline)


def _is_archive(content: bytes) -> bool:
    """A zip archive that is not an Excel workbook (an .xlsx is a zip too)."""
    if not content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "xl/workbook.xml" not in archive.namelist()
    except zipfile.BadZipFile:
        return False  # the reader says the file is damaged


def _safe_name(name: str) -> str:
    """The last part of a path, with characters a file system may refuse replaced."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f<>:\"|?*]", "_", base).strip(" .")
    return base or "table"


def _unpack(name: str, content: bytes, budget: list[int]) -> tuple[list[UploadedTable], list[str]]:
    """The files inside a zip archive (folders flattened), within the unpacked-size budget."""
    tables: list[UploadedTable] = []
    skipped: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise _problem(f"{name} looks like a zip archive but is damaged.", f"{name} cannot be read.") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise _problem(f"{name} holds {len(members)} files; at most {MAX_ARCHIVE_MEMBERS} can be read "
                           "from one archive. Zip only the data tables.", f"{name} cannot be read.")
        for member in members:
            parts = PurePosixPath(member.filename.replace("\\", "/")).parts
            if any(p in _SKIPPED_PARTS or p.startswith(".") for p in parts):
                continue  # Finder and editor metadata, not data
            if member.flag_bits & 0x1:
                raise _problem(f"{name} is password-protected; upload the files unencrypted.",
                               f"{name} cannot be read.")
            with archive.open(member) as stream:
                # Read at most the remaining budget + 1 byte: sizes in the archive may lie.
                data = stream.read(budget[0] + 1)
            if len(data) > budget[0]:
                raise _problem(f"{name} unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB; upload the "
                               "tables without the archive, or fewer of them.", f"{name} is too large.")
            budget[0] -= len(data)
            if _is_archive(data):
                skipped.append(f"{parts[-1]} (an archive inside the archive)")
                continue
            tables.append(UploadedTable(_safe_name(member.filename), data))
    if not tables:
        raise _problem(f"{name} holds no data files.", f"{name} cannot be read.")
    return tables, skipped


def collect(uploads: Sequence[Any]) -> Upload:
    """Names and bytes of the uploaded files, zip archives unpacked (their folders flattened).

    Raises DataError (in words) for a damaged, encrypted or oversized archive, or when two
    files would have the same name.
    """
    files: list[UploadedTable] = []
    notes: list[str] = []
    budget = [MAX_UNPACKED_BYTES]
    for upload in uploads:
        name = _safe_name(getattr(upload, "name", "") or "upload")
        content = bytes(upload.getvalue())
        if _is_archive(content):
            tables, skipped = _unpack(name, content, budget)
            files.extend(tables)
            notes.append(f"{name}: {len(tables)} file(s) read from the archive"
                         + (f"; skipped {', '.join(skipped)}" if skipped else "") + ".")
        else:
            files.append(UploadedTable(name, content))
    seen: dict[str, int] = {}
    for file in files:
        seen[file.name.lower()] = seen.get(file.name.lower(), 0) + 1
    twice = sorted(n for n, count in seen.items() if count > 1)
    if twice:
        raise _problem(f"More than one uploaded file is called {', '.join(map(repr, twice))} (folders inside "
                       "a zip archive are flattened). Rename them so that every file name is distinct.",
                       "The files cannot be read together.")
    return Upload(tuple(files), tuple(notes))


class _NamedBytes(io.BytesIO):
    """Bytes with a file name, as the loader expects from an upload."""

    def __init__(self, content: bytes, name: str):
        super().__init__(content)
        self.name = name


@contextmanager
def as_source(upload: Upload) -> Iterator[Any]:
    """What the loader reads: the file itself when there is one; for the table form, table ->
    file (``analysis.load(**source)``: each file keeps its name in messages); otherwise a temporary
    folder holding all files (removed afterwards)."""
    if len(upload.files) == 1:
        only = upload.files[0]
        yield _NamedBytes(only.content, only.name)
        return
    if upload.table_form:
        yield {table: _NamedBytes(file.content, file.name) for table, file in upload.table_form.items()}
        return
    with tempfile.TemporaryDirectory(prefix="upload-") as folder:
        for file in upload.files:
            (Path(folder) / file.name).write_bytes(file.content)
        yield Path(folder)
