"""Training a siamese embedding network with the triplet loss, as one tracked run.

:func:`run_faces` is a job function: it loads an identity set (:mod:`core.faces.data`),
keeps some identities out of training, trains :class:`~core.faces.embedding.EmbeddingNet`
with online triplet mining through the shared :func:`core.experiment.train_tracked`, and
inside the run evaluates one-shot verification on the never-seen identities (ROC AUC, the
best threshold τ and its accuracy, a ROC PNG). The same evaluation of the untrained network
is kept as the baseline, and ``trained_on`` says honestly what the model has seen. The result is
plain data (the evaluations' arrays, the unseen images, the run id); a page that needs the trained
network loads it from the run with :func:`load_tracked`.

Mini-batches are drawn at random by :func:`core.training.fit` (no P×K sampler): in a
batch of 64–128 images from a few dozen identities most anchors have a positive (digits
0–6, batch 64: > 99.9 %; Olivetti's 30 training people × 10 photos: 88 % with batch 64,
99 % with 128; see :func:`positives_in_random_batches`), and anchors without one are
skipped by the miner.

Observed on digits: batch-hard mining from scratch with batch 128 first collapses every
embedding to nearly one point (the loss sits at α and nearly every triplet is semi-hard
with d ≈ 0; FaceNet warns about this for the hardest negatives), and escapes only later
or with smaller batches; semi-hard and batch-all train at once. Hence the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import tracking
from core.cnn.data import InputSpec, image_to_input
from core.device import pick_device, seed_everything
from core.experiment import FINISHED, KILLED, Lane, train_tracked
from core.faces.data import FACE_SETS, IdentitySet, IdentitySplit, load_identities, split_identities
from core.faces.embedding import EmbeddingNet
from core.faces.triplets import STRATEGIES, counts_to_stats, triplet_terms
from core.faces.verification import OneShotEval, one_shot_evaluation
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.settings import Settings, setting
from core.training import Callback

__all__ = [
    "DEFAULT_UNSEEN",
    "FaceConfig",
    "FaceResult",
    "TripletObjective",
    "Verification",
    "build_embedding_net",
    "dataset_label",
    "embed",
    "embed_images",
    "input_spec",
    "load_tracked",
    "positives_in_random_batches",
    "run_faces",
    "trained_on",
    "verify",
]

PAGE = "faces"
DEFAULT_UNSEEN = {"digits": 3, "mnist_sample": 3, "olivetti": 10, "lfw": 12}


def dataset_label(name: str) -> str:
    """How the page names an identity set: "olivetti (faces, download)", "digits (digits as identities, offline)"."""
    info = FACE_SETS[name]
    kind = "faces, download" if not info.offline else "digits as identities, offline"
    return f"{name.replace('_', ' ')} ({kind})"


@dataclass(frozen=True)
class FaceConfig(Settings):
    """One siamese training (also the tracked run's params).

    ``margin`` α is on the squared-distance scale [0, 4] of the unit sphere; ``strategy`` a key of
    :data:`core.faces.triplets.STRATEGIES` (see the module docstring); mini-batches are random (see the
    module docstring); ``n_unseen`` identities are kept out of training for the one-shot evaluation
    (0: the set's default, :data:`DEFAULT_UNSEEN`); ``random_unseen`` False keeps the last identities
    unseen (digits 7–9), True draws them with the seed; ``width`` is the channels of the first
    convolution; ``n_pairs`` the verification pairs (half same, half different).
    """

    dataset: str = setting("digits", choices=FACE_SETS, labels=dataset_label, label="Identities to train on")
    embedding_dim: int = setting(16, options=(2, 4, 8, 16, 32, 64, 128), label="Embedding size",
                                 help="2 puts every embedding on the unit circle.")
    margin: float = setting(0.2, lo=0.05, hi=1.0, step=0.05, widget="slider", label="Margin α for training")
    strategy: str = setting("semi-hard", choices=STRATEGIES, label="Triplet mining")
    epochs: int = setting(6, lo=1, hi=200, widget="slider", label="Epochs")
    batch_size: int = setting(64, options=(16, 32, 64, 128, 256), label="Mini-batch size")
    lr: float = setting(3e-3, lo=1e-5, hi=1.0, fmt="%g", label="Learning rate (Adam)")
    optimizer: str = setting("Adam", choices=OPTIMIZERS, label="Optimizer")
    n_unseen: int = setting(0, lo=0, hi=60, label="Identities kept unseen (0 = the set's default)")
    seed: int = setting(0, lo=0, hi=2**32 - 1, label="Seed")
    random_unseen: bool = False
    width: int = setting(16, options=(8, 16, 32), label="Channels of the first convolution")
    n_pairs: int = setting(1000, lo=2, hi=100_000, label="Verification pairs")

    def check(self) -> None:
        if self.n_unseen == 0:
            object.__setattr__(self, "n_unseen", DEFAULT_UNSEEN[self.dataset])
        most = FACE_SETS[self.dataset].identities - 2
        if not 2 <= self.n_unseen <= most:
            raise ValueError(f"keep between 2 and {most} identities unseen for {self.dataset}")


@dataclass
class Verification:
    """Two images compared by a trained network."""

    distance: float  # squared distance of the two embeddings, in [0, 4]
    tau: float
    seen: tuple[np.ndarray, np.ndarray]  # what the network saw of each image, in [0, 1]

    @property
    def same(self) -> bool:
        """Judged the same identity: distance ≤ τ."""
        return self.distance <= self.tau


@dataclass
class FaceResult(Outcome):
    """What a finished (or stopped) siamese training leaves for the page (plain data: the network
    itself stays in its tracked run, ``lane.run_id``; see :func:`load_tracked`)."""

    lane: Lane
    spec: InputSpec
    dataset: str
    kind: str  # "faces" | "digits"
    trained_on: str  # an honest sentence about what the model has seen
    names: tuple[str, ...]  # display name per identity id
    train_ids: tuple[int, ...]
    unseen_ids: tuple[int, ...]
    sizes: dict[str, int]
    unseen_images: np.ndarray | None = None  # [N, C, S, S] float32 in [0, 1], row i = evaluation.labels[i]
    evaluation: OneShotEval | None = None  # on the unseen identities, after training (a finished one)
    untrained: OneShotEval | None = None  # the same evaluation before training (the baseline)
    triplet_history: list[dict[str, float]] = field(default_factory=list)  # per epoch: easy/semi-hard/hard/active
    device: str = "cpu"

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.lane.status == KILLED

    @property
    def has_network(self) -> bool:
        """The run saved a network the page can load: a finished training, or one stopped on the way."""
        return self.lane.run_id is not None and self.lane.status in (FINISHED, KILLED)

    @property
    def best_tau(self) -> float | None:
        return self.evaluation.best_tau if self.evaluation else None

    @property
    def roc_auc(self) -> float | None:
        return self.evaluation.auc if self.evaluation else None


class TripletObjective:
    """``loss_fn(embeddings, labels)`` for :func:`core.training.fit`: the batch triplet loss
    with online mining. While gradients are on (training steps, not evaluation) it also
    adds up the counts of easy, semi-hard and hard triplets on the device; :meth:`pop`
    returns their fractions since the last call."""

    def __init__(self, margin: float, strategy: str) -> None:
        self.margin, self.strategy = margin, strategy
        self._counts: torch.Tensor | None = None

    def __call__(self, emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        training = torch.is_grad_enabled()
        loss, counts = triplet_terms(emb, y, self.margin, self.strategy, with_counts=training)
        if training:
            self._counts = counts if self._counts is None else self._counts + counts
        return loss

    def pop(self) -> dict[str, float] | None:
        if self._counts is None:
            return None
        stats, self._counts = counts_to_stats(self._counts), None
        return stats


class _TripletStats(Callback):
    """Per epoch: the fractions of easy/semi-hard/hard triplets seen in training, to the job's
    live series ``"triplets"`` and to the result."""

    def __init__(self, objective: TripletObjective, ctx: JobContext | None, rows: list[dict[str, float]]) -> None:
        self.objective, self.ctx, self.rows = objective, ctx, rows
        self.step = 0

    def on_step(self, step: int, epoch: int, values: Mapping[str, float]) -> None:
        self.step = step

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        stats = self.objective.pop()
        if stats is None:
            return
        row = {"epoch": epoch, "step": self.step, **stats}
        self.rows.append(row)
        if self.ctx is not None:
            self.ctx.push("triplets", **row)


def positives_in_random_batches(y: torch.Tensor, batch_size: int, n_batches: int = 200, seed: int = 0) -> float:
    """The fraction of anchors that have at least one positive (another image of the same
    identity) in a uniformly random batch of ``batch_size`` from labels ``y`` — what
    :func:`core.training.fit`'s shuffled batches give the miner."""
    gen = torch.Generator().manual_seed(seed)
    n = len(y)
    bs = min(batch_size, n)
    hits = 0
    for _ in range(n_batches):
        yb = y[torch.randperm(n, generator=gen)[:bs]]
        same = (yb[:, None] == yb[None, :]).sum(1) > 1
        hits += int(same.sum())
    return hits / (n_batches * bs)


def input_spec(ds: IdentitySet, train: IdentitySet) -> InputSpec:
    """What the network takes: the set's images standardised with the training identities'
    mean and standard deviation (also used to prepare a user's image)."""
    x = train.X
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return InputSpec(ds.name or "faces", tuple(ds.names), ds.channels, ds.size, ds.size,
                     tuple(float(v) for v in mean), tuple(float(v) for v in std))


def build_embedding_net(cfg: FaceConfig, spec: InputSpec) -> EmbeddingNet:
    """The untrained embedding network of ``cfg`` for images as ``spec`` describes them."""
    return EmbeddingNet(spec.channels, cfg.embedding_dim, spec.size, width=cfg.width)


@torch.no_grad()
def embed(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Embeddings [N, D] (float32, on the CPU) of normalised images [N, C, S, S], in eval mode."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        out = [model(x[i: i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out) if out else torch.empty(0, getattr(model, "embedding_dim", 0))


def _id_list(ids: Sequence[int], names: Sequence[str], kind: str) -> str:
    if kind == "digits":
        digits = sorted(int(names[i].split()[-1]) for i in ids)
        if digits == list(range(digits[0], digits[-1] + 1)) and len(digits) > 2:
            return f"{digits[0]}–{digits[-1]}"
        return ", ".join(map(str, digits))
    return f"{len(ids)} people"


def trained_on(split: IdentitySplit) -> str:
    """One honest sentence about what a model trained on ``split.train`` has seen."""
    ds = split.train
    train = _id_list(split.train_ids, ds.names, ds.kind)
    unseen = _id_list(split.unseen_ids, ds.names, ds.kind)
    if ds.kind == "digits":
        source = "scikit-learn's 8×8 handwritten digits" if ds.name == "digits" else "handwritten MNIST digits"
        return (f"Trained on {source} {train} (each digit stands in for a person) and tested on the never-seen digits "
                f"{unseen}: it has never seen a face, so a distance between two photos of people means nothing.")
    if ds.name == "olivetti":
        return (f"Trained on {train} of the Olivetti faces (frontal, evenly lit, grey 64×64 photos from the 1990s) and "
                f"tested on the {len(split.unseen_ids)} others: expect much worse on your own photos, which are framed "
                "and lit differently.")
    return (f"Trained on {train} of Labeled Faces in the Wild (mostly public figures in press photos) and tested on "
            f"{len(split.unseen_ids)} others: a small network on {ds.size}×{ds.size} grey crops, far from a production "
            "face recogniser.")


def embed_images(model: nn.Module, images: Sequence[Image.Image], spec: InputSpec) -> tuple[torch.Tensor, list[np.ndarray]]:
    """PIL images → (their embeddings [n, D], what the network saw of each in [0, 1]).

    Prepared like the training data with :func:`core.cnn.data.image_to_input` (digits:
    grey, light strokes on dark, cropped and centred; faces: centre-cropped to a square,
    grey, resized), then standardised with ``spec``."""
    if not images:
        raise ValueError("give at least one image")
    xs, seen = [], []
    for img in images:
        x, s = image_to_input(img, spec)
        xs.append(x)
        seen.append(s)
    return embed(model, torch.cat(xs)), seen


def verify(model: nn.Module, image_a: Image.Image, image_b: Image.Image, spec: InputSpec, tau: float) -> Verification:
    """The squared distance of two images' embeddings and the verdict at ``tau``."""
    emb, seen = embed_images(model, [image_a, image_b], spec)
    d = float((emb[0] - emb[1]).pow(2).sum())
    return Verification(d, float(tau), (seen[0], seen[1]))


def _roc_series(ev: OneShotEval, untrained: OneShotEval | None) -> dict[str, tuple[Any, Any]]:
    series = {f"trained (AUC {ev.auc:.3f})": (ev.fpr, ev.tpr)}
    if untrained is not None:
        series[f"untrained (AUC {untrained.auc:.3f})"] = (untrained.fpr, untrained.tpr)
    series["chance"] = ([0.0, 1.0], [0.0, 1.0])
    return series


def run_faces(ctx: JobContext | None, cfg: FaceConfig, device: torch.device | None = None,
              data: IdentitySet | None = None) -> FaceResult:
    """Train the embedding network on ``cfg.dataset``'s training identities with the triplet
    loss and online mining, as one tracked run (a job function); then evaluate one-shot
    verification on the unseen identities (``data`` replaces the loaded set, e.g. in tests).

    The run's ``dev_loss`` is the same triplet loss on the unseen identities, all at once.
    Raises :class:`core.data.DatasetUnavailable` when a face set cannot be downloaded. Returns a
    :class:`FaceResult` in every other case: finished (with the evaluation), stopped (``stopped``:
    the run ends KILLED and keeps the weights trained so far) or diverged (the lane FAILED with the
    sentence). The trained network is in the run (:func:`load_tracked`).
    """
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, f"loading {cfg.dataset}")
    ds = data if data is not None else load_identities(cfg.dataset)
    split = split_identities(ds, cfg.n_unseen, seed=cfg.seed if cfg.random_unseen else None)
    spec = input_spec(ds, split.train)
    xt, yt = spec.normalize(split.train.X), split.train.y
    xu, yu = spec.normalize(split.unseen.X), split.unseen.y
    seed_everything(cfg.seed)
    model = build_embedding_net(cfg, spec)
    untrained = one_shot_evaluation(embed(model, xu), yu, cfg.n_pairs, cfg.seed)
    model = model.to(device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    sizes = {"train_images": len(yt), "unseen_images": len(yu), "train_identities": len(split.train_ids),
             "unseen_identities": len(split.unseen_ids)}
    result = FaceResult(Lane("siamese"), spec, cfg.dataset, ds.kind, trained_on(split), tuple(ds.names),
                        tuple(int(i) for i in split.train_ids), tuple(int(i) for i in split.unseen_ids), sizes,
                        unseen_images=split.unseen.X.numpy().astype(np.float32), untrained=untrained,
                        device=str(device))
    objective = TripletObjective(cfg.margin, cfg.strategy)
    stats = _TripletStats(objective, ctx, result.triplet_history)
    title = f"Triplet loss ({cfg.strategy}, α = {cfg.margin:g}) on {cfg.dataset}"

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        if ctx is not None:
            ctx.report(None, "one-shot evaluation on the unseen identities")
        ev = one_shot_evaluation(embed(model, xu), yu, cfg.n_pairs, cfg.seed)
        result.evaluation = ev
        run.log_metrics({"roc_auc": ev.auc, "best_tau": ev.best_tau, "verify_accuracy": ev.best_accuracy,
                         "untrained_roc_auc": untrained.auc}, hist.steps_done)
        for row in result.triplet_history:
            run.log_metrics({f"triplets_{k.replace('-', '_')}": row[k] for k in ("easy", "semi-hard", "hard", "active")},
                            int(row["epoch"]))
        run.log_curves(_roc_series(ev, untrained), "roc_curve",
                       title=f"One-shot verification on unseen identities ({cfg.dataset})",
                       xlabel="false-accept rate (different pairs judged same)", ylabel="true-accept rate")
        run.log_text(result.trained_on, "trained_on.txt")

    params = {**asdict(cfg), **sizes, "device": str(device), "kind": ds.kind,
              "unseen_ids": list(split.unseen_ids), "input": asdict(spec)}  # what load_tracked rebuilds it from
    result.lane = train_tracked(ctx, PAGE, params, model, (xt, yt.to(device)), opt, name="siamese",
                                dev=(xu, yu), epochs=cfg.epochs, batch_size=cfg.batch_size, loss_fn=objective,
                                callbacks=[stats], run_name=f"siamese on {cfg.dataset} ({cfg.strategy})",
                                tags={tracking.TAG_KIND: ds.kind}, device=device, seed=cfg.seed, finish=finish,
                                figure_title=title, measure_accuracy=False)  # embeddings are not class scores
    return result


def load_tracked(run_id: str, user: User = LOCAL_USER) -> EmbeddingNet:
    """The embedding network a tracked siamese training saved (:func:`run_faces`), on the CPU in eval
    mode, rebuilt from the run's params. ``ValueError`` with a plain message when it cannot be."""
    params = tracking.run_params(run_id, user=user)
    try:
        net = EmbeddingNet(int(params["input.channels"]), int(params["embedding_dim"]), int(params["input.size"]),
                           width=int(params["width"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError("this run did not record how its network was built (train it again)") from exc
    state = tracking.saved_weights(run_id, user=user)
    net.load_state_dict(state)
    return net.eval()
