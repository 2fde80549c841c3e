"""What a trained network's weights and batch-norm layers look like."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.nets import weight_matrices
from core.regularization.formulas import batch_norm


def weight_norms(model: nn.Module) -> list[float]:
    """‖W^[l]‖_F of every Linear layer, input side first."""
    return [float(w.detach().norm()) for w in weight_matrices(model)]


def weight_values(model: nn.Module) -> np.ndarray:
    """Every entry of every W^[l] (no biases) as one flat float32 array."""
    return torch.cat([w.detach().flatten().float().cpu() for w in weight_matrices(model)]).numpy()


def weight_histograms(values: Mapping[str, np.ndarray], bins: int = 60) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Histograms of several weight sets on shared bins (symmetric about 0, wide enough for
    99.9 % of the widest set): ``(edges [bins + 1], {name: fraction of weights per bin})``."""
    if not values:
        raise ValueError("no weights to histogram")
    reach = max(float(np.quantile(np.abs(v), 0.999)) for v in values.values() if len(v)) or 1.0
    edges = np.linspace(-reach, reach, bins + 1)
    out = {}
    for name, v in values.items():
        counts, _ = np.histogram(np.clip(v, -reach, reach), bins=edges)
        out[name] = counts / max(len(v), 1)
    return edges, out


@dataclass(frozen=True)
class BatchNormLook:
    """One batch-norm layer after training, fed one batch (arrays have one entry per unit)."""

    layer: int
    batch_size: int
    running_mean: np.ndarray
    running_var: np.ndarray
    batch_mean: np.ndarray
    batch_var: np.ndarray
    eval_vs_running: float  # max |eval-mode output − γ·(z − running μ)/√(running σ² + ε) − β|
    train_vs_batch: float  # max |training-mode output − the same with the batch's own μ, σ²|
    eval_vs_batch: float  # max |eval-mode output − training-mode output|: how much the choice matters


@torch.no_grad()
def look_inside_batch_norm(model: nn.Module, X: torch.Tensor, layer: int = 0) -> BatchNormLook:
    """Feed ``X`` (one batch) through ``model`` and compare, for its ``layer``-th
    BatchNorm1d, the running averages kept in training with the batch's own statistics,
    and check which ones the eval-mode output uses. Leaves the model's buffers and mode as they were."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    if not bns:
        raise ValueError("the model has no batch-norm layer")
    if not 0 <= layer < len(bns):
        raise ValueError(f"layer must be between 0 and {len(bns) - 1}")
    if len(X) < 2:
        raise ValueError("batch statistics need at least 2 examples")
    bn = bns[layer]
    seen: dict[str, torch.Tensor] = {}
    hook = bn.register_forward_hook(lambda mod, inp, out: seen.update(z=inp[0], out=out))
    was = model.training
    try:
        model.eval()
        model(X)
    finally:
        hook.remove()
        model.train(was)
    z, out_eval = seen["z"].float(), seen["out"].float()  # (batch, units)
    gamma, beta = bn.weight.float(), bn.bias.float()
    with_running = batch_norm(z, gamma, beta, bn.eps, bn.running_mean.float(), bn.running_var.float())
    with_batch = batch_norm(z, gamma, beta, bn.eps)
    out_train = F.batch_norm(z, None, None, gamma, beta, training=True, eps=bn.eps)  # buffers untouched

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float64)

    return BatchNormLook(
        layer=layer,
        batch_size=len(X),
        running_mean=arr(bn.running_mean),
        running_var=arr(bn.running_var),
        batch_mean=arr(z.mean(0)),
        batch_var=arr(z.var(0, unbiased=False)),
        eval_vs_running=float((out_eval - with_running).abs().max()),
        train_vs_batch=float((out_train - with_batch).abs().max()),
        eval_vs_batch=float((out_eval - out_train).abs().max()),
    )
