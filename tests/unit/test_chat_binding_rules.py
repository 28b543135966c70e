"""The 绑定 command's syntax and the lock-out rule for wrong binding codes, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.chat.binding import (
    MAX_FAILURES,
    WINDOW,
    BindSyntaxError,
    codes_match,
    is_bind_command,
    is_unbind_command,
    locked_until,
    parse_bind,
)

T0 = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text",
    [
        "绑定 2023010101 123456",
        "绑定　2023010101　123456",  # full-width spaces
        "绑定2023010101 123456",
        "  绑定：2023010101   123456 ",
        "绑定 2023010101，123456",
        "绑定\t2023010101\n123456",
    ],
)
def test_bind_forms(text):
    assert is_bind_command(text)
    assert parse_bind(text) == ("2023010101", "123456")


@pytest.mark.parametrize("text", ["绑定", "绑定 2023010101", "绑定 1 2 3", "绑定　"])
def test_bad_bind_forms_explain_the_format(text):
    with pytest.raises(BindSyntaxError) as err:
        parse_bind(text)
    assert "绑定 2023010101 123456" in str(err.value)


def test_other_texts_are_not_bind_commands():
    assert not is_bind_command("测评")
    assert not is_bind_command("我要绑定")
    assert not is_bind_command("绑定码是多少")
    assert is_unbind_command(" 解绑 ") and is_unbind_command("取消绑定")
    assert not is_unbind_command("解绑 2023")


def test_codes_compare_ignoring_case_and_spaces():
    assert codes_match(" ab12 ", "AB12")
    assert not codes_match("AB13", "AB12")
    assert not codes_match("", "AB12")


def test_fewer_failures_than_the_limit_do_not_lock():
    fails = [T0 + dt.timedelta(minutes=i) for i in range(MAX_FAILURES - 1)]
    assert locked_until(fails, T0 + dt.timedelta(minutes=5)) is None


def test_five_failures_within_the_window_lock_for_the_window_after_the_last():
    fails = [T0 + dt.timedelta(minutes=2 * i) for i in range(MAX_FAILURES)]  # 0..8 min
    last = fails[-1]
    assert locked_until(fails, last) == last + WINDOW
    assert locked_until(fails, last + WINDOW - dt.timedelta(seconds=1)) == last + WINDOW
    assert locked_until(fails, last + WINDOW) is None


def test_failures_spread_wider_than_the_window_do_not_lock():
    fails = [T0 + dt.timedelta(minutes=4 * i) for i in range(MAX_FAILURES)]  # 0..16 min
    assert locked_until(fails, fails[-1]) is None


def test_order_of_failures_does_not_matter():
    fails = [T0 + dt.timedelta(minutes=m) for m in (9, 1, 3, 0, 5)]
    assert (
        locked_until(fails, T0 + dt.timedelta(minutes=10)) == T0 + dt.timedelta(minutes=9) + WINDOW
    )
