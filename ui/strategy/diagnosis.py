"""The "Bias and variance" tab of the ML strategy page: avoidable bias and variance from human-level,
training and dev error, the course's four cases, and the errors of one's own tracked runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.plots import strategy as plots
from core.strategy import diagnosis as D
from ui.strategy import views as V
from ui.strategy.views import PAGE


def set_errors(train: float, dev: float, human: float | None = None) -> None:
    """Button callback: fill the diagnosis (fractions in, percent widgets out)."""
    for k, v in D.percent_fields(train, dev, human).items():
        st.session_state[f"{PAGE}.{k}"] = v


def load_run(table) -> None:
    """Button callback: fill the diagnosis with the errors of the picked tracked run."""
    found = D.run_errors(table, st.session_state.get(f"{PAGE}.run_pick"))
    if found is not None:
        set_errors(found[0], found[1])
        st.session_state[f"{PAGE}.loaded"] = found[2]


def render(runs: pd.DataFrame) -> None:
    """The tab; ``runs`` are the learner's tracked runs (:func:`ui.strategy.views.tracked_runs`)."""
    for k, v in D.DEFAULT_PERCENTS.items():
        st.session_state.setdefault(f"{PAGE}.{k}", v)
    st.markdown(
        "Human-level error stands in for the best error any model could reach. The distance from it to the "
        "training error is **avoidable bias**; the distance from training to dev error is **variance**. Work on "
        "the larger one. A gap counts as large when it is at least "
        f"{D.LARGE_GAP:.0%} (2 points) and at least {D.RELATIVE_GAP:.0%} of the other gap. **Try:** the course's "
        "four cases, then load one of your own tracked runs."
    )
    st.latex(r"\text{Avoidable bias} = \text{Training error} - \text{Human-level error}"
             r"\qquad \text{Variance} = \text{Dev error} - \text{Training error}")
    st.caption("The course's four cases (training error / dev error, human level ≈ 0 %): click one to fill it in.")
    for col, (name, (tr, dv, _)) in zip(st.columns(4), D.COURSE_CASES.items(), strict=True):
        col.button(D.preset_label(name, tr, dv), key=f"{PAGE}.preset.{name}", on_click=set_errors, args=(tr, dv, 0.0),
                   width="stretch", wrap=True)
    table = D.runs_with_errors(runs)
    with st.container(border=True):
        if table.empty:
            st.caption("No tracked run with final training and dev accuracy yet. Train something (for example in "
                       "the *Learning curves* tab, or on any other page) and it appears here.")
        else:
            labels = D.error_run_labels(table)
            c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
            c1.selectbox("Tracked run", table["run_id"], key=f"{PAGE}.run_pick", format_func=lambda rid: labels[rid])
            c2.button("Load the run's errors", key=f"{PAGE}.load_run", on_click=load_run, args=(table,), width="stretch")
            if st.session_state.get(f"{PAGE}.loaded"):
                st.caption(f"Loaded: {st.session_state[f'{PAGE}.loaded']} (errors = 1 − accuracy).")
    c1, c2, c3 = st.columns(3)
    human_pct = c1.number_input("Human-level error (%)", step=0.5, format="%.2f", key=f"{PAGE}.human_pct")
    train_pct = c2.number_input("Training error (%)", step=0.5, format="%.2f", key=f"{PAGE}.train_pct")
    dev_pct = c3.number_input("Dev error (%)", step=0.5, format="%.2f", key=f"{PAGE}.dev_pct")
    try:
        dx = D.diagnose_percent(human_pct, train_pct, dev_pct)
    except ValueError as exc:
        st.error(f"{exc}.", icon=":material/error:")
    else:
        left, right = st.columns([1, 1.3])
        with left:
            V.metric_row(D.gap_cards(dx))
            show = st.success if dx["verdict"] == "well fitted" else st.warning
            show(f"Diagnosis: **{dx['verdict']}**.", icon=":material/stethoscope:")
            st.markdown(D.advice_markdown(dx))
            for note in dx["notes"]:
                st.caption(note)
        right.plotly_chart(plots.error_waterfall(*D.percent_waterfall(human_pct, train_pct, dev_pct)),
                           key=f"{PAGE}.waterfall")
