"""Benchmark: a 2-million-row SDTM QS dataset (SAS XPORT) read through analysis.cdisc and loaded.

The QS dataset is generated once in a temporary folder: patients x 10 visits (study days -1, 1,
2, 3, 8, 15, 22, 29, 36, 43; day -1 flagged QSBLFL) x the 10 MADRS items and the total (QSTESTCD
MADRS101 ... MADRS111), written with ``pyreadstat.write_xport`` (version 5) next to a DM dataset
and an EX dataset of six doses per patient (study days 1, 3, 5, 8, 10, 12; no rating follows the
day-5 and day-10 doses before the next one).
One fresh Python process then times (wall clock, and CPU time of the process) the three steps: reading the XPT files (pyreadstat), the
conversion to the long form (``cdisc.to_long``) and validation (``analysis.load``). The machine
is shared: timings vary with its load.

Target (issue 8): under 10 s for the whole load.

Run: ``nice .venv/bin/python benchmarks/bench_cdisc.py [--rows 2000000]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

STUDY_DAYS = np.array([-1, 1, 2, 3, 8, 15, 22, 29, 36, 43], dtype="float64")
DOSE_DAYS = np.array([1, 3, 5, 8, 10, 12], dtype="float64")  # a six-infusion series (EX)
CODES = [f"MADRS1{i:02d}" for i in range(1, 12)]
TESTS = [f"MADRS1-Item {i:02d}" for i in range(1, 11)] + ["MADRS1-Total Score"]
ROOT = Path(__file__).resolve().parent.parent
CHILD_ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}


def write_study(folder: Path, rows: int, seed: int = 1) -> int:
    """Write qs.xpt (about ``rows`` rows) and dm.xpt; returns the number of QS rows."""
    import pyreadstat

    per_patient = len(STUDY_DAYS) * len(CODES)
    patients = max(1, rows // per_patient)
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 7, size=(patients, len(STUDY_DAYS), 10)).astype("float64")
    scores = np.concatenate([items, items.sum(axis=2, keepdims=True)], axis=2).reshape(-1)
    ids = np.array([f"BENCH-{p:06d}" for p in range(patients)], dtype=object)
    n = len(scores)
    visit_of_row = np.tile(np.repeat(np.arange(len(STUDY_DAYS)), len(CODES)), patients)
    qs = pd.DataFrame({
        "STUDYID": "BENCH01",
        "DOMAIN": "QS",
        "USUBJID": np.repeat(ids, per_patient),
        "QSSEQ": np.tile(np.arange(1, per_patient + 1, dtype="float64"), patients),
        "QSTESTCD": np.tile(np.array(CODES, dtype=object), patients * len(STUDY_DAYS)),
        "QSTEST": np.tile(np.array(TESTS, dtype=object), patients * len(STUDY_DAYS)),
        "QSCAT": "MADRS",
        "QSSTRESN": scores,
        "QSBLFL": np.where(visit_of_row == 0, "Y", ""),
        "VISIT": np.array([f"DAY {int(d)}" for d in STUDY_DAYS], dtype=object)[visit_of_row],
        "QSDY": STUDY_DAYS[visit_of_row],
    })
    pyreadstat.write_xport(qs, str(folder / "qs.xpt"), table_name="QS", file_format_version=5)
    dm = pd.DataFrame({"STUDYID": "BENCH01", "USUBJID": ids, "AGE": rng.integers(18, 80, patients).astype(float),
                       "SEX": rng.choice(["F", "M"], patients), "ARM": "Ketamine"})
    pyreadstat.write_xport(dm, str(folder / "dm.xpt"), table_name="DM", file_format_version=5)
    ex = pd.DataFrame({"STUDYID": "BENCH01", "USUBJID": np.repeat(ids, len(DOSE_DAYS)), "EXTRT": "KETAMINE",
                       "EXDOSE": 0.5, "EXDOSU": "mg/kg", "EXROUTE": "INTRAVENOUS",
                       "EXSTDY": np.tile(DOSE_DAYS, patients)})
    pyreadstat.write_xport(ex, str(folder / "ex.xpt"), table_name="EX", file_format_version=5)
    return n


CHILD = r"""
import json, sys, time
import analysis
from analysis import cdisc
t1, c1 = time.perf_counter(), time.process_time()
frames = cdisc.read(sys.argv[1])
t2 = time.perf_counter()
long_frame, notes = cdisc.to_long(frames)
t3 = time.perf_counter()
data = analysis.load(long_frame)
t4, c4 = time.perf_counter(), time.process_time()
print(json.dumps({"rows": len(frames["QS"]), "ratings": len(data.assessments), "patients": data.n_patients,
                  "infusions": len(data.infusions),
                  "read_s": t2 - t1, "to_long_s": t3 - t2, "load_s": t4 - t3, "total_s": t4 - t1,
                  "cpu_s": c4 - c1}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        n = write_study(folder, args.rows)
        size_mb = (folder / "qs.xpt").stat().st_size / 1e6
        print(f"wrote QS: {n:,} rows, {size_mb:.0f} MB XPT in {time.perf_counter() - start:.1f} s")
        result = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True,
                                env=CHILD_ENV, cwd=ROOT, check=False)
        if result.returncode != 0:
            print(result.stderr[-3000:])
            raise SystemExit(result.returncode)
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"read XPT {figures['read_s']:.2f} s + to_long {figures['to_long_s']:.2f} s + analysis.load "
              f"{figures['load_s']:.2f} s = {figures['total_s']:.2f} s for {figures['rows']:,} QS rows "
              f"({figures['patients']:,} patients, {figures['ratings']:,} ratings, {figures['infusions']:,} "
              f"infusions), CPU {figures['cpu_s']:.2f} s; "
              "target < 10 s")


if __name__ == "__main__":
    main()
