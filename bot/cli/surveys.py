"""``banzhuren survey load`` and ``banzhuren round open|close|status``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import click
from sqlalchemy import select

from bot.cli.common import CliContext, fail, pass_cli
from core.surveys import seal as survey_seal
from core.surveys import seal_key
from core.surveys.rounds import (
    RoundError,
    after_close,
    close_round,
    envelope_status,
    find_round,
    open_round,
    register_survey,
    round_progress,
)
from models import SurveyRound
from surveys.definition import SurveyDefinitionError, load_survey_file


@click.group("survey")
def survey_group() -> None:
    """问卷定义。"""


@survey_group.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_cli
def survey_load(cli: CliContext, path: str) -> None:
    """导入或更新问卷定义（YAML）；有错误时逐行列出，什么也不写入。"""
    try:
        definition = load_survey_file(path)
    except SurveyDefinitionError as exc:
        for problem in exc.problems:
            click.echo(f"{path}: {problem}", err=True)
        raise click.exceptions.Exit(1) from None
    with cli.session(write=True) as s:
        _, status = register_survey(s, definition)
    word = {"created": "已导入", "updated": "已更新", "unchanged": "无变化"}[status]
    click.echo(f"问卷 {definition.id}（{definition.title}）{word}：{len(definition.questions)} 题")


@click.group("round")
def round_group() -> None:
    """测评轮次：开放、关闭、进度。"""


def _which_round(command: Callable) -> Callable:
    """``--term`` and ``--survey``: the round a command is about."""
    command = click.option("--survey", "survey_id", required=True, help="问卷 id")(command)
    return click.option("--term", "term_code", required=True, help="学期编号")(command)


def _today(cli: CliContext) -> dt.date:
    return dt.datetime.now(cli.settings.tz).date()


@round_group.command("open")
@click.option("--term", "term_code", required=True, help="学期编号，例如 2026-2027-1")
@click.option("--survey", "survey_id", required=True, help="问卷 id，例如 satisfaction")
@click.option("--closes", default=None, help="截止日期 YYYY-MM-DD（含当天）")
@pass_cli
def round_open(cli: CliContext, term_code: str, survey_id: str, closes: str | None) -> None:
    """开放测评并通知已绑定的学生。"""
    closes_on = None
    if closes is not None:
        try:
            closes_on = dt.date.fromisoformat(closes.strip())
        except ValueError:
            fail(f"--closes：无法识别的日期 {closes!r}，应为 YYYY-MM-DD，例如 2027-01-10")
    if not survey_seal.has_key(cli.settings):
        # Answers are sealed from the first submission: without a key none could be stored.
        fail(
            f"没有测评密封密钥：请先运行 banzhuren init（在工作目录生成 {seal_key.KEY_FILE}）"
            "或设置 BANZHUREN_SEAL_KEY"
        )
    from core.celery_app import configure_celery

    # The notices are sent after the commit by the outbox, with these settings.
    configure_celery(cli.settings)
    try:
        with cli.session(write=True) as s:
            rnd = open_round(s, term_code, survey_id, closes_on=closes_on, today=_today(cli))
            eligible = sum(row["eligible"] for row in round_progress(s, rnd.id))
    except RoundError as exc:
        fail(str(exc))
    until = f"，{closes_on} 截止" if closes_on else ""
    click.echo(f"已开放 {term_code} 的问卷 {survey_id}{until}：应评学生人次 {eligible}")


@round_group.command("close")
@_which_round
@pass_cli
def round_close(cli: CliContext, term_code: str, survey_id: str) -> None:
    """关闭测评：解封已提交的答卷（随机顺序写入匿名结果）；未提交的草稿不计入。"""
    # A write transaction from the start: on SQLite a read cannot become a write once a
    # student has submitted meanwhile.
    with cli.session(write=True) as s:
        try:
            rnd = close_round(s, term_code, survey_id, settings=cli.settings)
            rows = round_progress(s, rnd.id)
        except RoundError as exc:
            fail(str(exc))  # raises: the transaction rolls back
    after_close(s)
    answered, eligible = sum(r["answered"] for r in rows), sum(r["eligible"] for r in rows)
    click.echo(f"已关闭 {term_code} 的问卷 {survey_id}：已评 {answered}/{eligible} 人次")


@round_group.command("status")
@_which_round
@pass_cli
def round_status(cli: CliContext, term_code: str, survey_id: str) -> None:
    """每位班主任的应评人数、已评人数和参评率；通知与催填的送达情况。"""
    from core.reach.rounds import round_reach

    with cli.session() as s:
        rnd = _round_or_fail(s, term_code, survey_id)
        rows = round_progress(s, rnd.id)
        sealed = envelope_status(s, cli.settings).get(rnd.id, (0, 0)) if rnd.is_open else None
        reach = round_reach(s, rnd.id)
    for r in rows:
        rate = f"{r['rate'] * 100:.1f}%" if r["rate"] is not None else "-"
        click.echo(f"{r['staff_no']}\t{r['teacher']}\t{r['answered']}/{r['eligible']}\t{rate}")
    click.echo(
        f"通知 {reach['notified']} 人次，催填 {reach['reminded']} 人次；送达：客服消息 "
        f"{reach['custom']}，模板消息 {reach['template']}；无法送达 {reach['unreachable']}；"
        f"待发送 {reach['pending']}；客服消息被微信拒收（45015/45047） {reach['refused']}"
    )
    if sealed is None:
        click.echo("本轮已关闭，答卷已解封为匿名结果。")
    else:
        total, ok = sealed
        click.echo(f"进行中：密封答卷和草稿 {total} 份，当前密钥可打开 {ok} 份")
        if ok < total:
            fail(f"有 {total - ok} 份密封答卷无法用当前密钥打开：关闭前请配置开放本轮时的密钥")


@round_group.command("remind")
@_which_round
@click.option("--department", default=None, help="只催本学院（名称或编号）")
@click.option("--class", "class_code", default=None, help="只催本班（班级代码）")
@click.option("--dry-run", is_flag=True, help="只统计人数，不发送")
@pass_cli
def round_remind(
    cli: CliContext,
    term_code: str,
    survey_id: str,
    department: str | None,
    class_code: str | None,
    dry_run: bool,
) -> None:
    """一键催填：提醒还有班主任未评价的已绑定学生（每人每天至多一次；夜间顺延到 8 点；节假日、考试日不发）。"""
    from core.celery_app import configure_celery
    from core.outbox import drain, enqueue_unsent
    from core.reach.rounds import ReachError, channel_counts, remind
    from models import Department, SchoolClass

    configure_celery(cli.settings)  # the outbox sends with these settings
    # A write transaction: one reminder per student per day, no two runs at once.
    with cli.session(write=True) as s:
        rnd = _round_or_fail(s, term_code, survey_id)
        department_id = class_id = None
        if department is not None:
            dept = s.scalar(
                select(Department).where(
                    (Department.name == department)
                    | (Department.id == (int(department) if department.isdigit() else -1))
                )
            )
            if dept is None:
                fail(f"没有学院 {department}")
            department_id = dept.id
        if class_code is not None:
            cls = s.scalar(select(SchoolClass).where(SchoolClass.code == class_code))
            if cls is None:
                fail(f"没有班级 {class_code}")
            class_id = cls.id
        try:
            result = remind(
                s,
                cli.settings,
                rnd,
                department_id=department_id,
                class_id=class_id,
                dry_run=dry_run,
            )
        except ReachError as exc:
            fail(str(exc))  # raises: the transaction rolls back
        if dry_run:
            s.rollback()  # nothing of a trial run is kept, nor sent (the outbox waits for a commit)
    if result.closed_reason is not None:
        word = {"exam": "考试日"}.get(result.closed_reason, "节假日")
        click.echo(f"今天是学期设定的{word}，不发送催填提醒。")
        return
    head = "（试运行，未发送）" if dry_run else ""
    click.echo(
        f"催填{head}：提醒 {result.reminded} 人；今天已提醒过 {result.already_today} 人；"
        f"未绑定微信 {result.unbound} 人（无法通过微信联系，请辅导员另行通知）"
    )
    if dry_run or not result.outbound_ids:
        return
    if result.deferred_to is not None:
        at = result.deferred_to.astimezone(cli.settings.tz)
        click.echo(f"现在是夜间（22:00-8:00），提醒将于 {at:%m月%d日 %H:%M} 发出。")
        return
    if not cli.settings.embedded:
        click.echo("已交给后台任务发送；送达情况见管理后台的测评页面。")
        return
    drain(timeout=120)
    with cli.session() as s:
        # Embedded mode has no beat: reminders deferred from the night go out now.
        enqueue_unsent(s, older_than_seconds=0)
    drain(timeout=120)
    with cli.session() as s:
        counts = channel_counts(s, result.outbound_ids)
    click.echo(
        f"送达：客服消息 {counts['custom']} 人，模板消息 {counts['template']} 人；"
        f"无法送达 {counts['unreachable']} 人；待发送 {counts['pending']} 人；"
        f"客服消息被微信拒收 {counts['refused']} 次"
    )


def register(main: click.Group) -> None:
    main.add_command(survey_group)
    main.add_command(round_group)


def _round_or_fail(session, term_code: str, survey_id: str) -> SurveyRound:
    rnd = find_round(session, term_code, survey_id)
    if rnd is None:
        fail(f"学期 {term_code} 没有问卷 {survey_id} 的测评轮次")
    return rnd
