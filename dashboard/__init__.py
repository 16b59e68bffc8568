"""The Streamlit dashboard (UI only: statistics come from the ``analysis`` package)."""
