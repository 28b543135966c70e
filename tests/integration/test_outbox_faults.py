"""The outbox on a bad day (issue 13, item 7; issue 22, item 7): WeChat's daily quota used up
(45009), a send that may have arrived (the answer timed out; the process died mid-send: settled
as 可能已送达, never sent twice), a 反馈 WeChat refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import outbox
from core.celery_app import configure_celery
from core.outbox import (
    MAYBE_DELIVERED,
    RETRY,
    SENT,
    SKIPPED,
    deliver,
    drain,
    next_quota_reset,
)
from core.wechat.api import WeChatApi
from models import OutboundMessage, StudentFeedback, WeChatBinding
from models.base import utcnow
from tests.conftest import make_settings
from tests.integration.worklog_school import TeacherChat, build_school
from tests.support.wechat import grant_allowance


@pytest.fixture(autouse=True)
def _embedded_celery_afterwards(db_url):
    yield
    drain()
    configure_celery(make_settings(db_url))


@pytest.fixture(autouse=True)
def _users_wrote(db_url):
    """Issue 23: the users here wrote lately, so customer-service messages to them may go."""
    grant_allowance("o-out", "o-counsellor")


@pytest.fixture
def api_settings(wechat_settings):
    configure_celery(wechat_settings)
    return wechat_settings


def row(session, message_id: int) -> OutboundMessage:
    session.rollback()
    session.expire_all()
    return session.get(OutboundMessage, message_id)


def queue_unsent(session, text: str, **fields) -> int:
    """An outbox row committed without being handed to the sender (as after a lost task)."""
    message = OutboundMessage(openid="o-out", kind="text", payload={"content": text}, **fields)
    session.add(message)
    session.commit()
    return message.id


def test_quota_used_up_is_sent_after_midnight_beijing(api_settings, fake_wechat_api, session):
    fake_wechat_api.inject(45009)
    message_id = queue_unsent(session, "测评已开始")
    assert deliver(message_id) == RETRY
    message = row(session, message_id)
    assert message.sent_at is None and message.failed_at is None
    assert message.not_before == next_quota_reset(message.not_before - dt.timedelta(hours=23))
    local = message.not_before.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert (local.hour, local.minute) == (0, 5)
    # Before then, neither the sender nor the sweep touch it.
    assert deliver(message_id) == SKIPPED
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 0
    # After the reset, the beat sweep sends it.
    message.not_before = utcnow() - dt.timedelta(minutes=1)
    session.commit()
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 1
    drain()
    assert row(session, message_id).sent_at is not None
    assert fake_wechat_api.texts_to("o-out") == ["测评已开始"]


def test_a_send_that_timed_out_after_delivery_is_maybe_delivered_never_sent_again(
    api_settings, fake_wechat_api, session
):
    fake_wechat_api.inject_slow_ack(1.5, times=2)
    api = WeChatApi(api_settings)
    api.timeout = 0.5
    message_id = queue_unsent(session, "通知")
    assert deliver(message_id, api=api) == MAYBE_DELIVERED  # timed out after WeChat took it
    message = row(session, message_id)
    assert message.maybe_delivered_at is not None and message.failed_at is None
    assert message.sent_at is None and "after sending" in message.last_error
    assert deliver(message_id, api=api) == SKIPPED
    # Neither sweep sends it again, however old.
    assert outbox.enqueue_unsent(session, older_than_seconds=0, untried_after_seconds=0) == 0
    assert outbox.settle_cut_off() == 0
    drain()
    assert fake_wechat_api.texts_to("o-out") == ["通知"]


def test_a_send_refused_before_it_went_out_is_still_retried(api_settings, fake_wechat_api, session):
    fake_wechat_api.inject(-1)  # system busy: WeChat took nothing
    message_id = queue_unsent(session, "通知")
    assert deliver(message_id) == RETRY
    assert deliver(message_id) == SENT
    assert fake_wechat_api.texts_to("o-out") == ["通知"]


def test_a_send_cut_off_by_a_dead_worker_is_settled_by_the_minute_sweep(
    api_settings, fake_wechat_api, session
):
    cut_off = utcnow() - outbox.IN_FLIGHT - dt.timedelta(seconds=1)
    died = queue_unsent(session, "第一条", send_started_at=cut_off)
    in_flight = queue_unsent(session, "第二条", send_started_at=utcnow())
    assert outbox.settle_cut_off() == 1
    assert row(session, died).maybe_delivered_at is not None
    assert row(session, in_flight).maybe_delivered_at is None
    assert deliver(died) == SKIPPED
    assert deliver(in_flight) == SKIPPED  # another worker is sending it right now
    # A sender that finds the lease run out settles it the same way, and sends nothing.
    again = queue_unsent(session, "第三条", send_started_at=cut_off)
    assert deliver(again) == MAYBE_DELIVERED
    assert fake_wechat_api.texts_to("o-out") == []


def test_a_cut_off_send_is_settled_within_two_minutes():
    from celery.schedules import crontab

    from core.beat import beat_schedule
    from worker.tasks.outbound import send_outbound

    sweep = beat_schedule()["retry-unsent-outbound"]["schedule"]
    assert sweep == crontab(minute="*")  # every minute
    # The lease outlives the send task's hard limit, and lease + a minute stays under two.
    assert send_outbound.time_limit < outbox.IN_FLIGHT.total_seconds()
    assert outbox.IN_FLIGHT.total_seconds() + 60 <= 120
    assert beat_schedule()["forward-pending-feedback"]["schedule"] == crontab(minute="*")


def test_feedback_whose_send_timed_out_is_maybe_delivered_for_the_teacher(
    api_settings, fake_wechat_api, session, monkeypatch
):
    from core.wechat import api as wechat_api
    from tests.integration.worklog_school import eager_celery

    eager_celery(api_settings)
    configure_celery(api_settings)
    monkeypatch.setattr(wechat_api, "HTTP_TIMEOUT", 0.5)
    school = build_school(session, api_settings)
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school.counsellor.id))
    session.commit()
    chat = TeacherChat(session, api_settings, school.teacher, "o-teacher")
    fake_wechat_api.inject_slow_ack(1.5)  # WeChat delivers it, its answer comes too late
    assert "将转给辅导员" in chat.send("反馈 张三 最近情绪低落")
    drain()
    session.expire_all()
    [feedback] = session.scalars(select(StudentFeedback)).all()
    assert feedback.failed_at is None and feedback.forwarded_at is not None
    assert feedback.note == outbox.MAYBE_NOTE
    assert "⚠反馈可能已送达" in chat.send("我的日志")
    # The dashboard's teacher page says the same.
    from bot import create_app
    from tests.support.dashboard import login, make_user

    make_user(session, "学生处")
    client = create_app(api_settings).test_client()
    login(client, "学生处")
    page = client.get(f"/dashboard/teachers/{school.teacher.id}").get_data(as_text=True)
    assert "反馈可能已送达" in page
    from worker.tasks.feedback import forward_pending_feedback

    assert forward_pending_feedback.delay().get() == 0
    drain()
    assert len(fake_wechat_api.texts_to("o-counsellor")) == 1  # never a second copy


def test_feedback_refused_by_wechat_is_not_forwarded_and_the_teacher_sees_it(
    api_settings, fake_wechat_api, session
):
    from tests.integration.worklog_school import eager_celery

    eager_celery(api_settings)
    configure_celery(api_settings)
    school = build_school(session, api_settings)
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school.counsellor.id))
    session.commit()
    chat = TeacherChat(session, api_settings, school.teacher, "o-teacher")
    fake_wechat_api.inject(45015)  # the counsellor has not written to the account for 48 h
    assert "将转给辅导员" in chat.send("反馈 张三 最近情绪低落")
    drain()
    session.expire_all()
    [feedback] = session.scalars(select(StudentFeedback)).all()
    assert feedback.forwarded_at is None and feedback.failed_at is not None
    assert "48小时" in feedback.note
    assert "⚠反馈未送达" in chat.send("我的日志")
    # The sweep does not queue it again (it was given up, not lost).
    from worker.tasks.feedback import forward_pending_feedback

    assert forward_pending_feedback.delay().get() == 0


def test_beat_sweeps_every_queued_effect():
    from core.beat import beat_schedule

    tasks = {entry["task"] for entry in beat_schedule().values()}
    assert "banzhuren.feedback.forward_pending" in tasks
    assert "banzhuren.outbox.retry_unsent" in tasks
    assert "banzhuren.worklog.remind_inactive" in tasks


def test_visibility_timeout_follows_the_longest_time_limit(db_url):
    from core.celery_app import celery, visibility_timeout

    configure_celery(make_settings(db_url, redis_url="redis://127.0.0.1:6379/0"))
    longest = max(
        t.time_limit or celery.conf.task_time_limit
        for n, t in celery.tasks.items()
        if not n.startswith("celery.")
    )
    assert celery.conf.broker_transport_options["visibility_timeout"] == visibility_timeout()
    assert longest < visibility_timeout() <= longest + 120
