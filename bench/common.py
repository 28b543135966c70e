"""What the benchmarks share: the repository on the import path, the local PostgreSQL and Redis
they run against, scratch databases, and latency figures.

A benchmark is run as ``python bench/<name>.py``, so this folder is on ``sys.path`` and
``from common import ...`` finds this module; importing it puts the repository root there too.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get(
    "BANZHUREN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BANZHUREN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url``."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _admin_execute(admin_url: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def create_database(admin_url: str = PG_ADMIN, prefix: str = "banzhuren_bench") -> tuple[str, str]:
    """A new empty PostgreSQL database ``<prefix>_<random>``: its name and URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    return name, database_url(admin_url, name)


def drop_database(name: str, admin_url: str = PG_ADMIN) -> None:
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_redis_keys(*patterns: str) -> None:
    """Delete the keys matching ``patterns`` (a run's key prefix, its Celery queue)."""
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    try:
        left = [key for pattern in patterns for key in r.scan_iter(pattern)]
        if left:
            r.delete(*left)
    finally:
        r.close()


@contextmanager
def scratch_database(admin_url: str = PG_ADMIN, prefix: str = "banzhuren_bench") -> Iterator[str]:
    """The URL of a new empty PostgreSQL database, dropped (connections and all) afterwards."""
    name, url = create_database(admin_url, prefix)
    try:
        yield url
    finally:
        drop_database(name, admin_url)


def stats(samples: list[float]) -> str:
    """Median, p95 and maximum of ``samples`` (seconds), in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms"


def time_requests(get: Callable[[], int], n: int, warm_up: int = 3) -> list[float]:
    """Seconds each of ``n`` calls of ``get`` took, after ``warm_up`` untimed ones; every call
    must answer 200 (``get`` returns the status code)."""
    for _ in range(warm_up):
        assert get() == 200
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        status = get()
        samples.append(time.perf_counter() - t0)
        assert status == 200
    return samples


def pg_backends_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving the bench database (the web
    workers' pooled connections, opened during the run)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN)
    with engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
            {"d": url.rsplit("/", 1)[1]},
        ).scalars()
        total = sum(cpu_seconds(only_pid=pid) for pid in pids)
    engine.dispose()
    return total


def cpu_seconds(
    root_pid: int | None = None, name: str | None = None, only_pid: int | None = None
) -> float:
    """User+system CPU seconds of ``root_pid`` and its children, or of every process whose
    command is ``name`` (e.g. postgres, redis-server), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        if (
            (root_pid is not None and root_pid in (pid, ppid))
            or (name and comm.startswith(name))
            or pid == only_pid
        ):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total
