"""What differs between the two ways staff and students reach the chat: the official account
(``/wechat``, identity by openid binding) and WeCom (``/wecom``, identity by UserId = 工号).

Everything else is one pipeline, :func:`bot.wechat.webhook.answer`: the dedup claim, the
per-sender lock, the check for a message handled already, the handling transaction, overflow and
late replies, the recorded reply. A :class:`Channel` supplies the parts that differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.chat.context import Incoming, Sender, SenderState
from core.settings import Settings

# (session, sender id, dedup key) → (reply stored if already handled, sender, sender state)
Resolve = Callable[[Session, str, str], tuple[str | None, Sender, SenderState | None]]
# (session, settings, incoming, sender, state) → reply (None: nothing to say)
Handle = Callable[[Session, Settings, Incoming, Sender, SenderState | None], str | None]
# (session, sender id, text, seal with) → queued for after the commit
QueueText = Callable[[Session, str, str, Settings | None], None]


@dataclass(frozen=True)
class Channel:
    name: str
    resolve: Resolve
    handle: Handle
    # Whether messages can be sent outside the passive reply (overflow, late replies).
    can_send: Callable[[Settings], bool]
    queue_text: QueueText
    # The official account's customer-service allowance (issue 23) is granted and counted.
    records_interaction: bool = True
