"""The Optimizers page's race: the same network trained once per optimizer, as tracked runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.colors import OPTIMIZER_COLORS
from core.data import DATASETS, offline_names
from core.optimizers import OPTIMIZERS
from core.optimizers.race import BATCH_SIZES, DEFAULT_LR, WIDTHS, RaceConfig, run_race
from core.plots.training import epoch_bars, lane_curves
from core.settings import default_of, meta
from ui import export as export_ui
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.optimizers.lab import BETA_KEYS
from ui.tables import table_with_csv

PAGE = "optimizers"
INTRO = ("The same network with the **same initial weights** is trained once per optimizer. Each "
         "training is a tracked run; all runs of one race share a comparison tag on the Runs page. "
         "Pick the batch regime to see batch, mini-batch and stochastic gradient descent on real data.")


GHOST = dict(key=f"{PAGE}.race_ghost", grouped=True)  # ghost box: before training and live


def _render_race(snap) -> None:
    lanes = {k: v for k, v in snap.metrics.items() if "/" not in k}
    epochs = {k.split("/")[0]: v for k, v in snap.metrics.items() if k.endswith("/epochs")}
    if not lanes:
        return
    c1, c2, c3 = st.columns(3)
    smooth = c1.slider("Smoothing", 0.0, 0.99, 0.8, 0.01, key=f"{PAGE}.smooth")
    log_y = c2.toggle("Log scale", value=True, key=f"{PAGE}.logy")
    with c3:
        ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    st.plotly_chart(ghost_ui.overlay(lane_curves(lanes, smoothing=smooth, log_y=log_y), ghost, "train_loss",
                                     smoothing=smooth, log_y=log_y, colors=OPTIMIZER_COLORS, group=True),
                    key=f"{PAGE}.race_loss")
    if any("dev_accuracy" in row for rows in epochs.values() for row in rows):
        st.plotly_chart(ghost_ui.overlay(lane_curves(epochs, x="epoch", y="dev_accuracy",
                                                     title="Dev accuracy after each epoch"), ghost, "dev_accuracy",
                                         colors=OPTIMIZER_COLORS, group=True), key=f"{PAGE}.race_acc")
    result = snap.result
    if result is not None:
        rows = [{
            "optimizer": ln.outputs.get("optimizer", ln.name), "α": ln.outputs.get("lr"), "status": ln.status,
            "dev accuracy": ln.dev_accuracy, "dev loss": ln.dev_loss, "s / epoch": ln.seconds_per_epoch,
            "steps": ln.steps, "run": ln.run_id, "note": ln.error or "",
        } for ln in result.lanes]
        table = pd.DataFrame(rows)
        finals = {r["optimizer"]: r["dev accuracy"] for r in rows if r["dev accuracy"] is not None}
        if finals:
            st.plotly_chart(epoch_bars(finals, title="Final dev accuracy"), key=f"{PAGE}.race_bars")
        table_with_csv(table, "Download results (CSV)", "optimizer_race.csv", f"{PAGE}.race_csv", column_config={
            "dev accuracy": st.column_config.NumberColumn(format="percent"),
            "s / epoch": st.column_config.NumberColumn(format="%.3f")},
            caption=f"Comparison tag `{result.comparison}` · split sizes {result.sizes}")


def render() -> None:
    """The race's form and live panel (call it inside the page's race tab, after the lab: the race trains with
    the lab's β, β1 and β2)."""
    R = RaceConfig
    st.markdown(INTRO)
    with st.form(f"{PAGE}.race_form"):
        c1, c2, c3 = st.columns(3)
        names = offline_names("image") + offline_names("points") + [k for k, s in DATASETS.items() if not s.offline]
        dataset = form.field(c1, R, "dataset", key=f"{PAGE}.ds", options=names, value=names[0])
        regime = form.field(c2, R, "batch_regime", key=f"{PAGE}.regime", horizontal=True)
        batch = form.field(c2, R, "batch_size", key=f"{PAGE}.bs", options=BATCH_SIZES)
        lo, hi = meta(R, "hidden").count
        default_hidden = default_of(R, "hidden")
        layers = c1.slider("Hidden layers", lo, hi, len(default_hidden), key=f"{PAGE}.layers")
        width = form.field(c1, R, "hidden", key=f"{PAGE}.width", value=default_hidden[0], options=WIDTHS)
        n_epochs = form.field(c3, R, "epochs", key=f"{PAGE}.epochs")
        race_opts = form.field(c3, R, "optimizers", key=f"{PAGE}.race_opts")
        lr_cols = st.columns(len(OPTIMIZERS))
        lrs = {o: form.field(col, R, "learning_rates", key=f"{PAGE}.lr.{o}", value=DEFAULT_LR[o], label=f"α {o}")
               for o, col in zip(OPTIMIZERS, lr_cols, strict=True)}
        go = form.submit("Start the race", PAGE, icon=None)
    if go:
        betas = {k: st.session_state.get(key, default_of(R, k)) for k, key in BETA_KEYS.items()}
        export_ui.remember(f"{PAGE}.race", form.start(PAGE, run_race, lambda: R(
            dataset=dataset, optimizers=race_opts, learning_rates=tuple(lrs[o] for o in race_opts), **betas,
            batch_regime=regime, batch_size=batch, hidden=(width,) * layers, epochs=n_epochs, seed=shell.global_seed(),
        ), name="optimizer race"))
    export_ui.buttons(f"{PAGE}.race")
    ghost_ui.before(PAGE, PAGE, **GHOST)
    jobs.panel(PAGE, _render_race)
