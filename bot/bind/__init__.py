"""The campus login's pages (``/bind/...``): a thin web edge over :mod:`core.binding`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bot.bind.views import bp

    app.register_blueprint(bp)
