"""Data access and result caches for the pages.

Results are cached by (dataset, filters, function, settings). The sample and simulated datasets
are shared by every session (one process-wide LRU store); an uploaded dataset and its results
live only in the uploading session's state, so nothing of it is visible to anyone else.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

import analysis
from analysis.cohort import filter_cohort
from analysis.contract import OutcomeData

if TYPE_CHECKING:
    from dashboard.state import Context, Settings

logger = logging.getLogger("dashboard")
MAX_SIMULATED = 20_000
MAX_UPLOADS_PER_SESSION = 2


class UploadMissing(LookupError):
    """The URL names an uploaded dataset this session does not have."""


def log_exception(error: BaseException) -> None:
    """Write the full error to the server log (never to the page)."""
    logger.error("dashboard error", exc_info=error)


class _LRU:
    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The stored value, or ``make()`` stored under ``key`` (outside the lock: a slow
        computation does not block other sessions' look-ups)."""
        hit = self.get(key)
        if hit is None:
            hit = make()
            self.put(key, hit)
        return hit


@st.cache_resource(show_spinner=False)
def _shared_results() -> _LRU:
    return _LRU(512)


def _session_results() -> _LRU:
    if "_results" not in st.session_state:
        st.session_state["_results"] = _LRU(128)
    return st.session_state["_results"]


def _store(dataset: str) -> _LRU:
    return _session_results() if dataset.startswith("upload-") else _shared_results()


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset...")
def _shared_dataset(name: str) -> OutcomeData:
    if name == "sample":
        return analysis.load_sample()
    _, n, seed = name.split("-")
    return analysis.simulate(n_patients=min(int(n), MAX_SIMULATED), seed=int(seed))


def base_data(name: str) -> OutcomeData:
    """The full dataset named in the URL (sample, simulated-<n>-<seed>, upload-<fingerprint>)."""
    if name.startswith("upload-"):
        uploads: dict[str, OutcomeData] = st.session_state.get("uploads", {})
        fingerprint = name.removeprefix("upload-")
        if fingerprint in uploads:
            return uploads[fingerprint]
        raise UploadMissing(fingerprint)
    return _shared_dataset(name)


def register_upload(data: OutcomeData) -> str:
    """Keep an uploaded dataset in this session only; returns its dataset name for the URL."""
    uploads: dict[str, OutcomeData] = dict(st.session_state.get("uploads", {}))
    uploads[data.fingerprint] = data
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
    return _store(dataset).get_or_make(key, lambda: filter_cohort(base_data(dataset), **filters))


def run(ctx: Context, function: str, label: str, *args: Any, key: Hashable = None,
        **kwargs: Any) -> Any:
    """``analysis.<function>(ctx.data, *args, **kwargs)``, cached by dataset, filters and
    arguments. Shows a spinner with elapsed time when the computation takes over 0.5 s."""
    return call(ctx, function, label, getattr(analysis, function), ctx.data, *args,
                key=(repr(args) if key is None else key, repr(sorted(kwargs.items()))), **kwargs)


def call(ctx: Context, name: str, label: str, func: Any, *args: Any, key: Hashable, **kwargs: Any) -> Any:
    """Any pure function of the filtered data (e.g. a model fitted on derived ratings), cached
    under ``key`` (which must identify every input besides dataset and filters)."""
    settings = ctx.settings
    cache_key = (name, settings.dataset, repr(sorted(settings.filters().items())), key)

    def make() -> Any:
        with st.spinner(label, show_time=True):  # Streamlit shows it only after 0.5 s
            return func(*args, **kwargs)

    return _store(settings.dataset).get_or_make(cache_key, make)


def sidebar_options(dataset: str, data: OutcomeData) -> dict[str, list[str]]:
    """Instrument and filter choices of a dataset (cached: scanning every rating on each run
    would cost a tenth of a second on 10,000 patients)."""
    from analysis.contract import DIAGNOSES, ROUTES

    return _store(dataset).get_or_make(("sidebar_options", dataset), lambda: {
        "instrument": outcome_instruments(data),
        "diagnosis": values_of(data, "patients", "diagnosis", DIAGNOSES),
        "route": values_of(data, "infusions", "route", ROUTES),
        "sex": values_of(data, "patients", "sex", ("F", "M")),
    })


def outcome_instruments(data: OutcomeData) -> list[str]:
    """Instruments that can define response (all but dissociation scales), MADRS first."""
    from analysis.instruments import get_instrument

    names = []
    for name in data.instruments:
        try:
            domain = get_instrument(name).domain
        except Exception:
            domain = "other"
        if domain != "dissociation":
            names.append(str(name))
    names.sort(key=lambda n: (n != "MADRS", n))
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
    figure depends on besides the sidebar settings."""
    return call(ctx, f"figure:{name}", "Drawing...", builder, *args, key=(repr(ctx.settings), key), **kwargs)
