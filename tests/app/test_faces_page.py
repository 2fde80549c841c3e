"""The Face recognition page under AppTest: the triplet-loss explorer against the course's
formula, a tiny siamese training on digits with its one-shot evaluation, verification of
held-out and uploaded images, a face set that cannot be downloaded, and the faces path
(with a stand-in for Olivetti).

The training runs in a job worker process: where the job must see a fake Olivetti download, the test
uses the ``preloaded_runner`` fixture with :mod:`tests.fakes_faces` (a monkeypatch here would not reach
the worker) and also patches this process, where the page itself reads the set."""

import io
import itertools

import numpy as np
import pytest
import sklearn.datasets
import torch
from PIL import Image
from sklearn.metrics import confusion_matrix

from core import tracking
from core.faces import mine_triplets, triplet_loss
from core.faces.training import embed, load_tracked
from core.faces.triplets import batch_triplet_loss
from tests import fakes_faces
from tests.app.helpers import by_label, chart, page, run_until, texts
from tests.unit.test_images import header_only_png
from ui.faces.views import batch_triplet_data


def _metric(at, label: str) -> str:
    return by_label(at.metric, label).value



def _closed_form(a, p, n, alpha):
    """The course's formula with plain floats: (‖A−P‖², ‖A−N‖², loss, kind)."""
    d_ap = sum((x - y) ** 2 for x, y in zip(a, p))
    d_an = sum((x - y) ** 2 for x, y in zip(a, n))
    kind = "hard" if d_an <= d_ap else "semi-hard" if d_an <= d_ap + alpha else "easy"
    return d_ap, d_an, max(0.0, d_ap - d_an + alpha), kind


def _positions(at):
    get = {s.label: s.value for s in at.slider}
    return [tuple(get[f"{who}: {ax}"] for ax in "xy") for who in ("Anchor A", "Positive P", "Negative N")]


def test_explorer_loss_is_the_course_triplet_loss():
    at = page("faces").run()
    assert not at.exception
    a, p, n, alpha = (0.1, -0.2), (0.5, 0.4), (-0.6, -0.5), 0.7
    for who, xy in (("Anchor A", a), ("Positive P", p), ("Negative N", n)):
        for ax, v in zip("xy", xy):
            by_label(at.slider, f"{who}: {ax}").set_value(v)
    by_label(at.slider, "Margin α").set_value(alpha)
    at.run()
    assert not at.exception
    reference = float(triplet_loss(torch.tensor([a]), torch.tensor([p]), torch.tensor([n]), alpha))
    d_ap, d_an, loss, kind = _closed_form(a, p, n, alpha)
    assert reference == pytest.approx(loss)
    assert float(_metric(at, "Triplet loss L")) == pytest.approx(reference, abs=5e-5)
    assert float(_metric(at, "‖A − P‖²")) == pytest.approx(d_ap, abs=5e-5)
    assert float(_metric(at, "‖A − N‖²")) == pytest.approx(d_an, abs=5e-5)
    assert _metric(at, "This triplet is") == kind == "semi-hard"
    # the buttons move N (only N) to a triplet of each kind; the loss follows the formula
    for kind in ("hard", "easy", "semi-hard"):
        by_label(at.button, kind.capitalize()).click().run()
        assert not at.exception
        a2, p2, n2 = _positions(at)
        assert (a2, p2) == (a, p)
        d_ap, d_an, loss, got = _closed_form(a2, p2, n2, alpha)
        assert got == kind and _metric(at, "This triplet is") == kind
        assert float(_metric(at, "Triplet loss L")) == pytest.approx(loss, abs=5e-5)
    # the real batch: a scatter of its triplets and the miners' losses
    assert chart(at, "triplets from 32 images")
    losses = [d.value for d in at.dataframe if "strategy" in d.value.columns][0]
    assert list(losses["strategy"]) == ["batch-hard", "semi-hard", "all"]


def test_batch_triplets_are_every_valid_triplet_with_the_miners_choice():
    gen = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(14, 5, generator=gen), dim=1)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 4, 1, 0])
    alpha = 0.3
    d = torch.cdist(emb.double(), emb.double()) ** 2
    brute = [(a, p, n) for a, p, n in itertools.product(range(14), repeat=3)
             if a != p and y[a] == y[p] and y[n] != y[a]]
    for strategy in ("batch-hard", "semi-hard", "all"):
        table = batch_triplet_data(emb, y, alpha, strategy)
        assert sorted(zip(table["anchor"], table["positive"], table["negative"])) == brute
        for row in table.itertuples():
            assert row.d_ap == pytest.approx(float(d[row.anchor, row.positive]), abs=1e-9)
            assert row.d_an == pytest.approx(float(d[row.anchor, row.negative]), abs=1e-9)
            assert row.loss == pytest.approx(max(0.0, row.d_ap - row.d_an + alpha), abs=1e-9)
        a, p, n = mine_triplets(emb, y, strategy)
        picked = table[table["mined"]]
        assert sorted(zip(picked["anchor"], picked["positive"], picked["negative"])) == sorted(
            zip(a.tolist(), p.tolist(), n.tolist()))
        loss, _ = batch_triplet_loss(emb, y, alpha, strategy)  # the mean over what was mined
        assert float(loss) == pytest.approx(picked["loss"].mean(), abs=1e-6)


def _train(at, data: str = "digits"):
    by_label(at.selectbox, "Identities to train on").set_value(data)
    by_label(at.slider, "Epochs").set_value(1)
    by_label(at.select_slider, "Channels of the first convolution").set_value(8)
    by_label(at.select_slider, "Embedding size").set_value(8)
    by_label(at.select_slider, "Mini-batch size").set_value(32)
    by_label(at.button, "Train the siamese network").click()
    return at.run()


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_train_on_digits_then_evaluate_and_verify(fresh_store):
    at = page("faces").run()
    assert "This tab needs a trained network" in texts(at)
    at = run_until(_train(at), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"] and runs.iloc[0]["params.dataset"] == "digits"
    run = runs.iloc[0]
    assert _metric(at, "ROC AUC on unseen identities") == f"{run['metrics.roc_auc']:.3f}"
    assert _metric(at, "Best τ") == f"{run['metrics.best_tau']:.3f}"
    assert "never seen a face" in texts(at) and "7–9" in texts(at)
    # the explorer's real batch now comes from the trained network, on the digits it was trained on
    assert by_label(at.selectbox, "Network that embeds the batch").value == "The network trained in this session"
    assert chart(at, "identities it was trained on")

    # one-shot evaluation: τ starts at the best τ; accuracy and the ROC point match scikit-learn
    result = at.session_state["faces.train.result"]
    ev = result.evaluation
    tau_slider = by_label(at.slider, "Threshold τ (same when d ≤ τ)")
    assert tau_slider.value == pytest.approx(min(max(round(ev.best_tau, 2), 0), 4))
    for tau in (tau_slider.value, 0.35, 4.0):
        tau_slider.set_value(tau).run()
        judged = ev.distances <= tau
        tn, fp, fn, tp = confusion_matrix(ev.same, judged, labels=[False, True]).ravel()
        assert _metric(at, "Accuracy at τ") == f"{(tp + tn) / len(judged):.1%}"
        point = [t for t in chart(at, "ROC: one point")["data"] if t.get("name", "").startswith("τ =")][0]
        assert point["x"][0] == pytest.approx(fp / (fp + tn)) and point["y"][0] == pytest.approx(tp / (tp + fn))
    assert _metric(at, "Accuracy at τ") == "50.0%"  # τ = 4 accepts every pair, half of them are the same
    assert chart(at, "After training: unseen identities") and chart(at, "Distances of same and different pairs")
    buttons = {b.label for b in at.get("download_button")}
    assert {"Download the verification pairs (CSV)", "Download the ROC curve (CSV)",
            "Download the embeddings (CSV)"} <= buttons

    # verification of two held-out images: the distance of their embeddings, recomputed here
    by_label(at.slider, "Threshold τ for this pair").set_value(0.5)
    by_label(at.slider, "First held-out image").set_value(3)
    by_label(at.slider, "Second held-out image").set_value(10).run()
    e = embed(load_tracked(result.lane.run_id), result.spec.normalize(torch.from_numpy(result.unseen_images[[3, 10]])))
    d = float(((e[0] - e[1]) ** 2).sum())
    assert float(_metric(at, "Squared distance d of the embeddings")) == pytest.approx(d, abs=5e-4)
    verdict = "Same identity" if d <= 0.5 else "Different identities"
    assert any(verdict in s.value for s in [*at.success, *at.error])

    # your own images: an uploaded digit against a sample photo, then files that are not usable
    by_label(at.radio, "Images to compare").set_value("Your own images").run()
    assert "Squared distance d of your two images" in [m.label for m in at.metric]  # two sample photos
    digit = (sklearn.datasets.load_digits().images[0] * 16).clip(0, 255).astype(np.uint8)
    by_label(at.segmented_control, "First image: source").set_value("Upload").run()
    by_label(at.file_uploader, "First image: upload").upload("digit 0.png", _png(np.kron(digit, np.ones((8, 8), np.uint8))),
                                                              "image/png")
    at.run()
    assert not at.exception
    assert _metric(at, "Squared distance d of your two images")
    assert "never seen a face" in texts(at)
    rgba = np.zeros((40, 40, 4), np.uint8)  # a transparent picture with a grey square: laid on white
    rgba[10:30, 10:30] = (200, 200, 200, 255)
    by_label(at.file_uploader, "First image: upload").set_value(("square.png", _png(rgba), "image/png"))
    at.run()
    assert not at.exception and _metric(at, "Squared distance d of your two images")
    assert "transparent" in texts(at).lower()
    for name, data, message in (("notes.png", b"this is not a picture", "is not an image we can read"),
                                ("empty.png", b"", "is empty"),
                                ("poster.png", header_only_png(12000, 12000), "scale it down first")):
        by_label(at.file_uploader, "First image: upload").set_value((name, data, "image/png"))
        at.run()
        assert not at.exception
        assert any(message in e.value for e in at.error), [e.value for e in at.error]
        assert "Squared distance d of your two images" not in [m.label for m in at.metric]


def test_a_face_set_that_cannot_be_downloaded_gets_one_sentence(fresh_store, monkeypatch, preloaded_runner):
    preloaded_runner("tests.fakes_faces")
    monkeypatch.setenv(fakes_faces.SETTING, "offline")  # in the job's worker
    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", fakes_faces.offline)  # and in this process
    at = page("faces").run()
    at = run_until(_train(at, "olivetti"), lambda a: "could not be downloaded" in texts(a))
    assert not at.exception
    errors = [e.value for e in at.error if "could not be downloaded" in e.value]
    assert len(errors) == 1 and "Olivetti faces" in errors[0] and "offline digits or MNIST sample" in errors[0]
    assert tracking.search_runs().empty  # nothing was trained
    by_label(at.button, "Switch to the offline digits").click().run()
    assert not at.exception and by_label(at.selectbox, "Identities to train on").value == "digits"


def test_faces_path_is_labelled_as_faces(fresh_store, monkeypatch, preloaded_runner):
    preloaded_runner("tests.fakes_faces")
    monkeypatch.setenv(fakes_faces.SETTING, "stand-in")  # the 40 Olivetti people, in the job's worker
    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", fakes_faces.stand_in)  # and in this process
    at = page("faces").run()
    at = run_until(_train(at, "olivetti"), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    assert "Olivetti faces" in texts(at) and "never seen a face" not in texts(at)
    run = tracking.search_runs().iloc[0]
    assert run["params.dataset"] == "olivetti" and run["tags.dll.kind"] == "faces"
    by_label(at.radio, "Images to compare").set_value("Your own images").run()
    assert not at.exception
    assert by_label(at.segmented_control, "First image: source").options == ["Sample photo", "Upload"]  # no drawing
    assert "classroom experiment" in texts(at)
