"""Pages opened from links sent in chat (issue 25): a 日志本 download by one-time link
(``/d/<token>``) and the online application form (``/apply/<token>``). A thin web edge over
:mod:`core.download_links` and :mod:`core.applications`; CSRF (Flask-WTF) on the form."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bot.public.views import bp

    app.register_blueprint(bp)
