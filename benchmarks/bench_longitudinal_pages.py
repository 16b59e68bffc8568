"""The library calls behind the Trajectories and Symptoms pages, timed one by one on a simulated
dataset with the dashboard's default settings (no grouping, MADRS, the default endpoint options),
in the order the pages make them.

First the work every call shares, timed apart: the dataset's fingerprint (contract.py) and
derive_endpoints (endpoints.py; cached by fingerprint and settings, as in the dashboard's
process). Then each call on its own with that cache warm (no result shared between calls),
like a page's first render after another page derived the endpoints. The machine's load average is printed with the figures: other
work shares the 2 cores, so treat the seconds as indicative.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_longitudinal_pages.py [--patients 20000]
     [--seed 1] [--calls trajectory_visit,fit_trajectory_piecewise,...] [--repeats 1]
     [--profile CALL]   (cProfile of one call, top 25 by cumulative time)
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import analysis
from dashboard.state import Settings


def page_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (analysis function, keyword arguments), as the pages call them by default."""
    settings = Settings()
    options = settings.endpoint_options()
    by = settings.by
    return {
        "trajectory_visit": ("trajectory", {"by": by, "time": "visit", "value": "score", **options}),
        "fit_trajectory_piecewise": ("fit_trajectory", {"by": by, "random": "~time", "time_origin": "first_infusion",
                                                        "time_effect": "piecewise", **options}),
        "trajectory_days": ("trajectory", {"by": by, "time": "days", **options}),
        "visit_schedule": ("visit_schedule", dict(options)),
        "fit_mmrm": ("fit_mmrm", {"by": by, "covariance": "unstructured", **options}),
        "suicidality_course": ("suicidality_course", {"instrument": settings.instrument, "by": by, "time": "days"}),
        "dissociation_response": ("dissociation_response", {"by": by, **options}),
        "response_phenotypes": ("response_phenotypes", {"by": by, **options}),
    }


def timed(function: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", default="", help="comma-separated names (default: all)")
    parser.add_argument("--repeats", type=int, default=1, help="best of N runs per call")
    parser.add_argument("--profile", default="", help="cProfile this call instead of timing")
    args = parser.parse_args(argv)
    calls = page_calls()
    chosen = [c for c in args.calls.split(",") if c] or list(calls)
    unknown = [c for c in chosen + ([args.profile] if args.profile else []) if c not in calls]
    if unknown:
        parser.error(f"unknown call(s) {unknown}; choose from {list(calls)}")
    start = time.perf_counter()
    data = analysis.simulate(n_patients=args.patients, seed=args.seed)  # as dashboard/compute.py _make_dataset
    print(f"simulate(n_patients={args.patients}, seed={args.seed}): {time.perf_counter() - start:.2f} s")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    start = time.perf_counter()
    _ = data.fingerprint
    print(f"{'(shared) data.fingerprint':<28s} {time.perf_counter() - start:7.2f} s")
    start = time.perf_counter()
    analysis.derive_endpoints(data, **Settings().endpoint_options())
    print(f"{'(shared) derive_endpoints':<28s} {time.perf_counter() - start:7.2f} s")
    if args.profile:
        function, kwargs = calls[args.profile]
        profiler = cProfile.Profile()
        profiler.runcall(getattr(analysis, function), data, **kwargs)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        return 0
    total = 0.0
    for name in chosen:
        function, kwargs = calls[name]
        seconds = timed(functools.partial(getattr(analysis, function), data, **kwargs), args.repeats)
        total += seconds
        print(f"{name:<28s} {seconds:7.2f} s", flush=True)
    print(f"{'total':<28s} {total:7.2f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
