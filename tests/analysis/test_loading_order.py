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


@pytest.mark.parametrize("block_rows", [1 << 20, 7])
def test_groups_varying_equals_pandas_nunique(block_rows: int, monkeypatch) -> None:
    """Groups whose values differ (missing values ignored, rows without a group left out) against
    pandas' groupby nunique, a second implementation, on numbers, text and categoricals in random
    row order with missing values in groups' first rows."""
    from analysis.loading import validation
    from analysis.loading.validation import _Groups

    monkeypatch.setattr(validation, "_BLOCK_ROWS", block_rows)  # rows compared in blocks of 7
    rng = np.random.default_rng(11)
    for _ in range(60):
        n, n_groups = int(rng.integers(1, 400)), int(rng.integers(1, 30))
        codes = rng.integers(-1, n_groups, n)
        numbers = rng.choice([np.nan, 0.0, -0.0, 1.5, 2.0, np.inf], n, p=[0.3, 0.3, 0.1, 0.1, 0.1, 0.1])
        text = pd.Series(rng.choice(np.array(["a", "b", None, " a"], dtype=object), n, p=[0.6, 0.1, 0.2, 0.1]))
        # text is compared stripped (" a" = "a"), a categorical by its categories as they are
        for values, compared in ((pd.Series(numbers), pd.Series(numbers)), (text, text.str.strip()),
                                 (text.astype("category"), text)):
            groups = _Groups(codes, n_groups)
            expected = compared[codes >= 0].groupby(codes[codes >= 0]).nunique()
            np.testing.assert_array_equal(groups.varying(values), expected.index[expected > 1].to_numpy())


@pytest.mark.parametrize("case", ["whole", "negative_zero", "empty_score", "large", "missing_infusion"])
def test_rows_in_random_order_load_as_the_same_rows_in_order(case: str) -> None:
    """A file in random row order takes other paths (scores gathered as int16, infusion numbers
    as int32); the reference is the same rows in rating order, which are not gathered at all."""
    import analysis

    rng = np.random.default_rng(4)
    n_patients, times = 40, [-1.0, 4.0, 24.0, 168.0]
    frame = pd.DataFrame({
        "patient_id": np.repeat([f"P{p:03d}" for p in range(n_patients)], len(times)),
        "instrument": "CADSS" if case == "large" else "MADRS",
        "score": rng.integers(0, 40, n_patients * len(times)).astype(float),
        "time_hours": np.tile(times, n_patients),
        "infusion_number": pd.array(np.tile([np.nan, 1, 1, 2], n_patients), dtype="Float64").astype("Int64"),
        "infusion_time_hours": np.tile([np.nan, 0.0, 0.0, 96.0], n_patients),
    })
    if case == "negative_zero":
        frame.loc[frame["score"] < 5, "score"] = -0.0
    elif case == "empty_score":
        frame.loc[[3, 50, 77], "score"] = np.nan
    elif case == "large":  # scores int16 cannot hold are refused either way, with the same messages
        frame.loc[[7, 8], "score"] = 40_000.0
    elif case == "missing_infusion":
        frame.loc[frame.index[1::4][:5], ["infusion_number", "infusion_time_hours"]] = [pd.NA, np.nan]
    shuffled = frame.sample(frac=1.0, random_state=9).reset_index(drop=True)
    if case == "large":
        with pytest.raises(analysis.DataError) as in_order:
            analysis.load(frame)
        with pytest.raises(analysis.DataError) as random:
            analysis.load(shuffled)
        assert len(in_order.value.problems) == len(random.value.problems) == 2
        assert set(in_order.value.problems["message"]) == set(random.value.problems["message"])
        return
    expected, got = analysis.load(frame), analysis.load(shuffled)
    columns = [c for c in expected.assessments.columns if c != "source_row"]
    pd.testing.assert_frame_equal(got.assessments[columns], expected.assessments[columns], check_exact=True)
    np.testing.assert_array_equal(np.signbit(got.assessments["score"]), np.signbit(expected.assessments["score"]))
    pd.testing.assert_frame_equal(got.infusions, expected.infusions, check_exact=True)
    # source_row names the row of the shuffled file each rating came from
    source = shuffled.iloc[got.assessments["source_row"].to_numpy() - 1].reset_index(drop=True)
    np.testing.assert_array_equal(source["score"].to_numpy(), got.assessments["score"].to_numpy())
    assert (source["patient_id"].to_numpy() == got.assessments["patient_id"].to_numpy()).all()
