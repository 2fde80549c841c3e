"""Sequence models: the course's normalized beam score by hand, beam search against
exhaustive search and greedy search on hand-made next-token tables, BLEU against sacrebleu
(and the BLEU paper's example), the date and number-word generators, attention weights,
teacher forcing, a tiny model that overfits a few dates, and the tracked runs."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import re

import numpy as np
import pytest
import sacrebleu
import torch

from core import tracking
from core.device import cpu_threads
from core.jobs import FINISHED, KILLED, Recorder, run_job
from core.seq2seq import (
    EOS,
    LANGUAGES,
    PAD,
    SOS,
    Seq2Seq,
    Seq2SeqConfig,
    beam_search,
    beam_translate,
    bleu,
    check_source,
    evaluate_dev,
    explain_bleu,
    generate_date_pairs,
    generate_number_pairs,
    greedy_search,
    load_seq2seq,
    make_data,
    normalized_score,
    number_to_words,
    run_seq2seq,
    sequence_loss,
    translate,
)
from core.seq2seq.beam import log_prob_of
from core.seq2seq.training import translate_batch
from core.training import fit
from tests.contexts import StopAfter
from tests.plain import assert_plain

# --------------------------------------------------------------------------- normalized score


def test_normalized_score_by_hand():
    lps = [-0.5, -1.0, -0.25]  # Σ = -1.75, T = 3
    assert normalized_score(lps, 0.0) == pytest.approx(-1.75)
    assert normalized_score(lps, 1.0) == pytest.approx(-1.75 / 3)
    assert normalized_score(lps, 0.7) == pytest.approx(-1.75 / 3**0.7)
    assert normalized_score(torch.tensor(lps), 0.5) == pytest.approx(-1.75 / math.sqrt(3))
    assert normalized_score([math.log(0.5)] * 4, 1.0) == pytest.approx(math.log(0.5))
    with pytest.raises(ValueError, match="at least 1"):
        normalized_score([], 0.7)
    with pytest.raises(ValueError, match="negative"):
        normalized_score([-1.0], -0.1)


# --------------------------------------------------------------------------- beam search on tables

A, B = 3, 4  # toy tokens after <pad>, <sos>, <eos>


class TableModel:
    """A fixed next-token table: the log-probabilities over {<eos>, a, b} after each prefix,
    drawn once from ``seed`` (no neural network). The state is the prefix so far [K, t]."""

    def __init__(self, seed: int, vocab: int = 5) -> None:
        self.seed, self.vocab = seed, vocab
        self.calls = 0

    def table(self, prefix: tuple[int, ...]) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, len(prefix), *prefix])
        logits = rng.normal(0, 1.5, self.vocab)
        logits[[PAD, SOS]] = -np.inf
        return torch.log_softmax(torch.tensor(logits), 0)

    def step(self, tokens: torch.Tensor, state: torch.Tensor):
        self.calls += 1
        state = torch.cat([state.expand(len(tokens), -1), tokens[:, None]], 1)
        rows = [self.table(tuple(r[1:])) for r in state.tolist()]  # the prefix without <sos>
        return torch.stack(rows), state


def _sequence_log_probs(model: TableModel, seq: tuple[int, ...]) -> list[float]:
    return [float(model.table(seq[:i])[seq[i]]) for i in range(len(seq))]


def _exhaustive(model: TableModel, max_len: int, alpha: float) -> tuple[tuple[int, ...], float]:
    """Every output beam search may return: words over {a, b} then <eos> (at most max_len
    tokens in all), and the unfinished words of max_len tokens; the best normalized score."""
    candidates = []
    for n in range(max_len):
        candidates += [w + (EOS,) for w in itertools.product((A, B), repeat=n)]
    candidates += list(itertools.product((A, B), repeat=max_len))
    scored = [(sum(lp) / len(lp) ** alpha, seq) for seq in candidates for lp in [_sequence_log_probs(model, seq)]]
    best = max(scored)
    return best[1], best[0]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_wide_beam_finds_what_exhaustive_search_finds(seed, alpha):
    model, max_len = TableModel(seed), 4
    start = torch.empty((1, 0), dtype=torch.long)  # the prefix so far; <sos> comes as the first token
    result = beam_search(model.step, start, SOS, EOS, beam_width=3**max_len, max_len=max_len, alpha=alpha)
    seq, score = _exhaustive(model, max_len, alpha)
    assert tuple(result.best.tokens) == seq
    assert result.best.score(alpha) == pytest.approx(score)
    assert result.best.token_log_probs == pytest.approx(_sequence_log_probs(model, seq))
    # the hypotheses come best first, each with the normalized score of its own log-probs
    scores = [h.score(alpha) for h in result.hypotheses]
    assert scores == sorted(scores, reverse=True)


def test_beam_of_two_beats_greedy_on_a_hand_made_table():
    """P(a)=.6, P(b)=.4; after a: P(<eos>)=.5; after b: P(<eos>)=.9. Greedy takes a, <eos>
    (0.30); a beam of 2 also keeps b and finds b, <eos> (0.36)."""
    probs = {(): {A: 0.6, B: 0.4 - 1e-9, EOS: 1e-9}, (A,): {EOS: 0.5, A: 0.25, B: 0.25},
             (B,): {EOS: 0.9, A: 0.05, B: 0.05}}

    def step(tokens, state):
        state = torch.cat([state.expand(len(tokens), -1), tokens[:, None]], 1)
        rows = []
        for r in state.tolist():
            p = probs.get(tuple(r[1:]), {EOS: 1.0})
            rows.append(torch.log(torch.tensor([p.get(i, 0.0) for i in range(5)], dtype=torch.float64)))
        return torch.stack(rows), state

    start = torch.empty((1, 0), dtype=torch.long)  # the prefix so far; <sos> comes as the first token
    greedy = greedy_search(step, start, SOS, EOS, 3)
    assert greedy.tokens == [A, EOS] and math.exp(greedy.log_prob) == pytest.approx(0.30)
    beam = beam_search(step, start, SOS, EOS, 2, 3, alpha=0.0)
    assert beam.best.tokens == [B, EOS] and math.exp(beam.best.log_prob) == pytest.approx(0.36)
    assert [h.tokens for h in beam.hypotheses] == [[B, EOS], [A, EOS]]


@pytest.mark.parametrize("seed", range(30))
def test_beam_of_one_is_greedy_on_tables(seed):
    model = TableModel(seed)
    start = torch.empty((1, 0), dtype=torch.long)  # the prefix so far; <sos> comes as the first token
    greedy = greedy_search(model.step, start, SOS, EOS, 6)
    beam = beam_search(model.step, start, SOS, EOS, 1, 6, alpha=0.7)
    assert len(beam.hypotheses) == 1
    assert beam.best.tokens == greedy.tokens
    assert beam.best.token_log_probs == pytest.approx(greedy.token_log_probs)


def test_beam_tree_records_kept_and_pruned_nodes():
    model = TableModel(3)
    result = beam_search(model.step, torch.empty((1, 0), dtype=torch.long), SOS, EOS, 2, 4, alpha=0.7, record_tree=True)
    tree = result.tree
    assert tree[0].parent is None and tree[0].kept
    for t in range(1, max(n.step for n in tree) + 1):
        kept = [n for n in tree if n.step == t and n.kept]
        assert 1 <= len(kept) <= 2
    ids = {n.id for n in tree}
    assert all(n.parent in ids for n in tree[1:])
    finished = [n for n in tree if n.finished]
    assert all(n.token == EOS and n.kept for n in finished)


def test_beam_arguments_are_checked():
    model = TableModel(0)
    with pytest.raises(ValueError, match="beam width"):
        beam_search(model.step, torch.empty((1, 0), dtype=torch.long), SOS, EOS, 0, 3)
    with pytest.raises(ValueError, match="maximum output length"):
        beam_search(model.step, torch.empty((1, 0), dtype=torch.long), SOS, EOS, 2, 0)


# --------------------------------------------------------------------------- BLEU


def test_bleu_papers_example_and_clipping():
    """Papineni et al.: candidate "the" ×7 against "the cat is on the mat" has p₁ = 2/7."""
    b = explain_bleu("the the the the the the the", ["the cat is on the mat", "there is a cat on the mat"])
    row = [r for r in b.rows if r.n == 1][0]
    assert (row.ngram, row.count, row.max_ref_count, row.clipped) == ("the", 7, 2, 2)
    assert b.raw_precisions[0] == pytest.approx(2 / 7)
    assert b.score == 0.0  # no 2-gram matches and no smoothing
    exact = explain_bleu("the cat is on the mat", ["the cat is on the mat"])
    assert exact.score == pytest.approx(1.0) and exact.brevity_penalty == 1.0


def test_bleu_brevity_penalty_by_hand():
    # c = 4 tokens, closest reference r = 6: BP = exp(1 - 6/4); all n-grams match
    b = explain_bleu("the cat is on", ["the cat is on the mat"])
    assert b.brevity_penalty == pytest.approx(math.exp(1 - 6 / 4))
    assert b.score == pytest.approx(math.exp(1 - 6 / 4))
    # two references of lengths 3 and 5 for a candidate of 4: a tie, the shorter one counts
    tie = explain_bleu("a b c d", ["a b c", "a b c d e"])
    assert tie.reference_length == 3 and tie.brevity_penalty == 1.0


WORDS = "the a cat dog sat on mat rug red big ran fast , .".split()


def _sentence(rng: random.Random, lo: int = 1, hi: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def _noisy_copy(rng: random.Random, ref: str) -> str:
    words = ref.split()
    out = [w if rng.random() < 0.7 else rng.choice(WORDS) for w in words]
    if rng.random() < 0.4:
        out = out[: rng.randint(1, len(out))]  # short: the brevity penalty
    if rng.random() < 0.1:
        out = ["zebra"] * len(out)  # no match at all
    return " ".join(out)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("smooth", ["none", "exp"])
def test_corpus_bleu_equals_sacrebleu(seed, smooth):
    rng = random.Random(seed)
    n, k = rng.randint(1, 6), rng.randint(1, 3)
    refs = [[_sentence(rng) for _ in range(k)] for _ in range(n)]
    hyps = [_noisy_copy(rng, r[0]) for r in refs]
    for tok in ("13a", "char"):
        ours = explain_bleu(hyps, refs, tokenize=tok, smooth_method=smooth)
        ref = sacrebleu.corpus_bleu(hyps, [list(s) for s in zip(*refs)], tokenize=tok, smooth_method=smooth)
        assert ours.score_100 == pytest.approx(ref.score, abs=1e-9)
        assert ours.matches == ref.counts and ours.totals == ref.totals
        assert (ours.candidate_length, ours.reference_length) == (ref.sys_len, ref.ref_len)
        assert ours.brevity_penalty == pytest.approx(ref.bp)
        assert bleu(hyps, refs, tokenize=tok, smooth_method=smooth) == pytest.approx(ref.score)


@pytest.mark.parametrize("seed", range(40))
def test_sentence_bleu_equals_sacrebleu(seed):
    rng = random.Random(1000 + seed)
    refs = [_sentence(rng, 1, 8) for _ in range(rng.randint(1, 3))]
    hyp = _noisy_copy(rng, refs[0]) if rng.random() < 0.8 else _sentence(rng, 1, 3)
    ours = explain_bleu(hyp, refs, smooth_method="exp", effective_order=True)
    ref = sacrebleu.sentence_bleu(hyp, refs)  # exp smoothing, effective order
    assert ours.score_100 == pytest.approx(ref.score, abs=1e-9)


def test_bleu_edge_cases():
    assert bleu(["2021-09-29"], ["2021-09-29"], tokenize="char") == pytest.approx(100.0)
    assert bleu(["abc"], ["xyz"]) == 0.0
    with pytest.raises(ValueError, match="one entry per hypothesis"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="tokenizer"):
        bleu(["a"], ["a"], tokenize="nope")
    # a variable number of references per hypothesis
    refs = [["the cat sat"], ["a dog ran", "the dog ran fast"]]
    expected = sacrebleu.corpus_bleu(["the cat sat", "the dog ran"], [["the cat sat", "a dog ran"],
                                                                      [None, "the dog ran fast"]]).score
    assert bleu(["the cat sat", "the dog ran"], refs) == pytest.approx(expected)


# --------------------------------------------------------------------------- data

_EN_FORMATS = ("%A, %B %d, %Y", "%B %d, %Y", "%b %d, %Y", "%A, %d %B %Y", "%d %B %Y", "%d %b %Y", "%d/%m/%Y",
               "%d/%m/%y", "%Y.%m.%d", "%B %d %Y", "%d %b %y")


def _parse_english(text: str) -> dt.date:
    """The date of an English source, with Python's own parser (ordinals and "sept" tidied)."""
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text).replace("sept ", "sep ")
    for fmt in _EN_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise AssertionError(f"cannot parse {text!r}")


def test_english_dates_parse_back_to_their_target():
    pairs = generate_date_pairs(400, seed=5, languages=("en",))
    for src, tgt in pairs:
        assert dt.date.fromisoformat(tgt) == _parse_english(src), src


def test_every_language_gives_valid_iso_dates_that_match_the_source():
    pairs = generate_date_pairs(1500, seed=1)
    assert len({s for s, _ in pairs}) == 1500
    for src, tgt in pairs:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tgt)
        d = dt.date.fromisoformat(tgt)
        assert 1969 <= d.year <= 2068
        assert str(d.year) in src or f"{d.year % 100:02d}" in src, src
        assert re.search(rf"(?<!\d)0?{d.day}(?!\d)", src), src
        assert src == src.lower()
    examples = {s for s, _ in generate_date_pairs(3000, seed=2)}
    assert any(" de " in s for s in examples) and any(". " in s for s in examples)  # Spanish/Portuguese, German


def test_date_pairs_are_seed_reproducible():
    assert generate_date_pairs(50, seed=7) == generate_date_pairs(50, seed=7)
    assert generate_date_pairs(50, seed=7) != generate_date_pairs(50, seed=8)
    with pytest.raises(ValueError, match="languages"):
        generate_date_pairs(5, languages=("xx",))


def test_train_and_dev_share_no_string():
    for task in ("dates", "numbers"):
        data = make_data(task, n_train=600, n_dev=100, seed=3)
        train_src, dev_src = {s for s, _ in data.train_pairs}, {s for s, _ in data.dev_pairs}
        train_tgt, dev_tgt = {t for _, t in data.train_pairs}, {t for _, t in data.dev_pairs}
        assert not train_src & dev_src and not train_tgt & dev_tgt
        assert len(data.dev_pairs) >= 100 and len(data.train_pairs) + len(data.dev_pairs) == 700
        X, y = data.train
        assert X.shape == (len(data.train_pairs), data.codec.src_len + data.codec.max_out)
        assert y.shape == (len(data.train_pairs), data.codec.max_out)
        assert (X[:, data.codec.src_len] == SOS).all()
        # the decoder input is the target shifted right by one
        assert torch.equal(X[:, data.codec.src_len + 1:], y[:, :-1])
        # the tokens come back as the text
        src, tgt = data.train_pairs[0]
        assert data.codec.decode_output(y[0].tolist()) == tgt
        assert data.codec.src_vocab.tokens[:4] == ("<pad>", "<sos>", "<eos>", "<unk>")


def test_number_words_by_hand():
    cases = {0: "zero", 7: "seven", 13: "thirteen", 40: "forty", 42: "forty two", 100: "one hundred",
             115: "one hundred and fifteen", 342: "three hundred and forty two", 1005: "one thousand and five",
             2300: "two thousand three hundred", 20_000: "twenty thousand",
             999_999: "nine hundred and ninety nine thousand nine hundred and ninety nine"}
    for n, words in cases.items():
        assert number_to_words(n) == words
    with pytest.raises(ValueError):
        number_to_words(-1)
    pairs = generate_number_pairs(200, seed=1, direction="words→digits")
    assert all(number_to_words(int(d)) == w for w, d in pairs)


def test_typed_sources_are_checked():
    data = make_data("dates", n_train=50, n_dev=10)
    with pytest.raises(ValueError, match="empty"):
        check_source("   ", data.codec)
    with pytest.raises(ValueError, match="at most 60"):
        check_source("3 may 1999 " * 8, data.codec)
    clean, unknown = check_source("  3  MAY 1999 ☃", data.codec)
    assert clean == "3 may 1999 ☃" and unknown == ["☃"]


def test_config_rejects_bad_values():
    for bad in (dict(task="poems"), dict(variants=()), dict(variants=("both",)), dict(languages=("xx",)),
                dict(teacher_forcing=1.5), dict(lr=0), dict(epochs=0), dict(cell="RNN"),
                dict(task="numbers", high=100, n_train=100, n_dev=10)):
        with pytest.raises(ValueError):
            Seq2SeqConfig(**bad)


# --------------------------------------------------------------------------- the model


def _tiny_model(attention: bool, src_len: int = 9, **kw) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(12, 9, src_len, attention=attention, embed_dim=6, hidden=8, **kw)


def test_attention_weights_sum_to_one_and_skip_padding():
    model = _tiny_model(True).eval()
    src = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 4, 5], [5, 6, 7, 0, 0, 0, 0, 0, 0]])
    logits, weights = model.decode(src, max_len=5)
    assert logits.shape == (2, 5, 9) and weights.shape == (2, 5, 9)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5), atol=1e-6)
    assert (weights[1, :, 3:] == 0).all() and (weights >= 0).all()
    assert _tiny_model(False).decode(src, max_len=5)[1] is None


def test_teacher_forcing_feeds_the_ground_truth():
    src = torch.tensor([[5, 6, 7, 8, 0, 0, 0, 0, 0]])
    tgt = torch.tensor([[SOS, 4, 5, 6, 7]])
    other = tgt.clone()
    other[0, 2] = 8
    for attention in (True, False):
        model = _tiny_model(attention)
        forced, _ = model.decode(src, tgt, teacher_forcing=1.0)
        changed, _ = model.decode(src, other, teacher_forcing=1.0)
        assert torch.allclose(forced[:, :2], changed[:, :2]) and not torch.allclose(forced[:, 2], changed[:, 2])
        free, _ = model.decode(src, tgt, teacher_forcing=0.0)  # its own predictions: the truth is ignored
        free2, _ = model.decode(src, other, teacher_forcing=0.0)
        assert torch.allclose(free, free2)
        assert torch.allclose(free, model.decode(src, max_len=5)[0])


def test_a_tiny_model_overfits_a_handful_of_dates():
    data = make_data("dates", n_train=8, n_dev=4, seed=0, languages=("en",))
    torch.manual_seed(0)
    codec = data.codec
    model = Seq2Seq(len(codec.src_vocab), len(codec.tgt_vocab), codec.src_len, attention=True, embed_dim=16,
                    hidden=32)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    with cpu_threads(1):  # tiny recurrent ops: one thread is much faster than two on a busy machine
        fit(model, data.train, opt, loss_fn=sequence_loss, epochs=150, batch_size=None, device=torch.device("cpu"),
            measure_accuracy=False)
    exact, score, rows = evaluate_dev(model, codec, data.train_pairs)
    assert exact == 1.0 and score == pytest.approx(100.0), rows
    # beam search of width 1 is greedy search on the trained model, on every training date
    for src, _ in data.train_pairs:
        result, greedy, _ = beam_translate(model, codec, src, beam_width=1, alpha=0.7)
        assert result.best.tokens == greedy.tokens
        t = translate(model, codec, src)
        assert t.output == codec.decode_output(greedy.tokens)
        assert t.token_log_probs == pytest.approx(greedy.token_log_probs, abs=1e-5)
        step, state = model.step_function(codec.encode_sources([src]))
        assert log_prob_of(step, state, SOS, greedy.tokens) == pytest.approx(greedy.token_log_probs, abs=1e-5)
        wide, _, _ = beam_translate(model, codec, src, beam_width=4, alpha=0.7)
        assert wide.best.score(0.7) >= greedy.score(0.7) - 1e-6
    # and on 60 dates it never saw, where it is unsure
    for src, _ in generate_date_pairs(60, seed=11):
        result, greedy, _ = beam_translate(model, codec, src, beam_width=1, alpha=0.3)
        assert result.best.tokens == greedy.tokens
        assert result.best.token_log_probs == pytest.approx(greedy.token_log_probs, abs=1e-6)


def test_tracked_run_finishes_with_metrics(fresh_store):
    cfg = assert_plain(Seq2SeqConfig(n_train=64, n_dev=16, epochs=2, batch_size=32, hidden=16, embed_dim=8,
                                     variants=("attention", "no attention"), languages=("en", "de")), "config")
    result = assert_plain(run_seq2seq(Recorder("seq2seq"), cfg, device=torch.device("cpu")))  # codec, run ids, scores
    assert not result.stopped and result.comparison.startswith("seq2seq-")
    runs = tracking.search_runs()
    assert sorted(runs["status"]) == ["FINISHED", "FINISHED"]
    assert set(runs["params.variant"]) == {"attention", "no attention"}
    assert set(runs["tags.dll.comparison"]) == {result.comparison}
    for _, run in runs.iterrows():
        vr = result.variants[run["params.variant"]]
        assert vr.run_id == run["run_id"] and vr.finished
        assert run["metrics.dev_exact_match"] == pytest.approx(vr.exact_match)
        assert run["metrics.dev_bleu"] == pytest.approx(vr.bleu)
        assert 0 <= vr.bleu <= 100 and len(vr.predictions) == 16
        text = tracking.text_artifact(run["run_id"], "dev_translations.txt")
        assert text and "->" in text
        # the network rebuilt from the run's weights translates the dev set as the job did
        model = load_seq2seq(vr.run_id)
        assert not model.training and model.attention == (vr.variant == "attention")
        sources = [r["source"] for r in vr.predictions]
        assert translate_batch(model, result.codec, sources) == [r["output"] for r in vr.predictions]
    attention = result.variants["attention"]
    expected = bleu([r["output"] for r in attention.predictions], [r["reference"] for r in attention.predictions],
                    tokenize="char")
    assert attention.bleu == pytest.approx(expected)


def test_a_huge_learning_rate_fails_with_a_message(fresh_store):
    cfg = Seq2SeqConfig(n_train=64, n_dev=8, epochs=3, batch_size=32, hidden=8, embed_dim=4, lr=1e6,
                        optimizer="Gradient descent")
    ctx = Recorder("seq2seq")
    ending = run_job(run_seq2seq, ctx, cfg)
    assert ending.status == FINISHED  # the job finishes; its run is FAILED with the sentence
    result = ending.result
    lane = result.variants["attention"].lane
    assert lane.status == "FAILED" and "NaN" in lane.error and "smaller learning rate" in lane.error
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FAILED" and run["tags.dll.error"] == lane.error
    assert ctx.snapshot().diverged == (("attention", lane.error),)  # said once, for the job panel
    assert not result.variants["attention"].finished and result.best() is None
    with pytest.raises(ValueError, match="saved no weights"):
        load_seq2seq(lane.run_id)


def test_number_words_task_scores_words():
    cfg = Seq2SeqConfig(task="numbers", n_train=64, n_dev=16, epochs=1, hidden=8, embed_dim=4)
    data = make_data("numbers", 64, 16, 0)
    assert data.codec.tgt_unit == "word" and data.codec.bleu_tokenize == "13a"
    assert "hundred" in data.codec.tgt_vocab.tokens
    assert cfg.direction == "digits→words"
    rev = make_data("numbers", 64, 16, 0, direction="words→digits")
    assert rev.codec.src_unit == "word" and rev.codec.bleu_tokenize == "char"


def test_languages_cover_the_issue():
    assert {"en", "de", "fr", "es", "it", "nl", "pt"} <= set(LANGUAGES)


def test_a_stop_keeps_the_variant_trained_so_far(fresh_store):
    """Stop during the first variant: its run ends KILLED with its weights, the later variant never
    starts, and the partial model, rebuilt from its run, can still translate."""
    cfg = Seq2SeqConfig(n_train=256, n_dev=16, epochs=200, batch_size=16, hidden=16, embed_dim=8,
                        variants=("attention", "no attention"), languages=("en",))
    ending = run_job(run_seq2seq, StopAfter("attention", 5, "seq2seq"), cfg)
    assert ending.status == KILLED
    result = assert_plain(ending.result)
    assert result.stopped
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["tags.dll.comparison"] == result.comparison
    vr = result.variants["attention"]
    assert vr.lane.status == "KILLED" and vr.lane.steps >= 5 and vr.run_id == runs.iloc[0]["run_id"]
    assert "no attention" not in result.variants
    t = translate(load_seq2seq(vr.run_id), result.codec, "3 may 1999")
    assert t.attention is not None and len(t.attention) == len(t.output_tokens)


def test_load_seq2seq_refuses_what_is_not_a_trained_model(fresh_store):
    with pytest.raises(ValueError, match="is not a run id"):
        load_seq2seq("x' OR '1'='1")
    with pytest.raises(ValueError, match="not in the tracking store"):
        load_seq2seq("0" * 32)
