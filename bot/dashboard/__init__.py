"""The Student Affairs / Party-branch dashboard at ``/dashboard/``: password login with
lockout, three roles (affairs sees all; branch sees its own department; hr the allowance sheet
and the appointments, bot.dashboard.access.ROUTES), CSRF on every form."""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import Flask, current_app, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.dashboard.forms import parse_id
from bot.dashboard.principal import Principal
from bot.request_session import db, settings
from core.accounts import MAX_FAILED_LOGINS
from models import User

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "dashboard.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"
# A stolen session cookie used from another browser fingerprint is dropped.
login_manager.session_protection = "strong"


# Keys this module keeps in the (signed) session cookie next to Flask-Login's.
SESSION_VERSION, SESSION_STARTED, SESSION_SEEN = "_bzr_sv", "_bzr_started", "_bzr_seen"
SESSION_AGENT = "_bzr_ua"


def agent_digest() -> str:
    """A digest of the browser's User-Agent, the fingerprint a session is bound to. Not the
    address: a phone moving between networks would lose its session on every move."""
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha256(agent.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def start_session(principal: Principal) -> None:
    """Bind the cookie to the user's current session version and browser, and start its
    clocks."""
    now = int(time.time())
    session[SESSION_VERSION] = principal.session_version
    session[SESSION_STARTED] = session[SESSION_SEEN] = now
    session[SESSION_AGENT] = agent_digest()
    session.permanent = True


@login_manager.user_loader
def _load_user(user_id: str) -> Principal | None:
    """Checked on every request: a cookie from before a logout, password change, disabling or
    unlock carries an older session version and is refused; so is one past its lifetime or
    idle for too long."""
    uid = parse_id(user_id)
    if uid is None:
        return None
    user = db().scalar(select(User).where(User.id == uid))
    if user is None or user.disabled_at is not None:
        return None
    if session.get(SESSION_VERSION) != user.session_version:
        return None
    # Flask-Login's "strong" protection only marks a permanent session not fresh when the
    # browser changes, so a cookie replayed from another browser would still work: the
    # session is bound to the browser here instead, and ended on a mismatch.
    if not hmac.compare_digest(str(session.get(SESSION_AGENT, "")), agent_digest()):
        session.clear()
        return None
    now, config = int(time.time()), settings()
    started = session.get(SESSION_STARTED, 0)
    seen = session.get(SESSION_SEEN, 0)
    if (
        now - started > config.session_lifetime_minutes * 60
        or now - seen > config.session_idle_minutes * 60
    ):
        return None
    if now - seen >= 30:  # not on every request: each change re-sends the cookie
        session[SESSION_SEEN] = now
    return Principal(user)


class LoginCounter:
    """auth.FailureCounter on a ``limits`` storage (Redis when set, so that every gunicorn
    worker counts the same failures; process memory otherwise).

    ``limits`` directly, not Flask-Limiter (built on it): no route has a rate limit, and
    Flask-Limiter's three hooks on every request cost the webhook ~4% of its time (issue 17)."""

    per_name = parse(f"{MAX_FAILED_LOGINS} per 15 minutes")
    # Wrong passwords from one address over all names: stops spraying many accounts.
    per_address = parse("30 per 15 minutes")

    def __init__(self, storage_uri: str, prefix: str) -> None:
        self.limiter = FixedWindowRateLimiter(storage_from_string(storage_uri))
        self.prefix = prefix

    def failed(self, username: str, address: str) -> bool:
        self.limiter.hit(self.per_address, self.prefix, "login-address", address)
        self.limiter.hit(self.per_name, self.prefix, "login", username, address)
        return not self.limiter.test(self.per_name, self.prefix, "login", username, address)

    def reset(self, username: str, address: str) -> None:
        self.limiter.clear(self.per_name, self.prefix, "login", username, address)

    def address_blocked(self, address: str) -> bool:
        return not self.limiter.test(self.per_address, self.prefix, "login-address", address)


def login_counter() -> LoginCounter:
    return current_app.extensions["banzhuren_login_counter"]


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


def exempt_from_csrf(app: Flask) -> None:
    """The WeChat webhook (signed by WeChat) and the bearer-token API take no CSRF token. (The
    chat links' pages, ``public``, keep it: the application form is a form.)"""
    for name, blueprint in app.blueprints.items():
        if name not in ("dashboard", "public"):
            csrf.exempt(blueprint)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/wechat", "/api/")):
            csrf.exempt(app.view_functions[rule.endpoint])


ERROR_MESSAGES = {
    400: "请求参数有误，请从页面上的链接或筛选框进入。",
    404: "没有找到该页面，或它不在您的管辖范围内。",
    405: "不支持这种请求方式，请从页面上的链接或按钮进入。",
}
API_ERROR_MESSAGES = {
    400: "参数有误",
    404: "没有找到，或不在您的管辖范围内",
    405: "不支持的请求方法",
}


def _plain_error(code: int):
    """A Chinese answer for an error no view handled (no route matched, or a check before any
    view ran): JSON under /api/, a short page on the dashboard."""
    if request.path.startswith("/api/"):
        return {"error": API_ERROR_MESSAGES.get(code, "请求有误")}, code
    return (
        render_template(
            "dashboard/error.html", code=code, message=ERROR_MESSAGES.get(code, "请求有误。")
        ),
        code,
    )


def init_app(app: Flask) -> None:
    from bot.dashboard import (  # noqa: F401 - routes register on the blueprint
        admin,
        feedback_pages,
        policy_pages,
        trends_pages,
        views,
    )
    from bot.dashboard.views import bp

    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    config = app.config["BANZHUREN"]
    app.config["PERMANENT_SESSION_LIFETIME"] = config.session_lifetime_minutes * 60
    if config.trusted_proxies:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.extensions["banzhuren_login_counter"] = LoginCounter(
        config.redis_url or "memory://", config.redis_prefix
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(bp)
    policy_pages.init_app(app)
    exempt_from_csrf(app)

    @app.route("/")
    def root():
        from bot.dashboard.views import home_url

        return redirect(
            home_url() if current_user.is_authenticated else url_for("dashboard.overview")
        )

    @app.errorhandler(400)
    @app.errorhandler(404)
    @app.errorhandler(405)
    def _routing_error(exc: HTTPException):
        """Errors raised before a blueprint's own handlers apply (a URL matching no route, a
        number too large for an id); other paths (the webhook) keep Werkzeug's answers."""
        if request.path == "/" or request.path.startswith(("/dashboard", "/api/")):
            response = _plain_error(exc.code or 400)
            if exc.code == 405:
                allowed = exc.get_headers()
                return response[0], 405, [h for h in allowed if h[0] == "Allow"]
            return response
        return exc

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        if request.blueprint == "dashboard":
            return (
                render_template(
                    "dashboard/error.html",
                    code=400,
                    message="表单已过期或缺少安全令牌，请刷新页面后重新提交。",
                ),
                400,
            )
        return {"error": "CSRF token missing or invalid"}, 400

    @app.before_request
    def _no_nul_bytes():
        """A NUL byte can name nothing here, and PostgreSQL refuses it in any text (a 500):
        answer 404 for such a path and 400 for such a parameter before any query runs. (Not
        on the webhook, which reads its own raw body.)"""
        if not request.path.startswith(("/dashboard", "/api/")):
            return None
        if "\x00" in request.path:
            return _plain_error(404)
        values = [*request.args.values(), *request.form.values()]
        if any("\x00" in v for v in values):
            return _plain_error(400)
        return None

    @app.after_request
    def _security_headers(response):
        if request.blueprint == "dashboard":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'",
            )
            response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.path == "/" or request.path.startswith(("/dashboard", "/api/")):
            # Pages and API answers with names, grades and one-time secrets (every one, error
            # pages and 404s included): never kept by a shared browser or a proxy, never
            # sniffed into another type.
            response.headers["X-Content-Type-Options"] = "nosniff"
            if not request.path.startswith("/dashboard/static/"):
                response.headers["Cache-Control"] = "no-store"
        return response
