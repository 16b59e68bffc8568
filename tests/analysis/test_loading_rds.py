"""R data files (.rds, .RData) read through pyreadr, without R, along the same mapping path as
every other format.

The embedded file was written by R 4.2 (``saveRDS``, gzip-compressed) with this script::

    ratings <- data.frame(
      patient_id = c("P01", "P01", "P02", "P02"),
      instrument = c("MADRS", "MADRS", "MADRS", "MADRS"),
      score = c(30, 12, 0, 4),
      time_hours = c(-1, 24, -1, 24),
      sex = factor(c("F", "F", "M", "M")),
      age = c(41L, 41L, 35L, 35L),
      stringsAsFactors = FALSE
    )
    saveRDS(ratings, "ratings_r.rds")
    print(ratings)

which printed::

      patient_id instrument score time_hours sex age
    1        P01      MADRS    30         -1   F  41
    2        P01      MADRS    12         24   F  41
    3        P02      MADRS     0         -1   M  35
    4        P02      MADRS     4         24   M  35
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.contract import DataError

pyreadr = pytest.importorskip("pyreadr")

R_MADE_RDS = base64.b64decode(
    "H4sIAAAAAAAAA4vgYmBgYGZgYWJiYGYFMhlYQ0PcdC2AYsJADhsQCwAxCxByghQGGBhiZRohM1H1sPo6ugQFE8thYOAD6XWwYwAD"
    "Bw0GFOAgAGeC1e3/ABW3gNDofKCLeMFuYWBghGImCGZhAvMhlrPlpJal5hRDXc4EFWV0gzF80dSzJuckFsOUww1JS0wuyS8Csv4B"
    "McxaTShWhmBUY/ISc1NhxrBBBbkKEksyU/NK4jNTYCKZecUlRaW5QEGYxuLk/KJUmHRJZm5qfEZ+aVExLBaKUytgzMT0VIitTP/R"
    "3MuVkliSqJdWBHQDmrs4i/LL9WBuA3mEqQFI/P///w/IcwDoyKQ2MwIAAA==")


def test_an_rds_file_written_by_r_loads_as_r_printed_it(tmp_path: Path):
    path = tmp_path / "ratings_r.rds"
    path.write_bytes(R_MADE_RDS)
    data = analysis.load(path)
    ratings = data.assessments
    assert list(ratings["patient_id"]) == ["P01", "P01", "P02", "P02"]
    assert list(ratings["score"]) == [30.0, 12.0, 0.0, 4.0]  # the 0 stays 0
    assert list(ratings["time_hours"]) == [-1.0, 24.0, -1.0, 24.0]
    assert list(ratings["source_row"]) == [1, 2, 3, 4]
    patients = data.patients.set_index("patient_id")
    assert patients.loc["P01", "sex"] == "F" and patients.loc["P02", "sex"] == "M"  # an R factor
    assert patients.loc["P01", "age"] == 41 and patients.loc["P02", "age"] == 35
    assert data.n_patients == 2  # the patient whose baseline is 0 is kept


def test_rds_written_by_pyreadr_loads_like_the_same_table_as_csv(tmp_path: Path):
    rng = np.random.default_rng(8)
    n = 40
    frame = pd.DataFrame({"patient_id": np.repeat([f"K{i:03d}" for i in range(10)], 4),
                          "instrument": "MADRS", "score": rng.integers(0, 61, n).astype(float),
                          "time_days": np.tile([-1.0, 1.0, 7.0, 14.0], 10),
                          "diagnosis": np.repeat(rng.choice(["Major depressive disorder", "Bipolar II"], 10), 4)})
    pyreadr.write_rds(str(tmp_path / "ratings.rds"), frame)
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    from_r, from_csv = analysis.load(tmp_path / "ratings.rds"), analysis.load(tmp_path / "ratings.csv")
    pd.testing.assert_frame_equal(from_r.assessments, from_csv.assessments)
    pd.testing.assert_frame_equal(from_r.patients, from_csv.patients)
    assert set(from_r.patients["diagnosis"]) <= {"MDD", "bipolar"}
    assert from_r.mapping.columns == from_csv.mapping.columns  # the same mapping step


# Written by R 4.2: a <- data.frame(x = 1:3); b <- data.frame(y = c("u", "v")); save(a, b, file = "two.RData")
R_MADE_RDATA = base64.b64decode(
    "H4sIAAAAAAAAAwtyiTDmiuBiYGBgZmBhYmJgZgUyGVhDQ9x0LRiAIkAOIwMLAyeITgQqEgYLMDC8A2JkSb7k/NyCxOSS+My8kuLU"
    "QjRZlqTE4lSoGC/UBBD9D6QTZLcDBwMY2H9ApSFqUJzBmpeYm1oMZAggu60CXVVyTmIxuiqulMSSRL20IqABaMo5i/LL9WAGg1zG"
    "1AAk/v///xeLCxiTkAJCAOwtqEQpjFEG0cLyH92dlRAJVnQJDKex/UdzyT9oeP0DANQXiZGzAQAA")


def test_rdata_with_several_frames_reads_the_first_or_the_named_one(tmp_path: Path):
    from analysis.readers import read_table

    path = tmp_path / "two.RData"
    path.write_bytes(R_MADE_RDATA)
    first = read_table(path, "file")
    assert list(first.frame["x"]) == [1, 2, 3] and "holds 2 data frames; read 'a'" in first.notes[0]
    named = read_table(path, "file", sheet="b")
    assert list(named.frame["y"]) == ["u", "v"]
    assert list(read_table(path, "file", sheet=1).frame["y"]) == ["u", "v"]
    with pytest.raises(DataError, match="no data frame 'c'; it holds 'a', 'b'"):
        read_table(path, "file", sheet="c")
    ratings = pd.DataFrame({"patient_id": ["A", "A"], "instrument": "MADRS", "score": [20.0, 9.0],
                            "time_hours": [0.0, 24.0]})
    pyreadr.write_rdata(str(tmp_path / "ratings.RData"), ratings, df_name="ratings")
    assert list(analysis.load(tmp_path / "ratings.RData").assessments["score"]) == [20.0, 9.0]


def test_damaged_rds_is_refused_in_words(tmp_path: Path):
    path = tmp_path / "broken.rds"
    path.write_bytes(R_MADE_RDS[:60])
    with pytest.raises(DataError, match="looks like an R data file but cannot be read"):
        analysis.load(path)
