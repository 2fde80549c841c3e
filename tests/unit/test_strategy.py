"""ML strategy core: diagnosis, split planning, precision/recall/F1 against scikit-learn,
error tallies, satisficing selection, and the data-mismatch demo (real, tiny training)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_recall_curve, precision_score, recall_score

from core.strategy import diagnose, plan_split
from core.strategy import diagnosis as D
from core.strategy import errors as EA
from core.strategy import experiments as X
from core.strategy import metrics as M
from core.strategy import mismatch as MM
from core.strategy.splits import DEV_TARGET, dev_share

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
                         M.TIME: [0.01, 0.02, 0.03], M.COMPARISON: ["candidates-1", None, "race-2"]})
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
    csv = EA.to_csv(new)
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
    with pytest.raises(ValueError, match="built-in image sets"):
        X.ErrorModelConfig(dataset="cifar10")
    with pytest.raises(ValueError, match="learning rate"):
        X.BinaryConfig(lr=0)
    with pytest.raises(ValueError, match="toy 2-D set"):
        MM.MismatchConfig(dataset="digits")


def test_upscale_makes_a_padded_dark_on_white_tile():
    img = np.zeros((8, 8), np.float32)
    img[2, 3] = 1.0  # one bright (ink) pixel
    tile = X.upscale(img, 64, pad=4)
    assert tile.shape == (72, 72) and tile.dtype == np.uint8
    assert tile[:4].min() == 255 and tile[4 + 2 * 8, 4 + 3 * 8] == 0 and tile[4, 4] == 255
    mont = X.montage(np.ones((3, 8, 8), np.float32), cols=2)
    assert mont.shape == (18, 18)


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
