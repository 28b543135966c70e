"""第十四条: each branch holds a head teachers' staff meeting (工作例会) every month. From the 20th
of a month, a branch that has recorded none yet this month is reminded on the dashboard
(issue 15.5). Branch users have no WeChat binding in this system (bindings are for roster
students and teachers), so the reminder is the dashboard notice only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Meeting, MeetingKind

REMIND_FROM_DAY = 20


def meeting_due(day: dt.date, held_this_month: bool) -> bool:
    """The rule: from the 20th, when no staff meeting was held this month."""
    return day.day >= REMIND_FROM_DAY and not held_this_month


def staff_meeting_notice(session: Session, department_id: int, today: dt.date) -> str | None:
    """The dashboard notice for ``department_id`` on ``today``, or None."""
    if today.day < REMIND_FROM_DAY:
        return None
    held = session.scalar(
        select(Meeting.id)
        .where(
            Meeting.department_id == department_id,
            Meeting.kind == MeetingKind.STAFF_MEETING,
            Meeting.held_on >= today.replace(day=1),
            Meeting.held_on <= today,
        )
        .limit(1)
    )
    if not meeting_due(today, held is not None):
        return None
    return (
        f"第十四条：党总支每月至少召开一次兼职班主任工作例会。本月（{today.month}月）尚未记录例会，"
        "请安排召开并在「会议」页面记录。"
    )
