"""The students' survey dialogue, driven through real ChatContexts: every command and every
kind of bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.chat.survey_dialogue import parse_choice, render_summary
from core.surveys.drafts import load_draft, save_draft
from models import Answer, Ballot, DialogueState, Response, SealedEnvelope, SurveyDraft
from surveys.definition import parse_survey
from tests.conftest import make_settings
from tests.integration.survey_chat import Chat, close, start_round
from tests.integration.survey_school import make_school

INVALID = "请回复 1-4 的数字、字母或选项文字，例如 1"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def school(session):
    s = make_school(session)
    session.commit()
    return s


@pytest.fixture
def rnd(session, school):
    return start_round(session, school.term, school.definition)


def chat_for(session, settings, school, name, **kw) -> Chat:
    return Chat(session, settings, school.openids[name], student_id=school.students[name].id, **kw)


def qids_for(school, *, first_year=False, final_year=False) -> list[str]:
    return [
        q.id for q in school.definition.questions_for(first_year=first_year, final_year=final_year)
    ]


def answer_all(chat: Chat, school, qids, choice="1", comment="辛苦了") -> str:
    reply = ""
    for qid in qids:
        q = school.definition.question(qid)
        reply = chat.say(choice if q.is_choice else comment)
    return reply


# --- pure answer parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("4", 4),
        (" 2 ", 2),
        ("２", 2),  # full-width digit
        ("A", 1),
        ("a", 1),
        ("Ｃ", 3),  # full-width letter
        ("ｄ", 4),
        ("满意", 2),
        ("不满意", 4),
        ("3.", 3),
        ("B、", 2),
        ("0", None),
        ("5", None),
        ("E", None),
        ("很好", None),
        ("", None),
        ("12", None),
    ],
)
def test_parse_choice(text, expected):
    assert parse_choice(text, ["非常满意", "满意", "基本满意", "不满意"]) == expected


def test_long_summary_is_shortened_to_fit_one_wechat_reply():
    scale = [{"label": f"选项{i}", "score": i} for i in range(5)]
    definition = parse_survey(
        {
            "id": "long",
            "title": "长问卷",
            "questions": [
                {"id": f"q{i}", "text": "很长的题目文字" * 8, "options": scale} for i in range(30)
            ],
        }
    )
    draft = {
        "teacher": "王明老师（钢琴2601班）",
        "questions": [q.id for q in definition.questions],
        "answers": {q.id: 5 for q in definition.questions},
    }
    text = render_summary(definition, draft)
    assert len(text.encode()) <= 2000
    # Shortened to 10 characters, the first step that fits.
    assert "30. 很长的题目文字很长的…：选项4" in text
    assert "\n1. 很长的题目文字很长的…：选项4\n" in text


# --- a whole survey --------------------------------------------------------------------------


def test_student_rates_each_head_teacher_in_turn(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小明")
    first = chat.say("测评")
    # 李华 sorts before 王明; the third-year class has neither year-specific question.
    li_q = qids_for(school)
    assert "兼职班主任学生满意度测评（2026-2027-1）：请为你的 2 位班主任分别作答" in first
    assert f"关于 李华老师（声乐2401班）的测评 1/{len(li_q)}（第 1/2 位班主任）" in first
    assert "班主任经常深入学生中，关心了解我们的学习和生活" in first
    assert "1. 非常满意\n2. 满意\n3. 基本满意\n4. 不满意" in first
    second = chat.say("2")
    assert f"2/{len(li_q)}" in second and school.definition.question("talk").text in second
    answers = ["2", "B", "满意", "3", "c", "1", "a", "４", "Ｄ", "2", "是", "否"]
    for text in answers[1:]:
        reply = chat.say(text)
    assert school.definition.question("comment").text in reply and "请直接回复文字" in reply
    summary = chat.say("希望多开班会")
    assert summary.startswith("请核对关于 李华老师（声乐2401班）的回答：")
    assert "1. 班主任经常深入学生中，关心了解我们的学习和生活：满意" in summary
    assert f"{len(li_q)}. 对班主任的意见和建议（选答）：希望多开班会" in summary
    assert "「确认」" in summary and "修改 N" in summary

    done = chat.say("确认")
    assert done.startswith("已提交关于 李华老师（声乐2401班）的测评，谢谢！")
    wang_q = qids_for(school, first_year=True)
    assert f"关于 王明老师（钢琴2601班）的测评 1/{len(wang_q)}（第 2/2 位班主任）" in done
    assert "freshmen" in wang_q and "employment" not in wang_q

    (ballot,) = session.scalars(select(Ballot)).all()
    assert (ballot.student_id, ballot.teacher_id) == (school.students["小明"].id, school.li.id)
    assert ballot.submitted_on == dt.date(2026, 11, 20)
    # Sealed until the round closes.
    assert count(session, Response) == 0 and count(session, SealedEnvelope) == 1

    final = answer_all(chat, school, wang_q, choice="1")
    assert final.startswith("请核对关于 王明老师")
    last = chat.say("确认")
    assert "已提交关于 王明老师（钢琴2601班）的测评" in last and "你已完成本轮全部测评" in last
    assert count(session, Ballot) == 2 and count(session, SealedEnvelope) == 2
    assert chat.draft() is None

    # After 确认 the answers are final.
    again = chat.say("评价")
    assert again == "你已完成本轮全部测评（2 位班主任），答案已提交，不能再修改。谢谢参与！"
    assert count(session, SealedEnvelope) == 2

    assert close(session, settings, rnd) == 2
    assert count(session, Response) == 2 and count(session, SealedEnvelope) == 0
    response = session.scalar(select(Response).where(Response.teacher_id == school.li.id))
    assert response.round_id == rnd.id
    got = {a.question_id: (a.choice, a.text) for a in response.answers}
    expected_choices = [2, 2, 2, 3, 3, 1, 1, 4, 4, 2, 1, 2]
    for qid, choice in zip(li_q, expected_choices, strict=False):
        assert got[qid] == (choice, None), qid
    assert got["comment"] == (None, "希望多开班会")
    scored = [(a.choice, a.score) for a in response.answers if a.score is not None]
    assert len(scored) == 10  # dorm_visited and talked are unscored, comment is text
    assert response.score == pytest.approx(sum(s for _, s in scored) / 10)
    assert response.straight_lined is False and response.top_box is None
    wang_response = session.scalar(select(Response).where(Response.teacher_id == school.wang.id))
    assert wang_response.score == 100 and wang_response.straight_lined is True


def test_final_year_teacher_gets_the_employment_question(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    first = chat.say("测评")
    qids = qids_for(school, final_year=True)
    assert "employment" in qids and "freshmen" not in qids
    assert f"关于 赵强老师（管弦2301班）的测评 1/{len(qids)}" in first
    assert "位班主任）" not in first  # only one teacher
    replies = [chat.say("2") for _ in qids[:-1]]
    assert any(school.definition.question("employment").text in r for r in replies)


# --- moving around ---------------------------------------------------------------------------


def test_back_and_first_question(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    reply = chat.say("上一题")
    assert reply.startswith("已经是第一题了。") and "1/" in reply
    chat.say("1")
    chat.say("2")
    reply = chat.say("上一题")
    assert "2/" in reply and school.definition.question("talk").text in reply
    chat.say("4")
    assert chat.draft()["answers"] == {"care": 1, "talk": 4}
    assert chat.draft()["pos"] == 2


def test_skip_only_optional_questions(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    reply = chat.say("跳过")
    assert reply.startswith("第 1 题是必答题，不能跳过。") and "1/" in reply
    qids = qids_for(school, final_year=True)
    for _ in qids[:-1]:
        chat.say("1")
    summary = chat.say("跳过")  # the comment is optional
    assert summary.startswith("请核对")
    assert f"{len(qids)}. 对班主任的意见和建议（选答）：（未答）" in summary
    chat.say("确认")
    close(session, settings, rnd)
    response = session.scalar(select(Response))
    comment = next(a for a in response.answers if a.question_id == "comment")
    assert comment.text is None and comment.choice is None


def test_invalid_answers_are_explained_and_change_nothing(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    for bad in ("5", "0", "E", "很好", "修改 3", "确认"):
        reply = chat.say(bad)
        assert reply.startswith(INVALID), bad
        assert "1/" in reply  # the question again
    assert chat.draft()["answers"] == {} and chat.draft()["pos"] == 0
    # An image or other message without text while answering.
    assert chat.say("", msg_type="image").startswith(INVALID)
    # Two-option questions say 1-2.
    qids = qids_for(school, final_year=True)
    for _ in range(qids.index("dorm_visited")):
        chat.say("1")
    assert chat.say("3").startswith("请回复 1-2 的数字、字母或选项文字，例如 1")
    assert chat.say("是")
    assert chat.draft()["answers"]["dorm_visited"] == 1


def test_text_answers(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    qids = qids_for(school, final_year=True)
    for _ in qids[:-1]:
        chat.say("2")
    assert chat.say("", msg_type="image").startswith("请用文字回复这道题。")
    too_long = "好" * 501
    assert chat.say(too_long) == "回答最多 500 字（这条有 501 字），请精简后重新发送。"
    summary = chat.say("A")  # any text is an answer to a text question, even a letter
    assert summary.startswith("请核对") and "（选答）：A" in summary


def test_quit_keeps_the_draft_and_resumes_on_another_process(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    chat.say("1")
    chat.say("2")
    assert chat.say("退出") == "已暂停，已答的题目已保存。回复「测评」继续。"
    # Not in a dialogue: other texts are not the survey's (the router shows help).
    assert chat.say("你好") is None
    assert chat.say("3") is None
    # The draft is in the database, not in memory: a new session sees it.
    from core.db import SessionFactory

    with SessionFactory() as other:
        assert other.get(DialogueState, f"survey:{school.openids['小红']}") is None
        row = other.get(SurveyDraft, school.openids["小红"])
        assert row is not None and b"care" not in row.sealed  # sealed, not readable
        draft = load_draft(other, settings, school.openids["小红"])
        assert draft["answers"] == {"care": 1, "talk": 2}
        resumed = Chat(
            other, settings, school.openids["小红"], student_id=school.students["小红"].id
        )
        reply = resumed.say("测评")
    assert reply.startswith("继续上次的测评。") and "3/" in reply


def test_summary_edit_and_confirm(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    qids = qids_for(school, final_year=True)
    n = len(qids)
    answer_all(chat, school, qids, choice="1", comment="很好")
    reply = chat.say("随便说点")
    assert reply == f"请回复「确认」提交，或「修改 N」重新回答第 N 题（N 为 1-{n}），例如 修改 3"
    assert (
        chat.say(f"修改 {n + 1}") == f"没有第 {n + 1} 题，请回复 修改 1-{n} 之间的题号，例如 修改 3"
    )
    assert chat.say("修改 0").startswith("没有第 0 题")
    reply = chat.say("修改３")  # full-width digit, no space
    assert f"3/{n}" in reply and "修改后回到核对页" in reply
    summary = chat.say("不满意")
    assert summary.startswith("请核对") and "3. 班主任召开的班会有内容、有收获：不满意" in summary
    # 上一题 from the summary goes to the last question; answering it returns to the summary.
    reply = chat.say("上一题")
    assert f"{n}/{n}" in reply
    assert chat.say("还行").startswith("请核对")
    chat.say("确认")
    close(session, settings, rnd)
    response = session.scalar(select(Response))
    got = {a.question_id: (a.choice, a.text) for a in response.answers}
    assert got["class_meeting"] == (4, None) and got["comment"] == (None, "还行")
    assert response.straight_lined is False


def test_quit_from_summary_and_resume_shows_summary(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    answer_all(chat, school, qids_for(school, final_year=True))
    chat.say("退出")
    assert chat.say("确认") is None  # paused: not submitted
    assert count(session, Ballot) == 0
    reply = chat.say("测评")
    assert reply.startswith("继续上次的测评。\n\n请核对")
    chat.say("确认")
    assert count(session, Ballot) == 1


def test_double_submit_is_refused_by_the_ballot(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    answer_all(chat, school, qids_for(school, final_year=True))
    draft = chat.draft()
    chat.say("确认")
    # The same draft comes back (say, a second process that had not seen the first submit).
    save_draft(session, settings, school.openids["小红"], draft)
    session.commit()
    reply = chat.say("确认")
    assert reply.startswith("关于 赵强老师（管弦2301班）的测评已经提交过，不能重复提交。")
    assert count(session, Ballot) == 1 and count(session, SealedEnvelope) == 1
    assert close(session, settings, rnd) == 1
    assert count(session, Response) == 1 and count(session, SealedEnvelope) == 0
    assert count(session, Answer) == len(qids_for(school, final_year=True))
    assert chat.draft() is None


# --- quality signals -------------------------------------------------------------------------


def test_too_fast_and_straight_lined(session, settings, school, rnd):
    fast = chat_for(session, settings, school, "小红", step_seconds=1)
    fast.say("测评")
    answer_all(fast, school, qids_for(school, final_year=True), choice="2")
    fast.say("确认")
    close(session, settings, rnd)
    response = session.scalar(select(Response))
    assert response.too_fast is True and response.straight_lined is True
    assert response.score == 80


def test_careful_respondent_is_not_too_fast(session, settings, school, rnd):
    slow = chat_for(session, settings, school, "小红", step_seconds=20)
    slow.say("测评")
    answer_all(slow, school, qids_for(school, final_year=True), choice="2")
    slow.say("确认")
    close(session, settings, rnd)
    assert session.scalar(select(Response)).too_fast is False


# --- nothing to answer -----------------------------------------------------------------------


def test_no_round(session, settings, school):
    chat = chat_for(session, settings, school, "小明")
    assert chat.say("测评") == "目前没有进行中的满意度测评，开放时会通知你。"
    assert chat.say("1") is None


def test_round_closed_by_command(session, settings, school, rnd):
    from models.base import utcnow

    rnd.closed_at = utcnow()
    session.commit()
    chat = chat_for(session, settings, school, "小明")
    assert chat.say("测评") == "目前没有进行中的满意度测评，开放时会通知你。"


def test_round_past_closing_day_counts_as_closed(session, settings, school):
    start_round(session, school.term, school.definition, closes_on=dt.date(2026, 11, 19))
    chat = chat_for(session, settings, school, "小明")
    assert chat.say("测评") == "本轮测评已于 11月19日截止，不能再作答。"


def test_round_closing_while_a_draft_is_open(session, settings, school):
    rnd = start_round(session, school.term, school.definition, closes_on=dt.date(2026, 11, 20))
    # 2026-11-20 23:50 in Shanghai is still the closing day.
    chat = chat_for(
        session,
        settings,
        school,
        "小红",
        start=dt.datetime(2026, 11, 20, 15, 40, tzinfo=dt.UTC),
        step_seconds=300,
    )
    chat.say("测评")
    chat.say("1")  # 15:50 UTC = 23:50 Shanghai
    reply = chat.say("1")  # 15:55 UTC = 23:55
    assert "3/" in reply
    reply = chat.say("1")  # 16:00 UTC = 00:00 on the 21st in Shanghai: closed
    assert reply == "本轮测评已结束，未提交的回答没有计入。"
    assert chat.draft() is None and count(session, Ballot) == 0
    assert rnd.id


def test_student_without_head_teacher(session, settings, school, rnd):
    chat = chat_for(session, settings, school, "小丽")
    assert chat.say("测评") == "你所在的班级本学期没有需要测评的兼职班主任，无需参加。"


def test_not_for_teachers_or_unbound(session, settings, school, rnd):
    teacher = Chat(session, settings, "oid-teacher", teacher_id=school.wang.id)
    assert teacher.say("测评") is None
    stranger = Chat(session, settings, "oid-stranger")
    assert stranger.say("测评") is None


def test_draft_in_the_database_even_with_redis(
    session, db_url, redis_url, redis_prefix, school, rnd
):
    """Redis is no record of a draft (issue 13.4): emptying it loses nothing."""
    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    chat = chat_for(session, settings, school, "小红")
    chat.say("测评")
    chat.say("3")
    import redis

    client = redis.Redis.from_url(redis_url)
    key = f"{redis_prefix}:dialogue:survey:{school.openids['小红']}"
    assert not client.exists(key)
    for name in client.scan_iter(f"{redis_prefix}:*"):
        client.delete(name)  # Redis restarted, empty
    client.close()
    assert session.get(SurveyDraft, school.openids["小红"]) is not None
    assert chat.draft()["answers"] == {"care": 3}
    answer_all(chat, school, qids_for(school, final_year=True)[1:])
    chat.say("确认")
    assert session.get(SurveyDraft, school.openids["小红"]) is None
    assert count(session, SealedEnvelope) == 1


# --- through the webhook ---------------------------------------------------------------------


def test_menu_click_voice_and_help_through_wechat(wechat, wechat_settings):
    """The menu's SURVEY click starts the survey, a voice answer counts like text, and 帮助
    in the middle of a survey does not lose the draft."""
    import core.db

    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
        start_round(s, school.term, school.definition)
        student = school.students["小刚"]  # not bound yet
    wechat.openid = "o-menu-user"
    wechat.bind(student)
    reply = wechat.event("CLICK", "SURVEY")
    assert "关于 王明老师（钢琴2601班）的测评 1/" in reply
    assert "2/" in wechat.voice("满意。")
    assert wechat("帮助").startswith("学生可以：")  # the router answers help
    reply = wechat("2")
    assert "3/" in reply  # the draft survived 帮助
    with core.db.SessionFactory() as s:
        draft = load_draft(s, wechat_settings, "o-menu-user")
    assert draft["answers"] == {"care": 2, "talk": 2}
