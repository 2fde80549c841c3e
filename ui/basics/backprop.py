"""The Network basics page's backpropagation by hand: the course's d-q-l sigmoid network, every gradient by
its formula and by autograd, and one gradient-descent step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.basics import BackpropNet, backprop_report, gradient_rows, random_network
from core.plots.basics import network_figure
from ui import shell
from ui.tables import csv_button

PAGE = "basics"
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


def render() -> None:
    """Backpropagation by hand (call it inside the page's Backpropagation by hand tab)."""
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
