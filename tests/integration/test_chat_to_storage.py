"""A chat message becomes a stored answer, end to end through ``/wechat`` in safe mode: a
student's survey ends in one ``Response``, a head teacher's message in one ``WorkLogEntry`` —
and WeChat's retry of the same message stores nothing more.

The path, by name: bot.wechat.webhook.receive → bot.wechat.dedup.claim →
core.locks.lock_sender → bot.chat.router.handle_incoming → (bot.chat.survey_dialogue.handle
| bot.chat.worklog.handle) → bot.wechat.dedup.record_reply → commit → TextReply, encrypted.
"""

from __future__ import annotations

from sqlalchemy import func, select

from models import Ballot, Response, SealedEnvelope, WorkLogEntry
from tests.integration.survey_chat import close, start_round
from tests.integration.survey_school import make_school
from tests.integration.worklog_school import build_school


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def test_student_survey_through_the_webhook_is_stored_once(wechat, wechat_settings, session):
    school = make_school(session)
    session.commit()
    rnd = start_round(session, school.term, school.definition)
    openid = school.openids["小红"]  # final-year: rates one head teacher

    reply = wechat("测评", openid=openid)
    assert "1/" in reply, reply
    # Every choice question gets its first option; the optional comment is skipped.
    for _ in range(30):
        if reply.startswith("请核对"):
            break
        reply = wechat("1" if "\n1. " in reply else "跳过", openid=openid)
    assert reply.startswith("请核对") and "确认" in reply, reply

    query, body = wechat.sim.text(openid, "确认", msg_id=990001)
    submitted = wechat.reply_of(wechat.post(query, body))
    # Sealed until the round closes (issue 11).
    assert count(session, SealedEnvelope) == 1 and count(session, Ballot) == 1
    # WeChat retries the 确认: same answer, nothing stored twice.
    again = wechat.reply_of(wechat.post(*wechat.sim.text(openid, "确认", msg_id=990001)))
    assert again == submitted
    assert count(session, SealedEnvelope) == 1 and count(session, Ballot) == 1
    session.commit()
    assert close(session, wechat_settings, rnd) == 1
    assert count(session, Response) == 1 and count(session, SealedEnvelope) == 0


def test_head_teacher_log_through_the_webhook_is_stored_once(wechat, wechat_settings, session):
    build_school(session, wechat_settings)  # binds "o-teacher" to a head teacher
    query, body = wechat.sim.text("o-teacher", "班会 学风建设主题班会，全班到齐", msg_id=990101)
    reply = wechat.reply_of(wechat.post(query, body))
    assert "班会" in reply
    assert count(session, WorkLogEntry) == 1
    retry = wechat.sim.text("o-teacher", "班会 学风建设主题班会，全班到齐", msg_id=990101)
    assert wechat.reply_of(wechat.post(*retry)) == reply
    assert count(session, WorkLogEntry) == 1
    # The menu's 统计 button reaches the same handler.
    assert "班会" in wechat.event("CLICK", "STATS", openid="o-teacher")
