"""Speed of the durability headline and the in-response curve at dashboard sizes (issue 10, Speed).

Times ``fit_durability`` (ungrouped, ``by="diagnosis"``, ``by="course"``; each group whose
headline falls back to the Turnbull NPMLE refits it on ``n_bootstrap`` resamples) and
``fit_response_state`` (two NPMLEs per resample) on ``analysis.simulate(n_patients=n, seed=1)``.
Target: each call under about 3 s at 20,000 patients (the Overview, Durability and Compare pages'
first render). The Overview draws ``fit_response_state(n_bootstrap=0)`` (the curve and its points)
at once and computes the 200-resample band in the background (dashboard/background.py): its row
is the page's share of the first render, the full call's row the band's wait. Wall and CPU seconds of one run each, with the 1-minute load average (the machine
is shared: CPU seconds are what other work does not inflate), and the headline estimator per row.
Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_durability.py [n ...]`` (default 300 3000 20000).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import analysis

SIZES = (300, 3_000, 20_000)


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds and CPU seconds (this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(sizes: tuple[int, ...]) -> None:
    print(f"{'n':>7} {'call':<38} {'wall_s':>7} {'cpu_s':>7} {'load1':>5}  estimator / median_days")
    for n in sizes:
        data = analysis.simulate(n_patients=n, seed=1)
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("fit_durability", lambda data=data: analysis.fit_durability(data)),
            ("fit_durability(by='diagnosis')", lambda data=data: analysis.fit_durability(data, by="diagnosis")),
            ("fit_durability(by='course')", lambda data=data: analysis.fit_durability(data, by="course")),
            ("fit_durability(by='course', turnbull)",
             lambda data=data: analysis.fit_durability(data, by="course", estimator="turnbull")),
            ("fit_response_state(n_bootstrap=0)", lambda data=data: analysis.fit_response_state(data, n_bootstrap=0)),
            ("fit_response_state", lambda data=data: analysis.fit_response_state(data)),
            ("fit_response_state(by='course')", lambda data=data: analysis.fit_response_state(data, by="course")),
        ]
        for name, call in calls:
            result, wall, cpu = timed(call)
            summary = result.summary()
            if "estimator" in summary:
                what = ", ".join(f"{e} {m:.2f}" for e, m in zip(summary["estimator"], summary["median_days"],
                                                                 strict=True))
            else:
                what = ""
            print(f"{n:>7} {name:<38} {wall:>7.2f} {cpu:>7.2f} {os.getloadavg()[0]:>5.1f}  {what}", flush=True)


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
