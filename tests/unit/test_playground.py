"""The playground's engine: features, penalties, training, frames, the URL, tracking."""

import math
import re

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
    assert len(neuron_maps(f).data) == 2 + len(links)  # the tiles image, the links, then the clickable dots
    assert weight_links(Playground(PlaygroundConfig(hidden=())).frame(8, 6)) == []


def test_discretized_map_is_flat_per_class():
    pg = Playground(PlaygroundConfig(dataset="gaussians", n_classes=3, hidden=(4,)))
    f = pg.frame(resolution=12, neuron_resolution=4)
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    img = decision_image(f.probs, colors, strength=0.5, discretize=True)
    want = np.array([[255 * 0.5 + c * 0.5 for c in col] for col in colors])[f.probs.argmax(-1)]
    np.testing.assert_allclose(img, want.round(), atol=1)


# -- issue 20: your own CSV, regression, an activation per layer, weight edits, links that hide controls ----------

from core.basics.playground import (  # noqa: E402
    HIDEABLE,
    connections,
    hide_from_query,
    hide_to_query,
    network,
    with_weight,
)
from core.data.toy import CSV_MAX_ROWS, GAUSSIAN_BUMPS, make_regression, read_points_csv  # noqa: E402


def _csv(rows, header="x1,x2,label") -> bytes:
    return (header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


GOOD = [(i * 0.1, -i * 0.2, -1 if i % 2 else 1) for i in range(10)]


def test_a_good_csv_gives_its_points_and_classes():
    pts = read_points_csv(_csv(GOOD), name="mine.csv")
    assert pts.task == "classification" and len(pts) == 10 and pts.classes == ("-1", "1") and pts.name == "mine.csv"
    assert pts.xy[3] == pytest.approx((0.3, -0.6))
    assert pts.values[:2] == (1.0, 0.0)  # label 1 is class index 1, label -1 class index 0
    X, y = pts.arrays(scale=3.0)
    assert np.abs(X).max() == pytest.approx(3.0) and y.dtype == np.int64
    # header names are case-blind, extra columns ignored, a UTF-8 BOM and blank lines are fine
    data = "\ufeffX1,note,X2,Target\n" + "\n".join(f"{i},a,{i + 1},{i * 2.5}" for i in range(12)) + "\n\n"
    reg = read_points_csv(data.encode())
    assert reg.task == "regression" and reg.values[4] == 10.0 and reg.xy[4] == (4.0, 5.0)
    assert reg.arrays()[1].max() == pytest.approx(1.0)


@pytest.mark.parametrize("data, message", [
    ("x1,x2,label\n1,2,é\n".encode("latin-1"), "not UTF-8 text"),
    (b"x1,x2,label\n\x00\x01\x02", "not a CSV text file"),
    (b"", "the file is empty"),
    (_csv(GOOD, "a,b,label"), "missing: x1, x2"),
    (_csv(GOOD, "x1,x2,colour"), "missing: label or target"),
    (_csv([(1, 2, 3, 4)] * 10, "x1,x2,label,target"), "both a label and a target"),
    (_csv(GOOD[:9] + [(1, "two", 0)]), "row 11: x2 is 'two', not a number"),
    (_csv(GOOD[:9] + [(1, "nan", 0)]), "row 11: x2 is 'nan'; every value must be a finite number"),
    (_csv(GOOD[:9] + [("inf", 1, 0)]), "row 11: x1 is 'inf'; every value must be a finite number"),
    (_csv(GOOD[:9] + [(1, 2, "")]), "row 11: label is '', not a number"),
    (_csv(GOOD[:9]), "has 9 points; at least 10 are needed"),
    (_csv([(i, i, i % 2) for i in range(CSV_MAX_ROWS + 1)]), "has 5,001 points; at most 5,000"),
    (_csv([(i, i, 3) for i in range(10)]), "every point has the label 3"),
    (_csv(GOOD[:9] + [(1, 1, 0.5)]), "row 11: label 0.5 is not a whole number"),
    (_csv([(i, i, i % 7) for i in range(14)]), "7 different labels; at most 6"),
])
def test_each_bad_csv_gets_its_own_plain_message(data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        read_points_csv(data)


@pytest.mark.parametrize("rows", [
    [(i, i, i % 2) for i in range(10)],  # just enough rows
    [(i, i, i % 2) for i in range(CSV_MAX_ROWS)],  # just few enough rows
    [(i, i, i % 6) for i in range(12)],  # just few enough classes
    [(i, i, float(i % 2)) for i in range(10)],  # 0.0 and 1.0 are whole numbers
])
def test_csv_just_inside_each_limit_is_taken(rows):
    assert len(read_points_csv(_csv(rows))) == len(rows)


def _tf_linear(domain, rng, v, clamp=False):
    """d3.scaleLinear().domain(domain).range(rng)(v), as TensorFlow Playground calls it."""
    t = (v - domain[0]) / (domain[1] - domain[0])
    if clamp:
        t = min(max(t, 0.0), 1.0)
    return rng[0] + t * (rng[1] - rng[0])


def _tf_plane(x, y):  # regressPlane's getLabel
    return _tf_linear((-10, 10), (-1, 1), x + y)


def _tf_gauss(x, y):  # regressGaussian's getLabel: the bump largest in absolute value
    label = 0.0
    for cx, cy, sign in [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]:
        new = sign * _tf_linear((0, 2), (1, 0), math.hypot(x - cx, y - cy), clamp=True)
        if abs(new) > abs(label):
            label = new
    return label


@pytest.mark.parametrize("kind, ref", [("plane", _tf_plane), ("multi-gaussian", _tf_gauss)])
def test_regression_sets_follow_tensorflow_playground(kind, ref):
    X, t = make_regression(kind, n=400, noise=0.0, seed=3)
    assert X.shape == (400, 2) and t.dtype == np.float32 and np.abs(X).max() <= 1.0
    want = np.array([ref(6 * a, 6 * b) for a, b in X.astype(np.float64)])
    np.testing.assert_allclose(t, want, atol=1e-6)
    # noise moves the point where the target is read (by at most ±6·noise), not the point itself
    Xn, tn = make_regression(kind, n=400, noise=0.2, seed=3)
    np.testing.assert_array_equal(Xn, X)
    assert np.abs(tn - want).max() > 1e-3


def test_regression_reference_values_and_a_near_miss():
    assert _tf_gauss(-4, 2.5) == 1 and _tf_gauss(0, 2.5) == -1 and _tf_gauss(2, 2.5) == 0
    assert _tf_gauss(-4, 1.5) == pytest.approx(0.5)
    assert len(GAUSSIAN_BUMPS) == 6
    X, t = make_regression("plane", n=50, seed=0)
    near = np.array([_tf_linear((-12, 12), (-1, 1), 6 * (a + b)) for a, b in X])  # another fork's domain
    assert np.abs(t - near).max() > 1e-3
    with pytest.raises(ValueError, match="unknown regression set"):
        make_regression("ring")


def test_a_linear_network_on_the_plane_learns_the_least_squares_fit():
    from sklearn.linear_model import LinearRegression

    pg = Playground(PlaygroundConfig(dataset="plane", hidden=(), lr=0.03, batch_size=10))
    assert pg.model[-1].out_features == 1 and pg.history[0].keys() == {"epoch", "train_loss", "test_loss"}
    pg.train_epochs(40)
    ref = LinearRegression().fit(pg.train[0].numpy(), pg.train[1].numpy())
    np.testing.assert_allclose(pg.model[-1].weight.detach().numpy()[0], ref.coef_, atol=2e-3)
    assert pg.history[-1]["test_loss"] < 1e-5
    with torch.no_grad():
        want = ((pg.model.eval()(pg.test[0])[:, 0] - pg.test[1]) ** 2).mean().item()
    assert pg.history[-1]["test_loss"] == pytest.approx(want, rel=1e-5, abs=1e-9)
    f = pg.frame(resolution=10, neuron_resolution=4)
    assert f.task == "regression" and f.probs.shape == (10, 10, 1)


def test_each_hidden_layer_gets_its_own_activation():
    cfg = PlaygroundConfig(hidden=(3, 4, 2), activations=("ReLU", "sigmoid", "tanh"), activation="ReLU")
    net = network(cfg)
    assert [type(m) for m in net] == [torch.nn.Flatten, torch.nn.Linear, torch.nn.ReLU, torch.nn.Linear,
                                      torch.nn.Sigmoid, torch.nn.Linear, torch.nn.Tanh, torch.nn.Linear]
    x = torch.randn(5, 2)
    l1, l2, l3, out = (m for m in net if isinstance(m, torch.nn.Linear))
    want = out(torch.tanh(l3(torch.sigmoid(l2(torch.relu(l1(x)))))))
    torch.testing.assert_close(net(x), want)
    assert network(PlaygroundConfig(hidden=(3, 4), activation="sigmoid"))[4].__class__ is torch.nn.Sigmoid
    with pytest.raises(ValueError, match="one activation per hidden layer"):
        PlaygroundConfig(hidden=(3, 4), activations=("ReLU",))
    with pytest.raises(ValueError, match="is not one of"):
        PlaygroundConfig(hidden=(3,), activations=("swish",))


def test_a_weight_edit_changes_exactly_that_weight():
    state = Playground(PlaygroundConfig(hidden=(3, 2), features=("x1", "x2", "x1²"))).state()
    conns = connections(state)
    assert len(conns) == 3 * 3 + 3 * 2 and conns[0][3] == "x1 → layer 1, neuron 1"
    assert conns[-1][3] == "layer 1, neuron 3 → layer 2, neuron 2"
    edited = with_weight(state, 1, 2, 0, 4.5)
    for key, w in state.weights.items():
        diff = np.argwhere(np.asarray(edited.weights[key]) != np.asarray(w))
        assert diff.tolist() == ([[0, 2]] if key == "3.weight" else []), key
    assert Playground.from_state(edited).model[3].weight[0, 2].item() == 4.5
    assert state.weights["3.weight"][0, 2] != 4.5  # the old state is left alone
    pg = Playground.from_state(edited)
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(pg.model.eval()(pg.test[0]), pg.test[1]).item()
    assert edited.history[-1]["test_loss"] == pytest.approx(want, rel=1e-6) != state.history[-1]["test_loss"]
    for bad, message in [((2, 0, 0, 1.0), "no layer 3"), ((0, 3, 0, 1.0), "no connection from unit 4"),
                         ((0, 0, 0, float("nan")), "finite")]:
        with pytest.raises(ValueError, match=message):
            with_weight(state, *bad)


def test_url_with_per_layer_activations_hide_flags_and_old_links():
    cfg = PlaygroundConfig(dataset="multi-gaussian", hidden=(5, 3), activation="ReLU", activations=("ReLU", "tanh"))
    q = {**cfg.to_query(), **hide_to_query(["lr", "noise"])}
    assert q["act"] == "ReLU,tanh" and q["hide"] == "noise,lr" and q["data"] == "multi-gaussian"
    back, problems = PlaygroundConfig.from_query(q)
    assert back == cfg and problems == [] and back.task == "regression"
    assert hide_from_query(q) == (("noise", "lr"), [])
    assert hide_from_query({"hide": "lr,colour"}) == (("lr",), ["hide='colour'"])
    assert hide_from_query({}) == ((), [])
    old, problems = PlaygroundConfig.from_query({"act": "sigmoid", "layers": "4,2"})  # a link from before
    assert problems == [] and old.layer_activations == ("sigmoid", "sigmoid") and old.activations == ()
    _, problems = PlaygroundConfig.from_query({"act": "ReLU,tanh", "layers": "4"})
    assert problems == ["act='ReLU,tanh'"]
    with pytest.raises(ValueError, match="cannot hide colour"):
        hide_to_query(["colour"])
    assert set(HIDEABLE) >= {"noise", "lr", "reg", "act", "data"}


def test_csv_config_needs_its_points_and_logs_them_as_a_count():
    pts = read_points_csv(_csv([(i, (i * 7) % 5, i % 3) for i in range(30)]), name="three.csv")
    with pytest.raises(ValueError, match="choose a CSV file"):
        PlaygroundConfig(dataset="csv")
    with pytest.raises(ValueError, match="the CSV has 3 classes, not 2"):
        PlaygroundConfig(dataset="csv", upload=pts)
    cfg = PlaygroundConfig(dataset="csv", upload=pts, n_classes=3, train_ratio=0.5)
    assert cfg.n_points == 30 and cfg.n_train == 15
    assert cfg.params()["upload"] == "three.csv" and cfg.params()["upload_rows"] == 30
    assert "data" in cfg.to_query() and "upload" not in cfg.to_query()
    pg = Playground(cfg)
    assert pg.model[-1].out_features == 3 and len(pg.train[1]) + len(pg.test[1]) == 30


@pytest.mark.parametrize("cfg, levels", [
    (PlaygroundConfig(dataset="xor", hidden=(4,)), [0.5]),
    (PlaygroundConfig(dataset="spirals", n_classes=3, hidden=(4,)), [0.5, 1.5]),
    (PlaygroundConfig(dataset="plane", hidden=(2,)), [0.0]),
])
def test_play_logs_its_decision_grid_and_task(fresh_store, cfg, levels):
    import json

    out = play(None, PlayRequest(Playground(cfg).state(), epochs=2))
    run = out.state.run_id
    grid = json.loads(tracking.text_artifact(run, "decision_grid.json"))
    assert grid["levels"] == levels and grid["task"] == cfg.task
    pg = Playground.from_state(out.state)
    g = np.asarray(grid["x"], dtype=np.float32)
    with torch.no_grad():
        out_grid = pg.model.eval()(feature_matrix(pg._grid(g), cfg.features))
    if cfg.task == "regression":
        want = out_grid[:, 0]
    elif len(levels) == 1:
        want = torch.softmax(out_grid, 1)[:, 1]
    else:
        want = out_grid.argmax(1).float()
    np.testing.assert_allclose(np.asarray(grid["z"]).ravel(), want.numpy(), atol=1e-4)
    assert tracking.search_runs().iloc[0]["params.task"] == cfg.task
