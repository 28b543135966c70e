"""A class period's burst (issue 26, item 3): ``--students`` (3,000) students start the survey
within ``--ramp`` seconds (60: the teacher says "open WeChat now"), evenly spread, and then answer
question after question at a person's pace (``--think`` seconds between a reply and the next
message, drawn uniformly), through gunicorn (2 workers) on PostgreSQL and Redis in safe mode, as
``bench/webhook.py`` runs the app.

    python bench/burst.py [--students 3000] [--ramp 60] [--think 4 12] [--clients 3]

Each load process keeps a pool of connections (``--connections`` threads each) and sends every
message at its scheduled time; the latency of a message is counted from that time (a message
that waited for a free connection in the load generator counts its wait too, as a student's
phone would). Printed: messages, p50/p99 of all messages and of the starts (测评), the slowest,
how many took longer than WeChat's 5 s (WeChat would have given up on that try and retried),
and what was stored (one ballot and one envelope per 已提交 reply).

Targets: p99 < 300 ms, no message past 5 s, nothing lost or doubled; exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import secrets
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from common import create_database as scratch_database
from common import drop_database
from webhook import (
    Client,
    Keys,
    app_settings,
    free_port,
    seed,
    start_gunicorn,
    stop,
    stored_counts,
)

TARGET_P99_MS, WECHAT_GIVES_UP_S = 300.0, 5.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    submitted: int = 0
    errors: list[str] = field(default_factory=list)


def next_message(reply: str, rng: random.Random) -> str | None:
    """What a student answers to ``reply`` (webhook.py's survey_thread), None when done."""
    if "请核对关于" in reply:
        return "确认"
    if "请直接回复文字" in reply:
        return "跳过"
    if "的测评" in reply and "/" in reply:
        return rng.choice("12")
    return None


def load_process(
    port: int,
    keys: Keys,
    openids: list[str],
    ramp: float,
    think: tuple[float, float],
    connections: int,
    t0: float,
    seed: int,
) -> Tally:
    """Students of this process: each starts at its slot of the ramp (from ``t0``, wall
    clock), then answers after its think time; messages are sent by ``connections`` threads."""
    rng = random.Random(seed)
    tally = Tally()
    lock = threading.Lock()
    due: list[tuple[float, int, str, str]] = []  # (when, tie, openid, text)
    n = len(openids)
    for i, openid in enumerate(openids):
        heapq.heappush(due, (t0 + ramp * (i + rng.random()) / n, i, openid, "测评"))
    local = threading.local()
    left = [n]
    tie = [n]

    def send(when: float, openid: str, text: str) -> None:
        from webhook import Outcome

        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(port, keys)
        out = Outcome()
        query, body = client.sim.text(openid, text)
        reply = ""
        # WeChat tries a message three times when no answer came (an empty one included: the
        # app answers a request that waited too long with nothing, the retry gets the reply).
        for _try in range(3):
            try:
                reply = client.post(query, body, out)
            except Exception as exc:  # the student gives up; counted, never hangs the run
                out.errors.append(f"{type(exc).__name__}: {exc}")
                local.client = client = Client(port, keys)
                reply = ""
            if reply:
                break
        elapsed = time.time() - when  # from the scheduled time: a wait here counts too
        following = next_message(reply, rng) if reply else None
        with lock:
            tally.latencies.append(elapsed)
            if text == "测评":
                tally.starts.append(elapsed)
            tally.submitted += reply.count("已提交关于")
            tally.errors.extend(out.errors)
            if following is None:
                left[0] -= 1
            else:
                tie[0] += 1
                heapq.heappush(due, (time.time() + rng.uniform(*think), tie[0], openid, following))

    with ThreadPoolExecutor(connections) as pool:
        while True:
            with lock:
                if left[0] == 0:
                    break
                head = due[0] if due else None
            if head is None or head[0] > time.time():
                time.sleep(0.002 if head is None else min(0.01, max(0.0, head[0] - time.time())))
                continue
            with lock:
                when, _t, openid, text = heapq.heappop(due)
            pool.submit(send, when, openid, text)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--ramp", type=float, default=60.0, help="seconds over which they start")
    parser.add_argument(
        "--think", type=float, nargs=2, default=(4.0, 12.0), help="seconds between messages"
    )
    parser.add_argument("--clients", type=int, default=3, help="load-generating processes")
    parser.add_argument("--connections", type=int, default=32, help="connections per process")
    options = parser.parse_args()

    from core.wechat.crypto import random_aes_key

    keys = Keys(token="bursttoken", aes_key=random_aes_key(), appid="wx" + secrets.token_hex(8))
    run = secrets.token_hex(4)
    env = dict(os.environ, **app_settings(keys, f"bzrburst:{run}", f"bzrburst-{run}"))
    from common import delete_redis_keys

    name, url = scratch_database()
    env["BANZHUREN_DATABASE_URL"] = url
    try:
        print(f"seeding {options.students} students in {name} ...", flush=True)
        openids = seed(url, options.students)
        random.Random(1).shuffle(openids)
        port = free_port()
        web = start_gunicorn("bot:create_app()", env, port, None)
        try:
            t0 = time.time() + 2.0  # every load process ready before the first student
            began = time.monotonic()
            with ProcessPoolExecutor(options.clients) as pool:
                futures = [
                    pool.submit(
                        load_process, port, keys, openids[i :: options.clients], options.ramp,
                        tuple(options.think), options.connections, t0, i,
                    )
                    for i in range(options.clients)
                ]  # fmt: skip
                tallies = [f.result() for f in futures]
            seconds = time.monotonic() - began - 2.0
        finally:
            stop(web)
        counts = stored_counts(url)
    finally:
        drop_database(name)
        delete_redis_keys(f"bzrburst:{run}*", f"*bzrburst-{run}*")

    latencies = sorted(x for t in tallies for x in t.latencies)
    starts = sorted(x for t in tallies for x in t.starts)
    submitted = sum(t.submitted for t in tallies)
    errors = [e for t in tallies for e in t.errors]

    def p99(values: list[float]) -> float:
        return statistics.quantiles(values, n=100)[98] * 1000

    late = sum(1 for x in latencies if x > WECHAT_GIVES_UP_S)
    all_p99 = p99(latencies)
    print(
        f"{len(latencies)} messages from {options.students} students in {seconds:.0f} s "
        f"(ramp {options.ramp:g} s, think {options.think[0]:g}-{options.think[1]:g} s): "
        f"{len(latencies) / seconds:.0f} msg/s on average"
    )
    print(
        f"all: p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {all_p99:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms; starts (测评): p50 "
        f"{statistics.median(starts) * 1000:.0f} ms, p99 {p99(starts):.0f} ms; past 5 s: {late}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"stored: {counts['ballots']} ballots ({counts['distinct_ballots']} distinct), "
        f"{counts['responses']} envelopes; {submitted} 已提交 replies; {len(errors)} errors"
    )
    problems = []
    if all_p99 >= TARGET_P99_MS:
        problems.append(f"p99 {all_p99:.0f} >= {TARGET_P99_MS:.0f} ms")
    if late:
        problems.append(f"{late} messages past WeChat's 5 s")
    if errors:
        problems.append(f"{len(errors)} failed requests, e.g. {errors[0]}")
    if not (
        counts["ballots"] == counts["distinct_ballots"] == counts["responses"] == submitted
        and submitted == options.students
    ):
        problems.append(
            f"answers lost or doubled: {options.students} students, {submitted} confirmed, "
            f"{counts['ballots']} ballots, {counts['responses']} envelopes"
        )
    print("targets met" if not problems else "MISSED: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
