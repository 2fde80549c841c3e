"""Device choice, seeding and the autocast policy, in one place.

The lab trains on the best device present: CUDA, then Apple's MPS, then the CPU.
On CUDA, matrix work runs under bf16 autocast (same exponent range as fp32, so no
loss scaling is needed); elsewhere it runs in fp32.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
from dataclasses import dataclass

import numpy as np
import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to train on: ``prefer`` if given and available, else cuda > mps > cpu.

    ``DLL_DEVICE`` in the environment acts as ``prefer`` (e.g. ``DLL_DEVICE=cpu`` to keep
    a GPU machine's tests on the CPU).
    """
    prefer = prefer or os.environ.get("DLL_DEVICE") or None
    if prefer:
        if prefer not in {"cuda", "mps", "cpu"}:
            raise ValueError(f"unknown device {prefer!r}: choose cuda, mps or cpu")
        if prefer == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but no CUDA GPU is visible")
        if prefer == "mps" and not _mps_available():
            raise ValueError("MPS was asked for but this machine has no Apple GPU")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@dataclass(frozen=True)
class DeviceInfo:
    """What the home page and the sidebar show about the compute device."""

    kind: str  # "cuda" | "mps" | "cpu"
    name: str  # GPU name, or "CPU"
    memory_gb: float | None  # total GPU memory, None on CPU/MPS
    threads: int  # torch intra-op threads
    torch_version: str

    @property
    def label(self) -> str:
        if self.kind == "cuda" and self.memory_gb is not None:
            return f"{self.name} · {self.memory_gb:.0f} GB"
        if self.kind == "cpu":
            return f"CPU · {self.threads} threads"
        return self.name


def device_info(device: torch.device | None = None) -> DeviceInfo:
    """Describe ``device`` (default: :func:`pick_device`)."""
    device = device or pick_device()
    threads = torch.get_num_threads()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return DeviceInfo("cuda", props.name, props.total_memory / 1024**3, threads, torch.__version__)
    if device.type == "mps":
        return DeviceInfo("mps", "Apple GPU (MPS)", None, threads, torch.__version__)
    return DeviceInfo("cpu", "CPU", None, threads, torch.__version__)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded alike.

    Raises ``ValueError`` for a seed outside [0, 2**32).
    """
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be between 0 and {2**32 - 1}, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def autocast(device: torch.device, enabled: bool = True, cpu: bool = False) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (and, with ``cpu=True``, on a CPU with native bf16 units: :func:`fast_bf16`);
    a no-op context elsewhere (fp32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if enabled and cpu and device.type == "cpu" and fast_bf16(device):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix maths runs natively here: a CUDA GPU with bf16, or a CPU with AMX or AVX-512 BF16
    units that oneDNN can use (elsewhere bf16 on a CPU is emulated and slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return _cpu_has_bf16_units()


@functools.cache
def _cpu_has_bf16_units() -> bool:
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except Exception:  # noqa: BLE001 - not Linux, or an unusual build: stay with fp32
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (needed before reading a wall clock)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run the block with ``n`` intra-op CPU threads, then restore the previous number.

    For networks so small that threading costs more than it saves (the playground). In the
    app the training thread shares the cores and the GIL with the thread that draws it live;
    with two OpenMP threads spinning between tiny ops, a 2-core machine managed about 9
    playground epochs a second while the browser watched, and about 27 with one thread.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def cpu_speed(dev: torch.device):
    """On a CPU: one intra-op thread (for small nets such as the GANs': on the 2-core machine, with
    another job running, a DCGAN step took 27 ms on one thread and 62 ms on two) and denormal floats
    flushed to zero (Adam's tiny moments otherwise make every step about 3× slower). Both are put back
    afterwards; they apply in the job's worker process only."""
    if dev.type != "cpu":
        yield
        return
    with cpu_threads(1):
        torch.set_flush_denormal(True)  # this thread's FPU flags only
        try:
            yield
        finally:
            torch.set_flush_denormal(False)
