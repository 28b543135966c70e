"""The head teacher's work-log chat (bot/chat/worklog.py) with a real session and dialogue
store, on SQLite and PostgreSQL (and the Redis store where it matters)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.worklog.counts import inactive_teachers, log_counts
from models import (
    EmploymentOutcome,
    LogRequirement,
    Term,
    WorkLogAttachment,
    WorkLogEntry,
)
from models.worklog import LogKind
from tests.conftest import make_settings
from tests.integration.worklog_school import (
    School,
    TeacherChat,
    build_school,
    day_text,
    eager_celery,
)


@pytest.fixture
def school(session: Session, settings) -> School:
    eager_celery(settings)
    return build_school(session, settings)


@pytest.fixture
def chat(session: Session, settings, school: School) -> TeacherChat:
    return TeacherChat(session, settings, school.teacher, "o-teacher")


def entries(session: Session) -> list[WorkLogEntry]:
    session.expire_all()
    return list(session.scalars(select(WorkLogEntry).order_by(WorkLogEntry.id)))


def age_entries(session: Session, delta: dt.timedelta) -> None:
    """Make every entry look recorded ``delta`` earlier."""
    for e in entries(session):
        e.created_at = e.created_at - delta
    session.commit()


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_entry_is_stored_and_answered_with_what_was_recorded(session, chat, school):
    reply = chat.send("谈心 张三 李四 期末复习压力大，约好下周再聊")
    today = day_text(school.today, school.today)
    assert (
        reply == f"已记录：{today} 谈心谈话｜学生：张三、李四｜内容：期末复习压力大，约好下周再聊"
    )
    [e] = entries(session)
    assert e.kind == LogKind.TALK
    assert e.occurred_on == school.today
    assert sorted(s.name for s in e.students) == ["张三", "李四"]
    assert e.class_id == school.final.id
    assert e.text == "期末复习压力大，约好下周再聊"
    assert e.raw == "谈心 张三 李四 期末复习压力大，约好下周再聊"
    assert e.source == "text"
    assert e.teacher_id == school.teacher.id


def test_dorm_visit_with_place_and_date(session, chat, school):
    reply = chat.send("昨天走访寝室，6号楼302，卫生良好。", msg_type="voice")
    yesterday = school.today - dt.timedelta(days=1)
    assert reply == (
        f"已记录：{day_text(yesterday, school.today)} 走访寝室｜地点：6号楼302｜内容：卫生良好"
    )
    [e] = entries(session)
    assert (e.kind, e.occurred_on, e.place, e.text, e.source) == (
        LogKind.DORM_VISIT,
        yesterday,
        "6号楼302",
        "卫生良好",
        "voice",
    )
    assert e.class_id is None  # two classes, nobody named


def test_unreadable_message_stores_nothing_and_shows_an_example(session, chat):
    reply = chat.send("今天和张三聊了聊")
    assert reply.startswith("没有记录：")
    assert "例如：" in reply
    assert count(session, WorkLogEntry) == 0


def test_future_date_and_date_before_appointment_are_refused(session, chat, school):
    tomorrow = school.today + dt.timedelta(days=1)
    reply = chat.send(f"{tomorrow.isoformat()} 班会 期末动员")
    assert "还没到" in reply
    before = school.appointed_on - dt.timedelta(days=1)
    reply = chat.send(f"{before.isoformat()} 班会 期末动员")
    start = school.appointed_on
    assert f"早于您的聘任开始日期（{start.year}年{start.month}月{start.day}日）" in reply
    assert count(session, WorkLogEntry) == 0


def test_unknown_name_asks_and_confirm_stores_as_written(session, chat):
    reply = chat.send("谈心 王小明 期末复习")
    assert "“王小明”不是您所带班级的学生，这条日志还没有记录" in reply
    assert count(session, WorkLogEntry) == 0
    assert chat.pending() is not None
    reply = chat.send("确认")
    assert reply.startswith("已记录：")
    assert reply.endswith("谈心谈话｜内容：王小明 期末复习")
    [e] = entries(session)
    assert e.students == []
    assert chat.pending() is None


def test_unknown_name_then_corrected_message_cancels_and_stores_the_new_one(session, chat):
    chat.send("谈心 张山 期末复习")
    reply = chat.send("谈心 张三 期末复习")
    assert reply.startswith("上一条待确认的日志已取消，没有记录。\n已记录：")
    [e] = entries(session)
    assert [s.name for s in e.students] == ["张三"]


def test_shared_name_asks_which_student(session, chat, school):
    reply = chat.send("谈心 张伟 专业课进度")
    lines = reply.split("\n")
    assert lines[0] == "您的学生中有2位叫张伟，请回复序号选择是哪一位："
    assert lines[1] == f"1. 张伟（{school.final.name}，学号2023001）"
    assert lines[2] == f"2. 张伟（{school.first.name}，学号2026001）"
    assert count(session, WorkLogEntry) == 0
    reply = chat.send("2")
    assert reply.endswith("谈心谈话｜学生：张伟｜内容：专业课进度")
    [e] = entries(session)
    assert [s.id for s in e.students] == [school.zhang_wei[1].id]
    assert e.class_id == school.first.id


def test_shared_name_and_anything_else_cancels(session, chat):
    chat.send("谈心 张伟 专业课进度")
    assert chat.send("3") == "上一条待确认的日志已取消，没有记录。"  # no third 张伟
    assert count(session, WorkLogEntry) == 0
    chat.send("谈心 张伟 专业课进度")
    assert chat.send("取消") == "好的，待确认的日志已取消，没有记录。"
    assert count(session, WorkLogEntry) == 0
    assert chat.pending() is None


def test_two_questions_in_a_row(session, chat, school):
    reply = chat.send("谈心 张伟 王小明 宿舍矛盾")
    assert "王小明" in reply
    reply = chat.send("确认")
    assert "2位叫张伟" in reply
    reply = chat.send("1")
    assert reply.endswith("学生：张伟｜内容：王小明 宿舍矛盾")
    [e] = entries(session)
    assert [s.id for s in e.students] == [school.zhang_wei[0].id]


def test_pending_question_survives_a_redis_restart(
    session, db_url, redis_url, redis_prefix, school
):
    import redis

    from models import DialogueState

    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    chat = TeacherChat(session, settings, school.teacher, "o-teacher")
    chat.send("谈心 张伟 专业课进度")
    assert chat.pending()["stage"] == "choose"
    # Issue 13: the question is in the database even with Redis, so an empty Redis after a
    # restart loses nothing the teacher typed.
    assert count(session, DialogueState) == 1
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{redis_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
    assert chat.send("1").startswith("已记录：")
    assert chat.pending() is None


def test_undo_removes_the_last_entry(session, chat):
    chat.send("班会 学风建设")
    chat.send("谈心 张三 期末")
    reply = chat.send("撤销")
    assert reply.startswith("已撤销：")
    assert "谈心谈话｜学生：张三｜内容：期末" in reply
    assert [e.kind for e in entries(session)] == [LogKind.CLASS_MEETING]


def test_undo_after_24_hours_is_refused(session, chat):
    chat.send("班会 学风建设")
    age_entries(session, dt.timedelta(hours=25))
    reply = chat.send("撤销")
    assert "超过24小时不能在微信里撤销" in reply
    assert count(session, WorkLogEntry) == 1


def test_undo_with_nothing_logged(chat):
    assert chat.send("撤销") == "您还没有记录过工作日志，没有可以撤销的。"


def test_my_logs_lists_recent_entries(session, chat, school):
    chat.send("前天 家访 王五 电话家访")
    chat.send("班会 学风建设")
    reply = chat.send("我的日志")
    lines = reply.split("\n")
    today = day_text(school.today, school.today)
    before = day_text(school.today - dt.timedelta(days=2), school.today)
    assert lines[1] == f"1. {today} 班会｜学风建设"
    assert lines[2] == f"2. {before} 家访｜学生：王五｜电话家访"


def test_stats_against_requirements(session, chat, school):
    chat.send("查寝 6号楼302 卫生良好")
    chat.send("谈心 张三 期末")
    reply = chat.send("统计")
    assert f"本月（{school.today.month}月）工作日志：" in reply
    assert "走访寝室 1/2，还差1次" in reply
    assert "谈心谈话 1/4，还差3次" in reply
    assert "参加例会 0/1，还差1次" in reply
    # Both a first-year and a final-year class: both emphases are required.
    assert "就业指导 0/2，还差2次" in reply
    assert "新生入学指导 0/2，还差2次" in reply
    # The term's requirement: the monthly one for each month in office this term.
    term = session.scalar(select(Term))
    since = max(term.start_date, school.appointed_on)
    months = (school.today.year - since.year) * 12 + school.today.month - since.month + 1
    assert f"本学期（{term.code}，{months}个月）共2条：" in reply
    assert f"走访寝室 1/{2 * months}" in reply
    assert f"谈心谈话 1/{4 * months}" in reply


def test_stats_use_the_most_specific_configured_requirement(session, chat, school):
    session.add(
        LogRequirement(department_id=None, year_of_study=None, kind=LogKind.DORM_VISIT, per_month=3)
    )
    session.add(
        LogRequirement(
            department_id=school.final.department_id,
            year_of_study=None,
            kind=LogKind.DORM_VISIT,
            per_month=1,
        )
    )
    session.add(
        LogRequirement(department_id=None, year_of_study=None, kind=LogKind.TALK, per_month=0)
    )
    session.commit()
    chat.send("查寝 6号楼302 卫生良好")
    reply = chat.send("统计")
    assert "走访寝室 1/1，已完成" in reply
    assert "谈心谈话" not in reply


def test_employment_outcome_for_final_year_student(session, chat, school):
    reply = chat.send("就业 赵六 已签约哈尔滨交响乐团")
    assert "就业去向已登记：赵六（已签约哈尔滨交响乐团）" in reply
    outcome = session.scalar(select(EmploymentOutcome))
    assert outcome.student_id == school.students["赵六"].id
    assert outcome.outcome == "已签约哈尔滨交响乐团"
    chat.send("就业 赵六 改签北京某乐团")
    session.expire_all()
    assert session.scalar(select(EmploymentOutcome)).outcome == "改签北京某乐团"
    reply = chat.send("撤销")
    assert "赵六的就业去向恢复为：已签约哈尔滨交响乐团" in reply
    session.expire_all()
    assert session.scalar(select(EmploymentOutcome)).outcome == "已签约哈尔滨交响乐团"
    reply = chat.send("撤销")
    assert "赵六的就业去向登记也已撤销" in reply
    assert count(session, EmploymentOutcome) == 0


def test_employment_without_a_name_is_guidance(session, chat):
    reply = chat.send("就业 双选会信息已发班级群")
    assert reply.endswith("就业指导｜内容：双选会信息已发班级群")
    assert count(session, EmploymentOutcome) == 0
    assert entries(session)[0].kind == LogKind.EMPLOYMENT


def test_employment_outcome_for_a_student_not_in_final_year_is_not_recorded(session, chat):
    reply = chat.send("就业 王五 暑期在琴行实习")
    assert "王五不在毕业年级，未登记就业去向" in reply
    assert count(session, EmploymentOutcome) == 0
    assert count(session, WorkLogEntry) == 1


def test_emphasis_of_another_year_is_accepted_with_a_note(session, settings, school):
    other = TeacherChat(session, settings, school.other, "o-other")
    reply = other.send("新生入学指导 帮新生熟悉校园")
    assert reply.startswith("已记录：")
    assert "您所带班级不是一年级" in reply
    reply = other.send("就业指导 钱七 简历修改")
    assert "您所带班级不是毕业年级" in reply
    assert count(session, WorkLogEntry) == 2


def test_photo_is_attached_to_the_entry_just_sent(session, chat):
    chat.send("班会 学风建设")
    reply = chat.send("", msg_type="image", media_id="MEDIA1", pic_url="http://x/1.jpg")
    assert reply.startswith("照片已附在日志上：")
    assert reply.endswith("（共1张照片）")
    reply = chat.send("", msg_type="image", media_id="MEDIA2", pic_url="http://x/2.jpg")
    assert reply.endswith("（共2张照片）")
    assert [a.media_id for a in session.scalars(select(WorkLogAttachment))] == ["MEDIA1", "MEDIA2"]


def test_photo_without_a_recent_entry_is_refused(session, chat):
    reply = chat.send("", msg_type="image", media_id="MEDIA1")
    assert reply.startswith("照片没有保存：请先发送日志文字")
    chat.send("班会 学风建设")
    age_entries(session, dt.timedelta(minutes=11))
    reply = chat.send("", msg_type="image", media_id="MEDIA2")
    assert reply.startswith("照片没有保存")
    assert count(session, WorkLogAttachment) == 0


def test_not_a_log_attempt_goes_back_to_the_router(chat):
    assert chat.send("") is None
    assert chat.send("你好") is None
    assert chat.send("", msg_type="location") is None


def test_empty_voice_asks_again(chat):
    assert chat.send("", msg_type="voice").startswith("没有识别出语音内容")


def test_teacher_without_appointment_is_told(session, settings, school):
    from tests.factories import make_teacher

    nobody = make_teacher(session, name="无聘任")
    session.commit()
    reply = TeacherChat(session, settings, nobody, "o-nobody").send("班会 学风建设")
    assert reply.startswith("您目前没有在任的兼职班主任聘任")
    assert count(session, WorkLogEntry) == 0


def test_counts_and_inactive_teachers(session, chat, settings, school):
    chat.send("谈心 张三 期末")
    chat.send("谈心 李四 期末")
    chat.send("查寝 6号楼302 卫生良好")
    term = session.scalar(select(Term))
    counts = log_counts(session, term.id)
    assert counts == {school.teacher.id: {"talk": 2, "dorm_visit": 1}}
    # 周老师 has been in office 60 days and logged nothing.
    assert inactive_teachers(session, school.today) == [school.other.id]
    assert inactive_teachers(session, school.today + dt.timedelta(days=14)) == sorted(
        [school.teacher.id, school.other.id]
    )


def test_answer_without_an_open_question(session, chat):
    assert chat.send("2").startswith("没有待确认的日志")
    assert chat.send("确认").startswith("没有待确认的日志")
    assert count(session, WorkLogEntry) == 0


def test_a_command_while_a_question_is_open_cancels_it_and_runs(session, chat):
    chat.send("谈心 张伟 专业课进度")
    reply = chat.send("统计")
    assert reply.startswith("上一条待确认的日志已取消，没有记录。\n本月")
    assert chat.pending() is None
    assert count(session, WorkLogEntry) == 0
