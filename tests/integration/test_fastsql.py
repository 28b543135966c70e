"""core.fastsql: a statement's rows, or None when it returns none, on both backends (issue 26:
whether a statement returns rows is read from its SQL, not asked of the cursor on every call)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, delete, insert, select, text, update

from core.fastsql import FastStatement
from models.reach import WeChatContact

_C = WeChatContact.__table__
_INSERT = FastStatement(
    insert(_C).values(openid=bindparam("openid"), last_interaction_at=bindparam("at"), spent=0)
)
_INSERT_RETURNING = FastStatement(
    insert(_C)
    .values(openid=bindparam("openid"), last_interaction_at=bindparam("at"), spent=0)
    .returning(_C.c.openid, _C.c.spent)
)
_SELECT = FastStatement(
    select(_C.c.openid, _C.c.last_interaction_at).where(_C.c.openid == bindparam("openid"))
)
_UPDATE = FastStatement(update(_C).values(spent=_C.c.spent + 1))
_DELETE_RETURNING = FastStatement(delete(_C).returning(_C.c.openid))
_TEXT_SELECT = FastStatement(text("SELECT 7 AS n"))
_TEXT_UPDATE = FastStatement(text("UPDATE wechat_contacts SET spent = spent + 1"))


def test_each_kind_of_statement_returns_its_rows_or_none(session):
    at = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    assert _INSERT.execute(session, {"openid": "o-1", "at": at}) is None
    assert [tuple(r) for r in _INSERT_RETURNING.execute(session, {"openid": "o-2", "at": at})] == [
        ("o-2", 0)
    ]
    row = _SELECT.first(session, {"openid": "o-1"})
    assert row.openid == "o-1" and row.last_interaction_at == at
    assert _SELECT.first(session, {"openid": "nobody"}) is None
    assert _UPDATE.execute(session, {}) is None
    assert _TEXT_UPDATE.execute(session, {}) is None
    assert [tuple(r) for r in _TEXT_SELECT.execute(session, {})] == [(7,)]
    assert sorted(r.openid for r in _DELETE_RETURNING.execute(session, {})) == ["o-1", "o-2"]
    session.rollback()
