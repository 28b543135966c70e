"""Filling a .docx template: every ``{{字段}}`` in the body, tables, headers and footers is
replaced by its value; the run keeps its font (the templates write each placeholder as one
run). A table row of ``{{前缀.字段}}`` placeholders is repeated once per record given under
``前缀`` (a 日志本's entries, a 任职证明's 聘期). Several documents can be merged into one file,
each starting on a new page."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from docx import Document
from docx.enum.text import WD_BREAK
from docx.oxml.ns import qn

TEMPLATES = Path(__file__).parent / "templates"
PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")


class MissingField(KeyError):
    """A template asks for a field the caller did not give."""


def _paragraphs(doc) -> Iterator:
    """Every paragraph once (python-docx yields a merged cell once per grid column it spans:
    filled twice, a value that happens to contain "{{…}}" would be read as a placeholder)."""
    seen: set = set()  # the cells' elements (kept alive, so compared by identity)

    def in_tables(tables):
        for table in tables:
            for row in table.rows:
                for cell in row.cells:
                    if cell._tc in seen:
                        continue
                    seen.add(cell._tc)
                    yield from cell.paragraphs
                    yield from in_tables(cell.tables)

    yield from doc.paragraphs
    yield from in_tables(doc.tables)
    for section in doc.sections:
        for part in (section.header, section.footer):
            yield from part.paragraphs
            yield from in_tables(part.tables)


def _substitute(text: str, values: Mapping[str, str], keep: Collection[str] = ()) -> str:
    """``text`` with its placeholders filled; those of a repeated row's prefix in ``keep``
    (``{{记录.日期}}``) are left for the rows."""

    def one(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        if key in values:
            return str(values[key])
        if "." in key and key.split(".", 1)[0] in keep:
            return m.group(0)
        raise MissingField(key)

    return PLACEHOLDER.sub(one, text)


def _row_prefix(tr) -> str | None:
    """The prefix of a repeated row's placeholders (``记录`` for ``{{记录.日期}}``), else None."""
    text = "".join(t.text or "" for t in tr.iter(qn("w:t")))
    m = re.search(r"\{\{([^{}.]+)\.[^{}]+\}\}", text)
    return m.group(1).strip() if m else None


def _template_rows(doc) -> list[tuple[object, str]]:
    """The rows to repeat and their prefixes, read from the template before anything is filled
    (a value containing "{{x.y}}" never makes a row a template)."""
    found = []
    for tr in doc.element.body.iter(qn("w:tr")):
        prefix = _row_prefix(tr)
        if prefix is not None:
            found.append((tr, prefix))
    return found


def _repeat_rows(
    templates: list[tuple[object, str]], rows: Mapping[str, Sequence[Mapping[str, str]]]
) -> None:
    """Each template row, once per record of its prefix (in order); the template row itself
    goes. Line breaks in values become spaces (one cell line)."""
    for tr, prefix in templates:
        if prefix not in rows:
            raise MissingField(prefix)
        for record in rows[prefix]:
            values = {f"{prefix}.{k}": " ".join(str(v).split("\n")) for k, v in record.items()}
            copy_ = copy.deepcopy(tr)
            for t in copy_.iter(qn("w:t")):
                if t.text and "{{" in t.text:
                    t.text = _substitute(t.text, values)
            tr.addprevious(copy_)
        tr.getparent().remove(tr)


def fill_document(
    template: str | Path,
    values: Mapping[str, str],
    rows: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
):
    """The template (a file name in ``templates/`` or a path) with its placeholders filled, as a
    python-docx Document; ``rows``: the records of each repeated row."""
    path = Path(template)
    if not path.is_absolute() and not path.exists():
        path = TEMPLATES / path
    doc = Document(str(path))
    rows = rows or {}
    templates = _template_rows(doc)
    # The template's own placeholders first, while it is small; then the repeated rows, which
    # fill themselves (a 日志本 may have a thousand).
    for p in _paragraphs(doc):
        text = p.text
        if "{{" not in text:
            continue
        # Each placeholder is read once, from the template: a value that itself contains
        # "{{…}}" (a teacher's 申请说明) is printed as typed, never filled again.
        in_runs = sum(len(PLACEHOLDER.findall(run.text)) for run in p.runs)
        if in_runs == len(PLACEHOLDER.findall(text)):
            for run in p.runs:
                if "{{" in run.text:
                    run.text = _substitute(run.text, values, rows)
        else:
            # A placeholder split over runs (a template edited in Word): join the runs into
            # the first one, which keeps the first run's font.
            for run in p.runs[1:]:
                run.text = ""
            p.runs[0].text = _substitute(text, values, rows)
    _repeat_rows(templates, rows)
    return doc


def to_bytes(doc) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def fill(
    template: str | Path,
    values: Mapping[str, str],
    rows: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
) -> bytes:
    """The filled template as .docx bytes."""
    return to_bytes(fill_document(template, values, rows))


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
