"""Speed of the linear mixed model and the MMRM, side by side with statsmodels MixedLM.

Run: ``.venv/bin/python benchmarks/bench_mixed.py`` (add ``--quick`` for small sizes).

1. Random intercept and slope, 10,000 patients x 10 visits: ours vs statsmodels ``MixedLM``
   (REML, ``re_formula="~week"``), ratio and agreement printed.
2. 100,000 patients x 10 visits (1,000,000 rows): ours alone; statsmodels' time is estimated
   from (1) by linear scaling in rows (the issue quotes ~5 minutes), not run.
3. MMRM, unstructured covariance, 10,000 subjects x 6 visits with dropout (Satterthwaite df,
   then Kenward-Roger).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from analysis.longitudinal.mixed_models import mixed_model
from analysis.longitudinal.mmrm import mmrm


def simulate_slopes(n_patients: int, n_visits: int = 10, seed: int = 1) -> pd.DataFrame:
    """Scores with a random intercept and slope per patient, two arms, weekly visits."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n_patients), n_visits)
    week = np.tile(np.arange(n_visits, dtype=float), n_patients)
    arm = np.where(rng.random(n_patients) < 0.5, "ketamine", "placebo")[patient]
    intercept = rng.normal(0, 5, n_patients)
    slope = 0.06 * intercept + rng.normal(0, 0.9, n_patients)
    score = (30 + intercept[patient] + (-1.5 + 0.8 * (arm == "placebo") + slope[patient]) * week
             + rng.normal(0, 3, len(patient)))
    return pd.DataFrame({"patient": patient, "week": week, "arm": arm, "score": score})


def simulate_mmrm(n_subjects: int, n_visits: int = 6, seed: int = 2) -> pd.DataFrame:
    """Repeated scores with an AR-like unstructured covariance, baseline covariate, dropout."""
    rng = np.random.default_rng(seed)
    lags = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    sd = np.linspace(4, 7, n_visits)
    cov = (0.3 + 0.6 * 0.7**lags) * np.outer(sd, sd)
    np.fill_diagonal(cov, sd**2)
    arm = np.where(rng.random(n_subjects) < 0.5, "ketamine", "placebo")
    baseline = rng.normal(30, 4, n_subjects)
    errors = rng.multivariate_normal(np.zeros(n_visits), cov, size=n_subjects)
    change = -np.arange(1, n_visits + 1)[None, :] * (1 + (arm == "ketamine")[:, None]) + 0.1 * (
        baseline[:, None] - 30) + errors
    frame = pd.DataFrame({
        "patient": np.repeat(np.arange(n_subjects), n_visits),
        "visit": np.tile(np.arange(1, n_visits + 1), n_subjects),
        "arm": np.repeat(arm, n_visits),
        "baseline": np.repeat(baseline, n_visits),
        "change": change.ravel(),
    })
    last = rng.integers(2, n_visits + 1, n_subjects)  # monotone dropout
    return frame[frame["visit"].to_numpy() <= np.repeat(last, n_visits)].reset_index(drop=True)


def timed(label: str, function):
    start = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - start
    print(f"{label:<58s} {seconds:8.2f} s", flush=True)
    return value, seconds


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    n_small, n_large, n_mmrm = (1_000, 10_000, 1_000) if quick else (10_000, 100_000, 10_000)
    print("Timings on a shared machine (2 cores, other jobs running): treat ratios as indicative.")

    print(f"\n1. Random intercept + slope, {n_small:,} patients x 10 visits ({n_small * 10:,} rows), REML")
    data = simulate_slopes(n_small)
    ours, t_ours = timed("ours: mixed_model(random='~week')", lambda: mixed_model(
        data, "score ~ week * arm", groups="patient", random="~week"))
    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, t_sm = timed("statsmodels MixedLM(re_formula='~week').fit(reml=True)", lambda: smf.mixedlm(
            "score ~ week * arm", data, groups=data["patient"], re_formula="~week").fit(reml=True))
    print(f"{'ratio statsmodels / ours':<58s} {t_sm / t_ours:8.1f} x")
    beta_gap = np.max(np.abs(ours.fixed["estimate"].to_numpy() - theirs.fe_params.to_numpy()))
    print(f"max |beta difference| {beta_gap:.2e}; REML loglik ours {ours.loglik:.4f}, "
          f"statsmodels {theirs.llf:.4f} (converged: ours {ours.converged}, statsmodels {theirs.converged})")
    print(f"random-effects covariance (int, slope, cov): ours {np.round(ours.random.to_numpy()[[0, 1, 0], [0, 1, 1]], 4)}, "
          f"statsmodels {np.round(theirs.cov_re.to_numpy()[[0, 1, 0], [0, 1, 1]], 4)}; residual variance ours "
          f"{ours.residual_variance:.4f}, statsmodels {theirs.scale:.4f}")

    print(f"\n2. Random intercept + slope, {n_large:,} patients x 10 visits ({n_large * 10:,} rows), REML")
    big = simulate_slopes(n_large, seed=3)
    fit, t_big = timed("ours: mixed_model(random='~week')", lambda: mixed_model(
        big, "score ~ week * arm", groups="patient", random="~week"))
    estimate = t_sm * n_large / n_small
    print(f"{'statsmodels (not run; linear scaling of (1))':<58s} {estimate:8.0f} s (estimated)")
    print(f"{'ratio statsmodels (estimated) / ours':<58s} {estimate / t_big:8.1f} x")
    print(f"converged: {fit.converged}; residual variance {fit.residual_variance:.3f} (truth 9)")

    print(f"\n3. MMRM, unstructured covariance, {n_mmrm:,} subjects x 6 visits with dropout, REML")
    trial = simulate_mmrm(n_mmrm)
    print(f"   {len(trial):,} rows")
    formula = "change ~ C(visit) * arm + C(visit) * baseline"
    result, _ = timed("ours: mmrm(covariance='unstructured', df='satterthwaite')", lambda: mmrm(
        trial, formula, subject="patient", visit="visit"))
    timed("ours: mmrm(covariance='unstructured', df='kenward-roger')", lambda: mmrm(
        trial, formula, subject="patient", visit="visit", df="kenward-roger"))
    timed("ours: lsmean_differences(group='arm')", lambda: result.lsmean_differences(
        group="arm", reference="placebo"))
    timed("ours: mmrm(covariance='ar1')", lambda: mmrm(trial, formula, subject="patient", visit="visit",
                                                       covariance="ar1"))
    print("statsmodels has no MMRM (MixedLM's residuals are independent): no comparison.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
