"""Benchmark: a head teacher's 工作日志本 for a busy 聘期 (issue 25.3).

    python bench/logbook.py [--entries 1000]

A scratch SQLite database with one teacher, a class of 30 students and ``--entries`` work-log
entries over a year, each naming a student; times finding the current 聘期, building the
document's values (entries, counts against the requirements) and rendering the .docx, the work
of one ``/d/<token>`` download or teacher-page click. Target: 1,000 entries (a very diligent
year) under 1 s, so a download never keeps a phone waiting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import core.db
from core.documents.logbook import logbook_spec, period_starting
from core.documents.records import Letterhead
from models import (
    Appointment,
    AppointmentStatus,
    Department,
    LogKind,
    SchoolClass,
    Student,
    Teacher,
    WorkLogEntry,
)
from models.migrate import upgrade

TARGET_SECONDS = 1.0
START = dt.date(2026, 1, 1)
TODAY = dt.date(2026, 12, 7)


def build(session, entries: int) -> Teacher:
    dep = Department(name="管弦系党总支")
    cls = SchoolClass(code="G2025", name="管弦2025级", department=dep, entry_year=2025)
    students = [
        Student(student_no=f"S{i:04d}", name=f"学生{i}", binding_code="000000", classes=[cls])
        for i in range(30)
    ]
    teacher = Teacher(staff_no="T0001", name="赵老师", department=dep, binding_code="000000")
    session.add_all([dep, cls, teacher, *students])
    session.flush()
    session.add(
        Appointment(
            teacher_id=teacher.id,
            class_id=cls.id,
            start_date=START,
            end_date=START.replace(year=START.year + 1),
            status=AppointmentStatus.APPOINTED,
        )
    )
    kinds = list(LogKind)
    for i in range(entries):
        entry = WorkLogEntry(
            teacher_id=teacher.id,
            class_id=cls.id,
            kind=kinds[i % len(kinds)],
            occurred_on=START + dt.timedelta(days=i % 340),
            text="期末复习压力大，约好下周再聊" * 2,
            raw="谈心",
        )
        entry.students = [students[i % 30]]
        session.add(entry)
    session.commit()
    return teacher


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'logbook.db'}"
        upgrade(url)
        core.db.configure(url)
        letterhead = Letterhead("哈尔滨音乐学院", ZoneInfo("Asia/Shanghai"))
        with core.db.SessionFactory() as session:
            teacher = build(session, args.entries)
            times, size = [], 0
            for _ in range(args.runs):
                session.expire_all()
                t0 = time.perf_counter()
                period = period_starting(session, teacher.id, None, TODAY)
                body = logbook_spec(session, teacher, period, TODAY, letterhead).render()
                times.append(time.perf_counter() - t0)
                size = len(body)
        core.db.dispose()
    median = statistics.median(times)
    print(
        f"日志本, {args.entries} entries: median {median:.2f} s, worst {max(times):.2f} s "
        f"over {args.runs} runs, {size // 1024} KiB (target < {TARGET_SECONDS:.0f} s)"
    )
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
