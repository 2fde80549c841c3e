"""Imported by a worker process before its first job (see the ``preloaded_runner`` fixture): the style transfer's
cost turns NaN from its fifth evaluation on — the start evaluation (for the scale), then three good steps — so the
job diverges at step 4, as a too-large learning rate would make it. Import ``tests.fake_offline`` beside it."""

import torch

from core.style import transfer as T

_real = T.Transfer.costs
_calls = {"n": 0}


def _costs(self, x):
    c = _real(self, x)
    _calls["n"] += 1
    if _calls["n"] > 4:
        c.total = c.total * torch.tensor(float("nan"))
    return c


T.Transfer.costs = _costs
