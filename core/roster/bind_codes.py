"""Binding codes for counsellors to hand out (``banzhuren bind-codes``): each person's number,
name, role, classes and code, as rows ready for a CSV or a workbook."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import astuple, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.reports.cells import append_row, safe_row
from models import Appointment, AppointmentStatus, SchoolClass, Student, Teacher, TeacherRole
from models.org import class_members

HEADER = ("学号/工号", "姓名", "角色", "班级", "绑定码")

# Appointments that make a teacher a class's head teacher now or soon (not ended or refused).
CURRENT_STATUSES = (
    AppointmentStatus.APPLIED,
    AppointmentStatus.BRANCH_REVIEWED,
    AppointmentStatus.AFFAIRS_APPROVED,
    AppointmentStatus.HR_FILED,
    AppointmentStatus.APPOINTED,
)


class UnknownClassError(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"班级代码 {code} 不存在")
        self.code = code


@dataclass(frozen=True)
class BindCodeRow:
    number: str
    name: str
    role: str
    classes: str
    code: str


def bind_code_rows(
    session: Session, class_code: str | None = None, today: dt.date | None = None
) -> list[BindCodeRow]:
    """Counsellors, then head teachers, then students, each by number. With ``class_code``:
    only that class's counsellor, head teachers and students. Raises UnknownClassError."""
    today = today or dt.date.today()
    class_filter = None
    if class_code is not None:
        class_filter = session.scalar(select(SchoolClass.id).where(SchoolClass.code == class_code))
        if class_filter is None:
            raise UnknownClassError(class_code)
    class_names = dict(session.execute(select(SchoolClass.id, SchoolClass.name)).all())

    def names(ids: set[int]) -> str:
        return "、".join(sorted(class_names[i] for i in ids))

    counselled: dict[int, set[int]] = {}
    for class_id, teacher_id in session.execute(
        select(SchoolClass.id, SchoolClass.counsellor_id).where(
            SchoolClass.counsellor_id.is_not(None)
        )
    ):
        counselled.setdefault(teacher_id, set()).add(class_id)
    headed: dict[int, set[int]] = {}
    for teacher_id, class_id in session.execute(
        select(Appointment.teacher_id, Appointment.class_id).where(
            Appointment.status.in_(CURRENT_STATUSES), Appointment.end_date >= today
        )
    ):
        headed.setdefault(teacher_id, set()).add(class_id)
    memberships: dict[int, set[int]] = {}
    for student_id, class_id in session.execute(
        select(class_members.c.student_id, class_members.c.class_id)
    ):
        memberships.setdefault(student_id, set()).add(class_id)

    rows: list[BindCodeRow] = []
    teachers = session.execute(
        select(Teacher.id, Teacher.staff_no, Teacher.name, Teacher.role, Teacher.binding_code)
    ).all()
    for role in (TeacherRole.COUNSELLOR, TeacherRole.HEAD_TEACHER):
        classes_of = counselled if role == TeacherRole.COUNSELLOR else headed
        for t in sorted((t for t in teachers if t.role == role), key=lambda t: t.staff_no):
            ids = classes_of.get(t.id, set())
            if class_filter is not None and class_filter not in ids:
                continue
            rows.append(BindCodeRow(t.staff_no, t.name, role.label, names(ids), t.binding_code))
    students = select(Student.id, Student.student_no, Student.name, Student.binding_code)
    if class_filter is not None:
        students = students.join(class_members).where(class_members.c.class_id == class_filter)
    for s in session.execute(students.order_by(Student.student_no)):
        rows.append(
            BindCodeRow(
                s.student_no, s.name, "学生", names(memberships.get(s.id, set())), s.binding_code
            )
        )
    return rows


def render_csv(rows: list[BindCodeRow], *, bom: bool = False) -> str:
    """CSV text; ``bom`` for a file that Excel on Windows should open as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(safe_row(astuple(r)) for r in rows)
    return ("\ufeff" if bom else "") + out.getvalue()


def write_bind_codes(rows: list[BindCodeRow], path: Path) -> None:
    """Write ``.csv`` (UTF-8 with BOM, for Excel) or ``.xlsx``, chosen by the extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        path.write_text(render_csv(rows, bom=True), encoding="utf-8", newline="")
    elif suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "绑定码"
        ws.append(HEADER)
        for r in rows:
            append_row(ws, astuple(r))
        # Numbers and codes as text, so Excel neither drops leading zeros nor shows 2.02E+09.
        for row in ws.iter_rows(min_row=2):
            for cell in (row[0], row[4]):
                cell.number_format = "@"
        ws.column_dimensions["A"].width = 14
        ws.column_dimensions["D"].width = 30
        wb.save(path)
    else:
        raise ValueError(f"{path.name}: 输出文件应以 .csv 或 .xlsx 结尾")
