"""The RNNs page's engine against references: PyTorch's LSTMCell/RNNCell/LSTM, a NumPy
transcription of the course's GRU, finite differences, the definition of global-norm
clipping, the unigram entropy, and a task where a left-to-right model is provably limited."""

import collections
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from core import tracking
from core.jobs import FINISHED, KILLED, Recorder, run_job
from core.rnn import (
    BidirectionalTagger,
    GRUCell,
    LSTMCell,
    Recurrent,
    RNNCell,
    TorchGRUCell,
    clipping_demo,
    input_gradient_norms,
    input_gradients,
    run_cell,
)
from core.rnn.charlm import (
    CharLM,
    CharLMConfig,
    CorpusError,
    Vocab,
    decode_text,
    load_charlm,
    load_corpus,
    make_windows,
    run_charlm,
    sample,
)
from core.rnn.gradients import gradient_setup, last_step_loss
from core.rnn.tagging import IGNORE, TaggingConfig, make_tagging_data, run_tagging, unidirectional_ceiling
from core.rnn.viewer import check_view_text, gates_table, random_viewer, trace_gates, viewer_from_charlm
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")
SIZES = [(1, 3, 2), (4, 5, 7), (3, 16, 8)]  # (batch, input, hidden)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("B,D,H", SIZES)
def test_lstm_cell_equals_torch_lstmcell(seed, B, D, H):
    torch.manual_seed(seed)
    ref = nn.LSTMCell(D, H).double()
    with torch.no_grad():  # make the two biases differ, so that adding them up is checked
        ref.bias_hh.uniform_(-1, 1)
    ours = LSTMCell(D, H).double().load_torch(ref)
    h, c = torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    for _ in range(4):  # several steps, the state carried
        x = torch.randn(B, D, dtype=torch.float64)
        h_ref, c_ref = ref(x, (h, c))
        (h, c), gates = ours(x, (h, c), return_gates=True)
        torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(c, c_ref, atol=1e-6, rtol=0)
        assert set(gates) == {"forget", "input", "candidate", "output", "cell", "hidden"}
        assert ((gates["forget"] > 0) & (gates["forget"] < 1)).all()


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("B,D,H", SIZES)
def test_rnn_cell_equals_torch_rnncell(seed, B, D, H):
    torch.manual_seed(seed)
    ref = nn.RNNCell(D, H).double()
    ours = RNNCell(D, H).double().load_torch(ref)
    a = torch.zeros(B, H, dtype=torch.float64)
    a_ref = a
    for _ in range(5):
        x = torch.randn(B, D, dtype=torch.float64)
        a, a_ref = ours(x, a), ref(x, a_ref)
        torch.testing.assert_close(a, a_ref, atol=1e-6, rtol=0)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _course_gru_numpy(Wz, bz, Wr, br, W, b, h, x):
    """The course's GRU, transcribed: z, r from [h, x]; h̃ = tanh(W·[r*h, x] + b); h = (1−z)*h + z*h̃."""
    hx = np.concatenate([h, x])
    z = _sigmoid(Wz @ hx + bz)
    r = _sigmoid(Wr @ hx + br)
    h_tilde = np.tanh(W @ np.concatenate([r * h, x]) + b)
    return (1 - z) * h + z * h_tilde


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("B,D,H", SIZES)
def test_gru_cell_equals_the_course_equations_in_numpy(seed, B, D, H):
    torch.manual_seed(seed)
    ours = GRUCell(D, H).double()
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(B, H))
    ht = torch.tensor(h)
    p = {k: v.detach().numpy() for k, v in ours.named_parameters()}
    for _ in range(3):
        x = rng.normal(size=(B, D))
        ht = ours(torch.tensor(x), ht)
        h = np.stack([_course_gru_numpy(p["W_z"], p["b_z"], p["W_r"], p["b_r"], p["W_h"], p["b_h"], h[i], x[i])
                      for i in range(B)])
        np.testing.assert_allclose(ht.detach().numpy(), h, atol=1e-6, rtol=0)


def test_pytorch_gru_differs_from_the_course_gru():
    """PyTorch's GRUCell applies r inside, n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), and keeps
    the old state with z: h' = (1−z)*n + z*h. With the closest converted weights (z flipped)
    the course's GRU agrees only when r = 1."""
    torch.manual_seed(0)
    D, H, B = 4, 6, 5
    ref = nn.GRUCell(D, H).double()
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    written_out = TorchGRUCell(ref)
    torch.testing.assert_close(written_out(x, h), ref(x, h), atol=1e-9, rtol=0)  # we read PyTorch right
    course = GRUCell(D, H).double().load_torch_converted(ref)
    assert (course(x, h) - ref(x, h)).abs().max() > 1e-2  # they disagree in general
    with torch.no_grad():  # force r = 1 in both (a huge reset bias): now the two are the same function
        ref.bias_ih[:H] = 50.0
    course = GRUCell(D, H).double().load_torch_converted(ref)
    torch.testing.assert_close(course(x, h), ref(x, h), atol=1e-9, rtol=0)


def test_deep_bidirectional_lstm_equals_torch_lstm():
    torch.manual_seed(0)
    B, T, D, H = 3, 7, 5, 4
    ref = nn.LSTM(D, H, num_layers=2, bidirectional=True, batch_first=True).double()
    ours = Recurrent("LSTM", D, H, num_layers=2, bidirectional=True).double()
    for layer, cells in enumerate(ours.layers):
        for d, cell in enumerate(cells):
            cell.load_torch(ref, layer=layer, reverse=d == 1)
    x = torch.randn(B, T, D, dtype=torch.float64)
    out, _ = ours(x)
    out_ref, _ = ref(x)
    assert out.shape == (B, T, 2 * H)
    torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=0)


def test_bidirectional_output_is_the_course_formula():
    """ŷ⟨t⟩ = W_y[→a⟨t⟩, ←a⟨t⟩] + b_y, with ←a⟨t⟩ the backward cell after reading x⟨T⟩ … x⟨t⟩."""
    torch.manual_seed(1)
    tagger = BidirectionalTagger(5, 3, 4, kind="RNN").double()
    ids = torch.randint(0, 5, (2, 6))
    x = nn.functional.one_hot(ids, 5).double()
    fwd, bwd = tagger.rnn.layers[0]
    a_f = [None] * 6
    a_b = [None] * 6
    s = None
    for t in range(6):
        s = fwd(x[:, t], s)
        a_f[t] = s
    s = None
    for t in reversed(range(6)):
        s = bwd(x[:, t], s)
        a_b[t] = s
    expected = torch.stack([tagger.head(torch.cat([a_f[t], a_b[t]], 1)) for t in range(6)], 2)  # [B, C, T]
    torch.testing.assert_close(tagger(ids), expected, atol=1e-9, rtol=0)


def test_cells_refuse_bad_inputs():
    with pytest.raises(ValueError, match="x must be"):
        LSTMCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="1 to 3 layers"):
        Recurrent("GRU", 3, 4, num_layers=4)
    with pytest.raises(ValueError, match="unknown cell"):
        Recurrent("Transformer", 3, 4)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_input_gradients_match_finite_differences(kind):
    cell, x, y = gradient_setup(kind, 4, hidden_size=3, input_size=2, seed=5)
    grad = input_gradients(cell, x, y)
    eps = 1e-6
    fd = torch.zeros_like(x)
    with torch.no_grad():
        for t, d in itertools.product(range(4), range(2)):
            e = torch.zeros_like(x)
            e[0, t, d] = eps
            fd[0, t, d] = (last_step_loss(cell, x + e, y) - last_step_loss(cell, x - e, y)) / (2 * eps)
    torch.testing.assert_close(grad, fd, atol=1e-8, rtol=1e-6)
    norms = input_gradient_norms(kind, 4, hidden_size=3, input_size=2, seed=5)
    np.testing.assert_allclose(norms, fd[0].norm(dim=1).numpy(), rtol=1e-6)


def test_vanilla_rnn_gradient_vanishes_faster_than_lstm_with_forget_bias_one():
    T = 60
    ratio = {}
    for kind in ("RNN", "LSTM"):
        norms = input_gradient_norms(kind, T, seed=0, forget_bias=1.0)
        ratio[kind] = norms[T - 1 - 50] / norms[-1]  # distance 50 from the end
    assert ratio["RNN"] < ratio["LSTM"] / 100


def test_clipping_is_the_global_norm_rule():
    demo = clipping_demo("RNN", 50, max_norm=1.0, weight_scale=6.0)
    before = np.array(list(demo.before.values()))
    total = np.sqrt((before ** 2).sum())
    assert demo.total_before == pytest.approx(total, rel=1e-9)
    assert demo.total_before > 100  # exploded
    scale = min(1.0, 1.0 / (total + 1e-6))  # the definition of clip_grad_norm_
    np.testing.assert_allclose(list(demo.after.values()), before * scale, rtol=1e-9)
    assert demo.total_after == pytest.approx(1.0, rel=1e-5)
    loose = clipping_demo("RNN", 50, max_norm=1e9, weight_scale=6.0)
    assert not loose.clipped and loose.after == loose.before


# --------------------------------------------------------------------------- the character model


def _tiny_model(seed=0):
    vocab = Vocab.of("\nabcde")
    torch.manual_seed(seed)
    return CharLM(len(vocab), "LSTM", 4, 8), vocab


def test_zero_temperature_is_greedy():
    model, vocab = _tiny_model()
    greedy = sample(model, vocab, n=2, temperature=0.0, max_len=12, stop_at_newline=False)
    ids = vocab.encode("\n").tolist()  # reference: the whole prefix through forward, arg-max each time
    with torch.no_grad():
        for _ in range(12):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    assert greedy == [vocab.decode(ids[1:])] * 2
    assert sample(model, vocab, n=1, temperature=1e-9, max_len=12, stop_at_newline=False) == greedy[:1]


def test_sampling_is_reproducible_with_a_seed():
    model, vocab = _tiny_model()
    a = sample(model, vocab, n=6, temperature=1.0, seed=3, max_len=15, stop_at_newline=False)
    assert a == sample(model, vocab, n=6, temperature=1.0, seed=3, max_len=15, stop_at_newline=False)
    assert a != sample(model, vocab, n=6, temperature=1.0, seed=4, max_len=15, stop_at_newline=False)


def test_windows_are_next_characters():
    ids = torch.arange(20)
    X, y = make_windows(ids, 5, stride=3)
    assert X.shape == y.shape == (5, 5) and X.dtype == torch.int64
    assert torch.equal(y, X + 1) and X[1, 0] == 3


TINY = dict(corpus="first names", hidden_size=32, embedding_size=8, seq_len=16, epochs=3, batch_size=64, lr=0.02,
            n_samples=3)


def test_tiny_model_beats_the_unigram_entropy_and_is_tracked(fresh_store):
    cfg = assert_plain(CharLMConfig(**TINY), "config")
    result = assert_plain(run_charlm(Recorder("rnn"), cfg, CPU))  # plain data: run id, vocabulary, curves, samples
    assert not result.stopped
    text = load_corpus("first names")
    counts = collections.Counter(text)
    n = sum(counts.values())
    unigram = -sum(c / n * math.log(c / n) for c in counts.values())  # nats per character
    assert result.lane.status == "FINISHED"
    assert result.lane.measures["final_train_loss"] < unigram - 0.2
    assert result.lane.dev_loss < unigram
    assert [row["epoch"] for row in result.samples] == [1, 2, 3] and all(len(r["samples"]) == 3 for r in result.samples)
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"]
    run = runs.iloc[0]
    assert run["params.cell"] == "LSTM" and run["params.hidden_size"] == "32" and run["params.corpus"] == "first names"
    assert "params.text" not in runs.columns
    assert math.exp(result.lane.dev_loss) == pytest.approx(run["metrics.dev_perplexity"], rel=1e-4)
    assert tracking.text_artifact(run["run_id"], "samples_epoch_003.txt").splitlines() == result.samples[-1]["samples"]
    # the network rebuilt from the run's weights draws what the job drew from it after the last epoch
    assert result.run_id == run["run_id"] and result.has_model
    model = load_charlm(result.run_id)
    assert not model.training and next(model.parameters()).device == CPU
    assert sample(model, result.vocab, n=cfg.n_samples, temperature=cfg.temperature, seed=cfg.seed + 3,
                  max_len=30) == result.samples[-1]["samples"]


def test_huge_learning_rate_fails_with_a_message(fresh_store):
    # the model's states are bounded (tanh, σ), so only an absurd step overflows float32 weights to inf
    cfg = CharLMConfig(**{**TINY, "epochs": 2, "lr": 1e36, "optimizer": "Gradient descent"})
    ctx = Recorder("rnn")
    ending = run_job(run_charlm, ctx, cfg)
    assert ending.status == FINISHED  # the job finishes; its run is FAILED with the sentence
    result = ending.result
    assert result.lane.status == "FAILED" and "smaller learning rate" in result.lane.error
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FAILED" and run["tags.dll.error"] == result.lane.error
    assert ctx.snapshot().diverged == (("LSTM", result.lane.error),)  # said once, for the job panel
    assert not result.has_model and not result.stopped
    with pytest.raises(ValueError, match="saved no weights"):
        load_charlm(result.run_id)


def test_uploaded_text_is_checked():
    good = ("Ünïcode text. " * 30).encode("utf-8-sig").replace(b". ", b".\r\n")
    assert decode_text(good, "a.txt").startswith("Ünïcode text.\n")
    for data, message in [(b"", "empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary"),
                          (bytes(range(128, 256)) * 5, "not UTF-8"), (b"short", "only 5 characters"),
                          (b"a" * 2_000_001, "limit is 2 MB")]:
        with pytest.raises(CorpusError, match=message):
            decode_text(data, "the file")
    with pytest.raises(ValueError, match="upload a text"):
        CharLMConfig(corpus="upload", text="tiny")
    with pytest.raises(ValueError, match="Learning rate"):
        CharLMConfig(lr=0)


def test_corpora_load_offline():
    from core.rnn.charlm import CORPORA

    for name in CORPORA:
        text = load_corpus(name)
        assert len(text) > 2000 and len(set(text)) < 200, name


# --------------------------------------------------------------------------- viewer


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "RNN"])
def test_viewer_of_a_trained_model_is_its_first_layer(cell):
    torch.manual_seed(0)
    vocab = Vocab.of("\nabcdefgh")
    model = CharLM(len(vocab), cell, 5, 7, num_layers=2)
    viewer = viewer_from_charlm(model, vocab, "test text")
    trace = trace_gates(viewer, "badge")
    first = type(model.rnn)(5, 7, batch_first=True)  # PyTorch's own layer 0, alone
    first.load_state_dict({k: v for k, v in model.rnn.state_dict().items() if k.endswith("_l0")})
    with torch.no_grad():
        ref, _ = first(model.embed(vocab.encode("badge")[None]))
    np.testing.assert_allclose(trace.gates["hidden"], ref[0].numpy(), atol=1e-6)
    table = gates_table(trace)
    assert len(table) == 5 * 7 and list(table.columns[:3]) == ["step", "character", "unit"]
    assert table["character"].iloc[-1] == "e"
    assert ("PyTorch's GRU form" in viewer.source) == (cell == "GRU")


def test_viewer_messages():
    viewer = random_viewer("GRU", 4, seed=0)
    assert "Type a few characters" in check_view_text("", viewer.vocab)
    assert "at most 200" in check_view_text("a" * 201, viewer.vocab)
    assert "'€'" in check_view_text("10 €", viewer.vocab)
    assert check_view_text("Hello, world!", viewer.vocab) is None
    trace = trace_gates(viewer, "Hi")
    assert list(trace.gates) == ["update", "reset", "candidate", "hidden"] and trace.gates["reset"].shape == (2, 4)


# --------------------------------------------------------------------------- bidirectional


def test_unidirectional_ceiling_by_enumeration():
    for k in (2, 5, 10):
        pairs = list(itertools.product(range(k), repeat=2))
        best = 0
        for d in range(k):  # knowing x⟨t⟩ = d, guess the majority tag over the next digit
            larger = sum(1 for a, b in pairs if a == d and b > a)
            best += max(larger, k - larger)
        assert unidirectional_ceiling(k) == pytest.approx(best / len(pairs))


def test_tagging_data_tags_the_next_digit():
    X, y = make_tagging_data(50, 8, 10, seed=0)
    assert (y[:, -1] == IGNORE).all()
    assert torch.equal(y[:, :-1], (X[:, 1:] > X[:, :-1]).long())


def test_bidirectional_beats_unidirectional(fresh_store):
    cfg = assert_plain(TaggingConfig(cell="RNN", hidden_size=8, length=6, n_train=600, n_dev=200, epochs=4, lr=0.03,
                                     batch_size=32), "config")
    result = assert_plain(run_tagging(Recorder("rnn"), cfg, CPU))
    assert [ln.status for ln in result.lanes] == ["FINISHED", "FINISHED"] and not result.stopped
    uni, bi = result.accuracy["unidirectional"], result.accuracy["bidirectional"]
    assert uni < unidirectional_ceiling(10) + 0.05  # it cannot do much better than 75 %
    assert bi > uni + 0.15
    runs = tracking.search_runs()
    assert sorted(runs["params.direction"]) == ["bidirectional", "unidirectional"]
    assert set(runs["tags.dll.comparison"]) == {result.comparison}
    assert len(result.per_position["bidirectional"]) == 5
    assert sorted(runs["run_id"]) == sorted(ln.run_id for ln in result.lanes)
    assert len(result.examples) == 5


def test_a_stop_in_the_first_tagger_skips_the_second(fresh_store):
    cfg = TaggingConfig(cell="RNN", hidden_size=8, length=6, n_train=600, n_dev=200, epochs=50, batch_size=8)
    ending = run_job(run_tagging, StopAfter("unidirectional", 5, "rnn"), cfg)
    assert ending.status == KILLED
    result = assert_plain(ending.result)
    assert result.stopped and [ln.status for ln in result.lanes] == ["KILLED", "SKIPPED"]
    assert result.lanes[0].steps >= 5 and not result.accuracy and not result.examples
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["run_id"] == result.lanes[0].run_id
    assert runs.iloc[0]["tags.dll.comparison"] == result.comparison


def test_a_diverged_tagger_fails_and_the_other_still_trains(fresh_store, monkeypatch):
    import core.rnn.tagging as tagging

    calls = []

    def nan_at_the_third_step(logits, y):  # the unidirectional tagger's third step turns NaN, nothing else
        calls.append(1)
        loss = tagging.F.cross_entropy(logits, y, ignore_index=IGNORE)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(tagging, "tagging_loss", nan_at_the_third_step)
    cfg = TaggingConfig(cell="RNN", hidden_size=8, length=6, n_train=200, n_dev=50, epochs=2, batch_size=32)
    ctx = Recorder("rnn")
    ending = run_job(run_tagging, ctx, cfg)
    assert ending.status == FINISHED  # a diverged lane does not fail the job
    result = assert_plain(ending.result)
    uni, bi = result.lanes
    sentence = "the loss became NaN at step 3 — try a smaller learning rate"
    assert (uni.status, uni.error, bi.status) == ("FAILED", sentence, "FINISHED")
    assert ctx.snapshot().diverged == (("unidirectional", sentence),)  # said once, for the job panel
    assert list(result.accuracy) == ["bidirectional"] and not result.examples
    runs = tracking.search_runs().set_index("params.direction")
    assert runs.loc["unidirectional", "status"] == "FAILED" and runs.loc["bidirectional", "status"] == "FINISHED"
    assert runs.loc["unidirectional", "tags.dll.error"] == sentence


def test_run_cell_reverse_keeps_time_order():
    torch.manual_seed(0)
    cell = RNNCell(2, 3)
    x = torch.randn(1, 4, 2)
    out, _ = run_cell(cell, x, reverse=True)
    a = cell(x[:, 3])
    torch.testing.assert_close(out[:, 3], a)
    torch.testing.assert_close(out[:, 2], cell(x[:, 2], a))


def test_a_stop_keeps_the_model_trained_so_far(fresh_store):
    """Stop mid-training: the run ends KILLED with its weights, the job hands back its typed partial
    result, and the partial model, rebuilt from the run, still samples."""
    cfg = CharLMConfig(**{**TINY, "epochs": 200, "batch_size": 8})
    ending = run_job(run_charlm, StopAfter("LSTM", 5, "rnn"), cfg)
    assert ending.status == KILLED
    result = assert_plain(ending.result)
    assert result.stopped and result.lane.status == "KILLED" and result.lane.steps >= 5
    assert tracking.search_runs()["status"].tolist() == ["KILLED"]
    assert result.has_model
    text = sample(load_charlm(result.run_id), result.vocab, n=2, temperature=1.0, seed=0)
    assert len(text) == 2


def test_load_charlm_refuses_what_is_not_a_trained_model(fresh_store):
    with pytest.raises(ValueError, match="is not a run id"):
        load_charlm("../etc")
    with pytest.raises(ValueError, match="not in the tracking store"):
        load_charlm("0" * 32)
