"""The beat schedule (``banzhuren beat``), in the school's time zone (Celery's ``timezone``).

Tasks are named by string (the reminders task belongs to the work-log module); beat only
sends the name, a worker that has the module runs it.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        # 第十七条: evaluate each term after it ends (the task skips terms already evaluated).
        "evaluate-ended-terms": {
            "task": "worker.tasks.evaluation.evaluate_ended_terms",
            "schedule": crontab(hour=2, minute=0),
        },
        # Tell teachers their own result once Student Affairs has published the term.
        "announce-published-results": {
            "task": "worker.tasks.evaluation.announce_published_results",
            "schedule": crontab(minute=20),
        },
        # Head teachers with no log entry for two weeks get a reminder, Monday morning.
        "remind-inactive-teachers": {
            "task": "worklog.remind_inactive_teachers",
            "schedule": crontab(day_of_week=1, hour=9, minute=0),
        },
        # Outbound WeChat messages left unsent (broker down at commit, worker lost) go again.
        "retry-unsent-outbound": {
            "task": "worker.tasks.maintenance.retry_unsent_outbound",
            "schedule": crontab(minute="*/10"),
        },
        # 反馈 not queued yet (its task was lost with the broker, the counsellor bound later).
        "forward-pending-feedback": {
            "task": "worklog.forward_pending_feedback",
            "schedule": crontab(minute="5-59/10"),
        },
        # Survey rounds past their closing day are closed (their sealed answers opened).
        "close-due-survey-rounds": {
            "task": "worker.tasks.rounds.close_due_rounds",
            "schedule": crontab(hour=0, minute=15),
        },
        # Issue 15: students who have not answered a round closing in two days are reminded
        # (once a day at most each; 10:00 school time, inside the allowed hours).
        "remind-rounds-closing-soon": {
            "task": "worker.tasks.rounds.remind_rounds_closing_soon",
            "schedule": crontab(hour=10, minute=0),
        },
        # Dedup keys of received messages are only needed for WeChat's retries.
        "cleanup-received-messages": {
            "task": "worker.tasks.maintenance.cleanup_received_messages",
            "schedule": crontab(hour=3, minute=30),
        },
    }
