"""Issues 13 item 5 and 22 item 3: an answer is filed under the question the student saw.

A request's age counts from its arrival (a trusted proxy's ``X-Request-Start``, else when the
web process accepted it). A survey move whose reply is ready only after WeChat stopped waiting
is rolled back and its claim released: WeChat's next try, or the student's next message, is
handled as if the late one never happened. A request already too old when a thread gets to it
is answered ``success`` and not handled at all."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

import core.db
from core.surveys.drafts import load_draft, save_draft
from models import Ballot, ReceivedMessage
from tests.integration.survey_chat import start_round
from tests.integration.survey_school import make_school

OPENID = "o-delivery"


@pytest.fixture
def student(wechat, wechat_settings):
    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
        start_round(s, school.term, school.definition)
        person = school.students["小刚"]  # first-year class, not bound yet
    wechat.openid = OPENID
    wechat.bind(person)
    return school


def draft(settings) -> dict:
    with core.db.SessionFactory() as s:
        return load_draft(s, settings, OPENID)


def count(model) -> int:
    with core.db.SessionFactory() as s:
        return s.scalar(select(func.count()).select_from(model))


@contextmanager
def handled_late(monkeypatch):
    """Every reply is ready "too late", though the request was fresh when picked up."""
    import bot.wechat.webhook as webhook

    with monkeypatch.context() as m:
        m.setattr(webhook, "LATE_SECONDS", -1.0)
        yield


def test_a_late_answer_is_not_stored_and_the_retry_in_time_is(
    wechat, wechat_settings, fake_wechat_api, student, monkeypatch
):
    assert "测评 1/" in wechat("测评")
    request = wechat.sim.text(OPENID, "2", msg_id=880001)
    with handled_late(monkeypatch):
        assert wechat.reply_of(wechat.post(*request)) == ""
    # Nothing moved: no answer, still question 1, nothing sent another way.
    d = draft(wechat_settings)
    assert d["answers"] == {} and d["pos"] == 0
    assert not any("2/" in t for t in fake_wechat_api.texts_to(OPENID))
    # WeChat's next try of the same message is handled afresh (the claim was released).
    assert "测评 2/" in wechat.reply_of(wechat.post(*request))
    assert draft(wechat_settings)["answers"] == {"care": 2}


def test_after_three_late_tries_the_students_next_message_answers_the_question_seen(
    wechat, wechat_settings, student, monkeypatch
):
    wechat("测评")
    with handled_late(monkeypatch):
        for _try in range(3):
            assert wechat.reply_of(wechat.post(*wechat.sim.text(OPENID, "2", msg_id=880002))) == ""
    # WeChat told the student it failed; they answer question 1 again, their own way.
    assert "测评 2/" in wechat("4")
    assert draft(wechat_settings)["answers"] == {"care": 4}


def test_a_late_confirmation_is_not_submitted_and_one_in_time_is_submitted_once(
    wechat, wechat_settings, student, monkeypatch
):
    wechat("测评")
    qids = [q.id for q in student.definition.questions_for(first_year=True, final_year=False)]
    for qid in qids:
        wechat("1" if student.definition.question(qid).is_choice else "很好")
    request = wechat.sim.text(OPENID, "确认", msg_id=880003)
    with handled_late(monkeypatch):
        assert wechat.reply_of(wechat.post(*request)) == ""
    assert count(Ballot) == 0 and draft(wechat_settings)["mode"] == "summary"
    assert wechat.reply_of(wechat.post(*request)).startswith("已提交")
    assert wechat.reply_of(wechat.post(*request)).startswith("已提交")  # a retry: same reply
    assert count(Ballot) == 1


def test_a_late_reply_that_moves_nothing_goes_out_as_a_customer_service_message(
    wechat, fake_wechat_api, student, monkeypatch
):
    with handled_late(monkeypatch):
        assert wechat("帮助") == ""
    from core.outbox import drain

    assert drain(30)
    assert any("测评" in t for t in fake_wechat_api.texts_to(OPENID))


def _post_arrived(wechat, request, started: str | None):
    query, body = request
    headers = {"X-Request-Start": started} if started is not None else {}
    return wechat.client.post(
        "/wechat", query_string=query, data=body, content_type="text/xml", headers=headers
    )


@pytest.fixture
def behind_proxy(wechat_app, wechat_settings):
    wechat_app.config["BANZHUREN"] = wechat_settings.with_overrides(trusted_proxies=1)
    yield
    wechat_app.config["BANZHUREN"] = wechat_settings


@pytest.mark.parametrize(
    "header",
    [
        lambda t: f"t={t:.3f}",  # nginx: seconds.milliseconds
        lambda t: f"t={int(t * 1_000_000)}",  # microseconds
        lambda t: str(int(t * 1000)),  # milliseconds, no t=
    ],
)
def test_a_request_that_waited_past_wechats_patience_is_not_handled(
    wechat, wechat_settings, student, behind_proxy, header
):
    wechat("测评")
    received = count(ReceivedMessage)
    request = wechat.sim.text(OPENID, "2", msg_id=880004)
    # nginx took it 6 s ago: WeChat has closed this try.
    response = _post_arrived(wechat, request, header(time.time() - 6))
    assert response.status_code == 200 and response.data == b"success"
    assert count(ReceivedMessage) == received  # no claim, no record: a later try is handled
    assert draft(wechat_settings)["answers"] == {}
    fresh = _post_arrived(wechat, request, header(time.time() - 0.2))
    assert "测评 2/" in wechat.reply_of(fresh)


@pytest.mark.parametrize(
    "started",
    [
        "t=banana",
        "t=" + "9" * 30,
        "t=-5",
        f"t={time.time() + 3600:.3f}",  # a proxy clock an hour ahead
        "t=946684800.000",  # 2000: a wrong clock or a wrong unit, not a queue
        "t=1.5",
    ],
)
def test_an_insane_request_start_is_not_taken(
    wechat, wechat_settings, student, behind_proxy, started
):
    wechat("测评")
    reply = wechat.reply_of(_post_arrived(wechat, wechat.sim.text(OPENID, "2"), started))
    assert "测评 2/" in reply


def test_request_start_is_ignored_without_a_trusted_proxy(wechat, wechat_settings, student):
    wechat("测评")
    # Anyone can send the header; only a configured proxy's counts.
    old = f"t={time.time() - 60:.3f}"
    assert "测评 2/" in wechat.reply_of(_post_arrived(wechat, wechat.sim.text(OPENID, "2"), old))


def test_a_draft_marked_undelivered_by_an_earlier_version_is_answered_as_seen(
    wechat, wechat_settings, student
):
    wechat("测评")
    wechat("2")
    with core.db.SessionFactory() as s:
        d = load_draft(s, wechat_settings, OPENID)
        d["undelivered"] = True  # issue 13's mark: question 2 may not have reached them
        save_draft(s, wechat_settings, OPENID, d)
        s.commit()
    reply = wechat("4")
    assert reply.startswith("已按第 1 题记录你的回答。") and "测评 2/" in reply
    assert draft(wechat_settings)["answers"] == {"care": 4}
