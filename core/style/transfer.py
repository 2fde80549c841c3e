"""Gatys-style neural style transfer: optimise the pixels of G so that J(G) = α J_content + β J_style falls.

The network never changes: VGG-19's features (pretrained on ImageNet when the weights can be had,
:mod:`core.style.vgg`) turn an image into activations, :mod:`core.style.costs` compares them with
the content image's activations at one layer and with the style image's Gram matrices at several,
and an optimiser (L-BFGS, as Gatys et al. used, or Adam) moves the generated image's pixels.

What makes a step cheap (see ``bench/style_transfer.py``): the network is cut after the deepest
layer in use; the targets (a^(C) and every G^(S)) are computed once, without gradients; the
network's weights never get gradients; the tensors run channels-last; and the convolutions run in
bf16 where the hardware has native bf16 units (a GPU, or a CPU with AMX / AVX-512 BF16), while the
Gram matrices and costs stay in float32.

:class:`StyleStep` is the method's step for the lab's one loop (:class:`core.training.Loop`): one
``opt.step(closure)`` on the pixels (L-BFGS with one cost evaluation per step, or Adam), reporting
the costs. :func:`run_style` is the job: one tracked lane (:class:`core.experiment.LaneRun`) with the
settings, the cost curves per step, the image every few steps, and the result; Stop keeps the image
so far (the run ends KILLED), a cost or pixels that turn NaN keep the last good image (the run ends
FAILED with the sentence). Either way the job returns its :class:`StyleResult`.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from core import tracking
from core.device import autocast, fast_bf16, pick_device, seed_everything
from core.experiment import LaneRun
from core.jobs.api import JobContext, Outcome
from core.pretrained import WeightsUnavailable, hub_path
from core.settings import Settings, meta, setting
from core.style import vgg
from core.style.costs import content_cost, gram_matrix, layer_style_cost_from_grams, style_cost, total_cost
from core.training import Callback, CancelToken, Loop, Step

PAGE = "style"
STYLE_OPTIMIZERS = ("L-BFGS", "Adam")
START_IMAGES = ("content", "noise")
PRECISIONS = ("auto", "fp32")
POOLINGS = ("max", "avg")
# the style strengths and the βs the page offers (the settings allow any value in their range)
STRENGTH_CHOICES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BETA_CHOICES = tuple(10.0**k for k in range(-2, 13))
STYLE_DEFAULT_LR = {"L-BFGS": 1.0, "Adam": 0.02}

# Longest image side, by device kind: (default, cap). On a CPU every step runs VGG-19 up to conv5_1 forward
# and backward, so a modest default keeps a run to a minute or two.
SIZE_LIMITS = {"cpu": (192, 512), "mps": (256, 768), "cuda": (512, 1024)}


SMALLEST_SIZE = 32  # the smallest image side style transfer takes, in pixels


def check_size(called: str, size: int, max_size: int) -> None:
    """Refuse an image side outside SMALLEST_SIZE … ``max_size`` (the device's cap), in the settings' wording."""
    if not (isinstance(size, int) and SMALLEST_SIZE <= size <= max_size):
        raise ValueError(f"{called} must be between {SMALLEST_SIZE} and {max_size:,} pixels on this device, got {size}")


def size_limits(device: torch.device | str | None = None) -> tuple[int, int]:
    """(default, largest allowed) longest side in pixels for style transfer on ``device``."""
    kind = torch.device(device).type if device is not None else pick_device().type
    return SIZE_LIMITS.get(kind, SIZE_LIMITS["cpu"])


def default_steps(device: torch.device | str | None = None) -> int:
    """The page's default number of steps on ``device``: fewer on a CPU, where each step is slow."""
    kind = torch.device(device).type if device is not None else pick_device().type
    return 100 if kind == "cpu" else 300


@dataclass(frozen=True)
class StyleConfig(Settings):
    """Every setting of one style transfer (the tracked run's params)."""

    content_layer: str = setting(vgg.CONTENT_LAYER_GATYS, choices=("", *vgg.LAYERS), label="Content layer",
                                 help="Deeper layers keep the arrangement of things and let the pixels go.")
    # (layer, λ) pairs; the names and weights are checked in check()
    style_layers: tuple[tuple[str, float], ...] = setting(
        tuple((name, 0.2) for name in vgg.STYLE_LAYERS_GATYS), label="Style layers",
        help="Gatys et al. use the first convolution of every block: shallow layers carry colours and fine "
             "texture, deep ones larger patterns.")
    alpha: float = setting(1.0, lo=0.0, hi=1e6, fmt="%g", label="α (content weight)")
    beta: float = setting(1e4, lo=0.0, hi=BETA_CHOICES[-1], widget="select_slider", label="β")  # used as given when style_strength is None
    # r: when set, β is chosen before the first step as r · α · J_content(C, S) / J_style(S, C), i.e. so that
    # β·J_style of the content image is r times α·J_content of the style image (see balanced_beta)
    style_strength: float | None = setting(0.3, widget="select_slider", label="Style strength r")
    # any whole number above 0; the page's slider moves 10 at a time (0, 10, …, 1,000)
    steps: int = setting(100, lo=0, above=True, hi=1000, step=10, widget="slider", label="Steps")
    # longest side of the generated image, in pixels: from SMALLEST_SIZE to max_size, the device's cap (check())
    size: int = setting(192, step=16, widget="slider", label="Image size (longer side, px)")
    optimizer: str = setting("L-BFGS", choices=STYLE_OPTIMIZERS, label="Optimizer")
    learning_rate: float = setting(
        1.0, lo=1e-4, hi=10.0, fmt="%g", label="Learning rate",
        help="L-BFGS: the step along its quasi-Newton direction (1 is standard). Adam: pixels move about this much "
             "per step (0.01–0.05 on a 0–1 scale).")
    init: str = setting("content", choices=START_IMAGES, label="Start from")
    pooling: str = setting("max", choices=POOLINGS, widget="radio", label="Pooling in VGG-19",
                           help="Gatys et al. found average pooling gives slightly smoother images.")
    # "auto": bf16 convolutions where the hardware has bf16 units; "fp32": always fp32
    precision: str = setting("auto", choices=PRECISIONS, widget="radio", label="Precision")
    every: int = setting(5, lo=1, hi=50, widget="slider", label="Show the image every … steps")  # for the live view
    seed: int = setting(0, lo=0, hi=2**32 - 1, label="Seed")
    # the device's cap (size_limits), checked here so that no caller can pass a bigger size
    max_size: int = setting(1024, lo=SMALLEST_SIZE, hi=1024, label="Largest image size on this device (px)")

    def check(self) -> None:
        vgg.check_layers(name for name, _ in self.style_layers)
        names = [name for name, _ in self.style_layers]
        if len(set(names)) != len(names):
            raise ValueError("each style layer can be listed once")
        if any(not math.isfinite(w) or w < 0 for _, w in self.style_layers):
            raise ValueError("style layer weights λ must be finite and at least 0")
        # an optional number: None means "β as given"
        if self.style_strength is not None and not (math.isfinite(self.style_strength) and self.style_strength > 0):
            raise ValueError(f"the style strength must be a positive number, got {self.style_strength}")
        if self.alpha == 0 and not self.style_on:
            raise ValueError("α and β are both 0: there is nothing to optimise")
        if self.alpha > 0 and not self.content_layer:
            raise ValueError("α > 0 needs a content layer")
        if self.style_on and not any(w > 0 for _, w in self.style_layers):
            raise ValueError("β > 0 needs at least one style layer with a weight above 0")
        check_size(meta(self, "size").called, self.size, self.max_size)

    @property
    def style_on(self) -> bool:
        """Whether the style cost counts (β > 0, or β chosen from the style strength)."""
        return self.style_strength is not None or self.beta > 0

    @property
    def style_weights(self) -> dict[str, float]:
        """λ^[l] of the style layers that count (weight above 0)."""
        return {name: float(w) for name, w in self.style_layers if w > 0}

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the costs read (content layer first)."""
        used = ([self.content_layer] if self.alpha > 0 else []) + (list(self.style_weights) if self.style_on else [])
        return tuple(dict.fromkeys(used))


@dataclass(frozen=True)
class StyleRequest:
    """The job's input (plain data): the settings plus the two pictures, given as PIL images or arrays
    and kept as [H, W, 3] uint8 RGB arrays; the names go into the run's tags, and ``tags`` adds run tags of
    the lab's vocabulary (:data:`core.tracking.TAGS`, e.g. ``{tracking.TAG_KIND: ...}``)."""

    config: StyleConfig
    content: np.ndarray
    style: np.ndarray | None
    content_name: str = "content"
    style_name: str = "style"
    run_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", rgb_array(self.content))
        object.__setattr__(self, "style", rgb_array(self.style))
        object.__setattr__(self, "tags", dict(self.tags))
        tracking.check_tags(self.tags)


# ------------------------------------------------------------------------------------------ images


def rgb_array(image: Image.Image | np.ndarray | None) -> np.ndarray | None:
    """A picture as an [H, W, 3] uint8 RGB array (what crosses to the job: plain data)."""
    if image is None:
        return None
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            return image
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def pil_image(image: np.ndarray | None) -> Image.Image | None:
    """An [H, W, 3] uint8 array (see :func:`rgb_array`) as a PIL image."""
    return None if image is None else Image.fromarray(image)


def image_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image as a [1, 3, H, W] float tensor in [0, 1]."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """A [1, 3, H, W] (or [3, H, W]) tensor in [0, 1] as an [H, W, 3] uint8 array."""
    x = x.detach().float().cpu()
    if x.ndim == 4:
        x = x[0]
    return (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def fit_size(image: Image.Image, size: int) -> Image.Image:
    """``image`` scaled so that its longer side is ``size`` pixels (aspect ratio kept)."""
    w, h = image.size
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.convert("RGB").resize(new, Image.Resampling.LANCZOS) if new != (w, h) else image.convert("RGB")


def cover_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` scaled to cover ``size`` = (width, height), then cropped to it around its centre.

    The style image must give each layer the same grid as the generated image, or their Gram
    matrices (sums over positions) would not be comparable.
    """
    w, h = image.size
    tw, th = size
    scale = max(tw / w, th / h)
    sw, sh = max(tw, round(w * scale)), max(th, round(h * scale))
    scaled = image.convert("RGB").resize((sw, sh), Image.Resampling.LANCZOS)
    left, top = (sw - tw) // 2, (sh - th) // 2
    return scaled.crop((left, top, left + tw, top + th))


def prepare_pair(content: Image.Image, style: Image.Image | None, size: int) -> tuple[Image.Image, Image.Image | None]:
    """The content image at ``size`` on its longer side, and the style image cropped to the same shape."""
    c = fit_size(content, size)
    return c, (cover_crop(style, c.size) if style is not None else None)


# ------------------------------------------------------------------------------------------ features


# hub path -> (module, pretrained?, note, download tried?, the weights file's mtime when last read or None)
_cache: dict[str, tuple[torch.nn.Sequential, bool, str, bool, float | None]] = {}
_cache_lock = threading.Lock()


def _mtime(path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def features(allow_download: bool = True) -> tuple[torch.nn.Sequential, bool, str]:
    """VGG-19's features, once per process and weights file: (module, pretrained?, note).

    With the ImageNet weights: (module, True, ""). Without them: the same network with torchvision's
    random initialisation (seeded, so runs compare), False, and the one-sentence reason — never
    presented as pretrained. A later call tries again when the weights file has appeared or changed,
    or when it allows a download and no download was tried yet.
    """
    path = hub_path(vgg.URL)
    key = str(path)
    with _cache_lock:
        cached = _cache.get(key)
        stale = cached is not None and not cached[1] and (
            _mtime(path) != cached[4] or (allow_download and not cached[3]))
        if cached is None or stale:
            try:
                cached = (vgg.load_features(allow_download=allow_download), True, "", allow_download, _mtime(path))
            except WeightsUnavailable as exc:
                if cached is not None:
                    module = cached[0]  # the same random network as before
                else:
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(0)
                        module = vgg.build_features()
                tried = allow_download or (cached is not None and cached[3])
                cached = (module, False, str(exc), tried, _mtime(path))
            _cache[key] = cached
    return cached[:3]


def use_bf16(config: StyleConfig, device: torch.device) -> bool:
    return config.precision == "auto" and fast_bf16(device)


@dataclass
class Costs:
    """One evaluation: the costs (float32 scalars) of the current image."""

    content: torch.Tensor
    style: torch.Tensor
    total: torch.Tensor
    per_layer: dict[str, torch.Tensor]

    def row(self) -> dict[str, float]:
        row = {"J_content": float(self.content.detach()), "J_style": float(self.style.detach()),
               "J_total": float(self.total.detach())}
        row.update({f"J_style/{name}": float(v.detach()) for name, v in self.per_layer.items()})
        return row


class Transfer:
    """The costs of a generated image against fixed targets, on one device.

    ``content`` and ``style`` are [1, 3, H, W] tensors in [0, 1] of the same H and W (see
    :func:`prepare_pair`); ``features`` a VGG-19 features module. The targets are computed here,
    once, without gradients.
    """

    def __init__(self, config: StyleConfig, content: torch.Tensor, style: torch.Tensor | None,
                 features_module: torch.nn.Sequential, device: torch.device | str | None = None) -> None:
        self.config = config
        self.device = torch.device(device) if device is not None else pick_device()
        if config.style_on and style is None:
            raise ValueError("β > 0 needs a style image")
        if style is not None and style.shape != content.shape:
            raise ValueError(f"content and style images differ in shape: {tuple(content.shape)} vs {tuple(style.shape)}")
        self.bf16 = use_bf16(config, self.device)
        self.alpha = config.alpha
        self.beta = config.beta if config.style_strength is None else 1.0  # set by balance() before a run
        self.extractor = vgg.Extractor(features_module, config.layers, config.pooling).to(self.device)
        self.extractor = self.extractor.to(memory_format=torch.channels_last)
        self.content = content.to(self.device)
        self.style = style.to(self.device) if style is not None else None
        with torch.no_grad():
            self.a_c = self.activations(self.content)[config.content_layer].float() if config.alpha > 0 else None
            if config.style_on:
                acts = self.activations(self.style)
                self.g_s = {name: gram_matrix(acts[name]) for name in config.style_weights}
                self.shapes = {name: tuple(acts[name].shape[-3:]) for name in config.style_weights}
            else:
                self.g_s, self.shapes = {}, {}

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast(self.device, enabled=self.bf16, cpu=True):
            return self.extractor(x.contiguous(memory_format=torch.channels_last))

    def costs(self, x: torch.Tensor) -> Costs:
        """J_content, J_style (and per layer) and J for the image ``x`` (differentiable in ``x``)."""
        cfg = self.config
        acts = self.activations(x)
        zero = torch.zeros((), device=self.device)
        j_content = content_cost(self.a_c, acts[cfg.content_layer]) if cfg.alpha > 0 else zero
        per_layer = {name: layer_style_cost_from_grams(self.g_s[name], gram_matrix(acts[name]), *self.shapes[name])
                     for name in self.g_s}
        j_style = style_cost(per_layer, cfg.style_weights) if per_layer else zero
        return Costs(j_content, j_style, total_cost(j_content, j_style, self.alpha, self.beta), per_layer)

    def balanced_beta(self, strength: float) -> float:
        """β = r · α · J_content(C, S) / J_style(S, C): the style image's content cost against the content
        image's style cost, so that neither term swamps the other whatever the network's activation scale.

        With α = 0 (style only) any β > 0 gives the same minimiser: 1 is returned.
        """
        if self.alpha == 0 or self.a_c is None:
            return 1.0
        with torch.no_grad():
            j_content_of_style = float(content_cost(self.a_c, self.activations(self.style)[self.config.content_layer]))
            acts = self.activations(self.content)
            per_layer = {name: layer_style_cost_from_grams(self.g_s[name], gram_matrix(acts[name]), *self.shapes[name])
                         for name in self.g_s}
            j_style_of_content = float(style_cost(per_layer, self.config.style_weights))
        if not (j_style_of_content > 0 and math.isfinite(j_content_of_style / j_style_of_content)):
            return 1.0  # identical style statistics: nothing to balance against
        return strength * self.alpha * j_content_of_style / j_style_of_content

    def balance(self) -> float:
        """Set β from the config's style strength (when it has one); returns the β in use."""
        if self.config.style_strength is not None:
            self.beta = self.balanced_beta(self.config.style_strength)
        return self.beta

    def grams(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """G^[l] of image ``x`` at ``layer`` (one of the style layers), without gradients."""
        with torch.no_grad():
            return gram_matrix(self.activations(x.to(self.device))[layer])[0].cpu()

    def start_image(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """The first G: the content image, or uniform noise in [0, 1] (seeded)."""
        if self.config.init == "content":
            return self.content.clone()
        noise = torch.rand(self.content.shape, generator=generator)
        return noise.to(self.device)


ADVICE = "try a smaller learning rate or β, or Adam instead of L-BFGS"


class StyleStep(Step):
    """One optimiser step on the pixels of G, for :class:`core.training.Loop` (a closure step).

    Each call does one ``opt.step(closure)`` — L-BFGS with ``max_iter=1`` (one cost evaluation per step;
    its curvature history is kept between calls, and there is no line search, as in Gatys et al.'s code)
    or Adam — then clamps the pixels to [0, 1]. It reports the costs evaluated at the image the step
    started from, as 0-d tensors on the device: ``J_total`` (the monitored value), ``J_content``,
    ``J_style`` and ``J_style/<layer>`` (with ``parts=False`` only ``J_total``). Pixels that turned NaN or
    infinite make the reported ``J_total`` NaN, so the loop's one divergence rule catches them too.

    The optimiser minimises J / J(start) instead of J: the same minimiser (a constant factor), but
    L-BFGS's fixed thresholds (it skips curvature pairs with sᵀy < 1e-10) then mean the same at any cost
    scale. The costs reported stay the course's J.

    ``image`` is G now (after the last step); ``before`` is G before the last update: the last good
    image when that update diverged.
    """

    monitor = "J_total"
    advice = ADVICE
    labels = {"J_total": "cost", "J_content": "content cost", "J_style": "style cost"}

    def __init__(self, transfer: Transfer, *, steps: int | None = None, generator: torch.Generator | None = None,
                 parts: bool = True) -> None:
        cfg = transfer.config
        self.transfer = transfer
        self.device = transfer.device
        self.steps = cfg.steps if steps is None else steps
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        self.parts = parts
        self.x = transfer.start_image(generator).requires_grad_(True)
        if cfg.optimizer == "L-BFGS":
            self.opt: torch.optim.Optimizer = torch.optim.LBFGS(
                [self.x], lr=cfg.learning_rate, max_iter=1, history_size=50, tolerance_grad=0.0, tolerance_change=0.0
            )
        else:
            self.opt = torch.optim.Adam([self.x], lr=cfg.learning_rate)
        self.before = self.x.detach().clone()
        self.scale: float | None = None  # 1 / J(start), set at the first step

    @property
    def image(self) -> torch.Tensor:
        """G as it is now, [1, 3, H, W] in [0, 1]."""
        return self.x.detach()

    def batches(self, epoch: int) -> Iterable[None]:
        return itertools.repeat(None, self.steps)  # one epoch of `steps` steps

    def __call__(self, batch: Any) -> dict[str, torch.Tensor]:
        x, transfer = self.x, self.transfer
        if self.scale is None:
            with torch.no_grad():
                start = float(transfer.costs(x).total)
            self.scale = 1.0 / start if math.isfinite(start) and start > 0 else 1.0
        self.before = x.detach().clone()
        seen: list[Costs] = []
        scale = self.scale

        def closure() -> torch.Tensor:
            self.opt.zero_grad(set_to_none=True)
            c = transfer.costs(x)
            objective = c.total * scale
            objective.backward()
            seen.append(c)
            return objective

        self.opt.step(closure)
        costs = seen[0]  # L-BFGS may evaluate more than once; the first is at the image the step started from
        with torch.no_grad():
            finite = torch.isfinite(x).all()
            x.clamp_(0.0, 1.0)
        total = costs.total.detach()
        total = torch.where(finite, total, torch.full_like(total, math.nan))  # NaN pixels: a diverged step
        if not self.parts:
            return {"J_total": total}
        return {"J_total": total, "J_content": costs.content.detach(), "J_style": costs.style.detach(),
                **{f"J_style/{name}": v.detach() for name, v in costs.per_layer.items()}}


def style_loop(transfer: Transfer, *, steps: int | None = None, generator: torch.Generator | None = None,
               callbacks: Sequence[Callback] = (), cancel: CancelToken | None = None, parts: bool = True) -> Loop:
    """The :class:`core.training.Loop` that runs ``transfer`` (``steps``, default the config's, in one epoch):
    ``loop.run(1)`` optimises and ``loop.step.image`` is the result. Values are read back every step
    (the live view shows the image every few steps); ``Callback.on_step`` sees each step's costs, with
    ``loop.step.image`` the image after it. Stop and divergence end it as every training ends."""
    return Loop(StyleStep(transfer, steps=steps, generator=generator, parts=parts), callbacks=callbacks, cancel=cancel,
                sync_every=1)


# ------------------------------------------------------------------------------------------ the job


LANE = "Style transfer"  # the lane's name: what the job panel calls it in a divergence sentence


@dataclass
class StyleResult(Outcome):
    """What a style transfer made: also a partial one, when stopped (``stopped``) or when the costs
    diverged (``error`` holds the sentence; ``image`` is the last good image). Plain data."""

    image: np.ndarray  # [H, W, 3] uint8
    content: np.ndarray
    style: np.ndarray | None
    history: list[dict[str, float]]  # one row per step: step, J_content, J_style, J_total, J_style/<layer>
    snapshots: list[tuple[int, np.ndarray]]  # (step, image) every `every` steps, step 0 = the start image
    grams: dict[str, tuple[np.ndarray, np.ndarray]]  # layer -> (G of the style image, G of the result)
    config: StyleConfig
    pretrained: bool
    bf16: bool
    device: str
    seconds_per_step: float
    run_id: str | None = None
    stopped: bool = False
    note: str = ""  # why the weights are random, when they are
    beta: float = 0.0  # the β in use (chosen from the style strength, or as given)
    error: str | None = None  # the divergence sentence (the run ended FAILED)

    @property
    def steps_done(self) -> int:
        return len(self.history)

    @property
    def diverged(self) -> bool:
        return self.error is not None


class _Watch(Callback):
    """The job's view of a style transfer's steps: the rows of the result, the image every
    ``every`` steps (to the result's snapshots and the live view) and the progress message."""

    def __init__(self, ctx: JobContext | None, step: StyleStep, run: tracking.TrackedRun | None, every: int,
                 steps: int) -> None:
        self.ctx, self.step, self.run, self.every, self.steps = ctx, step, run, every, steps
        self.rows: list[dict[str, float]] = []
        self.snapshots: list[tuple[int, np.ndarray]] = [(0, to_uint8(step.image))]

    def on_step(self, step: int, epoch: int, values: Mapping[str, float]) -> None:
        row = {"step": step, "J_content": values["J_content"], "J_style": values["J_style"],
               "J_total": values["J_total"], **{k: v for k, v in values.items() if k.startswith("J_style/")}}
        self.rows.append(row)
        if step % self.every == 0 or step == self.steps:
            snap = to_uint8(self.step.image)
            self.snapshots.append((step, snap))
            if self.ctx is not None:
                self.ctx.image("current", snap)
        if self.ctx is not None:
            self.ctx.report(step / self.steps, f"step {step} of {self.steps} · J = {row['J_total']:.4g}")
            for w in self.run.warnings if self.run is not None else ():
                self.ctx.warn(w)


def run_style(ctx: JobContext | None, request: StyleRequest, *,
              features_module: tuple[torch.nn.Sequential, bool, str] | None = None,
              device: torch.device | str | None = None) -> StyleResult:
    """The job behind the page: one tracked lane (experiment ``style``) of one style transfer.

    Logs the settings, J_content / J_style / J / per-layer style costs per step, the content, style,
    result and progress images, and the curves. Live: rows in series ``costs`` and the image
    ``current`` every ``config.every`` steps. Stop → the run ends KILLED and the result (``stopped``)
    holds the image so far; a cost or pixels that turn NaN or infinite → the run ends FAILED with the
    sentence (reported once through ``ctx.diverged``) and the result holds the last good image and the
    sentence as ``error``. ``features_module`` (a VGG-19 features module, pretrained?, note) is for
    direct calls in tests; the job loads VGG-19 where it runs.
    """
    cfg = request.config
    dev = torch.device(device) if device is not None else pick_device()
    generator = seed_everything(cfg.seed)
    if ctx is not None:
        ctx.report(0.0, "loading VGG-19")
    net, is_pretrained, note = features_module if features_module is not None else features()
    if not is_pretrained and ctx is not None:
        ctx.warn(note)
    content_img, style_img = prepare_pair(pil_image(request.content), pil_image(request.style) if cfg.style_on else None, cfg.size)
    transfer = Transfer(cfg, image_tensor(content_img), image_tensor(style_img) if style_img is not None else None, net, dev)
    beta = transfer.balance()
    tags = {
        tracking.TAG_WEIGHTS: "imagenet" if is_pretrained else "random",
        tracking.TAG_PRECISION: "bf16" if transfer.bf16 else "fp32",
        tracking.TAG_CONTENT_IMAGE: request.content_name[:200],
        tracking.TAG_STYLE_IMAGE: (request.style_name if style_img is not None else "")[:200],
        tracking.TAG_DEVICE: dev.type,
        **request.tags,
    }
    run_name = request.run_name or f"{cfg.optimizer} {cfg.steps} steps · {cfg.size}px"
    content_np = np.asarray(content_img)
    style_np = np.asarray(style_img) if style_img is not None else None
    params = {**asdict(cfg), "beta_used": beta if cfg.style_on else 0.0}
    with LaneRun(ctx, PAGE, params, name=LANE, run_name=run_name, tags=tags, series="costs") as lane:
        lane.run.log_image(content_np, "content.png")
        if style_np is not None:
            lane.run.log_image(style_np, "style.png")
        loop = style_loop(transfer, generator=generator)
        step: StyleStep = loop.step  # type: ignore[assignment]
        watch = _Watch(ctx, step, lane.run, cfg.every, cfg.steps)
        loop.callbacks.append(watch)
        if ctx is not None:
            ctx.image("current", watch.snapshots[0][1])
            ctx.report(0.0, f"step 0 of {cfg.steps}")
        start = time.perf_counter()
        finished = lane.fit(loop, 1, total_steps=cfg.steps)
        seconds = (time.perf_counter() - start) / max(len(watch.rows), 1)
        image = step.before if lane.lane.error is not None else step.image  # diverged: the last good image
        grams = {name: (transfer.g_s[name][0].cpu().numpy(), transfer.grams(image, name).numpy())
                 for name in transfer.g_s}
        res = StyleResult(to_uint8(image), content_np, style_np, watch.rows, watch.snapshots, grams, cfg, is_pretrained,
                          transfer.bf16, dev.type, seconds, None, lane.lane.stopped, note,
                          beta if cfg.style_on else 0.0, lane.lane.error)
        if finished:
            final = transfer.costs(image.to(dev))
            lane.run.log_metrics({f"final_{k}": v for k, v in final.row().items() if "/" not in k}, len(watch.rows))
            lane.run.log_metrics({"seconds_per_step": res.seconds_per_step}, len(watch.rows))
        _log_outputs(lane.run, res)
    res.run_id = lane.lane.run_id
    return res


def _log_outputs(run: tracking.TrackedRun, res: StyleResult) -> None:
    """The result, the progress strip and the cost curves as artifacts of the run."""
    run.log_image(res.image, "result.png")
    if len(res.snapshots) > 1:
        frames = progress_frames(res.snapshots)
        run.log_tiles(frames / 255, "progress.png", cols=len(frames), **PROGRESS_TILES)
    if res.history:
        steps = [r["step"] for r in res.history]
        series = {k: (steps, [r[k] for r in res.history]) for k in ("J_content", "J_style", "J_total")
                  if any(r[k] > 0 for r in res.history)}
        if series:
            run.log_curves(series, "costs.png", title="Costs per step", ylabel="cost", log_y=True)


# how the progress strip is tiled (core.artifacts.image_grid), in the run's images and on the page: side by side,
# 4 white pixels apart
PROGRESS_TILES = {"pad": 4, "border": False}


def progress_frames(snapshots: list[tuple[int, np.ndarray]], most: int = 8) -> np.ndarray:
    """Up to ``most`` snapshots (evenly picked, always the first and the last) as [k, H, W, 3] uint8, for a
    strip side by side (:data:`PROGRESS_TILES`)."""
    if not snapshots:
        raise ValueError("no snapshots")
    idx = sorted({round(i * (len(snapshots) - 1) / max(most - 1, 1)) for i in range(min(most, len(snapshots)))})
    return np.stack([snapshots[i][1] for i in idx])
