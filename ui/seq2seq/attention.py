"""The Sequence models page's "Self-attention" tab: one multi-head self-attention layer (random,
seeded weights) on a sentence the learner types, step by step (X → Q, K, V → scores → + mask →
softmax weights → output), every head side by side, and positional encodings: the sinusoids and
why attention alone cannot tell word order."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import streamlit as st

from core.plots.attention import (
    heads_grid,
    mask_heatmap,
    order_blindness_bars,
    positions_heatmap,
    qkv_heatmaps,
    scores_heatmap,
    vectors_heatmap,
    weights_heatmap,
)
from core.seq2seq.attention import sinusoidal_positions
from core.seq2seq.explain import (
    MAX_CHARS,
    SelfAttentionConfig,
    SelfAttentionView,
    order_blindness,
    reordering,
    self_attention,
)
from ui import form
from ui.tables import csv_button

KEY = "seq2seq.attention"
PE_POSITIONS = 50


def render_attention() -> None:
    """The "Self-attention" tab."""
    st.markdown(
        "In the date translator, the decoder's state looks back at the encoder's states. A Transformer does the "
        "same thing everywhere, with no RNN at all: in **self-attention** every token of a sentence looks at every "
        "token of the same sentence. Each token's vector x is turned into three vectors by three learned matrices: "
        "a **query** q = x·W_Q (what this token is looking for), a **key** k = x·W_K (what it can be found by) and "
        "a **value** v = x·W_V (what it hands over when it is found). A query's dot product with every key says "
        "how well they match; a softmax turns those scores into weights that sum to 1; the token's output is the "
        "weighted average of the values:"
    )
    st.latex(r"\text{Attention}(Q,K,V)=\operatorname{softmax}\!\Big(\frac{QK^{\top}}{\sqrt{d_k}}+M\Big)\,V")
    st.markdown(
        "**M** is the mask: 0 where a query may look and −∞ where it may not (a −∞ score gets weight 0). A "
        "**causal** mask hides the future, as a decoder or a language model needs. **Why √d_k:** a dot product of "
        "two d_k-long vectors with unit-size entries has a spread of about √d_k; dividing by √d_k keeps the scores "
        "near unit size, so the softmax stays soft and still passes gradients. A **head** is one set of W_Q, W_K, "
        "W_V of width d_k = d_model / h; h heads attend in parallel, each free to match tokens in its own way, and "
        "their outputs are concatenated and mixed by W_O.\n\n"
        "**Try:** turn the causal mask on and watch the upper triangle go grey and then 0; compare the heads; change "
        "the seed to draw other weights; switch positions off and look at the two *the*s, whose "
        "rows become identical; type a sentence with a repeated word."
    )
    st.info("This layer's weights are **random** (seeded, never trained): the patterns show the mechanism, not "
            "meaning. Trained heads are on the *Transformer language model* tab.", icon=":material/casino:")
    cfg = _settings()
    if cfg is None:
        return
    view = self_attention(cfg)
    _steps(view)
    st.markdown("#### All the heads")
    st.plotly_chart(heads_grid(view.tokens, view.weights, title=f"Every head's weights, side by side (h = {view.heads})"),
                    key=f"{KEY}.fig_heads")
    st.caption("Each head has its own W_Q and W_K, so each one spreads its attention differently over the same "
               "sentence. All use one colour scale, 0 to 1. In a trained model some heads learn to follow the "
               "previous word, others a verb's subject, others punctuation.")
    st.plotly_chart(vectors_heatmap(view.tokens, view.output, title="Output = concat(head₁, …, head_h)·W_O",
                                    colorbar="output"), key=f"{KEY}.fig_output")
    st.caption("One new vector per token, the same size as its input: a Transformer adds it back to the input "
               "(a residual connection) and passes it through a small feed-forward network, layer after layer.")
    _positions(cfg)


def _settings() -> SelfAttentionConfig | None:
    """The tab's widgets, built from the config's fields; None (after a warning) for bad input."""
    c1, c2 = st.columns([3, 1])
    values = {"text": form.field(c1, SelfAttentionConfig, "text", key=f"{KEY}.text", max_chars=MAX_CHARS),
              "tokens": form.field(c2, SelfAttentionConfig, "tokens", key=f"{KEY}.tokens", horizontal=True)}
    row = st.columns([1.2, 1.6, 1, 1, 1])
    values |= form.fields(SelfAttentionConfig, [(row[0], "heads", {"horizontal": True}), (row[1], "d_model"),
                                                (row[2], "causal"), (row[3], "positions"), (row[4], "seed")],
                          keys=f"{KEY}.")
    try:
        return SelfAttentionConfig(**values)
    except ValueError as exc:
        st.warning(str(exc), icon=":material/edit:")
        return None


def _steps(view: SelfAttentionView) -> None:
    """One head, step by step."""
    head = 1
    if view.heads > 1:
        head = st.radio("Head to look at", list(range(1, view.heads + 1)), horizontal=True, key=f"{KEY}.head",
                        format_func=lambda i: f"head {i}")
    i = head - 1
    tokens = view.tokens
    st.markdown(f"#### Step by step, head {head} of {view.heads} (d_k = {view.d_k})")
    st.markdown("**1. The input X and the head's Q, K, V.** Each row of X is a token's embedding"
                + (" plus its position" if view.positions.any() else " (no positions)")
                + f"; W_Q, W_K and W_V each map its {view.d_model} numbers to {view.d_k}.")
    c1, c2 = st.columns([1, 2.4])
    c1.plotly_chart(vectors_heatmap(tokens, view.x, title="X (one row per token)", colorbar="x"), key=f"{KEY}.fig_x")
    c2.plotly_chart(qkv_heatmaps(tokens, view.q[i], view.k[i], view.v[i], title=f"Head {head}: Q, K and V"),
                    key=f"{KEY}.fig_qkv")
    spread = float(view.scores[i].std())
    st.markdown("**2. Scores, then the mask.** Row = a query, column = a key: the score is q·k/√d_k. The mask is "
                "added before the softmax.")
    m = st.columns(3)
    m[0].metric("Spread of the scores (std)", f"{spread:.2f}")
    m[1].metric("Without ÷√d_k it would be", f"{spread * view.d_k ** 0.5:.2f}",
                help=f"The same scores times √d_k = {view.d_k ** 0.5:.2f}: the larger the head, the larger the "
                     "dot products, and the closer the softmax comes to picking one key.")
    m[2].metric("Masked cells (−∞)", f"{int(np.isneginf(view.mask).sum())} of {view.mask.size}")
    c1, c2 = st.columns(2)
    c1.plotly_chart(scores_heatmap(tokens, view.scores[i], title=f"Head {head}: scores QKᵀ/√d_k"),
                    key=f"{KEY}.fig_scores")
    c2.plotly_chart(mask_heatmap(tokens, view.mask, title="The mask M (causal)" if view.causal else
                                 "The mask M (none: every cell 0)"), key=f"{KEY}.fig_mask")
    st.markdown("**3. Softmax, row by row.** e^−∞ = 0, so a masked cell gets weight 0; each row of the weights sums "
                "to 1.")
    c1, c2 = st.columns(2)
    c1.plotly_chart(scores_heatmap(tokens, view.scores[i], view.mask, title=f"Head {head}: scores + M"),
                    key=f"{KEY}.fig_masked")
    c2.plotly_chart(weights_heatmap(tokens, view.weights[i], title=f"Head {head}: weights softmax(QKᵀ/√d_k + M)"),
                    key=f"{KEY}.fig_weights")
    st.markdown("**4. The weighted values.** The head's output for a token is its row of weights times V: a mix of "
                "the values of the tokens it looked at.")
    c1, c2 = st.columns(2)
    c1.plotly_chart(vectors_heatmap(tokens, view.heads_out[i], title=f"Head {head}: output = weights·V",
                                    xlabel="dimension of d_k", colorbar="value"), key=f"{KEY}.fig_head_out")
    table = pd.DataFrame(view.weights[i], columns=[f"{j}:{t}" for j, t in enumerate(tokens)])
    table.insert(0, "query", [f"{j}:{t}" for j, t in enumerate(tokens)])
    c2.markdown(f"Row *i* of this output is Σⱼ weightᵢⱼ · vⱼ: compare it with the rows of V above that have the "
                f"largest weights. Each of the {view.heads} heads gives one such [tokens × {view.d_k}] block.")
    csv_button(c2, f"Download head {head}'s weights (CSV)", table, f"attention_head{head}_weights.csv",
               key=f"{KEY}.csv")


def _positions(cfg: SelfAttentionConfig) -> None:
    """Positional encodings: the sinusoids, then the order-blindness picture."""
    st.markdown("#### Positional encodings")
    st.markdown(
        "Attention compares every token with every other one as a **set**: nothing in softmax(QKᵀ/√d_k)·V knows "
        "which token came first. So the position is added to each embedding. The original Transformer adds "
        "sinusoids of different wavelengths, PE(pos, 2i) = sin(pos/10000^(2i/d)) and PE(pos, 2i+1) = "
        "cos(pos/10000^(2i/d)): the first dimensions change fast from one position to the next, the last ones "
        "slowly, like the hands of a clock. Many models (GPT among them) learn one vector per position instead."
    )
    st.plotly_chart(positions_heatmap(sinusoidal_positions(PE_POSITIONS, cfg.d_model).numpy(),
                                      title=f"Sinusoidal encodings: {PE_POSITIONS} positions × d_model = {cfg.d_model}"),
                    key=f"{KEY}.fig_pe")
    st.markdown(
        "**Order blindness.** The same words in another order go through the same layer, once without positions and "
        "once with them. For each word the bar is how far its output moved. **Try:** swap two words, or put the "
        "first word last."
    )
    sentence = zlib.crc32(f"{cfg.tokens}\x00{cfg.text}".encode())  # a new sentence starts from a new suggestion
    other = st.text_input("The same words in another order", reordering(cfg.text, cfg.tokens), max_chars=MAX_CHARS,
                          key=f"{KEY}.reordered.{sentence:08x}")
    if not other.strip():
        st.warning("Type the same words in another order to compare the two.", icon=":material/edit:")
        return
    try:
        ob = order_blindness(cfg, other)
    except ValueError as exc:
        st.warning(str(exc), icon=":material/edit:")
        return
    st.plotly_chart(order_blindness_bars(ob.tokens, ob.without, ob.with_positions), key=f"{KEY}.fig_order")
    st.caption(f"Without positions the largest change is {ob.without.max():.1g}, rounding error: each word gets "
               "exactly the same output in both orders, so “the cat sat on the mat” and “the mat sat on the cat” "
               f"look alike to attention. With positions the outputs move by up to {ob.with_positions.max():.2f}. "
               "(The causal mask is left out here: a mask that hides later words already depends on the order.)")
