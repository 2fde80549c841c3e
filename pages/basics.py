"""Network basics: one neuron, the Playground, backpropagation by hand, loss functions, vectorization."""

import numpy as np
import pandas as pd
import streamlit as st

from core.basics import (
    ACTIVATIONS,
    INITS,
    BackpropNet,
    DepthConfig,
    NeuronConfig,
    activation,
    activation_derivative,
    backprop_report,
    gradient_norms_per_layer,
    gradient_rows,
    loss_vs_probability,
    neuron_output,
    random_network,
    saturation_numbers,
    sigmoid_chain_bound,
    z_gradients,
)
from core.plots.basics import (
    activations_figure,
    depth_gradients_figure,
    loss_vs_probability_figure,
    network_figure,
    z_gradient_figure,
)
from ui import playground, shell, vectorization
from ui.tables import csv_button

PAGE = "basics"
G_SYMBOL = {"sigmoid": r"\sigma", "ReLU": r"\mathrm{ReLU}", "tanh": r"\tanh", "leaky ReLU": r"\mathrm{LeakyReLU}"}


def num(v: float) -> str:
    """A number for LaTeX: 4 significant digits, negatives in brackets."""
    text = f"{v:.4g}"
    return f"({text})" if v < 0 else text


st.title("Network basics")
st.markdown(
    "A neural network is built from one small part repeated many times: a **neuron** that weighs its "
    "inputs, adds a bias and passes the sum through an activation. This page takes that part apart, "
    "trains a few in the Playground, works out backpropagation by hand and checks it against PyTorch, "
    "compares the two classic losses, and shows why vectorized code is what makes all of it fast."
)
tab_neuron, tab_play, tab_bp, tab_loss, tab_vec = st.tabs(
    ["Neuron", "Playground", "Backpropagation by hand", "Loss functions", "Vectorization"]
)

# ----------------------------------------------------------------------------- Neuron


@st.cache_data(max_entries=32, show_spinner=False)
def _depth_norms(cfg: DepthConfig) -> dict[str, list[float]]:
    return gradient_norms_per_layer(cfg)


with tab_neuron:
    st.markdown(
        "Each input $x_i$ is multiplied by its weight $w_i$, the bias $b$ is added, and the activation "
        "$g$ turns the sum $z$ into the neuron's output $a$. **Try:** move the sliders and watch $z$ walk "
        "along the curves below; switch the activation and see which ones stay flat (slope near 0) far from 0."
    )
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        act = st.selectbox("Activation g", ACTIVATIONS, key=f"{PAGE}.act")
        cx, cw = st.columns(2)
        defaults_x, defaults_w = (1.0, -0.5, 2.0), (0.4, 0.8, -0.3)
        xs = tuple(cx.slider(f"Input x{i + 1}", -2.0, 2.0, defaults_x[i], 0.1, key=f"{PAGE}.x{i + 1}") for i in range(3))
        ws = tuple(cw.slider(f"Weight w{i + 1}", -2.0, 2.0, defaults_w[i], 0.1, key=f"{PAGE}.w{i + 1}") for i in range(3))
        bias = st.slider("Bias b", -3.0, 3.0, 0.1, 0.1, key=f"{PAGE}.bias")
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
    depth = c1.slider("Depth L (layers)", 2, 40, 10, key=f"{PAGE}.depth")
    width = c2.select_slider("Units per layer", [16, 32, 64, 128, 256], 64, key=f"{PAGE}.depth_width")
    init = c3.selectbox("Initialisation", list(INITS), key=f"{PAGE}.depth_init", help="\n\n".join(f"**{k}**: {v}" for k, v in INITS.items()))
    chosen = c4.multiselect("Activations compared", ACTIVATIONS, default=["sigmoid", "ReLU"], key=f"{PAGE}.depth_acts")
    bound = sigmoid_chain_bound(depth)
    mant, expo = f"{bound:.2e}".split("e")
    st.markdown(f"What the sigmoid slopes alone can leave of a gradient after L = {depth} layers: at most "
                f"$0.25^{{{depth}}} = {mant}\\times 10^{{{int(expo)}}}$.")
    if not chosen:
        st.info("Choose at least one activation to compare.")
    else:
        try:
            dcfg = DepthConfig(depth=depth, width=width, init=init, activations=tuple(chosen), seed=shell.global_seed())
        except ValueError as exc:
            st.error(str(exc))
        else:
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

# ------------------------------------------------------------------------- Playground

with tab_play:
    playground.render()

# --------------------------------------------------------------- Backpropagation by hand

BP_NET, BP_VERSION, BP_SEED = f"{PAGE}.bp_net", f"{PAGE}.bp_version", f"{PAGE}.bp_seed"


def _set_network(net: BackpropNet) -> None:
    st.session_state[BP_NET] = net
    st.session_state[BP_VERSION] = st.session_state.get(BP_VERSION, 0) + 1


def _editor(label: str, data: np.ndarray, rows: list[str], cols: list[str], name: str) -> np.ndarray:
    """An editable table of numbers; returns what the learner left in it (NaN for emptied cells)."""
    df = pd.DataFrame(np.atleast_2d(data), index=rows, columns=cols)
    st.markdown(label)
    edited = st.data_editor(
        df, key=f"{PAGE}.bp_edit.{name}.{st.session_state[BP_VERSION]}", width="stretch",
        column_config={c: st.column_config.NumberColumn(c, format="%.3f", step=0.01) for c in cols},
    )
    return edited.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


with tab_bp:
    st.markdown(
        "A small network with $d$ inputs, $q$ hidden and $l$ output sigmoid units, in the course's "
        "notation: $v_{ih}$ connects input $i$ to hidden unit $h$, $w_{hj}$ connects hidden unit $h$ to "
        "output $j$, and $\\gamma_h$, $\\theta_j$ are **thresholds** — subtracted from the weighted sums "
        "(a bias with the opposite sign). For one example $(x, y)$:"
    )
    st.latex(r"\alpha_h = \sum_{i=1}^{d} v_{ih}x_i,\quad b_h = f(\alpha_h - \gamma_h),\quad "
             r"\beta_j = \sum_{h=1}^{q} w_{hj}b_h,\quad \hat y_j = f(\beta_j - \theta_j),\quad "
             r"E = \tfrac12\sum_{j=1}^{l}(\hat y_j - y_j)^2")
    st.markdown("The chain rule, collected into two terms per unit, gives every gradient:")
    st.latex(r"g_j = \hat y_j(1-\hat y_j)(y_j-\hat y_j),\qquad e_h = b_h(1-b_h)\sum_{j=1}^{l} g_j w_{hj}")
    st.latex(r"\frac{\partial E}{\partial w_{hj}} = -g_j b_h,\quad \frac{\partial E}{\partial \theta_j} = g_j,\quad "
             r"\frac{\partial E}{\partial v_{ih}} = -e_h x_i,\quad \frac{\partial E}{\partial \gamma_h} = e_h")
    st.markdown(
        "Every gradient below is computed twice: by these formulas and by PyTorch's autograd (float64) on the "
        "same network. Then one gradient-descent step $p \\leftarrow p - \\eta\\,\\partial E/\\partial p$ is "
        "taken. **Try:** edit any number in the tables, take a few steps and watch $E$ fall; raise $\\eta$ until "
        "a step makes $E$ worse."
    )
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1.3])
    d = c1.slider("Inputs d", 1, 4, 2, key=f"{PAGE}.bp_d")
    q = c2.slider("Hidden units q", 1, 4, 3, key=f"{PAGE}.bp_q")
    n_out = c3.slider("Outputs l", 1, 4, 2, key=f"{PAGE}.bp_l")
    c4.write("")
    if BP_SEED not in st.session_state:
        st.session_state[BP_SEED] = shell.global_seed()
    if c4.button("New random network", icon=":material/casino:", key=f"{PAGE}.bp_new"):
        st.session_state[BP_SEED] += 1
        _set_network(random_network(d, q, n_out, seed=st.session_state[BP_SEED]))
    current = st.session_state.get(BP_NET)
    if current is None or current.shape != (d, q, n_out):
        _set_network(random_network(d, q, n_out, seed=st.session_state[BP_SEED]))
    a0 = st.session_state[BP_NET].arrays()

    e1, e2, e3 = st.columns([1.2, 1.4, 1.2])
    with e1:
        x_in = _editor("**Example**: inputs $x_i$", a0["x"], ["x"], [f"x_{i + 1}" for i in range(d)], "x")
        y_in = _editor("targets $y_j$ (in [0, 1])", a0["y"], ["y"], [f"y_{j + 1}" for j in range(n_out)], "y")
    with e2:
        v_in = _editor("**Input → hidden** weights $v_{ih}$ (row $i$, column $h$)", a0["v"],
                       [f"i={i + 1}" for i in range(d)], [f"h={h + 1}" for h in range(q)], "v")
        g_in = _editor("hidden thresholds $\\gamma_h$", a0["gamma"], ["gamma"], [f"h={h + 1}" for h in range(q)], "gamma")
    with e3:
        w_in = _editor("**Hidden → output** weights $w_{hj}$ (row $h$, column $j$)", a0["w"],
                       [f"h={h + 1}" for h in range(q)], [f"j={j + 1}" for j in range(n_out)], "w")
        t_in = _editor("output thresholds $\\theta_j$", a0["theta"], ["theta"], [f"j={j + 1}" for j in range(n_out)], "theta")
    lr = st.slider("Learning rate η", 0.01, 10.0, 0.5, 0.01, key=f"{PAGE}.bp_lr")
    try:
        net = BackpropNet.from_arrays(x=x_in[0], y=y_in[0], v=v_in, gamma=g_in[0], w=w_in, theta=t_in[0])
        report = backprop_report(net, lr)
    except ValueError as exc:
        st.error(f"{exc}. Fix the table, or press *New random network*.")
        report = None
    if report is not None:
        fwd, course = report.forward, report.course
        st.plotly_chart(network_figure(net.x, fwd.b, fwd.y_hat, np.asarray(net.v), np.asarray(net.w), y=net.y),
                        key=f"{PAGE}.bp_net_fig")
        f1, f2 = st.columns(2)
        with f1:
            st.markdown("**Hidden layer** (forward values and $e_h$)")
            st.dataframe(pd.DataFrame({
                "h": range(1, q + 1), "α_h": fwd.alpha, "γ_h (gamma)": np.asarray(net.gamma), "b_h = f(α_h − γ_h)": fwd.b,
                "e_h": course.e}), hide_index=True, width="stretch")
        with f2:
            st.markdown("**Output layer** (forward values and $g_j$)")
            st.dataframe(pd.DataFrame({
                "j": range(1, n_out + 1), "β_j": fwd.beta, "θ_j": np.asarray(net.theta), "ŷ_j = f(β_j − θ_j)": fwd.y_hat,
                "y_j": np.asarray(net.y), "g_j": course.g}), hide_index=True, width="stretch")
        st.markdown("**Every gradient, by the course's formula and by autograd**, and the value after one step")
        grad_table = pd.DataFrame(gradient_rows(report))
        st.dataframe(grad_table, hide_index=True, width="stretch", height="content", column_config={
            c: st.column_config.NumberColumn(format="%.6f") for c in
            ("value", "∂E/∂p (course)", "∂E/∂p (autograd)", "after the step")} | {
            "|difference|": st.column_config.NumberColumn(format="%.1e")})
        n_params = len(grad_table)
        if report.max_abs_diff < 1e-6:
            st.success(f"All {n_params} gradients agree with autograd: max |difference| = {report.max_abs_diff:.1e} "
                       "(< 1e-6).", icon=":material/check_circle:")
        else:
            st.error(f"The formulas and autograd disagree: max |difference| = {report.max_abs_diff:.1e}.")
        m1, m2, m3 = st.columns(3)
        m1.metric("E before the step", f"{report.error_before:.6f}")
        m2.metric("E after one step", f"{report.error_after:.6f}",
                  delta=f"{report.error_after - report.error_before:+.6f}", delta_color="inverse")
        m3.metric("Max |course − autograd|", f"{report.max_abs_diff:.1e}")
        if report.error_after > report.error_before:
            st.warning("This step made E larger: the learning rate is too big for this network. Lower η.")
        b1, b2 = st.columns(2)
        if b1.button("Take this step", icon=":material/skip_next:", key=f"{PAGE}.bp_step",
                     help="Make the updated weights the network's weights, so you can take the next step."):
            _set_network(report.updated)
            st.rerun()
        csv_button(b2, "Download the gradients (CSV)", grad_table, "backprop_gradients.csv", f"{PAGE}.bp_csv")

# ------------------------------------------------------------------------ Loss functions

with tab_loss:
    st.markdown("The course's two losses, over $n$ examples and (for cross-entropy) $M$ classes:")
    st.latex(r"\mathrm{MSE} = \frac1n\sum_{i=1}^{n}(y_i-\hat y_i)^2 \qquad\qquad "
             r"\mathrm{CE} = -\sum_{i=1}^{n}\sum_{c=1}^{M} y_{ic}\log \hat y_{ic}")
    st.markdown(
        "For one example ($n = 1$) with a sigmoid output $\\hat y = \\sigma(z)$, MSE is $(y-\\hat y)^2$ and, with the "
        "two classes 1 and 0, CE is $-[y\\log\\hat y + (1-y)\\log(1-\\hat y)]$. Their gradients with respect to the pre-activation $z$ differ "
        "in one factor:"
    )
    st.latex(r"\frac{\partial\,\mathrm{MSE}}{\partial z} = 2(\hat y - y)\,\sigma'(z) \qquad\qquad "
             r"\frac{\partial\,\mathrm{CE}}{\partial z} = \hat y - y")
    st.markdown(
        "When the output unit is *saturated* (confidently wrong, far out on the flat part of the sigmoid), "
        "$\\sigma'(z)$ is nearly 0 and MSE hardly pushes at all, while cross-entropy pushes with almost full "
        "strength. **Try:** drag $z$ to −6 with $y = 1$, then towards 0 and beyond."
    )
    c1, c2 = st.columns([3, 1])
    z_now = c1.slider("Pre-activation z", -10.0, 10.0, -6.0, 0.1, key=f"{PAGE}.loss_z")
    label = c2.radio("True label y", [1, 0], horizontal=True, key=f"{PAGE}.loss_y")
    nums = saturation_numbers(z_now, label)
    left, right = st.columns(2)
    p = np.linspace(0.001, 0.999, 500)
    fig_p = loss_vs_probability_figure(p, loss_vs_probability(p, label), y=label)
    fig_p.add_vline(x=nums["ŷ"], line=dict(color="gray", dash="dot", width=1.2))
    left.plotly_chart(fig_p, key=f"{PAGE}.loss_p_fig")
    zz = np.linspace(-10, 10, 401)
    right.plotly_chart(z_gradient_figure(zz, z_gradients(zz, label), z_now,
                                         {"MSE": nums["dMSE/dz"], "cross-entropy": nums["dCE/dz"]}, y=label),
                       key=f"{PAGE}.loss_z_fig")
    m = st.columns(3) + st.columns(3)
    shown = {"ŷ = σ(z)": "ŷ", "σ'(z)": "σ'(z)", "MSE": "MSE", "CE": "cross-entropy", "dMSE/dz": "dMSE/dz", "dCE/dz": "dCE/dz"}
    for col, (title, key) in zip(m, shown.items(), strict=True):
        col.metric(title, f"{nums[key]:.4g}")
    ratio = abs(nums["dCE/dz"]) / abs(nums["dMSE/dz"]) if nums["dMSE/dz"] != 0 else float("inf")
    st.markdown(
        f"At $z = {z_now:g}$ the output is $\\hat y = {nums['ŷ']:.4g}$ for a true label $y = {label}$. MSE's "
        f"gradient is ${nums['dMSE/dz']:.3g}$ and cross-entropy's is ${nums['dCE/dz']:.3g}$: cross-entropy pushes "
        f"**{ratio:.3g} times** harder (always at least 2 times, since the ratio is $1/(2\\hat y(1-\\hat y))$). "
        "The dotted line in the left chart marks this $\\hat y$."
    )

# ------------------------------------------------------------------------- Vectorization

with tab_vec:
    vectorization.render()
