"""The CNNs page's "Inside the network" tab: a trained network's first-layer filters, the
feature maps of every convolution for one image, and its class probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import tracking
from core.artifacts import image_grid, png_bytes
from core.cnn.data import InputSpec, image_to_input, prepare_images
from core.cnn.inside import filter_images, first_filters, look
from core.cnn.training import TrainConfig, TrainResult, load_tracked, run_cnn
from core.data import DatasetUnavailable
from core.experiment import FINISHED
from core.identity import User
from core.plots.cnn import enlarge, probability_bars, scaled_maps
from ui import form, jobs, shell, tracked
from ui.auth import current_user
from ui.cnn.training import TRAIN_JOB
from ui.upload import image_input

PAGE = "cnn"
THIS_SESSION = "The network trained in this session"


@st.cache_data(ttl=60, show_spinner=False, max_entries=8)
def _tracked_runs(uri: str, trainings: tuple[str, ...], user: User) -> pd.DataFrame:
    """Finished CNN trainings in the store at ``uri`` that saved their input description
    (newest first); ``trainings`` (the app's ended training jobs) renews the list."""
    try:
        runs = tracking.search_runs([tracking.experiment_id(PAGE)], "attributes.status = 'FINISHED'", max_results=200,
                                     user=user)
    except Exception:  # noqa: BLE001 - an unreachable store just offers no tracked runs
        return pd.DataFrame()
    if runs.empty or "params.input.mean" not in runs:
        return pd.DataFrame()
    return runs[runs["params.input.mean"].notna()]


@st.cache_data(max_entries=4, show_spinner=False)
def _dev_examples(dataset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to 200 dev images of ``dataset`` in [0, 1] ([N, C, S, S]) and their labels."""
    data = prepare_images(dataset, max_dev=200, seed=seed)
    return data.spec.denormalize(data.dev[0]).numpy(), data.dev[1].numpy()


def _pick_network():
    """The network to look into: this session's training or a tracked run; None if neither."""
    trained: TrainResult | None = st.session_state.get(f"{TRAIN_JOB}.result")
    trained = trained if trained is not None and trained.lane.status == FINISHED and trained.lane.run_id else None
    ended = tuple(j.id for j in jobs.runner().jobs(TRAIN_JOB, user=current_user()) if j.done)  # a training that ended renews the list
    runs = _tracked_runs(tracking.tracking_uri(), ended, current_user())
    options = ([THIS_SESSION] if trained else []) + ([] if runs.empty else list(runs["run_id"]))
    if not options:
        st.info("There is no trained network yet. Train one in the *Train a CNN* tab, or start a quick one here.",
                icon=":material/info:")
        if st.button("Train LeNet-5 on the MNIST sample now (a few seconds)", key=f"{PAGE}.inside_quick",
                     disabled=jobs.is_active(TRAIN_JOB), type="primary"):
            form.start(TRAIN_JOB, run_cnn, lambda: TrainConfig(seed=shell.global_seed()), name="LeNet-5 on mnist_sample")
            st.rerun()
        if jobs.is_active(TRAIN_JOB):
            st.caption("Training… this tab fills in when it is done (see the Train a CNN tab for the curves).")
        return None

    def label(option: str) -> str:
        if option == THIS_SESSION:
            return f"{THIS_SESSION}: {trained.lane.name} on {trained.spec.dataset}"
        row = runs[runs["run_id"] == option].iloc[0]
        acc = row.get("metrics.final_dev_accuracy")
        acc = f" · dev {acc:.1%}" if acc is not None and not pd.isna(acc) else ""
        return f"Tracked run: {row['run_name']}{acc} · {row['start_time']:%Y-%m-%d %H:%M} UTC"

    job_id = st.session_state.get(f"{TRAIN_JOB}.job")
    if trained and st.session_state.get(f"{PAGE}.inside_seen") != job_id:  # a new training: show it
        st.session_state[f"{PAGE}.inside_seen"] = job_id
        st.session_state[f"{PAGE}.inside_net"] = THIS_SESSION
    choice = st.selectbox("Network to look into", options, format_func=label, key=f"{PAGE}.inside_net")
    run_id = trained.lane.run_id if choice == THIS_SESSION else choice
    return tracked.network_or_none(load_tracked, run_id, "This run's network")


def render() -> None:
    st.markdown(
        "What did the network learn? The **first-layer filters** are small images the network slides over its "
        "input; trained on digits they become stroke and edge detectors. Every convolution then produces "
        "**feature maps**: bright where its filter found its pattern. Early maps still look like the digit; deeper "
        "ones are smaller and more abstract. **Try:** draw a digit, or a deliberately ambiguous one (a 4 that "
        "could be a 9) and watch the probabilities."
    )
    picked = _pick_network()
    if picked is None:
        return
    model, spec = picked
    model.eval()
    _filters(model)
    st.divider()
    x, seen, title = _choose_image(spec)
    if x is None:
        return
    with torch.no_grad():
        seen_by = look(model, x)
    c1, c2 = st.columns([1, 3])
    c1.image(enlarge(seen, 168), caption=f"What the network sees ({spec.size}×{spec.size})")
    top = int(seen_by.probabilities.argmax())
    c2.plotly_chart(probability_bars(seen_by.probabilities, spec.classes,
                                     title=f"{title}: the network says {spec.classes[top]} "
                                           f"({seen_by.probabilities[top]:.0%})"), key=f"{PAGE}.inside_probs")
    _feature_maps(seen_by.maps)


def _filters(model) -> None:
    w = first_filters(model)
    imgs = filter_images(w)
    st.markdown(f"**First-layer filters** — {w.shape[0]} filters of {w.shape[2]}×{w.shape[3]} over {w.shape[1]} "
                "channel(s); red = positive weight, blue = negative, white ≈ 0")
    tiles = [enlarge(im, 56, cmap="RdBu_r", signed=False) if im.ndim == 2 else enlarge(im, 56)
             for im in ((imgs + 1) / 2 if imgs.ndim == 3 else imgs)]
    st.image(tiles[:64], width=56)


def _choose_image(spec: InputSpec):
    """(network input [1, C, S, S], what it shows, a title) for a dev example or the
    learner's own image; (None, None, None) while there is nothing to show."""
    source = st.radio("Image to look at", ["A dev-set example", "Your own image"], horizontal=True,
                      key=f"{PAGE}.inside_source")
    if source == "A dev-set example":
        try:
            images, labels = _dev_examples(spec.dataset, shell.global_seed())
        except DatasetUnavailable as exc:
            st.warning(f"{exc} Choose *Your own image* instead.")
            return None, None, None
        i = st.slider("Dev example", 0, len(labels) - 1, 0, key=f"{PAGE}.inside_index")
        x = torch.from_numpy(images[i: i + 1])
        if x.shape[-1] != spec.size:
            x = torch.nn.functional.interpolate(x, size=(spec.size, spec.size), mode="bilinear", align_corners=False)
        seen = x[0, 0].numpy() if spec.channels == 1 else x[0].permute(1, 2, 0).numpy()
        return spec.normalize(x), seen, f"A {spec.classes[labels[i]]}"
    hint = " Digits are turned light-on-dark, cropped and centred like the training images." if spec.strokes else ""
    st.caption(f"Draw, upload or pick a photo.{hint}")
    picked = image_input(f"{PAGE}.inside", label="Image to classify", draw=True)
    if picked is None:
        return None, None, None
    x, seen = image_to_input(picked.image, spec)
    return x, seen, "Your image"


def _feature_maps(maps: list[tuple[str, np.ndarray]]) -> None:
    names = [f"{i + 1}. {name} ({m.shape[0]}×{m.shape[1]}×{m.shape[2]})" for i, (name, m) in enumerate(maps)]
    st.markdown(f"**Feature maps** — the network has {len(maps)} convolution(s); pick one (bright = strong response)")
    k = st.selectbox("Convolution layer", range(len(maps)), format_func=names.__getitem__, key=f"{PAGE}.inside_layer")
    _, m = maps[k]
    shown = scaled_maps(m[:48])
    size = 84 if m.shape[1] >= 8 else 56
    tiles = [enlarge(t, size, cmap="viridis") for t in shown]
    st.image(tiles, caption=[f"map {j + 1}" for j in range(len(tiles))], width=size)
    if m.shape[0] > 48:
        st.caption(f"Showing 48 of {m.shape[0]} maps.")
    st.download_button("Download these feature maps (PNG)", png_bytes((image_grid(np.stack(tiles) / 255.0) * 255).astype(np.uint8)),
                       "feature_maps.png", "image/png", key=f"{PAGE}.inside_maps_png")
