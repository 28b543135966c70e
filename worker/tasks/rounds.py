"""Closing survey rounds whose closing day has passed (beat): their sealed answers are opened
into anonymous responses then, as ``banzhuren round close`` would (bot.survey_rounds)."""

from __future__ import annotations

from celery.utils.log import get_task_logger

from worker.celery_app import celery
from worker.tasks.common import RETRYING

log = get_task_logger(__name__)


@celery.task(
    name="worker.tasks.rounds.close_due_rounds",
    time_limit=600,
    soft_time_limit=540,
    **RETRYING,
)
def close_due_rounds(self) -> list[int]:
    """Close every open round past its closing day (school time); returns their ids."""
    from bot.survey_rounds import close_due_rounds as close_due
    from worker.celery_app import settings

    closed = close_due(settings())
    log.info("task %s: closed survey rounds %s", self.request.id, closed)
    return closed


@celery.task(
    name="worker.tasks.rounds.remind_rounds_closing_soon",
    time_limit=600,
    soft_time_limit=540,
    **RETRYING,
)
def remind_rounds_closing_soon(self) -> dict[int, int]:
    """Issue 15: remind the non-responders of rounds closing in two days (once a day each)."""
    from bot.reach.rounds import remind_rounds_closing_soon as remind_due
    from worker.celery_app import settings

    reminded = remind_due(settings())
    log.info("task %s: reminded %s", self.request.id, reminded)
    return reminded
