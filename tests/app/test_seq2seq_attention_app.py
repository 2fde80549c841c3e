"""The Sequence models page's "Self-attention" tab under AppTest: it renders its step-by-step
heatmaps from core's numbers; an empty sentence and a reordering with other words each get one
plain warning; turning the causal mask on zeroes the weights above the diagonal."""

from __future__ import annotations

import numpy as np

from core.seq2seq.explain import SelfAttentionConfig, self_attention
from tests.app.helpers import by_label, chart, page, plotly_array

WEIGHTS = "Head 1: weights"
SENTENCE = "A sentence"


def _weights(at) -> np.ndarray:
    return plotly_array(chart(at, WEIGHTS)["data"][0]["z"]).astype(float)


def test_the_tab_renders_core_numbers():
    at = page("seq2seq").run()
    assert not at.exception
    assert "Self-attention" in [t.label for t in at.tabs]
    expected = self_attention(SelfAttentionConfig())
    np.testing.assert_allclose(_weights(at), expected.weights[0], atol=1e-6)
    assert len(chart(at, "head's weights, side by side")["data"]) == 2
    assert chart(at, "Sinusoidal encodings")
    assert chart(at, "How much each word's output changed")
    by_label(at.text_input, "The same words in another order").set_value("the dog sat on the mat").run()
    assert not at.exception
    assert any("exactly the same words" in w.value for w in at.warning)


def test_an_empty_sentence_warns():
    at = page("seq2seq").run()
    by_label(at.text_input, SENTENCE).set_value("   ").run()
    assert not at.exception
    assert any("The sentence is empty" in w.value for w in at.warning)
    assert not any(WEIGHTS in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_the_causal_mask_zeroes_the_upper_triangle():
    at = page("seq2seq").run()
    before = _weights(at)
    assert before[np.triu_indices(len(before), k=1)].min() > 0
    by_label(at.toggle, "Causal mask").set_value(True).run()
    assert not at.exception
    after = _weights(at)
    assert np.abs(np.triu(after, k=1)).max() == 0.0
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-6)
    assert after[0, 0] == 1.0  # the first word can only look at itself
