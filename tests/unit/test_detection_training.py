"""The YOLO loss, the tiny detector and its tracked training on generated scenes.

References: the loss written out by hand with ``math`` (one slot at a time), exact zero for an output
that encodes the target, autograd for finite gradients, the 1 × 1 head's channels for the output layout,
``decode``/``batched_nms``/``mean_average_precision`` (tested elsewhere against torchvision and VOC) for
the evaluation plumbing, an untrained copy of the same network for "it learned", and the tracking store.
"""

import math

import numpy as np
import pytest
import torch

from core import tracking
from core.artifacts import detection_examples, detection_scene
from core.detection.boxes import iou
from core.detection.detector import TinyYolo, downsampling_steps, yolo_loss, yolo_loss_terms
from core.detection.scenes import make_dataset
from core.detection.training import (
    LANE,
    DetectorConfig,
    encode_targets,
    evaluate_detector,
    evaluate_outputs,
    load_tracked,
    postprocess,
    run_detector,
)
from core.detection.yolo import GridSpec, collisions, decode, encode
from core.device import seed_everything
from core.jobs import FINISHED, KILLED, Recorder, run_job
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")
# Small enough to train in a few seconds on 2 cores, big enough to learn: 32-px scenes, a 4 × 4 grid.
TINY = dict(n_train=400, n_test=100, image_size=32, S=4, classes=("circle", "square"), max_objects=2, clutter=0.0,
            epochs=5, batch_size=8, lr=3e-3, width=8, seed=0)


def _logit(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-6, 1 - 1e-6)
    return torch.log(p) - torch.log1p(-p)


def _raw_from_target(target: torch.Tensor, big: float = 30.0) -> torch.Tensor:
    """Raw logits whose activation is the target: ±big for p_c and the one-hot class, logit(b) for the box."""
    raw = torch.zeros_like(target)
    raw[..., 0] = big * (2 * target[..., 0] - 1)
    raw[..., 1:5] = _logit(target[..., 1:5])
    raw[..., 5:] = big * target[..., 5:]
    return raw


def _targets(n=8, grid=GridSpec(S=4, n_classes=3, image_size=64), seed=3):
    _, boxes, labels = make_dataset(n, seed=seed, size=grid.height, classes=("circle", "square", "triangle"))
    return encode_targets(boxes, labels, grid), boxes, labels, grid


def _hand_loss(raw, target, lambda_coord, lambda_noobj):
    """The docstring's formula, one slot at a time, with plain floats."""
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    total = 0.0
    for z, t in zip(raw.reshape(-1, raw.shape[-1]).tolist(), target.reshape(-1, target.shape[-1]).tolist()):
        p = sig(z[0])
        if t[0] == 1:
            total += lambda_coord * sum((sig(z[k]) - t[k]) ** 2 for k in range(1, 5))
            total += -math.log(p)
            k = t[5:].index(1.0)
            total += -math.log(math.exp(z[5 + k]) / sum(math.exp(v) for v in z[5:]))
        else:
            total += lambda_noobj * -math.log(1 - p)
    return total / raw.shape[0]


# ------------------------------------------------------------------------------------------- loss


def test_loss_is_zero_for_an_output_that_encodes_the_target_and_positive_otherwise():
    target, *_ = _targets()
    raw = _raw_from_target(target)
    assert yolo_loss(raw, target).item() == pytest.approx(0.0, abs=1e-5)
    terms = yolo_loss_terms(raw, target)
    assert all(v.item() < 1e-5 for v in terms.values())
    # each kind of mistake shows up in its own term
    obj = target[..., 0] == 1
    wrong_box = raw.clone()
    wrong_box[..., 1][obj] += 1.0
    wrong_class = raw.clone()
    wrong_class[..., 5:][obj] = wrong_class[..., 5:][obj].roll(1, dims=-1)
    ghost = raw.clone()
    ghost[..., 0][~obj] = 0.0  # p_c = 0.5 where there is nothing
    for bad, term in ((wrong_box, "coord"), (wrong_class, "class"), (ghost, "noobj")):
        t = yolo_loss_terms(bad, target)
        assert t[term].item() > 0.01 and t["total"].item() > 0.01
        assert all(v.item() < 1e-5 for k, v in t.items() if k not in (term, "total"))
    missed = raw.clone()
    missed[..., 0][obj] = -3.0
    assert yolo_loss_terms(missed, target)["obj"].item() > 0.01
    # empty slots' box and class entries do not count
    noise = raw.clone()
    noise[..., 1:][~obj] = torch.randn_like(noise[..., 1:][~obj]) * 5
    assert yolo_loss(noise, target).item() == pytest.approx(0.0, abs=1e-5)


def test_loss_matches_the_formula_written_out_by_hand():
    torch.manual_seed(0)
    grid = GridSpec(S=2, anchors=((0.5, 0.25), (0.25, 0.5)), n_classes=3, image_size=32)
    target = torch.stack([encode(torch.tensor([[2.0, 3.0, 14.0, 9.0], [18.0, 16.0, 24.0, 30.0]]), torch.tensor([2, 0]), grid),
                          encode(torch.tensor([[20.0, 2.0, 30.0, 8.0]]), torch.tensor([1]), grid)])
    assert int(target[..., 0].sum()) == 3
    raw = torch.randn(target.shape) * 2
    for lc, ln in ((5.0, 0.5), (1.0, 1.0), (0.0, 2.0)):
        assert yolo_loss(raw, target, lc, ln).item() == pytest.approx(_hand_loss(raw, target, lc, ln), rel=1e-5)
    terms = yolo_loss_terms(raw, target)
    assert terms["total"].item() == pytest.approx(sum(terms[k].item() for k in ("coord", "obj", "noobj", "class")), rel=1e-6)


def test_loss_averages_over_the_batch_and_has_finite_gradients():
    target, *_ = _targets(n=6)
    raw = torch.randn(target.shape)
    per_image = [yolo_loss(raw[i: i + 1], target[i: i + 1]).item() for i in range(6)]
    assert yolo_loss(raw, target).item() == pytest.approx(float(np.mean(per_image)), rel=1e-5)
    for scale in (1.0, 100.0):  # saturated logits too: no inf or NaN in the loss or its gradient
        x = (raw * scale).requires_grad_()
        loss = yolo_loss(x, target)
        loss.backward()
        assert math.isfinite(loss.item()) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        yolo_loss(raw[:, :2], target)
    with pytest.raises(ValueError, match="lambda"):
        yolo_loss(raw, target, lambda_coord=-1)


# ------------------------------------------------------------------------------------------- network


@pytest.mark.parametrize("size,S", [(64, 4), (64, 8), (32, 4), (32, 2)])
def test_tiny_yolo_output_layout(size, S):
    grid = GridSpec(S=S, n_classes=2, image_size=size)
    torch.manual_seed(0)
    model = TinyYolo(grid, width=4).eval()
    x = torch.rand(3, 3, size, size)
    with torch.no_grad():
        out = model(x)
        head = model.head(model.features(x))  # (B, A·(5+C), S, S)
    assert out.shape == (3, S, S, grid.A, grid.depth)
    b, i, j, a, d = 2, S - 1, 0, 1, 5  # out[b, i, j, a, d] is channel a·(5+C) + d of the 1 × 1 conv at row i, column j
    assert out[b, i, j, a, d] == head[b, a * grid.depth + d, i, j]
    torch.testing.assert_close(out, head.view(3, grid.A, grid.depth, S, S).permute(0, 3, 4, 1, 2))
    assert downsampling_steps(size, S) == round(math.log2(size / S))


def test_tiny_yolo_rejects_grids_it_cannot_align():
    with pytest.raises(ValueError, match="power of two"):
        TinyYolo(GridSpec(S=3, n_classes=2, image_size=64))
    with pytest.raises(ValueError, match="power of two"):
        downsampling_steps(32, 64)
    model = TinyYolo(GridSpec(S=4, n_classes=2, image_size=32), width=4)
    with pytest.raises(ValueError, match="expects images"):
        model(torch.rand(1, 3, 64, 64))


# ------------------------------------------------------------------------------------------- evaluation


def test_targets_as_outputs_score_a_perfect_map():
    target, boxes, labels, grid = _targets(n=30, seed=5)
    torch.testing.assert_close(target[4], encode(boxes[4], labels[4], grid))
    clean = [i for i in range(30) if not collisions(boxes[i], grid)]
    assert len(clean) >= 20
    ev = evaluate_outputs(target[clean], [boxes[i] for i in clean], [labels[i] for i in clean], grid)
    assert ev.map == pytest.approx(1.0)
    assert set(ev.per_class) == {0, 1, 2} and all(ap == pytest.approx(1.0) for ap in ev.per_class.values())


def test_postprocess_is_decode_then_per_class_nms():
    grid = GridSpec(S=4, n_classes=2, image_size=64)
    torch.manual_seed(1)
    out = torch.rand(grid.shape)
    out[..., 5:] = torch.softmax(torch.randn(*grid.shape[:3], 2) * 3, -1)
    raw, keep, kept = postprocess(out, grid, score_threshold=0.2, nms_iou=0.3)
    ref = decode(out, grid, 0.2)
    torch.testing.assert_close(raw.boxes, ref.boxes)
    assert len(raw.scores) > len(kept.scores) > 0
    torch.testing.assert_close(kept.boxes, raw.boxes[keep])
    assert kept.scores.tolist() == sorted(kept.scores.tolist(), reverse=True)
    for c in (0, 1):  # survivors of one class overlap each other by at most the NMS threshold
        b = kept.boxes[kept.labels == c]
        if len(b) > 1:
            overlaps = iou(b, b) - torch.eye(len(b))
            assert overlaps.max() <= 0.3 + 1e-6


def test_drawing_shows_the_grid_and_the_boxes():
    grid = GridSpec(S=4, n_classes=2, image_size=32)
    image = np.zeros((32, 32, 3), np.float32)
    plain = np.asarray(detection_scene(image, ("circle", "square"), grid, scale=4))
    assert plain.shape == (128, 128, 3)
    assert (plain[:, 32] == 255).all() and (plain[64, :] == 255).all() and (plain[5, 5] == 0).all()  # cell lines every 8 px × 4
    boxes, labels = torch.tensor([[2.0, 2.0, 12.0, 12.0]]), torch.tensor([1])
    target = encode(boxes, labels, grid)[None]
    drawn = np.asarray(detection_scene(image, ("circle", "square"), grid, decode(target[0], grid, 0.5), scale=4))
    assert (drawn != plain).any(axis=-1).sum() > 100
    with pytest.raises(ValueError, match="image"):
        detection_scene(np.zeros((32, 32)), ("a",))


# ------------------------------------------------------------------------------------------- training


def test_tiny_training_is_tracked_and_beats_the_untrained_network(fresh_store):
    cfg = DetectorConfig(**TINY)
    assert_plain(cfg, "config")
    ending = run_job(run_detector, Recorder("detection"), cfg)
    assert ending.status == FINISHED
    result = assert_plain(ending.result)  # what crosses back from the worker: arrays and the run id, no network
    assert result.lane.status == "FINISHED" and not result.stopped
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FINISHED" and run["run_name"].startswith(LANE) and run["experiment"] == "detection"
    assert run["run_id"] == result.lane.run_id
    assert run["metrics.map50"] == pytest.approx(result.map50)
    assert run["metrics.ap50_circle"] == pytest.approx(result.per_class_ap["circle"])
    assert "metrics.final_dev_loss" in run and "metrics.final_dev_accuracy" not in run  # no accuracy for a grid
    assert "images/test_scenes.png" in {p for p, _ in tracking.image_artifacts(run["run_id"])}
    assert int(run["params.S"]) == 4 and run["params.classes"] == '["circle", "square"]'

    # the same evaluation, on the same held-out scenes, for the trained network (rebuilt from the run's
    # weights) and the untrained one
    x_test, boxes, labels = make_dataset(cfg.n_test, seed=cfg.test_seed, **cfg.scene_kw())
    assert len(result.test_boxes) == cfg.n_test
    assert all(np.array_equal(a.numpy(), b) for a, b in zip(boxes, result.test_boxes))
    assert all(np.array_equal(a.numpy(), b) for a, b in zip(labels, result.test_labels))
    model = load_tracked(result.lane.run_id)
    assert not model.training
    trained = evaluate_detector(model, x_test, boxes, labels, cfg.grid, cfg.score_threshold, cfg.nms_iou)
    assert trained.map == pytest.approx(result.map50, abs=0.02)
    seed_everything(cfg.seed)
    untrained = evaluate_detector(TinyYolo(cfg.grid, cfg.width), x_test, boxes, labels, cfg.grid, cfg.score_threshold,
                                  cfg.nms_iou)
    assert trained.map > 0.15 and trained.map > untrained.map + 0.1, (trained.map, untrained.map)
    assert set(result.curves) == set(result.per_class_ap) == {"circle", "square"}
    # the saved outputs re-score without the network: at the run's thresholds, the tracked mAP
    assert result.rescore(cfg.score_threshold, cfg.nms_iou).map == pytest.approx(result.map50, abs=1e-12)
    looser = evaluate_detector(model, x_test, boxes, labels, cfg.grid, 0.1, 0.3)
    assert result.rescore(0.1, 0.3).map == pytest.approx(looser.map, abs=0.02)

    # what the page draws: a few held-out scenes before and after NMS
    assert len(result.examples) == 6
    for ex in result.examples:
        assert ex.image.shape == (32, 32, 3) and ex.output.shape == cfg.grid.shape
        assert len(ex.kept.scores) <= len(ex.raw.scores)
        torch.testing.assert_close(ex.kept.boxes, ex.raw.boxes[ex.keep])
        assert (ex.raw.scores > cfg.score_threshold).all()
        assert np.array_equal(ex.truth_boxes, boxes[ex.index].numpy())
        np.testing.assert_array_equal(ex.output, result.test_outputs[ex.index])
        raw, keep, kept = ex.detections(0.1, 0.3)  # what the page's sliders ask for
        ref_raw, ref_keep, _ = postprocess(torch.from_numpy(result.test_outputs[ex.index]), cfg.grid, 0.1, 0.3)
        assert torch.equal(raw.boxes, ref_raw.boxes) and torch.equal(keep, ref_keep)
    sheet = detection_examples(result.examples[:2], cfg.classes, cfg.grid)
    assert sheet.size[0] > 3 * 128 and sheet.size[1] > 2 * 128


def test_a_stop_keeps_the_partial_training(fresh_store):
    cfg = DetectorConfig(**{**TINY, "n_train": 1000, "epochs": 100})
    ending = run_job(run_detector, StopAfter(LANE, 5, "detection"), cfg)
    assert ending.status == KILLED  # the job hands back its typed partial outcome
    result = assert_plain(ending.result)
    assert result.stopped and result.lane.status == "KILLED"
    assert result.map50 is None and result.test_outputs is None and not result.examples
    with pytest.raises(ValueError, match="did not finish"):
        result.rescore(0.3, 0.5)
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["run_id"] == result.lane.run_id
    assert load_tracked(result.lane.run_id)(torch.zeros(1, 3, 32, 32)).shape == (1, *cfg.grid.shape)  # kept weights


def test_a_diverged_training_is_a_failed_run_in_a_finished_job(fresh_store):
    cfg = DetectorConfig(**{**TINY, "n_train": 40, "n_test": 10, "epochs": 2, "optimizer": "Gradient descent",
                            "lr": 10.0})
    ctx = Recorder("detection")
    ending = run_job(run_detector, ctx, cfg)
    assert ending.status == FINISHED  # the job is not failed: its lane is
    result = assert_plain(ending.result)
    assert result.lane.status == "FAILED" and not result.stopped and result.map50 is None
    sentence = result.lane.error
    assert sentence.endswith("— try a smaller learning rate") and "became" in sentence
    assert ctx.snapshot().diverged == ((LANE, sentence),)  # said once, for the job panel
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FAILED" and run["tags.dll.error"] == sentence


def test_config_validation():
    cfg = DetectorConfig(classes=["circle", "triangle"])
    assert cfg.classes == ("circle", "triangle") and cfg.grid.n_classes == 2 and cfg.grid.shape == (4, 4, 3, 7)
    assert cfg.train_seed != cfg.test_seed
    for kw, message in [
        ({"S": 3}, "3 is not one of 2, 4, 8"),
        ({"image_size": 48}, "power of two"),
        ({"image_size": 16}, "Image size"),
        ({"classes": ("circle", "hexagon")}, "'hexagon' is not one of"),
        ({"classes": ()}, "choose at least 1"),
        ({"classes": "circle"}, "list of shape names"),
        ({"classes": ("circle", "circle")}, "only once"),
        ({"epochs": 0}, "Epochs"),
        ({"lr": 0}, "Learning rate"),
        ({"optimizer": "Lion"}, "'Lion' is not one of"),
        ({"n_train": 5}, "Training scenes"),
        ({"n_test": 1}, "Held-out"),
        ({"batch_size": 0}, "Batch size"),
        ({"width": 0}, "width"),
        ({"max_objects": 0}, "Shapes per scene"),
        ({"clutter": 2}, "clutter"),
        ({"score_threshold": 1.0}, "score threshold"),
        ({"nms_iou": -0.1}, "NMS IoU"),
    ]:
        with pytest.raises(ValueError, match=message):
            DetectorConfig(**kw)
