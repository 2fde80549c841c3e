"""Toy 2-D sets (the TensorFlow Playground family), generated with a seed, and your own points from a CSV."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TOY_KINDS = ("circles", "xor", "gaussians", "spirals", "moons")


def _check_size(n: int, noise: float) -> None:
    """``ValueError`` unless 10 ≤ ``n`` ≤ 100,000 and 0 ≤ ``noise`` ≤ 1."""
    if not 10 <= n <= 100_000:
        raise ValueError(f"number of points must be between 10 and 100,000, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be between 0 and 1, got {noise}")


def make_toy(
    kind: str, n: int = 400, noise: float = 0.1, seed: int = 0, n_classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """A toy set of ``n`` points in roughly [-1, 1]².

    Returns ``X`` float32 of shape [n, 2] and ``y`` int64 of shape [n] with labels in
    ``range(n_classes)``. ``noise`` is the standard deviation of Gaussian jitter relative
    to the unit square. ``n_classes`` > 2 is honoured by "gaussians" and "spirals"; the
    other kinds are two-class by construction.
    """
    if kind not in TOY_KINDS:
        raise ValueError(f"unknown toy set {kind!r}: choose one of {', '.join(TOY_KINDS)}")
    _check_size(n, noise)
    if not 2 <= n_classes <= 6:
        raise ValueError(f"number of classes must be between 2 and 6, got {n_classes}")
    if kind in ("circles", "xor", "moons"):
        n_classes = 2
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    if kind == "circles":
        r = np.where(y == 0, rng.uniform(0.0, 0.45, n), rng.uniform(0.65, 1.0, n))
        t = rng.uniform(0, 2 * math.pi, n)
        X = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    elif kind == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        X += np.sign(X) * 0.05  # keep a small gap around the axes
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    elif kind == "gaussians":
        angles = 2 * math.pi * np.arange(n_classes) / n_classes + math.pi / 4
        centres = 0.55 * np.stack([np.cos(angles), np.sin(angles)], 1)
        X = centres[y] + rng.normal(0, 0.18, (n, 2))
    elif kind == "spirals":
        r = rng.uniform(0.05, 1.0, n)
        t = 1.75 * 2 * math.pi * r + 2 * math.pi * y / n_classes
        X = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    else:  # moons
        t = rng.uniform(0, math.pi, n)
        upper = np.stack([np.cos(t) - 0.5, np.sin(t) - 0.25], 1)
        lower = np.stack([0.5 - np.cos(t), 0.25 - np.sin(t)], 1)
        X = np.where((y == 0)[:, None], upper, lower) * 0.8
    X = X + rng.normal(0, noise, X.shape)
    return X.astype(np.float32), y.astype(np.int64)


# -- regression sets (TensorFlow Playground's "plane" and "multi-Gaussian") -------------------------

REGRESSION_KINDS = ("plane", "multi-gaussian")
_RADIUS = 6.0  # TensorFlow Playground draws its points in [-6, 6]²
# (centre x, centre y, sign) of the six bumps of TensorFlow Playground's regressGaussian
GAUSSIAN_BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def plane_target(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """TensorFlow Playground's plane: (x + y) mapped linearly from [-10, 10] to [-1, 1] (not clamped)."""
    return (x + y) / 10.0


def gaussian_target(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """TensorFlow Playground's multi-Gaussian: for each bump, sign · clamp(1 − d/2, 0, 1) with d the
    distance to its centre; the label is the one largest in absolute value (0 far from every bump)."""
    label = np.zeros(np.broadcast(x, y).shape)
    for cx, cy, sign in GAUSSIAN_BUMPS:
        new = sign * np.clip(1.0 - np.hypot(x - cx, y - cy) / 2.0, 0.0, 1.0)
        label = np.where(np.abs(new) > np.abs(label), new, label)
    return label


def make_regression(kind: str, n: int = 400, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A regression set of ``n`` points, as TensorFlow Playground's ``regressPlane`` / ``regressGaussian``
    make it: points uniform in [-6, 6]², the target computed at the point moved by a uniform jitter of
    ±6·``noise`` in each coordinate. Returns ``X`` float32 [n, 2] scaled to [-1, 1]² (÷ 6, like the
    classification sets) and the target ``t`` float32 [n] in [-1, 1] (the plane's may pass ±1 with noise)."""
    if kind not in REGRESSION_KINDS:
        raise ValueError(f"unknown regression set {kind!r}: choose one of {', '.join(REGRESSION_KINDS)}")
    _check_size(n, noise)
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-_RADIUS, _RADIUS, (n, 2))
    jitter = rng.uniform(-_RADIUS, _RADIUS, (n, 2)) * noise
    target = plane_target if kind == "plane" else gaussian_target
    t = target(xy[:, 0] + jitter[:, 0], xy[:, 1] + jitter[:, 1])
    return (xy / _RADIUS).astype(np.float32), t.astype(np.float32)


# -- your own points from a CSV ---------------------------------------------------------------------

CSV_MIN_ROWS, CSV_MAX_ROWS, CSV_MAX_CLASSES = 10, 5000, 6
CSV_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class PointSet:
    """Points read from a CSV, as plain (hashable, comparable) data.

    ``xy``: one (x1, x2) per row as given; ``values``: the class index (0..K-1, ``classification``) or
    the target (``regression``) per row; ``classes``: the file's own label of each class index."""

    xy: tuple[tuple[float, float], ...]
    values: tuple[float, ...]
    task: str  # "classification" or "regression"
    classes: tuple[str, ...] = ()
    name: str = ""

    def __len__(self) -> int:
        return len(self.values)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def arrays(self, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``X`` float32 [n, 2] with its largest |coordinate| at ``scale`` (the origin stays put) and the
        values: int64 class indices, or float32 targets with the largest |target| at 1 (a constant 0 stays 0)."""
        X = np.asarray(self.xy, dtype=np.float64)
        X = X * (scale / (float(np.abs(X).max()) or 1.0))
        if self.task == "classification":
            return X.astype(np.float32), np.asarray(self.values, dtype=np.int64)
        t = np.asarray(self.values, dtype=np.float64)
        return X.astype(np.float32), (t / (float(np.abs(t).max()) or 1.0)).astype(np.float32)


def _numbers(rows: list[list[str]], col: int, name: str) -> np.ndarray:
    out = np.empty(len(rows))
    for r, row in enumerate(rows):
        cell = row[col].strip() if col < len(row) else ""
        try:
            out[r] = float(cell)
        except ValueError:
            raise ValueError(f"row {r + 2}: {name} is {cell!r}, not a number") from None
        if not math.isfinite(out[r]):
            raise ValueError(f"row {r + 2}: {name} is {cell!r}; every value must be a finite number")
    return out


def read_points_csv(data: bytes, name: str = "") -> PointSet:
    """Your own 2-D points from CSV bytes: a header row naming the columns ``x1``, ``x2`` and either
    ``label`` (integer classes, 2 to 6 of them: a classification) or ``target`` (a number: a regression);
    other columns are ignored, column names are case-blind. Between 10 and 5,000 rows.

    Raises ``ValueError`` with one plain sentence for a file that cannot be used (not UTF-8 text, not CSV,
    missing columns, a value that is not a number, NaN or infinite values, too few or too many rows, a label
    that is not a whole number, a single class or too many classes)."""
    import csv
    import io

    if len(data) > CSV_MAX_BYTES:
        raise ValueError(f"the file is larger than {CSV_MAX_BYTES // 1_000_000} MB; keep at most {CSV_MAX_ROWS:,} rows")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text: save it as CSV (UTF-8) and upload it again") from None
    if "\x00" in text:
        raise ValueError("the file is not a CSV text file (it holds binary data)")
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ValueError(f"the file is not valid CSV ({exc})") from None
    if not rows:
        raise ValueError("the file is empty: it needs a header row x1,x2,label (or target) and your points")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("x1", "x2") if c not in header]
    kinds = [c for c in ("label", "target") if c in header]
    if missing or not kinds:
        need = missing + ([] if kinds else ["label or target"])
        raise ValueError(f"the header row must name the columns x1, x2 and label (or target); missing: {', '.join(need)}")
    if len(kinds) == 2:
        raise ValueError("the file has both a label and a target column: keep label for classes or target for a regression")
    body = rows[1:]
    if len(body) < CSV_MIN_ROWS:
        raise ValueError(f"the file has {len(body)} point{'s' if len(body) != 1 else ''}; at least {CSV_MIN_ROWS} are needed")
    if len(body) > CSV_MAX_ROWS:
        raise ValueError(f"the file has {len(body):,} points; at most {CSV_MAX_ROWS:,} are allowed")
    x1 = _numbers(body, header.index("x1"), "x1")
    x2 = _numbers(body, header.index("x2"), "x2")
    values = _numbers(body, header.index(kinds[0]), kinds[0])
    xy = tuple(zip(x1.tolist(), x2.tolist()))
    if kinds[0] == "target":
        return PointSet(xy, tuple(values.tolist()), "regression", name=name)
    bad = np.flatnonzero(values != np.round(values))
    if len(bad):
        raise ValueError(f"row {bad[0] + 2}: label {values[bad[0]]:g} is not a whole number; labels name classes "
                         "(use target for a regression)")
    labels = sorted(set(values.astype(np.int64).tolist()))
    if len(labels) < 2:
        raise ValueError(f"every point has the label {labels[0]}: a classification needs at least two classes")
    if len(labels) > CSV_MAX_CLASSES:
        raise ValueError(f"the file has {len(labels)} different labels; at most {CSV_MAX_CLASSES} classes are allowed")
    index = {lab: i for i, lab in enumerate(labels)}
    return PointSet(xy, tuple(float(index[int(v)]) for v in values), "classification",
                    tuple(str(lab) for lab in labels), name)
