"""State the webhook shares across processes when there is no Redis: message dedup keys with
the reply given, dialogue drafts, and the outbox of messages to send through WeChat's API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ReceivedMessage(Base):
    """A message or event already handled: ``MsgId``, or ``FromUserName:CreateTime`` for events.

    The reply is kept so that WeChat's retry of the same message gets the same answer.
    """

    __tablename__ = "received_messages"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    reply: Mapped[str | None] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(default=False)


class DialogueState(Base):
    """A chat dialogue's state (e.g. a survey draft) keyed by purpose and openid.

    ``version`` allows compare-and-set updates so that two messages handled at once on different
    processes cannot both build on the same state.
    """

    __tablename__ = "dialogue_states"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    value: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundMessage(Base):
    """A message to send through WeChat's API (customer-service or template), written in the same
    commit as whatever caused it, then sent by a task."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when sending was given up (e.g. 45015: outside the 48-hour customer-service window);
    # such a message is not retried.
    failed_at: Mapped[dt.datetime | None]
    # Set (and committed) just before the API call, cleared with its outcome: still set means
    # a send whose outcome is unknown (the process died mid-send).
    send_started_at: Mapped[dt.datetime | None]
    # Sends that may have reached the user without our knowing (a timeout after the request
    # went out, or the process died mid-send). One such send is retried; after two the
    # message is given up rather than risk a third copy (core.outbox).
    uncertain_sends: Mapped[int] = mapped_column(default=0)
    # Issue 22 item 7: the send's outcome is unknown (the API call timed out after the request
    # went out, or the process sending it died): settled as 可能已送达, never sent again (a
    # second copy is worse than a message WeChat may have delivered) nor counted as failed.
    maybe_delivered_at: Mapped[dt.datetime | None]
    # Not to be sent before this time (45009: the account's daily API quota is used up until
    # midnight, Beijing time).
    not_before: Mapped[dt.datetime | None]
    # How it reached the user (issue 15): "custom", "template"; or why not: "unreachable"
    # (window closed, no template), "unfollowed" (43004). None until then.
    channel: Mapped[str | None] = mapped_column(String(16))
    # Issue 23: WeChat refused a customer-service attempt of this message (45015 outside the
    # window, 45047 allowance spent): the allowance as counted here was wrong. Should stay rare.
    refused_errcode: Mapped[int | None]


class WeChatAccessToken(Base):
    """WeChat's API access token, shared by every process when there is no Redis (one refresher
    at a time under a database lock; a second fetch would invalidate the first, errcode 40001)."""

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime]
