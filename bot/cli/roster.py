"""``banzhuren import-roster`` and ``banzhuren bind-codes``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.exc import IntegrityError

from bot.cli.common import CliContext, fail, pass_cli
from core.roster.bind_codes import UnknownClassError, bind_code_rows, render_csv, write_bind_codes
from core.roster.importer import STEPS, RosterError, import_roster


@click.command("import-roster")
@click.argument("path", type=click.Path(path_type=Path))
@pass_cli
def import_roster_command(cli: CliContext, path: Path) -> None:
    """导入花名册：.xlsx 工作簿，或存放 .csv 文件的文件夹。全部检查通过才写入。"""
    try:
        with cli.session(write=True) as session:
            if sys.stderr.isatty():
                with click.progressbar(length=STEPS, label="导入花名册", file=sys.stderr) as bar:
                    summary = import_roster(session, path, progress=lambda _step: bar.update(1))
            else:
                summary = import_roster(session, path)
    except IntegrityError:
        # Only possible when someone else changed the roster while this import ran.
        fail("导入时花名册被同时修改（另一次导入或后台操作），未导入任何数据；请重新导入")
    except RosterError as exc:
        for warning in exc.warnings:
            click.echo(f"注意：{warning}", err=True)
        for line in exc.errors:
            click.echo(line, err=True)
        fail(f"花名册有 {len(exc.errors)} 处错误，未导入任何数据；请修改后重新导入")
    for warning in summary.warnings:
        click.echo(f"注意：{warning}", err=True)
    click.echo(f"已导入 {path.name}")
    for line in summary.lines():
        click.echo(line)


@click.command("bind-codes")
@click.option("--class", "class_code", metavar="CODE", help="只列出这个班级（班级代码）")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写入文件（.csv 或 .xlsx）；不给则以 CSV 输出到屏幕",
)
@pass_cli
def bind_codes_command(cli: CliContext, class_code: str | None, output: Path | None) -> None:
    """列出学生、班主任和辅导员的绑定码，供辅导员分发。"""
    if output is not None and output.suffix.lower() not in (".csv", ".xlsx"):
        fail(f"{output.name}: 输出文件应以 .csv 或 .xlsx 结尾")
    with cli.session() as session:
        try:
            rows = bind_code_rows(session, class_code)
        except UnknownClassError as exc:
            fail(str(exc))
    if output is None:
        click.echo(render_csv(rows), nl=False)
        return
    try:
        write_bind_codes(rows, output)
    except OSError as exc:
        fail(f"无法写入 {output}：{exc.strerror or exc}")
    click.echo(f"已写入 {output}：{len(rows)} 人", err=True)


def register(main: click.Group) -> None:
    main.add_command(import_roster_command)
    main.add_command(bind_codes_command)
