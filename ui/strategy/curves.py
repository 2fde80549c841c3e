"""The "Learning curves" tab of the ML strategy page: one network trained on growing training sets."""

from __future__ import annotations

import streamlit as st

from core.plots import strategy as plots
from core.settings import default_of, meta
from core.strategy import experiments as X
from ui import form, shell
from ui.strategy import views as V
from ui.strategy.views import PAGE
from ui.tables import table_with_csv

JOB_CURVES = f"{PAGE}.curves"


def render_curves(snap) -> None:
    """Live: the learning curves so far, then the loss of the lane that is training."""
    rows = snap.metrics.get("learning_curve", [])
    if rows and not snap.done:
        st.plotly_chart(plots.learning_curve(rows, title="Learning curves (so far)"), key=f"{PAGE}.curve_live")
    V.live_lanes(snap, skip=("learning_curve",))


def render() -> None:
    st.markdown(
        "The same network, the same initial weights and the same number of steps, trained on bigger and bigger "
        "parts of the training set; the dev set stays fixed. A wide gap between the curves that closes slowly "
        "means variance (more data helps); two curves that meet high above human level mean bias (more data "
        "does not help; a bigger network does). **Try:** a tiny network (8 units) against a large one (128 units)."
    )
    c1, c2, c3 = st.columns(3)
    lc_data = form.field(c1, X.LearningCurveConfig, "dataset", key=f"{PAGE}.lc_data", options=X.curve_datasets())
    sizes = meta(X.LearningCurveConfig, "sizes")
    lc_sizes = c1.text_input(sizes.label, ", ".join(map(str, default_of(X.LearningCurveConfig, "sizes"))),
                             key=f"{PAGE}.lc_sizes", help=sizes.help)
    lc_hidden = V.hidden_field(c2, X.LearningCurveConfig, "lc_hidden")
    lc_steps = form.field(c2, X.LearningCurveConfig, "steps", key=f"{PAGE}.lc_steps", options=X.CURVE_STEPS)
    lc_lr = form.field(c3, X.LearningCurveConfig, "lr", key=f"{PAGE}.lc_lr", format_func=lambda v: f"{v:g}")
    lc = V.job_button(c3, "Train the learning curves", JOB_CURVES, X.run_learning_curves, lambda: X.LearningCurveConfig(
        dataset=lc_data, sizes=X.parse_sizes(lc_sizes), hidden=lc_hidden, steps=lc_steps, lr=lc_lr,
        seed=shell.global_seed()), "learning curves", key="lc_go", render=render_curves)
    if lc is not None and lc.points:
        st.plotly_chart(plots.learning_curve(lc.points, title=f"Learning curves (dev set: {lc.dev_size:,} examples)"),
                        key=f"{PAGE}.curve")
        st.caption(X.curve_caption(lc))
        table_with_csv(X.points_table(lc), "Download the learning curves (CSV)", "learning_curves.csv", f"{PAGE}.curve_csv",
                         column_config={"train_error": st.column_config.NumberColumn("train error", format="percent"),
                                        "dev_error": st.column_config.NumberColumn("dev error", format="percent")})
