"""Core statements for the webhook's hot path, compiled once per dialect and run straight on the
session's DBAPI connection (issue 17).

``Session.execute`` of a Core statement costs ~90 µs of Python per call on top of the driver's
own ~35 µs (compiled-cache lookup, execution context, result metadata), which on a message of
four or five statements was a fifth of the web process's time. A :class:`FastStatement` keeps
what the SQLAlchemy statement defines (the SQL, its bind and result type processing, the
session's transaction and connection) and drops the per-call machinery:

- the SQL is compiled once per dialect, the statement's literal values bound once;
- it runs on ``session.connection()``'s DBAPI connection, so inside the session's transaction
  (begun by it when none is, as ``Session.execute`` would), on either backend;
- a DBAPI error is raised as SQLAlchemy's exception (``OperationalError``, ``IntegrityError``...)
  and a lost connection is invalidated with the rest of the pool, as ``Session.execute`` does,
  so callers and :func:`bot.wechat.outage.is_outage` see the same errors;
- rows are named tuples with the statement's column labels, values processed by the columns'
  types (e.g. SQLite's dates and UTC timestamps).

Only for statements run on every message with plain parameters (no IN lists, no ORM
entities); anything else goes through the session as usual. It uses parts of SQLAlchemy's
compiler and pool that are not public API (``Pool._invalidate``, ``_bind_processors``,
``_result_columns``, ``construct_params(_check=False)``,
``TypeEngine._cached_result_processor``; the same in 2.0 and 2.1): the webhook's tests on both
backends run every statement built on it.
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement


class _Compiled:
    """One statement's SQL and processing for one dialect."""

    def __init__(self, stmt: ClauseElement, dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = dialect.positional
        self.order = tuple(compiled.positiontup or ())
        # Values of the statement's own literals (``done=True``...); callers give the rest.
        self.defaults = compiled.construct_params(_check=False)
        self.binds = tuple(compiled._bind_processors.items())
        columns = compiled._result_columns
        self.row = namedtuple("Row", [c.keyname for c in columns], rename=True) if columns else None
        self.results = tuple(
            (i, proc)
            for i, c in enumerate(columns)
            if (proc := c.type._cached_result_processor(dialect, None)) is not None
        )
        # Whether the statement returns rows, when its SQL says so: a SELECT or a RETURNING
        # has result columns, an INSERT, UPDATE or DELETE without RETURNING has none; None
        # (a textual statement) asks the cursor. Asking costs psycopg a Column object per
        # column on every call (issue 26).
        if columns:
            self.returns_rows: bool | None = True
        elif compiled.isinsert or compiled.isupdate or compiled.isdelete:
            self.returns_rows = False
        else:
            self.returns_rows = None

    def parameters(self, params: dict[str, Any]):
        values = dict(self.defaults)
        values.update(params)
        for name, proc in self.binds:
            if name in values:
                values[name] = proc(values[name])
        if self.positional:
            return tuple(values[name] for name in self.order)
        return values

    def rows(self, raw: list) -> list:
        if self.row is None:  # a textual statement: plain tuples
            return raw
        out = []
        for row in raw:
            if self.results:
                row = list(row)
                for i, proc in self.results:
                    row[i] = proc(row[i])
            out.append(self.row._make(row))
        return out


class FastStatement:
    """A Core statement (built once, at import) run with :meth:`execute`."""

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.stmt, dialect)
        return compiled

    def execute(self, session: Session, params: dict[str, Any]) -> list | None:
        """Run in ``session``'s transaction; the rows (named tuples), or None when the
        statement returns none."""
        conn = session.connection()
        dialect = conn.dialect
        compiled = self._for(dialect)
        values = compiled.parameters(params)
        dbapi_conn = conn.connection.dbapi_connection
        cursor = None
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute(compiled.sql, values)
            returns_rows = compiled.returns_rows
            if returns_rows is None:
                returns_rows = cursor.description is not None
            raw = cursor.fetchall() if returns_rows else None
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, dbapi_conn, cursor)
            if lost:
                # As Session.execute does: every connection opened before this one is
                # recycled on its next checkout (after a PostgreSQL restart they are all dead).
                conn.engine.pool._invalidate(conn.connection, exc)
                conn.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                hide_parameters=conn.engine.hide_parameters,
                dialect=dialect,
                connection_invalidated=lost,
            ) from exc
        finally:
            if cursor is not None:
                with contextlib.suppress(Exception):  # a lost connection's cursor
                    cursor.close()
        return None if raw is None else compiled.rows(raw)

    def first(self, session: Session, params: dict[str, Any]):
        rows = self.execute(session, params)
        return rows[0] if rows else None
