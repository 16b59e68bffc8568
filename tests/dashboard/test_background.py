"""The Overview's probability-in-response band, computed in the background (dashboard.background):
the page draws the curve and its points at once and says in words that the band is being
computed; the band then appears, equal to the direct call's with the same seed, and the next
visitor gets it from the cache. The job stores its result under the key compute.run uses, stops
when nobody waits for it, and reports the analysis' error."""

from __future__ import annotations

import functools
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import analysis
from dashboard import background, compute
from dashboard.calls import Call
from dashboard.state import Settings
from tests.dashboard.apptest import clean, clean_page, plotted
from tests.dashboard.snippets import shown_snippets


@pytest.fixture(scope="module")
def sample() -> analysis.OutcomeData:
    return analysis.load_sample()


def _context(sample: analysis.OutcomeData) -> SimpleNamespace:
    return SimpleNamespace(settings=Settings(dataset="sample"), data=sample)


def _forget_results() -> None:
    for key in list(background._JOBS):
        background.wait(key)
    compute._RESULTS.discard_where(lambda key: isinstance(key, tuple) and key[0] == "fit_response_state")
    compute._RESULTS.discard_where(lambda key: isinstance(key, tuple) and key[0] == "figure:response_state")


def _state_chart(at) -> dict:
    return next(c for c in plotted(at) if "in response" in c["layout"]["yaxis"]["title"]["text"])


def _band_key() -> tuple:
    keys = [k for k in background._JOBS if k[0] == "fit_response_state"]
    assert len(keys) == 1, keys
    return keys[0]


@pytest.fixture
def gated(monkeypatch):
    """fit_response_state whose background run (the one given ``progress=``) waits for ``gate``."""
    gate = threading.Event()
    real = analysis.fit_response_state

    @functools.wraps(real)
    def fit(*args, **kwargs):
        if "progress" in kwargs:
            assert gate.wait(120), "the test did not open the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "fit_response_state", fit)
    _forget_results()
    yield gate
    gate.set()
    _forget_results()


def test_overview_draws_the_curve_at_once_then_the_band(sample, gated):
    at = clean_page("overview")
    chart = _state_chart(at)
    points = next(t for t in chart["data"] if t.get("name") == "All patients at days")
    direct = analysis.fit_response_state(sample).at([1, 7, 14, 28])
    assert points["text"] == [f"{100 * v:.0f}%" for v in direct["in_response"]]
    assert not [t for t in chart["data"] if t.get("fill")], "no band is drawn while it is computed"
    assert "95% CI" not in points["hovertemplate"]
    captions = " ".join(c.value for c in at.caption)
    assert "95% band: computing, 0 of 200 bootstrap replicates" in captions
    assert "still being computed (200 replicates)" in captions
    # the snippet is the call that produces the band
    code = next(c for c in shown_snippets(at) if "fit_response_state" in c)
    assert "n_bootstrap" not in code

    key = _band_key()
    gated.set()
    assert background.wait(key, 300)
    at.run()
    clean(at)
    chart = _state_chart(at)
    band = [t for t in chart["data"] if t.get("fill")]
    assert band, "the band is drawn once computed"
    points = next(t for t in chart["data"] if t.get("name") == "All patients at days")
    np.testing.assert_allclose(np.asarray(points["error_y"]["array"]) / 100,
                               (direct["upper"] - direct["in_response"]).to_numpy(), atol=1e-12)
    np.testing.assert_allclose(np.asarray(points["error_y"]["arrayminus"]) / 100,
                               (direct["in_response"] - direct["lower"]).to_numpy(), atol=1e-12)
    assert "95% CI" in points["hovertemplate"]
    assert not any("95% band: computing" in c.value for c in at.caption)

    # the next visitor gets the band at once, without a new job
    again = clean_page("overview")
    assert [t for t in _state_chart(again)["data"] if t.get("fill")]
    assert not [k for k in background._JOBS if k[0] == "fit_response_state"]


def test_the_job_stores_what_compute_run_would_and_equals_the_direct_call(sample):
    _forget_results()
    ctx = _context(sample)
    call = Call("fit_response_state", {"n_bootstrap": 30, "seed": 3}, name="state")
    progress = background.result_or_progress(ctx, call)
    assert isinstance(progress, background.Progress)
    assert background.result_or_progress(ctx, call).key == progress.key  # single flight: the same job
    assert background.wait(progress.key, 300)
    stored = compute._RESULTS.get(compute.run_key(ctx, call.function, dict(call.arguments)))
    assert stored is not None
    assert compute.run(ctx, call.function, "...", **call.arguments) is stored  # compute.run's own cache key
    assert background.result_or_progress(ctx, call) is stored
    direct = analysis.fit_response_state(sample, n_bootstrap=30, seed=3)
    assert stored.curve.equals(direct.curve)
    assert stored.table.equals(direct.table)
    _forget_results()


def test_a_job_nobody_waits_for_stops_and_starts_again_when_asked(sample, monkeypatch):
    _forget_results()
    monkeypatch.setattr(background, "ABANDON_S", -1.0)  # nobody has asked since "now"
    ctx = _context(sample)
    call = Call("fit_response_state", {"n_bootstrap": 40, "seed": 4}, name="state")
    progress = background.result_or_progress(ctx, call)
    assert background.wait(progress.key, 300)
    assert progress.key not in background._JOBS and progress.key not in compute._RESULTS
    assert background.progress(progress.key) is None
    assert background.result_or_progress(ctx, call, start=False) is None
    monkeypatch.setattr(background, "ABANDON_S", 600.0)
    assert isinstance(background.result_or_progress(ctx, call), background.Progress)
    assert background.wait(progress.key, 300)
    assert compute._RESULTS.get(progress.key) is not None
    _forget_results()


def test_the_analysis_error_reaches_the_page_that_asks(sample):
    ctx = _context(sample)
    call = Call("fit_response_state", {"n_bootstrap": -1}, name="state")
    key = compute.run_key(ctx, call.function, dict(call.arguments))
    with pytest.raises(analysis.AnalysisError, match="n_bootstrap=-1"):
        # the job may fail before the first answer: then that answer is the error
        background.result_or_progress(ctx, call)
        assert background.wait(key, 300)
        background.result_or_progress(ctx, call)
    with pytest.raises(analysis.AnalysisError, match="n_bootstrap=-1"):  # kept for the next page
        background.result_or_progress(ctx, call)
    background._JOBS.pop(key, None)


def test_the_job_gives_the_compute_slot_up_between_replicates(sample):
    """A page's computation started while a job runs waits one replicate, not the whole job."""
    _forget_results()
    ctx = _context(sample)
    call = Call("fit_response_state", {"n_bootstrap": 200, "seed": 5}, name="state")
    progress = background.result_or_progress(ctx, call)
    while background.progress(progress.key) is not None and background.progress(progress.key).done < 2:
        threading.Event().wait(0.01)
    with compute.compute_slots():
        # the slot taken while the job has replicates left to do
        now = background.progress(progress.key)
        assert now is not None and now.done < now.total
    assert background.wait(progress.key, 300)
    _forget_results()



def test_the_job_waits_between_replicates_while_a_page_is_drawn(sample, monkeypatch):
    _forget_results()
    monkeypatch.setattr(background, "GIVE_WAY_S", 600.0)
    ctx = _context(sample)
    call = Call("fit_response_state", {"n_bootstrap": 20, "seed": 6}, name="state")
    with compute.page_slot(None):  # a page run in progress
        assert compute.pages_drawing()
        progress = background.result_or_progress(ctx, call)
        assert not background.wait(progress.key, 3.0)
        assert background.progress(progress.key).done <= 1  # the first replicate, then it gives way
    assert background.wait(progress.key, 300)
    assert compute._RESULTS.get(progress.key) is not None
    _forget_results()


def test_a_job_starts_once_the_browser_has_had_time_to_draw_the_page(sample, monkeypatch):
    """A page run that just ended is still being drawn by its browser (served by this process): a
    job asked for then waits before its first step; only page runs in progress hold back its later
    steps."""
    _forget_results()
    monkeypatch.setattr(compute, "BROWSER_DRAW_S", 600.0)
    monkeypatch.setattr(background, "GIVE_WAY_S", 600.0)
    ctx = _context(sample)
    with compute.page_slot(None):
        pass
    assert compute.pages_drawing(compute.BROWSER_DRAW_S) and not compute.pages_drawing()
    call = Call("fit_response_state", {"n_bootstrap": 20, "seed": 7}, name="state")
    progress = background.result_or_progress(ctx, call)
    assert not background.wait(progress.key, 3.0)
    assert background.progress(progress.key).done == 0
    monkeypatch.setattr(compute, "_LAST_PAGE_END", [float("-inf")])  # the page drawn long ago
    assert background.wait(progress.key, 300)
    assert compute._RESULTS.get(progress.key) is not None
    _forget_results()


# --- large datasets: slow fits in the background on every page (compute.is_large) -------------------

_LARGE_PAGE_RESULTS = ("fit_trajectory", "trajectory", "visit_schedule", "fit_mmrm", "fit_durability",
                       "suicidality_course", "fit_response_state", "dissociation_response", "response_phenotypes")


@pytest.fixture
def large(monkeypatch):
    """The sample counted as a large dataset, with none of its results cached."""
    def forget() -> None:
        for key in list(background._JOBS):
            background.wait(key)
        compute._RESULTS.discard_where(lambda key: isinstance(key, tuple) and (
            key[0] in _LARGE_PAGE_RESULTS or str(key[0]).startswith(("figure:", "trajectory_", "mmrm_"))))

    monkeypatch.setattr(compute, "LARGE_DATASET_RATINGS", 0)
    forget()
    yield
    forget()


def _until_drawn(at, pending: str, runs: int = 4):
    """Run the page again after its jobs ended until no caption says ``pending`` is computing."""
    for _ in range(runs):
        if not any(f"{pending}: computing" in c.value for c in at.caption):
            return at
        for key in list(background._JOBS):
            assert background.wait(key, 300)
        at.run()
        clean(at)
    raise AssertionError(f"{pending} still computing after {runs} runs")


def test_trajectories_draws_the_models_later_with_the_direct_calls_numbers(sample, large):
    at = clean_page("trajectories")
    captions = " ".join(c.value for c in at.caption)
    assert "Mixed model: computing" in captions and "Visit schedule: computing" in captions
    assert plotted(at), "the trajectory figure is drawn at once"
    assert not [d for d in at.dataframe if "term" in d.value.columns or d.value.index.name == "term"]
    assert any("fit_trajectory(" in c for c in shown_snippets(at)), "the model's snippet is shown while it fits"
    _until_drawn(at, "Mixed model")
    _until_drawn(at, "MMRM")
    ctx = _context(sample)
    options = Settings().endpoint_options()
    model_key = compute.run_key(ctx, "fit_trajectory", {"by": None, "random": "~time", "time_origin": "first_infusion",
                                                        "time_effect": "piecewise", **options})
    stored = compute._RESULTS.get(model_key)
    assert stored is not None, "the job stored the model where compute.run looks"
    direct = analysis.fit_trajectory(sample, random="~time", time_origin="first_infusion", time_effect="piecewise",
                                     **options)
    np.testing.assert_allclose(stored.fixed["estimate"].to_numpy(float), direct.fixed["estimate"].to_numpy(float),
                               rtol=1e-10)
    mmrm = analysis.fit_mmrm(sample, covariance="unstructured", **options).lsmeans()
    shown = [d.value for d in at.dataframe if len(d.value) == len(mmrm) and d.value.shape[1] >= 3]
    assert shown, "the MMRM least-squares means are shown once fitted"
    captions = " ".join(c.value for c in at.caption)
    assert "computing" not in captions
    assert f"{direct.n_patients} patients" in captions


def test_trajectories_starts_the_default_mmrm_while_the_visit_schedule_is_computing(sample, large):
    # a visitor who leaves before the schedule is listed (the page's next run would ask for the fit)
    # leaves the fit under way for the next one: the default visits need no schedule
    at = clean_page("trajectories")
    assert any("Visit schedule: computing" in c.value for c in at.caption)
    ctx = _context(sample)
    key = compute.run_key(ctx, "fit_mmrm", {"by": None, "covariance": "unstructured", **Settings().endpoint_options()})
    assert key in background._JOBS or compute._RESULTS.get(key) is not None, "no job for the default MMRM"
    assert background.wait(key, 300)
    stored = compute._RESULTS.get(key)
    direct = analysis.fit_mmrm(sample, covariance="unstructured", **Settings().endpoint_options())
    pd.testing.assert_frame_equal(stored.lsmeans(), direct.lsmeans())
    _until_drawn(at, "Visit schedule")
    assert not any("MMRM: computing" in c.value for c in at.caption), "the page fitted the MMRM again"


def test_overview_durability_cards_wait_for_the_fit(sample, large):
    at = clean_page("overview")
    assert "computing..." in [m.value for m in at.metric]
    assert any("Durability fit: computing" in c.value for c in at.caption)
    _until_drawn(at, "Durability fit")
    _until_drawn(at, "Probability in response")
    durability = analysis.fit_durability(sample, **Settings().endpoint_options()).summary().iloc[0]
    assert f"{durability['median_days']:.1f} days" in [m.value for m in at.metric]
    assert "computing..." not in [m.value for m in at.metric]


@pytest.mark.parametrize(("page", "pending"), [("durability", "Durability curves"),
                                               ("symptoms", "Suicidality course"),
                                               ("symptoms", "Dissociation and improvement"),
                                               ("symptoms", "Response phenotypes")])
def test_pages_say_what_is_computing_then_draw_it(large, page, pending):
    at = clean_page(page)
    assert any(f"{pending}: computing" in c.value for c in at.caption)
    charts = len(plotted(at))
    _until_drawn(at, pending)
    assert len(plotted(at)) > charts


def test_the_newest_request_takes_the_slot_first(monkeypatch):
    now = background.time.monotonic()
    old = background._Job("old", asked=now - 10, wanted=now)
    new = background._Job("new", asked=now - 1, wanted=now)
    left = background._Job("left", asked=now, wanted=now - 10 * background.LIVE_S)  # no page polls it
    monkeypatch.setattr(background, "_WAITING", {old, new, left})
    assert background._first_in_line(new)
    assert not background._first_in_line(old) and not background._first_in_line(left)


def test_a_job_nobody_waits_for_stops_before_it_takes_the_slot(sample, monkeypatch):
    _forget_results()
    ctx = _context(sample)
    call = Call("fit_response_state", {"n_bootstrap": 10, "seed": 7}, name="state")
    with compute.compute_slots():  # the slot is busy: the job waits for it
        progress = background.result_or_progress(ctx, call)
        monkeypatch.setattr(background, "ABANDON_S", -1.0)
        assert background.wait(progress.key, 60), "the job stopped while the slot was still held"
        assert progress.key not in background._JOBS and progress.key not in compute._RESULTS
    _forget_results()


# --- the Trajectories summary prefetched once a large dataset is drawn (calls.prefetch_next) --------

@pytest.fixture
def counted_trajectories(monkeypatch):
    """analysis.trajectory recording the ``time`` of every call (page and background alike)."""
    times: list[str] = []
    real = analysis.trajectory

    @functools.wraps(real)
    def trajectory(*args, **kwargs):
        times.append(kwargs.get("time", "visit"))
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "trajectory", trajectory)
    return times


def _trajectory_key(ctx) -> tuple:
    from dashboard import calls

    call = calls.trajectory_call(ctx, "visit")
    return compute.run_key(ctx, call.function, dict(call.arguments))


def test_the_data_page_prefetches_the_trajectory_the_trajectories_page_then_finds(sample, large,
                                                                                 counted_trajectories):
    clean_page("data")
    ctx = _context(sample)
    key = _trajectory_key(ctx)
    assert background.wait(key, 300)
    stored = compute._RESULTS.get(key)
    assert stored is not None, "the Data page's run started the Trajectories summary"
    direct = analysis.trajectory(sample, time="visit", value="score", **Settings().endpoint_options())
    pd.testing.assert_frame_equal(stored.table, direct.table)
    counted_trajectories.clear()
    at = clean_page("trajectories")
    assert plotted(at)
    assert "visit" not in counted_trajectories, "the page computed the prefetched summary again"


def test_no_prefetch_for_small_or_filtered_data_nor_on_the_trajectories_page(sample, monkeypatch):
    from dashboard import calls

    started: list[Call] = []
    monkeypatch.setattr(background, "prefetch", lambda ctx, call: started.append(call))
    ctx = _context(sample)
    calls.prefetch_next(ctx, "overview")  # the sample is not large
    monkeypatch.setattr(compute, "LARGE_DATASET_RATINGS", 0)
    calls.prefetch_next(ctx, "trajectories")
    calls.prefetch_next(SimpleNamespace(settings=Settings(dataset="sample", diagnosis=("TRD",)), data=sample),
                        "overview")
    calls.prefetch_next(SimpleNamespace(settings=Settings(dataset="sample"), data=None), "")
    assert not started
    calls.prefetch_next(ctx, "overview")
    assert [c.function for c in started] == ["trajectory"] and started[0].arguments["time"] == "visit"


@pytest.fixture
def gated_trajectory(monkeypatch):
    """analysis.trajectory waiting for ``gate`` before it computes; its calls counted."""
    gate, calls_made = threading.Event(), []
    real = analysis.trajectory

    @functools.wraps(real)
    def trajectory(*args, **kwargs):
        calls_made.append(kwargs.get("time"))
        assert gate.wait(120), "the test did not open the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "trajectory", trajectory)
    return gate, calls_made


def test_a_page_joins_the_prefetch_computing_its_result(sample, large, gated_trajectory):
    from dashboard import calls

    gate, calls_made = gated_trajectory
    ctx = _context(sample)
    call = calls.trajectory_call(ctx, "visit")
    background.prefetch(ctx, call)
    key = _trajectory_key(ctx)
    while not calls_made:  # the job is computing
        threading.Event().wait(0.01)
    got: list = []
    page = threading.Thread(target=lambda: got.append(calls.run(ctx, call, "...")))
    page.start()
    page.join(0.5)
    assert page.is_alive(), "the page waits for the job instead of computing the result itself"
    gate.set()
    page.join(120)
    assert got and got[0] is compute._RESULTS.get(key)
    assert calls_made == ["visit"], "computed once"


def test_a_prefetch_left_waiting_skips_the_result_a_page_stored(sample, large, gated_trajectory):
    from dashboard import calls

    gate, calls_made = gated_trajectory
    gate.set()
    ctx = _context(sample)
    key = _trajectory_key(ctx)
    with compute.compute_slots():  # the slot is busy: the prefetch waits for it
        background.prefetch(ctx, calls.trajectory_call(ctx, "visit"))
        compute._RESULTS.put(key, "stored by a page")
    assert background.wait(key, 60)
    assert compute._RESULTS.get(key) == "stored by a page" and not calls_made
