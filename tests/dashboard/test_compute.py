"""dashboard.compute's display caches: a cached figure reaches the browser with a fixed
``layout.datarevision`` (so plotly.js takes the chart's second, equal copy as unchanged instead of
drawing it again), and the sidebar's patient counts are counted once per dataset and filters."""

from __future__ import annotations

from types import SimpleNamespace

import plotly.graph_objects as go

from dashboard import compute
from dashboard.state import Settings
from tests.dashboard.apptest import clean, clean_page, plotted


def test_a_cached_figure_reaches_the_chart_with_a_fixed_datarevision():
    at = clean_page("onset", dataset="sample")
    first = plotted(at)
    assert first and all(chart["layout"]["datarevision"] == 1 for chart in first)
    at.run()  # from the cache: the same figure, so the same chart element
    clean(at)
    assert plotted(at) == first


def test_a_figure_builder_is_called_once_and_its_figure_kept_as_built():
    built = []

    def builder(points: list[float]) -> go.Figure:
        built.append(points)
        return go.Figure(go.Scatter(y=points))

    ctx = SimpleNamespace(settings=Settings(dataset="sample-datarevision-test"))
    first = compute.cached_figure(ctx, "test", builder, [1.0, 2.0], key="k")
    again = compute.cached_figure(ctx, "test", builder, [1.0, 2.0], key="k")
    assert again is first and len(built) == 1
    assert first.layout.datarevision == 1
    assert list(first.data[0].y) == [1.0, 2.0]


class _Counted:
    """Stands for an OutcomeData: counts how often its patients are counted."""

    def __init__(self, n: int):
        self.n, self.counted = n, 0

    @property
    def n_patients(self) -> int:
        self.counted += 1
        return self.n


def test_the_sidebar_counts_patients_once_per_dataset_and_filters():
    settings = Settings(dataset="sample-count-test")
    full, kept = _Counted(300), _Counted(120)
    filtered = Settings(dataset="sample-count-test", diagnosis=("TRD",))
    for _ in range(3):
        assert compute.patient_count(settings, full, filtered=False) == 300
        assert compute.patient_count(filtered, kept) == 120
    assert full.counted == 1 and kept.counted == 1
    other = _Counted(80)  # other filters: counted anew
    assert compute.patient_count(Settings(dataset="sample-count-test", sex=("F",)), other) == 80
    assert other.counted == 1


def test_the_instrument_choice_puts_depression_scales_first():
    from types import SimpleNamespace

    from dashboard.compute import outcome_instruments

    survey = SimpleNamespace(instruments=["GAD-7", "PCL-5", "PHQ-9", "CADSS"])
    assert outcome_instruments(survey) == ["PHQ-9", "GAD-7", "PCL-5"]  # a PHQ-9 + GAD-7 form opens on PHQ-9
    assert outcome_instruments(SimpleNamespace(instruments=["QIDS-SR16", "MADRS", "CADSS"])) == ["MADRS", "QIDS-SR16"]
