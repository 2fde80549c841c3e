"""The "Data splits" tab of the ML strategy page: train/dev/test shares by dataset size, and the
data-mismatch demo (train, train-dev and a shifted dev set)."""

from __future__ import annotations

import streamlit as st

from core.plots import strategy as plots
from core.strategy import diagnosis as D
from core.strategy import mismatch as MM
from core.strategy import splits as S
from ui import form, shell
from ui.strategy import views as V
from ui.strategy.views import PAGE
from ui.tables import csv_button

JOB_MISMATCH = f"{PAGE}.mismatch"


def render() -> None:
    st.markdown(
        "**Train** fits the weights, **dev** picks between models and hyperparameters, **test** gives the final, "
        "unbiased number. Dev and test only need to be big enough to trust their numbers, so their *share* shrinks "
        "as the data grows. **Try:** 5,000, then 500,000, then 5,000,000 examples."
    )
    n = st.number_input("Examples in the dataset", min_value=1, value=10_000, step=1_000, key=f"{PAGE}.n")
    try:
        plan = S.plan_split(int(n))
    except ValueError as exc:
        st.error(str(exc))
    else:
        V.metric_row(S.split_cards(plan), delta_color="off", delta_arrow="off")
        st.caption(S.rule_caption(plan))
        st.plotly_chart(plots.split_rule(*S.share_curve(), mark=int(n)), key=f"{PAGE}.split_rule")
        csv_button(st, "Download the split (CSV)", S.split_table(plan), "split_plan.csv", f"{PAGE}.split_csv")

    st.subheader("When dev data look different: data mismatch")
    st.markdown(
        "Dev and test must come from the distribution you care about, but training data often do not (web photos "
        "for training, phone photos for dev). Then a dev gap mixes two things. Carve a **train-dev** set out of the "
        "training distribution and hold it out: *train-dev − train* is variance, *dev − train-dev* is **data "
        "mismatch**. Below, the dev points are rotated and shifted away from the training points. **Try:** "
        "rotation 0 and shift 0 (no mismatch), then grow them and watch only the last gap grow."
    )
    c1, c2, c3 = st.columns(3)
    cfg = MM.MismatchConfig
    mm_data = form.field(c1, cfg, "dataset", key=f"{PAGE}.mm_data")
    mm_rot = form.field(c2, cfg, "rotation", key=f"{PAGE}.mm_rot", format="%d")
    mm_shift = form.field(c3, cfg, "shift", key=f"{PAGE}.mm_shift")
    mm_noise = form.field(c1, cfg, "noise", key=f"{PAGE}.mm_noise")
    mm_hidden = V.hidden_field(c2, cfg, "mm_hidden", MM.HIDDEN_OFFERED)
    mm_epochs = form.field(c3, cfg, "epochs", key=f"{PAGE}.mm_epochs")
    try:
        mm_cfg = cfg(dataset=mm_data, noise=mm_noise, rotation=mm_rot, shift=mm_shift, hidden=mm_hidden,
                     epochs=mm_epochs, seed=shell.global_seed())
    except ValueError as exc:
        st.error(str(exc))
        mm_cfg = None
    mm = V.job_button(st, "Train the mismatch demo", JOB_MISMATCH, MM.run_mismatch, lambda: mm_cfg, "data mismatch demo",
                      key="mm_go", disabled=mm_cfg is None)
    if mm is not None and mm.errors:
        human = st.number_input("Human-level error for the toy set (%)", 0.0, 100.0, 0.0, 0.5, key=f"{PAGE}.mm_human")
        report = D.mismatch_report(mm.errors, human)
        V.metric_row(report.cards)
        left, right = st.columns([1.25, 1])
        left.plotly_chart(plots.error_waterfall(report.levels, report.gaps, title="Avoidable bias, variance and data "
                                                "mismatch"), key=f"{PAGE}.mm_waterfall")
        right.plotly_chart(plots.mismatch_scatter(mm.data, mm.grid), key=f"{PAGE}.mm_scatter")
        st.info(report.advice, icon=":material/lightbulb:")
    else:
        st.plotly_chart(plots.mismatch_scatter(MM.mismatch_data(mm_cfg) if mm_cfg else {}), key=f"{PAGE}.mm_preview")
