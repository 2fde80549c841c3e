"""The Regularization page's five experiments, one tab each: overfitting with L2 and dropout, data
augmentation, early stopping, batch normalization, and a sweep of λ and keep_prob."""

from __future__ import annotations

import streamlit as st

from core.plots.regularization import step_losses, sweep_chart
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
from core.regularization.lab import Setup, parse_values
from core.regularization.report import early_stop_marks, early_stop_summary, early_stopped_lane, lane_diagnoses, step_series
from ui import form, jobs
from ui.regularization import views
from ui.regularization.panel import JOB, PAGE, bars, experiment, settings_form, submit, values_field

TABS = ("Overfitting, L2 and dropout", "Data augmentation", "Early stopping", "Batch normalization",
        "Sweep λ and keep_prob")


def render(setup: Setup | None) -> None:
    """The five tabs, each experiment starting from ``setup`` (``None``: the set-up is not valid)."""
    drawn = (overfitting_tab, augmentation_tab, early_stopping_tab, batch_norm_tab, sweep_tab)
    for tab, draw in zip(st.tabs(list(TABS)), drawn, strict=True):
        with tab:
            draw(setup)


def overfitting_tab(setup: Setup | None) -> None:
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
    values, go = settings_form("fit_form", OverfitConfig, {"lam": "lam", "keep_prob": "keep_prob", "baseline": "baseline"},
                               "Start the overfitting experiment", "overfit")

    def diagnoses(result, job: str) -> None:
        for line in lane_diagnoses(result):
            st.markdown(line)

    experiment("overfit", go, setup, lambda: OverfitConfig(setup, **values), run_overfit,
               "overfitting set-up", "overfitting", bars, diagnoses)


def augmentation_tab(setup: Setup | None) -> None:
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
    spec = views.augmentation_settings(setup)
    go = st.button("Start the augmentation experiment", type="primary", disabled=jobs.is_active(JOB["augment"]),
                   key=f"{PAGE}.go_aug")
    if go and spec is None:
        st.error("Choose valid transformations first.")
    experiment("augment", go and spec is not None, setup, lambda: AugmentConfig(setup, spec), run_augmentation,
               "augmentation", "augmentation", bars)


def early_stopping_tab(setup: Setup | None) -> None:
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
    values, go = settings_form("es_form", EarlyStopConfig, {"patience": "patience", "monitor": "monitor", "compare": "compare"},
                               "Start the early-stopping experiment", "early", monitor={"horizontal": True})

    def summary(result, job: str) -> None:
        if text := early_stop_summary(early_stopped_lane(result)):
            st.markdown(text)

    experiment("early", go, setup, lambda: EarlyStopConfig(setup, **values), run_early_stopping,
               "early stopping", "early-stopping", summary, bars, marks=early_stop_marks)


def batch_norm_tab(setup: Setup | None) -> None:
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
        lrs = values_field(c1, BatchNormConfig, "learning_rates", key=f"{PAGE}.bn_lrs")
        optimizer = form.field(c2, BatchNormConfig, "optimizer", key=f"{PAGE}.bn_opt")
        n_train = form.field(c3, BatchNormConfig, "n_train", key=f"{PAGE}.bn_n")
        epochs = form.field(c4, BatchNormConfig, "epochs", key=f"{PAGE}.bn_epochs")
        go = submit("Start the batch-norm comparison", "bn")

    def steps(snap) -> None:
        if series := step_series(snap.metrics):
            st.plotly_chart(step_losses(series), key=f"{JOB['bn']}.steps")

    experiment("bn", go, setup,
               lambda: BatchNormConfig(setup, parse_values(lrs, "learning rates"), optimizer, n_train, epochs),
               run_batch_norm, "batch norm", "batch-norm", bars, views.batch_norm_look, live=steps)


def sweep_tab(setup: Setup | None) -> None:
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
        lams = values_field(c1, SweepConfig, "lambdas", key=f"{PAGE}.sweep_lams")
        keeps = values_field(c2, SweepConfig, "keep_probs", key=f"{PAGE}.sweep_keeps")
        go = submit("Start the sweep", "sweep")

    def charts(result, job: str) -> None:
        if any((points := sweep_points(result)).values()):
            st.plotly_chart(sweep_chart(points), key=f"{job}.chart")
        views.weight_charts(result, job)

    experiment("sweep", go, setup, lambda: SweepConfig(setup, parse_values(lams, "λ values"),
                                                       parse_values(keeps, "keep_prob values")),
               run_sweep, "sweep", "sweep", charts, metrics=("error",), train=False)
