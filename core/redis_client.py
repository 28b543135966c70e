"""One Redis client per process and URL, and the key prefix every key must carry.

The client is only a connection pool; nothing shared between processes is kept in it
(redis-py notices a fork and opens new connections in the child).
"""

from __future__ import annotations

import threading

import redis

from core.settings import Settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(settings: Settings) -> redis.Redis:
    """The process's client for ``settings.redis_url`` (which must be set)."""
    if not settings.redis_url:
        raise RuntimeError("BANZHUREN_REDIS_URL is not set")
    with _lock:
        client = _clients.get(settings.redis_url)
        if client is None:
            client = redis.Redis.from_url(
                settings.redis_url, socket_timeout=5, socket_connect_timeout=5
            )
            _clients[settings.redis_url] = client
        return client


def rkey(settings: Settings, *parts: str) -> str:
    """A Redis key under ``settings.redis_prefix``: ``<prefix>:<part>:<part>...``."""
    return ":".join((settings.redis_prefix, *parts))
