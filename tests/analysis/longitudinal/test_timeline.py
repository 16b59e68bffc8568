"""patient_timeline: every record of the chosen patients, on the days-since-first-infusion clock,
checked against the OutcomeData it came from and the endpoint rules (course, response, relapse)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def test_sample_is_reproducible_and_of_the_asked_size(sample):
    first = analysis.patient_timeline(sample, n_patients=10, seed=4)
    again = analysis.patient_timeline(sample, n_patients=10, seed=4)
    other = analysis.patient_timeline(sample, n_patients=10, seed=5)
    assert len(first.patients) == 10 and first.patients == again.patients and first.patients != other.patients
    assert "random sample of 10 of 300 patients (seed 4)" in first.describe()[0]


def test_records_are_the_datas_on_one_clock_in_days(sample):
    ids = ["P278", "P006", "P015"]
    timeline = analysis.patient_timeline(sample, patient_ids=ids)
    assert timeline.patients == tuple(ids)
    infusions = sample.infusions[sample.infusions["patient_id"].isin(ids)]
    assert len(timeline.infusions) == len(infusions)
    np.testing.assert_allclose(np.sort(timeline.infusions["time_days"]), np.sort(infusions["time_hours"] / 24))
    events = sample.events[sample.events["patient_id"].isin(ids)]
    assert len(timeline.events) == len(events)
    endpoints = analysis.derive_endpoints(sample)
    ratings = endpoints.ratings[endpoints.ratings["patient_id"].isin(ids)]
    assert len(timeline.ratings) == len(ratings)
    patients = endpoints.patients.set_index("patient_id").loc[ids]
    # boosters follow the course rule (infusions after the induction series), as derive_endpoints counts them
    boosters = timeline.infusions.groupby("patient_id")["kind"].apply(lambda k: int((k == "booster").sum()))
    assert boosters.reindex(ids).tolist() == patients["n_boosters"].astype(int).tolist()
    marks = timeline.marks.set_index(["patient_id", "mark"])["time_days"]
    for pid, row in patients.iterrows():
        if row["responded"]:
            assert marks[(pid, "response")] == pytest.approx(row["onset_time_hours"] / 24)
        if row["relapse_status"] == 1:
            assert marks[(pid, "relapse")] == pytest.approx(row["durability_origin_hours"] / 24
                                                           + row["relapse_time_days"])
        else:
            assert (pid, "relapse") not in marks.index
    summary = timeline.summary()
    assert list(summary.index) == ids and summary.loc["P278", "boosters"] == patients.loc["P278", "n_boosters"]
    # the follow-up bar spans the baseline rating to the last record
    spans = timeline.spans.set_index("patient_id")
    last = pd.concat([timeline.ratings, timeline.infusions, timeline.events]).groupby("patient_id")["time_days"].max()
    np.testing.assert_allclose(spans.loc[ids, "end_days"], last.loc[ids])
    assert (spans["start_days"] <= 0).all()


def test_unknown_patient_is_said_in_words(sample):
    with pytest.raises(ValueError, match="No analysed patient with id 'nobody'"):
        analysis.patient_timeline(sample, patient_ids=["nobody"])
