"""Calendar dates -> hours since each patient's first infusion: one rule for every reader (long
files, CDISC EXSTDTC, REDCap); and visit labels relative to one infusion of a series. Expected
hours are counted by hand from the dates and the infusion starts."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import cdisc
from analysis.contract import DataError
from analysis.loading import calendar


def _tables(folder, infusions: str, assessments: str):
    """The two-table form written to ``folder`` (CSV text of each), returned for analysis.load."""
    (folder / "infusions.csv").write_text(infusions)
    (folder / "assessments.csv").write_text(assessments)
    return folder


def _hours(dates: list, patients: list, infusions: list, infusion_patients: list, events=None, dayfirst=False):
    infusion_dates = calendar.infusion_calendar(calendar.parse_dates(pd.Series(infusions), dayfirst), infusion_patients)
    parsed = calendar.parse_dates(pd.Series(dates), dayfirst)
    return calendar.hours_since_first(parsed, patients, infusion_dates,
                                      None if events is None else np.array(events, float))


def test_two_datetimes_give_exact_hours_and_dates_alone_give_the_day():
    hours = _hours(["2024-03-04 13:00", "2024-03-07 09:30", "2024-03-11", "2024-03-04", "2024-03-06"],
                   ["A"] * 5, ["2024-03-04 09:00", "2024-03-06"], ["A", "A"])
    # 4 h after 09:00; 3 days and 30 min; day 7 (no time of day): 168 h, not 159 h; the infusion days:
    # one minute before their infusion's start (rated at check-in, the rating the infusion follows)
    np.testing.assert_allclose(hours, [4.0, 72.5, 168.0, -1 / 60, 48.0 - 1 / 60])


def test_an_event_time_on_the_dated_day_refines_a_date_without_time():
    hours = _hours(["2024-03-04", "2024-03-05", "2024-03-09"], ["A"] * 3, ["2024-03-04"], ["A"],
                   events=[4.0, 24.0, 168.0])
    # "4h" on the infusion day is 4 h; day 1 as the event says; the "day 7" visit dated day 5 is 120 h
    np.testing.assert_allclose(hours, [4.0, 24.0, 120.0])


def test_pre_and_post_on_a_later_infusion_day_follow_that_infusion():
    infusions = ["2024-03-04 09:00", "2024-03-06 10:00"]  # the second starts 49 h after the first
    hours = _hours(["2024-03-06", "2024-03-06", "2024-03-06", "2024-03-05"], ["A"] * 4, infusions, ["A", "A"],
                   events=[0.0, 40 / 60, 4.0, 0.0])
    # pre: at the infusion's start; post: 40 min after it; 4h: 4 h after it; "pre" on a day without
    # an infusion: the day's start
    np.testing.assert_allclose(hours, [49.0, 49 + 40 / 60, 53.0, 24.0])


def test_the_first_infusion_is_the_earliest_whatever_the_row_order():
    infusion_dates = calendar.infusion_calendar(calendar.parse_dates(pd.Series(["2024-01-10 10:00", "2024-01-03 08:00",
                                                                                None, "2024-02-01"])),
                                                ["A", "A", "A", "B"])
    assert infusion_dates.first["A"] == pd.Timestamp("2024-01-03 08:00")
    assert bool(infusion_dates.first_has_time["A"]) and not bool(infusion_dates.first_has_time["B"])
    np.testing.assert_allclose(infusion_dates.hours, [170.0, 0.0, np.nan, 0.0])  # 7 days and 2 h
    hours = calendar.hours_since_first(calendar.parse_dates(pd.Series(["2024-01-03 12:00", "2024-02-02", "2024-01-01"])),
                                       ["A", "B", "C"], infusion_dates)
    np.testing.assert_allclose(hours, [4.0, 24.0, np.nan])  # 4 h after 08:00; day 1 of B; C has no infusion


def test_text_dates_in_other_orders_and_spreadsheet_datetimes():
    parsed = calendar.parse_dates(pd.Series(["03/01/2024", "", "2024-01-05T08:15", "not a date", None]), dayfirst=True)
    assert list(parsed.when[:1]) == [np.datetime64("2024-01-03", "ns")]
    assert np.isnat(parsed.when[1]) and not parsed.unreadable[1]  # blank: missing, not unreadable
    assert parsed.has_time.tolist() == [False, False, True, False, False]
    assert parsed.unreadable.tolist() == [False, False, False, True, False]
    native = calendar.parse_dates(pd.Series(pd.to_datetime(["2024-01-03", "2024-01-03 09:30"], format="ISO8601")))
    assert native.has_time.tolist() == [False, True] and not native.unreadable.any()


def test_long_files_date_ratings_by_the_day_when_the_rating_has_no_time(tmp_path):
    data = analysis.load(_tables(tmp_path, "patient_id,infusion_number,infusion_date\nK1,1,2024-03-04 09:00\n"
                                           "K1,2,2024-03-06\n",
                                 "patient_id,instrument,score,assessment_date\n"
                                 "K1,MADRS,30,2024-03-04 08:00\nK1,MADRS,12,2024-03-11\n"))
    assert data.assessments["time_hours"].tolist() == [-1.0, 168.0]  # the day 7 visit: 168 h, not 159 h
    assert data.infusions["time_hours"].tolist() == [0.0, 48.0]


def test_long_files_keep_a_pre_and_a_post_infusion_rating_of_the_same_date_apart(tmp_path):
    data = analysis.load(_tables(tmp_path, "patient_id,infusion_number,infusion_date\nK1,1,2024-03-04\n"
                                           "K1,2,2024-03-06\n",
                                 "patient_id,instrument,score,assessment_date,visit\n"
                                 "K1,MADRS,30,2024-03-04,pre\nK1,MADRS,18,2024-03-04,post\n"
                                 "K1,MADRS,20,2024-03-06,pre\nK1,MADRS,12,2024-03-06,4h\n"
                                 "K1,MADRS,12,2024-03-11,day 7\n"))
    # pre: one minute before that day's infusion (the first's: the baseline); post: 40 min after it
    np.testing.assert_allclose(data.assessments["time_hours"], [-1 / 60, 40 / 60, 48 - 1 / 60, 52.0, 168.0])
    assert data.assessments["infusion_number"].isna().all()  # the file does not say (derived by analyses)


def test_cdisc_dose_dates_relative_to_the_first_dose_and_unreadable_ones_refused():
    dm = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1"], "AGE": [40], "SEX": ["F"]})
    qs = pd.DataFrame({"STUDYID": "S", "USUBJID": "S-1", "QSCAT": "MADRS", "QSTESTCD": "MADRS", "QSTEST": "MADRS Total",
                       "QSSTRESN": [30.0, 12.0], "QSDY": [1, 8], "QSBLFL": ["Y", ""]})
    ex = pd.DataFrame({"STUDYID": "S", "USUBJID": "S-1", "EXTRT": "KETAMINE", "EXDOSE": 0.5, "EXDOSU": "mg/kg",
                       "EXROUTE": "INTRAVENOUS", "EXSTDTC": ["2024-05-02T09:00", "2024-05-05T09:30", "2024-05-09"]})
    long_frame, _ = cdisc.to_long({"DM": dm, "QS": qs, "EX": ex})
    np.testing.assert_allclose(long_frame.attrs["infusions"].frame["time_hours"], [0.0, 72.5, 168.0])
    ex.loc[1, "EXSTDTC"] = "05/2024?"
    with pytest.raises(DataError) as raised:
        cdisc.to_long({"DM": dm, "QS": qs, "EX": ex})
    assert "EXSTDTC is not a readable ISO 8601 date" in str(raised.value)
    assert "05/2024" not in str(raised.value) and "2024-05" not in str(raised.value)  # dates never shown


WIDE_DATED = ("patient_id,age,sex,infusion_date,date_baseline,MADRS_baseline,MADRS_post,date_day7,MADRS_day7,"
              "MADRS_day14,day14_date\n"
              "K1,45,F,2024-03-04 09:00,2024-03-04,32,20,2024-03-12,14,12,2024-03-18\n"
              "K2,51,M,2024-04-01,2024-03-31,28,15,2024-04-08,20,18,\n")


def _described_and_loaded(path, text: str) -> tuple[str, analysis.OutcomeData]:
    path.write_text(text)
    return " ".join(analysis.suggest_mapping(path).describe()), analysis.load(path)


def test_a_wide_sheet_with_a_date_per_visit_is_timed_by_its_dates(tmp_path):
    described, data = _described_and_loaded(tmp_path / "clinic.csv", WIDE_DATED)
    assert "'date_baseline', 'date_day7', 'day14_date' read as the dates of the ratings" in described
    hours = data.assessments.set_index(["patient_id", "visit"])["time_hours"]
    # K1: baseline on the infusion day (one minute before it), post 40 min, day 7 dated 8 days later
    # (192 h), day 14 (336 h); K2: baseline dated the day before (-24 h, less the minute), day 7 as dated,
    # day 14 without a date: its header's 336 h
    expected = {("K1", "baseline"): -1 / 60, ("K1", "post"): 40 / 60, ("K1", "day7"): 192.0, ("K1", "day14"): 336.0,
                ("K2", "baseline"): -24.0 - 1 / 60, ("K2", "post"): 40 / 60, ("K2", "day7"): 168.0, ("K2", "day14"): 336.0}
    for key, value in expected.items():
        assert hours[key] == pytest.approx(value), key
    assert not any("date" in str(c) for c in data.assessments.columns)
    assert {w.code for w in data.warnings} >= {"dates_converted"}


def test_a_wide_sheet_with_visit_dates_but_no_infusion_date_drops_them_and_says_so(tmp_path):
    path = tmp_path / "clinic.csv"
    path.write_text(WIDE_DATED.replace("infusion_date,", "").replace("2024-03-04 09:00,", "")
                    .replace("2024-04-01,2024-03-31", "2024-03-31"))
    data = analysis.load(path)
    assert sorted(data.assessments.loc[data.assessments["patient_id"] == "K1", "time_hours"]) == \
        pytest.approx([0.0, 40 / 60, 168.0, 336.0])  # the headers' times
    dropped = [w.message for w in data.warnings if w.code == "dates_dropped"]
    assert dropped and "no infusion date to measure them from" in dropped[0]


@pytest.mark.parametrize("label, expected", [
    ("Infusion 2 post", (2, 40 / 60)), ("Inf 3 - pre", (3, -1 / 60)), ("post infusion 2", (2, 40 / 60)),
    ("pre-infusion 3", (3, -1 / 60)), ("Session 5", (5, -1 / 60)), ("2nd infusion 4h", (2, 4.0)),
    ("infusion #4 40 min", (4, 40 / 60)), ("Infusion2Post", (2, 40 / 60)), ("inf6 POST", (6, 40 / 60)),
    ("day 7", None), ("baseline", None), ("infusion 2 follow-up", None), ("Infusion 0 pre", None)])
def test_visit_labels_relative_to_one_infusion(label, expected):
    from analysis.loading.times import parse_infusion_label

    parsed = parse_infusion_label(label)
    assert parsed == (None if expected is None else (expected[0], pytest.approx(expected[1])))


SERIES_INFUSIONS = "patient_id,infusion_number,time_hours\nK1,1,0\nK1,2,50\nK2,1,0\nK2,2,72\n"
SERIES_RATINGS = ("patient_id,instrument,score,visit\nK1,MADRS,30,Infusion 1 pre\nK1,MADRS,18,Infusion 1 post\n"
                  "K1,MADRS,20,Infusion 2 pre\nK1,MADRS,12,Infusion 2 post\nK2,MADRS,28,Infusion 1 pre\n"
                  "K2,MADRS,15,Infusion 2 4h\nK2,MADRS,14,day 14\n")


def test_ratings_labelled_by_infusion_are_timed_from_that_patients_infusion(tmp_path):
    data = analysis.load(_tables(tmp_path, SERIES_INFUSIONS, SERIES_RATINGS))
    # pre: a minute before the infusion's start (so it follows the previous infusion); post: 40 min after
    np.testing.assert_allclose(data.assessments["time_hours"],
                               [-1 / 60, 40 / 60, 50 - 1 / 60, 50 + 40 / 60, -1 / 60, 76.0, 336.0])
    assert any(w.code == "times_from_infusion_labels" for w in data.warnings)
    wide = "patient_id,MADRS_inf1_pre,MADRS_inf2_post,MADRS_day14\nK1,30,12,10\nK2,28,11,9\n"
    (tmp_path / "assessments.csv").write_text(wide)
    np.testing.assert_allclose(analysis.load(tmp_path).assessments["time_hours"],
                               [-1 / 60, 50 + 40 / 60, 336.0, -1 / 60, 72 + 40 / 60, 336.0])


def test_a_label_naming_an_infusion_the_patient_does_not_have_is_refused_by_row(tmp_path):
    _tables(tmp_path, SERIES_INFUSIONS.replace("K2,2,72\n", ""), SERIES_RATINGS)
    with pytest.raises(DataError) as raised:
        analysis.load(tmp_path)
    problems = raised.value.problems
    assert problems["row"].tolist() == [6]
    assert "patient K2 has no infusion 2" in problems["message"].iloc[0]
    with pytest.raises(DataError, match="no infusions were given"):
        analysis.load(io.BytesIO(SERIES_RATINGS.encode()))


def test_a_date_and_its_time_of_day_in_two_columns_are_read_together(tmp_path):
    """EMR exports keep the date and the time of day apart: they give exact hours together."""
    data = analysis.load(_tables(tmp_path, "patient_id,infusion_number,infusion_date,infusion_time\n"
                                           "K1,1,2024-03-04,09:00\nK1,2,2024-03-06,10:30\n",
                                 "patient_id,instrument,score,date,time\nK1,MADRS,30,2024-03-04,08:30\n"
                                 "K1,MADRS,18,2024-03-04,13:00\nK1,MADRS,20,2024-03-06,10:00\n"
                                 "K1,MADRS,12,2024-03-06,\n"))
    # 30 min before the first infusion; 4 h after it; 30 min before the second (49.5 h); a rating
    # without its time: the second infusion's day, one minute before that infusion's start
    np.testing.assert_allclose(data.assessments["time_hours"], [-0.5, 4.0, 49.0, 49.5 - 1 / 60])
    np.testing.assert_allclose(data.infusions["time_hours"], [0.0, 49.5])
    single = ("patient_id,instrument,score,Visit Date,Visit Time,infusion_date\n"
              "K1,MADRS,30,03/04/2024,8:30 AM,2024-03-04 09:00\nK1,MADRS,18,03/04/2024,1:00 PM,2024-03-04 09:00\n")
    np.testing.assert_allclose(analysis.load(io.BytesIO(single.encode())).assessments["time_hours"], [-0.5, 4.0])


def test_a_time_column_that_is_not_a_time_of_day_is_not_joined():
    frame = pd.DataFrame({"date": ["2024-03-04", "2024-03-05"], "time": ["4h", "day 1"]})
    joined, notes = calendar.join_times_of_day(frame)
    assert joined.equals(frame) and not notes


WIDE_SERIES = ("patient_id,age,sex,infusion1_date,infusion2_date,infusion3_date,MADRS_inf1_pre,MADRS_inf1_post,"
               "MADRS_inf2_pre,MADRS_inf2_post,MADRS_inf3_pre,MADRS_day14,date_day14\n"
               "K1,45,F,2024-03-04 09:00,2024-03-06 09:00,2024-03-08 10:00,32,20,24,14,16,10,2024-03-18\n"
               "K2,51,M,2024-04-01,2024-04-04,,28,15,22,11,,9,\n")


def test_a_wide_sheet_of_a_series_reads_each_infusion_date_and_times_the_ratings_from_them(tmp_path):
    described, data = _described_and_loaded(tmp_path / "series.csv", WIDE_SERIES)
    assert "'infusion1_date', 'infusion2_date', 'infusion3_date' read as the dates of infusions 1, 2, 3" in described
    assert "say no time" not in described
    starts = data.infusions.set_index(["patient_id", "infusion_number"])["time_hours"]
    assert starts.to_dict() == {("K1", 1): 0.0, ("K1", 2): 48.0, ("K1", 3): 97.0, ("K2", 1): 0.0, ("K2", 2): 72.0}
    hours = data.assessments.set_index(["patient_id", "visit"])["time_hours"]
    expected = {("K1", "inf1 pre"): -1 / 60, ("K1", "inf2 post"): 48 + 40 / 60, ("K1", "inf3 pre"): 97 - 1 / 60,
                ("K1", "day14"): 336.0, ("K2", "inf2 pre"): 72 - 1 / 60, ("K2", "day14"): 336.0}
    for key, value in expected.items():
        assert hours[key] == pytest.approx(value), key



def test_a_wide_sheet_of_a_series_reads_each_infusions_dose_and_route(tmp_path):
    sheet = ("patient_id,weight_kg,infusion1_date,inf1_dose,inf1_route,infusion2_date,Infusion 2 dose (mg),inf2_route,"
             "Infusion 2 duration (min),MADRS_inf1_pre,MADRS_inf1_post,MADRS_inf2_post\n"
             "K1,80,2024-03-04 09:00,0.5,IV,2024-03-06 09:00,40,IM,40,32,20,14\n"
             "K2,70,2024-04-01,0.75,iv drip,2024-04-04,52.5,IV,100,28,15,11\n")
    described, data = _described_and_loaded(tmp_path / "series.csv", sheet)
    assert "column 'Infusion 2 dose (mg)' read as the dose in mg (divided by weight_kg) of infusion 2" in described
    infusions = data.infusions.set_index(["patient_id", "infusion_number"])
    # 40 mg for 80 kg and 52.5 mg for 70 kg: 0.5 and 0.75 mg/kg
    assert infusions["dose_mg_per_kg"].to_dict() == {("K1", 1): 0.5, ("K1", 2): 0.5, ("K2", 1): 0.75, ("K2", 2): 0.75}
    assert infusions["route"].to_dict() == {("K1", 1): "IV", ("K1", 2): "IM", ("K2", 1): "IV", ("K2", 2): "IV"}
    assert infusions["duration_min"].xs(2, level="infusion_number").to_dict() == {"K1": 40.0, "K2": 100.0}
    assert not any("inf" in str(c) for c in data.patients.columns)  # no per-infusion column left as a covariate


SESSION_LOG = ("Patient,Session #,Session date,Dose (mg/kg),MADRS pre,MADRS post,CADSS post\n"
               "K1,1,2024-03-04,0.5,32,20,18\nK1,2,2024-03-06,0.5,24,14,12\nK1,3,2024-03-08,0.75,18,10,9\n"
               "K2,1,2024-03-05,0.5,30,28,5\nK2,2,2024-03-07,0.5,29,25,6\n")


def test_a_session_log_times_each_rating_from_its_rows_infusion():
    """A clinic's log of sessions, a row per infusion with its date and dose and the ratings
    before and after it, was refused as 'MADRS rated twice at 0 h'. By hand: K1's infusions on
    days 0, 2 and 4 start at 0, 48 and 96 h; 'pre' is one minute before, 'post' 40 min after."""
    data = analysis.load(io.BytesIO(SESSION_LOG.encode()))
    assert data.infusions.groupby("patient_id")["time_hours"].agg(list).to_dict() == {"K1": [0.0, 48.0, 96.0],
                                                                                     "K2": [0.0, 48.0]}
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5, 0.5, 0.75, 0.5, 0.5]
    madrs = data.assessments[(data.assessments["patient_id"] == "K1") & (data.assessments["instrument"] == "MADRS")]
    pre, post = -1 / 60, 40 / 60
    np.testing.assert_allclose(madrs["time_hours"], [pre, post, 48 + pre, 48 + post, 96 + pre, 96 + post])
    assert madrs["score"].tolist() == [32, 20, 24, 14, 18, 10]
    assert any("a row per infusion ('Session #')" in sentence for sentence in data.mapping.describe())
    # visit_times say how long after the row's infusion a label is
    later = analysis.load(io.BytesIO(SESSION_LOG.encode()), visit_times={"post": 2.0})
    cadss = later.assessments[(later.assessments["patient_id"] == "K2") & (later.assessments["instrument"] == "CADSS")]
    assert cadss["time_hours"].tolist() == [2.0, 50.0]
