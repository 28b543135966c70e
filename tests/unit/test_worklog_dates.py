"""Dates as head teachers write them (core/worklog/dates.py), relative to the school's today."""

from __future__ import annotations

import datetime as dt

import pytest

from core.worklog.dates import DateMatch, DateProblem, check_date, format_day, match_date

# A Thursday.
TODAY = dt.date(2026, 11, 26)
D = dt.date


@pytest.mark.parametrize(
    ("text", "expected", "length"),
    [
        ("今天 班会", D(2026, 11, 26), 2),
        ("今日班会", D(2026, 11, 26), 2),
        ("昨天 走访寝室", D(2026, 11, 25), 2),
        ("昨日谈心", D(2026, 11, 25), 2),
        ("昨晚查寝", D(2026, 11, 25), 2),
        ("昨天晚上 查寝", D(2026, 11, 25), 4),
        ("前天 家访", D(2026, 11, 24), 2),
        ("大前天 家访", D(2026, 11, 23), 3),
        ("上周五 例会", D(2026, 11, 20), 3),
        ("上周一 例会", D(2026, 11, 16), 3),
        ("上周日 例会", D(2026, 11, 22), 3),
        ("上星期三 班会", D(2026, 11, 18), 4),
        ("上个礼拜二 班会", D(2026, 11, 17), 5),
        ("上上周五 班会", D(2026, 11, 13), 4),
        ("本周三 班会", D(2026, 11, 25), 3),
        ("本周一 班会", D(2026, 11, 23), 3),
        ("这周四 班会", D(2026, 11, 26), 3),
        ("周二 班会", D(2026, 11, 24), 2),
        ("周四 班会", D(2026, 11, 26), 2),
        ("周五 班会", D(2026, 11, 20), 2),  # bare weekday: the latest one up to today
        ("星期天 班会", D(2026, 11, 22), 3),
        ("11月20日 班会", D(2026, 11, 20), 6),
        ("11月20号 班会", D(2026, 11, 20), 6),
        ("11月20 班会", D(2026, 11, 20), 6),
        ("11.20 班会", D(2026, 11, 20), 5),
        ("11/20 班会", D(2026, 11, 20), 5),
        ("2026-11-20 班会", D(2026, 11, 20), 10),
        ("2026.11.20 班会", D(2026, 11, 20), 10),
        ("2026/11/20 班会", D(2026, 11, 20), 10),
        ("2026年11月20日 班会", D(2026, 11, 20), 11),
        ("2026-9-1 班会", D(2026, 9, 1), 8),
        ("9月1日下午 班会", D(2026, 9, 1), 6),
        ("晚上 查寝", D(2026, 11, 26), 2),
    ],
)
def test_dates(text: str, expected: dt.date, length: int) -> None:
    found = match_date(text, TODAY)
    assert found == DateMatch(expected, length)


def test_month_day_ahead_of_today_early_in_the_year_is_last_year() -> None:
    # Written on 5 January: 12月28日 is eight days ago, not eleven months ahead.
    assert match_date("12月28日 班会", D(2027, 1, 5)) == DateMatch(D(2026, 12, 28), 6)
    assert match_date("12.28 班会", D(2027, 1, 5)) == DateMatch(D(2026, 12, 28), 5)


def test_month_day_shortly_ahead_is_a_future_date() -> None:
    found = match_date("12月5日 班会", TODAY)
    assert found == DateMatch(D(2026, 12, 5), 5)
    assert "还没到" in check_date(found.day, TODAY, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2月30日 班会", "没有2月30日这一天"),
        ("2026-13-01 班会", "没有2026年13月1日这一天"),
        ("2026年4月31日 班会", "没有2026年4月31日这一天"),
    ],
)
def test_impossible_dates_say_so(text: str, reason: str) -> None:
    found = match_date(text, TODAY)
    assert isinstance(found, DateProblem)
    assert found.reason == reason


@pytest.mark.parametrize("text", ["班会 今天", "张三", "6号楼302", "谈心 11月20日", "", "今年"])
def test_no_date_at_the_start(text: str) -> None:
    assert match_date(text, TODAY) is None


@pytest.mark.parametrize(("text", "ahead"), [("明天", 1), ("明晚", 1), ("后天", 2), ("大后天", 3)])
def test_days_ahead_are_read_as_future_dates(text: str, ahead: int) -> None:
    found = match_date(f"{text} 班会 期末动员", TODAY)
    assert found == DateMatch(TODAY + dt.timedelta(days=ahead), len(text))
    assert "还没到" in check_date(found.day, TODAY, None)


def test_future_is_refused_with_today_in_the_reason() -> None:
    assert check_date(D(2026, 11, 27), TODAY, None) == (
        "11月27日还没到（今天是11月26日），只能记录已经做过的工作"
    )


def test_before_the_appointment_is_refused_with_the_start_date() -> None:
    reason = check_date(D(2026, 8, 31), TODAY, D(2026, 9, 1))
    assert reason == "8月31日早于您的聘任开始日期（2026年9月1日），聘任之前的工作不计入工作日志"


def test_allowed_dates() -> None:
    assert check_date(TODAY, TODAY, D(2026, 9, 1)) is None
    assert check_date(D(2026, 9, 1), TODAY, D(2026, 9, 1)) is None


def test_format_day_adds_the_year_only_when_it_differs() -> None:
    assert format_day(D(2026, 11, 20), TODAY) == "11月20日"
    assert format_day(D(2025, 12, 28), TODAY) == "2025年12月28日"
