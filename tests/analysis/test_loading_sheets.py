"""A workbook kept as a sheet per instrument (analysis.loading.sheets): the sheets read together,
checked against values worked out by hand from the sheets written here. On the previous code
the workbook below was refused: the loader picked the 'Infusions' sheet (most recognised
columns) and found no score."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis
from analysis import DataError


def clinic_workbook(path, madrs=None, cadss=None, patients=None, infusions=None, extra_sheets=None):
    """MADRS and CADSS sheets (ids under different names, patients in different orders), a
    patients sheet, an infusions sheet and a notes sheet."""
    madrs = madrs if madrs is not None else pd.DataFrame(
        {"Patient": ["K1", "K2", "K3"], "Age": [34, 51, 47], "Baseline": [32, 28, 35], "4h": [20, 25, 18],
         "Day 1": [18, 24, 15], "Day 7": [12, 22, 20]})
    cadss = cadss if cadss is not None else pd.DataFrame({"ID": ["K2", "K1", "K3"], "Pre": [2, 0, 1],
                                                          "Post": [30, 12, 18]})
    patients = patients if patients is not None else pd.DataFrame(
        {"Patient": ["K1", "K2", "K3", "K4"], "Sex": ["F", "M", "F", "M"],
         "Diagnosis": ["TRD", "Bipolar II", "PTSD", "MDD"]})
    with pd.ExcelWriter(path) as writer:
        madrs.to_excel(writer, sheet_name="MADRS", index=False)
        cadss.to_excel(writer, sheet_name="CADSS", index=False)
        patients.to_excel(writer, sheet_name="Patients", index=False)
        infusions = infusions if infusions is not None else pd.DataFrame(
            {"Patient": ["K1", "K1", "K2", "K3"], "Infusion #": [1, 2, 1, 1], "Day": [0, 2, 0, 0],
             "Dose (mg/kg)": [0.5, 0.5, 0.75, 0.5]})
        infusions.to_excel(writer, sheet_name="Infusions", index=False)
        pd.DataFrame({"Note": ["data entry by the nurse"]}).to_excel(writer, sheet_name="Notes", index=False)
        for name, frame in (extra_sheets or {}).items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def test_a_sheet_per_instrument_with_patients_and_infusions_sheets_loads_as_one_dataset(tmp_path):
    data = analysis.load(clinic_workbook(tmp_path / "clinic.xlsx"))
    got = data.assessments.sort_values(["patient_id", "instrument", "time_hours"])
    k1 = got[got["patient_id"] == "K1"]
    # By hand: K1's MADRS row (Baseline 32, 4h 20, Day 1 18, Day 7 12) and CADSS row 2 (Pre 0, Post 12).
    assert k1[["instrument", "score"]].values.tolist() == [["CADSS", 0], ["CADSS", 12], ["MADRS", 32], ["MADRS", 20],
                                                          ["MADRS", 18], ["MADRS", 12]]
    assert k1["time_hours"].tolist() == pytest.approx([0, 40 / 60, 0, 4, 24, 168])
    assert len(got) == 18 and got.groupby("instrument").size().to_dict() == {"CADSS": 6, "MADRS": 12}
    # Each rating names the sheet and the row it was read from (K1 is row 2 of CADSS, row 1 of MADRS).
    assert k1[["source_file", "source_row"]].astype(str).values.tolist()[:3] == [
        ["sheet 'CADSS' of clinic.xlsx", "2"], ["sheet 'CADSS' of clinic.xlsx", "2"], ["sheet 'MADRS' of clinic.xlsx", "1"]]
    patients = data.patients.set_index("patient_id")
    assert patients.loc[["K1", "K2", "K3"], "age"].tolist() == [34, 51, 47]  # from the MADRS sheet
    assert patients.loc[["K1", "K2", "K3"], "sex"].tolist() == ["F", "M", "F"]  # from the patients sheet
    assert patients.loc["K2", "diagnosis"] == "bipolar"
    # Infusions from their sheet: days -> hours, doses per infusion.
    infusions = data.infusions.set_index(["patient_id", "infusion_number"])
    assert infusions.loc[("K1", 2), "time_hours"] == 48 and infusions.loc[("K2", 1), "dose_mg_per_kg"] == 0.75
    said = " ".join(w.message for w in data.warnings)
    assert "a sheet per instrument: 'MADRS', 'CADSS' read together" in said
    assert "'Baseline' of sheet 'MADRS' read as 'MADRS Baseline'" in said
    assert "not read: 'Notes'" in said and "have no ratings on the instrument sheets: K4" in said
    assert "read together" in data.mapping.describe()[1]


def test_sheets_named_with_words_about_their_scale(tmp_path):
    """'MADRS scores', 'Dissociation (CADSS)' name their instrument ('MADRS notes' does not)."""
    path = tmp_path / "clinic.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Patient": ["K1"], "Baseline": [30], "Day 1": [18]}).to_excel(writer, sheet_name="MADRS scores", index=False)
        pd.DataFrame({"Patient": ["K1"], "Post": [12]}).to_excel(writer, sheet_name="Dissociation (CADSS)", index=False)
        pd.DataFrame({"Patient": ["K1"], "Day 1": ["slept badly"]}).to_excel(writer, sheet_name="MADRS notes", index=False)
    data = analysis.load(path)
    assert data.assessments[["instrument", "score"]].values.tolist() == [["CADSS", 12], ["MADRS", 30], ["MADRS", 18]]
    assert "not read: 'MADRS notes'" in " ".join(w.message for w in data.warnings)
    phq = analysis.load(path, sheet="MADRS scores").assessments
    assert phq["instrument"].tolist() == ["MADRS", "MADRS"]


def test_sheets_of_a_row_per_rating_are_read_together_by_their_roles(tmp_path):
    """'MADRS': Patient, Visit, Score; 'CADSS ratings': ID, Timepoint, Total. Refused before
    ('instrument' missing): each sheet's instrument is its name, its columns matched by role."""
    path = tmp_path / "clinic.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Patient": ["K1", "K1", "K2"], "Visit": ["Baseline", "Day 1", "Baseline"],
                      "Score": [32, 18, 28]}).to_excel(writer, sheet_name="MADRS", index=False)
        pd.DataFrame({"ID": ["K1", "K2"], "Timepoint": ["Post", "Post"], "Total": [12, 30]}).to_excel(
            writer, sheet_name="CADSS ratings", index=False)
        pd.DataFrame({"Patient": ["K1"], "Baseline": [12], "Week 1": [8]}).to_excel(writer, sheet_name="QIDS",
                                                                                   index=False)
    data = analysis.load(path)
    got = data.assessments[["patient_id", "instrument", "score", "time_hours"]].values.tolist()
    assert got == [["K1", "CADSS", 12, pytest.approx(40 / 60)], ["K1", "MADRS", 32, 0], ["K1", "MADRS", 18, 24],
                   ["K2", "CADSS", 30, pytest.approx(40 / 60)], ["K2", "MADRS", 28, 0]]
    assert "not read with them: 'QIDS' (a column per visit)" in " ".join(w.message for w in data.warnings)


def test_problems_name_the_sheet_its_spreadsheet_row_and_column(tmp_path):
    cadss = pd.DataFrame({"ID": ["K2", "K1", "K3"], "Pre": [2, 0, 1], "Post": [30, "x", 118]})
    with pytest.raises(DataError) as raised:
        analysis.load(clinic_workbook(tmp_path / "clinic.xlsx", cadss=cadss))
    problems = raised.value.problems.set_index("message")
    bad = problems.loc["score 'x' is not a number."]
    assert [bad["row"], bad["column"]] == [2, "CADSS Post"]
    assert bad["location"] == "row 2 of sheet 'CADSS' of clinic.xlsx (spreadsheet row 3; patient K1)"
    assert problems.loc["score 118 is outside the CADSS total score range 0-92.", "row"] == 3
    assert "a sheet's row N is spreadsheet row N + 1" in str(raised.value)


def test_a_value_given_on_two_sheets_must_agree_and_is_reported_with_the_other_problems(tmp_path):
    patients = pd.DataFrame({"Patient": ["K1", "K2", "K3"], "Age": [35, 51, 47], "Diagnosis": ["TRD", "Schizo", "MDD"]})
    with pytest.raises(DataError) as raised:
        analysis.load(clinic_workbook(tmp_path / "clinic.xlsx", patients=patients))
    problems = raised.value.problems
    assert problems["message"].tolist() == [
        "patient K1's 'Age' is 34 here but 35 on sheet 'Patients' of clinic.xlsx (row 1): give each patient one "
        "value, or leave one of them empty.",
        "Unknown diagnosis 'Schizo' in 1 row(s) (sheet 'MADRS' of clinic.xlsx row 2). Allowed: MDD, TRD, bipolar, PTSD, "
        "other; to read it as one of them, pass value_maps={'diagnosis': {'Schizo': '...'}} to analysis.load."]
    assert problems["location"].tolist() == ["row 1 of sheet 'MADRS' of clinic.xlsx (spreadsheet row 2; patient K1)",
                                             "row 2 of sheet 'Patients' of clinic.xlsx (spreadsheet row 3; patient K2)"]
    # the mapping step still works: the editor reads the sheets whatever their problems
    assert "read together" in analysis.suggest_mapping(tmp_path / "clinic.xlsx").describe()[1]


def test_a_patients_sheet_lists_each_patient_once_and_needs_ids(tmp_path):
    patients = pd.DataFrame({"Patient": ["K1", "K2", "K1"], "Sex": ["F", "M", "M"]})
    with pytest.raises(DataError) as raised:
        analysis.load(clinic_workbook(tmp_path / "clinic.xlsx", patients=patients))
    assert raised.value.problems[["row", "message"]].values.tolist() == [
        [3, "patient K1 is listed again on sheet 'Patients' of clinic.xlsx (first on row 1): a patients sheet has one "
            "row per patient."]]
    data = analysis.load(clinic_workbook(tmp_path / "clinic.xlsx", patients=pd.DataFrame({"Sex": ["F", "M"]})))
    assert "sheet 'Patients' of clinic.xlsx has no patient id column to match its rows to the ratings: not read" in \
        " ".join(w.message for w in data.warnings)


def test_identifying_columns_on_a_patients_sheet_are_refused(tmp_path):
    patients = pd.DataFrame({"Patient": ["K1", "K2", "K3"], "Name": ["Ann Smith", "Bob Jones", "Cy Young"],
                             "Sex": ["F", "M", "F"]})
    with pytest.raises(DataError) as raised:
        analysis.load(clinic_workbook(tmp_path / "clinic.xlsx", patients=patients))
    assert "Name" in str(raised.value) and "Ann Smith" not in str(raised.value)


def test_one_sheet_alone_with_sheet_and_a_sheet_without_ids_left_out(tmp_path):
    key = pd.DataFrame({"Score": ["0-6", "7-19"], "Meaning": ["normal", "mild"]})  # a scoring key named PHQ9
    path = clinic_workbook(tmp_path / "clinic.xlsx", extra_sheets={"PHQ9": key})
    alone = analysis.load(path, sheet="CADSS")
    assert set(alone.assessments["instrument"]) == {"CADSS"} and len(alone.assessments) == 6
    together = analysis.load(path)
    assert set(together.assessments["instrument"]) == {"MADRS", "CADSS"}
    said = " ".join(w.message for w in together.warnings)
    assert "not read with them: 'PHQ9' (no patient id column)" in said and "not read: 'Notes'" in said


def test_the_mapping_saved_for_one_workbook_reads_next_months(tmp_path):
    mapping = analysis.suggest_mapping(clinic_workbook(tmp_path / "october.xlsx"))
    mapping = mapping.replace(visit_times={"Post": 1.0})  # the clinic rates CADSS an hour after the start
    saved = analysis.Mapping.from_json(mapping.to_json())
    assert saved == mapping and json.loads(saved.to_json())["wide_columns"]["CADSS Post"][0] == "CADSS"
    madrs = pd.DataFrame({"Patient": ["K5", "K6"], "Age": [29, 62], "Baseline": [30, 33], "4h": [15, 30],
                          "Day 1": [14, 28], "Day 7": [10, 31]})
    cadss = pd.DataFrame({"ID": ["K6", "K5"], "Pre": [1, 0], "Post": [22, 9]})
    patients = pd.DataFrame({"Patient": ["K5", "K6"], "Sex": ["M", "F"], "Diagnosis": ["MDD", "TRD"]})
    infusions = pd.DataFrame({"Patient": ["K5", "K6"], "Infusion #": [1, 1], "Day": [0, 0], "Dose (mg/kg)": [0.5, 0.5]})
    november = clinic_workbook(tmp_path / "november.xlsx", madrs=madrs, cadss=cadss, patients=patients,
                               infusions=infusions)
    data = analysis.load(november, mapping=saved)
    post = data.assessments[data.assessments["visit"] == "Post"].set_index("patient_id")
    assert post.loc[["K5", "K6"], "score"].tolist() == [9, 22] and post["time_hours"].tolist() == [1.0, 1.0]


_SHEETS = ["MADRS", "CADSS", "QIDS", "Patients", "Infusions", "Notes"]
_HEADERS = ["ID", "Baseline", "Day 1", "Post", "Pre", "Week 2", "Age", "Sex", "Diagnosis", "Email", "Infusion #",
            "Day", "Dose (mg/kg)", "Session date", "MADRS Day 7", "Notes", "Patient"]
_CELLS = st.one_of(st.integers(0, 30), st.integers(-5, 120),
                   st.sampled_from(["", "K1", "x", "F", "TRD", "Bipolar II", "a@b.org", "2024-03-07", "12*", "ND",
                                    "1e400"]))
_SHEET = st.tuples(st.sampled_from(_SHEETS), st.booleans(),
                   st.lists(st.sampled_from(_HEADERS), min_size=0, max_size=4, unique=True),
                   st.lists(st.tuples(st.sampled_from(["K1", "K2", "K3", ""]), st.lists(_CELLS, min_size=4, max_size=4)),
                            min_size=1, max_size=4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SHEET, min_size=1, max_size=4, unique_by=lambda sheet: sheet[0]))
def test_random_workbooks_load_or_raise_data_error(sheets):
    """Sheets per instrument, or not, with or without ids, any columns and cells: OutcomeData or
    DataError, and no message shows the e-mail address typed in a cell."""
    content = io.BytesIO()
    with pd.ExcelWriter(content) as writer:
        for name, with_id, headers, rows in sheets:
            columns = (["Patient"] if with_id else []) + [h for h in headers if h != "Patient" or not with_id]
            body = [([pid] if with_id else []) + cells for pid, cells in rows]
            pd.DataFrame([r[:len(columns)] for r in body], columns=columns).to_excel(writer, sheet_name=name,
                                                                                    index=False)
    try:
        data = analysis.load(io.BytesIO(content.getvalue()))
    except DataError as error:
        assert len(error.problems) >= 1 and "a@b.org" not in str(error)
        return
    assert isinstance(data, analysis.OutcomeData) and data.assessments["score"].notna().all()
    assert not any("a@b.org" in w.message for w in data.warnings)


def _hide(path, *sheets):
    import openpyxl

    book = openpyxl.load_workbook(path)
    for name in sheets:
        book[name].sheet_state = "hidden"
    book.save(path)
    return path


def test_hidden_sheets_are_not_read(tmp_path):
    """A hidden old copy of an instrument sheet and a hidden list of dropdown choices: the clinic
    does not see them, so they are not its data (said; sheet= still reads one)."""
    old_copy = pd.DataFrame({"Patient": ["K1", "K2"], "Baseline": [20, 21], "Day 1": [19, 18]})
    lists = pd.DataFrame({"Diagnosis": ["MDD", "TRD", "PTSD"]})
    path = _hide(clinic_workbook(tmp_path / "clinic.xlsx", extra_sheets={"PHQ9": old_copy, "Lists": lists}),
                 "PHQ9", "Lists")
    data = analysis.load(path)
    assert set(data.assessments["instrument"]) == {"MADRS", "CADSS"} and len(data.assessments) == 18
    said = " ".join(w.message for w in data.warnings)
    assert "hidden sheet(s) 'PHQ9', 'Lists' not read" in said and "not read: 'Notes' (read a sheet alone" in said
    alone = analysis.load(path, sheet="PHQ9")
    assert alone.assessments["score"].tolist() == [20, 19, 21, 18]
    # a workbook of one visible data sheet and a hidden list
    single = tmp_path / "single.xlsx"
    with pd.ExcelWriter(single) as writer:
        pd.DataFrame({"patient_id": ["A", "A"], "instrument": "MADRS", "time_hours": [0, 24],
                      "score": [30, 14]}).to_excel(writer, sheet_name="Data", index=False)
        lists.to_excel(writer, sheet_name="Lists", index=False)
    data = analysis.load(_hide(single, "Lists"))
    assert data.assessments["score"].tolist() == [30, 14]
    assert any("hidden sheet(s) 'Lists' not read" in w.message for w in data.warnings)
