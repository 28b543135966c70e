"""``banzhuren documents [--term ID] [-o DIR] [--kind K] [--teacher STAFF_NO] [--merged]``: the
term's 业务审批表, 聘书 and 荣誉证书 (第六条, 第九条, 第十九条), and a head teacher's 工作日志本
(第十六条) and 任职证明 (第十八条) as Word files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.common import CliContext, fail, pass_cli
from core.documents.logbook import NoPeriod, current_period, logbook_spec, service_periods
from core.documents.records import (
    KINDS,
    TEACHER_KINDS,
    Letterhead,
    merged,
    term_documents,
)
from core.documents.service_record import service_spec
from models import Teacher
from models.term import UnknownTerm, require_term

ALL_KINDS = {**KINDS, **TEACHER_KINDS}


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def _teacher_documents(s, teacher: Teacher, kinds: set[str], term, today, letterhead) -> list:
    specs = []
    if "logbook" in kinds:
        periods = service_periods(s, teacher.id)
        if term is not None:
            chosen = [p for p in periods if p.start <= term.end_date and p.end >= term.start_date]
        else:
            now = current_period(periods, today)
            chosen = [now] if now else []
        if not chosen:
            when = f"在学期 {term.code} 内" if term is not None else ""
            fail(f"教师 {teacher.staff_no}（{teacher.name}）{when}没有聘期，没有工作日志本")
        specs += [logbook_spec(s, teacher, p, today, letterhead) for p in chosen]
    if "service" in kinds:
        try:
            specs.append(service_spec(s, teacher, today, letterhead))
        except NoPeriod:
            fail(f"教师 {teacher.staff_no}（{teacher.name}）没有任职记录，不能开具任职证明")
    return specs


@click.command("documents")
@click.option("--term", "term_code", default=None, help="学期编号，例如 2026-2027-1")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="输出目录（默认：当前目录下的「文书-学期编号」或「文书-工号」）",
)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(list(ALL_KINDS)),
    multiple=True,
    help="只生成某类：application（业务审批表）、appointment（聘书）、award（荣誉证书）、"
    "logbook（工作日志本）、service（任职证明）；可重复",
)
@click.option("--teacher", "staff_no", default=None, help="只生成这位教师的文书（工号）")
@click.option("--merged", "one_file", is_flag=True, help="每类合并为一个文件，而不是每人一个")
@pass_cli
def documents_command(
    cli: CliContext,
    term_code: str | None,
    output: Path | None,
    kinds: tuple[str, ...],
    staff_no: str | None,
    one_file: bool,
) -> None:
    """生成兼职班主任业务审批表、聘书、荣誉证书，以及一位班主任的工作日志本和任职证明（Word .docx）。"""
    today = dt.datetime.now(cli.settings.tz).date()
    wanted = set(kinds)
    if not wanted:
        wanted = (set(KINDS) if term_code else set()) | (set(TEACHER_KINDS) if staff_no else set())
    term_kinds, teacher_kinds = wanted & set(KINDS), wanted & set(TEACHER_KINDS)
    if not wanted:
        fail("请给出 --term 学期编号（学期的文书）或 --teacher 工号（一位班主任的文书）")
    if teacher_kinds and not staff_no:
        fail("工作日志本和任职证明是一位班主任的文书：请用 --teacher 工号 指定是谁")
    if term_kinds and not term_code:
        fail("业务审批表、聘书和荣誉证书按学期生成：请用 --term 学期编号 指定学期")
    with cli.session() as s:
        term = None
        if term_code:
            try:
                term = require_term(s, term_code)
            except UnknownTerm as exc:
                fail(str(exc))
        teacher = None
        if staff_no:
            teacher = s.scalar(select(Teacher).where(Teacher.staff_no == staff_no.strip()))
            if teacher is None:
                fail(f"没有工号为 {staff_no} 的教师")
        letterhead = Letterhead.of(cli.settings)
        specs = []
        if term_kinds:
            specs = [
                d
                for d in term_documents(s, term, today, letterhead)
                if d.kind in term_kinds and (teacher is None or d.teacher_id == teacher.id)
            ]
        if teacher_kinds:
            specs += _teacher_documents(s, teacher, teacher_kinds, term, today, letterhead)
        folder = output or Path(f"文书-{term.code if term else teacher.staff_no}")
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, int] = {}
        if one_file:
            tail = "-".join(x for x in (term.code if term else "", staff_no or "") if x)
            for kind, label in ALL_KINDS.items():
                chosen = [d for d in specs if d.kind == kind]
                if chosen:
                    _write(folder / f"{label}-{tail}.docx", merged(chosen))
                    written[label] = len(chosen)
        else:
            for spec in specs:
                _write(folder / spec.filename, spec.render())
                written[ALL_KINDS[spec.kind]] = written.get(ALL_KINDS[spec.kind], 0) + 1
    if not written:
        who = f"教师 {staff_no} 在" if staff_no else ""
        click.echo(f"{who}学期 {term_code} 没有需要生成的文书（没有聘任或授予的荣誉）。")
        return
    summary = "，".join(f"{label} {n} 份" for label, n in written.items())
    click.echo(f"已写入 {folder}：{summary}")


def register(main: click.Group) -> None:
    main.add_command(documents_command)
