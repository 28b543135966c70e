"""Each user's customer-service allowance (issue 23; the rule is ``core.reach.allowance``),
stored in ``wechat_contacts``: the kind and time of their last granting action and how many
messages were spent since.

- The webhook records every granting message or event with :func:`record` in its handling
  transaction: one upsert that resets the allowance (grants do not add up); WeChat's own
  pushes write nothing.
- The outbox takes one message (:func:`spend`) in the write transaction that marks a message as
  being sent (committed before WeChat is called); in the one that records the outcome it gives
  the message back (:func:`refund`) when the call surely did not reach WeChat's count, and
  uses the allowance up (:func:`exhaust`) when WeChat refused (45015 / 45047): WeChat's count
  is the one that holds.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import core.db
from core.fastsql import FastStatement
from core.reach import allowance as rule
from models.base import utcnow
from models.reach import WeChatContact

_CONTACTS = WeChatContact.__table__
_AT = _CONTACTS.c.last_interaction_at.type


def clock() -> dt.datetime:
    """The time grants are recorded and spent at (a test may play another clock)."""
    return utcnow()


def _record_statement(dialect):
    stmt = dialect.insert(_CONTACTS).values(
        openid=bindparam("openid"),
        last_interaction_at=bindparam("now", type_=_AT),
        grant_kind=bindparam("kind"),
        spent=0,
    )
    return FastStatement(
        stmt.on_conflict_do_update(
            index_elements=[_CONTACTS.c.openid],
            set_={
                "last_interaction_at": stmt.excluded.last_interaction_at,
                "grant_kind": stmt.excluded.grant_kind,
                "spent": 0,
            },
        )
    )


# Built once: the webhook runs it on every granting message (issue 17's hot path).
_RECORD = {"postgresql": _record_statement(postgresql), "sqlite": _record_statement(sqlite)}


def record(session: Session, openid: str, kind: str, now: dt.datetime) -> None:
    """A granting action of ``kind`` (``allowance.GRANTS``) at ``now``: the allowance restarts."""
    _RECORD[session.get_bind().dialect.name].execute(
        session, {"openid": openid, "now": now, "kind": kind}
    )


def record_interaction(session: Session, incoming) -> tuple[str, dt.datetime] | None:
    """The webhook's hook: records the grant ``incoming`` carries, if any; returns its kind
    and time."""
    kind = rule.grant_of(incoming.msg_type, incoming.event)
    if kind is None:
        return None
    now = clock()
    record(session, incoming.openid, kind, now)
    return kind, now


def current(session: Session, openid: str, now: dt.datetime | None = None) -> rule.Allowance:
    """What ``openid`` has left (nothing when no grant was recorded)."""
    row = session.execute(
        select(
            WeChatContact.grant_kind, WeChatContact.last_interaction_at, WeChatContact.spent
        ).where(WeChatContact.openid == openid)
    ).first()
    if row is None:
        return rule.NONE
    return rule.remaining(row.grant_kind, row.last_interaction_at, row.spent, now or clock())


def spend(
    session: Session, openid: str, reserve: int = 0, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Take one message from ``openid``'s allowance, leaving at least ``reserve`` unspent,
    inside ``session``'s write transaction (the row locked on PostgreSQL; SQLite's write
    transaction is exclusive): two senders never take the same last message. Returns the time
    of the grant it was taken from (for :func:`refund` / :func:`exhaust`), or None when there
    is not enough left."""
    now = now or clock()
    query = select(WeChatContact).where(WeChatContact.openid == openid)
    if core.db.is_postgresql(session):
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        return None
    left = rule.remaining(row.grant_kind, row.last_interaction_at, row.spent, now)
    if not left.allows(reserve):
        return None
    row.spent += 1
    session.flush()
    return row.last_interaction_at


def _same_grant(openid: str, granted_at: dt.datetime):
    return (WeChatContact.openid == openid) & (WeChatContact.last_interaction_at == granted_at)


def refund(session: Session, openid: str, granted_at: dt.datetime) -> None:
    """Give back a message that did not reach WeChat's count (refused for another reason, a
    network error before the request went out); nothing when a new grant came meanwhile."""
    session.execute(
        update(WeChatContact)
        .where(_same_grant(openid, granted_at), WeChatContact.spent > 0)
        .values(spent=WeChatContact.spent - 1)
    )


def exhaust(session: Session, openid: str, granted_at: dt.datetime) -> None:
    """WeChat refused (45015 / 45047): nothing is left of this grant, whatever was counted
    here; a new grant since is kept."""
    limit = max(g.count for g in rule.GRANTS.values())
    session.execute(
        update(WeChatContact).where(_same_grant(openid, granted_at)).values(spent=limit)
    )
