"""Tables and the timeline at 800 px: the key columns and each estimate with its CI come first and
narrow, -0.0 never printed, the timeline's rating colours visible on both themes, its legend above
the plot without reaching the title."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import analysis
from analysis import figures
from analysis.figures.timeline import RATING_SCALE
from dashboard.tables import display_options


def _cox_like() -> pd.DataFrame:
    return pd.DataFrame({"label": ["Dose, per 0.1 mg/kg", "Baseline severity, per 5 points"],
                         "unit": ["per 0.1 mg/kg", "per 5 points"], "hr": [0.62, 1.004],
                         "hr_lower": [0.41, 0.85], "hr_upper": [0.93, 1.18], "p": [0.0212, 0.96], "n": [164, 164],
                         "note": ["", "a long explanation that makes the row wrap onto more lines " * 2]},
                        index=pd.Index(["first_dose_mg_per_kg", "baseline_score"], name="term"))


def test_estimate_and_ci_in_one_column_after_the_key_and_before_the_rest():
    frame = _cox_like()
    options = display_options(frame)
    order = options["column_order"]
    assert order[:3] == ["label", "hr (95% CI)", "p"], order
    assert order[-1] == "note" and "hr_lower" not in order and "hr" not in order
    assert options["hide_index"] is True and "term" in order  # the code name is a detail, not pinned first
    assert options["column_config"]["hr (95% CI)"]["label"] == "Hazard ratio (95% CI)"
    text = options["data"].to_string()
    assert "0.62 (0.41–0.93)" in text and "1.00 (0.85–1.18)" in text
    shown = options["data"].data
    assert_raw = shown[["hr", "hr_lower", "hr_upper"]].to_numpy()
    np.testing.assert_array_equal(assert_raw, frame[["hr", "hr_lower", "hr_upper"]].to_numpy())  # raw kept
    widths = {k: v.get("width") for k, v in options["column_config"].items()}
    assert widths["note"] == "large" and all(isinstance(widths[c], int) and widths[c] <= 220 for c in order[:3])


def test_a_short_key_column_is_narrow_and_medians_come_first():
    frame = pd.DataFrame({"group": ["all"], "n_responders": [164], "sustained_7d": [0.8],
                          "sustained_7d_lower": [0.7], "sustained_7d_upper": [0.9], "median_days": [21.7],
                          "median_days_lower": [18.2], "median_days_upper": [np.nan]})
    options = display_options(frame)
    assert options["column_order"][:3] == ["group", "median_days (95% CI)", "sustained_7d (95% CI)"]
    assert options["column_config"]["group"]["width"] < 100
    assert options["column_config"]["median_days (95% CI)"]["label"] == "Median (days, 95% CI)"
    assert "21.7 (18.2–not reached)" in options["data"].to_string()


def test_minus_zero_prints_as_zero():
    frame = pd.DataFrame({"patient_id": ["P1", "P2"], "start_days": [-0.02, -1.0]})
    text = display_options(frame)["data"].to_string()
    assert "-0.0" not in text and "0.0" in text and "-1.0" in text


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_timeline_ratings_readable_on_both_themes_and_legend_clear_of_the_title():
    # contrast >= 1.8 against the grey bar on a white page (~#d2d2d2) and on a dark page (~#3c3c3c)
    for _, colour in RATING_SCALE:
        for bar in (_luminance("#d2d2d2"), _luminance("#3c3c3c")):
            light, dark = sorted((_luminance(colour), bar), reverse=True)
            assert (light + 0.05) / (dark + 0.05) >= 1.8, colour
    timeline = analysis.patient_timeline(analysis.load_sample(), n_patients=20, seed=0)
    figure = figures.timeline_figure(timeline)
    names = [t.name for t in figure.data if t.name and t.showlegend is not False]
    # plotly lays a wrapped legend out in columns as wide as its widest entry: two at most at 800 px
    assert figure.layout.margin.t >= 42 + 21 * math.ceil(len(names) / 2)


def test_a_value_the_same_on_every_row_is_said_once_and_headers_are_whole():
    from dashboard.tables import HEADER_PX, column_label, shared_values_note

    ratings = pd.DataFrame({"instrument": ["CADSS", "MADRS"], "patients": [300, 26], "ratings": [2351, 150],
                            "last_time_hours": [1344.7, 1628.9], "patients_total": [300, 300],
                            "clock_time": [True, True], "note": ["", ""]})
    options = display_options(ratings)
    assert options["column_order"] == ["instrument", "patients", "ratings", "last_time_hours"]
    assert shared_values_note(ratings) == "Same on every row: Patients total 300; Clock time yes."
    # a count missing on every row (a Cox table's continuous covariates) is not said as "Events –"
    assert shared_values_note(ratings.assign(events=float("nan"))) == shared_values_note(ratings)
    assert set(options["data"].data.columns) == set(ratings.columns)  # the data and the CSV keep them
    for name in options["column_order"]:
        config = options["column_config"][name]
        assert config["width"] >= HEADER_PX * len(column_label(name)), name
    # one row is not "every row"; estimates and p-values always stay
    assert shared_values_note(ratings.iloc[:1]) is None
    cox = _cox_like().assign(p=[0.5, 0.5])
    assert "p" in display_options(cox)["column_order"]


def test_the_interval_after_sd_and_se_is_the_means():
    # analysis.trajectory's table: mean, sd, se, lower, upper (lower/upper: the mean's 95% CI)
    frame = pd.DataFrame({"time_point": ["baseline", "day 1"], "n": [300, 290], "mean": [33.97, 18.2],
                          "sd": [4.1, 8.3], "se": [0.24, 0.49], "lower": [33.51, 17.24], "upper": [34.44, 19.16]})
    options = display_options(frame)
    order = options["column_order"]
    assert "mean (95% CI)" in order and "se" in order and "se (95% CI)" not in order, order
    text = options["data"].to_string()
    assert "33.97 (33.51–34.44)" in text and "0.24 (" not in text


def test_shared_values_computed_once_give_the_same_table_and_note(monkeypatch):
    """show_table computes same_on_every_row once and passes it to display_options and
    shared_values_note: the same columns, order, widths, texts and note as each computing it."""
    from dashboard import tables

    ratings = pd.DataFrame({"instrument": ["CADSS", "MADRS"], "patients": [300, 26], "patients_total": [300, 300],
                            "clock_time": [True, True], "note": ["", ""]})
    cox = _cox_like().assign(n=[164, 164])  # a named index made a column: looked for again
    computed = tables.same_on_every_row
    calls: list[pd.DataFrame] = []
    for frame in (ratings, cox, ratings.iloc[:1]):
        expected_options, expected_note = display_options(frame), tables.shared_values_note(frame)
        shared = computed(frame)
        calls.clear()
        monkeypatch.setattr(tables, "same_on_every_row", lambda f: calls.append(f) or computed(f))
        options = display_options(frame, shared=shared)
        note = tables.shared_values_note(frame, shared=shared)
        monkeypatch.undo()
        assert len(calls) == (1 if frame is cox else 0)
        assert note == expected_note
        assert options["column_order"] == expected_options["column_order"]
        assert options["column_config"] == expected_options["column_config"]
        assert options["data"].to_string() == expected_options["data"].to_string()
        assert {k: v for k, v in options.items() if k not in ("data", "column_config")} == \
            {k: v for k, v in expected_options.items() if k not in ("data", "column_config")}
