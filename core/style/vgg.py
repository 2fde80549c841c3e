"""VGG-19's convolutional part as a feature extractor for style transfer (Simonyan & Zisserman 2015,
"Very Deep Convolutional Networks for Large-Scale Image Recognition").

Layers are named as in Gatys et al. 2016 ("Image Style Transfer Using Convolutional Neural
Networks"): ``conv{block}_{n}`` is the n-th 3×3 convolution of block 1–5 *after its ReLU* (the
activations a^[l] of the course), ``pool{block}`` the pooling that ends a block. The extractor
keeps only the layers up to the deepest one asked for, normalises its [0, 1] RGB input with the
ImageNet mean and standard deviation, can swap max pooling for average pooling (as Gatys et al.
suggest for smoother images), and never needs gradients of its weights.

The ImageNet weights are torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (548 MB, downloaded once into
the torch hub cache); :func:`load_features` raises :class:`core.pretrained.WeightsUnavailable` when
they cannot be had, and :func:`build_features` gives the same network with torchvision's random
initialisation for a caller that says so.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
import torchvision
from torch import nn

from core import pretrained

WEIGHTS = torchvision.models.VGG19_Weights.IMAGENET1K_V1
URL = WEIGHTS.url
WHAT = "the ImageNet weights of VGG-19"
MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation
STD = (0.229, 0.224, 0.225)

_BLOCKS = (2, 2, 4, 4, 4)  # convolutions per block in VGG-19
CHANNELS = {b: c for b, c in zip(range(1, 6), (64, 128, 256, 512, 512))}


def _layer_names() -> tuple[str, ...]:
    """Names of torchvision's ``vgg19().features`` modules, index by index (37 modules)."""
    names: list[str] = []
    for block, n in enumerate(_BLOCKS, start=1):
        for i in range(1, n + 1):
            names += [f"conv{block}_{i}:pre", f"conv{block}_{i}"]  # the conv, then its ReLU (the activation)
        names.append(f"pool{block}")
    return tuple(names)


MODULE_NAMES = _layer_names()
LAYERS: tuple[str, ...] = tuple(n for n in MODULE_NAMES if n.startswith("conv") and not n.endswith(":pre"))
STYLE_LAYERS_GATYS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYER_GATYS = "conv4_2"


def channels(layer: str) -> int:
    """n_C of a layer: 64, 128, 256, 512 or 512 by block."""
    check_layers([layer])
    return CHANNELS[int(layer[4])]


def downsampling(layer: str) -> int:
    """How many times smaller than the image a layer's grid is (1, 2, 4, 8 or 16)."""
    check_layers([layer])
    return 2 ** (int(layer[4]) - 1)


def check_layers(layers: Iterable[str]) -> None:
    unknown = [name for name in layers if name not in LAYERS]
    if unknown:
        raise ValueError(f"unknown VGG-19 layer {unknown[0]!r}: choose from {', '.join(LAYERS)}")


def build_features() -> nn.Sequential:
    """``torchvision.models.vgg19().features`` with torchvision's random initialisation (not pretrained).

    Built with torchvision's own ``make_layers`` and initialised as ``VGG.__init__`` does (Kaiming-normal
    convolutions, fan-out, zero biases), without allocating the 120-million-weight classifier.
    """
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["E"], batch_norm=False)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
    return features


def load_features(allow_download: bool = True) -> nn.Sequential:
    """VGG-19's features with the ImageNet weights from the torch hub cache (downloaded there when missing).

    Only the ``features.*`` tensors of the file are used (the classifier is not needed). Raises
    :class:`core.pretrained.WeightsUnavailable` with one sentence when the weights cannot be had.
    """
    fallback = "the page runs VGG-19 with random weights instead, which copies colours and fine texture but not brush strokes"
    state = pretrained.load_state_dict(URL, what=WHAT, fallback=fallback, allow_download=allow_download)
    features = build_features()
    own = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    pretrained.load_into(features, own, url=URL, what=WHAT, fallback=fallback)
    return features


class Extractor(nn.Module):
    """The activations a^[l] of the named layers for a batch of [0, 1] RGB images.

    ``features``: a VGG-19 ``features`` module (pretrained or not); it is copied up to the deepest
    layer in ``layers`` (nothing after it is ever run), with max pooling replaced by average pooling
    when ``pooling="avg"``, and its weights get ``requires_grad=False``.
    """

    def __init__(self, features: nn.Sequential, layers: Iterable[str], pooling: str = "max") -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))
        if not self.layers:
            raise ValueError("the extractor needs at least one layer")
        check_layers(self.layers)
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        if len(features) != len(MODULE_NAMES):
            raise ValueError(f"expected VGG-19's {len(MODULE_NAMES)} feature modules, got {len(features)}")
        last = max(MODULE_NAMES.index(name) for name in self.layers)
        body: list[nn.Module] = []
        for module in list(features)[: last + 1]:
            if isinstance(module, nn.MaxPool2d) and pooling == "avg":
                module = nn.AvgPool2d(kernel_size=2, stride=2)
            elif isinstance(module, nn.ReLU):
                module = nn.ReLU(inplace=False)  # the captured activation must not be overwritten later
            else:
                module = copy.deepcopy(module)  # the cached network is never moved or changed
            body.append(module)
        self.body = nn.Sequential(*body)
        self.names = MODULE_NAMES[: last + 1]
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @property
    def depth(self) -> int:
        """How many of VGG-19's 16 convolutions the extractor runs."""
        return sum(isinstance(m, nn.Conv2d) for m in self.body)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"the extractor needs RGB images [B, 3, H, W], got {tuple(x.shape)}")
        h = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for name, module in zip(self.names, self.body):
            h = module(h)
            if name in self.layers:
                out[name] = h
        return out
