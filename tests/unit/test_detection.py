"""core.detection: boxes, IoU and NMS against torchvision.ops; the YOLO target; AP/mAP; synthetic scenes."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import torchvision.ops as tvops

from core.detection import (
    area,
    batched_nms,
    cxcywh_to_xyxy,
    iou,
    nms,
    nms_steps,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
from core.detection.metrics import ap_from_curve, average_precision, mean_average_precision, precision_recall_curve
from core.detection.scenes import SHAPES, make_dataset, make_scene
from core.detection.yolo import (
    DEFAULT_ANCHORS,
    GridSpec,
    activate,
    anchor_iou,
    assign,
    collisions,
    decode,
    encode,
    localization_decode,
    localization_target,
)


def random_boxes(gen: torch.Generator, n: int, size: float = 100.0, max_wh: float = 40.0, dtype=torch.float32) -> torch.Tensor:
    """n random valid xyxy boxes (positive width and height) inside a size × size image."""
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * size
    wh = torch.rand(n, 2, generator=gen, dtype=torch.float64) * max_wh + 0.5
    return torch.cat([xy, xy + wh], dim=1).to(dtype)


# ----------------------------------------------------------------------------------------------- boxes


def test_iou_hand_example():
    # [0,0,2,2] and [1,1,3,3]: overlap 1×1 = 1, union 4 + 4 − 1 = 7.
    got = iou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]]))
    assert torch.allclose(got, torch.tensor([[1 / 7, 1.0, 0.0]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_iou_matches_torchvision_box_iou(dtype):
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        a, b = random_boxes(gen, 30, dtype=dtype), random_boxes(gen, 40, dtype=dtype)
        got = iou(a, b)
        assert got.shape == (30, 40) and got.dtype == dtype
        torch.testing.assert_close(got, tvops.box_iou(a, b))


def test_iou_empty_inputs():
    a = random_boxes(torch.Generator().manual_seed(1), 5)
    empty = torch.zeros(0, 4)
    assert iou(a, empty).shape == (5, 0)
    assert iou(empty, a).shape == (0, 5)
    assert iou(empty, empty).shape == (0, 0)
    assert tvops.box_iou(a, empty).shape == (5, 0)  # same contract as the reference


def test_iou_degenerate_boxes_give_zero_not_nan():
    gen = torch.Generator().manual_seed(2)
    boxes = random_boxes(gen, 40)
    # Make a third of the boxes zero-area: zero width, zero height, or a single point.
    boxes[::3, 2] = boxes[::3, 0]
    boxes[1::6, 3] = boxes[1::6, 1]
    boxes[5] = torch.tensor([10.0, 10.0, 10.0, 10.0])
    boxes[6] = torch.tensor([10.0, 10.0, 10.0, 10.0])  # two identical points: union 0
    got = iou(boxes, boxes)
    ref = tvops.box_iou(boxes, boxes)
    assert not torch.isnan(got).any()
    defined = ~torch.isnan(ref)
    assert (~defined).any()  # torchvision gives NaN for 0/0 ...
    torch.testing.assert_close(got[defined], ref[defined])
    assert (got[~defined] == 0).all()  # ... where we give 0
    assert got[5, 6] == 0
    zero_area = area(boxes) == 0
    assert (got[zero_area] == 0).all()


def test_area_matches_torchvision():
    boxes = random_boxes(torch.Generator().manual_seed(3), 50)
    torch.testing.assert_close(area(boxes), tvops.box_area(boxes))


def test_box_arguments_are_checked():
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        iou(torch.zeros(3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="x1 <= x2"):
        iou(torch.tensor([[5.0, 0, 1, 1]]), torch.zeros(1, 4))


def clustered_boxes(gen: torch.Generator, n: int) -> torch.Tensor:
    """Boxes jittered around a few centres, so that many pairs overlap (a realistic NMS input)."""
    centres = torch.rand(3, 2, generator=gen) * 60 + 20
    pick = torch.randint(0, 3, (n,), generator=gen)
    cxcy = centres[pick] + torch.randn(n, 2, generator=gen) * 6
    wh = torch.rand(n, 2, generator=gen) * 20 + 10
    return tvops.box_convert(torch.cat([cxcy, wh], dim=1), "cxcywh", "xyxy")


def test_nms_matches_torchvision_on_many_random_sets():
    gen = torch.Generator().manual_seed(4)
    for trial in range(300):
        n = int(torch.randint(0, 60, (1,), generator=gen))
        boxes = clustered_boxes(gen, n) if trial % 2 else random_boxes(gen, n)
        if trial % 3 == 0 and n > 4:
            boxes[n // 2:n // 2 + 2] = boxes[:2]  # exact duplicates: IoU 1
        scores = torch.randperm(n, generator=gen).float() / max(n, 1) + 0.01  # distinct: no ties
        threshold = {0: 0.0, 1: 1.0, 2: 0.5}.get(trial % 10, float(torch.rand(1, generator=gen)))
        got = nms(boxes, scores, threshold)
        ref = tvops.nms(boxes, scores, threshold)
        assert got.dtype == torch.int64
        assert torch.equal(got, ref), (trial, threshold)


def test_nms_hand_example_and_empty():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]])
    scores = torch.tensor([0.6, 0.9, 0.7, 0.8])
    # Best is 1; box 0 (IoU 81/119 = 0.68) and box 3 (IoU 72/118 = 0.61) overlap it; box 2 does not.
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.65).tolist() == [1, 3, 2]  # at 0.65 box 3 survives box 1; box 0 does not
    empty = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.dtype == torch.int64 and empty.shape == (0,)


def test_nms_arguments_are_checked():
    boxes = torch.tensor([[0.0, 0, 1, 1], [0, 0, 2, 2]])
    with pytest.raises(ValueError, match="one value per box"):
        nms(boxes, torch.tensor([0.5]), 0.5)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nms(boxes, torch.tensor([0.5, 0.4]), bad)


def test_batched_nms_matches_torchvision():
    gen = torch.Generator().manual_seed(5)
    for trial in range(150):
        n = int(torch.randint(0, 50, (1,), generator=gen))
        boxes = clustered_boxes(gen, n)
        scores = torch.randperm(n, generator=gen).float() + 1
        labels = torch.randint(0, 4, (n,), generator=gen)
        threshold = float(torch.rand(1, generator=gen))
        got = batched_nms(boxes, scores, labels, threshold)
        assert got.dtype == torch.int64
        assert torch.equal(got, tvops.batched_nms(boxes, scores, labels, threshold)), trial


def test_nms_steps_tell_the_same_story_as_nms():
    gen = torch.Generator().manual_seed(6)
    for trial in range(60):
        n = int(torch.randint(1, 40, (1,), generator=gen))
        boxes = clustered_boxes(gen, n)
        scores = torch.randperm(n, generator=gen).float() / n + 0.01
        threshold = float(torch.rand(1, generator=gen))
        score_threshold = 0.0 if trial % 2 else 0.4
        rounds = nms_steps(boxes, scores, threshold, score_threshold=score_threshold)
        above = torch.nonzero(scores > score_threshold).flatten()
        ref = above[tvops.nms(boxes[above], scores[above], threshold)]
        assert [r.kept for r in rounds] == ref.tolist()
        # Every box above the score threshold is kept or suppressed exactly once.
        seen = [r.kept for r in rounds] + [i for r in rounds for i in r.suppressed]
        assert sorted(seen) == sorted(above.tolist())
        full = tvops.box_iou(boxes, boxes)
        for r in rounds:
            assert r.score == pytest.approx(float(scores[r.kept]))
            for i, v in zip(r.suppressed, r.ious):
                assert v > threshold and v == pytest.approx(float(full[r.kept, i]), abs=1e-6)
            for i in r.remaining:  # what is left does not overlap the kept box too much
                assert full[r.kept, i] <= threshold + 1e-6
        assert rounds[-1].remaining == () if rounds else True


@pytest.mark.parametrize(
    ("ours", "src", "dst"),
    [(xywh_to_xyxy, "xywh", "xyxy"), (xyxy_to_xywh, "xyxy", "xywh"),
     (cxcywh_to_xyxy, "cxcywh", "xyxy"), (xyxy_to_cxcywh, "xyxy", "cxcywh")],
)
def test_conversions_match_torchvision_box_convert(ours, src, dst):
    boxes = random_boxes(torch.Generator().manual_seed(7), 64, dtype=torch.float64)
    torch.testing.assert_close(ours(boxes), tvops.box_convert(boxes, src, dst))


def test_conversions_round_trip():
    boxes = random_boxes(torch.Generator().manual_seed(8), 64, dtype=torch.float64)
    torch.testing.assert_close(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes)
    torch.testing.assert_close(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes)
    assert xyxy_to_cxcywh(torch.zeros(0, 4)).shape == (0, 4)


# ----------------------------------------------------------------------------------------------- YOLO


def test_localization_target_hand_example():
    # Image 100 high, 200 wide; box x 50..150, y 20..60 → centre (100, 40), size 100 × 40.
    y = localization_target([50.0, 20, 150, 60], 1, n_classes=3, image_size=(100, 200))
    assert y.tolist() == pytest.approx([1, 100 / 200, 40 / 100, 40 / 100, 100 / 200, 0, 1, 0])
    background = localization_target(None, None, n_classes=3, image_size=64)
    assert background.tolist() == [0.0] * 8
    with pytest.raises(ValueError, match="class index"):
        localization_target([0.0, 0, 1, 1], 3, n_classes=3, image_size=64)


def test_localization_round_trip():
    gen = torch.Generator().manual_seed(9)
    for box in random_boxes(gen, 50, size=60, max_wh=30):
        label = int(torch.randint(0, 4, (1,), generator=gen))
        p_c, back, got_label = localization_decode(localization_target(box, label, 4, (96, 128)), (96, 128))
        assert p_c == 1.0 and got_label == label
        torch.testing.assert_close(back, box, atol=1e-4, rtol=0)


def test_anchor_iou_is_the_iou_of_centred_shapes():
    grid = GridSpec(S=4, anchors=DEFAULT_ANCHORS, n_classes=3, image_size=(80, 120))
    gen = torch.Generator().manual_seed(10)
    for box in random_boxes(gen, 30, size=60, max_wh=50, dtype=torch.float64):
        w, h = float(box[2] - box[0]), float(box[3] - box[1])
        shape = torch.tensor([[-w / 2, -h / 2, w / 2, h / 2]], dtype=torch.float64)
        anchors = torch.tensor([[-aw * 120 / 2, -ah * 80 / 2, aw * 120 / 2, ah * 80 / 2] for aw, ah in grid.anchors],
                               dtype=torch.float64)
        ref = tvops.box_iou(shape, anchors)[0]
        torch.testing.assert_close(anchor_iou(box, grid), ref)
        assert assign(box, grid).anchor == int(torch.argmax(ref))


def test_assign_picks_cell_of_the_centre_and_anchor_of_the_shape():
    grid = GridSpec(S=4, anchors=((0.4, 0.2), (0.28, 0.28), (0.2, 0.4)), n_classes=2, image_size=64)
    # Cells are 16 px. A wide box centred at (40, 10) → row 0, col 2, wide anchor 0.
    assert tuple(assign([28.0, 6, 52, 14], grid)) == (0, 2, 0)
    # A tall box (8 × 20 px) centred at (8, 54) → row 3, col 0, tall anchor 2 (shape IoUs 0.27, 0.42, 0.49);
    # a square one → anchor 1.
    assert tuple(assign([4.0, 44, 12, 64], grid)) == (3, 0, 2)
    assert tuple(assign([0.0, 0, 18, 18], grid)) == (0, 0, 1)
    with pytest.raises(ValueError, match="outside"):
        assign([70.0, 70, 80, 80], grid)


def _match(decoded: torch.Tensor, labels: torch.Tensor, boxes: torch.Tensor, want_labels: torch.Tensor):
    """Pair each expected box with the nearest decoded one; check box and label."""
    assert decoded.shape[0] == boxes.shape[0]
    if not boxes.shape[0]:
        return
    dist = torch.cdist(boxes.double(), decoded.double())  # (K, K)
    nearest = dist.argmin(dim=1)
    assert sorted(nearest.tolist()) == list(range(boxes.shape[0]))
    torch.testing.assert_close(decoded[nearest], boxes.float(), atol=2e-3, rtol=0)
    assert torch.equal(labels[nearest], want_labels)


def test_encode_decode_round_trip_on_many_random_boxes():
    gen = torch.Generator().manual_seed(11)
    grid = GridSpec(S=5, n_classes=4, image_size=(90, 120))
    n_checked = 0
    for _ in range(150):
        k = int(torch.randint(0, 7, (1,), generator=gen))
        xy = torch.rand(k, 2, generator=gen) * torch.tensor([100.0, 70.0])
        wh = torch.rand(k, 2, generator=gen) * torch.tensor([60.0, 50.0]) + 2
        boxes = torch.cat([xy, xy + wh], dim=1)
        boxes[:, 2].clamp_(max=120)
        boxes[:, 3].clamp_(max=90)
        labels = torch.randint(0, 4, (k,), generator=gen)
        lost = set(collisions(boxes, grid))
        keep = torch.tensor([i for i in range(k) if i not in lost], dtype=torch.int64)
        target = encode(boxes, labels, grid)
        assert target.shape == (5, 5, 3, 9)
        assert int(target[..., 0].sum()) == keep.numel()
        filled = target[..., 0] == 1
        assert ((target[..., 1:3][filled] >= 0) & (target[..., 1:3][filled] < 1)).all()
        assert (target[~filled] == 0).all()
        det = decode(target, grid, score_threshold=0.5)
        assert (det.scores == 1).all()
        _match(det.boxes, det.labels, boxes[keep], labels[keep])
        n_checked += keep.numel()
    assert n_checked > 300


def test_two_objects_in_one_cell_use_different_anchors():
    grid = GridSpec(S=3, anchors=((0.5, 0.2), (0.2, 0.5)), n_classes=2, image_size=90)
    wide = torch.tensor([25.0, 40, 65, 52])  # centre (45, 46), 40 × 12
    tall = torch.tensor([40.0, 30, 52, 66])  # centre (46, 48), 12 × 36
    boxes, labels = torch.stack([wide, tall]), torch.tensor([0, 1])
    assert tuple(assign(wide, grid)) == (1, 1, 0)
    assert tuple(assign(tall, grid)) == (1, 1, 1)
    assert collisions(boxes, grid) == []
    target = encode(boxes, labels, grid)
    # Hand-computed slot for the wide box: cell (1, 1) spans x, y in [30, 60); centre (45, 46).
    assert target[1, 1, 0].tolist() == pytest.approx([1, 15 / 30, 16 / 30, 12 / 90, 40 / 90, 1, 0])
    det = decode(target, grid)
    _match(det.boxes, det.labels, boxes, labels)
    # A second wide box in the same cell loses its slot.
    third = torch.tensor([[28.0, 38, 62, 50]])
    assert collisions(torch.cat([boxes, third]), grid) == [2]
    assert int(encode(torch.cat([boxes, third]), torch.tensor([0, 1, 1]), grid)[..., 0].sum()) == 2


def test_decode_scores_are_pc_times_class_probability():
    grid = GridSpec(S=2, anchors=((0.5, 0.5),), n_classes=3, image_size=100)
    out = torch.zeros(grid.shape)
    out[0, 1, 0] = torch.tensor([0.8, 0.5, 0.5, 0.2, 0.4, 0.1, 0.7, 0.2])  # score 0.56, class 1
    out[1, 0, 0] = torch.tensor([0.9, 0.25, 0.75, 0.1, 0.1, 0.5, 0.3, 0.2])  # score 0.45, class 0
    det = decode(out, grid, score_threshold=0.3)
    assert det.scores.tolist() == pytest.approx([0.56, 0.45])
    assert det.labels.tolist() == [1, 0]
    # Cell (0, 1) spans x 50..100, y 0..50: centre (75, 25), size 40 wide × 20 high.
    torch.testing.assert_close(det.boxes[0], torch.tensor([55.0, 15, 95, 35]))
    # Cell (1, 0): centre (12.5, 87.5), 10 × 10.
    torch.testing.assert_close(det.boxes[1], torch.tensor([7.5, 82.5, 17.5, 92.5]))
    assert decode(out, grid, score_threshold=0.5).scores.tolist() == pytest.approx([0.56])
    with pytest.raises(ValueError, match="shape"):
        decode(torch.zeros(2, 2, 8), grid)


def test_activate_and_grid_checks():
    raw = torch.randn(4, 4, 3, 8)
    out = activate(raw)
    torch.testing.assert_close(out[..., :5], torch.sigmoid(raw[..., :5]))
    torch.testing.assert_close(out[..., 5:].sum(-1), torch.ones(4, 4, 3))
    with pytest.raises(ValueError, match="S"):
        GridSpec(S=0)
    with pytest.raises(ValueError, match="fractions"):
        GridSpec(anchors=((1.5, 0.2),))
    with pytest.raises(ValueError, match="class"):
        GridSpec(n_classes=0)
    assert GridSpec(anchors=[[0.2, 0.3]]).anchors == ((0.2, 0.3),)  # lists become hashable tuples


# ----------------------------------------------------------------------------------------------- AP / mAP


def shifted(box: list[float], dx: float) -> list[float]:
    return [box[0] + dx, box[1], box[2] + dx, box[3]]


GT3 = [[0.0, 0, 10, 10], [20.0, 0, 30, 10], [40.0, 0, 50, 10]]


def test_ap_hand_worked_tp_fp_tp_tp():
    # 3 GT, 4 predictions in score order: TP, FP, TP, TP.
    # precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1.
    # Interpolated: p(1/3) = 1, p(2/3) = max(2/3, 3/4) = 3/4, p(1) = 3/4.
    # AP = 1/3·1 + 1/3·3/4 + 1/3·3/4 = 5/6.
    preds = [GT3[0], [60.0, 60, 70, 70], GT3[1], GT3[2]]
    curve = precision_recall_curve([torch.tensor(preds)], [torch.tensor([0.9, 0.8, 0.7, 0.6])], [torch.tensor(GT3)])
    assert curve.is_tp.tolist() == [True, False, True, True]
    assert curve.precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 3 / 4])
    assert curve.recall.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 1])
    assert curve.ap == pytest.approx(5 / 6)
    assert curve.n_gt == 3


def test_ap_hand_worked_tp_fp_fp_tp_misses_one():
    # 3 GT, predictions TP, FP, FP, TP (one object never found):
    # precision 1, 1/2, 1/3, 1/2 at recall 1/3, 1/3, 1/3, 2/3 → AP = 1/3·1 + 1/3·1/2 = 1/2.
    preds = [GT3[0], [60.0, 60, 70, 70], [80.0, 80, 90, 90], GT3[2]]
    ap = average_precision([torch.tensor(preds)], [torch.tensor([0.9, 0.8, 0.7, 0.6])], [torch.tensor(GT3)])
    assert ap == pytest.approx(0.5)


def test_duplicate_detection_counts_as_false_positive():
    # 2 GT; predictions: 0.9 on GT a, 0.8 again on GT a (IoU 0.82), 0.7 on GT b → TP, FP, TP.
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 → AP = 1/2·1 + 1/2·2/3 = 5/6 (it would be 1 without the duplicate).
    gt = torch.tensor(GT3[:2])
    preds = torch.tensor([GT3[0], shifted(GT3[0], 1.0), GT3[1]])
    curve = precision_recall_curve([preds], [torch.tensor([0.9, 0.8, 0.7])], [gt])
    assert curve.is_tp.tolist() == [True, False, True]
    assert curve.ap == pytest.approx(5 / 6)
    assert average_precision([preds[[0, 2]]], [torch.tensor([0.9, 0.7])], [gt]) == pytest.approx(1.0)


def test_ap_over_several_images_and_iou_threshold():
    # Image 1: GT a, prediction 0.6 shifted by 2.5 px (IoU 7.5/12.5 = 0.6). Image 2: GT b, prediction 0.9 exact.
    # Sorted: 0.9 (TP), 0.6 (TP at 0.5, FP at 0.7).
    gt = [torch.tensor([GT3[0]]), torch.tensor([GT3[1]])]
    preds = [torch.tensor([shifted(GT3[0], 2.5)]), torch.tensor([GT3[1]])]
    scores = [torch.tensor([0.6]), torch.tensor([0.9])]
    assert average_precision(preds, scores, gt, iou_threshold=0.5) == pytest.approx(1.0)
    # At 0.7: TP, FP → precision 1, 1/2 at recall 1/2, 1/2 → AP = 1/2.
    assert average_precision(preds, scores, gt, iou_threshold=0.7) == pytest.approx(0.5)


def test_ap_edge_cases():
    gt = [torch.tensor(GT3)]
    assert average_precision([torch.tensor(GT3)], [torch.tensor([0.5, 0.4, 0.3])], gt) == 1.0
    assert average_precision([torch.zeros(0, 4)], [torch.zeros(0)], gt) == 0.0
    assert math.isnan(average_precision([torch.tensor(GT3)], [torch.tensor([0.5, 0.4, 0.3])], [torch.zeros(0, 4)]))
    # All predictions wrong → 0.
    assert average_precision([torch.tensor([[60.0, 60, 70, 70]])], [torch.tensor([0.9])], gt) == 0.0
    with pytest.raises(ValueError, match="one entry per image"):
        average_precision([torch.zeros(0, 4)], [torch.zeros(0)], gt * 2)


def voc_reference_ap(preds, scores, gts, threshold):
    """PASCAL VOC's evaluation (voc_eval.py / voc_ap with use_07_metric=False, as in the Detectron code),
    transliterated with its own loops, as an independent reference."""
    dets = sorted(((float(s), i, b) for i, (bb, ss) in enumerate(zip(preds, scores)) for b, s in zip(bb.tolist(), ss.tolist())),
                  key=lambda t: -t[0])
    npos = sum(len(g) for g in gts)
    used = [[False] * len(g) for g in gts]
    tp, fp = [], []
    for _, i, bb in dets:
        ovmax, jmax = -1.0, -1
        for j, g in enumerate(gts[i].tolist()):
            iw = max(min(g[2], bb[2]) - max(g[0], bb[0]), 0.0)
            ih = max(min(g[3], bb[3]) - max(g[1], bb[1]), 0.0)
            inters = iw * ih
            uni = (bb[2] - bb[0]) * (bb[3] - bb[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inters
            if inters / uni > ovmax:
                ovmax, jmax = inters / uni, j
        if ovmax > threshold and not used[i][jmax]:
            used[i][jmax] = True
            tp.append(1.0)
            fp.append(0.0)
        else:
            tp.append(0.0)
            fp.append(1.0)
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    rec = tp / npos
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def test_ap_matches_the_voc_reference_on_random_detections():
    gen = torch.Generator().manual_seed(12)
    for _ in range(40):
        n_images = int(torch.randint(1, 6, (1,), generator=gen))
        gts, preds, scores = [], [], []
        for _ in range(n_images):
            g = clustered_boxes(gen, int(torch.randint(1, 6, (1,), generator=gen)))
            jitter = torch.randn(g.shape[0] * 2, 4, generator=gen) * 3
            p = torch.cat([g, g]) + jitter  # two noisy guesses per object: duplicates and misses
            p = torch.cat([torch.minimum(p[:, :2], p[:, 2:]), torch.maximum(p[:, :2], p[:, 2:])], dim=1)
            keep = torch.rand(p.shape[0], generator=gen) < 0.7
            gts.append(g)
            preds.append(p[keep])
            scores.append(torch.rand(int(keep.sum()), generator=gen))
        threshold = float(torch.rand(1, generator=gen)) * 0.6 + 0.3
        got = average_precision(preds, scores, gts, iou_threshold=threshold)
        assert got == pytest.approx(voc_reference_ap(preds, scores, gts, threshold), abs=1e-9)


def test_ap_from_curve_closed_form():
    # A single point at recall 0.5 with precision 0.8: AP = 0.5 · 0.8.
    assert ap_from_curve([0.8], [0.5]) == pytest.approx(0.4)
    assert ap_from_curve([], []) == 0.0


def test_mean_average_precision_per_class_and_skipped_classes():
    ground_truths = [
        {"boxes": torch.tensor(GT3), "labels": torch.tensor([0, 0, 1])},
        {"boxes": torch.tensor([[5.0, 5, 15, 15]]), "labels": torch.tensor([1])},
    ]
    predictions = [
        # class 0: TP 0.9, FP 0.8 (wrong place), TP 0.7 → precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 → AP 5/6.
        # class 1: exact box 0.6 → TP; class 2 has a prediction but no GT → skipped.
        {"boxes": torch.tensor([GT3[0], [60.0, 60, 70, 70], GT3[1], GT3[2], [0.0, 0, 5, 5]]),
         "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95]), "labels": torch.tensor([0, 0, 0, 1, 2])},
        # class 1 in image 2: a box with IoU 0 → FP at score 0.5, after the TP → precision 1, 1/2 at recall 1/2, 1/2 → AP 1/2.
        {"boxes": torch.tensor([[30.0, 30, 40, 40]]), "scores": torch.tensor([0.5]), "labels": torch.tensor([1])},
    ]
    result = mean_average_precision(predictions, ground_truths, n_classes=3)
    assert result.skipped == [2]
    assert result.per_class == pytest.approx({0: 5 / 6, 1: 0.5})
    assert result.map == pytest.approx((5 / 6 + 0.5) / 2)
    assert set(result.curves) == {0, 1}
    assert result.curves[1].is_tp.tolist() == [True, False]
    # Perfect predictions → mAP 1; no predictions → 0.
    perfect = [{"boxes": g["boxes"], "scores": torch.ones(len(g["labels"])), "labels": g["labels"]} for g in ground_truths]
    assert mean_average_precision(perfect, ground_truths, n_classes=3).map == 1.0
    none = [{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)}] * 2
    assert mean_average_precision(none, ground_truths, n_classes=3).map == 0.0
    with pytest.raises(ValueError, match="class indices"):
        mean_average_precision(predictions, ground_truths, n_classes=2)
    with pytest.raises(ValueError, match="one entry per image"):
        mean_average_precision(predictions[:1], ground_truths, n_classes=3)


# ----------------------------------------------------------------------------------------------- scenes


def test_scenes_are_deterministic_for_a_seed():
    a = make_dataset(20, seed=3)
    b = make_dataset(20, seed=3)
    c = make_dataset(20, seed=4)
    assert torch.equal(a[0], b[0])
    assert all(torch.equal(x, y) for x, y in zip(a[1], b[1]))
    assert all(torch.equal(x, y) for x, y in zip(a[2], b[2]))
    assert not torch.equal(a[0], c[0])
    s1 = make_scene(np.random.default_rng(9))
    s2 = make_scene(np.random.default_rng(9))
    assert all(torch.equal(x, y) for x, y in zip(s1, s2))


def test_scene_shapes_and_ranges():
    images, boxes, labels = make_dataset(50, seed=0, size=48, n_objects=(0, 5))
    assert images.shape == (50, 3, 48, 48) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    for b, lab in zip(boxes, labels):
        assert b.dtype == torch.float32 and b.ndim == 2 and b.shape[1] == 4
        assert lab.dtype == torch.int64 and lab.shape == (b.shape[0],)
        assert ((lab >= 0) & (lab < 3)).all()
        assert (b[:, :2] >= 0).all() and (b[:, 2:] <= 48).all() and (b[:, 2:] > b[:, :2]).all()
    assert sum(b.shape[0] for b in boxes) > 50
    empty = make_scene(np.random.default_rng(0), n_objects=0)
    assert empty[1].shape == (0, 4) and empty[2].shape == (0,)


def test_single_object_box_is_the_exact_extent_of_the_shape():
    # With a plain background and no noise, the non-background pixels' extent must be the box:
    # the shape touches all four edges and nothing of it lies outside.
    rng = np.random.default_rng(1)
    for trial in range(100):
        shape = SHAPES[trial % len(SHAPES)]
        image, boxes, labels = make_scene(rng, size=40, n_objects=1, classes=(shape,), clutter=0.0, noise=0.0)
        assert boxes.shape == (1, 4) and labels.tolist() == [0]
        background = image[:, 0, 0]
        fg = (image != background[:, None, None]).any(dim=0)  # (H, W)
        rows = torch.nonzero(fg.any(dim=1)).flatten()
        cols = torch.nonzero(fg.any(dim=0)).flatten()
        extent = [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]
        assert boxes[0].tolist() == extent, (trial, shape)
        if shape in ("circle", "square"):  # square-ish shapes have a square-ish box
            w, h = extent[2] - extent[0], extent[3] - extent[1]
            assert abs(w - h) <= 1


def test_boxes_hold_their_objects_in_busy_scenes():
    rng = np.random.default_rng(2)
    for _ in range(60):
        image, boxes, _ = make_scene(rng, size=64, n_objects=(2, 4), clutter=0.0, noise=0.0)
        background = image[:, 0, 0]
        fg = (image != background[:, None, None]).any(dim=0)
        inside = torch.zeros_like(fg)
        for x1, y1, x2, y2 in boxes.long().tolist():
            region = fg[y1:y2, x1:x2]
            assert region.float().mean() >= 0.2  # the object (at least partly visible) fills its box
            inside[y1:y2, x1:x2] = True
        assert not (fg & ~inside).any()  # every object pixel lies in some box
    # With clutter and noise, each box still clearly differs from the background around it.
    for _ in range(30):
        image, boxes, _ = make_scene(rng, size=64, n_objects=(1, 3), clutter=1.0, noise=0.05)
        outside = torch.ones(64, 64, dtype=torch.bool)
        for x1, y1, x2, y2 in boxes.long().tolist():
            outside[y1:y2, x1:x2] = False
        background = image[:, outside].median(dim=1).values
        for x1, y1, x2, y2 in boxes.long().tolist():
            diff = (image[:, y1:y2, x1:x2] - background[:, None, None]).abs().amax(dim=0)
            assert (diff > 0.25).float().mean() >= 0.15


def test_scene_arguments_are_checked():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown shape"):
        make_scene(rng, classes=("circle", "hexagon"))
    with pytest.raises(ValueError, match="n_objects"):
        make_scene(rng, n_objects=(3, 1))
    with pytest.raises(ValueError, match="clutter"):
        make_scene(rng, clutter=2.0)


def test_scene_generation_is_fast():
    start = time.perf_counter()
    images, boxes, _ = make_dataset(1000, seed=0, size=64)
    seconds = time.perf_counter() - start
    assert images.shape == (1000, 3, 64, 64)
    assert seconds < 8.0, f"1,000 scenes took {seconds:.2f} s"


def test_batched_nms_steps_keep_what_torchvision_batched_nms_keeps():
    from core.detection.boxes import batched_nms_steps
    from core.detection.scenes import candidate_boxes

    for seed in range(12):
        _, boxes, scores, labels = candidate_boxes(seed, per_object=5)
        b, s, lab = torch.tensor(boxes), torch.tensor(scores), torch.tensor(labels)
        assert (np.diff(scores) < 0).all()  # distinct scores, best first: no ties for NMS to break
        for iou_t, score_t in ((0.5, 0.0), (0.3, 0.3), (0.7, 0.1)):
            rounds, classes = batched_nms_steps(b, s, lab, iou_t, score_t)
            above = torch.nonzero(s > score_t).flatten()
            want = above[tvops.batched_nms(b[above], s[above], lab[above], iou_t)].tolist()
            assert sorted(r.kept for r in rounds) == sorted(want)
            assert all(labels[r.kept] == c and all(labels[i] == c for i in r.suppressed) for r, c in zip(rounds, classes))
            assert classes == sorted(classes)


# ------------------------------------------------------------- half precision and NaN scores

HALF_DTYPES = [torch.float16, torch.bfloat16]


def large_boxes(gen: torch.Generator, n: int) -> torch.Tensor:
    """n boxes with integer corners, tens to hundreds of pixels wide, clustered so that many overlap.
    Integers below 2048 are exact in float16, so the float16 copy holds the very same boxes."""
    return torch.round(clustered_boxes(gen, n) * 8)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_iou_on_half_precision_boxes_matches_torchvision(dtype):
    # 300 × 300 boxes: each area (90000) overflows float16 (largest value 65504) unless upcast.
    a, b = torch.tensor([[0.0, 0, 300, 300]]), torch.tensor([[100.0, 100, 400, 400]])
    ref = tvops.box_iou(a, b)  # float32 boxes: 200·200 / (2·90000 − 40000) = 2/7
    got = iou(a.to(dtype), b.to(dtype))
    assert got.dtype == tvops.box_iou(a.to(dtype), b.to(dtype)).dtype == torch.float32  # torchvision upcasts too
    torch.testing.assert_close(got, ref)
    assert got.item() == pytest.approx(2 / 7)
    torch.testing.assert_close(area(a.to(dtype)), tvops.box_area(a.to(dtype)))
    assert area(a.to(dtype)).item() == 90000.0
    # Many boxes a few hundred pixels across: the same IoUs as torchvision on the same (rounded) float32 boxes.
    gen = torch.Generator().manual_seed(20)
    x, y = random_boxes(gen, 30, size=600, max_wh=400), random_boxes(gen, 40, size=600, max_wh=400)
    xh, yh = x.to(dtype), y.to(dtype)
    got = iou(xh, yh)
    assert got.dtype == torch.float32 and (got > 0).any()
    torch.testing.assert_close(got, tvops.box_iou(xh.float(), yh.float()))
    torch.testing.assert_close(got, tvops.box_iou(x, y), atol=0.05 if dtype == torch.bfloat16 else 0.01, rtol=0)  # input rounding
    torch.testing.assert_close(iou(xh, y.double()), tvops.box_iou(xh.double(), y.double()))  # float64 wins


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_nms_on_half_precision_boxes_keeps_what_torchvision_keeps(dtype):
    gen = torch.Generator().manual_seed(21)
    for trial in range(60):
        n = int(torch.randint(1, 40, (1,), generator=gen))
        boxes = large_boxes(gen, n)
        scores = torch.randperm(n, generator=gen).float() / n + 0.01  # distinct: no ties
        labels = torch.randint(0, 3, (n,), generator=gen)
        threshold = float(torch.rand(1, generator=gen))
        half = boxes.to(dtype)
        exact = half.float()  # == boxes for float16; bfloat16 rounds corners above 256
        if dtype == torch.float16:
            assert torch.equal(exact, boxes)
        ref = tvops.nms(exact, scores, threshold)  # torchvision's nms has no half-precision kernel on CPU
        assert torch.equal(nms(half, scores, threshold), ref), trial
        assert torch.equal(nms(half, scores.to(dtype), threshold), tvops.nms(exact, scores.to(dtype).float(), threshold))
        assert [r.kept for r in nms_steps(half, scores, threshold)] == ref.tolist()
        assert torch.equal(batched_nms(half, scores, labels, threshold), tvops.batched_nms(exact, scores, labels, threshold))
        full = tvops.box_iou(exact, exact)
        for r in nms_steps(half, scores, threshold):
            for i, v in zip(r.suppressed, r.ious):
                assert v == pytest.approx(float(full[r.kept, i]), abs=1e-6)


def test_nms_refuses_nan_scores():
    gen = torch.Generator().manual_seed(22)
    boxes = large_boxes(gen, 6)
    scores = torch.tensor([0.9, 0.8, 0.7, float("nan"), 0.5, 0.4])
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    from core.detection.boxes import batched_nms_steps

    for call in (lambda: nms(boxes, scores, 0.5), lambda: nms_steps(boxes, scores, 0.5),
                 lambda: batched_nms(boxes, scores, labels, 0.5), lambda: batched_nms_steps(boxes, scores, labels, 0.5),
                 lambda: nms(boxes.half(), scores.half(), 0.5)):
        with pytest.raises(ValueError, match=r"scores must not contain NaN \(box 3 has a NaN score\)"):
            call()
    with pytest.raises(ValueError, match=r"labels must not contain NaN \(box 1"):
        batched_nms(boxes, scores.nan_to_num(0.6), labels.float().index_fill(0, torch.tensor([1]), float("nan")), 0.5)
    # Without the NaN the same call keeps what torchvision keeps; infinite scores still rank.
    ok = scores.nan_to_num(0.6)
    assert torch.equal(nms(boxes, ok, 0.5), tvops.nms(boxes, ok, 0.5))
    ok[0] = float("inf")
    assert torch.equal(nms(boxes, ok, 0.5), tvops.nms(boxes, ok, 0.5))


def test_average_precision_refuses_nan_scores_as_sklearn_does():
    from sklearn.metrics import average_precision_score

    with pytest.raises(ValueError):  # the reference: a NaN score cannot be ranked
        average_precision_score([1, 0, 1], [0.9, float("nan"), 0.3])
    gts = [torch.tensor(GT3), torch.tensor([[5.0, 5, 15, 15]])]
    preds = [torch.tensor(GT3), torch.tensor([[5.0, 5, 15, 15], [30.0, 30, 40, 40], [0.0, 0, 4, 4]])]
    scores = [torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0.6, 0.5, float("nan")])]
    message = r"pred_scores must not contain NaN \(box 2 of image 1 has a NaN score\)"
    with pytest.raises(ValueError, match=message):
        precision_recall_curve(preds, scores, gts)
    with pytest.raises(ValueError, match=message):
        average_precision(preds, scores, gts)
    predictions = [{"boxes": p, "scores": s, "labels": torch.zeros(len(s), dtype=torch.int64)} for p, s in zip(preds, scores)]
    truths = [{"boxes": g, "labels": torch.zeros(len(g), dtype=torch.int64)} for g in gts]
    with pytest.raises(ValueError, match=r"prediction scores must not contain NaN \(box 2 of image 1 has a NaN score\)"):
        mean_average_precision(predictions, truths, n_classes=1)
    predictions[1]["labels"] = torch.tensor([0.0, float("nan"), 0.0])
    predictions[1]["scores"] = torch.tensor([0.6, 0.5, 0.4])
    with pytest.raises(ValueError, match=r"prediction labels must not contain NaN \(box 1 of image 1"):
        mean_average_precision(predictions, truths, n_classes=1)
    # Without the NaN: the VOC reference's AP.
    scores[1] = torch.tensor([0.6, 0.5, 0.4])
    assert average_precision(preds, scores, gts) == pytest.approx(voc_reference_ap(preds, scores, gts, 0.5), abs=1e-9)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_average_precision_on_half_precision_boxes_matches_the_voc_reference(dtype):
    gen = torch.Generator().manual_seed(23)
    gts = [large_boxes(gen, 4) for _ in range(3)]
    preds = [torch.cat([g, g + torch.tensor([9.0, 6, 9, 6]) * (k + 1)]) for k, g in enumerate(gts)]
    scores = [torch.rand(len(p), generator=gen) for p in preds]
    preds_h, gts_h = [p.to(dtype) for p in preds], [g.to(dtype) for g in gts]
    ref = voc_reference_ap([p.double() for p in preds_h], scores, [g.double() for g in gts_h], 0.5)
    assert 0 < ref < 1
    assert average_precision(preds_h, scores, gts_h) == pytest.approx(ref, abs=1e-9)
    predictions = [{"boxes": p, "scores": s, "labels": torch.zeros(len(s), dtype=torch.int64)} for p, s in zip(preds_h, scores)]
    truths = [{"boxes": g, "labels": torch.zeros(len(g), dtype=torch.int64)} for g in gts_h]
    assert mean_average_precision(predictions, truths, n_classes=1).map == pytest.approx(ref, abs=1e-9)
