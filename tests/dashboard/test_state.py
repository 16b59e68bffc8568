"""Settings -> analysis arguments (the mapping every page and every Python snippet relies on),
and the dataset names a link may use."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from dashboard import compute
from dashboard.state import MIN_CELL_FLOOR, Settings, _range

RENDER = MarkdownIt("gfm-like", {"linkify": True}).enable("linkify")


def test_filters_leave_out_what_is_not_used():
    assert Settings().filters() == {}
    settings = Settings(diagnosis=("TRD",), dose_range=(0.4, 0.6), age_range=(18.0, 65.0))
    assert settings.filters() == {"diagnosis": ["TRD"], "dose_range": (0.4, 0.6), "age_range": (18.0, 65.0)}


def test_relapse_rules_map_to_the_endpoint_arguments():
    assert Settings().endpoint_options() == {"instrument": "MADRS", "response": 0.5,
                                             "relapse": "loss_of_response", "confirm_visits": 1}
    absolute = Settings(relapse_rule="absolute", relapse_score=22, remission=8.0, confirm_visits=2)
    assert absolute.endpoint_options()["relapse"] == 22.0
    assert absolute.endpoint_options()["remission"] == 8.0
    assert absolute.endpoint_options()["confirm_visits"] == 2
    fraction = Settings(relapse_rule="fraction_of_baseline", relapse_fraction=0.8)
    assert fraction.endpoint_options()["relapse"] == ("fraction_of_baseline", 0.8)
    assert Settings(group="none").by is None and Settings(group="route").by == "route"


def test_a_full_range_is_no_filter():
    assert _range((0.0, 2.0), (0.0, 2.0)) is None
    assert _range((0.2, 2.0), (0.0, 2.0)) == (0.2, 2.0)


def test_only_known_dataset_names_are_accepted():
    assert compute.parse_dataset("sample") == ("sample", 0, 0)
    assert compute.parse_dataset("simulated-10000-0") == ("simulated", 10_000, 0)
    assert compute.parse_dataset("upload-0123456789abcdef")[0] == "upload"
    for bad in ("../etc/passwd", "upload-XYZ", "simulated-1e9-0", "sample; rm", "upload-0123456789abcdef0",
                "simulated-20001-0", "simulated-12345-0", f"simulated-1000-{compute.MAX_SEED + 1}",
                "simulated-1000-0-0", "[x](https://evil.example)"):
        with pytest.raises(compute.InvalidDataset) as refused:
            compute.parse_dataset(bad)
        # the refused value is named, escaped: no markdown link or image survives
        assert "dataset=" in str(refused.value)
        assert "<a " not in RENDER.render(str(refused.value))


def test_the_default_cell_size_is_the_server_floor():
    assert Settings().min_cell_size == MIN_CELL_FLOOR >= 1


def test_group_options_map_to_the_analysis_grouping():
    from dashboard.state import AGE_BANDS_YEARS, GROUPS

    assert {"none", "course", "dose band", "route", "diagnosis", "sex", "age band"} <= set(GROUPS)
    assert Settings(group="course").by == "course"
    assert Settings(group="dose band").by == "dose_band"
    assert Settings(group="age band", group_bins=AGE_BANDS_YEARS).grouping() == \
        {"by": "age", "bins": list(AGE_BANDS_YEARS)}
    assert Settings(group="smoker").by == "smoker"  # a user covariate: the column itself
    assert Settings(group="smoker").group_label == "smoker"
    assert Settings(group="none").grouping() == {"by": None}


def test_call_arguments_add_cut_points_and_reference_only_to_the_sidebar_grouping():
    settings = Settings(group="age band", group_bins=(0.0, 34.0, 120.0), reference="age 35-80")
    accepts = {"by", "group_bins", "reference"}
    assert settings.call_arguments(accepts, {"by": "age", "instrument": "MADRS"}) == {
        "by": "age", "instrument": "MADRS", "group_bins": [0.0, 34.0, 120.0], "reference": "age 35-80"}
    assert settings.call_arguments(accepts, {"by": "sex"}) == {"by": "sex"}  # another grouping: untouched
    assert settings.call_arguments(accepts, {"instrument": "MADRS"}) == {"instrument": "MADRS"}
    assert settings.call_arguments({"by"}, {"by": "age"}) == {"by": "age"}  # not accepted: not passed
    given = {"by": "age", "reference": "age 18-34"}
    assert settings.call_arguments(accepts, given)["reference"] == "age 18-34"  # the page's own choice wins


def test_call_arguments_follow_the_function_signatures():
    settings = Settings(group="course", reference="series")
    ctx = type("Ctx", (), {"settings": settings})()
    assert compute.call_arguments(ctx, "fit_durability", {"by": "course"}) == {"by": "course", "reference": "series"}
    assert compute.call_arguments(ctx, "table_one", {"by": "course"}) == {"by": "course"}  # no reference=


def test_user_covariates_are_the_datasets_own_groupable_columns():
    import analysis

    data = analysis.load_sample()
    n = len(data.patients)
    patients = data.patients.assign(smoker=["yes", "no"] * (n // 2) + ["yes"] * (n % 2),
                                    bmi=[20.0 + i % 17 for i in range(n)],
                                    note=[f"free text {i}" for i in range(n)], constant="x")
    data = type(data)(assessments=data.assessments, infusions=data.infusions, patients=patients)
    assert compute.user_covariates(data) == ["smoker", "bmi"]  # not free text, not a constant, not course


def test_result_sizes_are_measured_without_pickling_the_data_they_refer_to():
    import analysis

    data = analysis.load_sample()
    endpoints = analysis.derive_endpoints(data)
    rates = analysis.responder_rates(data, time="any")
    whole = compute.nbytes(endpoints)
    assert whole >= int(endpoints.ratings.memory_usage(deep=False).sum())
    # the endpoints a result carries are held (and counted) where they are cached
    assert compute.nbytes(rates) < whole
    assert compute.nbytes(rates) >= int(rates.table.memory_usage(deep=False).sum())
