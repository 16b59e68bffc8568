"""Overview, Durability, Onset and Compare through AppTest, grouped by course and dose band: the
figures the pages draw are read back from the chart (plotly JSON) and checked against the
analysis calls they show."""

from __future__ import annotations

import re

import pytest

import analysis
from analysis import figures
from analysis.figures.survival import median_text, p_value_line
from tests.dashboard.apptest import clean_page, plotted
from tests.dashboard.snippets import shown_snippets


def _annotations(chart: dict) -> str:
    return " ".join(a.get("text", "") for a in chart["layout"].get("annotations", []))


def _risk_rows(chart: dict) -> list[dict]:
    return [t for t in chart["data"] if t.get("mode") == "text" and t.get("name", "").endswith("at risk")]


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


@pytest.mark.parametrize(("group", "by"), [("course", "course"), ("dose band", "dose_band")])
def test_durability_page_draws_the_fit_with_its_risk_table_on_the_ticks(sample, group, by):
    at = clean_page("durability", group=group)
    chart = plotted(at)[0]
    fit = analysis.fit_durability(sample, by=by, origin="response")  # the page counts from response by default
    ticks = chart["layout"]["xaxis"]["tickvals"]
    assert all(b - a == 7 for a, b in zip(ticks, ticks[1:], strict=False))
    rows = _risk_rows(chart)
    assert [r["name"].removesuffix(" at risk") for r in rows] == [str(g) for g in fit.summary().index]
    for row in rows:
        assert row["x"] == ticks
    text = _annotations(chart)
    for level, values in fit.summary().iterrows():
        assert f"{level}: " + median_text(values["median_days"], values["median_days_lower"],
                                          values["median_days_upper"], "d") in text
    assert "Log-rank" in text
    names = [t.get("name") for t in chart["data"] if t.get("showlegend", True) and t.get("name")]
    assert "Kaplan-Meier at the detection visit" in names
    assert any("interval-censored" in n for n in names)


def test_durability_page_rescue_as_competing_risk_shows_the_cumulative_incidence(sample):
    at = clean_page("durability", group="course", rescue="competing risk")
    chart = plotted(at)[0]
    assert "cumulative incidence" in chart["layout"]["yaxis"]["title"]["text"]
    assert any("Aalen-Johansen" in c.value for c in at.caption)
    code = next(c for c in shown_snippets(at) if "fit_durability" in c)
    assert "'rescue': 'competing'" in code  # the snippet runs the same strategy


def test_durability_page_with_many_groups_draws_one_panel_each(sample):
    at = clean_page("durability", group="diagnosis")
    chart = plotted(at)[0]
    levels = [str(g) for g in analysis.fit_durability(sample, by="diagnosis").summary().index]
    assert len(_risk_rows(chart)) == len(levels) > figures.MAX_OVERLAID_GROUPS
    one = clean_page("durability", group="diagnosis", durability_panels="one")
    chart = plotted(one)[0]
    rows = _risk_rows(chart)
    assert len(rows) == len(levels) and len({r.get("xaxis") for r in rows}) == 1  # one table under one panel
    assert not any(t.get("fill") == "tonexty" for t in chart["data"])
    assert any("Bands are left out" in c.value for c in one.caption)


@pytest.mark.parametrize("group", ["course", "dose band"])
def test_compare_forest_rows_are_per_unit_and_equal_the_cox_model(sample, group):
    at = clean_page("compare", group=group)
    at.multiselect(key="cox_covariates").set_value(["first_dose_mg_per_kg", "age", "diagnosis"]).run()
    forest = next(c for c in plotted(at) if "Hazard ratio" in c["layout"]["xaxis"]["title"]["text"])
    counts = sample.patients["diagnosis"].value_counts()
    most_common = sorted(counts.index, key=lambda level: (-counts[level], level))[0]
    cox = analysis.relapse_hazards(sample, covariates=["first_dose_mg_per_kg", "age", "diagnosis"],
                                   reference={"diagnosis": most_common})
    expected = figures.per_unit_hazard_ratios(cox)
    assert expected.loc[expected.index.str.startswith("diagnosis["), "unit"].eq(f"vs {most_common}").all()
    rows = next(t for t in forest["data"] if t.get("mode") == "text")
    labels = [y.replace("<br>", " ") for y in rows["y"]]  # long labels are wrapped
    assert "Dose (first infusion), per 0.1 mg/kg" in labels and "Age, per 10 years" in labels
    for label, text in zip(labels, rows["text"], strict=True):
        row = expected[expected["label"] == label].iloc[0]
        assert text.startswith(f"{row['hr']:.2f} ({row['hr_lower']:.2f}") or row["hr_lower"] < 0.1
    # the per-0.1 mg/kg HR is the 10th root of the per-1 mg/kg one
    assert expected.loc["first_dose_mg_per_kg", "hr"] ** 10 == pytest.approx(cox.table.loc["first_dose_mg_per_kg", "hr"])


def test_compare_says_who_had_the_day_1_visit(sample):
    """The issue's case: grouped by diagnosis, "day 1" exists only in the single-infusion schedule."""
    at = clean_page("compare", group="diagnosis")
    statement = next(m.value for m in at.markdown if "had a 'day 1' rating" in m.value)
    rated = analysis.responder_rates(sample, by="course", time="visit").table
    day1 = rated[(rated["outcome"] == "response") & (rated["time_point"].astype(str) == "day 1")]
    total = analysis.responder_rates(sample, by="course", time="any").table
    n_total = int(total[total["outcome"] == "response"]["n"].sum())
    match = re.search(r"(\d+) of (\d+) patients had a 'day 1' rating", statement)
    assert (int(match.group(1)), int(match.group(2))) == (int(day1["n"].sum()), n_total)
    assert "single-infusion schedule only" in statement


def test_overview_draws_the_probability_in_response_and_gives_reasons_not_na(sample):
    at = clean_page("overview")
    charts = plotted(at)
    state = next(c for c in charts if "in response" in c["layout"]["yaxis"]["title"]["text"])
    points = next(t for t in state["data"] if t.get("name") == "All patients at days")
    expected = analysis.fit_response_state(sample).at([1, 7, 14, 28])
    assert points["text"] == [f"{100 * v:.0f}%" for v in expected["in_response"]]
    # an upper limit beyond follow-up: the card says why, in the library's words
    limited = clean_page("overview", relapse="score threshold", relapse_score="50")
    expected = analysis.fit_durability(sample, relapse=50.0).summary().iloc[0]
    assert expected["median_days_upper"] != expected["median_days_upper"]  # NaN: not estimable
    captions = " ".join(c.value for c in limited.caption)
    assert "upper confidence limit of the median lies beyond the last follow-up" in captions
    assert "n/a" not in captions and "inf" not in captions.split()


def test_onset_page_colours_follow_the_sidebar_reference(sample):
    at = clean_page("onset", group="course", reference="series")
    chart = plotted(at)[0]
    colors = {t["name"]: t["line"]["color"] for t in chart["data"]
              if t.get("name") in ("single", "series") and t.get("showlegend", True)}
    assert colors == {"series": figures.OKABE_ITO[0], "single": figures.OKABE_ITO[1]}


def test_compare_by_course_names_the_visit_it_compares(sample):
    at = clean_page("compare", group="course")
    point = at.selectbox(key="compare_time").value
    assert any(f"had a '{point}' rating" in m.value for m in at.markdown)


def test_durability_page_with_a_competing_strategy_prints_grays_test(sample):
    at = clean_page("durability", group="course", rescue="competing risk")
    fit = analysis.fit_durability(sample, by="course", origin="response", intercurrent={"rescue": "competing"})
    gray = fit.gray_test.set_index("event").loc[1]
    # on the plot as the figure writes it, and in words under it with the page's precision
    assert p_value_line("Gray's test", gray["p_value"], gray["statistic"], gray["dof"]) in _annotations(plotted(at)[0])
    words = next(m.value for m in at.markdown if "Gray's test across course" in m.value)
    assert f"chi-square {gray['statistic']:.2f} on {int(gray['dof'])} df, p = {gray['p_value']:.3g}" in words
    assert "cause-specific hazard of relapse" in next(m.value for m in at.markdown if "Log-rank test" in m.value)
