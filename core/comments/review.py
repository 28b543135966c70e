"""Review state of free-text comments, and the one way comments are read.

A comment is an ``Answer`` with text in a *closed* round (an open round's answers are sealed and
exist nowhere else). Its state is its ``CommentReview`` row: none (pending), ``shown`` or
``withheld`` (with a reason). Teachers' and branches' pages and the API read comments only
through :func:`visible_comments`, which returns the shown texts sorted by text, and the counts of
withheld and pending ones; nothing says which response, class or day a comment came from.
Below ``min_respondents`` a teacher's comments are shown to nobody and are not queued either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.comments.detect import Hold, hold_reasons
from core.surveys.eligibility import eligibility
from models import (
    Answer,
    CommentReview,
    Department,
    Response,
    Student,
    SurveyRound,
    Teacher,
    Term,
)

SHOWN = "shown"
WITHHELD = "withheld"
DECISIONS = {SHOWN: "显示", WITHHELD: "隐去"}
MIN_REASON = 4


class ReviewError(ValueError):
    """A review that cannot be made; the message says why, in Chinese."""


@dataclass(frozen=True)
class VisibleComments:
    """What a teacher's page, the API and a branch may know of the comments."""

    shown: list[str] = field(default_factory=list)
    withheld: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return len(self.shown) + self.withheld + self.pending


@dataclass
class QueueItem:
    """One comment awaiting review, as Student Affairs sees it in the queue."""

    answer_id: str
    text: str
    teacher_id: int
    staff_no: str
    teacher: str
    department: str
    holds: list[Hold]


def _comment_rows(term_id: int):
    """(answer id, text, teacher id, review status) of the term's comments in closed rounds."""
    return (
        select(Answer.id, Answer.text, Response.teacher_id, CommentReview.status)
        .join(Response, Response.id == Answer.response_id)
        .join(SurveyRound, SurveyRound.id == Response.round_id)
        .outerjoin(CommentReview, CommentReview.answer_id == Answer.id)
        .where(
            SurveyRound.term_id == term_id,
            SurveyRound.closed_at.is_not(None),
            Answer.text.is_not(None),
            Answer.text != "",
        )
    )


def visible_comments(session: Session, term_id: int, teacher_id: int) -> VisibleComments:
    """The teacher's reviewed and shown comments (sorted by text, so no order leads back to a
    student), and how many are withheld or still pending. Callers apply min_respondents."""
    shown: list[str] = []
    withheld = pending = 0
    for _id, text, _teacher, status in session.execute(
        _comment_rows(term_id).where(Response.teacher_id == teacher_id)
    ):
        if status == SHOWN:
            shown.append(text)
        elif status == WITHHELD:
            withheld += 1
        else:
            pending += 1
    return VisibleComments(sorted(shown), withheld, pending)


def respondents_by_teacher(session: Session, term_id: int) -> dict[int, int]:
    """teacher id → responses in the term's closed rounds."""
    return dict(
        session.execute(
            select(Response.teacher_id, func.count())
            .join(SurveyRound, SurveyRound.id == Response.round_id)
            .where(SurveyRound.term_id == term_id, SurveyRound.closed_at.is_not(None))
            .group_by(Response.teacher_id)
        ).all()
    )


def roster_names(session: Session, term: Term, teacher_ids: list[int]) -> dict[int, set[str]]:
    """teacher id → names of the students who rate them in the term (their classes)."""
    rows = eligibility(term).subquery()
    names: dict[int, set[str]] = defaultdict(set)
    if not teacher_ids:
        return names
    for tid, name in session.execute(
        select(rows.c.teacher_id, Student.name)
        .join(Student, Student.id == rows.c.student_id)
        .where(rows.c.teacher_id.in_(teacher_ids))
    ):
        names[tid].add(name)
    return names


def queue(
    session: Session, term: Term, min_respondents: int, department_id: int | None = None
) -> list[QueueItem]:
    """The term's comments awaiting review, held ones first, then by teacher and text. Only
    teachers at or above ``min_respondents`` (below it nobody is shown comments at all)."""
    counts = respondents_by_teacher(session, term.id)
    query = (
        _comment_rows(term.id)
        .add_columns(Teacher.staff_no, Teacher.name, Department.name)
        .join(Teacher, Teacher.id == Response.teacher_id)
        .outerjoin(Department, Department.id == Teacher.department_id)
        .where(CommentReview.status.is_(None))
    )
    if department_id is not None:
        query = query.where(Teacher.department_id == department_id)
    found = [r for r in session.execute(query) if counts.get(r[2], 0) >= min_respondents]
    names = roster_names(session, term, sorted({r[2] for r in found}))
    numbers = set(session.scalars(select(Student.student_no))) if found else set()
    items = [
        QueueItem(
            answer_id=aid,
            text=text,
            teacher_id=tid,
            staff_no=staff_no,
            teacher=teacher,
            department=dep or "",
            holds=hold_reasons(text, names.get(tid, ()), numbers),
        )
        for aid, text, tid, _status, staff_no, teacher, dep in found
    ]
    items.sort(key=lambda i: (not i.holds, i.department, i.staff_no, i.text))
    return items


def review_counts(session: Session, term_id: int) -> dict[str, int]:
    """pending / shown / withheld over the term's comments (every teacher)."""
    out = {"pending": 0, SHOWN: 0, WITHHELD: 0}
    for _aid, _text, _tid, status in session.execute(_comment_rows(term_id)):
        out[status or "pending"] += 1
    return out


def review(
    session: Session,
    term: Term,
    answer_id: str,
    decision: str,
    reason: str,
    actor: str,
    min_respondents: int,
) -> Teacher:
    """Show or withhold one comment of ``term``; audited in the caller's transaction. Raises
    ReviewError (unknown or already reviewed comment, missing reason). A comment that was held
    automatically may be shown only with a reason too (the reviewer says why it is fine)."""
    if decision not in DECISIONS:
        raise ReviewError("请选择「显示」或「隐去」")
    reason = (reason or "").strip()
    row = session.execute(
        _comment_rows(term.id).where(Answer.id == answer_id).with_for_update(of=Answer)
    ).first()
    if row is None:
        raise ReviewError("没有这条意见（或它所在的测评尚未关闭）")
    _aid, text, teacher_id, status = row
    if status is not None:
        raise ReviewError(f"这条意见已审核过（{DECISIONS[status]}），不能再改")
    if respondents_by_teacher(session, term.id).get(teacher_id, 0) < min_respondents:
        raise ReviewError(f"该班主任答卷少于 {min_respondents} 份，意见对任何人都不显示，无需审核")
    teacher = session.get(Teacher, teacher_id)
    holds: list[Hold] = []
    if decision == SHOWN:
        names = roster_names(session, term, [teacher_id]).get(teacher_id, set())
        numbers = set(session.scalars(select(Student.student_no)))
        holds = hold_reasons(text, names, numbers)
    if (decision == WITHHELD or holds) and len(reason) < MIN_REASON:
        raise ReviewError(
            "隐去意见请写明理由（至少 4 个字）"
            if decision == WITHHELD
            else "这条意见被自动标记（" + "、".join(h.label for h in holds) + "），显示前请写明理由"
        )
    session.add(CommentReview(answer_id=answer_id, status=decision, reason=reason or None))
    # The audit row names the teacher and the term, never the text or the answer's id: the log
    # is read more widely than the queue, and a withheld text must stay unread.
    audit.record(
        session,
        actor,
        f"comment.{decision}",
        f"{teacher.staff_no} {term.code}",
        reason=reason,
        held=[h.label for h in holds],
    )
    session.flush()
    return teacher


def show_unheld(
    session: Session, term: Term, actor: str, min_respondents: int, department_id: int | None = None
) -> int:
    """Show every pending comment of the term that nothing held (one audit row for the batch).
    Returns how many were shown."""
    items = [i for i in queue(session, term, min_respondents, department_id) if not i.holds]
    for item in items:
        session.add(CommentReview(answer_id=item.answer_id, status=SHOWN))
    if items:
        audit.record(
            session,
            actor,
            "comment.show_unheld",
            term.code,
            shown=len(items),
            staff=sorted({i.staff_no for i in items}),
        )
    session.flush()
    return len(items)
