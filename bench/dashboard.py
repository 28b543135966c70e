"""How long the dashboard's term overview takes on a term of 3,000 students (target: under
300 ms), on SQLite and on PostgreSQL, in-process and over real HTTP.

    python bench/dashboard.py [--students 3000] [--requests 50] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Seeds a whole term in bulk (``tests/support/dashboard_seed.py``: departments, classes,
students, head teachers, appointments, a survey round with answers, work logs, meetings and
evaluations) into a fresh migrated database, logs in as a Student Affairs user, warms up, then
times ``GET /dashboard/`` (and, for comparison, the teachers table, a teacher page and the xlsx
download). PostgreSQL runs in a scratch database ``banzhuren_bench_dash_<random>``, dropped after.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time

import requests
from common import PG_ADMIN, scratch_database, stats, time_requests
from werkzeug.serving import make_server

import core.db
from bot import create_app
from core.settings import Settings
from models import UserRole
from models.migrate import upgrade
from tests.support.dashboard import PASSWORD, csrf_from, login, make_user
from tests.support.dashboard_seed import seed_school

TARGET_MS = 300


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

    app = create_app(Settings(database_url=url, secret_key="bench" * 8))
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
        samples = time_requests(lambda path=path: client.get(path).status_code, n)
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
                samples = time_requests(lambda url_=url_: http.get(url_).status_code, n)
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
    parser.add_argument("--pg", default=PG_ADMIN)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        print(f"SQLite ({args.students} students)")
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.students, args.requests)

    if not args.sqlite_only:
        with scratch_database(args.pg, "banzhuren_bench_dash") as url:
            print(f"PostgreSQL ({args.students} students)")
            results["postgresql"] = run(url, args.students, args.requests)

    ok = all(ms < TARGET_MS for ms in results.values())
    summary = ", ".join(f"{k} {v:.1f} ms" for k, v in results.items())
    print(
        f"overview median over HTTP: {summary} (target < {TARGET_MS} ms): {'OK' if ok else 'SLOW'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
