"""The Trajectories page's residual checks (the mixed model's and the MMRM's) are lazy expanders,
as Table 1 on the Data page: closed, the page computes no residuals and draws no residual chart,
and a caption says what opening shows; opened (in the URL, so a shared link keeps them open), the
charts are drawn from the models' own residual checks and are in the page's HTML report."""

from __future__ import annotations

import pytest

from analysis.longitudinal.repeated_measures import ChangeModel
from analysis.longitudinal.trajectories import TrajectoryModel
from dashboard import report
from tests.dashboard.apptest import clean, new_server_process, open_page, plotted

RESIDUAL_CHARTS = ("Mixed model: residuals against fitted values", "Mixed model: residuals against time",
                   "MMRM: residuals against fitted values")
RESIDUAL_SECTIONS = ("Mixed model residual check", "Mixed model residual check by time", "MMRM residual check")


@pytest.fixture
def residual_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The residual methods of both models called in this test (``Class.method`` per call), with
    none of their results cached before."""
    called: list[str] = []
    for owner in (TrajectoryModel, ChangeModel):
        for name in ("residuals", "residual_check"):
            original = getattr(owner, name)

            def counting(self, *args, _original=original, _name=f"{owner.__name__}.{name}", **kwargs):
                called.append(_name)
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(owner, name, counting)
    new_server_process()
    return called


def _titles(at) -> list[str]:
    return [figure.get("layout", {}).get("title", {}).get("text", "") for figure in plotted(at)]


def test_closed_residual_checks_compute_and_draw_nothing(residual_calls, page_reports):
    at = open_page("trajectories")
    clean(at)
    assert residual_calls == []
    titles = _titles(at)
    assert not [t for t in titles if "residuals" in t], titles
    assert len(titles) == 2  # the trajectory and the mixed model's fit
    expanders = {e.key: e for e in at.expander if e.key in ("lmm_residuals", "mmrm_residuals")}
    assert set(expanders) == {"lmm_residuals", "mmrm_residuals"}
    captions = [c.value for c in at.caption]
    assert sum(c.startswith("Open to compute and draw the residuals") for c in captions) == 2
    assert not {s.title for s in page_reports[-1].sections} & set(RESIDUAL_SECTIONS)


def test_opened_residual_checks_are_drawn_and_reported(residual_calls, page_reports):
    at = open_page("trajectories", lmm_residuals="true", mmrm_residuals="true")
    clean(at)
    assert sorted(set(residual_calls)) == ["ChangeModel.residual_check", "ChangeModel.residuals",
                                           "TrajectoryModel.residual_check", "TrajectoryModel.residuals"]
    titles = _titles(at)
    assert all(any(chart in t for t in titles) for chart in RESIDUAL_CHARTS), titles
    assert len(titles) == 5
    captions = " ".join(c.value for c in at.caption)
    assert "Residual = observed score - fitted" in captions and "Residual = observed change" in captions
    assert not any(c.value.startswith("Open to compute and draw the residuals") for c in at.caption)
    sections = [s.title for s in page_reports[-1].sections]
    assert set(RESIDUAL_SECTIONS) <= set(sections)
    buttons = {b.key for b in at.button if b.label == "Add to report"}
    assert {f"add_figure_trajectories_{report.slug(s)}" for s in RESIDUAL_SECTIONS} <= buttons


def test_opening_one_residual_check_computes_only_its_model(residual_calls):
    at = open_page("trajectories")
    clean(at)
    at.session_state["mmrm_residuals"] = True  # as clicking the expander open does
    at.run()
    clean(at)
    assert set(residual_calls) == {"ChangeModel.residual_check", "ChangeModel.residuals"}
    titles = _titles(at)
    assert any(RESIDUAL_CHARTS[2] in t for t in titles)
    assert not any(c in t for t in titles for c in RESIDUAL_CHARTS[:2])
