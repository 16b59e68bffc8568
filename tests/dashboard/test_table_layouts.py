"""display_options lays a table out once per content (a warm run shows the same results) and
gives every call its own Styler over the caller's own frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import tables


def _durability_like(shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"group": ["IV", "IM", "oral"], "n": [120, 80, 40],
                         "median_days": [21.5 + shift, 18.0, np.nan], "median_days_lower": [18.0, 14.5, 10.0],
                         "median_days_upper": [25.0, np.nan, np.nan], "p": [0.012, 0.3, 0.9],
                         "note": ["", "", "fewer than twenty patients responded in this group, so its median is wide"]})


@pytest.fixture
def layouts(monkeypatch: pytest.MonkeyPatch) -> list[pd.DataFrame]:
    """The frames laid out (tables._layout called), in a cache emptied for the test."""
    monkeypatch.setattr(tables, "_LAYOUTS", type(tables._LAYOUTS)())
    laid_out: list[pd.DataFrame] = []
    original = tables._layout
    monkeypatch.setattr(tables, "_layout", lambda frame, *args: laid_out.append(frame) or original(frame, *args))
    return laid_out


def _same_options(first: dict, second: dict) -> None:
    assert first["data"].to_string() == second["data"].to_string()
    assert {k: v for k, v in first.items() if k != "data"} == {k: v for k, v in second.items() if k != "data"}


def test_a_table_shown_again_is_laid_out_once_with_the_same_options(layouts):
    first = tables.display_options(_durability_like())
    again = tables.display_options(_durability_like())  # an equal frame (a warm run's result)
    assert len(layouts) == 1
    _same_options(first, again)
    assert first["data"] is not again["data"]  # Streamlit's drawing changes a Styler: one each
    assert "21.5 (18.0–25.0)" in again["data"].to_string()


def test_another_content_is_laid_out_anew(layouts):
    tables.display_options(_durability_like())
    changed = tables.display_options(_durability_like(shift=1.0))
    assert len(layouts) == 2 and "22.5 (18.0–25.0)" in changed["data"].to_string()
    tables.display_options(_durability_like(), help_text={"n": "patients in the group"})
    tables.display_options(_durability_like().rename(columns={"note": "comment"}))
    assert len(layouts) == 4
    # objects hash as their text: 1 and '1' alike, told apart by the column's kind
    tables.display_options(pd.DataFrame({"label": [1, "x"]}))
    shown = tables.display_options(pd.DataFrame({"label": ["1", "x"]}))
    assert len(layouts) == 6 and shown["data"].data["label"].tolist() == ["1", "x"]


def test_options_changed_by_a_caller_leave_the_layout_kept(layouts):
    frame = _durability_like()
    options = tables.display_options(frame)
    options["column_order"].append("n")
    options["column_config"]["note"] = "changed"
    again = tables.display_options(frame)
    assert again["column_order"].count("n") == 1 and again["column_config"]["note"] != "changed"
    assert len(layouts) == 1


def test_the_styler_is_over_the_callers_frame_and_long_tables_are_not_kept(layouts):
    cox = pd.DataFrame({"label": ["Dose, per 0.1 mg/kg"], "hr": [0.62], "hr_lower": [0.41], "hr_upper": [0.93]},
                       index=pd.Index(["first_dose_mg_per_kg"], name="term"))
    tables.display_options(cox)
    options = tables.display_options(cox)
    assert options["hide_index"] is True and options["data"].data["term"].tolist() == ["first_dose_mg_per_kg"]
    assert options["data"].data["hr"].tolist() == [0.62] and len(layouts) == 1
    long = pd.DataFrame({"patient_id": [f"P{i}" for i in range(tables.STYLED_ROWS + 1)]})
    tables.display_options(long)
    tables.display_options(long)
    assert len(layouts) == 3 and len(tables._LAYOUTS) == 1
