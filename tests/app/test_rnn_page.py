"""The RNNs page under AppTest: every tab renders; the gate viewer's messages and its values
against the course LSTM run by hand; the gradient tab's ordering; a tiny character model
trained as a tracked job in the worker process (built-in names, then an uploaded text, and a
binary file refused), sampled from the network loaded from its run (also after a Stop); a
diverged one told by the job panel alone; and a tiny uni- vs bidirectional comparison."""


import numpy as np
import torch

from core import tracking
from core.rnn.viewer import VIEWER_ALPHABET
from tests.app.helpers import by_label, chart, page, run_until, texts


def _downloads(at) -> set[str]:
    return {b.label for b in at.get("download_button")}


def test_every_tab_renders():
    at = page("rnn").run()
    assert not at.exception
    assert at.title[0].value == "RNNs"
    labels = [t.label for t in at.tabs]
    for tab in ("Cells and gates", "Vanishing gradients", "Character language model", "Bidirectional"):
        assert tab in labels
    assert chart(at, "Gate activations")
    assert chart(at, "How much the last step's loss reaches back")
    assert chart(at, "Gradient norms before and after clipping")
    assert "An untrained LSTM cell with random weights" in texts(at)
    assert {"Download the gate values (CSV)", "Download the gradient norms (CSV)",
            "Download the norms (CSV)"} <= _downloads(at)
    assert by_label(at.button, "Train the language model")
    assert by_label(at.button, "Train both taggers")


def _type(at, text: str):
    """Type into the gate viewer's box (found anew: an element from an older run carries stale widgets)."""
    by_label(at.text_input, "Text to read (at most 200 characters)").set_value(text)
    return at.run()


def test_gate_viewer_messages_and_values():
    at = page("rnn").run()
    _type(at, "")
    assert "Type a few characters first" in texts(at)
    _type(at, "x" * 201)
    assert "That is 201 characters; the viewer reads at most 200" in texts(at)
    _type(at, "price: 10 €")
    assert "Not in this cell's vocabulary: '€'" in texts(at)
    assert not at.exception
    _type(at, "abc")
    by_label(at.slider, "Step").set_value(2).run()
    assert not at.exception
    # the heatmap of the forget gate holds the course's f = σ(W_f·[h, x] + b_f) of the seeded random cell
    spec = chart(at, "Gate activations")
    forget = np.array(spec["data"][0]["z"])  # (units, steps)
    torch.manual_seed(0)
    from core.rnn.cells import LSTMCell

    vocab = sorted(set(VIEWER_ALPHABET))
    cell = LSTMCell(len(vocab), 8)
    h = c = torch.zeros(1, 8)
    with torch.no_grad():
        for t, ch in enumerate("abc"):
            x = torch.nn.functional.one_hot(torch.tensor([vocab.index(ch)]), len(vocab)).float()
            hx = torch.cat([h, x], 1)
            f = torch.sigmoid(hx @ cell.W_f.T + cell.b_f)
            i = torch.sigmoid(hx @ cell.W_i.T + cell.b_i)
            c = f * c + i * torch.tanh(hx @ cell.W_C.T + cell.b_C)
            h = torch.sigmoid(hx @ cell.W_o.T + cell.b_o) * torch.tanh(c)
            np.testing.assert_allclose(forget[:, t], f[0].numpy(), atol=1e-6)
    assert "Download the gate values (CSV)" in _downloads(at)


def test_gradient_tab_orders_the_cells():
    at = page("rnn").run()
    values = {m.label.split(":")[0]: float(m.value) for m in at.metric if "steps back" in m.label}
    assert set(values) == {"RNN", "LSTM", "GRU"}
    assert values["RNN"] < values["LSTM"]
    by_label(at.select_slider, "Clip the global norm at c").set_value(0.5).run()
    after = [m for m in at.metric if m.label == "Global norm after clipping"][0]
    assert float(after.value) == 0.5
    assert not at.exception


def _tiny_lm(at, epochs: int = 2):
    by_label(at.select_slider, "Hidden size").set_value(16)
    by_label(at.select_slider, "Embedding size").set_value(4)
    by_label(at.select_slider, "Sequence length (characters)").set_value(16)
    by_label(at.slider, "Epochs").set_value(epochs)
    by_label(at.number_input, "Learning rate").set_value(0.02)
    by_label(at.button, "Train the language model").click()
    return at.run()


def test_train_a_tiny_language_model(fresh_store):
    at = page("rnn").run()
    at = run_until(_tiny_lm(at), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"]
    run = runs.iloc[0]
    assert run["params.corpus"] == "first names" and run["params.hidden_size"] == "16" and run["params.epochs"] == "2"
    assert "Samples after epoch 2" in texts(at)
    assert {"Download the curves (CSV)", "Download every epoch's samples (.txt)",
            "Download these samples (.txt)"} <= _downloads(at)
    assert chart(at, "Perplexity per epoch")
    # greedy sampling: the same sample every time
    by_label(at.slider, "Temperature").set_value(0.0)
    by_label(at.slider, "Samples").set_value(3).run()
    code = [c.value for c in at.code][-1].splitlines()
    assert len(code) == 3 and len(set(code)) == 1
    # the gate viewer now offers the trained model
    source = by_label(at.radio, "Cell to look inside")
    assert "The language model trained in this session" in source.options
    source.set_value("The language model trained in this session").run()
    _type(at, "Anna")
    assert "The first layer of the LSTM language model trained in this session" in texts(at)
    assert not at.exception


def test_a_stopped_language_model_still_samples(fresh_store):
    at = page("rnn").run()
    by_label(at.selectbox, "Text to learn").set_value("python docstrings").run()  # long epochs: Stop comes first
    at = run_until(_tiny_lm(at, epochs=60), lambda a: "Samples after epoch 1" in texts(a))
    by_label(at.button, "Stop").click()
    at = run_until(at.run(), lambda a: "Stopped." in texts(a)).run()
    assert not at.exception
    assert tracking.search_runs()["status"].tolist() == ["KILLED"]
    assert "Stopped: the model as it was is kept, and you can sample from it below." in texts(at)
    assert "Sample from the trained model" in [h.value for h in at.subheader]
    by_label(at.slider, "Temperature").set_value(0.0)  # greedy: the same text for every sample
    by_label(at.slider, "Samples").set_value(2).run()
    code = [c.value for c in at.code][-1]
    # a text's samples are shown a blank line apart; the box drops whitespace at the very end, and a sample
    # may itself end in a newline, so look for the split that makes the two samples the same text
    cuts = [k for k in range(1, len(code)) if code[k:k + 2] == "\n\n"]
    assert any((code[:k] + "\n\n" + code[:k]).rstrip() == code.rstrip() for k in cuts), repr(code)
    assert "Download these samples (.txt)" in _downloads(at)
    assert "The language model trained in this session" in by_label(at.radio, "Cell to look inside").options


def test_a_diverged_language_model_is_told_by_the_job_panel_alone(fresh_store, preloaded_runner):
    preloaded_runner("tests.fakes_rnn")  # the worker's loss is NaN from the first step
    at = run_until(_tiny_lm(page("rnn").run()), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    run = tracking.search_runs().iloc[0]
    sentence = "the loss became NaN at step 1 — try a smaller learning rate"
    assert run["status"] == "FAILED" and run["tags.dll.error"] == sentence
    assert [e.value for e in at.error] == [f"LSTM diverged: {sentence}. Its run is tracked as FAILED."]
    assert "Sample from the trained model" not in [h.value for h in at.subheader]
    assert not [m for m in at.metric if m.label in ("Dev perplexity", "Train perplexity")]
    assert by_label(at.radio, "Cell to look inside").options == ["A random cell (untrained)"]


TEXT = ("The quick brown fox jumps over the lazy dog. " * 20 + "\n").encode()


def test_uploaded_text_and_a_binary_file(fresh_store):
    at = page("rnn").run()
    by_label(at.selectbox, "Text to learn").set_value("upload").run()
    assert "Upload a .txt file" in texts(at)
    uploader = by_label(at.file_uploader, "A plain-text file (UTF-8, at most 2 MB)")
    uploader.upload("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300), "text/plain")
    at.run()
    assert "looks like a binary file, not text" in texts(at)
    by_label(at.button, "Train the language model").click().run()
    assert "Upload a usable .txt file first" in texts(at)
    assert not at.exception
    by_label(at.file_uploader, "A plain-text file (UTF-8, at most 2 MB)").upload("fox.txt", TEXT, "text/plain")
    at.run()
    assert "fox.txt" in texts(at) and "901 characters" in texts(at)
    at = run_until(_tiny_lm(at), lambda a: "Finished in" in texts(a)).run()
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FINISHED" and run["params.corpus"] == "upload" and run["params.text_name"] == "fox.txt"
    assert run["params.text_chars"] == str(len(TEXT))
    assert not at.exception


def test_bidirectional_comparison(fresh_store):
    at = page("rnn").run()
    by_label(at.select_slider, "Hidden size (each direction)").set_value(8)
    by_label(at.slider, "String length").set_value(5)
    by_label(at.select_slider, "Training strings").set_value(500)
    sliders = [s for s in at.slider if s.label == "Epochs"]
    sliders[-1].set_value(3)  # the tagger's (the language model has one too)
    by_label(at.selectbox, "Cell (our course cells)").set_value("RNN")
    by_label(at.button, "Train both taggers").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    assert chart(at, "Dev accuracy: unidirectional vs bidirectional")
    assert chart(at, "Dev accuracy at each position")
    runs = tracking.search_runs()
    assert sorted(runs["params.direction"]) == ["bidirectional", "unidirectional"]
    assert runs["tags.dll.comparison"].nunique() == 1
    assert "Download the accuracy per position (CSV)" in _downloads(at)
