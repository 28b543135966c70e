"""How long ``import_roster`` takes on a 3,000-student roster, on SQLite and on PostgreSQL.

    python bench/import_roster.py [--students 3000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Generates the roster (``core.roster.sample.generated_school``) as a workbook and as a CSV folder
in a temporary directory, then for each backend and each format: a fresh import into an empty,
migrated database, a re-import of the same file (which must change nothing), and an updated
roster (every tenth student renamed and moved to another class). PostgreSQL
runs in a scratch database ``banzhuren_bench_<pid>`` that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import PG_ADMIN, scratch_database

import core.db
from core.roster.importer import import_roster
from core.roster.reader import read_roster
from core.roster.sample import generated_school, write_csv_folder, write_xlsx
from models.migrate import upgrade


def timed_import(url: str, *sources: Path) -> list[float | int]:
    """Import each source in turn; returns seconds and changes of each."""
    core.db.configure(url)
    results: list[float | int] = []
    for source in sources:
        started = time.perf_counter()
        with core.db.session_scope() as session:
            summary = import_roster(session, source)
        results += [time.perf_counter() - started, summary.changes]
    core.db.get_engine().dispose()
    return results


def updated(school: dict, every: int = 10) -> dict:
    """The same school a month on: every ``every``-th student renamed and moved class."""
    codes = [c["code"] for c in school["classes"]]
    students = []
    for i, s in enumerate(school["students"]):
        if i % every == 0:
            s = {**s, "name": s["name"] + "新", "class_code": codes[(i * 7) % len(codes)]}
        students.append(s)
    return {**school, "students": students}


def sqlite_url(workdir: Path, name: str) -> str:
    url = f"sqlite:///{workdir / name}.db"
    upgrade(url)
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--pg", default=PG_ADMIN)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-roster-") as tmp:
        workdir = Path(tmp)
        school = generated_school(args.students)
        xlsx = write_xlsx(school, workdir / "roster.xlsx")
        folder = write_csv_folder(school, workdir / "csv")
        later = updated(school)
        later_sources = {
            "xlsx": write_xlsx(later, workdir / "roster-later.xlsx"),
            "csv": write_csv_folder(later, workdir / "csv-later"),
        }
        print(
            f"roster: {len(school['students'])} students, {len(school['classes'])} classes, "
            f"{len(school['teachers'])} teachers, {len(school['appointments'])} appointments"
        )
        for label, source in (("xlsx", xlsx), ("csv", folder)):
            started = time.perf_counter()
            read_roster(source)
            print(f"read only ({label}): {time.perf_counter() - started:.2f} s")

        rows = []
        for label, source in (("xlsx", xlsx), ("csv", folder)):
            url = sqlite_url(workdir, f"bench-{label}")
            rows.append(("sqlite", label, *timed_import(url, source, source, later_sources[label])))

        for label, source in (("xlsx", xlsx), ("csv", folder)):
            with scratch_database(args.pg) as url:
                upgrade(url)
                rows.append(
                    ("postgresql", label, *timed_import(url, source, source, later_sources[label]))
                )

    print(
        f"{'backend':<11} {'format':<6} {'fresh':>8} {'changes':>8} {'re-import':>10} "
        f"{'changes':>8} {'updated':>9} {'changes':>8}"
    )
    for backend, label, fresh, created, again, same, later_s, later_n in rows:
        print(
            f"{backend:<11} {label:<6} {fresh:>7.2f}s {created:>8} {again:>9.2f}s {same:>8} "
            f"{later_s:>8.2f}s {later_n:>8}"
        )
    if any(row[5] for row in rows):
        print("re-import changed something: it must not", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
