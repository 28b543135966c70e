"""The ``banzhuren`` command line. Each command group lives in its own module here and
registers itself through ``register(main)``."""

from __future__ import annotations

import click

from bot.cli import (
    database,
    demo,
    doctor,
    documents,
    evaluation,
    roster,
    serve,
    surveys,
    terms,
    users,
    wechat,
)
from bot.cli.common import CliContext
from bot.cli.zh import ChineseGroup, localise
from core.files import restrict_new_files

COMMAND_MODULES = (
    database,
    roster,
    terms,
    users,
    surveys,
    evaluation,
    serve,
    demo,
    wechat,
    documents,
    doctor,
)


@click.group(cls=ChineseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """banzhuren：兼职班主任工作平台（微信公众号、满意度测评、工作日志、学期考核）。"""
    # Before any command creates a file (database, export, documents, logs): not world-readable.
    restrict_new_files()
    ctx.obj = CliContext()


for _module in COMMAND_MODULES:
    _module.register(main)
localise(main)
