"""The "What each cost keeps" tab: rebuild the content image from one layer's activations alone, and the
style image from its Gram matrices alone, both starting from noise (Gatys et al. 2016, figure 1)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.device import pick_device
from core.style import vgg
from core.style.reconstruct import (
    ReconstructConfig,
    ReconstructRequest,
    ReconstructResult,
    run_reconstructions,
)
from core.style.transfer import size_limits
from ui import form, jobs, shell
from ui.style.transfer import CONTENT_KEY, PAGE, STYLE_KEY
from ui.tables import csv_button

JOB = f"{PAGE}.reconstruct"


def render() -> None:
    st.markdown(
        "Each cost on its own, starting from random noise. **Content only** (β = 0): the pixels change until one "
        "layer's activations match the content image's. Shallow layers hand back the photo almost exactly; deep "
        "layers keep *what is where* and let colours and fine detail go, which is why style transfer takes its "
        "content from a deep layer. **Style only** (α = 0): the pixels change until the Gram matrices match the "
        "style image's, over the first 1 to 5 style layers. Positions are summed away, so what comes back is "
        "texture and colour at a growing scale, with no arrangement at all. The pictures are the ones chosen in "
        "the first tab."
    )
    content, style = st.session_state.get(CONTENT_KEY), st.session_state.get(STYLE_KEY)
    dev = pick_device()
    _, cap = size_limits(dev)
    c1, c2, c3 = st.columns(3)
    layers = form.field(c1, ReconstructConfig, "content_layers", key=f"{JOB}.layers")
    depths = form.field(c2, ReconstructConfig, "style_depths", key=f"{JOB}.depths")
    size = form.field(c3, ReconstructConfig, "size", key=f"{JOB}.size")
    steps = form.field(c3, ReconstructConfig, "steps", key=f"{JOB}.steps")
    cfg = None
    try:
        cfg = ReconstructConfig(content_layers=tuple(layers), style_depths=tuple(sorted(depths)), steps=steps, size=size,
                                seed=shell.global_seed(), max_size=cap)
    except ValueError as exc:
        st.error(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", icon=":material/error:")
    missing = content is None or style is None
    if missing:
        st.info("Choose a content and a style image in the first tab.", icon=":material/image:")
    go = st.button("Rebuild from noise", type="primary", icon=":material/blur_on:", key=f"{JOB}.start",
                   disabled=cfg is None or missing or jobs.is_active(JOB))
    if go and cfg is not None and not missing:
        jobs.start(JOB, run_reconstructions, ReconstructRequest(cfg, content.image, style.image, content.name, style.name),
                   name="reconstructions")
    jobs.panel(JOB, _view, every=1.5)


def _grid(items: list[tuple[str, object, str]]) -> None:
    if not items:
        return
    cols = st.columns(max(len(items), 3))
    for col, (label, image, caption) in zip(cols, items):
        col.image(image, caption=f"{label} · {caption}" if caption else label, width="stretch")


def _view(snap) -> None:
    result: ReconstructResult | None = snap.result
    if result is None:  # live: the images finished so far
        done = [(name, img, "") for name, img in snap.images.items()]
        _grid([d for d in done if d[0].startswith("content")])
        _grid([d for d in done if d[0].startswith("style")])
        return
    if not result.pretrained:
        st.warning("Made with VGG-19's random weights (the ImageNet weights were not available): random filters "
                   "keep colours and fine texture, but deep layers of an untrained network do not describe objects, "
                   "so the deep content reconstructions stay noisy.", icon=":material/warning:")
    st.markdown("**From the content image's activations** (content cost only)")
    _grid([("Content image", result.content, "")]
          + [(r.label, r.image, f"J_content {r.first_cost:.3g} → {r.final_cost:.3g}") for r in result.of("content")])
    st.markdown("**From the style image's Gram matrices** (style cost only)")
    _grid([("Style image", result.style, "")]
          + [(r.label, r.image, f"J_style {r.first_cost:.3g} → {r.final_cost:.3g}") for r in result.of("style")])
    table = pd.DataFrame([{"cost": r.kind, "layers": r.label, "J at the start": r.first_cost, "J at the end": r.final_cost,
                           "seconds": round(r.seconds, 2)} for r in result.items])
    csv_button(st, "Download the costs (CSV)", table, "style_reconstructions.csv", f"{JOB}.csv")
    depth = {r.label: vgg.LAYERS.index(r.label.split(" … ")[-1]) + 1 for r in result.items}
    tracked = f"Tracked as run `{result.run_id}` in the *style* experiment." if result.run_id else ""
    if depth:
        st.caption("Deeper reconstructions take longer per step: the network runs up to the deepest layer used "
                   f"(here up to {max(depth.values())} of VGG-19's 16 convolutions) and no further. " + tracked)
    elif tracked:
        st.caption(tracked)
