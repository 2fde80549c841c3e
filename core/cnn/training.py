"""Training a CNN on images as one tracked run (the "Train a CNN" tab).

:func:`run_cnn` is a job function: it prepares the images (:mod:`core.cnn.data`),
builds LeNet-5, a small VGG or a ResNet-20 (:mod:`core.cnn.models`), trains it with the
shared :func:`core.experiment.train_tracked` and, inside the run, logs the dev confusion
matrix and the most confident mistakes as images. On a GPU it takes the fast path: the
whole set on the device, channels-last memory layout (on a CPU too) and bf16 autocast.

Its result is plain data (the lane, the input description, the confusion matrix and the
mistakes); the trained network itself is the run's logged weights, rebuilt by
:func:`load_tracked` from the run id (the "Inside the network" tab and the weights download).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from core import tracking
from core.cnn import models
from core.cnn.data import DATASETS, ImageData, InputSpec, prepare_images
from core.device import pick_device, seed_everything
from core.experiment import Lane, confusion_matrix, train_tracked
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.settings import Settings, setting

PAGE = "cnn"
MODELS = {
    "LeNet-5": "LeCun et al. 1998: two 5×5 convolutions with pooling, then three fully connected layers",
    "Small VGG": "VGG-style: blocks of 3×3 convolutions, each block ending in 2×2 max-pooling",
    "ResNet-20": "He et al. 2016: 19 convolutions in residual blocks with batch norm, global average pooling",
}


@dataclass(frozen=True)
class TrainConfig(Settings):
    """One training of the "Train a CNN" tab (also the tracked run's params)."""

    dataset: str = setting("mnist_sample", choices=DATASETS, label="Training data", labels=DATASETS)
    model: str = setting("LeNet-5", choices=MODELS, label="Network")
    optimizer: str = setting("Adam", choices=OPTIMIZERS, label="Optimizer ", name="Optimizer")
    lr: float = setting(2e-3, lo=1e-5, hi=10.0, fmt="%g", label="Learning rate α ", name="Learning rate α")
    epochs: int = setting(4, lo=1, hi=200, widget="slider", label="Epochs ", name="Epochs")
    batch_size: int = setting(64, options=(16, 32, 64, 128, 256, 512), label="Mini-batch size ", name="Mini-batch size")
    max_train: int = setting(0, lo=0, hi=60000, step=500, label="Training images (0 = all)",  # 0 = the whole split
                             help="On a CPU, a few thousand images keep a full MNIST run to a minute or two.")
    seed: int = 0
    # channels_last (+ bf16 autocast on a GPU); the data always stays on the device
    fast_path: bool = setting(True, widget="checkbox", label="Fast path",
                              help="Keeps the images on the device as one tensor, stores them and the weights "
                                   "channels-last (faster convolutions on CPUs and GPUs) and, on a GPU, computes in "
                                   "bf16.")


@dataclass
class TrainResult(Outcome):
    """What a finished, diverged or stopped training leaves for the page (plain data).

    ``lane`` says how it ended (its ``run_id`` names the tracked run whose weights
    :func:`load_tracked` rebuilds); the confusion matrix and the mistakes are there when it finished.
    """

    lane: Lane
    spec: InputSpec
    confusion: np.ndarray | None = None  # [K, K]: rows = true class, columns = predicted
    mistakes: list[dict[str, Any]] | None = None  # most confident wrong dev predictions
    mistake_images: np.ndarray | None = None  # [n, S, S] or [n, S, S, 3] in [0, 1]
    sizes: dict[str, int] | None = None
    device: str = "cpu"

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.lane.stopped


def build_cnn(name: str, spec: InputSpec) -> nn.Module:
    """The network ``name`` (a key of :data:`MODELS`) for inputs shaped like ``spec``."""
    k = len(spec.classes)
    if name == "LeNet-5":
        return models.lenet5(in_channels=spec.channels, n_classes=k, input_size=spec.size)
    if name == "Small VGG":
        return models.small_vgg(in_channels=spec.channels, n_classes=k)
    if name == "ResNet-20":
        return models.cifar_resnet(20, n_classes=k, in_channels=spec.channels)
    raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")


def use_fast_path(model: nn.Module, x: torch.Tensor, device: torch.device) -> tuple[nn.Module, torch.Tensor]:
    """Channels-last weights and inputs (NHWC: cuDNN's tensor-core kernels and oneDNN's CPU
    convolutions read it directly; measured 12–20 % faster per epoch on this project's 2-core
    CPU too) and, on CUDA, cuDNN's autotuner. bf16 autocast on CUDA is applied by
    :func:`core.training.fit`; the data already stays on the device as whole tensors."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def class_probabilities(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Class probabilities [N, K] of ``model`` in eval mode (on the model's device)."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    out = [torch.softmax(model(x[i: i + batch_size].to(device)).float(), 1).cpu() for i in range(0, len(x), batch_size)]
    model.train(was)
    return torch.cat(out) if out else torch.empty(0)


def worst_mistakes(probs: torch.Tensor, y: torch.Tensor, limit: int = 24) -> list[dict[str, Any]]:
    """The wrong predictions the model was most sure of: index, true, predicted, confidence."""
    conf, pred = probs.max(1)
    wrong = torch.nonzero(pred != y.cpu()).flatten()
    order = wrong[conf[wrong].argsort(descending=True)][:limit]
    return [{"index": int(i), "true": int(y[i]), "predicted": int(pred[i]), "confidence": float(conf[i]),
             "p_true": float(probs[i, y[i]])} for i in order]


def display_images(spec: InputSpec, x: torch.Tensor) -> np.ndarray:
    """Normalised [N, C, S, S] → displayable [N, S, S] (grey) or [N, S, S, 3] in [0, 1]."""
    x = spec.denormalize(x.float().cpu())
    return x[:, 0].numpy() if spec.channels == 1 else x.permute(0, 2, 3, 1).numpy()


def prepared_network(cfg: TrainConfig, data: ImageData, device: torch.device) -> tuple[nn.Module, torch.Tensor,
                                                                                       torch.Tensor]:
    """The seeded network of ``cfg`` and the training and dev images [N, C, S, S] on ``device``, as a
    training builds them (with the fast path: channels-last); the learning-rate finder sweeps the same."""
    seed_everything(cfg.seed)
    model = build_cnn(cfg.model, data.spec).to(device)
    xt, xd = data.train[0].to(device), data.dev[0].to(device)
    if cfg.fast_path:
        model, xt = use_fast_path(model, xt, device)
        xd = xd.contiguous(memory_format=torch.channels_last)
    return model, xt, xd


def run_cnn(ctx: JobContext | None, cfg: TrainConfig, device: torch.device | None = None,
                 data: ImageData | None = None) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.dataset`` as one tracked run (a job function).

    Returns the :class:`TrainResult` however the training ended: FINISHED (with the confusion
    matrix and the mistakes), FAILED when it diverged (the lane holds the sentence) or KILLED
    after a Stop (``stopped``; the weights trained so far are logged with the run).
    """
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, f"preparing {cfg.dataset}")
    data = data or prepare_images(cfg.dataset, max_train=cfg.max_train, seed=cfg.seed)
    spec = data.spec
    model, xt, xd = prepared_network(cfg, data, device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    result = TrainResult(Lane(cfg.model), spec, sizes=data.sizes, device=str(device))
    k = len(spec.classes)

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        probs = class_probabilities(model, xd)
        pred = probs.argmax(1)
        result.confusion = confusion_matrix(data.dev[1], pred, k)
        result.mistakes = worst_mistakes(probs, data.dev[1])
        idx = [m["index"] for m in result.mistakes]
        result.mistake_images = display_images(spec, data.dev[0][idx]) if idx else None
        run.log_metrics({"dev_errors": float((pred != data.dev[1]).sum())}, hist.steps_done)
        run.log_confusion(result.confusion, spec.classes, "confusion_matrix")
        if result.mistake_images is not None:
            run.log_tiles(result.mistake_images, "misclassified")
        run.log_text("\n".join(f"{m['index']}\t{spec.classes[m['true']]}\t{spec.classes[m['predicted']]}\t"
                               f"{m['confidence']:.3f}" for m in result.mistakes), "misclassified.tsv")

    params = {**asdict(cfg), "n_train": len(data.train[1]), "n_dev": len(data.dev[1]), "device": str(device),
              "input": asdict(spec)}  # what load_tracked needs to rebuild the network and its input
    result.lane = train_tracked(ctx, PAGE, params, model, (xt, data.train[1].to(device)), opt, name=cfg.model,
                                dev=(xd, data.dev[1].to(device)), epochs=cfg.epochs, batch_size=cfg.batch_size,
                                run_name=f"{cfg.model} on {cfg.dataset}", device=device, seed=cfg.seed,
                                finish=finish, figure_title=f"{cfg.model} on {cfg.dataset}")
    return result


def spec_from_params(params: Mapping[str, str]) -> InputSpec:
    """The :class:`InputSpec` a tracked training logged as its ``input.*`` params."""
    try:
        return InputSpec(params["input.dataset"], tuple(json.loads(params["input.classes"])),
                         int(params["input.channels"]), int(params["input.size"]), int(params["input.native"]),
                         tuple(json.loads(params["input.mean"])), tuple(json.loads(params["input.std"])))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError("this run did not record its input (train it again to look inside)") from exc


def load_tracked(run_id: str, user: User = LOCAL_USER) -> tuple[nn.Module, InputSpec]:
    """Rebuild a tracked CNN training's network (on the CPU, in eval mode) with its saved weights,
    and the input it takes, from the run's params and logged weights. ValueError with a plain
    message when it cannot be rebuilt (for :func:`ui.tracked.network`)."""
    params = tracking.run_params(run_id, user=user)
    spec = spec_from_params(params)
    state = tracking.saved_weights(run_id, user=user)
    model = build_cnn(params.get("model", ""), spec)
    model.load_state_dict(state)
    return model.eval(), spec
