"""The Style transfer tab: pick a content and a style image, set the costs' layers and weights, and watch
the generated image change step by step as a tracked job; download the result."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from core.artifacts import image_grid, png_bytes
from core.device import fast_bf16, pick_device
from core.plots.style import COST_COLORS, cost_curves, gram_pair
from core.pretrained import hub_path
from core.settings import default_of, meta
from core.style import vgg
from core.style.patterns import DEFAULT_STYLE, STYLE_IMAGES
from core.style.transfer import (
    BETA_CHOICES,
    PROGRESS_TILES,
    SMALLEST_SIZE,
    STRENGTH_CHOICES,
    STYLE_DEFAULT_LR,
    StyleConfig,
    StyleRequest,
    StyleResult,
    default_steps,
    progress_frames,
    run_style,
    size_limits,
)
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.tables import csv_button
from ui.upload import image_input

PAGE = "style"
JOB = "style"
CONTENT_KEY, STYLE_KEY = f"{PAGE}.picked_content", f"{PAGE}.picked_style"  # shared with the reconstruction tab


GHOST = dict(key=f"{PAGE}.ghost", kind="")  # ghost box: before training and live


def weights_note() -> None:
    """Say plainly which VGG-19 weights a run will use (without touching the network)."""
    if hub_path(vgg.URL).is_file():
        st.caption(f"VGG-19's ImageNet weights are on this machine ({hub_path(vgg.URL)}).")
    else:
        st.info(
            "VGG-19's ImageNet weights (548 MB) are not on this machine yet. The first run tries to download them "
            "once into the torch cache; if it cannot (no internet), it runs VGG-19 with random weights and says so. "
            "Random filters still match colours and fine texture, but the painted look needs the trained network.",
            icon=":material/cloud_download:",
        )


def pick_images() -> tuple | None:
    """The two pictures (content, style) as DecodedImages; also kept for the other tabs."""
    c1, c2 = st.columns(2)
    with c1:
        content = image_input(f"{PAGE}.content", label="Content image", default="Cat (Chelsea)")
        if content is not None:
            st.image(content.image, caption=f"Content C: {content.name}", width=260)
    with c2:
        style = image_input(f"{PAGE}.style", label="Style image", extra_samples=STYLE_IMAGES, default=DEFAULT_STYLE)
        if style is not None:
            st.image(style.image, caption=f"Style S: {style.name}", width=260)
    st.session_state[CONTENT_KEY], st.session_state[STYLE_KEY] = content, style
    if content is None or style is None:
        return None
    return content, style


def _style_layers() -> tuple[tuple[str, float], ...]:
    layers = meta(StyleConfig, "style_layers")
    chosen = st.multiselect(layers.label, list(vgg.LAYERS), default=list(vgg.STYLE_LAYERS_GATYS),
                            key=f"{PAGE}.style_layers", help=layers.help)
    if not chosen:
        return ()
    st.caption("Weight λ of each style layer in J_style = Σ λ·J_style of the layer:")
    cols = st.columns(min(len(chosen), 6))
    weights = []
    for i, name in enumerate(chosen):
        w = cols[i % len(cols)].number_input(f"λ {name}", 0.0, 100.0, round(1.0 / len(chosen), 3), step=0.05,
                                             format="%g", key=f"{PAGE}.lambda.{name}")
        weights.append((name, float(w)))
    return tuple(weights)


def _segmented(where, name: str, key: str, **kw):
    """A choice of StyleConfig drawn as a segmented control (its label, choices and default declared once)."""
    s = meta(StyleConfig, name)
    default = default_of(StyleConfig, name)
    return where.segmented_control(s.label, list(s.allowed()), default=default, required=True, key=key, **kw) or default


def settings() -> StyleConfig | None:
    """The controls; returns a valid config or shows why not (None)."""
    dev = pick_device()
    default_size, cap = size_limits(dev)
    c1, c2, c3 = st.columns(3)
    size_s = meta(StyleConfig, "size")  # its range: SMALLEST_SIZE to the device's cap
    size = c1.slider(size_s.label, SMALLEST_SIZE, cap, default_size, int(size_s.step), key=f"{PAGE}.size",
                     help=f"Capped at {cap} px on this {dev.type.upper()}: every step runs VGG-19 forward and backward "
                          "over the whole image, and the time grows with the number of pixels.")
    steps = form.field(c1, StyleConfig, "steps", key=f"{PAGE}.steps", value=default_steps(dev))
    optimizer = _segmented(c2, "optimizer", f"{PAGE}.optimizer")
    lr = form.field(c2, StyleConfig, "learning_rate", key=f"{PAGE}.lr.{optimizer}", value=STYLE_DEFAULT_LR[optimizer])
    init = _segmented(c3, "init", f"{PAGE}.init",
                      format_func=lambda s: "the content image" if s == "content" else "random noise")
    content_layer = form.field(c3, StyleConfig, "content_layer", key=f"{PAGE}.content_layer", options=vgg.LAYERS)
    style_layers = _style_layers()
    b1, b2, b3 = st.columns(3)
    alpha = form.field(b1, StyleConfig, "alpha", key=f"{PAGE}.alpha")
    mode = b2.radio("β (style weight)", ["from a style strength", "set directly"], key=f"{PAGE}.beta_mode",
                    help="J_content and J_style differ by many orders of magnitude. The strength r picks β so that "
                         "β·J_style(S, C) = r·α·J_content(C, S): the content image's style cost weighs r times the "
                         "style image's content cost.")
    if mode == "from a style strength":
        strength = form.field(b3, StyleConfig, "style_strength", key=f"{PAGE}.strength", options=STRENGTH_CHOICES)
        beta = 0.0
    else:
        strength = None
        beta = form.field(b3, StyleConfig, "beta", key=f"{PAGE}.beta", options=BETA_CHOICES,
                          format_func=lambda b: f"1e{round(math.log10(b))}")
    with st.expander("More settings"):
        e1, e2, e3 = st.columns(3)
        pooling = form.field(e1, StyleConfig, "pooling", key=f"{PAGE}.pooling")
        precision = form.field(e2, StyleConfig, "precision", key=f"{PAGE}.precision",
                               help="auto: the convolutions run in bf16 where the hardware has bf16 units "
                                    f"({'yes' if fast_bf16(dev) else 'not'} on this {dev.type.upper()}); the costs stay "
                                    "in float32.")
        every = form.field(e3, StyleConfig, "every", key=f"{PAGE}.every")
    try:
        return StyleConfig(content_layer=content_layer, style_layers=style_layers, alpha=alpha, beta=beta,
                           style_strength=strength, steps=steps, size=size, optimizer=optimizer, learning_rate=lr,
                           init=init, pooling=pooling, precision=precision, every=every, seed=shell.global_seed(),
                           max_size=cap)
    except ValueError as exc:
        message = str(exc)
        st.error(f"{message[:1].upper()}{message[1:]}.", icon=":material/error:")
        return None


def render() -> None:
    st.markdown(
        "Choose a **content** picture and a **style** picture (a sample, one the lab draws, or your own upload). "
        "Each step runs the generated image G through VGG-19, measures J(G) = α·J_content(C, G) + β·J_style(S, G), "
        "and moves G's pixels downhill. The style image is scaled and cropped to the content image's shape, so "
        "that their Gram matrices sum over the same number of positions."
    )
    weights_note()
    picked = pick_images()
    cfg = settings()
    go = st.button("Start style transfer", type="primary", icon=":material/palette:", key=f"{PAGE}.start",
                   disabled=jobs.is_active(JOB) or cfg is None or picked is None)
    st.caption(
        "**Things to try:** a style strength of 0.03 and of 3; start from noise with α = 0 (pure texture); only "
        "conv1_1 as the style layer (colours, no strokes) against only conv5_1; the content layer conv1_2 against "
        "conv5_2; Adam against L-BFGS for the same number of steps (compare the curves on the Runs page)."
    )
    if go and cfg is not None and picked is not None:
        content, style = picked
        jobs.start(JOB, run_style, StyleRequest(cfg, content.image, style.image, content.name, style.name),
                   name="style transfer")
    ghost_ui.before(JOB, PAGE, **GHOST)
    jobs.panel(JOB, _view, every=1.5)


def _view(snap) -> None:
    rows = snap.metrics.get("costs", [])
    result: StyleResult | None = snap.result
    if not snap.done:
        c1, c2 = st.columns([2, 3])
        current = snap.images.get("current")
        if current is not None:
            c1.image(current, caption=f"G after step {rows[-1]['step'] if rows else 0}", width="stretch")
        if rows:
            with c2:
                ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
            c2.plotly_chart(ghost_ui.overlay(cost_curves(rows), ghost, "J_total", label="J (total)", log_y=True,
                                             color=COST_COLORS["J_total"]), key=f"{PAGE}.live_costs")
        return
    if result is None:
        return
    if result.stopped:
        st.caption(f"Stopped after {result.steps_done} steps: the image so far is kept below, downloadable and tracked.")
    elif result.diverged:  # the sentence itself is the job panel's; here: which image is kept
        st.caption(f"The last good image (after step {result.steps_done}) is kept below, downloadable and tracked.")
    _result(result)


def _result(res: StyleResult) -> None:
    c1, c2, c3 = st.columns(3)
    c1.image(res.content, caption="Content C", width="stretch")
    if res.style is not None:
        c2.image(res.style, caption="Style S (cropped to C's shape)", width="stretch")
    weights = "" if res.pretrained else " (VGG-19 with random weights)"
    c3.image(res.image, caption=f"Generated G after {res.steps_done} steps{weights}", width="stretch")
    name = f"style_transfer_{res.config.optimizer.lower().replace('-', '')}_{res.steps_done}steps.png"
    c3.download_button("Download the image (PNG)", png_bytes(res.image), name, mime="image/png",
                       key=f"{PAGE}.download", icon=":material/download:")
    m = st.columns(4)
    m[0].metric("Seconds per step", f"{res.seconds_per_step:.3f}", help=f"{res.device.upper()}, "
                f"{'bf16' if res.bf16 else 'fp32'} convolutions, {res.image.shape[1]}×{res.image.shape[0]} px")
    if res.history:
        last = res.history[-1]
        m[1].metric("J_content (last step)", f"{last['J_content']:.4g}")
        m[2].metric("J_style (last step)", f"{last['J_style']:.4g}")
    m[3].metric("β used", f"{res.beta:.4g}" if res.config.style_on else "0",
                help="Chosen from the style strength r" if res.config.style_strength is not None else "Set directly")
    if res.history:
        st.plotly_chart(cost_curves(res.history), key=f"{PAGE}.costs")
        csv_button(st, "Download the costs per step (CSV)", pd.DataFrame(res.history), "style_costs.csv",
                   f"{PAGE}.costs_csv")
    if len(res.snapshots) > 1:
        frames = progress_frames(res.snapshots)
        strip = (image_grid(frames / 255, len(frames), **PROGRESS_TILES) * 255).round().astype(np.uint8)
        st.image(strip, caption="From the start image (left) to the result (right)",
                 width="stretch")
    if res.grams:
        st.markdown("**Gram matrices.** The style cost compares these: how strongly each pair of channels fires "
                    "together over the whole image, for the style image and for G. Where the style cost did its work, "
                    "the two look alike and the difference is pale.")
        g1, g2, g3 = st.columns(3)
        layer = g1.selectbox("Layer", list(res.grams), key=f"{PAGE}.gram_layer")
        n = res.grams[layer][0].shape[0]
        channels = g2.slider("Channels shown", 8, n, min(n, 64), 8, key=f"{PAGE}.gram_channels")
        sqrt = g3.toggle("Square-root colours", True, key=f"{PAGE}.gram_sqrt",
                         help="Spreads the colours over the many small entries; the numbers stay as they are.")
        g_s, g_g = res.grams[layer]
        st.plotly_chart(gram_pair(g_s, g_g, layer=layer, channels=channels, gamma=0.5 if sqrt else 1.0),
                        key=f"{PAGE}.gram")
    if res.run_id:
        st.caption(f"Tracked as run `{res.run_id}` in the *style* experiment, with the settings, the costs per step "
                   "and the images. Compare runs on the Runs page.")
