"""Hand-offs to the task queue that fail while Redis is away: one log line when the first one
fails and one when hand-offs work again (issue 22 item 7), not a traceback each.

What a failed hand-off would have queued is committed in the database (an outbox row, a 反馈
not forwarded yet) and found again by the beat sweeps, run every minute (core.beat), so the
failure needs no more than a line saying that it happens and that it ended. Per process, like
``bot.wechat.outage`` for the webhook.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from kombu.exceptions import OperationalError as KombuOperationalError

log = logging.getLogger("core.handoff")

_lock = threading.Lock()
# (first failure, monotonic; failures since), or None while hand-offs work.
_down: tuple[float, int] | None = None


def is_outage(exc: BaseException) -> bool:
    """True for "the broker cannot be reached" (kombu wraps the socket's errors in its
    OperationalError when publishing; redis-py's own for the result backend)."""
    if isinstance(exc, (KombuOperationalError, redis.ConnectionError, redis.TimeoutError)):
        return True
    # Celery's Redis result backend gives up its subscription with a RuntimeError.
    return isinstance(exc, RuntimeError) and "Celery result store" in str(exc)


def failed(exc: BaseException, what: object) -> None:
    """A hand-off of ``what`` failed because the broker is away."""
    global _down
    with _lock:
        first = _down is None
        since, count = _down or (time.monotonic(), 0)
        _down = (since, count + 1)
    if first:
        log.error(
            "task queue unavailable (%s: %s) handing off %s; further failures are counted, "
            "not logged, and what they would have queued is sent by the beat sweeps once it "
            "is back",
            type(exc).__name__,
            (str(exc).splitlines() or [""])[0][:200],
            _describe(what),
        )


def ok() -> None:
    """A hand-off went through; ends an outage if one was going on."""
    global _down
    if _down is None:  # the common case: no lock taken
        return
    with _lock:
        state, _down = _down, None
    if state is not None:
        since, count = state
        log.warning(
            "task queue is back after %.1f s; %d hand-off(s) failed meanwhile (the sweeps "
            "queue them again)",
            time.monotonic() - since,
            count,
        )


def reset() -> None:
    """Forget any outage (tests)."""
    global _down
    with _lock:
        _down = None


def _describe(what: object) -> str:
    func = getattr(what, "func", None)  # functools.partial(dispatch, name, id)
    if func is not None:
        args = ", ".join(str(a) for a in getattr(what, "args", ()))
        return f"{getattr(func, '__name__', func)}({args})"
    return getattr(what, "__name__", type(what).__name__)
