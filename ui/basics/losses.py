"""The Network basics page's loss functions: MSE and cross-entropy, and how hard each pushes a saturated
sigmoid output."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.basics import loss_vs_probability, saturation_numbers, z_gradients
from core.plots.basics import loss_vs_probability_figure, z_gradient_figure

PAGE = "basics"
def render() -> None:
    """The two losses side by side (call it inside the page's Loss functions tab)."""
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
