"""The RNNs page's bidirectional tab: a tagging task where the future matters, a
unidirectional and a bidirectional RNN trained side by side as two tracked runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.jobs import FINISHED
from core.plots.rnn import CELL_COLORS, accuracy_bars, position_accuracy
from core.plots.training import lane_curves
from core.rnn.tagging import (
    TRAINING_STRINGS,
    TaggingConfig,
    TaggingResult,
    make_tagging_data,
    run_tagging,
    unidirectional_ceiling,
)
from ui import export as export_ui
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.tables import csv_button

PAGE = "rnn"
JOB = f"{PAGE}.tagger"


GHOST = dict(key=f"{PAGE}.tag_ghost", kind="bidirectional", grouped=True)  # ghost box: before training and live


def render_bidirectional() -> None:
    """The "Bidirectional" tab."""
    st.markdown(
        "A **bidirectional RNN** runs one RNN left to right and another right to left, and predicts at each step "
        "from both states:"
    )
    st.latex(r"\hat y^{\langle t \rangle} = g\left(W_y\,[\overrightarrow{a}^{\langle t \rangle}, "
             r"\overleftarrow{a}^{\langle t \rangle}] + b_y\right)")
    st.markdown(
        "The task: strings of random digits, and each position is tagged **1 if the next digit is larger** than "
        "this one. A left-to-right RNN has not seen the next digit yet, and it is random, so the best it can do "
        "is guess from the current digit (after a 9 the answer is always 0, after a 4 it is a coin toss): at most "
        f"**{unidirectional_ceiling(10):.0%}** correct. The backward RNN has already read the next digit. "
        "**Try:** train both and compare; make the strings longer; try the vanilla RNN cell."
    )
    X, y = make_tagging_data(1, 10, 10, seed=shell.global_seed())
    st.dataframe(pd.DataFrame({"digits": [" ".join(map(str, X[0].tolist()))],
                               "tags": [" ".join("·" if v < 0 else str(v) for v in y[0].tolist())]}),
                 hide_index=True)
    with st.form(f"{PAGE}.tag_form", border=True):
        f1, f2, f3 = st.columns(3)
        keys = {"cell": "cell", "hidden_size": "hidden", "length": "length", "n_train": "n", "epochs": "epochs", "lr": "lr"}
        chosen = form.fields(TaggingConfig, [(f1, "cell"), (f1, "hidden_size"), (f2, "length"),
                                             (f2, "n_train", {"options": TRAINING_STRINGS}), (f3, "epochs"), (f3, "lr")],
                             keys={k: f"{PAGE}.tag_{v}" for k, v in keys.items()})
        go = form.submit("Train both taggers", JOB)
    if go:
        export_ui.remember(JOB, form.start(JOB, run_tagging, lambda: TaggingConfig(**chosen, seed=shell.global_seed()),
                                           name=lambda cfg: f"uni vs bi {cfg.cell} tagger"))
    export_ui.buttons(JOB)
    ghost_ui.before(JOB, PAGE, **GHOST)
    jobs.panel(JOB, _view, every=1.0)


def _view(snap) -> None:
    lanes = {k: v for k, v in snap.metrics.items() if k in ("unidirectional", "bidirectional")}
    if lanes:
        ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
        st.plotly_chart(ghost_ui.overlay(lane_curves(lanes, smoothing=0.6, title="Training loss per step", colors=CELL_COLORS),
                                         ghost, "train_loss", smoothing=0.6, colors=CELL_COLORS, group=True),
                        key=f"{PAGE}.tag_steps")
    result: TaggingResult | None = snap.result if isinstance(snap.result, TaggingResult) else None
    if result is None or not result.accuracy:
        return
    c1, c2 = st.columns(2)
    c1.plotly_chart(accuracy_bars(result.accuracy, result.ceiling), key=f"{PAGE}.tag_bars")
    c2.plotly_chart(position_accuracy(result.per_position, result.ceiling), key=f"{PAGE}.tag_positions")
    if snap.status != FINISHED:
        return
    if result.examples:
        st.markdown("**Some dev strings** (· marks the last position, which has no next digit):")
        st.dataframe(pd.DataFrame(result.examples), hide_index=True, width="stretch")
    rows = [{"position": t + 1, **{n: v[t] for n, v in result.per_position.items()}}
            for t in range(max(len(v) for v in result.per_position.values()))]
    csv_button(st, "Download the accuracy per position (CSV)", rows, "bidirectional_accuracy.csv", f"{PAGE}.tag_csv")
    st.caption(f"Two runs in the *rnn* experiment with comparison tag `{result.comparison}`: open them side by side "
               "on the Runs page.")
