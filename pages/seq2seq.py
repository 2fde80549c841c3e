"""Sequence models: encoder–decoders with and without attention, greedy and beam-search
decoding with length normalization, and BLEU, on generated dates and number words."""

from ui import shell
from ui.seq2seq import attention, beam, bleu, dates, lm, numbers

shell.topic_page(
    "Sequence models",
    "Some inputs and outputs are both sequences of different lengths: a sentence and its translation, a date "
    "written by hand and the same date in ISO form. A **sequence-to-sequence** model reads the whole input with an "
    "**encoder** and then writes the output one token at a time with a **decoder**, each token chosen given the "
    "input and the tokens already written. **Attention** lets the decoder look back at every input position "
    "instead of one summary vector; **beam search** finds more probable outputs than picking the best token at "
    "each step; **BLEU** scores outputs against references. A **Transformer** drops the recurrence and keeps "
    "only attention: every token looks at every other through queries, keys and values, head by head. "
    "Everything here trains in about a minute on a CPU.",
    {
        "Date translation": dates.render_dates,
        "Self-attention": attention.render_attention,
        "Beam search": beam.render_beam,
        "BLEU": bleu.render_bleu,
        "Number words": numbers.render_numbers,
        "Transformer language model": lm.render_lm,
    },
)
