"""Coverage of the 95% intervals of the headline estimates over simulated datasets with a known truth.

Run: ``nice .venv/bin/python benchmarks/bench_coverage.py [n_datasets] [n_patients] [workers] [n_bootstrap]
[budget_seconds] [rows]`` (defaults 200 datasets of 300 patients per design, 2 worker processes, 100
bootstrap resamples for ``fit_response_state``, no time budget, every row; with a budget the table
covers the datasets finished by then, both designs alike, and says so; rows: comma-separated keys such
as ``state14``). Target (issue 9): each interval covers the truth 92-98% of the
time; the coverage is printed with its own 95% Wilson interval.

Two designs, each ``analysis.simulate`` with the default :class:`analysis.Scenario` (remission
below response, early dropout, series stopping, boosters, rescue, missed visits) on a homogeneous
cohort (TRD, IV, 0.5 mg/kg) so that one number is the truth of each pooled estimate:

- **single**: every patient one infusion (``series_fraction=0``);
- **series**: every patient planned for the 6-infusion series (``series_fraction=1``; about half
  stop early, boosters for half of them).

Rows (truths from ``truth.value(...)``, i.e. ``SimulationTruth.table()``, for the course of the
design and the intercurrent strategies the analysis used by default, read from
``analysis.intercurrent.DEFAULT_STRATEGIES``):

- headline median durability, ``fit_durability(data).summary()["median_days"]`` with
  ``median_days_lower/upper`` (its ``estimator`` column says which estimator gave it), against
  ``durability_median_days`` on the auto clock;
- cumulative incidence of relapse at day 28 with rescue competing,
  ``fit_durability(data, competing="rescue").cumulative_incidence`` (Aalen-Johansen, event 1),
  against ``cif_relapse`` at day 28;
- probability in response at day 14, ``fit_response_state(data).at([14])``, against
  ``in_response`` at day 14;
- (single design) response probability and median onset of the cure model, ``fit_onset``;
- for information only: the Kaplan-Meier median at the detection visit (``km_median_days``, the
  papers' convention), whose coverage says how far the old headline was from the truth.

"""

from __future__ import annotations

import math
import sys
import time
import warnings
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

N_DATASETS = 200
N_PATIENTS = 300
WORKERS = 2
N_BOOTSTRAP = 100
COHORT = {"route_probabilities": {"IV": 1.0}, "dose_probabilities": {0.5: 1.0},
          "diagnosis_probabilities": {"TRD": 1.0}, "items": False}
DESIGNS = {"single": {"series_fraction": 0.0}, "series": {"series_fraction": 1.0}}
# (key, label, design or None for both, counts toward the target)
ROWS = (
    ("median", "headline median durability, days", None, True),
    ("cif28", "cumulative incidence of relapse, day 28", None, True),
    ("state14", "P(in response), day 14", None, True),
    ("p_respond", "response probability (cure model)", "single", True),
    ("onset", "median onset hours (cure model)", "single", True),
    ("km_median", "KM median at the detection visit (info)", None, False),
)
def _step_value(steps: Any, day: float, column: str) -> float:
    times = steps["time_days"].to_numpy(float)
    index = np.searchsorted(times, day, side="right") - 1
    return float(steps[column].to_numpy(float)[index]) if index >= 0 else 0.0


def one_dataset(args: tuple[str, int, int, int, frozenset[str]]) -> list[dict[str, Any]]:
    """Estimates, intervals and truths of the chosen rows (all when empty) for one simulated dataset."""
    design, seed, n_patients, n_bootstrap, only = args
    warnings.simplefilter("ignore", RuntimeWarning)  # Turnbull convergence notes, not results
    import analysis
    from analysis.errors import AnalysisError
    from analysis.intercurrent import DEFAULT_STRATEGIES
    from analysis.simulation import simulate

    data = simulate(n_patients=n_patients, seed=seed, **COHORT, **DESIGNS[design])
    truth = data.truth
    booster, rescue = DEFAULT_STRATEGIES["booster"], DEFAULT_STRATEGIES["rescue"]
    out: list[dict[str, Any]] = []

    def add(key: str, true: float, estimate: float = np.nan, lower: float = np.nan, upper: float = np.nan,
            note: str = "") -> None:
        out.append({"design": design, "seed": seed, "key": key, "truth": true, "estimate": estimate,
                    "lower": lower, "upper": upper, "note": note})

    def guarded(keys: tuple[str, ...], compute: Any) -> None:
        try:
            compute()
        except (AnalysisError, ValueError) as error:  # a fit that cannot run counts as not covering
            for key in keys:
                add(key, np.nan, note=f"failed: {error}"[:200])

    def durability() -> None:
        row = analysis.fit_durability(data).summary().iloc[0]
        add("median", truth.value("durability_median_days", design, booster=booster, rescue=rescue),
            row["median_days"], row["median_days_lower"], row["median_days_upper"], note=str(row.get("estimator")))
        add("km_median", truth.value("durability_median_days", design, booster=booster, rescue=rescue),
            row["km_median_days"], row["km_median_days_lower"], row["km_median_days_upper"])

    def incidence() -> None:
        cif = analysis.fit_durability(data, competing="rescue").cumulative_incidence
        if cif.empty:
            raise ValueError("fit_durability(competing='rescue') gave no cumulative incidence")
        steps = cif[cif["event"] == 1].sort_values("time_days", kind="stable")
        add("cif28", truth.value("cif_relapse", design, 28, booster=booster, rescue="competing"),
            *(_step_value(steps, 28.0, c) for c in ("cif", "lower", "upper")))

    def state() -> None:
        at = analysis.fit_response_state(data, n_bootstrap=n_bootstrap, seed=seed).at([14]).iloc[0]
        add("state14", truth.value("in_response", design, 14, booster=booster, rescue=rescue),
            at["in_response"], at["lower"], at["upper"])

    def onset() -> None:
        row = analysis.fit_onset(data, dist="loglogistic").summary().iloc[0]
        add("p_respond", truth.response_probability_by_diagnosis["TRD"], row["response_probability"],
            row["response_probability_lower"], row["response_probability_upper"])
        add("onset", truth.onset_median_hours, row["median_onset_hours"], row["median_onset_hours_lower"],
            row["median_onset_hours_upper"])

    for keys, compute, design_only in ((("median", "km_median"), durability, None), (("cif28",), incidence, None),
                                       (("state14",), state, None), (("p_respond", "onset"), onset, "single")):
        if design_only in (None, design) and (not only or only & set(keys)):
            guarded(keys, compute)
    return out


def main(argv: list[str] | None = None) -> dict[tuple[str, str], float]:
    import pandas as pd

    from analysis.intercurrent import DEFAULT_STRATEGIES
    from analysis.intervals import wilson_interval

    argv = sys.argv[1:] if argv is None else argv
    n_sets = int(argv[0]) if len(argv) > 0 else N_DATASETS
    n_patients = int(argv[1]) if len(argv) > 1 else N_PATIENTS
    workers = int(argv[2]) if len(argv) > 2 else WORKERS
    n_bootstrap = int(argv[3]) if len(argv) > 3 else N_BOOTSTRAP
    budget_s = float(argv[4]) if len(argv) > 4 else math.inf
    only = frozenset(argv[5].split(",")) if len(argv) > 5 else frozenset()  # e.g. "state14": those rows only
    t0 = time.perf_counter()
    # designs interleaved, seeds in order: a run stopped by the time budget covers both designs alike
    jobs = [(design, 1000 + k, n_patients, n_bootstrap, only) for k in range(n_sets) for design in DESIGNS]
    parts: list[list[dict[str, Any]]] = []
    with get_context("spawn").Pool(workers) as pool:
        for part in pool.imap_unordered(one_dataset, jobs):
            parts.append(part)
            if time.perf_counter() - t0 > budget_s:
                pool.terminate()  # out of time: summarise the datasets finished so far
                break
    frame = pd.DataFrame([row for part in parts for row in part])
    elapsed = time.perf_counter() - t0
    booster, rescue = DEFAULT_STRATEGIES["booster"], DEFAULT_STRATEGIES["rescue"]
    done = frame.groupby("design")["seed"].nunique().to_dict()
    stopped = "" if len(parts) == len(jobs) else f" (time budget {budget_s:.0f} s reached: {len(parts)} of {len(jobs)} done)"
    print(f"{', '.join(f'{done.get(d, 0)} {d}' for d in DESIGNS)} simulated datasets x {n_patients} patients "
          f"(TRD, IV 0.5 mg/kg, default Scenario), {workers} workers, fit_response_state n_bootstrap={n_bootstrap}, "
          f"{elapsed:.0f} s on a shared 2-core machine{stopped}; strategies: booster {booster}, rescue {rescue}")
    print(f"{'design':<8}{'quantity':<44}{'truth':>8}{'mean est':>10}{'coverage':>10}   95% Wilson CI  "
          f"failed  estimators")
    results: dict[tuple[str, str], float] = {}
    for design in DESIGNS:
        for key, label, only, target in ROWS:
            if only not in (None, design):
                continue
            rows = frame[(frame["design"] == design) & (frame["key"] == key)]
            if rows.empty:
                continue
            ok = rows[["lower", "upper"]].notna().all(axis=1) & np.isfinite(rows["upper"])
            covered = ok & (rows["lower"] <= rows["truth"]) & (rows["truth"] <= rows["upper"])
            k, n = int(covered.sum()), len(rows)
            lo, hi = wilson_interval(k, n)
            results[(design, key)] = k / n
            flag = "" if not target else ("  OK" if 0.92 <= k / n <= 0.98 else "  OUTSIDE 92-98%")
            estimators = ", ".join(f"{name} {count}" for name, count in
                                   rows.loc[rows["note"] != "", "note"].str.slice(0, 20).value_counts().items()) \
                if key == "median" else ""
            truth = rows["truth"].dropna()
            print(f"{design:<8}{label:<44}{truth.iloc[0] if len(truth) else np.nan:>8.3g}"
                  f"{rows['estimate'].mean():>10.3g}{k / n:>10.1%}   [{lo:.1%}, {hi:.1%}]  {n - int(ok.sum()):>5}"
                  f"{flag}  {estimators}")
    return results


if __name__ == "__main__":
    main()
