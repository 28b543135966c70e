"""The text of a head teacher's own published result (core/worklog/result.py, pure part)."""

from __future__ import annotations

from core.worklog.result import OwnResult, format_result
from models.evaluation import Grade


def result(**kw) -> OwnResult:
    base = dict(
        term_code="2026-2027-1",
        grade=Grade.GOOD,
        overridden=False,
        satisfaction=74.95,
        respondents=12,
        eligible=20,
    )
    base.update(kw)
    return OwnResult(**base)


def test_full_result_with_one_decimal_and_counts():
    lines = format_result(result(), 5).splitlines()
    assert lines[:4] == [
        "【学期考核结果】2026-2027-1 学期",
        "考核等级：良好",
        "学生满意度：75.0%",
        "参评学生：12/20 人",
    ]


def test_fail_reasons_flags_and_override():
    text = format_result(
        result(
            grade=Grade.FAIL,
            overridden=True,
            reasons=["满意度低于60%", "被学生投诉"],
            flags=["未参加岗前培训"],
        ),
        5,
    )
    assert "考核等级：不合格（经学生处复核）" in text
    assert "不合格原因：满意度低于60%；被学生投诉" in text
    assert "提示：未参加岗前培训" in text


def test_below_min_respondents_only_percentage_and_grade():
    text = format_result(
        result(respondents=4, grade=Grade.FAIL, reasons=["满意度低于60%"], flags=["x"]), 5
    )
    assert "考核等级：不合格" in text and "学生满意度：75.0%" in text
    assert "4/20" not in text and "原因" not in text and "提示" not in text
    # Exactly at the threshold everything is shown.
    assert "参评学生：5/20 人" in format_result(result(respondents=5), 5)


def test_no_respondents_says_so():
    assert "学生满意度：无答卷" in format_result(result(satisfaction=None, respondents=0), 1)


def test_under_min_participation_only_percentage_and_grade():
    low = result(respondents=12, response_rate=0.6, flags=["x"])
    text = format_result(low, 5, min_participation=70)
    assert "参评率低于70%" in text and "学生满意度：75.0%" in text
    assert "12/20" not in text and "提示" not in text
    assert "参评学生：12/20 人" in format_result(low, 5, min_participation=60)
