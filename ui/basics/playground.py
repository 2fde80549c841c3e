"""The Network basics page's playground: the widgets, the URL, Play/Pause/Step/Reset and
the live panel, drawn from :mod:`core.basics.playground` (the engine and its settings) and
:mod:`core.plots.playground` (the figures). Also: your own points from a CSV, a weight editor (click a
connection), an activation per layer, a ghost of an earlier run's boundary, and links that hide controls
(``?hide=noise,lr``) for a focused exercise."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from core import tracking
from core.basics import playground as pgc
from core.data.toy import make_toy, read_points_csv
from core.export.playground import DEFAULT_EPOCHS as EXPORT_EPOCHS
from core.identity import User
from core.plots.playground import decision_map, loss_history, neuron_maps
from core.settings import meta
from ui import export as export_ui
from ui import form, ghost, jobs, shell
from ui.auth import current_user
from ui.tables import csv_button

PAGE = "basics"
PG = f"{PAGE}.pg"  # session keys and the job slot of the playground


def _pg_defaults() -> None:
    """Widgets that have no value yet start from the set-up in the URL (a shared link)."""
    query = {k: st.query_params[k] for k in st.query_params}
    cfg, problems = pgc.PlaygroundConfig.from_query(query)
    hidden, unknown = pgc.hide_from_query(query)
    if f"{PG}.init" not in st.session_state:
        st.session_state[f"{PG}.hide"] = hidden  # a shared exercise keeps its hidden controls for the session
        if query.get("data") == pgc.CSV:
            problems = [p for p in problems if not p.startswith("data=")]
            st.info("This link used an uploaded CSV, which does not travel in a link: choose the file again "
                    "under *Your points (CSV)*.", icon=":material/upload_file:")
        for p in problems + unknown:
            st.warning(f"The link's setting {p} is not valid here; the default is used instead.")
    st.session_state[f"{PG}.init"] = True
    values = {
        f"{PG}.data": cfg.dataset, f"{PG}.classes": cfg.n_classes, f"{PG}.points": cfg.points,
        f"{PG}.noise": cfg.noise, f"{PG}.train": cfg.train_ratio,
        f"{PG}.batch": cfg.batch_size, f"{PG}.layers": len(cfg.hidden), f"{PG}.act": cfg.activation,
        f"{PG}.lr": min(pgc.LEARNING_RATES, key=lambda v: abs(v - cfg.lr)), f"{PG}.reg": cfg.regularization,
        f"{PG}.rate": min(pgc.REG_RATES, key=lambda v: abs(v - cfg.reg_rate)), f"{PG}.feat": list(cfg.features),
        **{f"{PG}.units{i}": h for i, h in enumerate(cfg.hidden)},
        **{f"{PG}.act{i}": a for i, a in enumerate(cfg.layer_activations)},
    }
    if query.get("data") == pgc.CSV:
        values[f"{PG}.data"] = pgc.CSV
    for k, v in values.items():
        st.session_state.setdefault(k, v)


def _hidden() -> tuple[str, ...]:
    """The controls the link hides (``?hide=...``)."""
    return st.session_state.get(f"{PG}.hide", ())


def _ctl(name: str, key: str, draw: Callable[[], Any]) -> Any:
    """Draw a control unless the link hides it (then its value stays the one the link set)."""
    if name in _hidden():
        return st.session_state[key]
    return draw()


def _csv_points(data: Any) -> Any:
    """The points of the uploaded CSV (parsed once per file), or None with the reason shown."""
    if data is None:
        return None
    raw = data.getvalue()
    digest = hashlib.sha1(raw).hexdigest()
    cached = st.session_state.get(f"{PG}.csvparsed")
    if cached is None or cached[0] != digest:
        try:
            cached = (digest, read_points_csv(raw, name=data.name), None)
        except ValueError as exc:
            cached = (digest, None, f"{data.name} cannot be used: {exc}.")
        st.session_state[f"{PG}.csvparsed"] = cached
    if cached[2]:
        st.error(cached[2], icon=":material/error:")
    return cached[1]


def _csv_input() -> Any:
    """The CSV upload (with an example file to start from) and what was read from it."""
    up = st.file_uploader("Your points (CSV)", type=["csv"], key=f"{PG}.csv",
                          help="A header row x1,x2,label (whole-number classes, 2 to 6) or x1,x2,target (a "
                               "number: a regression), then 10 to 5,000 rows.")
    X, y = make_toy("moons", n=200, noise=0.1, seed=0)
    csv_button(st, "Example CSV", [{"x1": round(float(a), 4), "x2": round(float(b), 4), "label": int(c)}
                                   for (a, b), c in zip(X, y)], "points_example.csv", f"{PG}.csvexample",
               icon=":material/download:")
    points = _csv_points(up)
    if points is not None:
        kind = (f"{points.n_classes} classes ({', '.join(points.classes)})" if points.task == "classification"
                else "a regression target")
        st.caption(f"{len(points):,} points, {kind}. They are scaled so that the largest coordinate is at the "
                   f"plane's edge{'' if points.task == 'classification' else ' and the largest target at ±1'}.")
    return points


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
    regression = state.cfg.task == "regression"
    m2.metric("Training loss (MSE)" if regression else "Training loss", f"{last['train_loss']:.3f}")
    m3.metric("Test loss (MSE)" if regression else "Test loss", f"{last['test_loss']:.3f}")
    if "test_accuracy" in last:
        m4.metric("Test accuracy", f"{last['test_accuracy']:.1%}")
    c_net, c_out = st.columns([1, 1.25], gap="medium")
    with c_net:
        st.markdown("**What each neuron computes**")
        event = st.plotly_chart(neuron_maps(frame), key=f"{PG}.neurons", config={"displayModeBar": False},
                                on_select="rerun", selection_mode="points")
        st.caption("Each square is one unit's output over the whole plane (orange negative, blue positive); "
                   "each line a weight (blue positive, orange negative, thicker = larger). Deeper layers "
                   "combine the simple shapes of earlier ones. Click a grey dot on a line to read and set "
                   "that weight.")
        if "weights" not in _hidden():
            _pg_weights(state, event, running)
    with c_out:
        show_test = st.session_state.get(f"{PG}.show_test", False)
        discretize = st.session_state.get(f"{PG}.discretize", False)
        ghost_id = ghost.pick(PAGE, key=f"{PG}.ghost", kind="playground")
        if ghost_id is not None and ghost_id == state.run_id:
            st.caption("The ghost is the run you are training now: pick an earlier one to compare.")
            ghost_id = None
        grid = _ghost_grid(ghost_id, current_user()) if ghost_id is not None else None
        if grid is not None and grid.get("task") != state.cfg.task:
            st.caption(f"That run was a {grid.get('task')}: its map and loss do not compare with this "
                       f"{state.cfg.task}, so no ghost is drawn. Pick another run.")
            ghost_id, grid = None, None
        upload = state.cfg.upload
        classes = [f"label {c}" for c in upload.classes] if upload is not None and upload.classes else None
        st.plotly_chart(decision_map(frame, points, show_test=show_test, discretize=discretize, classes=classes,
                                     ghost=grid), key=f"{PG}.map", config={"displayModeBar": False})
        if ghost_id is not None and grid is None:
            st.caption("That run has no logged decision map (it is older than the ghost view); its loss curve "
                       "is still drawn below.")
        st.plotly_chart(ghost.overlay(loss_history(hist), ghost_id, "test_loss"), key=f"{PG}.loss",
                        config={"displayModeBar": False})


@st.cache_data(max_entries=32, show_spinner=False)
def _ghost_grid(run_id: str, user: User) -> dict | None:
    """An earlier run's logged decision grid (None when it has none or cannot be read)."""
    try:
        text = tracking.text_artifact(run_id, pgc.GRID_ARTIFACT, user=user)
    except Exception:  # noqa: BLE001 - a ghost that cannot be read never breaks the live view
        return None
    return json.loads(text) if text else None


def _pg_weights(state: pgc.PlaygroundState, event: Any, running: bool) -> None:
    """The weight editor: a connection (picked by a click on its dot, or in the select box) and its weight."""
    conns = pgc.connections(state)
    if not conns:
        st.caption("With no hidden layer there are no connections to edit here.")
        return
    by_id = {c[:3]: c for c in conns}
    points = ((event or {}).get("selection") or {}).get("points") or []
    clicked = [tuple(p["customdata"]) for p in points if p.get("customdata") is not None]
    if clicked and clicked[0] != st.session_state.get(f"{PG}.clicked") and clicked[0] in by_id:
        st.session_state[f"{PG}.clicked"] = clicked[0]
        st.session_state[f"{PG}.conn"] = clicked[0]
    if st.session_state.get(f"{PG}.conn") not in by_id:
        st.session_state.pop(f"{PG}.conn", None)
    conn = st.selectbox("Connection", list(by_id), key=f"{PG}.conn", format_func=lambda c: by_id[c][3],
                        help="Which weight to read and set (or click its dot in the network).")
    with st.form(f"{PG}.wform", border=False):
        c2, c3 = st.columns([1.4, 1], vertical_alignment="bottom")
        value = c2.number_input("Weight", value=round(by_id[conn][4], 4), step=0.1, format="%.4f",
                                key=f"{PG}.w.{state.epoch}.{conn}.{by_id[conn][4]:.6f}")
        submitted = c3.form_submit_button("Set weight", disabled=running, width="stretch")
    if running:
        st.caption("Pause to edit a weight.")
    if submitted:
        try:
            _pg_set(pgc.with_weight(state, *conn, float(value)))
        except ValueError as exc:
            st.error(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        else:
            st.rerun()


def _pg_share(cfg: pgc.PlaygroundConfig) -> None:
    """"Share this exercise": a link to this set-up with the ticked controls hidden."""
    st.caption("Tick the controls a learner should not see, and send the link: it opens this set-up with "
               "only the rest to play with (the hidden settings keep this link's values).")
    cols = st.columns(4)
    hide = [name for n, (name, label) in enumerate(pgc.HIDEABLE.items())
            if cols[n % 4].checkbox(label, key=f"{PG}.share.{name}", value=name in _hidden())]
    query = urlencode({**cfg.to_query(), **pgc.hide_to_query(hide)})
    base = (st.context.url or "").split("?")[0]
    st.code(f"{base}?{query}", language=None, wrap_lines=True)


def _pg_play(state: pgc.PlaygroundState, epochs: int) -> None:
    jobs.start(PG, pgc.play, pgc.PlayRequest(state, epochs=epochs), name="playground")


def _pg_run(cfg: pgc.PlaygroundConfig, *, play: bool, step: bool, reset: bool, running: bool) -> None:
    """Keep the URL and the session's network in step with the widgets, act on the buttons, and
    draw the live panel. The network trains in the worker process; a new learning rate, batch size
    or regularization while it plays is applied by pausing and playing on with the new set-up."""
    st.query_params.from_dict({**cfg.to_query(), **pgc.hide_to_query(_hidden())})  # the address bar holds the set-up
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
        csv_button(st, "Download the loss history (CSV)", _pg_state().history, "playground_history.csv",
                   f"{PG}.historycsv")
        trained = _pg_state()  # the network's own set-up, and as many epochs as it has trained
        export_ui.buttons(PG, trained.cfg, epochs=trained.epoch or EXPORT_EPOCHS)
    with st.expander("Share this exercise"):
        _pg_share(cfg)


def _g(v: float) -> str:
    return f"{v:g}"


def _pg_act_all() -> None:
    """The toolbar's Activation applies to every hidden layer (each can then be changed on its own)."""
    for i in range(meta(pgc.PlaygroundConfig, "hidden").count[1]):
        st.session_state[f"{PG}.act{i}"] = st.session_state[f"{PG}.act"]


def _pg_layers(P: type, n_layers: int, act: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Each hidden layer's neurons and activation (the activations hidden with ``act`` when a link hides it)."""
    units = meta(P, "hidden")
    hidden, acts = [], []
    for i in range(n_layers):
        st.session_state.setdefault(f"{PG}.units{i}", 4)
        st.session_state.setdefault(f"{PG}.act{i}", act)
        left, right = st.columns([1, 1.5], vertical_alignment="bottom")  # one row per layer: neurons, activation
        hidden.append(_ctl("layers", f"{PG}.units{i}", lambda left=left, i=i: form.field(
            left, P, "hidden", key=f"{PG}.units{i}", value=4, label=f"Layer {i + 1}")))
        acts.append(_ctl("act", f"{PG}.act{i}", lambda right=right, i=i: right.selectbox(
            f"Layer {i + 1} activation", pgc.ACTIVATIONS, key=f"{PG}.act{i}", label_visibility="collapsed")))
    if n_layers and "layers" not in _hidden():
        st.caption(f"{units.label} ({units.lo:g} to {units.hi:g}), each with its activation.")
    return tuple(hidden), tuple(acts)


def render() -> None:
    """The whole playground (call it inside the page's Playground tab)."""
    st.markdown(
        "A small network learns to separate coloured points in the plane. Press **Play** and watch the "
        "background — the network's prediction — take the shape of the data, and the little maps show what "
        "every hidden neuron has learned. **Try:** *circles* with only x1 and x2 and no hidden layer (it "
        "cannot work: a single neuron draws a straight line), then tick x1² and x2²; *spirals* with three "
        "classes and several layers; a learning rate of 3 or 10 to see training blow up; L2 on a noisy set."
    )
    st.caption("Also here: *plane* and *multi-Gaussian* are regressions (the background shows the predicted "
               "number, orange −1 to blue +1); *your CSV* trains on your own points; each hidden layer can have "
               "its own activation; click a grey dot on a connection to read and set its weight; **Ghost run** "
               "draws an earlier run's boundary, dotted, over the map; **Share this exercise** builds a link that "
               "hides the controls you tick.")
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
    lr = _ctl("lr", f"{PG}.lr", lambda: form.field(bar[3], P, "lr", key=f"{PG}.lr", options=pgc.LEARNING_RATES,
                                                  format_func=_g))
    act = _ctl("act", f"{PG}.act", lambda: form.field(bar[4], P, "activation", key=f"{PG}.act", on_change=_pg_act_all,
                                                      help="Every hidden layer's activation (each layer can "
                                                           "have its own under Network)."))
    reg = _ctl("reg", f"{PG}.reg", lambda: form.field(bar[5], P, "regularization", key=f"{PG}.reg"))
    rate = _ctl("rate", f"{PG}.rate", lambda: form.field(bar[6], P, "reg_rate", key=f"{PG}.rate",
                                                         options=pgc.REG_RATES, format_func=_g, disabled=reg == "none"))
    left, right = st.columns([1, 3.2], gap="large")
    with left:
        st.markdown("**Data**")
        data = _ctl("data", f"{PG}.data", lambda: form.field(st, P, "dataset", key=f"{PG}.data"))
        upload = _csv_input() if data == pgc.CSV and "upload" not in _hidden() else None
        multi = data in pgc.MULTICLASS_KINDS
        classes = _ctl("classes", f"{PG}.classes",
                       lambda: form.field(st, P, "n_classes", key=f"{PG}.classes", disabled=not multi))
        if data == pgc.CSV and upload is not None and upload.task == "classification":
            classes, multi = upload.n_classes, True
        # shares of 1 shown in % (rounded: a float slider's step may leave 0.9000000000000001)
        train_ratio = round(_ctl("train", f"{PG}.train", lambda: form.field(st, P, "train_ratio", key=f"{PG}.train")), 4)
        noise = round(_ctl("noise", f"{PG}.noise", lambda: form.field(st, P, "noise", key=f"{PG}.noise",
                                                                      disabled=data == pgc.CSV)), 4)
        points = _ctl("points", f"{PG}.points", lambda: form.field(st, P, "points", key=f"{PG}.points",
                                                                   options=pgc.POINTS, disabled=data == pgc.CSV))
        batch = _ctl("batch", f"{PG}.batch", lambda: form.field(st, P, "batch_size", key=f"{PG}.batch"))
        st.markdown("**Network**")
        feats = _ctl("feat", f"{PG}.feat", lambda: st.pills(meta(P, "features").label, list(pgc.FEATURES),
                                                            selection_mode="multi", key=f"{PG}.feat", wrap=True))
        units = meta(P, "hidden")
        n_layers = _ctl("layers", f"{PG}.layers", lambda: st.slider("Hidden layers", *units.count, key=f"{PG}.layers"))
        hidden, acts = _pg_layers(P, n_layers, act)
        st.toggle("Show test data", key=f"{PG}.show_test")
        st.toggle("Discretize output", key=f"{PG}.discretize", help="Colour each point of the plane by its "
                  "predicted class only, without the shading by confidence.")
    try:
        pg_cfg = pgc.PlaygroundConfig(
            dataset=data, n_classes=classes if multi else 2, points=points, noise=noise,
            train_ratio=train_ratio, batch_size=batch, hidden=hidden, activation=act, lr=lr,
            regularization=reg, reg_rate=rate if reg != "none" else 0.0, features=tuple(feats or ()),
            seed=shell.global_seed(), activations=acts if any(a != act for a in acts) else (), upload=upload,
        )
    except ValueError as exc:
        message = str(exc)
        right.error(f"{message[:1].upper()}{message[1:]}.")
    else:
        with right:
            _pg_run(pg_cfg, play=play_clicked, step=step_clicked, reset=reset_clicked, running=running)
