"""Export as code for the Generative page's toy GAN (core/export/toygan.py): the exported code, run in this
process on the CPU, ends with the generator the lab's run ended with (its 500 points from the fixed noise,
relative tolerance 1e-4 as in test_export.py) and the run's final_modes_covered; the lab's previous frame
lies outside that tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import tracking
from core.export.builder import export
from core.generative.toy import ToyConfig, run_toy
from tests.unit.test_export import _exec_cells
from tests.unit.test_export import (
    test_every_export_is_a_valid_notebook_explained_step_by_step_without_the_lab as valid_notebook,
)


@pytest.fixture
def denormals_back():
    yield
    torch.set_flush_denormal(False)  # the notebook flushes them, as the lab's job does


@pytest.mark.parametrize("cfg", [
    ToyConfig(steps=60, every=20, n_real=512, batch_size=64, hidden=32),
    ToyConfig(kind="grid", loss="minimax", k=3, steps=25, every=5, n_real=300, batch_size=32, hidden=16, z_dim=1,
              lr_g=1e-2, seed=4),
], ids=["ring", "grid k=3"])
def test_the_toy_gan_export_ends_with_the_runs_generator(fresh_store, denormals_back, cfg):
    result = run_toy(None, cfg)
    scope = _exec_cells(export(cfg))
    run = tracking.search_runs().iloc[0]
    assert scope["final"]["final_modes_covered"] == run["metrics.final_modes_covered"] == result.frames[-1].covered
    assert result.frames[-1].step == cfg.steps
    assert np.allclose(scope["samples"], result.frames[-1].fake, rtol=1e-4, atol=1e-6)
    assert not np.allclose(scope["samples"], result.frames[-2].fake, rtol=1e-4, atol=1e-6)


def test_the_toy_gan_notebook_is_valid():
    valid_notebook(ToyConfig())
