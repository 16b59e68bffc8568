"""Trajectories, Series, Symptoms and Timeline through AppTest: grouped by course, with the
plotted data read back from the page's figures (numeric time in increasing order, visit axes
that never mix courses, whole infusion numbers), the MMRM's default visits, a file without
item-level ratings explained in words, and the timeline withheld from workspace viewers."""

from __future__ import annotations

import io
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest

import analysis
from tests.dashboard.apptest import ROOT, charts, clean, open_page, plotted, uploaded
from tests.dashboard.snippets import shown_snippets


def _means(figure: dict) -> list[dict]:
    return [t for t in figure["data"] if t.get("mode") == "lines+markers"]


@pytest.mark.parametrize("page", ["trajectories", "series", "symptoms", "timeline"])
def test_pages_grouped_by_course(page):
    at = open_page(page, group="course")
    clean(at)
    assert at.session_state["context"].settings.by == "course"
    assert plotted(at), f"{page} draws nothing"


@pytest.mark.parametrize("time", ["hours", "days"])
def test_trajectories_numeric_time_read_back(time):
    at = open_page("trajectories", group="course", traj_time=time)
    clean(at)
    figure = plotted(at)[0]
    assert figure["layout"]["xaxis"].get("type", "linear") == "linear"
    means = _means(figure)
    assert {t["name"] for t in means} == {"single", "series"}
    for trace in means:
        x = np.asarray(trace["x"]).astype(float)
        assert np.all(np.diff(x) > 0)
    # the fitted mixed-model curve is drawn over the observed means
    model = next(f for f in plotted(at) if "Mixed model against" in f["layout"]["title"]["text"])
    assert any(t.get("line", {}).get("dash") == "dash" for t in model["data"])


def test_trajectories_log_hours():
    at = open_page("trajectories", traj_time="hours", traj_log="true")
    clean(at)
    figure = plotted(at)[0]
    assert figure["layout"]["xaxis"]["type"] == "log"
    x = np.asarray(_means(figure)[0]["x"]).astype(float)
    assert np.all(x > 0) and np.all(np.diff(x) > 0)


def test_trajectories_visits_never_mix_schedules():
    at = open_page("trajectories", group="route")
    clean(at)
    figure = plotted(at)[0]
    layout = figure["layout"]
    axes = {k: v for k, v in layout.items() if k.startswith("xaxis")}
    sample = analysis.load_sample()
    table = analysis.trajectory(sample, time="visit").table
    labels = {schedule: set(rows["time_point"]) - {"baseline"} for schedule, rows in table.groupby("schedule")}
    panels = [a["text"].removeprefix("schedule: ") for a in layout["annotations"]
              if a["text"].startswith("schedule: ")]
    # single, series and the series' boosters (the sample's boosters are all after a series)
    assert sorted(panels) == ["series", "series boosters", "single"] and len(axes) == 3
    for name, schedule in zip(sorted(axes), panels, strict=True):
        categories = set(axes[name]["categoryarray"]) - {"baseline"}
        others = set().union(*(v for k, v in labels.items() if k != schedule))
        assert categories <= labels[schedule]
        assert not categories & (others - labels[schedule]), f"{schedule} panel holds another schedule's visits"
        assert all(c.startswith("booster") for c in categories) == schedule.endswith(" boosters")


def test_mmrm_default_visits_are_the_protocol_follow_up_visits():
    at = open_page("trajectories")
    clean(at)
    visits = at.multiselect(key="mmrm_visits")
    assert visits.value == ["day 1", "day 7", "day 14", "day 28"]
    captions = " ".join(c.value for c in at.caption)
    assert "Patients rated at each visit: day 1: 165 (single 165, series 0)" in captions
    visits.set_value(["day 1", "day 7"]).run()
    clean(at)
    code = next(c for c in shown_snippets(at) if "fit_mmrm" in c)
    assert "visits=['day 1', 'day 7']" in code


def test_series_axis_in_whole_infusions():
    at = open_page("series", group="course")
    clean(at)
    for figure in plotted(at):
        axis = figure["layout"]["xaxis"]
        assert axis["tickmode"] == "linear" and axis["dtick"] == 1


def test_symptoms_suicidality_axis_from_zero():
    at = open_page("symptoms")
    clean(at)
    figure = next(f for f in plotted(at) if f["layout"]["title"]["text"] == "Suicidality item over time")
    assert figure["layout"]["yaxis"]["range"][0] == 0
    assert figure["layout"]["xaxis"]["type"] == "linear"


def _totals_only_upload() -> bytes:
    frame = pd.read_csv(ROOT / "data" / "sample" / "single_file.csv")
    frame = frame[frame["item"].isna() & (frame["instrument"] != "CADSS")]
    return frame.to_csv(index=False).encode()


def test_symptoms_on_a_file_without_item_level_ratings_says_what_is_missing():
    content = _totals_only_upload()
    at = uploaded("totals.csv", content)
    assert at.session_state["context"].full.fingerprint == analysis.load(io.BytesIO(content)).fingerprint
    at = open_page("symptoms", at)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]  # no generic "Something went wrong" box
    words = " ".join(w.value for w in at.warning)
    assert "No MADRS item 10 (suicidality item) ratings in the data" in words
    assert "Load item-level rows" in words
    assert "CADSS" in words


def test_timeline_not_shown_to_viewers():
    with patch("dashboard.workspace.session.row_level", return_value=False):
        at = open_page("timeline")
    assert not at.exception
    assert not charts(at) and not at.dataframe
    assert any("not shown to viewers" in i.value for i in at.info)


def test_timeline_one_patient():
    at = open_page("timeline")
    clean(at)
    at.segmented_control(key="timeline_mode").set_value("one patient").run()
    at.selectbox(key="timeline_patient").set_value("P278").run()
    clean(at)
    figure = plotted(at)[0]
    assert figure["layout"]["yaxis"]["categoryarray"] == ["P278"]
    infusions = sum(len(t["x"]) for t in figure["data"] if "infusion" in (t.get("name") or ""))
    sample = analysis.load_sample()
    assert infusions == (sample.infusions["patient_id"] == "P278").sum()


def test_mixed_model_on_a_clinic_rating_from_day_2_fits_and_says_which_knot_was_left_out():
    # no MADRS rating in the first two days after the first infusion: the default knots at 4 h and
    # day 1 cannot be estimated (before: an error in place of the mixed model)
    frame = pd.read_csv(ROOT / "data" / "sample" / "single_file.csv")
    early = (frame["instrument"] == "MADRS") & (frame["time_hours"] > 0) & (frame["time_hours"] < 48)
    at = open_page("trajectories", uploaded("from_day_2.csv", frame[~early].to_csv(index=False).encode()))
    clean(at)
    assert not at.error, [e.value for e in at.error]
    captions = " ".join(c.value for c in at.caption)
    assert "knots at day 7:" in captions
    assert "the default knots at 4 h (no rating before it), day 1 (no rating before it) left out" in captions
    assert "Mixed model against the observed means" in [f["layout"]["title"]["text"] for f in plotted(at)]
