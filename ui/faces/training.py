"""The Face recognition page's training tab: choose the identities and the mining, train the
siamese embedding network as a tracked job, and watch its loss and its triplets live."""

from __future__ import annotations

import io

import streamlit as st
import torch

from core.data import DatasetUnavailable
from core.experiment import FINISHED as LANE_FINISHED
from core.faces.data import FACE_SETS
from core.faces.training import FaceConfig, FaceResult, run_faces
from core.faces.triplets import STRATEGIES
from core.jobs import FAILED, FINISHED, KILLED
from core.plots.faces import epoch_losses, triplet_fractions
from core.plots.training import lane_curves
from core.settings import default_of
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.faces.views import JOB, PAGE, current_config, network, remember, training_name

FORM_KEYS = {name: f"{PAGE}.train_{key}" for name, key in (
    ("margin", "alpha"), ("embedding_dim", "dim"), ("epochs", "epochs"), ("batch_size", "batch"), ("lr", "lr"),
    ("width", "width"), ("n_unseen", "unseen"))}


GHOST = dict(key=f"{PAGE}.ghost")  # ghost box: before training and live


def render_training() -> None:
    """The "Train a siamese network" tab."""
    st.markdown(
        "A **siamese network** is one network used twice: both images go through the same weights, and only "
        "the distance between their embeddings decides \"same\" or \"different\". Here a small convolutional "
        "network (its output scaled to length 1, as in FaceNet, so squared distances lie between 0 and 4) is "
        "trained with the triplet loss. Triplets are **mined online**: each mini-batch's embeddings decide which "
        "triplets it trains on. Some identities are kept out of training entirely; the loss on them (the orange "
        "line) and the next tab show how well the network tells apart people it has never seen."
    )
    c1, c2 = st.columns(2)
    dataset = form.field(c1, FaceConfig, "dataset", key=f"{PAGE}.dataset")
    strategy = form.field(c2, FaceConfig, "strategy", key=f"{PAGE}.strategy")
    c1.caption(FACE_SETS[dataset].description)
    c2.caption(STRATEGIES[strategy])
    if FACE_SETS[dataset].kind == "digits":
        st.info("No faces here: with this set every handwritten digit stands in for a person (all images of a 3 are "
                "one \"person\"). The network learns to tell digits apart and is tested on digits it never saw; it "
                "has never seen a face, and the page says so wherever it compares images.", icon=":material/info:")
    else:
        st.info("Real faces: scikit-learn downloads this set the first time (it is then kept on this machine). If "
                "the download is not possible the training stops with a one-sentence message; the offline digits "
                "always work.", icon=":material/face:")
    with st.form(f"{PAGE}.train_form", border=True):
        f1, f2, f3 = st.columns(3)
        values = form.fields(FaceConfig, (
            (f1, "margin"), (f1, "embedding_dim"), (f2, "epochs"), (f2, "batch_size"), (f3, "lr"), (f3, "width"),
            (f3, "n_unseen")), keys=FORM_KEYS)
        go = form.submit("Train the siamese network", JOB)
    st.caption(
        "**Things to try:** batch-hard mining from scratch with a large batch (128 or 256): every embedding "
        "collapses to nearly one point and the loss sits at α, because the hardest negatives pull everything "
        "together (FaceNet warns about this); semi-hard trains at once. An embedding size of 2, then look at the "
        "embeddings in the next tab. A margin of 0 (nothing left to push apart once negatives are just farther)."
    )
    if go:
        remember(form.start(JOB, run_faces, lambda: FaceConfig(dataset=dataset, strategy=strategy, **values,
                                                                seed=shell.global_seed()), name=training_name))
    ghost_ui.before(JOB, PAGE, **GHOST)
    jobs.panel(JOB, _train_view, every=1.5)


def _use_digits() -> None:
    st.session_state[f"{PAGE}.dataset"] = "digits"


def _train_view(snap) -> None:
    cfg = current_config()
    margin = cfg.margin if cfg else default_of(FaceConfig, "margin")
    if snap.status == FAILED and snap.error_type == DatasetUnavailable.__name__:
        if st.button("Switch to the offline digits", key=f"{PAGE}.use_digits", on_click=_use_digits,
                     icon=":material/wifi_off:"):
            st.rerun()  # the whole page, so the dataset box shows the change
        return
    steps, epochs, kinds = (snap.metrics.get(k, []) for k in ("siamese", "siamese/epochs", "triplets"))
    ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    c1, c2 = st.columns(2)
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves({"siamese": steps}, smoothing=0.8,
                                                     title="Triplet loss per step (mined triplets)"),
                                         ghost, "train_loss", smoothing=0.8), key=f"{PAGE}.train_steps")
    if epochs:
        c2.plotly_chart(ghost_ui.overlay_each(epoch_losses(epochs, margin), ghost, {
            "epoch_train_loss": ("training identities", "#1f77b4"), "dev_loss": ("unseen identities", "#ff7f0e")}),
            key=f"{PAGE}.train_epochs_plot")
    if kinds:
        c1, c2 = st.columns(2)
        c1.plotly_chart(triplet_fractions(kinds), key=f"{PAGE}.train_kinds")
        c2.markdown(
            "**Reading the triplet chart.** Early on many triplets are hard or semi-hard; as the network learns, "
            "most become easy and give no gradient. *Active* is the share of the *mined* triplets that still have a "
            "loss: mining looks for them, so it stays above the share of hard and semi-hard triplets. When even the "
            "mined triplets are easy (active near 0) these batches have nothing left to teach; compare the loss on "
            "the unseen identities, which may stay well above 0."
        )
    result: FaceResult | None = snap.result
    if result is None:
        return
    if snap.status == KILLED:
        st.caption("The stopped network is kept: the next tabs evaluate it as it is.")
    if result.lane.status == LANE_FINISHED and snap.status == FINISHED:
        _finished(result, cfg)


def _finished(result: FaceResult, cfg: FaceConfig | None) -> None:
    ev, base, lane = result.evaluation, result.untrained, result.lane
    st.info(result.trained_on, icon=":material/school:")
    if cfg is not None:
        st.caption(f"This network: {cfg.strategy} mining, α = {cfg.margin:g}, {cfg.embedding_dim}-dimensional "
                   f"embedding, {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''} of batches of {cfg.batch_size}, "
                   f"learning rate {cfg.lr:g}, {cfg.width} channels in the first convolution.")
    cols = st.columns(4)
    if ev is not None:
        cols[0].metric("ROC AUC on unseen identities", f"{ev.auc:.3f}",
                       delta=f"{ev.auc - base.auc:+.3f} vs untrained" if base is not None else None)
        cols[1].metric("Best threshold τ", f"{ev.best_tau:.3f}")
        cols[2].metric("Verification accuracy at the best τ", f"{ev.best_accuracy:.1%}")
    cols[3].metric("Seconds per epoch", f"{lane.seconds_per_epoch or 0:.2f}",
                   help=f"{result.sizes['train_images']:,} training images of {result.sizes['train_identities']} "
                        f"identities on {result.device.upper()}")
    last = lane.history.last("train_loss")
    if cfg is not None and cfg.margin > 0 and last is not None and abs(last - cfg.margin) < 0.05 * cfg.margin:
        st.warning(f"The training loss sits at α = {cfg.margin:g}: the embeddings have probably collapsed to nearly one "
                   "point. Try semi-hard mining, a smaller batch or a smaller learning rate.", icon=":material/warning:")
    try:
        net = network(result)
    except ValueError as exc:
        st.warning(f"The trained network cannot be loaded from its run: {exc}.", icon=":material/warning:")
    else:
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)
        st.download_button("Download the embedding network (.pt)", buf.getvalue(), f"siamese_{result.dataset}.pt",
                           key=f"{PAGE}.weights", help="A PyTorch state dict of core.faces.embedding.EmbeddingNet.")
    st.caption(f"Tracked as run `{lane.run_id}` in the *faces* experiment. Next: the *One-shot evaluation* tab.")
