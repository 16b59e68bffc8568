"""Pages do not scan every rating again on a warm run: what they count over all ratings is cached
with the results (the Trajectories page's selection of drawn cells and its patient counts, the
Data page's instruments), and what they show is the count the library gives."""

from __future__ import annotations

import sys

import pandas as pd

import analysis
from analysis.contract import OutcomeData
from analysis.figures.longitudinal import MAX_INDIVIDUAL_LINES
from tests.dashboard.apptest import clean, new_server_process, open_page

PAGES = "dashboard/app_pages/"


def _calls_from(page: str, counted: list[str]):
    """A wrapper that notes a call made from the page's own file (``page``)."""
    def note() -> None:
        caller = sys._getframe(2).f_code.co_filename
        if caller.endswith(PAGES + page):
            counted.append(caller)
    return note


def test_a_warm_trajectories_run_does_not_select_the_ratings_again(monkeypatch):
    new_server_process()
    at = open_page("trajectories")
    clean(at)
    counted: list[str] = []
    note = _calls_from("trajectories.py", counted)
    from_frame = pd.MultiIndex.from_frame

    def counting(*args, **kwargs):
        note()
        return from_frame(*args, **kwargs)

    monkeypatch.setattr(pd.MultiIndex, "from_frame", counting)
    at.run()
    clean(at)
    assert counted == []
    # the notes still count the library's patients: every patient's ratings, per schedule
    individual = analysis.trajectory(analysis.load_sample(), time="visit").individual
    notes = " ".join(c.value for c in at.caption)
    patients = individual["patient_id"].nunique()
    assert patients > MAX_INDIVIDUAL_LINES
    assert f"Grey lines: {MAX_INDIVIDUAL_LINES:,} patients of {patients:,} " in notes
    for schedule, patients in individual.groupby("schedule")["patient_id"].nunique().items():
        assert f"{schedule} {patients:,} patients" in notes


def test_a_warm_data_page_run_does_not_list_the_instruments_again(monkeypatch):
    new_server_process()
    at = open_page("data")
    clean(at)
    counted: list[str] = []
    note = _calls_from("data.py", counted)
    instruments = OutcomeData.instruments

    def counting(self):
        note()
        return instruments.fget(self)

    monkeypatch.setattr(OutcomeData, "instruments", property(counting))
    at.run()
    clean(at)
    assert counted == []
    shown = {m.label: m.value for m in at.metric}
    assert shown["Instruments"] == ", ".join(analysis.load_sample().instruments)
    assert shown["Patients kept"] == f"{analysis.load_sample().n_patients:,}"
