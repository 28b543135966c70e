"""A made-up music school as plain data, and writers for it as a workbook or a CSV folder.

Used by ``examples/roster/make_sample.py`` (the committed sample), by the demo (which builds
its term on this school) and by ``bench/import_roster.py`` (the same shape, scaled up).
Everything is seeded: the same arguments give the same school.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
import zipfile
from pathlib import Path
from typing import Any

from core.roster.reader import SHEETS

School = dict[str, list[dict[str, Any]]]

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏"
    "薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武"
    "乔贺赖龚文"
)
GIVEN = (
    "子涵欣怡梓萱雨桐可馨思远浩然宇轩俊杰嘉怡晨曦一诺诗涵若汐语桐佳琪明轩博文睿哲天佑雅琴"
    "婉清静怡梦瑶晓峰志强建华海燕丽娟秀英文博皓宇泽宇奕辰沐阳清扬书瑶乐萱歆瑶铭泽钰涵紫萱"
    "嘉豪芷若昊天弘毅星辰韵之琳瑜笛声筝瑟琴韵乐然律言"
)


def chinese_names(rng: random.Random, count: int, taken: set[str] | None = None) -> list[str]:
    """``count`` distinct, plausible Chinese names (one or two given-name characters)."""
    taken = set() if taken is None else taken
    names = []
    while len(names) < count:
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
        name = rng.choice(SURNAMES) + given
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def sample_school(seed: int = 2026) -> School:
    """The sample school of ``examples/roster``, relative to the term 2026-2027-1.

    Two 党总支, six classes (first-year classes entered 2026, final-year ones 2023, and a 小乐团
    whose members also belong to an administrative class), about 150 students, eight head
    teachers and two counsellors, all appointed from 2026-09-01 for a year (第十条).
    """
    rng = random.Random(seed)
    taken: set[str] = set()
    departments = [{"name": "管弦系"}, {"name": "声乐歌剧系"}]
    teachers = [
        {"staff_no": "T1001", "department": "管弦系", "role": "辅导员"},
        {"staff_no": "T2001", "department": "声乐歌剧系", "role": "辅导员"},
        *(
            {"staff_no": f"T11{i:02d}", "department": "管弦系", "role": "班主任"}
            for i in range(1, 6)
        ),
        *(
            {"staff_no": f"T21{i:02d}", "department": "声乐歌剧系", "role": "班主任"}
            for i in range(1, 4)
        ),
    ]
    for teacher, name in zip(teachers, chinese_names(rng, len(teachers), taken), strict=True):
        teacher["name"] = name
    # code, name, department, kind, entry_year, counsellor, students
    class_rows = [
        ("GX2601", "管弦系2026级管弦乐1班", "管弦系", "行政班级", 2026, "T1001", 32),
        ("GX2501", "管弦系2025级管弦乐班", "管弦系", "行政班级", 2025, "T1001", 28),
        ("GX2301", "管弦系2023级管弦乐班", "管弦系", "行政班级", 2023, "T1001", 27),
        ("GXT01", "青年弦乐小乐团", "管弦系", "小乐团", 2025, "T1001", 0),
        ("SY2601", "声乐歌剧系2026级声乐1班", "声乐歌剧系", "行政班级", 2026, "T2001", 33),
        ("SY2301", "声乐歌剧系2023级歌剧表演专业", "声乐歌剧系", "专业", 2023, "T2001", 30),
    ]
    classes = [
        {
            "code": code,
            "name": name,
            "department": dep,
            "kind": kind,
            "entry_year": year,
            "years": 4,
            "counsellor": counsellor,
        }
        for code, name, dep, kind, year, counsellor, _ in class_rows
    ]
    students: list[dict[str, Any]] = []
    for n, (code, _, dep, _, year, _, size) in enumerate(class_rows, start=1):
        dep_no = 1 if dep == "管弦系" else 2
        for i, name in enumerate(chinese_names(rng, size, taken), start=1):
            students.append(
                {
                    "student_no": f"{year}{dep_no:02d}{n:02d}{i:02d}",
                    "name": name,
                    "class_code": code,
                }
            )
    # The ensemble draws string players from the three 管弦系 classes.
    strings = [s for s in students if s["class_code"] in ("GX2601", "GX2501", "GX2301")]
    for s in rng.sample(strings, 16):
        s["class_code"] += ";GXT01"
    start = "2026-09-01"
    appointments = [
        {"staff_no": staff_no, "class_code": code, "start_date": start, "trained": trained}
        for staff_no, code, trained in (
            ("T1101", "GX2601", "是"),
            ("T1102", "GX2601", "是"),
            ("T1103", "GX2501", "是"),
            ("T1104", "GX2301", "是"),
            ("T1105", "GXT01", "否"),
            ("T2101", "SY2601", "是"),
            ("T2102", "SY2601", "是"),
            ("T2103", "SY2301", "是"),
        )
    ]
    return {
        "departments": departments,
        "classes": classes,
        "students": students,
        "teachers": teachers,
        "appointments": appointments,
    }


def generated_school(students: int, seed: int = 1, class_size: int = 30) -> School:
    """A larger school of the same shape for benchmarks: ``students`` students in classes of
    ``class_size`` over six 党总支, one head teacher per class, one counsellor per 党总支."""
    rng = random.Random(seed)
    taken: set[str] = set()
    dep_names = ["管弦系", "声乐歌剧系", "作曲系", "音乐学系", "钢琴系", "民族音乐系"]
    departments = [{"name": d} for d in dep_names]
    n_classes = -(-students // class_size)
    teachers = [
        {"staff_no": f"F{d + 1:02d}00", "department": dep, "role": "辅导员"}
        for d, dep in enumerate(dep_names)
    ]
    classes, appointments, people = [], [], []
    for c in range(n_classes):
        d = c % len(dep_names)
        year = 2023 + c % 4
        code = f"C{c + 1:04d}"
        classes.append(
            {
                "code": code,
                "name": f"{dep_names[d]}{year}级{c + 1}班",
                "department": dep_names[d],
                "kind": "行政班级",
                "entry_year": year,
                "years": 4,
                "counsellor": teachers[d]["staff_no"],
            }
        )
        staff_no = f"H{c + 1:04d}"
        teachers.append({"staff_no": staff_no, "department": dep_names[d], "role": "班主任"})
        appointments.append(
            {"staff_no": staff_no, "class_code": code, "start_date": "2026-09-01", "trained": "是"}
        )
    for teacher, name in zip(teachers, chinese_names(rng, len(teachers), taken), strict=True):
        teacher["name"] = name
    for i in range(students):
        cls = classes[i // class_size]
        people.append(
            {
                "student_no": f"{cls['entry_year']}{i + 1:06d}",
                "name": chinese_names(rng, 1)[0],
                "class_code": cls["code"],
            }
        )
    return {
        "departments": departments,
        "classes": classes,
        "students": people,
        "teachers": teachers,
        "appointments": appointments,
    }


def _header(kind: str, chinese: bool) -> list[str]:
    return [c.chinese if chinese else c.field for c in SHEETS[kind].columns if c.in_sample]


def _fields(kind: str) -> list[str]:
    return [c.field for c in SHEETS[kind].columns if c.in_sample]


def write_xlsx(school: School, path: Path, *, chinese: bool = True) -> Path:
    """Write the school as a workbook: sheets and headers in Chinese (or English)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for kind, rows in school.items():
        ws = wb.create_sheet(SHEETS[kind].chinese if chinese else kind)
        ws.append(_header(kind, chinese))
        for row in rows:
            ws.append([_cell(kind, f, row.get(f)) for f in _fields(kind)])
    wb.properties.created = FIXED_TIME
    wb.save(path)
    _make_reproducible(path)
    return path


FIXED_TIME = dt.datetime(2026, 8, 1)


def _make_reproducible(path: Path) -> None:
    """Pin the save time openpyxl writes into the document and the zip entries, so that the
    same school gives the same bytes (a regenerated sample shows no spurious change)."""
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            z.writestr(
                zipfile.ZipInfo(name, FIXED_TIME.timetuple()[:6]), data, zipfile.ZIP_DEFLATED
            )


def _cell(kind: str, field_name: str, value: Any) -> Any:
    if value is None:
        return None
    # As in a real school's sheet: student numbers typed as numbers, dates as dates.
    if field_name == "student_no" and str(value).isdigit():
        return int(value)
    if field_name in ("start_date", "end_date"):
        return dt.date.fromisoformat(value)
    return value


def write_csv_folder(
    school: School, folder: Path, *, chinese: bool = False, encoding: str = "utf-8"
) -> Path:
    """Write the school as one CSV file per sheet (``students.csv`` … or ``学生.csv`` …)."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, rows in school.items():
        name = SHEETS[kind].chinese if chinese else kind
        with open(folder / f"{name}.csv", "w", encoding=encoding, newline="") as f:
            out = csv.writer(f)
            out.writerow(_header(kind, chinese))
            for row in rows:
                out.writerow(["" if row.get(k) is None else row[k] for k in _fields(kind)])
    return folder
