"""The optimizer race: same start for every lane, tracked runs, NaN lanes and Stop."""

import pytest
import torch

from core import tracking
from core.jobs import KILLED, run_job
from core.optimizers.race import RaceConfig, build_mlp, run_race
from tests.contexts import StopAfter

CPU = torch.device("cpu")


def test_lanes_share_initial_weights_and_are_tracked(fresh_store):
    cfg = RaceConfig(
        dataset="digits",
        optimizers=("Gradient descent", "Adam"),
        learning_rates=(0.1, 0.01),
        epochs=2,
        batch_size=32,
        hidden=(32,),
        seed=3,
    )
    result = run_race(None, cfg, device=CPU)
    a, b = result.lanes
    assert a.status == b.status == "FINISHED"
    # same weights and same first batch: the first loss (before any update) must be identical
    assert a.history.step_loss[0] == pytest.approx(b.history.step_loss[0], rel=1e-6)
    assert a.history.step_loss[1] != pytest.approx(b.history.step_loss[1], rel=1e-6)
    assert a.steps == b.steps == 2 * -(-result.sizes["train"] // 32)
    assert 0.8 < b.dev_accuracy <= 1.0  # 10 classes: chance is 0.1
    df = tracking.search_runs().set_index("params.optimizer")
    assert set(df["tags.dll.comparison"]) == {result.comparison}
    assert set(df["status"]) == {"FINISHED"}
    assert df.loc["Adam", "params.lr"] == "0.01" and df.loc["Gradient descent", "params.batch_regime"] == "mini-batch"
    hist = tracking.metric_history(b.run_id, "train_loss")
    assert hist["value"].tolist() == pytest.approx(b.history.step_loss, rel=1e-6)
    assert len(tracking.metric_history(b.run_id, "dev_accuracy")) == 2
    (path, png), = tracking.image_artifacts(b.run_id)
    assert path == "images/loss_curve.png" and png[:4] == b"\x89PNG"


def test_a_diverging_lane_fails_with_the_message_and_the_race_goes_on(fresh_store):
    cfg = RaceConfig(
        dataset="xor",
        optimizers=("Gradient descent", "Adam"),
        learning_rates=(1e6, 0.01),
        epochs=3,
        batch_regime="full batch",
        hidden=(32, 32),
        toy_points=200,
    )
    result = run_race(None, cfg, device=CPU)
    gd, adam = result.lanes
    assert gd.status == "FAILED" and "try a smaller learning rate" in gd.error
    assert adam.status == "FINISHED" and not result.stopped
    df = tracking.search_runs().set_index("params.optimizer")
    assert df.loc["Gradient descent", "status"] == "FAILED"
    assert df.loc["Gradient descent", "tags.dll.error"] == gd.error  # the run records the sentence the page shows


def test_stop_kills_the_current_lane_and_skips_the_rest(fresh_store):
    cfg = RaceConfig(
        dataset="mnist_sample",
        optimizers=("Momentum", "Adam"),
        learning_rates=(0.1, 0.002),
        batch_regime="stochastic",
        epochs=5,
    )
    ctx = StopAfter("Momentum", 50, "optimizers")
    ending = run_job(run_race, ctx, cfg)
    assert ending.status == KILLED  # the job hands back its typed partial outcome
    lanes = ending.result.lanes
    assert ending.result.stopped and [ln.status for ln in lanes] == ["KILLED", "SKIPPED"]
    assert lanes[0].steps >= 50 and lanes[1].outputs["optimizer"] == "Adam"
    df = tracking.search_runs()
    assert df["status"].tolist() == ["KILLED"] and df.iloc[0]["run_id"] == lanes[0].run_id
    assert len(tracking.metric_history(df.iloc[0]["run_id"], "train_loss")) == lanes[0].steps
    assert df.iloc[0]["tags.dll.comparison"] == ending.result.comparison


def test_config_validation():
    with pytest.raises(ValueError, match="one learning rate per optimizer"):
        RaceConfig(optimizers=("Adam",), learning_rates=(0.1, 0.2))
    with pytest.raises(ValueError, match="Optimizers in the race: 'Lion' is not one of"):
        RaceConfig(optimizers=("Lion",), learning_rates=(0.1,))
    with pytest.raises(ValueError, match="Batch regime: 'huge' is not one of"):
        RaceConfig(batch_regime="huge")
    assert RaceConfig(batch_regime="stochastic").effective_batch_size == 1
    assert RaceConfig(batch_regime="full batch").effective_batch_size is None
    assert sum(p.numel() for p in build_mlp(64, (16,), 10).parameters()) == 64 * 16 + 16 + 16 * 10 + 10
