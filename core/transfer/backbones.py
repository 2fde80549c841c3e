"""ImageNet backbones for transfer learning: build, load through the torch hub cache, cut into blocks, freeze.

A :class:`TransferNet` is ``normalise → body → global average pooling → Linear(F, K)``: the body is the
convolutional part of a torchvision classifier cut into named blocks, the head a new linear layer for
the learner's K classes (a softmax regression on the pooled features). Inputs are [0, 1] RGB images
[B, 3, S, S]; the network normalises them with the ImageNet mean and standard deviation itself, so the
exported model takes plain pixels.

Backbones (all with torchvision's ``IMAGENET1K_V1`` weights):

- ResNet-18 — He et al. 2016, "Deep Residual Learning for Image Recognition" (5 blocks: stem, layer1–4);
- MobileNetV3-Small — Howard et al. 2019, "Searching for MobileNetV3" (13 blocks: ``features_0``–``features_12``);
- VGG-16 — Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image
  Recognition" (5 blocks of 3×3 convolutions; the last max-pool and the 4096-wide classifier are left out).

"Fine-tune the last N blocks" trains the head and the last N blocks (N = 0 is feature extraction: the
whole body frozen). Frozen blocks stay in eval mode during training, so their batch-norm statistics
stay ImageNet's. :func:`load_state` raises :class:`core.pretrained.WeightsUnavailable` when the weights
cannot be had; :func:`build_net` with ``state=None`` is the same network with torchvision's random
initialisation — the from-scratch run, never passed off as pretrained.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from core import pretrained
from core.pretrained import WeightsUnavailable as WeightsUnavailable  # re-exported for the page

MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation
STD = (0.229, 0.224, 0.225)
FALLBACK = "the page offers the from-scratch run only"

Blocks = list[tuple[str, nn.Module]]


def _resnet_blocks(m: nn.Module) -> Blocks:
    stem = nn.Sequential(OrderedDict(conv1=m.conv1, bn1=m.bn1, relu=m.relu, maxpool=m.maxpool))
    return [("stem", stem), ("layer1", m.layer1), ("layer2", m.layer2), ("layer3", m.layer3), ("layer4", m.layer4)]


def _mobilenet_blocks(m: nn.Module) -> Blocks:
    return [(f"features_{i}", block) for i, block in enumerate(m.features)]


def _vgg_blocks(m: nn.Module) -> Blocks:
    """VGG's ``features`` cut after each max-pool; the last pool is dropped (a finer grid for the CAM)."""
    blocks: Blocks = []
    current: list[nn.Module] = []
    for layer in m.features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append((f"block{len(blocks) + 1}", nn.Sequential(*current)))
            current = []
    last_name, last = blocks[-1]
    blocks[-1] = (last_name, nn.Sequential(*list(last)[:-1]))
    return blocks


@dataclass(frozen=True)
class BackboneSpec(pretrained.TorchvisionWeights):
    """One ImageNet classifier whose convolutional part serves as the body."""

    name: str
    builder: Callable[..., nn.Module]  # torchvision builder, e.g. torchvision.models.resnet18
    weights: torchvision.models.WeightsEnum
    cut: Callable[[nn.Module], Blocks]  # the built classifier -> its body's named blocks
    features: int  # channels of the body's last feature map (the head's input size)
    description: str

    @property
    def what(self) -> str:
        return f"the ImageNet weights of {self.name}"

    @property
    def imagenet_top1(self) -> float:
        return float(self.weights.meta["_metrics"]["ImageNet-1K"]["acc@1"])

    @property
    def parameters_m(self) -> float:
        return float(self.weights.meta["num_params"]) / 1e6


TVM = torchvision.models
BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec("ResNet-18", TVM.resnet18, TVM.ResNet18_Weights.IMAGENET1K_V1, _resnet_blocks, 512,
                     "18 layers in residual blocks; a good default"),
        BackboneSpec("MobileNetV3-Small", TVM.mobilenet_v3_small, TVM.MobileNet_V3_Small_Weights.IMAGENET1K_V1,
                     _mobilenet_blocks, 576, "built for phones: the fastest and the smallest download"),
        BackboneSpec("VGG-16", TVM.vgg16, TVM.VGG16_Weights.IMAGENET1K_V1, _vgg_blocks, 512,
                     "the course's VGG: 13 convolutions of 3×3; slow on a CPU and a 528 MB download"),
    )
}
DEFAULT_BACKBONE = "ResNet-18"


def spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}") from None


def weights_cached(name: str) -> bool:
    """True when the ImageNet weights are already in the torch hub cache (no download needed)."""
    return spec(name).cached


def load_state(name: str, *, allow_download: bool = True) -> dict[str, torch.Tensor]:
    """The backbone's ImageNet state dict from the torch hub cache (downloaded there first when missing).

    Checked against the architecture before it is returned. Raises :class:`WeightsUnavailable` with one
    sentence the page can show.
    """
    s = spec(name)
    state = pretrained.load_state_dict(s.url, what=s.what, fallback=FALLBACK, allow_download=allow_download)
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        skeleton = s.builder()
    pretrained.load_into(skeleton, state, url=s.url, what=s.what, fallback=FALLBACK, assign=True)
    return state


def block_names(name: str) -> tuple[str, ...]:
    """The names of the backbone's blocks, first to last (without building weights)."""
    with torch.device("meta"):
        return tuple(n for n, _ in spec(name).cut(spec(name).builder()))


class TransferNet(nn.Module):
    """``normalise → body → global average pooling → head`` for [0, 1] RGB input [B, 3, S, S] → logits [B, K].

    ``trainable_blocks``: how many of the body's last blocks learn (the rest are frozen: no gradients,
    eval mode even while the net trains); ``None`` = all of them. ``augment``: a module applied to the
    input batch in training mode only (see :mod:`core.transfer.augment`).
    """

    def __init__(self, blocks: Blocks, n_features: int, n_classes: int, *, trainable_blocks: int | None = None,
                 augment: nn.Module | None = None) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
        n = len(blocks)
        trainable = n if trainable_blocks is None else trainable_blocks
        if not 0 <= trainable <= n:
            raise ValueError(f"trainable_blocks must be between 0 and {n}, got {trainable_blocks}")
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.body = nn.Sequential(OrderedDict(blocks))
        self.head = nn.Linear(n_features, n_classes)
        self.augment = augment
        self.frozen = n - trainable
        for block in list(self.body)[: self.frozen]:
            block.requires_grad_(False)
        self.train()

    @property
    def frozen_blocks(self) -> list[nn.Module]:
        return list(self.body)[: self.frozen]

    def train(self, mode: bool = True) -> TransferNet:
        super().train(mode)
        for block in self.frozen_blocks:
            block.eval()  # frozen means frozen: ImageNet's batch-norm statistics too
        return self

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The body's last activations A [B, F, h, w] for input [B, 3, S, S] in [0, 1]."""
        return self.body((x - self.mean) / self.std)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled features [B, F] — what the head sees."""
        return self.feature_map(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment is not None and self.training:
            x = self.augment(x)
        return self.head(self.pooled(x))  # (B, K)


def build_net(name: str, n_classes: int, *, state: dict[str, torch.Tensor] | None = None,
              trainable_blocks: int | None = None, augment: nn.Module | None = None) -> TransferNet:
    """A :class:`TransferNet` on the named backbone: ImageNet weights from ``state`` (see :func:`load_state`)
    or, with ``state=None``, torchvision's random initialisation (for the from-scratch run)."""
    s = spec(name)
    classifier = s.builder()
    if state is not None:
        pretrained.load_into(classifier, state, url=s.url, what=s.what, fallback=FALLBACK)
    return TransferNet(s.cut(classifier), s.features, n_classes, trainable_blocks=trainable_blocks, augment=augment)


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
