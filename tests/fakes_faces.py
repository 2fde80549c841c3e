"""Imported by a job worker before its first job (the ``preloaded_runner`` fixture): scikit-learn's
Olivetti download replaced by what the test asks for in ``DLL_TEST_OLIVETTI`` (a setting that crosses
over to the job): ``"offline"`` fails as without internet, ``"stand-in"`` gives :func:`stand_in`.
Without the setting the real function is called."""

from __future__ import annotations

import os

import numpy as np
import sklearn.datasets

SETTING = "DLL_TEST_OLIVETTI"
_real = sklearn.datasets.fetch_olivetti_faces


class Bunch(dict):
    __getattr__ = dict.__getitem__


def stand_in(**_) -> Bunch:
    """40 made-up "people" of 10 noisy 64×64 grey photos each, always the same (in place of Olivetti)."""
    rng = np.random.default_rng(0)
    centres = rng.random((40, 64, 64), dtype=np.float32)
    images = np.clip(np.repeat(centres, 10, 0) + 0.1 * rng.standard_normal((400, 64, 64), dtype=np.float32), 0, 1)
    return Bunch(images=images, target=np.repeat(np.arange(40), 10))


def offline(**_):
    raise OSError("no route to host")


def fetch_olivetti_faces(**kwargs):
    how = os.environ.get(SETTING)
    if how == "offline":
        return offline(**kwargs)
    if how == "stand-in":
        return stand_in(**kwargs)
    return _real(**kwargs)


sklearn.datasets.fetch_olivetti_faces = fetch_olivetti_faces
