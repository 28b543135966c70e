"""绑定 / 解绑 through the webhook: who may bind, wrong codes, the lock-out, unbinding, and the
role-aware help and dialogue state that depend on it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.chat import help as texts
from bot.chat.binding import MAX_FAILURES
from bot.chat.state import DbDialogueStore, store_for
from models import BindingFailure, DialogueState, TeacherRole, WeChatBinding
from models.base import utcnow
from tests.conftest import make_settings
from tests.factories import make_student, make_teacher


def bindings(session) -> list[tuple[str, int | None, int | None]]:
    session.rollback()
    return [
        (b.openid, b.student_id, b.teacher_id)
        for b in session.scalars(select(WeChatBinding).order_by(WeChatBinding.openid))
    ]


def failures(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(BindingFailure))


def test_student_binds_with_the_right_code(wechat, session):
    student = make_student(session, student_no="2023010101", name="张三", binding_code="123456")
    session.commit()
    reply = wechat("绑定 2023010101 123456", openid="o-zs")
    assert reply.startswith("绑定成功！你好，张三（学生）")
    assert texts.STUDENT_HELP in reply
    assert bindings(session) == [("o-zs", student.id, None)]
    # Now the help is the student's.
    assert wechat("帮助", openid="o-zs") == texts.STUDENT_HELP
    assert wechat.event("CLICK", "HELP", openid="o-zs") == texts.STUDENT_HELP


def test_full_width_spaces_and_lower_case_code(wechat, session):
    teacher = make_teacher(session, staff_no="T1001", name="李老师", binding_code="AB12CD")
    session.commit()
    reply = wechat("绑定　T1001　ab12cd", openid="o-li")
    assert "绑定成功" in reply and "兼职班主任" in reply
    assert texts.HEAD_TEACHER_HELP in reply
    assert bindings(session) == [("o-li", None, teacher.id)]


def test_counsellor_gets_counsellor_help(wechat, session):
    make_teacher(session, staff_no="C1", role=TeacherRole.COUNSELLOR, binding_code="999000")
    session.commit()
    assert "辅导员" in wechat("绑定 C1 999000", openid="o-c")
    assert wechat("帮助", openid="o-c") == texts.COUNSELLOR_HELP
    # A message that is none of the counsellor's commands (收到, 跟进, 反馈) gets the help.
    assert wechat("随便说点什么", openid="o-c").endswith(texts.COUNSELLOR_HELP)


def test_wrong_code_is_refused_and_counted(wechat, session):
    make_student(session, student_no="S1", binding_code="111111")
    session.commit()
    reply = wechat("绑定 S1 111112", openid="o-w")
    assert "绑定码不正确" in reply and "绑定 2023010101 123456" in reply
    assert f"还可以再试 {MAX_FAILURES - 1} 次" in reply
    assert bindings(session) == []
    assert failures(session) == 1


def test_unknown_number_gets_the_same_answer_as_a_wrong_code(wechat, session):
    make_student(session, student_no="S1", binding_code="111111")
    session.commit()
    unknown = wechat("绑定 NOBODY 111111", openid="o-u1")
    wrong = wechat("绑定 S1 000000", openid="o-u2")
    # Nothing tells a guesser which numbers exist.
    assert unknown == wrong
    assert failures(session) == 2


def test_bad_syntax_shows_an_example_and_is_not_counted(wechat, session):
    reply = wechat("绑定 2023010101", openid="o-s")
    assert "格式" in reply and "绑定 2023010101 123456" in reply
    assert failures(session) == 0


def test_unbound_sender_is_told_how_to_bind(wechat):
    reply = wechat("测评", openid="o-new")
    assert "还没有绑定" in reply and texts.BIND_HOWTO in reply
    assert "欢迎关注" in wechat.event("subscribe", openid="o-new")


def test_person_already_bound_elsewhere_is_not_taken_over(wechat, session):
    student = make_student(session, student_no="S2", binding_code="222222")
    session.commit()
    wechat.bind(student, openid="o-first")
    reply = wechat("绑定 S2 222222", openid="o-second")
    assert "已绑定其他微信账号" in reply
    assert bindings(session) == [("o-first", student.id, None)]
    assert failures(session) == 0


def test_bound_account_must_unbind_before_binding_someone_else(wechat, session):
    a = make_student(session, student_no="S3", name="甲", binding_code="333333")
    b = make_student(session, student_no="S4", name="乙", binding_code="444444")
    session.commit()
    wechat.bind(a, openid="o-ab")
    reply = wechat("绑定 S4 444444", openid="o-ab")
    assert "已绑定为 甲" in reply and "解绑" in reply
    assert bindings(session) == [("o-ab", a.id, None)]

    assert "已解除绑定" in wechat("解绑", openid="o-ab")
    assert bindings(session) == []
    wechat.bind(b, openid="o-ab")
    assert bindings(session) == [("o-ab", b.id, None)]
    # The first student can now bind another account.
    wechat.bind(a, openid="o-a2")


def test_unbind_when_not_bound(wechat):
    reply = wechat("解绑", openid="o-none")
    assert "还没有绑定" in reply and texts.BIND_HOWTO in reply


def test_unbind_forgets_the_dialogue_state_of_that_account(wechat, session):
    student = make_student(session, student_no="S5", binding_code="555555")
    session.commit()
    wechat.bind(student, openid="o-draft")
    store = DbDialogueStore(session)
    store.set("survey:o-draft", {"answers": [1, 2]})
    store.set("survey:o-other", {"answers": [3]})
    session.commit()
    wechat("解绑", openid="o-draft")
    session.rollback()
    assert [k for (k,) in session.execute(select(DialogueState.key))] == ["survey:o-other"]


def test_repeated_wrong_codes_from_one_account_lock_it_out(wechat, session):
    make_student(session, student_no="S6", binding_code="666666")
    session.commit()
    for i in range(MAX_FAILURES):
        assert "绑定码不正确" in wechat(f"绑定 S6 00000{i}", openid="o-guesser")
    # Even the right code is refused now, and the refusal is not counted.
    reply = wechat("绑定 S6 666666", openid="o-guesser")
    assert "错误次数过多" in reply
    assert bindings(session) == []
    assert failures(session) == MAX_FAILURES


def test_repeated_wrong_codes_for_one_person_lock_that_person(wechat, session):
    student = make_student(session, student_no="S7", binding_code="777777")
    other = make_student(session, student_no="S8", binding_code="888888")
    session.commit()
    # Guesses spread over many accounts still count against the person.
    for i in range(MAX_FAILURES):
        wechat(f"绑定 S7 00000{i}", openid=f"o-bot{i}")
    assert "错误次数过多" in wechat("绑定 S7 777777", openid="o-real")
    # Other people are not affected.
    wechat.bind(other, openid="o-real")
    assert student.id not in {s for _o, s, _t in bindings(session)}


def test_old_failures_do_not_count(wechat, session):
    student = make_student(session, student_no="S9", binding_code="999999")
    long_ago = utcnow() - dt.timedelta(minutes=31)
    for _ in range(MAX_FAILURES):
        session.add(BindingFailure(openid="o-late", person_no="S9", at=long_ago))
    session.commit()
    wechat.bind(student, openid="o-late")


def test_a_successful_binding_resets_the_accounts_count(wechat, session):
    student = make_student(session, student_no="S10", binding_code="101010")
    session.commit()
    for i in range(MAX_FAILURES - 1):
        wechat(f"绑定 S10 00000{i}", openid="o-reset")
    wechat.bind(student, openid="o-reset")
    session.rollback()
    assert (
        session.scalar(
            select(func.count())
            .select_from(BindingFailure)
            .where(BindingFailure.openid == "o-reset")
        )
        == 0
    )


@pytest.fixture
def redis_settings(db_url, redis_url, redis_prefix):
    return make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)


def test_dialogue_state_is_in_the_database_even_with_redis(redis_settings, session, redis_url):
    """Issue 13: what a user typed survives a Redis restart (the database is the record)."""
    import redis

    store = store_for(redis_settings, session)
    store.set("worklog:o-1", {"pending": "谈心谈话 张三"}, ttl_seconds=600)
    store.set("unbind:o-1", {"confirm": True})
    store.set("worklog:o-2", {"q": 1})
    session.commit()
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{redis_settings.redis_prefix}*"))
    if keys:
        client.delete(*keys)  # what a restart of an empty Redis leaves
    client.close()
    again = store_for(redis_settings, session)
    assert again.get("worklog:o-1") == {"pending": "谈心谈话 张三"}
    assert session.get(DialogueState, "unbind:o-1") is not None
    again.forget_openid("o-1")
    assert again.get("worklog:o-1") is None and again.get("unbind:o-1") is None
    assert again.get("worklog:o-2") == {"q": 1}


def test_db_dialogue_store_expiry(session):
    store = DbDialogueStore(session)
    store.set("a:o-1", {"n": 1})
    store.set("b:o-1", {"n": 2}, ttl_seconds=1)
    session.commit()
    assert store.get("a:o-1") == {"n": 1}
    row = session.get(DialogueState, "b:o-1")
    row.value = {**row.value, "expires_at": (utcnow() - dt.timedelta(seconds=1)).isoformat()}
    session.commit()
    assert store.get("b:o-1") is None
    store.set("a:o-1", {"n": 5})
    assert store.get("a:o-1") == {"n": 5}
    store.delete("a:o-1")
    assert store.get("a:o-1") is None
