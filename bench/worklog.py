"""Benchmark: reading work-log messages, and counting entries at university scale.

    python bench/worklog.py                 # parser only (no database)
    python bench/worklog.py --postgres      # also log_counts / inactive_teachers on PostgreSQL

Parser: parses 20,000 generated messages (the same shapes as tests/integration/
test_worklog_e2e.py: every kind and synonym, dates in every form, names with and without
separators, places, voice style) against a roster of 40 names, and reports messages per second.
Target: well under 1 ms a message, so parsing never matters within WeChat's 5 s.

Counts (``--postgres``): a scratch database with 1,500 head teachers and 100,000 entries over a
term (bulk-inserted), then times ``log_counts(session, term_id)`` (one grouped query for the
evaluation) and ``inactive_teachers(session, today)``. Target: each under 1 s. The database is
dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from common import PG_ADMIN, scratch_database

from core.worklog.parser import ParsedEntry, parse_entry

TODAY = dt.date(2026, 11, 26)
KIND_WORDS = (
    "谈心", "谈话", "谈心谈话", "班会", "走访寝室", "查寝", "寝室", "家访", "社会实践", "实践",
    "志愿服务", "学术活动指导", "综合测评", "评奖评优", "违纪处理", "班干部培养", "资助建议",
    "新生入学指导", "就业指导", "就业", "实习", "参加例会", "例会", "参加培训", "培训", "反馈",
)  # fmt: skip
DATES = ("", "昨天 ", "前天", "上周五 ", "11月20日 ", "11.20", "2026-11-20 ", "2026年11月20日")
CONTENTS = ("期末复习压力大，约好下周再聊", "卫生良好", "学风建设主题班会，全班到齐", "作息不规律")


def messages(n: int, names: list[str], rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        sep = rng.choice((" ", "，", "", "\u3000"))
        who = sep.join(rng.sample(names, rng.choice((1, 1, 2, 3))))
        place = rng.choice(("", "6号楼302", "3舍201"))
        parts = [rng.choice(DATES) + rng.choice(KIND_WORDS), who, place, rng.choice(CONTENTS)]
        out.append(sep.join(p for p in parts if p) + rng.choice(("", "。")))
    return out


def bench_parser() -> None:
    rng = random.Random(1)
    names = [a + b for a in "张王李赵刘陈杨黄" for b in ("伟", "芳", "娜", "敏", "静")]
    batch = messages(20_000, names, rng)
    known = set(names)
    start = time.perf_counter()
    parsed = sum(
        isinstance(parse_entry(m, today=TODAY, known_names=known), ParsedEntry) for m in batch
    )
    elapsed = time.perf_counter() - start
    print(
        f"parser: {len(batch)} messages in {elapsed:.2f} s = {len(batch) / elapsed:,.0f}/s "
        f"({elapsed / len(batch) * 1e6:.0f} µs each); {parsed} parsed as entries"
    )


def bench_counts(admin_url: str) -> None:
    from sqlalchemy import insert, text

    import core.db
    import models
    from core.worklog.counts import inactive_teachers, log_counts
    from models.migrate import upgrade

    with scratch_database(admin_url, "banzhuren_bench_worklog") as url:
        try:
            upgrade(url)
            engine = core.db.configure(url)
            rng = random.Random(2)
            kinds = list(models.LogKind)
            start_day = dt.date(2026, 9, 1)
            with engine.begin() as conn:
                dep = conn.execute(
                    insert(models.Department).values(name="d").returning(models.Department.id)
                ).scalar_one()
                conn.execute(
                    insert(models.Term).values(
                        code="2026-2027-1", start_date=start_day, end_date=dt.date(2027, 1, 20)
                    )
                )
                teachers = [
                    {
                        "staff_no": f"T{i}",
                        "name": f"t{i}",
                        "role": "head_teacher",
                        "binding_code": "1",
                    }
                    for i in range(1500)
                ]
                conn.execute(insert(models.Teacher), teachers)
                classes = [
                    {
                        "code": f"C{i}",
                        "name": f"c{i}",
                        "department_id": dep,
                        "kind": "admin",
                        "entry_year": 2024,
                        "years": 4,
                    }
                    for i in range(1500)
                ]
                conn.execute(insert(models.SchoolClass), classes)
                conn.execute(
                    insert(models.Appointment),
                    [
                        {
                            "teacher_id": i + 1,
                            "class_id": i + 1,
                            "start_date": start_day,
                            "end_date": dt.date(2027, 9, 1),
                            "trained": True,
                            "status": "appointed",
                        }
                        for i in range(1500)
                    ],
                )
                rows = [
                    {
                        "teacher_id": rng.randrange(1, 1501),
                        "kind": rng.choice(kinds).value,
                        "occurred_on": start_day + dt.timedelta(days=rng.randrange(0, 80)),
                        "text": "x",
                        "raw": "x",
                        "source": "text",
                    }
                    for _ in range(100_000)
                ]
                conn.execute(insert(models.WorkLogEntry), rows)  # fmt: skip
            with core.db.SessionFactory() as session:
                term_id = session.scalar(text("SELECT id FROM terms"))
                t0 = time.perf_counter()
                counts = log_counts(session, term_id)
                t1 = time.perf_counter()
                quiet = inactive_teachers(session, dt.date(2026, 11, 26))
                t2 = time.perf_counter()
            print(f"log_counts: {len(counts)} teachers, 100,000 entries in {t1 - t0:.3f} s")
            print(f"inactive_teachers: {len(quiet)} of 1,500 in {t2 - t1:.3f} s")
        finally:
            core.db.dispose()
            if core.db._engine is not None:
                core.db._engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--postgres", action="store_true", help="also time the counting queries")
    ap.add_argument("--admin-url", default=PG_ADMIN)
    args = ap.parse_args()
    bench_parser()
    if args.postgres:
        bench_counts(args.admin_url)


if __name__ == "__main__":
    main()
