"""Dates as head teachers write them at the start of a log message: 今天, 昨天, 前天, 上周五,
本周三, 11月20日, 11.20, 11/20, 2026-11-20, 2026年11月20日 ...

Everything is relative to the school's today (``BANZHUREN_TIMEZONE``). A date in the future or
before the teacher's appointment started is refused with the reason: the work log is the
evidence a term evaluation rests on (第十六条), so it only holds work done in office.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Half a year: a month-day without a year that lies ahead of today is read as last year's
# when that is at most this far back (``12月28日`` written on 5 January), else it is a
# future date (``12月5日`` written on 26 November is a mistake, not a year-old visit).
LAST_YEAR_WINDOW = dt.timedelta(days=183)

_TIME_OF_DAY = r"(?:早上|上午|中午|下午|傍晚|晚上|夜里|晚间|晚|早)?"
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY.update({str(n): n - 1 for n in range(1, 8)})

_FULL = re.compile(
    r"(\d{4})\s*(?:[-./]|年)\s*(\d{1,2})\s*(?:[-./]|月)\s*(\d{1,2})(?:[日号](?!\d))?" + _TIME_OF_DAY
)
_MONTH_DAY_CN = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + _TIME_OF_DAY)
_MONTH_DAY_SEP = re.compile(r"(\d{1,2})[./](\d{1,2})(?![\d./])" + _TIME_OF_DAY)
_RELATIVE_WORDS = {
    "大前天": 3,
    "前天": 2,
    "昨天": 1,
    "昨日": 1,
    "昨晚": 1,
    "今天": 0,
    "今日": 0,
    "今早": 0,
    "今晚": 0,
    # Days ahead are recognised so that the reply says why they cannot be used (a future
    # date) rather than that the message does not start with a kind.
    "明天": -1,
    "明日": -1,
    "明早": -1,
    "明晚": -1,
    "后天": -2,
    "大后天": -3,
}
_RELATIVE = re.compile(
    "(" + "|".join(sorted(_RELATIVE_WORDS, key=len, reverse=True)) + ")" + _TIME_OF_DAY
)
_WEEK = re.compile(r"(上上|上个?|本|这个?)?(?:周|星期|礼拜)([一二三四五六日天1-7])" + _TIME_OF_DAY)
# A time of day alone ("晚上查寝 ...") means today.
_TIME_ONLY = re.compile(r"(?:早上|上午|中午|下午|傍晚|晚上|今晚)")


@dataclass(frozen=True)
class DateMatch:
    """A date found at the start of a message; ``length`` characters of it were the date."""

    day: dt.date
    length: int


@dataclass(frozen=True)
class DateProblem:
    """Something at the start of the message is a date, but not one that can be used."""

    reason: str
    length: int


def format_day(day: dt.date, today: dt.date) -> str:
    """``11月20日``; with the year when it is not this year's."""
    if day.year == today.year:
        return f"{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def _make(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_day(month: int, day: int, today: dt.date, length: int) -> DateMatch | DateProblem:
    this_year = _make(today.year, month, day)
    if this_year is None:
        # 2月29日 may exist last year even when it does not this year.
        last = _make(today.year - 1, month, day)
        if last is not None and today - last <= LAST_YEAR_WINDOW:
            return DateMatch(last, length)
        return DateProblem(f"没有{month}月{day}日这一天", length)
    if this_year <= today:
        return DateMatch(this_year, length)
    last = _make(today.year - 1, month, day)
    if last is not None and today - last <= LAST_YEAR_WINDOW:
        return DateMatch(last, length)
    return DateMatch(this_year, length)  # in the future: check_date says so


def match_date(text: str, today: dt.date) -> DateMatch | DateProblem | None:
    """The date ``text`` starts with, or None when it does not start with one.

    ``text`` must already be width-normalised (ASCII digits). The caller checks that what
    follows the date is a separator or the kind.
    """
    m = _FULL.match(text)
    if m:
        day = _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if day is None:
            return DateProblem(
                f"没有{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日这一天", m.end()
            )
        return DateMatch(day, m.end())
    m = _MONTH_DAY_CN.match(text) or _MONTH_DAY_SEP.match(text)
    if m:
        return _month_day(int(m.group(1)), int(m.group(2)), today, m.end())
    m = _RELATIVE.match(text)
    if m:
        return DateMatch(today - dt.timedelta(days=_RELATIVE_WORDS[m.group(1)]), m.end())
    m = _WEEK.match(text)
    if m:
        weekday = _WEEKDAY[m.group(2)]
        which = m.group(1) or ""
        monday = today - dt.timedelta(days=today.weekday())
        if which.startswith("上上"):
            return DateMatch(monday - dt.timedelta(days=14 - weekday), m.end())
        if which.startswith("上"):
            return DateMatch(monday - dt.timedelta(days=7 - weekday), m.end())
        if which:  # 本周 / 这周: this calendar week, Monday to Sunday
            return DateMatch(monday + dt.timedelta(days=weekday), m.end())
        # A bare 周三: the latest Wednesday up to today, as a teacher looking back means it.
        back = (today.weekday() - weekday) % 7
        return DateMatch(today - dt.timedelta(days=back), m.end())
    m = _TIME_ONLY.match(text)
    if m:
        return DateMatch(today, m.end())
    return None


def check_date(day: dt.date, today: dt.date, earliest: dt.date | None) -> str | None:
    """Why ``day`` cannot be a log entry's date, or None when it can."""
    if day > today:
        return (
            f"{format_day(day, today)}还没到（今天是{format_day(today, today)}），"
            "只能记录已经做过的工作"
        )
    if earliest is not None and day < earliest:
        return (
            f"{format_day(day, today)}早于您的聘任开始日期"
            f"（{earliest.year}年{earliest.month}月{earliest.day}日），"
            "聘任之前的工作不计入工作日志"
        )
    return None
