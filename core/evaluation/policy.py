"""The database side of 第十二条 (training), 第十四条 (monthly branch meetings, a training each
term) and 第八条（三） (employment outcomes of final-year classes): a few grouped queries whose
results go through the pure rules in ``grading``, ``meetings`` and ``employment``.

Used by the evaluation (stored in the evaluation's ``details``), the report, the API and the
dashboard (which computes them live, so a meeting recorded after the evaluation shows at once).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from core.evaluation import employment, grading, meetings
from core.evaluation.queries import active_in_term, of_teachers
from models import (
    Appointment,
    Department,
    EmploymentOutcome,
    Meeting,
    MeetingKind,
    SchoolClass,
    Teacher,
    Term,
    class_members,
    meeting_attendance,
)


def school_today() -> dt.date:
    """Today on the school's clock (BANZHUREN_TIMEZONE)."""
    # Read directly: loading all the settings here would repeat their start-up checks and
    # warnings; the zone was validated when the process started.
    zone = ZoneInfo(os.environ.get("BANZHUREN_TIMEZONE") or "Asia/Shanghai")
    return dt.datetime.now(zone).date()


def as_of_for(term: Term, today: dt.date | None = None) -> dt.date:
    """The day the month rules are checked on: today, or the day after the term once it ended
    (every month of an ended term is either held or missed)."""
    today = today or school_today()
    return min(today, term.end_date + dt.timedelta(days=1))


# --- queries -------------------------------------------------------------------------------


def _meeting_facts(session: Session, query) -> list[tuple[int | None, meetings.MeetingFact]]:
    rows = session.execute(query).all()
    ids = [r.id for r in rows]
    attendees: dict[int, set[int]] = defaultdict(set)
    if ids:
        for mid, tid in session.execute(
            select(meeting_attendance.c.meeting_id, meeting_attendance.c.teacher_id).where(
                meeting_attendance.c.meeting_id.in_(ids)
            )
        ):
            attendees[mid].add(tid)
    return [
        (
            r.department_id,
            meetings.MeetingFact(r.id, r.held_on, r.title, frozenset(attendees[r.id])),
        )
        for r in rows
    ]


def branch_meetings(
    session: Session, term: Term, department_ids: Collection[int] | None = None
) -> dict[int, list[meetings.MeetingFact]]:
    """department id → its 工作例会 held in the term, with attendees."""
    query = select(Meeting.id, Meeting.department_id, Meeting.held_on, Meeting.title).where(
        Meeting.kind == MeetingKind.STAFF_MEETING,
        Meeting.department_id.is_not(None),
        Meeting.held_on.between(term.start_date, term.end_date),
    )
    if department_ids is not None:
        query = query.where(Meeting.department_id.in_(list(department_ids)))
    out: dict[int, list[meetings.MeetingFact]] = defaultdict(list)
    for dep, fact in _meeting_facts(session, query.order_by(Meeting.held_on, Meeting.id)):
        out[dep].append(fact)  # type: ignore[index]
    return dict(out)


def school_trainings(session: Session, term: Term) -> list[meetings.MeetingFact]:
    """The school's trainings (kind training, held by Student Affairs) in the term."""
    query = (
        select(Meeting.id, Meeting.department_id, Meeting.held_on, Meeting.title)
        .where(
            Meeting.kind == MeetingKind.TRAINING,
            Meeting.department_id.is_(None),
            Meeting.held_on.between(term.start_date, term.end_date),
        )
        .order_by(Meeting.held_on, Meeting.id)
    )
    return [fact for _dep, fact in _meeting_facts(session, query)]


def trainings_attended(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, tuple[int, int]]:
    """teacher id → (trainings attended on or before the term's last day, of which in the
    term). Any training counts (the school's or a branch's). ``teacher_ids`` None: everyone."""
    if teacher_ids is not None and not teacher_ids:
        return {}
    in_term = func.sum(case((Meeting.held_on >= term.start_date, 1), else_=0))
    rows = session.execute(
        select(meeting_attendance.c.teacher_id, func.count(), in_term)
        .join(Meeting, Meeting.id == meeting_attendance.c.meeting_id)
        .where(
            of_teachers(meeting_attendance.c.teacher_id, teacher_ids),
            Meeting.kind == MeetingKind.TRAINING,
            Meeting.held_on <= term.end_date,
        )
        .group_by(meeting_attendance.c.teacher_id)
    )
    return {tid: (int(n), int(inside or 0)) for tid, n, inside in rows}


def final_year_classes(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, list[SchoolClass]]:
    """teacher id → the final-year classes (on the term's first day) they headed in the term.
    ``teacher_ids`` None: everyone."""
    if teacher_ids is not None and not teacher_ids:
        return {}
    # SchoolClass.is_final_year in SQL, so that only final-year classes are loaded (a quarter
    # of a school's); the Python check below stays the rule's definition.
    on = term.start_date
    academic_start = on.year if on.month >= 9 else on.year - 1
    rows = session.execute(
        select(Appointment.teacher_id, SchoolClass)
        .join(SchoolClass, SchoolClass.id == Appointment.class_id)
        .where(
            active_in_term(term),
            of_teachers(Appointment.teacher_id, teacher_ids),
            SchoolClass.entry_year + SchoolClass.years == academic_start + 1,
        )
        .order_by(SchoolClass.code)
    ).all()
    out: dict[int, list[SchoolClass]] = defaultdict(list)
    for tid, cls in rows:
        if cls.is_final_year(term.start_date) and cls not in out[tid]:
            out[tid].append(cls)
    return dict(out)


def class_employment(
    session: Session, classes: Iterable[SchoolClass]
) -> dict[int, employment.ClassEmployment]:
    """class id → its students and their recorded outcomes by kind (two grouped queries)."""
    by_id = {c.id: c for c in classes}
    if not by_id:
        return {}
    sizes = dict(
        session.execute(
            select(class_members.c.class_id, func.count(distinct(class_members.c.student_id)))
            .where(class_members.c.class_id.in_(list(by_id)))
            .group_by(class_members.c.class_id)
        ).all()
    )
    texts: dict[int, list[str]] = defaultdict(list)
    for cid, text in session.execute(
        select(class_members.c.class_id, EmploymentOutcome.outcome)
        .join(EmploymentOutcome, EmploymentOutcome.student_id == class_members.c.student_id)
        .where(class_members.c.class_id.in_(list(by_id)))
    ):
        texts[cid].append(text)
    return {
        cid: employment.class_employment(c.code, c.name, int(sizes.get(cid, 0)), texts[cid])
        for cid, c in by_id.items()
    }


def teacher_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return dict(session.execute(select(Teacher.id, Teacher.name).where(Teacher.id.in_(ids))).all())


# --- one department's teachers, for the evaluation -------------------------------------------


@dataclass
class TeacherPolicy:
    """What the policy rules say about one head teacher in one term."""

    trained: bool = True
    missed_term_training: bool = False
    attendance: meetings.Attendance = field(default_factory=meetings.Attendance)
    employment: list[employment.ClassEmployment] = field(default_factory=list)
    branch_months: list[meetings.MonthStatus] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # attendees' names
    # stored_months_json(branch_months), built once per branch and shared by its teachers.
    branch_json: list[dict] | None = None

    def details(self) -> dict[str, Any]:
        """JSON for the evaluation's details (report, API)."""
        return {
            "meeting_attendance": {
                "held": self.attendance.held,
                "attended": self.attendance.attended,
                "rate": self.attendance.rate,
                "missed": [
                    {"date": m.day.isoformat(), "title": m.title} for m in self.attendance.missed
                ],
            },
            "branch_months": (
                self.branch_json
                if self.branch_json is not None
                else months_json(self.branch_months, self.names)
            ),
            "employment": [c.as_dict() for c in self.employment],
        }


def stored_months_json(months: Iterable[meetings.MonthStatus]) -> list[dict]:
    """The branch's months as an evaluation stores them in each of its teachers' details: each
    meeting by id, without its attendees. Naming every attendee in every teacher's row made the
    stored details grow with the square of a branch's size (16 KB a row, 84 MB a term at
    100,000 students); the names are read from meeting_attendance when a report is built
    (:func:`resolve_branch_attendees`)."""
    return [
        {
            "month": m.month,
            "status": m.status,
            "meetings": [
                {"date": f.day.isoformat(), "title": f.title, "meeting_id": f.id}
                for f in m.meetings
            ],
        }
        for m in months
    ]


def resolve_branch_attendees(session: Session, details: Iterable[dict[str, Any]]) -> None:
    """Give the branch months of these stored details (the caller's own dicts: their
    ``branch_months`` is replaced, nothing nested is mutated) their meetings' attendees, as
    :func:`months_json` lists them, in one query for all. Details stored before meetings were
    referenced by id keep the names they carry."""
    details = [d for d in details if d.get("branch_months")]
    ids = {
        mt["meeting_id"]
        for d in details
        for m in d["branch_months"]
        for mt in m.get("meetings") or []
        if "meeting_id" in mt
    }
    if not ids:
        return
    names: dict[int, list[str]] = {mid: [] for mid in ids}
    for mid, name in session.execute(
        select(meeting_attendance.c.meeting_id, Teacher.name)
        .join(Teacher, Teacher.id == meeting_attendance.c.teacher_id)
        .where(meeting_attendance.c.meeting_id.in_(sorted(ids)))
    ):
        names[mid].append(name)
    for attendees in names.values():
        attendees.sort()

    def meeting(mt: dict[str, Any]) -> dict[str, Any]:
        if "meeting_id" not in mt:
            return mt
        return {"date": mt["date"], "title": mt["title"], "attendees": names[mt["meeting_id"]]}

    for d in details:
        d["branch_months"] = [
            {**m, "meetings": [meeting(mt) for mt in m.get("meetings") or []]}
            for m in d["branch_months"]
        ]


def months_json(months: Iterable[meetings.MonthStatus], names: dict[int, str]) -> list[dict]:
    return [
        {
            "month": m.month,
            "status": m.status,
            "meetings": [
                {
                    "date": f.day.isoformat(),
                    "title": f.title,
                    "attendees": sorted(names.get(t, str(t)) for t in f.attendees),
                }
                for f in m.meetings
            ],
        }
        for m in months
    ]


def teacher_policy(
    session: Session,
    term: Term,
    departments: dict[int, int | None],
    appts: dict[int, Any],
    as_of: dt.date | None = None,
    everyone: bool = False,
) -> dict[int, TeacherPolicy]:
    """teacher id → TeacherPolicy for the teachers of ``departments`` (teacher id → the
    department they are evaluated under); ``appts`` is ``queries.appointments`` for them
    (periods in office, roster 岗前培训). ``everyone``: they are all the term's teachers, so the
    queries need no list of teacher ids. Each query runs once for all the departments."""
    teacher_ids = None if everyone else list(departments)
    as_of = as_of_for(term, as_of)
    keys = set(departments.values())
    deps = sorted(d for d in keys if d is not None)
    held = branch_meetings(session, term, deps) if deps else {}
    months = {
        d: meetings.branch_months(
            held.get(d, []) if d is not None else [], term.start_date, term.end_date, as_of
        )
        for d in keys
    }
    held_trainings = len(school_trainings(session, term))
    attended = trainings_attended(session, term, teacher_ids)
    finals = final_year_classes(session, term, teacher_ids)
    stats = class_employment(
        session, {c for tid, cs in finals.items() if tid in departments for c in cs}
    )
    # Built once per branch; the rows share it (stored by meeting id, see stored_months_json).
    shared = {d: stored_months_json(months[d]) for d in keys}
    out = {}
    for tid, dep in departments.items():
        by_end, in_term = attended.get(tid, (0, 0))
        a = appts.get(tid)
        branch = held.get(dep, []) if dep is not None else []
        out[tid] = TeacherPolicy(
            trained=grading.is_trained(a.trained if a else True, by_end),
            missed_term_training=grading.missed_term_training(held_trainings, in_term),
            attendance=meetings.attendance(
                tid, branch, a.periods if a else [], term.start_date, term.end_date
            ),
            employment=[stats[c.id] for c in finals.get(tid, [])],
            branch_months=months[dep],
            branch_json=shared[dep],
        )
    return out


# --- the school, for the overview --------------------------------------------------------------


@dataclass
class BranchMonths:
    department_id: int
    department: str
    months: list[meetings.MonthStatus]

    @property
    def missed(self) -> list[str]:
        return meetings.missed_months(self.months)


@dataclass
class SchoolRules:
    """第十四条 across the school for one term: every branch's months and the trainings."""

    branches: list[BranchMonths]
    trainings: list[meetings.MeetingFact]
    training_pending: bool  # no training yet, but the term has not ended

    @property
    def training_held(self) -> bool:
        return bool(self.trainings)


def school_rules(
    session: Session, term: Term, scope: int | None, as_of: dt.date | None = None
) -> SchoolRules:
    """The branches the caller may see (``scope`` None: all) with their months, and the
    school's trainings in the term."""
    as_of = as_of_for(term, as_of)
    query = select(Department.id, Department.name).order_by(Department.name)
    if scope is not None:
        query = query.where(Department.id == scope)
    deps = session.execute(query).all()
    held = branch_meetings(session, term, [d.id for d in deps])
    branches = [
        BranchMonths(
            d.id,
            d.name,
            meetings.branch_months(held.get(d.id, []), term.start_date, term.end_date, as_of),
        )
        for d in deps
    ]
    trainings = school_trainings(session, term)
    return SchoolRules(branches, trainings, not trainings and as_of <= term.end_date)


def teacher_meetings(
    session: Session, term: Term, teacher_id: int, as_of: dt.date | None = None
) -> tuple[meetings.Attendance, list[meetings.MonthStatus]]:
    """One teacher's attendance of their branch's meetings in the term (the dashboard's
    teacher page), and the branch's months."""
    from core.evaluation import queries

    department_id = queries.teacher_departments(session, term).get(teacher_id)
    if department_id is None:
        return meetings.Attendance(), []
    facts = queries.appointments(session, term, [teacher_id]).get(teacher_id)
    periods = facts.periods if facts else []
    branch = branch_meetings(session, term, [department_id]).get(department_id, [])
    months = meetings.branch_months(branch, term.start_date, term.end_date, as_of_for(term, as_of))
    return meetings.attendance(teacher_id, branch, periods, term.start_date, term.end_date), months


# --- report fields ------------------------------------------------------------------------------


def report_fields(details: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON report's policy fields, read from an evaluation's stored details (an evaluation
    stored before these rules has none: the fields are empty)."""
    details = details or {}
    att = details.get("meeting_attendance") or {}
    months = list(details.get("branch_months") or [])
    classes = list(details.get("employment") or [])
    students = sum(c.get("students", 0) for c in classes)
    placed = sum(c.get("placed", 0) for c in classes)
    rate = att.get("rate")
    return {
        "meetings_held": att.get("held"),
        "meeting_attendance_rate": None if rate is None else round(rate, 4),
        "meetings_missed": list(att.get("missed") or []),
        "branch_months": months,
        "branch_months_missed": [m["month"] for m in months if m.get("status") == meetings.MISSED],
        "employment": classes,
        "employment_rate": round(placed / students, 4) if students else None,
    }


def school_rules_json(session: Session, rules: SchoolRules) -> dict[str, Any]:
    """The overview's 第十四条 figures for the API."""
    names = teacher_names(
        session,
        (t for b in rules.branches for m in b.months for f in m.meetings for t in f.attendees),
    )
    return {
        "trainings": [
            {"date": t.day.isoformat(), "title": t.title, "attendees": len(t.attendees)}
            for t in rules.trainings
        ],
        "training_held": rules.training_held,
        "branches": [
            {
                "department": b.department,
                "months": months_json(b.months, names),
                "missed": b.missed,
            }
            for b in rules.branches
        ],
    }
