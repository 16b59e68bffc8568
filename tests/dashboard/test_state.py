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
