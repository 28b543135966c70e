"""Small factory functions for test data: ``make_student(session, **overrides)``."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from models import (
    Appointment,
    AppointmentStatus,
    ClassKind,
    Department,
    SchoolClass,
    Student,
    Teacher,
    TeacherRole,
    Term,
)
from models.appointment import one_year_after

_seq = itertools.count(1)


def make_department(session: Session, **kw) -> Department:
    dep = Department(name=kw.pop("name", f"党总支{next(_seq)}"), **kw)
    session.add(dep)
    session.flush()
    return dep


def make_class(session: Session, **kw) -> SchoolClass:
    n = next(_seq)
    if "department" not in kw and "department_id" not in kw:
        kw["department"] = make_department(session)
    kw.setdefault("code", f"C{n:04d}")
    kw.setdefault("name", f"班级{n}")
    kw.setdefault("kind", ClassKind.ADMIN)
    kw.setdefault("entry_year", 2025)
    kw.setdefault("years", 4)
    c = SchoolClass(**kw)
    session.add(c)
    session.flush()
    return c


def make_student(session: Session, **kw) -> Student:
    n = next(_seq)
    classes = kw.pop("classes", None)
    kw.setdefault("student_no", f"S{n:06d}")
    kw.setdefault("name", f"学生{n}")
    kw.setdefault("binding_code", f"{n:06d}")
    s = Student(**kw)
    if classes is not None:
        s.classes = list(classes)
    session.add(s)
    session.flush()
    return s


def make_teacher(session: Session, **kw) -> Teacher:
    n = next(_seq)
    kw.setdefault("staff_no", f"T{n:05d}")
    kw.setdefault("name", f"教师{n}")
    kw.setdefault("role", TeacherRole.HEAD_TEACHER)
    kw.setdefault("binding_code", f"{n:06d}")
    t = Teacher(**kw)
    session.add(t)
    session.flush()
    return t


def make_term(session: Session, **kw) -> Term:
    kw.setdefault("code", "2026-2027-1")
    kw.setdefault("start_date", dt.date(2026, 9, 1))
    kw.setdefault("end_date", dt.date(2027, 1, 20))
    t = Term(**kw)
    session.add(t)
    session.flush()
    return t


def make_appointment(session: Session, **kw) -> Appointment:
    if "teacher" not in kw and "teacher_id" not in kw:
        kw["teacher"] = make_teacher(session)
    if "school_class" not in kw and "class_id" not in kw:
        kw["school_class"] = make_class(session)
    kw.setdefault("start_date", dt.date(2026, 9, 1))
    kw.setdefault("end_date", one_year_after(kw["start_date"]))
    kw.setdefault("trained", True)
    kw.setdefault("status", AppointmentStatus.APPOINTED)
    a = Appointment(**kw)
    session.add(a)
    session.flush()
    return a
