"""The Data page's reading step: uploads (files, zip archives), the mapping shown and edited in
place, its JSON re-applied to the next export, messages in words for a bad mapping, identifier
refusal without echoing values, templates that load as they are, and a dictionary generated from
the loader's contract."""

from __future__ import annotations

import io
import json
import re
import zipfile
from types import SimpleNamespace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import analysis
import analysis.contract
from analysis.contract import CONTRACT, DataError
from dashboard import uploads
from dashboard.templates import TEMPLATE_FORMATS, template_bytes, template_frame
from dashboard.uploads import collect
from tests.dashboard.apptest import ROOT, load_button, no_exception, open_page, problems, upload_page

# --------------------------------------------------------------------------------------------
# Files as a clinic exports them


def _clinic_wide(first_patient: int = 1) -> pd.DataFrame:
    """The wide template as a clinic would write it: its own column names and a diagnosis label
    the loader does not know."""
    wide = template_frame("wide").rename(columns={"patient_id": "Subject", "diagnosis": "Dx",
                                                  "MADRS_40min": "MADRS 40 min", "MADRS_day7": "madrs_day7"})
    wide["Subject"] = [f"C{first_patient + i:03d}" for i in range(len(wide))]
    wide.loc[0, "Dx"] = "Bipolar II"
    wide.loc[1, "Dx"] = "Schizoaffective"
    return wide


def _excel(frame: pd.DataFrame, sheet: str = "export") -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name=sheet)
    return buffer.getvalue()


def _value_box(at: AppTest, label: str):
    boxes = [s for s in at.selectbox if label in s.label.replace("\\", "")]
    assert boxes, f"no select box for {label!r}"
    return boxes[0]


def _mapping_json(at: AppTest) -> str:
    return next(c.value for c in at.code if '"infusion-outcomes-mapping"' in c.value)


def _previews(at: AppTest) -> list[pd.DataFrame]:
    """The preview tables (the assessments as read: contract columns)."""
    return [d.value for d in at.dataframe if {"patient_id", "instrument", "score", "time_hours"} <= set(d.value.columns)
            and "message" not in d.value.columns]


def _all_text(at: AppTest) -> str:
    """Everything the page shows as text: messages, labels, options, tables, code."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "code", "text", "title",
                 "subheader"):
        parts.extend(str(e.value) for e in at.get(kind))
    for box in at.selectbox:
        parts.append(box.label)
        parts.extend(map(str, box.options))
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# The reading step in AppTest


def test_a_wide_excel_file_goes_through_the_mapping_step_to_a_loaded_dataset():
    content = _excel(_clinic_wide())
    at = upload_page()
    at.file_uploader(key="upload_files").upload("clinic.xlsx", content).run()
    no_exception(at)
    # the mapping step: layout and roles detected, each column's role in a select box
    prefix = next(k for k in at.session_state if str(k).endswith("_layout"))[:-len("_layout")]
    assert at.selectbox(key=f"{prefix}_layout").value == "wide"
    roles = {box.label.replace("\\", ""): box.value for box in at.selectbox if "_role_" in str(box.key)}
    assert roles["Subject"] == "patient_id" and roles["Dx"] == "diagnosis"
    assert roles["MADRS 40 min"] == roles["madrs_day7"] == "(wide measure)"
    # the unknown label stops the reading, in words, and offers a value map
    assert "Schizoaffective" in " ".join(problems(at)["message"])
    assert not [b for b in at.button if b.key == "load_upload"]
    _value_box(at, "diagnosis: Schizoaffective").select("other").run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    # the preview shows the rows as they will be read: contract columns, not the file's
    preview = _previews(at)[0]
    assert {"patient_id", "instrument", "score", "time_hours"} <= set(preview.columns)
    assert set(preview["patient_id"]) <= {"C001", "C002", "C003", "C004"}
    assert "Dx" not in preview.columns and "MADRS 40 min" not in preview.columns
    load_button(at).click().run()
    no_exception(at)
    mapping = analysis.Mapping.from_json(_mapping_json(at))
    expected = analysis.load(io.BytesIO(content), mapping=mapping)
    assert at.session_state["context"].full.fingerprint == expected.fingerprint  # stored: dataset=ws-<id>
    # the page's dataset is, by its fingerprint, the file read with the mapping shown, and that
    # mapping is the suggestion plus the one choice made (the editor changed nothing else)
    assert expected.fingerprint == analysis.load(io.BytesIO(content), value_maps={
        "diagnosis": {"Schizoaffective": "other"}}).fingerprint
    loaded = expected
    assert loaded.n_patients == 4
    diagnoses = loaded.patients.set_index("patient_id")["diagnosis"]
    assert diagnoses["C001"] == "bipolar" and diagnoses["C002"] == "other"
    # times from the headers: 40 min and day 7, in hours since the first infusion
    ratings = loaded.assessments[loaded.assessments["patient_id"] == "C003"]
    assert {round(40 / 60, 6), 168.0} <= set(ratings["time_hours"].round(6))


def _uploaded_and_loaded(*files: tuple[str, bytes]) -> tuple[AppTest, analysis.OutcomeData]:
    """The Data page after ``files`` (name, content) are uploaded and loaded without a problem."""
    at = upload_page()
    uploader = at.file_uploader(key="upload_files")
    for name, content in files:
        uploader.upload(name, content)
    uploader.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    load_button(at).click().run()
    no_exception(at)
    return at, at.session_state["context"].full


def _sheets(**frames: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        for name, frame in frames.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def test_a_workbook_with_a_sheet_per_instrument_is_mapped_and_loaded_as_one_dataset():
    """The sheets stacked in the mapping step (columns named after their sheet), loaded with the
    patients sheet; a bad cell is named by its sheet and spreadsheet row."""
    madrs = pd.DataFrame({"Patient": ["K1", "K2"], "Baseline": [32, 28], "Day 1": [18, 24]})
    cadss = pd.DataFrame({"ID": ["K2", "K1"], "Pre": [2, 0], "Post": [30, 12]})
    patients = pd.DataFrame({"Patient": ["K1", "K2"], "Sex": ["F", "M"], "Diagnosis": ["TRD", "MDD"]})
    at, data = _uploaded_and_loaded(("clinic.xlsx", _sheets(MADRS=madrs, CADSS=cadss, Patients=patients)))
    roles = {box.label.replace("\\", ""): box.value for box in at.selectbox if "_role_" in str(box.key)}
    assert roles["MADRS Baseline"] == roles["CADSS Post"] == "(wide measure)" and roles["Sex"] == "sex"
    assert "a sheet per instrument: 'MADRS', 'CADSS' read together" in _all_text(at)
    sheet_box = next(b for b in at.selectbox if b.label == "Sheet")
    assert sheet_box.options == ["(the instrument sheets together)", "MADRS", "CADSS", "Patients"]
    sheet_box.select("CADSS").run()  # one sheet alone
    no_exception(at)
    assert set(_previews(at)[0]["instrument"]) == {"CADSS"}
    k1 = data.assessments[data.assessments["patient_id"] == "K1"]
    assert k1[["instrument", "score"]].values.tolist() == [["CADSS", 0], ["CADSS", 12], ["MADRS", 32], ["MADRS", 18]]
    assert data.patients.set_index("patient_id").loc["K2", "sex"] == "M"
    at = upload_page()
    bad = cadss.assign(Post=[30, "x"])
    at.file_uploader(key="upload_files").upload("clinic.xlsx", _sheets(MADRS=madrs, CADSS=bad)).run()
    no_exception(at)
    shown = problems(at)
    assert shown.loc[shown["message"] == "score 'x' is not a number.", "column"].tolist() == ["CADSS Post"]
    assert "row 2 of sheet 'CADSS' of clinic.xlsx (spreadsheet row 3; patient K1)" in _all_text(at)


def test_a_qualtrics_export_beside_its_infusion_log_loads_and_shows_none_of_its_bookkeeping(tmp_path):
    """The survey file is read as the assessments (the one file not named by a table), its
    tool's IP address, e-mail and location columns dropped unread (no identifier refusal, no value
    shown), its questions labelled by their wording's end, its totals those of the answers."""
    from tests.analysis.test_loading_surveys import expected, infusions_csv, qualtrics_csv, responses, totals

    given = responses(seed=8)
    survey, infusions = qualtrics_csv(tmp_path, given), infusions_csv(tmp_path)
    at, data = _uploaded_and_loaded((survey.name, survey.read_bytes()), ("infusions.csv", infusions.read_bytes()))
    assert totals(data) == expected(given)
    roles = {box.label.replace("\\", ""): box.value for box in at.selectbox if "_role_" in str(box.key)}
    assert roles["IPAddress"] == roles["RecipientEmail"] == "(dropped unread)" and roles["EndDate"] == "assessment_date"
    assert roles["Over the last 2 weeks, h … oblems? - Little interest or pleasure in doing things"] == "(wide measure)"
    text = _all_text(at)
    assert "Identifiers found" not in text and "a survey export: 9 column(s) read as PHQ-9 item(s) 1-9" in text
    for identifying in ("203.0.113.7", "pat.one@example.org", "39.7392"):
        assert identifying not in text
    # dated responses without visit labels: Trajectories on days (no visit axis offered), Symptoms in words
    open_page("trajectories", at)
    no_exception(at)
    axis = next(c for c in at.get("segmented_control") if c.proto.label == "Time axis")
    assert [o.content for o in axis.proto.options] == ["hours", "days"] and axis.value == "days"
    assert not at.error, [e.value for e in at.error]
    open_page("symptoms", at)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]


def test_a_qualtrics_spss_export_uploaded_reads_its_question_labels_and_coded_answers(tmp_path):
    from tests.analysis.test_loading_surveys import expected, infusions_csv, qualtrics_sav, responses, totals

    given = responses(seed=10)
    survey, infusions = qualtrics_sav(tmp_path, given), infusions_csv(tmp_path)
    at, data = _uploaded_and_loaded((survey.name, survey.read_bytes()), ("infusions.csv", infusions.read_bytes()))
    assert totals(data) == expected(given)
    text = _all_text(at)
    assert "9 column(s) read as PHQ-9 item(s) 1-9 by their question text" in text
    assert "answers coded by the file's value labels" in text
    # each role box names the column and its question (the variable label)
    roles = {box.label.replace("\\", ""): box.value for box in at.selectbox if "_role_" in str(box.key)}
    assert roles["Q1_1: Over the last 2 we … oblems? - Little interest or pleasure in doing things"] == "(wide measure)"
    assert roles["pid: Participant ID"] == "patient_id"


def test_an_answer_the_scale_does_not_have_gets_a_box_for_its_score(tmp_path):
    from tests.analysis.test_loading_surveys import (
        PHQ9,
        STEM,
        expected,
        google_forms_csv,
        infusions_csv,
        responses,
    )

    given = responses(seed=13)
    survey = google_forms_csv(tmp_path, given)
    frame = pd.read_csv(survey)
    column = f"{STEM} [{PHQ9[0]}]"
    original = frame.loc[0, column]
    frame.loc[0, column] = "Hardly ever"
    frame.to_csv(survey, index=False)
    at = upload_page()
    uploader = at.file_uploader(key="upload_files")
    uploader.upload(survey.name, survey.read_bytes())
    uploader.upload("infusions.csv", infusions_csv(tmp_path).read_bytes())
    uploader.run()
    no_exception(at)
    assert "'Hardly ever' is neither a number nor one of the answers scored" in " ".join(problems(at)["message"])
    _value_box(at, "score: Hardly ever").select(str(["Not at all", "Several days", "More than half the days",
                                                      "Nearly every day"].index(original))).run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    load_button(at).click().run()
    no_exception(at)
    from tests.analysis.test_loading_surveys import totals

    assert totals(at.session_state["context"].full) == expected(given)
    assert '"Hardly ever"' in _mapping_json(at)  # saved with the mapping


def test_a_wide_sheet_with_a_date_per_visit_loads_timed_by_its_dates_and_shows_no_date():
    from tests.analysis.test_calendar import WIDE_DATED

    at, data = _uploaded_and_loaded(("clinic.csv", WIDE_DATED.encode()))
    k1 = data.assessments[data.assessments["patient_id"] == "K1"]
    assert sorted(k1["time_hours"].round(4)) == [-0.0167, 0.6667, 192.0, 336.0]  # day 7 as dated: day 8
    text = _all_text(at)
    assert "date_day7" in text  # the reading is said ...
    assert not re.search(r"20\d\d-\d\d-\d\d", text)  # ... and no date is shown


def test_a_wide_sheet_of_a_series_with_its_infusion_dates_loads_each_infusion():
    """One row per patient: the date of each infusion, ratings before and after each."""
    from tests.analysis.test_calendar import WIDE_SERIES

    at, data = _uploaded_and_loaded(("series.csv", WIDE_SERIES.encode()))
    assert data.infusions.loc[data.infusions["patient_id"] == "K2", "time_hours"].tolist() == [0.0, 72.0]
    assert not re.search(r"20\d\d-\d\d-\d\d", _all_text(at))


def test_a_saved_mapping_is_re_applied_to_the_next_export():
    at = upload_page()
    at.file_uploader(key="upload_files").upload("january.xlsx", _excel(_clinic_wide())).run()
    _value_box(at, "diagnosis: Schizoaffective").select("other").run()
    no_exception(at)
    saved = _mapping_json(at)
    assert json.loads(saved)["value_maps"] == {"diagnosis": {"Schizoaffective": "other"}}

    february = _excel(_clinic_wide(first_patient=11))
    at = upload_page()
    at.file_uploader(key="upload_files").upload("february.xlsx", february).run()
    at.file_uploader(key="upload_mapping").upload("mapping.json", saved.encode()).run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]  # no label to choose again
    assert json.loads(_mapping_json(at))["value_maps"] == {"diagnosis": {"Schizoaffective": "other"}}
    load_button(at).click().run()
    no_exception(at)
    expected = analysis.load(io.BytesIO(february), mapping=analysis.Mapping.from_json(saved))
    assert at.session_state["context"].full.fingerprint == expected.fingerprint  # stored: dataset=ws-<id>
    assert set(expected.patients["patient_id"]) == {"C011", "C012", "C013", "C014"}


def test_a_bad_mapping_is_explained_in_words():
    content = _excel(_clinic_wide())
    # a mapping for another export: a patient column this file does not have
    other = analysis.Mapping(layout="wide", columns={"patient_id": "record", "diagnosis": "Dx"})
    at = upload_page()
    at.file_uploader(key="upload_files").upload("clinic.xlsx", content).run()
    at.file_uploader(key="upload_mapping").upload("mapping.json", other.to_json().encode()).run()
    no_exception(at)
    assert at.error
    messages = " ".join(problems(at)["message"])
    assert "'record'" in messages and "does not have" in messages
    # the same role given to two columns
    at = upload_page()
    at.file_uploader(key="upload_files").upload("clinic.xlsx", content).run()
    age = next(box for box in at.selectbox if box.label == "age")
    age.select("patient_id").run()
    no_exception(at)
    messages = " ".join(problems(at)["message"])
    assert "'patient_id' is given to 2 columns" in messages
    # a file that is not a mapping
    at = upload_page()
    at.file_uploader(key="upload_files").upload("clinic.xlsx", content).run()
    at.file_uploader(key="upload_mapping").upload("mapping.json", b"{not json").run()
    no_exception(at)
    assert "not valid JSON" in " ".join(problems(at)["message"])
    _clean = [b for b in at.button if b.key == "load_upload"]
    assert not _clean  # nothing to load


def test_visit_labels_get_their_times_in_the_table_editor():
    hours = {"screening": -24.0, "V2": 0.5, "V3": 4.0, "V4": 24.0, "V5": 168.0, "V6": 336.0}
    frame = template_frame("long").drop(columns="time_hours")
    frame["visit"] = frame["visit"].map(dict(zip(["baseline", "40 min", "230 min", "day 1", "day 7", "day 14"],
                                                 hours, strict=True)))
    content = frame.to_csv(index=False).encode()
    at = upload_page()
    at.file_uploader(key="upload_files").upload("visits.csv", content).run()
    no_exception(at)
    assert "say no time" in " ".join(problems(at)["message"])  # the labels that need a time, in words
    editor = next(d for d in at.data_editor if "_visits_" in str(d.key))
    labels = editor.value["visit"].tolist()
    assert set(labels) == set(hours)
    at.session_state[editor.key] = {"edited_rows": {i: {"hours": hours[label]} for i, label in enumerate(labels)},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert json.loads(_mapping_json(at))["visit_times"] == hours
    load_button(at).click().run()
    expected = analysis.load(io.BytesIO(content), visit_times=hours)
    assert at.session_state["context"].full.fingerprint == expected.fingerprint  # stored: dataset=ws-<id>
    assert sorted(expected.assessments["time_hours"].unique()) == sorted(hours.values())


def test_an_upload_with_an_identifier_column_is_refused_without_echoing_values():
    frame = template_frame("long").assign(patient_name="Jane Smith", phone="(617) 555-0142")
    at = upload_page()
    at.file_uploader(key="upload_files").upload("export.csv", frame.to_csv(index=False).encode()).run()
    no_exception(at)
    assert at.error
    refused = problems(at)
    assert {"patient_name", "phone"} <= set(refused["column"])
    text = _all_text(at)
    for value in ("Jane", "Smith", "555", "0142"):
        assert value not in text, value
    assert not _previews(at)
    assert not [b for b in at.button if b.key == "load_upload"]


def test_file_names_column_names_and_labels_are_shown_as_text_never_as_markup():
    markup = "<img src=x onerror=alert(1)>"
    frame = template_frame("long").rename(columns={"sex": f"sex {markup}"})
    frame.loc[0:5, "diagnosis"] = f"[click](javascript:alert(1)) {markup}"
    at = upload_page()
    at.file_uploader(key="upload_files").upload("[x](javascript:alert(1)).csv",
                                                frame.to_csv(index=False).encode()).run()
    no_exception(at)
    rendered = [str(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "success")
                for e in at.get(kind)] + [box.label for box in at.selectbox]
    assert any("img" in text for text in rendered)  # the column name and the label are shown ...
    for text in rendered:  # ... with every markup character escaped
        assert not re.search(r"(?<!\\)<img", text), text
        assert not re.search(r"(?<!\\)\[(x|click)(?<!\\)\]\(", text), text


def test_a_zipped_folder_of_the_sample_tables_loads():
    sample = ROOT / "data" / "sample"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("assessments.csv", "infusions.csv", "patients.csv", "events.csv"):
            zipped.write(sample / name, f"export/{name}")
        zipped.writestr("__MACOSX/export/._assessments.csv", b"\x00\x05")
    at = upload_page()
    at.file_uploader(key="upload_files").upload("export.zip", archive.getvalue()).run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    load_button(at).click().run()
    assert at.session_state["context"].full.fingerprint == analysis.load_sample().fingerprint


def test_several_files_with_their_own_names_are_read_as_the_tables_chosen():
    sample = ROOT / "data" / "sample"
    at = upload_page()
    uploader = at.file_uploader(key="upload_files")
    for name, own in (("assessments.csv", "ratings_2026.csv"), ("infusions.csv", "doses.csv"),
                      ("patients.csv", "demographics.csv")):
        uploader.upload(own, (sample / name).read_bytes())
    uploader.run()
    no_exception(at)
    assert at.error  # no file is called assessments: said in words, nothing loaded
    boxes = {box.label.replace("\\", ""): box for box in at.selectbox if str(box.key).startswith("tables_")}
    boxes["ratings_2026.csv"].select("assessments").run()
    boxes = {box.label.replace("\\", ""): box for box in at.selectbox if str(box.key).startswith("tables_")}
    boxes["doses.csv"].select("assessments").run()
    assert "More than one file would be read as the assessments table" in " ".join(problems(at)["message"])
    boxes = {box.label.replace("\\", ""): box for box in at.selectbox if str(box.key).startswith("tables_")}
    boxes["doses.csv"].select("infusions").run()
    boxes = {box.label.replace("\\", ""): box for box in at.selectbox if str(box.key).startswith("tables_")}
    boxes["demographics.csv"].select("patients").run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    load_button(at).click().run()
    three_tables = analysis.load(assessments=sample / "assessments.csv", infusions=sample / "infusions.csv",
                                 patients=sample / "patients.csv")
    assert at.session_state["context"].full.fingerprint == three_tables.fingerprint


def test_a_problem_in_a_file_read_as_a_chosen_table_names_the_file_as_uploaded():
    at = upload_page()
    uploader = at.file_uploader(key="upload_files")
    uploader.upload("march_export.csv", b"patient_id,instrument,score,time_hours\nK1,MADRS,30,-1\nK1,MADRS,x,24\n")
    uploader.upload("doses.csv", b"patient_id,infusion_number,time_hours\nK1,1,0\n")
    uploader.run()
    boxes = {box.label.replace("\\", ""): box for box in at.selectbox if str(box.key).startswith("tables_")}
    boxes["march_export.csv"].select("assessments").run()
    boxes = {box.label.replace("\\", ""): box for box in at.selectbox if str(box.key).startswith("tables_")}
    boxes["doses.csv"].select("infusions").run()
    no_exception(at)
    shown = problems(at)
    assert shown["message"].str.contains("'x' is not a number").any()
    text = _all_text(at)
    assert "row 2 (line 3 of march_export.csv)" in text and "assessments.csv" not in text


def test_ratings_labelled_by_infusion_of_a_series_load_timed_from_each_infusion():
    """A clinic's two sheets: infusions with their start times, ratings labelled 'Infusion 2 post'."""
    _, data = _uploaded_and_loaded(
        ("infusions.csv", b"patient_id,infusion_number,time_hours\nK1,1,0\nK1,2,50\n"),
        ("assessments.csv", b"patient_id,instrument,score,visit\nK1,MADRS,30,Infusion 1 pre\n"
                            b"K1,MADRS,18,Infusion 1 post\nK1,MADRS,20,Infusion 2 pre\nK1,MADRS,12,Infusion 2 post\n"))
    hours = data.assessments["time_hours"].round(4).tolist()
    assert hours == [-0.0167, 0.6667, 49.9833, 50.6667]


def test_the_table_forms_assessments_go_through_the_mapping_step():
    """A clinic's two files: assessments in its own words (a 'patient' column, one 'madrs' score
    column, visit labels, one label that says no time), beside a standard infusions table."""
    assessments = (b"patient,visit,madrs\nK1,baseline,30\nK1,day 1,12\nK1,follow-up,20\n"
                   b"K2,baseline,28\nK2,day 1,25\nK2,follow-up,27\n")
    infusions = b"patient_id,infusion_number,time_hours,dose_mg_per_kg,route\nK1,1,0,0.5,IV\nK2,1,0,0.5,IV\n"
    at = upload_page()
    uploader = at.file_uploader(key="upload_files")
    uploader.upload("assessments.csv", assessments)
    uploader.upload("infusions.csv", infusions)
    uploader.run()
    no_exception(at)
    roles = {box.label.replace("\\", ""): box.value for box in at.selectbox if "_role_" in str(box.key)}
    assert roles == {"patient": "patient_id", "visit": "visit", "madrs": "(wide measure)"}
    assert "follow-up" in " ".join(problems(at)["message"])  # the label without a time, in words
    editor = next(d for d in at.data_editor if "_visits_" in str(d.key))
    labels = editor.value["visit"].tolist()
    at.session_state[editor.key] = {"edited_rows": {labels.index("follow-up"): {"hours": 336.0}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    load_button(at).click().run()
    no_exception(at)
    data = at.session_state["context"].full
    mapping = analysis.Mapping.from_json(_mapping_json(at))
    assert mapping.visit_times["follow-up"] == 336.0
    assert set(data.assessments["instrument"]) == {"MADRS"}
    assert data.assessments.groupby("patient_id")["time_hours"].max().tolist() == [336.0, 336.0]
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5, 0.5]  # the infusions table is read too


# --------------------------------------------------------------------------------------------
# Uploads, templates and the dictionary without a browser


def _file(name: str, content: bytes) -> SimpleNamespace:
    return SimpleNamespace(name=name, getvalue=lambda: content)


def _zip(members: dict[str, bytes]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, content in members.items():
            zipped.writestr(name, content)
    return archive.getvalue()


def test_zip_archives_are_unpacked_within_bounds(monkeypatch):
    upload = collect([_file("a.zip", _zip({"x/assessments.csv": b"a,b\n1,2\n", "x/.DS_Store": b"junk"})),
                      _file("notes.xlsx", template_bytes("wide", "xlsx"))])
    assert upload.names == ["assessments.csv", "notes.xlsx"]  # folders flattened, metadata skipped
    with pytest.raises(DataError, match="(?i)more than one uploaded file"):
        collect([_file("a.zip", _zip({"one/t.csv": b"a\n1\n", "two/t.csv": b"a\n2\n"}))])
    monkeypatch.setattr(uploads, "MAX_UNPACKED_BYTES", 1000)
    bomb = _zip({"big.csv": b"a\n" + b"1\n" * 100_000})
    assert len(bomb) < 1000  # small on the wire, 200 kB unpacked
    with pytest.raises(DataError, match="unpacks to more than"):
        uploads._unpack("bomb.zip", bomb, [uploads.MAX_UNPACKED_BYTES])
    broken = collect([_file("broken.zip", b"PK\x03\x04" + b"\x00" * 40)])  # passed on: the reader says why
    with pytest.raises(DataError, match="damaged"), uploads.as_source(broken) as source:
        analysis.load(source)


@pytest.mark.parametrize("file_format", TEMPLATE_FORMATS)
def test_the_templates_load_as_they_are_and_agree(file_format):
    long = analysis.load(io.BytesIO(template_bytes("long", file_format)))
    wide = analysis.load(io.BytesIO(template_bytes("wide", file_format)))
    assert long.n_patients == wide.n_patients == 4
    key = ["patient_id", "score"]
    assert (long.assessments[key].sort_values(key).reset_index(drop=True)
            .equals(wide.assessments[key].sort_values(key).reset_index(drop=True)))
    assert long.patients[["patient_id", "age", "sex", "diagnosis"]].equals(
        wide.patients[["patient_id", "age", "sex", "diagnosis"]])
    assert not [w for w in long.warnings if w.code != "reading"]


def test_the_dictionary_shown_is_the_loaders_contract():
    at = open_page("data")
    shown = pd.concat([d.value for d in at.dataframe if {"column", "required", "also accepted as"}
                       <= set(d.value.columns)], ignore_index=True)
    contract = analysis.contract.data_dictionary()
    assert shown["column"].tolist() == contract["column"].tolist()
    marked = {(t, c) for t, c, r in zip(contract["table"], shown["column"], shown["required"], strict=True)
              if r == "yes"}
    assert marked == {(s.table, s.name) for s in CONTRACT if s.required}
    # dose and route are optional for the loader, so they are shown as optional ...
    assert ("infusions", "dose_mg_per_kg") not in marked and ("infusions", "route") not in marked
    # ... and the loader indeed reads infusions without them
    frame = template_frame("long").drop(columns=["dose_mg_per_kg", "route"])
    assert analysis.load(frame).n_patients == 4


def _upload_files(files: dict[str, bytes]) -> AppTest:
    at = upload_page()
    uploader = at.file_uploader(key="upload_files")
    for name, content in files.items():
        uploader.upload(name, content)
    at.run()
    no_exception(at)
    return at


def _upload_redcap(records: pd.DataFrame, dictionary: pd.DataFrame, events: pd.DataFrame) -> AppTest:
    """The Data page with a REDCap export uploaded as three CSV files."""
    at = _upload_files({"data.csv": records.to_csv(index=False).encode(),
                         "dictionary.csv": dictionary.to_csv(index=False).encode(),
                         "event.csv": events.to_csv(index=False).encode()})
    assert not at.error, [e.value for e in at.error]
    return at


def test_a_redcap_export_whose_identifiers_are_flagged_loads_without_them():
    """The reader drops the fields its data dictionary flags identifier = y; the mapping step must
    not refuse the export for those very fields (it did: its own screen judged the raw records)."""
    from tests.analysis.test_redcap import madrs_project

    records, dictionary, events = madrs_project()
    at = _upload_redcap(records, dictionary, events)
    load_button(at).click().run()
    no_exception(at)
    assert at.session_state["context"].full.n_patients == 4
    text = _all_text(at)
    assert "patient_name, phone" in text  # the dropped fields are named
    for value in ("Person0", "Surname1", "010-100"):
        assert value not in text, value


def test_a_clinic_redcap_project_loads_its_infusions_and_shows_no_date():
    """Rating dates and an infusion form: the infusions load with their hours, and no date is shown."""
    from tests.analysis.test_redcap_timing import clinic_project

    records, dictionary, events = clinic_project()
    at = _upload_redcap(records, dictionary, events)
    load_button(at).click().run()
    no_exception(at)
    data = at.session_state["context"].full
    assert sorted(data.infusions["time_hours"]) == [0.0, 0.0, 48.0, 48.0, 96.0, 96.0]
    assert not [w for w in data.warnings if w.code == "assumed_infusion"]
    text = _all_text(at)
    assert "infusion_date" in text  # the reading is said ...
    assert not re.search(r"20\d\d-\d\d-\d\d", text)  # ... and no date is shown


def test_a_redcap_field_the_reader_did_not_guess_is_chosen_in_a_select_box():
    """A dose field named 'amount_given' is not recognised as a dose: the infusions load without
    doses until the user names it in the REDCap fields' select box."""
    from tests.analysis.test_redcap_timing import clinic_project

    records, dictionary, events = clinic_project()
    records = records.rename(columns={"dose_mg": "amount_given"})
    records.loc[0, "madrs_total"] = "33"  # not the dataset of the test above (the workspace keeps one per content)
    dictionary.loc[dictionary["Variable / Field Name"] == "dose_mg", ["Variable / Field Name", "Field Label"]] = \
        ["amount_given", "Amount given"]
    at = _upload_redcap(records, dictionary, events)
    boxes = {b.label: b for b in at.selectbox if b.key and "_redcap_" in b.key}
    assert boxes["Total score"].value == "madrs_total" and boxes["Date of each infusion"].value == "infusion_date"
    assert boxes["Dose (mg)"].value == "(not set)"
    boxes["Dose (mg)"].set_value("amount_given").run()
    no_exception(at)
    load_button(at).click().run()
    no_exception(at)
    data = at.session_state["context"].full
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5] * 6  # 40 mg / 80 kg
    assert "amount_given" in at.session_state["context"].full.mapping.to_json()


REDCAP_REAL = ROOT.parent / "shared" / "realdata" / "redcap" / "longitudinal"


@pytest.mark.skipif(not REDCAP_REAL.is_dir(), reason="../shared/realdata is absent")
def test_the_real_redcap_project_is_refused_for_its_unflagged_identifiers_only():
    at = _upload_files({name: (REDCAP_REAL / name).read_bytes()
                         for name in ("data.csv", "dictionary.csv", "event.csv")})
    refused = set(problems(at)["column"])
    assert {"date_enrolled", "ec_phone", "next_of_kin_contact_name", "withdraw_date"} <= refused
    assert not refused & {"first_name", "last_name", "telephone_1", "email", "dob"}  # flagged: dropped
    assert not [b for b in at.button if b.key == "load_upload"]
    data = pd.read_csv(REDCAP_REAL / "data.csv", dtype=str)
    text = _all_text(at)
    for value in data["last_name"].dropna().head(5):
        assert value not in text, value


CDISC_REAL = ROOT.parent / "shared" / "realdata" / "cdisc-pilot01"


@pytest.mark.skipif(not CDISC_REAL.is_dir(), reason="../shared/realdata is absent")
def test_the_cdisc_pilot_adam_files_load_as_distributed():
    """The CDISC reader passes on no calendar date and no free text; the mapping step refused the
    pilot's files for those very columns (TRTSDT, ADT, DCSREAS ...) before this was fixed."""
    at = _upload_files({f"{name}.xpt": (CDISC_REAL / f"{name}.xpt").read_bytes()
                         for name in ("adsl", "adtte", "adcibc")})
    assert not at.error, [e.value for e in at.error]
    load_button(at).click().run()
    no_exception(at)
    data = at.session_state["context"].full
    assert data.n_patients == 236 and set(data.assessments["instrument"]) == {"CIBIC+"}
    assert not {"TRTSDT", "ADT", "DCSREAS"} & set(data.patients.columns)
    # each warning is led by what it concerns, and says its own count (no "(1 in the file table)")
    warned = next(str(m.value) for m in at.markdown if str(m.value).startswith("- **"))
    lines = warned.splitlines()
    assert len(lines) == len(data.warnings) and all(re.match(r"- \*\*(Reading|Ratings|Infusions|Patients|Events):"
                                                             r"\*\* \S", line) for line in lines), lines
    assert " table)" not in warned
