"""The Object detection page through AppTest, tab by tab, each checked against a reference:
the localization vector against its closed form from the drawn box, the IoU against
torchvision.ops.box_iou, the NMS rounds against torchvision.ops.nms / batched_nms, the grid
slot against the cell and anchor worked out by hand (and core.detection.yolo.assign), the
pretrained detector offline (no weights: one sentence; weights in the cache: boxes that the
sliders re-filter exactly as core.detection.pretrained.refilter does, the network run once),
and the shapes detector trained as a tracked run."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

import ui.detection.photo
from core import tracking
from core.data.images import decode_image
from core.detection import pretrained as P
from core.detection.yolo import DEFAULT_ANCHORS, GridSpec, assign
from tests.app.helpers import by_label, page, run_until, texts


def _frame(at, *columns: str, last: bool = False):
    """The first (or ``last``) dataframe on the page that has all ``columns``."""
    for df in (reversed(at.dataframe) if last else at.dataframe):
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no table with columns {columns}; have {[list(d.value.columns) for d in at.dataframe]}")


def _chart(at, key: str) -> dict:
    """The Plotly spec of the chart whose widget key is ``detection.<key>``."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-detection.{key}"):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no chart {key}")


# --------------------------------------------------------------------------- localization


def test_localization_vector_is_the_drawn_box_in_fractions():
    at = page("detection").run()
    assert not at.exception
    size = 128
    for seed in (3, 41):
        by_label(at.slider, "Example scene").set_value(seed).run()
        spec = _chart(at, "loc_figure")
        rect = next(s for s in spec["layout"]["shapes"] if s["type"] == "rect" and s.get("line", {}).get("width") == 2.5)
        x1, y1, x2, y2 = rect["x0"], rect["y0"], rect["x1"], rect["y1"]
        vec = _frame(at, "entry", "value", "meaning").set_index("entry")["value"]
        assert vec["p_c"] == 1
        expected = {"b_x": (x1 + x2) / 2 / size, "b_y": (y1 + y2) / 2 / size, "b_h": (y2 - y1) / size, "b_w": (x2 - x1) / size}
        for field, value in expected.items():
            assert vec[field] == pytest.approx(value, abs=1e-4), field
        assert sorted(vec[["c_1", "c_2", "c_3"]].tolist()) == [0, 0, 1]  # one-hot class
    by_label(at.checkbox, "A picture with no object").check().run()
    vec = _frame(at, "entry", "value", "meaning").set_index("entry")["value"]
    assert vec["p_c"] == 0 and vec.drop("p_c").isna().all()
    assert "does not matter" in str(_frame(at, "entry", "value", "meaning")["meaning"].tolist())


# --------------------------------------------------------------------------- IoU


@pytest.mark.parametrize("a, b", [
    ((10, 60, 15, 65), (35, 90, 40, 85)),  # partial overlap (x1, x2, y1, y2 as the sliders take them)
    ((20, 80, 20, 80), (40, 50, 40, 50)),  # B inside A
    ((0, 30, 0, 30), (50, 100, 60, 90)),  # apart
    ((5, 45, 5, 95), (5, 45, 5, 95)),  # identical
    ((0, 50, 0, 100), (0, 100, 0, 100)),  # exactly 0.5
])
def test_iou_equals_torchvision_box_iou(a, b):
    at = page("detection").run()
    by_label(at.slider, "Box A: left and right edges (x₁, x₂)").set_value(a[:2])
    by_label(at.slider, "Box A: top and bottom edges (y₁, y₂)").set_value(a[2:])
    by_label(at.slider, "Box B: left and right edges (x₁, x₂)").set_value(b[:2])
    by_label(at.slider, "Box B: top and bottom edges (y₁, y₂)").set_value(b[2:]).run()
    assert not at.exception
    box_a = torch.tensor([[a[0], a[2], a[1], a[3]]], dtype=torch.float32)
    box_b = torch.tensor([[b[0], b[2], b[1], b[3]]], dtype=torch.float32)
    ref = float(torchvision.ops.box_iou(box_a, box_b)[0, 0])
    assert float(by_label(at.metric, "IoU").value) == pytest.approx(ref, abs=5e-5)
    area_a, area_b = (a[1] - a[0]) * (a[3] - a[2]), (b[1] - b[0]) * (b[3] - b[2])
    assert by_label(at.metric, "Area of A").value == f"{area_a}" and by_label(at.metric, "Area of B").value == f"{area_b}"
    overlap = float(by_label(at.metric, "Overlap").value)
    assert float(by_label(at.metric, "Union").value) == area_a + area_b - overlap
    assert f"torchvision.ops.box_iou gives {ref:.4f}" in texts(at)
    if ref == 0.5:
        assert "sits exactly on the 0.5 line" in texts(at)
    else:
        assert f"would {'' if ref > 0.5 else 'not '}count as a correct detection" in texts(at)


# --------------------------------------------------------------------------- NMS


def _nms_state(at):
    cand = _frame(at, "box", "class", "score", "x1", "y1", "x2", "y2")
    rounds = _frame(at, "round", "kept box", "removed (IoU with the kept box)")
    return cand, rounds


@pytest.mark.parametrize("seed, iou_t, score_t", [(2, 0.5, 0.3), (7, 0.3, 0.0), (13, 0.7, 0.5), (21, 0.1, 0.2)])
def test_nms_rounds_keep_what_torchvision_keeps(seed, iou_t, score_t):
    at = page("detection").run()
    by_label(at.slider, "NMS scene").set_value(seed)
    by_label(at.slider, "NMS IoU threshold").set_value(iou_t)
    by_label(at.slider, "Score threshold").set_value(score_t).run()
    assert not at.exception
    cand, rounds = _nms_state(at)
    above = cand[cand["score"] > score_t]
    boxes = torch.tensor(above[["x1", "y1", "x2", "y2"]].to_numpy())
    scores = torch.tensor(above["score"].to_numpy())
    ref = above["box"].to_numpy()[torchvision.ops.nms(boxes, scores, iou_t).numpy()].tolist()
    assert rounds["kept box"].tolist() == ref  # same boxes, in the same order (by decreasing score)
    # every box above the score threshold is kept or removed exactly once
    removed = [int(tok.split(" ")[0][1:]) for cell in rounds["removed (IoU with the kept box)"] if cell != "none"
               for tok in cell.split(", ")]
    assert sorted(removed + ref) == sorted(above["box"].tolist())
    assert _chart(at, "nms_after")["layout"]["title"]["text"] == f"After NMS: {len(ref)} kept"

    by_label(at.toggle, "Per-class NMS").set_value(True).run()
    cand, rounds = _nms_state(at)
    labels = torch.tensor(above["class"].map({"circle": 0, "square": 1, "triangle": 2}).to_numpy())
    ref_pc = above["box"].to_numpy()[torchvision.ops.batched_nms(boxes, scores, labels, iou_t).numpy()].tolist()
    assert sorted(rounds["kept box"].tolist()) == sorted(ref_pc)
    for cls, group in rounds.groupby("class", sort=False):  # within a class, rounds go by decreasing score
        assert group["score"].is_monotonic_decreasing
        assert set(cand.set_index("box").loc[group["kept box"], "class"]) == {cls}


# --------------------------------------------------------------------------- anchors and the grid


def _shape_iou(w, h, aw, ah):
    inter = min(w, aw) * min(h, ah)
    return inter / (w * h + aw * ah - inter)


@pytest.mark.parametrize("S, cx, cy, w, h", [(4, 70, 45, 56, 30), (4, 31, 97, 20, 60), (7, 128, 0, 40, 40), (3, 64, 64, 100, 12)])
def test_grid_slot_is_the_cell_of_the_centre_and_the_best_anchor(S, cx, cy, w, h):
    at = page("detection").run()
    by_label(at.select_slider, "Grid size S").set_value(S)
    by_label(at.slider, "Object centre x (px)").set_value(cx)
    by_label(at.slider, "Object centre y (px)").set_value(cy)
    by_label(at.slider, "Object width (px)").set_value(w)
    by_label(at.slider, "Object height (px)").set_value(h).run()
    assert not at.exception
    cell = 128 / S
    row, col = min(int(cy // cell), S - 1), min(int(cx // cell), S - 1)  # by hand
    ious = [_shape_iou(w / 128, h / 128, aw, ah) for aw, ah in DEFAULT_ANCHORS]
    anchor = int(np.argmax(ious))
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    assert tuple(assign(box, GridSpec(S, DEFAULT_ANCHORS, 3, 128))) == (row, col, anchor)
    assert by_label(at.metric, "Cell (row, column)").value == f"({row}, {col})"
    assert by_label(at.metric, "Anchor").value.startswith(f"{anchor} (")
    anchors = _frame(at, "anchor", "shape IoU", "chosen")
    assert anchors["shape IoU"].tolist() == pytest.approx(ious, abs=1e-4)
    assert anchors.loc[anchors["chosen"] == "yes", "anchor"].tolist() == [anchor]
    vec = _frame(at, "entry", "value", "meaning", last=True).set_index("entry")["value"]  # the grid tab's slot
    assert vec["p_c"] == 1 and vec[["c_1 (circle)", "c_2 (square)", "c_3 (triangle)"]].tolist() == [1, 0, 0]
    assert vec["b_x"] == pytest.approx(cx / cell - col, abs=1e-4) and vec["b_y"] == pytest.approx(cy / cell - row, abs=1e-4)
    assert vec["b_h"] == pytest.approx(h / 128, abs=1e-4) and vec["b_w"] == pytest.approx(w / 128, abs=1e-4)
    check = _frame(at, "which box", "x1", "y1", "x2", "y2").set_index("which box")
    assert check.loc["decoded from the target"].tolist() == pytest.approx(box, abs=1e-3)  # decode(encode(box)) = box
    assert check.loc["the object's box"].tolist() == pytest.approx(box, abs=1e-3)


def test_grid_scene_loses_slots_with_one_cell_and_one_anchor():
    at = page("detection").run()
    by_label(at.select_slider, "Grid size S").set_value(1)
    by_label(at.selectbox, "Anchor boxes").set_value("1 square anchor (one object per cell)").run()
    slots = _frame(at, "object", "row", "column", "anchor", "slot")
    assert (slots[["row", "column", "anchor"]] == 0).all().all()
    assert slots["slot"].tolist() == ["own"] + ["lost"] * (len(slots) - 1)
    assert "decoding the target gives back 1 box." in texts(at)


# --------------------------------------------------------------------------- the pretrained detector, offline


def _jpeg() -> bytes:
    """A real photo (scikit-image's cat) as JPEG file bytes."""
    import skimage.data

    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).resize((300, 200)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _upload(at, name: str, data: bytes, mime: str = "image/jpeg"):
    by_label(at.segmented_control, "Photo: source").set_value("Upload").run()
    by_label(at.file_uploader, "Photo: upload").upload(name, data, mime)
    return at.run()


def test_photo_without_weights_says_so_in_one_sentence(offline):
    at = page("detection").run()
    assert not at.exception
    assert "are not on this machine yet" in texts(at)
    by_label(at.button, "Download the weights (74 MB) and detect").click().run()
    assert not at.exception
    assert offline.count > 0  # the real download was attempted, and refused
    warnings = [w.value for w in at.warning if "could not be downloaded" in w.value]
    assert len(warnings) == 1
    sentence = warnings[0]
    assert sentence.endswith(".") and ". " not in sentence and "shapes detector" in sentence
    assert "Train a detector" in texts(at)
    assert not [d for d in at.dataframe if "label" in d.value.columns]  # no boxes from a model that is not there
    assert by_label(at.button, "Try the download again")
    assert not P.weights_cached(P.DEFAULT_DETECTOR)
    # an upload gets the same sentence, and a file that is not a picture gets a plain message
    at = _upload(at, "cat.jpg", _jpeg())
    assert not at.exception and any("upload" in c or "cat.jpg" in c for im in at.image for c in im.captions)
    assert [w.value for w in at.warning if "could not be downloaded" in w.value] == [sentence]
    at = _upload(at, "notes.png", b"this is not a picture")
    assert not at.exception
    assert any("is not an image we can read" in e.value for e in at.error)


def _spread_scores(model: torch.nn.Module, image: Image.Image) -> None:
    """Test fixture only: make a randomly initialised detector give spread-out scores on ``image``.

    Random init saturates the deep backbone so every box scores the same; setting each batch norm's
    running statistics to those of its input on the photo keeps activations in range, and scaling the
    classifier spreads the scores over (0.01, 0.5), so that thresholds have something to cut.
    """
    def calibrate(module, args):
        module.running_mean.copy_(args[0].mean((0, 2, 3)))
        module.running_var.copy_(args[0].var((0, 2, 3), correction=0) + 1e-3)

    norms = (torch.nn.BatchNorm2d, torchvision.ops.misc.FrozenBatchNorm2d)
    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, norms)]
    model.eval()
    with torch.no_grad():
        model([torchvision.transforms.functional.pil_to_tensor(image).float() / 255])
    for hook in hooks:
        hook.remove()
    for key, p in model.named_parameters():
        if key.endswith("cls_score.weight"):
            p.data.mul_(8.0)


def test_photo_with_cached_weights_detects_once_and_refilters(offline, monkeypatch):
    data = _jpeg()
    photo = decode_image(data, name="cat.jpg")  # what the upload box hands the page
    name = P.DEFAULT_DETECTOR
    torch.manual_seed(0)
    model = P.build_detector(name)
    _spread_scores(model, photo.image)
    path = P.weights_path(name)
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)  # random weights in the cache, as a stand-in for the download
    runs = []
    real_detect = ui.detection.photo.detect
    monkeypatch.setattr(ui.detection.photo, "detect", lambda *a, **k: runs.append(1) or real_detect(*a, **k))

    at = page("detection").run()
    assert len(runs) == 1  # the sample photo shown first was detected at once: the weights are on disk
    at = _upload(at, "cat.jpg", data)
    assert not at.exception
    assert len(runs) == 2 and offline.count == 0  # the upload: one more run, nothing downloaded
    assert by_label(at.metric, "Inference time").value.endswith(" ms")
    raw = list(at.session_state["detection.photo_raw"].values())[-1]
    reference = P.detect(P.load_detector(name, device="cpu"), photo.image)  # the same network on the same photo
    assert len(raw) == len(reference) and torch.allclose(raw.scores, reference.scores, atol=1e-5)
    assert by_label(at.metric, "Candidate boxes").value == f"{len(raw):,}"

    counts = set()
    for score, iou_t in ((0.05, 0.5), (0.1, 0.5), (0.1, 0.2), (0.3, 0.5)):
        by_label(at.slider, "Photo: score threshold").set_value(score)
        by_label(at.slider, "Photo: NMS IoU threshold").set_value(iou_t).run()
        assert not at.exception
        expected = P.refilter(raw, score, iou_t)
        assert by_label(at.metric, "Boxes after NMS").value == f"{len(expected):,}"
        assert by_label(at.metric, "Above the score threshold").value == f"{int((raw.scores > score).sum()):,}"
        if len(expected):
            table = _frame(at, "label", "score", "x1", "y1", "x2", "y2")
            assert table["label"].tolist() == list(expected.names)
            assert table["score"].tolist() == pytest.approx(expected.scores.tolist(), abs=1e-4)
        counts.add(len(expected))
    assert len(counts) > 1  # the sliders changed what is shown
    assert len(runs) == 2  # ...without running the network again
    assert by_label(at.get("download_button"), "Download the annotated image (PNG)")


# --------------------------------------------------------------------------- training


def _train_tiny(at):
    by_label(at.number_input, "Training scenes").set_value(60)
    by_label(at.number_input, "Held-out scenes").set_value(20)
    by_label(at.select_slider, "Network width (channels)").set_value(4)
    by_label(at.slider, "Epochs").set_value(1)
    by_label(at.button, "Train the detector").click()
    return run_until(at.run(), lambda a: "Finished in" in texts(a)).run()


def test_train_a_tiny_detector_as_a_tracked_run(fresh_store):
    at = _train_tiny(page("detection").run())
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"]
    tracked = runs.iloc[0]["metrics.map50"]
    shown = by_label(at.metric, "mAP@0.5 (held-out scenes)").value
    assert shown == ("n/a" if math.isnan(tracked) else f"{tracked:.3f}")
    assert runs.iloc[0]["run_id"] in texts(at)
    assert _frame(at, "class", "AP@0.5", "objects") is not None
    captions = [c for im in at.image for c in im.captions]
    assert any("before NMS" in c for c in captions) and any("after NMS" in c for c in captions)
    # the sliders re-score the saved held-out outputs (no network in the page): the tracked mAP at the run's
    # thresholds, and another mAP at others, as core's evaluation of those outputs gives it
    caption = next(c for c in texts(at).splitlines() if c.startswith("mAP@0.5 at these thresholds"))
    assert caption == f"mAP@0.5 at these thresholds: {tracked:.3f} (the mean of the column)."
    result = at.session_state["detection.train.result"]
    by_label(at.slider, "Shapes: score threshold").set_value(0.05)
    by_label(at.slider, "Shapes: NMS IoU threshold").set_value(0.3).run()
    assert not at.exception
    want = result.rescore(0.05, 0.3).map
    assert f"mAP@0.5 at these thresholds: {want:.3f} (the mean of the column)." in texts(at)
    raw, _, _ = result.examples[0].detections(0.05, 0.3)
    assert f"before NMS: {len(raw.scores)} boxes" in [c for im in at.image for c in im.captions]


def test_a_diverged_training_shows_the_panel_sentence_only(fresh_store, preloaded_runner):
    preloaded_runner("tests.fakes_detection")  # the training's loss is NaN from its first step
    at = _train_tiny(page("detection").run())
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FAILED"]
    sentence = runs.iloc[0]["tags.dll.error"]
    assert sentence == "the loss became NaN at step 1 — try a smaller learning rate"
    assert [e.value for e in at.error] == [f"TinyYOLO diverged: {sentence}. Its run is tracked as FAILED."]
    assert not [m for m in at.metric if m.label == "mAP@0.5 (held-out scenes)"]  # no results of a diverged network
