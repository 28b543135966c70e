"""The 48-hour customer-service window: WeChat accepts customer-service messages to a user
only within 48 hours of their last message or event; after that only template messages.

The webhook records each interaction with :func:`touch` in its handling transaction: one
statement, which writes only when the stored time is older than :data:`TOUCH_EVERY` (a chatty
student costs one write per few minutes, not one per message)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.fastsql import FastStatement
from models.base import utcnow
from models.reach import WINDOW, WeChatContact

TOUCH_EVERY = dt.timedelta(minutes=5)
# A send decided this close to the window's end is treated as outside it (clock skew, the
# time the outbox takes).
MARGIN = dt.timedelta(minutes=10)

OPEN, CLOSED, UNKNOWN = "open", "closed", "unknown"


_CONTACTS = WeChatContact.__table__
_AT = _CONTACTS.c.last_interaction_at.type


def _touch_statement(dialect):
    stmt = dialect.insert(_CONTACTS).values(
        openid=bindparam("openid"), last_interaction_at=bindparam("now", type_=_AT)
    )
    return FastStatement(
        stmt.on_conflict_do_update(
            index_elements=[_CONTACTS.c.openid],
            set_={"last_interaction_at": stmt.excluded.last_interaction_at},
            where=_CONTACTS.c.last_interaction_at < bindparam("cutoff", type_=_AT),
        )
    )


# Built once: the webhook runs it on a sender's first message in a while (issue 17).
_TOUCH = {"postgresql": _touch_statement(postgresql), "sqlite": _touch_statement(sqlite)}


def touch(session: Session, openid: str, now: dt.datetime) -> None:
    """Record that ``openid`` interacted at ``now`` (an upsert, skipped when recent)."""
    _TOUCH[session.get_bind().dialect.name].execute(
        session, {"openid": openid, "now": now, "cutoff": now - TOUCH_EVERY}
    )


def state(session: Session, openid: str, now: dt.datetime) -> str:
    """OPEN, CLOSED, or UNKNOWN (no interaction recorded: e.g. bound before this was tracked)."""
    last = session.scalar(
        select(WeChatContact.last_interaction_at).where(WeChatContact.openid == openid)
    )
    if last is None:
        return UNKNOWN
    return OPEN if now < last + WINDOW - MARGIN else CLOSED


def record_interaction(session: Session, incoming) -> None:
    """The webhook's hook: ``incoming`` (a message or event, not an unsubscribe) opens or
    extends its sender's window."""
    if incoming.msg_type == "event" and incoming.event == "unsubscribe":
        return
    touch(session, incoming.openid, utcnow())
