"""Plotly figure builders: pure functions, data in, ``go.Figure`` out. One module per area."""
