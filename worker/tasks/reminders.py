"""Reminding head teachers who have logged nothing for two weeks (第十六条: the work log is the
evidence of their term). One reminder per teacher per week at most: each sent one is a
``Reminder`` row, written in the same commit as its outbox message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

import core.db
from core import jobs
from core.celery_app import celery, settings
from core.worklog.counts import inactive_teachers
from models import Reminder
from models.base import utcnow
from worker.tasks.common import RETRYING

INACTIVE_DAYS = 14
REMINDER_KIND = "worklog_inactive"
NOT_AGAIN_WITHIN = dt.timedelta(days=7)

REMINDER_TEXT = (
    "您好！您已有{days}天没有记录兼职班主任工作日志了。工作日志是聘期考评的依据（第十六条），"
    "请及时记录谈心谈话、走访寝室、班会等工作，例如：\n谈心 张三 期末复习压力大，约好下周再聊\n"
    "发送「统计」可查看本月完成情况。"
)


def remind(session, today: dt.date, now: dt.datetime) -> list[int]:
    """Queue a reminder to each inactive teacher not reminded in the last week; returns their
    ids. A teacher without a bound WeChat gets none (and no Reminder row, so one goes out
    once they bind)."""
    from core.outbox import queue_text_for

    recent = set(
        session.scalars(
            select(Reminder.teacher_id).where(
                Reminder.kind == REMINDER_KIND, Reminder.sent_at > now - NOT_AGAIN_WITHIN
            )
        )
    )
    reminded = []
    for teacher_id in inactive_teachers(session, today, INACTIVE_DAYS):
        if teacher_id in recent:
            continue
        message = queue_text_for(
            session, teacher_id=teacher_id, text=REMINDER_TEXT.format(days=INACTIVE_DAYS)
        )
        if message is None:
            continue
        session.add(Reminder(teacher_id=teacher_id, kind=REMINDER_KIND, sent_at=now))
        reminded.append(teacher_id)
    session.flush()
    return reminded


@celery.task(name=jobs.REMIND_INACTIVE_TEACHERS, time_limit=300, soft_time_limit=270, **RETRYING)
def remind_inactive_teachers(self) -> int:
    """Beat task: remind the teachers with no entry in 14 days; returns how many."""
    now = utcnow()
    today = now.astimezone(settings().tz).date()
    # SQLite: write lock up front (see worker.tasks.feedback).
    with core.db.session_scope(write=True) as session:
        reminded = remind(session, today, now)
    return len(reminded)
