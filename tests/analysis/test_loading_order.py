"""The rating order used by loading (analysis.loading.validation._rating_order) against numpy's
four-key lexsort, a second implementation: rows by patient, instrument, time (missing last) and
item (total first), ties in file order, on random tables with missing codes, missing times and
repeated ratings, in file order grouped by patient and not."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.loading.validation import _rating_order


@pytest.mark.parametrize("grouped", [False, True])
def test_rating_order_equals_lexsort(grouped: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(100):
        n = int(rng.integers(2, 2000))
        patient = rng.integers(-1, 40, n).astype(np.int32)
        if grouped:
            patient.sort()
        instrument = rng.integers(-2, 3, n).astype(np.int32)
        time_hours = rng.choice([np.nan, -1.0, 0.0, 0.5, 24.0, 168.0], n)
        item = rng.choice([-1.0, 1.0, 2.0, 10.0], n)
        ranked = _rating_order(patient, instrument, time_hours, item)
        expected = np.lexsort((item, np.where(np.isnan(time_hours), np.inf, time_hours), instrument, patient))
        order = np.arange(n) if ranked.order is None else ranked.order
        np.testing.assert_array_equal(order, expected)
        if ranked.key is not None:
            p, i, t, k = ranked.decoded()
            np.testing.assert_array_equal(p, patient[order])
            np.testing.assert_array_equal(i, instrument[order])
            np.testing.assert_array_equal(t, time_hours[order])
            np.testing.assert_array_equal(k, np.where(item == -1, np.nan, item)[order])
            # Equal keys are exactly the repeated ratings (same patient, instrument, time and item).
            same = ranked.key[1:] == ranked.key[:-1]
            rows = np.stack([patient[order], instrument[order], np.nan_to_num(time_hours[order], nan=-9.0),
                             item[order]])
            np.testing.assert_array_equal(same, (rows[:, 1:] == rows[:, :-1]).all(axis=0))


def test_rows_already_in_order_are_not_sorted() -> None:
    patient = np.array([0, 0, 1, 1], dtype=np.int32)
    ranked = _rating_order(patient, np.zeros(4, dtype=np.int32), np.array([0.0, 1.0, 0.0, 2.0]), np.full(4, -1.0))
    assert ranked.order is None
