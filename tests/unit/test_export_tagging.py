"""Export as code for the RNN page's tagging task (core/export/tagging.py): the exported code, run in this
process on the CPU, gives both tracked runs' final losses and accuracies (relative tolerance 1e-4, as in
test_export.py); the lab's dev loss one epoch earlier lies outside it."""

from __future__ import annotations

import pytest
import torch

from core import tracking
from core.export.builder import export
from core.rnn.tagging import TaggingConfig, run_tagging
from tests.unit.test_export import _exec_cells, close
from tests.unit.test_export import (
    test_every_export_is_a_valid_notebook_explained_step_by_step_without_the_lab as valid_notebook,
)

CPU = torch.device("cpu")


@pytest.mark.parametrize("cfg", [
    TaggingConfig(cell="GRU", hidden_size=8, length=8, n_train=120, n_dev=40, epochs=3, batch_size=32),
    TaggingConfig(cell="LSTM", hidden_size=4, length=6, n_symbols=5, n_train=80, n_dev=30, epochs=2, batch_size=16,
                  optimizer="Momentum", lr=0.1, seed=3),
], ids=["GRU", "LSTM"])
def test_the_tagging_export_gives_both_runs_numbers(fresh_store, cfg):
    result = run_tagging(None, cfg, device=CPU)
    final = _exec_cells(export(cfg, device="cpu"))["final"]
    runs = tracking.search_runs()
    assert sorted(final) == sorted(runs["params.direction"]) == ["bidirectional", "unidirectional"]
    for _, run in runs.iterrows():
        mine = final[run["params.direction"]]
        for key in ("final_train_loss", "final_dev_loss", "dev_accuracy", "train_accuracy"):
            assert close(mine[key], run[f"metrics.{key}"]), (run["params.direction"], key)
    for lane in result.lanes:
        assert not close(final[lane.name]["final_dev_loss"], lane.history.epochs[-2]["dev_loss"]), lane.name


def test_the_tagging_notebook_is_valid():
    valid_notebook(TaggingConfig())
