"""Proportion intervals against R (prop.test without continuity correction; binom.test).

R 4.2 script that produced the reference numbers::

    for (x in list(c(0,10),c(1,10),c(17,24),c(10,10),c(59,100),c(3,7))) {
      w <- prop.test(x[1], x[2], correct=FALSE)$conf.int
      b <- binom.test(x[1], x[2])$conf.int
      cat(sprintf("(%d, %d, %.10f, %.10f, %.10f, %.10f),\\n", x[1], x[2], w[1], w[2], b[1], b[2]))
    }
    prop.test(17, 24, correct=FALSE, conf.level=0.9)$conf.int  # 0.5410221295 0.8334319615
    binom.test(17, 24, conf.level=0.9)$conf.int                # 0.5212720941 0.8543135197
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from analysis.intervals import clopper_pearson_interval, proportion_interval, wilson_interval

R_REFERENCE = [
    (0, 10, 0.0000000000, 0.2775327999, 0.0000000000, 0.3084971078),
    (1, 10, 0.0178762131, 0.4041500268, 0.0025285785, 0.4450161170),
    (17, 24, 0.5083230634, 0.8508535180, 0.4890521861, 0.8738479115),
    (10, 10, 0.7224672001, 1.0000000000, 0.6915028922, 1.0000000000),
    (59, 100, 0.4920143005, 0.6813268698, 0.4871442038, 0.6873800234),
    (3, 7, 0.1582198553, 0.7495416355, 0.0989882784, 0.8159484324),
]


@pytest.mark.parametrize(("k", "n", "wl", "wu", "bl", "bu"), R_REFERENCE)
def test_scalar_against_r(k, n, wl, wu, bl, bu):
    assert_allclose(wilson_interval(k, n), (wl, wu), rtol=1e-8, atol=1e-10)
    assert_allclose(clopper_pearson_interval(k, n), (bl, bu), rtol=1e-8, atol=1e-10)
    assert isinstance(wilson_interval(k, n)[0], float)


def test_vectorised_and_alpha():
    ref = np.array(R_REFERENCE)
    lower, upper = proportion_interval(ref[:, 0], ref[:, 1], method="wilson")
    assert_allclose(lower, ref[:, 2], rtol=1e-8, atol=1e-10)
    assert_allclose(upper, ref[:, 3], rtol=1e-8, atol=1e-10)
    lower, upper = proportion_interval(ref[:, 0], ref[:, 1], method="clopper-pearson")
    assert_allclose(np.c_[lower, upper], ref[:, 4:], rtol=1e-8, atol=1e-10)
    assert_allclose(wilson_interval(17, 24, alpha=0.1), (0.5410221295, 0.8334319615), rtol=1e-8)
    assert_allclose(clopper_pearson_interval(17, 24, alpha=0.1), (0.5212720941, 0.8543135197), rtol=1e-8)


def test_empty_and_invalid():
    assert np.isnan(wilson_interval(0, 0)).all()
    assert np.isnan(clopper_pearson_interval(0, 0)).all()
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        proportion_interval(1, 3, method="wald")


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_contains_estimate(kn):
    k, n = kn
    for lower, upper in (wilson_interval(k, n), clopper_pearson_interval(k, n)):
        assert 0 <= lower <= k / n <= upper <= 1
