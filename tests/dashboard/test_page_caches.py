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


def _warm_run(page: str, monkeypatch, owner: object, name: str, counting_of) -> tuple[object, list[str]]:
    """``page`` opened, then run again with ``owner.name`` replaced by ``counting_of(note)`` (which
    calls ``note()`` before the original): the run and the calls made from the page's own file."""
    new_server_process()
    at = open_page(page)
    clean(at)
    counted: list[str] = []
    monkeypatch.setattr(owner, name, counting_of(_calls_from(f"{page}.py", counted)))
    at.run()
    clean(at)
    return at, counted


def test_a_warm_trajectories_run_does_not_select_the_ratings_again(monkeypatch):
    from_frame = pd.MultiIndex.from_frame

    def counting_of(note):
        def counting(*args, **kwargs):
            note()
            return from_frame(*args, **kwargs)
        return counting

    at, counted = _warm_run("trajectories", monkeypatch, pd.MultiIndex, "from_frame", counting_of)
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
    instruments = OutcomeData.instruments

    def counting_of(note):
        def counting(self):
            note()
            return instruments.fget(self)
        return property(counting)

    at, counted = _warm_run("data", monkeypatch, OutcomeData, "instruments", counting_of)
    assert counted == []
    shown = {m.label: m.value for m in at.metric}
    assert shown["Instruments"] == ", ".join(analysis.load_sample().instruments)
    assert shown["Patients kept"] == f"{analysis.load_sample().n_patients:,}"
