"""Soak: minutes of steady survey and work-log traffic through gunicorn (2 workers) with a
Celery worker, on PostgreSQL and Redis, in safe mode. Per window it prints the requests,
errors (non-200, 系统正忙, 出错), p50/p99 latency and the resident memory (RSS) of every
gunicorn and Celery process, so that a leak or a slow drift shows.

    python bench/soak.py [--minutes 5] [--rate 40] [--window 30] [--students 600]

Students answer the satisfaction survey one message at a time (a few messages re-sent as
WeChat retries them); head teachers send a log line, 我的日志 or 统计 now and then (about a
fifth of the traffic). The load is paced at ``--rate`` messages a second by ``--threads``
client threads. A scratch database and a Redis prefix of its own, dropped afterwards. At the
end: what was stored (one ballot and one response per 已提交, no duplicates). Exit status 1 on
any error or lost/doubled answer.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import REDIS_URL, ROOT, create_database, delete_redis_keys, drop_database
from webhook import (  # bench/webhook.py: the same setup as the load benchmark
    Client,
    Keys,
    Outcome,
    free_port,
    seed,
    start_gunicorn,
    stop,
    stored_counts,
)

from bot.demo.fake_wechat import FakeWeChatApi

LOG_LINES = (
    "班会 学风建设主题班会，全班到齐",
    "走访寝室 6号楼302 卫生良好",
    "参加例会 党总支工作例会",
    "我的日志",
    "统计",
)


@dataclass
class Window:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    busy: int = 0


@dataclass
class Shared:
    lock: threading.Lock = field(default_factory=threading.Lock)
    windows: dict[int, Window] = field(default_factory=dict)
    submitted: int = 0
    retry_mismatches: int = 0
    students: list[str] = field(default_factory=list)
    teachers: list[str] = field(default_factory=list)


def bind_teachers(url: str) -> list[str]:
    """Bind every appointed head teacher of the seeded school; their openids."""
    import core.db
    from models import Appointment, WeChatBinding

    core.db.configure(url)
    openids = []
    with core.db.session_scope() as s:
        ids = sorted({a.teacher_id for a in s.query(Appointment)})
        for teacher_id in ids:
            openid = f"obenchT{teacher_id:021d}"
            s.add(WeChatBinding(openid=openid, teacher_id=teacher_id))
            openids.append(openid)
    core.db.dispose()
    return openids


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return sorted(out)


def start_worker(env: dict[str, str], queue: str, log: Path) -> subprocess.Popen:
    out = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.main", "worker", "-Q", queue,
         "--pool", "prefork", "-c", "1", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle"],
        env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    out.close()
    return process


def client_thread(port: int, keys: Keys, shared: Shared, pace: float, until: float, seed: int):
    rng = random.Random(seed)
    client = Client(port, keys)
    scratch = Outcome()
    next_at = time.monotonic()
    conversation: tuple[str, str] | None = None  # (openid, next text) of this thread's student
    while time.monotonic() < until:
        next_at += pace
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if rng.random() < 0.2 and shared.teachers:
            openid, text = rng.choice(shared.teachers), rng.choice(LOG_LINES)
        else:
            if conversation is None:
                with shared.lock:
                    if not shared.students:
                        continue
                    conversation = (shared.students.pop(), "测评")
            openid, text = conversation
        began = time.perf_counter()
        errors_before = len(scratch.errors)
        try:
            reply = client.say(openid, text, scratch, rng, retry=0.02)
        except Exception as exc:  # a refused connection counts as an error, not a crash
            reply = f"<{type(exc).__name__}>"
            scratch.errors.append(reply)
            client = Client(port, keys)
        elapsed = time.perf_counter() - began
        window = int(time.monotonic() // shared_window)
        with shared.lock:
            w = shared.windows.setdefault(window, Window())
            w.latencies.append(elapsed)
            if len(scratch.errors) > errors_before or "出错" in reply:
                w.errors += 1
            if "系统正忙" in reply:
                w.busy += 1
            shared.retry_mismatches += scratch.retry_mismatches
            scratch.retry_mismatches = 0
            shared.submitted += reply.count("已提交关于")
        if conversation is not None and openid == conversation[0]:
            if "你已完成本轮全部测评" in reply or "没有需要" in reply:
                conversation = None
            elif "请核对关于" in reply:
                conversation = (openid, "确认")
            elif "请直接回复文字" in reply:
                conversation = (openid, "跳过")
            elif "的测评" in reply and "/" in reply:
                conversation = (openid, rng.choice("12"))
            elif "系统正忙" in reply or "出错" in reply:
                pass  # send the same again, as a person would
            else:
                conversation = None  # something unexpected: leave this student


shared_window = 30.0


def main() -> int:
    global shared_window
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=40.0, help="messages a second, in all")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--window", type=float, default=30.0, help="seconds a line of figures")
    parser.add_argument("--students", type=int, default=600)
    options = parser.parse_args()
    shared_window = options.window

    from core.surveys.seal_key import generate_key
    from core.wechat.crypto import random_aes_key

    keys = Keys(token="soaktoken", aes_key=random_aes_key(), appid="wx" + secrets.token_hex(8))
    run = secrets.token_hex(4)
    queue = f"bzrsoak-{run}"
    # What the worker sends (反馈 forwarded to counsellors) goes to the one fake WeChat API.
    fake = FakeWeChatApi().start()
    env = dict(
        os.environ,
        BANZHUREN_REDIS_URL=REDIS_URL,
        BANZHUREN_REDIS_PREFIX=f"bzrsoak:{run}",
        BANZHUREN_CELERY_QUEUE=queue,
        BANZHUREN_SECRET_KEY=secrets.token_hex(16),
        BANZHUREN_WECHAT_TOKEN=keys.token,
        BANZHUREN_WECHAT_AES_KEY=keys.aes_key,
        BANZHUREN_WECHAT_APPID=keys.appid,
        BANZHUREN_WECHAT_SECRET="soaksecret",
        BANZHUREN_WECHAT_API_BASE=fake.base_url,
        BANZHUREN_SEAL_KEY=generate_key(),
    )
    name, url = create_database()
    env["BANZHUREN_DATABASE_URL"] = url
    shared = Shared()
    rows: list[str] = []
    problems: list[str] = []
    try:
        print(f"seeding {options.students} students in {name} ...", flush=True)
        shared.students = list(reversed(seed(url, options.students)))
        shared.teachers = bind_teachers(url)
        port = free_port()
        web = start_gunicorn("bot:create_app()", env, port, None)
        worker = start_worker(env, queue, Path(f"/tmp/bzrsoak-{run}-worker.log"))
        try:
            until = time.monotonic() + options.minutes * 60
            pace = options.threads / options.rate
            threads = [
                threading.Thread(
                    target=client_thread, args=(port, keys, shared, pace, until, i), daemon=True
                )
                for i in range(options.threads)
            ]
            for t in threads:
                t.start()
            header = (
                f"{'t (s)':>6} {'requests':>8} {'errors':>6} {'busy':>5} {'p50 ms':>7} "
                f"{'p99 ms':>7}  RSS MB: gunicorn master/workers; celery parent/pool"
            )
            print(header, flush=True)
            rows.append(header)
            started = time.monotonic()
            last = int(started // shared_window)
            while any(t.is_alive() for t in threads):
                time.sleep(1.0)
                current = int(time.monotonic() // shared_window)
                if current != last or not any(t.is_alive() for t in threads):
                    with shared.lock:
                        w = shared.windows.pop(last, Window())
                    last = current
                    lat = sorted(w.latencies) or [0.0]
                    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                    web_rss = "/".join(f"{rss_mb(p):.0f}" for p in [web.pid, *children(web.pid)])
                    worker_rss = "/".join(
                        f"{rss_mb(p):.0f}" for p in [worker.pid, *children(worker.pid)]
                    )
                    row = (
                        f"{time.monotonic() - started:6.0f} {len(w.latencies):8d} {w.errors:6d} "
                        f"{w.busy:5d} {statistics.median(lat) * 1000:7.1f} {p99 * 1000:7.1f}  "
                        f"{web_rss}; {worker_rss}"
                    )
                    print(row, flush=True)
                    rows.append(row)
                    if w.errors:
                        problems.append(f"{w.errors} errors in a window")
        finally:
            stop(worker)
            stop(web)
        counts = stored_counts(url)
    finally:
        fake.stop()
        drop_database(name)
        delete_redis_keys(f"bzrsoak:{run}*", f"*{queue}*")
    print(
        f"stored: {counts['ballots']} ballots ({counts['distinct_ballots']} distinct), "
        f"{counts['responses']} responses, {counts['answers']} answers; "
        f"{shared.submitted} 已提交 replies; {shared.retry_mismatches} retries answered otherwise; "
        f"{fake.count()} messages reached the fake WeChat API"
    )
    if not (counts["ballots"] == counts["responses"] == shared.submitted):
        problems.append("answers lost or doubled")
    if counts["distinct_ballots"] != counts["ballots"] or shared.retry_mismatches:
        problems.append("a message was handled twice")
    print("ok" if not problems else "PROBLEMS: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
