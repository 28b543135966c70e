"""The database floor of a webhook message: what PostgreSQL and its Python driver cost for the
statements the webhook's guarantees need (issue 17), with nothing of banzhuren around them.

    python bench/db_floor.py [--seconds 6] [--processes 2] [--threads 4] [--no-grant]

Each of ``processes`` x ``threads`` (the gunicorn setting of bench/webhook.py: 2 workers of 4
threads) loops on its own psycopg connection over one transaction per "message", the shape of
a survey answer in bot/wechat/webhook.py: the per-sender advisory lock (with its lock_timeout),
one read joining the earlier reply, the sealed draft and the contact's allowance, the upsert of
the customer-service grant every message carries since issue 23 (``--no-grant`` leaves it out,
as before), the upsert of a 4 KiB sealed draft, the upsert of the reply record, and the commit (a WAL flush: the answer is
durable before its reply). Printed: transactions a second, the client's CPU per transaction
(psycopg's Python and the socket calls) and the PostgreSQL backends' CPU per transaction.

These figures bound what any design that keeps the guarantees can reach on this machine;
bench/README.md compares them with the webhook's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import threading
import time

from common import create_database, drop_database, pg_backends_cpu

DRAFT = secrets.token_bytes(4096)
SCHEMA = (
    "CREATE TABLE drafts (openid text PRIMARY KEY, sealed bytea NOT NULL)",
    "CREATE TABLE received (key text PRIMARY KEY, reply text, done boolean NOT NULL)",
    "CREATE TABLE contacts (openid text PRIMARY KEY, last_interaction_at timestamptz NOT NULL, "
    "grant_kind text, spent integer NOT NULL DEFAULT 0)",
)
LOCK = (
    "SELECT set_config('lock_timeout', '3500ms', true), "
    "pg_advisory_xact_lock(1, hashtext(%(openid)s))"
)
READ = (
    "SELECT r.reply, d.sealed, c.last_interaction_at, c.grant_kind, c.spent "
    "FROM (SELECT %(openid)s::text AS openid) AS m "
    "LEFT JOIN received r ON r.key = %(key)s AND r.done "
    "LEFT JOIN drafts d ON d.openid = m.openid "
    "LEFT JOIN contacts c ON c.openid = m.openid"
)
SAVE_DRAFT = (
    "INSERT INTO drafts (openid, sealed) VALUES (%(openid)s, %(sealed)s) "
    "ON CONFLICT (openid) DO UPDATE SET sealed = excluded.sealed"
)
GRANT = (
    "INSERT INTO contacts (openid, last_interaction_at, grant_kind, spent) "
    "VALUES (%(openid)s, now(), 'message', 0) ON CONFLICT (openid) DO UPDATE SET "
    "last_interaction_at = excluded.last_interaction_at, grant_kind = excluded.grant_kind, "
    "spent = 0"
)
RECORD = (
    "INSERT INTO received (key, reply, done) VALUES (%(key)s, %(reply)s, true) "
    "ON CONFLICT (key) DO UPDATE SET reply = excluded.reply, done = true"
)


def libpq_dsn(url: str) -> str:
    """psycopg's connection string for a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://")


GRANTS = True  # --no-grant: the message without the allowance's upsert


def message(conn, openid: str, n: int) -> None:
    params = {"openid": openid, "key": f"{openid}:{n}", "sealed": DRAFT, "reply": "第3题" * 60}
    conn.execute(LOCK, params)
    conn.execute(READ, params).fetchall()
    if GRANTS:
        conn.execute(GRANT, params)
    conn.execute(SAVE_DRAFT, params)
    conn.execute(RECORD, params)
    conn.commit()


def worker(
    dsn: str, index: int, threads: int, seconds: float, signals, results, grants: bool = True
) -> None:
    """One process of ``threads`` connections: warm up, say so, run on ``go`` for ``seconds``,
    report, and keep the connections (their backends' CPU is read) until ``release``."""
    import psycopg

    global GRANTS
    GRANTS = grants

    ready, go, release = signals
    counts = [0] * threads
    warm = threading.Barrier(threads + 1)
    finished = threading.Barrier(threads + 1)

    def run(t: int) -> None:
        with psycopg.connect(dsn) as conn:
            message(conn, f"o{index}-{t}", -1)
            warm.wait()
            go.wait()
            stop = time.monotonic() + seconds
            n = 0
            while time.monotonic() < stop:
                message(conn, f"o{index}-{t}", n)
                n += 1
            counts[t] = n
            finished.wait()
            release.wait()

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    warm.wait()
    ready.put(index)
    go.wait()
    cpu0 = time.process_time()
    finished.wait()
    results.put((sum(counts), time.process_time() - cpu0))
    for thread in pool:
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-grant", action="store_true", help="without the allowance's upsert")
    args = parser.parse_args()

    import psycopg

    name, url = create_database(prefix="banzhuren_dbfloor")
    try:
        dsn = libpq_dsn(url)
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in SCHEMA:
                conn.execute(statement)
        ready, go, release = (
            multiprocessing.Queue(),
            multiprocessing.Event(),
            multiprocessing.Event(),
        )
        results: multiprocessing.Queue = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(
                target=worker,
                args=(
                    dsn,
                    i,
                    args.threads,
                    args.seconds,
                    (ready, go, release),
                    results,
                    not args.no_grant,
                ),
            )
            for i in range(args.processes)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get()
        pg_before = pg_backends_cpu(url)
        go.set()
        outcomes = [results.get() for _ in procs]
        pg_cpu = pg_backends_cpu(url) - pg_before
        release.set()
        for proc in procs:
            proc.join()
        done = sum(n for n, _ in outcomes)
        client_cpu = sum(cpu for _, cpu in outcomes)
        print(
            f"{done / args.seconds:,.0f} transactions/s ({args.processes} processes x "
            f"{args.threads} threads, {args.seconds:g} s"
            f"{', without the grant upsert' if args.no_grant else ''}); CPU per transaction: client "
            f"{1000 * client_cpu / done:.2f} ms, PostgreSQL {1000 * pg_cpu / done:.2f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    finally:
        drop_database(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
