"""Totals derived from items when a file gives a rating's items alone.

References: the sum of a row's item columns computed by pandas on the file as written (a second
implementation: no code of the loader), and QIDS-SR16 totals worked out by hand from Rush et al.
2003's scoring rule (highest sleep item, item 5, highest appetite/weight item, items 10-14, highest
psychomotor item).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import analysis
from analysis.instruments import get_instrument

VISITS = ["baseline", "day 1", "day 7"]


def phq9_items_sheet(n_patients: int = 12, seed: int = 3) -> pd.DataFrame:
    """A clinic's sheet of PHQ-9 answers: a row per patient and visit, items only, no total."""
    rng = np.random.default_rng(seed)
    rows = [{"Patient": f"K{p}", "Visit": v, **{f"PHQ9_{i}": int(rng.integers(0, 4)) for i in range(1, 10)}}
            for p in range(n_patients) for v in VISITS]
    return pd.DataFrame(rows)


def totals(data: analysis.OutcomeData) -> pd.Series:
    a = data.assessments
    return a[a["item"].isna()].set_index(["patient_id", "visit"])["score"]


def test_items_only_ratings_get_the_sum_of_their_items():
    sheet = phq9_items_sheet()
    sheet.loc[4, "PHQ9_4"] = np.nan  # patient K1 at day 1: item 4 not answered
    data = analysis.load(sheet)
    expected = sheet.set_index(["Patient", "Visit"])[[f"PHQ9_{i}" for i in range(1, 10)]]
    complete = expected.dropna()
    got = totals(data)
    assert len(got) == len(complete) == len(sheet) - 1
    assert got.to_dict() == complete.sum(axis=1).astype(float).to_dict()
    assert ("K1", "day 1") not in got.index  # 8 of 9 items: no total, no prorating
    warnings = {w.code: w for w in data.warnings}
    assert warnings["totals_derived"].count == len(sheet) - 1
    lacking = warnings["items_without_total"]
    assert lacking.count == 1 and "patient K1 at 24 h (PHQ-9 item 4 missing)" in lacking.message
    assert lacking.rows == (5,) and lacking.patient_ids == ("K1",)
    # its items are kept
    a = data.assessments
    assert len(a[(a["patient_id"] == "K1") & (a["visit"] == "day 1") & a["item"].notna()]) == 8


def test_derived_totals_feed_the_analyses():
    data = analysis.load(phq9_items_sheet())
    summary = data.summary()
    assert summary.loc["PHQ-9", "patients"] == 12 and summary.loc["PHQ-9", "ratings"] == 36
    assert not any(w.code == "no_baseline" for w in data.warnings)
    # each total sits before its items, in rating order
    a = data.assessments
    first = a.groupby(["patient_id", "time_hours"], sort=False)["item"].apply(lambda s: s.isna().iloc[0])
    assert first.all()
    assert a[["patient_id", "time_hours"]].apply(tuple, axis=1).is_monotonic_increasing


def test_a_total_given_by_the_file_is_kept_and_only_missing_ones_are_derived():
    rows = [("A", "MADRS", pd.NA, 0.0, 30.0)] + [("A", "MADRS", i, 0.0, 2.0) for i in range(1, 11)] \
        + [("A", "MADRS", i, 24.0, 1.0) for i in range(1, 11)]
    frame = pd.DataFrame(rows, columns=["patient_id", "instrument", "item", "time_hours", "score"])
    data = analysis.load(frame)
    a = data.assessments
    assert a[a["item"].isna()][["time_hours", "score"]].values.tolist() == [[0.0, 30.0], [24.0, 10.0]]
    derived = next(w for w in data.warnings if w.code == "totals_derived")
    assert derived.count == 1 and derived.rows == (12,)  # the first item row of the day-1 rating


def test_qids_totals_follow_the_domain_rule():
    items = {"a": [1, 3, 0, 2, 2, 0, 1, 3, 0, 1, 2, 0, 1, 2, 0, 3],   # 3+2+3+1+2+0+1+2+3 = 17
             "b": [0, 0, 0, 0, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 1, 1]}   # 0+1+2+0+0+0+0+0+1 = 4
    frame = pd.DataFrame([{"id": p, "visit": "baseline", **{f"qids_{i}": v for i, v in enumerate(values, 1)}}
                          for p, values in items.items()])
    got = analysis.load(frame).assessments
    assert got[got["item"].isna()].set_index("patient_id")["score"].to_dict() == {"a": 17.0, "b": 4.0}
    assert get_instrument("QIDS-SR16").total_of(np.array([items["a"]])).tolist() == [17.0]
    assert get_instrument("PHQ-9").total_of(np.array([[3] * 9])).tolist() == [27.0]


def test_files_with_totals_are_unchanged():
    frame = pd.DataFrame({"patient_id": ["A", "A", "A"], "instrument": "MADRS", "item": [pd.NA, 10, pd.NA],
                          "time_hours": [0.0, 0.0, 24.0], "score": [30.0, 4.0, 12.0]})
    data = analysis.load(frame)
    assert data.assessments["score"].tolist() == [30.0, 4.0, 12.0]
    assert not {"totals_derived", "items_without_total"} & {w.code for w in data.warnings}
