"""The ``banzhuren`` command line. Each command group lives in its own module here and
registers itself through ``register(main)``."""

from __future__ import annotations

import importlib

import click

from bot.cli.common import CliContext

COMMAND_MODULES = (
    "bot.cli.database",
    "bot.cli.roster",
    "bot.cli.terms",
    "bot.cli.users",
    "bot.cli.surveys",
    "bot.cli.evaluation",
    "bot.cli.serve",
    "bot.cli.demo",
    "bot.cli.wechat",
    "bot.cli.documents",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """banzhuren：兼职班主任工作平台（微信公众号、满意度测评、工作日志、学期考核）。"""
    ctx.obj = CliContext()


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(main)
