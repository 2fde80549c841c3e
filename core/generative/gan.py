"""Generative adversarial networks on digits: the settings, the two-player step for the lab's one
training loop (also used by the 2-D toy, :mod:`core.generative.toy`) and the page's job. The losses
are in :mod:`core.generative.losses`, the players in :mod:`core.generative.nets`, the images in
:mod:`core.generative.data`.

:class:`GanStep` is the two-player step that :class:`core.training.Loop` runs: k discriminator
steps (each on a fresh real batch) per generator step. :func:`run_gan` is the page's job: a
tracked lane (experiment ``generative``) with per-step curves, samples from a fixed noise batch
after every epoch (the timeline), the class coverage and Fréchet distance of 1,000 samples per
epoch (:mod:`core.generative.classifier`); it hands back plain data (:class:`GanResult`), and
:func:`load_generator` rebuilds the trained generator from the run's logged weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from core import tracking
from core.device import cpu_speed, pick_device, seed_everything
from core.experiment import FINISHED, KILLED, LaneRun, RunOutcome
from core.generative.data import GAN_DATASETS, load_gan_data
from core.generative.losses import GAN_LOSSES, discriminator_loss, generator_loss
from core.generative.nets import GAN_MODELS, GanPair, build_generator, build_pair, generate, to_pixels
from core.identity import LOCAL_USER, User
from core.jobs import JobContext
from core.settings import Settings, setting
from core.training import Hooks, Loop, Step

__all__ = [
    "DEFAULT_EPOCHS",
    "EXPLODED",
    "PAGE",
    "SAMPLE_TILES",
    "GanConfig",
    "GanResult",
    "GanStep",
    "load_generator",
    "run_gan",
]

PAGE = "generative"
# epochs that give recognisable digits on the MNIST sample in about a minute on a 2-core CPU (measured)
DEFAULT_EPOCHS = {"mlp": 30, "dcgan": 15, "cgan": 30}
# how a grid of samples is tiled (core.artifacts.image_grid), in the run's images and on the page: light
# strokes on black, a dark-grey gap between the cells and none around them
SAMPLE_TILES = {"pad": 2, "background": 90 / 255, "border": False}


# ------------------------------------------------------------------------------------------ the config


@dataclass(frozen=True)
class GanConfig(Settings):
    """One GAN training (also the tracked run's params)."""

    model: str = setting("dcgan", choices=GAN_MODELS, label="Model", labels=GAN_MODELS)
    dataset: str = setting("mnist_sample", choices=GAN_DATASETS, label="Training images", labels=GAN_DATASETS)
    loss: str = setting("non-saturating", choices=GAN_LOSSES, widget="radio", label="Generator loss")
    k: int = setting(1, lo=1, hi=5, widget="slider", label="k: discriminator steps per generator step")
    # passes of the discriminator over the training images
    epochs: int = setting(DEFAULT_EPOCHS["dcgan"], lo=1, hi=60, widget="slider",
                          label="Epochs (passes of D over the images)")
    batch_size: int = setting(32, options=(16, 32, 64, 128), label="Mini-batch size")
    lr_g: float = setting(2e-4, lo=1e-6, hi=1e3, fmt="%g", label="Learning rate of G (Adam, β1 = 0.5)")
    lr_d: float = setting(2e-4, lo=1e-6, hi=1e3, fmt="%g", label="Learning rate of D")
    beta1: float = setting(0.5, lo=0.0, hi=0.999, label="β1 of Adam (Radford et al.)")
    z_dim: int = setting(64, options=(2, 8, 16, 32, 64, 100, 128), label="Noise size (z)")
    # DCGAN: channels of the first convolution; MLP: units of the first hidden layer ×8
    width: int = setting(16, options=(8, 16, 32, 64), label="Width (DCGAN: channels; MLP: units ÷ 8)")
    max_train: int = setting(0, lo=0, label="Training images used (0 = all)")  # > 0: tests, quick looks
    # samples from the fixed noise batch shown per epoch (a square number; cGAN: √n per class)
    n_timeline: int = setting(64, lo=1, hi=1024, label="Samples per epoch in the timeline")
    # samples per epoch for class coverage and the Fréchet distance (0 = off)
    eval_samples: int = setting(1000, lo=0, hi=100_000, label="Samples for the evaluation")
    seed: int = setting(0, lo=0, hi=2**32 - 1, label="Seed")

    def check(self) -> None:
        if math.isqrt(self.n_timeline) ** 2 != self.n_timeline:
            raise ValueError(f"Samples per epoch in the timeline must be a square number (16, 64, …), got {self.n_timeline}")
        if 0 < self.eval_samples < 50:
            raise ValueError(f"Samples for the evaluation must be 0 (off) or at least 50, got {self.eval_samples}")

    @property
    def conditional(self) -> bool:
        return self.model == "cgan"


# ------------------------------------------------------------------------------------------ the step


# A BCE loss of a million means logits of a million: the weights have blown up even if no NaN came yet
# (Adam's normalised steps keep a huge learning rate's losses finite for a long while). The GAN's step
# declares it as its explosion bound, on top of the loop's NaN/inf rule.
EXPLODED = 1e6


class GanStep(Step):
    """The two-player step of a GAN for :class:`core.training.Loop`, with Adam for both players.

    ``X`` [N, ...] are real examples in G's output range (``y`` [N] their labels, for a conditional
    pair). One epoch is one pass of the discriminator over ``X`` in shuffled whole batches
    (``batches`` yields each batch's indices). Each call is one D step (ascend V on the real batch
    and as many fresh fakes, G held fixed); after every ``k``-th D step comes one G step on a fresh
    noise batch (labels drawn uniformly for a conditional pair), and the call reports that G step's
    values: ``d_loss`` (−V of the last D step), ``g_loss``, ``d_real`` = mean D(x) and ``d_fake`` =
    mean D(G(z)) (both of the last D step) and ``V``; a D-only call reports nothing (``None``), so
    the loop counts generator steps. Every random draw (shuffles, noise, labels) comes from one
    generator seeded with ``seed``, in the same order on every device.

    The monitored value is ``g_loss``: the steps counted are G's, each row is made by a G step, and
    G is the network kept (``model``) and sampled. A loss that turns NaN, infinite or beyond
    :data:`EXPLODED` ends the training (``bound``). ``measure(epoch)``, when given, returns what the
    epoch's record should hold (the Fréchet distance, class coverage).
    """

    monitor = "g_loss"
    bound = EXPLODED
    labels = {"d_loss": "discriminator loss", "g_loss": "generator loss"}
    unit = "generator step"
    advice = "try smaller learning rates (2e-4 is the DCGAN paper's)"

    def __init__(self, pair: GanPair, X: torch.Tensor, y: torch.Tensor | None = None, *, loss: str = "non-saturating",
                 k: int = 1, batch_size: int = 64, lr_g: float = 2e-4, lr_d: float = 2e-4, beta1: float = 0.5,
                 seed: int = 0, device: torch.device | str | None = None,
                 measure: Callable[[int], dict[str, float]] | None = None) -> None:
        if loss not in GAN_LOSSES:
            raise ValueError(f"the generator loss must be one of {tuple(GAN_LOSSES)}, got {loss!r}")
        if k < 1 or batch_size < 1:
            raise ValueError("k and the batch size must be at least 1")
        if pair.n_classes and y is None:
            raise ValueError("a conditional GAN needs the labels y")
        if len(X) == 0:
            raise ValueError("the training set is empty")
        self.device = dev = torch.device(device) if device is not None else pick_device()
        self.pair, self.loss, self.k, self.measure = pair, loss, k, measure
        self.G, self.D = pair.G.to(dev).train(), pair.D.to(dev).train()
        self.model = self.G
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=(beta1, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=(beta1, 0.999))
        self.X = X.to(dev)
        self.y = y.to(dev) if y is not None and pair.n_classes else None
        self.n = len(X)
        self.bs = min(batch_size, self.n)
        self.generator = torch.Generator().manual_seed(seed)
        self.d_steps = self.g_steps = 0
        self._last_d: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def batches(self, epoch: int) -> Iterable[torch.Tensor]:
        order = torch.randperm(self.n, generator=self.generator).to(self.device)  # drawn as the epoch starts
        # whole batches only (batch norm and the means stay comparable)
        return (order[i : i + self.bs] for i in range(0, self.n - self.bs + 1, self.bs))

    def _labels(self, m: int) -> torch.Tensor | None:
        if not self.pair.n_classes:
            return None
        return torch.randint(0, self.pair.n_classes, (m,), generator=self.generator).to(self.device)

    def __call__(self, idx: torch.Tensor) -> dict[str, torch.Tensor] | None:
        G, D, pair, bs, dev = self.G, self.D, self.pair, self.bs, self.device
        xb, yb = self.X[idx], (self.y[idx] if self.y is not None else None)
        # D step: maximise V on this real batch and a fresh fake batch (G held fixed)
        with torch.no_grad():
            fake = G(pair.noise(bs, self.generator, dev), yb)
        real_logits, fake_logits = D(xb, yb), D(fake, yb)
        d_loss = discriminator_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.d_steps += 1
        self._last_d = (d_loss.detach(), torch.sigmoid(real_logits.detach()).mean(),
                        torch.sigmoid(fake_logits.detach()).mean())
        if self.d_steps % self.k:
            return None
        # G step: D held fixed (only G's optimiser steps; D's gradients are cleared before its next step)
        yg = self._labels(bs)
        g_loss = generator_loss(D(G(pair.noise(bs, self.generator, dev), yg), yg), self.loss)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.g_steps += 1
        d, d_real, d_fake = self._last_d
        return {"d_loss": d, "g_loss": g_loss.detach(), "d_real": d_real, "d_fake": d_fake, "V": -d}

    def end_epoch(self, epoch: int) -> dict[str, float]:
        return self.measure(epoch) if self.measure is not None else {}


# ------------------------------------------------------------------------------------------ the job


@dataclass
class GanResult(RunOutcome):
    """What a GAN training made, as plain data (also a partial one, when stopped or diverged): the
    curves, the timeline, the measures and the run id; the page loads the generator from the run's
    weights (:func:`load_generator`)."""

    config: GanConfig
    rows: list[dict[str, float]]  # one per generator step: step, epoch, d_loss, g_loss, d_real, d_fake, V
    epochs: list[dict[str, float]]  # epoch, train_loss (mean g_loss), seconds, fd, entropy_bits, classes_covered
    # the fixed noise batch's samples after each epoch, as grey uint8 pictures [rows, cols, 28, 28] (cGAN: a row
    # per class); the page tiles them (core.artifacts.image_grid with SAMPLE_TILES)
    timeline: list[np.ndarray]
    coverage: list[int]  # predicted-class counts of the last evaluation's samples
    classes: tuple[str, ...]
    real: np.ndarray  # real training images as grey uint8 pictures [n_timeline, 28, 28]
    device: str
    seconds: float
    n_classes: int = 0  # > 0: a conditional GAN (the page can ask it for one class)
    classifier_accuracy: float | None = None
    run_id: str | None = None
    status: str = FINISHED  # of the run: FINISHED, FAILED (diverged) or KILLED (Stop)
    error: str | None = None  # the divergence sentence

    @property
    def has_generator(self) -> bool:
        """The run saved G's weights (a finished or stopped training)."""
        return self.run_id is not None and self.status in (FINISHED, KILLED)

    @property
    def epochs_done(self) -> int:
        return len(self.timeline)


def run_gan(ctx: JobContext | None, cfg: GanConfig, *, device: torch.device | str | None = None) -> GanResult:
    """The job behind the GAN tab: one tracked lane (experiment ``generative``) of one GAN.

    Logs the config, per G step d_loss / g_loss / d_real / d_fake / V, per epoch the Fréchet distance
    and class coverage of ``cfg.eval_samples`` samples and the fixed-noise samples (as
    ``images/samples_epoch_NNN.png``), the curves and G's weights (``model/generator.pt``, also
    after a Stop). Live: rows in series ``gan``, ``gan/epochs`` and the image ``samples``. Returns
    a :class:`GanResult`: FINISHED; KILLED after a Stop (the timeline so far; the job ends KILLED);
    FAILED when a loss diverged (the run ends FAILED with the sentence, which the job reports once
    through ``ctx.diverged``; the job itself finishes).
    """
    from core.generative.classifier import Coverage, class_coverage, digit_classifier, frechet_distance, gaussian_stats

    dev = torch.device(device) if device is not None else pick_device()
    seed_everything(cfg.seed)
    if ctx is not None:
        ctx.report(0.0, f"loading {cfg.dataset}")
    data = load_gan_data(cfg.dataset, max_train=cfg.max_train, seed=cfg.seed)
    X, y = data.train
    real = to_pixels(X[: cfg.n_timeline])
    clf = None
    if cfg.eval_samples:
        if ctx is not None:
            ctx.report(0.0, "training the digit classifier (once per dataset)")
        clf = digit_classifier(cfg.dataset, seed=cfg.seed, ctx=ctx)
        if clf is None:  # Stop was pressed while the classifier trained: no GAN was trained
            return GanResult(cfg, [], [], [], [], data.classes, real, dev.type, 0.0, status=KILLED)
    pair = build_pair(cfg, tuple(X.shape[1:]), len(data.classes))
    side = math.isqrt(cfg.n_timeline)
    # conditional: one row per class (side samples each), so each row of the grid is one label
    n_fixed = pair.n_classes * side if pair.n_classes else cfg.n_timeline
    fixed_z = pair.noise(n_fixed, torch.Generator().manual_seed(cfg.seed + 1))
    fixed_y = torch.arange(n_fixed) // side if pair.n_classes else None
    eval_gen = torch.Generator().manual_seed(cfg.seed + 2)
    eval_z = pair.noise(cfg.eval_samples, eval_gen) if cfg.eval_samples else None
    eval_y = torch.arange(cfg.eval_samples) % pair.n_classes if pair.n_classes and cfg.eval_samples else None
    real_stats = gaussian_stats(clf.features(data.dev[0][: cfg.eval_samples])) if clf is not None else None
    result = GanResult(cfg, [], [], [], [], data.classes, real, dev.type, 0.0, pair.n_classes,
                       clf.accuracy if clf is not None else None)
    t0 = time.perf_counter()
    n_batches = len(X) // min(cfg.batch_size, len(X))
    total_g = max(n_batches * cfg.epochs // cfg.k, 1)
    run_name = f"{cfg.model} · {cfg.loss} · k={cfg.k} · {cfg.epochs} epochs"

    def measure(epoch: int) -> dict[str, float]:
        if clf is None or eval_z is None:
            return {}
        fake = generate(pair, eval_z, eval_y)
        cov: Coverage = class_coverage(clf.predict(fake), len(data.classes))
        result.coverage = cov.counts
        return {"fd": frechet_distance(*real_stats, *gaussian_stats(clf.features(fake))),
                "entropy_bits": cov.entropy_bits, "classes_covered": cov.covered}

    def on_step(step: int, epoch: int, values: Mapping[str, float]) -> None:
        result.rows.append({"step": step, "epoch": epoch, **values})
        if ctx is not None and step % 5 == 0:
            ctx.report(None, f"epoch {epoch} of {cfg.epochs} · generator step {step}")

    with LaneRun(ctx, PAGE, asdict(cfg), name="GAN", series="gan", run_name=run_name,
                 tags={tracking.TAG_DEVICE: dev.type, tracking.TAG_KIND: "gan"}) as lane:
        run = lane.run
        run.log_tiles(real / 255, "real.png", cols=math.ceil(math.sqrt(len(real))), **SAMPLE_TILES)

        def on_epoch(epoch: int, record: dict[str, float]) -> None:
            samples = to_pixels(generate(pair, fixed_z, fixed_y))
            result.timeline.append(samples.reshape(-1, side, *samples.shape[1:]))
            run.log_tiles(samples / 255, f"samples_epoch_{epoch:03d}.png", cols=side, **SAMPLE_TILES)
            if ctx is not None:
                ctx.image("samples", result.timeline[-1])

        step = GanStep(pair, X, y, loss=cfg.loss, k=cfg.k, batch_size=cfg.batch_size, lr_g=cfg.lr_g, lr_d=cfg.lr_d,
                       beta1=cfg.beta1, seed=cfg.seed, device=dev, measure=measure)
        loop = Loop(step, callbacks=[Hooks(on_step, on_epoch)], sync_every=10 if dev.type != "cpu" else 1)
        result.epochs = loop.history.epochs
        try:
            with cpu_speed(dev):
                finished = lane.fit(loop, cfg.epochs, total_steps=total_g)
            if finished and pair.n_classes:
                labels = torch.arange(10 * pair.n_classes) // 10
                z = pair.noise(len(labels), torch.Generator().manual_seed(cfg.seed + 3))
                run.log_tiles(to_pixels(generate(pair, z, labels)) / 255, "by_label.png", cols=10, **SAMPLE_TILES)
            if finished or lane.lane.stopped:  # what was trained until Stop stays usable on the page
                run.log_state_dict(pair.G, "generator.pt")
            if finished:
                run.log_metrics({"seconds": time.perf_counter() - t0}, len(result.rows))
        finally:
            _log_curves(run, result.rows, result.epochs)
    result.seconds = time.perf_counter() - t0
    result.run_id, result.status, result.error = lane.lane.run_id, lane.lane.status, lane.lane.error
    return result


def load_generator(run_id: str, user: User = LOCAL_USER) -> nn.Module:
    """The generator a GAN run trained (:func:`run_gan`), rebuilt from the run's params and its logged
    weights, on the CPU in eval mode; it has ``z_dim`` and ``n_classes``. ValueError with a plain
    message when it cannot be rebuilt."""
    params = tracking.run_params(run_id, user=user)
    try:
        model, z_dim, width = params["model"], int(params["z_dim"]), int(params["width"])
    except (KeyError, ValueError) as exc:
        raise ValueError("this run is not a GAN training of this lab") from exc
    state = tracking.saved_weights(run_id, "model/generator.pt", user=user)
    # a conditional G's label embedding says how many classes it was trained on
    n_classes = int(state["embed.weight"].shape[0]) if "embed.weight" in state else 0
    G = build_generator(model, z_dim, width, (1, 28, 28), n_classes)
    G.load_state_dict(state)
    return G.eval()


def _log_curves(run: tracking.TrackedRun, rows: list[dict[str, float]], epoch_rows: list[dict[str, float]]) -> None:
    """The loss and D-output curves (and the FD per epoch) as PNG artifacts; a picture never fails the run."""
    if not rows:
        return
    steps = [r["step"] for r in rows]
    smoothing = 0.9 if len(rows) > 200 else 0.0
    run.log_curves({"D loss (−V)": (steps, [r["d_loss"] for r in rows]), "G loss": (steps, [r["g_loss"] for r in rows])},
                   "losses.png", title="Losses per generator step", smoothing=smoothing)
    run.log_curves({"mean D(x)": (steps, [r["d_real"] for r in rows]),
                    "mean D(G(z))": (steps, [r["d_fake"] for r in rows])},
                   "d_outputs.png", title="What the discriminator says", ylabel="D", smoothing=smoothing)
    fd = [(r["epoch"], r["fd"]) for r in epoch_rows if "fd" in r]
    if fd:
        run.log_curves({"FD": ([e for e, _ in fd], [v for _, v in fd])}, "fd.png", title="Fréchet distance per epoch",
                       xlabel="epoch", ylabel="FD")
