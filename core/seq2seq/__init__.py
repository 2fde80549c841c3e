"""Sequence models: encoder–decoders with and without attention on generated dates and
number words, greedy and beam-search decoding with length normalization, and BLEU."""

from core.data.vocab import EOS, PAD, SOS, UNK, Vocab
from core.seq2seq.attention import MultiHeadAttention, scaled_dot_product_attention, sinusoidal_positions
from core.seq2seq.beam import BeamResult, Hypothesis, TreeNode, beam_search, greedy_search, normalized_score
from core.seq2seq.bleu import BleuBreakdown, bleu, explain_bleu, tokenize
from core.seq2seq.data import MAX_INPUT_CHARS, Codec, Seq2SeqData, check_source, make_data, split_pairs
from core.seq2seq.dates import DATE_FORMATS, LANGUAGES, format_human, generate_date_pairs
from core.seq2seq.model import Seq2Seq
from core.seq2seq.numbers import generate_number_pairs, number_to_words
from core.seq2seq.training import (
    ATTENTION_VARIANTS,
    Seq2SeqConfig,
    Seq2SeqResult,
    Translation,
    VariantResult,
    beam_translate,
    evaluate_dev,
    load_seq2seq,
    run_seq2seq,
    sequence_loss,
    translate,
)
from core.seq2seq.transformer import Seq2SeqTransformer

__all__ = [
    "DATE_FORMATS",
    "EOS",
    "LANGUAGES",
    "MAX_INPUT_CHARS",
    "PAD",
    "SOS",
    "UNK",
    "ATTENTION_VARIANTS",
    "BeamResult",
    "BleuBreakdown",
    "Codec",
    "Hypothesis",
    "MultiHeadAttention",
    "Seq2Seq",
    "Seq2SeqConfig",
    "Seq2SeqData",
    "Seq2SeqResult",
    "Seq2SeqTransformer",
    "Translation",
    "TreeNode",
    "VariantResult",
    "Vocab",
    "beam_search",
    "beam_translate",
    "bleu",
    "check_source",
    "evaluate_dev",
    "explain_bleu",
    "format_human",
    "generate_date_pairs",
    "generate_number_pairs",
    "greedy_search",
    "load_seq2seq",
    "make_data",
    "normalized_score",
    "number_to_words",
    "run_seq2seq",
    "scaled_dot_product_attention",
    "sequence_loss",
    "sinusoidal_positions",
    "split_pairs",
    "tokenize",
    "translate",
]
