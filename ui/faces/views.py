"""The Face recognition page's first tab, the triplet-loss explorer (a hand-placed triplet
and a real batch's triplets), and what the other tabs share: this session's trained network
and a quick training to start one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.data import DatasetUnavailable
from core.faces.data import load_identities
from core.faces.embedding import EmbeddingNet
from core.faces.training import FaceConfig, FaceResult, embed, input_spec, load_tracked, run_faces
from core.faces.triplets import STRATEGIES, batch_triplet_loss, mine_triplets, pairwise_sq_distances, triplet_kind
from core.faces.triplets import triplet_loss as course_triplet_loss
from core.plots.faces import batch_triplets, loss_vs_negative, triplet_plane
from ui import jobs, shell, tracked
from ui.tables import table_with_csv

PAGE = "faces"
JOB = f"{PAGE}.train"
EXTENT = 1.5
STEP_LR = 0.2  # the learning rate of the gradient step drawn in the explorer
POINTS = {"A": ("Anchor A", (0.0, 0.0)), "P": ("Positive P", (0.6, 0.2)), "N": ("Negative N", (0.7, -0.5))}
UNTRAINED = "Untrained (random weights), on digits"
THIS_SESSION = "The network trained in this session"


def _pos_key(name: str, axis: str) -> str:
    return f"{PAGE}.{name.lower()}_{axis}"


# --------------------------------------------------------------------------- shared by the tabs


def current_result() -> tuple[FaceResult, str] | None:
    """(this session's trained network's result, its job id), or None when there is none."""
    result = st.session_state.get(f"{JOB}.result")
    if not isinstance(result, FaceResult) or not result.has_network:
        return None
    try:
        network(result)
    except ValueError:  # its run or its weights are gone from the tracking store: as if there were none
        return None
    return result, str(st.session_state.get(f"{JOB}.job"))


def network(result: FaceResult) -> EmbeddingNet:
    """The result's trained embedding network, loaded from its tracked run (once per process)."""
    return tracked.network(load_tracked, result.lane.run_id)


def unseen_inputs(result: FaceResult) -> torch.Tensor:
    """The unseen identities' images as the network takes them (standardised)."""
    return result.spec.normalize(torch.from_numpy(result.unseen_images))


def current_config() -> FaceConfig | None:
    return st.session_state.get(f"{PAGE}.cfg")


def training_name(cfg: FaceConfig) -> str:
    return f"siamese on {cfg.dataset} ({cfg.strategy})"


def remember(cfg: FaceConfig | None) -> None:
    """Keep the configuration of the training just started (None: nothing started) for the other tabs."""
    if cfg is not None:
        st.session_state[f"{PAGE}.cfg"] = cfg


def start_training(cfg: FaceConfig) -> None:
    remember(cfg)
    jobs.start(JOB, run_faces, cfg, name=training_name(cfg))


def quick_config() -> FaceConfig:
    """A small digits training that finishes in seconds on a CPU."""
    return FaceConfig(dataset="digits", epochs=3, seed=shell.global_seed())  # the form's other defaults


def no_network(label: str, key: str) -> None:
    """Say that a trained network is needed, and offer a quick one."""
    st.info("This tab needs a trained network. Train one in the *Train a siamese network* tab, or start a quick one "
            "here (three epochs on the offline digits).", icon=":material/info:")
    if st.button(label, key=key, type="primary", icon=":material/play_arrow:", disabled=jobs.is_active(JOB)):
        start_training(quick_config())
        st.rerun()
    if jobs.is_active(JOB):
        st.caption("Training… this tab fills in when it is done (the curves are in the training tab).")


# --------------------------------------------------------------------------- the explorer


def _place_negative(kind: str) -> None:
    """Button callback: move N to a spot where the triplet is ``kind`` (A, P and α kept)."""
    ss = st.session_state
    a = np.array([ss.get(_pos_key("A", ax), POINTS["A"][1][i]) for i, ax in enumerate("xy")], float)
    p = np.array([ss.get(_pos_key("P", ax), POINTS["P"][1][i]) for i, ax in enumerate("xy")], float)
    margin = float(ss.get(f"{PAGE}.alpha", 0.5))
    d_ap = float((a - p) @ (a - p))
    radius = {"hard": 0.6 * math.sqrt(d_ap), "semi-hard": math.sqrt(d_ap + margin / 2),
              "easy": math.sqrt(d_ap + margin) + 0.3}[kind]
    base = math.atan2(*(p - a)[::-1]) if d_ap > 0 else 0.0
    fallback = None
    for turn in (2.3, -2.3, 1.5, -1.5, math.pi, 0.8, -0.8, 0.0):
        n = np.round((a + radius * np.array([math.cos(base + turn), math.sin(base + turn)])) / 0.05) * 0.05
        n = np.clip(n, -EXTENT, EXTENT)
        fallback = n if fallback is None else fallback
        if triplet_kind(float((a - p) @ (a - p)), float((a - n) @ (a - n)), margin) == kind:
            break
    else:
        n = fallback
    ss[_pos_key("N", "x")], ss[_pos_key("N", "y")] = float(round(n[0], 2)), float(round(n[1], 2))


def _gradient_step(a: np.ndarray, p: np.ndarray, n: np.ndarray, margin: float) -> dict[str, np.ndarray]:
    """Where one gradient-descent step on the loss (learning rate STEP_LR) moves A, P and N."""
    pts = torch.tensor(np.stack([a, p, n]), dtype=torch.float64, requires_grad=True)
    course_triplet_loss(pts[0:1], pts[1:2], pts[2:3], margin).backward()
    step = -STEP_LR * pts.grad.numpy()
    return {"A": step[0], "P": step[1], "N": step[2]}


def render_explorer() -> None:
    """The "Triplet loss" tab."""
    st.markdown(
        "A face-recognition network maps every photo x to a point f(x), its **embedding**. The triplet loss "
        "looks at three of them: an **anchor** A, a **positive** P (another photo of the same person) and a "
        "**negative** N (someone else). It wants N farther from A than P is, by at least the **margin α**:"
    )
    st.latex(r"L = \max\left(0,\ \lVert f(A) - f(P) \rVert^2 - \lVert f(A) - f(N) \rVert^2 + \alpha\right)")
    st.markdown(
        "Below, the embeddings are points in the plane; move them with the sliders. Around A, the red disc is "
        "where N would be **hard** (at least as close as P: loss ≥ α), the orange ring is the **margin band** "
        "where N is **semi-hard** (farther than P, but by less than α: a small loss), and outside it the triplet "
        "is **easy** (loss 0, nothing to learn). The arrows show one step of gradient descent: P is pulled "
        "towards A, N pushed away. **Try:** put N inside the red disc; widen α until an easy triplet turns "
        "semi-hard; put P on top of A."
    )
    left, right = st.columns([1, 1.5], gap="large")
    with left:
        pos = {}
        for name, (label, default) in POINTS.items():
            c1, c2 = st.columns(2)
            x = c1.slider(f"{label}: x", -EXTENT, EXTENT, default[0], 0.05, key=_pos_key(name, "x"))
            y = c2.slider(f"{label}: y", -EXTENT, EXTENT, default[1], 0.05, key=_pos_key(name, "y"))
            pos[name] = np.array([x, y], float)
        margin = st.slider("Margin α", 0.0, 2.0, 0.5, 0.05, key=f"{PAGE}.alpha",
                           help="On the squared-distance scale, like ‖A − P‖² and ‖A − N‖².")
        st.caption("Put N where the triplet is:")
        b = st.columns(3)
        for col, kind in zip(b, ("hard", "semi-hard", "easy")):
            col.button(kind.capitalize(), key=f"{PAGE}.make_{kind}", on_click=_place_negative, args=(kind,),
                       width="stretch")
        arrows = st.checkbox(f"Show one gradient step (learning rate {STEP_LR})", True, key=f"{PAGE}.arrows")
    a, p, n = pos["A"], pos["P"], pos["N"]
    d_ap, d_an = float((a - p) @ (a - p)), float((a - n) @ (a - n))
    loss = float(course_triplet_loss(*(torch.from_numpy(v[None]) for v in (a, p, n)), margin))
    kind = triplet_kind(d_ap, d_an, margin)
    with left:
        m = st.columns(2)
        m[0].metric("‖A − P‖²", f"{d_ap:.4f}")
        m[1].metric("‖A − N‖²", f"{d_an:.4f}")
        m = st.columns(2)
        m[0].metric("Triplet loss L", f"{loss:.4f}")
        m[1].metric("This triplet is", kind)
        st.latex(rf"\begin{{aligned}} L &= \max(0,\ {d_ap:.4f} - {d_an:.4f} + {margin:.2f}) \\ &= {loss:.4f}"
                 r"\end{aligned}")
        st.caption({
            "easy": "Easy: N is already farther than P by more than α. The loss and its gradient are zero, so a batch "
                    "full of such triplets teaches the network nothing.",
            "semi-hard": "Semi-hard: N is farther than P, but inside the margin. The loss is below α and the gradient "
                         "pushes N out of the band: the triplets FaceNet prefers to train on.",
            "hard": "Hard: N is at least as close to A as P. The loss is α or more; training only on the hardest "
                    "triplets can pull every embedding to one point.",
        }[kind])
    pull = _gradient_step(a, p, n, margin) if arrows and loss > 0 else None
    right.plotly_chart(triplet_plane(a, p, n, margin, pull=pull, extent=EXTENT), key=f"{PAGE}.plane")
    right.plotly_chart(loss_vs_negative(d_ap, d_an, margin), key=f"{PAGE}.hinge")
    st.divider()
    _real_batch(margin)


@st.cache_resource(show_spinner=False, max_entries=2)
def _digits() -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    ds = load_identities("digits")
    return input_spec(ds, ds).normalize(ds.X), ds.y, ds.names


@st.cache_resource(show_spinner=False, max_entries=4)
def _untrained(seed: int) -> EmbeddingNet:
    torch.manual_seed(seed)
    return EmbeddingNet(1, 16, 8, width=16).eval()


@st.cache_resource(show_spinner=False, max_entries=2)
def _training_identities(dataset: str, ids: tuple[int, ...]):
    return load_identities(dataset, download=False).subset(ids)


def batch_triplet_data(emb: torch.Tensor, y: torch.Tensor, margin: float, strategy: str) -> pd.DataFrame:
    """Every valid triplet (a, p, n) of a batch with its two squared distances, its kind,
    its loss and whether ``strategy`` mines it."""
    d = pairwise_sq_distances(emb.double())
    same = y[:, None] == y[None, :]
    pos = same & ~torch.eye(len(y), dtype=torch.bool)
    a, p, n = torch.nonzero(pos[:, :, None] & ~same[:, None, :], as_tuple=True)
    d_ap, d_an = d[a, p].numpy(), d[a, n].numpy()
    ma, mp, mn = mine_triplets(emb, y, strategy)
    size = len(y)
    mined = np.isin(((a * size + p) * size + n).numpy(), ((ma * size + mp) * size + mn).numpy())
    return pd.DataFrame({"anchor": a.numpy(), "positive": p.numpy(), "negative": n.numpy(), "d_ap": d_ap, "d_an": d_an,
                         "kind": triplet_kind(d_ap, d_an, margin), "loss": np.maximum(0.0, d_ap - d_an + margin),
                         "mined": mined})


def _bump_draw() -> None:
    st.session_state[f"{PAGE}.batch_draw"] = st.session_state.get(f"{PAGE}.batch_draw", 0) + 1


def _real_batch(margin: float) -> None:
    st.subheader("The triplets of a real batch")
    st.markdown(
        "A training batch holds many images; every (anchor, positive, negative) among them is a triplet. Here is "
        "each one as a dot at (‖A − P‖², ‖A − N‖²), coloured by kind with the α chosen above: below the red line "
        "hard, between the lines semi-hard, above easy. A **miner** picks the triplets the loss is averaged over "
        "(ringed). **Try:** compare an untrained network with a trained one (train one in the next tab): training "
        "moves the dots up and to the left, and most triplets become easy, so which ones the miner picks matters."
    )
    got = current_result()
    c = st.columns([2, 1, 1, 1])
    options = [UNTRAINED] + ([THIS_SESSION] if got else [])
    if got and st.session_state.get(f"{PAGE}.batch_seen") != got[1]:  # a new network: show it
        st.session_state[f"{PAGE}.batch_seen"] = got[1]
        st.session_state[f"{PAGE}.batch_net"] = THIS_SESSION
    elif not got and st.session_state.get(f"{PAGE}.batch_net") == THIS_SESSION:  # a new training has started
        st.session_state[f"{PAGE}.batch_net"] = UNTRAINED
    net = c[0].selectbox("Network that embeds the batch", options, key=f"{PAGE}.batch_net")
    size = c[1].select_slider("Batch size (images)", [16, 24, 32, 48, 64], 32, key=f"{PAGE}.batch_size")
    strategy = c[2].selectbox("Mining strategy to highlight", list(STRATEGIES), key=f"{PAGE}.batch_strategy")
    c[3].button("Draw another batch", key=f"{PAGE}.batch_redraw", on_click=_bump_draw, icon=":material/casino:",
                width="stretch")
    seed = shell.global_seed() + st.session_state.get(f"{PAGE}.batch_draw", 0)
    if net == THIS_SESSION and got:
        result = got[0]
        model, where = network(result), "identities it never saw"
        x = unseen_inputs(result)
        y = torch.as_tensor(result.untrained.labels)
        names = result.names
        which = st.radio("Identities in the batch", ["Seen in training", "Never seen (the evaluation's)"],
                         horizontal=True, key=f"{PAGE}.batch_ids")
        if which == "Seen in training":
            try:
                train = _training_identities(result.dataset, result.train_ids)
            except DatasetUnavailable as exc:
                st.warning(f"{exc} The batch shows the unseen identities instead.")
            else:
                x, y, where = result.spec.normalize(train.X), train.y, "identities it was trained on"
    else:
        x, y, names = _digits()
        model, where = _untrained(shell.global_seed()), "all ten digits"
    idx = np.sort(np.random.default_rng(seed).choice(len(y), size=min(size, len(y)), replace=False))
    xb, yb = x[idx], y[idx]
    emb = embed(model, xb)
    table = batch_triplet_data(emb, yb, margin, strategy)
    left, right = st.columns([1.6, 1], gap="large")
    if table.empty:
        left.info("This batch has no valid triplet (no identity appears twice). Draw another batch or take a larger one.")
        return
    left.plotly_chart(batch_triplets(table["d_ap"].to_numpy(), table["d_an"].to_numpy(), table["kind"].to_numpy(), margin,
                                     mined=table["mined"].to_numpy(), strategy=strategy, seed=seed,
                                     title=f"{len(table):,} triplets from {len(idx)} images ({where})"),
                      key=f"{PAGE}.batch_plot")
    with right:
        counts = table["kind"].value_counts()
        st.markdown("**Kinds** (of every valid triplet)")
        st.dataframe(pd.DataFrame([{"kind": k, "triplets": int(counts.get(k, 0)),
                                    "share": counts.get(k, 0) / len(table)} for k in ("easy", "semi-hard", "hard")]),
                     hide_index=True, width="stretch",
                     column_config={"share": st.column_config.NumberColumn(format="percent")})
        st.markdown("**The batch's loss with each miner**")
        rows = []
        for s in STRATEGIES:
            loss, stats = batch_triplet_loss(emb, yb, margin, s)
            rows.append({"strategy": s, "mined triplets": int(stats["mined"]), "with loss > 0": stats["active"],
                         "loss": float(loss)})
        table_with_csv(pd.DataFrame(rows), "Download the miners' losses (CSV)", "batch_losses.csv",
                       f"{PAGE}.batch_losses_csv",
                       column_config={"with loss > 0": st.column_config.NumberColumn(format="percent"),
                                      "loss": st.column_config.NumberColumn(format="%.4f")},
                       caption="Batch-hard keeps one triplet per anchor (its hardest), semi-hard one per "
                               "anchor-positive pair, all every triplet. The loss is the mean over what was mined.")
        frame = table.assign(identity_a=[names[int(yb[i])] for i in table["anchor"]])
        st.download_button("Download every triplet (CSV)", frame.to_csv(index=False).encode(), "batch_triplets.csv",
                           "text/csv", key=f"{PAGE}.batch_csv")
