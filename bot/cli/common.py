"""What every command shares: settings loaded once, the database configured on demand, a
one-line error on bad input, and a progress bar only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.orm import Session

import core.db
from core.doctor.schema import SchemaState, SchemaStatus, schema_state
from core.settings import ConfigError, Settings, load_settings

T = TypeVar("T")


class CliContext:
    """Lazily loaded settings and database for a command."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._db_ready = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError as exc:
                fail(str(exc))
        return self._settings

    def database(self) -> str:
        """Configure the session factory for the settings' database and return its URL.
        A database never initialised, or behind the migrations, stops the command here with
        one line (exit 2) instead of a traceback on its first query."""
        if not self._db_ready:
            state = schema_state(self.settings.database_url)
            if not state.ready:
                raise NotReady(state.message() + _demo_hint(state))
            core.db.configure(self.settings.database_url)
            self._db_ready = True
        return self.settings.database_url

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """:func:`core.db.session_scope` on the settings' database: a session in one
        transaction that commits only if the block finishes. ``write``: the command reads what
        it then writes, so the transaction takes the write lock up front (SQLite)."""
        self.database()
        with core.db.session_scope(write=write) as session:
            yield session


class NotReady(click.ClickException):
    """The database is not there or not migrated: exit 2, as for a usage mistake."""

    exit_code = 2


def _demo_hint(state: SchemaState) -> str:
    """After `banzhuren demo`, the school it played is in banzhuren-demo.db, not the default."""
    demo = Path("banzhuren-demo.db")
    if state.status is SchemaStatus.MISSING and state.url.startswith("sqlite") and demo.exists():
        return f"（演示的学校在 {demo}：BANZHUREN_DATABASE_URL=sqlite:///{demo}）"
    return ""


def fail(message: str) -> None:
    """Print a one-line error and exit non-zero."""
    raise click.ClickException(message)


def progress(items: Iterable[T], length: int | None = None, label: str = "") -> Iterator[T]:
    """A progress bar on a terminal; nothing in a pipe."""
    if not sys.stderr.isatty():
        yield from items
        return
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar


pass_cli = click.make_pass_decorator(CliContext)
