"""A vectorised reader for SAS transport files, version 5 (the FDA submission format of CDISC data).

pyreadstat reads XPORT correctly but one value at a time (about 20 s for 2 million rows of an
SDTM QS dataset here); this reader decodes whole columns with numpy: IBM hexadecimal floats are
converted to IEEE doubles with integer operations (so 0 stays exactly 0, unlike pandas' SAS
reader, pandas issue 50670), SAS missing values (``.``, ``.A``-``.Z``, ``._``) become NaN, and
text is decoded once per distinct value. Text columns come back as pandas categoricals of the
values with trailing blanks removed (a blank value is ``""``, as pyreadstat gives it); numeric
columns with a SAS date or datetime format become ``datetime64``. Labels, formats and the
dataset name are kept in ``frame.attrs`` (``labels``, ``formats``, ``table_name``, ``file_label``).
Version 8 files and ``.sas7bdat`` are read by pyreadstat (:func:`analysis.cdisc.read_dataset`).

Reference: SAS Institute, "The Record Layout of a Data Set in SAS Transport (XPORT) Format",
Technical Support document TS-140; IBM System/360 Principles of Operation (hexadecimal floating
point: sign bit, 7-bit base-16 exponent biased by 64, 56-bit fraction).
"""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd

__all__ = ["is_xport_v5", "read_xport_v5"]

_RECORD = 80
_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_NAMESTR = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
_OBS = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"
# Numeric formats holding days since 1960-01-01, and seconds since 1960-01-01 00:00.
_DATE_FORMATS = re.compile(r"^(?:DATE|YYMMDD|MMDDYY|DDMMYY|E8601DA|IS8601DA|B8601DA|WEEKDATE|MONYY|NLDATE)")
_DATETIME_FORMATS = re.compile(r"^(?:DATETIME|E8601DT|IS8601DT|B8601DT|DTDATE)")
_SAS_EPOCH = np.datetime64("1960-01-01T00:00:00", "s")
_MISSING_FIRST_BYTE = np.zeros(256, dtype=bool)  # '.', '_' and 'A'-'Z': SAS missing values
_MISSING_FIRST_BYTE[[0x2E, 0x5F, *range(0x41, 0x5B)]] = True


def is_xport_v5(head: bytes) -> bool:
    """True when the first bytes of a file are a SAS XPORT version 5 library header."""
    return head.startswith(_LIBRARY)


def _ibm_to_ieee(words: np.ndarray) -> np.ndarray:
    """Big-endian IBM doubles (as uint64) -> float64; SAS missing values -> NaN."""
    sign = (words >> np.uint64(63)).astype(bool)
    exponent = ((words >> np.uint64(56)) & np.uint64(0x7F)).astype(np.int64)
    fraction = words & np.uint64(0x00FFFFFFFFFFFFFF)
    # value = 0.fraction (56 bits) x 16 ** (exponent - 64); one rounding, 56 -> 53 bits.
    value = np.ldexp(fraction.astype(np.float64), 4 * (exponent - 64) - 56)
    value = np.where(sign, -value, value)
    missing = (fraction == 0) & _MISSING_FIRST_BYTE[(words >> np.uint64(56)).astype(np.intp)]
    value[missing] = np.nan
    return value


def _factorize_bytes(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, first row of each code) for the rows of a fixed-width byte block (n x width).

    Each row's bytes are read as 64-bit words and mixed into one 64-bit hash, which is
    factorised; the rows are then compared byte for byte with the first row of their code, and
    on a (vanishingly rare) hash collision the words are factorised one after another instead.
    """
    n, width = block.shape
    padded = np.zeros((n, width + (-width) % 8), dtype=np.uint8)
    padded[:, :width] = block
    words = padded.view(np.uint64)  # byte order does not matter for equality
    with np.errstate(over="ignore"):
        mixed = words[:, 0].copy()
        for column in range(1, words.shape[1]):
            mixed = (mixed * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, column]
    codes, _ = pd.factorize(mixed)
    first = _first_rows(codes)
    if words.shape[1] > 1 and not (words == words[first[codes]]).all():
        codes = np.zeros(n, dtype=np.int64)
        for column in range(words.shape[1]):
            part, uniques = pd.factorize(words[:, column])
            codes, _ = pd.factorize(codes * (len(uniques) + 1) + part)
        first = _first_rows(codes)
    return codes, first


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Row of the first appearance of each code (pandas numbers codes in order of appearance)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    previous_max = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    return np.flatnonzero(codes > previous_max)


def _decode(raw: bytes) -> str:
    text = raw.rstrip(b" \x00")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")


def read_xport_v5(content: bytes | memoryview, name: str = "") -> pd.DataFrame:
    """Read the first dataset of a SAS XPORT v5 file (bytes) into a DataFrame.

    Raises ValueError when the bytes are not a version 5 transport file.
    """
    content = bytes(content)
    if not is_xport_v5(content[:_RECORD]):
        raise ValueError(f"{name or 'the file'} is not a SAS XPORT version 5 file.")
    member = content.find(_MEMBER)
    if member < 0:
        raise ValueError(f"{name or 'the file'} holds no dataset (no member header).")
    namestr_length = int(content[member + 74:member + 78] or 140)
    descriptor = member + 2 * _RECORD
    table_name = _decode(content[descriptor + 8:descriptor + 16])
    file_label = _decode(content[descriptor + _RECORD + 32:descriptor + _RECORD + 72])
    names_header = content.find(_NAMESTR, descriptor)
    n_variables = int(content[names_header + 54:names_header + 58])
    start = names_header + _RECORD
    variables = []
    for index in range(n_variables):
        record = content[start + index * namestr_length:start + (index + 1) * namestr_length]
        kind, _, length, _ = struct.unpack(">hhhh", record[:8])
        variables.append({
            "name": _decode(record[8:16]), "label": _decode(record[16:56]), "format": _decode(record[56:64]),
            "format_length": struct.unpack(">h", record[64:66])[0], "numeric": kind == 1, "length": length,
            "position": struct.unpack(">i", record[84:88])[0]})
    obs_header = content.find(_OBS, start + n_variables * namestr_length)
    data_start = obs_header + _RECORD
    next_member = content.find(_MEMBER, data_start)
    data = np.frombuffer(content, dtype=np.uint8, offset=data_start,
                         count=(next_member if next_member >= 0 else len(content)) - data_start)
    row_length = sum(v["length"] for v in variables)
    n_rows = len(data) // row_length if row_length else 0
    rows = data[:n_rows * row_length].reshape(n_rows, row_length)
    # The last 80-byte record is padded with blanks: rows made only of blanks are padding (a real
    # row cannot be: SAS writes a missing number as '.' followed by zero bytes).
    while n_rows and (rows[n_rows - 1] == 0x20).all():
        n_rows -= 1
    rows = rows[:n_rows]
    columns: dict[str, object] = {}
    for variable in variables:
        block = rows[:, variable["position"]:variable["position"] + variable["length"]]
        if variable["numeric"]:
            padded = np.zeros((n_rows, 8), dtype=np.uint8)
            padded[:, :variable["length"]] = block
            values = _ibm_to_ieee(padded.view(">u8").reshape(-1).astype(np.uint64))
            fmt = variable["format"].upper()
            seconds_per_unit = 1 if _DATETIME_FORMATS.match(fmt) else 86400 if _DATE_FORMATS.match(fmt) else 0
            if seconds_per_unit:
                seconds = np.where(np.isnan(values), 0, values) * seconds_per_unit
                values = pd.Series(_SAS_EPOCH + seconds.astype("timedelta64[s]")).where(~np.isnan(values))
            columns[variable["name"]] = values
        else:
            codes, first = _factorize_bytes(block)
            categories = [_decode(block[row].tobytes()) for row in first]
            columns[variable["name"]] = pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object)) \
                if len(set(categories)) == len(categories) else \
                pd.Categorical(np.asarray(categories, dtype=object)[codes])
    frame = pd.DataFrame(columns)
    frame.attrs["labels"] = {v["name"]: v["label"] for v in variables}
    frame.attrs["formats"] = {v["name"]: (v["format"] + (str(v["format_length"]) if v["format_length"] else ""))
                              or None for v in variables}
    frame.attrs["table_name"] = table_name
    frame.attrs["file_label"] = file_label
    return frame
