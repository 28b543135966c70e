"""Which documents a term has, and the values that fill them (from the database).

- 业务审批表 (第六条): one per application — every appointment whose period overlaps the term,
  whatever its step (an application in progress too), except a rejected one.
- 聘书 (第九条): one per appointment in office during the term (appointed; or dismissed /
  resigned after the term started).
- 荣誉证书 (第十九条): one per 先进兼职班主任 awarded for the term's academic year.

Issue 24: the school's name is ``BANZHUREN_SCHOOL_NAME`` and every date is the school's
(``BANZHUREN_TIMEZONE``), both carried by a :class:`Letterhead`; certificates (聘书, 荣誉证书) name
classes by their names, the internal form (业务审批表) adds the code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.documents.fill import fill, fill_document, merge
from models import (
    Appointment,
    AppointmentStatus,
    Award,
    Department,
    SchoolClass,
    Teacher,
    Term,
)
from models.appointment import ENDED_EARLY, STATUS_LABELS

KINDS = {"application": "业务审批表", "appointment": "聘书", "award": "荣誉证书"}
# One head teacher's documents (issue 25): made for a person, not for a term.
TEACHER_KINDS = {"logbook": "工作日志本", "service": "任职证明"}
TEMPLATE = {
    "application": "application.docx",
    "appointment": "appointment.docx",
    "award": "award.docx",
    "logbook": "logbook.docx",
    "service": "service.docx",
}

_STEPS = (
    AppointmentStatus.BRANCH_REVIEWED,
    AppointmentStatus.AFFAIRS_APPROVED,
    AppointmentStatus.HR_FILED,
    AppointmentStatus.APPOINTED,
)
_IN_OFFICE = (AppointmentStatus.APPOINTED, *ENDED_EARLY)


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Letterhead:
    """Who issues the documents and by which clock: the school's name and time zone."""

    school: str
    tz: ZoneInfo

    @classmethod
    def of(cls, settings) -> Letterhead:
        return cls(settings.school_name, settings.tz)

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The school's calendar day of a stored (UTC) moment."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(self.tz).date()


@dataclass(frozen=True)
class DocumentSpec:
    """One document to produce: its kind, the person, a file name and the template's values."""

    kind: str
    teacher_id: int
    staff_no: str
    teacher: str
    filename: str
    values: dict[str, str] = field(default_factory=dict)
    record_id: int = 0
    # The records of the template's repeated rows (a 日志本's entries), by prefix.
    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def render(self) -> bytes:
        return fill(TEMPLATE[self.kind], self.values, self.rows)


def safe_filename(text: str) -> str:
    return "".join("_" if c in '\\/:*?"<>|' else c for c in text)


def _class_label(cls: SchoolClass) -> str:
    """The internal form's label: the name, with the code that identifies the class."""
    return f"{cls.name}（{cls.code}）"


def class_name(cls: SchoolClass) -> str:
    """On certificates a class is named as people name it (no internal code)."""
    return cls.name or cls.code


def _passed(status: AppointmentStatus, step: AppointmentStatus) -> bool:
    """Whether an appointment at ``status`` has gone through ``step`` of 第九条."""
    if status in _IN_OFFICE:
        return True
    if status == AppointmentStatus.REJECTED:
        return False
    return _STEPS.index(status) >= _STEPS.index(step) if status in _STEPS else False


def application_spec(a: Appointment, today: dt.date, letterhead: Letterhead) -> DocumentSpec:
    t, cls = a.teacher, a.school_class
    status = a.status
    on = a.start_date
    year = cls.year_of_study(on)
    grade = f"{cls.entry_year}级（第{year}学年）" if year >= 1 else f"{cls.entry_year}级"
    if cls.is_final_year(on):
        grade += "，毕业年级"
    elif year == 1:
        grade += "，一年级"
    opinion = {
        "党总支意见": "已初审同意" if _passed(status, AppointmentStatus.BRANCH_REVIEWED) else "",
        "学生处意见": "已审核同意" if _passed(status, AppointmentStatus.AFFAIRS_APPROVED) else "",
        "人事处意见": "已备案" if _passed(status, AppointmentStatus.HR_FILED) else "",
    }
    values = {
        "学校": letterhead.school,
        # The day the application was made, on the school's calendar (not the UTC one).
        "填表日期": cn_date(letterhead.local_date(a.created_at) if a.created_at else today),
        "姓名": t.name,
        "工号": t.staff_no,
        "党总支": (t.department or cls.department).name,
        "班级": _class_label(cls),
        "班级类型": cls.kind.label,
        "年级": grade,
        "岗前培训": "已参加" if a.trained else "未参加",
        "聘期": f"{cn_date(a.start_date)} 至 {cn_date(a.end_date)}",
        "流程状态": STATUS_LABELS[status],
        "申请说明": a.application_note or "",
        **opinion,
    }
    return DocumentSpec(
        "application",
        t.id,
        t.staff_no,
        t.name,
        safe_filename(f"业务审批表-{t.staff_no}-{t.name}-{cls.code}.docx"),
        values,
        a.id,
    )


def appointment_spec(a: Appointment, letterhead: Letterhead) -> DocumentSpec:
    t, cls = a.teacher, a.school_class
    values = {
        "学校": letterhead.school,
        "姓名": t.name,
        "班级": class_name(cls),
        "开始日期": cn_date(a.start_date),
        "结束日期": cn_date(a.end_date),
        "编号": f"{a.start_date.year}-{a.id:04d}",
        "签发日期": cn_date(a.start_date),
    }
    return DocumentSpec(
        "appointment",
        t.id,
        t.staff_no,
        t.name,
        safe_filename(f"聘书-{t.staff_no}-{t.name}-{cls.code}.docx"),
        values,
        a.id,
    )


def service_window(session: Session, academic_year: str) -> tuple[dt.date, dt.date]:
    """The days an award for ``academic_year`` (``2025-2026``) rests on: from the first day of
    that year's first term to the last day of its last term; without terms, September to
    August."""
    first, second = int(academic_year[:4]), int(academic_year[5:9])
    lo, hi = session.execute(
        select(func.min(Term.start_date), func.max(Term.end_date)).where(
            Term.code.like(f"{academic_year}-%")
        )
    ).one()
    if lo is None or hi is None:
        return dt.date(first, 9, 1), dt.date(second, 8, 31)
    return lo, hi


def award_spec(
    session: Session, award: Award, teacher: Teacher, today: dt.date, letterhead: Letterhead
) -> DocumentSpec:
    """The 荣誉证书. It cites the teacher's service in the academic year's terms and is dated
    the day it is made, or, when made before that service ends (the year's last term still
    running), the day it ends: a certificate never predates the work it honours."""
    year = award.academic_year
    year_start, year_end = service_window(session, year)
    rows = session.execute(
        select(Appointment, SchoolClass)
        .join(SchoolClass, SchoolClass.id == Appointment.class_id)
        .where(
            Appointment.teacher_id == teacher.id,
            Appointment.status.in_(_IN_OFFICE),
            Appointment.start_date <= year_end,
            Appointment.end_date >= year_start,
        )
        .order_by(Appointment.start_date, SchoolClass.code)
    ).all()
    classes = "、".join(dict.fromkeys(class_name(c) for _a, c in rows)) or "—"
    if rows:
        lo = max(year_start, min(a.start_date for a, _c in rows))
        hi = min(year_end, max(a.ended_on or a.end_date for a, _c in rows))
    else:
        lo, hi = year_start, year_end
    period = f"{cn_date(lo)} 至 {cn_date(hi)}"
    issued = max(today, hi)
    dep = session.get(Department, teacher.department_id) if teacher.department_id else None
    values = {
        "学校": letterhead.school,
        "姓名": teacher.name,
        "党总支": dep.name if dep else "—",
        "学年": year,
        "班级": classes,
        "任职期间": period,
        "颁发日期": cn_date(issued),
    }
    return DocumentSpec(
        "award",
        teacher.id,
        teacher.staff_no,
        teacher.name,
        safe_filename(f"荣誉证书-{year}-{teacher.staff_no}-{teacher.name}.docx"),
        values,
        award.id,
    )


def _term_appointments(session: Session, term: Term, scope: int | None) -> list[Appointment]:
    query = (
        select(Appointment)
        .join(Teacher, Teacher.id == Appointment.teacher_id)
        .join(SchoolClass, SchoolClass.id == Appointment.class_id)
        .where(
            Appointment.status != AppointmentStatus.REJECTED,
            Appointment.start_date <= term.end_date,
            Appointment.end_date >= term.start_date,
        )
        .order_by(Teacher.staff_no, SchoolClass.code, Appointment.start_date)
    )
    if scope is not None:
        query = query.where(SchoolClass.department_id == scope)
    return list(session.scalars(query))


def term_documents(
    session: Session,
    term: Term,
    today: dt.date,
    letterhead: Letterhead,
    scope: int | None = None,
) -> list[DocumentSpec]:
    """Every document of the term (``scope``: one department's classes and teachers only)."""
    specs: list[DocumentSpec] = []
    for a in _term_appointments(session, term, scope):
        specs.append(application_spec(a, today, letterhead))
        ended_before = a.ended_on is not None and a.ended_on < term.start_date
        if a.status in _IN_OFFICE and not ended_before:
            specs.append(appointment_spec(a, letterhead))
    awards = (
        select(Award, Teacher)
        .join(Teacher, Teacher.id == Award.teacher_id)
        .where(Award.academic_year == term.code[:9], Award.status == "awarded")
    )
    if scope is not None:
        awards = awards.where(Teacher.department_id == scope)
    for award, teacher in session.execute(awards.order_by(Teacher.staff_no)):
        specs.append(award_spec(session, award, teacher, today, letterhead))
    return specs


def merged(specs: list[DocumentSpec]) -> bytes:
    """All the documents in one .docx, one after another on new pages."""
    return merge(fill_document(TEMPLATE[s.kind], s.values, s.rows) for s in specs)
