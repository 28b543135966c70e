"""先进兼职班主任 candidates (第十九条, 第二十条) from stored term evaluations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.evaluation import grading, queries
from models import Term, TermEvaluation
from models.evaluation import Grade
from models.term import find_term


@dataclass(frozen=True)
class Candidate:
    teacher_id: int
    term_code: str
    previous_term_code: str


def effective_grades(session: Session, term_id: int) -> dict[int, Grade]:
    """teacher id → the grade that stands (Student Affairs' override, else the computed one)."""
    rows = session.execute(
        select(
            TermEvaluation.teacher_id, TermEvaluation.computed_grade, TermEvaluation.override_grade
        ).where(TermEvaluation.term_id == term_id)
    )
    return {tid: override or computed for tid, computed, override in rows}


def award_candidates(session: Session, term: Term) -> list[Candidate]:
    """Teachers 优秀 in ``term`` and in the semester just before it, not dismissed within three
    years before the term's end (or since). Empty when the previous semester has no evaluation."""
    previous_code = grading.previous_term_code(term.code)
    previous = find_term(session, previous_code)
    if previous is None:
        return []
    now = effective_grades(session, term.id)
    before = effective_grades(session, previous.id)
    both = [
        tid
        for tid in sorted(now)
        if now[tid] == Grade.EXCELLENT and before.get(tid) == Grade.EXCELLENT
    ]
    if not both:
        return []
    since = grading.years_before(term.end_date, grading.AWARD_BAN_YEARS)
    dismissed = queries.dismissals_since(session, both, since)
    return [
        Candidate(tid, term.code, previous_code)
        for tid in both
        if grading.is_award_candidate(
            now[tid], before.get(tid), dismissed.get(tid, []), term.end_date
        )
    ]
