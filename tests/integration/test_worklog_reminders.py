"""Reminders to head teachers who logged nothing for 14 days: queued through the outbox, at most
once a week per teacher, none for a teacher who logs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import core.outbox
from models import OutboundMessage, Reminder, WeChatBinding
from models.base import utcnow
from tests.factories import make_appointment, make_teacher
from tests.integration.worklog_school import School, TeacherChat, build_school, eager_celery
from worker.tasks.reminders import remind, remind_inactive_teachers


@pytest.fixture
def school(session: Session, settings) -> School:
    eager_celery(settings)
    s = build_school(session, settings)
    yield s
    assert core.outbox.drain(30)


def sent_to(session: Session) -> list[str]:
    session.expire_all()
    return [m.openid for m in session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]


def test_inactive_teacher_is_reminded_once_a_week(session, settings, school):
    TeacherChat(session, settings, school.teacher, "o-teacher").send("班会 学风建设")
    assert remind_inactive_teachers.delay().get() == 1
    assert sent_to(session) == ["o-other"]
    [r] = session.scalars(select(Reminder))
    assert r.teacher_id == school.other.id
    # The next day: not again.
    assert remind_inactive_teachers.delay().get() == 0
    assert sent_to(session) == ["o-other"]
    # Eight days later, still nothing logged: once more (the active teacher is quiet by then).
    assert core.outbox.drain(30)
    session.commit()  # end the test session's read snapshot before it writes
    later = utcnow() + dt.timedelta(days=8)
    today = later.astimezone(settings.tz).date()
    reminded = remind(session, today, later)
    session.commit()
    assert reminded == [school.other.id]


def test_unbound_or_newly_appointed_teachers_get_nothing(session, settings, school):
    unbound = make_teacher(session, name="未绑定")
    make_appointment(
        session, teacher=unbound, school_class=school.middle, start_date=school.appointed_on
    )
    newcomer = make_teacher(session, name="新聘")
    make_appointment(
        session,
        teacher=newcomer,
        school_class=school.middle,
        start_date=school.today - dt.timedelta(days=3),
    )
    session.add(WeChatBinding(openid="o-newcomer", teacher_id=newcomer.id))
    session.commit()
    now = utcnow()
    reminded = remind(session, school.today, now)
    session.commit()
    # 林老师 and 周老师 have logged nothing in 60 days; the unbound one cannot be reached and
    # the newcomer has not been in office for two weeks yet.
    assert sorted(reminded) == sorted([school.teacher.id, school.other.id])
    assert sorted(sent_to(session)) == ["o-other", "o-teacher"]
    assert unbound.id not in {r.teacher_id for r in session.scalars(select(Reminder))}
