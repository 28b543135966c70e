"""Replies longer than WeChat's 2048 bytes are split at line breaks, never inside a character."""

from __future__ import annotations

import pytest

from bot.wechat.textlimit import ELLIPSIS, fit_messages, shorten, split_text, utf8_len


def test_short_text_is_one_part():
    assert split_text("你好") == ["你好"]
    assert split_text("") == [""]


def test_long_text_splits_at_line_breaks_within_the_limit():
    lines = [f"第{i}行：" + "测评" * 30 for i in range(60)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(utf8_len(p) <= 2048 for p in parts)
    # Nothing lost, nothing cut inside a line.
    assert "\n".join(parts) == text
    for p in parts:
        assert p.split("\n")[0].startswith("第")


def test_a_single_long_line_is_cut_on_character_boundaries():
    text = "字" * 1000  # 3000 bytes
    parts = split_text(text, 2048)
    assert [utf8_len(p) for p in parts] == [2046, 954]
    assert "".join(parts) == text


def test_shorten_marks_what_was_cut():
    text = "x\n" * 2000
    short = shorten(text)
    assert utf8_len(short) <= 2048 and short.endswith(ELLIPSIS)
    assert shorten("短") == "短"


def test_fit_messages_caps_the_number_of_parts():
    text = "\n".join("行" * 200 for _ in range(100))  # ~60 KB
    parts = fit_messages(text, 4)
    assert len(parts) == 4
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert parts[-1].endswith(ELLIPSIS)
    assert fit_messages("短", 4) == ["短"]


def test_limit_must_be_sensible():
    with pytest.raises(ValueError):
        split_text("abc", 2)
