"""The GANs and VAEs page's VAE tab: what a VAE learns, a settings form, the training as a
tracked job with its two loss terms live, then the trained model's views (in
:mod:`ui.generative.vae_views`), on the model loaded from the run's logged weights."""

from __future__ import annotations

import streamlit as st

from core.data import DatasetUnavailable
from core.generative.vae import PAGE as TRACKED  # the runs' experiment: ghosts are read from it
from core.generative.vae import VAEConfig, VAEResult, load_vae, run_vae
from core.jobs import FAILED, KILLED
from core.plots.training import lane_curves
from core.plots.vae import loss_terms
from ui import export as export_ui
from ui import form, jobs, shell, tracked
from ui import ghost as ghost_ui
from ui.generative.vae_views import render_views

PAGE = "generative.vae"
JOB = PAGE  # session keys: generative.vae.job, generative.vae.result
THINGS_TO_TRY = (
    "**Things to try:** β = 0 (no KL: a plain autoencoder; reconstructions get sharper, but the codes drift far "
    "from N(0, I) and samples from the prior turn to mush) against β = 4 (smooth latent space, blurrier "
    "pictures). Latent size 2 (every digit must fit on a plane: see the map and the grid) against 16. "
    "A learning rate of 1000 (the loss becomes NaN and the run is marked failed)."
)
# the form's settings: (VAEConfig field, column, widget key, Streamlit options)
FIELDS = (("dataset", 0, "dataset", {}), ("arch", 0, "arch", {"horizontal": True}),
          ("latent_dim", 1, "latent", {}), ("beta", 1, "beta", {}), ("epochs", 2, "epochs", {}),
          ("batch_size", 2, "batch", {}), ("lr", 2, "lr", {}))


GHOST = dict(key=f"{PAGE}.vae_ghost", kind="vae")  # ghost box: before training and live


def _intro() -> None:
    st.markdown(
        "The **encoder** turns each picture into a small Gaussian cloud in a *latent space*: a mean μ and a spread σ "
        "per latent dimension. One point z is drawn from that cloud with the **reparameterization trick** "
        "(z = μ + σ⊙ε, ε ~ N(0, I), so gradients reach μ and σ), and the **decoder** rebuilds the picture from z. "
        "The loss has two terms that pull against each other: the *reconstruction* term wants every picture back, "
        "the *KL* term pulls every cloud towards the plain Gaussian N(0, I), so that the latent space has no holes "
        "and any point drawn from N(0, I) decodes into something plausible."
    )
    st.latex(r"\mathcal{L}(x) = \underbrace{-\,\mathbb{E}_{q(z\mid x)}\big[\log p(x\mid z)\big]}_{\text{reconstruction}}"
             r"\;+\;\beta\,\underbrace{D_{KL}\big(q(z\mid x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{KL}},\qquad "
             r"D_{KL} = -\tfrac12\sum_{j}\big(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\big)")
    st.caption(
        "Pixels lie in [0, 1] and each is treated as a coin flip with the decoder's probability, so −log p(x|z) is the "
        "binary cross-entropy summed over the pixels (nats per image); the expectation uses one draw of z per image. "
        "β = 1 is the plain VAE (minimising 𝓛 maximises the evidence lower bound); other values give a β-VAE."
    )


def _use_sample() -> None:
    st.session_state[f"{PAGE}.dataset"] = "mnist_sample"


def _form() -> bool:
    """The settings form; starts the training when submitted with valid settings (True then)."""
    with st.form(f"{PAGE}.form", border=True):
        cols = st.columns(3)
        values = {name: form.field(cols[col], VAEConfig, name, key=f"{PAGE}.{key}", **kw) for name, col, key, kw in FIELDS}
        go = form.submit("Train the VAE", JOB)
    st.caption(THINGS_TO_TRY)
    if not go:
        return False
    cfg = form.start(JOB, run_vae, lambda: VAEConfig(**values, seed=shell.global_seed()),
                     name=lambda c: f"VAE {c.arch} L={c.latent_dim} β={c.beta:g} on {c.dataset}")
    if cfg is not None:
        st.session_state[f"{PAGE}.cfg"] = cfg
    export_ui.remember(JOB, cfg)
    return cfg is not None


def _live(snap) -> None:
    if snap.status == FAILED and snap.error_type == DatasetUnavailable.__name__:
        if st.button("Use the offline MNIST sample instead", key=f"{PAGE}.use_sample", on_click=_use_sample,
                     icon=":material/wifi_off:"):
            st.rerun()  # the whole page, so the form shows the change
        return
    steps, terms = snap.metrics.get("VAE", []), snap.metrics.get("vae/terms", [])
    cfg: VAEConfig | None = st.session_state.get(f"{PAGE}.cfg")
    ghost = ghost_ui.pick(TRACKED, since=snap.created, **GHOST)
    c1, c2 = st.columns([1, 2])
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves({"vae": steps}, smoothing=0.8, log_y=True,
                                                     title="Loss per step (training batches)"),
                                         ghost, "train_loss", smoothing=0.8, log_y=True), key=f"{PAGE}.steps")
    if terms:
        c2.plotly_chart(loss_terms(terms, cfg.beta if cfg else None), key=f"{PAGE}.terms")


def render() -> None:
    """The "VAE" tab."""
    _intro()
    _form()
    export_ui.buttons(JOB)
    ghost_ui.before(JOB, TRACKED, **GHOST)
    snap = jobs.panel(JOB, _live, every=1.0)
    result: VAEResult | None = st.session_state.get(f"{JOB}.result")
    # a diverged run saved no model: the job panel above says what happened
    if result is None or not result.has_model or (snap is not None and not snap.done):
        return
    model = tracked.network_or_none(load_vae, result.lane.run_id, "The trained VAE")
    if model is None:
        return
    if snap is not None and snap.status == KILLED:
        st.caption("Stopped early: the views below show the model as it was when you pressed Stop.")
    render_views(result, model, PAGE)
