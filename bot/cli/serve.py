"""``banzhuren serve``, ``banzhuren worker``, ``banzhuren beat``."""

from __future__ import annotations

import os
import sys

import click

from bot.cli.common import CliContext, fail, pass_cli


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_cli
def serve_command(cli: CliContext, host: str, port: int) -> None:
    """运行 Web 应用（微信接口、管理后台、API）。生产环境请用 gunicorn（见 deploy/）。"""
    from bot import create_app

    if not cli.settings.secret_key_configured:
        # A random key per process would log everyone out at each restart and split logins
        # between processes: refuse instead of running like that.
        fail(
            "未设置 BANZHUREN_SECRET_KEY：请设为一个随机长字符串（所有 Web 进程相同），例如\n"
            '  export BANZHUREN_SECRET_KEY=$(python3 -c "import secrets; print(secrets.token_hex(32))")'
        )

    cli.database()  # a database never initialised stops here with one line, not at a request
    app = create_app(cli.settings)
    click.echo(f"banzhuren 正在 http://{host}:{port}/ 运行（微信接口 /wechat，后台 /dashboard/）")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def _celery(cli: CliContext, args: list[str]) -> None:
    if cli.settings.embedded:
        fail("需要设置 BANZHUREN_REDIS_URL：未设置时任务在 Web 进程内执行，无需单独的 worker/beat")
    cli.database()  # never initialised or behind: one line now, not a failing task later
    argv = [sys.executable, "-m", "celery", "-A", "worker.main", *args]
    os.execv(sys.executable, argv)


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_cli
def worker_command(cli: CliContext, celery_args: tuple[str, ...]) -> None:
    """运行 Celery worker（需要 BANZHUREN_REDIS_URL）；其余参数原样交给 celery。"""
    _celery(
        cli,
        ["worker", "-Q", cli.settings.celery_queue, "--loglevel", "INFO", *celery_args],
    )


@click.command("beat", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_cli
def beat_command(cli: CliContext, celery_args: tuple[str, ...]) -> None:
    """运行 Celery beat 定时任务（需要 BANZHUREN_REDIS_URL）。"""
    _celery(cli, ["beat", "--loglevel", "INFO", *celery_args])


def register(main: click.Group) -> None:
    main.add_command(serve_command)
    main.add_command(worker_command)
    main.add_command(beat_command)
