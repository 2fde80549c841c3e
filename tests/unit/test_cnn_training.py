"""CNN training, looking inside, and the degradation experiment: references are
scikit-learn's confusion matrix, torch's own conv layers and softmax, conv_output_size,
and the tracked runs in a fresh store."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from sklearn.metrics import confusion_matrix as sk_confusion

from core import tracking
from core.artifacts import image_grid
from core.cnn import conv_output_size, models
from core.cnn.data import InputSpec, image_to_input, prepare_images
from core.cnn.degradation import DegradationConfig, run_degradation
from core.cnn.inside import conv_layers, filter_images, first_filters, look
from core.cnn.training import (
    TrainConfig,
    class_probabilities,
    load_tracked,
    run_cnn,
    use_fast_path,
    worst_mistakes,
)
from core.experiment import confusion_matrix
from core.jobs import FINISHED, KILLED, Recorder, run_job
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    ours = confusion_matrix(torch.from_numpy(y), torch.from_numpy(p), 7)
    np.testing.assert_array_equal(ours, sk_confusion(y, p, labels=range(7)))


def test_worst_mistakes_are_the_most_confident_wrong_ones():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    y = torch.tensor([0, 0, 1, 0])
    rows = worst_mistakes(probs, y)
    assert [r["index"] for r in rows] == [3, 1, 2]  # wrong ones, surest first
    assert rows[0] == {"index": 3, "true": 0, "predicted": 1, "confidence": pytest.approx(0.95), "p_true": pytest.approx(0.05)}


def test_prepare_images_standardises_with_the_training_statistics():
    data = prepare_images("digits", max_train=400, max_dev=100, seed=1)
    assert data.train[0].shape == (400, 1, 28, 28) and data.dev[0].shape == (100, 1, 28, 28)  # 8×8 shown at 28
    assert data.spec.native == 8 and data.spec.strokes
    assert abs(data.train[0].mean().item()) < 1e-4 and data.train[0].std().item() == pytest.approx(1, abs=1e-3)
    back = data.spec.denormalize(data.train[0])
    assert back.min() >= 0 and back.max() <= 1
    with pytest.raises(ValueError, match="unknown dataset"):
        prepare_images("imagenet")


def _drawing(dark_on_light: bool, offset: tuple[int, int]) -> Image.Image:
    bg, ink = (255, 0) if dark_on_light else (0, 255)
    img = Image.new("L", (300, 300), bg)
    d = ImageDraw.Draw(img)
    x, y = offset
    d.line([(x, y), (x, y + 150)], fill=ink, width=20)  # a "1" somewhere off centre
    return img.convert("RGB")


def test_a_drawing_is_prepared_like_an_mnist_digit():
    spec = InputSpec("mnist_sample", tuple("0123456789"), 1, 28, 28, (0.13,), (0.31,))
    x1, seen1 = image_to_input(_drawing(True, (60, 40)), spec)
    x2, seen2 = image_to_input(_drawing(False, (200, 120)), spec)
    assert x1.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(seen1, seen2, atol=0.02)  # inverted page and position do not matter
    assert seen1.max() > 0.9 and seen1[0].max() == 0  # light strokes on a dark border
    ys, xs = np.nonzero(seen1 > 0.5)
    assert ys.max() - ys.min() + 1 in range(18, 22)  # the longer side scaled to 20 pixels, like MNIST
    w = seen1 / seen1.sum()
    cy, cx = (w.sum(1) * np.arange(28)).sum(), (w.sum(0) * np.arange(28)).sum()
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1  # centre of mass in the middle
    np.testing.assert_allclose(x1.numpy()[0, 0], (seen1 - 0.13) / 0.31, atol=1e-5)


def test_look_captures_every_convolution_with_the_right_shapes():
    torch.manual_seed(0)
    model = models.cifar_resnet(8, n_classes=10, in_channels=1, width=4).eval()
    x = torch.randn(1, 1, 14, 14)
    seen = look(model, x)
    assert len(seen.maps) == len(conv_layers(model)) == 7
    n = 14
    for (name, layer), (mname, m) in zip(conv_layers(model), seen.maps, strict=True):
        assert name == mname
        if layer.kernel_size[0] == 3 and layer.stride[0] == 2:
            n = conv_output_size(n, 3, padding=1, stride=2)
        assert m.shape == (layer.out_channels, n, n)
    with torch.no_grad():
        np.testing.assert_allclose(seen.probabilities, torch.softmax(model(x)[0], 0).numpy(), atol=1e-6)
    with torch.no_grad():  # the first map is exactly the first convolution of the input
        np.testing.assert_allclose(seen.maps[0][1], conv_layers(model)[0][1](x)[0].numpy(), atol=1e-5)
    w = first_filters(model)
    np.testing.assert_array_equal(w, conv_layers(model)[0][1].weight.detach().numpy())
    imgs = filter_images(w)
    assert imgs.shape == (4, 3, 3) and np.abs(imgs).max() == pytest.approx(1)
    assert filter_images(np.random.randn(6, 3, 5, 5)).shape == (6, 5, 5, 3)


def test_image_grid_tiles_with_padding():
    tiles = np.stack([np.full((4, 4), v, np.float32) for v in (0.0, 0.5, 1.0)])
    grid = image_grid(tiles, cols=2, pad=1)
    assert grid.shape == (11, 11)
    assert grid[1, 1] == 0.0 and grid[1, 6] == 0.5 and grid[6, 1] == 1.0 and grid[0, 0] == 1.0


def test_fast_path_changes_the_layout_not_the_answer():
    torch.manual_seed(0)
    model, x = models.lenet5(input_size=28), torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        want = model(x)
    m2, x2 = use_fast_path(model, x, CPU)
    assert x2.is_contiguous(memory_format=torch.channels_last)
    assert m2[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(m2(x2), want, atol=1e-5, rtol=1e-5)


def test_training_is_tracked_and_the_tracked_network_can_be_rebuilt(fresh_store):
    cfg = TrainConfig(dataset="mnist_sample", model="LeNet-5", epochs=2, max_train=600, batch_size=64)
    assert_plain(cfg, "config")
    ending = run_job(run_cnn, Recorder("cnn"), cfg)
    assert ending.status == FINISHED
    result = assert_plain(ending.result)  # what crosses back from the worker: no network inside
    assert result.lane.status == "FINISHED" and not result.stopped
    assert result.confusion.sum() == result.sizes["dev"] == 1000
    acc = np.trace(result.confusion) / result.confusion.sum()
    assert acc == pytest.approx(result.lane.measures["final_dev_accuracy"], abs=1e-9)  # same model, same dev set
    assert acc > 0.6
    assert len(result.mistakes) == min(24, result.confusion.sum() - np.trace(result.confusion))
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FINISHED" and run["params.model"] == "LeNet-5" and run["params.input.dataset"] == "mnist_sample"
    assert run["run_id"] == result.lane.run_id
    names = {p for p, _ in tracking.image_artifacts(run["run_id"])}
    assert {"images/confusion_matrix.png", "images/misclassified.png"} <= names
    # the network rebuilt from the run alone predicts the dev set as the trained one did
    model, spec = load_tracked(result.lane.run_id)
    assert spec == result.spec and not model.training
    data = prepare_images(cfg.dataset, max_train=cfg.max_train, seed=cfg.seed)
    probs = class_probabilities(model, data.dev[0])
    np.testing.assert_array_equal(confusion_matrix(data.dev[1], probs.argmax(1), 10), result.confusion)
    assert [m["index"] for m in worst_mistakes(probs, data.dev[1])] == [m["index"] for m in result.mistakes]


def test_a_run_that_cannot_be_rebuilt_says_why(fresh_store):
    with tracking.start_run("cnn", {"model": "LeNet-5"}) as run:  # no input description, no weights
        pass
    with pytest.raises(ValueError, match="did not record its input"):
        load_tracked(run.run_id)
    with pytest.raises(ValueError, match="not in the tracking store"):
        load_tracked("0" * 32)
    with pytest.raises(ValueError, match="is not a run id"):
        load_tracked("x' OR '1'='1")


def test_a_stop_keeps_the_partial_training(fresh_store):
    cfg = TrainConfig(model="LeNet-5", epochs=50, max_train=2000, batch_size=16)
    ending = run_job(run_cnn, StopAfter("LeNet-5", 20, "cnn"), cfg)
    assert ending.status == KILLED  # the job hands back its typed partial outcome
    result = assert_plain(ending.result)
    assert result.stopped and result.lane.status == "KILLED" and result.lane.steps >= 20
    assert result.confusion is None and result.mistakes is None  # measured only on a finished training
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["run_id"] == result.lane.run_id
    model, spec = load_tracked(result.lane.run_id)  # what was trained until Stop stays usable
    assert spec == result.spec and len(class_probabilities(model, torch.zeros(2, 1, 28, 28))) == 2


def test_config_validation():
    with pytest.raises(ValueError, match="^Network: 'GoogLeNet' is not one of LeNet-5"):
        TrainConfig(model="GoogLeNet")
    with pytest.raises(ValueError, match="^Learning rate α must be between"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="more layers"):
        DegradationConfig(shallow=20, deep=8)
    with pytest.raises(ValueError, match="^Deep depth: 50 is not one of 8, 14, 20, 32, 44, 56$"):
        DegradationConfig(deep=50)


def test_degradation_trains_four_tracked_twins(fresh_store):
    cfg = DegradationConfig(shallow=8, deep=14, width=4, image_size=8, n_train=120, epochs=1, batch_size=32)
    assert_plain(cfg, "config")
    ctx = Recorder("cnn")
    ending = run_job(run_degradation, ctx, cfg)
    assert ending.status == FINISHED
    result = assert_plain(ending.result)
    assert [lane.name for lane in result.lanes] == ["plain-8", "residual-8", "plain-14", "residual-14"]
    assert all(lane.status == "FINISHED" for lane in result.lanes) and not result.stopped
    runs = tracking.search_runs()
    assert set(runs["tags.dll.comparison"]) == {result.comparison} and len(runs) == 4
    assert result.comparison.startswith("degradation-")
    assert set(runs["params.plain"]) == {"true", "false"}
    assert result.depth == {"plain-8": 8, "residual-8": 8, "plain-14": 14, "residual-14": 14}
    assert result.plain == {"plain-8": True, "residual-8": False, "plain-14": True, "residual-14": False}
    for name in result.depth:
        assert 0 <= result.train_error(name) <= 1
        lane = result.lane(name)
        assert result.train_error(name) == pytest.approx(1 - lane.measures["final_train_accuracy"])
    # each lane had its quarter of the progress bar and its own live series
    snap = ctx.snapshot()
    assert {f"{name}/epochs" for name in result.depth} <= set(snap.metrics)
    assert snap.progress == pytest.approx(1.0)


def test_a_stop_in_the_degradation_skips_the_other_networks(fresh_store):
    cfg = DegradationConfig(shallow=8, deep=14, width=4, image_size=8, n_train=400, epochs=20, batch_size=8)
    ending = run_job(run_degradation, StopAfter("plain-8", 10, "cnn"), cfg)
    assert ending.status == KILLED
    result = assert_plain(ending.result)
    assert result.stopped
    assert [(lane.name, lane.status) for lane in result.lanes] == [
        ("plain-8", "KILLED"), ("residual-8", "SKIPPED"), ("plain-14", "SKIPPED"), ("residual-14", "SKIPPED")]
    assert result.train_error("plain-8") is None  # no final measures for a stopped lane
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["run_id"] == result.lanes[0].run_id
    assert runs.iloc[0]["tags.dll.comparison"] == result.comparison


def test_plain_twin_has_the_same_weights_but_no_skips():
    torch.manual_seed(0)
    res = models.cifar_resnet(14, n_classes=10, in_channels=1, width=4)
    torch.manual_seed(0)
    plain = models.cifar_resnet(14, n_classes=10, in_channels=1, width=4, plain=True)
    assert [p.shape for p in res.parameters()] == [p.shape for p in plain.parameters()]
    plain.load_state_dict(res.state_dict())
    x = torch.randn(2, 1, 14, 14)
    res.eval(), plain.eval()
    with torch.no_grad():
        assert not torch.allclose(res(x), plain(x))  # only the skip connections differ
