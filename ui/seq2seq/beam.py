"""The Sequence models page's "Beam search" tab: greedy search against beam search of
width B with length normalization α on a trained model, the B best hypotheses with their
raw and normalized scores, and the search tree."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.plots.seq2seq import beam_tree
from core.seq2seq import EOS, MAX_INPUT_CHARS, beam_translate
from ui.seq2seq.common import JOBS, TASK_NAMES, offer_training, pick_variant, trained_result, trained_seq2seq
from ui.tables import csv_button

KEY = "seq2seq.beam"
EXAMPLES = {"dates": "sat 3 may 99", "numbers": "4021"}


def render_beam() -> None:
    """The "Beam search" tab."""
    st.markdown(
        "Greedy search writes the single most probable token at each step. **Beam search** keeps the B most "
        "probable partial outputs (by Σ log P), extends each by every token, keeps the best B again, and at the "
        "end picks the finished output with the best **length-normalized score**:"
    )
    st.latex(r"\frac{1}{T^{\alpha}}\sum_{t=1}^{T}\log P\left(y^{\langle t\rangle}\mid x, y^{\langle 1\rangle},"
             r"\dots,y^{\langle t-1\rangle}\right)")
    st.markdown(
        "T counts the output tokens including the end token. α = 0 ranks by the raw sum, which favours short "
        "outputs; α = 1 by the mean log-probability per token. **Try:** B = 1 (it is exactly greedy search), then "
        "B = 3–5 on an unusual or ambiguous input (`3/4/05`, `mai 3 99`, a typo), and move α to see the ranking change."
    )
    tasks = [t for t in JOBS if trained_result(t) is not None]
    if not tasks:
        offer_training("dates", key=f"{KEY}.quick")
        return
    task = tasks[0] if len(tasks) == 1 else st.radio("Trained model", tasks, format_func=TASK_NAMES.get,
                                                       horizontal=True, key=f"{KEY}.task")
    result = trained_result(task)
    variant = pick_variant(result, key=f"{KEY}.variant")
    if variant.variant == "transformer":
        st.caption("With the Transformer, the same beam search: its state for each hypothesis is the prefix written "
                   "so far, and each step runs the decoder over that whole prefix (causal self-attention, then "
                   "cross-attention to the encoded input) to get the next token's log-probabilities.")
    c1, c2, c3 = st.columns([2, 1, 1])
    text = c1.text_input("Input", EXAMPLES[task], max_chars=MAX_INPUT_CHARS * 2, key=f"{KEY}.text.{task}")
    width = c2.slider("Beam width B", 1, 10, 3, key=f"{KEY}.width")
    alpha = c3.slider("Length normalization α", 0.0, 1.0, 0.7, 0.05, key=f"{KEY}.alpha")
    model = trained_seq2seq(variant)
    if model is None:
        return
    try:
        beam, greedy, clean = beam_translate(model, result.codec, text, width, alpha, record_tree=True)
    except ValueError as exc:
        st.warning(str(exc), icon=":material/edit:")
        return
    codec = result.codec
    greedy_text = codec.decode_output(greedy.tokens)
    rows = []
    for rank, h in enumerate(beam.hypotheses[:width], 1):
        out = codec.decode_output(h.tokens)
        rows.append({"rank": rank, "output": out, "T (tokens with <eos>)": h.length, "Σ log P": round(h.log_prob, 4),
                     "probability": float(f"{pow(2.718281828459045, h.log_prob):.4g}"),
                     f"score (α = {alpha:g})": round(h.score(alpha), 4), "finished": h.finished,
                     "same as greedy": out == greedy_text})
    m1, m2, m3 = st.columns(3)
    m1.metric("Greedy search", greedy_text or "(nothing)", help=f"Σ log P = {greedy.log_prob:.4f}")
    m2.metric(f"Beam search (B = {width})", codec.decode_output(beam.best.tokens) or "(nothing)",
              help=f"Σ log P = {beam.best.log_prob:.4f}")
    m3.metric("Normalized score: beam − greedy", f"{beam.best.score(alpha) - greedy.score(alpha):+.4f}")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"The {len(rows)} best of the {len(beam.hypotheses)} hypotheses beam search ended with for “{clean}”, "
               "best normalized score first. *Finished* ones ended with <eos>; the others reached the length limit. "
               "Beam search keeps its beam by Σ log P and ranks the final hypotheses by the normalized score.")
    csv_button(st, "Download the hypotheses (CSV)", rows, f"beam_{task}_B{width}.csv", key=f"{KEY}.csv")
    path = _best_path(beam)
    st.plotly_chart(beam_tree(beam.tree, codec.tgt_vocab.tokens, eos=EOS, best_path=path,
                              title=f"Beam search tree (B = {width}): kept, pruned and finished hypotheses"),
                    key=f"{KEY}.tree")
    st.caption("Each column is one step. Green: kept in the beam; grey: the most probable extensions that were pruned "
               "(three per kept hypothesis); red stars: finished with <eos> (■). The thick line is the chosen output.")


def _best_path(beam) -> list[int]:
    """The tree node ids of the best hypothesis, from the root."""
    best = beam.best.tokens
    by_parent: dict[tuple[int | None, int, int], int] = {(n.parent, n.step, n.token): n.id for n in beam.tree if n.kept}
    path, parent = [0], 0
    for t, tok in enumerate(best, 1):
        node = by_parent.get((parent, t, tok))
        if node is None:
            break
        path.append(node)
        parent = node
    return path
