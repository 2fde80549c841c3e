"""The Sequence models page's "Date translation" tab: train encoder–decoders with and
without attention on written dates, compare them, and translate a typed date with its
attention heatmap."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.seq2seq import Seq2SeqConfig, format_human
from core.seq2seq.dates import DATE_FORMATS
from ui import form, jobs
from ui.seq2seq.common import (
    JOBS,
    hyperparameters,
    start_form,
    training_view,
    translate_box,
)

TASK = "dates"
JOB = JOBS[TASK]


def _examples() -> list[str]:
    d = dt.date(1999, 5, 3)
    seen: dict[str, None] = {}
    for lang, locale, pattern in DATE_FORMATS:
        if lang in ("en", "de", "es", "fr"):
            seen.setdefault(format_human(d, locale, pattern))
    return list(seen)[:10]


def render_dates() -> None:
    """The "Date translation" tab."""
    st.markdown(
        "The task: read a date written the way people write it, in one of many formats and seven languages, and "
        "write it as an ISO date (`YYYY-MM-DD`), one character at a time. The **encoder** (a bidirectional GRU or "
        "LSTM) reads the characters; the **decoder** writes the answer. Without attention the decoder gets one "
        "fixed-size summary of the input; with attention it looks back at every input character at every step. "
        "The **Transformer** drops the recurrence: layers of multi-head self-attention read all characters at once, "
        "and its decoder's cross-attention looks back at them, head by head. "
        "**Try:** train both RNNs and compare their exact match; lower the teacher-forcing ratio; add the "
        "Transformer and compare parameters, seconds per epoch and exact match by input length; type your own date "
        "below and read the heatmap (the digits of the day should light up when the model writes the day)."
    )
    st.caption("Examples of the training inputs for 3 May 1999: " + " · ".join(f"`{e}`" for e in _examples()))
    defaults = Seq2SeqConfig()
    with st.form(f"{JOB}.form", border=True):
        variants = form.field(st, Seq2SeqConfig, "variants", key=f"{JOB}.variants")
        languages = form.field(st, Seq2SeqConfig, "languages", key=f"{JOB}.languages")
        fields = hyperparameters(JOB, defaults)
        go = form.submit("Train", JOB)
    if go:
        start_form(TASK, {**fields, "variants": variants, "languages": languages})
    jobs.panel(JOB, lambda snap: training_view(snap, TASK), every=1.5)
    st.subheader("Translate a date")
    translate_box(TASK, "Monday, May 3, 1999", "A date, written any way (at most 60 characters)")
