"""The Optimizers page's loss-surface lab: the optimizers' paths on a 2-D surface, step by step."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.colors import OPTIMIZER_COLORS
from core.optimizers import OPTIMIZERS
from core.optimizers.rules import EPS_OPTIONS
from core.optimizers.surfaces import LR_OPTIONS, NOISE_OPTIONS, SURFACES, TrajectoryConfig, run_trajectories, summary_table
from core.plots.ghost import add_ghost
from core.plots.surfaces import loss_curves, surface_contour
from ui import form, shell

PAGE = "optimizers"
# the lab's β, β1 and β2 widgets: the race trains with the same values
BETA_KEYS = {"beta": f"{PAGE}.lab_beta", "beta1": f"{PAGE}.lab_beta1", "beta2": f"{PAGE}.lab_beta2"}


def _g(v: float) -> str:
    return f"{v:g}"


@st.cache_data(max_entries=64, show_spinner=False)
def _trajectories(cfg: TrajectoryConfig):
    return run_trajectories(cfg)


def _ghost_paths(surface: str, cfg: TrajectoryConfig, trajs: dict) -> dict:
    """The paths drawn before the last change on this surface (this session only: the lab is not tracked),
    for the faded "ghost" under the new ones; {} when the learner turned the ghost off or made no change yet."""
    show = st.toggle("Ghost of my previous paths", value=True, key=f"{PAGE}.lab_ghost",
                     help="Your paths before the last change, faded and dotted under the new ones: change one "
                          "setting (α, β, the noise) and see what it did.")
    last, prev = f"{PAGE}.lab_last.{surface}", f"{PAGE}.lab_prev.{surface}"
    if st.session_state.get(last, (None,))[0] != cfg:
        if last in st.session_state:
            st.session_state[prev] = st.session_state[last][1]
        st.session_state[last] = (cfg, trajs)
    return st.session_state.get(prev, {}) if show else {}


def render() -> None:
    """The loss-surface lab (call it inside the page's Loss-surface lab tab)."""
    T = TrajectoryConfig
    left, right = st.columns([1, 2.4], gap="large")
    with left:
        name = form.field(st, T, "surface", key=f"{PAGE}.surface", value=next(iter(SURFACES)))
        surf = SURFACES[name]
        st.caption(surf.description)
        chosen = form.field(st, T, "optimizers", key=f"{PAGE}.lab_opts", value=tuple(OPTIMIZERS))
        lr = form.field(st, T, "lr", key=f"{PAGE}.lab_lr.{name}", options=LR_OPTIONS, format_func=_g,
                        value=min(LR_OPTIONS, key=lambda v: abs(v - surf.suggested_lr)))
        c1, c2 = st.columns(2)
        beta = form.field(c1, T, "beta", key=BETA_KEYS["beta"])
        beta1 = form.field(c2, T, "beta1", key=BETA_KEYS["beta1"])
        beta2 = form.field(c1, T, "beta2", key=BETA_KEYS["beta2"], format="%.4f")
        eps = form.field(c2, T, "eps", key=f"{PAGE}.lab_eps", options=EPS_OPTIONS, format_func=_g)
        steps = form.field(st, T, "steps", key=f"{PAGE}.lab_steps")
        # the start's bounds are the surface's window
        sx = c1.number_input("Start x", *map(float, surf.x_range), float(surf.start[0]), 0.1, key=f"{PAGE}.sx.{name}")
        sy = c2.number_input("Start y", *map(float, surf.y_range), float(surf.start[1]), 0.1, key=f"{PAGE}.sy.{name}")
        noise = form.field(st, T, "noise", key=f"{PAGE}.lab_noise", options=NOISE_OPTIONS)
    try:
        cfg = T(name, chosen, lr, beta, beta1, beta2, eps, steps, (sx, sy), noise, shell.global_seed())
        trajs = _trajectories(cfg) if chosen else {}
    except ValueError as exc:
        right.error(str(exc))
        trajs = {}
    with right:
        if not chosen:
            st.info("Choose at least one optimizer.")
        elif trajs:
            upto = st.slider("Show the first … steps", 0, steps, steps, key=f"{PAGE}.upto",
                             help="Drag to replay the paths step by step.")
            ghost = _ghost_paths(name, cfg, trajs)
            contour, losses = surface_contour(surf, trajs, upto_step=upto), loss_curves(trajs)
            for i, (opt, old) in enumerate(ghost.items()):
                color = OPTIMIZER_COLORS.get(opt)
                add_ghost(contour, opt, old.xs, old.ys, color=color, index=i, path=True)
                add_ghost(losses, opt, range(len(old.losses)), old.losses, color=color, index=i)
            st.plotly_chart(contour, key=f"{PAGE}.contour")
            st.plotly_chart(losses, key=f"{PAGE}.lab_losses")
            table = pd.DataFrame(summary_table(trajs)).replace({"—": None})  # numeric columns stay numeric
            st.dataframe(table, hide_index=True, width="stretch")
            bad = [t.optimizer for t in trajs.values() if t.diverged_at is not None]
            if bad:
                st.warning(f"{', '.join(bad)} diverged: the steps grew without bound. Lower α and watch it settle.")
