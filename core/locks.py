"""Database locks: the per-sender lock around handling a chat message, and named locks.

Two messages from one person (a quick double send, or WeChat's retry racing the original on
another web process) are handled one after the other: the handling transaction starts with

- PostgreSQL: ``pg_advisory_xact_lock(1, hashtext(openid))``, released at commit/rollback, and
  waited for at most ``lock_timeout`` (so a stuck handler cannot hold a reply past WeChat's 5 s);
- SQLite: ``BEGIN IMMEDIATE``, which takes the database's single write lock up front (the
  embedded mode is one host with little traffic; this also avoids SQLite's "database is
  locked" on a read-then-write transaction).

The SQLite part is :func:`core.db.begin_write`.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from core.db import begin_write, is_postgresql
from core.fastsql import FastStatement

# Advisory lock classes (first key of the two-key form), so our locks never collide.
LOCK_SENDER = 1
LOCK_ACCESS_TOKEN = 2


_LOCK_WITH_TIMEOUT = FastStatement(
    text(
        "SELECT set_config('lock_timeout', :timeout, true), "
        "pg_advisory_xact_lock(:lock_class, hashtext(:name))"
    )
)


class LockTimeout(RuntimeError):
    """The lock was not granted in time (another handler of the same key is still running)."""


def advisory_lock(session: Session, lock_class: int, name: str, timeout_s: float) -> None:
    """Take a transaction-scoped lock on (``lock_class``, ``name``) on PostgreSQL, waiting at most
    ``timeout_s``; on SQLite the write transaction (:func:`begin_write`) already serialises.
    Raises :class:`LockTimeout`."""
    if not is_postgresql(session):
        return
    try:
        # One round trip: set_config(..., true) is SET LOCAL (it lasts until the end of this
        # transaction, so handlers' row locks are bounded by the same wait) and takes effect
        # before the lock call to its right is evaluated.
        _LOCK_WITH_TIMEOUT.execute(
            session,
            {"timeout": f"{int(timeout_s * 1000)}ms", "lock_class": lock_class, "name": name},
        )
    except OperationalError as exc:
        if exc.connection_invalidated:  # the connection was lost, not the lock refused
            raise
        session.rollback()
        raise LockTimeout(f"lock {lock_class}:{name} not granted in {timeout_s} s") from exc


def lock_sender(session: Session, openid: str, timeout_s: float = 3.5) -> None:
    """Begin the handling transaction holding the per-sender lock for ``openid``.

    Everything the handlers do for this message happens in this transaction; the webhook
    commits it (releasing the lock) before replying. Raises :class:`LockTimeout`.
    """
    for attempt in (1, 2):
        try:
            begin_write(session)
        except OperationalError as exc:  # SQLite: the write lock stayed busy past its timeout
            session.rollback()
            raise LockTimeout("database write lock not granted") from exc
        try:
            advisory_lock(session, LOCK_SENDER, openid, timeout_s)
            return
        except DBAPIError as exc:
            # The first statement of the transaction found its pooled connection dead
            # (PostgreSQL restarted; pooled connections are not pinged before use, see
            # core.db.PING_AFTER_IDLE_S): nothing was done yet, so once more on a new one.
            if attempt == 2 or not exc.connection_invalidated:
                raise
            session.rollback()
