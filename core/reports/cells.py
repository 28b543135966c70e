"""Spreadsheet cells that are data, never formulas (CSV/formula injection).

A name, a department or an override reason typed as ``=HYPERLINK("http://…","点此")`` must open
in Excel or WPS as that text, not as a live formula. Every csv/xlsx writer passes its cells
through here: text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'`` in CSV, and is stored as a string cell in xlsx. Numbers stay numbers.

Issue 24: a spreadsheet sorts and sums only real numbers and dates. A share (参评率, 满意度,
出勤率, 就业率) is a :class:`Percent`: the fraction, stored as a number with the ``0.0%`` format in
xlsx and written as ``90.6%`` wherever text is shown (terminal, CSV, pages). Dates are
``datetime.date`` cells with a date format. Identifiers made of digits (学号, 工号, 绑定码) are a
:class:`Code`: text in a ``@`` (text) cell, so Excel keeps their leading zeros.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_FORMAT = "@"


class Percent(float):
    """A share (0.906) that reads 90.6%: a number formatted ``0.0%`` in xlsx, that text
    elsewhere. Rounded to one decimal of a percent only when shown."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"{100 * float(self):.1f}%"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else float.__format__(self, spec)


class Code(str):
    """An identifier (学号, 工号, 班级代码, 绑定码): text even when it is all digits."""

    __slots__ = ()


def percent(share: float | None) -> Percent | None:
    """``share`` (a fraction) as a :class:`Percent`; None stays None (an empty cell)."""
    return None if share is None else Percent(share)


def percent_of(value: float | None) -> Percent | None:
    """A figure kept in percent (a satisfaction of 88.1) as a :class:`Percent` (0.881)."""
    return None if value is None else Percent(value / 100)


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def safe_cell(value: Any) -> Any:
    """A CSV cell: formula-like text gets a leading apostrophe; a :class:`Percent` is written
    as ``90.6%`` (Excel reads that back as a percentage); anything else is unchanged."""
    if isinstance(value, Percent):
        return str(value)
    return "'" + value if is_formula_like(value) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """``ws.append(values)`` on an openpyxl worksheet, with formula-like text stored as a
    string cell (openpyxl would otherwise store text starting with ``=`` as a formula). The
    text itself is kept as it was: it is data in the workbook."""
    values = list(values)
    formats = [number_format(v) for v in values]
    ws.append([_plain(v) for v in values])
    for cell, value, fmt in zip(ws[ws.max_row], values, formats, strict=False):
        if is_formula_like(value):
            cell.value = str(value)
            cell.data_type = "s"
        if fmt is not None:
            cell.number_format = fmt


def _plain(value: Any) -> Any:
    """What openpyxl stores: the float of a Percent, the str of a Code."""
    if isinstance(value, Percent):
        return float(value)
    if isinstance(value, Code):
        return str(value)
    return value


def number_format(value: Any) -> str | None:
    if isinstance(value, Percent):
        return PERCENT_FORMAT
    if isinstance(value, Code):
        return TEXT_FORMAT
    if isinstance(value, dt.datetime):
        return DATETIME_FORMAT
    if isinstance(value, dt.date):
        return DATE_FORMAT
    return None
