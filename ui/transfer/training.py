"""The Transfer learning page's second tab: train the pretrained network and the same one from scratch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data.augment import AugmentSpec
from core.device import pick_device
from core.experiment import FINISHED, Lane, series_with_suffix
from core.lr_finder import LrFinderConfig, TransferFinderJob, find_transfer_lr
from core.plots.training import epoch_bars, lane_curves
from core.settings import default_of, meta
from core.transfer import backbones as B
from core.transfer.data import check_classes
from core.transfer.training import METHODS, SCRATCH, TransferConfig, TransferJob, TransferResult, run_transfer
from ui import form, jobs, lrfinder, shell
from ui import ghost as ghost_ui
from ui.tables import confusion_with_csv, table_with_csv
from ui.transfer import classes as class_tab

PAGE = "transfer"
JOB = f"{PAGE}.train"
FAILED = f"{PAGE}.weights_failed"  # {backbone: the one sentence saying why its weights are missing}
AUGMENT_KEYS = {"flip": "flip", "crop": "crop", "rotate": "rotate", "colour": "color"}  # the page's order and widget keys
SCRATCH_COLOR, PRETRAINED_COLOR = "#7f7f7f", "#4C78A8"


GHOST = dict(key=f"{PAGE}.ghost", kind="", grouped=True)  # ghost box: before training and live


def _colors(lanes) -> dict[str, str]:
    """Grey for the network from scratch, blue for the pretrained one, in every chart."""
    return {n: SCRATCH_COLOR if n == SCRATCH else PRETRAINED_COLOR for n in lanes}


@st.cache_resource(show_spinner=False, max_entries=8)
def _weights_ready(name: str, path: str) -> bool:
    """Download the backbone's ImageNet weights into the torch hub cache if needed and check that they
    hold the backbone, once per process (``path`` keys the cache on TORCH_HOME); the training job reads
    them from there itself."""
    B.load_state(name)
    return True


def weights(name: str) -> bool:
    """True when the ImageNet weights are here (downloaded first if needed); else False, with the reason remembered."""
    try:
        with st.spinner(f"Loading the ImageNet weights of {name}…"):
            _weights_ready(name, str(B.pretrained.hub_path(B.spec(name).url)))
    except B.WeightsUnavailable as exc:
        st.session_state.setdefault(FAILED, {})[name] = str(exc)
        return False
    st.session_state.get(FAILED, {}).pop(name, None)
    return True


def result() -> TransferResult | None:
    res = st.session_state.get(f"{JOB}.result")
    return res if isinstance(res, TransferResult) else None


def render() -> None:
    st.markdown(
        "A network trained on ImageNet's 1.2 million photos already knows edges, textures and object parts. "
        "**Feature extraction** keeps all of that frozen and trains only a new last layer for your classes; "
        "**fine-tuning** lets the last few blocks adapt too, at a tenth of the learning rate. The same network "
        "trained **from scratch** on your few pictures is the comparison: it shows what the pretrained weights "
        "are worth. **Try:** feature extraction first; then fine-tune 1–2 blocks with augmentation on, and "
        "compare the dev accuracy and the seconds per epoch."
    )
    gpu = pick_device().type == "cuda"
    name = form.field(st, TransferConfig, "backbone", key=f"{PAGE}.backbone")
    spec = B.spec(name)
    failed = st.session_state.get(FAILED, {}).get(name)
    cached = B.weights_cached(name)
    st.caption(f"{spec.parameters_m:.1f} M parameters; {spec.imagenet_top1:.1f} % top-1 on ImageNet (as published by "
               f"torchvision); {spec.size_mb:.0f} MB of weights, "
               + ("on this machine already." if cached else "downloaded once into the torch cache when you train."))
    if failed:
        st.warning(failed, icon=":material/cloud_off:")
        if st.button("Try the download again", icon=":material/download:", key=f"{PAGE}.retry"):
            st.session_state[FAILED].pop(name, None)
            st.rerun()
    n_blocks = len(B.block_names(name))
    cfg = TransferConfig
    with st.form(f"{PAGE}.train_form", border=True):
        c1, c2, c3 = st.columns(3)
        method = form.field(c1, cfg, "method", key=f"{PAGE}.method", captions=list(METHODS.values()),
                            disabled=bool(failed))
        # the range depends on the backbone: 1 to its number of blocks
        blocks = c1.slider(meta(cfg, "fine_tune_blocks").label, int(meta(cfg, "fine_tune_blocks").lo), n_blocks,
                           default_of(cfg, "fine_tune_blocks"), key=f"{PAGE}.blocks.{name}",
                           help=f"{name} has {n_blocks} blocks: {', '.join(B.block_names(name))}. Used with fine-tuning.")
        scratch = form.field(c1, cfg, "from_scratch", key=f"{PAGE}.scratch", disabled=bool(failed))
        size = form.field(c2, cfg, "image_size", key=f"{PAGE}.size", value=224 if gpu else None)
        epochs = form.field(c2, cfg, "epochs", key=f"{PAGE}.epochs")
        lr = form.field(c2, cfg, "lr", key=f"{PAGE}.lr")
        batch = form.field(c3, cfg, "batch_size", key=f"{PAGE}.batch")
        st.caption("Augmentation — each picture is changed at random at every step, so the network sees more variety. "
                   "Without it, a frozen network's features are computed once and only the last layer trains: "
                   "much faster.")
        augment = AugmentSpec(**{t: form.field(col, AugmentSpec, t, key=f"{PAGE}.aug_{key}")
                                 for col, (t, key) in zip(st.columns(4), AUGMENT_KEYS.items(), strict=True)})
        dev = form.field(c3, cfg, "dev_fraction", key=f"{PAGE}.dev")
        go = form.submit("Train", JOB)
    if go:
        _start(name, method, blocks, scratch, size, epochs, lr, batch, dev, augment)
    lrfinder.block(PAGE, lr_key=f"{PAGE}.lr", lr_setting=meta(cfg, "lr"), start=lambda job, sweep: _start(
        name, method, blocks, scratch, size, epochs, lr, batch, dev, augment, job=job, sweep=sweep))
    ghost_ui.before(JOB, PAGE, **GHOST)
    jobs.panel(JOB, _view, every=1.5)


def _start(name, method, blocks, scratch, size, epochs, lr, batch, dev, augment, *, job: str = JOB,
           sweep: LrFinderConfig | None = None) -> None:
    """Start the training (or, with ``sweep``, the learning-rate finder on the same set-up) as ``job``."""
    classes = class_tab.class_set()
    problems = check_classes(classes)
    if problems:
        st.error("The classes are not ready: " + " ".join(problems) + " Fix them in the first tab.")
        return
    pretrained = not st.session_state.get(FAILED, {}).get(name) and weights(name)
    if not pretrained:
        st.warning(st.session_state[FAILED][name] + " This training runs from scratch only.", icon=":material/cloud_off:")

    def build() -> TransferJob | TransferFinderJob:  # the job gets its own copy of the pictures, as plain arrays
        cfg = TransferConfig(backbone=name, method=method, fine_tune_blocks=blocks, pretrained=pretrained,
                             from_scratch=scratch or not pretrained, image_size=size, epochs=epochs, lr=lr,
                             batch_size=batch, dev_fraction=dev, augment=augment, seed=shell.global_seed())
        return TransferJob.of(cfg, classes) if sweep is None else TransferFinderJob(TransferJob.of(cfg, classes), sweep)

    form.start(job, run_transfer if sweep is None else find_transfer_lr, build,
               name=("" if sweep is None else "LR finder: ") + f"{name}, {method if pretrained else 'from scratch'}")


def _view(snap) -> None:
    res: TransferResult | None = snap.result if isinstance(snap.result, TransferResult) else None
    steps = {k: v for k, v in snap.metrics.items() if "/" not in k}
    epochs = series_with_suffix(snap.metrics, "/epochs")
    ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    c1, c2 = st.columns(2)
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves(steps, smoothing=0.6, title="Training loss per step",
                                                     colors=_colors(steps)), ghost, "train_loss", smoothing=0.6,
                                         colors=_colors(steps), group=True), key=f"{PAGE}.loss")
    if epochs:
        c2.plotly_chart(ghost_ui.overlay(lane_curves(epochs, x="epoch", y="dev_accuracy",
                                                     title="Dev accuracy after each epoch", colors=_colors(epochs)),
                                         ghost, "dev_accuracy", colors=_colors(epochs), group=True), key=f"{PAGE}.acc")
    if res is None or not res.lanes:
        return
    _results(res)


def _results(res: TransferResult) -> None:
    rows = []
    for name, lane in res.lanes.items():
        rows.append({"network": name, "status": lane.status, "dev accuracy": lane.dev_accuracy,
                     "train accuracy": lane.measures.get("final_train_accuracy"),
                     "seconds per epoch": lane.seconds_per_epoch, "parameters trained": lane.outputs["trainable"],
                     "run": lane.run_id})
    done = {n: lane for n, lane in res.lanes.items() if lane.status == FINISHED}
    if done:
        st.plotly_chart(epoch_bars({n: lane.dev_accuracy for n, lane in done.items()},
                                   title=f"Dev accuracy on {res.sizes['dev']} held-out pictures", colors=_colors(done)),
                        key=f"{PAGE}.bars")
    percent = st.column_config.NumberColumn(format="percent")
    table_with_csv(pd.DataFrame(rows), "Download the comparison (CSV)", "transfer_comparison.csv", f"{PAGE}.csv",
                   column_config={"dev accuracy": percent, "train accuracy": percent,
                                  "seconds per epoch": st.column_config.NumberColumn(format="%.3f"),
                                  "parameters trained": st.column_config.NumberColumn(format="localized")},
                   caption=_verdict(res) + f" Trained on {res.device.upper()}, {res.sizes['train']} training and "
                           f"{res.sizes['dev']} dev pictures; comparison tag `{res.comparison}`.")
    if not done:
        return
    pick = st.radio("Confusion matrix of", list(done), horizontal=True, key=f"{PAGE}.cm_lane")
    chosen = done.get(pick) or next(iter(done.values()))
    left, right = st.columns(2)
    with left:
        confusion_with_csv(chosen.outputs["confusion"], res.names, PAGE)
    with right:
        _dev_examples(res, chosen)


def _dev_examples(res: TransferResult, chosen: Lane) -> None:
    """The dev pictures with what the network said, mistakes first."""
    probs = chosen.outputs["dev_probabilities"]
    if probs is None or not len(probs):
        return
    predicted = probs.argmax(1)
    order = np.argsort((predicted == res.dev_labels).astype(int) * 2 - probs.max(1), kind="stable")[:20]
    images = [res.dev_pictures[i] for i in order]
    captions = [f"{'✓' if predicted[i] == res.dev_labels[i] else '✗'} {res.names[predicted[i]]} {probs[i].max():.0%}"
                for i in order]
    wrong = int((predicted != res.dev_labels).sum())
    st.markdown(f"**Dev pictures** — {wrong} mistake{'s' if wrong != 1 else ''} shown first (prediction, confidence)")
    st.image(images, caption=captions, width=96)


def _verdict(res: TransferResult) -> str:
    lanes = {n: lane for n, lane in res.lanes.items() if lane.status == FINISHED}
    pre = next((lane for n, lane in lanes.items() if n != SCRATCH), None)
    scratch = lanes.get(SCRATCH)
    if pre is None or scratch is None or pre.dev_accuracy is None or scratch.dev_accuracy is None:
        return "Train both networks to compare them."
    gap = pre.dev_accuracy - scratch.dev_accuracy
    if gap > 0.02:
        return f"The pretrained network is {gap:.0%} more accurate on the dev set than the same network from scratch."
    if gap < -0.02:
        return (f"This time the network from scratch did {-gap:.0%} better — with few epochs, or pictures unlike "
                "ImageNet's photos, that happens; try fine-tuning.")
    return "Both reach about the same dev accuracy here."
