"""``python -m ops.class_mode`` (``make class``): the whole class on this machine, on 127.0.0.1.

Starts, in a folder (``./class-data`` unless ``--folder``): PostgreSQL, an MLflow tracking server over
it with sign-in (the lab writes as one service account), Redis (the job queue, with a password and an
append-only file), training workers (``python -m core.worker``) and the app. Prints where each one is;
Ctrl-C or SIGTERM stops them all, the app first and PostgreSQL last. Data and generated passwords stay
in the folder for the next start. See the README's "Serving a class" for one machine per piece.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

from ops import services

STREAMLIT_SECRETS = services.ROOT / ".streamlit" / "secrets.toml"


class _Stop(Exception):
    """SIGTERM arrived."""


def _on_sigterm(signum, frame):
    raise _Stop


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


def sign_in_configured(secrets_file: Path = STREAMLIT_SECRETS) -> bool:
    """Whether Streamlit's secrets hold an ``[auth]`` section (OpenID Connect sign-in)."""
    try:
        return bool(tomllib.loads(secrets_file.read_text(encoding="utf-8")).get("auth"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


class App:
    """The lab's Streamlit server (``python -m ui.launch``), as ``make run`` starts it."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://{services.HOST}:{port}"
        environ = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ui.launch", "--server.address", services.HOST, "--server.port", str(port),
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                cwd=services.ROOT, env=environ, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.log = log

    def wait_ready(self, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.read() == b"ok":
                        return True
            except OSError:
                time.sleep(0.3)
        return False

    def stop(self) -> None:
        services._stop_process(self.proc, signal.SIGTERM, 20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.class_mode", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("class-data"),
                        help="where the services keep their data, logs and passwords (default: ./class-data)")
    parser.add_argument("--port", type=int, default=8501, help="the app's port (default: 8501)")
    parser.add_argument("--workers", type=int, default=2, help="how many training workers (default: 2)")
    parser.add_argument("--gpus", default=None,
                        help="comma-separated GPU ids the workers share out in turn, e.g. '0,1' "
                             "(each worker gets CUDA_VISIBLE_DEVICES=<one id>); default: left as it is")
    args = parser.parse_args(argv)

    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitignore").write_text("# data, logs and passwords of class mode: never commit them\n*\n")
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    secrets_dir = folder / "secrets"
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else []
    if services.redis_binary() is None or services.postgres_bindir() is None:
        print("class mode needs redis-server and PostgreSQL's server programs: run `make services` "
              "(scripts/ensure_services.sh) to install them or see how to get them.", file=sys.stderr)
        return 1
    if services._listening(args.port):
        print(f"something already listens on {services.HOST}:{args.port}; pass --port to use another.", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, also when started in the background
    print(f"Deep Learning Lab, class mode: data, logs and passwords in {_shown(folder)}/", flush=True)
    stack = contextlib.ExitStack()
    try:
        pg = stack.enter_context(services.postgres_server(folder))
        print(f"  PostgreSQL       {pg.display_url}  (password in {_shown(secrets_dir / 'postgres-password')})", flush=True)
        mlflow = stack.enter_context(services.mlflow_server(folder, pg.url))
        print(f"  tracking server  {mlflow.url}  (MLflow; sign in as {mlflow.username}, "
              f"password in {_shown(mlflow.password_file)})", flush=True)
        redis = stack.enter_context(
            services.redis_server(folder, password=services._secret(secrets_dir / "redis-password")))
        print(f"  job queue        {redis.display_url}  (Redis; password in {_shown(secrets_dir / 'redis-password')})",
              flush=True)
        env = {"DLL_JOBS": redis.url, **mlflow.env, "DLL_DATA_DIR": str(folder / "data")}
        workers: list[tuple[str, services.Worker]] = []
        for i in range(1, args.workers + 1):
            gpu = gpus[(i - 1) % len(gpus)] if gpus else None
            log = logs / f"worker-{i}.log"
            w = services.worker(env, cuda_visible_devices=gpu, log=log)
            stack.callback(w.stop, 10.0)  # RQ's warm shutdown: a running training gets 10 s to finish
            label = f"worker {i}" + (f" (GPU {gpu})" if gpu is not None else "")
            workers.append((label, w))
            print(f"  {label:<16} pid {w.pid}  (log: {_shown(log)})", flush=True)
        app = App(env, args.port, logs / "app.log")
        stack.callback(app.stop)
        if not app.wait_ready():
            print(f"The app did not start; its log ({_shown(app.log)}):\n" + services._log_tail(app.log), file=sys.stderr)
            return 1
        print(f"  app              {app.url}  (log: {_shown(app.log)})")
        if sign_in_configured():
            print("Learners sign in with the identity provider set in .streamlit/secrets.toml [auth].")
        else:
            print("Learners are not signed in: .streamlit/secrets.toml has no [auth] section, so everyone is "
                  "the single local user. To sign learners in, add [auth] (redirect_uri, cookie_secret, "
                  "client_id, client_secret, server_metadata_url): see the README, 'Serving a class'.")
        print("Ctrl-C stops everything.", flush=True)
        return _watch(app, workers, {"PostgreSQL": pg, "tracking server": mlflow, "job queue": redis})
    except (KeyboardInterrupt, _Stop):
        return 0
    except services.ServiceError as exc:
        print(f"class mode could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        # a second Ctrl-C or SIGTERM must not cut the orderly stop short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping: app, workers, job queue, tracking server, PostgreSQL…", flush=True)
        stack.close()
        print("stopped.", flush=True)


def _watch(app: App, workers: list[tuple[str, services.Worker]], others: dict[str, services._Process]) -> int:
    """Until Ctrl-C/SIGTERM (or the app exits): report each process that exits, once."""
    told: set[str] = set()
    while True:
        if app.proc.poll() is not None:
            print(f"the app exited (status {app.proc.returncode}); see {_shown(app.log)}. Stopping everything.",
                  file=sys.stderr, flush=True)
            return 1
        for label, w in workers:
            if label not in told and w.poll() is not None:
                told.add(label)
                print(f"{label} exited (status {w.returncode}); see {_shown(w.log) if w.log else 'its output'}. "
                      "The others keep going.", file=sys.stderr, flush=True)
        for label, service in others.items():
            if label not in told and not service.running:
                told.add(label)
                print(f"the {label} exited; see {_shown(service.log)}.", file=sys.stderr, flush=True)
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
