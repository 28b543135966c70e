"""Closing survey rounds whose closing day has passed (beat): their sealed answers are opened
into anonymous responses then, as ``banzhuren round close`` would (core.surveys.rounds)."""

from __future__ import annotations

from celery.utils.log import get_task_logger

from core import jobs
from core.celery_app import celery
from worker.tasks.common import RETRYING

log = get_task_logger(__name__)


@celery.task(
    name=jobs.CLOSE_DUE_ROUNDS,
    time_limit=600,
    soft_time_limit=540,
    **RETRYING,
)
def close_due_rounds(self) -> list[int]:
    """Close every open round past its closing day (school time); returns their ids."""
    from core.celery_app import settings
    from core.surveys.rounds import close_due_rounds as close_due

    closed = close_due(settings())
    log.info("task %s: closed survey rounds %s", self.request.id, closed)
    return closed


@celery.task(
    name=jobs.REMIND_ROUNDS_CLOSING,
    time_limit=600,
    soft_time_limit=540,
    **RETRYING,
)
def remind_rounds_closing_soon(self) -> dict[int, int]:
    """Issue 15: remind the non-responders of rounds closing in two days (once a day each)."""
    from core.celery_app import settings
    from core.reach.rounds import remind_rounds_closing_soon as remind_due

    reminded = remind_due(settings())
    log.info("task %s: reminded %s", self.request.id, reminded)
    return reminded
