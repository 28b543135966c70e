"""Tap-to-answer (issue 15.3): with ``BANZHUREN_WECHAT_TAP_TO_ANSWER`` on, a survey's choice
question goes out as a customer-service menu message (``msgmenu``: the options as tappable
lines). A tap comes back as a text message whose ``bizmsgmenuid`` names the question and the
option (:func:`menu_id`), so a tap on an older question's menu is recognised as such. Typed
numbers, letters and labels keep working. When WeChat refuses the menu message (no
customer-service permission, 48001), the outbox sends the question as plain text instead.

Each menu spends one customer-service message (issue 23), and never the last one: a reply
that comes too late for the passive answer (a summary, the next question) may still need it.
:func:`menu_fits` decides, when the question is rendered, between a menu and the question in
the passive reply; the outbox checks again when sending (:data:`RESERVE`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.outbox import MENU_RESERVE, queue_menu
from core.reach import window
from core.reach.allowance import Allowance

# Customer-service messages a survey's menus leave unspent (for a late reply).
RESERVE = MENU_RESERVE

TAIL = "（点选一项作答；也可回复数字、字母或选项文字）"


def menu_id(pos: int, option: int) -> str:
    """Question position (0-based) and option (1-based) as a menu line id: "103" = question
    1, option 3."""
    return f"{pos + 1}{option:02d}"


def parse_menu_id(value: str | None) -> tuple[int, int] | None:
    """(question position, option) of a menu line id, or None."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) < 3:
        return None
    pos, option = int(value[:-2]) - 1, int(value[-2:])
    return (pos, option) if pos >= 0 and option >= 1 else None


def queue_question_menu(
    session: Session, openid: str, text: str, head: str, labels: list[str], pos: int
) -> None:
    """Queue the question as a ``msgmenu`` message (``text``: the plain-text fallback)."""
    menu = {
        "head_content": head,
        "list": [{"id": menu_id(pos, i), "content": label} for i, label in enumerate(labels, 1)],
        "tail_content": TAIL,
    }
    queue_menu(session, openid, menu, text)


def menu_fits(session: Session, openid: str, left: Allowance | None = None) -> bool:
    """True when a menu may be sent to ``openid`` now, leaving :data:`RESERVE` unspent;
    ``left``: the allowance when the caller has it (the webhook's sender state)."""
    if left is None:
        left = window.current(session, openid)
    return left.allows(RESERVE)
