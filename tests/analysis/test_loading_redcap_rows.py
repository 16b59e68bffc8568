"""A REDCap export given as a folder of CSV files (records.csv + dictionary.csv): every error and
warning names the file and the line a spreadsheet shows (header = line 1, blank lines counted).

The export is written here line by line, so the line of every record is known by construction, not
by the parser under test. It has what real projects have: demographics entered once at an enrolment
event (a row without ratings), a repeating instrument (vital signs, two instances per visit), blank
lines, and the two header styles of REDCap's export ("raw": field names and codes; "label": field
labels and choice labels).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import analysis
from analysis.contract import DataError

DICTIONARY = [
    "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,"
    "text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier",
    "record_id,demographics,,text,Record ID,,,,,,",
    "age,demographics,,text,Age,,,integer,0,120,",
    'sex,demographics,,radio,Sex,"0, Female | 1, Male",,,,,',
    "madrs_total,madrs,,text,MADRS total,,,integer,0,60,",
    "bp_sys,vitals,,text,Systolic,,,integer,,,",
]
HEADERS = {
    "raw": "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,age,sex,"
           "demographics_complete,madrs_total,madrs_complete,bp_sys,vitals_complete",
    "label": "Record ID,Event Name,Repeat Instrument,Repeat Instance,Age,Sex,Complete?,MADRS total,Complete?,"
             "Systolic,Complete?",
}
EVENTS = {"raw": ("enrolment_arm_1", "baseline_arm_1", "day_1_arm_1", "day_7_arm_1"),
          "label": ("Enrolment", "Baseline", "Day 1", "Day 7")}
SEXES = {"raw": ("0", "1"), "label": ("Female", "Male")}
VITALS = {"raw": "vitals", "label": "Vitals"}
COMPLETE = {"raw": "2", "label": "Complete"}


def records(style: str, ages: dict[int, int] | None = None, madrs: dict[tuple[int, int], str] | None = None,
            repeat: tuple[int, int] | None = None) -> list[str]:
    """The records export, one list item per line (line 1 = the header). Per record: an enrolment
    row (age, sex), a baseline MADRS, two vital-sign instances at baseline, MADRS at days 1 and 7;
    a blank line after record 1 and another inside record 2. ``ages`` {record: age}, ``madrs``
    {(record, 0/1/2 = baseline/day 1/day 7): total}, ``repeat``: (record, visit) written twice."""
    ages, madrs = ages or {}, madrs or {}
    enrol, *visits = EVENTS[style]
    done = COMPLETE[style]
    lines = [HEADERS[style]]
    for record in range(1, 5):
        lines.append(f"{record},{enrol},,,{ages.get(record, 40 + record)},{SEXES[style][record % 2]},{done},,,,")
        if record == 2:
            lines.append("")
        for k, visit in enumerate(visits):
            row = f"{record},{visit},,,,,,{madrs.get((record, k), str(30 - 5 * k))},{done},,"
            lines.append(row)
            if (record, k) == repeat:
                lines.append(row)
            if k == 0:
                lines += [f"{record},{visit},{VITALS[style]},{n},,,,,,{118 + n},{done}" for n in (1, 2)]
        if record == 1:
            lines.append("")
    return lines


def export(folder: Path, lines: list[str]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "records.csv").write_text("\n".join(lines) + "\n")
    (folder / "dictionary.csv").write_text("\n".join(DICTIONARY) + "\n")
    return folder


def line_of(lines: list[str], start: str) -> int:
    """The line (1 = the header) of the only line starting with ``start``."""
    found = [n for n, text in enumerate(lines, start=1) if text.startswith(start)]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("style", ["raw", "label"])
def test_a_rating_and_an_enrolment_value_are_named_by_their_lines(tmp_path: Path, style: str):
    # Record 4's day-7 MADRS total is 75 (range 0-60); record 2's age, entered on its enrolment row
    # (a row without ratings), is 150.
    lines = records(style, ages={2: 150}, madrs={(4, 2): "75"})
    day_7 = EVENTS[style][3]
    rating_line = line_of(lines, f"4,{day_7},")
    age_line = line_of(lines, f"2,{EVENTS[style][0]},")
    # 6 lines per record: header, records 1-3 (18 lines) and 2 blank lines above record 4's 6th line;
    # header, record 1 and a blank line above record 2's enrolment row
    assert (rating_line, age_line) == (27, 9)
    with pytest.raises(DataError) as raised:
        analysis.load(export(tmp_path / "export", lines))
    problems = raised.value.problems.set_index("table")
    assert "75" in problems.loc["assessments", "message"]
    assert problems.loc["assessments", "row"] == rating_line - 1
    assert problems.loc["assessments", "location"] == f"line {rating_line} of records.csv (record 4)"
    assert "150" in problems.loc["patients", "message"]
    assert problems.loc["patients", "row"] == age_line - 1
    assert problems.loc["patients", "location"] == f"line {age_line} of records.csv (record 2)"


@pytest.mark.parametrize("style", ["raw", "label"])
def test_warnings_name_the_lines_of_a_repeated_rating_and_of_an_enrolment_value(tmp_path: Path, style: str):
    # Record 3's day-1 MADRS row is written twice (the second copy is dropped); record 1 is 95 (an
    # identifier under HIPAA Safe Harbor, accepted with allow_identifiers=True and warned about).
    lines = records(style, ages={1: 95}, repeat=(3, 1))
    day_1 = EVENTS[style][2]
    repeated = [n for n, text in enumerate(lines, start=1) if text.startswith(f"3,{day_1},")]
    age_line = line_of(lines, f"1,{EVENTS[style][0]},")
    assert len(repeated) == 2 and age_line == 2
    data = analysis.load(export(tmp_path / "export", lines), allow_identifiers=True)
    duplicate = next(w for w in data.warnings if w.code == "identical_duplicates")
    assert duplicate.rows == (repeated[1] - 1,) and duplicate.files == ("records.csv",)
    assert f"records.csv line {repeated[1]}" in str(duplicate)
    old = next(w for w in data.warnings if w.code == "identifiers_allowed" and w.table == "patients")
    assert old.rows == (age_line - 1,) and old.files == ("records.csv",)
    # the ratings kept name the lines they were read from (not the vital signs' or the copy's)
    madrs_lines = [n for n, text in enumerate(lines, start=1)
                   if text and text.split(",")[1] in EVENTS[style][1:] and text.split(",")[2] == ""]
    assert sorted(data.assessments["source_row"] + 1) == sorted(set(madrs_lines) - {repeated[1]})
