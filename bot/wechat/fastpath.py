"""``GET`` and ``POST /wechat`` without Flask's request machinery (issue 26 item 2).

A survey message spends most of its web-process CPU in the webhook itself, but a sixth of it
went to Flask around it: the app and request contexts, URL matching, the session cookie
interface, CSRF's and the dashboard's ``before_request`` checks, the ``after_request`` hooks and
the teardown. None of it does anything for ``/wechat``: the route is public
(:data:`bot.dashboard.access.ROUTES`), exempt from CSRF, the NUL-byte check and the security
headers apply to the dashboard and API paths only, and WeChat sends no cookies. So this WSGI
layer, in front of the Flask app, answers those two requests by calling the webhook's
framework-free functions (:func:`bot.wechat.webhook.check_url`,
:func:`bot.wechat.webhook.receive_message`) directly, and hands every other request (other
paths, ``HEAD``, ``OPTIONS``, ``PUT``..., ``/wechat/``) to Flask unchanged.

It answers exactly as the Flask views do (tests/integration/test_webhook_fastpath.py compares
them request by request):

- the same status line, ``Content-Type`` and body; ``Vary: Cookie`` too, which Flask adds
  because Flask-Login reads the session on every request;
- the request is Werkzeug's, with the app's ``MAX_CONTENT_LENGTH``: the same query parsing and
  body stream (a body cut short raises the same ``ClientDisconnected``);
- the database session is opened only when a message gets past the checks, and closed after
  the answer, as :mod:`bot.request_session`'s teardown does;
- an exception is answered by Flask itself (its error handlers, its log line "Exception on
  /wechat", re-raised under ``TESTING``), inside a request context pushed for that purpose.

``ProxyFix`` (``BANZHUREN_TRUSTED_PROXIES``) sits inside the Flask app and is skipped here: it
rewrites the client address, scheme and host, none of which the webhook reads; the request's
arrival time comes from ``X-Request-Start`` or the accept stamp (:mod:`core.arrival`), which it
does not touch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

import core.db
from bot.wechat import webhook

PATH = "/wechat"
# Flask's answers carry it (see the module's docstring); kept so that they stay the same.
_VARY = ("Vary", "Cookie")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _status_line(code: int) -> str:
    # As Werkzeug's Response writes it ("403 FORBIDDEN").
    return f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}"


class WebhookFastPath:
    """WSGI middleware: ``/wechat``'s ``GET`` and ``POST`` here, anything else to ``wsgi_app``
    (the Flask app's own WSGI callable)."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != PATH or method not in ("POST", "GET"):
            return self.wsgi_app(environ, start_response)
        config = self.app.config
        request = Request(environ)
        # Flask's request reads the limit from the app's config; the same stream here.
        request.max_content_length = config["MAX_CONTENT_LENGTH"]
        settings = config["BANZHUREN"]
        opened: list[Session] = []

        def session() -> Session:
            if not opened:
                opened.append(core.db.SessionFactory())
            return opened[0]

        try:
            if method == "POST":
                result = webhook.receive_message(settings, request, session)
            else:
                result = webhook.check_url(settings, request.args)
        except Exception as exc:
            return self._failed(exc, environ, start_response)
        finally:
            for s in opened:
                s.close()
        body = result.text.encode("utf-8")
        start_response(
            _status_line(result.status),
            [
                ("Content-Type", f"{result.mimetype}; charset=utf-8"),
                ("Content-Length", str(len(body))),
                _VARY,
            ],
        )
        return [body]

    def _failed(self, exc: Exception, environ: dict, start_response: Callable) -> Any:
        """Flask's answer to ``exc`` raised by its view: an HTTP error (a body cut short) goes
        to its error handlers; anything else is logged and answered 500, or re-raised when the
        app propagates exceptions (``TESTING``). Called while ``exc`` is being handled."""
        app = self.app
        with app.request_context(environ):
            try:
                response = app.finalize_request(app.handle_user_exception(exc))
            except Exception as unhandled:
                response = app.handle_exception(unhandled)
        return response(environ, start_response)
