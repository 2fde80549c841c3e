"""The check that a job's config or result is plain data: it pickles, and it holds no network, optimizer or tensor."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import torch

MAX_BYTES = 32 * 2**20


def walk(obj: Any, path: str = "result", seen: set[int] | None = None):
    """Yield (path, value) for every value inside ``obj`` (dataclasses, mappings, sequences, objects' attributes)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield path, obj
    if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic)):
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = ((f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj))
    elif isinstance(obj, dict):
        items = ((repr(k), v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = ((str(i), v) for i, v in enumerate(obj))
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        items = vars(obj).items()
    else:
        return
    for key, value in items:
        yield from walk(value, f"{path}.{key}", seen)


def assert_plain(obj: Any, what: str = "result") -> Any:
    """``obj`` survives a pickle round trip, stays small, and holds no nn.Module, optimizer or tensor
    (numbers, arrays for the charts and run ids only). Returns the unpickled copy."""
    bad = [(p, type(v).__name__) for p, v in walk(obj, what)
           if isinstance(v, (torch.nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Generator))]
    assert not bad, f"{what} must be plain data, but holds {bad[:5]}"
    data = pickle.dumps(obj)
    assert len(data) < MAX_BYTES, f"{what} pickles to {len(data) / 2**20:.1f} MB"
    return pickle.loads(data)
