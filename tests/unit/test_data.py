"""Dataset registry: built-ins, seeded splits, and the offline behaviour of downloads."""

import struct
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from core.data import DATASETS, DatasetUnavailable, load_dataset, make_toy, offline_names, split_dataset
from core.data.toy import TOY_KINDS


@pytest.mark.parametrize("kind", TOY_KINDS)
def test_toy_sets_are_seeded_and_shaped(kind):
    X, y = make_toy(kind, n=300, noise=0.1, seed=3)
    X2, y2 = make_toy(kind, n=300, noise=0.1, seed=3)
    X3, _ = make_toy(kind, n=300, noise=0.1, seed=4)
    assert X.shape == (300, 2) and X.dtype == np.float32 and y.shape == (300,)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.allclose(X, X3)
    assert set(np.unique(y)) == {0, 1}
    assert np.abs(X).max() < 2.5


def test_toy_geometry():
    X, y = make_toy("circles", n=2000, noise=0.0, seed=0)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 0].max() <= 0.45 + 1e-6 and r[y == 1].min() >= 0.65 - 1e-6
    X, y = make_toy("xor", n=2000, noise=0.0, seed=0)
    np.testing.assert_array_equal(y, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int))
    X, y = make_toy("spirals", n=900, noise=0.0, seed=0, n_classes=3)
    assert set(np.unique(y)) == {0, 1, 2}


def test_toy_bad_input():
    with pytest.raises(ValueError, match="unknown toy set"):
        make_toy("donut")
    with pytest.raises(ValueError, match="noise"):
        make_toy("xor", noise=3)
    with pytest.raises(ValueError, match="points"):
        make_toy("xor", n=5)


def test_builtin_image_sets():
    d = load_dataset("digits")
    assert d.X.shape == (1797, 1, 8, 8) and d.n_classes == 10 and 0 <= d.X.min() and d.X.max() <= 1
    m = load_dataset("mnist_sample")
    assert m.X.shape == (5000, 1, 28, 28) and m.y.dtype == torch.int64
    assert float(m.X.max()) == 1.0 and sorted(m.y.unique().tolist()) == list(range(10))


def test_split_is_seeded_disjoint_and_complete():
    ds = load_dataset("xor", n=500, seed=1)
    s1, s2 = split_dataset(ds, (0.6, 0.2, 0.2), seed=5), split_dataset(ds, (0.6, 0.2, 0.2), seed=5)
    assert s1.sizes == {"train": 300, "dev": 100, "test": 100}
    torch.testing.assert_close(s1.train[0], s2.train[0])
    rows = torch.cat([s1.train[0], s1.dev[0], s1.test[0]])
    assert torch.unique(rows, dim=0).shape[0] == torch.unique(ds.X, dim=0).shape[0]
    with pytest.raises(ValueError, match="sum"):
        split_dataset(ds, (0.5, 0.2, 0.2))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet")


def test_download_failure_names_offline_alternatives(fresh_store, monkeypatch):
    def refuse(*a, **k):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("fashion_mnist")
    assert time.perf_counter() - t0 < 10
    for name in offline_names():
        assert name in str(info.value)
    assert not DATASETS["fashion_mnist"].offline


def _idx(path, magic, dims, data):
    path.write_bytes(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + data.tobytes())


def test_mnist_loads_from_a_cached_download_without_network(fresh_store, monkeypatch):
    """The real torchvision loading path, fed with files in the layout a download leaves."""
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network used")))
    raw = fresh_store / "torchvision" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = {"train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), "t10k": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)}
    labels = {"train": np.array([0, 1, 2, 3, 4, 5], np.uint8), "t10k": np.array([9, 8, 7, 6], np.uint8)}
    for part in ("train", "t10k"):
        _idx(raw / f"{part}-images-idx3-ubyte", 0x803, imgs[part].shape, imgs[part])
        _idx(raw / f"{part}-labels-idx1-ubyte", 0x801, labels[part].shape, labels[part])
    ds = load_dataset("mnist")
    assert ds.X.shape == (10, 1, 28, 28)
    expected = np.concatenate([imgs["train"], imgs["t10k"]]).astype(np.float32) / 255
    np.testing.assert_allclose(ds.X[:, 0].numpy(), expected)
    assert ds.y.tolist() == [0, 1, 2, 3, 4, 5, 9, 8, 7, 6]
