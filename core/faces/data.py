"""Identity data sets for face verification: whose image is this?

Two face sets come from scikit-learn when they can be downloaded (Olivetti: 40 people ×
10 frontal photos; Labeled Faces in the Wild: the people with at least 20 photos). Offline,
digits stand in for identities: every image of a "3" belongs to the same "person", so the
same siamese training and one-shot evaluation run on scikit-learn's 8×8 digits or the
MNIST sample, and the page says plainly that such a model has never seen a face.

:func:`split_identities` keeps some identities out of training altogether: one-shot
verification is judged on people (or digits) the network never saw.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import numpy as np
import torch

from core.data import DOWNLOAD_TIMEOUT_S, DatasetUnavailable, data_dir, load_dataset

__all__ = [
    "FACE_SETS",
    "IdentitySet",
    "IdentitySplit",
    "LFW_MIN_FACES",
    "load_identities",
    "split_identities",
]

LFW_MIN_FACES = 20
# a square crop of LFW's 250×250 photos around the face (scikit-learn's default crop is 125×94),
# halved to 62×62
LFW_SLICE = (slice(70, 194), slice(63, 187))
LFW_RESIZE = 0.5


@dataclass(frozen=True)
class FaceSetInfo:
    """What the page says about one identity set."""

    kind: str  # "faces" | "digits"
    offline: bool
    identities: int  # how many identities it has
    description: str


FACE_SETS: dict[str, FaceSetInfo] = {
    "digits": FaceSetInfo("digits", True, 10, "scikit-learn digits: 1,797 images of 8×8 pixels; the ten digits stand in "
                                              "for ten people (offline)"),
    "mnist_sample": FaceSetInfo("digits", True, 10, "MNIST sample: 5,000 digits of 28×28 pixels; the ten digits stand in "
                                                    "for ten people (offline)"),
    "olivetti": FaceSetInfo("faces", False, 40, "Olivetti faces (AT&T): 40 people, 10 frontal grey photos each, "
                                                "64×64 pixels (download, a few MB)"),
    "lfw": FaceSetInfo("faces", False, 62, f"Labeled Faces in the Wild: the 62 people with at least {LFW_MIN_FACES} "
                                           "photos, grey, 62×62 pixels (download, about 200 MB)"),
}
OFFLINE_HINT = "use the offline digits or MNIST sample instead, where each digit stands in for a person"


@dataclass(frozen=True)
class IdentitySet:
    """Images with the identity they show.

    ``X``: [N, C, H, W] float32 in [0, 1]; ``y``: [N] int64 identity ids; ``names``: a
    display name per identity id (``names[y[i]]``); ``kind``: "faces" or "digits" (digits
    standing in for people); ``name``: the set's key in :data:`FACE_SETS`.
    """

    X: torch.Tensor
    y: torch.Tensor
    names: tuple[str, ...]
    kind: str
    description: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.X.ndim != 4:
            raise ValueError(f"images must be an [N, C, H, W] tensor, got shape {tuple(self.X.shape)}")
        if len(self.X) != len(self.y):
            raise ValueError(f"X has {len(self.X)} images but y has {len(self.y)} identities")
        if self.kind not in ("faces", "digits"):
            raise ValueError(f"kind must be 'faces' or 'digits', got {self.kind!r}")
        if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= len(self.names)):
            raise ValueError("every identity id needs a name")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def identities(self) -> list[int]:
        """The identity ids present, sorted."""
        return sorted(int(v) for v in torch.unique(self.y))

    @property
    def n_identities(self) -> int:
        return len(self.identities)

    @property
    def channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def size(self) -> int:
        """The image side in pixels (all sets here are square)."""
        return int(self.X.shape[-1])

    def subset(self, identities: list[int] | tuple[int, ...]) -> IdentitySet:
        """Only the images of ``identities`` (ids and names kept as they are)."""
        keep = torch.isin(self.y, torch.as_tensor(list(identities), dtype=self.y.dtype))
        return IdentitySet(self.X[keep], self.y[keep], self.names, self.kind, self.description, self.name)


@dataclass(frozen=True)
class IdentitySplit:
    """Training identities and identities never seen in training (for one-shot evaluation)."""

    train: IdentitySet
    unseen: IdentitySet
    train_ids: tuple[int, ...]
    unseen_ids: tuple[int, ...]


def split_identities(ds: IdentitySet, n_unseen: int, seed: int | None = None) -> IdentitySplit:
    """Keep ``n_unseen`` identities out of training.

    ``seed=None`` keeps out the last ``n_unseen`` identity ids (digits: train on 0–6,
    evaluate on 7–9); an int draws them at random with that seed. At least two identities
    must remain on each side (a triplet needs two identities, and so does a "different"
    pair).
    """
    ids = ds.identities
    if not 2 <= n_unseen <= len(ids) - 2:
        raise ValueError(f"keep between 2 and {len(ids) - 2} identities unseen: {ds.name or 'this set'} has {len(ids)}")
    if seed is None:
        unseen = ids[-n_unseen:]
    else:
        rng = np.random.default_rng(seed)
        unseen = sorted(int(v) for v in rng.choice(ids, size=n_unseen, replace=False))
    train = [i for i in ids if i not in unseen]
    return IdentitySplit(ds.subset(train), ds.subset(unseen), tuple(train), tuple(unseen))


def _as_images(images: np.ndarray) -> torch.Tensor:
    """[N, H, W] grey in [0, 1] or [0, 255] → [N, 1, H, W] float32 in [0, 1]."""
    x = np.asarray(images, dtype=np.float32)
    if x.size and x.max() > 1.5:  # 0–255 (older scikit-learn LFW)
        x = x / 255.0
    return torch.from_numpy(np.clip(x, 0, 1)).unsqueeze(1).contiguous()


_fetch_lock = threading.Lock()


def _fetch(label: str, fetch_name: str, download: bool, **kwargs: object) -> object:
    """Call ``sklearn.datasets.<fetch_name>`` with a data folder inside the project's and a
    socket timeout; any failure → :class:`DatasetUnavailable` in one sentence."""
    from sklearn import datasets as skd

    home = data_dir() / "scikit_learn"
    with _fetch_lock:
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # urllib would otherwise wait forever
        try:
            return getattr(skd, fetch_name)(data_home=str(home), download_if_missing=download, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
            how = "downloaded" if download else "found on this machine"
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(":.")[:120]
            raise DatasetUnavailable(f"The {label} could not be {how} ({reason}), so {OFFLINE_HINT}.") from exc
        finally:
            socket.setdefaulttimeout(old)


def _load_olivetti(download: bool) -> IdentitySet:
    bunch = _fetch("Olivetti faces", "fetch_olivetti_faces", download, n_retries=1, delay=0.5)
    y = torch.as_tensor(np.asarray(bunch.target), dtype=torch.int64)
    names = tuple(f"person {i + 1}" for i in range(int(y.max()) + 1))
    return IdentitySet(_as_images(bunch.images), y, names, "faces", FACE_SETS["olivetti"].description, "olivetti")


def _load_lfw(download: bool) -> IdentitySet:
    bunch = _fetch("Labeled Faces in the Wild", "fetch_lfw_people", download, min_faces_per_person=LFW_MIN_FACES,
                   resize=LFW_RESIZE, slice_=LFW_SLICE, color=False, n_retries=1, delay=0.5)
    y = torch.as_tensor(np.asarray(bunch.target), dtype=torch.int64)
    names = tuple(str(n) for n in bunch.target_names)
    return IdentitySet(_as_images(bunch.images), y, names, "faces", FACE_SETS["lfw"].description, "lfw")


def _load_digits(name: str) -> IdentitySet:
    ds = load_dataset(name)
    names = tuple(f"digit {c}" for c in ds.classes)
    return IdentitySet(ds.X, ds.y, names, "digits", FACE_SETS[name].description, name)


def load_identities(name: str, *, download: bool = True) -> IdentitySet:
    """The identity set ``name`` (a key of :data:`FACE_SETS`).

    "olivetti" and "lfw" are fetched by scikit-learn into the project's data folder (once;
    later calls read the cached copy); with ``download=False`` only a cached copy is used.
    Raises :class:`core.data.DatasetUnavailable` (one sentence naming the offline
    alternatives) when a face set cannot be had; "digits" and "mnist_sample" are offline.
    """
    if name not in FACE_SETS:
        raise ValueError(f"unknown identity set {name!r}: choose one of {', '.join(FACE_SETS)}")
    if name == "olivetti":
        return _load_olivetti(download)
    if name == "lfw":
        return _load_lfw(download)
    return _load_digits(name)
