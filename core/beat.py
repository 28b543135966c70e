"""The beat schedule (``banzhuren beat``), in the school's time zone (Celery's ``timezone``).

Beat only sends a task's name (core.jobs); a worker, which has the task modules, runs it.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from core import jobs


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
        # Outbound WeChat messages left unsent (broker down at commit, worker lost) go again.
        "retry-unsent-outbound": {
            "task": jobs.RETRY_UNSENT,
            "schedule": crontab(minute="*/10"),
        },
        # 反馈 not queued yet (its task was lost with the broker, the counsellor bound later).
        "forward-pending-feedback": {
            "task": jobs.FORWARD_PENDING_FEEDBACK,
            "schedule": crontab(minute="5-59/10"),
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
