"""Vanishing and exploding gradients through time, measured with autograd on the course cells.

:func:`input_gradient_norms` runs a freshly initialised (seeded) cell over a random
sequence of length T, takes the loss of the *last* step only, L = ½‖a⟨T⟩ − y‖², and
returns ‖∂L/∂x⟨t⟩‖ for every earlier input: how much the last step's error can still tell
the first inputs. For a vanilla RNN it shrinks geometrically with the distance from the end
(each step multiplies by diag(1 − a²)·W_aa, whose size is below 1 at PyTorch's default
initialisation); an LSTM's cell-state path multiplies by the forget gate instead, about
σ(1) ≈ 0.73 with forget-bias 1, so it fades far more slowly (Hochreiter, 1991; Bengio,
Simard & Frasconi, 1994; Pascanu, Mikolov & Bengio, "On the difficulty of training
recurrent neural networks", 2013).

:func:`clipping_demo` shows the other failure, exploding gradients, with large recurrent
weights, and what clipping the global norm with ``torch.nn.utils.clip_grad_norm_`` does:
if ‖g‖ > c, every gradient is multiplied by c/‖g‖ (direction kept, length c).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from core.rnn.cells import GRUCell, LSTMCell, make_cell, run_cell

__all__ = ["ClipDemo", "clipping_demo", "gradient_setup", "gradient_table", "input_gradient_norms", "input_gradients",
           "last_step_loss"]

MAX_LENGTH = 400


def gradient_setup(kind: str, T: int, *, hidden_size: int = 32, input_size: int = 8, seed: int = 0,
                   weight_scale: float = 1.0, forget_bias: float | None = 1.0, dtype: torch.dtype = torch.float64):
    """(cell, x [1, T, D], y [1, H]) as :func:`input_gradient_norms` builds them (see there)."""
    if not 1 <= T <= MAX_LENGTH:
        raise ValueError(f"the sequence length must be between 1 and {MAX_LENGTH}")
    if weight_scale <= 0:
        raise ValueError("the weight scale must be above 0")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cell = make_cell(kind, input_size, hidden_size).to(dtype)
    cell.reset_parameters(weight_scale)
    if forget_bias is not None:
        if isinstance(cell, LSTMCell):
            cell.set_forget_bias(forget_bias)
        elif isinstance(cell, GRUCell):
            with torch.no_grad():
                cell.b_z.fill_(-forget_bias)  # 1 − z ≈ σ(forget_bias): the same "keep the old state" default
    x = torch.randn(1, T, input_size, generator=gen, dtype=dtype)
    y = torch.rand(1, hidden_size, generator=gen, dtype=dtype) * 2 - 1  # the last step's target in [−1, 1]
    return cell, x, y


def input_gradient_norms(kind: str, T: int, *, hidden_size: int = 32, input_size: int = 8, seed: int = 0,
                         weight_scale: float = 1.0, forget_bias: float | None = 1.0,
                         dtype: torch.dtype = torch.float64) -> np.ndarray:
    """‖∂L/∂x⟨t⟩‖ for t = 1 … T (index t − 1), where L = ½‖a⟨T⟩ − y‖² is the last step's loss.

    The cell ("RNN", "LSTM" or "GRU") is initialised uniformly in ±weight_scale/√H with
    ``seed``; the LSTM's forget bias is then set to ``forget_bias`` (None keeps the random
    one); the course GRU's update bias becomes −forget_bias, so that 1 − z starts near
    σ(forget_bias) as the LSTM's f does (None keeps it random too). Inputs x⟨t⟩ ~ N(0, 1) and the target y ~ U(−1, 1) come from the same seed.
    Computed in float64 so that norms down to ~1e-300 are still resolved."""
    cell, x, y = gradient_setup(kind, T, hidden_size=hidden_size, input_size=input_size, seed=seed,
                                weight_scale=weight_scale, forget_bias=forget_bias, dtype=dtype)
    return input_gradients(cell, x, y).norm(dim=2)[0].cpu().numpy()  # [T]


def last_step_loss(cell: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L = ½‖a⟨T⟩ − y‖² (summed over the batch) after running ``cell`` over x [B, T, D]."""
    out, _ = run_cell(cell, x)  # [B, T, H]
    return 0.5 * ((out[:, -1] - y) ** 2).sum()


def input_gradients(cell: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂L/∂x⟨t⟩ for every step, [B, T, D], by autograd through :func:`last_step_loss`."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(last_step_loss(cell, x, y), x)
    return grad.detach()


def gradient_table(kinds: Sequence[str], lengths: Sequence[int], **kw) -> pd.DataFrame:
    """Rows (cell, T, t, distance = T − t, norm, ratio = norm / norm at distance 0) for each
    cell and length; ``kw`` goes to :func:`input_gradient_norms`."""
    rows = []
    for kind in kinds:
        for T in lengths:
            norms = input_gradient_norms(kind, int(T), **kw)
            last = norms[-1] if norms[-1] > 0 else np.nan
            for t, n in enumerate(norms, start=1):
                rows.append({"cell": kind, "T": int(T), "t": t, "distance": int(T) - t, "norm": float(n),
                             "ratio": float(n / last)})
    return pd.DataFrame(rows)


@dataclass
class ClipDemo:
    """Gradient norms of one backward pass before and after clipping the global norm."""

    before: dict[str, float]  # per parameter ‖g‖
    after: dict[str, float]
    total_before: float  # √(Σ ‖g‖²), what clip_grad_norm_ returned
    total_after: float
    max_norm: float
    loss: float

    @property
    def clipped(self) -> bool:
        return self.total_before > self.max_norm

    def table(self) -> pd.DataFrame:
        rows = [{"parameter": k, "norm before": self.before[k], "norm after": self.after[k]} for k in self.before]
        rows.append({"parameter": "global (all together)", "norm before": self.total_before,
                     "norm after": self.total_after})
        return pd.DataFrame(rows)


def clipping_demo(kind: str = "RNN", T: int = 50, *, max_norm: float = 1.0, weight_scale: float = 3.0,
                  hidden_size: int = 32, input_size: int = 8, seed: int = 0, input_scale: float = 0.05) -> ClipDemo:
    """One backward pass of the last step's loss through a cell with large weights
    (uniform in ±weight_scale/√H) over T small inputs (× ``input_scale``, so the units stay
    out of tanh's flat tails and the products of Jacobians can grow), then
    ``torch.nn.utils.clip_grad_norm_(params, max_norm)``."""
    if max_norm <= 0:
        raise ValueError("the clipping threshold c must be above 0")
    cell, x, y = gradient_setup(kind, T, hidden_size=hidden_size, input_size=input_size, seed=seed,
                                weight_scale=weight_scale, forget_bias=None)
    loss = last_step_loss(cell, x * input_scale, y)
    cell.zero_grad()
    loss.backward()
    before = {n: float(p.grad.norm()) for n, p in cell.named_parameters()}
    total = float(torch.nn.utils.clip_grad_norm_(list(cell.parameters()), max_norm))
    after = {n: float(p.grad.norm()) for n, p in cell.named_parameters()}
    total_after = float(np.sqrt(sum(v * v for v in after.values())))
    return ClipDemo(before, after, total, total_after, float(max_norm), loss.item())
