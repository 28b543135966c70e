"""第十五条 grading, 第十八条 allowance months, 第十九/二十条 award rules, as a table."""

from __future__ import annotations

import datetime as dt

import pytest

from core.evaluation.grading import (
    REASON_LOW_SATISFACTION,
    REASON_NO_WORK,
    REASON_OTHER,
    REASON_SERIOUS_INCIDENT,
    REASON_SHORT_TERM,
    QualityFacts,
    TeacherFacts,
    allowance,
    details_shown,
    grade_teacher,
    is_award_candidate,
    months_in_office,
    participation_short,
    previous_term_code,
    quality_flags,
    uncorroborated,
)
from models.evaluation import Grade

WORKING = dict(log_entries=3)

GRADE_CASES = [
    # (satisfaction, extra facts, expected grade, expected reasons)
    (100.0, {}, Grade.EXCELLENT, []),
    (80.0, {}, Grade.EXCELLENT, []),
    (79.9, {}, Grade.GOOD, []),
    (79.99999, {}, Grade.GOOD, []),  # unrounded: 79.99999 is not 80
    (70.0, {}, Grade.GOOD, []),
    (69.9, {}, Grade.PASS, []),
    (60.0, {}, Grade.PASS, []),
    (59.9, {}, Grade.FAIL, [REASON_LOW_SATISFACTION]),
    (59.99999, {}, Grade.FAIL, [REASON_LOW_SATISFACTION]),
    (0.0, {}, Grade.FAIL, [REASON_LOW_SATISFACTION]),
    # No respondents: no evidence of low satisfaction, passes unless another reason fails it.
    (None, {}, Grade.PASS, []),
    (None, {"log_entries": 0}, Grade.FAIL, [REASON_NO_WORK]),
    (95.0, {"ended_within_first_year": True}, Grade.FAIL, [REASON_SHORT_TERM]),
    (95.0, {"serious_incidents": 1}, Grade.FAIL, [REASON_SERIOUS_INCIDENT]),
    (95.0, {"log_entries": 0}, Grade.FAIL, [REASON_NO_WORK]),
    (95.0, {"other_incidents": 2}, Grade.FAIL, [REASON_OTHER]),
    (
        50.0,
        {"ended_within_first_year": True, "serious_incidents": 1, "log_entries": 0},
        Grade.FAIL,
        [REASON_SHORT_TERM, REASON_LOW_SATISFACTION, REASON_SERIOUS_INCIDENT, REASON_NO_WORK],
    ),
    (
        85.0,
        {
            "ended_within_first_year": True,
            "serious_incidents": 1,
            "log_entries": 0,
            "other_incidents": 1,
        },
        Grade.FAIL,
        [REASON_SHORT_TERM, REASON_SERIOUS_INCIDENT, REASON_NO_WORK, REASON_OTHER],
    ),
]


@pytest.mark.parametrize(("satisfaction", "extra", "grade", "reasons"), GRADE_CASES)
def test_grade(satisfaction, extra, grade, reasons):
    facts = TeacherFacts(satisfaction=satisfaction, **{**WORKING, **extra})
    assert grade_teacher(facts) == (grade, reasons)


def test_reason_labels_are_the_policy_wording():
    assert grade_teacher(TeacherFacts(satisfaction=10.0, log_entries=0))[1] == [
        "满意度低于60%",
        "没有很好履行工作职责",
    ]


FLAG_CASES = [
    (QualityFacts(10, 12, 10 / 12, True), []),
    (QualityFacts(4, 5, 0.8, True), ["答卷少于5份", "数据不足"]),
    (QualityFacts(10, 30, 1 / 3, True), ["数据不足"]),
    (QualityFacts(10, 20, 0.5, True), []),  # exactly half is enough
    (QualityFacts(10, 12, 10 / 12, False), ["未参加岗前培训"]),
    (
        QualityFacts(10, 12, 10 / 12, True, straight_lined=2, too_fast=1),
        ["2份答卷各题选项相同", "1份答卷作答过快"],
    ),
    (QualityFacts(0, 0, None, True), ["答卷少于5份", "数据不足"]),
]


@pytest.mark.parametrize(("facts", "flags"), FLAG_CASES)
def test_quality_flags(facts, flags):
    assert quality_flags(facts, min_respondents=5) == flags


@pytest.mark.parametrize(
    ("logged", "answered", "confirmed", "flag"),
    [(3, 10, 0, True), (3, 10, 1, False), (0, 10, 0, False), (3, 0, 0, False)],
)
def test_uncorroborated(logged, answered, confirmed, flag):
    assert uncorroborated(logged, answered, confirmed) is flag


D = dt.date
TERM = (D(2026, 9, 1), D(2027, 1, 20))

MONTH_CASES = [
    # whole term: September to January is 5 calendar months
    ([(D(2026, 9, 1), D(2027, 8, 31))], 5),
    # one day in office in a month counts that month
    ([(D(2026, 9, 30), D(2026, 10, 1))], 2),
    # started mid-term
    ([(D(2026, 11, 15), D(2027, 11, 14))], 3),
    # two classes in the same months count once
    ([(D(2026, 9, 1), D(2027, 8, 31)), (D(2026, 10, 1), D(2027, 9, 30))], 5),
    # ended (resigned) in October
    ([(D(2026, 9, 1), D(2026, 10, 10))], 2),
    # outside the term entirely
    ([(D(2025, 9, 1), D(2026, 8, 31))], 0),
    # two separate spells
    ([(D(2026, 9, 1), D(2026, 9, 20)), (D(2026, 12, 5), D(2027, 12, 4))], 3),
]


@pytest.mark.parametrize(("periods", "months"), MONTH_CASES)
def test_months_in_office_and_allowance(periods, months):
    got = months_in_office(periods, *TERM)
    assert len(got) == months
    assert allowance(got) == 300 * months


def test_months_are_named():
    assert months_in_office([(D(2026, 12, 31), D(2027, 1, 1))], *TERM) == ["2026-12", "2027-01"]


@pytest.mark.parametrize(
    ("code", "previous"),
    [("2026-2027-1", "2025-2026-2"), ("2026-2027-2", "2026-2027-1")],
)
def test_previous_term(code, previous):
    assert previous_term_code(code) == previous


def test_previous_term_rejects_bad_code():
    with pytest.raises(ValueError):
        previous_term_code("2026-1")


E, G = Grade.EXCELLENT, Grade.GOOD
AS_OF = D(2027, 1, 20)
AWARD_CASES = [
    (E, E, [], True),
    (E, G, [], False),
    (G, E, [], False),
    (E, None, [], False),  # no previous evaluation
    (E, E, [D(2024, 1, 19)], True),  # dismissed just over three years before
    (E, E, [D(2024, 1, 20)], False),  # exactly three years before: still banned
    (E, E, [D(2026, 3, 1)], False),
]


@pytest.mark.parametrize(("grade", "previous", "dismissals", "candidate"), AWARD_CASES)
def test_award_candidate(grade, previous, dismissals, candidate):
    assert is_award_candidate(grade, previous, dismissals, AS_OF) is candidate


# --- BANZHUREN_MIN_PARTICIPATION ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "minimum", "short"),
    [
        (0.29, 30, True),
        (0.30, 30, False),  # exactly the minimum is enough
        (0.10, 0, False),  # 0: no minimum
        (None, 30, False),  # nobody eligible: nothing to judge
        (0.999, 100, True),
        (1.0, 100, False),
    ],
)
def test_participation_short(rate, minimum, short):
    assert participation_short(rate, minimum) is short


def test_quality_flags_under_min_participation():
    facts = QualityFacts(10, 16, 10 / 16, True)
    assert quality_flags(facts, 5) == []
    assert quality_flags(facts, 5, min_participation=70) == ["参评率低于70%", "数据不足"]
    assert quality_flags(facts, 5, min_participation=62.5) == []


def test_details_shown_needs_both_minimums():
    assert details_shown(5, 0.5, 5, 40)
    assert not details_shown(4, 0.5, 5, 40)
    assert not details_shown(5, 0.3, 5, 40)
    assert details_shown(5, 0.3, 5)
