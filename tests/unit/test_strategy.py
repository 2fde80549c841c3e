"""ML strategy core: diagnosis, split planning, precision/recall/F1 against scikit-learn,
error tallies, satisficing selection, and the data-mismatch demo (real, tiny training)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_recall_curve, precision_score, recall_score

from core.runs import COMPARISON_TAG
from core.strategy import diagnose, plan_split
from core.strategy import diagnosis as D
from core.strategy import errors as EA
from core.strategy import experiments as X
from core.strategy import metrics as M
from core.strategy import mismatch as MM
from core.strategy import orthogonal as O
from core.strategy import splits as S
from core.strategy.splits import DEV_TARGET, dev_share
from tests.contexts import StopAfter
from tests.plain import assert_plain

# ------------------------------------------------------------------------------ diagnose


@pytest.mark.parametrize(
    ("train", "dev", "verdict", "bias", "variance"),
    [
        (0.01, 0.11, "high variance", 0.01, 0.10),
        (0.15, 0.16, "high bias", 0.15, 0.01),
        (0.15, 0.30, "high bias and high variance", 0.15, 0.15),
        (0.005, 0.01, "well fitted", 0.005, 0.005),
    ],
)
def test_the_course_cases(train, dev, verdict, bias, variance):
    d = diagnose(train, dev, 0.0)
    assert d["avoidable_bias"] == pytest.approx(bias) and d["variance"] == pytest.approx(variance)
    assert d["verdict"] == verdict
    assert d["high_bias"] == ("bias" in verdict) and d["high_variance"] == ("variance" in verdict and "low" not in verdict)
    advice = " ".join(d["advice"]).lower()
    assert ("bigger network" in advice) == d["high_bias"] and ("train longer" in advice) == d["high_bias"]
    assert ("optimization algorithm" in advice) == d["high_bias"]
    assert ("more training data" in advice) == d["high_variance"] and ("regularization" in advice) == d["high_variance"]
    assert ("different network architecture" in advice) == d["high_variance"]
    if verdict == "well fitted":
        assert d["advice"] == [D.WELL_FITTED]


def test_course_presets_match_the_cases():
    for train, dev, verdict in D.COURSE_CASES.values():
        assert diagnose(train, dev, 0.0)["verdict"] == verdict


def test_human_level_moves_the_bias():
    # 15 % training error is high bias against 0 % humans, but fine against 14 % humans
    assert diagnose(0.15, 0.16, 0.0)["verdict"] == "high bias"
    d = diagnose(0.15, 0.16, 0.14)
    assert d["avoidable_bias"] == pytest.approx(0.01) and d["verdict"] == "well fitted"


def test_large_is_relative_and_absolute():
    d = diagnose(0.10, 0.13, 0.0)  # variance 3 points: above the threshold but small next to 10 points of bias
    assert d["verdict"] == "high bias" and any("Variance" in n for n in d["notes"])
    assert D.is_large(D.LARGE_GAP, 0.0) and not D.is_large(D.LARGE_GAP * 0.99, 0.0)
    assert not D.is_large(0.05, 0.11) and D.is_large(0.05, 0.10)


def test_edge_values():
    d = diagnose(0.0, 0.0, 0.0)
    assert d["avoidable_bias"] == 0 and d["variance"] == 0 and d["verdict"] == "well fitted"
    d = diagnose(1.0, 1.0, 0.0)
    assert d["verdict"] == "high bias"
    d = diagnose(0.02, 0.01, 0.05)  # better than humans, dev better than train
    assert d["avoidable_bias"] == pytest.approx(-0.03) and d["variance"] == pytest.approx(-0.01)
    assert len(d["notes"]) == 2 and d["verdict"] == "well fitted"


@pytest.mark.parametrize(
    ("args", "words"),
    [((15, 0.2, 0.0), "percentage"), ((-0.1, 0.2, 0.0), "between 0 and 1"), ((0.1, float("nan"), 0.0), "dev error"),
     ((0.1, 0.2, "a"), "human-level error"), ((True, 0.2, 0.0), "number"), ((0.1, 1.5, 0.0), "between 0 and 1")],
)
def test_invalid_inputs_have_plain_messages(args, words):
    with pytest.raises(ValueError, match=words):
        diagnose(*args)


def test_mismatch_breakdown_and_waterfall_levels():
    parts = D.mismatch_breakdown(0.01, 0.015, 0.10, 0.0)
    assert parts == pytest.approx({"avoidable_bias": 0.01, "variance": 0.005, "data_mismatch": 0.085})
    levels, gaps = D.waterfall_levels(0.0, 0.01, 0.10, train_dev=0.015)
    assert [v for _, v in levels] == [0.0, 0.01, 0.015, 0.10] and len(gaps) == 3


def test_runs_with_errors_fills_one_minus_accuracy():
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "experiment": ["x"] * 3, "run_name": ["r1", "r2", "r3"],
                         "status": ["FINISHED"] * 3, "metrics.final_train_accuracy": [0.99, None, 0.8],
                         "metrics.final_dev_accuracy": [0.9, 0.5, 0.7]})
    t = D.runs_with_errors(runs)
    assert list(t["run_id"]) == ["a", "c"]
    assert t["train_error"].tolist() == pytest.approx([0.01, 0.2]) and t["dev_error"].tolist() == pytest.approx([0.1, 0.3])
    assert D.runs_with_errors(pd.DataFrame({"run_id": ["a"]})).empty


# ------------------------------------------------------------------------ split planning


@pytest.mark.parametrize("n", [1_000, 5_000, 20_000, 50_000])
def test_thousands_get_60_20_20(n):
    p = plan_split(n)
    assert (p.train, p.dev, p.test) == (int(0.6 * n), int(0.2 * n), int(0.2 * n))


@pytest.mark.parametrize("n", [1_000_000, 2_000_000, 50_000_000])
def test_millions_get_98_1_1(n):
    p = plan_split(n)
    assert p.ratios == pytest.approx((0.98, 0.01, 0.01))


@pytest.mark.parametrize("n", [3, 7, 101, 999, 12_345, 77_777, 250_000, 999_999, 3_141_593, 10**10])
def test_counts_sum_to_n_and_dev_equals_test(n):
    p = plan_split(n)
    assert p.train + p.dev + p.test == n and p.dev == p.test >= 1 and p.train >= 1


def test_in_between_dev_and_test_stay_at_the_target_and_shares_are_smooth():
    assert plan_split(100_000).dev == DEV_TARGET and plan_split(500_000).test == DEV_TARGET
    ns = np.unique(np.logspace(1, 9, 400).astype(int))
    shares = np.array([dev_share(int(k)) for k in ns])
    assert np.all(np.diff(shares) <= 1e-12)  # never grows with n
    assert np.max(np.abs(np.diff(shares))) < 0.01  # no jumps at the joins


@pytest.mark.parametrize("bad", [0, 2, -5, 2.5, "1000", True])
def test_split_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="dataset size"):
        plan_split(bad)


# ------------------------------------------------------------- precision / recall / F1


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = np.clip(0.35 * y + rng.normal(0.35, 0.25, 300), 0, 1)
    return y, scores


@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.3, 0.5, 0.62, 0.9, 1.0, 1.5])
def test_precision_recall_f1_match_sklearn(scored, threshold):
    y, s = scored
    m = M.precision_recall_f1(y, s, threshold)
    pred = (s >= threshold).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
    assert m["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
    assert m["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == len(y)


def test_pr_curve_matches_sklearn(scored):
    y, s = scored
    s = np.round(s, 2)  # ties, as real scores have
    c = M.pr_curve(y, s)
    p_ref, r_ref, t_ref = precision_recall_curve(y, s)
    ref = {round(t, 10): (p, r) for p, r, t in zip(p_ref[:-1], r_ref[:-1], t_ref, strict=True)}
    assert sorted(ref) == [round(t, 10) for t in c["threshold"]]  # every distinct score is a threshold
    for t, p, r, f in zip(c["threshold"], c["precision"], c["recall"], c["f1"], strict=True):
        assert (p, r) == pytest.approx(ref[round(t, 10)])
        assert f == pytest.approx(f1_score(y, (s >= t).astype(int), zero_division=0))
    best = M.best_f1_threshold(c)
    assert M.precision_recall_f1(y, s, best)["f1"] == pytest.approx(c["f1"].max())


def test_metric_inputs_are_checked():
    with pytest.raises(ValueError, match="0 \\(negative\\) or 1"):
        M.precision_recall_f1([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels but"):
        M.precision_recall_f1([0, 1], [0.1])


BAD_LABELS = [
    [0.2, 0.7, 1.0, 0.0],  # continuous: sklearn "can't handle a mix of continuous and binary targets"
    [0.0, 0.5, 1.0, 1.0],
    [0.0, 1.0, 1.0, 0.999],
    [float("nan"), 1.0, 0.0, 1.0],  # sklearn: "Input y_true contains NaN"
    [0.0, 1.0, float("inf"), 0.0],
    [0, 2, 1, 0],  # multiclass
]


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # sklearn casting NaN/inf
@pytest.mark.parametrize("labels", BAD_LABELS)
def test_continuous_or_non_binary_labels_are_refused_as_sklearn_refuses_them(labels):
    y = np.array(labels)
    s = np.array([0.1, 0.6, 0.9, 0.4])
    # The references: scikit-learn raises ValueError for each of these.
    with pytest.raises(ValueError):
        precision_score(y, (s >= 0.5).astype(int), zero_division=0)
    with pytest.raises(ValueError):
        precision_recall_curve(y, s)
    for call in (lambda: M.precision_recall_f1(y, s, 0.5), lambda: M.pr_curve(y, s), lambda: M._binary_inputs(y, s),
                 lambda: M.precision_recall_f1(list(labels), list(s)),
                 lambda: M.confusion_caption(y, 1, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})):
        with pytest.raises(ValueError, match="0/1 class labels|0 \\(negative\\) or 1"):
            call()


def test_continuous_labels_get_a_plain_message():
    with pytest.raises(ValueError, match=r"labels must be 0/1 class labels, got continuous values \(e.g. 0.2\)"):
        M.precision_recall_f1([0.2, 0.7, 1.0], [0.1, 0.6, 0.9])
    with pytest.raises(ValueError, match="labels must be 0/1 class labels, got NaN"):
        M.pr_curve([float("nan"), 1.0], [0.1, 0.6])


@pytest.mark.parametrize("as_labels", [lambda y: y.astype(float), lambda y: y.astype(np.float32), lambda y: y.astype(bool),
                                       lambda y: [float(v) for v in y]],
                         ids=["float64", "float32", "bool", "list of floats"])
def test_float_labels_that_are_exactly_0_or_1_match_sklearn(scored, as_labels):
    y_int, s = scored
    y = as_labels(y_int)
    for threshold in (0.3, 0.5, 0.62):
        m = M.precision_recall_f1(y, s, threshold)
        pred = (s >= threshold).astype(int)
        assert m["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
        assert m["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
        assert m["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
    s = np.round(s, 2)
    c = M.pr_curve(y, s)
    p_ref, r_ref, t_ref = precision_recall_curve(y, s)
    ref = {round(t, 10): (p, r) for p, r, t in zip(p_ref[:-1], r_ref[:-1], t_ref, strict=True)}
    assert sorted(ref) == [round(t, 10) for t in c["threshold"]]
    for t, p, r in zip(c["threshold"], c["precision"], c["recall"], strict=True):
        assert (p, r) == pytest.approx(ref[round(t, 10)])
    assert M.confusion_caption(y, 1, M.precision_recall_f1(y, s)).startswith(f"Dev set: {len(y_int)} digits, {y_int.sum()} of")


# ------------------------------------------------------------------------ satisficing


def test_satisficing_picks_the_most_accurate_run_within_the_limit():
    table = pd.DataFrame({
        "run_id": ["small", "medium", "large", "huge", "tie-fast"],
        "run_name": ["16", "64", "256", "1024", "64b"],
        "dev_accuracy": [0.80, 0.92, 0.95, 0.97, 0.92],
        "ms_per_example": [0.001, 0.004, 0.010, 0.050, 0.003],
    })
    _, chosen = M.select_satisficing(table, 0.02)
    assert chosen == "large"
    _, chosen = M.select_satisficing(table, 0.005)
    assert chosen == "tie-fast"  # equal accuracy: the faster one
    ranked, chosen = M.select_satisficing(table, 1.0)
    assert chosen == "huge" and ranked["feasible"].all()
    ranked, chosen = M.select_satisficing(table, 0.0005)
    assert chosen is None and not ranked["feasible"].any()
    with pytest.raises(ValueError, match="limit"):
        M.select_satisficing(table, -1)


def test_candidate_runs_keep_finished_runs_with_both_metrics():
    runs = pd.DataFrame({"run_id": list("abcd"), "experiment": ["e"] * 4, "run_name": list("ABCD"),
                         "status": ["FINISHED", "FINISHED", "FAILED", "FINISHED"],
                         M.ACCURACY: [0.9, None, 0.8, 0.7], M.TIME: [0.01, 0.02, 0.03, 0.04]})
    assert M.candidate_runs(runs)["run_id"].tolist() == ["a", "d"]
    assert M.candidate_runs(pd.DataFrame(columns=["run_id"])).empty


def test_candidate_scopes_pick_experiments_and_candidate_groups():
    runs = pd.DataFrame({"run_id": list("abc"), "experiment": ["strategy", "strategy", "optimizers"],
                         "run_name": list("ABC"), "status": ["FINISHED"] * 3, M.ACCURACY: [0.9, 0.8, 0.7],
                         M.TIME: [0.01, 0.02, 0.03], COMPARISON_TAG: ["candidates-1", None, "race-2"]})
    cands = M.candidate_runs(runs)
    scopes = M.candidate_scopes(cands)
    assert scopes == [M.ALL, "experiment: optimizers", "experiment: strategy", "comparison: candidates-1"]
    assert M.in_scope(cands, "comparison: candidates-1")["run_id"].tolist() == ["a"]
    assert M.in_scope(cands, "experiment: strategy")["run_id"].tolist() == ["a", "b"]
    assert len(M.in_scope(cands, M.ALL)) == 3
    with pytest.raises(ValueError, match="scope"):
        M.in_scope(cands, "nonsense")


# ---------------------------------------------------------------------- error analysis


def _examples(k):
    return [{"example": i + 1, "true": "3", "predicted": "8", "confidence": 0.9, "index": i} for i in range(k)]


def test_tally_shares_and_ceiling():
    cats = EA.BUILTIN_CATEGORIES
    table = EA.tag_table(_examples(10), cats)
    table.loc[[0, 1, 2, 3], "blurry/ambiguous"] = True
    table.loc[[3, 4], "mislabelled"] = True
    counts = EA.tally(table, cats, dev_error=0.08)
    row = counts.set_index("category")
    assert counts["category"].iloc[0] == "blurry/ambiguous"  # largest share first
    assert row.loc["blurry/ambiguous", "errors"] == 4 and row.loc["blurry/ambiguous", "share"] == pytest.approx(0.4)
    assert row.loc["mislabelled", "share"] == pytest.approx(0.2)
    assert row.loc["blurry/ambiguous", "ceiling"] == pytest.approx(0.08 * 0.6)
    assert row.loc["unusual stroke", "errors"] == 0 and row.loc["unusual stroke", "ceiling"] == pytest.approx(0.08)
    assert EA.untagged(table, cats) == 5
    text = EA.ceiling_sentence(counts.iloc[0], 0.08)
    assert "Fixing all 4 errors" in text and "8.0%" in text and "4.8%" in text


def test_categories_are_added_and_ticks_survive():
    cats = EA.add_category(EA.BUILTIN_CATEGORIES, "  thick   stroke ")
    assert cats[-1] == "thick stroke"
    for bad, words in (("", "type a name"), ("Mislabelled", "already"), ("true", "already"), ("x" * 41, "at most")):
        with pytest.raises(ValueError, match=words):
            EA.add_category(cats, bad)
    old = EA.tag_table(_examples(3), EA.BUILTIN_CATEGORIES)
    old.loc[1, "mislabelled"] = True
    new = EA.tag_table(_examples(3), cats, previous=old)
    assert new["mislabelled"].tolist() == [False, True, False] and not new["thick stroke"].any()
    csv = EA.tags_csv(new)
    back = pd.read_csv(__import__("io").StringIO(csv))
    assert list(back.columns) == [*EA.FIXED_COLUMNS, *cats] and back["mislabelled"].tolist() == [False, True, False]
    tags = EA.summary_tag(EA.tally(new, cats, 0.1), len(new))
    assert tags[EA.TAG_SUMMARY] == "mislabelled: 1 of 3"


def test_tally_rejects_a_bad_dev_error():
    with pytest.raises(ValueError, match="dev error"):
        EA.tally(EA.tag_table(_examples(2), ["a"]), ["a"], 1.5)


# ------------------------------------------------------------------------- configs


def test_parse_sizes_and_config_messages():
    assert X.parse_sizes("400, 25 50;100 50") == (25, 50, 100, 400)
    for bad, words in (("", "at least one"), ("10, x", "whole numbers"), ("2, 10", "at least 5"),
                       (",".join(str(10 + i) for i in range(11)), "at most")):
        with pytest.raises(ValueError, match=words):
            X.parse_sizes(bad)
    with pytest.raises(ValueError, match="^Dataset to analyse: 'cifar10' is not one of digits, mnist_sample$"):
        X.ErrorModelConfig(dataset="cifar10")
    with pytest.raises(ValueError, match="^Learning rate must be above 0"):
        X.BinaryConfig(lr=0)
    with pytest.raises(ValueError, match="^Toy data set: 'digits' is not one of"):
        MM.MismatchConfig(dataset="digits")


def test_upscale_makes_a_padded_dark_on_white_tile():
    img = np.zeros((8, 8), np.float32)
    img[2, 3] = 1.0  # one bright (ink) pixel
    tile = X.upscale(img, 64, pad=4)
    assert tile.shape == (72, 72) and tile.dtype == np.uint8
    assert tile[:4].min() == 255 and tile[4 + 2 * 8, 4 + 3 * 8] == 0 and tile[4, 4] == 255


def test_shift_points_is_a_rotation_then_a_shift():
    X0 = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
    out = MM.shift_points(X0, 90.0, 0.5)
    assert out == pytest.approx(np.array([[0.5, 1.0], [-1.5, 0.0]]), abs=1e-6)


# ------------------------------------------------------ data mismatch (real training)


def test_mismatch_demo_shows_the_mismatch_gap(fresh_store):
    from core import tracking

    cfg = MM.MismatchConfig(n_train=300, n_train_dev=150, n_dev=150, rotation=60, shift=0.4, epochs=15)
    res = MM.run_mismatch(None, cfg)
    e = res.errors
    assert res.status == "FINISHED" and res.grid is not None
    assert e["dev"] > e["train_dev"] + 0.05  # the shifted dev set is much harder than held-out training data
    assert e["train"] < 0.1 and e["train_dev"] < 0.12
    runs = tracking.search_runs()
    row = runs.iloc[0]
    assert row["run_id"] == res.run_id and row["experiment"] == "strategy"
    assert row["metrics.data_mismatch"] == pytest.approx(e["dev"] - e["train_dev"])
    assert row["metrics.final_dev_accuracy"] == pytest.approx(1 - e["dev"])


def test_no_shift_means_no_mismatch(fresh_store):
    cfg = MM.MismatchConfig(n_train=300, n_train_dev=200, n_dev=200, rotation=0, shift=0, epochs=15)
    e = MM.run_mismatch(None, cfg).errors
    assert abs(e["dev"] - e["train_dev"]) < 0.05


# ----------------------------------------------------- the page's jobs (real, tiny training)

JOBS = {  # each job function with a tiny config, and the live series whose first rows press Stop
    "mismatch": (MM.run_mismatch, MM.MismatchConfig(n_train=60, n_train_dev=20, n_dev=20, hidden=(8,), epochs=3,
                                                    batch_size=16), "mismatch"),
    "curves": (X.run_learning_curves, X.LearningCurveConfig(sizes=(20, 60), hidden=(16,), steps=10), "m = 20"),
    "binary": (X.run_binary, X.BinaryConfig(hidden=(8,), epochs=2), "is it a 3?"),
    "candidates": (X.run_candidates, X.CandidatesConfig(architectures=((8,), (16,)), epochs=2), "8"),
    "errors": (X.run_error_model, X.ErrorModelConfig(hidden=(8,), epochs=2, max_examples=5), "classifier"),
}


@pytest.mark.parametrize("job", list(JOBS))
def test_every_job_takes_and_returns_plain_data_finished_and_stopped(job, fresh_store):
    from core.jobs import FINISHED, KILLED, Recorder, run_job

    fn, cfg, first = JOBS[job]
    assert assert_plain(cfg, "config") == cfg
    ending = run_job(fn, Recorder(f"strategy.{job}"), cfg)
    assert ending.status == FINISHED, ending.error
    result = assert_plain(ending.result)
    assert not result.stopped
    stopped = run_job(fn, StopAfter(first, 1, f"strategy.{job}"), cfg)  # Stop during the first lane
    assert stopped.status == KILLED
    partial = assert_plain(stopped.result)
    assert partial.stopped
    if job in ("curves", "candidates"):
        assert [ln.status for ln in result.lanes] == ["FINISHED", "FINISHED"]
        assert [ln.status for ln in partial.lanes] == ["KILLED", "SKIPPED"]
    else:
        assert result.status == "FINISHED" and partial.status == "KILLED" and partial.run_id
    if job == "mismatch":
        assert set(result.errors) == {"train", "train_dev", "dev"} and result.grid[2].shape == (90, 90)
        assert partial.errors == {} and partial.grid is None  # the page then shows the data alone
    if job == "curves":
        assert [p["size"] for p in result.points] == [20, 60] and partial.points == []
    if job == "binary":
        assert len(result.y_true) == len(result.scores) > 0 and len(partial.y_true) == 0
    if job == "errors":
        assert X.analysable(result) and not X.analysable(partial) and len(result.images) == len(result.examples)
        from core import tracking

        tiles = dict(tracking.image_artifacts(result.run_id))  # the mistakes tiled by core.artifacts.image_grid
        assert "images/misclassified_dev_examples.png" in tiles


def test_learning_curve_points_are_the_runs_final_errors_and_a_stop_keeps_them(fresh_store):
    from core import tracking
    from core.jobs import KILLED, Recorder, run_job

    cfg = X.LearningCurveConfig(sizes=(20, 60, 200), hidden=(16,), steps=30, batch_size=16)
    ctx = Recorder("strategy.curves")
    result = X.run_learning_curves(ctx, cfg)
    runs = tracking.search_runs().set_index("run_id")
    assert set(runs["tags.dll.comparison"]) == {result.comparison} and result.comparison.startswith("curve-")
    for point, lane in zip(result.points, result.lanes, strict=True):
        run = runs.loc[point["run_id"]]
        assert point["run_id"] == lane.run_id and run["params.train_size"] == str(point["size"])
        assert point["train_error"] == pytest.approx(1 - run["metrics.final_train_accuracy"])
        assert point["dev_error"] == pytest.approx(1 - run["metrics.final_dev_accuracy"])
        per_epoch = -(-point["size"] // 16)
        assert lane.steps == -(-30 // per_epoch) * per_epoch  # whole epochs of at least 30 steps for every size
    live = ctx.snapshot().metrics["learning_curve"]
    assert [(r["size"], r["train_error"], r["dev_error"]) for r in live] == [
        (p["size"], p["train_error"], p["dev_error"]) for p in result.points]

    ending = run_job(X.run_learning_curves, StopAfter("m = 60", 1, "strategy.curves"), cfg)
    assert ending.status == KILLED
    part = ending.result
    assert [ln.status for ln in part.lanes] == ["FINISHED", "KILLED", "SKIPPED"]
    assert part.points == [{**result.points[0], "run_id": part.lanes[0].run_id}]  # same seed, same numbers


def test_binary_scores_give_the_precision_and_recall_the_run_logged(fresh_store):
    from sklearn.metrics import f1_score as f1

    from core import tracking

    result = X.run_binary(None, X.BinaryConfig(hidden=(8,), epochs=2))
    run = tracking.search_runs().set_index("run_id").loc[result.run_id]
    pred = (result.scores >= 0.5).astype(int)
    assert run["metrics.precision"] == pytest.approx(precision_score(result.y_true, pred, zero_division=0))
    assert run["metrics.recall"] == pytest.approx(recall_score(result.y_true, pred))
    assert run["metrics.f1"] == pytest.approx(f1(result.y_true, pred))
    assert set(np.unique(result.y_true)) == {0, 1} and result.positive == 3


def test_candidates_are_one_comparison_the_satisficing_choice_reads(fresh_store):
    from core import tracking

    result = X.run_candidates(None, X.CandidatesConfig(architectures=((8,), (32,)), epochs=2))
    assert result.comparison.startswith(M.CANDIDATE_PREFIX) and [ln.name for ln in result.lanes] == ["8", "32"]
    runs = tracking.search_runs()
    cands = M.candidate_runs(runs)
    assert sorted(cands["run_id"]) == sorted(ln.run_id for ln in result.lanes)
    assert M.newest_candidate_scope(M.candidate_scopes(cands)) == f"comparison: {result.comparison}"
    by_id = runs.set_index("run_id")
    for lane in result.lanes:
        assert by_id.loc[lane.run_id, "metrics.final_dev_accuracy"] == pytest.approx(lane.dev_accuracy)


# ------------------------------------------------- what the page shows (moved out of the page)


def test_preset_labels_and_percent_fields():
    labels = [D.preset_label(name, tr, dv) for name, (tr, dv, _) in D.COURSE_CASES.items()]
    assert labels == ["High variance (1% / 11%)", "High bias (15% / 16%)", "High bias and high variance (15% / 30%)",
                      "Low bias, low variance (0.5% / 1%)"]
    assert D.percent_fields(0.01, 0.11, 0.0) == {"train_pct": 1.0, "dev_pct": 11.0, "human_pct": 0.0}
    assert D.percent_fields(0.123456, 0.5) == {"train_pct": 12.346, "dev_pct": 50.0}
    assert D.DEFAULT_PERCENTS == {"human_pct": 0.0, "train_pct": 15.0, "dev_pct": 16.0}
    assert D.pct(0.1234) == "12.3%"


def test_diagnose_percent_names_every_bad_field():
    d = D.diagnose_percent(0, 15, 16)
    assert d["verdict"] == "high bias" and d["avoidable_bias"] == pytest.approx(0.15) and d["variance"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="^The training error must be a percentage between 0 and 100$"):
        D.diagnose_percent(0, 150, 16)
    with pytest.raises(ValueError, match="^The human-level and dev error must be"):
        D.diagnose_percent(-1, 15, float("nan"))
    levels, gaps = D.percent_waterfall(1, 5, 10)
    assert [name for name, _ in levels] == ["Human-level", "Training", "Dev"] and gaps == ["avoidable bias", "variance"]
    assert [v for _, v in levels] == pytest.approx([0.01, 0.05, 0.10])


def test_gap_cards_and_advice_markdown():
    assert D.gap_cards(diagnose(0.15, 0.16, 0.0)) == [("Avoidable bias", "15.00 pp"), ("Variance", "1.00 pp")]
    assert D.advice_markdown(diagnose(0.01, 0.11, 0.0)) == (
        "**What to try**\n- Get more training data.\n- Add regularization (L2, dropout, data augmentation).\n"
        "- Try a different network architecture.")


def test_run_labels_and_run_errors():
    runs = pd.DataFrame({"run_id": ["a1234567890", "c"], "experiment": ["x", "y"], "run_name": ["r1", "r3"],
                         "status": ["FINISHED"] * 2, "metrics.final_train_accuracy": [0.99, 0.8],
                         "metrics.final_dev_accuracy": [0.9, 0.7]})
    table = D.runs_with_errors(runs)
    assert D.error_run_labels(table) == {"a1234567890": "x · r1 · train 1.0%, dev 10.0% · a1234567",
                                   "c": "y · r3 · train 20.0%, dev 30.0% · c"}
    train, dev, label = D.run_errors(table, "c")
    assert (train, dev) == pytest.approx((0.2, 0.3)) and label == "y · r3 · train 20.0%, dev 30.0% · c"
    assert D.run_errors(table, "nope") is None and D.run_errors(table, None) is None


def test_largest_gap_advice_and_mismatch_report():
    text = D.largest_gap_advice({"avoidable_bias": 0.01, "variance": 0.05, "data_mismatch": 0.02})
    assert text == "Largest gap: **variance** (5.0%). Use the basic recipe in the next tab."
    rep = D.mismatch_report({"train": 0.01, "train_dev": 0.015, "dev": 0.10}, 0.5)
    assert rep.cards == [("Training error", "1.0%"), ("Train-dev error", "1.5%"), ("Dev error", "10.0%"),
                         ("Data mismatch", "8.5%")]
    assert [v for _, v in rep.levels] == pytest.approx([0.005, 0.01, 0.015, 0.10])
    assert rep.gaps == ["avoidable bias", "variance", "data mismatch"]
    assert rep.advice.startswith("Largest gap: **data mismatch** (8.5%). Fix it by making training data more like")


def test_split_rows_cards_caption_and_curve():
    assert S.split_rows(plan_split(10_000)) == [{"set": "train", "examples": 6000, "share": 0.6},
                                                {"set": "dev", "examples": 2000, "share": 0.2},
                                                {"set": "test", "examples": 2000, "share": 0.2}]
    assert S.split_table(plan_split(10_000)).to_csv(index=False) == "set,examples,share\ntrain,6000,0.6\ndev,2000,0.2\ntest,2000,0.2\n"
    assert S.split_cards(plan_split(5_000_000)) == [("Train", "4,900,000", "98.0% of the data"),
                                                    ("Dev", "50,000", "1.0% of the data"), ("Test", "50,000", "1.0% of the data")]
    assert S.rule_caption(plan_split(1_000)).startswith("Rule: small data: 60/20/20. Dev and test each get")
    ns, shares = S.share_curve()
    assert ns[0] == 100 and ns[-1] == 10**9 and np.all(np.diff(ns) > 0) and len(ns) == len(shares)
    assert shares[0] == pytest.approx((0.6, 0.2, 0.2)) and shares[-1] == pytest.approx((0.98, 0.01, 0.01))
    assert all(sum(s) == pytest.approx(1.0) for s in shares)


def test_best_f1_slider_value_rounds_down_and_keeps_the_best_f1():
    y, s = [0, 1, 1, 0], [0.1, 0.4567, 0.8, 0.3]  # F1 is 1 at the threshold 0.4567 (both positives, nothing else)
    curve = M.pr_curve(y, s)
    assert M.best_f1_slider_value(curve) == 0.456
    assert M.precision_recall_f1(y, s, 0.456)["f1"] == 1.0
    assert M.curve_table(curve).columns.tolist() == ["threshold", "precision", "recall", "f1"] and len(M.curve_table(curve)) == 4


def test_metric_cards_and_confusion_caption():
    m = {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "accuracy": 0.9, "tp": 2, "fp": 1, "fn": 1, "tn": 0}
    assert M.metric_cards(m) == [("Precision", "0.500"), ("Recall", "0.250"), ("F1", "0.333"), ("Accuracy", "0.900")]
    assert M.confusion_caption(np.array([1, 0, 1, 1]), 3, m) == (
        "Dev set: 4 digits, 3 of them 3s. At this threshold: TP 2, FP 1, FN 1, TN 0.")


def test_newest_scope_and_limit_start():
    scopes = [M.ALL, "experiment: x", "comparison: candidates-b", "comparison: candidates-a"]
    assert M.newest_candidate_scope(scopes) == "comparison: candidates-b"
    assert M.newest_candidate_scope([M.ALL, "experiment: x"]) is None
    # times 0.5, 1 and 2 ms: median 1,000 µs, a quarter of it as the step
    assert M.limit_start(pd.DataFrame({"ms_per_example": [0.5, 2.0, 1.0]})) == (1000.0, 250.0)
    # 1.2e-3 µs rounds up to 0.002 µs; the step never goes below 0.001 µs
    assert M.limit_start(pd.DataFrame({"ms_per_example": [1.2e-6]})) == pytest.approx((0.002, 0.001))


def test_satisficing_view_describes_the_choice():
    cands = pd.DataFrame({
        "run_id": ["small", "medium", "large", "huge", "tie-fast"], "experiment": ["e"] * 5,
        "run_name": ["16", "64", "256", "1024", "64b"], "dev_accuracy": [0.80, 0.92, 0.95, 0.97, 0.92],
        "ms_per_example": [0.001, 0.004, 0.010, 0.050, 0.003], "comparison": [None] * 5})
    view = M.satisficing_view(cands, 20.0)
    assert view.chosen == "large" and view.max_ms == pytest.approx(0.02)
    assert view.message == ("Chosen: **256** (e) with dev accuracy 95.0% at 10 µs per example: the most accurate of "
                            "the 4 run(s) within 20 µs.")
    assert view.table.columns.tolist() == ["run_name", "experiment", "dev_accuracy", "us_per_example", "feasible",
                                           "chosen", "run_id", "comparison"]
    assert view.table["run_name"].tolist() == ["1024", "256", "64b", "64", "16"]  # most accurate first, faster on a tie
    assert view.table["chosen"].tolist() == [False, True, False, False, False]
    assert view.table["us_per_example"].tolist() == pytest.approx([50, 10, 3, 4, 1])
    none = M.satisficing_view(cands, 0.5)
    assert none.chosen is None and not none.table["chosen"].any()
    assert none.message == "No run is that fast: the fastest needs 1 µs per example. Raise the limit."


def test_error_analysis_texts():
    assert EA.as_sentence("type a name for the new category") == "Type a name for the new category."
    assert EA.error_summary(0.0734, 22, 1234, 20) == ("Dev error **7.3%**: 22 of 1,234 dev examples are wrong; the 20 "
                                                      "most confident mistakes are shown.")
    assert EA.example_captions(_examples(2)) == ["#1: 3 → 8", "#2: 3 → 8"]
    assert EA.untagged_note(3) == "3 example(s) have no category yet; an example may have several."
    table = EA.tag_table(_examples(4), ["a", "b"])
    assert not EA.any_ticked(EA.tally(table, ["a", "b"], 0.1))
    table.loc[[0, 1], "a"] = True
    counts = EA.tally(table, ["a", "b"], 0.1)
    assert EA.any_ticked(counts)
    assert EA.ceiling_markdown(counts, 0.1) == "- Fixing all 2 errors tagged 'a' would cut dev error from 10.0% to 5.0% at best."


def test_editor_entry_keeps_its_table_until_a_category_is_added():
    examples = _examples(3)
    first = EA.editor_entry(None, examples, ["a"])
    assert first["ver"] == 0 and first["cats"] == ("a",) and first["base"]["a"].tolist() == [False] * 3
    assert first["latest"] is first["base"]
    edited = first["base"].copy()
    edited.loc[2, "a"] = True
    first["latest"] = edited
    assert EA.editor_entry(first, examples, ("a",)) is first  # same columns: the same editor
    second = EA.editor_entry(first, examples, ["a", "b"])
    assert second["ver"] == 1 and second["cats"] == ("a", "b")
    assert second["base"]["a"].tolist() == [False, False, True] and not second["base"]["b"].any()


def test_page_choices_and_learning_curve_report():
    for label, hidden in X.HIDDEN_CHOICES.items():
        assert hidden == (() if label == "none (linear)" else tuple(int(h) for h in label.split("×")))
    for label, hidden in X.CANDIDATE_NETS.items():
        assert hidden == tuple(int(h) for h in label.split("×"))
    assert set(X.CANDIDATE_DEFAULT) <= set(X.CANDIDATE_NETS)
    names = X.curve_datasets()
    from core.data import DATASETS

    kinds = [DATASETS[n].kind for n in names]
    assert {"digits", "moons"} <= set(names) and kinds == sorted(kinds)  # "image" sets before "points" sets
    assert X.dataset_label("digits") == DATASETS["digits"].description
    res = X.LearningCurveResult("cmp-1", points=[{"size": 20, "train_error": 0.1, "dev_error": 0.3},
                                                 {"size": 80, "train_error": 0.05, "dev_error": 0.2}], dev_size=100)
    assert X.curve_caption(res) == ("At the largest size: training error 5.0%, dev error 20.0%, gap 15.0%. Load any of "
                                    "these runs in the *Bias and variance* tab. Comparison tag `cmp-1`.")
    assert X.points_table(res)["size"].tolist() == [20, 80]


def test_live_series_smoothing_tiles_and_analysable():
    rows = [{"step": i, "loss": 1.0} for i in range(51)]
    metrics = {"a": rows[:50], "a/epochs": rows, "learning_curve": rows, "b": rows}
    assert set(X.live_series(metrics)) == {"a", "learning_curve", "b"}
    assert set(X.live_series(metrics, skip=("learning_curve",))) == {"a", "b"}
    assert X.live_smoothing({"a": rows[:50]}) == 0.0 and X.live_smoothing({"a": rows[:50], "b": rows}) == 0.6
    assert X.live_smoothing({}) == 0.0
    out = X.tiles(np.zeros((2, 8, 8), np.float32), 64)
    assert len(out) == 2 and all(t.shape == (72, 72) for t in out)
    base = {"status": "FINISHED", "dev_size": 10, "n_errors": 1, "examples": [], "images": np.zeros((0, 8, 8))}
    assert X.analysable(X.ErrorModelResult(run_id="r", dev_error=0.1, **base))
    assert not X.analysable(X.ErrorModelResult(run_id="r", dev_error=float("nan"), **base))
    assert not X.analysable(X.ErrorModelResult(run_id=None, dev_error=0.1, **base))


def test_knob_frame():
    frame = O.knob_frame()
    assert frame.columns.tolist() == ["goal", "if it fails", "knobs"] and len(frame) == 5
    assert frame["goal"].iloc[0] == "1. Fit the training set" and "early stopping" in frame["knobs"].iloc[-1]


def test_load_runs_and_save_error_tags(fresh_store, monkeypatch):
    from core import tracking

    runs, message = X.load_runs()
    assert runs.empty and message is None
    with tracking.start_run("strategy", {"a": 1}, run_name="tagged") as run:
        run.log_metrics({"x": 1.0}, 1)
    table = EA.tag_table(_examples(2), ["a"])
    table.loc[0, "a"] = True
    counts = EA.tally(table, ["a"], 0.1)
    assert X.save_error_tags(run.run_id, table, counts) == ("success", EA.SAVED_MESSAGE)
    csv = tracking.text_artifact(run.run_id, "error_analysis.csv")
    assert csv.splitlines()[0] == "example,true,predicted,confidence,a" and len(csv.splitlines()) == 3
    runs, _ = X.load_runs()
    assert runs.set_index("run_id").loc[run.run_id, f"tags.{EA.TAG_SUMMARY}"] == "a: 1 of 2"

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(tracking, "search_runs", broken)
    monkeypatch.setattr(tracking, "annotate_run", broken)
    runs, message = X.load_runs()
    assert runs.columns.tolist() == ["run_id"] and runs.empty
    assert "could not be read" in message and "OSError" in message
    kind, message = X.save_error_tags(run.run_id, table, counts)
    assert kind == "error" and "OSError" in message
