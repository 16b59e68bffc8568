"""Access to the page context that app.py computes from the sidebar on every run."""

from __future__ import annotations

import streamlit as st

from dashboard.state import Context


def current() -> Context:
    """The settings and datasets for this run (set by app.py before the page runs)."""
    return st.session_state["context"]
