"""core.comments.detect: which comments are held for review (DESIGN.md, Privacy): a classmate's
name, a phone number, a 学号, a long run of digits, however they are written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.comments.detect import (
    LANDLINE_LABEL,
    LONG_NUMBER,
    MOBILE_LABEL,
    NAME,
    STUDENT_NO,
    hold_reasons,
    name_forms,
)

ROSTER = ["李明华", "王五", "欧阳娜娜"]
NUMBERS = ["2026010101", "20250102", "S2026001"]


def labels(text: str, names=ROSTER, numbers=NUMBERS) -> list[str]:
    return [h.label for h in hold_reasons(text, names, numbers)]


@pytest.mark.parametrize(
    "text",
    [
        "老师很负责，谢谢老师",
        "希望2026年多组织一些专业交流活动",
        "班会可以再少一点形式，每周1次就够了",
        "第3、4周的课太多",
        "",
    ],
)
def test_ordinary_comments_are_not_held(text: str) -> None:
    assert hold_reasons(text, ROSTER, NUMBERS) == []


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("李明华同学总是迟到", "李明华"),
        ("明华上课睡觉", "明华"),  # the given name, as classmates say it
        ("王五不交作业", "王五"),
        ("娜娜很吵", "娜娜"),
        ("李 明 华 太吵了", "李明华"),  # spaces do not hide a name
    ],
)
def test_a_classmate_named_is_held(text: str, match: str) -> None:
    holds = hold_reasons(text, ROSTER, NUMBERS)
    assert [(h.label, h.match) for h in holds] == [(NAME, match)]


def test_only_the_class_roster_counts_as_names() -> None:
    assert labels("王五不交作业", names=["张三"]) == []
    assert name_forms("王五") == {"王五"} and name_forms("李明华") == {"李明华", "明华"}


@pytest.mark.parametrize(
    "text",
    [
        "有事打我电话13912345678",
        "电话 139 1234 5678",
        "电话139-1234-5678",
        "手机：１３９１２３４５６７８",  # full-width digits
        "+86 139 1234 5678",
        "电话1\u200b3912345678",  # a zero-width space inside
    ],
)
def test_mobile_numbers_are_held_however_written(text: str) -> None:
    assert MOBILE_LABEL in labels(text)


@pytest.mark.parametrize("text", ["办公室电话 0451-86338888", "宿舍电话86338888", "(0451)8633888"])
def test_landlines_are_held(text: str) -> None:
    assert LANDLINE_LABEL in labels(text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("我的学号是2026010101", STUDENT_NO),
        ("学号 2025 0102", STUDENT_NO),  # a roster number written with a space
        ("学号s2026001", STUDENT_NO),  # letters in a 学号, any case
        ("我的身份证号230102199901011234", LONG_NUMBER),
        ("学号 1234567890", LONG_NUMBER),  # not on the roster, still eight digits or more
    ],
)
def test_student_numbers_and_long_digit_runs_are_held(text: str, label: str) -> None:
    assert label in labels(text)


def test_each_reason_once_and_printable() -> None:
    holds = hold_reasons("王五王五 13912345678，13912345678", ROSTER, NUMBERS)
    assert [str(h) for h in holds] == ["提到本班学生姓名「王五」", "含手机号「13912345678」"]


@settings(max_examples=60, deadline=None)
@given(
    before=st.text(alphabet="老师很好谢谢，。！ abc", max_size=20),
    after=st.text(alphabet="老师很好谢谢，。！ abc", max_size=20),
    second=st.sampled_from("3456789"),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
)
def test_any_mobile_number_in_any_text_is_held(before, after, second, rest) -> None:
    number = "1" + second + rest
    assert MOBILE_LABEL in labels(before + number + after, names=[], numbers=[])
