"""The "Error analysis" tab of the ML strategy page: a classifier's misclassified dev digits, tagged by
hand into categories, each category's ceiling on what fixing it can gain."""

from __future__ import annotations

import streamlit as st

from core.strategy import errors as EA
from core.strategy import experiments as X
from ui import form, shell
from ui.strategy import views as V
from ui.strategy.views import PAGE

JOB_ERRORS = f"{PAGE}.errors"


def render() -> None:
    st.markdown(
        "Before spending a month on a fix, look at the mistakes. Train a classifier, then go through its "
        "misclassified dev digits and tick what went wrong with each. The share of errors in a category is the "
        "**ceiling** on what fixing that category can gain. **Try:** add a category of your own (e.g. *thick "
        "stroke*), tick, and see which fix is worth it."
    )
    c1, c2, c3, c4 = st.columns(4, vertical_alignment="bottom")
    ea_data = form.field(c1, X.ErrorModelConfig, "dataset", key=f"{PAGE}.ea_data")
    ea_hidden = V.hidden_field(c2, X.ErrorModelConfig, "ea_hidden")
    ea_epochs = form.field(c3, X.ErrorModelConfig, "epochs", key=f"{PAGE}.ea_epochs")
    ea_max = form.field(c4, X.ErrorModelConfig, "max_examples", key=f"{PAGE}.ea_max")
    er = V.job_button(st, "Train a classifier to analyse", JOB_ERRORS, X.run_error_model, lambda: X.ErrorModelConfig(
        dataset=ea_data, hidden=ea_hidden, epochs=ea_epochs, max_examples=ea_max, seed=shell.global_seed()),
        "error analysis classifier", key="ea_go")
    if er is not None and X.analysable(er):
        st.markdown(EA.error_summary(er.dev_error, er.n_errors, er.dev_size, len(er.examples)))
        if er.examples:
            V.error_tagging(er)
