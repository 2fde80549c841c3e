"""Class mode's services, started once per test session on 127.0.0.1 (ops.services): PostgreSQL,
an MLflow tracking server over it with basic-auth on, and Redis. Each skips, saying why, where
the programs are not installed (``make services`` installs them when it can)."""

from __future__ import annotations

import pytest

from ops import services

HOW = "run `make services` (scripts/ensure_services.sh) to install it"


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory):
    """Redis with an append-only file: a ``.stop()`` then ``.start()`` keeps its data."""
    if services.redis_binary() is None:
        pytest.skip(f"redis-server is not installed: {HOW}")
    with services.redis_server(tmp_path_factory.mktemp("redis")) as redis:
        yield redis


@pytest.fixture(scope="session")
def postgres_service(tmp_path_factory: pytest.TempPathFactory):
    """PostgreSQL with a database ``mlflow``; its data are deleted at the end of the session."""
    if services.postgres_bindir() is None:
        pytest.skip(f"PostgreSQL's server programs (initdb, postgres) are not installed: {HOW}")
    with services.postgres_server(tmp_path_factory.mktemp("postgres"), keep=False) as pg:
        yield pg


@pytest.fixture(scope="session")
def tracking_service(postgres_service, tmp_path_factory: pytest.TempPathFactory):
    """``mlflow server`` over ``postgres_service`` with proxied artifacts and basic-auth; ``.env``
    holds the lab's service account. A test may ``.stop()`` it; :func:`tracking` starts it again."""
    with services.mlflow_server(tmp_path_factory.mktemp("tracking"), postgres_service.url) as server:
        yield server


@pytest.fixture
def tracking(tracking_service):
    """The session's tracking server, running (started again if an earlier test left it stopped)."""
    tracking_service.start()
    return tracking_service
