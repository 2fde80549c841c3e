"""The "Metrics" tab of the ML strategy page: precision, recall and F1 of a classifier at a threshold,
and optimizing against satisficing over tracked candidate networks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.plots import strategy as plots
from core.settings import meta
from core.strategy import experiments as X
from core.strategy import metrics as M
from ui import form, shell
from ui.strategy import views as V
from ui.strategy.views import PAGE
from ui.tables import csv_button

JOB_METRIC, JOB_CANDIDATES = f"{PAGE}.metric", f"{PAGE}.candidates"


def _use_best_threshold(curve) -> None:
    """Button callback: move the threshold slider to the best F1."""
    st.session_state[f"{PAGE}.threshold"] = M.best_f1_slider_value(curve)


def render(runs: pd.DataFrame) -> None:
    """The tab; ``runs`` are the learner's tracked runs (:func:`ui.strategy.views.tracked_runs`)."""
    st.subheader("One number to compare models")
    st.markdown(
        "A classifier that says *is it a 3?* can be tuned by its **threshold**: predict \"3\" when its score is at "
        "least the threshold. A high threshold gives few false alarms (high **precision**) but misses 3s (low "
        "**recall**); a low one the opposite. **F1**, the harmonic mean of the two, turns the pair into the single "
        "number you can rank models by. **Try:** slide the threshold and watch the point move along the curve."
    )
    st.latex(r"P = \frac{TP}{TP + FP} \qquad R = \frac{TP}{TP + FN} \qquad F_1 = \frac{2PR}{P + R}")
    c1, c2, c3, c4 = st.columns(4, vertical_alignment="bottom")
    bin_pos = form.field(c1, X.BinaryConfig, "positive", key=f"{PAGE}.bin_pos")
    bin_hidden = V.hidden_field(c2, X.BinaryConfig, "bin_hidden")
    bin_epochs = form.field(c3, X.BinaryConfig, "epochs", key=f"{PAGE}.bin_epochs")
    br = V.job_button(c4, "Train the classifier", JOB_METRIC, X.run_binary, lambda: X.BinaryConfig(
        positive=bin_pos, hidden=bin_hidden, epochs=bin_epochs, seed=shell.global_seed()), "binary classifier",
        key="bin_go")
    if br is not None and len(br.y_true):
        curve = M.pr_curve(br.y_true, br.scores)
        st.session_state.setdefault(f"{PAGE}.threshold", 0.5)
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        thr = c1.slider("Decision threshold", 0.0, 1.0, step=0.001, format="%.3f", key=f"{PAGE}.threshold")
        c2.button("Use the threshold with the best F1", key=f"{PAGE}.best_thr", on_click=_use_best_threshold, args=(curve,))
        m = M.precision_recall_f1(br.y_true, br.scores, thr)
        V.metric_row(M.metric_cards(m))
        st.caption(M.confusion_caption(br.y_true, br.positive, m))
        left, right = st.columns(2)
        left.plotly_chart(plots.pr_view(curve, m, title=f"Precision–recall: is it a {br.positive}?"), key=f"{PAGE}.pr")
        right.plotly_chart(plots.threshold_sweep(curve, thr), key=f"{PAGE}.sweep")
        csv_button(st, "Download precision and recall per threshold (CSV)", M.curve_table(curve), "precision_recall.csv",
                     f"{PAGE}.pr_csv")

    st.subheader("Optimizing and satisficing")
    st.markdown(
        "With several things you care about, optimize one and only *satisfice* the others: pick the most "
        "accurate model (optimizing metric) among those fast enough (satisficing metric). Every tracked run of "
        "the lab records its dev accuracy and its inference time per example. **Try:** train the candidates, "
        "then lower the time limit and watch the choice move to a smaller network."
    )
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    cand = c1.multiselect(meta(X.CandidatesConfig, "architectures").label, list(X.CANDIDATE_NETS),
                          default=list(X.CANDIDATE_DEFAULT), key=f"{PAGE}.cand")
    cand_data = form.field(c2, X.CandidatesConfig, "dataset", key=f"{PAGE}.cand_data")
    V.job_button(c3, "Train candidate networks", JOB_CANDIDATES, X.run_candidates, lambda: X.CandidatesConfig(
        dataset=cand_data, architectures=tuple(X.CANDIDATE_NETS[c] for c in cand), seed=shell.global_seed()),
        "candidate networks", key="cand_go", primary=False)
    V.satisficing(runs)
