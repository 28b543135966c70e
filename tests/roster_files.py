"""Roster files for tests: the sample school as tables that a test can damage before writing
them out with openpyxl or as CSV."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from core.roster.reader import SHEETS
from core.roster.sample import sample_school

Tables = dict[str, list[list[Any]]]


def school_tables(chinese: bool = False, school: dict | None = None) -> Tables:
    """The sample school as ``{sheet name: [header, row, ...]}``; row i of a sheet's data is
    spreadsheet row i + 2."""
    school = school or sample_school()
    tables: Tables = {}
    for kind, rows in school.items():
        columns = [c for c in SHEETS[kind].columns if c.in_sample]
        name = SHEETS[kind].chinese if chinese else kind
        header = [c.chinese if chinese else c.field for c in columns]
        tables[name] = [header] + [[row.get(c.field) for c in columns] for row in rows]
    return tables


def column(tables: Tables, sheet: str, header: str) -> int:
    return tables[sheet][0].index(header)


def set_cell(tables: Tables, sheet: str, row: int, header: str, value: Any) -> None:
    """Set the cell at spreadsheet row ``row`` (header = 1) under ``header``."""
    tables[sheet][row - 1][column(tables, sheet, header)] = value


def get_cell(tables: Tables, sheet: str, row: int, header: str) -> Any:
    return tables[sheet][row - 1][column(tables, sheet, header)]


def write_xlsx(tables: Tables, path: Path, *, real_dates: bool = True) -> Path:
    """Write the tables as a workbook; ISO date strings become real date cells."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in tables.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append([_excel(v) if real_dates else v for v in row])
    wb.save(path)
    return path


def _excel(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def write_csv(tables: Tables, folder: Path, *, encoding: str = "utf-8") -> Path:
    """Write one CSV file per sheet, named after it, in ``encoding`` (e.g. ``utf-8-sig``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(folder / f"{name}.csv", "w", encoding=encoding, newline="") as f:
            writer = csv.writer(f)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
    return folder
