"""``/wechat`` as an attacker would try it (issue 13): numbers out of bounds, colliding keys, no
token, plaintext under an EncodingAESKey, a forged CreateTime; and a claim whose holder died.
The tests marked with the ``edge`` fixture run on ``/wecom`` too (issue 25.5: the same pipeline
behind WeCom's envelope); the rest of WeCom's are in ``test_wecom.py``."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
import redis
from sqlalchemy import func, select

from bot import create_app
from bot.chat import help as texts
from bot.wechat import dedup
from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator, render_xml
from models import BindingFailure, ReceivedMessage, WorkLogAttachment, WorkLogEntry
from models.base import utcnow
from tests.conftest import make_settings
from tests.factories import make_appointment, make_student, make_teacher


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def fields(**over) -> dict:
    base = {
        "ToUserName": "gh_x",
        "FromUserName": "o-hostile",
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": "帮助",
        "MsgId": 4242,
    }
    base.update(over)
    return base


class Edge:
    """``/wechat`` or ``/wecom``: its driver, the dedup key it gives a sender's message, and what
    it answers 帮助 from someone it does not know."""

    def __init__(self, name: str, driver) -> None:
        self.name, self.driver = name, driver

    def key(self, sender: str, **identity) -> str:
        if self.name == "wecom":
            return dedup.message_key("wecom:" + sender, channel="wecom", **identity)
        return dedup.message_key(sender, **identity)

    @property
    def stranger_reply(self) -> str:
        from bot.wechat.wecom import NOT_STAFF

        return NOT_STAFF if self.name == "wecom" else texts.UNBOUND_HELP


@pytest.fixture(params=["wechat", "wecom"])
def edge(request) -> Edge:
    return Edge(request.param, request.getfixturevalue(request.param))


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over",
    [
        {"CreateTime": "99999999999999999999"},
        {"CreateTime": "²"},
        {"CreateTime": "１７００００００００"},  # full-width digits
        {"CreateTime": "-5"},
        {"CreateTime": "12"},  # 1970
        {"MsgId": "²"},
        {"MsgId": "9" * 5000},
        {"MsgId": "1" * 21},
        {"MsgId": str(2**64)},
    ],
)
def test_numbers_out_of_bounds_in_the_body_are_400(edge, session, over):
    response = edge.driver.post(*edge.driver.sim.sign(render_xml(fields(**over))))
    assert response.status_code == 400, response.data
    assert count(session, ReceivedMessage) == 0


@pytest.mark.parametrize("timestamp", ["²", "9" * 400, "1e9", " ", "-1", "0x10"])
def test_a_signed_timestamp_that_is_not_a_time_is_400(wechat, session, timestamp):
    nonce = "123"
    query = {
        "signature": crypto.sign(wechat.sim.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    response = wechat.post(query, render_xml(fields()).encode())
    assert response.status_code == 400
    query["echostr"] = "x"
    assert wechat.client.get("/wechat", query_string=query).status_code in (400, 403)


def test_the_longest_msgid_and_sender_make_a_key_that_fits(edge, session):
    openid = "o" * 64
    msg_id = 2**64 - 1  # 20 digits
    driver = edge.driver
    reply = driver.reply_of(driver.post(*driver.sim.text(openid, "帮助", msg_id=msg_id)))
    assert reply == edge.stranger_reply
    session.rollback()
    (key,) = session.scalars(select(ReceivedMessage.key)).all()
    assert key == edge.key(openid, msg_id=msg_id) and len(key) == 64


# --- dedup keys -----------------------------------------------------------------------------


def test_the_same_msgid_from_two_senders_is_two_messages(wechat, session):
    make_student(session, student_no="H100", binding_code="111111")
    session.commit()
    first = wechat.reply_of(wechat.post(*wechat.sim.text("o-one", "绑定 H100 1", msg_id=9001)))
    other = wechat.reply_of(wechat.post(*wechat.sim.text("o-two", "帮助", msg_id=9001)))
    assert "绑定码不正确" in first
    assert other == texts.UNBOUND_HELP  # not the first sender's reply
    assert count(session, ReceivedMessage) == 2
    assert count(session, BindingFailure) == 1


def test_two_events_of_one_sender_in_one_second_are_both_handled(edge, session):
    wechat = edge.driver
    when = int(time.time())
    location = wechat.post(
        *wechat.sim.message(
            "o-evts",
            "event",
            {"Event": "LOCATION", "Latitude": "45.7", "Longitude": "126.6", "Precision": "30"},
            create_time=when,
        )
    )
    assert location.data == (b"success" if edge.name == "wechat" else b"")
    # WeCom answers a stranger's click with nothing: a subscribe there, to see a reply.
    event = ("CLICK", "HELP") if edge.name == "wechat" else ("subscribe", None)
    click = wechat.reply_of(wechat.post(*wechat.sim.event("o-evts", *event, when)))
    assert click == edge.stranger_reply
    assert count(session, ReceivedMessage) == 2


# --- words ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["scanbarcode|EAN13|6901234567892", "scanimage|abc"])
def test_subscribe_from_a_product_scan_is_welcomed(wechat, key):
    assert "欢迎关注" in wechat.event("subscribe", key=key)


@pytest.mark.parametrize("mark", ["\u200b", "\u200e", "\u200f", "\ufeff", "\u2060", "\u202a"])
def test_invisible_marks_inside_a_command_are_ignored(wechat, mark):
    assert wechat.send(f"帮{mark}助") == texts.UNBOUND_HELP
    assert wechat.send(f"{mark}帮助{mark}") == texts.UNBOUND_HELP


# --- configuration --------------------------------------------------------------------------


def test_without_a_token_every_request_is_503_and_the_log_says_why(db_url, caplog, monkeypatch):
    from bot.wechat import webhook

    monkeypatch.setattr(webhook, "_no_token_logged_at", None)  # logged at most once a minute
    app = create_app(make_settings(db_url, wechat_token=None))
    client = app.test_client()
    # Signed with the old well-known default: refused like anything else.
    sim = WeChatSimulator("banzhuren")
    with caplog.at_level(logging.ERROR, logger="bot.wechat.webhook"):
        response = client.post("/wechat", query_string=(q := sim.text("o-x", "帮助"))[0], data=q[1])
        check = client.get("/wechat", query_string=sim.url_check("1"))
    assert response.status_code == 503 and check.status_code == 503
    assert any("BANZHUREN_WECHAT_TOKEN is not set" in r.getMessage() for r in caplog.records)


def test_with_a_key_only_encrypted_messages_are_taken(wechat, wechat_settings, session):
    plain = WeChatSimulator(wechat_settings.wechat_token, mode="plain")
    response = wechat.post(*plain.text("o-forger", "帮助"))
    assert response.status_code == 403
    assert count(session, ReceivedMessage) == 0
    # The switch-over setting lets plaintext through while the account changes mode.
    wechat.client.application.config["BANZHUREN"] = wechat_settings.with_overrides(
        wechat_allow_plaintext=True
    )
    assert plain.read_reply(wechat.post(*plain.text("o-forger", "帮助")).data)["Content"]


def test_env_example_placeholder_token_fails_validation():
    from core.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"BANZHUREN_WECHAT_TOKEN 仍是 \.env\.example 的占位值"):
        load_settings(
            {"BANZHUREN_SECRET_KEY": "k" * 32, "BANZHUREN_WECHAT_TOKEN": "CHANGEMEwechatToken"}
        )


# --- the school's clock ---------------------------------------------------------------------


@pytest.fixture
def teacher_openid(wechat, session):
    today = dt.datetime.now(dt.UTC).date()
    teacher = make_teacher(session, name="冯老师")
    make_appointment(session, teacher=teacher, start_date=today - dt.timedelta(days=30))
    session.commit()
    wechat.bind(teacher, openid="o-clock")
    return "o-clock"


def test_a_forged_create_time_does_not_date_a_log(wechat, session, teacher_openid):
    future = int(time.time()) + 400 * 86400
    reply = wechat.reply_of(
        wechat.post(*wechat.sim.text(teacher_openid, "班会 学风建设主题班会", create_time=future))
    )
    assert "已记录" in reply, reply
    session.rollback()
    entry = session.scalar(select(WorkLogEntry))
    school_today = dt.datetime.now(wechat.client.application.config["BANZHUREN"].tz).date()
    assert entry.occurred_on == school_today


def test_a_photo_is_attached_by_the_school_clock_not_create_time(wechat, session, teacher_openid):
    assert "已记录" in wechat.send("班会 学风建设主题班会", openid=teacher_openid)
    session.rollback()
    entry = session.scalar(select(WorkLogEntry))
    entry.created_at = utcnow() - dt.timedelta(minutes=11)
    session.commit()
    # CreateTime says "one minute after the entry"; the school's clock says eleven.
    claimed = int((utcnow() - dt.timedelta(minutes=10)).timestamp())
    reply = wechat.reply_of(wechat.post(*wechat.sim.image(teacher_openid, create_time=claimed)))
    assert "照片没有保存" in reply
    # From 2012: no match either.
    reply = wechat.reply_of(
        wechat.post(*wechat.sim.image(teacher_openid, create_time=1_350_000_000))
    )
    assert "照片没有保存" in reply
    assert count(session, WorkLogAttachment) == 0


# --- claims that die with their holder ------------------------------------------------------


def test_a_claim_a_little_older_than_the_lease_is_taken_over(edge, session):
    wechat = edge.driver
    make_student(session, student_no="H500", binding_code="555555")
    key = edge.key("o-died", msg_id=8001)
    session.add(
        ReceivedMessage(
            key=key,
            done=False,
            received_at=utcnow() - dt.timedelta(seconds=dedup.CLAIM_TTL + 0.5),
        )
    )
    session.commit()
    reply = wechat.reply_of(wechat.post(*wechat.sim.text("o-died", "绑定 H500 1", msg_id=8001)))
    assert "绑定码不正确" in reply or reply == edge.stranger_reply  # answered, not "success"
    assert count(session, BindingFailure) == (1 if edge.name == "wechat" else 0)
    assert dedup.CLAIM_TTL < 5  # WeChat retries 5 s apart


def test_a_redis_claim_of_a_dead_holder_expires_while_the_retry_waits(
    db_url, redis_url, redis_prefix, session
):
    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    client = create_app(settings).test_client()
    sim = WeChatSimulator(settings.wechat_token)
    make_student(session, student_no="H600", binding_code="666666")
    session.commit()
    key = dedup.message_key("o-died2", msg_id=8002)
    r = redis.Redis.from_url(redis_url)
    # The holder claimed it and died about 2 s ago: its lease has ~2 s to go.
    r.set(f"{redis_prefix}:wechat:msg:{key}", "pending:dead", px=2000)
    r.close()
    query, body = sim.text("o-died2", "绑定 H600 1", msg_id=8002)
    reply = sim.read_reply(client.post("/wechat", query_string=query, data=body).data)
    assert "绑定码不正确" in reply.get("Content", "")
    assert count(session, BindingFailure) == 1


def test_redis_down_the_webhook_still_answers_and_logs_one_line(
    db_url, redis_url, redis_prefix, session, caplog
):
    from bot.wechat import outage

    outage.reset()
    # Nothing listens on port 9: every Redis call fails at once.
    settings = make_settings(db_url, redis_url="redis://127.0.0.1:9/0")
    client = create_app(settings).test_client()
    sim = WeChatSimulator(settings.wechat_token)
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            query, body = sim.text(f"o-nored-{i}", "帮助")
            response = client.post("/wechat", query_string=query, data=body)
            assert sim.read_reply(response.data)["Content"] == texts.UNBOUND_HELP
    assert count(session, ReceivedMessage) == 5
    down = [r for r in caplog.records if "redis unavailable" in r.getMessage()]
    assert len(down) == 1
    assert not [r for r in caplog.records if r.exc_info]
    # Redis answers again: one line says so, with what the outage cost.
    back = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    client = create_app(back).test_client()
    with caplog.at_level(logging.WARNING):
        query, body = sim.text("o-nored-back", "帮助")
        client.post("/wechat", query_string=query, data=body)
    back_lines = [r.getMessage() for r in caplog.records if " is back after " in r.getMessage()]
    assert len(back_lines) == 1
    assert back_lines[0].startswith("redis is back after ")
    assert back_lines[0].endswith("; 5 request(s) failed meanwhile")
    outage.reset()


def test_a_picture_mid_survey_repeats_the_pending_question(wechat, session):
    from models import SurveyDraft
    from tests.integration.survey_chat import start_round
    from tests.integration.survey_school import make_school

    school = make_school(session)
    start_round(session, school.term, school.definition)
    openid = school.openids["小明"]
    first = wechat.send("测评", openid=openid)
    assert "1/" in first
    question = first.split("\n\n")[-1]
    reply = wechat.image(openid=openid)
    assert reply.startswith(texts.UNSUPPORTED_TYPE)
    # The pending question is shown again, whole, and the picture answered nothing.
    assert reply.endswith(question) and question.split("\n")[0] in reply
    # ... so the next answer is filed under question 1 and question 2 follows.
    assert "2/" in wechat.send("1", openid=openid)
    # Not mid-survey: the plain answer.
    session.execute(SurveyDraft.__table__.delete())
    session.commit()
    assert wechat.image(openid=openid) == texts.UNSUPPORTED_TYPE
