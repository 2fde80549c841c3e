"""Network basics, checked against references: autograd, torch.nn.functional, torch.optim.SGD,
closed forms and float64 matrix products."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.basics import (
    ACTIVATIONS,
    IMPLEMENTATIONS,
    LAYER_ACTIVATIONS,
    PARAMS,
    BackpropNet,
    DepthConfig,
    NeuronConfig,
    VectorizationConfig,
    activation,
    activation_derivative,
    autograd_gradients,
    backprop_report,
    binary_cross_entropy,
    course_gradients,
    cross_entropy,
    forward,
    gradient_norms_per_layer,
    gradient_rows,
    layer_loops,
    layer_numpy,
    layer_torch,
    loss_vs_probability,
    make_layer,
    mse,
    neuron_output,
    random_network,
    rows_to_csv,
    run_timing,
    saturation_numbers,
    sigmoid_chain_bound,
    speedup_rows,
    time_layer,
    update,
    z_gradients,
)
from core.basics.vectorization import best_time
from tests.plain import assert_plain

TORCH_ACT = {
    "sigmoid": torch.nn.Sigmoid(),
    "ReLU": torch.nn.ReLU(),
    "tanh": torch.nn.Tanh(),
    "leaky ReLU": torch.nn.LeakyReLU(),  # default slope 0.01
}

# ------------------------------------------------------------------------------ neuron


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_and_derivative_match_autograd(name):
    z = torch.cat([torch.linspace(-8, 8, 321, dtype=torch.float64), torch.tensor([0.0, -1e-3, 1e-3], dtype=torch.float64)])
    z.requires_grad_(True)
    a = TORCH_ACT[name](z)
    a.sum().backward()  # d(sum a)/dz_k = g'(z_k)
    zn = z.detach().numpy()
    np.testing.assert_allclose(activation(name, zn), a.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(activation_derivative(name, zn), z.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_sigmoid_is_stable_far_out():
    z = np.array([-800.0, 800.0])
    assert np.all(np.isfinite(activation("sigmoid", z)))
    np.testing.assert_allclose(activation("sigmoid", z), [0.0, 1.0])


def test_sigmoid_slope_is_at_most_a_quarter_reached_at_zero():
    z = np.linspace(-10, 10, 20001)  # contains 0 exactly
    slope = activation_derivative("sigmoid", z)
    assert slope.max() == pytest.approx(0.25, abs=0)
    assert z[slope.argmax()] == 0.0
    assert np.all(slope <= 0.25)
    assert sigmoid_chain_bound(10) == pytest.approx(0.25**10) and sigmoid_chain_bound(0) == 1.0
    with pytest.raises(ValueError):
        sigmoid_chain_bound(-1)


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="activation must be one of"):
        activation("swish", 0.0)


def test_neuron_output_is_w_dot_x_plus_b_through_g():
    cfg = NeuronConfig(inputs=(1.0, -0.5, 2.0), weights=(0.4, 0.8, -0.3), bias=0.1, activation="tanh")
    out = neuron_output(cfg)
    z = float(torch.dot(torch.tensor(cfg.weights, dtype=torch.float64), torch.tensor(cfg.inputs, dtype=torch.float64)) + 0.1)
    assert out.z == pytest.approx(z, abs=1e-12) and out.z == pytest.approx(-0.5)
    assert out.a == pytest.approx(math.tanh(z))
    assert out.slope == pytest.approx(1 - math.tanh(z) ** 2)
    assert neuron_output(NeuronConfig(activation="ReLU")).a == 0.0  # z = −0.5 < 0
    with pytest.raises(ValueError, match="one weight per input"):
        NeuronConfig(inputs=(1.0, 2.0), weights=(1.0,))
    with pytest.raises(ValueError, match="Bias b must be a number between -3 and 3"):
        NeuronConfig(bias=float("nan"))


def test_deep_sigmoid_gradients_vanish_towards_the_input_but_relu_keeps_them():
    norms = gradient_norms_per_layer(DepthConfig(depth=10, width=32, batch=128, activations=("sigmoid", "ReLU")))
    sig, relu = norms["sigmoid"], norms["ReLU"]
    assert len(sig) == len(relu) == 10
    assert sig[0] / sig[-1] < 1e-3  # layer 1 gets orders of magnitude less than layer 10
    assert all(a < b for a, b in zip(sig[:-1], sig[1:]))  # shrinks with every layer back
    assert relu[0] / relu[-1] > 0.1
    assert relu[0] > 1000 * sig[0]


def test_gradient_norms_agree_with_a_manual_autograd_pass():
    cfg = DepthConfig(depth=3, width=8, batch=16, activations=("tanh",), seed=3)
    norms = gradient_norms_per_layer(cfg)["tanh"]
    from core.basics.neuron import deep_network

    gen = torch.Generator().manual_seed(cfg.seed + 1)
    x = torch.randn(cfg.batch, cfg.width, generator=gen, dtype=torch.float64)
    y = torch.randint(0, cfg.n_classes, (cfg.batch,), generator=gen)
    model = deep_network(cfg, "tanh")
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights)
    np.testing.assert_allclose(norms, [float(g.norm()) for g in grads], rtol=1e-12)


def test_depth_config_validates():
    with pytest.raises(ValueError, match=r"Depth L \(layers\) must be between 2 and 40"):
        DepthConfig(depth=1)
    with pytest.raises(ValueError, match="Initialisation: 'zeros' is not one of"):
        DepthConfig(init="zeros")
    with pytest.raises(ValueError, match="Activations compared: choose at least 1"):
        DepthConfig(activations=())


# ---------------------------------------------------------------------------- backprop


def _torch_reference(net: BackpropNet):
    """The course's network written independently with torch.nn.functional (float64): thresholds are
    subtracted, so each layer is F.linear with bias = −threshold."""
    a = net.arrays()
    p = {k: torch.tensor(a[k], dtype=torch.float64, requires_grad=True) for k in PARAMS}
    x, y = torch.tensor(a["x"]), torch.tensor(a["y"])
    b = torch.sigmoid(F.linear(x, p["v"].T, -p["gamma"]))
    y_hat = torch.sigmoid(F.linear(b, p["w"].T, -p["theta"]))
    error = 0.5 * F.mse_loss(y_hat, y, reduction="sum")
    error.backward()
    return p, b.detach().numpy(), y_hat.detach().numpy(), float(error.detach())


@pytest.mark.parametrize("shape,seed", [((2, 3, 2), 0), ((2, 3, 2), 1), ((1, 1, 1), 2), ((4, 2, 3), 3), ((3, 4, 4), 4),
                                        ((8, 8, 8), 5)])
def test_course_gradients_equal_autograd(shape, seed):
    net = random_network(*shape, seed=seed, scale=1.5)
    p, b, y_hat, error = _torch_reference(net)
    fwd = forward(net)
    np.testing.assert_allclose(fwd.b, b, rtol=1e-12)
    np.testing.assert_allclose(fwd.y_hat, y_hat, rtol=1e-12)
    assert fwd.error == pytest.approx(error, rel=1e-12)
    course = course_gradients(net)
    for k in PARAMS:
        assert course.grads[k].shape == p[k].shape
        np.testing.assert_allclose(course.grads[k], p[k].grad.numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(course.grads[k], p[k].grad.numpy(), rtol=1e-9, atol=1e-15)
    auto = autograd_gradients(net)
    report = backprop_report(net, 0.3)
    assert report.max_abs_diff < 1e-6
    assert report.max_abs_diff == pytest.approx(max(float(np.abs(course.grads[k] - auto[k]).max()) for k in PARAMS))


def test_course_terms_g_and_e_as_written():
    net = random_network(2, 3, 2, seed=7)
    fwd, c = forward(net), course_gradients(net)
    a = net.arrays()
    for j in range(2):
        assert c.g[j] == pytest.approx(fwd.y_hat[j] * (1 - fwd.y_hat[j]) * (a["y"][j] - fwd.y_hat[j]))
        assert c.grads["theta"][j] == pytest.approx(c.g[j])
    for h in range(3):
        e_h = fwd.b[h] * (1 - fwd.b[h]) * sum(c.g[j] * a["w"][h, j] for j in range(2))
        assert c.e[h] == pytest.approx(e_h)
        assert c.grads["gamma"][h] == pytest.approx(e_h)
        for i in range(2):
            assert c.grads["v"][i, h] == pytest.approx(-e_h * a["x"][i])  # ∂E/∂v_ih = −e_h x_i (the course)
        for j in range(2):
            assert c.grads["w"][h, j] == pytest.approx(-c.g[j] * fwd.b[h])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_update_step_equals_w_minus_lr_grad_and_torch_sgd(seed):
    net = random_network(3, 2, 2, seed=seed)
    lr = 0.7
    report = backprop_report(net, lr)
    p, *_ = _torch_reference(net)
    opt = torch.optim.SGD([p[k] for k in PARAMS], lr=lr)
    opt.step()
    after = report.updated.arrays()
    before = net.arrays()
    for k in PARAMS:
        np.testing.assert_allclose(after[k], before[k] - lr * report.course.grads[k], rtol=1e-12)
        np.testing.assert_allclose(after[k], p[k].detach().numpy(), rtol=1e-10, atol=1e-12)
    assert report.updated.x == net.x and report.updated.y == net.y
    small = backprop_report(net, 0.01)
    assert small.error_after < small.error_before  # a small step goes downhill
    assert report.error_after == pytest.approx(forward(report.updated).error)


def test_gradient_rows_cover_every_parameter_once():
    net = random_network(2, 3, 2, seed=0)
    rows = gradient_rows(backprop_report(net, 0.5))
    assert len(rows) == 3 * 2 + 2 + 2 * 3 + 3
    names = [r["parameter"] for r in rows]
    assert len(set(names)) == len(names) and "v_23" in names and "θ_2" in names and "γ_3" in names
    v23 = next(r for r in rows if r["parameter"] == "v_23")
    assert v23["value"] == net.v[1][2] and v23["course formula"] == "−e_3·x_2"


def test_backprop_net_validates():
    good = random_network(2, 3, 2, seed=0)
    with pytest.raises(ValueError, match="one target per output"):
        BackpropNet(good.x, (0.0,), good.v, good.gamma, good.w, good.theta)
    with pytest.raises(ValueError, match="v must have"):
        BackpropNet(good.x, good.y, good.v[:1], good.gamma, good.w, good.theta)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BackpropNet(good.x, (2.0, 0.0), good.v, good.gamma, good.w, good.theta)
    with pytest.raises(ValueError, match="finite"):
        BackpropNet((float("nan"), 0.0), good.y, good.v, good.gamma, good.w, good.theta)
    with pytest.raises(ValueError, match="learning rate"):
        update(good, course_gradients(good).grads, 0.0)
    with pytest.raises(ValueError):
        random_network(0, 3, 2)


# ------------------------------------------------------------------------------ losses


def test_mse_matches_torch():
    rng = np.random.default_rng(0)
    y, y_hat = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    assert mse(y, y_hat) == pytest.approx(float(F.mse_loss(torch.tensor(y_hat), torch.tensor(y))), rel=1e-12)
    with pytest.raises(ValueError):
        mse([1.0], [1.0, 2.0])


def test_cross_entropy_is_the_course_sum_and_matches_torch():
    torch.manual_seed(0)
    logits = torch.randn(6, 4, dtype=torch.float64)
    labels = torch.randint(0, 4, (6,))
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(labels, 4).double()
    ce = cross_entropy(onehot.numpy(), probs.numpy())
    assert ce == pytest.approx(float(F.nll_loss(torch.log(probs), labels, reduction="sum")), rel=1e-12)
    assert ce == pytest.approx(float(F.cross_entropy(logits, labels, reduction="sum")), rel=1e-12)
    with pytest.raises(ValueError):
        cross_entropy(onehot.numpy(), probs.numpy() * 2)


def test_binary_losses_against_probability_match_torch():
    p = np.linspace(0.01, 0.99, 99)
    for y in (0.0, 1.0):
        target = torch.full((99,), y, dtype=torch.float64)
        ref = F.binary_cross_entropy(torch.tensor(p), target, reduction="none").numpy()
        np.testing.assert_allclose(binary_cross_entropy(y, p), ref, rtol=1e-12)
        curves = loss_vs_probability(p, y)
        np.testing.assert_allclose(curves["cross-entropy"], ref, rtol=1e-12)
        np.testing.assert_allclose(curves["MSE"], F.mse_loss(torch.tensor(p), target, reduction="none").numpy())
    np.testing.assert_allclose(loss_vs_probability(p, 1)["cross-entropy"], -np.log(p), rtol=1e-12)
    with pytest.raises(ValueError, match="0 or 1"):
        loss_vs_probability(p, 0.5)


@pytest.mark.parametrize("y", [0.0, 1.0])
def test_z_gradients_match_autograd(y):
    z = torch.linspace(-10, 10, 201, dtype=torch.float64, requires_grad=True)
    target = torch.full_like(z, y)
    F.mse_loss(torch.sigmoid(z), target, reduction="sum").backward()  # per-example MSE with n = 1
    mse_grad = z.grad.numpy().copy()
    z.grad = None
    F.binary_cross_entropy_with_logits(z, target, reduction="sum").backward()
    got = z_gradients(z.detach().numpy(), y)
    np.testing.assert_allclose(got["MSE"], mse_grad, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(got["cross-entropy"], z.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_saturated_sigmoid_mse_gradient_vanishes_but_cross_entropy_does_not():
    n = saturation_numbers(-6.0, 1)
    assert n["ŷ"] == pytest.approx(1 / (1 + math.exp(6)))
    assert abs(n["dMSE/dz"]) < 0.01 and abs(n["dCE/dz"]) > 0.99
    assert abs(n["dCE/dz"]) / abs(n["dMSE/dz"]) == pytest.approx(1 / (2 * n["ŷ"] * (1 - n["ŷ"])))


# ------------------------------------------------------------------------ vectorization


@pytest.mark.parametrize("act", LAYER_ACTIVATIONS)
def test_three_implementations_agree_with_torch_linear(act):
    rng = np.random.default_rng(1)
    W, X, b = rng.normal(size=(5, 7)), rng.normal(size=(7, 4)), rng.normal(size=(5, 1))
    ref = {"ReLU": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[act](
        F.linear(torch.tensor(X.T), torch.tensor(W), torch.tensor(b[:, 0]))).numpy().T  # (n_out, m)
    loops = np.array(layer_loops(W.tolist(), X.tolist(), b[:, 0].tolist(), act))
    assert np.allclose(loops, ref) and np.allclose(layer_numpy(W, X, b, act), ref)
    assert np.allclose(layer_torch(torch.tensor(W), torch.tensor(X), torch.tensor(b), act).numpy(), ref)
    with pytest.raises(ValueError):
        layer_loops(W.tolist(), X.tolist(), [0.0], act)


def test_make_layer_shapes():
    W, X, b = make_layer(6, seed=0)
    assert W.shape == (6, 6) and X.shape == (6, 6) and b.shape == (6, 1)
    with pytest.raises(ValueError):
        make_layer(0)


def test_timing_returns_a_row_per_implementation_and_size_and_skips_big_loops():
    cfg = VectorizationConfig(sizes=(4, 8, 16), loop_cap=8, repeats=2, use_gpu=False, dtype="float64")
    seen = []
    rows = time_layer(cfg, on_row=seen.append)
    assert rows == seen
    keys = {(r["size"], r["implementation"]) for r in rows}
    expected = {(n, i) for n in (4, 8, 16) for i in ("Python loops", "NumPy", "torch CPU")} - {(16, "Python loops")}
    assert keys == expected
    assert all(r["seconds"] > 0 and r["equal"] and r["max_abs_diff"] < 1e-9 for r in rows)
    ups = speedup_rows(rows)
    numpy4 = next(u for u in ups if u["size"] == 4 and u["implementation"] == "NumPy")
    loops4 = next(r["seconds"] for r in rows if r["size"] == 4 and r["implementation"] == "Python loops")
    assert numpy4["× faster than loops"] == pytest.approx(loops4 / numpy4["seconds"])
    assert next(u for u in ups if u["size"] == 16 and u["implementation"] == "NumPy")["× faster than loops"] is None
    assert rows_to_csv(rows).splitlines()[0].startswith("size,implementation,seconds")


def test_float32_outputs_still_count_as_equal():
    rows = time_layer(VectorizationConfig(sizes=(64,), loop_cap=0, repeats=1, use_gpu=False, dtype="float32"))
    assert {r["implementation"] for r in rows} == {"NumPy", "torch CPU"}
    assert all(r["equal"] and 0 < r["max_abs_diff"] < 1e-4 for r in rows)


def test_best_time_keeps_the_best_and_respects_the_budget():
    import time

    calls = []
    best, samples, number, _ = best_time(lambda: calls.append(time.sleep(0.02)), repeats=3, budget_s=10)
    assert samples == 3 and number == 1 and 0.02 <= best < 0.2
    best, samples, number, _ = best_time(lambda: time.sleep(0.06), repeats=10, budget_s=0.1)
    assert samples == 1  # one calibration call and one sample already spend the budget
    calls.clear()
    best, samples, number, _ = best_time(lambda: calls.append(time.sleep(0.15)), repeats=10, budget_s=0.1)
    assert samples == 1 and len(calls) == 1 and best >= 0.15  # a call longer than the budget runs once
    with pytest.raises(ValueError):
        best_time(lambda: None, repeats=0)


def test_vectorization_config_validates():
    with pytest.raises(ValueError, match="increasing"):
        VectorizationConfig(sizes=(8, 4))
    with pytest.raises(ValueError, match="Sizes n: choose at least 1"):
        VectorizationConfig(sizes=())
    with pytest.raises(ValueError, match="Largest n for the Python loops must be between 0 and 256"):
        VectorizationConfig(loop_cap=1024)
    with pytest.raises(ValueError, match=r"Number type \(NumPy and torch\): 'int8' is not one of"):
        VectorizationConfig(dtype="int8")
    assert "torch GPU" not in VectorizationConfig(use_gpu=False).implementations()
    assert set(VectorizationConfig().implementations()) <= set(IMPLEMENTATIONS)


def test_run_timing_is_tracked(fresh_store):
    from core import tracking

    result = run_timing(None, VectorizationConfig(sizes=(4, 8), loop_cap=4, repeats=1, use_gpu=False))
    assert result.all_equal and result.skipped_loop_sizes == (8,) and len(result.rows) == 5
    df = tracking.search_runs()
    assert df["status"].tolist() == ["FINISHED"] and df.iloc[0]["experiment"] == "basics"
    hist = tracking.metric_history(result.run_id, "seconds_numpy")
    assert sorted(hist["step"]) == [4, 8]
    assert_plain(result) and assert_plain(VectorizationConfig(), "config")


def test_stopped_timing_keeps_its_rows_and_ends_killed(fresh_store):
    from core import tracking
    from core.jobs import KILLED, run_job
    from tests.contexts import StopAfter

    ending = run_job(run_timing, StopAfter(None, 2, "basics"),
                     VectorizationConfig(sizes=(4, 8, 16), loop_cap=4, repeats=1, use_gpu=False))
    result = assert_plain(ending.result)
    assert ending.status == KILLED and result.stopped and 2 <= len(result.rows) < 7
    row = tracking.search_runs().iloc[0]
    assert row["status"] == "KILLED" and row["run_id"] == result.run_id
    assert tracking.text_artifact(result.run_id, "timings.csv").count("\n") == len(result.rows) + 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_timing_rows_equal_the_reference():
    rows = time_layer(VectorizationConfig(sizes=(64, 512), loop_cap=0, repeats=2, use_gpu=True))
    gpu = [r for r in rows if r["implementation"] == "torch GPU"]
    assert len(gpu) == 2 and all(r["equal"] for r in gpu)


def test_timing_tables_pivot_the_rows_by_size():
    from core.basics.vectorization import timing_tables

    rows = [
        {"size": 8, "implementation": "Python loops", "seconds": 0.008},
        {"size": 8, "implementation": "NumPy", "seconds": 0.001},
        {"size": 8, "implementation": "torch CPU", "seconds": 0.002},
        {"size": 16, "implementation": "NumPy", "seconds": 0.004},  # loops skipped at 16
        {"size": 16, "implementation": "torch CPU", "seconds": 0.001},
    ]
    t = timing_tables(rows)
    assert list(t["seconds"].columns) == ["Python loops", "NumPy", "torch CPU"]
    assert t["seconds"].loc[8, "torch CPU"] == 0.002 and np.isnan(t["seconds"].loc[16, "Python loops"])
    assert t["vs loops"].loc[8].to_dict() == {"NumPy": 8.0, "torch CPU": 4.0}
    assert 16 not in t["vs loops"].index  # no loops timed there
    assert t["vs NumPy"]["torch CPU"].to_dict() == {8: 0.5, 16: 4.0}
    assert all(df.empty for df in timing_tables([]).values())
