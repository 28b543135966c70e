"""When a web request reached the server (issue 22 item 3; DESIGN.md, WeChat webhook).

WeChat waits 5 s for a reply, counted from when it sent the message. A request that waited in
gunicorn's queue (or in the kernel's backlog) behind a stalled database is old before any thread
sees it, so its age counts from its arrival, never from when a thread picked it up:

- behind a trusted proxy (``BANZHUREN_TRUSTED_PROXIES`` > 0), the proxy's ``X-Request-Start``
  (nginx: ``t=${msec}``, seconds with a fraction; other proxies send whole milli- or
  microseconds, with or without ``t=``), when it is sane: not ahead of this host's clock by more
  than :data:`MAX_SKEW`, not older than :data:`MAX_AGE` (else a log line and the fallback);
- else the time the web process accepted the connection: :data:`ACCEPTED_AT` in the WSGI
  environ, put there by the gunicorn worker (``bot.gunicorn_worker``) when the connection is
  handed to the thread pool, or by the app's outermost middleware (``bot.app``) when it is
  first called (``banzhuren serve``, other servers).

Times are Unix seconds (``time.time()``): the proxy's clock is another process's, often another
host's, so a monotonic clock cannot be shared.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

# The WSGI environ key holding when this process accepted the request (Unix seconds, float).
ACCEPTED_AT = "banzhuren.accepted_at"
# A proxy's clock may run a little ahead of ours.
MAX_SKEW = 2.0
# Older than this, the header is not a queueing delay but a wrong clock or a wrong unit.
MAX_AGE = 600.0
# Between log lines about insane headers.
_LOG_EVERY = 60.0

_HEADER = re.compile(r"^\s*(?:t=)?\s*([0-9]{1,20})(?:\.([0-9]{1,9}))?\s*$", re.ASCII)
_log_lock = threading.Lock()
_logged_at: float | None = None
_unlogged = 0


def parse_request_start(value: str | None) -> float | None:
    """Unix seconds named by an ``X-Request-Start`` value, or None when it names none.

    ``t=1700000000.123`` (seconds, nginx), ``t=1700000000123`` (milliseconds),
    ``t=1700000000123456`` (microseconds); ``t=`` is optional. Whole numbers are told apart by
    size: a time since 2001 has 10 digits in seconds, 13 in milliseconds, 16 in microseconds."""
    if not value or len(value) > 40:
        return None
    m = _HEADER.match(value)
    if m is None:
        return None
    whole, fraction = m.group(1), m.group(2)
    if fraction is not None:
        return float(f"{whole}.{fraction}")
    number = int(whole)
    if number >= 10**17:  # nanoseconds would be 19 digits: too fine for any proxy we know
        return None
    if number >= 10**14:
        return number / 1_000_000
    if number >= 10**11:
        return number / 1000
    return float(number)


def arrival(
    header: str | None, accepted_at: float | None, now: float, trusted: bool
) -> tuple[float, str | None]:
    """When the request arrived, and why a proxy's header was not taken (None when it was, or
    when there was none to take). Pure: ``now`` is the caller's clock."""
    fallback = accepted_at if accepted_at is not None and accepted_at <= now + MAX_SKEW else now
    if not trusted or header is None:
        return fallback, None
    started = parse_request_start(header)
    if started is None:
        return fallback, "unreadable"
    if started > now + MAX_SKEW:
        return fallback, "in the future"
    if started < now - MAX_AGE:
        return fallback, "too old"
    return min(started, now), None


def arrived_at(
    environ: Mapping[str, object], trusted_proxies: int, now: float | None = None
) -> float:
    """When the request of ``environ`` arrived (Unix seconds); see the module's docstring."""
    now = time.time() if now is None else now
    accepted = environ.get(ACCEPTED_AT)
    header = environ.get("HTTP_X_REQUEST_START")
    when, why = arrival(
        header if isinstance(header, str) else None,
        accepted if isinstance(accepted, float) else None,
        now,
        trusted_proxies > 0,
    )
    if why is not None:
        _log_insane(header, why)
    return when


def _log_insane(header: object, why: str) -> None:
    """One line a minute: a proxy with a wrong clock would otherwise log every request."""
    global _logged_at, _unlogged
    now = time.monotonic()
    with _log_lock:
        if _logged_at is not None and now - _logged_at < _LOG_EVERY:
            _unlogged += 1
            return
        _logged_at, skipped, _unlogged = now, _unlogged, 0
    log.warning(
        "X-Request-Start %r from the trusted proxy is %s; the request's age counts from when "
        "this process accepted it (%d such header(s) since the last line)",
        str(header)[:40],
        why,
        skipped,
    )
