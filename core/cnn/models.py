"""Classic convolutional architectures, full size and with small-input variants for 28–32 px data.

Every builder returns an ``nn.Module`` whose ``forward(x)`` maps images ``[B, C, H, W]`` to logits
``[B, n_classes]``. The full-size AlexNet, VGG-16 and ResNet-18/34/50 are built layer for layer like
torchvision's models, so their parameter counts are the same (61,100,840 / 138,357,544 / 11,689,512 /
21,797,672 / 25,557,032 with 1000 classes). ``ARCHITECTURES`` lists them by display name for the page.

Build full-size models inside ``with torch.device("meta"):`` to look at their shapes and costs without
allocating weights (see ``core.cnn.anatomy``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.cnn.conv import conv_output_size

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def _check(n_classes: int, in_channels: int) -> None:
    if n_classes < 1 or in_channels < 1:
        raise ValueError(f"n_classes and in_channels must be at least 1, got {n_classes} and {in_channels}")


def _kaiming(model: nn.Module) -> nn.Module:
    """He initialisation for the convolutions, unit scale for batch norm (as torchvision's ResNet)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


# --------------------------------------------------------------------------------------------- LeNet-5


def lenet5(in_channels: int = 1, n_classes: int = 10, input_size: int = 32, activation: str = "tanh") -> nn.Sequential:
    """LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document
    recognition"): conv 5×5 → 6, average pool 2, conv 5×5 → 16, average pool 2, FC 120, FC 84, FC n.

    The original reads 32×32 images; a smaller input (28×28 MNIST) gets zero padding on the first
    convolution so that every later shape matches the original (28 + 2·2 = 32). ``activation``: "tanh"
    (the paper's squashing function), "relu" or "sigmoid". The model only accepts ``input_size`` pixels.
    """
    _check(n_classes, in_channels)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if input_size < 14:
        raise ValueError(f"LeNet-5 needs images of at least 14 pixels, got {input_size}")
    pad = max(0, (32 - input_size + 1) // 2)  # 28 → 2, 32 → 0
    side = conv_output_size(input_size, 5, pad) // 2
    side = conv_output_size(side, 5) // 2  # 5 for 28–32 px input
    act = _ACTIVATIONS[activation]
    return nn.Sequential(OrderedDict([  # the paper's layer names; model[0] still indexes as usual
        ("C1", nn.Conv2d(in_channels, 6, 5, padding=pad)), ("act1", act()), ("S2", nn.AvgPool2d(2, 2)),
        ("C3", nn.Conv2d(6, 16, 5)), ("act3", act()), ("S4", nn.AvgPool2d(2, 2)),
        ("flatten", nn.Flatten()),
        ("C5", nn.Linear(16 * side * side, 120)), ("act5", act()),  # a 5×5 convolution over 5×5 maps = FC
        ("F6", nn.Linear(120, 84)), ("act6", act()),
        ("output", nn.Linear(84, n_classes)),
    ]))


# --------------------------------------------------------------------------------------------- AlexNet


def _alex_features(in_channels: int, convs: Sequence[tuple[int, int, int, int]], pool: tuple[int, int]) -> nn.Sequential:
    """AlexNet's five convolutions ``(out channels, kernel, stride, padding)``, each with ReLU, and max
    pooling (``(window, stride)``) after the first, the second and the fifth."""
    layers: list[nn.Module] = []
    c = in_channels
    for i, (out, k, stride, padding) in enumerate(convs):
        layers += [nn.Conv2d(c, out, k, stride=stride, padding=padding), nn.ReLU(inplace=True)]
        if i in (0, 1, 4):
            layers.append(nn.MaxPool2d(*pool))
        c = out
    return nn.Sequential(*layers)


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep convolutional
    neural networks"), in the single-tower form torchvision uses: five convolutions with ReLU and
    overlapping max pooling, then three fully connected layers with dropout. Local response
    normalisation is left out, as in torchvision.
    """

    def __init__(self, n_classes: int = 1000, in_channels: int = 3, small: bool = False) -> None:
        super().__init__()
        _check(n_classes, in_channels)
        if small:  # 28–32 px: 5×5 then 3×3 convolutions at stride 1, 2×2 pooling, half the widths
            self.features = _alex_features(in_channels, ((32, 5, 1, 2), (96, 5, 1, 2), (192, 3, 1, 1), (128, 3, 1, 1),
                                                         (128, 3, 1, 1)), pool=(2, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
            flat, hidden = 128 * 2 * 2, 512
        else:
            self.features = _alex_features(in_channels, ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1),
                                                         (256, 3, 1, 1)), pool=(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            flat, hidden = 256 * 6 * 6, 4096
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (B, 256, 6, 6) full size
        return self.classifier(torch.flatten(x, 1))


def alexnet(n_classes: int = 1000, in_channels: int = 3, small: bool = False) -> AlexNet:
    """AlexNet (Krizhevsky et al. 2012). Full size: 224×224 input, 61,100,840 parameters with 1000
    classes (= torchvision's ``alexnet``). ``small=True``: the same five-conv, three-FC layout for
    28–32 px images with half the channels."""
    return AlexNet(n_classes, in_channels, small)


# ------------------------------------------------------------------------------------------------- VGG

_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _vgg_features(cfg: Sequence[int | str], in_channels: int, batch_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(c, int(v), 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        c = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG (Simonyan & Zisserman 2015, "Very deep convolutional networks for large-scale image
    recognition"): stacks of 3×3 convolutions at stride 1 with padding 1, a 2×2 max pool after each
    block, then three fully connected layers."""

    def __init__(self, features: nn.Sequential, pool: int, flat: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            nn.Linear(flat, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (B, 512, 7, 7) full size
        return self.classifier(torch.flatten(x, 1))


def vgg16(n_classes: int = 1000, in_channels: int = 3, small: bool = False) -> VGG:
    """VGG-16, configuration D of Simonyan & Zisserman 2015: 13 convolutions 3×3 in five blocks
    (64, 128, 256, 512, 512 channels) and three FC layers. Full size: 224×224 input, 138,357,544
    parameters with 1000 classes (= torchvision's ``vgg16``). ``small=True``: the same 13 convolutions
    with a quarter of the channels, four pools instead of five (28 px would shrink to nothing), global
    average pooling and FC layers of 256 units."""
    _check(n_classes, in_channels)
    if small:
        cfg = [v if v == "M" else int(v) // 4 for v in _VGG16[:-1]]  # drop the fifth pool
        return _kaiming(VGG(_vgg_features(cfg, in_channels), 1, 128, 256, n_classes))
    return VGG(_vgg_features(_VGG16, in_channels), 7, 512 * 7 * 7, 4096, n_classes)


def small_vgg(in_channels: int = 1, n_classes: int = 10, width: int = 16, batch_norm: bool = True) -> nn.Sequential:
    """A small VGG-style network for 28–32 px images (after Simonyan & Zisserman 2015): three blocks of
    two 3×3 convolutions (``width``, 2·``width``, 4·``width`` channels) each followed by a 2×2 max pool,
    then global average pooling and one FC layer. Batch norm after each convolution (as torchvision's
    ``vgg*_bn``) makes it train in a few epochs; ``batch_norm=False`` gives the plain VGG recipe."""
    _check(n_classes, in_channels)
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    cfg = (width, width, "M", 2 * width, 2 * width, "M", 4 * width, 4 * width, "M")
    return _kaiming(nn.Sequential(
        _vgg_features(cfg, in_channels, batch_norm), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, n_classes),
    ))


# ---------------------------------------------------------------------------------------------- ResNet


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class ShortcutA(nn.Module):
    """The parameter-free shortcut of He et al. 2016 (option A): identity, subsampled by ``stride``
    and zero-padded with extra channels when the block changes shape."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.c_out - self.c_in
        if extra:
            x = F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))  # zero channels on both sides
        return x


class _Residual(nn.Module):
    """What the residual blocks share: ReLU(F(x) + shortcut(x)), or ReLU(F(x)) when ``plain``."""

    relu: nn.Module
    plain: bool
    downsample: nn.Module | None

    def _join(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.plain:
            return self.relu(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class BasicBlock(_Residual):
    """Residual block of two 3×3 convolutions (He, Zhang, Ren & Sun 2016, "Deep residual learning for
    image recognition", Fig. 2 / Fig. 5 left): out = ReLU(F(x) + shortcut(x)), with
    F = BN∘conv3×3∘ReLU∘BN∘conv3×3. ``shortcut``: ``None`` for the identity, a module (1×1 projection
    or ``ShortcutA``) when the shape changes. ``plain=True`` drops the addition altogether (a plain
    network block, for the degradation experiment)."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1, shortcut: nn.Module | None = None, plain: bool = False) -> None:
        super().__init__()
        self.conv1 = _conv3x3(c_in, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.plain = plain
        self.downsample = None if plain else shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self._join(self.bn2(self.conv2(out)), x)


class Bottleneck(_Residual):
    """Bottleneck residual block (He et al. 2016, Fig. 5 right): 1×1 reduce → 3×3 → 1×1 expand (×4),
    out = ReLU(F(x) + shortcut(x)). The stride sits on the 3×3 convolution, as in torchvision
    ("ResNet v1.5")."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, shortcut: nn.Module | None = None, plain: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.plain = plain
        self.downsample = None if plain else shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self._join(self.bn3(self.conv3(out)), x)


class ResNet(nn.Module):
    """ResNet for ImageNet (He et al. 2016, Table 1): 7×7/2 stem and 3×3/2 max pool, four stages of
    residual blocks (64, 128, 256, 512 planes; the first block of stages 2–4 halves the size through a
    strided convolution and a 1×1 projection shortcut), global average pooling and one FC layer.
    ``small=True`` replaces the stem by a 3×3/1 convolution without max pool for 28–32 px images."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int], n_classes: int = 1000,
                 in_channels: int = 3, small: bool = False, width: int = 64) -> None:
        super().__init__()
        _check(n_classes, in_channels)
        self.c = width
        if small:
            self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._stage(block, width, layers[0], 1)
        self.layer2 = self._stage(block, 2 * width, layers[1], 2)
        self.layer3 = self._stage(block, 4 * width, layers[2], 2)
        self.layer4 = self._stage(block, 8 * width, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, n_classes)
        _kaiming(self)

    def _stage(self, block: type[BasicBlock] | type[Bottleneck], planes: int, n: int, stride: int) -> nn.Sequential:
        out = planes * block.expansion
        shortcut = None
        if stride != 1 or self.c != out:
            shortcut = nn.Sequential(nn.Conv2d(self.c, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        blocks = [block(self.c, planes, stride, shortcut)]
        self.c = out
        blocks += [block(out, planes) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, 56, 56) full size
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 512·expansion, 7, 7)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(n_classes: int = 1000, in_channels: int = 3, small: bool = False) -> ResNet:
    """ResNet-18 (He et al. 2016): basic blocks [2, 2, 2, 2]; 11,689,512 parameters full size."""
    return ResNet(BasicBlock, (2, 2, 2, 2), n_classes, in_channels, small)


def resnet34(n_classes: int = 1000, in_channels: int = 3, small: bool = False) -> ResNet:
    """ResNet-34 (He et al. 2016): basic blocks [3, 4, 6, 3]; 21,797,672 parameters full size."""
    return ResNet(BasicBlock, (3, 4, 6, 3), n_classes, in_channels, small)


def resnet50(n_classes: int = 1000, in_channels: int = 3, small: bool = False) -> ResNet:
    """ResNet-50 (He et al. 2016): bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters full size."""
    return ResNet(Bottleneck, (3, 4, 6, 3), n_classes, in_channels, small)


class CifarResNet(nn.Module):
    """The CIFAR-10 ResNets of He et al. 2016, §4.2: a 3×3 convolution with 16 filters, three stages of
    n basic blocks on 32×32, 16×16 and 8×8 maps (16, 32, 64 filters; stride 2 starts stages 2 and 3),
    global average pooling and one FC layer: 6n + 2 weighted layers. Shortcuts are identities, with
    zero-padded extra channels where the shape changes (option A, no parameters). ``plain=True`` builds
    the same stack without any shortcut (the paper's plain baseline), batch norm kept."""

    def __init__(self, depth: int, n_classes: int = 10, in_channels: int = 3, plain: bool = False, width: int = 16) -> None:
        super().__init__()
        _check(n_classes, in_channels)
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width}")
        n = (depth - 2) // 6
        self.depth, self.plain = depth, plain
        self.conv1 = _conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        stages, c = [], width
        for i, planes in enumerate((width, 2 * width, 4 * width)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(n):
                s = stride if j == 0 else 1
                short = ShortcutA(c, planes, s) if (s != 1 or c != planes) else None
                blocks.append(BasicBlock(c, planes, s, short, plain=plain))
                c = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, n_classes)
        _kaiming(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (B, 16, 32, 32)
        x = self.layer3(self.layer2(self.layer1(x)))  # (B, 64, 8, 8)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def cifar_resnet(depth: int, n_classes: int = 10, in_channels: int = 3, plain: bool = False, width: int = 16) -> CifarResNet:
    """ResNet-``depth`` for CIFAR-style 32×32 (or 28×28) images, He et al. 2016 §4.2; depth = 6n + 2.
    ResNet-20 has about 0.27 M parameters. ``plain=True``: the same network with every skip
    connection removed (batch norm kept), for the plain-vs-residual degradation experiment."""
    return CifarResNet(depth, n_classes, in_channels, plain, width)


# ------------------------------------------------------------------------------------------- Inception


def _conv_relu(c_in: int, c_out: int, k: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InceptionModule(nn.Module):
    """Inception module with dimension reductions (Szegedy et al. 2015, "Going deeper with
    convolutions", Fig. 2b): four parallel branches on the same input, concatenated along channels —
    a 1×1 convolution (``c1``); a 1×1 bottleneck to ``c3_reduce`` then a 3×3 (``c3``); a 1×1 bottleneck
    to ``c5_reduce`` then a 5×5 (``c5``); a 3×3/1 max pool then a 1×1 projection (``pool_proj``).
    Every convolution keeps the spatial size and is followed by ReLU (``batch_norm=True`` inserts batch
    norm before it). Output: ``[B, c1 + c3 + c5 + pool_proj, H, W]``."""

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int,
                 batch_norm: bool = False) -> None:
        super().__init__()
        if min(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj) < 1:
            raise ValueError("every channel count of an inception module must be at least 1")
        self.branch1 = _conv_relu(in_channels, c1, 1, batch_norm)
        self.branch3 = nn.Sequential(_conv_relu(in_channels, c3_reduce, 1, batch_norm), _conv_relu(c3_reduce, c3, 3, batch_norm))
        self.branch5 = nn.Sequential(_conv_relu(in_channels, c5_reduce, 1, batch_norm), _conv_relu(c5_reduce, c5, 5, batch_norm))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv_relu(in_channels, pool_proj, 1, batch_norm))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)


GOOGLENET_3A = (192, 64, 96, 128, 16, 32, 32)  # in, 1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool proj (on 28×28)


def inception_3a(n_classes: int = 1000) -> nn.Sequential:
    """GoogLeNet's first inception module, 3a (Szegedy et al. 2015, Table 1), alone on its real input
    ``[B, 192, 28, 28]`` → 256 channels, then global average pooling and an FC layer so that it returns
    logits. Shows the full-size costs of the 1×1 bottlenecks."""
    _check(n_classes, 1)
    module = InceptionModule(*GOOGLENET_3A)
    return nn.Sequential(module, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(module.out_channels, n_classes))


def small_inception(in_channels: int = 1, n_classes: int = 10) -> nn.Sequential:
    """A small GoogLeNet-style network for 28–32 px images (after Szegedy et al. 2015): a 3×3 stem with
    32 filters, two inception modules (→ 64 and → 128 channels) each followed by a 2×2 max pool, global
    average pooling and one FC layer. Batch norm in every convolution so it trains in a few epochs."""
    _check(n_classes, in_channels)
    return _kaiming(nn.Sequential(
        _conv_relu(in_channels, 32, 3, True),
        InceptionModule(32, 16, 16, 24, 4, 8, 16, batch_norm=True), nn.MaxPool2d(2, 2),  # → 64 channels
        InceptionModule(64, 32, 32, 48, 8, 16, 32, batch_norm=True), nn.MaxPool2d(2, 2),  # → 128 channels
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, n_classes),
    ))


# ------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ArchSpec:
    """One architecture of the page. ``build(n_classes, in_channels, small)`` makes the model;
    ``full_input`` / ``small_input`` are the (C, H, W) it is shown with; ``torchvision`` names the
    ``torchvision.models`` function with the same layers (None when there is none)."""

    name: str
    build: Callable[..., nn.Module]
    full_input: tuple[int, int, int]
    small_input: tuple[int, int, int]
    paper: str
    torchvision: str | None
    blurb: str
    full_classes: int = 1000
    small_classes: int = 10
    small_note: str = ""

    def input_shape(self, small: bool) -> tuple[int, int, int]:
        return self.small_input if small else self.full_input

    def classes(self, small: bool) -> int:
        return self.small_classes if small else self.full_classes

    def model(self, small: bool) -> nn.Module:
        """The model for the chosen size, with its input's channels and its number of classes."""
        return self.build(self.classes(small), self.input_shape(small)[0], small)


_HE = "He, Zhang, Ren & Sun (2016). Deep residual learning for image recognition. CVPR."

_RESNET_SMALL = "A 3×3 stride-1 first convolution and no max pool, so a 32×32 image keeps its size through the first stage."

def _imagenet(name: str, build: Callable[..., nn.Module], paper: str, blurb: str, small_note: str) -> ArchSpec:
    """An ImageNet network of the page (224×224 colour at full size, 32×32 small); its torchvision twin is
    ``name`` in lower case without the dash."""
    return ArchSpec(name, build, (3, 224, 224), (3, 32, 32), paper, name.lower().replace("-", ""), blurb,
                    small_note=small_note)


def _cifar_resnet(depth: int, blurb: str) -> ArchSpec:
    """A CIFAR ResNet of the page (no torchvision twin), shown small on a 28×28 grey image."""
    return ArchSpec(f"ResNet-{depth} (CIFAR)", lambda n_classes, in_channels, small: cifar_resnet(depth, n_classes, in_channels),
                    (3, 32, 32), (1, 28, 28), _HE, None, blurb, 10, 10,
                    "The same network on a 28×28 grey image: it ends in global average pooling, so any size works.")


ARCHITECTURES: dict[str, ArchSpec] = {
    "LeNet-5": ArchSpec(
        "LeNet-5", lambda n_classes, in_channels, small: lenet5(in_channels, n_classes, 28 if small else 32),
        (1, 32, 32), (1, 28, 28),
        "LeCun, Bottou, Bengio & Haffner (1998). Gradient-based learning applied to document recognition. Proc. IEEE.",
        None,
        "Two rounds of 5×5 convolution and average pooling shrink a digit to sixteen 5×5 maps, and three fully "
        "connected layers turn them into class scores.", 10, 10,
        "A 28×28 digit gets 2 pixels of zero padding in the first convolution, so every later shape is the original's."),
    **{spec.name: spec for spec in (
        _imagenet("AlexNet", alexnet, "Krizhevsky, Sutskever & Hinton (2012). ImageNet classification with deep "
                  "convolutional neural networks. NeurIPS.",
                  "A large 11×11 stride-4 first filter, ReLU, overlapping max pooling and dropout in two huge fully "
                  "connected layers, which hold most of its 61 M parameters.",
                  "5×5 and 3×3 convolutions at stride 1, 2×2 pooling and half the channels; FC layers of 512."),
        _imagenet("VGG-16", vgg16, "Simonyan & Zisserman (2015). Very deep convolutional networks for large-scale "
                  "image recognition. ICLR.",
                  "Only 3×3 convolutions and 2×2 pools, doubling the channels each time the size halves: simple and "
                  "uniform, but with 138 M parameters and about 15 G multiply-adds per image.",
                  "The same 13 convolutions with a quarter of the channels, four pools instead of five, global average "
                  "pooling and FC layers of 256."),
        _imagenet("ResNet-18", resnet18, _HE, "Eight basic residual blocks (two 3×3 convolutions plus a skip "
                  "connection) between a strided stem and global average pooling.", _RESNET_SMALL),
        _imagenet("ResNet-34", resnet34, _HE, "The same basic blocks as ResNet-18, sixteen of them: twice the depth, "
                  "still trainable thanks to the skip connections.", _RESNET_SMALL),
        _imagenet("ResNet-50", resnet50, _HE, "Sixteen bottleneck blocks (1×1 reduce, 3×3, 1×1 expand) make it deeper "
                  "than ResNet-34 for only a little more computation.", _RESNET_SMALL),
    )},
    **{f"ResNet-{depth} (CIFAR)": _cifar_resnet(depth, blurb) for depth, blurb in (
        (20, "The paper's small CIFAR-10 network: three stages of three basic blocks with 16, 32 and 64 filters and "
             "parameter-free identity shortcuts, about 0.27 M parameters."),
        (56, "The same recipe as ResNet-20 with nine blocks per stage: 56 layers, where a plain network of that depth "
             "already trains worse than a shallow one."),
    )},
    "Inception (small)": ArchSpec(
        "Inception (small)",
        lambda n_classes, in_channels, small: small_inception(in_channels, n_classes) if small else inception_3a(n_classes),
        (192, 28, 28), (1, 28, 28),
        "Szegedy et al. (2015). Going deeper with convolutions. CVPR.", None,
        "Inception modules run 1×1, 3×3 and 5×5 convolutions and a pool side by side and stack their outputs, "
        "with cheap 1×1 bottlenecks in front of the large filters; full size shows GoogLeNet's module 3a alone.",
        small_note="A 3×3 stem and two small inception modules (→ 64 and → 128 channels) with batch norm, each followed "
                   "by a 2×2 max pool."),
}
