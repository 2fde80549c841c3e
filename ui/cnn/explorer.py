"""The CNNs page's convolution explorer: a filter slid over a photo, an upload or a drawn digit,
with stride and padding, the output size worked out with the numbers, one output position taken
apart (window × kernel = products, summed), a filter spanning the colour channels, and pooling.
The arithmetic and the settings live in :mod:`core.cnn.conv`, the figures in :mod:`core.plots.conv`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.cnn.conv import (
    KERNEL_NOTES,
    KERNELS,
    POOLS,
    ConvConfig,
    colour_filter,
    conv_output_size,
    convolve,
    output_size_formula,
    output_size_latex,
    pool,
    prepare_image,
    relu,
    window,
)
from core.plots.conv import feature_map_figure, image_figure, kernel_figure, map_png, window_figure
from ui import form, upload
from ui.tables import csv_button

PAGE = "cnn"
EDITABLE = "Editable 3×3"
GRAY, COLOUR = "Grey image, f×f filter", "Colour image, 3×f×f filter"
EDIT_START = KERNELS["Vertical edge"]


@st.cache_data(max_entries=16, show_spinner=False)
def _prepared(pixels: np.ndarray, long_side: int, gray: bool) -> np.ndarray:
    return prepare_image(pixels, long_side, gray=gray)


@st.cache_data(max_entries=32, show_spinner=False)
def _convolved(image: np.ndarray, kernel: np.ndarray, stride: int, padding: int, bias: float) -> np.ndarray:
    return convolve(image, kernel, stride, padding, bias)


def _kernel_choice() -> np.ndarray | None:
    """The 2-D kernel picked (or typed into the grid); ``None`` after an error about empty cells."""
    name = st.selectbox("Kernel (filter)", [*KERNELS, EDITABLE], key=f"{PAGE}.kernel",
                        help="Classic hand-made filters; a trained network learns its own numbers.")
    if name != EDITABLE:
        st.caption(KERNEL_NOTES[name].capitalize() + ".")
        return KERNELS[name]
    cols = ["col 1", "col 2", "col 3"]
    edited = st.data_editor(
        pd.DataFrame(EDIT_START, index=["row 1", "row 2", "row 3"], columns=cols), key=f"{PAGE}.kernel_edit",
        width="stretch", column_config={c: st.column_config.NumberColumn(c, format="%.3g", step=0.1) for c in cols},
    )
    st.caption("Type any nine numbers (it starts as the vertical-edge filter). Try a diagonal edge: 0 1 2 / −1 0 1 / −2 −1 0.")
    return edited.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


ROW, COL = f"{PAGE}.conv_row", f"{PAGE}.conv_col"


def _nested(a: np.ndarray) -> tuple:
    return tuple(_nested(x) for x in a) if a.ndim > 1 else tuple(float(v) for v in a)


def _cell(out: tuple[int, int]) -> tuple[int, int]:
    """The chosen output position, read before its sliders are drawn (so the input's window and
    the map's outlined cell agree with them) and pulled back inside a map that shrank."""
    cell = []
    for key, n in ((ROW, out[0]), (COL, out[1])):
        if n <= 1:
            st.session_state.pop(key, None)
            cell.append(0)
            continue
        if key not in st.session_state or not 0 <= st.session_state[key] < n:
            st.session_state[key] = n // 2
        cell.append(int(st.session_state[key]))
    return cell[0], cell[1]


def _position_slider(where, label: str, key: str, n: int) -> None:
    if n <= 1:
        where.caption(f"{label}: 0 (the only one)")
    else:
        where.slider(label, 0, n - 1, key=key)


def _settings(decoded) -> tuple[np.ndarray, ConvConfig] | None:
    """The working image and the convolution settings from the widgets (``None`` after an error)."""
    c1, c2 = st.columns(2)
    long_side = c1.slider("Working size (long side, px)", 8, 256, 128, step=4, key=f"{PAGE}.conv_size",
                          help="The image is shrunk to this size first: small sizes make single pixels and numbers visible.")
    depth = c2.radio("Filter depth", [GRAY, COLOUR], key=f"{PAGE}.conv_depth", horizontal=True)
    colour = depth == COLOUR
    with c1:
        kernel2d = _kernel_choice()
    with c2:
        if colour:
            w = st.columns(3)
            weights = (w[0].number_input("Red weight", -3.0, 3.0, 1.0, 0.5, key=f"{PAGE}.conv_wr"),
                       w[1].number_input("Green weight", -3.0, 3.0, 0.0, 0.5, key=f"{PAGE}.conv_wg"),
                       w[2].number_input("Blue weight", -3.0, 3.0, 0.0, 0.5, key=f"{PAGE}.conv_wb"))
            st.caption("The filter has one 3×3 slice per colour channel: the kernel times that channel's weight. "
                       "With 1, 0, 0 it only looks at red; try 1, −1, 0 to find red-against-green edges.")
        stride = form.field(st, ConvConfig, "stride", key=f"{PAGE}.conv_stride")
        p1, p2 = st.columns([2, 1])
        mode = form.field(p1, ConvConfig, "padding_mode", key=f"{PAGE}.conv_padmode", horizontal=True)
        custom = 0
        if mode == "custom":
            custom = form.field(p2, ConvConfig, "custom_padding", key=f"{PAGE}.conv_pad")
        b1, b2 = st.columns([1, 1.3])
        bias = form.field(b1, ConvConfig, "bias", key=f"{PAGE}.conv_bias")
        b2.write("")
        use_relu = form.field(b2, ConvConfig, "relu", key=f"{PAGE}.conv_relu")
    if kernel2d is None:
        return None
    image = _prepared(np.asarray(decoded.image.convert("RGB")), int(long_side), not colour)
    kernel = colour_filter(kernel2d, weights) if colour else kernel2d
    try:
        cfg = ConvConfig(kernel=_nested(kernel), stride=int(stride), padding_mode=mode, custom_padding=int(custom),
                         bias=float(bias), relu=bool(use_relu))
    except ValueError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return image, cfg


def _output_size(image: np.ndarray, cfg: ConvConfig) -> tuple[int, int] | None:
    """The output size worked out for height and width; the plain message when the kernel does not fit."""
    h, w = image.shape[-2:]
    f, p, s = cfg.f, cfg.padding, cfg.stride
    st.markdown("**Output size.** Each axis: $n_{out} = \\lfloor (n + 2p - f)/s \\rfloor + 1$ — input size $n$, "
                "kernel size $f$, padding $p$, stride $s$.")
    try:
        out = conv_output_size(h, f, p, s), conv_output_size(w, f, p, s)
    except ValueError as exc:
        st.error(f"The kernel does not fit: {exc}. Choose more padding, a larger working size or another picture.",
                 icon=":material/error:")
        return None
    c1, c2 = st.columns(2)
    c1.latex(output_size_latex(h, f, p, s, symbol=r"\text{height}"))
    c2.latex(output_size_latex(w, f, p, s, symbol=r"\text{width}"))
    note = ""
    if cfg.padding_mode == "same" and s > 1:
        note = " 'Same' padding keeps the size only at stride 1; with stride s the output is about n/s."
    st.caption(f"Height: {output_size_formula(h, f, p, s)} · width: {output_size_formula(w, f, p, s)} — "
               f"a {h}×{w} input gives a {out[0]}×{out[1]} feature map.{note}")
    return out


def _position(image: np.ndarray, cfg: ConvConfig, fmap: np.ndarray, cell: tuple[int, int]) -> None:
    """One output position taken apart: window, kernel, products and their sum."""
    st.markdown("#### One output value, step by step")
    st.markdown("Pick an output position $(i, j)$. The filter then covers the input rows $i\\cdot s$ to "
                "$i\\cdot s + f - 1$ and the same columns of the padded input (the orange square on the input "
                "above). Each input number is multiplied by the kernel number on top of it; the sum of the "
                "products is the feature-map value.")
    c1, c2 = st.columns(2)
    _position_slider(c1, "Output row i", ROW, fmap.shape[0])
    _position_slider(c2, "Output column j", COL, fmap.shape[1])
    i, j = cell
    win = window(image, cfg.kernel_array, cfg.stride, cfg.padding, i, j, bias=cfg.bias)
    st.plotly_chart(window_figure(win), key=f"{PAGE}.conv_window_fig")
    in_zeros = win.top < cfg.padding or win.left < cfg.padding or \
        win.top + cfg.f > cfg.padding + image.shape[-2] or win.left + cfg.f > cfg.padding + image.shape[-1]
    where = (f"rows {win.top - cfg.padding}…{win.top - cfg.padding + cfg.f - 1}, columns "
             f"{win.left - cfg.padding}…{win.left - cfg.padding + cfg.f - 1} of the image")
    bias = f" + b ({cfg.bias:g}) = {win.value:.4f}" if cfg.bias else ""
    st.success(f"Σ of the {win.products.size} products = {win.total:.4f}{bias}, and the feature map "
               f"holds {fmap[i, j]:.4f} at row {i}, column {j}: the same number.", icon=":material/check_circle:")
    st.caption(f"The window covers {where}" + (" — partly in the zero padding (negative or too-large indices are zeros)."
                                               if in_zeros else "."))
    if cfg.relu:
        st.caption(f"After ReLU: max(0, {win.value:.4f}) = {max(0.0, win.value):.4f}.")


def _pooling(fmap: np.ndarray, cfg: ConvConfig) -> None:
    """Pooling applied to the feature map (after ReLU when it is on), with its output size."""
    st.markdown("#### Pooling the feature map")
    st.markdown("Pooling shrinks a map without weights: **max** keeps the largest value of each window, "
                "**average** their mean, and **global** pooling keeps one number per map. **Try:** max pooling "
                "of an edge map keeps the edges while halving the size.")
    source = relu(fmap) if cfg.relu else fmap
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Pooling kind", POOLS, key=f"{PAGE}.conv_pool")
    is_global = kind.startswith("global")
    size = c2.slider("Pooling window", 1, 8, 2, key=f"{PAGE}.conv_pool_size", disabled=is_global)
    stride = c3.slider("Pooling stride", 1, 8, 2, key=f"{PAGE}.conv_pool_stride", disabled=is_global)
    h, w = source.shape
    try:
        pooled = pool(source, kind, size, stride)
        if is_global:
            st.caption(f"Global {kind.split()[1]} pooling: the whole {h}×{w} map becomes one value, "
                       f"{pooled[0, 0]:.4f}.")
        else:
            st.caption(f"Pooling has no padding: height {output_size_formula(h, size, 0, stride)}, "
                       f"width {output_size_formula(w, size, 0, stride)} — {h}×{w} becomes "
                       f"{pooled.shape[0]}×{pooled.shape[1]}.")
    except ValueError as exc:
        st.error(f"{str(exc).capitalize()}. Choose a smaller pooling window.", icon=":material/error:")
        return
    left, right = st.columns(2)
    left.plotly_chart(feature_map_figure(source, title="After ReLU" if cfg.relu else "Feature map"),
                      key=f"{PAGE}.conv_pool_in")
    right.plotly_chart(feature_map_figure(pooled, title=f"{kind.capitalize()} pooled, {pooled.shape[0]}×{pooled.shape[1]}",
                                          scale_from=source),
                       key=f"{PAGE}.conv_pool_out")


def render() -> None:
    st.subheader("Convolution explorer")
    st.markdown(
        "A filter (kernel) is a small grid of numbers. It slides over the image; at every position its "
        "numbers are multiplied with the pixels underneath and the products are added up, giving one value of "
        "the **feature map**. Large values mean the pattern the filter looks for is there. **Try:** the "
        "vertical-edge filter on a photo (red and blue stripes along vertical edges), then the horizontal one; "
        "raise the stride and watch the map shrink; switch padding to 'same' to keep the size."
    )
    top_left, top_right = st.columns([1.25, 2])
    with top_left:
        decoded = upload.image_input(f"{PAGE}.explorer", label="Explorer image", draw=True)
    if decoded is None:
        return
    with top_right:
        settings = _settings(decoded)
    if settings is None:
        return
    image, cfg = settings
    out = _output_size(image, cfg)
    if out is None:
        return
    fmap = _convolved(image, cfg.kernel_array, cfg.stride, cfg.padding, cfg.bias)
    i, j = _cell(out)
    f, p, s = cfg.f, cfg.padding, cfg.stride
    c1, c2, c3 = st.columns([1.1, 0.9, 1.2])
    h, w = image.shape[-2:]
    pad_note = f", padded by {p}" if p else ""
    c1.plotly_chart(image_figure(image, title=f"Input {h}×{w}{pad_note}", padding=p, box=(i * s, j * s, f, f)),
                    key=f"{PAGE}.conv_input_fig")
    deep = cfg.kernel_array.ndim == 3
    c2.plotly_chart(kernel_figure(cfg.kernel_array, title=f"Kernel {'3×' if deep else ''}{f}×{f}", height=430 if deep else 330),
                    key=f"{PAGE}.conv_kernel_fig")
    c3.plotly_chart(feature_map_figure(fmap, title=f"Feature map {out[0]}×{out[1]}", cell=(i, j)),
                    key=f"{PAGE}.conv_fmap_fig")
    st.caption("Left: the working image (dashed: its border inside the zero padding; orange: the window for the "
               "chosen output position). Middle: the kernel's numbers. Right: the feature map, blue for negative, "
               "white for zero, red for positive values (grey when there are no negative values).")
    d1, d2, _ = st.columns([1, 1, 1.5])
    d1.download_button("Feature map as PNG", map_png(fmap), "feature_map.png", "image/png",
                       key=f"{PAGE}.conv_png", icon=":material/download:")
    csv_button(d2, "Feature map values as CSV", pd.DataFrame(fmap), "feature_map.csv", key=f"{PAGE}.conv_csv",
               icon=":material/table:")
    _position(image, cfg, fmap, (i, j))
    _pooling(fmap, cfg)
