"""The RNNs page's vanishing-gradients tab: ‖∂L/∂x⟨t⟩‖ through RNN, LSTM and GRU cells over
growing lengths, and exploding gradients tamed by clipping the global norm."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.plots.rnn import clipping_bars, gradient_norms, gradient_vs_length
from core.rnn.gradients import ClipDemo, clipping_demo, gradient_table
from ui import shell
from ui.tables import csv_button

PAGE = "rnn"
LENGTHS = (10, 25, 50, 100)
GRADIENT_CELLS = ("RNN", "LSTM", "GRU")


@st.cache_data(show_spinner="Back-propagating through time…", max_entries=16)
def _table(lengths: tuple[int, ...], hidden: int, scale: float, forget_bias: float, seed: int) -> pd.DataFrame:
    return gradient_table(GRADIENT_CELLS, lengths, hidden_size=hidden, weight_scale=scale, forget_bias=forget_bias, seed=seed)


@st.cache_data(show_spinner=False, max_entries=16)
def _clip(T: int, scale: float, c: float, seed: int) -> ClipDemo:
    return clipping_demo("RNN", T, max_norm=c, weight_scale=scale, seed=seed)


def render_gradients() -> None:
    """The "Vanishing gradients" tab."""
    st.markdown(
        "Training an RNN back-propagates the error through every step it went through. Here the loss is taken at "
        "the **last** step only, and the chart shows how large its gradient is with respect to each earlier input "
        "x⟨t⟩: when the line falls steeply, the first inputs get almost no signal and long-range dependencies "
        "cannot be learned. All three cells start from random weights with the same seed and hidden size. "
        "**Try:** T = 100 and compare the RNN's drop with the LSTM's; set the forget bias to 0, then 2; raise the "
        "weight scale until the RNN's line turns upwards (exploding gradients)."
    )
    c1, c2, c3, c4 = st.columns(4)
    lengths = c1.multiselect("Sequence lengths T", LENGTHS, list(LENGTHS), key=f"{PAGE}.grad_lengths")
    hidden = c2.select_slider("Hidden size (all cells)", [8, 16, 32, 64], 32, key=f"{PAGE}.grad_hidden")
    scale = c3.slider("Weight scale (× PyTorch's ±1/√H)", 0.25, 4.0, 1.0, 0.25, key=f"{PAGE}.grad_scale")
    fb = c4.slider("Forget bias (LSTM b_f; GRU b_z = −this)", -2.0, 3.0, 1.0, 0.5, key=f"{PAGE}.grad_fb",
                   help="1 is the usual choice: the LSTM starts by keeping its cell state (f ≈ σ(1) ≈ 0.73).")
    if not lengths:
        st.warning("Choose at least one sequence length.", icon=":material/warning:")
        return
    lengths = tuple(sorted(lengths))
    table = _table(lengths, hidden, scale, fb, shell.global_seed())
    T = st.select_slider("Show the length", lengths, lengths[-1], key=f"{PAGE}.grad_T") if len(lengths) > 1 else lengths[0]
    left, right = st.columns([1.4, 1])
    left.plotly_chart(gradient_norms(table, T), key=f"{PAGE}.grad_norms")
    right.plotly_chart(gradient_vs_length(table), key=f"{PAGE}.grad_lengths_chart")
    rows = table[table["T"] == T]
    far = min(50, T - 1)
    m = st.columns(3)
    for col, kind in zip(m, GRADIENT_CELLS):
        r = rows[(rows["cell"] == kind) & (rows["distance"] == far)]["ratio"]
        col.metric(f"{kind}: gradient {far} steps back, relative to the last", f"{float(r.iloc[0]):.2e}" if len(r) else "–")
    csv_button(st, "Download the gradient norms (CSV)", table, "gradient_norms.csv", f"{PAGE}.grad_csv")
    st.caption("L = ½‖a⟨T⟩ − y‖² with a random target y; inputs x⟨t⟩ ~ N(0, 1); computed with autograd through our "
               "own cells in float64 (so values down to 10⁻³⁰⁰ are resolved). A vanilla RNN multiplies the gradient "
               "by diag(1 − a²)·W at every step; the LSTM's cell state multiplies it by the forget gate instead.")
    st.divider()
    _clipping()


def _clipping() -> None:
    st.subheader("Exploding gradients and clipping")
    st.markdown(
        "With large recurrent weights the same product of Jacobians grows instead of shrinking: one gradient step "
        "can throw the weights far away (and the loss to NaN). **Gradient clipping** rescales the whole gradient "
        "when its global norm ‖g‖ = √(Σ‖g_i‖²) exceeds a threshold c: g ← g · c/‖g‖. The direction is kept, only "
        "the step is bounded. **Try:** lower the weight scale until no clipping is needed; make T longer."
    )
    c1, c2, c3 = st.columns(3)
    scale = c1.slider("Weight scale of the RNN", 1.0, 8.0, 6.0, 0.5, key=f"{PAGE}.clip_scale")
    T = c2.select_slider("Steps T", [10, 25, 50, 100], 50, key=f"{PAGE}.clip_T")
    c = c3.select_slider("Clip the global norm at c", [0.1, 0.5, 1.0, 5.0, 10.0, 100.0], 1.0, key=f"{PAGE}.clip_c")
    demo = _clip(T, scale, float(c), shell.global_seed())
    table = demo.table()
    left, right = st.columns([1.4, 1])
    left.plotly_chart(clipping_bars(table, demo.max_norm), key=f"{PAGE}.clip_bars")
    with right:
        st.metric("Global norm before clipping", f"{demo.total_before:.3g}")
        st.metric("Global norm after clipping", f"{demo.total_after:.3g}")
        if demo.clipped:
            st.success(f"Clipped: every gradient was multiplied by c/‖g‖ = {demo.max_norm / demo.total_before:.3g}.",
                       icon=":material/content_cut:")
        else:
            st.info("Below the threshold: nothing was changed.", icon=":material/check:")
        st.caption("Computed with `torch.nn.utils.clip_grad_norm_` on one backward pass of the last step's loss "
                   "through a vanilla RNN (small inputs, so its units stay out of tanh's flat tails).")
    csv_button(st, "Download the norms (CSV)", table, "clipping.csv", f"{PAGE}.clip_csv")
