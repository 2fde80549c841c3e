"""Ghost runs: which earlier runs a learner may pick (their own, newest first), which one is "my previous
run", the curves read back equal to what the run logged (MLflow's own history), and the faded trace."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core import ghosts, tracking
from core.identity import OWNER_ENV, NotYours, User
from core.plots.ghost import GHOST_OPACITY, add_ghost, ghost_traces
from core.plots.training import lane_curves
from core.runs import smooth

ANN = User("ann@school.edu", "Ann")
BOB = User("bob@school.edu", "Bob")
TEACHER = User("teacher@school.edu", "T", instructor=True)


def _run(monkeypatch, owner: str, name: str, *, page: str = "demo", kind: str | None = None,
         comparison: str | None = None, losses=(0.9, 0.5, 0.25)) -> str:
    monkeypatch.setenv(OWNER_ENV, owner)
    tags = {tracking.TAG_KIND: kind} if kind else {}
    if comparison:
        tags[tracking.TAG_COMPARISON] = comparison
    with tracking.start_run(page, {"lr": 0.1}, run_name=name, tags=tags) as run:
        for step, loss in enumerate(losses, 1):
            run.log_metrics({"train_loss": loss}, step)
        run.log_metrics({"dev_accuracy": 0.5}, 1)
        run.log_metrics({"dev_accuracy": 0.75}, 2)
    monkeypatch.delenv(OWNER_ENV, raising=False)
    time.sleep(0.01)  # distinct start times
    return run.run_id


@pytest.fixture
def runs(fresh_store, monkeypatch):
    out = {"ann1": _run(monkeypatch, ANN.id, "first"), "bob": _run(monkeypatch, BOB.id, "bob's"),
           "ann2": _run(monkeypatch, ANN.id, "second", kind="gan"),
           "ann3": _run(monkeypatch, ANN.id, "third"),
           "other_page": _run(monkeypatch, ANN.id, "elsewhere", page="other"),
           "teacher": _run(monkeypatch, TEACHER.id, "teacher's")}
    return out


def test_candidates_are_the_learners_own_runs_of_the_page_newest_first(runs):
    assert [c.run_id for c in ghosts.candidates("demo", user=ANN)] == [runs["ann3"], runs["ann2"], runs["ann1"]]
    assert [c.name for c in ghosts.candidates("demo", user=BOB)] == ["bob's"]
    assert [c.run_id for c in ghosts.candidates("demo", user=ANN, limit=2)] == [runs["ann3"], runs["ann2"]]
    assert [c.run_id for c in ghosts.candidates("demo", user=ANN, kind="gan")] == [runs["ann2"]]
    # an instructor's ghosts are their own runs too, never a learner's
    assert [c.name for c in ghosts.candidates("demo", user=TEACHER)] == ["teacher's"]
    assert ghosts.candidates("never-tracked", user=ANN) == []
    label = ghosts.candidates("demo", user=ANN)[0].label
    assert label.startswith("third · ") and ":" in label


def test_an_empty_lab_lists_no_ghosts_without_creating_a_store(fresh_store):
    assert ghosts.candidates("demo", user=ANN) == []
    assert not (fresh_store / "mlflow.db").exists() and not tracking.store_ready()
    tracking.list_experiments()  # created (by MLflow, as a training would)
    assert tracking.store_ready() and ghosts.candidates("demo", user=ANN) == []


def test_candidates_refuse_bad_arguments(fresh_store):
    for bad in ({"page": ""}, {"page": "x'; drop"}, {"page": "demo", "kind": "a'b"}, {"page": "demo", "limit": 0}):
        with pytest.raises(ValueError):
            ghosts.candidates(**bad, user=ANN)


def test_a_running_run_is_listed_only_when_asked_and_grouped_keeps_one_per_comparison(fresh_store, monkeypatch):
    a = _run(monkeypatch, ANN.id, "adam", comparison="race-1")
    b = _run(monkeypatch, ANN.id, "sgd", comparison="race-1")
    c = _run(monkeypatch, ANN.id, "adam", comparison="race-2")
    assert [x.run_id for x in ghosts.candidates("demo", user=ANN, grouped=True)] == [c, b]
    assert [x.label.split(" · ")[0] for x in ghosts.candidates("demo", user=ANN, grouped=True)] == ["adam", "sgd + 1 more"]
    assert [x.run_id for x in ghosts.candidates("demo", user=ANN)] == [c, b, a]
    alone = _run(monkeypatch, ANN.id, "alone")
    kinded = _run(monkeypatch, ANN.id, "kinded", kind="gan")
    assert [x.run_id for x in ghosts.candidates("demo", user=ANN, grouped=False)] == [kinded, alone]
    assert [x.run_id for x in ghosts.candidates("demo", user=ANN, grouped=False, kind="")] == [alone]
    assert [x.run_id for x in ghosts.candidates("demo", user=ANN, grouped=True)] == [kinded, alone, c, b]
    assert ghosts.group_of(b, user=ANN) == {"adam": a, "sgd": b}
    assert ghosts.group_of(c, user=ANN) == {"adam": c}
    assert ghosts.group_of(alone, user=ANN) == {"alone": alone}
    monkeypatch.setenv(OWNER_ENV, ANN.id)
    live = tracking.start_run("demo", {"lr": 0.1}, run_name="live")
    try:
        live.log_metrics({"train_loss": 1.0}, 1)
        live._try_sync()
        assert live.run_id not in [x.run_id for x in ghosts.candidates("demo", user=ANN)]
        now = ghosts.candidates("demo", user=ANN, running=True)
        assert now[0].run_id == live.run_id and not now[0].ended
        assert ghosts.previous_run(now, None) == kinded  # a reloaded tab: the newest ended run
    finally:
        live.end()


def test_named_keeps_one_experiment_of_a_page_with_several(fresh_store, monkeypatch):
    fit = _run(monkeypatch, ANN.id, "overfitting: λ=1", comparison="overfitting-1")
    _run(monkeypatch, ANN.id, "early stopping: all epochs", comparison="early stopping-1")
    curve = _run(monkeypatch, ANN.id, "learning curve m=100", comparison="curve-1")
    _run(monkeypatch, ANN.id, "a learning curve m=100")  # the name contains it, but does not start with it
    _run(monkeypatch, ANN.id, "overfittingX: λ=1")  # "_" would match any character in a LIKE pattern
    assert [c.run_id for c in ghosts.candidates("demo", user=ANN, grouped=True, named="overfitting: ")] == [fit]
    assert [c.run_id for c in ghosts.candidates("demo", user=ANN, named="learning curve m=")] == [curve]
    assert ghosts.candidates("demo", user=ANN, named="sweep: ") == []
    for bad in ("over_fitting", "100%", "a'b", ""):
        with pytest.raises(ValueError):
            ghosts.candidates("demo", user=ANN, named=bad)


def test_my_previous_run_never_becomes_the_run_that_just_finished(fresh_store, monkeypatch):
    def listed():
        return ghosts.candidates("demo", user=ANN, running=True)

    assert ghosts.previous_run(listed(), None) is None
    r1 = _run(monkeypatch, ANN.id, "one")
    known = [c.run_id for c in listed()]
    assert ghosts.previous_run(listed(), None) == r1  # the page opened after run one
    r2 = _run(monkeypatch, ANN.id, "two")  # trained (and finished) since: run one is still the previous run
    assert ghosts.previous_run(listed(), known) == r1
    assert ghosts.previous_run(listed(), [c.run_id for c in listed()]) == r2  # the next training: run two
    started = time.time()  # a job created now: its runs start after this, the previous run before
    time.sleep(0.01)
    r3 = _run(monkeypatch, ANN.id, "three")
    assert ghosts.previous_run(listed(), None, since=started) == r2
    assert ghosts.previous_run(listed(), None, since=time.time()) == r3
    assert ghosts.previous_run(listed(), None, since=0.0) is None


def test_ghost_curves_equal_the_logged_history(runs):
    got = ghosts.ghost_curves(runs["ann1"], ["train_loss", "dev_accuracy", "never_logged"], user=ANN)
    assert set(got) == {"train_loss", "dev_accuracy"}
    for key, (steps, values) in got.items():  # MLflow's own history of the run is the reference
        hist = sorted((m.step, m.value) for m in tracking._client().get_metric_history(runs["ann1"], key))
        np.testing.assert_array_equal(steps, [s for s, _ in hist])
        np.testing.assert_allclose(values, [v for _, v in hist])
    np.testing.assert_allclose(got["train_loss"][1], [0.9, 0.5, 0.25])
    assert not np.allclose(got["train_loss"][1], [0.9, 0.5, 0.26])


def test_reading_another_learners_run_raises(runs):
    with pytest.raises(NotYours):
        ghosts.ghost_curves(runs["bob"], ["train_loss"], user=ANN)
    with pytest.raises(NotYours):
        ghosts.group_of(runs["bob"], user=ANN)
    with pytest.raises(ValueError):
        ghosts.ghost_curves("no such run", ["train_loss"], user=ANN)
    assert "train_loss" in ghosts.ghost_curves(runs["bob"], ["train_loss"], user=BOB)


def test_the_ghost_trace_is_faded_dotted_under_the_live_lines_with_the_logged_values(runs):
    steps, values = ghosts.ghost_curves(runs["ann1"], ["train_loss"], user=ANN)["train_loss"]
    fig = lane_curves({"adam": [{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.4}]}, smoothing=0.0)
    assert ghost_traces(fig) == []
    add_ghost(fig, "first", steps, values)
    (ghost,) = ghost_traces(fig)
    assert fig.data[0] is ghost and ghost.name == "ghost: first"  # drawn first: under the live line
    assert ghost.opacity == GHOST_OPACITY < 0.5 and ghost.line.dash == "dot"
    np.testing.assert_allclose(ghost.y, [0.9, 0.5, 0.25])
    np.testing.assert_array_equal(ghost.x, [1, 2, 3])
    live = [t for t in fig.data if t is not ghost]
    assert live[0].opacity is None or live[0].opacity == 1


def test_a_smoothed_chart_gets_a_smoothed_ghost_and_bad_arguments_are_refused():
    x, y = np.arange(1.0, 6.0), np.array([5.0, 1.0, 4.0, 1.0, 3.0])
    fig = add_ghost(lane_curves({}), "g", x, y, smoothing=0.6)
    np.testing.assert_allclose(ghost_traces(fig)[0].y, smooth(y, 0.6))
    assert not np.allclose(ghost_traces(fig)[0].y, y)
    fig = add_ghost(lane_curves({}), "g", [1, 2, 3], [0.0, np.nan, 2.0], log_y=True)
    np.testing.assert_allclose(ghost_traces(fig)[0].y, [2.0])  # log scale: only positive, finite values
    assert ghost_traces(add_ghost(lane_curves({}), "g", [], [])) == []
    with pytest.raises(ValueError):
        add_ghost(lane_curves({}), "g", [1, 2], [1.0])
    with pytest.raises(ValueError):
        add_ghost(lane_curves({}), "g", [1], [1.0], smoothing=1.0)


def test_a_lane_ghost_takes_the_colour_of_its_lane():
    from ui.ghost import _lane_color

    colors = {"Gradient descent": "#111", "Adam": "#222", "unidirectional": "#333", "bidirectional": "#444"}
    assert _lane_color("Gradient descent lr=0.1", colors) == "#111"
    assert _lane_color("Adam", colors) == "#222"
    assert _lane_color("tagger: bidirectional lstm", colors) == "#444"
    assert _lane_color("tagger: unidirectional lstm", colors) == "#333"
    assert _lane_color("Adamax lr=0.1", colors) is None  # a word, not a prefix of one
    assert _lane_color("dates: no attention", {"attention": "#a", "no attention": "#b"}) == "#b"
    assert _lane_color("dates: attention", {"attention": "#a", "no attention": "#b"}) == "#a"
