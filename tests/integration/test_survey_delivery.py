"""Issue 13 item 5: an answer is filed under the question the student saw.

When the reply carrying the next question misses WeChat's 5 s and its customer-service copy is
never delivered, the student still sees the previous question and answers it again: that answer
goes to the previous question, and the reply shows the pending question. Once the copy is
delivered, the dialogue goes on as usual."""

from __future__ import annotations

import pytest

import core.db
from core.outbox import drain
from core.surveys.drafts import load_draft
from tests.integration.survey_chat import start_round
from tests.integration.survey_school import make_school


@pytest.fixture
def student(wechat, wechat_settings):
    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
        start_round(s, school.term, school.definition)
        person = school.students["小刚"]  # first-year class, not bound yet
    wechat.openid = "o-delivery"
    wechat.bind(person)
    return school


def draft(settings) -> dict:
    with core.db.SessionFactory() as s:
        return load_draft(s, settings, "o-delivery")


def send_late(wechat, monkeypatch, text: str) -> str:
    import bot.wechat.webhook as webhook

    with monkeypatch.context() as m:
        m.setattr(webhook, "LATE_SECONDS", -1.0)
        return wechat(text)


def test_an_answer_after_an_undelivered_question_goes_to_the_question_seen(
    wechat, wechat_settings, fake_wechat_api, student, monkeypatch
):
    assert "测评 1/" in wechat("测评")
    # The answer to question 1; its reply (question 2) is late, and WeChat refuses the copy.
    fake_wechat_api.inject(45015)
    assert send_late(wechat, monkeypatch, "2") == ""
    assert drain(30)
    assert not any("2/" in t for t in fake_wechat_api.texts_to("o-delivery"))
    assert draft(wechat_settings)["undelivered"] is True
    # The student saw question 1 only and answers it again: filed under question 1.
    reply = wechat("4")
    assert reply.startswith("已按第 1 题记录你的回答。") and "测评 2/" in reply
    d = draft(wechat_settings)
    assert d["answers"] == {"care": 4} and d["pos"] == 1 and d["undelivered"] is False
    # Question 2 was shown in time: the next answer is question 2's.
    assert "测评 3/" in wechat("1")
    assert draft(wechat_settings)["answers"] == {"care": 4, "talk": 1}


def test_a_delivered_late_question_is_answered_as_usual(
    wechat, wechat_settings, fake_wechat_api, student, monkeypatch
):
    wechat("测评")
    assert send_late(wechat, monkeypatch, "2") == ""
    assert drain(30)
    (copy,) = [t for t in fake_wechat_api.texts_to("o-delivery") if "测评 2/" in t]
    assert copy and draft(wechat_settings)["undelivered"] is False
    assert "测评 3/" in wechat("3")
    assert draft(wechat_settings)["answers"] == {"care": 2, "talk": 3}


def test_an_undelivered_summary_is_shown_again_not_confirmed(
    wechat, wechat_settings, fake_wechat_api, student, monkeypatch
):
    reply = wechat("测评")
    qids = [q.id for q in student.definition.questions_for(first_year=True, final_year=False)]
    for qid in qids[:-1]:
        q = student.definition.question(qid)
        reply = wechat("1" if q.is_choice else "很好")
    fake_wechat_api.inject(45015, times=5)
    assert send_late(wechat, monkeypatch, "辛苦了") == ""  # the last answer; summary is late
    assert drain(30)
    # 确认 without having seen the summary does not submit: the summary comes first.
    reply = wechat("确认")
    assert reply.startswith("上一条消息没有记录。") and "请核对" in reply
    assert wechat("确认").startswith("已提交")
