"""Loading and validation: every supported format, every kind of bad file, warnings, numbering.

References: the small dataset written out by hand in tests/data/make_files.py (SINGLE); every
expected value below is read off that text, never off the loader's own output.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.contract import ASSESSMENT_COLUMNS, INFUSION_COLUMNS, PATIENT_COLUMNS, DataError, OutcomeData

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD, BAD = DATA / "good", DATA / "bad"

# Expected content of every good file (from the SINGLE text in tests/data/make_files.py).
EXPECTED_ASSESSMENTS = pd.DataFrame({
    "patient_id": ["K01", "K01", "K01", "K01", "K01", "K02", "K02", "K03", "K03"],
    "instrument": ["CADSS", "MADRS", "MADRS", "MADRS", "MADRS", "MADRS", "MADRS", "MADRS", "MADRS"],
    "item": [None, None, None, 10, None, None, None, None, None],
    "score": [18.0, 32, 14, 2, 9, 28, 27, 30, 12],
    "time_hours": [0.67, -0.5, 4, 4, 72, -1, 24, -2, 168],
    "visit": ["40 min", "baseline", "4 h", "4 h", "jour 3 (réévaluation)", "baseline", "day 1", "baseline", "day 7"],
    "infusion_number": [1, None, 1, 1, 2, None, 1, None, 1],
    "source_row": [2, 1, 3, 4, 5, 6, 7, 8, 9],
})
EXPECTED_INFUSIONS = pd.DataFrame({
    "patient_id": ["K01", "K01", "K02", "K03"],
    "infusion_number": [1, 2, 1, 1],
    "time_hours": [0.0, 48, 0, 0],
    "dose_mg_per_kg": [0.5, 0.75, 0.5, 0.5],
    "route": ["IV", "IV", "IM", "intranasal"],
    "duration_min": [40.0, 40, np.nan, np.nan],
})
EXPECTED_PATIENTS = pd.DataFrame({
    "patient_id": ["K01", "K02", "K03"],
    "age": [41.0, 35, 63],
    "sex": ["F", "M", "F"],
    "diagnosis": ["TRD", "MDD", "bipolar"],
    "site": ["north", "south", "north"],
})


def _typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    for column, dtype in dtypes.items():
        if column in frame:
            if dtype == "Int64":
                frame[column] = pd.array([pd.NA if v is None or v != v else int(v) for v in frame[column]],
                                         dtype="Int64")
            else:
                frame[column] = frame[column].astype(dtype)
    if "site" in frame:
        frame["site"] = frame["site"].astype("string")
    return frame


def assert_matches_reference(data: OutcomeData, *, check_source_row: bool = True) -> None:
    expected = _typed(EXPECTED_ASSESSMENTS, ASSESSMENT_COLUMNS)
    actual = data.assessments
    if not check_source_row:
        expected, actual = expected.drop(columns="source_row"), actual.drop(columns="source_row")
    pd.testing.assert_frame_equal(actual, expected)
    pd.testing.assert_frame_equal(data.infusions, _typed(EXPECTED_INFUSIONS, INFUSION_COLUMNS))
    pd.testing.assert_frame_equal(data.patients, _typed(EXPECTED_PATIENTS, PATIENT_COLUMNS))


GOOD_SINGLE_FILES = ["single_utf8.csv", "single_utf8_bom.csv", "single_latin1.csv", "single_excel_semicolon.csv",
                     "single.tsv", "single.xlsx", "single.parquet"]


@pytest.mark.parametrize("name", GOOD_SINGLE_FILES)
def test_every_supported_format_loads_to_the_same_data(name):
    data = analysis.load(GOOD / name)
    assert isinstance(data, OutcomeData)
    assert_matches_reference(data)
    codes = [w.code for w in data.warnings]
    assert "extra_columns" in codes  # 'site' was classified, and said so
    (no_baseline,) = [w for w in data.warnings if w.code == "no_baseline"]
    assert no_baseline.patient_ids == ("K01",) and "CADSS" in no_baseline.message


def test_three_table_form_from_paths_and_from_a_directory():
    tables = GOOD / "tables"
    by_paths = analysis.load(assessments=tables / "assessments.csv", infusions=tables / "infusions.csv",
                             patients=tables / "patients.csv")
    assert_matches_reference(by_paths)
    assert_matches_reference(analysis.load(tables))


def test_three_table_form_from_dataframes_and_buffers():
    tables = GOOD / "tables"
    assessments = pd.read_csv(tables / "assessments.csv")
    infusions = io.BytesIO((tables / "infusions.csv").read_bytes())
    data = analysis.load(assessments=assessments, infusions=infusions, patients=str(tables / "patients.csv"))
    assert_matches_reference(data)


def test_three_table_form_reads_its_assessments_like_a_single_file(tmp_path):
    """Visit labels as times, times in weeks, and the keywords of load() apply to the assessments
    table of the three-table form too (they were refused as "no time column" or ignored)."""
    (tmp_path / "infusions.csv").write_text("patient_id,infusion_number,time_hours\nK1,1,0\nK2,1,0\n")
    (tmp_path / "assessments.csv").write_text("patient_id,score,visit\nK1,20,baseline\nK1,12,day 1\n"
                                              "K2,22,baseline\nK2,15,week 2\n")
    data = analysis.load(tmp_path, instrument="QIDS-SR16")
    assert data.assessments["time_hours"].tolist() == [0.0, 24.0, 0.0, 336.0]
    assert set(data.assessments["instrument"]) == {"QIDS-SR16"}
    assert any("visit labels" in sentence for sentence in data.mapping.describe())
    (tmp_path / "assessments.csv").write_text("patient_id,instrument,score,week\nK1,MADRS,30,0\nK1,MADRS,18,2\n")
    weeks = analysis.load(assessments=tmp_path / "assessments.csv", infusions=tmp_path / "infusions.csv")
    assert weeks.assessments["time_hours"].tolist() == [0.0, 336.0]
    # A problem of the mapping step names the table it is in (it said "file").
    (tmp_path / "assessments.csv").write_text("patient_id,score,visit\nK1,20,baseline\nK1,12,follow-up\n")
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path, instrument="MADRS")
    assert raised.value.problems[["table", "column"]].values.tolist() == [["assessments", "visit"]]


def test_missing_value_markers_are_empty_and_said_while_other_text_is_refused():
    """Clinic and SAS exports write '-', '.', 'ND' or 'not done' for a rating not taken: those rows
    are dropped as empty, the markers named; a word that is not a marker is still refused."""
    frame = pd.DataFrame({"patient_id": "K1", "instrument": "MADRS", "time_hours": [0, 24, 48, 72, 96],
                          "score": [30, "-", ".", "Not done", 12], "age": ["-", "-", "-", "-", "-"]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    data = analysis.load(io.BytesIO(buffer.getvalue()))
    assert data.assessments["score"].tolist() == [30.0, 12.0]
    dropped = next(w for w in data.warnings if w.code == "empty_score")
    assert dropped.rows == (2, 3, 4) and "'-', '.', 'Not done'" in dropped.message
    assert data.patients["age"].isna().all()
    with pytest.raises(DataError, match="score 'refused' is not a number"):
        analysis.load(frame.assign(score=[30, "refused", 20, 18, 12]))


def _grouped_excel(rows: list[list], merged: list[str]) -> bytes:
    """A sheet as a clinic lays it out by hand: ``rows`` from A1, the ``merged`` ranges merged."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_column_names_over_two_header_rows_are_joined():
    """An instrument in a merged cell over its visits ('MADRS' over 'Baseline', 'Day 1', 'Day 7')
    is one wide column per visit; the rows keep their spreadsheet numbers."""
    def files(day7: int) -> tuple[bytes, bytes]:  # (Excel with merged cells, the CSV Excel saves of it)
        rows = [["Patient", "Age", "MADRS", None, None, "QIDS", None],
                [None, None, "Baseline", "Day 1", "Day 7", "Baseline", "Day 7"],
                ["P1", 34, 30, 12, 20, 18, 10], ["P2", 51, 28, 25, day7, 15, 16]]
        csv = "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows) + "\n"
        return _grouped_excel(rows, ["C1:E1", "F1:G1"]), csv.encode()

    for wrong, right in zip(files(99), files(14), strict=True):
        with pytest.raises(DataError) as raised:  # 99 is out of the MADRS range: the message says where
            analysis.load(io.BytesIO(wrong))
        location = raised.value.problems["location"].iloc[0]
        assert "spreadsheet row 4 " in location or "line 4 " in location, location
        data = analysis.load(io.BytesIO(right))
        ratings = data.assessments.set_index(["patient_id", "instrument", "time_hours"])["score"]
        assert ratings[("P1", "MADRS", 168.0)] == 20 and ratings[("P2", "QIDS-SR16", 0.0)] == 15
        assert len(ratings) == 10 and data.patients["age"].tolist() == [34.0, 51.0]
        assert any("two header rows" in w.message for w in data.warnings)
    # Below a report title too: the title and both header rows are skipped, rows keep their numbers.
    titled = _grouped_excel([["Ketamine clinic - outcomes"], [], ["Patient", "MADRS", None, "PHQ-9", None],
                             [None, "Baseline", "Day 7", "Baseline", "Day 7"], ["C1", 30, 20, 18, 10],
                             ["C2", 28, "ND", 15, 16]], ["B3:C3", "D3:E3"])
    data = analysis.load(io.BytesIO(titled))
    assert len(data.assessments) == 7 and set(data.assessments["instrument"]) == {"MADRS", "PHQ-9"}
    assert next(w for w in data.warnings if w.code == "empty_score").rows == (5,)  # spreadsheet row 6
    # A column without a name in an ordinary table is not a second header row.
    plain = analysis.load(io.BytesIO(b"patient_id,instrument,score,time_hours,\nK1,MADRS,30,0,\nK1,MADRS,12,24,\n"))
    assert plain.assessments["score"].tolist() == [30.0, 12.0]


def test_a_sheets_summary_rows_are_not_read_as_patients():
    """'Mean' and 'SD' rows under the patients of a clinic sheet (after a blank row) would be two
    more patients in every count; they are left out and said, with their rows."""
    sheet = ("Patient,MADRS baseline,MADRS day 1,MADRS day 7\nC1,30,12,20\nC2,28,25,16\nC3,33,14,15\n,,,\n"
             "Mean:,30.3,17,17\nSD,2.5,7,2.6\n")
    data = analysis.load(io.BytesIO(sheet.encode()))
    assert data.n_patients == 3 and sorted(data.patients["patient_id"]) == ["C1", "C2", "C3"]
    said = next(w for w in data.warnings if w.code == "summary_rows")
    assert said.rows == (5, 6) and "'Mean:', 'SD'" in said.message
    long = analysis.load(pd.DataFrame({"patient_id": ["K1", "K1", "Total"], "instrument": "MADRS",
                                       "time_hours": [0, 24, 0], "score": [30, 12, 42]}))
    assert long.n_patients == 1


def test_a_hand_made_clinic_workbook_loads_as_it_is():
    """Everything at once, as a clinic keeps its sheet by hand: a report title, MADRS merged over
    its visits, units in brackets, a rating not done, a notes column, a mean row at the bottom.
    By hand: 4 patients x 3 visits less C2's 'ND' = 11 ratings; doses 35/70, 40/80, 30/60, 45/90 = 0.5 mg/kg."""
    rows = [["Ketamine clinic - outcomes 2024"], [],
            ["Patient", "Age (years)", "Weight (kg)", "Dose (mg)", "MADRS", None, None, "Notes"],
            [None, None, None, None, "Baseline", "Day 1", "Day 7", None],
            ["C1", 34, 70, 35, 30, 12, 20, "tolerated well, spoke with husband John"],
            ["C2", 51, 80, 40, 28, "ND", 16, None], ["C3", 45, 60, 30, 33, 14, 15, "mild dissociation"],
            ["C4", 29, 90, 45, 26, 10, 12, None], [], ["Mean", 39.8, 75, 37.5, 29.3, 12, 15.8, None]]
    data = analysis.load(io.BytesIO(_grouped_excel(rows, ["E3:G3"])))
    assert sorted(data.patients["patient_id"]) == ["C1", "C2", "C3", "C4"]
    assert len(data.assessments) == 11 and set(data.assessments["time_hours"]) == {0.0, 24.0, 168.0}
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5] * 4
    assert data.patients["age"].tolist() == [34, 51, 45, 29]
    assert "John" not in "\n".join([data.patients.to_csv(), *(str(w) for w in data.warnings)])
    codes = {w.code for w in data.warnings}
    assert {"empty_score", "summary_rows", "free_text_dropped"} <= codes


def _titled_excel(frame: pd.DataFrame, titles: list[list]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        pd.DataFrame(titles).to_excel(writer, index=False, header=False, sheet_name="Report")
        frame.to_excel(writer, index=False, startrow=len(titles), sheet_name="Report")
    return buffer.getvalue()


def _below_a_title() -> pd.DataFrame:
    """Three ratings in the long form, for the files with a title above them."""
    return pd.DataFrame({"patient_id": ["K1", "K1", "K2"], "instrument": "MADRS", "score": [30, 12, 28],
                         "time_days": [0, 7, 0]})


def test_a_title_above_the_column_names_is_skipped_and_rows_keep_their_file_numbers():
    """Clinic exports often open with a report title and a blank line: the column names below are
    found, and a problem names the line (or spreadsheet row) where it is in the file."""
    frame = _below_a_title()
    csv = "Ketamine clinic outcomes export\n\n" + frame.to_csv(index=False)
    data = analysis.load(io.BytesIO(csv.encode()))
    assert data.assessments["time_hours"].tolist() == [0.0, 168.0, 0.0]
    assert any("2 line(s) above the column names skipped" in w.message for w in data.warnings)
    excel = _titled_excel(frame, [["Ketamine clinic outcomes export"], ["Generated for the audit"], [None]])
    assert analysis.load(io.BytesIO(excel)).assessments["time_hours"].tolist() == [0.0, 168.0, 0.0]
    bad = frame.assign(score=[30, 12, 70])
    with pytest.raises(DataError) as raised:
        analysis.load(io.BytesIO(("Ketamine clinic outcomes export\n\n" + bad.to_csv(index=False)).encode()))
    assert "line 6 of" in raised.value.problems["location"].iloc[0]  # title, blank, names, K1, K1, K2
    with pytest.raises(DataError) as raised:
        analysis.load(io.BytesIO(_titled_excel(bad, [["Ketamine clinic outcomes export"], [None]])))
    assert "spreadsheet row 6 of" in raised.value.problems["location"].iloc[0]


def test_a_title_of_several_values_is_skipped_but_column_names_are_never_taken_for_one():
    """Report headers of two values ("Ketamine clinic export", "Generated 2024-05-01"; "Site",
    "Boston") above the column names are a title too. The first row holds the names whenever it
    can: an index column without a name, or names under which every row is filled, stay as read."""
    frame = _below_a_title()
    csv = "Ketamine clinic export,Generated for the audit,,\nSite,Boston,,\n,,,\n" + frame.to_csv(index=False)
    data = analysis.load(io.BytesIO(csv.encode()))
    assert data.assessments["time_hours"].tolist() == [0.0, 168.0, 0.0]
    assert any("3 line(s) above the column names skipped" in w.message for w in data.warnings)
    excel = _titled_excel(frame, [["Ketamine clinic export", "Generated for the audit"], ["Site", "Boston"], [None]])
    assert analysis.load(io.BytesIO(excel)).assessments["score"].tolist() == [30.0, 12.0, 28.0]
    indexed = analysis.load(io.BytesIO(frame.to_csv(index=True).encode()))  # ",patient_id,..." then "0,K1,..."
    assert indexed.assessments["score"].tolist() == [30.0, 12.0, 28.0]
    narrow = pd.DataFrame({"patient_id": ["K1", "K2"], "score": [30, 28]})  # names of two columns: not a title
    assert analysis.readers._title_lines(narrow.to_csv(index=False)) == 0
    assert analysis.readers._title_lines("a,b,c,d\n1,2,3,4\n5,6,7,8\n") == 0


class FakeUpload:
    """What Streamlit's UploadedFile offers: a name, getvalue() and read()."""

    def __init__(self, path: Path):
        self.name = path.name
        self._buffer = io.BytesIO(path.read_bytes())

    def getvalue(self) -> bytes:
        return self._buffer.getvalue()

    def read(self) -> bytes:
        return self._buffer.read()


@pytest.mark.parametrize("name", ["single_utf8.csv", "single.xlsx", "single.parquet"])
def test_upload_objects_bytes_and_file_handles(name):
    path = GOOD / name
    assert_matches_reference(analysis.load(FakeUpload(path)))
    assert_matches_reference(analysis.load(path.read_bytes()))
    with open(path, "rb") as handle:
        assert_matches_reference(analysis.load(handle))


def test_single_file_dataframe_rows_are_numbered_from_one():
    frame = pd.read_csv(GOOD / "single_utf8.csv")
    data = analysis.load(frame)
    assert_matches_reference(data)
    frame.loc[4, "score"] = 99
    with pytest.raises(DataError) as caught:
        analysis.load(frame)
    (problem,) = caught.value.problems.itertuples()
    assert problem.row == 5 and "position 4 in the DataFrame" in problem.location


def test_validated_tables_have_the_contract_dtypes():
    data = analysis.load(GOOD / "single_utf8.csv")
    for table, dtypes in ((data.assessments, ASSESSMENT_COLUMNS), (data.infusions, INFUSION_COLUMNS),
                          (data.patients, PATIENT_COLUMNS)):
        assert list(table.columns[:len(dtypes)]) == list(dtypes)
        for column, dtype in dtypes.items():
            assert table[column].dtype == dtype, (column, table[column].dtype)


# ----------------------------------------------------------------------------------------------
# Bad files: each with the message(s) it must give and the column concerned.

BAD_FILES = [
    ("empty.csv", ["empty.csv is empty"], ""),
    ("blank.csv", ["is empty"], ""),
    ("header_only.csv", ["has column names but no data rows"], ""),
    ("image.csv", ["is a PNG image, not a table"], ""),
    ("document.csv", ["is a PDF document, not a table"], ""),
    ("compressed.csv", ["gzip-compressed"], ""),
    ("web_page.csv", ["is a web page (HTML), not a table"], ""),
    ("binary.csv", ["binary file, not a text table"], ""),
    ("archive.xlsx", ["is a zip archive, not an Excel workbook"], ""),
    ("text.xlsx", ["named like an Excel workbook (.xlsx) but its content is text"], ""),
    ("text.parquet", ["named like a Parquet file (.parquet) but its content is text"], ""),
    ("ragged.csv", ["different number of values than the 4 column names"], ""),
    ("missing_columns.csv", ["Required column 'score' is missing", "Did you mean 'scor'?"], "score"),
    ("no_infusion_times.csv", ["describes 2 infusions for some patients but gives no infusion start times"],
     "infusion_time_hours"),
    ("no_time.csv", ["no time column", "Did you mean 'time_hour'?"], "time_hours"),
    ("unknown_instrument.csv", ["Unknown instrument 'MADSR'", "Did you mean 'MADRS'?"], "instrument"),
    ("score_out_of_range.csv", ["score 75 is outside the MADRS total score range 0-60",
                                "score 7 is outside the MADRS item range 0-6 (item 3)",
                                "score -2 is outside the PHQ-9 total score range 0-27"], "score"),
    ("item_too_high.csv", ["item 11 does not exist: MADRS has 10 items"], "item"),
    ("wrong_types.csv", ["score 'abc' is not a number", "time 'tomorrow' cannot be read as a number of hours"],
     "score"),
    ("conflicting_duplicates.csv", ["patient K01 has MADRS rated twice at 24 h with different scores "
                                    "(20 in row 2, 22 in row 3)"], "score"),
    ("varying_patient_column.csv", ["'age' is a patient-level column but varies within 1 patient(s): K01"], "age"),
    ("infusion_numbering.csv", ["infusion numbers of patient K01 are 1, 3; expected 1, 2"], "infusion_number"),
    ("first_infusion_not_zero.csv", ["the first infusion of patient K01 starts at 2 h"], "time_hours"),
    ("unknown_route.csv", ["Unknown route 'intravenus'", "Did you mean 'IV'?"], "route"),
    ("unknown_diagnosis.csv", ["Unknown diagnosis 'depresion'", "Did you mean 'MDD'?"], "diagnosis"),
    ("negative_dose.csv", ["dose -0.5 mg/kg is negative"], "dose_mg_per_kg"),
    ("dates_without_infusions.csv", ["no infusion dates to measure them from"], "assessment_date"),
    ("unreadable_dates.csv", ["assessment_date is empty or not a readable date"], "assessment_date"),
    ("email_column.csv", ["Column 'email' looks like e-mail addresses by its name"], "email"),
    ("phone_in_notes.csv", ["Column 'notes' looks like phone or fax numbers by its content"], "notes"),
    ("ssn_in_column.csv", ["Column 'ref' looks like social security numbers by its content"], "ref"),
    ("person_names.csv", ["Column 'clinician' looks like names by its content"], "clinician"),
    ("date_of_birth.csv", ["Column 'dob' looks like dates of birth"], "dob"),
    ("zip_codes.csv", ["Column 'residence_code' looks like ZIP codes by its content"], "residence_code"),
    ("street_address.csv", ["Column 'home' looks like street addresses"], "home"),
    ("mrn_patient_ids.csv", ["Column 'patient_id' looks like medical record numbers"], "patient_id"),
    ("ssn_as_score.csv", ["Column 'score' looks like social security numbers"], "score"),
    ("old_age.csv", ["ages above 89 identify people"], "age"),
    ("missing_patient", ["patient K09 is not in the patients table"], "patient_id"),
]


@pytest.mark.parametrize(("name", "messages", "column"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_refused_with_its_message(name, messages, column):
    with pytest.raises(DataError) as caught:
        analysis.load(BAD / name)
    error = caught.value
    text = str(error)
    for message in messages:
        assert message in text, f"{message!r} not in:\n{text}"
        assert error.problems["message"].str.contains(message, regex=False).any()
    assert list(error.problems.columns[:5]) == ["table", "row", "column", "value", "message"]
    if column:
        assert column in set(error.problems["column"])
    assert "Traceback" not in text


def test_bad_corpus_covers_every_bad_file():
    listed = {b[0] for b in BAD_FILES} | {"many_problems.csv"}
    assert {p.name for p in BAD.iterdir()} == listed


def test_all_problems_are_reported_at_once_with_rows_as_in_the_file():
    with pytest.raises(DataError) as caught:
        analysis.load(BAD / "many_problems.csv")
    problems = caught.value.problems
    # Lines 2-5 of the file hold four different problems: range, instrument, empty id, type.
    assert list(problems["row"]) == [1, 2, 3, 4]
    assert list(problems["location"]) == [f"row {r} (line {r + 1} of many_problems.csv)" for r in (1, 2, 3, 4)]
    assert "row 2 (line 3 of many_problems.csv)" in str(caught.value)
    assert "line 2 of the file" in caught.value.headline


IDENTIFYING_VALUES = {"email_column.csv": "jane.roe@example.org", "phone_in_notes.csv": "867-5309",
                      "ssn_in_column.csv": "078-05-1120", "person_names.csv": "Jane Roe",
                      "date_of_birth.csv": "1971", "zip_codes.csv": "02139", "street_address.csv": "Elm",
                      "mrn_patient_ids.csv": "40012345", "ssn_as_score.csv": "078-05-1120"}


@pytest.mark.parametrize("name", sorted(IDENTIFYING_VALUES))
def test_identifying_values_are_never_echoed(name):
    with pytest.raises(DataError) as caught:
        analysis.load(BAD / name)
    secret = IDENTIFYING_VALUES[name]
    assert secret not in str(caught.value)
    assert secret not in caught.value.problems.to_string()
    assert "masked" in str(caught.value)


def test_allow_identifiers_drops_the_columns_and_warns():
    data = analysis.load(BAD / "email_column.csv", allow_identifiers=True)
    assert "email" not in data.assessments.columns and "email" not in data.patients.columns
    (warning,) = [w for w in data.warnings if w.code == "identifiers_allowed"]
    assert "'email'" in warning.message and "jane" not in warning.message


def test_row_numbers_survive_a_blank_line_in_the_middle(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\n\nK01,MADRS,99,24\n")
    with pytest.raises(DataError) as caught:
        analysis.load(path)
    (problem,) = caught.value.problems.itertuples()
    assert problem.row == 3 and problem.location == "row 3 (line 4 of gaps.csv)"


def test_excel_messages_use_spreadsheet_rows(tmp_path):
    frame = pd.DataFrame({"patient_id": ["K01", "K01"], "instrument": ["MADRS", "MADRS"], "score": [30, 61],
                          "time_hours": [-1, 24]})
    frame.to_excel(tmp_path / "ratings.xlsx", index=False)
    with pytest.raises(DataError) as caught:
        analysis.load(tmp_path / "ratings.xlsx")
    assert "row 2 (spreadsheet row 3 of ratings.xlsx)" in str(caught.value)


# ----------------------------------------------------------------------------------------------
# Warnings: nothing dropped or assumed silently.


def test_empty_scores_and_identical_duplicates_are_dropped_with_warnings(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\nK01,MADRS,,4\n"
                    "K01,MADRS,20,24\nK01,MADRS,20,24\nK02,MADRS,25,2\n")
    data = analysis.load(path)
    warnings = {w.code: w for w in data.warnings}
    assert warnings["empty_score"].rows == (2,) and warnings["empty_score"].count == 1
    assert warnings["identical_duplicates"].rows == (4,)
    assert warnings["no_baseline"].patient_ids == ("K02",)
    assert warnings["assumed_infusion"].count == 2 and "one IV infusion at time 0" in warnings["assumed_infusion"].message
    assert list(data.assessments["source_row"]) == [1, 3, 5]
    assert list(data.infusions["route"]) == ["IV", "IV"] and list(data.infusions["time_hours"]) == [0.0, 0.0]


def test_calendar_dates_are_converted_to_hours_and_dropped():
    data = analysis.load(GOOD / "dates")
    # 08:30 vs first infusion at 09:00 -> -0.5 h; 13:00 -> 4 h; 7 March 09:00 -> 72 h; K02 infused at 10:00.
    assert list(data.assessments["time_hours"]) == [-0.5, 4.0, 72.0, -2.0, 24.0]
    assert list(data.infusions["time_hours"]) == [0.0, 48.0, 0.0]
    assert not any("date" in c for t in (data.assessments, data.infusions) for c in t.columns)
    assert sum(w.code == "dates_converted" for w in data.warnings) == 2


def test_time_units_aliases_and_case_are_normalised(tmp_path):
    path = tmp_path / "aliases.csv"
    path.write_text("USUBJID,Scale,Total_Score,time_days,route,diagnosis\nK01,madrs,30,-0.5,iv,Bipolar\n"
                    "K01,hamd,10,1,intravenous,Bipolar\n")
    data = analysis.load(path)
    assert list(data.assessments["instrument"]) == ["HAM-D17", "MADRS"]
    assert list(data.assessments["time_hours"]) == [24.0, -12.0]
    assert data.infusions["route"].tolist() == ["IV"] and data.patients["diagnosis"].tolist() == ["bipolar"]
    minutes = tmp_path / "minutes.csv"
    minutes.write_text("record_id,instrument,score,time_min\n7,MADRS,30,-30\n7,MADRS,20,240\n")
    assert analysis.load(minutes).assessments["time_hours"].tolist() == [-0.5, 4.0]


def test_unknown_columns_are_classified_by_constancy(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("patient_id,instrument,score,time_hours,cohort,rater_code,bmi\nK01,MADRS,30,-1,A,r1,24.5\n"
                    "K01,MADRS,20,24,A,r2,24.5\nK02,MADRS,25,-1,007,r1,31\n")
    data = analysis.load(path)
    assert data.patients["cohort"].tolist() == ["A", "007"]  # leading zeros kept
    assert data.patients["bmi"].tolist() == [24.5, 31.0]
    assert data.assessments["rater_code"].tolist() == ["r1", "r2", "r1"]
    (warning,) = [w for w in data.warnings if w.code == "extra_columns"]
    assert "'cohort', 'bmi' (constant within each patient) became patient covariates" in warning.message
    assert "'rater_code' (varying within patients) were kept on the assessments table" in warning.message


def test_misuse_of_the_api_is_a_type_error():
    with pytest.raises(TypeError):
        analysis.load()
    with pytest.raises(TypeError):
        analysis.load(GOOD / "single_utf8.csv", assessments=GOOD / "single_utf8.csv")


def test_sample_loads_in_both_forms_to_the_same_data():
    tables, single = analysis.load_sample(), analysis.load_sample(form="single")
    assert tables.n_patients == single.n_patients > 0
    columns = ["patient_id", "instrument", "item", "score", "time_hours"]
    pd.testing.assert_frame_equal(tables.assessments[columns], single.assessments[columns])
    pd.testing.assert_frame_equal(tables.infusions[["patient_id", "infusion_number", "time_hours"]],
                                  single.infusions[["patient_id", "infusion_number", "time_hours"]])
    assert repr(tables).startswith(f"OutcomeData({tables.n_patients} patients, {len(tables.assessments)} "
                                   f"ratings, {len(tables.infusions)} infusions")


def test_load_sample_rejects_an_unknown_form():
    with pytest.raises(ValueError, match="form must be"):
        analysis.load_sample(form="wide")


def test_workbook_with_named_sheets_is_the_three_table_form(tmp_path):
    tables = GOOD / "tables"
    path = tmp_path / "clinic.xlsx"
    with pd.ExcelWriter(path) as writer:
        for name in ("patients", "assessments", "infusions"):
            pd.read_csv(tables / f"{name}.csv").to_excel(writer, sheet_name=name.capitalize(), index=False)
    assert_matches_reference(analysis.load(path))


def test_other_workbooks_use_the_first_sheet_and_say_so(tmp_path):
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.read_csv(GOOD / "single_utf8.csv").to_excel(writer, sheet_name="ratings", index=False)
        pd.DataFrame({"note": ["x"]}).to_excel(writer, sheet_name="notes", index=False)
    data = analysis.load(path)
    assert_matches_reference(data)
    assert any(w.code == "reading" and "read the first, 'ratings'" in w.message for w in data.warnings)
    with pytest.raises(DataError, match="Required column 'patient_id' is missing"):
        analysis.load(path, sheet="notes")


def test_patients_without_any_infusion_row_are_listed(tmp_path):
    path = tmp_path / "dropout.csv"
    path.write_text("patient_id,instrument,score,time_hours,infusion_number,dose_mg_per_kg,route\n"
                    "K01,MADRS,30,-1,,,\nK01,MADRS,20,4,1,0.5,IV\nK02,MADRS,30,-1,,,\n")
    data = analysis.load(path)
    (warning,) = [w for w in data.warnings if w.code == "patients_without_infusions"]
    assert warning.patient_ids == ("K02",)
    assert data.infusions["patient_id"].tolist() == ["K01"]


def test_row_order_does_not_matter():
    frame = pd.read_csv(GOOD / "single_utf8.csv")
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    data = analysis.load(shuffled)
    # Same tables; source_row now points at the shuffled positions.
    assert_matches_reference(data, check_source_row=False)
    for rating in data.assessments.itertuples():
        assert shuffled.loc[rating.source_row - 1, "score"] == rating.score


def test_top_coded_ages_are_accepted(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("patient_id,instrument,score,time_hours,age\nK01,MADRS,30,-1,90+\nK02,MADRS,30,-1,>89\n"
                    "K03,MADRS,30,-1,45\n")
    assert analysis.load(path).patients["age"].tolist() == [90.0, 90.0, 45.0]


def test_single_file_with_calendar_dates(tmp_path):
    path = tmp_path / "dated.csv"
    path.write_text("patient_id,instrument,score,assessment_date,infusion_date,dose_mg_per_kg\n"
                    "K01,MADRS,32,2024-03-04 08:30,,\n"
                    "K01,MADRS,14,2024-03-04 13:00,2024-03-04 09:00,0.5\n"
                    "K01,MADRS,9,2024-03-07 09:00,2024-03-06 09:00,0.75\n"
                    "K02,MADRS,28,2024-05-01 08:00,,\n"
                    "K02,MADRS,27,2024-05-02 10:00,2024-05-01 10:00,0.5\n")
    data = analysis.load(path)
    assert data.assessments["time_hours"].tolist() == [-0.5, 4.0, 72.0, -2.0, 24.0]
    assert data.infusions[["infusion_number", "time_hours", "dose_mg_per_kg"]].to_numpy().tolist() == \
        [[1, 0.0, 0.5], [2, 48.0, 0.75], [1, 0.0, 0.5]]
    codes = {w.code for w in data.warnings}
    assert {"dates_converted", "infusion_numbers_derived"} <= codes
    assert not any("date" in c for t in (data.assessments, data.infusions, data.patients) for c in t.columns)


def test_single_infusions_need_no_start_time(tmp_path):
    (tmp_path / "assessments.csv").write_text("patient_id,instrument,score,time_hours\nK01,MADRS,30,-1\n"
                                              "K02,MADRS,20,-1\n")
    (tmp_path / "infusions.csv").write_text("patient_id,infusion_number,dose_mg_per_kg,route\nK01,1,0.5,IV\n"
                                            "K02,1,0.5,IM\n")
    data = analysis.load(tmp_path)
    assert data.infusions["time_hours"].tolist() == [0.0, 0.0]
    assert any(w.code == "infusion_times_assumed" for w in data.warnings)
    (tmp_path / "infusions.csv").write_text("patient_id,infusion_number,dose_mg_per_kg,route\nK01,1,0.5,IV\n"
                                            "K01,2,0.5,IV\nK02,1,0.5,IM\n")
    with pytest.raises(DataError, match="has no time column"):
        analysis.load(tmp_path)


def test_allow_identifiers_keeps_patient_ids_but_says_so():
    data = analysis.load(BAD / "old_age.csv", allow_identifiers=True)
    assert data.patients["age"].tolist() == [93.0]
    with pytest.raises(DataError, match="different scores"):  # other problems are still reported
        analysis.load(BAD / "mrn_patient_ids.csv", allow_identifiers=True)
    frame = pd.read_csv(BAD / "mrn_patient_ids.csv", dtype=str).iloc[:3]
    loaded = analysis.load(frame, allow_identifiers=True)
    assert loaded.n_patients == 3
    (warning,) = [w for w in loaded.warnings if w.code == "identifiers_allowed"]
    assert "kept 'patient_id'" in warning.message and "40012345" not in warning.message


@pytest.mark.parametrize(("source", "saved_as", "kind"), [
    ("single.xlsx", "export.csv", "an Excel workbook"),
    ("single.parquet", "export.csv", "a Parquet file"),
    ("single.xlsx", "export.parquet", "an Excel workbook"),
])
def test_binary_table_with_the_wrong_extension_is_read_with_a_warning(tmp_path, source, saved_as, kind):
    # read by content (refusing a readable table would help nobody), but never silently
    misnamed = tmp_path / saved_as
    misnamed.write_bytes((GOOD / source).read_bytes())
    data = analysis.load(misnamed)
    proper = analysis.load(GOOD / source)
    pd.testing.assert_frame_equal(data.assessments, proper.assessments)
    messages = [w.message for w in data.warnings if w.code == "reading"]
    assert any(f"{saved_as} is named like a {Path(saved_as).suffix} file but is {kind}" in m for m in messages)
    assert not any("named like" in w.message for w in proper.warnings)
