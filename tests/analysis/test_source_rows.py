"""Load errors name the file and the row a person finds there (issue 8: rows of REDCap and CDISC sources).

REDCap fixtures are written here line by line, so the line of every record is known by construction
(not by the parser under test): blank lines, CRLF line ends, a byte-order mark and a quoted notes field
spanning two lines. CDISC fixtures put ratings in QS and RS at the same row numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import cdisc, redcap
from analysis.contract import DataError

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"

API_DICTIONARY = [
    "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,"
    "text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier",
    "record_id,visit,,text,Record ID,,,,,,",
    'sex,visit,,radio,Sex,"0, Female | 1, Male",,,,,',
    "comments,visit,,notes,Comments,,,,,,",
    "madrs_total,visit,,text,MADRS total,,,integer,0,60,",
]
WEB_HEADER = ("Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"
              '"Choices, Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider Number,'
              "Text Validation Min,Text Validation Max,Identifier?")


def write(path: Path, lines: list[str], *, crlf: bool = False, bom: bool = False) -> Path:
    text = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def project(folder: Path, records: list[str], dictionary: list[str] = API_DICTIONARY, **style: bool) -> Path:
    folder.mkdir(exist_ok=True)
    write(folder / "data.csv", records, **style)
    write(folder / "dictionary.csv", dictionary, **style)
    return folder


# Records: line 3 is blank, record 2's comment spans lines 4-5, line 7 is blank; record 4 (line 8 in a
# text editor) has a MADRS total of 75 (range 0-60). A spreadsheet shows one row per record and per
# blank line: header 1, record 1 on 2, blank 3, record 2 on 4, record 3 on 5, blank 6, record 4 on 7.
RECORDS = [
    "record_id,redcap_event_name,sex,comments,madrs_total,visit_complete",  # line 1
    "1,day_7,0,fine,20,2",                                      # line 2
    "",                                                   # line 3
    '2,day_7,1,"first line',                                    # line 4
    'second line",25,2',                                  # line 5
    "3,day_7,0,,30,2",                                          # line 6
    "",                                                   # line 7
    "4,day_7,1,,75,2",                                          # line 8
]


@pytest.mark.parametrize("style", [{}, {"crlf": True}, {"bom": True}, {"crlf": True, "bom": True}])
def test_redcap_row_is_the_line_a_spreadsheet_shows_with_the_text_editor_line(tmp_path: Path, style: dict):
    folder = project(tmp_path / "export", RECORDS, **style)
    with pytest.raises(DataError) as raised:
        analysis.load(folder)
    problem = raised.value.problems.iloc[0]
    assert "75" in problem["message"]
    assert problem["row"] == 6  # spreadsheet row 7, the header being row 1
    assert problem["location"] == ("line 7 of data.csv as a spreadsheet shows it (line 8 in a text editor: a quoted "
                                   "field above spans several lines) (record 4)")
    assert "the header is line 1" in str(raised.value)  # the convention, said once
    assert str(raised.value).count("the header is line 1") == 1


def test_redcap_blank_lines_alone_keep_line_numbers(tmp_path: Path):
    records = ["record_id,redcap_event_name,sex,comments,madrs_total,visit_complete", "", "", "1,day_7,0,,20,2", ",,,,,", "2,day_7,1,,61,2"]
    with pytest.raises(DataError) as raised:
        analysis.load(project(tmp_path / "export", records))
    problem = raised.value.problems.iloc[0]
    assert problem["location"] == "line 6 of data.csv (record 2)" and problem["row"] == 5


def test_redcap_web_style_dictionary_and_label_style_records(tmp_path: Path):
    dictionary = [WEB_HEADER] + [line.rsplit(",", 0)[0] for line in API_DICTIONARY[1:]]
    # Label-style export: headers are the field labels, choices written as labels.
    records = ["Record ID,Event Name,Sex,Comments,MADRS total,Complete?", "1,Day 7,Female,,20,Complete", "",
               '2,Day 7,Male,"two\r\nlines",99,Complete']
    with pytest.raises(DataError) as raised:
        analysis.load(project(tmp_path / "export", records, dictionary))
    problem = raised.value.problems.iloc[0]
    assert "99" in problem["message"]
    assert problem["location"].startswith("line 4 of data.csv") and "(record 2)" in problem["location"]


def test_redcap_score_that_is_not_a_number_is_an_error_naming_its_line(tmp_path: Path):
    records = ["record_id,redcap_event_name,sex,comments,madrs_total,visit_complete", "1,day_7,0,,20,2", "", "2,day_7,1,,twelve,2"]
    with pytest.raises(DataError) as raised:
        analysis.load(project(tmp_path / "export", records))
    problem = raised.value.problems.iloc[0]
    assert "twelve" in problem["value"] + problem["message"]
    assert problem["location"] == "line 4 of data.csv (record 2)"


def test_redcap_line_with_too_many_cells_is_named(tmp_path: Path):
    records = ["record_id,redcap_event_name,sex,comments,madrs_total,visit_complete", "1,day_7,0,,20,2", "",
               "2,day_7,1,said hello, then left,25,2"]
    with pytest.raises(DataError, match=r"line 4 of data.csv has 7 cells but the header \(line 1\) has 6"):
        analysis.load(project(tmp_path / "export", records))


def test_redcap_unknown_choice_and_broken_dictionary_line_are_said_with_lines(tmp_path: Path):
    dictionary = API_DICTIONARY[:2] + ['sex,visit,,radio,Sex,"0 Female | 1, Male",,,,,'] + API_DICTIONARY[3:]
    records = ["record_id,redcap_event_name,sex,comments,madrs_total,visit_complete", "1,day_7,0,,20,2", "", "2,day_7,7,,25,2"]
    data = analysis.load(project(tmp_path / "export", records, dictionary))
    said = " ".join(w.message for w in data.warnings)
    assert "'sex' (line 3 of dictionary.csv)" in said and "'0 Female'" in said
    assert "'7' is not one of its choices" in said and "line 4 of data.csv" in said
    assert data.patients.set_index("patient_id").loc["2", "sex"] == "7"  # kept as written, not lost


def test_redcap_records_as_dataframe_name_rows_of_the_records():
    records = pd.DataFrame({"record_id": ["1", "2"], "madrs_total": ["20", "70"], "visit_complete": ["2", "2"]})
    dictionary = pd.DataFrame({"field_name": ["record_id", "madrs_total"], "form_name": "visit",
                               "field_type": ["text", "text"], "text_validation_type_or_show_slider_number":
                               ["", "integer"]})
    long_frame, _ = redcap.to_long(records, dictionary, origins=True)
    assert list(long_frame["source_file_row"]) == [1, 2] and set(long_frame["source_file"]) == {"records"}


# --------------------------------------------------------------------------------------------
# CDISC: QS and RS rows with the same numbers


def sdtm(qs_scores: list[float], rs_scores: list[float]) -> dict[str, pd.DataFrame]:
    """QS (MADRS totals) and RS (HAM-D17 totals) of one patient at days -1, 8, 15: row N of each file."""
    days = [-1.0, 8.0, 15.0]
    qs = pd.DataFrame({"STUDYID": "S", "DOMAIN": "QS", "USUBJID": "S-001", "QSCAT": "MADRS",
                       "QSTESTCD": "MADRS111", "QSTEST": "MADRS1-Total Score", "QSSTRESN": qs_scores, "QSDY": days,
                       "QSBLFL": ["Y", "", ""]})
    rs = pd.DataFrame({"STUDYID": "S", "DOMAIN": "RS", "USUBJID": "S-001", "RSCAT": "HAMD 17",
                       "RSTESTCD": "HAMD118", "RSTEST": "HAMD1-Total Score", "RSSTRESN": rs_scores, "RSDY": days,
                       "RSBLFL": ["Y", "", ""]})
    return {"QS": qs, "RS": rs}


def write_xpt(folder: Path, frames: dict[str, pd.DataFrame]) -> Path:
    import pyreadstat

    folder.mkdir(exist_ok=True)
    for name, frame in frames.items():
        pyreadstat.write_xport(frame, str(folder / f"{name.lower()}.xpt"), table_name=name)
    return folder


def test_qs_and_rs_problems_at_the_same_row_name_their_file(tmp_path: Path):
    folder = write_xpt(tmp_path / "sdtm", sdtm([30.0, 99.0, 20.0], [25.0, 70.0, 15.0]))  # row 2 of each
    with pytest.raises(DataError) as raised:
        analysis.load(folder)
    locations = set(raised.value.problems["location"])
    assert {"qs.xpt row 2 (USUBJID S-001, QSTESTCD MADRS111)",
            "rs.xpt row 2 (USUBJID S-001, RSTESTCD HAMD118)"} <= locations
    assert list(raised.value.problems["row"].dropna()) == [2, 2]


def test_assessments_carry_source_file_beside_source_row(tmp_path: Path):
    import pyreadstat

    data = analysis.load(write_xpt(tmp_path / "sdtm", sdtm([30.0, 20.0, 10.0], [25.0, 15.0, 9.0])))
    a = data.assessments
    assert isinstance(a["source_file"].dtype, pd.CategoricalDtype)
    assert set(a["source_file"].cat.categories) == {"qs.xpt", "rs.xpt"}
    assert not a.duplicated(["source_file", "source_row"]).any()
    assert a.duplicated("source_row").any()  # the case the file is needed for
    for file, column in (("qs.xpt", "QSSTRESN"), ("rs.xpt", "RSSTRESN")):  # each row read back independently
        written, _ = pyreadstat.read_xport(str(tmp_path / "sdtm" / file))
        mine = a[a["source_file"] == file]
        np.testing.assert_array_equal(mine["score"].to_numpy(),
                                      written[column].to_numpy()[mine["source_row"].to_numpy() - 1])


def test_conflicting_and_identical_ratings_across_files_name_both(tmp_path: Path):
    frames = sdtm([30.0, 20.0, 10.0], [25.0, 15.0, 9.0])
    extra = frames["QS"].iloc[[1]].assign(QSSTRESN=22.0)  # MADRS on day 8 again, another score: qs row 4
    frames["QS"] = pd.concat([frames["QS"], extra], ignore_index=True)
    frames["RS2"] = frames["RS"].iloc[[2]].assign(DOMAIN="RS")  # the day-15 HAM-D repeated exactly: rs2 row 1
    with pytest.raises(DataError) as raised:
        analysis.load(write_xpt(tmp_path / "sdtm", frames))
    text = str(raised.value)
    assert "(20 in qs.xpt row 2, 22 in qs.xpt row 4)" in text
    frames["QS"] = frames["QS"].iloc[:3]
    data = analysis.load(write_xpt(tmp_path / "sdtm2", frames))
    duplicate = next(w for w in data.warnings if w.code == "identical_duplicates")
    assert "rs2.xpt row 1" in duplicate.message and duplicate.rows == (1,)


def test_study_day_error_in_adam_names_the_file_row_after_left_out_records(tmp_path: Path):
    bds = pd.DataFrame({"USUBJID": ["S-1"] * 5, "PARAMCD": "MADRS", "PARAM": "MADRS Total Score",
                        "AVAL": [20.0, 20.0, 25.0, 18.0, 17.0], "ABLFL": ["", "", "Y", "", ""],
                        "ADY": [15.0, 29.0, -1.0, 8.0, 0.0], "DTYPE": ["LOCF", "LOCF", "", "", ""]})
    with pytest.raises(DataError) as raised:
        analysis.load(write_xpt(tmp_path / "adam", {"ADMADRS": bds}))
    problem = raised.value.problems.iloc[0]
    assert problem["row"] == 5 and problem["location"] == "admadrs.xpt row 5 (USUBJID S-1, PARAMCD MADRS)"


def test_adtte_cnsr_error_names_the_row_of_the_file_after_choosing_a_parameter():
    adtte = pd.DataFrame({"USUBJID": ["A", "A", "B", "B"], "PARAMCD": ["TTR", "TTE", "TTR", "TTE"],
                          "AVAL": [3.0, 4.0, 5.0, 6.0], "CNSR": [0, 1, 0, 7]})
    with pytest.raises(DataError) as raised:
        cdisc.read_adtte(adtte, parameter="TTE")
    problem = raised.value.problems.iloc[0]
    assert problem["row"] == 4 and problem["location"] == "ADTTE row 4 (USUBJID B, PARAMCD TTE)"


def test_plain_csv_messages_keep_their_form(tmp_path: Path):
    path = tmp_path / "ratings.csv"
    path.write_text("patient_id,instrument,score,time_hours\nP1,MADRS,30,0\nP1,MADRZ,20,24\nP2,MADRZ,20,0\n")
    with pytest.raises(DataError) as raised:
        analysis.load(path)
    assert "(rows 2, 3)" in str(raised.value) and "row 2 (line 3 of ratings.csv)" in str(raised.value)


# --------------------------------------------------------------------------------------------
# Real public exports


@pytest.mark.skipif(not (REALDATA / "redcap").is_dir(), reason="../shared/realdata/redcap is not present")
def test_real_redcap_export_with_a_broken_line_names_it(tmp_path: Path):
    source = REALDATA / "redcap" / "repeating-instruments"
    lines = (source / "data.csv").read_text(encoding="utf-8-sig").splitlines()
    broken = lines[:3] + [""] + [lines[3] + ",extra cell"] + lines[4:]  # a blank line, then a line too long
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "data.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    (folder / "dictionary.csv").write_bytes((source / "dictionary.csv").read_bytes())
    with pytest.raises(DataError, match=r"line 5 of data.csv has \d+ cells but the header \(line 1\) has"):
        redcap.read(folder)
