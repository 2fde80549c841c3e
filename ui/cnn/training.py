"""The CNNs page's training tabs: train one network (curves, confusion matrix, the
mistakes) and the plain-against-residual degradation experiment."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st
import torch

from core.cnn.data import DATASETS
from core.cnn.degradation import DegradationConfig, DegradationResult, run_degradation
from core.cnn.training import MODELS, TrainConfig, TrainResult, load_tracked, run_cnn
from core.device import pick_device
from core.experiment import FINISHED, SKIPPED, series_with_suffix
from core.lr_finder import CnnFinderJob, find_cnn_lr
from core.plots.cnn import degradation_bars, degradation_curves, enlarge
from core.plots.training import lane_curves
from core.settings import meta
from ui import export as export_ui
from ui import form, jobs, lrfinder, shell, tracked
from ui import ghost as ghost_ui
from ui.tables import confusion_with_csv, csv_button, table_with_csv

PAGE = "cnn"
TRAIN_JOB, DEGRADE_JOB = f"{PAGE}.train", f"{PAGE}.degrade"
DOWNLOADS = [k for k in DATASETS if k not in ("mnist_sample", "digits")]


# --------------------------------------------------------------------------- train one


GHOST = dict(key=f"{PAGE}.train_ghost", kind="", grouped=False)  # ghost box: before training and live


def render() -> None:
    """The "Train a CNN" tab."""
    st.markdown(
        "Train a real convolutional network on images. The offline sets are ready at once; MNIST, "
        "Fashion-MNIST and CIFAR-10 are downloaded the first time (if this machine can reach the "
        "internet). Watch the loss fall, then read the **confusion matrix** — which digits are confused "
        "with which — and look at the examples the network got most confidently wrong. **Try:** LeNet-5 "
        "against ResNet-20 on the same data; then open *Inside the network*."
    )
    gpu = pick_device().type == "cuda"
    with st.form(f"{PAGE}.train_form", border=True):
        c1, c2, c3 = st.columns(3)
        fields = {name: form.field(where, TrainConfig, name, key=f"{PAGE}.{key}", **kw) for where, name, key, kw in (
            (c1, "dataset", "train_data", {}), (c1, "model", "train_model", {}),
            (c2, "optimizer", "train_opt", {}), (c2, "lr", "train_lr", {}), (c3, "epochs", "train_epochs", {}),
            (c3, "batch_size", "train_batch", {}), (c1, "max_train", "train_limit", {}),
            (c2, "fast_path", "train_fast",
             {"help": meta(TrainConfig, "fast_path").help + ("" if gpu else " No GPU here: the CPU path is used.")}))}
        st.caption(MODELS[fields["model"]])
        go = form.submit("Train", TRAIN_JOB)
    if go:
        export_ui.remember(TRAIN_JOB, form.start(TRAIN_JOB, run_cnn, lambda: TrainConfig(**fields, seed=shell.global_seed()),
                                                 name=lambda cfg: f"{cfg.model} on {cfg.dataset}"))
    export_ui.buttons(TRAIN_JOB)
    lrfinder.block(PAGE, lr_key=f"{PAGE}.train_lr", lr_setting=meta(TrainConfig, "lr"), start=lambda job, sweep: form.start(
        job, find_cnn_lr, lambda: CnnFinderJob(TrainConfig(**fields, seed=shell.global_seed()), sweep),
        name=lambda j: f"LR finder: {j.train.model} on {j.train.dataset}"))
    ghost_ui.before(TRAIN_JOB, PAGE, **GHOST)
    jobs.panel(TRAIN_JOB, _train_view, every=1.5)  # a calmer refresh leaves the CPU to the training


def _train_view(snap) -> None:
    epochs = series_with_suffix(snap.metrics, "/epochs")
    steps = {k: v for k, v in snap.metrics.items() if "/" not in k}
    ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    c1, c2 = st.columns(2)
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves(steps, smoothing=0.8, title="Training loss per step"), ghost,
                                         "train_loss", smoothing=0.8), key=f"{PAGE}.train_loss")
    if epochs:
        c2.plotly_chart(ghost_ui.overlay(lane_curves(epochs, x="epoch", y="dev_accuracy",
                                                     title="Dev accuracy after each epoch"), ghost, "dev_accuracy"),
                        key=f"{PAGE}.train_acc")
    result: TrainResult | None = snap.result
    if result is None or result.lane.status != FINISHED:
        return
    _train_results(result)


def _train_results(result: TrainResult) -> None:
    lane, spec = result.lane, result.spec
    m = lane.measures
    cols = st.columns(4)
    cols[0].metric("Dev accuracy", f"{m.get('final_dev_accuracy', 0):.2%}")
    cols[1].metric("Train accuracy", f"{m.get('final_train_accuracy', 0):.2%}")
    cols[2].metric("Seconds per epoch", f"{lane.seconds_per_epoch or 0:.2f}")
    cols[3].metric("Trained on", result.device.upper(), help=f"{result.sizes['train']:,} training and "
                   f"{result.sizes['dev']:,} dev images of {spec.channels}×{spec.size}×{spec.size}")
    left, right = st.columns([1, 1])
    with left:
        confusion_with_csv(result.confusion, spec.classes, PAGE)
    with right:
        st.markdown("**The mistakes it was surest of** (true → predicted, confidence)")
        if not result.mistakes:
            st.success("No dev image was misclassified.")
        else:
            shown = result.mistakes[:16]
            imgs = [enlarge(im, 72) for im in result.mistake_images[: len(shown)]]
            caps = [f"{spec.classes[r['true']]} → {spec.classes[r['predicted']]} ({r['confidence']:.0%})" for r in shown]
            st.image(imgs, caption=caps, width=72)
            table = pd.DataFrame([{"dev index": r["index"], "true": spec.classes[r["true"]],
                                   "predicted": spec.classes[r["predicted"]], "confidence": r["confidence"],
                                   "p(true class)": r["p_true"]} for r in result.mistakes])
            csv_button(st, "Download the mistakes (CSV)", table, "misclassified.csv", f"{PAGE}.mistakes_csv")
    loaded = tracked.network_or_none(load_tracked, lane.run_id, "The trained network")
    if loaded is not None:
        model, _ = loaded
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        st.download_button("Download the trained weights (.pt)", buf.getvalue(),
                           f"{lane.name.lower()}_{spec.dataset}.pt", key=f"{PAGE}.weights",
                           help="A PyTorch state dict; load it with torch.load(..., weights_only=True).")
    st.caption(f"Tracked as run `{lane.run_id}` in the *cnn* experiment. The Inside tab looks into this network.")


# --------------------------------------------------------------------------- degradation


def render_degradation() -> None:
    """The "Plain vs residual" tab."""
    st.markdown(
        "Adding layers should never hurt on the *training* set: a deeper network could copy the shallow one "
        "and make its extra layers the identity. Yet He et al. (2016) found that deeper **plain** networks "
        "reach a *higher training error* than shallower ones — an optimisation problem, not overfitting. "
        "Residual blocks compute x + F(x), so an extra block only has to learn F = 0 to do no harm. Here four "
        "networks that differ only in depth and in their skip connections are trained on the same images "
        "from the same starting weights. **Look for:** the dashed deep line (plain) staying above the dashed "
        "shallow one, while the solid residual lines do not. **Try:** a larger gap in depth, or more epochs."
    )
    with st.form(f"{PAGE}.deg_form", border=True):
        c1, c2, c3, c4 = st.columns(4)
        fields = {name: form.field(where, DegradationConfig, name, key=f"{PAGE}.{key}", **kw) for where, name, key, kw in (
            (c1, "shallow", "deg_shallow", {}), (c1, "deep", "deg_deep", {}),
            (c2, "dataset", "deg_data", {}), (c2, "n_train", "deg_n", {}),
            (c3, "width", "deg_width", {}), (c3, "image_size", "deg_size", {}), (c4, "epochs", "deg_epochs", {}),
            (c4, "lr", "deg_lr", {}))}
        go = form.submit("Train the four networks", DEGRADE_JOB)
    if go:
        form.start(DEGRADE_JOB, run_degradation, lambda: DegradationConfig(**fields, seed=shell.global_seed()),
                   name="plain vs residual")
    jobs.panel(DEGRADE_JOB, _degradation_view, every=1.5)


def _degradation_view(snap) -> None:
    epochs = series_with_suffix(snap.metrics, "/epochs")
    result: DegradationResult | None = snap.result
    depth = result.depth if result else {k: int(k.split("-")[1]) for k in epochs}
    plain = result.plain if result else {k: k.startswith("plain") for k in epochs}
    if epochs:
        st.plotly_chart(degradation_curves(epochs, depth, plain), key=f"{PAGE}.deg_curves")
    lanes = [] if result is None else [lane for lane in result.lanes if lane.status != SKIPPED]
    if not lanes:
        return
    errors = {lane.name: result.train_error(lane.name) for lane in lanes}
    st.plotly_chart(degradation_bars(errors, depth, plain), key=f"{PAGE}.deg_bars")
    rows = [{"network": lane.name, "layers": depth[lane.name], "skip connections": "no" if plain[lane.name] else "yes",
             "status": lane.status, "train error": errors[lane.name],
             "dev error": None if lane.dev_accuracy is None else 1 - lane.dev_accuracy,
             "seconds per epoch": lane.seconds_per_epoch, "run": lane.run_id} for lane in lanes]
    percent = st.column_config.NumberColumn(format="percent")
    table_with_csv(pd.DataFrame(rows), "Download the results (CSV)", "plain_vs_residual.csv", f"{PAGE}.deg_csv",
                   column_config={"train error": percent, "dev error": percent,
                                  "seconds per epoch": st.column_config.NumberColumn(format="%.2f")},
                   caption=_verdict(errors, depth, plain) + f" Comparison tag: `{result.comparison}`.")


def _verdict(errors: dict[str, float | None], depth: dict[str, int], plain: dict[str, bool]) -> str:
    """One sentence on what this run showed (it does not always show degradation)."""
    by = {(depth[n], plain[n]): e for n, e in errors.items() if e is not None}
    ds = sorted({d for d, _ in by})
    if len(ds) < 2 or any((d, p) not in by for d in ds for p in (True, False)):
        return "Not all four networks finished."
    lo, hi = ds
    plain_gap = by[(hi, True)] - by[(lo, True)]
    res_gap = by[(hi, False)] - by[(lo, False)]
    if plain_gap > 0.005 and res_gap < plain_gap:
        return (f"Degradation seen: the {hi}-layer plain network ends {plain_gap:.1%} worse on its own training set "
                f"than the {lo}-layer one, while the residual pair differs by {res_gap:+.1%}.")
    return (f"This time the deeper plain network was not worse on the training set ({plain_gap:+.1%}); "
            "degradation shows more clearly with a bigger depth gap or more epochs.")
