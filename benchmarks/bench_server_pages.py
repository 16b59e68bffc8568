"""Every page's server-side script time, cold and warm, in-process with Streamlit's AppTest (no
browser): what the server adds to a page's first render (benchmarks/bench_pages.py measures the
whole, in Chromium).

The dataset is loaded first by a run of the Data page (not timed). Then per page:

- cold: the page's first run (its results computed), either in the order bench_pages visits the
  pages (``--order sequence``: a page reuses what earlier pages computed, e.g. the endpoints) or
  each page on its own with every cached result (and the library's cached endpoints) let go of
  first (``--order isolated``: a user landing on the page from a link);
- ready: once the background jobs the cold run started have finished (their wall seconds printed
  as "jobs"), the page run again: drawn whole, the jobs' results from the cache, the rest computed;
- warm: the same page run again in the same session (results from the caches).

Wall seconds of the run and CPU seconds of the page script in its own thread (a background job's
CPU, in its thread, is not counted) are printed with the load average; the machine is shared, so
compare CPU seconds. After each page, the MB the process-wide result store holds (what the pages
visited so far keep cached: run with a large INFUSION_OUTCOMES_RESULT_CACHE_MB to see what a tour
needs, nothing let go) and the process's resident memory. The sidebar (app.py before the page) is in the wall time only. ``--profile PAGE`` prints the cProfile of that page's cold run
(top 30 by cumulative time); with ``--profile-run warm``, of its warm run.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_server_pages.py [--dataset simulated-20000-1]
     [--pages overview,trajectories,...] [--order sequence|isolated] [--profile PAGE]
     [--profile-run cold|warm]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamlit.testing.v1 import AppTest

PAGES = ("overview", "trajectories", "onset", "durability", "compare", "series", "symptoms")
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


_PAGE_CPU: list[float] = []  # CPU seconds of each page run in the script thread (jobs not counted)
_PROFILER: list[cProfile.Profile] = []  # profile the next page run with this


def _measure_page_runs() -> None:
    """Time each page run in its own thread (app.py runs the page inside ``compute.page_slot``, in
    the script runner's thread, which neither process-wide CPU time nor cProfile follow from here)."""
    from dashboard import compute

    slot = compute.page_slot

    @contextlib.contextmanager
    def measured(data):
        with slot(data):
            profiler = _PROFILER.pop() if _PROFILER else None
            start = time.thread_time()
            if profiler is not None:
                profiler.enable()
            try:
                yield
            finally:
                if profiler is not None:
                    profiler.disable()
                _PAGE_CPU.append(time.thread_time() - start)

    compute.page_slot = measured


def _timed_run(at: AppTest) -> tuple[float, float]:
    """(wall, CPU) seconds of one script run of ``at``: wall of the whole run, CPU of the page in
    its thread."""
    wall = time.perf_counter()
    _PAGE_CPU.clear()
    at.run()
    return time.perf_counter() - wall, sum(_PAGE_CPU)


def _problems(at: AppTest) -> str:
    found = [str(e.value)[:80] for e in at.exception] + [str(e.value)[:80] for e in at.error]
    return f"  PROBLEMS: {found}" if found else ""


def main(argv: list[str] | None = None) -> int:
    from analysis import endpoints
    from dashboard import background, compute
    from dashboard.serve import memory_mb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="simulated-20000-1")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--order", choices=("sequence", "isolated"), default="sequence")
    parser.add_argument("--profile", default="", help="cProfile this page's cold run")
    parser.add_argument("--profile-out", default="", help="also write the profile to this file (pstats)")
    parser.add_argument("--profile-run", choices=("cold", "warm"), default="cold", help="the run profiled")
    args = parser.parse_args(argv)
    pages = [p for p in args.pages.split(",") if p]

    _measure_page_runs()
    at = AppTest.from_file(APP, default_timeout=900)
    at.query_params["dataset"] = args.dataset
    start = time.perf_counter()
    at.run()
    at.switch_page("dashboard/app_pages/data.py")
    at.run()
    print(f"dataset {args.dataset} loaded and Data page drawn: {time.perf_counter() - start:.1f} s "
          f"(load average {_load()}, 2 cores)")
    print(f"{'page':13s} {'cold wall':>9s} {'cold CPU':>9s} {'jobs':>6s} {'ready wall':>10s} {'ready CPU':>9s} "
          f"{'warm wall':>9s} {'warm CPU':>9s} {'results MB':>10s} {'RSS MB':>7s}  load avg")
    print(f"result store limit {compute.RESULT_CACHE_MB} MB (INFUSION_OUTCOMES_RESULT_CACHE_MB)")
    for page in pages:
        if args.order == "isolated":
            compute._RESULTS.clear()
            endpoints.clear_cache()
            for key in list(background._JOBS):
                background.wait(key)
            background._JOBS.clear()
        at.switch_page(f"dashboard/app_pages/{page}.py")
        profiler = cProfile.Profile() if page == args.profile else None
        if profiler is not None and args.profile_run == "cold":
            _PROFILER.append(profiler)
        cold = _timed_run(at)
        problems = _problems(at)
        start = time.perf_counter()
        for key in list(background._JOBS):
            background.wait(key)
        jobs = time.perf_counter() - start
        ready = _timed_run(at)
        if profiler is not None and args.profile_run == "warm":
            _PROFILER.append(profiler)
        warm = _timed_run(at)
        problems = problems or _problems(at)
        print(f"{page:13s} {cold[0]:9.2f} {cold[1]:9.2f} {jobs:6.1f} {ready[0]:10.2f} {ready[1]:9.2f} "
              f"{warm[0]:9.2f} {warm[1]:9.2f} {compute._RESULTS.bytes / 2**20:10.0f} {memory_mb():7.0f}  "
              f"{_load()}{problems}", flush=True)
        if profiler is not None:
            stats = pstats.Stats(profiler)
            if args.profile_out:
                stats.dump_stats(args.profile_out)
            stats.sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
