"""Registry of rating-scale instruments: score ranges, items, cut-offs, aliases.

Values follow ``DOMAIN.md`` (MADRS: Montgomery & Asberg 1979; HAM-D17: Hamilton 1960;
QIDS-SR16: Rush et al. 2003; PHQ-9: Kroenke et al. 2001; BDI-II: Beck et al. 1996;
CADSS: Bremner et al. 1998; GAD-7: Spitzer et al. 2006). PCL-5 (PTSD Checklist for DSM-5, for
the toolkit's PTSD users; not in DOMAIN.md): 20 items rated 0-4, total 0-80 (Blevins et al. 2015,
J Trauma Stress 28:489); a total of 31-33 or more suggests probable PTSD (Bovin et al. 2016,
Psychol Assess 28:1379), so "remission" is taken as below 33, the most used cut-point (pass
another threshold where an analysis takes one).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Instrument",
    "UnknownInstrumentError",
    "get_instrument",
    "instrument_names",
    "register_instrument",
    "instrument_named_by",
    "resolve_instrument_names",
]


@dataclass(frozen=True)
class Instrument:
    """A rating scale.

    Attributes
    ----------
    name : canonical name used in every table (``"MADRS"``).
    full_name : what the abbreviation stands for.
    min_score, max_score : range of the total score.
    n_items : number of items; ``item_min``/``item_max`` the range of one item.
    higher_is_worse : True for symptom scales (all built-in ones).
    remission_max : remission is ``score <= remission_max`` (None: not defined, e.g. CADSS).
        A "< 5" cut-off is stored as ``remission_max = 4`` (scores are integers).
    suicidality_item : item number of the suicidality item, or None.
    domain : "depression", "dissociation", "anxiety", "PTSD" or "global change".
    aliases : other spellings accepted in data (matched case-insensitively, ignoring
        spaces, hyphens, underscores and dots).
    domains : groups of items of which only the highest counts towards the total (QIDS-SR16's
        sleep, appetite/weight and psychomotor items); every other item counts as itself.
    """

    name: str
    full_name: str
    min_score: float
    max_score: float
    n_items: int
    item_min: float
    item_max: float
    higher_is_worse: bool = True
    remission_max: float | None = None
    suicidality_item: int | None = None
    domain: str = "depression"
    aliases: tuple[str, ...] = ()
    domains: tuple[tuple[int, ...], ...] = ()

    def total_of(self, items: np.ndarray) -> np.ndarray:
        """Total scores of complete item sets: ``items`` has one row per rating and one column
        per item (item 1 first); the sum of the items, or with :attr:`domains` the sum of each
        domain's highest item and the other items."""
        items = np.asarray(items, dtype=float)
        grouped = {i for domain in self.domains for i in domain}
        alone = [i - 1 for i in range(1, self.n_items + 1) if i not in grouped]
        total = items[:, alone].sum(axis=1)
        for domain in self.domains:
            total += items[:, [i - 1 for i in domain]].max(axis=1)
        return total


class UnknownInstrumentError(KeyError):
    """An instrument name that is not in the registry; ``suggestion`` is the closest one."""

    def __init__(self, name: str, suggestion: str | None):
        self.name = name
        self.suggestion = suggestion
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"Unknown instrument {name!r}.{hint} Known: {', '.join(instrument_names())}.")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


_BUILT_IN = (
    Instrument("MADRS", "Montgomery-Asberg Depression Rating Scale", 0, 60, 10, 0, 6,
               remission_max=10, suicidality_item=10, aliases=("MADRS10", "MADRS-10")),
    Instrument("HAM-D17", "Hamilton Depression Rating Scale, 17 items", 0, 52, 17, 0, 4,
               remission_max=7, suicidality_item=3,
               aliases=("HAMD", "HAM-D", "HAMD17", "HDRS", "HDRS17", "HRSD", "HRSD17", "HAMDTL17")),
    # QIDS-SR16 total: the highest of the sleep items (1-4), item 5, the highest of the appetite and
    # weight items (6-9), items 10-14, the highest of the psychomotor items (15-16) (Rush et al. 2003).
    Instrument("QIDS-SR16", "Quick Inventory of Depressive Symptomatology, self-report", 0, 27, 16, 0, 3,
               remission_max=5, suicidality_item=12, aliases=("QIDS", "QIDS-SR", "QIDSSR", "QIDS16"),
               domains=((1, 2, 3, 4), (6, 7, 8, 9), (15, 16))),
    Instrument("PHQ-9", "Patient Health Questionnaire, 9 items", 0, 27, 9, 0, 3,
               remission_max=4, suicidality_item=9, aliases=("PHQ9", "PHQ")),
    # The PHQ-9 without item 9 (thoughts of death or self-harm), for surveys that cannot act on it;
    # the same items 1-8 and cut-offs (Kroenke et al. 2009, J Affect Disord 114:163-73).
    Instrument("PHQ-8", "Patient Health Questionnaire, 8 items", 0, 24, 8, 0, 3,
               remission_max=4, aliases=("PHQ8",)),
    Instrument("BDI-II", "Beck Depression Inventory, second edition", 0, 63, 21, 0, 3,
               remission_max=13, suicidality_item=9, aliases=("BDI2", "BDI", "BDIII")),
    Instrument("CADSS", "Clinician-Administered Dissociative States Scale", 0, 92, 23, 0, 4,
               domain="dissociation", aliases=("CADSS23",)),
    Instrument("GAD-7", "Generalized Anxiety Disorder, 7 items", 0, 21, 7, 0, 3,
               remission_max=4, domain="anxiety", aliases=("GAD7", "GAD")),
    Instrument("PCL-5", "PTSD Checklist for DSM-5", 0, 80, 20, 0, 4, remission_max=32, domain="PTSD",
               aliases=("PCL5",)),
    # Global change rated once (1 = marked improvement, 4 = no change, 7 = marked worsening; no
    # baseline): the CDISC pilot's primary endpoint (Schneider et al. 1997, Alzheimer Dis Assoc Disord).
    Instrument("CIBIC+", "Clinician's Interview-Based Impression of Change plus caregiver input", 1, 7, 1, 1, 7,
               domain="global change", aliases=("CIBIC", "CIBICPLUS", "CIBICVAL", "CIBIC-PLUS")),
)

_REGISTRY: dict[str, Instrument] = {}
_ALIASES: dict[str, str] = {}


def _key(text: str) -> str:
    return re.sub(r"[\s\-_.]", "", str(text)).upper()


def register_instrument(instrument: Instrument, *, replace: bool = False) -> Instrument:
    """Add an instrument (and its aliases) to the registry; returns it.

    Raises ValueError if the name or an alias already means another instrument, unless
    ``replace`` is True.
    """
    keys = {_key(instrument.name), *(_key(a) for a in instrument.aliases)}
    clashes = {k for k in keys if _ALIASES.get(k, instrument.name) != instrument.name}
    if clashes and not replace:
        taken = ", ".join(sorted(f"{k} ({_ALIASES[k]})" for k in clashes))
        raise ValueError(f"Instrument names already registered: {taken}. Pass replace=True to override.")
    if instrument.min_score >= instrument.max_score:
        raise ValueError(f"{instrument.name}: min_score must be below max_score.")
    _REGISTRY[instrument.name] = instrument
    _ALIASES.update(dict.fromkeys(keys, instrument.name))
    return instrument


for _instrument in _BUILT_IN:
    register_instrument(_instrument)


def instrument_names() -> list[str]:
    """Canonical names of every registered instrument."""
    return list(_REGISTRY)


def get_instrument(name: str) -> Instrument:
    """The instrument called ``name`` or one of its aliases (case-insensitive)."""
    canonical = _ALIASES.get(_key(name))
    if canonical is None:
        raise UnknownInstrumentError(name, closest_instrument(name))
    return _REGISTRY[canonical]


def closest_instrument(name: str) -> str | None:
    """The registered name closest in spelling to ``name``, or None if nothing is close."""
    match = difflib.get_close_matches(_key(name), list(_ALIASES), n=1, cutoff=0.6)
    return _ALIASES[match[0]] if match else None


def resolve_instrument_names(names: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    """Map each distinct spelling to its canonical name (None when unknown)."""
    return {n: _ALIASES.get(_key(n)) for n in dict.fromkeys(names)}


# Words a title may add to an instrument's name: what the sheet holds, or what the scale measures.
_TITLE_WORDS = frozenset({"score", "scores", "rating", "ratings", "total", "totals", "result", "results", "data",
                          "self", "report", "self-report", "clinician", "clinician-rated", "rated", "form", "items",
                          "depression", "dissociation", "anxiety", "suicidality", "ptsd", "sheet"})


def instrument_named_by(title: str) -> str | None:
    """The instrument a sheet's or table's title names: 'MADRS', 'PHQ9', and with words about
    what it holds, 'MADRS scores', 'Dissociation (CADSS)', 'PHQ-9 self-report'; None for any other
    title ('Sheet1', 'Patients', 'MADRS notes')."""
    exact = _ALIASES.get(_key(title))
    if exact is not None:
        return exact
    words = [w for w in re.split(r"[\s()\[\]:,/]+", str(title)) if w]
    for size in range(len(words), 0, -1):
        for start in range(len(words) - size + 1):
            found = _ALIASES.get(_key(" ".join(words[start:start + size])))
            rest = words[:start] + words[start + size:]
            if found is not None and all(w.lower() in _TITLE_WORDS for w in rest):
                return found
    return None
