"""``banzhuren documents --term ID [-o DIR] [--merged]``: the term's 业务审批表, 聘书 and 荣誉证书
as Word files (第六条, 第九条, 第十九条)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from bot.cli.common import CliContext, fail, pass_cli
from core.documents.records import KINDS, Letterhead, merged, term_documents
from models.term import UnknownTerm, require_term


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


@click.command("documents")
@click.option("--term", "term_code", required=True, help="学期编号，例如 2026-2027-1")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="输出目录（默认：当前目录下的「文书-学期编号」）",
)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(list(KINDS)),
    multiple=True,
    help="只生成某类：application（业务审批表）、appointment（聘书）、award（荣誉证书）；可重复",
)
@click.option("--merged", "one_file", is_flag=True, help="每类合并为一个文件，而不是每人一个")
@pass_cli
def documents_command(
    cli: CliContext, term_code: str, output: Path | None, kinds: tuple[str, ...], one_file: bool
) -> None:
    """生成学期的兼职班主任业务审批表、聘书和荣誉证书（Word .docx）。"""
    today = dt.datetime.now(cli.settings.tz).date()
    with cli.session() as s:
        try:
            term = require_term(s, term_code)
        except UnknownTerm as exc:
            fail(str(exc))
        letterhead = Letterhead.of(cli.settings)
        specs = [
            d for d in term_documents(s, term, today, letterhead) if not kinds or d.kind in kinds
        ]
        folder = output or Path(f"文书-{term.code}")
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, int] = {}
        if one_file:
            for kind, label in KINDS.items():
                chosen = [d for d in specs if d.kind == kind]
                if chosen:
                    _write(folder / f"{label}-{term.code}.docx", merged(chosen))
                    written[label] = len(chosen)
        else:
            for spec in specs:
                _write(folder / spec.filename, spec.render())
                written[KINDS[spec.kind]] = written.get(KINDS[spec.kind], 0) + 1
    if not written:
        click.echo(f"学期 {term_code} 没有需要生成的文书（没有聘任或授予的荣誉）。")
        return
    summary = "，".join(f"{label} {n} 份" for label, n in written.items())
    click.echo(f"已写入 {folder}：{summary}")


def register(main: click.Group) -> None:
    main.add_command(documents_command)
