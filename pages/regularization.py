"""Regularization: an overfitting set-up, and L2, dropout, augmentation, early stopping and
batch normalization tried on it as tracked runs."""

import streamlit as st

from ui import challenges
from ui.regularization import panel, tabs

st.title("Regularization")
st.markdown(
    "A network that is large for its training set can learn the training examples by heart: its "
    "**train error** drops to almost zero while its **dev error** stays high. That gap is *variance* "
    "(overfitting). The set-up below makes it happen on purpose — a few hundred digits and a wide "
    "network — so you can watch each regularization technique work on it. **Try:** run the first tab "
    "without regularization and look at the gap; then add L2 or dropout, more data by augmentation, "
    "or stop early, and compare. Every training is a tracked run (compare them on the Runs page)."
)
tabs.render(panel.set_up())
challenges.block("regularization")
