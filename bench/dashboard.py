"""How long the dashboard's term overview takes on a term of 3,000 students (target: under
300 ms), on SQLite and on PostgreSQL, in-process and over real HTTP.

    python bench/dashboard.py [--students 3000] [--requests 50] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Seeds a whole term in bulk (``tests/support/dashboard_seed.py``: departments, classes,
students, head teachers, appointments, a survey round with answers, work logs, meetings and
evaluations) into a fresh migrated database, logs in as a Student Affairs user, warms up, then
times ``GET /dashboard/`` (and, for comparison, the teachers table, a teacher page and the xlsx
download). PostgreSQL runs in a scratch database ``banzhuren_bench_dash_<pid>``, dropped after.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core.db
from bot import create_app
from core.settings import Settings
from models import UserRole
from models.migrate import upgrade
from tests.support.dashboard import PASSWORD, csrf_from, login, make_user
from tests.support.dashboard_seed import seed_school

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 300


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms"


def run(url: str, students: int, n: int) -> float:
    """Seed, then time the pages; returns the overview's median over HTTP in ms."""
    upgrade(url)
    core.db.configure(url)
    started = time.perf_counter()
    with core.db.SessionFactory() as session:
        school = seed_school(session, students=students)
        make_user(session, "bench", UserRole.AFFAIRS)
        teacher_id = school.teacher_ids[0]
    print(f"  seeded {students} students in {time.perf_counter() - started:.1f} s")

    app = create_app(Settings(database_url=url, secret_key="bench"))
    term = school.term_code
    paths = {
        "overview": f"/dashboard/?term={term}",
        "teachers table": f"/dashboard/teachers?term={term}",
        "teacher page": f"/dashboard/teachers/{teacher_id}?term={term}",
        "xlsx download": f"/dashboard/download/evaluation.xlsx?term={term}",
    }

    client = app.test_client()
    assert login(client, "bench").status_code == 302
    for name, path in paths.items():
        for _ in range(3):
            assert client.get(path).status_code == 200
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            response = client.get(path)
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200
        print(f"  in-process {name:15s} {stats(samples)}")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    overview_median = 0.0
    try:
        with requests.Session() as http:
            token = csrf_from(http.get(f"{base}/dashboard/login").text)
            http.post(
                f"{base}/dashboard/login",
                data={"username": "bench", "password": PASSWORD, "csrf_token": token},
            )
            for name in ("overview", "teachers table"):
                url_ = base + paths[name]
                for _ in range(3):
                    assert http.get(url_).status_code == 200
                samples = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    response = http.get(url_)
                    samples.append(time.perf_counter() - t0)
                    assert response.status_code == 200
                print(f"  over HTTP  {name:15s} {stats(samples)}")
                if name == "overview":
                    overview_median = statistics.median(samples) * 1000
    finally:
        server.shutdown()
        server.server_close()
        core.db.get_engine().dispose()
    return overview_median


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--pg", default=os.environ.get("BANZHUREN_TEST_POSTGRES_URL", PG_ADMIN))
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        print(f"SQLite ({args.students} students)")
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.students, args.requests)

    if not args.sqlite_only:
        name = f"banzhuren_bench_dash_{os.getpid()}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print(f"PostgreSQL ({args.students} students)")
            results["postgresql"] = run(
                args.pg.rsplit("/", 1)[0] + "/" + name, args.students, args.requests
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    ok = all(ms < TARGET_MS for ms in results.values())
    summary = ", ".join(f"{k} {v:.1f} ms" for k, v in results.items())
    print(
        f"overview median over HTTP: {summary} (target < {TARGET_MS} ms): {'OK' if ok else 'SLOW'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
