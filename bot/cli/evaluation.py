"""``banzhuren evaluate``, ``banzhuren report`` and ``banzhuren publish``."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import click
from sqlalchemy import func, select

from bot.cli.common import CliContext, fail, pass_cli
from core import jobs
from core.celery_app import dispatch
from core.evaluation import run
from core.publication import PublishError, announce_now, set_published
from core.reports import (
    FORMATS,
    KINDS,
    UnknownTerm,
    allowance_rows,
    award_rows,
    evaluation_rows,
    render,
)
from core.trends import report_sheets
from models.term import require_term

PICKUP_TIMEOUT = 120.0
# Asking whether any worker is alive (Celery's broadcast ping): tries and seconds each, so
# that "no worker" is said within 10 seconds.
PING_TRIES, PING_TIMEOUT = 3, 2.0
# A run with no worker answering for this long stops (the worker died and none came back).
NO_WORKER_FOR = 60.0
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
        return run.evaluate_term(
            term_code,
            cli.settings.min_respondents,
            progress=progress,
            min_participation=cli.settings.min_participation,
        )
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)


class LostTask(Exception):
    """A task of the evaluation is neither queued nor held by any running worker."""


# How often, without progress, to ask where the unfinished tasks are.
LOST_CHECK_EVERY = 5.0
# Re-dispatches of the whole (idempotent) evaluation after a lost task, before giving up.
REDISPATCHES = 1


def _run_on_worker(cli: CliContext, term_code: str, timeout: float) -> dict:
    """Enqueue the term task, then follow its department tasks until the finishing task ends.

    A task lost with its worker (killed mid-task: it sits unacknowledged in Redis until the
    visibility timeout) is noticed — not queued, not STARTED/reserved on any running worker,
    twice in a row — and the evaluation, which is idempotent, is dispatched again; lost again,
    the command stops and says how to run it again."""
    from core.celery_app import configure_celery

    app = configure_celery(cli.settings)
    _require_live_worker(app, cli)
    deadline = time.monotonic() + timeout
    results: list = []
    try:
        for attempt in range(REDISPATCHES + 1):
            try:
                return _follow(app, cli, term_code, deadline, timeout, results)
            except LostTask as exc:
                if attempt == REDISPATCHES:
                    fail(
                        f"考核任务在 worker 上丢失（{exc}；worker 可能在执行中被终止）。"
                        f"请确认 banzhuren worker 正常运行后重新执行：banzhuren evaluate --term {term_code}"
                    )
                click.echo(f"考核任务丢失（{exc}），已重新提交（考核可重复执行）……", err=True)
        raise AssertionError("unreachable")
    finally:
        _release_results(results)


def no_worker_message(settings) -> str:
    return (
        "没有正在运行的 worker：考核在 Celery worker 上执行，"
        f"请先在服务器上启动 banzhuren worker（与本命令使用相同的 BANZHUREN_REDIS_URL"
        f"{'、BANZHUREN_REDIS_PREFIX' if settings.redis_prefix != 'banzhuren' else ''}），"
        "例如 systemctl start banzhuren-worker，然后重新运行本命令"
    )


def live_workers(app, tries: int = PING_TRIES, timeout: float = PING_TIMEOUT) -> list[str]:
    """Names of the workers that answer a broadcast ping (of this deployment's prefix)."""
    for _ in range(tries):
        replies = app.control.ping(timeout=timeout) or []
        names = [name for reply in replies for name in reply]
        if names:
            return names
    return []


def _require_live_worker(app, cli: CliContext) -> None:
    try:
        alive = live_workers(app)
    except Exception as exc:  # Redis unreachable: kombu's and redis-py's errors
        fail(f"无法连接 Redis（BANZHUREN_REDIS_URL）：{type(exc).__name__}，请确认 Redis 正在运行")
    if not alive:
        fail(no_worker_message(cli.settings))


def _follow(app, cli: CliContext, term_code: str, deadline: float, timeout: float, results):
    from celery.result import AsyncResult

    click.echo(f"已提交考核任务（学期 {term_code}），等待 worker 执行……", err=True)
    # Planning takes a second on a running worker; waiting long here means there is none.
    pickup = min(timeout, PICKUP_TIMEOUT)
    planning = dispatch(jobs.EVALUATE_TERM, term_code)
    results.append(planning)
    watch = LostWatch(app, cli.settings)
    picked_by = time.monotonic() + pickup
    while not planning.ready():
        now = time.monotonic()
        if now > picked_by and planning.state == "PENDING":
            fail(f"{pickup:.0f} 秒内没有 worker 接手任务：请确认 banzhuren worker 正在运行")
        if now > deadline:
            fail(f"考核未在 {timeout:.0f} 秒内完成：请查看 worker 日志")
        watch.check({planning})
        watch.require_worker()
        time.sleep(0.2)
    if planning.failed():
        fail(f"考核任务失败：{planning.result!r}")
    plan = planning.get()
    pending = {AsyncResult(task_id, app=app) for task_id in plan["departments"]}
    finish = AsyncResult(plan["finish_id"], app=app)
    results.extend([*pending, finish])
    watch.progress()
    bar = _bar("考核中（按党总支）", len(pending))
    if bar is not None:
        bar.__enter__()
    try:
        while pending or not finish.ready():
            if time.monotonic() > deadline:
                fail(f"考核未在 {timeout:.0f} 秒内完成：请查看 worker 日志")
            finished = {r for r in pending if r.ready()}
            for r in finished:
                if r.failed():
                    fail(f"党总支考核任务失败：{r.result!r}")
            if finished:
                watch.progress()
                if bar is not None:
                    bar.update(len(finished))
            pending -= finished
            watch.check(pending or {finish})
            watch.require_worker()
            time.sleep(0.2)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if finish.failed():
        fail(f"考核汇总任务失败：{finish.result!r}")
    return finish.get(timeout=max(1.0, deadline - time.monotonic()))


class LostWatch:
    """Asks, when nothing has progressed for :data:`LOST_CHECK_EVERY` seconds, whether the
    unfinished tasks are anywhere: queued in Redis, or known (reserved, running) to a worker
    that answers. Raises :class:`LostTask` when one is nowhere two checks in a row."""

    def __init__(self, app, settings) -> None:
        self.app = app
        self.settings = settings
        self.last_progress = time.monotonic()
        self.last_check = self.last_progress
        self.missing: set[str] = set()
        # Since when no worker has answered the checks (None: one did at the last check).
        self.no_worker_since: float | None = None

    def require_worker(self) -> None:
        """Stop when no worker has answered for :data:`NO_WORKER_FOR` seconds."""
        if self.no_worker_since is not None and (
            time.monotonic() - self.no_worker_since > NO_WORKER_FOR
        ):
            fail("worker 已停止运行，考核没有完成。" + no_worker_message(self.settings))

    def progress(self) -> None:
        self.last_progress = self.last_check = time.monotonic()
        self.missing = set()

    def check(self, unfinished) -> None:
        now = time.monotonic()
        if now - max(self.last_progress, self.last_check) < LOST_CHECK_EVERY:
            return
        self.last_check = now
        ids = {r.id for r in unfinished if not r.ready()}
        if not ids:
            return
        somewhere, answered = task_whereabouts(self.app, self.settings, ids)
        if answered:
            self.no_worker_since = None
        elif self.no_worker_since is None:
            self.no_worker_since = now
        missing = ids - somewhere
        lost = missing & self.missing
        self.missing = missing
        if lost:
            raise LostTask(f"{len(lost)} 个任务不在队列中，也不在任何 worker 上")


def task_whereabouts(app, settings, ids: set[str]) -> tuple[set[str], bool]:
    """Those of ``ids`` queued in Redis or known to a running worker, and whether any worker
    answered. When none answers, every id counts as somewhere (a worker restarting will take
    them; :meth:`LostWatch.require_worker` gives up when none comes back)."""
    found = set(_queued_ids(app, settings, ids))
    replies = app.control.inspect(timeout=1.0).query_task(*ids) or {}
    if not replies:
        return set(ids), False
    for tasks in replies.values():
        found.update(tasks or {})
    return found, True


def _queued_ids(app, settings, ids: set[str]) -> list[str]:
    """Task ids among ``ids`` waiting in the queue's Redis list."""
    import json

    import redis

    client = redis.Redis.from_url(settings.redis_url)
    try:
        key = f"{settings.redis_prefix}:{settings.celery_queue}"
        found = []
        for raw in client.lrange(key, 0, 10_000):
            try:
                task_id = json.loads(raw).get("headers", {}).get("id")
            except ValueError:
                continue
            if task_id in ids:
                found.append(task_id)
        return found
    finally:
        client.close()


def _release_results(results: list) -> None:
    """Let go of the AsyncResults while the result backend is still open: collected at
    interpreter exit instead, their ``__del__`` would print "Exception ignored in"."""
    import gc

    for r in results:
        backend = getattr(r, "backend", None)
        if backend is not None:
            # The backend may be gone already: nothing left to release then.
            with contextlib.suppress(Exception):
                backend.remove_pending_result(r)
            r.backend = None
    results.clear()
    gc.collect()


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
            require_term(s, term_code)
        except UnknownTerm as exc:
            fail(str(exc))
    if cli.settings.embedded:
        summary = _run_embedded(cli, term_code)
    else:
        summary = _run_on_worker(cli, term_code, timeout)
    click.echo(_summary_line(summary))
    with cli.session() as s:
        for line in _round_notes(s, term_code):
            click.echo(line)


def _round_notes(session, term_code: str) -> list[str]:
    """What the operator must know before publishing: rounds still open do not count yet, and
    without a closed round the teachers are 待测评."""
    from core.publication import open_rounds
    from models import SurveyRound

    term = require_term(session, term_code)
    notes = []
    still_open = open_rounds(session, term)
    if still_open:
        names = "、".join(r.describe() for r in still_open)
        notes.append(
            f"注意：测评{names}仍在进行中，其答卷尚未计入本次考核；"
            f"测评结束（banzhuren round close）后请重新运行 banzhuren evaluate --term {term_code}，"
            "在此之前不能发布"
        )
    closed = session.scalar(
        select(func.count(SurveyRound.id)).where(
            SurveyRound.term_id == term.id, SurveyRound.closed_at.is_not(None)
        )
    )
    if not closed:
        notes.append(
            f"注意：学期 {term_code} 还没有已结束的测评轮次，没有满意度数据：各班主任为待测评"
            "（仅任期不满一年或记有责任事件、其他不称职行为者为不合格）"
        )
    return notes


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
            term = require_term(s, term_code)
        except UnknownTerm as exc:
            fail(str(exc))
        if term.evaluated_at is None:
            fail(f"学期 {term_code} 尚未考核：先运行 banzhuren evaluate --term {term_code}")
        rows = ROWS[kind](s, term_code)
        extra = (
            report_sheets(s, term, None, cli.settings.min_respondents)
            if fmt == "xlsx" and kind == "evaluation"
            else None
        )
    data = render(rows, fmt, kind, extra)
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
@click.option(
    "--force",
    is_flag=True,
    help="测评仍在进行或考核结果早于之后的变动时仍然发布（须同时用 --reason 说明理由，记入审计日志）",
)
@click.option("--reason", default=None, help="--force 的理由（至少 4 个字）")
@pass_cli
def publish_command(
    cli: CliContext, term_code: str, unpublish: bool, force: bool, reason: str | None
) -> None:
    """向兼职班主任发布学期考核结果（或 --unpublish 撤回）。"""
    if force and (reason is None or len(reason.strip()) < 4):
        fail("--force 须同时用 --reason 写明理由（至少 4 个字），例如 --reason 学院批准提前发布")
    if reason is not None and not force:
        fail("--reason 只与 --force 一起使用")
    try:
        with cli.session(write=True) as s:
            term = set_published(
                s,
                term_code,
                publish=not unpublish,
                actor="cli",
                settings=cli.settings,
                force_reason=reason if force else None,
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
