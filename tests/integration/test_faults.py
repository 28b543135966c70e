"""Faults with real processes (issue 13, item 10): a Celery worker SIGKILLed during
``banzhuren evaluate``, a gunicorn worker SIGKILLed mid-request, a private Redis restarted and
stalled, the database's connections terminated. Each ends with every confirmed message handled
once and the service back without a restart."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from core.wechat.simulate import WeChatSimulator
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
        department = "banzhuren.evaluation.evaluate_department"
        deadline = time.monotonic() + 60
        running: list[dict] = []
        while not running and time.monotonic() < deadline:
            running = [t for t in celery_worker.active() if t["name"] == department]
            time.sleep(0.2)
        assert running, "no department task started"
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
    def __init__(
        self,
        settings,
        tmp_path: Path,
        workers: int = 2,
        timeout: int = 30,
        cwd: Path = ROOT,
        name: str = "gunicorn",
    ) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/wechat"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
        env.update(settings_env(settings))
        self.log_path = tmp_path / f"{name}.log"
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
            # Another directory is another host's: nothing on disk is shared (the package is
            # installed, so it imports from anywhere).
            cwd=cwd,
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
            except BaseException:
                self.stop()  # never leave a server running behind a failed test
                raise
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


# --- Redis and the database failing mid-survey ----------------------------------------------

HEADER = re.compile(r"关于 (?P<name>\S+?)老师（[^）]*）的测评 (?P<pos>\d+)/(?P<total>\d+)")


class PrivateRedis:
    """A redis-server of the test's own (never the shared one), without persistence, as
    deploy/compose.yaml used to run it: a restart empties it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()
    from bot.wechat import dedup
    from core import redis_client

    # Forget the clients of this server (their connections point at a dead port).
    for clients in (redis_client._clients, dedup._fast_clients):
        client = clients.pop(server.url, None)
        if client is not None:
            client.close()


class SurveyDriver:
    """Students answering the survey through /wechat as people would: they read the question
    from each reply and answer it; a 系统正忙 or an error is sent again. Every choice question
    gets choice 1 or 2 by its position, alternately, so an answer filed under a neighbouring
    question shows."""

    def __init__(self, client, sim: WeChatSimulator, definition) -> None:
        self.client = client
        self.sim = sim
        self.by_text = {q.text: q for q in definition.questions}
        self.choice = {q.id: 1 + i % 2 for i, q in enumerate(definition.questions)}
        self.requests = 0

    def say(self, openid: str, text: str) -> str:
        self.requests += 1
        query, body = self.sim.text(openid, text)
        response = self.client.post("/wechat", query_string=query, data=body)
        assert response.status_code == 200, response.data[:200]
        return self.sim.read_reply(response.data).get("Content", "")

    def next_text(self, reply: str, last: str) -> str | None:
        from bot.chat import help as texts

        if "你已完成本轮全部测评" in reply:
            return None
        if reply in (texts.BUSY, texts.FAILED) or reply == "":
            return last
        match = HEADER.search(reply)
        if match:
            # The question is the line after the header line.
            lines = reply[match.end() :].splitlines()
            question = self.by_text.get(lines[1].strip()) if len(lines) > 1 else None
            if question is not None:
                if question.options:
                    return str(self.choice[question.id])
                return "跳过" if not question.required else "很好"
        if "确认" in reply and ("请核对" in reply or "请回复「确认」" in reply):
            return "确认"
        return "测评"

    def step(self, openid: str, state: dict) -> bool:
        """One message of ``openid``'s conversation; False once the student has finished."""
        if state.get("done"):
            return False
        text = state.get("next", "测评")
        reply = self.say(openid, text)
        following = self.next_text(reply, text)
        if following is None:
            state["done"] = True
            return False
        state["next"] = following
        return True


def _survey_school(session, students: int = 6):
    from tests.integration.survey_chat import start_round
    from tests.integration.survey_school import bind, make_school

    school = make_school(session)
    start_round(session, school.term, school.definition)
    classes = [school.first_year, school.third_year, school.final_year]
    openids = list(school.openids.values())
    openids.remove("oid-xiaoli")  # a class with no head teacher: nothing to answer
    for i in range(students):
        student = make_student(session, classes=[classes[i % 3]])
        bind(session, student, f"oid-fault-{i}")
        openids.append(f"oid-fault-{i}")
    session.commit()
    return school, openids


def _run_survey(driver: SurveyDriver, openids: list[str], fault_at: int, fault) -> None:
    """Interleave the students' conversations; call ``fault()`` after ``fault_at`` requests."""
    states = {o: {} for o in openids}
    faulted = False
    for _round in range(400):
        active = [o for o in openids if not states[o].get("done")]
        if not active:
            return
        for openid in active:
            driver.step(openid, states[openid])
            if not faulted and driver.requests >= fault_at:
                faulted = True
                fault()
    pytest.fail(f"the survey did not finish: {states}")


def _assert_every_answer_stored_once_and_in_place(
    session, settings, school, openids, driver
) -> None:
    from models import Answer, Ballot, Response, SurveyRound
    from models.binding import WeChatBinding
    from tests.integration.survey_chat import close

    session.rollback()
    # Answers are sealed while the round is open: close it to see them as responses.
    close(session, settings, session.scalars(select(SurveyRound)).one())
    students = set(
        session.scalars(select(WeChatBinding.student_id).where(WeChatBinding.openid.in_(openids)))
    )
    ballots = session.execute(select(Ballot.student_id, Ballot.teacher_id)).all()
    assert len(ballots) == len(set(ballots))
    assert {s for s, _t in ballots} == students  # everyone who confirmed is stored
    assert _count(session, Response) == len(ballots)
    for question_id, choice in session.execute(select(Answer.question_id, Answer.choice)):
        if choice is not None:
            assert choice == driver.choice[question_id], question_id  # not misfiled


def test_redis_restarted_mid_survey(private_redis, db_url, redis_prefix, tmp_path, session):
    from bot import create_app

    settings = make_settings(db_url, redis_url=private_redis.url, redis_prefix=redis_prefix)
    client = create_app(settings).test_client()
    session.rollback()
    school, openids = _survey_school(session)
    driver = SurveyDriver(client, WeChatSimulator(settings.wechat_token), school.definition)
    _run_survey(driver, openids, fault_at=40, fault=private_redis.restart)
    _assert_every_answer_stored_once_and_in_place(session, settings, school, openids, driver)


def test_redis_stalled_mid_survey(private_redis, db_url, redis_prefix, session):
    import threading

    from bot import create_app

    settings = make_settings(db_url, redis_url=private_redis.url, redis_prefix=redis_prefix)
    client = create_app(settings).test_client()
    session.rollback()
    school, openids = _survey_school(session)
    driver = SurveyDriver(client, WeChatSimulator(settings.wechat_token), school.definition)

    def stall() -> None:
        private_redis.pause()
        threading.Timer(3.0, private_redis.resume).start()

    _run_survey(driver, openids, fault_at=40, fault=stall)
    _assert_every_answer_stored_once_and_in_place(session, settings, school, openids, driver)


def test_database_connections_terminated_mid_survey(db_url, session):
    from bot import create_app

    settings = make_settings(db_url)
    client = create_app(settings).test_client()
    session.rollback()
    school, openids = _survey_school(session)
    driver = SurveyDriver(client, WeChatSimulator(settings.wechat_token), school.definition)
    engine = create_engine(db_url)

    def fault() -> None:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # Every other connection to the test database is cut, the app's pool too.
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            else:
                # SQLite has no server to cut: its single write lock held for a while.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                time.sleep(0.1)
                conn.rollback()
        fault.count = getattr(fault, "count", 0) + 1

    _run_survey(driver, openids, fault_at=30, fault=fault)
    engine.dispose()
    _assert_every_answer_stored_once_and_in_place(session, settings, school, openids, driver)


def test_database_stalled_mid_survey(db_url, session):
    import threading

    from bot import create_app

    settings = make_settings(db_url)
    client = create_app(settings).test_client()
    session.rollback()
    school, openids = _survey_school(session)
    driver = SurveyDriver(client, WeChatSimulator(settings.wechat_token), school.definition)
    engine = create_engine(db_url)
    holding = threading.Event()

    def hold_for(seconds: float) -> None:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # Every message's claim and every stored answer waits behind these.
                conn.execute(
                    text(
                        "LOCK TABLE received_messages, sealed_envelopes, survey_drafts IN ACCESS EXCLUSIVE MODE"
                    )
                )
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            holding.set()
            time.sleep(seconds)
            conn.rollback()

    threads: list[threading.Thread] = []

    def stall() -> None:
        thread = threading.Thread(target=hold_for, args=(6.0,))
        thread.start()
        threads.append(thread)
        holding.wait(10)

    _run_survey(driver, openids, fault_at=35, fault=stall)
    for thread in threads:
        thread.join()
    engine.dispose()
    _assert_every_answer_stored_once_and_in_place(session, settings, school, openids, driver)
