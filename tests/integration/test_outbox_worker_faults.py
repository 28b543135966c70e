"""Issue 22 item 7 with real Celery workers and the fake WeChat: a 反馈 whose hand-off to the
queue failed while Redis was down goes out once the sweep runs after Redis is back (one log
line when the outage begins, one when it ends); a send cut off by a killed worker is settled as
可能已送达 by the sweep and never sent twice."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import time

import pytest
from sqlalchemy import select, update

import core.db
from core import handoff, jobs, outbox
from core.celery_app import dispatch
from models import OutboundMessage, StudentFeedback, WeChatBinding
from models.base import utcnow
from tests.integration.test_faults import private_redis  # noqa: F401 (a fixture)
from tests.integration.worklog_school import TeacherChat, build_school
from tests.support.celery_worker import start_worker, use_celery_settings
from tests.support.wechat import grant_allowance


def wait_for(condition, worker, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)
    assert condition(), worker.log()[-3000:]


@pytest.fixture
def embedded_afterwards(db_url):
    yield
    from tests.conftest import make_settings

    handoff.reset()
    use_celery_settings(make_settings(db_url))


@pytest.mark.timeout(180)
def test_feedback_handed_off_while_redis_was_down_goes_out_once_redis_is_back(
    private_redis,  # noqa: F811
    fake_wechat_api,
    db_url,
    redis_prefix,
    session,
    tmp_path,
    caplog,
    embedded_afterwards,
):
    settings = fake_wechat_api.settings(
        db_url, redis_url=private_redis.url, redis_prefix=redis_prefix, celery_queue=redis_prefix
    )
    school = build_school(session, settings)
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school.counsellor.id))
    session.commit()
    grant_allowance("o-counsellor")  # issue 23: the counsellor wrote to the account lately
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        chat = TeacherChat(session, settings, school.teacher, "o-teacher")
        handoff.reset()
        private_redis.stop()
        with caplog.at_level(logging.INFO, logger="core.handoff"):
            # Stored, and the teacher told so, although the queue is away.
            assert "将转给辅导员" in chat.send("反馈 张三 最近情绪低落")
            assert "将转给辅导员" in chat.send("反馈 李四 缺课较多")
            private_redis.start()
            # The sweep leaves a 反馈 younger than a few seconds to its own task: these two
            # have waited that long (as they would have for the minute's sweep).
            for feedback in session.scalars(select(StudentFeedback)):
                feedback.created_at -= dt.timedelta(minutes=1)
            session.commit()
            wait_for(worker.ping, worker)  # the worker is connected to the new Redis
            dispatch(jobs.FORWARD_PENDING_FEEDBACK)  # what beat asks for every minute
            wait_for(lambda: len(fake_wechat_api.texts_to("o-counsellor")) == 2, worker)
        lines = [r.getMessage() for r in caplog.records if r.name == "core.handoff"]
        assert len(lines) == 2, lines
        assert lines[0].startswith("task queue unavailable") and "\n" not in lines[0]
        assert lines[1].startswith("task queue is back") and "2 hand-off(s) failed" in lines[1]
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        # The next sweep finds nothing left; nothing is sent twice.
        dispatch(jobs.FORWARD_PENDING_FEEDBACK).get(timeout=30)
        dispatch(jobs.RETRY_UNSENT).get(timeout=30)
        time.sleep(1)
        texts = fake_wechat_api.texts_to("o-counsellor")
        assert (
            len(texts) == 2 and any("张三" in t for t in texts) and any("李四" in t for t in texts)
        )
        session.expire_all()
        assert all(f.forwarded_at for f in session.scalars(select(StudentFeedback)))
    finally:
        worker.stop()


@pytest.mark.timeout(180)
def test_a_send_cut_off_by_a_killed_worker_is_settled_as_maybe_delivered(
    fake_wechat_api, db_url, redis_url, redis_prefix, session, tmp_path, embedded_afterwards
):
    settings = fake_wechat_api.settings(
        db_url, redis_url=redis_url, redis_prefix=redis_prefix, celery_queue=redis_prefix
    )
    worker = start_worker(settings, tmp_path / "worker.log")
    # WeChat takes the message, then answers only after the worker is dead.
    fake_wechat_api.inject_slow_ack(8.0)
    grant_allowance("o-student")  # issue 23: the student wrote to the account lately
    with core.db.session_scope() as s:
        message_id = outbox.queue_text(s, "o-student", "测评已开始").id
    wait_for(lambda: fake_wechat_api.texts_to("o-student") == ["测评已开始"], worker)
    for pid in [worker.pid, *worker.pool_pids()]:
        os.kill(pid, signal.SIGKILL)
    worker.process.wait(10)
    session.expire_all()
    row = session.get(OutboundMessage, message_id)
    assert row.send_started_at is not None and row.sent_at is None  # cut off mid-send
    again = start_worker(settings, tmp_path / "worker-2.log")
    try:
        # Its lease (core.outbox.IN_FLIGHT, under a minute) has run out: what the minute's
        # sweep then finds.
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id)
            .values(send_started_at=utcnow() - outbox.IN_FLIGHT - dt.timedelta(seconds=1))
        )
        session.commit()
        dispatch(jobs.RETRY_UNSENT).get(timeout=30)
        session.expire_all()
        row = session.get(OutboundMessage, message_id)
        assert row.maybe_delivered_at is not None and row.failed_at is None
        # A send task for it (the killed worker's, redelivered) sends nothing.
        assert dispatch(jobs.SEND_OUTBOUND, message_id).get(timeout=30) == outbox.SKIPPED
        assert fake_wechat_api.texts_to("o-student") == ["测评已开始"]
    finally:
        again.stop()
