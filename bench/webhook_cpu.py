"""CPU per survey message in the web process, measured in-process (issue 26 item 2).

    python bench/webhook_cpu.py [--students 40] [--warm 8] [--runs 1] [--profile [--dump FILE]]

``bench/webhook.py`` measures the whole stack under load; this measures only what the app's
WSGI callable costs per message, single-threaded, so that a change to the webhook path can be
judged without a gunicorn run (and without disturbing another benchmark on the machine). It
seeds a scratch PostgreSQL database with ``bench/webhook.py``'s school, configures the app as
that benchmark does (safe mode, Redis, the same settings), then has each student run the
survey dialogue (测评, one message a question, 确认) by calling the app directly with
encrypted requests. The first ``--warm`` students warm the process up (imports, caches,
connections); then each of ``--runs`` measures ``--students`` others: process CPU seconds spent
inside the WSGI call (building the request and reading the reply are not counted), printed per
message, with the median of the runs. ``--profile`` prints cProfile's top 30 (CPU time) by
cumulative and by own time of the measured WSGI calls (the CPU figure is then inflated);
``--dump FILE`` also keeps its raw data. Exit status 1 when a request was not answered 200.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable

from common import create_database as scratch_database
from common import delete_redis_keys, drop_database
from webhook import Keys, app_settings, seed


def _environ(query: dict, body: bytes) -> dict:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path="/wechat", method="POST", query_string=query, data=body, content_type="text/xml"
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


class Caller:
    """Calls the WSGI app with a simulated WeChat request; counts CPU inside the call only."""

    def __init__(self, app: Callable, keys: Keys) -> None:
        from core.wechat.simulate import WeChatSimulator

        self.app = app
        self.sim = WeChatSimulator(keys.token, keys.aes_key, keys.appid, mode="safe")
        self.cpu = 0.0
        self.count = 0
        self.profiler: cProfile.Profile | None = None
        self.errors: list[str] = []

    def say(self, openid: str, text: str) -> str:
        environ = _environ(*self.sim.text(openid, text))
        status: list[str] = []

        def start_response(s: str, headers: list, exc_info=None) -> Callable:
            status.append(s)
            return lambda _data: None

        if self.profiler:
            self.profiler.enable()
        began = time.process_time()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        self.cpu += time.process_time() - began
        if self.profiler:
            self.profiler.disable()
        self.count += 1
        if not status[0].startswith("200"):
            self.errors.append(f"{status[0]}: {body[:100]!r}")
            return ""
        return self.sim.read_reply(body).get("Content", "")


def dialogue(caller: Caller, openid: str, rng: random.Random) -> int:
    """One student's whole survey; returns how many submissions were confirmed."""
    submitted = 0
    reply = caller.say(openid, "测评")
    for _ in range(60):
        submitted += reply.count("已提交关于")
        if "请核对关于" in reply:
            reply = caller.say(openid, "确认")
        elif "请直接回复文字" in reply:
            reply = caller.say(openid, "跳过")
        elif "的测评" in reply and "/" in reply:
            reply = caller.say(openid, rng.choice("12"))
        else:
            break
    return submitted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40, help="measured students")
    parser.add_argument("--warm", type=int, default=8, help="students run before measuring")
    parser.add_argument("--runs", type=int, default=1, help="measurements over fresh students")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured messages")
    parser.add_argument(
        "--dump", metavar="FILE", help="with --profile: also save the raw cProfile data to FILE"
    )
    options = parser.parse_args()

    from core.wechat.crypto import random_aes_key

    keys = Keys(token="benchtoken", aes_key=random_aes_key(), appid="wx" + secrets.token_hex(8))
    run = secrets.token_hex(4)
    name, url = scratch_database(prefix="banzhuren_webhook_cpu")
    # The same settings as bench/webhook.py gives the app under gunicorn.
    os.environ.update(app_settings(keys, f"bzrbench:{run}", f"bzrbench-{run}"))
    os.environ["BANZHUREN_DATABASE_URL"] = url
    try:
        openids = seed(url, options.warm + options.runs * options.students)
        from bot import create_app

        caller = Caller(create_app(), keys)
        rng = random.Random(1)
        for openid in openids[: options.warm]:
            dialogue(caller, openid, rng)
        per_message = []
        for n in range(options.runs):
            caller.cpu, caller.count = 0.0, 0
            chunk = openids[options.warm + n * options.students :][: options.students]
            # CPU time, not wall time: waits on PostgreSQL and Redis are not the web process's cost.
            profiler = cProfile.Profile(time.process_time) if options.profile else None
            caller.profiler = profiler
            submitted = sum(dialogue(caller, openid, rng) for openid in chunk)
            per_message.append(caller.cpu * 1000 / caller.count)
            print(
                f"run {n + 1}: {caller.count} messages, {submitted} submissions, "
                f"{per_message[-1]:.3f} ms CPU per message",
                flush=True,
            )
            if profiler:
                if options.dump:
                    profiler.dump_stats(options.dump)
                for order in ("cumulative", "tottime"):
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
                    print(out.getvalue())
        if caller.errors:
            print(f"{len(caller.errors)} failed requests, e.g. {caller.errors[0]}")
        if len(per_message) > 1:
            print(f"median {statistics.median(per_message):.3f} ms CPU per message")
        return 1 if caller.errors else 0
    finally:
        import core.db

        core.db.dispose()
        drop_database(name)
        delete_redis_keys(f"bzrbench:{run}*", f"*bzrbench-{run}*")


if __name__ == "__main__":
    sys.exit(main())
