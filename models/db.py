"""Engine and session factory. One session per web request and per task; no Flask here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

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
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


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
        raise RuntimeError("database not configured: call models.db.configure(url) first")
    return _engine


def dispose() -> None:
    """Drop pooled connections, e.g. after a fork, so no connection is shared across processes."""
    if _engine is not None:
        _engine.dispose(close=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session in one transaction: commits on success, rolls back on error."""
    with SessionFactory() as session, session.begin():
        yield session


def is_postgresql(session_or_engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"
