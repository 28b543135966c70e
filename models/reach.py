"""Reaching students (issue 15): each WeChat user's last interaction (the 48-hour customer-
service window), the days a term marks as closed to reminders, and which round notices and
reminders went to whom (at most one reminder per student per school day)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

# WeChat accepts customer-service messages for 48 hours after the user's last message or event.
WINDOW = dt.timedelta(hours=48)


class WeChatContact(Base):
    """When an openid last wrote to the account (a message, a menu tap, a subscribe...)."""

    __tablename__ = "wechat_contacts"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_interaction_at: Mapped[dt.datetime]


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
