"""The beat's tasks: evaluating ended terms, announcing published results through the outbox
(a real worker sending to the fake WeChat API), re-sending unsent messages, cleaning up dedup
rows; and the beat schedule naming only tasks that exist."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from core.beat import beat_schedule
from core.celery_app import celery
from core.evaluation.run import evaluate_term
from models import LogKind, OutboundMessage, ReceivedMessage, Reminder, Term, WeChatBinding
from models.base import utcnow
from tests.factories import make_appointment, make_class, make_student, make_term
from tests.integration.evaluation_school import (
    add_logs,
    build_scenario,
)
from tests.support.celery_worker import use_celery_settings
from tests.support.wechat import grant_allowance
from worker.tasks.evaluation import (
    announce_published_results,
    evaluate_ended_terms,
)
from worker.tasks.maintenance import cleanup_received_messages, retry_unsent_outbound

CODE = "2026-2027-1"


def test_beat_schedule_names_registered_tasks(settings):
    use_celery_settings(settings)
    import worker.tasks  # noqa: F401 - registers every task module

    schedule = celery.conf.beat_schedule
    assert schedule.keys() == beat_schedule().keys()
    for entry in schedule.values():
        assert entry["task"] in celery.tasks, entry["task"]


def test_evaluate_ended_terms_only_evaluates_ended_unevaluated_terms(session, settings):
    use_celery_settings(settings)
    ended = make_term(
        session, code="2025-2026-2", start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 7, 10)
    )
    running = make_term(
        session, start_date=dt.date(2026, 9, 1), end_date=dt.date.today() + dt.timedelta(days=30)
    )
    appt = make_appointment(session, start_date=dt.date(2026, 3, 1))
    add_logs(session, appt.teacher, LogKind.TALK, 1, day=dt.date(2026, 4, 1))
    session.commit()
    assert evaluate_ended_terms.delay().get() == ["2025-2026-2"]
    session.expire_all()
    assert session.get(Term, ended.id).evaluated_at is not None
    assert session.get(Term, running.id).evaluated_at is None
    session.rollback()
    # Already evaluated: not again.
    assert evaluate_ended_terms.delay().get() == []


def test_cleanup_received_messages(session, settings):
    use_celery_settings(settings)
    session.add_all(
        [
            ReceivedMessage(key="old", received_at=utcnow() - dt.timedelta(days=3)),
            ReceivedMessage(key="new", received_at=utcnow() - dt.timedelta(hours=1)),
        ]
    )
    session.commit()
    assert cleanup_received_messages.delay().get() == 1
    session.rollback()
    assert session.scalars(select(ReceivedMessage.key)).all() == ["new"]


@pytest.fixture
def celery_worker_settings(db_url, redis_url, redis_prefix, fake_wechat_api):
    """The worker sends through the fake WeChat API."""
    return fake_wechat_api.settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_published_results_are_announced_once(celery_worker, session, fake_wechat_api):
    s = build_scenario(session)
    session.add(WeChatBinding(openid="o-zhang", teacher_id=s.teachers["good"].id))
    session.add(WeChatBinding(openid="o-li", teacher_id=s.teachers["weak"].id))
    session.commit()
    grant_allowance("o-zhang", "o-li")  # issue 23: both wrote to the account lately
    evaluate_term(CODE, 5)
    # Not published yet: nobody is told.
    assert announce_published_results.delay().get(timeout=60) == 0
    session.rollback()
    session.get(Term, s.term.id).published_at = utcnow()
    session.commit()
    assert announce_published_results.delay().get(timeout=60) == 2
    assert _wait_for(
        lambda: fake_wechat_api.texts_to("o-zhang") and fake_wechat_api.texts_to("o-li")
    )
    (zhang,) = fake_wechat_api.texts_to("o-zhang")
    assert "2026-2027-1" in zhang and "优秀" in zhang and "84.0%" in zhang
    (li,) = fake_wechat_api.texts_to("o-li")
    assert "不合格" in li and "满意度低于60%" in li
    # Told once: a second run sends nothing more.
    assert announce_published_results.delay().get(timeout=60) == 0
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Reminder)) == 2


def test_unsent_outbound_messages_are_sent_again(celery_worker, session, fake_wechat_api):
    student = make_student(session, classes=[make_class(session)])
    session.add(WeChatBinding(openid="o-stu", student_id=student.id))
    # A row committed while the broker was down: never enqueued.
    session.add(
        OutboundMessage(
            openid="o-stu",
            payload={"content": "测评已开始"},
            created_at=utcnow() - dt.timedelta(hours=2),
        )
    )
    session.commit()
    grant_allowance("o-stu")  # issue 23: the student wrote to the account lately
    assert retry_unsent_outbound.delay().get(timeout=60) == 1
    assert _wait_for(lambda: fake_wechat_api.texts_to("o-stu") == ["测评已开始"])
