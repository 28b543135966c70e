"""The one way tasks, CLI commands and services open a transaction (core.db.session_scope) and
the one after-commit hook (core.db.after_commit), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import func, select

import core.db
from bot.cli.common import CliContext
from models import AuditLog
from tests.conftest import make_settings


class Boom(Exception):
    pass


def audit_rows(action: str) -> int:
    """Committed rows with this action, seen from a session of its own."""
    with core.db.session_scope() as s:
        return s.scalar(select(func.count()).where(AuditLog.action == action))


def add_row(session, action: str) -> None:
    session.add(AuditLog(actor="test", action=action))
    session.flush()


@pytest.mark.parametrize("write", [False, True])
def test_scope_commits_when_the_block_ends(db_url, write):
    with core.db.session_scope(write=write) as s:
        assert s.in_transaction() == write  # a write scope begins at once, a read one lazily
        add_row(s, "kept")
        assert audit_rows("kept") == 0  # not before the block ends
    assert audit_rows("kept") == 1


@pytest.mark.parametrize("write", [False, True])
def test_scope_rolls_back_and_reraises_on_error(db_url, write):
    with pytest.raises(Boom), core.db.session_scope(write=write) as s:
        add_row(s, "undone")
        raise Boom
    assert audit_rows("undone") == 0


def test_after_commit_runs_once_the_commit_is_visible(db_url):
    seen: list[int] = []
    with core.db.session_scope(write=True) as s:
        add_row(s, "queued")
        # The callback looks from another session, as a Celery task would.
        core.db.after_commit(s, lambda: seen.append(audit_rows("queued")))
        core.db.after_commit(s, lambda: seen.append(-1))
        assert seen == []
    assert seen == [1, -1]  # after the commit, each once, in order of registration


def test_after_commit_is_dropped_on_rollback(db_url):
    called: list[str] = []
    with pytest.raises(Boom), core.db.session_scope(write=True) as s:
        add_row(s, "undone")
        core.db.after_commit(s, lambda: called.append("error"))
        raise Boom
    assert called == []

    # Rolled back inside the block (a dry run), then committed empty: still never called,
    # and not carried over to a later commit of the same session.
    with core.db.session_scope(write=True) as s:
        add_row(s, "trial")
        core.db.after_commit(s, lambda: called.append("trial"))
        s.rollback()
        add_row(s, "later")
        s.commit()
        core.db.after_commit(s, lambda: called.append("later"))
    assert called == ["later"]
    assert audit_rows("trial") == 0 and audit_rows("later") == 1


def test_a_failing_callback_does_not_undo_the_commit(db_url, caplog):
    ran: list[str] = []
    with (
        caplog.at_level(logging.ERROR, logger="core.db"),
        core.db.session_scope(write=True) as s,
    ):
        add_row(s, "committed")
        core.db.after_commit(s, lambda: 1 / 0)
        core.db.after_commit(s, lambda: ran.append("next"))
    assert audit_rows("committed") == 1
    assert ran == ["next"]
    assert "a sweep will pick it up" in caplog.text


def _other_writer_blocked(db_url: str) -> bool:
    """SQLite: whether another connection finds the database's write lock taken."""
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    finally:
        other.close()


def test_write_scope_takes_the_sqlite_write_lock_up_front(db_url, backend):
    if backend != "sqlite":
        with core.db.session_scope(write=True) as s:
            assert s.in_transaction() and core.db.is_postgresql(s)
        return
    with core.db.session_scope(write=True) as s:
        assert _other_writer_blocked(db_url)  # before anything was read or written
        s.scalar(select(func.count()).select_from(AuditLog))
    assert not _other_writer_blocked(db_url)
    # A read scope (even on the connection the write scope used) takes no write lock.
    with core.db.session_scope() as s:
        s.scalar(select(func.count()).select_from(AuditLog))
        assert not _other_writer_blocked(db_url)


def test_cli_session_is_the_same_scope(db_url, backend):
    cli = CliContext()
    cli._settings = make_settings(db_url)
    with pytest.raises(Boom), cli.session(write=True) as s:
        if backend == "sqlite":
            assert _other_writer_blocked(db_url)  # the write lock before any write
        add_row(s, "cli-undone")
        raise Boom
    with cli.session() as s:
        add_row(s, "cli-kept")
    assert audit_rows("cli-undone") == 0 and audit_rows("cli-kept") == 1
