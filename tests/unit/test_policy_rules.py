"""第十二条 training, 第十四条 monthly branch meetings and 第八条（三） employment as pure rules."""

from __future__ import annotations

import datetime as dt

import pytest

from core.evaluation import employment, grading, meetings
from core.evaluation.grading import QualityFacts, quality_flags
from core.evaluation.meetings import MeetingFact

D = dt.date
START, END = D(2026, 9, 1), D(2027, 1, 20)


# --- 第十二条 training ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roster", "attended", "trained"),
    [(True, 0, True), (False, 1, True), (False, 0, False), (True, 2, True)],
)
def test_trained_from_roster_or_attendance(roster: bool, attended: int, trained: bool) -> None:
    assert grading.is_trained(roster, attended) is trained


@pytest.mark.parametrize(
    ("held", "attended", "missed"), [(0, 0, False), (1, 0, True), (1, 1, False), (2, 1, False)]
)
def test_term_training_missed_only_when_the_school_held_one(
    held: int, attended: int, missed: bool
) -> None:
    assert grading.missed_term_training(held, attended) is missed


def test_flags_name_the_missing_training() -> None:
    base = dict(respondents=10, eligible=12, response_rate=10 / 12)
    assert quality_flags(QualityFacts(**base, trained=True), 5) == []
    assert quality_flags(QualityFacts(**base, trained=False), 5) == ["未参加岗前培训"]
    assert quality_flags(QualityFacts(**base, trained=True, missed_term_training=True), 5) == [
        "未参加本学期培训会"
    ]
    assert quality_flags(QualityFacts(**base, trained=False, missed_term_training=True), 5) == [
        "未参加岗前培训",
        "未参加本学期培训会",
    ]


# --- 第十四条 monthly branch meetings ------------------------------------------------------------


def test_term_months_cover_partial_months() -> None:
    assert meetings.term_months(START, END) == [
        "2026-09",
        "2026-10",
        "2026-11",
        "2026-12",
        "2027-01",
    ]
    assert meetings.term_months(D(2026, 12, 30), D(2027, 1, 2)) == ["2026-12", "2027-01"]


def test_branch_months_held_missed_pending() -> None:
    held = [
        MeetingFact(1, D(2026, 10, 15), "十月例会", frozenset({7})),
        MeetingFact(2, D(2026, 10, 30)),
    ]
    months = meetings.branch_months(held, START, END, as_of=D(2026, 11, 20))
    status = {m.month: m.status for m in months}
    assert status == {
        "2026-09": "missed",
        "2026-10": "held",
        "2026-11": "pending",  # not over yet: the branch may still meet
        "2026-12": "pending",
        "2027-01": "pending",
    }
    assert [m.id for m in months[1].meetings] == [1, 2]
    assert meetings.missed_months(months) == ["2026-09"]


def test_after_the_term_every_month_is_held_or_missed() -> None:
    held = [MeetingFact(1, D(2026, 10, 15)), MeetingFact(2, D(2027, 1, 25))]  # 2nd: after term
    months = meetings.branch_months(held, START, END, as_of=D(2027, 1, 21))
    assert meetings.missed_months(months) == ["2026-09", "2026-11", "2026-12", "2027-01"]


def test_attendance_counts_meetings_while_in_office() -> None:
    branch = [
        MeetingFact(1, D(2026, 9, 10), "九月", frozenset({5})),
        MeetingFact(2, D(2026, 10, 10), "十月", frozenset()),
        MeetingFact(3, D(2026, 11, 10), "十一月", frozenset({5})),
        MeetingFact(4, D(2026, 12, 10), "十二月", frozenset()),
    ]
    # In office from 1 October to 15 November: meetings 2 and 3 count.
    got = meetings.attendance(5, branch, [(D(2026, 10, 1), D(2026, 11, 15))], START, END)
    assert (got.held, got.attended, got.rate) == (2, 1, 0.5)
    assert [m.title for m in got.missed] == ["十月"]
    assert meetings.attendance(5, [], [(START, END)], START, END).rate is None


def test_trainings_in_term() -> None:
    facts = [MeetingFact(1, D(2026, 8, 20)), MeetingFact(2, D(2026, 9, 20))]
    assert [t.id for t in meetings.trainings_in_term(facts, START, END)] == [2]


# --- 第八条（三） employment ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("已签约哈尔滨交响乐团", "签约就业"),
        ("入职哈尔滨某中学任音乐教师", "签约就业"),
        ("考取中央音乐学院研究生", "升学"),
        ("赴德国留学", "升学"),
        ("自主创业，开办钢琴工作室", "自主创业"),
        ("自由职业，独立音乐人", "灵活就业"),
        ("准备考研", "待就业"),
        ("未签约，求职中", "待就业"),
        ("已签约，下月准备入职", "签约就业"),
        ("情况不明", "其他"),
    ],
)
def test_classify_outcome(text: str, kind: str) -> None:
    assert employment.classify(text) == kind


def test_class_rates() -> None:
    c = employment.class_employment(
        "G2023", "声乐2023级", 8, ["已签约哈尔滨交响乐团", "考取研究生", "准备考研", "情况不明"]
    )
    assert (c.students, c.recorded, c.placed) == (8, 4, 2)
    assert c.rate == 0.25
    assert c.kind_rates()["升学"] == 1 / 8
    d = c.as_dict()
    assert d["by_kind"]["签约就业"] == 1 and d["by_kind"]["待就业"] == 1
    assert d["employment_rate"] == 0.25
    assert employment.class_employment("X", "空班", 0, []).rate is None
