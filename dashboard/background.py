"""Slow results computed in a server thread while the page shows what is already known.

A page asks for a ``Call`` (dashboard.calls) with ``result_or_progress``. When its result is cached
it comes back at once; otherwise a *job* computes it in a daemon thread and the page gets the job's
``Progress`` (e.g. "95% band: computing, 37 of 200 replicates") and draws what does not need it
(``show_progress`` says so in words and draws the page again when the result is ready).
The finished result is stored exactly where ``compute.run`` would store that call (same store,
same key), so the page that waited, and every later visitor, gets it from the cache at once, and
the snippet shown for the call is the call that produced it. Rules:

- single-flight, server-wide: one job per result; pages asking for a running job share it;
- compute slots (dashboard.compute): a job holds one of COMPUTE_SLOTS while it computes and lets
  go of it between steps (the ``progress`` calls of the analysis, e.g. each bootstrap refit; a
  function without ``progress=`` is one step), so a page's own computation waits at most one step
  behind it;
- pages first: before each step a job waits while page runs are in progress (``compute.pages_drawing``;
  a thread of the same process competes with them for the interpreter), at most GIVE_WAY_S per step,
  and its first step also until compute.BROWSER_DRAW_S after the latest page run ended (the browser
  fetching and drawing that page is served by the same process);
- the newest first: jobs waiting for a slot take it in the order of the latest page run that asked
  for them (a job nobody has polled for LIVE_S comes after those still polled), so the page in view
  is not queued behind the work of pages left;
- a job nobody has asked about for ABANDON_S seconds (a waiting page asks every POLL_S) stops at
  its next step, or before it takes a slot; the next page that wants the result starts it again;
- an error is kept with its job for ERROR_KEEP_S seconds and raised to the pages that ask (which
  show it in words, as for any computation), then the result may be tried again;
- ``prefetch`` starts a job nobody has asked for yet (a page's likely next result, e.g. the
  Trajectories summary once a large dataset is loaded), behind every job a page asked for; a page
  computing that result itself first joins the job if it is computing (``join``), and the job
  skips a result a page has stored meanwhile.

The thread calls the analysis function only (never Streamlit): the page draws.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import streamlit as st

import analysis
from dashboard import compute
from dashboard.workspace import session as workspace

if TYPE_CHECKING:
    from dashboard.calls import Call
    from dashboard.report import Report
    from dashboard.state import Context

logger = logging.getLogger("dashboard")

POLL_S = 1.0  # how often a waiting page asks (st.fragment run_every)
LIVE_S = 3 * POLL_S  # a job polled within this is still in view of a page
ABANDON_S = 120.0
GIVE_WAY_S = 2.0
ERROR_KEEP_S = 60.0
STEP_PAUSE_S = 0.005  # between steps, so a page waiting for the compute slot takes it first
MAX_JOBS = 32  # finished jobs kept (their errors), oldest first out


@dataclass(frozen=True)
class Progress:
    """A result still being computed: ``done`` of ``total`` steps (total 0 until the first step)."""

    key: Hashable
    done: int
    total: int
    seconds: float  # since the job started


class _Abandoned(Exception):
    """Raised in a job's step when nobody has asked for its result for ABANDON_S seconds."""


@dataclass(eq=False)  # a job is itself (a member of _WAITING)
class _Job:
    key: Hashable
    started: float = field(default_factory=time.monotonic)
    wanted: float = field(default_factory=time.monotonic)  # last asked for (a page run or a poll)
    asked: float = field(default_factory=time.monotonic)  # last asked for by a page run
    done: int = 0
    total: int = 0
    running: bool = True
    computing: bool = False  # holds a compute slot for its first step or later ones
    kept: bool = False  # the value is held here: the store could not hold it
    value: Any = None
    error: Exception | None = None
    ended: float = 0.0
    thread: threading.Thread | None = None

    def progress(self) -> Progress:
        return Progress(self.key, self.done, self.total, time.monotonic() - self.started)


_JOBS: dict[Hashable, _Job] = {}
_LOCK = threading.Lock()


def result_or_progress(ctx: Context, call: Call, report: Report | None = None, *, start: bool = True) -> Any:
    """``call``'s result when it is cached or its job has finished; otherwise its job's
    ``Progress``, the job started when none runs (with ``start=False``: None instead of
    starting one). The call is noted on ``report`` as ``calls.run`` does. Raises the job's error.
    When ``analysis.<call.function>`` accepts ``progress=`` (a callable ``progress(done, total)``,
    called after each step) the job gives way between its steps; otherwise it is one step."""
    key = compute.run_key(ctx, call.function, dict(call.arguments))
    store = compute.result_store(ctx.settings.dataset)
    with _LOCK:  # a job stores its value before it leaves _JOBS: looked up together, nothing is missed
        value = store.get(key)
        job = _JOBS.get(key) if value is None else None
        if value is None:
            if (job is not None and job.error is not None and not job.running
                    and time.monotonic() - job.ended > ERROR_KEEP_S):
                job = None  # try a failed result again after a while
            if job is None or not (job.running or job.kept or job.error is not None):
                if not start:
                    return None
                job = _JOBS[key] = _Job(key)
                job.thread = _thread(ctx, call, key, store, job)
            job.wanted = job.asked = time.monotonic()
    if report is not None:
        report.note_call(call)
    if job is not None:
        if job.error is not None:
            raise job.error
        if not job.kept:
            return job.progress()
        value = job.value
    return value


def prefetch(ctx: Context, call: Call) -> None:
    """Start ``call``'s job unless its result is cached or a job for it exists: the job takes a
    compute slot after every job a page has asked for (it was asked at time 0) and stops unasked
    after ABANDON_S, as any job."""
    key = compute.run_key(ctx, call.function, dict(call.arguments))
    store = compute.result_store(ctx.settings.dataset)
    with _LOCK:
        if key in store or key in _JOBS:
            return
        job = _JOBS[key] = _Job(key, asked=0.0)
        job.thread = _thread(ctx, call, key, store, job)


def join(ctx: Context, call: Call) -> None:
    """Wait for ``call``'s job when it is computing (a prefetched result the page is about to compute
    itself: computed once); a job still waiting for a slot is left to find the page's result."""
    key = compute.run_key(ctx, call.function, dict(call.arguments))
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or not (job.running and job.computing) or job.thread is None:
            return
        job.wanted = job.asked = time.monotonic()
    job.thread.join()


def fetch(ctx: Context, call: Call, label: str, report: Report | None = None) -> Any:
    """``call``'s result, computed in this page run (as ``calls.run``, with ``label`` on its spinner)
    on a dataset that is not ``compute.is_large``; on a large one ``result_or_progress``: the result
    when ready, else the ``Progress`` of its job (the page draws the rest, and ``progress_note``)."""
    if not compute.is_large(ctx.data):
        from dashboard import calls

        return calls.run(ctx, call, label, report)
    return result_or_progress(ctx, call, report)


def fetch_or_note(ctx: Context, call: Call, label: str, report: Report | None, title: str) -> Any:
    """``fetch``, with the job's ``progress_note`` under ``title`` drawn while it computes: the
    result, or None while it is not ready (the section draws nothing more)."""
    result = fetch(ctx, call, label, report)
    if isinstance(result, Progress):
        progress_note(result.key, title)
        return None
    return result


def progress(key: Hashable) -> Progress | None:
    """The running job's progress under ``key`` (counting as asking for it), None when it has
    finished, failed or stopped (the page then reruns and finds the result, the error or nothing)."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or not job.running:
            return None
        job.wanted = time.monotonic()
        return job.progress()


@st.fragment(run_every=POLL_S)
def progress_note(key: Hashable, label: str, steps: str = "", total: int = 0) -> None:
    """On a page: "<label>: computing[, n of N <steps>] (s so far)" for the job under ``key``, asked
    again every POLL_S; the whole page is drawn again (from the cache) once the job has ended."""
    now = progress(key)
    if now is None:
        st.rerun()
    counted = f", {now.done} of {now.total or total} {steps}" if steps and (now.total or total) else ""
    st.caption(f"{label}: computing{counted} ({now.seconds:.0f} s so far); it is shown here when ready.")


def wait(key: Hashable, timeout: float | None = None) -> bool:
    """Wait for the job under ``key`` to end (tests, benchmarks); True when none is running."""
    with _LOCK:
        job = _JOBS.get(key)
    if job is None or job.thread is None:
        return True
    job.thread.join(timeout)
    return not job.thread.is_alive()


def _thread(ctx: Context, call: Call, key: Hashable, store: compute.ByteBoundedStore, job: _Job) -> threading.Thread:
    """Start the job's thread; it holds the call's function, arguments and filtered data, never the
    page context."""
    function = getattr(analysis, call.function)
    arguments = compute.call_arguments(ctx, call.function, dict(call.arguments))
    data, dataset = ctx.data, ctx.settings.dataset
    slots = compute.compute_slots()
    holding = [False]

    def take_slot(drawn_s: float = 0.0) -> None:
        """Wait for the pages (and for ``drawn_s`` seconds after the latest page run ended: the
        first step, while the browser draws the page that asked) and for jobs asked for more
        recently, then hold a slot."""
        waited = 0.0
        with _LOCK:
            _WAITING.add(job)
        try:
            while True:
                if time.monotonic() - job.wanted > ABANDON_S:
                    raise _Abandoned
                if (not compute.pages_drawing(drawn_s) or waited >= GIVE_WAY_S) and _first_in_line(job) \
                        and slots.acquire(blocking=False):
                    holding[0] = True
                    return
                time.sleep(0.02)
                waited += 0.02
        finally:
            with _LOCK:
                _WAITING.discard(job)

    def step(done: int, total: int) -> None:
        job.done, job.total = int(done), int(total)
        if time.monotonic() - job.wanted > ABANDON_S:
            raise _Abandoned
        holding[0] = False
        slots.release()
        time.sleep(STEP_PAUSE_S)  # a page blocked on the slot takes it first
        take_slot()

    steps = {"progress": step} if _reports_progress(function) else {}

    def work() -> None:
        try:
            take_slot(compute.BROWSER_DRAW_S)
            if key in store:  # computed by a page meanwhile (a prefetched result the page did not wait for)
                return
            job.computing = True
            make = workspace.shared_result(dataset, key, lambda: function(data, **arguments, **steps))
            value = make()
            store.put(key, value)
            if key not in store:
                job.value, job.kept = value, True
            logger.info("computed %s in the background in %.2f s", call.function, time.monotonic() - job.started)
        except _Abandoned:
            logger.info("stopped %s in the background after %d of %d steps: nobody waits for it",
                        call.function, job.done, job.total)
        except Exception as error:
            job.error = error
            if not isinstance(error, analysis.AnalysisError):
                compute.log_exception(error)
        finally:
            if holding[0]:
                slots.release()
            with _LOCK:
                job.running, job.ended = False, time.monotonic()
                if not (job.kept or job.error is not None) and _JOBS.get(key) is job:
                    del _JOBS[key]
                _forget_old_jobs()

    thread = threading.Thread(target=work, name=f"background {call.function}", daemon=True)
    thread.start()
    return thread


_WAITING: set[_Job] = set()  # jobs waiting for a compute slot


def _first_in_line(job: _Job) -> bool:
    """Whether ``job`` goes before every other job waiting for a slot: jobs still polled (within
    LIVE_S) before the others, then the latest page run's request first."""
    now = time.monotonic()

    def rank(other: _Job) -> tuple[bool, float]:
        return now - other.wanted <= LIVE_S, other.asked

    with _LOCK:
        return all(rank(job) >= rank(other) for other in _WAITING)


@functools.cache
def _reports_progress(function: Any) -> bool:
    """Whether the analysis function takes ``progress=`` (steps); otherwise it runs as one step."""
    try:
        return "progress" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _forget_old_jobs() -> None:
    """Keep at most MAX_JOBS finished jobs (called holding _LOCK)."""
    finished = sorted((k for k, j in _JOBS.items() if not j.running), key=lambda k: _JOBS[k].ended)
    for key in finished[:max(0, len(finished) - MAX_JOBS)]:
        del _JOBS[key]
