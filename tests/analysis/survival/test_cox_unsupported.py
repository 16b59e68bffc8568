"""Cox rows the data cannot support: a level without events has no finite hazard ratio (the
partial likelihood rises monotonically as its coefficient goes to -inf; R's coxph warns
"coefficient may be infinite"). CoxResult.level_counts counts each level's rows and events
(checked against pandas.crosstab, a second implementation), per_unit_hazard_ratios marks such
rows "not estimable" with the reason instead of HR 0 (0-inf), and the forest plot prints it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import figures
from analysis.survival.cox import cox


def _frame(seed: int = 3) -> pd.DataFrame:
    """300 subjects at sites a/b/c with exponential times; site d: 6 subjects, all censored."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["a", "b", "c"], size=300, p=[0.5, 0.3, 0.2])
    age = rng.normal(45, 12, 300)
    hazard = 0.05 * np.exp(0.4 * (site == "b") - 0.3 * (site == "c") + 0.02 * (age - 45))
    time = rng.exponential(1 / hazard)
    censor = rng.uniform(5, 60, 300)
    frame = pd.DataFrame({"site": site, "age": age, "days": np.minimum(time, censor), "event": time <= censor})
    rare = pd.DataFrame({"site": "d", "age": rng.normal(45, 12, 6), "days": rng.uniform(10, 40, 6), "event": False})
    return pd.concat([frame, rare], ignore_index=True)


def _fit(frame: pd.DataFrame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the non-convergence warning is the point
        return cox(frame, duration="days", event="event", covariates=["age", "site"], **options)


def test_level_counts_equal_a_crosstab():
    frame = _frame()
    fit = _fit(frame)
    counts = fit.level_counts.set_index("level")
    table = pd.crosstab(frame["site"], frame["event"])
    assert list(counts.index) == ["a", "b", "c", "d"]  # the reference (first sorted level) first
    assert counts.loc["a", "term"] is None and counts.loc["d", "term"] == "site[d]"
    np.testing.assert_array_equal(counts["n"], table.sum(axis=1).loc[counts.index])
    np.testing.assert_array_equal(counts["events"], table[True].reindex(counts.index, fill_value=0))
    assert set(fit.level_counts["covariate"]) == {"site"}  # a continuous covariate has no levels


def test_a_level_without_events_is_not_estimable_and_says_why():
    fit = _fit(_frame())
    assert not fit.converged and fit.table.loc["site[d]", "coef"] < -10  # running off to -inf
    per_unit = figures.per_unit_hazard_ratios(fit)
    row = per_unit.loc["site[d]"]
    assert row["note"] == "not estimable: no relapse among the 6 responders at d"
    assert np.isnan(row[["hr", "hr_lower", "hr_upper", "p"]].to_numpy(float)).all()
    assert (row["n"], row["events"], row["n_reference"]) == (6, 0, fit.level_counts.iloc[0]["n"])
    supported = per_unit.drop(index="site[d]")
    assert supported["note"].eq("").all()
    assert np.isfinite(supported[["hr", "hr_lower", "hr_upper", "p"]].to_numpy(float)).all()
    # the estimable rows are the fit's, per unit (age per 10 years)
    assert supported.loc["site[b]", "hr"] == pytest.approx(fit.table.loc["site[b]", "hr"])
    assert supported.loc["age", "hr"] == pytest.approx(fit.table.loc["age", "hr"] ** 10)
    assert np.isnan(supported.loc["age", "n"])


def test_a_reference_without_events_makes_every_level_of_it_not_estimable():
    frame = _frame()
    frame["site"] = pd.Categorical(frame["site"], categories=["d", "a", "b", "c"])  # d is the reference
    per_unit = figures.per_unit_hazard_ratios(_fit(frame))
    notes = per_unit.loc[["site[a]", "site[b]", "site[c]"], "note"]
    assert notes.eq("not estimable: no relapse among the 6 responders at d").all()
    assert per_unit.loc["age", "note"] == ""


def test_without_the_rare_level_every_row_is_estimated():
    frame = _frame()
    per_unit = figures.per_unit_hazard_ratios(_fit(frame[frame["site"] != "d"]))
    assert per_unit["note"].eq("").all()


def test_the_forest_prints_the_reason_and_draws_no_point():
    per_unit = figures.per_unit_hazard_ratios(_fit(_frame()))
    figure = figures.forest_figure(per_unit)
    points, rows = figure.data[0], next(t for t in figure.data if t.mode == "text")
    labels = [y.replace("<br>", " ") for y in rows.y]
    text = dict(zip(labels, [t.replace("<br>", " ") for t in rows.text], strict=True))
    assert text["site: d vs a"] == "not estimable: no relapse among the 6 responders at d"
    assert "inf" not in " ".join(rows.text) and "0.000" not in text["site: d vs a"]
    x = dict(zip(labels, points.x, strict=True))
    assert np.isnan(x["site: d vs a"]) and np.isfinite(x["site: b vs a"])
    assert all(np.isfinite(figure.layout.xaxis.tickvals))
