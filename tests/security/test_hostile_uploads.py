"""Hostile files, generated at test time, each answered in words within seconds by the upload
worker, while the server process stays responsive and small.

A bystander thread in this (the "server") process ticks every 50 ms while each file is read: a
gap over 1 s would mean the reading held this process. Its memory (VmHWM growth) must stay under
the stated cap: the reading happens in the worker, whose own limits stop it.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from analysis.contract import DataError
from dashboard.upload_worker import UploadLimits, read_upload

SERVER_GROWTH_CAP_MB = 300  # the server process may grow by at most this while reading
ANSWER_WITHIN_S = 30


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _xlsx(sheet_xml: bytes, shared: bytes | None = None) -> bytes:
    """A minimal workbook around one sheet's XML (written directly: openpyxl would need the
    gigabyte in memory to write it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        archive.writestr("xl/workbook.xml", '<workbook><sheets><sheet name="data" sheetId="1"/></sheets></workbook>')
        if shared is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as stream:
                stream.write(b"<sst><si><t>")
                for _ in range(len(shared) // 2**20 or 1):
                    stream.write(shared[: 2**20])
                stream.write(b"</t></si></sst>")
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return buffer.getvalue()


def _huge_cell_xlsx() -> bytes:
    return _xlsx(b'<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>',
                 shared=b"A" * (256 * 2**20))


def _million_row_xlsx() -> bytes:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(1, 1_000_002))
    return _xlsx(b'<worksheet><dimension ref="A1:A1000001"/><sheetData>' + rows + b"</sheetData></worksheet>")


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("visits.csv", "w", force_zip64=True) as stream:
        zeros = b"0" * 2**20
        for _ in range(320):  # 320 MB of zeros, 0.3 MB compressed
            stream.write(zeros)
    return buffer.getvalue()


def _many_columns_csv() -> bytes:
    header = ",".join(f"c{i}" for i in range(1_000_000)).encode()
    return header + b"\n" + b",".join([b"1"] * 1000) + b"\n"


def _huge_cell_parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"patient_id": ["p1"], "note": ["x" * (64 * 2**20)]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _binary_junk() -> bytes:
    return np.random.default_rng(1).integers(0, 256, 2**20, dtype=np.uint8).tobytes()


def _overflowing_integers() -> bytes:
    frame = pd.DataFrame({"patient_id": ["p1", "p1"], "time_hours": [-1, 24], "instrument": ["MADRS"] * 2,
                          "score": [30, 12], "infusion_number": ["1", str(2**63 + 5)]})
    return frame.to_csv(index=False).encode()


def _formula_and_markup_ids() -> bytes:
    frame = pd.DataFrame({"patient_id": ["=HYPERLINK(\"http://evil\")", "[x](http://evil.example)", "<img src=x>"],
                          "time_hours": [-1, -1, -1], "instrument": ["MADRS"] * 3, "score": [30, 28, 31]})
    return frame.to_csv(index=False).encode()


HOSTILE = {
    "huge_cell.xlsx": (_huge_cell_xlsx, "too large"),
    "million_rows.xlsx": (_million_row_xlsx, "too large"),
    "bomb.zip": (_zip_bomb, "too large"),
    "columns.csv": (_many_columns_csv, "too large"),
    "huge_cell.parquet": (_huge_cell_parquet, "too large"),
    "junk.csv": (_binary_junk, ""),
    "overflow.csv": (_overflowing_integers, "row"),
    # valid data: the ids are kept verbatim (the pages show them only through escaping widgets)
    "markup_ids.csv": (_formula_and_markup_ids, "loaded 3 patients"),
}


class _Bystander:
    """Ticks every 50 ms; records the longest gap (a held GIL or a swapped process shows)."""

    def __init__(self) -> None:
        self.longest_gap_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def _tick(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(0.05):
            now = time.perf_counter()
            self.longest_gap_s = max(self.longest_gap_s, now - last)
            last = now

    def __enter__(self) -> _Bystander:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_is_answered_in_words(name):
    make, expected = HOSTILE[name]
    content = make()
    before_mb = _peak_rss_mb()
    with _Bystander() as bystander:
        start = time.perf_counter()
        try:
            data = read_upload([(name, content)])
        except DataError as error:
            answer = str(error)
        else:
            answer = f"loaded {data.n_patients} patients"
        elapsed = time.perf_counter() - start
    del content
    assert elapsed < ANSWER_WITHIN_S, f"{name}: answered after {elapsed:.1f} s"
    assert bystander.longest_gap_s < 1.0, f"{name}: the server process stalled {bystander.longest_gap_s:.2f} s"
    growth = _peak_rss_mb() - before_mb
    assert growth < SERVER_GROWTH_CAP_MB + 0, f"{name}: server process grew {growth:.0f} MB"
    assert expected in answer, answer
    if not answer.startswith("loaded"):  # in words: a sentence, not an exception type alone
        assert len(answer.split()) >= 5, answer


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("INFUSION_OUTCOMES_MAX_ROWS", "10")
    monkeypatch.setenv("INFUSION_OUTCOMES_UPLOAD_TIMEOUT_S", "5")
    limits = UploadLimits.from_env()
    assert limits.max_rows == 10 and limits.timeout_s == 5.0
    rows = "patient_id,time_hours,instrument,score\n" + "".join(f"p{i},0,MADRS,20\n" for i in range(20))
    with pytest.raises(DataError, match="20 lines"):
        read_upload([("rows.csv", rows.encode())], limits=limits)
    monkeypatch.setenv("INFUSION_OUTCOMES_MAX_ROWS", "many")
    with pytest.raises(ValueError, match="INFUSION_OUTCOMES_MAX_ROWS"):
        UploadLimits.from_env()


def test_memory_and_time_limits_stop_the_worker():
    """A file that passes the metadata checks but needs more than the memory budget, and one
    that needs more than the wall time, are stopped and said so."""
    rows = 200_000
    frame = pd.DataFrame({"patient_id": [f"p{i % 5000}" for i in range(rows)], "time_hours": np.arange(rows) % 500,
                          "instrument": "MADRS", "score": 20})
    content = frame.to_csv(index=False).encode()
    tight = UploadLimits(memory_mb=40)
    with pytest.raises(DataError, match="memory"):
        read_upload([("big.csv", content)], limits=tight)
    hurried = UploadLimits(timeout_s=0.5)
    start = time.perf_counter()
    with pytest.raises(DataError, match="took longer than 0.5 s"):
        read_upload([("big.csv", content)], limits=hurried)
    assert time.perf_counter() - start < 10


def test_a_valid_file_loads_through_the_worker():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data/sample/single_file.csv"
    data = read_upload([(path.name, path.read_bytes())])
    assert data.n_patients == 300
