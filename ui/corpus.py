"""Choosing the text a character model learns (the RNNs page's character model and the Sequence models
page's Transformer language model): a built-in corpus with its description, or an uploaded .txt file
checked by :func:`core.rnn.corpora.decode_text` (a bad file gets its plain sentence)."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from core.rnn.charlm import UPLOAD
from core.rnn.corpora import CORPORA, MAX_UPLOAD_BYTES, CorpusError, decode_text
from ui import form


@st.cache_data(show_spinner=False, max_entries=4)
def _decode(digest: str, name: str, _data: bytes) -> tuple[str | None, str | None]:
    try:
        return decode_text(_data, name), None
    except CorpusError as exc:
        return None, str(exc)


def _uploaded_text(key: str) -> tuple[str | None, str]:
    """(the uploaded text or None, its file name); shows what is wrong with a bad file."""
    file = st.file_uploader(f"A plain-text file (UTF-8, at most {MAX_UPLOAD_BYTES // 1_000_000} MB)", type=["txt"],
                            key=key)
    if file is None:
        st.info("Upload a .txt file to train on your own text (a book chapter, song lyrics, code…).",
                icon=":material/upload_file:")
        return None, ""
    data = file.getvalue()
    text, error = _decode(hashlib.sha1(data).hexdigest(), file.name, data)
    if error:
        st.error(error, icon=":material/error:")
        return None, file.name
    st.caption(f"**{file.name}**: {len(text):,} characters, {len(set(text))} different ones. It starts: "
               f"“{text[:160].strip()}…”")
    return text, file.name


def pick_text(config: type, *, corpus_key: str, upload_key: str) -> tuple[str, str | None, str]:
    """The config's ``corpus`` field beside the corpus's description or an uploader: ``(corpus, the uploaded
    text or None, its file name)``."""
    c1, c2 = st.columns([1, 2])
    corpus: Any = form.field(c1, config, "corpus", key=corpus_key)
    text, text_name = None, ""
    with c2:
        if corpus == UPLOAD:
            text, text_name = _uploaded_text(upload_key)
        else:
            st.caption(CORPORA[corpus].description)
    return corpus, text, text_name
