"""One-time links sent in chat (issue 25): a head teacher's 日志本 download and online
application form. Only the token's SHA-256 is stored, so a copy of the database opens nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt
from models.org import Teacher


class ChatLink(CreatedAt, Base):
    __tablename__ = "chat_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "logbook" (the 工作日志本 of one 聘期) or "apply" (the 业务审批表 form).
    kind: Mapped[str] = mapped_column(String(16))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id", ondelete="CASCADE"))
    # The WeChat account that asked: the link dies when that account is no longer bound to
    # the teacher (unbound, or rebound to someone else).
    openid: Mapped[str] = mapped_column(String(64))
    # The 聘期 a logbook link is for, fixed when it was asked for.
    period_start: Mapped[dt.date | None]
    period_end: Mapped[dt.date | None]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    teacher: Mapped[Teacher] = relationship()
