"""core.trends.aggregate (pure): a teacher's terms side by side with changes, the interval
withheld below the minimum respondents, group averages with their interval over teachers,
the xlsx sheet, and core.evaluation.awards.explain_none."""

from __future__ import annotations

import datetime as dt

import pytest

from core.evaluation.awards import explain_none
from core.reports.cells import Code, Percent
from core.trends import build, mean_with_interval, trend_sheet, trends_json
from core.trends.aggregate import TermPoint
from models import Grade

SPRING = ("2025-2026-2", dt.date(2026, 3, 1))
AUTUMN = ("2026-2027-1", dt.date(2026, 9, 1))


def point(term, teacher_id, satisfaction, grade, respondents=20, department="管弦系", **kw):
    code, start = term
    return TermPoint(
        term=code,
        term_start=start,
        published=kw.pop("published", True),
        teacher_id=teacher_id,
        staff_no=f"T{teacher_id:03d}",
        teacher=f"教师{teacher_id}",
        department=department,
        respondents=respondents,
        eligible=kw.pop("eligible", 25),
        satisfaction=satisfaction,
        ci_low=None if satisfaction is None else satisfaction - 2,
        ci_high=None if satisfaction is None else satisfaction + 2,
        grade=grade,
        logs=kw.pop("logs", {"talk": 3, "dorm_visit": 1}),
    )


def test_teacher_terms_oldest_first_with_change() -> None:
    points = [
        point(AUTUMN, 1, 86.0, Grade.EXCELLENT),
        point(SPRING, 1, 74.5, Grade.GOOD),
    ]
    trends = build(points, min_respondents=5)
    assert trends.terms == ["2025-2026-2", "2026-2027-1"]
    (t,) = trends.teachers
    assert [x.term for x in t.terms] == trends.terms
    assert t.terms[0].change is None and t.terms[1].change == pytest.approx(11.5)
    assert t.terms[1].grade_label == "优秀" and t.terms[1].logs_total == 4
    assert t.at("2024-2025-1") is None


def test_below_min_respondents_percentage_and_grade_only() -> None:
    trends = build([point(AUTUMN, 1, 66.0, Grade.PASS, respondents=3)], min_respondents=5)
    x = trends.teachers[0].terms[0]
    assert x.satisfaction == 66.0 and x.grade == Grade.PASS
    assert x.ci_low is None and x.ci_high is None
    assert trends_json(trends)["teachers"][0]["terms"][0]["ci_low"] is None


def test_no_respondents_no_satisfaction() -> None:
    trends = build([point(AUTUMN, 1, None, Grade.FAIL, respondents=0)], min_respondents=5)
    x = trends.teachers[0].terms[0]
    assert x.satisfaction is None and x.change is None
    assert trends.school.terms[0].satisfaction is None and trends.school.terms[0].rated == 0


def test_group_average_counts_each_teacher_once_with_interval() -> None:
    points = [
        point(AUTUMN, 1, 80.0, Grade.EXCELLENT, respondents=30),
        point(AUTUMN, 2, 70.0, Grade.GOOD, respondents=5),
        point(AUTUMN, 3, 90.0, Grade.EXCELLENT, department="声乐系"),
        point(SPRING, 1, 60.0, Grade.PASS),
    ]
    trends = build(points, min_respondents=5)
    school = trends.school.at("2026-2027-1")
    assert school.satisfaction == pytest.approx(80.0) and school.rated == 3
    assert school.ci_low < 80.0 < school.ci_high
    assert school.grades == {"优秀": 2, "良好": 1, "合格": 0, "不合格": 0, "待测评": 0}
    assert trends.school.terms[1].change == pytest.approx(20.0)
    names = [d.name for d in trends.departments]
    assert names == ["声乐系", "管弦系"]
    strings = trends.departments[1]
    assert strings.at("2026-2027-1").satisfaction == pytest.approx(75.0)
    # One teacher: a mean, no spread to make an interval from.
    single = trends.departments[0].at("2026-2027-1")
    assert single.satisfaction == 90.0 and single.ci_low is None
    assert build(points, 5, school=False).school is None


def test_mean_with_interval() -> None:
    assert mean_with_interval([]) == (None, None, None)
    assert mean_with_interval([70.0]) == (70.0, None, None)
    mean, low, high = mean_with_interval([70.0, 80.0, 90.0])
    # t(0.975, 2) = 4.303; sd 10, se 5.77: 80 ± 24.8.
    assert mean == 80.0 and low == pytest.approx(55.2, abs=0.1) and high == pytest.approx(100.0)


def test_sheet_numbers_stay_numbers_and_gaps_stay_empty() -> None:
    points = [
        point(SPRING, 1, 74.54, Grade.GOOD),
        point(AUTUMN, 1, 86.0, Grade.EXCELLENT),
        point(AUTUMN, 2, 61.0, Grade.PASS),
    ]
    headers, lines = trend_sheet(build(points, 5))
    assert headers[:3] == ["工号", "姓名", "党总支"]
    assert headers[3:6] == ["2025-2026-2 满意度", "2025-2026-2 等级", "2025-2026-2 日志"]
    by_staff = {line[0]: line for line in lines}
    # Shares that an xlsx formats as 0.0% (core.reports.cells.Percent), unrounded.
    assert isinstance(by_staff["T001"][3], Percent) and str(by_staff["T001"][3]) == "74.5%"
    assert by_staff["T001"][3:9] == [pytest.approx(0.7454), "良好", 4, 0.86, "优秀", 4]
    assert isinstance(by_staff["T001"][0], Code)  # a 工号 stays text
    assert by_staff["T002"][3:6] == [None, None, None]  # not evaluated in spring
    assert lines[-1][1] == "全校 平均" and lines[-1][6] == pytest.approx(0.735)


def test_json_shape() -> None:
    body = trends_json(build([point(AUTUMN, 1, 86.04, Grade.EXCELLENT, published=False)], 5))
    assert body["terms"] == [{"term": "2026-2027-1", "published": False}]
    assert body["school"]["terms"][0]["satisfaction_pct"] == 86.0
    assert body["teachers"][0]["terms"][0]["grade"] == "优秀"
    assert body["teachers"][0]["terms"][0]["logs"] == {"talk": 3, "dorm_visit": 1}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((False, "2025-2026-2", True, 0, 0, 0), ["本学期尚未考核"]),
        ((True, "2025-2026-2", False, 2, 0, 0), ["上一学期（2025-2026-2）没有考核结果"]),
        ((True, "2025-2026-2", True, 0, 0, 0), ["本学期没有考核优秀的班主任"]),
        ((True, "2025-2026-2", True, 3, 0, 0), ["本学期考核优秀的 3 位班主任，上一学期"]),
        ((True, "2025-2026-2", True, 3, 1, 1), ["1 位连续两个学期优秀，但三年内曾被解聘"]),
    ],
)
def test_why_nobody_qualifies(args, expected) -> None:
    reasons = explain_none(*args)
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected, strict=True):
        assert reason.startswith(start), reason
