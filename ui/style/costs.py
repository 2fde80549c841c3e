"""The style page's "Costs and Gram matrices" tab: two pictures through VGG-19, a few feature maps of
each at one layer, their Gram matrices side by side, and the course's content and style costs between
them with the numbers. The computing lives in :mod:`core.style.explore`, the figures in
:mod:`core.plots.style`."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core.plots.style import feature_maps, gram_pair, layer_costs_bar
from core.style import explore, vgg
from core.style.patterns import DEFAULT_STYLE, STYLE_IMAGES
from core.style.transfer import features
from ui import upload
from ui.tables import table_with_csv

PAGE = "style"
KEY = f"{PAGE}.costs"
DEFAULT_PHOTO = "Cat (Chelsea)"
DEFAULT_LAYER = "conv3_1"
DEFAULT_SIZE = 128
SHOW = {"A": "most active on Image A", "B": "most active on Image B", "differ": "most different between A and B"}
J_CONTENT, J_STYLE = "J_content(A, B)", "J_style^[l](A, B)"


@st.cache_resource(max_entries=2, show_spinner=False)
def _extractor(layers: tuple[str, ...], pretrained: bool) -> vgg.Extractor:
    """One extractor per layer set (and per weights: a new one once the ImageNet file appears)."""
    return vgg.Extractor(features(allow_download=False)[0], layers)


@st.cache_data(max_entries=6, show_spinner=False)
def _compare(digest_a: str, digest_b: str, layer: str, size: int, kind: str, pretrained: bool,
             _a: Image.Image, _b: Image.Image) -> explore.StyleComparison:
    return explore.compare(_a, _b, layer, size, kind=kind,
                           extractor_module=_extractor(explore.layers_for(layer), pretrained))


def _digest(image: Image.Image) -> str:
    return hashlib.sha256(f"{image.size}{image.mode}".encode() + image.tobytes()).hexdigest()


def _tex(v: float) -> str:
    """A number for LaTeX: 4 significant digits, powers of ten written out."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    exp = math.floor(math.log10(abs(v)))
    if -3 <= exp <= 3:
        return f"{v:.4g}"
    return rf"{v / 10 ** exp:.3f}\times 10^{{{exp}}}"


def _layer_label(layer: str) -> str:
    role = " · style layer" if layer in vgg.STYLE_LAYERS_GATYS else ""
    role += " · Gatys's content layer" if layer == vgg.CONTENT_LAYER_GATYS else ""
    return f"{layer} ({vgg.channels(layer)} channels, 1/{vgg.downsampling(layer)} size{role})"


def _formulas() -> None:
    st.markdown("#### The costs, as the course writes them")
    left, right = st.columns(2)
    with left:
        st.markdown("**Gram matrix.** For each pair of channels k, k' of layer l, multiply their maps position "
                    "by position and add everything up. A large value means the two features tend to appear "
                    "*together*; where they appear is summed away.")
        st.latex(r"G^{[l]}_{kk'} = \sum_{i=1}^{n_H}\sum_{j=1}^{n_W} a^{[l]}_{ijk}\, a^{[l]}_{ijk'}")
        st.markdown("**Style cost of one layer.** The squared differences of two Gram matrices, scaled down by "
                    "the layer's size so that layers of different sizes can be added:")
        st.latex(r"J^{[l]}_{style}(S,G) = \frac{1}{\left(2\, n^{[l]}_H n^{[l]}_W n^{[l]}_C\right)^2}"
                 r"\sum_{k}\sum_{k'}\left(G^{[l](S)}_{kk'} - G^{[l](G)}_{kk'}\right)^2")
    with right:
        st.markdown("**Content cost.** Half the squared difference of the activations, at every position and "
                    "channel of one layer: it is small only when the same features fire at the same places.")
        st.latex(r"J_{content}(C,G) = \frac{1}{2}\sum_{i,j,k}\left(a^{[l](C)}_{ijk} - a^{[l](G)}_{ijk}\right)^2")
        st.markdown("**Style cost over several layers, and the total.** Each style layer gets a weight "
                    r"$\lambda^{[l]}$; $\alpha$ and $\beta$ set how much content and style count:")
        st.latex(r"J_{style}(S,G) = \sum_l \lambda^{[l]} J^{[l]}_{style}(S,G)")
        st.latex(r"J(G) = \alpha\, J_{content}(C,G) + \beta\, J_{style}(S,G)")
    st.caption("Here Image A stands for the content or style image and Image B for the generated one: the tab "
               "measures how far B is from A, the numbers a style transfer would try to bring down.")


def _inputs() -> tuple[upload.DecodedImage | None, upload.DecodedImage | None, str, str, int, list]:
    col_a, col_b, col_s = st.columns([1, 1, 1.1])
    with col_a:
        a = upload.image_input(f"{KEY}.a", label="Image A", default=DEFAULT_PHOTO, extra_samples=STYLE_IMAGES)
    with col_b:
        b = upload.image_input(f"{KEY}.b", label="Image B", default=DEFAULT_STYLE, extra_samples=STYLE_IMAGES)
    with col_s:
        layer = st.selectbox("Layer to compare", vgg.LAYERS, index=vgg.LAYERS.index(DEFAULT_LAYER),
                             format_func=_layer_label, key=f"{KEY}.layer",
                             help="The activations after the ReLU of this convolution (conv block_number).")
        size = st.select_slider("Comparison size (long side, px)", explore.SIZES, value=DEFAULT_SIZE, key=f"{KEY}.size",
                                help="Image A is scaled to this size; small sizes keep the tab quick.")
        kind = st.selectbox("Image B: change", explore.VARIANTS, key=f"{KEY}.variant",
                            help="Change B before comparing: pick the same picture as A, then blur, mirror or "
                                 "shift it to see which cost notices what.")
    return a, b, kind, layer, int(size), [col_a, col_b]


def _feature_maps(cmp: explore.StyleComparison) -> None:
    layer = cmp.layer
    n_c, n_h, n_w = cmp.acts_a.shape
    st.markdown(f"#### Feature maps at {layer}")
    st.markdown(f"This layer turns each picture into {n_c} maps of {n_h}×{n_w} numbers, one per channel (feature). "
                "Bright means the feature is strongly present there. The content cost compares these maps place by "
                "place; the Gram matrix only asks which maps light up together.")
    how = st.radio("Feature maps shown", list(SHOW), format_func=SHOW.get, horizontal=True, key=f"{KEY}.maps")
    channels = explore.strongest_channels(cmp, how, count=4)
    top = [max(float(cmp.acts_a[k].max()), float(cmp.acts_b[k].max())) for k in channels]
    left, right = st.columns(2)
    left.plotly_chart(feature_maps(cmp.acts_a, channels, f"Image A at {layer}", zmax=top, columns=2),
                      key=f"{KEY}.maps_a")
    right.plotly_chart(feature_maps(cmp.acts_b, channels, f"Image B at {layer}", zmax=top, columns=2),
                       key=f"{KEY}.maps_b")
    st.caption("The same four channels for both images, each channel on one colour scale (black 0, bright yellow "
               "the larger maximum of the two), chosen by the energy Σ a² of each map (the Gram matrix's diagonal).")


def _grams(cmp: explore.StyleComparison) -> None:
    n_c = cmp.gram_a.shape[0]
    st.markdown(f"#### Gram matrices at {cmp.layer}")
    st.markdown("Entry (k, k') is the Gram value of channels k and k'. The two matrices share one colour scale; the "
                "third panel is their difference (red: larger for A, blue: larger for B). The style cost of the layer "
                "is the sum of the squared differences, scaled down. **Try:** the same picture as A and B gives a white "
                "difference; mirror or shift B and the Gram matrices barely change, although the content cost jumps.")
    shown = n_c
    if n_c > 16:
        shown = st.slider("Gram channels shown (the first ones)", 8, n_c, min(64, n_c), step=8,
                          key=f"{KEY}.gram_channels.{n_c}",
                          help="Large layers have hundreds of channels: look at the first few closely.")
    sqrt = st.toggle("Square-root colours", value=True, key=f"{KEY}.gram_sqrt",
                     help="Spread the colours over the small values, so that a picture with weak activations does not "
                          "look flat next to a strong one. The numbers (hover, colour bar) stay the true ones.")
    st.plotly_chart(gram_pair(cmp.gram_a, cmp.gram_b, names=("Image A", "Image B"), layer=cmp.layer, channels=shown,
                              gamma=0.5 if sqrt else 1.0), key=f"{KEY}.grams")


def _numbers(cmp: explore.StyleComparison) -> None:
    c = cmp.chosen
    st.markdown(f"#### The numbers at {cmp.layer}")
    st.latex(rf"J_{{content}}(A,B) = \tfrac{{1}}{{2}}\sum_{{i,j,k}}\left(a^{{(A)}} - a^{{(B)}}\right)^2 = {_tex(c.j_content)}")
    name = cmp.layer.replace("_", r"\_")
    st.latex(rf"J^{{[\text{{{name}}}]}}_{{style}}(A,B) = \frac{{\sum_{{kk'}}\left(G^{{(A)}} - G^{{(B)}}\right)^2}}"
             rf"{{\left(2\cdot {c.n_h}\cdot {c.n_w}\cdot {c.n_c}\right)^2}} = \frac{{{_tex(cmp.gram_sq_diff)}}}"
             rf"{{{_tex(float(2 * c.n_h * c.n_w * c.n_c) ** 2)}}} = {_tex(c.j_style)}")
    rows = []
    for r in cmp.costs:
        is_style = r.layer in vgg.STYLE_LAYERS_GATYS
        role = "compared layer" if r.layer == cmp.layer else ""
        role = " and ".join(x for x in (role, "style layer" if is_style else "") if x)
        lam = explore.STYLE_WEIGHT if is_style else None
        rows.append({"layer": r.layer, "role": role, "n_C": r.n_c, "n_H": r.n_h, "n_W": r.n_w, J_CONTENT: r.j_content,
                     J_STYLE: r.j_style, "λ": lam, "λ·J_style^[l]": lam * r.j_style if lam is not None else None})
    plain, sci = st.column_config.NumberColumn(format="%.4g"), st.column_config.NumberColumn(format="%.3e")
    table_with_csv(pd.DataFrame(rows), "Costs as CSV", "style_costs.csv", key=f"{KEY}.csv",
                   column_config={J_CONTENT: plain, J_STYLE: sci, "λ": plain, "λ·J_style^[l]": sci},
                   caption="Both costs at the compared layer and at Gatys et al.'s five style layers (equal weights "
                           "λ = 1/5). n_H and n_W halve at every block: each pooling layer halves the grid.")
    log = st.toggle("Log scale for the bars", value=True, key=f"{KEY}.log",
                    help="The layers' style costs can differ by orders of magnitude.")
    st.plotly_chart(layer_costs_bar(cmp.style_costs, {name: explore.STYLE_WEIGHT for name in cmp.style_costs},
                                    log_y=log and any(v > 0 for v in cmp.style_costs.values())),
                    key=f"{KEY}.bars")
    st.caption("Which layers the style cost J_style is made of for these two pictures. **Try** the same picture as A "
               "and B: 'grey' shows up mostly at conv1_1, where colour lives; 'mirrored' and 'shifted' leave every "
               "style cost near zero (a Gram matrix forgets where things are) while J_content is large; 'blurred' "
               "changes the texture, which every style layer notices.")


def render() -> None:
    st.subheader("Costs and Gram matrices")
    st.markdown(
        "Put two pictures through the network and compare them the way style transfer does: place by place at one "
        "layer (content cost), and by which features appear together (Gram matrices, style cost). **Try:** the same "
        "photo as A and B gives zero everywhere; then blur, mirror or shift B; then pick a generated style for B."
    )
    _, pretrained, note = features(allow_download=False)
    if not pretrained:
        st.info(note, icon=":material/info:")
    a, b, kind, layer, size, (col_a, col_b) = _inputs()
    if a is None or b is None:
        st.info(f"Pick or upload {'Image A' if a is None else 'Image B'} to compare the two.", icon=":material/image:")
        return
    try:
        with st.spinner("Running VGG-19 on both images…"):
            cmp = _compare(_digest(a.image), _digest(b.image), layer, size, kind, pretrained, a.image, b.image)
    except ValueError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    h, w = cmp.image_a.shape[:2]
    col_a.image(cmp.image_a, caption=f"Image A as the network sees it: {w}×{h} px", width=min(300, 2 * w))
    change = "" if kind == "as it is" else f", then {kind}"
    col_b.image(cmp.image_b, caption=f"Image B scaled and cropped to {w}×{h} px{change}", width=min(300, 2 * w))
    st.caption("Image B is scaled to cover Image A's shape and cropped around its centre, so that every layer gives "
               "both pictures the same grid and the costs are defined.")
    _formulas()
    _feature_maps(cmp)
    _grams(cmp)
    _numbers(cmp)
    if not np.isfinite([r.j_style for r in cmp.costs]).all():
        st.warning("Some costs are not finite numbers: try a smaller size or other pictures.", icon=":material/warning:")
