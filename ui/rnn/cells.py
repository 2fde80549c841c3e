"""The RNNs page's first tab: the course's RNN, LSTM and GRU equations, how PyTorch's GRU
differs, and the gate viewer (a cell reads a typed text one character per step)."""

from __future__ import annotations

import streamlit as st

from core.plots.rnn import gate_heatmaps, gate_step_bars
from core.rnn.viewer import (
    MAX_VIEW_CHARS,
    GateTrace,
    Viewer,
    check_view_text,
    gates_table,
    random_viewer,
    trace_gates,
    viewer_from_charlm,
)
from ui import shell
from ui.rnn.charlm import PAGE, trained_charlm, trained_lm
from ui.tables import csv_button

RANDOM = "A random cell (untrained)"
TRAINED = "The language model trained in this session"


def _equations() -> None:
    rnn, lstm, gru = st.tabs(["RNN", "LSTM", "GRU"])
    with rnn:
        st.markdown("One matrix on the concatenation of the previous state and the input, the same at every step:")
        st.latex(r"a^{\langle t \rangle} = \tanh\left(W_a\,[a^{\langle t-1 \rangle}, x^{\langle t \rangle}] + b_a\right)")
    with lstm:
        st.markdown("Three sigmoid gates decide what to forget, what to write and what to show; the cell state C "
                    "carries memory forward, changed only by multiplication with f and addition of i·C̃:")
        st.latex(r"""\begin{aligned}
f_t &= \sigma(W_f [h_{t-1}, x_t] + b_f) & i_t &= \sigma(W_i [h_{t-1}, x_t] + b_i) \\
\tilde C_t &= \tanh(W_C [h_{t-1}, x_t] + b_C) & C_t &= f_t * C_{t-1} + i_t * \tilde C_t \\
o_t &= \sigma(W_o [h_{t-1}, x_t] + b_o) & h_t &= o_t * \tanh(C_t)
\end{aligned}""")
    with gru:
        st.markdown("Two gates and no separate cell state: z mixes the old state with a candidate, r decides how much "
                    "of the old state the candidate may look at:")
        st.latex(r"""\begin{aligned}
z_t &= \sigma(W_z [h_{t-1}, x_t] + b_z) & r_t &= \sigma(W_r [h_{t-1}, x_t] + b_r) \\
\tilde h_t &= \tanh(W [r_t * h_{t-1}, x_t] + b) & h_t &= (1 - z_t) * h_{t-1} + z_t * \tilde h_t
\end{aligned}""")
        st.info("PyTorch's `nn.GRUCell` is a slightly different GRU: it multiplies r with the recurrent term *after* "
                "its matrix, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), and its z keeps the *old* state, "
                "h = (1 − z) * n + z * h. Flipping z is only a relabelling, but r's position changes the function: "
                "with the same weights the two agree only when r = 1 (tests/unit/test_rnn.py shows both).",
                icon=":material/compare_arrows:")
    st.caption("Our cells in `core/rnn/cells.py` are written from these equations and checked against "
               "`torch.nn.LSTMCell` and `torch.nn.RNNCell` (same weights, to 10⁻⁶) and against a NumPy transcription "
               "of the GRU.")


@st.cache_resource(show_spinner=False, max_entries=8)
def _random_viewer(kind: str, hidden: int, seed: int) -> Viewer:
    return random_viewer(kind, hidden, seed)


def _viewer(source: str, kind: str, hidden: int) -> Viewer | None:
    if source == TRAINED:
        lm = trained_lm()
        if lm is None:
            return None
        result, trained_on = lm
        model = trained_charlm(result)
        return None if model is None else viewer_from_charlm(model, result.vocab, trained_on)
    return _random_viewer(kind, hidden, shell.global_seed())


def render_cells() -> None:
    """The "Cells and gates" tab."""
    st.markdown(
        "An RNN reads a sequence one element at a time and carries a **state** from step to step; the same "
        "weights are used at every step. Below are the three cells of the course. The **gate viewer** runs one "
        "over a text you type, one character per step, and shows every gate's value for every unit. **Try:** "
        "type a word twice (\"banana banana\") and see whether the state repeats; move the step slider and watch "
        "the LSTM's forget gate decide how much of the cell state survives."
    )
    _equations()
    st.subheader("Gate viewer")
    has_lm = trained_lm() is not None
    sources = [TRAINED, RANDOM] if has_lm else [RANDOM]
    c1, c2, c3 = st.columns([2, 1, 1])
    source = c1.radio("Cell to look inside", sources, key=f"{PAGE}.view_source", horizontal=True)
    kind = c2.selectbox("Cell type", ["LSTM", "GRU", "RNN"], key=f"{PAGE}.view_kind", disabled=source == TRAINED)
    hidden = c3.select_slider("Units", [4, 8, 12, 16], 8, key=f"{PAGE}.view_units", disabled=source == TRAINED)
    if not has_lm:
        st.caption("No language model has been trained in this session yet, so the viewer uses a random cell. "
                   "Train one in the *Character language model* tab to see learned gates.")
    viewer = _viewer(source, kind, hidden)
    if viewer is None:
        st.warning("The trained model is not available any more; showing a random cell.", icon=":material/warning:")
        viewer = _random_viewer(kind, hidden, shell.global_seed())
    st.info(viewer.source, icon=":material/memory:")
    default = "Anna" if source == TRAINED else "Hello, hello!"
    text = st.text_input(f"Text to read (at most {MAX_VIEW_CHARS} characters)", default, key=f"{PAGE}.view_text",
                         max_chars=None)
    problem = check_view_text(text, viewer.vocab)
    if problem:
        (st.warning if text else st.info)(problem, icon=":material/keyboard:")
        if text and viewer.vocab.unknown(text) and len(text) <= MAX_VIEW_CHARS:
            known = "".join(c for c in viewer.vocab.tokens if c.isprintable())
            st.caption(f"Known characters: `{known}` (and the newline)" if "\n" in viewer.vocab.tokens
                       else f"Known characters: `{known}`")
        return
    trace = trace_gates(viewer, text)
    _show_trace(trace, viewer)


def _show_trace(trace: GateTrace, viewer: Viewer) -> None:
    T = trace.steps
    step = st.slider("Step", 1, T, T, key=f"{PAGE}.view_step") if T > 1 else 1
    ch = trace.text[step - 1]
    st.plotly_chart(gate_heatmaps(trace.gates, trace.text, step), key=f"{PAGE}.view_heatmaps")
    left, right = st.columns([1.6, 1])
    left.plotly_chart(gate_step_bars(trace.gates, step, ch), key=f"{PAGE}.view_bars")
    with right:
        if "forget" in trace.gates:
            f = trace.gates["forget"][step - 1]
            st.metric("Mean forget gate at this step", f"{f.mean():.3f}",
                      help="Near 1: the cell state is kept; near 0: it is wiped.")
        if "update" in trace.gates:
            z = trace.gates["update"][step - 1]
            what = "old state kept (PyTorch's z)" if viewer.kind == "TorchGRU" else "candidate taken (course's z)"
            st.metric(f"Mean update gate z: share of {what}", f"{z.mean():.3f}")
        h = trace.gates["hidden"][step - 1]
        st.metric("Size of the hidden state ‖h‖", f"{float((h ** 2).sum()) ** 0.5:.3f}")
        st.caption("Each heatmap column is one time step (the character read is under it); each row one unit. "
                   "Gates lie between 0 (closed) and 1 (open); candidate, cell and hidden values are signed.")
    table = gates_table(trace)
    with st.expander(f"All values ({len(table):,} rows)"):
        st.dataframe(table, hide_index=True, width="stretch", height=260)
    csv_button(st, "Download the gate values (CSV)", table, f"gates_{viewer.kind.lower()}.csv", f"{PAGE}.view_csv")
