"""The Sequence models page's "Date translation" tab: train encoder–decoders with and
without attention on written dates, compare them, and translate a typed date with its
attention heatmap."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.seq2seq import LANGUAGES, Seq2SeqConfig, format_human
from core.seq2seq.dates import DATE_FORMATS
from ui import jobs
from ui.seq2seq_common import (
    JOBS,
    build_config,
    hyperparameters,
    start_training,
    training_view,
    translate_box,
    variants_picker,
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
        "**Try:** train both and compare their exact match; lower the teacher-forcing ratio; type your own date "
        "below and read the heatmap (the digits of the day should light up when the model writes the day)."
    )
    st.caption("Examples of the training inputs for 3 May 1999: " + " · ".join(f"`{e}`" for e in _examples()))
    defaults = Seq2SeqConfig()
    with st.form(f"{JOB}.form", border=True):
        variants = variants_picker(f"{JOB}.variants")
        languages = st.multiselect("Languages of the written dates", list(LANGUAGES), list(LANGUAGES),
                                   format_func=LANGUAGES.get, key=f"{JOB}.languages")
        fields = hyperparameters(JOB, defaults)
        go = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:", disabled=jobs.is_active(JOB))
    if go:
        cfg = build_config({**fields, "task": TASK, "variants": variants, "languages": tuple(languages)})
        if cfg is not None:
            start_training(cfg)
    jobs.panel(JOB, lambda snap: training_view(snap, TASK), every=1.5)
    st.subheader("Translate a date")
    translate_box(TASK, "Monday, May 3, 1999", "A date, written any way (at most 60 characters)")
