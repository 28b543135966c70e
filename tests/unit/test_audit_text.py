"""Audit rows as Chinese sentences (bot/dashboard/audit_text.py)."""

from __future__ import annotations

import re

import pytest

from bot.dashboard.audit_text import ACTION_LABELS, describe

CASES = [
    (
        "wechat:o-zs",
        "binding.bind",
        "2023010101",
        {"via": "cas", "role": "student"},
        "微信 o-zs 通过统一身份认证绑定为 2023010101（学生）。",
    ),
    (
        "wechat:o-x",
        "binding.refused",
        "T2001",
        {"via": "cas", "reason": "person_taken"},
        "微信 o-x 通过统一身份认证绑定 T2001 被拒绝：该学号/工号已绑定其他微信。",
    ),
    ("wechat:o-y", "binding.unbind", "S1", {"role": "student"}, "微信 o-y 解除了与 S1 的绑定。"),
    ("xsc", "login", "xsc", {}, "xsc 登录了后台。"),
    ("xsc", "login.locked", "wang", {}, "账户 wang 因多次密码错误被锁定 15 分钟。"),
    (
        "xsc",
        "appointment.transition",
        "T001 GQ2025",
        {"appointment_id": 4, "before": "hr_filed", "after": "appointed", "ended_on": None},
        "xsc 将 T001 GQ2025 的聘任由「人事处备案」改为「聘任」。",
    ),
    (
        "xsc",
        "appointment.transition",
        "T001 GQ2025",
        {"before": "appointed", "after": "dismissed", "ended_on": "2026-11-01"},
        "xsc 将 T001 GQ2025 的聘任由「聘任」改为「解聘」，结束日期 2026-11-01。",
    ),
    (
        "cli",
        "survey.created",
        "satisfaction",
        {"questions": 12},
        "命令行 新建了问卷 satisfaction（12 题）。",
    ),
    (
        "xsc",
        "grade.override",
        "T001 2026-2027-1",
        {"before": "pass", "after": "good", "computed": "pass", "reason": "补交材料"},
        "xsc 将 T001 2026-2027-1 的考核等级由「合格」调整为「良好」（计算结果为「合格」），理由：补交材料。",
    ),
    (
        "gq",
        "meeting.add",
        "2026-10-15 十月例会",
        {"meeting_id": 9, "kind": "staff_meeting", "attendees": ["T001", "T002"]},
        "gq 记录了工作例会：2026-10-15 十月例会，出席 2 人（T001、T002）。",
    ),
    (
        "gq",
        "incident.add",
        "T001 2026-2027-1",
        {"kind": "serious", "occurred_on": "2026-10-01", "description": "学生受伤未上报"},
        "gq 为 T001 2026-2027-1 记录了严重责任事件或事故（2026-10-01）：学生受伤未上报。",
    ),
    (
        "cli",
        "user.add",
        "gq",
        {"role": "branch", "department": "钢琴系党总支"},
        "命令行 添加了后台用户 gq（党总支，钢琴系党总支）。",
    ),
    (
        "xsc",
        "term.publish",
        "2026-2027-1",
        {"teachers": 8},
        "xsc 发布了 2026-2027-1 学期的考核结果（8 名班主任）。",
    ),
    (
        "cli",
        "term.add",
        "2026-2027-1",
        {"start": "2026-09-01", "end": "2027-01-20"},
        "命令行 添加了学期 2026-2027-1（2026-09-01 至 2027-01-20）。",
    ),
    (
        "xsc",
        "roster.import",
        "roster.xlsx",
        {
            "source": "roster.xlsx",
            "changes": 3,
            "sheets": {"students": {"created": 2, "updated": 1}},
        },
        "xsc 导入了名册 roster.xlsx：学生新增 2、更新 1（共 3 处变化）。",
    ),
    (
        "xsc",
        "round.open",
        "2026-2027-1/satisfaction",
        {"closes_on": "2027-01-10"},
        "xsc 开启了测评 2026-2027-1/satisfaction，截止 2027-01-10。",
    ),
    (
        "cli",
        "term.publish",
        "2026-2027-1",
        {"teachers": 8, "forced": True, "reason": "学院批准提前发布", "problems": ["测评进行中"]},
        "命令行 发布了 2026-2027-1 学期的考核结果（8 名班主任）。"
        "强制发布：是；理由：学院批准提前发布；当时不满足的条件：测评进行中",
    ),
]


@pytest.mark.parametrize(("actor", "action", "target", "detail", "expected"), CASES)
def test_sentences(actor, action, target, detail, expected) -> None:
    assert describe(actor, action, target, detail) == expected


def test_unknown_action_and_keys_still_read_in_chinese() -> None:
    text = describe("xsc", "user.disable", "wang", {"before": "affairs", "note": "离职"})
    assert text == "xsc：停用用户 wang。调整前：学生处；其他：离职"
    # No raw Python structures (braces, quotes) ever reach the page.
    for case in CASES:
        assert not re.search(r"[{}\[\]']", describe(*case[:4]))


def test_round_rows_name_the_survey_not_its_code():
    text = describe(
        "学生处",
        "round.close",
        "2026-2027-1/satisfaction",
        {"responses": 201, "survey": "班主任满意度测评"},
    )
    assert text == "学生处 关闭了测评 2026-2027-1 学期的「班主任满意度测评」，收回答卷 201 份。"
    # A row written before the title was recorded: no English key either.
    old = describe("学生处", "round.close", "2026-2027-1/satisfaction", {"responses": 201})
    assert "responses" not in old and "收回答卷 201 份" in old
    remind = describe(
        "xsc",
        "round.remind",
        "2026-2027-1/satisfaction/GQ2025",
        {"reminded": 12, "department": 3, "survey": "班主任满意度测评"},
    )
    assert (
        remind
        == "xsc 为测评 2026-2027-1 学期的「班主任满意度测评」（GQ2025） 一键催填，提醒 12 人。"
    )


def test_no_english_detail_key_reaches_the_page():
    dates = describe(
        "cli", "term.closed_dates.add", "2026-2027-1", {"days": ["2026-10-01"], "exam": False}
    )
    assert dates == "命令行 设置了学期 2026-2027-1 的节假日（不催填）：2026-10-01。"
    unknown = describe("cli", "something.new", "x", {"weird_key": 5})
    assert "weird_key" not in unknown and "其他：5" in unknown


def test_survey_rows_name_the_title():
    text = describe(
        "cli", "survey.created", "satisfaction", {"questions": 6, "survey": "满意度测评"}
    )
    assert text == "命令行 新建了问卷 「满意度测评」（6 题）。"


def test_chat_link_and_online_application_rows_read_in_chinese() -> None:
    made = describe(
        "wechat:T1001",
        "logbook.link",
        "T1001",
        {"period_start": "2026-09-01", "period_end": "2027-09-01", "expires_at": "x"},
    )
    assert (
        made
        == "教师 T1001 在微信上获取了工作日志本的一次性下载链接（聘期 2026-09-01 至 2027-09-01）。"
    )
    used = describe(
        "wechat:T1001", "logbook.link_used", "T1001", {"link_id": 3, "address": "1.2.3.4"}
    )
    assert used.startswith("教师 T1001 的工作日志本下载链接已使用") and "地址：1.2.3.4" in used
    online = describe(
        "wechat:T3001",
        "appointment.apply",
        "T3001 G2027",
        {"start": "2027-09-01", "end": "2028-09-01", "online": True, "appointment_id": 1},
    )
    assert (
        online.startswith("T3001 在微信上提交了 T3001 G2027 的聘任申请") and "online" not in online
    )
    assert "application.link" in ACTION_LABELS and "apply.link_used" in ACTION_LABELS
