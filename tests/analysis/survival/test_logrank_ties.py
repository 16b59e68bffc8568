"""Times equal up to rounding error are ties, as in R's survival (``aeqSurv``, ``survdiff``'s
default ``timefix = TRUE``): 0.1 + 0.2 and 0.3, 2 and 2.0000000000000004, 0.7 * 3 and 2.1 are
one time each. Reference: R 4.2.2, survival 3.5.3 (script and output below)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.survival._common import TIE_TOLERANCE, tied_times
from analysis.survival.logrank import logrank

R_SCRIPT = """
library(survival)
d <- data.frame(time = c(0.1 + 0.2, 0.3, 0.3, 1, 2, 2.0000000000000004, 2, 3, 4, 5, 0.7 * 3, 2.1, 6),
                event = c(1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0),
                group = c("a", "b", "a", "b", "a", "b", "b", "a", "b", "a", "a", "b", "b"))
fit <- survdiff(Surv(time, event) ~ group, data = d)
cat(sprintf("timefix chisq %.12f p %.12g expected %.12f %.12f\\n", fit$chisq,
            pchisq(fit$chisq, 1, lower.tail = FALSE), fit$exp[1], fit$exp[2]))
"""
R_OUTPUT = "timefix chisq 0.306254246606 p 0.579987877154 expected 4.211965811966 4.788034188034"

TIME = np.array([0.1 + 0.2, 0.3, 0.3, 1, 2, 2.0000000000000004, 2, 3, 4, 5, 0.7 * 3, 2.1, 6])
EVENT = np.array([1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0])
GROUP = np.array(["a", "b", "a", "b", "a", "b", "b", "a", "b", "a", "a", "b", "b"])


def test_near_ties_are_ties_as_in_r_survdiff():
    assert len(np.unique(TIME)) == 11 and len(np.unique(tied_times(TIME))) == 8  # 3 pairs: last bits only
    result = logrank(TIME, EVENT, GROUP)
    assert result.statistic == pytest.approx(0.306254246606, rel=1e-10)
    assert result.p_value == pytest.approx(0.579987877154, rel=1e-10)
    np.testing.assert_allclose(result.table["expected"], [4.211965811966, 4.788034188034], rtol=1e-11)


def test_without_timefix_the_near_ties_are_separate_times():
    fixed = logrank(TIME, EVENT, GROUP)
    unfixed = logrank(TIME, EVENT, GROUP, timefix=False)
    assert abs(unfixed.statistic - fixed.statistic) > 1e-3  # the old behaviour, different from R
    # rounding the times by hand gives the R answer too
    exact = logrank(np.round(TIME, 9), EVENT, GROUP, timefix=False)
    assert exact.statistic == pytest.approx(fixed.statistic, rel=1e-12)


def test_tied_times_joins_a_chain_to_its_smallest_value_and_keeps_the_rest():
    step = TIE_TOLERANCE / 2
    time = np.array([5.0, 1.0, 1.0 + step, 1.0 + 2 * step, 3.0, np.inf, 3.0 * (1 + 1e-12)])
    out = tied_times(time)
    np.testing.assert_array_equal(out[[1, 2, 3]], [1.0, 1.0, 1.0])
    assert out[0] == 5.0 and out[4] == out[6] == 3.0 and np.isinf(out[5])
    distinct = np.array([0.5, 1.0, 2.0])
    assert tied_times(distinct) is distinct  # nothing to join: the input itself
