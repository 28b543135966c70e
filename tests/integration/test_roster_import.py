"""Importing rosters: all-or-nothing, every bad row named, re-imports idempotent, bindings kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.roster.importer import RosterError, import_roster
from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    ClassKind,
    Department,
    SchoolClass,
    Student,
    Teacher,
    TeacherRole,
    WeChatBinding,
    class_members,
)
from tests.roster_files import get_cell, school_tables, set_cell, write_csv, write_xlsx

TODAY = dt.date(2026, 11, 1)
ROSTER_TABLES = (Department, SchoolClass, Student, Teacher, Appointment)


def snapshot(session) -> dict:
    """Every roster row, as plain tuples, to compare before and after."""
    return {
        "departments": session.execute(select(Department.id, Department.name)).all(),
        "classes": session.execute(
            select(
                SchoolClass.id,
                SchoolClass.code,
                SchoolClass.name,
                SchoolClass.department_id,
                SchoolClass.kind,
                SchoolClass.entry_year,
                SchoolClass.years,
                SchoolClass.counsellor_id,
            ).order_by(SchoolClass.id)
        ).all(),
        "students": session.execute(
            select(Student.id, Student.student_no, Student.name, Student.binding_code).order_by(
                Student.id
            )
        ).all(),
        "teachers": session.execute(
            select(
                Teacher.id,
                Teacher.staff_no,
                Teacher.name,
                Teacher.department_id,
                Teacher.role,
                Teacher.binding_code,
            ).order_by(Teacher.id)
        ).all(),
        "members": sorted(session.execute(select(class_members)).all()),
        "appointments": session.execute(
            select(
                Appointment.id,
                Appointment.teacher_id,
                Appointment.class_id,
                Appointment.start_date,
                Appointment.end_date,
                Appointment.trained,
                Appointment.status,
            ).order_by(Appointment.id)
        ).all(),
    }


def assert_nothing_written(session) -> None:
    session.rollback()
    for model in ROSTER_TABLES:
        assert session.scalar(select(func.count()).select_from(model)) == 0, model
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


def import_errors(session, source) -> list[str]:
    with pytest.raises(RosterError) as info:
        import_roster(session, source)
    return info.value.errors


def test_good_workbook_imports_everything(session, tmp_path):
    path = write_xlsx(school_tables(chinese=True), tmp_path / "roster.xlsx")
    summary = import_roster(session, path)
    session.commit()

    assert {k: vars(c) for k, c in summary.counts.items()} == {
        "departments": {"created": 2, "updated": 0, "unchanged": 0},
        "teachers": {"created": 10, "updated": 0, "unchanged": 0},
        "classes": {"created": 6, "updated": 0, "unchanged": 0},
        "students": {"created": 150, "updated": 0, "unchanged": 0},
        "appointments": {"created": 8, "updated": 0, "unchanged": 0},
    }
    ensemble = session.scalar(select(SchoolClass).where(SchoolClass.code == "GXT01"))
    assert ensemble.kind == ClassKind.ENSEMBLE
    assert ensemble.department.name == "管弦系"
    assert ensemble.counsellor.staff_no == "T1001"
    assert ensemble.counsellor.role == TeacherRole.COUNSELLOR
    assert len(ensemble.students) == 16
    assert all(len(s.classes) == 2 for s in ensemble.students)
    major = session.scalar(select(SchoolClass).where(SchoolClass.code == "SY2301"))
    assert major.kind == ClassKind.MAJOR and major.entry_year == 2023 and major.years == 4

    appointments = session.scalars(select(Appointment)).all()
    assert {a.start_date for a in appointments} == {dt.date(2026, 9, 1)}
    assert {a.end_date for a in appointments} == {dt.date(2027, 9, 1)}  # 第十条: one year
    assert {a.status for a in appointments} == {AppointmentStatus.APPOINTED}
    untrained = [a.teacher.staff_no for a in appointments if not a.trained]
    assert untrained == ["T1105"]

    codes = session.scalars(select(Student.binding_code)).all()
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) > 140  # random, not a constant
    audit = session.scalars(select(AuditLog)).one()
    assert (audit.action, audit.target, audit.detail["changes"]) == (
        "roster.import",
        "roster.xlsx",
        176,
    )


def test_csv_folder_and_workbook_give_the_same_roster(session, tmp_path):
    folder = write_csv(school_tables(), tmp_path / "csv")
    summary = import_roster(session, folder)
    session.commit()
    assert summary.counts["students"].created == 150
    before = snapshot(session)
    again = import_roster(session, write_xlsx(school_tables(chinese=True), tmp_path / "r.xlsx"))
    session.commit()
    assert again.changes == 0
    assert snapshot(session) == before


def test_the_committed_examples_import_alike(session):
    examples = Path(__file__).resolve().parents[2] / "examples" / "roster"
    summary = import_roster(session, examples / "csv")
    session.commit()
    assert summary.counts["students"].created == 150
    assert import_roster(session, examples / "roster.xlsx").changes == 0


def test_gb18030_csv_with_chinese_names_imports(session, tmp_path):
    folder = write_csv(school_tables(chinese=True), tmp_path / "csv", encoding="gb18030")
    assert (folder / "学生.csv").read_bytes().startswith("学号".encode("gb18030"))
    summary = import_roster(session, folder)
    session.commit()
    assert summary.counts["students"].created == 150
    names = set(session.scalars(select(Department.name)))
    assert names == {"管弦系", "声乐歌剧系"}


def test_reimport_changes_nothing(session, tmp_path):
    path = write_xlsx(school_tables(), tmp_path / "roster.xlsx")
    import_roster(session, path)
    session.commit()
    before = snapshot(session)
    summary = import_roster(session, path)
    session.commit()
    assert summary.changes == 0
    assert summary.lines()[-1] == "没有变化"
    assert summary.counts["students"].unchanged == 150
    assert snapshot(session) == before


def test_updated_roster_keeps_bindings_and_codes(session, tmp_path):
    tables = school_tables()
    import_roster(session, write_xlsx(tables, tmp_path / "v1.xlsx"))
    session.commit()
    student_no = str(get_cell(tables, "students", 2, "student_no"))
    student = session.scalar(select(Student).where(Student.student_no == student_no))
    teacher = session.scalar(select(Teacher).where(Teacher.staff_no == "T1101"))
    session.add(WeChatBinding(openid="o-student", student_id=student.id))
    session.add(WeChatBinding(openid="o-teacher", teacher_id=teacher.id))
    session.commit()
    student_id, student_code, teacher_code = student.id, student.binding_code, teacher.binding_code

    set_cell(tables, "students", 2, "name", "改名后")
    set_cell(tables, "students", 2, "class_code", "GX2601;GXT01")
    teacher_row = next(i for i, r in enumerate(tables["teachers"], start=1) if r[0] == "T1101")
    set_cell(tables, "teachers", teacher_row, "name", "新名字")
    set_cell(tables, "appointments", 6, "trained", "是")  # T1105 took the training
    set_cell(tables, "classes", 2, "name", "管弦系2026级管弦乐一班")
    summary = import_roster(session, write_xlsx(tables, tmp_path / "v2.xlsx"))
    session.commit()

    assert (summary.counts["students"].updated, summary.counts["students"].created) == (1, 0)
    assert summary.counts["teachers"].updated == 1
    assert summary.counts["appointments"].updated == 1
    assert summary.counts["classes"].updated == 1
    assert summary.changes == 4
    student = session.get(Student, student_id)
    assert student.name == "改名后"
    assert student.binding_code == student_code
    assert sorted(c.code for c in student.classes) == ["GX2601", "GXT01"]
    binding = session.scalar(select(WeChatBinding).where(WeChatBinding.openid == "o-student"))
    assert binding.student_id == student_id
    teacher = session.scalar(select(Teacher).where(Teacher.staff_no == "T1101"))
    assert (teacher.name, teacher.binding_code) == ("新名字", teacher_code)
    assert (
        session.scalar(select(WeChatBinding.teacher_id).where(WeChatBinding.openid == "o-teacher"))
        == teacher.id
    )
    t1105 = session.scalar(select(Appointment).join(Teacher).where(Teacher.staff_no == "T1105"))
    assert t1105.trained is True


def test_dismissed_appointment_is_not_revived(session, tmp_path):
    path = write_xlsx(school_tables(), tmp_path / "roster.xlsx")
    import_roster(session, path)
    session.commit()
    appointment = session.scalars(select(Appointment)).first()
    appointment.status = AppointmentStatus.DISMISSED
    appointment.ended_on = dt.date(2026, 11, 1)
    session.commit()
    assert import_roster(session, path).changes == 0
    session.commit()
    session.refresh(appointment)
    assert appointment.status == AppointmentStatus.DISMISSED


def test_sheets_may_come_alone_and_refer_to_stored_rows(session, tmp_path):
    tables = school_tables()
    import_roster(session, write_xlsx(tables, tmp_path / "all.xlsx"))
    session.commit()
    students_only = {"students": tables["students"] + [["2026999999", "新同学", "SY2601"]]}
    summary = import_roster(session, write_xlsx(students_only, tmp_path / "students.xlsx"))
    session.commit()
    assert list(summary.counts) == ["students"]
    assert (summary.counts["students"].created, summary.counts["students"].unchanged) == (1, 150)


# Each damage to the good roster, and the exact line it must produce. Row numbers are the
# spreadsheet's: header = 1, so data row i is spreadsheet row i + 1.
def _drop_column(tables, sheet, header):
    i = tables[sheet][0].index(header)
    for row in tables[sheet]:
        del row[i]


BAD_ROWS = {
    "missing column": (
        lambda t: _drop_column(t, "students", "class_code"),
        ["students:1: 缺少列 班级代码"],
    ),
    "unknown class": (
        lambda t: set_cell(t, "students", 14, "class_code", "X"),
        ["students:14: 班级代码 X 不存在"],
    ),
    "unknown class among two": (
        lambda t: set_cell(t, "students", 9, "class_code", "GX2601；GXT99"),
        ["students:9: 班级代码 GXT99 不存在"],
    ),
    "duplicate student number": (
        lambda t: set_cell(
            t, "students", 22, "student_no", get_cell(t, "students", 5, "student_no")
        ),
        ["students:22: 学号 2026010104 重复（第 5 行已有）"],
    ),
    "malformed date": (
        lambda t: set_cell(t, "appointments", 3, "start_date", "2026-13-01"),
        ["appointments:3: 聘任开始 2026-13-01 不是有效日期，应为 YYYY-MM-DD，例如 2026-09-01"],
    ),
    "end before start": (
        lambda t: set_cell(t, "appointments", 4, "end_date", "2026-08-31"),
        ["appointments:4: 聘任结束 2026-08-31 应晚于聘任开始 2026-09-01"],
    ),
    "unknown staff number": (
        lambda t: set_cell(t, "appointments", 2, "staff_no", "T9999"),
        ["appointments:2: 工号 T9999 不存在"],
    ),
    "counsellor appointed head teacher": (
        lambda t: set_cell(t, "appointments", 2, "staff_no", "T1001"),
        ["appointments:2: 工号 T1001 是辅导员，不能聘为兼职班主任"],
    ),
    "bad trained": (
        lambda t: set_cell(t, "appointments", 2, "trained", "也许"),
        ["appointments:2: 岗前培训 也许 无效，应为 是 或 否"],
    ),
    "bad kind": (
        lambda t: set_cell(t, "classes", 3, "kind", "合唱团"),
        ["classes:3: 类型 合唱团 无效，应为 行政班级 / 小乐团 / 专业"],
    ),
    "entry year out of range": (
        lambda t: set_cell(t, "classes", 4, "entry_year", 2062),
        ["classes:4: 入学年份 2062 超出范围（2011–2027）"],
    ),
    "unknown department": (
        lambda t: set_cell(t, "classes", 2, "department", "音乐系"),
        ["classes:2: 党总支 音乐系 不存在"],
    ),
    "counsellor who is a head teacher": (
        lambda t: set_cell(t, "classes", 2, "counsellor", "T1101"),
        ["classes:2: 工号 T1101 的角色不是辅导员"],
    ),
    "duplicate class code": (
        lambda t: t["classes"].append(list(t["classes"][1])),
        ["classes:8: 班级代码 GX2601 重复（第 2 行已有）"],
    ),
    "duplicate staff number": (
        lambda t: t["teachers"].append(["T1101", "另一人", "管弦系", "班主任"]),
        ["teachers:12: 工号 T1101 重复（第 4 行已有）"],
    ),
    "bad role": (
        lambda t: set_cell(t, "teachers", 4, "role", "校长"),
        ["teachers:4: 角色 校长 无效，应为 班主任 或 辅导员"],
    ),
    "empty name": (
        lambda t: set_cell(t, "students", 7, "name", "  "),
        ["students:7: 姓名为空"],
    ),
    "number in scientific notation": (
        lambda t: set_cell(t, "students", 8, "student_no", "2.02601E+09"),
        ["students:8: 学号 2.02601E+09 是科学计数法，数字已丢失；请把该列设为“文本”格式后重新填写"],
    ),
    "class codes that are only separators": (
        lambda t: set_cell(t, "students", 10, "class_code", ";；"),
        ["students:10: 班级代码 ;； 里没有班级"],
    ),
    "duplicate department": (
        lambda t: t["departments"].append(["管弦系"]),
        ["departments:4: 党总支 管弦系 重复（第 2 行已有）"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_ROWS), ids=list(BAD_ROWS))
def test_each_bad_row_is_named_and_nothing_is_written(session, tmp_path, case):
    damage, expected = BAD_ROWS[case]
    tables = school_tables()
    damage(tables)
    with pytest.raises(RosterError) as info:
        # Entry years are checked against today's year: pin it so the expected range is fixed.
        import_roster(session, write_xlsx(tables, tmp_path / "roster.xlsx"), today=TODAY)
    assert info.value.errors == expected
    assert_nothing_written(session)


def test_every_bad_row_is_reported_at_once(session, tmp_path):
    tables = school_tables()
    set_cell(tables, "students", 14, "class_code", "X")
    set_cell(tables, "students", 30, "class_code", "Y")
    set_cell(tables, "appointments", 3, "start_date", "9月1日")
    set_cell(tables, "classes", 3, "kind", "合唱团")
    errors = import_errors(session, write_xlsx(tables, tmp_path / "roster.xlsx"))
    assert errors == [
        "classes:3: 类型 合唱团 无效，应为 行政班级 / 小乐团 / 专业",
        "students:14: 班级代码 X 不存在",
        "students:30: 班级代码 Y 不存在",
        "appointments:3: 聘任开始 9月1日 不是有效日期，应为 YYYY-MM-DD，例如 2026-09-01",
    ]
    assert_nothing_written(session)


def test_bad_row_in_an_update_changes_nothing_stored(session, tmp_path):
    tables = school_tables()
    import_roster(session, write_xlsx(tables, tmp_path / "v1.xlsx"))
    session.commit()
    before = snapshot(session)
    set_cell(tables, "students", 2, "name", "改名后")  # a good change ...
    set_cell(tables, "students", 3, "class_code", "NOPE")  # ... and a bad row
    errors = import_errors(session, write_xlsx(tables, tmp_path / "v2.xlsx"))
    assert errors == ["students:3: 班级代码 NOPE 不存在"]
    session.rollback()
    assert snapshot(session) == before


def test_gb18030_csv_error_names_the_chinese_sheet(session, tmp_path):
    tables = school_tables(chinese=True)
    set_cell(tables, "班级", 3, "党总支", "音乐系")
    folder = write_csv(tables, tmp_path / "csv", encoding="gb18030")
    assert import_errors(session, folder) == ["班级:3: 党总支 音乐系 不存在"]
    assert_nothing_written(session)


def test_utf8_bom_csv_error(session, tmp_path):
    tables = school_tables()
    set_cell(tables, "students", 14, "class_code", "X")
    folder = write_csv(tables, tmp_path / "csv", encoding="utf-8-sig")
    assert import_errors(session, folder) == ["students:14: 班级代码 X 不存在"]
    assert_nothing_written(session)


def test_empty_file(session, tmp_path):
    folder = write_csv(school_tables(), tmp_path / "csv")
    (folder / "students.csv").write_bytes(b"")
    assert import_errors(session, folder) == ["students:1: 表格是空的，第 1 行应为表头"]
    assert_nothing_written(session)


def test_workbook_without_roster_sheets(session, tmp_path):
    path = write_xlsx({"Sheet1": [["hello"]]}, tmp_path / "roster.xlsx")
    errors = import_errors(session, path)
    assert len(errors) == 1
    assert errors[0].startswith("roster.xlsx: 没有可导入的表")
    assert_nothing_written(session)


def test_unknown_sheets_are_ignored_with_a_warning(session, tmp_path):
    tables = school_tables()
    tables["说明"] = [["本表由学生处填写"]]
    summary = import_roster(session, write_xlsx(tables, tmp_path / "roster.xlsx"))
    assert summary.counts["students"].created == 150
    assert any(w.startswith("说明: 不是花名册的表") for w in summary.warnings)
