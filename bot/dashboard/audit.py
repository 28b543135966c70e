"""Every change made through the dashboard writes one audit row, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import AuditLog


def record(session: Session, actor: str, action: str, target: str = "", **detail: Any) -> AuditLog:
    """Add an audit row (committed with the change it describes)."""
    row = AuditLog(actor=actor, action=action, target=target[:200], detail=_plain(detail))
    session.add(row)
    return row


def _plain(value: Any) -> Any:
    """JSON-safe copy: dates and enums become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


ACTION_LABELS = {
    "login": "登录",
    "login.failed": "登录失败",
    "login.locked": "账户锁定",
    "roster.import": "导入名册",
    "appointment.apply": "登记聘任申请",
    "appointment.transition": "聘任流程",
    "round.open": "开启测评",
    "round.close": "关闭测评",
    "round.reopen": "重新开启测评",
    "round.extend": "延长测评",
    "survey.load": "载入问卷",
    "evaluate": "运行考核",
    "meeting.add": "记录会议",
    "incident.add": "记录不合格情形",
    "grade.override": "调整考核等级",
    "grade.override_clear": "撤销等级调整",
    "user.add": "添加用户",
    "user.token": "签发 API 令牌",
    "user.token_revoke": "吊销 API 令牌",
    "user.reset": "重置密码",
    "user.unlock": "解锁账户",
    "user.disable": "停用账户",
    "user.enable": "恢复账户",
    "user.passwd": "修改密码",
    "user.passwd_failed": "修改密码失败",
    "logout": "退出登录",
    "login.throttled": "登录尝试过多",
    "term.add": "添加学期",
    "term.update": "修改学期",
    "term.publish": "发布考核结果",
    "term.unpublish": "撤回考核结果发布",
}
