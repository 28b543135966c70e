"""The pure rules of issue 22: 待测评 before any round closes (grading) and whether a stored
evaluation may be published (readiness)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.evaluation.grading import (
    FLAG_NO_CLOSED_ROUND,
    QualityFacts,
    TeacherFacts,
    grade_teacher,
    quality_flags,
)
from core.evaluation.readiness import CHANGE_LABELS, OpenRound, assess
from models.evaluation import Grade

T0 = dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("facts", "grade", "reasons"),
    [
        # No closed round: no grade yet, whatever the (missing) satisfaction or empty log.
        (TeacherFacts(None, round_closed=False), Grade.PENDING, []),
        (TeacherFacts(None, log_entries=5, round_closed=False), Grade.PENDING, []),
        # Recorded reasons still fail, and only they are given.
        (
            TeacherFacts(None, serious_incidents=1, round_closed=False),
            Grade.FAIL,
            ["严重责任事件"],
        ),
        (
            TeacherFacts(None, ended_within_first_year=True, other_incidents=2, round_closed=False),
            Grade.FAIL,
            ["任期不满一年", "其他不称职行为"],
        ),
        # Once a round has closed the empty log fails as before.
        (TeacherFacts(None), Grade.FAIL, ["没有很好履行工作职责"]),
        (TeacherFacts(None, log_entries=1), Grade.PASS, []),
        (TeacherFacts(85.0, log_entries=1), Grade.EXCELLENT, []),
    ],
)
def test_grade_before_and_after_a_round_closes(facts, grade, reasons):
    assert grade_teacher(facts) == (grade, reasons)


def test_flags_say_the_survey_is_not_over():
    flags = quality_flags(QualityFacts(0, 10, None, True, round_closed=False), 5)
    assert flags[0] == FLAG_NO_CLOSED_ROUND and "数据不足" in flags
    assert FLAG_NO_CLOSED_ROUND not in quality_flags(QualityFacts(6, 10, 0.6, True), 5)


def test_not_evaluated_is_refused_first():
    r = assess("2026-2027-1", None, [OpenRound("满意度测评", None)], {})
    assert not r.allowed and not r.evaluated
    assert r.problems == [
        "学期 2026-2027-1 尚未考核，不能发布：先运行 banzhuren evaluate --term 2026-2027-1"
    ]


def test_fresh_evaluation_with_every_round_closed_is_allowed():
    earlier = {kind: T0 - dt.timedelta(minutes=1) for kind in CHANGE_LABELS}
    r = assess("2026-2027-1", T0, [], {**earlier, "override": None, "worklog": T0})
    assert r.allowed and r.problems == []


def test_open_round_blocks():
    r = assess("2026-2027-1", T0, [OpenRound("满意度测评", dt.date(2027, 1, 10))], {})
    assert not r.allowed
    (problem,) = r.problems
    assert "「满意度测评」（截止 2027-01-10）仍在进行中" in problem and "不能发布" in problem


@pytest.mark.parametrize("kind", list(CHANGE_LABELS))
def test_each_later_change_blocks(kind):
    r = assess("2026-2027-1", T0, [], {kind: T0 + dt.timedelta(microseconds=1)})
    assert not r.allowed
    assert r.stale == ((kind, T0 + dt.timedelta(microseconds=1)),)
    assert f"早于之后的变动（{CHANGE_LABELS[kind]}）" in r.problems[0]


def test_open_round_and_changes_are_both_named():
    r = assess(
        "2026-2027-1",
        T0,
        [OpenRound("甲", None), OpenRound("乙", None)],
        {"worklog": T0 + dt.timedelta(days=1), "meeting": T0 + dt.timedelta(days=2)},
    )
    assert len(r.problems) == 2
    assert "「甲」、「乙」" in r.problems[0]
    assert "（工作日志、会议记录）" in r.problems[1]
