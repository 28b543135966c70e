"""The help texts cover the chat grammar of DESIGN.md for each role."""

from __future__ import annotations

import pytest

from bot.chat import help as texts


@pytest.mark.parametrize("role", [None, "student", "head_teacher", "counsellor"])
def test_every_help_mentions_help_and_binding_commands(role):
    text = texts.help_for(role)
    assert "帮助" in text
    if role is None:
        assert "绑定 2023010101 123456" in text
    else:
        assert "解绑" in text


def test_student_help_covers_the_survey_commands():
    text = texts.help_for("student")
    for word in ("测评", "评价", "上一题", "跳过", "退出", "确认", "修改 N", "序号", "字母"):
        assert word in text, word


def test_head_teacher_help_covers_every_log_kind_and_command():
    text = texts.help_for("head_teacher")
    kinds = [
        "谈心谈话",
        "谈心",
        "谈话",
        "班会",
        "走访寝室",
        "寝室",
        "查寝",
        "家访",
        "社会实践",
        "实践",
        "志愿服务",
        "学术活动指导",
        "综合测评",
        "评奖评优",
        "违纪处理",
        "班干部培养",
        "资助建议",
        "奖助贷补减",
        "新生入学指导",
        "就业指导",
        "就业",
        "实习",
        "参加例会",
        "参加培训",
        "反馈",
    ]
    for word in (*kinds, "撤销", "我的日志", "统计", "昨天", "前天", "11月20日", "2026-11-20"):
        assert word in text, word


def test_welcome_for_new_and_returning_users():
    assert texts.BIND_HOWTO in texts.welcome(None)
    back = texts.welcome("student", "张三")
    assert back.startswith("欢迎回来，张三（学生）") and texts.STUDENT_HELP in back


def test_help_texts_fit_one_wechat_reply():
    for role in (None, "student", "head_teacher", "counsellor"):
        assert len(texts.help_for(role).encode("utf-8")) <= 2048
        assert len(texts.not_understood(role).encode("utf-8")) <= 2048


def test_head_teacher_help_names_the_result_command():
    text = texts.help_for("head_teacher")
    assert "「考核结果」" in text and "「我的考核」" in text
