"""Audit rows as Chinese sentences for the 操作记录 page: who did what to whom, before → after.

Pure: takes what an AuditLog row stores (actor, action, target, detail) and returns text.
Actions and detail keys it does not know still read as Chinese (the action's label, or the
action itself, then the details as 「名称：值」 with known codes translated)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models.admin import UserRole
from models.appointment import STATUS_LABELS
from models.evaluation import GRADE_LABELS
from models.meetings import IncidentKind, MeetingKind

ACTION_LABELS: dict[str, str] = {
    "login": "登录",
    "login.failed": "登录失败",
    "login.locked": "账户锁定",
    "logout": "退出登录",
    "roster.import": "导入名册",
    "appointment.apply": "登记聘任申请",
    "appointment.transition": "聘任流程",
    "round.open": "开启测评",
    "round.close": "关闭测评",
    "round.reopen": "重新开启测评",
    "round.extend": "延长测评",
    "survey.load": "载入问卷",
    "survey.created": "新建问卷",
    "survey.updated": "更新问卷",
    "evaluate": "运行考核",
    "meeting.add": "记录会议",
    "incident.add": "记录不合格情形",
    "grade.override": "调整考核等级",
    "grade.override_clear": "撤销等级调整",
    "user.add": "添加用户",
    "user.token": "签发 API 令牌",
    "user.disable": "停用用户",
    "user.unlock": "解锁用户",
    "user.passwd": "修改密码",
    "user.passwd_failed": "修改密码失败",
    "user.reset": "重置密码",
    "user.enable": "恢复用户",
    "user.token_revoke": "吊销 API 令牌",
    "login.throttled": "登录尝试过多",
    "term.add": "添加学期",
    "term.update": "修改学期",
    "term.publish": "发布考核结果",
    "term.unpublish": "撤回考核结果发布",
    "binding.bind": "绑定微信",
    "binding.unbind": "解除微信绑定",
    "binding.refused": "绑定被拒绝",
    "round.remind": "一键催填",
    "logbook.link": "生成日志本下载链接",
    "logbook.link_used": "下载日志本",
    "application.link": "生成网上申请链接",
    "apply.link_used": "打开网上申请并提交",
    "term.closed_dates.add": "设置不催填的日期",
    "term.closed_dates.remove": "取消不催填的日期",
    "comment.shown": "显示学生意见",
    "comment.withheld": "隐去学生意见",
    "comment.show_unheld": "显示未标记的学生意见",
    "award.grant": "授予先进兼职班主任",
}

KEY_LABELS: dict[str, str] = {
    "held": "自动标记",
    "shown": "显示条数",
    "staff": "班主任工号",
    "name": "姓名",
    "appointment_id": "聘任编号",
    "start": "开始",
    "end": "结束",
    "before": "调整前",
    "after": "调整后",
    "computed": "计算结果",
    "reason": "理由",
    "ended_on": "结束日期",
    "meeting_id": "会议编号",
    "kind": "类别",
    "attendees": "出席",
    "incident_id": "记录编号",
    "occurred_on": "发生日期",
    "description": "情况说明",
    "role": "角色",
    "department": "党总支",
    "teachers": "班主任人数",
    "closes_on": "截止日期",
    "questions": "题数",
    "source": "来源",
    "changes": "变化",
    "sheets": "各表",
    "created": "新增",
    "updated": "更新",
    "unchanged": "未变",
    "students": "学生",
    "classes": "班级",
    "departments": "党总支",
    "appointments": "聘任",
    "username": "用户名",
    "address": "地址",
    "token_id": "令牌编号",
    "label": "用途",
    "expires_at": "到期时间",
    "locks": "解除的锁定",
    "responses": "答卷",
    "reminded": "提醒人数",
    "survey": "问卷",
    "days": "日期",
    "exam": "考试日",
    "teacher": "班主任",
    "term": "学期",
    "grade": "等级",
    "status": "状态",
    "title": "标题",
    "count": "数量",
    "forced": "强制发布",
    "problems": "当时不满足的条件",
    "tokens_revoked": "吊销的 API 令牌",
}

SHEET_LABELS = {
    "departments": "党总支",
    "classes": "班级",
    "students": "学生",
    "teachers": "教师",
    "appointments": "聘任",
}

# Codes stored in details, in Chinese; one table since their values do not collide.
_CODES: dict[str, str] = {
    **{s.value: label for s, label in STATUS_LABELS.items()},
    **{g.value: label for g, label in GRADE_LABELS.items()},
    **{k.value: k.label for k in MeetingKind},
    **{k.value: k.label for k in IncidentKind},
    **{r.value: r.label for r in UserRole},
}


def actor_text(actor: str) -> str:
    return "命令行" if actor == "cli" else (actor or "（未知）")


def value_text(value: Any) -> str:
    """A detail value in Chinese: codes translated, lists joined, empty as 无."""
    if value is None or value == "" or value == []:
        return "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "、".join(value_text(v) for v in value)
    if isinstance(value, Mapping):
        return "，".join(
            f"{KEY_LABELS.get(str(k), str(k))} {value_text(v)}" for k, v in value.items()
        )
    text = str(value)
    return _CODES.get(text, text)


def details_text(detail: Mapping[str, Any] | None, skip: tuple[str, ...] = ()) -> str:
    """The remaining details as 「名称：值」 pairs (ids and empty values left out)."""
    parts = []
    for key, value in (detail or {}).items():
        if key in skip or key.endswith("_id") or value in (None, "", []):
            continue
        # A key nobody labelled yet still reads as Chinese, never as the code's English name.
        parts.append(f"{KEY_LABELS.get(key, '其他')}：{value_text(value)}")
    return "；".join(parts)


def _label(code: Any) -> str:
    return f"「{value_text(code)}」"


def _period(d: Mapping[str, Any]) -> str:
    if d.get("start") and d.get("end"):
        return f"（{d['start']} 至 {d['end']}）"
    return ""


def _roster(a: str, t: str, d: Mapping[str, Any]) -> str:
    sheets = d.get("sheets") or {}
    parts = []
    for kind, counts in sheets.items():
        c = counts or {}
        parts.append(
            f"{SHEET_LABELS.get(kind, kind)}新增 {c.get('created', 0)}、更新 {c.get('updated', 0)}"
        )
    summary = "；".join(parts) or "没有变化"
    return f"{a} 导入了名册 {t}：{summary}（共 {d.get('changes', 0)} 处变化）"


def _changed(
    a: str, t: str, d: Mapping[str, Any], what: str, verb: str, note: str, why: str
) -> str:
    """``<a> 将 <t> 的<what>由<before><verb>为<after><note>``, then ``，<why>：<reason>`` when
    the row gives a reason."""
    text = f"{a} 将 {t} 的{what}由{_label(d.get('before'))}{verb}为{_label(d.get('after'))}{note}"
    return text + f"，{why}：{d['reason']}" if d.get("reason") else text


def _transition(a: str, t: str, d: Mapping[str, Any]) -> str:
    ended = f"，结束日期 {d['ended_on']}" if d.get("ended_on") else ""
    return _changed(a, t, d, "聘任", "改", ended, "原因")


def _meeting(a: str, t: str, d: Mapping[str, Any]) -> str:
    attendees = d.get("attendees") or []
    kind = value_text(d.get("kind")) if d.get("kind") else "会议"
    who = f"，出席 {len(attendees)} 人（{value_text(attendees)}）" if attendees else "，无人出席"
    return f"{a} 记录了{kind}：{t}{who}"


def _incident(a: str, t: str, d: Mapping[str, Any]) -> str:
    kind = value_text(d.get("kind")) if d.get("kind") else "不合格情形"
    when = f"（{d['occurred_on']}）" if d.get("occurred_on") else ""
    what = f"：{d['description']}" if d.get("description") else ""
    return f"{a} 为 {t} 记录了{kind}{when}{what}"


def _override(a: str, t: str, d: Mapping[str, Any]) -> str:
    computed = f"（计算结果为{_label(d.get('computed'))}）" if d.get("computed") else ""
    return _changed(a, t, d, "考核等级", "调整", computed, "理由")


def _override_clear(a: str, t: str, d: Mapping[str, Any]) -> str:
    return (
        f"{a} 撤销了 {t} 的考核等级调整，由{_label(d.get('before'))}"
        f"恢复为计算结果{_label(d.get('after'))}"
    )


_BIND_VIA = {"cas": "统一身份认证", "code": "绑定码"}
_BIND_ROLES = {"student": "学生", "head_teacher": "兼职班主任", "counsellor": "辅导员"}
_BIND_REFUSALS = {
    "not_in_roster": "名单中没有该学号/工号",
    "openid_taken": "该微信已绑定其他身份",
    "person_taken": "该学号/工号已绑定其他微信",
}


def _bind(a: str, t: str, d: Mapping[str, Any]) -> str:
    role = _BIND_ROLES.get(str(d.get("role")), "")
    via = _BIND_VIA.get(str(d.get("via")), str(d.get("via") or ""))
    return f"微信 {a.removeprefix('wechat:')} 通过{via}绑定为 {t}" + (f"（{role}）" if role else "")


def _bind_refused(a: str, t: str, d: Mapping[str, Any]) -> str:
    via = _BIND_VIA.get(str(d.get("via")), str(d.get("via") or ""))
    why = _BIND_REFUSALS.get(str(d.get("reason")), str(d.get("reason") or ""))
    return f"微信 {a.removeprefix('wechat:')} 通过{via}绑定 {t} 被拒绝：{why}"


def _unbind(a: str, t: str, d: Mapping[str, Any]) -> str:
    return f"微信 {a.removeprefix('wechat:')} 解除了与 {t} 的绑定"


def _user_add(a: str, t: str, d: Mapping[str, Any]) -> str:
    role = value_text(d.get("role")) if d.get("role") else ""
    dep = f"，{d['department']}" if d.get("department") else ""
    return f"{a} 添加了后台用户 {t}" + (f"（{role}{dep}）" if role else "")


def _publish(verb: str) -> Callable[[str, str, Mapping[str, Any]], str]:
    def sentence(a: str, t: str, d: Mapping[str, Any]) -> str:
        n = f"（{d['teachers']} 名班主任）" if d.get("teachers") is not None else ""
        return f"{a} {verb} {t} 学期的考核结果{n}"

    return sentence


def _round_name(t: str, d: Mapping[str, Any]) -> str:
    """``2026-2027-1 学期的「班主任满意度测评」`` from the target ``term/survey-code`` and the
    survey's title in the details; rows written before titles were recorded show the target."""
    term, _, rest = t.partition("/")
    if not d.get("survey"):
        return t
    scope = rest.partition("/")[2]
    return f"{term} 学期的「{d['survey']}」" + (f"（{scope}）" if scope else "")


def _round(verb: str) -> Callable[[str, str, Mapping[str, Any]], str]:
    def sentence(a: str, t: str, d: Mapping[str, Any]) -> str:
        closes = f"，截止 {d['closes_on']}" if d.get("closes_on") else ""
        opened = f"，收回答卷 {d['responses']} 份" if d.get("responses") is not None else ""
        return f"{a} {verb}测评 {_round_name(t, d)}{closes}{opened}"

    return sentence


def _survey(t: str, d: Mapping[str, Any]) -> str:
    """A survey by its title (older rows, without one, by the code they stored)."""
    return f"「{d['survey']}」" if d.get("survey") else t


def _remind(a: str, t: str, d: Mapping[str, Any]) -> str:
    n = f"，提醒 {d['reminded']} 人" if d.get("reminded") is not None else ""
    return f"{a} 为测评 {_round_name(t, d)} 一键催填{n}"


def _closed_dates(verb: str) -> Callable[[str, str, Mapping[str, Any]], str]:
    def sentence(a: str, t: str, d: Mapping[str, Any]) -> str:
        days = value_text(d.get("days"))
        kind = "考试日" if d.get("exam") else "节假日"
        return f"{a} {verb}学期 {t} 的{kind}（不催填）：{days}"

    return sentence


_SENTENCES: dict[str, Callable[[str, str, Mapping[str, Any]], str]] = {
    "login": lambda a, t, d: f"{a} 登录了后台",
    "login.failed": lambda a, t, d: f"{t or a} 登录失败",
    "login.locked": lambda a, t, d: f"账户 {t or a} 因多次密码错误被锁定 15 分钟",
    "logout": lambda a, t, d: f"{a} 退出了登录",
    "roster.import": _roster,
    "appointment.apply": lambda a, t, d: (
        f"{t.split()[0]} 在微信上提交了 {t} 的聘任申请{_period(d)}"
        if d.get("online")
        else f"{a} 登记了 {t} 的聘任申请{_period(d)}"
    ),
    "logbook.link": lambda a, t, d: (
        f"教师 {t} 在微信上获取了工作日志本的一次性下载链接"
        f"（聘期 {d.get('period_start', '?')} 至 {d.get('period_end', '?')}）"
    ),
    "logbook.link_used": lambda a, t, d: f"教师 {t} 的工作日志本下载链接已使用（下载一次）",
    "application.link": lambda a, t, d: f"教师 {t} 在微信上获取了网上申请的一次性链接",
    "apply.link_used": lambda a, t, d: f"教师 {t} 的网上申请链接已使用（提交了申请）",
    "appointment.transition": _transition,
    "round.open": _round("开启了"),
    "round.reopen": _round("重新开启了"),
    "round.extend": _round("延长了"),
    "round.close": _round("关闭了"),
    "round.remind": _remind,
    "term.closed_dates.add": _closed_dates("设置了"),
    "term.closed_dates.remove": _closed_dates("取消了"),
    "survey.created": lambda a, t, d: (
        f"{a} 新建了问卷 {_survey(t, d)}（{d.get('questions', '?')} 题）"
    ),
    "survey.updated": lambda a, t, d: (
        f"{a} 更新了问卷 {_survey(t, d)}（{d.get('questions', '?')} 题）"
    ),
    "evaluate": lambda a, t, d: f"{a} 运行了 {t} 学期的考核",
    "meeting.add": _meeting,
    "incident.add": _incident,
    "grade.override": _override,
    "grade.override_clear": _override_clear,
    "user.add": _user_add,
    "user.token": lambda a, t, d: f"{a} 为用户 {t} 签发了 API 令牌",
    "user.token_revoke": lambda a, t, d: f"{a} 吊销了用户 {t} 的 API 令牌",
    "user.reset": lambda a, t, d: f"{a} 重置了用户 {t} 的密码",
    "user.enable": lambda a, t, d: f"{a} 恢复了用户 {t}",
    "user.unlock": lambda a, t, d: f"{a} 解锁了用户 {t}",
    "user.passwd": lambda a, t, d: f"{a} 修改了自己的密码",
    "user.passwd_failed": lambda a, t, d: f"{a} 修改密码失败（当前密码错误或新密码不合要求）",
    "login.throttled": lambda a, t, d: f"{t or a} 登录失败：该地址尝试次数过多",
    "term.add": lambda a, t, d: f"{a} 添加了学期 {t}{_period(d)}",
    "term.update": lambda a, t, d: f"{a} 将学期 {t} 的起止日期改为{_period(d) or '（未记录）'}",
    "term.publish": _publish("发布了"),
    "term.unpublish": _publish("撤回了"),
    "binding.bind": _bind,
    "binding.refused": _bind_refused,
    "binding.unbind": _unbind,
}

# Details a sentence already says; anything else is appended after it.
_SAID: dict[str, tuple[str, ...]] = {
    "roster.import": ("source", "changes", "sheets"),
    "appointment.apply": ("start", "end", "online"),
    "logbook.link": ("period_start", "period_end", "expires_at"),
    "logbook.link_used": ("link_id",),
    "apply.link_used": ("link_id",),
    "appointment.transition": ("before", "after", "ended_on", "reason"),
    "round.open": ("closes_on", "survey"),
    "round.reopen": ("closes_on", "survey"),
    "round.extend": ("closes_on", "survey"),
    "round.close": ("responses", "survey"),
    "round.remind": ("reminded", "survey", "department"),
    "term.closed_dates.add": ("days", "exam"),
    "term.closed_dates.remove": ("days", "exam"),
    "survey.created": ("questions", "survey"),
    "survey.updated": ("questions", "survey"),
    "meeting.add": ("kind", "attendees"),
    "incident.add": ("kind", "occurred_on", "description"),
    "grade.override": ("before", "after", "computed", "reason"),
    "grade.override_clear": ("before", "after", "computed", "reason"),
    "user.add": ("role", "department"),
    "term.add": ("start", "end"),
    "term.update": ("start", "end"),
    "term.publish": ("teachers",),
    "term.unpublish": ("teachers",),
    "binding.bind": ("via", "role"),
    "binding.refused": ("via", "reason"),
    "binding.unbind": ("role",),
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def describe(actor: str, action: str, target: str, detail: Mapping[str, Any] | None) -> str:
    """One audit row as a Chinese sentence, e.g. ``学生处 将 T001 2026-2027-1 的考核等级由「合格」
    调整为「良好」（计算结果为「合格」），理由：……``."""
    a, t, d = actor_text(actor), target or "", dict(detail or {})
    sentence = _SENTENCES.get(action)
    if sentence is None:
        text = f"{a}：{action_label(action)}" + (f" {t}" if t else "")
        rest = details_text(d)
    else:
        text = sentence(a, t, d)
        rest = details_text(d, _SAID.get(action, ()))
    return f"{text}。{rest}" if rest else f"{text}。"
