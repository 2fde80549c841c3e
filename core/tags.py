"""The lab's run tags: one name per idea, every one under ``dll.`` (docs/tracking.md lists them; the
Runs page filters on the kind and searches the page, comparison, kind and variant). A tracked run
refuses a tag outside this vocabulary (:func:`check_tags`). Data only: imported by core.tracking and
core.runs alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TAG_PAGE = "dll.page"
TAG_OWNER = "dll.owner"
TAG_KIND = "dll.kind"
TAG_VARIANT = "dll.variant"
TAG_DATASET = "dll.dataset"
TAG_WEIGHTS = "dll.weights"
TAG_TRAINED = "dll.trained"
TAG_DEVICE = "dll.device"
TAG_PRECISION = "dll.precision"
TAG_CONTENT_IMAGE = "dll.content_image"
TAG_STYLE_IMAGE = "dll.style_image"
TAG_EPOCHS = "dll.epochs"
TAG_COMPARISON = "dll.comparison"
TAG_SUMMARY = "dll.error_analysis"
TAG_ERROR = "dll.error"
TAG_FALLBACK = "dll.fallback_from"
TAGS: dict[str, str] = {
    TAG_PAGE: "the page (and MLflow experiment) the run belongs to: basics, cnn, detection, …",
    TAG_OWNER: "who started it: the signed-in learner's e-mail, or 'local'",
    TAG_KIND: "what was trained or measured on that page: 'gan', 'char-lm', 'reconstruction', 'lr-finder', …",
    TAG_VARIANT: "which of a compared set this run is: an optimizer, a model variant, a direction",
    TAG_DATASET: "the data it learned from, where the page offers several",
    TAG_WEIGHTS: "where the network's weights started: 'imagenet' or 'random'",
    TAG_TRAINED: "what was trained of a pretrained network: 'head on cached features', 'head', 'head and body'",
    TAG_DEVICE: "the device it ran on: 'cuda' or 'cpu'",
    TAG_PRECISION: "the arithmetic: 'fp32' or 'bf16'",
    TAG_CONTENT_IMAGE: "the name of the content image (style transfer)",
    TAG_STYLE_IMAGE: "the name of the style image (style transfer)",
    TAG_EPOCHS: "epochs trained so far, for a training that pauses and goes on",
    TAG_COMPARISON: "the id shared by the runs started together to be compared",
    TAG_SUMMARY: "the learner's error-analysis tally of the run: 'category: k of n; …' (ML strategy)",
    f"{TAG_SUMMARY}.examined": "how many of the run's mistakes the learner examined",
    TAG_ERROR: "why the run failed or was stopped, in one sentence",
    TAG_FALLBACK: "the tracking store the run could not reach and fell back from",
}


def check_tags(tags: Mapping[str, Any]) -> None:
    """Refuse a tag outside the lab's vocabulary (:data:`TAGS`); MLflow's own ``mlflow.*`` pass."""
    unknown = sorted(k for k in tags if k not in TAGS and not k.startswith("mlflow."))
    if unknown:
        raise ValueError(f"unknown run tag(s) {', '.join(unknown)}: the lab's tags are {', '.join(TAGS)}")
