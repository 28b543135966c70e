"""Fan-out (issue 26, item 1): ``round open`` for a school of ``--students`` (30,000) bound
students, every notice delivered by a real Celery worker to the fake WeChat API
(``bot/demo/fake_wechat.py``) answering each call ``--latency`` (0.1) seconds late over
keep-alive connections, against a floor measured in the same run.

    python bench/fanout.py [--students 30000] [--latency 0.1] [--processes 2] [--runs 1]

1. Seeds a scratch PostgreSQL database with COPY (classes of 30, one head teacher each, every
   student bound; nobody wrote lately, so every notice is a template message).
2. Starts ``celery worker --pool prefork -c <processes>``; each process sends a batch of
   ``core.outbox.BATCH`` rows on ``core.fanout.BATCH_THREADS`` threads.
3. Opens the round as ``banzhuren round open`` does (``core.surveys.rounds.open_round``: the
   notices are queued in its transaction and handed to the worker after the commit) and waits
   until every row is settled. Timed from the start of the command to the last row settled.
4. The floor: ``processes`` x ``BATCH_THREADS`` threads, each with a ``requests.Session``,
   sending the same number of the same template calls to the same fake; nothing stored.
5. Counts what the fake received per student: doubles and lost.

Targets: all notices within 180 s, >= 0.6 of the floor's rate, 0 doubles, 0 lost; exit status
1 otherwise. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import multiprocessing
import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from common import REDIS_URL, ROOT, delete_redis_keys, drop_database
from common import create_database as scratch_database

TERM = "2026-2027-1"
CLASS_SIZE = 30
DEPARTMENTS = 20
TARGET_SECONDS, TARGET_RATIO = 180.0, 0.6


def seed(url: str, students: int) -> None:
    """A migrated school: classes of CLASS_SIZE with one appointed head teacher each, every
    student bound to an openid ``ofan<student id>``, the satisfaction survey registered."""
    import psycopg

    import core.db
    from core.surveys.rounds import register_survey
    from models import Term
    from models.migrate import upgrade
    from surveys.definition import load_survey_file

    upgrade(url)
    classes = -(-students // CLASS_SIZE)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cur = conn.cursor()
        with cur.copy("COPY departments (id, name) FROM STDIN") as cp:
            for d in range(1, DEPARTMENTS + 1):
                cp.write_row((d, f"第{d}党总支"))
        with cur.copy(
            "COPY classes (id, code, name, department_id, kind, entry_year, years) FROM STDIN"
        ) as cp:
            for c in range(1, classes + 1):
                cp.write_row((c, f"C{c:05d}", f"班级{c}", 1 + c % DEPARTMENTS, "admin", 2025, 4))
        with cur.copy(
            "COPY teachers (id, staff_no, name, department_id, role, binding_code) FROM STDIN"
        ) as cp:
            for t in range(1, classes + 1):
                cp.write_row(
                    (t, f"T{t:05d}", f"教师{t}", 1 + t % DEPARTMENTS, "head_teacher", "000000")
                )
        with cur.copy(
            "COPY appointments (id, teacher_id, class_id, start_date, end_date, trained, status)"
            " FROM STDIN"
        ) as cp:
            for t in range(1, classes + 1):
                cp.write_row((t, t, t, dt.date(2026, 9, 1), dt.date(2027, 9, 1), True, "appointed"))
        with cur.copy("COPY students (id, student_no, name, binding_code) FROM STDIN") as cp:
            for s in range(1, students + 1):
                cp.write_row((s, f"S{s:07d}", f"学生{s}", "000000"))
        with cur.copy("COPY class_members (class_id, student_id) FROM STDIN") as cp:
            for s in range(1, students + 1):
                cp.write_row((1 + (s - 1) // CLASS_SIZE, s))
        with cur.copy("COPY wechat_bindings (openid, student_id) FROM STDIN") as cp:
            for s in range(1, students + 1):
                cp.write_row((f"ofan{s:010d}", s))
        for table in ("departments", "classes", "teachers", "appointments", "students"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    core.db.configure(url)
    with core.db.session_scope(write=True) as s:
        s.add(Term(code=TERM, start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 1, 20)))
        s.flush()
        register_survey(s, load_survey_file(ROOT / "surveys" / "satisfaction.yaml"))
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.autocommit = True
        conn.execute("ANALYZE")


def start_worker(env: dict[str, str], processes: int, log: Path) -> subprocess.Popen:
    out = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.main", "worker",
         "-Q", env["BANZHUREN_CELERY_QUEUE"], "--pool", "prefork", "-c", str(processes),
         "-n", f"fanout-{secrets.token_hex(3)}@localhost", "--loglevel", os.environ.get("FANOUT_LOGLEVEL", "WARNING"),
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    out.close()
    from core.celery_app import celery

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("celery worker exited:\n" + log.read_text()[-3000:])
        if celery.control.ping(timeout=1.0):
            return process
    raise SystemExit("celery worker did not answer a ping:\n" + log.read_text()[-3000:])


def stop(process: subprocess.Popen) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def unsettled(url: str) -> int:
    from sqlalchemy import func, select

    import core.db
    from models.messaging import OutboundMessage

    with core.db.SessionFactory() as s:
        return s.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.sent_at.is_(None),
                OutboundMessage.failed_at.is_(None),
                OutboundMessage.maybe_delivered_at.is_(None),
            )
        )


def open_round_and_wait(url: str, students: int, limit: float) -> tuple[float, float, int]:
    """Seconds to queue the notices (the command), seconds until every row was settled, and
    rows left unsettled at the time limit."""
    import core.db
    from core.celery_app import configure_celery
    from core.settings import load_settings
    from core.surveys.rounds import open_round

    configure_celery(load_settings())
    began = time.monotonic()
    with core.db.session_scope(write=True) as s:
        open_round(s, TERM, "satisfaction", today=dt.date.today())
    queued = time.monotonic() - began
    left = students
    while time.monotonic() - began < limit:
        left = unsettled(url)
        if left == 0:
            break
        time.sleep(0.5)
    return queued, time.monotonic() - began, left


# --- the floor ---------------------------------------------------------------------------------


def floor_process(base: str, token: str, openids: list[str], threads: int) -> int:
    """``threads`` threads, each with a session of its own, sending one template call per
    openid; returns how many WeChat accepted."""
    import requests

    local = threading.local()

    def one(openid: str) -> bool:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        body = {
            "touser": openid,
            "template_id": "TPL-1",
            "data": {"thing1": {"value": "满意度测评"}, "time2": {"value": "2026-2027-1"}},
        }
        r = http.post(
            f"{base}cgi-bin/message/template/send",
            params={"access_token": token},
            json=body,
            timeout=10,
        )
        return r.json().get("errcode") == 0

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, openids))


def floor(base: str, openids: list[str], processes: int, threads: int) -> tuple[float, int]:
    import requests

    token = requests.get(
        f"{base}cgi-bin/token",
        params={"grant_type": "client_credential", "appid": "x", "secret": "x"},
        timeout=10,
    ).json()["access_token"]
    began = time.monotonic()
    # Spawned, not forked: this process runs the fake's server threads and Celery's pools.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        chunks = [openids[i::processes] for i in range(processes)]
        accepted = sum(pool.map(floor_process, [base] * processes, [token] * processes, chunks,
                                [threads] * processes))  # fmt: skip
    return time.monotonic() - began, accepted


def one_run(options: argparse.Namespace) -> int:
    from bot.demo.fake_wechat import FakeWeChatApi
    from core.fanout import BATCH_THREADS
    from core.surveys.seal_key import generate_key

    api = FakeWeChatApi(latency=options.latency, keep_alive=True).start()
    run = secrets.token_hex(4)
    env = dict(
        os.environ,
        BANZHUREN_REDIS_URL=REDIS_URL,
        BANZHUREN_REDIS_PREFIX=f"bzrfan:{run}",
        BANZHUREN_CELERY_QUEUE=f"bzrfan-{run}",
        BANZHUREN_SECRET_KEY=secrets.token_hex(16),
        BANZHUREN_SEAL_KEY=generate_key(),
        BANZHUREN_WECHAT_TOKEN="fantoken",
        BANZHUREN_WECHAT_APPID="wx" + secrets.token_hex(8),
        BANZHUREN_WECHAT_SECRET=secrets.token_hex(16),
        BANZHUREN_WECHAT_API_BASE=api.url,
        BANZHUREN_WECHAT_TEMPLATE_REMIND="TPL-1",
    )
    name, url = scratch_database(prefix="banzhuren_fanout")
    env["BANZHUREN_DATABASE_URL"] = url
    os.environ.update(env)
    worker = None
    try:
        t = time.monotonic()
        seed(url, options.students)
        print(f"seeded {options.students} students in {time.monotonic() - t:.0f} s", flush=True)
        from core.celery_app import configure_celery
        from core.settings import load_settings

        configure_celery(load_settings())
        worker = start_worker(env, options.processes, Path(f"/tmp/fanout-{run}.log"))
        queued, seconds, left = open_round_and_wait(url, options.students, options.time_limit)
        received = collections.Counter(m["touser"] for m in api.templates) + collections.Counter(
            m["touser"] for m in api.sent
        )
        sends = api.send_requests
        floor_seconds, accepted = floor(
            api.url,
            [f"ofan{s:010d}" for s in range(1, options.students + 1)],
            options.processes,
            BATCH_THREADS,
        )
    finally:
        if worker is not None:
            stop(worker)
        api.stop()
        import core.db

        core.db.dispose()
        drop_database(name)
        delete_redis_keys(f"bzrfan:{run}*", f"*bzrfan-{run}*")

    n = options.students
    doubles = sum(c - 1 for c in received.values() if c > 1)
    lost = n - len(received)
    rate, floor_rate = n / seconds, n / floor_seconds
    ratio = rate / floor_rate
    print(
        f"round open, {n} students: notices queued in {queued:.1f} s, all settled in "
        f"{seconds:.1f} s: {rate:.0f} msg/s; floor ({options.processes} x {BATCH_THREADS} "
        f"threads, nothing stored) {floor_rate:.0f} msg/s ({accepted} accepted); ratio "
        f"{ratio:.2f}; {sends} send calls, {doubles} doubles, {lost} lost, {left} unsettled; "
        f"latency {options.latency * 1000:.0f} ms; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    problems = []
    if seconds > TARGET_SECONDS or left:
        problems.append(f"{seconds:.0f} s > {TARGET_SECONDS:.0f} s")
    if ratio < TARGET_RATIO:
        problems.append(f"ratio {ratio:.2f} < {TARGET_RATIO}")
    if doubles or lost:
        problems.append(f"{doubles} doubles, {lost} lost")
    print("targets met" if not problems else "MISSED: " + "; ".join(problems), flush=True)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per WeChat call")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (prefork)")
    parser.add_argument("--time-limit", type=float, default=600)
    parser.add_argument("--runs", type=int, default=1)
    options = parser.parse_args()
    if options.runs == 1:
        return one_run(options)
    # Each run in a process of its own: Celery's control connection, the engine and the fake
    # of one run must not leak into the next (a second run in-process never saw its worker).
    args = [sys.executable, __file__, "--students", str(options.students), "--latency",
            str(options.latency), "--processes", str(options.processes), "--time-limit",
            str(options.time_limit)]  # fmt: skip
    missed = sum(subprocess.run(args, check=False).returncode != 0 for _ in range(options.runs))
    print(f"{options.runs - missed} of {options.runs} runs met the targets", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
