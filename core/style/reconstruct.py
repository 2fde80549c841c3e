"""What each cost keeps: images rebuilt from noise by one cost alone (Gatys et al. 2016, figure 1).

- Content only (α = 1, β = 0) at one layer: shallow layers give the photo back almost pixel for
  pixel; deeper layers keep the arrangement of things and let go of exact colours and texture.
- Style only (α = 0, β = 1) over the first k style layers (conv1_1, then + conv2_1, ...): the Gram
  matrices keep colours and textures at a growing scale and throw away where things are.

One job, one tracked run (experiment ``style``, tag ``dll.kind=reconstruction``) with every image: the
reconstructions run one after the other, each a :class:`core.style.transfer.StyleStep` in the lab's
one loop, inside one :class:`core.experiment.LaneRun`. Stop ends the run KILLED and the result
(``stopped``) holds the reconstructions finished so far; a divergence ends it FAILED with the sentence
(``error``), reported once through ``ctx.diverged``, and the rest is not run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from core import tracking
from core.device import pick_device, seed_everything
from core.experiment import LaneRun
from core.jobs.api import JobContext, Outcome
from core.settings import Settings, meta, setting
from core.style import vgg
from core.style.transfer import (
    PAGE,
    POOLINGS,
    PRECISIONS,
    SMALLEST_SIZE,
    StyleConfig,
    Transfer,
    check_size,
    features,
    image_tensor,
    pil_image,
    prepare_pair,
    rgb_array,
    style_loop,
    to_uint8,
)
from core.training import Callback

CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
STYLE_DEPTHS = tuple(range(1, len(vgg.STYLE_LAYERS_GATYS) + 1))  # the first 1 … 5 of Gatys et al.'s style layers


def style_set(depth: int) -> tuple[str, ...]:
    """The first ``depth`` of Gatys et al.'s style layers (conv1_1 … conv5_1)."""
    if not 1 <= depth <= len(vgg.STYLE_LAYERS_GATYS):
        raise ValueError(f"the style depth must be between 1 and {len(vgg.STYLE_LAYERS_GATYS)}, got {depth}")
    return vgg.STYLE_LAYERS_GATYS[:depth]


@dataclass(frozen=True)
class ReconstructConfig(Settings):
    content_layers: tuple[str, ...] = setting(("conv1_2", "conv3_2", "conv5_2"), choices=CONTENT_LAYERS,
                                              label="Content layers")
    style_depths: tuple[int, ...] = setting((1, 3, 5), choices=STYLE_DEPTHS, label="Style layers (the first …)",
                                         labels=lambda depth: label_of(depth))
    # any whole number above 0; the page's slider moves 10 at a time
    steps: int = setting(80, lo=0, above=True, hi=500, step=10, widget="slider", label="Steps per image")
    size: int = setting(128, lo=SMALLEST_SIZE, hi=256, step=16, widget="slider", label="Size (px)")
    pooling: str = setting("max", choices=POOLINGS, label="Pooling in VGG-19")
    precision: str = setting("auto", choices=PRECISIONS, label="Precision")
    seed: int = setting(0, lo=0, hi=2**32 - 1, label="Seed")
    max_size: int = setting(1024, lo=SMALLEST_SIZE, hi=1024, label="Largest image size on this device (px)")

    def check(self) -> None:
        if not self.content_layers and not self.style_depths:
            raise ValueError("pick at least one content layer or one style depth")
        check_size(meta(self, "size").called, self.size, self.max_size)

    def one(self, layer_or_depth: str | int, *, content: bool) -> StyleConfig:
        """The StyleConfig of one reconstruction: from noise, with one of the two costs switched off."""
        common = dict(steps=self.steps, size=self.size, init="noise", pooling=self.pooling, precision=self.precision,
                      seed=self.seed, max_size=self.max_size)
        if content:
            return StyleConfig(content_layer=str(layer_or_depth), alpha=1.0, beta=0.0, style_strength=None, **common)
        layers = style_set(int(layer_or_depth))
        return StyleConfig(style_layers=tuple((n, 1.0 / len(layers)) for n in layers), alpha=0.0, beta=1.0,
                           style_strength=None, **common)

    @property
    def total(self) -> int:
        return len(self.content_layers) + len(self.style_depths)


@dataclass(frozen=True)
class ReconstructRequest:
    """The job's input (plain data): the settings and the two pictures (PIL images or arrays, kept as
    [H, W, 3] uint8 RGB arrays)."""

    config: ReconstructConfig
    content: np.ndarray
    style: np.ndarray
    content_name: str = "content"
    style_name: str = "style"
    tags: dict[str, str] = field(default_factory=dict)  # more run tags, of the lab's vocabulary (core.tracking.TAGS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", rgb_array(self.content))
        object.__setattr__(self, "style", rgb_array(self.style))
        tracking.check_tags(self.tags)


@dataclass
class Reconstruction:
    kind: str  # "content" or "style"
    label: str  # "conv4_2" or "conv1_1 … conv3_1"
    image: np.ndarray
    first_cost: float
    final_cost: float
    seconds: float


@dataclass
class ReconstructResult(Outcome):
    """The reconstructions made (those finished before a Stop or a divergence). Plain data."""

    content: np.ndarray
    style: np.ndarray
    items: list[Reconstruction]
    pretrained: bool
    note: str
    run_id: str | None = None
    stopped: bool = False
    error: str | None = None  # the divergence sentence (the run ended FAILED)

    def of(self, kind: str) -> list[Reconstruction]:
        return [r for r in self.items if r.kind == kind]


def label_of(depth: int) -> str:
    layers = style_set(depth)
    return layers[0] if depth == 1 else f"{layers[0]} … {layers[-1]}"


class _Progress(Callback):
    """One reconstruction's steps in the job's progress bar: item ``i`` of ``n``."""

    def __init__(self, ctx: JobContext | None, series: str, i: int, n: int, steps: int) -> None:
        self.ctx, self.series, self.i, self.n, self.steps = ctx, series, i, n, steps

    def on_step(self, step: int, epoch: int, values: Mapping[str, float]) -> None:
        if self.ctx is not None:
            self.ctx.report((self.i + step / self.steps) / self.n, f"{self.series}: step {step} of {self.steps}")


def run_reconstructions(ctx: JobContext | None, request: ReconstructRequest, *,
                        features_module: tuple[torch.nn.Sequential, bool, str] | None = None,
                        device: torch.device | str | None = None) -> ReconstructResult:
    """Rebuild the content image from each content layer and the style image from each style depth.

    Live: the series ``content conv4_2`` / ``style conv1_1 … conv3_1`` get rows (step, J_total) and the
    images ``content conv4_2`` / ... appear as they finish; the run logs ``J/content/conv4_2`` / ... per
    step. Stop → the run ends KILLED and the result (``stopped``) has what was finished; a divergence →
    FAILED with the sentence (``error``). ``features_module`` is for direct calls in tests.
    """
    cfg = request.config
    dev = torch.device(device) if device is not None else pick_device()
    net, is_pretrained, note = features_module if features_module is not None else features()
    if ctx is not None and not is_pretrained:
        ctx.warn(note)
    content_img, style_img = prepare_pair(pil_image(request.content), pil_image(request.style), cfg.size)
    c, s = image_tensor(content_img), image_tensor(style_img)
    res = ReconstructResult(np.asarray(content_img), np.asarray(style_img), [], is_pretrained, note)
    plan = [("content", layer) for layer in cfg.content_layers] + [("style", d) for d in cfg.style_depths]
    tags = {tracking.TAG_KIND: "reconstruction", tracking.TAG_WEIGHTS: "imagenet" if is_pretrained else "random",
            tracking.TAG_CONTENT_IMAGE: request.content_name[:200], tracking.TAG_STYLE_IMAGE: request.style_name[:200],
            **request.tags}
    with LaneRun(ctx, PAGE, cfg, name="Reconstruction", run_name=f"reconstructions · {cfg.size}px", tags=tags) as lane:
        lane.run.log_image(res.content, "content.png")
        lane.run.log_image(res.style, "style.png")
        for i, (kind, what) in enumerate(plan):
            one = cfg.one(what, content=kind == "content")
            label = str(what) if kind == "content" else label_of(int(what))
            series = f"{kind} {label}"
            transfer = Transfer(one, c, s if kind == "style" else None, net, dev)
            # each reconstruction is a lane of its own in the live view and one metric of the run
            lane.lane.name, lane.series = f"Reconstruction ({series})", series
            lane.logged = {"J_total": f"J/{series.replace(' … ', '-').replace(' ', '/')}"}
            loop = style_loop(transfer, generator=seed_everything(cfg.seed), parts=False,
                              callbacks=[_Progress(ctx, series, i, len(plan), cfg.steps)])
            start = time.perf_counter()
            if not lane.fit(loop, 1, total_steps=cfg.steps):
                break  # stopped (KILLED) or diverged (FAILED, said once through ctx.diverged)
            costs = loop.history.step_loss
            item = Reconstruction(kind, label, to_uint8(loop.step.image), costs[0], costs[-1],
                                  time.perf_counter() - start)
            res.items.append(item)
            lane.run.log_image(item.image, f"{kind}_{label.replace(' … ', '-')}.png")
            if ctx is not None:
                ctx.image(series, item.image)
        res.stopped, res.error = lane.lane.stopped, lane.lane.error
    res.run_id = lane.lane.run_id
    return res
