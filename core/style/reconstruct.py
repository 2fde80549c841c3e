"""What each cost keeps: images rebuilt from noise by one cost alone (Gatys et al. 2016, figure 1).

- Content only (α = 1, β = 0) at one layer: shallow layers give the photo back almost pixel for
  pixel; deeper layers keep the arrangement of things and let go of exact colours and texture.
- Style only (α = 0, β = 1) over the first k style layers (conv1_1, then + conv2_1, ...): the Gram
  matrices keep colours and textures at a growing scale and throw away where things are.

One job, one tracked run (experiment ``style``, tag ``kind=reconstruction``) with every image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from core import tracking
from core.device import pick_device, seed_everything
from core.style import vgg
from core.style.transfer import (
    PAGE,
    StyleConfig,
    Transfer,
    features,
    optimize,
    prepare_pair,
    to_tensor,
    to_uint8,
)
from core.training import TrainingCancelled

CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")


def style_set(depth: int) -> tuple[str, ...]:
    """The first ``depth`` of Gatys et al.'s style layers (conv1_1 … conv5_1)."""
    if not 1 <= depth <= len(vgg.STYLE_LAYERS_GATYS):
        raise ValueError(f"the style depth must be between 1 and {len(vgg.STYLE_LAYERS_GATYS)}, got {depth}")
    return vgg.STYLE_LAYERS_GATYS[:depth]


@dataclass(frozen=True)
class ReconstructConfig:
    content_layers: tuple[str, ...] = ("conv1_2", "conv3_2", "conv5_2")
    style_depths: tuple[int, ...] = (1, 3, 5)
    steps: int = 80
    size: int = 128
    pooling: str = "max"
    precision: str = "auto"
    seed: int = 0
    max_size: int = 1024

    def __post_init__(self) -> None:
        if not self.content_layers and not self.style_depths:
            raise ValueError("pick at least one content layer or one style depth")
        vgg.check_layers(self.content_layers)
        for d in self.style_depths:
            style_set(d)
        # the shared checks (steps, size, pooling, precision) live in StyleConfig
        self.one("conv1_1", content=True)

    def one(self, layer_or_depth: str | int, *, content: bool) -> StyleConfig:
        """The StyleConfig of one reconstruction: from noise, with one of the two costs switched off."""
        common = dict(steps=self.steps, size=self.size, init="noise", pooling=self.pooling, precision=self.precision,
                      seed=self.seed, max_size=self.max_size, every=max(1, self.steps))
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
    config: ReconstructConfig
    content: Image.Image
    style: Image.Image
    content_name: str = "content"
    style_name: str = "style"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Reconstruction:
    kind: str  # "content" or "style"
    label: str  # "conv4_2" or "conv1_1 … conv3_1"
    image: np.ndarray
    first_cost: float
    final_cost: float
    seconds: float


@dataclass
class ReconstructResult:
    content: np.ndarray
    style: np.ndarray
    items: list[Reconstruction]
    pretrained: bool
    note: str
    run_id: str | None = None
    stopped: bool = False

    def of(self, kind: str) -> list[Reconstruction]:
        return [r for r in self.items if r.kind == kind]


def label_of(depth: int) -> str:
    layers = style_set(depth)
    return layers[0] if depth == 1 else f"{layers[0]} … {layers[-1]}"


def run_reconstructions(ctx, request: ReconstructRequest, *,
                        features_module: tuple[torch.nn.Sequential, bool, str] | None = None,
                        device: torch.device | str | None = None) -> ReconstructResult:
    """Rebuild the content image from each content layer and the style image from each style depth.

    Live: the series ``content conv4_2`` / ``style conv1_1 … conv3_1`` get rows (step, J) and the images
    ``content conv4_2`` / ... appear as they finish. Stop → KILLED, ``exc.result`` has what was finished.
    """
    cfg = request.config
    dev = torch.device(device) if device is not None else pick_device()
    net, is_pretrained, note = features_module if features_module is not None else features()
    if ctx is not None and not is_pretrained:
        ctx.warn(note)
    content_img, style_img = prepare_pair(request.content, request.style, cfg.size)
    c, s = to_tensor(content_img), to_tensor(style_img)
    res = ReconstructResult(np.asarray(content_img), np.asarray(style_img), [], is_pretrained, note)
    plan = [("content", layer) for layer in cfg.content_layers] + [("style", d) for d in cfg.style_depths]
    tags = {"kind": "reconstruction", "weights": "imagenet" if is_pretrained else "random",
            "content_image": request.content_name[:200], "style_image": request.style_name[:200], **request.tags}
    with tracking.start_run(PAGE, cfg, run_name=f"reconstructions · {cfg.size}px", tags=tags) as run:
        res.run_id = run.run_id
        run.log_image(res.content, "content.png")
        run.log_image(res.style, "style.png")
        for i, (kind, what) in enumerate(plan):
            one = cfg.one(what, content=kind == "content")
            label = str(what) if kind == "content" else label_of(int(what))
            series = f"{kind} {label}"
            transfer = Transfer(one, c, s if kind == "style" else None, net, dev)
            costs: list[float] = []

            def on_step(step: int, cost, image, series: str = series, costs: list[float] = costs, i: int = i) -> None:
                j = float(cost.total.detach())
                costs.append(j)
                run.log_metrics({f"J/{series.replace(' … ', '-').replace(' ', '/')}": j}, step)
                if ctx is not None:
                    ctx.push(series, step=step, J=j)
                    ctx.report((i + step / cfg.steps) / len(plan), f"{series}: step {step} of {cfg.steps}")

            start = time.perf_counter()
            try:
                image = optimize(transfer, on_step=on_step, cancel=ctx.cancel if ctx is not None else None,
                                 generator=seed_everything(cfg.seed))
            except TrainingCancelled as exc:
                res.stopped = True
                exc.result = res
                raise
            item = Reconstruction(kind, label, to_uint8(image), costs[0], costs[-1], time.perf_counter() - start)
            res.items.append(item)
            run.log_image(item.image, f"{kind}_{label.replace(' … ', '-')}.png")
            if ctx is not None:
                ctx.image(series, item.image)
    return res
