"""What every chat handler receives: the message, who sent it, and where to store things.

The webhook builds a :class:`ChatContext` after verifying, decrypting and deduplicating the
message, holding a per-sender lock so that two messages from one person are handled one after
the other (never interleaved, on any process). A handler returns the reply text, or None when
it does not handle the message (the router then tries the next one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core.reach.allowance import Allowance, remaining
from core.settings import Settings


@dataclass(frozen=True)
class Incoming:
    """A message as the handlers see it."""

    openid: str
    # "text", "voice", "image", "event", or another WeChat MsgType
    msg_type: str
    # The text to interpret: Content of a text message, Recognition of a voice message,
    # stripped; "" when there is none.
    text: str
    # When the user sent it: CreateTime when plausible (within the hour before arrival), else
    # the arrival time; timezone-aware. Only for answer-speed checks: CreateTime is the
    # sender's word, so dates and windows use :attr:`now`.
    sent_at: dt.datetime
    # Event name for events ("subscribe", "click", ...), lower-cased; the click key for CLICK.
    event: str | None = None
    event_key: str | None = None
    # For images: the media id and picture URL.
    media_id: str | None = None
    pic_url: str | None = None
    # When it reached us, by our clock (the webhook sets it; None in tests that play a clock
    # through ``sent_at``).
    received_at: dt.datetime | None = None
    # A tap on a menu message's line (issue 15.3): its ``bizmsgmenuid``.
    menu_id: str | None = None

    @property
    def now(self) -> dt.datetime:
        """The school's clock for this message: arrival time, never CreateTime."""
        return self.received_at if self.received_at is not None else self.sent_at


@dataclass(frozen=True)
class Sender:
    """The roster person bound to the openid, if any."""

    openid: str
    student_id: int | None = None
    teacher_id: int | None = None
    # "student", "head_teacher", "counsellor", or None when unbound
    role: str | None = None


@dataclass(frozen=True)
class SenderState:
    """What the webhook read of the sender together with the sender, in the one statement after
    the per-sender lock (issue 17: one round trip instead of one per handler). Valid until a
    handler writes what it describes, so the handlers read it once, first thing."""

    # The survey dialogue's draft as stored (sealed), None when the sender has none; and the
    # draft's round (``core.surveys.rounds.RoundState``).
    draft_sealed: bytes | None = None
    draft_round: Any = None
    # The sender's customer-service allowance (``wechat_contacts``, issue 23) once this message's
    # grant is counted: the last granting action's kind and time, messages spent since.
    last_interaction_at: dt.datetime | None = None
    grant_kind: str | None = None
    spent: int = 0

    def allowance(self, now: dt.datetime) -> Allowance:
        """What the sender has left at ``now`` (``core.reach.allowance``)."""
        return remaining(self.grant_kind, self.last_interaction_at, self.spent, now)


class DialogueStore(Protocol):
    """Per-openid dialogue state (survey drafts, pending questions). Backed by Redis when
    configured, else by the ``dialogue_states`` table; the per-sender lock makes plain get/set
    safe."""

    def get(self, key: str) -> dict | None: ...

    def set(self, key: str, value: dict, ttl_seconds: int | None = None) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass
class ChatContext:
    session: Session
    settings: Settings
    incoming: Incoming
    sender: Sender
    store: DialogueStore
    # Read by the webhook with the sender (None: the handlers read from the database).
    state: SenderState | None = None

    @property
    def today(self) -> dt.date:
        """The school's date when the message arrived (BANZHUREN_TIMEZONE), not CreateTime's."""
        return self.incoming.now.astimezone(self.settings.tz).date()


class Handler(Protocol):
    def __call__(self, ctx: ChatContext) -> str | None: ...
