"""Streamlit views shared by the ML strategy page's tabs (ui/strategy/): the button that starts a
training and its job panel, the hidden-layer picker, the tracked runs the page reads, the
optimizing-vs-satisficing choice and the error-analysis tagging. The logic lives in core/strategy;
widget keys are prefixed "strategy."."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.plots import strategy as plots
from core.plots.training import lane_curves
from core.settings import default_of, meta
from core.strategy import errors as EA
from core.strategy import experiments as X
from core.strategy import metrics as M
from ui import form, jobs
from ui import ghost as ghost_ui
from ui.auth import current_user
from ui.tables import csv_button, table_with_csv

PAGE = "strategy"
# how each job's runs are named (core/strategy), and whether it trains lanes of one comparison: a ghost is an
# earlier run of the same experiment
GHOSTS = {f"{PAGE}.curves": ("learning curve m=", True), f"{PAGE}.candidates": ("candidate ", True),
          f"{PAGE}.metric": ("is it a ", None), f"{PAGE}.errors": ("error analysis", None),
          f"{PAGE}.mismatch": ("data mismatch", None)}


def tracked_runs() -> tuple[pd.DataFrame, str | None]:
    """The learner's tracked runs (any page) and the plain message when the store cannot be read."""
    return X.load_runs(current_user())


def store_warning(error: str | None) -> None:
    """The plain message of :func:`tracked_runs` when the store could not be read."""
    if error:
        st.warning(error)


def hidden_field(where: Any, cfg: type, key: str, labels: Sequence[str] = tuple(X.HIDDEN_CHOICES)) -> tuple[int, ...]:
    """The ``hidden`` layer sizes of config ``cfg``, picked by their label among ``labels`` (the
    config's declared default picked at first); returns the sizes."""
    default = default_of(cfg, "hidden")
    options = list(labels)
    first = next(i for i, label in enumerate(options) if X.HIDDEN_CHOICES[label] == default)
    label = where.selectbox(meta(cfg, "hidden").label, options, index=first, key=f"{PAGE}.{key}")
    return X.HIDDEN_CHOICES[label]


def _ghost_kw(job: str) -> dict[str, Any]:
    named, grouped = GHOSTS.get(job, (None, None))
    return dict(key=f"{job}.ghost", named=named, grouped=grouped)


def live_lanes(snap, skip: tuple[str, ...] = ()) -> None:
    """Loss per step of every lane of a running job, over the faded ghost of an earlier run of the same
    experiment (every lane of it, for a comparison)."""
    lanes = X.live_series(snap.metrics, skip)
    if lanes and not snap.done:
        kw = _ghost_kw(snap.page)
        ghost = ghost_ui.pick(PAGE, since=snap.created, **kw)
        smoothing = X.live_smoothing(lanes)
        st.plotly_chart(ghost_ui.overlay(lane_curves(lanes, smoothing=smoothing), ghost, "train_loss",
                                         smoothing=smoothing, group=bool(kw["grouped"])), key=f"{snap.page}.live_loss")


def job_button(where: Any, label: str, job: str, fn: Any, make_cfg: Any, name: str, *, key: str,
               primary: bool = True, disabled: bool = False, render: Any = live_lanes) -> Any:
    """A button that starts ``fn`` on ``make_cfg()`` as the job ``job`` (:func:`ui.form.start`: a plain
    message when the settings are refused; a toast when this session's job is still going), then the
    job's panel; returns the job's last result (or None)."""
    if where.button(label, type="primary" if primary else "secondary", disabled=disabled or jobs.is_active(job),
                    key=f"{PAGE}.{key}"):
        if jobs.is_active(job):  # a double click
            st.toast("That training is still running; wait for it or press Stop.")
        else:
            form.start(job, fn, make_cfg, name=name)
    ghost_ui.before(job, PAGE, **_ghost_kw(job))
    jobs.panel(job, render)
    return st.session_state.get(f"{job}.result")


def metric_row(cards: Sequence[tuple[str, ...]], **kw: Any) -> None:
    """One ``st.metric`` per card (label, value[, delta]), side by side in equal columns."""
    for col, card in zip(st.columns(len(cards)), cards, strict=True):
        col.metric(*card, **kw)


# ------------------------------------------------------------------ optimizing and satisficing


def satisficing(runs: pd.DataFrame) -> None:
    """Pick the most accurate tracked run within an inference-time limit (the newest group of
    candidate networks by default), with the chart and the table of the runs."""
    candidates = M.candidate_runs(runs)
    if not candidates.empty:
        scopes = M.candidate_scopes(candidates)
        newest = M.newest_candidate_scope(scopes)
        if newest and st.session_state.get(f"{PAGE}.cand_newest") != newest:  # new candidates: show them
            st.session_state[f"{PAGE}.cand_newest"] = st.session_state[f"{PAGE}.cand_scope"] = newest
        scope = st.selectbox("Choose among", scopes, key=f"{PAGE}.cand_scope",
                             help="Accuracies are only comparable on the same task: by default the newest group of "
                                  "candidate networks.")
        candidates = M.in_scope(candidates, scope)
    if candidates.empty:
        st.info("No tracked run has both a dev accuracy and an inference time yet. Train the candidates above.",
                icon=":material/info:")
        return
    start, step = M.limit_start(candidates)
    ids = tuple(candidates["run_id"])
    if st.session_state.get(f"{PAGE}.limit_for") != ids:  # other runs to choose from: start at their median
        st.session_state[f"{PAGE}.limit_for"] = ids
        st.session_state[f"{PAGE}.limit_us"] = start
    limit_us = st.number_input("Inference-time limit (µs per example)", min_value=0.0, format="%.3f", step=step,
                               key=f"{PAGE}.limit_us")
    view = M.satisficing_view(candidates, limit_us)
    (st.warning if view.chosen is None else st.success)(view.message)
    st.plotly_chart(plots.satisficing_scatter(view.ranked, view.max_ms, view.chosen), key=f"{PAGE}.satisficing")
    table_with_csv(view.table, "Download the candidates (CSV)", "satisficing.csv", f"{PAGE}.cand_csv", column_config={
        "dev_accuracy": st.column_config.NumberColumn("dev accuracy", format="percent"),
        "us_per_example": st.column_config.NumberColumn("µs / example", format="%.4f")},
        caption="Times are measured on this machine (best of 3 passes over the dev set) and vary a little "
                "between runs; compare runs timed on the same device.")


# ------------------------------------------------------------------------------ error analysis


def _add_category() -> None:
    """Button callback: add the typed category (or keep a plain message why not)."""
    cats = st.session_state.get(f"{PAGE}.categories", EA.BUILTIN_CATEGORIES)
    try:
        st.session_state[f"{PAGE}.categories"] = EA.add_category(cats, st.session_state.get(f"{PAGE}.new_cat", ""))
        st.session_state[f"{PAGE}.new_cat"] = ""
        st.session_state.pop(f"{PAGE}.cat_error", None)
    except ValueError as exc:
        st.session_state[f"{PAGE}.cat_error"] = EA.as_sentence(str(exc))


def _save_tags(run_id: str, table: pd.DataFrame, counts: pd.DataFrame) -> None:
    """Button callback: keep the tags with the run; the outcome is shown on the next run."""
    st.session_state[f"{PAGE}.saved"] = X.save_error_tags(run_id, table, counts, current_user())


def error_tagging(er: X.ErrorModelResult) -> None:
    """The misclassified examples, the table to tag them (categories of one's own too), the tally
    with each category's ceiling, and saving/downloading the tags."""
    st.image(X.tiles(er.images, 64), caption=EA.example_captions(er.examples), width="content")
    st.caption("Each image: #example: true label → predicted label.")
    cats = st.session_state.setdefault(f"{PAGE}.categories", EA.BUILTIN_CATEGORIES)
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input("New category", key=f"{PAGE}.new_cat", placeholder="e.g. thick stroke")
    c2.button("Add category", key=f"{PAGE}.add_cat", on_click=_add_category, width="stretch")
    if st.session_state.get(f"{PAGE}.cat_error"):
        st.error(st.session_state[f"{PAGE}.cat_error"])
    store = st.session_state.setdefault(f"{PAGE}.ea_tables", {})
    entry = store[er.run_id] = EA.editor_entry(store.get(er.run_id), er.examples, cats)  # new columns: new editor
    edited = st.data_editor(
        entry["base"], key=f"{PAGE}.ea_editor.{er.run_id}.{entry['ver']}", hide_index=True, width="stretch",
        disabled=list(EA.FIXED_COLUMNS), column_config={
            "example": st.column_config.NumberColumn(width="small"),
            "true": st.column_config.TextColumn(width="small"),
            "predicted": st.column_config.TextColumn(width="small"),
            "confidence": st.column_config.NumberColumn(format="%.2f", width="small"),
            **{c: st.column_config.CheckboxColumn(c) for c in cats}})
    entry["latest"] = edited
    counts = EA.tally(edited, cats, er.dev_error)
    todo = EA.untagged(edited, cats)
    if not EA.any_ticked(counts):
        st.info("Tick at least one category in the table to see the tally.", icon=":material/checklist:")
    else:
        st.plotly_chart(plots.tally_bars(counts, er.dev_error), key=f"{PAGE}.tally")
        st.markdown(EA.ceiling_markdown(counts, er.dev_error))
        if todo:
            st.caption(EA.untagged_note(todo))
    c1, c2 = st.columns(2)
    c1.button("Save the tags with the run", key=f"{PAGE}.save_tags", on_click=_save_tags,
              args=(er.run_id, edited, counts), width="stretch")
    csv_button(c2, "Download the tags (CSV)", edited, "error_analysis.csv", f"{PAGE}.tags_csv", width="stretch")
    saved = st.session_state.pop(f"{PAGE}.saved", None)
    if saved:
        getattr(st, saved[0])(saved[1])
