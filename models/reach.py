"""Reaching students (issue 15): each WeChat user's customer-service allowance (issue 23: the
last granting action and what was spent of it), the days a term marks as closed to reminders, and which round notices and
reminders went to whom (at most one reminder per student per school day)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class WeChatContact(Base):
    """An openid's last action that granted customer-service messages (issue 23,
    ``core.reach.allowance``): its kind, its time, and how many messages were spent since."""

    __tablename__ = "wechat_contacts"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The time of the last granting action (a message, a menu click, a subscribe, a scan).
    last_interaction_at: Mapped[dt.datetime]
    # core.reach.allowance.GRANTS key; None: unknown (a row from before issue 23), no grant.
    grant_kind: Mapped[str | None] = mapped_column(String(16))
    spent: Mapped[int] = mapped_column(default=0, server_default="0")


class TermClosedDate(Base):
    """A day of a term on which no reminder goes out (a holiday or an exam day)."""

    __tablename__ = "term_closed_dates"

    term_id: Mapped[int] = mapped_column(
        ForeignKey("terms.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    # "holiday" or "exam" (shown in the CLI); free text would do, but two words are enough.
    reason: Mapped[str] = mapped_column(String(16), default="holiday")


class RoundContact(Base):
    """A round notice (``notice``) or reminder (``remind``) queued for a student on a school
    day, with its outbox row (whose ``channel`` says how it reached them, if it did)."""

    __tablename__ = "round_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    # The school-time day the message goes out (a reminder deferred past the night counts
    # for the morning it is sent): at most one reminder per student and day.
    day: Mapped[dt.date]
    outbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("round_id", "student_id", "kind", "day"),
        Index("ix_round_contacts_student_day", "student_id", "day"),
    )
