"""``banzhuren term add``."""

from __future__ import annotations

import datetime as dt

import click

from bot.cli.common import CliContext, fail, pass_cli
from models import AuditLog, Term
from models.term import find_term, validate_term_code


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
    with cli.session(write=True) as s:
        term = find_term(s, term_id)
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


@term_group.command("holiday")
@click.argument("term_id")
@click.argument("days", nargs=-1, required=True)
@click.option("--exam", is_flag=True, help="标记为考试日（默认节假日）")
@click.option("--remove", is_flag=True, help="取消这些日期")
@pass_cli
def term_holiday(
    cli: CliContext, term_id: str, days: tuple[str, ...], exam: bool, remove: bool
) -> None:
    """设定学期内不发催填提醒的日期：DAYS 为 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD。"""
    from models import TermClosedDate

    wanted: list[dt.date] = []
    for item in days:
        first, _, last = item.partition("..")
        start = parse_date(first, "日期")
        end = parse_date(last, "日期") if last else start
        if end < start:
            fail(f"{item}：结束日期早于开始日期")
        wanted += [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    with cli.session(write=True) as s:
        term = find_term(s, term_id)
        if term is None:
            fail(f"学期 {term_id} 不存在")
        outside = [d for d in wanted if not term.contains(d)]
        if outside:
            fail(f"{outside[0]} 不在学期 {term_id}（{term.start_date} 至 {term.end_date}）内")
        for day in wanted:
            row = s.get(TermClosedDate, (term.id, day))
            if remove:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(
                    TermClosedDate(term_id=term.id, day=day, reason="exam" if exam else "holiday")
                )
            else:
                row.reason = "exam" if exam else "holiday"
        s.add(
            AuditLog(
                actor="cli",
                action="term.closed_dates." + ("remove" if remove else "add"),
                target=term_id,
                detail={"days": [d.isoformat() for d in wanted], "exam": exam},
            )
        )
    word = "取消" if remove else ("设为考试日" if exam else "设为节假日")
    click.echo(f"学期 {term_id}：{len(wanted)} 天已{word}（这些日期不发催填提醒）")


def register(main: click.Group) -> None:
    main.add_command(term_group)
