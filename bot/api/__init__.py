"""Read-only JSON API at ``/api/v1`` with ``Authorization: Bearer <token>``; the same role
rules as the dashboard (a branch token sees its own department only)."""

from __future__ import annotations

from flask import Flask

from bot.api.views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        # Bearer tokens are not sent by browsers on their own, so CSRF does not apply.
        csrf.exempt(bp)
