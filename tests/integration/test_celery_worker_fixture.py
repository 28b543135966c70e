"""The Celery test plugin's ``use_celery_settings``: switching this process's Celery app between
eager mode and the real Redis, back and forth, leaves it working and leaves nothing open.

Tests that use ``celery_worker`` run among tests that run tasks eagerly, in any order; each
switch must give the next ``delay()`` a usable broker pool (kombu keeps pools in a
process-wide registry keyed by broker URL, so a pool closed but not forgotten comes back as
"Acquire on closed pool") and must close the sockets of the previous broker and result
backend (an unclosed socket is a ResourceWarning, an error in this suite, raised in whichever
later test happens to collect it)."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from urllib.parse import urlsplit

import redis

from core.celery_app import celery
from tests.conftest import make_settings
from tests.support.celery_worker import use_celery_settings
from worker.tasks.maintenance import cleanup_received_messages


def _queued(redis_url: str, prefix: str, queue: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return client.llen(f"{prefix}:{queue}")
    finally:
        client.close()


def _open_redis_sockets(redis_url: str) -> int:
    """TCP connections this process has open to the Redis server (from /proc, so a socket
    counts even while some forgotten object still holds it)."""
    port = urlsplit(redis_url).port or 6379
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            if remote_port == port and cols[3] == "01" and cols[9] in inodes:  # ESTABLISHED
                count += 1
    return count


def test_switching_between_eager_and_redis_keeps_delay_working(db_url, redis_url, redis_prefix):
    eager = make_settings(db_url)
    first = make_settings(db_url, redis_url=redis_url, redis_prefix=f"{redis_prefix}:a")
    second = make_settings(db_url, redis_url=redis_url, redis_prefix=f"{redis_prefix}:b")
    try:
        use_celery_settings(eager)
        assert cleanup_received_messages.delay().get() == 0  # the memory:// pool is now used
        gc.collect()
        baseline = _open_redis_sockets(redis_url)

        use_celery_settings(first)
        # No worker listens: the message waits in the queue under this prefix, and the result
        # backend has subscribed to the task's channel (an open pubsub socket).
        pending = cleanup_received_messages.delay()
        celery.control.ping(timeout=0.2)
        assert _queued(redis_url, first.redis_prefix, first.celery_queue) == 1
        assert _open_redis_sockets(redis_url) > baseline

        use_celery_settings(eager)
        # The result's finalizer runs after the switch (as it does when the garbage collector
        # gets to it late): unsubscribing must not reopen the closed subscription.
        del pending
        gc.collect()
        assert _open_redis_sockets(redis_url) <= baseline
        assert cleanup_received_messages.delay().get() == 0

        use_celery_settings(second)
        cleanup_received_messages.delay()
        assert _queued(redis_url, second.redis_prefix, second.celery_queue) == 1
        assert _queued(redis_url, first.redis_prefix, first.celery_queue) == 1
    finally:
        use_celery_settings(eager)
    assert cleanup_received_messages.delay().get() == 0
    gc.collect()
    assert _open_redis_sockets(redis_url) <= baseline
