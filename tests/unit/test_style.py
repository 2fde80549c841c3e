"""Style transfer's building blocks: the costs, VGG-19's feature extractor and its weights, offline.

References: the course formulas transcribed in numpy (explicit loops over positions), torch.einsum,
``F.mse_loss``, Gatys et al.'s own normalisation 1/(4 N² M²) and their closed-form gradient (2016,
eq. 6) checked against autograd, and torchvision's ``vgg19().features`` run by hand with
``torch.nn.functional``. No test touches the network: TORCH_HOME points to a temporary folder, every
socket connection fails (and is counted), and the "pretrained" file is a seeded random state dict the
test saves itself at the exact path torch hub would download to.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from core import pretrained
from core.pretrained import WeightsUnavailable
from core.style import costs as C
from core.style import transfer as T
from core.style import vgg
from tests.conftest import go_offline

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# =========================================================================================== costs


def _gram_loops(a: np.ndarray) -> np.ndarray:
    """G_kk' = Σ_i Σ_j a_ijk a_ijk' by an explicit double loop over the positions (i, j); a is [C, H, W]."""
    n_c, n_h, n_w = a.shape
    g = np.zeros((n_c, n_c))
    for i in range(n_h):
        for j in range(n_w):
            v = a[:, i, j].astype(np.float64)
            g += np.outer(v, v)
    return g


def _style_cost_np(a_s: np.ndarray, a_g: np.ndarray) -> float:
    """The course's J_style^[l] = 1/(2 n_H n_W n_C)² Σ_kk' (G^(S) − G^(G))², one [C, H, W] layer."""
    n_c, n_h, n_w = a_g.shape
    d = _gram_loops(a_s) - _gram_loops(a_g)
    return float((d**2).sum() / (2.0 * n_h * n_w * n_c) ** 2)


def test_gram_matrix_equals_a_double_loop_over_positions_and_einsum():
    a = _rng(1).normal(size=(4, 3, 5)).astype(np.float32)
    g = C.gram_matrix(torch.from_numpy(a))
    assert g.shape == (4, 4) and g.dtype == torch.float32
    np.testing.assert_allclose(g.numpy(), _gram_loops(a), rtol=1e-5, atol=1e-5)
    ref = torch.einsum("khw,lhw->kl", torch.from_numpy(a), torch.from_numpy(a))
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-5)

    batch = _rng(2).normal(size=(3, 5, 4, 2)).astype(np.float32)
    gb = C.gram_matrix(torch.from_numpy(batch))
    assert gb.shape == (3, 5, 5)
    for b in range(3):
        np.testing.assert_allclose(gb[b].numpy(), _gram_loops(batch[b]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gb, torch.einsum("bkhw,blhw->bkl", *(torch.from_numpy(batch),) * 2), rtol=1e-5, atol=1e-5)


def test_gram_matrix_is_symmetric_psd_unnormalised_and_float32():
    a = torch.from_numpy(_rng(3).normal(size=(6, 4, 4)).astype(np.float32))
    g = C.gram_matrix(a)
    assert g.dtype == torch.float32
    # symmetric up to float32 rounding: the BLAS kernel may sum the two triangles in different orders
    torch.testing.assert_close(g, g.T)
    g = g.double()
    assert float(torch.linalg.eigvalsh(g).min()) > -1e-4  # positive semi-definite: a Gram matrix
    # not normalised: the same activations seen at twice as many positions give twice the Gram matrix
    torch.testing.assert_close(C.gram_matrix(torch.cat([a, a], dim=2)), 2 * C.gram_matrix(a))
    assert C.gram_matrix(a.bfloat16()).dtype == torch.float32  # sums over positions in float32
    with pytest.raises(ValueError, match="gram_matrix"):
        C.gram_matrix(torch.zeros(4, 4))


def test_content_cost_is_half_the_sum_of_squared_differences():
    a_c = _rng(4).normal(size=(1, 5, 3, 4)).astype(np.float32)
    a_g = _rng(5).normal(size=(1, 5, 3, 4)).astype(np.float32)
    j = C.content_cost(torch.from_numpy(a_c), torch.from_numpy(a_g))
    ref_torch = 0.5 * F.mse_loss(torch.from_numpy(a_g), torch.from_numpy(a_c), reduction="sum")
    torch.testing.assert_close(j, ref_torch)
    ref_np = 0.5 * sum(float(a_c[0, k, i, jj] - a_g[0, k, i, jj]) ** 2
                       for k in range(5) for i in range(3) for jj in range(4))
    assert float(j) == pytest.approx(ref_np, rel=1e-5)
    assert float(C.content_cost(torch.from_numpy(a_c), torch.from_numpy(a_c))) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        C.content_cost(torch.zeros(1, 5, 3, 4), torch.zeros(1, 5, 4, 3))
    with pytest.raises(ValueError, match="activations"):
        C.content_cost(torch.zeros(5, 3), torch.zeros(5, 3))


def test_layer_style_cost_equals_the_course_formula_and_gatys_normalisation():
    a_s = np.abs(_rng(6).normal(size=(5, 4, 3))).astype(np.float32)
    a_g = np.abs(_rng(7).normal(size=(5, 4, 3))).astype(np.float32)
    j = C.layer_style_cost(torch.from_numpy(a_s), torch.from_numpy(a_g))
    assert j.ndim == 0
    assert float(j) == pytest.approx(_style_cost_np(a_s, a_g), rel=1e-5)
    # Gatys et al.: E_l = 1/(4 N_l² M_l²) Σ_ij (G_ij − A_ij)², N_l = n_C feature maps of M_l = n_H·n_W positions
    n, m = 5, 4 * 3
    f_s, f_g = a_s.reshape(n, m).astype(np.float64), a_g.reshape(n, m).astype(np.float64)
    gatys = ((f_g @ f_g.T - f_s @ f_s.T) ** 2).sum() / (4 * n**2 * m**2)
    assert float(j) == pytest.approx(gatys, rel=1e-5)
    # from the two Gram matrices directly; a batch of one gives the same value
    g_s, g_g = torch.from_numpy(_gram_loops(a_s)), torch.from_numpy(_gram_loops(a_g))
    assert float(C.layer_style_cost_from_grams(g_s, g_g, 5, 4, 3)) == pytest.approx(gatys, rel=1e-5)
    assert float(C.layer_style_cost(torch.from_numpy(a_s)[None], torch.from_numpy(a_g)[None])) == pytest.approx(gatys, rel=1e-5)
    assert float(C.layer_style_cost(torch.from_numpy(a_s), torch.from_numpy(a_s))) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        C.layer_style_cost(torch.zeros(5, 4, 3), torch.zeros(5, 3, 4))
    with pytest.raises(ValueError, match="Gram matrices differ"):
        C.layer_style_cost_from_grams(torch.zeros(5, 5), torch.zeros(4, 4), 5, 4, 3)


def test_style_cost_is_the_lambda_weighted_sum_and_total_cost_alpha_beta():
    per_layer = {"conv1_1": torch.tensor(2.0), "conv3_1": torch.tensor(0.5), "conv5_1": torch.tensor(4.0)}
    weights = {"conv1_1": 0.2, "conv3_1": 0.3, "conv5_1": 0.5}
    js = C.style_cost(per_layer, weights)
    assert float(js) == pytest.approx(0.2 * 2.0 + 0.3 * 0.5 + 0.5 * 4.0)
    assert float(C.total_cost(torch.tensor(3.0), js, 10.0, 40.0)) == pytest.approx(10 * 3.0 + 40 * float(js))
    with pytest.raises(ValueError, match="weights for"):
        C.style_cost(per_layer, {"conv1_1": 1.0, "conv3_1": 1.0})
    with pytest.raises(ValueError, match="weights for"):
        C.style_cost({"conv1_1": torch.tensor(1.0)}, {"conv2_1": 1.0})
    with pytest.raises(ValueError, match="at least one layer"):
        C.style_cost({}, {})


def test_gradient_of_the_content_cost_is_the_difference_of_activations():
    a_c = torch.from_numpy(_rng(8).normal(size=(1, 4, 3, 3)).astype(np.float32))
    a_g = torch.from_numpy(_rng(9).normal(size=(1, 4, 3, 3)).astype(np.float32)).requires_grad_(True)
    C.content_cost(a_c, a_g).backward()
    torch.testing.assert_close(a_g.grad, (a_g - a_c).detach())  # ∂/∂a_G ½Σ(a_C − a_G)² = a_G − a_C


def test_gradient_of_the_layer_style_cost_is_gatys_closed_form():
    """Gatys et al. 2016, eq. 6: ∂E_l/∂F_ij = 1/(N² M²) · ((F)ᵀ (G − A))ᵀ_ij (times the ReLU mask, absent here
    because the activations themselves are the inputs), with F the [N, M] = [n_C, n_H·n_W] feature matrix of the
    generated image, G = F Fᵀ its Gram matrix and A the style image's. Derivation: J = 1/(4N²M²) Σ (FFᵀ − A)², so
    dJ = 1/(4N²M²) · 2 Σ (G − A) ∘ (dF Fᵀ + F dFᵀ) = 1/(N²M²) ⟨(G − A) F, dF⟩ since G − A is symmetric."""
    n_c, n_h, n_w = 6, 4, 5
    a_s = torch.from_numpy(np.abs(_rng(10).normal(size=(n_c, n_h, n_w))).astype(np.float32))
    a_g = torch.from_numpy(np.abs(_rng(11).normal(size=(n_c, n_h, n_w))).astype(np.float32)).requires_grad_(True)
    C.layer_style_cost(a_s, a_g).backward()
    f = a_g.detach().double().reshape(n_c, n_h * n_w)
    g, a = f @ f.T, (lambda s: s @ s.T)(a_s.double().reshape(n_c, n_h * n_w))
    n, m = n_c, n_h * n_w
    closed = ((f.T @ (g - a)).T / (n**2 * m**2)).reshape(n_c, n_h, n_w)
    torch.testing.assert_close(a_g.grad.double(), closed, rtol=1e-4, atol=1e-9)
    # the style image gets no gradient through its (fixed) Gram matrix in the transfer; here it simply has none
    assert a_s.grad is None


# ============================================================================================== vgg


@pytest.fixture(scope="module")
def features() -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return vgg.build_features()


def _expected_names(features: nn.Sequential) -> list[str]:
    """Gatys et al.'s names read off torchvision's module types: conv{block}_{n} for the n-th ReLU of a block
    (":pre" for its convolution), pool{block} for the pooling that ends it."""
    names, block, n = [], 1, 0
    for m in features:
        if isinstance(m, nn.Conv2d):
            n += 1
            names.append(f"conv{block}_{n}:pre")
        elif isinstance(m, nn.ReLU):
            names.append(f"conv{block}_{n}")
        elif isinstance(m, nn.MaxPool2d):
            names.append(f"pool{block}")
            block, n = block + 1, 0
        else:
            names.append(type(m).__name__)
    return names


def test_module_names_match_torchvision_vgg19_features_index_by_index(features):
    tv = torchvision.models.vgg19(weights=None).features
    assert len(vgg.MODULE_NAMES) == len(tv) == 37
    assert list(vgg.MODULE_NAMES) == _expected_names(tv)
    for name, module in zip(vgg.MODULE_NAMES, tv):
        kind = nn.Conv2d if name.endswith(":pre") else nn.MaxPool2d if name.startswith("pool") else nn.ReLU
        assert isinstance(module, kind), name
    assert len(vgg.LAYERS) == 16 and vgg.LAYERS[0] == "conv1_1" and vgg.LAYERS[-1] == "conv5_4"
    assert all(isinstance(tv[vgg.MODULE_NAMES.index(layer)], nn.ReLU) for layer in vgg.LAYERS)
    assert set(vgg.STYLE_LAYERS_GATYS) | {vgg.CONTENT_LAYER_GATYS} <= set(vgg.LAYERS)
    assert [type(m) for m in features] == [type(m) for m in tv]  # build_features is that network


def test_channels_and_downsampling_match_the_network(features):
    pools = 0
    for name, module in zip(vgg.MODULE_NAMES, features):
        if isinstance(module, nn.Conv2d):
            layer = name.removesuffix(":pre")
            assert vgg.channels(layer) == module.out_channels, layer
            assert vgg.downsampling(layer) == 2**pools, layer
        if isinstance(module, nn.MaxPool2d):
            pools += 1
    with pytest.raises(ValueError, match="unknown VGG-19 layer 'conv6_1'"):
        vgg.channels("conv6_1")
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        vgg.downsampling("pool1")  # a pooling is not an activation layer


def _run_by_hand(features: nn.Sequential, x: torch.Tensor, last: str, pooling: str = "max") -> dict[str, torch.Tensor]:
    """torchvision's features run module by module, up to ``last``, with torch.nn.functional on the
    ImageNet-normalised input."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    h = (x - mean) / std
    out = {}
    for name, m in zip(_expected_names(features), features):
        if isinstance(m, nn.Conv2d):
            h = F.conv2d(h, m.weight, m.bias, stride=1, padding=1)
        elif isinstance(m, nn.ReLU):
            h = F.relu(h)
        else:
            h = F.max_pool2d(h, 2, 2) if pooling == "max" else F.avg_pool2d(h, 2, 2)
        out[name] = h
        if name == last:
            break
    return out


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_extractor_outputs_equal_running_the_features_by_hand(features, pooling):
    layers = ["conv1_1", "conv2_2", "conv3_1", "conv4_2"]
    x = torch.rand(2, 3, 32, 24, generator=torch.Generator().manual_seed(0))
    ext = vgg.Extractor(features, layers, pooling=pooling)
    with torch.no_grad():
        got = ext(x)
        ref = _run_by_hand(features, x, "conv4_2", pooling)
    assert list(got) == layers
    for name in layers:
        assert got[name].shape == (2, vgg.channels(name), 32 // vgg.downsampling(name), 24 // vgg.downsampling(name))
        torch.testing.assert_close(got[name], ref[name], rtol=1e-4, atol=1e-5)
    pools = [type(m) for m in ext.body if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert pools == [nn.MaxPool2d if pooling == "max" else nn.AvgPool2d] * 3
    if pooling == "avg":  # average pooling really changes the deeper activations
        assert not torch.allclose(got["conv4_2"], _run_by_hand(features, x, "conv4_2", "max")["conv4_2"].detach())


def test_extractor_is_truncated_after_the_deepest_layer(features):
    ext = vgg.Extractor(features, ["conv3_1", "conv1_2"])
    assert len(ext.body) == _expected_names(features).index("conv3_1") + 1 == 12
    assert ext.depth == 5  # conv1_1, conv1_2, conv2_1, conv2_2, conv3_1
    assert isinstance(ext.body[-1], nn.ReLU)
    assert vgg.Extractor(features, ["conv5_4"]).depth == 16 and vgg.Extractor(features, ["conv1_1"]).depth == 1
    ran = []
    hooks = [m.register_forward_hook(lambda *_: ran.append(1)) for m in ext.body]
    with torch.no_grad():
        out = ext(torch.rand(1, 3, 16, 16))
    for h in hooks:
        h.remove()
    assert len(ran) == 12 and set(out) == {"conv1_2", "conv3_1"}


def test_extractor_weights_need_no_gradients_but_the_input_gets_one(features):
    ext = vgg.Extractor(features, ["conv2_1"])
    assert all(not p.requires_grad for p in ext.parameters())
    assert not ext.training
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    ext(x)["conv2_1"].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in ext.parameters())


def test_extractor_never_changes_the_source_features(features):
    before = {k: v.clone() for k, v in features.state_dict().items()}
    grads = [p.requires_grad for p in features.parameters()]
    types = [type(m) for m in features]
    inplace = [m.inplace for m in features if isinstance(m, nn.ReLU)]
    ext = vgg.Extractor(features, ["conv3_1", "conv1_1"], pooling="avg").to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    out = ext(x.contiguous(memory_format=torch.channels_last))
    (out["conv3_1"].sum() + out["conv1_1"].sum()).backward()
    with torch.no_grad():
        for p in ext.parameters():
            p.add_(1.0)  # even changing the extractor's weights leaves the source alone
    after = features.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert all(p.is_contiguous() for p in features.parameters())  # not moved to channels_last
    assert [p.requires_grad for p in features.parameters()] == grads
    assert [type(m) for m in features] == types  # max pooling still in the source
    assert [m.inplace for m in features if isinstance(m, nn.ReLU)] == inplace
    assert all(p.grad is None for p in features.parameters())


def test_extractor_rejects_bad_arguments(features):
    with pytest.raises(ValueError, match="at least one layer"):
        vgg.Extractor(features, [])
    with pytest.raises(ValueError, match="unknown VGG-19 layer 'conv1_1:pre'"):
        vgg.Extractor(features, ["conv1_1:pre"])
    with pytest.raises(ValueError, match="pooling"):
        vgg.Extractor(features, ["conv1_1"], pooling="min")
    with pytest.raises(ValueError, match="37 feature modules"):
        vgg.Extractor(features[:10], ["conv1_1"])
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        vgg.Extractor(features, ["conv1_1"])(torch.rand(3, 16, 16))


# ================================================================================ weights, offline


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty torch hub cache, and features()' per-process cache empty (restored afterwards)."""
    monkeypatch.setattr(T, "_cache", {})
    return go_offline(monkeypatch, tmp_path / "torch")


@pytest.fixture(scope="module")
def seeded_state() -> dict[str, torch.Tensor]:
    """A seeded random VGG-19 "file": only the features.* tensors (the classifier would add 470 MB)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        net = vgg.build_features()
    return {f"features.{k}": v.clone() for k, v in net.state_dict().items()}


def _save(state: dict[str, torch.Tensor]):
    path = pretrained.hub_path(vgg.URL)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and "\n" not in message


def test_hub_path_is_torchvisions_vgg19_file_under_torch_home(offline, tmp_path):
    assert pretrained.hub_path(vgg.URL) == tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    assert vgg.URL == torchvision.models.VGG19_Weights.IMAGENET1K_V1.url


def test_missing_weights_raise_one_sentence_fast_and_leave_no_file(offline):
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as info:
        vgg.load_features()
    assert time.perf_counter() - start < 10
    assert offline.count > 0  # the real download code ran and hit the (refused) network
    message = str(info.value)
    assert _one_sentence(message), message
    assert "VGG-19" in message and "could not be downloaded" in message
    path = pretrained.hub_path(vgg.URL)
    assert not path.exists()
    assert not path.parent.exists() or list(path.parent.iterdir()) == []  # no partial download left behind


def test_no_download_allowed_touches_no_network(offline):
    with pytest.raises(WeightsUnavailable) as info:
        vgg.load_features(allow_download=False)
    assert offline.count == 0
    message = str(info.value)
    assert _one_sentence(message) and "VGG-19" in message and "not on this machine" in message


def test_cached_state_dict_is_loaded_exactly_without_network(offline, seeded_state):
    _save(seeded_state)
    net = vgg.load_features()
    loaded = net.state_dict()
    assert sorted(f"features.{k}" for k in loaded) == sorted(seeded_state)
    for key, tensor in loaded.items():
        assert torch.equal(tensor, seeded_state[f"features.{key}"]), key
    assert offline.count == 0
    # a full torchvision file (classifier included) is read the same way: only features.* are used
    extra = {**seeded_state, "classifier.6.bias": torch.zeros(1000)}
    _save(extra)
    assert torch.equal(vgg.load_features(allow_download=False)[0].weight, seeded_state["features.0.weight"])


def test_corrupt_cached_file_raises_and_is_left_in_place(offline):
    path = pretrained.hub_path(vgg.URL)
    path.parent.mkdir(parents=True)
    junk = bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8).tolist())
    path.write_bytes(junk)
    with pytest.raises(WeightsUnavailable) as info:
        vgg.load_features()
    message = str(info.value)
    assert _one_sentence(message) and "cannot be read" in message and str(path) in message
    assert path.read_bytes() == junk  # left for the user to delete, not silently replaced
    assert offline.count == 0  # a cached file is never re-downloaded


def test_file_with_other_shapes_raises(offline, seeded_state):
    wrong = dict(seeded_state)
    wrong["features.0.weight"] = torch.zeros(32, 3, 3, 3)  # 32 filters where VGG-19 has 64
    _save(wrong)
    with pytest.raises(WeightsUnavailable) as info:
        vgg.load_features()
    assert _one_sentence(str(info.value)) and "does not hold" in str(info.value)
    missing = {k: v for k, v in seeded_state.items() if k != "features.34.bias"}
    _save(missing)
    with pytest.raises(WeightsUnavailable, match="does not hold"):
        vgg.load_features()
    assert offline.count == 0


def test_features_falls_back_to_seeded_random_weights_with_the_sentence(offline, monkeypatch, tmp_path):
    with pytest.raises(WeightsUnavailable) as info:
        vgg.load_features()
    torch.manual_seed(99)
    expected_next = torch.rand(3)
    torch.manual_seed(99)
    net, is_pretrained, note = T.features()
    assert is_pretrained is False
    assert note == str(info.value) and _one_sentence(note) and "VGG-19" in note  # never presented as pretrained
    assert torch.equal(torch.rand(3), expected_next)  # the seeded init leaves the global random stream alone
    assert [type(m) for m in net] == [type(m) for m in torchvision.models.vgg19(weights=None).features]
    assert T.features()[0] is net  # cached per process
    # another cache folder (another key) builds again: the same seeded random weights, so runs compare
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch2"))
    other, is_pretrained2, _ = T.features()
    assert other is not net and is_pretrained2 is False
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))


def test_features_uses_the_cached_weights_once_they_appear(offline, seeded_state):
    net, is_pretrained, note = T.features()
    assert not is_pretrained and note
    _save(seeded_state)
    net2, is_pretrained2, note2 = T.features()  # a later call tries again once the file is there
    assert is_pretrained2 is True and note2 == ""
    for key, tensor in net2.state_dict().items():
        assert torch.equal(tensor, seeded_state[f"features.{key}"]), key
    assert T.features()[0] is net2


@pytest.mark.parametrize("channels_last", [False, True])
def test_gram_gradient_equals_autograd_of_the_plain_product_in_either_layout(channels_last):
    """gram_matrix has its own backward ((dG + dGᵀ)·F, in F's layout): it must equal autograd of F·Fᵀ."""
    gen = torch.Generator().manual_seed(7)
    a = torch.randn(2, 6, 5, 7, generator=gen, dtype=torch.float64)
    if channels_last:
        a = a.contiguous(memory_format=torch.channels_last)
    weights = torch.randn(2, 6, 6, generator=gen, dtype=torch.float64)
    ours = a.clone().requires_grad_(True)
    (C.gram_matrix(ours).double() * weights).sum().backward()
    ref = a.clone().requires_grad_(True)
    f = ref.float().flatten(-2)
    ((f @ f.transpose(-1, -2)).double() * weights).sum().backward()
    torch.testing.assert_close(ours.grad, ref.grad, rtol=1e-5, atol=1e-5)
    assert ours.grad.is_contiguous(memory_format=torch.channels_last) == channels_last
