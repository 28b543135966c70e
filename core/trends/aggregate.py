"""Pure aggregation of term evaluations into trends: no database, no Flask.

Privacy (DESIGN.md): below ``min_respondents`` a teacher's term shows the percentage and the
grade only (no interval); a group's average is the mean of its teachers' satisfaction (each
teacher once, as the overview counts it) with a 95% t-interval over those teachers, shown only
for two or more rated teachers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from core.evaluation.intervals import mean_interval
from core.reports.cells import Code, percent_of
from models.evaluation import GRADE_LABELS, Grade

# Every grade, 待测评 included (no closed round yet: issue 22), best first.
GRADE_ORDER = tuple(Grade)


@dataclass(frozen=True)
class TermPoint:
    """One head teacher's stored evaluation in one term, as the trends read it."""

    term: str
    term_start: dt.date
    published: bool
    teacher_id: int
    staff_no: str
    teacher: str
    department: str
    respondents: int
    eligible: int
    satisfaction: float | None
    ci_low: float | None
    ci_high: float | None
    grade: Grade
    logs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TeacherTerm:
    term: str
    published: bool
    respondents: int
    eligible: int
    satisfaction: float | None
    # None below min respondents (the percentage and the grade only).
    ci_low: float | None
    ci_high: float | None
    grade: Grade
    logs: dict[str, int]
    # Satisfaction minus the teacher's previous term with one (percentage points).
    change: float | None = None

    @property
    def grade_label(self) -> str:
        return GRADE_LABELS[self.grade]

    @property
    def response_rate(self) -> float | None:
        return 100.0 * self.respondents / self.eligible if self.eligible else None

    @property
    def logs_total(self) -> int:
        return sum(self.logs.values())


@dataclass
class TeacherTrend:
    teacher_id: int
    staff_no: str
    teacher: str
    department: str
    terms: list[TeacherTerm]

    def at(self, term: str) -> TeacherTerm | None:
        return next((t for t in self.terms if t.term == term), None)


@dataclass(frozen=True)
class GroupTerm:
    term: str
    published: bool
    teachers: int
    rated: int
    satisfaction: float | None
    ci_low: float | None
    ci_high: float | None
    respondents: int
    eligible: int
    grades: dict[str, int]
    logs_total: int
    change: float | None = None

    @property
    def response_rate(self) -> float | None:
        return 100.0 * self.respondents / self.eligible if self.eligible else None


@dataclass
class GroupTrend:
    name: str
    terms: list[GroupTerm]

    def at(self, term: str) -> GroupTerm | None:
        return next((t for t in self.terms if t.term == term), None)


@dataclass
class Trends:
    terms: list[str]  # oldest first
    published: dict[str, bool]
    school: GroupTrend | None
    departments: list[GroupTrend]
    teachers: list[TeacherTrend]
    min_respondents: int


def mean_with_interval(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high) of teachers' satisfaction percentages: the 95% t-interval over the
    teachers (None with fewer than two: no spread to estimate)."""
    if not values:
        return None, None, None
    mean = sum(values) / len(values)
    interval = mean_interval(len(values), sum(values), sum(v * v for v in values))
    return (mean, *interval) if interval else (mean, None, None)


def _rated(p: TermPoint) -> bool:
    return p.satisfaction is not None and p.respondents > 0


def teacher_term(p: TermPoint, min_respondents: int) -> TeacherTerm:
    shown = p.respondents >= min_respondents
    return TeacherTerm(
        term=p.term,
        published=p.published,
        respondents=p.respondents,
        eligible=p.eligible,
        satisfaction=p.satisfaction if p.respondents else None,
        ci_low=p.ci_low if shown else None,
        ci_high=p.ci_high if shown else None,
        grade=p.grade,
        logs=dict(p.logs),
        change=None,
    )


def group_term(term: str, published: bool, points: list[TermPoint]) -> GroupTerm:
    rated = [p.satisfaction for p in points if _rated(p)]
    mean, low, high = mean_with_interval(rated)  # type: ignore[arg-type]
    grades = Counter(GRADE_LABELS[p.grade] for p in points)
    return GroupTerm(
        term=term,
        published=published,
        teachers=len(points),
        rated=len(rated),
        satisfaction=mean,
        ci_low=low,
        ci_high=high,
        respondents=sum(p.respondents for p in points),
        eligible=sum(p.eligible for p in points),
        grades={GRADE_LABELS[g]: grades.get(GRADE_LABELS[g], 0) for g in GRADE_ORDER},
        logs_total=sum(sum(p.logs.values()) for p in points),
    )


def _with_changes(items: list[Any]) -> list[Any]:
    """Each item's change from the last earlier item with a satisfaction (frozen copies)."""
    out, last = [], None
    for item in items:
        change = None
        if item.satisfaction is not None and last is not None:
            change = item.satisfaction - last
        out.append(replace(item, change=change))
        if item.satisfaction is not None:
            last = item.satisfaction
    return out


def build(points: list[TermPoint], min_respondents: int, *, school: bool = True) -> Trends:
    """Series for every teacher, every department and (``school``) the whole school, oldest
    term first. ``points`` are already limited to what the caller may see."""
    order = sorted({(p.term_start, p.term) for p in points})
    terms = [code for _start, code in order]
    published = {p.term: p.published for p in points}
    by_teacher: dict[int, list[TermPoint]] = {}
    by_department: dict[str, dict[str, list[TermPoint]]] = {}
    by_term: dict[str, list[TermPoint]] = {}
    for p in sorted(points, key=lambda p: (p.term_start, p.term)):
        by_teacher.setdefault(p.teacher_id, []).append(p)
        by_department.setdefault(p.department or "（未分配）", {}).setdefault(p.term, []).append(p)
        by_term.setdefault(p.term, []).append(p)
    teachers = []
    for mine in by_teacher.values():
        latest = mine[-1]
        teachers.append(
            TeacherTrend(
                teacher_id=latest.teacher_id,
                staff_no=latest.staff_no,
                teacher=latest.teacher,
                department=latest.department,
                terms=_with_changes([teacher_term(p, min_respondents) for p in mine]),
            )
        )
    teachers.sort(key=lambda t: (t.department, t.staff_no))
    departments = [
        GroupTrend(
            name,
            _with_changes(
                [group_term(code, published[code], per[code]) for code in terms if code in per]
            ),
        )
        for name, per in sorted(by_department.items())
    ]
    whole = (
        GroupTrend(
            "全校",
            _with_changes([group_term(code, published[code], by_term[code]) for code in terms]),
        )
        if school
        else None
    )
    return Trends(terms, published, whole, departments, teachers, min_respondents)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _group_json(group: GroupTrend) -> dict[str, Any]:
    return {
        "name": group.name,
        "terms": [
            {
                "term": t.term,
                "published": t.published,
                "teachers": t.teachers,
                "rated": t.rated,
                "satisfaction_pct": _round(t.satisfaction),
                "ci_low": _round(t.ci_low),
                "ci_high": _round(t.ci_high),
                "change": _round(t.change),
                "respondents": t.respondents,
                "eligible": t.eligible,
                "response_rate": _round(t.response_rate),
                "grades": t.grades,
                "logs_total": t.logs_total,
            }
            for t in group.terms
        ],
    }


def trends_json(trends: Trends) -> dict[str, Any]:
    """The API's body for ``GET /api/v1/trends``."""
    return {
        "terms": [{"term": code, "published": trends.published[code]} for code in trends.terms],
        "min_respondents": trends.min_respondents,
        "school": _group_json(trends.school) if trends.school else None,
        "departments": [_group_json(d) for d in trends.departments],
        "teachers": [
            {
                "staff_no": t.staff_no,
                "teacher": t.teacher,
                "department": t.department,
                "terms": [
                    {
                        "term": x.term,
                        "published": x.published,
                        "respondents": x.respondents,
                        "eligible": x.eligible,
                        "response_rate": _round(x.response_rate),
                        "satisfaction_pct": _round(x.satisfaction),
                        "ci_low": _round(x.ci_low),
                        "ci_high": _round(x.ci_high),
                        "change": _round(x.change),
                        "grade": x.grade_label,
                        "logs": x.logs,
                    }
                    for x in t.terms
                ],
            }
            for t in trends.teachers
        ],
    }


def trend_sheet(trends: Trends) -> tuple[list[str], list[list[Any]]]:
    """The xlsx 历年趋势 sheet: one line per teacher (工号, 姓名, 党总支), then per term its
    满意度 (a number formatted as a percentage), 等级 and 日志条数; below them the branches' and
    the school's average satisfaction per term. Empty cells where a teacher was not evaluated."""
    headers = ["工号", "姓名", "党总支"]
    for code in trends.terms:
        headers += [f"{code} 满意度", f"{code} 等级", f"{code} 日志"]
    lines: list[list[Any]] = []
    for t in trends.teachers:
        line: list[Any] = [Code(t.staff_no), t.teacher, t.department]
        for code in trends.terms:
            x = t.at(code)
            line += (
                [percent_of(x.satisfaction), x.grade_label, x.logs_total]
                if x
                else [None, None, None]
            )
        lines.append(line)
    groups = [*trends.departments, *([trends.school] if trends.school else [])]
    for g in groups:
        line = ["", f"{g.name} 平均", g.name if g.name != "全校" else ""]
        for code in trends.terms:
            x = g.at(code)
            line += [percent_of(x.satisfaction), None, x.logs_total] if x else [None, None, None]
        lines.append(line)
    return headers, lines
