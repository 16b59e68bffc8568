"""Benchmark: load and validate simulated patients with item rows (80 rows per patient: 20
total scores and the 10 MADRS items at 6 visits; 100,000 patients = 8.0 million rows).

The data are written once to a temporary directory in the single-file form (ratings plus
patient- and infusion-level columns repeated on every row) as Parquet, sorted by patient and
shuffled (rows in random order), and optionally as CSV. Each file is loaded in a fresh Python
process, which reports its wall time and peak resident memory (``ru_maxrss``, checked against
``VmHWM`` in ``/proc/self/status``; tracemalloc misses Arrow's allocations). With two sizes the
log-log slope of time against rows is printed (1 = linear). Peak RSS also counts memory freed but
kept by glibc's allocator: its mmap threshold rises (up to 32 MB) as large arrays are freed, and
later arrays below it are served from the heap and kept; a change of tens of MB in peak RSS can be
that alone (check with ``MALLOC_MMAP_THRESHOLD_=131072`` in the child's environment, which fixes
the threshold: then the peak follows the live arrays). ``--wide-excel N`` also times a wide
Excel file of N patients x 20 visits. The machine is shared: timings vary with its load.

Targets (issue 8): 100,000 patients under 5 s and 2 GB, slope near 1, shuffled no slower than
1.2x sorted; wide Excel 20,000 x 20 under 10 s.

Run: ``nice .venv/bin/python benchmarks/bench_load.py --patients 10000 100000 [--csv] [--wide-excel 20000]``.
``--reuse DIR`` keeps the data files in ``DIR/<patients>/`` and reads them again on the next run
(writing 8 million rows takes about a minute). ``--compare ROOT`` also loads each file with the
code in another checkout (e.g. ``git worktree add /tmp/before HEAD~1``), alternating the two in
the same minute, ``--repeat N`` times: timings on a shared machine drift, side by side they compare.
"""

from __future__ import annotations

import argparse
import json
import os
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
ITEM_VISITS = (-1.0, 3.83, 24.0, 168.0, 336.0, 672.0)  # MADRS items rated at these totals' times
ROWS_PER_PATIENT = RATINGS_PER_PATIENT + 10 * len(ITEM_VISITS)
ROOT = Path(__file__).resolve().parent.parent
# Child processes see only the project (no site customisation from the caller's environment).
CHILD_ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}


def make_data(n_patients: int, seed: int = 0) -> pd.DataFrame:
    """Single-file form: one row per rating (totals, then MADRS items), patient and infusion
    columns repeated, sorted by patient."""
    rng = np.random.default_rng(seed)
    totals = [(t, i, v, np.nan) for t, i, v in SCHEDULE]
    items = [(t, "MADRS", v, float(k)) for t, i, v in SCHEDULE if i == "MADRS" and t in ITEM_VISITS
             for k in range(1, 11)]
    schedule = totals + items
    k = len(schedule)
    times = np.tile([s[0] for s in schedule], n_patients)
    instrument = np.tile([s[1] for s in schedule], n_patients)
    visit = np.tile([s[2] for s in schedule], n_patients)
    item = np.tile([s[3] for s in schedule], n_patients)
    patient = np.repeat(np.char.add("P", np.char.zfill(np.arange(1, n_patients + 1).astype(str), 6)), k)
    madrs = instrument == "MADRS"
    score = np.where(np.isnan(item), np.where(madrs, rng.integers(5, 50, len(times)), rng.integers(0, 40, len(times))),
                     rng.integers(0, 7, len(times))).astype(float)
    number = np.searchsorted(INFUSION_STARTS, times, side="right").astype(float)
    number[number == 0] = np.nan
    infusion_time = np.where(np.isnan(number), np.nan, INFUSION_STARTS[np.nan_to_num(number).astype(int) - 1])
    diagnosis = np.repeat(rng.choice(["MDD", "TRD", "bipolar", "PTSD", "other"], n_patients), k)
    route = np.repeat(rng.choice(["IV", "IM", "intranasal"], n_patients, p=[0.8, 0.1, 0.1]), k)
    return pd.DataFrame({
        "patient_id": patient,
        "instrument": instrument,
        "item": pd.array(item, dtype="Float64").astype("Int64"),
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


def make_wide(n_patients: int, seed: int = 0) -> pd.DataFrame:
    """A clinic's wide sheet: one row per patient, MADRS at 20 visits (MADRS_baseline, MADRS 40 min,
    ..., MADRS day 28, MADRS week 8 ...), plus age, sex and diagnosis."""
    rng = np.random.default_rng(seed)
    labels = ["baseline", "40 min", "80 min", "110 min", "230 min", "day 1", "day 2", "day 3", "day 4", "day 5",
              "day 6", "day 7", "day 10", "day 14", "day 21", "day 28", "week 5", "week 6", "week 7", "week 8"]
    frame = pd.DataFrame({"patient_id": [f"P{i:06d}" for i in range(1, n_patients + 1)],
                          "age": rng.integers(18, 80, n_patients), "sex": rng.choice(["F", "M"], n_patients),
                          "diagnosis": rng.choice(["Major depressive disorder", "Bipolar II", "TRD"], n_patients)})
    for label in labels:
        frame[f"MADRS {label}"] = rng.integers(0, 61, n_patients)
    return frame


CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas, pyarrow.csv, pyarrow.parquet, analysis, analysis.loading
t1 = time.perf_counter()
def waited():  # seconds this (main) thread was runnable but waiting for a core (/proc/self/schedstat)
    try:
        return int(open("/proc/self/schedstat").read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")
cpu0, wait0 = resource.getrusage(resource.RUSAGE_SELF), waited()
data = analysis.load(sys.argv[1])
seconds = time.perf_counter() - t1
cpu1, wait1 = resource.getrusage(resource.RUSAGE_SELF), waited()
cpu_seconds = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
system_seconds = cpu1.ru_stime - cpu0.ru_stime
blocks_read = cpu1.ru_inblock - cpu0.ru_inblock
import_seconds = t1 - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:  # VmHWM: this process's own peak (ru_maxrss may carry over a larger parent's peak on Linux)
    status = open("/proc/self/status").read()
    peak_mb = min(peak_mb, int(status.split("VmHWM:")[1].split()[0]) / 1024)
except (OSError, IndexError, ValueError):
    pass
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "system_seconds": system_seconds,
                  "waited_seconds": wait1 - wait0, "blocks_read": blocks_read,
                  "import_seconds": import_seconds, "peak_mb": peak_mb, "rows": len(data.assessments),
                  "patients": data.n_patients, "infusions": len(data.infusions)}))
"""


def measure(path: Path, root: Path = ROOT) -> dict:
    """Load ``path`` in a fresh process running the code in ``root``: wall and CPU seconds, peak MB."""
    load_before = os.getloadavg()[0]
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=root, capture_output=True, text=True,
                            check=True, env=CHILD_ENV | {"PYTHONPATH": str(root)})
    # The machine's 1-minute load average around the load (2 cores: above 2, timings are inflated).
    return json.loads(result.stdout.strip().splitlines()[-1]) | {"load_average": (load_before, os.getloadavg()[0])}


def _line(label: str, figures: dict, target: float) -> str:
    ok = figures["seconds"] < target and figures["peak_mb"] < 2048
    return (f"{label:26s} {figures['seconds']:6.2f} s (target < {target:.0f} s; CPU {figures['cpu_seconds']:.2f} s of "
            f"which system {figures['system_seconds']:.2f} s, waited for a core {figures['waited_seconds']:.2f} s, "
            f"{figures['blocks_read']} blocks read from disk; "
            f"+{figures['import_seconds']:.1f} s imports), peak RSS {figures['peak_mb']:6.0f} MB, "
            f"{figures['rows']:,} ratings, {figures['patients']:,} patients {'OK' if ok else 'MISSED'} "
            f"(load average {figures['load_average'][0]:.1f} -> {figures['load_average'][1]:.1f})")


def _data_files(directory: Path, n_patients: int, csv: bool) -> None:
    """Write the sorted and shuffled files of ``n_patients`` into ``directory`` unless already there."""
    wanted = ["sorted.parquet", "shuffled.parquet"] + (["sorted.csv"] if csv else [])
    if all((directory / name).exists() for name in wanted):
        print(f"{n_patients:,} patients: files reused from {directory}")
        return
    directory.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # Generated in a child process so that this parent stays small (see CHILD's note on ru_maxrss).
    subprocess.run([sys.executable, __file__, "--write", str(directory), "--patients", str(n_patients)]
                   + (["--csv"] if csv else []), cwd=ROOT, check=True, env=CHILD_ENV)
    print(f"{n_patients * ROWS_PER_PATIENT:,} rows ({n_patients:,} patients x {ROWS_PER_PATIENT}) written in "
          f"{time.perf_counter() - start:.1f} s")


def _median(runs: list[dict]) -> dict:
    """The run with the median CPU time (its wall time and memory alongside)."""
    return sorted(runs, key=lambda r: r["cpu_seconds"])[len(runs) // 2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[N_PATIENTS])
    parser.add_argument("--csv", action="store_true", help="also time a CSV file")
    parser.add_argument("--wide-excel", type=int, default=0, help="patients in a wide Excel file (0: skip)")
    parser.add_argument("--reuse", type=Path, help="keep the data files here and reuse them")
    parser.add_argument("--compare", type=Path, help="also time the code in this checkout, side by side")
    parser.add_argument("--repeat", type=int, default=1, help="loads per file (and code); the median is shown")
    parser.add_argument("--write", help=argparse.SUPPRESS)
    parser.add_argument("--write-wide", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        frame = make_data(args.patients[0])
        frame.to_parquet(Path(args.write) / "sorted.parquet", index=False)
        frame.sample(frac=1.0, random_state=1).to_parquet(Path(args.write) / "shuffled.parquet", index=False)
        if args.csv:
            frame.to_csv(Path(args.write) / "sorted.csv", index=False)
        return
    if args.write_wide:
        make_wide(args.patients[0]).to_excel(Path(args.write_wide) / "wide.xlsx", index=False)
        return
    seconds_by_rows, cpu_by_rows = {}, {}
    roots = {"": ROOT} | ({f" [{args.compare}]": args.compare} if args.compare else {})
    for n_patients in args.patients:
        with tempfile.TemporaryDirectory() as tmp:
            directory = args.reuse / str(n_patients) if args.reuse else Path(tmp)
            _data_files(directory, n_patients, args.csv)
            rows = n_patients * ROWS_PER_PATIENT
            files = ["sorted.parquet", "shuffled.parquet"] + (["sorted.csv"] if args.csv else [])
            runs: dict[tuple[str, str], list[dict]] = {}
            for _ in range(args.repeat):  # alternating code and files, so that drift hits all alike
                for file in files:
                    for label, root in roots.items():
                        runs.setdefault((label, file), []).append(measure(directory / file, root))
            for label in roots:
                sorted_figures = _median(runs[(label, "sorted.parquet")])
                shuffled = _median(runs[(label, "shuffled.parquet")])
                print(_line("parquet, sorted" + label, sorted_figures, 5.0))
                print(_line("parquet, shuffled" + label, shuffled, 5.0)
                      + f"; {shuffled['seconds'] / sorted_figures['seconds']:.2f}x sorted (target <= 1.2x; CPU "
                      f"{shuffled['cpu_seconds'] / sorted_figures['cpu_seconds']:.2f}x)")
                if args.csv:
                    print(_line("csv, sorted" + label, _median(runs[(label, "sorted.csv")]), 15.0))
            sorted_figures = _median(runs[("", "sorted.parquet")])
            seconds_by_rows[rows] = sorted_figures["seconds"]
            cpu_by_rows[rows] = sorted_figures["cpu_seconds"]
    if len(seconds_by_rows) >= 2:
        sizes = sorted(seconds_by_rows)
        slope = np.polyfit(np.log(sizes), np.log([seconds_by_rows[s] for s in sizes]), 1)[0]
        cpu_slope = np.polyfit(np.log(sizes), np.log([cpu_by_rows[s] for s in sizes]), 1)[0]
        print(f"log-log slope of load time against rows, {sizes[0]:,} to {sizes[-1]:,}: {slope:.2f} (target ~1; "
              f"of CPU time {cpu_slope:.2f}, steadier on a shared machine)")
    if args.wide_excel:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, __file__, "--write-wide", tmp, "--patients", str(args.wide_excel)],
                           cwd=ROOT, check=True, env=CHILD_ENV)
            print(_line(f"wide Excel {args.wide_excel:,} x 20", measure(Path(tmp) / "wide.xlsx"), 10.0))


if __name__ == "__main__":
    main()
