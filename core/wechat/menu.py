"""The official account's custom menu: its buttons send the CLICK keys the router understands
(DESIGN.md: SURVEY, MY_LOGS, STATS, HELP)."""

from __future__ import annotations

# Menu buttons (DESIGN: CLICK keys) and the texts the chat router reads them as.
CLICK_TEXTS = {"SURVEY": "测评", "MY_LOGS": "我的日志", "STATS": "统计", "HELP": "帮助"}

# WeChat allows 3 top-level buttons with up to 5 sub-buttons each; keys at most 128 bytes.
MAX_TOP_LEVEL = 3
MAX_SUB_BUTTONS = 5


def menu_definition() -> dict:
    """The menu as WeChat's ``cgi-bin/menu/create`` takes it."""
    return {
        "button": [
            {"type": "click", "name": "满意度测评", "key": "SURVEY"},
            {
                "name": "工作日志",
                "sub_button": [
                    {"type": "click", "name": "我的日志", "key": "MY_LOGS"},
                    {"type": "click", "name": "本月统计", "key": "STATS"},
                ],
            },
            {"type": "click", "name": "使用帮助", "key": "HELP"},
        ]
    }


def menu_problems(menu: dict) -> list[str]:
    """Why WeChat would refuse ``menu``, or why the router could not answer one of its keys."""
    problems = []
    buttons = menu.get("button", [])
    if not 1 <= len(buttons) <= MAX_TOP_LEVEL:
        problems.append(f"一级菜单应为 1-{MAX_TOP_LEVEL} 个，现为 {len(buttons)} 个")
    for button in buttons:
        subs = button.get("sub_button")
        if subs is not None and not 1 <= len(subs) <= MAX_SUB_BUTTONS:
            problems.append(f"「{button.get('name')}」的二级菜单应为 1-{MAX_SUB_BUTTONS} 个")
        for item in subs or [button]:
            key = item.get("key", "")
            if item.get("type") == "click" and key not in CLICK_TEXTS:
                problems.append(f"菜单键 {key!r} 没有对应的处理")
            if len(key.encode()) > 128:
                problems.append(f"菜单键 {key!r} 超过 128 字节")
    return problems
