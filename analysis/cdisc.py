"""CDISC SDTM and ADaM datasets read into the project's long single-file form.

::

    import analysis
    from analysis import cdisc
    frames = cdisc.read("pilot/")                   # {"ADSL": frame, "ADCIBC": frame, ...}
    mapping = cdisc.suggest(frames)                 # how they will be read, with reasons
    long_frame, notes = cdisc.to_long(frames, mapping)
    data = analysis.load(long_frame)
    tte = analysis.read_adtte("pilot/adtte.xpt")    # one row per subject and parameter

**Files.** SAS transport version 5 (``.xpt``, the FDA submission format) is read by the vectorised
:mod:`analysis.xport` (checked value for value against pyreadstat, 30 times faster at 2 million
rows); version 8 and ``.sas7bdat`` by pyreadstat; never by pandas' SAS reader (which reads some
zeros as 5.4e-79, pandas issue 50670). Each frame keeps its variable labels in
``frame.attrs["labels"]``. A dataset is named by its file stem
(``adcibc.xpt`` -> ``ADCIBC``).

**Reading rules** (each one that applies is said in the notes returned by :func:`to_long`):

- ``USUBJID`` always identifies the patient, never ``STUDYID`` (one value for a whole trial).
- SDTM findings about rating scales (``QS``, and ``RS`` where the QRS supplements put clinician
  ratings such as HAM-D17): the instrument from ``--CAT`` through the registry's aliases
  (``"HAMD 17"`` -> HAM-D17), the total from the row whose ``--TEST`` says "total", items
  numbered from ``--TESTCD`` (``HAMD103`` -> item 3: QRS codes are the short name, a one-digit
  version and a two-digit item number; ``HAMD116A``/``B`` -> item 16), the score from
  ``--STRESN``, the time from ``--DY`` plus ``--ELTM`` (ISO 8601, ``PT40M``) after the dose of
  ``--TPTREF``, the baseline from ``--BLFL`` (or ``--LOBXFL``).
- The study-day rule: day 1 is the day of the first dose and there is no day 0, so day d >= 1
  starts (d - 1) x 24 h after the first dose and day -1 starts 24 h before it. A study day
  gives the time to a day (an assessment on day 8 is put at 168 h); ``--ELTM`` makes it exact.
- ``DM`` gives age, sex and the planned arm (``ARM``) as ``treatment``; ``EX`` gives each dose
  (``EXDOSE`` with ``EXDOSU`` mg/kg, or mg divided by the weight ``WEIGHTBL`` when known), the
  route (``EXROUTE``) and its start (``EXSTDY``, or ``EXSTDTC`` relative to the first dose).
- ADaM ``ADSL``: covariates, ``TRT01P`` as ``treatment``. BDS datasets (``PARAMCD``, ``AVAL``):
  the instrument from ``PARAMCD``/``PARAM`` (``CIBICVAL`` -> CIBIC+), ``AVISIT`` preferred over
  ``VISIT``, time from ``ADY``, baseline from ``ABLFL`` or, when no record is flagged, a
  baseline rating made from ``BASE``. ``CHG`` and ``PCHG`` are not read: the project derives
  change from the ratings. Derived records (``DTYPE`` not blank, e.g. LOCF) are left out unless
  ``record_filters`` says otherwise; when ``ANL01FL`` exists, only records flagged ``"Y"`` are
  kept (the sponsor's choice of one record per visit).
- Calendar dates (``--DTC``, ``*DT``, ``*DTM``, SAS date formats) are identifying and are never
  passed on; they are used only to place doses relative to the first one.
- An instrument that is not in the registry is refused with the one-line fix (``instrument=``
  for a registered scale spelled otherwise, or :func:`analysis.register_instrument`).
  CIBIC+ (the CDISC pilot's primary endpoint) is registered as a built-in global-change scale.

References: CDISC SDTM Implementation Guide 3.4 (QS, RS, EX, DM; study day, section 4.4.4);
ADaM Implementation Guide 1.3 (ADSL, BDS, ADTTE); CDISC QRS supplement HAMD 17 v2.1.
"""

from __future__ import annotations

import re
import struct
import tempfile
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from analysis.contract import DataError, problems_frame
from analysis.instruments import get_instrument, instrument_names, resolve_instrument_names
from analysis.loading import calendar
from analysis.loading.attached import attach_infusions
from analysis.loading.times import iso_durations, study_day_hours
from analysis.origins import describe_row
from analysis.readers import read_table
from analysis.xport import is_xport_v5, read_xport_v5

__all__ = ["classify", "read", "read_adtte", "read_dataset", "resolve_instrument", "suggest", "to_long"]

SAS_EXTENSIONS = (".xpt", ".xport", ".sas7bdat")
# SAS formats that hold calendar dates or times (numeric variables).
_DATE_FORMAT = re.compile(r"^(?:DATE|DATETIME|E8601D|IS8601D|B8601D|YYMMDD|MMDDYY|DDMMYY|TIME|E8601T|"
                          r"IS8601T|TOD|DTDATE|WEEKDATE|MONYY|NLDATE)", re.IGNORECASE)
_DATE_NAME = re.compile(r"(?:DTC|DTM|DT|(?<!EL)TM)$")  # --ELTM is an elapsed time, not a clock time
_TOTAL_WORDS = re.compile(r"\btotal\b|\btot\b|\bsum\b", re.IGNORECASE)
# Suffixes a parameter code or category adds to an instrument's name ("CIBICVAL", "HAMDTOT").
_NAME_SUFFIXES = re.compile(r"(?:TOTALSCORE|TOTAL|SCORE|TOT|VAL|TL)$")
_ADSL_SKIP = {"STUDYID", "USUBJID", "SUBJID", "DOMAIN"}
_PATIENT_RENAME = {"AGE": "age", "SEX": "sex"}
_COVARIATE_TEXT = re.compile(r"^(?:TRT|ARM|ACTARM|AGE|SEX|RACE|ETHNIC|SITE|COUNTRY|REGION)|FL$|GR\d+$|BL$")


# --------------------------------------------------------------------------------------------
# Reading files


def read(source: Any) -> dict[str, pd.DataFrame]:
    """Read CDISC datasets: a folder, one file, a list of files or a dict name -> file or frame.

    Files are ``.xpt`` (SAS transport v5 or v8) or ``.sas7bdat``; CSV and Parquet files in a
    folder are read too. Returns ``{DATASET: frame}`` named by upper-case file stem, each frame
    with ``attrs["labels"]`` (variable -> label), ``attrs["formats"]`` and ``attrs["source"]``.
    Raises DataError when nothing readable is found.
    """
    if isinstance(source, MappingABC):
        items = list(source.items())
    elif isinstance(source, (str, Path)) and Path(source).is_dir():
        folder = Path(source)
        items = [(p.stem, p) for p in sorted(folder.iterdir())
                 if p.suffix.lower() in (*SAS_EXTENSIONS, ".csv", ".parquet")]
    elif isinstance(source, (list, tuple)):
        items = [(_name_of(s), s) for s in source]
    else:
        items = [(_name_of(source), source)]
    frames: dict[str, pd.DataFrame] = {}
    for name, given in items:
        frame = given if isinstance(given, pd.DataFrame) else read_dataset(given)
        frames[str(name).upper()] = frame
    if not frames:
        raise _error(f"{source} holds no CDISC dataset (.xpt, .sas7bdat).", "No CDISC data found.")
    return frames


def _name_of(source: Any) -> str:
    name = getattr(source, "name", source)
    return Path(str(name)).stem


def read_dataset(source: Any) -> pd.DataFrame:
    """One SAS dataset (path, bytes or upload object) via pyreadstat, labels kept in attrs."""
    import pyreadstat

    name = str(getattr(source, "name", source if isinstance(source, (str, Path)) else "upload"))
    suffix = Path(name).suffix.lower()
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist.")
        if suffix in {".csv", ".parquet"}:
            return _read_table_file(path)
        if suffix != ".sas7bdat":
            with path.open("rb") as handle:
                if is_xport_v5(handle.read(80)):
                    return _read_v5(path.read_bytes(), name)
        return _read_sas_path(pyreadstat, path, suffix, name)
    content = source.getvalue() if hasattr(source, "getvalue") else source.read() if hasattr(source, "read") \
        else bytes(source)
    if is_xport_v5(content[:80]):
        return _read_v5(content, name)
    with tempfile.NamedTemporaryFile(suffix=suffix or ".xpt") as handle:
        handle.write(content)
        handle.flush()
        return _read_sas_path(pyreadstat, Path(handle.name), suffix or ".xpt", name)


def _read_table_file(path: Path) -> pd.DataFrame:
    """A CSV or Parquet dataset through the loader's reader, so its rows are numbered as every other
    table's (``attrs["rows"]``: 1 = the first data row, blank lines counted; line = row + 1)."""
    raw = read_table(path, path.stem)
    frame = raw.frame.drop(columns="source_row")
    frame.attrs.update(source=path.name, rows=raw.frame["source_row"].to_numpy(dtype=np.int64))
    return frame


def _file_rows(frame: pd.DataFrame) -> np.ndarray:
    """Each row's data row in its file (1 = the first): ``attrs["rows"]`` when the reader skipped
    blank lines, else position + 1."""
    return np.asarray(frame.attrs.get("rows", np.arange(1, len(frame) + 1)), dtype=np.int64)


def _read_v5(content: bytes, name: str) -> pd.DataFrame:
    try:
        frame = read_xport_v5(content, Path(name).name)
    except (ValueError, struct.error) as error:
        raise _error(f"{Path(name).name} could not be read as a SAS transport file: {error}. Export it again as "
                     "SAS XPORT (v5 or v8) or sas7bdat.", f"{Path(name).name} cannot be read.") from error
    frame.attrs["source"] = Path(name).name
    return frame


def _read_sas_path(pyreadstat: Any, path: Path, suffix: str, name: str) -> pd.DataFrame:
    reader = pyreadstat.read_sas7bdat if suffix == ".sas7bdat" else pyreadstat.read_xport
    try:
        frame, meta = reader(str(path))
    except Exception as error:  # pyreadstat raises its own ReadstatError / PyreadstatError
        raise _error(f"{Path(name).name} could not be read as a SAS {'dataset' if suffix == '.sas7bdat' else 'transport file'}: "
                     f"{error}. Export it again as SAS XPORT (v5 or v8) or sas7bdat.",
                     f"{Path(name).name} cannot be read.") from error
    frame.attrs["labels"] = dict(zip(meta.column_names, meta.column_labels, strict=False))
    frame.attrs["formats"] = dict(meta.original_variable_types or {})
    frame.attrs["source"] = Path(name).name
    frame.attrs["table_name"] = meta.table_name or ""
    return frame


# --------------------------------------------------------------------------------------------
# Small rules used by every dataset kind


def _error(message: str, headline: str, column: str = "", rows: Iterable[int] = (),
           locations: Iterable[str] = ()) -> DataError:
    """A DataError with one problem per row named (at most 20; ``locations`` in words), or one for the file."""
    rows, locations = list(rows)[:20], list(locations)[:20]
    records = [{"table": "file", "row": int(r), "column": column, "value": "", "message": message,
                **({"location": locations[i]} if locations else {})}
               for i, r in enumerate(rows)] or [{"table": "file", "row": pd.NA, "column": column, "value": "",
                                                 "message": message}]
    problems = problems_frame(records)
    if locations:
        problems["location"] = locations
    return DataError(problems, headline=headline)


def _where(name: str, frame: pd.DataFrame, positions: np.ndarray, rows: np.ndarray | None = None,
           key: str | None = None) -> tuple[np.ndarray, list[str]]:
    """(rows in the file, locations in words) of ``frame``'s rows at ``positions`` (0-based; at most
    20): "qs.xpt row 12 (USUBJID 01-701-1015, QSTESTCD HAMD117)". ``rows`` gives each frame row's
    row in the file when the frame is a selection of it (default: :func:`_file_rows`)."""
    positions = np.asarray(positions, dtype=np.int64)[:20]
    file_rows = (_file_rows(frame) if rows is None else np.asarray(rows, dtype=np.int64))[positions]
    file = str(frame.attrs.get("source") or name)
    columns = [c for c in ("USUBJID", key) if c and c in frame.columns]
    locations = []
    for position, row in zip(positions, file_rows, strict=True):
        about = [f"{c} {str(frame[c].iloc[position]).strip()}" for c in columns
                 if not pd.isna(frame[c].iloc[position]) and str(frame[c].iloc[position]).strip()]
        locations.append(describe_row(file, int(row), ", ".join(about)))
    return file_rows, locations


def _study_day_time(frame: pd.DataFrame, column: str, dataset: str, rows: np.ndarray | None = None,
                    key: str | None = None) -> np.ndarray:
    """Hours since the first dose from a study-day column; DataError for day 0 or a fractional day,
    naming the rows (``rows``: each frame row's row in its file, when the frame is a selection)."""
    hours, bad = study_day_hours(pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64"))
    positions = np.flatnonzero(bad)
    if len(positions):
        file_rows, locations = _where(dataset, frame, positions, rows, key)
        raise _error(f"{column} is {_show_value(frame[column].iloc[positions[0]])} or another value that is 0 or "
                     f"not a whole day in {len(positions)} row(s) of {frame.attrs.get('source') or dataset}: CDISC "
                     "study days have no day 0 (day 1 is the day of the first dose, the day before is -1). Correct "
                     "the derivation of the study day.", f"{dataset} has an invalid study day.", column, file_rows,
                     locations)
    return hours


def _show_value(value: Any) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return f"{number:g}" if not pd.isna(number) else repr(value)


def _is_date_variable(frame: pd.DataFrame, column: str) -> bool:
    fmt = str((frame.attrs.get("formats") or {}).get(column) or "")
    if _DATE_FORMAT.match(fmt) or pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
        return True
    if _DATE_NAME.search(column.upper()) and not column.upper().endswith(("FL", "N")):
        return True
    sample = frame[column].dropna().head(20).astype(object)
    return len(sample) > 0 and bool(sample.map(lambda v: hasattr(v, "year")).all())


def _text(series: pd.Series, upper: bool = False) -> pd.Series:
    """A text column as a categorical of stripped values, blanks as missing (SAS has no missing
    text, only blanks). String work is done once per distinct value, so millions of rows are cheap."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype="object").astype("string").str.strip()
    if upper:
        cleaned = cleaned.str.upper()
    cleaned = cleaned.mask(cleaned == "")
    clean_codes, categories = pd.factorize(cleaned, use_na_sentinel=True)
    lookup = np.append(clean_codes, -1)
    return pd.Series(pd.Categorical.from_codes(lookup[np.where(codes < 0, len(clean_codes), codes)],
                                               categories=pd.Index(categories, dtype="object")), index=series.index)


def _blank(series: pd.Series) -> np.ndarray:
    """True where a SAS character value is blank or missing."""
    return _text(series).isna().to_numpy()


def _flag(series: pd.Series) -> np.ndarray:
    return (_text(series, upper=True) == "Y").to_numpy(dtype=bool)


def resolve_instrument(text: Any) -> str | None:
    """The registered instrument a CDISC category, parameter code or name stands for, or None.

    Tried as given, then without a trailing "total", "score", "VAL", "TOT" or "TL"
    (``CIBICVAL`` -> CIBIC+, ``HAMD17 TOTAL SCORE`` -> HAM-D17).
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    raw = str(text).strip()
    found = resolve_instrument_names([raw])[raw]
    if found is None:
        key = re.sub(r"[\s\-_.]", "", raw).upper()
        trimmed = _NAME_SUFFIXES.sub("", key)
        if trimmed and trimmed != key:
            found = resolve_instrument_names([trimmed])[trimmed]
    return found


def _item_numbers(testcd: pd.Series) -> np.ndarray:
    """Item number from QRS test codes: the last two digits of 'NAME' + version + 'NN' (+ part letter)."""
    codes, uniques = pd.factorize(_text(testcd, upper=True))
    numbers = np.full(len(uniques) + 1, np.nan)
    for position, text in enumerate(uniques):
        match = re.search(r"(\d+)[A-Z]?$", str(text))
        if match:
            digits = match.group(1)
            numbers[position] = float(digits[-2:] if len(digits) >= 3 else digits)
    return numbers[np.where(codes < 0, len(uniques), codes)]


# --------------------------------------------------------------------------------------------
# Which dataset is which


def classify(frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Kind of each dataset: DM, EX, ADSL, findings (SDTM QS/RS/FT), BDS, ADTTE or other."""
    kinds = {}
    for name, frame in frames.items():
        columns = {str(c).upper() for c in frame.columns}
        prefix = _findings_prefix(frame)
        if "USUBJID" not in columns:
            kinds[name] = "other"
        elif {"PARAMCD", "AVAL", "CNSR"} <= columns:
            kinds[name] = "ADTTE"
        elif {"PARAMCD", "AVAL"} <= columns:
            kinds[name] = "BDS"
        elif prefix is not None:
            kinds[name] = "findings"
        elif "EXTRT" in columns or name == "EX":
            kinds[name] = "EX"
        elif name == "ADSL" or "TRT01P" in columns:
            kinds[name] = "ADSL"
        elif name == "DM" or {"ARM", "SEX"} <= columns:
            kinds[name] = "DM"
        else:
            kinds[name] = "other"
    return kinds


def _findings_prefix(frame: pd.DataFrame) -> str | None:
    for column in frame.columns:
        match = re.fullmatch(r"([A-Z]{2})TESTCD", str(column).upper())
        if match and f"{match.group(1)}CAT" in frame.columns:
            return match.group(1)
    return None


# --------------------------------------------------------------------------------------------
# Settings: what the Mapping says (with defaults when it says nothing)


def _settings(mapping: Any) -> dict[str, Any]:
    """The Mapping's fields this reader uses; ``mapping=None`` (or a dict of hints) -> defaults."""
    get = (lambda k, d: mapping.get(k, d)) if isinstance(mapping, dict) else \
        (lambda k, d: getattr(mapping, k, d) if mapping is not None else d)
    filters = get("record_filters", None)
    if filters is None or (isinstance(mapping, dict) and "record_filters" not in mapping):
        filters = DEFAULT_RECORD_FILTERS
    return {
        "columns": dict(get("columns", {}) or {}),
        "instrument": get("instrument", None),
        "visit_times": dict(get("visit_times", {}) or {}),
        "record_filters": _filters(filters),
    }


# ADaM derived records out, and the sponsor's analysis flag when there is one.
DEFAULT_RECORD_FILTERS: tuple[tuple[str, str, str], ...] = (("DTYPE", "empty", ""), ("ANL01FL", "==", "Y"))


def _filters(given: Any) -> tuple[tuple[str, str, Any], ...]:
    """Record filters as (column, operator, value); a dict {column: value} means == ("" = empty)."""
    if isinstance(given, MappingABC):
        given = [(c, "empty", "") if v in ("", None) else (c, "==", v) for c, v in given.items()]
    return tuple((str(f[0]), str(f[1]), f[2]) for f in given)


def _passes(series: pd.Series, operator: str, value: Any) -> np.ndarray:
    text = _text(series).astype("object").fillna("")
    if operator == "empty":
        return _blank(series)
    if operator == "not empty":
        return ~_blank(series)
    if operator in {"in", "not in"}:
        inside = text.isin([str(v) for v in value]).to_numpy()
        return inside if operator == "in" else ~inside
    equal = (text == str(value)).to_numpy()
    if operator == "==":
        return equal
    if operator == "!=":
        return ~equal
    raise _error(f"record filter operator {operator!r} is not ==, !=, in, not in, empty or not empty.",
                 "The mapping's record filters cannot be applied.")


# --------------------------------------------------------------------------------------------
# Converting


def to_long(frames: dict[str, pd.DataFrame], mapping: Any = None, *,
            origins: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Convert CDISC datasets into the project's long single-file form.

    Parameters
    ----------
    frames : ``{DATASET: frame}`` as :func:`read` returns (or any dict of DataFrames).
    mapping : an :class:`analysis.Mapping` (layout ``"cdisc"``) or None for the defaults. Used:
        ``instrument`` (for ratings whose category or parameter names no registered scale),
        ``columns`` (``{"visit": "VISIT"}`` to prefer VISIT; ``{"score": "QSORRES"}``),
        ``visit_times`` (visit label -> hours since the first dose, for rows without a study day)
        and ``record_filters`` ((column, operator, value) triples or {column: value}). With
        ``mapping=None`` the defaults apply (DTYPE empty, ANL01FL == "Y"), as in the mapping
        :func:`suggest` returns; a Mapping's filters are applied exactly as they are, so
        ``record_filters=()`` keeps derived records.
    origins : also return, per rating, the dataset file it was read from (``source_file``, e.g.
        "qs.xpt", or the dataset name for a DataFrame) and its row there (``source_file_row``,
        1 = the first observation), so that problems can name them; with EX, the same for each
        dose in the infusions table, so that problems with a dose name the EX record.

    Returns
    -------
    (frame, notes) : one row per rating with patient_id, instrument, item, score, time_hours
        (hours since the first dose, from study days), visit, patient covariates (age, sex,
        treatment, ...) and, when EX is given, infusion_number (the dose the rating follows);
        the doses are ``frame.attrs["infusions"].frame`` (patient_id, infusion_number,
        time_hours, dose_mg_per_kg, route), read by ``analysis.load`` as the infusions table;
        ``notes`` says in sentences every reading decision taken.

    Raises
    ------
    DataError when no rating-scale data is found, an instrument is not registered, or a study
    day is 0.
    """
    settings = _settings(mapping)
    kinds = classify(frames)
    notes: list[str] = []
    ratings = []
    for name, kind in kinds.items():
        frame = frames[name]
        if kind == "findings":
            ratings.append(_findings(name, frame, settings, notes))
        elif kind == "BDS":
            ratings.append(_bds(name, frame, settings, notes))
        elif kind == "ADTTE":
            notes.append(f"{name} is a time-to-event dataset: it is not a rating and is not read here; "
                         f"use analysis.read_adtte for it.")
        elif kind == "other":
            notes.append(f"{name} was not read: it is not a CDISC dataset this reader uses "
                         "(DM, EX, QS, RS, ADSL or a BDS dataset with USUBJID).")
    ratings = [r for r in ratings if r is not None and len(r)]
    if not ratings:
        raise _error("No rating-scale data found: give an SDTM QS or RS dataset or an ADaM BDS dataset "
                     f"(PARAMCD, AVAL) with USUBJID (or the folder holding them with the others). Datasets "
                     f"given: {', '.join(frames) or 'none'}.",
                     "No ratings in the CDISC data.")
    long_frame = pd.concat(ratings, ignore_index=True)
    for column in ("_file", "_record"):  # categorical across datasets (pd.concat makes them objects)
        if all(isinstance(r[column].dtype, pd.CategoricalDtype) for r in ratings):
            long_frame[column] = union_categoricals([r[column].array for r in ratings])
    for column in ("patient_id", "instrument", "visit"):
        if column in long_frame.columns:
            long_frame[column] = _text(long_frame[column])
    patients = _patients(frames, kinds, notes)
    if patients is not None:
        long_frame = _join_patients(long_frame, patients)
    ex = [n for n, k in kinds.items() if k == "EX"]
    if ex:
        weights = patients.set_index("patient_id")["WEIGHTBL"] if patients is not None and "WEIGHTBL" in patients \
            else None
        doses = _exposures(ex[0], frames[ex[0]], weights, notes)
        without = int((~long_frame["patient_id"].astype("string").isin(doses["patient_id"])).sum())
        if without:
            notes.append(f"{without} rating(s) of patients without an EX record have no dose.")
        if origins:
            doses = doses.rename(columns={"_ex_row": "source_file_row"})
            doses.insert(0, "source_file", str(frames[ex[0]].attrs.get("source") or ex[0]))
        long_frame = attach_infusions(long_frame, doses.drop(columns="_ex_row", errors="ignore"))
    else:
        notes.append("No EX dataset: dose and route are not known (the loader assumes one IV infusion "
                     "at time 0 and says so).")
    item = long_frame["item"].to_numpy(dtype="float64")
    long_frame["item"] = pd.arrays.IntegerArray(np.nan_to_num(item).astype("int64"), np.isnan(item))
    if origins:
        long_frame = long_frame.rename(columns={"_file": "source_file", "_file_row": "source_file_row",
                                                "_record": "source_record"})
        if patients is not None:  # each patient's covariates were read from its ADSL/DM observation
            columns = [c for c in patients.columns if c != "patient_id"]
            long_frame.attrs["value_origins"] = pd.DataFrame({
                "patient_id": np.repeat(patients["patient_id"].to_numpy(dtype=object), len(columns)),
                "column": np.tile(np.asarray(columns, dtype=object), len(patients)),
                "file": patients.attrs["source"], "row": np.repeat(patients.attrs["rows"], len(columns)),
                "line": None})
    else:
        long_frame = long_frame.drop(columns=["_file", "_file_row", "_record"], errors="ignore")
    return long_frame, notes


def _origin(name: str, frame: pd.DataFrame, out: pd.DataFrame, rows: np.ndarray, key: str) -> pd.DataFrame:
    """``out`` with the file each rating was read from, its row there (1 = first observation) and
    the record's test in words (``key`` and its value, e.g. "RSTESTCD HAMD117"; a categorical)."""
    out["_file"] = pd.Categorical.from_codes(np.zeros(len(out), dtype=np.int8), [str(frame.attrs.get("source") or name)])
    out["_file_row"] = rows
    out["_record"] = _text(frame[key]).cat.rename_categories(lambda value: f"{key} {value}").array \
        if key in frame.columns else None
    return out


def _join_patients(long_frame: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Patient columns repeated on every rating, by the codes of the categorical patient id."""
    categories = long_frame["patient_id"].cat.categories
    by_patient = patients.drop_duplicates("patient_id").set_index("patient_id").reindex(categories)
    codes = long_frame["patient_id"].cat.codes.to_numpy()
    taken = by_patient.iloc[np.where(codes < 0, 0, codes)].reset_index(drop=True) if len(categories) else \
        by_patient.iloc[:0].reindex(range(len(long_frame))).reset_index(drop=True)
    taken.index = long_frame.index
    taken[codes < 0] = np.nan
    return pd.concat([long_frame, taken], axis=1)


def _rename_override(settings: dict[str, Any], role: str, default: str, frame: pd.DataFrame) -> str:
    chosen = settings["columns"].get(role)
    return chosen if chosen in frame.columns else default


def _instrument_column(name: str, labels: pd.Series, codes: pd.Series | None,
                       settings: dict[str, Any], notes: list[str], what: str) -> pd.Series:
    """Canonical instrument per row from the category/parameter labels (and codes), or the hint."""
    labels = _text(labels)
    distinct = list(labels.cat.categories)
    found = {v: resolve_instrument(v) for v in distinct}
    if codes is not None:
        pairs = pd.DataFrame({"label": labels, "code": _text(codes)}).dropna().drop_duplicates("label")
        for label, code in zip(pairs["label"], pairs["code"], strict=False):
            found[label] = found[label] or resolve_instrument(code)
    hint = settings["instrument"]
    unknown = [v for v, c in found.items() if c is None]
    if hint:
        canonical = get_instrument(hint).name
        if unknown:
            notes.append(f"{name}: {what} {', '.join(map(repr, unknown))} read as {canonical} "
                         f"(instrument={hint!r}).")
        found.update(dict.fromkeys(unknown, canonical))
    elif unknown and all(c is None for c in found.values()):
        shown = ", ".join(repr(v) for v in unknown[:5])
        raise _error(
            f"{name}: {what} {shown} is not a registered instrument (known: {', '.join(instrument_names())}). "
            f"If it is one of them spelled otherwise, name it: analysis.load(path, instrument=\"MADRS\"); "
            "otherwise register it first: analysis.register_instrument(analysis.Instrument(name, full_name, "
            "min_score, max_score, n_items, item_min, item_max, aliases=(...))).",
            f"{name}: the instrument is not known.", what.split()[0])
    elif unknown:
        notes.append(f"{name}: {what} {', '.join(map(repr, unknown))} name no registered instrument; their "
                     "rows are left out (pass instrument= or register the scale to read them).")
    for label, canonical in found.items():
        if canonical is not None and canonical != label:
            notes.append(f"{name}: {what} {label!r} read as instrument {canonical}.")
    return labels.map(found)


def _findings(name: str, frame: pd.DataFrame, settings: dict[str, Any], notes: list[str]) -> pd.DataFrame:
    """SDTM QS / RS / FT rows -> ratings (patient_id, instrument, item, score, time_hours, visit)."""
    p = _findings_prefix(frame)
    n_rows = len(frame)
    instrument = _instrument_column(name, frame[f"{p}CAT"], None, settings, notes, f"{p}CAT")
    score_column = _rename_override(settings, "score", f"{p}STRESN", frame)
    if score_column not in frame.columns:
        score_column = f"{p}ORRES"
        notes.append(f"{name}: no {p}STRESN; scores read from {p}ORRES.")
    score = pd.to_numeric(frame[score_column], errors="coerce").to_numpy(dtype="float64")
    test = _text(frame[f"{p}TEST"]) if f"{p}TEST" in frame else pd.Series("", index=frame.index, dtype="string")
    codes, uniques = pd.factorize(test)
    is_total = np.asarray([bool(_TOTAL_WORDS.search(str(u))) for u in uniques], dtype=bool)[codes] \
        if len(uniques) else np.zeros(n_rows, dtype=bool)
    item = np.where(is_total, np.nan, _item_numbers(frame[f"{p}TESTCD"]))
    keep = instrument.notna().to_numpy() & (is_total | ~np.isnan(item))
    unread = ~keep & instrument.notna().to_numpy()
    no_result = keep & np.isnan(score)
    if no_result.any():
        status = f" ({p}STAT NOT DONE or a logically skipped item)" if f"{p}STAT" in frame.columns else \
            " (not done or a logically skipped item, e.g. HAM-D item 16 part B)"
        notes.append(f"{name}: {int(no_result.sum())} row(s) without a result{status} left out.")
        keep &= ~no_result
    if unread.any():
        shown = pd.unique(_text(frame.loc[unread, f"{p}TESTCD"]))[:5]
        notes.append(f"{name}: {int(unread.sum())} row(s) neither a total nor a numbered item ({p}TESTCD "
                     f"{', '.join(map(repr, shown))}) were left out.")
    out = pd.DataFrame({
        "patient_id": _text(frame["USUBJID"]),
        "instrument": instrument,
        "item": item,
        "score": score,
    })
    notes.append(f"{name}: {int((keep & is_total).sum())} total-score rows (the {p}TEST says total) and "
                 f"{int((keep & ~is_total).sum())} item rows (item number from {p}TESTCD); scores from "
                 f"{score_column}; USUBJID is the patient.")
    out["time_hours"] = _findings_time(name, frame, p, notes)
    out = _origin(name, frame, out, _file_rows(frame), f"{p}TESTCD")
    visit_column = _rename_override(settings, "visit", "VISIT", frame)
    if visit_column in frame.columns:
        out["visit"] = _text(frame[visit_column])
        if f"{p}TPT" in frame.columns and _text(frame[f"{p}TPT"]).notna().any():
            tpt = _text(frame[f"{p}TPT"])
            joined = out["visit"].astype("string").fillna("").str.cat(tpt.astype("string").fillna(""), sep=" ")
            out["visit"] = _text(joined)
    baseline_column = next((c for c in (f"{p}BLFL", f"{p}LOBXFL") if c in frame.columns), None)
    out = _place_baseline(name, out, _flag(frame[baseline_column]) if baseline_column else None,
                          baseline_column, settings, notes)
    return out[keep].reset_index(drop=True)


def _findings_time(name: str, frame: pd.DataFrame, p: str, notes: list[str]) -> np.ndarray:
    day_column = f"{p}DY"
    if day_column in frame.columns:
        hours = _study_day_time(frame, day_column, name, key=f"{p}TESTCD")
        rule = (f"{name}: time from {day_column} by the study-day rule (day 1 = first dose, no day 0; "
                "a day is placed at its start, (day - 1) x 24 h)")
    else:
        hours = np.full(len(frame), np.nan)
        rule = f"{name}: no {day_column}, so no time from study days"
    if f"{p}ELTM" in frame.columns:
        elapsed, _ = iso_durations(frame[f"{p}ELTM"])
        has = ~np.isnan(elapsed)
        reference = f" after {p}TPTREF (the dose of that day)" if f"{p}TPTREF" in frame.columns else ""
        hours = np.where(has, np.nan_to_num(hours) + elapsed, hours)
        rule += f"; plus {p}ELTM{reference} on {int(has.sum())} row(s) (ISO 8601 durations)"
    notes.append(rule + ".")
    return hours


def _place_baseline(name: str, out: pd.DataFrame, flagged: np.ndarray | None, column: str | None,
                    settings: dict[str, Any], notes: list[str]) -> pd.DataFrame:
    """Put flagged baseline ratings at or before the first dose, and times for visit-only rows."""
    visit_times = settings["visit_times"]
    if visit_times and "visit" in out.columns:
        missing = out["time_hours"].isna()
        given = out["visit"].map({str(k): float(v) for k, v in visit_times.items()}).astype("float64")
        out.loc[missing, "time_hours"] = given[missing]
        if (missing & given.notna()).any():
            notes.append(f"{name}: {int((missing & given.notna()).sum())} row(s) without a study day timed "
                         "from visit_times.")
    if flagged is None:
        return out
    late = flagged & ~(out["time_hours"].to_numpy() <= 0)
    if late.any():
        out.loc[late, "time_hours"] = 0.0
        notes.append(f"{name}: {int(late.sum())} rating(s) flagged baseline ({column} = 'Y') had no time or one "
                     "after the first dose's start; they are placed at the first dose (time 0).")
    notes.append(f"{name}: baseline from {column} ({int(flagged.sum())} flagged rating(s)).")
    return out


def _filter_records(name: str, frame: pd.DataFrame, settings: dict[str, Any], notes: list[str]) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for column, operator, value in settings["record_filters"]:
        if column not in frame.columns:
            continue
        passes = _passes(frame[column], operator, value)
        dropped = int((keep & ~passes).sum())
        if dropped and column == "DTYPE" and operator == "empty":
            kinds = ", ".join(pd.unique(frame.loc[~passes, column].astype("string").str.strip()).astype(str)[:5])
            notes.append(f"{name}: {dropped} derived record(s) (DTYPE {kinds}) left out: they are not observed "
                         "ratings. Pass record_filters=() to keep them.")
        elif dropped:
            shown = "" if operator in {"empty", "not empty"} else f" {value!r}"
            notes.append(f"{name}: {dropped} record(s) left out by the record filter {column} {operator}{shown}.")
        keep &= passes
    return keep


def _bds(name: str, frame: pd.DataFrame, settings: dict[str, Any], notes: list[str]) -> pd.DataFrame:
    """ADaM BDS rows -> ratings; baseline from ABLFL or BASE."""
    passes = _filter_records(name, frame, settings, notes)
    rows = _file_rows(frame)[passes]
    source = frame.attrs.get("source")
    frame = frame[passes].reset_index(drop=True)
    frame.attrs.update(source=source, rows=rows)
    param = frame["PARAM"] if "PARAM" in frame.columns else frame["PARAMCD"]
    instrument = _instrument_column(name, frame["PARAMCD"], param, settings, notes, "PARAMCD")
    total = param.astype("string").str.contains(_TOTAL_WORDS, na=False).to_numpy() | \
        frame["PARAMCD"].map(lambda v: resolve_instrument(v) is not None).to_numpy(dtype=bool)
    item = np.where(total, np.nan, _item_numbers(frame["PARAMCD"]))
    keep = instrument.notna().to_numpy() & (total | ~np.isnan(item))
    score_column = _rename_override(settings, "score", "AVAL", frame)
    out = pd.DataFrame({
        "patient_id": _text(frame["USUBJID"]),
        "instrument": instrument,
        "item": item,
        "score": pd.to_numeric(frame[score_column], errors="coerce").to_numpy(dtype="float64"),
    })
    visit_column = _rename_override(settings, "visit", "AVISIT" if "AVISIT" in frame.columns else "VISIT", frame)
    if visit_column in frame.columns:
        out["visit"] = _text(frame[visit_column])
        other = " (preferred over VISIT)" if visit_column == "AVISIT" and "VISIT" in frame.columns else ""
        notes.append(f"{name}: visit from {visit_column}{other}.")
    day_column = _rename_override(settings, "study_day", "ADY", frame)
    if day_column in frame.columns:
        out["time_hours"] = _study_day_time(frame, day_column, name, rows, "PARAMCD")
        notes.append(f"{name}: time from {day_column} by the study-day rule (day 1 = first dose, no day 0; a "
                     "day is placed at its start, (day - 1) x 24 h).")
    else:
        out["time_hours"] = np.nan
        notes.append(f"{name}: no ADY: ratings have visits but no clock time.")
    out = _origin(name, frame, out, rows, "PARAMCD")
    notes.append(f"{name}: scores from {score_column}, {int(keep.sum())} rating(s); USUBJID is the patient"
                 f"{' (not STUDYID)' if 'STUDYID' in frame.columns else ''}.")
    ignored = [c for c in ("CHG", "PCHG", "BASETYPE") if c in frame.columns]
    if ignored:
        notes.append(f"{name}: {', '.join(ignored)} not read: change from baseline is derived from the ratings.")
    flagged = _flag(frame["ABLFL"]) if "ABLFL" in frame.columns else np.zeros(len(frame), dtype=bool)
    out = out[keep].reset_index(drop=True)
    flagged = flagged[keep]
    if flagged.any():
        out = _place_baseline(name, out, flagged, "ABLFL", settings, notes)
    elif "BASE" in frame.columns:
        out = pd.concat([out, _baseline_from_base(name, frame[keep].reset_index(drop=True), out, notes)],
                        ignore_index=True)
    else:
        out = _place_baseline(name, out, None, None, settings, notes)
        notes.append(f"{name}: no baseline in the data (no ABLFL record, no BASE).")
    return out


def _baseline_from_base(name: str, frame: pd.DataFrame, out: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """One baseline rating per patient and parameter from BASE (at time 0, visit 'Baseline')."""
    base = pd.DataFrame({"patient_id": out["patient_id"], "instrument": out["instrument"], "item": out["item"],
                         "score": pd.to_numeric(frame["BASE"], errors="coerce").to_numpy(dtype="float64")})
    base["_file"], base["_file_row"] = out["_file"], out["_file_row"]  # the record whose BASE it is
    base["_record"] = out["_record"].astype("string").add(" (its BASE)").astype("category")
    base = base[base["score"].notna()].drop_duplicates(["patient_id", "instrument", "item"])
    base["time_hours"] = 0.0
    if "visit" in out.columns:
        base["visit"] = "Baseline"
    notes.append(f"{name}: no record flagged ABLFL; {len(base)} baseline rating(s) made from BASE (at the "
                 "first dose, time 0, visit 'Baseline').")
    return base


def _patients(frames: dict[str, pd.DataFrame], kinds: dict[str, str], notes: list[str]) -> pd.DataFrame | None:
    """Patient covariates from ADSL (preferred) or DM; dates and study ids are not passed on."""
    source = next((n for n, k in kinds.items() if k == "ADSL"), None) or \
        next((n for n, k in kinds.items() if k == "DM"), None)
    if source is None:
        return None
    frame = frames[source]
    dates = [c for c in frame.columns if c not in _ADSL_SKIP and _is_date_variable(frame, c)]
    candidates = [c for c in frame.columns if c not in _ADSL_SKIP and c not in dates]
    # Text variables are read only when they are coded covariates (treatment, demographics, site,
    # flags, groupings); free text such as DCSREAS is not needed and could identify.
    keep = [c for c in candidates if pd.api.types.is_numeric_dtype(frame[c]) or _COVARIATE_TEXT.search(str(c))]
    unread = [c for c in candidates if c not in keep]
    patients = frame[keep].copy()
    patients.insert(0, "patient_id", _text(frame["USUBJID"]).astype("string"))
    patients.attrs.update(source=str(frame.attrs.get("source") or source), rows=_file_rows(frame))
    treatment = "TRT01P" if "TRT01P" in frame.columns else "ARM" if "ARM" in frame.columns else None
    rename = dict(_PATIENT_RENAME)
    if treatment:
        rename[treatment] = "treatment"
    patients = patients.rename(columns=rename)
    if "AGEU" in frame.columns:
        units = frame["AGEU"].astype("string").str.strip().str.upper()
        months = (units == "MONTHS").to_numpy()
        if months.any():
            patients.loc[months, "age"] = pd.to_numeric(patients.loc[months, "age"]) / 12
            notes.append(f"{source}: {int(months.sum())} age(s) in months converted to years.")
        patients = patients.drop(columns="AGEU")
    first = ~patients["patient_id"].duplicated().to_numpy()
    patients = patients[first]
    patients.attrs["rows"] = patients.attrs["rows"][first]
    notes.append(f"{source}: patient covariates {', '.join(c for c in patients.columns if c != 'patient_id')}"
                 f"{f'; {treatment} read as treatment' if treatment else ''}"
                 f"{'; calendar dates not passed on (identifying): ' + ', '.join(dates) if dates else ''}"
                 f"{'; text variables not read (not coded covariates): ' + ', '.join(unread) if unread else ''}.")
    return patients


def _exposures(name: str, frame: pd.DataFrame, weights: pd.Series | None, notes: list[str]) -> pd.DataFrame:
    """EX -> one row per dose: patient_id, time_hours (since the first dose), infusion_number,
    dose_mg_per_kg, route and ``_ex_row`` (its observation, 1 = the first)."""
    patient = _text(frame["USUBJID"]).astype("string")
    if "EXSTDY" in frame.columns:
        start = _study_day_time(frame, "EXSTDY", name, key="EXTRT")
        how = "EXSTDY (study-day rule)"
    elif "EXSTDTC" in frame.columns:
        dates = calendar.parse_dates(frame["EXSTDTC"])
        start = calendar.infusion_calendar(dates, patient).hours
        how = "EXSTDTC relative to each patient's first dose (the dates themselves are not passed on)"
        if dates.unreadable.any():
            raise _error(f"{name}: EXSTDTC is not a readable ISO 8601 date (YYYY-MM-DD or YYYY-MM-DDThh:mm; not shown: "
                         "dates identify people). Correct these doses, or give their study day in EXSTDY.",
                         f"Some dose dates in {name} cannot be read.", "EXSTDTC",
                         rows=_file_rows(frame)[dates.unreadable])
    else:
        raise _error(f"{name} has no dose start (EXSTDY or EXSTDTC).", f"{name} cannot be read.", "EXSTDY")
    # _ex_row: the dose's observation in the file (1 = the first), for messages about it
    doses = pd.DataFrame({"patient_id": patient, "time_hours": start, "_ex_row": _file_rows(frame)})
    if "EXDOSE" in frame.columns:
        dose = pd.to_numeric(frame["EXDOSE"], errors="coerce").to_numpy(dtype="float64")
        unit = frame["EXDOSU"].astype("string").str.strip().str.lower().str.replace(" ", "") \
            if "EXDOSU" in frame.columns else pd.Series("", index=frame.index, dtype="string")
        per_kg = unit.isin(["mg/kg", "mgkg", "mg/kg/dose"]).to_numpy()
        in_mg = (unit == "mg").to_numpy()
        weight = doses["patient_id"].map(weights).astype("float64").to_numpy() if weights is not None \
            else np.full(len(frame), np.nan)
        doses["dose_mg_per_kg"] = np.where(per_kg, dose, np.where(in_mg, dose / weight, np.nan))
        if (in_mg & ~np.isnan(weight)).any():
            notes.append(f"{name}: {int((in_mg & ~np.isnan(weight)).sum())} dose(s) in mg divided by the baseline "
                         "weight (WEIGHTBL) to mg/kg.")
        other = ~per_kg & ~(in_mg & ~np.isnan(weight)) & ~np.isnan(dose)
        if other.any():
            units = ", ".join(map(repr, pd.unique(unit[other].fillna("(none)"))[:5]))
            notes.append(f"{name}: {int(other.sum())} dose(s) with unit {units} cannot be given in mg/kg; the dose "
                         "is left empty for them.")
    if "EXROUTE" in frame.columns:
        doses["route"] = frame["EXROUTE"].astype("string").str.strip().replace("", pd.NA)
    doses = doses.dropna(subset=["time_hours"]).sort_values(["patient_id", "time_hours"], kind="stable")
    doses = doses.drop_duplicates(["patient_id", "time_hours"])
    doses["infusion_number"] = doses.groupby("patient_id").cumcount() + 1
    notes.append(f"{name}: {len(doses)} dose(s) of {doses['patient_id'].nunique()} patient(s); starts from {how}; "
                 "route from EXROUTE; each dose is an infusion, and each rating follows the last dose started at or "
                 "before it.")
    return doses


# --------------------------------------------------------------------------------------------
# ADTTE


def read_adtte(source: Any, *, parameter: str | None = None, time_unit: str | None = None,
               treatment: str | None = None) -> pd.DataFrame:
    """An ADaM time-to-event dataset as a table ready for ``kaplan_meier`` and ``cox``.

    Parameters
    ----------
    source : path, upload object or DataFrame of an ADTTE dataset (``.xpt``/``.sas7bdat``).
    parameter : the PARAMCD to keep when the dataset holds several (default: all, one row per
        subject and parameter).
    time_unit : unit of AVAL when the file does not say it (no ``AVALU``); default "days".
    treatment : treatment variable (default the first of TRTP, TRT01P, TRTA, TRT01A, ARM).

    Returns
    -------
    DataFrame with ``patient_id`` (USUBJID), ``parameter`` (PARAMCD), ``parameter_label``
    (PARAM), ``time_<unit>`` (AVAL), ``event`` (1 - CNSR: 1 = event, 0 = censored),
    ``treatment``, and covariates (``age``, ``sex`` and the other subject-level variables, dates
    left out). ``attrs``: ``time_column``, ``time_unit``, ``notes``.

    Raises
    ------
    DataError when USUBJID, PARAMCD, AVAL or CNSR is missing, or CNSR is not 0/1.
    """
    frame = source if isinstance(source, pd.DataFrame) else read_dataset(source)
    missing = [c for c in ("USUBJID", "PARAMCD", "AVAL", "CNSR") if c not in frame.columns]
    if missing:
        raise _error(f"not an ADTTE dataset: {', '.join(missing)} missing (needed: USUBJID, PARAMCD, AVAL, "
                     "CNSR).", "The time-to-event dataset cannot be read.", missing[0])
    notes: list[str] = []
    rows = np.arange(1, len(frame) + 1)  # each row's observation in the file, kept through the selection
    if parameter is not None:
        chosen = (frame["PARAMCD"].astype("string").str.strip() == parameter).to_numpy()
        frame, rows = frame[chosen], rows[chosen]
        if frame.empty:
            raise _error(f"PARAMCD {parameter!r} is not in the dataset.", "No such parameter.", "PARAMCD")
    censor = pd.to_numeric(frame["CNSR"], errors="coerce")
    bad = np.flatnonzero(~censor.isin([0, 1]).to_numpy())
    if len(bad):
        file_rows, locations = _where("ADTTE", frame, bad, rows, "PARAMCD")
        raise _error(f"CNSR must be 0 (event) or 1 (censored); {len(bad)} row(s) hold something else "
                     f"(first value {frame['CNSR'].iloc[bad[0]]!r}).", "CNSR is not 0/1.", "CNSR", file_rows,
                     locations)
    unit = time_unit
    if "AVALU" in frame.columns and frame["AVALU"].astype("string").str.strip().nunique() == 1:
        unit = str(frame["AVALU"].iloc[0]).strip().lower()
        notes.append(f"AVAL in {unit} (AVALU).")
    elif unit is None:
        unit = "days"
        notes.append("AVAL's unit is not in the file (no AVALU); taken as days (pass time_unit= otherwise).")
    else:
        notes.append(f"AVAL in {unit} (time_unit={time_unit!r}).")
    unit = unit.rstrip("s") + "s" if unit else "days"
    time_column = f"time_{unit}"
    out = pd.DataFrame({
        "patient_id": frame["USUBJID"].astype("string").str.strip().to_numpy(),
        "parameter": frame["PARAMCD"].astype("string").str.strip().to_numpy(),
        "parameter_label": (frame["PARAM"] if "PARAM" in frame.columns else frame["PARAMCD"])
        .astype("string").str.strip().to_numpy(),
        time_column: pd.to_numeric(frame["AVAL"], errors="coerce").to_numpy(dtype="float64"),
        "event": (1 - censor).astype("int64").to_numpy(),
    })
    treatment = treatment or next((c for c in ("TRTP", "TRT01P", "TRTA", "TRT01A", "ARM") if c in frame.columns),
                                  None)
    if treatment:
        out["treatment"] = frame[treatment].astype("string").str.strip().to_numpy()
        notes.append(f"treatment from {treatment}.")
    skip = {"STUDYID", "USUBJID", "SUBJID", "PARAMCD", "PARAM", "PARAMN", "AVAL", "AVALU", "CNSR", treatment,
            "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ"}
    dates = [c for c in frame.columns if c not in skip and _is_date_variable(frame, c)]
    for column in frame.columns:
        if column not in skip and column not in dates:
            out[_PATIENT_RENAME.get(column, column)] = frame[column].to_numpy()
    events = int(out["event"].sum())
    notes.append(f"{len(out)} row(s), {events} event(s) (CNSR = 0) and {len(out) - events} censored (CNSR = 1); "
                 f"USUBJID is the patient; dates not passed on: {', '.join(dates) or 'none'}.")
    out.attrs.update(time_column=time_column, time_unit=unit, notes=notes)
    return out


# --------------------------------------------------------------------------------------------
# Suggesting a mapping


def suggest(frames: dict[str, pd.DataFrame], **hints: Any) -> Any:
    """The :class:`analysis.Mapping` (layout ``"cdisc"``) these datasets would be read with.

    ``hints`` are Mapping fields (``instrument=``, ``columns=``, ``visit_times=``,
    ``record_filters=``) and win over the guesses; ``Mapping.describe()`` gives the reasons.
    The suggested record filters are the defaults (DTYPE empty, ANL01FL == "Y") for the BDS
    datasets that have those columns.
    """
    from analysis.mapping import Mapping

    if isinstance(frames, pd.DataFrame):
        frames = {str(frames.attrs.get("table_name") or "DATA").upper(): frames}
    kinds = classify(frames)
    settings = _settings(hints)
    columns: dict[str, str] = {"patient_id": "USUBJID"}
    reasons: dict[str, str] = {
        "layout": "layout cdisc: " + "; ".join(
            f"{n} read as {'SDTM findings (' + str(_findings_prefix(frames[n])) + ')' if k == 'findings' else k}"
            for n, k in kinds.items()),
        "patient_id": "column 'USUBJID' read as patient id (CDISC: the unique subject id, never STUDYID)"}
    for name, kind in kinds.items():
        frame = frames[name]
        p = _findings_prefix(frame) if kind == "findings" else None
        candidates = {"BDS": (("score", "AVAL"), ("instrument", "PARAMCD"), ("study_day", "ADY"),
                              ("visit", "AVISIT" if "AVISIT" in frame.columns else "VISIT"),
                              ("visit_number", "AVISITN")),
                      "findings": (("score", f"{p}STRESN"), ("instrument", f"{p}CAT"), ("item", f"{p}TESTCD"),
                                   ("study_day", f"{p}DY"), ("elapsed_iso", f"{p}ELTM"), ("visit", "VISIT"),
                                   ("visit_number", "VISITNUM"))}.get(kind, ())
        for role, column in candidates:
            if column in frame.columns and role not in columns:
                columns[role] = column
                why = {"visit": " (AVISIT preferred over VISIT)" if column == "AVISIT" and "VISIT" in frame.columns
                       else "", "study_day": " (day 1 = first dose, no day 0)",
                       "instrument": " through the instrument registry's aliases",
                       "item": " (item number = its last two digits)"}.get(role, "")
                reasons[role] = f"column {column!r} of {name} read as {role.replace('_', ' ')}{why}"
    columns.update(settings["columns"])
    bds_columns = {c for n, k in kinds.items() if k == "BDS" for c in frames[n].columns}
    filters = tuple(f for f in settings["record_filters"] if f[0] in bds_columns)
    if filters:
        reasons["record_filters"] = "derived ADaM records (DTYPE not empty, e.g. LOCF) are left out, and only " \
            "records flagged ANL01FL = 'Y' kept when the flag exists"
    ambiguities = []
    if any(k == "BDS" for k in kinds.values()) and any(k == "findings" for k in kinds.values()):
        ambiguities.append("both SDTM findings and ADaM BDS datasets are present: both are read; remove one if "
                           "they hold the same ratings")
    return Mapping(layout="cdisc", columns=columns, instrument=settings["instrument"], time_unit=None,
                   visit_times=settings["visit_times"], record_filters=filters, reasons=reasons,
                   ambiguities=tuple(ambiguities))
