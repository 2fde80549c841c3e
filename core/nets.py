"""Small networks several pages share: the fully connected network of the course."""

from __future__ import annotations

from torch import nn

from core.regularization import InvertedDropout

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "ReLU": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky ReLU": nn.LeakyReLU,
    "linear": nn.Identity,
}


def mlp(
    n_in: int,
    hidden: tuple[int, ...] | list[int],
    n_out: int,
    *,
    activation: str = "ReLU",
    keep_prob: float = 1.0,
    batch_norm: bool = False,
) -> nn.Sequential:
    """Flatten → per hidden layer: Linear → [BatchNorm1d] → activation → [InvertedDropout]
    → Linear to ``n_out`` class scores (logits).

    With ``batch_norm`` the normalisation acts on Z^[l] before the activation, as in the
    course (Ioffe & Szegedy, 2015), and the Linear layer has no bias (β replaces it).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}")
    if n_in < 1 or n_out < 1 or any(h < 1 for h in hidden):
        raise ValueError("every layer needs at least one unit")
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_in
    for h in hidden:
        layers.append(nn.Linear(width, h, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(ACTIVATIONS[activation]())
        if keep_prob < 1.0:
            layers.append(InvertedDropout(keep_prob))
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def weight_matrices(model: nn.Module) -> list:
    """The W^[l] of every Linear layer (the tensors the L2 penalty acts on; no biases)."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers such as batch-norm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())
