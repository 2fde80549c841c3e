"""The Face recognition page's last two tabs: one-shot evaluation on identities never seen in
training (ROC with the threshold τ, distances, the embeddings in 2-D, the mistakes) and the
verification of two chosen or uploaded images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.artifacts import image_grid
from core.faces.training import FaceResult, embed, verify
from core.faces.verification import OneShotEval, accuracy_at, one_shot_evaluation
from core.plots.cnn import enlarge
from core.plots.faces import distance_histograms, embedding_scatter, roc_figure
from ui.faces.views import PAGE, current_config, current_result, network, no_network, unseen_inputs
from ui.tables import csv_button
from ui.upload import image_input

TAU_MAX = 4.0  # squared distances of unit vectors lie in [0, 4]
TAU_KEYS = (f"{PAGE}.tau", f"{PAGE}.verify_tau")
HELD_OUT, OWN = "Two held-out examples", "Your own images"
TILE = 72
PAIR_MARGIN = 10
PAIR_WIDTH = 2 * TILE + 4 + 8 + 2 * PAIR_MARGIN
EVALUATION_INTRO = (
    "**One-shot learning:** a face-ID system stores one photo per person and must recognise the next photo "
    "of them, with no retraining. So the network is judged on identities it **never saw** in training: pairs "
    "of their images, half of the same identity and half of different ones. The rule is *same when the "
    "squared distance d ≤ τ*. Each τ accepts some same pairs (true accepts) and some different pairs (false "
    "accepts); sweeping τ traces the **ROC curve**, and its area (AUC) is the chance that a random same pair "
    "is closer than a random different pair. **Try:** move τ and watch the red point, the line in the "
    "histogram and the accuracy; compare the trained and untrained embeddings."
)
VERIFY_INTRO = (
    "Face verification answers one question: *are these two images the same person?* Both go through the "
    "same network, and the answer is \"same\" when the squared distance of their embeddings is at most τ. "
    "Pick two held-out images (from identities the network never saw) or bring your own. **Try:** two "
    "images of one identity, then two of different ones; move τ and see where the verdict flips."
)


def _clip_tau(tau: float) -> float:
    return float(np.clip(round(tau, 2), 0.0, TAU_MAX))


def evaluation_of(result: FaceResult, job: str) -> OneShotEval:
    """The result's evaluation; a stopped training has none, so its network is evaluated
    here the same way (on the same unseen images, once per job)."""
    if result.evaluation is not None:
        return result.evaluation
    cached = st.session_state.get(f"{PAGE}.stopped_eval")
    if cached is not None and cached[0] == job:
        return cached[1]
    cfg = current_config()
    base = result.untrained
    ev = one_shot_evaluation(embed(network(result), unseen_inputs(result)), base.labels, len(base.pairs),
                             cfg.seed if cfg else 0)
    st.session_state[f"{PAGE}.stopped_eval"] = (job, ev)
    return ev


def _sync_tau(job: str, best: float) -> None:
    """A new network: both τ sliders start at its best τ."""
    ss = st.session_state
    if ss.get(f"{PAGE}.tau_for") != job or any(k not in ss for k in TAU_KEYS):
        for k in TAU_KEYS:
            ss[k] = _clip_tau(best)
        ss[f"{PAGE}.tau_for"] = job


def _use_best(key: str, best: float) -> None:
    st.session_state[key] = _clip_tau(best)


def _tile(x: np.ndarray) -> np.ndarray:
    """An image [C, S, S] in [0, 1] → an enlarged uint8 RGB tile."""
    a = np.asarray(x)
    return enlarge(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0), TILE)


def _pair_tile(images: np.ndarray, i: int, j: int) -> np.ndarray:
    """The two images side by side in a grey frame, with white space around the frame so
    that neighbouring pairs stay apart."""
    pair = image_grid(np.stack([_tile(images[i]), _tile(images[j])]) / 255.0, cols=2, pad=4, border=False)
    framed = image_grid(pair[None], cols=1, pad=4, background=190 / 255)
    framed = (framed * 255).round().astype(np.uint8)
    return np.pad(framed, ((0, 0), (PAIR_MARGIN, PAIR_MARGIN), (0, 0)), constant_values=255)


def _network_tab(intro: str, label: str, key: str) -> tuple[FaceResult, str, OneShotEval] | None:
    """A tab that needs a trained network: its ``intro``, then this session's network (its result, its job
    and its evaluation, with the τ sliders set for it), or None after offering a quick training (button
    ``label``, ``key``) when there is none."""
    st.markdown(intro)
    got = current_result()
    if got is None:
        no_network(label, key)
        return None
    result, job = got
    ev = evaluation_of(result, job)
    _sync_tau(job, ev.best_tau)
    return result, job, ev


# --------------------------------------------------------------------------- one-shot evaluation


def render_evaluation() -> None:
    """The "One-shot evaluation" tab."""
    got = _network_tab(EVALUATION_INTRO, "Train a quick network on digits for this tab", f"{PAGE}.quick_eval")
    if got is None:
        return
    result, job, ev = got
    base = result.untrained
    st.caption(result.trained_on)
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    tau = c1.slider("Threshold τ (same when d ≤ τ)", 0.0, TAU_MAX, step=0.01, key=TAU_KEYS[0])
    c2.button("Use the best τ", key=f"{PAGE}.best_tau", on_click=_use_best, args=(TAU_KEYS[0], ev.best_tau),
              icon=":material/target:", width="stretch")
    acc = accuracy_at(ev.distances, ev.same, tau)
    m = st.columns(5)
    m[0].metric("Accuracy at τ", f"{acc:.1%}")
    m[1].metric("Best τ", f"{ev.best_tau:.3f}")
    m[2].metric("Accuracy at the best τ", f"{ev.best_accuracy:.1%}")
    m[3].metric("ROC AUC", f"{ev.auc:.3f}")
    if base is not None:
        m[4].metric("ROC AUC before training", f"{base.auc:.3f}")
    fpr, tpr = ev.rates_at(tau)
    series = {f"trained (AUC {ev.auc:.3f})": (ev.fpr, ev.tpr)}
    if base is not None:
        series[f"untrained (AUC {base.auc:.3f})"] = (base.fpr, base.tpr)
    left, right = st.columns(2)
    left.plotly_chart(roc_figure(series, point=(fpr, tpr), tau=tau), key=f"{PAGE}.roc")
    right.plotly_chart(distance_histograms(ev.distances, ev.same, tau), key=f"{PAGE}.hist")
    n_same, n_diff = int(ev.same.sum()), int((~ev.same).sum())
    st.caption(f"At τ = {tau:.2f}: {tpr:.1%} of the {n_same:,} same pairs are accepted (true accepts) and {fpr:.1%} of "
               f"the {n_diff:,} different pairs are accepted too (false accepts), so {acc:.1%} of all pairs are judged "
               f"right. {len(result.unseen_ids)} unseen identities, {len(ev.labels):,} images.")
    left, right = st.columns(2)
    left.plotly_chart(embedding_scatter(ev.points_2d, ev.labels, result.names,
                                        title="After training: unseen identities in 2-D (PCA)"), key=f"{PAGE}.emb")
    if base is not None:
        right.plotly_chart(embedding_scatter(base.points_2d, base.labels, result.names,
                                             title="Before training: the same images"), key=f"{PAGE}.emb_before")
    st.caption("Each dot is one image of an unseen identity, its embedding projected onto the two directions of largest "
               "spread. Training should pull each colour into its own cluster, although the network never saw them.")
    _mistakes(result, ev, tau)
    _downloads(result, ev, tau)


def _mistakes(result: FaceResult, ev: OneShotEval, tau: float) -> None:
    accepted = ev.distances <= tau
    false_accept = np.flatnonzero(accepted & ~ev.same)
    false_reject = np.flatnonzero(~accepted & ev.same)
    st.markdown(f"**The pairs judged wrong at τ = {tau:.2f}:** {len(false_accept)} different pairs accepted, "
                f"{len(false_reject)} same pairs rejected.")
    c1, c2 = st.columns(2)
    for col, idx, order, what in ((c1, false_accept, ev.distances[false_accept], "different, judged the same"),
                                  (c2, false_reject, -ev.distances[false_reject], "the same, judged different")):
        col.caption(f"Worst of {what}")
        if not len(idx):
            col.caption("None.")
            continue
        shown = idx[np.argsort(order, kind="stable")][:6]
        col.image([_pair_tile(result.unseen_images, *ev.pairs[k]) for k in shown],
                  caption=[f"d = {ev.distances[k]:.2f}: {result.names[ev.labels[ev.pairs[k][0]]]} · "
                           f"{result.names[ev.labels[ev.pairs[k][1]]]}" for k in shown], width=PAIR_WIDTH)


def _downloads(result: FaceResult, ev: OneShotEval, tau: float) -> None:
    names = result.names
    pairs = pd.DataFrame({
        "image_1": ev.pairs[:, 0], "image_2": ev.pairs[:, 1],
        "identity_1": [names[ev.labels[i]] for i in ev.pairs[:, 0]],
        "identity_2": [names[ev.labels[j]] for j in ev.pairs[:, 1]],
        "same": ev.same, "distance": ev.distances, f"judged_same_at_tau_{tau:.2f}": ev.distances <= tau,
    })
    roc = pd.DataFrame({"tau": ev.thresholds, "false_accept_rate": ev.fpr, "true_accept_rate": ev.tpr})
    emb = pd.DataFrame(ev.embeddings, columns=[f"e{k + 1}" for k in range(ev.embeddings.shape[1])])
    emb.insert(0, "pca_2", ev.points_2d[:, 1])
    emb.insert(0, "pca_1", ev.points_2d[:, 0])
    emb.insert(0, "identity", [names[y] for y in ev.labels])
    emb.insert(0, "image", np.arange(len(ev.labels)))
    c = st.columns(3)
    csv_button(c[0], "Download the verification pairs (CSV)", pairs, "verification_pairs.csv", f"{PAGE}.pairs_csv",
               width="stretch")
    csv_button(c[1], "Download the ROC curve (CSV)", roc, "roc_curve.csv", f"{PAGE}.roc_csv", width="stretch")
    csv_button(c[2], "Download the embeddings (CSV)", emb, "embeddings.csv", f"{PAGE}.emb_csv", width="stretch")


# --------------------------------------------------------------------------- verify two images


def render_verify() -> None:
    """The "Verify two images" tab."""
    got = _network_tab(VERIFY_INTRO, "Train a quick network on digits for verification", f"{PAGE}.quick_verify")
    if got is None:
        return
    result, job, ev = got
    st.info(f"**What this network knows.** {result.trained_on}", icon=":material/school:")
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    source = c1.radio("Images to compare", [HELD_OUT, OWN], horizontal=True, key=f"{PAGE}.verify_source")
    tau = c2.slider("Threshold τ for this pair", 0.0, TAU_MAX, step=0.01, key=TAU_KEYS[1],
                    help=f"Starts at the best τ on the unseen identities ({ev.best_tau:.3f}).")
    if source == HELD_OUT:
        _held_out(result, ev, tau, job)
    else:
        _own(result, tau)


def _verdict(distance: float, tau: float) -> None:
    if distance <= tau:
        st.success(f"**Same identity:** d = {distance:.3f} ≤ τ = {tau:.2f}", icon=":material/check_circle:")
    else:
        st.error(f"**Different identities:** d = {distance:.3f} > τ = {tau:.2f}", icon=":material/cancel:")


def _held_out(result: FaceResult, ev: OneShotEval, tau: float, job: str) -> None:
    n = len(ev.labels)
    same_pair = ev.pairs[np.flatnonzero(ev.same)[0]] if ev.same.any() else (0, min(1, n - 1))
    c1, c2 = st.columns(2)
    i = c1.slider("First held-out image", 0, n - 1, int(same_pair[0]), key=f"{PAGE}.verify_i.{job}")
    j = c2.slider("Second held-out image", 0, n - 1, int(same_pair[1]), key=f"{PAGE}.verify_j.{job}")
    who_i, who_j = result.names[ev.labels[i]], result.names[ev.labels[j]]
    c1.image(_tile(result.unseen_images[i]), caption=f"image {i}: {who_i}", width=2 * TILE)
    c2.image(_tile(result.unseen_images[j]), caption=f"image {j}: {who_j}", width=2 * TILE)
    d = ev.distance(i, j)
    st.metric("Squared distance d of the embeddings", f"{d:.4f}")
    _verdict(d, tau)
    truth = ev.labels[i] == ev.labels[j]
    right = (d <= tau) == truth
    st.caption(f"In fact {'the same identity' if truth else 'two different identities'} ({who_i}, {who_j}): the "
               f"network is {'right' if right else 'wrong'} at this τ.")


def _own(result: FaceResult, tau: float) -> None:
    digits = result.kind == "digits"
    st.caption("Pick a sample photo, upload an image" + (" or draw a digit" if digits else "") + " for each side. "
               + ("Digits are turned light-on-dark, cropped and centred like the training images."
                  if digits else "Photos are cropped to a centred square, turned grey and shrunk like the faces."))
    c1, c2 = st.columns(2)
    with c1:
        a = image_input(f"{PAGE}.verify_a", label="First image", draw=digits, default="Astronaut")
    with c2:
        b = image_input(f"{PAGE}.verify_b", label="Second image", draw=digits, default="Cameraman (grayscale)")
    if a is None or b is None:
        st.info("Choose both images to compare them.", icon=":material/compare:")
        return
    v = verify(network(result), a.image, b.image, result.spec, tau)
    size = result.spec.size
    for col, picked, seen in ((c1, a, v.seen[0]), (c2, b, v.seen[1])):
        col.image([picked.image, enlarge(seen, 144)], width=144,
                  caption=[f"{picked.name} ({picked.image.width}×{picked.image.height})",
                           f"What the network sees ({size}×{size})"])
    st.metric("Squared distance d of your two images", f"{v.distance:.4f}")
    _verdict(v.distance, tau)
    note = ("it has never seen a face, so for two photos of people this distance says nothing about who they are"
            if digits else "it learned from one small set of faces, so treat this as a classroom experiment, "
            "not an identity check")
    st.warning(f"Keep in mind what the network was trained on: {note}.", icon=":material/info:")
