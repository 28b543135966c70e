"""Regenerate the sample roster beside this file: ``roster.xlsx`` (sheets and headers in
Chinese, student numbers typed as numbers, dates as date cells, as a school's own workbook
looks) and ``csv/`` (the same data, one UTF-8 CSV per sheet with English names and headers).

    python examples/roster/make_sample.py
    banzhuren import-roster examples/roster/roster.xlsx

The data is ``core.roster.sample.sample_school()`` (seeded, so the same every run): two 党总支,
six classes around the term 2026-2027-1 (first-year classes entered 2026, final-year ones 2023,
a 小乐团 whose members also sit in an administrative class, a 专业), 150 students, eight head
teachers and two counsellors, appointed from 2026-09-01.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.roster.sample import sample_school, write_csv_folder, write_xlsx

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    args = parser.parse_args()
    school = sample_school(args.seed)
    write_xlsx(school, args.out / "roster.xlsx", chinese=True)
    write_csv_folder(school, args.out / "csv", chinese=False)
    counts = "，".join(f"{kind} {len(rows)}" for kind, rows in school.items())
    print(f"已写入 {args.out / 'roster.xlsx'} 和 {args.out / 'csv'}：{counts}")


if __name__ == "__main__":
    main()
