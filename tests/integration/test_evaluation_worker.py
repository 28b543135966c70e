"""Term evaluation through a real Celery worker process on the real Redis (both backends):
the chord of department tasks, the CLI waiting for it, and a pool process killed mid-task
(acks_late + reject on worker lost → redelivered → the same rows)."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

import pytest
from celery.result import AsyncResult
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from bot.cli import main
from core.reports import evaluation_rows
from models import TermEvaluation
from tests.integration.evaluation_school import build_scenario
from tests.support.celery_worker import settings_env
from worker.tasks.evaluation import evaluate_term_task

CODE = "2026-2027-1"
EXPECTED = {
    "张老师": ("优秀", []),
    "李老师": ("不合格", ["满意度低于60%", "没有很好履行工作职责"]),
    "王老师": ("不合格", ["任期不满一年", "严重责任事件"]),
    "赵老师": ("不合格", ["其他不称职行为"]),
}


def _grades(session):
    session.rollback()
    return {r["teacher"]: (r["grade"], r["reasons"]) for r in evaluation_rows(session, CODE)}


def test_evaluation_runs_on_the_worker(celery_worker, session):
    build_scenario(session)
    plan = evaluate_term_task.delay(CODE).get(timeout=60)
    # Two departments, each its own task on the worker, then the finishing task.
    assert len(plan["departments"]) == 2
    summary = AsyncResult(plan["finish_id"]).get(timeout=60)
    assert summary["teachers"] == 4
    assert _grades(session) == EXPECTED
    log = celery_worker.log()
    assert "banzhuren.evaluation.evaluate_department" in log and plan["finish_id"] in log


def test_cli_evaluate_enqueues_and_waits(celery_worker, session, monkeypatch):
    build_scenario(session)
    for name, value in settings_env(celery_worker.settings).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["evaluate", "--term", CODE, "--timeout", "120"])
    assert result.exit_code == 0, result.output
    assert "4 名兼职班主任" in result.output and "优秀 1" in result.output
    assert _grades(session) == EXPECTED


@contextmanager
def write_lock(url: str):
    """Hold a lock that stops anyone else writing term_evaluations until the block ends."""
    engine = create_engine(url)
    conn = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE term_evaluations IN EXCLUSIVE MODE"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_killed_pool_process_is_redelivered_with_the_same_rows(celery_worker, session, db_url):
    build_scenario(session)
    with write_lock(db_url):
        plan = evaluate_term_task.delay(CODE).get(timeout=60)
        department_tasks = set(plan["departments"])
        deadline = time.monotonic() + 60
        running: list[dict] = []
        while time.monotonic() < deadline:
            running = [t for t in celery_worker.active() if t["id"] in department_tasks]
            if running:
                break
            time.sleep(0.2)
        assert running, "no department task started on the worker"
        time.sleep(1.0)  # well inside the task: blocked on the lock while writing its rows
        victim = running[0]
        os.kill(victim["worker_pid"], signal.SIGKILL)
        # Let the worker notice the lost process and requeue before the lock goes away.
        time.sleep(2.0)
    summary = AsyncResult(plan["finish_id"]).get(timeout=120)
    assert summary["teachers"] == 4
    assert _grades(session) == EXPECTED
    assert session.scalar(select(func.count()).select_from(TermEvaluation)) == 4
    log = celery_worker.log()
    assert "WorkerLostError" in log or "exited prematurely" in log
    # The killed task ran again, to success, under the same id.
    assert log.count(f"[{victim['id']}] succeeded") == 1


def test_evaluation_twice_on_the_worker_keeps_one_row_each(celery_worker, session):
    build_scenario(session)
    # Both runs are on the worker at once (their department tasks interleave); waiting for
    # them one after the other here does not serialise them there.
    plans = [evaluate_term_task.delay(CODE).get(timeout=60) for _ in range(2)]
    for p in plans:
        assert AsyncResult(p["finish_id"]).get(timeout=60)["teachers"] == 4
    assert session.scalar(select(func.count()).select_from(TermEvaluation)) == 4
    assert _grades(session) == EXPECTED


@pytest.mark.timeout(60)  # the default --timeout is 30 minutes: it must not wait for it
def test_cli_evaluate_without_a_worker_says_so(
    session, db_url, redis_url, redis_prefix, monkeypatch
):
    from tests.conftest import make_settings
    from tests.support.celery_worker import use_celery_settings

    build_scenario(session)
    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    try:
        result = CliRunner().invoke(main, ["evaluate", "--term", CODE])
    finally:
        use_celery_settings(make_settings(db_url))
    assert result.exit_code == 1
    assert "没有正在运行的 worker" in result.output and "banzhuren worker" in result.output
    assert "Traceback" not in result.output
    assert session.scalar(select(func.count()).select_from(TermEvaluation)) == 0


@pytest.mark.timeout(90)
def test_cli_evaluate_after_the_worker_was_killed_says_none_is_running(
    celery_worker, session, db_url, monkeypatch
):
    import os
    import signal

    from tests.conftest import make_settings
    from tests.support.celery_worker import use_celery_settings

    build_scenario(session)
    for pid in [celery_worker.pid, *celery_worker.pool_pids()]:
        os.kill(pid, signal.SIGKILL)
    celery_worker.process.wait(10)
    for name, value in settings_env(celery_worker.settings).items():
        monkeypatch.setenv(name, value)
    try:
        result = CliRunner().invoke(main, ["evaluate", "--term", CODE])
    finally:
        use_celery_settings(make_settings(db_url))
    assert result.exit_code == 1
    assert "没有正在运行的 worker" in result.output, result.output
    assert session.scalar(select(func.count()).select_from(TermEvaluation)) == 0
