"""Survey rounds: registering definitions, opening and closing a round in a term, who must rate
whom, and how far a round has got.

Eligibility (第十五条 学生满意度测评): a student rates each head teacher with an appointment in force
during the term on one of the student's classes: status 聘任, or 解聘 / 辞职 on or after the term's
start. Commands flush; the caller (CLI, dashboard request, chat router) commits.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (
    Date,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    distinct,
    exists,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import core.db
from core.fastsql import FastStatement
from core.reach.rounds import notify_opened
from core.settings import Settings
from core.surveys import seal as survey_seal
from core.surveys.eligibility import eligibility, eligibility_between
from core.surveys.seal_key import SealError
from models import (
    Answer,
    AuditLog,
    Ballot,
    Response,
    SchoolClass,
    SealedEnvelope,
    Survey,
    SurveyDraft,
    SurveyRound,
    Teacher,
    Term,
    class_members,
)
from models.base import utcnow
from models.term import find_term
from surveys.definition import SurveyDefinition, parse_survey

log = logging.getLogger(__name__)


class RoundError(ValueError):
    """A round command that cannot be done; the message is the one-line reason (Chinese)."""


def register_survey(
    session: Session, definition: SurveyDefinition, actor: str = "cli"
) -> tuple[Survey, str]:
    """Store or update a definition. Returns the survey and "created", "updated" or "unchanged".

    Open rounds keep the snapshot they were opened with: an update only affects later rounds.
    """
    data = definition.to_dict()
    survey = session.get(Survey, definition.id)
    if survey is None:
        survey = Survey(
            id=definition.id, title=definition.title, method=definition.method, definition=data
        )
        session.add(survey)
        status = "created"
    elif survey.definition == data:
        status = "unchanged"
    else:
        survey.title, survey.method, survey.definition = (
            definition.title,
            definition.method,
            data,
        )
        survey.version = (survey.version or 1) + 1
        status = "updated"
    if status != "unchanged":
        session.add(
            AuditLog(
                actor=actor,
                action=f"survey.{status}",
                target=definition.id,
                detail={"questions": len(definition.questions), "survey": definition.title},
            )
        )
    session.flush()
    return survey, status


@dataclass(frozen=True)
class RoundState:
    """What the chat needs of a round on every message, read by :func:`round_state` in one
    query without building ORM objects: whether it is open, its term, and its definition
    snapshot as the stored JSON text (parsed once per process, :func:`round_definition`)."""

    id: int
    term_id: int
    closes_on: dt.date | None
    closed_at: dt.datetime | None
    snapshot: str


_ROUNDS, _TERMS = SurveyRound.__table__, Term.__table__
# A RoundState's columns, labelled, so that a statement reading other things too can read the
# round through :func:`join_round_state` (the webhook reads a draft's round with the sender).
ROUND_STATE_COLUMNS = (
    _ROUNDS.c.id.label("round_id"),
    _ROUNDS.c.term_id.label("round_term_id"),
    _ROUNDS.c.closes_on.label("round_closes_on"),
    _ROUNDS.c.closed_at.label("round_closed_at"),
    cast(_ROUNDS.c.definition, Text).label("round_snapshot"),
)
_ROUND_STATE = select(*ROUND_STATE_COLUMNS).where(_ROUNDS.c.id == bindparam("round_id"))


def join_round_state(stmt: Select, round_id) -> Select:
    """``stmt`` (selecting :data:`ROUND_STATE_COLUMNS`) outer-joined to the round whose id is
    the column ``round_id``."""
    return stmt.outerjoin(_ROUNDS, _ROUNDS.c.id == round_id)


def round_state_of(row) -> RoundState | None:
    """The :class:`RoundState` in a row selecting :data:`ROUND_STATE_COLUMNS` (None: no round)."""
    if row.round_id is None:
        return None
    return RoundState(
        row.round_id,
        row.round_term_id,
        row.round_closes_on,
        row.round_closed_at,
        row.round_snapshot,
    )


def round_state(session: Session, round_id: int) -> RoundState | None:
    """The round ``round_id`` as a :class:`RoundState`, or None when there is no such round."""
    row = session.execute(_ROUND_STATE, {"round_id": round_id}).first()
    return None if row is None else round_state_of(row)


@functools.lru_cache(maxsize=32)
def _parsed_snapshot(snapshot: str) -> SurveyDefinition:
    # Keyed by the snapshot's whole text, not by round id: ids are reused when a database is
    # emptied (tests) and one process may serve several databases, but equal text is always
    # the same definition. A round's snapshot never changes once opened, so entries never go
    # stale; the parsed definition is frozen, so sharing it between threads is safe.
    return parse_survey(json.loads(snapshot))


def round_definition(rnd: SurveyRound | RoundState) -> SurveyDefinition:
    """The definition a round was opened with (parsed once per process and snapshot)."""
    if isinstance(rnd, RoundState):
        return _parsed_snapshot(rnd.snapshot)
    return _parsed_snapshot(json.dumps(rnd.definition, sort_keys=True, ensure_ascii=False))


@dataclass(frozen=True)
class TeacherToRate:
    """A head teacher a student must rate, with the classes that link them."""

    teacher_id: int
    name: str
    class_names: tuple[str, ...]
    first_year: bool
    final_year: bool

    @property
    def label(self) -> str:
        """王老师（钢琴2101班）: how the dialogue names the teacher."""
        return f"{self.name}老师（{'、'.join(self.class_names)}）"


# Built once (it runs when a student starts or submits a survey, on the webhook's hot path);
# columns only, no ORM objects. Parameters: term_start, term_end, student_id.
_STUDENT_PAIRS = (
    eligibility_between(bindparam("term_start", type_=Date), bindparam("term_end", type_=Date))
    .where(class_members.c.student_id == bindparam("student_id"))
    .subquery()
)
_TEACHERS, _CLASSES = Teacher.__table__, SchoolClass.__table__
_TEACHERS_FOR_STUDENT = (
    select(
        _TEACHERS.c.id,
        _TEACHERS.c.name,
        _CLASSES.c.name.label("class_name"),
        _CLASSES.c.entry_year,
        _CLASSES.c.years,
    )
    .join(_STUDENT_PAIRS, _STUDENT_PAIRS.c.teacher_id == _TEACHERS.c.id)
    .join(_CLASSES, _CLASSES.c.id == _STUDENT_PAIRS.c.class_id)
    .order_by(_TEACHERS.c.name, _TEACHERS.c.id, _CLASSES.c.code)
)


def teachers_for_student(session: Session, term: Term, student_id: int) -> list[TeacherToRate]:
    """The head teachers ``student_id`` rates in ``term``, ordered by name then id."""
    rows = session.execute(
        _TEACHERS_FOR_STUDENT,
        {"term_start": term.start_date, "term_end": term.end_date, "student_id": student_id},
    ).all()
    grouped: dict[int, tuple[str, list]] = {}
    for row in rows:
        grouped.setdefault(row.id, (row.name, []))[1].append(row)
    # A class's year of study is taken on the term's first day (the academic year starts in
    # September, so a spring term belongs to the same year as the autumn before it). The rules
    # are SchoolClass's own, on a transient copy holding the columns they read.
    on = term.start_date
    out = []
    for teacher_id, (name, rows_of_teacher) in grouped.items():
        classes = [SchoolClass(entry_year=r.entry_year, years=r.years) for r in rows_of_teacher]
        out.append(
            TeacherToRate(
                teacher_id=teacher_id,
                name=name,
                class_names=tuple(r.class_name for r in rows_of_teacher),
                first_year=any(c.is_first_year(on) for c in classes),
                final_year=any(c.is_final_year(on) for c in classes),
            )
        )
    return out


def _term(session: Session, term_code: str) -> Term:
    term = find_term(session, term_code)
    if term is None:
        raise RoundError(f"学期 {term_code} 不存在（先用 banzhuren term add 添加）")
    return term


def _round(session: Session, term: Term, survey_id: str) -> SurveyRound | None:
    return session.scalar(
        select(SurveyRound).where(
            SurveyRound.term_id == term.id, SurveyRound.survey_id == survey_id
        )
    )


def find_round(session: Session, term_code: str, survey_id: str) -> SurveyRound | None:
    """The round of survey ``survey_id`` in the term coded ``term_code``, if there is one."""
    term = find_term(session, term_code)
    return None if term is None else _round(session, term, survey_id)


def round_is_open(rnd: SurveyRound | RoundState, today: dt.date) -> bool:
    """Open for students: not closed, and its closing day (if any) not yet past."""
    return rnd.closed_at is None and (rnd.closes_on is None or today <= rnd.closes_on)


def open_round(
    session: Session,
    term_code: str,
    survey_id: str,
    closes_on: dt.date | None = None,
    actor: str = "cli",
    today: dt.date | None = None,
) -> SurveyRound:
    """Open the survey's round in the term and tell every bound eligible student by WeChat.

    The definition is copied into the round. A round closed earlier cannot be opened again (its
    answers were opened and published as anonymous responses; open another survey instead); an
    open one past its closing day is extended. Students who have answered about all their
    teachers are not notified again.
    """
    term = _term(session, term_code)
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise RoundError(f"问卷 {survey_id} 未注册（先用 banzhuren survey load FILE.yaml 导入）")
    today = today or dt.date.today()
    if closes_on is not None and closes_on < today:
        raise RoundError(f"截止日期 {closes_on} 已过（今天是 {today}）")
    rnd = _round(session, term, survey_id)
    if rnd is not None and rnd.closed_at is not None:
        raise RoundError(
            f"学期 {term_code} 的问卷 {survey_id} 已于 {rnd.closed_at:%Y-%m-%d} 关闭，"
            "关闭的测评不能重新开放（答卷已解封为匿名结果）；请另建问卷再开放"
        )
    if rnd is not None:
        if rnd.closes_on is None or rnd.closes_on >= today:
            raise RoundError(f"学期 {term_code} 的问卷 {survey_id} 已在进行中")
        action = "round.extend"
    else:
        action = "round.open"
    if rnd is None:
        rnd = SurveyRound(term_id=term.id, survey_id=survey_id, definition=survey.definition)
        session.add(rnd)
    rnd.closed_at = None
    rnd.closes_on = closes_on
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            target=f"{term_code}/{survey_id}",
            detail={
                "closes_on": closes_on.isoformat() if closes_on else None,
                # The survey's title, for the 操作记录 page (the target holds its code).
                "survey": survey.title,
            },
        )
    )
    session.flush()
    _notify_students(session, term, rnd, survey.title, today)
    return rnd


def _notify_students(
    session: Session, term: Term, rnd: SurveyRound, title: str, today: dt.date
) -> int:
    """Queue a WeChat notice to each bound eligible student with someone left to rate (one per
    student; custom message while the allowance lasts, else the template message: core.reach)."""
    return notify_opened(session, term, rnd, title, today)


def close_round(
    session: Session,
    term_code: str,
    survey_id: str,
    actor: str = "cli",
    *,
    settings: Settings,
) -> SurveyRound:
    """Close the round: open its sealed envelopes into anonymous responses (see
    :func:`open_envelopes`); drafts left unsubmitted are deleted, not counted. Raises
    :class:`RoundError` before changing anything when an envelope cannot be opened.

    Run it in a transaction of its own (the CLI and the dashboard do) and call
    :func:`after_close` once it has committed."""
    term = _term(session, term_code)
    if session.get(Survey, survey_id) is None:
        raise RoundError(f"问卷 {survey_id} 未注册")
    rnd = _round(session, term, survey_id)
    if rnd is None:
        raise RoundError(f"学期 {term_code} 没有问卷 {survey_id} 的测评轮次")
    if rnd.closed_at is not None:
        raise RoundError(f"学期 {term_code} 的问卷 {survey_id} 已于 {rnd.closed_at:%Y-%m-%d} 关闭")
    # Wait for submissions in flight (they hold the row FOR SHARE); later ones see it closed.
    session.execute(
        select(SurveyRound.id).where(SurveyRound.id == rnd.id).with_for_update()
    ).first()
    opened = open_envelopes(session, settings, rnd.id)
    rnd.closed_at = utcnow()
    session.add(
        AuditLog(
            actor=actor,
            action="round.close",
            target=f"{term_code}/{survey_id}",
            detail={"responses": opened, "survey": rnd.definition.get("title", survey_id)},
        )
    )
    session.flush()
    return rnd


def close_due_rounds(settings: Settings, today: dt.date | None = None) -> list[int]:
    """Close every open round whose closing day is before ``today`` (the school's date), each
    in a transaction of its own; returns the ids closed. For beat."""
    today = today or dt.datetime.now(settings.tz).date()
    with core.db.session_scope() as session:
        due = session.execute(
            select(Term.code, SurveyRound.survey_id, SurveyRound.id)
            .join(Term, Term.id == SurveyRound.term_id)
            .where(SurveyRound.closed_at.is_(None), SurveyRound.closes_on < today)
            .order_by(SurveyRound.id)
        ).all()
    closed = []
    for term_code, survey_id, round_id in due:
        try:
            with core.db.session_scope(write=True) as session:
                close_round(session, term_code, survey_id, actor="beat", settings=settings)
        except RoundError:  # rolled back; the other rounds are still closed
            log.exception("could not close survey round %s", round_id)
            continue
        after_close(session)
        closed.append(round_id)
    return closed


def open_envelopes(session: Session, settings: Settings, round_id: int) -> int:
    """Write the round's sealed submissions as Response/Answer rows and delete the envelopes and
    drafts; returns how many responses were written.

    Every envelope is opened first (a missing key raises :class:`RoundError` and writes nothing).
    The responses, and separately the answers, are then inserted in an order drawn from the
    operating system's random source, with fresh random ids, in the caller's transaction, which
    must not be one that wrote a ballot: the rows' physical order (SQLite rowid, PostgreSQL ctid,
    a dump's order) is random, and on PostgreSQL they all share one xmin that no ballot has.
    Responses carry no date or time. One transaction rather than batches: all or nothing (a
    crash leaves the envelopes, and closing again opens them), and no batch boundary that
    could order the rows."""
    rows = session.execute(
        select(SealedEnvelope.id, SealedEnvelope.sealed).where(SealedEnvelope.round_id == round_id)
    ).all()
    context = survey_seal.envelope_context(round_id)
    try:
        contents = [survey_seal.unseal(settings, sealed, context) for _id, sealed in rows]
    except SealError as exc:
        raise RoundError(
            f"无法打开本轮测评的密封答卷（{exc}）：请配置开放本轮时使用的 BANZHUREN_SEAL_KEY"
            "（或 BANZHUREN_SEAL_PREVIOUS_KEY）后再关闭"
        ) from None
    rng = secrets.SystemRandom()
    rng.shuffle(contents)
    responses, answers = [], []
    for content in contents:
        response_id = uuid.uuid4().hex
        responses.append(
            dict(
                content["response"],
                id=response_id,
                round_id=round_id,
                teacher_id=content["teacher_id"],
            )
        )
        answers += [
            dict(a, id=uuid.uuid4().hex, response_id=response_id) for a in content["answers"]
        ]
    rng.shuffle(answers)
    for start in range(0, len(responses), 500):
        session.execute(Response.__table__.insert(), responses[start : start + 500])
    for start in range(0, len(answers), 2000):
        session.execute(Answer.__table__.insert(), answers[start : start + 2000])
    session.execute(delete(SealedEnvelope).where(SealedEnvelope.round_id == round_id))
    session.execute(delete(SurveyDraft).where(SurveyDraft.round_id == round_id))
    return len(responses)


def after_close(session: Session) -> None:
    """After a close has committed: on PostgreSQL, rewrite the tables the envelopes and drafts
    were deleted from (VACUUM FULL: the deleted rows leave the data files, not only the
    visibility map) and vacuum the new responses (SQLite overwrites deleted rows itself,
    ``secure_delete``). Best effort: a failure is logged, the close stands."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("sealed_envelopes", "survey_drafts"):
                conn.exec_driver_sql(f"VACUUM FULL {table}")
            for table in ("responses", "answers"):
                conn.exec_driver_sql(f"VACUUM {table}")
    except Exception:
        log.exception("VACUUM after closing a survey round failed")


def envelope_status(
    session: Session, settings: Settings, limit: int | None = None
) -> dict[int, tuple[int, int]]:
    """Open round id → (envelopes and drafts, how many of them the configured keys open).
    ``limit``: at most that many envelopes and that many drafts of each round (a sample)."""
    out: dict[int, tuple[int, int]] = {}
    open_ids = select(SurveyRound.id).where(SurveyRound.closed_at.is_(None))
    for model, context in (
        (SealedEnvelope, lambda r: survey_seal.envelope_context(r.round_id)),
        (SurveyDraft, lambda r: survey_seal.draft_context(r.openid)),
    ):
        if limit is None:
            rows = list(session.scalars(select(model).where(model.round_id.in_(open_ids))))
        else:
            rows = [
                row
                for round_id in session.scalars(open_ids)
                for row in session.scalars(
                    select(model).where(model.round_id == round_id).limit(limit)
                )
            ]
        for row in rows:
            total, ok = out.get(row.round_id, (0, 0))
            try:
                survey_seal.unseal(settings, row.sealed, context(row))
                ok += 1
            except SealError:
                pass
            out[row.round_id] = (total + 1, ok)
    return out


def refuse_without_seal_keys(settings: Settings) -> None:
    """At process start (web app, worker): :func:`check_seal_keys` on a session of its own.
    A database not reachable or not initialised yet is not this check's business (logged)."""
    try:
        with core.db.session_scope() as session:
            check_seal_keys(session, settings)
    except DBAPIError as exc:
        log.warning("seal key check skipped: %s", str(exc).splitlines()[0])


def check_seal_keys(session: Session, settings: Settings) -> None:
    """Refuse to run (raise :class:`SealError`) when the open rounds' envelopes or
    drafts cannot all be opened with the configured keys: a process started with a wrong or
    lost key would otherwise seal with it, or fail to close the round, silently."""
    bad = {r: (t, ok) for r, (t, ok) in envelope_status(session, settings).items() if ok < t}
    if bad:
        detail = "；".join(f"轮次 {r}：{ok}/{t} 份可打开" for r, (t, ok) in sorted(bad.items()))
        raise SealError(
            f"测评密封密钥不对：进行中的测评有答卷无法打开（{detail}）。"
            "请设置开放这些测评时的 BANZHUREN_SEAL_KEY（轮换后旧密钥放在 BANZHUREN_SEAL_PREVIOUS_KEY）"
        )


class TermDates(NamedTuple):
    """What the chat needs of a round's term (:func:`open_round_states`)."""

    id: int
    code: str
    start_date: dt.date
    end_date: dt.date


_OPEN_ROUND_STATES = FastStatement(
    select(*ROUND_STATE_COLUMNS, _TERMS.c.code, _TERMS.c.start_date, _TERMS.c.end_date)
    .join(_TERMS, _TERMS.c.id == _ROUNDS.c.term_id)
    .where(_ROUNDS.c.closed_at.is_(None))
    .order_by(_ROUNDS.c.id)
)


def open_round_states(session: Session) -> list[tuple[RoundState, TermDates]]:
    """:func:`open_rounds` as :class:`RoundState` with their terms' dates, in one statement and
    without ORM objects (the survey dialogue's 测评)."""
    return [
        (round_state_of(row), TermDates(row.round_term_id, row.code, row.start_date, row.end_date))
        for row in _OPEN_ROUND_STATES.execute(session, {})
    ]


_TERM_DATES = FastStatement(
    select(_TERMS.c.id, _TERMS.c.code, _TERMS.c.start_date, _TERMS.c.end_date).where(
        _TERMS.c.id == bindparam("term_id")
    )
)


def term_dates(session: Session, term_id: int) -> TermDates | None:
    """The term ``term_id``'s dates, without an ORM object."""
    row = _TERM_DATES.first(session, {"term_id": term_id})
    return None if row is None else TermDates(*row)


def open_rounds(session: Session) -> list[SurveyRound]:
    """Rounds not closed by a command (some may be past their closing day), oldest first."""
    rows = session.scalars(
        select(SurveyRound).where(SurveyRound.closed_at.is_(None)).order_by(SurveyRound.id)
    ).all()
    return list(rows)


def round_progress(session: Session, round_id: int, department_id: int | None = None) -> list[dict]:
    """Per head teacher of the round's term: eligible students, ballots in, and the rate (0-1).

    With ``department_id``, only the students of that department's classes count (a branch's
    figures: a teacher it borrows from another department is counted in its classes alone,
    never with their other classes' students). Ordered by teacher name. Both counts are
    single grouped queries, for the dashboard.
    """
    rnd = session.get(SurveyRound, round_id)
    if rnd is None:
        raise RoundError(f"测评轮次 {round_id} 不存在")
    term = session.get(Term, rnd.term_id)
    pairs_query = eligibility(term)
    if department_id is not None:
        pairs_query = pairs_query.where(
            pairs_query.selected_columns.class_id.in_(
                select(SchoolClass.id).where(SchoolClass.department_id == department_id)
            )
        )
    pairs = pairs_query.subquery()
    per_teacher = (
        select(pairs.c.teacher_id, func.count(distinct(pairs.c.student_id)).label("n"))
        .group_by(pairs.c.teacher_id)
        .subquery()
    )
    ballots = select(Ballot.teacher_id, func.count(Ballot.id)).where(Ballot.round_id == round_id)
    if department_id is not None:
        ballots = ballots.where(
            exists().where(
                pairs.c.student_id == Ballot.student_id, pairs.c.teacher_id == Ballot.teacher_id
            )
        )
    answered = dict(session.execute(ballots.group_by(Ballot.teacher_id)).all())
    rows = session.execute(
        select(Teacher.id, Teacher.staff_no, Teacher.name, per_teacher.c.n)
        .join(per_teacher, per_teacher.c.teacher_id == Teacher.id)
        .order_by(Teacher.name, Teacher.id)
    ).all()
    out = []
    for teacher_id, staff_no, name, eligible in rows:
        done = answered.get(teacher_id, 0)
        out.append(
            {
                "teacher_id": teacher_id,
                "staff_no": staff_no,
                "teacher": name,
                "eligible": eligible,
                "answered": done,
                "rate": done / eligible if eligible else None,
            }
        )
    return out
