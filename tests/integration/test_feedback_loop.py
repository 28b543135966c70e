"""The 反馈 loop (issue 25.1), end to end through ``/wechat`` as WeChat sends it and the fake
WeChat API that receives what the outbox sends: a head teacher's 反馈 reaches the counsellor
numbered; the counsellor's 收到 / 收到 N 备注 / 跟进 N 内容 are told to the teacher, who sees them in
我的反馈; a counsellor of another class can answer nothing; one left three days is reminded
once; the dashboards list the open ones by age, with the student and the text for the branch of
that class only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.chat import help as texts
from core import db as core_db
from core.db import begin_write
from core.outbox import drain
from core.worklog.feedback_replies import remind_unacknowledged
from models import StudentFeedback, Teacher, TeacherRole, Term, User, UserRole, WeChatBinding
from models.base import utcnow
from tests.factories import make_department, make_teacher
from tests.integration.worklog_school import build_school, eager_celery
from tests.support.dashboard import login, make_token, make_user
from tests.support.wechat import grant_allowance
from worker.tasks.feedback import remind_unacknowledged_feedback

T, C, C2 = "o-teacher", "o-counsellor", "o-counsellor-2"


@pytest.fixture
def school(session, wechat_settings):
    s = build_school(session, wechat_settings)
    s.counsellor_2 = make_teacher(session, name="钱辅导", role=TeacherRole.COUNSELLOR)
    s.middle.counsellor_id = s.counsellor_2.id
    session.add(WeChatBinding(openid=C, teacher_id=s.counsellor.id))
    session.add(WeChatBinding(openid=C2, teacher_id=s.counsellor_2.id))
    s.other_dep = make_department(session, name="钢琴系党总支")
    s.term_code = session.scalar(select(Term.code))
    session.commit()
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "gx", UserRole.BRANCH, s.final.department)
    make_user(session, "gq", UserRole.BRANCH, s.other_dep)
    return s


def backdate(session, days: float, feedback_id: int | None = None) -> None:
    """Make 反馈 older; a write transaction first (the embedded outbox sender writes too)."""
    session.rollback()
    begin_write(session)
    query = update(StudentFeedback).values(created_at=utcnow() - dt.timedelta(days=days))
    if feedback_id is not None:
        query = query.where(StudentFeedback.id == feedback_id)
    session.execute(query)
    session.commit()


def rows(session) -> list[StudentFeedback]:
    session.rollback()
    session.expire_all()
    return list(session.scalars(select(StudentFeedback).order_by(StudentFeedback.id)))


def test_the_loop_through_the_webhook(session, wechat, fake_wechat_api, school):
    assert "收到" in wechat("帮助", openid=C) and "无需回复" not in wechat("帮助", openid=C)
    reply = wechat("反馈 张三 最近情绪低落，请辅导员关注", openid=T)
    assert "关于张三的反馈将转给辅导员孙辅导" in reply
    [fb] = rows(session)
    n = fb.id
    assert fb.class_id == school.final.id
    drain()
    [forwarded] = fake_wechat_api.texts_to(C)
    assert forwarded.startswith(f"反馈 #{n} · 回复「收到」确认")
    assert "兼职班主任林老师反馈学生张三" in forwarded

    # The teacher sees it unread.
    mine = wechat("我的反馈", openid=T)
    assert f"#{n} 张三｜最近情绪低落，请辅导员关注｜未读" in mine

    # The adversary: the counsellor of another class, by number and by 收到 alone.
    assert "没有找到反馈 #" in wechat(f"收到 {n} 我来看看", openid=C2)
    assert "没有找到反馈 #" in wechat(f"跟进 {n} 已处理", openid=C2)
    assert wechat("收到", openid=C2).startswith("没有待确认的反馈")
    [fb] = rows(session)
    assert fb.acknowledged_at is None and fb.counsellor_note is None

    # The class's counsellor: 收到 acknowledges the latest; the teacher is told.
    reply = wechat("收到", openid=C)
    assert reply == f"已确认收到反馈 #{n}（班主任林老师，关于张三）。已告知班主任。"
    drain()
    assert fake_wechat_api.texts_to(T)[-1] == f"辅导员孙辅导已收到您关于张三的反馈 #{n}。"
    assert "｜已收到" in wechat("我的反馈", openid=T)
    # Again: nothing new to tell.
    assert wechat(f"收到 {n}", openid=C) == f"反馈 #{n}（班主任林老师，关于张三）此前已确认收到。"
    drain()
    told = len(fake_wechat_api.texts_to(T))

    reply = wechat(f"跟进 {n} 已约谈学生，下周复查", openid=C)
    assert reply == f"已记录对反馈 #{n}（张三）的跟进，已告知班主任林老师。"
    drain()
    assert len(fake_wechat_api.texts_to(T)) == told + 1
    assert fake_wechat_api.texts_to(T)[-1] == (
        f"辅导员孙辅导跟进了您关于张三的反馈 #{n}：已约谈学生，下周复查"
    )
    mine = wechat("我的反馈", openid=T)
    assert f"#{n} 张三｜最近情绪低落，请辅导员关注｜已跟进（辅导员：已约谈学生，下周复查）" in mine
    [fb] = rows(session)
    assert fb.acknowledged_at is not None and fb.followed_up_at is not None


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("跟进", "请写上反馈编号和跟进内容，例如：跟进 12"),
        ("跟进 {n}", "请写上跟进的内容，例如：跟进 12"),
        ("收到 99999", "没有找到反馈 #99999，或它不是您所带班级的反馈"),
        ("跟进 99999 已处理", "没有找到反馈 #99999"),
        ("收到 99999999999999999999 好", "没有找到反馈 #99999999999999999999"),
        ("收到 ＃９９９９９", "没有找到反馈 #99999"),
        ("收到 {n} " + "长" * 501, "备注太长了（501 字），请不超过 500 字。"),
        ("你好", texts.NOT_UNDERSTOOD),
    ],
)
def test_bad_counsellor_commands_get_a_clear_answer(session, wechat, school, message, answer):
    wechat("反馈 张三 最近情绪低落", openid=T)
    [fb] = rows(session)
    reply = wechat(message.format(n=fb.id), openid=C)
    assert reply.startswith(answer), reply
    [fb] = rows(session)
    assert fb.acknowledged_at is None and fb.counsellor_note is None


def test_nothing_to_acknowledge_and_the_list(session, wechat, school):
    assert wechat("收到", openid=C).startswith("没有待确认的反馈")
    assert wechat("反馈", openid=C) == "没有待确认的反馈。"
    wechat("反馈 张三 最近情绪低落", openid=T)
    wechat("反馈 李四 缺课两次", openid=T)
    first, second = rows(session)
    listing = wechat("反馈", openid=C)
    assert f"#{second.id}" in listing and f"#{first.id}" in listing
    assert listing.index(f"#{second.id}") < listing.index(f"#{first.id}")
    # 收到 with a note and no number: the latest one.
    assert wechat("收到 已转心理中心", openid=C).startswith(f"已确认收到反馈 #{second.id}")
    assert wechat("收到", openid=C).startswith(f"已确认收到反馈 #{first.id}")
    assert wechat("收到", openid=C).startswith("没有待确认的反馈")


def test_a_reminder_after_three_days_once(
    session, wechat, wechat_settings, fake_wechat_api, school
):
    wechat("反馈 张三 最近情绪低落", openid=T)
    wechat("反馈 李四 缺课两次", openid=T)
    old, recent = rows(session)
    backdate(session, 3.05, old.id)
    drain()
    before = len(fake_wechat_api.texts_to(C))
    # Issue 23: a customer-service message reaches the counsellor only within their allowance
    # (they wrote to the account lately); without it the reminder is counted unreachable.
    grant_allowance(C)
    # The beat's task, run in-process.
    eager_celery(wechat_settings)
    assert remind_unacknowledged_feedback.delay().get() == 1
    assert remind_unacknowledged_feedback.delay().get() == 0  # once
    drain()
    sent = fake_wechat_api.texts_to(C)[before:]
    assert sent == [
        f"提醒：兼职班主任林老师关于学生张三（{school.final.name}）的反馈 #{old.id} 已 3 天未确认。"
        f"请回复「收到 {old.id}」，或「跟进 {old.id} 内容」。"
    ]
    # An acknowledged one is never reminded.
    wechat(f"收到 {recent.id}", openid=C)
    backdate(session, 5)
    with core_db.session_scope(write=True) as s:
        assert remind_unacknowledged(s, utcnow()) == 0


def test_the_dashboards_list_open_feedback_by_age(session, wechat_app, wechat, school):
    wechat("反馈 张三 最近情绪低落，请辅导员关注", openid=T)
    wechat("反馈 钱七 想家", openid="o-other")  # 周老师's class, counsellor 钱辅导
    first, second = rows(session)
    backdate(session, 4, first.id)

    def page(who: str) -> str:
        drain()  # SQLite: the embedded sender's writes would make the login's write wait
        client = wechat_app.test_client()
        assert login(client, who).status_code == 302
        response = client.get("/dashboard/feedback")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    branch = page("gx")
    assert f"#{first.id}" in branch and f"#{second.id}" in branch
    assert branch.index(f"#{first.id}") < branch.index(f"#{second.id}")  # oldest first
    assert "4 天" in branch and "孙辅导" in branch and school.final.name in branch
    assert "张三" in branch and "最近情绪低落" in branch  # the branch of that class
    affairs = page("xsc")
    assert f"#{first.id}" in affairs and "林老师" in affairs and "4 天" in affairs
    assert "张三" not in affairs and "最近情绪低落" not in affairs and "钱七" not in affairs
    other = page("gq")
    assert f"#{first.id}" not in other and "林老师" not in other
    # Acknowledged: no longer open.
    wechat(f"收到 {first.id}", openid=C)
    assert f"#{first.id}" not in page("gx")


def test_only_the_teachers_own_feedback_in_my_feedback(session, wechat, school):
    wechat("反馈 钱七 想家", openid="o-other")
    assert wechat("我的反馈", openid=T).startswith("本学期还没有反馈")
    assert "钱七" in wechat("我的反馈", openid="o-other")


def test_the_class_counsellor_now_may_answer(session, wechat, school):
    """A class whose counsellor changed: the new one answers what the old one received."""
    wechat("反馈 张三 最近情绪低落", openid=T)
    [fb] = rows(session)
    session.rollback()
    begin_write(session)
    session.get(type(school.final), school.final.id).counsellor_id = school.counsellor_2.id
    session.commit()
    assert wechat(f"收到 {fb.id}", openid=C2).startswith(f"已确认收到反馈 #{fb.id}")
    assert session.get(Teacher, school.counsellor_2.id).name == "钱辅导"


def test_the_feedback_text_on_the_teacher_page_and_api(session, wechat_app, wechat, school):
    """The 反馈 entry in the teacher's work log: its text for the branch of the class only."""
    wechat("反馈 张三 最近情绪低落，请辅导员关注", openid=T)
    wechat("谈心 李四 期末复习压力大", openid=T)
    drain()
    path = f"/dashboard/teachers/{school.teacher.id}"
    api = f"/api/v1/terms/{school.term_code}/teachers/{school.teacher.staff_no}"
    seen = {}
    for who in ("gx", "xsc"):
        client = wechat_app.test_client()
        login(client, who)
        html = client.get(path).get_data(as_text=True)
        user = session.scalar(select(User).where(User.username == who))
        token = make_token(session, user)
        body = client.get(api, headers={"Authorization": f"Bearer {token}"}).get_json()
        texts_by_kind = {e["kind"]: e["text"] for e in body["worklog"]}
        seen[who] = (html, texts_by_kind)
    html, by_kind = seen["gx"]
    assert "最近情绪低落" in html and by_kind["feedback"] == "最近情绪低落，请辅导员关注"
    html, by_kind = seen["xsc"]
    assert "最近情绪低落" not in html and "反馈内容仅班主任、辅导员和该班所在党总支可见" in html
    assert by_kind["feedback"] == "（反馈内容仅班主任、辅导员和该班所在党总支可见）"
    assert by_kind["talk"] == "期末复习压力大" and "期末复习压力大" in html
