"""Data read from several files: every row a message or warning names is traced to its file.

References are independent of the loader: line numbers are found by reading the written file's
text, observation numbers by pyreadstat, duplicates by the frames written.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.contract import DataError, DataWarning
from tests.analysis.test_cdisc import make_sdtm


def _write_xpt(frame: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    pyreadstat.write_xport(frame, str(path), table_name=path.stem.upper())


def _line_of(path: Path, needle: str) -> int:
    """The line (1 = the header) of the only line of ``path`` holding ``needle``."""
    lines = [n for n, text in enumerate(path.read_text().splitlines(), start=1) if needle in text]
    assert len(lines) == 1
    return lines[0]


def test_a_csv_in_a_cdisc_folder_is_numbered_by_its_lines(tmp_path: Path):
    frames = make_sdtm()
    qs = frames["QS"]
    qs.loc[21, "QSSTRESN"] = 99.0  # a MADRS total beyond 60
    qs.loc[21, "VISIT"] = "DAY 1 MARKED"
    text = qs.to_csv(index=False).splitlines()
    text.insert(6, "")  # a blank line above the bad row: it shows as an empty spreadsheet row
    (tmp_path / "qs.csv").write_text("\n".join(text) + "\n")
    for name in ("DM", "EX"):
        _write_xpt(frames[name], tmp_path / f"{name.lower()}.xpt")
    line = _line_of(tmp_path / "qs.csv", "DAY 1 MARKED")
    assert line == 24  # header + 21 rows above + the blank line
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problem = raised.value.problems.iloc[0]
    assert "99" in problem["message"]
    assert problem["row"] == line - 1
    assert problem["location"].startswith(f"line {line} of qs.csv (USUBJID KET-01-001")


def test_a_study_day_error_in_a_cdisc_csv_names_its_line(tmp_path: Path):
    frames = make_sdtm()
    qs = frames["QS"]
    qs.loc[30, "QSDY"] = 0
    qs.loc[30, "VISIT"] = "DAY ZERO"
    text = qs.to_csv(index=False).splitlines()
    text.insert(3, "")
    (tmp_path / "qs.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path, layout="cdisc")  # CSV files only: the layout is said
    line = _line_of(tmp_path / "qs.csv", "DAY ZERO")
    assert list(raised.value.problems["row"]) == [line - 1]
    assert raised.value.problems["location"].iloc[0].startswith(f"line {line} of qs.csv")


def test_warnings_name_the_file_of_each_row_across_cdisc_datasets(tmp_path: Path):
    frames = make_sdtm()
    # One exact duplicate in each of QS and RS (observation 5 repeated as the last observation).
    for name in ("QS", "RS"):
        frames[name] = pd.concat([frames[name], frames[name].iloc[[4]]], ignore_index=True)
    for name in ("QS", "RS", "DM", "EX"):
        _write_xpt(frames[name], tmp_path / f"{name.lower()}.xpt")
    data = analysis.load(tmp_path)
    warning = next(w for w in data.warnings if w.code == "identical_duplicates")
    got = sorted(zip(warning.files, warning.rows, strict=True))
    # validation keeps the first of two identical rows and drops the later one
    assert got == [("qs.xpt", len(frames["QS"])), ("rs.xpt", len(frames["RS"]))]
    assert "qs.xpt" in str(warning) and "rs.xpt" in str(warning)


def test_warnings_of_the_table_form_name_their_table_file(tmp_path: Path):
    sample = analysis.load_sample()
    assessments = sample.assessments.drop(columns=["source_row"])
    assessments = pd.concat([assessments, assessments.iloc[[2]]], ignore_index=True)
    patients = pd.concat([sample.patients, sample.patients.iloc[[0]]], ignore_index=True)
    assessments.to_csv(tmp_path / "assessments.csv", index=False)
    patients.to_csv(tmp_path / "patients.csv", index=False)
    data = analysis.load(tmp_path)
    duplicates = {w.table: w for w in data.warnings if w.code == "identical_duplicates"}
    assert duplicates["assessments"].rows == (len(assessments),)
    assert duplicates["assessments"].files == ("assessments.csv",)
    assert duplicates["patients"].rows == (len(patients),) and duplicates["patients"].files == ("patients.csv",)
    assert str(duplicates["patients"]).endswith("(rows of patients.csv)")
    # one file read: nothing to name
    single = analysis.load(assessments=tmp_path / "assessments.csv")
    assert all(w.files == () for w in single.warnings)


def test_warning_files_survive_a_json_round_trip_and_must_match_the_rows():
    warning = DataWarning("identical_duplicates", "2 rows dropped", 2, rows=(3, 9), files=("qs.xpt", "rs.xpt"))
    stored = json.loads(json.dumps(asdict(warning)))
    assert DataWarning(**stored) == warning
    assert str(warning) == "2 rows dropped (rows of qs.xpt, rs.xpt)"
    assert str(DataWarning("x", "rows 3 of qs.xpt", 1, rows=(3,), files=("qs.xpt",))) == "rows 3 of qs.xpt"
    assert np.array_equal(DataWarning("x", "m", 1).files, ())
    with pytest.raises(ValueError, match="1 file name"):
        DataWarning("x", "m", 2, rows=(1, 2), files=("a.csv",))


def test_a_patient_level_value_is_named_by_its_dm_observation(tmp_path: Path):
    # Patient 2's age (observation 2 of DM) is 150; the messages used to name the patient's first
    # rating in QS instead, a row where no age is written.
    frames = make_sdtm()
    frames["DM"].loc[1, "AGE"] = 150.0
    for name in ("QS", "RS", "DM", "EX"):
        _write_xpt(frames[name], tmp_path / f"{name.lower()}.xpt")
    patient = frames["DM"].loc[1, "USUBJID"]
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problem = raised.value.problems.iloc[0]
    assert "150" in problem["message"] and problem["table"] == "patients"
    assert problem["row"] == 2
    assert problem["location"] == f"dm.xpt row 2 (USUBJID {patient})"


def _merged_workbook(path, title: bool = False):
    """A long sheet whose patient ids are merged over each patient's rows, as clinics keep them;
    optionally below a title and beside an empty column A."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    top, left = (4, 2) if title else (1, 1)
    if title:
        sheet["A1"] = "Ketamine clinic ratings"
    rows = [["Patient", "Visit", "MADRS"], ["K1", "Baseline", 30], [None, "Day 1", 20], [None, "Day 7", 12],
            ["K2", "Baseline", 28], [None, "Day 1", 25]]
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            sheet.cell(row=top + i, column=left + j, value=value)
    column = openpyxl.utils.get_column_letter(left)
    sheet.merge_cells(f"{column}{top + 1}:{column}{top + 3}")
    sheet.merge_cells(f"{column}{top + 4}:{column}{top + 5}")
    book.save(path)
    return path


@pytest.mark.parametrize("title", [False, True])
def test_patient_ids_merged_over_their_rows_are_read_on_every_row(tmp_path, title):
    """Refused before: 'patient_id is empty' for every row but a patient's first."""
    data = analysis.load(_merged_workbook(tmp_path / "clinic.xlsx", title))
    got = data.assessments[["patient_id", "score", "source_row"]].astype(str).values.tolist()
    first = 4 if title else 1  # data rows as numbered in the sheet (spreadsheet row - 1)
    assert got == [["K1", "30.0", str(first)], ["K1", "20.0", str(first + 1)], ["K1", "12.0", str(first + 2)],
                   ["K2", "28.0", str(first + 3)], ["K2", "25.0", str(first + 4)]]
    assert any("merged down the column(s) 'Patient'" in w.message for w in data.warnings)
    assert list(data.patients.columns) == ["patient_id", "age", "sex", "diagnosis"]  # no empty column A kept


def test_ids_written_once_per_block_in_a_csv_are_explained():
    text = "Patient,Visit,MADRS\nK1,Baseline,30\n,Day 1,20\nK2,Baseline,28\n"
    with pytest.raises(DataError, match="written once over its patient's rows, as merged cells are, fill the ids"):
        analysis.load(io.BytesIO(text.encode()))


def test_excel_error_cells_are_read_as_empty_and_said_by_their_cell(tmp_path):
    """A formula's #DIV/0! or #N/A came through as an empty cell without a word."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["Patient", "MADRS Baseline", "MADRS Day 1"], ["K1", 30, 20], ["K2", 28, None], ["K3", 25, None]):
        sheet.append(row)
    for ref, error in (("C3", "#DIV/0!"), ("C4", "#N/A")):
        sheet[ref].value, sheet[ref].data_type = error, "e"
    book.save(tmp_path / "clinic.xlsx")
    data = analysis.load(tmp_path / "clinic.xlsx")
    assert len(data.assessments) == 4
    assert "clinic.xlsx: 2 cell(s) hold Excel errors (#DIV/0! in C3, #N/A in C4: a formula that could not be " \
           "computed) and were read as empty" in " ".join(w.message for w in data.warnings)
