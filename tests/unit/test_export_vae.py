"""Export as code for the Generative page's VAE (core/export/vae.py): the exported code, run in this process
on the CPU, gives the tracked run's final train and dev loss (relative tolerance 1e-4, as in test_export.py);
the lab's dev loss one epoch earlier lies outside it."""

from __future__ import annotations

import pytest
import torch

from core import tracking
from core.export.builder import export
from core.generative.vae import VAEConfig, run_vae
from tests.unit.test_export import _exec_cells, close
from tests.unit.test_export import (
    test_every_export_is_a_valid_notebook_explained_step_by_step_without_the_lab as valid_notebook,
)

CPU = torch.device("cpu")
MLP = VAEConfig(dataset="digits", latent_dim=2, epochs=2, batch_size=64, hidden=32, max_train=300)
CONV = VAEConfig(dataset="digits", arch="conv", latent_dim=4, epochs=2, batch_size=32, width=4, max_train=200,
                 beta=2.0, seed=5)


@pytest.mark.parametrize("cfg", [MLP, CONV], ids=["MLP", "conv"])
def test_the_vae_export_gives_the_tracked_runs_losses(fresh_store, cfg):
    result = run_vae(None, cfg, device=CPU)
    final = _exec_cells(export(cfg, device="cpu"))["final"]
    run = tracking.search_runs().iloc[0]
    assert sorted(final) == ["final_dev_loss", "final_train_loss"]
    for key in final:
        assert close(final[key], run[f"metrics.{key}"]), (key, final[key], run[f"metrics.{key}"])
    assert not close(final["final_dev_loss"], result.lane.history.epochs[-2]["dev_loss"])


def test_the_vae_notebook_is_valid():
    valid_notebook(MLP)
    with pytest.raises(ValueError, match="VAEConfig"):
        from core.export.vae import vae

        vae(CONV.__dict__)
