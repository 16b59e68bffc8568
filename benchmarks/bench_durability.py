"""Speed of the durability headline and the in-response curve at dashboard sizes (issue 10, Speed).

Times ``fit_durability`` (ungrouped, ``by="diagnosis"``, ``by="course"``; each group whose
headline falls back to the Turnbull NPMLE refits it on ``n_bootstrap`` resamples) and
``fit_response_state`` (two NPMLEs per resample) on ``analysis.simulate(n_patients=n, seed=1)``.
Target: each call under about 3 s at 20,000 patients (the Overview, Durability and Compare pages'
first render). The Overview draws ``fit_response_state(n_bootstrap=0)`` (the curve and its points)
at once and computes the 200-resample band in the background (dashboard/background.py): its row
is the page's share of the first render, the full call's row the band's wait. Wall and CPU seconds
(medians of ``--repeat`` runs, each run in a fresh process with the data simulated once), with the
1-minute load average (the machine is shared: CPU seconds are what other work does not inflate),
and the headline estimator per row. ``--compare ROOT`` also times the code in another checkout
(e.g. ``git archive HEAD | tar -x -C /tmp/before``), alternating the two run by run.

Run: ``nice .venv/bin/python benchmarks/bench_durability.py --patients 20000 --repeat 3
[--calls fit_durability "fit_response_state(n_bootstrap=0)"] [--compare /tmp/before]`` (default
sizes 300 3000 20000; ``--calls``: only these calls, named as printed).

Before/after, 2 December 2026 (commit 75e5bff, Turnbull NPMLE: one BLAS thread, SQUAREM EM
cycles before the Newton iterations, stabbing start by look-ups), ``--patients 20000 --repeat 3
--compare`` a checkout of 7c8fe3d (before it); 2 shared cores at load average 30, so the wall
seconds are inflated several times over; CPU seconds compare (the first call includes imports):

    call                                   before wall / CPU s   after wall / CPU s
    fit_durability                             59.27 / 8.48         14.04 / 1.26
    fit_durability(by='diagnosis')             34.99 / 3.39          6.00 / 0.48
    fit_durability(by='course')                52.25 / 5.37          2.65 / 0.33
    fit_response_state(n_bootstrap=0)           9.67 / 0.83          2.54 / 0.40
    fit_durability(by='course', turnbull)     171.70 / 29.62       128.97 / 15.80  (--repeat 1)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZES = (300, 3_000, 20_000)
ROOT = Path(__file__).resolve().parents[1]


def calls_of(data: Any) -> list[tuple[str, Callable[[], Any]]]:
    import analysis

    return [
        ("fit_durability", lambda: analysis.fit_durability(data)),
        ("fit_durability(by='diagnosis')", lambda: analysis.fit_durability(data, by="diagnosis")),
        ("fit_durability(by='course')", lambda: analysis.fit_durability(data, by="course")),
        ("fit_durability(by='course', turnbull)",
         lambda: analysis.fit_durability(data, by="course", estimator="turnbull")),
        ("fit_response_state(n_bootstrap=0)", lambda: analysis.fit_response_state(data, n_bootstrap=0)),
        ("fit_response_state", lambda: analysis.fit_response_state(data)),
        ("fit_response_state(by='course')", lambda: analysis.fit_response_state(data, by="course")),
    ]


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds and CPU seconds (this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def worker(n: int, names: list[str]) -> None:
    """One run of the chosen calls on n patients with the ``analysis`` on sys.path; JSON lines out."""
    import analysis

    data = analysis.simulate(n_patients=n, seed=1)
    for name, call in calls_of(data):
        if names and name not in names:
            continue
        result, wall, cpu = timed(call)
        summary = result.summary()
        what = ""
        if "estimator" in summary:
            what = ", ".join(f"{e} {m:.2f}" for e, m in zip(summary["estimator"], summary["median_days"], strict=True))
        print(json.dumps({"call": name, "wall": wall, "cpu": cpu, "load": os.getloadavg()[0], "what": what}),
              flush=True)


def run(root: Path, n: int, names: list[str]) -> list[dict[str, Any]]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n), "--calls", *names]
    done = subprocess.run(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True,
                          capture_output=True, text=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main(sizes: list[int], repeat: int, names: list[str], compare: Path | None) -> None:
    roots = [("after" if compare else "code", ROOT)] + ([("before", compare)] if compare else [])
    print(f"{'n':>7} {'call':<38} {'code':<6} {'wall_s':>7} {'cpu_s':>7} {'load1':>5}  estimator / median_days "
          f"(medians of {repeat})")
    for n in sizes:
        runs: dict[str, list[list[dict[str, Any]]]] = {label: [] for label, _ in roots}
        for _ in range(repeat):  # the codes alternate, so both see the same load
            for label, root in roots:
                runs[label].append(run(root, n, names))
        for position, first in enumerate(runs[roots[0][0]][0]):
            for label, _ in roots:
                rows = [r[position] for r in runs[label]]
                print(f"{n:>7} {first['call']:<38} {label:<6} {statistics.median(r['wall'] for r in rows):>7.2f} "
                      f"{statistics.median(r['cpu'] for r in rows):>7.2f} "
                      f"{statistics.median(r['load'] for r in rows):>5.1f}  {rows[0]['what']}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", help=argparse.SUPPRESS)  # the older positional form
    parser.add_argument("--patients", type=int, nargs="+", help="simulated patients (default 300 3000 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each call (fresh processes); medians shown")
    parser.add_argument("--calls", nargs="*", default=[], help="only these calls (named as printed)")
    parser.add_argument("--compare", type=Path, help="also time the code in this checkout, alternating")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        worker(arguments.worker, arguments.calls)
    else:
        main(arguments.patients or arguments.sizes or list(SIZES), arguments.repeat, arguments.calls,
             arguments.compare)
