"""The Network basics page's neuron: one neuron's sum and activation, and why sigmoid starves deep
networks of gradient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.basics import (
    ACTIVATIONS,
    DepthConfig,
    NeuronConfig,
    activation,
    activation_derivative,
    gradient_norms_per_layer,
    neuron_output,
    sigmoid_chain_bound,
)
from core.plots.basics import activations_figure, depth_gradients_figure
from core.settings import default_of, meta
from ui import form, shell

PAGE = "basics"
G_SYMBOL = {"sigmoid": r"\sigma", "ReLU": r"\mathrm{ReLU}", "tanh": r"\tanh", "leaky ReLU": r"\mathrm{LeakyReLU}"}
WIDTHS = (16, 32, 64, 128, 256)  # what the depth experiment offers


def num(v: float) -> str:
    """A number for LaTeX: 4 significant digits, negatives in brackets."""
    text = f"{v:.4g}"
    return f"({text})" if v < 0 else text


@st.cache_data(max_entries=32, show_spinner=False)
def _depth_norms(cfg: DepthConfig) -> dict[str, list[float]]:
    return gradient_norms_per_layer(cfg)


def _items(where, field: str, key: str) -> tuple[float, ...]:
    """One slider per item of a tuple field of the neuron (``Input x1``, ``Input x2``, …)."""
    label = meta(NeuronConfig, field).label
    return tuple(form.field(where, NeuronConfig, field, key=f"{PAGE}.{key}{i + 1}", value=v, label=f"{label}{i + 1}")
                 for i, v in enumerate(default_of(NeuronConfig, field)))


def render() -> None:
    """The neuron and the depth experiment (call it inside the page's Neuron tab)."""
    st.markdown(
        "Each input $x_i$ is multiplied by its weight $w_i$, the bias $b$ is added, and the activation "
        "$g$ turns the sum $z$ into the neuron's output $a$. **Try:** move the sliders and watch $z$ walk "
        "along the curves below; switch the activation and see which ones stay flat (slope near 0) far from 0."
    )
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        act = form.field(st, NeuronConfig, "activation", key=f"{PAGE}.act")
        cx, cw = st.columns(2)
        xs = _items(cx, "inputs", "x")
        ws = _items(cw, "weights", "w")
        bias = form.field(st, NeuronConfig, "bias", key=f"{PAGE}.bias")
    neuron = NeuronConfig(inputs=xs, weights=ws, bias=bias, activation=act)
    out = neuron_output(neuron)
    with right:
        terms = " + ".join(f"{num(w)}\\cdot{num(x)}" for w, x in zip(ws, xs, strict=True))
        st.latex(rf"\begin{{aligned}} z &= \mathbf{{w}}\cdot\mathbf{{x}} + b = \textstyle\sum_i w_i x_i + b \\ "
                 rf"&= {terms} + {num(bias)} \\ &= {out.z:.4g} \\[4pt] "
                 rf"a &= g(z) = {G_SYMBOL[act]}({out.z:.4g}) = {out.a:.4g} \end{{aligned}}")
        m1, m2, m3 = st.columns(3)
        m1.metric("z = w·x + b", f"{out.z:.4f}")
        m2.metric("Output a = g(z)", f"{out.a:.4f}")
        m3.metric("Slope g'(z)", f"{out.slope:.4f}")
        st.caption(
            "The slope g'(z) is how much the output moves when z moves a little: during training every "
            "gradient that passes back through this neuron is multiplied by it. Leaky ReLU uses slope 0.01 for z < 0."
        )
    grid = np.linspace(-6, 6, 481)
    values = {n: (activation(n, grid), activation_derivative(n, grid)) for n in ACTIVATIONS}
    at_z = {n: (float(activation(n, out.z)), float(activation_derivative(n, out.z))) for n in ACTIVATIONS}
    st.plotly_chart(activations_figure(grid, values, out.z, at_z, selected=act), key=f"{PAGE}.act_fig")
    _depth()


def _depth() -> None:
    st.subheader("Why sigmoid starves deep networks of gradient")
    st.markdown(
        "The sigmoid's slope is $\\sigma'(z) = \\sigma(z)(1-\\sigma(z))$. It is largest at $z = 0$, where "
        "$\\sigma(0) = \\tfrac12$, so"
    )
    st.latex(r"\sigma'(z) \le \sigma'(0) = \tfrac12\cdot\tfrac12 = 0.25 .")
    st.markdown(
        "Backpropagation multiplies one such slope per layer on the way back, so after $L$ sigmoid layers "
        "the slopes alone shrink a gradient by at least $0.25^L$. Below, that is measured in a real network: "
        "PyTorch's autograd computes the gradient of a cross-entropy loss for every layer's weights of a "
        "freshly initialised deep network (random inputs and labels, the same for every activation). "
        "**Try:** raise the depth, or switch the initialisation — ReLU keeps its gradient, sigmoid loses it."
    )
    c1, c2, c3, c4 = st.columns(4)
    depth = form.field(c1, DepthConfig, "depth", key=f"{PAGE}.depth")
    width = form.field(c2, DepthConfig, "width", key=f"{PAGE}.depth_width", options=WIDTHS)
    init = form.field(c3, DepthConfig, "init", key=f"{PAGE}.depth_init")
    chosen = form.field(c4, DepthConfig, "activations", key=f"{PAGE}.depth_acts")
    bound = sigmoid_chain_bound(depth)
    mant, expo = f"{bound:.2e}".split("e")
    st.markdown(f"What the sigmoid slopes alone can leave of a gradient after L = {depth} layers: at most "
                f"$0.25^{{{depth}}} = {mant}\\times 10^{{{int(expo)}}}$.")
    if not chosen:
        st.info("Choose at least one activation to compare.")
        return
    try:
        dcfg = DepthConfig(depth=depth, width=width, init=init, activations=chosen, seed=shell.global_seed())
    except ValueError as exc:
        st.error(str(exc))
        return
    norms = _depth_norms(dcfg)
    st.plotly_chart(depth_gradients_figure(norms), key=f"{PAGE}.depth_fig")
    table = pd.DataFrame({
        "activation": list(norms),
        "‖∂L/∂W‖ at layer 1": [v[0] for v in norms.values()],
        f"‖∂L/∂W‖ at layer {depth}": [v[-1] for v in norms.values()],
        "layer 1 / last layer": [v[0] / v[-1] if v[-1] > 0 else float("nan") for v in norms.values()],
    })
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.3e") for c in table.columns[1:]})
    st.caption(
        "Layer 1 (next to the input) is the last to receive its gradient. With sigmoid the first layers "
        "barely learn — their gradient is orders of magnitude smaller than the last layer's — which is "
        "why the switch to ReLU sped training up so much."
    )
