"""Speed of endpoint derivation, and of onset plus durability, on 100,000 patients x 20 ratings.

Targets (issue 3): ``derive_endpoints`` under 2 s; ``fit_onset`` plus ``fit_durability`` under
10 s. Issue 9: endpoints are derived once per dataset and settings (the cache): a second call,
or a second fit on the same data, does not derive them again. Run:
``.venv/bin/python benchmarks/bench_endpoints.py [n_patients]``.

Data: ``analysis.simulate(items=False, series_fraction=0.7)``, which gives about 20 MADRS
ratings per patient (a series has ~24, a single infusion ~11); ``--numpy`` uses a plain numpy
generator with exactly 20 ratings per patient instead (also the fallback when the simulator is
not available).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from analysis.contract import OutcomeData

N_PATIENTS = 100_000
N_RATINGS = 20


def numpy_dataset(n_patients: int = N_PATIENTS, n_ratings: int = N_RATINGS, seed: int = 0) -> OutcomeData:
    """A synthetic dataset in contract layout: baseline at -1 h, then ratings over 28 days."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("P", np.arange(n_patients).astype(str)).astype(object)
    n_inf = 6
    inf_times = np.array([0, 48, 96, 168, 216, 264], dtype=float)
    post_times = np.r_[2, 4, 24, 50, 72, 98, 120, 170, 192, 218, 240, 266, 288, 336, 432, 504, 600, 672, 840]
    times = np.r_[-1.0, post_times[: n_ratings - 1]]
    baseline = rng.integers(22, 45, n_patients).astype(float)
    responder = rng.random(n_patients) < 0.6
    onset = rng.weibull(1.2, n_patients) * 6 + (rng.integers(0, 3, n_patients) * 48)
    relapse = 24 * 21 * rng.weibull(1.5, n_patients)
    t = np.tile(times, n_patients)
    pid = np.repeat(np.arange(n_patients), n_ratings)
    improved = responder[pid] & (t >= onset[pid]) & (t < onset[pid] + relapse[pid])
    frac = np.where(improved, rng.uniform(0.5, 0.9, len(t)), rng.uniform(-0.1, 0.45, len(t)))
    frac[t <= 0] = 0.0
    score = np.clip(np.round(baseline[pid] * (1 - frac)), 0, 60)
    assessments = pd.DataFrame({
        "patient_id": pd.array(ids[pid], dtype="string"),
        "instrument": pd.array(np.full(len(t), "MADRS", dtype=object), dtype="string"),
        "item": pd.array(np.full(len(t), pd.NA), dtype="Int64"),
        "score": score,
        "time_hours": t,
        "visit": pd.array(np.full(len(t), pd.NA), dtype="string"),
        "infusion_number": pd.array(np.full(len(t), pd.NA), dtype="Int64"),
        "source_row": np.arange(1, len(t) + 1, dtype=np.int64),
    })
    ipid = np.repeat(np.arange(n_patients), n_inf)
    infusions = pd.DataFrame({
        "patient_id": pd.array(ids[ipid], dtype="string"),
        "infusion_number": np.tile(np.arange(1, n_inf + 1), n_patients).astype(np.int64),
        "time_hours": np.tile(inf_times, n_patients),
        "dose_mg_per_kg": rng.choice([0.5, 0.75, 1.0], len(ipid)),
        "route": pd.array(np.full(len(ipid), "IV", dtype=object), dtype="string"),
        "duration_min": np.full(len(ipid), 40.0),
    })
    patients = pd.DataFrame({
        "patient_id": pd.array(ids, dtype="string"),
        "age": rng.uniform(18, 80, n_patients).round(),
        "sex": pd.array(rng.choice(["F", "M"], n_patients).astype(object), dtype="string"),
        "diagnosis": pd.array(rng.choice(["MDD", "TRD"], n_patients).astype(object), dtype="string"),
    })
    return OutcomeData(assessments, infusions, patients, source="benchmark (numpy)")


def build(n_patients: int, use_numpy: bool = False) -> tuple[OutcomeData, str]:
    if use_numpy:
        return numpy_dataset(n_patients), "numpy generator"
    try:
        from analysis.simulation import simulate
    except ImportError:
        return numpy_dataset(n_patients), "numpy generator (analysis.simulate not available)"
    return simulate(n_patients, seed=0, items=False, series_fraction=0.7), \
        "analysis.simulate(items=False, series_fraction=0.7)"


def timed(label: str, func, repeat: int = 3):
    """Best wall and CPU seconds of ``repeat`` calls (CPU time is what a loaded machine does not inflate)."""
    best, best_cpu = np.inf, np.inf
    out = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = func()
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    print(f"{label:<58} {best:8.2f} s wall {best_cpu:8.2f} s CPU (best of {repeat})", flush=True)
    return out, best_cpu


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    use_numpy = "--numpy" in argv
    numbers = [a for a in argv if not a.startswith("--")]
    n = int(numbers[0]) if numbers else N_PATIENTS
    t0 = time.perf_counter()
    data, how = build(n, use_numpy)
    a = data.assessments
    n_ratings = int((a["item"].isna() & (a["instrument"] == "MADRS")).sum())
    print(f"data: {how}; {n} patients, {n_ratings} MADRS total ratings "
          f"({n_ratings / n:.1f} per patient), built in {time.perf_counter() - t0:.1f} s")
    print("Timings on a shared 2-core machine (other jobs running): wall times are upper bounds.")

    from analysis.endpoints import clear_cache, derive_endpoints

    def uncached():
        clear_cache()  # each repeat derives again (the cache would answer repeats 2 and 3)
        return derive_endpoints(data)

    ep, _ = timed("derive_endpoints, uncached (target < 2 s)", uncached)
    print(f"   {ep!r}")
    again, _ = timed("derive_endpoints again, same data and settings (cache)", lambda: derive_endpoints(data))
    print(f"   the same Endpoints object: {again is ep}")
    import warnings

    from analysis.durability import fit_durability
    from analysis.onset import fit_onset

    warnings.simplefilter("ignore", RuntimeWarning)  # Turnbull convergence notes

    def cold(fit):
        def run():
            clear_cache()
            return fit(data)
        return run

    _, t_on = timed("fit_onset(data), derivation included", cold(fit_onset), repeat=1)
    _, t_du = timed("fit_durability(data), derivation included", cold(fit_durability), repeat=1)
    print(f"{'fit_onset + fit_durability (target < 10 s CPU)':<58} {t_on + t_du:17.2f} s CPU")

    def one_script():
        clear_cache()
        return fit_onset(data), fit_durability(data)  # the second call reuses the first's derivation

    timed("fit_onset(data) then fit_durability(data) (one derivation)", one_script, repeat=1)


if __name__ == "__main__":
    main()
