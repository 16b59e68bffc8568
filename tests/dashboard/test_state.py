"""Settings -> analysis arguments (the mapping every page and every Python snippet relies on)."""

from __future__ import annotations

from dashboard.state import DATASET_PATTERN, Settings, _range


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
    for good in ("sample", "simulated-10000-0", "upload-0123456789abcdef"):
        assert DATASET_PATTERN.match(good)
    for bad in ("../etc/passwd", "upload-XYZ", "simulated-1e9-0", "sample; rm", "upload-0123456789abcdef0"):
        assert not DATASET_PATTERN.match(bad)
