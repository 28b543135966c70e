"""The binding rule both ways in share: one openid ↔ one roster person, each at most once.

A person already bound to another WeChat account is not taken over (that account releases it
with ``解绑``); an openid already bound stays with its person. Every binding, release and (for
the campus login, where the person is proven) refusal writes an audit row in the caller's
transaction: ``binding.bind``, ``binding.unbind``, ``binding.refused``, by ``wechat:<openid>``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from models.binding import WeChatBinding
from models.org import Student, Teacher, TeacherRole

ROLE_NAMES = {"student": "学生", "head_teacher": "兼职班主任", "counsellor": "辅导员"}


class Outcome(enum.StrEnum):
    BOUND = "bound"
    # This openid is already bound to this very person: nothing to do, not an error.
    ALREADY_BOUND = "already_bound"
    NOT_IN_ROSTER = "not_in_roster"
    OPENID_TAKEN = "openid_taken"
    PERSON_TAKEN = "person_taken"


@dataclass(frozen=True)
class BindResult:
    outcome: Outcome
    number: str
    name: str | None = None
    role: str | None = None  # student / head_teacher / counsellor (of the person asked for)
    # For OPENID_TAKEN: who the openid is bound to now.
    bound_name: str | None = None
    bound_role: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.BOUND, Outcome.ALREADY_BOUND)


def actor_for(openid: str) -> str:
    return f"wechat:{openid}"[:64]


def role_of_person(person: Student | Teacher) -> str:
    if isinstance(person, Student):
        return "student"
    return "counsellor" if person.role == TeacherRole.COUNSELLOR else "head_teacher"


def find_person(session: Session, number: str) -> Student | Teacher | None:
    """The student with 学号 ``number``, else the teacher with 工号 ``number``."""
    student = session.scalar(select(Student).where(Student.student_no == number))
    if student is not None:
        return student
    return session.scalar(select(Teacher).where(Teacher.staff_no == number))


def binding_of(session: Session, openid: str) -> WeChatBinding | None:
    return session.scalar(select(WeChatBinding).where(WeChatBinding.openid == openid))


def _person_of(binding: WeChatBinding) -> Student | Teacher:
    person = binding.student if binding.student_id is not None else binding.teacher
    assert person is not None
    return person


def _number_of(person: Student | Teacher) -> str:
    return person.student_no if isinstance(person, Student) else person.staff_no


def bind(session: Session, openid: str, person: Student | Teacher, via: str) -> BindResult:
    """Bind ``openid`` to ``person`` (``via``: ``code`` or ``cas``, for the audit) unless the
    openid or the person is bound elsewhere. Flushes; the caller commits."""
    number, role = _number_of(person), role_of_person(person)
    result = BindResult(Outcome.BOUND, number, person.name, role)
    current = binding_of(session, openid)
    if current is not None:
        bound = _person_of(current)
        if bound is person:
            return BindResult(Outcome.ALREADY_BOUND, number, person.name, role)
        return _refused(
            session,
            openid,
            BindResult(
                Outcome.OPENID_TAKEN,
                number,
                person.name,
                role,
                bound_name=bound.name,
                bound_role=role_of_person(bound),
            ),
            via,
        )
    is_student = isinstance(person, Student)
    column = WeChatBinding.student_id if is_student else WeChatBinding.teacher_id
    if session.scalar(select(WeChatBinding.id).where(column == person.id)) is not None:
        return _refused(
            session, openid, BindResult(Outcome.PERSON_TAKEN, number, person.name, role), via
        )
    binding = WeChatBinding(
        openid=openid,
        student_id=person.id if is_student else None,
        teacher_id=None if is_student else person.id,
    )
    try:
        with session.begin_nested():
            session.add(binding)
            session.flush()
    except IntegrityError:
        # Another request bound this person, or this openid, at the same moment.
        session.expire_all()
        if binding_of(session, openid) is not None:
            return _refused(
                session, openid, BindResult(Outcome.OPENID_TAKEN, number, person.name, role), via
            )
        return _refused(
            session, openid, BindResult(Outcome.PERSON_TAKEN, number, person.name, role), via
        )
    audit.record(session, actor_for(openid), "binding.bind", number, via=via, role=role)
    return result


def bind_number(session: Session, openid: str, number: str, via: str) -> BindResult:
    """Bind ``openid`` to the roster person numbered ``number`` (the campus login: the number
    is proven by CAS, so a miss is audited too)."""
    person = find_person(session, number)
    if person is None:
        return _refused(session, openid, BindResult(Outcome.NOT_IN_ROSTER, number), via)
    return bind(session, openid, person, via)


def _refused(session: Session, openid: str, result: BindResult, via: str) -> BindResult:
    # A wrong binding code proves nothing about who asked (binding_failures counts those); a
    # refusal after the campus login is a known person asking for something: worth a row.
    if via != "code":
        audit.record(
            session,
            actor_for(openid),
            "binding.refused",
            result.number,
            via=via,
            reason=result.outcome.value,
        )
    return result


def unbind(session: Session, openid: str) -> WeChatBinding | None:
    """Release ``openid``'s binding (audited); the released row, or None when unbound."""
    binding = binding_of(session, openid)
    if binding is None:
        return None
    person = _person_of(binding)
    audit.record(
        session,
        actor_for(openid),
        "binding.unbind",
        _number_of(person),
        role=role_of_person(person),
    )
    session.delete(binding)
    session.flush()
    return binding
