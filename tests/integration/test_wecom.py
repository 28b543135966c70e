"""``/wecom`` (issue 25.5): staff chat through the school's WeCom app with the official account's
grammar and guarantees; messages to staff go through WeCom where it reaches them, else through
the official account. Requests are built as WeCom builds them (``core.wecom.simulate``), the
WeCom and WeChat APIs are local fakes (``bot.demo.fake_wecom``, ``bot.demo.fake_wechat``)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.wechat import dedup
from bot.wechat.wecom import NO_BINDING, NOT_STAFF, WECOM
from core.outbox import drain
from core.wechat.simulate import WeChatSimulator, render_xml
from core.wecom import crypto
from models import (
    OutboundMessage,
    ReceivedMessage,
    StudentFeedback,
    TeacherRole,
    WeChatBinding,
    WorkLogEntry,
)
from models.base import utcnow
from models.worklog import LogKind
from tests.conftest import make_settings
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
)
from tests.support.wechat import grant_allowance


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def school(session, wecom_settings):
    """A class with its head teacher (工号 T7001), its counsellor (C7001) and two students."""
    today = utcnow().astimezone(wecom_settings.tz).date()
    dep = make_department(session, name="声乐系党总支")
    counsellor = make_teacher(session, staff_no="C7001", name="钱辅导", role=TeacherRole.COUNSELLOR)
    klass = make_class(
        session, department=dep, name="2025级声乐1班", entry_year=2025, counsellor_id=counsellor.id
    )
    teacher = make_teacher(session, staff_no="T7001", name="韩老师", department_id=dep.id)
    make_appointment(
        session, teacher=teacher, school_class=klass, start_date=today - dt.timedelta(days=30)
    )
    zhang = make_student(session, student_no="2025000001", name="张三", classes=[klass])
    make_student(session, student_no="2025000002", name="李四", classes=[klass])
    session.commit()
    return {"teacher": teacher, "counsellor": counsellor, "class": klass, "zhang": zhang}


# --- settings and the URL check -----------------------------------------------------------


def test_unconfigured_wecom_answers_503(db_url):
    app = create_app(make_settings(db_url))
    client = app.test_client()
    assert client.get("/wecom?msg_signature=x&timestamp=1&nonce=1&echostr=x").status_code == 503
    assert client.post("/wecom", data=b"<xml/>").status_code == 503


def test_url_check_answers_echostr_decrypted(wecom):
    query, plain = wecom.sim.url_check()
    response = wecom.client.get("/wecom", query_string=query)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == plain
    assert plain != query["echostr"]  # the ciphertext itself would fail WeCom's check


def test_url_check_refusals(wecom):
    query, _plain = wecom.sim.url_check()
    bad = dict(query, msg_signature="0" * 40)
    assert wecom.client.get("/wecom", query_string=bad).status_code == 403
    # The signature covers echostr: another ciphertext under the same signature is refused.
    other = crypto.encrypt("42", wecom.sim.aes_key, wecom.sim.corp_id)
    assert wecom.client.get("/wecom", query_string=dict(query, echostr=other)).status_code == 403
    old, _ = wecom.sim.url_check(timestamp=int(time.time()) - 3600)
    assert wecom.client.get("/wecom", query_string=old).status_code == 403
    # Signed, but encrypted for another CorpID: it does not decrypt as ours.
    ts, nonce = str(int(time.time())), "1"
    foreign = crypto.encrypt("42", wecom.sim.aes_key, "wwanothercorp")
    signed = {
        "msg_signature": crypto.sign(wecom.sim.token, ts, nonce, foreign),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": foreign,
    }
    assert wecom.client.get("/wecom", query_string=signed).status_code == 400
    missing = {k: v for k, v in query.items() if k != "echostr"}
    assert wecom.client.get("/wecom", query_string=missing).status_code == 400


# --- a head teacher logging through /wecom --------------------------------------------------


def test_head_teacher_logs_through_wecom_end_to_end(wecom, session, school):
    reply = wecom("谈心 张三 期末复习压力大，约好下周再聊", userid="T7001")
    assert reply.startswith("已记录："), reply
    [entry] = session.scalars(select(WorkLogEntry)).all()
    assert entry.teacher_id == school["teacher"].id
    assert entry.kind == LogKind.TALK
    assert [s.name for s in entry.students] == ["张三"]
    assert entry.text == "期末复习压力大，约好下周再聊"
    # The same grammar: 统计 and 我的日志 answer as on the official account.
    assert "谈心" in wecom("我的日志", userid="T7001")
    # Nothing was bound: the 工号 is the identity.
    assert count(session, WeChatBinding) == 0


def test_counsellor_gets_the_counsellor_help(wecom, school):
    assert "辅导员" in wecom("帮助", userid="C7001")


def test_students_and_strangers_are_told_wecom_is_for_staff(wecom, session, school):
    assert wecom("测评", userid="2025000001") == NOT_STAFF
    assert wecom("谈心 张三 你好", userid="nobody") == NOT_STAFF
    assert wecom.event("subscribe", userid="nobody") == NOT_STAFF
    # Opening the app is not a message: no reply to it, for anyone.
    assert wecom.event("enter_agent", userid="nobody") == ""
    assert wecom.event("enter_agent", userid="T7001") == ""
    assert count(session, WorkLogEntry) == 0


def test_binding_is_not_needed_on_wecom(wecom, session, school):
    assert wecom("绑定 T7001 123456", userid="T7001") == NO_BINDING
    assert wecom("解绑", userid="T7001") == NO_BINDING
    assert count(session, WeChatBinding) == 0


def test_subscribe_welcomes_by_name(wecom, school):
    assert "韩老师" in wecom.event("subscribe", userid="T7001")


# --- signatures, replay, malformed ----------------------------------------------------------


def test_bad_signature_is_403_and_stores_nothing(wecom, session, school):
    query, body = wecom.sim.text("T7001", "谈心 张三 你好")
    response = wecom.post(dict(query, msg_signature="f" * 40), body)
    assert response.status_code == 403
    assert (
        wecom.post({k: v for k, v in query.items() if k != "msg_signature"}, body).status_code
        == 403
    )
    assert count(session, ReceivedMessage) == 0 and count(session, WorkLogEntry) == 0


def test_a_replayed_old_request_is_403(wecom, session, school):
    xml = render_xml(
        {
            "ToUserName": wecom.sim.corp_id,
            "FromUserName": "T7001",
            "CreateTime": int(time.time()) - 3600,
            "MsgType": "text",
            "Content": "谈心 张三 你好",
            "MsgId": 77,
            "AgentID": wecom.sim.agent_id,
        }
    )
    response = wecom.post(*wecom.sim.sign(xml, timestamp=int(time.time()) - 3600))
    assert response.status_code == 403
    assert count(session, ReceivedMessage) == 0 and count(session, WorkLogEntry) == 0


def test_official_account_requests_are_refused_at_wecom(wecom, wecom_settings, session, school):
    """A request signed for /wechat (the account's Token, AppID as receive id) is not a WeCom
    message: another token, another receive id."""
    s = wecom_settings
    sim = WeChatSimulator(s.wechat_token, s.wechat_aes_key, s.wechat_appid, mode="safe")
    query, body = sim.text("T7001", "谈心 张三 你好")
    query["msg_signature"] = crypto.sign(
        s.wecom_token, query["timestamp"], query["nonce"], crypto.envelope_encrypt_field(body)
    )
    assert wecom.post(query, body).status_code == 400  # signed right, wrong key and receive id
    assert count(session, WorkLogEntry) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml></xml>",
        b"<xml><Encrypt></Encrypt></xml>",
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml><Encrypt>&a;</Encrypt></xml>",
    ],
)
def test_malformed_bodies_are_400(wecom, session, body):
    query, _ = wecom.sim.text("T7001", "x")
    assert wecom.post(query, body).status_code == 400
    assert count(session, ReceivedMessage) == 0


def test_signed_garbage_inside_the_envelope_is_400(wecom, session):
    for xml in (
        "not xml",
        "<xml><MsgType>text</MsgType></xml>",
        "<xml>text</xml>",
        render_xml(
            {
                "ToUserName": "x",
                "FromUserName": "T1",
                "CreateTime": "²",
                "MsgType": "text",
                "Content": "a",
                "MsgId": 1,
            }
        ),
    ):
        response = wecom.post(*wecom.sim.sign(xml))
        assert response.status_code == 400, (xml, response.data)
    assert count(session, ReceivedMessage) == 0


def test_body_over_a_mebibyte_is_413(wecom):
    query, _ = wecom.sim.text("T7001", "x")
    assert wecom.post(query, b"<xml>" + b"a" * (1024 * 1024 + 10) + b"</xml>").status_code == 413


# --- dedup ----------------------------------------------------------------------------------


def test_a_retried_message_is_stored_once_and_answered_the_same(wecom, session, school):
    query, body = wecom.sim.text("T7001", "谈心 张三 第一次谈话")
    first = wecom.reply_of(wecom.post(query, body))
    again = wecom.reply_of(wecom.post(query, body))
    assert first.startswith("已记录：") and again == first
    assert count(session, WorkLogEntry) == 1


def test_keys_of_the_two_channels_never_collide(wecom, wecom_app, wecom_settings, session, school):
    """The same sender string and MsgId on /wechat and /wecom are two messages."""
    assert dedup.message_key("wecom:T7001", msg_id=5) != dedup.message_key(
        "wecom:T7001", msg_id=5, channel="wecom"
    )
    s = wecom_settings
    session.add(WeChatBinding(openid="T7001", teacher_id=school["teacher"].id))
    session.commit()
    sim = WeChatSimulator(s.wechat_token, s.wechat_aes_key, s.wechat_appid, mode="safe")
    client = wecom_app.test_client()
    a = sim.read_reply(
        client.post(
            "/wechat",
            query_string=(q := sim.text("T7001", "谈心 张三 公众号", msg_id=99))[0],
            data=q[1],
        ).data
    )
    b = wecom.send("谈心 李四 企业微信", userid="T7001", msg_id=99)
    assert a["Content"].startswith("已记录：") and b.startswith("已记录：")
    assert count(session, WorkLogEntry) == 2


# --- messages to staff through WeCom --------------------------------------------------------


def feedback(session) -> StudentFeedback:
    drain(30)
    session.rollback()
    [row] = session.scalars(select(StudentFeedback)).all()
    return row


def test_feedback_reaches_the_counsellor_through_wecom(
    wecom, session, school, fake_wecom_api, fake_wechat_api
):
    fake_wecom_api.users.add("C7001")
    reply = wecom("反馈 张三 最近情绪低落，请辅导员关注", userid="T7001")
    assert "转给辅导员钱辅导" in reply, reply
    assert "尚未绑定" not in reply
    fb = feedback(session)
    assert fb.forwarded_at is not None and fb.failed_at is None
    [text] = fake_wecom_api.texts_to("C7001")
    assert "兼职班主任韩老师反馈学生张三" in text and text.endswith("请辅导员关注")
    assert fake_wechat_api.sent == []
    [msg] = session.scalars(select(OutboundMessage)).all()
    assert msg.channel == "wecom"


def test_feedback_falls_back_to_the_official_account_for_an_invaliduser(
    wecom, session, school, fake_wecom_api, fake_wechat_api
):
    """The counsellor is not in WeCom's address book (``invaliduser``), but bound the account."""
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school["counsellor"].id))
    session.commit()
    grant_allowance("o-counsellor")  # issue 23: the counsellor wrote to the account lately
    wecom("反馈 张三 最近情绪低落", userid="T7001")
    fb = feedback(session)
    assert fb.forwarded_at is not None
    assert fake_wecom_api.send_requests == 1 and fake_wecom_api.sent == []
    [text] = fake_wechat_api.texts_to("o-counsellor")
    assert "反馈学生张三" in text
    [msg] = session.scalars(select(OutboundMessage)).all()
    assert msg.channel == "custom"


def test_invaliduser_with_errcode_0_falls_back_too(
    wecom, session, school, fake_wecom_api, fake_wechat_api
):
    fake_wecom_api.all_invalid_is_error = False
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school["counsellor"].id))
    session.commit()
    grant_allowance("o-counsellor")  # issue 23: the counsellor wrote to the account lately
    wecom("反馈 张三 最近情绪低落", userid="T7001")
    assert feedback(session).forwarded_at is not None
    assert len(fake_wechat_api.texts_to("o-counsellor")) == 1


def test_feedback_to_a_counsellor_reachable_nowhere_says_so(
    wecom, session, school, fake_wecom_api, fake_wechat_api
):
    wecom("反馈 张三 最近情绪低落", userid="T7001")
    fb = feedback(session)
    assert fb.forwarded_at is None and fb.failed_at is not None
    assert "企业微信通讯录中没有此人" in fb.note and "未绑定微信公众号" in fb.note
    assert fake_wechat_api.sent == []


def test_wecom_token_is_fetched_once_and_refreshed_when_refused(
    wecom, session, school, fake_wecom_api
):
    fake_wecom_api.users.add("C7001")
    wecom("反馈 张三 第一次", userid="T7001")
    wecom("反馈 张三 第二次", userid="T7001")
    drain(30)
    assert fake_wecom_api.token_requests == 1
    fake_wecom_api.expire_token()
    wecom("反馈 张三 第三次", userid="T7001")
    drain(30)
    assert fake_wecom_api.token_requests == 2
    assert len(fake_wecom_api.texts_to("C7001")) == 3


def test_a_busy_wecom_is_retried_not_fallen_back(
    wecom, session, school, fake_wecom_api, fake_wechat_api
):
    fake_wecom_api.users.add("C7001")
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school["counsellor"].id))
    session.commit()
    fake_wecom_api.inject(-1)
    wecom("反馈 张三 最近情绪低落", userid="T7001")
    assert feedback(session).forwarded_at is not None
    assert len(fake_wecom_api.texts_to("C7001")) == 1
    assert fake_wechat_api.sent == []


def test_inactivity_reminder_goes_through_wecom(wecom_settings, session, school, fake_wecom_api):
    from worker.tasks.reminders import remind

    create_app(wecom_settings)  # configures the process (Celery, outbox) for these settings
    fake_wecom_api.users.add("T7001")
    now = utcnow()
    today = now.astimezone(wecom_settings.tz).date() + dt.timedelta(days=30)
    assert remind(session, today, now) == [school["teacher"].id]
    session.commit()
    [text] = fake_wecom_api.texts_to("T7001")
    assert "工作日志" in text


# --- the webhook's guarantees, on /wecom ------------------------------------------------------


def test_the_same_msgid_from_two_users_is_two_messages(wecom, session, school):
    first = wecom.send("谈心 张三 同一个MsgId", userid="T7001", msg_id=9001)
    other = wecom.send("帮助", userid="nobody", msg_id=9001)
    assert first.startswith("已记录：") and other == NOT_STAFF
    assert count(session, ReceivedMessage) == 2 and count(session, WorkLogEntry) == 1


@pytest.mark.parametrize("timestamp", ["²", "9" * 400, "1e9", " ", "-1"])
def test_a_signed_timestamp_that_is_not_a_time_is_400(wecom, session, timestamp):
    query, body = wecom.sim.text("T7001", "帮助")
    query["timestamp"] = timestamp
    query["msg_signature"] = crypto.sign(
        wecom.sim.token, timestamp, query["nonce"], crypto.envelope_encrypt_field(body)
    )
    assert wecom.post(query, body).status_code == 400
    assert count(session, ReceivedMessage) == 0


def test_a_forged_create_time_does_not_date_a_log(wecom, session, school):
    future = int(time.time()) + 400 * 86400
    query, body = wecom.sim.text("T7001", "班会 学风建设主题班会", create_time=future)
    assert "已记录" in wecom.reply_of(wecom.post(query, body))
    session.rollback()
    school_today = dt.datetime.now(wecom.client.application.config["BANZHUREN"].tz).date()
    assert session.scalar(select(WorkLogEntry)).occurred_on == school_today


@pytest.mark.parametrize("mark", ["\u200b", "\u200e", "\ufeff"])
def test_invisible_marks_inside_a_command_are_ignored(wecom, school, mark):
    assert "兼职班主任可以发送工作日志" in wecom.send(f"帮{mark}助", userid="T7001")


def test_a_long_reply_overflows_through_wecom(wecom, session, school, fake_wecom_api):
    """A reply over the 2048 bytes of one message: the rest goes out through WeCom's
    message/send, never the official account (the sender may not have bound it)."""
    from bot.wechat import webhook

    fake_wecom_api.users.add("T7001")
    long = "长" * 1500  # 4500 bytes
    s = wecom.client.application.config["BANZHUREN"]
    webhook_session = session
    first = webhook._queue_overflow(webhook_session, s, "wecom:T7001", long, None, channel=WECOM)
    webhook_session.commit()
    rest = fake_wecom_api.texts_to("T7001")
    assert len(first.encode()) <= 2048 and rest
    assert first + "".join(rest) == long


def test_redis_dedup_and_lock_on_wecom(
    db_url, redis_url, redis_prefix, session, fake_wecom_api, school
):
    from tests.support.wecom import WeComDriver, wecom_fields

    s = make_settings(
        db_url, redis_url=redis_url, redis_prefix=redis_prefix, **wecom_fields(fake_wecom_api)
    )
    from core.wecom.simulate import WeComSimulator

    driver = WeComDriver(
        create_app(s).test_client(),
        WeComSimulator(s.wecom_token, s.wecom_aes_key, s.wecom_corp_id, s.wecom_agent_id),
    )
    query, body = driver.sim.text("T7001", "谈心 张三 Redis")
    first = driver.reply_of(driver.post(query, body))
    assert first.startswith("已记录：")
    assert driver.reply_of(driver.post(query, body)) == first
    assert count(session, WorkLogEntry) == 1


# --- late replies and concurrency -----------------------------------------------------------


def test_a_reply_ready_too_late_goes_out_through_wecom(
    wecom, wecom_app, wecom_settings, session, school, fake_wecom_api, fake_wechat_api
):
    from bot.chat.context import Incoming
    from bot.wechat.webhook import answer

    fake_wecom_api.users.add("T7001")
    incoming = Incoming(openid="wecom:T7001", msg_type="text", text="帮助", sent_at=utcnow())
    key = dedup.message_key("wecom:T7001", msg_id=690002, channel="wecom")
    with wecom_app.test_request_context("/wecom", method="POST"):
        reply = answer(wecom_settings, incoming, key, arrived=time.time() - 10, channel=WECOM)
    assert reply == ""
    [text] = fake_wecom_api.texts_to("T7001")
    assert "兼职班主任可以发送工作日志" in text
    # WeCom's retry of it gets an empty answer, and nothing is sent twice.
    retry = wecom.post(*wecom.sim.text("T7001", "帮助", msg_id=690002))
    assert retry.status_code == 200 and retry.data == b""
    assert len(fake_wecom_api.texts_to("T7001")) == 1
    assert fake_wechat_api.sent == []


@pytest.fixture
def live_wecom(request, db_url, fake_wechat_api, fake_wecom_api):
    """The app on a real threaded HTTP server, with Redis (``request.param``) or without."""
    import threading

    from werkzeug.serving import make_server

    from tests.support.wecom import wecom_fields

    overrides = dict(wecom_fields(fake_wecom_api))
    if request.param:
        overrides |= dict(
            redis_url=request.getfixturevalue("redis_url"),
            redis_prefix=request.getfixturevalue("redis_prefix"),
        )
    s = make_settings(db_url, **overrides)
    server = make_server("127.0.0.1", 0, create_app(s), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/wecom", s
    server.shutdown()
    server.server_close()
    from core.celery_app import configure_celery

    configure_celery(make_settings(db_url))


@pytest.mark.parametrize("live_wecom", [False, True], ids=["db", "redis"], indirect=True)
def test_concurrent_copies_and_messages_from_one_wecom_user(live_wecom, session, school):
    """Copies of one message at once are stored once; different messages of one user at once
    are each handled once, one after the other (the per-sender lock)."""
    from core.wecom.simulate import WeComSimulator
    from tests.integration.test_webhook import _post_all_at_once

    url, s = live_wecom
    sim = WeComSimulator(s.wecom_token, s.wecom_aes_key, s.wecom_corp_id, s.wecom_agent_id)
    copies = [sim.text("T7001", "谈心 张三 同时到达", msg_id=880002) for _ in range(6)]
    replies = {sim.read_reply(r.content).get("Content", "") for r in _post_all_at_once(url, copies)}
    replies.discard("")  # a duplicate whose reply was not ready yet
    assert len(replies) == 1 and replies.pop().startswith("已记录：")
    assert count(session, WorkLogEntry) == 1
    different = [sim.text("T7001", f"谈心 李四 第{i}次") for i in range(5)]
    responses = _post_all_at_once(url, different)
    assert all(sim.read_reply(r.content)["Content"].startswith("已记录：") for r in responses)
    assert count(session, WorkLogEntry) == 6
    assert count(session, ReceivedMessage) == 6
