"""Issue 23: template messages within WeChat's limits since 2023-05 (values of at most 20
characters, one line, no emoji; no ``first``/``remark``), and the field mapping checked when
the process starts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.demo.fake_wechat import _has_emoji
from core.settings import ConfigError, Settings, load_settings, parse_template_fields
from core.wechat.template import fit_value, template_data

SETTING = "BANZHUREN_WECHAT_TEMPLATE_REMIND_FIELDS"


def test_the_default_mapping_has_no_retired_fields():
    assert parse_template_fields(Settings.wechat_template_remind_fields) == {
        "thing1": "title",
        "time2": "deadline",
        "thing3": "hint",
    }
    assert (
        load_settings({}).wechat_template_remind_fields == "thing1=title;time2=deadline;thing3=hint"
    )


@pytest.mark.parametrize(
    "raw,words",
    [
        ("first=title;keyword1=term", ["first", "不再显示"]),
        ("thing1=title;remark=hint", ["remark", "不再显示"]),
        ("thing1=titel", ["titel", "不是可用的变量"]),
        ("thing1=title;thing1=hint", ["thing1", "两次"]),
        ("thing1", ["thing1", "关键词=变量"]),
        ("标题=title", ["标题", "关键词的名称"]),
        (";;", ["至少"]),
    ],
)
def test_a_bad_mapping_stops_the_process_naming_the_setting(raw, words):
    with pytest.raises(ConfigError) as info:
        load_settings({SETTING: raw})
    message = str(info.value)
    assert SETTING in message and "设置有误" in message
    for word in words:
        assert word in message


def test_a_good_mapping_is_taken():
    raw = "thing1=title;character_string2=term;time3=deadline;thing4=hint"
    assert load_settings({SETTING: raw}).wechat_template_remind_fields == raw


def test_values_are_cut_to_twenty_with_an_ellipsis_on_one_line_without_emoji():
    assert fit_value("满意度测评") == "满意度测评"
    assert fit_value("一二三四五六七八九十" * 2) == "一二三四五六七八九十" * 2
    cut = fit_value("一二三四五六七八九十" * 3)
    assert len(cut) == 20 and cut.endswith("…") and cut.startswith("一二三四五六七八九十")
    assert fit_value("回复「测评」\n开始\r\n作答") == "回复「测评」 开始 作答"
    assert fit_value("测评开始啦🎉👍🏻 ⭐ ✅") == "测评开始啦"
    assert fit_value("👨‍👩‍👧 家访") == "家访"
    assert fit_value("") == ""


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_every_value_passes_the_fakes_checks(text):
    value = fit_value(text)
    assert len(value) <= 20 and "\n" not in value and "\r" not in value
    assert not _has_emoji(value)


def test_template_data_fills_each_keyword():
    data = template_data(
        {"thing1": "title", "time2": "deadline"},
        {"title": "很长的标题" * 6, "deadline": "2026年12月20日"},
    )
    assert data == {
        "thing1": {"value": ("很长的标题" * 4)[:19] + "…"},
        "time2": {"value": "2026年12月20日"},
    }
