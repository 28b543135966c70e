"""Monthly work-log requirements: defaults, and the most specific configured row winning."""

from __future__ import annotations

import datetime as dt

from core.worklog.counts import Progress, monthly_progress, months_between
from core.worklog.requirements import FINAL_YEAR, Requirement, TeacherScope, resolve
from models.worklog import LogKind as K

SECOND_YEAR = TeacherScope(frozenset({1}), frozenset({2}))
FIRST_YEAR = TeacherScope(frozenset({1}), frozenset({1}))
FINAL = TeacherScope(frozenset({1}), frozenset({4, FINAL_YEAR}))


def test_defaults_for_an_ordinary_year() -> None:
    assert resolve([], SECOND_YEAR) == {
        K.TALK: 4,
        K.CLASS_MEETING: 1,
        K.DORM_VISIT: 2,
        K.STAFF_MEETING: 1,
    }


def test_first_and_final_year_emphases() -> None:
    assert resolve([], FIRST_YEAR)[K.FRESHMEN] == 2
    assert K.EMPLOYMENT not in resolve([], FIRST_YEAR)
    assert resolve([], FINAL)[K.EMPLOYMENT] == 2
    assert K.FRESHMEN not in resolve([], FINAL)


def test_most_specific_row_wins() -> None:
    rows = [
        Requirement(K.DORM_VISIT, 3),  # school-wide
        Requirement(K.DORM_VISIT, 5, year_of_study=2),  # second years
        Requirement(K.DORM_VISIT, 1, department_id=1),  # this department
        Requirement(K.DORM_VISIT, 6, department_id=1, year_of_study=2),  # both
        Requirement(K.DORM_VISIT, 9, department_id=2, year_of_study=2),  # another department
    ]
    assert resolve(rows, SECOND_YEAR)[K.DORM_VISIT] == 6
    assert resolve(rows[: 4 - 1], SECOND_YEAR)[K.DORM_VISIT] == 1
    assert resolve(rows[:2], SECOND_YEAR)[K.DORM_VISIT] == 5
    assert resolve(rows[:1], SECOND_YEAR)[K.DORM_VISIT] == 3
    assert resolve(rows[:1], FIRST_YEAR)[K.DORM_VISIT] == 3


def test_zero_removes_a_requirement_and_rows_add_kinds() -> None:
    rows = [Requirement(K.TALK, 0), Requirement(K.HOME_VISIT, 1, department_id=1)]
    got = resolve(rows, SECOND_YEAR)
    assert K.TALK not in got
    assert got[K.HOME_VISIT] == 1


def test_progress_lines() -> None:
    progress, others = monthly_progress(
        {K.DORM_VISIT: 1, K.CLASS_MEETING: 2, K.HOME_VISIT: 1},
        {K.DORM_VISIT: 2, K.CLASS_MEETING: 1},
    )
    assert [p.line() for p in progress] == ["走访寝室 1/2，还差1次", "班会 2/1，已完成"]
    assert others == {K.HOME_VISIT: 1}
    assert Progress(K.TALK, 0, 4).missing == 4


def test_months_between() -> None:
    assert months_between(dt.date(2026, 9, 1), dt.date(2026, 9, 30)) == 1
    assert months_between(dt.date(2026, 9, 27), dt.date(2026, 11, 26)) == 3
    assert months_between(dt.date(2026, 12, 1), dt.date(2027, 1, 20)) == 2
    assert months_between(dt.date(2026, 12, 1), dt.date(2026, 11, 30)) == 0
