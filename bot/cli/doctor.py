"""``banzhuren doctor [--online]``: the deployment's checks (core.doctor), one line each."""

from __future__ import annotations

import sys

import click

from core.doctor.checks import run_checks
from core.settings import ConfigError, load_settings


@click.command("doctor")
@click.option("--online", is_flag=True, help="同时向微信接口获取 access_token")
def doctor_command(online: bool) -> None:
    """检查部署：数据库、测评密封密钥、Redis/worker/beat、微信等设置、中文字体、时钟；
    每项一行 ✓ 或 ✗（附修复方法），有 ✗ 时以非零状态退出。"""
    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"✗ 设置：{exc}")
        sys.exit(1)
    checks = run_checks(settings, online=online)
    for check in checks:
        click.echo(check.line)
    failed = sum(not c.ok for c in checks)
    if failed:
        click.echo(f"\n{failed} 项未通过。", err=True)
        sys.exit(1)
    click.echo(f"\n全部 {len(checks)} 项通过。")


def register(main: click.Group) -> None:
    main.add_command(doctor_command)
