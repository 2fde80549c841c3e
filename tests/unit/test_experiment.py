"""The shared pieces every page's experiments use: fit's penalty hook, the tracked lane,
the course's MLP, resuming and annotating runs."""

import pickle

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.experiment import (
    FAILED,
    FINISHED,
    KILLED,
    SKIPPED,
    LanePlan,
    final_measures,
    run_comparison,
    steps_per_epoch,
    train_tracked,
)
from core.jobs import Recorder, run_job
from core.nets import mlp, weight_matrices
from core.optimizers import GradientDescent
from core.regularization import InvertedDropout, l2_penalty
from core.training import evaluate, fit
from tests.contexts import StopAfter, StopBetweenLanes


def _data(n=64, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


def test_penalty_is_added_before_backward_like_a_hand_written_loop():
    X, y = _data()
    torch.manual_seed(0)
    a = mlp(5, (8,), 3)
    b = mlp(5, (8,), 3)
    b.load_state_dict(a.state_dict())
    lam, m = 0.7, len(y)
    hist = fit(a, (X, y), GradientDescent(a.parameters(), lr=0.1), epochs=3, batch_size=None, amp=False,
               penalty=lambda: l2_penalty(weight_matrices(a), lam, m), device=torch.device("cpu"))
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    want = []
    for _ in range(3):
        ws = [mod.weight for mod in b.modules() if isinstance(mod, nn.Linear)]
        loss = F.cross_entropy(b(X), y) + lam / (2 * m) * sum((w**2).sum() for w in ws)
        opt.zero_grad()
        loss.backward()
        opt.step()
        want.append(loss.item())
    assert hist.step_loss == pytest.approx(want, rel=1e-5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


def test_mlp_layers_follow_the_options():
    net = mlp(4, (6, 5), 2, activation="tanh", keep_prob=0.5, batch_norm=True)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "Tanh", "InvertedDropout",
                     "Linear", "BatchNorm1d", "Tanh", "InvertedDropout", "Linear"]
    assert net[1].bias is None and net[-1].bias is not None  # BN's β replaces the bias
    assert [tuple(w.shape) for w in weight_matrices(net)] == [(6, 4), (5, 6), (2, 5)]
    assert isinstance(net[4], InvertedDropout) and net[4].keep_prob == 0.5
    with pytest.raises(ValueError, match="activation"):
        mlp(4, (3,), 2, activation="swish")


def test_steps_per_epoch():
    assert steps_per_epoch(100, None) == 1
    assert steps_per_epoch(100, 32) == 4
    assert steps_per_epoch(10, 64) == 1


def test_final_measures_are_eval_mode_numbers():
    X, y = _data()
    net = mlp(5, (8,), 3, keep_prob=0.5)
    out = final_measures(net, (X, y), (X[:10], y[:10]))
    ev = evaluate(net, X, y)
    assert out["final_train_accuracy"] == pytest.approx(ev["accuracy"])
    assert out["final_train_loss"] == pytest.approx(ev["loss"], rel=1e-6)
    assert out["inference_ms_per_example"] > 0
    assert net.training  # the mode is put back


def test_a_tracked_lane_finishes_with_its_measures(fresh_store):
    X, y = _data()
    net = mlp(5, (8,), 3)
    seen = []
    lane = train_tracked(None, "demo", {"lr": 0.1}, net, (X, y), GradientDescent(net.parameters(), lr=0.1),
                         name="a", dev=(X[:16], y[:16]), epochs=2, batch_size=16,
                         finish=lambda run, model, hist: seen.append(hist.steps_done))
    assert lane.status == FINISHED and lane.steps == 8 and seen == [8]
    row = tracking.search_runs().iloc[0]
    assert row["run_id"] == lane.run_id and row["status"] == "FINISHED"
    assert row["metrics.final_dev_accuracy"] == pytest.approx(lane.dev_accuracy)
    assert {"metrics.final_train_accuracy", "metrics.inference_ms_per_example"} <= set(row.index)


def test_outputs_that_are_not_class_scores_log_losses_only(fresh_store):
    torch.manual_seed(0)
    X = torch.randn(64, 3)
    Y = X @ torch.tensor([[1.0], [-2.0], [0.5]])  # a regression target [N, 1]
    net = nn.Linear(3, 1)
    lane = train_tracked(None, "demo", {}, net, (X, Y), torch.optim.SGD(net.parameters(), lr=0.1), name="r",
                         dev=(X[:16], Y[:16]), epochs=3, batch_size=16, loss_fn=F.mse_loss, measure_accuracy=False)
    assert lane.status == FINISHED and lane.dev_accuracy is None
    assert all("dev_accuracy" not in r and "dev_loss" in r for r in lane.history.epochs)
    want = F.mse_loss(net(X[:16]), Y[:16]).item()
    assert lane.measures["final_dev_loss"] == pytest.approx(want, rel=1e-5)
    row = tracking.search_runs().iloc[0]
    assert not [c for c in row.index if "accuracy" in c and not pd.isna(row[c])]
    assert evaluate(net, X, Y, F.mse_loss, measure_accuracy=False).keys() == {"loss"}


def test_a_diverged_lane_is_returned_failed_and_said_once(fresh_store):
    X, y = _data()
    net = mlp(5, (16, 16), 3, activation="linear")
    ctx = Recorder()
    lane = train_tracked(ctx, "demo", {}, net, (X * 100, y), GradientDescent(net.parameters(), lr=1e4),
                         name="boom", epochs=20)
    assert lane.status == FAILED and lane.error.startswith("the loss became") and "smaller learning rate" in lane.error
    row = tracking.search_runs().iloc[0]
    assert row["status"] == "FAILED" and row["tags.dll.error"] == lane.error  # the run records the page's sentence
    assert ctx.snapshot().diverged == (("boom", lane.error),) and ctx.snapshot().warnings == ()


def test_a_stopped_lane_comes_back_killed_with_its_run(fresh_store):
    X, y = _data()
    net = mlp(5, (8,), 3)
    ctx = StopAfter("s", 3)
    lane = train_tracked(ctx, "demo", {}, net, (X, y), GradientDescent(net.parameters(), lr=0.1), name="s",
                         epochs=5, batch_size=8)
    assert lane.status == KILLED and lane.run_id is not None and 3 <= lane.steps < 40  # steps are read back in batches
    row = tracking.search_runs().iloc[0]
    assert row["status"] == "KILLED" and row["run_id"] == lane.run_id
    assert len(tracking.metric_history(lane.run_id, "train_loss")) == lane.steps


def _lane_plan(name, X, y, lr):
    def train(slot):
        net = mlp(5, (8,), 3)
        return train_tracked(slot, "demo", {"lane": name}, net, (X, y), GradientDescent(net.parameters(), lr=lr),
                             name=name, epochs=2, batch_size=16)
    return LanePlan(name, train)


def test_a_comparison_runs_its_lanes_under_one_tag_and_stop_skips_the_rest(fresh_store):
    X, y = _data()
    ctx = Recorder()
    done = run_comparison(ctx, [_lane_plan("a", X, y, 0.1), _lane_plan("b", X * 100, y, 1e4),
                                _lane_plan("c", X, y, 0.1)], comparison="cmp-1")
    assert [ln.status for ln in done.lanes] == [FINISHED, FAILED, FINISHED] and not done.stopped
    runs = tracking.search_runs()
    assert set(runs["tags.dll.comparison"]) == {"cmp-1"} and len(runs) == 3
    progress = [row["step"] for row in ctx.snapshot().metrics["a"]]
    assert progress == list(range(1, 9))
    ctx = StopAfter("b", 2)
    stopped = run_comparison(ctx, [_lane_plan("a", X, y, 0.1), _lane_plan("b", X, y, 0.1), _lane_plan("c", X, y, 0.1)],
                             comparison="cmp-2")
    assert [ln.status for ln in stopped.lanes] == [FINISHED, KILLED, SKIPPED] and stopped.stopped
    assert stopped.lane("c").run_id is None and len(tracking.search_runs(filter_string="tags.`dll.comparison` = 'cmp-2'")) == 2
    assert pickle.loads(pickle.dumps(stopped)).lanes[1].steps == stopped.lanes[1].steps


def test_a_stop_between_two_lanes_still_makes_the_comparison_stopped(fresh_store):
    X, y = _data()
    ctx = StopAfter("a/epochs", 2)  # Stop pressed as lane a ends: no lane is KILLED, b and c never start
    done = run_comparison(ctx, [_lane_plan("a", X, y, 0.1), _lane_plan("b", X, y, 0.1), _lane_plan("c", X, y, 0.1)],
                          comparison="cmp-3")
    assert [ln.status for ln in done.lanes] == [FINISHED, SKIPPED, SKIPPED] and done.stopped
    assert run_job(_stopped_before_the_first_lane, Recorder(), None).status == "killed"  # the job ends KILLED


def _stopped_before_the_first_lane(ctx, _):
    X, y = _data()
    ctx.cancel.cancel()
    return run_comparison(ctx, [_lane_plan("a", X, y, 0.1)], comparison="cmp-4")


def test_a_run_can_be_resumed_and_annotated(fresh_store):
    with tracking.start_run("demo", {"a": 1}, run_name="first") as run:
        run.log_metrics({"x": 1.0}, 1)
    with tracking.start_run("demo", resume=run.run_id) as again:
        again.log_metrics({"x": 2.0}, 2)
    assert again.run_id == run.run_id
    df = tracking.search_runs()
    assert len(df) == 1 and df.iloc[0]["status"] == "FINISHED" and df.iloc[0]["params.a"] == "1"
    assert tracking.metric_history(run.run_id, "x")["value"].tolist() == [1.0, 2.0]
    tracking.annotate_run(run.run_id, tags={tracking.TAG_SUMMARY: "tagged"}, text="a,b\n1,2\n", name="tags.csv")
    assert tracking.search_runs().iloc[0]["tags.dll.error_analysis"] == "tagged"
    with pytest.raises(ValueError, match="unknown run tag"):  # one vocabulary: a tag outside it is refused
        tracking.annotate_run(run.run_id, tags={"note": "x"})
    assert tracking.text_artifact(run.run_id, "tags.csv") == "a,b\n1,2\n"
    assert tracking.text_artifact(run.run_id, "missing.csv") is None


def test_final_dev_numbers_are_those_of_the_restored_best_epoch(fresh_store):
    from core.training import EarlyStopping

    X, y = _data(n=48, seed=1)
    Xd, yd = _data(n=48, seed=2)  # random labels: dev loss soon rises while train loss falls
    net = mlp(5, (128,), 3)
    lane = train_tracked(None, "demo", {}, net, (X, y), torch.optim.Adam(net.parameters(), lr=0.01), name="es",
                         dev=(Xd, yd), epochs=60, early_stopping=EarlyStopping(patience=3))
    epochs = lane.history.epochs
    best = min(epochs, key=lambda r: r["dev_loss"])
    assert lane.history.stopped_early and lane.history.best_epoch == best["epoch"] < len(epochs)
    assert lane.dev_loss == pytest.approx(best["dev_loss"], rel=1e-5)
    assert lane.dev_loss == pytest.approx(evaluate(net, Xd, yd)["loss"], rel=1e-6)
    assert lane.dev_loss != pytest.approx(epochs[-1]["dev_loss"], rel=1e-3)
    row = tracking.search_runs().iloc[0]
    assert row["metrics.final_dev_loss"] == pytest.approx(best["dev_loss"], rel=1e-5)


def test_params_keep_their_characters():
    params = tracking.flatten_params({"features": ("x1²", "x1·x2"), "λ": 0.1, "nested": {"keep_prob": 0.5}})
    assert params == {"features": '["x1²", "x1·x2"]', "λ": "0.1", "nested.keep_prob": "0.5"}


def _comparison_jobs() -> dict:
    from core.cnn.degradation import DegradationConfig, run_degradation
    from core.optimizers.race import RaceConfig, run_race
    from core.regularization.experiments import Setup, SweepConfig, run_sweep
    from core.rnn.tagging import TaggingConfig, run_tagging
    from core.seq2seq import Seq2SeqConfig, run_seq2seq
    from core.strategy import experiments as X

    return {
        "race": (run_race, RaceConfig(dataset="digits", optimizers=("Gradient descent", "Adam"),
                                      learning_rates=(0.1, 0.01), epochs=1, hidden=(16,))),
        "sweep": (run_sweep, SweepConfig(Setup(dataset="digits", n_train=24, hidden=(8,), batch_size=8, epochs=1),
                                         lambdas=(0.0, 1.0), keep_probs=())),
        "degradation": (run_degradation, DegradationConfig(shallow=8, deep=14, width=4, image_size=8, n_train=60,
                                                           epochs=1, batch_size=32)),
        "tagging": (run_tagging, TaggingConfig(cell="RNN", hidden_size=8, length=6, n_train=64, n_dev=16, epochs=1,
                                               batch_size=32)),
        "curves": (X.run_learning_curves, X.LearningCurveConfig(sizes=(20, 60), hidden=(8,), steps=10)),
        "candidates": (X.run_candidates, X.CandidatesConfig(architectures=((8,), (16,)), epochs=1)),
        "seq2seq": (run_seq2seq, Seq2SeqConfig(n_train=32, n_dev=8, epochs=1, batch_size=32, hidden=8, embed_dim=4,
                                               variants=("attention", "no attention"))),
    }


@pytest.mark.parametrize("job", ["race", "sweep", "degradation", "tagging", "curves", "candidates", "seq2seq"])
def test_every_page_job_ends_killed_when_stop_lands_between_two_lanes(job, fresh_store):
    """Stop pressed after a lane's last step and before the next lane's first: the page's result (its own
    subclass of the comparison) still says stopped, so the job ends KILLED and the page says "Stopped"
    (the class's browser test saw a stopped race end FINISHED with its other lanes skipped)."""
    fn, cfg = _comparison_jobs()[job]
    with StopBetweenLanes(job) as ctx:
        ending = run_job(fn, ctx, cfg)
    assert ending.status == "killed", (ending.status, ending.error)
    assert ending.result.stopped
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"]  # the first lane ran to its end; no other lane started
