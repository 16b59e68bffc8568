"""The hostile file corpus, generated at test time (nothing big is committed)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd


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
