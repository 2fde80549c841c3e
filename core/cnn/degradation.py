"""Plain against residual networks at two depths (He et al., "Deep Residual Learning
for Image Recognition", CVPR 2016, §4.2): the deeper *plain* network reaches a higher
training error than the shallower one — not overfitting, an optimisation difficulty —
while the residual networks, identical except for their skip connections, do not degrade.

:func:`run_degradation` trains the four networks on the same data, from the same seed, as
one comparison (:func:`core.experiment.run_comparison`): tracked runs under one comparison
tag, so the Runs page can set them side by side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from core.cnn import models
from core.cnn.data import DATASETS, prepare_images
from core.device import pick_device, seed_everything
from core.experiment import Comparison, Lane, LanePlan, LaneSlot, new_comparison, run_comparison, train_tracked
from core.jobs import JobContext
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.settings import Settings, setting

DEPTHS = (8, 14, 20, 32, 44, 56)  # 6n + 2


@dataclass(frozen=True)
class DegradationConfig(Settings):
    dataset: str = setting("mnist_sample", choices=DATASETS, label="Images", labels=DATASETS)
    shallow: int = setting(8, choices=DEPTHS, label="Shallow depth")
    deep: int = setting(56, choices=DEPTHS, label="Deep depth")
    # channels of the first stage (16 in the paper; 8 keeps a CPU quick)
    width: int = setting(8, options=(4, 8, 16, 32), label="Channels in the first stage")
    # the images are scaled to this many pixels a side
    image_size: int = setting(14, options=(8, 14, 16, 28, 32), label="Image size (pixels)")
    n_train: int = setting(1500, lo=50, hi=60000, step=250, label="Training images")
    epochs: int = setting(5, lo=1, hi=30, widget="slider", label="Epochs  ", name="Epochs")
    batch_size: int = 64
    optimizer: str = setting("Adam", choices=OPTIMIZERS, label="Optimizer")
    lr: float = setting(1e-3, lo=1e-5, hi=10.0, fmt="%g", label="Learning rate α  ", name="Learning rate α")
    seed: int = 0

    def check(self) -> None:
        if self.shallow >= self.deep:
            raise ValueError("the deep network must have more layers than the shallow one")

    def lanes(self) -> list[tuple[str, int, bool]]:
        """(name, depth, plain) for the four networks, shallow first."""
        return [(f"{'plain' if plain else 'residual'}-{d}", d, plain) for d in (self.shallow, self.deep)
                for plain in (True, False)]


@dataclass
class DegradationResult(Comparison):
    """The four lanes (shallow first; SKIPPED after a Stop), each network's depth and whether it is
    plain, and the split sizes (plain data)."""

    depth: dict[str, int] = field(default_factory=dict)
    plain: dict[str, bool] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def train_error(self, name: str) -> float | None:
        lane = self.lane(name)
        acc = lane.measures.get("final_train_accuracy") if lane is not None else None
        return None if acc is None else 1.0 - acc


def run_degradation(ctx: JobContext | None, cfg: DegradationConfig, device: torch.device | None = None) -> DegradationResult:
    """Train plain and residual networks at ``cfg.shallow`` and ``cfg.deep`` layers as one
    comparison (a job function). A diverged lane is FAILED and the next one trains; a Stop ends
    the current lane KILLED and skips the rest (the result then says ``stopped``)."""
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, f"preparing {cfg.dataset}")
    data = prepare_images(cfg.dataset, size=cfg.image_size, max_train=cfg.n_train, max_dev=1000, seed=cfg.seed)
    train = (data.train[0].to(device), data.train[1].to(device))
    dev = (data.dev[0].to(device), data.dev[1].to(device))

    def plan(name: str, depth: int, plain: bool) -> LanePlan:
        def train_lane(slot: LaneSlot) -> Lane:
            seed_everything(cfg.seed)  # the same initial weights for the plain and the residual twin
            model = models.cifar_resnet(depth, n_classes=len(data.spec.classes), in_channels=data.spec.channels,
                                        plain=plain, width=cfg.width).to(device)
            opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
            params = {**asdict(cfg), "network": name, "depth": depth, "plain": plain}
            return train_tracked(slot, "cnn", params, model, train, opt, name=name, dev=dev, epochs=cfg.epochs,
                                 batch_size=cfg.batch_size, run_name=f"degradation: {name}", device=device,
                                 seed=cfg.seed, figure_title=f"{name} ({depth} layers)")

        return LanePlan(name, train_lane)

    lanes = cfg.lanes()
    done = run_comparison(ctx, [plan(*lane) for lane in lanes], comparison=new_comparison("degradation"))
    return done.extended(DegradationResult, depth={name: d for name, d, _ in lanes},
                         plain={name: p for name, _, p in lanes}, sizes=data.sizes)
