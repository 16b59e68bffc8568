"""The one public exception for analysis problems (data is valid, but the analysis cannot run).

Data problems (a file that breaks the contract) raise :class:`analysis.DataError`; an analysis
asked of data that cannot support it raises :class:`AnalysisError`, a ``ValueError`` whose
message says, in words, what is missing and what to do next. Tests pin messages, not classes.
"""

from __future__ import annotations

__all__ = ["AnalysisError"]


class AnalysisError(ValueError):
    """An analysis cannot be run as asked; ``str(error)`` says why and what to do instead."""
