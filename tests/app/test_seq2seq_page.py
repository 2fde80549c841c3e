"""The Sequence models page under AppTest: every tab renders; a tiny date-translation
training (in the worker process) finishes and shows exact match and BLEU equal to the tracked
run's; a typed date that is empty or too long gets one sentence; a typed date gets its
translation and attention heatmap from the network loaded from its run; beam search of width 1
shows greedy's output; a diverged training is told by the job panel alone; the BLEU tab's
numbers equal sacrebleu's."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu

from core import tracking
from tests.app.helpers import by_label, chart, page, plotly_array, run_until, texts

KEY = "seq2seq.dates"



def _metric(at, label: str) -> str:
    return by_label(at.metric, label).value


def test_every_tab_renders():
    at = page("seq2seq").run()
    assert not at.exception
    assert at.title[0].value == "Sequence models"
    assert [t.label for t in at.tabs] == ["Date translation", "Self-attention", "Beam search", "BLEU", "Number words",
                                         "Transformer language model"]
    assert "needs a trained date translation model" in texts(at)
    assert "BLEU (0–1, course)" in [m.label for m in at.metric]


def test_bleu_tab_equals_sacrebleu():
    at = page("seq2seq").run()
    cases = [("the cat sat on the mat", "the cat is sitting on the mat\nthere is a cat on the mat", "13a", "none"),
             ("the cat", "the cat is on the mat", "13a", "exp"),  # brevity penalty, no 3- or 4-gram
             ("the the the the the the the", "the cat is on the mat", "13a", "none"),
             ("2021-09-29", "2021-09-28", "char", "none")]
    for cand, refs, tok, smooth in cases:
        by_label(at.text_input, "Candidate (the machine's output)").set_value(cand)
        by_label(at.text_area, "References, one per line").set_value(refs)
        by_label(at.radio, "Tokens").set_value(tok)
        by_label(at.radio, "Smoothing").set_value(smooth)
        at.run()
        assert not at.exception
        expected = sacrebleu.corpus_bleu([cand], [[r] for r in refs.splitlines()], tokenize=tok, smooth_method=smooth)
        assert float(_metric(at, "BLEU (0–100)")) == pytest.approx(expected.score, abs=0.005)
        assert float(_metric(at, "BLEU (0–1, course)")) == pytest.approx(expected.score / 100, abs=5e-5)
        assert float(_metric(at, "sacrebleu's score")) == pytest.approx(expected.score, abs=0.005)
        assert float(_metric(at, "Brevity penalty BP")) == pytest.approx(expected.bp, abs=5e-5)
    clipped = [d.value for d in at.dataframe if "clipped count" in d.value.columns][-1]
    assert "clipped count" in clipped.columns
    by_label(at.text_input, "Candidate (the machine's output)").set_value("   ").run()
    assert any("Type a candidate" in w.value for w in at.warning)


def _train_tiny(at):
    """A tiny training (500 pairs, 1 epoch, 16 units, English, both variants),
    run until the page says it finished."""
    at.select_slider(key=f"{KEY}.n_train").set_value(500)
    at.slider(key=f"{KEY}.epochs").set_value(1)
    at.select_slider(key=f"{KEY}.hidden").set_value(16)
    at.multiselect(key=f"{KEY}.languages").set_value(["en"])
    at.segmented_control(key=f"{KEY}.variants").set_value(["attention", "no attention"])
    by_label(at.button, "Train").click()
    return run_until(at.run(), lambda a: "Finished in" in texts(a), timeout=180).run()


def test_tiny_training_then_translate_and_beam(fresh_store):
    at = _train_tiny(page("seq2seq").run())
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED", "FINISHED"]
    for _, run in runs.iterrows():
        variant = run["params.variant"]
        assert run["params.n_train"] == "500"
        assert _metric(at, f"Exact match ({variant})") == f"{run['metrics.dev_exact_match']:.1%}"
        assert _metric(at, f"BLEU ({variant})") == f"{run['metrics.dev_bleu']:.1f}"
    assert {b.label for b in at.get("download_button")} >= {"Download the dev predictions (CSV)"}

    at.radio(key=f"{KEY}.variant").set_value("no attention").run()
    assert "This model has no attention" in texts(at)
    at.radio(key=f"{KEY}.variant").set_value("attention").run()
    box = at.text_input(key=f"{KEY}.text")
    box.set_value("").run()
    assert any("empty" in w.value for w in at.warning)
    box.set_value("Monday, the third of May in the year nineteen ninety-nine, at noon").run()
    assert any("at most 60" in w.value for w in at.warning)
    box.set_value("3 May 1999").run()
    assert not at.exception
    assert _metric(at, "Translation")
    heat = chart(at, "Attention: where each output character looked")
    z = plotly_array(heat["data"][0]["z"])
    assert z.shape[1] == len(heat["data"][0]["x"]) == len("3 may 1999")
    assert np.allclose(z.sum(1), 1, atol=1e-4)

    # beam search of width 1 is greedy search
    at.radio(key="seq2seq.beam.variant").set_value("attention")
    at.slider(key="seq2seq.beam.width").set_value(1)
    at.text_input(key="seq2seq.beam.text.dates").set_value("3 may 1999").run()
    assert not at.exception
    assert _metric(at, "Beam search (B = 1)") == _metric(at, "Greedy search")
    assert chart(at, "Beam search tree")
    at.text_input(key="seq2seq.beam.text.dates").set_value("").run()
    assert any("empty" in w.value for w in at.warning)


def test_a_diverged_training_is_told_by_the_job_panel_alone(fresh_store, preloaded_runner):
    preloaded_runner("tests.fakes_seq2seq")  # the worker's loss is NaN from the first step
    at = _train_tiny(page("seq2seq").run())
    assert not at.exception
    runs = tracking.search_runs()
    sentence = "the loss became NaN at step 1 — try a smaller learning rate"
    assert runs["status"].tolist() == ["FAILED", "FAILED"] and set(runs["tags.dll.error"]) == {sentence}
    assert [e.value for e in at.error] == [f"{v} diverged: {sentence}. Its run is tracked as FAILED."
                                           for v in ("attention", "no attention")]
    table = [d.value for d in at.dataframe if "status" in d.value.columns][0]
    assert table["status"].tolist() == ["FAILED", "FAILED"]
    assert not [m for m in at.metric if m.label.endswith("attention)")]  # no exact match or BLEU of a variant
    assert "needs a trained date translation model" in texts(at)  # nothing to translate with


def test_number_words_tab_trains_and_scores_words(fresh_store):
    at = page("seq2seq").run()
    num = "seq2seq.numbers"
    at.select_slider(key=f"{num}.n_train").set_value(500)
    at.slider(key=f"{num}.epochs").set_value(1)
    at.select_slider(key=f"{num}.hidden").set_value(16)
    [b for b in at.button if b.label == "Train"][1].click()  # the second form: Number words
    at = run_until(at.run(), lambda a: "Finished in" in texts(a), timeout=180).run()
    assert not at.exception
    run = tracking.search_runs().iloc[0]
    assert run["params.task"] == "numbers" and run["tags.dll.kind"] == "numbers"
    assert "13a tokenizer" in texts(at)
    result = at.session_state["seq2seq.numbers.result"]
    attention = result.variants["attention"]
    words = [r["output"] for r in attention.predictions]
    refs = [r["reference"] for r in attention.predictions]
    expected = sacrebleu.corpus_bleu(words, [refs]).score  # word-level, sacrebleu's defaults
    assert run["metrics.dev_bleu"] == pytest.approx(expected)
    box = at.text_input(key=f"{num}.text")
    box.set_value("4021").run()
    assert not at.exception and [m for m in at.metric if m.label == "Translation"]
