"""OnsetResult.at_risk: the number at risk, cumulative responses and censorings at chosen hours,
per group and pooled. References: a hand-counted fixture and R's survival::survfit
``summary(fit, times=, extend=TRUE)`` (n.risk; cumsum of n.event and n.censor) on the same
patients (script and printed output below)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.contract import OutcomeData
from analysis.onset import RISK_TABLE_HOURS, fit_onset
from tests.analysis.test_onset import known_onset_data

R_SCRIPT = """
library(survival)  # R 4.2.2, survival 3.5-3
# time: hours of the responding rating (status 1) or of the last rating (status 0, never responded)
table_at <- function(time, status, group, hours) {
  for (g in c(sort(unique(group)), "all")) {
    keep <- if (g == "all") rep(TRUE, length(time)) else group == g
    s <- summary(survfit(Surv(time[keep], status[keep]) ~ 1), times = hours, extend = TRUE)
    cat(g, "n.risk", s$n.risk, "\\n")
    cat(g, "cum.event", cumsum(s$n.event), "\\n")
    cat(g, "cum.censor", cumsum(s$n.censor), "\\n")
  }
}
# the hand-built fixture (patients A1-A6 TRD, B1-B6 MDD)
table_at(c(2, 4, 24, 48, 2, 8, 24, 72, 24, 0.5, 4, 48), c(1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1),
         rep(c("TRD", "MDD"), each = 6), c(0, 2, 4, 8, 24, 48, 72))
# known_onset_data(60, seed=7, p_response=0.6, median_hours=5, shape=1.2), every third patient MDD
time <- c(72, 72, 72, 2, 24, 72, 8, 72, 72, 8, 8, 6, 12, 12, 6, 3, 72, 72, 72, 72, 3, 24, 72, 1, 12, 4, 24, 72,
          72, 4, 1, 48, 4, 24, 72, 24, 1, 6, 72, 2, 12, 72, 6, 72, 72, 72, 24, 12, 3, 72, 8, 8, 1, 48, 1, 12, 72,
          3, 72, 3)
status <- c(0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1,
            1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1)
group <- ifelse(seq_along(time) %% 3 == 1, "MDD", "TRD")
table_at(time, status, group, c(0, 1, 2.5, 4, 5, 12, 24, 48, 72, 100))
"""

R_OUTPUT = """
MDD n.risk 6 5 5 4 4 2 1
MDD cum.event 0 1 1 1 3 4 4
MDD cum.censor 0 0 1 1 1 1 2
TRD n.risk 6 6 4 3 2 1 0
TRD cum.event 0 1 2 3 4 4 4
TRD cum.censor 0 1 1 1 1 2 2
all n.risk 12 11 9 7 6 3 1
all cum.event 0 2 3 4 7 8 8
all cum.censor 0 1 2 2 2 3 4
MDD n.risk 20 20 15 12 12 8 6 4 4 0
MDD cum.event 0 3 5 8 8 14 16 16 16 16
MDD cum.censor 0 0 0 0 0 0 0 0 4 4
TRD n.risk 40 40 38 36 33 28 24 20 18 0
TRD cum.event 0 2 2 7 7 16 20 22 22 22
TRD cum.censor 0 0 0 0 0 0 0 0 18 18
all n.risk 60 60 53 48 45 36 30 24 22 0
all cum.event 0 5 7 15 15 30 36 38 38 38
all cum.censor 0 0 0 0 0 0 0 0 22 22
"""

FIXTURE_HOURS = [0, 2, 4, 8, 24, 48, 72]
SIMULATED_HOURS = [0, 1, 2.5, 4, 5, 12, 24, 48, 72, 100]
SIMULATED_TIME = [72, 72, 72, 2, 24, 72, 8, 72, 72, 8, 8, 6, 12, 12, 6, 3, 72, 72, 72, 72, 3, 24, 72, 1, 12, 4, 24,
                  72, 72, 4, 1, 48, 4, 24, 72, 24, 1, 6, 72, 2, 12, 72, 6, 72, 72, 72, 24, 12, 3, 72, 8, 8, 1, 48, 1,
                  12, 72, 3, 72, 3]
SIMULATED_STATUS = [0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1,
                    1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1]

# patient -> (diagnosis, [(hours after the one infusion, MADRS total)]); baseline 30 at -1 h, so
# response (a reduction of at least 50%) is a score of 15 or less
RATINGS = {
    "A1": ("TRD", [(1, 28), (2, 14)]),                       # responds in (1, 2]
    "A2": ("TRD", [(4, 12)]),                                # (0, 4]
    "A3": ("TRD", [(4, 25), (24, 10)]),                      # (4, 24]
    "A4": ("TRD", [(4, 25), (24, 20), (48, 22)]),            # never, followed to 48 h
    "A5": ("TRD", [(2, 25)]),                                # never, followed to 2 h
    "A6": ("TRD", [(4, 20), (8, 15)]),                       # (4, 8]: exactly 50%
    "B1": ("MDD", [(24, 10)]),                               # (0, 24]
    "B2": ("MDD", [(1, 29), (4, 27), (24, 28), (72, 26)]),   # never, followed to 72 h
    "B3": ("MDD", [(8, 22), (24, 14)]),                      # (8, 24]
    "B4": ("MDD", [(0.5, 10)]),                              # (0, 0.5]
    "B5": ("MDD", [(4, 20)]),                                # never, followed to 4 h
    "B6": ("MDD", [(48, 12)]),                               # (0, 48]
}
# counted by hand from RATINGS at FIXTURE_HOURS: at risk = responding rating at or after t, or
# (never responded) last rating at or after t; responses / censored: at or before t
HAND = {
    "MDD": {"at_risk": [6, 5, 5, 4, 4, 2, 1], "responses": [0, 1, 1, 1, 3, 4, 4], "censored": [0, 0, 1, 1, 1, 1, 2]},
    "TRD": {"at_risk": [6, 6, 4, 3, 2, 1, 0], "responses": [0, 1, 2, 3, 4, 4, 4], "censored": [0, 1, 1, 1, 1, 2, 2]},
}


def _r_tables() -> list[dict[str, dict[str, list[int]]]]:
    """R_OUTPUT as two blocks (fixture, simulated): group -> column -> values."""
    names = {"n.risk": "at_risk", "cum.event": "responses", "cum.censor": "censored"}
    blocks: list[dict[str, dict[str, list[int]]]] = [{}, {}]
    lines = [line.split() for line in R_OUTPUT.strip().splitlines()]
    for k, words in enumerate(lines):
        block = blocks[0 if k < 9 else 1]
        block.setdefault(words[0], {})[names[words[1]]] = [int(float(w)) for w in words[2:]]
    return blocks


def fixture_data() -> OutcomeData:
    pids = list(RATINGS)
    rows = [(pid, -1.0, 30.0) for pid in pids]
    rows += [(pid, float(t), float(score)) for pid, (_, ratings) in RATINGS.items() for t, score in ratings]
    n = len(rows)
    assessments = pd.DataFrame({
        "patient_id": pd.array([r[0] for r in rows], dtype="string"),
        "instrument": pd.array(["MADRS"] * n, dtype="string"), "item": pd.array([pd.NA] * n, dtype="Int64"),
        "score": [r[2] for r in rows], "time_hours": [r[1] for r in rows],
        "visit": pd.array([pd.NA] * n, dtype="string"), "infusion_number": pd.array([pd.NA] * n, dtype="Int64"),
        "source_row": np.arange(1, n + 1)})
    infusions = pd.DataFrame({"patient_id": pd.array(pids, dtype="string"), "infusion_number": 1, "time_hours": 0.0,
                              "dose_mg_per_kg": 0.5, "route": pd.array(["IV"] * len(pids), dtype="string"),
                              "duration_min": 40.0})
    patients = pd.DataFrame({"patient_id": pd.array(pids, dtype="string"), "age": 40.0,
                             "sex": pd.array(["F"] * len(pids), dtype="string"),
                             "diagnosis": pd.array([RATINGS[p][0] for p in pids], dtype="string")})
    return OutcomeData(assessments, infusions, patients)


def simulated_data() -> OutcomeData:
    n = 60
    diagnosis = np.where(np.arange(n) % 3 == 0, "MDD", "TRD").astype(object)
    return known_onset_data(n, seed=7, p_response=0.6, median_hours=5.0, shape=1.2, diagnosis=diagnosis)


def _columns(table: pd.DataFrame, group: str) -> dict[str, list[int]]:
    part = table[table["group"].astype(str) == group]
    return {c: part[c].astype(int).tolist() for c in ("at_risk", "responses", "censored")}


def test_hand_counted_fixture_and_r_agree_with_at_risk():
    fit = fit_onset(fixture_data(), by="diagnosis")
    table = fit.at_risk(FIXTURE_HOURS)
    assert list(table.columns) == ["group", "time_hours", "at_risk", "responses", "censored"]
    r = _r_tables()[0]
    for group in ("MDD", "TRD"):
        assert table.loc[table["group"] == group, "time_hours"].tolist() == FIXTURE_HOURS
        assert _columns(table, group) == HAND[group] == r[group]
    pooled = fit_onset(fixture_data()).at_risk(FIXTURE_HOURS)
    assert set(pooled["group"]) == {"all"} and _columns(pooled, "all") == r["all"]


def test_simulated_onsets_agree_with_r_survfit():
    data = simulated_data()
    fit = fit_onset(data, by="diagnosis")
    patients = fit.endpoints.patients
    upper = patients["onset_upper_hours"].to_numpy(float)
    # the R script was given exactly these patients (responding rating, or last rating if none)
    assert np.where(np.isfinite(upper), upper, patients["onset_lower_hours"]).tolist() == SIMULATED_TIME
    assert np.isfinite(upper).astype(int).tolist() == SIMULATED_STATUS
    r = _r_tables()[1]
    table = fit.at_risk(SIMULATED_HOURS)
    for group in ("MDD", "TRD"):
        assert _columns(table, group) == r[group]
    assert _columns(fit_onset(data).at_risk(SIMULATED_HOURS), "all") == r["all"]


def test_at_risk_is_the_patients_not_yet_seen_to_respond_nor_censored():
    """A second count from the endpoints' intervals: at_risk(t) = n - responses - censorings
    strictly before t; at_risk never rises and starts at the group's n; the default table is at
    RISK_TABLE_HOURS."""
    fit = fit_onset(simulated_data(), by="diagnosis")
    hours = np.array([0.0, 0.5, 1.0, 3.0, 3.5, 8.0, 47.0, 72.0, 73.0])
    table = fit.at_risk(hours)
    patients = fit.endpoints.patients
    for group, n in fit.summary()["n"].items():
        part = table[table["group"] == group]
        mine = patients[patients["diagnosis"].astype(str) == group]
        upper = mine["onset_upper_hours"].to_numpy(float)
        seen = np.where(np.isfinite(upper), upper, mine["onset_lower_hours"].to_numpy(float))
        expected = [(seen >= t).sum() for t in hours]
        assert part["at_risk"].tolist() == expected
        assert part["at_risk"].iloc[0] == n and (np.diff(part["at_risk"]) <= 0).all()
    assert fit.risk_table["time_hours"].drop_duplicates().tolist() == list(RISK_TABLE_HOURS)


@pytest.mark.parametrize("hours", [[4.0], np.array([24.0, 4.0])])
def test_at_risk_takes_any_hours_in_the_given_order(hours):
    fit = fit_onset(fixture_data(), by="diagnosis")
    table = fit.at_risk(hours)
    assert table.loc[table["group"] == "TRD", "time_hours"].tolist() == list(np.asarray(hours, float))


@pytest.mark.parametrize("hours", [[0, float("nan")], [-1, 4]])
def test_at_risk_refuses_missing_or_negative_hours_in_words(hours):
    from analysis.errors import AnalysisError

    with pytest.raises(AnalysisError, match="hours since the infusion, 0 or more"):
        fit_onset(fixture_data()).at_risk(hours)


@pytest.fixture(scope="module")
def sample_by_course():
    import analysis

    return analysis.fit_onset(analysis.load_sample(), by="course")


def _figure_rows(figure) -> dict[str, tuple[list[float], list[str]]]:
    return {t.name.removesuffix(" at risk"): (list(t.x), list(t.text)) for t in figure.data
            if t.mode == "text" and (t.name or "").endswith(" at risk")}


@pytest.mark.parametrize(("log_time", "max_hours"), [(False, 168.0), (True, 168.0), (False, None), (False, 30.0)])
def test_onset_figure_writes_at_risk_under_its_ticks(sample_by_course, log_time, max_hours):
    from analysis import figures

    fit = sample_by_course
    figure = figures.onset_result_figure(fit, log_time=log_time, max_hours=max_hours)
    ticks = list(figure.layout.xaxis.tickvals)
    assert ticks == figures.onset_ticks(fit.curve, max_hours=max_hours, log_time=log_time)[0]
    expected = fit.at_risk(ticks)
    rows = _figure_rows(figure)
    assert list(rows) == [str(g) for g in fit.summary().index]
    for group, (x, text) in rows.items():
        assert x == ticks
        assert text == expected.loc[expected["group"] == group, "at_risk"].astype(str).tolist()
    # one x axis type and range for plot and table; the range holds every tick
    assert figure.layout.xaxis2.type == figure.layout.xaxis.type == ("log" if log_time else "linear")
    assert figure.layout.xaxis2.matches == "x" or figure.layout.xaxis.matches == "x2"
    low, high = figure.layout.xaxis.range
    scale = np.log10 if log_time else (lambda v: v)
    assert low < scale(ticks[0]) and scale(ticks[-1]) < high


def test_onset_figure_leaves_out_hidden_groups_and_can_go_without_the_table(sample_by_course):
    from analysis import figures

    shown = figures.onset_result_figure(sample_by_course, exclude_groups=["series"])
    assert list(_figure_rows(shown)) == ["single"]
    plain = figures.onset_result_figure(sample_by_course, risk_table=False)
    assert not _figure_rows(plain) and "xaxis2" not in plain.to_plotly_json()["layout"]
    assert "Number at risk" not in " ".join(a.text or "" for a in plain.layout.annotations)
