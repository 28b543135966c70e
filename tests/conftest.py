"""Shared fixtures.

Every test that touches the database runs twice: on SQLite and on PostgreSQL (``--backend``
narrows it). PostgreSQL and Redis must be reachable: a missing service fails the run loudly,
it is never skipped. Each pytest run gets its own PostgreSQL database, Redis key prefix and
Celery queue, so several runs on one machine do not see each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

import core.db
import models
from core.settings import Settings
from models.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "BANZHUREN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BANZHUREN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]

# Fixtures shared by several test modules live in these plugins, one per concern.
pytest_plugins = [
    "tests.support.wechat",
    "tests.support.wecom",
    "tests.support.campus",
    "tests.support.celery_worker",
    "tests.support.browser",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("both", "sqlite", "postgresql"),
        default=os.environ.get("BANZHUREN_TEST_BACKEND", "both"),
        help="which database backends the database tests run on (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        backends = ["sqlite", "postgresql"] if chosen == "both" else [chosen]
        if metafunc.definition.get_closest_marker("postgresql_only"):
            # About PostgreSQL itself (shared by several hosts, row locks): never SQLite.
            backends = [b for b in backends if b == "postgresql"]
        metafunc.parametrize("backend", backends, scope="session")


def pg_database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def create_pg_database(name: str) -> Engine:
    """Create the empty PostgreSQL database ``name``; the admin engine (autocommit) that can
    drop it. Fails the test loudly when PostgreSQL is not reachable: never a skip."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem, reported loudly
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}. Start it (see .ci/run); "
            "these tests are never skipped.",
            pytrace=False,
        )
    return admin


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this run, on the backend under test."""
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "banzhuren-test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    name = f"banzhuren_test_{RUN_ID}"
    admin = create_pg_database(name)
    url = pg_database_url(name)
    upgrade(url)
    yield url
    # Close (not just forget) pooled connections before dropping the database.
    if core.db._engine is not None:
        core.db._engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(url: str) -> None:
    """Empty every table (cheaper than recreating the schema for each test)."""
    engine = core.db.get_engine()
    tables = [t.name for t in models.Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for t in reversed(tables):
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture
def db_url(database_url: str) -> str:
    """The database under test, configured for this process and emptied."""
    current = core.db._engine
    if current is None or str(current.url.render_as_string(hide_password=False)) != database_url:
        core.db.configure(database_url)
    truncate_all(database_url)
    return database_url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A plain session on the emptied database; the test commits what it needs."""
    with core.db.SessionFactory() as s:
        yield s


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL}: {exc}. Start it (see .ci/run); "
            "these tests are never skipped.",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"bzrtest:{RUN_ID}:{uuid.uuid4().hex[:6]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


TEST_SEAL_KEY = "dGVzdC1zZWFsLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="


def make_settings(database_url: str, **overrides) -> Settings:
    """Settings for a test: embedded mode unless ``redis_url`` is given."""
    base = dict(
        database_url=database_url,
        secret_key="test-secret" * 3,
        wechat_token="testtoken",
        redis_prefix=f"bzrtest:{RUN_ID}",
        celery_queue=f"bzrtest-{RUN_ID}",
        # Tests seal survey answers with a key of their own (core/surveys/seal.py).
        seal_key=TEST_SEAL_KEY,
    )
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def app(settings: Settings):
    from bot import create_app

    flask_app = create_app(settings)
    flask_app.config.update(TESTING=True)
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
