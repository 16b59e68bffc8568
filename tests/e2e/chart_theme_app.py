"""One figure drawn twice, by st.plotly_chart (key "native") and by dashboard.chart's renderer (key
"ours"), for tests/e2e/test_chart_renderer.py. Its traces are coloured with Streamlit's placeholder
colours (#000032 to #000040, the first categorical #000001), its texts as the dashboard's are."""

import plotly.graph_objects as go
import streamlit as st

from analysis.figures import with_definitions
from dashboard import chart

PLACEHOLDERS = [f"#0000{n:02d}" for n in (*range(32, 41), 1, 11, 21)]
figure = go.Figure([go.Scatter(x=[0, 1, 2], y=[i, i + 1, i], name=colour, line={"color": colour})
                    for i, colour in enumerate(PLACEHOLDERS)])
figure = with_definitions(figure.update_layout(title="A figure", xaxis_title="days", yaxis_title="points"),
                          ["A definition under the figure."])
st.plotly_chart(figure, key="native")
chart.plotly_chart(figure, key="ours", alt="A figure")
