"""Pooled PostgreSQL connections that died while in the pool (the server restarted, an admin cut
them) are not handed out twice, without a ping on every checkout (issue 17, core.db
PING_AFTER_IDLE_S): a connection idle for a while is pinged; one given back a moment ago fails
its first statement, which invalidates the whole pool, and the webhook's first statement
(core.locks.lock_sender) is retried once on a new connection.

PostgreSQL only, on a scratch database of its own (SQLite has no server whose connections die).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import core.db
from core.fastsql import FastStatement
from core.locks import lock_sender
from tests.conftest import PG_ADMIN_URL, create_pg_database, pg_database_url

_SELECT_ONE = FastStatement(text("SELECT 1"))
_OWN_ADVISORY_LOCKS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
)


@pytest.fixture
def pg() -> Iterator[Engine]:
    """An engine made as the app makes it, on a scratch database dropped afterwards."""
    name = f"banzhuren_pool_{uuid.uuid4().hex[:8]}"
    admin = create_pg_database(name)
    engine = core.db.make_engine(pg_database_url(name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cut_connections(engine: Engine) -> int:
    """Terminate every connection to ``engine``'s database, as a server restart would."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": engine.url.database},
                ).all()
            )
    finally:
        admin.dispose()


def fill_pool(engine: Engine, n: int) -> None:
    """Leave ``n`` connections in the pool, each just used and given back."""
    sessions = [Session(engine) for _ in range(n)]
    for s in sessions:
        s.execute(text("SELECT 1"))
    for s in sessions:
        s.close()
    assert engine.pool.checkedin() == n


def test_sender_lock_is_taken_on_a_new_connection_when_the_pooled_one_died(pg):
    fill_pool(pg, 3)
    assert cut_connections(pg) == 3
    with Session(pg) as s:
        # The pooled connection was given back a moment ago, so it is not pinged: the lock's
        # statement finds it dead, and is run once more on a new connection.
        lock_sender(s, "o-after-restart")
        assert s.execute(_OWN_ADVISORY_LOCKS).scalar() == 1
        s.commit()


def test_a_dead_connection_invalidates_the_whole_pool(pg):
    fill_pool(pg, 3)
    cut_connections(pg)
    first = Session(pg)
    with pytest.raises(DBAPIError) as raised:
        _SELECT_ONE.execute(first, {})
    assert raised.value.connection_invalidated
    first.close()
    # The two other pooled connections are as dead, but were opened before the failure:
    # the pool replaces them on checkout instead of handing them out.
    sessions = [Session(pg) for _ in range(3)]
    for s in sessions:
        assert _SELECT_ONE.execute(s, {}) == [(1,)]
    for s in sessions:
        s.close()


def test_a_connection_idle_for_a_while_is_pinged_before_use(pg, monkeypatch):
    fill_pool(pg, 1)
    cut_connections(pg)
    monkeypatch.setattr(core.db, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection "idle"
    with Session(pg) as s:
        assert _SELECT_ONE.execute(s, {}) == [(1,)]  # the ping found it dead: a new one


def test_a_connection_used_a_moment_ago_is_not_pinged(pg):
    # The other side of the one above: what the webhook saves a round trip on, and why its
    # first statement is retried (test_sender_lock_... above).
    fill_pool(pg, 1)
    cut_connections(pg)
    with Session(pg) as s, pytest.raises(DBAPIError):
        _SELECT_ONE.execute(s, {})
