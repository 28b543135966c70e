"""``banzhuren term add``."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from bot.cli.common import CliContext, fail, pass_cli
from models import AuditLog, Term
from models.term import validate_term_code


def parse_date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{what}：无法识别的日期 {value!r}，应为 YYYY-MM-DD，例如 2026-09-01")
        raise  # unreachable


@click.group("term")
def term_group() -> None:
    """学期管理。"""


@term_group.command("add")
@click.argument("term_id")
@click.option("--start", required=True, help="开始日期 YYYY-MM-DD")
@click.option("--end", required=True, help="结束日期 YYYY-MM-DD")
@pass_cli
def term_add(cli: CliContext, term_id: str, start: str, end: str) -> None:
    """添加学期，TERM_ID 形如 2026-2027-1。"""
    problem = validate_term_code(term_id)
    if problem:
        fail(f"{term_id}: {problem}")
    start_date, end_date = parse_date(start, "--start"), parse_date(end, "--end")
    if end_date <= start_date:
        fail(f"--end {end_date} 应晚于 --start {start_date}")
    with cli.session() as s:
        term = s.scalar(select(Term).where(Term.code == term_id))
        if term is None:
            s.add(Term(code=term_id, start_date=start_date, end_date=end_date))
            action = "term.add"
        else:
            term.start_date, term.end_date = start_date, end_date
            action = "term.update"
        s.add(
            AuditLog(
                actor="cli",
                action=action,
                target=term_id,
                detail={"start": str(start_date), "end": str(end_date)},
            )
        )
    click.echo(f"学期 {term_id}：{start_date} 至 {end_date}")


def register(main: click.Group) -> None:
    main.add_command(term_group)
