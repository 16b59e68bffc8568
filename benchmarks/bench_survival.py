"""Speed of Kaplan-Meier and Cox against statsmodels and lifelines, measured side by side.

Run: ``.venv/bin/python benchmarks/bench_survival.py`` (optionally ``--km-n``, ``--cox-n``,
``--statsmodels-n``, ``--repeats``). Prints wall times (best of the repeats) and ratios:

- Kaplan-Meier on 1,000,000 subjects vs statsmodels ``SurvfuncRight`` (target: ours no slower
  than 2x statsmodels).
- Cox, Efron ties, 100,000 subjects x 5 covariates vs lifelines ``CoxPHFitter`` (target: at
  least 5x faster). Our time includes the concordance and all tests; lifelines' includes its
  concordance too.
  Continuous times (all distinct), as in the issue's reference timing, and the same data with
  times rounded to 0.001 (tied: about 3,000 distinct event times for 65,000 events, where
  lifelines, which loops over distinct times, is much faster; target: ours at most 0.2x
  lifelines' time, i.e. a speed-up of at least 5x, issue 9).
- Cox, Efron ties, 100,000 x 3 vs statsmodels ``PHReg`` (slow: about 40 s on a quiet machine,
  minutes on a busy one; lower it with ``--statsmodels-n``, 0 skips it).

Times are wall-clock on whatever machine runs this; on a shared machine they vary by run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.survival.cox import cox
from analysis.survival.kaplan_meier import kaplan_meier


def timed_repeats(function: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(best, median) wall seconds of ``repeats`` calls of ``function``, and its last result."""
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def _cox_data(n: int, p: int, seed: int, decimals: int | None = None) -> pd.DataFrame:
    """Exponential event and censoring times; ``decimals`` rounds them to create ties."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    x[:, 0] = rng.integers(0, 2, n)  # a binary covariate, like route or sex
    beta = np.linspace(0.5, -0.3, p)
    event_time = rng.exponential(1.0 / np.exp(x @ beta))
    censor_time = rng.exponential(1.5, n)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(p)])
    follow_up = np.minimum(event_time, censor_time)
    frame["time"] = follow_up if decimals is None else np.round(follow_up, decimals) + 10.0**-decimals
    frame["event"] = (event_time <= censor_time).astype(int)
    return frame


def bench_kaplan_meier(n: int, repeats: int) -> float:
    from statsmodels.duration.survfunc import SurvfuncRight

    rng = np.random.default_rng(0)
    time_days = np.round(rng.exponential(20.0, n), 2)
    event = (rng.random(n) < 0.7).astype(float)
    ours_best, ours_median, ours = timed_repeats(lambda: kaplan_meier(time_days, event), repeats)
    sm_best, sm_median, sm = timed_repeats(lambda: SurvfuncRight(time_days, event), repeats)
    agree = np.max(np.abs(ours.table.loc[ours.table["events"] > 0, "survival"].to_numpy() - sm.surv_prob))
    ratio = ours_best / sm_best
    print(f"Kaplan-Meier, n = {n:,} ({len(ours.table):,} distinct times), best/median of {repeats}:")
    print(f"  ours (analysis.kaplan_meier)     {ours_best:8.3f} s / {ours_median:.3f} s")
    print(f"  statsmodels SurvfuncRight        {sm_best:8.3f} s / {sm_median:.3f} s")
    print(f"  ratio ours / statsmodels         {ratio:8.2f}   (target <= 2; max |S diff| {agree:.1e})")
    return ratio


def bench_cox_lifelines(n: int, repeats: int, decimals: int | None = None) -> float:
    from lifelines import CoxPHFitter

    frame = _cox_data(n, 5, seed=1, decimals=decimals)
    covariates = [f"x{i}" for i in range(5)]
    ours_best, ours_median, ours = timed_repeats(
        lambda: cox(frame, duration="time", event="event", covariates=covariates, ties="efron"), repeats
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll_best, ll_median, fitted = timed_repeats(
            lambda: CoxPHFitter().fit(frame, duration_col="time", event_col="event"), max(1, repeats // 2)
        )
    coef_diff = np.max(np.abs(fitted.params_[covariates].to_numpy() - ours.table["coef"].to_numpy()))
    ratio = ll_best / ours_best
    distinct = frame.loc[frame["event"] == 1, "time"].nunique()
    print(f"Cox (Efron), n = {n:,} x 5 covariates, {ours.n_events:,} events at {distinct:,} distinct times:")
    print(f"  ours (analysis.cox)              {ours_best:8.3f} s / {ours_median:.3f} s")
    print(f"  lifelines CoxPHFitter            {ll_best:8.3f} s / {ll_median:.3f} s")
    target = "target >= 5; "
    print(f"  speed-up lifelines / ours        {ratio:8.1f}x  ({target}max |coef diff| {coef_diff:.1e})")
    return ratio


def bench_cox_statsmodels(n: int, repeats: int) -> float:
    from statsmodels.duration.hazard_regression import PHReg

    frame = _cox_data(n, 3, seed=2)
    covariates = [f"x{i}" for i in range(3)]
    ours_best, ours_median, ours = timed_repeats(
        lambda: cox(frame, duration="time", event="event", covariates=covariates, ties="efron"), repeats
    )
    start = time.perf_counter()
    sm = PHReg(frame["time"], frame[covariates], status=frame["event"], ties="efron").fit()
    sm_time = time.perf_counter() - start
    coef_diff = np.max(np.abs(np.asarray(sm.params) - ours.table["coef"].to_numpy()))
    ratio = sm_time / ours_best
    print(f"Cox (Efron), n = {n:,} x 3 covariates, {ours.n_events:,} events:")
    print(f"  ours (analysis.cox)              {ours_best:8.3f} s / {ours_median:.3f} s")
    print(f"  statsmodels PHReg (one fit)      {sm_time:8.3f} s")
    print(f"  speed-up statsmodels / ours      {ratio:8.1f}x  (max |coef diff| {coef_diff:.1e})")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--km-n", type=int, default=1_000_000, help="0 skips Kaplan-Meier")
    parser.add_argument("--cox-n", type=int, default=100_000)
    parser.add_argument("--statsmodels-n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    km_ratio = bench_kaplan_meier(args.km_n, args.repeats) if args.km_n else None
    lifelines_ratio = bench_cox_lifelines(args.cox_n, args.repeats)
    print("(the same with times rounded to 0.001: tied event times, where lifelines, looping over")
    print(" distinct times, is much faster than on distinct ones)")
    tied_ratio = bench_cox_lifelines(args.cox_n, args.repeats, decimals=3)
    statsmodels_ratio = (
        bench_cox_statsmodels(args.statsmodels_n, args.repeats) if args.statsmodels_n else None
    )
    print("\nSummary:")
    if km_ratio is not None:
        print(f"  KM ours/statsmodels time ratio   {km_ratio:.2f} ({'met' if km_ratio <= 2 else 'MISSED'}: <= 2)")
    print(
        f"  Cox lifelines/ours speed-up      {lifelines_ratio:.1f}x ({'met' if lifelines_ratio >= 5 else 'MISSED'}: >= 5)"
    )
    print(f"  ... times rounded to 0.001       {tied_ratio:.1f}x ({'met' if tied_ratio >= 5 else 'MISSED'}: >= 5, "
          f"i.e. ours <= 0.2x lifelines' time)")
    if statsmodels_ratio is not None:
        print(f"  Cox statsmodels/ours speed-up    {statsmodels_ratio:.1f}x (n = {args.statsmodels_n:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
