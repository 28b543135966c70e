"""``banzhuren init``."""

from __future__ import annotations

import click

from bot.cli.common import CliContext, fail, pass_cli
from core.surveys import seal_key
from models.migrate import upgrade


@click.command("init")
@pass_cli
def init_command(cli: CliContext) -> None:
    """创建数据库或升级到最新结构（Alembic）。"""
    url = cli.settings.database_url
    try:
        upgrade(url)
    except Exception as exc:  # a bad URL or an unreachable server: say which, in one line
        fail(f"无法初始化数据库 {_safe(url)}：{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    click.echo(f"数据库已就绪：{_safe(url)}")
    if cli.settings.seal_key is None:
        # The seal key for survey answers (core/surveys/seal.py), kept out of the database.
        path = seal_key.write_key_file()
        if path is not None:
            click.echo(
                f"已生成测评密封密钥 {path}（权限 0600）；请与数据库分开备份，丢失则进行中的测评无法关闭"
            )


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def register(main: click.Group) -> None:
    main.add_command(init_command)
