"""The Sequence models page's "BLEU" tab: BLEU computed step by step on a candidate and
references the learner types, next to sacrebleu's own number."""

from __future__ import annotations

import pandas as pd
import sacrebleu
import streamlit as st

from core.plots.seq2seq import bleu_precisions
from core.seq2seq import explain_bleu

KEY = "seq2seq.bleu"
MAX_CHARS = 2000
TOKENIZER_LABELS = {"13a": "Words (sacrebleu's 13a tokenizer)", "char": "Characters"}
SMOOTHING_LABELS = {"none": "None: the textbook formula (a pₙ of 0 gives BLEU 0)",
             "exp": "exp: sacrebleu's default (an order with no match counts as 1/(2ᵏ·n-grams))"}


def render_bleu() -> None:
    """The "BLEU" tab."""
    st.markdown(
        "BLEU scores a machine translation against one or more human **references**. It counts how many of the "
        "candidate's n-grams (1 to 4 tokens in a row) appear in a reference, **clipping** each count at the most "
        "times that n-gram appears in any one reference, so repeating a correct word earns nothing. A **brevity "
        "penalty** BP punishes candidates shorter than the reference, since precision alone would reward saying "
        "little. **Try:** the candidate `the the the the the the the`; drop the last words of a good candidate "
        "to see BP fall; add a second reference."
    )
    st.latex(r"\text{BLEU} = BP\cdot\exp\Big(\sum_{n=1}^{4}\tfrac14\log p_n\Big),\qquad "
             r"BP = \begin{cases}1 & c \ge r\\ e^{\,1 - r/c} & c < r\end{cases}")
    c1, c2 = st.columns(2)
    candidate = c1.text_input("Candidate (the machine's output)", "the cat sat on the mat",
                              max_chars=MAX_CHARS, key=f"{KEY}.candidate")
    refs_text = c2.text_area("References, one per line", "the cat is sitting on the mat\nthere is a cat on the mat",
                             max_chars=MAX_CHARS, height=100, key=f"{KEY}.references")
    o1, o2 = st.columns(2)
    tok = o1.radio("Tokens", list(TOKENIZER_LABELS), format_func=TOKENIZER_LABELS.get, horizontal=True, key=f"{KEY}.tokenize")
    smooth = o2.radio("Smoothing", list(SMOOTHING_LABELS), format_func=SMOOTHING_LABELS.get, key=f"{KEY}.smooth")
    refs = [r for r in refs_text.splitlines() if r.strip()]
    if not candidate.strip():
        st.warning("Type a candidate sentence to score.", icon=":material/edit:")
        return
    if not refs:
        st.warning("Type at least one reference (one per line).", icon=":material/edit:")
        return
    b = explain_bleu(candidate, refs, tokenize=tok, smooth_method=smooth)
    ref = sacrebleu.corpus_bleu([candidate], [[r] for r in refs], tokenize=tok, smooth_method=smooth)
    m = st.columns(5)
    m[0].metric("BLEU (0–1, course)", f"{b.score:.4f}")
    m[1].metric("BLEU (0–100)", f"{b.score_100:.2f}", help="The same number × 100: the scale sacrebleu and papers use.")
    m[2].metric("sacrebleu's score", f"{ref.score:.2f}", help=f"Signature-like settings: tokenize={tok}, "
                f"smooth_method={smooth}, no effective order (corpus BLEU).")
    m[3].metric("Brevity penalty BP", f"{b.brevity_penalty:.4f}")
    m[4].metric("Lengths c / r", f"{b.candidate_length} / {b.reference_length}",
                help="c: candidate tokens; r: the reference length closest to c (the shorter one on a tie).")
    left, right = st.columns([3, 2])
    left.plotly_chart(bleu_precisions(b.precisions, b.raw_precisions, b.matches, b.totals), key=f"{KEY}.bars")
    with right:
        parts = " · ".join(f"p{n + 1} = {p:.4f}" for n, p in enumerate(b.precisions))
        st.markdown(f"**The computation**\n\n{parts}")
        if any(p == 0 for p in b.precisions):
            st.markdown("An order with **no match** makes log pₙ = −∞, so BLEU = 0 " +
                        ("(try the exp smoothing)." if smooth == "none" else "."))
        else:
            logs = " + ".join(f"log {p:.4f}" for p in b.precisions)
            st.markdown(f"BLEU = {b.brevity_penalty:.4f} · exp(¼ ({logs})) = **{b.score:.4f}**")
        st.caption("This page's numbers are computed step by step in core.seq2seq.bleu and checked against "
                   "sacrebleu in the tests: with the same tokens and smoothing they are equal.")
    table = pd.DataFrame([{"n": r.n, "n-gram": r.ngram, "count in candidate": r.count,
                           "most in one reference": r.max_ref_count, "clipped count": r.clipped} for r in b.rows])
    st.markdown("**Candidate n-grams and their clipped counts** (pₙ = Σ clipped / Σ count for each n)")
    st.dataframe(table, hide_index=True, width="stretch", height=min(400, 40 + 35 * len(table)))
