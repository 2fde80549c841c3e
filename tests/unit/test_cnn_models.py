"""Classic CNN architectures and their anatomy, against references: torchvision's models (parameter
counts), torch's FlopCounterMode (multiply-adds), conv_output_size (shapes), nn.Conv2d (bottleneck
parameters) and the closed-form numbers of the course (the 1×1 bottleneck example)."""

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.cnn import anatomy, conv_output_size
from core.cnn import models as M
from core.plots import cnn_arch


def _tv_count(name: str) -> int:
    with torch.device("meta"):  # instantiated without weights: nothing allocated, nothing downloaded
        return sum(p.numel() for p in getattr(torchvision.models, name)(weights=None).parameters())


@pytest.mark.parametrize(("builder", "tv", "expected"), [
    (M.alexnet, "alexnet", 61_100_840),
    (M.vgg16, "vgg16", 138_357_544),
    (M.resnet18, "resnet18", 11_689_512),
    (M.resnet34, "resnet34", 21_797_672),
    (M.resnet50, "resnet50", 25_557_032),
])
def test_full_size_parameter_counts_equal_torchvision(builder, tv, expected):
    with torch.device("meta"):
        ours = anatomy.count_params(builder())
    assert ours == _tv_count(tv) == expected
    assert anatomy.torchvision_params(tv) == expected


def test_full_size_models_have_torchvision_layer_shapes():
    """Not just the total: every parameter tensor has torchvision's shape, in the same order."""
    for ours, tv in ((M.alexnet, "alexnet"), (M.resnet50, "resnet50")):
        with torch.device("meta"):
            a = [tuple(p.shape) for p in ours().parameters()]
            b = [tuple(p.shape) for p in getattr(torchvision.models, tv)(weights=None).parameters()]
        assert a == b


def test_registry_full_size_matches_its_torchvision_name():
    for spec in M.ARCHITECTURES.values():
        if spec.torchvision:
            with torch.device("meta"):
                assert anatomy.count_params(spec.model(False)) == _tv_count(spec.torchvision)
    assert list(M.ARCHITECTURES) == ["LeNet-5", "AlexNet", "VGG-16", "ResNet-18", "ResNet-34", "ResNet-50",
                                     "ResNet-20 (CIFAR)", "ResNet-56 (CIFAR)", "Inception (small)"]


SMALL = {
    "small_vgg": lambda c: M.small_vgg(in_channels=c),
    "alexnet": lambda c: M.alexnet(10, c, small=True),
    "vgg16": lambda c: M.vgg16(10, c, small=True),
    "resnet18": lambda c: M.resnet18(10, c, small=True),
    "resnet50": lambda c: M.resnet50(10, c, small=True),
    "resnet20": lambda c: M.cifar_resnet(20, in_channels=c),
    "plain20": lambda c: M.cifar_resnet(20, in_channels=c, plain=True),
    "inception": lambda c: M.small_inception(in_channels=c),
}


@pytest.mark.parametrize("name", list(SMALL))
@pytest.mark.parametrize("channels", [1, 3])
def test_small_variants_give_logits_at_28_and_32_px(name, channels):
    torch.manual_seed(0)
    model = SMALL[name](channels)
    for side in (28, 32):
        out = model(torch.randn(2, channels, side, side))
        assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("side", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_lenet_keeps_the_original_shapes(side, channels):
    model = M.lenet5(in_channels=channels, input_size=side)
    assert model(torch.randn(2, channels, side, side)).shape == (2, 10)
    shapes = {r["name"]: r["output shape"] for r in anatomy.layer_table(model, (channels, side, side))}
    assert shapes["C1"] == "6×28×28" and shapes["S2"] == "6×14×14" and shapes["C3"] == "16×10×10" and shapes["S4"] == "16×5×5"
    assert isinstance(model[0], nn.Conv2d) and model[0].padding == ((2, 2) if side == 28 else (0, 0))
    # (25·C + 1)·6 + 2,416 + 48,120 + 10,164 + 850: 61,706 for one channel
    assert anatomy.count_params(model) == (25 * channels + 1) * 6 + 2_416 + 48_120 + 10_164 + 850


def test_every_registered_architecture_builds_both_sizes():
    for spec in M.ARCHITECTURES.values():
        for small in (False, True):
            with torch.device("meta"):
                out = spec.model(small)(torch.zeros(2, *spec.input_shape(small), device="meta"))
            assert out.shape == (2, spec.classes(small)), spec.name
        assert spec.paper and spec.blurb


def test_bad_arguments_are_value_errors():
    for bad in (lambda: M.cifar_resnet(21), lambda: M.cifar_resnet(4), lambda: M.lenet5(activation="swish"),
                lambda: M.small_vgg(width=0), lambda: M.alexnet(n_classes=0), lambda: M.InceptionModule(8, 0, 1, 1, 1, 1, 1)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        anatomy.layer_table(M.lenet5(), (1, 32))
    with pytest.raises(ValueError, match="cannot take"):
        anatomy.layer_table(M.lenet5(input_size=32), (1, 8, 8))


def _conv_shapes_by_formula(model, input_shape):
    """Walk the table; each conv/pool's spatial size from conv_output_size on the previous shape."""
    rows = anatomy.trace(model, input_shape)
    mods = dict(model.named_modules())
    checked = 0
    for prev, row in zip(rows, rows[1:], strict=False):
        m = mods.get(row.name)
        if isinstance(m, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d) and len(prev.shape) == 3:
            k, s, p = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride, m.padding))
            side = conv_output_size(prev.shape[1], k, p, s)
            assert row.shape[1:] == (side, side), row
            checked += 1
    return checked


def test_conv_output_shapes_follow_the_formula():
    # sequential models: each conv/pool reads the previous row's output
    with torch.device("meta"):
        for model, shape in ((M.alexnet(), (3, 224, 224)), (M.vgg16(), (3, 224, 224)), (M.lenet5(input_size=28), (1, 28, 28)),
                             (M.alexnet(10, 1, small=True), (1, 28, 28)), (M.small_vgg(), (1, 28, 28))):
            assert _conv_shapes_by_formula(model, shape) >= 4
    rows = {r.name: r.shape for r in anatomy.trace(M.resnet50(), (3, 224, 224))}
    assert rows["conv1"] == (64, conv_output_size(224, 7, 3, 2), conv_output_size(224, 7, 3, 2))  # 112
    assert rows["maxpool"] == (64, 56, 56)
    assert rows["layer2.0.conv2"][1] == conv_output_size(56, 3, 1, 2) and rows["layer4.2.conv3"] == (2048, 7, 7)


@pytest.mark.parametrize(("build", "shape"), [
    (lambda: M.lenet5(), (1, 32, 32)),
    (lambda: M.alexnet(), (3, 224, 224)),
    (lambda: M.vgg16(), (3, 224, 224)),
    (lambda: M.resnet50(), (3, 224, 224)),
    (lambda: M.cifar_resnet(20), (3, 32, 32)),
    (lambda: M.inception_3a(), (192, 28, 28)),
    (lambda: M.small_inception(), (1, 28, 28)),
])
def test_multiply_adds_equal_half_the_flop_counter(build, shape):
    with torch.device("meta"):
        model = build()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape, device="meta"))
    rows = anatomy.layer_table(model, shape)
    assert anatomy.total_macs(model, shape) == counter.get_total_flops() // 2
    assert sum(r["multiply-adds"] for r in rows) == counter.get_total_flops() // 2
    assert sum(r["parameters"] for r in rows) == anatomy.count_params(model)
    blocks = anatomy.layer_table(model, shape, "blocks")
    assert sum(r["multiply-adds"] for r in blocks) == counter.get_total_flops() // 2
    assert sum(r["parameters"] for r in blocks) == anatomy.count_params(model)


def test_multiply_adds_on_a_real_cpu_model():
    model = M.small_vgg()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    assert anatomy.total_macs(model, (1, 28, 28)) == counter.get_total_flops() // 2
    assert model.training  # tracing leaves the mode as it was


def test_layer_table_columns_and_texts():
    rows = anatomy.layer_table(M.lenet5(input_size=28), (1, 28, 28))
    assert list(rows[0]) == ["name", "layer", "output shape", "parameters", "multiply-adds"]
    conv = rows[1]
    assert conv["layer"] == "Conv 5×5, s1, p2" and conv["output shape"] == "6×28×28" and conv["parameters"] == 156
    assert conv["multiply-adds"] == 6 * 28 * 28 * 25
    assert rows[-1]["layer"] == "FC 84→10" and rows[-1]["output shape"] == "10"
    with torch.device("meta"):
        blocks = anatomy.layer_table(M.resnet18(), (3, 224, 224), "blocks")
    texts = {r["name"]: r["layer"] for r in blocks}
    assert texts["layer1.0"] == "Basic block 3×3, 3×3 + identity"
    assert texts["layer2.0"] == "Basic block 3×3, 3×3, s2 + 1×1 projection"


def test_resnet20_is_the_paper_size():
    n = anatomy.count_params(M.cifar_resnet(20))
    assert n == pytest.approx(0.27e6, rel=0.01)
    assert anatomy.count_params(M.cifar_resnet(56)) == pytest.approx(0.85e6, rel=0.01)
    depth = sum(isinstance(m, nn.Conv2d | nn.Linear) for m in M.cifar_resnet(56).modules())
    assert depth == 56  # 6n + 2 weighted layers, no projection convolutions


def test_plain_network_has_no_skip_connections():
    torch.manual_seed(0)
    res, plain = M.cifar_resnet(20), M.cifar_resnet(20, plain=True)
    plain.load_state_dict(res.state_dict())  # option-A shortcuts have no weights: same parameters
    assert anatomy.count_params(plain) == anatomy.count_params(res)
    res.eval()
    plain.eval()
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(res(x), plain(x))
    blocks = [m for m in plain.modules() if isinstance(m, M.BasicBlock)]
    assert len(blocks) == 9 and all(b.plain and b.downsample is None for b in blocks)
    assert not any(isinstance(m, M.ShortcutA) for m in plain.modules())
    assert sum(isinstance(m, M.ShortcutA) for m in res.modules()) == 2  # where stages 2 and 3 change shape
    # a residual block adds its input: with the residual branch zeroed it passes x through (ReLU(x) = x ≥ 0)
    block = M.BasicBlock(4, 4).eval()
    nn.init.zeros_(block.bn2.weight)
    x = torch.rand(1, 4, 6, 6)
    assert torch.allclose(block(x), x)
    plain_block = M.BasicBlock(4, 4, plain=True).eval()
    nn.init.zeros_(plain_block.bn2.weight)
    assert torch.count_nonzero(plain_block(x)) == 0


def test_shortcut_a_pads_channels_with_zeros():
    s = M.ShortcutA(16, 32, 2)
    x = torch.randn(1, 16, 8, 8)
    y = s(x)
    assert y.shape == (1, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2]) and not y[:, :8].any() and not y[:, 24:].any()


def test_inception_module_concatenates_its_branches():
    mod = M.InceptionModule(*M.GOOGLENET_3A)
    assert mod.out_channels == 64 + 128 + 32 + 32 == 256
    with torch.device("meta"):
        assert M.InceptionModule(*M.GOOGLENET_3A)(torch.zeros(1, 192, 28, 28, device="meta")).shape == (1, 256, 28, 28)
    small = M.InceptionModule(8, 3, 2, 5, 1, 4, 6)
    assert small(torch.randn(2, 8, 9, 9)).shape == (2, 3 + 5 + 4 + 6, 9, 9)
    # weights of GoogLeNet 3a written out branch by branch: 1×1; 1×1 → 3×3; 1×1 → 5×5; pool → 1×1
    weights = sum(m.weight.numel() for m in mod.modules() if isinstance(m, nn.Conv2d))
    assert weights == 192 * 64 + (192 * 96 + 9 * 96 * 128) + (192 * 16 + 25 * 16 * 32) + 192 * 32


def test_bottleneck_cost_matches_the_course_and_torch():
    c = anatomy.bottleneck_cost()
    assert c["direct_multiplies"] == 120_422_400
    assert c["reduce_multiplies"] == 2_408_448 and c["conv_multiplies"] == 10_035_200
    assert c["bottleneck_multiplies"] == 12_443_648
    assert c["ratio"] == pytest.approx(120_422_400 / 12_443_648)
    direct = nn.Conv2d(192, 32, 5, padding=2)
    reduce, conv = nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)
    assert c["direct_params"] == anatomy.count_params(direct)
    assert c["bottleneck_params"] == anatomy.count_params(reduce) + anatomy.count_params(conv)
    x = torch.zeros(1, 192, 28, 28)
    with FlopCounterMode(display=False) as fc:
        direct(x)
    assert fc.get_total_flops() // 2 == c["direct_multiplies"]
    with FlopCounterMode(display=False) as fc:
        conv(reduce(x))
    assert fc.get_total_flops() // 2 == c["bottleneck_multiplies"]
    other = anatomy.bottleneck_cost(7, 9, 64, 3, 10, 4)
    assert other["direct_multiplies"] == 7 * 9 * 10 * 3 * 3 * 64
    for bad in ({"h": 0}, {"mid": -1}, {"f": 2.5}, {"c_in": 0}):
        with pytest.raises(ValueError):
            anatomy.bottleneck_cost(**bad)


def test_figures_build():
    with torch.device("meta"):
        model = M.resnet50()
    flow = anatomy.shape_flow(model, (3, 224, 224))
    assert [la.shape for la in flow][:3] == [(3, 224, 224), (64, 112, 112), (64, 56, 56)]
    assert flow[-1].shape == (1000,) and sum(la.kind == "block" for la in flow) == 16
    fig = cnn_arch.shape_flow_figure(flow)
    assert len(fig.layout.shapes) == 3 * len(flow) and len(fig.layout.annotations) == len(flow)
    bars = cnn_arch.layer_costs(anatomy.trace(model, (3, 224, 224), "blocks"))
    assert sum(len(t.x) for t in bars.data) > 0
    chart = cnn_arch.bottleneck_chart(anatomy.bottleneck_cost())
    assert {t.name for t in chart.data if t.name} == {"5×5 convolution", "1×1 reduction"}
    assert cnn_arch.human(61_100_840) == "61.1 M" and cnn_arch.human(950) == "950"
