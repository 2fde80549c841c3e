"""Mode collapse made visible: a small GAN on 2-D points, GAN Lab style (Kahng et al., 2019,
"GAN Lab: Understanding Complex Deep Generative Models using Interactive Visual Experimentation").

The real data are a mixture of Gaussians (8 on a ring, or 25 on a 5×5 grid — the test beds of
Metz et al., 2017, "Unrolled Generative Adversarial Networks"). A small MLP GAN is trained on them
with the GAN's two-player step (:class:`core.generative.gan.GanStep`) in the lab's one training loop
(:class:`core.training.Loop`); every few generator steps a
*frame* records the generator's samples from a fixed noise batch and the discriminator's decision
surface D(x) on a grid. :func:`mode_coverage` counts the modes the generator reaches: a mode is
covered when at least a given share of the samples lies within 3σ of its centre (as in Srivastava
et al., 2017, "VEEGAN", which counts "high-quality" samples the same way).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from core import tracking
from core.device import cpu_speed, seed_everything
from core.experiment import FINISHED, LaneRun, RunOutcome
from core.generative.gan import PAGE, GanStep
from core.generative.losses import GAN_LOSSES
from core.generative.nets import GanPair
from core.jobs import JobContext
from core.settings import Settings, setting
from core.training import Hooks, Loop

__all__ = [
    "PRESETS",
    "TOY_MIXTURES",
    "ModeCoverage",
    "ToyConfig",
    "ToyFrame",
    "ToyResult",
    "build_toy_pair",
    "decision_surface",
    "mode_coverage",
    "run_toy",
    "toy_centers",
    "toy_data",
]

TOY_MIXTURES = {"ring": "8 Gaussians on a ring of radius 2", "grid": "25 Gaussians on a 5×5 grid"}
SIGMA = {"ring": 0.1, "grid": 0.08}
EXTENT = {"ring": 3.0, "grid": 3.0}  # the plotted square is [−extent, extent]²
GRID = 60  # decision-surface resolution per side
N_FAKE = 500  # generator samples per frame (a fixed noise batch)


# the step and learning-rate choices the page offers (the settings allow any value in their range)
STEP_CHOICES = (200, 500, 1000, 2000, 3000, 5000)
LR_CHOICES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)


@dataclass(frozen=True)
class ToyConfig(Settings):
    """One toy GAN training (also the tracked run's params)."""

    kind: str = setting("ring", choices=TOY_MIXTURES, label="Real data", labels=TOY_MIXTURES)
    loss: str = setting("non-saturating", choices=GAN_LOSSES, widget="radio", label="Generator loss")
    k: int = setting(1, lo=1, hi=10, widget="slider", label="k: D steps per G step")
    steps: int = setting(2000, lo=1, hi=50_000, widget="select_slider", label="Generator steps")
    batch_size: int = setting(128, lo=2, hi=100_000, label="Batch size")
    lr_g: float = setting(1e-3, lo=0.0, above=True, hi=1e3, widget="select_slider", label="Learning rate of G")
    lr_d: float = setting(1e-3, lo=0.0, above=True, hi=1e3, widget="select_slider", label="Learning rate of D")
    beta1: float = setting(0.5, lo=0.0, hi=0.999, label="β1 of Adam")
    z_dim: int = setting(2, options=(1, 2, 4, 8), label="Noise size (z)")
    hidden: int = setting(128, lo=4, hi=512, label="Hidden width")
    n_real: int = setting(2048, lo=64, hi=100_000, label="Real points")
    every: int = setting(50, lo=1, label="Frame interval (generator steps)")  # a frame every this many steps
    seed: int = setting(0, lo=0, hi=2**32 - 1, label="Seed")

    def check(self) -> None:
        if self.batch_size > self.n_real:
            raise ValueError(f"Batch size must be at most the number of real points ({self.n_real:,}), got {self.batch_size}")


# Settings the page suggests, checked with seed 0 (tests/unit/test_gan.py): "healthy" reaches all 8 modes of the
# ring; "collapse" (G learning 10× faster than D, one noise number) puts nearly every sample on one mode. With
# z of size 2 the same learning rates collapse for most of 2,000 steps and only then spread out; z of size 1
# with equal learning rates covers all 8.
PRESETS: dict[str, dict] = {
    "healthy": dict(loss="non-saturating", k=1, lr_g=1e-3, lr_d=1e-3, steps=2000, z_dim=2),
    "collapse": dict(loss="non-saturating", k=1, lr_g=1e-2, lr_d=1e-3, steps=2000, z_dim=1),
}


def toy_centers(kind: str) -> np.ndarray:
    """The mixture's centres [K, 2]: 8 on a circle of radius 2, or a 5×5 grid with spacing 1.2."""
    if kind == "ring":
        a = np.arange(8) * 2 * np.pi / 8
        return np.stack([2 * np.cos(a), 2 * np.sin(a)], 1)
    if kind == "grid":
        g = (np.arange(5) - 2) * 1.2
        return np.stack(np.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)
    raise ValueError(f"the toy data must be one of {', '.join(TOY_MIXTURES)}, got {kind!r}")


def toy_data(kind: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points [n, 2] (float32) of the mixture and the mode each came from [n] (seeded)."""
    centers = toy_centers(kind)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(centers), n)
    x = centers[modes] + SIGMA[kind] * rng.standard_normal((n, 2))
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(modes.astype(np.int64))


@dataclass(frozen=True)
class ModeCoverage:
    counts: list[int]  # samples within 3σ of each mode (nearest centre)
    covered: int  # modes with at least min_share of the samples
    quality: float  # share of samples within 3σ of some mode ("high-quality" samples)
    min_share: float


def mode_coverage(samples: np.ndarray | torch.Tensor, centers: np.ndarray, sigma: float,
                  min_share: float | None = None) -> ModeCoverage:
    """How many of the mixture's modes the samples [N, 2] reach: each sample goes to its nearest
    centre when within 3σ of it; a mode is covered when it holds at least ``min_share`` of all the
    samples (default: a fifth of a fair share, 0.2/K)."""
    s = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != c.shape[1] or len(s) == 0:
        raise ValueError(f"samples must be [N, {c.shape[1]}] with N ≥ 1, got {s.shape}")
    if sigma <= 0:
        raise ValueError("σ must be positive")
    share = 0.2 / len(c) if min_share is None else float(min_share)
    d = np.sqrt(((s[:, None, :] - c[None]) ** 2).sum(-1))  # (N, K)
    nearest = d.argmin(1)
    near = d[np.arange(len(s)), nearest] <= 3 * sigma
    counts = np.bincount(nearest[near], minlength=len(c))
    return ModeCoverage(counts.tolist(), int((counts / len(s) >= share).sum()), float(near.mean()), share)


class ToyGenerator(nn.Module):
    """z [B, z_dim] → a point [B, 2] through two ReLU layers."""

    def __init__(self, z_dim: int = 2, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """A point [B, 2] → a logit [B] through two ReLU layers."""

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)


def build_toy_pair(cfg: ToyConfig) -> GanPair:
    torch.manual_seed(cfg.seed)
    return GanPair(ToyGenerator(cfg.z_dim, cfg.hidden), ToyDiscriminator(cfg.hidden), cfg.z_dim)


@torch.no_grad()
def decision_surface(D: nn.Module, extent: float, n: int = GRID) -> np.ndarray:
    """D(x) = σ(logit) on an n × n grid over [−extent, extent]² ([n, n], row i = y value i, rising)."""
    g = torch.linspace(-extent, extent, n)
    yy, xx = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([xx.ravel(), yy.ravel()], 1)
    return torch.sigmoid(D(pts)).view(n, n).numpy().astype(np.float32)


@dataclass
class ToyFrame:
    step: int
    fake: np.ndarray  # [N_FAKE, 2]
    surface: np.ndarray  # [GRID, GRID] D(x)
    covered: int
    quality: float
    d_loss: float
    g_loss: float


@dataclass
class ToyResult(RunOutcome):
    """What a toy GAN training made, as plain data (also a partial one, when stopped or diverged)."""

    config: ToyConfig
    real: np.ndarray  # [≤ 1000, 2] real points to draw
    centers: np.ndarray
    sigma: float
    extent: float
    frames: list[ToyFrame] = field(default_factory=list)
    rows: list[dict[str, float]] = field(default_factory=list)  # one per generator step
    run_id: str | None = None
    status: str = FINISHED  # of the run: FINISHED, FAILED (diverged) or KILLED (Stop)
    error: str | None = None  # the divergence sentence

    @property
    def final_coverage(self) -> int | None:
        return self.frames[-1].covered if self.frames else None


def run_toy(ctx: JobContext | None, cfg: ToyConfig) -> ToyResult:
    """The job behind the toy tab: one tracked lane (experiment ``generative``) of a 2-D GAN.

    A frame (samples, decision surface, modes covered) every ``cfg.every`` generator steps and at
    the last; live series ``toy`` (per step) and ``toy/frames``. Returns a :class:`ToyResult`:
    FINISHED; KILLED after a Stop, with the frames so far (the job ends KILLED); FAILED when a loss
    diverged (the run ends FAILED with the sentence, reported through ``ctx.diverged``).
    """
    seed_everything(cfg.seed)
    X, _ = toy_data(cfg.kind, cfg.n_real, cfg.seed)
    centers, sigma, extent = toy_centers(cfg.kind), SIGMA[cfg.kind], EXTENT[cfg.kind]
    pair = build_toy_pair(cfg)
    fixed_z = pair.noise(N_FAKE, torch.Generator().manual_seed(cfg.seed + 1))
    res = ToyResult(cfg, X[:1000].numpy(), centers, sigma, extent)
    per_epoch = max((cfg.n_real // cfg.batch_size) // cfg.k, 1)
    epochs = math.ceil(cfg.steps / per_epoch)
    cpu = torch.device("cpu")

    with LaneRun(ctx, PAGE, asdict(cfg), name="toy GAN", series="toy",
                 run_name=f"toy {cfg.kind} · {cfg.loss} · k={cfg.k}", tags={tracking.TAG_KIND: "toy"}) as lane:

        def frame(step: int, row: Mapping[str, float]) -> None:
            with torch.no_grad():
                fake = pair.G(fixed_z).numpy()
            cov = mode_coverage(fake, centers, sigma)
            f = ToyFrame(step, fake, decision_surface(pair.D, extent), cov.covered, cov.quality,
                         row.get("d_loss", math.nan), row.get("g_loss", math.nan))
            res.frames.append(f)
            lane.run.log_metrics({"modes_covered": f.covered, "quality": f.quality}, step)
            if ctx is not None:
                ctx.push("toy/frames", step=step, covered=f.covered, quality=f.quality)
                ctx.image("frame", f)

        def on_step(step: int, epoch: int, values: Mapping[str, float]) -> None:
            res.rows.append({"step": step, "epoch": epoch, **values})
            if step % cfg.every == 0 or step == cfg.steps:
                frame(step, values)
            if ctx is not None and step % 20 == 0:
                ctx.report(None, f"generator step {step} of {cfg.steps}")

        if ctx is not None:
            ctx.image("real", (res.real, extent))
        frame(0, {})
        step = GanStep(pair, X, loss=cfg.loss, k=cfg.k, batch_size=cfg.batch_size, lr_g=cfg.lr_g, lr_d=cfg.lr_d,
                       beta1=cfg.beta1, seed=cfg.seed, device=cpu)
        loop = Loop(step, callbacks=[Hooks(on_step)], sync_every=1)  # a frame sees G and D right after its step
        with cpu_speed(cpu):  # one CPU thread, denormals flushed
            finished = lane.fit(loop, epochs, total_steps=cfg.steps, max_steps=cfg.steps)
        if finished and res.frames:
            lane.run.log_metrics({"final_modes_covered": res.frames[-1].covered}, len(res.rows))
    res.run_id, res.status, res.error = lane.lane.run_id, lane.lane.status, lane.lane.error
    return res
