"""Layouts, time forms, vocabularies, formats and the mapping: round trips and messages.

References: every round trip writes data simulated here (numpy, fixed seed) in one layout and
checks that loading gives back the same patients, ratings, times and covariates; time rules are
checked against values worked out by hand from their definitions (CDISC SDTMIG 3.4 section 4.4.4
study days; ISO 8601 durations).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import analysis
from analysis import DataError, Mapping
from analysis.loading.times import iso_duration_hours, parse_visit_label, study_day_hours
from analysis.loading.vocabularies import diagnosis_of, dose_of, route_of, sex_of
from analysis.loading.wide import parse_wide_header

VISITS = {"baseline": 0.0, "40 min": 40 / 60, "4h": 4.0, "day 1": 24.0, "day 7": 168.0, "week 2": 336.0,
          "day 28": 672.0}


def simulated_long(n_patients: int = 30, seed: int = 1) -> pd.DataFrame:
    """One MADRS total per patient and visit, with age, sex and diagnosis."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(1, n_patients + 1)]
    frame = pd.DataFrame({"patient_id": np.repeat(ids, len(VISITS)),
                          "visit": np.tile(list(VISITS), n_patients),
                          "time_hours": np.tile(list(VISITS.values()), n_patients),
                          "score": rng.integers(0, 61, n_patients * len(VISITS)).astype(float)})
    covariates = pd.DataFrame({"patient_id": ids, "age": rng.integers(18, 80, n_patients).astype(float),
                               "sex": rng.choice(["F", "M"], n_patients),
                               "diagnosis": rng.choice(["MDD", "TRD", "bipolar"], n_patients)})
    return frame.merge(covariates, on="patient_id")


def to_wide(long: pd.DataFrame, header: str = "MADRS {visit}") -> pd.DataFrame:
    wide = long.pivot(index="patient_id", columns="visit", values="score")[list(VISITS)]
    wide.columns = [header.format(visit=v) for v in wide.columns]
    covariates = long.drop_duplicates("patient_id").set_index("patient_id")[["age", "sex", "diagnosis"]]
    return covariates.join(wide).reset_index()


def ratings(data: analysis.OutcomeData) -> pd.DataFrame:
    a = data.assessments
    return a[["patient_id", "time_hours", "score"]].astype({"patient_id": str}).sort_values(
        ["patient_id", "time_hours"]).reset_index(drop=True)


def expected_ratings(long: pd.DataFrame) -> pd.DataFrame:
    return long[["patient_id", "time_hours", "score"]].sort_values(["patient_id", "time_hours"]).reset_index(drop=True)


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["MADRS {visit}", "madrs_{visit}", "{visit} MADRS"])
def test_wide_round_trip_gives_back_patients_ratings_times_and_covariates(header):
    long = simulated_long()
    wide = to_wide(long, header)
    data = analysis.load(wide)
    assert data.mapping.layout == "wide"
    pd.testing.assert_frame_equal(ratings(data), expected_ratings(long), check_dtype=False, atol=1e-9)
    patients = data.patients.astype({"patient_id": object}).set_index("patient_id")[["age", "sex", "diagnosis"]]
    patients = patients.astype(object)
    truth = long.drop_duplicates("patient_id").set_index("patient_id")[["age", "sex", "diagnosis"]].astype(object)
    pd.testing.assert_frame_equal(patients.sort_index(), truth.sort_index(), check_names=False)
    assert any("wide layout" in s for s in data.mapping.describe())


def test_wide_excel_with_several_sheets_finds_the_data_sheet(tmp_path):
    long = simulated_long(8)
    path = tmp_path / "clinic.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["exported by the clinic"]}).to_excel(writer, sheet_name="About", index=False)
        to_wide(long).to_excel(writer, sheet_name="Scores", index=False)
    data = analysis.load(path)
    pd.testing.assert_frame_equal(ratings(data), expected_ratings(long), check_dtype=False, atol=1e-9)
    assert any("'Scores'" in str(w) for w in data.warnings)
    assert analysis.load(path, sheet="Scores").fingerprint == data.fingerprint


def test_a_sheet_named_by_its_instrument_reads_columns_named_by_their_time(tmp_path):
    """A workbook with a sheet per scale ('MADRS': Patient, Baseline, Day 1, Day 7) was refused
    (no score, no time column). Each sheet loads, with sheet=...; without it the sheets are read
    together (tests/analysis/test_loading_sheets.py), or the first alone when only one has ids."""
    path = tmp_path / "scales.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Patient": ["C1", "C2"], "Baseline": [30, 28], "Day 1": [12, 25], "Day 7": [20, 16]}).to_excel(
            writer, sheet_name="MADRS", index=False)
        pd.DataFrame({"Patient": ["C1", "C2"], "Baseline": [18, 15], "Week 1": [10, 16]}).to_excel(
            writer, sheet_name="PHQ9", index=False)
    phq = analysis.load(path, sheet="PHQ9").assessments
    assert phq[["instrument", "score", "time_hours"]].values.tolist() == [["PHQ-9", 18, 0], ["PHQ-9", 10, 168],
                                                                          ["PHQ-9", 15, 0], ["PHQ-9", 16, 168]]
    assert len(analysis.load(path).assessments) == 10  # both sheets
    with pd.ExcelWriter(path) as writer:  # a PHQ9 sheet without patient ids: MADRS alone
        pd.DataFrame({"Patient": ["C1", "C2"], "Baseline": [30, 28], "Day 1": [12, 25], "Day 7": [20, 16]}).to_excel(
            writer, sheet_name="MADRS", index=False)
        pd.DataFrame({"Baseline": [18, 15], "Week 1": [10, 16]}).to_excel(writer, sheet_name="PHQ9", index=False)
    first = analysis.load(path)
    assert set(first.assessments["instrument"]) == {"MADRS"} and len(first.assessments) == 6
    assert any("a sheet per instrument ('MADRS', 'PHQ9'), but not two with a patient id column to match their "
               "ratings by: only 'MADRS' was read" in str(w) for w in first.warnings)
    # the same columns in a table named by nothing: the instrument given names them
    table = pd.DataFrame({"Patient": ["C1"], "Baseline": [20], "Day 1": [9]})
    assert analysis.load(table, instrument="QIDS").assessments["instrument"].tolist() == ["QIDS-SR16"] * 2


def test_wide_without_an_id_column_numbers_patients_by_row_with_a_warning():
    wide = to_wide(simulated_long(5)).drop(columns="patient_id")
    data = analysis.load(wide)
    assert sorted(data.patients["patient_id"]) == ["R1", "R2", "R3", "R4", "R5"]
    assert any(w.code == "ids_by_row" for w in data.warnings)


def test_wide_items_and_pre_post_headers():
    frame = pd.DataFrame({"id": ["a", "b"], **{f"madrs_{i}": [1, 2] for i in range(1, 11)},
                          "cadss_pre": [0, 1], "cadss_post": [20, 30], "visit": ["baseline", "baseline"]})
    data = analysis.load(frame)
    madrs = data.assessments[data.assessments["instrument"] == "MADRS"]
    assert sorted(madrs["item"].dropna().unique()) == list(range(1, 11))
    cadss = data.assessments[data.assessments["instrument"] == "CADSS"].sort_values(["patient_id", "time_hours"])
    assert cadss["time_hours"].tolist() == pytest.approx([0, 40 / 60, 0, 40 / 60])
    assert any("'post' taken as the end of a 40-minute infusion" in s for s in data.mapping.describe())


def test_visit_times_win_over_the_time_a_header_says():
    """The mapping said "'post' taken as the end of a 40-minute infusion; set visit_times={'post':
    hours} otherwise", but visit_times changed nothing: the header's 40 min was kept."""
    frame = pd.DataFrame({"id": ["a", "b"], "cadss_pre": [1, 0], "CADSS Post": [20, 14], "MADRS Day 7": [10, 12]})
    data = analysis.load(frame, visit_times={"Post": 1.0, "Day 7": 170.0})
    assert data.assessments["time_hours"].tolist() == [0, 1, 170, 0, 1, 170]
    assert "visit_times={'Post': hours}" in analysis.suggest_mapping(frame).ambiguities[0]


def test_scores_written_with_a_remark_are_read_as_their_number_and_said():
    """'32 (moderate)' and '18*' refused the whole sheet ("score '18*' is not a number"); the
    remark is left out (free text), a remark with a number of its own is still refused."""
    frame = pd.DataFrame({"Patient": ["K1", "K2"], "MADRS Baseline": ["32 (moderate)", "28"],
                          "MADRS Day 1": ["18*", "24 [by phone]"], "MADRS Day 7": [12, 20]})
    data = analysis.load(frame)
    assert data.assessments["score"].tolist() == [32, 18, 12, 28, 24, 20]
    warning = next(w for w in data.warnings if w.code == "score_remarks")
    assert warning.count == 3 and list(warning.rows) == [1, 1, 2]
    assert "row 1 ('MADRS Baseline'); row 1 ('MADRS Day 1'); row 2 ('MADRS Day 1')" in warning.message
    assert "moderate" not in warning.message.split("were read")[1] and "phone" not in warning.message
    with pytest.raises(DataError, match=r"score '12 \(16 corrected\)' is not a number"):
        analysis.load(frame.assign(**{"MADRS Day 7": ["12 (16 corrected)", "20"]}))


def test_ids_that_are_e_mail_addresses_are_refused_and_never_quoted(tmp_path):
    """The id column refused as e-mail addresses was then quoted by the next check ("'age' varies
    within 1 patient(s): ann@clinic.org") and, for a workbook's sheets, in every row's location."""
    frame = pd.DataFrame({"ID": ["ann@clinic.org", "ann@clinic.org", "bob@clinic.org"], "Age": [34, 35, 50],
                          "MADRS Baseline": [30, 28, 25], "MADRS Day 1": [20, 18, 15]})
    with pytest.raises(DataError) as raised:
        analysis.load(frame)
    assert "e-mail" in str(raised.value) and "@clinic.org" not in str(raised.value)
    path = tmp_path / "scales.xlsx"
    with pd.ExcelWriter(path) as writer:
        frame.to_excel(writer, sheet_name="MADRS", index=False)
        frame.drop(columns="Age").to_excel(writer, sheet_name="QIDS", index=False)
        pd.DataFrame({"ID": ["ann@clinic.org"], "Infusion #": [1], "Hours": ["x"]}).to_excel(
            writer, sheet_name="Infusions", index=False)
    with pytest.raises(DataError) as raised:
        analysis.load(path)
    assert "e-mail" in str(raised.value) and "@clinic.org" not in str(raised.value)


def test_problems_in_a_wide_sheet_name_the_column_of_the_rating():
    """Every rating of a row shares its row number: a problem names the sheet's column ('MADRS
    Day 7'), not 'score'; two columns read as the same time are named both ('20 in row 1, 22 in
    row 1' said nothing)."""
    frame = pd.DataFrame({"Patient": ["K1", "K2", "K3"], "MADRS Baseline": [30, 28, 31],
                          "MADRS Day 1": ["20", "abc", "18"], "MADRS 24h": [22, None, 18],
                          "MADRS Day 7": [12, 70, 10], "madrs_3": [2, 9, 1]})
    with pytest.raises(DataError) as raised:
        analysis.load(frame)
    problems = raised.value.problems.set_index("message")
    assert problems.loc["score 'abc' is not a number.", ["row", "column"]].tolist() == [2, "MADRS Day 1"]
    assert problems.loc["score 70 is outside the MADRS total score range 0-60.", "column"] == "MADRS Day 7"
    assert problems.loc["score 9 is outside the MADRS item range 0-6 (item 3).", "column"] == "madrs_3"
    twice = [m for m in problems.index if "rated twice" in m]
    assert twice == ["patient K1 has MADRS rated twice at 24 h with different scores (20 in column 'MADRS Day 1' "
                     "and 22 in column 'MADRS 24h', both in row 1)."]
    assert problems.loc[twice[0], "column"] == "MADRS 24h"


def test_a_clinic_sheet_with_units_in_brackets_and_derived_columns():
    """'Weight (kg)' and 'Dose (mg)' give the dose in mg/kg; the clinic's own '% change' and
    'Responder' columns are not ratings (they refused the file as a MADRS 'at % change day 7')."""
    frame = pd.DataFrame({"Patient": ["C1", "C2"], "Age (years)": [34, 51], "Weight (kg)": [70, 80],
                          "Dose (mg)": [35, 40], "MADRS baseline": [30, 28], "MADRS day 7": [20, 16],
                          "MADRS % change day 7": ["-33%", "-43%"], "Responder": ["N", "N"]})
    data = analysis.load(frame)
    assert data.assessments["score"].tolist() == [30.0, 20.0, 28.0, 16.0]
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5, 0.5] and data.patients["age"].tolist() == [34, 51]
    assert data.patients["MADRS % change day 7"].tolist() == ["-33%", "-43%"]  # kept, as the clinic wrote it
    assert any("look derived from the ratings" in sentence for sentence in data.mapping.describe())


def test_a_count_of_infusions_is_a_patient_column_not_an_infusion_number():
    """'Infusion count' (6 and 4 infusions received) was read as the infusion the ratings follow,
    and then appeared nowhere: it is kept as the patient column it is."""
    frame = pd.DataFrame({"Patient": ["C1", "C2"], "Infusion count": [6, 4], "MADRS baseline": [30, 28],
                          "MADRS day 7": [12, 25]})
    data = analysis.load(frame)
    assert data.patients["Infusion count"].tolist() == [6, 4]
    assert data.assessments["infusion_number"].isna().all()


def test_ratings_of_a_scale_the_toolkit_does_not_know_are_kept_and_said():
    """A PTSD clinic's PCL-5 columns are ratings; a 'GAF day 7' column stays a patient column, and
    the mapping says which scale to register (it became a covariate without a word)."""
    frame = pd.DataFrame({"Patient": ["K1", "K2"], "MADRS baseline": [30, 28], "PCL-5 baseline": [55, 60],
                          "PCL-5 day 7": [40, 58], "GAF day 7": [50, 45]})
    data = analysis.load(frame)
    pcl = data.assessments[data.assessments["instrument"] == "PCL-5"]
    assert pcl["score"].tolist() == [55, 40, 60, 58] and pcl["time_hours"].tolist() == [0, 168, 0, 168]
    assert data.patients["GAF day 7"].tolist() == [50, 45]
    assert any("'GAF day 7' look like ratings of 'GAF', a scale the toolkit does not know" in s
               for s in data.mapping.describe())


@pytest.mark.parametrize(("unit", "factor"), [("week", 168.0), ("wk", 168.0), ("months", 730.5), ("day", 24.0),
                                              ("minutes", 1 / 60)])
def test_long_time_columns_in_other_units_round_trip(unit, factor):
    long = simulated_long(6)
    frame = long.assign(**{unit: long["time_hours"] / factor}).drop(columns=["time_hours", "visit"])
    frame["instrument"] = "MADRS"
    data = analysis.load(frame)
    pd.testing.assert_frame_equal(ratings(data), expected_ratings(long), check_dtype=False, atol=1e-9)


def test_cdisc_study_day_rule_and_iso_durations():
    hours, bad = study_day_hours(np.array([1, 2, 8, -1, 0, 1.5]))
    assert hours[:4].tolist() == [0, 24, 168, -24] and bad.tolist() == [False] * 4 + [True, True]
    assert iso_duration_hours("PT40M") == pytest.approx(2 / 3)
    assert iso_duration_hours("-PT1H") == -1
    assert iso_duration_hours("P1DT2H") == 26
    assert iso_duration_hours("P2W") == 336
    assert iso_duration_hours("PT") is None and iso_duration_hours("40M") is None
    frame = pd.DataFrame({"USUBJ": ["a", "a", "a"], "study_day": [-1, 1, 8], "score": [30, 20, 10],
                          "instrument": "MADRS"})
    data = analysis.load(frame, columns={"patient_id": "USUBJ", "study_day": "study_day"})
    assert data.assessments["time_hours"].tolist() == [-24, 0, 168]
    with pytest.raises(DataError, match="no day 0|skip 0"):
        analysis.load(frame.assign(study_day=[0, 1, 8]), columns={"patient_id": "USUBJ", "study_day": "study_day"})


@pytest.mark.parametrize(("label", "hours"), [("day 7", 168), ("4h", 4), ("week 2", 336), ("2 months", 1461),
                                               ("baseline", 0), ("D14", 336), ("40 min", 2 / 3),
                                               ("day 3 40 min", 72 + 2 / 3), ("PT40M", 2 / 3), ("W3", 504)])
def test_visit_labels_that_say_their_time(label, hours):
    assert parse_visit_label(label)[0] == pytest.approx(hours)


def test_visit_labels_without_time_need_visit_times_and_the_message_says_how():
    frame = pd.DataFrame({"id": ["a", "a"], "visit": ["Screening", "V2"], "score": [30, 20], "instrument": "MADRS"})
    with pytest.raises(DataError) as caught:
        analysis.load(frame)
    assert "visit_times={'Screening': ..., 'V2': ...}" in str(caught.value)
    data = analysis.load(frame, visit_times={"Screening": -24, "V2": 24})
    assert data.assessments["time_hours"].tolist() == [-24, 24] and data.has_clock_time


def test_a_row_per_visit_with_a_column_per_instrument_and_labels_naming_an_infusion():
    """'Infusion 1 post' is timed from that infusion (40 min): the mapping listed it among the
    labels that "say no time" while the load timed it."""
    frame = pd.DataFrame({"Patient": ["K1"] * 3, "Visit": ["Baseline", "Infusion 1 post", "Day 1"],
                          "MADRS": [32, None, 20], "CADSS": [0, 12, None]})
    mapping = analysis.suggest_mapping(frame)
    assert not mapping.ambiguities and "times read from the visit labels in 'Visit'" in mapping.describe()
    got = analysis.load(frame).assessments[["instrument", "score", "time_hours"]].values.tolist()
    assert got == [["CADSS", 0, 0], ["CADSS", 12, pytest.approx(40 / 60)], ["MADRS", 32, 0], ["MADRS", 20, 24]]


def test_visit_only_data_loads_without_clock_time():
    frame = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 3, "visitnum": [1, 2, 3] * 2, "score": [30, 20, 10] * 2,
                          "instrument": "HAM-D17"})
    data = analysis.load(frame)
    assert data.has_clock_time is False
    assert data.assessments["time_hours"].tolist() == [0, 1, 2] * 2
    assert any(w.code == "visit_order_only" for w in data.warnings)


def test_baseline_held_as_a_column_becomes_a_baseline_rating():
    frame = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"], "ADY": [8, 15, 8], "AVAL": [20, 15, 25],
                          "BASE": [32, 32, 0], "PARAMCD": "MADRS"})
    data = analysis.load(frame, layout="long", columns={"study_day": "ADY", "instrument": "PARAMCD"})
    base = data.assessments[data.assessments["visit"] == "baseline"].set_index("patient_id")["score"]
    assert base.to_dict() == {"S1": 32.0, "S2": 0.0}  # a baseline of 0 is kept (CADSS-like)
    assert not any(w.code == "no_baseline" for w in data.warnings)


# -- vocabularies ---------------------------------------------------------------------------------


def test_vocabularies_as_people_write_them():
    assert diagnosis_of("Major depressive disorder") == "MDD"
    assert diagnosis_of("Bipolar II") == diagnosis_of("bipolar I disorder") == "bipolar"
    assert diagnosis_of("Treatment-resistant depression") == "TRD" and diagnosis_of("Schizophrenia") is None
    assert route_of("INTRAVENOUS") == route_of("iv drip") == "IV" and route_of("nasal spray") == "intranasal"
    assert route_of("intravenus") is None  # a misspelling is suggested, never guessed
    assert sex_of("female") == sex_of("W") == "F" and sex_of("Male") == "M" and sex_of("2") == "F"
    assert dose_of("0.5 mg/kg") == (0.5, "mg/kg") and dose_of("35 mg") == (35.0, "mg")
    assert dose_of("placebo") == (0.0, "placebo") and dose_of("lots") is None
    # a remark after the dose or the route: the brand, or the dose per kg beside the mg
    assert dose_of("56 mg (Spravato)") == (56.0, "mg") and dose_of("40 mg (0.5 mg/kg)") == (0.5, "mg/kg")
    assert route_of("intranasal (Spravato)") == route_of("Spravato") == "intranasal" and route_of("IV (Ketalar)") == "IV"


def test_ages_with_their_unit_load_and_an_unknown_label_gets_no_made_up_fix():
    frame = pd.DataFrame({"patient_id": ["a", "b", "c"], "instrument": "MADRS", "time_hours": 0.0, "score": [30, 28, 25],
                          "age": ["34 y", "51 years", "47yo"]})
    assert analysis.load(frame).patients["age"].tolist() == [34.0, 51.0, 47.0]
    with pytest.raises(DataError) as raised:  # the fix named is the closest route, or a blank to fill
        analysis.load(frame.assign(route=["IV", "IV", "hyperbaric"]))
    message = raised.value.problems["message"].iloc[0]
    assert "value_maps={'route': {'hyperbaric': '...'}}" in message and "'rectal'" not in message


def test_diagnosis_labels_sex_codes_and_doses_in_a_file():
    frame = pd.DataFrame({"patient_id": ["a", "a", "b", "b"], "time_hours": [-1, 4] * 2, "score": [30, 10, 28, 20],
                          "instrument": "MADRS", "diagnosis": ["Bipolar II"] * 2 + ["Major depressive disorder"] * 2,
                          "sex": [1, 1, 2, 2], "dose_mg": [35, 35, 0, 0], "weight_kg": [70, 70, 80, 80],
                          "route": ["iv drip"] * 4})
    data = analysis.load(frame)
    patients = data.patients.set_index("patient_id")
    assert patients["diagnosis"].tolist() == ["bipolar", "MDD"]
    assert patients["diagnosis_label"].tolist() == ["Bipolar II", "Major depressive disorder"]
    assert patients["sex"].tolist() == ["M", "F"] and any(w.code == "sex_codes" for w in data.warnings)
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5, 0.0]
    assert data.infusions["route"].tolist() == ["IV", "IV"]
    text = frame.drop(columns=["dose_mg", "weight_kg"]).assign(dose=["0.5 mg/kg"] * 2 + ["placebo"] * 2)
    data = analysis.load(text)
    assert data.infusions["dose_mg_per_kg"].tolist() == [0.5, 0.0]
    assert any(w.code == "placebo_dose" for w in data.warnings)
    with pytest.raises(DataError, match="value_maps"):
        analysis.load(frame.assign(diagnosis="Schizoaffective"))
    mapped = analysis.load(frame.assign(diagnosis="Schizoaffective"),
                           value_maps={"diagnosis": {"Schizoaffective": "other"}})
    assert set(mapped.patients["diagnosis"]) == {"other"}


def test_doses_in_mg_under_a_plain_dose_name_are_kept_and_said_with_the_fix():
    """A clinic's 'dose' column in mg (35, 40) reads as mg/kg: far above 0.1-1 mg/kg, so the
    rows are named and the message gives the mapping that reads them, which then gives mg/kg."""
    frame = pd.DataFrame({"patient_id": ["a", "a", "b", "b", "c", "c"], "time_hours": [-1, 4] * 3,
                          "score": [30, 10, 28, 20, 25, 24], "instrument": "MADRS",
                          "dose": [35, 35, 40, 40, 0.5, 0.5], "weight_kg": [70, 70, 80, 80, 60, 60]})
    data = analysis.load(frame)
    warned = [w for w in data.warnings if w.code == "implausible_dose"]
    assert len(warned) == 1 and warned[0].table == "infusions" and warned[0].rows == (1, 3)
    assert "2 dose(s) above 3 mg/kg (up to 40 mg/kg)" in warned[0].message
    assert data.infusions["dose_mg_per_kg"].tolist() == [35, 40, 0.5]  # kept as read
    fixed = analysis.load(frame.drop(columns="dose").assign(dose=[35, 35, 40, 40, 30, 30]),
                          columns={"dose_mg": "dose"})
    assert fixed.infusions["dose_mg_per_kg"].tolist() == [0.5, 0.5, 0.5]
    assert not [w for w in fixed.warnings if w.code == "implausible_dose"]


# -- messages ----------------------------------------------------------------------------------


def test_did_you_mean_only_suggests_close_accepted_names():
    frame = pd.DataFrame({"patient_id": ["a", "a"], "week": [0, 1], "treatment": ["ketamine"] * 2,
                          "score": [20, 10]})
    with pytest.raises(DataError) as caught:
        analysis.load(frame)
    text = str(caught.value)
    assert "treatment" not in text and "time_weeks" not in text
    assert 'analysis.load(path, instrument="MADRS")' in text
    assert analysis.load(frame, instrument="HAM-D17").assessments["time_hours"].tolist() == [0, 168]


def test_overflowing_infusion_number_and_malformed_line_are_named():
    text = b"patient_id,instrument,score,time_hours,infusion_number\nK1,MADRS,30,-1,\nK1,MADRS,20,4,9223372036854775808\n"
    with pytest.raises(DataError, match=r"row 2 \(line 3"):
        analysis.load(io.BytesIO(text))
    broken = b'patient_id,instrument,score,time_hours\nK1,MADRS,30,-1\nK1,MADRS,"20,4\nK1,MADRS,3,5\n'
    with pytest.raises(DataError, match=r"lines 3"):
        analysis.load(io.BytesIO(broken))


# -- identifiers in every layout ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["wide", "ignored"])
def test_identifier_screen_is_never_bypassed_by_a_layout(how):
    wide = to_wide(simulated_long(4))
    wide["email"] = [f"person{i}@clinic.org" for i in range(len(wide))]
    wide = wide.rename(columns={"email": "contact"})
    mapping = analysis.suggest_mapping(wide)
    if how == "ignored":
        mapping = mapping.replace(columns={"ignore": "contact"})
    with pytest.raises(DataError, match="contact"):
        analysis.load(wide, mapping=mapping)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["MADRS 4h", "madrs_day7", "BDI_wk2", "cadss_pre", "madrs_1", "PHQ-9 week 2",
                                 "HAMD_w3", "age", "sex", "id", "diagnosis", "MADRS visit 9", "contact",
                                 "date_day7", "cadss_pre_date", "infusion_date", "infusion2_date", "MADRS_inf2_post",
                                 "date", "time"]),
                min_size=1, max_size=6, unique=True),
       st.lists(st.one_of(st.integers(-5, 80).map(str), st.sampled_from(["", "x", "F", "MDD", "a@b.org", "1e400",
                                                                       "Bipolar II", "nan", "2024-03-07",
                                                                       "2024-03-04 09:30", "31/02/2024", "09:30"])),
                min_size=1, max_size=40), st.integers(1, 6))
@example(["MADRS 4h", "age", "madrs_day7", "id"], ["", "0"], 1)  # every score cell empty (was an IndexError)
@example(["id", "madrs_day7", "date_day7", "infusion_date"], ["p1", "20", "2024-03-07", "2024-03-04 09:30"], 2)
def test_wide_random_tables_load_or_raise_data_error(headers, cells, n_rows):
    rows = [[cells[(r * len(headers) + c) % len(cells)] for c in range(len(headers))] for r in range(n_rows)]
    text = ",".join(headers) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    # A date typed in any cell is never shown, except as a patient id (ids name patients in messages; the
    # screen judges the id column as a whole)
    ids = {r[headers.index("id")] for r in rows} if "id" in headers else set()

    def shows_a_date(text: str) -> bool:
        for patient in sorted(ids, key=len, reverse=True):  # an id inside another is removed after it
            text = text.replace(patient, "")
        return any(d in text for d in ("2024-03", "31/02"))

    try:
        data = analysis.load(io.BytesIO(text.encode()))
    except DataError as error:
        assert len(error.problems) >= 1
        assert not shows_a_date(str(error)) and "a@b.org" not in str(error)  # (an e-mail id is masked too)
        return
    assert isinstance(data, analysis.OutcomeData)
    assert data.assessments["score"].notna().all()
    assert not shows_a_date(" ".join(w.message for w in data.warnings) + data.assessments.drop(columns="patient_id")
                            .to_csv() + data.infusions.drop(columns="patient_id").to_csv())


def test_a_mapping_that_leaves_no_row_says_why():
    """All score cells empty, or record filters that keep nothing: a DataError in words, not an
    empty dataset or a crash."""
    empty_scores = "id,age,MADRS_baseline,MADRS 4h,madrs_day7\np1,40,,,\np2,50,,,\n"
    with pytest.raises(DataError) as raised:
        analysis.load(io.BytesIO(empty_scores.encode()))
    message = " ".join(raised.value.problems["message"])
    assert "'MADRS_baseline', 'MADRS 4h', 'madrs_day7' are empty in all 2 row(s)" in message
    long = "patient_id,instrument,score,time_hours,flag\np1,MADRS,30,0,N\np1,MADRS,20,4,N\n"
    mapping = analysis.suggest_mapping(io.BytesIO(long.encode())).replace(record_filters=(("flag", "==", "Y"),))
    with pytest.raises(DataError, match=r"record filters \('flag' == 'Y'\) leave none of the 2 row\(s\)"):
        analysis.load(io.BytesIO(long.encode()), mapping=mapping)


# -- the mapping object -------------------------------------------------------------------------

_label = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
mappings = st.builds(
    Mapping,
    layout=st.sampled_from(["long", "wide", "cdisc", "redcap"]),
    columns=st.dictionaries(st.sampled_from(["patient_id", "score", "time_weeks", "visit", "sex"]), _label),
    instrument=st.one_of(st.none(), st.sampled_from(["MADRS", "BDI-II"])),
    time_unit=st.one_of(st.none(), st.sampled_from(["minutes", "hours", "days", "weeks", "months"])),
    visit_times=st.dictionaries(_label, st.floats(-1e6, 1e6, allow_nan=False)),
    sheet=st.one_of(st.none(), _label, st.integers(0, 9)),
    value_maps=st.dictionaries(st.sampled_from(["diagnosis", "sex"]), st.dictionaries(_label, _label, max_size=3)),
    record_filters=st.lists(st.tuples(_label, st.sampled_from(["==", "!=", "empty"]), _label), max_size=3)
    .map(tuple),
    wide_columns=st.dictionaries(_label, st.tuples(st.sampled_from(["MADRS", "CADSS"]),
                                                   st.one_of(st.none(), _label, st.floats(-100, 1e4, allow_nan=False)),
                                                   st.one_of(st.none(), st.integers(1, 10)))),
    ambiguities=st.lists(_label, max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(mappings)
def test_mapping_json_round_trips_exactly(mapping):
    again = Mapping.from_json(mapping.to_json())
    assert again == mapping
    assert again.to_json() == mapping.to_json()
    assert hash(again) == hash(mapping)


def test_mapping_from_a_file_replace_and_bad_json(tmp_path):
    mapping = analysis.suggest_mapping(to_wide(simulated_long(3)))
    path = tmp_path / "clinic.mapping.json"
    path.write_text(mapping.to_json())
    assert Mapping.from_json(path) == mapping == Mapping.from_json(str(path))
    changed = mapping.replace(columns={"age": ""}, instrument="MADRS")
    assert "age" not in changed.columns and any("set by hand" in s for s in changed.describe())
    with pytest.raises(DataError, match="unknown role"):
        Mapping(columns={"favourite_colour": "x"})
    with pytest.raises(DataError, match="not valid JSON"):
        Mapping.from_json("{not json")


def test_suggest_mapping_reasons_and_ambiguities():
    frame = pd.DataFrame({"subject": ["a"], "day": [1], "score": [3], "instrument": ["MADRS"]})
    sentences = analysis.suggest_mapping(frame).describe()
    assert "column 'subject' read as patient id (name: 'subject' is a known name for patient_id)" in sentences
    assert any(s.startswith("ambiguous: column 'day' has no day 0") for s in sentences)


def test_suggest_mapping_names_an_unknown_keyword_in_words():
    frame = pd.DataFrame({"subject": ["a"], "day": [1], "score": [3], "instrument": ["MADRS"]})
    with pytest.raises(TypeError, match="allow_identifiers is for load"):
        analysis.suggest_mapping(frame, allow_identifiers=True)
    with pytest.raises(TypeError, match="unknown keyword.*instrumnet"):
        analysis.suggest_mapping(frame, instrumnet="MADRS")


@pytest.mark.parametrize(("header", "expected"), [
    ("MADRS 4h", ("MADRS", 4.0, None)), ("madrs_day7", ("MADRS", 168.0, None)), ("MADRS D14", ("MADRS", 336.0, None)),
    ("bdi.2m", ("BDI-II", 1461.0, None)), ("BDI_wk2", ("BDI-II", 336.0, None)), ("HAMD_w3", ("HAM-D17", 504.0, None)),
    ("madrs_10", ("MADRS", None, 10)), ("MADRS_baseline", ("MADRS", 0.0, None)), ("age", None),
    # a quantity the clinic derived from its ratings is not a rating
    ("MADRS % change day 7", None), ("madrs_chg_wk2", None), ("MADRS responder", None), ("PHQ9_pct_day7", None)])
def test_wide_headers_as_clinics_write_them(header, expected):
    parsed = parse_wide_header(header)
    assert (None if parsed is None else (parsed.instrument, parsed.hours, parsed.item)) == expected


# -- formats through pyreadstat -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sav", "dta", "xpt"])
def test_spss_stata_and_sas_files_load_like_csv_with_labels(tmp_path, kind):
    import pyreadstat

    long = simulated_long(5).drop(columns="visit")
    long["instrument"] = "MADRS"
    frame = long.rename(columns={"patient_id": "subjid", "time_hours": "hours"})
    path = tmp_path / f"export.{kind}"
    labels = ["Subject", "Hours since first infusion", "MADRS total", "Age", "Sex", "Diagnosis", "Scale"]
    writer = {"sav": pyreadstat.write_sav, "dta": pyreadstat.write_dta, "xpt": pyreadstat.write_xport}[kind]
    writer(frame, str(path), column_labels=labels)
    data = analysis.load(path)
    pd.testing.assert_frame_equal(ratings(data), expected_ratings(long), check_dtype=False, atol=1e-9)
    assert set(data.patients["sex"]) <= {"F", "M"}


def test_one_xpt_v5_file_is_read_by_the_xport_reader_and_loads_as_through_pyreadstat(tmp_path, monkeypatch):
    import pyreadstat

    from analysis import xport

    frame = pd.DataFrame({"subject": ["P1", "P1", "P2", "P2"], "scale": ["MADRS"] * 4, "hours": [0, 24, -1, 168.0],
                          "score": [30, 12, 25, 0.0], "sex": ["F", "F", "M", "M"], "site": ["A", "A", "", "B"]})
    path = tmp_path / "export.xpt"
    pyreadstat.write_xport(frame, str(path), file_format_version=5, column_labels=["Subject"] + [""] * 5)
    calls = []
    monkeypatch.setattr(xport, "read_xport_v5", lambda *a, _read=xport.read_xport_v5: calls.append(1) or _read(*a))
    fast = analysis.load(path)
    assert calls  # the vectorised reader, not pyreadstat
    monkeypatch.setattr(xport, "is_xport_v5", lambda head: False)  # pyreadstat's reading of the same file
    slow = analysis.load(path)
    for table in ("assessments", "patients", "infusions"):
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(slow, table))
    assert [str(w) for w in fast.warnings] == [str(w) for w in slow.warnings]  # blank site "" is missing in both


def test_events_from_folder_argument_and_single_file(tmp_path):
    long = simulated_long(3).drop(columns="visit")
    long["instrument"] = "MADRS"
    events = pd.DataFrame({"patient_id": ["P001", "P002"], "time_days": [10, 20],
                           "event": ["Hospitalization", "booster infusion"], "detail": ["", "second series"]})
    long.to_csv(tmp_path / "assessments.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    from_folder = analysis.load(tmp_path)
    from_argument = analysis.load(assessments=long, events=events)
    for data in (from_folder, from_argument):
        assert data.events["event"].tolist() == ["hospitalisation", "booster"]
        assert data.events["time_hours"].tolist() == [240, 480]
    assert from_argument.fingerprint != analysis.load(assessments=long).fingerprint
    single = pd.concat([long, pd.DataFrame({"patient_id": ["P001"], "time_hours": [300.0], "event": ["rescue"],
                                            "instrument": ["MADRS"]})], ignore_index=True)
    data = analysis.load(single)
    assert data.events[["patient_id", "event"]].values.tolist() == [["P001", "rescue"]]
    assert len(data.assessments) == len(long)
    assert list(analysis.load_sample().events.columns) == ["patient_id", "time_hours", "event", "detail"]


def test_problems_about_a_score_name_the_files_column_when_it_has_another_name():
    """'column score' named a column the file does not have ('Total', or 'depression' given by
    columns=...)."""
    text = b"pid,instrument,Total,hours\nK1,MADRS,30,0\nK1,MADRS,x,24\nK2,MADRS,70,0\n"
    with pytest.raises(DataError) as raised:
        analysis.load(io.BytesIO(text))
    assert raised.value.problems["column"].tolist() == ["Total", "Total"]
    frame = pd.DataFrame({"pid": ["K1"], "scale": ["MADRS"], "depression": [61], "week": [0]})
    with pytest.raises(DataError) as raised:
        analysis.load(frame, columns={"score": "depression"})
    assert raised.value.problems["column"].tolist() == ["depression"]
    with pytest.raises(DataError) as raised:  # the table form
        analysis.load(assessments=frame.rename(columns={"pid": "patient_id", "scale": "instrument",
                                                        "depression": "total_score", "week": "time_weeks"}))
    assert raised.value.problems["column"].tolist() == ["total_score"]


def test_dates_in_column_names_are_refused_without_being_shown():
    """'MADRS 2024-03-04' was echoed by the message asking for its time (and offered as a
    visit_times key)."""
    frame = pd.DataFrame({"Patient": ["K1", "K2"], "MADRS 2024-03-04": [30, 28], "MADRS 2024-03-11": [20, 25]})
    with pytest.raises(DataError) as raised:
        analysis.load(frame)
    assert "name dates, which identify people" in str(raised.value) and "2024-03" not in str(raised.value)
    assert not any("2024-03" in a for a in analysis.suggest_mapping(frame).ambiguities)


def test_time_labels_with_a_remark_in_brackets_and_one_message_for_labels_without_time():
    """'MADRS Day 7 (3/11)' said no time (the remark, here a date, is not kept in the visit);
    labels that say no time were followed by a 'time_hours is empty' problem for every rating."""
    frame = pd.DataFrame({"Patient": ["K1", "K2"], "MADRS Day 0 (3/4)": [30, 28], "MADRS Day 7 (3/11)": [20, 25]})
    data = analysis.load(frame)
    assert data.assessments[["time_hours", "visit"]].values.tolist() == [[0, "Day 0"], [168, "Day 7"]] * 2
    assert parse_visit_label("Week 2 [phone]") == (336.0, "2 weeks")
    with pytest.raises(DataError) as raised:
        analysis.load(pd.DataFrame({"Patient": ["K1", "K2"], "MADRS Screening": [30, 28], "MADRS V2": [20, 25]}))
    assert len(raised.value.problems) == 1 and "visit_times={'Screening': ..., 'V2': ...}" in str(raised.value)
