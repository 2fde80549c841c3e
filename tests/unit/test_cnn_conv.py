"""The convolution arithmetic of core.cnn.conv against PyTorch's conv2d and pooling ops."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.cnn.conv import (
    KERNELS,
    ConvConfig,
    colour_filter,
    conv_output_size,
    convolve,
    output_size_formula,
    output_size_latex,
    pool,
    prepare_image,
    resolve_padding,
    same_padding,
    to_array,
    window,
    working_size,
)
from core.plots.conv import feature_map_figure, image_figure, kernel_figure, map_png, window_figure


def torch_conv(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int, bias: float = 0.0) -> np.ndarray:
    x = torch.tensor(image, dtype=torch.float64)
    x = x[None, None] if x.ndim == 2 else x[None]  # (1, C, H, W)
    k = torch.tensor(kernel, dtype=torch.float64)
    k = k[None, None] if k.ndim == 2 else k[None]  # (1 output channel, C, f, f)
    b = torch.tensor([bias], dtype=torch.float64)
    return F.conv2d(x, k, b, stride=stride, padding=padding)[0, 0].numpy()


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("h, w, f, s, p", [(7, 7, 3, 1, 0), (9, 12, 3, 2, 1), (16, 11, 5, 3, 2), (10, 10, 4, 1, 3),
                                           (5, 8, 1, 2, 0), (6, 6, 6, 1, 0), (13, 17, 3, 4, 5)])
def test_convolve_equals_torch_conv2d(channels, h, w, f, s, p):
    rng = np.random.default_rng(h * 100 + w + f)
    shape, kshape = ((h, w), (f, f)) if channels is None else ((channels, h, w), (channels, f, f))
    image, kernel = rng.standard_normal(shape), rng.standard_normal(kshape)
    ours = convolve(image, kernel, stride=s, padding=p, bias=0.3)
    ref = torch_conv(image, kernel, s, p, bias=0.3)
    assert ours.shape == ref.shape == (conv_output_size(h, f, p, s), conv_output_size(w, f, p, s))
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_every_named_kernel_matches_torch_on_a_photo_sized_image():
    image = np.random.default_rng(0).random((64, 96))
    for name, kernel in KERNELS.items():
        assert kernel.shape == (3, 3), name
        np.testing.assert_allclose(convolve(image, kernel, 2, 1), torch_conv(image, kernel, 2, 1), atol=1e-5)


def test_output_sizes_over_a_grid_match_the_formula_and_torch():
    x = torch.zeros(1, 1, 12, 12)
    for n, f, p, s in itertools.product([5, 8, 12], [1, 2, 3, 5], [0, 1, 2], [1, 2, 3]):
        expected = (n + 2 * p - f) // s + 1  # ⌊(n + 2p − f)/s⌋ + 1
        assert conv_output_size(n, f, p, s) == expected
        out = convolve(np.zeros((n, n)), np.ones((f, f)), s, p)
        ref = F.conv2d(x[..., :n, :n], torch.ones(1, 1, f, f), stride=s, padding=p)
        assert out.shape == (expected, expected) == tuple(ref.shape[-2:]), (n, f, p, s)


def test_kernel_that_does_not_fit_is_a_plain_value_error():
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(4, 7, padding=1)  # 4 + 2 < 7
    assert conv_output_size(4, 6, padding=1) == 1  # exactly fits
    with pytest.raises(ValueError, match="does not fit"):
        convolve(np.zeros((2, 300)), KERNELS["Sobel (vertical edges)"])
    with pytest.raises(ValueError, match="stride"):
        convolve(np.zeros((5, 5)), np.ones((3, 3)), stride=0)
    with pytest.raises(ValueError, match="channels"):
        convolve(np.zeros((3, 5, 5)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        convolve(np.zeros((5, 5)), np.full((3, 3), np.nan))


def test_same_padding_keeps_the_size_at_stride_one():
    for f in (1, 3, 5, 7):
        p = same_padding(f)
        assert p == (f - 1) // 2
        for n in (7, 10, 31):
            assert conv_output_size(n, f, p, 1) == n
            assert convolve(np.ones((n, n + 1)), np.ones((f, f)), 1, p).shape == (n, n + 1)
    with pytest.raises(ValueError, match="odd"):
        same_padding(4)
    assert resolve_padding("valid", 3) == 0 and resolve_padding("same", 5) == 2 and resolve_padding("custom", 3, 4) == 4
    with pytest.raises(ValueError, match="padding mode"):
        resolve_padding("full", 3)
    with pytest.raises(ValueError, match="at least 0"):
        resolve_padding("custom", 3, -1)


@pytest.mark.parametrize("channels", [None, 3])
def test_window_sum_equals_the_feature_map_value(channels):
    rng = np.random.default_rng(1)
    image = rng.random((10, 13)) if channels is None else rng.random((3, 10, 13))
    kernel = rng.standard_normal((3, 3)) if channels is None else rng.standard_normal((3, 3, 3))
    stride, padding = 2, 1
    fmap = convolve(image, kernel, stride, padding, bias=-0.5)
    padded = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(padding, padding)] * 2)
    for i, j in itertools.product(range(fmap.shape[0]), range(fmap.shape[1])):
        win = window(image, kernel, stride, padding, i, j, bias=-0.5)
        assert (win.top, win.left) == (i * stride, j * stride)
        np.testing.assert_array_equal(win.patch, padded[..., i * 2:i * 2 + 3, j * 2:j * 2 + 3])
        np.testing.assert_allclose(win.products, win.patch * kernel)
        assert win.total == pytest.approx(win.products.sum())
        assert win.value == pytest.approx(fmap[i, j], abs=1e-12)
    corner = window(image, kernel, stride, padding, 0, 0)
    assert np.all(corner.patch[..., 0, :] == 0) and np.all(corner.patch[..., :, 0] == 0)  # the zero padding
    with pytest.raises(ValueError, match="outside"):
        window(image, kernel, stride, padding, fmap.shape[0], 0)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 1), (3, 2), (2, 3)])
def test_pooling_equals_torch(size, stride):
    x = np.random.default_rng(2).standard_normal((4, 11, 14))
    t = torch.tensor(x)
    np.testing.assert_allclose(pool(x, "max", size, stride), F.max_pool2d(t, size, stride).numpy(), atol=1e-12)
    np.testing.assert_allclose(pool(x, "average", size, stride), F.avg_pool2d(t, size, stride).numpy(), atol=1e-12)
    np.testing.assert_allclose(pool(x[0], "max", size, stride), F.max_pool2d(t[:1], size, stride)[0].numpy())
    assert pool(x, "max", size, stride).shape[-2:] == (conv_output_size(11, size, 0, stride),
                                                      conv_output_size(14, size, 0, stride))


def test_global_pooling_equals_adaptive_pools():
    x = np.random.default_rng(3).standard_normal((3, 9, 7))
    t = torch.tensor(x)
    np.testing.assert_allclose(pool(x, "global max"), F.adaptive_max_pool2d(t, 1).numpy())
    np.testing.assert_allclose(pool(x, "global average"), F.adaptive_avg_pool2d(t, 1).numpy())
    assert pool(x[0], "global average").shape == (1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        pool(x, "max", 8, 1)  # width 7 < 8
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool(x, "median")


def test_output_size_formula_is_worked_out_with_the_numbers():
    assert output_size_formula(64, 3, 1, 2) == "⌊(64 + 2·1 − 3) / 2⌋ + 1 = 32"
    assert output_size_formula(28, 5, 0, 1) == "⌊(28 + 2·0 − 5) / 1⌋ + 1 = 24"
    assert output_size_formula(7, 3, 0, 2).endswith("= 3")
    latex = output_size_latex(64, 3, 1, 2)
    assert "64 + 2\\cdot 1 - 3" in latex and "31.5" in latex and latex.endswith("= 32")
    with pytest.raises(ValueError, match="does not fit"):
        output_size_formula(2, 5, 1, 1)


def test_vertical_edge_kernel_finds_vertical_edges_only():
    step = np.zeros((12, 12))
    step[:, :6] = 1.0  # bright left half, dark right half: one vertical edge
    flipped = step.T.copy()  # bright top, dark bottom: one horizontal edge
    vertical = KERNELS["Vertical edge"]
    v = convolve(step, vertical)
    assert v.max() == 3.0 and np.count_nonzero(v) == 2 * 10  # the two columns next to the edge
    assert np.all(v[:, [4, 5]] == 3.0)
    np.testing.assert_array_equal(convolve(flipped, vertical), 0.0)
    np.testing.assert_array_equal(convolve(step, KERNELS["Horizontal edge"]), 0.0)
    assert convolve(flipped, KERNELS["Horizontal edge"]).max() == 3.0
    np.testing.assert_allclose(convolve(step, KERNELS["Identity"], padding=1), step)
    np.testing.assert_allclose(KERNELS["Blur (box)"].sum(), 1.0)
    np.testing.assert_allclose(KERNELS["Blur (Gaussian)"].sum(), 1.0)


def test_colour_filter_spans_the_channels():
    k = KERNELS["Vertical edge"]
    red_only = colour_filter(k, (1, 0, 0))
    assert red_only.shape == (3, 3, 3)
    rng = np.random.default_rng(4)
    rgb = rng.random((3, 8, 9))
    np.testing.assert_allclose(convolve(rgb, red_only), convolve(rgb[0], k))  # only looks at red
    np.testing.assert_allclose(convolve(rgb, colour_filter(k, (0.5, -1, 2))), torch_conv(rgb, colour_filter(k, (0.5, -1, 2)), 1, 0),
                               atol=1e-5)
    rgb_green_edge = np.zeros((3, 6, 6))
    rgb_green_edge[1, :, :3] = 1.0  # a green/black edge: invisible to the red-only filter
    np.testing.assert_array_equal(convolve(rgb_green_edge, red_only), 0.0)
    assert convolve(rgb_green_edge, colour_filter(k, (0, 1, 0))).max() == 3.0
    with pytest.raises(ValueError, match="3 numbers"):
        colour_filter(k, (1, 0))


def test_image_preparation_and_config():
    assert working_size((600, 400), 128) == (128, 85)
    assert working_size((20, 10), 128) == (20, 10)  # never enlarged
    photo = (np.random.default_rng(5).random((40, 60, 3)) * 255).astype(np.uint8)
    gray = prepare_image(photo, 30, gray=True)
    rgb = prepare_image(photo, 30, gray=False)
    assert gray.shape == (20, 30) and rgb.shape == (3, 20, 30)
    assert 0 <= gray.min() and gray.max() <= 1
    small = to_array(photo[:2, :2], gray=True)
    np.testing.assert_allclose(small, photo[:2, :2] @ np.array([0.299, 0.587, 0.114]) / 255)
    cfg = ConvConfig(kernel=tuple(map(tuple, KERNELS["Sharpen"])), stride=2, padding_mode="same")
    assert cfg.padding == 1 and cfg.f == 3
    with pytest.raises(ValueError, match="every kernel cell"):
        ConvConfig(kernel=((1, 2, 3), (4, float("nan"), 6), (7, 8, 9)))
    with pytest.raises(ValueError, match="stride"):
        ConvConfig(kernel=((1.0,),), stride=0)
    with pytest.raises(ValueError, match="square"):
        ConvConfig(kernel=((1, 2), (3, 4), (5, 6)))


def test_figures_build():
    rng = np.random.default_rng(6)
    image = rng.random((3, 10, 14))
    kernel = colour_filter(KERNELS["Sobel (vertical edges)"], (1, 0, -1))
    fmap = convolve(image, kernel, 1, 1)
    assert image_figure(image, padding=1, box=(0, 0, 3, 3)).data[0].type == "image"
    assert image_figure(image[0], padding=2).data[0].type == "heatmap"
    heat = feature_map_figure(fmap, cell=(2, 3)).data[0]
    assert heat.zmid is None and heat.zmin == -heat.zmax  # signed map: centred at 0
    assert len(kernel_figure(kernel).data) == 3
    assert len(window_figure(window(image, kernel, 1, 1, 2, 3)).data) == 9
    big = feature_map_figure(rng.random((700, 500))).data[0]
    assert max(np.shape(big.z)) <= 350  # thinned for display
    png = map_png(fmap)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
