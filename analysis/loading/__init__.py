"""Loading and validation of outcome data (see :func:`load`).

Modules, one idea each: :mod:`~analysis.loading.reading` (sources: files, folders, sheets, the
mapping applied), :mod:`~analysis.loading.wide` (the wide layout), :mod:`~analysis.loading.times`
(time units, study days, ISO 8601 durations, visit labels), :mod:`~analysis.loading.vocabularies`
(routes, diagnoses, sex codes, doses as text), :mod:`~analysis.loading.suggest` (guessing a
mapping), :mod:`~analysis.loading.attached` (the infusions table a CDISC or REDCap reader hands
over) and :mod:`~analysis.loading.validation` (the contract's checks and the validated tables).
"""

from __future__ import annotations

from analysis.loading.reading import load, load_sample

__all__ = ["load", "load_sample"]
