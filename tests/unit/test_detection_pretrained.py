"""Pretrained COCO detectors, offline: the torch hub cache path, WeightsUnavailable, detect/refilter/annotate.

No test touches the network: TORCH_HOME points to a temporary folder and every socket connection
fails. The "pretrained" file is a state dict the test saves itself (random weights of the same
architecture) at the exact path torch hub would download to; references are torchvision's own
pretrained builder reading that same cached file, ``torchvision.ops.batched_nms`` and the model's own
post-processing.
"""

from __future__ import annotations

import os
import re
import time

import pytest
import torch
import torchvision
from PIL import Image, ImageColor, ImageDraw

from core.artifacts import annotate_boxes
from core.colors import PALETTE
from core.detection import pretrained as P
from core.device import cpu_threads
from tests.conftest import UNPICKLED, PickledPayload, go_offline

FAST = P.DEFAULT_DETECTOR  # Faster R-CNN MobileNetV3 320
SSD = "SSDlite MobileNetV3 (320 px)"
EXPECTED_FILES = {  # the file names in torchvision's weight URLs (download.pytorch.org/models/...)
    "Faster R-CNN MobileNetV3 (320 px, fast)": "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth",
    "Faster R-CNN MobileNetV3 (full size)": "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
    "SSDlite MobileNetV3 (320 px)": "ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these small forward passes gain little from two, and spin badly on a busy machine."""
    with cpu_threads(1):
        yield


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and "\n" not in message


def _spread_scores(model: torch.nn.Module) -> None:
    """Make a random-init detector behave like a trained one enough for these tests.

    Random init drives the deep MobileNet into ReLU6 saturation, so every location gets the same
    features and the scores tie. Setting each batch norm's running statistics to the statistics of its
    input on the test scene (one pass, a pre-hook per layer) keeps activations in range; stretching
    the classifier then spreads the scores so thresholds matter. Ties would make NMS ambiguous.
    """

    def calibrate(module, args):
        x = args[0]
        module.running_mean.copy_(x.mean((0, 2, 3)))
        module.running_var.copy_(x.var((0, 2, 3), correction=0) + 1e-3)

    norms = (torch.nn.BatchNorm2d, torchvision.ops.misc.FrozenBatchNorm2d)
    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, norms)]
    model.eval()
    with torch.no_grad():
        model([torchvision.transforms.functional.pil_to_tensor(_scene()).float() / 255])
    for hook in hooks:
        hook.remove()
    for name, p in model.named_parameters():
        if name.endswith("cls_score.weight"):  # Faster R-CNN
            p.data.mul_(30.0)
        if re.search(r"classification_head\.module_list\.\d+\.1\.weight$", name):  # SSDlite
            p.data.mul_(3.0)


def _save_cached(name: str, seed: int, spread: bool = False) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = P.build_detector(name)
    if spread:
        _spread_scores(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    path = P.weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def _scene() -> Image.Image:
    img = Image.new("RGB", (160, 120), (90, 120, 160))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 70, 90), fill=(220, 40, 40))
    draw.ellipse((90, 30, 150, 100), fill=(240, 230, 60))
    return img


# --- where the weights live ---------------------------------------------------------------------


def test_weights_path_is_the_torch_hub_checkpoint_file(offline, tmp_path):
    for name, spec in P.DETECTORS.items():
        assert P.weights_path(name) == tmp_path / "torch" / "hub" / "checkpoints" / EXPECTED_FILES[name]
        assert P.weights_path(name).name == os.path.basename(spec.weights.url)
        assert not P.weights_cached(name)
    assert P.COCO_LABELS == tuple(torchvision.models.detection.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1.meta["categories"])
    assert len(P.COCO_LABELS) == 91 and P.COCO_LABELS[1] == "person" and P.COCO_LABELS[0] == "__background__"
    with pytest.raises(ValueError, match="unknown detector"):
        P.weights_path("YOLO v99")


# --- no weights: one sentence, never a random model ---------------------------------------------


def test_missing_weights_offline_raise_one_sentence_fast(offline):
    start = time.perf_counter()
    with pytest.raises(P.WeightsUnavailable) as info:
        P.load_detector(FAST, device="cpu")
    assert time.perf_counter() - start < 10
    assert offline.count > 0  # the real download code ran and hit the (refused) network
    message = str(info.value)
    assert _one_sentence(message), message
    assert "could not be downloaded" in message and "shapes detector" in message
    assert not P.weights_cached(FAST)  # no partial file left behind
    assert list(P.weights_path(FAST).parent.iterdir()) == []


def test_no_download_allowed_raises_without_touching_the_network(offline):
    with pytest.raises(P.WeightsUnavailable) as info:
        P.load_detector(FAST, device="cpu", allow_download=False)
    assert offline.count == 0
    assert _one_sentence(str(info.value))


def test_corrupt_cached_file_raises_weights_unavailable(offline):
    path = P.weights_path(FAST)
    path.parent.mkdir(parents=True)
    junk = torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    path.write_bytes(bytes(junk.tolist()))
    with pytest.raises(P.WeightsUnavailable) as info:
        P.load_detector(FAST, device="cpu")
    message = str(info.value)
    assert _one_sentence(message) and "cannot be read" in message and str(path) in message
    assert path.read_bytes() == bytes(junk.tolist())  # left for the user to delete, not silently replaced
    assert offline.count == 0  # a cached file is never re-downloaded


def test_another_detectors_weights_raise_weights_unavailable(offline):
    torch.manual_seed(0)
    path = P.weights_path(FAST)
    path.parent.mkdir(parents=True)
    torch.save(P.build_detector(SSD).state_dict(), path)  # the wrong architecture's weights under the right name
    with pytest.raises(P.WeightsUnavailable) as info:
        P.load_detector(FAST, device="cpu")
    assert _one_sentence(str(info.value)) and "does not hold" in str(info.value)


def test_cached_file_is_read_with_weights_only(offline):
    path = P.weights_path(FAST)
    path.parent.mkdir(parents=True)
    torch.save({"backbone.weight": torch.zeros(1), "payload": PickledPayload()}, path)
    with pytest.raises(P.WeightsUnavailable):
        P.load_detector(FAST, device="cpu")
    assert UNPICKLED == []  # weights_only=True refused the pickled callable instead of running it


# --- the offline pretrained path -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(P.DETECTORS))
def test_cached_state_dict_is_loaded_exactly(offline, name):
    saved = _save_cached(name, seed=1234)
    torch.manual_seed(7)  # a fresh random init differs from the file, so equality below proves the file was read
    assert not all(torch.equal(v, saved[k]) for k, v in P.build_detector(name).state_dict().items())

    model = P.load_detector(name, device="cpu")
    assert not model.training
    loaded = model.state_dict()
    assert list(loaded) == list(saved)
    for key, tensor in saved.items():
        assert torch.equal(loaded[key], tensor), key

    # reference: torchvision's own pretrained builder, reading the same cached file (no network)
    spec = P.DETECTORS[name]
    reference = spec.builder(weights=spec.weights).state_dict()
    assert list(reference) == list(loaded)
    for key, tensor in reference.items():
        assert torch.equal(loaded[key], tensor), key
    assert offline.count == 0


# --- detect, refilter, annotate ------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """{name: (model, raw detections)} for the two 320-px detectors, loaded offline from the cache."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        go_offline(mp, tmp_path_factory.mktemp("torch"))
        for name in (FAST, SSD):
            _save_cached(name, seed=0, spread=True)
            model = P.load_detector(name, device="cpu")
            out[name] = (model, P.detect(model, _scene()))
    return out


@pytest.mark.parametrize("name", [FAST, SSD])
def test_detect_returns_well_formed_raw_detections(raw, name):
    model, dets = raw[name]
    n = len(dets)
    assert 0 < n <= P.RAW_MAX_DETECTIONS
    assert dets.boxes.shape == (n, 4) and dets.boxes.dtype == torch.float32
    assert dets.scores.shape == (n,) and dets.labels.shape == (n,) and dets.labels.dtype == torch.int64
    x1, y1, x2, y2 = dets.boxes.unbind(1)
    assert bool(((0 <= x1) & (x1 <= x2) & (x2 <= 160) & (0 <= y1) & (y1 <= y2) & (y2 <= 120)).all())  # input pixels
    assert bool((dets.scores > P.RAW_SCORE_THRESHOLD).all() and (dets.scores <= 1).all())
    assert torch.equal(dets.scores, torch.sort(dets.scores, descending=True).values)  # sorted, best first
    assert bool(((dets.labels >= 1) & (dets.labels <= 90)).all())
    assert dets.names == tuple(P.COCO_LABELS[i] for i in dets.labels.tolist())
    assert dets.inference_ms > 0
    assert P.RAW_SCORE_THRESHOLD <= dets.score_floor <= float(dets.scores.min())
    # a [3, H, W] float tensor gives the same result as the PIL image
    tensor = torchvision.transforms.functional.pil_to_tensor(_scene()).float() / 255
    again = P.detect(model, tensor)
    assert torch.equal(again.boxes, dets.boxes) and torch.equal(again.scores, dets.scores)


@pytest.mark.parametrize("name", [FAST, SSD])
def test_refilter_equals_torchvision_batched_nms(raw, name):
    _, dets = raw[name]
    suppressed = 0
    for q, iou in ((0.2, 0.5), (0.6, 0.3), (0.9, 0.7)):
        score = float(dets.scores.quantile(q))
        got = P.refilter(dets, score, iou, max_detections=None)
        idx = torch.nonzero(dets.scores > score).flatten()
        keep = idx[torchvision.ops.batched_nms(dets.boxes[idx], dets.scores[idx], dets.labels[idx], iou)]
        assert len(got) > 0
        suppressed += len(idx) - len(got)
        assert torch.equal(got.boxes, dets.boxes[keep]) and torch.equal(got.scores, dets.scores[keep])
        assert torch.equal(got.labels, dets.labels[keep])
        assert got.names == tuple(dets.names[i] for i in keep.tolist()) and got.inference_ms == dets.inference_ms
        capped = P.refilter(dets, score, iou, max_detections=5)
        assert torch.equal(capped.boxes, got.boxes[:5])
    assert suppressed > 0  # NMS had overlapping boxes to remove


@pytest.mark.parametrize("name", [FAST, SSD])
def test_refilter_equals_the_models_own_postprocessing(raw, name):
    """One raw run + refilter gives the same boxes as running the model with those thresholds."""
    model, dets = raw[name]
    head = model.roi_heads if name == FAST else model
    x = torchvision.transforms.functional.pil_to_tensor(_scene()).float() / 255
    for q, iou in ((0.3, 0.5), (0.8, 0.3)):
        score = max(dets.score_floor, float(dets.scores.quantile(q)))
        head.score_thresh, head.nms_thresh, head.detections_per_img = score, iou, 10_000
        try:
            with torch.inference_mode():
                ref = model([x])[0]
        finally:
            P._open_thresholds(model)
        got = P.refilter(dets, score, iou, max_detections=None)
        assert len(got) > 1
        assert torch.equal(got.boxes, ref["boxes"]) and torch.equal(got.scores, ref["scores"])
        assert torch.equal(got.labels, ref["labels"])


def test_higher_score_threshold_keeps_the_top_of_the_lower_one(raw):
    _, dets = raw[FAST]
    low, high = float(dets.scores.quantile(0.1)), float(dets.scores.quantile(0.7))
    a, b = P.refilter(dets, low, 0.5, max_detections=None), P.refilter(dets, high, 0.5, max_detections=None)
    assert 0 < len(b) < len(a)
    # greedy NMS: raising the score cut only removes boxes; the survivors above it are the same
    above = a.scores > high
    assert torch.equal(b.boxes, a.boxes[above]) and torch.equal(b.labels, a.labels[above])
    assert len(P.refilter(dets, 1.0, 0.5)) == 0


def test_refilter_rejects_bad_thresholds(raw):
    _, dets = raw[FAST]
    with pytest.raises(ValueError, match="score threshold"):
        P.refilter(dets, 1.5, 0.5)
    with pytest.raises(ValueError, match="IoU threshold"):
        P.refilter(dets, 0.5, -0.1)


def test_detect_rejects_bad_images(raw):
    model, _ = raw[FAST]
    with pytest.raises(ValueError, match=r"\[3, H, W\]"):
        P.detect(model, torch.rand(2, 3, 10, 10))
    with pytest.raises(ValueError, match="float"):
        P.detect(model, torch.zeros(3, 10, 10, dtype=torch.uint8))


def _hand_made() -> P.Detections:
    return P.Detections(
        boxes=torch.tensor([[20.0, 30.0, 90.0, 100.0], [110.0, 5.0, 190.0, 60.0]]),
        scores=torch.tensor([0.9, 0.6]),
        labels=torch.tensor([1, 3]),
        names=("person", "car"),
    )


def test_annotate_draws_labelled_boxes_in_class_colours():
    image = Image.new("RGB", (200, 120), (128, 128, 128))
    before = image.copy()
    out = annotate_boxes(image, _hand_made())
    assert out.size == image.size and out.mode == "RGB"
    assert list(image.getdata()) == list(before.getdata())  # the input is not modified
    person, car = (ImageColor.getrgb(PALETTE[i % len(PALETTE)])[:3] for i in (1, 3))
    assert out.getpixel((20, 65)) == person and out.getpixel((90, 65)) == person  # left and right edges
    assert out.getpixel((190, 40)) == car
    assert out.getpixel((55, 65)) == (128, 128, 128) and out.getpixel((5, 115)) == (128, 128, 128)  # inside / outside
    # each label sits on a tag in the class colour: above the first box, inside the second (it touches the top)
    tag = [out.getpixel((x, y)) for x in range(20, 60) for y in range(12, 29)]
    assert tag.count(person) > len(tag) // 3 and len(set(tag)) > 2  # a filled tag with text on it
    diff = sum(a != b for a, b in zip(out.getdata(), before.getdata()))
    assert diff > 500
    assert list(annotate_boxes(image, P.refilter(_hand_made(), 0.95, 0.5)).getdata()) == list(before.getdata())


def test_annotate_names_override_and_detections_validation():
    image = Image.new("RGB", (200, 120), (128, 128, 128))
    default, renamed = annotate_boxes(image, _hand_made()), annotate_boxes(image, _hand_made(), names=[str(i) for i in range(10)])
    assert list(default.getdata()) != list(renamed.getdata())  # different label text, same boxes
    with pytest.raises(ValueError, match="detections need"):
        P.Detections(torch.zeros(2, 4), torch.zeros(3), torch.zeros(2, dtype=torch.int64), ("a", "b"))
    rows = _hand_made().rows()
    assert rows[0] == {"label": "person", "score": 0.9, "x1": 20.0, "y1": 30.0, "x2": 90.0, "y2": 100.0}
