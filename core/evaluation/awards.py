"""先进兼职班主任 candidates (第十九条, 第二十条) from stored term evaluations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.evaluation import grading, queries
from models import Award, Teacher, Term, TermEvaluation
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


@dataclass(frozen=True)
class Near:
    """A teacher 优秀 in the term but not in the one before: one more 优秀 semester away from
    先进 (第十九条), unless a dismissal bars them (第二十条)."""

    teacher_id: int
    previous_grade: Grade | None


@dataclass
class Outlook:
    """What the awards page says beside the candidates."""

    term_code: str
    previous_term_code: str
    candidates: list[Candidate]
    near: list[Near]
    # Teachers 优秀 in both semesters whom a dismissal within three years bars (第二十条).
    barred: dict[int, dt.date]
    why_none: list[str]


def explain_none(
    term_evaluated: bool,
    previous_code: str,
    previous_evaluated: bool,
    excellent_now: int,
    excellent_both: int,
    barred: int,
) -> list[str]:
    """Why nobody is a candidate, in the order a reader checks (pure)."""
    if not term_evaluated:
        return ["本学期尚未考核：考核后才能确定先进候选人。"]
    reasons = []
    if not previous_evaluated:
        reasons.append(
            f"上一学期（{previous_code}）没有考核结果，无法判断是否连续两个学期考核优秀（第十九条）。"
        )
    if excellent_now == 0:
        reasons.append("本学期没有考核优秀的班主任（第十九条要求连续两个学期优秀）。")
    elif previous_evaluated and excellent_both == 0:
        reasons.append(
            f"本学期考核优秀的 {excellent_now} 位班主任，上一学期（{previous_code}）都不是优秀。"
        )
    if barred:
        reasons.append(f"{barred} 位连续两个学期优秀，但三年内曾被解聘，不得参评（第二十条）。")
    return reasons


def award_outlook(session: Session, term: Term, teacher_ids: set[int] | None = None) -> Outlook:
    """Candidates, who is one 优秀 term away, who is barred and, with no candidate, why.
    ``teacher_ids``: the caller's visible teachers (None: all)."""
    previous_code = grading.previous_term_code(term.code)
    previous = find_term(session, previous_code)
    now = effective_grades(session, term.id)
    before = effective_grades(session, previous.id) if previous else {}
    if teacher_ids is not None:
        now = {t: g for t, g in now.items() if t in teacher_ids}
    excellent = sorted(t for t, g in now.items() if g == Grade.EXCELLENT)
    both = [t for t in excellent if before.get(t) == Grade.EXCELLENT]
    # Bars are checked as of the term's end, and for those one term away as of the next one's.
    since = grading.years_before(term.end_date, grading.AWARD_BAN_YEARS)
    dismissed = queries.dismissals_since(session, excellent, since) if excellent else {}
    candidates = [
        c
        for c in award_candidates(session, term)
        if teacher_ids is None or c.teacher_id in teacher_ids
    ]
    chosen = {c.teacher_id for c in candidates}
    barred = {t: max(dismissed[t]) for t in both if t not in chosen and dismissed.get(t)}
    next_end = term.end_date + dt.timedelta(days=183)
    near = [
        Near(t, before.get(t))
        for t in excellent
        if t not in both
        and grading.is_award_candidate(
            Grade.EXCELLENT, Grade.EXCELLENT, dismissed.get(t, []), next_end
        )
    ]
    why = (
        []
        if candidates
        else explain_none(
            term.evaluated_at is not None,
            previous_code,
            previous is not None and previous.evaluated_at is not None,
            len(excellent),
            len(both),
            len(barred),
        )
    )
    return Outlook(term.code, previous_code, candidates, near, barred, why)


class AwardError(ValueError):
    """An award that cannot be granted; the message says why, in Chinese."""


def grant_award(session: Session, term: Term, teacher_id: int, actor: str) -> Award:
    """Student Affairs awards a 先进兼职班主任 of ``term``'s academic year (the 荣誉证书 can then
    be made); audited in the caller's transaction. The teacher must be a candidate: of this
    term (第十九条, 第二十条, checked now) or already recorded as one of the year. Raises
    AwardError otherwise, or when already awarded."""
    year = term.code[:9]
    award = session.scalar(
        select(Award)
        .where(Award.teacher_id == teacher_id, Award.academic_year == year)
        .with_for_update()
    )
    if award is not None and award.status == "awarded":
        raise AwardError(f"已于 {year} 学年授予先进兼职班主任")
    if award is None:
        if teacher_id not in {c.teacher_id for c in award_candidates(session, term)}:
            raise AwardError(
                f"该班主任不是 {year} 学年的先进兼职班主任候选人（第十九条：连续两个学期考核优秀）"
            )
        award = Award(teacher_id=teacher_id, academic_year=year, status="candidate")
        session.add(award)
    award.status = "awarded"
    teacher = session.get(Teacher, teacher_id)
    audit.record(session, actor, "award.grant", f"{teacher.staff_no} {year}", name=teacher.name)
    session.flush()
    return award
