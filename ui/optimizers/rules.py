"""The Optimizers page's update rules: each rule as the course writes it."""

from __future__ import annotations

import streamlit as st

# (what the rule does, its formulas): one line of text, then one LaTeX line per formula
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("**Gradient descent** — step against the gradient, scaled by the learning rate α.",
     (r"W := W - \alpha\, dW",)),
    ("**Momentum** — keep a running average *v* of gradients; zig-zags cancel, steady slopes add up.",
     (r"v_{dW} = \beta v_{dW} + (1-\beta)\, dW \qquad W := W - \alpha\, v_{dW}",)),
    ("**Adagrad** — divide by the root of *all* past squared gradients; steps only ever shrink.",
     (r"s_{dW} = s_{dW} + (dW)^2 \qquad W := W - \frac{\alpha}{\sqrt{s_{dW} + \epsilon}}\, dW",)),
    ("**RMSprop** — like Adagrad, but *s* forgets old gradients, so steps do not die out.",
     (r"s_{dW} = \beta s_{dW} + (1-\beta)(dW)^2 \qquad W := W - \frac{\alpha}{\sqrt{s_{dW} + \epsilon}}\, dW",)),
    ("**Adam** — momentum and RMSprop together, with both averages corrected for starting at zero.",
     (r"v_{dW} = \beta_1 v_{dW} + (1-\beta_1)\, dW \qquad s_{dW} = \beta_2 s_{dW} + (1-\beta_2)(dW)^2",
      r"v^{corrected}_{dW} = \frac{v_{dW}}{1-\beta_1^t} \qquad s^{corrected}_{dW} = \frac{s_{dW}}{1-\beta_2^t}"
      r"\qquad W := W - \frac{\alpha}{\sqrt{s^{corrected}_{dW}} + \epsilon}\, v^{corrected}_{dW}")),
)


def render() -> None:
    """The five update rules (call it inside the page's Update rules tab)."""
    for text, formulas in RULES:
        st.markdown(text)
        for formula in formulas:
            st.latex(formula)
    st.caption(
        "These are implemented exactly as written (note where ε sits: inside the root for Adagrad and "
        "RMSprop, outside for Adam) and tested step by step against PyTorch's optimizers or closed forms. "
        "The same rule updates the biases b."
    )
