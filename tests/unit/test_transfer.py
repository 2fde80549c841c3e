"""Transfer learning (core/transfer): backbones, augmentation, data, the tracked job, CAM and export.

No test touches the network: the "ImageNet" weights are random-init state dicts of torchvision's own
classifiers, saved where torch hub would download them (the ``offline`` fixture gives an empty
TORCH_HOME and refuses sockets). References:

- backbones: torchvision's own pretrained builders reading the same cached file, and torchvision's own
  forward pass with our head in place of its classifier;
- augmentation: ``torch.flip``, ``torch.rot90``, ``F.grid_sample`` with an identity grid and
  torchvision's ``adjust_brightness`` / ``adjust_contrast`` / ``adjust_saturation``;
- data: torchvision's ``Resize`` + ``CenterCrop`` + ``ToTensor``, and the split rule
  ``min(max(1, round(f·n)), n − 1)`` dev images per class;
- training: a second network trained by hand with :func:`core.training.fit` (body frozen), scikit-learn's
  confusion matrix, the runs in a fresh MLflow store, the Runs page's comparison groups; the job's
  config and results pickled (plain data) and the networks rebuilt from their runs;
- CAM: the closed-form CAM and an independent Grad-CAM written with a forward hook and ``.backward()``;
- export: the traced file run by ``torch.jit.load``, the ONNX file run by onnxruntime, and the README's
  own code snippets executed in a folder holding the bundle and a photo.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from matplotlib import colormaps
from PIL import Image
from sklearn.metrics import confusion_matrix as sk_confusion

from core import artifacts, pretrained, tracking
from core import runs as R
from core.device import cpu_threads
from core.jobs import KILLED, Recorder, run_job
from core.optimizers import Adam
from core.training import fit
from core.transfer import augment as A
from core.transfer import backbones as B
from core.transfer import cam as C
from core.transfer import data as D
from core.transfer import export as E
from core.transfer import training as TR
from tests.conftest import UNPICKLED, PickledPayload, go_offline
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")
RESNET, MOBILENET, VGG = "ResNet-18", "MobileNetV3-Small", "VGG-16"
EXPECTED_FILES = {  # the file names in torchvision's weight URLs (download.pytorch.org/models/...)
    RESNET: "resnet18-f37072fd.pth",
    MOBILENET: "mobilenet_v3_small-047dcff4.pth",
    VGG: "vgg16-397923af.pth",
}
IMAGENET = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()  # torchvision's mean and std
NO_AUGMENT = A.AugmentSpec(flip=False, crop=False, rotate=False, colour=False)
ALL_AUGMENT = A.AugmentSpec(flip=True, crop=True, rotate=True, colour=True)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: small networks on a shared 2-core machine."""
    with cpu_threads(1):
        yield


@pytest.fixture(autouse=True)
def _quiet_meta_loading():
    """load_state checks the file against a meta-device skeleton; torch warns once per tensor that the copy is a no-op."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter.*")
        yield


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and "\n" not in message


def _random_state(name: str, seed: int) -> dict[str, torch.Tensor]:
    """A random-init state dict of torchvision's own classifier: the stand-in for the ImageNet weights."""
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in B.spec(name).builder().state_dict().items()}


def _save_cached(name: str, seed: int) -> dict[str, torch.Tensor]:
    state = _random_state(name, seed)
    path = pretrained.hub_path(B.spec(name).url)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def _body_key(name: str, key: str) -> str | None:
    """The TransferNet key of a torchvision classifier key (None for the classifier's own head)."""
    if name == RESNET:
        first, rest = key.split(".", 1)
        if first in ("conv1", "bn1"):
            return f"body.stem.{key}"
        return f"body.{key}" if first.startswith("layer") else None
    if name == MOBILENET:
        m = re.fullmatch(r"features\.(\d+)\.(.+)", key)
        return f"body.features_{m[1]}.{m[2]}" if m else None
    raise AssertionError(name)


def _swap_head(reference: torch.nn.Module, name: str, head: torch.nn.Module) -> torch.nn.Module:
    """torchvision's classifier with its last part replaced by our head (same pooling, same flatten)."""
    if name == RESNET:
        reference.fc = head
    else:
        reference.classifier = head
    return reference.eval()


def _images(n: int, side: int = 8, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(n)]


# ============================================================================ backbones: cache and loading


def test_weights_live_at_the_torch_hub_checkpoint_path(offline, tmp_path):
    for name, spec in B.BACKBONES.items():
        assert pretrained.hub_path(spec.url) == tmp_path / "torch" / "hub" / "checkpoints" / EXPECTED_FILES[name]
        assert not B.weights_cached(name)
    assert B.MEAN == tuple(IMAGENET.mean) and B.STD == tuple(IMAGENET.std)
    with pytest.raises(ValueError, match="unknown backbone"):
        B.spec("ResNet-1000")


@pytest.mark.parametrize("name", [RESNET, MOBILENET])
def test_cached_weights_load_exactly_and_match_torchvisions_pretrained_builder(offline, name):
    saved = _save_cached(name, seed=1234)
    assert B.weights_cached(name)
    torch.manual_seed(7)  # a fresh random init differs from the file, so equality below proves the file was read
    assert not all(torch.equal(v, saved[k]) for k, v in B.spec(name).builder().state_dict().items())

    state = B.load_state(name)
    assert list(state) == list(saved)
    for key, tensor in saved.items():
        assert torch.equal(state[key], tensor), key

    net = B.build_net(name, 3, state=state).eval()
    spec = B.spec(name)
    reference = spec.builder(weights=spec.weights)  # torchvision reads the same cached file
    ours = net.state_dict()
    mapped = {}
    for key, tensor in reference.state_dict().items():
        body_key = _body_key(name, key)
        if body_key is not None:
            mapped[body_key] = tensor
    assert set(mapped) == {k for k in ours if k.startswith("body.")}  # every body tensor, nothing else
    for key, tensor in mapped.items():
        assert torch.equal(ours[key], tensor), key
    assert offline.count == 0

    # the same forward pass as torchvision's own network with our head in place of its classifier
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ref_net = _swap_head(reference, name, copy.deepcopy(net.head))
    with torch.no_grad():
        want = ref_net(TF.normalize(x, IMAGENET.mean, IMAGENET.std))
        torch.testing.assert_close(net(x), want, atol=1e-5, rtol=1e-5)
        assert net.feature_map(x).shape[1] == spec.features


def test_missing_weights_offline_raise_one_sentence(offline):
    with pytest.raises(B.WeightsUnavailable) as info:
        B.load_state(RESNET)
    assert offline.count > 0  # the real download code ran and hit the (refused) network
    message = str(info.value)
    assert _one_sentence(message), message
    assert "could not be downloaded" in message and "from-scratch" in message
    path = pretrained.hub_path(B.spec(RESNET).url)
    assert not path.exists()  # no partial file left behind


def test_no_download_allowed_raises_without_touching_the_network(offline):
    with pytest.raises(B.WeightsUnavailable) as info:
        B.load_state(MOBILENET, allow_download=False)
    assert offline.count == 0
    message = str(info.value)
    assert _one_sentence(message) and "from-scratch" in message and "MobileNetV3-Small" in message


def test_corrupt_cached_file_cannot_be_read(offline):
    path = pretrained.hub_path(B.spec(RESNET).url)
    path.parent.mkdir(parents=True)
    junk = bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8).tolist())
    path.write_bytes(junk)
    with pytest.raises(B.WeightsUnavailable) as info:
        B.load_state(RESNET)
    message = str(info.value)
    assert _one_sentence(message) and "cannot be read" in message and str(path) in message
    assert path.read_bytes() == junk  # left for the user to delete, not silently replaced
    assert offline.count == 0


def test_another_backbones_weights_do_not_hold_the_backbone(offline):
    path = pretrained.hub_path(B.spec(RESNET).url)
    path.parent.mkdir(parents=True)
    torch.save(_random_state(MOBILENET, 0), path)  # the wrong architecture under the right file name
    with pytest.raises(B.WeightsUnavailable) as info:
        B.load_state(RESNET)
    assert _one_sentence(str(info.value)) and "does not hold" in str(info.value)
    # the right keys with one wrong shape are caught too (the check runs on a shapes-only skeleton)
    state = _random_state(RESNET, 0)
    state["layer4.1.conv2.weight"] = torch.zeros(512, 512, 1, 1)
    torch.save(state, path)
    with pytest.raises(B.WeightsUnavailable, match="does not hold"):
        B.load_state(RESNET)
    with pytest.raises(B.WeightsUnavailable, match="does not hold"):
        B.build_net(RESNET, 3, state=state)
    assert offline.count == 0


def test_cached_file_is_read_with_weights_only(offline):
    path = pretrained.hub_path(B.spec(RESNET).url)
    path.parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(1), "payload": PickledPayload()}, path)
    with pytest.raises(B.WeightsUnavailable, match="cannot be read"):
        B.load_state(RESNET)
    assert UNPICKLED == []  # weights_only=True refused the pickled callable instead of running it


# ============================================================================ backbones: blocks


def test_block_names():
    assert B.block_names(RESNET) == ("stem", "layer1", "layer2", "layer3", "layer4")
    n_features = len(torchvision.models.mobilenet_v3_small().features)
    assert B.block_names(MOBILENET) == tuple(f"features_{i}" for i in range(n_features)) and n_features == 13
    assert B.block_names(VGG) == ("block1", "block2", "block3", "block4", "block5")


def test_vgg16_body_is_torchvisions_features_without_the_last_pool():
    torch.manual_seed(3)
    net = B.build_net(VGG, 2).eval()
    torch.manual_seed(3)  # same seed, same draws: the classifier is built before our head
    features = torchvision.models.vgg16().features.eval()
    ours = [m for m in net.body.modules() if isinstance(m, torch.nn.Conv2d)]
    theirs = [m for m in features if isinstance(m, torch.nn.Conv2d)]
    assert len(ours) == len(theirs) == 13
    for a, b in zip(ours, theirs):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = net.feature_map(x)
        assert got.shape == (2, 512, 4, 4)  # the last max-pool (to 2×2) is left out
        want = features[:-1](TF.normalize(x, IMAGENET.mean, IMAGENET.std))
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert net.head.in_features == B.spec(VGG).features == 512


# ============================================================================ TransferNet


@pytest.mark.parametrize("k", [0, 1, 3, 5, None])
def test_trainable_blocks_are_the_last_k_and_the_head(k):
    net = B.build_net(RESNET, 4, trainable_blocks=k)
    names = B.block_names(RESNET)
    learning = names[len(names) - (len(names) if k is None else k):]
    want = {n for n, _ in net.named_parameters()
            if n.startswith("head.") or any(n.startswith(f"body.{b}.") for b in learning)}
    got = {n for n, p in net.named_parameters() if p.requires_grad}
    assert got == want
    assert B.trainable_parameters(net) == sum(p.numel() for n, p in net.named_parameters() if n in want)


def _norm_stats(block: torch.nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in block.modules() if isinstance(m, torch.nn.BatchNorm2d)
            for t in (m.running_mean, m.running_var, m.num_batches_tracked)]


def test_frozen_blocks_stay_in_eval_mode_and_keep_their_batch_norm_statistics():
    net = B.build_net(RESNET, 3, trainable_blocks=2).train()
    frozen, learning = list(net.body)[:3], list(net.body)[3:]
    assert all(not m.training for b in frozen for m in b.modules())
    assert all(m.training for b in learning for m in b.modules()) and net.head.training
    before = [_norm_stats(b) for b in net.body]
    net(torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    after = [_norm_stats(b) for b in net.body]
    for i, (b, a) in enumerate(zip(before, after)):
        same = all(torch.equal(x, y) for x, y in zip(b, a))
        assert same == (i < 3), B.block_names(RESNET)[i]
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(not m.training for b in frozen for m in b.modules()) and learning[0].training


def test_forward_is_head_of_pooled_body_of_normalised_input():
    net = B.build_net(MOBILENET, 5).eval()
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    mean = torch.tensor(IMAGENET.mean).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET.std).view(1, 3, 1, 1)
    with torch.no_grad():
        a = net.body((x - mean) / std)
        want = net.head(a.mean(dim=(2, 3)))
        torch.testing.assert_close(net(x), want, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(net.pooled(x), a.mean(dim=(2, 3)), atol=1e-6, rtol=1e-6)
    assert net(x).shape == (3, 5)


def test_transfer_net_rejects_bad_sizes():
    for bad in (-1, 6):
        with pytest.raises(ValueError, match="trainable_blocks"):
            B.build_net(RESNET, 3, trainable_blocks=bad)
    with pytest.raises(ValueError, match="at least 2 classes"):
        B.build_net(RESNET, 1)


# ============================================================================ augmentation


def test_augment_is_the_identity_in_eval_mode_and_with_everything_off():
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(A.Augment(ALL_AUGMENT).eval()(x), x)
    assert torch.equal(A.Augment(NO_AUGMENT).train()(x), x)
    assert not NO_AUGMENT.any and NO_AUGMENT.describe() == "none"
    # inside the network: only in training mode
    net = B.build_net(RESNET, 3, augment=A.Augment(ALL_AUGMENT, seed=1)).eval()
    plain = B.build_net(RESNET, 3).eval()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.equal(net(x), plain(x))


def test_flip_only_mirrors_whole_images():
    x = torch.rand(64, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    out = A.Augment(A.AugmentSpec(flip=True, crop=False), seed=3).train()(x)
    flipped = [torch.equal(out[i], torch.flip(x[i], [2])) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54 and sum(kept) == 64 - sum(flipped)


def _sample(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def test_affine_matrices_identity_flip_and_quarter_turn():
    x = torch.rand(4, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    one, zero = torch.ones(4), torch.zeros(4)
    off = torch.zeros(4, dtype=torch.bool)
    identity = A.affine_matrices(one, torch.zeros(4, 2), zero, off)
    torch.testing.assert_close(identity, torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(4, 2, 3))
    torch.testing.assert_close(_sample(x, identity), x, atol=1e-6, rtol=0)
    mirrored = A.affine_matrices(one, torch.zeros(4, 2), zero, ~off)
    torch.testing.assert_close(_sample(x, mirrored), torch.flip(x, [3]), atol=1e-6, rtol=0)
    turned = _sample(x, A.affine_matrices(one, torch.zeros(4, 2), torch.full((4,), 90.0), off))
    assert any(torch.allclose(turned, torch.rot90(x, k, dims=(2, 3)), atol=1e-5) for k in (1, -1))


def test_adjust_colors_follows_torchvisions_order_and_formulas():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 3, 8, 8, generator=g)
    b, c, s = (0.7 + 0.6 * torch.rand(12, generator=g) for _ in range(3))
    got = A.adjust_colors(x, b, c, s)
    want = torch.stack([
        TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x[i], float(b[i])), float(c[i])), float(s[i]))
        for i in range(12)
    ])
    # another order of the three steps, or another formula, differs by far more
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert (got - x).abs().max() > 0.05


def test_grayscale_uses_torchvisions_weights():
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(A.grayscale(x), TF.rgb_to_grayscale(x), atol=1e-7, rtol=0)


def test_augment_draws_are_seeded_and_stay_in_range():
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    a = A.Augment(ALL_AUGMENT, seed=5).train()(x)
    b = A.Augment(ALL_AUGMENT, seed=5).train()(x)
    c = A.Augment(ALL_AUGMENT, seed=6).train()(x)
    assert torch.equal(a, b) and not torch.allclose(a, c) and not torch.allclose(a, x)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    aug = A.Augment(A.AugmentSpec(flip=False, crop=True, rotate=True), seed=5).train()
    first, second = aug(x), aug(x)
    assert not torch.allclose(first, second)  # a new draw every step
    # bilinear resampling with border padding mixes each image's own pixels only
    lo, hi = x.amin((1, 2, 3)), x.amax((1, 2, 3))
    assert bool((first.amin((1, 2, 3)) >= lo - 1e-6).all() and (first.amax((1, 2, 3)) <= hi + 1e-6).all())


# ============================================================================ data


@pytest.mark.parametrize("size_wh", [(90, 50), (41, 77)])
def test_to_tensor_is_torchvisions_resize_center_crop_to_tensor(size_wh):
    w, h = size_wh
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8))
    want = T.Compose([T.Resize(32), T.CenterCrop(32), T.ToTensor()])(image)
    got = D.to_tensor(image, 32)
    assert got.shape == (3, 32, 32) and got.dtype == torch.float32
    assert torch.equal(got, want)
    grey = image.convert("L")
    assert torch.equal(D.to_tensor(grey, 32), T.Compose([T.Resize(32), T.CenterCrop(32), T.ToTensor()])(grey.convert("RGB")))
    with pytest.raises(ValueError, match="at least 16"):
        D.to_tensor(image, 8)


def test_split_is_stratified_disjoint_complete_and_seeded():
    counts = [4, 7, 10, 60, 2]
    for f in (0.25, 0.5, 0.9):
        train, dev = D.split_indices(counts, f, seed=3)
        assert not set(train) & set(dev)
        assert sorted(train + dev) == [(c, i) for c, n in enumerate(counts) for i in range(n)]
        for c, n in enumerate(counts):
            n_dev = sum(1 for k, _ in dev if k == c)
            assert n_dev == min(max(1, round(f * n)), n - 1)
            assert 1 <= n_dev and n - n_dev >= 1  # every class in both
        assert D.split_indices(counts, f, seed=3) == (train, dev)
    assert D.split_indices(counts, 0.25, seed=4) != D.split_indices(counts, 0.25, seed=3)
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="dev fraction"):
            D.split_indices(counts, bad, 0)
    with pytest.raises(ValueError, match="at least 2"):
        D.split_indices([3, 1], 0.25, 0)


def test_check_classes_names_every_problem_in_plain_sentences():
    four = _images(4)
    assert D.check_classes({"cat": four, "dog": four}) == []
    cases = {
        "one class": ({"cat": four}, ["at least 2 classes", "there is 1"]),
        "eleven classes": ({f"c{i}": four for i in range(11)}, ["at most 10 classes", "there are 11"]),
        "too few images": ({"cat": four[:3], "dog": four}, ["“cat”", "3 images", "at least 4"]),
        "too many images": ({"cat": [four[0]] * 61, "dog": four}, ["“cat”", "61 images", "at most 60"]),
        "same name": ({"Cat": four, " cat ": four}, ["already a class called “cat”"]),
        "empty name": ({"  ": four, "dog": four}, ["A class needs a name"]),
        "long name": ({"x" * 41: four, "dog": four}, ["at most 40 characters"]),
        "unprintable": ({"a\x07b": four, "dog": four}, ["cannot be shown"]),
    }
    for case, (classes, parts) in cases.items():
        problems = D.check_classes(classes)
        assert len(problems) == 1, (case, problems)
        assert all(p in problems[0] for p in parts), (case, problems)
        assert _one_sentence(problems[0]), problems[0]
        with pytest.raises(ValueError) as info:
            D.prepare(classes, 16)
        assert str(info.value) == problems[0]
    both = D.check_classes({"cat": four[:2]})  # one class, and too few images in it
    assert len(both) == 2
    with pytest.raises(ValueError) as info:
        D.prepare({"cat": four[:2]}, 16)
    assert str(info.value) == " ".join(both)


def test_prepare_gives_the_images_of_the_split():
    classes = {" red ": _images(4, seed=1), "green": _images(6, seed=2)}
    data = D.prepare(classes, 16, dev_fraction=0.25, seed=1)
    assert data.names == ("red", "green")
    _, dev = D.split_indices([4, 6], 0.25, 1)
    assert data.dev_index == dev and data.sizes == {"train": 7, "dev": 3}
    images = list(classes.values())
    for row, (c, i) in enumerate(data.dev_index):
        assert int(data.dev[1][row]) == c
        assert torch.equal(data.dev[0][row], D.to_tensor(images[c][i], 16))
    assert data.train[0].shape == (7, 3, 16, 16) and data.train[1].tolist() == [0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("which, names", [(D.EXAMPLE_SETS[0], ["brick", "grass", "gravel"]),
                                          (D.EXAMPLE_SETS[1], ["circle", "square", "triangle"])])
def test_example_sets(which, names):
    first = D.example_set(which, per_class=3, seed=0, side=32)
    assert list(first) == names
    for images in first.values():
        assert len(images) == 3 and all(im.mode == "RGB" and im.size == (32, 32) for im in images)
        assert len({im.tobytes() for im in images}) == 3
    again, other = D.example_set(which, 3, seed=0, side=32), D.example_set(which, 3, seed=1, side=32)
    raw = [[im.tobytes() for im in v] for v in first.values()]
    assert raw == [[im.tobytes() for im in v] for v in again.values()]
    assert raw != [[im.tobytes() for im in v] for v in other.values()]
    assert D.check_classes(D.example_set(which, seed=0, side=16)) == []
    with pytest.raises(ValueError, match="unknown example set"):
        D.example_set("Dogs")
    with pytest.raises(ValueError, match="per_class"):
        D.example_set(which, per_class=0)


# ============================================================================ training


def _shapes(per_class: int) -> dict[str, list[Image.Image]]:
    return D.example_set(D.EXAMPLE_SETS[1], per_class=per_class, seed=0, side=64)


FEATURE_CFG = TR.TransferConfig(backbone=MOBILENET, method=TR.FEATURES, image_size=64, epochs=2, lr=0.01, batch_size=4,
                                augment=NO_AUGMENT, seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Feature extraction without augmentation + the scratch lane, tracked in a store of its own; the
    "ImageNet weights" in a torch hub cache of its own, where the job reads them itself (no network)."""
    store = tmp_path_factory.mktemp("transfer-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLL_DATA_DIR", str(store))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        attempts = go_offline(mp, store / "torch")
        uri = tracking.tracking_uri()
        state = _save_cached(MOBILENET, 11)
        classes = _shapes(6)
        job = TR.TransferJob.of(FEATURE_CFG, classes)
        ctx = Recorder("transfer")
        result = TR.run_transfer(ctx, job, device=CPU)
        runs = tracking.search_runs(uri=uri)
        networks = {name: TR.load_network(r.run_id) for name, r in result.lanes.items()}
        assert attempts.count == 0
    return {"result": result, "state": state, "classes": classes, "uri": uri, "runs": runs, "job": job,
            "networks": networks, "snapshot": ctx.snapshot()}


def test_the_job_config_and_result_are_plain_data(trained):
    job = assert_plain(trained["job"], "config")
    assert job.cfg == FEATURE_CFG and job.names == ("circle", "square", "triangle")
    for name, images in trained["classes"].items():  # the same pixels cross over
        again = job.classes()[name]
        assert [np.asarray(a).tobytes() for a in again] == [np.asarray(b).tobytes() for b in images]
    result = assert_plain(trained["result"])
    assert not result.stopped and list(result.lanes) == list(trained["result"].lanes)
    for name, lane in result.lanes.items():
        np.testing.assert_array_equal(lane.outputs["confusion"], trained["result"].lanes[name].outputs["confusion"])
        assert lane.run_id == trained["result"].lanes[name].run_id
    pictures = [im for v in trained["classes"].values() for im in v]
    per_class = len(next(iter(trained["classes"].values())))
    assert [p.tobytes() for p in result.dev_pictures] == [
        np.asarray(pictures[c * per_class + i]).tobytes() for c, i in result.dev_index]  # as given (64 px)
    assert trained["snapshot"].diverged == ()
    with pytest.raises(ValueError, match="uint8 RGB"):
        TR.TransferJob(FEATURE_CFG, ("a", "b"), ((np.zeros((4, 4, 3)),), (np.zeros((4, 4, 3), np.uint8),)))
    with pytest.raises(ValueError, match="2 class names for 1 classes"):
        TR.TransferJob(FEATURE_CFG, ("a", "b"), ((np.zeros((4, 4, 3), np.uint8),),))


def test_big_dev_pictures_are_kept_small_for_the_page():
    big = np.random.default_rng(0).integers(0, 256, (300, 240, 3), dtype=np.uint8)
    small = TR._dev_picture(big)
    want = Image.fromarray(big)
    want.thumbnail((192, 192), Image.Resampling.BILINEAR)  # PIL's own shrink, the aspect ratio kept
    assert small.shape[:2] == (192, 154) and small.dtype == np.uint8
    assert np.array_equal(small, np.asarray(want))
    assert np.array_equal(TR._dev_picture(big[:150, :150]), big[:150, :150])  # small enough: as given


def test_feature_extraction_fast_path_equals_training_the_frozen_network(trained):
    result, state, cfg = trained["result"], trained["state"], FEATURE_CFG
    lane = result.lanes["pretrained, frozen"]
    assert lane.status == "FINISHED"
    # reference: the whole TransferNet with its body frozen, trained by core.training.fit on the images
    data = D.prepare(trained["classes"], cfg.image_size, cfg.dev_fraction, cfg.seed)
    torch.manual_seed(cfg.seed)
    ref = B.build_net(MOBILENET, 3, state=dict(state), trainable_blocks=0)
    initial = {k: v.clone() for k, v in ref.state_dict().items()}
    opt = Adam([{"params": list(ref.head.parameters()), "lr": cfg.lr}], lr=cfg.lr)
    fit(ref, data.train, opt, dev=data.dev, epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, device=CPU)
    got = trained["networks"]["pretrained, frozen"]  # the page's network: rebuilt from the lane's run
    assert not torch.allclose(ref.head.weight, initial["head.weight"])  # the head learned something
    torch.testing.assert_close(got.head.weight, ref.head.weight, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.head.bias, ref.head.bias, atol=1e-5, rtol=0)
    for key, tensor in got.state_dict().items():  # the body (batch-norm statistics included) did not change
        if key.startswith("body."):
            assert torch.equal(tensor, initial[key]), key
    assert lane.outputs["trainable"] == 576 * 3 + 3 and got.augment is None and not got.training
    scratch = result.lanes[TR.SCRATCH]
    assert scratch.status == "FINISHED"
    scratch_net = trained["networks"][TR.SCRATCH]
    assert scratch.outputs["trainable"] == sum(p.numel() for p in scratch_net.parameters())
    assert scratch_net.augment is None and not scratch_net.training


def test_both_lanes_are_tracked_runs_of_the_transfer_experiment(trained):
    result, runs = trained["result"], trained["runs"]
    assert list(result.lanes) == ["pretrained, frozen", TR.SCRATCH] == list(FEATURE_CFG.lanes)
    assert len(runs) == 2 and set(runs["experiment"]) == {"transfer"}
    assert set(runs["status"]) == {"FINISHED"}
    by_id = runs.set_index("run_id")
    assert set(by_id.index) == {r.run_id for r in result.lanes.values()}
    # one tag holds the job's comparison id on both runs (the one the Runs page reads)
    assert [c for c in runs.columns if c.startswith("tags.") and set(runs[c]) == {result.comparison}]
    pre, scratch = (by_id.loc[result.lanes[n].run_id] for n in ("pretrained, frozen", TR.SCRATCH))
    assert pre["tags.dll.weights"] == "imagenet" and scratch["tags.dll.weights"] == "random"
    assert pre["tags.dll.trained"] == "head on cached features" and scratch["tags.dll.trained"] == "head and body"
    for row in (pre, scratch):
        assert row["params.backbone"] == MOBILENET and row["params.method"] == TR.FEATURES
        assert row["params.image_size"] == "64" and row["params.epochs"] == "2" and row["params.batch_size"] == "4"
        assert json.loads(row["params.lr"]) == 0.01 and row["params.seed"] == "0"
        assert json.loads(row["params.classes"]) == ["circle", "square", "triangle"]
        assert json.loads(row["params.images_per_class"]) == [6, 6, 6]
        assert row["params.augment.flip"] == "false" and row["params.augment.crop"] == "false"
    for lane in result.lanes.values():
        run_id = lane.run_id
        logged = json.loads(tracking.text_artifact(run_id, "confusion_matrix.json", uri=trained["uri"]))
        assert logged == {"classes": ["circle", "square", "triangle"], "confusion": lane.outputs["confusion"].tolist()}
        assert tracking.text_artifact(run_id, "labels.txt", uri=trained["uri"]) == "circle\nsquare\ntriangle\n"
        images = {p for p, _ in tracking.image_artifacts(run_id, uri=trained["uri"])}
        assert {"images/confusion_matrix.png", "images/loss_curve.png"} <= images


def test_the_runs_page_groups_the_two_lanes(trained):
    groups = R.comparison_groups(trained["runs"])
    assert len(groups) == 1
    assert set(groups.iloc[0]["run_ids"]) == {r.run_id for r in trained["result"].lanes.values()}


def test_confusion_matrix_is_sklearns_on_the_dev_predictions(trained):
    result = trained["result"]
    data = D.prepare(trained["classes"], 64, FEATURE_CFG.dev_fraction, FEATURE_CFG.seed)
    assert np.array_equal(result.dev_labels, data.dev[1].numpy()) and result.dev_index == data.dev_index
    per_class = np.bincount(data.dev[1].numpy(), minlength=3)
    assert per_class.tolist() == [min(max(1, round(0.25 * 6)), 5)] * 3
    for name, lane in result.lanes.items():
        with torch.no_grad():
            probs = trained["networks"][name](data.dev[0]).softmax(1)
        predicted = probs.argmax(1).numpy()
        np.testing.assert_array_equal(lane.outputs["confusion"], sk_confusion(data.dev[1].numpy(), predicted, labels=range(3)))
        np.testing.assert_array_equal(lane.outputs["confusion"].sum(1), per_class)
        np.testing.assert_allclose(lane.outputs["dev_probabilities"], probs.numpy(), atol=1e-6)
        assert lane.dev_accuracy == pytest.approx(np.trace(lane.outputs["confusion"]) / len(predicted), abs=1e-9)
    assert result.best is max(result.lanes.values(), key=lambda r: r.dev_accuracy)


def test_without_imagenet_weights_only_the_scratch_lane_trains(offline, fresh_store):
    classes = _shapes(4)
    cfg = TR.TransferConfig(backbone=MOBILENET, pretrained=False, image_size=64, epochs=1, batch_size=8, seed=0)
    assert cfg.lanes == (TR.SCRATCH,)
    result = TR.run_transfer(None, TR.TransferJob.of(cfg, classes), device=CPU)
    assert list(result.lanes) == [TR.SCRATCH] and result.lanes[TR.SCRATCH].status == "FINISHED"
    runs = tracking.search_runs()
    assert len(runs) == 1 and runs.iloc[0]["tags.dll.weights"] == "random" and runs.iloc[0]["params.pretrained"] == "false"
    assert offline.count == 0  # nothing was downloaded for a from-scratch training
    # asked for the pretrained lane, the job reads the weights itself: not here, one sentence
    with pytest.raises(B.WeightsUnavailable) as info:
        TR.run_transfer(None, TR.TransferJob.of(replace(cfg, pretrained=True), classes), device=CPU)
    assert _one_sentence(str(info.value)) and "ImageNet weights of MobileNetV3-Small" in str(info.value)
    assert len(tracking.search_runs()) == 1  # no run was opened for it
    with pytest.raises(ValueError, match="from-scratch run"):
        TR.TransferConfig(pretrained=False, from_scratch=False)


def test_a_diverged_lane_fails_with_its_message_and_the_other_lane_runs(fresh_store):
    # Adam's steps are bounded by lr ≤ 10, so no allowed setting makes the loss NaN reliably:
    # weights holding a NaN make the pretrained lane's loss NaN at its first step instead.
    state = _random_state(MOBILENET, 0)
    state["features.12.1.running_var"][0] = float("nan")
    cfg = replace(FEATURE_CFG, epochs=1)
    ctx = Recorder("transfer")
    result = TR.run_transfer(ctx, TR.TransferJob.of(cfg, _shapes(4)), state=state, device=CPU)
    failed, scratch = result.lanes["pretrained, frozen"], result.lanes[TR.SCRATCH]
    assert failed.error == "the loss became NaN at step 1 — try a smaller learning rate"
    assert failed.status == "FAILED" and failed.outputs["confusion"] is None and failed.outputs["dev_probabilities"] is None
    assert ctx.snapshot().diverged == (("pretrained, frozen", failed.error),)  # said once, to the job panel
    assert scratch.status == "FINISHED" and scratch.outputs["confusion"] is not None
    assert result.best is scratch and not result.stopped
    assert_plain(result)
    runs = tracking.search_runs().set_index("run_id")
    assert runs.loc[failed.run_id, "status"] == "FAILED" and runs.loc[scratch.run_id, "status"] == "FINISHED"
    assert runs.loc[failed.run_id, "tags.dll.error"] == failed.error


def test_stop_keeps_the_finished_lane_and_kills_the_running_one(offline, fresh_store):
    _save_cached(MOBILENET, 0)  # where the job reads the "ImageNet weights" itself
    cfg = replace(FEATURE_CFG, epochs=3)
    job = assert_plain(TR.TransferJob.of(cfg, _shapes(4)), "config")
    ctx = StopAfter(TR.SCRATCH, 1)  # Stop as soon as the scratch lane reports its first step
    ending = run_job(TR.run_transfer, ctx, job)
    assert ending.status == KILLED and ending.error is None
    result = assert_plain(ending.result)
    assert result.stopped
    done, stopped = result.lanes["pretrained, frozen"], result.lanes[TR.SCRATCH]
    assert done.status == "FINISHED" and done.outputs["confusion"] is not None
    steps_per_epoch = math.ceil(result.sizes["train"] / cfg.batch_size)
    assert stopped.status == "KILLED" and stopped.outputs["confusion"] is None
    assert 1 <= stopped.steps < cfg.epochs * steps_per_epoch
    assert result.best is done
    runs = tracking.search_runs().set_index("run_id")
    assert runs.loc[done.run_id, "status"] == "FINISHED" and runs.loc[stopped.run_id, "status"] == "KILLED"
    assert offline.count == 0


class _StopWhileComputingFeatures(Recorder):
    """Stop pressed while the frozen body computes the features (before the lane's training and run)."""

    def _emit(self, event: tuple) -> None:
        super()._emit(event)
        if event[0] == "report" and (event[2] or "").startswith("features of image"):
            self.cancel.cancel()


def test_stop_while_the_features_are_computed_ends_the_job_stopped_without_runs(offline, fresh_store):
    _save_cached(MOBILENET, 0)
    ending = run_job(TR.run_transfer, _StopWhileComputingFeatures("transfer"), TR.TransferJob.of(FEATURE_CFG, _shapes(4)))
    assert ending.status == KILLED
    result = assert_plain(ending.result)
    assert result.stopped and result.lanes == {} and result.best is None
    assert tracking.search_runs().empty  # neither lane opened a run


def test_the_network_of_a_run_is_rebuilt_or_a_plain_value_error(offline, fresh_store):
    # fine-tuning with augmentation: the whole network is in the run; rebuilt without augmentation
    _save_cached(MOBILENET, 3)
    cfg = replace(FEATURE_CFG, method=TR.FINE_TUNE, fine_tune_blocks=1, from_scratch=False, epochs=1,
                  augment=A.AugmentSpec(flip=True))
    result = TR.run_transfer(None, TR.TransferJob.of(cfg, _shapes(4)), device=CPU)
    lane = result.lanes["pretrained, last 1 block tuned"]
    assert lane.status == "FINISHED"
    net = TR.load_network(lane.run_id)
    assert net.augment is None and not net.training
    data = D.prepare(_shapes(4), cfg.image_size, cfg.dev_fraction, cfg.seed)
    with torch.no_grad():
        probs = net(data.dev[0]).softmax(1).numpy()
    np.testing.assert_allclose(probs, lane.outputs["dev_probabilities"], atol=1e-6)  # the network that made the dev predictions
    # a frozen body needs the ImageNet weights to be rebuilt: gone, a plain sentence
    frozen = TR.run_transfer(None, TR.TransferJob.of(replace(FEATURE_CFG, epochs=1, from_scratch=False), _shapes(4)),
                             device=CPU).lanes["pretrained, frozen"]
    pretrained.hub_path(B.spec(MOBILENET).url).unlink()
    with pytest.raises(ValueError, match="no longer on this machine"):
        TR.load_network(frozen.run_id)
    with pytest.raises(ValueError, match="not in the tracking store"):
        TR.load_network("0123456789abcdef0123456789abcdef")
    with pytest.raises(ValueError, match="not a run id"):
        TR.load_network("x' OR '1' = '1")
    with tracking.start_run("transfer", {"backbone": MOBILENET}) as run:
        pass
    with pytest.raises(ValueError, match="did not record"):
        TR.load_network(run.run_id)
    assert offline.count == 0


def test_fine_tuning_optimizer_and_config_checks():
    cfg = TR.TransferConfig(backbone=RESNET, method=TR.FINE_TUNE, fine_tune_blocks=2, lr=0.01, backbone_lr_factor=0.1)
    assert cfg.pretrained_lane == "pretrained, last 2 blocks tuned" and cfg.trainable_blocks == 2
    net = B.build_net(RESNET, 3, trainable_blocks=2)
    head, body = TR.lane_optimizer(net, cfg, pretrained=True).param_groups
    assert {id(p) for p in head["params"]} == {id(p) for p in net.head.parameters()} and head["lr"] == 0.01
    tuned = [*net.body.layer3.parameters(), *net.body.layer4.parameters()]
    assert {id(p) for p in body["params"]} == {id(p) for p in tuned} and body["lr"] == pytest.approx(0.001)
    scratch = B.build_net(RESNET, 3)
    groups = TR.lane_optimizer(scratch, cfg, pretrained=False).param_groups
    assert [g["lr"] for g in groups] == [0.01, 0.01]
    assert sum(len(g["params"]) for g in groups) == len(list(scratch.parameters()))
    with pytest.raises(ValueError, match="fine-tune between 1 and 5"):
        TR.TransferConfig(backbone=RESNET, method=TR.FINE_TUNE, fine_tune_blocks=6)
    with pytest.raises(ValueError, match="image size"):
        TR.TransferConfig(image_size=100)
    with pytest.raises(ValueError, match="learning rate"):
        TR.TransferConfig(lr=11)


# ============================================================================ CAM


@pytest.fixture(scope="module")
def cam_net():
    torch.manual_seed(5)
    net = B.build_net(RESNET, 3).eval()
    with torch.no_grad():
        net.head.weight.mul_(20)  # spread the class scores
    return net


def _hooked_grad_cam(model: B.TransferNet, x: torch.Tensor, target: int) -> torch.Tensor:
    """Grad-CAM as the paper writes it, on a copy: a forward hook keeps the last block's activations."""
    model = copy.deepcopy(model).eval()
    kept = {}

    def keep(module, args, output):
        output.retain_grad()
        kept["a"] = output

    model.body[-1].register_forward_hook(keep)
    logits = model(x[None])
    logits[0, target].backward()
    a, grad = kept["a"], kept["a"].grad
    alpha = grad.mean((2, 3), keepdim=True)
    raw = F.relu((alpha * a).sum(1, keepdim=True)).detach()
    up = F.interpolate(raw, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return up / up.max() if up.max() > 0 else up


def test_grad_cam_equals_cam_and_a_hooked_grad_cam(cam_net):
    x = D.to_tensor(D.example_set(D.EXAMPLE_SETS[1], 1, seed=2, side=96)["square"][0], 96)
    nonzero = 0
    for c in range(3):
        heat, probs = C.grad_cam(cam_net, x, c)
        assert heat.shape == (96, 96) and float(heat.min()) >= 0 and float(heat.max()) <= 1
        if float(heat.max()) > 0:
            nonzero += 1
            assert float(heat.max()) == pytest.approx(1.0)
        torch.testing.assert_close(heat, C.cam(cam_net, x, c), atol=1e-5, rtol=0)
        torch.testing.assert_close(heat, _hooked_grad_cam(cam_net, x, c), atol=1e-5, rtol=0)
        with torch.no_grad():
            torch.testing.assert_close(probs, cam_net(x[None]).softmax(1)[0], atol=1e-6, rtol=0)
    assert nonzero >= 1
    assert all(p.grad is None for p in cam_net.parameters())  # the weights got no gradients
    default, probs = C.grad_cam(cam_net, x)
    assert torch.equal(default, C.grad_cam(cam_net, x, int(probs.argmax()))[0])
    with pytest.raises(ValueError, match="target"):
        C.grad_cam(cam_net, x, 3)
    with pytest.raises(ValueError, match="one RGB image"):
        C.grad_cam(cam_net, x[None])


def test_predict_probabilities_heatmap_and_view(cam_net):
    photo = D.example_set(D.EXAMPLE_SETS[1], 1, seed=3, side=120)["circle"][0].resize((120, 90))
    x = D.to_tensor(photo, 96)
    with torch.no_grad():
        want = cam_net(x[None]).softmax(1)[0].double().numpy()
    p = C.predict(cam_net, photo, 96)
    np.testing.assert_allclose(p.probabilities, want, atol=1e-6)
    assert p.probabilities.sum() == pytest.approx(1.0) and p.target == p.predicted == int(want.argmax())
    other = (p.predicted + 1) % 3
    q = C.predict(cam_net, photo, 96, target=other)
    assert q.target == other
    np.testing.assert_allclose(q.heatmap, C.cam(cam_net, x, other).numpy(), atol=1e-5)
    assert p.view.size == (96, 96) and p.view.mode == "RGB"
    assert np.abs(np.asarray(p.view) / 255 - x.permute(1, 2, 0).numpy()).max() <= 0.5 / 255 + 1e-6


def test_overlay_strength_runs_from_the_picture_to_the_colormap():
    rng = np.random.default_rng(0)
    view = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    heat = rng.random((20, 30))
    assert np.array_equal(np.asarray(artifacts.heatmap_overlay(view, heat, 0.0)), np.asarray(view))
    colours = colormaps["inferno"](heat)[..., :3] * 255
    assert np.abs(np.asarray(artifacts.heatmap_overlay(view, heat, 1.0)).astype(float) - colours).max() <= 0.5 + 1e-9
    half = (np.asarray(view).astype(float) + colours) / 2
    assert np.abs(np.asarray(artifacts.heatmap_overlay(view, heat, 0.5)).astype(float) - half).max() <= 0.5 + 1e-9
    with pytest.raises(ValueError, match="strength"):
        artifacts.heatmap_overlay(view, heat, 1.5)
    with pytest.raises(ValueError, match="the map is"):
        artifacts.heatmap_overlay(view, heat.T)


# ============================================================================ export

NAMES = ("cat", "dog", "crème brûlée")
SIZE = 64


@pytest.fixture(scope="module")
def bundle():
    torch.manual_seed(9)
    model = B.build_net(RESNET, 3, augment=A.Augment(ALL_AUGMENT, seed=0))
    with torch.no_grad():
        model.head.weight.mul_(10)  # spread the class scores (a random body's features are much alike)
    model.train()  # the export must not depend on the caller's mode, nor augment
    out = E.export_bundle(model, NAMES, SIZE)
    assert model.augment is not None and model.training  # the caller's network is left as it was
    return model.eval(), out


def _pictures(rows: list[int]) -> torch.Tensor:
    images = [im for v in D.example_set(D.EXAMPLE_SETS[0], 2, seed=0, side=SIZE).values() for im in v]
    return torch.stack([D.to_tensor(images[i], SIZE) for i in rows])


def _reference(model: B.TransferNet, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(x).softmax(1).numpy()


def test_bundle_files_labels_readme_and_zip(bundle):
    model, out = bundle
    assert set(out.files) == {"model.pt", "model.onnx", "labels.txt", "preprocessing.json", "README.md"}
    assert out.files["labels.txt"].decode("utf-8").splitlines() == list(NAMES)
    prep = json.loads(out.files["preprocessing.json"])
    assert prep["input"] == [3, SIZE, SIZE] and prep["labels"] == list(NAMES)
    assert prep["normalisation_inside_model"] == {"mean": list(IMAGENET.mean), "std": list(IMAGENET.std)}
    readme = out.files["README.md"].decode("utf-8")
    assert f"[batch, 3, {SIZE}, {SIZE}]" in readme and "[batch, 3]" in readme and all(n in readme for n in NAMES)
    with zipfile.ZipFile(io.BytesIO(out.zip_bytes())) as z:
        assert {n: z.read(n) for n in z.namelist()} == out.files
    with pytest.raises(ValueError, match="2 labels for a network with 3 outputs"):
        E.export_bundle(model, NAMES[:2], SIZE)
    assert "model.onnx" not in E.export_bundle(model, NAMES, SIZE, onnx=False).files


def test_torchscript_file_gives_the_models_probabilities(bundle):
    model, out = bundle
    traced = torch.jit.load(io.BytesIO(out.files["model.pt"]))
    x = _pictures([0, 3, 5])
    with torch.no_grad():
        got = traced(x).numpy()
    want = _reference(model, x)
    assert len(set(want.argmax(1).tolist())) > 1 and want.max() < 0.99  # a comparison that can tell networks apart
    np.testing.assert_allclose(got, want, atol=1e-6)
    noise = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        np.testing.assert_allclose(traced(noise).numpy(), _reference(model, noise), atol=1e-6)


def test_onnx_file_gives_the_models_probabilities_for_any_batch(bundle):
    import onnxruntime

    model, out = bundle
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(out.files["model.onnx"], options, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    for rows in ([0, 3, 5], [3]):
        x = _pictures(rows)
        (got,) = session.run(["probabilities"], {"image": x.numpy()})
        assert got.shape == (len(rows), 3)
        np.testing.assert_allclose(got, _reference(model, x), atol=1e-5)


def _snippets(readme: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)


def _run_snippet(code: str) -> tuple[str, dict]:
    out, namespace = io.StringIO(), {"__name__": "__readme__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<README snippet>", "exec"), namespace)
    return out.getvalue(), namespace


@pytest.fixture
def bundle_folder(bundle, tmp_path, monkeypatch):
    _, out = bundle
    for name in ("model.pt", "model.onnx", "labels.txt"):
        (tmp_path / name).write_bytes(out.files[name])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _photo(folder, size_wh: tuple[int, int]) -> Image.Image:
    picture = D.example_set(D.EXAMPLE_SETS[1], 1, seed=4, side=120)["triangle"][0].resize(size_wh)
    picture.save(folder / "photo.jpg", quality=95)
    return Image.open(folder / "photo.jpg").convert("RGB")  # what the snippets read: the decoded JPEG


@pytest.mark.parametrize("which", [0, 1], ids=["pytorch", "onnxruntime"])
def test_readme_snippets_print_the_models_label_for_a_photo(bundle, bundle_folder, which):
    model, out = bundle
    code = _snippets(out.files["README.md"].decode("utf-8"))
    assert len(code) == 2
    photo = _photo(bundle_folder, (80, 64))
    x = D.to_tensor(photo, SIZE)
    want = _reference(model, x[None])[0]
    printed, namespace = _run_snippet(code[which])
    label, probability = printed.strip().rsplit(" ", 1)
    assert label == NAMES[int(want.argmax())]
    assert float(probability) == pytest.approx(float(want.max()), abs=1e-5)
    np.testing.assert_allclose(np.asarray(namespace["x"]), x[None].numpy(), atol=1e-6)  # the same preprocessing


def test_readme_onnx_preprocessing_equals_to_tensor_for_any_photo(bundle, bundle_folder):
    _, out = bundle
    code = _snippets(out.files["README.md"].decode("utf-8"))[1]
    photo = _photo(bundle_folder, (96, 80))  # long side 96·64/80 = 76.8 pixels
    _, namespace = _run_snippet(code)
    np.testing.assert_allclose(np.asarray(namespace["x"]), D.to_tensor(photo, SIZE)[None].numpy(), atol=1e-6)
