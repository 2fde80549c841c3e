"""Looking inside a trained CNN: its first-layer filters, the feature maps every
convolution produces for one image, and the class probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class Look:
    """One image through the network: the probabilities [K] and, per convolution in
    forward order, its name and output maps [C, H, W]."""

    probabilities: np.ndarray
    maps: list[tuple[str, np.ndarray]]


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every 2-D convolution of ``model`` with its dotted name, in definition order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def first_filters(model: nn.Module) -> np.ndarray:
    """The first convolution's weights [out, in, f, f] as a float array."""
    layers = conv_layers(model)
    if not layers:
        raise ValueError("this network has no convolution")
    return layers[0][1].weight.detach().float().cpu().numpy()


def filter_images(weights: np.ndarray) -> np.ndarray:
    """[out, in, f, f] → images to show: [out, f, f] scaled symmetrically to [-1, 1] for one
    input channel (0 = grey), or [out, f, f, 3] min-max scaled per filter for RGB."""
    w = np.asarray(weights, np.float32)
    if w.shape[1] == 3:
        w = w.transpose(0, 2, 3, 1)
        lo = w.min(axis=(1, 2, 3), keepdims=True)
        hi = w.max(axis=(1, 2, 3), keepdims=True)
        return (w - lo) / np.maximum(hi - lo, 1e-12)
    w = w.mean(1)
    return w / np.maximum(np.abs(w).max(axis=(1, 2), keepdims=True), 1e-12)


@torch.no_grad()
def look(model: nn.Module, x: torch.Tensor) -> Look:
    """Run one input [1, C, H, W] through ``model`` in eval mode, capturing the output of
    every convolution with forward hooks (the maps come before batch norm and ReLU)."""
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError("give one image as a [1, C, H, W] tensor")
    captured: list[tuple[str, np.ndarray]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: captured.append((name, out[0].float().cpu().numpy())))
             for name, m in conv_layers(model)]
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        logits = model(x.to(device)).float()
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return Look(torch.softmax(logits[0], 0).cpu().numpy(), captured)
