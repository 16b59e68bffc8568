"""Intercurrent events (ICH E9(R1)) in the durability endpoint: boosters, rescue treatment, ...

An intercurrent event is something that happens after the durability clock starts and changes
what "time to relapse" means: a booster infusion, rescue treatment (ECT, esketamine, a new
antidepressant), a hospitalisation, discontinuation, an adverse event, or a user's own label.
Events come from the optional events table (``OutcomeData.events``: patient_id, time_hours,
event); boosters are also the infusions after the induction series (see
``analysis.grouping.course_of_patients``). Each kind of event gets a strategy:

- ``"treatment_policy"``: ignored, the patient is followed as if nothing happened;
- ``"hypothetical"``: censored at the event (what would have happened without it);
- ``"composite"``: the event counts as a relapse (treatment failure), at the event time;
- ``"competing"``: a competing risk: relapse can no longer be observed after it; durability is
  then drawn as the cumulative incidence of relapse (``fit_durability``) rather than 1 - KM.

Defaults (``DEFAULT_STRATEGIES``): booster treatment_policy (boosters are part of the treatment
being judged), rescue composite and hospitalisation composite (as relapse definitions of
maintenance trials count them, e.g. SUSTAIN-1), discontinued hypothetical (as loss to
follow-up), adverse_event and any other label treatment_policy.

Only the first event after the durability origin whose strategy is not treatment_policy acts;
events before the origin (e.g. before response) do not change durability.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = ["ALLOWED_STRATEGIES", "DEFAULT_STRATEGIES", "STRATEGIES", "describe_strategies",
           "apply_strategies", "first_intercurrent", "intercurrent_strategies"]

STRATEGIES = ("treatment_policy", "hypothetical", "composite", "competing")
ALLOWED_STRATEGIES = {
    "booster": ("treatment_policy", "hypothetical", "composite"),
    "rescue": ("competing", "composite", "hypothetical"),
}
DEFAULT_STRATEGIES = {
    "booster": "treatment_policy",
    "rescue": "composite",
    "hospitalisation": "composite",
    "discontinued": "hypothetical",
    "adverse_event": "treatment_policy",
}
OTHER_DEFAULT = "treatment_policy"
_MEANING = {
    "treatment_policy": "ignored (treatment policy)",
    "hypothetical": "censored at the event (hypothetical)",
    "composite": "counts as relapse (composite)",
    "competing": "a competing risk (cumulative incidence)",
}


def intercurrent_strategies(intercurrent: Mapping[str, str] | None = None,
                            competing: Any = None) -> tuple[tuple[str, str], ...]:
    """Strategy per event kind as sorted ``(event, strategy)`` pairs (hashable, for settings).

    ``intercurrent`` overrides ``DEFAULT_STRATEGIES``; ``competing`` (an event label or a list
    of them) sets those labels to ``"competing"``.
    """
    merged = dict(DEFAULT_STRATEGIES)
    if intercurrent is not None:
        if not isinstance(intercurrent, Mapping):
            raise AnalysisError(f"intercurrent={intercurrent!r}: give a dict such as "
                                "{'booster': 'hypothetical', 'rescue': 'competing'}.")
        merged.update({str(k): str(v) for k, v in intercurrent.items()})
    if competing is not None and competing is not False:
        labels = ["rescue"] if competing is True else [competing] if isinstance(competing, str) else list(competing)
        merged.update({str(label): "competing" for label in labels})
    for event, strategy in merged.items():
        allowed = ALLOWED_STRATEGIES.get(event, STRATEGIES)
        if strategy not in allowed:
            raise AnalysisError(f"intercurrent strategy {strategy!r} for {event!r} is not one of: "
                                f"{', '.join(allowed)}.")
    return tuple(sorted(merged.items()))


def describe_strategies(pairs: tuple[tuple[str, str], ...]) -> str:
    """One sentence: the strategy of every event kind."""
    text = "; ".join(f"{event} {_MEANING[strategy]}" for event, strategy in pairs)
    return (f"Intercurrent events after the durability origin: {text}; any other event label is "
            "ignored. Boosters are the infusions after the induction series and events labelled "
            "booster.")


def first_intercurrent(events: pd.DataFrame | None, codes_of: pd.Index, origin: np.ndarray,
                       strategies: tuple[tuple[str, str], ...],
                       booster_code: np.ndarray, booster_time: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patient code: the first acting event after ``origin`` (raw hours; NaN = none).

    ``codes_of`` maps patient_id strings to codes (its position); ``booster_code`` /
    ``booster_time`` are the infusions after each patient's induction series. Returns
    ``(time_hours, event label, strategy)`` arrays of length ``len(origin)`` (labels and
    strategies "" where no event acts).
    """
    n = len(origin)
    lookup = dict(strategies)
    parts_code, parts_time, parts_label = [], [], []
    if lookup.get("booster", OTHER_DEFAULT) != "treatment_policy" and len(booster_code):
        parts_code.append(booster_code)
        parts_time.append(booster_time)
        parts_label.append(np.full(len(booster_code), "booster", dtype=object))
    if events is not None and len(events):
        label = events["event"].astype("string").fillna("").to_numpy(dtype=object)
        acting = np.array([lookup.get(x, OTHER_DEFAULT) != "treatment_policy" for x in pd.unique(label)])
        acting_labels = set(np.asarray(pd.unique(label))[acting]) if len(acting) else set()
        keep = np.isin(label, list(acting_labels))
        code = codes_of.get_indexer(events["patient_id"].astype(str).to_numpy()[keep])
        known = code >= 0
        parts_code.append(code[known])
        parts_time.append(events["time_hours"].to_numpy(dtype=float)[keep][known])
        parts_label.append(label[keep][known])
    out_time = np.full(n, np.nan)
    out_label = np.full(n, "", dtype=object)
    out_strategy = np.full(n, "", dtype=object)
    if not parts_code:
        return out_time, out_label, out_strategy
    code = np.concatenate(parts_code).astype(np.int64)
    time = np.concatenate(parts_time)
    label = np.concatenate(parts_label)
    after = np.isfinite(time) & (time > origin[code])
    code, time, label = code[after], time[after], label[after]
    order = np.lexsort((time, code))
    code, time, label = code[order], time[order], label[order]
    first = np.r_[True, code[1:] != code[:-1]] if len(code) else np.zeros(0, dtype=bool)
    out_time[code[first]] = time[first]
    out_label[code[first]] = label[first]
    out_strategy[code[first]] = [lookup.get(x, OTHER_DEFAULT) for x in label[first]]
    return out_time, out_label, out_strategy


def apply_strategies(lower: np.ndarray, upper: np.ndarray, time: np.ndarray, event: np.ndarray,
                     event_days: np.ndarray, strategy: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Relapse intervals (days since the origin) after the intercurrent strategies.

    An event acts when it comes before the relapse was seen (or before the last rating of a
    censored patient): ``event_days < time``. Then hypothetical: censored at the event
    (``(min(lower, e), inf)``); composite: a relapse in ``(min(lower, e), e]`` (exact at e when the
    patient was known relapse-free until e); competing: status 2 at e, censored for relapse.
    Returns ``(lower, upper, time, relapse_event, status)`` with status 0 censored, 1 relapse
    (or composite event), 2 competing event.
    """
    lower, upper, time = lower.copy(), upper.copy(), time.copy()
    event = event.copy()
    status = np.where(event, 1, 0).astype(np.int64)
    with np.errstate(invalid="ignore"):
        acts = np.isfinite(event_days) & (event_days < time)
    e = event_days
    for name, code in (("hypothetical", 0), ("composite", 1), ("competing", 2)):
        m = acts & (strategy == name)
        if not m.any():
            continue
        lower[m] = np.minimum(lower[m], e[m])
        time[m] = e[m]
        upper[m] = e[m] if code == 1 else np.inf
        event[m] = code == 1
        status[m] = code
    return lower, upper, time, event, status
