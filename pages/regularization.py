"""Regularization: an overfitting set-up, and L2, dropout, augmentation, early stopping and
batch normalization tried on it as tracked runs."""

import streamlit as st

from core.experiment import series_with_suffix
from core.optimizers import OPTIMIZERS
from core.plots.regularization import error_bars, step_losses, sweep_chart, train_dev_curves
from core.regularization.experiments import (
    AugmentConfig,
    BatchNormConfig,
    EarlyStopConfig,
    OverfitConfig,
    SweepConfig,
    run_augmentation,
    run_batch_norm,
    run_early_stopping,
    run_overfit,
    run_sweep,
    sweep_points,
)
from core.regularization.lab import DATASET_LABELS, DATASETS, MONITORS, Setup, parse_values
from core.regularization.report import (
    comparison_caption,
    curve_title,
    download_names,
    early_stop_marks,
    early_stop_summary,
    early_stopped_lane,
    error_rows,
    lane_diagnoses,
    results_frame,
    step_series,
)
from ui import jobs, regularization_views, shell
from ui.tables import table_with_csv

PAGE = "regularization"
JOB = {k: f"{PAGE}.{k}" for k in ("overfit", "augment", "early", "bn", "sweep")}  # one job slot per experiment
PERCENT = st.column_config.NumberColumn(format="percent")
COLUMNS = {"train error": PERCENT, "dev error": PERCENT, "gap (dev − train)": PERCENT,
           "dev loss": st.column_config.NumberColumn(format="%.3f"), "Σ‖W‖²": st.column_config.NumberColumn(format="%.1f")}

st.title("Regularization")
st.markdown(
    "A network that is large for its training set can learn the training examples by heart: its "
    "**train error** drops to almost zero while its **dev error** stays high. That gap is *variance* "
    "(overfitting). The set-up below makes it happen on purpose — a few hundred digits and a wide "
    "network — so you can watch each regularization technique work on it. **Try:** run the first tab "
    "without regularization and look at the gap; then add L2 or dropout, more data by augmentation, "
    "or stop early, and compare. Every training is a tracked run (compare them on the Runs page)."
)

with st.container(border=True):
    st.markdown("**The overfitting set-up** — shared by every experiment on this page")
    c1, c2, c3, c4 = st.columns(4)
    dataset = c1.selectbox("Dataset", DATASETS, format_func=DATASET_LABELS.get, key=f"{PAGE}.dataset")
    n_train = c1.slider("Training examples", 20, 1000, 200, 10, key=f"{PAGE}.n_train",
                        help="A small subset of the training split; the dev set is up to 1,000 other images.")
    n_layers = c2.slider("Hidden layers", 1, 4, 2, key=f"{PAGE}.layers")
    width = c2.select_slider("Units per hidden layer", [32, 64, 128, 256, 512, 1024], 256, key=f"{PAGE}.width")
    epochs = c3.slider("Epochs", 1, 200, 40, key=f"{PAGE}.epochs")
    batch = c3.select_slider("Mini-batch size", [8, 16, 32, 64, 128, 256], 32, key=f"{PAGE}.batch")
    optimizer = c4.selectbox("Optimizer", list(OPTIMIZERS), index=list(OPTIMIZERS).index("Adam"), key=f"{PAGE}.optimizer")
    lr = c4.number_input("Learning rate α", 1e-5, 10.0, 1e-3, format="%g", key=f"{PAGE}.lr")
try:
    setup = Setup(dataset=dataset, n_train=n_train, hidden=(width,) * n_layers, optimizer=optimizer, lr=lr,
                  batch_size=batch, epochs=epochs, seed=shell.global_seed())
except ValueError as exc:
    st.error(f"The set-up is not valid: {exc}")
    setup = None


def _start(job: str, make_cfg, fn, name: str) -> None:
    """Build the experiment's config (a plain message for a bad setting) and start its job."""
    if setup is None:
        st.error("Fix the set-up above first.")
        return
    try:
        cfg = make_cfg()
    except ValueError as exc:
        st.error(str(exc))
    else:
        jobs.start(job, fn, cfg, name=name)


def _curves(snap, job: str, marks=None, metrics=("error", "loss"), train: bool = True) -> None:
    """Train (dashed) and dev (solid) error and loss per epoch, live from the job's rows."""
    epoch_rows = series_with_suffix(snap.metrics, "/epochs")
    train_rows = series_with_suffix(snap.metrics, "/train") if train else {}
    if not epoch_rows:
        return
    for col, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        col.plotly_chart(train_dev_curves(epoch_rows, train_rows, metric=metric, marks=marks,
                                          title=curve_title(metric, train)), key=f"{job}.{metric}")


def _bars(result, job: str) -> None:
    if rows := error_rows(result):
        st.plotly_chart(error_bars(rows), key=f"{job}.bars")


def _table(result, job: str, what: str) -> None:
    table = results_frame(result)
    filename, label = download_names(what)
    table_with_csv(table, label, filename, f"{job}.csv", column_config=COLUMNS, caption=comparison_caption(result))


def _submit(label: str, key: str) -> bool:
    return st.form_submit_button(label, type="primary", disabled=jobs.is_active(JOB[key]))


def _experiment(key: str, go: bool, make_cfg, fn, name: str, what: str, *parts, live=None, marks=None,
                metrics=("error", "loss"), train: bool = True) -> None:
    """Start experiment ``key``'s job when its button was pressed, and show its panel: ``live(snap)``
    and the live curves, then, once finished, each ``part(result, job)`` in order and the results table."""
    job = JOB[key]
    if go:
        _start(job, make_cfg, fn, name)

    def render(snap) -> None:
        if live is not None:
            live(snap)
        _curves(snap, job, marks(snap.result) if marks else None, metrics, train)
        if snap.result is not None:
            for part in parts:
                part(snap.result, job)
            _table(snap.result, job, what)

    jobs.panel(job, render)


# ---------------------------------------------------------------------------------- tabs

tab_fit, tab_aug, tab_es, tab_bn, tab_sweep = st.tabs(
    ["Overfitting, L2 and dropout", "Data augmentation", "Early stopping", "Batch normalization", "Sweep λ and keep_prob"]
)

with tab_fit:
    st.markdown(
        "**Bias and variance.** Compare the train error with the dev error. A low train error and a much "
        "higher dev error (say 1 % and 11 %) is high variance; both high and close (15 % and 16 %) is high "
        "bias; 15 % and 30 % is both. The remedies differ: for variance, more data or regularization."
    )
    st.markdown(
        "**L2 regularization** adds the squared size of every weight matrix to the cost. Its gradient "
        "adds a pull of each weight towards zero at every step (*weight decay*), so the network cannot "
        "lean on a few huge weights."
    )
    st.latex(r"J_{reg}(W,b) = J(W,b) + \frac{\lambda}{2m}\sum_l \|W^{[l]}\|_F^2"
             r"\qquad dW^{[l]} = (\text{from backprop}) + \frac{\lambda}{m} W^{[l]}")
    st.markdown(
        "**Inverted dropout** switches each hidden unit off with probability 1 − keep_prob at every "
        "training step and divides the survivors by keep_prob, so the expected activation is unchanged "
        "and nothing needs rescaling at test time, where dropout is off."
    )
    st.latex(r"A^{[l]} = A^{[l]} \odot D^{[l]} \qquad A^{[l]} = A^{[l]} / \text{keep\_prob}")
    st.caption(
        "What you see: for each training, the error on the training examples (dashed) and on the dev set "
        "(solid) after every epoch, measured with dropout off. Try λ = 1 and then 10, or keep_prob = 0.5, "
        "and watch how the gap and the dev loss change; a very large λ makes both errors rise (high bias)."
    )
    with st.form(f"{PAGE}.fit_form"):
        c1, c2, c3 = st.columns(3)
        lam = c1.number_input("λ (L2 strength)", 0.0, 1000.0, 1.0, 0.5, format="%g", key=f"{PAGE}.lam")
        keep = c2.slider("keep_prob (dropout)", 0.05, 1.0, 1.0, 0.05, key=f"{PAGE}.keep_prob")
        baseline = c3.checkbox("Also train without regularization", True, key=f"{PAGE}.baseline")
        go_fit = _submit("Start the overfitting experiment", "overfit")

    def _diagnoses(result, job: str) -> None:
        for line in lane_diagnoses(result):
            st.markdown(line)

    _experiment("overfit", go_fit, lambda: OverfitConfig(setup, lam, keep, baseline), run_overfit, "overfitting set-up",
                "overfitting", _bars, _diagnoses)


with tab_aug:
    st.markdown(
        "**Data augmentation** makes extra training examples out of the ones you have: each image gets "
        "a few modified copies with the same label. More (slightly different) data is the course's first "
        "remedy for variance, and it costs nothing to collect. Not every change keeps the label, though: "
        "a mirrored 2 is no longer quite a 2."
    )
    st.caption(
        "What you see: four training images (left) and their copies as the training will get them. Then "
        "the same network trained on the small set alone and on the set plus its copies. Try rotate + crop, "
        "then add flip and see whether the dev error gets better or worse."
    )
    spec = regularization_views.augmentation_settings(setup)
    go_aug = st.button("Start the augmentation experiment", type="primary", disabled=jobs.is_active(JOB["augment"]),
                       key=f"{PAGE}.go_aug")
    if go_aug and spec is None:
        st.error("Choose valid transformations first.")
    _experiment("augment", go_aug and spec is not None, lambda: AugmentConfig(setup, spec), run_augmentation,
                "augmentation", "augmentation", _bars)


with tab_es:
    st.markdown(
        "**Early stopping** watches the dev set during training and keeps the weights of the epoch where "
        "it was best; once it has not improved for *patience* epochs, training stops and those weights are "
        "restored. It is simple and cheap, but it ties two jobs together — fitting the training set and not "
        "overfitting it — which goes against orthogonalization (one knob per goal)."
    )
    st.caption(
        "What you see: the same network trained for all epochs and with early stopping. The star marks the "
        "best epoch, the dotted lines the best epoch and where training stopped. The epochs setting of the "
        "set-up is the upper limit. Try a patience of 1 (stops at the first wobble) and of 15."
    )
    with st.form(f"{PAGE}.es_form"):
        c1, c2, c3 = st.columns(3)
        patience = c1.slider("Patience (epochs without improvement)", 1, 30, 5, key=f"{PAGE}.patience")
        monitor = c2.radio("Watch", list(MONITORS), horizontal=True, key=f"{PAGE}.monitor")
        compare = c3.checkbox("Also train all epochs without stopping", True, key=f"{PAGE}.compare")
        go_es = _submit("Start the early-stopping experiment", "early")

    def _es_summary(result, job: str) -> None:
        if text := early_stop_summary(early_stopped_lane(result)):
            st.markdown(text)

    _experiment("early", go_es, lambda: EarlyStopConfig(setup, patience, monitor, compare), run_early_stopping,
                "early stopping", "early-stopping", _es_summary, _bars, marks=early_stop_marks)


with tab_bn:
    st.markdown(
        "**Batch normalization** rescales each hidden layer's pre-activations Z over the mini-batch to mean 0 "
        "and variance 1, then lets the network choose its own scale γ and shift β. Training gets much "
        "faster, tolerates larger learning rates and poor initial weights, and the noise of mini-batch "
        "statistics regularizes a little."
    )
    st.latex(r"\mu = \frac{1}{m}\sum_i z^{(i)} \qquad \sigma^2 = \frac{1}{m}\sum_i (z^{(i)} - \mu)^2 \qquad "
             r"z^{(i)}_{norm} = \frac{z^{(i)} - \mu}{\sqrt{\sigma^2 + \varepsilon}} \qquad "
             r"\tilde{z}^{(i)} = \gamma z^{(i)}_{norm} + \beta")
    st.markdown(
        "At test time there may be a single example, so μ and σ² come from exponentially weighted averages "
        "of the mini-batch statistics kept during training (the *running* mean and variance)."
    )
    st.caption(
        "What you see: the set-up's network, without and with batch norm, at each learning rate (plain "
        "gradient descent by default, on more training examples, since this is about training speed). "
        "Try a small α (batch norm learns much faster) and a large one (without it the loss blows up)."
    )
    with st.form(f"{PAGE}.bn_form"):
        c1, c2, c3, c4 = st.columns(4)
        bn_lrs = c1.text_input("Learning rates α to compare", "0.05, 2", key=f"{PAGE}.bn_lrs",
                               help="Comma-separated, up to 4 values; each is trained with and without batch norm.")
        bn_opt = c2.selectbox("Optimizer for this comparison", list(OPTIMIZERS), key=f"{PAGE}.bn_opt")
        bn_n = c3.slider("Training examples for this comparison", 100, 1000, 1000, 100, key=f"{PAGE}.bn_n")
        bn_epochs = c4.slider("Epochs for this comparison", 1, 50, 10, key=f"{PAGE}.bn_epochs")
        go_bn = _submit("Start the batch-norm comparison", "bn")

    def _steps(snap) -> None:
        if steps := step_series(snap.metrics):
            st.plotly_chart(step_losses(steps), key=f"{JOB['bn']}.steps")

    _experiment("bn", go_bn, lambda: BatchNormConfig(setup, parse_values(bn_lrs, "learning rates"), bn_opt, bn_n, bn_epochs),
                run_batch_norm, "batch norm", "batch-norm", _bars, regularization_views.batch_norm_look, live=_steps)


with tab_sweep:
    st.markdown(
        "**A sweep** trains the set-up once per value of λ (no dropout) and once per value of keep_prob "
        "(no L2), all with the same initial weights, as tracked runs under one comparison tag. Too little "
        "regularization leaves the variance; too much turns it into bias — both errors rise."
    )
    st.caption(
        "What you see: train and dev error against each setting, and how L2 shrinks the weights: the "
        "distribution of all weight values narrows towards zero as λ grows. Try adding λ = 100."
    )
    with st.form(f"{PAGE}.sweep_form"):
        c1, c2 = st.columns(2)
        lam_text = c1.text_input("λ values (comma-separated)", "0, 1, 10, 30", key=f"{PAGE}.sweep_lams")
        keep_text = c2.text_input("keep_prob values (comma-separated)", "1, 0.8, 0.5, 0.3", key=f"{PAGE}.sweep_keeps")
        go_sweep = _submit("Start the sweep", "sweep")

    def _sweep(result, job: str) -> None:
        if any((points := sweep_points(result)).values()):
            st.plotly_chart(sweep_chart(points), key=f"{job}.chart")
        regularization_views.weight_charts(result, job)

    _experiment("sweep", go_sweep, lambda: SweepConfig(setup, parse_values(lam_text, "λ values"),
                                                       parse_values(keep_text, "keep_prob values")),
                run_sweep, "sweep", "sweep", _sweep, metrics=("error",), train=False)
