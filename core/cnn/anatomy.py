"""What a network is made of: per-layer output shapes, parameters and multiply-adds, found by running
one example through the model with forward hooks, and the cost of a 1×1 bottleneck.

Multiply-adds count the convolutions and fully connected layers, one per weight use: a convolution
producing C_out×H×W values from C_in/groups input channels with a k_h×k_w kernel costs
C_out·H·W·(C_in/groups)·k_h·k_w, a fully connected layer n_in·n_out. Pooling, normalisation,
activations and additions are not counted (they are cheap by comparison) — the same convention as
``torch.utils.flop_counter.FlopCounterMode``, whose FLOPs are twice these numbers.

Models built under ``with torch.device("meta"):`` are traced without any real weights or arithmetic,
so the tables of VGG-16 or ResNet-50 take a fraction of a second. All functions are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.nets import count_params

BLOCK_TYPES = ("BasicBlock", "Bottleneck", "InceptionModule")  # class names shown as one row per block
COLUMNS = ("name", "layer", "output shape", "parameters", "multiply-adds")


@dataclass(frozen=True)
class Layer:
    """One row of a trace. ``shape``: the output of one example (no batch axis); ``kind``: "input",
    "conv", "fc", "pool", "norm", "act", "dropout", "reshape", "shortcut", "block" or "other"."""

    name: str
    layer: str
    kind: str
    shape: tuple[int, ...]
    params: int
    macs: int

    @property
    def shape_text(self) -> str:
        return "×".join(str(s) for s in self.shape)

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "layer": self.layer, "output shape": self.shape_text,
                "parameters": self.params, "multiply-adds": self.macs}


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _size(k: tuple[int, int]) -> str:
    return f"{k[0]}×{k[1]}"


def _conv_text(m: nn.Conv2d) -> str:
    s = _pair(m.stride)
    p = m.padding if isinstance(m.padding, str) else _pair(m.padding)
    stride = f"s{s[0]}" if s[0] == s[1] else f"s{s[0]},{s[1]}"
    pad = p if isinstance(p, str) else (f"p{p[0]}" if p[0] == p[1] else f"p{p[0]},{p[1]}")
    text = f"Conv {_size(_pair(m.kernel_size))}, {stride}, {pad}"
    return text + (f", {m.groups} groups" if m.groups > 1 else "")


def _pool_text(m: nn.Module, kind: str) -> str:
    k, s = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
    pad = _pair(m.padding)
    return f"{kind} pool {_size(k)}, s{s[0]}" + (f", p{pad[0]}" if pad[0] else "")


def _block_text(m: nn.Module) -> str:
    cls = type(m).__name__
    if cls == "InceptionModule":
        return "Inception: 1×1 | 1×1→3×3 | 1×1→5×5 | pool→1×1"
    stride = max((_pair(c.stride)[0] for c in m.modules() if isinstance(c, nn.Conv2d)), default=1)
    body = "Basic block 3×3, 3×3" if cls == "BasicBlock" else "Bottleneck 1×1, 3×3, 1×1"
    if getattr(m, "plain", False):
        skip = "no skip"
    elif getattr(m, "downsample", None) is None:
        skip = "+ identity"
    elif count_params(m.downsample):
        skip = "+ 1×1 projection"
    else:
        skip = "+ padded identity"
    return f"{body}{f', s{stride}' if stride > 1 else ''} {skip}"


def describe_module(m: nn.Module) -> tuple[str, str]:
    """(text, kind) for a module, e.g. ("Conv 5×5, s1, p2", "conv")."""
    cls = type(m).__name__
    if cls in BLOCK_TYPES:
        return _block_text(m), "block"
    if isinstance(m, nn.Conv2d):
        return _conv_text(m), "conv"
    if isinstance(m, nn.Linear):
        return f"FC {m.in_features}→{m.out_features}", "fc"
    if isinstance(m, nn.MaxPool2d):
        return _pool_text(m, "Max"), "pool"
    if isinstance(m, nn.AvgPool2d):
        return _pool_text(m, "Avg"), "pool"
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        out = _pair(m.output_size)
        what = "avg" if isinstance(m, nn.AdaptiveAvgPool2d) else "max"
        return (f"Global {what} pool" if out == (1, 1) else f"Adaptive {what} pool → {_size(out)}"), "pool"
    if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
        return "Batch norm", "norm"
    if isinstance(m, nn.LocalResponseNorm):
        return "Local response norm", "norm"
    if isinstance(m, nn.ReLU | nn.Tanh | nn.Sigmoid | nn.LeakyReLU | nn.GELU):
        return {"ReLU": "ReLU", "Tanh": "tanh", "Sigmoid": "sigmoid"}.get(cls, cls), "act"
    if isinstance(m, nn.Dropout):
        return f"Dropout p={m.p:g}", "dropout"
    if isinstance(m, nn.Flatten):
        return "Flatten", "reshape"
    if cls == "ShortcutA":
        return "Identity shortcut, zero-padded", "shortcut"
    if isinstance(m, nn.Identity):
        return "Identity", "other"
    return cls, "other"


def _macs(m: nn.Module, out: torch.Tensor) -> int:
    per_example = out[0].numel() if out.dim() > 1 else out.numel()
    if isinstance(m, nn.Conv2d):
        kh, kw = _pair(m.kernel_size)
        return per_example * (m.in_channels // m.groups) * kh * kw
    if isinstance(m, nn.Linear):
        return per_example * m.in_features
    return 0


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (channels, height, width) with positive sizes, got {tuple(input_shape)}")
    return shape


def trace(model: nn.Module, input_shape: Sequence[int], detail: str = "layers") -> list[Layer]:
    """Run one example of shape ``input_shape`` = (C, H, W) through ``model`` (on the device of its
    parameters: "meta" costs nothing) and return one ``Layer`` per call of a leaf module, in the order
    they ran, after an "input" row. ``detail="blocks"`` gathers residual blocks and inception modules
    into one row each (their parameters and multiply-adds summed). The model is left in its mode."""
    if detail not in ("layers", "blocks"):
        raise ValueError(f"detail must be 'layers' or 'blocks', got {detail!r}")
    shape = _check_shape(input_shape)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    named = list(model.named_modules())
    blocks = {name for name, m in named if name and type(m).__name__ in BLOCK_TYPES}
    events: list[tuple[str, nn.Module, tuple[int, ...], int]] = []
    handles = []

    def hook(name: str):
        def record(m: nn.Module, _inputs: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                events.append((name, m, tuple(out.shape[1:]), _macs(m, out)))
        return record

    for name, m in named:
        if name and (not list(m.children()) or name in blocks):
            handles.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape, device=device))
    except RuntimeError as exc:
        raise ValueError(f"this model cannot take a {'×'.join(map(str, shape))} input: {exc}") from exc
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    rows = [Layer("input", "Input", "input", shape, 0, 0)]
    seen: set[str] = set()
    pending_macs: dict[str, int] = {}

    def owner(name: str) -> str | None:
        return next((b for b in blocks if name.startswith(b + ".")), None)

    for name, m, out_shape, macs in events:
        is_block = name in blocks
        if detail == "layers" and is_block:
            continue
        if detail == "blocks" and not is_block:
            b = owner(name)
            if b is not None:
                pending_macs[b] = pending_macs.get(b, 0) + macs
                continue
        if is_block:
            macs = pending_macs.pop(name, 0)
        params = 0 if name in seen else count_params(m)  # a module applied twice owns its weights once
        seen.add(name)
        text, kind = describe_module(m)
        rows.append(Layer(name, text, kind, out_shape, params, macs))
    return rows


def layer_table(model: nn.Module, input_shape: Sequence[int], detail: str = "layers") -> list[dict[str, Any]]:
    """The trace as rows with the columns name, layer, output shape (e.g. "6×28×28"), parameters and
    multiply-adds (one example); see ``trace``."""
    return [layer.row() for layer in trace(model, input_shape, detail)]


def total_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of the convolutions and FC layers for one example of shape (C, H, W)."""
    return sum(layer.macs for layer in trace(model, input_shape))


def shape_flow(model: nn.Module, input_shape: Sequence[int]) -> list[Layer]:
    """The steps where the volume changes, for a shape-flow picture: the block-level trace without
    activations, normalisation, dropout and flattening, and without parameter-free steps that leave
    the shape as it was (an adaptive pool that is already at its size, an identity)."""
    flow: list[Layer] = []
    for layer in trace(model, input_shape, "blocks"):
        if layer.kind in ("act", "norm", "dropout", "reshape", "shortcut"):
            continue
        if flow and layer.kind in ("pool", "other") and layer.shape == flow[-1].shape and not layer.params:
            continue
        flow.append(layer)
    return flow


def torchvision_params(name: str, n_classes: int = 1000) -> int:
    """Parameter count of ``torchvision.models.<name>(weights=None, num_classes=n_classes)``, built on
    the meta device (no weights allocated, nothing downloaded)."""
    import torchvision

    fn = getattr(torchvision.models, name, None)
    if fn is None or not callable(fn):
        raise ValueError(f"torchvision.models has no model called {name!r}")
    with torch.device("meta"):
        return count_params(fn(weights=None, num_classes=n_classes))


def bottleneck_cost(h: int = 28, w: int = 28, c_in: int = 192, f: int = 5, n_filters: int = 32, mid: int = 16) -> dict[str, Any]:
    """Cost of turning an h×w×c_in volume into h×w×n_filters with f×f "same" convolutions, directly
    and through a 1×1 bottleneck of ``mid`` channels (Szegedy et al. 2015, the Inception module).

    Multiplies: direct h·w·n_filters·f·f·c_in; bottleneck h·w·mid·c_in (1×1 reduce) plus
    h·w·n_filters·f·f·mid. Parameters count the weights and one bias per filter of each convolution.
    With the defaults: 120,422,400 against 2,408,448 + 10,035,200 = 12,443,648 multiplies.
    """
    values = {"h": h, "w": w, "c_in": c_in, "f": f, "n_filters": n_filters, "mid": mid}
    bad = [k for k, v in values.items() if not isinstance(v, int | float) or v < 1 or int(v) != v]
    if bad:
        raise ValueError(f"{', '.join(bad)} must be positive whole numbers")
    h, w, c_in, f, n_filters, mid = (int(values[k]) for k in ("h", "w", "c_in", "f", "n_filters", "mid"))
    direct = h * w * n_filters * f * f * c_in
    reduce = h * w * mid * c_in
    conv = h * w * n_filters * f * f * mid
    reduce_params, conv_params = c_in * mid + mid, f * f * mid * n_filters + n_filters
    direct_params = f * f * c_in * n_filters + n_filters
    return {
        "input_shape": (h, w, c_in), "mid_shape": (h, w, mid), "output_shape": (h, w, n_filters),
        "direct_multiplies": direct, "reduce_multiplies": reduce, "conv_multiplies": conv,
        "bottleneck_multiplies": reduce + conv, "ratio": direct / (reduce + conv),
        "direct_params": direct_params, "reduce_params": reduce_params, "conv_params": conv_params,
        "bottleneck_params": reduce_params + conv_params, "params_ratio": direct_params / (reduce_params + conv_params),
    }
