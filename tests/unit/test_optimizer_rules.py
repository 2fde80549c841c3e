"""The course's update rules against references: torch.optim where it has the same formula,
a float64 NumPy transcription of the course's formula where it does not."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from core.optimizers import OPTIMIZERS, Adagrad, Adam, GradientDescent, Momentum, RMSprop
from core.optimizers.rules import make_optimizer

STEPS = 25
DTYPES = [torch.float32, torch.float64]


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}


def _gradients(shapes: list[tuple[int, ...]], steps: int, dtype: torch.dtype, seed: int = 0):
    """A fixed sequence of gradients: steps × [one tensor per shape]."""
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=gen, dtype=dtype) for s in shapes] for _ in range(steps)]


def _params(shapes: list[tuple[int, ...]], dtype: torch.dtype, seed: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes]


SHAPES = [(4, 3), (3,), (2, 2, 5)]


def _run_pair(make_ours, make_ref, dtype: torch.dtype, prime_ref=None, steps: int = STEPS):
    """Step ours and the reference with identical weights and gradients, comparing each step."""
    ours = _params(SHAPES, dtype)
    ref = [p.detach().clone().requires_grad_() for p in ours]
    opt_ours, opt_ref = make_ours(ours), make_ref(ref)
    if prime_ref is not None:
        prime_ref(opt_ref, ref)
    for grads in _gradients(SHAPES, steps, dtype):
        for p, q, g in zip(ours, ref, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt_ours.step()
        opt_ref.step()
        for p, q in zip(ours, ref, strict=True):
            torch.testing.assert_close(p, q, **_tol(dtype))
    return ours


# --- same formula as torch.optim -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr", [0.01, 0.3])
def test_gradient_descent_matches_sgd(dtype: torch.dtype, lr: float) -> None:
    _run_pair(
        lambda ps: GradientDescent(ps, lr=lr),
        lambda ps: torch.optim.SGD(ps, lr=lr),
        dtype,
    )


def _prime_zero_momentum(opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> None:
    # torch.optim.SGD creates its momentum buffer from the FIRST gradient (v1 = dW), while
    # the course starts from v0 = 0 so that v1 = (1 − β)·dW. Handing SGD a zero buffer
    # before the first step makes both start from v = 0; from then on SGD with
    # dampening = β computes v = βv + (1 − β)dW, W := W − αv — the course's rule exactly.
    for p in params:
        opt.state[p]["momentum_buffer"] = torch.zeros_like(p)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99])
def test_momentum_matches_sgd_with_dampening(dtype: torch.dtype, beta: float) -> None:
    lr = 0.05
    ours = _params(SHAPES, dtype)
    ref = [p.detach().clone().requires_grad_() for p in ours]
    opt_ours = Momentum(ours, lr=lr, beta=beta)
    opt_ref = torch.optim.SGD(ref, lr=lr, momentum=beta, dampening=beta)
    _prime_zero_momentum(opt_ref, ref)
    for grads in _gradients(SHAPES, STEPS, dtype):
        for p, q, g in zip(ours, ref, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt_ours.step()
        opt_ref.step()
        for p, q in zip(ours, ref, strict=True):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)


def test_momentum_first_step_is_damped() -> None:
    """From v = 0 the first update is α(1−β)dW, not αdW as with PyTorch's unprimed SGD."""
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64)
    Momentum([p], lr=0.1, beta=0.9).step()
    torch.testing.assert_close(p.detach(), -0.1 * 0.1 * p.grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [1e-8, 1e-3, 1e-1])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_matches_torch_adam(dtype: torch.dtype, eps: float, betas: tuple[float, float]) -> None:
    lr = 0.01
    _run_pair(
        lambda ps: Adam(ps, lr=lr, beta1=betas[0], beta2=betas[1], eps=eps),
        lambda ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps),
        dtype,
    )


# --- ε inside the square root: a NumPy float64 transcription of the course -----------------


def _numpy_adagrad(w0: np.ndarray, grads: list[np.ndarray], lr: float, eps: float):
    w, s, path = w0.copy(), np.zeros_like(w0), []
    for dw in grads:
        s = s + dw**2
        w = w - lr / np.sqrt(s + eps) * dw
        path.append(w.copy())
    return path


def _numpy_rmsprop(w0: np.ndarray, grads: list[np.ndarray], lr: float, beta: float, eps: float):
    w, s, path = w0.copy(), np.zeros_like(w0), []
    for dw in grads:
        s = beta * s + (1 - beta) * dw**2
        w = w - lr / np.sqrt(s + eps) * dw
        path.append(w.copy())
    return path


def _compare_with_numpy(opt_factory, numpy_rule, dtype: torch.dtype) -> None:
    shape = (5, 4)
    gen = torch.Generator().manual_seed(3)
    w0 = torch.randn(shape, generator=gen, dtype=torch.float64)
    grads = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(STEPS)]
    expected = numpy_rule(w0.numpy(), [g.numpy() for g in grads])
    p = w0.to(dtype).requires_grad_()
    opt = opt_factory([p])
    for g, w_expected in zip(grads, expected, strict=True):
        p.grad = g.to(dtype)
        opt.step()
        torch.testing.assert_close(p.detach().double(), torch.from_numpy(w_expected), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [1e-8, 1e-1])
@pytest.mark.parametrize("lr", [0.01, 0.5])
def test_adagrad_matches_course_formula(dtype: torch.dtype, eps: float, lr: float) -> None:
    _compare_with_numpy(
        lambda ps: Adagrad(ps, lr=lr, eps=eps),
        lambda w0, gs: _numpy_adagrad(w0, gs, lr, eps),
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [1e-8, 1e-1])
@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99])
def test_rmsprop_matches_course_formula(dtype: torch.dtype, eps: float, beta: float) -> None:
    _compare_with_numpy(
        lambda ps: RMSprop(ps, lr=0.01, beta=beta, eps=eps),
        lambda w0, gs: _numpy_rmsprop(w0, gs, 0.01, beta, eps),
        dtype,
    )


def _sequence(size: int = 10, seed: int = 5) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A float64 starting point (size,) and STEPS gradients (size,)."""
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.randn(size, generator=gen, dtype=torch.float64)
    return w0, [torch.randn(size, generator=gen, dtype=torch.float64) for _ in range(STEPS)]


def _final_after(opt_factory, w0: torch.Tensor, grads: list[torch.Tensor]) -> torch.Tensor:
    p = w0.clone().requires_grad_()
    opt = opt_factory([p])
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return p.detach()


def _eps_outside(w0: torch.Tensor, grads: list[torch.Tensor], lr: float, beta: float | None):
    """PyTorch's placement, W := W − α·dW/(sqrt(s) + ε) with ε = 0.1 (beta None = Adagrad)."""
    w, s = w0.clone(), torch.zeros_like(w0)
    for g in grads:
        s = s + g**2 if beta is None else beta * s + (1 - beta) * g**2
        w = w - lr * g / (s.sqrt() + 1e-1)
    return w


def test_adagrad_eps_inside_sqrt_differs_from_torch() -> None:
    """With a large ε the course's sqrt(s + ε) and PyTorch's sqrt(s) + ε disagree, and
    PyTorch's result is the ε-outside formula, so the difference is the placement alone."""
    w0, grads = _sequence()
    ours = _final_after(lambda ps: Adagrad(ps, lr=0.1, eps=1e-1), w0, grads)
    torch_style = _final_after(lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-1), w0, grads)
    assert (ours - torch_style).abs().max() > 1e-3
    torch.testing.assert_close(torch_style, _eps_outside(w0, grads, 0.1, None))
    expected = _numpy_adagrad(w0.numpy(), [g.numpy() for g in grads], 0.1, 1e-1)[-1]
    torch.testing.assert_close(ours, torch.from_numpy(expected))


def test_rmsprop_eps_inside_sqrt_differs_from_torch() -> None:
    w0, grads = _sequence()
    ours = _final_after(lambda ps: RMSprop(ps, lr=0.01, beta=0.9, eps=1e-1), w0, grads)
    torch_style = _final_after(lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-1), w0, grads)
    assert (ours - torch_style).abs().max() > 1e-3
    torch.testing.assert_close(torch_style, _eps_outside(w0, grads, 0.01, 0.9))
    expected = _numpy_rmsprop(w0.numpy(), [g.numpy() for g in grads], 0.01, 0.9, 1e-1)[-1]
    torch.testing.assert_close(ours, torch.from_numpy(expected))
    # With a negligible ε both placements agree: ε's position is the only difference.
    ours_small = _final_after(lambda ps: RMSprop(ps, lr=0.01, beta=0.9, eps=1e-14), w0, grads)
    torch_small = _final_after(lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-14), w0, grads)
    torch.testing.assert_close(ours_small, torch_small, rtol=1e-9, atol=1e-9)


def test_adam_bias_correction_first_step() -> None:
    """At t = 1, v̂ = dW and ŝ = dW², so the first step is α·dW/(|dW| + ε) ≈ α·sign(dW)."""
    p = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    g = torch.tensor([3.0, -0.5, 1e-3, -20.0], dtype=torch.float64)
    p.grad = g.clone()
    Adam([p], lr=0.1, eps=0.0).step()
    torch.testing.assert_close(p.detach(), -0.1 * torch.sign(g))


# --- common behaviour ---------------------------------------------------------------------

ALL = [
    lambda ps: GradientDescent(ps, lr=0.1),
    lambda ps: Momentum(ps, lr=0.1),
    lambda ps: Adagrad(ps, lr=0.1),
    lambda ps: RMSprop(ps, lr=0.1),
    lambda ps: Adam(ps, lr=0.1),
]
IDS = list(OPTIMIZERS)


@pytest.mark.parametrize("factory", ALL, ids=IDS)
def test_params_without_grad_are_untouched(factory) -> None:
    a = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b_before = b.detach().clone()
    opt = factory([a, b])
    a.grad = torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        opt.step()
    assert torch.equal(b.detach(), b_before)
    assert b not in opt.state or not opt.state[b]


@pytest.mark.parametrize("factory", ALL, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_keeps_dtype_and_counts_steps_per_parameter(factory, dtype: torch.dtype) -> None:
    a = torch.randn(3, dtype=dtype, requires_grad=True)
    b = torch.randn(2, dtype=dtype, requires_grad=True)
    opt = factory([a, b])
    a.grad = torch.ones_like(a)
    opt.step()
    b.grad = torch.ones_like(b)
    opt.step()
    assert a.dtype == dtype and b.dtype == dtype
    if opt.state[a]:
        assert opt.state[a]["step"] == 2
        assert opt.state[b]["step"] == 1
        assert all(t.dtype == dtype for t in opt.state[a].values() if torch.is_tensor(t))


@pytest.mark.parametrize("factory", ALL, ids=IDS)
def test_step_with_closure_returns_loss_and_descends(factory) -> None:
    w = torch.tensor([2.0, -1.5], dtype=torch.float64, requires_grad=True)
    opt = factory([w])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert isinstance(first, torch.Tensor)
    for _ in range(30):
        last = opt.step(closure)
    assert last.item() < first.item()


@pytest.mark.parametrize(
    "build",
    [
        lambda ps: GradientDescent(ps, lr=-0.1),
        lambda ps: GradientDescent(ps, lr=math.nan),
        lambda ps: GradientDescent(ps, lr=math.inf),
        lambda ps: Momentum(ps, lr=0.1, beta=1.0),
        lambda ps: Momentum(ps, lr=0.1, beta=-0.1),
        lambda ps: Adagrad(ps, lr=0.1, eps=-1e-8),
        lambda ps: RMSprop(ps, lr=0.1, beta=1.5),
        lambda ps: RMSprop(ps, lr=0.1, eps=-1.0),
        lambda ps: Adam(ps, lr=0.1, beta1=1.0),
        lambda ps: Adam(ps, lr=0.1, beta2=-0.5),
        lambda ps: Adam(ps, lr=0.1, eps=math.nan),
        lambda ps: Adam(ps, lr=-1.0),
    ],
)
def test_bad_hyperparameters_raise_value_error(build) -> None:
    with pytest.raises(ValueError):
        build([torch.zeros(2, requires_grad=True)])


def test_zero_lr_is_allowed_and_does_nothing() -> None:
    p = torch.ones(2, requires_grad=True)
    p.grad = torch.ones(2)
    Adam([p], lr=0.0).step()
    assert torch.equal(p.detach(), torch.ones(2))


def test_optimizers_registry_and_make_optimizer() -> None:
    assert list(OPTIMIZERS) == ["Gradient descent", "Momentum", "Adagrad", "RMSprop", "Adam"]
    p = [torch.zeros(2, requires_grad=True)]
    opt = make_optimizer("RMSprop", p, 0.01, beta=0.8, beta1=0.3, eps=1e-4)
    assert isinstance(opt, RMSprop)
    assert opt.param_groups[0]["beta"] == 0.8 and opt.param_groups[0]["eps"] == 1e-4
    assert "beta1" not in opt.param_groups[0]
    adam = make_optimizer("Adam", p, 0.01, beta1=0.5, beta2=0.9)
    assert (adam.param_groups[0]["beta1"], adam.param_groups[0]["beta2"]) == (0.5, 0.9)
    assert set(make_optimizer("Gradient descent", p, 0.1).defaults) == {"lr"}
    for name, cls in OPTIMIZERS.items():
        assert type(make_optimizer(name, p, 0.1)) is cls


def test_make_optimizer_unknown_name_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="Adam") as info:
        make_optimizer("Lion", [torch.zeros(1, requires_grad=True)], 0.1)
    assert "Lion" in str(info.value) and "Gradient descent" in str(info.value)


def test_state_dict_round_trip() -> None:
    """A saved and reloaded Adam continues exactly like the original."""
    gen = torch.Generator().manual_seed(7)
    grads = [torch.randn(3, generator=gen, dtype=torch.float64) for _ in range(10)]
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = Adam([p], lr=0.1)
    for g in grads[:5]:
        p.grad = g.clone()
        opt.step()
    q = p.detach().clone().requires_grad_()
    opt2 = Adam([q], lr=0.1)
    # deepcopy, as saving to disk would: load_state_dict keeps the very same state tensors.
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for g in grads[5:]:
        p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        opt2.step()
    assert torch.equal(p, q)
