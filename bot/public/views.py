"""``/d/<token>``: the one-time 日志本 download; ``/apply/<token>``: the online application form
(业务审批表). Every refusal of a link (an unknown, spent, expired, tampered or guessed token,
or one whose WeChat account is no longer bound) is the same Chinese 404 page, so the answer
tells a guesser nothing. Bad form input gets the form again with the problems in Chinese."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_wtf.csrf import CSRFError

from bot.request_session import db, settings
from core import applications
from core.binding import campus
from core.db import begin_write
from core.download_links import LOGBOOK, logbook_download, peek
from models.base import utcnow

bp = Blueprint("public", __name__, template_folder="templates")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LINK_GONE = [
    "链接无效、已使用或已过期（链接24小时内有效，只能下载一次）。",
    "请在公众号中重新发送「日志本」获取新的链接。",
]


def page(title: str, lines: list[str], status: int, ok: bool = False, **extra):
    html = render_template(
        extra.pop("template", "public/page.html"),
        title=title,
        lines=lines,
        ok=ok,
        school=settings().school_name,
        **extra,
    )
    return html, status


@bp.after_request
def _headers(response: Response) -> Response:
    # One-time documents and forms: never cached, never framed, never leaked as a referrer.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    )
    return response


@bp.route("/d/<token>", methods=["GET"])
def logbook(token: str):
    session = db()
    now = utcnow()
    if request.method == "HEAD":
        # A link checker or preview must not spend the link.
        found = peek(session, token, LOGBOOK, now) is not None
        return Response(status=200 if found else 404, mimetype=DOCX if found else "text/html")
    begin_write(session)
    download = logbook_download(session, token, now, settings(), request.remote_addr or "")
    if download is None:
        session.rollback()
        return page("链接不可用", LINK_GONE, 404)
    body = download.render()
    session.commit()
    response = Response(body, mimetype=DOCX)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"logbook.docx\"; filename*=UTF-8''{quote(download.filename)}"
    )
    return response


# The web authorisation's round trip, in the signed session cookie.
STATE_KEY, TOKEN_KEY, VERIFIED_KEY = "apply_state", "apply_token", "apply_link"
AUTHORISED_PATH = "/apply/wechat"

APPLY_GONE = [
    "申请链接无效、已提交过或已过期（链接24小时内有效，只能提交一次）。",
    "请在公众号中重新发送「申请」获取新的链接。",
]


@bp.errorhandler(CSRFError)
def _csrf_error(_exc: CSRFError):
    return page(
        "表单已过期",
        ["表单已过期或缺少安全令牌，没有提交。请返回公众号重新打开申请链接后再提交。"],
        400,
    )


def _form(ctx, token: str, form: dict, errors: list[str], status: int):
    return page(
        "兼职班主任业务审批表",
        [] if errors else ["请填写以下内容，提交后进入党总支初审。"],
        status,
        ok=True,
        template="public/apply.html",
        ctx=ctx,
        token=token,
        form=form,
        errors=errors,
    )


@bp.route("/apply/<token>", methods=["GET", "POST"])
def apply(token: str):
    session = db()
    now = utcnow()
    config = settings()
    ctx = applications.form_context(session, token, now, config.tz)
    if ctx is None:
        return page("链接不可用", APPLY_GONE, 404)
    if applications.web_authorisation(config) and flask_session.get(VERIFIED_KEY) != ctx.link.id:
        # DESIGN: WeChat's web authorisation gives the openid. The form opens only in the
        # WeChat of the account the link was sent to; a forwarded link opens nothing.
        state = secrets.token_urlsafe(16)
        flask_session[STATE_KEY] = state
        flask_session[TOKEN_KEY] = token
        return redirect(campus.authorize_url(config, state, AUTHORISED_PATH))
    if request.method != "POST":
        return _form(ctx, token, {}, [], 200)
    form = {
        k: request.form.get(k, "")
        for k in ("class_code", "start_date", "end_date", "trained", "note")
    }
    today = now.astimezone(config.tz).date()
    checked = applications.check_form(request.form, ctx.classes, today)
    if isinstance(checked, list):
        return _form(ctx, token, form, checked, 400)
    session.rollback()  # the reads above; the filing is a write transaction of its own
    begin_write(session)
    outcome = applications.submit(session, token, checked, now, request.remote_addr or "")
    if outcome is None:
        session.rollback()
        return page("链接不可用", APPLY_GONE, 404)
    if isinstance(outcome, str):
        session.rollback()
        return _form(ctx, token, form, [outcome], 409)
    cls = outcome.school_class.name
    start, end = outcome.start_date, outcome.end_date
    session.commit()
    return page(
        "申请已提交",
        [
            f"{ctx.teacher.name}老师，您担任{cls}兼职班主任的申请已提交。",
            f"拟聘期：{applications.cn_day(start)} 至 {applications.cn_day(end)}。",
            "党总支初审、学生处审核、人事处备案和聘任的结果都会通过公众号通知您。",
        ],
        200,
        ok=True,
    )


@bp.get(AUTHORISED_PATH)
def apply_authorised():
    """WeChat's web authorisation came back: the openid must be the one the link was sent to
    (and still bound to its teacher); then the form."""
    config = settings()
    expected = flask_session.pop(STATE_KEY, None)
    token = flask_session.pop(TOKEN_KEY, None)
    given = request.args.get("state", "")
    if (
        not expected
        or not token
        or not given
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        return page(
            "链接已失效",
            ["这个授权不是在本浏览器里发起的，或已经用过。请回到公众号重新打开申请链接。"],
            400,
        )
    code = request.args.get("code", "")
    if not code or len(code) > 512:
        return page("没有取得微信授权", ["请回到公众号重新打开申请链接。"], 400)
    try:
        openid = campus.openid_for_code(config, code)
    except campus.CampusLoginError:
        return page(
            "微信授权失败", ["暂时无法确认您的微信身份，请稍后回到公众号重新打开申请链接。"], 502
        )
    ctx = applications.form_context(db(), token, utcnow(), config.tz)
    if ctx is None:
        return page("链接不可用", APPLY_GONE, 404)
    if not hmac.compare_digest(openid.encode(), ctx.link.openid.encode()):
        return page(
            "不是您的申请链接",
            [
                "这个申请链接是发给另一位老师的，只能在收到它的微信里填写。",
                "请在您本人的公众号对话中发送「申请」。",
            ],
            403,
        )
    flask_session[VERIFIED_KEY] = ctx.link.id
    return redirect(url_for("public.apply", token=token))


@bp.route("/d/", defaults={"rest": ""}, methods=["GET", "POST"])
@bp.route("/d/<path:rest>", methods=["GET", "POST"])
def logbook_other(rest: str):
    """Anything else under /d/ (several path segments, an empty token): the same page."""
    return page("链接不可用", LINK_GONE, 404)


@bp.route("/apply/<path:rest>", methods=["GET", "POST"])
def apply_other(rest: str):
    return page("链接不可用", APPLY_GONE, 404)
