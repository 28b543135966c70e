"""What the work log needs to know about a head teacher: their classes in office, their
students (for names) and the first day they were in office (no entry before it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.worklog.names import Roster, RosterStudent
from core.worklog.requirements import FINAL_YEAR, TeacherScope
from models import Appointment, AppointmentStatus, SchoolClass, Student, Teacher, class_members


@dataclass
class TeacherInfo:
    teacher: Teacher
    appointments: list[Appointment]
    classes: list[SchoolClass]
    roster: Roster

    @property
    def earliest(self) -> dt.date | None:
        """The first day in office: entries may not be dated before it."""
        return min((a.start_date for a in self.appointments), default=None)

    def scope(self, on: dt.date) -> TeacherScope:
        departments = {c.department_id for c in self.classes}
        if self.teacher.department_id is not None:
            departments.add(self.teacher.department_id)
        years: set[int] = set()
        for c in self.classes:
            years.add(c.year_of_study(on))
            if c.is_final_year(on):
                years.add(FINAL_YEAR)
        return TeacherScope(frozenset(departments), frozenset(years))

    def class_of(self, student_ids: list[int]) -> int | None:
        """The class an entry concerns: the one class of all the students named, or the
        teacher's only class; None when it cannot be told."""
        if student_ids:
            found = {s.class_id for s in self.roster.students if s.id in student_ids}
            per_student = [
                {s.class_id for s in self.roster.students if s.id == sid} for sid in student_ids
            ]
            common = set.intersection(*per_student) if per_student else set()
            if len(common) == 1:
                return common.pop()
            if len(found) == 1:
                return found.pop()
            return None
        if len(self.classes) == 1:
            return self.classes[0].id
        return None


def load_teacher(session: Session, teacher_id: int) -> TeacherInfo | None:
    """The teacher with their appointments in force (聘任) and those classes' students."""
    teacher = session.get(Teacher, teacher_id)
    if teacher is None:
        return None
    appointments = list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.teacher_id == teacher_id,
                Appointment.status == AppointmentStatus.APPOINTED,
            )
            .order_by(Appointment.start_date)
        )
    )
    class_ids = sorted({a.class_id for a in appointments})
    classes = (
        list(session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids))))
        if class_ids
        else []
    )
    names = {c.id: c.name for c in classes}
    rows = (
        session.execute(
            select(Student.id, Student.name, Student.student_no, class_members.c.class_id)
            .join(class_members, class_members.c.student_id == Student.id)
            .where(class_members.c.class_id.in_(class_ids))
            .order_by(Student.student_no)
        ).all()
        if class_ids
        else []
    )
    roster = Roster(
        [RosterStudent(r.id, r.name, r.student_no, r.class_id, names[r.class_id]) for r in rows]
    )
    return TeacherInfo(teacher, appointments, classes, roster)
