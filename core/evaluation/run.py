"""The steps of a term evaluation: plan (which departments), evaluate one department (grouped
queries → grading → upsert), finish (drop stale rows, awards, mark the term evaluated).

The Celery tasks in ``worker.tasks.evaluation`` fan these out over workers, one department a
task; ``evaluate_term`` runs the same code in this process (embedded mode, tests, the benchmark)
with every department in one step, so that each grouped query runs once for the whole school
rather than once per department (issue 17). Each step opens
its own transaction and is idempotent: rows are upserted on (term, teacher), so running a step
twice, or a redelivered task after a worker died, leaves the same rows. The writing steps are
write transactions (``core.db.session_scope(write=True)``): on SQLite a concurrent writer makes
them wait (busy timeout) instead of failing their read-then-write at once with "database is
locked".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import core.db
from core.evaluation import grading, intervals, policy, queries
from core.evaluation.awards import award_candidates
from models import Award, SurveyRound, Term, TermEvaluation
from models.base import utcnow
from models.evaluation import Grade
from models.term import require_term
from models.worklog import LOG_KIND_LABELS, LogKind
from surveys.definition import parse_survey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TermPlan:
    term_id: int
    term_code: str
    departments: dict[int, int]  # department id → teachers to evaluate there


def plan_term(session: Session, term_code: str) -> TermPlan:
    """Which departments have head teachers in office during the term, and how many each."""
    term = require_term(session, term_code)
    counts: dict[int, int] = {}
    for dep in queries.teacher_departments(session, term).values():
        counts[dep] = counts.get(dep, 0) + 1
    return TermPlan(term.id, term.code, dict(sorted(counts.items())))


@dataclass(frozen=True)
class RoundSet:
    """The term's satisfaction rounds and the corroborating questions asked in them."""

    method: str | None
    round_ids: tuple[int, ...]
    # (round id, question id, work-log kind, 1-based option numbers that mean yes)
    corroborations: tuple[tuple[int, str, str, tuple[int, ...]], ...]


def term_rounds(session: Session, term: Term) -> RoundSet:
    """The term's closed rounds: only they count (issue 14.1). An open round's answers are still
    sealed, and counting it would halve every response rate; it is listed as 进行中 instead
    (:func:`open_round_progress`). The satisfaction method is that of the most recently opened
    closed round; closed rounds of the other method are not mixed into the percentage. Several
    closed rounds of one method combine per respondent (README, "Which rounds count")."""
    rounds = session.scalars(
        select(SurveyRound)
        .where(SurveyRound.term_id == term.id, SurveyRound.closed_at.is_not(None))
        .order_by(SurveyRound.opened_at, SurveyRound.id)
    ).all()
    if not rounds:
        return RoundSet(None, (), ())
    method = rounds[-1].definition.get("method", "mean_score")
    counted = [r for r in rounds if r.definition.get("method", "mean_score") == method]
    corroborations = []
    for r in counted:
        definition = parse_survey(r.definition)
        for q in definition.questions:
            if q.corroborates is None:
                continue
            yes = tuple(
                i for i, opt in enumerate(q.options, start=1) if opt.label in q.corroborates.yes
            )
            corroborations.append((r.id, q.id, q.corroborates.kind, yes))
    return RoundSet(method, tuple(r.id for r in counted), tuple(corroborations))


def _kind_label(kind: str) -> str:
    try:
        return LOG_KIND_LABELS[LogKind(kind)]
    except ValueError:
        return kind


def teacher_rows(
    session: Session,
    term: Term,
    departments: dict[int, int],
    min_respondents: int,
    everyone: bool = False,
    min_participation: float = 0,
) -> list[dict[str, Any]]:
    """The term_evaluations values for the teachers of ``departments`` (teacher id → the
    department they are evaluated under), from grouped queries run once for all of them.
    ``everyone``: they are all the term's teachers, so the queries carry no teacher-id list."""
    # Taken before anything is read: a change committed while the queries run is later than
    # the evaluation, so publishing sees it as stale (core.evaluation.readiness).
    now = utcnow()
    facts = _TermFacts.load(session, term, departments, everyone)
    return [
        _teacher_row(facts, term, tid, departments[tid], min_respondents, now, min_participation)
        for tid in sorted(departments)
    ]


@dataclass(frozen=True)
class _TermFacts:
    """What the grouped queries found for the teachers being evaluated, by teacher id."""

    rounds: RoundSet
    appointments: dict[int, queries.AppointmentFacts]
    eligible: dict[int, int]
    sums: dict[int, queries.ResponseSums]
    logs: dict[int, dict[str, int]]
    meetings: dict[int, dict[str, int]]
    incidents: dict[int, dict[str, int]]
    rules: dict[int, policy.TeacherPolicy]
    in_progress: dict[int, list[tuple[int, str, int]]]
    # work-log kind → [students who answered its corroborating questions, who confirmed it]
    corroborated: dict[int, dict[str, list[int]]]

    @classmethod
    def load(
        cls, session: Session, term: Term, departments: dict[int, int], everyone: bool
    ) -> _TermFacts:
        teacher_ids = sorted(departments)
        ids = None if everyone else teacher_ids
        rounds = term_rounds(session, term)
        appts = queries.appointments(session, term, ids)
        return cls(
            rounds=rounds,
            appointments=appts,
            eligible=queries.eligible_students(session, term, ids),
            sums=queries.response_sums(session, rounds.round_ids, ids),
            logs=queries.log_counts(session, term, ids),
            meetings=queries.meeting_counts(session, term, ids),
            incidents=queries.incident_counts(session, term, ids),
            rules=policy.teacher_policy(session, term, departments, appts, everyone=everyone),
            in_progress=queries.open_round_ballots(session, term, teacher_ids),
            corroborated=_corroborated(session, rounds, ids),
        )


def _corroborated(
    session: Session, rounds: RoundSet, ids: list[int] | None
) -> dict[int, dict[str, list[int]]]:
    """teacher id → work-log kind → [answered, confirmed], summed over the corroborating
    questions of the counted rounds (one grouped query a round)."""
    corroborated: dict[int, dict[str, list[int]]] = {}
    by_round: dict[int, list[tuple[str, str, tuple[int, ...]]]] = {}
    for round_id, question_id, kind, yes in rounds.corroborations:
        by_round.setdefault(round_id, []).append((question_id, kind, yes))
    for round_id, asked in by_round.items():
        counts = queries.corroboration_counts(
            session, round_id, [(q, yes) for q, _kind, yes in asked], ids
        )
        for tid, per_question in counts.items():
            for (_q, kind, _yes), (answered, confirmed) in zip(asked, per_question, strict=True):
                acc = corroborated.setdefault(tid, {}).setdefault(kind, [0, 0])
                acc[0] += answered
                acc[1] += confirmed
    return corroborated


def _satisfaction(
    rounds: RoundSet, s: queries.ResponseSums, n_eligible: int
) -> tuple[float | None, tuple[float, float] | None]:
    """The satisfaction (top-box percentage or mean score) and its 95% interval; None, None
    without answers that count."""
    if rounds.method == "top_box":
        if s.top_box_n:
            return (
                100.0 * s.top_box_yes / s.top_box_n,
                intervals.wilson_interval(s.top_box_yes, s.top_box_n),
            )
    elif s.scored:
        return s.score_sum / s.scored, intervals.mean_interval(
            s.scored, s.score_sum, s.score_sq_sum, population=n_eligible * len(rounds.round_ids)
        )
    return None, None


def _corroboration(
    shown: dict[str, list[int]], teacher_logs: dict[str, int]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per work-log kind: how often it was logged and what the students said of it; and a flag
    for each kind that no answering student confirmed."""
    corroboration: dict[str, dict[str, Any]] = {}
    flags = []
    for kind, (answered, confirmed) in sorted(shown.items()):
        logged = teacher_logs.get(kind, 0)
        corroboration[kind] = {
            "logged": logged,
            "answered": answered,
            "confirmed": confirmed,
            "share": confirmed / answered if answered else None,
        }
        if grading.uncorroborated(logged, answered, confirmed):
            flags.append(
                f"{_kind_label(kind)}日志未获学生印证（记录{logged}次，"
                f"{answered}名答题学生无人确认）"
            )
    return corroboration, flags


def _open_rounds(in_progress: list[tuple[int, str, int]], n_eligible: int) -> list[dict]:
    """Rounds still open: shown as 进行中 with their response rate so far; they change no
    grade, rate or flag until they close."""
    return [
        {
            "status": "进行中",
            "round_id": round_id,
            "survey": title,
            "answered": answered,
            "eligible": n_eligible,
            "rate": answered / n_eligible if n_eligible else None,
        }
        for round_id, title, answered in in_progress
    ]


def _teacher_row(
    facts: _TermFacts,
    term: Term,
    tid: int,
    department_id: int,
    min_respondents: int,
    now: dt.datetime,
    min_participation: float = 0,
) -> dict[str, Any]:
    """One teacher's term_evaluations values: grade, flags and the details behind them."""
    a = facts.appointments.get(tid, queries.AppointmentFacts())
    p = facts.rules[tid]
    n_eligible = facts.eligible.get(tid, 0)
    s = facts.sums.get(tid, queries.ResponseSums())
    satisfaction, ci = _satisfaction(facts.rounds, s, n_eligible)
    expected = n_eligible * len(facts.rounds.round_ids)
    rate = s.responses / expected if expected else None
    teacher_logs = facts.logs.get(tid, {})
    teacher_incidents = facts.incidents.get(tid, {})
    grade, reasons = grading.grade_teacher(
        grading.TeacherFacts(
            satisfaction=satisfaction,
            ended_within_first_year=a.ended_within_first_year,
            serious_incidents=teacher_incidents.get("serious", 0),
            other_incidents=teacher_incidents.get("other", 0),
            log_entries=sum(teacher_logs.values()),
            round_closed=bool(facts.rounds.round_ids),
        )
    )
    # Privacy (DESIGN.md): below min_respondents only the percentage and the grade are
    # shown; anything finer (interval, answer-quality counts, how many students confirmed
    # a kind of work) could point at what one of a handful of students answered. Under the
    # minimum participation the satisfaction is 数据不足 and treated the same way.
    detailed = grading.details_shown(s.responses, rate, min_respondents, min_participation)
    if not detailed:
        ci = None
    flags = grading.quality_flags(
        grading.QualityFacts(
            respondents=s.responses,
            eligible=n_eligible,
            response_rate=rate,
            trained=p.trained,
            missed_term_training=p.missed_term_training,
            round_closed=bool(facts.rounds.round_ids),
            straight_lined=s.straight_lined if detailed else 0,
            too_fast=s.too_fast if detailed else 0,
        ),
        min_respondents,
        min_participation,
    )
    corroboration, unconfirmed = _corroboration(
        facts.corroborated.get(tid, {}) if detailed else {}, teacher_logs
    )
    flags += unconfirmed
    meeting_kinds = facts.meetings.get(tid, {})
    months = grading.months_in_office(a.periods, term.start_date, term.end_date)
    return {
        "term_id": term.id,
        "teacher_id": tid,
        "department_id": department_id,
        "classes": "、".join(a.class_codes),
        "respondents": s.responses,
        "eligible": n_eligible,
        "response_rate": rate,
        "satisfaction": satisfaction,
        "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None,
        "computed_grade": grade,
        "reasons": reasons,
        "logs": dict(sorted(teacher_logs.items())),
        "meetings_attended": meeting_kinds.get("staff_meeting", 0)
        + meeting_kinds.get("seminar", 0),
        "trainings_attended": meeting_kinds.get("training", 0),
        "flags": flags,
        "details": {
            "method": facts.rounds.method,
            "scored_respondents": s.scored,
            "straight_lined": s.straight_lined if detailed else None,
            "too_fast": s.too_fast if detailed else None,
            "trained": a.trained,
            "incidents": teacher_incidents,
            "corroboration": corroboration,
            "months": months,
            **p.details(),
            "open_rounds": _open_rounds(facts.in_progress.get(tid, []), n_eligible),
        },
        "months_in_office": len(months),
        "allowance": grading.allowance(months),
        "computed_at": now,
    }


# Columns an evaluation run writes; override_grade/override_reason are Student Affairs' own and
# survive re-evaluation.
_UPDATED = (
    "department_id",
    "classes",
    "respondents",
    "eligible",
    "response_rate",
    "satisfaction",
    "ci_low",
    "ci_high",
    "computed_grade",
    "reasons",
    "logs",
    "meetings_attended",
    "trainings_attended",
    "flags",
    "details",
    "months_in_office",
    "allowance",
    "computed_at",
)


def _dialect_insert(session: Session):
    """The backend's INSERT construct, which has ``on_conflict_do_update/nothing``."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def upsert_evaluations(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (term_id, teacher_id) DO UPDATE, on either backend: one Core
    statement (no ORM mapping) executed for all the rows; psycopg pipelines them."""
    if not rows:
        return
    stmt = _dialect_insert(session)(TermEvaluation.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["term_id", "teacher_id"],
        set_={name: stmt.excluded[name] for name in _UPDATED},
    )
    if session.get_bind().dialect.name != "sqlite":
        session.execute(stmt, rows)
        return
    # Chunked so that one statement's bound parameters stay within SQLite's limit.
    for i in range(0, len(rows), 200):
        session.execute(stmt, rows[i : i + 200])


def evaluate_departments(
    term_id: int,
    department_ids: Collection[int] | None,
    min_respondents: int,
    progress: Callable[[int], None] | None = None,
    min_participation: float = 0,
) -> dict[int, int]:
    """Evaluate the head teachers of these departments (None: every department) in the term,
    in one transaction; returns department id → how many teachers. The grouped queries run
    once for all the departments, then each department's rows are upserted in one statement
    (``progress`` is called with its id after each)."""
    with core.db.session_scope(write=True) as session:
        term = session.get(Term, term_id)
        if term is None:
            raise LookupError(f"term id {term_id} no longer exists")
        active = queries.teacher_departments(session, term)
        wanted = None if department_ids is None else set(department_ids)
        departments = {tid: dep for tid, dep in active.items() if wanted is None or dep in wanted}
        rows = teacher_rows(
            session,
            term,
            departments,
            min_respondents,
            everyone=wanted is None,
            min_participation=min_participation,
        )
        by_department: dict[int, list[dict[str, Any]]] = {
            d: [] for d in sorted(wanted if wanted is not None else set(active.values()))
        }
        for row in rows:
            by_department[row["department_id"]].append(row)
        # A teacher who moved away from a department since the last run is written by the
        # other department's step; one no longer in office in the term is removed by finish.
        for dep, dep_rows in by_department.items():
            upsert_evaluations(session, dep_rows)
            log.info("term %s department %s: %d teachers", term.code, dep, len(dep_rows))
            if progress is not None:
                progress(dep)
        return {dep: len(dep_rows) for dep, dep_rows in by_department.items()}


def evaluate_department(
    term_id: int, department_id: int, min_respondents: int, min_participation: float = 0
) -> int:
    """Evaluate the head teachers of one department in the term; returns how many."""
    return evaluate_departments(
        term_id, [department_id], min_respondents, min_participation=min_participation
    )[department_id]


def finish_term(term_id: int) -> dict[str, Any]:
    """Remove rows of teachers no longer in office in the term, record the award candidates of
    the academic year, and mark the term evaluated."""
    with core.db.session_scope(write=True) as session:
        term = session.get(Term, term_id)
        if term is None:
            raise LookupError(f"term id {term_id} no longer exists")
        active = queries.teacher_departments(session, term)
        session.execute(
            delete(TermEvaluation).where(
                TermEvaluation.term_id == term.id,
                TermEvaluation.teacher_id.not_in(list(active)) if active else True,
            )
        )
        update_award_candidates(session, term)
        # As of when the rows' facts were read (their earliest computed_at), not when this step
        # runs: a change made in between is then later than the evaluation.
        term.evaluated_at = (
            session.scalar(
                select(func.min(TermEvaluation.computed_at)).where(
                    TermEvaluation.term_id == term.id
                )
            )
            or utcnow()
        )
        grades = _grade_counts(session, term.id)
        return {"term": term.code, "teachers": sum(grades.values()), "grades": grades}


def _grade_counts(session: Session, term_id: int) -> dict[str, int]:
    # 待测评 is counted only when some teacher is (a term with a closed round has none).
    out = {g.label: 0 for g in Grade if g is not Grade.PENDING}
    for computed, override in session.execute(
        select(TermEvaluation.computed_grade, TermEvaluation.override_grade).where(
            TermEvaluation.term_id == term_id
        )
    ):
        label = (override or computed).label
        out[label] = out.get(label, 0) + 1
    return out


def update_award_candidates(session: Session, term: Term) -> None:
    """Keep the academic year's 先进兼职班主任 candidates (Award rows with status candidate) equal
    to the candidates of its evaluated semesters; awarded rows are never touched."""
    year = term.code[:9]
    wanted: set[int] = set()
    for sibling in session.scalars(select(Term).where(Term.code.like(f"{year}-%"))):
        if sibling.id == term.id or sibling.evaluated_at is not None:
            wanted.update(c.teacher_id for c in award_candidates(session, sibling))
    existing = {
        a.teacher_id: a for a in session.scalars(select(Award).where(Award.academic_year == year))
    }
    new = [
        {"teacher_id": tid, "academic_year": year, "status": "candidate"}
        for tid in sorted(wanted - existing.keys())
    ]
    if new:
        # A duplicate finishing task may be inserting the same candidates at the same time.
        insert = _dialect_insert(session)
        session.execute(
            insert(Award).on_conflict_do_nothing(index_elements=["teacher_id", "academic_year"]),
            new,
        )
    for tid, award in existing.items():
        if award.status == "candidate" and tid not in wanted:
            session.delete(award)
    session.flush()


def evaluate_term(
    term_code: str,
    min_respondents: int,
    progress: Callable[[int, int], None] | None = None,
    min_participation: float = 0,
) -> dict[str, Any]:
    """Run the whole evaluation in this process: every department in one step (the grouped
    queries once for the whole school, one upsert per department), then the finish step."""
    with core.db.session_scope() as session:
        plan = plan_term(session, term_code)
    total = len(plan.departments)
    done = 0

    def department_done(_dep: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if plan.departments:
        evaluate_departments(
            plan.term_id, None, min_respondents, department_done, min_participation
        )
    return finish_term(plan.term_id)
