"""The variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2014),
trained as one tracked run.

The encoder maps an image x to the mean μ and log-variance log σ² of a Gaussian
q(z|x) = N(μ, σ²); a code is drawn with the reparameterization trick z = μ + σ⊙ε,
ε ~ N(0, I) (so gradients flow to μ and σ); the decoder maps z to one logit per pixel of
p(x|z). Training maximises the evidence lower bound, i.e. minimises

    L = −E_q[log p(x|z)] + β·KL(q(z|x) ‖ N(0, I))

(β = 1: the plain VAE; β ≠ 1: the β-VAE of Higgins et al., 2017). Pixels are in [0, 1] and
p(x|z) is a Bernoulli per pixel, so −log p(x|z) is the binary cross-entropy between the
image and the decoder's probabilities, summed over pixels; the expectation is estimated
with one sample of z per image, and everything is averaged over the batch.

Training goes through the shared :func:`core.experiment.train_tracked` (a supervised step in the one loop):
the data are ``(X, X)`` (an autoencoder's target is its input), the model's forward packs
``[x̂ logits, μ, log σ²]`` into one tensor and :class:`VAEObjective` unpacks it. The
objective also adds up both terms, so each epoch logs the reconstruction and KL terms of
the training steps and of the dev set as separate metrics. The job hands back plain data
(:class:`VAEResult`); :func:`load_vae` rebuilds the trained model from the run's logged weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.cnn.data import ImageData, prepare_images
from core.device import pick_device, seed_everything
from core.experiment import Lane, train_tracked
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.settings import Settings, setting
from core.training import Callback

__all__ = [
    "ARCHS",
    "VAE_DATASETS",
    "VAE",
    "VAEConfig",
    "VAEObjective",
    "VAEResult",
    "decode_latents",
    "encode_mean",
    "interpolate",
    "kl_divergence",
    "latent_2d",
    "latent_grid",
    "load_vae_images",
    "load_vae",
    "reconstruct",
    "reconstruction_loss",
    "reparameterize",
    "run_vae",
    "sample_prior",
]

PAGE = "generative"
ARCHS = {"MLP": "fully connected encoder and decoder (one hidden layer each)",
         "conv": "two strided convolutions down, two transposed convolutions up"}
VAE_DATASETS = {
    "mnist_sample": "MNIST sample: 5,000 digits, 28×28 (offline)",
    "digits": "scikit-learn digits: 1,797 digits, 8×8 (offline)",
    "mnist": "MNIST: 70,000 digits, 28×28 (download)",
    "fashion_mnist": "Fashion-MNIST: 70,000 clothing images, 28×28 (download)",
}
NATIVE_SIZE = {"mnist_sample": 28, "digits": 8, "mnist": 28, "fashion_mnist": 28}
GRID_EXTENT = 2.5  # the latent grid covers [−2.5, 2.5] per shown dimension (±2.5 σ of the prior)


# --------------------------------------------------------------------------- the course's formulas


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = μ + σ⊙ε with σ = exp(½·log σ²) and ε ~ N(0, I); μ, logvar and z are [B, L].

    Differentiable in μ (∂z/∂μ = 1) and in log σ² (∂z/∂log σ² = ½·σ·ε). ``generator``
    draws ε reproducibly (it must live on the tensors' device)."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) in closed form, −½·Σ_j (1 + log σ²_j − μ_j² − σ²_j), summed
    over the latent dimensions (the last axis) and averaged over the batch: μ, logvar
    [B, L] (or [L], a batch of one) → a scalar."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    per_example = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    return per_example.mean() if per_example.dim() else per_example


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x|z) for pixels in [0, 1] under a Bernoulli per pixel with probability
    sigmoid(logit): the binary cross-entropy summed over the pixels, averaged over the
    batch. ``logits`` and ``x``: [B, ...] of the same number of elements per example."""
    b = x.shape[0]
    return F.binary_cross_entropy_with_logits(logits.reshape(b, -1), x.reshape(b, -1), reduction="sum") / max(b, 1)


# --------------------------------------------------------------------------- the model


class VAE(nn.Module):
    """Encoder → (μ, log σ²) → z = μ + σ⊙ε → decoder → one logit per pixel.

    ``arch="MLP"``: [C·S·S] → hidden (ReLU) → 2L and L → hidden (ReLU) → C·S·S.
    ``arch="conv"``: two 4×4 stride-2 convolutions (S → S/4) → 2L, and back with two
    transposed convolutions (S must be divisible by 4).
    ``forward(x)`` returns ``[B, C·S·S + 2L]``: the logits, μ and log σ² side by side,
    so that :func:`core.training.fit` can pass them to :class:`VAEObjective` as one tensor.
    """

    def __init__(self, arch: str = "MLP", *, image_size: int = 28, channels: int = 1, latent_dim: int = 2,
                 hidden: int = 256, width: int = 32) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHS)}")
        if arch == "conv" and image_size % 4:
            raise ValueError("the convolutional VAE needs an image size divisible by 4")
        self.arch, self.size, self.channels, self.latent_dim = arch, image_size, channels, latent_dim
        pixels = channels * image_size * image_size
        if arch == "MLP":
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU())
            self.to_stats = nn.Linear(hidden, 2 * latent_dim)
            self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, pixels))
        else:
            s4 = image_size // 4
            self.encoder = nn.Sequential(
                nn.Conv2d(channels, width, 4, 2, 1), nn.ReLU(),  # (B, w, S/2, S/2)
                nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),  # (B, 2w, S/4, S/4)
                nn.Flatten(),
            )
            self.to_stats = nn.Linear(2 * width * s4 * s4, 2 * latent_dim)
            self.decoder = nn.Sequential(
                nn.Linear(latent_dim, 2 * width * s4 * s4), nn.ReLU(),
                nn.Unflatten(1, (2 * width, s4, s4)),
                nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # (B, w, S/2, S/2)
                nn.ConvTranspose2d(width, channels, 4, 2, 1),  # (B, C, S, S) logits
                nn.Flatten(),
            )

    @property
    def pixels(self) -> int:
        return self.channels * self.size * self.size

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, C, S, S] in [0, 1] → (μ, log σ²), each [B, L]."""
        stats = self.to_stats(self.encoder(x))
        return stats[:, : self.latent_dim], stats[:, self.latent_dim:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """[B, L] → pixel logits [B, C, S, S] (sigmoid gives the Bernoulli probabilities)."""
        return self.decoder(z).view(-1, self.channels, self.size, self.size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        logits = self.decoder(z).reshape(len(x), -1)  # (B, C·S·S)
        return torch.cat([logits, mu, logvar], dim=1)  # (B, C·S·S + 2L)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The packed output → (logits [B, C·S·S], μ [B, L], log σ² [B, L])."""
        p, L = self.pixels, self.latent_dim
        return out[:, :p], out[:, p: p + L], out[:, p + L:]


class VAEObjective:
    """``loss_fn(packed, x)`` for :func:`core.training.fit`: reconstruction + β·KL.

    It adds up both terms on the device (weighted by batch size): those of training steps
    (gradients on) and those of evaluations (gradients off) apart; :meth:`pop` returns their
    means since the last call, e.g. ``{"train_recon", "train_kl", "dev_recon", "dev_kl"}``."""

    def __init__(self, beta: float, latent_dim: int) -> None:
        self.beta, self.latent_dim = float(beta), int(latent_dim)
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def terms(self, out: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction, KL) of a packed output against its input images."""
        p = x[0].numel()
        L = self.latent_dim
        if out.shape[1] != p + 2 * L:
            raise ValueError(f"the output has {out.shape[1]} columns, expected {p} pixels + 2 × {L} latent values")
        return reconstruction_loss(out[:, :p], x), kl_divergence(out[:, p: p + L], out[:, p + L:])

    def __call__(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        recon, kl = self.terms(out, x)
        part = "train" if torch.is_grad_enabled() else "dev"
        both = torch.stack([recon.detach(), kl.detach()]) * len(x)
        self._sums[part] = self._sums[part] + both if part in self._sums else both
        self._counts[part] = self._counts.get(part, 0) + len(x)
        return recon + self.beta * kl

    def pop(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for part, total in self._sums.items():
            recon, kl = (total / max(self._counts[part], 1)).tolist()
            out[f"{part}_recon"], out[f"{part}_kl"] = recon, kl
        self._sums, self._counts = {}, {}
        return out


# --------------------------------------------------------------------------- config, data, result


@dataclass(frozen=True)
class VAEConfig(Settings):
    """One VAE training (also the tracked run's params)."""

    dataset: str = setting("mnist_sample", choices=VAE_DATASETS, label="Images for the VAE",
                           labels=VAE_DATASETS)
    arch: str = setting("MLP", choices=ARCHS, widget="radio", label="Encoder and decoder",
                        help="; ".join(f"{k}: {v}" for k, v in ARCHS.items())
                        + ". On a CPU the convolutional one is about ten times slower per epoch: try 3–5 epochs.")
    latent_dim: int = setting(8, options=(2, 4, 8, 16, 32, 64), label="Latent size L",
                              help="2 shows the latent space as it is; larger sizes are drawn through PCA.")
    # weight of the KL term (β-VAE); 1 = the plain VAE
    beta: float = setting(1.0, options=(0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0), label="β (weight of the KL term)")
    epochs: int = setting(15, lo=1, hi=200, widget="slider", label="Epochs")
    batch_size: int = setting(64, options=(16, 32, 64, 128, 256, 512), label="Mini-batch size")
    lr: float = setting(2e-3, lo=1e-5, hi=1e6, fmt="%g", label="Learning rate (Adam)")
    hidden: int = setting(256, lo=8, hi=2048, label="Hidden units (MLP)")
    width: int = setting(32, lo=4, hi=128, label="Width (channels of the first convolution)")
    max_train: int = setting(0, lo=0, label="Training images used (0 = all)")
    seed: int = setting(0, lo=0, hi=2**32 - 1, label="Seed")


def load_vae_images(cfg: VAEConfig) -> ImageData:
    """The dataset at its own size, split 80/20 with the seed; pixels in [0, 1] (not
    standardised: the Bernoulli likelihood needs them in [0, 1]). Raises
    :class:`core.data.DatasetUnavailable` when a download set cannot be had."""
    data = prepare_images(cfg.dataset, size=NATIVE_SIZE[cfg.dataset], max_train=cfg.max_train, seed=cfg.seed)
    spec = data.spec
    return ImageData(spec, (spec.denormalize(data.train[0]), data.train[1]),
                     (spec.denormalize(data.dev[0]), data.dev[1]))


def pack_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images in [0, 1] as compact plain data: uint8 (the pixel × 255) when every pixel is a multiple of
    1/255 (8-bit sources such as MNIST: 4× smaller), float32 otherwise. :func:`unpack_images` undoes it."""
    x = np.asarray(images.detach().cpu().float().numpy() if isinstance(images, torch.Tensor) else images, np.float32)
    scaled = x * 255
    levels = np.round(scaled)
    if x.size and np.abs(scaled - levels).max() < 1e-3:
        return levels.astype(np.uint8)
    return x


def unpack_images(packed: np.ndarray) -> torch.Tensor:
    """The float32 images in [0, 1] of :func:`pack_images`."""
    if packed.dtype == np.uint8:
        return torch.from_numpy(packed.astype(np.float32) / 255)
    return torch.from_numpy(np.asarray(packed, np.float32))


@dataclass
class VAEResult(Outcome):
    """What a VAE training leaves for the page, as plain data: the lane (status, run id, history),
    the loss terms per epoch and the dev images with their labels (for the views). The page loads
    the trained model from the run's weights (:func:`load_vae`): a finished or stopped run saved them."""

    lane: Lane
    cfg: VAEConfig
    classes: tuple[str, ...]
    dev_images: np.ndarray  # [N, C, S, S] packed (see pack_images); images() gives them as floats in [0, 1]
    dev_labels: np.ndarray  # [N] int64
    terms: list[dict[str, float]] = field(default_factory=list)  # per epoch: train/dev recon and KL
    device: str = "cpu"

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.lane.stopped

    @property
    def has_model(self) -> bool:
        """The run saved the model's weights (it finished, or was stopped)."""
        return self.lane.run_id is not None and (self.lane.finished or self.lane.stopped)

    def images(self) -> torch.Tensor:
        """The dev images [N, C, S, S] as float32 in [0, 1]."""
        return unpack_images(self.dev_images)

    @property
    def final(self) -> dict[str, float]:
        return self.terms[-1] if self.terms else {}


class _Terms(Callback):
    """Per epoch: the objective's reconstruction and KL terms to the result and the live series ``"vae/terms"``."""

    def __init__(self, objective: VAEObjective, ctx: JobContext | None, rows: list[dict[str, float]]) -> None:
        self.objective, self.ctx, self.rows = objective, ctx, rows

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        row = {"epoch": epoch, **self.objective.pop()}
        if "dev_recon" in row:
            row["dev_loss"] = row["dev_recon"] + self.objective.beta * row["dev_kl"]
        self.rows.append(row)
        if self.ctx is not None:
            self.ctx.push("vae/terms", **row)


# --------------------------------------------------------------------------- using a trained VAE


def _eval(model: VAE):
    device = next(model.parameters()).device
    return device, model.training


@torch.no_grad()
def encode_mean(model: VAE, x: torch.Tensor, batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(μ, log σ²) of images [N, C, S, S] as float arrays [N, L]."""
    device, was = _eval(model)
    model.eval()
    mus, lvs = [], []
    try:
        for i in range(0, len(x), batch_size):
            mu, lv = model.encode(x[i: i + batch_size].to(device))
            mus.append(mu.float().cpu())
            lvs.append(lv.float().cpu())
    finally:
        model.train(was)
    if not mus:
        return np.zeros((0, model.latent_dim), np.float32), np.zeros((0, model.latent_dim), np.float32)
    return torch.cat(mus).numpy(), torch.cat(lvs).numpy()


@torch.no_grad()
def decode_latents(model: VAE, z: np.ndarray | torch.Tensor) -> np.ndarray:
    """Latent codes [N, L] → images [N, S, S] (grey) of Bernoulli probabilities in [0, 1]."""
    device, was = _eval(model)
    model.eval()
    try:
        z = torch.as_tensor(np.asarray(z, np.float32)).to(device)
        p = torch.sigmoid(model.decode(z).float()).cpu()
    finally:
        model.train(was)
    return p[:, 0].numpy() if model.channels == 1 else p.permute(0, 2, 3, 1).numpy()


def reconstruct(model: VAE, x: torch.Tensor) -> np.ndarray:
    """Images [N, C, S, S] → their reconstructions from the mean code, decode(μ(x))."""
    mu, _ = encode_mean(model, x)
    return decode_latents(model, mu)


def sample_prior(model: VAE, n: int, seed: int = 0) -> np.ndarray:
    """``n`` new images decoded from z ~ N(0, I) drawn with ``seed``."""
    if n < 1:
        raise ValueError("draw at least one sample")
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    return decode_latents(model, z)


def latent_grid(model: VAE, n: int = 15, dims: tuple[int, int] = (0, 1), extent: float = GRID_EXTENT) -> np.ndarray:
    """Decoded images on an n × n grid over [−extent, extent]² of latent dimensions
    ``dims`` (the others at 0): [n, n, S, S], row 0 at the top (the highest second
    coordinate), column 0 at the left (the lowest first coordinate)."""
    a, b = dims
    if a == b or not (0 <= a < model.latent_dim and 0 <= b < model.latent_dim):
        raise ValueError(f"choose two different latent dimensions between 0 and {model.latent_dim - 1}")
    if n < 2:
        raise ValueError("the grid needs at least 2 points per side")
    ticks = np.linspace(-extent, extent, n, dtype=np.float32)
    z = np.zeros((n, n, model.latent_dim), np.float32)
    z[:, :, a] = ticks[None, :]
    z[:, :, b] = ticks[::-1, None]
    images = decode_latents(model, z.reshape(n * n, -1))
    return images.reshape(n, n, *images.shape[1:])


def interpolate(model: VAE, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8) -> np.ndarray:
    """Decoded images along the straight line from μ(x_a) to μ(x_b) in latent space,
    ``steps`` points with both ends: [steps, S, S]. ``x_a``, ``x_b``: [C, S, S]."""
    if steps < 2:
        raise ValueError("interpolate with at least 2 steps")
    mu, _ = encode_mean(model, torch.stack([x_a, x_b]))
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    return decode_latents(model, (1 - t) * mu[0] + t * mu[1])


def latent_2d(mu: np.ndarray) -> tuple[np.ndarray, str]:
    """2-D coordinates of latent means [N, L] and how they were made: L = 2 as they are,
    otherwise their first two principal components (PCA of the centred means)."""
    mu = np.asarray(mu, np.float64)
    if mu.ndim != 2 or mu.shape[1] < 2:
        raise ValueError("give latent means as [N, L] with L ≥ 2")
    if mu.shape[1] == 2:
        return mu.copy(), "the two latent dimensions z₁, z₂ (means μ)"
    centred = mu - mu.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = (s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-12)
    return centred @ vt[:2].T, f"the first two principal components of μ (PCA, {share:.0%} of the variance)"


# --------------------------------------------------------------------------- the job


def run_vae(ctx: JobContext | None, cfg: VAEConfig, device: torch.device | None = None,
            data: ImageData | None = None) -> VAEResult:
    """Train a VAE on ``cfg.dataset`` as one tracked run in the "generative" experiment (a
    job function; ``data`` replaces the loaded images, in [0, 1], e.g. in tests).

    Logs per epoch ``train_recon``, ``train_kl``, ``dev_recon`` and ``dev_kl`` (the run's
    ``dev_loss`` is their β-weighted sum), the weights, and as images: reconstructions under
    their inputs, samples from the prior and the latent grid. Returns a :class:`VAEResult`
    whose lane is FINISHED; KILLED after a Stop (the weights so far are logged; the job ends
    KILLED); or FAILED when the loss became NaN or infinite (the run ends FAILED with the
    sentence, which the job reports once through ``ctx.diverged``; the job itself finishes).
    """
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, f"loading {cfg.dataset}")
    data = data if data is not None else load_vae_images(cfg)
    (xt, _), (xd, yd) = data.train, data.dev
    seed_everything(cfg.seed)
    model = VAE(cfg.arch, image_size=data.spec.size, channels=data.spec.channels, latent_dim=cfg.latent_dim,
                hidden=cfg.hidden, width=cfg.width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    objective = VAEObjective(cfg.beta, cfg.latent_dim)
    result = VAEResult(Lane("VAE"), cfg, tuple(data.spec.classes), pack_images(xd), yd.cpu().numpy().astype(np.int64),
                       device=str(device))
    shown = xd[:8]

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        if ctx is not None:
            ctx.report(None, "drawing reconstructions, samples and the latent grid")
        for row in result.terms:
            run.log_metrics({k: v for k, v in row.items() if k not in ("epoch", "dev_loss")}, int(row["epoch"]))
        last = result.terms[-1] if result.terms else {}
        # final_dev_loss itself is the one every run records (final_measures), measured once on the returned model
        run.log_metrics({f"final_{k}": v for k, v in last.items() if k.startswith("dev_") and k != "dev_loss"},
                        hist.steps_done)
        inputs = shown[:, 0].numpy() if data.spec.channels == 1 else shown.permute(0, 2, 3, 1).numpy()
        run.log_tiles(np.concatenate([inputs, reconstruct(model, shown)]), "reconstructions", cols=len(shown))
        run.log_tiles(sample_prior(model, 64, cfg.seed), "prior_samples", cols=8)
        grid = latent_grid(model, 12)
        run.log_tiles(grid.reshape(-1, *grid.shape[2:]), "latent_grid", cols=12)

    params = {**asdict(cfg), "train_images": len(xt), "dev_images": len(xd), "image_size": data.spec.size,
              "channels": data.spec.channels, "device": str(device)}  # what load_vae needs to rebuild the model
    title = f"VAE ({cfg.arch}, L = {cfg.latent_dim}, β = {cfg.beta:g}) on {cfg.dataset}: loss per step"
    # never raises for a Stop or a divergence: the lane says KILLED or FAILED (with the sentence)
    result.lane = train_tracked(ctx, PAGE, params, model, (xt, xt), opt, name="VAE", dev=(xd, xd),
                                epochs=cfg.epochs, batch_size=cfg.batch_size, loss_fn=objective,
                                callbacks=[_Terms(objective, ctx, result.terms)],
                                run_name=f"VAE {cfg.arch} L={cfg.latent_dim} β={cfg.beta:g} on {cfg.dataset}",
                                tags={tracking.TAG_KIND: "vae"}, device=device, seed=cfg.seed, finish=finish,
                                figure_title=title, measure_accuracy=False)
    return result


def load_vae(run_id: str, user: User = LOCAL_USER) -> VAE:
    """The VAE a run of :func:`run_vae` trained, rebuilt from the run's params and its logged weights,
    on the CPU in eval mode. ValueError with a plain message when it cannot be rebuilt."""

    params = tracking.run_params(run_id, user=user)
    try:
        model = VAE(params["arch"], image_size=int(params["image_size"]), channels=int(params.get("channels", "1")),
                    latent_dim=int(params["latent_dim"]), hidden=int(params["hidden"]), width=int(params["width"]))
    except (KeyError, ValueError) as exc:
        raise ValueError("this run is not a VAE training of this lab") from exc
    state = tracking.saved_weights(run_id, user=user)
    model.load_state_dict(state)
    return model.eval()
