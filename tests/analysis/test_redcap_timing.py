"""REDCap projects as clinics build them: a date on each rating form, an infusion form with its
date, dose and route. The dates time the ratings and infusions (hours since each record's first
infusion) and never leave the reader; other dates (birth, enrolment) are still refused.

Expected hours are written from the calendar by hand (2024-01-01 -> 2024-01-03 is 48 h), never
computed by the reader.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis
from analysis.contract import DataError
from tests.analysis.test_redcap import csv_line

EVENTS = pd.DataFrame({"event_name": ["Infusion 1", "Infusion 2", "Infusion 3", "Follow-up"], "arm_num": "1",
                       "unique_event_name": ["infusion_1_arm_1", "infusion_2_arm_1", "infusion_3_arm_1",
                                             "follow_up_arm_1"]})
# Record -> the days (after its first infusion) of its three infusions and four ratings.
STARTS = {"101": "2024-01-01", "102": "2024-02-28"}  # 102 crosses the leap day: 2024-02-28 -> 03-01 is 48 h
INFUSION_DAYS, RATING_DAYS = (0, 2, 4), (0, 2, 4, 14)
# By hand: a rating dated day d (no time of day) is at 24 d hours, or one minute before the
# infusion of that day (rated at check-in).
RATING_HOURS = [24.0 * d - (1 / 60 if d in INFUSION_DAYS else 0.0) for d in RATING_DAYS]
SCORES = ("32", "24", "18", "20")
FIELD_COLUMNS = ["Variable / Field Name", "Form Name", "Field Type", "Field Label",
                 "Choices, Calculations, OR Slider Labels", "Text Validation Type OR Show Slider Number", "Identifier?"]


def clinic_project(date_validation: str = "date_ymd") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records, dictionary and events of a ketamine clinic: demographics (weight), an infusion form
    (date, dose in mg, route) at three infusion events, MADRS with its date at every event."""
    rows = []
    for record, start in STARTS.items():
        first = pd.Timestamp(start)
        for e, event in enumerate(EVENTS["unique_event_name"]):
            row = {"record_id": record, "redcap_event_name": event}
            if e == 0:
                row.update(age="41", sex="1", weight_kg="80", demographics_complete="2")
            if e < 3:
                row.update(infusion_date=str((first + pd.Timedelta(days=INFUSION_DAYS[e])).date()), dose_mg="40",
                           route="1", infusion_complete="2")
            row.update(madrs_date=str((first + pd.Timedelta(days=RATING_DAYS[e])).date()), madrs_total=SCORES[e],
                       madrs_complete="2")
            rows.append(row)
    records = pd.DataFrame(rows).fillna("")
    fields = [("record_id", "demographics", "text", "Record ID", "", "", ""),
              ("age", "demographics", "text", "Age", "", "integer", ""),
              ("sex", "demographics", "radio", "Sex", "0, Female | 1, Male", "", ""),
              ("weight_kg", "demographics", "text", "Weight (kg)", "", "number", ""),
              ("infusion_date", "infusion", "text", "Date of infusion", "", date_validation, ""),
              ("dose_mg", "infusion", "text", "Ketamine dose (mg)", "", "number", ""),
              ("route", "infusion", "radio", "Route", "1, Intravenous | 2, Intramuscular", "", ""),
              ("madrs_date", "madrs", "text", "Date of rating", "", date_validation, ""),
              ("madrs_total", "madrs", "text", "MADRS total", "", "integer", "")]
    return records, pd.DataFrame(fields, columns=FIELD_COLUMNS), EVENTS.copy()


def write(folder: Path, records: pd.DataFrame, dictionary: pd.DataFrame, events: pd.DataFrame | None) -> Path:
    records.to_csv(folder / "data.csv", index=False)
    dictionary.to_csv(folder / "dictionary.csv", index=False)
    if events is not None:
        events.to_csv(folder / "event.csv", index=False)
    return folder


def everything(data: analysis.OutcomeData) -> str:
    """Every table, warning and summary of a loaded dataset, as text."""
    tables = [t.to_csv() for t in (data.assessments, data.infusions, data.patients, data.events) if t is not None]
    return "\n".join([*tables, *(str(w) for w in data.warnings), data.summary().to_csv()])


def test_rating_and_infusion_dates_become_hours_since_the_first_infusion(tmp_path: Path):
    data = analysis.load(write(tmp_path, *clinic_project()))
    hours = {record: RATING_HOURS for record in STARTS}
    got = data.assessments.sort_values(["patient_id", "time_hours"]).groupby("patient_id")["time_hours"].agg(list)
    assert got.to_dict() == hours
    assert data.assessments.sort_values(["patient_id", "time_hours"])["score"].tolist() == [float(s) for s in SCORES] * 2
    infusions = data.infusions.sort_values(["patient_id", "infusion_number"])
    assert infusions["time_hours"].tolist() == [0.0, 48.0, 96.0] * 2
    assert infusions["infusion_number"].tolist() == [1, 2, 3] * 2
    assert infusions["dose_mg_per_kg"].tolist() == [0.5] * 6  # 40 mg / 80 kg
    assert set(infusions["route"]) == {"IV"}
    said = everything(data)
    assert not [w for w in data.warnings if w.code in {"assumed_infusion", "assumed_route", "dose_missing"}]
    # no calendar date, in any form, anywhere in what was loaded
    for start in STARTS.values():
        for day in range(0, 15):
            date = pd.Timestamp(start) + pd.Timedelta(days=day)
            assert str(date.date()) not in said and date.strftime("%m/%d/%Y") not in said
    assert "converted to hours since each record's first infusion and removed" in said
    assert "'madrs_date' dates the madrs ratings" in said
    # the suggested mapping names the fields it read, and re-applied from its JSON reads the same
    mapping = data.mapping
    assert {k: mapping.columns.get(k) for k in ("infusion_date", "dose_mg", "route", "assessment_date")} == \
        {"infusion_date": "infusion_date", "dose_mg": "dose_mg", "route": "route", "assessment_date": "madrs_date"}
    again = analysis.load(tmp_path, mapping=analysis.Mapping.from_json(mapping.to_json()))
    pd.testing.assert_frame_equal(again.assessments, data.assessments)
    pd.testing.assert_frame_equal(again.infusions, data.infusions)


def test_the_infusions_table_names_the_record_lines_it_was_read_from(tmp_path: Path):
    records, dictionary, events = clinic_project()
    records.loc[5, "dose_mg"] = "-40"  # record 102's second infusion
    line = csv_line(write(tmp_path, records, dictionary, events) / "data.csv", "dose_mg", "-40")
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problem = raised.value.problems.iloc[0]
    assert problem["table"] == "infusions" and "negative" in problem["message"]
    assert problem["location"] == f"line {line} of data.csv (record 102)"


def test_datetime_fields_time_ratings_within_the_day(tmp_path: Path):
    records, dictionary, events = clinic_project("datetime_ymd")
    records["infusion_date"] = records["infusion_date"].where(records["infusion_date"] == "", records["infusion_date"]
                                                              + " 09:00")
    # each rating 4 h after its infusion (13:00); the follow-up on day 14 at 09:30
    records["madrs_date"] = records["madrs_date"] + " 13:00"
    records.loc[records["redcap_event_name"] == "follow_up_arm_1", "madrs_date"] = \
        records["madrs_date"].str.replace("13:00", "09:30")
    data = analysis.load(write(tmp_path, records, dictionary, events))
    got = sorted(data.assessments.loc[data.assessments["patient_id"] == "101", "time_hours"])
    assert got == [4.0, 52.0, 100.0, 336.5]  # by hand: 09:00 -> 13:00 is 4 h; day 14 09:30 is 336.5 h


def test_a_date_gives_the_day_and_the_event_the_hour(tmp_path: Path):
    """Date-only fields with events that say their time: '4h' on the infusion day is 4 h, not 0."""
    records, dictionary, _ = clinic_project()
    events = pd.DataFrame({"event_name": ["Baseline", "4h", "Day 7"], "arm_num": "1",
                           "unique_event_name": ["baseline_arm_1", "4h_arm_1", "day_7_arm_1"]})
    rows = []
    for record, start in STARTS.items():
        first = pd.Timestamp(start)
        rows += [{"record_id": record, "redcap_event_name": "baseline_arm_1", "infusion_date": start, "dose_mg": "40",
                  "route": "1", "infusion_complete": "2", "weight_kg": "80", "demographics_complete": "2",
                  "madrs_date": start, "madrs_total": "30", "madrs_complete": "2"},
                 {"record_id": record, "redcap_event_name": "4h_arm_1", "madrs_date": start, "madrs_total": "15",
                  "madrs_complete": "2"},
                 # the "Day 7" visit really took place on day 9: the date wins over the event's nominal day
                 {"record_id": record, "redcap_event_name": "day_7_arm_1",
                  "madrs_date": str((first + pd.Timedelta(days=9)).date()), "madrs_total": "20", "madrs_complete": "2"}]
    records = pd.DataFrame(rows).fillna("")
    data = analysis.load(write(tmp_path, records, dictionary, events))
    got = data.assessments.loc[data.assessments["patient_id"] == "101"].sort_values("time_hours")
    assert got["time_hours"].tolist() == [0.0, 4.0, 216.0]
    assert got["score"].tolist() == [30.0, 15.0, 20.0]
    assert any("by the day only" in str(w) for w in data.warnings)


def test_repeating_infusion_and_rating_forms_are_timed_by_their_dates(tmp_path: Path):
    """No events: repeating instruments, each instance with its own date."""
    records, dictionary, _ = clinic_project()
    rows = [{"record_id": "7", "age": "50", "weight_kg": "70", "demographics_complete": "2"}]
    for instance, day in enumerate((0, 3, 7), start=1):
        rows.append({"record_id": "7", "redcap_repeat_instrument": "infusion", "redcap_repeat_instance": str(instance),
                     "infusion_date": str((pd.Timestamp("2023-12-30") + pd.Timedelta(days=day)).date()),
                     "dose_mg": "35", "route": "2", "infusion_complete": "2"})
    for instance, day in enumerate((0, 1, 8), start=1):
        rows.append({"record_id": "7", "redcap_repeat_instrument": "madrs", "redcap_repeat_instance": str(instance),
                     "madrs_date": str((pd.Timestamp("2023-12-30") + pd.Timedelta(days=day)).date()),
                     "madrs_total": str(30 - 5 * instance), "madrs_complete": "2"})
    records = pd.DataFrame(rows).fillna("")
    data = analysis.load(write(tmp_path, records, dictionary, None))
    assert sorted(data.infusions["time_hours"]) == [0.0, 72.0, 168.0]  # 2023-12-30 -> 2024-01-02 -> 01-06
    assert set(data.infusions["route"]) == {"IM"}
    assert data.infusions["dose_mg_per_kg"].tolist() == pytest.approx([0.5] * 3)  # 35 mg / 70 kg
    assert sorted(data.assessments["time_hours"]) == [-1 / 60, 24.0, 192.0]  # day 0: before its infusion


def test_an_infusion_no_rating_follows_is_kept(tmp_path: Path):
    """Ratings only at the first and last infusion: the middle infusion is still an infusion."""
    records, dictionary, events = clinic_project()
    middle = records["redcap_event_name"] == "infusion_2_arm_1"
    records.loc[middle, ["madrs_date", "madrs_total", "madrs_complete"]] = ""
    data = analysis.load(write(tmp_path, records, dictionary, events))
    assert data.infusions.groupby("patient_id")["infusion_number"].agg(list).to_dict() == \
        {"101": [1, 2, 3], "102": [1, 2, 3]}
    assert len(data.assessments) == 6


def test_other_dates_are_still_refused_and_never_shown(tmp_path: Path):
    records, dictionary, events = clinic_project()
    records["dob"] = ""
    records.loc[records["redcap_event_name"] == "infusion_1_arm_1", "dob"] = "1980-05-17"
    dictionary.loc[len(dictionary)] = ["dob", "demographics", "text", "Date of birth", "", "date_ymd", ""]
    write(tmp_path, records, dictionary, events)
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    said = str(raised.value) + raised.value.problems.to_csv()
    assert "'dob'" in said and "looks like dates" in said
    assert "1980-05-17" not in said and "2024-01-01" not in said
    dictionary.loc[dictionary["Variable / Field Name"] == "dob", "Identifier?"] = "y"  # the fix the message names
    data = analysis.load(write(tmp_path, records, dictionary, events))
    assert "1980" not in everything(data) and data.n_patients == 2


def test_rating_dates_without_infusion_dates_are_removed_and_said(tmp_path: Path):
    records, dictionary, _ = clinic_project()
    keep = ~dictionary["Form Name"].eq("infusion")
    records = records.drop(columns=["infusion_date", "dose_mg", "route", "infusion_complete"])
    events = pd.DataFrame({"event_name": ["Baseline", "Day 2", "Day 4", "Day 14"], "arm_num": "1",
                           "unique_event_name": EVENTS["unique_event_name"]})
    data = analysis.load(write(tmp_path, records, dictionary[keep], events))
    assert sorted(data.assessments.loc[data.assessments["patient_id"] == "101", "time_hours"]) == \
        [0.0, 48.0, 96.0, 336.0]  # from the event labels
    said = everything(data)
    assert "no infusion dates to measure them from" in said and "2024-01-03" not in said


def test_an_unreadable_date_is_named_by_its_line_not_shown(tmp_path: Path):
    records, dictionary, events = clinic_project()
    records.loc[2, "madrs_date"] = "2024-13-45"  # the third record row: line 4 of data.csv
    with pytest.raises(DataError) as raised:
        analysis.load(write(tmp_path, records, dictionary, events))
    said = str(raised.value) + raised.value.problems.to_csv()
    assert "'madrs_date'" in said and "not readable dates" in said and "line 4 of data.csv" in said
    assert "2024-13-45" not in said


# --------------------------------------------------------------------------------------------
# Property: random dated projects load or raise DataError, and never show a date

DATES = ["2024-01-01", "2024-01-03", "2024-01-03 13:05", "2023-12-31", "03/01/2024", "2024-02-30", "soon", ""]
date_cell = st.sampled_from(DATES)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(infusion_dates=st.lists(date_cell, min_size=8, max_size=8), rating_dates=st.lists(date_cell, min_size=8, max_size=8),
       doses=st.lists(st.sampled_from(["40", "", "0.5 mg/kg", "placebo", "-3", "x"]), min_size=8, max_size=8),
       routes=st.lists(st.sampled_from(["1", "2", "", "9"]), min_size=8, max_size=8),
       validation=st.sampled_from(["date_ymd", "datetime_ymd", "date_dmy", ""]))
def test_random_dated_projects_load_or_raise_data_error(tmp_path_factory, infusion_dates, rating_dates, doses, routes,
                                                        validation):
    records, dictionary, events = clinic_project(validation)
    records["infusion_date"], records["madrs_date"] = infusion_dates, rating_dates
    records["dose_mg"], records["route"] = doses, routes
    folder = write(tmp_path_factory.mktemp("project"), records, dictionary, events)
    try:
        said = everything(analysis.load(folder))
    except DataError as raised:
        said = str(raised) + raised.problems.to_csv()
    shown = [d for d in DATES if len(d) > 4 and d in said]
    assert not shown


def test_several_infusions_without_dates_or_timed_events_are_refused_in_words(tmp_path: Path):
    records, dictionary, events = clinic_project()
    records = records.drop(columns=["infusion_date"])
    dictionary = dictionary[dictionary["Variable / Field Name"] != "infusion_date"]
    with pytest.raises(DataError) as raised:
        analysis.load(write(tmp_path, records, dictionary, events))
    said = str(raised.value)
    assert "order of the infusions is not known" in said and "line 2 of data.csv" in said and "visit_times" in said
    # the fix the message names: event times
    hours = {"infusion_1_arm_1": 0, "infusion_2_arm_1": 48, "infusion_3_arm_1": 96, "follow_up_arm_1": 336}
    data = analysis.load(tmp_path, visit_times=hours)
    assert sorted(data.infusions.loc[data.infusions["patient_id"] == "101", "time_hours"]) == [0.0, 48.0, 96.0]


def test_a_visit_form_date_times_the_rating_forms_on_its_row(tmp_path: Path):
    """The date is on a 'visit' form (visit_date), not on the MADRS form."""
    records, dictionary, events = clinic_project()
    records = records.rename(columns={"madrs_date": "visit_date"})
    names = dictionary["Variable / Field Name"] == "madrs_date"
    dictionary.loc[names, ["Variable / Field Name", "Form Name"]] = ["visit_date", "visit"]
    data = analysis.load(write(tmp_path, records, dictionary, events))
    assert sorted(data.assessments.loc[data.assessments["patient_id"] == "102", "time_hours"]) == RATING_HOURS
    assert any("'visit_date' dates the madrs ratings" in str(w) for w in data.warnings)


def test_a_medication_history_form_is_not_read_as_infusions(tmp_path: Path):
    """A form of prior antidepressants, with a dose and a start date, placed before the infusion
    form: the ketamine infusions come from the infusion form; the history's date is still a date
    the screen refuses unless flagged."""
    records, dictionary, events = clinic_project()
    history = pd.DataFrame([("prior_med_dose", "medication_history", "text", "Dose (mg)", "", "number", ""),
                            ("prior_med_start", "medication_history", "text", "Start date", "", "date_ymd", "y")],
                           columns=FIELD_COLUMNS)
    dictionary = pd.concat([dictionary.iloc[:4], history, dictionary.iloc[4:]], ignore_index=True)
    records.insert(4, "prior_med_dose", "")
    records.insert(5, "prior_med_start", "")
    first = records["redcap_event_name"] == "infusion_1_arm_1"
    records.loc[first, ["prior_med_dose", "prior_med_start"]] = ["150", "2019-06-01"]
    data = analysis.load(write(tmp_path, records, dictionary, events))
    assert data.infusions.groupby("patient_id")["time_hours"].agg(list).to_dict() == \
        {"101": [0.0, 48.0, 96.0], "102": [0.0, 48.0, 96.0]}
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5] * 6
    said = everything(data)
    assert "2019-06-01" not in said and "dropped before reading: prior_med_start" in said  # flagged: dropped first
    assert data.patients["prior_med_dose"].tolist() == [150.0, 150.0]  # a patient covariate, not a dose


def test_ratings_in_an_infusion_event_without_their_own_date_are_timed_from_that_infusion(tmp_path):
    """A MADRS without a date field, rated in the events 'Infusion 1' ... 'Infusion 3' whose
    infusion form is dated: each rating is one minute before its event's infusion (a rating at an
    infusion visit is taken before it); the follow-up event says no time, and the message says what
    to give."""
    records, dictionary, events = clinic_project()
    records = records.drop(columns="madrs_date")
    dictionary = dictionary[dictionary["Variable / Field Name"] != "madrs_date"]
    folder = write(tmp_path, records, dictionary, events)
    with pytest.raises(DataError) as raised:
        analysis.load(folder)
    assert "its visit 'Follow-up' says none: give visit_times={'Follow-up': hours" in str(raised.value)
    data = analysis.load(folder, visit_times={"Follow-up": 336.0})
    hours = data.assessments.set_index(["patient_id", "visit"])["time_hours"]
    for patient in STARTS:
        assert [hours[(patient, f"Infusion {n}")] for n in (1, 2, 3)] == pytest.approx(
            [d * 24 - 1 / 60 for d in INFUSION_DAYS])
        assert hours[(patient, "Follow-up")] == 336.0
