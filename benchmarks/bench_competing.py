"""Speed of the competing-risks estimators at 100,000 subjects.

Run: ``.venv/bin/python benchmarks/bench_competing.py`` (optionally ``--n``, ``--repeats``,
``--no-lifelines``). Prints wall times (best and median of the repeats) for:

- ``cumulative_incidence`` with two causes: no groups, 2 groups and 4 groups (Gray's test per
  cause included), on continuous (all distinct) and on tied times (rounded to 0.01);
- lifelines' ``AalenJohansenFitter`` on the same pooled data, for scale (one cause per fit,
  its ties jittered, so it does not compute the same thing exactly);
- ``fine_gray`` with 3 covariates (one categorical with 3 levels), distinct and tied times,
  robust sandwich SE included.

No asserts: times are wall-clock on whatever machine runs this and vary on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.survival.competing import cumulative_incidence, fine_gray
from benchmarks.bench_survival import timed_repeats


def _competing_data(n: int, seed: int, decimals: int | None = None) -> pd.DataFrame:
    """Two causes with constant hazards that depend on covariates, exponential censoring (days)."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    arm = rng.integers(0, 2, n)
    site = rng.choice(["north", "south", "west"], n)
    relapse = rng.exponential(20.0 / np.exp(0.4 * score - 0.5 * arm))
    rescue = rng.exponential(40.0 / np.exp(0.2 * score), n)
    censor = rng.exponential(30.0, n)
    follow_up = np.minimum.reduce([relapse, rescue, censor])
    event = np.select([follow_up == relapse, follow_up == rescue], [1, 2], 0)
    if decimals is not None:
        follow_up = np.round(follow_up, decimals) + 10.0**-decimals
    return pd.DataFrame(
        {
            "time_days": follow_up,
            "event": event,
            "score": score,
            "arm": arm,
            "site": site,
            "group2": np.where(arm == 1, "treated", "control"),
            "group4": rng.choice(["a", "b", "c", "d"], n),
        }
    )


def _report(what: str, best: float, median: float, extra: str) -> None:
    print(f"  {what:<46} best {best:7.3f} s  median {median:7.3f} s  ({extra})")


def _run_design(frame: pd.DataFrame, label: str, repeats: int, lifelines: bool) -> None:
    n_times = frame["time_days"].nunique()
    print(f"\n{len(frame):,} subjects, two causes, {label}: {n_times:,} distinct times")
    for by in (None, "group2", "group4"):
        group = None if by is None else frame[by]
        best, median, fit = timed_repeats(
            lambda group=group: cumulative_incidence(frame["time_days"], frame["event"], group=group), repeats
        )
        groups = "no groups" if by is None else f"{frame[by].nunique()} groups + Gray's test"
        _report(f"cumulative_incidence, {groups}", best, median, f"{len(fit.table):,} table rows")
    if lifelines:
        try:
            from lifelines import AalenJohansenFitter
        except ImportError:
            print("  lifelines not installed: comparison skipped")
        else:
            def lifelines_fit() -> object:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return AalenJohansenFitter(calculate_variance=True, seed=0).fit(
                        frame["time_days"], frame["event"], event_of_interest=1
                    )

            best, median, _ = timed_repeats(lifelines_fit, 1)
            _report("lifelines AalenJohansenFitter, one cause", best, median, "1 run")
    best, median, fit = timed_repeats(
        lambda: fine_gray(frame, duration="time_days", event="event", covariates=["score", "arm", "site"]), repeats
    )
    _report("fine_gray, 4 terms, robust SE", best, median,
            f"{fit.n_iterations} Newton iterations; HR arm {fit.table.loc['arm', 'hr']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-lifelines", action="store_true", help="skip the lifelines comparison")
    args = parser.parse_args()
    for label, decimals in (("distinct times", None), ("tied times (0.01)", 2)):
        frame = _competing_data(args.n, seed=1, decimals=decimals)
        _run_design(frame, label, args.repeats, not args.no_lifelines)


if __name__ == "__main__":
    main()
