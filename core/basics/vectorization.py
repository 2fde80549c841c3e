"""Vectorization: one layer's forward pass as explicit Python loops, NumPy and torch, timed.

The layer is the course's Z = W X + b, A = g(Z), with examples as columns:
W (n_out, n_in), X (n_in, m), b (n_out, 1), Z and A (n_out, m). At "size n" the layer has
n inputs, n units and n examples, so one pass costs n³ multiply-adds — the loops run them
one by one in the interpreter; NumPy and torch hand the whole matrix product to an
optimised BLAS (on the CPU's vector units, or on the GPU). The course: "Vectorization —
replacing explicit loops with matrix operations — is critical for leveraging hardware
efficiency."

Timing: ``time.perf_counter``, the best of a few repeated samples (fewer when one call already
takes long; fast calls are repeated within a sample, as ``timeit`` does), untimed warm-up calls
(at least two, for 0.1 s) for NumPy and torch, ``torch.cuda.synchronize`` before and after each timed GPU sample. Data are prepared (as Python lists, arrays or device tensors) before the
clock starts, so only the computation is timed.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from core.jobs.api import Outcome
from core.settings import Settings, setting

IMPLEMENTATIONS: tuple[str, ...] = ("Python loops", "NumPy", "torch CPU", "torch GPU")
LAYER_ACTIVATIONS: tuple[str, ...] = ("ReLU", "sigmoid", "tanh")
DTYPES: tuple[str, ...] = ("float32", "float64")
MAX_SIZE = 2048
SIZE_OPTIONS: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)  # what the page offers
MAX_LOOP_SIZE = 256  # 256³ ≈ 17 million multiply-adds: several seconds in the interpreter
LOOP_CAP_OPTIONS: tuple[int, ...] = (0, 16, 32, 64, 128, MAX_LOOP_SIZE)  # what the page offers
CELL_BUDGET_S = 1.0  # stop repeating one measurement once it has used this much time
WARMUP_S = 0.1  # untimed calls of NumPy and torch before each measurement
MIN_SAMPLE_S = 0.01  # a timed sample repeats a fast call until it lasts this long
MAX_CALLS_PER_SAMPLE = 10_000
RTOL, ATOL = 1e-4, 1e-4  # float32 against the float64 reference, entries of order 1


def _py_sigmoid(s: float) -> float:
    if s >= 0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


_PY_ACT: dict[str, Callable[[float], float]] = {
    "ReLU": lambda s: s if s > 0.0 else 0.0,
    "sigmoid": _py_sigmoid,
    "tanh": math.tanh,
}


def _check_activation(name: str) -> None:
    if name not in LAYER_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(LAYER_ACTIVATIONS)}, got {name!r}")


def layer_loops(W: list[list[float]], X: list[list[float]], b: list[float], activation: str = "ReLU") -> list[list[float]]:
    """A = g(W X + b) with explicit Python loops over units j, examples k and inputs i.

    ``W``: n_out lists of n_in floats; ``X``: n_in lists of m floats; ``b``: n_out floats.
    Returns n_out lists of m floats.
    """
    _check_activation(activation)
    g = _PY_ACT[activation]
    n_out, n_in = len(W), len(X)
    m = len(X[0]) if n_in else 0
    if len(b) != n_out or any(len(row) != n_in for row in W):
        raise ValueError("W must be n_out × n_in and b must have n_out entries")
    A: list[list[float]] = []
    for j in range(n_out):
        w_j, row = W[j], []
        for k in range(m):
            s = b[j]
            for i in range(n_in):
                s += w_j[i] * X[i][k]
            row.append(g(s))
        A.append(row)
    return A


def layer_numpy(W: np.ndarray, X: np.ndarray, b: np.ndarray, activation: str = "ReLU") -> np.ndarray:
    """A = g(W X + b) with NumPy: W (n_out, n_in), X (n_in, m), b (n_out, 1) → (n_out, m)."""
    _check_activation(activation)
    Z = W @ X + b  # (n_out, m); b broadcasts over the examples
    if activation == "ReLU":
        return np.maximum(Z, 0)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    return np.tanh(Z)


def layer_torch(W: torch.Tensor, X: torch.Tensor, b: torch.Tensor, activation: str = "ReLU") -> torch.Tensor:
    """A = g(W X + b) with torch on whatever device the tensors live on; shapes as :func:`layer_numpy`."""
    _check_activation(activation)
    Z = torch.addmm(b, W, X)  # b + W @ X, (n_out, m)
    return {"ReLU": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation](Z)


def make_layer(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W ~ N(0, 1/n) (n, n), X ~ N(0, 1) (n, n), b ~ N(0, 1) (n, 1), float64 — Z has entries of order 1."""
    if not 1 <= n <= MAX_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_SIZE}, got {n}")
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1 / math.sqrt(n), (n, n)), rng.normal(0, 1, (n, n)), rng.normal(0, 1, (n, 1))


def gpu_available() -> bool:
    return torch.cuda.is_available()


@dataclass(frozen=True)
class VectorizationConfig(Settings):
    """What to time: square layers of each size n (n inputs, n units, n examples)."""

    sizes: tuple[int, ...] = setting((16, 32, 64, 128, 256, 512, 1024), lo=1, hi=MAX_SIZE, count=(1, 10**6),
                                     widget="multiselect", label="Sizes n")  # the page offers SIZE_OPTIONS
    # Python loops only for n ≤ loop_cap (n = 128: about 0.1 s a pass; 256: 0.5 s or more)
    loop_cap: int = setting(128, lo=0, hi=MAX_LOOP_SIZE, widget="select_slider",
                            label="Largest n for the Python loops",
                            help="The loops' cost grows as n³: n = 128 takes about a tenth of a second per pass, "
                                 "n = 256 eight times more, n = 512 would take several seconds. 0 skips them.")
    activation: str = setting("ReLU", choices=LAYER_ACTIVATIONS, label="Layer activation")
    # NumPy and torch; the loops always use Python floats (float64)
    dtype: str = setting("float32", choices=DTYPES, widget="radio", label="Number type (NumPy and torch)",
                         help="The loops always use Python floats (64-bit).")
    repeats: int = setting(5, lo=1, hi=10, widget="slider", label="Repeats (the best is kept)")
    use_gpu: bool = setting(True, label="Time on the GPU too")  # time torch on the GPU too, when one is present
    seed: int = 0

    def check(self) -> None:
        if len(set(self.sizes)) != len(self.sizes) or list(self.sizes) != sorted(self.sizes):
            raise ValueError("sizes must be distinct and in increasing order")

    def implementations(self) -> tuple[str, ...]:
        """The implementations this machine will time."""
        return tuple(i for i in IMPLEMENTATIONS if i != "torch GPU" or (self.use_gpu and gpu_available()))


def warm_up_timer(fn: Callable[[], object], sync: Callable[[], None] | None = None, min_calls: int = 2,
            min_s: float = WARMUP_S, max_calls: int = 1000) -> int:
    """Call ``fn()`` untimed at least ``min_calls`` times and until ``min_s`` seconds have passed
    (at most ``max_calls``): the first calls start the BLAS library's threads (on a busy machine
    waking them takes many milliseconds) or initialise cuBLAS on the GPU. Returns the calls made."""
    t0, calls = time.perf_counter(), 0
    while calls < min_calls or (time.perf_counter() - t0 < min_s and calls < max_calls):
        fn()
        calls += 1
    if sync:
        sync()
    return calls


def best_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None] | None = None,
              budget_s: float = CELL_BUDGET_S, min_sample_s: float = MIN_SAMPLE_S) -> tuple[float, int, int, object]:
    """Best seconds per call of ``fn()``, ``timeit``-style.

    First ``number`` grows 1, 2, 5, 10, 20, … until ``number`` back-to-back calls last at least
    ``min_sample_s`` (which keeps the clock's own overhead out of fast calls); then up to ``repeats``
    samples of ``number`` calls are timed, stopping early once ``budget_s`` is spent. A call that
    takes longer than the budget is timed once. ``sync`` (e.g. ``torch.cuda.synchronize``) is called before starting and
    before stopping the clock. Returns (best seconds per call, samples, calls per sample, last result).
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")

    def sample(number: int) -> tuple[float, object]:
        if sync:
            sync()
        t0 = time.perf_counter()
        for _ in range(number):
            out = fn()
        if sync:
            sync()
        return time.perf_counter() - t0, out

    number, best, spent = 1, math.inf, 0.0
    while True:  # calibrate like timeit's autorange: 1, 2, 5, 10, 20, 50, … calls until a sample is long enough
        dt, out = sample(number)
        best, spent = min(best, dt / number), spent + dt
        if dt >= min_sample_s or number >= MAX_CALLS_PER_SAMPLE or spent >= budget_s:
            break
        number *= 2.5 if str(number)[0] == "2" else 2
        number = int(number)
    if spent >= budget_s:  # one call already used the budget: that call is the only sample
        return best, 1, number, out
    samples = 0
    while samples < repeats and (samples == 0 or spent < budget_s):
        dt, out = sample(number)
        best, spent, samples = min(best, dt / number), spent + dt, samples + 1
    return best, samples, number, out


def time_layer(
    cfg: VectorizationConfig,
    on_row: Callable[[dict[str, object]], None] | None = None,
    check: Callable[[], None] | None = None,
) -> list[dict[str, object]]:
    """Time every implementation at every size; returns one row per (size, implementation):
    ``size, implementation, seconds, samples, calls_per_sample, gflops, max_abs_diff, equal`` (outputs compared with a
    float64 NumPy reference by ``np.allclose(rtol=1e-4, atol=1e-4)``). Loops above ``cfg.loop_cap``
    are skipped (no row). ``on_row`` sees each row as it is made; ``check`` is called between
    measurements (to stop early, it raises).
    """
    rows: list[dict[str, object]] = []
    dtype = np.dtype(cfg.dtype)
    tdtype = getattr(torch, cfg.dtype)
    impls = cfg.implementations()
    for n in cfg.sizes:
        W, X, b = make_layer(n, cfg.seed)
        ref = layer_numpy(W, X, b, cfg.activation)  # float64 reference
        for impl in impls:
            if check:
                check()
            sync = None
            if impl == "Python loops":
                if n > cfg.loop_cap:
                    continue
                Wl, Xl, bl = W.tolist(), X.tolist(), b[:, 0].tolist()
                fn = lambda Wl=Wl, Xl=Xl, bl=bl: layer_loops(Wl, Xl, bl, cfg.activation)  # noqa: E731
            elif impl == "NumPy":
                Wn, Xn, bn = W.astype(dtype), X.astype(dtype), b.astype(dtype)
                fn = lambda Wn=Wn, Xn=Xn, bn=bn: layer_numpy(Wn, Xn, bn, cfg.activation)  # noqa: E731
            else:
                device = torch.device("cuda" if impl == "torch GPU" else "cpu")
                Wt, Xt, bt = (torch.as_tensor(a, dtype=tdtype, device=device) for a in (W, X, b))
                if device.type == "cuda":
                    sync = torch.cuda.synchronize
                fn = lambda Wt=Wt, Xt=Xt, bt=bt: layer_torch(Wt, Xt, bt, cfg.activation)  # noqa: E731
            if impl != "Python loops":
                warm_up_timer(fn, sync)
            seconds, runs, number, out = best_time(fn, cfg.repeats, sync)
            out_np = out.cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out, dtype=np.float64)
            diff = float(np.max(np.abs(out_np.astype(np.float64) - ref)))
            row = {
                "size": n, "implementation": impl, "seconds": seconds, "samples": runs, "calls_per_sample": number,
                "gflops": 2 * n**3 / seconds / 1e9 if seconds > 0 else math.inf,
                "max_abs_diff": diff, "equal": bool(np.allclose(out_np, ref, rtol=RTOL, atol=ATOL)),
            }
            rows.append(row)
            if on_row:
                on_row(row)
    return rows


def speedup_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per size: how many times faster each implementation is than the Python loops and than NumPy
    (``None`` where the reference was not timed at that size)."""
    by_size: dict[int, dict[str, float]] = {}
    for r in rows:
        by_size.setdefault(int(r["size"]), {})[str(r["implementation"])] = float(r["seconds"])
    out = []
    for n, times in sorted(by_size.items()):
        for impl, t in times.items():
            loops, numpy_t = times.get("Python loops"), times.get("NumPy")
            out.append({
                "size": n, "implementation": impl, "seconds": t,
                "× faster than loops": loops / t if loops is not None and t > 0 else None,
                "× faster than NumPy": numpy_t / t if numpy_t is not None and t > 0 else None,
            })
    return out


def timing_tables(rows: list[dict[str, object]]) -> dict[str, Any]:
    """The page's three tables (pandas DataFrames indexed by size, one column per
    implementation, in :data:`IMPLEMENTATIONS` order): ``"seconds"`` (NaN where skipped),
    ``"vs loops"`` (× faster than the Python loops, loops themselves left out) and
    ``"vs NumPy"`` (× faster than NumPy, loops and NumPy left out). A table with nothing to
    show is empty."""
    import pandas as pd

    table = pd.DataFrame(speedup_rows(rows))
    if table.empty:
        return {"seconds": table, "vs loops": table, "vs NumPy": table}

    def pivot(frame: Any, column: str) -> Any:
        if frame.empty:
            return pd.DataFrame()
        wide = frame.pivot(index="size", columns="implementation", values=column)
        return wide[[c for c in IMPLEMENTATIONS if c in wide.columns]]

    ups = table[table["implementation"] != "Python loops"].dropna(subset=["× faster than loops"])
    others = table[~table["implementation"].isin(["Python loops", "NumPy"])]
    return {"seconds": pivot(table, "seconds"), "vs loops": pivot(ups, "× faster than loops"),
            "vs NumPy": pivot(others, "× faster than NumPy")}


def rows_to_csv(rows: list[dict[str, object]]) -> str:
    """The rows as CSV text (header from the first row's keys)."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@dataclass
class VectorizationResult(Outcome):
    """The timing table (rows of :func:`time_layer`), the sizes where loops were skipped, the GPU
    that was timed (None without one), the tracked run's id, and whether Stop cut it short."""

    rows: list[dict[str, object]] = field(default_factory=list)
    skipped_loop_sizes: tuple[int, ...] = ()
    gpu: str | None = None
    run_id: str | None = None
    stopped: bool = False

    @property
    def all_equal(self) -> bool:
        return all(bool(r["equal"]) for r in self.rows)


def _metric_key(impl: str) -> str:
    return "seconds_" + impl.lower().replace(" ", "_")


def run_timing(ctx, cfg: VectorizationConfig) -> VectorizationResult:
    """Background-job function (``fn(ctx, cfg)``): time the layer at every size, pushing rows to the
    live series named after each implementation (``{size, seconds}``), and track the table as a run
    in experiment "basics" (metrics ``seconds_<implementation>`` with the size as step, the CSV as
    an artifact). Stop ends the run KILLED and returns the rows timed so far (``stopped``).
    """
    from core import tracking
    from core.training import TrainingCancelled

    impls = cfg.implementations()
    gpu = torch.cuda.get_device_name() if "torch GPU" in impls else None
    result = VectorizationResult(skipped_loop_sizes=tuple(n for n in cfg.sizes if n > cfg.loop_cap), gpu=gpu)
    total = sum(len(impls) - (n > cfg.loop_cap) for n in cfg.sizes)
    with tracking.start_run("basics", cfg, run_name="vectorization timing", tags={tracking.TAG_KIND: "vectorization"}) as run:
        if ctx is not None:
            ctx.report(0.0, "timing")

        def on_row(row: dict[str, object]) -> None:
            result.rows.append(row)
            run.log_metrics({_metric_key(str(row["implementation"])): float(row["seconds"])}, step=int(row["size"]))
            if ctx is not None:
                ctx.push(str(row["implementation"]), size=float(row["size"]), seconds=float(row["seconds"]))
                ctx.report(len(result.rows) / total, f"n = {row['size']}: {row['implementation']} {row['seconds']:.2e} s")

        try:
            time_layer(cfg, on_row=on_row, check=ctx.check_cancel if ctx is not None else None)
        except TrainingCancelled:
            result.stopped = True
        run.log_text(rows_to_csv(result.rows), "timings.csv")
        if result.stopped:
            run.end("KILLED", f"stopped by the user after {len(result.rows)} timings")
        else:
            run.log_metrics({"all_equal": float(result.all_equal)}, step=0)
    result.run_id = run.run_id
    return result
