"""The style page's extras: the style images the lab draws (deterministic, real textures, quick),
the figures (right traces, one shared colour range for both Gram matrices), and the comparison
behind the "Costs and Gram matrices" tab checked against a NumPy transcription of the course's
formulas on the same VGG-19 activations."""

import time

import numpy as np
import pytest
import torch
from PIL import Image
from plotly.colors import sample_colorscale

from core.data.images import sample_images
from core.plots.style import cost_curves, feature_maps, gram_pair, layer_costs_bar
from core.style import explore, vgg
from core.style.patterns import DEFAULT_STYLE, STYLE_IMAGES
from core.style.transfer import image_tensor, prepare_pair

# ------------------------------------------------------------------------------------------ patterns


def test_style_images_are_listed_with_a_default():
    assert 4 <= len(STYLE_IMAGES) <= 6
    assert all(name.endswith(" (generated)") for name in STYLE_IMAGES)
    assert DEFAULT_STYLE in STYLE_IMAGES
    assert not set(STYLE_IMAGES) & set(sample_images())  # no clash with the photos in the same picker


@pytest.mark.parametrize("name", list(STYLE_IMAGES))
def test_style_image_is_deterministic_quick_and_a_real_texture(name):
    start = time.perf_counter()
    first = STYLE_IMAGES[name]()
    seconds = time.perf_counter() - start
    second = STYLE_IMAGES[name]()
    assert seconds < 1.0
    assert isinstance(first, Image.Image) and first.mode == "RGB"
    assert all(384 <= side <= 512 for side in first.size)
    assert first.tobytes() == second.tobytes() and first is not second
    px = np.asarray(first, dtype=np.float64)
    assert px.std() > 45  # not flat: strong contrasts
    grey = px.mean(axis=2)
    gradient = np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()
    assert gradient > 12  # texture: neighbouring pixels differ (a smooth ramp gives about 1)
    hsv = np.asarray(first.convert("HSV"), dtype=np.float64)
    assert hsv[..., 1].mean() > 0.4 * 255  # strong colours, not greys
    small = np.asarray(first.resize((64, 48)), dtype=np.float64)
    assert small.std(axis=(0, 1)).min() > 20  # every colour channel varies across the picture


def test_style_images_differ_from_each_other():
    pics = {name: np.asarray(make().resize((128, 96)), dtype=np.float64) for name, make in STYLE_IMAGES.items()}
    names = list(pics)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(pics[a] - pics[b]).mean() > 20, (a, b)


# ------------------------------------------------------------------------------------------ figures


def _grams(c: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fa, fb = rng.random((c, 50)), 2.0 * rng.random((c, 50))
    return fa @ fa.T, fb @ fb.T


def test_gram_pair_shares_one_colour_range_and_shows_the_difference():
    g_a, g_b = _grams()
    fig = gram_pair(g_a, g_b, names=("style image", "generated image"), layer="conv2_1", channels=8)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 3
    a, b = g_a[:8, :8], g_b[:8, :8]
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    for t, ref in zip(heat[:2], (a, b)):
        np.testing.assert_allclose(np.asarray(t.z), ref)
        assert t.zmin == pytest.approx(lo) and t.zmax == pytest.approx(hi)
    assert heat[0].colorscale == heat[1].colorscale
    assert [t.showscale for t in heat] == [False, True, True]  # one colour bar for both matrices, one for the difference
    np.testing.assert_allclose(np.asarray(heat[2].z), a - b)
    m = np.abs(a - b).max()
    assert heat[2].zmin == pytest.approx(-m) and heat[2].zmax == pytest.approx(m)
    assert "conv2_1" in fig.layout.title.text and "first 8 of 12" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "channel k'" and fig.layout.yaxis.title.text == "channel k"
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis2.scaleanchor == "x2"  # square cells
    assert list(fig.layout.yaxis.range) == [7.5, -0.5]  # row 0 on top, as a matrix is written
    whole = [t for t in gram_pair(g_a, g_b, layer="conv1_1").data if t.type == "heatmap"]
    assert np.asarray(whole[0].z).shape == (12, 12)
    for bad in (0, 13):
        with pytest.raises(ValueError, match="channels"):
            gram_pair(g_a, g_b, layer="conv1_1", channels=bad)
    with pytest.raises(ValueError):
        gram_pair(g_a, g_b[:5, :5], layer="conv1_1")


def test_gram_pair_square_root_colours_keep_the_numbers():
    g_a, g_b = _grams()
    lin = [t for t in gram_pair(g_a, g_b, layer="conv1_1").data if t.type == "heatmap"]
    sq = [t for t in gram_pair(g_a, g_b, layer="conv1_1", gamma=0.5).data if t.type == "heatmap"]
    for x, y in zip(lin, sq):
        np.testing.assert_allclose(np.asarray(x.z), np.asarray(y.z))
        assert (x.zmin, x.zmax) == (y.zmin, y.zmax)
    stops = dict((round(p, 6), c) for p, c in sq[0].colorscale)
    assert stops[0.25] == sample_colorscale("Viridis", [0.5])[0]  # colour at value p is Viridis(√p)
    div = dict((round(p, 6), c) for p, c in sq[2].colorscale)
    assert div[0.5] == sample_colorscale("RdBu_r", [0.5])[0] and div[0.625] == sample_colorscale("RdBu_r", [0.75])[0]


def test_cost_curves_skip_a_cost_that_is_always_zero():
    rows = [{"step": s, "J_content": 0.0, "J_style": 10.0 / s, "J_total": 5.0 / s} for s in range(1, 6)]
    fig = cost_curves(rows)
    assert [t.name for t in fig.data] == ["J_style", "J (total)"]
    np.testing.assert_allclose(fig.data[0].x, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(fig.data[0].y, [10.0 / s for s in range(1, 6)])
    assert fig.layout.yaxis.type == "log"
    rows[0]["J_content"] = 1.0
    fig = cost_curves(rows, log_y=False)
    assert [t.name for t in fig.data] == ["J_content", "J_style", "J (total)"] and fig.layout.yaxis.type == "linear"


def test_feature_maps_show_the_chosen_channels():
    acts = np.random.default_rng(1).random((6, 5, 7))
    fig = feature_maps(acts, [4, 0, 2], "maps", zmax=[2.0, 3.0, 4.0], columns=2)
    assert len(fig.data) == 3
    for t, k, top in zip(fig.data, [4, 0, 2], [2.0, 3.0, 4.0]):
        np.testing.assert_allclose(np.asarray(t.z), acts[k])
        assert t.zmax == top and t.zmin == 0.0
    assert [a.text for a in fig.layout.annotations] == ["channel 4", "channel 0", "channel 2"]
    with pytest.raises(ValueError, match="channel 6 does not exist"):
        feature_maps(acts, [6], "maps")
    with pytest.raises(ValueError):
        feature_maps(acts[0], [0], "maps")


def test_layer_costs_bar_shows_lambda_times_cost():
    per_layer = {"conv1_1": 2.0, "conv2_1": 0.5, "conv3_1": 4.0}
    weights = {"conv1_1": 0.2, "conv2_1": 0.5, "conv3_1": 0.3}
    fig = layer_costs_bar(per_layer, weights)
    assert list(fig.data[0].x) == list(per_layer)
    np.testing.assert_allclose(fig.data[0].y, [0.4, 0.25, 1.2])
    assert "1.85" in fig.layout.title.text  # J_style = Σ λ J
    assert layer_costs_bar(per_layer, weights, log_y=True).layout.yaxis.type == "log"
    with pytest.raises(ValueError):
        layer_costs_bar(per_layer, {"conv1_1": 1.0})


# ------------------------------------------------------------------------------------------ the comparison


@pytest.fixture(scope="module")
def net():
    """VGG-19's features with torchvision's random initialisation, seeded as core.style.transfer.features does."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return vgg.build_features()


@pytest.fixture(scope="module")
def pictures():
    return sample_images()["Coffee cup"](), STYLE_IMAGES["Mosaic (generated)"]()


def _reference(net, a_img: Image.Image, b_img: Image.Image) -> dict[str, dict]:
    """The course's formulas in float64 NumPy on the activations of each image run alone (not batched)."""
    ex = vgg.Extractor(net, vgg.LAYERS)
    with torch.no_grad():
        acts_a, acts_b = ex(image_tensor(a_img)), ex(image_tensor(b_img))
    out = {}
    for name in vgg.LAYERS:
        a = acts_a[name][0].double().numpy()
        b = acts_b[name][0].double().numpy()
        n_c, n_h, n_w = a.shape
        fa, fb = a.reshape(n_c, -1), b.reshape(n_c, -1)
        g_a = np.einsum("kp,lp->kl", fa, fa)  # G_kk' = Σ_ij a_ijk a_ijk'
        g_b = np.einsum("kp,lp->kl", fb, fb)
        out[name] = dict(a=a, b=b, g_a=g_a, g_b=g_b, shape=(n_c, n_h, n_w),
                         j_content=0.5 * np.sum((a - b) ** 2),
                         j_style=np.sum((g_a - g_b) ** 2) / (2.0 * n_h * n_w * n_c) ** 2)
    return out


@pytest.mark.parametrize("layer", ["conv2_2", "conv4_1"])
def test_compare_matches_the_course_formulas(net, pictures, layer):
    image_a, image_b = pictures
    cmp = explore.compare(image_a, image_b, layer, 64, features_module=net)
    a_img, b_img = prepare_pair(image_a, image_b, 64)
    np.testing.assert_array_equal(cmp.image_a, np.asarray(a_img))
    np.testing.assert_array_equal(cmp.image_b, np.asarray(b_img))  # B cover-cropped to A's shape
    assert cmp.image_a.shape == cmp.image_b.shape
    ref = _reference(net, a_img, b_img)
    assert [r.layer for r in cmp.costs] == [n for n in vgg.LAYERS if n == layer or n in vgg.STYLE_LAYERS_GATYS]
    for row in cmp.costs:
        r = ref[row.layer]
        assert (row.n_c, row.n_h, row.n_w) == r["shape"]
        assert row.j_content == pytest.approx(r["j_content"], rel=1e-4)
        assert row.j_style == pytest.approx(r["j_style"], rel=1e-4)
    r = ref[layer]
    np.testing.assert_allclose(cmp.acts_a, r["a"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cmp.gram_b, r["g_b"], rtol=1e-4, atol=1e-3)
    assert cmp.gram_sq_diff == pytest.approx(np.sum((r["g_a"] - r["g_b"]) ** 2), rel=1e-4)
    assert cmp.j_style == pytest.approx(sum(0.2 * ref[n]["j_style"] for n in vgg.STYLE_LAYERS_GATYS), rel=1e-4)
    energy = np.diag(r["g_a"])
    assert explore.strongest_channels(cmp, "A", 3) == list(np.argsort(-energy)[:3])


def test_an_image_against_itself_costs_nothing(net, pictures):
    cmp = explore.compare(pictures[0], pictures[0], "conv3_1", 64, features_module=net)
    assert all(r.j_content == 0.0 and r.j_style == 0.0 for r in cmp.costs)
    np.testing.assert_array_equal(cmp.gram_a, cmp.gram_b)


def test_a_mirrored_copy_keeps_the_style_but_not_the_content(net, pictures):
    photo = pictures[0]
    mirrored = explore.compare(photo, photo, "conv3_1", 64, kind="mirrored", features_module=net)
    other = explore.compare(photo, pictures[1], "conv3_1", 64, features_module=net)
    np.testing.assert_array_equal(mirrored.image_b, mirrored.image_a[:, ::-1])
    assert mirrored.chosen.j_content > 0.05 * other.chosen.j_content
    for name in vgg.STYLE_LAYERS_GATYS:  # a Gram matrix sums over positions: mirroring barely changes it
        assert mirrored.at(name).j_style < 0.05 * other.at(name).j_style


def test_variants_and_bad_inputs():
    img = STYLE_IMAGES["Rings (generated)"]().resize((60, 40))
    px = np.asarray(img)
    np.testing.assert_array_equal(np.asarray(explore.variant(img, "shifted")), np.roll(px, 20, axis=1))
    grey = np.asarray(explore.variant(img, "grey"))
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    blurred = np.asarray(explore.variant(img, "blurred"), dtype=float)
    assert blurred.shape == px.shape and np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(px.astype(float), axis=1)).mean()
    np.testing.assert_array_equal(np.asarray(explore.variant(img, "as it is")), px)
    with pytest.raises(ValueError, match="variant"):
        explore.variant(img, "sharpened")
    with pytest.raises(ValueError, match="too narrow"):
        explore.prepare_comparison(Image.new("RGB", (400, 20)), img, 64)  # 64×3 px: nothing left after four poolings
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        explore.layers_for("conv6_1")
