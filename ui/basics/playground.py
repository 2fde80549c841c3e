"""The Network basics page's playground: the widgets, the URL, Play/Pause/Step/Reset and
the live panel, drawn from :mod:`core.basics.playground` (the engine and its settings) and
:mod:`core.plots.playground` (the figures)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from core.basics import playground as pgc
from core.plots.playground import decision_map, loss_history, neuron_maps
from core.settings import meta
from ui import form, jobs, shell
from ui.auth import current_user
from ui.tables import csv_button

PAGE = "basics"
PG = f"{PAGE}.pg"  # session keys and the job slot of the playground


def _pg_defaults() -> None:
    """Widgets that have no value yet start from the set-up in the URL (a shared link)."""
    cfg, problems = pgc.PlaygroundConfig.from_query({k: st.query_params[k] for k in st.query_params})
    if problems and f"{PG}.init" not in st.session_state:
        for p in problems:
            st.warning(f"The link's setting {p} is not valid here; the default is used instead.")
    st.session_state[f"{PG}.init"] = True
    values = {
        f"{PG}.data": cfg.dataset, f"{PG}.classes": cfg.n_classes, f"{PG}.points": cfg.points,
        f"{PG}.noise": cfg.noise, f"{PG}.train": cfg.train_ratio,
        f"{PG}.batch": cfg.batch_size, f"{PG}.layers": len(cfg.hidden), f"{PG}.act": cfg.activation,
        f"{PG}.lr": min(pgc.LEARNING_RATES, key=lambda v: abs(v - cfg.lr)), f"{PG}.reg": cfg.regularization,
        f"{PG}.rate": min(pgc.REG_RATES, key=lambda v: abs(v - cfg.reg_rate)), f"{PG}.feat": list(cfg.features),
        **{f"{PG}.units{i}": h for i, h in enumerate(cfg.hidden)},
    }
    for k, v in values.items():
        st.session_state.setdefault(k, v)


def _pg_state() -> pgc.PlaygroundState | None:
    """The session's network, taking in the result of a Play or Step that has ended."""
    snap = jobs.current(PG)
    if snap is not None and snap.done and snap.result is not None and st.session_state.get(f"{PG}.taken") != snap.id:
        st.session_state[f"{PG}.taken"] = snap.id
        st.session_state[f"{PG}.state"] = snap.result.state
    return st.session_state.get(f"{PG}.state")


def _pg_set(state: pgc.PlaygroundState) -> None:
    st.session_state[f"{PG}.state"] = state
    st.session_state.pop(f"{PG}.view", None)


def _pg_view(state: pgc.PlaygroundState) -> pgc.Playground:
    """The network of ``state`` rebuilt in this process for drawing (once per state)."""
    view = st.session_state.get(f"{PG}.view")
    if view is None or view[0] is not state:
        view = st.session_state[f"{PG}.view"] = (state, pgc.Playground.from_state(state))
    return view[1]


def _pg_pause() -> None:
    """The Pause button's callback: Streamlit calls it before the page runs again, so the worker
    stops at its next step without waiting for the page's script."""
    snap = jobs.current(PG)
    if snap is not None and not snap.done:
        jobs.runner(PG).cancel(snap.id, user=current_user())
        st.session_state[f"{PG}.pausing"] = True


def _pg_stop_job() -> None:
    """Pause: the job stops at its next step and hands the network back."""
    jobs.stop(PG, wait=10)
    _pg_state()


def _pg_render(snap) -> None:
    state = _pg_state()
    if state is None:
        return
    running = snap is not None and not snap.done
    if running:
        frame = snap.images.get("frame")
        hist = state.history + [r for r in snap.metrics.get("curve", []) if r["epoch"] > state.epoch]
        if frame is None:
            frame = _pg_view(state).frame()
        hist = hist[: frame.epoch + 1]  # every panel shows the same moment
    else:
        view = _pg_view(state)
        frame, hist = view.frame(), state.history
    points = _pg_view(state).points
    last = hist[-1]
    if running:
        st.caption(f"Training: {snap.message} · {snap.elapsed_s:.0f} s")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Epoch", f"{last['epoch']:,}")
    m2.metric("Training loss", f"{last['train_loss']:.3f}")
    m3.metric("Test loss", f"{last['test_loss']:.3f}")
    m4.metric("Test accuracy", f"{last['test_accuracy']:.1%}")
    c_net, c_out = st.columns([1, 1.25], gap="medium")
    with c_net:
        st.markdown("**What each neuron computes**")
        st.plotly_chart(neuron_maps(frame), key=f"{PG}.neurons", config={"displayModeBar": False})
        st.caption("Each square is one unit's output over the whole plane (orange negative, blue positive); "
                   "each line a weight (blue positive, orange negative, thicker = larger). Deeper layers "
                   "combine the simple shapes of earlier ones.")
    with c_out:
        show_test = st.session_state.get(f"{PG}.show_test", False)
        discretize = st.session_state.get(f"{PG}.discretize", False)
        st.plotly_chart(decision_map(frame, points, show_test=show_test, discretize=discretize), key=f"{PG}.map",
                        config={"displayModeBar": False})
        st.plotly_chart(loss_history(hist), key=f"{PG}.loss", config={"displayModeBar": False})


def _pg_play(state: pgc.PlaygroundState, epochs: int) -> None:
    jobs.start(PG, pgc.play, pgc.PlayRequest(state, epochs=epochs), name="playground")


def _pg_run(cfg: pgc.PlaygroundConfig, *, play: bool, step: bool, reset: bool, running: bool) -> None:
    """Keep the URL and the session's network in step with the widgets, act on the buttons, and
    draw the live panel. The network trains in the worker process; a new learning rate, batch size
    or regularization while it plays is applied by pausing and playing on with the new set-up."""
    st.query_params.from_dict(cfg.to_query())  # the address bar now holds the whole set-up
    state = _pg_state()
    if reset or state is None or state.cfg.structure() != cfg.structure():
        if running:
            _pg_stop_job()  # new data or a new network: TensorFlow Playground resets too
        running = False
        state = pgc.Playground(cfg).state()
        _pg_set(state)
    elif state.cfg != cfg:
        if running:
            _pg_stop_job()
            state = _pg_state()
        state = dataclasses.replace(state, cfg=cfg)  # learning rate, batch size and regularization apply at once
        _pg_set(state)
        if running and not play:
            _pg_play(state, pgc.MAX_EPOCHS)
            st.rerun()
    if (play or step) and state.diverged:
        st.info("This network has diverged. Press Reset to start again with new weights.", icon=":material/restart_alt:")
    elif play or step:
        _pg_play(state, 1 if step else pgc.MAX_EPOCHS)
        if step:
            jobs.runner(PG).wait(jobs.current(PG).id, timeout=30, user=current_user())
        st.rerun()
    jobs.panel(PG, _pg_render, every=1.0, controls=False)
    with st.expander("Share, download, tracking"):
        st.caption("The address bar holds this exact set-up: copy it to share the playground. Every Play and "
                   "Step trains the same tracked run until you press Reset or change the data or the network "
                   "(see the Runs page, experiment *basics*).")
        csv_button(st, "Download the loss history (CSV)", _pg_state().history, "playground_history.csv", f"{PG}.csv")


def _g(v: float) -> str:
    return f"{v:g}"


def render() -> None:
    """The whole playground (call it inside the page's Playground tab)."""
    st.markdown(
        "A small network learns to separate coloured points in the plane. Press **Play** and watch the "
        "background — the network's prediction — take the shape of the data, and the little maps show what "
        "every hidden neuron has learned. **Try:** *circles* with only x1 and x2 and no hidden layer (it "
        "cannot work: a single neuron draws a straight line), then tick x1² and x2²; *spirals* with three "
        "classes and several layers; a learning rate of 3 or 10 to see training blow up; L2 on a noisy set."
    )
    _pg_defaults()
    paused = st.session_state.pop(f"{PG}.pausing", False)
    if paused:
        _pg_stop_job()  # Pause was sent before this run began (the button's callback); take the network back
    running = jobs.is_active(PG)
    bar = st.columns([0.8, 0.8, 0.8, 1.4, 1.1, 1.1, 1.4], vertical_alignment="bottom")
    play_clicked = bar[0].button("Pause" if running else "Play", type="primary", key=f"{PG}.play",
                                 icon=":material/pause:" if running else ":material/play_arrow:", width="stretch",
                                 on_click=_pg_pause if running else None)
    play_clicked = play_clicked and not running and not paused
    step_clicked = bar[1].button("Step", key=f"{PG}.step", icon=":material/skip_next:", disabled=running,
                                 help="Train exactly one epoch.", width="stretch")
    reset_clicked = bar[2].button("Reset", key=f"{PG}.reset", icon=":material/restart_alt:", width="stretch",
                                  help="New random weights (a new tracked run starts with the next Play).")
    P = pgc.PlaygroundConfig
    lr = form.field(bar[3], P, "lr", key=f"{PG}.lr", options=pgc.LEARNING_RATES, format_func=_g)
    act = form.field(bar[4], P, "activation", key=f"{PG}.act")
    reg = form.field(bar[5], P, "regularization", key=f"{PG}.reg")
    rate = form.field(bar[6], P, "reg_rate", key=f"{PG}.rate", options=pgc.REG_RATES, format_func=_g,
                      disabled=reg == "none")
    left, right = st.columns([1, 3.2], gap="large")
    with left:
        st.markdown("**Data**")
        data = form.field(st, P, "dataset", key=f"{PG}.data")
        multi = data in pgc.MULTICLASS_KINDS
        classes = form.field(st, P, "n_classes", key=f"{PG}.classes", disabled=not multi)
        # shares of 1 shown in % (rounded: a float slider's step may leave 0.9000000000000001)
        train_ratio = round(form.field(st, P, "train_ratio", key=f"{PG}.train"), 4)
        noise = round(form.field(st, P, "noise", key=f"{PG}.noise"), 4)
        points = form.field(st, P, "points", key=f"{PG}.points", options=pgc.POINTS)
        batch = form.field(st, P, "batch_size", key=f"{PG}.batch")
        st.markdown("**Network**")
        feats = st.pills(meta(P, "features").label, list(pgc.FEATURES), selection_mode="multi", key=f"{PG}.feat",
                         wrap=True)
        units = meta(P, "hidden")
        n_layers = st.slider("Hidden layers", *units.count, key=f"{PG}.layers")
        unit_cols = st.columns(3)
        for i in range(n_layers):
            st.session_state.setdefault(f"{PG}.units{i}", 4)
        hidden = tuple(form.field(unit_cols[i % 3], P, "hidden", key=f"{PG}.units{i}", value=4, label=f"Layer {i + 1}")
                       for i in range(n_layers))
        if n_layers:
            st.caption(f"{units.label} ({units.lo:g} to {units.hi:g}).")
        st.toggle("Show test data", key=f"{PG}.show_test")
        st.toggle("Discretize output", key=f"{PG}.discretize", help="Colour each point of the plane by its "
                  "predicted class only, without the shading by confidence.")
    try:
        pg_cfg = pgc.PlaygroundConfig(
            dataset=data, n_classes=classes if multi else 2, points=points, noise=noise,
            train_ratio=train_ratio, batch_size=batch, hidden=hidden, activation=act, lr=lr,
            regularization=reg, reg_rate=rate if reg != "none" else 0.0, features=tuple(feats or ()),
            seed=shell.global_seed(),
        )
    except ValueError as exc:
        message = str(exc)
        right.error(f"{message[:1].upper()}{message[1:]}.")
    else:
        with right:
            _pg_run(pg_cfg, play=play_clicked, step=step_clicked, reset=reset_clicked, running=running)
