"""Binding by campus login (DESIGN.md, "Binding by campus login"), three steps in the phone's
WeChat browser:

1. ``GET /bind/start`` (the menu's 绑定 button): a random ``state`` kept in the signed session
   cookie, then WeChat's web authorisation (``snsapi_base``: silent).
2. ``GET /bind/wechat?code&state``: the ``state`` must be this browser's (else 400, nothing
   asked of WeChat); the code becomes the openid (kept in the session), then the school's CAS.
3. ``GET /bind/cas?ticket``: the ticket validated at CAS for this service; the openid bound to
   the roster person CAS names, by the same rule as ``绑定 学号 绑定码`` (core.binding.service).

Each step consumes what the previous one left in the session, so a page reloaded or replayed
starts over. Every refusal is a Chinese page with its status and binds nothing; when WeChat or
CAS cannot be reached the page offers the binding code instead.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time

from flask import Blueprint, redirect, render_template, request, session
from werkzeug.wrappers import Response

from bot.request_session import db, settings
from core.binding import campus
from core.binding.service import ROLE_NAMES, BindResult, Outcome, bind_number
from core.locks import LockTimeout, lock_sender

log = logging.getLogger(__name__)

bp = Blueprint("bind", __name__, url_prefix="/bind", template_folder="templates")

STATE_KEY = "bind_state"
OPENID_KEY = "bind_openid"
STARTED_KEY = "bind_started"
# The login at CAS must finish within this many seconds of WeChat's authorisation.
FLOW_SECONDS = 15 * 60
CODE_ROUTE = (
    "也可以用绑定码绑定：在公众号里发送「绑定 学号或工号 绑定码」，"
    "例如「绑定 2023010101 123456」（绑定码向辅导员索取）。"
)
RESTART = "请回到公众号，点菜单「帮助 → 绑定身份」重新开始。"
NEXT_STEP = {
    "student": "回到公众号发送「测评」，即可参加班主任满意度测评（答案匿名）。",
    "head_teacher": "回到公众号发送「帮助」，查看如何记录工作日志。",
    "counsellor": "班主任转来的学生情况反馈会发到这个微信。",
}


def page(
    status: int, title: str, *lines: str, restart: bool = False, code_route: bool = False
) -> tuple[str, int]:
    """A Chinese page for the phone: ``title``, then ``lines``; ``restart`` adds how to start
    over, ``code_route`` how to bind with a code instead."""
    return (
        render_template(
            "bind/page.html",
            ok=status < 400,
            title=title,
            lines=[line for line in lines if line],
            restart=RESTART if restart else "",
            code_route=CODE_ROUTE if code_route else "",
            school=settings().school_name,
        ),
        status,
    )


@bp.after_request
def _headers(response):
    # A page naming a person, in a browser WeChat may share: never cached, never framed.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _not_configured():
    return page(
        404,
        "未开通校园账号绑定",
        "本公众号尚未开通统一身份认证（校园账号）绑定。",
        code_route=True,
    )


@bp.get("/start")
def start() -> Response | tuple[str, int]:
    config = settings()
    if not config.campus_login:
        return _not_configured()
    state = secrets.token_urlsafe(16)
    session.pop(OPENID_KEY, None)
    session.pop(STARTED_KEY, None)
    session[STATE_KEY] = state
    return redirect(campus.authorize_url(config, state))


@bp.get("/wechat")
def wechat() -> Response | tuple[str, int]:
    config = settings()
    if not config.campus_login:
        return _not_configured()
    expected = session.pop(STATE_KEY, None)
    given = request.args.get("state", "")
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        return page(
            400,
            "链接已失效",
            "这个授权链接不是在本浏览器里发起的，或已经用过。",
            restart=True,
        )
    code = request.args.get("code", "")
    if not code or len(code) > 512:
        return page(400, "没有取得微信授权", "微信没有返回授权码。", restart=True)
    try:
        openid = campus.openid_for_code(config, code)
    except campus.CodeRefused as exc:
        log.info("web authorisation code refused: %s", exc)
        return page(400, "微信授权已失效", "微信授权码无效或已过期。", restart=True)
    except campus.Unreachable as exc:
        log.warning("web authorisation failed: %s", exc)
        return page(503, "暂时无法连接微信", "请稍后再试。", code_route=True)
    session[OPENID_KEY] = openid
    session[STARTED_KEY] = int(time.time())
    return redirect(campus.cas_login_url(config))


@bp.get("/cas")
def cas() -> tuple[str, int]:
    config = settings()
    if not config.campus_login:
        return _not_configured()
    openid = session.pop(OPENID_KEY, None)
    started = session.pop(STARTED_KEY, None)
    if not isinstance(openid, str) or not isinstance(started, int):
        return page(
            400,
            "请从公众号进入",
            "没有找到本次绑定的微信授权：请在微信里打开公众号，从菜单进入绑定。",
            restart=True,
        )
    if time.time() - started > FLOW_SECONDS:
        return page(400, "绑定已超时", "从微信授权到登录完成超过了 15 分钟。", restart=True)
    ticket = request.args.get("ticket", "")
    if not ticket:
        return page(
            400, "没有收到登录凭据", "统一身份认证没有返回登录凭据（ticket）。", restart=True
        )
    if not campus.plausible_ticket(ticket):
        return page(400, "登录凭据无效", "这不是统一身份认证发出的登录凭据。", restart=True)
    try:
        number = campus.validate_ticket(config, ticket)
    except campus.TicketRefused as exc:
        log.info("CAS refused a ticket: %s", exc.code)
        return page(
            403,
            "登录凭据无效",
            "统一身份认证不认可这个登录凭据：它可能已经用过、已过期，或不是发给本系统的。",
            f"（CAS：{exc.code}）",
            restart=True,
        )
    except campus.Unreachable as exc:
        log.warning("CAS validation failed: %s", exc)
        return page(
            503,
            "统一身份认证暂时无法访问",
            "学校的统一身份认证服务没有应答，这次未能绑定。请稍后再试。",
            code_route=True,
        )
    if number is None:
        attribute = config.cas_user_attribute
        where = f"属性 {attribute}" if attribute else "cas:user"
        return page(
            502,
            "未取得学号/工号",
            f"统一身份认证没有返回学号/工号（{where}），请联系学校信息中心或辅导员。",
            code_route=True,
        )
    s = db()
    s.rollback()  # nothing read yet that matters: the binding's own transaction comes next
    try:
        # The write lock up front (SQLite: BEGIN IMMEDIATE), and this openid's chat lock, so a
        # 绑定 message of the same WeChat account in the same instant waits its turn.
        lock_sender(s, openid)
    except LockTimeout:
        return page(503, "系统繁忙", "这次未能绑定，请稍后再试。", restart=True)
    result = bind_number(s, openid, number, via="cas")
    s.commit()
    return _result_page(result)


def _result_page(result: BindResult) -> tuple[str, int]:
    if result.outcome in (Outcome.BOUND, Outcome.ALREADY_BOUND):
        assert result.role is not None
        who = f"{result.name}（{ROLE_NAMES[result.role]}，{result.number}）"
        first = "绑定成功" if result.outcome == Outcome.BOUND else "已经绑定"
        return page(
            200,
            first,
            f"本微信已绑定为 {who}。",
            NEXT_STEP[result.role],
        )
    if result.outcome == Outcome.NOT_IN_ROSTER:
        return page(
            404,
            "名单中没有你",
            f"统一身份认证确认你是 {result.number}，但本学期的名单里没有这个学号/工号，未能绑定。",
            "请联系辅导员核对名单。",
        )
    if result.outcome == Outcome.OPENID_TAKEN:
        bound = f"{result.bound_name}（{ROLE_NAMES.get(result.bound_role or '', '')}）"
        return page(
            409,
            "本微信已绑定其他身份",
            f"本微信已绑定为 {bound}，不能再绑定为 {result.number}。",
            "如需更换，请先在公众号里发送「解绑」，再重新绑定。",
        )
    return page(
        409,
        "该学号/工号已被绑定",
        f"{result.number} 已绑定在另一个微信上，未能绑定。",
        "如需更换，请在原来的微信上发送「解绑」后再来，或联系辅导员。",
    )
