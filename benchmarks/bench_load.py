"""Benchmark: load and validate 2,000,000 assessment rows (100,000 patients x 20 ratings).

The data are written once to a temporary directory in the single-file form (ratings plus
patient- and infusion-level columns repeated on every row) as Parquet and as CSV. Each format is
then loaded in a fresh Python process, which reports its wall time and its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, checked against ``VmHWM`` in ``/proc/self/status``;
tracemalloc misses Arrow's allocations). The machine is shared: timings vary with its load.

Targets (issue 2): Parquet < 5 s, CSV < 15 s, peak memory < 2 GB.

Run: ``.venv/bin/python benchmarks/bench_load.py [--patients 100000]``.
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

N_PATIENTS = 100_000
RATINGS_PER_PATIENT = 20
# Hours since the first infusion: baseline, the infusion day, follow-up; MADRS and CADSS.
SCHEDULE = [(-1.0, "MADRS", "baseline"), (-1.0, "CADSS", "baseline"), (0.67, "CADSS", "40 min"),
            (0.67, "MADRS", "40 min"), (1.33, "MADRS", "80 min"), (1.83, "MADRS", "110 min"),
            (2.0, "CADSS", "2 h"), (3.83, "MADRS", "230 min"), (24.0, "MADRS", "day 1"),
            (48.0, "MADRS", "day 2"), (72.0, "MADRS", "day 3"), (72.67, "CADSS", "day 3 40 min"),
            (96.0, "MADRS", "day 4"), (168.0, "MADRS", "day 7"), (168.67, "CADSS", "day 7 40 min"),
            (240.0, "MADRS", "day 10"), (336.0, "MADRS", "day 14"), (504.0, "MADRS", "day 21"),
            (672.0, "MADRS", "day 28"), (672.0, "CADSS", "day 28")]
INFUSION_STARTS = np.array([0.0, 72.0, 168.0])
ROOT = Path(__file__).resolve().parent.parent
# Child processes see only the project (no site customisation from the caller's environment).
CHILD_ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}


def make_data(n_patients: int, seed: int = 0) -> pd.DataFrame:
    """Single-file form: one row per rating, patient and infusion columns repeated."""
    rng = np.random.default_rng(seed)
    k = len(SCHEDULE)
    times = np.tile([s[0] for s in SCHEDULE], n_patients)
    instrument = np.tile([s[1] for s in SCHEDULE], n_patients)
    visit = np.tile([s[2] for s in SCHEDULE], n_patients)
    patient = np.repeat(np.char.add("P", np.char.zfill(np.arange(1, n_patients + 1).astype(str), 6)), k)
    madrs = instrument == "MADRS"
    score = np.where(madrs, rng.integers(5, 50, len(times)), rng.integers(0, 40, len(times))).astype(float)
    number = np.searchsorted(INFUSION_STARTS, times, side="right").astype(float)
    number[number == 0] = np.nan
    infusion_time = np.where(np.isnan(number), np.nan, INFUSION_STARTS[np.nan_to_num(number).astype(int) - 1])
    diagnosis = np.repeat(rng.choice(["MDD", "TRD", "bipolar", "PTSD", "other"], n_patients), k)
    route = np.repeat(rng.choice(["IV", "IM", "intranasal"], n_patients, p=[0.8, 0.1, 0.1]), k)
    return pd.DataFrame({
        "patient_id": patient,
        "instrument": instrument,
        "score": score,
        "time_hours": times,
        "visit": visit,
        "infusion_number": pd.array(number, dtype="Float64").astype("Int64"),
        "infusion_time_hours": infusion_time,
        "dose_mg_per_kg": np.repeat(rng.choice([0.5, 0.75, 1.0], n_patients), k),
        "route": route,
        "age": np.repeat(rng.integers(18, 80, n_patients), k).astype(float),
        "sex": np.repeat(rng.choice(["F", "M"], n_patients), k),
        "diagnosis": diagnosis,
    })


CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas, pyarrow.csv, pyarrow.parquet, analysis, analysis.loading
t1 = time.perf_counter()
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
data = analysis.load(sys.argv[1])
seconds = time.perf_counter() - t1
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu_seconds = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
import_seconds = t1 - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:  # VmHWM: this process's own peak (ru_maxrss may carry over a larger parent's peak on Linux)
    status = open("/proc/self/status").read()
    peak_mb = min(peak_mb, int(status.split("VmHWM:")[1].split()[0]) / 1024)
except (OSError, IndexError, ValueError):
    pass
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "import_seconds": import_seconds, "peak_mb": peak_mb, "rows": len(data.assessments),
                  "patients": data.n_patients, "infusions": len(data.infusions)}))
"""


def measure(path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                            check=True, env=CHILD_ENV)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=N_PATIENTS)
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        frame = make_data(args.patients)
        frame.to_parquet(Path(args.write) / "ratings.parquet", index=False)
        frame.to_csv(Path(args.write) / "ratings.csv", index=False)
        return
    targets = {"parquet": 5.0, "csv": 15.0}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = {"parquet": Path(tmp) / "ratings.parquet", "csv": Path(tmp) / "ratings.csv"}
        # Generated in a child process so that this parent stays small (see CHILD's note on ru_maxrss).
        subprocess.run([sys.executable, __file__, "--write", tmp, "--patients", str(args.patients)], cwd=ROOT,
                       check=True, env=CHILD_ENV)
        print(f"{args.patients * RATINGS_PER_PATIENT:,} rows ({args.patients:,} patients x {RATINGS_PER_PATIENT} "
              f"ratings) written in {time.perf_counter() - start:.1f} s; CSV "
              f"{paths['csv'].stat().st_size / 1e6:.0f} MB, Parquet {paths['parquet'].stat().st_size / 1e6:.0f} MB")
        for fmt, path in paths.items():
            figures = measure(path)
            ok = figures["seconds"] < targets[fmt] and figures["peak_mb"] < 2048
            print(f"{fmt:8s} load+validate {figures['seconds']:6.2f} s (target < {targets[fmt]:.0f} s), "
                  f"(CPU {figures['cpu_seconds']:.2f} s; +{figures['import_seconds']:.1f} s imports), peak RSS {figures['peak_mb']:6.0f} MB (target < 2048 MB), {figures['rows']:,} ratings, "
                  f"{figures['patients']:,} patients, {figures['infusions']:,} infusions "
                  f"{'OK' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
