"""Faults with real processes (issue 13, item 10): a Celery worker SIGKILLed during
``banzhuren evaluate``, a gunicorn worker SIGKILLed mid-request, a private Redis restarted and
stalled, the database's connections terminated. Each ends with every confirmed message handled
once and the service back without a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from bot.wechat.simulate import WeChatSimulator
from models import BindingFailure, ReceivedMessage, TermEvaluation
from tests.conftest import make_settings
from tests.factories import make_student
from tests.integration.evaluation_school import build_scenario
from tests.integration.test_evaluation_worker import CODE, EXPECTED, _grades, write_lock
from tests.support.celery_worker import settings_env, start_worker

ROOT = Path(__file__).resolve().parents[2]


def _count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


# --- a Celery worker killed during evaluate -------------------------------------------------


def test_evaluate_notices_tasks_lost_with_a_killed_worker_and_finishes(
    celery_worker, session, db_url, tmp_path
):
    build_scenario(session)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
    env.update(settings_env(celery_worker.settings))
    banzhuren = [sys.executable, "-c", "from bot.cli import main; main()"]
    with write_lock(db_url):
        cli = subprocess.Popen(
            [*banzhuren, "evaluate", "--term", CODE, "--timeout", "120"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not celery_worker.active() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert celery_worker.active(), "no department task started"
        # The whole worker dies (parent and pool): its tasks stay unacknowledged in Redis.
        pool = celery_worker.pool_pids()
        for pid in [celery_worker.pid, *pool]:
            os.kill(pid, signal.SIGKILL)
        celery_worker.process.wait(10)
    again = start_worker(celery_worker.settings, tmp_path / "worker-2.log")
    try:
        out, err = cli.communicate(timeout=120)
    finally:
        again.stop()
    assert cli.returncode == 0, (out, err)
    assert "重新提交" in err
    assert "4 名兼职班主任" in out
    assert "Exception ignored" not in err and "Traceback" not in err, err
    assert _grades(session) == EXPECTED
    assert _count(session, TermEvaluation) == 4


# --- gunicorn ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, settings, tmp_path: Path, workers: int = 2, timeout: int = 30) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/wechat"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
        env.update(settings_env(settings))
        self.log_path = tmp_path / "gunicorn.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                str(timeout),
                "bot.app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        pytest.fail("gunicorn did not start:\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post(self, request, timeout: float = 10) -> requests.Response:
        query, body = request
        return requests.post(self.url, params=query, data=body, timeout=timeout)

    def workers(self) -> list[int]:
        from tests.support.celery_worker import _children

        return _children(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def gunicorn_factory(tmp_path):
    started: list[Gunicorn] = []

    def start(settings, **kw) -> Gunicorn:
        g = Gunicorn(settings, tmp_path, **kw)
        started.append(g)
        return g

    yield start
    for g in started:
        g.stop()


@pytest.fixture
def held_write_lock(db_url):
    """A function that returns a context manager stopping the handler's database write
    (binding_failures on PostgreSQL; the single write lock on SQLite) until it ends."""
    from contextlib import contextmanager

    @contextmanager
    def hold():
        engine = create_engine(db_url)
        conn = engine.connect()
        try:
            if engine.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE binding_failures IN EXCLUSIVE MODE"))
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield
        finally:
            conn.rollback()
            conn.close()
            engine.dispose()

    return hold


def test_a_gunicorn_worker_killed_mid_request_the_retry_is_handled_once(
    gunicorn_factory, session, db_url, redis_url, redis_prefix, held_write_lock
):
    import threading

    import redis

    from bot.wechat import dedup

    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    make_student(session, student_no="K100", binding_code="123456")
    session.commit()
    g = gunicorn_factory(settings, workers=1)
    sim = WeChatSimulator(settings.wechat_token)
    claim = f"{redis_prefix}:wechat:msg:{dedup.message_key('o-killed', msg_id=4242)}"
    r = redis.Redis.from_url(redis_url)
    outcome: list[object] = []

    def first_attempt() -> None:
        try:
            outcome.append(g.post(sim.text("o-killed", "绑定 K100 1", msg_id=4242)))
        except requests.RequestException as exc:
            outcome.append(exc)

    started = time.monotonic()
    with held_write_lock():
        thread = threading.Thread(target=first_attempt)
        thread.start()
        deadline = time.monotonic() + 10
        while r.get(claim) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.get(claim) is not None, "the message was never claimed"
        (worker,) = g.workers()
        os.kill(worker, signal.SIGKILL)
        thread.join(15)
    assert isinstance(outcome[0], requests.RequestException)  # WeChat got no answer
    # WeChat retries 5 s after its first attempt, with the same MsgId.
    time.sleep(max(0.0, 5.0 - (time.monotonic() - started)))
    retry = g.post(sim.text("o-killed", "绑定 K100 1", msg_id=4242))
    reply = sim.read_reply(retry.content).get("Content", "")
    assert "绑定码不正确" in reply, retry.content
    again = g.post(sim.text("o-killed", "绑定 K100 1", msg_id=4242))
    assert sim.read_reply(again.content).get("Content", "") == reply
    assert _count(session, BindingFailure) == 1
    assert _count(session, ReceivedMessage) == 1
    r.close()
