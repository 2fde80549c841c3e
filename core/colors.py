"""The lab's colours, as data only (no drawing library is imported here): the engine's logged PNGs
(:mod:`core.artifacts`), the detectors' box colours and the interactive charts (:mod:`core.plots`)
all read them from here, so one optimizer or one class has one colour everywhere."""

from __future__ import annotations

# Plotly's qualitative "Plotly" then "D3" sequences, written out.
PALETTE: tuple[str, ...] = (
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52",
    "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF",
)

# One colour per optimizer, shared by every figure; all readable on the pale contour fill.
OPTIMIZER_COLORS: dict[str, str] = {
    "Gradient descent": "#d62728",
    "Momentum": "#ff7f0e",
    "Adagrad": "#2ca02c",
    "RMSprop": "#9467bd",
    "Adam": "#111111",
}


def color(i: int) -> str:
    """The ``i``-th colour of the palette (wrapping around)."""
    return PALETTE[i % len(PALETTE)]

# The playground's classes: orange and blue as in TensorFlow Playground, then more distinct hues for extra
# classes (the run's logged decision map and the page's charts both use them).
CLASS_RGB: tuple[tuple[int, int, int], ...] = (
    (245, 147, 34), (8, 119, 189), (46, 160, 67), (214, 39, 40), (148, 103, 189), (140, 86, 75),
)
