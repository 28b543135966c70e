"""``/d/<token>``: the one-time 日志本 download. Every refusal (an unknown, spent, expired or
guessed token, or one whose WeChat account is no longer bound) is the same Chinese 404 page,
so the answer tells a guesser nothing."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, render_template, request

from bot.request_session import db, settings
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
