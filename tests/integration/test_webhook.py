"""``/wechat`` end to end: URL check, the three modes, every refusal (and that refusals never
touch the database), retries answered once, concurrent duplicates on a real HTTP server."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import event, func, select
from werkzeug.serving import make_server

import core.db
from bot import create_app
from bot.chat import help as texts
from bot.chat import router
from bot.wechat import dedup
from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator, render_xml
from models import BindingFailure, OutboundMessage, ReceivedMessage
from tests.conftest import make_settings
from tests.factories import make_student
from tests.support.wechat import grant_allowance


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def checkouts(db_url):
    """How many database connections the app checked out since the fixture started."""
    seen = []
    engine = core.db.get_engine()

    def on_checkout(*_args):
        seen.append(1)

    event.listen(engine, "checkout", on_checkout)
    yield seen
    event.remove(engine, "checkout", on_checkout)


# --- URL check ------------------------------------------------------------------------------


def test_url_check_answers_echostr(wechat):
    query = wechat.sim.url_check("4375120948345356249")
    response = wechat.client.get("/wechat", query_string=query)
    assert response.status_code == 200
    assert response.data == b"4375120948345356249"


def test_url_check_official_vector(db_url):
    app = create_app(make_settings(db_url, wechat_token="AAAAA"))
    response = app.test_client().get(
        "/wechat",
        query_string={
            "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
            "timestamp": "1714036504",
            "nonce": "1514711492",
            "echostr": "4375120948345356249",
        },
    )
    assert response.status_code == 200 and response.data == b"4375120948345356249"


def test_url_check_bad_signature_is_403(wechat):
    query = wechat.sim.url_check("123")
    query["signature"] = "0" * 40
    assert wechat.client.get("/wechat", query_string=query).status_code == 403
    del query["signature"]
    assert wechat.client.get("/wechat", query_string=query).status_code == 403


# --- the three modes ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_each_mode_gets_a_reply(wechat, wechat_settings, mode, session):
    if mode == "plain":  # with a key set, plaintext only during the switch-over
        app = wechat.client.application
        app.config["BANZHUREN"] = wechat_settings.with_overrides(wechat_allow_plaintext=True)
    sim = WeChatSimulator(
        wechat_settings.wechat_token,
        wechat_settings.wechat_aes_key,
        wechat_settings.wechat_appid,
        mode=mode,
    )
    response = wechat.post(*sim.text("o-mode", "帮助"))
    assert response.status_code == 200
    if mode == "plain":
        assert b"<Encrypt>" not in response.data
    else:
        # Replies to encrypted messages are encrypted: no plaintext content in the body.
        assert b"<Encrypt>" in response.data and "绑定".encode() not in response.data
    reply = sim.read_reply(response.data)
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == "o-mode"
    assert reply["Content"] == texts.UNBOUND_HELP
    assert count(session, ReceivedMessage) == 1


def test_previous_aes_key_still_accepted(db_url):
    old, new = crypto.random_aes_key(), crypto.random_aes_key()
    settings = make_settings(
        db_url, wechat_aes_key=new, wechat_previous_aes_key=old, wechat_appid="wxrotated"
    )
    client = create_app(settings).test_client()
    sim_old = WeChatSimulator(settings.wechat_token, old, "wxrotated", mode="safe")
    query, body = sim_old.text("o-rot", "帮助")
    response = client.post("/wechat", query_string=query, data=body)
    assert response.status_code == 200
    # The reply is encrypted with the key the message came with.
    assert sim_old.read_reply(response.data)["Content"] == texts.UNBOUND_HELP


# --- refusals -------------------------------------------------------------------------------


@pytest.fixture
def plain_client(db_url):
    """An app without an EncodingAESKey (made before ``session``: making an app replaces the
    process's engine, and a session opened earlier would keep using the old one)."""
    return create_app(make_settings(db_url)).test_client()


def _assert_refused(response, status, session, checkouts):
    assert response.status_code == status, response.data
    assert checkouts == [], "a refused request opened a database connection"
    assert count(session, ReceivedMessage) == 0
    session.rollback()
    checkouts.clear()  # the count above was the test's own connection


def test_bad_signature_is_403_and_touches_nothing(wechat, session, checkouts):
    sim = WeChatSimulator(wechat.sim.token, mode="plain")
    query, body = sim.text("o-bad", "帮助")
    query["signature"] = crypto.sign("wrongtoken", query["timestamp"], query["nonce"])
    _assert_refused(wechat.post(query, body), 403, session, checkouts)


def test_bad_msg_signature_is_403(wechat, session, checkouts):
    query, body = wechat.sim.text("o-bad", "帮助")
    query["msg_signature"] = "f" * 40
    _assert_refused(wechat.post(query, body), 403, session, checkouts)


def test_missing_signature_is_403(wechat, session, checkouts):
    query, body = wechat.sim.text("o-bad", "帮助")
    del query["msg_signature"]
    _assert_refused(wechat.post(query, body), 403, session, checkouts)


def test_stale_timestamp_is_403(wechat, session, checkouts):
    xml = render_xml(
        {
            "ToUserName": "gh_x",
            "FromUserName": "o-stale",
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": "帮助",
            "MsgId": 7,
        }
    )
    query, body = wechat.sim.sign(xml, timestamp=int(time.time()) - 301)
    _assert_refused(wechat.post(query, body), 403, session, checkouts)
    query, body = wechat.sim.sign(xml, timestamp=int(time.time()) + 400)
    _assert_refused(wechat.post(query, body), 403, session, checkouts)
    # Just inside the window is fine.
    query, body = wechat.sim.sign(xml, timestamp=int(time.time()) - 280)
    assert wechat.post(query, body).status_code == 200


@pytest.mark.parametrize(
    "xml",
    [
        "not xml at all",
        "<xml><ToUserName>gh</ToUserName>",
        "<xml></xml>",
        "<xml><FromUserName>o</FromUserName><MsgType>text</MsgType></xml>",
        "<xml><ToUserName>g</ToUserName><FromUserName>o</FromUserName>"
        "<CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
        "<xml><ToUserName>g</ToUserName><FromUserName>o</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>x1</MsgId></xml>",
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]>'
        "<xml><ToUserName>g</ToUserName><FromUserName>&a;</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    ],
)
def test_malformed_plain_body_is_400(plain_client, session, checkouts, xml):
    sim = WeChatSimulator("testtoken", mode="plain")
    query, body = sim.sign(xml)
    response = plain_client.post("/wechat", query_string=query, data=body)
    _assert_refused(response, 400, session, checkouts)


def test_malformed_encrypted_envelope_is_400(wechat, session, checkouts):
    query, _body = wechat.sim.text("o-bad", "帮助")
    _assert_refused(wechat.post(query, b"<xml><Nope/></xml>"), 400, session, checkouts)


def test_undecryptable_message_is_400(wechat, wechat_settings, session, checkouts):
    # Properly signed, but encrypted with a key the server does not have.
    other = WeChatSimulator(
        wechat_settings.wechat_token, crypto.random_aes_key(), wechat_settings.wechat_appid, "safe"
    )
    _assert_refused(wechat.post(*other.text("o-bad", "帮助")), 400, session, checkouts)
    # Right key, wrong AppID inside the ciphertext.
    wrong_app = WeChatSimulator(
        wechat_settings.wechat_token, wechat_settings.wechat_aes_key, "wxsomeoneelse", "safe"
    )
    _assert_refused(wechat.post(*wrong_app.text("o-bad", "帮助")), 400, session, checkouts)


def test_encrypted_message_without_a_configured_key_is_400(plain_client, session, checkouts):
    client = plain_client
    sim = WeChatSimulator("testtoken", crypto.random_aes_key(), "wxabc", mode="safe")
    query, body = sim.text("o-x", "帮助")
    _assert_refused(client.post("/wechat", query_string=query, data=body), 400, session, checkouts)


def test_body_over_one_mebibyte_is_413(wechat, session, checkouts):
    sim = WeChatSimulator(wechat.sim.token, mode="plain")
    query, body = sim.text("o-big", "x" * (1024 * 1024))
    assert len(body) > 1024 * 1024
    _assert_refused(wechat.post(query, body), 413, session, checkouts)


def test_empty_body_is_400(wechat, session, checkouts):
    query, _ = WeChatSimulator(wechat.sim.token, mode="plain").text("o", "x")
    _assert_refused(wechat.post(query, b""), 400, session, checkouts)


# --- dedup ----------------------------------------------------------------------------------


def test_retry_gets_the_same_reply_and_is_stored_once(wechat, session):
    make_student(session, student_no="S100", binding_code="111111")
    session.commit()
    query, body = wechat.sim.text("o-retry", "绑定 S100 999999", msg_id=555001)
    first = wechat.reply_of(wechat.post(query, body))
    assert "绑定码不正确" in first
    # WeChat's retry carries the same MsgId (and a fresh signature).
    again = wechat.reply_of(wechat.post(*wechat.sim.text("o-retry", "绑定 S100 999999", 555001)))
    assert again == first
    assert count(session, BindingFailure) == 1
    assert count(session, ReceivedMessage) == 1


def test_events_are_deduplicated_on_sender_and_create_time(wechat, session):
    query, body = wechat.sim.event("o-evt", "subscribe", create_time=1_800_000_000)
    first = wechat.reply_of(wechat.post(query, body))
    again = wechat.reply_of(
        wechat.post(*wechat.sim.event("o-evt", "subscribe", None, 1_800_000_000))
    )
    assert first == again and "欢迎关注" in first
    key = dedup.message_key("o-evt", create_time=1_800_000_000, event="subscribe")
    assert session.scalar(select(ReceivedMessage.key)) == key


# A role handler for the next test: fails on the first message, works on the second.
_calls: list[str] = []


def handle(ctx):
    _calls.append(ctx.incoming.text)
    if len(_calls) == 1:
        make_student(ctx.session, student_no="HALFWAY")  # must be rolled back
        raise RuntimeError("handler bug")
    return "收到：" + ctx.incoming.text


def test_handler_error_releases_the_claim_so_the_retry_is_handled(wechat, session, monkeypatch):
    from models import Student

    _calls.clear()
    monkeypatch.setitem(router.ROLE_HANDLERS, "student", handle)
    student = make_student(session)
    session.commit()
    wechat.bind(student, openid="o-err")

    query, body = wechat.sim.text("o-err", "测评", msg_id=777001)
    assert wechat.reply_of(wechat.post(query, body)) == texts.FAILED
    assert session.scalar(select(Student).where(Student.student_no == "HALFWAY")) is None
    retry = wechat.reply_of(wechat.post(*wechat.sim.text("o-err", "测评", msg_id=777001)))
    assert retry == "收到：测评"
    # And the retry after that is answered from the stored reply, not handled again.
    assert wechat.reply_of(wechat.post(*wechat.sim.text("o-err", "测评", 777001))) == retry
    assert _calls == ["测评", "测评"]


# --- dispatch by message type ---------------------------------------------------------------


def test_events_and_message_types(wechat):
    assert "欢迎关注" in wechat.event("subscribe")
    assert wechat.event("CLICK", "HELP") == texts.UNBOUND_HELP
    assert wechat.event("unsubscribe") == ""
    assert wechat.event("VIEW", "https://example.org/") == ""
    assert wechat.voice("帮助。") == texts.UNBOUND_HELP
    assert wechat.voice("") == texts.EMPTY_VOICE
    assert wechat.image() == texts.UNSUPPORTED_TYPE
    for msg_type, fields in (
        ("location", {"Location_X": "45.7", "Location_Y": "126.6", "Scale": "15", "Label": "x"}),
        ("link", {"Title": "t", "Description": "d", "Url": "http://example.org"}),
        ("video", {"MediaId": "m", "ThumbMediaId": "t"}),
    ):
        reply = wechat.reply_of(wechat.post(*wechat.sim.message("o-types", msg_type, fields)))
        assert reply == texts.UNSUPPORTED_TYPE
    assert "还没有绑定" in wechat("测评")


def test_long_reply_is_split_into_customer_service_messages(
    wechat, wechat_settings, session, fake_wechat_api
):
    from bot.wechat.textlimit import utf8_len
    from bot.wechat.webhook import MAX_MESSAGES_PER_REPLY, _queue_overflow

    text = "\n".join(f"第{i}条 " + "记录" * 40 for i in range(40))  # ~10 KB
    grant_allowance("o-long")  # issue 23: the user wrote, customer-service messages may go
    first = _queue_overflow(session, wechat_settings, "o-long", text)
    session.commit()
    assert utf8_len(first) <= 2048 and text.startswith(first)
    rest = fake_wechat_api.texts_to("o-long")
    assert len(rest) == MAX_MESSAGES_PER_REPLY - 1
    assert all(utf8_len(t) <= 2048 for t in rest)
    assert count(session, OutboundMessage) == len(rest)


def test_long_reply_is_shortened_when_nothing_can_be_sent(db_url, session):
    from bot.wechat.textlimit import ELLIPSIS, utf8_len
    from bot.wechat.webhook import _queue_overflow

    text = "记录" * 2000
    first = _queue_overflow(session, make_settings(db_url), "o-long", text)
    assert utf8_len(first) <= 2048 and first.endswith(ELLIPSIS)
    assert count(session, OutboundMessage) == 0


# --- concurrency on a real server -----------------------------------------------------------


@pytest.fixture
def live_server(request, db_url, backend):
    """The app on a real threaded HTTP server; ``request.param`` = use Redis or not."""
    use_redis = request.param
    overrides = {}
    if use_redis:
        redis_url = request.getfixturevalue("redis_url")
        overrides = dict(redis_url=redis_url, redis_prefix=request.getfixturevalue("redis_prefix"))
    settings = make_settings(db_url, **overrides)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/wechat", settings
    server.shutdown()
    server.server_close()
    # Back to embedded settings for the next test's Celery configuration.
    from core.celery_app import configure_celery

    configure_celery(make_settings(db_url))


def _post_all_at_once(url: str, requests_: list[tuple[dict, bytes]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(requests_))
    results: list = [None] * len(requests_)

    def go(i: int) -> None:
        query, body = requests_[i]
        barrier.wait()
        results[i] = requests.post(url, params=query, data=body, timeout=30)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests_))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize(
    "live_server", [False, True], ids=["db-dedup", "redis-dedup"], indirect=True
)
def test_same_message_posted_concurrently_is_stored_once(live_server, session):
    url, settings = live_server
    make_student(session, student_no="S200", binding_code="222222")
    session.commit()
    sim = WeChatSimulator(settings.wechat_token)
    # Each copy signed separately, as WeChat's retries are; all share the MsgId.
    copies = [sim.text("o-conc", "绑定 S200 000000", msg_id=880001) for _ in range(8)]
    responses = _post_all_at_once(url, copies)
    assert all(r.status_code == 200 for r in responses)
    replies = {sim.read_reply(r.content).get("Content", "") for r in responses}
    replies.discard("")  # "success" is allowed for a duplicate whose reply was not ready
    assert len(replies) == 1 and "绑定码不正确" in replies.pop()
    assert count(session, BindingFailure) == 1
    assert count(session, ReceivedMessage) == 1


@pytest.mark.parametrize("live_server", [False, True], ids=["db-lock", "redis-lock"], indirect=True)
def test_messages_from_one_person_are_handled_one_after_the_other(live_server, session):
    url, settings = live_server
    make_student(session, student_no="S300", binding_code="333333")
    session.commit()
    sim = WeChatSimulator(settings.wechat_token)
    # Six different wrong tries at once: handled one at a time, the sixth finds five
    # failures already recorded and is refused without being counted.
    tries = [sim.text("o-guess", f"绑定 S300 00000{i}") for i in range(6)]
    responses = _post_all_at_once(url, tries)
    replies = [sim.read_reply(r.content)["Content"] for r in responses]
    assert sum("绑定码不正确" in r for r in replies) == 5
    assert sum("错误次数过多" in r for r in replies) == 1
    assert count(session, BindingFailure) == 5
    assert count(session, ReceivedMessage) == 6


def test_old_replies_are_blanked_but_the_message_stays_handled(wechat, session):
    import datetime as dt

    from bot.wechat import dedup
    from models.base import utcnow

    make_student(session, student_no="S400", binding_code="444444")
    session.commit()
    first = wechat.reply_of(wechat.post(*wechat.sim.text("o-old", "绑定 S400 1", msg_id=660001)))
    assert "绑定码不正确" in first
    session.rollback()
    row = session.get(ReceivedMessage, dedup.message_key("o-old", msg_id=660001))
    row.received_at = utcnow() - dt.timedelta(minutes=11)
    session.commit()
    assert dedup.forget_replies(session) == 1
    session.commit()
    session.expire_all()
    assert session.get(ReceivedMessage, dedup.message_key("o-old", msg_id=660001)).reply == ""
    # A (very late) retry is answered "success" and not handled again.
    late = wechat.post(*wechat.sim.text("o-old", "绑定 S400 1", msg_id=660001))
    assert late.status_code == 200 and late.data == b"success"
    assert count(session, BindingFailure) == 1
    assert dedup.purge_received(session, dt.timedelta(minutes=10)) == 1
    session.commit()
    assert count(session, ReceivedMessage) == 0


def test_a_claim_left_by_a_dead_process_is_taken_over(wechat, session):
    import datetime as dt

    from bot.wechat.dedup import CLAIM_TTL
    from models.base import utcnow

    make_student(session, student_no="S500", binding_code="555555")
    # A process claimed this message, then died before handling it.
    session.add(
        ReceivedMessage(
            key=dedup.message_key("o-dead", msg_id=670001),
            done=False,
            received_at=utcnow() - dt.timedelta(seconds=CLAIM_TTL + 1),
        )
    )
    session.commit()
    reply = wechat.reply_of(wechat.post(*wechat.sim.text("o-dead", "绑定 S500 1", msg_id=670001)))
    assert "绑定码不正确" in reply
    assert count(session, BindingFailure) == 1


def test_a_fresh_claim_elsewhere_gets_success_after_the_wait(wechat, session):
    from models.base import utcnow

    # Another process is handling this very message right now (and takes longer than 3 s).
    key = dedup.message_key("o-wait", msg_id=680001)
    session.add(ReceivedMessage(key=key, done=False, received_at=utcnow()))
    session.commit()
    started = time.monotonic()
    response = wechat.post(*wechat.sim.text("o-wait", "帮助", msg_id=680001))
    assert response.data == b"success"
    assert 2.5 < time.monotonic() - started < 5
    assert count(session, ReceivedMessage) == 1


def test_subscribe_through_a_qr_code_is_welcomed(wechat):
    assert "欢迎关注" in wechat.event("subscribe", key="qrscene_class42")


def test_a_reply_ready_too_late_goes_out_as_a_customer_service_message(
    wechat, wechat_app, wechat_settings, session, fake_wechat_api
):
    from bot.chat.context import Incoming
    from bot.wechat.webhook import LATE_SECONDS, answer
    from models.base import utcnow

    incoming = Incoming(openid="o-slow", msg_type="text", text="帮助", sent_at=utcnow())
    with wechat_app.test_request_context("/wechat", method="POST"):
        # The request "arrived" long ago: WeChat no longer waits for the passive reply.
        key = dedup.message_key("o-slow", msg_id=690001)
        reply = answer(wechat_settings, incoming, key, arrived=time.time() - 10)
    assert reply == ""
    assert fake_wechat_api.texts_to("o-slow") == [texts.UNBOUND_HELP]
    # WeChat's retry of it is answered "success", and nothing is sent twice.
    retry = wechat.post(*wechat.sim.text("o-slow", "帮助", msg_id=690001))
    assert retry.data == b"success"
    assert fake_wechat_api.texts_to("o-slow") == [texts.UNBOUND_HELP]
    assert LATE_SECONDS < 5


@pytest.fixture
def gunicorn_server(request, db_url, tmp_path):
    """The app under gunicorn with three worker processes; ``request.param`` = use Redis."""
    import os
    import socket
    import subprocess
    import sys

    from tests.support.celery_worker import settings_env

    overrides = {}
    if request.param:
        overrides = dict(
            redis_url=request.getfixturevalue("redis_url"),
            redis_prefix=request.getfixturevalue("redis_prefix"),
        )
    settings = make_settings(db_url, **overrides)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
    env.update(settings_env(settings))
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--workers", "3", "--threads", "4",
                "--bind", f"127.0.0.1:{port}", "bot.app:create_app()",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/wechat"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url, timeout=5)
            break
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait(15)
                pytest.fail("gunicorn did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
    time.sleep(1.0)  # let every worker process boot, so the requests spread over them
    yield url, settings
    process.terminate()
    process.wait(15)


@pytest.mark.parametrize(
    "gunicorn_server", [False, True], ids=["db-dedup", "redis-dedup"], indirect=True
)
def test_same_message_to_several_processes_is_stored_once(gunicorn_server, session):
    url, settings = gunicorn_server
    make_student(session, student_no="S600", binding_code="666666")
    session.commit()
    sim = WeChatSimulator(settings.wechat_token)
    copies = [sim.text("o-procs", "绑定 S600 000000", msg_id=880601) for _ in range(12)]
    responses = _post_all_at_once(url, copies)
    assert all(r.status_code == 200 for r in responses)
    replies = {sim.read_reply(r.content).get("Content", "") for r in responses}
    replies.discard("")
    assert len(replies) == 1 and "绑定码不正确" in replies.pop()
    assert count(session, BindingFailure) == 1
    assert count(session, ReceivedMessage) == 1
