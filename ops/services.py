"""Start the services of class mode on this machine, each on 127.0.0.1, in a folder of its own.

Every function here is a context manager (``with redis_server(folder) as redis: ...``) that
starts the service on a free port (or the one given), waits until it answers, and stops it —
and every process it started — when the block ends, also on an exception. Every process runs in
a session of its own and is stopped by process group, so nothing is left behind.

Layout of ``folder`` (the same folder can be used again: data and passwords are kept)::

    logs/<service>.log          what each process printed
    secrets/                    generated passwords (mode 600): postgres-password,
                                mlflow-service-account, mlflow-flask-secret-key, redis-password
    postgres/                   PostgreSQL's data (a link to /var/lib/postgresql/dll/… when we are
                                root and the postgres user cannot reach ``folder``)
    mlflow/artifacts/           the tracking server's artifacts (proxied: clients upload over HTTP)
    mlflow/basic_auth.ini, auth.db   MLflow's basic-auth configuration and user store
    redis/                      Redis's append-only file

PostgreSQL refuses to run as root: when we are root its programs run as the ``postgres`` user
(``setpriv``, or ``runuser``) on a data folder owned by that user.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    """A service did not start (the message ends with the tail of its log)."""


# ------------------------------------------------------------------------------ helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _secret(path: Path, nbytes: int = 24) -> str:
    """The secret stored at ``path``, generated (URL-safe, mode 600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _private_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def _log_tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 30.0,
                  leader_only: bool = False) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started:
    ``sig`` (to its group, or to the leader alone), then SIGKILL for whatever is still there."""
    if proc is None:
        return
    if proc.poll() is None:
        if leader_only:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        else:
            _signal_group(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(10)
    _signal_group(proc.pid, signal.SIGKILL)  # children that outlived their parent


def _kill_process(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


class _Process:
    """One long-running service process: start, stop, kill, with its output in ``log``."""

    name = "service"
    startup_timeout_s = 60.0

    def __init__(self, folder: Path, port: int | None) -> None:
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log = self.folder / "logs" / f"{self.name}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    # to be provided by each service
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def _ready(self) -> bool:
        raise NotImplementedError

    def _after_start(self) -> None:
        pass

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the process (again) on the same port and wait until it answers."""
        if self.running:
            return
        if _listening(self.port):  # else we would wait on someone else's server
            raise ServiceError(f"{self.name} cannot start: something already listens on {HOST}:{self.port}")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._command(), env=self._env(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, cwd=self.folder)
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while True:
                if self.proc.poll() is not None:
                    raise ServiceError(f"{self.name} exited with status {self.proc.returncode} while starting; "
                                       f"its log ({self.log}):\n{_log_tail(self.log)}")
                if self._ready():
                    break
                if time.monotonic() > deadline:
                    raise ServiceError(f"{self.name} did not answer within {self.startup_timeout_s:.0f} s; "
                                       f"its log ({self.log}):\n{_log_tail(self.log)}")
                time.sleep(0.1)
            self._after_start()
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Stop it cleanly (and everything it started); its data stay in the folder."""
        _stop_process(self.proc)

    def kill(self) -> None:
        """SIGKILL it and everything it started (a crash)."""
        _kill_process(self.proc)


def _serve(service: _Process) -> Iterator:
    service.start()
    try:
        yield service
    finally:
        service.stop()


# ------------------------------------------------------------------------------ Redis


def redis_binary() -> str | None:
    return os.environ.get("DLL_REDIS_SERVER") or shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)


class RedisServer(_Process):
    """``url`` is ``redis://127.0.0.1:PORT/0`` (``redis://:PASSWORD@…`` with a password)."""

    name = "redis"

    def __init__(self, folder: Path, port: int | None = None, appendonly: bool = True,
                 password: str | None = None) -> None:
        super().__init__(folder, port)
        self.binary = redis_binary()
        if self.binary is None:
            raise ServiceError("redis-server is not installed (run scripts/ensure_services.sh)")
        self.appendonly = appendonly
        self.password = password
        self.dir = self.folder / "redis"
        self.dir.mkdir(exist_ok=True)
        self.config = self.dir / "redis.conf"

    @property
    def url(self) -> str:
        auth = f":{urllib.parse.quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    @property
    def display_url(self) -> str:
        return f"redis://{':***@' if self.password else ''}{HOST}:{self.port}/0"

    def _command(self) -> list[str]:
        lines = [
            f"bind {HOST}", f"port {self.port}", "protected-mode yes", "daemonize no", 'logfile ""',
            f"dir {self.dir}", f"appendonly {'yes' if self.appendonly else 'no'}", 'save ""',
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        _private_file(self.config, "\n".join(lines) + "\n")  # the password stays off the command line
        return [self.binary, str(self.config)]

    def _ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as s:
                if self.password:
                    s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(self.password), self.password.encode()))
                    s.recv(64)
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")  # not while it loads its append-only file
        except OSError:
            return False


@contextlib.contextmanager
def redis_server(folder: Path, port: int | None = None, appendonly: bool = True,
                 password: str | None = None) -> Iterator[RedisServer]:
    """Redis on 127.0.0.1 with its data in ``folder/redis`` (append-only file when ``appendonly``,
    so a ``.stop()`` then ``.start()`` keeps every key; nothing kept otherwise)."""
    yield from _serve(RedisServer(folder, port, appendonly, password))


# ------------------------------------------------------------------------------ PostgreSQL


def postgres_bindir() -> Path | None:
    """The folder with PostgreSQL's server programs (initdb, postgres), newest version first."""
    env = os.environ.get("DLL_POSTGRES_BIN")
    if env:
        return Path(env)
    found = shutil.which("postgres")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    dirs = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")]
    dirs = [d for d in dirs if (d / "initdb").exists()]

    def version(d: Path) -> float:
        try:
            return float(d.parent.name)
        except ValueError:
            return 0.0

    return max(dirs, key=version) if dirs else None


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(cmd: list[str]) -> list[str]:
    """``cmd`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if not _as_root():
        return cmd
    if shutil.which("setpriv"):  # execs in place: signals reach postgres itself
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd]
    return ["runuser", "-u", "postgres", "--", *cmd]


class PostgresServer(_Process):
    """``url`` is ``postgresql+psycopg://dll:PASSWORD@127.0.0.1:PORT/mlflow`` (SQLAlchemy's form)."""

    name = "postgres"
    user = "dll"
    database = "mlflow"

    def __init__(self, folder: Path, port: int | None = None) -> None:
        super().__init__(folder, port)
        bindir = postgres_bindir()
        if bindir is None:
            raise ServiceError("PostgreSQL's server programs are not installed (run scripts/ensure_services.sh)")
        self.bindir = bindir
        self.password = _secret(self.folder / "secrets" / "postgres-password")
        self.base = self._base()
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "run"
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{HOST}:{self.port}/{self.database}"

    @property
    def display_url(self) -> str:
        return f"postgresql+psycopg://{self.user}:***@{HOST}:{self.port}/{self.database}"

    def _base(self) -> Path:
        """``folder/postgres``, owned by the postgres user when we are root; when that user
        cannot reach ``folder`` (e.g. under /tmp/pytest-of-root, mode 700), a folder of its own
        under /var/lib/postgresql/dll (or the temp folder), linked from ``folder/postgres``."""
        link = self.folder / "postgres"
        if not _as_root():
            link.mkdir(exist_ok=True)
            return link
        import pwd

        try:
            pg = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServiceError("we are root and there is no 'postgres' user to run PostgreSQL as") from exc
        if link.is_symlink() or link.is_dir():
            base = link.resolve()
        elif subprocess.run(_as_postgres(["test", "-x", str(self.folder)]), capture_output=True).returncode == 0:
            base = link
        else:
            home = Path("/var/lib/postgresql")
            home = home if home.is_dir() and home.stat().st_uid == pg.pw_uid else Path(os.environ.get("TMPDIR", "/tmp"))
            parent = home / "dll"
            parent.mkdir(exist_ok=True)
            os.chown(parent, pg.pw_uid, pg.pw_gid)
            parent.chmod(0o700)
            base = parent / hashlib.sha1(str(self.folder).encode()).hexdigest()[:16]
            link.symlink_to(base, target_is_directory=True)
        base.mkdir(exist_ok=True)
        os.chown(base, pg.pw_uid, pg.pw_gid)
        base.chmod(0o700)
        return base

    def _chown(self, path: Path) -> None:
        if _as_root():
            import pwd

            pg = pwd.getpwnam("postgres")
            os.chown(path, pg.pw_uid, pg.pw_gid)

    def _initdb(self) -> None:
        pwfile = self.base / ".pwfile"
        _private_file(pwfile, self.password + "\n")
        self._chown(pwfile)
        try:
            with open(self.log, "ab") as log:
                done = subprocess.run(
                    _as_postgres([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                                  f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C",
                                  "--no-sync"]),
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.base,
                )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise ServiceError(f"initdb failed; its log ({self.log}):\n{_log_tail(self.log)}")

    def _command(self) -> list[str]:
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir)
        return _as_postgres([
            str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", "unix_socket_permissions=0700",
        ])

    def _connect(self, dbname: str):
        import psycopg

        return psycopg.connect(host=HOST, port=self.port, user=self.user, password=self.password, dbname=dbname,
                               connect_timeout=2, autocommit=True)

    def _ready(self) -> bool:
        try:
            with self._connect("postgres"):
                return True
        except Exception:  # noqa: BLE001 - not up yet (refused, or "the database system is starting up")
            return False

    def _after_start(self) -> None:
        with self._connect("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def connect(self):
        """A psycopg connection (autocommit) to the ``mlflow`` database."""
        return self._connect(self.database)

    def stop(self) -> None:
        # SIGINT to the postmaster alone: PostgreSQL's "fast" shutdown (SIGTERM would wait for clients)
        _stop_process(self.proc, signal.SIGINT, leader_only=True)

    def remove_data(self) -> None:
        """Delete the (stopped) server's data, also when they lie outside ``folder``."""
        shutil.rmtree(self.base, ignore_errors=True)
        link = self.folder / "postgres"
        if link.is_symlink():
            link.unlink()
        (self.folder / "secrets" / "postgres-password").unlink(missing_ok=True)


@contextlib.contextmanager
def postgres_server(folder: Path, port: int | None = None, keep: bool = True) -> Iterator[PostgresServer]:
    """PostgreSQL on 127.0.0.1 (password authentication, generated password kept in
    ``folder/secrets/postgres-password``) with a database ``mlflow``; ``keep=False`` deletes its
    data when it stops (for tests: as root they may lie under /var/lib/postgresql/dll)."""
    server = PostgresServer(folder, port)
    try:
        yield from _serve(server)
    finally:
        if not keep:
            server.remove_data()


# ------------------------------------------------------------------------------ MLflow


class MlflowServer(_Process):
    """``mlflow server`` with proxied artifacts in ``folder/mlflow/artifacts`` and, when ``auth``,
    MLflow's basic-auth app: the lab's service account (``env``) is its admin, anonymous requests get 401."""

    name = "mlflow"
    username = "dll-lab"
    startup_timeout_s = 120.0

    def __init__(self, folder: Path, backend_uri: str, port: int | None = None, auth: bool = True) -> None:
        super().__init__(folder, port)
        self.backend_uri = backend_uri
        self.auth = auth
        self.dir = self.folder / "mlflow"
        self.artifacts = self.dir / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.password_file = self.folder / "secrets" / "mlflow-service-account"
        self.password = _secret(self.password_file) if auth else None
        self.auth_config = self.dir / "basic_auth.ini"
        if auth:
            _private_file(self.auth_config, "\n".join([
                "[mlflow]",
                "default_permission = NO_PERMISSIONS",  # only the admin (the lab) may do anything
                f"database_uri = sqlite:///{self.dir / 'auth.db'}",
                f"admin_username = {self.username}",
                f"admin_password = {self.password}",
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
                # remember a checked password for a minute: without it every request pays a full
                # PBKDF2 check (about half a second here); one worker, so no stale copies elsewhere
                "auth_cache_ttl_seconds = 60",
                "",
            ]))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What the lab (app and workers) needs to write to this server."""
        env = {"MLFLOW_TRACKING_URI": self.url}
        if self.auth:
            env.update(MLFLOW_TRACKING_USERNAME=self.username, MLFLOW_TRACKING_PASSWORD=self.password or "")
        return env

    def _command(self) -> list[str]:
        cmd = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--artifacts-destination", str(self.artifacts), "--serve-artifacts",
               "--host", HOST, "--port", str(self.port), "--workers", "1"]
        return [*cmd, "--app-name", "basic-auth"] if self.auth else cmd

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_", "MLFLOW_AUTH_"))}
        env.update(
            MLFLOW_BACKEND_STORE_URI=self.backend_uri,  # in the environment: no password on the command line
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
            MLFLOW_DISABLE_TELEMETRY="true",
            PYTHONUNBUFFERED="1",
        )
        if self.auth:
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(self.auth_config)
            env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = _secret(self.folder / "secrets" / "mlflow-flask-secret-key", 32)
        return env

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False


@contextlib.contextmanager
def mlflow_server(folder: Path, backend_uri: str, port: int | None = None, auth: bool = True) -> Iterator[MlflowServer]:
    """An MLflow tracking server on 127.0.0.1 over ``backend_uri`` (e.g. a :func:`postgres_server`'s
    ``url``); the service-account password is kept in ``folder/secrets/mlflow-service-account``."""
    yield from _serve(MlflowServer(folder, backend_uri, port, auth))


# ------------------------------------------------------------------------------ workers


class Worker:
    """A ``python -m core.worker`` process (Popen-like: ``pid``, ``poll()``, ``wait()``,
    ``returncode``), in a session of its own. Also a context manager that stops it on exit."""

    def __init__(self, env: Mapping[str, str], name: str = "", cuda_visible_devices: str | int | None = None,
                 log: Path | None = None) -> None:
        self.name = name
        self.log = log
        environ = dict(os.environ)
        environ.update(env)
        environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), environ.get("PYTHONPATH", "")) if p)
        environ["PYTHONUNBUFFERED"] = "1"
        if name:
            environ["DLL_WORKER_NAME"] = name
        if cuda_visible_devices is not None:
            environ["CUDA_VISIBLE_DEVICES"] = str(cuda_visible_devices)
        out = open(log, "ab") if log else None  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "core.worker"], cwd=ROOT, env=environ,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT if out else None,
                                         start_new_session=True)
        finally:
            if out:
                out.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (the worker finishes or hands back its job), then wait; SIGKILL after ``timeout``."""
        _stop_process(self.proc, signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started (a crash)."""
        _kill_process(self.proc)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def worker(env: Mapping[str, str], name: str = "", cuda_visible_devices: str | int | None = None,
           log: Path | None = None) -> Worker:
    """Start ``python -m core.worker`` in the repository with ``env`` added to ours (``DLL_JOBS``,
    the tracking variables, ``DLL_DATA_DIR``); ``name`` is passed as ``DLL_WORKER_NAME``."""
    return Worker(env, name, cuda_visible_devices, log)
