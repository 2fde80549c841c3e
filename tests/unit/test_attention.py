"""References for core/seq2seq/attention.py: scaled dot-product attention against
``torch.nn.functional.scaled_dot_product_attention`` and a float64 NumPy softmax(QKᵀ/√d_k + M)
computed here by hand (no mask, causal, boolean padding, float additive); the multi-head module
against ``torch.nn.MultiheadAttention`` with the same weights (outputs and per-head weights, with
a key padding mask and a causal mask), ``explain`` against ``forward``; sinusoidal positions
against the closed form written as a plain loop; learned positions; order blindness without
positions and its end with them; and the plain ValueErrors for bad shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.seq2seq.attention import (
    LearnedPositions,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
)


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _numpy_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, m: np.ndarray | None = None):
    """softmax(QKᵀ/√d_k + M)·V in float64 NumPy, the softmax written out (max subtracted)."""
    qn, kn, vn = (t.double().numpy() for t in (q, k, v))
    scores = qn @ np.swapaxes(kn, -1, -2) / math.sqrt(qn.shape[-1])
    if m is not None:
        scores = scores + m
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ vn, w


def _additive(mask_bool: torch.Tensor) -> np.ndarray:
    return np.where(mask_bool.numpy(), 0.0, -np.inf)


# --- scaled dot-product attention ------------------------------------------------------------------


def test_no_mask_equals_torch_and_numpy():
    q, k, v = _rand(2, 3, 5, 8, seed=1), _rand(2, 3, 7, 8, seed=2), _rand(2, 3, 7, 6, seed=3)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5, 6) and w.shape == (2, 3, 5, 7)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)
    ref_out, ref_w = _numpy_attention(q, k, v)
    np.testing.assert_allclose(w.double().numpy(), ref_w, atol=1e-6)
    np.testing.assert_allclose(out.double().numpy(), ref_out, atol=1e-5)
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-6)
    # the √d_k matters: without it the weights are not the reference's
    _, unscaled = _numpy_attention(q * math.sqrt(8), k, v)
    assert not np.allclose(w.double().numpy(), unscaled, atol=1e-3)


def test_causal_mask_equals_torch_is_causal():
    q, k, v = _rand(2, 2, 6, 4, seed=4), _rand(2, 2, 6, 4, seed=5), _rand(2, 2, 6, 3, seed=6)
    mask = causal_mask(6)
    assert mask.dtype == torch.bool and mask[2, 3].item() is False and mask[3, 2].item() is True
    out, w = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5, rtol=1e-5)
    ref_out, ref_w = _numpy_attention(q, k, v, _additive(mask))
    np.testing.assert_allclose(w.double().numpy(), ref_w, atol=1e-6)
    assert torch.triu(w, diagonal=1).abs().max().item() == 0.0  # nothing from the future
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-6)
    # and it is a real difference: without the mask the output is not torch's causal one
    unmasked, _ = scaled_dot_product_attention(q, k, v)
    assert not torch.allclose(unmasked, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-3)


def test_boolean_padding_mask_equals_torch():
    q, k, v = _rand(2, 5, 8, seed=7), _rand(2, 7, 8, seed=8), _rand(2, 7, 8, seed=9)
    mask = padding_mask(torch.tensor([7, 4]), 7)  # [N, 1, S]
    assert mask.shape == (2, 1, 7) and mask[1, 0].tolist() == [True] * 4 + [False] * 3
    out, w = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5, rtol=1e-5)
    ref_out, ref_w = _numpy_attention(q, k, v, _additive(mask))
    np.testing.assert_allclose(w.double().numpy(), ref_w, atol=1e-6)
    np.testing.assert_allclose(out.double().numpy(), ref_out, atol=1e-5)
    assert w[1, :, 4:].abs().max().item() == 0.0 and w[0, :, 4:].min().item() > 0.0


def test_float_additive_mask_equals_torch():
    q, k, v = _rand(3, 4, 8, seed=10), _rand(3, 6, 8, seed=11), _rand(3, 6, 5, seed=12)
    m = _rand(3, 4, 6, seed=13)
    m[:, :, 0] = float("-inf")  # no query may look at the first key
    out, w = scaled_dot_product_attention(q, k, v, m)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=m), atol=1e-5, rtol=1e-5)
    ref_out, ref_w = _numpy_attention(q, k, v, m.double().numpy())
    np.testing.assert_allclose(w.double().numpy(), ref_w, atol=1e-6)
    assert w[..., 0].abs().max().item() == 0.0
    # a mask that is added, not ignored: the unmasked weights differ
    _, plain = scaled_dot_product_attention(q, k, v)
    assert not torch.allclose(plain, w, atol=1e-3)


# --- multi-head attention ----------------------------------------------------------------------------


def _torch_mha(d: int = 16, h: int = 4, seed: int = 0) -> nn.MultiheadAttention:
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():  # non-zero biases so they are checked too
        mha.in_proj_bias.copy_(_rand(3 * d, seed=seed + 100) * 0.1)
        mha.out_proj.bias.copy_(_rand(d, seed=seed + 101) * 0.1)
    return mha.eval()


def test_multihead_equals_torch_self_and_cross_attention():
    mha = _torch_mha()
    ours = MultiHeadAttention(16, 4).load_torch(mha)
    x = _rand(2, 5, 16, seed=20)
    out, w = ours(x, x, x)
    ref_out, ref_w = mha(x, x, x, average_attn_weights=False)
    assert w.shape == (2, 4, 5, 5)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)
    query, memory = _rand(2, 3, 16, seed=21), _rand(2, 6, 16, seed=22)
    out, w = ours(query, memory, memory)
    ref_out, ref_w = mha(query, memory, memory, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)
    # another torch module's weights give another output
    other = MultiHeadAttention(16, 4).load_torch(_torch_mha(seed=1))
    assert not torch.allclose(other(x, x, x)[0], mha(x, x, x)[0], atol=1e-3)


def test_multihead_with_key_padding_mask_equals_torch():
    mha = _torch_mha(seed=2)
    ours = MultiHeadAttention(16, 4).load_torch(mha)
    x = _rand(3, 6, 16, seed=23)
    kpm = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] * 2 + [True] * 4])  # True = padding (torch)
    out, w = ours(x, x, x, ~kpm[:, None, :])
    ref_out, ref_w = mha(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)
    assert w[2, :, :, 2:].abs().max().item() == 0.0
    # the same mask as padding_mask builds it from lengths
    assert torch.equal(padding_mask(torch.tensor([6, 4, 2]), 6), ~kpm[:, None, :])


def test_multihead_with_causal_mask_equals_torch():
    mha = _torch_mha(seed=3)
    ours = MultiHeadAttention(16, 4).load_torch(mha)
    x = _rand(2, 7, 16, seed=24)
    out, w = ours(x, x, x, causal_mask(7))
    ref_out, ref_w = mha(x, x, x, attn_mask=~causal_mask(7), average_attn_weights=False)  # torch: True = hidden
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours(x, x, x, causal_mask(7).float().log())[0], ref_out, atol=1e-5, rtol=1e-5)  # 0/−∞


def test_explain_matches_forward():
    mha = MultiHeadAttention(12, 3)
    x = _rand(2, 5, 12, seed=25)
    mask = causal_mask(5)
    out, w = mha(x, x, x, mask)
    maps = mha.explain(x, x, x, mask)
    torch.testing.assert_close(maps.output, out)
    torch.testing.assert_close(maps.weights, w)
    assert maps.q.shape == maps.k.shape == maps.v.shape == (2, 3, 5, 4)
    torch.testing.assert_close(maps.scores, maps.q @ maps.k.transpose(-2, -1) / 2.0)  # √d_k = 2
    torch.testing.assert_close(torch.softmax(maps.scores + maps.mask, -1), maps.weights)
    assert torch.isneginf(maps.mask[0, 0, 0, 1]) and maps.mask[0, 0, 1, 0].item() == 0.0
    assert maps.mask.shape == (2, 3, 5, 5)
    no_mask = mha.explain(x, x, x)
    assert no_mask.mask.abs().max().item() == 0.0 and not torch.allclose(no_mask.output, out, atol=1e-4)


def test_load_torch_refuses_another_size():
    with pytest.raises(ValueError, match="same size and heads"):
        MultiHeadAttention(16, 2).load_torch(_torch_mha())
    MultiHeadAttention(16, 4).load_torch(_torch_mha())


# --- positions -----------------------------------------------------------------------------------------


def _closed_form(length: int, d: int, *, odd_exponent_shift: int = 1) -> list[list[float]]:
    """PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(pos/10000^(2i/d)), one number at a time."""
    rows = []
    for pos in range(length):
        row = []
        for j in range(d):
            if j % 2 == 0:
                row.append(math.sin(pos / 10000 ** (j / d)))
            else:
                row.append(math.cos(pos / 10000 ** ((j - odd_exponent_shift) / d)))
        rows.append(row)
    return rows


@pytest.mark.parametrize("d", [8, 7, 1])
def test_sinusoidal_positions_closed_form(d):
    pe = sinusoidal_positions(12, d)
    assert pe.shape == (12, d) and pe.dtype == torch.float32
    np.testing.assert_allclose(pe.numpy(), np.array(_closed_form(12, d)), atol=1e-6)


def test_sinusoidal_positions_a_wrong_formula_fails():
    # an odd column using its own index (j/d instead of (j − 1)/d) is not the encoding
    assert not np.allclose(sinusoidal_positions(12, 8).numpy(), np.array(_closed_form(12, 8, odd_exponent_shift=0)),
                           atol=1e-4)
    with pytest.raises(ValueError, match="at least 1"):
        sinusoidal_positions(0, 8)


def test_learned_positions_add_their_table_and_refuse_a_long_sequence():
    pos = LearnedPositions(10, 6)
    x = _rand(2, 4, 6, seed=30)
    torch.testing.assert_close(pos(x), x + pos.table.weight[:4][None])
    assert pos(_rand(1, 10, 6)).shape == (1, 10, 6)
    with pytest.raises(ValueError, match="11 positions but only 10"):
        pos(_rand(1, 11, 6))


def test_self_attention_is_blind_to_order_until_positions_are_added():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval()
    x = _rand(1, 6, 16, seed=31)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        out, _ = mha(x, x, x)
        shuffled, _ = mha(x[:, perm], x[:, perm], x[:, perm])
        torch.testing.assert_close(shuffled, out[:, perm], atol=1e-6, rtol=1e-5)  # equivariant
        pe = sinusoidal_positions(6, 16)[None]
        y, ys = x + pe, x[:, perm] + pe  # the same position vectors, now at other words
        with_pos, _ = mha(y, y, y)
        shuffled_pos, _ = mha(ys, ys, ys)
    assert (shuffled_pos - with_pos[:, perm]).abs().max().item() > 1e-2


# --- bad input -------------------------------------------------------------------------------------------


def test_a_mask_of_the_wrong_shape_is_refused():
    q, k, v = _rand(5, 8), _rand(7, 8), _rand(7, 8)
    scaled_dot_product_attention(q, k, v, torch.ones(5, 7, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask has shape \(5, 8\).*5 × 7"):
        scaled_dot_product_attention(q, k, v, torch.ones(5, 8, dtype=torch.bool))  # one column too many
    mha = MultiHeadAttention(8, 2)
    x = _rand(1, 5, 8)
    mha(x, x, x, causal_mask(5))
    with pytest.raises(ValueError, match="mask has shape"):
        mha(x, x, x, causal_mask(6))
    with pytest.raises(ValueError, match="mask has shape"):
        mha.explain(x, x, x, causal_mask(4))


def test_sizes_that_do_not_fit_are_refused():
    MultiHeadAttention(12, 4)
    with pytest.raises(ValueError, match=r"model size \(10\) must be a positive multiple of the number of heads \(4\)"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=r"same size d_k \(got 8 and 6\)"):
        scaled_dot_product_attention(_rand(5, 8), _rand(7, 6), _rand(7, 8))
    with pytest.raises(ValueError, match=r"one value per key \(got 7 keys and 6 values\)"):
        scaled_dot_product_attention(_rand(5, 8), _rand(7, 8), _rand(6, 8))
