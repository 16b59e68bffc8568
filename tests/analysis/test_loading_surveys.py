"""Survey exports (Google Forms, Qualtrics) load as exported: questions read by their wording,
answers by the scale's words, the tool's bookkeeping dropped unread.

References: each file is written here from answers drawn with a fixed seed; the expected totals
are the sums of those answers' scores by the PHQ-9's published response scale (Kroenke et al.
2001: not at all 0, several days 1, more than half the days 2, nearly every day 3) and the
expected times the hours between the timestamps written and the infusion dates written, computed
with ``datetime`` (no code of the loader).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis
from analysis import DataError, Mapping
from analysis.loading.surveys import question_item, survey_columns

PHQ9 = ["Little interest or pleasure in doing things", "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much", "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety "
        "or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way"]
ANSWERS = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
DIFFICULTY = ("If you checked off any problems, how difficult have these problems made it for you to do your "
              "work, take care of things at home, or get along with other people?")
FIRST_INFUSION = {f"KC{p:03d}": datetime(2026, 3, 2 + p, 10, 0) for p in range(1, 6)}
DAYS = [0, 1, 7]


def infusions_csv(folder: Path) -> Path:
    rows = [{"patient_id": p, "infusion_number": n + 1, "infusion_date": (start + pd.Timedelta(days=2 * n))
             .strftime("%Y-%m-%d %H:%M"), "dose_mg_per_kg": 0.5, "route": "IV"}
            for p, start in FIRST_INFUSION.items() for n in range(3)]
    path = folder / "infusions.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def responses(seed: int = 4) -> list[dict]:
    """One PHQ-9 a patient answers 50 min before the first infusion, then on days 1 and 7."""
    rng = np.random.default_rng(seed)
    out = []
    for patient, start in FIRST_INFUSION.items():
        for day in DAYS:
            when = start + pd.Timedelta(days=day, minutes=-50 + 7 * day)
            out.append({"patient": patient, "when": when, "answers": rng.integers(0, 4, 9).tolist()})
    return out


def expected(given: list[dict]) -> dict[tuple[str, float], float]:
    """(patient, hours since the first infusion) -> total, from the drawn answers' scores."""
    return {(r["patient"], round((r["when"] - FIRST_INFUSION[r["patient"]]).total_seconds() / 3600, 6)):
            float(sum(r["answers"])) for r in given}


def totals(data: analysis.OutcomeData) -> dict[tuple[str, float], float]:
    a = data.assessments[data.assessments["item"].isna()]
    return {(p, round(t, 6)): s for p, t, s in zip(a["patient_id"], a["time_hours"], a["score"], strict=True)}


def google_forms_csv(folder: Path, given: list[dict]) -> Path:
    rows = [{"Timestamp": r["when"].strftime("%Y/%m/%d %-I:%M:%S %p") + " GMT-5", "Patient ID": r["patient"],
             **{f"{STEM} [{q}]": ANSWERS[a] for q, a in zip(PHQ9, r["answers"], strict=True)},
             DIFFICULTY: "Somewhat difficult"} for r in given]
    path = folder / "PHQ-9 (Responses) - Form Responses 1.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


QUALTRICS_META = [("StartDate", "Start Date", "startDate"), ("EndDate", "End Date", "endDate"),
                  ("Status", "Response Type", "status"), ("IPAddress", "IP Address", "ipAddress"),
                  ("Progress", "Progress", "progress"), ("Finished", "Finished", "finished"),
                  ("RecordedDate", "Recorded Date", "recordedDate"), ("ResponseId", "Response ID", "_recordId"),
                  ("RecipientEmail", "Recipient Email", "recipientEmail"),
                  ("LocationLatitude", "Location Latitude", "locationLatitude"),
                  ("pid", "Participant ID", "QID10_TEXT")]


def qualtrics_csv(folder: Path, given: list[dict], preview: bool = True) -> Path:
    columns = QUALTRICS_META + [(f"Q1_{i}", f"{STEM} - {q}", f"QID1_{i}") for i, q in enumerate(PHQ9, start=1)]
    path = folder / "Ketamine_PHQ9_December+3,+2026_10.15.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([c[0] for c in columns])
        writer.writerow([c[1] for c in columns])
        writer.writerow([json.dumps({"ImportId": c[2]}) for c in columns])
        extra = [{"patient": "KC001", "when": datetime(2026, 3, 1, 8, 0), "answers": [3] * 9}] if preview else []
        for k, r in enumerate(given + extra):
            end = r["when"].strftime("%Y-%m-%d %H:%M:%S")
            meta = [end, end, "Survey Preview" if r in extra else "IP Address", "203.0.113.7", "100", "True", end,
                    f"R_{k:04d}xYz", "pat.one@example.org", "39.7392", r["patient"]]
            writer.writerow(meta + [ANSWERS[a] for a in r["answers"]])
    return path


def test_a_google_forms_export_loads_with_its_infusion_log(tmp_path: Path):
    given = responses()
    survey = google_forms_csv(tmp_path, given)
    mapping = analysis.suggest_mapping(survey)
    said = " ".join(mapping.describe())
    assert "9 column(s) read as PHQ-9 item(s) 1-9 by their question text" in said
    assert "'Several days' = 1" in said and "closing question on difficulty" in said
    data = analysis.load(assessments=survey, infusions=infusions_csv(tmp_path))
    assert totals(data) == expected(given)  # "GMT-5" written by the form: its local time is kept
    assert data.n_patients == 5 and data.summary().loc["PHQ-9", "ratings"] == 15
    assert (data.assessments[DIFFICULTY] == "Somewhat difficult").all()  # kept as written, not an item
    assert {"totals_derived", "dates_converted"} <= {w.code for w in data.warnings}


def test_a_phq8_form_the_phq9_without_item_9_loads_as_the_phq8_with_its_totals(tmp_path: Path):
    # the PHQ-8 (Kroenke et al. 2009): items 1-8 of the PHQ-9, total 0-24
    given = [{**r, "answers": r["answers"][:8]} for r in responses(seed=8)]
    rows = [{"Timestamp": r["when"].strftime("%Y/%m/%d %-I:%M:%S %p"), "Patient ID": r["patient"],
             **{f"{STEM} [{q}]": ANSWERS[a] for q, a in zip(PHQ9[:8], r["answers"], strict=True)}} for r in given]
    survey = tmp_path / "PHQ-8 (Responses).csv"
    pd.DataFrame(rows).to_csv(survey, index=False)
    assert "8 column(s) read as PHQ-8 item(s) 1-8 by their question text" in " ".join(
        analysis.suggest_mapping(survey).describe())
    data = analysis.load(assessments=survey, infusions=infusions_csv(tmp_path))
    assert totals(data) == expected(given)
    assert data.instruments == ["PHQ-8"] and "items_without_total" not in {w.code for w in data.warnings}
    assert analysis.get_instrument("PHQ8").max_score == 24
    # a PHQ-9 form with one item left unanswered stays a PHQ-9 (and that rating gets no total)
    assert {v[0] for v in survey_columns([f"{STEM} [{q}]" for q in PHQ9])[0].values()} == {"PHQ-9"}
    assert {v[0] for v in survey_columns([f"{STEM} [{q}]" for q in PHQ9[:7]])[0].values()} == {"PHQ-9"}


def qualtrics_sav(folder: Path, given: list[dict]) -> Path:
    """Qualtrics' SPSS export: columns Q1_1 ..., the question text as variable labels, the answers
    coded 1-4 with value labels (1 = 'Not at all', which the PHQ-9 scores 0)."""
    import pyreadstat

    frame = pd.DataFrame({"EndDate": [r["when"] for r in given], "pid": [r["patient"] for r in given],
                          **{f"Q1_{i}": [float(r["answers"][i - 1] + 1) for r in given] for i in range(1, 10)}})
    path = folder / "Ketamine_PHQ9.sav"
    pyreadstat.write_sav(frame, str(path), column_labels=["End Date", "Participant ID"]
                         + [f"{STEM} - {q}" for q in PHQ9],
                         variable_value_labels={f"Q1_{i}": {k + 1.0: a for k, a in enumerate(ANSWERS)}
                                                for i in range(1, 10)})
    return path


def test_a_qualtrics_spss_export_reads_its_questions_and_coded_answers_from_the_labels(tmp_path: Path):
    given = responses(seed=9)
    path = qualtrics_sav(tmp_path, given)
    said = " ".join(analysis.suggest_mapping(path).describe())
    assert "9 column(s) read as PHQ-9 item(s) 1-9 by their question text" in said
    assert "answers coded by the file's value labels (1 'Not at all' = 0, 2 'Several days' = 1" in said
    assert "numbered 1-4" not in said  # the labels say how the codes score: no doubt left
    data = analysis.load(assessments=path, infusions=infusions_csv(tmp_path), columns={"patient_id": "pid"})
    assert totals(data) == expected(given)


def test_a_qualtrics_export_drops_its_bookkeeping_unread_and_leaves_previews_out(tmp_path: Path):
    given = responses(seed=5)
    survey = qualtrics_csv(tmp_path, given)
    mapping = analysis.suggest_mapping(survey)
    assert mapping.columns["patient_id"] == "Participant ID" and mapping.columns["assessment_date"] == "EndDate"
    assert {"StartDate", "RecordedDate", "IPAddress", "RecipientEmail", "LocationLatitude"} <= set(mapping.dropped)
    assert mapping.record_filters == (("Status", "not in", ("Survey Preview",)),)
    data = analysis.load(assessments=survey, infusions=infusions_csv(tmp_path))
    assert totals(data) == expected(given)  # the preview (KC001, 1 March, all 3s) is not a rating
    shown = " ".join([*mapping.describe(), *(w.message for w in data.warnings)]) \
        + " ".join(data.assessments.astype(str).to_numpy().ravel()) + mapping.to_json()
    for identifying in ("203.0.113.7", "pat.one@example.org", "39.7392"):
        assert identifying not in shown
    assert any("a Qualtrics export" in w.message for w in data.warnings)
    # rows as the file numbers them: the first response is line 4, under three header rows
    assert data.assessments["source_row"].min() == 3


def test_an_answer_the_scale_does_not_have_is_named_with_its_row_column_and_the_answers(tmp_path: Path):
    given = responses()
    survey = google_forms_csv(tmp_path, given)
    frame = pd.read_csv(survey)
    frame.loc[1, f"{STEM} [{PHQ9[3]}]"] = "Sometimes"
    frame.to_csv(survey, index=False)
    with pytest.raises(DataError) as caught:
        analysis.load(assessments=survey, infusions=infusions_csv(tmp_path))
    problems = caught.value.problems
    assert len(problems) == 1
    problem = problems.iloc[0]
    assert problem["row"] == 2 and problem["column"] == f"{STEM} [{PHQ9[3]}]" and problem["value"] == "Sometimes"
    assert "'Sometimes' is neither a number nor one of the answers scored" in problem["message"]
    assert "'Several days' = 1" in problem["message"] and "value_maps" in problem["message"]
    assert "line 3" in problem["location"]
    # its score given by hand, the file loads
    data = analysis.load(assessments=survey, infusions=infusions_csv(tmp_path), value_maps={"score": {"Sometimes": "1"}})
    assert len(totals(data)) == 15


def test_numbered_answers_and_a_saved_mapping_read_next_months_export(tmp_path: Path):
    given = responses(seed=6)
    survey = google_forms_csv(tmp_path, given)
    frame = pd.read_csv(survey).replace({a: f"{k} - {a}" for k, a in enumerate(ANSWERS)})
    frame.to_csv(survey, index=False)
    mapping = analysis.suggest_mapping(survey)
    saved = Mapping.from_json(mapping.to_json())
    assert saved == mapping and saved.value_maps["score"]["2 - More than half the days"] == "2"
    later = responses(seed=7)
    (tmp_path / "next").mkdir()
    next_month = google_forms_csv(tmp_path / "next", later)
    pd.read_csv(next_month).replace({a: f"{k} - {a}" for k, a in enumerate(ANSWERS)}).to_csv(next_month, index=False)
    data = analysis.load(assessments=next_month, infusions=infusions_csv(tmp_path), mapping=saved)
    assert totals(data) == expected(later)


def test_questions_are_known_by_their_wording_in_the_forms_exports_write():
    assert question_item("1. Little interest or pleasure in doing things?") == ("PHQ-9", 1)
    assert question_item(f"{STEM} - Feeling bad about yourself - or that you are a failure") is None  # cut short
    assert question_item("Trouble falling/staying asleep, sleeping too much") == ("PHQ-9", 3)  # older wording
    assert question_item("Trouble falling or staying asleep?") == ("PCL-5", 20)  # PCL-5's, not PHQ-9's
    assert question_item("In the past month, how much were you bothered by: - Being \"superalert\" or watchful "
                         "or on guard?") == ("PCL-5", 17)
    assert question_item("GAD-7: Trouble relaxing") == ("GAD-7", 4)
    assert question_item("During the past 7 days [Falling asleep]") == ("QIDS-SR16", 1)
    assert question_item("Notes about sleeping too much") is None  # a short wording only as the whole question
    assert question_item(DIFFICULTY) is None and question_item("Patient ID") is None
    # a lone column worded like a QIDS item is not a survey
    assert survey_columns(["Patient", "Energy level", "Weight"]) == ({}, [])


def test_a_folder_of_a_survey_export_and_the_infusion_log_reads_the_export_as_the_ratings(tmp_path: Path):
    given = responses(seed=9)
    qualtrics_csv(tmp_path, given, preview=False)
    infusions_csv(tmp_path)
    data = analysis.load(tmp_path)
    assert totals(data) == expected(given) and len(data.infusions) == 15
    saved = Mapping.from_json(analysis.suggest_mapping(next(tmp_path.glob("Ketamine*"))).to_json())
    assert "IPAddress" in saved.dropped  # kept by the saved mapping
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")  # two candidates: none is guessed
    with pytest.raises(DataError, match="has no assessments file"):
        analysis.load(tmp_path)


def test_a_folders_mapping_is_suggested_from_the_ratings_whatever_the_file_names_order(tmp_path: Path):
    given = responses(seed=11)
    google_forms_csv(tmp_path, given).rename(tmp_path / "survey.csv")  # sorts after infusions.csv
    infusions_csv(tmp_path)
    suggested = analysis.suggest_mapping(tmp_path)
    assert suggested.layout == "wide" and "Timestamp" in suggested.columns.values()
    data = analysis.load(tmp_path, mapping=suggested)
    assert totals(data) == expected(given)


def test_a_forms_response_number_is_not_taken_for_the_patient():
    frame = pd.DataFrame({"ID": [1, 2], "Start time": "3/2/26 9:01:02", "Completion time": "3/2/26 9:04:10",
                          "Email": "anonymous", **{f"{k}. {q}": ["Not at all", "Several days"]
                                                   for k, q in enumerate(PHQ9, start=1)}})
    mapping = analysis.suggest_mapping(frame)
    assert "patient_id" not in mapping.columns and mapping.columns["assessment_date"] == "Completion time"
    assert any("'ID' numbers the survey's responses, not patients" in a for a in mapping.ambiguities)
    assert {"Start time", "Email"} <= set(mapping.dropped)


def test_answers_coded_from_one_are_flagged_and_recoded_by_a_value_map():
    coded = [[1, 2, 3, 4, 1, 2, 3, 4, 4], [4, 4, 4, 4, 4, 4, 4, 4, 4]]  # a tool's default codes 1-4
    frame = pd.DataFrame({"Patient ID": ["A", "A"], "Visit": ["baseline", "day 1"],
                          **{q: [row[k] for row in coded] for k, q in enumerate(PHQ9)}})
    mapping = analysis.suggest_mapping(frame)
    assert any("PHQ-9 answers are numbered 1-4" in a and "'4': '3'" in a for a in mapping.ambiguities)
    data = analysis.load(frame, value_maps={"score": {"1": "0", "2": "1", "3": "2", "4": "3"}})
    assert data.assessments[data.assessments["item"].isna()]["score"].tolist() == [15.0, 27.0]  # sums of code - 1


def test_a_form_asking_phq9_and_gad7_reads_both_even_with_the_scale_named_in_the_header():
    from analysis.loading.surveys import ITEM_WORDING

    rng = np.random.default_rng(11)
    rows, sums = [], {}
    for p in range(4):
        phq, gad = rng.integers(0, 4, 9), rng.integers(0, 4, 7)
        rows.append({"Patient ID": f"P{p}", "Visit": "baseline",
                     **{q: ANSWERS[a] for q, a in zip(ITEM_WORDING["PHQ-9"], phq, strict=True)},
                     **{f"GAD-7 [{q}]": ANSWERS[a] for q, a in zip(ITEM_WORDING["GAD-7"], gad, strict=True)}})
        sums[(f"P{p}", "PHQ-9")], sums[(f"P{p}", "GAD-7")] = float(phq.sum()), float(gad.sum())
    a = analysis.load(pd.DataFrame(rows)).assessments
    assert (a["visit"] == "baseline").all()  # the row's visit, not '[Trouble relaxing]' from the header
    a = a[a["item"].isna()]
    assert dict(zip(zip(a["patient_id"], a["instrument"], strict=True), a["score"], strict=True)) == sums


_FORMS = [lambda q: q, lambda q: f"{STEM} [{q}]", lambda q: f"{STEM} - {q}", lambda q: f"3. {q}?"]
_ANSWER_CELLS = st.sampled_from([*ANSWERS, "", "Sometimes", "2 - More than half the days", "1"])
_BOOKKEEPING = {"IPAddress": "198.51.100.4", "Email Address": "ann@clinic.org", "RecipientEmail": "bo@clinic.org"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 8), min_size=1, max_size=9, unique=True), st.sampled_from(range(len(_FORMS))),
       st.lists(st.lists(_ANSWER_CELLS, min_size=9, max_size=9), min_size=1, max_size=4),
       st.lists(st.sampled_from(list(_BOOKKEEPING)), unique=True), st.booleans())
def test_random_survey_exports_load_with_the_sums_of_their_answers_or_say_why(asked, form, answers, tool, with_id):
    """Any subset of PHQ-9 questions in any of the forms exports write them, answers known, unknown
    or missing, the tools' identifying columns: loaded with each complete rating's total = the sum
    of its answers' scores, or a DataError; no identifying value in any message."""
    score = {**{a: k for k, a in enumerate(ANSWERS)}, "2 - More than half the days": 2, "1": 1}
    rows = []
    for k, cells in enumerate(answers):
        row = {"Patient ID": f"K{k % 2}"} if with_id else {}
        row.update({"Timestamp": f"2026-03-0{k + 2} 09:00", **{c: v for c, v in _BOOKKEEPING.items() if c in tool}})
        row.update({_FORMS[form](PHQ9[i]): cells[i] for i in asked})
        rows.append(row)
    frame = pd.DataFrame(rows)
    infusions = pd.DataFrame({"patient_id": ["K0", "K1"], "infusion_number": 1, "infusion_date": "2026-03-02 10:00"})
    try:
        data = analysis.load(assessments=frame, infusions=infusions)
    except DataError as error:
        text = str(error) + " ".join(error.problems.astype(str).to_numpy().ravel())
        assert not any(v in text for v in _BOOKKEEPING.values())
        return
    said = " ".join(w.message for w in data.warnings) + " ".join(data.mapping.describe())
    assert not any(v in said for v in _BOOKKEEPING.values())
    a = data.assessments
    got = a[a["item"].isna() & (a["instrument"] == "PHQ-9")]["score"].tolist()
    complete = [sum(score[c[i]] for i in range(9)) for c in answers if len(asked) == 9 and all(c[i] in score for i in range(9))]
    assert got == complete


def test_a_redcap_labels_export_of_a_survey_reads_its_events_as_visits_and_its_survey_timestamp():
    given = responses(seed=12)
    events = dict(zip(DAYS, ["Baseline (Arm 1: Arm A)", "Day 1 (Arm 1: Arm A)", "Week 1 (Arm 1: Arm A)"], strict=True))
    day = {id(r): round((r["when"] - FIRST_INFUSION[r["patient"]]).total_seconds() / 86400) for r in given}
    rows = [{"Record ID": r["patient"], "Event Name": events[day[id(r)]],
             "Survey Identifier": "", "Survey Timestamp": r["when"].strftime("%Y-%m-%d %H:%M"),
             **{f"{k}. {q}": ANSWERS[a] for k, (q, a) in enumerate(zip(PHQ9, r["answers"], strict=True), start=1)},
             "Complete?": "Complete"} for r in given]
    frame = pd.DataFrame(rows)
    mapping = analysis.suggest_mapping(frame)
    assert mapping.columns["visit"] == "Event Name" and mapping.columns["assessment_date"] == "Survey Timestamp"
    assert "event" not in mapping.columns  # REDCap's events are visits, not intercurrent events
    infusions = pd.DataFrame({"patient_id": list(FIRST_INFUSION), "infusion_number": 1,
                              "infusion_date": [d.strftime("%Y-%m-%d %H:%M") for d in FIRST_INFUSION.values()]})
    data = analysis.load(assessments=frame, infusions=infusions)
    assert totals(data) == expected(given)
    assert set(data.assessments["visit"]) == set(events.values())


QIDS_TITLES = ["Falling Asleep", "Sleep During the Night", "Waking Up Too Early", "Sleeping Too Much", "Feeling Sad",
               "Decreased Appetite", "Increased Appetite", "Decreased Weight (Within the Last Two Weeks)",
               "Increased Weight (Within the Last Two Weeks)", "Concentration/Decision Making", "View of Myself",
               "Thoughts of Death or Suicide", "General Interest", "Energy Level", "Feeling slowed down",
               "Feeling restless"]


def qids_total(answers: list[int]) -> float:
    """QIDS-SR16's total by its published rule (Rush et al. 2003): the highest of the sleep items
    1-4, item 5, the highest of the appetite and weight items 6-9, items 10-14, the highest of 15-16."""
    a = answers
    return float(max(a[0:4]) + a[4] + max(a[5:9]) + sum(a[9:14]) + max(a[14:16]))


def test_a_qids_form_with_its_answers_in_words_loads_with_the_qids_totals(tmp_path: Path):
    # the form shows each item's four statements (the QIDS-SR16 as printed) and exports the one chosen
    from analysis.loading.surveys import QIDS_ANSWERS

    rng = np.random.default_rng(12)
    rows, want = [], {}
    for k, (patient, start) in enumerate(FIRST_INFUSION.items()):
        answers = rng.integers(0, 4, 16).tolist()
        when = start - pd.Timedelta(minutes=40)
        cells = {f"{n}. {title}:": QIDS_ANSWERS[n - 1][a] for n, (title, a) in enumerate(zip(QIDS_TITLES, answers,
                                                                                                strict=True), start=1)}
        if k == 0:  # another edition's wording of item 2's third statement
            answers[1] = 2
            cells["2. Sleep During the Night:"] = "I wake up at least once a night, but go back to sleep easily"
        rows.append({"Timestamp": when.strftime("%Y-%m-%d %H:%M:%S"), "Patient ID": patient, **cells})
        want[patient] = qids_total(answers)
    survey = tmp_path / "QIDS-SR16 (Responses).csv"
    pd.DataFrame(rows).to_csv(survey, index=False)
    said = " ".join(analysis.suggest_mapping(survey).describe())
    assert "16 column(s) read as QIDS-SR16 item(s) 1-16 by their question text" in said
    data = analysis.load(assessments=survey, infusions=infusions_csv(tmp_path))
    a = data.assessments[data.assessments["item"].isna()]
    assert set(a["instrument"]) == {"QIDS-SR16"}
    assert dict(zip(a["patient_id"], a["score"], strict=True)) == want


def test_a_qids_answer_between_two_statements_is_not_guessed(tmp_path: Path):
    from analysis.loading.surveys import QIDS_ANSWERS

    rows = [{"Patient ID": f"KC00{p}", "Visit": "baseline",
             **{f"{n}. {title}:": QIDS_ANSWERS[n - 1][1] for n, title in enumerate(QIDS_TITLES, start=1)}}
            for p in (1, 2)]
    rows[1]["8. Decreased Weight (Within the Last Two Weeks):"] = "I have lost two pounds or more."  # 2 or 5 pounds?
    frame = pd.DataFrame(rows)
    said = " ".join(analysis.suggest_mapping(frame).describe())
    assert "'I have lost two pounds or more.'" in said and "each item's own statements" in said
    with pytest.raises(DataError) as caught:
        analysis.load(frame)
    problem = caught.value.problems.iloc[0]
    assert len(caught.value.problems) == 1 and problem["value"] == "I have lost two pounds or more."
    assert "value_maps" in problem["message"]
