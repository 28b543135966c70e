"""The Celery app. With ``BANZHUREN_REDIS_URL`` set it uses Redis as broker and result backend;
without it, tasks run in-process (eager), which is the embedded default.

The app is configured here, in the core, because the web process, the CLI and the worker all
send tasks; the task modules themselves live under ``worker/tasks`` and are loaded through
Celery's own ``include`` (:data:`TASK_MODULES`). Callers ask for a task by its name
(:mod:`core.jobs`), so nothing here imports the worker."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from celery.result import AsyncResult

import core.db
from core import handoff
from core.beat import beat_schedule
from core.settings import Settings, load_settings

log = logging.getLogger(__name__)

# Hard time limit of a task that sets none; every task sets its own at most this long.
DEFAULT_TIME_LIMIT = 600
VISIBILITY_MARGIN = 60

# The worker's task modules, imported by Celery when it is configured (configure_celery).
TASK_MODULES = (
    "worker.tasks.evaluation",
    "worker.tasks.feedback",
    "worker.tasks.maintenance",
    "worker.tasks.outbound",
    "worker.tasks.reminders",
    "worker.tasks.rounds",
)

celery = Celery("banzhuren", include=TASK_MODULES)
_configured_for: Settings | None = None


def configure_celery(settings: Settings) -> Celery:
    """Configure the process-wide Celery app for ``settings`` (idempotent)."""
    global _configured_for
    celery.conf.update(
        # Embedded mode names a host for the in-memory broker: anything that asks kombu for
        # the connection's details (the outbox's hand-off, a control call) would otherwise
        # log "No hostname was supplied", the only line of an embedded run's log.
        broker_url=settings.redis_url or "memory://localhost/",
        result_backend=settings.redis_url or "cache+memory://",
        task_always_eager=settings.embedded,
        task_eager_propagates=True,
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        # A task whose worker dies is redelivered, not lost; tasks are idempotent for this.
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=DEFAULT_TIME_LIMIT,
        task_soft_time_limit=DEFAULT_TIME_LIMIT - 60,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=86400,
        broker_connection_retry_on_startup=True,
        # Every Redis key (queues, results) carries the prefix, so deployments and test runs
        # sharing one Redis do not see each other's tasks.
        # A task taken by a worker that then died (SIGKILL, OOM, host lost) goes back to the
        # queue after the visibility timeout: just longer than the longest task may run (its
        # hard time limit), so a running task is never handed out twice and a lost one waits
        # minutes, not an hour. Set again after the tasks are imported (visibility_timeout()).
        broker_transport_options={
            "visibility_timeout": DEFAULT_TIME_LIMIT + VISIBILITY_MARGIN,
            "global_keyprefix": f"{settings.redis_prefix}:",
        },
        # STARTED in the result backend: `evaluate` can tell a task a worker took and lost.
        task_track_started=True,
        result_backend_transport_options={"global_keyprefix": f"{settings.redis_prefix}:"},
        beat_schedule=beat_schedule(),
        # Writes beat's heartbeat for `banzhuren doctor` (core.beat.HeartbeatScheduler).
        beat_scheduler="core.beat:HeartbeatScheduler",
        timezone=settings.timezone,
        enable_utc=True,
    )
    celery.conf.banzhuren = settings
    _configured_for = settings
    # Registers every task on ``celery`` (its ``include``); the task modules import ``celery``
    # from this module, so this cannot happen at import time.
    celery.loader.import_default_modules()

    options = dict(celery.conf.broker_transport_options)
    options["visibility_timeout"] = visibility_timeout()
    celery.conf.broker_transport_options = options
    return celery


def visibility_timeout() -> int:
    """The longest hard time limit among our tasks (the default for those without one), plus
    :data:`VISIBILITY_MARGIN`."""
    limits = [
        task.time_limit or celery.conf.task_time_limit
        for name, task in celery.tasks.items()
        if not name.startswith("celery.")
    ]
    return int(max([DEFAULT_TIME_LIMIT, *limits])) + VISIBILITY_MARGIN


def settings() -> Settings:
    """The settings the worker (or the in-process runner) was configured with."""
    if _configured_for is None:
        configure_celery(load_settings())
    assert _configured_for is not None
    return _configured_for


@signals.worker_process_init.connect
def _dispose_engine_after_fork(**_kwargs) -> None:
    # A pooled connection inherited across fork would be shared by two processes.
    core.db.dispose()


def dispatch(name: str, *args: Any, **options: Any) -> AsyncResult:
    """Ask for task ``name`` with ``args``: queued for a worker with Redis, run at once in
    embedded (eager) mode. ``options`` go to ``apply_async`` (countdown, task_id...)."""
    settings()  # configures Celery, and so registers the tasks, on first use
    # Through the registered task, not ``send_task``: Celery runs a task eagerly only through
    # its own object (send_task ignores task_always_eager).
    result = celery.tasks[name].apply_async(args=args, **options)
    handoff.ok()
    return result
