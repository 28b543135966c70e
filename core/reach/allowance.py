"""The customer-service allowance as WeChat counts it since 2023 (PROTOCOL.md, "Outbound API"),
as pure functions.

- A message the user sends grants 5 customer-service messages within 48 hours; a menu click
  (``click``, ``scancode_push``, ``scancode_waitmsg``), a subscribe (also through a QR code or
  a product scan) or a QR scan grants 3 within one minute.
- Grants do not add up: each resets the allowance to that action's number and period.
- WeChat's own pushes (``TEMPLATESENDJOBFINISH``, ``MASSSENDJOBFINISH``, ``LOCATION`` reports,
  ``VIEW``, ``kf_*``, ``subscribe_msg_*``, card events, ``unsubscribe``...) and device events
  grant nothing.

:func:`grant_of` says which grant an incoming message or event carries; :func:`remaining` what
is left of the last grant at a given time. ``core.reach.window`` stores the last grant per
openid and spends from it; the outbox chooses the channel from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MESSAGE, MENU, SUBSCRIBE, SCAN = "message", "menu", "subscribe", "scan"


@dataclass(frozen=True)
class Grant:
    count: int
    period: dt.timedelta


GRANTS: dict[str, Grant] = {
    MESSAGE: Grant(5, dt.timedelta(hours=48)),
    MENU: Grant(3, dt.timedelta(minutes=1)),
    SUBSCRIBE: Grant(3, dt.timedelta(minutes=1)),
    SCAN: Grant(3, dt.timedelta(minutes=1)),
}

# Events (as wechatpy names them, lower-case) that grant, and which grant.
GRANTING_EVENTS: dict[str, str] = {
    "click": MENU,
    "scancode_push": MENU,
    "scancode_waitmsg": MENU,
    "subscribe": SUBSCRIBE,
    "subscribe_scan": SUBSCRIBE,
    "subscribe_scan_product": SUBSCRIBE,
    "scan": SCAN,
}

# A send decided this close to the end of a grant's period is taken as outside it: clocks
# differ, and the outbox takes a moment between deciding and WeChat receiving the call. At most
# a sixth of the period, so a one-minute grant keeps 50 usable seconds.
MAX_MARGIN = dt.timedelta(minutes=10)


def margin(period: dt.timedelta) -> dt.timedelta:
    return min(MAX_MARGIN, period / 6)


@dataclass(frozen=True)
class Allowance:
    """What is left: ``remaining`` messages until ``expires_at`` (None when nothing is left)."""

    remaining: int
    expires_at: dt.datetime | None

    def allows(self, reserve: int = 0) -> bool:
        """True when one message may be sent leaving ``reserve`` unspent."""
        return self.remaining > reserve


NONE = Allowance(0, None)


def grant_of(msg_type: str, event: str | None = None) -> str | None:
    """The grant an incoming message or event carries (:data:`GRANTS` key), or None.

    ``msg_type`` and ``event`` lower-cased as wechatpy gives them. Any message type the user
    sends (text, voice, image, location, link, video...) is a message; ``event`` and the
    ``device_*`` types are pushes, which grant only when :data:`GRANTING_EVENTS` names them."""
    msg_type = (msg_type or "").strip().lower()
    if not msg_type:
        return None
    if msg_type == "event":
        return GRANTING_EVENTS.get((event or "").strip().lower())
    if msg_type.startswith("device_"):
        return None
    return MESSAGE


def remaining(
    kind: str | None, granted_at: dt.datetime | None, spent: int, now: dt.datetime
) -> Allowance:
    """What is left at ``now`` of a grant of ``kind`` made at ``granted_at`` of which ``spent``
    messages were sent (no grant recorded: nothing)."""
    grant = GRANTS.get(kind or "")
    if grant is None or granted_at is None:
        return NONE
    expires_at = granted_at + grant.period - margin(grant.period)
    left = grant.count - max(spent, 0)
    if now >= expires_at or left <= 0:
        return NONE
    return Allowance(left, expires_at)


def after_grant(
    kind: str | None,
    granted_at: dt.datetime | None,
    spent: int,
    incoming_grant: str | None,
    now: dt.datetime,
) -> tuple[str | None, dt.datetime | None, int]:
    """The stored grant (kind, time, spent) after an incoming action with ``incoming_grant``
    at ``now``: a grant resets it, anything else leaves it as it was."""
    if incoming_grant is None:
        return kind, granted_at, spent
    return incoming_grant, now, 0
