"""Turnbull's non-parametric maximum-likelihood estimator for interval-censored event times."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize

from analysis.errors import AnalysisError
from analysis.survival._common import TIE_TOLERANCE, as_bounds, censoring_kinds, query_times, tied_times

_NEGLIGIBLE_MASS = 1e-12
_STALL_EXCESS = 1e-6  # Kuhn-Tucker excess accepted once the likelihood no longer improves
_DENSE_LIMIT = 200_000  # cells of the observation x support matrix formed directly
_BULK_ROUNDS = 10  # active-set rounds that drop all negative masses at once before Lawson-Hanson steps
_MAX_NEW_POINTS = 50  # support points added per Newton iteration (largest gradients first)
_MAX_SUPPORT = 2_000  # largest support handled by Newton steps (beyond it: EM steps)
_EM_CYCLES = 10  # SQUAREM cycles of EM before the Newton iterations...
_EM_MIN_SUPPORT = 40  # ...when they start from at least this many masses


@dataclass(frozen=True)
class TurnbullResult:
    """A fitted Turnbull (NPMLE) survival curve (never changes after fitting).

    Attributes
    ----------
    table : DataFrame
        One row per support interval (Peto-Turnbull innermost interval that received
        probability): ``lower``, ``upper`` (the interval, in input time units; ``lower ==
        upper`` for a single point, otherwise the interval ``(lower, upper]``), ``probability``
        (mass the NPMLE puts on it) and ``survival`` (S after the interval). Within an interval
        the NPMLE does not say where the mass lies.
    n : int
        Observations used. n_exact, n_right, n_left, n_interval : counts by type.
    loglik : float
        Log-likelihood of the NPMLE (sum of log P(observation's interval)).
    iterations : int, converged : bool, tolerance : float
        Accelerated EM iterations run and whether the optimality (Kuhn-Tucker) condition was
        met to ``tolerance``.
    notes : tuple of str
        Problems in plain words (no convergence); ``turnbull`` also issues them as
        ``RuntimeWarning``.
    """

    table: pd.DataFrame = field(repr=False)
    n: int
    n_exact: int
    n_right: int
    n_left: int
    n_interval: int
    loglik: float
    iterations: int
    converged: bool
    tolerance: float
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"<TurnbullResult: fitted with {self.n} observations ({self.n_exact} exact, {self.n_right} right-, "
            f"{self.n_left} left-, {self.n_interval} interval-censored); {len(self.table)} support intervals>"
        )

    def summary(self) -> pd.DataFrame:
        """One-row table of counts and fit diagnostics."""
        return pd.DataFrame(
            {
                "n": [self.n],
                "exact": [self.n_exact],
                "right_censored": [self.n_right],
                "left_censored": [self.n_left],
                "interval_censored": [self.n_interval],
                "support_intervals": [len(self.table)],
                "loglik": [self.loglik],
                "iterations": [self.iterations],
                "converged": [self.converged],
            }
        )

    def survival_at(self, times: Any) -> pd.DataFrame:
        """Survival S(t) = P(T > t) at ``times`` (columns ``time, survival``).

        Outside the support intervals the NPMLE is unique. Inside a bounded support interval it
        is not; there the value is interpolated linearly across the interval (the usual way to
        draw the curve). Inside an interval reaching infinity it is NaN.
        """
        query = query_times(times)
        lower = self.table["lower"].to_numpy()
        upper = self.table["upper"].to_numpy()
        after = self.table["survival"].to_numpy()
        before = after + self.table["probability"].to_numpy()
        # number of support intervals lying wholly at or before t (upper <= t)
        done = np.searchsorted(upper, query, side="right")
        survival = np.concatenate(([1.0], after))[done]
        # t strictly inside (lower, upper) of interval `done`
        inside_index = np.minimum(done, len(lower) - 1)
        inside = (done < len(lower)) & (query > lower[inside_index]) & (query < upper[inside_index])
        if inside.any():
            j = inside_index[inside]
            width = upper[j] - lower[j]
            with np.errstate(invalid="ignore"):
                fraction = np.where(np.isinf(width), np.nan, (query[inside] - lower[j]) / width)
            survival[inside] = before[j] - fraction * (before[j] - after[j])
        return pd.DataFrame({"time": query, "survival": survival})


def _innermost_intervals(lower: np.ndarray, upper: np.ndarray, exact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peto-Turnbull innermost intervals: a left endpoint immediately followed by a right endpoint.

    Observations are ``(lower, upper]``, or the point ``[t, t]`` when exact. At equal values, a
    closed left endpoint (exact) sorts before right endpoints, which sort before open left
    endpoints, so that ``(a, b]`` and ``(b, c]`` do not overlap while ``[b, b]`` lies in ``(a, b]``.
    """
    values = np.concatenate((lower, upper))
    kind = np.concatenate((np.where(exact, 0, 2), np.ones(len(upper), dtype=int)))  # 0,2 left; 1 right
    order = np.lexsort((kind, values))
    sorted_values = values[order]
    sorted_kind = kind[order]
    is_left = sorted_kind != 1
    starts = np.flatnonzero(is_left[:-1] & ~is_left[1:])
    return sorted_values[starts], sorted_values[starts + 1]


def tied_bounds(lower: np.ndarray, upper: np.ndarray, rows: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds checked by ``as_bounds`` with values equal up to rounding error made equal, as R's
    ``survfit`` does to ``Surv(type = "interval2")`` before its Turnbull fit (``aeqSurv``): the
    finite values of both bound columns are tied together by ``tied_times`` (one call), so the
    upper end of one visit interval and the lower end of the next, computed two ways, are one
    time. Apply it to all rows at once (R ties the whole response, not each group).

    An interval ``lower < upper`` whose two ends become one time is refused (R: "aeqSurv
    exception, an interval has effective length 0"), naming its rows (``rows``: labels of the
    rows, e.g. patient ids; default their positions); an exact time (``lower == upper``) stays
    exact. Unlike R no placeholder joins the values (R stores 1 as the second column of exact
    and censored rows, so its tie set also holds 1)."""
    values = tied_times(np.concatenate((lower, upper)))
    tied_lower, tied_upper = values[: len(lower)], values[len(lower):]
    collapsed = (tied_lower == tied_upper) & (lower < upper)
    if collapsed.any():
        names = np.flatnonzero(collapsed) if rows is None else np.asarray(rows, dtype=object)[collapsed]
        raise AnalysisError(
            f"{int(collapsed.sum())} interval(s) with lower < upper have ends equal up to rounding error "
            f"(closer than {TIE_TOLERANCE:.2g}, absolutely or relative to the mean time), so tied as one time "
            f"(timefix, as R's aeqSurv) they would have length 0 ({'positions' if rows is None else 'rows'} "
            f"{names[:5].tolist()}...): give such an event as an exact time (lower == upper)"
        )
    return tied_lower, tied_upper


def turnbull(lower: Any, upper: Any, tolerance: float = 1e-10, max_iterations: int = 1_000,
             timefix: bool = True) -> TurnbullResult:
    """Non-parametric maximum-likelihood survival curve for interval-censored event times.

    Parameters
    ----------
    lower, upper : array-like
        Bounds of each event time (any time unit): ``lower == upper`` exact, ``upper = inf``
        right-censored, ``lower = 0`` left-censored, otherwise the event lies in
        ``(lower, upper]``.
    tolerance : float
        Stop when the Kuhn-Tucker condition of the NPMLE holds to this accuracy: for every
        innermost interval, ``(1/n) sum_i [interval in obs i] / P_i <= 1 + tolerance`` (or,
        once the likelihood no longer rises in floating point, to 1e-6).
    max_iterations : int
        Upper limit on Newton iterations (a warning is raised if reached).
    timefix : bool
        Bound values equal up to rounding error are one time (``tied_bounds``; R's ``survfit``
        default ``timefix = TRUE``), so ``(a, b]`` and ``(b', c]`` with ``b'`` one rounding
        error below ``b`` do not overlap; an interval that would shrink to length 0 is refused.
        ``False``: every float as given.

    Returns
    -------
    TurnbullResult

    Notes
    -----
    The support is restricted to the innermost intervals (Peto 1973; Turnbull 1976). The
    masses maximise the same likelihood as Turnbull's self-consistency (EM) algorithm, but are
    found by the constrained Newton method (Wang 2008), which reaches the optimum exactly
    where EM crawls (masses that must become zero; current-status data). Each observation
    covers a contiguous run of innermost intervals, so the likelihood, its gradient and the
    Newton system cost O(n + k^2) with cumulative sums; identical observations are pooled.
    Convergence is checked by the Kuhn-Tucker conditions, not by a small change.

    References
    ----------
    Turnbull BW (1976). The empirical distribution function with arbitrarily grouped, censored
    and truncated data. JRSS B 38:290-295. Peto R (1973). Experimental survival curves for
    interval-censored data. Applied Statistics 22:86-91. Wang Y (2008). Dimension-reduced
    nonparametric maximum likelihood computation for interval-censored data. Computational
    Statistics & Data Analysis 52:2388-2402.
    """
    result = turnbull_quiet(lower, upper, tolerance=tolerance, max_iterations=max_iterations, timefix=timefix)
    for note in result.notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    return result


def turnbull_quiet(lower: Any, upper: Any, tolerance: float = 1e-10, max_iterations: int = 1_000,
                   timefix: bool = True) -> TurnbullResult:
    """``turnbull`` without warnings: problems are only recorded in ``.notes`` (for callers that
    report them in their own results)."""
    lower_values, upper_values = as_bounds(lower, upper, allow_zero_exact=True)
    if timefix:
        lower_values, upper_values = tied_bounds(lower_values, upper_values)
    obs_lower, obs_upper, weight = pool_bounds(lower_values, upper_values)
    return turnbull_pooled(obs_lower, obs_upper, weight, tolerance=tolerance, max_iterations=max_iterations)


def pool_bounds(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identical (lower, upper) observations pooled: the distinct pairs sorted by lower, then
    upper, and how many times each occurs (float weights), from bounds checked by ``as_bounds``
    (and tied by ``tied_bounds`` for ``turnbull``'s default timefix: values are compared exactly)."""
    pooled_lower, pooled_upper, inverse = pool_index(lower, upper)
    return pooled_lower, pooled_upper, np.bincount(inverse, minlength=len(pooled_lower)).astype(float)


def pool_index(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (lower, upper) pairs of ``pool_bounds`` and each observation's pair
    (``inverse``): a resample of the observations with counts c has the pair counts
    ``np.bincount(inverse, c)``."""
    order = np.lexsort((upper, lower))
    lower, upper = lower[order], upper[order]
    new_pair = np.r_[True, (lower[1:] != lower[:-1]) | (upper[1:] != upper[:-1])]
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(new_pair) - 1
    return lower[new_pair], upper[new_pair], inverse


def turnbull_pooled(obs_lower: np.ndarray, obs_upper: np.ndarray, weight: np.ndarray, tolerance: float = 1e-10,
                    max_iterations: int = 1_000, start: TurnbullResult | None = None) -> TurnbullResult:
    """``turnbull_quiet`` on observations already checked and pooled by ``pool_bounds``
    (distinct pairs sorted by lower, then upper, with their counts as ``weight``). A bootstrap
    replicate is the same pairs with new counts: pairs with count 0 are dropped here, so the
    replicates skip checking and pooling again. ``start``: a fit of similar data (the full
    data's NPMLE for a replicate) whose masses start the iterations (each moved to the first
    innermost interval ending at or after its interval), so fewer Newton steps are needed; the
    optimum and its convergence check are the same."""
    from analysis.longitudinal._design import single_thread_blas

    # the Newton steps' k x k solves: one BLAS thread is faster on 2 shared cores (20,000
    # patients: 4.4 s of CPU threaded, 0.8 s on one thread)
    with single_thread_blas():
        return _fit_pooled(obs_lower, obs_upper, weight, tolerance, max_iterations, start)


def _fit_pooled(obs_lower: np.ndarray, obs_upper: np.ndarray, weight: np.ndarray, tolerance: float,
                max_iterations: int, start: TurnbullResult | None) -> TurnbullResult:
    """``turnbull_pooled``'s fit (BLAS already limited to one thread)."""
    used = weight > 0
    if not used.all():
        obs_lower, obs_upper, weight = obs_lower[used], obs_upper[used], weight[used]
    exact, right, left, interval = censoring_kinds(obs_lower, obs_upper)
    n = int(weight.sum())
    obs_exact = exact
    left_values, right_values = _innermost_intervals(obs_lower, obs_upper, obs_exact)
    m = len(left_values)
    # interval j lies in observation i when it starts at/after the observation's lower bound and
    # ends at/before its upper bound; an open observation (a, b] excludes a closed point at a.
    first = np.where(
        obs_exact,
        np.searchsorted(left_values, obs_lower, side="left"),
        np.searchsorted(right_values, obs_lower, side="right"),
    )
    last = np.searchsorted(right_values, obs_upper, side="right") - 1
    if np.any(last < first):
        raise RuntimeError("internal error: an observation contains no innermost interval")
    total = weight.sum()

    def covered_mass(prob: np.ndarray) -> np.ndarray:
        cumulative = np.concatenate(([0.0], np.cumsum(prob)))
        return cumulative[last + 1] - cumulative[first]

    def log_likelihood(prob: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            return float(np.sum(weight * np.log(covered_mass(prob))))

    def multiplier(prob: np.ndarray) -> np.ndarray:
        """d_j = (1/N) sum_i w_i [j in obs i] / P_i: max d_j = 1 at the NPMLE, = 1 on its support."""
        ratio = weight / covered_mass(prob)
        difference = np.bincount(first, ratio, minlength=m + 1) - np.bincount(last + 1, ratio, minlength=m + 1)
        return np.cumsum(difference[:m]) / total

    # Constrained Newton method (Wang 2008): grow the support where the gradient exceeds its
    # optimum, solve the quadratic approximation of the log-likelihood by non-negative least
    # squares on the support, then backtrack (Armijo) to keep the likelihood increasing.
    # Plain self-consistency (EM) converges sublinearly where masses must reach zero.
    # Start from the fewest innermost intervals that every observation covers (greedy stabbing):
    # the Newton steps then work on a small support and grow it only where the gradient says so.
    stabbing = _stabbing_set(first, last, limit=_MAX_SUPPORT)
    probability = np.full(m, 1.0 / m)
    if stabbing is not None:
        probability = np.zeros(m)
        probability[stabbing] = 1.0 / len(stabbing)
    if start is not None and len(start.table):
        moved = np.minimum(np.searchsorted(right_values, start.table["upper"].to_numpy(float), side="left"), m - 1)
        warm = np.bincount(moved, start.table["probability"].to_numpy(float), minlength=m)
        # every observation needs some mass: mix in the stabbing start where the moved masses miss one
        probability = warm if (covered_mass(warm) > 0).all() else 0.5 * (warm + probability)
        probability = probability / probability.sum()
    # Far from the optimum a Newton step (a k x k solve) gains little more than a cheap EM step,
    # so on a large support accelerated EM steps first bring the masses near it (20,000 patients:
    # 15 -> 3 Newton iterations). They only choose where the Newton iterations start; the optimum
    # is theirs. On a small support Newton steps are cheap and the EM cycles would not repay.
    if np.count_nonzero(probability) >= _EM_MIN_SUPPORT:
        for _ in range(_EM_CYCLES):
            probability = _squarem_cycle(probability, multiplier, log_likelihood, covered_mass)
    converged = False
    iterations = 0
    excess = np.inf
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - iteration count is reported
        gradient = multiplier(probability)
        excess = float(gradient.max()) - 1.0
        if excess < tolerance:
            converged = True
            break
        support = probability > 0
        padded = np.concatenate(([-np.inf], gradient, [-np.inf]))
        local_max = (gradient >= padded[:-2]) & (gradient >= padded[2:])
        candidates = np.flatnonzero(local_max & (gradient > 1.0) & ~support)
        if len(candidates) > _MAX_NEW_POINTS:
            candidates = candidates[np.argsort(gradient[candidates])[-_MAX_NEW_POINTS:]]
        support[candidates] = True
        support_index = np.flatnonzero(support)
        if len(support_index) > _MAX_SUPPORT:
            # too many candidate masses for a Newton step: one self-consistency (EM) step instead
            proposal = probability * gradient
        else:
            solution = _quadratic_step(first, last, weight, covered_mass(probability), support_index, total,
                                       probability[support_index])
            proposal = np.zeros(m)
            proposal[support_index] = solution
        proposal = proposal / proposal.sum()
        direction = proposal - probability
        slope = float(direction @ (gradient * total))
        current = log_likelihood(probability)
        step = 1.0
        while step > 1e-12:
            trial = probability + step * direction
            if log_likelihood(trial) >= current + step * slope / 3.0:
                break
            step /= 2.0
        if step <= 1e-12:
            # the quadratic step failed; fall back to one self-consistency (EM) step
            trial = probability * gradient
        trial = np.where(trial > 0, trial, 0.0)
        probability = trial / trial.sum()
        # at the limit of floating-point accuracy the likelihood stops rising before the
        # Kuhn-Tucker excess reaches `tolerance`; accept a near-optimal point there
        if log_likelihood(probability) - current <= 1e-13 * max(1.0, abs(current)) and excess < _STALL_EXCESS:
            converged = True
            break
    notes: list[str] = []
    if not converged:
        notes.append(f"Turnbull NPMLE did not converge in {max_iterations} iterations (gradient excess {excess:.2g})")
    loglik = log_likelihood(probability)
    # masses EM only drives towards zero (never exactly reaching it) are reported as zero
    support = probability > _NEGLIGIBLE_MASS
    probability = np.where(support, probability, 0.0)
    probability /= probability.sum()
    keep_probability = probability[support]
    survival = np.clip(1.0 - np.cumsum(keep_probability), 0.0, 1.0)
    table = pd.DataFrame(
        {
            "lower": left_values[support],
            "upper": right_values[support],
            "probability": keep_probability,
            "survival": survival,
        }
    )
    return TurnbullResult(
        table=table,
        n=n,
        n_exact=int(weight[exact].sum()),
        n_right=int(weight[right].sum()),
        n_left=int(weight[left].sum()),
        n_interval=int(weight[interval].sum()),
        loglik=loglik,
        iterations=iterations,
        converged=converged,
        tolerance=tolerance,
        notes=tuple(notes),
    )


def _squarem_cycle(probability: np.ndarray, multiplier: Any, log_likelihood: Any, covered_mass: Any) -> np.ndarray:
    """One SQUAREM cycle (Varadhan and Roland 2008, scheme S3) of Turnbull's self-consistency
    (EM) map ``p -> p * multiplier(p)``: two EM steps, the squared extrapolation from them
    (negative masses set to zero), one EM step from there, kept only if its likelihood is no
    lower than after the two plain EM steps (else those).

    Varadhan R, Roland C (2008). Simple and globally convergent methods for accelerating the
    convergence of any EM algorithm. Scandinavian Journal of Statistics 35:335-353."""
    once = probability * multiplier(probability)
    twice = once * multiplier(once)
    r = once - probability
    v = twice - once - r
    curvature = float(v @ v)
    if curvature <= 0:
        return twice
    alpha = min(-np.sqrt(float(r @ r) / curvature), -1.0)
    extrapolated = np.maximum(probability - 2.0 * alpha * r + alpha * alpha * v, 0.0)
    extrapolated /= extrapolated.sum()
    if not (covered_mass(extrapolated) > 0).all():  # an observation left without mass
        return twice
    stabilised = extrapolated * multiplier(extrapolated)
    return stabilised if log_likelihood(stabilised) >= log_likelihood(twice) else twice


def _quadratic_step(
    first: np.ndarray,
    last: np.ndarray,
    weight: np.ndarray,
    covered: np.ndarray,
    support_index: np.ndarray,
    total: float,
    start: np.ndarray,
) -> np.ndarray:
    """Non-negative least-squares step of the constrained Newton method on the support.

    Minimises ``sum_i w_i ((A p)_i / P_i - 2)^2 + c (sum p - 1)^2`` over p >= 0 with A the
    0/1 matrix "support interval j lies in observation i". The n x k matrix is never formed:
    each observation covers a contiguous run of support intervals, so the k x k Gram matrix is
    a two-dimensional cumulative sum of the weights by (first, last) run ends.
    """
    k = len(support_index)
    if len(first) * k <= _DENSE_LIMIT:
        scale = np.sqrt(weight) / covered
        design = ((first[:, None] <= support_index[None, :]) & (support_index[None, :] <= last[:, None])) * scale[:, None]
        # a heavily weighted row holds the masses to a total of 1
        penalty = 1e3 * np.sqrt(total)
        design = np.vstack((design, np.full((1, k), penalty)))
        target = np.append(2.0 * np.sqrt(weight), penalty)
        return optimize.nnls(design, target, maxiter=50 * k + 100)[0]
    # Large data: the same problem with the masses' total held at exactly 1, solved on the
    # cumulative masses (see _banded_step), so memory and time stay O(n + k w) per solve.
    return _banded_step(first, last, weight / covered**2, 2.0 * weight / covered, support_index, start)


def _banded_step(first: np.ndarray, last: np.ndarray, scaled: np.ndarray, ratio: np.ndarray,
                 support_index: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Minimise ``q(p) = sum_i s_i (A p)_i^2 / 2 - sum_i r_i (A p)_i`` over ``p >= 0, sum p = 1``
    (``s`` = ``scaled``, ``r`` = ``ratio``; A as in ``_quadratic_step``).

    Lawson-Hanson active-set method warm-started at the feasible point ``start`` (the current
    masses: positive on the previous support, 0 on the new candidates), so a step that keeps the
    support costs one solve. On a set of masses, with cumulative sums C (C_0 = 0, C_last = 1),
    observation i holds ``C_b - C_a``: q is a weighted graph Laplacian in C whose bandwidth is
    the longest run of support intervals inside one bounded observation (right- and
    left-censored ones tie C to the fixed ends), so each solve is a banded Cholesky.
    """
    k = len(support_index)

    def covering_sum(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
        lo = np.searchsorted(positions, first, side="left")
        hi = np.searchsorted(positions, last, side="right")
        size = len(positions)
        return np.cumsum(np.bincount(lo, values, minlength=size + 1) - np.bincount(hi, values, minlength=size + 1))[:size]

    def solve(positions: np.ndarray) -> np.ndarray:
        size = len(positions)
        if size == 1:
            return np.ones(1)
        a = np.searchsorted(positions, first, side="left")  # C node before the observation's run
        b = np.searchsorted(positions, last, side="right")  # C node after it
        keep = b > a
        a, b, s, r = a[keep], b[keep], scaled[keep], ratio[keep]
        diagonal = np.bincount(a, s, minlength=size + 1) + np.bincount(b, s, minlength=size + 1)
        rhs = np.bincount(b, r, minlength=size + 1) - np.bincount(a, r, minlength=size + 1)
        rhs += np.bincount(a, np.where(b == size, s, 0.0), minlength=size + 1)  # C_size = 1 is fixed
        inner = (a >= 1) & (b <= size - 1)
        offset = b[inner] - a[inner]
        width = int(offset.max()) if len(offset) else 0
        free = size - 1
        ridge = 1e-12 * float(diagonal[1:size].mean())

        def dense(symmetric: bool) -> np.ndarray:
            """The matrix, or only its upper triangle (all a Cholesky factorisation reads)."""
            matrix = -np.bincount((a[inner] - 1) * free + (b[inner] - 1), s[inner],
                                  minlength=free * free).reshape(free, free)
            if symmetric:
                matrix += matrix.T
            matrix[np.diag_indices(free)] = diagonal[1:size] + ridge
            return matrix

        cumulative = None
        try:
            if width > free // 8:
                # wide band (long intervals): a dense Cholesky is faster than the banded one
                factor = linalg.cho_factor(dense(symmetric=False), overwrite_a=True, check_finite=False)
                cumulative = linalg.cho_solve(factor, rhs[1:size], check_finite=False)
            else:
                band = np.zeros((width + 1, free))
                band[width] = diagonal[1:size] + ridge
                if width:
                    cells = np.bincount((width - offset) * free + (b[inner] - 1), s[inner],
                                        minlength=(width + 1) * free)
                    band[:width] -= cells.reshape(width + 1, free)[:width]
                cumulative = linalg.solveh_banded(band, rhs[1:size], check_finite=False)
        except linalg.LinAlgError:
            pass
        if cumulative is None or not np.isfinite(cumulative).all():
            # cumulative masses the data do not pin down (singular system): least-norm solution
            cumulative = np.linalg.lstsq(dense(symmetric=True), rhs[1:size], rcond=None)[0]
        return np.diff(np.r_[0.0, cumulative, 1.0])

    linear = covering_sum(ratio, support_index)
    tolerance = 1e-10 * float(np.abs(linear).max())
    x = np.where(start > 0, start, 0.0)
    passive = x > 0
    first_pass = True
    bulk_rounds = 0
    for _ in range(3 * k + 10):
        z = np.zeros(k)
        z[passive] = solve(support_index[passive])
        blocked = passive & (z <= 0)
        if blocked.any() and bulk_rounds < _BULK_ROUNDS:
            # drop every mass the solve sends below zero at once (x stays the last feasible point)
            bulk_rounds += 1
            passive &= z > 0
            continue
        if blocked.any():
            passive |= x > 0  # the Lawson-Hanson step below starts from the feasible x
            z[passive] = solve(support_index[passive])
            blocked = passive & (z <= 0)
        if blocked.any():
            # move from x towards z until the first passive mass reaches zero, and free it
            gap = x[blocked] - z[blocked]  # > 0, or 0 for a new candidate the solve left at zero
            alpha = float(np.min(np.divide(x[blocked], gap, out=np.zeros(len(gap)), where=gap > 0)))
            x = x + alpha * (z - x)
            passive &= x > 0
            x = np.where(passive, x, 0.0)
            continue
        x = z
        # Kuhn-Tucker condition of the zero masses (with the multiplier of sum p = 1, the common
        # gradient on the passive set): add the most violated one
        cumulative = np.r_[0.0, np.cumsum(x)]
        lo = np.searchsorted(support_index, first, side="left")
        hi = np.searchsorted(support_index, last, side="right")
        gradient = covering_sum(scaled * (cumulative[hi] - cumulative[lo]), support_index) - linear
        dual = float(np.mean(gradient[passive])) - gradient
        dual[passive] = -np.inf
        j = int(np.argmax(dual))
        if dual[j] <= tolerance:
            break
        if first_pass:
            # the new candidates all at once (usually all of them enter the support), then
            # one at a time as in Lawson-Hanson
            passive |= dual > tolerance
            first_pass = False
        else:
            passive[j] = True
    return x


def _stabbing_set(first: np.ndarray, last: np.ndarray, limit: int) -> np.ndarray | None:
    """Fewest interval indices such that every run [first_i, last_i] contains one (None if > limit).

    Greedy: the smallest run end is chosen; the runs starting after it are left, and the next
    point is the smallest end among them, ``next_point[point]`` = min of ``last`` over runs with
    ``first > point`` (a suffix minimum over ``first``), so each step is one look-up."""
    if not len(last):
        return np.zeros(0, dtype=np.intp)
    size = int(last.max()) + 2
    smallest_end = np.full(size, size, dtype=np.intp)  # size: no run starts there
    np.minimum.at(smallest_end, first, last)
    next_point = np.minimum.accumulate(smallest_end[::-1])[::-1][1:].tolist()  # over first >= point + 1
    chosen = [int(last.min())]
    while next_point[chosen[-1]] < size:
        if len(chosen) >= limit:
            return None
        chosen.append(next_point[chosen[-1]])
    return np.asarray(chosen, dtype=np.intp)
