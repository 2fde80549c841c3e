"""The VAE tab's views of a trained model: its final loss terms, reconstructions beside their
inputs, the latent space coloured by class (with CSV), a latent-grid traversal, an
interpolation between two dev images, and samples from the prior (with PNG). The model is the one
loaded from the run's logged weights (``ui.tracked.network``); the dev images come with the result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.artifacts import image_grid, png_bytes
from core.generative.vae import (
    GRID_EXTENT,
    VAE,
    VAEResult,
    encode_mean,
    interpolate,
    latent_2d,
    latent_grid,
    reconstruct,
    sample_prior,
)
from core.plots.vae import image_mosaic, latent_scatter, loss_terms
from ui.tables import csv_button

GREY_LINES = {"pad": 1, "background": 0.5}  # how the views tile digits (core.artifacts.image_grid): grey lines between them

N_RECON = 10


@st.cache_data(show_spinner=False, max_entries=4)
def _latents(run_id: str, _model: VAE, _images: torch.Tensor) -> tuple[np.ndarray, np.ndarray, str]:
    """(μ [N, L], 2-D coordinates [N, 2], how they were made) of the dev images (one model per run id)."""
    mu, _ = encode_mean(_model, _images)
    coords, how = latent_2d(mu)
    return mu, coords, how


@st.cache_resource(show_spinner=False, max_entries=2)
def _dev_images(run_id: str, _result: VAEResult) -> torch.Tensor:
    """The result's dev images as float tensors, unpacked once per run (the views only read them)."""
    return _result.images()


def latent_table(result: VAEResult, mu: np.ndarray, coords: np.ndarray) -> pd.DataFrame:
    """One row per dev image: its index, class, the 2-D coordinates shown and every μ_j."""
    labels = np.asarray(result.dev_labels)
    table = pd.DataFrame({"dev_index": np.arange(len(mu)), "label": labels,
                          "class": [result.classes[k] for k in labels], "x": coords[:, 0], "y": coords[:, 1]})
    for j in range(mu.shape[1]):
        table[f"mu_{j + 1}"] = mu[:, j]
    return table


def _summary(result: VAEResult, key: str) -> None:
    cfg, last = result.cfg, result.final
    cols = st.columns(4)
    if "dev_recon" in last:
        cols[0].metric("Reconstruction on dev (nats per image)", f"{last['dev_recon']:.2f}")
        cols[1].metric("KL on dev (nats)", f"{last['dev_kl']:.2f}")
        cols[2].metric("Dev loss recon + β·KL", f"{last['dev_recon'] + cfg.beta * last['dev_kl']:.2f}")
    cols[3].metric("Seconds per epoch", f"{result.lane.seconds_per_epoch or 0:.2f}",
                   help=f"on {result.device.upper()}")
    st.caption(f"This model: {cfg.arch} encoder and decoder, latent size {cfg.latent_dim}, β = {cfg.beta:g}, "
               f"{len(result.terms)} epoch(s) on {cfg.dataset}. Tracked as run `{result.lane.run_id}` in the "
               "*generative* experiment (with the reconstructions, prior samples and latent grid as images).")
    if result.terms and len(result.terms) > 1:
        with st.expander("The two loss terms per epoch", expanded=False):
            st.plotly_chart(loss_terms(result.terms, cfg.beta), key=f"{key}.final_terms")


def _reconstructions(model: VAE, images: torch.Tensor, key: str) -> None:
    n_dev = len(images)
    start = st.number_input("First dev image shown", 0, max(n_dev - N_RECON, 0), 0, step=N_RECON, key=f"{key}.recon_start")
    x = images[int(start): int(start) + N_RECON]
    rec = reconstruct(model, x)
    pic = image_grid(np.concatenate([x[:, 0].numpy(), rec]), cols=len(x), **GREY_LINES)
    st.plotly_chart(image_mosaic(pic, "Dev images (top) and their reconstructions decode(μ(x)) (bottom)",
                                 row_labels=["input", "reconstruction"]), key=f"{key}.recon")


def _latent_space(result: VAEResult, mu: np.ndarray, coords: np.ndarray, how: str, key: str,
                  ends: tuple[int, int]) -> None:
    highlight = {f"A (#{ends[0]})": coords[ends[0]], f"B (#{ends[1]})": coords[ends[1]]}
    st.plotly_chart(latent_scatter(coords, np.asarray(result.dev_labels), result.classes, how=how, highlight=highlight),
                    key=f"{key}.scatter")
    st.caption(f"Each dot is the mean code μ of one dev image ({len(mu):,} images), drawn as {how}. Classes the "
               "VAE was never told about still form regions: similar pictures get nearby codes. With β = 0 the "
               "cloud spreads far beyond the prior's ±2–3.")
    csv_button(st, "Download the latent coordinates (CSV)", latent_table(result, mu, coords),
               f"vae_latents_{result.cfg.dataset}.csv", key=f"{key}.latents_csv")


def _grid(result: VAEResult, model: VAE, key: str) -> None:
    L = result.cfg.latent_dim
    c1, c2, c3 = st.columns(3)
    n = c1.slider("Grid points per side", 5, 20, 12, key=f"{key}.grid_n")
    if L == 2:
        dims = (0, 1)
        note = f"the whole latent plane over [−{GRID_EXTENT:g}, {GRID_EXTENT:g}]²"
    else:
        a = c2.selectbox("Horizontal: latent dimension", list(range(1, L + 1)), 0, key=f"{key}.grid_a")
        b = c3.selectbox("Vertical: latent dimension", list(range(1, L + 1)), 1, key=f"{key}.grid_b")
        if a == b:
            st.warning("Choose two different latent dimensions.")
            return
        dims = (a - 1, b - 1)
        note = (f"z{dims[0] + 1} (left to right) and z{dims[1] + 1} (bottom to top) over [−{GRID_EXTENT:g}, "
                f"{GRID_EXTENT:g}], every other dimension at 0")
    grid = latent_grid(model, n, dims)
    pic = image_grid(grid.reshape(-1, *grid.shape[2:]), cols=n, **GREY_LINES)
    st.plotly_chart(image_mosaic(pic, "Latent-grid traversal", height=560), key=f"{key}.grid")
    st.caption(f"Decoded codes on {note}: the decoder's picture of each point of the latent space.")


def _interpolation(result: VAEResult, model: VAE, dev_images: torch.Tensor, key: str, ends: tuple[int, int]) -> None:
    steps = st.slider("Steps", 3, 15, 9, key=f"{key}.interp_steps")
    xa, xb = dev_images[ends[0]], dev_images[ends[1]]
    images = interpolate(model, xa, xb, steps)
    pic = image_grid(np.concatenate([xa[0][None].numpy(), images, xb[0][None].numpy()]), cols=steps + 2, **GREY_LINES)
    la, lb = (result.classes[int(result.dev_labels[i])] for i in ends)
    st.plotly_chart(image_mosaic(pic, f"From dev image #{ends[0]} ({la}) to #{ends[1]} ({lb}): the two inputs at the "
                                 f"ends, {steps} decoded points of the straight line μ(A) → μ(B) between them"),
                    key=f"{key}.interp")


def _samples(model: VAE, key: str) -> None:
    c1, c2 = st.columns(2)
    seed = c1.number_input("Seed of the samples", 0, 2**31 - 1, 0, key=f"{key}.sample_seed")
    n = c2.select_slider("Samples", [16, 32, 64, 100], 64, key=f"{key}.sample_n")
    cols = 10 if n == 100 else 8
    pic = image_grid(sample_prior(model, int(n), int(seed)), cols=cols, **GREY_LINES)
    st.plotly_chart(image_mosaic(pic, f"{n} new images decoded from z ~ N(0, I) (seed {seed})", height=520),
                    key=f"{key}.samples")
    st.download_button("Download the samples (PNG)", png_bytes((pic * 255).round().astype(np.uint8)),
                       f"vae_samples_seed{seed}.png", "image/png", key=f"{key}.samples_png")


def render_views(result: VAEResult, model: VAE, key: str) -> None:
    """Every view of a trained VAE (``model``: loaded from the run of ``result``); ``key`` prefixes the widget keys."""
    _summary(result, key)
    images = _dev_images(str(result.lane.run_id), result)
    mu, coords, how = _latents(str(result.lane.run_id), model, images)
    n_dev = len(mu)
    ss = st.session_state
    ends = (min(int(ss.get(f"{key}.interp_a", 0)), n_dev - 1), min(int(ss.get(f"{key}.interp_b", 1)), n_dev - 1))
    st.subheader("Reconstructions")
    _reconstructions(model, images, key)
    left, right = st.columns(2)
    with left:
        st.subheader("Latent space")
        _latent_space(result, mu, coords, how, key, ends)
    with right:
        st.subheader("Latent grid")
        _grid(result, model, key)
    st.subheader("Interpolation between two dev images")
    c1, c2 = st.columns(2)
    a = int(c1.number_input("Dev image A", 0, n_dev - 1, 0, key=f"{key}.interp_a"))
    b = int(c2.number_input("Dev image B", 0, n_dev - 1, min(1, n_dev - 1), key=f"{key}.interp_b"))
    _interpolation(result, model, images, key, (a, b))
    st.subheader("Samples from the prior")
    _samples(model, key)
