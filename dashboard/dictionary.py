"""The data dictionary shown on the Data page: the loader's own contract, rendered.

There is one description of the columns, :data:`analysis.contract.CONTRACT`; this module only
chooses how the dashboard shows it, so the page, the README and the loader cannot disagree on
what is required.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.contract import data_dictionary
from dashboard.tables import MISSING

__all__ = ["data_dictionary", "show_data_dictionary"]


def show_data_dictionary(key: str = "dictionary") -> pd.DataFrame:
    """The contract as a table, one tab per table; returns the full dictionary shown."""
    dictionary = data_dictionary()
    tables = list(dict.fromkeys(dictionary["table"]))
    labels = [("single-file form only" if t == "file" else t) for t in tables]
    for table, tab in zip(tables, st.tabs(labels), strict=True):
        with tab:
            st.dataframe(dictionary[dictionary["table"] == table].drop(columns="table"), hide_index=True,
                         alt=f"Data dictionary: {table}", key=f"{key}_{table}", placeholder=MISSING,
                         column_config={"meaning": st.column_config.TextColumn(width="large"),
                                        "checks": st.column_config.TextColumn(width="large")})
    return dictionary
