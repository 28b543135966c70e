"""Who may see what, in two layers, both here:

- ``ROUTES``: which role may use which route at all (every dashboard and API route has an
  entry; a route without one is refused to everyone, and tests/integration/test_route_scope.py
  fails until it gets one). 人事处 (hr) gets the allowance sheet, the appointments and their
  人事处备案 step and the appointments' documents: no survey figures, comments or work logs.
- the query conditions below: a branch (党总支) user sees its own department only, and that
  limit is applied inside every query, not by hiding menu entries.

Scope is derived, never granted by the scoped user: a branch sees a teacher of another
department only through an appointment to one of its classes that Student Affairs has approved
(学生处审核 or a later step); a pending or rejected application grants nothing, whoever filed it.
Writes take the same conditions in their queries as reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from models import (
    Appointment,
    AppointmentStatus,
    Incident,
    LogKind,
    Meeting,
    SchoolClass,
    Teacher,
    Term,
    TermEvaluation,
    User,
    UserRole,
    WorkLogEntry,
)
from models.meetings import meetings_attended

# 审核通过 or later: only Student Affairs' approval makes another department's teacher visible.
APPROVED_STATUSES = (
    AppointmentStatus.AFFAIRS_APPROVED,
    AppointmentStatus.HR_FILED,
    AppointmentStatus.APPOINTED,
    AppointmentStatus.DISMISSED,
    AppointmentStatus.RESIGNED,
)


# --- which role may use which route --------------------------------------------------------

R = UserRole
EVERYONE = frozenset(UserRole)
OFFICES = frozenset({R.AFFAIRS, R.BRANCH})  # the two offices that manage head teachers
AFFAIRS = frozenset({R.AFFAIRS})
NOBODY: frozenset[UserRole] = frozenset()


@dataclass(frozen=True)
class Access:
    """Who may use one route. ``public``: no login (or the route authenticates itself, as the
    WeChat webhook does by signature). ``kinds``: for a route with a ``<kind>`` in its URL,
    the kinds a role is limited to (a role absent from it may ask for any kind)."""

    roles: frozenset[UserRole] = NOBODY
    public: bool = False
    kinds: Mapping[UserRole, frozenset[str]] = field(default_factory=dict)


PUBLIC = Access(public=True)
HR_DOCUMENTS = {R.HR: frozenset({"application", "appointment"})}  # 业务审批表 has 人事处意见

ROUTES: dict[str, Access] = {
    # Outside the dashboard: each authenticates itself or shows nothing of the school.
    "root": PUBLIC,
    "favicon": PUBLIC,
    "static": PUBLIC,
    "wechat.receive": PUBLIC,
    "wechat.verify_url": PUBLIC,
    # Binding by campus login: WeChat's web authorisation and the school's CAS vouch for who.
    "bind.start": PUBLIC,
    "bind.wechat": PUBLIC,
    "bind.cas": PUBLIC,
    # WeCom for staff: signed and encrypted like the official account's webhook.
    "wecom.receive": PUBLIC,
    "wecom.verify_url": PUBLIC,
    # Links sent in chat (issue 25): the one-time token (and, for the application form,
    # WeChat's web authorisation of the account it was sent to) vouches for the teacher.
    "public.logbook": PUBLIC,
    "public.logbook_other": PUBLIC,
    "public.apply": PUBLIC,
    "public.apply_authorised": PUBLIC,
    "public.apply_other": PUBLIC,
    "api.openapi": PUBLIC,
    "dashboard.login": PUBLIC,
    "dashboard.static": PUBLIC,
    # Everyone's own account.
    "dashboard.logout": Access(EVERYONE),
    "dashboard.own_password": Access(EVERYONE),
    "api.me": Access(EVERYONE),
    "api.terms": Access(EVERYONE),
    # 第十八条: the allowance sheet (months in office and yuan; no figures of the survey).
    "dashboard.allowances": Access(EVERYONE),
    "dashboard.download": Access(EVERYONE, kinds={R.HR: frozenset({"allowance"})}),
    "api.allowances": Access(EVERYONE),
    # 第九条: the appointments and their steps (transition_problem says which step is whose).
    "dashboard.appointments": Access(EVERYONE),
    "dashboard.appointment_step": Access(EVERYONE),
    "dashboard.appointment_new": Access(OFFICES),
    "dashboard.document": Access(EVERYONE, kinds=HR_DOCUMENTS),
    "dashboard.term_documents_merged": Access(EVERYONE, kinds=HR_DOCUMENTS),
    # 第十八条: the 任职证明 (聘期, classes and published grades: no survey figures beyond it).
    "dashboard.teacher_service": Access(EVERYONE),
    # Survey figures, comments, work logs, meetings, classes' students: the two offices.
    "dashboard.overview": Access(OFFICES),
    "dashboard.teachers": Access(OFFICES),
    "dashboard.teacher": Access(OFFICES),
    # The 工作日志本 is the work log's text: not 人事处's.
    "dashboard.teacher_logbook": Access(OFFICES),
    "dashboard.awards": Access(OFFICES),
    "dashboard.rounds": Access(OFFICES),
    "dashboard.round_remind": Access(OFFICES),
    "dashboard.meetings": Access(OFFICES),
    # Open 反馈 by age; the student and the text for the branch of the class only.
    "dashboard.feedback": Access(OFFICES),
    "dashboard.incident_add": Access(OFFICES),
    "dashboard.school_class": Access(OFFICES),
    "dashboard.class_poster": Access(OFFICES),
    "api.evaluations": Access(OFFICES),
    "api.overview": Access(OFFICES),
    "api.teachers": Access(OFFICES),
    "api.teacher": Access(OFFICES),
    "api.awards": Access(OFFICES),
    "api.rounds": Access(OFFICES),
    # Trends across terms (issue 24): satisfaction figures, so the two offices only.
    "dashboard.trends": Access(OFFICES),
    "api.trends": Access(OFFICES),
    # Student Affairs alone.
    "dashboard.roster": Access(AFFAIRS),
    "dashboard.round_open": Access(AFFAIRS),
    "dashboard.round_close": Access(AFFAIRS),
    "dashboard.grade_override": Access(AFFAIRS),
    "dashboard.publish": Access(AFFAIRS),
    # Reviewing free-text comments before anyone else reads them; granting 先进 (issue 24).
    "dashboard.comment_queue": Access(AFFAIRS),
    "dashboard.comment_review_post": Access(AFFAIRS),
    "dashboard.comment_show_unheld": Access(AFFAIRS),
    "dashboard.award_grant": Access(AFFAIRS),
    "dashboard.audit_log": Access(AFFAIRS),
    "dashboard.users": Access(AFFAIRS),
    "dashboard.user_new": Access(AFFAIRS),
    "dashboard.user_reset": Access(AFFAIRS),
    "dashboard.user_unlock": Access(AFFAIRS),
    "dashboard.user_disable": Access(AFFAIRS),
    "dashboard.user_enable": Access(AFFAIRS),
    "dashboard.token_new": Access(AFFAIRS),
    "dashboard.token_revoke": Access(AFFAIRS),
}


def is_public(endpoint: str | None) -> bool:
    rule = ROUTES.get(endpoint or "")
    return rule is not None and rule.public


def permitted(role: UserRole, endpoint: str | None, view_args: Mapping[str, Any] | None) -> bool:
    """May ``role`` use this route (with these URL values)? A route absent from ``ROUTES`` is
    refused to everyone: a new route gets a scope decision before anyone can use it."""
    rule = ROUTES.get(endpoint or "")
    if rule is None:
        return False
    if rule.public:
        return True
    if role not in rule.roles:
        return False
    limited = rule.kinds.get(role)
    return limited is None or (view_args or {}).get("kind") in limited


def home_endpoint(role: UserRole) -> str:
    """Where a user lands after login: 人事处 has no term overview (it holds survey figures)."""
    return "dashboard.appointments" if role == UserRole.HR else "dashboard.overview"


# --- what a department may see inside the routes it may use --------------------------------


def class_ids(department_id: int) -> Select:
    return select(SchoolClass.id).where(SchoolClass.department_id == department_id)


def teacher_condition(department_id: int | None) -> ColumnElement[bool]:
    """Teachers a department may see: its own staff, and anyone Student Affairs approved as
    head teacher of one of its classes (第三条: the branch manages its classes' head teachers)."""
    if department_id is None:
        return true()
    return or_(
        Teacher.department_id == department_id,
        Teacher.id.in_(
            select(Appointment.teacher_id).where(
                Appointment.class_id.in_(class_ids(department_id)),
                Appointment.status.in_(APPROVED_STATUSES),
            )
        ),
    )


def application_condition(department_id: int | None) -> ColumnElement[bool]:
    """Teachers a department may file appointment applications for: its own (Student Affairs:
    anyone). Filing for another department's teacher would widen its own scope."""
    if department_id is None:
        return true()
    return Teacher.department_id == department_id


def is_foreign(department_id: int | None, teacher: Teacher) -> bool:
    """A teacher of another department, seen by a branch only through its classes: what it
    sees of them is limited to their work in those classes."""
    return department_id is not None and teacher.department_id != department_id


def award_condition(department_id: int | None) -> ColumnElement[bool]:
    """Whose 荣誉证书 a department may download: its own teachers' (an award rests on the
    teacher's grades, which a branch sees only for its own staff), as the merged download of
    core.documents.records.term_documents. Needs ``Teacher`` joined to the award."""
    if department_id is None:
        return true()
    return Teacher.department_id == department_id


IN_FORCE_STATUSES = (
    AppointmentStatus.APPOINTED,
    AppointmentStatus.DISMISSED,
    AppointmentStatus.RESIGNED,
)


def in_force_condition(department_id: int, on: dt.date) -> ColumnElement[bool]:
    """Appointments to the department's classes in force on ``on``: 聘任 done (not merely
    approved) and ``on`` within the 聘期, up to the day a 解聘 / 辞职 ended it."""
    return and_(
        Appointment.class_id.in_(class_ids(department_id)),
        Appointment.status.in_(IN_FORCE_STATUSES),
        Appointment.start_date <= on,
        func.coalesce(Appointment.ended_on, Appointment.end_date) >= on,
    )


def may_record_incident(
    session: Session, department_id: int | None, teacher: Teacher, on: dt.date
) -> bool:
    """An incident fails the teacher for the whole term, so a branch records one on a teacher
    it borrows from another department only for what its appointment covers: in force on the
    day it happened. Its own teachers and Student Affairs are not limited."""
    if not is_foreign(department_id, teacher):
        return True
    found = session.scalar(
        select(Appointment.id)
        .where(Appointment.teacher_id == teacher.id, in_force_condition(department_id, on))
        .limit(1)
    )
    return found is not None


def feedback_text_visible(department_id: int | None, entry: WorkLogEntry) -> bool:
    """A 反馈 entry's text speaks of a student: on the dashboard and the API only the branch of
    the class it is about reads it (the head teacher and the counsellor have it in the chat);
    Student Affairs and other branches see that it was sent. Other kinds: visible."""
    if entry.kind != LogKind.FEEDBACK:
        return True
    return (
        department_id is not None
        and entry.school_class is not None
        and entry.school_class.department_id == department_id
    )


FEEDBACK_HIDDEN = "（反馈内容仅班主任、辅导员和该班所在党总支可见）"


def worklog_condition(department_id: int) -> ColumnElement[bool]:
    """A foreign teacher's work-log entries a department may see: those about its classes."""
    return WorkLogEntry.class_id.in_(class_ids(department_id))


def meetings_in_scope(
    session: Session, department_id: int, teacher_id: int, term: Term
) -> list[Meeting]:
    """A foreign teacher's meetings the department may know of: its own and school-level."""
    return meetings_attended(session, teacher_id, term, meeting_condition(department_id))


def incidents_in_scope(
    session: Session, department_id: int, teacher_id: int, term_id: int
) -> list[Incident]:
    """A foreign teacher's incidents that this department's users recorded."""
    own_users = select(User.username).where(User.department_id == department_id)
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.teacher_id == teacher_id,
                Incident.term_id == term_id,
                Incident.recorded_by.in_(own_users),
            )
            .order_by(Incident.occurred_on)
        )
    )


def appointments_in_scope(
    session: Session, department_id: int, teacher_id: int
) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.teacher_id == teacher_id,
                Appointment.class_id.in_(class_ids(department_id)),
            )
            .order_by(Appointment.start_date.desc())
        )
    )


def visible_attendees(department_id: int | None, meeting: Meeting) -> list[Teacher]:
    """Who a department sees at a meeting: everyone at its own meetings; on a school-level
    meeting only its own teachers (not other departments' attendees)."""
    if department_id is None or meeting.department_id == department_id:
        return list(meeting.attendees)
    return [t for t in meeting.attendees if t.department_id == department_id]


def evaluation_condition(department_id: int | None) -> ColumnElement[bool]:
    if department_id is None:
        return true()
    return TermEvaluation.department_id == department_id


def appointment_condition(department_id: int | None) -> ColumnElement[bool]:
    if department_id is None:
        return true()
    return Appointment.class_id.in_(
        select(SchoolClass.id).where(SchoolClass.department_id == department_id)
    )


def meeting_condition(department_id: int | None) -> ColumnElement[bool]:
    """A branch sees its own meetings and the school-level ones (held by Student Affairs)."""
    if department_id is None:
        return true()
    return or_(Meeting.department_id == department_id, Meeting.department_id.is_(None))


def visible_teacher(
    session: Session, department_id: int | None, teacher_id: int, *, for_update: bool = False
) -> Teacher:
    """The teacher, or 404 when it does not exist or lies outside the department. Writes pass
    ``for_update``: the row stays locked (PostgreSQL) until the change commits, so the scope
    it was checked against cannot change in between."""
    query = select(Teacher).where(Teacher.id == teacher_id, teacher_condition(department_id))
    teacher = session.scalar(query.with_for_update(of=Teacher) if for_update else query)
    if teacher is None:
        abort(404)
    return teacher


def visible_appointment(
    session: Session, department_id: int | None, appointment_id: int, *, for_update: bool = False
) -> Appointment:
    query = select(Appointment).where(
        Appointment.id == appointment_id, appointment_condition(department_id)
    )
    appointment = session.scalar(query.with_for_update(of=Appointment) if for_update else query)
    if appointment is None:
        abort(404)
    return appointment


def affairs_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Student Affairs only; a branch user gets 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_affairs:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
