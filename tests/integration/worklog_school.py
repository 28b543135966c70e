"""A small school for the work-log tests, and a head teacher talking to ``bot.chat.worklog``
through real ChatContexts (a session, the deployment's DialogueStore, commits like the router).

Dates are relative to the real clock: entries are stamped with the database's now, so that
撤销's 24 hours and the photos' 10 minutes are measured as in production.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.chat.context import ChatContext, Incoming, Sender
from bot.chat.state import store_for
from bot.chat.worklog import handle
from core.db import begin_write
from core.settings import Settings
from models import SchoolClass, Student, Teacher, TeacherRole, WeChatBinding
from models.base import utcnow
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)


def academic_start(day: dt.date) -> int:
    return day.year if day.month >= 9 else day.year - 1


@dataclass
class School:
    today: dt.date
    appointed_on: dt.date
    final: SchoolClass  # final-year class of the main teacher
    first: SchoolClass  # first-year class of the main teacher
    middle: SchoolClass  # a second-year class of another teacher
    teacher: Teacher
    other: Teacher  # head teacher of ``middle`` only
    counsellor: Teacher
    students: dict[str, Student]
    zhang_wei: tuple[Student, Student]  # two students called 张伟, one in each class


def build_school(session: Session, settings: Settings) -> School:
    today = utcnow().astimezone(settings.tz).date()
    year = academic_start(today)
    dep = make_department(session, name="管弦系党总支")
    counsellor = make_teacher(session, name="孙辅导", role=TeacherRole.COUNSELLOR)
    final = make_class(
        session,
        department=dep,
        name="2023级管弦1班",
        entry_year=year - 3,
        counsellor_id=counsellor.id,
    )
    first = make_class(session, department=dep, name=f"{year}级管弦1班", entry_year=year)
    middle = make_class(session, department=dep, name=f"{year - 1}级管弦2班", entry_year=year - 1)
    teacher = make_teacher(session, name="林老师", department_id=dep.id)
    other = make_teacher(session, name="周老师", department_id=dep.id)
    appointed_on = today - dt.timedelta(days=60)
    make_appointment(session, teacher=teacher, school_class=final, start_date=appointed_on)
    make_appointment(session, teacher=teacher, school_class=first, start_date=appointed_on)
    make_appointment(session, teacher=other, school_class=middle, start_date=appointed_on)
    students = {
        "张三": make_student(session, name="张三", classes=[final]),
        "李四": make_student(session, name="李四", classes=[final]),
        "赵六": make_student(session, name="赵六", classes=[final]),
        "王五": make_student(session, name="王五", classes=[first]),
        "钱七": make_student(session, name="钱七", classes=[middle]),
    }
    zw = (
        make_student(session, name="张伟", student_no="2023001", classes=[final]),
        make_student(session, name="张伟", student_no="2026001", classes=[first]),
    )
    # A term around today whenever the tests run (its code is only a label here).
    make_term(
        session,
        code=f"{year}-{year + 1}-1",
        start_date=today - dt.timedelta(days=75),
        end_date=today + dt.timedelta(days=60),
    )
    session.add(WeChatBinding(openid="o-teacher", teacher_id=teacher.id))
    session.add(WeChatBinding(openid="o-other", teacher_id=other.id))
    session.commit()
    return School(
        today, appointed_on, final, first, middle, teacher, other, counsellor, students, zw
    )


class TeacherChat:
    """One head teacher talking to the work log; each message commits like the webhook."""

    def __init__(self, session: Session, settings: Settings, teacher: Teacher, openid: str):
        self.session, self.settings, self.openid = session, settings, openid
        self.sender = Sender(openid, teacher_id=teacher.id, role="head_teacher")

    def send(self, text: str, msg_type: str = "text", **extra) -> str | None:
        # Like the webhook: one write transaction per message (BEGIN IMMEDIATE on SQLite, so
        # the embedded outbox sender writing meanwhile cannot fail it with "database is
        # locked"); whatever the test read before is ended first.
        self.session.commit()
        begin_write(self.session)
        ctx = ChatContext(
            session=self.session,
            settings=self.settings,
            incoming=Incoming(self.openid, msg_type, text, utcnow(), **extra),
            sender=self.sender,
            store=store_for(self.settings, self.session),
        )
        reply = handle(ctx)
        self.session.commit()
        return reply

    def pending(self) -> dict | None:
        return store_for(self.settings, self.session).get(f"worklog:{self.openid}")


def day_text(day: dt.date, today: dt.date) -> str:
    from core.worklog.dates import format_day

    return format_day(day, today)


def eager_celery(settings: Settings) -> None:
    """Run tasks in-process for ``settings``, also after a test that used a real worker.

    ``use_celery_settings`` force-closes the broker pool but kombu's registry still hands the
    closed pool back for the same URL ("Acquire on closed pool" on the next ``delay()``, which
    eager mode still makes to pick a serializer); clearing the registry gives a fresh one.
    """
    import kombu.pools

    from tests.support.celery_worker import use_celery_settings

    kombu.pools.reset()
    use_celery_settings(settings)
