"""BLEU, step by step, and the corpus BLEU every page reports.

BLEU (Papineni et al., 2002, "BLEU: a Method for Automatic Evaluation of Machine
Translation") compares a candidate with one or more references:

* the **modified n-gram precision** pₙ: each candidate n-gram counts at most as often as
  it appears in the reference that has most of it (its *clipped* count), divided by the
  number of candidate n-grams;
* the **brevity penalty** BP = 1 when the candidate is at least as long as the reference
  (the reference length closest to the candidate's, shorter on a tie), else exp(1 − r/c);
* BLEU = BP · exp(Σₙ wₙ log pₙ) with wₙ = 1/N, N = 4.

Over a corpus, the clipped counts, totals and lengths are summed over all sentences first
(corpus BLEU is not the mean of sentence BLEUs). The course writes BLEU between 0 and 1;
sacrebleu (and this lab's tables) multiply by 100.

:func:`explain_bleu` computes all of it here in plain Python and matches sacrebleu
(``sacrebleu.corpus_bleu``/``sentence_bleu``) with the same tokenizer and settings:

* ``smooth_method="none"``: a pₙ of 0 makes BLEU 0 (the textbook formula);
* ``smooth_method="exp"`` (sacrebleu's default, NIST's "method 3"): the k-th order with
  no match gets pₙ = 1 / (2ᵏ · totalₙ) instead of 0;
* no match at all (every pₙ = 0) gives 0 with either;
* ``effective_order=True`` (sacrebleu's default for ``sentence_bleu``, off for
  ``corpus_bleu``): orders for which the candidate has no n-gram at all (it is shorter
  than n) are left out of the mean instead of counting as 0.

Tokenization is sacrebleu's own (``"13a"`` for words, ``"char"`` for characters); only the
counting and the formula live here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import sacrebleu

__all__ = ["MAX_ORDER", "BleuBreakdown", "NgramRow", "bleu", "explain_bleu", "tokenize"]

MAX_ORDER = 4
TOKENIZERS = ("13a", "char", "none", "intl")
SMOOTHING = ("none", "exp")


@cache
def _tokenizer(name: str):
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r}: choose one of {', '.join(TOKENIZERS)}")
    return sacrebleu.BLEU(tokenize=name).tokenizer


def tokenize(text: str, tokenizer: str = "13a") -> list[str]:
    """The tokens BLEU counts, exactly as sacrebleu makes them (its tokenizer on the
    right-stripped text, then split on white space)."""
    return _tokenizer(tokenizer)(text.rstrip()).split()


def _as_reference_lists(hypotheses: Sequence[str], references: Sequence) -> list[list[str]]:
    if isinstance(hypotheses, str):
        raise ValueError("give the hypotheses as a list of strings")
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: give one entry per hypothesis")
    out = []
    for ref in references:
        refs = [ref] if isinstance(ref, str) else [r for r in ref if r is not None]
        if not refs:
            raise ValueError("every hypothesis needs at least one reference")
        out.append(list(refs))
    return out


def bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], *, tokenize: str = "13a",
         smooth_method: str = "exp") -> float:
    """Corpus BLEU of ``hypotheses`` through sacrebleu, on the 0–100 scale.

    ``references[i]`` is the reference of ``hypotheses[i]`` (a string) or its references
    (a list of strings; the number may vary from one hypothesis to the next).
    ``tokenize="char"`` scores characters (dates), ``"13a"`` (the default) words.
    """
    refs = _as_reference_lists(hypotheses, references)
    if not hypotheses:
        raise ValueError("give at least one hypothesis")
    if smooth_method not in SMOOTHING:
        raise ValueError(f"smooth_method must be one of {', '.join(SMOOTHING)}")
    _tokenizer(tokenize)
    k = max(len(r) for r in refs)
    streams = [[r[j] if j < len(r) else None for r in refs] for j in range(k)]
    return float(sacrebleu.corpus_bleu(list(hypotheses), streams, tokenize=tokenize, smooth_method=smooth_method).score)


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i: i + n]) for i in range(len(tokens) - n + 1))


@dataclass
class NgramRow:
    """One distinct candidate n-gram: how often it occurs, its most frequent count in any
    one reference, and the clipped count min(count, max_ref_count)."""

    n: int
    ngram: str
    count: int
    max_ref_count: int
    clipped: int


@dataclass
class BleuBreakdown:
    """Every number of a BLEU computation (0–1 scale unless the name says 100)."""

    matches: list[int]  # Σ clipped counts per order 1..4
    totals: list[int]  # candidate n-grams per order
    precisions: list[float]  # the pₙ that go into the formula (smoothed where it applies)
    raw_precisions: list[float]  # matches / totals (0 where totals is 0)
    candidate_length: int  # c
    reference_length: int  # r
    brevity_penalty: float
    order: int  # the N of the mean (effective order when that is on)
    score: float  # 0–1
    rows: list[NgramRow] = field(default_factory=list)  # the candidate n-grams (first sentence pair only)

    @property
    def score_100(self) -> float:
        return 100.0 * self.score


def explain_bleu(hypotheses: str | Sequence[str], references: Sequence, *, tokenize: str = "13a",
                 smooth_method: str = "none", effective_order: bool = False) -> BleuBreakdown:
    """BLEU = BP · exp(Σₙ (1/N) log pₙ), computed here with its parts.

    ``hypotheses``: one candidate (a string) with ``references`` its reference strings, or
    a list of candidates with ``references[i]`` the reference(s) of candidate i (corpus
    BLEU). The same as ``sacrebleu.corpus_bleu(..., smooth_method=..., use_effective_order=...)``
    with the same ``tokenize``; ``rows`` lists the first candidate's n-grams with their
    clipped counts.
    """
    if smooth_method not in SMOOTHING:
        raise ValueError(f"smooth_method must be one of {', '.join(SMOOTHING)}")
    if isinstance(hypotheses, str):
        refs_one = [references] if isinstance(references, str) else list(references)
        hyps, refs = [hypotheses], _as_reference_lists([hypotheses], [refs_one])
    else:
        hyps, refs = list(hypotheses), _as_reference_lists(hypotheses, references)
    if not hyps:
        raise ValueError("give at least one candidate")
    matches, totals = [0] * MAX_ORDER, [0] * MAX_ORDER
    c_len = r_len = 0
    rows: list[NgramRow] = []
    for i, (hyp, ref_list) in enumerate(zip(hyps, refs, strict=True)):
        h = tokenize_(hyp, tokenize)
        rs = [tokenize_(r, tokenize) for r in ref_list]
        c_len += len(h)
        # the reference length closest to the candidate's; the shorter one on a tie
        r_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for n in range(1, MAX_ORDER + 1):
            cand = _ngrams(h, n)
            best: Counter = Counter()
            for r in rs:
                best |= _ngrams(r, n)  # max count over the references
            for gram, count in cand.items():
                clipped = min(count, best[gram])
                matches[n - 1] += clipped
                totals[n - 1] += count
                if i == 0:
                    rows.append(NgramRow(n, " ".join(gram), count, best[gram], clipped))
    raw = [m / t if t else 0.0 for m, t in zip(matches, totals, strict=True)]
    bp = 1.0 if c_len >= r_len else (math.exp(1 - r_len / c_len) if c_len > 0 else 0.0)
    precisions = [0.0] * MAX_ORDER
    order = MAX_ORDER
    if not any(matches):
        return BleuBreakdown(matches, totals, precisions, raw, c_len, r_len, bp, order, 0.0, rows)
    halvings = 1.0
    for n in range(1, MAX_ORDER + 1):
        if totals[n - 1] == 0:
            break
        if effective_order:
            order = n
        if matches[n - 1] == 0:
            if smooth_method == "exp":
                halvings *= 2
                precisions[n - 1] = 1.0 / (halvings * totals[n - 1])
        else:
            precisions[n - 1] = matches[n - 1] / totals[n - 1]
    if any(p == 0.0 for p in precisions[:order]):
        score = 0.0  # log 0: some order has no match (and no smoothing)
    else:
        score = bp * math.exp(sum(math.log(p) for p in precisions[:order]) / order)
    return BleuBreakdown(matches, totals, precisions, raw, c_len, r_len, bp, order, score, rows)


tokenize_ = tokenize  # the keyword argument of explain_bleu shadows the function's name
