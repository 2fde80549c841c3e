"""Challenges: each goal met by one run and just missed by another; boards per learner and for the class."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core import challenges, tracking
from core.challenges import catalog
from core.identity import NotYours, User

COMPARISON = f"tags.{tracking.TAG_COMPARISON}"
KIND = f"tags.{tracking.TAG_KIND}"


def frame(*runs: dict, owner: str = "local", status: str = "FINISHED") -> pd.DataFrame:
    """Runs shaped as ``tracking.search_runs`` returns them, started one minute apart in the given order."""
    rows = []
    for i, r in enumerate(runs):
        page = r.pop("experiment")
        rows.append({"run_id": r.pop("run_id", f"run{i}"), "experiment": page, "run_name": f"{page} run",
                     "status": r.pop("status", status), "start_time": pd.Timestamp("2026-01-01", tz="UTC")
                     + pd.Timedelta(minutes=i), "owner": r.pop("owner", owner), **r})
    return pd.DataFrame(rows)


def pg(dataset: str, hidden: list[int], **metrics: float) -> dict:
    return {"experiment": "basics", KIND: "playground", "params.dataset": dataset, "params.hidden": json.dumps(hidden),
            **{f"metrics.{k}": v for k, v in metrics.items()}}


def race(opt: str, lr: float, loss: float, comparison: str = "race-1", **more) -> dict:
    return {"experiment": "optimizers", "params.optimizer": opt, "params.lr": str(lr), "metrics.final_dev_loss": loss,
            COMPARISON: comparison, **more}


def reg(lane: str, dev: float, train: float = 0.0, comparison: str = "l2-1", **params) -> dict:
    base = {"lam": "0.0", "keep_prob": "1.0", "batch_norm": "False", "augmentation": "none", "patience": "0",
            "n_train": "200"}
    return {"experiment": "regularization", "params.lane": lane, COMPARISON: comparison,
            "metrics.returned_model_dev_error": dev, "metrics.returned_model_train_error": train,
            **{f"params.{k}": str(v) for k, v in {**base, **params}.items()}}


def cnn(model: str, dataset: str, acc: float, epochs: int = 4, channels: int = 1, size: int = 28) -> dict:
    return {"experiment": "cnn", "params.model": model, "params.dataset": dataset, "params.epochs": str(epochs),
            "params.input.channels": str(channels), "params.input.size": str(size),
            "params.input.classes": json.dumps([str(i) for i in range(10)]), "metrics.final_dev_accuracy": acc}


def style(optimizer: str, content: str = "cat", style_img: str = "wave", weights: str = "random", steps: int = 100) -> dict:
    return {"experiment": "style", "params.optimizer": optimizer, "params.steps": str(steps),
            f"tags.{tracking.TAG_WEIGHTS}": weights, f"tags.{tracking.TAG_CONTENT_IMAGE}": content,
            f"tags.{tracking.TAG_STYLE_IMAGE}": style_img}


def s2s(variant: str, bleu: float, exact: float = 0.5, comparison: str = "seq2seq-1") -> dict:
    return {"experiment": "seq2seq", KIND: "dates", f"tags.{tracking.TAG_VARIANT}": variant, COMPARISON: comparison,
            "metrics.dev_bleu": bleu, "metrics.dev_exact_match": exact}


def tl(weights: str, acc: float, comparison: str = "transfer-1") -> dict:
    return {"experiment": "transfer", f"tags.{tracking.TAG_WEIGHTS}": weights, COMPARISON: comparison,
            "metrics.final_dev_accuracy": acc}


def curve(sizes: list[int], comparison: str = "curve-1") -> list[dict]:
    return [{"experiment": "strategy", "params.train_size": str(m), COMPARISON: comparison} for m in sizes]


def seeded(seed: int, lr: str = "0.03", page: str = "basics") -> dict:
    return {"experiment": page, "params.seed": str(seed), "params.lr": lr, "params.dataset": "xor"}


# (goal id, runs that meet it (the met one is the LAST), runs that just miss it)
CASES = {
    "basics.spirals": ([pg("spirals", [4, 2], test_loss=0.09)], [pg("spirals", [4, 3], test_loss=0.05),
                                                                 pg("spirals", [3, 3], test_loss=0.101)]),
    "basics.circles": ([pg("circles", [], test_accuracy=0.95)], [pg("circles", [], test_accuracy=0.949),
                                                                 pg("circles", [1], test_accuracy=1.0)]),
    "basics.xor": ([pg("xor", [2, 1], test_accuracy=0.96)], [pg("xor", [2, 2], test_accuracy=1.0),
                                                             pg("xor", [3], test_accuracy=0.94)]),
    "optimizers.digits": ([race("Adam", 0.002, 0.1, **{"params.dataset": "digits", "params.epochs": "2",
                                                       "metrics.final_dev_accuracy": 0.95})],
                          [race("Adam", 0.002, 0.1, **{"params.dataset": "digits", "params.epochs": "3",
                                                       "metrics.final_dev_accuracy": 0.99}),
                           race("Adam", 0.002, 0.1, **{"params.dataset": "digits", "params.epochs": "2",
                                                       "metrics.final_dev_accuracy": 0.949})]),
    "optimizers.momentum": ([race("Gradient descent", 0.1, 0.5), race("Momentum", 0.1, 0.49)],
                            [race("Gradient descent", 0.1, 0.5), race("Momentum", 0.1, 0.5),
                             race("Gradient descent", 0.1, 0.5, "race-2"), race("Momentum", 0.05, 0.1, "race-2"),
                             race("Gradient descent", 0.1, 0.5, "race-3"), race("Momentum", 0.1, 0.1, "race-4")]),
    "regularization.twin": ([reg("none", 0.20), reg("L2", 0.19, lam=0.5)],
                            [reg("none", 0.20), reg("L2", 0.20, lam=0.5), reg("none", 0.3, comparison="l2-2"),
                             reg("none again", 0.29, comparison="l2-2"), reg("dropout", 0.1, comparison="l2-3",
                                                                             keep_prob=0.5)]),
    "regularization.gap": ([reg("L2", 0.29, 0.20, lam=1)], [reg("L2", 0.30, 0.25, lam=1), reg("L2", 0.25, 0.149, lam=1),
                                                             reg("L2", 0.2, 0.15, lam=1, n_train=210)]),
    "strategy.f1": ([{"experiment": "strategy", "metrics.f1": 0.95}], [{"experiment": "strategy", "metrics.f1": 0.9499}]),
    "strategy.errors": ([{"experiment": "strategy", f"tags.{tracking.TAG_SUMMARY}.examined": "10"}],
                        [{"experiment": "strategy", f"tags.{tracking.TAG_SUMMARY}.examined": "9"}]),
    "strategy.curve": (curve([50, 100, 200, 400]), curve([50, 100, 200]) + curve([400], "curve-2")),
    "cnn.digits": ([cnn("LeNet-5", "digits", 0.98)], [cnn("Small VGG", "digits", 0.99), cnn("LeNet-5", "digits", 0.979),
                                                      cnn("LeNet-5", "mnist_sample", 0.99)]),
    "cnn.mnist": ([cnn("ResNet-20", "mnist_sample", 0.97, epochs=3)],
                  [cnn("ResNet-20", "mnist_sample", 0.99, epochs=4), cnn("LeNet-5", "mnist_sample", 0.969, epochs=3)]),
    "detection.map": ([{"experiment": "detection", "metrics.map50": 0.5}], [{"experiment": "detection", "metrics.map50": 0.499}]),
    "detection.shapes": ([{"experiment": "detection", "metrics.map50": 0.3, "params.classes": '["a", "b", "c"]'}],
                         [{"experiment": "detection", "metrics.map50": 0.9, "params.classes": '["a", "b"]'},
                          {"experiment": "detection", "metrics.map50": 0.299, "params.classes": '["a", "b", "c"]'}]),
    "faces.auc": ([{"experiment": "faces", "metrics.roc_auc": 0.95}], [{"experiment": "faces", "metrics.roc_auc": 0.949}]),
    "faces.verify": ([{"experiment": "faces", "params.strategy": "semi-hard", "metrics.verify_accuracy": 0.9}],
                     [{"experiment": "faces", "params.strategy": "batch-hard", "metrics.verify_accuracy": 0.99},
                      {"experiment": "faces", "params.strategy": "semi-hard", "metrics.verify_accuracy": 0.899}]),
    "style.pretrained": ([style("L-BFGS", weights="imagenet")], [style("L-BFGS", weights="imagenet", steps=90),
                                                                  style("L-BFGS", weights="random", steps=500)]),
    "style.optimizers": ([style("L-BFGS"), style("Adam")], [style("L-BFGS"), style("Adam", style_img="other"),
                                                            style("L-BFGS", content="dog")]),
    "style.reconstruct": ([{"experiment": "style", KIND: "reconstruction"}],
                          [{"experiment": "style", KIND: "reconstruction", "status": "KILLED"}]),
    "transfer.frozen": ([tl("imagenet", 0.9)], [tl("imagenet", 0.899), tl("random", 1.0)]),
    "transfer.scratch": ([tl("random", 0.7), tl("imagenet", 0.71)],
                         [tl("random", 0.7), tl("imagenet", 0.7), tl("random", 0.2, "t-2"), tl("imagenet", 0.9, "t-3")]),
    "rnn.charlm": ([{"experiment": "rnn", KIND: "char-lm", "metrics.unigram_entropy": 3.0,
                     "metrics.dev_perplexity": 2.718281828 ** 3 / 2}],
                   [{"experiment": "rnn", KIND: "char-lm", "metrics.unigram_entropy": 3.0,
                     "metrics.dev_perplexity": 2.718281828 ** 3 / 2 + 0.01}]),
    "rnn.bidirectional": ([{"experiment": "rnn", KIND: "bidirectional", "params.direction": "bidirectional",
                            "metrics.dev_accuracy": 0.9, "metrics.unidirectional_ceiling": 0.89}],
                          [{"experiment": "rnn", KIND: "bidirectional", "params.direction": "bidirectional",
                            "metrics.dev_accuracy": 0.89, "metrics.unidirectional_ceiling": 0.89},
                           {"experiment": "rnn", KIND: "bidirectional", "params.direction": "unidirectional",
                            "metrics.dev_accuracy": 0.95, "metrics.unidirectional_ceiling": 0.89}]),
    "seq2seq.dates": ([s2s("attention", 90, exact=0.9)], [s2s("attention", 99, exact=0.899)]),
    "seq2seq.attention": ([s2s("no attention", 80), s2s("attention", 80.5)],
                          [s2s("no attention", 80), s2s("attention", 80), s2s("attention", 99, comparison="s-2")]),
    "generative.ring": ([{"experiment": "generative", KIND: "toy", "params.kind": "ring", "metrics.final_modes_covered": 8}],
                        [{"experiment": "generative", KIND: "toy", "params.kind": "ring", "metrics.final_modes_covered": 7},
                         {"experiment": "generative", KIND: "toy", "params.kind": "grid", "metrics.final_modes_covered": 25}]),
    "generative.digits": ([{"experiment": "generative", KIND: "gan", "metrics.classes_covered": 10}],
                          [{"experiment": "generative", KIND: "gan", "metrics.classes_covered": 9},
                           {"experiment": "generative", KIND: "vae", "metrics.classes_covered": 10}]),
    "runs.pages": ([{"experiment": p} for p in ("basics", "cnn", "rnn", "faces", "style")],
                   [{"experiment": p} for p in ("basics", "cnn", "rnn", "faces", "faces")]
                   + [{"experiment": "style", "status": "FAILED"}]),
    "runs.seeds": ([seeded(0), seeded(1), seeded(2)], [seeded(0), seeded(1), seeded(1), seeded(2, lr="0.1")]),
}


def test_every_goal_has_a_case_and_every_page_two_to_four_goals():
    assert set(CASES) == {g.id for g in catalog.GOALS}
    pages = ["basics", "optimizers", "regularization", "strategy", "cnn", "detection", "faces", "style", "transfer",
             "rnn", "seq2seq", "generative", "runs"]
    assert challenges.pages() == pages
    assert all(2 <= len(challenges.goals(p)) <= 4 for p in pages)
    with pytest.raises(ValueError, match="no challenges for page"):
        challenges.goals("nowhere")


@pytest.mark.parametrize("goal_id", sorted(CASES))
def test_a_run_that_meets_the_goal_and_one_that_just_misses(goal_id):
    goal = next(g for g in catalog.GOALS if g.id == goal_id)
    meets, misses = CASES[goal_id]
    met = frame(*[dict(r) for r in meets])
    assert goal.check(met) == met["run_id"].iloc[-1]
    assert goal.check(frame(*[dict(r) for r in misses])) is None
    # the first run that meets it is named, also when a later one meets it again
    twice = frame(*[dict(r) for r in meets], *[{**dict(r), "run_id": f"again{i}"} for i, r in enumerate(meets)])
    assert goal.check(twice) == met["run_id"].iloc[-1]
    # only FINISHED runs count
    assert goal.check(frame(*[dict(r) for r in meets], status="KILLED")) is None


def test_an_empty_store_meets_nothing():
    table = challenges.check(frame())
    assert len(table) == len(catalog.GOALS) and (table["run_id"] == "").all()


def test_the_cnn_parameter_count_is_lenet5s_by_hand():
    # LeNet-5 on 1×28×28, padding 2: conv 6·(5·5+1) + conv 16·(6·25+1) + 400·120+120 + 120·84+84 + 84·10+10
    by_hand = 6 * 26 + 16 * 151 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    assert catalog.cnn_parameters("LeNet-5", 1, 28, 10) == by_hand == 61_706
    assert catalog.cnn_parameters("Small VGG", 1, 28, 10) >= catalog.CNN_PARAMETER_LIMIT  # only LeNet-5 fits


def _log(page: str, params: dict, metrics: dict, tags: dict, owner: str, monkeypatch) -> str:
    monkeypatch.setenv("DLL_RUN_OWNER", owner)
    with tracking.start_run(page, params, tags=tags) as run:
        run.log_metrics(metrics, 1)
    return run.run_id


def test_boards_from_real_runs_keep_learners_apart(fresh_store, monkeypatch):
    ada, bob = User("ada@school.example", "Ada"), User("bob@school.example", "Bob")
    teacher = User("t@school.example", "T", instructor=True)
    spirals = {"dataset": "spirals", "hidden": (3, 3)}
    tags = {tracking.TAG_KIND: "playground"}
    ada_run = _log("basics", spirals, {"test_loss": 0.05}, tags, ada.id, monkeypatch)
    _log("basics", {**spirals, "hidden": (4, 3)}, {"test_loss": 0.01}, tags, bob.id, monkeypatch)  # 7 neurons: misses
    bob_run = _log("generative", {"kind": "ring"}, {"final_modes_covered": 8}, {tracking.TAG_KIND: "toy"}, bob.id,
                   monkeypatch)

    ada_board = challenges.board(ada).set_index("goal")
    assert ada_board.at["basics.spirals", "run_id"] == ada_run
    assert ada_board.at["generative.ring", "run_id"] == ""  # Bob's run never counts for Ada
    bob_board = challenges.board(bob).set_index("goal")
    assert bob_board.at["basics.spirals", "run_id"] == "" and bob_board.at["generative.ring", "run_id"] == bob_run

    with pytest.raises(NotYours):
        challenges.class_board(ada)
    whole = challenges.class_board(teacher)
    met = whole[whole["run_id"] != ""]
    assert sorted(zip(met["learner"], met["goal"], met["run_id"], strict=True)) == [
        (ada.id, "basics.spirals", ada_run), (bob.id, "generative.ring", bob_run)]
    assert set(whole["learner"]) == {ada.id, bob.id}
    assert (challenges.board(teacher)["run_id"] == "").all()  # the instructor's own board: their own runs only
    counts = challenges.progress(challenges.board(ada)).set_index("page")
    assert counts.at["basics", "met"] == 1 and counts.at["basics", "total"] == 3 and counts["met"].sum() == 1
