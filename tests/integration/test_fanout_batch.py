"""One batch of a fan-out (issue 26, ``core.fanout.deliver_batch``), in-process on both backends:
whichever way a row takes (the short way on PostgreSQL for a notice to a student without
allowance, ``deliver`` for the rest), each outcome is the one ``deliver`` gives a row alone,
each student hears once, and a 45009 stops the batch with the rest held for the reset."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import core.db
import core.fanout
from core.celery_app import configure_celery
from core.fanout import deliver_batch
from core.outbox import drain, next_quota_reset
from core.reach import window
from models import OutboundMessage
from models.base import utcnow
from tests.conftest import make_settings
from tests.integration.test_reach import TEMPLATE, VALUES, grant


@pytest.fixture
def template_settings(wechat_settings, db_url, monkeypatch):
    settings = wechat_settings.with_overrides(wechat_template_remind=TEMPLATE)
    configure_celery(settings)
    monkeypatch.setattr(core.fanout, "_quota_until_local", None)
    yield settings
    drain()
    configure_celery(make_settings(db_url))


def notices(session, openids: list[str], **columns) -> list[int]:
    """Round notices written but not handed over (the test hands them to the batch)."""
    rows = [
        OutboundMessage(
            openid=o, kind="reach", payload={"content": "测评已开始", "reach": VALUES}, **columns
        )
        for o in openids
    ]
    session.add_all(rows)
    session.commit()
    return [r.id for r in rows]


def rows(session, ids: list[int]) -> dict[str, OutboundMessage]:
    session.expire_all()
    found = session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(ids)))
    return {m.openid: m for m in found}


@pytest.mark.parametrize("threads", [1, 16])
def test_each_row_gets_the_outcome_it_would_alone(
    template_settings, fake_wechat_api, session, threads
):
    grant("o-allowed")
    fake_wechat_api.unfollowed.add("o-gone")
    plain = [f"o-plain-{i}" for i in range(40)]
    ids = notices(session, [*plain, "o-allowed", "o-gone"])
    ids += notices(session, ["o-done"], sent_at=utcnow() - dt.timedelta(minutes=1))
    ids += notices(session, ["o-elsewhere"], send_started_at=utcnow())

    counts = deliver_batch(ids, threads=threads)

    assert counts == {"sent": 41, "failed": 1, "skipped": 2}
    got = rows(session, ids)
    for openid in plain:
        row = got[openid]
        assert (row.channel, row.attempts, row.send_started_at) == ("template", 1, None)
        assert row.sent_at is not None and row.last_error is None
        assert fake_wechat_api.messages_to(openid) == 1
    # The student who wrote lately is sent a customer-service text, taken from the allowance.
    assert got["o-allowed"].channel == "custom"
    assert fake_wechat_api.texts_to("o-allowed") == ["测评已开始"]
    with core.db.SessionFactory() as s:
        assert window.current(s, "o-allowed").remaining == 4
    assert got["o-gone"].channel == "unfollowed" and got["o-gone"].failed_at is not None
    assert "43004" in got["o-gone"].last_error
    assert got["o-done"].attempts == 0 and got["o-elsewhere"].sent_at is None
    for openid in ("o-done", "o-elsewhere"):
        assert fake_wechat_api.messages_to(openid) == 0


def test_a_second_batch_of_the_same_rows_sends_nothing(template_settings, fake_wechat_api, session):
    ids = notices(session, [f"o-twice-{i}" for i in range(20)])
    assert deliver_batch(ids) == {"sent": 20, "skipped": 0}
    assert deliver_batch(ids) == {"skipped": 20}
    assert sum(fake_wechat_api.messages_to(f"o-twice-{i}") for i in range(20)) == 20


def test_45009_stops_the_batch_and_holds_the_rest_for_the_reset(
    template_settings, fake_wechat_api, session
):
    ids = notices(session, [f"o-quota-{i}" for i in range(10)])
    fake_wechat_api.inject(45009)

    counts = deliver_batch(ids, threads=1)

    assert counts == {"skipped": 0, "quota": 10}
    reset = next_quota_reset(utcnow())
    got = rows(session, ids)
    assert all(m.sent_at is None and m.send_started_at is None for m in got.values())
    assert {m.not_before for m in got.values()} == {reset}
    assert "45009" in got["o-quota-0"].last_error
    assert len(fake_wechat_api.templates) == 0
    # Every later batch waits for the reset too, without calling WeChat.
    more = notices(session, ["o-later"])
    assert deliver_batch(more) == {"skipped": 0, "quota": 1}
    assert rows(session, more)["o-later"].not_before == reset
    assert fake_wechat_api.messages_to("o-later") == 0


def test_a_slow_wechat_hands_the_rest_back_as_a_new_batch(
    template_settings, fake_wechat_api, session, monkeypatch
):
    """WeChat answering slowly: the batch stops taking rows in time for the task's limit and
    the rest go back to the queue (run at once here, embedded), each sent once."""
    monkeypatch.setattr(core.fanout, "BATCH_SECONDS", 0.25)
    fake_wechat_api.latency = 0.2
    ids = notices(session, [f"o-slow-{i}" for i in range(6)])

    counts = deliver_batch(ids, threads=1)

    assert 1 <= counts["sent"] < 6 and counts["sent"] + counts["later"] == 6
    got = rows(session, ids)
    assert all(m.sent_at is not None and m.attempts == 1 for m in got.values())
    assert all(fake_wechat_api.messages_to(f"o-slow-{i}") == 1 for i in range(6))
