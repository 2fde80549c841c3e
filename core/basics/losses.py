"""The course's two loss functions and how strongly each pushes a saturated sigmoid output.

Course ("Artificial Neural Networks / Loss Functions"):

    MSE = (1/n) Σ_i (y_i − ŷ_i)²                 (regression)
    CE  = −Σ_i Σ_c y_ic log ŷ_ic                  (classification; a sum over examples i and classes c)

For one example with a sigmoid output ŷ = σ(z) and a label y ∈ {0, 1}, the two classes
are "1" (probability ŷ) and "0" (probability 1 − ŷ), so CE = −[y log ŷ + (1 − y) log(1 − ŷ)].
The gradients with respect to the pre-activation z are

    dMSE/dz = 2 (ŷ − y) σ'(z)     (σ'(z) = ŷ(1 − ŷ) vanishes when the unit saturates)
    dCE/dz  = ŷ − y               (the σ' cancels: a confident wrong answer gets a large push)
"""

from __future__ import annotations

import math

import numpy as np

from core.basics.neuron import activation, activation_derivative

EPS = 1e-12  # probabilities are clipped to [EPS, 1 − EPS] before a log


def mse(y: np.ndarray, y_hat: np.ndarray) -> float:
    """MSE = (1/n) Σ (y − ŷ)² over all n entries of ``y`` and ``y_hat`` (same shape)."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    if y.shape != y_hat.shape:
        raise ValueError(f"y and ŷ must have the same shape, got {y.shape} and {y_hat.shape}")
    if y.size == 0:
        raise ValueError("MSE needs at least one value")
    return float(np.mean((y - y_hat) ** 2))


def cross_entropy(y: np.ndarray, y_hat: np.ndarray) -> float:
    """CE = −Σ_i Σ_c y_ic log ŷ_ic for one-hot (or soft) labels ``y`` and probabilities ``y_hat``,
    both (n, M). Probabilities are clipped to [1e-12, 1] so log 0 is finite."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    if y.ndim != 2 or y.shape != y_hat.shape:
        raise ValueError(f"y and ŷ must both be (n, M) arrays, got {y.shape} and {y_hat.shape}")
    if np.any(y_hat < 0) or np.any(y_hat > 1):
        raise ValueError("ŷ must hold probabilities in [0, 1]")
    return float(-np.sum(y * np.log(np.clip(y_hat, EPS, 1.0))))


def binary_cross_entropy(y: np.ndarray | float, p: np.ndarray | float) -> np.ndarray:
    """The course's CE for one example with two classes, elementwise: −[y log p + (1 − y) log(1 − p)]."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError("p must be a probability in [0, 1]")
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def loss_vs_probability(p: np.ndarray, y: float = 1.0) -> dict[str, np.ndarray]:
    """Both losses of one example as the predicted probability p of class 1 varies:
    ``{"MSE": (y − p)², "cross-entropy": −[y log p + (1 − y) log(1 − p)]}``."""
    _check_label(y)
    p = np.asarray(p, dtype=np.float64)
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError("p must hold probabilities in [0, 1]")
    return {"MSE": (y - p) ** 2, "cross-entropy": binary_cross_entropy(y, p)}


def _check_label(y: float) -> None:
    if y not in (0, 1):
        raise ValueError(f"the label y must be 0 or 1, got {y}")


def z_gradients(z: np.ndarray | float, y: float = 1.0) -> dict[str, np.ndarray]:
    """dL/dz for a sigmoid output ŷ = σ(z) with label ``y`` (one example, n = 1):
    ``{"MSE": 2(ŷ − y)σ'(z), "cross-entropy": ŷ − y}`` — same shape as ``z``."""
    _check_label(y)
    z = np.asarray(z, dtype=np.float64)
    y_hat = activation("sigmoid", z)
    return {"MSE": 2.0 * (y_hat - y) * activation_derivative("sigmoid", z), "cross-entropy": y_hat - y}


def saturation_numbers(z: float, y: float = 1.0) -> dict[str, float]:
    """The numbers behind one point of the gradient chart: ŷ, σ'(z), both losses and both dL/dz."""
    if not math.isfinite(z):
        raise ValueError("z must be a finite number")
    _check_label(y)
    y_hat = float(activation("sigmoid", z))
    grads = z_gradients(z, y)
    losses = loss_vs_probability(np.array(y_hat), y)
    return {
        "z": float(z), "y": float(y), "ŷ": y_hat, "σ'(z)": float(activation_derivative("sigmoid", z)),
        "MSE": float(losses["MSE"]), "cross-entropy": float(losses["cross-entropy"]),
        "dMSE/dz": float(grads["MSE"]), "dCE/dz": float(grads["cross-entropy"]),
    }
