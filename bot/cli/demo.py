"""``banzhuren demo``: a whole term on a made-up school, end to end, through the real webhook."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import click

from bot.cli.common import fail, progress


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="打印报表后退出，不保留管理后台")
@click.option(
    "--port", type=int, default=None, help="Web 应用的端口（默认 8000；--no-serve 时任选空闲端口）"
)
@click.option(
    "--database-name",
    default="banzhuren_demo",
    show_default=True,
    help="使用 PostgreSQL 时新建的演示库名（每次重建；BANZHUREN_DATABASE_URL 指向的库不受影响）",
)
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="随机种子：同一种子演示结果相同"
)
def demo_command(no_serve: bool, port: int | None, database_name: str, seed: int) -> None:
    """演示：虚构一所学校（2 个党总支、6 个班、约 150 名学生、8 位兼职班主任），通过真实的
    微信接口（安全模式）走完一个学期：绑定、满意度测评、工作日志、例会与培训、学期考核，
    最后打印学生处考核报表，并保持管理后台运行直到 Ctrl-C。

    默认使用当前目录的 SQLite 文件 banzhuren-demo.db（每次重建），任务在进程内执行；
    设置了 BANZHUREN_REDIS_URL 和 BANZHUREN_DATABASE_URL（PostgreSQL）时，改用 Redis、
    一个真正的 Celery worker 和 gunicorn，并在该 PostgreSQL 上新建演示库。
    """
    from bot.demo.run import DemoOptions, run_demo
    from bot.demo.servers import DemoError
    from core.settings import ConfigError

    if port is None and not no_serve:
        port = 8000
    options = DemoOptions(workdir=Path.cwd(), port=port, database_name=database_name, seed=seed)
    log_path = _log_to_file(options.workdir / "banzhuren-demo.log")
    with ExitStack() as stack:
        try:
            result = run_demo(options, click.echo, progress, stack)
        except (DemoError, ConfigError) as exc:
            fail(f"演示失败：{exc}")
        click.echo("\n对话示例（节选）：")
        for exchange in result.transcript:
            click.echo("  " + exchange.replace("\n", "\n  "))
        click.echo(
            f"\n共发送 {result.messages} 条微信消息（签名并加密），"
            f"经本地模拟的微信接口发出 {result.outbound} 条客服消息（测评通知等），"
            f"经本地模拟的企业微信接口发出 {result.wecom_outbound} 条（反馈转辅导员）。"
        )
        click.echo(f"\n学生处考核报表（{_term()}）：\n")
        click.echo(result.report)
        if result.problems:
            for problem in result.problems:
                click.echo(f"注意：{problem}", err=True)
        if log_path.stat().st_size:
            click.echo(f"\n应用日志（警告与错误）：{log_path.name}")
        if no_serve:
            return
        click.echo(
            f"\n管理后台：{result.dashboard_url}\n"
            f"  用户名 admin，密码 {result.admin_password}\n"
            "按 Ctrl-C 结束演示。"
        )
        _wait_for_interrupt()
    click.echo("演示已结束。")


def _log_to_file(path: Path) -> Path:
    """The app's warnings go to a file, not over the demo's output; emptied each run."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return path


def _term() -> str:
    from bot.demo.school import TERM_CODE

    return TERM_CODE


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(main: click.Group) -> None:
    main.add_command(demo_command)
