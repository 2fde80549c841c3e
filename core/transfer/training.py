"""Transfer learning as a tracked job: the pretrained network against the same network from scratch.

:func:`run_training` is a job function. It prepares the learner's classes (:mod:`core.transfer.data`),
then trains up to two lanes with the shared :func:`core.experiment.train_tracked`, each a tracked run
in the *transfer* experiment with the same comparison tag:

- **pretrained** — the backbone with its ImageNet weights: *feature extraction* (the body frozen, only
  the new head learns) or *fine-tuning* (the head and the last N blocks learn; the blocks at
  ``lr·backbone_lr_factor`` so the ImageNet features are adjusted, not overwritten);
- **from scratch** — the same architecture from torchvision's random initialisation, every layer
  learning at ``lr``: what the pretrained weights are worth on this little data.

Feature extraction without augmentation takes the fast path: the frozen body runs once over every
image, and the head is trained on those pooled features (the same model, since a frozen body gives the
same features every epoch). Each finished lane logs its dev confusion matrix (as an image and as
JSON) and the labels with its run. A NaN loss fails its lane with the message and the other lane goes
on; Stop ends the job with what was trained so far (KILLED runs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import tracking
from core.device import pick_device, seed_everything
from core.experiment import FINISHED, Lane, train_tracked
from core.jobs import JobContext
from core.optimizers import Adam
from core.plots.static import confusion_png
from core.training import TrainingCancelled
from core.transfer import backbones as B
from core.transfer.augment import Augment, AugmentSpec
from core.transfer.data import TransferData, prepare

PAGE = "transfer"
FEATURES, FINE_TUNE = "feature extraction", "fine-tuning"
METHODS = {
    FEATURES: "the ImageNet body is frozen; only a new last layer learns (fast, needs few images)",
    FINE_TUNE: "the last blocks of the body learn too, more slowly than the new layer (better with more images)",
}
SCRATCH = "from scratch"
IMAGE_SIZES = (64, 96, 128, 160, 224)
FEATURE_BATCH = 64


@dataclass(frozen=True)
class TransferConfig:
    """One training on the Transfer learning page (also the tracked runs' params)."""

    backbone: str = B.DEFAULT_BACKBONE
    method: str = FEATURES
    fine_tune_blocks: int = 1  # with fine-tuning: how many of the body's last blocks learn
    pretrained: bool = True  # False: the ImageNet weights are not here, only the from-scratch run
    from_scratch: bool = True  # also train the same network from random weights, as the comparison
    image_size: int = 128
    epochs: int = 8
    lr: float = 1e-3
    backbone_lr_factor: float = 0.1
    batch_size: int = 16
    dev_fraction: float = 0.25
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    classes: tuple[str, ...] = ()  # the class names, in output order (filled in from the class set)
    images_per_class: tuple[int, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        B.spec(self.backbone)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: choose one of {', '.join(METHODS)}")
        n_blocks = len(B.block_names(self.backbone))
        if self.method == FINE_TUNE and not 1 <= self.fine_tune_blocks <= n_blocks:
            raise ValueError(f"{self.backbone} has {n_blocks} blocks: fine-tune between 1 and {n_blocks} of them")
        if not self.pretrained and not self.from_scratch:
            raise ValueError("without the ImageNet weights only the from-scratch run is possible: turn it on")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if not 1 <= self.epochs <= 200:
            raise ValueError(f"epochs must be between 1 and 200, got {self.epochs}")
        if not 0 < self.lr <= 10:
            raise ValueError(f"the learning rate must be in (0, 10], got {self.lr}")
        if not 0 < self.backbone_lr_factor <= 1:
            raise ValueError(f"the backbone's learning-rate factor must be in (0, 1], got {self.backbone_lr_factor}")
        if not 1 <= self.batch_size <= 1024:
            raise ValueError(f"the mini-batch size must be between 1 and 1024, got {self.batch_size}")
        if not 0.05 <= self.dev_fraction <= 0.5:
            raise ValueError(f"the dev fraction must be between 0.05 and 0.5, got {self.dev_fraction}")

    @property
    def trainable_blocks(self) -> int:
        return 0 if self.method == FEATURES else self.fine_tune_blocks

    @property
    def pretrained_lane(self) -> str:
        if self.method == FEATURES:
            return "pretrained, frozen"
        return f"pretrained, last {self.fine_tune_blocks} block{'s' if self.fine_tune_blocks != 1 else ''} tuned"

    @property
    def lanes(self) -> tuple[str, ...]:
        return tuple(n for n, on in ((self.pretrained_lane, self.pretrained), (SCRATCH, self.from_scratch)) if on)


@dataclass
class LaneResult:
    """One trained network and what it did on the dev set."""

    lane: Lane
    model: B.TransferNet | None = None  # on the CPU, in eval mode (FINISHED lanes only)
    confusion: np.ndarray | None = None  # [K, K]: rows = true class, columns = predicted
    dev_probabilities: np.ndarray | None = None  # [n_dev, K]
    trainable: int = 0  # parameters that learned


@dataclass
class TransferResult:
    """What a finished (or stopped) job leaves for the page."""

    cfg: TransferConfig
    names: tuple[str, ...]
    sizes: dict[str, int]
    device: str
    comparison: str
    dev_labels: np.ndarray  # [n_dev]
    dev_index: list[tuple[int, int]]  # (class, image number) of each dev example
    dev_pictures: list[Image.Image] = field(default_factory=list, repr=False)  # the dev examples as given
    lanes: dict[str, LaneResult] = field(default_factory=dict)

    @property
    def best(self) -> LaneResult | None:
        """The lane to predict with: the finished one with the best dev accuracy (pretrained on ties)."""
        done = [r for r in self.lanes.values() if r.lane.status == FINISHED and r.model is not None]
        return max(done, key=lambda r: r.lane.dev_accuracy or 0.0, default=None)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """[K, K] counts: row = true class, column = predicted class."""
    out = np.zeros((k, k), dtype=np.int64)
    np.add.at(out, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return out


@torch.no_grad()
def pooled_features(model: B.TransferNet, X: torch.Tensor, device: torch.device, ctx: JobContext | None = None,
                    span: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """The frozen body's pooled features [N, F] of images [N, 3, S, S] (eval mode, in batches)."""
    model.eval()
    out = []
    for i in range(0, len(X), FEATURE_BATCH):
        if ctx is not None:
            ctx.check_cancel()
            ctx.report(span[0] + (span[1] - span[0]) * i / max(len(X), 1), f"features of image {i + 1} of {len(X)}")
        out.append(model.pooled(X[i : i + FEATURE_BATCH].to(device)).float())
    return torch.cat(out) if out else torch.zeros(0, model.head.in_features, device=device)


@torch.no_grad()
def probabilities(model: nn.Module, X: torch.Tensor, device: torch.device) -> np.ndarray:
    model.eval()
    parts = [model(X[i : i + FEATURE_BATCH].to(device)).float().softmax(1).cpu() for i in range(0, len(X), FEATURE_BATCH)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0))


def _optimizer(model: B.TransferNet, cfg: TransferConfig, pretrained: bool) -> torch.optim.Optimizer:
    """Adam (the course's update): the head at ``lr``; tuned pretrained blocks at ``lr·factor``; scratch all at ``lr``."""
    body = [p for p in model.body.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": list(model.head.parameters()), "lr": cfg.lr}]
    if body:
        groups.append({"params": body, "lr": cfg.lr * (cfg.backbone_lr_factor if pretrained else 1.0)})
    return Adam(groups, lr=cfg.lr)


def _train_lane(ctx: JobContext | None, cfg: TransferConfig, data: TransferData, name: str,
                state: Mapping[str, torch.Tensor] | None, comparison: str, span: tuple[float, float],
                device: torch.device) -> LaneResult:
    pretrained = state is not None
    seed_everything(cfg.seed)
    augment = Augment(cfg.augment, seed=cfg.seed) if cfg.augment.any else None
    model = B.build_net(cfg.backbone, len(data.names), state=dict(state) if pretrained else None,
                        trainable_blocks=cfg.trainable_blocks if pretrained else None, augment=augment).to(device)
    result = LaneResult(Lane(name), trainable=B.trainable_parameters(model))
    cached = pretrained and cfg.trainable_blocks == 0 and augment is None
    tags = {tracking.TAG_COMPARISON: comparison, "lane": name, "weights": "ImageNet" if pretrained else "random",
            "trained": "head on cached features" if cached else ("head" if pretrained and cfg.trainable_blocks == 0
                                                                   else "head and body")}
    train, dev = data.train, data.dev
    lo, hi = span
    if cached:  # the frozen body gives the same features every epoch: compute them once
        mid = lo + 0.3 * (hi - lo)
        train = (pooled_features(model, data.train[0], device, ctx, (lo, mid)), data.train[1])
        dev = (pooled_features(model, data.dev[0], device, ctx, (mid, mid)), data.dev[1])
        lo = mid

    trained = model.head if cached else model

    def finish(run: tracking.TrackedRun, _: nn.Module, history) -> None:
        probs = probabilities(trained, dev[0], device)  # cached: the head on the dev features computed above
        result.dev_probabilities = probs
        result.confusion = confusion_matrix(data.dev[1].numpy(), probs.argmax(1), len(data.names))
        run.log_image(confusion_png(result.confusion, list(data.names), title=f"{name}: dev confusion matrix"),
                      "confusion_matrix")
        run.log_text(json.dumps({"classes": list(data.names), "confusion": result.confusion.tolist()}),
                     "confusion_matrix.json")
        run.log_text("\n".join(data.names) + "\n", "labels.txt")
        run.log_metrics({"trainable_parameters": float(result.trainable)}, history.steps_done)

    try:
        result.lane = train_tracked(ctx, PAGE, cfg, trained, train, _optimizer(model, cfg, pretrained), name=name,
                                    dev=dev, epochs=cfg.epochs, batch_size=cfg.batch_size, run_name=name, tags=tags,
                                    progress_span=(lo, hi), device=device, seed=cfg.seed, finish=finish,
                                    figure_title=f"{cfg.backbone} {name}")
    except TrainingCancelled as exc:
        result.lane = getattr(exc, "lane", result.lane)
        raise
    if result.lane.status == FINISHED:
        model.augment = None  # predictions and exports never augment
        result.model = model.to("cpu").eval()
    return result


def run_training(ctx: JobContext | None, cfg: TransferConfig, *, classes: Mapping[str, Sequence[Image.Image]],
                 state: Mapping[str, torch.Tensor] | None = None, device: torch.device | None = None) -> TransferResult:
    """Train the lanes of ``cfg`` on ``classes`` (name -> images); a job function (bind the keywords first).

    ``state``: the backbone's ImageNet state dict (:func:`core.transfer.backbones.load_state`), needed
    when ``cfg.pretrained``. A Stop raises :class:`core.training.TrainingCancelled` with ``.result``
    holding the lanes done so far.
    """
    if cfg.pretrained and state is None:
        raise ValueError("the pretrained run needs the backbone's ImageNet weights")
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, "preparing the images")
    data = prepare(classes, cfg.image_size, cfg.dev_fraction, cfg.seed)
    names = data.names
    cfg = replace(cfg, classes=names, images_per_class=tuple(len(v) for v in classes.values()))  # logged as params
    comparison = f"transfer-{time.strftime('%Y%m%d-%H%M%S')}-{cfg.seed}"
    pictures = list(classes.values())
    result = TransferResult(cfg, names, data.sizes, device.type, comparison, data.dev[1].numpy(), data.dev_index,
                            [pictures[c][i] for c, i in data.dev_index])
    lanes = cfg.lanes
    for i, name in enumerate(lanes):
        span = (i / len(lanes), (i + 1) / len(lanes))
        try:
            result.lanes[name] = _train_lane(ctx, cfg, data, name, state if name != SCRATCH else None, comparison,
                                             span, device)
        except TrainingCancelled as exc:
            if getattr(exc, "lane", None) is not None:
                result.lanes[name] = LaneResult(exc.lane)
            exc.result = result
            raise
    return result

