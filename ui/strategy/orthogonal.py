"""The "Orthogonalization" tab of the ML strategy page: the chain of goals and the knobs of each."""

from __future__ import annotations

import streamlit as st

from core.plots import strategy as plots
from core.strategy import orthogonal as O
from ui.strategy.views import PAGE


def render() -> None:
    st.markdown(
        "Tune one thing at a time. The goals form a chain: first fit the training set, then the dev set, then the "
        "test set, then do well in the real world. Each goal has its own knobs, and a good knob moves only its "
        "goal. When a goal fails, reach for *its* knobs. **Early stopping** is the exception: stopping sooner fits "
        "the training set worse *and* changes the dev fit, so it moves two goals at once; prefer separate knobs "
        "(train longer, then regularize)."
    )
    st.plotly_chart(plots.orthogonalization(O.GOALS, O.ENTANGLED), key=f"{PAGE}.ortho")
    st.dataframe(O.knob_frame(), hide_index=True, width="stretch")
