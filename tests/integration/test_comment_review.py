"""Reviewed comments (DESIGN.md, Privacy; core.comments): a free-text comment reaches a teacher
or a branch only after Student Affairs showed it; withheld ones are counted, never shown; one
that names a classmate, a phone number or a 学号 is held (shown only with a written reason);
pending and withheld texts never leak through a page, the API, an export or the chat; each
review is audited without the text. Adversarial: a branch cannot open the queue, review, or read
a pending or withheld comment any way it can ask."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, inspect, select

from core.comments.review import (
    SHOWN,
    WITHHELD,
    ReviewError,
    queue,
    review,
    show_unheld,
    visible_comments,
)
from core.worklog.result import reply as result_reply
from models import (
    Answer,
    AuditLog,
    CommentReview,
    Response,
    Student,
    Survey,
    SurveyRound,
    UserRole,
)
from tests.support.dashboard import build_world, login, make_token, make_user, post_form

TERM = "2026-2027-1"
PHONE = "有事打我电话 139 1234 5678"


@pytest.fixture
def world(session):
    w = build_world(session, reviewed=False)
    classmate = session.scalar(
        select(Student).where(Student.classes.contains(w.class_a)).order_by(Student.id)
    )
    w.classmate = classmate.name
    # Two more responses about teacher A: one naming a classmate, one leaving a phone number.
    for text in (f"{classmate.name}上课总睡觉", PHONE):
        r = Response(round_id=w.round.id, teacher_id=w.teacher_a.id, score=100.0)
        r.answers.append(Answer(question_id="comment", text=text))
        session.add(r)
    session.commit()
    make_user(session, "xsc", UserRole.AFFAIRS)
    gq = make_user(session, "gq", UserRole.BRANCH, w.dep_a)  # teacher A's own branch
    w.gq_token = make_token(session, gq)
    return w


def switch(client, username: str) -> None:
    post_form(client, "/dashboard/", "/dashboard/logout", {})
    login(client, username)


def api(client, token: str, path: str):
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def answer_id(session, text: str) -> str:
    return session.scalar(select(Answer.id).where(Answer.text == text))


def teacher_page(client, world) -> str:
    response = client.get(f"/dashboard/teachers/{world.teacher_a.id}?term={TERM}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_pending_comments_reach_nobody_but_the_queue(client, session, world):
    login(client, "gq")
    html = teacher_page(client, world)
    assert "A意见" not in html and world.classmate not in html and "5678" not in html
    assert "8 条待学生处审核" in html and "去审核" not in html
    body = api(client, world.gq_token, f"/api/v1/terms/{TERM}/teachers/TA001")
    assert body["comments"] == [] and body["comments_pending"] == 8
    assert body["comments_withheld"] == 0
    # Student Affairs reviews in the queue: every comment of teachers at the threshold, held
    # ones first; teacher B (3 respondents) has no comments shown to anyone, so none queued.
    switch(client, "xsc")
    html = client.get(f"/dashboard/comments?term={TERM}").get_data(as_text=True)
    rows = re.findall(r"<tr( class=\"held\")?>\s*<td>甲老师", html)
    assert len(rows) == 8 and rows[:2] == [' class="held"'] * 2 and not any(rows[2:])
    assert "提到本班学生姓名" in html and "含手机号「13912345678」" in html
    assert "B意见" not in html
    assert '待审核 <strong id="pending-count">11</strong>' in html  # B's three counted


def test_show_and_withhold_are_audited_without_the_text(client, session, world):
    login(client, "xsc")
    page = f"/dashboard/comments?term={TERM}"
    action = f"/dashboard/comments/review?term={TERM}"
    shown = answer_id(session, "A意见0")
    hidden = answer_id(session, "A意见1")
    post_form(client, page, action, {"answer": shown, "decision": "shown"})
    # Withholding without a reason: refused, nothing stored.
    r = post_form(client, page, action, {"answer": hidden, "decision": "withheld"})
    assert r.status_code == 302
    assert "隐去意见请写明理由" in client.get(page).get_data(as_text=True)
    assert session.get(CommentReview, hidden) is None
    post_form(
        client, page, action, {"answer": hidden, "decision": "withheld", "reason": "涉及人身攻击"}
    )
    session.rollback()
    session.expire_all()
    assert session.get(CommentReview, shown).status == SHOWN
    assert session.get(CommentReview, hidden).status == WITHHELD
    # A second decision on the same comment is refused.
    post_form(client, page, action, {"answer": hidden, "decision": "shown", "reason": "改主意了"})
    session.rollback()
    session.expire_all()
    assert session.get(CommentReview, hidden).status == WITHHELD
    logs = session.scalars(select(AuditLog).where(AuditLog.action.like("comment.%"))).all()
    assert sorted(a.action for a in logs) == ["comment.shown", "comment.withheld"]
    assert all(a.target == f"TA001 {TERM}" for a in logs)
    assert not any("A意见" in str(a.detail) or shown in str(a.detail) for a in logs)
    # The branch: the shown one, the withheld one as a count only.
    switch(client, "gq")
    html = teacher_page(client, world)
    assert "A意见0" in html and "A意见1" not in html
    assert "1 条已隐去" in html and "6 条待学生处审核" in html
    body = api(client, world.gq_token, f"/api/v1/terms/{TERM}/teachers/TA001")
    assert body["comments"] == ["A意见0"]
    assert (body["comments_withheld"], body["comments_pending"]) == (1, 6)


def test_held_comments_need_a_reason_and_stay_out_of_the_bulk_show(session, world):
    term = world.term
    held = [i for i in queue(session, term, 5) if i.holds]
    assert sorted(i.text for i in held) == sorted([f"{world.classmate}上课总睡觉", PHONE])
    with pytest.raises(ReviewError, match="自动标记"):
        review(session, term, answer_id(session, PHONE), SHOWN, "", "xsc", 5)
    assert show_unheld(session, term, "xsc", 5) == 6
    session.commit()
    left = queue(session, term, 5)
    assert sorted(i.text for i in left) == sorted(i.text for i in held)
    # Shown with a reason, the held one reaches the teacher's page like any other.
    review(session, term, answer_id(session, PHONE), SHOWN, "学校办公电话，可以公开", "xsc", 5)
    session.commit()
    visible = visible_comments(session, term.id, world.teacher_a.id)
    assert PHONE in visible.shown and visible.pending == 1 and len(visible.shown) == 7
    assert visible.shown == sorted(visible.shown)


def test_review_refuses_what_it_must(session, world):
    term = world.term
    with pytest.raises(ReviewError, match="请选择"):
        review(session, term, answer_id(session, "A意见0"), "publish", "", "xsc", 5)
    with pytest.raises(ReviewError, match="没有这条意见"):
        review(session, term, "0" * 32, SHOWN, "", "xsc", 5)
    # Below the minimum respondents nobody sees comments: nothing to review either.
    with pytest.raises(ReviewError, match="少于 5 份"):
        review(session, term, answer_id(session, "B意见0"), SHOWN, "", "xsc", 5)
    # An open round's answer (a response from before sealing existed) is not a comment yet.
    session.add(Survey(id="second", title="第二份", method="mean_score", definition={}))
    session.flush()
    open_round = SurveyRound(term_id=term.id, survey_id="second", definition={})
    session.add(open_round)
    session.flush()
    r = Response(round_id=open_round.id, teacher_id=world.teacher_a.id, score=80.0)
    r.answers.append(Answer(question_id="comment", text="进行中的意见"))
    session.add(r)
    session.flush()
    with pytest.raises(ReviewError, match="尚未关闭"):
        review(session, term, answer_id(session, "进行中的意见"), SHOWN, "", "xsc", 5)
    assert "进行中的意见" not in [i.text for i in queue(session, term, 5)]


def test_a_branch_cannot_review_or_open_the_queue(client, session, world):
    login(client, "gq")
    assert client.get(f"/dashboard/comments?term={TERM}").status_code == 403
    page = f"/dashboard/teachers/{world.teacher_a.id}?term={TERM}"
    for action, data in (
        (
            "/dashboard/comments/review",
            {"answer": answer_id(session, "A意见0"), "decision": "shown"},
        ),
        ("/dashboard/comments/show-unheld", {}),
    ):
        r = post_form(client, page, f"{action}?term={TERM}", data)
        assert r.status_code == 403
    assert session.scalar(select(func.count()).select_from(CommentReview)) == 0
    assert "意见审核" not in client.get(page).get_data(as_text=True)


def test_exports_and_chat_never_carry_comment_text(client, session, world):
    show_unheld(session, world.term, "xsc", 5)
    review(session, world.term, answer_id(session, PHONE), WITHHELD, "含电话号码", "xsc", 5)
    world.term.published_at = dt.datetime(2027, 1, 25, tzinfo=dt.UTC)
    session.commit()
    login(client, "gq")
    secrets = ("A意见", "5678", world.classmate)
    for fmt in ("csv", "json"):
        body = client.get(f"/dashboard/download/evaluation.{fmt}?term={TERM}").data.decode(
            "utf-8-sig"
        )
        assert not any(s in body for s in secrets), fmt
    xlsx = load_workbook(
        io.BytesIO(client.get(f"/dashboard/download/evaluation.xlsx?term={TERM}").data)
    )
    cells = " ".join(str(c) for ws in xlsx for row in ws.iter_rows(values_only=True) for c in row)
    assert not any(s in cells for s in secrets)
    # The teacher's own published result by chat: grade and figures, no comment at all.
    text = result_reply(session, world.teacher_a.id, 5)
    assert "优秀" in text and not any(s in text for s in secrets)


def test_reviews_carry_no_date_and_no_order(session, world):
    columns = {c["name"] for c in inspect(session.get_bind()).get_columns("comment_reviews")}
    assert columns == {"answer_id", "status", "reason"}
