"""The rating order used by loading (analysis.loading.validation._rating_order) against numpy's
four-key lexsort, a second implementation: rows by patient, instrument, time (missing last) and
item (total first), ties in file order, on random tables with missing codes, missing times and
repeated ratings, in file order grouped by patient and not. Also what a file in random row order
changes in reading: labels sorted by Arrow against Python's sort, and Parquet ids stored as plain
strings (past the dictionary page) against pandas' own reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.loading.validation import _rating_order, _text_order
from analysis.readers import _plain_text, read_table


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


def test_text_order_is_pythons_order() -> None:
    """Many labels are sorted by Arrow (UTF-8 bytes); the reference is Python's own sort."""
    rng = np.random.default_rng(3)
    alphabet = list("aAzZ09 -_éÉßøΩЖ中😀\u00ff\u0100")
    labels = list({"".join(rng.choice(alphabet, int(rng.integers(1, 6)))) for _ in range(5000)})
    assert len(labels) > 1000  # the Arrow path
    expected = sorted(range(len(labels)), key=labels.__getitem__)
    np.testing.assert_array_equal(_text_order(labels), expected)
    np.testing.assert_array_equal(_text_order(labels[:50]), sorted(range(50), key=labels.__getitem__))


@pytest.mark.parametrize("shuffled", [False, True])
def test_parquet_ids_beyond_the_dictionary_page(tmp_path, shuffled: bool) -> None:
    """60,000 ids of 34 characters in one row group overflow the writer's 1 MiB dictionary page,
    so most are stored as plain strings and read through the other path; in row groups of 10,000
    sorted rows they are dictionary indices. Both read as pandas' own Parquet reader does (the
    reference)."""
    ids = np.array([f"SITE-{i % 7:02d}-SUBJECT-{i:08d}-X{i % 3}" for i in range(60_000)], dtype=object)
    values = np.repeat(ids, 2)
    if shuffled:
        values = values[np.random.default_rng(1).permutation(len(values))]
    values[[5, 77]] = None
    values[9] = "  padded id  "
    table = pa.table({"patient_id": pa.array(values, pa.string()), "score": np.arange(len(values), dtype=float)})
    path = tmp_path / "ids.parquet"
    pq.write_table(table, path, row_group_size=len(values) if shuffled else 10_000)
    metadata = pq.ParquetFile(path).metadata
    assert _plain_text(metadata, ["patient_id", "score"]) == ({"patient_id"} if shuffled else set())
    frame = read_table(path, "file").frame
    expected = pd.read_parquet(path)
    assert isinstance(frame["patient_id"].dtype, pd.CategoricalDtype)
    pd.testing.assert_series_equal(frame["patient_id"].astype(object), expected["patient_id"].astype(object))
    np.testing.assert_array_equal(frame["score"], expected["score"])
