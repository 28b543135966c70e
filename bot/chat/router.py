"""From an incoming message to a reply: the dispatch table of the chat.

The webhook (:mod:`bot.wechat.webhook`) calls :func:`handle_incoming` after verifying,
decrypting and deduplicating the message, inside the handling transaction that holds the
per-sender lock. :func:`route` then decides, in this order:

1. events: ``subscribe`` → welcome (:func:`bot.chat.help.welcome`); ``CLICK`` with the menu keys
   SURVEY / MY_LOGS / STATS / HELP → handled as the texts 测评 / 我的日志 / 统计 / 帮助; other
   events (WeChat's pushes, device events, which the webhook passes as events, and any event
   wechatpy does not know) get no reply (``success``);
2. message types: voice uses WeChat's ``Recognition`` as its text (empty → ask to type);
   images go to head teachers' handler; location, link, video... → what is supported;
3. commands for everyone: 帮助 / help / ?, 绑定 (:func:`bot.chat.binding.handle_bind`),
   解绑 (:func:`bot.chat.binding.handle_unbind`); an unbound sender is told how to bind;
4. the role's handler (:data:`ROLE_HANDLERS`): students → ``bot.chat.survey_dialogue.handle``
   (stores survey answers), head teachers → ``bot.chat.worklog.handle`` (stores work-log entries),
   counsellors → ``bot.chat.counsellor.handle`` (answers 反馈). A handler returns the reply text,
   or None when it does not understand the message → the role's help.

Handlers only add and flush; the webhook records the reply with the message key and commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session

from bot.chat import help as texts
from bot.chat.binding import (
    handle_bind,
    handle_unbind,
    is_bind_command,
    is_unbind_command,
    lookup_sender,
)
from bot.chat.context import ChatContext, Incoming, Sender, SenderState
from bot.chat.counsellor import handle as handle_counsellor
from bot.chat.state import store_for
from bot.chat.survey_dialogue import handle as handle_student
from bot.chat.survey_dialogue import pending_question
from bot.chat.worklog import handle as handle_head_teacher
from core.reach.poster import class_greeting
from core.settings import Settings
from core.wechat.menu import CLICK_TEXTS

HELP_WORDS = frozenset({"帮助", "help", "?", "？", "菜单", "说明"})
# subscribe_scan: through a QR code; subscribe_scan_product: from a product scan
# (wechatpy renames a subscribe whose EventKey starts scanbarcode| or scanimage|).
SUBSCRIBE_EVENTS = frozenset({"subscribe", "subscribe_scan", "subscribe_scan_product"})

Handler = Callable[[ChatContext], str | None]

# Role → the function that serves that role.
ROLE_HANDLERS: dict[str, Handler] = {
    "student": handle_student,
    "head_teacher": handle_head_teacher,
    "counsellor": handle_counsellor,
}
# Message types a role's handler receives besides text and voice.
ROLE_EXTRA_TYPES = {"head_teacher": frozenset({"image"})}


def role_handler(role: str | None) -> Handler | None:
    """The role's handler function, or None when the role has none."""
    return ROLE_HANDLERS.get(role or "")


def is_help(text: str) -> bool:
    return text.strip().lower() in HELP_WORDS


def build_context(
    session: Session,
    settings: Settings,
    incoming: Incoming,
    sender: Sender | None = None,
    state: SenderState | None = None,
) -> ChatContext:
    """The handlers' context; ``sender`` (and ``state``) when the caller has already looked
    them up in the handling transaction, else the sender is looked up here."""
    if sender is None:
        sender, _name = lookup_sender(session, incoming.openid)
        state = None
    return ChatContext(
        session=session,
        settings=settings,
        incoming=incoming,
        sender=sender,
        store=store_for(settings, session),
        state=state,
    )


def handle_incoming(
    session: Session,
    settings: Settings,
    incoming: Incoming,
    sender: Sender | None = None,
    state: SenderState | None = None,
) -> str | None:
    """The reply to ``incoming`` (None: answer ``success``, nothing to say)."""
    return route(build_context(session, settings, incoming, sender, state))


def route(ctx: ChatContext) -> str | None:
    """Dispatch ``ctx`` as the module docstring describes."""
    inc, role = ctx.incoming, ctx.sender.role
    campus = ctx.settings.campus_login  # the unbound are shown the campus login (issue 23)

    if inc.msg_type == "event":
        if inc.event in SUBSCRIBE_EVENTS or inc.event == "scan":
            # Issue 15.4: a class poster's QR code greets with that class's binding steps.
            greeting = (
                None
                if role
                else class_greeting(ctx.session, inc.event_key, ctx.settings.campus_login)
            )
            if greeting is not None:
                return greeting
            _sender, name = lookup_sender(ctx.session, inc.openid)
            return texts.welcome(role, name, campus)
        if inc.event == "click":
            text = CLICK_TEXTS.get((inc.event_key or "").strip().upper())
            if text is None:
                return texts.help_for(role, campus)
            ctx = replace(ctx, incoming=replace(inc, msg_type="text", text=text))
            inc = ctx.incoming
        else:
            return None  # unsubscribe, view, scan, location reports: nothing to answer

    if inc.msg_type in ROLE_EXTRA_TYPES.get(role or "", ()):
        handler = role_handler(role)
        reply = handler(ctx) if handler is not None else None
        return reply or texts.help_for(role, campus)
    if inc.msg_type == "voice" and not inc.text:
        return texts.EMPTY_VOICE
    if inc.msg_type not in ("text", "voice"):
        # Mid-survey, the student is shown the pending question again (nothing is recorded).
        pending = pending_question(ctx) if role == "student" else None
        return texts.UNSUPPORTED_TYPE + (f"\n\n{pending}" if pending else "")

    text = inc.text
    if not text:
        return texts.not_understood(role, campus)
    if is_help(text):
        return texts.help_for(role, campus)
    if is_bind_command(text):
        return handle_bind(ctx)
    if is_unbind_command(text):
        return handle_unbind(ctx)
    if role is None:
        return "你还没有绑定身份。\n" + texts.bind_howto(campus)

    handler = role_handler(role)
    if handler is None:
        return texts.help_for(role, campus)
    return handler(ctx) or texts.not_understood(role, campus)
