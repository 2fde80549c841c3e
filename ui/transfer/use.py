"""The Transfer learning page's third tab: try the trained network on new pictures, see where it
looked, and take it away as TorchScript and ONNX."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from core.artifacts import heatmap_overlay, png_bytes
from core.experiment import FINISHED, Lane
from core.plots.cnn import probability_bars
from core.transfer import backbones as B
from core.transfer.cam import predict
from core.transfer.data import EXAMPLE_SETS, example_set
from core.transfer.export import export_bundle
from core.transfer.training import TransferResult, load_network
from ui import tracked, upload
from ui.transfer import training

PAGE = "transfer"
EXPORTS = f"{PAGE}.exports"  # {(comparison, lane): ExportBundle}


@st.cache_resource(show_spinner=False)
def _fresh_examples() -> dict:
    """New pictures from the example sets (a seed no class set uses), as extra "sample photos"."""
    out = {}
    for name in EXAMPLE_SETS:
        for cls, images in example_set(name, per_class=2, seed=10_007).items():
            for i, im in enumerate(images):
                out[f"New {cls} picture {i + 1}"] = (lambda im=im: im)
    return out


def render() -> None:
    st.markdown(
        "Show the trained network a picture it has never seen: it answers with a probability per class, and the "
        "**class activation map** (Grad-CAM) colours the parts of the picture that pushed it towards the class — "
        "bright means \"this is why\". Then take the network with you: TorchScript and ONNX files with the class "
        "labels and a few lines of code to use them. **Try:** a picture of one class with clutter around it, and "
        "check that the bright region sits on the object, not on the background."
    )
    res = training.result()
    done = {n: lane for n, lane in (res.lanes.items() if res else [])
            if lane.status == FINISHED and lane.run_id is not None}
    if not done:
        st.info("Train a network in the *Train* tab first; it appears here when it has finished.",
                icon=":material/school:")
        return
    best = res.best
    names = list(done)
    lane_name = st.radio("Network", names, index=names.index(best.name), horizontal=True, key=f"{PAGE}.use_lane",
                         format_func=lambda n: f"{n} ({done[n].dev_accuracy:.0%} on dev)")
    chosen = done.get(lane_name) or best
    try:
        model = lane_network(chosen)
    except ValueError as exc:
        st.error(f"The trained network cannot be loaded from its run: {exc}.", icon=":material/error:")
        return
    picture = upload.image_input(f"{PAGE}.picture", label="Picture", camera=True, max_side=1024,
                                 extra_samples=_fresh_examples())
    if picture is not None:
        _prediction(res, model, picture)
    st.divider()
    _export(res, lane_name, model)


def lane_network(chosen: Lane) -> B.TransferNet:
    """The lane's trained network, rebuilt from its tracked run (once per process)."""
    return tracked.network(load_network, chosen.run_id)


def _prediction(res: TransferResult, model: B.TransferNet, picture) -> None:
    size = res.cfg.image_size
    first = predict(model, picture.image, size)
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    target = c1.selectbox("Explain the class", list(res.names), index=first.predicted, key=f"{PAGE}.cam_class",
                          help="The map shows what speaks for this class; by default the predicted one.")
    strength = c2.slider("Map strength", 0.0, 1.0, 0.5, 0.05, key=f"{PAGE}.cam_strength")
    pred = first if res.names.index(target) == first.predicted else predict(model, picture.image, size,
                                                                             target=res.names.index(target))
    shown = heatmap_overlay(pred.view, pred.heatmap, strength).resize((320, 320), Image.Resampling.BILINEAR)
    left, mid, right = st.columns([1, 1, 2])
    left.image(pred.view.resize((320, 320), Image.Resampling.BILINEAR), caption=f"What the network saw ({size}×{size})",
               width="stretch")
    mid.image(shown, caption=f"Where it looked for “{target}”", width="stretch")
    right.plotly_chart(probability_bars(pred.probabilities, res.names,
                                        title=f"It says: {res.names[pred.predicted]} "
                                              f"({pred.probabilities.max():.0%})"), key=f"{PAGE}.probs")
    if not pred.heatmap.any():
        mid.caption("The map is empty: nothing in this picture speaks for this class.")
    right.caption("A classifier always answers with one of its own classes, so a picture of something else "
                  "still gets one — look at how sure it is.")
    mid.download_button("Download the map (PNG)", png_bytes(np.asarray(shown)), "activation_map.png", key=f"{PAGE}.cam_png",
                        icon=":material/download:")


def _export(res: TransferResult, lane_name: str, model: B.TransferNet) -> None:
    st.subheader("Take it with you")
    key = (res.comparison, lane_name)
    bundles = st.session_state.setdefault(EXPORTS, {})
    bundle = bundles.get(key)
    if bundle is None:
        st.caption("The export traces the network into TorchScript and converts it to ONNX (a few seconds).")
        if st.button("Prepare the downloads", icon=":material/package_2:", key=f"{PAGE}.export"):
            try:
                with st.spinner("Tracing to TorchScript and converting to ONNX…"):
                    bundle = export_bundle(model, res.names, res.cfg.image_size)
            except Exception as exc:  # noqa: BLE001 - an export failure is reported, the page goes on
                st.error(f"The export failed ({type(exc).__name__}: {str(exc)[:200]}).")
                return
            bundles.clear()  # one bundle per session is enough (they are tens of MB)
            bundles[key] = bundle
            st.rerun()
    if bundle is None:
        return
    stem = f"{res.cfg.backbone.lower().replace(' ', '-')}-{len(res.names)}-classes"
    c1, c2, c3, c4 = st.columns(4)
    # the files (tens of MB) are handed over when a button is pressed, not sent along at every rerun
    c1.download_button("Everything (.zip)", bundle.zip_bytes, f"{stem}.zip", type="primary",
                       icon=":material/folder_zip:", key=f"{PAGE}.dl_zip", on_click="ignore")
    for col, (label, file, name) in zip((c2, c3, c4), (("TorchScript (.pt)", "model.pt", f"{stem}.pt"),
                                                       ("ONNX (.onnx)", "model.onnx", f"{stem}.onnx"),
                                                       ("Labels (.txt)", "labels.txt", "labels.txt")), strict=True):
        col.download_button(label, lambda file=file: bundle.files[file], name, key=f"{PAGE}.dl_{file}",
                            on_click="ignore")
    readme = bundle.files["README.md"].decode().split("\n", 2)[2]  # without its title
    st.markdown(readme.replace("\n## ", "\n##### "))
