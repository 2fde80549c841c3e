"""The GANs and VAEs page's "Mode collapse in 2-D" tab: a small GAN on 2-D points (8 Gaussians on a
ring or a 5×5 grid), GAN Lab style: the real and generated points over the discriminator's decision
surface, step by step, and how many of the modes the generator reaches."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.generative.gan import PAGE as TRACKED  # the runs' experiment: ghosts are read from it
from core.generative.toy import LR_CHOICES, PRESETS, STEP_CHOICES, ToyConfig, ToyResult, run_toy, toy_centers
from core.jobs import KILLED
from core.plots.curves import curves
from core.plots.gan import FAKE, REAL, d_output_curves, gan_loss_curves, toy_frames
from ui import export as export_ui
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.tables import csv_button

PAGE = "generative.toy"
JOB = PAGE
GHOST = dict(key=f"{PAGE}.ghost", kind="toy")  # the ghost box: an earlier toy GAN of the generative runs
# the metrics of a GAN's two curve charts as its runs log them: {key: (ghost label, colour)}
LOSSES = {"d_loss": ("D loss", REAL), "g_loss": ("G loss", FAKE)}
D_OUTPUTS = {"d_real": ("D(x)", REAL), "d_fake": ("D(G(z))", FAKE)}
PRESET_LABELS = {
    "healthy": "Healthy: equal learning rates, non-saturating loss",
    "collapse": "Collapse: G's learning rate 10× D's, 1-D noise",
    "custom": "My own settings",
}


def _apply_preset() -> None:
    name = st.session_state.get(f"{PAGE}.preset")
    if name in PRESETS:
        p = {**_form_defaults(), **PRESETS[name]}
        for key in ("loss", "k", "lr_g", "lr_d", "steps", "z_dim"):
            st.session_state[f"{PAGE}.{key}"] = p[key]


def _form_defaults() -> dict:
    d = ToyConfig()
    return {"loss": d.loss, "k": d.k, "lr_g": d.lr_g, "lr_d": d.lr_d, "steps": d.steps, "z_dim": d.z_dim}


def render() -> None:
    st.markdown(
        "Real data with a few separate clusters (*modes*) make GAN trouble easy to see. Red points are G's samples "
        "of a fixed noise batch, blue ones are real; the background is D(x): blue where D says \"real\", red where it "
        "says \"fake\". G's points follow D's gradient uphill towards the blue. **Mode collapse** is G putting all "
        "its points on one or two modes: D then learns those are fake, G hops to another mode, and so on — the "
        "varied data is never covered at once."
    )
    st.caption(
        "**Things to try:** run *Healthy* and watch all 8 modes fill in; run *Collapse* (G learns 10× faster than D "
        "and gets a single noise number) and watch G's points pile onto one mode while D paints it red; press Play to "
        "see the chase. Then change one thing at a time: noise size 2 with the collapse learning rates (it collapses "
        "for a long while, then spreads), the 5×5 grid (25 modes), k = 5, the minimax loss."
    )
    st.radio("Preset", list(PRESET_LABELS), format_func=PRESET_LABELS.get, horizontal=True, key=f"{PAGE}.preset",
             on_change=_apply_preset)
    if f"{PAGE}.loss" not in st.session_state:
        _set_defaults()
    with st.form(f"{PAGE}.form", border=True):
        f1, f2, f3 = st.columns(3)
        kind = form.field(f1, ToyConfig, "kind", key=f"{PAGE}.kind")
        loss = form.field(f1, ToyConfig, "loss", key=f"{PAGE}.loss")
        k = form.field(f2, ToyConfig, "k", key=f"{PAGE}.k")
        steps = form.field(f2, ToyConfig, "steps", key=f"{PAGE}.steps", options=STEP_CHOICES)
        z_dim = form.field(f2, ToyConfig, "z_dim", key=f"{PAGE}.z_dim")
        lr_g = form.field(f3, ToyConfig, "lr_g", key=f"{PAGE}.lr_g", options=LR_CHOICES, format_func=lambda v: f"{v:g}")
        lr_d = form.field(f3, ToyConfig, "lr_d", key=f"{PAGE}.lr_d", options=LR_CHOICES, format_func=lambda v: f"{v:g}")
        go = form.submit("Train the toy GAN", JOB)
    if go:
        export_ui.remember(JOB, form.start(
            JOB, run_toy, lambda: ToyConfig(kind=kind, loss=loss, k=k, steps=steps, z_dim=z_dim, lr_g=lr_g, lr_d=lr_d,
                                            every=max(steps // 40, 5), seed=shell.global_seed()),
            name=lambda c: f"toy GAN on the {c.kind}"))
    export_ui.buttons(JOB)
    ghost_ui.before(JOB, TRACKED, **GHOST)
    jobs.panel(JOB, _view, every=1.0)


def _set_defaults() -> None:
    for key, value in {**_form_defaults(), **PRESETS["healthy"]}.items():
        st.session_state[f"{PAGE}.{key}"] = value
    st.session_state[f"{PAGE}.kind"] = "ring"


def _view(snap) -> None:
    result: ToyResult | None = snap.result
    ghost = ghost_ui.pick(TRACKED, since=snap.created, **GHOST)
    if result is None or not result.frames:
        frame, real = snap.images.get("frame"), snap.images.get("real")
        if frame is not None and real is not None:
            st.plotly_chart(toy_frames([frame], *real), key=f"{PAGE}.live")
        if rows := snap.metrics.get("toy/frames"):  # the modes covered so far, over the ghost's
            st.plotly_chart(_coverage([r["step"] for r in rows], [r["covered"] for r in rows], None, ghost),
                            key=f"{PAGE}.coverage_live")
        return
    if snap.status == KILLED:
        st.caption("Stopped: the frames so far are kept (the run is tracked as KILLED).")
    n_modes = len(toy_centers(result.config.kind))
    last = result.frames[-1]
    c = st.columns(3)
    c[0].metric("Modes covered (last frame)", f"{last.covered} of {n_modes}",
                help="A mode counts when at least a fifth of its fair share of G's samples lies within 3σ of it.")
    c[1].metric("Samples near a mode", f"{last.quality:.0%}", help="Share of G's samples within 3σ of some mode.")
    most = max(f.covered for f in result.frames)
    c[2].metric("Most modes at once", f"{most} of {n_modes}")
    if last.covered <= max(2, n_modes // 4):
        st.warning(f"Mode collapse: G's samples sit on {last.covered} of the {n_modes} modes (a fully collapsed G maps "
                   "every z to nearly the same point: look for one red dot).", icon=":material/warning:")
    st.plotly_chart(toy_frames(result.frames, result.real, result.extent), key=f"{PAGE}.frames")
    st.caption("Drag the slider (or press Play) to step through training. Watch the red points chase the blue part of "
               "the background, and D repaint it wherever they land.")
    c1, c2 = st.columns(2)
    c1.plotly_chart(_coverage([f.step for f in result.frames], [f.covered for f in result.frames], n_modes, ghost),
                    key=f"{PAGE}.coverage")
    if result.rows:
        c2.plotly_chart(ghost_ui.overlay_each(d_output_curves(result.rows), ghost, D_OUTPUTS, smoothing=0.6),
                        key=f"{PAGE}.d_out")
        c1.plotly_chart(ghost_ui.overlay_each(gan_loss_curves(result.rows), ghost, LOSSES, smoothing=0.6),
                        key=f"{PAGE}.losses")
        csv_button(st, "Download the curves (CSV)", pd.DataFrame(result.rows), "toy_gan_curves.csv", key=f"{PAGE}.csv",
                   icon=":material/download:")
    if result.run_id:
        st.caption(f"Tracked as run `{result.run_id}` in the *generative* experiment.")


def _coverage(steps: list[int], covered: list[int], n_modes: int | None, ghost: str | None) -> go.Figure:
    """Modes covered against the generator step (up to ``n_modes`` when known), with the ghost run's."""
    fig = curves({"modes covered": (steps, covered)}, xlabel="generator step", ylabel="modes",
                 title="Modes covered by G's samples")
    if n_modes is not None:
        fig.update_yaxes(range=[0, n_modes + 0.5])
    fig.update_layout(height=340, showlegend=ghost is not None)
    return ghost_ui.overlay(fig, ghost, "modes_covered")
