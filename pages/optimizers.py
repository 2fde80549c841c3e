"""Optimizers: the course's update rules, a loss-surface lab and a race on a real network."""

import pandas as pd
import streamlit as st

from core.data import DATASETS, offline_names
from core.optimizers import OPTIMIZERS
from core.optimizers.race import BATCH_REGIMES, DEFAULT_LR, RaceConfig, run_race
from core.optimizers.surfaces import SURFACES, TrajectoryConfig, run_trajectories, summary_table
from core.plots.surfaces import loss_curves, surface_contour
from core.plots.training import epoch_bars, lane_curves
from ui import jobs, shell
from ui.tables import table_with_csv

PAGE = "optimizers"
LR_OPTIONS = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2, 0.1, 0.2, 0.3, 0.5, 1.0]
EPS_OPTIONS = [1e-8, 1e-6, 1e-4, 1e-2, 1e-1, 1.0]

st.title("Optimizers")
st.markdown(
    "Training a network means walking downhill on its loss. Every optimizer below takes the same "
    "gradient and turns it into a step in its own way: plain steps, steps with inertia, or steps "
    "scaled per weight by how large that weight's gradients have been. **Try:** the *Ravine* with "
    "gradient descent and then Momentum; raise α until a path explodes; add gradient noise to see "
    "mini-batch training; then race the optimizers on real digits."
)
tab_rules, tab_lab, tab_race = st.tabs(["Update rules", "Loss-surface lab", "Race on a real network"])

with tab_rules:
    st.markdown("**Gradient descent** — step against the gradient, scaled by the learning rate α.")
    st.latex(r"W := W - \alpha\, dW")
    st.markdown("**Momentum** — keep a running average *v* of gradients; zig-zags cancel, steady slopes add up.")
    st.latex(r"v_{dW} = \beta v_{dW} + (1-\beta)\, dW \qquad W := W - \alpha\, v_{dW}")
    st.markdown("**Adagrad** — divide by the root of *all* past squared gradients; steps only ever shrink.")
    st.latex(r"s_{dW} = s_{dW} + (dW)^2 \qquad W := W - \frac{\alpha}{\sqrt{s_{dW} + \epsilon}}\, dW")
    st.markdown("**RMSprop** — like Adagrad, but *s* forgets old gradients, so steps do not die out.")
    st.latex(r"s_{dW} = \beta s_{dW} + (1-\beta)(dW)^2 \qquad W := W - \frac{\alpha}{\sqrt{s_{dW} + \epsilon}}\, dW")
    st.markdown("**Adam** — momentum and RMSprop together, with both averages corrected for starting at zero.")
    st.latex(
        r"v_{dW} = \beta_1 v_{dW} + (1-\beta_1)\, dW \qquad s_{dW} = \beta_2 s_{dW} + (1-\beta_2)(dW)^2"
    )
    st.latex(
        r"v^{corrected}_{dW} = \frac{v_{dW}}{1-\beta_1^t} \qquad s^{corrected}_{dW} = \frac{s_{dW}}{1-\beta_2^t}"
        r"\qquad W := W - \frac{\alpha}{\sqrt{s^{corrected}_{dW}} + \epsilon}\, v^{corrected}_{dW}"
    )
    st.caption(
        "These are implemented exactly as written (note where ε sits: inside the root for Adagrad and "
        "RMSprop, outside for Adam) and tested step by step against PyTorch's optimizers or closed forms. "
        "The same rule updates the biases b."
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _trajectories(cfg: TrajectoryConfig):
    return run_trajectories(cfg)


with tab_lab:
    left, right = st.columns([1, 2.4], gap="large")
    with left:
        name = st.selectbox("Surface", list(SURFACES), key=f"{PAGE}.surface")
        surf = SURFACES[name]
        st.caption(surf.description)
        chosen = st.multiselect("Optimizers", list(OPTIMIZERS), default=list(OPTIMIZERS), key=f"{PAGE}.lab_opts")
        lr = st.select_slider("Learning rate α", LR_OPTIONS, value=min(LR_OPTIONS, key=lambda v: abs(v - surf.suggested_lr)),
                              key=f"{PAGE}.lab_lr.{name}", format_func=lambda v: f"{v:g}")
        c1, c2 = st.columns(2)
        beta = c1.slider("β (Momentum, RMSprop)", 0.0, 0.99, 0.9, 0.01, key=f"{PAGE}.lab_beta")
        beta1 = c2.slider("β1 (Adam)", 0.0, 0.99, 0.9, 0.01, key=f"{PAGE}.lab_beta1")
        beta2 = c1.slider("β2 (Adam)", 0.9, 0.9999, 0.999, 0.0001, format="%.4f", key=f"{PAGE}.lab_beta2")
        eps = c2.select_slider("ε", EPS_OPTIONS, value=1e-8, key=f"{PAGE}.lab_eps", format_func=lambda v: f"{v:g}")
        steps = st.slider("Steps", 10, 2000, 300, 10, key=f"{PAGE}.lab_steps")
        sx = c1.number_input("Start x", *map(float, surf.x_range), float(surf.start[0]), 0.1, key=f"{PAGE}.sx.{name}")
        sy = c2.number_input("Start y", *map(float, surf.y_range), float(surf.start[1]), 0.1, key=f"{PAGE}.sy.{name}")
        noise = st.select_slider(
            "Gradient noise σ", [0.0, 0.1, 0.3, 1.0, 3.0, 10.0], value=0.0, key=f"{PAGE}.lab_noise",
            help="0 is batch gradient descent (the exact gradient). Larger noise imitates smaller "
                 "mini-batches, down to stochastic gradient descent with one example per step.",
        )
    try:
        cfg = TrajectoryConfig(name, tuple(chosen), lr, beta, beta1, beta2, eps, steps, (sx, sy), noise, shell.global_seed())
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
            st.plotly_chart(surface_contour(surf, trajs, upto_step=upto), key=f"{PAGE}.contour")
            st.plotly_chart(loss_curves(trajs), key=f"{PAGE}.lab_losses")
            table = pd.DataFrame(summary_table(trajs)).replace({"—": None})  # numeric columns stay numeric
            st.dataframe(table, hide_index=True, width="stretch")
            bad = [t.optimizer for t in trajs.values() if t.diverged_at is not None]
            if bad:
                st.warning(f"{', '.join(bad)} diverged: the steps grew without bound. Lower α and watch it settle.")


def _render_race(snap) -> None:
    lanes = {k: v for k, v in snap.metrics.items() if "/" not in k}
    epochs = {k.split("/")[0]: v for k, v in snap.metrics.items() if k.endswith("/epochs")}
    if not lanes:
        return
    c1, c2 = st.columns(2)
    smooth = c1.slider("Smoothing", 0.0, 0.99, 0.8, 0.01, key=f"{PAGE}.smooth")
    log_y = c2.toggle("Log scale", value=True, key=f"{PAGE}.logy")
    st.plotly_chart(lane_curves(lanes, smoothing=smooth, log_y=log_y), key=f"{PAGE}.race_loss")
    if any("dev_accuracy" in row for rows in epochs.values() for row in rows):
        st.plotly_chart(lane_curves(epochs, x="epoch", y="dev_accuracy", title="Dev accuracy after each epoch"),
                        key=f"{PAGE}.race_acc")
    result = snap.result
    if result is not None:
        rows = [{
            "optimizer": ln.optimizer, "α": ln.lr, "status": ln.status, "dev accuracy": ln.dev_accuracy,
            "dev loss": ln.dev_loss, "s / epoch": ln.seconds_per_epoch, "steps": ln.steps,
            "run": ln.run_id, "note": ln.error or "",
        } for ln in result.lanes]
        table = pd.DataFrame(rows)
        finals = {r["optimizer"]: r["dev accuracy"] for r in rows if r["dev accuracy"] is not None}
        if finals:
            st.plotly_chart(epoch_bars(finals, title="Final dev accuracy"), key=f"{PAGE}.race_bars")
        table_with_csv(table, "Download results (CSV)", "optimizer_race.csv", f"{PAGE}.race_csv", column_config={
            "dev accuracy": st.column_config.NumberColumn(format="percent"),
            "s / epoch": st.column_config.NumberColumn(format="%.3f")},
            caption=f"Comparison tag `{result.comparison}` · split sizes {result.sizes}")


with tab_race:
    st.markdown(
        "The same network with the **same initial weights** is trained once per optimizer. Each "
        "training is a tracked run; all runs of one race share a comparison tag on the Runs page. "
        "Pick the batch regime to see batch, mini-batch and stochastic gradient descent on real data."
    )
    with st.form(f"{PAGE}.race_form"):
        c1, c2, c3 = st.columns(3)
        names = offline_names("image") + offline_names("points") + [k for k, s in DATASETS.items() if not s.offline]
        dataset = c1.selectbox("Dataset", names, format_func=lambda k: DATASETS[k].description, key=f"{PAGE}.ds")
        regime = c2.radio("Batch regime", BATCH_REGIMES, horizontal=True, key=f"{PAGE}.regime")
        batch = c2.select_slider("Mini-batch size", [8, 16, 32, 64, 128, 256, 512], 64, key=f"{PAGE}.bs")
        layers = c1.slider("Hidden layers", 0, 4, 1, key=f"{PAGE}.layers")
        width = c1.select_slider("Units per hidden layer", [16, 32, 64, 128, 256], 64, key=f"{PAGE}.width")
        n_epochs = c3.slider("Epochs", 1, 30, 5, key=f"{PAGE}.epochs")
        race_opts = c3.multiselect("Optimizers in the race", list(OPTIMIZERS), default=["Gradient descent", "Momentum", "RMSprop", "Adam"],
                                   key=f"{PAGE}.race_opts")
        lr_cols = st.columns(len(OPTIMIZERS))
        lrs = {o: col.number_input(f"α {o}", 1e-5, 1e4, DEFAULT_LR[o], format="%g", key=f"{PAGE}.lr.{o}")
               for o, col in zip(OPTIMIZERS, lr_cols, strict=True)}
        go = st.form_submit_button("Start the race", type="primary", disabled=jobs.is_active(PAGE))
    if go:
        try:
            cfg = RaceConfig(dataset=dataset, optimizers=tuple(race_opts), learning_rates=tuple(lrs[o] for o in race_opts),
                             beta=beta, beta1=beta1, beta2=beta2, batch_regime=regime, batch_size=batch,
                             hidden=(width,) * layers, epochs=n_epochs, seed=shell.global_seed())
        except ValueError as exc:
            st.error(str(exc))
        else:
            jobs.start(PAGE, run_race, cfg, name="optimizer race")
    jobs.panel(PAGE, _render_race)
