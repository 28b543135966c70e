"""Publishing a term's evaluation results to the head teachers (``Term.published_at``).

Once a term is published, each head teacher may see their own result by chat (``考核结果``)
and is told it once through the outbox by :func:`announce_results`
(hourly on the beat; right away, in-process, in embedded mode where there is no beat). The
command line and the dashboard both change the state here, with an audit row in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

import core.db
from core import audit
from core.celery_app import configure_celery
from core.evaluation.readiness import OpenRound, Readiness, assess
from core.outbox import queue_text_for
from core.reports import evaluation_rows
from core.settings import Settings
from models import (
    Incident,
    Meeting,
    MeetingKind,
    Reminder,
    Survey,
    SurveyRound,
    Term,
    TermEvaluation,
    WorkLogEntry,
)
from models.base import utcnow
from models.term import find_term


class PublishError(ValueError):
    """The term cannot be published or withdrawn; the message says why, in one line."""


def _local(value: dt.datetime, settings: Settings | None) -> str:
    if settings is not None:
        value = value.astimezone(settings.tz)
    return value.strftime("%Y-%m-%d %H:%M")


def open_rounds(session: Session, term: Term) -> list[OpenRound]:
    """The term's satisfaction rounds not closed yet, oldest first."""
    rows = session.execute(
        select(Survey.title, SurveyRound.closes_on)
        .join(Survey, Survey.id == SurveyRound.survey_id)
        .where(SurveyRound.term_id == term.id, SurveyRound.closed_at.is_(None))
        .order_by(SurveyRound.opened_at, SurveyRound.id)
    )
    return [OpenRound(title, closes_on) for title, closes_on in rows]


def latest_changes(session: Session, term: Term) -> dict[str, dt.datetime | None]:
    """Per kind of change the evaluation counts, the latest one (one small query each, on
    indexed columns; see readiness.CHANGE_LABELS)."""
    in_term_logs = WorkLogEntry.occurred_on.between(term.start_date, term.end_date)
    return {
        "round_closed": session.scalar(
            select(func.max(SurveyRound.closed_at)).where(SurveyRound.term_id == term.id)
        ),
        "override": session.scalar(
            select(func.max(TermEvaluation.override_at)).where(TermEvaluation.term_id == term.id)
        ),
        "worklog": session.scalar(select(func.max(WorkLogEntry.created_at)).where(in_term_logs)),
        "worklog_undone": term.inputs_changed_at,
        "incident": session.scalar(
            select(func.max(Incident.created_at)).where(Incident.term_id == term.id)
        ),
        # The term's meetings, and trainings before it (第十二条 岗前培训: attended on or before
        # the term's last day).
        "meeting": session.scalar(
            select(func.max(Meeting.created_at)).where(
                Meeting.held_on <= term.end_date,
                or_(Meeting.held_on >= term.start_date, Meeting.kind == MeetingKind.TRAINING),
            )
        ),
    }


def readiness(session: Session, term: Term) -> Readiness:
    """Whether ``term``'s stored evaluation may be published now, and if not why."""
    return assess(
        term.code, term.evaluated_at, open_rounds(session, term), latest_changes(session, term)
    )


def set_published(
    session: Session,
    term_code: str,
    *,
    publish: bool = True,
    actor: str = "cli",
    settings: Settings | None = None,
    force_reason: str | None = None,
) -> Term:
    """Publish (or, ``publish=False``, withdraw) the results of ``term_code``; adds the audit
    row, does not commit. Raises PublishError for an unknown term, a term not evaluated yet,
    one already in the asked state, or one whose evaluation may not be published
    (:func:`readiness`) unless ``force_reason`` says why it is published all the same (kept
    in the audit row with what was overridden)."""
    term = find_term(session, term_code)
    if term is None:
        raise PublishError(f"没有学期 {term_code}（用 banzhuren term add 添加）")
    overridden: list[str] = []
    if publish:
        if term.published_at is not None:
            raise PublishError(
                f"学期 {term_code} 的考核结果已于 {_local(term.published_at, settings)} 发布"
            )
        ready = readiness(session, term)
        if not ready.evaluated:
            raise PublishError(ready.problems[0])
        if not ready.allowed:
            if force_reason is None or len(force_reason.strip()) < 4:
                raise PublishError("；".join(ready.problems))
            overridden = ready.problems
        term.published_at = utcnow()
    else:
        if term.published_at is None:
            raise PublishError(f"学期 {term_code} 的考核结果尚未发布，无需撤回")
        term.published_at = None
    teachers = session.scalar(
        select(func.count(TermEvaluation.id)).where(TermEvaluation.term_id == term.id)
    )
    extra = {}
    if overridden and force_reason is not None:
        extra = {"forced": True, "reason": force_reason.strip(), "problems": overridden}
    audit.record(
        session,
        actor,
        "term.publish" if publish else "term.unpublish",
        term_code,
        teachers=teachers,
        **extra,
    )
    session.flush()
    return term


def announce_now(settings: Settings) -> int:
    """Embedded mode has no beat: tell the teachers now, in this process (after the
    publication committed). Teachers already told are not told again, so this and a later beat
    run never announce twice. Returns how many teachers were told."""
    configure_celery(settings)  # the outbox sends with these settings
    with core.db.session_scope(write=True) as session:
        return announce_results(session)


def announce_results(session: Session) -> int:
    """Tell each head teacher their own result once the term is published (beat, hourly). A
    Reminder row (kind ``result:<term>``) records who was told, so nobody is told twice; a
    teacher without a bound WeChat is tried again on a later run. Returns how many were told."""
    sent = 0
    terms = session.scalars(select(Term).where(Term.published_at.is_not(None))).all()
    for term in terms:
        kind = f"result:{term.code}"
        told = set(session.scalars(select(Reminder.teacher_id).where(Reminder.kind == kind)))
        pending = session.scalars(
            select(TermEvaluation.teacher_id).where(TermEvaluation.term_id == term.id)
        ).all()
        if not set(pending) - told:
            continue
        for row in evaluation_rows(session, term.code):
            tid = row["teacher_id"]
            if tid in told:
                continue
            if queue_text_for(session, teacher_id=tid, text=result_text(row, term.code)):
                session.add(Reminder(teacher_id=tid, kind=kind))
                sent += 1
    return sent


def result_text(row: dict[str, Any], term_code: str) -> str:
    """The message a head teacher gets about their own published result."""
    parts = [f"【学期考核结果】{term_code} 学期：{row['grade']}"]
    if row["satisfaction_pct"] is not None:
        parts.append(f"学生满意度 {row['satisfaction_pct']:.1f}%")
    if row["reasons"]:
        parts.append("原因：" + "、".join(row["reasons"]))
    parts.append(f"工作日志 {sum(row['logs'].values())} 条")
    return "；".join(parts) + "。如有疑问请联系所在党总支。"
