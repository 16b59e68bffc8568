"""Hostile files, generated at test time, each answered in words within seconds by the upload
worker, while the server process stays responsive and small.

A bystander thread in this (the "server") process ticks every 50 ms while each file is read: a
gap over 1 s would mean the reading held this process. Its memory (VmHWM growth) must stay under
the stated cap: the reading happens in the worker, whose own limits stop it.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from analysis.contract import DataError
from dashboard.serve import memory_mb
from dashboard.upload_worker import UploadLimits, read_upload
from tests.security.corpus import HOSTILE

SERVER_GROWTH_CAP_MB = 300  # the server process may grow by at most this while reading
ANSWER_WITHIN_S = 30


class _Bystander:
    """Ticks every 50 ms; records the longest gap (a held GIL or a swapped process shows)."""

    def __init__(self) -> None:
        self.longest_gap_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def _tick(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(0.05):
            now = time.perf_counter()
            self.longest_gap_s = max(self.longest_gap_s, now - last)
            last = now

    def __enter__(self) -> _Bystander:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_is_answered_in_words(name):
    make, expected = HOSTILE[name]
    content = make()
    before_mb = memory_mb(field="VmHWM")
    with _Bystander() as bystander:
        start = time.perf_counter()
        try:
            data = read_upload([(name, content)])
        except DataError as error:
            answer = str(error)
        else:
            answer = f"loaded {data.n_patients} patients"
        elapsed = time.perf_counter() - start
    del content
    assert elapsed < ANSWER_WITHIN_S, f"{name}: answered after {elapsed:.1f} s"
    assert bystander.longest_gap_s < 1.0, f"{name}: the server process stalled {bystander.longest_gap_s:.2f} s"
    growth = memory_mb(field="VmHWM") - before_mb
    assert growth < SERVER_GROWTH_CAP_MB + 0, f"{name}: server process grew {growth:.0f} MB"
    assert expected in answer, answer
    if not answer.startswith("loaded"):  # in words: a sentence, not an exception type alone
        assert len(answer.split()) >= 5, answer


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("INFUSION_OUTCOMES_MAX_ROWS", "10")
    # a generous wall time: starting the worker and its imports take seconds on a loaded machine
    monkeypatch.setenv("INFUSION_OUTCOMES_UPLOAD_TIMEOUT_S", "120")
    limits = UploadLimits.from_env()
    assert limits.max_rows == 10 and limits.timeout_s == 120.0
    rows = "patient_id,time_hours,instrument,score\n" + "".join(f"p{i},0,MADRS,20\n" for i in range(20))
    with pytest.raises(DataError, match="20 lines"):
        read_upload([("rows.csv", rows.encode())], limits=limits)
    monkeypatch.setenv("INFUSION_OUTCOMES_MAX_ROWS", "many")
    with pytest.raises(ValueError, match="INFUSION_OUTCOMES_MAX_ROWS"):
        UploadLimits.from_env()


def test_memory_and_time_limits_stop_the_worker():
    """A file that passes the metadata checks but needs more than the memory budget, and one
    that needs more than the wall time, are stopped and said so."""
    rows = 200_000
    frame = pd.DataFrame({"patient_id": [f"p{i % 5000}" for i in range(rows)], "time_hours": np.arange(rows) % 500,
                          "instrument": "MADRS", "score": 20})
    content = frame.to_csv(index=False).encode()
    tight = UploadLimits(memory_mb=40)
    with pytest.raises(DataError, match="memory"):
        read_upload([("big.csv", content)], limits=tight)
    hurried = UploadLimits(timeout_s=0.5)
    with pytest.raises(DataError, match="took longer than 0.5 s"):  # only the wall-time stop says this
        read_upload([("big.csv", content)], limits=hurried)


def test_a_valid_file_loads_through_the_worker():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data/sample/single_file.csv"
    data = read_upload([(path.name, path.read_bytes())])
    assert data.n_patients == 300


def test_longest_field_matches_a_plain_split():
    """The vectorised scan against a second implementation (split on every delimiter)."""
    import re

    from dashboard.upload_worker import _longest_field

    rng = np.random.default_rng(7)
    for _ in range(200):
        content = bytes(rng.choice(list(b"ab,;\t|\r\nxyz"), size=int(rng.integers(0, 300))).astype(np.uint8))
        expected = max((len(p) for p in re.split(rb"[,;\t|\r\n]", content)), default=0)
        assert _longest_field(content, chunk_size=int(rng.integers(1, 50))) == expected
