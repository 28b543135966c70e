"""The 48-hour customer-service window: WeChat accepts customer-service messages to a user
only within 48 hours of their last message or event; after that only template messages.

The webhook records each interaction with :func:`touch` in its handling transaction: one
statement, which writes only when the stored time is older than :data:`TOUCH_EVERY` (a chatty
student costs one write per few minutes, not one per message)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.base import utcnow
from models.reach import WINDOW, WeChatContact

TOUCH_EVERY = dt.timedelta(minutes=5)
# A send decided this close to the window's end is treated as outside it (clock skew, the
# time the outbox takes).
MARGIN = dt.timedelta(minutes=10)

OPEN, CLOSED, UNKNOWN = "open", "closed", "unknown"


def touch(session: Session, openid: str, now: dt.datetime) -> None:
    """Record that ``openid`` interacted at ``now`` (an upsert, skipped when recent)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = WeChatContact.__table__
    stmt = dialect.insert(table).values(openid=openid, last_interaction_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.openid],
        set_={"last_interaction_at": now},
        where=table.c.last_interaction_at < now - TOUCH_EVERY,
    )
    session.execute(stmt)


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
