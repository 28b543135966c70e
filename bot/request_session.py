"""One database session per web request, closed in teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

import core.db
from core.settings import Settings


def db() -> Session:
    """The request's session; opened on first use."""
    if "db_session" not in g:
        g.db_session = core.db.SessionFactory()
    return g.db_session


def settings() -> Settings:
    return current_app.config["BANZHUREN"]


def _close(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
