"""Export as code for the RNN page's character model (core/export/charlm.py): the exported code, run in this
process on the CPU, gives the tracked run's final train and dev loss (relative tolerance 1e-4, as in
test_export.py); the lab's dev loss one epoch earlier lies outside it."""

from __future__ import annotations

import pytest
import torch

from core import tracking
from core.export.builder import export
from core.rnn.charlm import UPLOAD, CharLMConfig, run_charlm
from tests.unit.test_export import _exec_cells, close
from tests.unit.test_export import (
    test_every_export_is_a_valid_notebook_explained_step_by_step_without_the_lab as valid_notebook,
)

CPU = torch.device("cpu")
NAMES = CharLMConfig(corpus="first names", cell="GRU", embedding_size=8, hidden_size=32, seq_len=16, epochs=3,
                     batch_size=32, max_chars=3000, n_samples=2)
TEXT = "".join(f"The {w} cat sat on mat number {i}; it was {w}.\n" for i, w in
               enumerate(("red", "big", "odd", "shy", "old", "wet") * 6))
UPLOADED = CharLMConfig(corpus=UPLOAD, text=TEXT, text_name="cats.txt", cell="LSTM", num_layers=2, embedding_size=8,
                        hidden_size=16, seq_len=24, epochs=3, batch_size=8, optimizer="RMSprop", lr=0.01, n_samples=2,
                        dev_fraction=0.2)


@pytest.mark.parametrize("cfg", [NAMES, UPLOADED], ids=["first names", "upload"])
def test_the_char_model_export_gives_the_tracked_runs_losses(fresh_store, cfg):
    result = run_charlm(None, cfg, device=CPU)
    scope = _exec_cells(export(cfg, device="cpu"))
    final, run = scope["final"], tracking.search_runs().iloc[0]
    assert sorted(final) == ["final_dev_loss", "final_train_loss"]
    for key in final:
        assert close(final[key], run[f"metrics.{key}"]), (key, final[key], run[f"metrics.{key}"])
    assert not close(final["final_dev_loss"], result.lane.history.epochs[-2]["dev_loss"])
    assert len(scope["CHARS"]) == len(result.vocab)
    assert all(isinstance(s, str) for s in scope["sample"](n=2))


def test_the_char_model_notebook_is_valid_and_refuses_plainly():
    valid_notebook(NAMES)
    with pytest.raises(ValueError, match="dev fraction"):
        export(CharLMConfig(corpus=UPLOAD, text=TEXT, dev_fraction=0.0))
