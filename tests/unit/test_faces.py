"""Face recognition core: the triplet loss against a NumPy transcription of the course's
formula and against autograd, online mining against brute-force loops over every valid
triplet, verification against scikit-learn's ROC/AUC/PCA and brute-force thresholds, the
face-set loaders with a monkeypatched (never networked) scikit-learn fetch, and a tiny
tracked siamese training on digits in a fresh store."""

import itertools
import math

import numpy as np
import pytest
import sklearn.datasets
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.stats import hypergeom
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score, roc_curve

from core import tracking
from core.data import DatasetUnavailable, data_dir
from core.faces import batch_triplet_loss, mine_triplets, pairwise_sq_distances, triplet_kind, triplet_loss
from core.faces.data import FACE_SETS, IdentitySet, load_identities, split_identities
from core.faces.embedding import EmbeddingNet
from core.faces.training import (
    FaceConfig,
    embed,
    embed_images,
    input_spec,
    load_tracked,
    positives_in_random_batches,
    run_faces,
    verify,
)
from core.faces.triplets import triplet_terms
from core.faces.verification import (
    accuracy_at,
    best_threshold,
    embed_2d,
    one_shot_evaluation,
    pair_distances,
    roc,
    roc_auc,
    verification_pairs,
)
from core.jobs import KILLED, Recorder, run_job
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")
STRATEGIES = ("batch-hard", "semi-hard", "all")


def _batch(n=30, d=6, k=4, seed=0, normalise=True):
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(n, d, generator=g, dtype=torch.float64)
    if normalise:
        e = F.normalize(e, dim=1)
    y = torch.randint(0, k, (n,), generator=g)
    return e, y


def _valid_triplets(y):
    n = len(y)
    return [(a, p, m) for a, p, m in itertools.product(range(n), repeat=3)
            if a != p and y[a] == y[p] and y[m] != y[a]]


def _np_loss(a, p, n, alpha):
    """The course's formula, transcribed: mean of max(0, ‖A−P‖² − ‖A−N‖² + α)."""
    return np.mean(np.maximum(0.0, np.sum((a - p) ** 2, 1) - np.sum((a - n) ** 2, 1) + alpha))


# ----------------------------------------------------------------------------- triplet loss


@pytest.mark.parametrize("alpha", [0.0, 0.2, 1.0, 5.0])
def test_triplet_loss_is_the_course_formula(alpha):
    rng = np.random.default_rng(1)
    a, p, n = (rng.normal(size=(64, 8)) for _ in range(3))
    got = triplet_loss(*(torch.from_numpy(v) for v in (a, p, n)), alpha)
    assert got.item() == pytest.approx(_np_loss(a, p, n, alpha), rel=1e-12, abs=1e-12)


def test_triplet_loss_uses_squared_distances_unlike_torch_triplet_margin_loss():
    a, p, n = torch.zeros(1, 2), torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 4.0]])
    assert triplet_loss(a, p, n, 10.0).item() == pytest.approx(9 - 16 + 10)  # squared: 9, 16
    assert F.triplet_margin_loss(a, p, n, margin=10.0).item() == pytest.approx(3 - 4 + 10, abs=1e-4)  # plain: 3, 4


def test_triplet_loss_gradients_match_the_closed_form():
    rng = np.random.default_rng(2)
    A, P, N = (torch.tensor(rng.normal(size=(40, 5)), requires_grad=True) for _ in range(3))
    alpha = 0.5
    triplet_loss(A, P, N, alpha).backward()
    with torch.no_grad():
        active = (((A - P) ** 2).sum(1) - ((A - N) ** 2).sum(1) + alpha > 0).double()[:, None] / len(A)
        torch.testing.assert_close(A.grad, active * 2 * (N - P))  # d/dA (‖A−P‖² − ‖A−N‖²) = 2(A−P) − 2(A−N)
        torch.testing.assert_close(P.grad, active * -2 * (A - P))
        torch.testing.assert_close(N.grad, active * 2 * (A - N))


def test_triplet_loss_rejects_bad_arguments():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="same shape"):
        triplet_loss(x, x, torch.zeros(4, 2), 0.2)
    with pytest.raises(ValueError, match="margin"):
        triplet_loss(x, x, x, -0.1)
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        triplet_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3), 0.2)
    with pytest.raises(ValueError, match="empty"):
        triplet_loss(torch.zeros(0, 3), torch.zeros(0, 3), torch.zeros(0, 3), 0.2)


def test_triplet_kinds_at_the_boundaries_and_consistent_with_the_loss():
    assert triplet_kind(1.0, 1.5, 0.2) == "easy"
    assert triplet_kind(1.0, 1.2, 0.2) == "semi-hard"  # d_an = d_ap + α: loss 0, still inside the margin
    assert triplet_kind(1.0, 1.1, 0.2) == "semi-hard"
    assert triplet_kind(1.0, 1.0, 0.2) == "hard"
    assert triplet_kind(1.0, 0.3, 0.2) == "hard"
    rng = np.random.default_rng(3)
    a, p, n = (rng.normal(size=(500, 4)) for _ in range(3))
    alpha = 0.7
    d_ap, d_an = ((a - p) ** 2).sum(1), ((a - n) ** 2).sum(1)
    kinds = triplet_kind(d_ap, d_an, alpha)
    loss = np.maximum(0, d_ap - d_an + alpha)  # per triplet
    assert set(kinds) == {"easy", "semi-hard", "hard"}
    assert np.all(loss[kinds == "easy"] == 0)
    assert np.all((loss[kinds == "semi-hard"] >= 0) & (loss[kinds == "semi-hard"] < alpha))
    assert np.all(loss[kinds == "hard"] >= alpha)


def test_pairwise_squared_distances_match_cdist():
    e, _ = _batch(25, 7, normalise=False)
    d = pairwise_sq_distances(e)
    torch.testing.assert_close(d, torch.cdist(e, e) ** 2)
    assert torch.all(d.diagonal() == 0) and torch.all(d >= 0)


# ------------------------------------------------------------------------------- mining


def test_all_mines_every_valid_triplet_and_averages_them():
    e, y = _batch(16, 4, k=3, seed=4)
    a, p, n = mine_triplets(e, y, "all")
    want = _valid_triplets(y.tolist())
    assert sorted(zip(a.tolist(), p.tolist(), n.tolist(), strict=True)) == sorted(want)
    loss, stats = batch_triplet_loss(e, y, 0.3, "all")
    idx = torch.tensor(want)
    ref = _np_loss(e[idx[:, 0]].numpy(), e[idx[:, 1]].numpy(), e[idx[:, 2]].numpy(), 0.3)
    assert loss.item() == pytest.approx(ref, rel=1e-9)
    assert stats["mined"] == stats["triplets"] == len(want)


def test_batch_all_gradient_equals_autograd_through_the_explicit_triplets():
    e, y = _batch(20, 5, k=4, seed=5)
    e1, e2 = e.clone().requires_grad_(), e.clone().requires_grad_()
    batch_triplet_loss(e1, y, 0.4, "all")[0].backward()  # sorted prefix sums, no N³ tensor
    idx = torch.tensor(_valid_triplets(y.tolist()))
    triplet_loss(e2[idx[:, 0]], e2[idx[:, 1]], e2[idx[:, 2]], 0.4).backward()
    torch.testing.assert_close(e1.grad, e2.grad)


def test_batch_hard_equals_a_brute_force_loop_over_all_valid_triplets():
    e, y = _batch(24, 5, k=4, seed=6)
    alpha = 0.3
    D = (torch.cdist(e, e) ** 2).numpy()
    worst: dict[int, float] = {}
    for a, p, n in _valid_triplets(y.tolist()):  # the hardest triplet of each anchor
        worst[a] = max(worst.get(a, -np.inf), max(0.0, D[a, p] - D[a, n] + alpha))
    loss, stats = batch_triplet_loss(e, y, alpha, "batch-hard")
    assert loss.item() == pytest.approx(np.mean(list(worst.values())), rel=1e-9)
    a, p, n = mine_triplets(e, y, "batch-hard")
    assert sorted(a.tolist()) == sorted(worst) and stats["mined"] == len(worst)
    for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        assert D[ai, pi] == pytest.approx(max(D[ai, j] for j in range(24) if j != ai and y[j] == y[ai]))
        assert D[ai, ni] == pytest.approx(min(D[ai, j] for j in range(24) if y[j] != y[ai]))


def test_semi_hard_equals_a_brute_force_loop():
    e, y = _batch(24, 3, k=3, seed=7)
    alpha = 0.5
    D = (torch.cdist(e, e) ** 2).numpy()
    terms = []
    for a, p in itertools.product(range(24), repeat=2):
        if a == p or y[a] != y[p]:
            continue
        negs = [n for n in range(24) if y[n] != y[a]]
        farther = [n for n in negs if D[a, n] > D[a, p]]
        n = min(farther, key=lambda j: D[a, j]) if farther else max(negs, key=lambda j: D[a, j])
        terms.append(max(0.0, D[a, p] - D[a, n] + alpha))
    loss, stats = batch_triplet_loss(e, y, alpha, "semi-hard")
    assert loss.item() == pytest.approx(np.mean(terms), rel=1e-9)
    assert stats["mined"] == len(terms)
    assert stats["active"] == pytest.approx(np.mean(np.array(terms) > 0))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_training_loss_equals_the_course_loss_on_the_mined_triplets(strategy):
    e, y = _batch(32, 6, k=5, seed=8)
    e1, e2 = e.clone().requires_grad_(), e.clone().requires_grad_()
    loss, _ = triplet_terms(e1, y, 0.2, strategy)  # the dense, sync-free form used in training
    a, p, n = mine_triplets(e2, y, strategy)
    ref = triplet_loss(e2[a], e2[p], e2[n], 0.2)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-9)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(e1.grad, e2.grad)


def test_stats_are_the_fractions_of_easy_semi_hard_and_hard_triplets():
    e, y = _batch(20, 3, k=3, seed=9)
    alpha = 0.4
    D = (torch.cdist(e, e) ** 2).numpy()
    trip = _valid_triplets(y.tolist())
    kinds = [triplet_kind(D[a, p], D[a, n], alpha) for a, p, n in trip]
    _, stats = batch_triplet_loss(e, y, alpha, "batch-hard")
    for k in ("easy", "semi-hard", "hard"):
        assert stats[k] == pytest.approx(kinds.count(k) / len(trip))
    _, stats = batch_triplet_loss(e, y, alpha, "all")
    assert stats["active"] == pytest.approx(np.mean([D[a, p] - D[a, n] + alpha > 0 for a, p, n in trip]))


def test_a_batch_without_valid_triplets_gives_zero_and_still_backpropagates():
    e = torch.randn(4, 3, requires_grad=True)
    for y in (torch.arange(4), torch.zeros(4, dtype=torch.long)):  # no positive / no negative
        for s in STRATEGIES:
            loss, stats = batch_triplet_loss(e, y, 0.2, s)
            loss.backward()
            assert loss.item() == 0 and stats["mined"] == 0 and len(mine_triplets(e, y, s)[0]) == 0
    with pytest.raises(ValueError, match="unknown mining strategy"):
        batch_triplet_loss(e, torch.arange(4), 0.2, "hardest")
    with pytest.raises(ValueError, match="one label per embedding"):
        mine_triplets(e, torch.arange(3))


def test_random_batches_give_the_miner_positives():
    y = torch.repeat_interleave(torch.arange(6), torch.tensor([5, 10, 20, 40, 15, 30]))  # 120 images
    est = positives_in_random_batches(y, 16, n_batches=3000, seed=1)
    counts = torch.bincount(y).numpy()
    N, b = len(y), 16
    # an anchor of an identity with n_c images has no positive when all b−1 others come from the N−1−(n_c−1)
    want = sum(c / N * (1 - hypergeom(N - 1, c - 1, b - 1).pmf(0)) for c in counts)
    assert est == pytest.approx(want, abs=0.01)
    digits = load_identities("digits").subset(list(range(7)))
    assert positives_in_random_batches(digits.y, 64) > 0.99  # fit()'s random batches are enough here


# ------------------------------------------------------------------------- verification


def _scores(seed=0, n=400, ties=True):
    rng = np.random.default_rng(seed)
    same = rng.random(n) < 0.4
    d = rng.gamma(2.0, 0.5, n) + np.where(same, 0.0, 0.6)
    if ties:
        d = np.round(d, 1)  # many ties
    return d, same


def test_roc_matches_sklearn():
    for ties in (True, False):
        d, same = _scores(ties=ties)
        fpr, tpr, thr = roc(d, same)
        sk_fpr, sk_tpr, sk_thr = roc_curve(same, -d, drop_intermediate=False)
        np.testing.assert_allclose(fpr, sk_fpr)
        np.testing.assert_allclose(tpr, sk_tpr)
        np.testing.assert_allclose(thr, -sk_thr)
        assert roc_auc(d, same) == pytest.approx(roc_auc_score(same, -d), rel=1e-12)


def test_accuracy_and_the_best_threshold_against_brute_force():
    d, same = _scores(seed=1)
    assert accuracy_at(d, same, 1.0) == pytest.approx(np.mean((d <= 1.0) == same))
    tau, acc = best_threshold(d, same)
    u = np.unique(d)
    candidates = np.r_[u[0] - 1, (u[:-1] + u[1:]) / 2, u[-1] + 1]
    brute = max(np.mean((d <= t) == same) for t in candidates)
    assert acc == pytest.approx(brute) and accuracy_at(d, same, tau) == pytest.approx(acc)
    assert best_threshold([0.1, 0.2, 0.9, 1.0], [True, True, False, False]) == (pytest.approx(0.55), 1.0)
    with pytest.raises(ValueError, match="both kinds"):
        roc([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="2 distances but 3"):
        accuracy_at([0.1, 0.2], [True, False, True], 0.5)


def test_verification_pairs_are_balanced_and_labelled_right():
    y = np.repeat(np.arange(5), [3, 12, 2, 15, 9])  # 211 same pairs
    pairs, same = verification_pairs(y, 200, seed=3)
    assert len(pairs) == 200 and same.sum() == 100
    np.testing.assert_array_equal(same, y[pairs[:, 0]] == y[pairs[:, 1]])
    assert np.all(pairs[:, 0] < pairs[:, 1]) and len({tuple(p) for p in pairs}) == 200  # no repeats
    again, _ = verification_pairs(y, 200, seed=3)
    np.testing.assert_array_equal(pairs, again)
    small, s = verification_pairs(np.array([0, 0, 1, 2]), 100)  # one same pair exists
    assert len(small) == 2 and s.sum() == 1
    with pytest.raises(ValueError, match="no 'same' pair"):
        verification_pairs(np.arange(5), 10)
    emb = np.random.default_rng(0).normal(size=(len(y), 4))
    np.testing.assert_allclose(pair_distances(emb, pairs), ((emb[pairs[:, 0]] - emb[pairs[:, 1]]) ** 2).sum(1))


def test_embed_2d_is_pca():
    emb = np.random.default_rng(4).normal(size=(60, 9)) @ np.diag(np.linspace(3, 0.1, 9))
    ours = embed_2d(emb)
    ref = PCA(n_components=2).fit_transform(emb)
    for k in range(2):
        sign = np.sign(ours[:, k] @ ref[:, k])
        np.testing.assert_allclose(ours[:, k], sign * ref[:, k], atol=1e-9)
    two = np.random.default_rng(5).normal(size=(10, 2))
    np.testing.assert_array_equal(embed_2d(two), two)  # a 2-D embedding is shown as it is


# ------------------------------------------------------------------------ network and data


@pytest.mark.parametrize("size", [8, 28, 62, 64])
def test_embedding_net_outputs_unit_vectors(size):
    torch.manual_seed(0)
    net = EmbeddingNet(1, 16, size, width=8).eval()
    with torch.no_grad():
        out = net(torch.rand(5, 1, size, size))
    assert out.shape == (5, 16)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(5))
    assert pairwise_sq_distances(out).max() <= 4 + 1e-5  # on the unit sphere
    with pytest.raises(ValueError, match=f"{size}×{size}"):
        net(torch.rand(1, 1, size + 1, size + 1))


def test_split_keeps_identities_apart():
    ds = load_identities("digits")
    assert ds.kind == "digits" and ds.X.shape[1:] == (1, 8, 8) and ds.names[3] == "digit 3"
    sp = split_identities(ds, 3)
    assert sp.train_ids == tuple(range(7)) and sp.unseen_ids == (7, 8, 9)
    assert set(sp.train.y.tolist()) == set(range(7)) and set(sp.unseen.y.tolist()) == {7, 8, 9}
    assert len(sp.train) + len(sp.unseen) == len(ds)
    r1, r2 = split_identities(ds, 4, seed=5), split_identities(ds, 4, seed=5)
    assert r1.unseen_ids == r2.unseen_ids and len(r1.unseen_ids) == 4
    with pytest.raises(ValueError, match="between 2 and 8"):
        split_identities(ds, 9)


class _Bunch(dict):
    __getattr__ = dict.__getitem__


def test_olivetti_download_failure_names_the_offline_alternatives(monkeypatch):
    calls = []

    def offline(**kw):
        calls.append(kw)
        raise OSError("no route to host")

    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", offline)
    with pytest.raises(DatasetUnavailable) as err:
        load_identities("olivetti")
    msg = str(err.value)
    assert msg.startswith("The Olivetti faces could not be downloaded") and "digits" in msg and "MNIST sample" in msg
    assert msg.count(".") == 1 and msg.endswith(".")  # one sentence
    assert calls[0]["download_if_missing"] is True and str(data_dir()) in calls[0]["data_home"]
    with pytest.raises(DatasetUnavailable, match="found on this machine"):
        load_identities("olivetti", download=False)
    assert calls[1]["download_if_missing"] is False


def test_face_sets_are_converted_when_scikit_learn_has_them(monkeypatch):
    rng = np.random.default_rng(0)
    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", lambda **kw: _Bunch(
        images=rng.random((40, 64, 64), dtype=np.float32), target=np.repeat(np.arange(4), 10)))
    seen = {}

    def lfw(**kw):
        seen.update(kw)
        return _Bunch(images=rng.integers(0, 256, (30, 62, 62)).astype(np.float32), target=np.repeat(np.arange(3), 10),
                      target_names=np.array(["Ada Lovelace", "Alan Turing", "Grace Hopper"]))

    monkeypatch.setattr(sklearn.datasets, "fetch_lfw_people", lfw)
    oli = load_identities("olivetti")
    assert oli.X.shape == (40, 1, 64, 64) and oli.kind == "faces" and oli.names == ("person 1", "person 2", "person 3",
                                                                                      "person 4")
    faces = load_identities("lfw")
    assert faces.X.shape == (30, 1, 62, 62) and 0 <= faces.X.min() and faces.X.max() <= 1  # 0–255 scaled
    assert faces.names[1] == "Alan Turing" and seen["min_faces_per_person"] == 20
    with pytest.raises(ValueError, match="unknown identity set"):
        load_identities("celeba")
    with pytest.raises(ValueError, match="identity"):
        IdentitySet(torch.zeros(2, 1, 4, 4), torch.tensor([0, 5]), ("a", "b"), "faces", "")


# ----------------------------------------------------------------------------- training


def test_config_validation():
    FaceConfig(dataset="olivetti", n_unseen=10)
    with pytest.raises(ValueError, match="'celeba' is not one of"):
        FaceConfig(dataset="celeba")
    with pytest.raises(ValueError, match="Margin α"):
        FaceConfig(margin=-0.1)
    with pytest.raises(ValueError, match="Margin α"):
        FaceConfig(margin=5)
    with pytest.raises(ValueError, match="Triplet mining: 'hardest' is not one of"):
        FaceConfig(strategy="hardest")
    with pytest.raises(ValueError, match="between 2 and 8 identities unseen"):
        FaceConfig(n_unseen=9)
    with pytest.raises(ValueError, match="Mini-batch size: 2 is not one of"):
        FaceConfig(batch_size=2)
    with pytest.raises(ValueError, match="Learning rate"):
        FaceConfig(lr=0)
    with pytest.raises(ValueError, match="'Lion' is not one of"):
        FaceConfig(optimizer="Lion")
    with pytest.raises(ValueError, match="Embedding size"):
        FaceConfig(embedding_dim=1)
    assert FACE_SETS["olivetti"].kind == "faces" and FACE_SETS["digits"].kind == "digits"


def test_siamese_training_on_digits_is_tracked_and_beats_chance_on_unseen_digits(fresh_store):
    cfg = FaceConfig(dataset="digits", strategy="semi-hard", epochs=2, embedding_dim=16, width=16, lr=3e-3, n_pairs=600)
    assert assert_plain(cfg, "config") == cfg
    ctx = Recorder("faces")
    res = run_faces(ctx, cfg, device=CPU)
    assert res.lane.status == "FINISHED" and res.kind == "digits" and not res.stopped and res.has_network
    ev = res.evaluation
    assert ev.auc > 0.6 and ev.auc == pytest.approx(roc_auc_score(ev.same, -ev.distances))
    assert ev.auc > res.untrained.auc  # training helped on digits it never saw (0.79 vs 0.72 here)
    assert ev.best_accuracy == pytest.approx(accuracy_at(ev.distances, ev.same, ev.best_tau))
    assert set(ev.labels.tolist()) == {7, 8, 9} and ev.points_2d.shape == (res.sizes["unseen_images"], 2)
    i, j = ev.pairs[0]
    assert ev.distance(i, j) == pytest.approx(ev.distances[0]) and len(res.unseen_images) == len(ev.labels)
    assert "0–6" in res.trained_on and "7–9" in res.trained_on and "never seen a face" in res.trained_on
    assert 0 <= res.untrained.auc <= 1 and len(res.untrained.fpr) > 2  # the untrained baseline, evaluated alike
    assert [r["epoch"] for r in res.triplet_history] == [1, 2]
    for row in res.triplet_history:
        assert row["easy"] + row["semi-hard"] + row["hard"] == pytest.approx(1)
    assert [r["epoch"] for r in ctx.snapshot().metrics["triplets"]] == [1, 2]  # the same rows, live
    # the result is plain data; the unseen images are the digits 7–9 as loaded
    copy = assert_plain(res)
    digits = load_identities("digits").subset([7, 8, 9])
    np.testing.assert_array_equal(copy.unseen_images, digits.X.numpy())
    np.testing.assert_array_equal(copy.evaluation.distances, ev.distances)
    # the network saved with the run is the trained one: the evaluation is reproduced from it
    net = load_tracked(res.lane.run_id)
    assert not net.training and next(net.parameters()).device.type == "cpu"
    assert (net.embedding_dim, net.input_size) == (16, 8)
    again = one_shot_evaluation(embed(net, res.spec.normalize(digits.X)), ev.labels, 600, cfg.seed)
    assert again.auc == pytest.approx(ev.auc, abs=1e-6)
    np.testing.assert_allclose(again.distances, ev.distances, atol=1e-6)
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FINISHED" and run["params.strategy"] == "semi-hard"
    assert run["metrics.roc_auc"] == pytest.approx(ev.auc) and run["metrics.best_tau"] == pytest.approx(ev.best_tau)
    assert run["metrics.verify_accuracy"] == pytest.approx(ev.best_accuracy)
    assert "images/roc_curve.png" in {p for p, _ in tracking.image_artifacts(run["run_id"])}


def test_a_network_that_cannot_be_rebuilt_is_a_plain_value_error(fresh_store):
    with pytest.raises(ValueError, match="not in the tracking store"):
        load_tracked("0123456789abcdef0123456789abcdef")
    with pytest.raises(ValueError, match="not a run id"):
        load_tracked("x' OR '1' = '1")
    with tracking.start_run("faces", {"embedding_dim": 8}) as run:  # params, but no weights
        pass
    with pytest.raises(ValueError, match="did not record"):
        load_tracked(run.run_id)


def test_an_untrained_network_is_evaluated_the_same_way():
    ds = load_identities("digits")
    sp = split_identities(ds, 3)
    spec = input_spec(ds, sp.train)
    torch.manual_seed(0)
    net = EmbeddingNet(1, 8, 8, width=4)
    ev = one_shot_evaluation(embed(net, spec.normalize(sp.unseen.X)), sp.unseen.y, 300, seed=1)
    assert 0 <= ev.auc <= 1 and math.isfinite(ev.best_tau) and len(ev.pairs) == 300


def test_two_images_are_verified_with_the_training_preprocessing():
    ds = load_identities("digits")
    spec = input_spec(ds, ds)
    torch.manual_seed(0)
    net = EmbeddingNet(1, 8, 8, width=4).eval()
    img = [Image.fromarray((ds.X[i, 0].numpy() * 255).astype(np.uint8)).resize((64, 64), Image.NEAREST) for i in (0, 1)]
    emb, seen = embed_images(net, img, spec)
    assert emb.shape == (2, 8) and seen[0].shape == (8, 8)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))
    v = verify(net, img[0], img[0], spec, tau=0.5)
    assert v.distance == pytest.approx(0, abs=1e-10) and v.same
    w = verify(net, img[0], img[1], spec, tau=0.0)
    assert w.distance == pytest.approx(float(((emb[0] - emb[1]) ** 2).sum()), rel=1e-5) and not w.same


def test_a_stop_keeps_the_partial_training_and_live_triplet_stats(fresh_store):
    cfg = FaceConfig(epochs=100, batch_size=16, width=8, embedding_dim=8)
    assert_plain(cfg, "config")
    ctx = StopAfter("triplets", 1)  # Stop once the first epoch's triplet stats are in
    ending = run_job(run_faces, ctx, cfg)
    assert ending.status == KILLED and ending.error is None
    result = assert_plain(ending.result)
    assert result.stopped and result.lane.status == "KILLED" and result.has_network
    row = ctx.snapshot().metrics["triplets"][0]
    assert row["epoch"] == 1 and row["easy"] + row["semi-hard"] + row["hard"] == pytest.approx(1)
    assert [r["epoch"] for r in result.triplet_history] == [1]
    steps_per_epoch = math.ceil(result.sizes["train_images"] / cfg.batch_size)
    assert steps_per_epoch <= result.lane.steps < 100 * steps_per_epoch
    assert result.untrained is not None and result.evaluation is None
    assert tracking.search_runs()["status"].tolist() == ["KILLED"]
    # what was trained until Stop is in the run: not the untrained network any more
    net = load_tracked(result.lane.run_id)
    emb = embed(net, result.spec.normalize(torch.from_numpy(result.unseen_images))).double().numpy()
    assert emb.shape == result.untrained.embeddings.shape
    assert np.abs(emb - result.untrained.embeddings).max() > 1e-3


def test_the_roc_point_at_tau_is_on_sklearns_curve():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(3)
    emb = torch.nn.functional.normalize(torch.randn(60, 4, generator=torch.Generator().manual_seed(3)), dim=1)
    ev = one_shot_evaluation(emb, torch.from_numpy(rng.integers(0, 3, 60)), n_pairs=200, seed=0)
    for tau in (0.5, 1.0, 2.0):
        tn, fp, fn, tp = confusion_matrix(np.asarray(ev.same, bool), np.asarray(ev.distances) <= tau).ravel()
        assert ev.rates_at(tau) == pytest.approx((fp / (fp + tn), tp / (tp + fn)))
