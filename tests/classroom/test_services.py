"""ops.services: Redis keeps its data across a restart, and nothing a service started outlives it."""

from __future__ import annotations

import os
import socket

import pytest

from ops import services


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _redis(url_port: int, *command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", url_port), timeout=5) as s:
        s.sendall(b"*%d\r\n" % len(command) + b"".join(b"$%d\r\n%s\r\n" % (len(c), c) for c in command))
        return s.recv(256)


def test_redis_keeps_its_data_across_a_restart_and_stops_for_good(redis_service, tmp_path):
    assert redis_service.url == f"redis://127.0.0.1:{redis_service.port}/0"
    assert _redis(redis_service.port, b"SET", b"dll-test", b"kept") == b"+OK\r\n"
    old_pid = redis_service.pid
    redis_service.stop()
    assert not _alive(old_pid)
    redis_service.start()
    assert _redis(redis_service.port, b"GET", b"dll-test") == b"$4\r\nkept\r\n"

    with services.redis_server(tmp_path, appendonly=False, password="s3cret-pw") as other:
        assert other.url == f"redis://:s3cret-pw@127.0.0.1:{other.port}/0"
        assert _redis(other.port, b"PING").startswith(b"-NOAUTH")
        pid = other.pid
        other.kill()
        assert not _alive(pid)
        other.start()
        pid = other.pid
    assert not _alive(pid)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other.port), timeout=1)


def test_a_service_that_cannot_start_says_why_and_leaves_nothing_behind(tmp_path, monkeypatch):
    if services.redis_binary() is None:
        pytest.skip("redis-server is not installed: run `make services`")
    with services.redis_server(tmp_path / "a") as first:
        # the port is taken: it refuses to start instead of waiting on the other server
        with pytest.raises(services.ServiceError, match="already listens"), services.redis_server(tmp_path / "b", port=first.port):
            pass
    monkeypatch.setattr(services.RedisServer, "_command", lambda self: [self.binary, "--no-such-directive", "x"])
    with pytest.raises(services.ServiceError, match="(?s)redis exited with status 1.*no-such-directive"), \
            services.redis_server(tmp_path / "c"):
        pass


def test_a_worker_is_started_in_the_repository_and_stopped(redis_service, tmp_path):
    w = services.worker({"DLL_JOBS": redis_service.url, "DLL_DATA_DIR": str(tmp_path)}, name="w1",
                        cuda_visible_devices="", log=tmp_path / "worker.log")
    try:
        assert w.pid > 0
    finally:
        w.stop(timeout=20)
    assert w.poll() is not None and not _alive(w.pid)
