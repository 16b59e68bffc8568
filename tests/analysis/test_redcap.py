"""REDCap exports (analysis.redcap) on the REDCapR test projects and on synthetic MADRS projects.

Counts are computed from the raw CSV files with the csv module, independently of the reader.
Identifying values (fields flagged identifier = y) must never appear in the loaded data or in
any message.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis
from analysis import instruments as instrument_registry
from analysis import redcap
from analysis.contract import DataError

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "redcap"
PROJECTS = ["arm-single-longitudinal", "blank-for-gray-status", "checkboxes-1", "decimal-comma-and-dot",
            "longitudinal", "repeating-instruments"]
needs_real = pytest.mark.skipif(not (REAL / "longitudinal" / "data.csv").exists(),
                                reason=f"REDCap test projects not found in {REAL} (../shared/realdata)")


def raw_rows(project: str, name: str = "data.csv") -> list[dict[str, str]]:
    with open(REAL / project / name, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def raw_line(path: Path, line: int) -> list[str]:
    """The cells of ``line`` (1 = the header) of a CSV file, read with the csv module."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))[line - 1]


def csv_line(path: Path, column: str, value: str) -> int:
    """The line (1 = the header) of the first row whose ``column`` holds ``value``, read with the
    csv module, independently of the reader."""
    with open(path, newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    return next(n for n, cells in enumerate(lines, start=1) if cells[lines[0].index(column)] == value)


def identifying_values(project: str) -> set[str]:
    """Values of the fields the dictionary flags identifier = y (at least 4 characters long)."""
    dictionary = raw_rows(project, "dictionary.csv")
    name_key = next(k for k in dictionary[0] if k.lower() in {"field_name", "variable / field name"})
    flag_key = next(k for k in dictionary[0] if k.lower() in {"identifier", "identifier?"})
    flagged = {row[name_key] for row in dictionary if row[flag_key].strip().lower() == "y"}
    return {v for row in raw_rows(project) for k, v in row.items() if k in flagged and len(v.strip()) >= 4}


def everything_said(frame: pd.DataFrame | None, notes: list[str], error: Exception | None) -> str:
    parts = list(notes) + ([str(error)] if error else [])
    if error is not None and isinstance(error, DataError):
        parts.append(error.problems.to_csv())
    if frame is not None:
        parts.append(frame.to_csv())
    return "\n".join(parts)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Copies of the instrument registry, so test scales do not leak into other tests."""
    monkeypatch.setattr(instrument_registry, "_REGISTRY", dict(instrument_registry._REGISTRY))
    monkeypatch.setattr(instrument_registry, "_ALIASES", dict(instrument_registry._ALIASES))
    for name, low, high in (("WEIGHT-TEST", 0, 200), ("BP-TEST", 0, 300), ("CHECK-TEST", 0, 10)):
        analysis.register_instrument(analysis.Instrument(name, "test scale", low, high, 1, low, high))


# --------------------------------------------------------------------------------------------
# The real test projects: each one loads or is refused for a stated reason


REFUSALS = {  # project -> words of the reason (the identifier screen, or no ratings)
    "arm-single-longitudinal": "'interview_date' looks like calendar dates",
    "blank-for-gray-status": "no rating-scale field found",
    "checkboxes-1": "no rating-scale field found",
    "decimal-comma-and-dot": "no rating-scale field found",
    "longitudinal": "'next_of_kin_contact_name' looks like names",
    "repeating-instruments": "'date_bp' looks like calendar dates",
}


@needs_real
@pytest.mark.parametrize("project", PROJECTS)
def test_each_real_project_is_refused_for_its_reason_without_showing_identifiers(project):
    with pytest.raises(DataError) as error:
        redcap.to_long(redcap.read(REAL / project))
    assert REFUSALS[project] in str(error.value)
    said = everything_said(None, [], error.value)
    leaked = [v for v in identifying_values(project) if v in said]
    assert not leaked


@needs_real
def test_longitudinal_identifier_fields_are_dropped_first_and_named(scratch_registry):
    project = redcap.read(REAL / "longitudinal")
    frame, notes = redcap.to_long(project, mapping={"instrument": "WEIGHT-TEST", "columns": {"score": "weight"}},
                                  allow_identifiers=True)
    assert any(n.startswith("Fields flagged identifier = y") and "first_name" in n and "email" in n for n in notes)
    assert not {"first_name", "last_name", "telephone_1", "email", "dob"} & set(frame.columns)
    said = everything_said(frame, notes, None)
    assert identifying_values("longitudinal") and not [v for v in identifying_values("longitudinal") if v in said]
    # the screen still ran on what remained (unflagged contact fields)
    assert any("next_of_kin_contact_name" in n and "allow_identifiers=True" in n for n in notes)
    expected = [r for r in raw_rows("longitudinal") if r["weight"].strip()]
    assert len(frame) == len(expected)
    events = {r["unique_event_name"]: r["event_name"] for r in raw_rows("longitudinal", "event.csv")}
    assert sorted(frame["visit"]) == sorted(events[r["redcap_event_name"]] for r in expected)
    assert set(frame["arm"]) == {r["redcap_event_name"].rsplit("_", 1)[1] for r in expected}
    data = analysis.load(frame.assign(time_hours=0.0), allow_identifiers=False)
    assert data.n_patients == len({r["study_id"] for r in expected})


@needs_real
def test_arm_single_longitudinal_events_become_visits(scratch_registry):
    frame, notes = redcap.to_long(redcap.read(REAL / "arm-single-longitudinal"),
                                  mapping={"instrument": "WEIGHT-TEST", "columns": {"score": "weight"},
                                           "visit_times": {"intake_arm_1": 0, "dischage_arm_1": 24,
                                                           "follow_up_arm_1": 168}},
                                  allow_identifiers=True)
    raw = raw_rows("arm-single-longitudinal")
    assert len(frame) == len(raw) == 9
    assert sorted(frame["score"]) == sorted(float(r["weight"]) for r in raw)
    assert set(frame["visit"]) == {"Intake", "Dischage", "Follow up"}
    assert sorted(frame["time_hours"].unique()) == [0.0, 24.0, 168.0]
    data = analysis.load(frame)
    assert data.n_patients == 3 and len(data.assessments) == 9


@needs_real
def test_repeating_instances_are_separate_ratings(scratch_registry):
    frame, notes = redcap.to_long(redcap.read(REAL / "repeating-instruments"),
                                  mapping={"instrument": "BP-TEST", "columns": {"score": "bp_systolic"}},
                                  allow_identifiers=True)
    raw = [r for r in raw_rows("repeating-instruments") if r["redcap_repeat_instrument"] == "bp"]
    assert len(frame) == len(raw)
    assert sorted(frame["visit"]) == sorted(f"#{r['redcap_repeat_instance']}" for r in raw)
    assert any("repeat instance" in n for n in notes)
    # decoded choices of a dropdown, from the dictionary (race 4 = ... ; the label, not the code)
    dictionary = redcap.dictionary_frame(redcap.read(REAL / "repeating-instruments").dictionary)
    race_choices = dict(p.split(", ", 1) for p in dictionary.set_index("field_name").loc["race", "choices"].split(" | "))
    first = raw_rows("repeating-instruments")[0]
    assert frame.loc[frame["patient_id"] == first["record_id"], "race"].iloc[0] == race_choices[first["race"]]
    assert "dob" not in frame.columns and "first_name" not in frame.columns


@needs_real
def test_checkboxes_decoded_and_blank_status_is_not_started(scratch_registry):
    frame, notes = redcap.to_long(redcap.read(REAL / "blank-for-gray-status"),
                                  mapping={"instrument": "WEIGHT-TEST", "columns": {"score": "weight"}},
                                  allow_identifiers=True)
    raw = raw_rows("blank-for-gray-status")
    started = [r for r in raw if r["health_complete"].strip() and r["weight"].strip()]
    assert len(frame) == len(started)  # record 6 (every form status 0, no data) has no rating
    checked = {r["record_id"]: [c for c in ("1", "2", "3", "4", "5", "6") if r[f"race___{c}"] == "1"] for r in started}
    dictionary = redcap.dictionary_frame(redcap.read(REAL / "blank-for-gray-status").dictionary)
    labels = dict(p.strip().split(", ", 1) for p in
                  dictionary.set_index("field_name").loc["race", "choices"].split("|"))
    for record, codes in checked.items():
        assert frame.loc[frame["patient_id"] == record, "race"].iloc[0] == "; ".join(labels[c] for c in codes)
    said = everything_said(frame, notes, None)
    assert not [v for v in identifying_values("blank-for-gray-status") if v in said]


@needs_real
def test_decimal_comma_fields_equal_their_dot_twins(scratch_registry):
    dot, _ = redcap.to_long(redcap.read(REAL / "decimal-comma-and-dot"),
                            mapping={"instrument": "WEIGHT-TEST", "columns": {"score": "weight_dot"}})
    comma, notes = redcap.to_long(redcap.read(REAL / "decimal-comma-and-dot"),
                                  mapping={"instrument": "WEIGHT-TEST", "columns": {"score": "weight_comma"}})
    raw = raw_rows("decimal-comma-and-dot")
    assert list(comma["score"]) == list(dot["score"]) == [float(r["weight_dot"]) for r in raw]
    assert any("Decimal comma" in n for n in notes)
    assert list(comma["height_comma"]) == [float(r["height_dot"]) for r in raw]
    assert "name" not in comma.columns  # flagged identifier = y


@needs_real
def test_api_style_dictionary_reads_like_the_web_one():
    web = redcap.dictionary_frame(pd.read_csv(REAL / "decimal-comma-and-dot" / "dictionary.csv", dtype=str,
                                              keep_default_na=False))
    api = redcap.dictionary_frame(pd.read_csv(REAL / "decimal-comma-and-dot" / "metadata.csv", dtype=str,
                                              keep_default_na=False))
    pd.testing.assert_frame_equal(web, api)


# --------------------------------------------------------------------------------------------
# A synthetic ketamine project with MADRS in REDCap


def madrs_project(n_patients: int = 4, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records (raw export), web-style dictionary and events of a small MADRS project."""
    rng = np.random.default_rng(seed)
    events = pd.DataFrame({"event_name": ["Baseline", "4h", "Day 7"], "arm_num": "1",
                           "unique_event_name": ["baseline_arm_1", "4h_arm_1", "day_7_arm_1"]})
    rows = []
    for p in range(n_patients):
        for e, event in enumerate(events["unique_event_name"]):
            items = rng.integers(0, 7, size=10)
            row = {"record_id": str(101 + p), "redcap_event_name": event,
                   "patient_name": f"Person{p} Surname{p}" if e == 0 else "",
                   "phone": f"(555) 010-{1000 + p}" if e == 0 else "",
                   "sex": str(p % 2) if e == 0 else "", "age": str(30 + p) if e == 0 else "",
                   "demographics_complete": "2" if e == 0 else ""}
            row.update({f"madrs_{i + 1}": str(v) for i, v in enumerate(items)})
            row["madrs_total"] = str(int(items.sum()))
            row["madrs_complete"] = "2"
            rows.append(row)
    records = pd.DataFrame(rows)
    fields = [("record_id", "demographics", "text", "Record ID", "", ""),
              ("patient_name", "demographics", "text", "Patient name", "", "y"),
              ("phone", "demographics", "text", "Phone", "", "y"),
              ("sex", "demographics", "radio", "Sex", "0, Female | 1, Male", ""),
              ("age", "demographics", "text", "Age", "", "")]
    fields += [(f"madrs_{i}", "madrs", "radio", f"MADRS item {i}", "0, 0 | 1, 1 | 2, 2 | 3, 3 | 4, 4 | 5, 5 | 6, 6", "")
               for i in range(1, 11)]
    fields.append(("madrs_total", "madrs", "calc", "MADRS total", "sum([madrs_1], [madrs_10])", ""))
    dictionary = pd.DataFrame(fields, columns=["Variable / Field Name", "Form Name", "Field Type", "Field Label",
                                               "Choices, Calculations, OR Slider Labels", "Identifier?"])
    return records, dictionary, events


def test_madrs_project_loads_with_event_times_and_no_identifiers():
    records, dictionary, events = madrs_project()
    frame, notes = redcap.to_long(records, dictionary, events)
    data = analysis.load(frame)
    assert data.n_patients == 4
    totals = data.assessments[data.assessments["item"].isna()]
    assert len(totals) == 12 and len(data.assessments) == 12 * 11
    assert sorted(totals["time_hours"].unique()) == [0.0, 4.0, 168.0]
    assert sorted(totals["score"]) == sorted(records["madrs_total"].astype(float))
    assert set(data.patients["sex"]) == {"F", "M"}
    said = everything_said(frame, notes, None)
    assert "Person0" not in said and "555" not in said
    assert any("patient_name, phone" in n for n in notes)
    assert any("Blank form status" in n and "demographics" in n for n in notes)
    mapping = redcap.suggest(records, dictionary, events)
    assert mapping.layout == "redcap" and mapping.columns == {"patient_id": "record_id", "visit": "redcap_event_name",
                                                              "score": "madrs_total"}
    assert analysis.Mapping.from_json(mapping.to_json()) == mapping


def test_api_headers_label_export_and_an_unflagged_identifier():
    records, dictionary, events = madrs_project()
    api = dictionary.rename(columns={"Variable / Field Name": "field_name", "Form Name": "form_name",
                                     "Field Type": "field_type", "Field Label": "field_label",
                                     "Choices, Calculations, OR Slider Labels": "select_choices_or_calculations",
                                     "Identifier?": "identifier"})
    expected, _ = redcap.to_long(records, dictionary, events)
    via_api, _ = redcap.to_long(records, api, events)
    pd.testing.assert_frame_equal(expected, via_api)
    labels = dict(zip(dictionary["Variable / Field Name"], dictionary["Field Label"], strict=True))
    label_style = records.rename(columns={**labels, "redcap_event_name": "Event Name"})
    label_style = label_style.rename(columns={"demographics_complete": "Complete?", "madrs_complete": "Complete?"})
    label_style["Sex"] = label_style["Sex"].map({"0": "Female", "1": "Male", "": ""})
    via_labels, notes = redcap.to_long(label_style, dictionary, events)
    assert any("Label-style export detected" in n for n in notes)
    pd.testing.assert_frame_equal(expected, via_labels)
    # an identifying field NOT flagged in the dictionary is caught by the identifier screen
    unflagged = dictionary.copy()
    unflagged.loc[unflagged["Variable / Field Name"] == "phone", "Identifier?"] = ""
    with pytest.raises(DataError, match="'phone' looks like phone") as error:
        redcap.to_long(records, unflagged, events)
    assert "555" not in everything_said(None, [], error.value)


def test_no_dictionary_is_refused_in_words():
    records, _, _ = madrs_project()
    with pytest.raises(DataError, match="needs its data dictionary"):
        redcap.to_long(records)


# --------------------------------------------------------------------------------------------
# Property: REDCap-like random tables load or raise DataError, and never leak identifiers


cell = st.one_of(st.just(""), st.integers(-5, 70).map(str), st.sampled_from(["1,5", "x", "2.5", "NA", "7"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_rows=st.integers(1, 8), values=st.lists(cell, min_size=8 * 6, max_size=8 * 6),
       events=st.lists(st.sampled_from(["baseline_arm_1", "day_7_arm_1", "week_2_arm_1", "odd_arm_2", ""]),
                       min_size=8, max_size=8),
       ids=st.lists(st.sampled_from(["1", "2", "3", ""]), min_size=8, max_size=8),
       secret_flagged=st.booleans())
def test_random_redcap_tables_load_or_raise_data_error(n_rows, values, events, ids, secret_flagged):
    columns = ["madrs_1", "madrs_2", "madrs_total", "age", "sex", "madrs_complete"]
    records = pd.DataFrame(np.array(values).reshape(8, 6)[:n_rows], columns=columns)
    records.insert(0, "record_id", ids[:n_rows])
    records.insert(1, "redcap_event_name", events[:n_rows])
    records["contact_email"] = "someone.secret@example.org"
    dictionary = pd.DataFrame({
        "field_name": ["record_id", "madrs_1", "madrs_2", "madrs_total", "age", "sex", "contact_email"],
        "form_name": ["madrs"] * 4 + ["demographics"] * 3,
        "field_type": ["text", "radio", "radio", "calc", "text", "radio", "text"],
        "select_choices_or_calculations": ["", "0, 0 | 6, 6", "0, 0 | 6, 6", "", "", "0, Female | 1, Male", ""],
        "identifier": [""] * 6 + ["y" if secret_flagged else ""]})
    frame, notes, error = None, [], None
    try:
        frame, notes = redcap.to_long(records, dictionary)
        analysis.load(frame)
    except DataError as raised:
        error = raised
    assert "someone.secret" not in everything_said(frame, notes, error)
    if not secret_flagged:
        assert error is not None  # the identifier screen is never bypassed


def test_analysis_load_reads_a_redcap_folder(tmp_path: Path):
    records, dictionary, events = madrs_project()
    records.to_csv(tmp_path / "data.csv", index=False)
    dictionary.to_csv(tmp_path / "dictionary.csv", index=False)
    events.to_csv(tmp_path / "event.csv", index=False)
    data = analysis.load(tmp_path, layout="redcap")
    assert data.n_patients == 4 and data.mapping.layout == "redcap"
    assert len(data.assessments[data.assessments["item"].isna()]) == 12
    said = " ".join(str(w) for w in data.warnings) + data.assessments.to_csv() + data.patients.to_csv()
    assert "Person0" not in said and "555" not in said


def test_a_redcap_folder_loads_without_the_layout_hint(tmp_path: Path):
    records, dictionary, events = madrs_project()
    records.to_csv(tmp_path / "data.csv", index=False)
    dictionary.to_csv(tmp_path / "dictionary.csv", index=False)
    data = analysis.load(tmp_path)
    assert data.mapping.layout == "redcap" and data.n_patients == 4


def test_load_passes_allow_identifiers_to_the_redcap_reader(tmp_path: Path):
    records, dictionary, events = madrs_project()
    records["clinic_phone"] = "(555) 010-7777"  # looks identifying by name, not flagged in the dictionary
    records.to_csv(tmp_path / "data.csv", index=False)
    dictionary.to_csv(tmp_path / "dictionary.csv", index=False)
    events.to_csv(tmp_path / "event.csv", index=False)
    with pytest.raises(DataError, match="allow_identifiers=True"):
        analysis.load(tmp_path)
    data = analysis.load(tmp_path, allow_identifiers=True)  # the fix the message names
    assert data.n_patients == 4
    said = " ".join(str(w) for w in data.warnings) + data.assessments.to_csv() + data.patients.to_csv()
    assert "clinic_phone" in said and "7777" not in said


def test_problems_in_a_redcap_export_name_its_row_and_csv_line(tmp_path: Path):
    records, dictionary, events = madrs_project()
    records.loc[4, "madrs_total"] = "75"  # out of the MADRS range 0-60
    records.to_csv(tmp_path / "data.csv", index=False)
    dictionary.to_csv(tmp_path / "dictionary.csv", index=False)
    events.to_csv(tmp_path / "event.csv", index=False)
    line = csv_line(tmp_path / "data.csv", "madrs_total", "75")
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problem = raised.value.problems.iloc[0]
    assert "75" in problem["message"] and "outside the MADRS" in problem["message"]
    assert problem["row"] == line - 1 == 5  # the fifth record: row 5 under the header
    record = raw_line(tmp_path / "data.csv", line)[0]
    assert problem["location"] == f"line {line} of data.csv (record {record})"
    assert "not a line of its files" not in str(raised.value) and "rating 5" not in str(raised.value)


@needs_real
@pytest.mark.parametrize("project", PROJECTS)
def test_real_redcap_folders_are_recognised_without_hints(project: str):
    # These test projects hold no rating scale: the error says so (not "no assessments file").
    with pytest.raises(DataError) as raised:
        analysis.load(REAL / project, allow_identifiers=True)
    assert "holds no ratings the toolkit knows" in str(raised.value)
    if project == "repeating-instruments":  # the number fields are named as candidates for the score
        assert "number fields in the export: bp_systolic, bp_diastolic" in str(raised.value)
        assert "bp_systolic" in analysis.suggest_mapping(REAL / project).describe()[-1]


def test_field_named_as_an_instrument_is_its_total_and_items_are_numbered():
    records = pd.DataFrame({"id": ["1", "1", "2"], "redcap_event_name": ["baseline_arm_1", "week_2_arm_1"] + ["baseline_arm_1"],
                            "phq9": ["12", "5", "20"], "phq9_9": ["1", "0", "2"]})
    dictionary = pd.DataFrame({"field_name": ["id", "phq9", "phq9_9"], "form_name": ["phq", "phq", "phq"],
                               "field_type": ["text", "calc", "radio"],
                               "select_choices_or_calculations": ["", "", "0, 0 | 1, 1 | 2, 2 | 3, 3"]})
    frame, notes = redcap.to_long(records, dictionary)
    assert set(frame["instrument"]) == {"PHQ-9"}
    assert sorted(frame.loc[frame["item"].isna(), "score"]) == [5.0, 12.0, 20.0]
    assert list(frame.loc[frame["item"].notna(), "item"].unique()) == [9]
    assert sorted(frame["time_hours"].unique()) == [0.0, 336.0]  # "baseline", "week 2" from the event names
    assert analysis.load(frame).n_patients == 2
