"""Fan-out (issue 26): a round's notices go to the Celery worker in batches, each sent on
threads over kept connections; killed mid-run and restarted (with the minute's sweep, as the
beat runs it), every student gets the notice once: no double, none lost (a send cut off may
only be settled as 可能已送达, never sent again)."""

from __future__ import annotations

import collections
import datetime as dt
import os
import secrets
import signal
import time

import pytest
from sqlalchemy import func, select

import core.outbox
from core.fanout import BATCH_THREADS, RECORD_EVERY
from core.wechat import crypto
from models import OutboundMessage, SurveyRound
from tests.integration.test_faults import _survey_school
from tests.support.celery_worker import start_worker
from tests.support.wechat import FakeWeChatForTests

STUDENTS = 300


@pytest.fixture
def slow_wechat():
    """The fake WeChat API 50 ms away, with keep-alive connections."""
    api = FakeWeChatForTests(
        appid="wx" + secrets.token_hex(8), secret=secrets.token_hex(16), latency=0.05,
        keep_alive=True,
    )  # fmt: skip
    api.start()
    yield api
    api.stop()


def _received(api) -> collections.Counter:
    return collections.Counter(m["touser"] for m in [*api.templates, *api.sent])


def _open_settled(session) -> tuple[int, int, int]:
    """(rows not settled, sent, settled as 可能已送达)."""
    session.rollback()
    count = lambda *where: session.scalar(  # noqa: E731
        select(func.count()).select_from(OutboundMessage).where(*where)
    )
    return (
        count(
            OutboundMessage.sent_at.is_(None),
            OutboundMessage.failed_at.is_(None),
            OutboundMessage.maybe_delivered_at.is_(None),
        ),
        count(OutboundMessage.sent_at.is_not(None)),
        count(OutboundMessage.maybe_delivered_at.is_not(None)),
    )


def test_notices_to_a_school_once_each_with_the_worker_killed_mid_run(
    db_url, redis_url, redis_prefix, slow_wechat, session, tmp_path, monkeypatch
):
    from core.reach.rounds import notify_opened

    settings = slow_wechat.settings(
        db_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        celery_queue=redis_prefix,
        wechat_aes_key=crypto.random_aes_key(),
        wechat_template_remind="TPL-1",
    )
    school, openids = _survey_school(session, students=STUDENTS)
    worker = start_worker(settings, tmp_path / "worker-1.log")
    again = None
    try:
        rnd = session.scalars(select(SurveyRound)).one()
        noticed = notify_opened(session, school.term, rnd, "满意度测评", dt.date.today())
        session.commit()
        assert noticed == len(openids) > STUDENTS
        # Killed (parent and pool, as the machine would) once a fifth has gone out.
        deadline = time.monotonic() + 60
        while sum(_received(slow_wechat).values()) < noticed // 5:
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.02)
        for pid in [worker.pid, *worker.pool_pids()]:
            os.kill(pid, signal.SIGKILL)
        worker.process.wait(10)
        left, _sent, _maybe = _open_settled(session)
        assert left > 0, "the run had finished before the kill"

        again = start_worker(settings, tmp_path / "worker-2.log")
        # The beat's sweep, a lease and a minute later (both shortened here): sends cut off are
        # settled as 可能已送达, rows whose batch died with the worker are handed over again.
        monkeypatch.setattr(core.outbox, "IN_FLIGHT", dt.timedelta(0))
        core.outbox.settle_cut_off()
        session.rollback()
        core.outbox.enqueue_unsent(session, older_than_seconds=0)
        deadline = time.monotonic() + 120
        while _open_settled(session)[0]:
            assert time.monotonic() < deadline, again.log()[-3000:]
            time.sleep(0.2)
    finally:
        worker.stop()
        if again is not None:
            again.stop()

    received = _received(slow_wechat)
    doubles = {o: n for o, n in received.items() if n > 1}
    assert doubles == {}
    _left, sent, maybe = _open_settled(session)
    assert sent + maybe == noticed
    # Lost: a row the outbox says went out, or never settled, whose student got nothing.
    session.rollback()
    sent_to = set(
        session.scalars(select(OutboundMessage.openid).where(OutboundMessage.sent_at.is_not(None)))
    )
    assert sent_to <= set(received)
    assert len(received) >= sent
    # Unsure (可能已送达) are only the calls in flight at the kill, one a thread of each of the
    # worker's two processes, and "sent" outcomes not yet recorded (those arrived): a row is
    # marked just before its call, never a batch ahead.
    maybe_to = set(
        session.scalars(
            select(OutboundMessage.openid).where(OutboundMessage.maybe_delivered_at.is_not(None))
        )
    )
    assert len(maybe_to - set(received)) <= 2 * BATCH_THREADS
    assert maybe <= 2 * (BATCH_THREADS + RECORD_EVERY)
