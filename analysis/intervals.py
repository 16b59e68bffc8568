"""Confidence intervals for proportions (Wilson score and Clopper-Pearson exact), vectorised.

Shared by the onset fits and the responder analyses, so every response rate in the project
uses the same interval::

    from analysis.intervals import proportion_interval
    lower, upper = proportion_interval(17, 24, method="wilson")
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["clopper_pearson_interval", "proportion_interval", "wilson_interval"]

METHODS = ("wilson", "clopper-pearson")


def _prepare(successes, n):
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    k, m = np.broadcast_arrays(k, m)
    if np.any(k < 0) or np.any(k > m):
        raise ValueError("successes must lie between 0 and n.")
    return k, m


def _out(lower, upper, scalar: bool):
    if scalar:
        return float(lower), float(upper)
    return lower, upper


def wilson_interval(successes, n, alpha: float = 0.05):
    """Wilson score interval for a binomial proportion (no continuity correction).

    Parameters
    ----------
    successes, n : int or array-like
        Number of successes and of trials (broadcast together). ``n == 0`` gives NaN.
    alpha : float
        1 - confidence level.

    Returns
    -------
    (lower, upper) : floats for scalar input, arrays otherwise.

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22:209-212. Same as R's ``prop.test(correct = FALSE)`` and statsmodels'
    ``proportion_confint(method="wilson")``.
    """
    scalar = np.ndim(successes) == 0 and np.ndim(n) == 0
    k, m = _prepare(successes, n)
    z = stats.norm.isf(alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
        lower = np.clip(centre - half, 0.0, 1.0)
        upper = np.clip(centre + half, 0.0, 1.0)
    # exact end points where the formula's rounding would miss them
    lower = np.where(k == 0, 0.0, lower)
    upper = np.where(k == m, 1.0, upper)
    lower = np.where(m > 0, lower, np.nan)
    upper = np.where(m > 0, upper, np.nan)
    return _out(lower, upper, scalar)


def clopper_pearson_interval(successes, n, alpha: float = 0.05):
    """Clopper-Pearson ("exact") interval from beta quantiles; as R's ``binom.test``.

    References
    ----------
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 26:404-413.
    """
    scalar = np.ndim(successes) == 0 and np.ndim(n) == 0
    k, m = _prepare(successes, n)
    with np.errstate(invalid="ignore"):
        lower = np.where(k > 0, stats.beta.ppf(alpha / 2, k, m - k + 1), 0.0)
        upper = np.where(k < m, stats.beta.ppf(1 - alpha / 2, k + 1, m - k), 1.0)
    lower = np.where(m > 0, lower, np.nan)
    upper = np.where(m > 0, upper, np.nan)
    return _out(lower, upper, scalar)


def proportion_interval(successes, n, method: str = "wilson", alpha: float = 0.05):
    """Confidence interval for ``successes / n``; ``method`` is "wilson" or "clopper-pearson"."""
    key = method.lower().replace("_", "-").replace(" ", "-")
    if key == "wilson":
        return wilson_interval(successes, n, alpha)
    if key in ("clopper-pearson", "exact"):
        return clopper_pearson_interval(successes, n, alpha)
    raise ValueError(f"method={method!r}: use one of {METHODS}.")
