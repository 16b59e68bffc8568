"""Intercurrent-event strategies in the durability endpoint, on a hand-built patient whose
answers are worked out by hand, plus validation of the strategy argument."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.endpoints import derive_endpoints
from analysis.intercurrent import DEFAULT_STRATEGIES, intercurrent_strategies
from tests.analysis.outcome_builders import make_data

# one infusion at 0 h; baseline 30; responds at 24 h (the durability origin); still responding at
# 168 h; relapse seen at 336 h -> interval (144 h, 312 h] after the origin = (6, 13] days
RATINGS = [("A", -1.0, 30.0, None), ("A", 24.0, 10.0, None), ("A", 168.0, 10.0, None),
           ("A", 336.0, 25.0, None), ("A", 504.0, 25.0, None)]


def with_events(rows, infusions=None):
    data = make_data(RATINGS, infusions)
    events = pd.DataFrame(rows, columns=["patient_id", "time_hours", "event"]).astype(
        {"patient_id": "string", "time_hours": float, "event": "string"})
    events["detail"] = pd.array([pd.NA] * len(events), dtype="string")
    return dataclasses.replace(data, events=events, _fingerprint=[])


def relapse_of(data, **options):
    p = derive_endpoints(data, **options).patients.iloc[0]
    return (p["relapse_lower_days"], p["relapse_upper_days"], p["relapse_time_days"], bool(p["relapse_event"]),
            int(p["relapse_status"]))


def test_no_event_is_the_plain_relapse_interval():
    assert relapse_of(make_data(RATINGS)) == pytest.approx((6.0, 13.0, 13.0, True, 1))


def test_rescue_strategies_by_hand():
    data = with_events([("A", 240.0, "rescue")])  # 216 h = 9 days after the origin
    assert relapse_of(data) == pytest.approx((6.0, 9.0, 9.0, True, 1))  # default: composite
    p = derive_endpoints(data).patients.iloc[0]
    assert p["intercurrent_event"] == "rescue" and p["intercurrent_days"] == pytest.approx(9.0)
    assert relapse_of(data, intercurrent={"rescue": "hypothetical"}) == pytest.approx((6.0, np.inf, 9.0, False, 0))
    assert relapse_of(data, competing="rescue") == pytest.approx((6.0, np.inf, 9.0, False, 2))
    # before the last relapse-free rating: the composite event is exact (known in response until then)
    early = with_events([("A", 96.0, "rescue")])  # 3 days after the origin, before the 168 h rating
    assert relapse_of(early) == pytest.approx((3.0, 3.0, 3.0, True, 1))


def test_events_before_the_origin_or_after_the_relapse_do_nothing():
    plain = relapse_of(make_data(RATINGS))
    assert relapse_of(with_events([("A", 12.0, "rescue")])) == pytest.approx(plain)
    assert relapse_of(with_events([("A", 400.0, "rescue")])) == pytest.approx(plain)
    assert relapse_of(with_events([("A", 240.0, "adverse_event")])) == pytest.approx(plain)  # ignored
    assert relapse_of(with_events([("A", 240.0, "my_label")])) == pytest.approx(plain)
    assert relapse_of(with_events([("A", 240.0, "my_label")]), intercurrent={"my_label": "composite"}) == \
        pytest.approx((6.0, 9.0, 9.0, True, 1))


def test_booster_infusion_after_the_series_is_an_intercurrent_event():
    # a second infusion 200 h after the first (over 7 days later): a booster, not a series
    data = make_data(RATINGS, [("A", 1, 0.0), ("A", 2, 200.0)])
    p = derive_endpoints(data).patients.iloc[0]
    assert (p["course"], p["n_series_infusions"], p["n_boosters"]) == ("single", 1, 1)
    assert relapse_of(data) == pytest.approx((6.0, 13.0, 13.0, True, 1))  # treatment policy
    b = 176 / 24
    assert relapse_of(data, intercurrent={"booster": "hypothetical"}) == pytest.approx((6.0, np.inf, b, False, 0))
    assert relapse_of(data, intercurrent={"booster": "composite"}) == pytest.approx((6.0, b, b, True, 1))
    # the same booster from the events table
    assert relapse_of(with_events([("A", 200.0, "booster")]), intercurrent={"booster": "composite"}) == \
        pytest.approx((6.0, b, b, True, 1))
    # a shorter gap makes the two infusions a series: origin = the later of response and the 2nd infusion
    series = derive_endpoints(data, series_gap_days=10).patients.iloc[0]
    assert series["course"] == "series" and series["durability_origin_hours"] == pytest.approx(200.0)


def test_strategies_are_validated_and_described():
    pairs = dict(intercurrent_strategies())
    assert pairs == DEFAULT_STRATEGIES
    assert dict(intercurrent_strategies(competing=["rescue", "discontinued"]))["discontinued"] == "competing"
    for bad in ({"booster": "competing"}, {"rescue": "treatment_policy"}, {"x": "maybe"}):
        with pytest.raises(ValueError, match="is not one of"):
            intercurrent_strategies(bad)
    text = " ".join(derive_endpoints(make_data(RATINGS), competing="rescue").settings.describe())
    assert "rescue a competing risk" in text and "booster ignored (treatment policy)" in text
