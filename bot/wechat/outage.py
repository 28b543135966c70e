"""One log line when a dependency (the database, Redis) goes away and one when it is back, not a
traceback per request.

A 1-second Redis outage under load used to write hundreds of tracebacks to the web log. The
webhook reports each failure it cannot do anything about to :func:`failed`, and each success
of the same dependency to :func:`ok`; the first failure of an outage is logged (with its
exception, once), the rest are counted, and the first success after it logs how long the outage
lasted and how many requests it cost. Per process (each gunicorn worker logs its own view).

Which exceptions are outages: :func:`is_outage` (connection and timeout errors of the database
driver and of redis-py). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("bot.wechat.outage")

_lock = threading.Lock()
# dependency name -> (first failure, monotonic; failures since)
_down: dict[str, tuple[float, int]] = {}


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean "the database or Redis is unreachable or stalled"."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, PoolTimeout, OperationalError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def failed(dependency: str, exc: BaseException, doing: str) -> None:
    """Report a failure of ``dependency`` ("database", "redis") while ``doing`` something."""
    with _lock:
        first = dependency not in _down
        since, count = _down.get(dependency, (time.monotonic(), 0))
        _down[dependency] = (since, count + 1)
    if first:
        log.error(
            "%s unavailable (%s: %s) while %s; further failures are counted, not logged, "
            "until it answers again",
            dependency,
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
            doing,
        )


def ok(dependency: str) -> None:
    """Report that ``dependency`` answered; ends an outage if one was going on."""
    if dependency not in _down:  # the common case: no lock taken
        return
    with _lock:
        state = _down.pop(dependency, None)
    if state is not None:
        since, count = state
        log.warning(
            "%s is back after %.1f s; %d request(s) failed meanwhile",
            dependency,
            time.monotonic() - since,
            count,
        )


def dependency_of(exc: BaseException) -> str:
    return "redis" if isinstance(exc, redis.RedisError) else "database"


def reset() -> None:
    """Forget every outage (tests)."""
    with _lock:
        _down.clear()
