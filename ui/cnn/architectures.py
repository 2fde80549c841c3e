"""The "Architectures" tab of the CNNs page: the classic networks layer by layer (shapes, parameters,
multiply-adds, compared with torchvision) and the 1×1 bottleneck calculator. Logic in
core/cnn/models.py and core/cnn/anatomy.py; widget keys are prefixed "cnn."."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
import torch

from core.cnn import anatomy
from core.cnn.models import ARCHITECTURES
from core.plots import cnn_arch as plots
from ui.tables import table_with_csv

PAGE = "cnn"
SIZES = ("Full size", "Small input (28–32 px)")
ROWS = ("every layer", "one row per block")


@st.cache_data(show_spinner=False, max_entries=32)
def _anatomy(name: str, small: bool) -> dict[str, Any]:
    """Everything the section shows about one architecture, traced on the meta device (no weights)."""
    spec = ARCHITECTURES[name]
    with torch.device("meta"):
        model = spec.model(small)
    shape = spec.input_shape(small)
    layers = anatomy.trace(model, shape, "layers")
    return {
        "layers": layers, "blocks": anatomy.trace(model, shape, "blocks"), "flow": anatomy.shape_flow(model, shape),
        "params": anatomy.count_params(model), "macs": sum(la.macs for la in layers),
        "input": shape, "classes": spec.classes(small),
    }


@st.cache_data(show_spinner=False)
def _torchvision_params(fn: str, n_classes: int) -> int:
    return anatomy.torchvision_params(fn, n_classes)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-").replace("--", "-")


def _table(layers: list[anatomy.Layer]) -> pd.DataFrame:
    rows = [la.row() for la in layers]
    rows.append({"name": "total", "layer": "", "output shape": "", "parameters": sum(la.params for la in layers),
                 "multiply-adds": sum(la.macs for la in layers)})
    return pd.DataFrame(rows, columns=list(anatomy.COLUMNS))


def _architectures() -> None:
    st.subheader("Classic architectures, layer by layer")
    st.markdown(
        "Pick a network and see what happens to one image on its way through: the size of the volume after "
        "every layer, how many weights each layer has and how many multiply-adds it costs. The full-size "
        "versions are the ImageNet networks (224×224 colour images); the small versions are the variants "
        "for 28–32 px images that you can train on this page. **Try:** compare where AlexNet and VGG-16 keep "
        "their parameters (the fully connected layers) with where they spend their computation (the "
        "convolutions), then see how ResNet-50 gets by with far fewer parameters."
    )
    left, right = st.columns([2, 3])
    name = left.selectbox("Architecture to inspect", list(ARCHITECTURES), key=f"{PAGE}.arch")
    size = right.radio("Version", SIZES, key=f"{PAGE}.arch_size", horizontal=True)
    spec, small = ARCHITECTURES[name], size == SIZES[1]
    info = _anatomy(name, small)
    st.markdown(f"**{name}.** {spec.blurb}")
    if small and spec.small_note:
        st.markdown(f"*Small input:* {spec.small_note}")
    st.caption(f"Paper: {spec.paper}")

    c, h, w = info["input"]
    cols = st.columns(4)
    cols[0].metric("Input", f"{c}×{h}×{w}", help=f"channels × height × width; {info['classes']} classes out")
    cols[1].metric("Parameters", f"{info['params']:,}")
    cols[2].metric("Multiply-adds per image", plots.human(info["macs"]),
                   help=f"{info['macs']:,} multiply-adds in the convolutions and fully connected layers for one image")
    if spec.torchvision and not small:
        tv = _torchvision_params(spec.torchvision, info["classes"])
        same = tv == info["params"]
        cols[3].metric(f"torchvision: {spec.torchvision}()", f"{tv:,}",
                       delta="same count as ours" if same else f"{info['params'] - tv:+,} in ours",
                       delta_color="normal" if same else "inverse", delta_arrow="off",
                       help=f"Parameters of torchvision.models.{spec.torchvision}(weights=None), built here without "
                            "weights. The same count means the same layers with the same sizes.")
    else:
        cols[3].metric(f"torchvision: {spec.torchvision}()" if spec.torchvision else "torchvision",
                       "—" if spec.torchvision else "none",
                       help="torchvision has no model with exactly these layers." if not spec.torchvision
                       else "torchvision's model is the full-size version; choose Full size to compare the counts.")

    st.plotly_chart(plots.shape_flow_figure(info["flow"]), key=f"{PAGE}.arch_flow")
    st.caption(
        "Each box is the volume after one step: the front face grows with the height and width, the depth with "
        "the number of channels (both on a log scale). Watch the pattern shared by all of them: the image "
        "gets smaller while the channels grow, until a vector of class scores is left. Hover a box for the layer."
    )

    has_blocks = len(info["blocks"]) < len(info["layers"])
    detail = st.radio("Table rows", ROWS, key=f"{PAGE}.arch_rows", horizontal=True) if has_blocks else ROWS[0]
    layers = info["blocks"] if detail == ROWS[1] else info["layers"]
    number = st.column_config.NumberColumn(format="localized")
    table_with_csv(
        _table(layers), "Download the layer table (CSV)", f"{_slug(name)}-{'small' if small else 'full'}-layers.csv",
        f"{PAGE}.arch_csv",
        column_config={"layer": st.column_config.TextColumn(width="large"), "parameters": number, "multiply-adds": number},
        caption="Output shapes are for one image (channels×height×width, or the length of a vector). Multiply-adds "
                "count the convolutions and fully connected layers, which do nearly all the arithmetic; a "
                "convolution costs (output values) × (input channels) × k × k. Conv k×k, sN, pP: kernel, stride, padding.",
    )
    st.plotly_chart(plots.layer_costs(info["flow"]), key=f"{PAGE}.arch_costs")
    st.caption("Log scales: each grid line is ten times the one before. Layers without weights (pooling, "
               "activations) are left out.")


def _calculator() -> None:
    st.subheader("1×1 bottleneck calculator")
    st.markdown(
        "A convolution with f×f filters looks at every input channel at every position, so its cost grows with "
        "the number of input channels. A 1×1 convolution first squeezes the volume to a few channels (the "
        "bottleneck), and the expensive f×f filters then read only those. **Try:** the defaults are GoogLeNet's "
        "5×5 branch (28×28×192 in, 32 filters); shrink the bottleneck to 4 channels or widen it to 192 and "
        "watch the saving."
    )
    cols = st.columns(6)
    h = cols[0].number_input("Volume height H", 1, 1024, 28, key=f"{PAGE}.bn_h")
    w = cols[1].number_input("Volume width W", 1, 1024, 28, key=f"{PAGE}.bn_w")
    c_in = cols[2].number_input("Volume channels", 1, 8192, 192, key=f"{PAGE}.bn_c")
    f = cols[3].number_input("Large filter size f", 1, 15, 5, key=f"{PAGE}.bn_f")
    n = cols[4].number_input("Large filters", 1, 8192, 32, key=f"{PAGE}.bn_n")
    mid = cols[5].number_input("Bottleneck channels", 1, 8192, 16, key=f"{PAGE}.bn_mid")
    cost = anatomy.bottleneck_cost(int(h), int(w), int(c_in), int(f), int(n), int(mid))

    def tex(v: int) -> str:
        return f"{v:,}".replace(",", "{,}")

    st.markdown(f"Both turn the {h}×{w}×{c_in} volume into {h}×{w}×{n} (\"same\" padding). Each output value of a "
                f"convolution costs one multiply per weight of its filter; with $n_C$ input channels, $n_f$ filters "
                f"of size $f×f$ and $n_b$ bottleneck channels the multiplies are:")
    st.latex(rf"\text{{direct: }}\; H\cdot W\cdot n_f\cdot f\cdot f\cdot n_C = {h}\cdot{w}\cdot{n}\cdot{f}\cdot{f}\cdot{c_in}"
             rf" = {tex(cost['direct_multiplies'])}")
    st.latex(rf"\text{{1×1 reduce: }}\; H\cdot W\cdot n_b\cdot n_C = {h}\cdot{w}\cdot{mid}\cdot{c_in} = {tex(cost['reduce_multiplies'])}")
    st.latex(rf"\text{{then }}{f}\times{f}\text{{: }}\; H\cdot W\cdot n_f\cdot f\cdot f\cdot n_b = {h}\cdot{w}\cdot{n}\cdot{f}\cdot{f}\cdot{mid}"
             rf" = {tex(cost['conv_multiplies'])}")
    st.latex(rf"\text{{bottleneck total: }}\; {tex(cost['reduce_multiplies'])} + {tex(cost['conv_multiplies'])}"
             rf" = {tex(cost['bottleneck_multiplies'])}")
    m = st.columns(3)
    m[0].metric("Direct: multiplies", f"{cost['direct_multiplies']:,}")
    m[1].metric("Through the bottleneck: multiplies", f"{cost['bottleneck_multiplies']:,}")
    m[2].metric("Saving", f"{cost['ratio']:.1f}× fewer" if cost["ratio"] >= 1 else f"{1 / cost['ratio']:.1f}× more")
    st.markdown(
        f"The weights shrink by about as much: {cost['direct_params']:,} parameters directly "
        f"({f}·{f}·{c_in}·{n} weights + {n} biases) against {cost['bottleneck_params']:,} through the bottleneck "
        f"({c_in}·{mid} + {mid} for the 1×1 layer, {f}·{f}·{mid}·{n} + {n} for the {f}×{f} layer)."
    )
    if cost["ratio"] < 1:
        st.warning("With this many bottleneck channels the 1×1 layer costs more than it saves: a bottleneck "
                   "only pays off when it has clearly fewer channels than its input.", icon=":material/warning:")
    st.plotly_chart(plots.bottleneck_chart(cost, f=int(f)), key=f"{PAGE}.bn_chart")
    st.markdown(
        "**The Inception module** (Szegedy et al. 2015) puts this idea to work. Instead of choosing one filter "
        "size per layer, it runs four branches side by side on the same input and stacks their outputs along "
        "the channels:\n"
        "- a **1×1 convolution**, which mixes the channels at each position;\n"
        "- a **1×1 bottleneck, then 3×3**, for patterns a few pixels wide;\n"
        "- a **1×1 bottleneck, then 5×5**, for wider patterns — the branch costed above;\n"
        "- a **3×3 max pool (stride 1), then a 1×1 projection**, so the pooled branch does not pass all the "
        "input channels on.\n\n"
        "All branches keep the height and width, so their outputs can be concatenated. GoogLeNet's module 3a "
        "turns 28×28×192 into 28×28×256 (64 + 128 + 32 + 32 channels). Choose **Inception (small)** at full "
        "size above to see it layer by layer."
    )


def render() -> None:
    _architectures()
    st.divider()
    _calculator()
