"""Term evaluation tasks: one task per term fans out one task per department (a chord), whose
callback finishes the term. Acks late and idempotent upserts make a redelivered task (a worker
killed mid-task) write the same rows. In embedded (eager) mode the same steps run in-process."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from celery import chord
from celery.utils.log import get_task_logger
from sqlalchemy import select

import core.db
from core import jobs, publication
from core.celery_app import celery, settings
from core.evaluation import run
from models import Term
from worker.tasks.common import RETRYING

log = get_task_logger(__name__)


@celery.task(
    name=jobs.EVALUATE_TERM,
    time_limit=300,
    soft_time_limit=270,
    **RETRYING,
)
def evaluate_term_task(self, term_code: str) -> dict[str, Any]:
    """Evaluate a term. On a worker: start a chord of department tasks and return their task
    ids (``departments``: task id → department id) and the finishing task's id (``finish_id``),
    so that a caller can follow progress. Eager: run everything and return the summary."""
    config = settings()
    if self.request.is_eager or celery.conf.task_always_eager:
        summary = run.evaluate_term(
            term_code, config.min_respondents, min_participation=config.min_participation
        )
        return {"term": term_code, "summary": summary}
    with core.db.session_scope() as session:
        plan = run.plan_term(session, term_code)
    log.info(
        "task %s: term %s over %d departments", self.request.id, term_code, len(plan.departments)
    )
    ids = {str(uuid.uuid4()): dep for dep in plan.departments}
    finish_id = str(uuid.uuid4())
    body = finish_term_task.s(plan.term_id).set(task_id=finish_id)
    if not ids:
        body.apply_async(args=([],))
    else:
        chord(
            evaluate_department_task.s(plan.term_id, dep).set(task_id=task_id)
            for task_id, dep in ids.items()
        )(body)
    return {"term": term_code, "term_id": plan.term_id, "departments": ids, "finish_id": finish_id}


@celery.task(
    name=jobs.EVALUATE_DEPARTMENT,
    time_limit=600,
    soft_time_limit=570,
    **RETRYING,
)
def evaluate_department_task(self, term_id: int, department_id: int) -> int:
    """Evaluate one department's head teachers in the term (idempotent upsert)."""
    config = settings()
    n = run.evaluate_department(
        term_id, department_id, config.min_respondents, config.min_participation
    )
    log.info(
        "task %s: term %s department %s: %d teachers", self.request.id, term_id, department_id, n
    )
    return n


@celery.task(name=jobs.FINISH_TERM, time_limit=300, soft_time_limit=270, **RETRYING)
def finish_term_task(self, _department_counts: list[int], term_id: int) -> dict[str, Any]:
    """Chord callback: stale rows, award candidates, evaluated_at."""
    summary = run.finish_term(term_id)
    log.info("task %s: term %s finished: %s", self.request.id, term_id, summary)
    return summary


@celery.task(
    name=jobs.EVALUATE_ENDED_TERMS,
    time_limit=60,
    soft_time_limit=50,
    **RETRYING,
)
def evaluate_ended_terms(self) -> list[str]:
    """Beat, daily (第十七条 考核于每学期末进行): evaluate every term that has ended on the
    school's calendar and has not been evaluated yet."""
    today = dt.datetime.now(settings().tz).date()
    with core.db.session_scope() as session:
        codes = list(
            session.scalars(
                select(Term.code).where(Term.end_date < today, Term.evaluated_at.is_(None))
            )
        )
    for code in codes:
        log.info("task %s: term %s ended, evaluating", self.request.id, code)
        evaluate_term_task.delay(code)
    return codes


@celery.task(
    name=jobs.ANNOUNCE_RESULTS,
    time_limit=300,
    soft_time_limit=270,
    **RETRYING,
)
def announce_published_results(self) -> int:
    """Beat, hourly: core.publication.announce_results (reads who was told, then writes
    Reminder and outbox rows: a write transaction, as in ``publication.announce_now``)."""
    with core.db.session_scope(write=True) as session:
        sent = publication.announce_results(session)
    log.info("task %s: announced %d results", self.request.id, sent)
    return sent
