"""The tiny decoder-only Transformer language model against references: the softmax with a
temperature computed by hand, top-k as the renormalised top-k of the plain softmax, the argmax as
T → 0, torch.nn.MultiheadAttention for the heads' weights, the closed-form sinusoids, the causal
mask (a later character never changes an earlier prediction), and the RNNs page's character
model for the text, the split and the perplexity comparison."""

import math

import pytest
import torch
from torch import nn

from core import tracking
from core.data.vocab import Vocab
from core.identity import OWNER_ENV, User
from core.jobs import KILLED, Recorder, run_job
from core.rnn.charlm import CharLMConfig, run_charlm
from core.seq2seq.lm import (
    MAX_PROMPT_CHARS,
    TinyGPT,
    TransformerLMConfig,
    UnknownCharacters,
    attention_weights,
    generate,
    latest_charlm,
    load_lm,
    next_token_probs,
    perplexity_comparison,
    probabilities,
    run_transformer_lm,
)
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")
VOCAB = Vocab.of("\nabcdefghijklmnopqrstuvwxyz ")
TINY = dict(corpus="first names", context=16, num_layers=1, num_heads=2, d_model=16, dropout=0.0, epochs=4,
            batch_size=64, lr=0.01, n_samples=3)


def _model(positions: str = "learned", layers: int = 2, heads: int = 4, seed: int = 0) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT(len(VOCAB), context=12, d_model=16, num_heads=heads, num_layers=layers, dropout=0.0,
                   positions=positions).eval()


def _softmax_by_hand(values: list[float], t: float) -> list[float]:
    e = [math.exp(v / t) for v in values]
    return [x / sum(e) for x in e]


LOGITS = [2.0, -1.0, 0.5, 3.0, 0.0, 1.5]


@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
def test_temperature_divides_the_logits_before_the_softmax(t):
    got = probabilities(torch.tensor(LOGITS), t).tolist()
    assert got == pytest.approx(_softmax_by_hand(LOGITS, t), rel=1e-5)
    assert got != pytest.approx(_softmax_by_hand(LOGITS, 1.7), rel=1e-3)  # another temperature is told apart


@pytest.mark.parametrize("k", [1, 2, 4])
def test_top_k_keeps_exactly_k_renormalised(k):
    got = probabilities(torch.tensor(LOGITS), 1.0, k).tolist()
    plain = _softmax_by_hand(LOGITS, 1.0)
    top = sorted(range(len(LOGITS)), key=lambda i: -LOGITS[i])[:k]
    want = [plain[i] / sum(plain[j] for j in top) if i in top else 0.0 for i in range(len(LOGITS))]
    assert sum(p > 0 for p in got) == k
    assert got == pytest.approx(want, rel=1e-5)
    assert got != pytest.approx(plain, rel=1e-3)  # not the plain softmax
    assert probabilities(torch.tensor(LOGITS), 1.0, len(LOGITS)).tolist() == pytest.approx(plain, rel=1e-5)


def test_a_small_temperature_approaches_the_argmax():
    assert probabilities(torch.tensor(LOGITS), 0.01).tolist() == pytest.approx([0, 0, 0, 1, 0, 0], abs=1e-6)
    assert max(probabilities(torch.tensor(LOGITS), 1.0).tolist()) < 0.6


def test_bad_sampling_settings_and_texts_are_refused_with_a_sentence():
    model = _model()
    for t in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be above 0"):
            next_token_probs(model, VOCAB, "ab", t)
    with pytest.raises(ValueError, match="top-k must be at least 1"):
        next_token_probs(model, VOCAB, "ab", 1.0, 0)
    with pytest.raises(ValueError, match="at least one character"):
        next_token_probs(model, VOCAB, "")
    with pytest.raises(ValueError, match=f"type at most {MAX_PROMPT_CHARS}"):
        attention_weights(model, VOCAB, "a" * (MAX_PROMPT_CHARS + 1))
    with pytest.raises(UnknownCharacters, match=r"never saw 'Z', '!' in its training text") as err:
        generate(model, VOCAB, "aZb!Z")
    assert err.value.chars == ["Z", "!"]
    assert next_token_probs(model, VOCAB, "a" * MAX_PROMPT_CHARS).sum().item() == pytest.approx(1.0, abs=1e-5)


def test_next_token_probs_are_the_models_softmax_of_its_last_position():
    model = _model()
    ids = torch.tensor([VOCAB.ids("hello")])
    logits = model(ids)[0, -1].tolist()
    got = next_token_probs(model, VOCAB, "hello", 0.7).tolist()
    assert got == pytest.approx(_softmax_by_hand(logits, 0.7), rel=1e-4)
    # a text longer than the context: only its last `context` characters are read
    long = "zzzz" + "abcdefghijkl"
    assert next_token_probs(model, VOCAB, long).tolist() == pytest.approx(
        next_token_probs(model, VOCAB, long[-12:]).tolist(), rel=1e-5)
    assert next_token_probs(model, VOCAB, long).tolist() != pytest.approx(
        next_token_probs(model, VOCAB, long[-11:]).tolist(), rel=1e-3)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_the_causal_mask_prevents_looking_ahead(positions):
    model = _model(positions)
    a = torch.tensor([VOCAB.ids("the quick fo")])
    b = a.clone()
    b[0, 7] = VOCAB.ids("z")[0]
    la, lb = model(a), model(b)
    torch.testing.assert_close(la[0, :7], lb[0, :7])  # what came before the change did not see it
    assert not torch.allclose(la[0, 7:], lb[0, 7:])  # from the change on, it is seen


def test_heads_are_torch_multihead_attention_with_the_causal_mask():
    model = _model(layers=2, heads=4)
    text = "abcabcab"
    w = attention_weights(model, VOCAB, text)
    assert w.shape == (2, 4, len(text), len(text))
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, len(text)))
    assert torch.all(w.triu(1) == 0)
    block = model.blocks[0]
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(block.self_attn.in_proj_weight)
        ref.in_proj_bias.copy_(block.self_attn.in_proj_bias)
        ref.out_proj.load_state_dict(block.self_attn.out_proj.state_dict())
        h = block.norm1(model.pos(model.embed(torch.tensor([VOCAB.ids(text)]))))
        future = torch.ones(len(text), len(text), dtype=torch.bool).triu(1)  # torch: True = may NOT attend
        _, want = ref(h, h, h, attn_mask=future, need_weights=True, average_attn_weights=False)
        _, unmasked = ref(h, h, h, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(w[0], want[0])
    assert not torch.allclose(w[0], unmasked[0])


def test_sinusoidal_positions_are_the_closed_form():
    model = _model("sinusoidal")
    d = 16
    for pos, i in ((0, 0), (3, 2), (11, 7)):
        angle = pos / 10000 ** (2 * i / d)
        assert model.sinusoids[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert model.sinusoids[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert not any(name.startswith("pos") for name, _ in model.named_parameters())  # nothing learned
    assert "sinusoids" not in model.state_dict()


def test_a_seeded_generate_is_reproducible():
    model = _model()
    one = generate(model, VOCAB, "ab", n=4, max_len=20, temperature=1.2, seed=3, stop_at_newline=False)
    assert one == generate(model, VOCAB, "ab", n=4, max_len=20, temperature=1.2, seed=3, stop_at_newline=False)
    assert one != generate(model, VOCAB, "ab", n=4, max_len=20, temperature=1.2, seed=4, stop_at_newline=False)
    assert all(len(s) == 20 for s in one)
    # top-k 1 is greedy: every sample the same, each character the argmax
    greedy = generate(model, VOCAB, "ab", n=3, max_len=5, top_k=1, seed=9, stop_at_newline=False)
    assert len(set(greedy)) == 1
    text = "ab"
    for c in greedy[0]:
        assert c == VOCAB.tokens[int(next_token_probs(model, VOCAB, text).argmax())]
        text += c


def test_sizes_and_texts_the_model_cannot_take_are_refused():
    with pytest.raises(ValueError, match="multiple of the number of heads"):
        TinyGPT(10, d_model=16, num_heads=3)
    with pytest.raises(ValueError):  # not one of the offered sizes
        TransformerLMConfig(d_model=24, num_heads=8)
    with pytest.raises(ValueError, match="upload a text"):
        TransformerLMConfig(corpus="upload", text="short")
    TransformerLMConfig(d_model=16, num_heads=8)


def test_trains_tracked_on_the_character_models_text_and_split(fresh_store):
    cfg = assert_plain(TransformerLMConfig(**TINY), "config")
    result = assert_plain(run_transformer_lm(Recorder("seq2seq"), cfg, CPU))
    rnn = run_charlm(None, CharLMConfig(corpus="first names", hidden_size=16, embedding_size=8, seq_len=16,
                                        epochs=1, n_samples=1), CPU)
    assert result.lane.status == "FINISHED" and result.vocab == rnn.vocab
    assert {k: result.sizes[k] for k in ("train_chars", "dev_chars")} == {k: rnn.sizes[k] for k in ("train_chars", "dev_chars")}
    assert result.lane.dev_loss < result.unigram  # it learned more than the character frequencies
    assert [row["epoch"] for row in result.samples] == [1, 2, 3, 4]
    run = tracking.search_runs([tracking.experiment_id("seq2seq")]).iloc[0]
    assert run["tags.dll.kind"] == "transformer-lm" and run["params.d_model"] == "16"
    assert math.exp(result.lane.dev_loss) == pytest.approx(run["metrics.dev_perplexity"], rel=1e-4)
    model = load_lm(result.run_id)
    assert generate(model, result.vocab, "\n", n=3, temperature=cfg.temperature, seed=cfg.seed + 4,
                    max_len=30) == result.samples[-1]["samples"]
    with pytest.raises(ValueError, match="not a Transformer language model"):
        load_lm(rnn.run_id)


def test_a_stop_keeps_the_model(fresh_store):
    cfg = TransformerLMConfig(**{**TINY, "epochs": 100, "batch_size": 4})
    ending = run_job(run_transformer_lm, StopAfter("Transformer", 3, "seq2seq"), cfg)
    assert ending.status == KILLED and ending.result.has_model
    assert len(generate(load_lm(ending.result.run_id), ending.result.vocab, "\n", n=2)) == 2


def test_comparison_finds_only_the_learners_own_latest_finished_charlm(fresh_store, monkeypatch):
    small = dict(hidden_size=16, embedding_size=8, seq_len=16, epochs=1, n_samples=1)
    monkeypatch.setenv(OWNER_ENV, "ann@example.org")
    old = run_charlm(None, CharLMConfig(corpus="first names", **small), CPU)
    mine = run_charlm(None, CharLMConfig(corpus="first names", cell="GRU", **small), CPU)
    monkeypatch.setenv(OWNER_ENV, "bob@example.org")
    bobs = run_charlm(None, CharLMConfig(corpus="first names", **small), CPU)
    ann, bob = User("ann@example.org"), User("bob@example.org")
    teacher = User("ted@example.org", instructor=True)
    like = TransformerLMConfig(**TINY)
    found = latest_charlm("first names", ann, like=like)
    assert found.run_id == mine.run_id != old.run_id and found.cell == "GRU" and found.same_dev_text
    assert found.dev_perplexity == pytest.approx(math.exp(mine.lane.dev_loss), rel=1e-5)
    assert latest_charlm("first names", bob).run_id == bobs.run_id
    assert latest_charlm("first names", teacher) is None  # an instructor's own, never the class's
    assert latest_charlm("last names", ann) is None
    assert not latest_charlm("first names", ann, like=TransformerLMConfig(**TINY, seed=5)).same_dev_text
    with pytest.raises(ValueError, match="unknown corpus"):
        latest_charlm("names'; drop", ann)
    lm = run_transformer_lm(None, like, CPU)
    table = perplexity_comparison(lm, found)
    assert table == pytest.approx({"Transformer": math.exp(lm.lane.dev_loss), "GRU (RNNs page)": found.dev_perplexity})
