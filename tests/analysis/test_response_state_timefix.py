"""fit_response_state ties days equal up to rounding error once over all patients, for each of
its two curves, as R's ``survfit(Surv(lower, upper, type = "interval2"))`` does (``timefix``,
aeqSurv) before its Turnbull fit.

Reference: R 4.2.2, survival 3.5.3. ``R_SCRIPT`` was run with ``Rscript``; its printed output is
pasted verbatim below it. The data: 20 patients (14 responders) rated 40, 80, 110 and 230 min and
24 h after infusions given at clock hours 0, 48 and 96. As in ``derive_endpoints``, hours since
the infusion and days since the response are differences of clock times, so 40 min after the
infusion at 48 h is 0.6666666666666643 h and at 96 h 0.6666666666666714 h, and an interval's
lower end computed as ``upper - width`` lies ulps off another patient's upper end: untied, the
230-min pair (0.15972222222222221 vs ...224 days) is a sliver the response NPMLE puts 0.1 on
(0.05 off R's P(in response) at 230 min). The comparison days are bounds of one curve outside
the other's innermost intervals, where both NPMLEs are unique.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis.endpoints import derive_endpoints
from analysis.errors import AnalysisError
from analysis.response_state import fit_response_state, state_intervals
from benchmarks.bench_endpoints import numpy_dataset

R_SCRIPT = r"""
library(survival)
cat("#", R.version.string, "survival", format(packageVersion("survival")), "\n")
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.17g", x)), collapse = ", "), "]\n", sep = "")
# responders: onset between m_a and m_b minutes after the infusion given at clock hour inf_h,
# relapse between the clock hours rel_lo and rel_hi (Inf: none seen); hours since the infusion
# and days since the response computed as differences of clock times (as derive_endpoints does)
inf_h <- c(0, 0, 0, 0, 0, 0, 48, 48, 48, 96, 96, 96, 0, 48)
m_a <- c(0, 40, 40, 80, 110, 0, 0, 40, 80, 0, 40, 110, 230, 230)
m_b <- c(40, 80, 80, 110, 230, 40, 40, 80, 110, 40, 110, 230, 1440, 1440)
rel_lo <- c(24 + 2/3, 48 + 2/3, 96 + 2/3, 24 + 2/3, 48 + 2/3, 72, 96 + 2/3, 72, 168, 168, 96 + 2/3 + 24, 240, 48 + 2/3, 168)
rel_hi <- c(48 + 2/3, 96 + 2/3, Inf, 72, 96 + 2/3, Inf, 168, 96 + 2/3, Inf, 240, 168, Inf, 168, 240)
last_nr <- c(72, 168, 240, 240, 96 + 2/3, 336)  # non-responders' last rating (clock hours)
onset_lower_hours <- (inf_h + m_a / 60) - inf_h
onset_upper_hours <- (inf_h + m_b / 60) - inf_h
onset_time_hours <- inf_h + m_b / 60
relapse_lower_days <- (rel_lo - onset_time_hours) / 24   # origin: the response
relapse_upper_days <- (rel_hi - onset_time_hours) / 24
# fit_response_state's intervals (days since the first infusion; a non-responder censored at
# the last rating for both)
response_lower <- c(pmax(onset_time_hours / 24 - (onset_upper_hours - onset_lower_hours) / 24, 0), last_nr / 24)
response_upper <- c(onset_time_hours / 24, rep(Inf, 6))
relapse_lower <- c(onset_time_hours / 24 + relapse_lower_days, last_nr / 24)
relapse_upper <- c(onset_time_hours / 24 + relapse_upper_days, rep(Inf, 6))
for (v in c("onset_lower_hours", "onset_upper_hours", "onset_time_hours", "relapse_lower_days",
            "relapse_upper_days", "response_lower", "response_upper", "relapse_lower", "relapse_upper"))
  py(toupper(v), get(v))
na_inf <- function(u) ifelse(is.finite(u), u, NA)
response <- survfit(Surv(response_lower, na_inf(response_upper), type = "interval2") ~ 1)  # timefix = TRUE
relapse <- survfit(Surv(relapse_lower, na_inf(relapse_upper), type = "interval2") ~ 1)
# days where both NPMLEs are unique: bounds of one curve outside the other's innermost intervals
days <- c(0, 40, 80, 110, 230, 1440) / 1440
days <- c(days, 1 + 40 / 1440, 2 + 40 / 1440, 4 + 40 / 1440, 4 + 110 / 1440, 4 + 230 / 1440, 5 + 40 / 1440, 7, 10)
py("DAYS", days)
s_response <- summary(response, times = days, extend = TRUE)$surv
s_relapse <- summary(relapse, times = days, extend = TRUE)$surv
py("S_RESPONSE", s_response); py("S_RELAPSE", s_relapse)
py("IN_RESPONSE", pmin(pmax(s_relapse - s_response, 0), 1))
"""

Inf = np.inf  # how R prints infinity

# ---- R output, pasted verbatim ----
# R version 4.2.2 Patched (2022-11-10 r83330) survival 3.5.3
ONSET_LOWER_HOURS = [0, 0.66666666666666663, 0.66666666666666663, 1.3333333333333333, 1.8333333333333333, 0, 0, 0.6666666666666643, 1.3333333333333357, 0, 0.6666666666666714, 1.8333333333333286, 3.8333333333333335, 3.8333333333333357]
ONSET_UPPER_HOURS = [0.66666666666666663, 1.3333333333333333, 1.3333333333333333, 1.8333333333333333, 3.8333333333333335, 0.66666666666666663, 0.6666666666666643, 1.3333333333333357, 1.8333333333333357, 0.6666666666666714, 1.8333333333333286, 3.8333333333333286, 24, 24]
ONSET_TIME_HOURS = [0.66666666666666663, 1.3333333333333333, 1.3333333333333333, 1.8333333333333333, 3.8333333333333335, 0.66666666666666663, 48.666666666666664, 49.333333333333336, 49.833333333333336, 96.666666666666671, 97.833333333333329, 99.833333333333329, 24, 72]
RELAPSE_LOWER_DAYS = [1, 1.9722222222222221, 3.9722222222222228, 0.95138888888888895, 1.8680555555555554, 2.9722222222222219, 2.0000000000000004, 0.94444444444444431, 4.9236111111111107, 2.9722222222222219, 0.95138888888888928, 5.8402777777777786, 1.0277777777777777, 4]
RELAPSE_UPPER_DAYS = [2, 3.9722222222222228, Inf, 2.9236111111111112, 3.8680555555555558, Inf, 4.9722222222222223, 1.9722222222222223, Inf, 5.9722222222222214, 2.9236111111111112, Inf, 6, 7]
RESPONSE_LOWER = [0, 0.027777777777777776, 0.027777777777777776, 0.055555555555555552, 0.076388888888888909, 0, 2, 2.0277777777777777, 2.0555555555555554, 3.9999999999999996, 4.0277777777777777, 4.0763888888888893, 0.15972222222222221, 2.1597222222222223, 3, 7, 10, 10, 4.0277777777777777, 14]
RESPONSE_UPPER = [0.027777777777777776, 0.055555555555555552, 0.055555555555555552, 0.076388888888888881, 0.15972222222222224, 0.027777777777777776, 2.0277777777777777, 2.0555555555555558, 2.0763888888888888, 4.0277777777777777, 4.0763888888888884, 4.1597222222222223, 1, 3, Inf, Inf, Inf, Inf, Inf, Inf]
RELAPSE_LOWER = [1.0277777777777777, 2.0277777777777777, 4.0277777777777786, 1.0277777777777779, 2.0277777777777777, 2.9999999999999996, 4.0277777777777786, 3, 7, 7, 5.0277777777777777, 10, 2.0277777777777777, 7, 3, 7, 10, 10, 4.0277777777777777, 14]
RELAPSE_UPPER = [2.0277777777777777, 4.0277777777777786, Inf, 3, 4.0277777777777777, Inf, 7, 4.0277777777777786, Inf, 10, 7, Inf, 7, 10, Inf, Inf, Inf, Inf, Inf, Inf]
DAYS = [0, 0.027777777777777776, 0.055555555555555552, 0.076388888888888895, 0.15972222222222221, 1, 1.0277777777777777, 2.0277777777777777, 4.0277777777777777, 4.0763888888888893, 4.1597222222222223, 5.0277777777777777, 7, 10]
S_RESPONSE = [1, 0.90000000000000002, 0.79999999999999993, 0.74999999999999989, 0.69999999999999996, 0.65000000000000002, 0.65000000000000002, 0.60000000000000009, 0.39374999999999999, 0.328125, 0.26250000000000001, 0.26250000000000001, 0.26250000000000001, 0.26250000000000001]
S_RELAPSE = [1, 1, 1, 1, 1, 1, 1, 0.91655513821837786, 0.70179516343251869, 0.70179516343251869, 0.70179516343251869, 0.70179516343251869, 0.53816659604716455, 0.35877773069810975]
IN_RESPONSE = [0, 0.099999999999999978, 0.20000000000000007, 0.25000000000000011, 0.30000000000000004, 0.34999999999999998, 0.34999999999999998, 0.31655513821837777, 0.3080451634325187, 0.37367016343251869, 0.43929516343251868, 0.43929516343251868, 0.27566659604716454, 0.096277730698109742]
# ---- end of R output ----

INFUSION_HOURS = np.array([0, 0, 0, 0, 0, 0, 48, 48, 48, 96, 96, 96, 0, 48], dtype=float)
ONSET_AFTER_MIN = np.array([0, 40, 40, 80, 110, 0, 0, 40, 80, 0, 40, 110, 230, 230], dtype=float)
SEEN_AFTER_MIN = np.array([40, 80, 80, 110, 230, 40, 40, 80, 110, 40, 110, 230, 1440, 1440], dtype=float)
RELAPSE_AFTER_H = np.array([24 + 2 / 3, 48 + 2 / 3, 96 + 2 / 3, 24 + 2 / 3, 48 + 2 / 3, 72, 96 + 2 / 3, 72, 168, 168,
                            96 + 2 / 3 + 24, 240, 48 + 2 / 3, 168])
RELAPSE_SEEN_H = np.array([48 + 2 / 3, 96 + 2 / 3, np.inf, 72, 96 + 2 / 3, np.inf, 168, 96 + 2 / 3, np.inf, 240, 168,
                           np.inf, 168, 240])
NONRESPONDER_LAST_H = np.array([72, 168, 240, 240, 96 + 2 / 3, 336])


def state_endpoints(onset_lower_hours: np.ndarray | None = None):
    """Endpoints of the 20 patients of R_SCRIPT (14 responders, then 6 non-responders), their
    onset and relapse columns replaced; relapse days are counted from the response."""
    onset_lower = (INFUSION_HOURS + ONSET_AFTER_MIN / 60) - INFUSION_HOURS
    if onset_lower_hours is not None:
        onset_lower = onset_lower_hours
    onset_upper = (INFUSION_HOURS + SEEN_AFTER_MIN / 60) - INFUSION_HOURS
    onset_time = INFUSION_HOURS + SEEN_AFTER_MIN / 60
    with np.errstate(invalid="ignore"):
        relapse_lower, relapse_upper = (RELAPSE_AFTER_H - onset_time) / 24, (RELAPSE_SEEN_H - onset_time) / 24
    never = np.full(len(NONRESPONDER_LAST_H), np.nan)
    endpoints = derive_endpoints(numpy_dataset(40, seed=5), instrument="MADRS")
    patients = endpoints.patients.head(20).assign(
        responded=np.r_[np.ones(14, bool), np.zeros(6, bool)],
        onset_lower_hours=np.r_[onset_lower, never], onset_upper_hours=np.r_[onset_upper, np.full(6, np.inf)],
        onset_time_hours=np.r_[onset_time, never], durability_origin_hours=np.r_[onset_time, never],
        relapse_lower_days=np.r_[relapse_lower, never], relapse_upper_days=np.r_[relapse_upper, never],
        last_rating_hours=np.r_[np.full(14, 336.0), NONRESPONDER_LAST_H])
    return dataclasses.replace(endpoints, patients=patients)


def test_the_data_are_r_scripts_and_have_near_ties():
    patients = state_endpoints().patients
    for column in ("onset_lower_hours", "onset_upper_hours", "onset_time_hours", "relapse_lower_days",
                   "relapse_upper_days"):
        assert np.array_equal(patients[column].to_numpy(float)[:14], globals()[column.upper()]), column
    intervals = state_intervals(patients)
    for name, values in intervals.items():
        assert np.array_equal(values, globals()[name.upper()]), name  # R fitted these very floats
    # the 230-min pair: one patient's response lower end 3e-17 days below another's upper end
    assert 0 < RESPONSE_UPPER[4] - RESPONSE_LOWER[12] < 1e-16


def test_probability_in_response_matches_r_survfit_interval2():
    from analysis.survival.turnbull import turnbull_quiet

    state = fit_response_state(state_endpoints(), n_bootstrap=0)
    at = state.at(DAYS)
    # R's EM stops once no survival value moves by 5e-5: it leaves 1.5e-4 on the relapse curve
    assert_allclose(at["in_response"], IN_RESPONSE, atol=1e-3)
    # every float as given (the code before ties), the response NPMLE puts 0.1 on the sliver
    # at 230 min: 0.05 off R there
    untied = turnbull_quiet(RESPONSE_LOWER, RESPONSE_UPPER, timefix=False).survival_at(DAYS)["survival"]
    assert np.max(np.abs(untied.to_numpy() - S_RESPONSE)) > 0.04


def test_interval_collapsing_to_length_zero_is_refused_naming_the_patient():
    onset_lower = (INFUSION_HOURS + ONSET_AFTER_MIN / 60) - INFUSION_HOURS
    onset_lower[12] = 24.0 - 1e-14  # 24 h seen, lower end 1e-14 h before: a few ulps long in days
    endpoints = state_endpoints(onset_lower)
    with pytest.raises(AnalysisError, match="length 0") as error:
        fit_response_state(endpoints, n_bootstrap=0)
    assert str(endpoints.patients["patient_id"].iloc[12]) in str(error.value)

