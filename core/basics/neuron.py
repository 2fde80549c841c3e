"""One artificial neuron and its activation functions, and why sigmoid starves deep networks.

A neuron computes z = w·x + b and outputs a = g(z) for an activation g (course:
"Artificial Neural Networks / Neurons"). The activations here are the course's sigmoid,
ReLU and tanh, plus leaky ReLU with slope 0.01 for z < 0 (PyTorch's default). Their
derivatives are written in closed form and tested against autograd.

The derivative of the sigmoid, σ'(z) = σ(z)(1 − σ(z)), is at most 1/4 (at z = 0), so
a gradient that passes back through L sigmoid layers is scaled by at most 0.25^L from
the activations alone. :func:`gradient_norms_per_layer` measures the effect in a real
deep network at initialisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.nets import mlp
from core.settings import Settings, setting

ACTIVATIONS: tuple[str, ...] = ("sigmoid", "ReLU", "tanh", "leaky ReLU")
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative slope
INITS: dict[str, str] = {
    "He (Kaiming) normal": "weights ~ N(0, 2/n_in) — the usual choice for ReLU",
    "Xavier (Glorot) normal": "weights ~ N(0, 2/(n_in + n_out)) — the usual choice for sigmoid and tanh",
    "PyTorch default": "weights ~ U(−1/√n_in, 1/√n_in), PyTorch's nn.Linear default",
}


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")


def activation(name: str, z: np.ndarray | float) -> np.ndarray:
    """g(z) for ``name`` in :data:`ACTIVATIONS`, elementwise; returns a float64 array of z's shape.

    sigmoid: 1/(1 + e^(−z)); ReLU: max(0, z); tanh: tanh(z); leaky ReLU: z if z > 0 else 0.01·z.
    """
    _check_activation(name)
    z = np.asarray(z, dtype=np.float64)
    if name == "sigmoid":
        # numerically stable in both tails: exp of a non-positive number only
        ez = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + ez), ez / (1.0 + ez))
    if name == "ReLU":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def activation_derivative(name: str, z: np.ndarray | float) -> np.ndarray:
    """g'(z), elementwise, float64.

    sigmoid: σ(z)(1 − σ(z)); ReLU: 1 for z > 0 else 0; tanh: 1 − tanh²(z);
    leaky ReLU: 1 for z > 0 else 0.01. At z = 0 ReLU and leaky ReLU take the left
    derivative (0 and 0.01), as PyTorch's autograd does.
    """
    _check_activation(name)
    z = np.asarray(z, dtype=np.float64)
    if name == "sigmoid":
        s = activation("sigmoid", z)
        return s * (1.0 - s)
    if name == "ReLU":
        return (z > 0).astype(np.float64)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


def torch_activation(name: str, z: torch.Tensor) -> torch.Tensor:
    """The same activation written with torch functions (for autograd references)."""
    _check_activation(name)
    return {
        "sigmoid": torch.sigmoid,
        "ReLU": torch.relu,
        "tanh": torch.tanh,
        "leaky ReLU": lambda t: F.leaky_relu(t, LEAKY_SLOPE),
    }[name](z)


# ---------------------------------------------------------------------------- one neuron


@dataclass(frozen=True)
class NeuronConfig(Settings):
    """A single neuron: inputs x, weights w (same length), bias b and the activation's name."""

    inputs: tuple[float, ...] = setting((1.0, -0.5, 2.0), lo=-2.0, hi=2.0, step=0.1, widget="slider", label="Input x")
    weights: tuple[float, ...] = setting((0.4, 0.8, -0.3), lo=-2.0, hi=2.0, step=0.1, widget="slider",
                                         label="Weight w")
    bias: float = setting(0.1, lo=-3.0, hi=3.0, step=0.1, widget="slider", label="Bias b")
    activation: str = setting("sigmoid", choices=ACTIVATIONS, label="Activation g")

    def check(self) -> None:
        if len(self.inputs) == 0:
            raise ValueError("a neuron needs at least one input")
        if len(self.inputs) != len(self.weights):
            raise ValueError(f"give one weight per input: {len(self.inputs)} inputs but {len(self.weights)} weights")


@dataclass(frozen=True)
class NeuronOutput:
    """What the neuron computed: the products w_i·x_i, z = Σ w_i x_i + b, a = g(z) and g'(z)."""

    products: tuple[float, ...]
    z: float
    a: float
    slope: float


def neuron_output(cfg: NeuronConfig) -> NeuronOutput:
    """Forward pass of one neuron: z = w·x + b, a = g(z); also g'(z) (how much a moves per unit of z)."""
    products = tuple(w * x for w, x in zip(cfg.weights, cfg.inputs, strict=True))
    z = math.fsum(products) + cfg.bias
    return NeuronOutput(
        products=products,
        z=z,
        a=float(activation(cfg.activation, z)),
        slope=float(activation_derivative(cfg.activation, z)),
    )


# ------------------------------------------------------------------ vanishing gradients


def sigmoid_chain_bound(depth: int) -> float:
    """0.25^L: the largest factor the sigmoids of L layers can put on a gradient (σ' ≤ 1/4)."""
    if depth < 0:
        raise ValueError(f"depth must be zero or more, got {depth}")
    return 0.25**depth


@dataclass(frozen=True)
class DepthConfig(Settings):
    """A deep fully connected network at initialisation, measured once per activation.

    ``depth`` counts the Linear layers (``depth − 1`` hidden layers of ``width`` units, each
    followed by the activation, then a Linear output of ``n_classes`` scores); the loss is
    the cross-entropy on ``batch`` random standard-normal inputs with random labels.
    """

    depth: int = setting(10, lo=2, hi=40, widget="slider", label="Depth L (layers)")
    width: int = setting(64, lo=1, hi=1024, widget="select_slider", label="Units per layer")  # the page offers 16 … 256
    batch: int = setting(256, lo=1, hi=4096, label="Examples in the batch", name="batch")
    n_classes: int = setting(10, lo=2, hi=100, label="Classes of the random labels", name="n_classes")
    init: str = setting("He (Kaiming) normal", choices=INITS, label="Initialisation",
                        help="\n\n".join(f"**{k}**: {v}" for k, v in INITS.items()))
    activations: tuple[str, ...] = setting(("sigmoid", "ReLU"), choices=ACTIVATIONS, count=(1, 10**6),
                                           label="Activations compared")
    seed: int = 0


def init_linear(layer: nn.Linear, init: str, generator: torch.Generator) -> None:
    """Initialise one Linear layer in place by the named scheme (biases zero except for
    "PyTorch default", which keeps PyTorch's own initialisation)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}")
    if init == "PyTorch default":
        return
    n_out, n_in = layer.weight.shape
    std = math.sqrt(2.0 / n_in) if init.startswith("He") else math.sqrt(2.0 / (n_in + n_out))
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator, dtype=layer.weight.dtype) * std)
        if layer.bias is not None:
            layer.bias.zero_()


def deep_network(cfg: DepthConfig, activation_name: str) -> nn.Sequential:
    """The network of :class:`DepthConfig` with one activation, initialised from ``cfg.seed``."""
    _check_activation(activation_name)
    torch.manual_seed(cfg.seed)  # PyTorch's default init draws from the global generator
    model = mlp(cfg.width, (cfg.width,) * (cfg.depth - 1), cfg.n_classes, activation=activation_name)
    gen = torch.Generator().manual_seed(cfg.seed)
    for layer in model:
        if isinstance(layer, nn.Linear):
            init_linear(layer, cfg.init, gen)
    return model.double()


def gradient_norms_per_layer(cfg: DepthConfig) -> dict[str, list[float]]:
    """‖∂L/∂W^[l]‖_F for l = 1 … depth (layer 1 next to the input), per activation, by autograd.

    Every activation sees the same inputs, labels and initial weights (same seed); the
    computation is in float64 so tiny norms are not rounded to zero.
    Returns ``{activation: [norm of layer 1, …, norm of layer depth]}``.
    """
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    x = torch.randn(cfg.batch, cfg.width, generator=gen, dtype=torch.float64)  # (batch, width)
    y = torch.randint(0, cfg.n_classes, (cfg.batch,), generator=gen)
    out: dict[str, list[float]] = {}
    for name in cfg.activations:
        model = deep_network(cfg, name)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        out[name] = [float(m.weight.grad.norm()) for m in model if isinstance(m, nn.Linear)]
    return out
