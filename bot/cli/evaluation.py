"""``banzhuren evaluate``, ``banzhuren report`` and ``banzhuren publish``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from bot.cli.common import CliContext, fail, pass_cli
from bot.publication import PublishError, announce_now, set_published
from bot.reports import (
    FORMATS,
    KINDS,
    UnknownTerm,
    allowance_rows,
    award_rows,
    evaluation_rows,
    render,
)
from worker.evaluation import run

PICKUP_TIMEOUT = 120.0
ROWS = {"evaluation": evaluation_rows, "awards": award_rows, "allowance": allowance_rows}


def _bar(label: str, total: int):
    """A click progress bar on a terminal, None in a pipe."""
    if not sys.stderr.isatty() or total <= 0:
        return None
    return click.progressbar(length=total, label=label, file=sys.stderr)


def _summary_line(summary: dict) -> str:
    grades = "，".join(f"{g} {n}" for g, n in summary["grades"].items())
    return f"学期 {summary['term']} 考核完成：{summary['teachers']} 名兼职班主任（{grades}）"


def _run_embedded(cli: CliContext, term_code: str) -> dict:
    """No Redis: the same steps the tasks run, in this process, one department at a time."""
    state = {"bar": None, "done": 0}

    def progress(done: int, total: int) -> None:
        if state["bar"] is None:
            state["bar"] = _bar("考核中（按党总支）", total)
            if state["bar"] is not None:
                state["bar"].__enter__()
        if state["bar"] is not None:
            state["bar"].update(done - state["done"])
        state["done"] = done

    try:
        return run.evaluate_term(term_code, cli.settings.min_respondents, progress=progress)
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)


def _run_on_worker(cli: CliContext, term_code: str, timeout: float) -> dict:
    """Enqueue the term task, then follow its department tasks until the finishing task ends."""
    from celery.exceptions import TimeoutError as WaitTimeout
    from celery.result import AsyncResult

    from worker.celery_app import configure_celery

    configure_celery(cli.settings)
    from worker.tasks.evaluation import evaluate_term_task

    deadline = time.monotonic() + timeout
    click.echo(f"已提交考核任务（学期 {term_code}），等待 worker 执行……", err=True)
    # Planning takes a second on a running worker; waiting long here means there is none.
    pickup = min(timeout, PICKUP_TIMEOUT)
    try:
        plan = evaluate_term_task.delay(term_code).get(timeout=pickup)
    except WaitTimeout:
        fail(f"{pickup:.0f} 秒内没有 worker 接手任务：请确认 banzhuren worker 正在运行")
    pending = {AsyncResult(task_id) for task_id in plan["departments"]}
    bar = _bar("考核中（按党总支）", len(pending))
    if bar is not None:
        bar.__enter__()
    try:
        while pending:
            if time.monotonic() > deadline:
                fail(f"考核未在 {timeout:.0f} 秒内完成：请查看 worker 日志")
            finished = {r for r in pending if r.ready()}
            for r in finished:
                if r.failed():
                    fail(f"党总支考核任务失败：{r.result!r}")
            if finished and bar is not None:
                bar.update(len(finished))
            pending -= finished
            if pending:
                time.sleep(0.2)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    remaining = max(1.0, deadline - time.monotonic())
    try:
        return AsyncResult(plan["finish_id"]).get(timeout=remaining)
    except WaitTimeout:
        fail(f"考核未在 {timeout:.0f} 秒内完成：请查看 worker 日志")
        raise  # unreachable


@click.command("evaluate")
@click.option("--term", "term_code", required=True, help="学期编号，例如 2026-2027-1")
@click.option(
    "--timeout", default=1800.0, show_default=True, help="等待 worker 的最长秒数（有 Redis 时）"
)
@pass_cli
def evaluate_command(cli: CliContext, term_code: str, timeout: float) -> None:
    """汇总学期考核（满意度、工作日志、等级、补贴、先进候选），等待完成。"""
    with cli.session() as s:
        try:
            run.find_term(s, term_code)
        except UnknownTerm as exc:
            fail(str(exc))
    if cli.settings.embedded:
        summary = _run_embedded(cli, term_code)
    else:
        summary = _run_on_worker(cli, term_code, timeout)
    click.echo(_summary_line(summary))


@click.command("report")
@click.option("--term", "term_code", required=True, help="学期编号，例如 2026-2027-1")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="默认：按 -o 的扩展名，否则 table",
)
@click.option("--kind", type=click.Choice(KINDS), default="evaluation", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_cli
def report_command(
    cli: CliContext, term_code: str, fmt: str | None, kind: str, output: Path | None
) -> None:
    """学生处考核报表：table（终端）、csv、xlsx（报人事处）、json。"""
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = suffix if suffix in FORMATS else "table"
    if fmt == "xlsx" and output is None:
        fail("xlsx 格式需要用 -o 指定输出文件，例如 -o 考核.xlsx")
    with cli.session() as s:
        try:
            term = run.find_term(s, term_code)
        except UnknownTerm as exc:
            fail(str(exc))
        if term.evaluated_at is None:
            fail(f"学期 {term_code} 尚未考核：先运行 banzhuren evaluate --term {term_code}")
        rows = ROWS[kind](s, term_code)
    data = render(rows, fmt, kind)
    if output is None:
        click.echo(data.decode("utf-8-sig"), nl=False)
        return
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(output)
    click.echo(f"已写入 {output}（{len(rows)} 行）", err=True)


@click.command("publish")
@click.option("--term", "term_code", required=True, help="学期编号，例如 2026-2027-1")
@click.option("--unpublish", is_flag=True, help="撤回发布（班主任不再能查看本学期结果）")
@pass_cli
def publish_command(cli: CliContext, term_code: str, unpublish: bool) -> None:
    """向兼职班主任发布学期考核结果（或 --unpublish 撤回）。"""
    try:
        with cli.session() as s:
            term = set_published(
                s, term_code, publish=not unpublish, actor="cli", settings=cli.settings
            )
            when = term.published_at
    except PublishError as exc:
        fail(str(exc))
    if unpublish:
        click.echo(f"已撤回学期 {term_code} 的考核结果发布：班主任不再能在微信里查看")
        return
    local = when.astimezone(cli.settings.tz).strftime("%Y-%m-%d %H:%M")
    if cli.settings.embedded:
        # No beat in embedded mode: tell the teachers now. The outbox sends after the task's
        # commit on a thread this process waits for before it exits.
        told = announce_now(cli.settings)
        click.echo(
            f"已发布学期 {term_code} 的考核结果（{local}）：已通知 {told} 名绑定微信的班主任"
        )
    else:
        click.echo(
            f"已发布学期 {term_code} 的考核结果（{local}）：worker 将在一小时内通知绑定微信的班主任"
        )


def register(main: click.Group) -> None:
    main.add_command(evaluate_command)
    main.add_command(report_command)
    main.add_command(publish_command)
