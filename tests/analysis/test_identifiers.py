"""De-identification checks: column names and contents that look like Safe Harbor identifiers.

Reference: the Safe Harbor list (45 CFR 164.514(b)(2)); the example values are made up.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.contract import DataError
from analysis.identifiers import SAMPLE_SIZE, find_identifier_columns, mask_value, reason_for_name


@pytest.mark.parametrize(("column", "reason"), [
    ("email", "e-mail"), ("E-Mail Address", "e-mail"), ("phone_number", "phone"), ("Telephone", "phone"),
    ("SSN", "social security"), ("mrn", "medical record"), ("MedicalRecordNumber", "medical record"),
    ("first_name", "names"), ("LastName", "names"), ("patient_name", "names"), ("surname", "names"),
    ("street_address", "street"), ("city", "street"), ("zip", "ZIP"), ("postal_code", "ZIP"),
    ("dob", "dates of birth"), ("date_of_birth", "dates of birth"), ("BirthDate", "dates of birth"),
    ("admission_date", "calendar dates"), ("ip_address", "IP"),
])
def test_identifying_column_names(column, reason):
    found = reason_for_name(column)
    assert found is not None and reason in found


@pytest.mark.parametrize("column", ["patient_id", "instrument", "instrument_name", "score", "time_hours",
                                    "visit", "route", "diagnosis", "age", "sex", "birth_year", "site",
                                    "dose_mg_per_kg", "rater_code", "cohort", "infusion_number"])
def test_ordinary_column_names_are_not_flagged(column):
    assert reason_for_name(column) is None


def test_mask_keeps_the_shape_not_the_value():
    assert mask_value("jane.roe@example.org") == "xxxx.xxx@xxxxxxx.xxx"
    assert mask_value("078-05-1120") == "999-99-9999"
    assert mask_value("Zoë Müller") == "xxx xxxxxx"
    assert mask_value("x" * 100).endswith("...") and len(mask_value("x" * 100)) == 27


def _finding(frame: pd.DataFrame, **kwargs):
    return {f.column: f for f in find_identifier_columns(frame, **kwargs)}


def test_content_checks_find_identifiers_in_innocently_named_columns():
    frame = pd.DataFrame({
        "notes": ["fine", "reach me at (617) 555-0199", "ok"],
        "contact": ["a.b@clinic.org", None, "c@d.net"],
        "ref": ["078-05-1120", "219-09-9999", "457-55-5462"],
        "clinician": ["Jane Roe", "John Smith", "Maria Garcia"],
        "home": ["12 Elm Street", "4 Oak Avenue", "77 Sunset Blvd"],
        "when": ["2024-01-02", "2024-02-03", "03/04/2024"],
        "area": ["02139", "10025", "94110"],
        "chart": [40012345, 40098765, 40055555],
    })
    found = _finding(frame)
    expected = {"notes": "phone", "contact": "e-mail", "ref": "social security", "clinician": "names",
                "home": "street", "when": "calendar dates", "area": "ZIP", "chart": "medical record"}
    assert set(found) == set(expected)
    for column, reason in expected.items():
        assert reason in found[column].reason and found[column].by == "content"


def test_ordinary_contents_are_not_flagged():
    frame = pd.DataFrame({
        "patient_id": ["K001", "K002", "P0000003"],
        "visit": ["baseline", "Day One", "Week Two"],
        "rater_code": ["r1", "r2", "r3"],
        "score": [30.0, 12, 7],
        "time_hours": [-1.0, 4, 1e4],
        "bmi": [24.5, 31.0, 28.2],
        "cohort": ["A", "B", "A"],
    })
    assert _finding(frame, known_columns=frozenset({"patient_id", "visit", "score", "time_hours"})) == {}


def test_known_columns_are_still_checked_for_strong_patterns():
    frame = pd.DataFrame({"visit": ["baseline", "call 617-555-0199"], "patient_id": ["a@b.org", "K2"]})
    found = _finding(frame, known_columns=frozenset({"visit", "patient_id"}))
    assert set(found) == {"visit", "patient_id"}


def test_content_check_uses_a_bounded_sample_and_still_finds_a_rare_value():
    values = np.array([f"note {i}" for i in range(50_000)], dtype=object)
    values[SAMPLE_SIZE * 0] = "write to x.y@z.com"
    found = _finding(pd.DataFrame({"comment": pd.Categorical(values)}))
    # The first distinct value is always in the sample: a rare e-mail there is found.
    assert "comment" in found and "e-mail" in found["comment"].reason


def test_datetime_columns_are_dates_unless_converted_by_the_loader():
    frame = pd.DataFrame({"assessment_date": pd.to_datetime(["2024-01-02"]), "seen": pd.to_datetime(["2024-01-02"])})
    found = _finding(frame, date_columns=frozenset({"assessment_date"}))
    assert set(found) == {"seen"}


def test_a_message_quoting_a_cell_masks_a_value_that_looks_identifying():
    text = "patient_id,instrument,score,time_hours\nP1,MADRS,2024-03-07,0\nP1,MADRS,30,4\nP1,MADRS,x1,24\n"
    with pytest.raises(DataError) as raised:
        analysis.load(io.BytesIO(text.encode()))
    shown = str(raised.value) + raised.value.problems.to_csv()
    assert "2024-03-07" not in shown
    assert "score '9999-99-99 (masked: it looks identifying)' is not a number" in shown
    assert "score 'x1' is not a number" in shown  # other values are quoted as written


def test_free_text_is_not_read_and_never_reaches_the_tables():
    """A clinic's notes name people in ways no pattern catches ("spoke with husband John"): a
    column named as notes, or holding sentences, is left out with a warning; short labels stay."""
    frame = pd.DataFrame({"patient_id": ["C1", "C2", "C3"], "instrument": "MADRS", "time_hours": 0.0,
                          "score": [30, 28, 33], "Clinician comments": ["ok", None, "fine"],
                          "observed": ["tolerated well, spoke with husband John", "mild nausea after the dose",
                                       "asked for her sister Mary to drive"],
                          "site": ["Boston", "Boston", "Austin"]})
    data = analysis.load(frame)
    said = "\n".join([*(str(w) for w in data.warnings), data.patients.to_csv(), data.assessments.to_csv()])
    assert "John" not in said and "Mary" not in said and "ok" not in data.patients.to_csv()
    assert data.patients["site"].tolist() == ["Boston", "Boston", "Austin"]
    warning = next(w for w in data.warnings if w.code == "free_text_dropped")
    assert "'Clinician comments', 'observed'" in warning.message


def test_coded_labels_of_many_words_are_not_free_text():
    """CDISC RACE ('BLACK OR AFRICAN AMERICAN') repeats a few long labels over the rows: a
    covariate, not notes (the pilot's RACE was dropped as free text)."""
    races = ["WHITE", "BLACK OR AFRICAN AMERICAN", "AMERICAN INDIAN OR ALASKA NATIVE", "Asian or Pacific Islander"]
    frame = pd.DataFrame({"patient_id": [f"P{i}" for i in range(12)], "instrument": "MADRS", "time_hours": 0.0,
                          "score": 30, "race": races * 3})
    patients = analysis.load(frame).patients.set_index("patient_id")
    assert patients["race"].to_dict() == dict(zip(frame["patient_id"], frame["race"], strict=True))
