"""A chosen reference level for Cox covariates: the model is the same, reparametrised, so each
log hazard ratio against the new reference equals the old one minus the new reference's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.survival.cox import cox


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def test_relapse_hazards_compare_against_the_chosen_level(sample):
    covariates = ["diagnosis", "first_dose_mg_per_kg"]
    alphabetical = analysis.relapse_hazards(sample, covariates=covariates).table["coef"]
    levels = sorted(t.removeprefix("diagnosis[").removesuffix("]") for t in alphabetical.index
                    if t.startswith("diagnosis["))
    first = sorted(sample.patients["diagnosis"].dropna().unique())[0]
    chosen = levels[-1]
    releveled = analysis.relapse_hazards(sample, covariates=covariates, reference={"diagnosis": chosen})
    coef = releveled.table["coef"]
    assert f"diagnosis[{chosen}]" not in coef.index and f"diagnosis[{first}]" in coef.index
    shift = alphabetical[f"diagnosis[{chosen}]"]
    for level in levels:
        if level != chosen:
            assert coef[f"diagnosis[{level}]"] == pytest.approx(alphabetical[f"diagnosis[{level}]"] - shift, abs=1e-6)
    assert coef[f"diagnosis[{first}]"] == pytest.approx(-shift, abs=1e-6)
    assert coef["first_dose_mg_per_kg"] == pytest.approx(alphabetical["first_dose_mg_per_kg"], abs=1e-6)
    assert releveled.loglik == pytest.approx(analysis.relapse_hazards(sample, covariates=covariates).loglik)


def test_an_unknown_reference_level_is_named(sample):
    with pytest.raises(ValueError, match="reference level 'nope' of covariate 'diagnosis'"):
        analysis.relapse_hazards(sample, covariates=["diagnosis"], reference={"diagnosis": "nope"})


def test_cox_codes_a_categorical_against_its_first_category():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"time": rng.exponential(10, 200), "event": rng.random(200) < 0.7,
                          "arm": rng.choice(["a", "b", "c"], 200)})
    by_text = cox(frame, duration="time", event="event", covariates=["arm"]).table["coef"]
    frame["arm"] = pd.Categorical(frame["arm"], categories=["c", "a", "b"])
    by_factor = cox(frame, duration="time", event="event", covariates=["arm"]).table["coef"]
    assert list(by_factor.index) == ["arm[a]", "arm[b]"]
    assert by_factor["arm[a]"] == pytest.approx(-by_text["arm[c]"], abs=1e-8)
    assert by_factor["arm[b]"] == pytest.approx(by_text["arm[b]"] - by_text["arm[c]"], abs=1e-8)
