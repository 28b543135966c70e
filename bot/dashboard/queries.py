"""Read side of the dashboard and the API: every function takes the caller's department scope
(None = Student Affairs) and applies it in SQL."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.dashboard.access import evaluation_condition, teacher_condition
from core.comments.review import VisibleComments, visible_comments
from core.evaluation.policy import report_fields, resolve_branch_attendees
from core.evaluation.queries import kind_value
from core.trends import mean_with_interval
from models import (
    Answer,
    Appointment,
    Department,
    Grade,
    Incident,
    LogKind,
    Response,
    SurveyRound,
    Teacher,
    Term,
    TermEvaluation,
    WorkLogEntry,
)
from models.evaluation import GRADE_LABELS
from models.worklog import LOG_KIND_LABELS

GRADE_ORDER = (Grade.EXCELLENT, Grade.GOOD, Grade.PASS, Grade.FAIL, Grade.PENDING)
# The grades a term's overview always shows, even at 0; 待测评 only when some teacher is.
SHOWN_GRADES = (Grade.EXCELLENT, Grade.GOOD, Grade.PASS, Grade.FAIL)


def reason_text(reason: Any) -> str:
    """A failing reason or flag as stored by the evaluation: Chinese text (a dict with a
    label is shown by its label, should a later evaluation store structured reasons)."""
    if isinstance(reason, dict):
        for key in ("label", "text", "reason", "detail", "code"):
            if reason.get(key):
                return str(reason[key])
        return "；".join(f"{k}: {v}" for k, v in reason.items())
    return str(reason)


def flag_text(flag: Any) -> str:
    """A flag as stored by the evaluation (Chinese text, e.g. 答卷少于5份)."""
    return reason_text(flag)


def log_label(kind: str) -> str:
    try:
        return LOG_KIND_LABELS[LogKind(kind)]
    except ValueError:
        return kind


# --- terms ------------------------------------------------------------------------------


def all_terms(session: Session) -> list[Term]:
    return list(session.scalars(select(Term).order_by(Term.start_date.desc())))


def pick_term(session: Session, code: str | None, today: dt.date) -> Term | None:
    """The term asked for, else the one running today, else the latest that has started."""
    terms = all_terms(session)
    if code:
        return next((t for t in terms if t.code == code), None)
    running = [t for t in terms if t.contains(today)]
    started = [t for t in terms if t.start_date <= today]
    return (running or started or terms or [None])[0]


def departments(session: Session, scope: int | None) -> list[Department]:
    query = select(Department).order_by(Department.name)
    if scope is not None:
        query = query.where(Department.id == scope)
    return list(session.scalars(query))


# --- the evaluation table -----------------------------------------------------------------


@dataclass
class EvaluationRow:
    """One teacher's term evaluation as the table, the overview and the exports show it."""

    teacher_id: int
    staff_no: str
    teacher: str
    department_id: int | None
    department: str
    classes: str
    respondents: int
    eligible: int
    stored_response_rate: float | None
    satisfaction: float | None
    grade: Grade
    computed_grade: Grade
    override_reason: str | None
    reasons: list[str]
    flags: list[str]
    logs: dict[str, int]
    meetings_attended: int
    trainings_attended: int
    months_in_office: int
    allowance: int
    # The 95% interval (None below min respondents) and the stored details (policy rules).
    ci_low: float | None = None
    ci_high: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def grade_label(self) -> str:
        return GRADE_LABELS[self.grade]

    @property
    def overridden(self) -> bool:
        return self.grade != self.computed_grade or bool(self.override_reason)

    @property
    def response_rate(self) -> float | None:
        """Percent of eligible students who answered (computed here, so it reads the same
        whatever scale the evaluation stores)."""
        return 100.0 * self.respondents / self.eligible if self.eligible else None

    @property
    def logs_total(self) -> int:
        return sum(self.logs.values())

    def report(self) -> dict[str, Any]:
        """The JSON report row of DESIGN.md (and a few extra keys)."""
        return {
            "staff_no": self.staff_no,
            "teacher": self.teacher,
            "department": self.department,
            "classes": [c for c in self.classes.split("、") if c] if self.classes else [],
            "respondents": self.respondents,
            "eligible": self.eligible,
            "response_rate": self.stored_response_rate,
            "satisfaction_pct": self.satisfaction if self.respondents else None,
            "grade": self.grade_label,
            "reasons": self.reasons,
            "logs": self.logs,
            "flags": self.flags,
            "grade_overridden": self.overridden,
            "override_reason": self.override_reason,
            "meetings_attended": self.meetings_attended,
            "trainings_attended": self.trainings_attended,
            "months_in_office": self.months_in_office,
            "allowance": self.allowance,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            **report_fields(self.details),
        }


def _grade_expr():
    return func.coalesce(TermEvaluation.override_grade, TermEvaluation.computed_grade)


# EvaluationRow fields that are the stored TermEvaluation columns of the same name, as stored.
_AS_STORED = (
    "respondents",
    "eligible",
    "satisfaction",
    "grade",
    "computed_grade",
    "override_reason",
    "meetings_attended",
    "trainings_attended",
    "months_in_office",
    "allowance",
    "ci_low",
    "ci_high",
)


def _evaluation_row(
    ev: TermEvaluation, staff_no: str, name: str, dep_name: str | None
) -> EvaluationRow:
    return EvaluationRow(
        teacher_id=ev.teacher_id,
        staff_no=staff_no,
        teacher=name,
        department_id=ev.department_id,
        department=dep_name or "",
        classes=ev.classes or "",
        stored_response_rate=ev.response_rate,
        reasons=[reason_text(r) for r in ev.reasons or []],
        flags=[flag_text(f) for f in ev.flags or []],
        logs={str(k): int(v) for k, v in (ev.logs or {}).items()},
        details=dict(ev.details or {}),
        **{column: getattr(ev, column) for column in _AS_STORED},
    )


def visible_evaluations(
    session: Session,
    term_id: int,
    scope: int | None,
    *,
    department_id: int | None = None,
    grade: Grade | None = None,
    search: str | None = None,
    teacher_id: int | None = None,
) -> list[EvaluationRow]:
    """The term's evaluations the caller may see, filtered; one query."""
    query = (
        select(TermEvaluation, Teacher.staff_no, Teacher.name, Department.name)
        .join(Teacher, Teacher.id == TermEvaluation.teacher_id)
        .outerjoin(Department, Department.id == TermEvaluation.department_id)
        .where(TermEvaluation.term_id == term_id, evaluation_condition(scope))
        .order_by(Department.name, Teacher.staff_no)
    )
    if department_id is not None:
        query = query.where(TermEvaluation.department_id == department_id)
    if grade is not None:
        query = query.where(_grade_expr() == grade.value)
    if teacher_id is not None:
        query = query.where(TermEvaluation.teacher_id == teacher_id)
    if search:
        like = f"%{search.strip()}%"
        query = query.where(Teacher.name.like(like) | Teacher.staff_no.like(like))
    rows = [_evaluation_row(*found) for found in session.execute(query)]
    # The branch months' attendees are stored once, by meeting id: named here in one query.
    resolve_branch_attendees(session, [r.details for r in rows])
    return rows


SORT_KEYS = {
    "staff_no": lambda r: r.staff_no,
    "teacher": lambda r: r.teacher,
    "department": lambda r: r.department,
    "respondents": lambda r: r.respondents,
    "response_rate": lambda r: r.response_rate if r.response_rate is not None else -1,
    "satisfaction": lambda r: r.satisfaction if r.satisfaction is not None else -1,
    "grade": lambda r: GRADE_ORDER.index(r.grade),
    "logs": lambda r: r.logs_total,
    "allowance": lambda r: r.allowance,
}


def sort_rows(rows: Sequence[EvaluationRow], key: str, descending: bool) -> list[EvaluationRow]:
    """Sort by a column name of the table; an unknown name keeps the given order."""
    fn = SORT_KEYS.get(key)
    if fn is None:
        return list(rows)
    return sorted(rows, key=fn, reverse=descending)


# --- the overview -------------------------------------------------------------------------


@dataclass
class DepartmentSummary:
    name: str
    teachers: int = 0
    respondents: int = 0
    eligible: int = 0
    values: list[float] = field(default_factory=list)

    @property
    def rated(self) -> int:
        return len(self.values)

    @property
    def response_rate(self) -> float | None:
        return 100.0 * self.respondents / self.eligible if self.eligible else None

    @property
    def satisfaction(self) -> float | None:
        """Mean of the teachers' satisfaction (each teacher counts once, as in the policy)."""
        return mean_with_interval(self.values)[0]

    @property
    def interval(self) -> tuple[float | None, float | None]:
        """The 95% interval of that mean over the teachers (core.trends); None below two."""
        return mean_with_interval(self.values)[1:]


@dataclass
class Overview:
    teachers: int = 0
    respondents: int = 0
    eligible: int = 0
    grades: dict[Grade, int] = field(default_factory=lambda: dict.fromkeys(SHOWN_GRADES, 0))
    by_department: list[DepartmentSummary] = field(default_factory=list)
    flagged: int = 0
    # Every rated teacher's satisfaction: the school-wide (or the branch's) average.
    values: list[float] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        return 100.0 * self.respondents / self.eligible if self.eligible else None

    @property
    def satisfaction(self) -> float | None:
        return mean_with_interval(self.values)[0]

    @property
    def interval(self) -> tuple[float | None, float | None]:
        return mean_with_interval(self.values)[1:]


def summarize(rows: Iterable[EvaluationRow]) -> Overview:
    """Totals, grade distribution and per-department figures of a term (pure)."""
    overview = Overview()
    deps: dict[str, DepartmentSummary] = {}
    for row in rows:
        overview.teachers += 1
        overview.respondents += row.respondents
        overview.eligible += row.eligible
        overview.grades[row.grade] = overview.grades.get(row.grade, 0) + 1
        overview.flagged += bool(row.flags)
        dep = deps.setdefault(row.department or "（未分配）", DepartmentSummary(row.department))
        dep.teachers += 1
        dep.respondents += row.respondents
        dep.eligible += row.eligible
        if row.satisfaction is not None and row.respondents:
            dep.values.append(row.satisfaction)
            overview.values.append(row.satisfaction)
    overview.by_department = sorted(deps.values(), key=lambda d: d.name)
    return overview


# --- one teacher --------------------------------------------------------------------------


@dataclass
class QuestionStat:
    question_id: str
    text: str
    mean_score: float | None
    answered: int


def _term_responses(term_id: int, teacher_id: int):
    # Closed rounds only (issue 11): nothing per question exists while a round is open (its
    # answers are sealed), and a database migrated with an open round's responses in it must
    # not show them either: they could be differenced one submission at a time.
    return (
        select(Response.id)
        .join(SurveyRound, SurveyRound.id == Response.round_id)
        .where(
            SurveyRound.term_id == term_id,
            SurveyRound.closed_at.is_not(None),
            Response.teacher_id == teacher_id,
        )
    )


def respondent_count(session: Session, term_id: int, teacher_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(_term_responses(term_id, teacher_id).subquery())
    )


def question_stats(session: Session, term_id: int, teacher_id: int) -> list[QuestionStat]:
    """Mean score per scored question over the teacher's responses in the term. Callers show
    it only at or above ``min_respondents`` respondents."""
    texts: dict[str, str] = {}
    for definition in session.scalars(
        select(SurveyRound.definition)
        .where(SurveyRound.term_id == term_id, SurveyRound.closed_at.is_not(None))
        .order_by(SurveyRound.id)
    ):
        for q in (definition or {}).get("questions", []):
            scored = q.get("type", "choice") == "choice" and q.get("scored", True)
            if scored and q.get("id") not in texts:
                texts[q["id"]] = q.get("text", q["id"])
    stats = {
        qid: (float(mean) if mean is not None else None, n)
        for qid, mean, n in session.execute(
            select(Answer.question_id, func.avg(Answer.score), func.count(Answer.score))
            .where(Answer.response_id.in_(_term_responses(term_id, teacher_id)))
            .group_by(Answer.question_id)
        )
    }
    result = [QuestionStat(qid, text, *stats.get(qid, (None, 0))) for qid, text in texts.items()]
    extra = sorted(qid for qid, (_mean, n) in stats.items() if n and qid not in texts)
    return result + [QuestionStat(qid, qid, *stats[qid]) for qid in extra]


def comments(session: Session, term_id: int, teacher_id: int) -> VisibleComments:
    """The comments Student Affairs has reviewed and shown (sorted by their text, so that no
    order leads back to a student), and how many are withheld or pending: the one way pages and
    the API read comments (core.comments)."""
    return visible_comments(session, term_id, teacher_id)


def evaluation_of(session: Session, term_id: int, teacher_id: int) -> TermEvaluation | None:
    return session.scalar(
        select(TermEvaluation).where(
            TermEvaluation.term_id == term_id, TermEvaluation.teacher_id == teacher_id
        )
    )


def worklog(
    session: Session,
    teacher_id: int,
    term: Term,
    condition: ColumnElement[bool] | None = None,
    limit: int = 300,
) -> tuple[list[WorkLogEntry], dict[str, int]]:
    """The teacher's entries in the term (those meeting ``condition`` too, e.g. a branch's
    :func:`~bot.dashboard.access.worklog_condition`), newest first, and counts by kind."""
    where = [
        WorkLogEntry.teacher_id == teacher_id,
        WorkLogEntry.occurred_on >= term.start_date,
        WorkLogEntry.occurred_on <= term.end_date,
    ]
    if condition is not None:
        where.append(condition)
    entries = list(
        session.scalars(
            select(WorkLogEntry)
            .where(*where)
            .order_by(WorkLogEntry.occurred_on.desc(), WorkLogEntry.id.desc())
            .limit(limit)
        )
    )
    counts = {
        kind_value(kind): n
        for kind, n in session.execute(
            select(WorkLogEntry.kind, func.count()).where(*where).group_by(WorkLogEntry.kind)
        )
    }
    return entries, counts


def incidents(session: Session, teacher_id: int, term_id: int) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.teacher_id == teacher_id, Incident.term_id == term_id)
            .order_by(Incident.occurred_on)
        )
    )


def appointments_of(session: Session, teacher_id: int) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment)
            .where(Appointment.teacher_id == teacher_id)
            .order_by(Appointment.start_date.desc())
        )
    )


def head_teachers(session: Session, scope: int | None) -> list[Teacher]:
    """Teachers the caller may pick (attendance lists, incidents)."""
    return list(
        session.scalars(
            select(Teacher)
            .where(teacher_condition(scope), Teacher.role == "head_teacher")
            .order_by(Teacher.staff_no)
        )
    )


def teacher_departments(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Department.id, Department.name)).all())


def group_by_month(entries: Iterable[WorkLogEntry]) -> list[tuple[str, list[WorkLogEntry]]]:
    """Timeline sections, newest month first (entries come newest first)."""
    months: dict[str, list[WorkLogEntry]] = defaultdict(list)
    for e in entries:
        months[f"{e.occurred_on.year}年{e.occurred_on.month}月"].append(e)
    return list(months.items())
