"""Transfer learning as a tracked job: the pretrained network against the same network from scratch.

:func:`run_transfer` is a job function. Its config (:class:`TransferJob`) holds the settings and the
learner's pictures as plain arrays; the job prepares the classes (:mod:`core.transfer.data`), loads the
backbone's ImageNet weights itself from the torch hub cache (:func:`core.transfer.backbones.load_state`),
then trains up to two lanes as one comparison (:func:`core.experiment.run_comparison`), each a tracked
run in the *transfer* experiment with the comparison's tag:

- **pretrained** — the backbone with its ImageNet weights: *feature extraction* (the body frozen, only
  the new head learns) or *fine-tuning* (the head and the last N blocks learn; the blocks at
  ``lr·backbone_lr_factor`` so the ImageNet features are adjusted, not overwritten);
- **from scratch** — the same architecture from torchvision's random initialisation, every layer
  learning at ``lr``: what the pretrained weights are worth on this little data.

Feature extraction without augmentation takes the fast path: the frozen body runs once over every
image, and the head is trained on those pooled features (the same model, since a frozen body gives the
same features every epoch). Each finished lane logs its dev confusion matrix (as an image and as
JSON) and the labels with its run. A NaN loss fails its lane with the message and the other lane goes
on; Stop ends the job with what was trained so far (KILLED runs). The result is plain data (the lanes'
outcomes, confusion matrices, dev probabilities and run ids); :func:`load_network` rebuilds a lane's
trained network from its run for predictions, class activation maps and the export.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import tracking
from core.data.augment import AugmentSpec
from core.device import pick_device, seed_everything
from core.experiment import (
    FINISHED,
    KILLED,
    SKIPPED,
    Lane,
    LanePlan,
    LaneSlot,
    confusion_matrix,
    new_comparison,
    run_comparison,
    train_tracked,
)
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.optimizers import Adam
from core.settings import Settings, setting
from core.transfer import backbones as B
from core.transfer.augment import Augment
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
DEV_PICTURE_SIDE = 192  # the dev pictures the result keeps for the page are at most this large
CACHED = "head on cached features"  # the tracking.TAG_TRAINED tag of a feature-extraction lane on the fast path


@dataclass(frozen=True)
class TransferConfig(Settings):
    """One training on the Transfer learning page (also the tracked runs' params)."""

    backbone: str = setting(B.DEFAULT_BACKBONE, choices=B.BACKBONES, label="Pretrained network", name="the backbone",
                            labels=lambda n: f"{n} — {B.spec(n).description}")
    method: str = setting(FEATURES, choices=METHODS, widget="radio", label="How to use the pretrained network",
                          name="the method")
    # with fine-tuning: how many of the body's last blocks learn (at most the backbone's blocks: check())
    fine_tune_blocks: int = setting(1, lo=1, label="Blocks to fine-tune (from the top)", widget="slider",
                                    name="the blocks to fine-tune")
    pretrained: bool = True  # False: the ImageNet weights are not here, only the from-scratch run
    # also train the same network from random weights, as the comparison
    from_scratch: bool = setting(True, widget="checkbox", label="Also train it from scratch (the comparison)")
    image_size: int = setting(128, options=IMAGE_SIZES, label="Image size (pixels)", name="image size",
                              help="Pictures are scaled and centre-cropped to this square. ImageNet networks were "
                                   "trained at 224; 128 trains four times faster on a CPU.")
    epochs: int = setting(8, lo=1, hi=50, widget="slider", label="Epochs", name="epochs")
    lr: float = setting(1e-3, lo=1e-5, hi=10.0, fmt="%g", label="Learning rate α", name="the learning rate",
                        help="Adam for the new layer; fine-tuned blocks use α × 0.1, a from-scratch run α everywhere.")
    backbone_lr_factor: float = setting(0.1, lo=0.0, above=True, hi=1.0, label="Learning-rate factor of the body",
                                        name="the backbone's learning-rate factor")
    batch_size: int = setting(16, options=(4, 8, 16, 32, 64), label="Mini-batch size", name="the mini-batch size")
    dev_fraction: float = setting(0.25, lo=0.1, hi=0.5, step=0.05, widget="slider", label="Share kept as dev set",
                                  name="the dev fraction")
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    classes: tuple[str, ...] = ()  # the class names, in output order (filled in from the class set)
    images_per_class: tuple[int, ...] = ()
    seed: int = 0

    def check(self) -> None:
        n_blocks = len(B.block_names(self.backbone))
        if self.method == FINE_TUNE and self.fine_tune_blocks > n_blocks:
            raise ValueError(f"{self.backbone} has {n_blocks} blocks: fine-tune between 1 and {n_blocks} of them")
        if not self.pretrained and not self.from_scratch:
            raise ValueError("without the ImageNet weights only the from-scratch run is possible: turn it on")

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


@dataclass(frozen=True)
class TransferJob(Settings):
    """What the training job gets (plain data): the settings and the learner's pictures, class by class,
    as uint8 RGB arrays [H, W, 3] in the order of ``names``."""

    cfg: TransferConfig
    names: tuple[str, ...]
    pictures: tuple[tuple[np.ndarray, ...], ...] = field(repr=False)

    def check(self) -> None:
        if len(self.names) != len(self.pictures):
            raise ValueError(f"{len(self.names)} class names for {len(self.pictures)} classes of pictures")
        for images in self.pictures:
            for a in images:
                if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
                    raise ValueError(f"pictures must be uint8 RGB arrays [H, W, 3], got {a.dtype} {a.shape}")

    @classmethod
    def of(cls, cfg: TransferConfig, classes: Mapping[str, Sequence[Image.Image]]) -> TransferJob:
        """The job for a class set ``name -> PIL pictures`` (each picture copied as RGB pixels)."""
        return cls(cfg, tuple(classes), tuple(tuple(np.asarray(im.convert("RGB"), dtype=np.uint8).copy() for im in v)
                                              for v in classes.values()))

    def classes(self) -> dict[str, list[Image.Image]]:
        """The class set as PIL pictures again (the same pixels)."""
        return {name: [Image.fromarray(a) for a in images] for name, images in zip(self.names, self.pictures, strict=True)}


@dataclass
class TransferResult(Outcome):
    """What a finished (or stopped) job leaves for the page (plain data)."""

    cfg: TransferConfig
    names: tuple[str, ...]
    sizes: dict[str, int]
    device: str
    comparison: str
    dev_labels: np.ndarray  # [n_dev]
    dev_index: list[tuple[int, int]]  # (class, image number) of each dev example
    dev_pictures: list[np.ndarray] = field(default_factory=list, repr=False)  # uint8 RGB, at most DEV_PICTURE_SIDE
    # the lanes that ran, in order; each lane's ``outputs`` hold what it did on the dev set: "confusion"
    # [K, K] (rows = true class, columns = predicted; FINISHED lanes), "dev_probabilities" [n_dev, K] and
    # "trainable" (parameters that learned). Its trained network is in its run: :func:`load_network`.
    lanes: dict[str, Lane] = field(default_factory=dict)
    stopped: bool = False  # Stop was pressed: the lanes hold what was trained until then

    @property
    def best(self) -> Lane | None:
        """The lane to predict with: the finished one with the best dev accuracy (pretrained on ties)."""
        done = [lane for lane in self.lanes.values() if lane.status == FINISHED and lane.run_id is not None]
        return max(done, key=lambda lane: lane.dev_accuracy or 0.0, default=None)


def _dev_picture(image: np.ndarray) -> np.ndarray:
    """A dev picture for the page: as given, or shrunk to at most DEV_PICTURE_SIDE on its longer side."""
    if max(image.shape[:2]) <= DEV_PICTURE_SIDE:
        return image
    small = Image.fromarray(image)
    small.thumbnail((DEV_PICTURE_SIDE, DEV_PICTURE_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(small)


@torch.no_grad()
def pooled_features(model: B.TransferNet, X: torch.Tensor, device: torch.device, slot: LaneSlot | None = None,
                    span: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor | None:
    """The frozen body's pooled features [N, F] of images [N, 3, S, S] (eval mode, in batches); ``None``
    when Stop was pressed meanwhile (the progress moves over ``span`` of the ``slot``'s share)."""
    model.eval()
    out = []
    for i in range(0, len(X), FEATURE_BATCH):
        if slot is not None and slot.ctx is not None:
            if slot.ctx.cancel.cancelled:
                return None
            slot.report(span[0] + (span[1] - span[0]) * i / max(len(X), 1), f"features of image {i + 1} of {len(X)}")
        out.append(model.pooled(X[i : i + FEATURE_BATCH].to(device)).float())
    return torch.cat(out) if out else torch.zeros(0, model.head.in_features, device=device)


@torch.no_grad()
def probabilities(model: nn.Module, X: torch.Tensor, device: torch.device) -> np.ndarray:
    model.eval()
    parts = [model(X[i : i + FEATURE_BATCH].to(device)).float().softmax(1).cpu() for i in range(0, len(X), FEATURE_BATCH)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0))


def lane_optimizer(model: B.TransferNet, cfg: TransferConfig, pretrained: bool) -> torch.optim.Optimizer:
    """Adam (the course's update): the head at ``lr``; tuned pretrained blocks at ``lr·factor``; scratch all at ``lr``."""
    body = [p for p in model.body.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": list(model.head.parameters()), "lr": cfg.lr}]
    if body:
        groups.append({"params": body, "lr": cfg.lr * (cfg.backbone_lr_factor if pretrained else 1.0)})
    return Adam(groups, lr=cfg.lr)


def lane_network(cfg: TransferConfig, n_classes: int, state: Mapping[str, torch.Tensor] | None,
                 device: torch.device) -> tuple[B.TransferNet, bool]:
    """A lane's seeded network on ``device`` (pretrained with ``state``, else from scratch) and whether it
    trains on cached features (a frozen body without augmentation); the learning-rate finder sweeps the same."""
    pretrained = state is not None
    seed_everything(cfg.seed)
    augment = Augment(cfg.augment, seed=cfg.seed) if cfg.augment.any else None
    model = B.build_net(cfg.backbone, n_classes, state=dict(state) if pretrained else None,
                        trainable_blocks=cfg.trainable_blocks if pretrained else None, augment=augment).to(device)
    return model, pretrained and cfg.trainable_blocks == 0 and augment is None


def _train_lane(slot: LaneSlot, cfg: TransferConfig, data: TransferData, name: str,
                state: Mapping[str, torch.Tensor] | None, device: torch.device) -> Lane:
    """One lane of the comparison, as a tracked run; what it did on the dev set goes to its ``outputs``."""
    pretrained = state is not None
    model, cached = lane_network(cfg, len(data.names), state, device)
    outputs: dict[str, Any] = {"confusion": None, "dev_probabilities": None, "trainable": B.trainable_parameters(model)}
    tags = {tracking.TAG_VARIANT: name, tracking.TAG_WEIGHTS: "imagenet" if pretrained else "random",
            tracking.TAG_TRAINED: CACHED if cached else ("head" if pretrained and cfg.trainable_blocks == 0
                                                         else "head and body")}
    train, dev = data.train, data.dev
    if cached:  # the frozen body gives the same features every epoch: compute them once
        features = pooled_features(model, data.train[0], device, slot, (0.0, 0.3))
        dev_features = None if features is None else pooled_features(model, data.dev[0], device, slot, (0.3, 0.3))
        if features is None or dev_features is None:  # stopped before its run began
            return Lane(name, KILLED)
        train, dev = (features, data.train[1]), (dev_features, data.dev[1])
        lo, hi = slot.span
        slot = replace(slot, span=(lo + 0.3 * (hi - lo), hi))

    trained = model.head if cached else model

    def finish(run: tracking.TrackedRun, _: nn.Module, history) -> None:
        probs = probabilities(trained, dev[0], device)  # cached: the head on the dev features computed above
        confusion = confusion_matrix(data.dev[1], probs.argmax(1), len(data.names))
        outputs.update(dev_probabilities=probs, confusion=confusion)
        run.log_confusion(confusion, list(data.names), "confusion_matrix", title=f"{name}: dev confusion matrix")
        run.log_text(json.dumps({"classes": list(data.names), "confusion": confusion.tolist()}),
                     "confusion_matrix.json")
        run.log_text("\n".join(data.names) + "\n", "labels.txt")
        run.log_metrics({"trainable_parameters": float(outputs["trainable"])}, history.steps_done)

    lane = train_tracked(slot, PAGE, cfg, trained, train, lane_optimizer(model, cfg, pretrained), name=name,
                         dev=dev, epochs=cfg.epochs, batch_size=cfg.batch_size, run_name=name, tags=tags,
                         device=device, seed=cfg.seed, finish=finish, figure_title=f"{cfg.backbone} {name}")
    lane.outputs.update(outputs)
    return lane


def run_transfer(ctx: JobContext | None, job: TransferJob, *, state: Mapping[str, torch.Tensor] | None = None,
                 device: torch.device | None = None) -> TransferResult:
    """Train the lanes of ``job.cfg`` on ``job``'s pictures as one comparison (a job function).

    With ``cfg.pretrained`` the backbone's ImageNet weights come from the torch hub cache (downloaded
    there first when missing; :class:`core.pretrained.WeightsUnavailable` in one sentence when they
    cannot be had) unless ``state`` gives them. Returns the :class:`TransferResult` in every case:
    a diverged lane is FAILED with its sentence and the next one trains; after a Stop the result is
    ``stopped`` and holds the lanes trained so far.
    """
    cfg = job.cfg
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, "preparing the images")
    classes = job.classes()
    data = prepare(classes, cfg.image_size, cfg.dev_fraction, cfg.seed)
    if cfg.pretrained and state is None:
        if ctx is not None:
            ctx.report(0.0, f"loading the ImageNet weights of {cfg.backbone}")
        state = B.load_state(cfg.backbone)
    names = data.names
    cfg = replace(cfg, classes=names, images_per_class=tuple(len(v) for v in job.pictures))  # logged as params
    comparison = new_comparison("transfer")
    result = TransferResult(cfg, names, data.sizes, device.type, comparison, data.dev[1].numpy(), data.dev_index,
                            [_dev_picture(job.pictures[c][i]) for c, i in data.dev_index])

    def plan(name: str) -> LanePlan:
        lane_state = state if name != SCRATCH else None
        return LanePlan(name, lambda slot: _train_lane(slot, cfg, data, name, lane_state, device))

    lanes = run_comparison(ctx, [plan(n) for n in cfg.lanes], comparison=comparison)
    for lane in lanes.lanes:
        if lane.status != SKIPPED and lane.run_id is not None:  # the lanes that ran (each has its run)
            result.lanes[lane.name] = lane
    result.stopped = lanes.stopped
    return result


def load_network(run_id: str, user: User = LOCAL_USER) -> B.TransferNet:
    """The network a lane of :func:`run_transfer` trained, rebuilt from its run: the backbone and the
    classes from the params, the weights from the run (a feature-extraction lane saved its head only:
    its frozen body is the backbone's ImageNet weights, read again from the torch hub cache). On the
    CPU, in eval mode, without augmentation (predictions and exports never augment). ``ValueError``
    with a plain message when it cannot be rebuilt."""
    params, tags = tracking.run_params(run_id, user=user), tracking.run_tags(run_id, user=user)
    try:
        backbone, k = params["backbone"], len(json.loads(params["classes"]))
        B.spec(backbone)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError("this run did not record its backbone and classes (train it again)") from exc
    weights = tracking.saved_weights(run_id, user=user)
    if tags.get(tracking.TAG_TRAINED) == CACHED:
        try:
            body = B.load_state(backbone, allow_download=False)
        except B.WeightsUnavailable as exc:
            raise ValueError(f"its frozen body needs the ImageNet weights of {backbone}, which are no longer on "
                             "this machine (train it again)") from exc
        net = B.build_net(backbone, k, state=body, trainable_blocks=0)
        net.head.load_state_dict(weights)
    else:
        net = B.build_net(backbone, k)
        net.load_state_dict(weights)
    return net.eval()
