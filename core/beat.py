"""The beat schedule (``banzhuren beat``), in the school's time zone (Celery's ``timezone``).

Beat only sends a task's name (core.jobs); a worker, which has the task modules, runs it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import PersistentScheduler
from celery.schedules import crontab

from core import jobs

log = logging.getLogger(__name__)


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        # 第十七条: evaluate each term after it ends (the task skips terms already evaluated).
        "evaluate-ended-terms": {
            "task": jobs.EVALUATE_ENDED_TERMS,
            "schedule": crontab(hour=2, minute=0),
        },
        # Tell teachers their own result once Student Affairs has published the term.
        "announce-published-results": {
            "task": jobs.ANNOUNCE_RESULTS,
            "schedule": crontab(minute=20),
        },
        # Head teachers with no log entry for two weeks get a reminder, Monday morning.
        "remind-inactive-teachers": {
            "task": jobs.REMIND_INACTIVE_TEACHERS,
            "schedule": crontab(day_of_week=1, hour=9, minute=0),
        },
        # Every minute (issue 22 item 7): sends cut off by a dead worker are settled as
        # 可能已送达 (within two minutes: core.outbox.IN_FLIGHT), and outbound messages left
        # unsent (broker down at commit, worker lost) go again.
        "retry-unsent-outbound": {
            "task": jobs.RETRY_UNSENT,
            "schedule": crontab(minute="*"),
        },
        # 反馈 not queued yet (its hand-off was lost with the broker, the counsellor bound
        # later): forwarded within a minute of Redis being back.
        "forward-pending-feedback": {
            "task": jobs.FORWARD_PENDING_FEEDBACK,
            "schedule": crontab(minute="*"),
        },
        # Issue 25: a 反馈 unacknowledged for three days is reminded to the counsellor once
        # (hourly in office hours, so that it arrives by day).
        "remind-unacknowledged-feedback": {
            "task": jobs.REMIND_FEEDBACK,
            "schedule": crontab(hour="9-17", minute=35),
        },
        # Survey rounds past their closing day are closed (their sealed answers opened).
        "close-due-survey-rounds": {
            "task": jobs.CLOSE_DUE_ROUNDS,
            "schedule": crontab(hour=0, minute=15),
        },
        # Issue 15: students who have not answered a round closing in two days are reminded
        # (once a day at most each; 10:00 school time, inside the allowed hours).
        "remind-rounds-closing-soon": {
            "task": jobs.REMIND_ROUNDS_CLOSING,
            "schedule": crontab(hour=10, minute=0),
        },
        # Dedup keys of received messages are only needed for WeChat's retries.
        "cleanup-received-messages": {
            "task": jobs.CLEANUP_RECEIVED,
            "schedule": crontab(hour=3, minute=30),
        },
    }


# Beat's heartbeat (``banzhuren doctor``): the scheduler writes this Redis key at least every
# HEARTBEAT_EVERY seconds; a key older than HEARTBEAT_STALE (or gone: it expires) means no
# beat is running, and nothing periodic (round closing, retries, reminders) happens.
HEARTBEAT_EVERY = 30
HEARTBEAT_STALE = 120


def heartbeat_key(settings) -> str:
    from core.redis_client import rkey

    return rkey(settings, "beat", "heartbeat")


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler (the ``--schedule`` file), writing :func:`heartbeat_key`."""

    _last_heartbeat = 0.0
    _heartbeat_failing = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        self.heartbeat()
        # Beat sleeps what tick returns (up to 5 minutes): wake often enough to keep it fresh.
        return min(interval, HEARTBEAT_EVERY)

    def heartbeat(self) -> None:
        now = time.time()
        if now - self._last_heartbeat < HEARTBEAT_EVERY / 2:
            return
        settings = getattr(self.app.conf, "banzhuren", None)
        if settings is None or not settings.redis_url:
            return
        import redis

        from core.redis_client import redis_client

        try:
            redis_client(settings).set(heartbeat_key(settings), f"{now:.0f}", ex=HEARTBEAT_STALE)
        except redis.RedisError as exc:
            if not self._heartbeat_failing:  # one line per outage, not one per tick
                log.warning("beat heartbeat not written: %s", exc)
            self._heartbeat_failing = True
            return
        self._heartbeat_failing = False
        self._last_heartbeat = now
