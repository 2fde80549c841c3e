"""The Sequence models page's "Number words" tab: the same encoder–decoder on a word-level
task, numbers ↔ English words, scored with word-level BLEU."""

from __future__ import annotations

import streamlit as st

from core.seq2seq import Seq2SeqConfig, number_to_words
from core.seq2seq.data import DIRECTIONS
from core.seq2seq.training import LARGEST_NUMBERS
from ui import form, jobs
from ui.seq2seq.common import (
    JOBS,
    default_config,
    hyperparameters,
    start_form,
    training_view,
    translate_box,
)

TASK = "numbers"
JOB = JOBS[TASK]


def render_numbers() -> None:
    """The "Number words" tab."""
    st.markdown(
        "The same encoder–decoder and training code, on **words** instead of characters: `4021` → "
        f"`{number_to_words(4021)}` (or back). The output vocabulary is a few dozen words, and BLEU is computed "
        "on words (sacrebleu's default 13a tokenizer), the way machine translation is scored. **Try:** compare "
        "attention and no attention on large numbers, and see how BLEU gives partial credit where exact match "
        "gives none."
    )
    defaults = default_config(TASK)
    with st.form(f"{JOB}.form", border=True):
        variants = form.field(st, Seq2SeqConfig, "variants", key=f"{JOB}.variants")
        c1, c2 = st.columns(2)
        direction = form.field(c1, Seq2SeqConfig, "direction", key=f"{JOB}.direction", horizontal=True)
        high = form.field(c2, Seq2SeqConfig, "high", key=f"{JOB}.high", options=LARGEST_NUMBERS)
        fields = hyperparameters(JOB, defaults)
        go = form.submit("Train", JOB)
    if go:
        fields["n_train"] = min(fields["n_train"], max(high + 1 - defaults.n_dev, 8))
        start_form(TASK, {**fields, "variants": variants, "direction": direction, "high": high})
    jobs.panel(JOB, lambda snap: training_view(snap, TASK), every=1.5)
    st.subheader("Translate a number")
    result = st.session_state.get(f"{JOB}.result")
    digits_first = getattr(getattr(result, "cfg", None), "direction", DIRECTIONS[0]) == DIRECTIONS[0]
    translate_box(TASK, "4021" if digits_first else number_to_words(4021),
                  "A number in digits" if digits_first else "A number in English words")


