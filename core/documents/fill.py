"""Filling a .docx template: every ``{{字段}}`` in the body, tables, headers and footers is
replaced by its value; the run keeps its font (the templates write each placeholder as one
run). Several documents can be merged into one file, each starting on a new page."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from docx import Document
from docx.enum.text import WD_BREAK

TEMPLATES = Path(__file__).parent / "templates"
PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")


class MissingField(KeyError):
    """A template asks for a field the caller did not give."""


def _paragraphs(doc) -> Iterator:
    def in_tables(tables):
        for table in tables:
            for row in table.rows:
                for cell in row.cells:
                    yield from cell.paragraphs
                    yield from in_tables(cell.tables)

    yield from doc.paragraphs
    yield from in_tables(doc.tables)
    for section in doc.sections:
        for part in (section.header, section.footer):
            yield from part.paragraphs
            yield from in_tables(part.tables)


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        if key not in values:
            raise MissingField(key)
        return str(values[key])

    return PLACEHOLDER.sub(one, text)


def fill_document(template: str | Path, values: Mapping[str, str]):
    """The template (a file name in ``templates/`` or a path) with its placeholders filled, as a
    python-docx Document."""
    path = Path(template)
    if not path.is_absolute() and not path.exists():
        path = TEMPLATES / path
    doc = Document(str(path))
    for p in _paragraphs(doc):
        if "{{" not in p.text:
            continue
        for run in p.runs:
            if "{{" in run.text:
                run.text = _substitute(run.text, values)
        if PLACEHOLDER.search(p.text):
            # A placeholder split over runs (a template edited in Word): join the runs into
            # the first one, which keeps the first run's font.
            text = _substitute(p.text, values)
            for run in p.runs[1:]:
                run.text = ""
            p.runs[0].text = text
    return doc


def to_bytes(doc) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def fill(template: str | Path, values: Mapping[str, str]) -> bytes:
    """The filled template as .docx bytes."""
    return to_bytes(fill_document(template, values))


def merge(documents: Iterable) -> bytes:
    """Several filled Documents as one .docx, each after a page break (the first one's styles
    and page setup are used)."""
    docs = list(documents)
    if not docs:
        raise ValueError("nothing to merge")
    first = docs[0]
    body = first.element.body
    for doc in docs[1:]:
        if first.paragraphs:
            first.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        for element in doc.element.body:
            if element.tag.endswith("}sectPr"):
                continue
            body.insert(len(body) - 1, copy.deepcopy(element))
    return to_bytes(first)
