"""``banzhuren survey load`` and ``banzhuren round open|close|status``."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

import models.db
from bot import survey_seal
from bot.cli.common import CliContext, fail, pass_cli
from bot.survey_rounds import (
    RoundError,
    after_close,
    close_round,
    envelope_status,
    open_round,
    register_survey,
    round_progress,
)
from bot.wechat.locks import begin_write
from models import SurveyRound, Term
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
    with cli.session() as s:
        _, status = register_survey(s, definition)
    word = {"created": "已导入", "updated": "已更新", "unchanged": "无变化"}[status]
    click.echo(f"问卷 {definition.id}（{definition.title}）{word}：{len(definition.questions)} 题")


@click.group("round")
def round_group() -> None:
    """测评轮次：开放、关闭、进度。"""


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
            f"没有测评密封密钥：请先运行 banzhuren init（在工作目录生成 {survey_seal.KEY_FILE}）"
            "或设置 BANZHUREN_SEAL_KEY"
        )
    from worker.celery_app import configure_celery

    # The notices are sent after the commit by the outbox, with these settings.
    configure_celery(cli.settings)
    try:
        with cli.session() as s:
            rnd = open_round(s, term_code, survey_id, closes_on=closes_on, today=_today(cli))
            eligible = sum(row["eligible"] for row in round_progress(s, rnd.id))
    except RoundError as exc:
        fail(str(exc))
    until = f"，{closes_on} 截止" if closes_on else ""
    click.echo(f"已开放 {term_code} 的问卷 {survey_id}{until}：应评学生人次 {eligible}")


@round_group.command("close")
@click.option("--term", "term_code", required=True, help="学期编号")
@click.option("--survey", "survey_id", required=True, help="问卷 id")
@pass_cli
def round_close(cli: CliContext, term_code: str, survey_id: str) -> None:
    """关闭测评：解封已提交的答卷（随机顺序写入匿名结果）；未提交的草稿不计入。"""
    cli.database()
    with models.db.SessionFactory() as s:
        # A write transaction from the start: on SQLite a read cannot become a write once a
        # student has submitted meanwhile.
        begin_write(s)
        try:
            rnd = close_round(s, term_code, survey_id, settings=cli.settings)
            rows = round_progress(s, rnd.id)
        except RoundError as exc:
            s.rollback()
            fail(str(exc))
        s.commit()
    with cli.session() as s:
        after_close(s)
    answered, eligible = sum(r["answered"] for r in rows), sum(r["eligible"] for r in rows)
    click.echo(f"已关闭 {term_code} 的问卷 {survey_id}：已评 {answered}/{eligible} 人次")


@round_group.command("status")
@click.option("--term", "term_code", required=True, help="学期编号")
@click.option("--survey", "survey_id", required=True, help="问卷 id")
@pass_cli
def round_status(cli: CliContext, term_code: str, survey_id: str) -> None:
    """每位班主任的应评人数、已评人数和参评率。"""
    with cli.session() as s:
        rnd = s.scalar(
            select(SurveyRound)
            .join(Term, Term.id == SurveyRound.term_id)
            .where(Term.code == term_code, SurveyRound.survey_id == survey_id)
        )
        if rnd is None:
            fail(f"学期 {term_code} 没有问卷 {survey_id} 的测评轮次")
        rows = round_progress(s, rnd.id)
        sealed = envelope_status(s, cli.settings).get(rnd.id, (0, 0)) if rnd.is_open else None
    for r in rows:
        rate = f"{r['rate'] * 100:.1f}%" if r["rate"] is not None else "-"
        click.echo(f"{r['staff_no']}\t{r['teacher']}\t{r['answered']}/{r['eligible']}\t{rate}")
    if sealed is None:
        click.echo("本轮已关闭，答卷已解封为匿名结果。")
    else:
        total, ok = sealed
        click.echo(f"进行中：密封答卷和草稿 {total} 份，当前密钥可打开 {ok} 份")
        if ok < total:
            fail(f"有 {total - ok} 份密封答卷无法用当前密钥打开：关闭前请配置开放本轮时的密钥")


def register(main: click.Group) -> None:
    main.add_command(survey_group)
    main.add_command(round_group)
