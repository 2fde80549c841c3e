"""The class's runner: jobs on an RQ queue in Redis, run by ``python -m core.worker`` on GPU machines.

``DLL_JOBS=redis://HOST:PORT/DB`` makes :func:`core.jobs.get_runner` a :class:`QueueRunner`; the
job API is the same as the laptop's (:class:`core.jobs.local.LocalRunner`): ``submit``, ``snapshot``
(since a cursor), ``jobs``, ``cancel`` (``force``), ``wait``.

What lives in Redis (``dll:`` keys; RQ keeps its own ``rq:`` keys):

- ``dll:job:<id>`` — the job's record (owner, page, status, progress, message, times, error), and
  beside it its live metric rows (one list per series), images (latest per name, versioned),
  warnings, diverged lanes, tracked runs, result, Stop flag and heartbeat. Live data is bounded:
  at most :data:`MAX_ROWS` rows per series and images up to :data:`MAX_IMAGE_BYTES`, written in
  batches every :data:`FLUSH_EVERY_S`. Records expire :data:`KEEP_DONE_S` after the job ends.
- ``dll:owner:<owner>`` / ``dll:all`` — every job of a user / of everyone (for the pages and for
  instructors), ``dll:active:<owner>`` the user's waiting and running jobs, ``dll:held:<owner>`` the
  jobs a user has waiting beyond their running limit. A user's job goes onto the RQ queue only when
  fewer than ``running`` of theirs are on it, so one learner's ten submissions never fill the line
  in front of the others (``DLL_JOB_LIMITS``, default ``running=1,waiting=1``).

The worker beats every second; a running job whose beat is :data:`STALE_S` old (its worker was
killed, its machine died) is closed FAILED — "the worker stopped" — and so are its open runs, by
whoever looks first (:func:`reap`: the app's next poll or any worker). Stop sets a flag the job sees
within a step; ``force`` also has RQ kill the work horse (the job ends KILLED all the same).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import threading
import time
import uuid
from typing import Any

from core.identity import LOCAL_USER, OWNER_ENV, User
from core.jobs.api import (
    DONE,
    FAILED,
    FINISHED,
    KILLED,
    QUEUED,
    RUNNING,
    Cursor,
    Ending,
    JobContext,
    JobFn,
    JobSnapshot,
    job_name,
)

QUEUE = "dll-train"
FLUSH_EVERY_S = 0.25
BEAT_EVERY_S = 1.0
STALE_S = 20.0  # a running job whose worker has not beaten for this long has lost its worker
MAX_ROWS = 20_000  # live rows per series (the tracked run keeps every one)
MAX_IMAGE_BYTES = 4 << 20
KEEP_DONE_S = 7 * 24 * 3600
JOB_TIMEOUT_S = int(os.environ.get("DLL_JOB_TIMEOUT_S", 12 * 3600))
WORKER_GONE = "the worker stopped while it trained (its process or machine went away)"


class JobRefused(RuntimeError):
    """A job could not be queued, with a sentence for the learner."""

    plain_message = True


def limits(value: str | None = None) -> tuple[int, int]:
    """``(running, waiting)`` jobs one user may have: ``DLL_JOB_LIMITS`` as ``running=1,waiting=1``."""
    raw = os.environ.get("DLL_JOB_LIMITS", "") if value is None else value
    out = {"running": 1, "waiting": 1}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, _, num = part.partition("=")
        if key.strip() not in out or not num.strip().isdigit():
            raise ValueError(f"DLL_JOB_LIMITS: expected running=N,waiting=M, got {raw!r}")
        out[key.strip()] = int(num)
    if out["running"] < 1:
        raise ValueError("DLL_JOB_LIMITS: running must be at least 1")
    return out["running"], out["waiting"]


def connect(url: str):  # -> redis.Redis
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=10)


def where(url: str) -> str:
    """``url`` without its password, for messages."""
    return re.sub(r"//[^@/]*@", "//", url)


def _k(job_id: str, part: str = "") -> str:
    return f"dll:job:{job_id}" + (f":{part}" if part else "")


def _dump(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else ("" if v is None else str(v))


def _f(v: Any) -> float | None:
    return None if v in (None, b"", "") else float(v)


# ----------------------------------------------------------------------------- records


def _end(conn, job_id: str, ending: Ending, *, only_if: tuple[str, ...] = (QUEUED, RUNNING)) -> bool:
    """Close the job's record with ``ending`` unless it is already closed (whoever closes it first
    wins: a worker's own ending, the reaper, a Stop of a waiting job); frees the owner's place and
    lets their next held job onto the queue. Returns whether this call closed it."""
    key = _k(job_id)
    status = _s(conn.hget(key, "status"))
    if (status and status not in only_if) or not conn.set(_k(job_id, "closed"), ending.status, nx=True):
        return False
    owner = _s(conn.hget(key, "owner"))
    fields = {"status": ending.status, "message": ending.message, "ended": time.time(),
              "error": ending.error or "", "error_type": ending.error_type or ""}
    if ending.status == FINISHED:
        fields["progress"] = 1.0
    pipe = conn.pipeline()
    pipe.set(_k(job_id, "result"), _dump(ending.result))
    pipe.hset(key, mapping=fields)
    pipe.srem(f"dll:active:{owner}", job_id)
    pipe.srem("dll:running", job_id)
    pipe.zrem("dll:beats", job_id)
    pipe.lrem(f"dll:held:{owner}", 0, job_id)
    pipe.execute()
    _expire(conn, job_id)
    _release(conn, owner)
    return True


def _expire(conn, job_id: str) -> None:
    pipe = conn.pipeline()
    for part in ("", "series", "images", "warn", "div", "runs", "result", "stop", "closed"):
        pipe.expire(_k(job_id, part), KEEP_DONE_S)
    for name in conn.smembers(_k(job_id, "series")):
        pipe.expire(_k(job_id, f"m:{_s(name)}"), KEEP_DONE_S)
    pipe.execute()


def _release(conn, owner: str) -> None:
    """Put the owner's next held job on the RQ queue if they have fewer than ``running`` there (the
    limit the app last submitted with: workers need not share the app's settings)."""
    stored = _s(conn.get("dll:limits"))
    running = int(stored.split(",")[0]) if stored else limits()[0]
    with conn.lock(f"dll:lock:{owner}", timeout=10, blocking_timeout=10):
        on_queue = int(conn.scard(f"dll:active:{owner}")) - int(conn.llen(f"dll:held:{owner}"))
        while on_queue < running:
            nxt = conn.lpop(f"dll:held:{owner}")
            if nxt is None:
                break
            _enqueue(conn, _s(nxt))
            on_queue += 1


def _enqueue(conn, job_id: str) -> None:
    from rq import Queue

    fn_name, cfg, env = pickle.loads(conn.get(_k(job_id, "work")))
    conn.hset(_k(job_id), "on_queue", 1)
    Queue(QUEUE, connection=conn).enqueue_call(
        execute, args=(job_id, fn_name, cfg, env), job_id=job_id, timeout=JOB_TIMEOUT_S, result_ttl=600,
        failure_ttl=KEEP_DONE_S, description=f"{env.get(OWNER_ENV, '')} {fn_name}",
    )


def reap(conn, now: float | None = None) -> list[str]:
    """Close every running job whose worker stopped beating :data:`STALE_S` ago: FAILED with
    :data:`WORKER_GONE` (KILLED when it was a forced Stop), and its open tracked runs with it.
    Returns the ids closed (by this call)."""
    now = time.time() if now is None else now
    closed = []
    for raw in conn.zrangebyscore("dll:beats", 0, now - STALE_S):
        job_id = _s(raw)
        forced = _s(conn.get(_k(job_id, "stop"))) == "force"
        ending = (Ending(KILLED, message="stopped by force") if forced else
                  Ending(FAILED, error=f"{WORKER_GONE}. What it had tracked is kept; its run is marked FAILED.",
                         error_type="WorkerDied", message="failed"))
        if _end(conn, job_id, ending, only_if=(RUNNING,)):
            closed.append(job_id)
            runs = {_s(r): pickle.loads(v) for r, v in conn.hgetall(_k(job_id, "runs")).items()}
            _close_runs({r: uri for r, (uri, status) in runs.items() if status == "RUNNING"},
                        "KILLED" if forced else "FAILED", ending.error or "stopped by force", job_id)
        else:
            conn.zrem("dll:beats", job_id)
    return closed


def _close_runs(runs: dict[str, str], status: str, error: str, job_id: str) -> None:
    from core import tracking

    for run_id, uri in runs.items():
        with contextlib.suppress(Exception):  # the store may be down too; the run stays RUNNING then
            tracking.end_run(run_id, status, error, uri=uri)


# ----------------------------------------------------------------------------- the app's side


class QueueRunner:
    """The job API on RQ over Redis (see the module's text)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or os.environ["DLL_JOBS"]
        self.conn = connect(self.url)
        self._submitted: dict[str, tuple[str, str, str, float]] = {}  # id -> (owner, page, name, created): lost-job check
        self._last_reap = 0.0

    def _call(self, fn, *args, **kwargs):
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.exceptions.ConnectionError as exc:
            raise JobRefused(f"The job queue (Redis at {where(self.url)}) cannot be reached right now: {exc}. "
                             "Your runs so far are kept; try again in a moment.") from exc

    # -- the job API -------------------------------------------------------------------

    def submit(self, page: str, fn: JobFn, cfg: Any = None, *, name: str = "", slot: str = "cpu",
               user: User = LOCAL_USER) -> str:
        """Queue ``fn(ctx, cfg)`` as ``user``'s job; ``JobRefused`` when the user already has as many
        jobs waiting and running as ``DLL_JOB_LIMITS`` allows, or the queue cannot be reached."""
        from core.jobs.worker import job_env

        fn_name = job_name(fn)
        try:
            work = _dump((fn_name, cfg, {**job_env(), OWNER_ENV: user.id}))
        except Exception as exc:  # noqa: BLE001 - say it plainly, before anything is queued
            raise ValueError(f"a job's config must be plain data that pickles ({type(exc).__name__}: {exc})") from exc
        return self._call(self._submit, page, name or page, work, user)

    def _submit(self, page: str, name: str, work: bytes, user: User) -> str:
        running, waiting = limits()
        job_id = f"{page}-{uuid.uuid4().hex[:12]}"
        now = time.time()
        with self.conn.lock(f"dll:lock:{user.id}", timeout=10, blocking_timeout=10):
            active = int(self.conn.scard(f"dll:active:{user.id}"))
            if active >= running + waiting:
                raise JobRefused(
                    f"You already have {active} training{'s' if active != 1 else ''} waiting or running — the most "
                    f"one learner may have at once ({running} running, {waiting} waiting). Stop one, or wait until "
                    "it ends, then start this one.")
            held = active >= running
            pipe = self.conn.pipeline()
            pipe.set("dll:limits", f"{running},{waiting}")
            pipe.set(_k(job_id, "work"), work, ex=KEEP_DONE_S)
            pipe.hset(_k(job_id), mapping={
                "id": job_id, "page": page, "name": name, "owner": user.id, "status": QUEUED, "progress": 0.0,
                "message": "waiting for a free training slot", "created": now, "image_version": 0})
            pipe.sadd(f"dll:active:{user.id}", job_id)
            pipe.zadd(f"dll:owner:{user.id}", {job_id: now})
            pipe.zadd("dll:all", {job_id: now})
            if held:
                pipe.rpush(f"dll:held:{user.id}", job_id)
            pipe.execute()
            if not held:
                _enqueue(self.conn, job_id)
        self._submitted[job_id] = (user.id, page, name, now)
        while len(self._submitted) > 10_000:  # the lost-job check needs only the recent ones
            self._submitted.pop(next(iter(self._submitted)))
        return job_id

    def snapshot(self, job_id: str | None, since: Cursor | None = None, *, user: User = LOCAL_USER) -> JobSnapshot | None:
        """The job as ``user`` may see it: None when there is no such job, ``NotYours`` when it is another
        learner's; a job that Redis lost (restarted without its data) is shown FAILED with that reason."""
        if not job_id:
            return None
        self._maybe_reap()
        meta = {_s(k): _s(v) for k, v in self._call(self.conn.hgetall, _k(job_id)).items()}
        if not meta:
            if job_id not in self._submitted:
                return None
            owner, page, name, created = self._submitted[job_id]
            user.check(owner, "job")
            text = ("The job queue lost this job: Redis was restarted without keeping its data. Nothing of it was "
                    "trained or tracked; start it again.")
            return JobSnapshot(job_id, page, name, FAILED, 0.0, "failed", {}, {}, (), text, None, 0, created, None,
                               time.time(), error_type="JobLost", owner=owner)
        user.check(meta.get("owner"), "job")
        return self._read(job_id, meta, since)

    def _read(self, job_id: str, meta: dict[str, str], since: Cursor | None, rows: bool = True) -> JobSnapshot:
        status = meta.get("status", QUEUED)
        since = since or Cursor()
        pipe = self.conn.pipeline()
        series = sorted(_s(s) for s in self.conn.smembers(_k(job_id, "series"))) if rows else []
        for s in series:
            pipe.llen(_k(job_id, f"m:{s}"))
        lengths = pipe.execute() if series else []
        pipe = self.conn.pipeline()
        for s in series:
            pipe.lrange(_k(job_id, f"m:{s}"), since.rows.get(s, 0), -1)
        pipe.hgetall(_k(job_id, "images"))
        pipe.lrange(_k(job_id, "warn"), since.warnings, -1)
        pipe.lrange(_k(job_id, "div"), since.diverged, -1)
        pipe.llen(_k(job_id, "warn"))
        pipe.llen(_k(job_id, "div"))
        pipe.get(_k(job_id, "result"))
        got = pipe.execute()
        metrics = {s: [pickle.loads(r) for r in got[i]] for i, s in enumerate(series) if got[i]}
        images_raw, warn, div, n_warn, n_div, result = got[len(series):]
        images, newest = {}, since.images
        for name, blob in (images_raw or {}).items():
            version, image = pickle.loads(blob)
            newest = max(newest, version)
            if version > since.images:
                images[_s(name)] = image
        done = status in DONE
        cursor = Cursor({s: n for s, n in zip(series, lengths, strict=True)}, newest, n_warn, n_div) if rows else since
        return JobSnapshot(
            id=job_id, page=meta.get("page", ""), name=meta.get("name", ""), status=status,
            progress=float(meta.get("progress") or 0.0), message=meta.get("message", ""), metrics=metrics,
            images=images, warnings=tuple(_s(w) for w in warn), error=meta.get("error") or None,
            result=pickle.loads(result) if done and result else None,
            ahead=self._ahead(job_id, meta) if status == QUEUED else 0, created=float(meta.get("created") or 0),
            started=_f(meta.get("started")), ended=_f(meta.get("ended")), error_type=meta.get("error_type") or None,
            diverged=tuple(tuple(pickle.loads(d)) for d in div), cursor=cursor, owner=meta.get("owner", ""),
        )

    def _ahead(self, job_id: str, meta: dict[str, str]) -> int:
        """Jobs in line before this one (running ones are not in line): its place on the queue, or, while
        it is held behind the owner's own running job, the whole queue plus the owner's held jobs before it."""
        from rq import Queue

        queue = Queue(QUEUE, connection=self.conn)
        if meta.get("on_queue"):
            return int(queue.get_job_position(job_id) or 0)
        held = [_s(j) for j in self.conn.lrange(f"dll:held:{meta.get('owner')}", 0, -1)]
        return queue.count + (held.index(job_id) if job_id in held else 0)

    def jobs(self, page: str | None = None, *, user: User = LOCAL_USER) -> list[JobSnapshot]:
        """The jobs ``user`` may see (an instructor: everyone's) of ``page``, oldest first, without rows."""
        self._maybe_reap()
        index = "dll:all" if user.instructor else f"dll:owner:{user.id}"
        ids = [_s(j) for j in self._call(self.conn.zrange, index, -500, -1)]
        pipe = self.conn.pipeline()
        for j in ids:
            pipe.hgetall(_k(j))
        out = []
        for j, raw in zip(ids, pipe.execute(), strict=True):
            meta = {_s(k): _s(v) for k, v in raw.items()}
            if meta and (page is None or meta.get("page") == page) and user.can_see(meta.get("owner")):
                out.append(self._read(j, meta, None, rows=False))
        return out

    def cancel(self, job_id: str, force: bool = False, *, user: User = LOCAL_USER) -> None:
        """Stop the job: a waiting one never starts; a running one stops at its next step (``force``: RQ
        kills its work horse too). Only its owner or an instructor may (``NotYours``)."""
        meta = {_s(k): _s(v) for k, v in self._call(self.conn.hgetall, _k(job_id)).items()}
        if not meta:
            return
        user.check(meta.get("owner"), "job")
        if meta.get("status") in DONE:
            return
        self.conn.set(_k(job_id, "stop"), "force" if force else "1", ex=KEEP_DONE_S)
        if meta.get("status") == QUEUED:
            from rq.job import Job

            with contextlib.suppress(Exception):  # it may have just been taken by a worker: the flag stops it
                Job.fetch(job_id, connection=self.conn).cancel()
            if not _s(self.conn.hget(_k(job_id), "started")):
                _end(self.conn, job_id, Ending(KILLED, message="stopped before it started"), only_if=(QUEUED,))
            return
        if force:
            from rq.command import send_stop_job_command

            with contextlib.suppress(Exception):
                send_stop_job_command(self.conn, job_id)

    def wait(self, job_id: str, timeout: float | None = None, *, user: User = LOCAL_USER) -> JobSnapshot | None:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            snap = self.snapshot(job_id, user=user)
            if snap is None or snap.done or (end is not None and time.monotonic() >= end):
                return snap
            time.sleep(0.2)

    def warm(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.ping()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def _maybe_reap(self) -> None:
        if time.monotonic() - self._last_reap > 2.0:
            self._last_reap = time.monotonic()
            with contextlib.suppress(Exception):
                reap(self.conn)


# ----------------------------------------------------------------------------- the worker's side


class RedisContext(JobContext):
    """A job's context in a queue worker: events are buffered and written to Redis in batches,
    bounded in size; the same thread beats the heartbeat and reads the Stop flag."""

    def __init__(self, conn, job_id: str) -> None:
        super().__init__()
        self.conn, self.job_id = conn, job_id
        self._buffer: list[tuple] = []
        self._lock = threading.Lock()
        self._rows: dict[str, int] = {}
        self._cut: set[str] = set()
        self._image_version = 0
        self._last_beat = 0.0

    def _emit(self, event: tuple) -> None:
        with self._lock:
            self._buffer.append(event)

    def flush(self) -> None:
        """Write what was reported since the last flush; beat; look at the Stop flag. A Redis that does not
        answer keeps the events for the next try (bounded: the oldest rows of a long outage are dropped)."""
        with self._lock:
            events, self._buffer = self._buffer, []
        try:
            self._write(events)
        except Exception:  # noqa: BLE001 - Redis away for a moment: keep them for the next flush
            with self._lock:
                self._buffer = (events + self._buffer)[-10_000:]
            return
        if time.monotonic() - self._last_beat >= BEAT_EVERY_S:
            self._last_beat = time.monotonic()
            try:
                self.conn.zadd("dll:beats", {self.job_id: time.time()})
                if self.conn.get(_k(self.job_id, "stop")):
                    self.cancel.cancel()
            except Exception:  # noqa: BLE001
                return

    def _write(self, events: list[tuple]) -> None:
        if not events:
            return
        pipe = self.conn.pipeline(transaction=False)
        report: dict[str, Any] = {}
        images: dict[str, Any] = {}
        for event in events:
            kind = event[0]
            if kind == "push":
                series, row = event[1], event[2]
                n = self._rows.get(series, 0)
                if n >= MAX_ROWS:
                    if series not in self._cut:
                        self._cut.add(series)
                        pipe.rpush(_k(self.job_id, "warn"), f"The live chart of {series} shows its first {MAX_ROWS} "
                                   "points; the tracked run keeps every one (see the Runs page).")
                    continue
                self._rows[series] = n + 1
                pipe.sadd(_k(self.job_id, "series"), series)
                pipe.rpush(_k(self.job_id, f"m:{series}"), _dump({k: float(v) for k, v in row.items()}))
            elif kind == "report":
                if event[1] is not None:
                    report["progress"] = event[1]
                if event[2] is not None:
                    report["message"] = event[2]
            elif kind == "image":
                images[event[1]] = event[2]  # only the newest of a batch crosses
            elif kind == "warn":
                pipe.rpush(_k(self.job_id, "warn"), event[1])
            elif kind == "diverged":
                pipe.rpush(_k(self.job_id, "div"), _dump((event[1], event[2])))
            elif kind == "run":
                pipe.hset(_k(self.job_id, "runs"), event[1], _dump((event[2], event[3])))
        for name, image in images.items():
            blob = _dump(image)
            if len(blob) > MAX_IMAGE_BYTES:
                pipe.rpush(_k(self.job_id, "warn"), f"The live image {name} is too large to show while the job runs.")
                continue
            self._image_version += 1
            pipe.hset(_k(self.job_id, "images"), name, _dump((self._image_version, image)))
        if report:
            pipe.hset(_k(self.job_id), mapping=report)
        pipe.execute()


def _die_with_parent() -> None:
    """The work horse is RQ's child in a process group of its own: make it end with its worker, so a
    killed worker never leaves a training behind that nobody watches."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def execute(job_id: str, fn_name: str, cfg: Any, env: dict[str, str]) -> str:
    """What an RQ work horse runs for one of our jobs: the job's function with a :class:`RedisContext`,
    then its ending written to the job's record. Never raises (a job's failure is the job's status)."""
    from rq import get_current_job

    from core import tracking
    from core.jobs.api import resolve, run_job
    from core.jobs.worker import apply_env, worker_threads

    _die_with_parent()
    conn = get_current_job().connection
    key = _k(job_id)
    if conn.exists(_k(job_id, "closed")):
        return "closed"  # stopped while it waited
    ctx = RedisContext(conn, job_id)
    if conn.get(_k(job_id, "stop")):
        ctx.cancel.cancel()
    worker = os.environ.get("DLL_WORKER_NAME", "") or f"pid {os.getpid()}"
    conn.hset(key, mapping={"status": RUNNING, "started": time.time(), "message": "starting", "worker": worker})
    conn.sadd("dll:running", job_id)
    conn.zadd("dll:beats", {job_id: time.time()})
    done = threading.Event()

    def flusher() -> None:
        while not done.wait(FLUSH_EVERY_S):
            ctx.flush()

    tracking.set_run_listener(lambda run_id, uri, status: ctx.run_event(run_id, uri, status))
    thread = threading.Thread(target=flusher, name="queue-flush", daemon=True)
    thread.start()
    apply_env(env)
    import torch

    torch.set_num_threads(worker_threads())
    try:
        ending = run_job(resolve(fn_name), ctx, cfg)
    except Exception as exc:  # noqa: BLE001 - the function could not even be found
        ending = Ending(FAILED, error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__, message="failed")
    done.set()
    thread.join()
    try:
        _dump(ending.result)
    except Exception as exc:  # noqa: BLE001 - a result that does not pickle: say so instead
        ending = Ending(FAILED, error=f"the job's result could not be sent back ({exc})", error_type=type(exc).__name__,
                        message="failed")
    deadline = time.monotonic() + 120  # Redis restarting: the ending must still land
    while True:
        try:
            ctx.flush()
            if ctx._buffer:
                raise ConnectionError("events still buffered")
            _end(conn, job_id, ending)
            break
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                break
            time.sleep(1.0)
    return ending.status


__all__ = ["QUEUE", "JobRefused", "QueueRunner", "RedisContext", "execute", "limits", "reap"]
