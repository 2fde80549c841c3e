"""The Sequence models page's "Number words" tab: the same encoder–decoder on a word-level
task, numbers ↔ English words, scored with word-level BLEU."""

from __future__ import annotations

import streamlit as st

from core.seq2seq import number_to_words
from core.seq2seq.data import DIRECTIONS
from ui import jobs
from ui.seq2seq_common import (
    JOBS,
    build_config,
    hyperparameters,
    quick_config,
    start_training,
    training_view,
    translate_box,
    variants_picker,
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
    defaults = quick_config(TASK)
    with st.form(f"{JOB}.form", border=True):
        variants = variants_picker(f"{JOB}.variants")
        c1, c2 = st.columns(2)
        direction = c1.radio("Direction", DIRECTIONS, horizontal=True, key=f"{JOB}.direction")
        high = c2.select_slider("Largest number", [999, 9_999, 99_999, 999_999], 9_999, key=f"{JOB}.high")
        fields = hyperparameters(JOB, defaults)
        go = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:", disabled=jobs.is_active(JOB))
    if go:
        fields["n_train"] = min(fields["n_train"], max(high + 1 - defaults.n_dev, 8))
        cfg = build_config({**fields, "task": TASK, "variants": variants, "direction": direction, "high": high})
        if cfg is not None:
            start_training(cfg)
    jobs.panel(JOB, lambda snap: training_view(snap, TASK), every=1.5)
    st.subheader("Translate a number")
    result = st.session_state.get(f"{JOB}.result")
    digits_first = getattr(getattr(result, "cfg", None), "direction", DIRECTIONS[0]) == DIRECTIONS[0]
    translate_box(TASK, "4021" if digits_first else number_to_words(4021),
                  "A number in digits" if digits_first else "A number in English words")


