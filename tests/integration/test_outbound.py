"""The outbox and ``send_outbound`` against a fake WeChat API server: sending after commit only,
idempotence, token refresh on 40001, errcodes that stop, network errors that retry, the shared
access token, and one send through a real Celery worker."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from core import outbox
from core.celery_app import configure_celery
from core.outbox import RETRY, SENT, SKIPPED, deliver, deliver_with_retries, drain
from core.wechat.api import DbTokenStore, RedisTokenStore, WeChatApi
from models import OutboundMessage
from tests.conftest import make_settings
from tests.factories import make_student, make_teacher
from tests.support.wechat import grant_allowance
from worker.tasks.outbound import backoff_seconds, send_outbound


@pytest.fixture(autouse=True)
def _embedded_celery_afterwards(db_url):
    """Tests here point the outbox at other settings; put plain embedded ones back."""
    yield
    drain()
    configure_celery(make_settings(db_url))


@pytest.fixture(autouse=True)
def _users_wrote(db_url):
    """Issue 23: the users here wrote lately, so customer-service messages to them may go."""
    grant_allowance("o-out", "o-worker")


@pytest.fixture
def api_settings(wechat_settings):
    """Embedded settings pointing at the fake API, configured for this process's tasks."""
    configure_celery(wechat_settings)
    return wechat_settings


def row(session, message_id: int) -> OutboundMessage:
    session.rollback()
    session.expire_all()  # the sender committed in its own session
    return session.get(OutboundMessage, message_id)


def queued(session, text: str, openid: str = "o-out") -> int:
    message = outbox.queue_text(session, openid, text)
    session.commit()
    drain()
    return message.id


def test_queued_text_is_sent_after_commit(api_settings, fake_wechat_api, session):
    message = outbox.queue_text(session, "o-out", "测评已开始")
    session.flush()
    drain()
    assert fake_wechat_api.sent == []  # not before the commit
    session.commit()
    assert fake_wechat_api.texts_to("o-out") == ["测评已开始"]
    sent = row(session, message.id)
    assert sent.sent_at is not None and sent.attempts == 1 and sent.last_error is None
    assert fake_wechat_api.sent[0]["msgtype"] == "text"


def test_rolled_back_message_is_never_sent(api_settings, fake_wechat_api, session):
    outbox.queue_text(session, "o-out", "不该发出")
    session.rollback()
    session.commit()  # a later commit of the same session must not send it either
    assert fake_wechat_api.sent == []
    assert session.scalars(select(OutboundMessage)).all() == []


def test_queue_text_for_a_person(wechat, api_settings, fake_wechat_api, session):
    student = make_student(session)
    teacher = make_teacher(session)
    session.commit()
    wechat.bind(student, openid="o-stu")
    assert outbox.queue_text_for(session, teacher_id=teacher.id, text="x") is None
    message = outbox.queue_text_for(session, student_id=student.id, text="请参加测评")
    assert message is not None and message.openid == "o-stu"
    session.commit()
    assert fake_wechat_api.texts_to("o-stu") == ["请参加测评"]
    with pytest.raises(ValueError):
        outbox.queue_text_for(session, text="nobody")


def test_sending_twice_sends_once(api_settings, fake_wechat_api, session):
    message_id = queued(session, "一次")
    assert deliver(message_id) == SKIPPED
    assert send_outbound.apply(args=[message_id]).get() == SKIPPED
    assert fake_wechat_api.texts_to("o-out") == ["一次"]
    assert row(session, message_id).attempts == 1


def test_expired_token_is_refreshed_once_and_the_send_retried(
    api_settings, fake_wechat_api, session
):
    queued(session, "第一条")
    assert fake_wechat_api.token_requests == 1
    fake_wechat_api.expire_token()
    message_id = queued(session, "第二条")
    assert fake_wechat_api.texts_to("o-out") == ["第一条", "第二条"]
    assert fake_wechat_api.token_requests == 2
    assert row(session, message_id).sent_at is not None


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_error_persisting_after_the_refresh_gives_up(
    api_settings, fake_wechat_api, session, errcode
):
    queued(session, "先取得令牌")
    fake_wechat_api.inject(errcode, times=2)
    message_id = queued(session, "发不出去")
    message = row(session, message_id)
    assert message.sent_at is None and message.failed_at is not None
    assert message.last_error.startswith(f"errcode {errcode}")
    # One refresh, one retry: no loop.
    assert fake_wechat_api.token_requests == 2
    assert fake_wechat_api.send_requests == 3


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_window_and_quota_errors_are_recorded_and_not_retried(
    api_settings, fake_wechat_api, session, errcode
):
    fake_wechat_api.inject(errcode)
    message_id = queued(session, "超出48小时")
    message = row(session, message_id)
    assert message.sent_at is None and message.failed_at is not None
    assert message.last_error.startswith(f"errcode {errcode}")
    assert fake_wechat_api.send_requests == 1
    assert deliver(message_id) == SKIPPED
    assert fake_wechat_api.send_requests == 1
    session.rollback()
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 0


def test_network_errors_are_retried_with_backoff(api_settings, fake_wechat_api, session):
    fake_wechat_api.inject_http_status(502, times=2)
    message = outbox.queue_text(session, "o-out", "网络不好")
    session.info.pop("banzhuren_after_commit")  # send it by hand below
    session.commit()
    assert deliver(message.id) == RETRY
    failed_once = row(session, message.id)
    assert failed_once.sent_at is None and failed_once.failed_at is None
    assert failed_once.last_error and failed_once.attempts == 1
    assert deliver_with_retries(message.id, backoff=(0.05, 0.05)) == SENT
    assert row(session, message.id).attempts == 3
    assert fake_wechat_api.texts_to("o-out") == ["网络不好"]


def test_unreachable_api_is_a_retry(db_url, session):
    settings = make_settings(
        db_url, wechat_appid="wxdown", wechat_secret="s", wechat_api_base="http://127.0.0.1:9/"
    )
    configure_celery(settings)
    message = outbox.queue_text(session, "o-out", "x")
    session.info.pop("banzhuren_after_commit")
    session.commit()
    assert deliver(message.id) == RETRY
    error = row(session, message.id).last_error
    assert "Connection" in error and "secret=s&" not in error and "secret=***" in error


def test_no_credentials_is_a_recorded_failure(db_url, session):
    configure_celery(make_settings(db_url))
    message_id = queued(session, "x")
    message = row(session, message_id)
    assert message.failed_at is not None and "APPID" in message.last_error


def test_backoff_grows_and_is_capped():
    delays = [backoff_seconds(n) for n in range(7)]
    assert delays == sorted(delays) and delays[0] >= 1 and delays[-1] == 600


def test_unsent_rows_can_be_enqueued_again(api_settings, fake_wechat_api, session):
    message = outbox.queue_text(session, "o-out", "补发")
    session.info.pop("banzhuren_after_commit")  # as if the broker had been down
    session.commit()
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 1
    assert fake_wechat_api.texts_to("o-out") == ["补发"]
    session.rollback()  # a new transaction sees the sender's commit
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 0
    assert row(session, message.id).sent_at is not None


# --- the access token -----------------------------------------------------------------------


@pytest.fixture(params=["db", "redis"])
def token_settings(request, wechat_settings):
    if request.param == "redis":
        return wechat_settings.with_overrides(
            redis_url=request.getfixturevalue("redis_url"),
            redis_prefix=request.getfixturevalue("redis_prefix"),
        )
    return wechat_settings


def test_token_is_shared_between_clients(token_settings, fake_wechat_api):
    store_type = RedisTokenStore if token_settings.redis_url else DbTokenStore
    first, second = WeChatApi(token_settings), WeChatApi(token_settings)
    assert isinstance(first.tokens, store_type)
    first.message.send_text("o-1", "a")
    second.message.send_text("o-2", "b")
    assert fake_wechat_api.token_requests == 1
    assert first.access_token == second.access_token == fake_wechat_api.current_token


def test_concurrent_refresh_fetches_one_token(token_settings, fake_wechat_api):
    WeChatApi(token_settings).message.send_text("o-0", "warm up")
    fake_wechat_api.expire_token()
    clients = [WeChatApi(token_settings) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    errors = []

    def send(i: int) -> None:
        barrier.wait()
        try:
            clients[i].message.send_text(f"o-{i}", "并发")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # One process refreshed; the others saw its new token instead of fetching their own.
    assert fake_wechat_api.token_requests == 2
    assert len(fake_wechat_api.sent) == 7


def test_every_call_goes_to_the_configured_api_base(wechat_settings, fake_wechat_api):
    api = WeChatApi(wechat_settings)
    assert api.rebase("https://api.weixin.qq.com/cgi-bin/menu/create") == (
        fake_wechat_api.url + "cgi-bin/menu/create"
    )
    assert api.rebase("https://api.weixin.qq.com/datacube/x") == fake_wechat_api.url + "datacube/x"
    api.message.send_text("o-base", "到本地")
    assert fake_wechat_api.token_requests == 1
    assert fake_wechat_api.texts_to("o-base") == ["到本地"]


def test_wrong_secret_is_a_failure_not_a_retry(db_url, fake_wechat_api, session):
    settings = fake_wechat_api.settings(db_url, wechat_secret="wrong")
    configure_celery(settings)
    message_id = queued(session, "x")
    message = row(session, message_id)
    assert message.failed_at is not None and "40125" in message.last_error


# --- a real worker --------------------------------------------------------------------------


@pytest.fixture
def celery_worker_settings(db_url, redis_url, redis_prefix, fake_wechat_api):
    return fake_wechat_api.settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)


def test_sent_through_a_real_worker_with_a_retry(celery_worker, fake_wechat_api, session):
    import time

    fake_wechat_api.inject_http_status(503)  # the first try fails at the network level
    message = outbox.queue_text(session, "o-worker", "经由 worker 发送")
    session.commit()  # enqueues send_outbound to Redis; the worker process sends it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not fake_wechat_api.texts_to("o-worker"):
        time.sleep(0.2)
    assert fake_wechat_api.texts_to("o-worker") == ["经由 worker 发送"], celery_worker.log()[-3000:]
    sent = row(session, message.id)
    assert sent.sent_at is not None and sent.attempts == 2
