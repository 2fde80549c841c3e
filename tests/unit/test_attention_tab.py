"""The Self-attention tab's engine (core/seq2seq/explain.py) and figures (core/plots/attention.py):
tokens and their limits; hashed embeddings; the layer's maps against torch.nn.MultiheadAttention
given the same weights; causal and position effects; the order-blindness comparison; and figures
whose values are core's (a heatmap's z is the weights, the grey cells are the masked ones)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.plots.attention import (
    heads_grid,
    mask_heatmap,
    order_blindness_bars,
    positions_heatmap,
    qkv_heatmaps,
    scores_heatmap,
    weights_heatmap,
)
from core.seq2seq import explain
from core.seq2seq.attention import sinusoidal_positions
from core.seq2seq.explain import (
    MAX_TOKENS,
    SelfAttentionConfig,
    embed_tokens,
    order_blindness,
    reordering,
    self_attention,
    split_tokens,
)

SENTENCE = "the cat sat on the mat because it was tired"


# --- tokens -----------------------------------------------------------------------------------------


def test_words_and_characters():
    assert split_tokens("The cat, sat.") == ["The", "cat", ",", "sat", "."]
    assert split_tokens("  ab c ", "characters") == ["a", "b", " ", "c"]


def test_token_limits_say_what_is_wrong():
    split_tokens(" ".join(["w"] * MAX_TOKENS))
    with pytest.raises(ValueError, match=f"41 words and marks; these pictures show at most {MAX_TOKENS}"):
        split_tokens(" ".join(["w"] * (MAX_TOKENS + 1)))
    with pytest.raises(ValueError, match="empty"):
        split_tokens("   ")
    with pytest.raises(ValueError, match=r"Character 4 \(U\+0007\) cannot be shown"):
        split_tokens("the\x07 cat")
    split_tokens("a" * 60, "characters")
    with pytest.raises(ValueError, match="61 characters; these pictures show at most 60"):
        split_tokens("a" * 61, "characters")
    with pytest.raises(ValueError, match="at most 400"):
        split_tokens("a" * 401, "characters")
    with pytest.raises(ValueError, match="tokens must be one of"):
        split_tokens("the cat", "bytes")


def test_config_refuses_bad_values():
    SelfAttentionConfig(heads=4, d_model=8)
    with pytest.raises(ValueError, match="Heads h: 3 is not one of 1, 2, 4"):
        SelfAttentionConfig(heads=3)
    with pytest.raises(ValueError, match="empty"):
        SelfAttentionConfig(text="")


# --- embeddings and the layer ---------------------------------------------------------------------------


def test_hashed_embeddings_depend_on_the_token_and_the_seed_only():
    a = embed_tokens(["the", "cat", "the"], 16)
    b = embed_tokens(["cat", "dog"], 16)
    assert a.shape == (3, 16)
    torch.testing.assert_close(a[0], a[2])
    torch.testing.assert_close(a[1], b[0])  # "cat" in another sentence
    assert not torch.allclose(a[0], a[1])
    assert not torch.allclose(embed_tokens(["the"], 16, seed=1)[0], a[0])


@pytest.mark.parametrize("causal", [False, True])
def test_the_view_equals_torch_multihead_attention(causal):
    cfg = SelfAttentionConfig(text=SENTENCE, heads=4, d_model=16, causal=causal, positions=True, seed=3)
    view = self_attention(cfg)
    tokens = split_tokens(SENTENCE)
    x = embed_tokens(tokens, 16, seed=3) + sinusoidal_positions(len(tokens), 16)
    np.testing.assert_allclose(view.x, x.double().numpy(), atol=1e-6)
    ours = explain._layer(16, 4, 3)
    ref = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.in_proj_weight)
        ref.in_proj_bias.copy_(ours.in_proj_bias)
        ref.out_proj.load_state_dict(ours.out_proj.state_dict())
        attn_mask = ~torch.ones(10, 10, dtype=torch.bool).tril() if causal else None
        out, w = ref(x[None], x[None], x[None], attn_mask=attn_mask, average_attn_weights=False)
    np.testing.assert_allclose(view.weights, w[0].double().numpy(), atol=1e-6)
    np.testing.assert_allclose(view.output, out[0].double().numpy(), atol=1e-5)
    np.testing.assert_allclose(view.weights.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(view.heads_out, view.weights @ view.v, atol=1e-6)
    assert view.q.shape == (4, 10, 4) and view.d_k == 4
    rows, cols = np.triu_indices(10, k=1)
    upper = view.weights[:, rows, cols]  # every head's cells above the diagonal
    if causal:
        assert np.abs(upper).max() == 0.0 and np.isneginf(view.mask[0, 1]) and view.mask[1, 0] == 0.0
    else:
        assert upper.min() > 0.0 and not np.isneginf(view.mask).any()


def test_without_positions_equal_words_get_equal_outputs():
    view = self_attention(SelfAttentionConfig(text=SENTENCE, positions=False))
    assert view.tokens[0] == view.tokens[4] == "the"
    np.testing.assert_allclose(view.output[0], view.output[4], atol=1e-6)
    assert not view.positions.any()
    placed = self_attention(SelfAttentionConfig(text=SENTENCE, positions=True))
    assert np.abs(placed.output[0] - placed.output[4]).max() > 1e-2


def test_order_blindness():
    cfg = SelfAttentionConfig(text=SENTENCE, causal=True)  # the comparison leaves the mask out
    ob = order_blindness(cfg, "the mat sat on the cat because it was tired")
    assert ob.match == [0, 5, 2, 3, 4, 1, 6, 7, 8, 9]
    assert ob.without.max() < 1e-5
    assert ob.with_positions[[1, 5]].min() > 0.1  # cat and mat moved
    ob = order_blindness(cfg, "tired was it because mat the on sat cat the")
    assert ob.without.max() < 1e-5 and ob.with_positions.min() > 1e-3
    assert reordering(SENTENCE) == "the mat sat on the cat because it was tired"
    assert reordering("the dog chased the ball") == "ball the chased dog the"
    assert reordering("abc", "characters") == "cba"
    with pytest.raises(ValueError, match="exactly the same words.*'dog'"):
        order_blindness(cfg, "the dog sat on the mat because it was tired")
    with pytest.raises(ValueError, match="different number of times"):
        order_blindness(SelfAttentionConfig(text="a a b"), "a b b")


# --- figures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def causal_view():
    return self_attention(SelfAttentionConfig(text="the cat sat on the mat", heads=2, d_model=8, causal=True))


def test_weights_heatmap_shows_the_weights(causal_view):
    fig = weights_heatmap(causal_view.tokens, causal_view.weights[1])
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), causal_view.weights[1])
    assert list(fig.layout.xaxis.ticktext) == list(fig.layout.yaxis.ticktext) == causal_view.tokens
    assert len(set(fig.data[0].x)) == 6  # the two "the"s are two columns
    with pytest.raises(ValueError, match=r"\[tokens, tokens\] = \[5, 5\], got \[6, 6\]"):
        weights_heatmap(causal_view.tokens[:5], causal_view.weights[1])


def test_scores_and_mask_grey_exactly_the_masked_cells(causal_view):
    fig = scores_heatmap(causal_view.tokens, causal_view.scores[0], causal_view.mask)
    scores, grey = np.asarray(fig.data[0].z, dtype=float), np.asarray(fig.data[1].z, dtype=float)
    upper = np.triu(np.ones((6, 6), dtype=bool), k=1)
    np.testing.assert_array_equal(np.isnan(scores), upper)
    np.testing.assert_allclose(scores[~upper], causal_view.scores[0][~upper])
    np.testing.assert_array_equal(~np.isnan(grey), upper)
    assert len(scores_heatmap(causal_view.tokens, causal_view.scores[0]).data) == 1  # no mask, no grey
    mfig = mask_heatmap(causal_view.tokens, causal_view.mask)
    np.testing.assert_array_equal(~np.isnan(np.asarray(mfig.data[1].z, dtype=float)), upper)
    assert len(mask_heatmap(causal_view.tokens, np.zeros((6, 6))).data) == 1


def test_heads_grid_and_qkv(causal_view):
    fig = heads_grid(causal_view.tokens, causal_view.weights)
    assert len(fig.data) == 2
    for i, trace in enumerate(fig.data):
        np.testing.assert_array_equal(np.asarray(trace.z), causal_view.weights[i])
    qkv = qkv_heatmaps(causal_view.tokens, causal_view.q[0], causal_view.k[0], causal_view.v[0])
    for trace, mat in zip(qkv.data, (causal_view.q[0], causal_view.k[0], causal_view.v[0]), strict=True):
        np.testing.assert_array_equal(np.asarray(trace.z), mat)
    with pytest.raises(ValueError, match="heads, tokens, tokens"):
        heads_grid(causal_view.tokens, causal_view.weights[0])


def test_positions_and_order_figures():
    pe = sinusoidal_positions(50, 16).numpy()
    np.testing.assert_array_equal(np.asarray(positions_heatmap(pe).data[0].z), pe)
    ob = order_blindness(SelfAttentionConfig(text=SENTENCE), "the mat sat on the cat because it was tired")
    fig = order_blindness_bars(ob.tokens, ob.without, ob.with_positions)
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), ob.without)
    np.testing.assert_array_equal(np.asarray(fig.data[1].y), ob.with_positions)
    with pytest.raises(ValueError, match="one distance per token"):
        order_blindness_bars(ob.tokens[:3], ob.without, ob.with_positions)
