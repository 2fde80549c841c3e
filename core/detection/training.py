"""Training the small YOLO-style detector on generated shape scenes, as one tracked run.

:func:`run_detector` is a job function: it generates a training set and a held-out set of scenes
(:func:`core.detection.scenes.make_dataset`, two different seeds), encodes the boxes as YOLO grid
targets (:func:`core.detection.yolo.encode`), trains :class:`~core.detection.detector.TinyYolo` with
:func:`~core.detection.detector.yolo_loss` through the shared :func:`core.experiment.train_tracked`
and, inside the run, evaluates the held-out scenes: decode every slot whose score p_c · max class
probability is above the score threshold (before NMS), keep the survivors of per-class non-max
suppression (after NMS), and measure mAP@0.5 (:func:`core.detection.metrics.mean_average_precision`).
The run gets ``map50``, one ``ap50_<class>`` per class and a PNG of a few held-out scenes (ground
truth, before NMS and after NMS, with the grid drawn over them).

The held-out set also serves as the dev set the run's ``dev_loss`` is measured on: nothing is chosen
on it (no early stopping), so its mAP stays an unbiased estimate.

The job's result is plain data: the held-out outputs and ground truth as arrays (the page re-scores
them at other thresholds without the network), and the run id; :func:`load_tracked` rebuilds the
trained detector from the run's logged weights when the network itself is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core import tracking
from core.detection.boxes import Detections, batched_nms
from core.detection.detector import TinyYolo, downsampling_steps, yolo_loss
from core.detection.metrics import MAPResult, PRCurve, mean_average_precision
from core.detection.scenes import DEFAULT_CLASSES, SHAPES, make_dataset
from core.detection.yolo import DEFAULT_ANCHORS, GridSpec, activate, decode, encode
from core.device import pick_device, seed_everything
from core.experiment import Lane, train_tracked
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.settings import Settings, setting

__all__ = [
    "LANE",
    "PAGE",
    "DetectorConfig",
    "DetectorResult",
    "SceneExample",
    "encode_targets",
    "evaluate_detector",
    "evaluate_outputs",
    "load_tracked",
    "postprocess",
    "predict_outputs",
    "run_detector",
]

PAGE = "detection"
LANE = "TinyYOLO"


@dataclass(frozen=True)
class DetectorConfig(Settings):
    """One training of the shapes detector (also the tracked run's params).

    Scenes: ``n_train`` for training and ``n_test`` held out, ``image_size`` pixels square, 1 to
    ``max_objects`` shapes of ``classes`` each over a background with ``clutter`` (0–1). Grid: ``S`` × ``S``
    cells (``image_size`` / ``S`` must be a power of two) with the three default anchors. Network:
    :class:`~core.detection.detector.TinyYolo` with ``width`` channels in its first layer. Evaluation:
    boxes scoring above ``score_threshold``, per-class NMS at IoU ``nms_iou``, mAP at IoU 0.5.
    """

    n_train: int = setting(3000, lo=10, hi=20_000, step=100, label="Training scenes")
    n_test: int = setting(300, lo=10, hi=5_000, step=50, label="Held-out scenes")
    image_size: int = setting(64, lo=32, hi=256, label="Image size (pixels)")
    S: int = setting(4, options=(2, 4, 8), label="Grid size S (64-pixel scenes)")
    classes: tuple[str, ...] = setting(DEFAULT_CLASSES, choices=SHAPES, count=(1, 10**6), label="Shapes to detect")
    max_objects: int = setting(4, lo=1, hi=8, widget="slider", label="Shapes per scene (at most)")
    clutter: float = setting(0.5, lo=0.0, hi=1.0, step=0.1, widget="slider", label="Background clutter")
    epochs: int = setting(8, lo=1, hi=200, widget="slider", label="Epochs")
    batch_size: int = setting(32, lo=1, hi=4096, label="Batch size")
    lr: float = setting(2e-3, lo=0.0, above=True, hi=10.0, fmt="%g", label="Learning rate α")
    optimizer: str = setting("Adam", choices=OPTIMIZERS, label="Optimizer")
    width: int = setting(16, options=(4, 8, 16, 32), label="Network width (channels)")
    score_threshold: float = setting(0.3, lo=0.0, hi=0.95, step=0.05, widget="slider", label="Shapes: score threshold",
                                     help="Slots scoring p_c · (best class probability) at or below this are dropped.")
    nms_iou: float = setting(0.5, lo=0.0, hi=1.0, step=0.05, widget="slider", label="Shapes: NMS IoU threshold")
    seed: int = 0

    def check(self) -> None:
        if isinstance(self.classes, str):
            raise ValueError("classes must be a list of shape names, not one string")
        object.__setattr__(self, "classes", tuple(self.classes))
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("each shape class may appear only once")
        downsampling_steps(self.image_size, self.S)  # ValueError: image size / S must be a power of two

    @property
    def grid(self) -> GridSpec:
        """The output layout: S × S cells, the default anchors, one class per shape name."""
        return GridSpec(S=self.S, anchors=DEFAULT_ANCHORS, n_classes=len(self.classes), image_size=self.image_size)

    @property
    def train_seed(self) -> int:
        """Seed of the training scenes (2·seed; the held-out ones use 2·seed + 1, so the two never coincide)."""
        return 2 * self.seed

    @property
    def test_seed(self) -> int:
        """Seed of the held-out scenes: 2·seed + 1."""
        return 2 * self.seed + 1

    def scene_kw(self) -> dict[str, Any]:
        """What :func:`~core.detection.scenes.make_dataset` gets besides ``n`` and ``seed``."""
        return {"size": self.image_size, "classes": self.classes, "n_objects": (1, self.max_objects),
                "clutter": self.clutter}


@dataclass(frozen=True)
class SceneExample:
    """One held-out scene as the detector saw it, for drawing "before and after NMS" (plain arrays).

    ``image`` [H, W, 3] float in [0, 1]; ``output`` the activated network output [S, S, A, 5 + C];
    ``truth_boxes`` [G, 4] xyxy and ``truth_labels`` [G]; ``grid`` and the run's thresholds.
    :meth:`detections` gives ``(raw, keep, kept)`` at any thresholds (the run's by default): ``raw``
    every slot scoring above the threshold (before NMS; sorted by decreasing score; the cell that
    predicted a box is the one containing its centre), ``keep`` the indices into ``raw`` that survive
    per-class NMS and ``kept`` = those boxes; :attr:`raw`, :attr:`keep`, :attr:`kept` are the run's.
    """

    index: int
    image: np.ndarray
    output: np.ndarray
    truth_boxes: np.ndarray
    truth_labels: np.ndarray
    grid: GridSpec
    score_threshold: float = 0.3
    nms_iou: float = 0.5

    def detections(self, score_threshold: float | None = None, nms_iou: float | None = None
                   ) -> tuple[Detections, Tensor, Detections]:
        """:func:`postprocess` of this scene's output at the given thresholds (default: the run's)."""
        return postprocess(self.output, self.grid, self.score_threshold if score_threshold is None else score_threshold,
                           self.nms_iou if nms_iou is None else nms_iou)

    @property
    def raw(self) -> Detections:
        return self.detections()[0]

    @property
    def keep(self) -> Tensor:
        return self.detections()[1]

    @property
    def kept(self) -> Detections:
        return self.detections()[2]


@dataclass
class DetectorResult(Outcome):
    """What a finished, diverged or stopped detector training leaves for the page (plain data).

    ``lane`` says how it ended (``stopped`` after a Stop; its ``run_id`` names the tracked run, whose
    weights :func:`load_tracked` rebuilds). When it finished: ``map50`` and ``per_class_ap`` (class name →
    AP@0.5, classes present in the held-out set) and ``curves`` (class name → precision-recall curve);
    ``examples``: a few held-out scenes before and after NMS; ``test_outputs`` [N, S, S, A, 5 + C]
    (activated, float32) with ``test_boxes``/``test_labels`` (arrays per scene) to re-evaluate at other
    thresholds (:meth:`rescore`) without running the network again. ``sizes``: scene and object counts,
    and ``dropped`` = training objects that lost their grid slot to an earlier object in the same cell
    and anchor (YOLO holds one object per slot).
    """

    lane: Lane
    grid: GridSpec
    classes: tuple[str, ...]
    score_threshold: float
    nms_iou: float
    map50: float | None = None
    per_class_ap: dict[str, float] = field(default_factory=dict)
    curves: dict[str, PRCurve] = field(default_factory=dict)
    examples: list[SceneExample] = field(default_factory=list)
    test_outputs: np.ndarray | None = None
    test_boxes: list[np.ndarray] = field(default_factory=list)
    test_labels: list[np.ndarray] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.lane.stopped

    def rescore(self, score_threshold: float, nms_iou: float, iou_threshold: float = 0.5) -> MAPResult:
        """mAP of the saved held-out outputs at other thresholds (:func:`evaluate_outputs`)."""
        if self.test_outputs is None:
            raise ValueError("this training has no held-out outputs (it did not finish)")
        return evaluate_outputs(self.test_outputs, self.test_boxes, self.test_labels, self.grid, score_threshold,
                                nms_iou, iou_threshold)


def encode_targets(boxes: Sequence[Tensor], labels: Sequence[Tensor], grid: GridSpec) -> Tensor:
    """YOLO targets of a set of scenes: per-scene [K_i, 4] boxes and [K_i] labels → [N, S, S, A, 5 + C]."""
    if len(boxes) != len(labels):
        raise ValueError(f"there must be one label list per box list: {len(boxes)} and {len(labels)}")
    if not len(boxes):
        return torch.zeros((0, *grid.shape))
    return torch.stack([encode(b, lab, grid) for b, lab in zip(boxes, labels)])


@torch.no_grad()
def predict_outputs(model: nn.Module, images: Tensor, batch_size: int = 256) -> Tensor:
    """Activated outputs (:func:`~core.detection.yolo.activate`) of ``model`` in eval mode on ``images``
    [N, 3, H, W]: a CPU float tensor [N, S, S, A, 5 + C]. The model's mode is restored."""
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        out = [activate(model(images[i: i + batch_size].to(device)).float()).cpu() for i in range(0, len(images), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out) if out else torch.empty(0)


def postprocess(output: Tensor | np.ndarray, grid: GridSpec, score_threshold: float = 0.3, nms_iou: float = 0.5
                ) -> tuple[Detections, Tensor, Detections]:
    """One scene's activated output [S, S, A, 5 + C] (tensor or array) → ``(raw, keep, kept)``.

    ``raw``: every slot whose score (p_c · largest class probability) is above ``score_threshold``,
    decoded to pixels (:func:`~core.detection.yolo.decode`); ``keep``: indices into ``raw`` that survive
    per-class non-max suppression at ``nms_iou`` (:func:`~core.detection.boxes.batched_nms`), by
    decreasing score; ``kept``: those detections.
    """
    raw = decode(output, grid, score_threshold)
    keep = batched_nms(raw.boxes, raw.scores, raw.labels, nms_iou)
    return raw, keep, raw.select(keep)


def evaluate_outputs(outputs: Tensor | np.ndarray, boxes: Sequence[Tensor | np.ndarray],
                     labels: Sequence[Tensor | np.ndarray], grid: GridSpec, score_threshold: float = 0.3,
                     nms_iou: float = 0.5, iou_threshold: float = 0.5) -> MAPResult:
    """mAP of activated outputs [N, S, S, A, 5 + C] against the scenes' ground truth (``boxes[i]`` [G_i, 4]
    xyxy, ``labels[i]`` [G_i]; tensors or arrays): :func:`postprocess` each scene, then
    :func:`~core.detection.metrics.mean_average_precision` at ``iou_threshold`` (0.5 → mAP@0.5)."""
    if len(outputs) != len(boxes) or len(boxes) != len(labels):
        raise ValueError(f"there must be one output, one box list and one label list per scene: "
                         f"got {len(outputs)}, {len(boxes)} and {len(labels)}")
    predictions = []
    for out in outputs:
        _, _, kept = postprocess(out, grid, score_threshold, nms_iou)
        predictions.append({"boxes": kept.boxes, "scores": kept.scores, "labels": kept.labels})
    truths = [{"boxes": torch.as_tensor(b), "labels": torch.as_tensor(lab)} for b, lab in zip(boxes, labels)]
    return mean_average_precision(predictions, truths, grid.n_classes, iou_threshold)


def evaluate_detector(model: nn.Module, images: Tensor, boxes: Sequence[Tensor], labels: Sequence[Tensor], grid: GridSpec,
                      score_threshold: float = 0.3, nms_iou: float = 0.5, iou_threshold: float = 0.5) -> MAPResult:
    """mAP of ``model`` on scenes ``images`` [N, 3, H, W] with their ground truth (see :func:`evaluate_outputs`)."""
    return evaluate_outputs(predict_outputs(model, images), boxes, labels, grid, score_threshold, nms_iou, iou_threshold)


def _scene_examples(images: Tensor, outputs: Tensor, boxes: Sequence[Tensor], labels: Sequence[Tensor], grid: GridSpec,
                    score_threshold: float, nms_iou: float, n: int) -> list[SceneExample]:
    return [SceneExample(i, images[i].permute(1, 2, 0).numpy().copy(), outputs[i].numpy().copy(), boxes[i].numpy().copy(),
                         labels[i].numpy().copy(), grid, score_threshold, nms_iou) for i in range(min(n, len(images)))]


def run_detector(ctx: JobContext | None, cfg: DetectorConfig, device: torch.device | None = None,
                 n_examples: int = 6) -> DetectorResult:
    """Train the shapes detector of ``cfg`` as one tracked run (a job function) and evaluate it on held-out scenes.

    Returns the :class:`DetectorResult` however the training ended: FINISHED with the held-out evaluation,
    FAILED when it diverged (the lane holds the sentence; no mAP) or KILLED after a Stop (``stopped``; no
    mAP, the weights trained so far are logged with the run).
    """
    device = device or pick_device()
    grid = cfg.grid
    if ctx is not None:
        ctx.report(0.0, "generating scenes")
    x_train, boxes_train, labels_train = make_dataset(cfg.n_train, seed=cfg.train_seed, **cfg.scene_kw())
    x_test, boxes_test, labels_test = make_dataset(cfg.n_test, seed=cfg.test_seed, **cfg.scene_kw())
    t_train = encode_targets(boxes_train, labels_train, grid)  # (N, S, S, A, 5+C)
    t_test = encode_targets(boxes_test, labels_test, grid)
    n_objects = sum(len(lab) for lab in labels_train)
    sizes = {"n_train": cfg.n_train, "n_test": cfg.n_test, "objects_train": n_objects,
             "objects_test": sum(len(lab) for lab in labels_test),
             "dropped": n_objects - int(t_train[..., 0].sum())}
    result = DetectorResult(Lane(LANE), grid, cfg.classes, cfg.score_threshold, cfg.nms_iou, sizes=sizes,
                            test_boxes=[b.numpy().copy() for b in boxes_test],
                            test_labels=[lab.numpy().copy() for lab in labels_test], device=str(device))

    seed_everything(cfg.seed)
    model = TinyYolo(grid, cfg.width).to(device, memory_format=torch.channels_last)  # NHWC: faster convs on CPU and GPU
    x_train = x_train.to(device).contiguous(memory_format=torch.channels_last)
    x_test = x_test.to(device).contiguous(memory_format=torch.channels_last)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        if ctx is not None:
            ctx.report(1.0, "evaluating on the held-out scenes")
        outputs = predict_outputs(model, x_test)
        ev = evaluate_outputs(outputs, boxes_test, labels_test, grid, cfg.score_threshold, cfg.nms_iou)
        result.test_outputs = outputs.numpy()
        result.map50 = ev.map
        result.per_class_ap = {cfg.classes[c]: ap for c, ap in ev.per_class.items()}
        result.curves = {cfg.classes[c]: curve for c, curve in ev.curves.items()}
        result.examples = _scene_examples(x_test.cpu().contiguous(), outputs, boxes_test, labels_test, grid,
                                          cfg.score_threshold, cfg.nms_iou, n_examples)
        run.log_metrics({"map50": ev.map, **{f"ap50_{name}": ap for name, ap in result.per_class_ap.items()}},
                        hist.steps_done)
        if result.examples:
            run.log_figure("detection_examples", "test_scenes", result.examples[:4], cfg.classes, grid)

    params = {**asdict(cfg), "anchors": grid.anchors, "device": str(device), **sizes}
    result.lane = train_tracked(ctx, PAGE, params, model, (x_train, t_train.to(device)), opt, name=LANE,
                                dev=(x_test, t_test.to(device)), epochs=cfg.epochs, batch_size=cfg.batch_size,
                                loss_fn=yolo_loss, measure_accuracy=False, run_name=f"{LANE} on {len(cfg.classes)} shapes",
                                device=device, seed=cfg.seed, finish=finish, figure_title=f"{LANE}: YOLO loss")
    return result


def load_tracked(run_id: str, user: User = LOCAL_USER) -> TinyYolo:
    """Rebuild a tracked detector training's :class:`~core.detection.detector.TinyYolo` (on the CPU, in eval
    mode) from the run's params and logged weights; ValueError with a plain message when it cannot be
    rebuilt (for :func:`ui.tracked.network`)."""
    params = tracking.run_params(run_id, user=user)
    try:
        classes = json.loads(params["classes"])
        grid = GridSpec(S=int(params["S"]), anchors=tuple(tuple(a) for a in json.loads(params["anchors"])),
                        n_classes=len(classes), image_size=int(params["image_size"]))
        width = int(params["width"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError("this run did not record its grid and network width") from exc
    state = tracking.saved_weights(run_id, user=user)
    model = TinyYolo(grid, width)
    model.load_state_dict(state)
    return model.eval()
