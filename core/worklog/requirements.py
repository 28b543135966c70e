"""How many entries of each kind a head teacher is expected to log per month.

Branches may configure ``LogRequirement`` rows; where none applies, the defaults below do
(第八条 and 第十四条: talks, dorm visits, class meetings, the monthly staff meeting, and the
first-year and final-year emphases). The most specific row wins: department and year >
department > year > school-wide row > built-in default. A row with ``per_month`` 0 removes a
requirement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.worklog import LogKind, LogRequirement

FIRST_YEAR = 1
FINAL_YEAR = -1


@dataclass(frozen=True)
class Requirement:
    kind: LogKind
    per_month: int
    department_id: int | None = None
    year_of_study: int | None = None


DEFAULTS: tuple[Requirement, ...] = (
    Requirement(LogKind.TALK, 4),
    Requirement(LogKind.DORM_VISIT, 2),
    Requirement(LogKind.CLASS_MEETING, 1),
    Requirement(LogKind.STAFF_MEETING, 1),  # 第十四条: a staff meeting every month
    Requirement(LogKind.EMPLOYMENT, 2, year_of_study=FINAL_YEAR),
    Requirement(LogKind.FRESHMEN, 2, year_of_study=FIRST_YEAR),
)


@dataclass(frozen=True)
class TeacherScope:
    """What decides a teacher's requirements: departments and their classes' years of study.

    ``years`` holds each class's year of study, plus ``FINAL_YEAR`` for a final-year class.
    """

    department_ids: frozenset[int]
    years: frozenset[int]


def _specificity(req: Requirement, built_in: bool) -> int:
    if built_in:
        return 0
    return (
        1
        + (2 if req.department_id is not None else 0)
        + (1 if req.year_of_study is not None else 0)
    )


def _applies(req: Requirement, scope: TeacherScope) -> bool:
    if req.department_id is not None and req.department_id not in scope.department_ids:
        return False
    return req.year_of_study is None or req.year_of_study in scope.years


def resolve(rows: Iterable[Requirement], scope: TeacherScope) -> dict[LogKind, int]:
    """The monthly requirement per kind for a teacher in ``scope`` (kinds with 0 left out).

    Pure: ``rows`` are the configured requirements; the built-in defaults rank below them.
    Among rows of equal rank (a teacher in two departments) the larger number wins.
    """
    best: dict[LogKind, tuple[int, int]] = {}
    candidates = [(r, True) for r in DEFAULTS] + [(r, False) for r in rows]
    for req, built_in in candidates:
        if not _applies(req, scope):
            continue
        rank = (_specificity(req, built_in), req.per_month)
        if req.kind not in best or rank > best[req.kind]:
            best[req.kind] = rank
    ordered = [k for k in LogKind if k in best and best[k][1] > 0]
    return {k: best[k][1] for k in ordered}


def configured(session: Session, department_ids: Iterable[int]) -> list[Requirement]:
    """The configured rows that may apply to these departments."""
    ids = list(department_ids)
    rows = session.scalars(
        select(LogRequirement).where(
            or_(LogRequirement.department_id.is_(None), LogRequirement.department_id.in_(ids))
        )
    )
    return [Requirement(r.kind, r.per_month, r.department_id, r.year_of_study) for r in rows]


def requirements_for(session: Session, scope: TeacherScope) -> dict[LogKind, int]:
    """The monthly requirements of a teacher in ``scope``, from the database and defaults."""
    return resolve(configured(session, scope.department_ids), scope)
