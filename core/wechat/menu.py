"""The official account's custom menu: its buttons send the CLICK keys the router understands
(DESIGN.md: SURVEY, MY_LOGS, STATS, HELP); with the campus login configured, a 绑定身份 ``view``
button opens ``/bind/start`` in WeChat's browser."""

from __future__ import annotations

from core.settings import Settings

# Menu buttons (DESIGN: CLICK keys) and the texts the chat router reads them as.
CLICK_TEXTS = {"SURVEY": "测评", "MY_LOGS": "我的日志", "STATS": "统计", "HELP": "帮助"}

# WeChat allows 3 top-level buttons with up to 5 sub-buttons each; keys at most 128 bytes.
MAX_TOP_LEVEL = 3
MAX_SUB_BUTTONS = 5


MAX_URL_BYTES = 1024


def menu_definition(settings: Settings | None = None) -> dict:
    """The menu as WeChat's ``cgi-bin/menu/create`` takes it (``settings`` with the campus
    login: 使用帮助 becomes a group with 绑定身份 and 使用帮助)."""
    help_button: dict = {"type": "click", "name": "使用帮助", "key": "HELP"}
    if settings is not None and settings.campus_login:
        from core.binding.campus import start_url

        help_button = {
            "name": "帮助",
            "sub_button": [
                {"type": "view", "name": "绑定身份", "url": start_url(settings)},
                help_button,
            ],
        }
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
            help_button,
        ]
    }


def menu_summary(menu: dict) -> str:
    """``满意度测评｜工作日志（我的日志、本月统计）｜…`` for the command's confirmation."""
    parts = []
    for button in menu.get("button", []):
        subs = button.get("sub_button")
        names = "、".join(sub.get("name", "") for sub in subs or [])
        parts.append(f"{button.get('name')}（{names}）" if subs else button.get("name", ""))
    return "｜".join(parts)


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
            url = item.get("url", "")
            if item.get("type") == "view" and not (
                url.startswith(("http://", "https://")) and len(url.encode()) <= MAX_URL_BYTES
            ):
                problems.append(f"「{item.get('name')}」的网页地址 {url!r} 无效")
    return problems
