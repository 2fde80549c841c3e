"""The Sequence models page's "Transformer language model" tab under AppTest: it renders with its
form; a tiny training (in the worker process) finishes tracked; the next-character bars are the
softmax of the network loaded from the run; a bad typed text or top-k gets one sentence; the
comparison finds the learner's own RNN character model on the same text."""

from __future__ import annotations

import pytest
import torch

from core import tracking
from core.rnn.charlm import CharLMConfig, run_charlm
from core.seq2seq.lm import load_lm, next_token_probs
from tests.app.helpers import chart, page, plotly_array, run_until, texts

KEY = "seq2seq.lm"


def test_the_tab_renders_with_its_form():
    at = page("seq2seq").run()
    assert not at.exception
    assert "Transformer language model" in [t.label for t in at.tabs]
    assert "causal self-attention" in texts(at)
    assert at.select_slider(key=f"{KEY}.d_model").value == 32
    assert at.radio(key=f"{KEY}.positions").options == ["learned", "sinusoidal"]


def test_tiny_training_then_probabilities_heads_and_comparison(fresh_store):
    rnn = run_charlm(None, CharLMConfig(corpus="first names", hidden_size=16, embedding_size=8, seq_len=16,
                                        epochs=1, n_samples=1), torch.device("cpu"))
    at = page("seq2seq").run()
    at.select_slider(key=f"{KEY}.d_model").set_value(16)
    at.select_slider(key=f"{KEY}.num_layers").set_value(1)
    at.select_slider(key=f"{KEY}.num_heads").set_value(2)
    at.select_slider(key=f"{KEY}.context").set_value(16)
    at.slider(key=f"{KEY}.epochs").set_value(1)
    next(b for b in at.button if b.label == "Train the Transformer").click()
    at = run_until(at.run(), lambda a: "Tracked as run" in texts(a), timeout=240).run()
    assert not at.exception
    run = tracking.search_runs([tracking.experiment_id("seq2seq")]).iloc[0]
    assert run["status"] == "FINISHED" and run["tags.dll.kind"] == "transformer-lm"
    assert "Samples after epoch 1" in texts(at)
    assert "Sample from the trained Transformer" in [h.value for h in at.subheader]

    at.text_input(key=f"{KEY}.probe").set_value("Ma").run()
    assert not at.exception
    bars = chart(at, "Probability of the next character")
    result = at.session_state[f"{KEY}.result"]
    probs = next_token_probs(load_lm(run["run_id"]), result.vocab, "Ma", 0.8)
    assert plotly_array(bars["data"][0]["y"])[:5] == pytest.approx(sorted(probs.tolist(), reverse=True)[:5], abs=1e-6)
    assert chart(at, "Causal self-attention")
    assert f"`{rnn.run_id}`" in texts(at) and "the same dev text" in texts(at)  # the learner's LSTM, same text

    at.text_input(key=f"{KEY}.probe").set_value("Ma{").run()
    assert any("never saw '{'" in w.value for w in at.warning)
    at.text_input(key=f"{KEY}.probe").set_value("").run()
    assert any("Type at least one character" in w.value for w in at.warning)
    assert not at.exception
