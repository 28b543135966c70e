"""The edges that face people: the WeChat webhook and chat (``wechat``, ``chat``), the
dashboard and API (``dashboard``, ``api``), assembled into one WSGI app by ``app``; and the
``banzhuren`` command line (``cli``, with ``demo``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from core.settings import Settings


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the Flask app; see :func:`bot.app.create_app`."""
    from bot.app import create_app as _create_app

    return _create_app(config)
