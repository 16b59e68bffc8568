"""The infusions a converted source's reader found (CDISC EX, a REDCap infusion form), handed to
the loader beside its ratings.

A reader returns one row per rating; its infusions are a table of their own, kept in the ratings'
``attrs["infusions"]`` (:class:`AttachedTable`), so that an infusion no rating follows is still an
infusion. :func:`attach_infusions` puts them there and gives each rating the number of the
infusion it follows; ``analysis.load`` reads the table as the infusions table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AttachedTable", "attach_infusions"]


@dataclass(frozen=True, eq=False)
class AttachedTable:
    """A table a converted source's reader gives beside its long frame, in ``attrs``
    (``long_frame.attrs["infusions"].frame``). Compared by identity, so that pandas, which
    compares attrs when it copies or concatenates frames, can."""

    frame: pd.DataFrame


def attach_infusions(long_frame: pd.DataFrame, infusions: pd.DataFrame) -> pd.DataFrame:
    """``long_frame`` (one row per rating: patient_id, time_hours in hours since the patient's first
    infusion) with ``infusion_number``, the last infusion of its patient started at or before the
    rating (NA before the first, or without a time), and ``infusions`` (patient_id, infusion_number,
    time_hours, dose, route ...) in ``attrs["infusions"]``."""
    ratings = pd.DataFrame({"patient_id": long_frame["patient_id"].astype("string").reset_index(drop=True),
                            "t": long_frame["time_hours"].to_numpy(dtype="float64"),
                            "order": np.arange(len(long_frame))})
    timed = ratings.dropna(subset=["t"]).sort_values("t", kind="stable")
    starts = infusions[["patient_id", "time_hours", "infusion_number"]].astype({"patient_id": "string"}) \
        .dropna(subset=["time_hours"]).sort_values("time_hours", kind="stable")
    linked = pd.merge_asof(timed, starts, left_on="t", right_on="time_hours", by="patient_id", direction="backward")
    number = pd.array([pd.NA] * len(long_frame), dtype="Int64")
    number[linked["order"].to_numpy()] = linked["infusion_number"].astype("Int64").to_numpy()
    long_frame = long_frame.assign(infusion_number=number)
    long_frame.attrs["infusions"] = AttachedTable(infusions.reset_index(drop=True))
    return long_frame
