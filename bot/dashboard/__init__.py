"""The Student Affairs / Party-branch dashboard at ``/dashboard/``: password login with
lockout, two roles (affairs sees all; branch sees its own department), CSRF on every form."""

from __future__ import annotations

from flask import Flask, redirect, render_template, request, url_for
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select

from bot.dashboard.auth import Principal
from bot.request_session import db
from models import User

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "dashboard.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"
# A stolen session cookie used from another browser fingerprint is dropped.
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(user_id: str) -> Principal | None:
    if not user_id.isdigit():
        return None
    user = db().scalar(select(User).where(User.id == int(user_id)))
    return Principal(user) if user else None


def exempt_from_csrf(app: Flask) -> None:
    """The WeChat webhook (signed by WeChat) and the bearer-token API take no CSRF token."""
    for name, blueprint in app.blueprints.items():
        if name != "dashboard":
            csrf.exempt(blueprint)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/wechat", "/api/")):
            csrf.exempt(app.view_functions[rule.endpoint])


def init_app(app: Flask) -> None:
    from bot.dashboard import admin, policy_pages, views  # noqa: F401 - routes register on the blueprint
    from bot.dashboard.views import bp

    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(bp)
    policy_pages.init_app(app)
    exempt_from_csrf(app)

    @app.route("/")
    def root():
        return redirect(url_for("dashboard.overview"))

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

    @app.after_request
    def _security_headers(response):
        if request.blueprint == "dashboard":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'",
            )
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
