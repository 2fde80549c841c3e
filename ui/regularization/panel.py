"""The Regularization page's shared pieces: the overfitting set-up every experiment starts from, and
an experiment's panel (start its job from its form, then live curves, the finished parts and the
results table)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from core.colors import PALETTE
from core.experiment import series_with_suffix
from core.plots.regularization import error_bars, train_dev_curves
from core.regularization.lab import BATCH_SIZES, WIDTHS, Setup
from core.regularization.report import comparison_caption, curve_title, download_names, error_rows, results_frame
from core.settings import default_of, meta
from ui import export as export_ui
from ui import form, jobs, shell
from ui import ghost as ghost_ui
from ui.tables import table_with_csv

PAGE = "regularization"
JOB = {k: f"{PAGE}.{k}" for k in ("overfit", "augment", "early", "bn", "sweep")}  # one job slot per experiment
# how each experiment's runs are named, "<kind>: <lane>" (core.regularization.experiments): a ghost is a run of the same one
KINDS = {"overfit": "overfitting", "augment": "augmentation", "early": "early stopping", "bn": "batch norm",
         "sweep": "sweep"}
GHOST_KEYS = {"error": "dev_error", "loss": "dev_loss"}  # what each chart draws, as the runs logged it
PERCENT = st.column_config.NumberColumn(format="percent")
COLUMNS = {"train error": PERCENT, "dev error": PERCENT, "gap (dev − train)": PERCENT,
           "dev loss": st.column_config.NumberColumn(format="%.3f"), "Σ‖W‖²": st.column_config.NumberColumn(format="%.1f")}


def set_up() -> Setup | None:
    """The set-up's widgets (in a bordered box) and the set-up they make, or ``None`` after saying why not."""
    with st.container(border=True):
        st.markdown("**The overfitting set-up** — shared by every experiment on this page")
        c1, c2, c3, c4 = st.columns(4)
        dataset = form.field(c1, Setup, "dataset", key=f"{PAGE}.dataset")
        n_train = form.field(c1, Setup, "n_train", key=f"{PAGE}.n_train")
        hidden, default = meta(Setup, "hidden"), default_of(Setup, "hidden")  # layers × units per layer
        n_layers = c2.slider(hidden.label, hidden.count[0], hidden.count[1], len(default), key=f"{PAGE}.layers")
        width = c2.select_slider("Units per hidden layer", WIDTHS, default[0], key=f"{PAGE}.width")
        epochs = form.field(c3, Setup, "epochs", key=f"{PAGE}.epochs")
        batch = form.field(c3, Setup, "batch_size", key=f"{PAGE}.batch", options=BATCH_SIZES)
        optimizer = form.field(c4, Setup, "optimizer", key=f"{PAGE}.optimizer")
        lr = form.field(c4, Setup, "lr", key=f"{PAGE}.lr")
    try:
        return Setup(dataset=dataset, n_train=n_train, hidden=(width,) * n_layers, optimizer=optimizer, lr=lr,
                     batch_size=batch, epochs=epochs, seed=shell.global_seed())
    except ValueError as exc:
        st.error(f"The set-up is not valid: {exc}")
        return None


def values_field(where: Any, cfg: type, name: str, *, key: str) -> str:
    """A text box for a config's tuple of numbers, comma-separated (its label, help and default from the
    config); read it with :func:`core.regularization.lab.parse_values` when the config is built."""
    s = meta(cfg, name)
    return where.text_input(s.label, ", ".join(f"{v:g}" for v in default_of(cfg, name)), key=key,
                            **({"help": s.help} if s.help else {}))


def submit(label: str, key: str) -> bool:
    return form.submit(label, JOB[key], icon=None)


def settings_form(form_key: str, cfg: type, keys: Mapping[str, str], label: str, job: str,
                  **widget_kw: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A form with one column per field of ``cfg`` (``keys``: field → widget key) and its start button:
    ``({field: value}, pressed)``; ``widget_kw[field]`` goes to that field's widget."""
    with st.form(f"{PAGE}.{form_key}"):
        values = {name: form.field(col, cfg, name, key=f"{PAGE}.{key}", **widget_kw.get(name, {}))
                  for col, (name, key) in zip(st.columns(len(keys)), keys.items(), strict=True)}
        return values, submit(label, job)


def _curves(snap, job: str, marks=None, metrics: Sequence[str] = ("error", "loss"), train: bool = True,
            ghost: str | None = None) -> None:
    """Train (dashed) and dev (solid) error and loss per epoch, live from the job's rows; with ``ghost`` (a run
    id) the dev curves of that earlier run's experiment faded under them, each in its lane's colour."""
    epoch_rows = series_with_suffix(snap.metrics, "/epochs")
    train_rows = series_with_suffix(snap.metrics, "/train") if train else {}
    if not epoch_rows:
        return
    lanes = list(dict.fromkeys([*epoch_rows, *train_rows]))  # coloured in this order by train_dev_curves
    colors = {lane: PALETTE[i % len(PALETTE)] for i, lane in enumerate(lanes)}
    for col, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        fig = train_dev_curves(epoch_rows, train_rows, metric=metric, marks=marks, title=curve_title(metric, train))
        col.plotly_chart(ghost_ui.overlay(fig, ghost, GHOST_KEYS[metric], colors=colors, group=True, label="dev"),
                         key=f"{job}.{metric}")


def bars(result, job: str) -> None:
    if rows := error_rows(result):
        st.plotly_chart(error_bars(rows), key=f"{job}.bars")


def _table(result, job: str, what: str) -> None:
    table = results_frame(result)
    filename, label = download_names(what)
    table_with_csv(table, label, filename, f"{job}.csv", column_config=COLUMNS, caption=comparison_caption(result))


def experiment(key: str, go: bool, setup: Setup | None, make_cfg: Callable[[], Any], fn: Callable, name: str, what: str,
               *parts: Callable, live: Callable | None = None, marks: Callable | None = None,
               metrics: Sequence[str] = ("error", "loss"), train: bool = True) -> None:
    """Start experiment ``key``'s job when its button was pressed (``make_cfg()`` builds its config from
    the set-up), and show its panel: ``live(snap)`` and the live curves, then, once finished, each
    ``part(result, job)`` in order and the results table."""
    job = JOB[key]
    if go:
        if setup is None:
            st.error("Fix the set-up above first.")
        else:
            export_ui.remember(job, form.start(job, fn, make_cfg, name=name))
    export_ui.buttons(job)  # every experiment of the page but the L2 look (core/export/regularization.py)
    ghost_kw = dict(key=f"{job}.ghost", grouped=True, named=f"{KINDS[key]}: ")
    ghost_ui.before(job, PAGE, **ghost_kw)

    def render(snap) -> None:
        if live is not None:
            live(snap)
        ghost = ghost_ui.pick(PAGE, since=snap.created, **ghost_kw)
        _curves(snap, job, marks(snap.result) if marks else None, metrics, train, ghost)
        if snap.result is not None:
            for part in parts:
                part(snap.result, job)
            _table(snap.result, job, what)

    jobs.panel(job, render)
