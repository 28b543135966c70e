"""Spreadsheet cells that are data, never formulas (CSV/formula injection).

A name, a department or an override reason typed as ``=HYPERLINK("http://…","点此")`` must open
in Excel or WPS as that text, not as a live formula. Every csv/xlsx writer passes its cells
through here: text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'`` in CSV, and is stored as a string cell in xlsx. Numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def safe_cell(value: Any) -> Any:
    """A CSV cell: formula-like text gets a leading apostrophe; anything else is unchanged."""
    return "'" + value if is_formula_like(value) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """``ws.append(values)`` on an openpyxl worksheet, with formula-like text stored as a
    string cell (openpyxl would otherwise store text starting with ``=`` as a formula). The
    text itself is kept as it was: it is data in the workbook."""
    values = list(values)
    ws.append(values)
    for cell, value in zip(ws[ws.max_row], values, strict=False):
        if is_formula_like(value):
            cell.value = value
            cell.data_type = "s"
