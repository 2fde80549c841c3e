"""The small encoder–decoder Transformer of the Sequence models page: its layers against
torch.nn.TransformerEncoderLayer / TransformerDecoderLayer with the same weights, causality and
padding, greedy and beam decoding through the page's beam search, a tiny model that learns a
handful of dates, exact match by source length, and a tracked run beside the RNN."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from core import tracking
from core.device import cpu_threads
from core.jobs import Recorder
from core.seq2seq import (
    EOS,
    SOS,
    Seq2SeqConfig,
    Seq2SeqTransformer,
    beam_translate,
    evaluate_dev,
    load_seq2seq,
    make_data,
    run_seq2seq,
    sequence_loss,
    translate,
)
from core.seq2seq.attention import causal_mask
from core.seq2seq.beam import beam_search, greedy_search, log_prob_of
from core.seq2seq.training import (
    breakdown_length,
    build_seq2seq,
    exact_match_by_length,
    translate_batch,
)
from core.seq2seq.transformer import DecoderLayer, EncoderLayer
from core.training import fit

D, H, FF = 16, 4, 32


def _padded(lengths: list[int], total: int) -> torch.Tensor:
    """[N, total] bool, True on the first ``lengths[i]`` positions."""
    return torch.arange(total)[None, :] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_equals_torch_with_a_padding_mask(norm_first):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first)
    ref.train()  # dropout 0; train mode keeps torch off its fused fast path (which zeroes padded outputs)
    mine = EncoderLayer(D, H, FF, dropout=0.0, norm_first=norm_first)
    mine.load_state_dict(ref.state_dict())  # same parameter names and shapes
    x = torch.randn(3, 7, D)
    keep = _padded([7, 4, 2], 7)
    expected = ref(x, src_key_padding_mask=~keep)  # torch: True = ignore
    got, weights = mine(x, keep[:, None, :])  # ours: True = may attend
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert weights.shape == (3, H, 7, 7) and (weights[2, :, :, 2:] == 0).all()
    # the mask matters: without it the padded rows' real positions read the padding and differ
    unmasked, _ = mine(x)
    assert not torch.allclose(unmasked[1, :4], expected[1, :4], atol=1e-4)
    torch.testing.assert_close(unmasked[0], expected[0], atol=1e-5, rtol=1e-5)  # the full row had nothing to hide


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_equals_torch_with_a_causal_mask(norm_first):
    torch.manual_seed(1)
    ref = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first)
    mine = DecoderLayer(D, H, FF, dropout=0.0, norm_first=norm_first)
    mine.load_state_dict(ref.state_dict())
    y, memory = torch.randn(2, 5, D), torch.randn(2, 6, D)
    keep = _padded([6, 3], 6)
    expected = ref(y, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5),
                   memory_key_padding_mask=~keep)
    got, self_w, cross_w = mine(y, memory, causal_mask(5), keep[:, None, :])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(self_w[0, 0] > 0, causal_mask(5))  # each position looks at itself and the past only
    assert (cross_w[1, :, :, 3:] == 0).all()
    peeking, _, _ = mine(y, memory, None, keep[:, None, :])  # no causal mask: the future leaks in
    assert not torch.allclose(peeking[:, :-1], expected[:, :-1], atol=1e-4)
    torch.testing.assert_close(peeking[:, -1], expected[:, -1], atol=1e-5, rtol=1e-5)  # the last saw everything anyway


def _tiny(positions: str = "sinusoidal", src_len: int = 9, seed: int = 0) -> Seq2SeqTransformer:
    torch.manual_seed(seed)
    return Seq2SeqTransformer(12, 9, src_len, max_len=16, d_model=D, heads=H, layers=2, d_ff=FF,
                              positions=positions, dropout=0.0).eval()


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_the_decoder_is_causal_and_padding_is_invisible(positions):
    model = _tiny(positions)
    src = torch.tensor([[5, 6, 7, 8, 0, 0, 0, 0, 0]])
    tgt = torch.tensor([[SOS, 4, 5, 6, 7]])
    logits = model(torch.cat([src, tgt], 1))
    assert logits.shape == (1, 5, 9)
    later = tgt.clone()
    later[0, 3] = 8  # change the 4th decoder input: outputs 0–2 cannot see it, output 3 does
    changed = model(torch.cat([src, later], 1))
    torch.testing.assert_close(changed[:, :3], logits[:, :3])
    assert not torch.allclose(changed[:, 3], logits[:, 3])
    # a longer run of padding changes nothing; a real token where the padding was does
    torch.testing.assert_close(model.decode(src[:, :5], tgt)[0], logits[0:1], atol=1e-5, rtol=1e-5)
    other = src.clone()
    other[0, 4] = 9
    assert not torch.allclose(model.decode(other, tgt)[0], logits)


def test_greedy_decoding_weights_and_heads():
    model = _tiny()
    src = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 4, 5], [5, 6, 7, 0, 0, 0, 0, 0, 0]])
    logits, weights = model.decode(src, max_len=6)
    assert logits.shape == (2, 6, 9) and weights.shape == (2, 6, 9)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 6))
    assert (weights[1, :, 3:] == 0).all()
    # greedy: feeding its own outputs back with teacher forcing gives the same logits
    ids = logits.argmax(-1)
    forced = model.decode(src, torch.cat([torch.full((2, 1), SOS), ids[:, :-1]], 1))[0]
    torch.testing.assert_close(forced, logits, atol=1e-5, rtol=1e-5)
    other = ids.clone()
    other[:, 0] = (ids[:, 0] + 1) % 9
    assert not torch.allclose(model.decode(src, torch.cat([torch.full((2, 1), SOS), other[:, :-1]], 1))[0], logits)
    # every layer's and head's cross-attention; the page's heatmap is the last layer's mean over the heads
    heads = model.cross_attention(src[1:], 6)
    assert heads.shape == (2, H, 6, 9)
    torch.testing.assert_close(heads[-1].mean(0), weights[1])
    assert not torch.allclose(heads[0].mean(0), weights[1])
    with pytest.raises(ValueError, match="one source"):
        model.cross_attention(src, 6)
    with pytest.raises(ValueError, match="maximum length"):
        model.decode(src)


def test_the_step_function_drives_the_pages_beam_search():
    model = _tiny(seed=3)
    src = torch.tensor([[5, 6, 7, 8, 9, 0, 0, 0, 0]])
    logits, _ = model.decode(src, max_len=7)
    expected = torch.log_softmax(logits[0], -1)
    step, state = model.step_function(src)
    greedy = greedy_search(step, state, SOS, EOS, 7)
    n = len(greedy.tokens)
    assert greedy.tokens == expected.argmax(-1)[:n].tolist()
    assert greedy.token_log_probs == pytest.approx(expected.max(-1).values[:n].tolist(), abs=1e-5)
    step, state = model.step_function(src)
    one = beam_search(step, state, SOS, EOS, 1, 7, alpha=0.7)
    assert one.best.tokens == greedy.tokens
    step, state = model.step_function(src)
    wide = beam_search(step, state, SOS, EOS, 4, 7, alpha=0.7)
    assert wide.best.score(0.7) >= greedy.score(0.7) - 1e-6
    for h in wide.hypotheses[:4]:  # each hypothesis's scores are what the model gives its tokens
        step, state = model.step_function(src)
        assert log_prob_of(step, state, SOS, h.tokens) == pytest.approx(h.token_log_probs, abs=1e-5)
    step, state = model.step_function(src)
    assert log_prob_of(step, state, SOS, [1, 2]) != pytest.approx(greedy.token_log_probs[:2], abs=1e-3)


def test_a_tiny_transformer_learns_a_handful_of_dates():
    data = make_data("dates", n_train=8, n_dev=4, seed=0, languages=("en",))
    codec = data.codec
    cfg = Seq2SeqConfig(d_model=32, heads=4, layers=1, d_ff=64, dropout=0.0)
    torch.manual_seed(0)
    model = build_seq2seq(cfg, codec, "transformer")
    assert isinstance(model, Seq2SeqTransformer)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    with cpu_threads(1):
        fit(model, data.train, opt, loss_fn=sequence_loss, epochs=150, batch_size=None, device=torch.device("cpu"),
            measure_accuracy=False)
    exact, score, rows = evaluate_dev(model, codec, data.train_pairs)
    assert exact == 1.0 and score == pytest.approx(100.0), rows
    for src, target in data.train_pairs[:4]:
        result, greedy, _ = beam_translate(model, codec, src, beam_width=3, alpha=0.7)
        assert codec.decode_output(greedy.tokens) == target and result.best.score(0.7) >= greedy.score(0.7) - 1e-6
        t = translate(model, codec, src)
        assert t.output == target and t.token_log_probs == pytest.approx(greedy.token_log_probs, abs=1e-5)
        assert len(t.heads) == 1 and len(t.heads[0]) == 4
        assert len(t.heads[0][0]) == len(t.output_tokens) and len(t.heads[0][0][0]) == len(t.source_tokens)
        mean = torch.tensor(t.heads[-1]).mean(0)
        torch.testing.assert_close(mean, torch.tensor(t.attention))


def test_exact_match_by_length_by_hand():
    data = make_data("dates", n_train=8, n_dev=4, seed=0, languages=("en",))
    rows = [{"source": s, "correct": ok} for s, ok in
            [("a" * 3, True), ("b" * 4, True), ("c" * 7, True), ("d" * 8, False), ("e" * 9, False),
             ("f" * 12, False), ("g" * 13, True)]]
    table = exact_match_by_length(rows, data.codec, width=5)
    assert table == [{"from": 0, "to": 4, "pairs": 2, "exact_match": 1.0},
                     {"from": 5, "to": 9, "pairs": 3, "exact_match": 1 / 3},
                     {"from": 10, "to": 14, "pairs": 2, "exact_match": 0.5}]
    assert breakdown_length(table, min_pairs=2) == 5
    assert breakdown_length(table, min_pairs=4) is None  # no bucket has enough pairs to judge
    assert breakdown_length(table, threshold=0.3, min_pairs=1) is None  # 1/3 is not below 0.3
    assert breakdown_length(table, threshold=0.34, min_pairs=1) == 5
    with pytest.raises(ValueError, match="width"):
        exact_match_by_length(rows, data.codec, width=0)


def test_transformer_settings_are_checked():
    for bad in (dict(positions="rotary"), dict(layers=0),
                dict(dropout=0.9), dict(heads=5), dict(transformer_epochs=0)):
        with pytest.raises(ValueError):
            Seq2SeqConfig(**bad)
    Seq2SeqConfig(variants=("attention",), d_model=64, heads=4)
    with pytest.raises(ValueError, match="positions"):
        Seq2SeqTransformer(5, 5, 4, positions="rotary")
    model = _tiny("learned")
    with pytest.raises(ValueError, match="positions"):
        model.encode(torch.ones(1, 17, dtype=torch.long))
    assert model.encode(torch.ones(1, 16, dtype=torch.long))[0].shape == (1, 16, D)


def test_tracked_transformer_beside_the_rnn(fresh_store):
    cfg = Seq2SeqConfig(n_train=64, n_dev=16, epochs=1, transformer_epochs=2, batch_size=32, hidden=16, embed_dim=8,
                        d_model=16, heads=2, layers=1, d_ff=32, positions="learned",
                        variants=("attention", "transformer"), languages=("en",))
    result = run_seq2seq(Recorder("seq2seq"), cfg, device=torch.device("cpu"))
    runs = tracking.search_runs()
    assert sorted(runs["status"]) == ["FINISHED", "FINISHED"]
    for _, run in runs.iterrows():
        vr = result.variants[run["params.variant"]]
        model = load_seq2seq(vr.run_id)
        assert isinstance(model, Seq2SeqTransformer) == (vr.variant == "transformer")
        assert run["metrics.parameters"] == vr.parameters == sum(p.numel() for p in model.parameters())
        assert run["metrics.seconds_per_epoch"] == pytest.approx(vr.seconds_per_epoch) and vr.seconds_per_epoch > 0
        assert vr.lane.history.epochs[-1]["epoch"] == (2 if vr.variant == "transformer" else 1)
        assert sum(b["pairs"] for b in vr.by_length) == 16
        for b in vr.by_length:
            assert run[f"metrics.exact_match_len_{b['from']:02d}"] == pytest.approx(b["exact_match"])
        saved = json.loads(tracking.text_artifact(vr.run_id, "exact_match_by_length.json"))
        assert saved["buckets"] == vr.by_length and saved["breakdown_length"] == vr.breakdown_length
        sources = [r["source"] for r in vr.predictions]
        assert translate_batch(model, result.codec, sources) == [r["output"] for r in vr.predictions]
    transformer = load_seq2seq(result.variants["transformer"].run_id)
    assert transformer.positions == "learned" and transformer.src_pos is not None
    t = translate(transformer, result.codec, "3 may 1999")
    assert len(t.heads) == 1 and len(t.heads[0]) == 2 and len(t.heads[0][0]) == len(t.output_tokens)


def test_the_pictures_of_heads_and_lengths():
    from core.plots.seq2seq import cross_attention_grid, exact_match_by_length_chart

    w = torch.softmax(torch.randn(2, 3, 4, 5), -1)
    fig = cross_attention_grid(list("abcde"), list("wxyz"), w.tolist())
    assert len(fig.data) == 6 and fig.layout.coloraxis.cmax == 1
    assert [a.text for a in fig.layout.annotations][:4] == ["layer 1, head 1", "layer 1, head 2", "layer 1, head 3",
                                                            "layer 2, head 1"]
    assert np.allclose(fig.data[4].z, w[1, 1].numpy())
    with pytest.raises(ValueError, match="layers, heads, outputs, sources"):
        cross_attention_grid(list("abcd"), list("wxyz"), w.tolist())
    rows = [{"from": 5, "to": 9, "pairs": 3, "exact_match": 1.0}, {"from": 0, "to": 4, "pairs": 2, "exact_match": 0.5}]
    fig = exact_match_by_length_chart({"transformer": rows, "attention": []})
    assert [t.name for t in fig.data] == ["transformer"]
    assert list(fig.data[0].x) == [2.0, 7.0] and list(fig.data[0].y) == [50.0, 100.0]
