"""The Flask app factory: settings, one database session per request, and each part's
``init_app``."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

import core.db
from core.arrival import ACCEPTED_AT
from core.files import restrict_new_files
from core.settings import Settings, load_settings

# The largest id a row has: the id columns are INTEGER, 32 bits on PostgreSQL ("integer out of
# range" beyond), and SQLite cannot even bind a number beyond 64 bits.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<int:...>`` bounded to a row id: a larger number matches no route (404) instead of
    reaching the database, which cannot compare it with an id (a 500 before)."""

    def __init__(self, map, fixed_digits: int = 0, min=None, max=None, signed: bool = False):
        super().__init__(map, fixed_digits, min, MAX_ROW_ID if max is None else max, signed)


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Create the app. ``config`` is a :class:`Settings`, a dict of overrides on top of the
    environment, or None for the environment alone."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = load_settings()
        if config:
            settings = settings.with_overrides(**config)

    # The web process's files (a SQLite database it creates, logs) are not world-readable.
    restrict_new_files()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        BANZHUREN=settings,
        # The webhook caps bodies itself (413); this also bounds every other upload.
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
    )
    core.db.configure(settings.database_url)
    # Refuse to start with a seal key that cannot open the open rounds' answers (issue 11).
    from core.surveys.rounds import refuse_without_seal_keys

    refuse_without_seal_keys(settings)

    from core.celery_app import configure_celery

    configure_celery(settings)

    # Before any route is added: ``<int:...>`` in every route matches ids a row can have only.
    app.url_map.converters["int"] = RowIdConverter

    # Each part exposes ``init_app(app)``; imported here, not at module level, so that the
    # blueprints' own imports of models and tasks never run before the app is configured.
    from bot import api, bind, dashboard, public, request_session
    from bot.wechat import webhook, wecom

    for part in (request_session, webhook, wecom, bind, dashboard, api, public):
        part.init_app(app)
    from bot.wechat.fastpath import WebhookFastPath

    # /wechat's GET and POST skip Flask's request machinery (issue 26); the rest go to Flask.
    app.wsgi_app = WebhookFastPath(app, app.wsgi_app)
    app.wsgi_app = _stamp_arrival(app.wsgi_app)  # outermost: first to run
    return app


def _stamp_arrival(wsgi_app: Any) -> Any:
    """When the server gave no accept time (``banzhuren serve``, a worker class other than
    ``bot.gunicorn_worker``'s), the first moment the app sees the request stands in for it."""

    def stamped(environ: dict, start_response: Any) -> Any:
        environ.setdefault(ACCEPTED_AT, time.time())
        return wsgi_app(environ, start_response)

    return stamped


def settings_of(app: Flask) -> Settings:
    return app.config["BANZHUREN"]
