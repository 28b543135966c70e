"""The database: engine, sessions, and the one way to open a transaction.

Two forms, one for each kind of caller:

- **Tasks, CLI commands and services** (worker/tasks, bot/cli, core's own steps such as
  closing due rounds or refreshing the WeChat token): :func:`session_scope`, a session in one
  transaction that commits when the block ends and rolls back when it raises. ``write=True``
  when the transaction reads what it then writes: it begins with :func:`begin_write`. A loop
  over items that must not undo each other (one round, one department) opens one scope per
  item. The CLI's ``CliContext.session(write=...)`` is this with the database configured.
- **A web request** (the webhook, the dashboard, the API): the request's session
  (bot/request_session.py), opened on first use and closed at teardown. A view commits as it
  goes, and one that writes after reading ends the read transaction (login check) and starts
  again with :func:`begin_write` (or core.locks.lock_sender, which is begin_write plus the
  per-sender advisory lock on PostgreSQL). Only code that deliberately commits several times
  in one session stays on a bare ``SessionFactory()``: the outbox's ``deliver`` (two write
  transactions around the WeChat call, each retried on SQLite's "database is locked"), and
  tests and benchmarks.

A transaction that will write and may first read what it writes begins with
:func:`begin_write`: on SQLite that is ``BEGIN IMMEDIATE``, which takes the database's single
write lock up front (a read upgraded to a write fails at once with "database is locked" when
anyone wrote meanwhile; waiting for the lock up front uses the busy timeout instead); on
PostgreSQL an ordinary transaction, with row or advisory locks where needed (core.locks).

Work to do once a transaction has committed (enqueue a Celery task, send an outbox row,
forward a 反馈) is registered with :func:`after_commit`, the only after-commit hook: it runs
after the commit and is dropped on rollback, whichever of the two forms opened the session.

No Flask here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

log = logging.getLogger(__name__)

# Configured once per process by ``configure()``; forked workers call ``dispose()``.
SessionFactory: sessionmaker[Session] = sessionmaker(expire_on_commit=False)
_engine: Engine | None = None


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout so that several
    web processes and an in-process task runner can share the embedded file."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # pysqlite's own transaction handling defers BEGIN; we emit it ourselves so that
            # ``BEGIN IMMEDIATE`` can take the write lock up front when asked for.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows (survey envelopes and drafts once a round closes) are overwritten
            # with zeros, not left in free pages of the file.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")

        return engine
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A pooled connection given back less than this long ago is taken as alive; one idle for
# longer is pinged on checkout (issue 17). SQLAlchemy's ``pool_pre_ping`` pinged on every
# checkout, a round trip on every webhook message. A connection that died while in use
# (PostgreSQL restarted a moment ago) fails on its first statement instead: SQLAlchemy and
# core.fastsql then invalidate the whole pool, and the webhook's first statement
# (core.locks.lock_sender) is retried once on a new connection.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_conn, record) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
        given_back = record.info.get("checked_in_at")
        # A new connection has no time: it was just opened.
        if given_back is None or time.monotonic() - given_back < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"pooled connection lost: {exc}") from exc


def configure(url: str, **kwargs) -> Engine:
    """Point the process-wide session factory at ``url`` (replacing any earlier engine)."""
    global _engine
    if _engine is not None:
        # Re-configuring for the same database keeps the pool: the app factory, the CLI and
        # tests may all call this, and sessions already open must stay valid.
        if not kwargs and _engine.url.render_as_string(hide_password=False) == url:
            return _engine
        _engine.dispose()
    _engine = make_engine(url, **kwargs)
    SessionFactory.configure(bind=_engine)
    return _engine


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database not configured: call core.db.configure(url) first")
    return _engine


def dispose() -> None:
    """Drop pooled connections, e.g. after a fork, so no connection is shared across processes."""
    if _engine is not None:
        _engine.dispose(close=False)


@contextmanager
def session_scope(*, write: bool = False) -> Iterator[Session]:
    """A session in one transaction: commits on success, rolls back on error (then
    re-raises). The way tasks, CLI commands and services open a transaction (module docstring).

    ``write``: the transaction writes after reading; it begins with :func:`begin_write`.
    :func:`after_commit` callbacks registered in the block run once the commit succeeded."""
    with SessionFactory() as session:
        if write:
            begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SQLITE_IMMEDIATE = "banzhuren_sqlite_immediate"


@event.listens_for(Engine, "set_connection_execution_options")
def _immediate_option(conn, opts) -> None:
    if SQLITE_IMMEDIATE in opts:
        conn.info["immediate"] = bool(opts[SQLITE_IMMEDIATE])


@event.listens_for(Pool, "checkin")
def _forget_immediate(_dbapi_conn, record) -> None:
    # ``info`` lives as long as the DBAPI connection; the next user must not inherit the flag.
    if record is not None:
        record.info.pop("immediate", None)


def begin_write(session: Session) -> None:
    """Begin ``session``'s transaction as a write transaction (``BEGIN IMMEDIATE`` on SQLite,
    through the engine's ``begin`` listener in :func:`make_engine`).

    The session must not be in a transaction yet: commit or roll back first.
    """
    if session.in_transaction():
        raise RuntimeError("begin_write() needs a session outside a transaction")
    if is_postgresql(session):
        # No option to carry: an execution option branches the connection and runs the
        # listener on every message (issue 17), for a flag only SQLite's BEGIN reads.
        session.connection()
        return
    session.connection(execution_options={SQLITE_IMMEDIATE: True})


_AFTER_COMMIT = "banzhuren_after_commit"


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback()`` once ``session``'s current transaction has committed; forget it if
    the transaction rolls back. A task never looks for a row that is not committed yet, and
    nothing is queued for a change that was undone.

    A callback that raises is logged, not raised: the transaction it follows is committed, and
    what it would have queued is found again by a sweep (outbox, feedback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, None) or ():
        try:
            callback()
        except Exception as exc:
            from core import handoff  # imported late: core.db is imported by everything

            if handoff.is_outage(exc):  # Redis away: one line per outage, not a traceback
                handoff.failed(exc, callback)
            else:
                log.exception("after-commit work %r failed; a sweep will pick it up", callback)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def is_postgresql(session_or_engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"
