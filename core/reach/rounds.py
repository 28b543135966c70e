"""Round notices and reminders (一键催填) to students, within WeChat's rules (issue 15).

- A notice goes to every bound, eligible student with someone left to rate when a round opens:
  one message per student, whatever the number of head teachers.
- A reminder goes only to students with at least one head teacher still unrated (known from
  the ``ballots`` table, never from the sealed answers), at most one per student per school
  day (over all rounds), never between 22:00 and 08:00 school time (queued for 08:00 instead)
  and never on a day the term marks closed (holidays, exams).

Each message is a :func:`core.outbox.queue_reach` row (custom message while the student's
customer-service allowance lasts, else the template message) and a :class:`models.RoundContact` row, in the caller's
transaction. Students without a binding cannot be reached by WeChat: they are counted and
listed per class for their counsellors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, Subquery, func, select
from sqlalchemy.orm import Session

import core.db
from core.outbox import queue_reach
from core.settings import Settings
from core.surveys.eligibility import eligibility
from models import (
    Ballot,
    Department,
    OutboundMessage,
    RoundContact,
    SchoolClass,
    Student,
    SurveyRound,
    Term,
    TermClosedDate,
    WeChatBinding,
    class_members,
)
from models.base import utcnow

NOTICE, REMIND = "notice", "remind"
QUIET_START, QUIET_END = dt.time(22, 0), dt.time(8, 0)


class ReachError(ValueError):
    """A reminder that cannot be sent; the message is the one-line reason (Chinese)."""


def send_time(local_now: dt.datetime) -> tuple[dt.datetime, bool]:
    """When a reminder asked for at ``local_now`` (school time) may go out, and whether that
    is later than now: 08:00 the same or next morning during the quiet hours."""
    t = local_now.timetz().replace(tzinfo=None)
    if t >= QUIET_START:
        day = local_now.date() + dt.timedelta(days=1)
    elif t < QUIET_END:
        day = local_now.date()
    else:
        return local_now, False
    return dt.datetime.combine(day, QUIET_END, local_now.tzinfo), True


def _pending_pairs(session: Session, rnd: SurveyRound) -> tuple[Subquery, Select]:
    """The round's eligible (student, class, teacher) pairs as a subquery, and the ballot of
    each pair in ``rnd`` (``~answered.exists()``: the student has not rated the teacher yet)."""
    term = session.get(Term, rnd.term_id)
    pairs = eligibility(term).subquery()
    answered = select(Ballot.id).where(
        Ballot.round_id == rnd.id,
        Ballot.student_id == pairs.c.student_id,
        Ballot.teacher_id == pairs.c.teacher_id,
    )
    return pairs, answered


def pending_students(
    session: Session,
    rnd: SurveyRound,
    *,
    department_id: int | None = None,
    class_id: int | None = None,
) -> list[tuple[int, int, str | None]]:
    """(student id, class id, openid or None) of each student with a head teacher still
    unrated in ``rnd`` through a class in scope; one row per student (their first class)."""
    pairs, answered = _pending_pairs(session, rnd)
    query = (
        select(pairs.c.student_id, func.min(pairs.c.class_id), func.min(WeChatBinding.openid))
        .outerjoin(WeChatBinding, WeChatBinding.student_id == pairs.c.student_id)
        .where(~answered.exists())
        .group_by(pairs.c.student_id)
        .order_by(pairs.c.student_id)
    )
    if class_id is not None:
        query = query.where(pairs.c.class_id == class_id)
    if department_id is not None:
        in_department = select(SchoolClass.id).where(SchoolClass.department_id == department_id)
        query = query.where(pairs.c.class_id.in_(in_department))
    return [tuple(row) for row in session.execute(query).all()]


def template_values(term: Term, rnd: SurveyRound, title: str, reminder: bool) -> dict[str, str]:
    """The remind template's variables. Issue 23: each keyword value is at most 20 characters
    on one line (the outbox cuts longer ones), so the hint says only what to reply; the
    deadline is a full date, as a ``time`` keyword wants."""
    closes = rnd.closes_on
    deadline = f"{closes.year}年{closes.month}月{closes.day}日" if closes else "未设截止日期"
    return {
        "title": title,
        "term": term.code,
        "deadline": deadline,
        "hint": "尚有班主任未评价，回复「测评」" if reminder else "回复「测评」开始，答案匿名",
    }


def _title(rnd: SurveyRound) -> str:
    return str((rnd.definition or {}).get("title") or rnd.survey_id)


def notify_opened(
    session: Session, term: Term, rnd: SurveyRound, title: str, today: dt.date
) -> int:
    """Queue the round's notice to each bound eligible student with someone left to rate;
    returns how many."""
    deadline = f"，{rnd.closes_on.month}月{rnd.closes_on.day}日截止" if rnd.closes_on else ""
    text = (
        f"{title}（{term.code}）已开始{deadline}。回复「测评」开始，"
        "逐题回答即可，答案匿名保存，任何人都看不到你本人的答案。"
    )
    values = template_values(term, rnd, title, reminder=False)
    noticed = set(
        session.scalars(
            select(RoundContact.student_id).where(
                RoundContact.round_id == rnd.id,
                RoundContact.kind == NOTICE,
                RoundContact.day == today,
            )
        )
    )
    n = 0
    for student_id, _class_id, openid in pending_students(session, rnd):
        if openid is None or student_id in noticed:
            continue
        message = queue_reach(session, openid, text, values)
        session.add(
            RoundContact(
                round_id=rnd.id,
                student_id=student_id,
                kind=NOTICE,
                day=today,
                outbound_id=message.id,
            )
        )
        n += 1
    session.flush()
    return n


@dataclass
class RemindResult:
    reminded: int = 0
    already_today: int = 0
    unbound: int = 0
    # Set when nothing was sent because the day is closed (holiday / exam).
    closed_reason: str | None = None
    deferred_to: dt.datetime | None = None
    outbound_ids: list[int] = field(default_factory=list)


def remind(
    session: Session,
    settings: Settings,
    rnd: SurveyRound,
    *,
    department_id: int | None = None,
    class_id: int | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> RemindResult:
    """Queue a reminder to each bound student of ``rnd`` (within the scope) with a head teacher
    still unrated, not reminded yet on the day it goes out. ``dry_run``: count, queue nothing."""
    now = now or utcnow()
    local = now.astimezone(settings.tz)
    send_at, deferred = send_time(local)
    day = send_at.date()
    term = session.get(Term, rnd.term_id)
    if rnd.closed_at is not None or (rnd.closes_on is not None and rnd.closes_on < local.date()):
        raise ReachError("本轮测评已结束，不再催填")
    result = RemindResult(deferred_to=send_at.astimezone(dt.UTC) if deferred else None)
    closed = session.scalar(
        select(TermClosedDate.reason).where(
            TermClosedDate.term_id == term.id, TermClosedDate.day == day
        )
    )
    if closed is not None:
        result.closed_reason = closed
        return result
    already = set(
        session.scalars(
            select(RoundContact.student_id).where(
                RoundContact.kind == REMIND, RoundContact.day == day
            )
        )
    )
    text = (
        f"【提醒】{_title(rnd)}（{term.code}）你还有班主任未评价"
        + (f"，{rnd.closes_on.month}月{rnd.closes_on.day}日截止" if rnd.closes_on else "")
        + "。回复「测评」继续，答案匿名保存。"
    )
    values = template_values(term, rnd, _title(rnd), reminder=True)
    for student_id, _class_id, openid in pending_students(
        session, rnd, department_id=department_id, class_id=class_id
    ):
        if openid is None:
            result.unbound += 1
            continue
        if student_id in already:
            result.already_today += 1
            continue
        result.reminded += 1
        if dry_run:
            continue
        message = queue_reach(session, openid, text, values, not_before=result.deferred_to)
        result.outbound_ids.append(message.id)
        session.add(
            RoundContact(
                round_id=rnd.id, student_id=student_id, kind=REMIND, day=day, outbound_id=message.id
            )
        )
    session.flush()
    return result


def channel_counts(session: Session, outbound_ids: list[int]) -> dict[str, int]:
    """Outbox rows by channel: custom, template, unreachable (incl. unfollowed), maybe
    (可能已送达: the send timed out, WeChat confirmed nothing), pending; and ``refused``: rows
    whose customer-service attempt WeChat refused (45015 / 45047, issue 23; each then counted
    where it ended, usually template)."""
    out = {"custom": 0, "template": 0, "unreachable": 0, "maybe": 0, "pending": 0, "refused": 0}
    for start in range(0, len(outbound_ids), 500):
        rows = session.execute(
            select(
                OutboundMessage.channel,
                OutboundMessage.sent_at,
                OutboundMessage.failed_at,
                OutboundMessage.refused_errcode,
                OutboundMessage.maybe_delivered_at,
            ).where(OutboundMessage.id.in_(outbound_ids[start : start + 500]))
        ).all()
        for channel, sent_at, failed_at, refused, maybe_at in rows:
            if refused is not None:
                out["refused"] += 1
            if sent_at is not None and channel in ("custom", "template"):
                out[channel] += 1
            elif maybe_at is not None:
                out["maybe"] += 1
            elif failed_at is not None:
                out["unreachable"] += 1
            else:
                out["pending"] += 1
    return out


def round_reach(
    session: Session, round_id: int, department_id: int | None = None
) -> dict[str, int]:
    """The dashboard's figures for a round: notified, reminded, reached by custom/template,
    refused by WeChat (45015 / 45047), unreachable, still pending, and unbound students with someone left to rate; with
    ``department_id``, students of that department's classes only."""
    query = select(RoundContact.kind, RoundContact.outbound_id).where(
        RoundContact.round_id == round_id
    )
    if department_id is not None:
        query = query.where(
            RoundContact.student_id.in_(
                select(class_members.c.student_id)
                .join(SchoolClass, SchoolClass.id == class_members.c.class_id)
                .where(SchoolClass.department_id == department_id)
            )
        )
    rows = session.execute(query).all()
    out = {
        "notified": sum(1 for kind, _ in rows if kind == NOTICE),
        "reminded": sum(1 for kind, _ in rows if kind == REMIND),
    }
    out |= channel_counts(session, [oid for _, oid in rows if oid is not None])
    rnd = session.get(SurveyRound, round_id)
    out["unbound"] = sum(
        1
        for _s, _c, openid in pending_students(session, rnd, department_id=department_id)
        if openid is None
    )
    return out


def unbound_by_class(
    session: Session, rnd: SurveyRound, department_ids: list[int] | None = None
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(department, class name, [(student no, name)]) of pending students without a binding,
    for counsellors; ``department_ids`` restricts to those departments (None: all)."""
    pairs, answered = _pending_pairs(session, rnd)
    bound = select(WeChatBinding.id).where(WeChatBinding.student_id == pairs.c.student_id)
    query = (
        select(Department.name, SchoolClass.name, Student.student_no, Student.name)
        .select_from(pairs)
        .join(SchoolClass, SchoolClass.id == pairs.c.class_id)
        .join(Department, Department.id == SchoolClass.department_id)
        .join(Student, Student.id == pairs.c.student_id)
        .where(~answered.exists(), ~bound.exists())
        .distinct()
        .order_by(Department.name, SchoolClass.name, Student.student_no)
    )
    if department_ids is not None:
        query = query.where(SchoolClass.department_id.in_(department_ids))
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for dept, cls, no, name in session.execute(query).all():
        grouped.setdefault((dept, cls), []).append((no, name))
    return [(d, c, students) for (d, c), students in grouped.items()]


# The beat reminds automatically this many days before a round's closing day.
AUTO_REMIND_DAYS_BEFORE = 2


def remind_rounds_closing_soon(
    settings: Settings, now: dt.datetime | None = None
) -> dict[int, int]:
    """For beat: remind the non-responders of every open round closing in two days (school
    time); returns round id → students reminded. Each round in a transaction of its own."""
    import logging

    now = now or utcnow()
    due = now.astimezone(settings.tz).date() + dt.timedelta(days=AUTO_REMIND_DAYS_BEFORE)
    with core.db.session_scope() as session:
        ids = list(
            session.scalars(
                select(SurveyRound.id).where(
                    SurveyRound.closed_at.is_(None), SurveyRound.closes_on == due
                )
            )
        )
    out = {}
    for round_id in ids:
        try:
            with core.db.session_scope(write=True) as session:
                result = remind(session, settings, session.get(SurveyRound, round_id), now=now)
        except ReachError:  # rolled back; the other rounds are still reminded
            logging.getLogger(__name__).exception("could not remind round %s", round_id)
            continue
        out[round_id] = result.reminded
    return out
