"""The GANs and VAEs page's "GAN on digits" tab: pick a GAN (MLP, DCGAN or conditional), its loss and
k, train it as a tracked job, and watch the two losses, what D says, and the samples of a fixed
noise batch epoch by epoch; then browse that timeline, the class coverage and the Fréchet distance. The
job hands back plain data; the conditional GAN's class picker loads the trained generator from the
run's logged weights."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st
import torch
from PIL import Image

from core.artifacts import image_grid, png_bytes
from core.data import DatasetUnavailable
from core.generative.gan import DEFAULT_EPOCHS, SAMPLE_TILES, GanConfig, GanResult, load_generator, run_gan
from core.generative.gan import PAGE as TRACKED  # the runs' experiment: ghosts are read from it
from core.generative.losses import GAN_LOSSES
from core.generative.nets import generate, noise, to_pixels
from core.jobs import FAILED, KILLED
from core.plots.gan import FAKE, REAL, class_coverage_bars, d_output_curves, fd_curve, gan_loss_curves
from ui import form, jobs, shell, tracked
from ui import ghost as ghost_ui
from ui.generative.toy import D_OUTPUTS
from ui.tables import csv_button

PAGE = "generative.gan"
JOB = PAGE
# the form's settings: (GanConfig field, column, widget key); the epochs remember a value per model
FIELDS = (("loss", 0, "loss"), ("k", 0, "k"), ("epochs", 1, "epochs.{model}"), ("batch_size", 1, "batch"),
          ("z_dim", 1, "z"), ("lr_g", 2, "lr_g"), ("lr_d", 2, "lr_d"), ("width", 2, "width"))


GHOST = dict(key=f"{PAGE}.gan_ghost", kind="gan")  # ghost box: before training and live


def _tiles(samples: np.ndarray, cols: int | None = None) -> np.ndarray:
    """Grey uint8 samples as one uint8 picture, tiled as the run logs them: [rows, cols, H, W] row by row,
    or [n, H, W] ``cols`` (default ⌈√n⌉) a row."""
    if samples.ndim == 4:
        samples, cols = samples.reshape(-1, *samples.shape[2:]), samples.shape[1]
    cols = cols or math.ceil(math.sqrt(len(samples)))
    return (image_grid(samples / 255, cols, **SAMPLE_TILES) * 255).round().astype(np.uint8)


def _big(grid: np.ndarray, scale: int = 2) -> np.ndarray:
    """A grey grid enlarged without blurring (nearest neighbour)."""
    return np.asarray(Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST))


def render() -> None:
    st.markdown(
        "Two networks play a game. The **generator** G turns a random vector z into an image; the **discriminator** "
        "D gives each image the probability that it is real. D is trained to raise V(D, G) = E[log D(x)] + "
        "E[log(1 − D(G(z)))] (spot the fakes), G to lower it (fool D). Here the two take turns: *k* steps of D, then "
        "one of G. Written exactly as in the course, G minimises log(1 − D(G(z))) (**minimax**); in practice G "
        "usually maximises log D(G(z)) instead (**non-saturating**): same goal, but a strong gradient when D "
        "easily rejects G's images, which is exactly the start of training."
    )
    st.caption(
        "**Things to try:** the default DCGAN (digits appear within a few epochs); the MLP GAN (slower, noisier); the "
        "conditional GAN, then ask it for one digit; the minimax loss, and compare how fast G gets going (its gradient is "
        "weakest exactly when D(G(z)) is near 0); k = 5 (a stronger D); learning rates of 0.01. Watch the class "
        "coverage: a GAN that makes only a few kinds of digit has collapsed. Training goes well while D(x) and D(G(z)) "
        "stay apart but neither sticks at 0 or 1."
    )
    c1, c2 = st.columns(2)
    model = form.field(c1, GanConfig, "model", key=f"{PAGE}.model")
    dataset = form.field(c2, GanConfig, "dataset", key=f"{PAGE}.dataset")
    with st.form(f"{PAGE}.form", border=True):
        cols = st.columns(3)
        extra = {"loss": {"captions": list(GAN_LOSSES.values())},
                 "epochs": {"value": DEFAULT_EPOCHS[model],
                            "help": f"Default for this model: {DEFAULT_EPOCHS[model]} (recognisable digits in about a "
                                    "minute on a 2-core CPU with the MNIST sample)."}}
        values = {name: form.field(cols[col], GanConfig, name, key=f"{PAGE}.{key.format(model=model)}",
                                   **extra.get(name, {})) for name, col, key in FIELDS}
        go = form.submit("Train the GAN", JOB)
    if go:
        # settings the form does not offer (max_train, eval_samples, n_timeline): tests set them as overrides
        cfg = form.start(JOB, run_gan, lambda: GanConfig(model=model, dataset=dataset, **values, seed=shell.global_seed(),
                                                         **st.session_state.get(f"{PAGE}.overrides", {})),
                         name=lambda c: f"GAN: {c.model} on {c.dataset}")
        if cfg is not None:
            st.session_state[f"{PAGE}.cfg"] = cfg
    ghost_ui.before(JOB, TRACKED, **GHOST)
    jobs.panel(JOB, _view, every=1.5)


def _use_sample() -> None:
    st.session_state[f"{PAGE}.dataset"] = "mnist_sample"


def _view(snap) -> None:
    if snap.status == FAILED and snap.error_type == DatasetUnavailable.__name__:
        st.button("Switch to the offline MNIST sample", key=f"{PAGE}.use_sample", on_click=_use_sample,
                  icon=":material/wifi_off:")
        return
    result: GanResult | None = snap.result
    rows = result.rows if result is not None else snap.metrics.get("gan", [])
    epochs = result.epochs if result is not None else snap.metrics.get("gan/epochs", [])
    if rows:
        ghost = ghost_ui.pick(TRACKED, since=snap.created, **GHOST)
        losses = gan_loss_curves(rows)
        for metric, label, color in (("d_loss", "D loss", REAL), ("g_loss", "G loss", FAKE)):
            ghost_ui.overlay(losses, ghost, metric, label=label, color=color, smoothing=0.6)
        c1, c2 = st.columns(2)
        c1.plotly_chart(losses, key=f"{PAGE}.losses")
        c2.plotly_chart(ghost_ui.overlay_each(d_output_curves(rows), ghost, D_OUTPUTS, smoothing=0.6),
                        key=f"{PAGE}.d_outputs")
    if result is None:
        latest = snap.images.get("samples")
        if latest is not None:
            c1, c2 = st.columns([1, 1])
            c1.image(_big(_tiles(latest)), caption=f"Samples of the fixed noise batch after epoch {len(epochs)}",
                     width="content")
            if any("fd" in r for r in epochs):
                c2.plotly_chart(fd_curve(epochs), key=f"{PAGE}.fd_live")
        return
    if snap.status == KILLED:
        st.caption("Stopped: the samples of the epochs done so far are kept below (the run is tracked as KILLED).")
    if result.diverged and result.timeline:  # the job panel says what diverged and that the run is tracked as FAILED
        st.caption("The epochs done before it diverged are kept below.")
    if result.timeline:
        _timeline(result)
    if epochs and any("fd" in r for r in epochs):
        _measures(result)
    if result.n_classes and result.has_generator:
        _conditional(result)
    if rows:
        csv_button(st, "Download the curves (CSV)", pd.DataFrame(rows), f"gan_{result.config.model}_curves.csv",
                   key=f"{PAGE}.csv", icon=":material/download:")
    if result.run_id:
        st.caption(f"Tracked as run `{result.run_id}` in the *generative* experiment, with every epoch's samples as "
                   "images. Compare runs on the Runs page.")


def _timeline(result: GanResult) -> None:
    st.subheader("The fixed noise batch, epoch by epoch")
    n = len(result.timeline)
    epoch = st.slider("Epoch", 1, n, n, key=f"{PAGE}.epoch") if n > 1 else 1
    grid = _tiles(result.timeline[epoch - 1])
    c1, c2 = st.columns(2)
    what = "one row per label" if result.n_classes else "the same z every epoch"
    c1.image(_big(grid), caption=f"G(z) after epoch {epoch} ({what})", width="content")
    c2.image(_big(_tiles(result.real)), caption="Real training images", width="content")
    c1.download_button("Download this grid (PNG)", png_bytes(grid), f"gan_samples_epoch_{epoch:03d}.png", "image/png",
                       key=f"{PAGE}.grid_png", icon=":material/download:")


def _measures(result: GanResult) -> None:
    last = [r for r in result.epochs if "fd" in r][-1]
    first = [r for r in result.epochs if "fd" in r][0]
    st.subheader("How good and how varied")
    cols = st.columns(4)
    cols[0].metric("Fréchet distance (last epoch)", f"{last['fd']:.1f}", delta=f"{last['fd'] - first['fd']:+.1f} since epoch 1",
                   delta_color="inverse")
    cols[1].metric("Classes covered", f"{int(last['classes_covered'])} of {len(result.classes)}",
                   help="Classes that at least 2 % of 1,000 samples are classified as.")
    cols[2].metric("Entropy of the classes", f"{last['entropy_bits']:.2f} bits",
                   help=f"log2({len(result.classes)}) = {np.log2(len(result.classes)):.2f} bits when every class is equally common.")
    if result.classifier_accuracy is not None:
        cols[3].metric("Classifier accuracy (real dev images)", f"{result.classifier_accuracy:.1%}")
    c1, c2 = st.columns(2)
    c1.plotly_chart(class_coverage_bars(result.coverage, result.classes, entropy_bits=last["entropy_bits"]),
                    key=f"{PAGE}.coverage")
    c2.plotly_chart(fd_curve(result.epochs), key=f"{PAGE}.fd")
    st.caption(
        "A small CNN trained on the real digits judges 1,000 samples after every epoch. Its predictions give the class "
        "histogram (a collapsed GAN makes few classes); its last hidden layer gives features, and the **Fréchet "
        "distance** compares the Gaussians fitted to real and generated features: FD = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − "
        "2(Σ_r Σ_g)^½). It is the FID idea with a digit classifier instead of Inception, so compare it only between "
        "runs on the same images."
    )


def _conditional(result: GanResult) -> None:
    st.subheader("Ask the conditional GAN for one class")
    G = tracked.network_or_none(load_generator, result.run_id, "The trained generator")
    if G is None:
        return
    label = st.segmented_control("Class", list(range(len(result.classes))), default=3, key=f"{PAGE}.label",
                                 format_func=lambda i: result.classes[i]) or 0
    z = noise(32, G.z_dim, torch.Generator().manual_seed(shell.global_seed() + 7))
    grid = _tiles(to_pixels(generate(G, z, torch.full((32,), int(label)))), cols=8)
    st.image(_big(grid), caption=f"32 samples for class {result.classes[int(label)]} (different z, same label)",
             width="content")
