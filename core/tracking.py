"""The only place that talks to MLflow.

Writing: :func:`start_run` returns a :class:`TrackedRun` — params from the config
dataclass, metrics queued and sent in batches by a background thread (training never
waits on the store), figures (PNG images) and weights as artifacts, and a final status of FINISHED,
FAILED (with the error text) or KILLED (stopped by the user), never left RUNNING.

An unreachable tracking server never freezes or kills a training: every call has a short
timeout and few retries, the run keeps everything in memory meanwhile and says so in
``run.warnings``, sends it when the server answers again, and if it still does not answer
when the run ends, writes the whole run to the local store instead (tagged with where it
was meant to go).

Reading (for the Runs page): :func:`list_experiments`, :func:`search_runs`,
:func:`metric_history`, :func:`image_artifacts`, :func:`delete_runs`, :func:`count_runs`.

Every run carries its owner (``dll.owner``: the job's owner, :func:`core.identity.run_owner`),
and every function that reads, exports, changes or deletes runs takes the asking
:class:`~core.identity.User` and checks it here: a learner gets only their own runs
(``NotYours`` for another's run id), an instructor everyone's. Without a ``user`` the asker
is the laptop's single local user, who in class mode owns nothing.

``mlflow`` is imported lazily, so ``core`` stays importable where MLflow is not installed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.data import PROJECT_ROOT, data_dir
from core.identity import LOCAL, LOCAL_USER, User, run_owner
from core.tags import (  # noqa: F401 - the vocabulary is used as tracking.TAG_*
    TAG_COMPARISON,
    TAG_CONTENT_IMAGE,
    TAG_DATASET,
    TAG_DEVICE,
    TAG_EPOCHS,
    TAG_ERROR,
    TAG_FALLBACK,
    TAG_KIND,
    TAG_OWNER,
    TAG_PAGE,
    TAG_PRECISION,
    TAG_STYLE_IMAGE,
    TAG_SUMMARY,
    TAG_TRAINED,
    TAG_VARIANT,
    TAG_WEIGHTS,
    TAGS,
    check_tags,
)

# Bounded network behaviour for a remote store (MLflow's defaults retry for minutes).
# Set before any MLflow call; a user's own settings win.
for _key, _value in {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}.items():
    os.environ.setdefault(_key, _value)

STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")
_SAFE_OWNER = re.compile(r"[A-Za-z0-9@._+-]{1,200}")
_BATCH = 1000  # MLflow's limit of metrics per log_batch call


# ------------------------------------------------------------------------- the store


def local_uri() -> str:
    """The default store: SQLite in the project's data folder."""
    return f"sqlite:///{data_dir() / 'mlflow.db'}"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else :func:`local_uri` (always explicit: MLflow's
    own default depends on the working directory)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_uri()


def redact_uri(text: str) -> str:
    """Hide a password in any URI in ``text``: ``http://me:secret@host`` -> ``http://me:***@host``."""
    return re.sub(r"(//[^/:@\s]+):[^/@\s]+@", r"\1:***@", text)


def display_uri(uri: str | None = None) -> str:
    """The store as people should see it: password hidden, a SQLite path relative to the
    project when it lies inside it."""
    uri = uri or tracking_uri()
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        try:
            return f"sqlite: {path.relative_to(PROJECT_ROOT)}"
        except ValueError:
            return f"sqlite: {path}"
    return redact_uri(uri)


def is_local(uri: str | None = None) -> bool:
    uri = uri or tracking_uri()
    return uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri


def artifact_root() -> Path:
    path = data_dir() / "mlartifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


_opened: set[str] = set()  # the local stores this process has opened (so created, if they were new)
_opening = threading.Lock()


def _client(uri: str | None = None):  # -> mlflow.MlflowClient
    """A client of the store. A local SQLite store is opened the first time in each process under a
    file lock: MLflow creates a new store's tables on its first opening without a lock of its own,
    and the app and its workers opening a new store at once collided (``table ... already exists``)."""
    from mlflow import MlflowClient

    uri = uri or tracking_uri()
    if not uri.startswith("sqlite:///") or uri in _opened:
        return MlflowClient(tracking_uri=uri)
    path = Path(uri.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with _opening, open(path.with_name(path.name + ".lock"), "a") as lock:
        _lock_file(lock)  # released when the file closes
        client = MlflowClient(tracking_uri=uri)
        _opened.add(uri)
    return client


def _lock_file(handle: Any) -> None:
    """An exclusive lock on an open file, held until it is closed (waits for another process's)."""
    try:
        import fcntl
    except ImportError:  # Windows: msvcrt locks a byte range instead
        import msvcrt

        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s: keep waiting
                continue
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)


def experiment_id(page: str, uri: str | None = None) -> str:
    """Id of the page's experiment (one per page, named after the page), created on demand."""
    uri = uri or tracking_uri()
    client = _client(uri)
    exp = client.get_experiment_by_name(page)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    location = (artifact_root() / page).as_uri() if is_local(uri) else None
    try:
        return client.create_experiment(page, artifact_location=location)
    except Exception:  # noqa: BLE001 - created meanwhile by another thread
        exp = client.get_experiment_by_name(page)
        if exp is None:
            raise
        return exp.experiment_id


def ui_command(uri: str | None = None) -> str:
    """The shell command that opens MLflow's own UI on the same store."""
    uri = uri or tracking_uri()
    if is_local(uri):
        return f".venv/bin/mlflow ui --backend-store-uri {uri} --port 5000"
    return f"open {uri} in a browser (it is an MLflow server)"


def flatten_params(config: Any) -> dict[str, str]:
    """Params from a config dataclass (or a mapping), nested keys joined with dots."""
    if config is None:
        return {}
    raw = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
            out[prefix[:-1]] = text[:6000]

    walk("", raw)
    return out


# --------------------------------------------------------------------- writing runs

_run_listener: list[Any] = []  # at most one callable(run_id, uri, status): the worker process's


def set_run_listener(callback: Any) -> None:
    """Have ``callback(run_id, uri, status)`` called when a run of this process gets its id
    (``"RUNNING"``) and when it ends: the worker process tells the app which runs a job has open,
    so the app can close them if the worker dies."""
    _run_listener[:] = [callback] if callback is not None else []


def _tell(run_id: str | None, uri: str, status: str) -> None:
    for callback in _run_listener:
        if run_id:
            callback(run_id, uri, status)


class TrackedRun:
    """One MLflow run that survives an unreachable store. Thread-safe.

    Use as a context manager: a normal exit ends FINISHED; ``TrainingCancelled`` (or
    ``KeyboardInterrupt``) ends KILLED; any other exception ends FAILED with its text.
    """

    flush_interval_s = 1.0
    retry_interval_s = 5.0

    def __init__(
        self,
        page: str,
        config: Any = None,
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        uri: str | None = None,
        resume: str | None = None,
        renderer: Any = None,
    ) -> None:
        self.page = page
        self.renderer = renderer or _default_renderer()
        self.uri = uri or tracking_uri()
        self.run_name = run_name
        self.params = flatten_params(config)
        check_tags(tags or {})
        self.tags = {**(tags or {}), TAG_PAGE: page, TAG_OWNER: run_owner()}
        self.start_ms = int(time.time() * 1000)
        self.run_id: str | None = resume
        self._reopen = resume is not None  # set the ended run RUNNING again on the first sync
        self.status = "RUNNING"
        self.warnings: list[str] = []
        self.fell_back = False
        self._metrics: list[tuple[str, float, int, int]] = []  # (key, value, ts_ms, step)
        self._sent = 0
        self._artifacts: list[tuple[Path, str | None]] = []  # (local file, artifact dir)
        self._artifacts_sent = 0
        self._staging = Path(tempfile.mkdtemp(prefix="dll-run-", dir=data_dir()))
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._offline_since: float | None = None
        self._next_try = 0.0
        self._try_sync()
        self._thread = threading.Thread(target=self._loop, name=f"tracking-{page}", daemon=True)
        self._thread.start()

    # -- public -----------------------------------------------------------------------

    @property
    def offline(self) -> bool:
        return self._offline_since is not None

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Queue metrics for ``step``; sent in the background within about a second."""
        ts = int(time.time() * 1000)
        with self._lock:
            self._metrics.extend((k, float(v), ts, int(step)) for k, v in metrics.items())
        if len(self._metrics) - self._sent >= _BATCH:
            self._wake.set()

    def set_tags(self, tags: Mapping[str, str]) -> None:
        check_tags(tags)
        with self._lock:
            self.tags.update({k: str(v)[:5000] for k, v in tags.items()})
        self._wake.set()

    def log_text(self, text: str, name: str) -> None:
        path = self._stage(name)
        path.write_text(text, encoding="utf-8")
        self._add_artifact(path, None)

    def log_image(self, image: Any, name: str) -> None:
        """An image (HxW, HxWx3 uint8/float array, or PIL image) as a PNG artifact."""
        import numpy as np
        from PIL import Image

        if not isinstance(image, Image.Image):
            arr = np.asarray(image)
            if arr.dtype != np.uint8:
                arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
            image = Image.fromarray(arr)
        path = self._stage(name if name.endswith(".png") else f"{name}.png")
        image.save(path)
        self._add_artifact(path, "images")

    def log_figure(self, draw: str, name: str, *args: Any, **kwargs: Any) -> bool:
        """A picture drawn by the run's renderer (``renderer.<draw>(*args, **kwargs)``) as a PNG
        artifact. A picture never fails a training: a drawing error becomes a warning of the run."""
        try:
            image = getattr(self.renderer, draw)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a figure must never fail a training
            self.warnings.append(f"the picture {name!r} could not be drawn ({type(exc).__name__}: {exc})")
            return False
        self.log_image(image, name)
        return True

    def log_curves(self, series: Mapping[str, tuple[Any, Any]], name: str, **kwargs: Any) -> bool:
        """Lines ``label -> (x, y)`` as a PNG (see :func:`core.artifacts.curves_png` for the options)."""
        return self.log_figure("curves_png", name, series, **kwargs)

    def log_confusion(self, counts: Any, classes: Any, name: str = "confusion_matrix", **kwargs: Any) -> bool:
        """A confusion matrix (rows true, columns predicted) as a PNG."""
        return self.log_figure("confusion_png", name, counts, classes, **kwargs)

    def log_tiles(self, images: Any, name: str, **kwargs: Any) -> bool:
        """Images [n, H, W(, 3)] in [0, 1] tiled into one PNG (:func:`core.artifacts.image_grid`)."""
        return self.log_figure("image_grid", name, images, **kwargs)

    def log_state_dict(self, model: Any, name: str = "weights.pt") -> None:
        """Final weights (``torch.save`` of the state dict; load with ``weights_only=True``)."""
        import torch

        path = self._stage(name)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        self._add_artifact(path, "model")

    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        """Flush everything and close the run with ``status`` (FINISHED/FAILED/KILLED)."""
        if status not in ("FINISHED", "FAILED", "KILLED"):
            raise ValueError(f"a run ends FINISHED, FAILED or KILLED, not {status!r}")
        with self._lock:
            if self.status != "RUNNING":
                return
            self.status = status
            if error:
                self.tags[TAG_ERROR] = error[:5000]
        if error:
            self.log_text(error, "error.txt")
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self._next_try = 0.0
        first_id, first_uri = self.run_id, self.uri
        if not self._try_sync(final=True):
            self._fall_back()
        if first_id is not None and first_id != self.run_id:
            _tell(first_id, first_uri, status)  # the server's copy is given up for the local one
        _tell(self.run_id, self.uri, status)
        shutil.rmtree(self._staging, ignore_errors=True)

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        from core.training import TrainingCancelled, TrainingDiverged

        if exc is None:
            self.end("FINISHED")
        elif isinstance(exc, (TrainingCancelled, KeyboardInterrupt)):
            self.end("KILLED", str(exc))
        elif isinstance(exc, TrainingDiverged):
            self.end("FAILED", str(exc))  # the sentence the page shows, as it is
        else:
            self.end("FAILED", f"{type(exc).__name__}: {exc}")
        return False

    # -- internals ----------------------------------------------------------------------

    def _stage(self, name: str) -> Path:
        """A fresh staging path that keeps the artifact's (sanitised) file name."""
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:120] or "file"
        folder = Path(tempfile.mkdtemp(dir=self._staging))  # one folder each: same names never clash
        return folder / safe

    def _add_artifact(self, path: Path, folder: str | None) -> None:
        with self._lock:
            self._artifacts.append((path, folder))
        self._wake.set()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if not self._closed.is_set():
                self._try_sync()

    def _try_sync(self, final: bool = False) -> bool:
        """Send what is pending; return True when the store holds everything."""
        now = time.monotonic()
        if self._offline_since is not None and now < self._next_try:
            return False
        try:
            self._sync(final)
        except Exception as exc:  # noqa: BLE001 - any store failure: keep data, warn, retry later
            if self._offline_since is None:
                self._offline_since = now
                self.warnings.append(
                    f"The tracking store at {redact_uri(self.uri)} did not answer ({type(exc).__name__}); "
                    "training goes on and the run's data are kept and will be sent when it is back."
                )
            self._next_try = now + self.retry_interval_s
            return False
        if self._offline_since is not None:
            self._offline_since = None
            self.warnings.append("The tracking store answered again; the kept data were sent.")
        return True

    def _sync(self, final: bool) -> None:
        from mlflow.entities import Metric, Param, RunTag

        client = _client(self.uri)
        with self._lock:
            need_create = self.run_id is None
        if need_create:
            exp = experiment_id(self.page, self.uri)
            run = client.create_run(exp, start_time=self.start_ms, tags=dict(self.tags), run_name=self.run_name)
            client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in self.params.items()])
            with self._lock:
                self.run_id = run.info.run_id
            _tell(self.run_id, self.uri, "RUNNING")
        if self._reopen:
            client.update_run(self.run_id, status="RUNNING")
            self._reopen = False
            _tell(self.run_id, self.uri, "RUNNING")
        with self._lock:
            chunk = self._metrics[self._sent :]
            tags = dict(self.tags)
            artifacts = self._artifacts[self._artifacts_sent :]
        for i in range(0, len(chunk), _BATCH):
            part = chunk[i : i + _BATCH]
            client.log_batch(self.run_id, metrics=[Metric(k, v, ts, s) for k, v, ts, s in part])
            with self._lock:
                self._sent += len(part)
        if final or tags:
            client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        for path, folder in artifacts:
            client.log_artifact(self.run_id, str(path), folder)
            with self._lock:
                self._artifacts_sent += 1
        if final:
            client.set_terminated(self.run_id, self.status)

    def _fall_back(self) -> None:
        """The store is still down at the end: write the whole run to the local store."""
        remote = self.uri
        if remote == local_uri():
            self.warnings.append("The local tracking store could not be written; this run is not saved.")
            return
        self.uri = local_uri()
        self.tags[TAG_FALLBACK] = redact_uri(remote)
        self.run_id, self._sent, self._artifacts_sent, self._offline_since = None, 0, 0, None
        self._reopen = False
        try:
            self._sync(final=True)
            self.fell_back = True
            self.warnings.append(
                f"The tracking server at {redact_uri(remote)} never came back; the whole run was saved "
                f"to the local store ({display_uri(self.uri)}) instead."
            )
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"This run could not be saved anywhere: {type(exc).__name__}: {exc}")


def start_run(page: str, config: Any = None, *, resume: str | None = None, **options: Any) -> TrackedRun:
    """Open a run in the page's experiment; params come from the config dataclass.

    ``resume``: the id of an ended run to continue (it is set RUNNING again and ends with
    the new status; its params are not logged again) — for trainings that pause and go on.
    ``options``: :class:`TrackedRun`'s ``run_name``, ``tags``, ``uri`` and ``renderer`` (what draws the
    run's pictures; default :mod:`core.artifacts`).
    """
    return TrackedRun(page, config if resume is None else None, resume=resume, **options)


def _default_renderer() -> Any:
    from core import artifacts

    return artifacts


# --------------------------------------------------------------------- reading runs


def store_ready(uri: str | None = None) -> bool:
    """Whether there is a store to read: False for a local SQLite store that does not exist yet (nothing
    was tracked; reading would only create an empty one). Readers that can do without runs check it."""
    uri = uri or tracking_uri()
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).exists()


def list_experiments(uri: str | None = None) -> list[dict[str, str]]:
    """Active experiments as ``{"id", "name"}`` dicts, by name."""
    from mlflow.entities import ViewType

    exps = _client(uri).search_experiments(view_type=ViewType.ACTIVE_ONLY)
    return sorted(({"id": e.experiment_id, "name": e.name} for e in exps), key=lambda e: e["name"])


def search_runs(
    experiment_ids: Iterable[str] | None = None,
    filter_string: str = "",
    max_results: int = 5000,
    uri: str | None = None,
    *,
    user: User = LOCAL_USER,
    owner: str | None = None,
):  # -> pandas.DataFrame
    """The runs ``user`` may see, as a DataFrame, newest first: ``run_id``, ``experiment``,
    ``run_name``, ``status``, ``start_time``, ``end_time`` (UTC datetimes), ``duration_s``, ``owner``,
    then ``params.*``, ``metrics.*`` (latest values) and ``tags.*`` columns. ``owner`` narrows an
    instructor's list to one learner (a learner's list is always their own)."""
    import pandas as pd
    from mlflow.entities import ViewType

    client = _client(uri)
    wanted = owner if user.instructor else user.id
    if wanted and wanted != LOCAL and _SAFE_OWNER.fullmatch(wanted):  # let the store do the narrowing
        clause = f"tags.`{TAG_OWNER}` = '{wanted}'"
        filter_string = f"{filter_string} and {clause}" if filter_string.strip() else clause
    exps = {e["id"]: e["name"] for e in list_experiments(uri)}
    ids = list(experiment_ids) if experiment_ids is not None else list(exps)
    rows: list[dict[str, Any]] = []
    token = None
    while ids and len(rows) < max_results:
        page = client.search_runs(
            ids,
            filter_string=filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=min(1000, max_results - len(rows)),
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        for r in page:
            info = r.info
            row: dict[str, Any] = {
                "run_id": info.run_id,
                "experiment": exps.get(info.experiment_id, info.experiment_id),
                "run_name": info.run_name,
                "status": info.status,
                "start_time": info.start_time,
                "end_time": info.end_time,
                "owner": r.data.tags.get(TAG_OWNER) or LOCAL,
            }
            if not user.can_see(row["owner"]) or (wanted and row["owner"] != wanted):
                continue
            row.update({f"params.{k}": v for k, v in r.data.params.items()})
            row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
            row.update({f"tags.{k}": v for k, v in r.data.tags.items() if not k.startswith("mlflow.")})
            rows.append(row)
        token = page.token
        if not token:
            break
    df = pd.DataFrame(rows, columns=["run_id", "experiment", "run_name", "status", "start_time", "end_time", "owner"])
    if rows:
        df = pd.DataFrame(rows)
    for col in ("start_time", "end_time"):
        df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
    df["duration_s"] = (df["end_time"] - df["start_time"]).dt.total_seconds()
    return df


def count_runs(uri: str | None = None, *, user: User = LOCAL_USER) -> int:
    """How many active runs of ``user``'s the store holds (all experiments)."""
    return len(search_runs(uri=uri, max_results=100_000, user=user))


def owner_of(run_id: str, uri: str | None = None) -> str:
    """Who a run belongs to (runs tracked before owners existed: the local user)."""
    return _get_run(run_id, uri).data.tags.get(TAG_OWNER) or LOCAL


def check_owner(run_id: str, user: User, uri: str | None = None) -> None:
    """``NotYours`` unless ``user`` may open the run (``ValueError`` when there is no such run)."""
    user.check(owner_of(run_id, uri))


def metric_history(run_id: str, key: str, uri: str | None = None, *, user: User = LOCAL_USER):  # -> pandas.DataFrame
    """Every logged value of one metric: columns ``step``, ``value``, ``timestamp``."""
    import pandas as pd

    check_owner(run_id, user, uri)
    hist = _client(uri).get_metric_history(run_id, key)
    df = pd.DataFrame([(m.step, m.value, m.timestamp) for m in hist], columns=["step", "value", "timestamp"])
    return df.sort_values(["step", "timestamp"]).reset_index(drop=True)


def image_artifacts(run_id: str, uri: str | None = None, limit: int = 12, *,
                    user: User = LOCAL_USER) -> list[tuple[str, bytes]]:
    """Up to ``limit`` PNG/JPEG artifacts of the run as ``(artifact path, file bytes)``."""
    check_owner(run_id, user, uri)
    client = _client(uri)
    found: list[str] = []

    def walk(path: str | None) -> None:
        for f in client.list_artifacts(run_id, path):
            if f.is_dir:
                walk(f.path)
            elif f.path.lower().endswith((".png", ".jpg", ".jpeg")):
                found.append(f.path)

    walk(None)
    dest = Path(tempfile.mkdtemp(prefix="dll-art-", dir=data_dir()))
    try:
        return [(p, Path(client.download_artifacts(run_id, p, str(dest))).read_bytes()) for p in found[:limit]]
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def annotate_run(
    run_id: str, *, tags: Mapping[str, str] | None = None, text: str | None = None, name: str = "notes.txt",
    uri: str | None = None, user: User = LOCAL_USER,
) -> None:
    """Add tags and/or a text artifact to a run that has already ended (e.g. a learner's
    error-analysis tags, kept with the run they describe). The owner tag cannot be changed."""
    check_owner(run_id, user, uri)
    if tags and TAG_OWNER in tags:
        raise ValueError("a run's owner cannot be changed")
    check_tags(tags or {})
    client = _client(uri)
    for k, v in (tags or {}).items():
        client.set_tag(run_id, k, str(v)[:5000])
    if text is not None:
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:120] or "notes.txt"
        folder = Path(tempfile.mkdtemp(prefix="dll-note-", dir=data_dir()))
        try:
            (folder / safe).write_text(text, encoding="utf-8")
            client.log_artifact(run_id, str(folder / safe))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def text_artifact(run_id: str, name: str, uri: str | None = None, *, user: User = LOCAL_USER) -> str | None:
    """A text artifact of the run (None when it has none of that name)."""
    check_owner(run_id, user, uri)
    client = _client(uri)
    if name not in {f.path for f in client.list_artifacts(run_id)}:
        return None
    dest = Path(tempfile.mkdtemp(prefix="dll-art-", dir=data_dir()))
    try:
        return Path(client.download_artifacts(run_id, name, str(dest))).read_text(encoding="utf-8")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def run_params(run_id: str, uri: str | None = None, *, user: User = LOCAL_USER) -> dict[str, str]:
    """The params a run logged (names without a ``params.`` prefix); ``ValueError`` with a plain
    message when ``run_id`` is not a run id or the store has no such run, ``NotYours`` when it is
    not ``user``'s."""
    run = _get_run(run_id, uri)
    user.check(run.data.tags.get(TAG_OWNER))
    return dict(run.data.params)


def run_tags(run_id: str, uri: str | None = None, *, user: User = LOCAL_USER) -> dict[str, str]:
    """The tags a run carries (as :func:`run_params` for its params)."""
    run = _get_run(run_id, uri)
    user.check(run.data.tags.get(TAG_OWNER))
    return dict(run.data.tags)


def _get_run(run_id: str, uri: str | None):  # -> mlflow.entities.Run
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", run_id or ""):
        raise ValueError(f"{run_id!r} is not a run id")
    from mlflow.exceptions import MlflowException

    try:
        run = _client(uri).get_run(run_id)
    except MlflowException as exc:
        raise ValueError("this run is not in the tracking store (was it deleted?)") from exc
    if run.info.lifecycle_stage == "deleted":
        raise ValueError("this run is not in the tracking store (was it deleted?)")
    return run


def state_dict_artifact(run_id: str, name: str = "model/weights.pt", uri: str | None = None, *,
                        user: User = LOCAL_USER) -> dict[str, Any] | None:
    """The weights a run saved with :meth:`TrackedRun.log_state_dict` (loaded with
    ``weights_only=True``: tensors only, never code), or None when it has none."""
    import torch

    check_owner(run_id, user, uri)
    client = _client(uri)
    folder, _, _ = name.rpartition("/")
    if name not in {f.path for f in client.list_artifacts(run_id, folder or None)}:
        return None
    dest = Path(tempfile.mkdtemp(prefix="dll-art-", dir=data_dir()))
    try:
        return torch.load(client.download_artifacts(run_id, name, str(dest)), map_location="cpu", weights_only=True)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def saved_weights(run_id: str, name: str = "model/weights.pt", uri: str | None = None, *,
                  user: User = LOCAL_USER) -> dict[str, Any]:
    """The weights a run saved (:func:`state_dict_artifact`), for rebuilding its network; ``ValueError``
    with a plain message when the run saved none (it diverged, or ended before it trained)."""
    state = state_dict_artifact(run_id, name, uri, user=user)
    if state is None:
        raise ValueError("this run saved no weights (it diverged, or it ended before it trained)")
    return state


def delete_runs(run_ids: Iterable[str], uri: str | None = None, *, user: User = LOCAL_USER) -> int:
    """Delete runs (MLflow's soft delete: they leave every list); returns how many. Every run is
    checked first: one that is not ``user``'s deletes nothing (``NotYours``)."""
    client = _client(uri)
    run_ids = list(run_ids)
    for rid in run_ids:
        check_owner(rid, user, uri)
    n = 0
    for rid in run_ids:
        client.delete_run(rid)
        n += 1
    return n


def end_run(run_id: str, status: str, error: str = "", uri: str | None = None) -> None:
    """Close a run that its own process could not close (its worker died) with ``status`` and why."""
    if status not in ("FINISHED", "FAILED", "KILLED"):
        raise ValueError(f"a run ends FINISHED, FAILED or KILLED, not {status!r}")
    client = _client(uri)
    if error:
        client.set_tag(run_id, TAG_ERROR, error[:5000])
    client.set_terminated(run_id, status)


def store_error_message(exc: BaseException, uri: str) -> str:
    """One plain sentence for a tracking store that could not be read."""
    where = redact_uri(uri)
    hint = (
        "Check that the file is readable and not locked by another program."
        if is_local(uri)
        else "If it is an MLflow server, check that it is running and reachable, or unset "
        "MLFLOW_TRACKING_URI to use the local store."
    )
    return f"The runs could not be read from the tracking store at {where} ({type(exc).__name__}). {hint}"


def mark_stale_runs_killed(uri: str | None = None) -> int:
    """Runs left RUNNING by a process that died are closed as KILLED; returns how many.

    Call once at start-up, before this process starts any run of its own (on a laptop, where the
    app's own worker is the only one that trains; a queue's runs are closed by the queue).
    """
    df = search_runs(filter_string="attributes.status = 'RUNNING'", uri=uri, user=User("system", instructor=True))
    client = _client(uri)
    for rid in df["run_id"]:
        client.set_tag(rid, TAG_ERROR, "the app stopped while this run was going")
        client.set_terminated(rid, "KILLED")
    return len(df)
