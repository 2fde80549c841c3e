"""The course's five update rules as ``torch.optim.Optimizer`` subclasses.

Each ``step()`` is written exactly as the course writes it (SEED.md, "Optimization"):
state is zero-initialised, the step counter ``t`` counts per parameter from 1, and
parameters whose ``.grad`` is ``None`` are skipped. Two places differ on purpose from
PyTorch's built-ins:

- ``Momentum`` keeps ``v = βv + (1−β)dW`` from ``v = 0`` (PyTorch's SGD keeps ``v = βv + dW``
  and starts from the first gradient);
- ``Adagrad`` and ``RMSprop`` divide by ``sqrt(s + ε)`` (PyTorch divides by ``sqrt(s) + ε``).

Every tensor op is in place on the parameter's own storage, so the rules are cheap enough
to run thousands of steps on a 2-element parameter (the loss-surface lab).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "BETA",
    "BETA1",
    "BETA2",
    "EPS",
    "EPS_OPTIONS",
    "OPTIMIZERS",
    "Adagrad",
    "Adam",
    "GradientDescent",
    "Momentum",
    "RMSprop",
    "make_optimizer",
]

# The hyper-parameters a page sets for the rules, declared once (``core.settings.setting(default, **BETA)``):
# the loss-surface lab's and the race's configs share them.
BETA: dict[str, Any] = {"lo": 0.0, "hi": 0.99, "step": 0.01, "widget": "slider", "label": "β (Momentum, RMSprop)"}
BETA1: dict[str, Any] = {"lo": 0.0, "hi": 0.99, "step": 0.01, "widget": "slider", "label": "β1 (Adam)"}
BETA2: dict[str, Any] = {"lo": 0.9, "hi": 0.9999, "step": 0.0001, "fmt": "%.4f", "widget": "slider", "label": "β2 (Adam)"}
EPS: dict[str, Any] = {"lo": 0.0, "hi": 1.0, "widget": "select_slider", "label": "ε"}  # the page offers EPS_OPTIONS
EPS_OPTIONS = (1e-8, 1e-6, 1e-4, 1e-2, 1e-1, 1.0)

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
Closure = Callable[[], float | Tensor] | None


def _check_lr(lr: float) -> float:
    lr = float(lr)
    if not math.isfinite(lr) or lr < 0.0:
        raise ValueError(f"The learning rate must be a finite number ≥ 0, got {lr}.")
    return lr


def _check_beta(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}.")
    return value


def _check_eps(eps: float) -> float:
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0.0:
        raise ValueError(f"eps must be a finite number ≥ 0, got {eps}.")
    return eps


def _closure_loss(closure: Closure) -> float | Tensor | None:
    """Re-evaluate the model with gradients enabled when a closure is given."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def _dense_grad(p: Tensor, name: str) -> Tensor | None:
    grad = p.grad
    if grad is not None and grad.is_sparse:
        raise RuntimeError(f"{name} does not support sparse gradients.")
    return grad


class CourseOptimizer(torch.optim.Optimizer):
    """Shared step loop: closure, parameter groups, gradient checks, zero-initialised state.

    A rule names its state tensors in ``state_names`` and writes its formula in
    ``update(p, grad, state, group)``; ``state["step"]`` is ``t``, counted per parameter from 1.
    """

    state_names: tuple[str, ...] = ()

    def update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """One parameter's update; every rule below overrides this with its formula."""
        raise TypeError(f"{type(self).__name__} defines no update rule")

    @torch.no_grad()
    def step(self, closure: Closure = None) -> float | Tensor | None:  # type: ignore[override]
        """Apply one update to every parameter that has a gradient; returns the closure's loss."""
        loss = _closure_loss(closure)
        name = type(self).__name__
        for group in self.param_groups:
            for p in group["params"]:
                grad = _dense_grad(p, name)
                if grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    for key in self.state_names:
                        state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                self.update(p, grad, state, group)
        return loss


class GradientDescent(CourseOptimizer):
    """Plain (batch / mini-batch / stochastic) gradient descent.

    Update, for every parameter θ with gradient dθ::

        θ := θ − α·dθ

    Which of batch, mini-batch or stochastic gradient descent this is depends only on
    how many examples the gradient was computed from (Robbins & Monro, 1951).

    Args:
        params: tensors or parameter groups to optimise.
        lr: learning rate α ≥ 0.
    """

    state_names = ()

    def __init__(self, params: Params, lr: float) -> None:
        super().__init__(params, {"lr": _check_lr(lr)})

    def update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        p.add_(grad, alpha=-group["lr"])  # θ := θ − α·dθ


class Momentum(CourseOptimizer):
    """Gradient descent with momentum, the course's exponentially weighted form.

    Update, with ``v`` initialised to zeros (Polyak, 1964, "Some methods of speeding up
    the convergence of iteration methods")::

        v = β·v + (1 − β)·dW
        W := W − α·v

    Args:
        params: tensors or parameter groups to optimise.
        lr: learning rate α ≥ 0.
        beta: momentum β in [0, 1); β = 0 is plain gradient descent.
    """

    state_names = ("v",)

    def __init__(self, params: Params, lr: float, beta: float = 0.9) -> None:
        defaults = {"lr": _check_lr(lr), "beta": _check_beta(beta, "beta")}
        super().__init__(params, defaults)

    def update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta, v = group["beta"], state["v"]
        v.mul_(beta).add_(grad, alpha=1.0 - beta)  # v = βv + (1−β)dW
        p.add_(v, alpha=-group["lr"])  # W := W − αv


class _RootScaled(CourseOptimizer):
    """Adagrad and RMSprop: keep ``s`` (their own way, :meth:`accumulate`), then step by
    ``W := W − α / sqrt(s + ε) · dW`` — ε *inside* the square root, as in the course (PyTorch's
    ``Adagrad`` and ``RMSprop`` add it outside: ``sqrt(s) + ε``)."""

    state_names = ("s",)

    def accumulate(self, s: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        raise TypeError(f"{type(self).__name__} defines no accumulation")

    def update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        s = state["s"]
        self.accumulate(s, grad, group)
        p.addcdiv_(grad, (s + group["eps"]).sqrt_(), value=-group["lr"])  # W := W − α/sqrt(s + ε)·dW


class Adagrad(_RootScaled):
    """Adagrad: per-coordinate step sizes from the running sum of squared gradients.

    Update, with ``s`` initialised to zeros (Duchi, Hazan & Singer, 2011, "Adaptive
    subgradient methods for online learning and stochastic optimization", JMLR)::

        s = s + dW²
        W := W − α / sqrt(s + ε) · dW

    ε sits *inside* the square root, as in the course (``torch.optim.Adagrad`` adds it
    outside: ``sqrt(s) + ε``).

    Args:
        params: tensors or parameter groups to optimise.
        lr: learning rate α ≥ 0.
        eps: ε ≥ 0 added to ``s`` before the square root.
    """

    def __init__(self, params: Params, lr: float, eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": _check_lr(lr), "eps": _check_eps(eps)})

    def accumulate(self, s: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        s.addcmul_(grad, grad)  # s = s + dW²


class RMSprop(_RootScaled):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients
    (Tieleman & Hinton, 2012, Coursera "Neural Networks for Machine Learning", lecture 6.5).

    Adagrad's step, but ``s`` forgets old gradients (from zeros): ``s = β·s + (1 − β)·dW²``, then
    ``W := W − α / sqrt(s + ε) · dW`` with ε inside the root (``torch.optim.RMSprop``: ``sqrt(s) + ε``).
    ``beta`` is the decay β in [0, 1) of the squared-gradient average, ``eps`` the ε ≥ 0 added to ``s``
    (besides ``params`` and the learning rate ``lr`` ≥ 0).
    """

    def __init__(self, params: Params, lr: float, beta: float = 0.9, eps: float = 1e-8) -> None:
        defaults = {"lr": _check_lr(lr), "beta": _check_beta(beta, "beta"), "eps": _check_eps(eps)}
        super().__init__(params, defaults)

    def accumulate(self, s: Tensor, grad: Tensor, group: dict[str, Any]) -> None:
        beta = group["beta"]
        s.mul_(beta).addcmul_(grad, grad, value=1.0 - beta)  # s = βs + (1−β)dW²


class Adam(CourseOptimizer):
    """Adam: momentum on the gradient plus RMSprop scaling, both bias-corrected.

    Update, with ``v`` and ``s`` initialised to zeros and ``t`` counting this parameter's
    steps from 1 (Kingma & Ba, 2015, "Adam: A method for stochastic optimization", ICLR)::

        v = β1·v + (1 − β1)·dW
        s = β2·s + (1 − β2)·dW²
        v̂ = v / (1 − β1^t)
        ŝ = s / (1 − β2^t)
        W := W − α · v̂ / (sqrt(ŝ) + ε)

    Here ε sits *outside* the square root, as in the course and in ``torch.optim.Adam``.

    Args:
        params: tensors or parameter groups to optimise.
        lr: learning rate α ≥ 0.
        beta1: decay β1 in [0, 1) of the gradient average.
        beta2: decay β2 in [0, 1) of the squared-gradient average.
        eps: ε ≥ 0 added to sqrt(ŝ).
    """

    state_names = ("v", "s")

    def __init__(
        self,
        params: Params,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        defaults = {
            "lr": _check_lr(lr),
            "beta1": _check_beta(beta1, "beta1"),
            "beta2": _check_beta(beta2, "beta2"),
            "eps": _check_eps(eps),
        }
        super().__init__(params, defaults)

    def update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta1, beta2, t = group["beta1"], group["beta2"], state["step"]
        v, s = state["v"], state["s"]
        v.mul_(beta1).add_(grad, alpha=1.0 - beta1)  # v = β1·v + (1−β1)·dW
        s.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)  # s = β2·s + (1−β2)·dW²
        bias1 = 1.0 - beta1**t  # v̂ = v / (1 − β1^t)
        bias2 = 1.0 - beta2**t  # ŝ = s / (1 − β2^t)
        denom = s.sqrt().div_(math.sqrt(bias2)).add_(group["eps"])  # sqrt(ŝ) + ε
        p.addcdiv_(v, denom, value=-group["lr"] / bias1)  # W := W − α·v̂/(sqrt(ŝ) + ε)


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "Gradient descent": GradientDescent,
    "Momentum": Momentum,
    "Adagrad": Adagrad,
    "RMSprop": RMSprop,
    "Adam": Adam,
}

# The hyper-parameters (besides lr) each rule takes, by keyword.
_HYPERPARAMETERS: dict[type[torch.optim.Optimizer], tuple[str, ...]] = {
    GradientDescent: (),
    Momentum: ("beta",),
    Adagrad: ("eps",),
    RMSprop: ("beta", "eps"),
    Adam: ("beta1", "beta2", "eps"),
}


def make_optimizer(
    name: str,
    params: Params,
    lr: float,
    *,
    beta: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """Build the optimizer shown as ``name`` in ``OPTIMIZERS``, passing only what it takes.

    Example: ``make_optimizer("RMSprop", model.parameters(), 1e-3, beta=0.9, beta1=0.5)``
    builds ``RMSprop(params, lr=1e-3, beta=0.9, eps=1e-8)`` (``beta1`` is ignored).

    Raises:
        ValueError: for an unknown name (the message lists the known ones) or a bad
            hyper-parameter.
    """
    cls = OPTIMIZERS.get(name)
    if cls is None:
        known = ", ".join(repr(k) for k in OPTIMIZERS)
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {known}.")
    given = {"beta": beta, "beta1": beta1, "beta2": beta2, "eps": eps}
    kwargs = {key: given[key] for key in _HYPERPARAMETERS[cls]}
    return cls(params, lr, **kwargs)
