"""The playground's engine: features, penalties, training, frames, the URL, tracking."""

import math

import numpy as np
import pytest
import torch

from core import tracking
from core.artifacts import decision_image
from core.basics.playground import (
    FEATURES,
    SCALE,
    Playground,
    PlaygroundConfig,
    PlayRequest,
    feature_matrix,
    l1_penalty,
    play,
)
from core.jobs import FINISHED, Recorder, run_job
from core.training import TrainingDiverged
from tests.contexts import StopAfter
from tests.plain import assert_plain


def test_features_are_the_named_functions_of_the_coordinates():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-3, 3, (50, 2)).astype(np.float32)
    got = feature_matrix(torch.from_numpy(pts), tuple(FEATURES)).numpy()
    x1, x2 = pts[:, 0], pts[:, 1]
    want = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], 1)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_l1_penalty_closed_form_and_gradient():
    w = [torch.randn(3, 4, requires_grad=True), torch.randn(2, 3, requires_grad=True)]
    lam, m = 0.3, 40
    p = l1_penalty(w, lam, m)
    assert p.item() == pytest.approx(lam / (2 * m) * sum(np.abs(t.detach().numpy()).sum() for t in w), rel=1e-6)
    p.backward()
    np.testing.assert_allclose(w[0].grad.numpy(), lam / (2 * m) * np.sign(w[0].detach().numpy()), rtol=1e-6)
    with pytest.raises(ValueError):
        l1_penalty(w, -1, m)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(dataset="squares"), "Data set: 'squares' is not one of"),
        (dict(n_classes=3), "more than two classes"),
        (dict(hidden=(4,) * 7), "Neurons per hidden layer: choose between 0 and 6"),
        (dict(hidden=(9,)), "Neurons per hidden layer must be between 1 and 8"),
        (dict(features=()), "Input features: choose at least 1"),
        (dict(lr=float("nan")), "Learning rate must be a number above 0"),
    ],
)
def test_bad_settings_are_plain_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        PlaygroundConfig(**kw)


def test_query_round_trip_and_bad_values_fall_back():
    cfg = PlaygroundConfig(dataset="spirals", n_classes=4, points=1000, noise=0.25, train_ratio=0.7, batch_size=30,
                           hidden=(8, 3, 1), activation="ReLU", lr=0.3, regularization="L1", reg_rate=0.01,
                           features=("x1²", "sin(x2)", "x1·x2"), seed=7)
    q = cfg.to_query()
    assert all(isinstance(v, str) for v in q.values())
    back, problems = PlaygroundConfig.from_query(q)
    assert back == cfg and problems == []
    back, problems = PlaygroundConfig.from_query({"lr": "fast", "layers": "9,2", "feat": "0,99", "data": "xor"})
    assert back.dataset == "xor" and back.lr == PlaygroundConfig().lr and back.hidden == PlaygroundConfig().hidden
    assert sorted(problems) == ["feat='0,99'", "layers='9,2'", "lr='fast'"]
    assert PlaygroundConfig.from_query({"layers": "0"})[0].hidden == ()


def test_circles_with_squared_features_is_linearly_separable():
    """No hidden layer = logistic regression: hopeless on circles with x1, x2, perfect with
    x1² and x2² (the circle is a line in that space)."""
    plain = Playground(PlaygroundConfig(dataset="circles", hidden=(), features=("x1", "x2"), lr=0.1))
    squares = Playground(PlaygroundConfig(dataset="circles", hidden=(), features=("x1²", "x2²"), lr=0.1))
    plain.train_epochs(30)
    squares.train_epochs(30)
    assert squares.history[-1]["test_accuracy"] > 0.97
    assert plain.history[-1]["test_accuracy"] < 0.75
    assert [h["epoch"] for h in squares.history] == list(range(31))


def test_measured_losses_match_a_direct_computation():
    pg = Playground(PlaygroundConfig(dataset="xor", hidden=(4,), lr=0.03))
    pg.train_epochs(3)
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(pg.model.eval()(pg.test[0]), pg.test[1]).item()
    assert pg.history[-1]["test_loss"] == pytest.approx(want, rel=1e-5)
    assert len(pg.train[1]) == 250 and len(pg.test[1]) == 250


def test_adjust_changes_lr_but_not_structure():
    pg = Playground(PlaygroundConfig())
    pg.adjust(PlaygroundConfig(lr=0.3, batch_size=20, regularization="L2", reg_rate=0.1))
    assert pg.optimizer.param_groups[0]["lr"] == 0.3
    want = 0.1 / (2 * len(pg.train[1])) * sum((m.weight ** 2).sum() for m in pg.model if hasattr(m, "weight"))
    assert pg.penalty().item() == pytest.approx(want.item(), rel=1e-5)
    with pytest.raises(ValueError, match="reset"):
        pg.adjust(PlaygroundConfig(hidden=(3,)))


def test_multiclass_frame_shapes_and_colours():
    pg = Playground(PlaygroundConfig(dataset="gaussians", n_classes=4, hidden=(5, 3), activation="ReLU",
                                     features=("x1", "x2", "x1·x2"), lr=0.1))
    pg.train_epochs(40)
    assert pg.history[-1]["test_accuracy"] > 0.8
    f = pg.frame(resolution=40, neuron_resolution=10)
    assert f.probs.shape == (40, 40, 4)
    np.testing.assert_allclose(f.probs.sum(-1), 1, rtol=1e-5)
    assert [m.shape for m in f.neurons] == [(3, 10, 10), (5, 10, 10), (3, 10, 10)]
    assert f.grid_x[0] == pytest.approx(-SCALE * 1.15)
    img = decision_image(f.probs, [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)], strength=1.0)
    assert img.shape == (40, 40, 3) and img.dtype == np.uint8
    # a pixel where the net is sure of class c has class c's colour; where it hesitates, white
    k = 4
    conf = (f.probs.max(-1) - 1 / k) / (1 - 1 / k)
    i, j = np.unravel_index(f.probs[..., 2].argmax(), f.probs.shape[:2])
    want = 255 * (1 - conf[i, j]) + np.array([0, 0, 255]) * conf[i, j]
    assert img[i, j].tolist() == pytest.approx(want.tolist(), abs=1)
    pale = decision_image(f.probs, [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)], strength=0.5)
    assert (pale.astype(int) >= img.astype(int)).all()  # paler everywhere (colours here are 0 or 255)


def test_relu_hidden_maps_are_the_relu_of_the_preactivations():
    pg = Playground(PlaygroundConfig(hidden=(3,), activation="ReLU"))
    f = pg.frame(resolution=8, neuron_resolution=6)
    g = np.linspace(-SCALE * 1.15, SCALE * 1.15, 6, dtype=np.float32)
    xx, yy = np.meshgrid(g, g)
    lin = pg.model[1]
    with torch.no_grad():
        z = lin(torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))).numpy()
    np.testing.assert_allclose(f.neurons[1], np.maximum(z, 0).T.reshape(3, 6, 6), rtol=1e-5, atol=1e-6)


def test_huge_learning_rate_diverges_with_a_message():
    pg = Playground(PlaygroundConfig(hidden=(8, 8), activation="linear", lr=10.0, features=tuple(FEATURES)))
    with pytest.raises(TrainingDiverged, match=r"^the loss became (NaN|infinite) at step \d+ — try a smaller learning rate$"):
        pg.train_epochs(50)
    assert pg.diverged and pg.diverged.startswith("the loss became")
    with pytest.raises(ValueError, match="reset"):
        pg.train_epochs(1)


def test_play_pause_and_step_equal_one_long_training():
    """The network crosses the worker boundary as plain data after every click: a state taken out and put back
    trains on exactly as the same playground would have without stopping."""
    cfg = PlaygroundConfig(dataset="spirals", hidden=(8, 8), batch_size=10, regularization="L2", reg_rate=0.01)
    whole = Playground(cfg)
    whole.train_epochs(6)
    pg = Playground(cfg)
    pg.train_epochs(1)
    for n in (2, 3):
        state = assert_plain(pg.state(), "state")
        pg = Playground.from_state(state)
        pg.train_epochs(n)
    assert pg.epoch == 6 and pg.history == whole.history
    for a, b in zip(pg.model.parameters(), whole.model.parameters()):
        torch.testing.assert_close(a, b)


def test_play_continues_one_tracked_run_across_pauses(fresh_store):
    state = Playground(PlaygroundConfig(dataset="xor", hidden=(4,))).state()
    req = assert_plain(PlayRequest(state, epochs=3), "config")
    out1 = assert_plain(play(None, req))
    out2 = play(None, PlayRequest(out1.state, epochs=2))
    assert out1.state.run_id == out2.state.run_id and out2.state.epoch == 5 and out2.frame.epoch == 5
    df = tracking.search_runs()
    assert len(df) == 1 and df.iloc[0]["status"] == "FINISHED"
    assert df.iloc[0]["params.hidden"] in ("(4,)", "[4]")
    hist = tracking.metric_history(out1.state.run_id, "test_loss")
    assert hist["step"].tolist() == [0, 1, 2, 3, 4, 5]
    assert hist["value"].tolist() == pytest.approx([h["test_loss"] for h in out2.state.history], rel=1e-6)
    assert any(p.endswith("decision_map.png") for p, _ in tracking.image_artifacts(out1.state.run_id))


def test_a_paused_play_ends_its_stretch_finished_and_hands_the_network_back(fresh_store):
    state = Playground(PlaygroundConfig(dataset="xor", hidden=(4,))).state()
    ctx = StopAfter("curve", 4, "basics")
    ending = run_job(play, ctx, PlayRequest(state))
    assert ending.status == FINISHED  # a Pause is not a failure nor a kill: the run goes on with the next Play
    out = assert_plain(ending.result)
    assert 4 <= out.state.epoch < 100 and len(out.state.history) == out.state.epoch + 1
    assert tracking.search_runs().iloc[0]["status"] == "FINISHED"
    assert ctx.snapshot().images["frame"].epoch <= out.state.epoch


def test_play_that_diverges_fails_its_run_with_the_sentence_and_keeps_the_finite_rows(fresh_store):
    state = Playground(PlaygroundConfig(hidden=(8, 8), activation="linear", lr=10.0, features=tuple(FEATURES))).state()
    ctx = Recorder("basics")
    out = play(ctx, PlayRequest(state, epochs=50))
    row = tracking.search_runs().iloc[0]
    assert row["status"] == "FAILED" and row["tags.dll.error"] == out.state.diverged
    assert ctx.snapshot().diverged == (("playground", out.state.diverged),)
    assert all(math.isfinite(h["train_loss"]) for h in out.state.history)  # the rows kept are the finite ones
    with pytest.raises(ValueError, match="reset"):
        play(None, PlayRequest(out.state, epochs=1))


def test_training_runs_on_one_cpu_thread_and_puts_the_number_back():
    from core.device import cpu_threads

    before = torch.get_num_threads()
    seen = []
    pg = Playground(PlaygroundConfig(hidden=(2,)))
    pg.train_epochs(1, on_epoch=lambda row: seen.append(torch.get_num_threads()))
    assert seen == [1] and torch.get_num_threads() == before
    with pytest.raises(RuntimeError), cpu_threads(1):
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_frame_carries_the_weights_and_links_draw_each_once():
    from core.plots.playground import neuron_maps, weight_links

    pg = Playground(PlaygroundConfig(hidden=(5, 3), features=("x1", "x2", "x1·x2")))
    f = pg.frame(resolution=8, neuron_resolution=6)
    assert [w.shape for w in f.weights] == [(5, 3), (3, 5)]
    np.testing.assert_array_equal(f.weights[0], pg.model[1].weight.detach().numpy())
    links = weight_links(f)
    n_segments = sum(sum(v is None for v in t.x) for t in links)
    assert n_segments == 5 * 3 + 3 * 5
    positive = sum(sum(v is None for v in t.x) for t in links if "8,119,189" in t.line.color)
    assert positive == sum(int((w >= 0).sum()) for w in f.weights)
    assert len(neuron_maps(f).data) == 1 + len(links)  # the tiles image, then the links
    assert weight_links(Playground(PlaygroundConfig(hidden=())).frame(8, 6)) == []


def test_discretized_map_is_flat_per_class():
    pg = Playground(PlaygroundConfig(dataset="gaussians", n_classes=3, hidden=(4,)))
    f = pg.frame(resolution=12, neuron_resolution=4)
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    img = decision_image(f.probs, colors, strength=0.5, discretize=True)
    want = np.array([[255 * 0.5 + c * 0.5 for c in col] for col in colors])[f.probs.argmax(-1)]
    np.testing.assert_allclose(img, want.round(), atol=1)
