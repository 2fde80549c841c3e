"""Sequence models: encoder–decoders with and without attention, greedy and beam-search
decoding with length normalization, and BLEU, on generated dates and number words."""

import streamlit as st

from ui import seq2seq_beam, seq2seq_bleu, seq2seq_dates, seq2seq_numbers

PAGE = "seq2seq"

st.title("Sequence models")
st.markdown(
    "Some inputs and outputs are both sequences of different lengths: a sentence and its translation, a date "
    "written by hand and the same date in ISO form. A **sequence-to-sequence** model reads the whole input with an "
    "**encoder** and then writes the output one token at a time with a **decoder**, each token chosen given the "
    "input and the tokens already written. **Attention** lets the decoder look back at every input position "
    "instead of one summary vector; **beam search** finds more probable outputs than picking the best token at "
    "each step; **BLEU** scores outputs against references. Everything here trains in about a minute on a CPU."
)

dates, beam, bleu, numbers = st.tabs(["Date translation", "Beam search", "BLEU", "Number words"])
with dates:
    seq2seq_dates.render_dates()
with beam:
    seq2seq_beam.render_beam()
with bleu:
    seq2seq_bleu.render_bleu()
with numbers:
    seq2seq_numbers.render_numbers()
