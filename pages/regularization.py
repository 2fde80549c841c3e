"""Regularization: an overfitting set-up, and L2, dropout, augmentation, early stopping and
batch normalization tried on it as tracked runs."""

import pandas as pd
import streamlit as st

from core.optimizers import OPTIMIZERS
from core.plots.regularization import (
    bn_stats_chart,
    error_bars,
    image_grid,
    step_losses,
    sweep_chart,
    train_dev_curves,
    weight_histogram_chart,
    weight_norm_bars,
)
from core.regularization.augment import AUGMENTATIONS, DESCRIPTIONS, AugmentSpec, preview
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
from core.regularization.lab import (
    DATASET_LABELS,
    DATASETS,
    MONITORS,
    Setup,
    diagnosis,
    parse_values,
    prepare,
    results_table,
)
from ui import jobs, shell

PAGE = "regularization"
JOB = {k: f"{PAGE}.{k}" for k in ("overfit", "augment", "early", "bn", "sweep")}  # one job slot per experiment
PERCENT = st.column_config.NumberColumn(format="percent")

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


def _rows(snap, suffix: str) -> dict:
    return {k[: -len(suffix)]: v for k, v in snap.metrics.items() if k.endswith(suffix)}


def _curves(snap, job: str, marks=None, metrics=("error", "loss"), train: bool = True) -> None:
    """Train (dashed) and dev (solid) error and loss per epoch, live from the job's rows."""
    epoch_rows, train_rows = _rows(snap, "/epochs"), _rows(snap, "/train") if train else {}
    if not epoch_rows:
        return
    cols = st.columns(len(metrics))
    for col, metric in zip(cols, metrics, strict=True):
        title = f"{metric.capitalize()} per epoch: train dashed, dev solid" if train else f"Dev {metric} per epoch"
        col.plotly_chart(train_dev_curves(epoch_rows, train_rows, metric=metric, marks=marks, title=title),
                         key=f"{job}.{metric}")


def _table(result, job: str, filename: str, label: str) -> pd.DataFrame:
    table = pd.DataFrame(results_table(result))
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "train error": PERCENT, "dev error": PERCENT, "gap (dev − train)": PERCENT,
        "dev loss": st.column_config.NumberColumn(format="%.3f"), "Σ‖W‖²": st.column_config.NumberColumn(format="%.1f")})
    st.caption(f"Comparison tag `{result.comparison}` · data sizes {result.sizes}")
    st.download_button(label, table.to_csv(index=False).encode(), filename, "text/csv", key=f"{job}.csv")
    return table


def _bars(result, job: str) -> None:
    rows = [(ln.name, ln.train_error, ln.dev_error) for ln in result.lanes]
    if any(r[1] is not None for r in rows):
        st.plotly_chart(error_bars(rows), key=f"{job}.bars")


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
        go_fit = st.form_submit_button("Start the overfitting experiment", type="primary",
                                       disabled=jobs.is_active(JOB["overfit"]))
    if go_fit:
        _start(JOB["overfit"], lambda: OverfitConfig(setup, lam, keep, baseline), run_overfit, "overfitting set-up")

    def _render_fit(snap) -> None:
        _curves(snap, JOB["overfit"])
        result = snap.result
        if result is None:
            return
        _bars(result, JOB["overfit"])
        for ln in result.lanes:
            if ln.dev_error is not None:
                st.markdown(f"- **{ln.name}**: train error {ln.train_error:.1%}, dev error {ln.dev_error:.1%} "
                            f"→ {diagnosis(ln.train_error, ln.dev_error)}")
        _table(result, JOB["overfit"], "regularization_overfitting.csv", "Download overfitting results (CSV)")

    jobs.panel(JOB["overfit"], _render_fit)


@st.cache_data(max_entries=32, show_spinner=False)
def _preview(setup: Setup, spec: AugmentSpec):
    data = prepare(setup)
    return preview(data.train[0], spec, n_examples=4, seed=setup.seed)


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
    c1, c2 = st.columns([1, 2])
    with c1:
        transforms = st.multiselect("Transformations", AUGMENTATIONS, default=["rotate", "crop", "noise"],
                                    key=f"{PAGE}.transforms")
        st.caption(" · ".join(f"**{t}**: {DESCRIPTIONS[t]}" for t in AUGMENTATIONS))
        copies = st.slider("Copies per training image", 1, 8, 3, key=f"{PAGE}.copies")
        a1, a2 = st.columns(2)
        degrees = a1.slider("Largest rotation (°)", 0, 60, 15, key=f"{PAGE}.degrees")
        crop_scale = a2.slider("Crop keeps at least", 0.5, 1.0, 0.8, 0.05, key=f"{PAGE}.crop")
        bright = a1.slider("Brightness change ±", 0.0, 0.5, 0.2, 0.05, key=f"{PAGE}.brightness")
        contrast = a2.slider("Contrast change ±", 0.0, 0.9, 0.3, 0.05, key=f"{PAGE}.contrast")
        noise = a1.slider("Noise σ", 0.0, 0.5, 0.1, 0.01, key=f"{PAGE}.noise")
    try:
        spec = AugmentSpec(tuple(transforms), copies, degrees, crop_scale, bright, contrast, noise)
    except ValueError as exc:
        c2.error(str(exc))
        spec = None
    if spec is not None and setup is not None:
        grid = _preview(setup, spec)
        c2.plotly_chart(image_grid(grid, col_titles=["original"] + [f"copy {i + 1}" for i in range(copies)],
                                   cell=95 if setup.dataset == "digits" else 110), key=f"{PAGE}.preview")
        c2.caption(f"The training set grows from {setup.n_train} to {setup.n_train * (copies + 1)} images.")
    if st.button("Start the augmentation experiment", type="primary", disabled=jobs.is_active(JOB["augment"]),
                 key=f"{PAGE}.go_aug"):
        if spec is None:
            st.error("Choose valid transformations first.")
        else:
            _start(JOB["augment"], lambda: AugmentConfig(setup, spec), run_augmentation, "augmentation")

    def _render_aug(snap) -> None:
        _curves(snap, JOB["augment"])
        result = snap.result
        if result is None:
            return
        _bars(result, JOB["augment"])
        _table(result, JOB["augment"], "regularization_augmentation.csv", "Download augmentation results (CSV)")

    jobs.panel(JOB["augment"], _render_aug)


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
        go_es = st.form_submit_button("Start the early-stopping experiment", type="primary",
                                      disabled=jobs.is_active(JOB["early"]))
    if go_es:
        _start(JOB["early"], lambda: EarlyStopConfig(setup, patience, monitor, compare), run_early_stopping,
               "early stopping")

    def _render_es(snap) -> None:
        result = snap.result
        marks = None
        stopped = None
        if result is not None:
            stopped = next((ln for ln in result.lanes if ln.spec and ln.spec.patience and ln.history.best_epoch), None)
            if stopped is not None:
                marks = {stopped.name: {"best": stopped.history.best_epoch, "stopped": len(stopped.history.epochs)}}
        _curves(snap, JOB["early"], marks=marks)
        if result is None:
            return
        if stopped is not None and stopped.final:
            best_row = stopped.history.epochs[stopped.history.best_epoch - 1]
            how = "stopped early" if stopped.history.stopped_early else "ran all epochs (the dev set kept improving)"
            st.markdown(
                f"Early stopping {how} after epoch {len(stopped.history.epochs)} and went back to epoch "
                f"{stopped.history.best_epoch}. Dev loss of the returned network: **{stopped.final['dev_loss']:.4f}** "
                f"(at epoch {stopped.history.best_epoch} it was {best_row['dev_loss']:.4f})."
            )
        _bars(result, JOB["early"])
        _table(result, JOB["early"], "regularization_early_stopping.csv", "Download early-stopping results (CSV)")

    jobs.panel(JOB["early"], _render_es)


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
        go_bn = st.form_submit_button("Start the batch-norm comparison", type="primary", disabled=jobs.is_active(JOB["bn"]))
    if go_bn:
        _start(JOB["bn"], lambda: BatchNormConfig(setup, parse_values(bn_lrs, "learning rates"), bn_opt, bn_n, bn_epochs),
               run_batch_norm, "batch norm")

    def _render_bn(snap) -> None:
        steps = {k: v for k, v in snap.metrics.items() if "/" not in k}
        if steps:
            st.plotly_chart(step_losses(steps), key=f"{JOB['bn']}.steps")
        _curves(snap, JOB["bn"])
        result = snap.result
        if result is None:
            return
        _bars(result, JOB["bn"])
        look = result.extras.get("bn_look")
        if look is not None:
            st.markdown(
                f"**Inside the first batch-norm layer** of *{result.extras['bn_lane']}*, fed one dev mini-batch "
                f"of {look.batch_size} examples: the running averages (used in eval mode) next to the batch's "
                "own statistics (used in training)."
            )
            st.plotly_chart(bn_stats_chart(look.running_mean, look.batch_mean, look.running_var, look.batch_var),
                            key=f"{JOB['bn']}.look")
            st.dataframe(pd.DataFrame([
                {"check": "eval-mode output − formula with the running μ, σ²", "largest difference": look.eval_vs_running},
                {"check": "training-mode output − formula with the batch's μ, σ²", "largest difference": look.train_vs_batch},
                {"check": "eval-mode output − training-mode output", "largest difference": look.eval_vs_batch},
            ]), hide_index=True, width="stretch", column_config={
                "largest difference": st.column_config.NumberColumn(format="%.2e")})
            st.caption("The first two are zero up to rounding: eval mode really uses the running averages. The third "
                       "shows how much the choice matters for this batch.")
        _table(result, JOB["bn"], "regularization_batch_norm.csv", "Download batch-norm results (CSV)")

    jobs.panel(JOB["bn"], _render_bn)


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
        go_sweep = st.form_submit_button("Start the sweep", type="primary", disabled=jobs.is_active(JOB["sweep"]))
    if go_sweep:
        _start(JOB["sweep"], lambda: SweepConfig(setup, parse_values(lam_text, "λ values"),
                                                 parse_values(keep_text, "keep_prob values")), run_sweep, "sweep")

    def _render_sweep(snap) -> None:
        _curves(snap, JOB["sweep"], metrics=("error",), train=False)
        result = snap.result
        if result is None:
            return
        points = sweep_points(result)
        if any(points.values()):
            st.plotly_chart(sweep_chart(points), key=f"{JOB['sweep']}.chart")
        hist = result.extras.get("weight_hist")
        if hist is not None:
            c1, c2 = st.columns([2, 1])
            log_y = c1.toggle("Log scale for the weight histogram", value=False, key=f"{JOB['sweep']}.logy")
            c1.plotly_chart(weight_histogram_chart(*hist, log_y=log_y), key=f"{JOB['sweep']}.hist")
            norms = {ln.name: sum(v * v for v in ln.weight_norms) for ln in result.lanes
                     if ln.name.startswith("λ=") and ln.weight_norms}
            c2.plotly_chart(weight_norm_bars(norms), key=f"{JOB['sweep']}.norms")
        _table(result, JOB["sweep"], "regularization_sweep.csv", "Download sweep results (CSV)")

    jobs.panel(JOB["sweep"], _render_sweep)
