"""Data access and result caches for the pages, bounded in bytes and shared without duplication.

Results are cached by (dataset, filters, function, settings). The sample and simulated datasets
and their results are shared by every session (process-wide stores, bounded in bytes, least
recently used first out); an uploaded dataset and its results live only in the uploading
session's state, bound to the browser that uploaded it (dashboard.security), so nothing of it is
visible to anyone else.

Work a URL can cause is bounded: ``simulated-<n>-<seed>`` only for n in SIMULATED_SIZES, at most
MAX_SIMULATED_DATASETS of them held, one simulation at a time and at most COMPUTE_SLOTS other
computations at a time; concurrent requests for the same key wait for one computation
(single-flight). The stores are module globals, not Streamlit caches, so the "Clear cache"
command a client can send does not empty them: only restarting the server does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import inspect
import logging
import os
import pickle
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

import analysis
from analysis.cohort import filter_cohort
from analysis.contract import OutcomeData
from dashboard import security
from dashboard.workspace import session as workspace

if TYPE_CHECKING:
    from dashboard.state import Context, Settings

logger = logging.getLogger("dashboard")


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else default


# Simulated datasets a link may name (patients); anything else is refused with a note.
SIMULATED_SIZES: tuple[int, ...] = (100, 300, 1000, 3000, 10_000, 20_000)
MAX_SIMULATED = max(SIMULATED_SIZES)
MAX_SEED = 10**9
MAX_SIMULATED_DATASETS = _env_int("INFUSION_OUTCOMES_MAX_SIMULATED_DATASETS", 4)
DATASET_CACHE_MB = _env_int("INFUSION_OUTCOMES_DATASET_CACHE_MB", 700)
# a tour of every page at 20,000 patients keeps 336 MB of results (benchmarks/bench_server_pages.py);
# with 300 MB a warm visit recomputed the trajectory and the durability fit
RESULT_CACHE_MB = _env_int("INFUSION_OUTCOMES_RESULT_CACHE_MB", 512)
SESSION_CACHE_MB = _env_int("INFUSION_OUTCOMES_SESSION_CACHE_MB", 150)
COMPUTE_SLOTS = _env_int("INFUSION_OUTCOMES_COMPUTE_SLOTS", 1)
# Pages on datasets with more ratings than this (is_large) are drawn at most LARGE_PAGE_SLOTS at a
# time, so a page's own work on a large dataset (tables, figures) is bounded whatever the page does,
# and their slow fits are computed in the background (dashboard.background.fetch).
LARGE_DATASET_RATINGS = _env_int("INFUSION_OUTCOMES_LARGE_DATASET_RATINGS", 200_000)
LARGE_PAGE_SLOTS = _env_int("INFUSION_OUTCOMES_LARGE_PAGE_SLOTS", 2)
MAX_UPLOADS_PER_SESSION = 2
# Computations slower than this (seconds) are named in the server log with their time.
SLOW_COMPUTE_S = 0.5


class UploadMissing(LookupError):
    """The URL names an uploaded dataset this session (and this browser) does not have."""


class ServerBusy(RuntimeError):
    """The server holds as many simulated datasets as it allows; the message says what to do."""


class InvalidDataset(ValueError):
    """The URL names a dataset this server does not make; the message says why, in words."""


def log_exception(error: BaseException) -> str:
    """Write the full error to the server log (never to the page) under a short random id, and
    return the id (the page shows it, so a user's report finds the log line)."""
    error_id = secrets.token_hex(4)
    logger.error("dashboard error %s", error_id, exc_info=error)
    return error_id


def nbytes(value: Any, _seen: set[int] | None = None) -> int:
    """Approximate memory held by a cached value (bytes), measured from its structure: pandas'
    memory use for tables (text sampled), array sizes, the fields of result dataclasses. The data
    and derived endpoints a result refers to are not counted again inside it (they are held, and
    counted, where they are stored); objects of unknown shape are measured by their pickled size.
    (Pickling every result to measure it cost seconds per page at 20,000 patients.)"""
    from analysis.endpoints import Endpoints

    nested = _seen is not None
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, OutcomeData):
        if nested:
            return 0
        frames = (value.assessments, value.infusions, value.patients, value.events)
        return sum(nbytes(f, seen) for f in frames) + 1024
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=False, index=True).sum()) + sum(
            _text_bytes(value[c]) for c in value.columns if value[c].dtype == object or value[c].dtype == "string")
    if isinstance(value, pd.Series):
        return int(value.memory_usage(deep=False, index=True)) + (
            _text_bytes(value) if value.dtype == object or value.dtype == "string" else 0)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (str, bytes)):
        return len(value) + 50
    if value is None or isinstance(value, (bool, int, float, np.generic)):
        return 32
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if nested and isinstance(value, Endpoints):
            return 0
        return 256 + sum(nbytes(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    if isinstance(value, (list, tuple, set, frozenset)) and len(value) <= 10_000:
        return 64 + sum(nbytes(v, seen) for v in value)
    if isinstance(value, dict) and len(value) <= 10_000:
        return 64 + sum(nbytes(k, seen) + nbytes(v, seen) for k, v in value.items())
    try:
        return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return 1 << 20


def _text_bytes(column: pd.Series, sample: int = 2000) -> int:
    """Bytes of the Python objects behind a text column, from an even sample of its values (a full
    deep count holds the interpreter for a second on a million rows)."""
    n = len(column)
    if n == 0:
        return 0
    step = max(1, n // sample)
    values = column.iloc[::step]
    per_value = float(values.memory_usage(deep=True, index=False) - values.memory_usage(deep=False, index=False))
    return int(per_value / len(values) * n)


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: Exception | None = None
    finished: bool = False


class ByteBoundedStore:
    """A thread-safe LRU store bounded by the bytes of its values (and optionally by count),
    with single-flight computation: concurrent ``get_or_make`` calls for one key run ``make``
    once and all get its value."""

    def __init__(self, max_bytes: int, max_entries: int | None = None):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Hashable, value: Any, size: int | None = None) -> None:
        """Store ``value`` (its size measured unless given); a value larger than the whole
        store is returned to the caller but not kept."""
        size = nbytes(value) if size is None else size
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self.bytes += size
            while self._items and (self.bytes > self.max_bytes or
                                   self.max_entries is not None and len(self._items) > self.max_entries):
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def discard(self, key: Hashable) -> None:
        """Let go of the value under ``key`` (nothing when absent)."""
        with self._lock:
            held = self._items.pop(key, None)
            if held is not None:
                self.bytes -= held[1]

    def discard_where(self, matches: Callable[[Hashable], bool]) -> None:
        """Let go of every value whose key ``matches``."""
        with self._lock:
            for key in [k for k in self._items if matches(k)]:
                self.bytes -= self._items.pop(key)[1]

    def drop_oldest(self) -> bool:
        """Let go of the least recently used value; False when the store is empty."""
        with self._lock:
            if not self._items:
                return False
            _, (_, size) = self._items.popitem(last=False)
            self.bytes -= size
            return True

    def get_or_make(self, key: Hashable, make: Callable[[], Any],
                    waiting: Callable[[], contextlib.AbstractContextManager[Any]] | None = None) -> Any:
        """The stored value, or ``make()`` stored under ``key``. Only one caller runs ``make``
        for a key at a time; the others wait (inside ``waiting()``, e.g. a spinner) and get the
        same value or the same error. ``make`` runs outside the lock."""
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
                flight = self._flights.get(key)
                owner = flight is None
                if owner:
                    flight = self._flights[key] = _Flight()
            assert flight is not None
            if owner:
                break
            with waiting() if waiting is not None else contextlib.nullcontext():
                flight.done.wait()
            if flight.error is not None:
                raise flight.error
            if flight.finished:
                return flight.value
            # the computing run was stopped (a rerun or a closed tab): take over
        try:
            value = make()
            flight.value, flight.finished = value, True
            self.put(key, value)
            return value
        except Exception as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()


# Process-wide stores and slots (module globals: one per server process).
_DATASETS = ByteBoundedStore(DATASET_CACHE_MB << 20, max_entries=MAX_SIMULATED_DATASETS + 1)
_RESULTS = ByteBoundedStore(RESULT_CACHE_MB << 20)
_SIMULATION_SLOT = threading.BoundedSemaphore(1)
_COMPUTE_SLOTS = threading.BoundedSemaphore(COMPUTE_SLOTS)
_PAGE_SLOTS = threading.BoundedSemaphore(LARGE_PAGE_SLOTS)


# After a page run, its browser fetches the frontend's code for the elements new to it (plotly's is
# 4.7 MB) and draws them: 0.5-1 s on a first visit at 20,000 patients. A computing thread makes the
# server answer those requests several times slower (dashboard.server_process), so a background
# job starts no sooner than this after the latest page run ended (background.take_slot).
BROWSER_DRAW_S = 1.0
_PAGES_DRAWN = [0]  # page runs in progress (background jobs give way to them between steps)
_LAST_PAGE_END = [float("-inf")]  # time.monotonic() when the latest page run ended
_PAGES_DRAWN_LOCK = threading.Lock()


def pages_drawing(since_s: float = 0.0) -> bool:
    """Whether a page run is in progress in this process (``page_slot`` counts them) or one ended
    less than ``since_s`` seconds ago (its browser is still drawing it)."""
    return _PAGES_DRAWN[0] > 0 or time.monotonic() - _LAST_PAGE_END[0] < since_s


def is_large(data: OutcomeData | None) -> bool:
    """Whether ``data`` has more than LARGE_DATASET_RATINGS ratings: its pages are drawn at most
    LARGE_PAGE_SLOTS at a time and their slow fits run in the background (dashboard.background)."""
    return data is not None and len(data.assessments) > LARGE_DATASET_RATINGS


@contextlib.contextmanager
def page_slot(data: OutcomeData | None) -> Iterator[None]:
    """A page run: counted by ``pages_drawing`` (background jobs give way to it) and, on a large
    dataset, holding one of LARGE_PAGE_SLOTS (other such pages wait with a spinner; pages on small
    datasets, such as the sample, never wait)."""
    with _PAGES_DRAWN_LOCK:
        _PAGES_DRAWN[0] += 1
    held = False
    try:
        if is_large(data):
            if not _PAGE_SLOTS.acquire(blocking=False):
                with st.spinner("Waiting for the server: other views of large datasets are being drawn...",
                                show_time=True):
                    _PAGE_SLOTS.acquire()
            held = True
        yield
    finally:
        if held:
            _PAGE_SLOTS.release()
        with _PAGES_DRAWN_LOCK:
            _PAGES_DRAWN[0] -= 1
            _LAST_PAGE_END[0] = time.monotonic()


def parse_dataset(name: str) -> tuple[str, int, int]:
    """("sample" | "simulated" | "upload", patients, seed) of a dataset name; raises
    InvalidDataset naming what is wrong (the message quotes the value escaped for markdown)."""
    if name == "sample":
        return "sample", 0, 0
    if workspace.is_workspace(name):
        if workspace.valid_name(name):
            return "workspace", 0, 0
        raise InvalidDataset(f"dataset={security.md(name, 60)} is not a stored dataset's id.")
    if name.startswith("upload-"):
        fingerprint = name.removeprefix("upload-")
        if len(fingerprint) == 16 and all(c in "0123456789abcdef" for c in fingerprint):
            return "upload", 0, 0
        raise InvalidDataset(f"dataset={security.md(name, 60)} is not an uploaded dataset's fingerprint "
                             "(16 hexadecimal characters).")
    parts = name.split("-")
    if len(parts) == 3 and parts[0] == "simulated" and parts[1].isdigit() and parts[2].isdigit() \
            and len(parts[1]) <= 6 and len(parts[2]) <= 10:
        n, seed = int(parts[1]), int(parts[2])
        if n not in SIMULATED_SIZES:
            raise InvalidDataset(f"dataset={security.md(name, 60)}: {n:,} patients is not one of the simulated "
                                 f"sizes this server makes ({', '.join(f'{s:,}' for s in SIMULATED_SIZES)}).")
        if seed > MAX_SEED:
            raise InvalidDataset(f"dataset={security.md(name, 60)}: the seed must be at most {MAX_SEED:,}.")
        return "simulated", n, seed
    raise InvalidDataset(f"dataset={security.md(name, 60)} is not a dataset this app knows (sample, "
                         "simulated-(patients)-(seed) or upload-(fingerprint)).")


def _waiting(label: str) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    return lambda: st.spinner(label, show_time=True)


# Simulated datasets alive anywhere in the process (the store, a running page, a callback a
# closed tab still holds), with their sizes: the budget below bounds them all, not just the store.
_ALIVE: weakref.WeakValueDictionary[str, OutcomeData] = weakref.WeakValueDictionary()
_ALIVE_BYTES: dict[str, int] = {}
_ALIVE_LOCK = threading.Lock()
BYTES_PER_SIMULATED_PATIENT = 17_000  # measured: 20,000 patients hold 323 MB
SIMULATION_WAIT_S = 30.0


def _alive_bytes() -> int:
    with _ALIVE_LOCK:
        for name in [n for n in _ALIVE_BYTES if n not in _ALIVE]:
            del _ALIVE_BYTES[name]
        return sum(_ALIVE_BYTES.values())


def _room_for(need: int) -> None:
    """Wait until ``need`` more bytes of simulated data fit in DATASET_CACHE_MB (letting go of the
    store's oldest datasets first); ServerBusy after SIMULATION_WAIT_S."""
    budget = DATASET_CACHE_MB << 20
    deadline = time.monotonic() + SIMULATION_WAIT_S
    while _alive_bytes() + need > budget:
        if not _DATASETS.drop_oldest():
            gc.collect()
            if _alive_bytes() + need <= budget:
                return
            if time.monotonic() > deadline:
                raise ServerBusy("The server is holding as many simulated datasets as it allows (other views "
                                 "use them). Try again in a minute, or choose a smaller size or the sample.")
            time.sleep(1.0)
        gc.collect()


def _make_dataset(name: str) -> OutcomeData:
    kind, n, seed = parse_dataset(name)
    if kind == "sample":
        return analysis.load_sample()
    with st.spinner("Simulating the dataset...", show_time=True), _SIMULATION_SLOT:
        _room_for(n * BYTES_PER_SIMULATED_PATIENT)
        data = analysis.simulate(n_patients=n, seed=seed)
    with _ALIVE_LOCK:
        _ALIVE[name] = data
        _ALIVE_BYTES[name] = nbytes(data)
    return data


def _shared_dataset(name: str) -> OutcomeData:
    return _DATASETS.get_or_make(name, lambda: _make_dataset(name),
                                 waiting=_waiting("Loading the dataset (being prepared for another view)..."))


def _session_results() -> ByteBoundedStore:
    if "_results" not in st.session_state:
        st.session_state["_results"] = ByteBoundedStore(SESSION_CACHE_MB << 20)
    return st.session_state["_results"]


def _store(dataset: str) -> ByteBoundedStore:
    # a stored dataset's results are shared by the sessions allowed to open it (checked every run)
    return _session_results() if dataset.startswith("upload-") else _RESULTS


def result_store(dataset: str) -> ByteBoundedStore:
    """The store ``call`` caches ``dataset``'s results in (process-wide, or the uploading session's
    own); called in a page run (it reads the session), the store itself may be used from any thread."""
    return _store(dataset)


def result_key(settings: Settings, name: str, key: Hashable) -> tuple:
    """The key ``call`` caches a result under: ``name`` and ``key`` on the dataset and filters."""
    return (name, settings.dataset, repr(sorted(settings.filters().items())), key)


def run_key(ctx: Context, function: str, arguments: dict[str, Any]) -> tuple:
    """The key ``run(ctx, function, label, **arguments)`` caches its result under."""
    kwargs = call_arguments(ctx, function, arguments)
    return result_key(ctx.settings, function, (repr(()), repr(sorted(kwargs.items()))))


def compute_slots() -> threading.BoundedSemaphore:
    """The COMPUTE_SLOTS ``call`` holds one of while it computes (a background job holds one too,
    letting go of it between its steps)."""
    return _COMPUTE_SLOTS


def base_data(name: str) -> OutcomeData:
    """The full dataset named in the URL (sample, simulated-<n>-<seed>, upload-<fingerprint>).
    Raises InvalidDataset for a name this server does not make, UploadMissing for an upload this
    browser has not provided in this session."""
    kind, _, _ = parse_dataset(name)
    if kind == "workspace":
        workspace.check_access(name)  # every run: a revoked grant or a deletion closes the view at once
        return _DATASETS.get_or_make(name, lambda: workspace.load_dataset(name),
                                     waiting=_waiting("Opening the stored dataset..."))
    if kind == "upload":
        uploads: dict[str, tuple[str | None, OutcomeData]] = st.session_state.get("uploads", {})
        fingerprint = name.removeprefix("upload-")
        held = uploads.get(fingerprint)
        if held is not None and held[0] == security.browser_secret():
            return held[1]
        raise UploadMissing(fingerprint)
    return _shared_dataset(name)


def forget_dataset(name: str) -> None:
    """Let go of a deleted dataset and every result computed from it in this process."""
    _DATASETS.discard(name)
    _RESULTS.discard_where(lambda key: isinstance(key, tuple) and len(key) > 1 and key[1] == name)


def register_upload(data: OutcomeData) -> str:
    """Keep an uploaded dataset in this session only, bound to this browser's secret; returns
    its dataset name for the URL."""
    uploads: dict[str, tuple[str | None, OutcomeData]] = dict(st.session_state.get("uploads", {}))
    uploads[data.fingerprint] = (security.browser_secret(), data)
    while len(uploads) > MAX_UPLOADS_PER_SESSION:
        uploads.pop(next(iter(uploads)))
    st.session_state["uploads"] = uploads
    return f"upload-{data.fingerprint}"


def filtered_data(dataset: str, settings: Settings) -> OutcomeData:
    """The dataset restricted by the sidebar filters (cached)."""
    filters = settings.filters()
    if not filters:
        return base_data(dataset)
    key = ("filter_cohort", dataset, repr(sorted(filters.items())))
    def make() -> OutcomeData:
        with _COMPUTE_SLOTS:
            full = base_data(dataset)
            kept = filter_cohort(full, **filters)
        # identified by the full dataset's fingerprint and the filters rather than by hashing the kept
        # rows again (a second a filter change at 10,000 patients); the analyses' caches key on it
        name = hashlib.sha256(f"{full.fingerprint}|{sorted(filters.items())!r}".encode()).hexdigest()[:16]
        return dataclasses.replace(kept, _fingerprint=[name])

    return _store(dataset).get_or_make(key, make, waiting=_waiting("Applying the filters..."))


def patient_count(settings: Settings, data: OutcomeData, filtered: bool = True) -> int:
    """``data.n_patients`` of the dataset (``filtered``: ``data`` is restricted by the sidebar's
    filters), cached: the sidebar says it on every run, and counting distinct ids of 20,000
    patients twice a run costs tens of milliseconds."""
    filters = repr(sorted(settings.filters().items())) if filtered else ""
    return _store(settings.dataset).get_or_make(("n_patients", settings.dataset, filters), lambda: data.n_patients)


def call_arguments(ctx: Context, function: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``analysis.<function>`` is called with for ``arguments``: those given,
    plus the sidebar's group cut points and reference group when the call groups by the sidebar's
    grouping (Settings.call_arguments). Both ``run`` and the page's Python snippet use it."""
    return ctx.settings.call_arguments(_parameters(function), arguments)


@functools.cache
def _parameters(function: str) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(getattr(analysis, function)).parameters)
    except (AttributeError, TypeError, ValueError):
        return frozenset()


def run(ctx: Context, function: str, label: str, *args: Any, key: Hashable = None,
        **kwargs: Any) -> Any:
    """``analysis.<function>(ctx.data, *args, **kwargs)`` (with call_arguments' grouping), cached
    by dataset, filters and arguments. Shows a spinner with elapsed time when the computation
    takes over 0.5 s."""
    kwargs = call_arguments(ctx, function, kwargs)
    return call(ctx, function, label, getattr(analysis, function), ctx.data, *args,
                key=(repr(args) if key is None else key, repr(sorted(kwargs.items()))), **kwargs)


def group_levels(settings: Settings, data: OutcomeData) -> tuple[list[str], str]:
    """(groups in their one order, default reference group) of the sidebar's grouping of the
    filtered patients, as analysis.group_patients forms them for every analysis (cached).
    Raises AnalysisError when the grouping does not apply to the data."""
    grouping = settings.grouping()
    grouping.pop("reference", None)
    key = ("group_levels", settings.dataset, repr(sorted(settings.filters().items())),
           repr(sorted(grouping.items())), settings.instrument)

    def make() -> tuple[list[str], str]:
        found = analysis.group_patients(data, instrument=settings.instrument, **grouping)
        return list(found.levels), found.reference

    return _store(settings.dataset).get_or_make(key, make)


def call(ctx: Context, name: str, label: str, func: Any, *args: Any, key: Hashable, **kwargs: Any) -> Any:
    """Any pure function of the filtered data (e.g. a model fitted on derived ratings), cached
    under ``key`` (which must identify every input besides dataset and filters)."""
    settings = ctx.settings
    cache_key = result_key(settings, name, key)

    def make() -> Any:
        with st.spinner(label, show_time=True), _COMPUTE_SLOTS:  # shown only after 0.5 s
            start = time.perf_counter()
            value = func(*args, **kwargs)
        seconds = time.perf_counter() - start
        if seconds > SLOW_COMPUTE_S:  # where a page's time goes (benchmarks/bench_pages.py)
            logger.info("computed %s in %.2f s", name, seconds)
        return value

    shared = workspace.shared_result(settings.dataset, cache_key, make)  # across processes, stored data only
    return _store(settings.dataset).get_or_make(cache_key, shared, waiting=_waiting(label))


def sidebar_options(dataset: str, data: OutcomeData) -> dict[str, list[str]]:
    """Instrument and filter choices of a dataset (cached: scanning every rating on each run
    would cost a tenth of a second on 10,000 patients)."""
    from analysis.contract import DIAGNOSES, ROUTES

    return _store(dataset).get_or_make(("sidebar_options", dataset), lambda: {
        "instrument": outcome_instruments(data),
        "diagnosis": values_of(data, "patients", "diagnosis", DIAGNOSES),
        "route": values_of(data, "infusions", "route", ROUTES),
        "sex": values_of(data, "patients", "sex", ("F", "M")),
        "covariates": user_covariates(data),
    })


def user_covariates(data: OutcomeData) -> list[str]:
    """The dataset's own columns patients can be grouped by: patient columns, then infusion columns
    (their value at the first infusion) beyond the contract's, that are numeric (cut at quartiles
    when they have many values) or have 2 to analysis.grouping.MAX_GROUPS values (not free text
    or ids)."""
    from analysis.contract import INFUSION_COLUMNS, PATIENT_COLUMNS
    from analysis.grouping import MAX_GROUPS

    names: list[str] = []
    for frame, known in ((data.patients, PATIENT_COLUMNS), (data.infusions, INFUSION_COLUMNS)):
        for column in frame.columns:
            name = str(column)
            if name in known or name in names or name in ("course", "source_row"):
                continue  # course: the app's own single/series rule is offered instead
            values = frame[column]
            distinct = values.nunique(dropna=True)
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            if distinct >= 2 and (numeric or distinct <= MAX_GROUPS):
                names.append(name)
    return names


def outcome_instruments(data: OutcomeData) -> list[str]:
    """Instruments that can define response (all but dissociation scales): MADRS first, then the
    other depression scales (a survey's PHQ-9 before its GAD-7), then the rest, each by name."""
    from analysis.instruments import get_instrument

    domains = {}
    for name in data.instruments:
        try:
            domains[str(name)] = get_instrument(name).domain
        except Exception:
            domains[str(name)] = "other"
    names = [n for n, domain in domains.items() if domain != "dissociation"]
    names.sort(key=lambda n: (n != "MADRS", domains[n] != "depression", n))
    return names or ["MADRS"]


def values_of(data: OutcomeData | None, table: str, column: str, default: Sequence[str]) -> list[str]:
    """Distinct values of a column (for filter options), in the contract's order when known."""
    if data is None:
        return list(default)
    frame: pd.DataFrame = getattr(data, table)
    if column not in frame.columns:
        return list(default)
    present = [str(v) for v in pd.unique(frame[column].dropna())]
    known = [v for v in default if v in present]
    return known + sorted(v for v in present if v not in known)


def remission_default(instrument: str | None) -> str:
    from analysis.instruments import get_instrument

    try:
        cutoff = get_instrument(str(instrument or "MADRS")).remission_max
    except Exception:
        return "none"
    return "none" if cutoff is None else f"<= {cutoff:g}"


def cached_figure(ctx: Context, name: str, builder: Any, *args: Any, key: Hashable, **kwargs: Any) -> Any:
    """A figure built once per (settings, ``key``): ``key`` must hold every page option the
    figure depends on besides the sidebar settings. It carries a fixed ``layout.datarevision``
    (set before it is cached, so no other session sees it change): a copy of the same figure
    handed to plotly.js again (dashboard.chart's renderer when the theme changes; st.plotly_chart,
    without the renderer's bundle, once it is mounted) is taken as unchanged data instead of being
    computed and drawn again from scratch. A figure that changes is drawn anew (the renderer
    draws a new figure with Plotly.newPlot; st.plotly_chart's element id hashes the figure)."""
    def build(*args: Any, **kwargs: Any) -> Any:
        return builder(*args, **kwargs).update_layout(datarevision=1)

    return call(ctx, f"figure:{name}", "Drawing...", build, *args, key=(repr(ctx.settings), key), **kwargs)
