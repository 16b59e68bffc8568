"""The machine's floor for benchmarks/bench_pages.py: a Streamlit app with one tiny plotly chart in
the project's figure template. Opening it costs what every dashboard page costs before its own
work: the Streamlit frontend, plotly.js loaded and evaluated, one chart drawn (by dashboard.chart, as
the pages' charts are; bench_pages runs a copy beside a copy of the bundle's static/)."""

import plotly.graph_objects as go
import streamlit as st

from analysis.figures import with_definitions
from dashboard import chart

st.title("Floor")
chart.plotly_chart(with_definitions(go.Figure(go.Scatter(x=[0, 1, 2], y=[3, 1, 2], mode="lines+markers"))),
                   key="chart_floor")
