"""The school's people and units: 党总支, classes, students, teachers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, LabelledEnum, link_table, str_enum


class ClassKind(LabelledEnum):
    """第一条: head teachers are set up per 行政班级, 小乐团 or 专业."""

    ADMIN = "admin", "行政班级"
    ENSEMBLE = "ensemble", "小乐团"
    MAJOR = "major", "专业"

    @classmethod
    def from_label(cls, text: str) -> ClassKind:
        for kind in cls:
            if text in (kind.value, kind.label):
                return kind
        raise ValueError(text)


class TeacherRole(LabelledEnum):
    HEAD_TEACHER = "head_teacher", "班主任"  # 兼职班主任
    COUNSELLOR = "counsellor", "辅导员"

    @classmethod
    def from_label(cls, text: str) -> TeacherRole:
        for role in cls:
            if text in (role.value, role.label, role.label.replace("班主任", "兼职班主任")):
                return role
        raise ValueError(text)


class Department(Base):
    """党总支: manages the head teachers of its classes (第三条)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)

    classes: Mapped[list[SchoolClass]] = relationship(back_populates="department")


class_members = link_table(
    "class_members", ("class_id", "classes.id"), ("student_id", "students.id")
)


class SchoolClass(Base):
    """班级: an administrative class, an ensemble (小乐团) or a major."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    kind: Mapped[ClassKind] = mapped_column(str_enum(ClassKind), default=ClassKind.ADMIN)
    entry_year: Mapped[int]
    years: Mapped[int] = mapped_column(default=4)
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("teachers.id"), index=True)

    department: Mapped[Department] = relationship(back_populates="classes")
    counsellor: Mapped[Teacher | None] = relationship(foreign_keys=[counsellor_id])
    students: Mapped[list[Student]] = relationship(
        secondary=class_members, back_populates="classes"
    )

    def year_of_study(self, on: dt.date) -> int:
        """1 for a class in its first academic year on ``on``; academic years start in September."""
        academic_start = on.year if on.month >= 9 else on.year - 1
        return academic_start - self.entry_year + 1

    def is_first_year(self, on: dt.date) -> bool:
        return self.year_of_study(on) == 1

    def is_final_year(self, on: dt.date) -> bool:
        return self.year_of_study(on) == self.years


class Student(CreatedAt, Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    # Handed out by the counsellor; proves the WeChat user is this student (see bot binding).
    binding_code: Mapped[str] = mapped_column(String(16))

    classes: Mapped[list[SchoolClass]] = relationship(
        secondary=class_members, back_populates="students"
    )


class Teacher(CreatedAt, Base):
    __tablename__ = "teachers"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[TeacherRole] = mapped_column(
        str_enum(TeacherRole), default=TeacherRole.HEAD_TEACHER
    )
    binding_code: Mapped[str] = mapped_column(String(16))
    # Issue 25.5: the WeCom UserId when it is not the 工号 (roster column wecom_userid).
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True)

    department: Mapped[Department | None] = relationship()

    __table_args__ = (UniqueConstraint("id", "department_id"),)
