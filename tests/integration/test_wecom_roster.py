"""The roster's optional ``wecom_userid`` (企业微信账号) column (issue 25.5): a teacher whose WeCom
UserId is not their 工号 is found by it on ``/wecom`` and reached at it; bad, repeated or
ambiguous accounts are refused row by row, nothing imported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.wechat.wecom import NOT_STAFF
from core.roster.importer import RosterError, import_roster
from models import Teacher, TeacherRole, WorkLogEntry
from tests.roster_files import school_tables, write_csv

TODAY = dt.date(2026, 11, 1)


def teachers_with_accounts(tmp_path: Path, accounts: dict[str, str | None], name="r") -> Path:
    """The sample school with a 企业微信账号 column: ``accounts`` maps 工号 to its cell."""
    tables = school_tables()
    rows = tables["teachers"]
    rows[0].append("wecom_userid")
    staff = rows[0].index("staff_no")
    for row in rows[1:]:
        row.append(accounts.get(row[staff]))
    return write_csv(tables, tmp_path / name)


def errors_of(session, source) -> list[str]:
    with pytest.raises(RosterError) as info:
        import_roster(session, source, today=TODAY)
    session.rollback()
    return info.value.errors


def staff_numbers(session) -> list[str]:
    return list(session.scalars(select(Teacher.staff_no).order_by(Teacher.staff_no)))


def test_accounts_are_imported_changed_swapped_and_cleared(session, tmp_path):
    import_roster(session, write_csv(school_tables(), tmp_path / "plain"), today=TODAY)
    session.commit()
    first, second = staff_numbers(session)[:2]
    import_roster(
        session,
        teachers_with_accounts(tmp_path, {first: "zhang.san", second: "li@si"}, "a"),
        today=TODAY,
    )
    session.commit()
    accounts = dict(session.execute(select(Teacher.staff_no, Teacher.wecom_userid)).all())
    assert (accounts[first], accounts[second]) == ("zhang.san", "li@si")
    # Swapped in one import: the unique constraint never sees one account twice.
    import_roster(
        session,
        teachers_with_accounts(tmp_path, {first: "li@si", second: "zhang.san"}, "b"),
        today=TODAY,
    )
    session.commit()
    session.expire_all()
    accounts = dict(session.execute(select(Teacher.staff_no, Teacher.wecom_userid)).all())
    assert (accounts[first], accounts[second]) == ("li@si", "zhang.san")
    # A blank cell clears it; a roster without the column leaves it alone.
    import_roster(session, teachers_with_accounts(tmp_path, {first: "li@si"}, "c"), today=TODAY)
    import_roster(session, write_csv(school_tables(), tmp_path / "plain2"), today=TODAY)
    session.commit()
    session.expire_all()
    accounts = dict(session.execute(select(Teacher.staff_no, Teacher.wecom_userid)).all())
    assert (accounts[first], accounts[second]) == ("li@si", None)


def test_bad_accounts_are_refused_row_by_row(session, tmp_path):
    import_roster(session, write_csv(school_tables(), tmp_path / "plain"), today=TODAY)
    session.commit()
    a, b, c, d = staff_numbers(session)[:4]
    before = dict(session.execute(select(Teacher.staff_no, Teacher.wecom_userid)).all())
    source = teachers_with_accounts(
        tmp_path,
        {a: "张 三", b: "same", c: "SAME", d: a},  # not an account; shared (any case); a 工号
        "bad",
    )
    errors = errors_of(session, source)
    assert any("企业微信账号 张 三 无效" in e for e in errors), errors
    assert any("企业微信账号 SAME 重复" in e or "企业微信账号 same 重复" in e for e in errors)
    assert any(f"是另一位教师（工号 {a}）的工号" in e for e in errors), errors
    assert all(e.startswith("teachers:") for e in errors)
    assert dict(session.execute(select(Teacher.staff_no, Teacher.wecom_userid)).all()) == before


def test_an_account_held_by_a_teacher_not_in_the_roster_is_refused(session, tmp_path):
    import_roster(session, write_csv(school_tables(), tmp_path / "plain"), today=TODAY)
    session.add(Teacher(staff_no="X9", name="外系教师", binding_code="1", wecom_userid="taken"))
    session.commit()
    first = staff_numbers(session)[0]
    errors = errors_of(session, teachers_with_accounts(tmp_path, {first: "taken"}, "t"))
    assert any("企业微信账号 taken 重复：工号 X9 的教师也用它" in e for e in errors), errors


def test_a_teacher_with_an_account_is_found_and_reached_by_it(
    wecom, session, fake_wecom_api, tmp_path
):
    from tests.factories import make_appointment, make_class, make_student, make_teacher

    today = dt.datetime.now(dt.UTC).date()
    counsellor = make_teacher(
        session, staff_no="C8", role=TeacherRole.COUNSELLOR, wecom_userid="qian"
    )
    klass = make_class(session, counsellor_id=counsellor.id)
    teacher = make_teacher(session, staff_no="T8", name="韩老师", wecom_userid="han.ls")
    make_appointment(
        session, teacher=teacher, school_class=klass, start_date=today - dt.timedelta(days=9)
    )
    make_student(session, name="张三", classes=[klass])
    session.commit()
    fake_wecom_api.users.update({"qian"})
    assert wecom("谈心 张三 你好", userid="han.ls").startswith("已记录：")
    # The 工号 no longer names them once an account is set.
    assert wecom("谈心 张三 你好", userid="T8") == NOT_STAFF
    session.rollback()
    assert session.scalar(select(WorkLogEntry.teacher_id)) == teacher.id
    wecom("反馈 张三 最近情绪低落", userid="han.ls")
    assert len(fake_wecom_api.texts_to("qian")) == 1
