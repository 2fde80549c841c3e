"""Export as code for the Regularization page's other experiments (core/export/regularization.py): the
sweep, the batch-norm comparison, the augmentation and the early-stopping experiments. Their exported code, run in this process
on the CPU, gives each tracked run's final numbers (relative tolerance 1e-4, as in test_export.py), and the
lab's value one epoch earlier lies outside that tolerance."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from core import tracking
from core.export.builder import export
from core.regularization.augment import augment_spec
from core.regularization.experiments import (
    AugmentConfig,
    BatchNormConfig,
    EarlyStopConfig,
    SweepConfig,
    run_augmentation,
    run_batch_norm,
    run_early_stopping,
    run_sweep,
)
from core.regularization.lab import Setup
from tests.unit.test_export import _exec_cells, close
from tests.unit.test_export import (
    test_every_export_is_a_valid_notebook_explained_step_by_step_without_the_lab as valid_notebook,
)

CPU = torch.device("cpu")
SETUP = Setup(dataset="digits", n_train=60, hidden=(32, 32), epochs=3, batch_size=16)
CASES = {
    "sweep": (SweepConfig(SETUP, lambdas=(0.0, 3.0), keep_probs=(0.6,)), run_sweep),
    "batch norm": (BatchNormConfig(SETUP, learning_rates=(0.05, 1.0), n_train=80, epochs=3), run_batch_norm),
    "augmentation": (AugmentConfig(SETUP, augment_spec(("flip", "rotate", "crop", "colour", "noise"), copies=2)),
                     run_augmentation),
    "early stopping": (EarlyStopConfig(replace(SETUP, epochs=15, lr=0.03), patience=2), run_early_stopping),
    "early stopping on the dev error": (EarlyStopConfig(replace(SETUP, epochs=15, lr=0.03), patience=2,
                                                        monitor="dev error", compare=False), run_early_stopping),
}


@pytest.mark.parametrize("kind", CASES)
def test_each_experiments_export_gives_every_runs_numbers(fresh_store, kind):
    cfg, run = CASES[kind]
    result = run(None, cfg, device=CPU)
    final = _exec_cells(export(cfg, device="cpu"))["final"]
    runs = tracking.search_runs()
    assert sorted(final) == sorted(runs["params.lane"]) == sorted(ln.name for ln in result.lanes)
    for _, row in runs.iterrows():
        for key in ("final_dev_loss", "final_train_loss", "final_dev_accuracy", "final_train_accuracy"):
            assert close(final[row["params.lane"]][key], row[f"metrics.{key}"]), (row["params.lane"], key)
    for lane in result.lanes:  # one epoch less would not pass (early stopping: the best epoch's next-to-last)
        assert not close(final[lane.name]["final_dev_loss"], lane.history.epochs[-2]["dev_loss"]), lane.name
    if isinstance(cfg, EarlyStopConfig):  # it did stop early, so the stopping rule was really checked
        stopped = next(ln for ln in result.lanes if ln.name == "early stopping")
        assert stopped.history.stopped_early and len(stopped.history.epochs) < cfg.setup.epochs


def test_the_augmented_copies_are_the_labs(fresh_store):
    """The copies the notebook makes are those of the lab's preview; another seed would make others."""
    cfg, _ = CASES["augmentation"]
    scope = _exec_cells(export(cfg, device="cpu"))
    from core.regularization.augment import augmented_training_set
    from core.regularization.lab import prepare_setup

    train = prepare_setup(SETUP).train
    X, y = augmented_training_set(*train, cfg.augment, seed=SETUP.seed)
    assert torch.equal(scope["SETS"]["augmented"][0], X) and torch.equal(scope["SETS"]["augmented"][1], y)
    other, _ = augmented_training_set(*train, cfg.augment, seed=SETUP.seed + 1)
    assert not torch.allclose(scope["SETS"]["augmented"][0], other, rtol=1e-4)


def test_a_bad_batch_norm_set_up_is_refused_plainly():
    with pytest.raises(ValueError, match="at least 2"):
        export(BatchNormConfig(Setup(batch_size=1)))
    with pytest.raises(ValueError, match="SweepConfig"):
        from core.export.regularization import sweep

        sweep(CASES["batch norm"][0])


@pytest.mark.parametrize("kind", CASES)
def test_each_export_is_a_valid_notebook_without_the_lab(kind):
    valid_notebook(CASES[kind][0])
