"""The Flask app factory: settings, one database session per request, and each part's
``init_app``."""

from __future__ import annotations

from typing import Any

from flask import Flask

import core.db
from core.settings import Settings, load_settings


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Create the app. ``config`` is a :class:`Settings`, a dict of overrides on top of the
    environment, or None for the environment alone."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = load_settings()
        if config:
            settings = settings.with_overrides(**config)

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

    # Each part exposes ``init_app(app)``; imported here, not at module level, so that the
    # blueprints' own imports of models and tasks never run before the app is configured.
    from bot import api, bind, dashboard, public, request_session
    from bot.wechat import webhook

    for part in (request_session, webhook, bind, dashboard, api, public):
        part.init_app(app)
    return app


def settings_of(app: Flask) -> Settings:
    return app.config["BANZHUREN"]
