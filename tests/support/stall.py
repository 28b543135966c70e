"""A database stalled under survey traffic, through real gunicorn (issue 22 item 3).

Students answer the survey at once, each in a thread, as WeChat carries their messages: every
message is one request with a 5 s timeout, tried three times with the same ``MsgId`` (WeChat's
retries); when all three fail the student sees WeChat's failure notice and sends the same text
again as a new message. A student answers the question they last saw, with a choice fixed per
question (neighbouring questions always differ), so an answer filed under a question the
student never saw shows when the round is closed. Meanwhile the survey tables are locked for
``stall`` seconds (PostgreSQL: ACCESS EXCLUSIVE; SQLite: the write lock), so gunicorn's
threads block and its queue fills. The requests carry ``X-Request-Start`` as nginx sets it
(``BANZHUREN_TRUSTED_PROXIES=1``), or none (the accept time of the stamping worker counts).

Used by ``tests/integration/test_stall.py`` (a short run) and ``bench/stall.py`` (50 students,
20 s and 60 s).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text

from core.settings import Settings
from core.wechat.simulate import WeChatSimulator
from tests.support.celery_worker import settings_env

ROOT = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"关于 (?P<name>\S+?)老师（[^）]*）的测评 (?P<pos>\d+)/(?P<total>\d+)")
# WeChat: three tries, each given up after 5 s.
TRIES = 3
PATIENCE = 5.0


@dataclass
class Figures:
    students: int
    stall_seconds: float
    seconds: float = 0.0
    messages: int = 0  # messages students sent (each up to three tries)
    tries: int = 0
    timeouts: int = 0  # tries WeChat gave up on
    failure_notices: int = 0  # messages whose three tries all failed
    confirmations: int = 0  # "已提交" replies students saw
    finished: int = 0  # students who reached the end of the survey
    ballots: int = 0
    duplicate_ballots: int = 0
    opened: int = 0  # responses after the round's close
    misfiled_answers: int = 0
    misfiled_responses: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        d = asdict(self)
        d.pop("errors")
        return ", ".join(f"{k}={v}" for k, v in d.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DeployedGunicorn:
    """gunicorn as ``deploy/gunicorn.conf.py`` runs it (the stamping gthread worker)."""

    def __init__(
        self, settings: Settings, log_path: Path, workers: int = 2, threads: int = 4
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/wechat"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
        env.update(settings_env(settings))
        env.update(
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            GUNICORN_LOGLEVEL="warning",
            GUNICORN_CMD_ARGS="--access-logfile=/dev/null",
        )
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                requests.get(self.url, timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start:\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def choices_for(definition) -> dict[str, int]:
    """A choice per question that differs from every question that may come before or after it
    for some class (questions that apply to first- or final-year classes only are skipped for
    the others)."""
    lists = [
        [q.id for q in definition.questions_for(first_year=f, final_year=y)]
        for f, y in ((True, False), (False, False), (False, True))
    ]
    neighbours: dict[str, set[str]] = {}
    for ids in lists:
        for a, b in itertools.pairwise(ids):
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
    out: dict[str, int] = {}
    for q in definition.questions:
        if not q.is_choice:
            continue
        taken = {out[n] for n in neighbours.get(q.id, ()) if n in out}
        out[q.id] = next(c for c in range(1, len(q.options) + 1) if c not in taken)
    return out


class Student:
    def __init__(self, run: StallRun, openid: str) -> None:
        self.run, self.openid = run, openid
        self.http = requests.Session()

    def send(self, content: str) -> str | None:
        """One message as WeChat carries it: the reply text ("" for success), or None after
        three failed tries (WeChat shows its failure notice)."""
        run = self.run
        with run.lock:
            run.figures.messages += 1
            msg_id = next(run.msg_ids)
        query, body = run.sim.text(self.openid, content, msg_id=msg_id)
        for _try in range(TRIES):
            headers = {"Content-Type": "text/xml"}
            if run.proxy_header:
                headers["X-Request-Start"] = f"t={time.time():.3f}"  # as nginx: ${msec}
            with run.lock:
                run.figures.tries += 1
            try:
                r = self.http.post(
                    run.url, params=query, data=body, headers=headers, timeout=PATIENCE
                )
            except requests.RequestException:
                with run.lock:
                    run.figures.timeouts += 1
                continue
            if r.status_code != 200:
                with run.lock:
                    run.figures.errors.append(f"{r.status_code} {r.text[:80]}")
                continue
            return run.sim.read_reply(r.content).get("Content", "")
        with run.lock:
            run.figures.failure_notices += 1
        return None

    def next_text(self, reply: str, last: str) -> str | None:
        from bot.chat import help as texts

        if "你已完成本轮全部测评" in reply:
            return None
        if reply in (texts.BUSY, texts.FAILED, ""):
            return last
        match = HEADER.search(reply)
        if match:
            lines = reply[match.end() :].splitlines()
            question = self.run.by_text.get(lines[1].strip()) if len(lines) > 1 else None
            if question is not None:
                if question.is_choice:
                    return str(self.run.choice[question.id])
                return "跳过" if not question.required else "很好"
        if "确认" in reply and ("请核对" in reply or "请回复「确认」" in reply):
            return "确认"
        return "测评"

    def converse(self, deadline: float) -> None:
        content = "测评"
        while time.monotonic() < deadline:
            reply = self.send(content)
            if reply is None:
                time.sleep(0.5)  # the student reads WeChat's notice, then tries again
                continue
            if reply.startswith("已提交"):
                with self.run.lock:
                    self.run.figures.confirmations += 1
            following = self.next_text(reply, content)
            if following is None:
                with self.run.lock:
                    self.run.figures.finished += 1
                return
            content = following
            time.sleep(self.run.rng.uniform(*self.run.think))  # reading, tapping


class StallRun:
    def __init__(
        self,
        url: str,
        settings: Settings,
        definition,
        proxy_header: bool,
        think: tuple[float, float],
    ) -> None:
        self.url = url
        self.think = think
        self.rng = random.Random(22)
        self.sim = WeChatSimulator(settings.wechat_token)
        self.by_text = {q.text: q for q in definition.questions}
        self.choice = choices_for(definition)
        self.proxy_header = proxy_header
        self.lock = threading.Lock()
        self.msg_ids = itertools.count(int(time.time()) * 1000)
        self.figures: Figures


@contextmanager
def stalled(db_url: str, seconds: float):
    """Hold what every survey message needs for ``seconds``, in a thread; yields at once."""
    started = threading.Event()

    def hold() -> None:
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(
                        text(
                            "LOCK TABLE received_messages, sealed_envelopes, survey_drafts "
                            "IN ACCESS EXCLUSIVE MODE"
                        )
                    )
                else:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                started.set()
                time.sleep(seconds)
                conn.rollback()
        finally:
            started.set()
            engine.dispose()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    started.wait(30)
    try:
        yield
    finally:
        thread.join()


def seed(session, students: int) -> tuple[object, list[str]]:
    """The survey school, a round open, ``students`` bound students in its three classes."""
    from tests.factories import make_student
    from tests.integration.survey_chat import start_round
    from tests.integration.survey_school import bind, make_school

    school = make_school(session)
    start_round(session, school.term, school.definition)
    classes = [school.first_year, school.third_year, school.final_year]
    openids = []
    for i in range(students):
        student = make_student(session, classes=[classes[i % 3]])
        bind(session, student, f"oid-stall-{i}")
        openids.append(f"oid-stall-{i}")
    session.commit()
    return school, openids


def run_stall(
    session,
    settings: Settings,
    log_dir: Path,
    *,
    students: int,
    stall: float,
    stall_after: float = 2.0,
    proxy_header: bool = True,
    workers: int = 2,
    threads: int = 4,
    think: tuple[float, float] = (0.3, 0.8),
    limit: float = 300.0,
) -> Figures:
    """The whole experiment on ``settings``' database; ``session`` is a session on it."""
    from models import Answer, Ballot, Response, SurveyRound
    from tests.integration.survey_chat import close

    school, openids = seed(session, students)
    settings = settings.with_overrides(trusted_proxies=1 if proxy_header else 0)
    server = DeployedGunicorn(settings, log_dir / "gunicorn.log", workers, threads)
    run = StallRun(server.url, settings, school.definition, proxy_header, think)
    run.figures = figures = Figures(students=students, stall_seconds=stall)
    began = time.monotonic()
    deadline = began + limit
    try:
        people = [Student(run, o) for o in openids]
        threads_ = [threading.Thread(target=p.converse, args=(deadline,)) for p in people]
        for t in threads_:
            t.start()
        time.sleep(stall_after)
        if stall > 0:
            with stalled(settings.database_url, stall):
                pass
        for t in threads_:
            t.join(max(1.0, deadline - time.monotonic()))
        figures.seconds = round(time.monotonic() - began, 1)
    finally:
        server.stop()
    session.rollback()
    close(session, settings, session.scalars(select(SurveyRound)).one())
    pairs = session.execute(select(Ballot.student_id, Ballot.teacher_id)).all()
    figures.ballots = len(pairs)
    figures.duplicate_ballots = len(pairs) - len(set(pairs))
    figures.opened = session.scalar(select(func.count()).select_from(Response))
    bad: set[str] = set()
    for response_id, question_id, choice, answer_text in session.execute(
        select(Answer.response_id, Answer.question_id, Answer.choice, Answer.text)
    ):
        expected = run.choice.get(question_id)
        wrong = choice != expected if expected is not None else answer_text is not None
        if wrong:
            figures.misfiled_answers += 1
            bad.add(response_id)
    figures.misfiled_responses = len(bad)
    session.rollback()
    return figures
