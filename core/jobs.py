"""The Celery tasks by name: what the core and the edges ask for (core.celery_app.dispatch).

Every task is named ``banzhuren.<area>.<verb>``. The names are the contract between whoever asks
for work (the outbox after a commit, the CLI's ``evaluate``, publication, beat) and the task
modules under ``worker/tasks`` that do it: callers send a name, never import a task, so nothing
below the worker depends on it. ``tests/unit/test_layout.py`` checks that every name here is
registered by a task and every task has a name from here.

Renaming a task changes what is in the queues: drain them before deploying a rename (a worker
deletes a task whose name it does not know; deploy/RUNBOOK.md, "Upgrading to the release that
renamed the Celery tasks").
"""

from __future__ import annotations

EVALUATE_TERM = "banzhuren.evaluation.evaluate_term"
EVALUATE_DEPARTMENT = "banzhuren.evaluation.evaluate_department"
FINISH_TERM = "banzhuren.evaluation.finish_term"
EVALUATE_ENDED_TERMS = "banzhuren.evaluation.evaluate_ended_terms"
ANNOUNCE_RESULTS = "banzhuren.evaluation.announce_results"
SEND_OUTBOUND = "banzhuren.outbox.send"
SEND_OUTBOUND_BATCH = "banzhuren.outbox.send_batch"
RETRY_UNSENT = "banzhuren.outbox.retry_unsent"
FORWARD_FEEDBACK = "banzhuren.feedback.forward"
FORWARD_PENDING_FEEDBACK = "banzhuren.feedback.forward_pending"
REMIND_FEEDBACK = "banzhuren.feedback.remind_unacknowledged"
REMIND_INACTIVE_TEACHERS = "banzhuren.worklog.remind_inactive"
CLOSE_DUE_ROUNDS = "banzhuren.rounds.close_due"
REMIND_ROUNDS_CLOSING = "banzhuren.rounds.remind_closing"
CLEANUP_RECEIVED = "banzhuren.webhook.cleanup_received"

ALL = (
    EVALUATE_TERM,
    EVALUATE_DEPARTMENT,
    FINISH_TERM,
    EVALUATE_ENDED_TERMS,
    ANNOUNCE_RESULTS,
    SEND_OUTBOUND,
    SEND_OUTBOUND_BATCH,
    RETRY_UNSENT,
    FORWARD_FEEDBACK,
    FORWARD_PENDING_FEEDBACK,
    REMIND_FEEDBACK,
    REMIND_INACTIVE_TEACHERS,
    CLOSE_DUE_ROUNDS,
    REMIND_ROUNDS_CLOSING,
    CLEANUP_RECEIVED,
)
